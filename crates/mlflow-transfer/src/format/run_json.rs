//! `run.json`: one run's info, params, tags, full metric histories, inputs and outputs.
//!
//! Four layouts exist in the wild (upstream-format.md §2.9), told apart by shape alone since
//! the version field never changed: a bare `{info, params, metrics, tags}` whose metrics are
//! latest values only (pre-1.0), the same with full histories and `export_info` (1.0–1.1), and
//! the `{system, info, mlflow}` envelope whose `mlflow.inputs` is a list of dataset inputs
//! (2022-12 → 2025-10) or a `{dataset_inputs, model_inputs}` object (2025-10 on).
//!
//! The writer emits the newest envelope so the Python importer can still read our exports. Our
//! own additions (artifact checksums, the source experiment's name) go in the top-level `info`
//! block, which that importer ignores. Non-finite metric values are written as the strings
//! `"NaN"`, `"Infinity"`, `"-Infinity"`: JSON has no literal for them, and those are the
//! spellings the MLflow server accepts. Python's `json.dump` writes them as bare tokens, which
//! strict parsers reject, so the reader also accepts those.

use std::{collections::BTreeMap, path::Path};

use mlflow_client::types::{de_f64, de_i64, de_i64_default, DatasetInput, RunStatus};
use serde::{
    ser::{SerializeMap, SerializeSeq},
    Serialize,
};
use serde_json::{json, value::RawValue, Map, Number, Value};

use super::json::{insert_opt, list_of, system_value, utc_text, ExportSystem, FormatError, Obj};
use crate::model::{MetricPoint, Origin, RunMeta, RunRecord};

/// One exported artifact file, so an import or a verify can detect truncated or altered files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactEntry {
    /// Relative to the run's `artifacts/` folder, `/`-separated.
    pub path: String,
    pub size: u64,
    /// Lowercase hex SHA-256 of the file's bytes; `None` only for a file copied inside an
    /// object store (server-side), whose bytes never passed through this machine. Exports
    /// always stream, so every entry of an export has one.
    pub sha256: Option<String>,
}

/// Which historical layout a `run.json` was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// 2020-11 → 2022-03: `{info, params, metrics: {key: latest value}, tags}`.
    Pre1_0,
    /// 2022-03 → 2022-12: as [`Layout::Pre1_0`] plus `export_info`, with full metric histories.
    V1x,
    /// 2022-12 → 2025-10: `{system, info, mlflow}` with `mlflow.inputs` a list of dataset inputs.
    Envelope2023,
    /// 2025-10 on: `mlflow.inputs` is `{dataset_inputs, model_inputs}`, plus `mlflow.outputs`.
    Envelope2025,
}

/// A parsed `run.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunJson {
    pub run: RunRecord,
    /// The artifact listing, present only in files this tool wrote.
    pub artifacts: Option<Vec<ArtifactEntry>>,
    pub layout: Layout,
}

/// Shown in the top-level `info` block so a reader can tell our files from the Python tool's.
const EXPORTER: &str = "mlflow-export-import (rust)";

/// Tags the Python tool's `--export-metadata-tags`/`--export-source-tags` wrote, by era.
const TRACKING_URI_TAGS: [&str; 2] =
    ["mlflow_export_import.metadata.tracking_uri", "mlflow_tools.metadata.tracking_uri"];
const EXPERIMENT_NAME_TAGS: [&str; 4] = [
    "mlflow_export_import.metadata.experiment_name",
    "mlflow_export_import.metadata.experiment-name",
    "mlflow_tools.metadata.experiment-name",
    "mlflow_tools.metadata.experiment_name",
];

/// A run in the Python tool's current (2025-10+) layout, ready to serialize. Metric histories
/// are written straight from the record as the file is written: as JSON values they would
/// take ten times their size in memory, and a run can hold millions of points.
pub struct RunJsonDoc<'a> {
    /// Everything but `mlflow.metrics`.
    head: Value,
    metrics: &'a BTreeMap<String, Vec<MetricPoint>>,
}

/// Renders a run in the Python tool's current (2025-10+) layout.
pub fn write_run_json<'a>(run: &'a RunRecord, system: &ExportSystem, artifacts: &[ArtifactEntry]) -> RunJsonDoc<'a> {
    let mut info = Map::new();
    info.insert("exporter".into(), EXPORTER.into());
    insert_opt(&mut info, "experiment_name", &run.origin.experiment_name);
    let listing =
        artifacts.iter().map(|a| json!({"path": a.path, "size": a.size, "sha256": a.sha256})).collect::<Vec<_>>();
    info.insert("artifacts".into(), listing.into());
    let head = json!({
        "system": system_value(system),
        "info": info,
        "mlflow": {
            "info": run_info_value(&run.meta),
            "params": run.params,
            "tags": run.tags,
            "inputs": {
                "dataset_inputs": run.dataset_inputs.iter().map(dataset_input_value).collect::<Vec<_>>(),
                "model_inputs": run.model_inputs.iter().map(|m| json!({"model_id": m.model_id})).collect::<Vec<_>>(),
            },
            "outputs": {
                "model_outputs": run
                    .model_outputs
                    .iter()
                    .map(|m| json!({"model_id": m.model_id, "step": m.step}))
                    .collect::<Vec<_>>(),
            },
        },
    });
    RunJsonDoc { head, metrics: &run.metrics }
}

impl Serialize for RunJsonDoc<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let top = self.head.as_object().expect("the head is an object");
        let mut map = serializer.serialize_map(Some(top.len()))?;
        for (k, v) in top {
            match v.as_object() {
                Some(fields) if k == "mlflow" => {
                    map.serialize_entry(k, &WithMetrics { fields, metrics: self.metrics })?;
                }
                _ => map.serialize_entry(k, v)?,
            }
        }
        map.end()
    }
}

