//! Where objects come from and go to: the only code that knows a backend. A tracking server
//! ([`rest`]) and an export directory ([`dir`], with [`zip`] packing and unpacking one) each
//! implement the source and sink traits of every kind they hold, so a mover moves its kind
//! between any two of them without knowing which. Artifact bytes go through
//! [`artifact_root`], chosen from each object's `artifact_uri`.

pub mod artifact_root;
pub mod datasets;
pub mod dir;
pub mod dir_datasets;
pub mod direct;
mod history;
pub mod lists;
pub mod local;
pub mod mlruns;
pub mod mlruns_source;
pub mod object;
pub mod rest;
pub mod sql;
pub mod traces;
pub mod tracking;
pub mod zip;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::Duration,
};

use async_trait::async_trait;
use bytes::Bytes;
pub use mlflow_client::types::LoggedModelMetric;
pub use mlflow_client::{
    api::{Scorer, Webhook},
    ByteStream,
};
pub use object::ObjectLocation;

use crate::{
    format::run_json::ArtifactEntry,
    identity::SourceIdentity,
    model::{ArtifactFile, LoggedModelRecord, MetricPoint, ModelVersionRecord, RegisteredModelRecord, RunRecord},
    model::{Notebook, NotebookFormat},
    Result,
};

/// Something runs can be read from.
#[async_trait]
pub trait RunSource: Send + Sync {
    /// The run with params, tags and inputs; metrics may hold only the latest points until
    /// [`Self::complete_metrics`].
    async fn read_run(&self, run_id: &str) -> Result<RunRecord>;
    /// Replaces the run's metrics by their full histories (a no-op where `read_run` already
    /// read them). Called only for runs that are actually written.
    async fn complete_metrics(&self, _run: &mut RunRecord) -> Result<()> {
        Ok(())
    }
    /// Every artifact file of the run, recursively, with sizes.
    async fn list_artifacts(&self, run: &RunRecord) -> Result<Vec<ArtifactFile>>;
    /// Opens one artifact file for streaming.
    async fn open_artifact(&self, run: &RunRecord, file: &ArtifactFile) -> Result<ByteStream>;
    /// Where the file is in a cloud object store, when it is in one this machine reaches, so
    /// that a sink in the same store can copy it without the bytes passing through here.
    async fn locate_artifact(&self, _run: &RunRecord, _file: &ArtifactFile) -> Option<ObjectLocation> {
        None
    }
    /// The notebook at workspace `path`, its latest revision in each of `formats`; `None` when
    /// nothing is there any more. Only a Databricks workspace holds notebooks.
    async fn export_notebook(&self, path: &str, _formats: &[NotebookFormat]) -> Result<Option<Notebook>> {
        Err(crate::Error::Unsupported(format!("notebook {path}: only a Databricks workspace has notebooks")))
    }
}

/// What a sink found for a source run before writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Nothing there yet: a new object was created with this id.
    Created(String),
    /// An earlier attempt left an incomplete object with this id; it is finished in place.
    Resumed(String),
    /// A complete copy already exists with this id.
    Complete(String),
    /// A complete copy exists with this id, made when the source run looked different: what
    /// the source has gained since is written into it ([`RunSink::update_run`]).
    Changed(String),
}

impl Target {
    pub fn id(&self) -> &str {
        match self {
            Target::Created(id) | Target::Resumed(id) | Target::Complete(id) | Target::Changed(id) => id,
        }
    }
}

