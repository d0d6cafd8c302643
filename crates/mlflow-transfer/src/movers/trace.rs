//! The trace mover: one MLflow 3 trace from a source to a sink, keeping its trace id (a
//! trace id is the hex of its OTel trace id, in every span; another server can hold it as
//! is). Its copy is found again by that id and our identity tags: complete (the completion
//! tag, written last) is skipped, begun is written again (every trace write is an upsert).
//!
//! Into a server, the trace is moved into the destination experiment its step depends on, and
//! its run (`mlflow.sourceRun`) is pointed at the destination copy of that run; a run that was
//! not copied is kept as it was, and said so in the outcome. An export keeps the trace as read.

use std::{collections::BTreeSet, path::PathBuf, sync::Arc};

use serde_json::json;

use crate::{
    format::{
        trace_json::{write_traces_json, IndexedExperiment, TRACES_JSON},
        ExportSystem,
    },
    identity,
    job::{Action, JobContext, Outcome, TraceOutcome},
    store::{
        local,
        traces::{TraceRecord, TraceSink, TraceSource},
        Target,
    },
    Error, Result,
};

/// Trace tags a server manages itself (where it keeps the spans); it strips them on writes.
const SERVER_TAGS: [&str; 4] = [
    "mlflow.artifactLocation",
    "mlflow.trace.spansLocation",
    "mlflow.trace.archiveLocation",
    "mlflow.trace.archivalFailure",
];
const SOURCE_RUN: &str = "mlflow.sourceRun";

/// One trace to move.
pub struct TraceMove {
    pub trace_id: String,
    pub source: Arc<dyn TraceSource>,
    pub sink: Arc<dyn TraceSink>,
    /// Whether the sink is a server: the trace then goes into the experiment prepared by the
    /// step it depends on, with its run remapped and our identity tags.
    pub to_server: bool,
    /// The source server, recorded on the copy.
    pub source_tracking_uri: Option<String>,
}

impl TraceMove {
    pub async fn execute(&self, deps: &[Outcome], ctx: &JobContext) -> Outcome {
        let mut outcome = TraceOutcome {
            source_trace_id: self.trace_id.clone(),
            destination: None,
            action: Action::Failed,
            error: None,
            notes: Vec::new(),
            spans: 0,
            attempts: 1,
            retryable: false,
        };
        if let Err(e) = self.transfer(deps, ctx, &mut outcome).await {
            outcome.action = Action::Failed;
            outcome.error = Some(e.to_string());
            outcome.retryable = e.is_transient();
        }
        tracing::debug!(trace = %self.trace_id, action = ?outcome.action, "trace");
        Outcome::Trace(outcome)
    }

    async fn transfer(&self, deps: &[Outcome], ctx: &JobContext, outcome: &mut TraceOutcome) -> Result<()> {
        let experiment = if self.to_server { Some(destination_experiment(deps)?) } else { None };
        let target = self.sink.find_trace(&self.trace_id, self.source_tracking_uri.as_deref()).await?;
        outcome.destination = Some(target.id().to_string());
        if let Target::Complete(_) = target {
            outcome.action = Action::Skipped;
            return Ok(());
        }
        let mut trace = self.source.read_trace(&self.trace_id).await?;
        if trace.trace_id() != self.trace_id {
            return Err(Error::Input(format!("trace {} was read as trace {:?}", self.trace_id, trace.trace_id())));
        }
        if let Some(experiment) = experiment {
            outcome.notes = self.remap(&mut trace, experiment, deps, ctx);
        }
        self.sink.write_trace(&trace).await?;
        outcome.spans = trace.spans.len();
        outcome.action = if matches!(target, Target::Resumed(_)) { Action::Resumed } else { Action::Created };
        Ok(())
    }

    /// Points the trace at its destination experiment and run, drops the tags the server
    /// manages, and records where it came from. Returns what could not be kept.
    fn remap(&self, trace: &mut TraceRecord, experiment: &str, deps: &[Outcome], ctx: &JobContext) -> Vec<String> {
        let mut notes = Vec::new();
        let source_experiment = trace.experiment_id().unwrap_or_default().to_string();
        if let Some(run) = trace.metadata(SOURCE_RUN).map(str::to_string) {
            let copied = deps.iter().find_map(|d| match d {
                Outcome::Run(r) if r.source_run_id == run && r.action != Action::Failed => r.destination.clone(),
                _ => None,
            });
            match copied.or_else(|| ctx.ids.get(&run).flatten()) {
                Some(dst) => trace.info["trace_metadata"][SOURCE_RUN] = json!(dst),
                None => notes.push(format!("its run {run} was not copied: {SOURCE_RUN} still names the source run")),
            }
        }
        let info = &mut trace.info;
        info["trace_location"] =
            json!({"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": experiment}});
        if !info["tags"].is_object() {
            info["tags"] = json!({});
        }
        let tags = info["tags"].as_object_mut().expect("an object");
        tags.retain(|k, _| !SERVER_TAGS.contains(&k.as_str()) && !k.starts_with(identity::PREFIX));
        tags.insert(identity::SOURCE_TRACE_ID.into(), json!(self.trace_id));
        tags.insert(identity::SOURCE_EXPERIMENT_ID.into(), json!(source_experiment));
        if let Some(uri) = &self.source_tracking_uri {
            tags.insert(identity::SOURCE_TRACKING_URI.into(), json!(mlflow_client::redact(uri)));
        }
        notes
    }
}

/// The destination experiment the `Open` step this one depends on prepared.
fn destination_experiment(deps: &[Outcome]) -> Result<&str> {
    deps.iter()
        .find_map(|d| match d {
            Outcome::ExperimentReady { experiment_id, .. } => Some(Ok(experiment_id.as_str())),
            Outcome::Failed { object, error, .. } => Some(Err(Error::Unsupported(format!("{object}: {error}")))),
            _ => None,
        })
        .unwrap_or_else(|| Err(Error::Input("no destination experiment was prepared for this trace".into())))
}

/// After the traces of a job: into a folder, `traces.json` (the traces written, by
/// experiment, and those that failed); anywhere, the failure to list them, when they could not
/// be.
pub struct TraceIndex {
    /// The folder `traces.json` goes in; `None` at a server.
    pub dir: Option<PathBuf>,
    /// The experiments and the traces planned of each.
    pub experiments: Vec<IndexedExperiment>,
    pub system: ExportSystem,
    /// What could not be listed, and why.
    pub error: Option<(String, String)>,
}

impl TraceIndex {
    pub async fn execute(&self, deps: &[Outcome], _ctx: &JobContext) -> Outcome {
        if let Some((object, error)) = &self.error {
            return Outcome::Failed { object: object.clone(), error: error.clone(), retryable: false };
        }
        let Some(dir) = &self.dir else { return Outcome::Indexed };
        let failed: BTreeSet<&str> = deps
            .iter()
            .filter_map(|d| match d {
                Outcome::Trace(t) if t.action == Action::Failed => Some(t.source_trace_id.as_str()),
                _ => None,
            })
            .collect();
        let written: Vec<IndexedExperiment> = self
            .experiments
            .iter()
            .map(|e| IndexedExperiment {
                traces: e.traces.iter().filter(|t| !failed.contains(t.as_str())).cloned().collect(),
                ..e.clone()
            })
            .collect();
        let failed: Vec<String> = failed.into_iter().map(str::to_string).collect();
        let path = dir.join(TRACES_JSON);
        match local::write_json(&path, &write_traces_json(&self.system, &written, &failed)) {
            Ok(()) => Outcome::Indexed,
            Err(e) => Outcome::failed(path.display().to_string(), &e),
        }
    }
}
