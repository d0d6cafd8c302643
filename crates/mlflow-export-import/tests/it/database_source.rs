//! MLflow's backend database as a source (`--tracking-uri sqlite:///…`, `postgresql://…`,
//! `mysql://…`, as the server's `--backend-store-uri` names it): what it gives is what the
//! server gives over REST, checked on real servers of each backend. Exports made both ways are
//! the same files (apart from the fields naming where they were read), `verify` finds the
//! server and its own database equal, and (on SQLite) a model exports the same both ways and a
//! copy from the database verifies with 0 differences against it.

use std::path::{Path, PathBuf};

use serde_json::Value;
use test_support::{seed, unique_name, ArtifactMode, Backend, MlflowServer};

use crate::{
    backends::sql_server,
    cli::{self, path},
    experiments::one_job_at_a_time,
};

/// The fields of an export that name where and when it was read.
const READ_FROM: [&str; 4] = ["mlflow_tracking_uri", "mlflow_version", "export_time", "_export_time"];

fn server(backend: Backend) -> &'static MlflowServer {
    match backend {
        Backend::Sqlite => MlflowServer::shared(ArtifactMode::Proxy),
        other => sql_server(other),
    }
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn without_origin(mut v: Value) -> Value {
    match &mut v {
        Value::Object(map) => {
            for key in READ_FROM {
                map.remove(key);
            }
            for child in map.values_mut() {
                *child = without_origin(child.take());
            }
        }
        Value::Array(items) => {
            for child in items {
                *child = without_origin(child.take());
            }
        }
        _ => {}
    }
    v
}

/// Two export folders hold the same files: JSON equal but for [`READ_FROM`], the rest byte
/// for byte.
fn assert_same_export(a: &Path, b: &Path) {
    let rel = |root: &Path| -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> =
            cli::files_below(root).into_iter().map(|f| f.strip_prefix(root).unwrap().to_path_buf()).collect();
        files.sort();
        files
    };
    let files = rel(a);
    assert_eq!(files, rel(b), "the files of {} and {}", a.display(), b.display());
    assert!(files.len() > 3, "{files:?}");
    for f in files {
        let (x, y) = (std::fs::read(a.join(&f)).unwrap(), std::fs::read(b.join(&f)).unwrap());
        if f.extension().is_some_and(|e| e == "json") {
            let parse = |bytes: &[u8]| {
                let mut v = without_origin(serde_json::from_slice(bytes).unwrap());
                // A server lists a logged model's points in its database's own order (insertion
                // order in SQLite, key order in MySQL's clustered index): compared as a set.
                if let Some(points) = v.pointer_mut("/mlflow/metrics").and_then(Value::as_array_mut) {
                    points.sort_by_key(|p| p.to_string());
                }
                v
            };
            assert_eq!(parse(&x), parse(&y), "{}", f.display());
        } else {
            assert!(x == y, "{} differs", f.display());
        }
    }
}

/// `args` ending in the source given as `--tracking-uri`: the server's URL, or its database
/// with the server's artifact folder.
fn export(srv: &MlflowServer, from_database: bool, args: &[&str]) {
    let mut all: Vec<&str> = args.to_vec();
    if from_database {
        all.extend(["--tracking-uri", &srv.backend_store_uri, "--artifacts-destination", path(&srv.artifact_root)]);
    } else {
        all.extend(["--tracking-uri", &srv.url]);
    }
    cli::ok(&all);
}

fn reads_as_its_server_does(backend: Backend) {
    let _one = one_job_at_a_time();
    let srv = server(backend);
    let name = unique_name(&format!("db{backend:?}").to_lowercase());
    // Nested, FAILED, KILLED and deleted runs with histories and a file each; a rich run with
    // NaN/±inf, long params, unicode, deep artifacts, a dataset input and a logged model; and
    // registered models with versions, stages and aliases.
    seed(&srv.url, &["--scenario", "tree", "--experiment", &name, "--runs", "3"]);
    let exp = format!("{name}-a");
    seed(&srv.url, &["--scenario", "rich", "--experiment", &exp]);
    // The model export and the copy back into the server are checked on SQLite only: what
    // differs between the backends is how rows are read, which the experiment export and the
    // verify of the server against its database cover (and CI time is bounded).
    let whole = backend == Backend::Sqlite;
    if whole {
        seed(&srv.url, &["--scenario", "models", "--experiment", &name]);
    }

    let (rest, direct) = (tmp(&format!("{name}-rest")), tmp(&format!("{name}-db")));
    for (dir, from_database) in [(&rest, false), (&direct, true)] {
        let out = path(dir);
        export(
            srv,
            from_database,
            &["export-experiment", "--experiment", &exp, "--output-dir", out, "--export-deleted-runs"],
        );
    }
    assert_same_export(&rest, &direct);
    // The server and its own database are the same experiment.
    let db = srv.backend_store_uri.as_str();
    let art = path(&srv.artifact_root);
    cli::ok(&[
        "verify",
        "--src-uri",
        &srv.url,
        "--src-experiment",
        &exp,
        "--dst-uri",
        db,
        "--dst-experiment",
        &exp,
        "--dst-artifacts-destination",
        art,
        "--checksums",
    ]);
    if !whole {
        return;
    }

    let model = format!("{name}-m0");
    let (rest, direct) = (tmp(&format!("{name}-model-rest")), tmp(&format!("{name}-model-db")));
    for (dir, from_database) in [(&rest, false), (&direct, true)] {
        export(srv, from_database, &["export-model", "--model", &model, "--output-dir", path(dir)]);
    }
    assert_same_export(&rest, &direct);

    // Copied from the database into the server itself: equal to the database, file bytes
    // included; a second copy creates nothing.
    let copied = format!("{exp}-copy");
    let copy = [
        "copy-experiment",
        "--src-uri",
        db,
        "--dst-uri",
        &srv.url,
        "--src-experiment",
        &exp,
        "--dst-experiment-name",
        &copied,
        "--src-artifacts-destination",
        art,
        "--export-deleted-runs",
        "--use-src-user-id",
    ];
    cli::ok(&copy);
    let verify = [
        "verify",
        "--src-uri",
        db,
        "--src-experiment",
        &exp,
        "--dst-uri",
        &srv.url,
        "--dst-experiment",
        &copied,
        "--src-artifacts-destination",
        art,
        "--checksums",
    ];
    cli::ok(&verify);
    let again = cli::succeeded(&copy, cli::run(&copy, &[]));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains(" 0 created, 0 resumed, 0 updated,"), "{stderr}");
}

