//! A tracking server's experiments, registry and MLflow 3 logged models as destinations, and
//! reading registered models with their versions and logged models as a source.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use mlflow_client::{
    api::ModelVersionCreate,
    batch::MAX_METRICS,
    types::{KeyValue, LoggedModel, LoggedModelMetric, ModelOutput, ModelVersion, RegisteredModel},
    MlflowClient,
};

use super::{RestSink, RestSource};
use crate::{
    identity::{self, copied_version, PLACEHOLDER, SOURCE_MODEL, SOURCE_MODEL_ID, SOURCE_TRACKING_URI, SOURCE_VERSION},
    model::{
        key_values, prompt_tags, version_number, ArtifactFile, LoggedModelRecord, ModelVersionRecord,
        RegisteredModelRecord, LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED,
    },
    select::{ExperimentSpec, PrincipalMap, VersionFilter},
    store::{
        artifact_root::{ArtifactRoot, ArtifactRoots},
        object::ObjectLocation,
        ByteStream, DestinationVersion, ExperimentSink, LoggedModelSink, LoggedModelSource, ModelSink, ModelState,
        NewVersion, PermissionsOutcome, RunSink, Target,
    },
    Error, Result,
};

impl RestSource {
    /// Reads a model and the versions `filter` selects; the versions' runs are located (and
    /// kept for the moves that follow).
    pub async fn read_model(&self, name: &str, filter: &VersionFilter) -> Result<RegisteredModelRecord> {
        let client = &self.client;
        let Some(model) = client.get_registered_model(name).await? else {
            return Err(Error::NotFound(format!("registered model {name:?} does not exist at {}", client.base_url())));
        };
        // A prompt is a registered model to the API; moved as a model its versions (which the
        // server hides from model searches) would be lost. The prompt mover moves it.
        if model.tags.iter().any(|t| t.key == prompt_tags::IS_PROMPT && t.value.eq_ignore_ascii_case("true")) {
            return Err(Error::Input(format!(
                "{name:?} is a prompt, not a registered model: move it with export-prompt(s), import-prompt(s) or \
                 copy-prompt(s)"
            )));
        }
        let mut versions: Vec<ModelVersionRecord> =
            client.search_model_versions_of(name).await?.into_iter().map(version_record).collect();
        versions.sort_by_key(|v| version_number(&v.version));
        let mut versions = filter.apply(versions);
        let mut located: HashMap<String, Option<(Option<String>, String)>> = HashMap::new();
        for v in &mut versions {
            let Some(run_id) = v.run_id.clone() else { continue };
            if !located.contains_key(&run_id) {
                located.insert(run_id.clone(), self.run_location(&run_id).await?);
            }
            if let Some(Some((uri, experiment))) = located.get(&run_id) {
                v.run_artifact_uri = uri.clone();
                v.experiment_name = Some(experiment.clone());
            }
        }
        let mut record = model_record(model, versions);
        restore_stages(&mut record);
        if filter.permissions {
            record.permissions = Some(self.model_permissions(name).await?);
        }
        Ok(record)
    }

    /// The Python tool's `permissions` of a workspace registry model: the levels, then the
    /// list, both kept under the model's workspace id.
    async fn model_permissions(&self, name: &str) -> Result<serde_json::Value> {
        if !self.client.is_databricks() {
            return Err(crate::store::tracking::no_permissions(self.client.base_url()));
        }
        if self.client.is_unity_catalog() {
            // The Python tool's layout of a Unity Catalog model's grants.
            let direct = self.client.uc_model_permissions(name, false).await?;
            let effective = self.client.uc_model_permissions(name, true).await?;
            return Ok(serde_json::json!({"permissions": direct, "effective_permissions": effective}));
        }
        let id = self.client.databricks_registered_model_id(name).await?;
        let levels = self.client.get_permission_levels(super::workspace::MODEL_PERMISSIONS, &id).await?;
        let list = self.client.get_permissions(super::workspace::MODEL_PERMISSIONS, &id).await?;
        Ok(serde_json::json!({"permission_levels": levels, "permissions": list}))
    }

