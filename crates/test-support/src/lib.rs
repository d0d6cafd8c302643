//! Test harness for `mlflow-export-import`: real MLflow servers (started from the project's
//! Python venv), seeding and dumping runs with the official `mlflow` Python client, and a
//! field-by-field comparison of two run dumps.
//!
//! Everything is synchronous std code, usable from `#[test]` and `#[tokio::test]` alike
//! (inside an async test, prefer `tokio::task::spawn_blocking` for the slow calls).
//!
//! The venv is `$MLFLOW_EIM_VENV`, or `<repo>/.venv`; `scripts/setup-venv.sh` creates it.

pub mod azurite;
mod background;
mod compare;
pub mod databricks;
mod fault_proxy;
pub mod moto;
pub mod mysql;
pub mod postgres;
mod process;
mod server;
mod tls_proxy;
mod zygote;

pub use azurite::Azurite;
pub use compare::{assert_runs_equal, diff_runs, IDENTITY_TAG_PREFIX};
pub use databricks::{DatabricksFake, FakeOptions};
pub use fault_proxy::{Fault, FaultCounts, FaultPlan, FaultProxy, Rewrite};
pub use moto::Moto;
pub use mysql::Mysql;
pub use postgres::Postgres;
pub use server::{
    shared, shared_spec, ArtifactMode, Backend, BasicAuthConfig, MlflowServer, ServerSpec, BASIC_AUTH_PASSWORD,
    BASIC_AUTH_USER,
};
pub use tls_proxy::TlsProxy;

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Root of the repository (the workspace directory holding `scripts/`).
pub fn repo_root() -> PathBuf {
    // crates/test-support -> repo root
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("test-support lives in <repo>/crates/test-support")
        .to_path_buf()
}

/// The Python venv holding `mlflow`: `$MLFLOW_EIM_VENV` if set and non-empty, else `<repo>/.venv`.
pub fn venv() -> PathBuf {
    match std::env::var_os("MLFLOW_EIM_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => repo_root().join(".venv"),
    }
}

/// The venv's Python interpreter. Panics with a hint when the venv is missing.
pub fn python() -> PathBuf {
    let p = venv().join("bin").join("python");
    if !p.exists() {
        panic!("no Python venv at {}: run scripts/setup-venv.sh (or set MLFLOW_EIM_VENV)", venv().display());
    }
    p
}

/// Path of a file in `<repo>/scripts`.
pub fn script(name: &str) -> PathBuf {
    repo_root().join("scripts").join(name)
}

/// A name unique across processes and calls: `prefix-<pid>-<counter>-<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// Run a Python script of `scripts/` with the venv's Python and parse its stdout as JSON.
/// Panics with the script's stderr on failure.
pub fn run_python_script(name: &str, args: &[&str]) -> serde_json::Value {
    run_python_script_env(name, args, &[] as &[(&str, &str)])
}

/// [`run_python_script`] with extra environment variables, e.g. a server's
/// [`MlflowServer::client_env`] so that the official client reaches its S3 or Azure artifacts.
pub fn run_python_script_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    name: &str,
    args: &[&str],
    env: &[(K, V)],
) -> serde_json::Value {
    let script = script(name);
    let run = || zygote::output(zygote::Program::Script(&script, args), env);
    let mut out = run();
    // A shared server busy with other tests' jobs answers the official client's read with 400
    // "QueuePool limit ... reached" or "database is locked", which the Python client does not
    // retry (our tool does). A script that only reads (`dump_*`, `list_*`) is run again.
    let read_only = name.starts_with("dump") || name.starts_with("list");
    for _ in 0..3 {
        let busy = ["QueuePool limit", "database is locked"];
        if out.status.success() || !read_only || !busy.iter().any(|b| String::from_utf8_lossy(&out.stderr).contains(b))
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_secs(5));
        out = run();
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        panic!("{name} {args:?} failed ({}); stderr tail:\n{}", out.status, tail(&stderr, 6000));
    }
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{name} {args:?}: stdout is not JSON ({e}): {}\nstderr tail:\n{}",
            tail(&String::from_utf8_lossy(&out.stdout), 2000),
            tail(&stderr, 4000)
        )
    })
}

/// Seed a server with `scripts/seed.py --tracking-uri URL <args>`; returns its JSON
/// `{"experiment_id": "...", "run_ids": ["..."]}`.
///
/// Example: `seed(&srv.url, &["--scenario", "rich", "--experiment", &name])`.
pub fn seed(server_url: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--tracking-uri", server_url];
    all.extend_from_slice(args);
    run_python_script("seed.py", &all)
}

