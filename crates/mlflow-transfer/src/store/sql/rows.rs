//! The rows of finished runs and their writing, several runs a transaction.
//!
//! Written one transaction a run, a run of a few params and tags cost seven statements and a
//! commit; in SQLite's rollback-journal mode (the one MLflow's databases use) a commit is a
//! journal file made, synced and deleted, and each statement a round trip to sqlx's worker
//! thread. Runs finished at the same time now share those: the first to get a turn at the
//! database writes every run waiting, each table's rows of all of them in multi-row inserts, and
//! commits once. Each run still commits whole or not at all; a transaction that fails is
//! tried again one run at a time, so that one bad run fails alone.

use std::{
    collections::{BTreeMap, HashSet},
    sync::{Arc, Mutex},
};

use mlflow_client::types::DatasetInput;
use tokio::sync::{oneshot, Semaphore};

use super::db::{text, Bind, Db, Dialect, Tx};
use crate::{
    model::{MetricPoint, RunRecord},
    Error, Result,
};

/// Rows per multi-row `INSERT`: far below every dialect's limit of bound values (PostgreSQL's
/// and MySQL's 65,535, SQLite's 32,766, with 10 columns a run row).
const CHUNK: usize = 1000;

/// MLflow's stored value of an infinite metric (`SqlAlchemyStore` keeps ±inf as ±max float).
const STORED_INF: f64 = f64::MAX;

/// A finished run's rows, as MLflow's `SqlAlchemyStore` writes them, owned so that another
/// task can write them.
pub(super) struct RunRows {
    experiment_id: i64,
    id: String,
    artifact_uri: String,
    /// Whether a row of it exists (an incomplete or outdated copy, rewritten in place).
    exists: bool,
    name: String,
    user_id: Option<String>,
    status: String,
    start_time: Option<i64>,
    end_time: Option<i64>,
    deleted_time: Option<i64>,
    lifecycle: &'static str,
    params: Vec<(String, String)>,
    tags: Vec<(String, String)>,
    /// The metric keys, which [`Point::key`] indexes.
    keys: Vec<String>,
    points: Vec<Point>,
    latest: Vec<Point>,
    inputs: Vec<DatasetInput>,
}

/// A metric point as stored: value with NaN as 0 and ±inf as ±max float.
#[derive(Clone, Copy)]
struct Point {
    key: usize,
    value: f64,
    timestamp: i64,
    step: i64,
    is_nan: bool,
}

impl RunRows {
    /// The rows of `run` as run `id` of experiment `experiment_id`, with `tags` (the run's own
    /// and ours).
    pub(super) fn new(
        experiment_id: i64,
        id: &str,
        artifact_uri: String,
        exists: bool,
        run: &RunRecord,
        tags: BTreeMap<String, String>,
    ) -> Self {
        let m = &run.meta;
        let status = serde_json::to_value(m.status).ok().and_then(|v| v.as_str().map(String::from)).unwrap_or_default();
        let (keys, points, latest) = metric_rows(&run.metrics);
        Self {
            experiment_id,
            id: id.to_string(),
            artifact_uri,
            exists,
            name: m.run_name.clone().unwrap_or_default(),
            user_id: m.user_id.clone(),
            status,
            start_time: m.start_time,
            end_time: m.end_time,
            deleted_time: m.is_deleted().then(now_ms),
            lifecycle: if m.is_deleted() { "deleted" } else { "active" },
            params: run.params.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            tags: tags.into_iter().collect(),
            keys,
            points,
            latest,
            inputs: run.dataset_inputs.clone(),
        }
    }

    /// The run's name, user, status, start, end and deletion times and lifecycle stage, in the
    /// order of `runs`' columns.
    fn info(&self) -> [Bind<'_>; 7] {
        [
            Bind::Text(&self.name),
            Bind::OptText(self.user_id.as_deref()),
            Bind::Text(&self.status),
            Bind::OptInt(self.start_time),
            Bind::OptInt(self.end_time),
            Bind::OptInt(self.deleted_time),
            Bind::Text(self.lifecycle),
        ]
    }
}

pub(super) fn now_ms() -> i64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(0)
}

/// A metric value as MLflow stores it: (value, is_nan); NaN as 0, ±inf as ±max float.
fn stored(value: f64) -> (f64, bool) {
    if value.is_nan() {
        (0.0, true)
    } else if value.is_infinite() {
        (STORED_INF.copysign(value), false)
    } else {
        (value, false)
    }
}