    /// Every registered model with all its versions (for listings). Versions are read per
    /// model, because the registry's own `latest_versions` holds one per stage only.
    pub async fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let mut out = Vec::new();
        for m in self.client.search_registered_models("").await? {
            let mut versions: Vec<ModelVersionRecord> =
                self.client.search_model_versions_of(&m.name).await?.into_iter().map(version_record).collect();
            versions.sort_by_key(|v| version_number(&v.version));
            let mut record = model_record(m, versions);
            restore_stages(&mut record);
            out.push(record);
        }
        Ok(out)
    }

    /// Registered model names for `--models`: `all`, `prefix*`, or a list (comma or `.txt`).
    pub async fn select_models(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        let all =
            || async { Ok::<_, Error>(self.client.search_registered_models("").await?.into_iter().map(|m| m.name)) };
        match spec {
            ExperimentSpec::List(names) => Ok(names.clone()),
            ExperimentSpec::All => Ok(all().await?.collect()),
            ExperimentSpec::Prefix(p) => Ok(all().await?.filter(|n| n.starts_with(p.as_str())).collect()),
        }
    }

    fn model_root(&self, model: &LoggedModelRecord) -> Result<ArtifactRoot> {
        let routes = ArtifactRoot::ModelRoutes(model.model_id.clone());
        self.artifacts.for_reading(routes, model.artifact_uri.as_deref())
    }
}

pub(super) fn model_record(m: RegisteredModel, versions: Vec<ModelVersionRecord>) -> RegisteredModelRecord {
    RegisteredModelRecord {
        permissions: None,
        name: m.name,
        description: m.description.filter(|d| !d.is_empty()),
        tags: m.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        aliases: m.aliases.into_iter().map(|a| (a.alias, a.version)).collect(),
        creation_timestamp: m.creation_timestamp,
        last_updated_timestamp: m.last_updated_timestamp,
        versions,
    }
}

/// Gives the versions of a copy in a registry without stages (Unity Catalog) back the stages
/// their sources had, kept in [`identity::REFUSED_STAGE`] tags, and drops the aliases named
/// after them that `--stages-as-aliases` added: copied on, the model is as its source was.
fn restore_stages(record: &mut RegisteredModelRecord) {
    for v in &mut record.versions {
        let Some(stage) = v.tags.remove(identity::REFUSED_STAGE) else { continue };
        if v.current_stage.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("None")) {
            let alias = stage.to_ascii_lowercase();
            if record.aliases.get(&alias) == Some(&v.version) {
                record.aliases.remove(&alias);
            }
            v.current_stage = Some(stage);
        }
    }
}

pub(super) fn version_record(v: ModelVersion) -> ModelVersionRecord {
    ModelVersionRecord {
        version: v.version,
        description: v.description.filter(|d| !d.is_empty()),
        tags: v.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        current_stage: v.current_stage,
        source: v.source.unwrap_or_default(),
        run_id: v.run_id.filter(|r| !r.is_empty()),
        run_link: v.run_link.filter(|r| !r.is_empty()),
        status: v.status,
        user_id: v.user_id,
        creation_timestamp: v.creation_timestamp,
        last_updated_timestamp: v.last_updated_timestamp,
        run_artifact_uri: None,
        experiment_name: None,
    }
}

pub(super) fn logged_model_record(m: LoggedModel) -> LoggedModelRecord {
    let pairs = |kv: Vec<KeyValue>| kv.into_iter().map(|t| (t.key, t.value)).collect();
    LoggedModelRecord {
        model_id: m.info.model_id,
        name: m.info.name,
        model_type: m.info.model_type,
        params: pairs(m.data.params),
        tags: pairs(m.info.tags),
        artifact_uri: m.info.artifact_uri,
        source_run_id: m.info.source_run_id.filter(|r| !r.is_empty()),
        metrics: m.data.metrics,
        status: m.info.status,
    }
}

#[async_trait]
impl LoggedModelSource for RestSource {
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord> {
        let mut record = logged_model_record(self.client.get_logged_model(model_id).await?);
        self.restore_nans(&mut record).await?;
        Ok(record)
    }

    async fn list_model_files(&self, model: &LoggedModelRecord) -> Result<Vec<ArtifactFile>> {
        self.artifacts.list(&self.model_root(model)?).await
    }

    async fn open_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Result<ByteStream> {
        self.artifacts.open(&self.model_root(model)?, &file.path).await
    }

    async fn locate_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Option<ObjectLocation> {
        ArtifactRoots::locate(&self.model_root(model).ok()?, &file.path)
    }
}

