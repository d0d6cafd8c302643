//! MLflow 3 traces at a store: what a trace is to the engine, where traces are read from and
//! written to, and the export folder's side of it (the server's is [`super::rest::traces`]).
//!
//! A trace is kept as the JSON its server sent (the TraceInfoV3 and the OTel proto JSON
//! spans): a copy then carries every field, also the ones a later server adds.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde_json::Value;

use crate::{
    format::{
        trace_json::{read_trace_dir, write_spans_json, write_trace_json, ARTIFACTS, TRACES, TRACES_JSON, TRACE_JSON},
        ExportSystem,
    },
    store::local,
    Error, Result,
};

/// A trace as listed for planning: its id and what it links to (trace metadata
/// `mlflow.sourceRun`, `mlflow.modelId`), whose steps its own step follows, and the source
/// trace it is a copy of, if it is one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListedTrace {
    pub id: String,
    pub run: Option<String>,
    pub model: Option<String>,
    pub copy_of: Option<String>,
}

impl ListedTrace {
    /// The trace `id` whose info (TraceInfoV3 JSON) is `info`.
    pub fn of_info(id: String, info: &Value) -> Self {
        let metadata = |key: &str| info["trace_metadata"][key].as_str().filter(|v| !v.is_empty()).map(str::to_string);
        let copy_of = info["tags"][crate::identity::SOURCE_TRACE_ID].as_str().map(str::to_string);
        Self { id, run: metadata(SOURCE_RUN), model: metadata(MODEL_ID), copy_of }
    }
}

/// Trace tags a server manages itself (where it keeps the spans); it strips them on writes.
pub const SERVER_TAGS: [&str; 4] = [
    "mlflow.artifactLocation",
    "mlflow.trace.spansLocation",
    "mlflow.trace.archiveLocation",
    "mlflow.trace.archivalFailure",
];

/// Trace metadata naming the run the trace was made in, and the logged model it was made by.
pub const SOURCE_RUN: &str = "mlflow.sourceRun";
pub const MODEL_ID: &str = "mlflow.modelId";

/// One trace: its info (TraceInfoV3 JSON: tags, metadata, assessments…) and its spans.
#[derive(Debug, Clone)]
pub struct TraceRecord {
    pub info: Value,
    pub spans: Vec<Value>,
}

impl TraceRecord {
    pub fn trace_id(&self) -> &str {
        self.info["trace_id"].as_str().unwrap_or_default()
    }

    /// The trace's experiment at its store.
    pub fn experiment_id(&self) -> Option<&str> {
        self.info.pointer("/trace_location/mlflow_experiment/experiment_id").and_then(Value::as_str)
    }

    /// A value of the trace's metadata.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.info.get("trace_metadata").and_then(|m| m.get(key)).and_then(Value::as_str)
    }
}

/// Something traces can be read from.
#[async_trait]
pub trait TraceSource: Send + Sync {
    async fn read_trace(&self, trace_id: &str) -> Result<TraceRecord>;
}

/// The source trace a copy stands for: its id and server, and the destination experiment
/// the copy belongs in (at a server).
#[derive(Debug, Clone, Copy)]
pub struct TraceCopyOf<'a> {
    pub trace_id: &'a str,
    pub tracking_uri: Option<&'a str>,
    pub experiment: Option<&'a str>,
}

/// What a destination holds under a trace id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TraceFound {
    Nothing,
    /// Our copy, left by an interrupted attempt.
    Begun,
    /// Our complete copy.
    Complete,
    /// Another trace (the source itself on the same server, or a copy into another
    /// experiment): the id is taken.
    Taken,
}

/// Something traces can be written to.
#[async_trait]
pub trait TraceSink: Send + Sync {
    /// What the destination holds under `trace_id`, judged as a copy of `of`.
    async fn find_trace(&self, trace_id: &str, of: TraceCopyOf<'_>) -> Result<TraceFound>;
    /// Writes the trace (spans and info), its completion last.
    async fn write_trace(&self, trace: &TraceRecord) -> Result<()>;
    /// Why this destination cannot store traces, once a write has shown it cannot, with the
    /// trace whose write showed it: the others are not tried, and not reported one by one.
    fn refuses(&self) -> Option<(String, String)> {
        None
    }
}

/// Traces in an export folder: under a root holding one folder per trace (`<root>/<trace_id>`:
/// an experiment's `traces/`, or what `export-traces` writes), or one trace in a folder of its
/// own (`export-trace`).
pub struct DirTraces {
    root: PathBuf,
    single: bool,
    system: ExportSystem,
}

impl DirTraces {
    /// The traces of an exported experiment folder (`<experiment_dir>/traces/`).
    pub fn of_experiment(experiment_dir: &Path, system: ExportSystem) -> Self {
        Self::under(&experiment_dir.join(TRACES), system)
    }

    /// Traces in `<root>/<trace_id>/`.
    pub fn under(root: &Path, system: ExportSystem) -> Self {
        Self { root: root.to_path_buf(), single: false, system }
    }

    /// One trace in `dir` itself.
    pub fn single(dir: &Path, system: ExportSystem) -> Self {
        Self { root: dir.to_path_buf(), single: true, system }
    }

    /// The folder of trace `trace_id`, refusing an id that is not a plain folder name.
    pub fn dir_of(&self, trace_id: &str) -> Result<PathBuf> {
        if self.single {
            return Ok(self.root.clone());
        }
        if trace_id.is_empty() || !crate::paths::is_single_segment(trace_id) {
            return Err(Error::Input(format!("trace id {trace_id:?} cannot be a folder name; refusing it")));
        }
        Ok(self.root.join(trace_id))
    }
}

#[async_trait]
impl TraceSource for DirTraces {
    async fn read_trace(&self, trace_id: &str) -> Result<TraceRecord> {
        let dir = self.dir_of(trace_id)?;
        let (info, spans) = tokio::task::spawn_blocking(move || read_trace_dir(&dir))
            .await
            .map_err(|e| Error::Input(format!("reading trace {trace_id}: {e}")))??;
        Ok(TraceRecord { info, spans })
    }
}

#[async_trait]
impl TraceSink for DirTraces {
    async fn find_trace(&self, trace_id: &str, _: TraceCopyOf<'_>) -> Result<TraceFound> {
        let done = self.dir_of(trace_id)?.join(TRACE_JSON).is_file();
        Ok(if done { TraceFound::Complete } else { TraceFound::Nothing })
    }

    async fn write_trace(&self, trace: &TraceRecord) -> Result<()> {
        let dir = self.dir_of(trace.trace_id())?;
        local::write_json(&dir.join(ARTIFACTS).join(TRACES_JSON), &write_spans_json(&trace.spans))?;
        local::write_json(&dir.join(TRACE_JSON), &write_trace_json(&self.system, &trace.info, &trace.spans))
    }
}