/// Every point (a point logged twice is stored once, as MLflow's primary key keeps it) and
/// each key's latest point, chosen as MLflow chooses it: highest (step, timestamp, stored
/// value).
fn metric_rows(metrics: &BTreeMap<String, Vec<MetricPoint>>) -> (Vec<String>, Vec<Point>, Vec<Point>) {
    let mut keys = Vec::with_capacity(metrics.len());
    let mut points = Vec::with_capacity(metrics.values().map(Vec::len).sum());
    let mut latest = Vec::with_capacity(metrics.len());
    for (key, history) in metrics {
        let k = keys.len();
        keys.push(key.clone());
        let mut seen = HashSet::new();
        let mut best: Option<Point> = None;
        for p in history {
            let (value, is_nan) = stored(p.value);
            if !seen.insert((p.timestamp, p.step, value.to_bits(), is_nan)) {
                continue;
            }
            let this = Point { key: k, value, timestamp: p.timestamp, step: p.step, is_nan };
            points.push(this);
            let later = |b: &Point| {
                (this.step, this.timestamp) > (b.step, b.timestamp)
                    || ((this.step, this.timestamp) == (b.step, b.timestamp) && this.value > b.value)
            };
            if best.as_ref().is_none_or(later) {
                best = Some(this);
            }
        }
        latest.extend(best);
    }
    (keys, points, latest)
}

/// Writes runs' rows into one database, several runs a transaction (see the module's doc).
pub(super) struct Writer {
    db: Arc<Db>,
    waiting: Mutex<Vec<Waiting>>,
    /// One held by each task writing: runs finished meanwhile wait for the next transaction.
    turns: Semaphore,
}

/// Transactions written at once into a PostgreSQL or MySQL database, each on a connection of
/// its own (the pool has [`super::db::CONNECTIONS`]): the server works on one while another
/// commits, and runs still share transactions when more finish together. SQLite takes one
/// writer at a time.
const SERVER_TURNS: usize = 4;

struct Waiting {
    rows: RunRows,
    done: oneshot::Sender<Result<()>>,
}

impl Writer {
    pub(super) fn new(db: Arc<Db>) -> Self {
        let turns = if db.dialect() == Dialect::Sqlite { 1 } else { SERVER_TURNS };
        Self { db, waiting: Mutex::default(), turns: Semaphore::new(turns) }
    }

    /// Writes `rows` and returns once they are committed (or failed), with the runs that
    /// waited with them.
    pub(super) async fn write(&self, rows: RunRows) -> Result<()> {
        let (done, mut result) = oneshot::channel();
        self.waiting.lock().expect("poisoned").push(Waiting { rows, done });
        // Written by a task that has a turn, or by this one when it gets a turn first: a run
        // written by another leaves the queue for a turn at once (waiting in it for its place,
        // each task would write only what came in since the one before it).
        tokio::select! {
            biased;
            written = &mut result => return written.unwrap_or_else(|_| Err(self.abandoned())),
            turn = self.turns.acquire() => {
                let batch = std::mem::take(&mut *self.waiting.lock().expect("poisoned"));
                if !batch.is_empty() {
                    self.write_batch(batch).await;
                }
                drop(turn);
            }
        }
        result.await.unwrap_or_else(|_| Err(self.abandoned()))
    }

    fn abandoned(&self) -> Error {
        Error::Database {
            message: format!("{}: the transaction writing this run was abandoned", self.db.uri()),
            transient: true,
        }
    }

    async fn write_batch(&self, mut batch: Vec<Waiting>) {
        let runs: Vec<&RunRows> = batch.iter().map(|w| &w.rows).collect();
        match write_runs(&self.db, &runs).await {
            Ok(()) => batch.into_iter().for_each(|w| drop(w.done.send(Ok(())))),
            Err(e) if batch.len() == 1 => {
                if let Some(w) = batch.pop() {
                    drop(w.done.send(Err(e)));
                }
            }
            Err(_) => {
                for w in batch {
                    let alone = write_runs(&self.db, &[&w.rows]).await;
                    drop(w.done.send(alone));
                }
            }
        }
    }
}

