//! `--dst-backend-store-uri`: runs written straight into another server's database (SQLite,
//! PostgreSQL) read back through that server's REST API with the official client equal to the
//! source field by field, files included; `verify` finds 0 differences, reading the destination
//! through its server and from its database; a second copy creates
//! nothing. A database at an unknown schema revision, one that takes no writes, and a wrong
//! password are each refused in one line, with nothing written.

use std::path::{Path, PathBuf};

use test_support::{dump_experiment, mysql, postgres, seed, unique_name, ArtifactMode, Backend, MlflowServer};

use crate::{
    backends::sql_server,
    cli::{self, path},
    experiments::{as_map, assert_runs_copied, one_job_at_a_time},
};

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// `copy-experiment` of `from` at `src` into `to` in `dst`'s database, its files into `dst`'s
/// artifacts folder.
fn copy_args<'a>(src: &'a MlflowServer, dst: &'a MlflowServer, from: &'a str, to: &'a str) -> Vec<&'a str> {
    vec![
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        from,
        "--dst-experiment-name",
        to,
        "--dst-backend-store-uri",
        &dst.backend_store_uri,
        "--dst-artifact-root",
        "mlflow-artifacts:/",
        "--dst-artifacts-destination",
        path(&dst.artifact_root),
        "--export-deleted-runs",
        "--use-src-user-id",
    ]
}

fn copies_into_the_database_of(src: &MlflowServer, dst: &MlflowServer) {
    let _one = one_job_at_a_time();
    let name = unique_name("dbsink");
    // Nested, FAILED, KILLED and deleted runs with histories and a file each; and a rich run
    // with NaN/±inf, long params, unicode, deep artifacts and a dataset input.
    seed(&src.url, &["--scenario", "tree", "--experiment", &name, "--runs", "4"]);
    let rich = format!("{name}-r");
    seed(&src.url, &["--scenario", "rich", "--experiment", &rich, "--no-log-model"]);
    for from in [format!("{name}-a"), rich] {
        let to = format!("{from}-copy");
        let copy = copy_args(src, dst, &from, &to);
        let out = cli::succeeded(&copy, cli::run(&copy, &[]));
        let src_runs = as_map(dump_experiment(&src.url, &from));
        assert!(!src_runs.is_empty());
        let ids: Vec<String> = src_runs.keys().cloned().collect();
        assert_runs_copied(&src_runs, &dst.url, &[ids], std::slice::from_ref(&to));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!(" {} created,", src_runs.len())), "{stderr}");

        // Locations as the server itself would have made them.
        let dst_runs = as_map(dump_experiment(&dst.url, &to));
        let exp_id = dst_runs.values().next().unwrap()["info"]["experiment_id"].as_str().unwrap().to_string();
        for (id, run) in &dst_runs {
            assert_eq!(run["info"]["artifact_uri"], format!("mlflow-artifacts:/{exp_id}/{id}/artifacts"), "{id}");
            assert_eq!(id.len(), 32, "{id}");
        }
        let location = dst.python_eval(&format!(
            "import mlflow\nprint(mlflow.MlflowClient().get_experiment_by_name({to:?}).artifact_location)"
        ));
        assert_eq!(location.trim(), format!("mlflow-artifacts:/{exp_id}"));

        // Read through the server, and from the database written without it: each run found by
        // its source-identity tag both ways.
        for dst_uri in [&dst.url, &dst.backend_store_uri] {
            let mut verify = vec![
                "verify",
                "--src-uri",
                &src.url,
                "--src-experiment",
                &from,
                "--dst-uri",
                dst_uri,
                "--dst-experiment",
                &to,
                "--checksums",
            ];
            if dst_uri == &dst.backend_store_uri {
                verify.extend(["--dst-artifacts-destination", path(&dst.artifact_root)]);
            }
            cli::ok(&verify);
        }
        // Idempotent: the second copy finds every run complete and writes nothing.
        let again = cli::succeeded(&copy, cli::run(&copy, &[]));
        let stderr = String::from_utf8_lossy(&again.stderr);
        assert!(stderr.contains(" 0 created, 0 resumed, 0 updated,"), "{stderr}");
        let after = as_map(dump_experiment(&dst.url, &to));
        assert_eq!(after.keys().collect::<std::collections::BTreeSet<_>>(), dst_runs.keys().collect());
    }
}

