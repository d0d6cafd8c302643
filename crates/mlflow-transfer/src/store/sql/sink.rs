//! The opt-in database sink (`--dst-backend-store-uri`): runs written straight into a
//! destination tracking server's database, past the server's REST insert path (about 140 µs of
//! its CPU per metric point). A run's row, params, tags (identity and completion mark
//! included), metric points, latest metrics and dataset inputs commit together or not at all,
//! in a transaction shared with the runs finished at the same time ([`super::rows`]), so the
//! server (which may keep running) shows a run only once it is whole, and a re-run finds it
//! complete and skips it. Only a schema revision this tool knows is written
//! ([`KNOWN_REVISIONS`]); rows are written as MLflow's `SqlAlchemyStore` writes them.
//!
//! A run's files still go to its artifact store, before its transaction: an interrupted run
//! leaves files under a run id no row names, and its next attempt writes a new run.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;
use smallvec::SmallVec;

use super::{
    db::{int, opt_text, text, Bind, Db, Dialect},
    rows::{new_id, now_ms, RunRows, Writer},
};
use crate::{
    format::run_json::ArtifactEntry,
    identity::{self, SourceIdentity},
    model::{ArtifactFile, RunRecord},
    store::{
        artifact_root::{ArtifactRoot, ArtifactRoots},
        direct::uri_root,
        object::{ObjectLocation, ObjectStores},
        ByteStream, ExperimentSink, RunSink, Scorer, ScorerStore, Target,
    },
    Error, Result,
};

/// The schema revisions (`alembic_version`) this sink writes, each with the MLflow release
/// whose head it is. A database at another revision is refused: its tables may differ.
pub const KNOWN_REVISIONS: [(&str, &str); 1] = [("dc11669786a5", "3.17.2")];

/// A tracking server's database, written directly.
pub struct SqlSink {
    db: Arc<Db>,
    /// The server's default artifact root (`--default-artifact-root`, or `mlflow-artifacts:/`
    /// when it proxies artifacts): where an experiment created here keeps its files.
    artifact_root: Option<String>,
    stores: Arc<Stores>,
    writer: Arc<Writer>,
}

/// The artifact stores runs' files are written to from this machine.
struct Stores {
    /// The server's `--artifacts-destination`, for `mlflow-artifacts:` locations.
    artifacts_destination: Option<String>,
    objects: ObjectStores,
}

impl Stores {
    fn root(&self, what: &str, uri: &str) -> Result<ArtifactRoot> {
        let found = uri_root(&self.objects, self.artifacts_destination.as_deref(), Some(uri));
        found.map(|(root, _)| root).map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("{what}: {m}")),
            Error::Unsupported(m) => Error::Unsupported(format!("{what}: {m}")),
            e => e,
        })
    }
}

impl SqlSink {
    /// Opens the database `uri` for writing. Refused, with one line and nothing written: a
    /// schema revision this tool does not know, a database that takes no writes, a wrong
    /// password (never shown).
    pub async fn open(
        uri: &str,
        artifact_root: Option<String>,
        artifacts_destination: Option<String>,
        side: Option<&str>,
    ) -> Result<Self> {
        let db = Db::open_writable(uri).await?;
        check_revision(&db).await?;
        check_writable(&db).await?;
        let objects = ObjectStores::from_process_env(side);
        let db = Arc::new(db);
        let writer = Arc::new(Writer::new(db.clone()));
        Ok(Self { db, artifact_root, stores: Arc::new(Stores { artifacts_destination, objects }), writer })
    }

    pub fn uri(&self) -> &str {
        self.db.uri()
    }

    /// The experiment `name` in the default workspace: id, artifact location, lifecycle.
    async fn experiment(&self, name: &str) -> Result<Option<(i64, String, String)>> {
        let query = format!(
            "SELECT CAST(experiment_id AS BIGINT), artifact_location, lifecycle_stage FROM experiments \
             WHERE name = ?{}",
            self.db.in_default_workspace("")
        );
        let rows = self.db.rows(&query, &[Bind::Text(name)]).await?;
        rows.first().map(|r| Ok((int(r, 0)?, text(r, 1)?, text(r, 2)?))).transpose()
    }