#[test]
fn a_sqlite_database_reads_as_its_server_does() {
    reads_as_its_server_does(Backend::Sqlite);
}

#[test]
fn a_postgres_database_reads_as_its_server_does() {
    reads_as_its_server_does(Backend::Postgres);
}

#[test]
fn a_mysql_database_reads_as_its_server_does() {
    reads_as_its_server_does(Backend::Mysql);
}

/// The database file is opened read-only: an export leaves its bytes as they were. A missing
/// file, a file that is not MLflow's and a wrong password are each one clear line, and the
/// password is in none of them.
#[test]
fn a_database_source_is_read_only_and_refuses_what_it_cannot_read() {
    let srv = MlflowServer::shared(ArtifactMode::Proxy);
    let name = unique_name("dbro");
    seed(&srv.url, &["--scenario", "tree", "--experiment", &name, "--runs", "2"]);
    let dir = tmp(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let live = srv.backend_store_uri.strip_prefix("sqlite:///").unwrap();
    let file = dir.join("copy.db");
    std::fs::copy(live, &file).unwrap();
    let before = std::fs::read(&file).unwrap();
    let uri = format!("sqlite:///{}", file.display());
    let out = dir.join("export");
    let exp = format!("{name}-a");
    cli::ok(&[
        "export-experiment",
        "--tracking-uri",
        &uri,
        "--experiment",
        &exp,
        "--output-dir",
        path(&out),
        "--artifacts-destination",
        path(&srv.artifact_root),
    ]);
    assert!(std::fs::read(&file).unwrap() == before, "the database file changed");
    let leftovers: Vec<_> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!leftovers.iter().any(|f| f.ends_with("-wal") || f.ends_with("-journal")), "{leftovers:?}");

    let export = |uri: &str| {
        cli::fails(&["export-experiment", "--tracking-uri", uri, "--experiment", &exp, "--output-dir", path(&out)], &[])
    };
    let e = export(&format!("sqlite:///{}", dir.join("missing.db").display()));
    assert!(e.contains("no database file"), "{e}");
    let not_mlflow = dir.join("other.db");
    std::fs::write(&not_mlflow, b"").unwrap();
    let e = export(&format!("sqlite:///{}", not_mlflow.display()));
    assert!(e.contains("not an MLflow database"), "{e}");
    let mysql = server(Backend::Mysql);
    let wrong = mysql.backend_store_uri.replace(":mlflow-eim@", ":wrong-secret@");
    assert_ne!(wrong, mysql.backend_store_uri);
    let e = export(&wrong);
    assert!(e.contains("cannot open mysql+pymysql://") && e.contains("denied"), "{e}");
    assert!(!e.contains("wrong-secret"), "the password is shown: {e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
}

/// A database written by an MLflow 2.22.5 server (artifacts proxied to its
/// `--artifacts-destination`; `scripts/mlruns-fixture.sh --database`) copies into a 3.17.2 server
/// as the official 2.22.5 client read it.
#[test]
fn a_database_written_by_mlflow_2_22_copies_as_it_was_written() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../mlflow-transfer/tests/fixtures/sqlite/2.22.5");
    let dir = dir.canonicalize().unwrap();
    let uri = format!("sqlite:///{}", dir.join("mlflow.db").display());
    let artifacts = dir.join("artifacts");
    let source = [uri.as_str(), "--src-artifacts-destination", path(&artifacts)];
    crate::mlruns_source::copy_and_compare(&source, &uri, &dir.join("expected.json"));
}