/// Writes logged models into a tracking server, each beside the destination copy of its run.
pub struct RestLoggedModelSink {
    client: MlflowClient,
    artifacts: ArtifactRoots,
    /// Where each copy begun by this sink writes its files.
    dests: Mutex<HashMap<String, ArtifactRoot>>,
    /// The logged models of each destination experiment, listed once per job (one paged
    /// search) rather than once per model.
    listed: tokio::sync::Mutex<HashMap<String, Vec<LoggedModel>>>,
    /// The destination experiment (by name) of the models: those moved with their experiment
    /// or on their own. Without it, a model goes into the experiment of its run's copy.
    experiment: Option<String>,
}

impl RestLoggedModelSink {
    pub fn new(client: MlflowClient) -> Self {
        Self {
            artifacts: ArtifactRoots::new(client.clone()),
            client,
            dests: Mutex::default(),
            listed: Default::default(),
            experiment: None,
        }
    }

    /// A sink that puts the models into experiment `name`.
    pub fn in_experiment(client: MlflowClient, name: String) -> Self {
        Self { experiment: Some(name), ..Self::new(client) }
    }

    fn dest(&self, target: &Target) -> Result<ArtifactRoot> {
        let dest = self.dests.lock().expect("poisoned").get(target.id()).cloned();
        dest.ok_or_else(|| Error::Input(format!("logged model {} was not started", target.id())))
    }

    fn remember(&self, model: &LoggedModel) -> Result<()> {
        let root = self.artifacts.for_writing(model.info.artifact_uri.as_deref().unwrap_or_default())?;
        self.dests.lock().expect("poisoned").insert(model.info.model_id.clone(), root);
        Ok(())
    }

    /// Our copies of `source_id` in an experiment, by the identity tag; not those whose upload
    /// was marked failed. `fresh` searches again (after a create whose answer was lost);
    /// otherwise the experiment is listed once per job.
    async fn copies(&self, experiment_id: &str, source_id: &str, fresh: bool) -> Result<Vec<LoggedModel>> {
        let mut listed = self.listed.lock().await;
        if fresh || !listed.contains_key(experiment_id) {
            listed.insert(experiment_id.to_string(), self.client.search_logged_models(experiment_id).await?);
        }
        Ok(listed[experiment_id]
            .iter()
            .filter(|m| m.info.tags.iter().any(|t| t.key == SOURCE_MODEL_ID && t.value == source_id))
            .filter(|m| m.info.status.as_deref() != Some(LOGGED_MODEL_UPLOAD_FAILED) || marked_complete(m))
            .cloned()
            .collect())
    }
}

fn marked_complete(m: &LoggedModel) -> bool {
    m.info.tags.iter().any(|t| t.key == identity::COMPLETE && t.value == "true")
}

/// Whether a copy is finished: marked complete with the status it is to end with (the mark is
/// set before the status: a job stopped between them left the status to set), or ready (a
/// copy made before copies were marked was finalized last).
fn is_complete_copy(m: &LoggedModel, model: &LoggedModelRecord) -> bool {
    let status = m.info.status.as_deref();
    (marked_complete(m) && status == Some(model.final_status())) || status == Some(LOGGED_MODEL_READY)
}