    /// Creates experiment `name` as MLflow does: its artifact location is the server's default
    /// artifact root joined with its new id.
    async fn create_experiment(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let root = self.artifact_root.as_deref().ok_or_else(|| {
            Error::Input(format!(
                "experiment {name:?} does not exist in {}: give --dst-artifact-root, the server's default artifact \
                 root as it names it (`mlflow-artifacts:/` for a server with --serve-artifacts, else its \
                 --default-artifact-root), so that the experiment gets the location the server would give it",
                self.db.uri()
            ))
        })?;
        let now = now_ms();
        let (columns, values) = if self.db.has_workspaces() { (", workspace", ", 'default'") } else { ("", "") };
        let insert = format!(
            "INSERT INTO experiments (name, lifecycle_stage, creation_time, last_update_time{columns}) \
             VALUES (?, 'active', ?, ?{values})"
        );
        let binds = [Bind::Text(name), Bind::Int(now), Bind::Int(now)];
        let mut tx = self.db.begin().await?;
        let id = match self.db.dialect() {
            Dialect::Postgres | Dialect::Sqlite => {
                let rows = tx.rows(&format!("{insert} RETURNING CAST(experiment_id AS BIGINT)"), &binds).await?;
                rows.first().map(|r| int(r, 0)).transpose()?
            }
            Dialect::MySql => tx.execute(&insert, &binds).await?.last_insert_id(),
        };
        let id = id.ok_or_else(|| Error::Database {
            message: format!("{}: the new experiment's id was not returned", self.db.uri()),
            transient: false,
        })?;
        let location = append_path(root, &id.to_string());
        tx.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
            &[Bind::Text(&location), Bind::Int(id)],
        )
        .await?;
        for (k, v) in tags {
            tx.execute(
                "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?)",
                &[Bind::Text(k), Bind::Text(v), Bind::Int(id)],
            )
            .await?;
        }
        tx.commit().await
    }

    /// Gives experiment `id` the `tags` it lacks or holds with another value.
    async fn update_experiment_tags(&self, id: i64, tags: &BTreeMap<String, String>) -> Result<()> {
        let query = "SELECT \"key\", value FROM experiment_tags WHERE experiment_id = ?";
        let have: BTreeMap<String, String> = self
            .db
            .rows(query, &[Bind::Int(id)])
            .await?
            .iter()
            .map(|r| Ok((text(r, 0)?, text(r, 1)?)))
            .collect::<Result<_>>()?;
        let changed: Vec<_> = tags.iter().filter(|(k, v)| have.get(*k) != Some(v)).collect();
        if changed.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.begin().await?;
        for (k, v) in changed {
            let key = [Bind::Int(id), Bind::Text(k)];
            tx.execute("DELETE FROM experiment_tags WHERE experiment_id = ? AND \"key\" = ?", &key).await?;
            tx.execute(
                "INSERT INTO experiment_tags (\"key\", value, experiment_id) VALUES (?, ?, ?)",
                &[Bind::Text(k), Bind::Text(v), Bind::Int(id)],
            )
            .await?;
        }
        tx.commit().await
    }

    fn runs_into(&self, id: i64, location: String) -> SqlRunSink {
        SqlRunSink {
            db: self.db.clone(),
            experiment_id: id,
            location,
            stores: self.stores.clone(),
            writer: self.writer.clone(),
            copies: Default::default(),
            begun: Mutex::default(),
        }
    }
}

