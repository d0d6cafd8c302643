//! MLflow 3 logged models: enough to carry the model behind a `models:/m-…` model version.

use reqwest::Method;
use serde::Deserialize;
use serde_json::json;

use super::encode;
use crate::{
    client::{all_pages, ByteStream, Idempotency},
    types::{FileInfo, KeyValue, LoggedModel, LoggedModelMetric, ModelOutput},
    MlflowClient, Result,
};

#[derive(Deserialize)]
struct ModelResponse {
    model: LoggedModel,
}

/// The empty answer of a write.
#[derive(Deserialize)]
struct Empty {}

impl MlflowClient {
    pub async fn get_logged_model(&self, model_id: &str) -> Result<LoggedModel> {
        let r: ModelResponse = self.get(&format!("/api/2.0/mlflow/logged-models/{}", encode(model_id)), &[]).await?;
        Ok(r.model)
    }

    /// Creates a logged model (status PENDING until [`Self::finalize_logged_model`]).
    pub async fn create_logged_model(
        &self,
        experiment_id: &str,
        name: &str,
        model_type: Option<&str>,
        source_run_id: Option<&str>,
        params: &[KeyValue],
        tags: &[KeyValue],
    ) -> Result<LoggedModel> {
        let mut body = json!({ "experiment_id": experiment_id, "name": name, "params": params, "tags": tags });
        if let Some(t) = model_type {
            body["model_type"] = json!(t);
        }
        if let Some(r) = source_run_id {
            body["source_run_id"] = json!(r);
        }
        let r: ModelResponse =
            self.send(Method::POST, "/api/2.0/mlflow/logged-models", &body, Idempotency::Create).await?;
        Ok(r.model)
    }

    /// Every logged model of an experiment, following pages (the server answers at most 100 a
    /// page).
    pub async fn search_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModel>> {
        all_pages(|token| async move {
            let mut body = json!({ "experiment_ids": [experiment_id], "max_results": 100 });
            if let Some(t) = token {
                body["page_token"] = json!(t);
            }
            self.send(Method::POST, "/api/2.0/mlflow/logged-models/search", &body, Idempotency::Safe).await
        })
        .await
    }

    /// Ends a logged model's upload with `status` (`LOGGED_MODEL_READY` or
    /// `LOGGED_MODEL_UPLOAD_FAILED`).
    pub async fn finalize_logged_model(&self, model_id: &str, status: &str) -> Result<LoggedModel> {
        // The handler checks `model_id` in the body as well as in the path.
        let body = json!({ "model_id": model_id, "status": status });
        let path = format!("/api/2.0/mlflow/logged-models/{}", encode(model_id));
        let r: ModelResponse = self.send(Method::PATCH, &path, &body, Idempotency::Safe).await?;
        Ok(r.model)
    }

    /// Sets tags on a logged model (replacing the values of keys it has).
    pub async fn set_logged_model_tags(&self, model_id: &str, tags: &[KeyValue]) -> Result<()> {
        let body = json!({ "model_id": model_id, "tags": tags });
        let path = format!("/api/2.0/mlflow/logged-models/{}/tags", encode(model_id));
        let _: Empty = self.send(Method::PATCH, &path, &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// One directory level of a logged model's files, every page of it (a workspace pages the
    /// listing as it pages a run's); paths are relative to its root.
    pub async fn list_logged_model_artifacts(&self, model_id: &str, dir: &str) -> Result<Vec<FileInfo>> {
        let path = format!("/api/2.0/mlflow/logged-models/{}/artifacts/directories", encode(model_id));
        let path = &path;
        all_pages(|token| async move {
            let mut q = Vec::new();
            if !dir.is_empty() {
                q.push(("artifact_directory_path", dir.to_string()));
            }
            q.extend(token.map(|t| ("page_token", t)));
            self.get(path, &q).await
        })
        .await
    }

    /// Streams one file of a logged model.
    pub async fn download_logged_model_artifact(&self, model_id: &str, path: &str) -> Result<ByteStream> {
        let route = format!("/ajax-api/2.0/mlflow/logged-models/{}/artifacts/files", encode(model_id));
        self.get_stream(&route, &[("artifact_file_path", path.to_string())]).await
    }

    /// Logs a logged model's metric points through run `run_id`'s `log-batch`, each with its
    /// `model_id` and dataset: the only way a logged model gets metrics. Safe to repeat.
    pub async fn log_model_metrics(&self, run_id: &str, metrics: &[LoggedModelMetric]) -> Result<()> {
        let body = json!({ "run_id": run_id, "metrics": metrics });
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/log-batch", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Records logged models as inputs of a run. Not safe to repeat: the server refuses a link
    /// it already has, so callers write only the missing ones.
    pub async fn log_model_inputs(&self, run_id: &str, model_ids: &[String]) -> Result<()> {
        let models: Vec<_> = model_ids.iter().map(|m| json!({ "model_id": m })).collect();
        let body = json!({ "run_id": run_id, "datasets": [], "models": models });
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/log-inputs", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Records logged models as outputs of a run (`runs/outputs`). Like inputs, written only
    /// when missing.
    pub async fn log_model_outputs(&self, run_id: &str, outputs: &[ModelOutput]) -> Result<()> {
        let body = json!({ "run_id": run_id, "models": outputs });
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/outputs", &body, Idempotency::Safe).await?;
        Ok(())
    }
}