/// The `mlflow` block: its fields, and `metrics` in its sorted place.
struct WithMetrics<'a> {
    fields: &'a Map<String, Value>,
    metrics: &'a BTreeMap<String, Vec<MetricPoint>>,
}

impl Serialize for WithMetrics<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len() + 1))?;
        let mut pending = true;
        for (k, v) in self.fields {
            if pending && k.as_str() > "metrics" {
                map.serialize_entry("metrics", &Histories(self.metrics))?;
                pending = false;
            }
            map.serialize_entry(k, v)?;
        }
        if pending {
            map.serialize_entry("metrics", &Histories(self.metrics))?;
        }
        map.end()
    }
}

struct Histories<'a>(&'a BTreeMap<String, Vec<MetricPoint>>);

impl Serialize for Histories<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, points) in self.0 {
            map.serialize_entry(key, &Points(points))?;
        }
        map.end()
    }
}

struct Points<'a>(&'a [MetricPoint]);

/// One point as written; fields in the sorted order the other objects of the file have.
#[derive(Serialize)]
struct PointOut {
    step: i64,
    timestamp: i64,
    value: Value,
}

impl Serialize for Points<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for p in self.0 {
            seq.serialize_element(&PointOut { step: p.step, timestamp: p.timestamp, value: f64_value(p.value) })?;
        }
        seq.end()
    }
}

/// Reads a `run.json` of any historical layout.
pub fn read_run_json(path: &Path, bytes: &[u8]) -> Result<RunJson, FormatError> {
    let shape = |what| FormatError::Shape { path: path.to_path_buf(), what };
    if let Some(lean) = read_envelope_lean(bytes) {
        return lean.map_err(shape);
    }
    let json = |source| FormatError::Json { path: path.to_path_buf(), source };
    let root: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => match mlflow_client::quote_non_finite(bytes) {
            Some(fixed) => serde_json::from_slice(&fixed).map_err(|_| json(e))?,
            None => return Err(json(e)),
        },
    };
    parse_run(&root).map_err(shape)
}

/// A metric point as the envelope layouts write it.
#[derive(serde::Deserialize)]
struct PointIn {
    #[serde(deserialize_with = "de_f64")]
    value: f64,
    #[serde(deserialize_with = "de_i64")]
    timestamp: i64,
    #[serde(default, deserialize_with = "de_i64_default")]
    step: i64,
}

/// Reads an envelope layout (`{system, info, mlflow: {…, metrics}}`) with its histories
/// decoded straight into points: as a tree of JSON values they take ten times their size, and
/// a run can hold millions. `None` when the file is not such a layout or its histories are not
/// plain lists of points: the general reader then takes it, errors and all.
fn read_envelope_lean(bytes: &[u8]) -> Option<Result<RunJson, String>> {
    let top: BTreeMap<String, &RawValue> = serde_json::from_slice(bytes).ok()?;
    let mut mlflow: BTreeMap<String, &RawValue> = serde_json::from_str(top.get("mlflow")?.get()).ok()?;
    let histories: BTreeMap<String, Vec<PointIn>> = serde_json::from_str(mlflow.remove("metrics")?.get()).ok()?;
    let value = |raw: &RawValue| serde_json::from_str::<Value>(raw.get()).ok();
    let mut head: Map<String, Value> =
        mlflow.into_iter().map(|(k, raw)| Some((k, value(raw)?))).collect::<Option<_>>()?;
    head.insert("metrics".into(), Value::Object(Map::new()));
    let mut root: Map<String, Value> =
        top.into_iter().filter(|(k, _)| k != "mlflow").map(|(k, raw)| Some((k, value(raw)?))).collect::<Option<_>>()?;
    root.insert("mlflow".into(), Value::Object(head));
    Some(parse_run(&Value::Object(root)).map(|mut rj| {
        rj.run.metrics = histories
            .into_iter()
            .map(|(key, points)| {
                let points =
                    points.into_iter().map(|p| MetricPoint { value: p.value, timestamp: p.timestamp, step: p.step });
                (key, points.collect())
            })
            .collect();
        rj
    }))
}

fn parse_run(root: &Value) -> Result<RunJson, String> {
    let root = Obj::top(root)?;
    if let Some(mlflow) = root.object("mlflow")? {
        read_envelope(&root, &mlflow)
    } else if root.get("info").is_some() {
        read_legacy(&root)
    } else {
        Err("neither `mlflow` (1.2+ envelope) nor `info` (older layouts) present".into())
    }
}

fn read_envelope(root: &Obj, mlflow: &Obj) -> Result<RunJson, String> {
    let mut run = read_body(mlflow, MetricsShape::History)?;
    let mut layout = Layout::Envelope2023;
    match mlflow.get("inputs") {
        None => {}
        Some(Value::Array(items)) => {
            run.dataset_inputs = list_of(items, &mlflow.child_path("inputs"))?;
        }
        Some(v @ Value::Object(_)) => {
            layout = Layout::Envelope2025;
            let inputs = Obj::at(v, mlflow.child_path("inputs"))?;
            run.dataset_inputs = inputs.list_of("dataset_inputs")?;
            run.model_inputs = inputs.list_of("model_inputs")?;
        }
        Some(_) => {
            return Err(format!(
                "{} is neither a list (2022-12 → 2025-10 layout) nor an object (2025-10+ layout)",
                mlflow.path_of("inputs")
            ))
        }
    }
    if let Some(outputs) = mlflow.object("outputs")? {
        layout = Layout::Envelope2025;
        run.model_outputs = outputs.list_of("model_outputs")?;
    }

    let system = root.object("system")?;
    let tracking_uri = match &system {
        Some(s) => s.opt_str("mlflow_tracking_uri")?,
        None => None,
    };
    let (experiment_name, artifacts) = match root.object("info")? {
        Some(info) => (info.opt_str("experiment_name")?, read_artifacts(&info)?),
        None => (None, None),
    };
    run.origin = origin(&run.tags, tracking_uri, experiment_name);
    Ok(RunJson { run, artifacts, layout })
}

