//! MLflow's backend database read directly, as a [`TrackingSource`]: the same runs,
//! histories, dataset inputs, registered models, versions, aliases and prompts a tracking server
//! gives over REST, without loading the server (a search of 100,000 runs is one query here,
//! minutes of a server's CPU there). The database is opened read-only.
//!
//! Artifacts are read from each run's `artifact_uri` by this machine: a folder, or a cloud
//! object store with this machine's credentials. Runs whose artifacts the server proxies
//! (`mlflow-artifacts:/…`) need the server's `--artifacts-destination`.
//!
//! MLflow 3's traces, evaluation datasets, scorers and webhooks are not read
//! from the database yet: a job that meets any fails for it, naming the command that copies it
//! from the server, rather than leaving it out unsaid.

mod db;

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
pub use db::is_database_uri;
use db::{float, int, opt_int, opt_text, text, Bind, Db};
use mlflow_client::types::{Dataset, DatasetInput, KeyValue, LoggedModelMetric, ModelInput, ModelOutput, RunStatus};

use crate::{
    model::{
        prompt_tags, version_number, ArtifactFile, EvaluationDatasetRecord, ExperimentRecord, LoggedModelRecord,
        MetricPoint, ModelVersionRecord, Origin, RegisteredModelRecord, RunMeta, RunRecord, LOGGED_MODEL_PENDING,
        LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED,
    },
    select::{ExperimentSpec, RunFilter, VersionFilter},
    store::{
        artifact_root::{join, proxied_path, ArtifactRoot},
        datasets::{EvaluationDatasetSource, RecordReader},
        local,
        object::{ObjectStores, Resolved},
        traces::{ListedTrace, TraceRecord, TraceSource},
        tracking::TrackingSource,
        ByteStream, LoggedModelSource, RunSource, Scorer, ScorerStore, Webhook, WebhookStore,
    },
    Error, Result,
};

/// Reads a tracking store from its database.
pub struct SqlSource {
    db: Arc<Db>,
    /// The server's `--artifacts-destination` (a folder or an object-store URI), for runs whose
    /// artifacts it proxies.
    artifacts_destination: Option<String>,
    objects: ObjectStores,
}

impl SqlSource {
    /// Opens the database `uri` (`sqlite:///…`, `postgresql://…`, `mysql://…`) read-only.
    pub async fn open(uri: &str, artifacts_destination: Option<String>, side: Option<&str>) -> Result<Self> {
        Ok(Self {
            db: Arc::new(Db::open(uri).await?),
            artifacts_destination,
            objects: ObjectStores::from_process_env(side),
        })
    }