/// Refuses a database whose schema revision is not one of [`KNOWN_REVISIONS`].
async fn check_revision(db: &Db) -> Result<()> {
    let found = match db.rows("SELECT version_num FROM alembic_version", &[]).await {
        Ok(rows) => rows.first().map(|r| text(r, 0)).transpose()?,
        Err(_) => None,
    };
    let known = KNOWN_REVISIONS.iter().map(|(r, v)| format!("{r} (MLflow {v})")).collect::<Vec<_>>().join(", ");
    match found {
        Some(rev) if KNOWN_REVISIONS.iter().any(|(r, _)| *r == rev) => Ok(()),
        found => Err(Error::Unsupported(format!(
            "{}: schema revision {} is not one this tool writes (it knows {known}); nothing was written. Upgrade the \
             database with the MLflow version its server runs (`mlflow db upgrade <uri>`), or use the server's URI \
             instead of --dst-backend-store-uri",
            db.uri(),
            found.as_deref().unwrap_or("(none)")
        ))),
    }
}

/// Refuses a database that takes no writes (a read-only file or user): a no-op update, rolled
/// back.
async fn check_writable(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    if let Err(e) = tx.execute("UPDATE alembic_version SET version_num = version_num", &[]).await {
        return Err(Error::Unsupported(format!("{} cannot be written: {e}", db.uri())));
    }
    Ok(())
}

/// `uri` with `/path` appended to its path (before a query), as MLflow's `append_to_uri_path`:
/// `mlflow-artifacts:/` and `3` give `mlflow-artifacts:/3`.
fn append_path(uri: &str, path: &str) -> String {
    let (base, query) = uri.split_once('?').map_or((uri, None), |(b, q)| (b, Some(q)));
    let joined = format!("{}/{path}", base.trim_end_matches('/'));
    query.map_or(joined.clone(), |q| format!("{joined}?{q}"))
}

#[async_trait]
impl ExperimentSink for SqlSink {
    async fn open_experiment(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(String, Arc<dyn RunSink>)> {
        let mut found = self.experiment(name).await?;
        if found.is_none() {
            let created = self.create_experiment(name, tags).await;
            // A create that failed because another writer (the server) made the experiment
            // meanwhile finds it now.
            found = self.experiment(name).await?;
            if found.is_none() {
                created?;
            }
        }
        let (id, location, stage) =
            found.ok_or_else(|| Error::NotFound(format!("experiment {name:?} was created but cannot be found")))?;
        if stage == "deleted" {
            return Err(Error::Input(format!(
                "experiment {name:?} exists in {} but is deleted: restore it or choose another name",
                self.db.uri()
            )));
        }
        self.update_experiment_tags(id, tags).await?;
        let root = self.stores.root(&format!("experiment {name:?}"), &location)?;
        ArtifactRoots::check_writable(&root).await?;
        Ok((id.to_string(), Arc::new(self.runs_into(id, location))))
    }

    async fn find_experiment(&self, name: &str) -> Result<Option<(String, Arc<dyn RunSink>)>> {
        let found = self.experiment(name).await?;
        Ok(found.map(|(id, location, _)| {
            let sink: Arc<dyn RunSink> = Arc::new(self.runs_into(id, location));
            (id.to_string(), sink)
        }))
    }
}

/// Scorers are not written to a database: an experiment that has some fails for them.
#[async_trait]
impl ScorerStore for SqlSink {
    async fn scorers(&self, _experiment_id: &str) -> Result<BTreeMap<String, Vec<Scorer>>> {
        Ok(BTreeMap::new())
    }

