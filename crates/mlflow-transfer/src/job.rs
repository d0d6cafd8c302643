//! What every mover and the executor share: the job's options, its context (progress, the id
//! maps built as objects move), and the outcomes a job reports. No mover imports another; they
//! meet here.

use std::{
    collections::{BTreeMap, HashMap},
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::Serialize;

use crate::store::{ModelState, RunSink};

/// Whose name goes on the destination run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPolicy {
    /// Keep the source run's user (`--use-src-user-id`).
    Source,
    /// Use this user (the Python tool's default: the user running the import).
    Fixed(String),
}

/// How runs are transformed and moved.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep `mlflow.*` tags (`--import-mlflow-tags`).
    pub import_mlflow_tags: bool,
    /// Keep `mlflow_tools.metadata.*` tags (`--import-metadata-tags`).
    pub import_metadata_tags: bool,
    /// Add `mlflow_tools.metadata.*` tags describing the source (`--export-metadata-tags`).
    pub export_metadata_tags: bool,
    /// Record source fields and `mlflow.*` tags as `mlflow_exim.*` tags (`--import-source-tags`).
    pub import_source_tags: bool,
    pub user: UserPolicy,
    /// Artifact files moved at once per run or logged model.
    pub transfers: usize,
    /// Attempts per artifact file after a transient failure.
    pub file_retries: u32,
    /// Passes over the objects that failed for a reason that may be transient.
    pub retry_passes: u32,
    /// Objects moved at once.
    pub concurrency: usize,
    /// Rewrite the source ids in copied logged models' `MLmodel` files (`--mlmodel-fix`).
    pub mlmodel_fix: bool,
    /// Set experiments' exported access control lists at the destination, principals renamed
    /// by the map (`--import-permissions`, `--copy-permissions`).
    pub import_permissions: Option<crate::select::PrincipalMap>,
    /// Formats in which an export keeps each run's Databricks notebook (`--notebook-formats`).
    pub notebook_formats: Vec<crate::model::NotebookFormat>,
    /// Workspace folder an import puts each run's exported notebook in, pointing the run at it
    /// (`--dst-notebook-dir`).
    pub notebook_dir: Option<String>,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            import_mlflow_tags: true,
            import_metadata_tags: true,
            export_metadata_tags: false,
            import_source_tags: false,
            user: UserPolicy::Source,
            transfers: 4,
            file_retries: 3,
            retry_passes: 2,
            concurrency: 4,
            mlmodel_fix: true,
            import_permissions: None,
            notebook_formats: Vec::new(),
            notebook_dir: None,
        }
    }
}

/// How registered models are written.
#[derive(Debug, Clone)]
pub struct ModelOptions {
    /// Delete the destination model (and its versions) first, `--delete-model`.
    pub delete_model: bool,
    /// How long to wait for a version to leave PENDING_REGISTRATION, `--await-creation-for`.
    pub await_creation: Duration,
    /// Apply stages and aliases (`copy-model-version` makes this optional).
    pub stages_and_aliases: bool,
    /// Into a registry without stages (Unity Catalog), point an alias named after each
    /// version's stage at it (`--stages-as-aliases`).
    pub stage_aliases: bool,
    /// Reproduce source version numbers (not wanted when copying single versions).
    pub keep_numbers: bool,
    /// Delete the destination prompt (and its versions) first, `--delete-prompt`.
    pub delete_prompt: bool,
    /// Tags added to each version created, over its own (`copy-model-version
    /// --copy-lineage-tags`).
    pub version_tags: BTreeMap<String, String>,
    /// Set models' exported access control lists at the destination, principals renamed by
    /// the map (`import-model(s) --import-permissions`, `copy-model(s) --copy-permissions`).
    /// The experiments of a model job are left as they are.
    pub import_permissions: Option<crate::select::PrincipalMap>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            delete_model: false,
            await_creation: Duration::from_secs(300),
            stages_and_aliases: true,
            stage_aliases: false,
            keep_numbers: true,
            delete_prompt: false,
            version_tags: BTreeMap::new(),
            import_permissions: None,
        }
    }
}

