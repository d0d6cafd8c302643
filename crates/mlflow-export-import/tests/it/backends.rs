//! What the design assumes of a tracking server's backend store, checked on real PostgreSQL-
//! and MySQL (MariaDB)-backed MLflow servers (and on sqlite for contrast), and a whole-experiment
//! round trip through servers of each with 4 workers.
//!
//! MLflow 3.17.2's `SqlAlchemyStore.log_batch` is not one transaction: it writes params, then
//! metrics, then tags, each in its own session committed before the next starts. The completion
//! mark rides in the last log-batch among the tags, so it is stored only after that batch's
//! params and metrics are, and never when any part of the batch was refused. Metric points are
//! keyed by (run, key, timestamp, step, value, is_nan), so a batch sent twice (a retry after a
//! lost answer) stores each point once.
//!
//! Where the backends differ: PostgreSQL refuses a NUL character in text (sqlite and MariaDB
//! store it); MariaDB's utf8mb4 collation makes keys and names that differ only by case, accents
//! or trailing spaces equal, so such params or tags of one run cannot all be stored there.

use std::{collections::HashMap, path::Path};

use mlflow_transfer::identity::{COMPLETE, SOURCE_RUN_ID};
use serde_json::{json, Value};
use test_support::{assert_runs_equal, mysql, postgres, unique_name, ArtifactMode, Backend, MlflowServer, ServerSpec};

use crate::{
    cli::{self, path},
    experiments::{as_map, one_job_at_a_time},
};

/// `backend`, artifacts proxied to a local folder, MLflow's default 4 workers.
pub(crate) fn sql_server(backend: Backend) -> &'static MlflowServer {
    MlflowServer::shared_spec(&ServerSpec::new(ArtifactMode::Proxy).backend(backend).workers(4))
}

/// PostgreSQL backend, artifacts proxied to a local folder, MLflow's default 4 workers.
fn pg_server() -> &'static MlflowServer {
    sql_server(Backend::Postgres)
}

/// MariaDB backend (utf8mb4), artifacts proxied to a local folder, 4 workers.
fn mysql_server() -> &'static MlflowServer {
    sql_server(Backend::Mysql)
}

fn sqlite_server() -> &'static MlflowServer {
    MlflowServer::shared(ArtifactMode::Proxy)
}

/// Creates a run (official client), logs `pre_params` one by one, then POSTs `batch` to
/// `runs/log-batch` `sends` times as one raw request each; returns every answer and the run as
/// the official client reads it afterwards.
const SEND_BATCH: &str = r#"
import json, os, requests, mlflow
url = os.environ["MLFLOW_TRACKING_URI"]
c = mlflow.MlflowClient()
rid = c.create_run(c.create_experiment(A["experiment"])).info.run_id
for k, v in A["pre_params"].items():
    c.log_param(rid, k, v)
batch = dict(A["batch"], run_id=rid)
answers = []
for _ in range(A["sends"]):
    r = requests.post(url + "/api/2.0/mlflow/runs/log-batch", json=batch, timeout=120)
    answers.append([r.status_code, r.text])
run = c.get_run(rid)
keys = sorted({m["key"] for m in A["batch"].get("metrics", [])})
history = {k: sorted([m.timestamp, m.step, repr(m.value)] for m in c.get_metric_history(rid, k)) for k in keys}
print(json.dumps({"run_id": rid, "answers": answers, "params": run.data.params, "tags": run.data.tags,
                  "history": history}))
"#;

struct Sent {
    run_id: String,
    answers: Vec<(u64, String)>,
    params: Value,
    tags: Value,
    history: Value,
}

