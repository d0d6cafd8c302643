//! MLflow's backend database read directly (`sqlite:///…`, `postgresql://…`, `mysql://…`, as
//! a server's `--backend-store-uri` names it): the same runs, histories, dataset inputs, logged
//! models, registered models, versions, aliases and prompts a tracking server gives over REST,
//! without loading the server (a search of 100,000 runs is one query here, minutes of a
//! server's CPU there). The database is opened read-only. [`super::direct`] makes it a source.
//! [`SqlSink`] is the opt-in writer of a destination server's database.

mod db;
mod rows;
mod sink;

use std::{collections::BTreeMap, sync::Arc};

use async_trait::async_trait;
pub use db::is_database_uri;
use db::{float, int, opt_int, opt_text, text, Bind, Db};
use mlflow_client::types::{Dataset, DatasetInput, KeyValue, LoggedModelMetric, ModelInput, ModelOutput, RunStatus};
pub use sink::{SqlSink, KNOWN_REVISIONS};

use crate::{
    model::{
        prompt_tags, version_number, ExperimentRecord, LoggedModelRecord, MetricPoint, ModelVersionRecord, Origin,
        RegisteredModelRecord, RunMeta, RunRecord, LOGGED_MODEL_PENDING, LOGGED_MODEL_READY,
        LOGGED_MODEL_UPLOAD_FAILED,
    },
    select::RunFilter,
    store::direct::{Catalog, DirectSource, Unread},
    Error, Result,
};

/// Opens the database `uri` read-only as a source; `artifacts_destination` is the server's, for
/// proxied artifacts.
pub async fn open(uri: &str, artifacts_destination: Option<String>, side: Option<&str>) -> Result<DirectSource> {
    let catalog = SqlCatalog { db: Db::open(uri).await? };
    Ok(DirectSource::new(Arc::new(catalog), artifacts_destination, side))
}

/// The queries that read MLflow's tables.
struct SqlCatalog {
    db: Db,
}

impl SqlCatalog {
    async fn experiments_where(&self, clause: &str, binds: &[Bind<'_>]) -> Result<Vec<ExperimentRecord>> {
        let query = format!(
            "SELECT CAST(experiment_id AS BIGINT), name, artifact_location, lifecycle_stage, creation_time, \
             last_update_time FROM experiments WHERE {clause}{} ORDER BY experiment_id",
            self.db.in_default_workspace("")
        );
        let mut out = Vec::new();
        for r in self.db.rows(&query, binds).await? {
            let id = int(&r, 0)?;
            out.push(ExperimentRecord {
                permissions: None,
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
    async fn registered_model(&self, name: &str) -> Result<Option<RegisteredModelRecord>> {
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
            permissions: None,
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
    async fn names(&self, prompts: bool) -> Result<Vec<String>> {
        let query = format!(
            "SELECT name FROM registered_models m WHERE {} EXISTS (SELECT 1 FROM registered_model_tags t \
             WHERE t.name = m.name AND t.\"key\" = '{}' AND LOWER(t.value) = 'true'){} ORDER BY name",
            if prompts { "" } else { "NOT" },
            prompt_tags::IS_PROMPT,
            self.db.in_default_workspace("m.")
        );
        self.db.rows(&query, &[]).await?.iter().map(|r| text(r, 0)).collect()
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

impl SqlCatalog {
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
    async fn logged_models_where(&self, clause: &str, bind: Bind<'_>) -> Result<Vec<LoggedModelRecord>> {
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
impl Catalog for SqlCatalog {
    fn uri(&self) -> String {
        self.db.uri().to_string()
    }

    async fn experiments(&self, include_deleted: bool) -> Result<Vec<ExperimentRecord>> {
        let clause = if include_deleted { "1 = 1" } else { "lifecycle_stage = 'active'" };
        self.experiments_where(clause, &[]).await
    }

    async fn experiment(&self, name: &str) -> Result<Option<ExperimentRecord>> {
        let mut found = self.experiments_where("name = ?", &[Bind::Text(name)]).await?;
        if found.is_empty() {
            if let Ok(id) = name.parse::<i64>() {
                found = self.experiments_where("experiment_id = ?", &[Bind::Int(id)]).await?;
            }
        }
        Ok(found.pop())
    }

    /// One query: ids and parent links only.
    async fn runs(&self, experiment_id: &str, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>> {
        let id: i64 = experiment_id.parse().map_err(|_| Error::Input(format!("experiment id {experiment_id:?}")))?;
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
        rows.iter().map(|r| Ok((text(r, 0)?, opt_text(r, 1)?))).collect()
    }

    /// One query of that tag alone: `verify` asks it of every run at the destination.
    async fn run_tag(&self, run_id: &str, key: &str) -> Result<Option<String>> {
        let rows = self
            .db
            .rows("SELECT value FROM tags WHERE run_uuid = ? AND \"key\" = ?", &[Bind::Text(run_id), Bind::Text(key)])
            .await?;
        rows.first().map(|r| text(r, 0)).transpose()
    }

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

    async fn model(&self, name: &str) -> Result<Option<RegisteredModelRecord>> {
        self.registered_model(name).await
    }

    async fn model_names(&self, prompts: bool) -> Result<Vec<String>> {
        self.names(prompts).await
    }

    async fn logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        if !self.db.has_table("logged_models") {
            return Ok(Vec::new());
        }
        let id: i64 = experiment_id.parse().map_err(|_| Error::Input(format!("experiment id {experiment_id:?}")))?;
        self.logged_models_where("experiment_id = ? AND lifecycle_stage = 'active'", Bind::Int(id)).await
    }

    async fn logged_model(&self, model_id: &str) -> Result<Option<(LoggedModelRecord, String)>> {
        if !self.db.has_table("logged_models") {
            return Ok(None);
        }
        let Some(model) = self.logged_models_where("model_id = ?", Bind::Text(model_id)).await?.pop() else {
            return Ok(None);
        };
        let query = "SELECT CAST(experiment_id AS BIGINT) FROM logged_models WHERE model_id = ?";
        let rows = self.db.rows(query, &[Bind::Text(model_id)]).await?;
        let id = rows.first().map_or(Ok(-1), |r| int(r, 0))?;
        Ok(Some((model, id.to_string())))
    }

    async fn model_links(&self, run_id: &str) -> Result<(Vec<ModelInput>, Vec<ModelOutput>)> {
        self.run_model_links(run_id).await
    }

    async fn count_unread(&self, kind: Unread, experiment_id: Option<&str>) -> Result<u64> {
        let (table, query) = match kind {
            Unread::Traces => ("trace_info", "SELECT COUNT(*) FROM trace_info WHERE experiment_id = ?"),
            Unread::Scorers => ("scorers", "SELECT COUNT(*) FROM scorers WHERE experiment_id = ?"),
            Unread::Webhooks => ("webhooks", "SELECT COUNT(*) FROM webhooks WHERE deleted_timestamp IS NULL"),
            Unread::EvaluationDatasets => ("evaluation_datasets", "SELECT COUNT(*) FROM evaluation_datasets"),
        };
        let binds = match experiment_id {
            Some(id) => vec![Bind::Int(id.parse().unwrap_or(-1))],
            None => Vec::new(),
        };
        Ok(u64::try_from(self.count(table, query, &binds).await?).unwrap_or(0))
    }
}