/// Progress events, so that the engine never prints. The binary draws bars from them; tests
/// and library users may ignore them.
/// Receives progress as work happens. Every method has a no-op default.
pub trait Reporter: Send + Sync {
    /// A job will move this many runs.
    fn runs_planned(&self, _runs: usize) {}
    /// A run is about to be read.
    fn run_started(&self, _source_run_id: &str) {}
    /// The artifacts of a run are known: `bytes` counts the sizes listed. A file listed without
    /// a size adds its bytes later, once moved, with `files` 0.
    fn artifacts_planned(&self, _files: usize, _bytes: u64) {}
    /// Artifact bytes moved (called often, with small increments).
    fn bytes_moved(&self, _bytes: u64) {}
    /// A run is done, skipped or failed.
    fn run_finished(&self, _outcome: &RunOutcome) {}
}

/// Reports nothing.
pub struct Silent;

impl Reporter for Silent {}

/// What every step of a job shares: options, progress, and the maps of ids assigned so far.
pub struct JobContext {
    pub opts: RunOptions,
    pub models: ModelOptions,
    pub reporter: Arc<dyn Reporter>,
    /// Source run id → destination run id.
    pub ids: IdMap,
    /// Set by `sync --delete`: copies whose source run is gone are deleted, within a bound.
    pub deletes: Option<Arc<Deletes>>,
}

impl JobContext {
    pub fn new(opts: RunOptions, reporter: Arc<dyn Reporter>) -> Self {
        Self { opts, models: ModelOptions::default(), reporter, ids: IdMap::default(), deletes: None }
    }

    pub fn with_deletes(mut self, deletes: Deletes) -> Self {
        self.deletes = Some(Arc::new(deletes));
        self
    }

    pub fn with_models(mut self, models: ModelOptions) -> Self {
        self.models = models;
        self
    }
}

/// What a sync may delete at the destination: the copies, made from the source server
/// `tracking_uri`, of runs that source no longer has active, at most `max` in the whole job.
#[derive(Debug)]
pub struct Deletes {
    pub tracking_uri: String,
    left: Mutex<usize>,
    max: usize,
}

impl Deletes {
    pub fn new(tracking_uri: &str, max: usize) -> Self {
        Self { tracking_uri: crate::identity::redact(tracking_uri), left: Mutex::new(max), max }
    }

    /// Takes `n` deletions from what is left, all or none: an experiment's stale copies are
    /// deleted together or not at all, so that a job stopped by the bound leaves no experiment
    /// half pruned.
    pub fn take(&self, n: usize) -> crate::Result<()> {
        let mut left = self.left.lock().expect("poisoned");
        if n > *left {
            return Err(crate::Error::Input(format!(
                "{n} copies of runs the source no longer has would be deleted, more than the {} that \
                 --max-delete {} leaves: none deleted here (raise --max-delete to delete them)",
                *left, self.max
            )));
        }
        *left -= n;
        Ok(())
    }
}

/// Source id → destination id, for every object done (or found complete) in this job, and the
/// source objects known to have no copy at the destination (`None`), so that a missing parent
/// shared by many children is looked up once.
#[derive(Debug, Default)]
pub struct IdMap(Mutex<HashMap<String, Option<String>>>);

impl IdMap {
    pub fn insert(&self, source: &str, destination: &str) {
        self.0.lock().expect("poisoned").insert(source.to_string(), Some(destination.to_string()));
    }

    /// `Some(Some(id))`: copied; `Some(None)`: known to have no copy; `None`: not known yet.
    pub fn get(&self, source: &str) -> Option<Option<String>> {
        self.0.lock().expect("poisoned").get(source).cloned()
    }

    /// Records a lookup's answer unless the job already knows better.
    pub fn insert_lookup(&self, source: &str, destination: Option<&String>) {
        self.0.lock().expect("poisoned").entry(source.to_string()).or_insert_with(|| destination.cloned());
    }
}