fn send(srv: &MlflowServer, pre_params: Value, batch: Value, sends: usize) -> Sent {
    let args = json!({"experiment": unique_name("backend"), "pre_params": pre_params, "batch": batch, "sends": sends});
    let code = format!("import json\nA = json.loads({:?})\n{SEND_BATCH}", args.to_string());
    let stdout = srv.python_eval(&code);
    let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect(&stdout);
    Sent {
        run_id: v["run_id"].as_str().unwrap().to_string(),
        answers: v["answers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a[0].as_u64().unwrap(), a[1].as_str().unwrap().to_string()))
            .collect(),
        params: v["params"].clone(),
        tags: v["tags"].clone(),
        history: v["history"].clone(),
    }
}

/// One row of one column of `sql`, read from the server's database itself.
fn sql_value(srv: &MlflowServer, sql: &str) -> String {
    let out = match srv.spec.backend {
        Backend::Postgres => postgres::shared().query(&srv.backend_store_uri, sql),
        Backend::Mysql => mysql::shared().query(&srv.backend_store_uri, sql),
        Backend::Sqlite => {
            let db = srv.backend_store_uri.strip_prefix("sqlite:///").unwrap();
            test_support::python_eval(&format!(
                "import sqlite3\nprint(sqlite3.connect({db:?}).execute({sql:?}).fetchone()[0])"
            ))
        }
    };
    out.trim().to_string()
}

/// Rows of the run in the backend's `metrics` table, read from the database itself.
fn metric_rows(srv: &MlflowServer, run_id: &str) -> u64 {
    let out = sql_value(srv, &format!("SELECT count(*) FROM metrics WHERE run_uuid = '{run_id}'"));
    out.parse().unwrap_or_else(|_| panic!("count: {out:?}"))
}

fn kv(pairs: &[(&str, &str)]) -> Value {
    Value::Array(pairs.iter().map(|(k, v)| json!({"key": k, "value": v})).collect())
}

/// A batch as the tool's last one looks: params, tags, metrics and the completion mark.
fn last_batch(params: &[(&str, &str)], tags: &[(&str, &str)]) -> Value {
    let mut tags = tags.to_vec();
    tags.push((COMPLETE, "true"));
    json!({
        "params": kv(params),
        "tags": kv(&tags),
        "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": 1704164645678_i64, "step": 0},
            {"key": "loss", "value": 0.25, "timestamp": 1704164645679_i64, "step": 1},
            {"key": "loss", "value": 0.25, "timestamp": 1704164645679_i64, "step": -1},
            {"key": "odd", "value": "NaN", "timestamp": 1704164645680_i64, "step": 0},
            {"key": "odd", "value": "Infinity", "timestamp": 1704164645680_i64, "step": 0},
            {"key": "odd", "value": "-Infinity", "timestamp": 1704164645680_i64, "step": 0},
            {"key": "odd", "value": 1.5, "timestamp": 1704164645680_i64, "step": 0},
        ],
    })
}
const POINTS: u64 = 7;

/// A batch whose params part is refused (a param already logged with another value) stores no
/// completion mark: params are written, and checked, before tags.
fn refused_params_leave_no_mark(srv: &MlflowServer) {
    let batch = last_batch(&[("lr", "0.2"), ("fresh", "x")], &[("team", "a")]);
    let s = send(srv, json!({"lr": "0.1"}), batch, 1);
    let (status, body) = &s.answers[0];
    assert_eq!(*status, 400, "{body}");
    assert!(body.contains("INVALID_PARAMETER_VALUE"), "{body}");
    assert!(s.tags.get(COMPLETE).is_none(), "a refused batch left the completion mark: {}", s.tags);
    assert!(s.tags.get("team").is_none(), "{}", s.tags);
    assert_eq!(s.params, json!({"lr": "0.1"}), "params are all or nothing within a batch");
    // Metrics come after params: nothing of the refused batch was stored.
    assert_eq!(metric_rows(srv, &s.run_id), 0);
}

/// The same batch sent twice (a retry after a lost answer): every point stored once, params
/// unchanged, the mark set.
fn batch_sent_twice_stores_each_point_once(srv: &MlflowServer) {
    let params = [("lr", "0.1"), ("layers", "3")];
    let s = send(srv, json!({}), last_batch(&params, &[("team", "a")]), 2);
    for (status, body) in &s.answers {
        assert_eq!(*status, 200, "{body}");
    }
    assert_eq!(s.params, json!({"lr": "0.1", "layers": "3"}));
    assert_eq!(s.tags[COMPLETE], "true");
    assert_eq!(s.history["loss"].as_array().unwrap().len(), 3, "{}", s.history);
    assert_eq!(s.history["odd"].as_array().unwrap().len(), 4, "{}", s.history);
    let distinct: std::collections::HashSet<String> =
        s.history["odd"].as_array().unwrap().iter().map(|p| p[2].to_string()).collect();
    assert_eq!(distinct.len(), 4, "{}", s.history);
    assert_eq!(metric_rows(srv, &s.run_id), POINTS);
}

