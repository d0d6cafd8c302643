//! Workspaces (MLflow 3.10+, `mlflow server --enable-workspaces`): experiment names live per
//! workspace, so one server holds the same name in several. `--src-workspace` and
//! `--dst-workspace` (copy) and `--workspace` (export, import) scope each side. Copying an
//! experiment between two workspaces of one server under its own name must put it in the
//! destination workspace only, equal field by field (read back with the official client
//! scoped by `MLFLOW_WORKSPACE`), and a re-run creates nothing; an export from one workspace
//! imports into a third; a workspace that does not exist is a clear error.

use serde_json::Value;
use test_support::{assert_runs_equal, shared_spec, unique_name, ArtifactMode, MlflowServer, ServerSpec};

use crate::{
    cli::{clean_report, fails, ok, path},
    experiments::as_map,
};

fn server() -> &'static MlflowServer {
    shared_spec(&ServerSpec::new(ArtifactMode::Proxy).workspaces())
}

/// Creates workspaces `names` with the official client.
fn create_workspaces(server: &MlflowServer, names: &[&str]) {
    server.python_eval(&format!(
        "import mlflow\nfor name in {names:?}:\n    mlflow.MlflowClient().create_workspace(name)"
    ));
}

/// The runs of experiment `name` in `workspace`, by id, read with the official client.
fn runs_in(server: &MlflowServer, workspace: &str, name: &str) -> std::collections::HashMap<String, Value> {
    as_map(test_support::dump_experiment_env(&server.url, name, &[("MLFLOW_WORKSPACE", workspace)]))
}

/// Whether experiment `name` exists in `workspace`.
fn has_experiment(server: &MlflowServer, workspace: &str, name: &str) -> bool {
    let code = format!(
        "import mlflow, os\nos.environ['MLFLOW_WORKSPACE'] = {workspace:?}\n\
         print(mlflow.MlflowClient().get_experiment_by_name({name:?}) is not None)"
    );
    server.python_eval(&code).trim() == "True"
}

/// Checks that `dst` holds exactly the runs of `src`, once each, complete and equal.
fn assert_same_runs(src: &std::collections::HashMap<String, Value>, dst: &std::collections::HashMap<String, Value>) {
    assert_eq!(dst.len(), src.len(), "run count");
    for run in dst.values() {
        let source_id = run["tags"]["mlflow_export_import.source.run_id"].as_str().expect("identity tag");
        assert_eq!(run["tags"]["mlflow_export_import.complete"], "true");
        assert_runs_equal(&src[source_id], run);
    }
}

#[test]
fn copies_and_exports_between_workspaces_of_one_server() {
    let server = server();
    let u = unique_name("ws");
    let (team_a, team_b, team_c) = (format!("{u}-a"), format!("{u}-b"), format!("{u}-c"));
    create_workspaces(server, &[&team_a, &team_b, &team_c]);
    // Two runs with params, metrics, tags and artifacts in workspace A.
    let experiment = unique_name("ws-exp");
    let seed_env = [("MLFLOW_WORKSPACE", team_a.as_str())];
    for run in ["one", "two"] {
        test_support::seed_env(
            &server.url,
            &["--scenario", "rich", "--no-log-model", "--experiment", &experiment, "--run-name", run],
            &seed_env,
        );
    }
    let src = runs_in(server, &team_a, &experiment);
    assert_eq!(src.len(), 2);

    // Copy to workspace B under the same name: the name is free there, not in A.
    let report = tempfile::tempdir().unwrap();
    let report = report.path().join("report.json");
    let copy = [
        "copy-experiment",
        "--src-uri",
        &server.url,
        "--dst-uri",
        &server.url,
        "--src-experiment",
        &experiment,
        "--dst-experiment-name",
        &experiment,
        "--src-workspace",
        &team_a,
        "--dst-workspace",
        &team_b,
        "--use-src-user-id",
        "--report",
        path(&report),
    ];
    ok(&copy);
    let first = clean_report(&report);
    assert_eq!(first["summary"]["runs_created"], 2, "{first}");
    assert_same_runs(&src, &runs_in(server, &team_b, &experiment));
    assert_eq!(runs_in(server, &team_a, &experiment).len(), 2, "the source workspace is unchanged");
    assert!(!has_experiment(server, "default", &experiment), "nothing lands in the default workspace");

    // A re-run finds the copies in workspace B and creates nothing.
    ok(&copy);
    let again = clean_report(&report);
    assert_eq!(again["summary"]["runs_created"], 0, "{again}");
    assert_eq!(again["summary"]["runs_skipped"], 2, "{again}");
    assert_eq!(runs_in(server, &team_b, &experiment).len(), 2);

    // Export from A, import into C.
    let out = tempfile::tempdir().unwrap();
    ok(&[
        "export-experiment",
        "--tracking-uri",
        &server.url,
        "--workspace",
        &team_a,
        "--experiment",
        &experiment,
        "--output-dir",
        path(out.path()),
    ]);
    ok(&[
        "import-experiment",
        "--tracking-uri",
        &server.url,
        "--workspace",
        &team_c,
        "--use-src-user-id",
        "--experiment-name",
        &experiment,
        "--input-dir",
        path(out.path()),
    ]);
    assert_same_runs(&src, &runs_in(server, &team_c, &experiment));

    // A destination workspace that does not exist: the server's answer, and nothing written.
    let missing = format!("{u}-missing");
    let mut args = copy.to_vec();
    let at = args.iter().position(|a| *a == team_b.as_str()).unwrap();
    args[at] = &missing;
    let err = fails(&args, &[]);
    assert!(err.contains(&format!("Workspace '{missing}' not found")), "{err}");
}

/// A workspace asked of a server without `--enable-workspaces`: the server's answer (a 500)
/// at once, not after a minute of retries.
#[test]
fn a_server_without_workspaces_refuses_at_once() {
    let plain = MlflowServer::shared(ArtifactMode::Proxy);
    let out = tempfile::tempdir().unwrap();
    let err = fails(
        &[
            "export-experiment",
            "--tracking-uri",
            &plain.url,
            "--workspace",
            "team-a",
            "--experiment",
            "Default",
            "--output-dir",
            path(&out.path().join("out")),
        ],
        &[],
    );
    assert!(err.contains("workspaces are not enabled on this server"), "{err}");
    assert!(!err.contains("retrying"), "a refusal that every resend repeats was retried: {err}");
}