#[async_trait]
impl LoggedModelSink for RestLoggedModelSink {
    async fn begin_logged_model(
        &self,
        model: &LoggedModelRecord,
        dst_run: Option<&str>,
        _source_tracking_uri: Option<&str>,
    ) -> Result<Target> {
        // The experiment the sink names, where it names one: a model moved on its own goes
        // where the user said, whichever experiment holds the copy of its run.
        let experiment_id = match (dst_run, &self.experiment) {
            (Some(run), None) => self.client.get_run(run).await?.info.experiment_id,
            (_, Some(name)) => {
                let found = self.client.get_experiment_by_name(name).await?;
                found.ok_or_else(|| Error::NotFound(format!("experiment {name:?} at the destination")))?.experiment_id
            }
            (None, None) => {
                return Err(Error::Unsupported(format!(
                    "logged model {}: its run has no copy at the destination",
                    model.model_id
                )))
            }
        };
        let found = self.copies(&experiment_id, &model.model_id, false).await?;
        if let Some(done) = found.iter().find(|m| is_complete_copy(m, model)) {
            return Ok(Target::Complete(done.info.model_id.clone()));
        }
        if let Some(partial) = found.first() {
            // Created by an interrupted attempt and never finalized: its files are written
            // again (each upload replaces the file) and it is finalized.
            self.remember(partial)?;
            return Ok(Target::Resumed(partial.info.model_id.clone()));
        }
        // The registry writes `mlflow.modelVersions` itself when a version is created; a copy of
        // a copy names only the model it was made from, and is not complete until it is.
        // Tags a workspace sets itself are kept aside there, and put back by a copy out.
        let mut own_tags = model.tags.clone();
        identity::restore_refused(&mut own_tags);
        identity::refuse_tags(&mut own_tags, super::workspace::refused_tags(&self.client));
        let mut tags: Vec<KeyValue> = key_values(&own_tags)
            .into_iter()
            .filter(|t| t.key != "mlflow.modelVersions" && t.key != SOURCE_MODEL_ID && t.key != identity::COMPLETE)
            .collect();
        tags.push(KeyValue::new(SOURCE_MODEL_ID, &model.model_id));
        let params = key_values(&model.params);
        let created = self
            .client
            .create_or_find(
                || async {
                    let m = self
                        .client
                        .create_logged_model(
                            &experiment_id,
                            &model.name,
                            model.model_type.as_deref(),
                            dst_run,
                            &params,
                            &tags,
                        )
                        .await?;
                    Ok::<_, mlflow_client::Error>((Target::Created(m.info.model_id.clone()), m))
                },
                || async {
                    let found = self.copies(&experiment_id, &model.model_id, true).await?;
                    Ok::<_, Error>(found.into_iter().next().map(|m| (Target::Resumed(m.info.model_id.clone()), m)))
                },
            )
            .await?;
        self.remember(&created.1)?;
        self.listed.lock().await.entry(experiment_id).or_default().push(created.1);
        Ok(created.0)
    }

    async fn write_model_file(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        self.artifacts.write(&self.dest(target)?, &file.path, data).await
    }

    async fn copy_model_file(&self, target: &Target, file: &ArtifactFile, from: &ObjectLocation) -> Result<bool> {
        ArtifactRoots::copy(&self.dest(target)?, from, &file.path, file.size).await
    }

    /// Marks the copy complete, then gives it the source's status: ready or failed is
    /// finalized so; a model still pending at the source stays pending.
    async fn finish_logged_model(&self, target: &Target, model: &LoggedModelRecord) -> Result<()> {
        let mark = [KeyValue::new(identity::COMPLETE, "true")];
        self.client.set_logged_model_tags(target.id(), &mark).await?;
        if model.final_status() != LOGGED_MODEL_PENDING {
            self.client.finalize_logged_model(target.id(), model.final_status()).await?;
        }
        Ok(())
    }

    fn new_ids(&self) -> bool {
        true
    }

    async fn log_model_metrics(&self, target: &Target, metrics: &[LoggedModelMetric]) -> Result<()> {
        let mut by_run: BTreeMap<&str, Vec<LoggedModelMetric>> = BTreeMap::new();
        for m in metrics {
            let Some(run) = m.run_id.as_deref() else { continue };
            by_run
                .entry(run)
                .or_default()
                .push(LoggedModelMetric { model_id: Some(target.id().to_string()), ..m.clone() });
        }
        for (run, points) in by_run {
            for chunk in points.chunks(MAX_METRICS) {
                self.client.log_model_metrics(run, chunk).await?;
            }
        }
        Ok(())
    }

    async fn link_model_runs(&self, target: &Target, inputs: &[String], outputs: &[(String, i64)]) -> Result<()> {
        let id = target.id();
        let runs: BTreeSet<&str> = inputs.iter().chain(outputs.iter().map(|(r, _)| r)).map(String::as_str).collect();
        for run_id in runs {
            let run = self.client.get_run(run_id).await?;
            if inputs.iter().any(|r| r == run_id) && !run.inputs.model_inputs.iter().any(|m| m.model_id == id) {
                self.client.log_model_inputs(run_id, &[id.to_string()]).await?;
            }
            let missing: Vec<ModelOutput> = outputs
                .iter()
                .filter(|(r, step)| {
                    r == run_id && !run.outputs.model_outputs.iter().any(|o| o.model_id == id && o.step == *step)
                })
                .map(|(_, step)| ModelOutput { model_id: id.to_string(), step: *step })
                .collect();
            if !missing.is_empty() {
                self.client.log_model_outputs(run_id, &missing).await?;
            }
        }
        Ok(())
    }
}