fn read_legacy(root: &Obj) -> Result<RunJson, String> {
    let export_info = root.object("export_info")?;
    let has_history = match root.object("metrics")? {
        Some(m) => m.map.values().any(Value::is_array),
        None => false,
    };
    let (layout, shape_of_metrics) = if export_info.is_some() || has_history {
        (Layout::V1x, MetricsShape::History)
    } else {
        (Layout::Pre1_0, MetricsShape::Latest)
    };
    let mut run = read_body(root, shape_of_metrics)?;
    let tracking_uri = match &export_info {
        Some(e) => e.opt_str("mlflow_tracking_uri")?,
        None => None,
    };
    run.origin = origin(&run.tags, tracking_uri, None);
    Ok(RunJson { run, artifacts: None, layout })
}

/// How a layout stores metrics: full histories, or (pre-1.0) only each key's latest value.
#[derive(Clone, Copy)]
enum MetricsShape {
    History,
    Latest,
}

/// Reads `info`, `params`, `tags` and `metrics`, which every layout has under one parent.
fn read_body(parent: &Obj, metrics_shape: MetricsShape) -> Result<RunRecord, String> {
    let info = parent.object("info")?.ok_or_else(|| parent.missing("info"))?;
    let run_id = match info.opt_id("run_id")? {
        Some(id) => id,
        None => info.opt_id("run_uuid")?.ok_or_else(|| info.missing("run_id"))?,
    };
    let experiment_id = info.opt_id("experiment_id")?.ok_or_else(|| info.missing("experiment_id"))?;
    let status = match info.get("status") {
        None => return Err(info.missing("status")),
        Some(v) => run_status(v).ok_or_else(|| format!("{} is not a run status: {v}", info.path_of("status")))?,
    };
    let tags = parent.string_map("tags")?;
    let meta = RunMeta {
        run_id,
        experiment_id,
        // Old MLflow had no `run_name` field; the server derived the name from this tag.
        run_name: info.opt_str("run_name")?.or_else(|| tags.get("mlflow.runName").cloned()),
        user_id: info.opt_str("user_id")?,
        status,
        start_time: info.opt_int("start_time")?,
        end_time: info.opt_int("end_time")?,
        lifecycle_stage: info.opt_str("lifecycle_stage")?.unwrap_or_else(|| "active".into()),
        artifact_uri: info.opt_str("artifact_uri")?,
    };
    let metrics = match parent.object("metrics")? {
        None => BTreeMap::new(),
        Some(m) => match metrics_shape {
            MetricsShape::History => read_histories(&m)?,
            MetricsShape::Latest => read_latest(&m, meta.end_time.or(meta.start_time).unwrap_or(0))?,
        },
    };
    let params = parent.string_map("params")?;
    Ok(RunRecord { meta, params, tags, metrics, ..RunRecord::default() })
}

fn read_histories(metrics: &Obj) -> Result<BTreeMap<String, Vec<MetricPoint>>, String> {
    let mut out = BTreeMap::new();
    for (key, points) in metrics.map {
        let Value::Array(points) = points else {
            return Err(format!("metric `{key}` is not a list of points"));
        };
        let history = points
            .iter()
            .enumerate()
            .map(|(i, point)| read_point(point).map_err(|what| format!("metric `{key}` point {i}: {what}")))
            .collect::<Result<Vec<_>, _>>()?;
        out.insert(key.clone(), history);
    }
    Ok(out)
}

/// Reads one `{value, timestamp, step}`; extra keys (MLflow 3 adds `model_id`, `dataset_*`,
/// `run_id`) are ignored.
fn read_point(point: &Value) -> Result<MetricPoint, String> {
    let Value::Object(point) = point else {
        return Err("not an object".into());
    };
    let field = |name: &str| point.get(name).filter(|v| !v.is_null());
    let value = field("value").ok_or("`value` missing")?;
    let value = de_f64(value).map_err(|_| format!("`value` is not a number: {value}"))?;
    let timestamp = field("timestamp").ok_or("`timestamp` missing")?;
    let timestamp = de_i64(timestamp).map_err(|_| "`timestamp` is not an integer".to_string())?;
    let step = match field("step") {
        None => 0,
        Some(step) => de_i64(step).map_err(|_| "`step` is not an integer".to_string())?,
    };
    Ok(MetricPoint { value, timestamp, step })
}

/// Pre-1.0 exports kept only each key's latest value, without its time or step; the run's end
/// (else start) stands in for the time so the point sorts where the run logged it.
fn read_latest(metrics: &Obj, timestamp: i64) -> Result<BTreeMap<String, Vec<MetricPoint>>, String> {
    let mut out = BTreeMap::new();
    for (key, value) in metrics.map {
        let value = de_f64(value).map_err(|_| format!("metric `{key}` is not a number: {value}"))?;
        out.insert(key.clone(), vec![MetricPoint { value, timestamp, step: 0 }]);
    }
    Ok(out)
}

fn read_artifacts(info: &Obj) -> Result<Option<Vec<ArtifactEntry>>, String> {
    let Some(items) = info.get("artifacts") else {
        return Ok(None);
    };
    let Value::Array(items) = items else {
        return Err(format!("{} is not a list", info.path_of("artifacts")));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let entry = Obj::at(item, format!("{}[{i}]", info.child_path("artifacts")))?;
        let size = entry.get("size").ok_or_else(|| entry.missing("size"))?;
        out.push(ArtifactEntry {
            path: entry.opt_str("path")?.ok_or_else(|| entry.missing("path"))?,
            size: size.as_u64().ok_or_else(|| format!("{} is not a size in bytes", entry.path_of("size")))?,
            sha256: Some(entry.opt_str("sha256")?.ok_or_else(|| entry.missing("sha256"))?),
        });
    }
    Ok(Some(out))
}

