//! Production-shaped servers: PostgreSQL and MySQL (MariaDB) backends, S3 (moto) and Azure (azurite) artifact
//! stores, 4 workers. Each test logs a run with an artifact through the official client, reads
//! it back, and checks where the bytes landed.

use std::time::Instant;

use serde_json::Value;
use test_support::{azurite, moto, mysql, postgres, unique_name, ArtifactMode, Backend, MlflowServer, ServerSpec};

const LOG_RUN: &str = r#"
import hashlib, json, os, sys, tempfile, mlflow
c = mlflow.MlflowClient()
exp = c.create_experiment(sys.argv[1])
run = c.create_run(exp, run_name="stores")
rid = run.info.run_id
data = os.urandom(200_000) + "données ✓".encode()
d = tempfile.mkdtemp()
p = os.path.join(d, "blob.bin")
open(p, "wb").write(data)
c.log_artifact(rid, p, "sub")
c.log_param(rid, "p", "1")
c.log_metric(rid, "m", 1.5, step=3)
c.set_terminated(rid)
back = open(mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="sub/blob.bin", dst_path=tempfile.mkdtemp()), "rb").read()
print(json.dumps({"run_id": rid, "experiment_id": exp, "artifact_uri": c.get_run(rid).info.artifact_uri,
                  "sha256": hashlib.sha256(data).hexdigest(), "size": len(data), "back_equal": back == data}))
"#;

/// Logs the run on `srv` with its client env, checks the bytes read back, returns the run's facts.
fn log_and_read_back(srv: &MlflowServer) -> Value {
    let t = Instant::now();
    let code = format!("import sys\nsys.argv = ['x', {:?}]\n{LOG_RUN}", unique_name("stores"));
    let stdout = srv.python_eval(&code);
    // The client prints its own lines (e.g. "View run …"); ours is the last.
    let out: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect(&stdout);
    assert_eq!(out["back_equal"], true, "{out}");
    let dump = srv.dump_run(out["run_id"].as_str().unwrap());
    let files = dump["artifacts"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["path"], "sub/blob.bin");
    assert_eq!(files[0]["sha256"], out["sha256"]);
    assert_eq!(files[0]["size"], out["size"]);
    assert_eq!(dump["params"]["p"], "1");
    eprintln!("{:?}: logged and read back in {:?}", srv.spec, t.elapsed());
    out
}

fn start(spec: ServerSpec) -> MlflowServer {
    let t = Instant::now();
    let srv = MlflowServer::start_spec(&spec);
    eprintln!("{spec:?} healthy after {:?} ({})", t.elapsed(), srv.backend_store_uri);
    srv
}

/// The key of `sub/blob.bin` under the server's own prefix.
fn key_of(srv: &MlflowServer, out: &Value) -> String {
    let prefix = srv.artifact_location.split_once(".net/").map(|(_, p)| p).unwrap_or_else(|| {
        srv.artifact_location.strip_prefix("s3://").and_then(|r| r.split_once('/')).map(|(_, p)| p).unwrap()
    });
    format!(
        "{prefix}/{}/{}/artifacts/sub/blob.bin",
        out["experiment_id"].as_str().unwrap(),
        out["run_id"].as_str().unwrap()
    )
}

fn assert_run_in_postgres(srv: &MlflowServer, run_id: &str) {
    assert!(srv.backend_store_uri.starts_with("postgresql+psycopg2://"), "{}", srv.backend_store_uri);
    let n = postgres::shared()
        .query(&srv.backend_store_uri, &format!("SELECT count(*) FROM runs WHERE run_uuid = '{run_id}'"));
    assert_eq!(n.trim(), "1");
}

