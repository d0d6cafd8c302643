//! Basic auth with permissions, as a shared tracking server has it: MLflow's basic-auth app
//! with `default_permission = NO_PERMISSIONS`, an admin, and a user created through the auth
//! REST API who may read one experiment only. What that user may read is exported, what they
//! may not is a clear, named failure; writing where they may only read fails without leaving a
//! run marked complete; a copy between two servers uses each side's own login; and no password
//! shows up anywhere, even at `-vv`.

use std::{collections::HashMap, path::Path, sync::OnceLock};

use serde_json::{json, Value};
use test_support::{
    assert_runs_equal, dump_experiment, python_eval, seed, unique_name, ArtifactMode, BasicAuthConfig, MlflowServer,
};

use crate::cli::{self, files_below, path};

const ADMIN: &str = "root";
const ADMIN_PASSWORD: &str = "r00t-Adm1n-Pw-7f3c2e";
const READER: &str = "reader";
/// Runs seeded into the readable experiment (two runs logging the same dataset).
const READABLE_RUNS: usize = 2;
const READER_PASSWORD: &str = "r3ader-Pw-91ab5d";

/// The `NO_PERMISSIONS` server, its admin and its reader, and two seeded experiments: the
/// reader was granted READ on `readable` and nothing on `hidden`.
struct World {
    server: MlflowServer,
    readable: String,
    readable_id: String,
    hidden: String,
}

impl World {
    /// The server's URL with the admin login in it, for the official Python client.
    fn admin_uri(&self) -> String {
        with_login(&self.server.url, ADMIN, ADMIN_PASSWORD)
    }
}

fn with_login(url: &str, user: &str, password: &str) -> String {
    url.replace("http://", &format!("http://{user}:{password}@"))
}

/// POSTs `body` to a route of MLflow's auth REST API as `login`; panics unless it answers 2xx.
fn auth_api(url: &str, login: (&str, &str), route: &str, body: &Value) {
    let code = format!(
        "import json, requests, sys\n\
         r = requests.post({:?}, auth=({:?}, {:?}), json=json.loads({:?}), timeout=60)\n\
         print(r.status_code, r.text)\n\
         sys.exit(0 if r.ok else 1)\n",
        format!("{url}{route}"),
        login.0,
        login.1,
        body.to_string()
    );
    python_eval(&code);
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let server = MlflowServer::start_basic_auth(&BasicAuthConfig {
            default_permission: "NO_PERMISSIONS".into(),
            admin_user: ADMIN.into(),
            admin_password: ADMIN_PASSWORD.into(),
            // Its tests send logins only, thousands of them: checked once each.
            credential_cache_seconds: 600,
        });
        let admin = with_login(&server.url, ADMIN, ADMIN_PASSWORD);
        let (readable, hidden) = (unique_name("auth-readable"), unique_name("auth-hidden"));
        let mut readable_id = String::new();
        for _ in 0..READABLE_RUNS {
            readable_id = seed(&admin, &["--experiment", &readable, "--scenario", "rich", "--no-log-model"])
                ["experiment_id"]
                .as_str()
                .unwrap()
                .to_string();
        }
        auth_api(&server.url, (ADMIN, ADMIN_PASSWORD), "/api/2.0/mlflow/experiments/create", &json!({"name": hidden}));
        auth_api(
            &server.url,
            (ADMIN, ADMIN_PASSWORD),
            "/api/2.0/mlflow/users/create",
            &json!({"username": READER, "password": READER_PASSWORD}),
        );
        auth_api(
            &server.url,
            (ADMIN, ADMIN_PASSWORD),
            "/api/3.0/mlflow/users/permissions/grant",
            &json!({"username": READER, "resource_type": "experiment", "resource_id": readable_id, "permission": "READ"}),
        );
        World { server, readable, readable_id, hidden }
    })
}

const AS_READER: [(&str, &str); 2] =
    [("MLFLOW_TRACKING_USERNAME", READER), ("MLFLOW_TRACKING_PASSWORD", READER_PASSWORD)];
