//! export-run → import-run, zip → import-run and copy-run, compared field by field.

use serde_json::Value;
use test_support::{assert_runs_equal, dump_run, seed, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{self, assert_identity, clean_report, destination, list_runs, ok, path};

fn seed_run(server: &MlflowServer, args: &[&str]) -> String {
    let exp = unique_name("src");
    let mut all = vec!["--experiment", exp.as_str()];
    all.extend_from_slice(args);
    let out = seed(&server.url, &all);
    out["run_ids"][0].as_str().expect("seeded run id").to_string()
}

/// `copy-run` from `src` to `dst` keeping the source user, as most tests want it.
fn copy_args<'a>(src: &'a MlflowServer, dst: &'a MlflowServer, run_id: &'a str, exp: &'a str) -> [&'a str; 10] {
    [
        "copy-run",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--run-id",
        run_id,
        "--experiment-name",
        exp,
        "--use-src-user-id",
    ]
}

fn assert_copied(src: &MlflowServer, src_id: &str, dst: &MlflowServer, dst_id: &str) -> Value {
    let a = dump_run(&src.url, src_id);
    let b = dump_run(&dst.url, dst_id);
    assert_runs_equal(&a, &b);
    assert_identity(&b, src_id, &src.url);
    b
}

#[test]
fn export_to_directory_then_import_into_a_local_root_server() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let run_id = seed_run(src, &["--scenario", "rich"]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    ok(&["export-run", "--tracking-uri", &src.url, "--run-id", &run_id, "--output", path(&dir)]);
    assert!(dir.join("run.json").is_file() && dir.join("artifacts").is_dir());
    let exp = unique_name("imported");
    let stdout = ok(&[
        "import-run",
        "--tracking-uri",
        &dst.url,
        "--input",
        path(&dir),
        "--experiment-name",
        &exp,
        "--use-src-user-id",
    ]);
    assert_copied(src, &run_id, dst, &destination(&stdout));
}

#[test]
fn export_to_zip_then_import_with_python_style_booleans() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = seed_run(src, &["--scenario", "rich"]);
    let out = tempfile::tempdir().unwrap();
    let zip = out.path().join("run.zip");
    ok(&["export-run", "--tracking-uri", &src.url, "--run-id", &run_id, "--output", path(&zip)]);
    assert!(zip.is_file());
    assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 1, "only the zip is left behind");
    let exp = unique_name("from-zip");
    let stdout = ok(&[
        "import-run",
        "--tracking-uri",
        &src.url,
        "--input-dir",
        path(&zip),
        "--experiment-name",
        &exp,
        "--use-src-user-id",
        "True",
        "--import-mlflow-tags",
        "true",
    ]);
    assert_copied(src, &run_id, src, &destination(&stdout));
}

#[test]
fn copy_run_between_servers_in_both_directions() {
    let (proxy, local) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    for (src, dst) in [(proxy, local), (local, proxy)] {
        let run_id = seed_run(src, &["--scenario", "rich"]);
        let exp = unique_name("copied");
        let stdout = ok(&copy_args(src, dst, &run_id, &exp));
        assert_copied(src, &run_id, dst, &destination(&stdout));
    }
}

#[test]
fn a_big_run_round_trips_exactly() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let run_id = seed_run(src, &["--scenario", "big"]);
    let exp = unique_name("big");
    let stdout = ok(&[
        "copy-run",
        "--src-mlflow-uri",
        &src.url,
        "--dst-mlflow-uri",
        &dst.url,
        "--src-run-id",
        &run_id,
        "--dst-experiment-name",
        &exp,
        "--use-src-user-id",
    ]);
    let b = assert_copied(src, &run_id, dst, &destination(&stdout));
    assert_eq!(b["params"].as_object().unwrap().len(), 150);
    let metrics = b["metrics"].as_object().unwrap();
    assert_eq!(metrics.len(), 100);
    assert!(metrics.values().all(|points| points.as_array().unwrap().len() == 1000));
}

#[test]
fn deleted_and_failed_runs_keep_their_state() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let run_id = seed_run(src, &["--scenario", "rich", "--status", "FAILED", "--deleted"]);
    let exp = unique_name("deleted");
    let args = copy_args(src, dst, &run_id, &exp);
    let b = assert_copied(src, &run_id, dst, &destination(&ok(&args)));
    assert_eq!(b["info"]["lifecycle_stage"], "deleted");
    assert_eq!(b["info"]["status"], "FAILED");
    ok(&args);
    assert_eq!(list_runs(&dst.url, &exp).len(), 1, "a second copy of a deleted run creates nothing");
}

#[test]
fn running_the_same_import_or_copy_twice_leaves_one_run() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = seed_run(src, &["--scenario", "rich"]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    ok(&["export-run", "--tracking-uri", &src.url, "--run-id", &run_id, "--output", path(&dir)]);
    let exp = unique_name("twice");
    let import = ["import-run", "--tracking-uri", &src.url, "--input", path(&dir), "--experiment-name", &exp];
    let first = destination(&ok(&import));
    let again = cli::run(&import, &[]);
    assert!(again.status.success());
    assert_eq!(destination(&String::from_utf8_lossy(&again.stdout)), first);
    assert!(String::from_utf8_lossy(&again.stderr).contains("skipped"));
    // A copy straight from the server is the same source run: still one destination run.
    ok(&["copy-run", "--src-uri", &src.url, "--dst-uri", &src.url, "--run-id", &run_id, "--experiment-name", &exp]);
    let runs = list_runs(&src.url, &exp);
    assert_eq!(runs.len(), 1, "{runs:?}");
}