/// `runs` in one transaction.
async fn write_runs(db: &Db, runs: &[&RunRows]) -> Result<()> {
    let mut tx = db.begin().await?;
    for run in runs.iter().filter(|r| r.exists) {
        rewrite_run_row(&mut tx, run).await?;
    }
    let mut rows = Insert::new(
        "runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, \
         deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id)",
        "(?, ?, 'UNKNOWN', '', '', ?, ?, ?, ?, ?, '', ?, ?, ?)",
    );
    for r in runs.iter().filter(|r| !r.exists) {
        let [name, user, status, start, end, deleted, lifecycle] = r.info();
        let id = Bind::Text(&r.id);
        let row = [
            id,
            name,
            user,
            status,
            start,
            end,
            deleted,
            lifecycle,
            Bind::Text(&r.artifact_uri),
            Bind::Int(r.experiment_id),
        ];
        rows.push(&mut tx, row).await?;
    }
    rows.flush(&mut tx).await?;
    for (table, params) in [("params", true), ("tags", false)] {
        let mut rows = Insert::new(&format!("{table} (\"key\", value, run_uuid)"), "(?, ?, ?)");
        for r in runs {
            for (k, v) in if params { &r.params } else { &r.tags } {
                rows.push(&mut tx, [Bind::Text(k), Bind::Text(v), Bind::Text(&r.id)]).await?;
            }
        }
        rows.flush(&mut tx).await?;
    }
    for (table, all) in [("metrics", true), ("latest_metrics", false)] {
        let columns = "(\"key\", value, \"timestamp\", run_uuid, step, is_nan)";
        let mut rows = Insert::new(&format!("{table} {columns}"), "(?, ?, ?, ?, ?, ?)");
        for r in runs {
            for p in if all { &r.points } else { &r.latest } {
                let row = [
                    Bind::Text(&r.keys[p.key]),
                    Bind::Float(p.value),
                    Bind::Int(p.timestamp),
                    Bind::Text(&r.id),
                    Bind::Int(p.step),
                    Bind::Bool(p.is_nan),
                ];
                rows.push(&mut tx, row).await?;
            }
        }
        rows.flush(&mut tx).await?;
    }
    for run in runs {
        write_inputs(&mut tx, run).await?;
    }
    tx.commit().await
}

/// An existing run's row (an incomplete or outdated copy) given the run's values, emptied of
/// its params, tags, metrics and inputs, as MLflow's `update_run_info` leaves it.
async fn rewrite_run_row(tx: &mut Tx<'_>, r: &RunRows) -> Result<()> {
    let of = [Bind::Text(&r.id)];
    for table in ["latest_metrics", "metrics", "params", "tags"] {
        tx.execute(&format!("DELETE FROM {table} WHERE run_uuid = ?"), &of).await?;
    }
    tx.execute(
        "DELETE FROM input_tags WHERE input_uuid IN (SELECT input_uuid FROM inputs WHERE source_type = 'DATASET' \
         AND destination_type = 'RUN' AND destination_id = ?)",
        &of,
    )
    .await?;
    tx.execute(
        "DELETE FROM inputs WHERE source_type = 'DATASET' AND destination_type = 'RUN' AND destination_id = ?",
        &of,
    )
    .await?;
    let [name, user, status, start, end, deleted, lifecycle] = r.info();
    tx.execute(
        "UPDATE runs SET name = ?, user_id = ?, status = ?, start_time = ?, end_time = ?, deleted_time = ?, \
         lifecycle_stage = ? WHERE run_uuid = ?",
        &[name, user, status, start, end, deleted, lifecycle, Bind::Text(&r.id)],
    )
    .await
    .map(drop)
}

/// Rows into one table, sent in multi-row inserts of [`CHUNK`] rows.
struct Insert<'a, const N: usize> {
    /// `table (columns)`.
    table: String,
    /// One row's values, its `?` bound in order.
    row: &'static str,
    binds: Vec<Bind<'a>>,
}

impl<'a, const N: usize> Insert<'a, N> {
    fn new(table: &str, row: &'static str) -> Self {
        Self { table: table.to_string(), row, binds: Vec::new() }
    }

    async fn push(&mut self, tx: &mut Tx<'_>, row: [Bind<'a>; N]) -> Result<()> {
        self.binds.extend(row);
        if self.binds.len() >= CHUNK * N {
            self.flush(tx).await?;
        }
        Ok(())
    }

    /// Sends the rows pushed since the last insert.
    async fn flush(&mut self, tx: &mut Tx<'_>) -> Result<()> {
        if self.binds.is_empty() {
            return Ok(());
        }
        let query = format!("INSERT INTO {} VALUES {}", self.table, vec![self.row; self.binds.len() / N].join(", "));
        tx.execute(&query, &self.binds).await?;
        self.binds.clear();
        Ok(())
    }
}

