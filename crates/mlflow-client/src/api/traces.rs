//! MLflow 3 traces (`/api/3.0/mlflow/traces…`) and the OTLP span route (`/v1/traces`).
//!
//! Trace infos and spans are kept as the JSON the server sends (`serde_json::Value`): a copy
//! carries every field, including ones added by later servers, without a model of each.

use reqwest::Method;
use serde::Deserialize;
use serde_json::{json, Value};

use super::encode;
use crate::{
    client::{each_page, Idempotency},
    MlflowClient, Result,
};

/// `traces/search` answers at most this many trace infos a page.
pub const TRACES_PAGE: u32 = 500;

#[derive(Deserialize)]
struct TraceResponse {
    trace: Value,
}

impl MlflowClient {
    /// Hands each page of an experiment's trace infos (TraceInfoV3 JSON) to `take`.
    pub async fn search_traces<E: From<crate::Error>>(
        &self,
        experiment_id: &str,
        filter: Option<&str>,
        take: impl FnMut(Vec<Value>) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        each_page(
            |token| async move {
                let mut body = json!({
                    "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment_id}}],
                    "max_results": TRACES_PAGE,
                    "order_by": ["timestamp_ms ASC"],
                });
                if let Some(f) = filter {
                    body["filter"] = json!(f);
                }
                if let Some(t) = token {
                    body["page_token"] = json!(t);
                }
                self.send(Method::POST, "/api/3.0/mlflow/traces/search", &body, Idempotency::Safe).await
            },
            take,
        )
        .await
    }

    /// A trace's info (`{trace_info}`), or `None` when the server has no trace of that id.
    pub async fn get_trace_info(&self, trace_id: &str) -> Result<Option<Value>> {
        let path = format!("/api/3.0/mlflow/traces/{}", encode(trace_id));
        match self.get::<TraceResponse>(&path, &[]).await {
            Ok(r) => Ok(r.trace.get("trace_info").cloned()),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// A whole trace: `{trace_info, spans[]}`, spans as OTel proto JSON (snake_case, base64 ids).
    pub async fn get_trace(&self, trace_id: &str) -> Result<Value> {
        let q = [("trace_id", trace_id.to_string()), ("allow_partial", "false".to_string())];
        Ok(self.get::<TraceResponse>("/api/3.0/mlflow/traces/get", &q).await?.trace)
    }

    /// Writes spans through the OTLP route (`body`: an OTLP JSON `ExportTraceServiceRequest`)
    /// into experiment `experiment_id`. The server stores a batch all or nothing, and upserts
    /// spans it already holds, so sending it again is safe.
    pub async fn log_spans(&self, experiment_id: &str, body: &Value) -> Result<()> {
        let headers = [("x-mlflow-experiment-id", experiment_id)];
        self.send_with_headers::<_, serde::de::IgnoredAny>(
            Method::POST,
            "/v1/traces",
            body,
            Idempotency::Safe,
            &headers,
        )
        .await
        .map(drop)
    }

    /// Deletes traces of an experiment by id.
    pub async fn delete_traces(&self, experiment_id: &str, trace_ids: &[&str]) -> Result<()> {
        let body = json!({"experiment_id": experiment_id, "request_ids": trace_ids});
        let path = "/api/3.0/mlflow/traces/delete-traces";
        self.send::<_, serde::de::IgnoredAny>(Method::POST, path, &body, Idempotency::Safe).await.map(drop)
    }

    /// StartTraceV3: creates or merges (by its `trace_id`) a trace info with its tags,
    /// metadata and assessments. An upsert, so safe to repeat.
    pub async fn start_trace(&self, trace_info: &Value) -> Result<()> {
        let body = json!({"trace": {"trace_info": trace_info}});
        self.send::<_, serde::de::IgnoredAny>(Method::POST, "/api/3.0/mlflow/traces", &body, Idempotency::Safe)
            .await
            .map(drop)
    }
}