const AS_ADMIN: [(&str, &str); 2] = [("MLFLOW_TRACKING_USERNAME", ADMIN), ("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)];

/// Every password any test here uses.
fn passwords() -> Vec<String> {
    let shared = MlflowServer::shared(ArtifactMode::BasicAuth).credentials().expect("admin login").1;
    vec![ADMIN_PASSWORD.into(), READER_PASSWORD.into(), shared.into()]
}

/// No password in the outputs of a command nor in any file under `dir`.
fn assert_no_password(out: &std::process::Output, dir: &Path) {
    let mut texts = vec![
        ("stdout".to_string(), String::from_utf8_lossy(&out.stdout).into_owned()),
        ("stderr".to_string(), String::from_utf8_lossy(&out.stderr).into_owned()),
    ];
    for f in files_below(dir) {
        texts.push((f.display().to_string(), String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned()));
    }
    for (what, text) in &texts {
        for p in passwords() {
            assert!(!text.contains(&p), "a password shows in {what}:\n{text}");
        }
    }
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs of a dump by their source run id (`mlflow_export_import.source.run_id`), each marked
/// complete.
pub(crate) fn by_source(dump: Value) -> HashMap<String, Value> {
    dump.as_object()
        .unwrap()
        .values()
        .map(|r| {
            assert_eq!(r["tags"]["mlflow_export_import.complete"], "true", "{r}");
            (r["tags"]["mlflow_export_import.source.run_id"].as_str().unwrap().to_string(), r.clone())
        })
        .collect()
}

/// `dst` holds exactly the runs of `src`, each equal field by field and artifact by artifact.
fn assert_same_runs(src: Value, dst: Value) {
    let src = src.as_object().unwrap().clone();
    let dst = by_source(dst);
    assert_eq!(src.len(), dst.len(), "run count: source {:?}, destination {:?}", src.keys(), dst.keys());
    assert!(!src.is_empty());
    for (id, run) in &src {
        let copy = dst.get(id).unwrap_or_else(|| panic!("{id} not copied"));
        assert_runs_equal(run, copy);
        assert!(!copy["artifacts"].as_array().unwrap().is_empty(), "artifacts compared");
    }
}

#[test]
fn a_user_exports_what_they_may_read_and_the_rest_fails_by_name() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let (export, report) = (dir.path().join("export"), dir.path().join("report.json"));
    let experiments = format!("{},{}", w.readable, w.hidden);
    let out = cli::run(
        &[
            "export-experiments",
            "--tracking-uri",
            &w.server.url,
            "--experiments",
            &experiments,
            "--output-dir",
            path(&export),
            "--report",
            path(&report),
            "-vv",
        ],
        &AS_READER,
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "a experiment could not be read: the job failed\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.lines().any(|l| l.contains(&format!("{:?}", w.hidden)) && l.contains("permission denied")),
        "names the experiment it may not read: {err}"
    );

    // The readable experiment is there in full: imported back (as admin), equal to its source.
    let exported = export.join(&w.readable_id);
    assert!(exported.join("experiment.json").is_file(), "{err}");
    let back = unique_name("auth-back");
    let import = cli::run(
        &[
            "import-experiment",
            "--tracking-uri",
            &w.server.url,
            "--input-dir",
            path(&exported),
            "--experiment-name",
            &back,
            "--use-src-user-id",
        ],
        &AS_ADMIN,
    );
    assert!(import.status.success(), "{}", stderr(&import));
    assert_same_runs(dump_experiment(&w.admin_uri(), &w.readable), dump_experiment(&w.admin_uri(), &back));

    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!(failures[0]["experiment"], w.hidden.as_str());
    assert!(failures[0]["reason"].as_str().unwrap().contains("permission denied"), "{report}");
    assert_eq!(report["summary"]["runs_created"], READABLE_RUNS, "{report}");
    assert_no_password(&out, dir.path());
}

#[test]
fn a_user_who_may_only_read_cannot_import_and_leaves_no_run_marked_complete() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let exported = cli::run(
        &[
            "export-experiment",
            "--tracking-uri",
            &w.server.url,
            "--experiment",
            &w.readable,
            "--output-dir",
            path(&export),
        ],
        &AS_READER,
    );
    assert!(exported.status.success(), "{}", stderr(&exported));
    let run_dir = std::fs::read_dir(export.join("runs")).unwrap().next().unwrap().unwrap().path();
    let run_id = run_dir.file_name().unwrap().to_str().unwrap().to_string();

    let report = dir.path().join("report.json");
    for args in [
        vec!["import-run", "--input", path(&run_dir)],
        vec!["import-experiment", "--input-dir", path(&export), "--report", path(&report)],
    ] {
        let out = cli::run(
            &[&args[..], &["--tracking-uri", &w.server.url, "--experiment-name", &w.readable, "-vv"]].concat(),
            &AS_READER,
        );
        let err = stderr(&out);
        assert!(!out.status.success(), "{args:?}: the reader may not write\n{err}");
        assert!(err.contains("permission denied"), "{args:?}: {err}");
        assert!(err.contains(&run_id), "{args:?}: names the run: {err}");
        assert_no_password(&out, dir.path());
    }
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 2, "{report}");
    assert!(failures.iter().all(|f| f["reason"].as_str().unwrap().contains("permission denied")), "{report}");

    // Read back as admin: nothing was added, and nothing carries the completion mark.
    let after = dump_experiment(&w.admin_uri(), &w.readable);
    let after = after.as_object().unwrap();
    assert_eq!(after.len(), READABLE_RUNS, "no run created");
    assert!(after.values().all(|r| r["tags"]["mlflow_export_import.complete"].is_null()));
}

