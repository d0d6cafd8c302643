//! Experiments: lookups by id and name, and creation.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use crate::{client::Idempotency, types::{Experiment, KeyValue}, MlflowClient, Result};

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
        let r: ExperimentResponse = self
            .get("/api/2.0/mlflow/experiments/get", &[("experiment_id", experiment_id.to_string())])
            .await?;
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