#[test]
fn postgres_refused_log_batch_leaves_no_completion_mark() {
    refused_params_leave_no_mark(pg_server());
}

#[test]
fn mysql_refused_log_batch_leaves_no_completion_mark() {
    refused_params_leave_no_mark(mysql_server());
}

#[test]
fn sqlite_refused_log_batch_leaves_no_completion_mark() {
    refused_params_leave_no_mark(sqlite_server());
}

#[test]
fn postgres_log_batch_sent_twice_stores_each_metric_point_once() {
    batch_sent_twice_stores_each_point_once(pg_server());
}

#[test]
fn mysql_log_batch_sent_twice_stores_each_metric_point_once() {
    batch_sent_twice_stores_each_point_once(mysql_server());
}

#[test]
fn sqlite_log_batch_sent_twice_stores_each_metric_point_once() {
    batch_sent_twice_stores_each_point_once(sqlite_server());
}

/// A last batch whose tag value holds a NUL character. PostgreSQL refuses NUL in text, so the
/// tags part fails there: the batch keeps its params and metrics (committed before the tags:
/// the order the design relies on) and gets no completion mark, since the mark is one of the
/// tags. sqlite and MariaDB store the value whole, NUL included.
fn nul_in_tag_value(srv: &MlflowServer) {
    let batch = last_batch(&[("p", "1")], &[("bad", "a\u{0}b")]);
    let s = send(srv, json!({}), batch, 1);
    let (status, body) = &s.answers[0];
    match srv.spec.backend {
        Backend::Postgres => {
            assert!(*status >= 400, "{status} {body}");
            assert!(s.tags.get(COMPLETE).is_none(), "{}", s.tags);
            assert_eq!(s.params, json!({"p": "1"}), "params were committed before the tags failed");
            assert_eq!(metric_rows(srv, &s.run_id), POINTS, "metrics were committed before the tags failed");
        }
        Backend::Sqlite | Backend::Mysql => {
            assert_eq!(*status, 200, "{body}");
            assert_eq!(s.tags[COMPLETE], "true");
            assert_eq!(s.tags["bad"], "a\u{0}b");
            // Backquotes: `key` is a reserved word in MariaDB; sqlite accepts them too.
            let sql = format!("SELECT hex(value) FROM tags WHERE run_uuid = '{}' AND `key` = 'bad'", s.run_id);
            assert_eq!(sql_value(srv, &sql), "610062", "the stored bytes");
        }
    }
}

#[test]
fn postgres_failing_tags_part_keeps_params_and_metrics_but_no_mark() {
    nul_in_tag_value(pg_server());
}

#[test]
fn mysql_stores_nul_in_tag_value() {
    nul_in_tag_value(mysql_server());
}

#[test]
fn sqlite_stores_nul_in_tag_value() {
    nul_in_tag_value(sqlite_server());
}

/// Keys equal under MariaDB's collation (`utf8mb4_general_ci`: case, accents and trailing
/// spaces ignored) are one key there: a batch with params `lr` and `LR` is refused whole
/// (400, "Duplicate entry … for key 'PRIMARY'"), tags `t` and `T` fail with a 500 after MLflow's
/// own retries, and an experiment name finds an experiment that differs only by case. sqlite
/// keeps them apart.
fn keys_differing_by_case(srv: &MlflowServer) {
    let mysql = srv.spec.backend == Backend::Mysql;
    for params in [[("lr", "1"), ("LR", "2")], [("e", "1"), ("\u{e9}", "2")], [("a", "1"), ("a ", "2")]] {
        let s = send(srv, json!({}), json!({"params": kv(&params)}), 1);
        let (status, body) = &s.answers[0];
        if mysql {
            assert_eq!(*status, 400, "{params:?}: {body}");
            assert!(body.contains("Duplicate entry"), "{body}");
            assert_eq!(s.params, json!({}), "{params:?}: the batch's params are refused whole");
        } else {
            assert_eq!(*status, 200, "{params:?}: {body}");
            assert_eq!(s.params.as_object().unwrap().len(), 2, "{}", s.params);
        }
    }
    let s = send(srv, json!({}), json!({"tags": kv(&[("t", "1"), ("T", "2")])}), 1);
    let (status, body) = &s.answers[0];
    if mysql {
        assert_eq!(*status, 500, "{body}");
        assert!(body.contains("Failed to set tags"), "{body}");
        assert!(s.tags.get("t").is_none() && s.tags.get("T").is_none(), "{}", s.tags);
    } else {
        assert_eq!(*status, 200, "{body}");
        assert_eq!((&s.tags["t"], &s.tags["T"]), (&json!("1"), &json!("2")));
    }
    let name = unique_name("Case");
    let found = srv.python_eval(&format!(
        "import mlflow\nc = mlflow.MlflowClient()\nc.create_experiment({name:?})\n\
         e = c.get_experiment_by_name({lower:?})\nprint(e.name if e else '')",
        lower = name.to_lowercase()
    ));
    let found = found.lines().last().unwrap_or_default();
    assert_eq!(found, if mysql { name.as_str() } else { "" }, "experiment found by its lowercased name");
}

