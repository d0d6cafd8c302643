//! Registered models: copy and export/import compared version by version (numbers, gaps,
//! stages, aliases, tags, descriptions, files behind each version), re-import, --delete-model,
//! a bulk import killed mid-way, list-registered-models.

use serde_json::Value;
use test_support::{dump_model, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{ok, path},
    experiments::{kill_at_random_moments, kill_seed},
};

/// Three models of five versions each (see `seed.py`'s `models` scenario).
pub(crate) fn seed_models(server: &MlflowServer) -> Vec<String> {
    let out = server.seed(&["--scenario", "models", "--experiment", &unique_name("models")]);
    out["models"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

/// The `mlflow_export_import.source.run_id` tag of each of `run_ids`, read in one call.
pub(crate) fn source_runs_of(server: &MlflowServer, run_ids: &[&str]) -> Vec<String> {
    let code = format!(
        "import json, mlflow\nc = mlflow.MlflowClient()\n\
         print(json.dumps([c.get_run(r).data.tags.get('mlflow_export_import.source.run_id') for r in {run_ids:?}]))"
    );
    serde_json::from_str(server.python_eval(&code).trim()).unwrap()
}

/// Same model, version for version; the destination's runs are copies of the source's. Read
/// with the official client, with each server's artifact-store variables.
pub(crate) fn assert_model_copied(src: &MlflowServer, src_name: &str, dst: &MlflowServer, dst_name: &str) {
    assert_model_equals(&src.dump_model(src_name), dst, dst_name);
}

/// [`assert_model_copied`] against a source model dumped once (by [`MlflowServer::dump_model`])
/// for several destinations.
pub(crate) fn assert_model_equals(a: &Value, dst: &MlflowServer, dst_name: &str) {
    let b = dst.dump_model(dst_name);
    assert_eq!(b["description"], a["description"], "{dst_name}: description");
    assert_eq!(b["tags"], a["tags"], "{dst_name}: model tags");
    assert_eq!(b["aliases"], a["aliases"], "{dst_name}: aliases");
    let (va, vb) = (a["versions"].as_array().unwrap(), b["versions"].as_array().unwrap());
    let numbers = |v: &[Value]| v.iter().map(|x| x["version"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    assert_eq!(numbers(vb), numbers(va), "{dst_name}: version numbers (gaps included)");
    let dst_runs: Vec<&str> = vb.iter().map(|v| v["run_id"].as_str().unwrap()).collect();
    let sources = source_runs_of(dst, &dst_runs);
    for ((x, y), source_run) in va.iter().zip(vb).zip(sources) {
        let what = format!("{dst_name} v{}", x["version"]);
        for field in ["current_stage", "description", "status"] {
            assert_eq!(y[field], x[field], "{what}: {field}");
        }
        // A logged model's `MLmodel` names its own run and model (`--mlmodel-fix`), so its
        // bytes differ from the source's; its size does not (ids of the same length).
        let logged = x["source"].as_str().is_some_and(|s| s.starts_with("models:/"));
        let files = |v: &Value| {
            let mut files = v["files"].clone();
            for f in files.as_array_mut().into_iter().flatten().filter(|f| logged && f["path"] == "MLmodel") {
                f["sha256"] = Value::Null;
            }
            files
        };
        assert_eq!(files(y), files(x), "{what}: files");
        // The source may itself be a copy: identity tags name each copy's own source.
        let own = |v: &Value| {
            let mut tags = v["tags"].as_object().unwrap().clone();
            tags.retain(|k, _| !k.starts_with("mlflow_export_import."));
            tags
        };
        assert_eq!(own(y), own(x), "{what}: tags");
        assert_eq!(y["tags"]["mlflow_export_import.source.version"], x["version"], "{what}: identity");
        assert_eq!(source_run, x["run_id"].as_str().unwrap(), "{what}: run");
    }
}

#[test]
fn copy_model_matches_version_by_version() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let names = seed_models(src);
    // The first model alone, the others in one copy-models job.
    ok(&["copy-model", "--src-uri", &src.url, "--dst-uri", &dst.url, "--src-model", &names[0], "--use-src-user-id"]);
    let rest = names[1..].join(",");
    let copy_models =
        ["copy-models", "--src-uri", &src.url, "--dst-uri", &dst.url, "--models", &rest, "--use-src-user-id"];
    ok(&copy_models);
    for name in &names {
        assert_model_copied(src, name, dst, name);
    }
    let again = crate::cli::run(&copy_models, &[]);
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success() && said.contains("models         2 done, 0 failed; versions 0 created"), "{said}");
    assert!(said.contains("runs           0 created, 0 resumed, 0 updated"), "{said}");
}

#[test]
fn export_then_import_model_then_reimport_and_delete_model() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let names = seed_models(src);
    // m0: versions 1-5 from runs, version 6 from an MLflow 3 logged model.
    let name = &names[0];
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("model");
    ok(&["export-model", "--tracking-uri", &src.url, "--model", name, "--output-dir", path(&dir)]);
    let dst_name = unique_name("imported-model");
    let experiment = unique_name("model-runs");
    let import = [
        "import-model",
        "--tracking-uri",
        &src.url,
        "--input-dir",
        path(&dir),
        "--model",
        &dst_name,
        "--experiment-name",
        &experiment,
    ];
    ok(&import);
    assert_model_copied(src, name, src, &dst_name);
    let again = crate::cli::run(&import, &[]);
    assert!(again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("versions 0 created, 0 updated, 5 skipped, 0 failed"));
    assert_model_copied(src, name, src, &dst_name);
    ok(&[&import[..], &["--delete-model", "True"]].concat());
    assert_model_copied(src, name, src, &dst_name);
    assert_eq!(
        crate::cli::list_runs(&src.url, &experiment).len(),
        4,
        "the runs of the 5 live versions (two share one) imported once"
    );
}

#[test]
fn list_registered_models_matches_the_server() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let names = seed_models(src);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registered_models.json");
    let dry = ok(&["list-registered-models", "--tracking-uri", &src.url, "--output-file", path(&file), "--dry-run"]);
    assert!(!file.exists(), "--dry-run writes no file");
    assert!(names.iter().all(|n| dry.lines().any(|l| l.starts_with(n.as_str()))), "{dry}");
    let stdout = ok(&["list-registered-models", "--tracking-uri", &src.url, "--output-file", path(&file)]);
    let listed: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    for name in &names {
        let truth = dump_model(&src.url, name);
        let entry = listed["registered_models"].as_array().unwrap().iter().find(|m| m["name"] == name.as_str());
        let entry = entry.unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(entry["description"], truth["description"]);
        let mut latest: Vec<(String, String)> = entry["latest_versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["current_stage"].as_str().unwrap().to_string(), v["version"].as_str().unwrap().to_string()))
            .collect();
        latest.sort();
        let mut want: std::collections::BTreeMap<String, String> = Default::default();
        for v in truth["versions"].as_array().unwrap() {
            want.insert(v["current_stage"].as_str().unwrap().to_string(), v["version"].as_str().unwrap().to_string());
        }
        assert_eq!(latest, want.into_iter().collect::<Vec<_>>(), "{name}: latest version per stage");
        assert!(stdout.lines().any(|l| l.starts_with(name.as_str()) && l.contains("champion=5")), "{stdout}");
    }
}

#[test]
fn bulk_export_and_import_models_with_renames() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let names = seed_models(src);
    let prefix = names[0].trim_end_matches("-m0").to_string();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bulk");
    let renames = dir.path().join("renames.csv");
    std::fs::write(&renames, format!("{prefix}-,{prefix}-renamed-\n")).unwrap();
    ok(&["export-models", "--tracking-uri", &src.url, "--models", &format!("{prefix}-*"), "--output-dir", path(&out)]);
    let args = [
        "import-models",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&out),
        "--model-rename-file",
        path(&renames),
        "--use-src-user-id",
    ];
    // Killed at random moments (paced so that the kills land before the end, the later ones
    // among the versions) until it would finish, then run whole: no version may be twice.
    let seed = kill_seed();
    let paced = [args.as_slice(), &["--max-requests-per-second", "6"]].concat();
    let moments = kill_at_random_moments(&paced, 5, seed);
    assert!(moments.len() >= 2, "seed {seed}: the job ended after kills at {moments:?}");
    let code = format!(
        "import mlflow\nprint(len(mlflow.MlflowClient({:?}).search_model_versions(\"name LIKE '{prefix}-renamed-%'\")))",
        dst.url
    );
    eprintln!("{} versions registered after kills at {moments:?}", test_support::python_eval(&code).trim());
    ok(&args);
    for name in &names {
        assert_model_copied(src, name, dst, &name.replace(&format!("{prefix}-"), &format!("{prefix}-renamed-")));
    }
}