    async fn add_scorer_versions(&self, _experiment_id: &str, name: &str, _versions: &[Scorer]) -> Result<()> {
        Err(Error::Unsupported(format!(
            "scorer {name:?}: a database destination (--dst-backend-store-uri) takes runs only; copy scorers \
             through the tracking server"
        )))
    }
}

/// One of our earlier copies in the experiment. Kept small: a re-run over an experiment of
/// 100,000 copies holds one per run.
#[derive(Debug, Clone)]
struct Copy {
    run_uuid: String,
    deleted: bool,
    /// Its artifact location when not the one MLflow gives a run of this experiment
    /// ([`run_artifact_uri`]), which nearly every copy has.
    artifact_uri: Option<String>,
    /// Of our tags on it, the ones a copy is classified by (the source run id is its key in
    /// [`Copies`]); all its identity tags took 1.5 KB a copy. The tracking URI is the same on
    /// nearly every copy, so it is held once ([`Copies::servers`]).
    tracking_uri: Option<Arc<str>>,
    complete: bool,
    state: Option<String>,
}

/// Our copies in one experiment by source run id. A source run has one copy, rarely more
/// (copied from two servers, or an interrupted copy left beside a later one): the first is
/// held inline.
#[derive(Default)]
struct Copies {
    by_source: HashMap<String, SmallVec<[Copy; 1]>>,
    /// Every source tracking URI the copies name, each held once.
    servers: HashSet<Arc<str>>,
}

impl Copies {
    /// Adds a copy of source run `source`; replacing its copies when `only`.
    fn add(&mut self, source: String, mut copy: Copy, tracking_uri: Option<String>, only: bool) {
        copy.tracking_uri = tracking_uri.map(|uri| match self.servers.get(uri.as_str()) {
            Some(held) => held.clone(),
            None => {
                let held: Arc<str> = uri.into();
                self.servers.insert(held.clone());
                held
            }
        });
        let copies = self.by_source.entry(source).or_default();
        if only {
            copies.clear();
        }
        copies.push(copy);
    }
}

/// A run begun by this sink, until its transaction commits.
struct Begun {
    root: ArtifactRoot,
    artifact_uri: String,
    /// Whether a row of it exists already (an incomplete or outdated copy, rewritten in place).
    exists: bool,
    source: SourceIdentity,
}

/// Writes runs into one experiment of the database.
pub struct SqlRunSink {
    db: Arc<Db>,
    experiment_id: i64,
    location: String,
    stores: Arc<Stores>,
    writer: Arc<Writer>,
    /// Our copies in the experiment, read with one query when the first run begins; runs this
    /// sink commits are added.
    copies: tokio::sync::OnceCell<Mutex<Copies>>,
    begun: Mutex<HashMap<String, Begun>>,
}

impl SqlRunSink {
    async fn copies(&self) -> Result<&Mutex<Copies>> {
        self.copies
            .get_or_try_init(|| async {
                // One row per copy, its four tags side by side, streamed: a re-run over an
                // experiment of 100,000 copies holds no more than the copies themselves.
                // Columns 3 to 6, in this order.
                let keys = [
                    identity::SOURCE_RUN_ID,
                    identity::SOURCE_TRACKING_URI,
                    identity::SOURCE_STATE,
                    identity::COMPLETE,
                ];
                let columns: Vec<String> =
                    keys.iter().map(|k| format!("MAX(CASE WHEN t.\"key\" = '{k}' THEN t.value END)")).collect();
                let listed: Vec<String> = keys.iter().map(|k| format!("'{k}'")).collect();
                let query = format!(
                    "SELECT r.run_uuid, r.lifecycle_stage, r.artifact_uri, {} FROM runs r \
                     JOIN tags t ON t.run_uuid = r.run_uuid WHERE r.experiment_id = ? \
                     AND t.\"key\" IN ({}) GROUP BY r.run_uuid, r.lifecycle_stage, r.artifact_uri",
                    columns.join(", "),
                    listed.join(", "),
                );
                let mut copies = Copies::default();
                self.db
                    .each_row(&query, &[Bind::Int(self.experiment_id)], |r| {
                        let Some(source) = opt_text(r, 3)? else { return Ok(()) };
                        let run_uuid = text(r, 0)?;
                        let artifact_uri = opt_text(r, 2)?.and_then(|uri| self.unusual_location(&run_uuid, uri));
                        let copy = Copy {
                            run_uuid,
                            deleted: text(r, 1)? == "deleted",
                            artifact_uri,
                            tracking_uri: None,
                            state: opt_text(r, 5)?,
                            complete: opt_text(r, 6)?.as_deref() == Some("true"),
                        };
                        copies.add(source, copy, opt_text(r, 4)?, false);
                        Ok(())
                    })
                    .await?;
                Ok::<_, Error>(Mutex::new(copies))
            })
            .await
    }

