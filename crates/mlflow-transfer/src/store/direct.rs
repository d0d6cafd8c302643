//! A tracking store read directly, without its server: MLflow's backend database
//! ([`super::sql`]) or an `mlruns` folder ([`super::mlruns`]). Each answers a few questions
//! ([`Catalog`]); what the planner asks on top of them ([`TrackingSource`]: selecting
//! experiments, models and prompts, refusing prompts as models, reading artifacts from the
//! store they are in) is the same for both and lives here.
//!
//! Artifacts are read by this machine from each run's `artifact_uri`: a folder, or a cloud
//! object store with this machine's credentials. Runs whose artifacts the server proxies
//! (`mlflow-artifacts:/…`) need the server's `--artifacts-destination`.
//!
//! MLflow 3's traces, evaluation datasets, scorers and webhooks are not read from such stores
//! yet: a job that meets any fails for them, naming the count and the command that copies them
//! from the server, rather than leaving them out unsaid.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use async_trait::async_trait;
use mlflow_client::types::{ModelInput, ModelOutput};

use crate::{
    model::{
        prompt_tags, ArtifactFile, EvaluationDatasetRecord, ExperimentRecord, LoggedModelRecord, RegisteredModelRecord,
        RunMeta, RunRecord,
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

/// MLflow 3 objects a direct store does not read yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unread {
    Traces,
    Scorers,
    Webhooks,
    EvaluationDatasets,
}

impl Unread {
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Unread::Traces => ("traces", "copy them from the tracking server with copy-traces"),
            Unread::Scorers => ("scorers", "copy the experiment from the tracking server"),
            Unread::Webhooks => ("webhooks", "copy them from the tracking server with copy-all"),
            Unread::EvaluationDatasets => {
                ("evaluation datasets", "copy them from the tracking server with copy-evaluation-datasets")
            }
        }
    }
}

/// What a store read directly answers.
#[async_trait]
pub trait Catalog: Send + Sync + 'static {
    /// Where the store is, without credentials: the copies' recorded source.
    fn uri(&self) -> String;
    /// Every experiment, the deleted ones too when asked, in id order.
    async fn experiments(&self, include_deleted: bool) -> Result<Vec<ExperimentRecord>>;
    /// The experiment named `name`, else the one with id `name`.
    async fn experiment(&self, name: &str) -> Result<Option<ExperimentRecord>>;
    /// The runs of an experiment in `filter`'s time window and lifecycle, as (id, parent id),
    /// before `--run-ids` is applied.
    async fn runs(&self, experiment_id: &str, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>>;
    /// A run; its metrics may hold only the latest points until [`Catalog::complete_metrics`].
    async fn read_run(&self, run_id: &str) -> Result<RunRecord>;
    /// The value of a run's tag `key`: read with the whole run unless the store can do better.
    async fn run_tag(&self, run_id: &str, key: &str) -> Result<Option<String>> {
        Ok(self.read_run(run_id).await?.tags.remove(key))
    }
    async fn complete_metrics(&self, _run: &mut RunRecord) -> Result<()> {
        Ok(())
    }
    /// The folder the run's files are in, where the store knows better than its `artifact_uri`.
    fn artifact_folder(&self, _run: &RunMeta) -> Option<PathBuf> {
        None
    }
    /// Registered model (or prompt) `name` with every version, or `None`.
    async fn model(&self, name: &str) -> Result<Option<RegisteredModelRecord>>;
    /// Names of the registered models, or with `prompts` of the prompts, in name order.
    async fn model_names(&self, prompts: bool) -> Result<Vec<String>>;
    /// The active logged models of an experiment.
    async fn logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>>;
    /// Logged model `model_id` and its experiment's id, or `None`.
    async fn logged_model(&self, model_id: &str) -> Result<Option<(LoggedModelRecord, String)>>;
    /// A run's logged-model inputs and outputs.
    async fn model_links(&self, run_id: &str) -> Result<(Vec<ModelInput>, Vec<ModelOutput>)>;
    /// How many objects of `kind` (of experiment `experiment_id`, for per-experiment kinds) the
    /// store holds.
    async fn count_unread(&self, kind: Unread, experiment_id: Option<&str>) -> Result<u64>;
}

