//! `mlruns` folders as a source (a path or `file:///…` given as `--src-uri`/`--tracking-uri`):
//! the stores written by the real MLflow 2.22.5 and 3.12.0 clients
//! (`crates/mlflow-transfer/tests/fixtures/mlruns/`, made by `scripts/mlruns-fixture.sh`) copy
//! into a 3.17.2 server as the official client read them when they were made
//! (`expected.json`), files included, and `verify` finds 0 differences.

use std::{collections::HashMap, path::PathBuf};

use mlflow_transfer::identity::SOURCE_RUN_ID;
use serde_json::Value;
use test_support::{unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{self, read_json},
    experiments::as_map,
};

fn fixture(version: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mlflow-transfer/tests/fixtures/mlruns").join(version)
}

/// Every expected run of experiment `name` has its copy, equal field by field, with the files
/// the store holds.
fn assert_copied(expected: &Value, name: &str, dst: &HashMap<String, Value>) {
    let experiment_id = expected["experiments"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap()
        ["experiment_id"]
        .clone();
    let want: Vec<&Value> =
        expected["runs"].as_array().unwrap().iter().filter(|r| r["experiment_id"] == experiment_id).collect();
    assert_eq!(dst.len(), want.len(), "runs copied");
    let by_source: HashMap<&str, &Value> =
        dst.values().map(|r| (r["tags"][SOURCE_RUN_ID].as_str().unwrap(), r)).collect();
    let copy_of: HashMap<&str, &str> =
        by_source.iter().map(|(s, r)| (*s, r["info"]["run_id"].as_str().unwrap())).collect();
    for run in want {
        let id = run["run_id"].as_str().unwrap();
        let got = by_source.get(id).unwrap_or_else(|| panic!("run {id} not copied"));
        for field in ["run_name", "status", "start_time", "end_time", "lifecycle_stage", "user_id"] {
            assert_eq!(got["info"][field], run[field], "{id}: {field}");
        }
        assert_eq!(got["params"], run["params"], "{id}: params");
        for (k, v) in run["tags"].as_object().unwrap() {
            let want = match (k.as_str(), v.as_str()) {
                ("mlflow.parentRunId", Some(parent)) => Value::from(copy_of[parent]),
                _ => v.clone(),
            };
            assert_eq!(got["tags"][k], want, "{id}: tag {k}");
        }
        let metrics = got["metrics"].as_object().unwrap();
        assert_eq!(metrics.len(), run["metrics"].as_object().unwrap().len(), "{id}: metric keys");
        for (key, points) in run["metrics"].as_object().unwrap() {
            // NaN and ±inf are strings, spelt `NaN`/`inf` by the fixture script, `NaN`/`Infinity`
            // by the dump: compared as numbers.
            let number = |v: &Value| match v.as_str().map(str::to_ascii_lowercase).as_deref() {
                Some("nan") => f64::NAN,
                Some("inf" | "infinity") => f64::INFINITY,
                Some("-inf" | "-infinity") => f64::NEG_INFINITY,
                _ => v.as_f64().unwrap(),
            };
            // A database-backed server stores ±inf as ±f64::MAX (and 3.17 reads it back as ±inf).
            let stored = |x: f64| if x.is_infinite() { f64::MAX.copysign(x) } else { x };
            let key_of =
                |p: &Value| (p["step"].as_i64(), p["timestamp"].as_i64(), stored(number(&p["value"])).to_bits());
            let mut a: Vec<_> = points.as_array().unwrap().iter().map(key_of).collect();
            let mut b: Vec<_> = metrics[key].as_array().unwrap().iter().map(key_of).collect();
            a.sort();
            b.sort();
            assert_eq!(b, a, "{id}: history of {key}");
        }
        let files: Vec<&str> =
            got["artifacts"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
        let want_files: Vec<&str> = run["artifacts"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
        assert_eq!(files, want_files, "{id}: files");
        assert_eq!(got["dataset_inputs"].as_array().map(Vec::len), run["dataset_inputs"].as_array().map(Vec::len));
    }
}

fn copies_as_written(version: &str) {
    let store = fixture(version).join("mlruns");
    let uri = format!("file://{}", store.canonicalize().unwrap().display());
    copy_and_compare(&[store.to_str().unwrap()], &uri, &fixture(version).join("expected.json"));
}

/// Copies experiment `fixture-a` and model `fixture-model` from the store `source` names (its
/// URI, then any options it needs; `model_uri` spells it for the model copy) into the shared
/// server, and checks them against `expected` (what the official client read when the store
/// was written), then with `verify`, and that a second copy creates nothing.
pub(crate) fn copy_and_compare(source: &[&str], model_uri: &str, expected: &std::path::Path) {
    let srv = MlflowServer::shared(ArtifactMode::Proxy);
    let expected = read_json(expected);
    let (store_arg, options) = (source[0], &source[1..]);
    let dst_name = unique_name("fixturecopy");
    let mut copy = vec![
        "copy-experiment",
        "--src-uri",
        store_arg,
        "--dst-uri",
        &srv.url,
        "--src-experiment",
        "fixture-a",
        "--dst-experiment-name",
        &dst_name,
        "--export-deleted-runs",
        "--use-src-user-id",
    ];
    copy.extend(options);
    cli::ok(&copy);
    assert_copied(&expected, "fixture-a", &as_map(srv.dump_experiment(&dst_name)));
    let mut verify = vec![
        "verify",
        "--src-uri",
        store_arg,
        "--src-experiment",
        "fixture-a",
        "--dst-uri",
        &srv.url,
        "--dst-experiment",
        &dst_name,
        "--checksums",
    ];
    verify.extend(options);
    cli::ok(&verify);
    let again = cli::succeeded(&copy, cli::run(&copy, &[]));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains(" 0 created, 0 resumed, 0 updated, 3 skipped"), "{stderr}");

    // The registry: versions in order, stage, alias, tags and description, each version's run
    // copied with it.
    let model = unique_name("fixturemodel");
    let uri = model_uri.to_string();
    let mut copy_model = vec!["copy-model", "--src-uri", &uri, "--dst-uri", &srv.url, "--src-model", "fixture-model"];
    copy_model.extend(["--dst-model", &model]);
    copy_model.extend(options);
    cli::ok(&copy_model);
    let got = srv.dump_model(&model);
    let want = &expected["models"][0];
    assert_eq!(got["description"], want["description"]);
    assert_eq!(got["tags"], want["tags"]);
    assert_eq!(got["aliases"], want["aliases"]);
    let versions = got["versions"].as_array().unwrap();
    let want_versions: Vec<&Value> = want["versions"].as_array().unwrap().iter().collect();
    assert_eq!(versions.len(), want_versions.len(), "{got}");
    for (v, w) in versions.iter().zip(want_versions) {
        for field in ["version", "current_stage", "description"] {
            // A file store gives no description as none, a server as "".
            let text = |x: &Value| x.as_str().unwrap_or_default().to_string();
            assert_eq!(text(&v[field]), text(&w[field]), "version {}: {field}", w["version"]);
        }
        let mut tags = v["tags"].as_object().unwrap().clone();
        let source = tags.remove("mlflow_export_import.source.tracking_uri");
        tags.retain(|k, _| !k.starts_with("mlflow_export_import."));
        assert_eq!(Value::Object(tags), w["tags"], "version {}: tags", w["version"]);
        assert_eq!(source.as_ref().and_then(Value::as_str), Some(uri.as_str()), "the version's recorded source");
    }
}

#[test]
fn an_mlruns_folder_written_by_mlflow_2_22_copies_as_it_was_written() {
    copies_as_written("2.22.5");
}

#[test]
fn an_mlruns_folder_written_by_mlflow_3_12_copies_as_it_was_written() {
    copies_as_written("3.12.0");
}