/// The run's dataset inputs, as MLflow's `log_inputs`: a dataset already in the experiment
/// (same name and digest) is reused, each input gets its tags.
async fn write_inputs(tx: &mut Tx<'_>, run: &RunRows) -> Result<()> {
    let mut done = HashSet::new();
    for input in &run.inputs {
        let d = &input.dataset;
        if !done.insert((d.name.as_str(), d.digest.as_str())) {
            continue;
        }
        let found = tx
            .rows(
                "SELECT dataset_uuid FROM datasets WHERE experiment_id = ? AND name = ? AND digest = ?",
                &[Bind::Int(run.experiment_id), Bind::Text(&d.name), Bind::Text(&d.digest)],
            )
            .await?;
        let dataset_uuid = match found.first() {
            Some(r) => text(r, 0)?,
            None => {
                let uuid = new_id();
                tx.execute(
                    "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, \
                     dataset_source, dataset_schema, dataset_profile) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    &[
                        Bind::Text(&uuid),
                        Bind::Int(run.experiment_id),
                        Bind::Text(&d.name),
                        Bind::Text(&d.digest),
                        Bind::Text(&d.source_type),
                        Bind::Text(&d.source),
                        Bind::OptText(d.schema.as_deref()),
                        Bind::OptText(d.profile.as_deref()),
                    ],
                )
                .await?;
                uuid
            }
        };
        let input_uuid = new_id();
        tx.execute(
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) \
             VALUES (?, 'DATASET', ?, 'RUN', ?)",
            &[Bind::Text(&input_uuid), Bind::Text(&dataset_uuid), Bind::Text(&run.id)],
        )
        .await?;
        let mut rows = Insert::new("input_tags (input_uuid, name, value)", "(?, ?, ?)");
        for t in &input.tags {
            rows.push(tx, [Bind::Text(&input_uuid), Bind::Text(&t.key), Bind::Text(&t.value)]).await?;
        }
        rows.flush(tx).await?;
    }
    Ok(())
}

