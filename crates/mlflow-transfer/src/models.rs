//! Registered models: export to a folder, import from one, copy between servers.
//!
//! The runs behind a model's versions move first, once each, through the same job machinery
//! as any run (so they are idempotent and resumable); then the model and its versions are
//! written, one model's versions strictly in order. Each version created carries
//! source-identity tags, so a re-import finds it and only re-applies stages and aliases.
//! When the destination model holds nothing but our copies, version numbers are kept: a gap
//! left by a deleted source version is reproduced by creating and deleting a placeholder, which
//! is how the registry's numbering (highest number ever used, plus one) can be steered.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::Path,
    sync::Arc,
    time::{Duration, Instant},
};

use mlflow_client::{
    api::ModelVersionCreate,
    types::{KeyValue, ModelVersion, RegisteredModel},
    MlflowClient,
};
use serde::Serialize;

use crate::{
    experiments::{ExportTarget, JobResult},
    format::{
        model_json::{read_model_dir, read_models_dir, write_model_json, write_models_json},
        ExportSystem,
    },
    job::{transfer_all, PlannedRun},
    logged_models::{copy_logged_model, export_logged_model, logged_model_id, LoggedModelSource},
    model::{ModelVersionRecord, RegisteredModelRecord},
    select::{ExperimentSpec, RunFilter},
    store::{
        dir::{read_run_dir, DirSink, DirSource},
        local,
        rest::{RestSink, RestSource},
        RunSink, RunSource,
    },
    transfer::JobContext,
    Error, Result,
};

/// Tag on a copied version naming the source model.
pub const SOURCE_MODEL: &str = "mlflow_export_import.source.model";
/// Tag on a copied version naming the source version number.
pub const SOURCE_VERSION: &str = "mlflow_export_import.source.version";
/// Tag on a version created only to advance the numbering; such versions are deleted.
pub const PLACEHOLDER: &str = "mlflow_export_import.placeholder";

/// `--stages`, `--versions`, `--export-latest-versions`.
#[derive(Debug, Clone, Default)]
pub struct VersionFilter {
    pub stages: Option<Vec<String>>,
    pub versions: Option<Vec<String>>,
    /// Only the latest version of each stage.
    pub latest_only: bool,
}

impl VersionFilter {
    fn apply(&self, versions: Vec<ModelVersionRecord>) -> Vec<ModelVersionRecord> {
        let stage = |v: &ModelVersionRecord| v.current_stage.clone().unwrap_or_else(|| "None".into());
        let mut kept: Vec<ModelVersionRecord> = versions
            .into_iter()
            .filter(|v| self.versions.as_ref().is_none_or(|want| want.contains(&v.version)))
            .filter(|v| self.stages.as_ref().is_none_or(|want| want.iter().any(|s| s.eq_ignore_ascii_case(&stage(v)))))
            .collect();
        if self.latest_only {
            let mut latest: BTreeMap<String, u64> = BTreeMap::new();
            for v in &kept {
                let n = number(&v.version);
                latest.entry(stage(v).to_ascii_lowercase()).and_modify(|m| *m = (*m).max(n)).or_insert(n);
            }
            kept.retain(|v| latest.get(&stage(v).to_ascii_lowercase()) == Some(&number(&v.version)));
        }
        kept
    }
}

fn number(version: &str) -> u64 {
    version.parse().unwrap_or(0)
}

