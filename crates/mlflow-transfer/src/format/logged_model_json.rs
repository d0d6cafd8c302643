//! `logged_model.json`: an MLflow 3 logged model in an export, beside its registered model's
//! `model.json` at `logged_models/<model_id>/`, with its files in `artifacts/` next to it.
//! Written last, so a folder holding it is complete.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::FormatError;
use crate::model::{LoggedModelRecord, LOGGED_MODEL_UPLOAD_FAILED};

/// Renders a logged model's description.
pub fn write_logged_model_json(m: &LoggedModelRecord) -> Value {
    let map = |kv: &std::collections::BTreeMap<String, String>| {
        kv.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>()
    };
    json!({ "mlflow": {
        "model_id": m.model_id, "name": m.name, "model_type": m.model_type, "params": map(&m.params), "tags": map(&m.tags),
        "source_run_id": m.source_run_id, "metrics": m.metrics, "status": m.status.as_deref().map(python_status),
    }})
}

/// The Python tool writes a status as the Python client's enum value (`READY`, `PENDING`,
/// `FAILED`), which its importer hands back to `finalize_logged_model`; the API spells them
/// `LOGGED_MODEL_…`.
fn python_status(api: &str) -> &str {
    match api {
        LOGGED_MODEL_UPLOAD_FAILED => "FAILED",
        other => other.strip_prefix("LOGGED_MODEL_").unwrap_or(other),
    }
}

fn api_status(python: &str) -> String {
    match python {
        "FAILED" | "UPLOAD_FAILED" => LOGGED_MODEL_UPLOAD_FAILED.to_string(),
        "READY" | "PENDING" => format!("LOGGED_MODEL_{python}"),
        other => other.to_string(),
    }
}

/// Reads a logged model's description; `path` names the file in errors. Params and tags may
/// be an object or a list of `{key, value}`.
pub fn read_logged_model_json(path: &Path, bytes: &[u8]) -> Result<LoggedModelRecord, FormatError> {
    let shape = |what: String| FormatError::Shape { path: path.to_path_buf(), what };
    let v: Value =
        serde_json::from_slice(bytes).map_err(|source| FormatError::Json { path: path.to_path_buf(), source })?;
    let m = v.get("mlflow").unwrap_or(&v);
    let pairs = |key: &str| -> Result<_, FormatError> {
        let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_string);
        match m.get(key) {
            None | Some(Value::Null) => Ok(Default::default()),
            Some(Value::Object(o)) => Ok(o.iter().map(|(k, v)| (k.clone(), text(v))).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| match (i.get("key").and_then(Value::as_str), i.get("value")) {
                    (Some(k), Some(v)) => Ok((k.to_string(), text(v))),
                    _ => Err(shape(format!("`mlflow.{key}` is not a list of key/value pairs"))),
                })
                .collect(),
            Some(_) => Err(shape(format!("`mlflow.{key}` is not an object"))),
        }
    };
    Ok(LoggedModelRecord {
        model_id: m["model_id"].as_str().unwrap_or_default().to_string(),
        name: m["name"].as_str().ok_or_else(|| shape("`mlflow.name` missing".into()))?.to_string(),
        model_type: m["model_type"].as_str().map(str::to_string),
        params: pairs("params")?,
        tags: pairs("tags")?,
        artifact_uri: None,
        source_run_id: m["source_run_id"].as_str().filter(|r| !r.is_empty()).map(str::to_string),
        status: m["status"].as_str().map(api_status),
        metrics: match m.get("metrics") {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| shape(format!("`mlflow.metrics` is not a list of metrics: {e}")))?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlflow_client::types::LoggedModelMetric;

    #[test]
    fn round_trip_and_list_pairs() {
        let m = LoggedModelRecord {
            model_id: "m-1".into(),
            name: "model".into(),
            model_type: Some("agent".into()),
            params: [("a".to_string(), "1".to_string())].into(),
            tags: [("t".to_string(), "x".to_string())].into(),
            artifact_uri: None,
            source_run_id: Some("r1".into()),
            metrics: vec![LoggedModelMetric {
                key: "acc".into(),
                value: 0.5,
                timestamp: 7,
                step: 1,
                run_id: Some("r1".into()),
                model_id: Some("m-1".into()),
                dataset_name: Some("d".into()),
                dataset_digest: Some("x1".into()),
            }],
            status: Some(LOGGED_MODEL_UPLOAD_FAILED.into()),
        };
        let written = write_logged_model_json(&m);
        assert_eq!(written["mlflow"]["status"], "FAILED", "the Python tool's spelling");
        let bytes = serde_json::to_vec(&written).unwrap();
        assert_eq!(read_logged_model_json(Path::new("f"), &bytes).unwrap(), m);
        let pending = br#"{"mlflow": {"name": "n", "status": "PENDING"}}"#;
        let pending = read_logged_model_json(Path::new("f"), pending).unwrap();
        assert_eq!(pending.status.as_deref(), Some("LOGGED_MODEL_PENDING"));
        let listed = br#"{"mlflow": {"name": "n", "params": [{"key": "a", "value": 1}]}}"#;
        assert_eq!(read_logged_model_json(Path::new("f"), listed).unwrap().params["a"], "1");
        let err = read_logged_model_json(Path::new("f"), br#"{"mlflow": {"params": 3}}"#).unwrap_err();
        assert!(err.to_string().contains("`mlflow.name` missing") || err.to_string().contains("params"), "{err}");
    }
}