/// Dump a run with `scripts/dump_run.py` (official client: info, params, tags, full metric
/// histories, dataset inputs, artifact files with size and sha256).
pub fn dump_run(server_url: &str, run_id: &str) -> serde_json::Value {
    run_python_script("dump_run.py", &["--tracking-uri", server_url, "--run-id", run_id])
}

/// Every run of an experiment (deleted ones too), read with the official client, as
/// `{run_id: dump}` in the shape of [`dump_run`]; `{}` when the experiment does not exist.
pub fn dump_experiment(server_url: &str, experiment: &str) -> serde_json::Value {
    run_python_script("dump_run.py", &["--tracking-uri", server_url, "--experiment", experiment])
}

/// A registered model with its versions and their files, read with the official client
/// (`scripts/dump_model.py`).
pub fn dump_model(server_url: &str, name: &str) -> serde_json::Value {
    run_python_script("dump_model.py", &["--tracking-uri", server_url, "--model", name])
}

/// [`seed`] with extra environment variables for the official client (e.g.
/// [`MlflowServer::client_env`], which [`MlflowServer::seed`] passes).
pub fn seed_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    server_url: &str,
    args: &[&str],
    env: &[(K, V)],
) -> serde_json::Value {
    let mut all = vec!["--tracking-uri", server_url];
    all.extend_from_slice(args);
    run_python_script_env("seed.py", &all, env)
}

/// [`dump_run`] with extra environment variables (see [`MlflowServer::dump_run`]).
pub fn dump_run_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    server_url: &str,
    run_id: &str,
    env: &[(K, V)],
) -> serde_json::Value {
    run_python_script_env("dump_run.py", &["--tracking-uri", server_url, "--run-id", run_id], env)
}

/// [`dump_experiment`] with extra environment variables (see [`MlflowServer::dump_experiment`]).
pub fn dump_experiment_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    server_url: &str,
    experiment: &str,
    env: &[(K, V)],
) -> serde_json::Value {
    run_python_script_env("dump_run.py", &["--tracking-uri", server_url, "--experiment", experiment], env)
}

/// [`dump_model`] with extra environment variables (see [`MlflowServer::dump_model`]).
pub fn dump_model_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(
    server_url: &str,
    name: &str,
    env: &[(K, V)],
) -> serde_json::Value {
    run_python_script_env("dump_model.py", &["--tracking-uri", server_url, "--model", name], env)
}

/// Run Python code (`python -c CODE`) with the venv's Python; returns its stdout.
/// Panics with stderr on failure.
pub fn python_eval(code: &str) -> String {
    python_eval_env(code, &[] as &[(&str, &str)])
}

/// [`python_eval`] with extra environment variables (e.g. [`MlflowServer::client_env`]).
pub fn python_eval_env<K: AsRef<OsStr>, V: AsRef<OsStr>>(code: &str, env: &[(K, V)]) -> String {
    let out = zygote::output(zygote::Program::Code(code, &[]), env);
    if !out.status.success() {
        panic!(
            "python code failed ({}):\n{code}\nstderr tail:\n{}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 6000)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run `program args...` to completion and return its stdout and its peak resident set size
/// in bytes (`ru_maxrss` of the child, measured by a small Python wrapper: no unsafe code).
/// Its stderr is passed through. Panics when it fails.
pub fn run_measuring_peak_rss(program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> (String, u64) {
    const WRAPPER: &str = "import resource, subprocess, sys\n\
        rc = subprocess.call(sys.argv[2:])\n\
        open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024))\n\
        sys.exit(rc)\n";
    let dir = std::env::temp_dir().join(unique_name("peak-rss"));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    let peak_file = dir.join("peak");
    let out = Command::new(python())
        .arg("-c")
        .arg(WRAPPER)
        .arg(&peak_file)
        .arg(program.as_ref())
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("cannot run the peak-RSS wrapper: {e}"));
    let peak = std::fs::read_to_string(&peak_file).ok().and_then(|s| s.trim().parse().ok());
    let _ = std::fs::remove_dir_all(&dir);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        panic!("{:?} {args:?} failed ({}); stdout:\n{}", program.as_ref(), out.status, tail(&stdout, 4000));
    }
    (stdout, peak.expect("peak RSS not measured"))
}

/// The last `max` bytes of `s` (on a char boundary).
pub(crate) fn tail(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