/// Something runs can be written to.
#[async_trait]
pub trait RunSink: Send + Sync {
    /// Whether the sink gives runs new ids (a server) rather than keeping the source's (an
    /// export folder); only then are parent links rewritten.
    fn assigns_ids(&self) -> bool {
        true
    }
    /// Whether the destination records its caller as a new run's user whatever the run says (a
    /// Databricks workspace: the token's user). The mover then keeps the source's user aside
    /// ([`crate::identity::REFUSED_USER`]), and an incomplete copy is not judged by its user.
    fn assigns_users(&self) -> bool {
        false
    }
    /// Tags this destination refuses to store (run and experiment tags alike): the mover keeps
    /// them aside as [`crate::identity::REFUSED_TAG`] tags and reports them.
    fn refused_tags(&self) -> &'static [&'static str] {
        &[]
    }

    /// The id of a complete copy of source run `run_id` anywhere at this destination (used for
    /// links to runs moved by an earlier job).
    async fn find_copy(&self, _run_id: &str, _source_tracking_uri: Option<&str>) -> Result<Option<String>> {
        Ok(None)
    }
    /// Finds the copy of `source` or starts a new one. A complete copy of a deleted source run
    /// that is still active is deleted here, finishing an interrupted earlier attempt.
    async fn begin_run(&self, run: &RunRecord, source: &SourceIdentity) -> Result<Target>;
    /// What [`Self::begin_run`] would find, without writing anything: the copy's target, or
    /// `None` when a run would be created.
    async fn probe_run(&self, _run: &RunRecord, _source: &SourceIdentity) -> Result<Option<Target>> {
        Ok(None)
    }
    /// The files about to be written into the run, before the first: a sink whose uploads need
    /// a credential per file (Databricks) asks for them in batches instead of one by one.
    async fn expect_artifacts(&self, _target: &Target, _files: &[ArtifactFile]) -> Result<()> {
        Ok(())
    }
    /// Writes `source` (a notebook's SOURCE export) as the notebook at workspace `path`, making
    /// its folder and replacing what is there. Only a Databricks workspace holds notebooks.
    async fn import_notebook(&self, path: &str, _language: &str, _source: Bytes) -> Result<()> {
        Err(crate::Error::Unsupported(format!("notebook {path}: only a Databricks workspace has notebooks")))
    }
    /// Streams one artifact file into the run.
    async fn write_artifact(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()>;
    /// Copies one artifact file from `from` inside the object store both live in; `false`
    /// (nothing done) when the sink cannot, and the file must be streamed.
    async fn copy_artifact(&self, _target: &Target, _file: &ArtifactFile, _from: &ObjectLocation) -> Result<bool> {
        Ok(false)
    }
    /// Writes params, tags, metric history, inputs, final status and times, and marks the run
    /// complete, last, so that a crash before that point leaves a run recognised as incomplete.
    async fn finish_run(&self, target: &Target, run: &RunRecord, artifacts: &[ArtifactEntry]) -> Result<()>;
    /// The copy a [`Target::Changed`] names as it is now: params, tags, inputs, status, and the
    /// latest point of each metric. Only sinks that find changed copies are asked.
    async fn read_copy(&self, target: &Target) -> Result<RunRecord> {
        Err(crate::Error::Unsupported(format!("run {}: this destination does not update copies", target.id())))
    }
    /// The copy's full history of metric `key`.
    async fn copy_history(&self, target: &Target, key: &str) -> Result<Vec<MetricPoint>> {
        Err(crate::Error::Unsupported(format!("run {}: no history of {key} here", target.id())))
    }
    /// Every artifact file of the copy, with sizes.
    async fn list_copy_files(&self, target: &Target) -> Result<Vec<ArtifactFile>> {
        Err(crate::Error::Unsupported(format!("run {}: its files cannot be listed here", target.id())))
    }
    /// Adds `delta` to the copy: its params, tags, metric points and dataset inputs, then its
    /// status, end time and name. The [`crate::identity::SOURCE_STATE`] tag among its tags is
    /// written last, so that an interrupted update is found changed again and finished.
    async fn update_run(&self, target: &Target, _delta: &RunRecord) -> Result<()> {
        Err(crate::Error::Unsupported(format!("run {}: this destination does not update copies", target.id())))
    }
    /// The active copies here of runs of source experiment `experiment_id` at the server
    /// `tracking_uri` whose source run is not in `keep`, as (destination id, source id).
    async fn stale_copies(
        &self,
        _experiment_id: &str,
        _tracking_uri: &str,
        _keep: &HashSet<String>,
    ) -> Result<Vec<(String, String)>> {
        Ok(Vec::new())
    }
    /// Deletes (at a server: soft-deletes, restorable) the copy `run_id`.
    async fn delete_copy(&self, run_id: &str) -> Result<()> {
        Err(crate::Error::Unsupported(format!("run {run_id}: this destination does not delete copies")))
    }
}

/// Something MLflow 3 logged models can be read from.
#[async_trait]
pub trait LoggedModelSource: Send + Sync {
    /// The logged model's description (name, type, params, tags).
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord>;
    /// Every file of the logged model, recursively, with sizes.
    async fn list_model_files(&self, model: &LoggedModelRecord) -> Result<Vec<ArtifactFile>>;
    /// Opens one file for streaming.
    async fn open_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Result<ByteStream>;
    /// Where the file is in an object store this machine reaches (see
    /// [`RunSource::locate_artifact`]).
    async fn locate_model_file(&self, _model: &LoggedModelRecord, _file: &ArtifactFile) -> Option<ObjectLocation> {
        None
    }
}

