//! Experiments: lookups by id and name, and creation.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::{
    client::{all_pages, Idempotency},
    types::{Experiment, KeyValue, ViewType},
    MlflowClient, Result,
};

#[derive(Deserialize)]
struct ExperimentResponse {
    experiment: Experiment,
}

#[derive(Deserialize)]
struct CreateResponse {
    experiment_id: String,
}

impl MlflowClient {
    pub async fn get_experiment(&self, experiment_id: &str) -> Result<Experiment> {
        let r: ExperimentResponse =
            self.get("/api/2.0/mlflow/experiments/get", &[("experiment_id", experiment_id.to_string())]).await?;
        Ok(r.experiment)
    }

    /// The experiment with this name, deleted ones included (names are unique across both).
    pub async fn get_experiment_by_name(&self, name: &str) -> Result<Option<Experiment>> {
        let r = self
            .get::<ExperimentResponse>(
                "/api/2.0/mlflow/experiments/get-by-name",
                &[("experiment_name", name.to_string())],
            )
            .await;
        match r {
            Ok(r) => Ok(Some(r.experiment)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Every experiment matching `filter` (MLflow search syntax; empty for all), following pages.
    pub async fn search_experiments(&self, filter: &str, view: ViewType) -> Result<Vec<Experiment>> {
        all_pages(|token| async move {
            let mut body = json!({ "max_results": 1000, "filter": filter, "view_type": view });
            if let Some(t) = token {
                body["page_token"] = json!(t);
            }
            self.send(Method::POST, "/api/2.0/mlflow/experiments/search", &body, Idempotency::Safe).await
        })
        .await
    }

    /// Sets (upserts) one experiment tag.
    pub async fn set_experiment_tag(&self, experiment_id: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "experiment_id": experiment_id, "key": key, "value": value });
        let _: serde_json::Value =
            self.send(Method::POST, "/api/2.0/mlflow/experiments/set-experiment-tag", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Soft-deletes an experiment.
    pub async fn delete_experiment(&self, experiment_id: &str) -> Result<()> {
        let body = json!({ "experiment_id": experiment_id });
        let _: serde_json::Value =
            self.send(Method::POST, "/api/2.0/mlflow/experiments/delete", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Creates an experiment and returns its id. Not retried after an ambiguous failure:
    /// callers reconcile with [`Self::get_experiment_by_name`].
    pub async fn create_experiment(&self, name: &str, tags: &[KeyValue]) -> Result<String> {
        let r: CreateResponse = self
            .send(
                Method::POST,
                "/api/2.0/mlflow/experiments/create",
                &json!({ "name": name, "tags": tags }),
                Idempotency::Create,
            )
            .await?;
        Ok(r.experiment_id)
    }
}