#[test]
fn postgres_backend_with_s3_artifacts_written_by_the_client() {
    let srv = start(ServerSpec::new(ArtifactMode::S3).backend(Backend::Postgres));
    assert!(srv.client_env().iter().any(|(k, _)| k == "MLFLOW_S3_ENDPOINT_URL"));
    let out = log_and_read_back(&srv);
    assert_run_in_postgres(&srv, out["run_id"].as_str().unwrap());
    assert!(out["artifact_uri"].as_str().unwrap().starts_with(&format!("{}/", srv.artifact_location)), "{out}");
    let m = moto::shared();
    assert_eq!(m.list(&m.bucket, &key_of(&srv, &out)), [(key_of(&srv, &out), out["size"].as_u64().unwrap())]);
}

#[test]
fn postgres_backend_4_workers_proxying_to_s3() {
    let srv = start(ServerSpec::new(ArtifactMode::S3Proxied).backend(Backend::Postgres).workers(4));
    assert!(srv.client_env().is_empty(), "a proxied store needs nothing on the client");
    let out = log_and_read_back(&srv);
    assert_run_in_postgres(&srv, out["run_id"].as_str().unwrap());
    assert!(out["artifact_uri"].as_str().unwrap().starts_with("mlflow-artifacts:/"), "{out}");
    let m = moto::shared();
    let key = key_of(&srv, &out);
    assert_eq!(m.list(&m.bucket, &key), [(key, out["size"].as_u64().unwrap())]);
}

#[test]
fn mysql_backend_with_s3_artifacts_written_by_the_client() {
    let srv = start(ServerSpec::new(ArtifactMode::S3).backend(Backend::Mysql));
    assert!(srv.backend_store_uri.starts_with("mysql+pymysql://"), "{}", srv.backend_store_uri);
    let out = log_and_read_back(&srv);
    let my = mysql::shared();
    let run_id = out["run_id"].as_str().unwrap();
    let n = my.query(&srv.backend_store_uri, &format!("SELECT count(*) FROM runs WHERE run_uuid = '{run_id}'"));
    assert_eq!(n.trim(), "1");
    // MLflow ran its migrations into a utf8mb4 database (it refuses to serve a schema short of
    // its head revision).
    let db = srv.backend_store_uri.rsplit('/').next().unwrap();
    let charset = my.query(
        "information_schema",
        &format!("SELECT default_character_set_name, default_collation_name FROM schemata WHERE schema_name = '{db}'"),
    );
    assert_eq!(charset.trim(), format!("utf8mb4\t{}", mysql::COLLATION));
    assert!(!my.query(db, "SELECT version_num FROM alembic_version").trim().is_empty());
    let m = moto::shared();
    let key = key_of(&srv, &out);
    assert_eq!(m.list(&m.bucket, &key), [(key, out["size"].as_u64().unwrap())]);
}

#[test]
fn sqlite_backend_with_s3_artifacts() {
    let srv = start(ServerSpec::new(ArtifactMode::S3));
    let out = log_and_read_back(&srv);
    assert!(srv.backend_store_uri.starts_with("sqlite:///"));
    let m = moto::shared();
    let key = key_of(&srv, &out);
    assert_eq!(m.list(&m.bucket, &key), [(key, out["size"].as_u64().unwrap())]);
    // Another bucket can be made for tests that need one of their own.
    let bucket = unique_name("b").to_lowercase().chars().take(40).collect::<String>();
    m.create_bucket(&bucket);
    assert!(m.list(&bucket, "").is_empty());
}

#[test]
fn sqlite_backend_with_azure_artifacts() {
    let srv = start(ServerSpec::new(ArtifactMode::Azure));
    assert_eq!(srv.client_env()[0].0, "AZURE_STORAGE_CONNECTION_STRING");
    let out = log_and_read_back(&srv);
    assert!(out["artifact_uri"]
        .as_str()
        .unwrap()
        .starts_with("wasbs://mlflow@devstoreaccount1.blob.core.windows.net/"));
    let az = azurite::shared();
    let key = key_of(&srv, &out);
    assert_eq!(az.list(&az.container, &key), [(key, out["size"].as_u64().unwrap())]);
}