/// What happened to one run or logged model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Written in full now.
    Created,
    /// An interrupted earlier attempt was finished.
    Resumed,
    /// A complete copy existed; what the source gained since it was made was added to it.
    Updated,
    /// A complete copy already existed.
    Skipped,
    /// Nothing usable was written; see `error`.
    Failed,
}

/// The result for one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub source_run_id: String,
    /// Destination run id, or the folder for exports.
    pub destination: Option<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub params: usize,
    pub tags: usize,
    /// Tags the destination refuses (Databricks: `mlflow.user`, …), kept on the copy as
    /// [`crate::identity::REFUSED_TAG`] tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_refused: Vec<String>,
    pub metric_points: usize,
    pub artifact_files: usize,
    pub artifact_bytes: u64,
    /// Of `artifact_bytes`, those copied inside one object store (server-side), which never
    /// passed through this machine.
    pub artifact_bytes_in_store: u64,
    /// What was done with the run's Databricks notebook, when notebooks were asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notebook: Option<String>,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Passes this run took: 1, or more when a transient failure sent it to a retry pass.
    pub attempts: u32,
    /// Whether the failure may go away on another attempt (network, throttling, 5xx).
    #[serde(skip)]
    pub retryable: bool,
}

impl RunOutcome {
    /// Counts the files written (and of their bytes, those copied inside an object store, for
    /// which no checksum was taken here).
    pub fn count_files(&mut self, entries: &[crate::format::run_json::ArtifactEntry]) {
        self.artifact_files = entries.len();
        self.artifact_bytes = entries.iter().map(|e| e.size).sum();
        self.artifact_bytes_in_store = entries.iter().filter(|e| e.sha256.is_none()).map(|e| e.size).sum();
    }
}

impl RunOutcome {
    pub fn failed(source_run_id: &str, error: &crate::Error, elapsed: Duration) -> Self {
        Self {
            error: Some(error.to_string()),
            retryable: error.is_transient(),
            ..Self::probed(source_run_id, Action::Failed, None, elapsed)
        }
    }

    /// What a dry run found a run would get: `action`, at `destination` when a copy exists.
    pub fn probed(source_run_id: &str, action: Action, destination: Option<String>, elapsed: Duration) -> Self {
        Self {
            source_run_id: source_run_id.to_string(),
            destination,
            action,
            error: None,
            retryable: false,
            params: 0,
            tags: 0,
            tags_refused: Vec::new(),
            metric_points: 0,
            artifact_files: 0,
            artifact_bytes: 0,
            artifact_bytes_in_store: 0,
            notebook: None,
            elapsed,
            attempts: 1,
        }
    }
}

/// The result for one experiment.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExperimentOutcome {
    pub source_experiment_id: String,
    pub name: String,
    /// Destination experiment id, or the folder for exports.
    pub destination: Option<String>,
    pub runs_ok: usize,
    pub runs_failed: usize,
    /// Copies deleted because the source no longer has their run active (`sync --delete`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs_deleted: Vec<String>,
    /// What importing the experiment's access control list did (`--import-permissions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<crate::store::PermissionsOutcome>,
    /// Experiment tags the destination refuses, kept on it as
    /// [`crate::identity::REFUSED_TAG`] tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags_refused: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The result for one registered model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelOutcome {
    pub source_name: String,
    pub destination: Option<String>,
    pub versions_created: usize,
    pub versions_updated: usize,
    pub versions_skipped: usize,
    /// Source version → destination version.
    pub versions: BTreeMap<String, String>,
    /// Source version → why it could not be written.
    pub failed_versions: BTreeMap<String, String>,
    /// What setting the model's access control list did (`--import-permissions`,
    /// `--copy-permissions`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<crate::store::PermissionsOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ModelOutcome {
    pub fn new(source_name: &str) -> Self {
        Self {
            source_name: source_name.to_string(),
            destination: None,
            versions_created: 0,
            versions_updated: 0,
            versions_skipped: 0,
            versions: BTreeMap::new(),
            failed_versions: BTreeMap::new(),
            permissions: None,
            error: None,
        }
    }

    pub fn failed(&self) -> bool {
        self.error.is_some() || !self.failed_versions.is_empty()
    }
}