/// A tracking server as the destination of experiments and registered models.
pub struct RestServer {
    pub(super) client: MlflowClient,
}

impl RestServer {
    pub fn new(client: MlflowClient) -> Self {
        Self { client }
    }

    pub fn client(&self) -> &MlflowClient {
        &self.client
    }
}

#[async_trait]
impl ExperimentSink for RestServer {
    async fn open_experiment(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(String, Arc<dyn RunSink>)> {
        let sink = RestSink::for_experiment(self.client.clone(), name, tags).await?;
        Ok((sink.experiment_id().to_string(), Arc::new(sink)))
    }

    async fn find_experiment(&self, name: &str) -> Result<Option<(String, Arc<dyn RunSink>)>> {
        let sink = RestSink::existing(self.client.clone(), name).await?;
        Ok(sink.map(|s| (s.experiment_id().to_string(), Arc::new(s) as Arc<dyn RunSink>)))
    }

    async fn set_permissions(
        &self,
        experiment_id: &str,
        permissions: &serde_json::Value,
        principals: &PrincipalMap,
    ) -> Result<PermissionsOutcome> {
        let kind = super::workspace::EXPERIMENT_PERMISSIONS;
        super::workspace::set_permissions(&self.client, kind, experiment_id, permissions, principals).await
    }
}

fn destination_version(v: &ModelVersion) -> DestinationVersion {
    DestinationVersion {
        version: v.version.clone(),
        stage: v.current_stage.clone(),
        description: v.description.clone(),
        tags: v.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect(),
        aliases: v.aliases.clone(),
    }
}

/// Registered model (or prompt) `dst_name` at the destination, when it was there already;
/// `None` when it was created now from `record` (its tags and description). With
/// `delete_first` an existing one is deleted first. A create whose answer was lost, or that
/// lost a race with another job creating the same name, finds the model instead.
pub(super) async fn find_or_create(
    client: &MlflowClient,
    dst_name: &str,
    record: &RegisteredModelRecord,
    delete_first: bool,
) -> Result<Option<mlflow_client::types::RegisteredModel>> {
    if delete_first {
        client.delete_registered_model(dst_name).await?;
    }
    if let Some(m) = client.get_registered_model(dst_name).await? {
        return Ok(Some(m));
    }
    let tags = key_values(&record.tags);
    let created = client
        .create_or_find(
            || async { client.create_registered_model(dst_name, record.description.as_deref(), &tags).await.map(drop) },
            || async { Ok::<_, Error>(client.get_registered_model(dst_name).await?.map(drop)) },
        )
        .await;
    match created {
        Ok(()) => Ok(None),
        Err(e) => Ok(Some(client.get_registered_model(dst_name).await?.ok_or(e)?)),
    }
}

#[async_trait]
impl ModelSink for RestServer {
    async fn open_model(
        &self,
        dst_name: &str,
        model: &RegisteredModelRecord,
        source_tracking_uri: Option<&str>,
        delete_first: bool,
        keep_numbers: bool,
    ) -> Result<ModelState> {
        let client = &self.client;
        let existing = find_or_create(client, dst_name, model, delete_first).await?;
        if let Some(m) = &existing {
            if m.tags.iter().any(|t| t.key == prompt_tags::IS_PROMPT && t.value.eq_ignore_ascii_case("true")) {
                return Err(Error::Input(format!(
                    "{dst_name:?} is a prompt at the destination, not a registered model"
                )));
            }
            // Brought in step with the source: a tag or description changed there since an
            // earlier copy changes here too; tags only the destination has are kept.
            for (k, v) in model.tags.iter().filter(|(k, _)| !k.starts_with(identity::PREFIX)) {
                if !m.tags.iter().any(|t| &t.key == k && &t.value == v) {
                    client.set_registered_model_tag(dst_name, k, v).await?;
                }
            }
            let description = model.description.as_deref().unwrap_or_default();
            if description != m.description.as_deref().unwrap_or_default() {
                client.update_registered_model_description(dst_name, description).await?;
            }
        }
        let tracking_uri = source_tracking_uri.map(mlflow_client::redact);
        let mut ours: HashMap<String, ModelVersion> = HashMap::new();
        let mut foreign = 0usize;
        let unity_catalog = client.is_unity_catalog();
        for v in client.search_model_versions_of(dst_name).await? {
            let copy = copied_version(&v, &model.name, tracking_uri.as_deref());
            // A Unity Catalog copy not finalized has not all its files: made again.
            let unfinished = unity_catalog && copy.is_some() && v.status.as_deref() != Some("READY");
            if v.tags.iter().any(|t| t.key == PLACEHOLDER) || unfinished {
                // Left by an interrupted earlier attempt.
                client.delete_model_version(dst_name, &v.version).await?;
            } else if let Some(src) = copy {
                ours.insert(src.to_string(), v.clone());
            } else {
                foreign += 1;
            }
        }
        // Numbers can be steered only while the model holds nothing but our copies (and are not
        // in Unity Catalog, whose versions are made in two steps).
        let keep_numbers = keep_numbers && foreign == 0 && !unity_catalog;
        if keep_numbers {
            // A job killed between creating a version and burning its number (one that belongs
            // to a deleted source version) left our copy under a number too low: burn it now, and
            // the version is made again under its own. A copy above its number (the registry had
            // already passed it) is what creating it again would give too: it stays.
            let misnumbered: Vec<String> = ours
                .iter()
                .filter(|(src, v)| version_number(&v.version) < version_number(src))
                .map(|(src, _)| src.clone())
                .collect();
            for src in misnumbered {
                if let Some(v) = ours.remove(&src) {
                    client.delete_model_version(dst_name, &v.version).await?;
                }
            }
        }
        let ours = ours.iter().map(|(src, v)| (src.clone(), destination_version(v))).collect();
        Ok(ModelState { dst_name: dst_name.to_string(), ours, keep_numbers })
    }