#[test]
fn copy_between_servers_uses_each_sides_own_login() {
    // From the NO_PERMISSIONS server (its admin) to the shared basic-auth server (another admin
    // with another password): neither login works on the other side.
    let w = world();
    let dst = MlflowServer::shared(ArtifactMode::BasicAuth);
    let (dst_user, dst_password) = dst.credentials().unwrap();
    let dst_exp = unique_name("auth-copy");
    let args = [
        "copy-experiment",
        "--src-uri",
        &w.server.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        &w.readable,
        "--dst-experiment-name",
        &dst_exp,
        "--use-src-user-id",
        "-vv",
    ];
    let dir = tempfile::tempdir().unwrap();
    // One login for both sides: the destination refuses the source's.
    let out = cli::run(&args, &AS_ADMIN);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("authentication failed") && err.contains(&dst.url), "{err}");
    assert_no_password(&out, dir.path());

    let out = cli::run(
        &args,
        &[
            ("SRC_MLFLOW_TRACKING_USERNAME", ADMIN),
            ("SRC_MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD),
            ("DST_MLFLOW_TRACKING_USERNAME", dst_user),
            ("DST_MLFLOW_TRACKING_PASSWORD", dst_password),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_no_password(&out, dir.path());
    let dst_admin = with_login(&dst.url, dst_user, dst_password);
    assert_same_runs(dump_experiment(&w.admin_uri(), &w.readable), dump_experiment(&dst_admin, &dst_exp));
}

#[test]
fn no_password_in_any_output_export_or_report_at_vv() {
    let w = world();
    let dir = tempfile::tempdir().unwrap();
    let reader_in_uri = with_login(&w.server.url, READER, READER_PASSWORD);
    let experiments = format!("{},{}", w.readable, w.hidden);
    let (zip, report) = (dir.path().join("run.zip"), dir.path().join("report.json"));
    let run_id = dump_experiment(&w.admin_uri(), &w.readable).as_object().unwrap().keys().next().unwrap().clone();
    // Logins in the URI rather than the environment; exports, a zip, reports and failures.
    for (args, ok) in [
        (
            vec![
                "export-experiments",
                "--tracking-uri",
                &reader_in_uri,
                "--experiments",
                &experiments,
                "--output-dir",
                path(&dir.path().join("bulk")),
                "--report",
                path(&report),
            ],
            false,
        ),
        (vec!["export-run", "--tracking-uri", &reader_in_uri, "--run-id", &run_id, "--output", path(&zip)], true),
        (
            vec![
                "import-run",
                "--tracking-uri",
                &reader_in_uri,
                "--input",
                path(&zip),
                "--experiment-name",
                &w.readable,
                "--report",
                path(&dir.path().join("import-report.json")),
            ],
            false,
        ),
    ] {
        let out = cli::run(&[&args[..], &["-vv"]].concat(), &[]);
        assert_eq!(out.status.success(), ok, "{args:?}: {}", stderr(&out));
        assert_no_password(&out, dir.path());
    }
    // A wrong password fails as such, and is not shown either.
    let out = cli::run(
        &["export-run", "--tracking-uri", &w.server.url, "--run-id", &run_id, "--output", "unused", "-vv"],
        &[("MLFLOW_TRACKING_USERNAME", READER), ("MLFLOW_TRACKING_PASSWORD", ADMIN_PASSWORD)],
    );
    assert!(!out.status.success() && stderr(&out).contains("authentication failed"), "{}", stderr(&out));
    assert_no_password(&out, dir.path());
    assert!(std::fs::read_to_string(&report).unwrap().contains(&w.hidden), "the report was written");
}