/// The result for one MLflow 3 logged model.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedModelOutcome {
    pub source_model_id: String,
    /// Destination model id, or the folder for exports.
    pub destination: Option<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the copy could not keep (metric points and run links whose run has no copy).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub artifact_files: usize,
    pub artifact_bytes: u64,
    pub attempts: u32,
    #[serde(skip)]
    pub retryable: bool,
}

/// What happened to one scorer (all versions of one name) of an experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ScorerOutcome {
    /// The source experiment's name.
    pub experiment: String,
    pub name: String,
    pub versions_created: usize,
    pub versions_skipped: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub retryable: bool,
}

/// What happened to one webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAction {
    Created,
    /// A webhook of that name was made to say what the source's says.
    Updated,
    /// A webhook of that name already said it.
    Unchanged,
    Failed,
}

/// The result for one webhook.
#[derive(Debug, Clone, Serialize)]
pub struct WebhookOutcome {
    pub name: String,
    /// The destination's webhook id (none in an export).
    pub destination: Option<String>,
    pub action: WebhookAction,
    /// Whether the destination got a secret: the server never hands one out, so only a
    /// secret from `--webhook-secrets-file` can be set.
    pub secret: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub retryable: bool,
}

/// The result for one prompt (prompt registry): its versions by number, its aliases.
#[derive(Debug, Clone, Serialize)]
pub struct PromptOutcome {
    pub source_name: String,
    /// The destination prompt's name, or the folder for exports.
    pub destination: Option<String>,
    pub versions_created: usize,
    pub versions_skipped: usize,
    /// Source version → destination version.
    pub versions: BTreeMap<String, String>,
    pub aliases: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub retryable: bool,
}

/// The result for one MLflow 3 trace.
#[derive(Debug, Clone, Serialize)]
pub struct TraceOutcome {
    pub source_trace_id: String,
    /// Destination trace id, or the folder for exports.
    pub destination: Option<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the copy could not keep as it was (a run that was not copied).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub spans: usize,
    pub attempts: u32,
    #[serde(skip)]
    pub retryable: bool,
}

/// The result for one evaluation dataset.
#[derive(Debug, Clone, Serialize)]
pub struct EvaluationDatasetOutcome {
    pub source_dataset_id: String,
    /// The source dataset's name, once read.
    pub name: Option<String>,
    /// Destination dataset id, or the folder for exports.
    pub destination: Option<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Records written now.
    pub records: usize,
    pub attempts: u32,
    #[serde(skip)]
    pub retryable: bool,
}

/// A failure that belongs to no run, experiment or model outcome (a destination experiment
/// that could not be prepared, an index file that could not be written).
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    pub object: String,
    pub reason: String,
}

/// Everything a job did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobResult {
    pub experiments: Vec<ExperimentOutcome>,
    pub runs: Vec<RunOutcome>,
    pub models: Vec<ModelOutcome>,
    pub logged_models: Vec<LoggedModelOutcome>,
    pub scorers: Vec<ScorerOutcome>,
    pub webhooks: Vec<WebhookOutcome>,
    pub other_failures: Vec<Failure>,
    pub prompts: Vec<PromptOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<TraceOutcome>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evaluation_datasets: Vec<EvaluationDatasetOutcome>,
}

impl JobResult {
    /// Runs deleted (or, in a dry run, to be deleted) because their source is no longer active.
    pub fn runs_deleted(&self) -> usize {
        self.experiments.iter().map(|e| e.runs_deleted.len()).sum()
    }

