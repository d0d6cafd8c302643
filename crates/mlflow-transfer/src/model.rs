//! The entities the engine moves, as plain data independent of where they are stored.
//!
//! A run is held with its *full* metric history (the REST API's run object only carries the
//! latest value per key) and its artifacts are described by a listing, never held in memory:
//! bytes are streamed from a source to a sink one file at a time.

use std::collections::BTreeMap;

use mlflow_client::types::{DatasetInput, KeyValue, LoggedModelMetric, ModelInput, ModelOutput, RunStatus};

/// One point of a metric's history.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricPoint {
    pub value: f64,
    pub timestamp: i64,
    pub step: i64,
}

impl From<&mlflow_client::types::Metric> for MetricPoint {
    fn from(m: &mlflow_client::types::Metric) -> Self {
        MetricPoint { value: m.value, timestamp: m.timestamp, step: m.step }
    }
}

impl MetricPoint {
    /// The point as a comparable value: NaN equals NaN, as it does when a server stores it, and
    /// ±∞ equals ±`f64::MAX`, which is what a database-backed MLflow stores for it (a file store
    /// keeps ∞): a copy from an `mlruns` folder into a server is the same point.
    pub fn key(&self) -> (i64, i64, u64) {
        let value = if self.value.is_nan() {
            f64::NAN
        } else if self.value.is_infinite() {
            f64::MAX.copysign(self.value)
        } else {
            self.value
        };
        (self.step, self.timestamp, value.to_bits())
    }

    /// The point a server reports as a metric's latest: the highest step, then timestamp, then
    /// value.
    pub fn latest(points: &[MetricPoint]) -> Option<&MetricPoint> {
        points.iter().max_by(|a, b| (a.step, a.timestamp).cmp(&(b.step, b.timestamp)).then(a.value.total_cmp(&b.value)))
    }
}

/// Run attributes that are not params, tags or metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunMeta {
    /// The run's id where it was read from (source id; never sent to a destination).
    pub run_id: String,
    pub experiment_id: String,
    pub run_name: Option<String>,
    pub user_id: Option<String>,
    pub status: RunStatus,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    pub artifact_uri: Option<String>,
}

impl RunMeta {
    pub fn is_deleted(&self) -> bool {
        self.lifecycle_stage == "deleted"
    }
}

/// A run with everything but artifact bytes.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunRecord {
    pub meta: RunMeta,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Full history per metric key, in the order the source returned it.
    pub metrics: BTreeMap<String, Vec<MetricPoint>>,
    pub dataset_inputs: Vec<DatasetInput>,
    pub model_inputs: Vec<ModelInput>,
    pub model_outputs: Vec<ModelOutput>,
    /// Where the run came from: the source tracking server (credentials removed) and, for runs
    /// read from an export, the server recorded in it.
    pub origin: Origin,
}

/// Provenance of a run, used for the destination's source-identity tags.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Origin {
    /// Tracking URI of the server the run was first read from, without credentials.
    pub tracking_uri: Option<String>,
    /// Name of the experiment the run belonged to there.
    pub experiment_name: Option<String>,
}

/// One artifact file of a run: its path relative to the run's artifact root and its size.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ArtifactFile {
    pub path: String,
    /// Bytes, as the listing gives them; `None` when it does not (a server or store may omit
    /// sizes): the file is then moved without a size check and its manifest records the bytes
    /// actually moved.
    pub size: Option<u64>,
    /// The SHA-256 (lowercase hex) the source vouches for, when it has one (an export's
    /// manifest): the bytes are checked against it as they stream.
    pub sha256: Option<String>,
}

/// A format a Databricks workspace exports a notebook in (databricks-rest.md §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotebookFormat {
    Source,
    Html,
    Jupyter,
    Dbc,
}

impl NotebookFormat {
    pub const ALL: [NotebookFormat; 4] = [Self::Source, Self::Html, Self::Jupyter, Self::Dbc];