/// Fails when `catalog` holds objects of `kind` (see [`Unread`]).
async fn refuse_unread(catalog: &dyn Catalog, kind: Unread, experiment_id: Option<&str>) -> Result<()> {
    match catalog.count_unread(kind, experiment_id).await? {
        0 => Ok(()),
        n => {
            let (what, how) = kind.describe();
            let scope = experiment_id.map(|id| format!(" of experiment {id}")).unwrap_or_default();
            Err(Error::Unsupported(format!(
                "{n} {what}{scope} in {}: a direct source does not read them yet; {how}",
                catalog.uri()
            )))
        }
    }
}

fn unsupported<T>(catalog: &dyn Catalog, what: &str) -> Result<T> {
    Err(Error::Unsupported(format!("{what}: not read from {} yet; use the tracking server's URI", catalog.uri())))
}

/// A [`Catalog`] as the planner's source.
pub struct DirectSource {
    catalog: Arc<dyn Catalog>,
    /// The server's `--artifacts-destination` (a folder or an object-store URI), for runs whose
    /// artifacts it proxies.
    artifacts_destination: Option<String>,
    objects: ObjectStores,
}

impl DirectSource {
    pub fn new(catalog: Arc<dyn Catalog>, artifacts_destination: Option<String>, side: Option<&str>) -> Self {
        Self { catalog, artifacts_destination, objects: ObjectStores::from_process_env(side) }
    }

    /// The artifact root `uri` names, read by this machine, unless the store names the
    /// `folder` itself. (Messages do not name the run or model: the mover's do.)
    ///
    /// A folder the URI names that is missing is a run (or model) that logged no files, when
    /// the folder above it (the experiment's, or the run's) is here; when that is missing too,
    /// the files are on another machine, and saying "no files" would lose them.
    fn stored_root(&self, uri: Option<&str>, folder: Option<PathBuf>) -> Result<ArtifactRoot> {
        if let Some(dir) = folder {
            return Ok(ArtifactRoot::Local(dir));
        }
        let (root, proxied) = self.uri_root(uri)?;
        if let (ArtifactRoot::Local(dir), false) = (&root, proxied) {
            let here = |d: Option<&std::path::Path>| d.is_some_and(std::path::Path::is_dir);
            if !dir.exists() && !here(dir.parent()) && !here(dir.parent().and_then(std::path::Path::parent)) {
                return Err(Error::Input(format!(
                    "its files are in {}, which is not on this machine; read the store where its \
                     artifacts are, or through its tracking server",
                    dir.display()
                )));
            }
        }
        Ok(root)
    }

    /// The root `uri` names, and whether it is below the server's artifacts destination (where
    /// a run that logged nothing has no folder, nor need its experiment).
    fn uri_root(&self, uri: Option<&str>) -> Result<(ArtifactRoot, bool)> {
        uri_root(&self.objects, self.artifacts_destination.as_deref(), uri)
    }

    fn run_root(&self, run: &RunRecord) -> Result<ArtifactRoot> {
        self.stored_root(run.meta.artifact_uri.as_deref(), self.catalog.artifact_folder(&run.meta))
    }

    fn model_root(&self, model: &LoggedModelRecord) -> Result<ArtifactRoot> {
        self.stored_root(model.artifact_uri.as_deref(), None)
    }

    async fn names(&self, spec: &ExperimentSpec, prompts: bool) -> Result<Vec<String>> {
        match spec {
            ExperimentSpec::List(names) => Ok(names.clone()),
            ExperimentSpec::All => self.catalog.model_names(prompts).await,
            ExperimentSpec::Prefix(p) => {
                Ok(self.catalog.model_names(prompts).await?.into_iter().filter(|n| n.starts_with(p.as_str())).collect())
            }
        }
    }
}

#[async_trait]
impl RunSource for DirectSource {
    async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        self.catalog.read_run(run_id).await
    }

    async fn complete_metrics(&self, run: &mut RunRecord) -> Result<()> {
        self.catalog.complete_metrics(run).await
    }

    async fn list_artifacts(&self, run: &RunRecord) -> Result<Vec<ArtifactFile>> {
        self.run_root(run)?.list_stored().await
    }

    async fn open_artifact(&self, run: &RunRecord, file: &ArtifactFile) -> Result<ByteStream> {
        self.run_root(run)?.open_stored(&file.path).await
    }
}

#[async_trait]
impl LoggedModelSource for DirectSource {
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord> {
        let found = self.catalog.logged_model(model_id).await?;
        found
            .map(|(m, _)| m)
            .ok_or_else(|| Error::NotFound(format!("no logged model {model_id} in {}", self.catalog.uri())))
    }

    async fn list_model_files(&self, model: &LoggedModelRecord) -> Result<Vec<ArtifactFile>> {
        self.model_root(model)?.list_stored().await
    }

