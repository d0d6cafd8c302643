//! Running the binary and reading destinations back.

use std::{path::Path, process::Output};

use serde_json::Value;

/// Variables of a developer's shell that must not reach the tool unless a test sets them:
/// tracking settings and object-store credentials, unprefixed and per side.
const CLEARED: [&str; 18] = [
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_INSECURE_TLS",
    "MLFLOW_TRACKING_SERVER_CERT_PATH",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCESS_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// The binary with `args`, in a [`clean_environment`].
pub fn command(args: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mlflow-export-import"));
    clean_environment(&mut cmd).args(args);
    cmd
}

/// Clears the variables above for `cmd` (and what it starts) and keeps it from asking a cloud
/// metadata endpoint.
pub fn clean_environment(cmd: &mut std::process::Command) -> &mut std::process::Command {
    for var in CLEARED {
        for side in ["", "SRC_", "DST_"] {
            cmd.env_remove(format!("{side}{var}"));
        }
    }
    cmd.env("AWS_EC2_METADATA_DISABLED", "true")
}

/// Runs `mlflow-export-import` with `args` and `envs` (see [`command`]).
pub fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    command(args).envs(envs.iter().copied()).output().expect("binary runs")
}

/// [`run`] with owned variables, such as a server's `client_env()`.
pub fn run_with(args: &[&str], envs: &[(String, String)]) -> Output {
    command(args).envs(envs.iter().map(|(k, v)| (k, v))).output().expect("binary runs")
}

/// Asserts that `out` of `args` succeeded, showing both streams if not.
pub fn succeeded(args: &[&str], out: Output) -> Output {
    assert!(
        out.status.success(),
        "{args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs and asserts success, returning stdout.
pub fn ok(args: &[&str]) -> String {
    String::from_utf8_lossy(&succeeded(args, run(args, &[])).stdout).into_owned()
}

/// Runs and asserts failure, returning stderr.
pub fn fails(args: &[&str], envs: &[(&str, &str)]) -> String {
    let out = run(args, envs);
    assert!(!out.status.success(), "{args:?} should have failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The destination run id printed on stdout (`<source id>\t<destination>`).
pub fn destination(stdout: &str) -> String {
    stdout.lines().next().and_then(|l| l.split('\t').nth(1)).expect("id line on stdout").to_string()
}

/// Every run of an experiment, active and deleted, read with the official client.
pub fn list_runs(url: &str, experiment: &str) -> Vec<Value> {
    match test_support::run_python_script("list_runs.py", &["--tracking-uri", url, "--experiment", experiment]) {
        Value::Array(runs) => runs,
        other => panic!("unexpected {other}"),
    }
}

/// Checks the identity tags a copied run must carry.
pub fn assert_identity(dst: &Value, source_run_id: &str, source_url: &str) {
    let tags = &dst["tags"];
    assert_eq!(tags["mlflow_export_import.source.run_id"], source_run_id);
    assert_eq!(tags["mlflow_export_import.source.tracking_uri"], source_url);
    assert_eq!(tags["mlflow_export_import.complete"], "true");
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// The JSON document in file `p`.
pub fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))).unwrap()
}

/// The `--report` file of a job that had to move every run; asserts that none failed.
pub fn clean_report(path: &Path) -> Value {
    let report: Value = serde_json::from_slice(&std::fs::read(path).expect("report written")).expect("report is JSON");
    assert_eq!(report["summary"]["runs_failed"], 0, "{}", report["failures"]);
    report
}

/// Every file under `dir`, recursively.
pub fn files_below(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_below(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A loopback URL nothing listens on (the port was free a moment ago).
pub fn closed_port_url() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    format!("http://127.0.0.1:{port}")
}