#[test]
fn mysql_keys_differing_only_by_case_accents_or_trailing_spaces_collide() {
    keys_differing_by_case(mysql_server());
}

#[test]
fn sqlite_keys_differing_only_by_case_accents_or_trailing_spaces_are_distinct() {
    keys_differing_by_case(sqlite_server());
}

/// Every run of `name` on `srv` keyed by the source run id it was copied from.
fn by_source(srv: &MlflowServer, name: &str) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    for (id, run) in as_map(srv.dump_experiment(name)) {
        assert_eq!(run["tags"][COMPLETE], "true", "{id} on {}", srv.url);
        let source = run["tags"][SOURCE_RUN_ID].as_str().unwrap().to_string();
        assert!(out.insert(source.clone(), run).is_none(), "{source} copied twice into {name}");
    }
    out
}

/// The local file of an artifact under a proxy server's artifact folder.
fn artifact_file(srv: &MlflowServer, run: &Value, file: &str) -> std::path::PathBuf {
    let uri = run["info"]["artifact_uri"].as_str().unwrap();
    let rel = uri.strip_prefix("mlflow-artifacts:/").unwrap_or_else(|| panic!("not proxied: {uri}"));
    srv.artifact_root.join(rel.trim_start_matches('/')).join(file)
}

/// `dst` (keyed by source run id) equals `src` field by field and file by file, with parent
/// links pointing at the copies.
fn assert_same_runs(
    src_srv: &MlflowServer,
    src: &HashMap<String, Value>,
    dst_srv: &MlflowServer,
    dst: &HashMap<String, Value>,
) {
    let mut want: Vec<&String> = src.keys().collect();
    let mut got: Vec<&String> = dst.keys().collect();
    want.sort();
    got.sort();
    assert_eq!(got, want, "runs at the destination, by source id");
    let dst_id = |source: &str| dst[source]["info"]["run_id"].as_str().unwrap().to_string();
    for (source, a) in src {
        let b = &dst[source];
        assert_runs_equal(a, b);
        if let Some(parent) = a["tags"]["mlflow.parentRunId"].as_str() {
            if src.contains_key(parent) {
                assert_eq!(b["tags"]["mlflow.parentRunId"].as_str(), Some(dst_id(parent).as_str()));
            }
        }
        for f in a["artifacts"].as_array().unwrap() {
            let file = f["path"].as_str().unwrap();
            let (x, y) = (artifact_file(src_srv, a, file), artifact_file(dst_srv, b, file));
            let (x, y) =
                (std::fs::read(&x).unwrap(), std::fs::read(&y).unwrap_or_else(|e| panic!("{}: {e}", y.display())));
            assert!(x == y, "{source}: artifact {file} differs");
        }
    }
}

fn tool_ok(args: &[&str]) -> String {
    String::from_utf8_lossy(&cli::succeeded(args, cli::run(args, &[])).stderr).into_owned()
}

