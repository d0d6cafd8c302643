//! The trace mover: one MLflow 3 trace from a source to a sink, keeping its trace id (a
//! trace id is the hex of its OTel trace id, in every span; another server can hold it as
//! is). Its copy is found again by that id and our identity tags: complete (the completion
//! tag, written last) is skipped, begun is written again (every trace write is an upsert).
//!
//! When the id is taken at the destination (by the source itself, when copying inside one
//! server, or by a copy into another experiment), the copy gets an id derived from the source
//! trace, its server and the destination experiment: new, and the same in every job.
//!
//! Into a server, the trace is moved into the destination experiment its step depends on, and
//! its run (`mlflow.sourceRun`) and logged model (`mlflow.modelId`) are pointed at their
//! destination copies; one that was not copied is kept as it was, and said so in the outcome. An export keeps the trace as read.

use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{
    identity,
    job::{Action, Deps, JobContext, Outcome, TraceOutcome},
    store::traces::{TraceCopyOf, TraceFound, TraceRecord, TraceSink, TraceSource, MODEL_ID, SERVER_TAGS, SOURCE_RUN},
    Error, Result,
};

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
    pub async fn execute(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
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
            match self.sink.refuses() {
                // Another trace, written at the same time, has reported it.
                Some((first, why)) if first != self.trace_id => outcome.notes.push(format!("not copied: {why}")),
                _ => {
                    outcome.error = Some(e.to_string());
                    outcome.retryable = e.is_transient();
                }
            }
        }
        tracing::debug!(trace = %self.trace_id, action = ?outcome.action, "trace");
        Outcome::Trace(outcome)
    }

    async fn transfer(&self, deps: &Deps, ctx: &JobContext, outcome: &mut TraceOutcome) -> Result<()> {
        let experiment = if self.to_server { Some(destination_experiment(deps)?) } else { None };
        if let Some((_, why)) = self.sink.refuses() {
            // Said once, by the trace that found it out; the others are only counted.
            outcome.notes.push(format!("not copied: {why}"));
            return Ok(());
        }
        let of =
            TraceCopyOf { trace_id: &self.trace_id, tracking_uri: self.source_tracking_uri.as_deref(), experiment };
        let mut id = self.trace_id.clone();
        let mut found = self.sink.find_trace(&id, of).await?;
        if found == TraceFound::Taken {
            // The source itself (a copy inside one server) or a copy into another experiment
            // holds the id: the copy gets an id of its own, the same in every job.
            id = renewed_id(&of);
            found = self.sink.find_trace(&id, of).await?;
            if found == TraceFound::Taken {
                return Err(Error::Unsupported(format!(
                    "trace ids {} and {id} are both taken at the destination by other traces",
                    self.trace_id
                )));
            }
            outcome.notes.push(format!("trace id {} is taken at the destination: copied as {id}", self.trace_id));
        }
        outcome.destination = Some(id.clone());
        if found == TraceFound::Complete {
            outcome.action = Action::Skipped;
            return Ok(());
        }
        let mut trace = self.source.read_trace(&self.trace_id).await?;
        if trace.trace_id() != self.trace_id {
            return Err(Error::Input(format!("trace {} was read as trace {:?}", self.trace_id, trace.trace_id())));
        }
        if let Some(experiment) = experiment {
            let notes = self.remap(&mut trace, experiment, deps, ctx);
            outcome.notes.extend(notes);
        }
        if id != self.trace_id {
            renew(&mut trace, &self.trace_id, &id)?;
        }
        self.sink.write_trace(&trace).await?;
        outcome.spans = trace.spans.len();
        outcome.action = if found == TraceFound::Begun { Action::Resumed } else { Action::Created };
        Ok(())
    }

    /// Points the trace at its destination experiment and run, drops the tags the server
    /// manages, and records where it came from. Returns what could not be kept.
    fn remap(&self, trace: &mut TraceRecord, experiment: &str, deps: &Deps, ctx: &JobContext) -> Vec<String> {
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
        if let Some(model) = trace.metadata(MODEL_ID).map(str::to_string) {
            let copied = deps.iter().find_map(|d| match d {
                Outcome::LoggedModel(m) if m.source_model_id == model && m.action != Action::Failed => {
                    m.destination.clone()
                }
                _ => None,
            });
            match copied {
                Some(dst) => trace.info["trace_metadata"][MODEL_ID] = json!(dst),
                None => notes
                    .push(format!("its logged model {model} was not copied: {MODEL_ID} still names the source model")),
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
            tags.insert(identity::SOURCE_TRACKING_URI.into(), json!(identity::redact(uri)));
        }
        notes
    }
}