    /// The name the workspace API takes (case-sensitive there).
    pub fn api_name(self) -> &'static str {
        match self {
            Self::Source => "SOURCE",
            Self::Html => "HTML",
            Self::Jupyter => "JUPYTER",
            Self::Dbc => "DBC",
        }
    }

    /// The comma-separated list `--notebook-formats` takes, in any case; empty items are
    /// ignored and repeats kept once.
    pub fn parse_list(text: &str) -> std::result::Result<Vec<Self>, String> {
        let mut formats = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let Some(f) = Self::ALL.into_iter().find(|f| f.api_name().eq_ignore_ascii_case(item)) else {
                return Err(format!("unknown notebook format {item:?}: use SOURCE, HTML, JUPYTER or DBC"));
            };
            if !formats.contains(&f) {
                formats.push(f);
            }
        }
        Ok(formats)
    }
}

/// A notebook as a workspace exported it.
pub struct Notebook {
    /// `PYTHON`, `SCALA`, `SQL` or `R`, when the workspace said.
    pub language: Option<String>,
    pub exports: Vec<(NotebookFormat, bytes::Bytes)>,
}

/// An experiment's own data (its runs are moved one by one).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExperimentRecord {
    /// The experiment's id where it was read from.
    pub experiment_id: String,
    pub name: String,
    /// `active` or `deleted`.
    pub lifecycle_stage: String,
    pub artifact_location: Option<String>,
    pub creation_time: Option<i64>,
    pub last_update_time: Option<i64>,
    /// Includes the description (`mlflow.note.content`).
    pub tags: BTreeMap<String, String>,
    /// A workspace's access control list of the experiment, as the Python tool exports it
    /// (`{permission_levels, permissions: {object_id, object_type, access_control_list}}`),
    /// when asked for (`--export-permissions`).
    pub permissions: Option<serde_json::Value>,
}

/// A registered model with all its versions.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RegisteredModelRecord {
    pub name: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// Alias → version number.
    pub aliases: BTreeMap<String, String>,
    pub creation_timestamp: Option<i64>,
    pub last_updated_timestamp: Option<i64>,
    /// In ascending version order.
    pub versions: Vec<ModelVersionRecord>,
    /// The workspace registry's access control list, as the Python tool exports it
    /// (`{permission_levels, permissions: {object_id, object_type, access_control_list}}`),
    /// when asked for (`--export-permissions`, `--copy-permissions`).
    pub permissions: Option<serde_json::Value>,
}

/// One version of a registered model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelVersionRecord {
    /// The version number, as the API writes it (a decimal string).
    pub version: String,
    pub description: Option<String>,
    pub tags: BTreeMap<String, String>,
    /// `None`, `Staging`, `Production` or `Archived`.
    pub current_stage: Option<String>,
    /// Where the model files are (`runs:/…`, `mlflow-artifacts:/…`, `models:/m-…`, a path, …).
    pub source: String,
    pub run_id: Option<String>,
    pub run_link: Option<String>,
    pub status: Option<String>,
    pub user_id: Option<String>,
    pub creation_timestamp: Option<i64>,
    pub last_updated_timestamp: Option<i64>,
    /// The artifact root of the version's run at the source, to locate `source` inside it.
    pub run_artifact_uri: Option<String>,
    /// Name of the experiment of the version's run at the source.
    pub experiment_name: Option<String>,
}

impl ModelVersionRecord {
    /// `m-…` when the version's files are an MLflow 3 logged model (`models:/m-…`).
    pub fn logged_model_id(&self) -> Option<&str> {
        let id = self.source.strip_prefix("models:/")?;
        (id.starts_with("m-") && crate::paths::is_single_segment(id)).then_some(id)
    }
}

