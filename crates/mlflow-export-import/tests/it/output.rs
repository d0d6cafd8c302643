//! What the tool tells a script: exit statuses by kind of failure, `--log-format json` events on
//! stderr, and `version` with the MLflow version of each server.

use serde_json::Value;
use test_support::{seed, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{closed_port_url, path, run};

/// Every stderr line of `stderr` as a JSON event, each with the fields every event has.
fn events(stderr: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stderr)
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            for key in ["timestamp", "level", "message"] {
                assert!(event[key].is_string(), "no {key}: {line}");
            }
            event
        })
        .collect()
}

#[test]
fn exit_statuses_tell_bad_input_from_unreachable_servers_and_failed_objects() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let dir = tempfile::tempdir().unwrap();
    let status = |args: &[&str]| run(args, &[]).status.code();
    // Usage: clap's own errors, and input the command finds wrong.
    assert_eq!(status(&["export-run", "--no-such-option"]), Some(2));
    let nothing = format!("{}*", unique_name("matches-nothing"));
    let out = dir.path().join("none");
    assert_eq!(
        status(&[
            "export-experiments",
            "--tracking-uri",
            &server.url,
            "--experiments",
            &nothing,
            "--output-dir",
            path(&out)
        ]),
        Some(2)
    );
    let missing = dir.path().join("missing");
    assert_eq!(
        status(&["import-run", "--tracking-uri", &server.url, "--input", path(&missing), "--experiment-name", "x"]),
        Some(2)
    );
    // Unreachable.
    let closed = closed_port_url();
    assert_eq!(
        status(&["export-experiment", "--tracking-uri", &closed, "--experiment", "x", "--output-dir", path(&out)]),
        Some(3)
    );
    // A run that fails (its parameter name is refused by the server): the job ran, one object failed.
    let run_id = seed(&server.url, &["--experiment", &unique_name("status"), "--scenario", "rich", "--no-log-model"])
        ["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let export = dir.path().join("run");
    assert_eq!(
        status(&["export-run", "--tracking-uri", &server.url, "--run-id", &run_id, "--output", path(&export)]),
        Some(0)
    );
    let file = export.join("run.json");
    let mut doc: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    doc["mlflow"]["params"]["bad*key"] = "x".into();
    std::fs::write(&file, serde_json::to_vec(&doc).unwrap()).unwrap();
    let exp = unique_name("status-import");
    assert_eq!(
        status(&["import-run", "--tracking-uri", &server.url, "--input", path(&export), "--experiment-name", &exp]),
        Some(1)
    );
}

#[test]
fn json_log_format_reports_every_run_the_summary_and_a_fatal_error_as_json_objects() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let run_id = seed(&src.url, &["--experiment", &unique_name("json-log"), "--scenario", "rich", "--no-log-model"])
        ["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let exp = unique_name("json-log-copy");
    let args = [
        "copy-run",
        "--log-format",
        "json",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--run-id",
        &run_id,
        "--experiment-name",
        &exp,
    ];
    let out = run(&args, &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events = events(&out.stderr);
    let runs: Vec<&Value> = events.iter().filter(|e| e["event"] == "run").collect();
    assert_eq!(runs.len(), 1, "{events:?}");
    assert_eq!(runs[0]["source_run_id"], run_id.as_str());
    assert_eq!(runs[0]["action"], "created");
    assert_eq!(runs[0]["level"], "INFO");
    let destination = runs[0]["destination"].as_str().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), format!("{run_id}\t{destination}"));
    let summary: Vec<&Value> = events.iter().filter(|e| e["event"] == "summary").collect();
    assert_eq!(summary.len(), 1, "{events:?}");
    assert_eq!(summary[0]["runs_created"], 1);
    assert_eq!(summary[0]["runs_failed"], 0);
    assert_eq!(summary[0]["command"], "copy-run");

    // A fatal error: one event, with its exit status.
    let missing = tempfile::tempdir().unwrap().path().join("missing");
    let out = run(
        &[
            "import-run",
            "--log-format",
            "json",
            "--tracking-uri",
            &dst.url,
            "--input",
            path(&missing),
            "--experiment-name",
            &exp,
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let events = self::events(&out.stderr);
    let error = events.iter().find(|e| e["event"] == "error").unwrap_or_else(|| panic!("{events:?}"));
    assert_eq!(error["level"], "ERROR");
    assert_eq!(error["exit_status"], 2);
    assert!(error["message"].as_str().unwrap().contains("no such file or directory"), "{error}");
}

#[test]
fn version_names_each_servers_mlflow_version() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let mlflow = test_support::python_eval("import mlflow; print(mlflow.__version__)");
    let out = run(&["version", "--src-uri", &src.url, "--dst-uri", &dst.url], &[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with(&format!("mlflow-export-import {}", env!("CARGO_PKG_VERSION"))), "{text}");
    for url in [&src.url, &dst.url] {
        assert!(
            text.lines().any(|l| l.contains(url.as_str()) && l.ends_with(&format!("MLflow {}", mlflow.trim()))),
            "{text}"
        );
    }
    let closed = closed_port_url();
    let out = run(&["version", "--log-format", "json", "--tracking-uri", &src.url, "--dst-uri", &closed], &[]);
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["servers"][0]["mlflow_version"], mlflow.trim());
    assert_eq!(doc["servers"][1]["role"], "destination");
    assert!(doc["servers"][1]["error"].as_str().unwrap().contains(&closed), "{doc}");
}