#[test]
fn an_interrupted_copy_is_finished_not_doubled() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::Proxy));
    let run_id = seed_run(src, &["--scenario", "rich"]);
    let exp = unique_name("resume");
    // What a crash after `runs/create` and the first batch leaves: a run with the source's
    // start time, user and name, identity tags, one param, and no completion marker.
    let source = dump_run(&src.url, &run_id);
    let info = &source["info"];
    let (param, value) = source["params"].as_object().unwrap().iter().next().unwrap();
    let spec = serde_json::json!({
        "url": dst.url, "experiment": exp, "start": info["start_time"], "name": info["run_name"],
        "tags": {
            "mlflow.user": info["user_id"],
            "mlflow_export_import.source.run_id": run_id,
            "mlflow_export_import.source.tracking_uri": src.url,
        },
        "param": [param, value],
    });
    let partial = test_support::python_eval(&format!(
        "import json, mlflow\ns = json.loads({spec:?})\nc = mlflow.MlflowClient(s['url'])\n\
         r = c.create_run(c.create_experiment(s['experiment']), start_time=s['start'], run_name=s['name'], tags=s['tags'])\n\
         c.log_param(r.info.run_id, *s['param'])\nprint(r.info.run_id)",
        spec = spec.to_string(),
    ));
    let stdout = ok(&copy_args(src, dst, &run_id, &exp));
    assert_eq!(destination(&stdout), partial.trim(), "the partial run is finished in place");
    assert_copied(src, &run_id, dst, partial.trim());
    assert_eq!(list_runs(&dst.url, &exp).len(), 1);
}

#[test]
fn tag_options_filter_what_is_imported() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = seed_run(src, &["--scenario", "rich"]);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("run");
    ok(&[
        "export-run",
        "--tracking-uri",
        &src.url,
        "--run-id",
        &run_id,
        "--output",
        path(&dir),
        "--export-metadata-tags",
    ]);
    let exported: Value = serde_json::from_slice(&std::fs::read(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(exported["mlflow"]["tags"]["mlflow_tools.metadata.run-id"], run_id.as_str());

    let exp = unique_name("no-meta");
    let id =
        destination(&ok(&["import-run", "--tracking-uri", &src.url, "--input", path(&dir), "--experiment-name", &exp]));
    let tags = dump_run(&src.url, &id)["tags"].clone();
    assert!(tags.as_object().unwrap().keys().all(|k| !k.starts_with("mlflow_tools.")), "{tags}");

    let exp = unique_name("meta");
    let id = destination(&ok(&[
        "import-run",
        "--tracking-uri",
        &src.url,
        "--input",
        path(&dir),
        "--experiment-name",
        &exp,
        "--import-metadata-tags",
        "True",
        "--import-mlflow-tags",
        "False",
    ]));
    let tags = dump_run(&src.url, &id)["tags"].clone();
    assert_eq!(tags["mlflow_tools.metadata.tracking_uri"], src.url.as_str());
    let source_tags = dump_run(&src.url, &run_id)["tags"].clone();
    assert!(source_tags.get("mlflow.user").is_some(), "the seed sets an mlflow.* tag");
    assert!(tags.get("mlflow.user").is_none(), "--import-mlflow-tags False drops mlflow.* tags: {tags}");
}

#[test]
fn a_300_mb_artifact_copies_in_bounded_memory() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::Proxy));
    let run_id = seed_run(src, &["--scenario", "large-artifact", "--size-mb", "300"]);
    let exp = unique_name("large");
    let args = copy_args(src, dst, &run_id, &exp);
    let (stdout, peak) = test_support::run_measuring_peak_rss(env!("CARGO_BIN_EXE_mlflow-export-import"), &args);
    eprintln!("peak RSS of copy-run with a 300 MB artifact: {} MiB", peak / (1024 * 1024));
    assert!(peak < 100 * 1024 * 1024, "peak RSS {peak} bytes");
    let copy = destination(&stdout);
    assert_copied(src, &run_id, dst, &copy);
    src.remove_run_artifacts(&run_id);
    dst.remove_run_artifacts(&copy);
}

/// Every file below `dir` with its bytes, by relative path.
fn files_with_bytes(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn artifacts_move_straight_from_and_to_a_servers_artifact_folder() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let store = path(&server.artifact_root);
    let run_id = seed_run(server, &["--scenario", "rich"]);
    let out = tempfile::tempdir().unwrap();
    let (proxied, direct) = (out.path().join("proxied"), out.path().join("direct"));
    let (r1, r2) = (out.path().join("r1.json"), out.path().join("r2.json"));
    let export = ["export-run", "--tracking-uri", &server.url, "--run-id", &run_id];
    ok(&[&export[..], &["--output", path(&proxied), "--report", path(&r1)]].concat());
    ok(&[&export[..], &["--output", path(&direct), "--report", path(&r2), "--artifacts-destination", store]].concat());
    let (a, b) = (files_with_bytes(&proxied.join("artifacts")), files_with_bytes(&direct.join("artifacts")));
    assert!(!a.is_empty());
    assert_eq!(a, b, "the same files, read from the folder");
    let requests = |report| clean_report(report)["requests"].as_u64().unwrap();
    assert!(requests(&r2) + a.len() as u64 <= requests(&r1), "no request per file");

    let exp = unique_name("direct");
    let stdout = ok(&[
        "import-run",
        "--tracking-uri",
        &server.url,
        "--input",
        path(&direct),
        "--experiment-name",
        &exp,
        "--use-src-user-id",
        "--artifacts-destination",
        store,
    ]);
    // Read back through the server: it serves what was written into its folder.
    assert_copied(server, &run_id, server, &destination(&stdout));
}
