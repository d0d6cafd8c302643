//! A tracking server as the planner's [`TrackingSource`]: each method is the server's own
//! (kept beside the routes it uses, in this module's siblings).

use std::sync::Arc;

use async_trait::async_trait;
use mlflow_client::types::{ModelInput, ModelOutput};

use super::{traces::RestTraces, RestSource};
use crate::{
    model::{ExperimentRecord, LoggedModelRecord, RegisteredModelRecord},
    select::{ExperimentSpec, RunFilter, VersionFilter},
    store::{
        traces::{ListedTrace, TraceSource},
        tracking::TrackingSource,
        ScorerStore, WebhookStore,
    },
    Result,
};

#[async_trait]
impl TrackingSource for RestSource {
    fn tracking_uri(&self) -> String {
        self.client.base_url().to_string()
    }

    async fn find_experiment(&self, name_or_id: &str) -> Result<ExperimentRecord> {
        RestSource::find_experiment(self, name_or_id).await
    }

    async fn select_experiments(&self, spec: &ExperimentSpec) -> Result<Vec<ExperimentRecord>> {
        RestSource::select_experiments(self, spec).await
    }

    async fn experiment_permissions(&self, experiment_id: &str) -> Result<serde_json::Value> {
        if !self.client.is_databricks() {
            return Err(crate::store::tracking::no_permissions(&self.tracking_uri()));
        }
        // The Python tool's `mlflow.permissions`: the levels, then the list itself.
        let kind = super::workspace::EXPERIMENT_PERMISSIONS;
        let levels = self.client.get_permission_levels(kind, experiment_id).await?;
        let list = self.client.get_permissions(kind, experiment_id).await?;
        Ok(serde_json::json!({"permission_levels": levels, "permissions": list}))
    }

    async fn plan_runs(&self, exp: &ExperimentRecord, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>> {
        RestSource::plan_runs(self, exp, filter).await
    }

    async fn run_tag(&self, run_id: &str, key: &str) -> Result<Option<String>> {
        RestSource::run_tag(self, run_id, key).await
    }

    async fn read_model(&self, name: &str, filter: &VersionFilter) -> Result<RegisteredModelRecord> {
        RestSource::read_model(self, name, filter).await
    }

    async fn select_models(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        RestSource::select_models(self, spec).await
    }

    async fn list_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        RestSource::list_models(self).await
    }

    async fn read_prompt(&self, name: &str, version: Option<&str>) -> Result<RegisteredModelRecord> {
        RestSource::read_prompt(self, name, version).await
    }

    async fn select_prompts(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        RestSource::select_prompts(self, spec).await
    }

    async fn select_datasets(&self, names: Option<&[String]>, experiment_ids: &[String]) -> Result<Vec<String>> {
        RestSource::select_datasets(self, names, experiment_ids).await
    }

    async fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        RestSource::list_logged_models(self, experiment_id).await
    }

    async fn logged_model_with_experiment(&self, model_id: &str) -> Result<(LoggedModelRecord, ExperimentRecord)> {
        RestSource::logged_model_with_experiment(self, model_id).await
    }

    async fn model_links(&self, run_ids: &[String]) -> Result<Vec<(Vec<ModelInput>, Vec<ModelOutput>)>> {
        RestSource::model_links(self, run_ids).await
    }

    async fn list_traces(&self, experiment_id: &str, filter: Option<&str>) -> Result<Vec<ListedTrace>> {
        RestTraces::new(self.client.clone()).list(experiment_id, filter).await
    }

    fn traces(&self) -> Arc<dyn TraceSource> {
        Arc::new(RestTraces::new(self.client.clone()))
    }

    fn scorers(&self) -> Arc<dyn ScorerStore> {
        Arc::new(self.client.clone())
    }

    fn webhooks(&self) -> Arc<dyn WebhookStore> {
        Arc::new(self.client.clone())
    }
}