/// The result for one registered model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOutcome {
    pub source_name: String,
    pub destination: Option<String>,
    pub versions_created: usize,
    pub versions_skipped: usize,
    /// Source version → destination version.
    pub versions: BTreeMap<String, String>,
    /// Source version → why it could not be written.
    pub failed_versions: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ModelOutcome {
    fn new(source_name: &str) -> Self {
        Self {
            source_name: source_name.to_string(),
            destination: None,
            versions_created: 0,
            versions_skipped: 0,
            versions: BTreeMap::new(),
            failed_versions: BTreeMap::new(),
            error: None,
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some() || !self.failed_versions.is_empty()
    }
}

/// Reads a model and its versions from a server; the versions' runs are located (and kept
/// for the transfer that follows).
pub async fn read_model(source: &RestSource, name: &str, filter: &VersionFilter) -> Result<RegisteredModelRecord> {
    let client = source.client();
    let Some(model) = client.get_registered_model(name).await? else {
        return Err(Error::NotFound(format!("registered model {name:?} does not exist at {}", client.base_url())));
    };
    let mut versions: Vec<ModelVersionRecord> =
        client.search_model_versions_of(name).await?.into_iter().map(version_record).collect();
    versions.sort_by_key(|v| number(&v.version));
    let mut versions = filter.apply(versions);
    let mut located: HashMap<String, Option<(Option<String>, String)>> = HashMap::new();
    for v in &mut versions {
        let Some(run_id) = v.run_id.clone() else { continue };
        if !located.contains_key(&run_id) {
            located.insert(run_id.clone(), source.run_location(&run_id).await?);
        }
        if let Some(Some((uri, experiment))) = located.get(&run_id) {
            v.run_artifact_uri = uri.clone();
            v.experiment_name = Some(experiment.clone());
        }
    }
    Ok(model_record(model, versions))
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

/// Every registered model with all its versions (for listings). Versions are read per model,
/// because the registry's own `latest_versions` holds one per stage only.
pub async fn list_models(source: &RestSource) -> Result<Vec<RegisteredModelRecord>> {
    let client = source.client();
    let mut out = Vec::new();
    for m in client.search_registered_models("").await? {
        let mut versions: Vec<ModelVersionRecord> =
            client.search_model_versions_of(&m.name).await?.into_iter().map(version_record).collect();
        versions.sort_by_key(|v| number(&v.version));
        out.push(model_record(m, versions));
    }
    Ok(out)
}

/// Where a version's files sit inside its run's artifacts, for any way `source` may be written:
/// `runs:/<run_id>/<path>`, or the run's artifact root (any scheme) followed by the path.
pub fn source_path_in_run(source: &str, run_id: &str, run_artifact_uri: Option<&str>) -> Option<String> {
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (id, path) = rest.split_once('/').unwrap_or((rest, ""));
        return (id == run_id).then(|| path.trim_matches('/').to_string());
    }
    let root = run_artifact_uri?.trim_end_matches('/');
    let relative = |s: &str| {
        s.strip_prefix(root)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| rest.trim_matches('/').to_string())
    };
    relative(source).or_else(|| {
        // The same local folder written as `/x` in one place and `file:///x` in the other.
        let (a, b) = (local::local_root(source)?, local::local_root(root)?);
        a.strip_prefix(&b).ok().and_then(|p| p.to_str()).map(str::to_string)
    })
}

/// How models are written.
#[derive(Debug, Clone)]
pub struct ModelWriteOptions {
    /// Delete the destination model (and its versions) first, `--delete-model`.
    pub delete_model: bool,
    /// How long to wait for a version to leave PENDING_REGISTRATION, `--await-creation-for`.
    pub await_creation: Duration,
    /// Apply stages and aliases (`copy-model-version` makes this optional).
    pub stages_and_aliases: bool,
    /// Reproduce source version numbers (not wanted when copying single versions).
    pub keep_numbers: bool,
    /// Where versions registered from MLflow 3 logged models find them.
    pub logged_models: Option<LoggedModelSource>,
}

impl Default for ModelWriteOptions {
    fn default() -> Self {
        Self {
            delete_model: false,
            await_creation: Duration::from_secs(300),
            stages_and_aliases: true,
            keep_numbers: true,
            logged_models: None,
        }
    }
}

/// Writes a model and its versions to a server; the versions' runs must already be there
/// (their destination ids in `ctx.ids`). Never stops at a bad version.
pub async fn write_model(
    client: &MlflowClient,
    dst_name: &str,
    model: &RegisteredModelRecord,
    source_tracking_uri: Option<&str>,
    ctx: &JobContext,
    opts: &ModelWriteOptions,
) -> ModelOutcome {
    let mut outcome = ModelOutcome::new(&model.name);
    if let Err(e) = try_write_model(client, dst_name, model, source_tracking_uri, ctx, opts, &mut outcome).await {
        outcome.error = Some(format!("model {dst_name:?}: {e}"));
    }
    outcome
}

