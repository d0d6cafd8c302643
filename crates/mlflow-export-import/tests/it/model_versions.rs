//! One model version on its own: `export-model-version` writes the Python tool's layout
//! (`model.json`, `version.json`, the run in `run/`), `import-model-version` reads it back into
//! an existing model or (`--create-model`) a new one; read back with the official client, and
//! re-run to create nothing; `copy-model-version --copy-lineage-tags`; `--import-source-tags`
//! on versions and experiments; `export-models --export-all-runs` with a time window;
//! `copy-model-version` shallow at one server.

use serde_json::Value;
use test_support::{unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{fails, ok, path, read_json},
    models::{seed_models, source_runs_of},
};

/// The models `seed.py` made at the shared proxied server, once for this file's tests.
fn seeded(src: &MlflowServer) -> &'static [String] {
    static SEEDED: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    SEEDED.get_or_init(|| seed_models(src))
}

#[test]
fn export_then_import_one_model_version_and_again_creates_nothing() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    // m1, version 5: Production, alias `champion`, a run shared with version 4.
    let name = &seeded(src)[1];
    let source = src.dump_model(name);
    let v5 = source["versions"].as_array().unwrap().iter().find(|v| v["version"] == "5").unwrap().clone();

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("v5");
    ok(&[
        "export-model-version",
        "--tracking-uri",
        &src.url,
        "--model",
        name,
        "--version",
        "5",
        "--output-dir",
        path(&dir),
    ]);
    let version = read_json(&dir.join("version.json"));
    let v = &version["mlflow"]["model_version"];
    assert_eq!(v["name"], name.as_str());
    assert_eq!(v["version"], "5");
    assert_eq!(v["run_id"], v5["run_id"]);
    assert_eq!(v["current_stage"], "Production");
    assert_eq!(v["description"], v5["description"]);
    assert_eq!(v["tags"], v5["tags"]);
    assert_eq!(v["aliases"], serde_json::json!(["champion"]));
    assert_eq!(read_json(&dir.join("model.json"))["mlflow"]["registered_model"]["description"], "model 1");
    let run = read_json(&dir.join("run").join("run.json"));
    assert_eq!(run["mlflow"]["info"]["run_id"], v5["run_id"], "the version's run in run/");
    assert!(!dir.join(v5["run_id"].as_str().unwrap()).exists(), "no export-model run folder");

    let dst_name = unique_name("imported-version");
    let experiment = unique_name("version-runs");
    let import = [
        "import-model-version",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&dir),
        "--model",
        &dst_name,
        "--experiment-name",
        &experiment,
        "--import-stages-and-aliases",
        "--import-source-tags",
    ];
    // As the Python tool: without --create-model the model must exist.
    let refused = fails(&import, &[]);
    assert!(refused.contains("pass --create-model"), "{refused}");
    let import = [&import[..], &["--create-model"]].concat();
    ok(&import);
    let check = || {
        let copy = dst.dump_model(&dst_name);
        assert_eq!(copy["description"], source["description"]);
        assert_eq!(copy["tags"], source["tags"]);
        assert_eq!(copy["aliases"], serde_json::json!({"champion": "1"}), "only this version's alias, renumbered");
        let versions = copy["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1, "{copy}");
        let c = &versions[0];
        assert_eq!(c["version"], "1");
        for field in ["current_stage", "description", "status", "files"] {
            assert_eq!(c[field], v5[field], "{field}");
        }
        assert_eq!(c["tags"]["v"], "5");
        assert_eq!(c["tags"]["mlflow_export_import.source.version"], "5");
        // --import-source-tags: the source version's fields, as the Python tool tags them.
        assert_eq!(c["tags"]["mlflow_exim.field.name"], name.as_str());
        assert_eq!(c["tags"]["mlflow_exim.field.version"], "5");
        assert_eq!(c["tags"]["mlflow_exim.field.current_stage"], "Production");
        assert_eq!(c["tags"]["mlflow_exim.field.run_id"], v5["run_id"]);
        assert_eq!(c["tags"]["mlflow_exim.field.source"], v5["source"]);
        assert!(c["tags"]["mlflow_exim.field._creation_timestamp"].as_str().is_some_and(|t| t.len() == 19));
        let run = c["run_id"].as_str().unwrap();
        assert_eq!(source_runs_of(dst, &[run]), vec![v5["run_id"].as_str().unwrap().to_string()]);
    };
    check();
    let again = crate::cli::run(&import, &[]);
    assert!(again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("versions 0 created, 0 updated, 1 skipped, 0 failed"), "{stderr}");
    check();
    assert_eq!(crate::cli::list_runs(&dst.url, &experiment).len(), 1, "the run imported once");
}

#[test]
fn copy_model_version_with_lineage_tags_writes_the_python_tools() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let name = &seeded(src)[2];
    let source = src.dump_model(name);
    let v2 = source["versions"].as_array().unwrap().iter().find(|v| v["version"] == "2").unwrap().clone();
    let run_id = v2["run_id"].as_str().unwrap();
    let user = src.python_eval(&format!(
        "import mlflow\nprint(mlflow.MlflowClient().get_run('{run_id}').data.tags.get('mlflow.user', ''))"
    ));
    let dst_name = unique_name("lineage");
    let copy = [
        "copy-model-version",
        "--src-registry-uri",
        &src.url,
        "--dst-registry-uri",
        &dst.url,
        "--src-model",
        name,
        "--src-version",
        "2",
        "--dst-model",
        &dst_name,
        "--dst-experiment-name",
        &unique_name("lineage-runs"),
        "--copy-lineage-tags",
    ];
    ok(&copy);
    let copied = dst.dump_model(&dst_name);
    let tags = copied["versions"][0]["tags"].as_object().unwrap().clone();
    assert_eq!(tags["mlflow_exim.src_version.name"], name.as_str());
    assert_eq!(tags["mlflow_exim.src_version.version"], "2");
    assert_eq!(tags["mlflow_exim.src_version.run_id"], run_id);
    assert_eq!(tags["mlflow_exim.src_client.tracking_uri"], src.url.trim_end_matches('/'));
    assert_eq!(tags["mlflow_exim.mlflow_exim.dst_client.tracking_uri"], dst.url.trim_end_matches('/'));
    match user.trim() {
        "" => assert!(!tags.contains_key("mlflow_exim.src_run.mlflow.user")),
        user => assert_eq!(tags["mlflow_exim.src_run.mlflow.user"], user),
    }
    assert_eq!(tags["v"], "2", "the version's own tags kept");
    // Once copied, the version is found again: nothing new.
    ok(&copy);
    assert_eq!(dst.dump_model(&dst_name)["versions"].as_array().unwrap().len(), 1);
}

