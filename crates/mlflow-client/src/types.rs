//! Serde types mirroring the MLflow REST API's JSON.
//!
//! The server emits int64 as JSON numbers, but proto-JSON elsewhere (Databricks, proxies) uses
//! strings, so every int64 reads from either. Doubles travel as numbers or as the strings
//! `"NaN"`, `"Infinity"`, `"-Infinity"`: any other spelling makes the server silently store
//! zero and drop the rest of the request, so we always write exactly those strings.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A key/value pair as the REST API sends tags and params: `[{key, value}]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

impl KeyValue {
    pub fn new(key: impl Into<String>, value: impl Into<String>) -> Self {
        Self { key: key.into(), value: value.into() }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    pub name: String,
    #[serde(default)]
    pub artifact_location: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub last_update_time: Option<i64>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// Run lifecycle status as the server names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunStatus {
    #[default]
    Running,
    Scheduled,
    Finished,
    Failed,
    Killed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    #[serde(default)]
    pub run_name: Option<String>,
    pub experiment_id: String,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub status: RunStatus,
    #[serde(default, deserialize_with = "opt_i64")]
    pub start_time: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub end_time: Option<i64>,
    #[serde(default)]
    pub artifact_uri: Option<String>,
    #[serde(default)]
    pub lifecycle_stage: Option<String>,
}

impl RunInfo {
    pub fn is_deleted(&self) -> bool {
        self.lifecycle_stage.as_deref() == Some("deleted")
    }
}

/// One point of a metric's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    pub key: String,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub value: f64,
    #[serde(deserialize_with = "de_i64")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "de_i64_default")]
    pub step: i64,
}

/// One point of a bulk history answer: a metric with the run it belongs to.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MetricOfRun {
    pub run_id: String,
    #[serde(flatten)]
    pub metric: Metric,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunData {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dataset {
    pub name: String,
    pub digest: String,
    pub source_type: String,
    pub source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInput {
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    pub dataset: Dataset,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelInput {
    pub model_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelOutput {
    pub model_id: String,
    #[serde(default, deserialize_with = "de_i64_default")]
    pub step: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunInputs {
    #[serde(default)]
    pub dataset_inputs: Vec<DatasetInput>,
    #[serde(default)]
    pub model_inputs: Vec<ModelInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunOutputs {
    #[serde(default)]
    pub model_outputs: Vec<ModelOutput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
    #[serde(default)]
    pub inputs: RunInputs,
    #[serde(default)]
    pub outputs: RunOutputs,
}

/// An entry of `artifacts/list`: `path` is relative to the run's artifact root.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WireFileInfo")]
pub struct FileInfo {
    pub path: String,
    pub is_dir: bool,
    /// Bytes; `None` when the listing does not say (folders, and stores whose listings carry
    /// no sizes).
    pub file_size: Option<u64>,
}

/// [`FileInfo`] as the server sends it. A size that is not a count of bytes (negative, not a
/// number) is refused with the entry's path, which a decoding error of the whole listing would
/// not name.
#[derive(Deserialize)]
struct WireFileInfo {
    path: String,
    #[serde(default)]
    is_dir: bool,
    #[serde(default)]
    file_size: Option<serde_json::Value>,
}

impl TryFrom<WireFileInfo> for FileInfo {
    type Error = String;

    fn try_from(w: WireFileInfo) -> Result<Self, String> {
        let file_size = match w.file_size {
            None | Some(serde_json::Value::Null) => None,
            Some(raw) => {
                Some(opt_i64(&raw).ok().flatten().and_then(|size| u64::try_from(size).ok()).ok_or_else(|| {
                    format!("artifact {:?}: the listing gives its size as {raw}, not a number of bytes", w.path)
                })?)
            }
        };
        Ok(Self { path: w.path, is_dir: w.is_dir, file_size })
    }
}

/// Which lifecycle stages a search returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ViewType {
    ActiveOnly,
    DeletedOnly,
    All,
}

/// What `GET /api/3.0/mlflow/server-info` reports; missing keys mean "unknown".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ServerInfo {
    #[serde(default)]
    pub store_type: Option<String>,
    #[serde(default)]
    pub artifact_serving_enabled: Option<bool>,
}

/// Writes a double the way the server parses it without loss.
pub fn ser_f64<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_nan() {
        s.serialize_str("NaN")
    } else if *v == f64::INFINITY {
        s.serialize_str("Infinity")
    } else if *v == f64::NEG_INFINITY {
        s.serialize_str("-Infinity")
    } else {
        s.serialize_f64(*v)
    }
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrStr {
    Int(i64),
    Float(f64),
    Str(String),
}

/// Reads a double from a number or from the protobuf-JSON special strings.
pub fn de_f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    match NumOrStr::deserialize(d)? {
        NumOrStr::Int(i) => Ok(i as f64),
        NumOrStr::Float(f) => Ok(f),
        NumOrStr::Str(s) => parse_f64(&s).ok_or_else(|| serde::de::Error::custom(format!("not a number: {s:?}"))),
    }
}

fn parse_f64(s: &str) -> Option<f64> {
    match s {
        "NaN" | "nan" => Some(f64::NAN),
        "Infinity" | "inf" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

fn to_i64<E: serde::de::Error>(v: NumOrStr) -> Result<i64, E> {
    match v {
        NumOrStr::Int(i) => Ok(i),
        NumOrStr::Float(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(f as i64),
        NumOrStr::Float(f) => Err(E::custom(format!("not an integer: {f}"))),
        NumOrStr::Str(s) => s.parse().map_err(|_| E::custom(format!("not an integer: {s:?}"))),
    }
}

/// Reads an int64 from a number or a string.
pub fn de_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    to_i64(NumOrStr::deserialize(d)?)
}

pub fn de_i64_default<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Option::<NumOrStr>::deserialize(d)?.map(to_i64).transpose()?.unwrap_or(0))
}

/// Reads an optional int64 from a number, a string or null.
pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Option::<NumOrStr>::deserialize(d)?.map(to_i64).transpose()
}

/// A registered model as `registered-models/get`/`search` return it.
///
/// `aliases` is filled by `get` and `search`; `latest_versions` holds one version per stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModel {
    pub name: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub latest_versions: Vec<ModelVersion>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub aliases: Vec<RegisteredModelAlias>,
}

/// One `aliases[]` entry of a registered model. `version` is a string on the wire, and must be
/// sent as one: the server rejects a JSON number when setting an alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredModelAlias {
    pub alias: String,
    #[serde(deserialize_with = "de_version")]
    pub version: String,
}