/// sqlite + proxy → `copy-experiment` → `backend` + proxy, 4 workers → `export-experiment` /
/// `import-experiment` → another experiment of that server; equal at every step; a second copy
/// creates nothing.
fn experiment_round_trip(backend: Backend) {
    let _one = one_job_at_a_time();
    let src = sqlite_server();
    let tag = format!("{backend:?}").to_lowercase();
    let prefix = unique_name(&format!("{tag}trip"));
    // Three experiments of 10 runs (FAILED, KILLED, deleted, nested, histories, one file each);
    // the rich run adds NaN/±inf, 6000-char params, unicode and deep artifacts, a dataset input
    // and a logged model.
    test_support::seed(&src.url, &["--scenario", "tree", "--experiment", &prefix, "--runs", "10"]);
    let name = format!("{prefix}-a");
    test_support::seed(&src.url, &["--scenario", "rich", "--experiment", &name]);
    let source: HashMap<String, Value> = as_map(src.dump_experiment(&name));
    assert_eq!(source.len(), 11);

    let dst = sql_server(backend);
    let copied = unique_name(&format!("{tag}trip-copy"));
    let copy = [
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        &name,
        "--dst-experiment-name",
        &copied,
        "--export-deleted-runs",
        "--use-src-user-id",
    ];
    let t = std::time::Instant::now();
    tool_ok(&copy);
    eprintln!("copy-experiment into {backend:?} (4 workers): {:?}", t.elapsed());
    assert_same_runs(src, &source, dst, &by_source(dst, &copied));

    // Export from that server, import into another experiment there.
    let export = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&copied);
    tool_ok(&[
        "export-experiment",
        "--tracking-uri",
        &dst.url,
        "--experiment",
        &copied,
        "--output-dir",
        path(&export),
        "--export-deleted-runs",
    ]);
    let imported = unique_name(&format!("{tag}trip-import"));
    tool_ok(&[
        "import-experiment",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&export),
        "--experiment-name",
        &imported,
        "--use-src-user-id",
    ]);
    // The import names the run it read (the first copy) or the original as its source.
    let dst_ids: HashMap<String, String> = by_source(dst, &copied)
        .into_iter()
        .map(|(orig, run)| (run["info"]["run_id"].as_str().unwrap().to_string(), orig))
        .collect();
    let second: HashMap<String, Value> =
        by_source(dst, &imported).into_iter().map(|(s, run)| (dst_ids.get(&s).cloned().unwrap_or(s), run)).collect();
    assert_same_runs(src, &source, dst, &second);

    // Again: nothing is created twice.
    let stderr = tool_ok(&copy);
    assert!(stderr.contains("0 created, 0 resumed, 0 updated, 11 skipped"), "{stderr}");
    assert_eq!(by_source(dst, &copied).len(), 11);
}

#[test]
fn experiment_round_trip_through_postgres_servers_with_4_workers() {
    experiment_round_trip(Backend::Postgres);
}

#[test]
fn experiment_round_trip_through_mysql_servers_with_4_workers() {
    experiment_round_trip(Backend::Mysql);
}

/// Tags `t` and `T` are two keys on sqlite and one under MariaDB's default collation: the copy
/// fails at once naming both, instead of resending a write the server already retried for
/// about half a minute (seven times, then again in a retry pass: several minutes per run).
#[test]
fn tag_keys_differing_only_by_case_fail_a_mysql_copy_at_once_naming_them() {
    let (src, dst) = (sqlite_server(), mysql_server());
    let code = format!(
        "import mlflow\nc = mlflow.MlflowClient()\ne = c.create_experiment({:?})\n\
         r = c.create_run(e, tags={{'t': 'lower', 'T': 'upper'}})\nc.set_terminated(r.info.run_id)\nprint(r.info.run_id)",
        unique_name("case")
    );
    let run_id = src.python_eval(&code).lines().last().expect("run id").trim().to_string();
    let report = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.json", unique_name("case")));
    let name = unique_name("case-copy");
    let args = [
        "copy-run",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--run-id",
        &run_id,
        "--experiment-name",
        &name,
        "--report",
        path(&report),
    ];
    let stderr = cli::fails(&args, &[]);
    let named = |a: &str, b: &str| stderr.contains(&format!(r#"tags "{a}" and "{b}" differ only by case"#));
    assert!(named("t", "T") || named("T", "t"), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["retries"], 0, "a refused write was resent: {report}");
    assert_eq!(report["summary"]["runs_retried"], 0, "{report}");
}