#[test]
fn import_source_tags_tag_the_experiment_with_its_source_fields() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let name = unique_name("source-tags");
    let id = src.python_eval(&format!(
        "import mlflow\nc = mlflow.MlflowClient()\n\
         e = c.create_experiment('{name}', tags={{'mlflow.note.content': 'about', 'team': 'a'}})\n\
         c.set_terminated(c.create_run(e).info.run_id)\nprint(e)"
    ));
    let dst_name = unique_name("source-tags-copy");
    let copy = [
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        &name,
        "--dst-experiment-name",
        &dst_name,
        "--import-source-tags",
    ];
    ok(&copy);
    let read = |server: &MlflowServer, name: &str| -> Value {
        let code = format!(
            "import json, mlflow\ne = mlflow.MlflowClient().get_experiment_by_name('{name}')\n\
             print(json.dumps({{'tags': e.tags, 'creation_time': e.creation_time}}))"
        );
        serde_json::from_str(server.python_eval(&code).trim()).unwrap()
    };
    let (source, copied) = (read(src, &name), read(dst, &dst_name));
    let tags = &copied["tags"];
    assert_eq!(tags["team"], "a");
    assert_eq!(tags["mlflow_exim.field.experiment_id"], id.trim().lines().last().unwrap());
    assert_eq!(tags["mlflow_exim.field.name"], name.as_str());
    assert_eq!(tags["mlflow_exim.field.lifecycle_stage"], "active");
    assert_eq!(tags["mlflow_exim.field.creation_time"], source["creation_time"].to_string().as_str());
    assert_eq!(tags["mlflow_exim.mlflow_tag.note.content"], "about");
}

/// The run names of every `run.json` under `dir`.
fn exported_run_names(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            names.extend(exported_run_names(&path));
        } else if path.file_name().is_some_and(|n| n == "run.json") {
            names.insert(read_json(&path)["mlflow"]["info"]["run_name"].as_str().unwrap().to_string());
        }
    }
    names
}

#[test]
fn export_models_all_runs_takes_the_window_and_every_version_run() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let names = seeded(src);
    let m1 = &names[1];
    let out = tempfile::tempdir().unwrap();
    // seed.py starts run i of model m at BASE_TIME_MS + m*100 + i; run 0 of each is deleted.
    let until = (1704164645678_i64 + 200).to_string();
    let export = ["export-models", "--tracking-uri", &src.url, "--models", m1, "--output-dir", path(out.path())];
    let refused = fails(&[&export[..], &["--runs-until", &until]].concat(), &[]);
    assert!(refused.contains("--export-all-runs"), "{refused}");
    ok(&[&export[..], &["--export-all-runs", "--runs-until", &until]].concat());
    let got = exported_run_names(&out.path().join("experiments"));
    let run = |m: usize, i: usize| format!("{}-r{i}", names[m]);
    // m0's and m1's live runs by the window; m1's deleted r0 because version 1 needs it; not
    // m2's (too late), nor m0's deleted r0.
    let expected = [run(0, 1), run(0, 2), run(0, 3), run(1, 0), run(1, 1), run(1, 2), run(1, 3)];
    assert_eq!(got, expected.into_iter().collect());
}

#[test]
fn copy_model_version_at_one_server_without_an_experiment_points_at_the_source_run() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let name = &seeded(src)[2];
    let v4 = src.dump_model(name)["versions"].as_array().unwrap().iter().find(|v| v["version"] == "4").unwrap().clone();
    // seed.py names its models `<experiment>-m<i>`; the versions' runs are in `<experiment>`.
    let experiment = name.strip_suffix("-m2").unwrap();
    let runs_before = crate::cli::list_runs(&src.url, experiment).len();
    let dst_name = unique_name("shallow");
    let copy = [
        "copy-model-version",
        "--src-registry-uri",
        &src.url,
        "--dst-registry-uri",
        &src.url,
        "--src-model",
        name,
        "--src-version",
        "4",
        "--dst-model",
        &dst_name,
        "--copy-stages-and-aliases",
    ];
    let out = ok(&copy);
    assert_eq!(out.trim(), "", "no run copied: {out}");
    let check = || {
        let copied = src.dump_model(&dst_name);
        let versions = copied["versions"].as_array().unwrap();
        assert_eq!(versions.len(), 1, "{copied}");
        let c = &versions[0];
        assert_eq!(c["run_id"], v4["run_id"], "the source run itself");
        for field in ["current_stage", "description", "status", "files"] {
            assert_eq!(c[field], v4[field], "{field}");
        }
        assert_eq!(c["tags"]["v"], "4");
        assert_eq!(c["tags"]["mlflow_export_import.source.version"], "4");
    };
    check();
    ok(&copy);
    check();
    assert_eq!(crate::cli::list_runs(&src.url, experiment).len(), runs_before, "no run copied");
}