/// An MLflow 3 logged model: what its copy is created with. Its files are listed by the
/// source, like a run's.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LoggedModelRecord {
    /// `m-…`.
    pub model_id: String,
    pub name: String,
    pub model_type: Option<String>,
    pub params: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    /// Where its files are at a server; `None` in an export.
    pub artifact_uri: Option<String>,
    /// The run that logged it at the source, if any.
    pub source_run_id: Option<String>,
    /// Its metric points, each naming the source run it was logged through.
    pub metrics: Vec<LoggedModelMetric>,
    /// `LOGGED_MODEL_READY`, `LOGGED_MODEL_PENDING` or `LOGGED_MODEL_UPLOAD_FAILED`; `None`
    /// when not known (an export that does not say), taken as ready.
    pub status: Option<String>,
}

/// A logged model's status as the API spells it.
pub const LOGGED_MODEL_READY: &str = "LOGGED_MODEL_READY";
pub const LOGGED_MODEL_PENDING: &str = "LOGGED_MODEL_PENDING";
pub const LOGGED_MODEL_UPLOAD_FAILED: &str = "LOGGED_MODEL_UPLOAD_FAILED";

impl LoggedModelRecord {
    /// The status its copy is to end with.
    pub fn final_status(&self) -> &str {
        self.status.as_deref().unwrap_or(LOGGED_MODEL_READY)
    }
}

/// A version number as the registry orders them (`"10"` after `"9"`); 0 when not a number.
pub fn version_number(version: &str) -> u64 {
    version.parse().unwrap_or(0)
}

/// Tags or params as the API's key/value list.
pub fn key_values(map: &BTreeMap<String, String>) -> Vec<KeyValue> {
    map.iter().map(|(k, v)| KeyValue::new(k, v)).collect()
}

/// The tags that make a registered model a prompt and a model version a prompt version
/// holding its template (MLflow's `mlflow/prompt/constants.py`).
pub mod prompt_tags {
    /// `true` on a prompt and on each of its versions.
    pub const IS_PROMPT: &str = "mlflow.prompt.is_prompt";
    /// The template: the text, or a chat prompt's messages as JSON.
    pub const TEXT: &str = "mlflow.prompt.text";
    /// `text` or `chat`.
    pub const TYPE: &str = "_mlflow_prompt_type";
    /// JSON of the expected response structure.
    pub const RESPONSE_FORMAT: &str = "_mlflow_prompt_response_format";
    /// JSON of the model configuration (model name, temperature, …).
    pub const MODEL_CONFIG: &str = "_mlflow_prompt_model_config";
    /// The sources the server accepts for a prompt version; the first is the client's.
    pub const SOURCES: [&str; 2] = ["dummy-source", "prompt-template"];

    /// Whether a registered model's (or version's) tags make it a prompt.
    pub fn is_prompt(tags: &std::collections::BTreeMap<String, String>) -> bool {
        tags.get(IS_PROMPT).is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Whether a tag is the registry's own rather than a user's (`PromptVersion.tags` leaves
    /// these out).
    pub fn is_reserved(key: &str) -> bool {
        [IS_PROMPT, TEXT, TYPE, RESPONSE_FORMAT, MODEL_CONFIG].contains(&key)
    }
}

/// One record as the server and the Python tool's export spell it (`inputs`, `outputs`,
/// `expectations`, `tags`, `source`, and the server's own ids and times).
pub type DatasetRow = serde_json::Map<String, serde_json::Value>;

/// An experiment a dataset is linked to: its source id, and its name where known (a Python
/// export records ids only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedExperiment {
    pub id: String,
    pub name: Option<String>,
}

/// A dataset without its records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EvaluationDatasetRecord {
    pub dataset_id: String,
    pub name: String,
    pub tags: BTreeMap<String, String>,
    pub experiments: Vec<LinkedExperiment>,
    /// The server's JSON texts and digest, kept in an export; a server recomputes them.
    pub schema: Option<String>,
    pub profile: Option<String>,
    pub digest: Option<String>,
    pub created_time: Option<i64>,
    pub last_update_time: Option<i64>,
    pub created_by: Option<String>,
    pub last_updated_by: Option<String>,
    /// The server it was read from (credentials removed), recorded on copies.
    pub tracking_uri: Option<String>,
}