/// Something MLflow 3 logged models can be written to.
#[async_trait]
pub trait LoggedModelSink: Send + Sync {
    /// Finds the copy of `model` or starts a new one, attached to destination run `dst_run`
    /// (at a server: the copy lives in that run's experiment). A copy whose files are all
    /// there (finalized) is `Complete`; one left pending by an interrupted attempt is resumed.
    async fn begin_logged_model(
        &self,
        model: &LoggedModelRecord,
        dst_run: Option<&str>,
        source_tracking_uri: Option<&str>,
    ) -> Result<Target>;
    /// Streams one file into the copy.
    async fn write_model_file(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()>;
    /// Copies one file inside the object store both live in; `false` when the sink cannot.
    async fn copy_model_file(&self, _target: &Target, _file: &ArtifactFile, _from: &ObjectLocation) -> Result<bool> {
        Ok(false)
    }
    /// Marks the copy complete, last.
    async fn finish_logged_model(&self, target: &Target, model: &LoggedModelRecord) -> Result<()>;
    /// Logs the copy's metric points, each through the destination run its `run_id` names
    /// (already mapped), before the copy is finalized. Nothing to do in a folder: the points
    /// are in the model's description.
    async fn log_model_metrics(&self, _target: &Target, _metrics: &[LoggedModelMetric]) -> Result<()> {
        Ok(())
    }
    /// Records the copy as an input of destination runs `inputs` and an output of `outputs`
    /// (run, step), writing only the links a run does not have yet. Nothing to do in a folder:
    /// the links are in each run's `run.json`.
    async fn link_model_runs(&self, _target: &Target, _inputs: &[String], _outputs: &[(String, i64)]) -> Result<()> {
        Ok(())
    }
    /// Whether the copy gets new ids, which its `MLmodel` files are then rewritten to name (an
    /// export keeps the source's).
    fn new_ids(&self) -> bool {
        false
    }
}

/// Where experiments are found or created; runs then go into the [`RunSink`] of each.
#[async_trait]
pub trait ExperimentSink: Send + Sync {
    /// Finds experiment `name` or creates it, adding the `tags` it lacks; returns its id and
    /// the sink its runs are written to. Fails before any run is written when its artifact
    /// store cannot be written from here.
    async fn open_experiment(&self, name: &str, tags: &BTreeMap<String, String>) -> Result<(String, Arc<dyn RunSink>)>;
    /// The experiment `name` and the sink of its runs, if it exists; nothing is written (a
    /// dry run's look at the destination).
    async fn find_experiment(&self, name: &str) -> Result<Option<(String, Arc<dyn RunSink>)>>;
    /// Sets the grants of an exported access control list (`permissions` as
    /// [`crate::model::ExperimentRecord::permissions`] holds it) on experiment `experiment_id`,
    /// principals renamed by `principals`. Only a Databricks workspace has them.
    async fn set_permissions(
        &self,
        _experiment_id: &str,
        _permissions: &serde_json::Value,
        _principals: &crate::select::PrincipalMap,
    ) -> Result<PermissionsOutcome> {
        Err(tracking::no_permissions("the destination"))
    }
}

/// What importing an access control list did. Inherited grants are the destination's own
/// (from its folders) and are not copied.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct PermissionsOutcome {
    /// Grants set, as `principal: LEVEL` (the principal as named at the destination).
    pub applied: Vec<String>,
    /// Grants the destination refused (most often: no such principal there), with its reason.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<String>,
    /// Principals the principal file maps to nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
}

impl PermissionsOutcome {
    /// Records the answer to setting `grant`: set; refused for this grant alone (an unknown
    /// principal, a level or privilege the object does not take: 400 or 404), which fails the
    /// object later with the others set; or an error that stops it now.
    pub fn record(&mut self, grant: String, answer: mlflow_client::Result<()>) -> Result<()> {
        match answer {
            Ok(()) => self.applied.push(grant),
            Err(e) if e.status().is_some_and(|s| s == 400 || s == 404) => {
                self.refused.push(format!("{grant} ({})", e.error_code().unwrap_or("refused")));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(())
    }

    /// The failure of an object some of whose grants the destination refused: its
    /// permissions are not silently narrower than the source's.
    pub fn refusal(&self) -> Option<String> {
        (!self.refused.is_empty()).then(|| {
            format!(
                "permissions refused by the destination: {}; map or drop these principals with \
                 --principal-rename-file",
                self.refused.join(", ")
            )
        })
    }
}

/// A version at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationVersion {
    pub version: String,
    pub stage: Option<String>,
    /// What the destination holds, to bring a copy in step with a source version changed since.
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub aliases: Vec<String>,
}

/// A destination registered model as [`ModelSink::open_model`] found it, for the writes of
/// its versions.
#[derive(Debug, Clone)]
pub struct ModelState {
    pub dst_name: String,
    /// Our earlier copies by source version number.
    pub ours: HashMap<String, DestinationVersion>,
    /// Whether source version numbers are reproduced (only while the model holds nothing but
    /// our copies).
    pub keep_numbers: bool,
}

/// A version to create, with its identity (`src_model`, `src_version`, the source server).
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub model_id: Option<String>,
    pub src_model: String,
    pub src_version: String,
    pub source_tracking_uri: Option<String>,
}