    /// What is here for `run`: its complete copy, unchanged since (`Complete`) or changed
    /// (`Resumed`: rewritten in place), an incomplete copy (`Resumed`), or nothing.
    async fn classify(&self, run: &RunRecord, source: &SourceIdentity) -> Result<Option<(Target, Copy)>> {
        let copies = self.copies().await?.lock().expect("poisoned");
        let found: Vec<&Copy> = copies
            .by_source
            .get(&source.run_id)
            .into_iter()
            .flatten()
            .filter(|c| source.same_server_as(c.tracking_uri.as_deref()))
            .collect();
        if let Some(done) = found.iter().find(|c| c.complete) {
            let state = run.tags.get(identity::SOURCE_STATE);
            let changed = state.is_some() && !done.deleted && !run.meta.is_deleted() && state != done.state.as_ref();
            let target =
                if changed { Target::Resumed(done.run_uuid.clone()) } else { Target::Complete(done.run_uuid.clone()) };
            return Ok(Some((target, (*done).clone())));
        }
        Ok(found.iter().find(|c| !c.deleted).map(|c| (Target::Resumed(c.run_uuid.clone()), (*c).clone())))
    }

    /// A copy's artifact location, kept in [`Copy`] only when it is not the one MLflow gives
    /// run `run_uuid` of this experiment.
    fn unusual_location(&self, run_uuid: &str, uri: String) -> Option<String> {
        (uri != run_artifact_uri(&self.location, run_uuid)).then_some(uri)
    }

    fn root(&self, target: &Target) -> Result<ArtifactRoot> {
        let begun = self.begun.lock().expect("poisoned");
        let b = begun.get(target.id()).ok_or_else(|| Error::Input(format!("run {} was not started", target.id())))?;
        Ok(b.root.clone())
    }

    fn begin(&self, id: &str, artifact_uri: String, exists: bool, source: &SourceIdentity) -> Result<()> {
        let root = self.stores.root(&format!("destination run {id}"), &artifact_uri)?;
        let begun = Begun { root, artifact_uri, exists, source: source.clone() };
        self.begun.lock().expect("poisoned").insert(id.to_string(), begun);
        Ok(())
    }
}

#[async_trait]
impl RunSink for SqlRunSink {
    async fn begin_run(&self, run: &RunRecord, source: &SourceIdentity) -> Result<Target> {
        match self.classify(run, source).await? {
            Some((Target::Complete(id), copy)) => {
                if run.meta.is_deleted() && !copy.deleted {
                    let binds = [Bind::Int(now_ms()), Bind::Text(&id)];
                    let mut tx = self.db.begin().await?;
                    tx.execute(
                        "UPDATE runs SET lifecycle_stage = 'deleted', deleted_time = ? WHERE run_uuid = ?",
                        &binds,
                    )
                    .await?;
                    tx.commit().await?;
                }
                Ok(Target::Complete(id))
            }
            Some((target, copy)) => {
                let uri = copy.artifact_uri.unwrap_or_else(|| run_artifact_uri(&self.location, target.id()));
                self.begin(target.id(), uri, true, source)?;
                Ok(target)
            }
            None => {
                let id = new_id();
                self.begin(&id, run_artifact_uri(&self.location, &id), false, source)?;
                Ok(Target::Created(id))
            }
        }
    }

    async fn probe_run(&self, run: &RunRecord, source: &SourceIdentity) -> Result<Option<Target>> {
        Ok(self.classify(run, source).await?.map(|(t, _)| t))
    }