    async fn open_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Result<ByteStream> {
        self.model_root(model)?.open_stored(&file.path).await
    }
}

#[async_trait]
impl EvaluationDatasetSource for DirectSource {
    async fn read_dataset(&self, dataset_id: &str) -> Result<EvaluationDatasetRecord> {
        unsupported(self.catalog.as_ref(), &format!("evaluation dataset {dataset_id}"))
    }

    async fn records(&self, dataset: &EvaluationDatasetRecord) -> Result<Box<dyn RecordReader>> {
        unsupported(self.catalog.as_ref(), &format!("evaluation dataset {}", dataset.dataset_id))
    }
}

#[async_trait]
impl TrackingSource for DirectSource {
    fn tracking_uri(&self) -> String {
        self.catalog.uri()
    }

    async fn find_experiment(&self, name_or_id: &str) -> Result<ExperimentRecord> {
        self.catalog.experiment(name_or_id).await?.ok_or_else(|| {
            Error::NotFound(format!(
                "experiment {name_or_id:?}: no experiment with this name or id in {}",
                self.catalog.uri()
            ))
        })
    }

    async fn select_experiments(&self, spec: &ExperimentSpec) -> Result<Vec<ExperimentRecord>> {
        match spec {
            ExperimentSpec::All => self.catalog.experiments(false).await,
            ExperimentSpec::Prefix(p) => Ok(self
                .catalog
                .experiments(false)
                .await?
                .into_iter()
                .filter(|e| e.name.starts_with(p.as_str()))
                .collect()),
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

    /// Ids and parent links only: the runs are read when moved, so planning holds two ids per
    /// run whatever the experiment's size.
    async fn plan_runs(&self, exp: &ExperimentRecord, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>> {
        let links = self.catalog.runs(&exp.experiment_id, filter).await?;
        let chosen = filter.select(&links);
        Ok(links.into_iter().filter(|(id, _)| chosen.contains(id)).collect())
    }

    async fn run_tag(&self, run_id: &str, key: &str) -> Result<Option<String>> {
        self.catalog.run_tag(run_id, key).await
    }

    async fn read_model(&self, name: &str, filter: &VersionFilter) -> Result<RegisteredModelRecord> {
        let Some(mut model) = self.catalog.model(name).await? else {
            return Err(Error::NotFound(format!("registered model {name:?} does not exist in {}", self.catalog.uri())));
        };
        if prompt_tags::is_prompt(&model.tags) {
            return Err(Error::Input(format!(
                "{name:?} is a prompt, not a registered model: move it with export-prompt(s), import-prompt(s) or \
                 copy-prompt(s)"
            )));
        }
        if filter.permissions {
            return Err(crate::store::tracking::no_permissions(&self.catalog.uri()));
        }
        model.versions = filter.apply(std::mem::take(&mut model.versions));
        Ok(model)
    }

    async fn select_models(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        self.names(spec, false).await
    }

    async fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let mut out = Vec::new();
        for name in self.catalog.model_names(false).await? {
            out.extend(self.catalog.model(&name).await?);
        }
        Ok(out)
    }

    async fn read_prompt(&self, name: &str, version: Option<&str>) -> Result<RegisteredModelRecord> {
        let Some(mut record) = self.catalog.model(name).await? else {
            return Err(Error::NotFound(format!("prompt {name:?} does not exist in {}", self.catalog.uri())));
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
        self.names(spec, true).await
    }

    async fn select_datasets(&self, names: Option<&[String]>, _experiment_ids: &[String]) -> Result<Vec<String>> {
        if names.is_some() {
            return unsupported(self.catalog.as_ref(), "evaluation datasets");
        }
        refuse_unread(self.catalog.as_ref(), Unread::EvaluationDatasets, None).await?;
        Ok(Vec::new())
    }

    async fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        self.catalog.logged_models(experiment_id).await
    }

    async fn logged_model_with_experiment(&self, model_id: &str) -> Result<(LoggedModelRecord, ExperimentRecord)> {
        let Some((model, experiment_id)) = self.catalog.logged_model(model_id).await? else {
            return Err(Error::NotFound(format!("no logged model {model_id} in {}", self.catalog.uri())));
        };
        let experiment = self.catalog.experiments(true).await?.into_iter().find(|e| e.experiment_id == experiment_id);
        let experiment = experiment.ok_or_else(|| {
            Error::NotFound(format!("logged model {model_id}: its experiment {experiment_id} is missing"))
        })?;
        Ok((model, experiment))
    }

    async fn model_links(&self, run_ids: &[String]) -> Result<Vec<(Vec<ModelInput>, Vec<ModelOutput>)>> {
        let mut out = Vec::with_capacity(run_ids.len());
        for id in run_ids {
            out.push(self.catalog.model_links(id).await?);
        }
        Ok(out)
    }

    async fn list_traces(&self, experiment_id: &str, _filter: Option<&str>) -> Result<Vec<ListedTrace>> {
        refuse_unread(self.catalog.as_ref(), Unread::Traces, Some(experiment_id)).await?;
        Ok(Vec::new())
    }

    fn traces(&self) -> Arc<dyn TraceSource> {
        Arc::new(Refusing(self.catalog.clone()))
    }

    fn scorers(&self) -> Arc<dyn ScorerStore> {
        Arc::new(Refusing(self.catalog.clone()))
    }

    fn webhooks(&self) -> Arc<dyn WebhookStore> {
        Arc::new(Refusing(self.catalog.clone()))
    }
}

/// The MLflow 3 kinds a direct source does not read yet: empty where the store holds none, an
/// error naming the count where it holds some.
struct Refusing(Arc<dyn Catalog>);

#[async_trait]
impl TraceSource for Refusing {
    async fn read_trace(&self, trace_id: &str) -> Result<TraceRecord> {
        unsupported(self.0.as_ref(), &format!("trace {trace_id}"))
    }
}

#[async_trait]
impl ScorerStore for Refusing {
    async fn scorers(&self, experiment_id: &str) -> Result<BTreeMap<String, Vec<Scorer>>> {
        refuse_unread(self.0.as_ref(), Unread::Scorers, Some(experiment_id)).await?;
        Ok(BTreeMap::new())
    }

    async fn add_scorer_versions(&self, _experiment_id: &str, _name: &str, _versions: &[Scorer]) -> Result<()> {
        Err(Error::Unsupported("a direct source is read-only".into()))
    }
}

#[async_trait]
impl WebhookStore for Refusing {
    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        refuse_unread(self.0.as_ref(), Unread::Webhooks, None).await?;
        Ok(Vec::new())
    }

    async fn create_webhook(&self, _webhook: &Webhook, _secret: Option<&str>) -> Result<Option<String>> {
        Err(Error::Unsupported("a direct source is read-only".into()))
    }

    async fn update_webhook(&self, _existing: &Webhook, _webhook: &Webhook) -> Result<()> {
        Err(Error::Unsupported("a direct source is read-only".into()))
    }
}

/// The root `uri` names in a store this machine reaches (files a server proxies are in its
/// `artifacts_destination`), and whether it is below that destination: how direct sources read
/// and the database sink writes.
pub(crate) fn uri_root(
    objects: &ObjectStores,
    artifacts_destination: Option<&str>,
    uri: Option<&str>,
) -> Result<(ArtifactRoot, bool)> {
    let uri = uri.filter(|u| !u.is_empty()).ok_or_else(|| Error::Input("no artifact location".into()))?;
    let uri = match proxied_path(uri) {
        Some(rel) => {
            let dest = artifacts_destination.ok_or_else(|| {
                Error::Input(format!(
                    "its artifacts are kept by the tracking server ({uri}); pass the server's \
                     --artifacts-destination (a folder or object-store URI) with --artifacts-destination, or \
                     --src-artifacts-destination / --dst-artifacts-destination for one side, to read them from here"
                ))
            })?;
            let local = local::local_root(dest).or_else(|| (!dest.contains(':')).then(|| dest.into()));
            if local.is_some_and(|d: PathBuf| !d.is_dir()) {
                return Err(Error::Input(format!("artifacts destination {dest} is not a folder here")));
            }
            (join(dest.trim_end_matches('/'), &rel), true)
        }
        None => (uri.to_string(), false),
    };
    let (uri, proxied) = uri;
    if let Some(dir) = local::local_root(&uri).or_else(|| (!uri.contains(':')).then(|| uri.clone().into())) {
        return Ok((ArtifactRoot::Local(dir), proxied));
    }
    match objects.resolve(&uri)? {
        Some(Resolved::Root(root)) => Ok((ArtifactRoot::Object(root), proxied)),
        Some(Resolved::NoCredentials(why)) => {
            Err(Error::Unsupported(format!("cannot read {}: {why}", mlflow_client::redact(&uri))))
        }
        None => Err(Error::Unsupported(format!("artifact store {:?} is not supported", mlflow_client::redact(&uri)))),
    }
}