async fn try_write_model(
    client: &MlflowClient,
    dst_name: &str,
    model: &RegisteredModelRecord,
    source_tracking_uri: Option<&str>,
    ctx: &JobContext,
    opts: &ModelWriteOptions,
    outcome: &mut ModelOutcome,
) -> Result<()> {
    if opts.delete_model {
        client.delete_registered_model(dst_name).await?;
    }
    let existing = match client.get_registered_model(dst_name).await? {
        Some(m) => Some(m),
        None => {
            let tags = kv(&model.tags);
            let created = client
                .create_or_find(
                    || async {
                        client.create_registered_model(dst_name, model.description.as_deref(), &tags).await.map(drop)
                    },
                    || async { Ok::<_, Error>(client.get_registered_model(dst_name).await?.map(drop)) },
                )
                .await;
            match created {
                Ok(()) => None,
                // Lost a race with another job creating the same name.
                Err(e) => Some(client.get_registered_model(dst_name).await?.ok_or(e)?),
            }
        }
    };
    if let Some(m) = &existing {
        for (k, v) in &model.tags {
            if !m.tags.iter().any(|t| &t.key == k) {
                client.set_registered_model_tag(dst_name, k, v).await?;
            }
        }
        if let (Some(d), true) = (&model.description, m.description.as_deref().unwrap_or("").is_empty()) {
            client.update_registered_model_description(dst_name, d).await?;
        }
    }
    outcome.destination = Some(dst_name.to_string());

    let tracking_uri = source_tracking_uri.map(mlflow_client::redact);
    let mut ours: HashMap<String, ModelVersion> = HashMap::new();
    let mut foreign = 0usize;
    for v in client.search_model_versions_of(dst_name).await? {
        if v.tags.iter().any(|t| t.key == PLACEHOLDER) {
            // Left by an interrupted earlier attempt.
            client.delete_model_version(dst_name, &v.version).await?;
        } else if let Some(src) = copied_version(&v, &model.name, tracking_uri.as_deref()) {
            ours.insert(src.to_string(), v.clone());
        } else {
            foreign += 1;
        }
    }
    // Numbers can be steered only while the model holds nothing but our copies.
    let keep_numbers = opts.keep_numbers && foreign == 0;
    if keep_numbers {
        // A job killed between creating a version and burning its number (one that belongs to a
        // deleted source version) left our copy under the wrong number: burn it now, and the
        // version is made again under its own.
        let misnumbered: Vec<String> =
            ours.iter().filter(|(src, v)| number(&v.version) != number(src)).map(|(src, _)| src.clone()).collect();
        for src in misnumbered {
            if let Some(v) = ours.remove(&src) {
                client.delete_model_version(dst_name, &v.version).await?;
            }
        }
    }
    for v in &model.versions {
        if let Some(existing) = ours.get(&v.version) {
            outcome.versions.insert(v.version.clone(), existing.version.clone());
            outcome.versions_skipped += 1;
            if opts.stages_and_aliases {
                apply_stage(client, dst_name, &existing.version, existing.current_stage.as_deref(), v).await?;
            }
            continue;
        }
        match create_version(client, dst_name, model, v, tracking_uri.as_deref(), ctx, keep_numbers, opts).await {
            Ok(created) => {
                outcome.versions.insert(v.version.clone(), created.clone());
                outcome.versions_created += 1;
            }
            Err(e) => {
                outcome.failed_versions.insert(v.version.clone(), e.to_string());
            }
        }
    }
    if opts.stages_and_aliases {
        for (alias, src_version) in &model.aliases {
            if let Some(dst_version) = outcome.versions.get(src_version) {
                client.set_registered_model_alias(dst_name, alias, dst_version).await?;
            }
        }
    }
    Ok(())
}