    async fn write_artifact(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        self.root(target)?.write_stored(&file.path, data).await
    }

    async fn copy_artifact(&self, target: &Target, file: &ArtifactFile, from: &ObjectLocation) -> Result<bool> {
        ArtifactRoots::copy(&self.root(target)?, from, &file.path, file.size).await
    }

    /// The whole run in one transaction, the completion mark with it.
    async fn finish_run(&self, target: &Target, run: &RunRecord, _artifacts: &[ArtifactEntry]) -> Result<()> {
        let (exists, artifact_uri, source) = {
            let begun = self.begun.lock().expect("poisoned");
            let b =
                begun.get(target.id()).ok_or_else(|| Error::Input(format!("run {} was not started", target.id())))?;
            (b.exists, b.artifact_uri.clone(), b.source.clone())
        };
        let mut tags = run.tags.clone();
        tags.extend(source.tags());
        if let Some(name) = &run.meta.run_name {
            tags.insert("mlflow.runName".into(), name.clone());
        }
        tags.insert(identity::COMPLETE.into(), "true".into());
        let state = tags.get(identity::SOURCE_STATE).cloned();
        let tracking_uri = tags.get(identity::SOURCE_TRACKING_URI).cloned();
        let id = target.id();
        let rows = RunRows::new(self.experiment_id, id, artifact_uri.clone(), exists, run, tags);
        self.writer.write(rows).await?;
        self.begun.lock().expect("poisoned").remove(id);
        let copy = Copy {
            run_uuid: id.to_string(),
            deleted: run.meta.is_deleted(),
            artifact_uri: self.unusual_location(id, artifact_uri),
            tracking_uri: None,
            complete: true,
            state,
        };
        if let Some(copies) = self.copies.get() {
            copies.lock().expect("poisoned").add(source.run_id.clone(), copy, tracking_uri, true);
        }
        Ok(())
    }
}

/// `<experiment location>/<run id>/artifacts`, as MLflow's `create_run` sets it.
fn run_artifact_uri(location: &str, run_id: &str) -> String {
    append_path(location, &format!("{run_id}/artifacts"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(run_uuid: &str) -> Copy {
        Copy {
            run_uuid: run_uuid.into(),
            deleted: false,
            artifact_uri: None,
            tracking_uri: None,
            complete: true,
            state: None,
        }
    }

    #[test]
    fn copies_hold_each_tracking_uri_once_and_a_commit_replaces_what_was_there() {
        let mut copies = Copies::default();
        let uri = || Some("http://src:5000".to_string());
        copies.add("a".into(), copy("1"), uri(), false);
        copies.add("a".into(), copy("2"), Some("http://other".into()), false);
        copies.add("b".into(), copy("3"), uri(), false);
        copies.add("c".into(), copy("4"), None, false);
        let held = |source: &str, i: usize| copies.by_source[source][i].tracking_uri.clone();
        assert!(Arc::ptr_eq(&held("a", 0).unwrap(), &held("b", 0).unwrap()));
        assert_eq!(held("a", 1).as_deref(), Some("http://other"));
        assert_eq!(held("c", 0), None);
        assert_eq!(copies.servers.len(), 2);
        copies.add("a".into(), copy("5"), uri(), true);
        let ids: Vec<&str> = copies.by_source["a"].iter().map(|c| c.run_uuid.as_str()).collect();
        assert_eq!(ids, ["5"]);
    }

    #[test]
    fn locations_are_joined_as_mlflow_joins_them() {
        assert_eq!(append_path("mlflow-artifacts:/", "3"), "mlflow-artifacts:/3");
        assert_eq!(append_path("s3://b/root", "3"), "s3://b/root/3");
        assert_eq!(append_path("file:///x/?q=1", "3"), "file:///x/3?q=1");
        assert_eq!(run_artifact_uri("mlflow-artifacts:/3", "ab"), "mlflow-artifacts:/3/ab/artifacts");
    }
}