#[test]
fn a_copy_left_under_a_number_it_should_have_burned_is_made_again_under_its_own() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    // m1: versions 1, 2, 4, 5 (3 was deleted at the source).
    let name = &seed_models(src)[1];
    let out = tempfile::tempdir().unwrap();
    let (all, first_two) = (out.path().join("all"), out.path().join("first-two"));
    let export = ["export-model", "--tracking-uri", &src.url, "--model", name];
    ok(&[&export[..], &["--output-dir", path(&all)]].concat());
    ok(&[&export[..], &["--output-dir", path(&first_two), "--versions", "1,2"]].concat());
    let dst_name = unique_name("misnumbered");
    let import = ["import-model", "--tracking-uri", &src.url, "--model", &dst_name, "--experiment-name", &dst_name];
    ok(&[&import[..], &["--input-dir", path(&first_two)]].concat());
    // The state a kill leaves between creating source version 4's copy, which came out as 3,
    // and burning that number: a copy of version 4 numbered 3.
    let code = format!(
        "import mlflow\nc = mlflow.MlflowClient({url:?})\nv = c.get_model_version({dst:?}, '2')\n\
         print(c.create_model_version({dst:?}, v.source, run_id=v.run_id, tags={{'mlflow_export_import.source.model': {src:?}, 'mlflow_export_import.source.version': '4'}}).version)",
        url = src.url,
        dst = dst_name,
        src = name,
    );
    assert_eq!(test_support::python_eval(&code).trim(), "3");
    ok(&[&import[..], &["--input-dir", path(&all)]].concat());
    assert_model_copied(src, name, src, &dst_name);
}