    async fn experiments(&self, clause: &str, binds: &[Bind<'_>]) -> Result<Vec<ExperimentRecord>> {
        let query = format!(
            "SELECT CAST(experiment_id AS BIGINT), name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time FROM experiments WHERE {clause}{} ORDER BY experiment_id",
            self.db.in_default_workspace("")
        );
        let mut out = Vec::new();
        for r in self.db.rows(&query, binds).await? {
            let id = int(&r, 0)?;
            out.push(ExperimentRecord {
                experiment_id: id.to_string(),
                name: text(&r, 1)?,
                artifact_location: opt_text(&r, 2)?,
                lifecycle_stage: opt_text(&r, 3)?.unwrap_or_else(|| "active".into()),
                creation_time: opt_int(&r, 4)?,
                last_update_time: opt_int(&r, 5)?,
                tags: self
                    .pairs("SELECT \"key\", value FROM experiment_tags WHERE experiment_id = ?", &[Bind::Int(id)])
                    .await?,
            });
        }
        Ok(out)
    }

    /// Key/value rows as a map.
    async fn pairs(&self, query: &str, binds: &[Bind<'_>]) -> Result<BTreeMap<String, String>> {
        self.db.rows(query, binds).await?.iter().map(|r| Ok((text(r, 0)?, text(r, 1)?))).collect()
    }

    /// The number of rows `query` (a `SELECT COUNT(*)`) counts, 0 when the table is not there.
    async fn count(&self, table: &str, query: &str, binds: &[Bind<'_>]) -> Result<i64> {
        if !self.db.has_table(table) {
            return Ok(0);
        }
        let rows = self.db.rows(query, binds).await?;
        rows.first().map_or(Ok(0), |r| int(r, 0))
    }

    /// Fails when the database holds objects of a kind this source does not read yet, so that a
    /// job reports them rather than leaving them out.
    async fn not_read_yet(&self, what: &str, table: &str, query: &str, binds: &[Bind<'_>], how: &str) -> Result<()> {
        match self.count(table, query, binds).await? {
            0 => Ok(()),
            n => Err(Error::Unsupported(format!(
                "{n} {what} in {}: a database source does not read them yet; {how}",
                self.db.uri()
            ))),
        }
    }

    fn unsupported<T>(&self, what: &str) -> Result<T> {
        Err(Error::Unsupported(format!("{what}: not read from a database source yet; use the tracking server's URI")))
    }

    async fn versions(&self, name: &str) -> Result<Vec<ModelVersionRecord>> {
        let query = format!(
            "SELECT CAST(v.version AS BIGINT), v.description, v.current_stage, v.source, v.run_id, v.run_link, \
             v.status, v.user_id, v.creation_time, v.last_updated_time, r.artifact_uri, e.name \
             FROM model_versions v LEFT JOIN runs r ON r.run_uuid = v.run_id \
             LEFT JOIN experiments e ON e.experiment_id = r.experiment_id \
             WHERE v.name = ? AND v.current_stage <> 'Deleted_Internal'{}",
            self.db.in_default_workspace("v.")
        );
        let tags_query = format!(
            "SELECT \"key\", value FROM model_version_tags WHERE name = ? AND version = ?{}",
            self.db.in_default_workspace("")
        );
        let mut out = Vec::new();
        for r in self.db.rows(&query, &[Bind::Text(name)]).await? {
            let version = int(&r, 0)?;
            out.push(ModelVersionRecord {
                version: version.to_string(),
                description: opt_text(&r, 1)?.filter(|s| !s.is_empty()),
                current_stage: opt_text(&r, 2)?,
                source: text(&r, 3)?,
                run_id: opt_text(&r, 4)?.filter(|s| !s.is_empty()),
                run_link: opt_text(&r, 5)?.filter(|s| !s.is_empty()),
                status: opt_text(&r, 6)?.filter(|s| !s.is_empty()),
                user_id: opt_text(&r, 7)?.filter(|s| !s.is_empty()),
                creation_timestamp: opt_int(&r, 8)?,
                last_updated_timestamp: opt_int(&r, 9)?,
                run_artifact_uri: opt_text(&r, 10)?,
                experiment_name: opt_text(&r, 11)?,
                tags: self.pairs(&tags_query, &[Bind::Text(name), Bind::Int(version)]).await?,
            });
        }
        out.sort_by_key(|v| version_number(&v.version));
        Ok(out)
    }

    /// Registered model `name` with every version; `None` when there is none.
    async fn model(&self, name: &str) -> Result<Option<RegisteredModelRecord>> {
        let ws = self.db.in_default_workspace("");
        let query = format!(
            "SELECT name, description, creation_time, last_updated_time FROM registered_models WHERE name = ?{ws}"
        );
        let Some(r) = self.db.rows(&query, &[Bind::Text(name)]).await?.into_iter().next() else { return Ok(None) };
        let tags = self
            .pairs(&format!("SELECT \"key\", value FROM registered_model_tags WHERE name = ?{ws}"), &[Bind::Text(name)])
            .await?;
        let aliases = if self.db.has_table("registered_model_aliases") {
            let q = format!("SELECT alias, CAST(version AS BIGINT) FROM registered_model_aliases WHERE name = ?{ws}");
            let rows = self.db.rows(&q, &[Bind::Text(name)]).await?;
            rows.iter().map(|r| Ok((text(r, 0)?, int(r, 1)?.to_string()))).collect::<Result<_>>()?
        } else {
            BTreeMap::new()
        };
        Ok(Some(RegisteredModelRecord {
            name: text(&r, 0)?,
            description: opt_text(&r, 1)?.filter(|s| !s.is_empty()),
            creation_timestamp: opt_int(&r, 2)?,
            last_updated_timestamp: opt_int(&r, 3)?,
            tags,
            aliases,
            versions: self.versions(name).await?,
        }))
    }

    /// Names of registered models (`prompts`: of prompts), in name order.
    async fn model_names(&self, prompts: bool) -> Result<Vec<String>> {
        let query = format!(
            "SELECT name FROM registered_models m WHERE {} EXISTS (SELECT 1 FROM registered_model_tags t \
             WHERE t.name = m.name AND t.\"key\" = '{}' AND LOWER(t.value) = 'true'){} ORDER BY name",
            if prompts { "" } else { "NOT" },
            prompt_tags::IS_PROMPT,
            self.db.in_default_workspace("m.")
        );
        self.db.rows(&query, &[]).await?.iter().map(|r| text(r, 0)).collect()
    }

    /// The artifact root a run's (or model's) `uri` names, read by this machine.
    fn stored_root(&self, what: &str, uri: Option<&str>) -> Result<ArtifactRoot> {
        let uri =
            uri.filter(|u| !u.is_empty()).ok_or_else(|| Error::Input(format!("{what} has no artifact location")))?;
        let uri = match proxied_path(uri) {
            Some(rel) => {
                let dest = self.artifacts_destination.as_deref().ok_or_else(|| {
                    Error::Input(format!(
                        "{what}: its artifacts are kept by the tracking server ({uri}); pass the server's \
                         --artifacts-destination (a folder or object-store URI) with --artifacts-destination, or \
                         --src-artifacts-destination / --dst-artifacts-destination for one side, to read them from here"
                    ))
                })?;
                join(dest.trim_end_matches('/'), &rel)
            }
            None => uri.to_string(),
        };
        if let Some(dir) = local::local_root(&uri).or_else(|| (!uri.contains(':')).then(|| uri.clone().into())) {
            return Ok(ArtifactRoot::Local(dir));
        }
        match self.objects.resolve(&uri)? {
            Some(Resolved::Root(root)) => Ok(ArtifactRoot::Object(root)),
            Some(Resolved::NoCredentials(why)) => {
                Err(Error::Unsupported(format!("{what}: cannot read {}: {why}", mlflow_client::redact(&uri))))
            }
            None => Err(Error::Unsupported(format!(
                "{what}: artifact store {:?} is not supported",
                mlflow_client::redact(&uri)
            ))),
        }
    }
}

/// A run's status as stored.
fn run_status(s: &str) -> RunStatus {
    serde_json::from_value(serde_json::Value::String(s.to_string())).unwrap_or_default()
}

/// A stored metric value: NaN is stored as 0 with `is_nan` set.
fn metric_value(value: f64, is_nan: i64) -> f64 {
    if is_nan != 0 {
        f64::NAN
    } else {
        value
    }
}

#[async_trait]
impl RunSource for SqlSource {
    async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let query = "SELECT r.run_uuid, CAST(r.experiment_id AS BIGINT), r.name, r.user_id, r.status, r.start_time, \
                     r.end_time, r.lifecycle_stage, r.artifact_uri, e.name FROM runs r \
                     JOIN experiments e ON e.experiment_id = r.experiment_id WHERE r.run_uuid = ?";
        let id = Bind::Text(run_id);
        let Some(r) = self.db.rows(query, &[Bind::Text(run_id)]).await?.into_iter().next() else {
            return Err(Error::NotFound(format!("no run {run_id} in {}", self.db.uri())));
        };
        let meta = RunMeta {
            run_id: text(&r, 0)?,
            experiment_id: int(&r, 1)?.to_string(),
            run_name: opt_text(&r, 2)?,
            user_id: opt_text(&r, 3)?,
            status: run_status(&text(&r, 4)?),
            start_time: opt_int(&r, 5)?,
            end_time: opt_int(&r, 6)?,
            lifecycle_stage: opt_text(&r, 7)?.unwrap_or_else(|| "active".into()),
            artifact_uri: opt_text(&r, 8)?,
        };
        let origin = Origin { tracking_uri: Some(self.db.uri().to_string()), experiment_name: opt_text(&r, 9)? };
        let params = self.pairs("SELECT \"key\", value FROM params WHERE run_uuid = ?", &[Bind::Text(run_id)]).await?;
        let tags = self.pairs("SELECT \"key\", value FROM tags WHERE run_uuid = ?", &[Bind::Text(run_id)]).await?;
        let latest = self
            .db
            .rows(
                "SELECT \"key\", value, \"timestamp\", step, CAST(CASE WHEN is_nan THEN 1 ELSE 0 END AS BIGINT) \
                 FROM latest_metrics WHERE run_uuid = ?",
                &[id],
            )
            .await?;
        let mut metrics = BTreeMap::new();
        for m in &latest {
            let point =
                MetricPoint { value: metric_value(float(m, 1)?, int(m, 4)?), timestamp: int(m, 2)?, step: int(m, 3)? };
            metrics.insert(text(m, 0)?, vec![point]);
        }
        let mut run = RunRecord { meta, params, tags, metrics, origin, ..RunRecord::default() };
        self.read_inputs(&mut run).await?;
        Ok(run)
    }

    async fn complete_metrics(&self, run: &mut RunRecord) -> Result<()> {
        let rows = self
            .db
            .rows(
                "SELECT \"key\", value, \"timestamp\", step, CAST(CASE WHEN is_nan THEN 1 ELSE 0 END AS BIGINT) \
                 FROM metrics WHERE run_uuid = ? ORDER BY \"key\", step, \"timestamp\"",
                &[Bind::Text(&run.meta.run_id)],
            )
            .await?;
        let mut metrics: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
        for m in &rows {
            let point =
                MetricPoint { value: metric_value(float(m, 1)?, int(m, 4)?), timestamp: int(m, 2)?, step: int(m, 3)? };
            metrics.entry(text(m, 0)?).or_default().push(point);
        }
        run.metrics = metrics;
        Ok(())
    }

    async fn list_artifacts(&self, run: &RunRecord) -> Result<Vec<ArtifactFile>> {
        let what = format!("run {}", run.meta.run_id);
        self.stored_root(&what, run.meta.artifact_uri.as_deref())?.list_stored().await
    }

    async fn open_artifact(&self, run: &RunRecord, file: &ArtifactFile) -> Result<ByteStream> {
        let what = format!("run {}", run.meta.run_id);
        self.stored_root(&what, run.meta.artifact_uri.as_deref())?.open_stored(&file.path).await
    }
}

impl SqlSource {
    /// The run's dataset inputs (with their tags) and, in an MLflow 3 database, its links to
    /// logged models.
    async fn read_inputs(&self, run: &mut RunRecord) -> Result<()> {
        let id = run.meta.run_id.clone();
        if self.db.has_table("inputs") && self.db.has_table("datasets") {
            let rows = self
                .db
                .rows(
                    "SELECT i.input_uuid, d.name, d.digest, d.dataset_source_type, d.dataset_source, d.dataset_schema, \
                     d.dataset_profile FROM inputs i JOIN datasets d ON d.dataset_uuid = i.source_id \
                     WHERE i.source_type = 'DATASET' AND i.destination_type = 'RUN' AND i.destination_id = ? \
                     ORDER BY d.name, d.digest",
                    &[Bind::Text(&id)],
                )
                .await?;
            for r in &rows {
                let tags = self
                    .pairs(
                        "SELECT name, value FROM input_tags WHERE input_uuid = ? ORDER BY name",
                        &[Bind::Text(&text(r, 0)?)],
                    )
                    .await?;
                run.dataset_inputs.push(DatasetInput {
                    tags: tags.into_iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
                    dataset: Dataset {
                        name: text(r, 1)?,
                        digest: text(r, 2)?,
                        source_type: text(r, 3)?,
                        source: text(r, 4)?,
                        schema: opt_text(r, 5)?,
                        profile: opt_text(r, 6)?,
                    },
                });
            }
        }
        (run.model_inputs, run.model_outputs) = self.run_model_links(&id).await?;
        Ok(())
    }

    /// A run's links to MLflow 3 logged models: those it took as inputs and those it output
    /// (with the step), none in a database older than MLflow 3.
    async fn run_model_links(&self, run_id: &str) -> Result<(Vec<ModelInput>, Vec<ModelOutput>)> {
        let (mut inputs, mut outputs) = (Vec::new(), Vec::new());
        if !self.db.has_table("logged_models") {
            return Ok((inputs, outputs));
        }
        let rows = self
            .db
            .rows(
                "SELECT source_type, destination_id, CAST(step AS BIGINT) FROM inputs \
                 WHERE source_id = ? AND source_type IN ('RUN_INPUT', 'RUN_OUTPUT') ORDER BY destination_id",
                &[Bind::Text(run_id)],
            )
            .await?;
        for r in &rows {
            match text(r, 0)?.as_str() {
                "RUN_INPUT" => inputs.push(ModelInput { model_id: text(r, 1)? }),
                _ => outputs.push(ModelOutput { model_id: text(r, 1)?, step: int(r, 2)? }),
            }
        }
        Ok((inputs, outputs))
    }

    /// MLflow stores a logged model's NaN metric point as 0.0 (3.17.2), but the run it was
    /// logged through keeps the NaN: the point is NaN when the run has a NaN, and no 0.0, at
    /// that time and step.
    async fn nan_in_run(&self, run_id: Option<&str>, key: &str, timestamp: i64, step: i64) -> Result<f64> {
        let Some(run_id) = run_id else { return Ok(0.0) };
        let rows = self
            .db
            .rows(
                "SELECT CAST(CASE WHEN is_nan THEN 1 ELSE 0 END AS BIGINT), value FROM metrics \
                 WHERE run_uuid = ? AND \"key\" = ? AND \"timestamp\" = ? AND step = ?",
                &[Bind::Text(run_id), Bind::Text(key), Bind::Int(timestamp), Bind::Int(step)],
            )
            .await?;
        let nan = rows.iter().map(|r| int(r, 0)).collect::<Result<Vec<_>>>()?;
        let zero =
            rows.iter().zip(&nan).map(|(r, n)| Ok(*n == 0 && float(r, 1)? == 0.0)).collect::<Result<Vec<bool>>>()?;
        Ok(if nan.contains(&1) && !zero.contains(&true) { f64::NAN } else { 0.0 })
    }

    /// The logged models `clause` (with one `?`, bound to `bind`) selects, with their params,
    /// tags and metric points.
    async fn logged_models(&self, clause: &str, bind: Bind<'_>) -> Result<Vec<LoggedModelRecord>> {
        let query = format!(
            "SELECT model_id, name, model_type, artifact_location, source_run_id, CAST(status AS BIGINT) \
             FROM logged_models WHERE {clause} ORDER BY creation_timestamp_ms, model_id"
        );
        let mut out = Vec::new();
        for r in self.db.rows(&query, &[bind]).await? {
            let id = text(&r, 0)?;
            let of = [Bind::Text(&id)];
            let params =
                self.pairs("SELECT param_key, param_value FROM logged_model_params WHERE model_id = ?", &of).await?;
            let tags = self.pairs("SELECT tag_key, tag_value FROM logged_model_tags WHERE model_id = ?", &of).await?;
            let points = self
                .db
                .rows(
                    "SELECT metric_name, metric_value, metric_timestamp_ms, metric_step, run_id, dataset_name, \
                     dataset_digest FROM logged_model_metrics WHERE model_id = ? \
                     ORDER BY metric_timestamp_ms, metric_name, metric_step",
                    &of,
                )
                .await?;
            let mut metrics = Vec::with_capacity(points.len());
            for p in &points {
                use sqlx::Row;
                let value: Option<f64> =
                    p.try_get(1).map_err(|e| Error::Database { message: e.to_string(), transient: false })?;
                let key = text(p, 0)?;
                let value = match value {
                    Some(0.0) => self.nan_in_run(opt_text(p, 4)?.as_deref(), &key, int(p, 2)?, int(p, 3)?).await?,
                    Some(v) => v,
                    None => f64::NAN,
                };
                metrics.push(LoggedModelMetric {
                    key,
                    value,
                    timestamp: int(p, 2)?,
                    step: int(p, 3)?,
                    run_id: opt_text(p, 4)?.filter(|s| !s.is_empty()),
                    model_id: Some(id.clone()),
                    dataset_name: opt_text(p, 5)?.filter(|s| !s.is_empty()),
                    dataset_digest: opt_text(p, 6)?.filter(|s| !s.is_empty()),
                });
            }
            let status = match int(&r, 5)? {
                1 => Some(LOGGED_MODEL_PENDING.to_string()),
                2 => Some(LOGGED_MODEL_READY.to_string()),
                3 => Some(LOGGED_MODEL_UPLOAD_FAILED.to_string()),
                _ => None,
            };
            out.push(LoggedModelRecord {
                name: text(&r, 1)?,
                model_type: opt_text(&r, 2)?,
                artifact_uri: opt_text(&r, 3)?,
                source_run_id: opt_text(&r, 4)?.filter(|s| !s.is_empty()),
                model_id: id,
                params,
                tags,
                metrics,
                status,
            });
        }
        Ok(out)
    }
}

#[async_trait]
impl TrackingSource for SqlSource {
    fn tracking_uri(&self) -> String {
        self.db.uri().to_string()
    }

    async fn find_experiment(&self, name_or_id: &str) -> Result<ExperimentRecord> {
        let mut found = self.experiments("name = ?", &[Bind::Text(name_or_id)]).await?;
        if found.is_empty() {
            if let Ok(id) = name_or_id.parse::<i64>() {
                found = self.experiments("experiment_id = ?", &[Bind::Int(id)]).await?;
            }
        }
        found.pop().ok_or_else(|| {
            Error::NotFound(format!(
                "experiment {name_or_id:?}: no experiment with this name or id in {}",
                self.db.uri()
            ))
        })
    }

    async fn select_experiments(&self, spec: &ExperimentSpec) -> Result<Vec<ExperimentRecord>> {
        match spec {
            ExperimentSpec::All => self.experiments("lifecycle_stage = 'active'", &[]).await,
            ExperimentSpec::Prefix(p) => {
                let all = self.experiments("lifecycle_stage = 'active'", &[]).await?;
                Ok(all.into_iter().filter(|e| e.name.starts_with(p.as_str())).collect())
            }
            ExperimentSpec::List(names) => {
                let mut out: Vec<ExperimentRecord> = Vec::new();
                for n in names {
                    let e = self.find_experiment(n).await?;
                    if !out.iter().any(|x| x.experiment_id == e.experiment_id) {
                        out.push(e);
                    }
                }
                Ok(out)
            }
        }
    }

    /// One query: ids and parent links only. The runs are read when moved, so planning holds
    /// two ids per run whatever the experiment's size.
    async fn plan_runs(&self, exp: &ExperimentRecord, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>> {
        let id: i64 =
            exp.experiment_id.parse().map_err(|_| Error::Input(format!("experiment id {:?}", exp.experiment_id)))?;
        let mut query = String::from(
            "SELECT r.run_uuid, (SELECT t.value FROM tags t WHERE t.run_uuid = r.run_uuid AND t.\"key\" = \
             'mlflow.parentRunId') FROM runs r WHERE r.experiment_id = ?",
        );
        let mut binds = vec![Bind::Int(id)];
        if !filter.include_deleted {
            query += " AND r.lifecycle_stage = 'active'";
        }
        if let Some(t) = filter.started_after {
            query += " AND r.start_time > ?";
            binds.push(Bind::Int(t));
        }
        if let Some(t) = filter.started_before {
            query += " AND r.start_time < ?";
            binds.push(Bind::Int(t));
        }
        query += " ORDER BY r.start_time DESC, r.run_uuid";
        let rows = self.db.rows(&query, &binds).await?;
        let links: Vec<(String, Option<String>)> =
            rows.iter().map(|r| Ok((text(r, 0)?, opt_text(r, 1)?))).collect::<Result<_>>()?;
        let chosen = filter.select(&links);
        Ok(links.into_iter().filter(|(id, _)| chosen.contains(id)).collect())
    }

    fn searched_tag(&self, _run_id: &str, _key: &str) -> Option<String> {
        None
    }

    async fn read_model(&self, name: &str, filter: &VersionFilter) -> Result<RegisteredModelRecord> {
        let Some(mut model) = self.model(name).await? else {
            return Err(Error::NotFound(format!("registered model {name:?} does not exist in {}", self.db.uri())));
        };
        if prompt_tags::is_prompt(&model.tags) {
            return Err(Error::Input(format!(
                "{name:?} is a prompt, not a registered model: move it with export-prompt(s), import-prompt(s) or \
                 copy-prompt(s)"
            )));
        }
        model.versions = filter.apply(std::mem::take(&mut model.versions));
        Ok(model)
    }

    async fn select_models(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        match spec {
            ExperimentSpec::List(names) => Ok(names.clone()),
            ExperimentSpec::All => self.model_names(false).await,
            ExperimentSpec::Prefix(p) => {
                Ok(self.model_names(false).await?.into_iter().filter(|n| n.starts_with(p.as_str())).collect())
            }
        }
    }

    async fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let mut out = Vec::new();
        for name in self.model_names(false).await? {
            out.extend(self.model(&name).await?);
        }
        Ok(out)
    }

    async fn read_prompt(&self, name: &str, version: Option<&str>) -> Result<RegisteredModelRecord> {
        let Some(mut record) = self.model(name).await? else {
            return Err(Error::NotFound(format!("prompt {name:?} does not exist in {}", self.db.uri())));
        };
        if !prompt_tags::is_prompt(&record.tags) {
            return Err(Error::Input(format!("{name:?} is a registered model, not a prompt")));
        }
        record.versions.retain(|v| version.is_none_or(|n| v.version == n));
        if let (Some(n), true) = (version, record.versions.is_empty()) {
            return Err(Error::NotFound(format!("prompt {name:?} has no version {n}")));
        }
        Ok(record)
    }

    async fn select_prompts(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        match spec {
            ExperimentSpec::List(names) => Ok(names.clone()),
            ExperimentSpec::All => self.model_names(true).await,
            ExperimentSpec::Prefix(p) => {
                Ok(self.model_names(true).await?.into_iter().filter(|n| n.starts_with(p.as_str())).collect())
            }
        }
    }

    async fn select_datasets(&self, names: Option<&[String]>, _experiment_ids: &[String]) -> Result<Vec<String>> {
        if names.is_some() {
            return self.unsupported("evaluation datasets");
        }
        let how = "copy them from the tracking server with copy-evaluation-datasets";
        self.not_read_yet(
            "evaluation datasets",
            "evaluation_datasets",
            "SELECT COUNT(*) FROM evaluation_datasets",
            &[],
            how,
        )
        .await?;
        Ok(Vec::new())
    }

    async fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        if !self.db.has_table("logged_models") {
            return Ok(Vec::new());
        }
        let id: i64 = experiment_id.parse().map_err(|_| Error::Input(format!("experiment id {experiment_id:?}")))?;
        self.logged_models("experiment_id = ? AND lifecycle_stage = 'active'", Bind::Int(id)).await
    }

    async fn logged_model_with_experiment(&self, model_id: &str) -> Result<(LoggedModelRecord, ExperimentRecord)> {
        let model = self.read_logged_model(model_id).await?;
        let rows = self
            .db
            .rows("SELECT CAST(experiment_id AS BIGINT) FROM logged_models WHERE model_id = ?", &[Bind::Text(model_id)])
            .await?;
        let id = rows.first().map_or(Ok(-1), |r| int(r, 0))?;
        let experiment = self.experiments("experiment_id = ?", &[Bind::Int(id)]).await?.pop();
        let experiment = experiment
            .ok_or_else(|| Error::NotFound(format!("logged model {model_id}: its experiment {id} is missing")))?;
        Ok((model, experiment))
    }

    async fn model_links(&self, run_ids: &[String]) -> Result<Vec<(Vec<ModelInput>, Vec<ModelOutput>)>> {
        let mut out = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            out.push(self.run_model_links(id).await?);
        }
        Ok(out)
    }

    async fn list_traces(&self, experiment_id: &str, _filter: Option<&str>) -> Result<Vec<ListedTrace>> {
        let id: i64 = experiment_id.parse().unwrap_or(-1);
        let how = "copy them from the tracking server with copy-traces";
        let query = "SELECT COUNT(*) FROM trace_info WHERE experiment_id = ?";
        self.not_read_yet("traces", "trace_info", query, &[Bind::Int(id)], how).await?;
        Ok(Vec::new())
    }

    fn traces(&self) -> Arc<dyn TraceSource> {
        Arc::new(Unread(self.db.clone()))
    }

    fn scorers(&self) -> Arc<dyn ScorerStore> {
        Arc::new(Unread(self.db.clone()))
    }

    fn webhooks(&self) -> Arc<dyn WebhookStore> {
        Arc::new(Unread(self.db.clone()))
    }
}

/// The MLflow 3 kinds a database source does not read yet: empty where the database holds
/// none, an error naming the count where it holds some.
struct Unread(Arc<Db>);

#[async_trait]
impl TraceSource for Unread {
    async fn read_trace(&self, trace_id: &str) -> Result<TraceRecord> {
        Err(Error::Unsupported(format!("trace {trace_id}: not read from a database source yet; use copy-traces")))
    }
}

#[async_trait]
impl ScorerStore for Unread {
    async fn scorers(&self, experiment_id: &str) -> Result<BTreeMap<String, Vec<Scorer>>> {
        if self.0.has_table("scorers") {
            let id: i64 = experiment_id.parse().unwrap_or(-1);
            let rows = self.0.rows("SELECT COUNT(*) FROM scorers WHERE experiment_id = ?", &[Bind::Int(id)]).await?;
            if rows.first().map_or(Ok(0), |r| int(r, 0))? > 0 {
                return Err(Error::Unsupported(format!(
                    "experiment {experiment_id} has scorers: a database source does not read them yet; copy the \
                     experiment from the tracking server"
                )));
            }
        }
        Ok(BTreeMap::new())
    }