#[test]
fn runs_written_into_a_postgres_servers_database_read_back_as_the_source() {
    copies_into_the_database_of(MlflowServer::shared(ArtifactMode::Proxy), sql_server(Backend::Postgres));
}

#[test]
fn runs_written_into_a_sqlite_servers_database_read_back_as_the_source() {
    copies_into_the_database_of(sql_server(Backend::Postgres), MlflowServer::shared(ArtifactMode::Proxy));
}

/// One line, naming the database without its password.
fn refused(src: &MlflowServer, from: &str, database: &str, artifacts: &Path) -> String {
    let to = unique_name("refused");
    let args = [
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &src.url,
        "--src-experiment",
        from,
        "--dst-experiment-name",
        &to,
        "--dst-backend-store-uri",
        database,
        "--dst-artifact-root",
        "mlflow-artifacts:/",
        "--dst-artifacts-destination",
        path(artifacts),
    ];
    let e = cli::fails(&args, &[]);
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(std::fs::read_dir(artifacts).map_or(0, Iterator::count) == 0, "files were written");
    e
}

/// Tests run as root, whom file permissions do not stop: the database that takes no writes is
/// a PostgreSQL user allowed to read only.
#[test]
fn a_database_sink_refuses_an_unknown_schema_a_read_only_user_and_a_wrong_password() {
    let srv = MlflowServer::shared(ArtifactMode::Proxy);
    let name = unique_name("dbsinkno");
    seed(&srv.url, &["--scenario", "tree", "--experiment", &name, "--runs", "1"]);
    let from = format!("{name}-a");
    let dir = tmp(&name);
    let artifacts = dir.join("artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();

    let file = dir.join("old.db");
    std::fs::copy(srv.backend_store_uri.strip_prefix("sqlite:///").unwrap(), &file).unwrap();
    test_support::python_eval(&format!(
        "import sqlite3\nc = sqlite3.connect({:?})\nc.execute(\"UPDATE alembic_version SET version_num = '0123456789ab'\")\n\
         c.commit()",
        file.display().to_string()
    ));
    let before = std::fs::read(&file).unwrap();
    let e = refused(srv, &from, &format!("sqlite:///{}", file.display()), &artifacts);
    assert!(e.contains("schema revision 0123456789ab") && e.contains("dc11669786a5 (MLflow 3.17.2)"), "{e}");
    assert!(e.contains("mlflow db upgrade"), "{e}");
    assert!(std::fs::read(&file).unwrap() == before, "the database file changed");

    let pg = sql_server(Backend::Postgres);
    let role = format!("ro_{}", name.replace(|c: char| !c.is_ascii_alphanumeric(), "_").to_lowercase());
    postgres::shared().query(
        &pg.backend_store_uri,
        &format!("CREATE ROLE {role} LOGIN; GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}"),
    );
    let read_only = pg.backend_store_uri.replace("postgres@", &format!("{role}@"));
    assert_ne!(read_only, pg.backend_store_uri);
    let e = refused(srv, &from, &read_only, &artifacts);
    assert!(e.contains("cannot be written") && e.contains("permission denied"), "{e}");

    let wrong = mysql::shared().uri("mysql").replace(":mlflow-eim@", ":wrong-secret@");
    let e = refused(srv, &from, &wrong, &artifacts);
    assert!(e.contains("cannot open mysql+pymysql://") && e.contains("denied"), "{e}");
    assert!(!e.contains("wrong-secret"), "the password is shown: {e}");
}