/// Creates one version (after placeholders for a numbering gap when numbers are kept), waits
/// until it is ready, and sets its stage. Returns the destination version number.
#[allow(clippy::too_many_arguments)]
async fn create_version(
    client: &MlflowClient,
    dst_name: &str,
    model: &RegisteredModelRecord,
    v: &ModelVersionRecord,
    tracking_uri: Option<&str>,
    ctx: &JobContext,
    keep_numbers: bool,
    opts: &ModelWriteOptions,
) -> Result<String> {
    let (source, run_id, model_id) = match version_files(v, ctx) {
        VersionFiles::InRun { src_run, dst_run } => {
            let dst_run_info = client.get_run(&dst_run).await?.info;
            let (source, model_id) = match logged_model_id(&v.source) {
                Some(src_model) => {
                    let from = opts.logged_models.as_ref().ok_or_else(|| {
                        Error::Unsupported(format!(
                            "version {}: its files are in MLflow 3 logged model {src_model}, which this export does not hold",
                            v.version
                        ))
                    })?;
                    let dst_model = copy_logged_model(from, client, src_model, &dst_run_info).await?;
                    (format!("models:/{dst_model}"), Some(dst_model))
                }
                None => {
                    let path =
                        source_path_in_run(&v.source, &src_run, v.run_artifact_uri.as_deref()).ok_or_else(|| {
                            Error::Unsupported(format!(
                                "version {}: source {:?} is not inside the artifacts of its run {src_run} ({:?})",
                                v.version, v.source, v.run_artifact_uri
                            ))
                        })?;
                    let root = dst_run_info.artifact_uri.clone().unwrap_or_default();
                    (if path.is_empty() { root } else { format!("{}/{path}", root.trim_end_matches('/')) }, None)
                }
            };
            (source, Some(dst_run), model_id)
        }
        VersionFiles::Shared => (v.source.clone(), None, None),
        VersionFiles::Unreachable(why) => return Err(Error::Unsupported(format!("version {}: {why}", v.version))),
    };
    let mut tags = kv(&v.tags);
    tags.push(KeyValue::new(SOURCE_MODEL, &model.name));
    tags.push(KeyValue::new(SOURCE_VERSION, &v.version));
    if let Some(u) = tracking_uri {
        tags.push(KeyValue::new(crate::identity::SOURCE_TRACKING_URI, u));
    }
    let request = ModelVersionCreate {
        name: dst_name.to_string(),
        source,
        run_id,
        run_link: v.run_link.clone(),
        description: v.description.clone(),
        tags,
        model_id,
    };
    let want = number(&v.version);
    let created = loop {
        let created = client
            .create_or_find(
                || client.create_model_version(&request),
                || find_version(client, dst_name, &model.name, &v.version, tracking_uri),
            )
            .await?;
        if !keep_numbers || number(&created.version) >= want {
            break created;
        }
        // Too low: this number belongs to a deleted source version. Burn it.
        client.set_model_version_tag(dst_name, &created.version, PLACEHOLDER, "true").await?;
        client.delete_model_version(dst_name, &created.version).await?;
    };
    let ready = wait_ready(client, dst_name, &created, opts.await_creation).await?;
    if opts.stages_and_aliases {
        apply_stage(client, dst_name, &ready.version, ready.current_stage.as_deref(), v).await?;
    }
    Ok(ready.version)
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
        .max_by_key(|v| number(&v.version)))
}

/// The source version a destination version is our copy of, by its identity tags.
fn copied_version<'a>(v: &'a ModelVersion, src_model: &str, tracking_uri: Option<&str>) -> Option<&'a str> {
    let tag = |k: &str| v.tags.iter().find(|t| t.key == k).map(|t| t.value.as_str());
    let same_server = tracking_uri.is_none_or(|u| tag(crate::identity::SOURCE_TRACKING_URI).is_none_or(|t| t == u));
    (tag(SOURCE_MODEL) == Some(src_model) && same_server).then(|| tag(SOURCE_VERSION)).flatten()
}

/// Where a version's files come from at the destination.
enum VersionFiles {
    /// In its run, copied as `dst_run`.
    InRun {
        src_run: String,
        dst_run: String,
    },
    /// In a store both servers reach by absolute URI (`s3://…`, `dbfs:/…`): the new version
    /// points at the same files, as the Python tool does.
    Shared,
    Unreachable(String),
}

/// Absolute URIs of stores outside the tracking server, which a registry accepts without a run.
const SHARED_SCHEMES: [&str; 8] = ["s3://", "s3a://", "gs://", "wasbs://", "abfss://", "dbfs:/", "hdfs://", "oss://"];