    async fn add_scorer_versions(&self, _experiment_id: &str, _name: &str, _versions: &[Scorer]) -> Result<()> {
        Err(Error::Unsupported("a database source is read-only".into()))
    }
}

#[async_trait]
impl WebhookStore for Unread {
    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        if self.0.has_table("webhooks") {
            let rows = self.0.rows("SELECT COUNT(*) FROM webhooks WHERE deleted_timestamp IS NULL", &[]).await?;
            if rows.first().map_or(Ok(0), |r| int(r, 0))? > 0 {
                return Err(Error::Unsupported(
                    "the database has webhooks: a database source does not read them yet; copy them from the tracking \
                     server"
                        .into(),
                ));
            }
        }
        Ok(Vec::new())
    }

    async fn create_webhook(&self, _webhook: &Webhook, _secret: Option<&str>) -> Result<Option<String>> {
        Err(Error::Unsupported("a database source is read-only".into()))
    }

    async fn update_webhook(&self, _existing: &Webhook, _webhook: &Webhook) -> Result<()> {
        Err(Error::Unsupported("a database source is read-only".into()))
    }
}

#[async_trait]
impl LoggedModelSource for SqlSource {
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord> {
        if !self.db.has_table("logged_models") {
            return Err(Error::NotFound(format!("no logged model {model_id} in {}", self.db.uri())));
        }
        let found = self.logged_models("model_id = ?", Bind::Text(model_id)).await?.pop();
        found.ok_or_else(|| Error::NotFound(format!("no logged model {model_id} in {}", self.db.uri())))
    }

    async fn list_model_files(&self, model: &LoggedModelRecord) -> Result<Vec<ArtifactFile>> {
        let what = format!("logged model {}", model.model_id);
        self.stored_root(&what, model.artifact_uri.as_deref())?.list_stored().await
    }

    async fn open_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Result<ByteStream> {
        let what = format!("logged model {}", model.model_id);
        self.stored_root(&what, model.artifact_uri.as_deref())?.open_stored(&file.path).await
    }
}

#[async_trait]
impl EvaluationDatasetSource for SqlSource {
    async fn read_dataset(&self, dataset_id: &str) -> Result<EvaluationDatasetRecord> {
        self.unsupported(&format!("evaluation dataset {dataset_id}"))
    }

    async fn records(&self, dataset: &EvaluationDatasetRecord) -> Result<Box<dyn RecordReader>> {
        self.unsupported(&format!("evaluation dataset {}", dataset.dataset_id))
    }
}