/// The id a trace is copied under when its own is taken at the destination: from the source
/// trace, its server and the destination experiment, so that every job finds the same copy.
fn renewed_id(of: &TraceCopyOf<'_>) -> String {
    let source = of.tracking_uri.map(identity::server_key).unwrap_or_default();
    let key = format!("{source}\n{}\n{}", of.trace_id, of.experiment.unwrap_or_default());
    let digest = Sha256::digest(key.as_bytes());
    format!("tr-{}", hex_of(&digest[..16]))
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Gives a trace the id `new`: the info, its assessments (which get ids of their own too: an
/// assessment id is unique in a server), every span's OTel trace id (the 16 bytes `new` is
/// the hex of) and the spans' `mlflow.traceRequestId` attribute.
fn renew(trace: &mut TraceRecord, old: &str, new: &str) -> Result<()> {
    let hex =
        new.strip_prefix("tr-").filter(|h| h.len() == 32).ok_or_else(|| Error::Input(format!("bad trace id {new}")))?;
    let bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Input(format!("bad trace id {new}: {e}")))?;
    let otel_id = base64::engine::general_purpose::STANDARD.encode(bytes);
    trace.info["trace_id"] = json!(new);
    for a in trace.info.get_mut("assessments").and_then(Value::as_array_mut).into_iter().flatten() {
        a["trace_id"] = json!(new);
        if let Some(id) = a.get("assessment_id").and_then(Value::as_str) {
            let digest = Sha256::digest(format!("{new}\n{id}").as_bytes());
            a["assessment_id"] = json!(format!("a-{}", hex_of(&digest[..16])));
        }
    }
    let quoted = |id: &str| Value::String(id.to_string()).to_string();
    for span in &mut trace.spans {
        span["trace_id"] = json!(otel_id);
        for attr in span.get_mut("attributes").and_then(Value::as_array_mut).into_iter().flatten() {
            if attr["key"] != "mlflow.traceRequestId" {
                continue;
            }
            // A plain string in OTel proto JSON; a JSON text in MLflow's own span files.
            if let Some(v) = attr.pointer_mut("/value/string_value") {
                if v == old {
                    *v = json!(new);
                } else if v.as_str() == Some(quoted(old).as_str()) {
                    *v = json!(quoted(new));
                }
            }
        }
    }
    Ok(())
}

/// The destination experiment the `Open` step this one depends on prepared.
fn destination_experiment(deps: &Deps) -> Result<&str> {
    deps.iter()
        .find_map(|d| match d {
            Outcome::ExperimentReady { experiment_id, .. } => Some(Ok(experiment_id.as_str())),
            Outcome::Failed { object, error, .. } => Some(Err(Error::Unsupported(format!("{object}: {error}")))),
            _ => None,
        })
        .unwrap_or_else(|| Err(Error::Input("no destination experiment was prepared for this trace".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_renewed_trace_carries_its_new_id_everywhere() {
        let of = TraceCopyOf {
            trace_id: "tr-e1d9a9cf6efdb9d679988d187db625a6",
            tracking_uri: Some("http://h:5000"),
            experiment: Some("7"),
        };
        let new = renewed_id(&of);
        assert_eq!(new, renewed_id(&of), "the same in every job");
        assert_ne!(new, renewed_id(&TraceCopyOf { experiment: Some("8"), ..of }), "one per destination experiment");
        let old = of.trace_id;
        let mut t = TraceRecord {
            info: json!({"trace_id": old, "assessments": [{"trace_id": old, "assessment_id": "a-1"}]}),
            spans: vec![
                json!({"trace_id": "4dmpz279udZ5mI0YfbYlpg==", "attributes": [{"key": "mlflow.traceRequestId", "value": {"string_value": old}}]}),
                json!({"trace_id": "4dmpz279udZ5mI0YfbYlpg==", "attributes": [{"key": "mlflow.traceRequestId", "value": {"string_value": format!("\"{old}\"")}}]}),
            ],
        };
        renew(&mut t, old, &new).unwrap();
        assert_eq!(t.info["trace_id"], new.as_str());
        assert_eq!(t.info["assessments"][0]["trace_id"], new.as_str());
        assert_ne!(t.info["assessments"][0]["assessment_id"], "a-1");
        let otel = base64::engine::general_purpose::STANDARD.decode(t.spans[0]["trace_id"].as_str().unwrap()).unwrap();
        assert_eq!(format!("tr-{}", hex_of(&otel)), new);
        assert_eq!(t.spans[0]["attributes"][0]["value"]["string_value"], new.as_str());
        assert_eq!(t.spans[1]["attributes"][0]["value"]["string_value"], format!("\"{new}\""));
    }
}