/// A destination model whose numbering already passed the source's (versions made and deleted
/// there by hand): the copies land above their numbers, and a re-run keeps them instead of
/// deleting and re-creating every version at ever higher numbers.
#[test]
fn copies_above_their_numbers_are_kept_by_a_rerun() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let name = seed_models(src).remove(1);
    let dst_name = unique_name("renumbered");
    let code = format!(
        "import mlflow\nc = mlflow.MlflowClient()\nc.create_registered_model({dst_name:?})\n\
         for _ in range(7):\n    v = c.create_model_version({dst_name:?}, 's3://nowhere/m')\n    \
         c.delete_model_version({dst_name:?}, v.version)\n"
    );
    dst.python_eval(&code);
    let dir = tempfile::tempdir().unwrap();
    let copy = |report: &str| {
        let report = dir.path().join(report);
        ok(&[
            "copy-model",
            "--src-uri",
            &src.url,
            "--dst-uri",
            &dst.url,
            "--src-model",
            &name,
            "--dst-model",
            &dst_name,
            "--report",
            path(&report),
        ]);
        let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
        r["models"][0].clone()
    };
    let first = copy("first.json");
    assert!(first["versions_created"].as_u64().unwrap() > 0, "{first}");
    let numbers = |m: &Value| m["versions"].clone();
    assert!(
        first["versions"]
            .as_object()
            .unwrap()
            .iter()
            .all(|(s, d)| d.as_str().unwrap().parse::<u64>().unwrap() > s.parse::<u64>().unwrap()),
        "{first}"
    );
    let second = copy("second.json");
    assert_eq!(second["versions_created"], 0, "{second}");
    assert_eq!(numbers(&second), numbers(&first), "the re-run keeps every copy where it is");
    let live: Vec<String> = dst.dump_model(&dst_name)["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["version"].as_str().unwrap().to_string())
        .collect();
    let mut want: Vec<String> =
        first["versions"].as_object().unwrap().values().map(|v| v.as_str().unwrap().to_string()).collect();
    want.sort_by_key(|v| v.parse::<u64>().unwrap());
    assert_eq!(live, want, "nothing deleted or added at the destination");
}