    pub fn failed(&self) -> bool {
        self.experiments.iter().any(|e| e.error.is_some() || e.runs_failed > 0)
            || self.runs.iter().any(|r| r.action == Action::Failed)
            || self.models.iter().any(ModelOutcome::failed)
            || self.logged_models.iter().any(|m| m.action == Action::Failed)
            || self.scorers.iter().any(|s| s.error.is_some())
            || self.webhooks.iter().any(|w| w.action == WebhookAction::Failed)
            || !self.other_failures.is_empty()
            || self.prompts.iter().any(|p| p.error.is_some())
            || self.traces.iter().any(|t| t.action == Action::Failed)
            || self.evaluation_datasets.iter().any(|d| d.action == Action::Failed)
    }
}

/// Totals over a job; data counts only what was written now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub runs_created: usize,
    pub runs_resumed: usize,
    pub runs_updated: usize,
    pub runs_skipped: usize,
    pub runs_failed: usize,
    /// Runs that needed more than one pass.
    pub runs_retried: usize,
    pub metric_points: usize,
    pub artifact_files: usize,
    pub artifact_bytes: u64,
    pub artifact_bytes_in_store: u64,
}

impl Summary {
    pub fn of(outcomes: &[RunOutcome]) -> Self {
        let mut s = Summary::default();
        for o in outcomes {
            match o.action {
                Action::Created => s.runs_created += 1,
                Action::Resumed => s.runs_resumed += 1,
                Action::Updated => s.runs_updated += 1,
                Action::Skipped => s.runs_skipped += 1,
                Action::Failed => s.runs_failed += 1,
            }
            if o.attempts > 1 {
                s.runs_retried += 1;
            }
            if matches!(o.action, Action::Created | Action::Resumed | Action::Updated) {
                s.metric_points += o.metric_points;
                s.artifact_files += o.artifact_files;
                s.artifact_bytes += o.artifact_bytes;
                s.artifact_bytes_in_store += o.artifact_bytes_in_store;
            }
        }
        s
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}

/// Of a container (experiment, registered model): before its contents move, or after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Prepare the destination (find or create it).
    Open,
    /// Count what its contents did; write what needs all of them (an export's JSON, aliases).
    Close,
}

/// What happened to one model version.
#[derive(Debug, Clone)]
pub struct VersionOutcome {
    pub version: String,
    /// The destination version number (the same number in an export).
    pub destination: Option<String>,
    /// An earlier copy was found, in step with the source.
    pub skipped: bool,
    /// An earlier copy was found and brought in step (description, tags, stage).
    pub updated: bool,
    pub error: Option<String>,
    pub retryable: bool,
}

/// What a step of a plan produced; the steps that depend on it are handed it.
#[derive(Clone)]
pub enum Outcome {
    /// A destination experiment is ready; runs go into this sink.
    ExperimentReady {
        experiment_id: String,
        sink: Arc<dyn RunSink>,
    },
    Experiment(ExperimentOutcome),
    Run(RunOutcome),
    LoggedModel(LoggedModelOutcome),
    Trace(TraceOutcome),
    EvaluationDataset(EvaluationDatasetOutcome),
    ModelReady(Arc<ModelState>),
    Version(VersionOutcome),
    Model(ModelOutcome),
    /// The scorers of one experiment.
    Scorers(Vec<ScorerOutcome>),
    Webhooks(Vec<WebhookOutcome>),
    Prompt(PromptOutcome),
    /// A file indexing other objects was written (`experiments.json`, `models.json`).
    Indexed,
    /// A step with no outcome of its own failed: preparing a destination, writing an index.
    Failed {
        object: String,
        error: String,
        retryable: bool,
    },
}

/// The outcomes of the steps a step depends on, shared with the executor's table rather than
/// copied: an experiment's closing step depends on every run in it, and a copy of 100,000
/// run outcomes for it was tens of megabytes.
#[derive(Default)]
pub struct Deps(Vec<Arc<Outcome>>);

