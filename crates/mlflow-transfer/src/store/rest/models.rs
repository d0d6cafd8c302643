//! A tracking server's registry and MLflow 3 logged models: reading registered models with
//! their versions, and logged models as a source and a sink.

use std::{collections::HashMap, sync::Mutex};

use async_trait::async_trait;
use mlflow_client::{
    types::{KeyValue, LoggedModel, ModelVersion, RegisteredModel},
    MlflowClient,
};

use super::RestSource;
use crate::{
    identity::SOURCE_MODEL_ID,
    model::{key_values, version_number, ArtifactFile, LoggedModelRecord, ModelVersionRecord, RegisteredModelRecord},
    select::{ExperimentSpec, VersionFilter},
    store::{
        artifact_root::{ArtifactRoot, ArtifactRoots},
        object::ObjectLocation,
        ByteStream, LoggedModelSink, LoggedModelSource, Target,
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
        Ok(model_record(model, versions))
    }

    /// Every registered model with all its versions (for listings). Versions are read per
    /// model, because the registry's own `latest_versions` holds one per stage only.
    pub async fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let mut out = Vec::new();
        for m in self.client.search_registered_models("").await? {
            let mut versions: Vec<ModelVersionRecord> =
                self.client.search_model_versions_of(&m.name).await?.into_iter().map(version_record).collect();
            versions.sort_by_key(|v| version_number(&v.version));
            out.push(model_record(m, versions));
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

fn model_record(m: RegisteredModel, versions: Vec<ModelVersionRecord>) -> RegisteredModelRecord {
    RegisteredModelRecord {
        name: m.name,
        description: m.description.filter(|d| !d.is_empty()),
        tags: m.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        aliases: m.aliases.into_iter().map(|a| (a.alias, a.version)).collect(),
        creation_timestamp: m.creation_timestamp,
        last_updated_timestamp: m.last_updated_timestamp,
        versions,
    }
}

fn version_record(v: ModelVersion) -> ModelVersionRecord {
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

fn logged_model_record(m: LoggedModel) -> LoggedModelRecord {
    let pairs = |kv: Vec<KeyValue>| kv.into_iter().map(|t| (t.key, t.value)).collect();
    LoggedModelRecord {
        model_id: m.info.model_id,
        name: m.info.name,
        model_type: m.info.model_type,
        params: pairs(m.data.params),
        tags: pairs(m.info.tags),
        artifact_uri: m.info.artifact_uri,
    }
}

#[async_trait]
impl LoggedModelSource for RestSource {
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord> {
        Ok(logged_model_record(self.client.get_logged_model(model_id).await?))
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
}

impl RestLoggedModelSink {
    pub fn new(client: MlflowClient) -> Self {
        Self { artifacts: ArtifactRoots::new(client.clone()), client, dests: Mutex::default() }
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
    /// was marked failed.
    async fn copies(&self, experiment_id: &str, source_id: &str) -> Result<Vec<LoggedModel>> {
        let all = self.client.search_logged_models(experiment_id).await?;
        Ok(all
            .into_iter()
            .filter(|m| m.info.tags.iter().any(|t| t.key == SOURCE_MODEL_ID && t.value == source_id))
            .filter(|m| m.info.status.as_deref() != Some("LOGGED_MODEL_UPLOAD_FAILED"))
            .collect())
    }
}

const READY: &str = "LOGGED_MODEL_READY";

#[async_trait]
impl LoggedModelSink for RestLoggedModelSink {
    async fn begin_logged_model(
        &self,
        model: &LoggedModelRecord,
        dst_run: Option<&str>,
        _source_tracking_uri: Option<&str>,
    ) -> Result<Target> {
        let dst_run = dst_run.ok_or_else(|| {
            Error::Unsupported(format!("logged model {}: its run has no copy at the destination", model.model_id))
        })?;
        let experiment_id = self.client.get_run(dst_run).await?.info.experiment_id;
        let found = self.copies(&experiment_id, &model.model_id).await?;
        if let Some(done) = found.iter().find(|m| m.info.status.as_deref() == Some(READY)) {
            return Ok(Target::Complete(done.info.model_id.clone()));
        }
        if let Some(partial) = found.first() {
            // Created by an interrupted attempt and never finalized: its files are written
            // again (each upload replaces the file) and it is finalized.
            self.remember(partial)?;
            return Ok(Target::Resumed(partial.info.model_id.clone()));
        }
        // The registry writes `mlflow.modelVersions` itself when a version is created; a copy of
        // a copy names only the model it was made from.
        let mut tags: Vec<KeyValue> = key_values(&model.tags)
            .into_iter()
            .filter(|t| t.key != "mlflow.modelVersions" && t.key != SOURCE_MODEL_ID)
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
                            Some(dst_run),
                            &params,
                            &tags,
                        )
                        .await?;
                    Ok::<_, mlflow_client::Error>((Target::Created(m.info.model_id.clone()), m))
                },
                || async {
                    let found = self.copies(&experiment_id, &model.model_id).await?;
                    Ok::<_, Error>(found.into_iter().next().map(|m| (Target::Resumed(m.info.model_id.clone()), m)))
                },
            )
            .await?;
        self.remember(&created.1)?;
        Ok(created.0)
    }

    async fn write_model_file(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        self.artifacts.write(&self.dest(target)?, &file.path, file.size, data).await
    }

    async fn copy_model_file(&self, target: &Target, file: &ArtifactFile, from: &ObjectLocation) -> Result<bool> {
        ArtifactRoots::copy(&self.dest(target)?, from, &file.path, file.size).await
    }

    async fn finish_logged_model(&self, target: &Target, _model: &LoggedModelRecord) -> Result<()> {
        self.client.finalize_logged_model(target.id()).await?;
        Ok(())
    }
}
