//! MLflow 3 traces at a tracking server: read with `traces/search` and `traces/get`, written
//! with StartTraceV3 (the info, with our identity tags), the OTLP route `/v1/traces` (the
//! spans; MLflow ≥3.4 on a SQL store), and StartTraceV3 again with the completion tag.
//!
//! Info first, so that a copy interrupted before or during its spans is recognised as ours by
//! its identity tags and finished. Both writes are upserts by trace id.

use async_trait::async_trait;
use base64::Engine;
use mlflow_client::MlflowClient;
use serde_json::{Map, Value};

use crate::{
    identity,
    store::traces::{ListedTrace, TraceCopyOf, TraceFound, TraceRecord, TraceSink, TraceSource},
    Error, Result,
};

/// Traces of a tracking server.
pub struct RestTraces {
    client: MlflowClient,
    /// The trace whose write showed that the server cannot store spans, and why.
    refused: std::sync::OnceLock<(String, String)>,
}

impl RestTraces {
    pub fn new(client: MlflowClient) -> Self {
        Self { client, refused: std::sync::OnceLock::new() }
    }

    /// Each trace of an experiment (that `filter` selects) as (trace id, its run), oldest
    /// first; none from a server without MLflow 3 traces. Trace ids become folder names in an
    /// export: one that cannot be is refused.
    pub async fn list(&self, experiment_id: &str, filter: Option<&str>) -> Result<Vec<ListedTrace>> {
        let mut out = Vec::new();
        let listed = self
            .client
            .search_traces(experiment_id, filter, |page| {
                for info in page {
                    let id = info["trace_id"].as_str().unwrap_or_default().to_string();
                    if id.is_empty() || !crate::paths::is_single_segment(&id) {
                        return Err(Error::Input(format!("the server returned trace id {id:?}; refusing it")));
                    }
                    out.push(ListedTrace::of_info(id, &info));
                }
                Ok(())
            })
            .await;
        match listed {
            Ok(()) => Ok(out),
            Err(Error::Client(e)) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl TraceSource for RestTraces {
    async fn read_trace(&self, trace_id: &str) -> Result<TraceRecord> {
        let mut trace = self.client.get_trace(trace_id).await?;
        let info = trace.get_mut("trace_info").map(Value::take).filter(Value::is_object);
        let info = info.ok_or_else(|| Error::Input(format!("trace {trace_id}: the server sent no trace_info")))?;
        let spans = match trace.get_mut("spans").map(Value::take) {
            Some(Value::Array(spans)) => spans,
            _ => Vec::new(),
        };
        Ok(TraceRecord { info, spans })
    }
}

#[async_trait]
impl TraceSink for RestTraces {
    async fn find_trace(&self, trace_id: &str, of: TraceCopyOf<'_>) -> Result<TraceFound> {
        let Some(info) = self.client.get_trace_info(trace_id).await? else { return Ok(TraceFound::Nothing) };
        let tag = |k: &str| info.get("tags").and_then(|t| t.get(k)).and_then(Value::as_str);
        let same_server = match (of.tracking_uri, tag(identity::SOURCE_TRACKING_URI)) {
            (Some(a), Some(b)) => identity::same_server(a, b),
            _ => true,
        };
        let experiment = info.pointer("/trace_location/mlflow_experiment/experiment_id").and_then(Value::as_str);
        let ours = tag(identity::SOURCE_TRACE_ID) == Some(of.trace_id) && same_server;
        Ok(match (ours, of.experiment.is_none_or(|e| experiment == Some(e))) {
            (true, true) if tag(identity::COMPLETE) == Some("true") => TraceFound::Complete,
            (true, true) => TraceFound::Begun,
            _ => TraceFound::Taken,
        })
    }

    async fn write_trace(&self, trace: &TraceRecord) -> Result<()> {
        let id = trace.trace_id();
        let experiment = trace.experiment_id().ok_or_else(|| Error::Input(format!("trace {id} has no experiment")))?;
        self.client.start_trace(&trace.info).await?;
        if !trace.spans.is_empty() {
            match self.client.log_spans(experiment, &otlp_request(&trace.spans)?).await {
                Ok(()) => {}
                Err(e) if matches!(e.status(), Some(404 | 405 | 501)) => {
                    // Nothing of the trace is left behind: a copy without spans is no copy.
                    self.client.delete_traces(experiment, &[id]).await?;
                    let why = format!(
                        "the destination cannot store traces (it needs MLflow >= 3.4 with a database backend): {e}"
                    );
                    let _ = self.refused.set((id.to_string(), why.clone()));
                    return Err(Error::Unsupported(why));
                }
                Err(e) => return Err(e.into()),
            }
        }
        // The info once more, now with the completion tag: logging spans recomputes the
        // execution time from the root span (to the rounding of the server), and the source's
        // value is the one to keep.
        let mut info = trace.info.clone();
        info["tags"][identity::COMPLETE] = Value::String("true".into());
        Ok(self.client.start_trace(&info).await?)
    }

    fn refuses(&self) -> Option<(String, String)> {
        self.refused.get().cloned()
    }
}

/// An OTLP JSON `ExportTraceServiceRequest` holding `spans` (OTel proto JSON as `traces/get`
/// sends them): keys in lowerCamelCase, and the span's own ids in hex where the proto JSON has
/// base64, as the OTLP JSON encoding wants.
fn otlp_request(spans: &[Value]) -> Result<Value> {
    let spans = spans.iter().map(otlp_span).collect::<Result<Vec<_>>>()?;
    Ok(serde_json::json!({"resourceSpans": [{"resource": {"attributes": []}, "scopeSpans": [{"spans": spans}]}]}))
}

fn otlp_span(span: &Value) -> Result<Value> {
    let mut out = camel_keys(span);
    for field in ["traceId", "spanId", "parentSpanId"] {
        if let Some(b64) = out.get(field).and_then(Value::as_str).filter(|s| !s.is_empty()) {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| Error::Input(format!("span {field} {b64:?} is not base64: {e}")))?;
            out[field] = Value::String(bytes.iter().map(|b| format!("{b:02x}")).collect());
        }
    }
    Ok(out)
}

/// `v` with every object key in lowerCamelCase. OTel spans hold no maps (attributes are lists
/// of key/value objects), so every object key is a field name.
fn camel_keys(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (camel(k), camel_keys(v))).collect::<Map<_, _>>()),
        Value::Array(a) => Value::Array(a.iter().map(camel_keys).collect()),
        other => other.clone(),
    }
}

fn camel(k: &str) -> String {
    let mut out = String::with_capacity(k.len());
    let mut up = false;
    for c in k.chars() {
        match (c, up) {
            ('_', _) => up = true,
            (c, true) => {
                out.extend(c.to_uppercase());
                up = false;
            }
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spans_become_otlp_json() {
        let span = json!({"trace_id": "4dmpz279udZ5mI0YfbYlpg==", "span_id": "sOySB8Wd/cI=", "parent_span_id": "",
            "start_time_unix_nano": 5, "attributes": [{"key": "mlflow.span_type", "value": {"string_value": "x"}}]});
        let got = otlp_span(&span).unwrap();
        assert_eq!(got["traceId"], "e1d9a9cf6efdb9d679988d187db625a6");
        assert_eq!(got["spanId"], "b0ec9207c59dfdc2");
        assert_eq!(got["startTimeUnixNano"], 5);
        // Attribute keys are values, not field names: kept as they are.
        assert_eq!(got["attributes"][0], json!({"key": "mlflow.span_type", "value": {"stringValue": "x"}}));
    }
}