/// A new id: a version 7 UUID in 32 hex digits. It reads as MLflow's ids do (random version 4
/// UUIDs, `uuid4().hex`), but it grows with time: the rows of runs written one after another
/// go to the end of each index on `run_uuid`, pages already in SQLite's cache, where random ids
/// take one page of each index a run from anywhere in it (in a database of 100,000 runs, mostly
/// pages not in the cache, read and written again at every commit).
pub(super) fn new_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::{super::db::int, *};

    #[test]
    fn ids_look_like_mlflows_and_grow() {
        let ids: Vec<String> = (0..1000).map(|_| new_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 32);
            assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
            assert_eq!(&id[12..13], "7");
            assert!("89ab".contains(&id[16..17]), "{id}");
        }
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn values_are_stored_as_mlflow_stores_them() {
        assert_eq!(stored(f64::NAN), (0.0, true));
        assert_eq!(stored(f64::INFINITY), (f64::MAX, false));
        assert_eq!(stored(f64::NEG_INFINITY), (-f64::MAX, false));
        assert_eq!(stored(1.5), (1.5, false));
    }

    #[test]
    fn a_point_logged_twice_is_one_row_and_the_latest_is_chosen_as_mlflow_chooses() {
        let p = |value, timestamp, step| MetricPoint { value, timestamp, step };
        let metrics = BTreeMap::from([
            ("a".to_string(), vec![p(1.0, 10, 2), p(1.0, 10, 2), p(5.0, 99, 1), p(2.0, 10, 2)]),
            ("b".to_string(), vec![p(f64::NAN, 1, 0)]),
        ]);
        let (keys, points, latest) = metric_rows(&metrics);
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(points.len(), 4);
        let latest: Vec<_> = latest.iter().map(|p| (p.key, p.value, p.timestamp, p.step, p.is_nan)).collect();
        assert_eq!(latest, [(0, 2.0, 10, 2, false), (1, 0.0, 1, 0, true)]);
    }

    /// The tables the writer fills, with a limit on tag values a database may have (PostgreSQL's
    /// `VARCHAR(8000)`, here 100 characters) to make one run fail.
    const SCHEMA: &str = "
        CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE runs (run_uuid TEXT PRIMARY KEY, name TEXT, source_type TEXT, source_name TEXT,
            entry_point_name TEXT, user_id TEXT, status TEXT, start_time INTEGER, end_time INTEGER,
            deleted_time INTEGER, source_version TEXT, lifecycle_stage TEXT, artifact_uri TEXT,
            experiment_id INTEGER);
        CREATE TABLE params (key TEXT, value TEXT, run_uuid TEXT, PRIMARY KEY (key, run_uuid));
        CREATE TABLE tags (key TEXT, value TEXT CHECK (length(value) <= 100), run_uuid TEXT,
            PRIMARY KEY (key, run_uuid));
        CREATE TABLE metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT, step INTEGER,
            is_nan INTEGER);
        CREATE TABLE latest_metrics (key TEXT, value REAL, timestamp INTEGER, run_uuid TEXT,
            step INTEGER, is_nan INTEGER, PRIMARY KEY (key, run_uuid));
        CREATE TABLE inputs (input_uuid TEXT, source_type TEXT, source_id TEXT, destination_type TEXT,
            destination_id TEXT);
        CREATE TABLE input_tags (input_uuid TEXT, name TEXT, value TEXT);";

    fn rows(id: &str, tag: &str) -> RunRows {
        let mut run = RunRecord::default();
        run.meta.run_name = Some(format!("{id}-{tag}"));
        run.params.insert("p".into(), id.into());
        run.tags.insert("t".into(), tag.into());
        run.metrics.insert("m".into(), vec![MetricPoint { value: 1.0, timestamp: 2, step: 3 }]);
        RunRows::new(1, id, format!("root/{id}/artifacts"), false, &run, run.tags.clone())
    }

    /// Writes `runs` together: they wait for the writer's turn, held until all of them queue.
    async fn write_together(writer: &Arc<Writer>, runs: Vec<RunRows>) -> Vec<Result<()>> {
        let turn = writer.turns.acquire().await.unwrap();
        let n = runs.len();
        let tasks: Vec<_> = runs
            .into_iter()
            .map(|r| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(r).await })
            })
            .collect();
        while writer.waiting.lock().unwrap().len() < n {
            tokio::task::yield_now().await;
        }
        drop(turn);
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        results
    }

    #[tokio::test]
    async fn runs_finished_together_commit_together_and_a_run_the_database_refuses_fails_alone() {
        use sqlx::{Connection, Executor};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mlflow.db");
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}?mode=rwc", file.display())).await.unwrap();
        conn.execute(SCHEMA).await.unwrap();
        conn.close().await.unwrap();
        let db = Arc::new(Db::open_writable(&format!("sqlite:///{}", file.display())).await.unwrap());
        let writer = Arc::new(Writer::new(db.clone()));

        let results = write_together(&writer, vec![rows("a", "1"), rows("b", "2"), rows("c", "3")]).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
        let long = "x".repeat(101);
        let results = write_together(&writer, vec![rows("d", "4"), rows("e", &long), rows("f", "6")]).await;
        let failed: Vec<bool> = results.iter().map(Result::is_err).collect();
        assert_eq!(failed, [false, true, false]);

        // Every run but the refused one is whole; of that one, nothing was written.
        for table in ["runs", "params", "tags", "metrics", "latest_metrics"] {
            let query = format!("SELECT run_uuid, COUNT(*) FROM {table} GROUP BY run_uuid ORDER BY run_uuid");
            let rows = db.rows(&query, &[]).await.unwrap();
            let counts: Vec<String> =
                rows.iter().map(|r| format!("{}:{}", text(r, 0).unwrap(), int(r, 1).unwrap())).collect();
            assert_eq!(counts, ["a:1", "b:1", "c:1", "d:1", "f:1"], "{table}");
        }

        // A run written again in place (an outdated copy): its row takes the new values, its
        // old tags are gone.
        let again = RunRows { exists: true, ..rows("d", "new") };
        assert!(write_together(&writer, vec![again]).await[0].is_ok());
        let query = "SELECT r.name, t.value FROM runs r JOIN tags t ON t.run_uuid = r.run_uuid WHERE r.run_uuid = 'd'";
        let got: Vec<(String, String)> =
            db.rows(query, &[]).await.unwrap().iter().map(|r| (text(r, 0).unwrap(), text(r, 1).unwrap())).collect();
        assert_eq!(got, [("d-new".to_string(), "new".to_string())]);
    }
}