    async fn run_artifact_uri(&self, run_id: &str) -> Result<String> {
        Ok(self.client.get_run(run_id).await?.info.artifact_uri.unwrap_or_default())
    }

    async fn create_version(&self, state: &ModelState, v: &NewVersion, wait: Duration) -> Result<DestinationVersion> {
        let (client, dst_name) = (&self.client, &state.dst_name);
        let tracking_uri = v.source_tracking_uri.as_deref().map(mlflow_client::redact);
        let mut tags = key_values(&v.tags);
        tags.push(KeyValue::new(SOURCE_MODEL, &v.src_model));
        tags.push(KeyValue::new(SOURCE_VERSION, &v.src_version));
        if let Some(u) = &tracking_uri {
            tags.push(KeyValue::new(SOURCE_TRACKING_URI, u));
        }
        let request = ModelVersionCreate {
            name: dst_name.clone(),
            source: v.source.clone(),
            run_id: v.run_id.clone(),
            run_link: v.run_link.clone(),
            description: v.description.clone(),
            tags,
            model_id: v.model_id.clone(),
        };
        let want = version_number(&v.src_version);
        let created = loop {
            let created = client
                .create_or_find(
                    || client.create_model_version(&request),
                    || find_version(client, dst_name, &v.src_model, &v.src_version, tracking_uri.as_deref()),
                )
                .await?;
            if !state.keep_numbers || version_number(&created.version) >= want {
                break created;
            }
            // Too low: this number belongs to a deleted source version. Burn it.
            client.set_model_version_tag(dst_name, &created.version, PLACEHOLDER, "true").await?;
            client.delete_model_version(dst_name, &created.version).await?;
        };
        let created = if client.is_unity_catalog() && created.status.as_deref() == Some("PENDING_REGISTRATION") {
            match super::unity_catalog::write_and_finalize(client, dst_name, &created, v).await {
                Ok(ready) => ready,
                Err(e) => {
                    // No version is left pending: a re-run makes it again.
                    if let Err(cleanup) = client.delete_model_version(dst_name, &created.version).await {
                        tracing::warn!("version {} of {dst_name} left pending: {cleanup}", created.version);
                    }
                    return Err(e);
                }
            }
        } else {
            created
        };
        Ok(destination_version(&wait_ready(client, dst_name, &created, wait).await?))
    }

