//! A tracking store read as a whole: what the planner and `verify` ask of a source that is not
//! an export folder. A tracking server over REST ([`super::rest::RestSource`]) is one; MLflow's
//! own backend database or an `mlruns` folder, read directly, are others. The planner sees only
//! this trait, so every command moves from each of them alike (rclone's one backend trait).

use std::sync::Arc;

use async_trait::async_trait;
use mlflow_client::types::{ModelInput, ModelOutput};

use crate::{
    model::{ExperimentRecord, LoggedModelRecord, RegisteredModelRecord},
    select::{ExperimentSpec, RunFilter, VersionFilter},
    store::{
        datasets::EvaluationDatasetSource,
        traces::{ListedTrace, TraceSource},
        LoggedModelSource, RunSource, ScorerStore, WebhookStore,
    },
    Result,
};

/// A tracking store to read from.
#[async_trait]
pub trait TrackingSource: RunSource + LoggedModelSource + EvaluationDatasetSource {
    /// Where the store is, without credentials: recorded on every copy as its source, so that a
    /// later job finds the copy again.
    fn tracking_uri(&self) -> String;

    /// The experiment named `name_or_id`, or with that id.
    async fn find_experiment(&self, name_or_id: &str) -> Result<ExperimentRecord>;

    /// Resolves `--experiments`. `all` and `prefix*` take active experiments only; a deleted
    /// experiment is taken when named explicitly.
    async fn select_experiments(&self, spec: &ExperimentSpec) -> Result<Vec<ExperimentRecord>>;

    /// The access control list of experiment `experiment_id` (`--export-permissions`), as the
    /// Python tool exports it. Only a Databricks workspace has one.
    async fn experiment_permissions(&self, _experiment_id: &str) -> Result<serde_json::Value> {
        Err(no_permissions(&self.tracking_uri()))
    }

    /// The runs of an experiment that `filter` selects, as (id, parent id). A store that reads
    /// whole runs to answer keeps them, so that moving them costs no second read.
    async fn plan_runs(&self, exp: &ExperimentRecord, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>>;

    /// The value of tag `key` of a run, `None` when it has none. A run [`Self::plan_runs`]
    /// found is answered from what the search kept, without a request; a database answers
    /// one query of that tag alone.
    async fn run_tag(&self, run_id: &str, key: &str) -> Result<Option<String>>;

    /// A registered model and the versions `filter` selects, each with its run's artifact root
    /// and experiment name.
    async fn read_model(&self, name: &str, filter: &VersionFilter) -> Result<RegisteredModelRecord>;

    /// Registered model names for `--models`: `all`, `prefix*`, or a list.
    async fn select_models(&self, spec: &ExperimentSpec) -> Result<Vec<String>>;

    /// Every registered model with all its versions (for listings).
    async fn list_models(&self) -> Result<Vec<RegisteredModelRecord>>;

    /// A prompt with every version, or only `version`.
    async fn read_prompt(&self, name: &str, version: Option<&str>) -> Result<RegisteredModelRecord>;

    /// Prompt names for `--prompts`: `all`, `prefix*`, or a list.
    async fn select_prompts(&self, spec: &ExperimentSpec) -> Result<Vec<String>>;

    /// The ids of the evaluation datasets `names` names (names or ids), or with `None` every
    /// one (linked to one of `experiment_ids`, when given).
    async fn select_datasets(&self, names: Option<&[String]>, experiment_ids: &[String]) -> Result<Vec<String>>;

    /// Every MLflow 3 logged model of an experiment.
    async fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>>;

    /// Logged model `model_id` and the experiment that holds it.
    async fn logged_model_with_experiment(&self, model_id: &str) -> Result<(LoggedModelRecord, ExperimentRecord)>;

    /// The model inputs and outputs of runs, in the order given.
    async fn model_links(&self, run_ids: &[String]) -> Result<Vec<(Vec<ModelInput>, Vec<ModelOutput>)>>;

    /// Each MLflow 3 trace of an experiment (that `filter`, a `traces/search` filter, selects),
    /// oldest first.
    async fn list_traces(&self, experiment_id: &str, filter: Option<&str>) -> Result<Vec<ListedTrace>>;

    /// Where the traces [`Self::list_traces`] names are read.
    fn traces(&self) -> Arc<dyn TraceSource>;

    /// The experiments' registered scorers.
    fn scorers(&self) -> Arc<dyn ScorerStore>;

    /// The store's webhooks.
    fn webhooks(&self) -> Arc<dyn WebhookStore>;
}

/// Why a store without access control lists cannot give or take permissions.
pub fn no_permissions(store: &str) -> crate::Error {
    crate::Error::Unsupported(format!(
        "{store}: permissions (--export-permissions, --import-permissions, --copy-permissions) are \
         Databricks access control lists, which only a Databricks workspace has"
    ))
}
