//! Runs: reading, searching, creating and logging, plus metric history.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    client::{all_pages, Idempotency},
    offset_pages::each_offset_page,
    types::{DatasetInput, KeyValue, Metric, MetricOfRun, Run, RunInfo, RunStatus, ViewType},
    Error, MlflowClient, Result,
};

/// Arguments of `runs/create`. Every field is sent explicitly: an unset `start_time` is stored
/// as 0 by the server.
#[derive(Debug, Clone, Serialize)]
pub struct RunCreate {
    pub experiment_id: String,
    pub user_id: String,
    pub run_name: Option<String>,
    pub start_time: i64,
    pub tags: Vec<KeyValue>,
}

/// A `runs/search` query.
#[derive(Debug, Clone, Serialize)]
pub struct SearchRuns {
    pub experiment_ids: Vec<String>,
    pub filter: String,
    pub run_view_type: ViewType,
    pub max_results: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_token: Option<String>,
}

/// One `runs/log-batch` request; build it with [`crate::batch::pack`] to stay within limits.
#[derive(Debug, Clone, Default, Serialize)]
pub struct LogBatch {
    pub metrics: Vec<Metric>,
    pub params: Vec<KeyValue>,
    pub tags: Vec<KeyValue>,
}

#[derive(Deserialize)]
struct RunResponse {
    run: Run,
}

#[derive(Deserialize)]
struct Empty {}

/// Points per `get-history` page; the Python client uses the same.
/// Runs one bulk history request may name.
pub const HISTORY_BULK_RUNS: usize = 100;
/// Points a bulk history answer holds at most, over all its runs.
pub const HISTORY_BULK_POINTS: usize = 25_000;

const HISTORY_PAGE: u32 = 25_000;

impl MlflowClient {
    pub async fn get_run(&self, run_id: &str) -> Result<Run> {
        let r: RunResponse = self.get("/api/2.0/mlflow/runs/get", &[("run_id", run_id.to_string())]).await?;
        Ok(r.run)
    }

    /// Every run matching `query`, following page tokens.
    pub async fn search_runs(&self, query: SearchRuns) -> Result<Vec<Run>> {
        all_pages(|page_token| {
            let query = SearchRuns { page_token, ..query.clone() };
            async move { self.send(Method::POST, "/api/2.0/mlflow/runs/search", &query, Idempotency::Safe).await }
        })
        .await
    }

    /// Every run matching `query`, handed to `take` a page at a time as the JSON text the
    /// server sent (parse it with `serde_json::from_str::<Run>` when needed). A run's text is
    /// a fraction of the memory of its parsed [`Run`] (one allocation instead of one per id,
    /// name, key and value), and each page can be reduced before the next is read: what lets
    /// a planner hold 100,000 runs. [`MlflowClient::search_runs`] collects parsed runs instead.
    /// A server that pages by offset (MLflow's own) is asked for several pages at once
    /// ([`crate::offset_pages`]), each of `query.max_results` runs.
    pub async fn search_runs_raw<E: From<Error>>(
        &self,
        query: SearchRuns,
        take: impl FnMut(Vec<Box<serde_json::value::RawValue>>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        each_offset_page(
            query.max_results as usize,
            |page_token| {
                let query = SearchRuns { page_token, ..query.clone() };
                async move { self.send(Method::POST, "/api/2.0/mlflow/runs/search", &query, Idempotency::Safe).await }
            },
            take,
        )
        .await
    }

    /// Creates a run. Not retried after an ambiguous failure: the caller finds a run that was
    /// created anyway by its source-identity tags.
    pub async fn create_run(&self, run: &RunCreate) -> Result<RunInfo> {
        let r: RunResponse = self.send(Method::POST, "/api/2.0/mlflow/runs/create", run, Idempotency::Create).await?;
        Ok(r.run.info)
    }

    /// Sets status, and end time and name when given.
    pub async fn update_run(
        &self,
        run_id: &str,
        status: RunStatus,
        end_time: Option<i64>,
        run_name: Option<&str>,
    ) -> Result<()> {
        let mut body = json!({ "run_id": run_id, "status": status });
        if let Some(t) = end_time {
            body["end_time"] = json!(t);
        }
        if let Some(n) = run_name {
            body["run_name"] = json!(n);
        }
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/update", &body, Idempotency::Safe).await?;
        Ok(())
    }

    pub async fn delete_run(&self, run_id: &str) -> Result<()> {
        let _: Empty = self
            .send(Method::POST, "/api/2.0/mlflow/runs/delete", &json!({ "run_id": run_id }), Idempotency::Safe)
            .await?;
        Ok(())
    }

    pub async fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "run_id": run_id, "key": key, "value": value });
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/set-tag", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Logs one batch. Safe to repeat: identical metric points are stored once, identical
    /// params are a no-op and tags are upserts.
    pub async fn log_batch(&self, run_id: &str, batch: &LogBatch) -> Result<()> {
        let body = json!({
            "run_id": run_id,
            "metrics": batch.metrics,
            "params": batch.params,
            "tags": batch.tags,
        });
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/log-batch", &body, Idempotency::Safe).await?;
        Ok(())
    }

    pub async fn log_inputs(&self, run_id: &str, datasets: &[DatasetInput]) -> Result<()> {
        let body = json!({ "run_id": run_id, "datasets": datasets });
        let _: Empty = self.send(Method::POST, "/api/2.0/mlflow/runs/log-inputs", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// The full history of one metric, following page tokens.
    pub async fn get_metric_history(&self, run_id: &str, key: &str) -> Result<Vec<Metric>> {
        all_pages(|token| async move {
            let mut q = vec![
                ("run_id", run_id.to_string()),
                ("metric_key", key.to_string()),
                ("max_results", HISTORY_PAGE.to_string()),
            ];
            q.extend(token.map(|t| ("page_token", t)));
            self.get("/api/2.0/mlflow/metrics/get-history", &q).await
        })
        .await
    }

    /// The histories of one metric for up to [`HISTORY_BULK_RUNS`] runs in one request (the
    /// `ajax-api` route the MLflow UI uses), sorted by run id, then timestamp, step and value.
    /// The server stops at [`HISTORY_BULK_POINTS`] points in all and says nothing of it: an
    /// answer that long may be cut. Servers without the route (Databricks) answer 404.
    pub async fn get_metric_history_bulk(&self, run_ids: &[String], key: &str) -> Result<Vec<MetricOfRun>> {
        #[derive(serde::Deserialize)]
        struct Answer {
            #[serde(default)]
            metrics: Vec<MetricOfRun>,
        }
        let mut q: Vec<(&str, String)> = run_ids.iter().map(|id| ("run_id", id.clone())).collect();
        q.push(("metric_key", key.to_string()));
        q.push(("max_results", HISTORY_BULK_POINTS.to_string()));
        let a: Answer = self.get_python_json("/ajax-api/2.0/mlflow/metrics/get-history-bulk", &q).await?;
        Ok(a.metrics)
    }
}