fn origin(tags: &BTreeMap<String, String>, tracking_uri: Option<String>, experiment_name: Option<String>) -> Origin {
    let from_tags = |keys: &[&str]| keys.iter().find_map(|k| tags.get(*k).cloned());
    Origin {
        tracking_uri: tracking_uri.or_else(|| from_tags(&TRACKING_URI_TAGS)).map(|u| mlflow_client::redact(&u)),
        experiment_name: experiment_name.or_else(|| from_tags(&EXPERIMENT_NAME_TAGS)),
    }
}

/// MLflow status names, or the numeric enum values (1–5) that very old clients stored.
fn run_status(v: &Value) -> Option<RunStatus> {
    let name = match v {
        Value::String(s) => s.as_str(),
        Value::Number(n) => match n.as_u64()? {
            1 => "RUNNING",
            2 => "SCHEDULED",
            3 => "FINISHED",
            4 => "FAILED",
            5 => "KILLED",
            _ => return None,
        },
        _ => return None,
    };
    Some(match name {
        "RUNNING" => RunStatus::Running,
        "SCHEDULED" => RunStatus::Scheduled,
        "FINISHED" => RunStatus::Finished,
        "FAILED" => RunStatus::Failed,
        "KILLED" => RunStatus::Killed,
        _ => return None,
    })
}

fn status_name(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "RUNNING",
        RunStatus::Scheduled => "SCHEDULED",
        RunStatus::Finished => "FINISHED",
        RunStatus::Failed => "FAILED",
        RunStatus::Killed => "KILLED",
    }
}

/// `mlflow.info` as the Python tool writes it: `run_uuid` duplicates `run_id` and `_`-prefixed
/// keys are human-readable UTC times. `user_id` is written even when unknown because the
/// Python importer indexes it unconditionally.
fn run_info_value(meta: &RunMeta) -> Value {
    let mut info = Map::new();
    info.insert("run_uuid".into(), meta.run_id.clone().into());
    info.insert("run_id".into(), meta.run_id.clone().into());
    info.insert("experiment_id".into(), meta.experiment_id.clone().into());
    info.insert("user_id".into(), meta.user_id.clone().into());
    info.insert("status".into(), status_name(meta.status).into());
    insert_opt(&mut info, "start_time", &meta.start_time);
    insert_opt(&mut info, "end_time", &meta.end_time);
    info.insert("lifecycle_stage".into(), meta.lifecycle_stage.clone().into());
    insert_opt(&mut info, "artifact_uri", &meta.artifact_uri);
    insert_opt(&mut info, "run_name", &meta.run_name);
    insert_opt(&mut info, "_start_time", &meta.start_time.map(|ms| utc_text(ms.div_euclid(1000))));
    insert_opt(&mut info, "_end_time", &meta.end_time.map(|ms| utc_text(ms.div_euclid(1000))));
    Value::Object(info)
}

fn dataset_input_value(input: &DatasetInput) -> Value {
    let d = &input.dataset;
    let mut dataset = Map::new();
    dataset.insert("name".into(), d.name.clone().into());
    dataset.insert("digest".into(), d.digest.clone().into());
    dataset.insert("source_type".into(), d.source_type.clone().into());
    dataset.insert("source".into(), d.source.clone().into());
    insert_opt(&mut dataset, "schema", &d.schema);
    insert_opt(&mut dataset, "profile", &d.profile);
    let tags = input.tags.iter().map(|t| json!({"key": t.key, "value": t.value})).collect::<Vec<_>>();
    json!({"dataset": dataset, "tags": tags})
}