/// A model version. `version` is a decimal string (read from a number too). `aliases` is empty
/// in `model-versions/search` results even when the version has some: the server omits them
/// there, so read them from `model-versions/get` or the registered model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelVersion {
    pub name: String,
    #[serde(deserialize_with = "de_version")]
    pub version: String,
    #[serde(default, deserialize_with = "opt_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default, deserialize_with = "opt_i64")]
    pub last_updated_timestamp: Option<i64>,
    #[serde(default)]
    pub user_id: Option<String>,
    #[serde(default)]
    pub current_stage: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
    /// `PENDING_REGISTRATION`, `FAILED_REGISTRATION` or `READY`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub run_link: Option<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Where a Unity Catalog version's files are kept (an `s3://`, `abfss://` or `gs://`
    /// folder); open-source servers have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
}

/// Reads a model version number from a string or a bare integer, as a decimal string.
fn de_version<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match NumOrStr::deserialize(d)? {
        NumOrStr::Str(s) => Ok(s),
        other => to_i64(other).map(|i| i.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_sizes_are_counts_of_bytes_or_unknown() {
        let size = |json: &str| serde_json::from_str::<FileInfo>(json).map(|f| f.file_size).map_err(|e| e.to_string());
        assert_eq!(size(r#"{"path":"a","file_size":12}"#), Ok(Some(12)));
        assert_eq!(size(r#"{"path":"a","file_size":"12"}"#), Ok(Some(12)));
        assert_eq!(size(r#"{"path":"a"}"#), Ok(None));
        assert_eq!(size(r#"{"path":"a","file_size":null}"#), Ok(None));
        for bad in [r#""-3""#, "-3", r#""12 bytes""#, "1.5", "true"] {
            let err = size(&format!(r#"{{"path":"dir/f.bin","file_size":{bad}}}"#)).unwrap_err();
            assert!(err.contains(r#"artifact "dir/f.bin""#) && err.contains("not a number of bytes"), "{bad}: {err}");
        }
    }

    #[test]
    fn metric_reads_special_values_and_string_ints() {
        let m: Metric = serde_json::from_str(r#"{"key":"a","value":"NaN","timestamp":"12","step":3}"#).unwrap();
        assert!(m.value.is_nan());
        assert_eq!((m.timestamp, m.step), (12, 3));
        let m: Metric = serde_json::from_str(r#"{"key":"a","value":"-Infinity","timestamp":1}"#).unwrap();
        assert_eq!(m.value, f64::NEG_INFINITY);
        assert_eq!(m.step, 0);
    }

    #[test]
    fn metric_writes_special_values_as_strings() {
        let m = Metric { key: "k".into(), value: f64::INFINITY, timestamp: 5, step: -1 };
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"key":"k","value":"Infinity","timestamp":5,"step":-1}"#);
        let m = Metric { key: "k".into(), value: 0.5, timestamp: 5, step: 0 };
        assert!(serde_json::to_string(&m).unwrap().contains(r#""value":0.5"#));
    }
    #[test]
    fn registered_model_reads_a_get_answer() {
        let json = r#"{
            "name": "churn",
            "creation_timestamp": 1718000000000,
            "last_updated_timestamp": "1718000005000",
            "description": "Churn classifier",
            "latest_versions": [{
                "name": "churn", "version": "3", "creation_timestamp": 1718000004000,
                "last_updated_timestamp": 1718000004500, "current_stage": "Production",
                "source": "mlflow-artifacts:/1/abc/artifacts/model", "run_id": "abc",
                "status": "READY", "run_link": ""
            }],
            "tags": [{"key": "team", "value": "risk"}],
            "aliases": [{"alias": "champion", "version": "3"}, {"alias": "old", "version": 1}]
        }"#;
        let m: RegisteredModel = serde_json::from_str(json).unwrap();
        assert_eq!(m.name, "churn");
        assert_eq!(m.creation_timestamp, Some(1_718_000_000_000));
        assert_eq!(m.last_updated_timestamp, Some(1_718_000_005_000));
        assert_eq!(m.user_id, None);
        assert_eq!(m.description.as_deref(), Some("Churn classifier"));
        assert_eq!(m.latest_versions.len(), 1);
        assert_eq!(m.latest_versions[0].version, "3");
        assert_eq!(m.latest_versions[0].current_stage.as_deref(), Some("Production"));
        assert_eq!(m.tags, vec![KeyValue::new("team", "risk")]);
        assert_eq!(
            m.aliases,
            vec![
                RegisteredModelAlias { alias: "champion".into(), version: "3".into() },
                RegisteredModelAlias { alias: "old".into(), version: "1".into() },
            ]
        );
        // A freshly created model carries only its name.
        let bare: RegisteredModel = serde_json::from_str(r#"{"name":"x"}"#).unwrap();
        assert!(bare.latest_versions.is_empty() && bare.tags.is_empty() && bare.aliases.is_empty());
    }

    #[test]
    fn model_versions_read_string_and_number_versions() {
        #[derive(Deserialize)]
        struct Page {
            model_versions: Vec<ModelVersion>,
        }
        let json = r#"{"model_versions": [
            {"name": "churn", "version": "2", "creation_timestamp": 1718000001000,
             "last_updated_timestamp": 1718000002000, "user_id": "ana", "current_stage": "None",
             "description": "", "source": "mlflow-artifacts:/1/abc/artifacts/model", "run_id": "abc",
             "status": "READY", "tags": [{"key": "k", "value": "v"}], "run_link": ""},
            {"name": "churn", "version": 1, "creation_timestamp": "1718000000000",
             "status": "PENDING_REGISTRATION", "status_message": "copying", "aliases": ["champion"]}
        ], "next_page_token": ""}"#;
        let page: Page = serde_json::from_str(json).unwrap();
        let [a, b] = &page.model_versions[..] else { panic!("two versions") };
        assert_eq!((a.version.as_str(), b.version.as_str()), ("2", "1"));
        assert_eq!(a.creation_timestamp, Some(1_718_000_001_000));
        assert_eq!(b.creation_timestamp, Some(1_718_000_000_000));
        assert_eq!(b.last_updated_timestamp, None);
        assert_eq!(a.tags, vec![KeyValue::new("k", "v")]);
        assert!(a.aliases.is_empty());
        assert_eq!(b.aliases, vec!["champion".to_string()]);
        assert_eq!(b.status_message.as_deref(), Some("copying"));
        assert!(serde_json::from_str::<ModelVersion>(r#"{"name":"m","version":1.5}"#).is_err());
    }
}

/// An MLflow 3 logged model (`GET /api/2.0/mlflow/logged-models/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModel {
    pub info: LoggedModelInfo,
    #[serde(default)]
    pub data: LoggedModelData,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedModelInfo {
    pub model_id: String,
    pub experiment_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub artifact_uri: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub model_type: Option<String>,
    #[serde(default)]
    pub source_run_id: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggedModelData {
    #[serde(default)]
    pub params: Vec<KeyValue>,
    #[serde(default)]
    pub metrics: Vec<LoggedModelMetric>,
}

/// A metric point of a logged model: logged through a run's `log-batch` with `model_id`
/// (there is no other write path), so it names the run and, when it was computed on one, the
/// dataset.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoggedModelMetric {
    pub key: String,
    #[serde(serialize_with = "ser_f64", deserialize_with = "de_f64")]
    pub value: f64,
    #[serde(deserialize_with = "de_i64")]
    pub timestamp: i64,
    #[serde(default, deserialize_with = "de_i64_default")]
    pub step: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_digest: Option<String>,
}