fn version_files(v: &ModelVersionRecord, ctx: &JobContext) -> VersionFiles {
    match v.run_id.as_deref().map(|r| (r, ctx.ids.get(r).flatten())) {
        Some((src_run, Some(dst_run))) => VersionFiles::InRun { src_run: src_run.to_string(), dst_run },
        _ if SHARED_SCHEMES.iter().any(|s| v.source.starts_with(s)) => VersionFiles::Shared,
        Some((src_run, None)) => VersionFiles::Unreachable(format!(
            "its run {src_run} was not copied (see the run's error, or it no longer exists)"
        )),
        None => VersionFiles::Unreachable(format!(
            "it has no run and its source {:?} is not in a store both servers reach; such versions are not supported",
            v.source
        )),
    }
}

/// Servers that register asynchronously answer PENDING_REGISTRATION; stages and aliases need
/// a READY version.
async fn wait_ready(client: &MlflowClient, name: &str, v: &ModelVersion, limit: Duration) -> Result<ModelVersion> {
    let started = Instant::now();
    let mut current = v.clone();
    while current.status.as_deref() == Some("PENDING_REGISTRATION") {
        if started.elapsed() > limit {
            return Err(Error::Input(format!("version {} still pending after {}s", v.version, limit.as_secs())));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        current = client.get_model_version(name, &v.version).await?.unwrap_or(current);
    }
    if current.status.as_deref() == Some("FAILED_REGISTRATION") {
        return Err(Error::Input(format!(
            "version {} failed to register: {}",
            v.version,
            current.status_message.as_deref().unwrap_or("")
        )));
    }
    Ok(current)
}

async fn apply_stage(
    client: &MlflowClient,
    name: &str,
    dst_version: &str,
    dst_stage: Option<&str>,
    v: &ModelVersionRecord,
) -> Result<()> {
    let want = v.current_stage.as_deref().unwrap_or("None");
    if !want.eq_ignore_ascii_case(dst_stage.unwrap_or("None")) {
        client.transition_model_version_stage(name, dst_version, want, false).await?;
    }
    Ok(())
}

fn kv(map: &BTreeMap<String, String>) -> Vec<KeyValue> {
    map.iter().map(|(k, v)| KeyValue::new(k, v)).collect()
}

/// The distinct runs behind the versions, in version order.
fn version_runs(model: &RegisteredModelRecord) -> Vec<String> {
    let mut seen = BTreeSet::new();
    model.versions.iter().filter_map(|v| v.run_id.clone()).filter(|r| seen.insert(r.clone())).collect()
}

/// Exports one model: `<out>/model.json` and each version's run once at `<out>/<run_id>/`.
pub async fn export_model(
    source: Arc<RestSource>,
    name: &str,
    filter: &VersionFilter,
    out: &Path,
    system: &ExportSystem,
    ctx: &JobContext,
    concurrency: usize,
) -> Result<JobResult> {
    let model = read_model(&source, name, filter).await?;
    let runs = version_runs(&model)
        .into_iter()
        .map(|run_id| {
            let sink: Arc<dyn RunSink> = Arc::new(DirSink::new(out.join(&run_id), system.clone()));
            PlannedRun { run_id, parent: None, source: source.clone(), sink }
        })
        .collect();
    let outcomes = transfer_all(runs, ctx, concurrency).await;
    std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
    let mut outcome = ModelOutcome::new(name);
    export_logged_models(source.client(), &model, out, &mut outcome).await;
    let json = serde_json::to_vec_pretty(&write_model_json(&model, system)).expect("JSON values always serialize");
    local::write_atomic(&out.join("model.json"), &json)?;
    outcome.destination = Some(out.display().to_string());
    outcome.versions = model.versions.iter().map(|v| (v.version.clone(), v.version.clone())).collect();
    outcome.versions_created = model.versions.len();
    Ok(JobResult { experiments: Vec::new(), runs: outcomes, models: vec![outcome] })
}

/// Writes the logged models behind a model's versions into its export folder; a failure is
/// recorded against the version.
async fn export_logged_models(
    client: &MlflowClient,
    model: &RegisteredModelRecord,
    dir: &Path,
    outcome: &mut ModelOutcome,
) {
    for v in &model.versions {
        if let Some(id) = logged_model_id(&v.source) {
            if let Err(e) = export_logged_model(client, id, dir).await {
                outcome.failed_versions.insert(v.version.clone(), format!("logged model {id}: {e}"));
            }
        }
    }
}

/// Imports a model folder made by `export-model`: its runs into `experiment`, then the model.
pub async fn import_model(
    client: MlflowClient,
    dir: &Path,
    dst_name: &str,
    experiment: &str,
    ctx: &JobContext,
    opts: &ModelWriteOptions,
    concurrency: usize,
) -> Result<JobResult> {
    let md = read_model_dir(dir).map_err(Error::from)?;
    let sink: Arc<dyn RunSink> =
        Arc::new(RestSink::for_experiment(client.clone(), experiment, &BTreeMap::new()).await?);
    let source: Arc<dyn RunSource> =
        Arc::new(DirSource::tree(md.runs.iter().map(|r| (r.run_id.clone(), r.dir.clone()))));
    let runs = md
        .runs
        .iter()
        .map(|r| PlannedRun {
            run_id: r.run_id.clone(),
            parent: read_run_dir(&r.dir).ok().and_then(|j| j.run.tags.get("mlflow.parentRunId").cloned()),
            source: source.clone(),
            sink: sink.clone(),
        })
        .collect();
    let outcomes = transfer_all(runs, ctx, concurrency).await;
    let opts = ModelWriteOptions { logged_models: Some(LoggedModelSource::Export(dir.to_path_buf())), ..opts.clone() };
    let model = write_model(&client, dst_name, &md.model, md.tracking_uri.as_deref(), ctx, &opts).await;
    Ok(JobResult { experiments: Vec::new(), runs: outcomes, models: vec![model] })
}

/// Copies a model between servers: each version's run into the experiment of the same name
/// (or `dst_experiment`), then the model.
#[allow(clippy::too_many_arguments)]
pub async fn copy_model(
    source: Arc<RestSource>,
    name: &str,
    filter: &VersionFilter,
    dst: MlflowClient,
    dst_name: &str,
    dst_experiment: Option<&str>,
    ctx: &JobContext,
    opts: &ModelWriteOptions,
    concurrency: usize,
) -> Result<JobResult> {
    let model = read_model(&source, name, filter).await?;
    let mut sinks: HashMap<String, Arc<dyn RunSink>> = HashMap::new();
    let mut runs = Vec::new();
    for run_id in version_runs(&model) {
        let Some(v) = model.versions.iter().find(|v| v.run_id.as_deref() == Some(run_id.as_str())) else { continue };
        let Some(experiment) = dst_experiment.map(str::to_string).or_else(|| v.experiment_name.clone()) else {
            continue; // The run no longer exists at the source; its versions fail with that reason.
        };
        let sink = match sinks.get(&experiment) {
            Some(s) => s.clone(),
            None => {
                let s: Arc<dyn RunSink> =
                    Arc::new(RestSink::for_experiment(dst.clone(), &experiment, &BTreeMap::new()).await?);
                sinks.insert(experiment, s.clone());
                s
            }
        };
        runs.push(PlannedRun { run_id, parent: None, source: source.clone(), sink });
    }
    let outcomes = transfer_all(runs, ctx, concurrency).await;
    let tracking_uri = source.client().base_url().to_string();
    let opts =
        ModelWriteOptions { logged_models: Some(LoggedModelSource::server(source.client().clone())), ..opts.clone() };
    let model = write_model(&dst, dst_name, &model, Some(&tracking_uri), ctx, &opts).await;
    Ok(JobResult { experiments: Vec::new(), runs: outcomes, models: vec![model] })
}

/// Registered model names for `--models`: `all`, `prefix*`, or a list (comma or `.txt`).
pub async fn select_models(source: &RestSource, spec: &ExperimentSpec) -> Result<Vec<String>> {
    let client = source.client();
    match spec {
        ExperimentSpec::List(names) => Ok(names.clone()),
        ExperimentSpec::All => Ok(client.search_registered_models("").await?.into_iter().map(|m| m.name).collect()),
        ExperimentSpec::Prefix(p) => Ok(client
            .search_registered_models("")
            .await?
            .into_iter()
            .map(|m| m.name)
            .filter(|n| n.starts_with(p.as_str()))
            .collect()),
    }
}

/// Exports several models the way the Python tool's `export-models` lays them out: the
/// versions' runs once each in `<out>/experiments/` (whole experiments with `all_runs`), the
/// models in `<out>/models/<name>/model.json`.
#[allow(clippy::too_many_arguments)]
pub async fn export_models(
    source: Arc<RestSource>,
    names: &[String],
    filter: &VersionFilter,
    all_runs: bool,
    out: &Path,
    system: &ExportSystem,
    ctx: &JobContext,
    concurrency: usize,
) -> Result<JobResult> {
    let mut models = Vec::new();
    let mut outcomes = Vec::new();
    for name in names {
        match read_model(&source, name, filter).await {
            Ok(m) => models.push(m),
            Err(e) => {
                let mut o = ModelOutcome::new(name);
                o.error = Some(e.to_string());
                outcomes.push(o);
            }
        }
    }
    let client = &source.client().clone();
    let mut experiment_names: Vec<String> =
        models.iter().flat_map(|m| m.versions.iter().filter_map(|v| v.experiment_name.clone())).collect();
    experiment_names.sort();
    experiment_names.dedup();
    let mut experiments = Vec::new();
    for n in &experiment_names {
        experiments.push(source.find_experiment(n).await?);
    }
    let run_ids: Vec<String> = models.iter().flat_map(version_runs).collect();
    let run_filter =
        RunFilter { include_deleted: true, run_ids: (!all_runs).then_some(run_ids), ..RunFilter::default() };
    let target = ExportTarget { out: &out.join("experiments"), bulk: true, filter: &run_filter, system };
    let mut result = crate::experiments::export(source, experiments, &target, ctx, concurrency).await?;
    let models_dir = out.join("models");
    for m in &models {
        let mut o = ModelOutcome::new(&m.name);
        if !crate::paths::is_single_segment(&m.name) {
            o.error = Some(format!("model {:?}: its name cannot be a folder name", m.name));
            outcomes.push(o);
            continue;
        }
        let dir = models_dir.join(&m.name);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        export_logged_models(client, m, &dir, &mut o).await;
        let json = serde_json::to_vec_pretty(&write_model_json(m, system)).expect("JSON values always serialize");
        local::write_atomic(&dir.join("model.json"), &json)?;
        o.destination = Some(dir.display().to_string());
        o.versions = m.versions.iter().map(|v| (v.version.clone(), v.version.clone())).collect();
        o.versions_created = m.versions.len();
        outcomes.push(o);
    }
    let (failed, ok): (Vec<&ModelOutcome>, Vec<&ModelOutcome>) = outcomes.iter().partition(|o| o.error.is_some());
    let names = |v: Vec<&ModelOutcome>| v.into_iter().map(|o| o.source_name.clone()).collect::<Vec<_>>();
    let (ok, failed) = (names(ok), names(failed));
    std::fs::create_dir_all(&models_dir).map_err(|e| Error::io(&models_dir, e))?;
    let json =
        serde_json::to_vec_pretty(&write_models_json(system, &ok, &failed)).expect("JSON values always serialize");
    local::write_atomic(&models_dir.join("models.json"), &json)?;
    result.models = outcomes;
    Ok(result)
}

/// Imports a directory made by `export-models`: the experiments (and so every version's run)
/// first, then each model, with names passed through `rename_model`.
pub async fn import_models(
    client: MlflowClient,
    dir: &Path,
    rename_experiment: impl Fn(&str) -> String,
    rename_model: impl Fn(&str) -> String,
    ctx: &JobContext,
    opts: &ModelWriteOptions,
    concurrency: usize,
) -> Result<JobResult> {
    let entries = read_models_dir(dir).map_err(Error::from)?;
    let items = crate::experiments::bulk_items(&dir.join("experiments"), rename_experiment)?;
    let mut result = crate::experiments::import(client.clone(), items, ctx, concurrency).await;
    for entry in entries {
        let outcome = match read_model_dir(&entry.dir) {
            Ok(md) => {
                let opts = ModelWriteOptions {
                    logged_models: Some(LoggedModelSource::Export(entry.dir.clone())),
                    ..opts.clone()
                };
                write_model(&client, &rename_model(&entry.name), &md.model, md.tracking_uri.as_deref(), ctx, &opts)
                    .await
            }
            Err(e) => {
                let mut o = ModelOutcome::new(&entry.name);
                o.error = Some(e.to_string());
                o
            }
        };
        result.models.push(outcome);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_source_inside_its_run_for_every_scheme() {
        let id = "abc";
        assert_eq!(source_path_in_run("runs:/abc/model", id, None).as_deref(), Some("model"));
        assert_eq!(source_path_in_run("runs:/other/model", id, None), None);
        let root = Some("mlflow-artifacts:/1/abc/artifacts");
        assert_eq!(source_path_in_run("mlflow-artifacts:/1/abc/artifacts/model", id, root).as_deref(), Some("model"));
        assert_eq!(source_path_in_run("mlflow-artifacts:/1/abc/artifacts", id, root).as_deref(), Some(""));
        assert_eq!(source_path_in_run("mlflow-artifacts:/1/abc/artifactsX/m", id, root), None);
        let s3 = Some("s3://bucket/1/abc/artifacts");
        assert_eq!(source_path_in_run("s3://bucket/1/abc/artifacts/a/b", id, s3).as_deref(), Some("a/b"));
        let local = Some("/srv/mlruns/1/abc/artifacts");
        assert_eq!(source_path_in_run("file:///srv/mlruns/1/abc/artifacts/model", id, local).as_deref(), Some("model"));
        let dbfs = Some("dbfs:/databricks/mlflow-tracking/1/abc/artifacts");
        assert_eq!(
            source_path_in_run("dbfs:/databricks/mlflow-tracking/1/abc/artifacts/model", id, dbfs).as_deref(),
            Some("model")
        );
        assert_eq!(source_path_in_run("models:/m-123", id, root), None);
    }

    fn v(version: &str, stage: &str) -> ModelVersionRecord {
        ModelVersionRecord { version: version.into(), current_stage: Some(stage.into()), ..Default::default() }
    }

    #[test]
    fn where_version_files_come_from() {
        let ctx = JobContext::new(crate::transfer::RunOptions::default(), std::sync::Arc::new(crate::Silent));
        ctx.ids.insert("copied", "dst");
        let version = |run: Option<&str>, source: &str| ModelVersionRecord {
            run_id: run.map(String::from),
            source: source.into(),
            ..Default::default()
        };
        assert!(
            matches!(version_files(&version(Some("copied"), "runs:/copied/m"), &ctx), VersionFiles::InRun { dst_run, .. } if dst_run == "dst")
        );
        assert!(matches!(version_files(&version(None, "s3://b/m"), &ctx), VersionFiles::Shared));
        assert!(matches!(version_files(&version(Some("gone"), "dbfs:/x/m"), &ctx), VersionFiles::Shared));
        assert!(matches!(version_files(&version(Some("gone"), "runs:/gone/m"), &ctx), VersionFiles::Unreachable(_)));
        assert!(matches!(version_files(&version(None, "/local/m"), &ctx), VersionFiles::Unreachable(_)));
    }

    #[test]
    fn version_filters() {
        let all = vec![v("1", "Archived"), v("2", "Production"), v("3", "None"), v("4", "Production")];
        let ids = |f: VersionFilter| f.apply(all.clone()).into_iter().map(|v| v.version).collect::<Vec<_>>();
        assert_eq!(ids(VersionFilter::default()), ["1", "2", "3", "4"]);
        assert_eq!(ids(VersionFilter { stages: Some(vec!["production".into()]), ..Default::default() }), ["2", "4"]);
        assert_eq!(ids(VersionFilter { versions: Some(vec!["3".into()]), ..Default::default() }), ["3"]);
        assert_eq!(ids(VersionFilter { latest_only: true, ..Default::default() }), ["1", "3", "4"]);
    }
}