fn f64_value(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => "NaN".into(),
        None if v > 0.0 => "Infinity".into(),
        None => "-Infinity".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlflow_client::types::{Dataset, KeyValue, ModelInput, ModelOutput};

    fn fixture(layout: &str) -> RunJson {
        let path = format!("{}/tests/fixtures/run-json/{layout}/run.json", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        read_run_json(Path::new("run.json"), &bytes).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn point(value: f64, timestamp: i64, step: i64) -> MetricPoint {
        MetricPoint { value, timestamp, step }
    }

    fn shape_error(v: &Value) -> String {
        read_run_json(Path::new("run.json"), &serde_json::to_vec(v).unwrap()).unwrap_err().to_string()
    }

    /// A valid 2025 envelope to break one field of.
    fn envelope() -> Value {
        json!({
            "system": {"export_file_version": "2"},
            "mlflow": {
                "info": {"run_id": "r1", "experiment_id": "1", "status": "FINISHED", "start_time": 5},
                "params": {},
                "metrics": {},
                "tags": {},
                "inputs": {"dataset_inputs": [], "model_inputs": []},
            }
        })
    }

    /// `RunRecord` equality with NaN equal to itself, since histories round-trip NaN.
    fn assert_same_run(got: &RunRecord, want: &RunRecord) {
        let bits = |r: &RunRecord| {
            r.metrics
                .iter()
                .map(|(k, ps)| (k.clone(), ps.iter().map(|p| (p.value.to_bits(), p.timestamp, p.step)).collect()))
                .collect::<BTreeMap<String, Vec<(u64, i64, i64)>>>()
        };
        assert_eq!(bits(got), bits(want));
        let strip = |r: &RunRecord| RunRecord { metrics: BTreeMap::new(), ..r.clone() };
        assert_eq!(strip(got), strip(want));
    }

    #[test]
    fn reads_pre_1_0_fixture() {
        let rj = fixture("pre-1.0");
        assert_eq!(rj.layout, Layout::Pre1_0);
        assert_eq!(rj.artifacts, None);
        let run = &rj.run;
        assert_eq!(
            run.meta,
            RunMeta {
                run_id: "6ccadf17812d43929b093d75cca1c33f".into(),
                experiment_id: "1".into(),
                run_name: Some("train.sh".into()),
                user_id: Some("andre".into()),
                status: RunStatus::Finished,
                start_time: Some(1632774882618),
                end_time: Some(1632774885705),
                lifecycle_stage: "active".into(),
                artifact_uri: Some("/opt/mlflow/server/mlruns/1/6ccadf17812d43929b093d75cca1c33f/artifacts".into()),
            }
        );
        assert_eq!(run.params.len(), 3);
        assert_eq!(run.params["max_leaf_nodes"], "32");
        assert_eq!(run.metrics.len(), 4);
        assert_eq!(run.metrics["rmse"], vec![point(0.7367947360663162, 1632774885705, 0)]);
        let ev = &run.metrics["explained_variance"];
        assert!(ev.len() == 1 && ev[0].value.is_nan() && ev[0].timestamp == 1632774885705);
        assert_eq!(run.tags["mlflow.source.type"], "LOCAL");
        assert_eq!(run.tags["mlflow_tools.metadata.timestamp"], "1632843672");
        assert_eq!(
            run.origin,
            Origin { tracking_uri: Some("http://localhost:5000".into()), experiment_name: Some("sklearn_wine".into()) }
        );
        assert!(run.dataset_inputs.is_empty() && run.model_inputs.is_empty() && run.model_outputs.is_empty());
    }

    #[test]
    fn reads_v1x_fixture() {
        let rj = fixture("v1.x");
        assert_eq!(rj.layout, Layout::V1x);
        let run = &rj.run;
        assert_eq!(run.meta.run_id, "f2e3f75c845d4365addbc9c0262a58a5");
        assert_eq!(run.meta.run_name.as_deref(), Some("sklearn_wine_v1"));
        assert_eq!((run.meta.start_time, run.meta.end_time), (Some(1655005376102), Some(1655005381337)));
        assert_eq!(run.meta.status, RunStatus::Finished);
        assert_eq!(run.params["alpha"], "0.5");
        assert_eq!(
            run.metrics["rmse"],
            vec![
                point(0.8248773953029855, 1655005377018, 0),
                point(0.7912302264520983, 1655005377519, 1),
                point(0.7781541182043614, 1655005378020, 2),
            ]
        );
        let val_loss = &run.metrics["val_loss"];
        assert_eq!(val_loss[0], point(1.25, 1655005377200, 0));
        assert!(val_loss[1].value.is_nan() && val_loss[1].step == 1);
        assert_eq!(run.tags["mlflow_export_import.metadata.timestamp"], "1655005212");
        // `export_info` wins over the metadata tag, and loses its credentials.
        assert_eq!(
            run.origin,
            Origin {
                tracking_uri: Some("http://mlflow.example.com:5000".into()),
                experiment_name: Some("sklearn_wine".into()),
            }
        );
    }

    #[test]
    fn reads_envelope_2023_fixture() {
        let rj = fixture("envelope-2023");
        assert_eq!(rj.layout, Layout::Envelope2023);
        assert_eq!(rj.artifacts, None);
        let run = &rj.run;
        assert_eq!(run.meta.run_id, "8a6af43e756f433da7a90fd6b4e49c3a");
        assert_eq!(run.meta.experiment_id, "3");
        assert_eq!(run.meta.status, RunStatus::Failed);
        assert_eq!((run.meta.start_time, run.meta.end_time), (Some(1690270895769), Some(1690270898938)));
        assert_eq!(
            run.meta.artifact_uri.as_deref(),
            Some("mlflow-artifacts:/3/8a6af43e756f433da7a90fd6b4e49c3a/artifacts")
        );
        assert_eq!(run.params["criterion"], "gini");
        assert_eq!(
            run.metrics["accuracy_score"],
            vec![point(0.9333333333333333, 1690270895838, 0), point(0.9466666666666667, 1690270896838, 1)]
        );
        assert!(run.metrics["log_loss"][0].value.is_nan());
        assert_eq!(run.tags["mlflow.user"], "andre");
        assert_eq!(run.dataset_inputs.len(), 2);
        let train = &run.dataset_inputs[0];
        assert_eq!(train.dataset.name, "iris_train");
        assert_eq!(train.dataset.digest, "a1b2c3d4");
        assert_eq!(train.dataset.profile.as_deref(), Some("{\"num_rows\": 120, \"num_elements\": 600}"));
        assert_eq!(train.tags, vec![KeyValue::new("mlflow.data.context", "training")]);
        assert_eq!(run.dataset_inputs[1].dataset.schema, None);
        assert!(run.model_inputs.is_empty() && run.model_outputs.is_empty());
        assert_eq!(run.origin, Origin { tracking_uri: Some("http://127.0.0.1:5020".into()), experiment_name: None });
    }

    #[test]
    fn reads_envelope_2025_fixture() {
        let rj = fixture("envelope-2025");
        assert_eq!(rj.layout, Layout::Envelope2025);
        let run = &rj.run;
        assert_eq!(run.meta.run_id, "d1e2f3a4b5c647d8e9f0a1b2c3d4e5f6");
        assert_eq!(run.meta.run_name.as_deref(), Some("bright-owl-42"));
        assert_eq!((run.meta.start_time, run.meta.end_time), (Some(1762412400123), Some(1762412460456)));
        assert_eq!(run.params.len(), 4);
        assert_eq!(run.params["objective"], "reg:squarederror");
        assert_eq!(
            run.metrics["rmse"],
            vec![point(0.912, 1762412410000, 0), point(0.874, 1762412420000, 1), point(0.851, 1762412430000, 2)]
        );
        let loss = &run.metrics["train_loss"][0];
        assert!(loss.value.is_nan() && loss.step == -1);
        assert_eq!(run.dataset_inputs[0].dataset.name, "wine_train");
        assert_eq!(run.dataset_inputs[1].tags, vec![KeyValue::new("mlflow.data.context", "eval")]);
        assert_eq!(run.model_inputs, vec![ModelInput { model_id: "m-77aa88bb99cc40ddaa11bb22cc33dd44".into() }]);
        assert_eq!(
            run.model_outputs,
            vec![ModelOutput { model_id: "m-0a1b2c3d4e5f40718293a4b5c6d7e8f9".into(), step: 2 }]
        );
        assert_eq!(run.origin.tracking_uri.as_deref(), Some("http://mlflow.internal:5000"));
    }

    fn sample_run() -> RunRecord {
        let long = "é".repeat(3000); // 6000 bytes
        RunRecord {
            meta: RunMeta {
                run_id: "0123456789abcdef0123456789abcdef".into(),
                experiment_id: "42".into(),
                run_name: Some("нейросеть-🚀".into()),
                user_id: Some("josé".into()),
                status: RunStatus::Killed,
                start_time: Some(1717552430207),
                end_time: Some(1717552437312),
                lifecycle_stage: "deleted".into(),
                artifact_uri: Some("s3://bucket/42/0123/artifacts".into()),
            },
            params: BTreeMap::from([
                ("long".into(), long),
                ("空".into(), String::new()),
                ("quote\"and\\slash".into(), "line\nbreak".into()),
            ]),
            tags: BTreeMap::from([
                ("mlflow.runName".into(), "нейросеть-🚀".into()),
                ("mlflow.note.content".into(), "# Notes\n\n✓ done".into()),
            ]),
            metrics: BTreeMap::from([
                (
                    "loss".into(),
                    vec![
                        point(f64::NAN, 1, -5),
                        point(f64::INFINITY, 2, -1),
                        point(f64::NEG_INFINITY, 3, 0),
                        point(-0.0, 4, i64::MAX),
                        point(1e-300, i64::MIN, i64::MIN),
                    ],
                ),
                ("精度".into(), vec![point(0.1 + 0.2, 1717552437018, 7)]),
            ]),
            dataset_inputs: vec![DatasetInput {
                tags: vec![KeyValue::new("mlflow.data.context", "training")],
                dataset: Dataset {
                    name: "données".into(),
                    digest: "062ac4fa".into(),
                    source_type: "delta_table".into(),
                    source: "{\"delta_table_name\": \"t\"}".into(),
                    schema: Some("{\"mlflow_colspec\": []}".into()),
                    profile: None,
                },
            }],
            model_inputs: vec![ModelInput { model_id: "m-in".into() }],
            model_outputs: vec![ModelOutput { model_id: "m-out".into(), step: -3 }],
            origin: Origin {
                tracking_uri: Some("http://src:5000".into()),
                experiment_name: Some("/Users/josé/exp".into()),
            },
        }
    }

    fn system() -> ExportSystem {
        ExportSystem {
            package_version: "0.1.0".into(),
            script: "export-run".into(),
            export_time: 1721364374,
            mlflow_version: Some("2.14.3".into()),
            mlflow_tracking_uri: Some("http://src:5000".into()),
            user: Some("andre".into()),
        }
    }

    #[test]
    fn round_trip_preserves_every_field() {
        let run = sample_run();
        let artifacts = vec![
            ArtifactEntry { path: "model/MLmodel".into(), size: 412, sha256: Some("ab".repeat(32)) },
            ArtifactEntry { path: "plots/ü.png".into(), size: u64::MAX, sha256: Some("cd".repeat(32)) },
        ];
        let bytes = serde_json::to_vec_pretty(&write_run_json(&run, &system(), &artifacts)).unwrap();
        let back = read_run_json(Path::new("run.json"), &bytes).unwrap();
        assert_eq!(back.layout, Layout::Envelope2025);
        assert_eq!(back.artifacts, Some(artifacts));
        assert_same_run(&back.run, &run);
    }

    #[test]
    fn round_trip_of_a_running_run_with_nothing_optional() {
        let run = RunRecord {
            meta: RunMeta {
                run_id: "r".into(),
                experiment_id: "0".into(),
                lifecycle_stage: "active".into(),
                ..Default::default()
            },
            ..Default::default()
        };
        let system = ExportSystem { mlflow_version: None, mlflow_tracking_uri: None, user: None, ..system() };
        let written = serde_json::to_value(write_run_json(&run, &system, &[])).unwrap();
        let info = &written["mlflow"]["info"];
        for absent in ["start_time", "end_time", "_start_time", "_end_time", "run_name", "artifact_uri"] {
            assert!(info.get(absent).is_none(), "{absent} written");
        }
        assert!(info["user_id"].is_null(), "the Python importer indexes user_id");
        assert!(written["system"].get("mlflow_tracking_uri").is_none());
        assert!(written["info"].get("experiment_name").is_none());
        let back = read_run_json(Path::new("run.json"), &serde_json::to_vec(&written).unwrap()).unwrap();
        assert_eq!(back.run, run);
        assert_eq!(back.artifacts, Some(Vec::new()));
    }

    #[test]
    fn writes_the_python_tools_current_layout() {
        let run = sample_run();
        let artifacts = [ArtifactEntry { path: "a.txt".into(), size: 3, sha256: Some("00".repeat(32)) }];
        let v = serde_json::to_value(write_run_json(&run, &system(), &artifacts)).unwrap();
        assert_eq!(
            v["system"],
            json!({
                "package_version": "0.1.0",
                "script": "export-run",
                "export_file_version": "2",
                "export_time": 1721364374,
                "_export_time": "2024-07-19 04:46:14",
                "mlflow_version": "2.14.3",
                "mlflow_tracking_uri": "http://src:5000",
                "user": "andre",
            })
        );
        assert_eq!(
            v["info"],
            json!({
                "exporter": "mlflow-export-import (rust)",
                "experiment_name": "/Users/josé/exp",
                "artifacts": [{"path": "a.txt", "size": 3, "sha256": "00".repeat(32)}],
            })
        );
        let info = &v["mlflow"]["info"];
        assert_eq!(info["run_uuid"], info["run_id"]);
        assert_eq!(info["status"], "KILLED");
        assert_eq!(info["_start_time"], "2024-06-05 01:53:50");
        assert_eq!(info["_end_time"], "2024-06-05 01:53:57");
        assert_eq!(
            v["mlflow"]["metrics"]["loss"].as_array().unwrap()[..3],
            [
                json!({"value": "NaN", "timestamp": 1, "step": -5}),
                json!({"value": "Infinity", "timestamp": 2, "step": -1}),
                json!({"value": "-Infinity", "timestamp": 3, "step": 0}),
            ]
        );
        assert_eq!(
            v["mlflow"]["inputs"]["dataset_inputs"][0]["tags"],
            json!([{"key": "mlflow.data.context", "value": "training"}])
        );
        assert!(v["mlflow"]["inputs"]["dataset_inputs"][0]["dataset"].get("profile").is_none());
        assert_eq!(v["mlflow"]["inputs"]["model_inputs"], json!([{"model_id": "m-in"}]));
        assert_eq!(v["mlflow"]["outputs"], json!({"model_outputs": [{"model_id": "m-out", "step": -3}]}));
        // Valid JSON that strict parsers accept.
        assert!(serde_json::from_str::<Value>(&v.to_string()).is_ok());
    }

    /// serde_json's default float parser may be off by one ulp; the workspace enables its
    /// `float_roundtrip` feature so metric values survive export and import bit for bit.
    #[test]
    fn metric_values_parse_to_the_nearest_double() {
        let text = br#"{"info": {"run_id": "r", "experiment_id": "1", "status": "FINISHED"},
            "metrics": {"a": [{"value": 0.9333333333333333, "timestamp": 1, "step": 0}]}}"#;
        let value = read_run_json(Path::new("run.json"), text).unwrap().run.metrics["a"][0].value;
        assert_eq!(value.to_bits(), 0.9333333333333333_f64.to_bits(), "serde_json needs `float_roundtrip`");
    }

    #[test]
    fn reads_bare_non_finite_tokens_that_python_writes() {
        let text = r#"{"export_info": {}, "info": {"run_id": "r", "experiment_id": "1", "status": "RUNNING"},
            "metrics": {"m": [{"value": NaN, "timestamp": 1, "step": 0},
                              {"value": Infinity, "timestamp": 2, "step": 1},
                              {"value": -Infinity, "timestamp": 3, "step": 2}]},
            "tags": {"note": "NaN, Infinity and \"-Infinity\" stay text"}}"#;
        let rj = read_run_json(Path::new("run.json"), text.as_bytes()).unwrap();
        assert_eq!(rj.layout, Layout::V1x);
        let m = &rj.run.metrics["m"];
        assert!(m[0].value.is_nan());
        assert_eq!((m[1].value, m[2].value), (f64::INFINITY, f64::NEG_INFINITY));
        assert_eq!(rj.run.tags["note"], "NaN, Infinity and \"-Infinity\" stay text");
    }

    #[test]
    fn pre_1_0_numeric_status_missing_stage_and_times() {
        let v = json!({
            "info": {"run_uuid": "r", "experiment_id": 0, "status": 3},
            "metrics": {"acc": 1, "loss": "-Infinity"},
        });
        let rj = read_run_json(Path::new("run.json"), &serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(rj.layout, Layout::Pre1_0);
        assert_eq!(rj.run.meta.status, RunStatus::Finished);
        assert_eq!(rj.run.meta.experiment_id, "0");
        assert_eq!(rj.run.meta.lifecycle_stage, "active");
        assert_eq!(rj.run.metrics["acc"], vec![point(1.0, 0, 0)]);
        assert_eq!(rj.run.metrics["loss"], vec![point(f64::NEG_INFINITY, 0, 0)]);
        assert!(rj.run.params.is_empty() && rj.run.tags.is_empty());

        let v = json!({"info": {"run_id": "r", "experiment_id": "1", "status": "FINISHED", "start_time": 9, "end_time": null},
                       "metrics": {"acc": 0.5}});
        let rj = read_run_json(Path::new("run.json"), &serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(rj.run.metrics["acc"], vec![point(0.5, 9, 0)], "start time stands in for a missing end");
    }

    #[test]
    fn envelope_without_inputs_or_version_is_the_2023_layout() {
        let mut v = envelope();
        v["mlflow"].as_object_mut().unwrap().remove("inputs");
        v["system"] = json!({"mlflow_version": "2.0.1", "export_time": 1670303442});
        let rj = read_run_json(Path::new("run.json"), &serde_json::to_vec(&v).unwrap()).unwrap();
        assert_eq!(rj.layout, Layout::Envelope2023);
        assert_eq!(rj.run.meta.start_time, Some(5));
    }

    #[test]
    fn malformed_json_is_a_json_error() {
        for bad in [&b"{\"info\": "[..], b"", b"{\"a\": NaNa}", b"\xff\xfe"] {
            let err = read_run_json(Path::new("run.json"), bad).unwrap_err();
            assert!(matches!(err, FormatError::Json { .. }), "{err:?}");
            assert!(err.to_string().starts_with("run.json: malformed JSON: "), "{err}");
        }
    }

    #[test]
    fn wrong_shapes_name_the_field() {
        let with = |pointer: &str, value: Value| {
            let mut v = envelope();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            v.pointer_mut(parent).unwrap().as_object_mut().unwrap().insert(key.into(), value);
            shape_error(&v)
        };
        let without = |parent: &str, key: &str| {
            let mut v = envelope();
            v.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
            shape_error(&v)
        };
        let acc = |points: Value| with("/mlflow/metrics", json!({"acc": points}));
        let ok = json!({"value": 1.0, "timestamp": 1, "step": 0});
        let cases = [
            (without("/mlflow/info", "run_id"), "`mlflow.info.run_id` missing"),
            (without("/mlflow/info", "experiment_id"), "`mlflow.info.experiment_id` missing"),
            (without("/mlflow/info", "status"), "`mlflow.info.status` missing"),
            (without("/mlflow", "info"), "`mlflow.info` missing"),
            (with("/mlflow/info/start_time", json!("yesterday")), "`mlflow.info.start_time` is not an integer"),
            (with("/mlflow/info/run_name", json!(7)), "`mlflow.info.run_name` is not a string"),
            (with("/mlflow/info/status", json!("DONE")), "`mlflow.info.status` is not a run status: \"DONE\""),
            (with("/mlflow/info", json!([])), "`mlflow.info` is not an object"),
            (with("/mlflow/params", json!(["a"])), "`mlflow.params` is not an object"),
            (with("/mlflow", json!("x")), "`mlflow` is not an object"),
            (
                acc(json!([ok, ok, ok, {"value": 1.0, "timestamp": "noon", "step": 3}])),
                "metric `acc` point 3: `timestamp` is not an integer",
            ),
            (
                acc(json!([{"value": "high", "timestamp": 1}])),
                "metric `acc` point 0: `value` is not a number: \"high\"",
            ),
            (acc(json!([{"timestamp": 1}])), "metric `acc` point 0: `value` missing"),
            (acc(json!([{"value": 1, "timestamp": 1, "step": 1.5}])), "metric `acc` point 0: `step` is not an integer"),
            (acc(json!([5])), "metric `acc` point 0: not an object"),
            (acc(json!(0.5)), "metric `acc` is not a list of points"),
            (
                with("/mlflow/inputs", json!("x")),
                "`mlflow.inputs` is neither a list (2022-12 → 2025-10 layout) nor an object (2025-10+ layout)",
            ),
            (
                with(
                    "/mlflow/inputs/dataset_inputs",
                    json!([{"dataset": {"name": "d", "source_type": "s", "source": "x"}}]),
                ),
                "`mlflow.inputs.dataset_inputs[0]`: missing field `digest`",
            ),
            (with("/mlflow/inputs", json!([{"tags": []}])), "`mlflow.inputs[0]`: missing field `dataset`"),
            (with("/mlflow/inputs/model_inputs", json!({})), "`mlflow.inputs.model_inputs` is not a list"),
            (with("/system", json!({"mlflow_tracking_uri": 5})), "`system.mlflow_tracking_uri` is not a string"),
        ];
        let mut v = envelope();
        v["info"] = json!({"artifacts": [{"path": "a", "size": -1, "sha256": "x"}]});
        let artifacts = shape_error(&v);
        let cases = cases.into_iter().chain([(artifacts, "`info.artifacts[0].size` is not a size in bytes")]);
        for (got, want) in cases {
            assert_eq!(got, format!("run.json: unexpected shape: {want}"));
        }

        let legacy = |v: Value| shape_error(&v);
        assert_eq!(
            legacy(
                json!({"info": {"run_id": "r", "experiment_id": "1", "status": "RUNNING"}, "metrics": {"acc": true}})
            ),
            "run.json: unexpected shape: metric `acc` is not a number: true"
        );
        assert_eq!(
            legacy(json!({"export_info": {}, "info": {"run_id": "r", "experiment_id": "1", "status": "RUNNING"},
                          "metrics": {"acc": 0.5}})),
            "run.json: unexpected shape: metric `acc` is not a list of points"
        );
        assert_eq!(legacy(json!([1])), "run.json: unexpected shape: the top level is not an object");
        assert_eq!(
            legacy(json!({"runs": []})),
            "run.json: unexpected shape: neither `mlflow` (1.2+ envelope) nor `info` (older layouts) present"
        );
    }

    #[test]
    fn utc_text_matches_python_rendering() {
        assert_eq!(utc_text(0), "1970-01-01 00:00:00");
        assert_eq!(utc_text(-1), "1969-12-31 23:59:59");
        assert_eq!(utc_text(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc_text(1_670_303_442), "2022-12-06 05:10:42");
    }

    /// `run.json` of each release's `export-run`, with the lineage tags of 1.0 and 1.1.
    #[test]
    fn reads_the_python_corpus_runs() {
        use crate::format::corpus;
        for release in corpus::RELEASES {
            let path = corpus::dir(release).join("run/run.json");
            let rj = read_run_json(&path, &std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{e}"));
            let expected = corpus::expected(release);
            let parent = corpus::run_id(&expected, "parent");
            assert_eq!(rj.layout, if corpus::is_1x(release) { Layout::V1x } else { Layout::Envelope2023 }, "{release}");
            assert_eq!(rj.run.meta.run_id, parent, "{release}");
            assert_eq!(rj.run.meta.run_name.as_deref(), Some("parent"), "{release}");
            corpus::assert_run_as_logged(&rj.run, &expected["runs"]["parent"], release);
            let tag = |k: &str| rj.run.tags.get(k).map(String::as_str);
            if corpus::is_1x(release) {
                assert_eq!(tag("mlflow_export_import.run_info.run_id"), Some(parent.as_str()), "{release}");
                assert_eq!(tag("mlflow_export_import.run_info.status"), Some("FINISHED"), "{release}");
                assert_eq!(tag("mlflow_export_import.mlflow.runName"), Some("parent"), "{release}");
                let exp = expected["experiments"][0]["name"].as_str();
                assert_eq!(tag("mlflow_export_import.metadata.experiment_name"), exp, "{release}");
            } else {
                assert!(!rj.run.tags.keys().any(|k| k.starts_with("mlflow_export_import.")), "{release}");
            }
        }
    }
}