impl Deps {
    pub fn iter(&self) -> <&Deps as IntoIterator>::IntoIter {
        self.into_iter()
    }
}

impl From<Vec<Arc<Outcome>>> for Deps {
    fn from(outcomes: Vec<Arc<Outcome>>) -> Self {
        Deps(outcomes)
    }
}

impl<const N: usize> From<[Outcome; N]> for Deps {
    fn from(outcomes: [Outcome; N]) -> Self {
        Deps(outcomes.into_iter().map(Arc::new).collect())
    }
}

impl<'a> IntoIterator for &'a Deps {
    type Item = &'a Outcome;
    type IntoIter = std::iter::Map<std::slice::Iter<'a, Arc<Outcome>>, fn(&Arc<Outcome>) -> &Outcome>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(Arc::as_ref)
    }
}

impl Outcome {
    /// The error, and whether another attempt may succeed, of a failed step.
    pub fn failure(&self) -> Option<(&str, bool)> {
        let (error, retryable) = match self {
            Outcome::Run(o) => (o.error.as_deref().filter(|_| o.action == Action::Failed), o.retryable),
            Outcome::LoggedModel(o) => (o.error.as_deref().filter(|_| o.action == Action::Failed), o.retryable),
            Outcome::Version(o) => (o.error.as_deref(), o.retryable),
            Outcome::Trace(o) => (o.error.as_deref().filter(|_| o.action == Action::Failed), o.retryable),
            Outcome::EvaluationDataset(o) => (o.error.as_deref().filter(|_| o.action == Action::Failed), o.retryable),
            Outcome::Failed { error, retryable, .. } => (Some(error.as_str()), *retryable),
            Outcome::Experiment(o) => (o.error.as_deref(), false),
            Outcome::Model(o) => (o.error.as_deref(), false),
            Outcome::Scorers(all) => {
                let failed = || all.iter().filter(|o| o.error.is_some());
                (failed().find_map(|o| o.error.as_deref()), failed().any(|o| o.retryable))
            }
            Outcome::Webhooks(all) => {
                let failed = || all.iter().filter(|o| o.action == WebhookAction::Failed);
                (failed().find_map(|o| o.error.as_deref()), failed().any(|o| o.retryable))
            }
            Outcome::Prompt(o) => (o.error.as_deref(), o.retryable),
            Outcome::ExperimentReady { .. } | Outcome::ModelReady(_) | Outcome::Indexed => (None, false),
        };
        error.map(|e| (e, retryable))
    }

    /// A step that failed for `error`, naming `object`.
    pub fn failed(object: impl Into<String>, error: &crate::Error) -> Self {
        Outcome::Failed { object: object.into(), error: error.to_string(), retryable: error.is_transient() }
    }
}

impl JobResult {
    /// Collects the outcomes of a job's steps, in plan order; `runs` of them are runs' (room is
    /// made for them at once: grown by doubling, 100,000 were held once and a half over).
    pub fn of(outcomes: impl IntoIterator<Item = Outcome>, runs: usize) -> Self {
        let mut r = JobResult::default();
        r.runs.reserve_exact(runs);
        for o in outcomes {
            match o {
                Outcome::Run(o) => r.runs.push(o),
                Outcome::Experiment(o) => r.experiments.push(o),
                Outcome::Model(o) => r.models.push(o),
                Outcome::LoggedModel(o) => r.logged_models.push(o),
                Outcome::Scorers(o) => r.scorers.extend(o),
                Outcome::Webhooks(o) => r.webhooks.extend(o),
                Outcome::Prompt(o) => r.prompts.push(o),
                Outcome::Trace(o) => r.traces.push(o),
                Outcome::EvaluationDataset(o) => r.evaluation_datasets.push(o),
                Outcome::Failed { object, error, .. } => r.other_failures.push(Failure { object, reason: error }),
                Outcome::ExperimentReady { .. } | Outcome::ModelReady(_) | Outcome::Version(_) | Outcome::Indexed => {}
            }
        }
        r
    }
}