/// Where registered models and their versions are written.
#[async_trait]
pub trait ModelSink: Send + Sync {
    /// Finds model `dst_name` or creates it (deleting it first with `delete_first`), adds the
    /// tags and description it lacks, and lists our earlier copies of `model`'s versions;
    /// copies left by an interrupted attempt under a wrong number are removed.
    async fn open_model(
        &self,
        dst_name: &str,
        model: &RegisteredModelRecord,
        source_tracking_uri: Option<&str>,
        delete_first: bool,
        keep_numbers: bool,
    ) -> Result<ModelState>;
    /// The artifact root of a destination run, which a version's files are inside of.
    async fn run_artifact_uri(&self, run_id: &str) -> Result<String>;
    /// Creates a version (found again by its identity when the answer was lost), under its
    /// source number when `state` keeps numbers, and waits until it is ready.
    async fn create_version(&self, state: &ModelState, v: &NewVersion, wait: Duration) -> Result<DestinationVersion>;
    /// Moves a version to `stage` when it is elsewhere; says whether it did. A registry without
    /// stages (Unity Catalog) keeps the stage as a tag instead and, with `as_alias`, points an
    /// alias named after it (`production`, `staging`, `archived`) at the version.
    async fn set_stage(&self, dst_name: &str, v: &DestinationVersion, stage: &str, as_alias: bool) -> Result<bool>;
    /// Gives an earlier copy `v` the source version's `description` and `tags` where they
    /// differ (tags the copy holds and the source does not are kept); says whether it did.
    async fn update_version(
        &self,
        dst_name: &str,
        v: &DestinationVersion,
        description: Option<&str>,
        tags: &BTreeMap<String, String>,
    ) -> Result<bool>;
    /// Points each alias at its destination version.
    async fn set_aliases(&self, dst_name: &str, aliases: &[(String, String)]) -> Result<()>;
    /// Sets the grants of an exported access control list (as
    /// [`crate::model::RegisteredModelRecord::permissions`] holds it) on model `dst_name`,
    /// principals renamed by `principals`. Only a Databricks workspace has them.
    async fn set_permissions(
        &self,
        _dst_name: &str,
        _permissions: &serde_json::Value,
        _principals: &crate::select::PrincipalMap,
    ) -> Result<PermissionsOutcome> {
        Err(tracking::no_permissions("the destination"))
    }
}

/// Where the scorers registered on experiments are read and registered: a server, or an
/// experiment folder of an export (whose `experiment_id` arguments are ignored).
#[async_trait]
pub trait ScorerStore: Send + Sync {
    /// Every version of every scorer of the experiment, by name, oldest version first.
    async fn scorers(&self, experiment_id: &str) -> Result<BTreeMap<String, Vec<Scorer>>>;
    /// Adds `versions`, in order, as the next versions of scorer `name`.
    async fn add_scorer_versions(&self, experiment_id: &str, name: &str, versions: &[Scorer]) -> Result<()>;
}

/// Where webhooks are read and written: a server, or the `webhooks/` folder of an export.
#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn webhooks(&self) -> Result<Vec<Webhook>>;
    /// Creates a webhook (with `secret` where one is known); returns its id, if it has one.
    async fn create_webhook(&self, webhook: &Webhook, secret: Option<&str>) -> Result<Option<String>>;
    /// Makes the webhook `existing` (as [`WebhookStore::webhooks`] listed it) say what
    /// `webhook` says; its secret is left as it is.
    async fn update_webhook(&self, existing: &Webhook, webhook: &Webhook) -> Result<()>;
}

/// Where prompts (prompt-registry entries: registered models tagged `mlflow.prompt.is_prompt`,
/// their versions model versions holding the template in tags) are written. The prompt mover
/// decides which versions to create and under which numbers; a sink only does the writes.
#[async_trait]
pub trait PromptSink: Send + Sync {
    /// Finds prompt `dst_name` or creates it (deleting it first with `delete_first`), gives it
    /// `prompt`'s description and tags, and lists its live versions in ascending order. Fails
    /// when `dst_name` is a registered model, not a prompt.
    async fn open_prompt(
        &self,
        dst_name: &str,
        prompt: &RegisteredModelRecord,
        delete_first: bool,
    ) -> Result<Vec<ModelVersionRecord>>;
    /// Creates the next version of `dst_name` with `v`'s tags (template, type, response format,
    /// model config, user tags, identity) and commit message; returns its number. When the
    /// answer was lost, the version carrying `v`'s identity tags is found instead.
    async fn create_prompt_version(&self, dst_name: &str, v: &ModelVersionRecord) -> Result<String>;
    async fn delete_prompt_version(&self, dst_name: &str, version: &str) -> Result<()>;
    /// Points each alias at its destination version.
    async fn set_prompt_aliases(&self, dst_name: &str, aliases: &[(String, String)]) -> Result<()>;
}
