//! MLflow 3 traces in an export, in the Python tool's layout under an experiment folder:
//! `traces/traces.json` (the index), `traces/<trace_id>/trace.json` (`mlflow.info`: the trace
//! info, `mlflow.data`: a summary of the spans) and `traces/<trace_id>/artifacts/traces.json`
//! (`{"spans": [...]}`, the whole spans). `trace.json` is written last, so a folder holding it
//! is complete.
//!
//! We write the info as the server's TraceInfoV3 JSON and the spans as `traces/get` gives them
//! (OTel proto JSON), so nothing is lost. The Python tool writes its own renderings (times in
//! ms, span attributes as an object of JSON texts); the reader turns those into ours.

use std::path::Path;

use serde_json::{json, Map, Value};

pub use super::index_json::IndexedExperiment;
use super::json::{read_json, system_value, utc_text, ExportSystem, FormatError};

pub const TRACE_JSON: &str = "trace.json";
pub const TRACES_JSON: &str = "traces.json";
/// The folder of an experiment's traces, and the folder of a trace's spans file.
pub const TRACES: &str = "traces";
pub const ARTIFACTS: &str = "artifacts";

/// `trace.json`: the trace info and the Python tool's span summary.
pub fn write_trace_json(system: &ExportSystem, info: &Value, spans: &[Value]) -> Value {
    let data: Vec<Value> = spans
        .iter()
        .map(|s| json!({"name": s["name"], "trace_id": info["trace_id"], "span_id": s["span_id"], "parent_id": s.get("parent_span_id")}))
        .collect();
    json!({"system": system_value(system), "mlflow": {"info": info, "data": data}})
}

/// `artifacts/traces.json`: every span.
pub fn write_spans_json(spans: &[Value]) -> Value {
    json!({ "spans": spans })
}

/// The source server an export file (`traces.json`, `trace.json`) names in its `system`
/// block, if it is readable and names one.
pub fn read_tracking_uri(file: &Path) -> Option<String> {
    let v = read_json(file).ok()?;
    v.pointer("/system/mlflow_tracking_uri").and_then(Value::as_str).map(str::to_string)
}

/// A trace folder's info (as TraceInfoV3 JSON).
pub fn read_trace_info(dir: &Path) -> Result<Value, FormatError> {
    let path = dir.join(TRACE_JSON);
    let mut v = read_json(&path)?;
    match v.pointer_mut("/mlflow/info").map(Value::take) {
        Some(info) if info.is_object() => Ok(proto_info(&info)),
        _ => Err(FormatError::Shape { path, what: "`mlflow.info` is missing".into() }),
    }
}

/// A trace folder: its info (as TraceInfoV3 JSON) and spans (as OTel proto JSON).
pub fn read_trace_dir(dir: &Path) -> Result<(Value, Vec<Value>), FormatError> {
    let info = read_trace_info(dir)?;
    let spans_path = dir.join(ARTIFACTS).join(TRACES_JSON);
    let spans = if spans_path.is_file() {
        let s = read_json(&spans_path)?;
        let list = s
            .get("spans")
            .and_then(Value::as_array)
            .ok_or_else(|| FormatError::Shape { path: spans_path.clone(), what: "`spans` is not a list".into() })?;
        list.iter().map(proto_span).collect()
    } else {
        Vec::new()
    };
    Ok((info, spans))
}