    async fn set_stage(&self, dst_name: &str, v: &DestinationVersion, stage: &str, as_alias: bool) -> Result<bool> {
        if !self.client.is_unity_catalog() {
            if stage.eq_ignore_ascii_case(v.stage.as_deref().unwrap_or("None")) {
                return Ok(false);
            }
            self.client.transition_model_version_stage(dst_name, &v.version, stage, false).await?;
            return Ok(true);
        }
        // Unity Catalog has no stages: the stage is kept as a tag, and with `as_alias` an alias
        // named after it points at the version.
        if stage.eq_ignore_ascii_case("None") {
            return Ok(false);
        }
        let mut changed = false;
        if v.tags.get(identity::REFUSED_STAGE).map(String::as_str) != Some(stage) {
            self.client.set_model_version_tag(dst_name, &v.version, identity::REFUSED_STAGE, stage).await?;
            changed = true;
        }
        let alias = stage.to_ascii_lowercase();
        if as_alias && !v.aliases.contains(&alias) {
            self.client.set_registered_model_alias(dst_name, &alias, &v.version).await?;
            changed = true;
        }
        Ok(changed)
    }

    async fn update_version(
        &self,
        dst_name: &str,
        v: &DestinationVersion,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool> {
        let mut changed = false;
        let description = description.unwrap_or_default();
        if description != v.description.as_deref().unwrap_or_default() {
            self.client.update_model_version_description(dst_name, &v.version, description).await?;
            changed = true;
        }
        // A source that is itself a copy carries identity tags of its own: the copy keeps ours.
        for (k, value) in tags.iter().filter(|(k, _)| !k.starts_with(identity::PREFIX)) {
            if v.tags.get(k) != Some(value) {
                self.client.set_model_version_tag(dst_name, &v.version, k, value).await?;
                changed = true;
            }
        }
        Ok(changed)
    }

    async fn set_aliases(&self, dst_name: &str, aliases: &[(String, String)]) -> Result<()> {
        for (alias, version) in aliases {
            self.client.set_registered_model_alias(dst_name, alias, version).await?;
        }
        Ok(())
    }

    async fn set_permissions(
        &self,
        dst_name: &str,
        permissions: &serde_json::Value,
        principals: &PrincipalMap,
    ) -> Result<PermissionsOutcome> {
        if !self.client.is_databricks() {
            return Err(crate::store::tracking::no_permissions(self.client.base_url()));
        }
        if self.client.is_unity_catalog() {
            return super::workspace::set_uc_grants(&self.client, dst_name, permissions, principals).await;
        }
        let id = self.client.databricks_registered_model_id(dst_name).await?;
        let kind = super::workspace::MODEL_PERMISSIONS;
        super::workspace::set_permissions(&self.client, kind, &id, permissions, principals).await
    }
}

/// The newest live version of `dst_name` that is our copy of `src_version` (by its identity
/// tags): what a create whose answer was lost has made.
async fn find_version(
    client: &MlflowClient,
    dst_name: &str,
    src_model: &str,
    src_version: &str,
    tracking_uri: Option<&str>,
) -> Result<Option<ModelVersion>> {
    let versions = client.search_model_versions_of(dst_name).await?;
    Ok(versions
        .into_iter()
        .filter(|v| copied_version(v, src_model, tracking_uri) == Some(src_version))
        .max_by_key(|v| version_number(&v.version)))
}

/// Servers that register asynchronously answer PENDING_REGISTRATION; stages and aliases need
/// a READY version.
async fn wait_ready(client: &MlflowClient, name: &str, v: &ModelVersion, limit: Duration) -> Result<ModelVersion> {
    let started = Instant::now();
    let mut current = v.clone();
    while current.status.as_deref() == Some("PENDING_REGISTRATION") {
        if started.elapsed() > limit {
            return Err(Error::Pending(format!(
                "version {} of {name} still pending registration after {}s",
                v.version,
                limit.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        current = client.get_model_version(name, &v.version).await?.unwrap_or(current);
    }
    if current.status.as_deref() == Some("FAILED_REGISTRATION") {
        return Err(Error::Unsupported(format!(
            "version {} of {name} failed to register at the destination: {}",
            v.version,
            current.status_message.as_deref().unwrap_or("")
        )));
    }
    Ok(current)
}