/// A trace info in the server's JSON. The Python tool renders the entity's attributes: times
/// in milliseconds where the server has a timestamp and a duration, and assessments with
/// `name`, `*_time_ms`, the expectation's bare value and the feedback's `{value, error}`.
fn proto_info(info: &Value) -> Value {
    let mut info = info.clone();
    if let Some(ms) = info.get("request_time").and_then(Value::as_i64) {
        info["request_time"] = json!(timestamp(ms));
    }
    if let Some(ms) = info.get("execution_duration").and_then(Value::as_i64) {
        info["execution_duration"] = json!(format!("{}.{:03}s", ms / 1000, ms % 1000));
    }
    for a in info.get_mut("assessments").and_then(Value::as_array_mut).into_iter().flatten() {
        let Some(o) = a.as_object_mut().filter(|o| o.contains_key("name") && !o.contains_key("assessment_name")) else {
            continue;
        };
        if let Some(name) = o.remove("name") {
            o.insert("assessment_name".into(), name);
        }
        for (from, to) in [("create_time_ms", "create_time"), ("last_update_time_ms", "last_update_time")] {
            if let Some(ms) = o.remove(from).as_ref().and_then(Value::as_i64) {
                o.insert(to.into(), json!(timestamp(ms)));
            }
        }
        if let Some(value) = o.remove("expectation").filter(|v| !v.is_null()) {
            o.insert("expectation".into(), json!({ "value": value }));
        }
        if let Some(Value::Object(f)) = o.get_mut("feedback") {
            f.retain(|_, v| !v.is_null());
        }
        o.retain(|_, v| !v.is_null());
        o.remove("assessment_type");
    }
    info
}

/// Epoch milliseconds as a protobuf Timestamp (RFC 3339).
fn timestamp(ms: i64) -> String {
    format!("{}.{:03}Z", utc_text(ms.div_euclid(1000)).replace(' ', "T"), ms.rem_euclid(1000))
}

/// A span in OTel proto JSON: MLflow's `Span.to_dict()` (the Python tool's spans file) keeps
/// attributes as an object of JSON texts, where OTel has a list of typed key/values.
fn proto_span(span: &Value) -> Value {
    let mut span = span.clone();
    let as_list = |attrs: &Map<String, Value>| -> Value {
        attrs
            .iter()
            .map(|(k, v)| {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                json!({"key": k, "value": {"string_value": text}})
            })
            .collect()
    };
    if let Some(attrs) = span.get("attributes").and_then(Value::as_object) {
        span["attributes"] = as_list(attrs);
    }
    if let Some(events) = span.get_mut("events").and_then(Value::as_array_mut) {
        for e in events {
            if let Some(attrs) = e.get("attributes").and_then(Value::as_object) {
                e["attributes"] = as_list(attrs);
            }
        }
    }
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_renderings_become_the_servers() {
        let info =
            proto_info(&json!({"trace_id": "tr-1", "request_time": 1704164645678_i64, "execution_duration": 1500}));
        assert_eq!(info["request_time"], "2024-01-02T03:04:05.678Z");
        assert_eq!(info["execution_duration"], "1.500s");
        let python = json!({"trace_id": "tr-1", "assessments": [
            {"assessment_type": "expectation", "name": "answer", "expectation": {"x": 1}, "create_time_ms": 1704164645678_i64, "error": null, "source": {"source_type": "HUMAN", "source_id": "bob"}},
            {"assessment_type": "feedback", "name": "ok", "feedback": {"value": 0.5, "error": null}, "rationale": "r"}]});
        let info = proto_info(&python);
        assert_eq!(
            info["assessments"][0],
            json!({"assessment_name": "answer", "expectation": {"value": {"x": 1}}, "create_time": "2024-01-02T03:04:05.678Z", "source": {"source_type": "HUMAN", "source_id": "bob"}})
        );
        assert_eq!(
            info["assessments"][1],
            json!({"assessment_name": "ok", "feedback": {"value": 0.5}, "rationale": "r"})
        );
        let span = proto_span(
            &json!({"name": "s", "attributes": {"a": "\"x\"", "n": 3}, "events": [{"name": "e", "attributes": {"k": "1"}}]}),
        );
        assert_eq!(
            span["attributes"],
            json!([{"key": "a", "value": {"string_value": "\"x\""}}, {"key": "n", "value": {"string_value": "3"}}])
        );
        assert_eq!(span["events"][0]["attributes"][0]["key"], "k");
    }
}
