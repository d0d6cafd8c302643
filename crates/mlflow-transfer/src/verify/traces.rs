//! Comparing the MLflow 3 traces of two experiments. A destination trace is matched to its
//! source by its source-identity tag (or its own id, in an export, which keeps ids). Each pair
//! is read and compared: the info (state, times, previews, client request id, request
//! metadata with its run and logged model followed through their matches, tags but ours and
//! those the server keeps for itself, the assessments) and every span (name, ids, times,
//! status, attributes, events). Trace and assessment ids are left out: a copy inside one
//! server gets new ones.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::Path,
    sync::Arc,
};

use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use crate::{
    format::{
        index_json::{read_index, TRACES_INDEX},
        trace_json::{read_trace_info, TRACES},
        ExportSystem,
    },
    identity,
    store::{
        traces::{DirTraces, ListedTrace, TraceRecord, TraceSource, MODEL_ID, SERVER_TAGS, SOURCE_RUN},
        tracking::TrackingSource,
    },
    Result,
};

/// One side's traces: each listed with the source trace it is a copy of, read when compared.
pub(super) struct Traces {
    source: Arc<dyn TraceSource>,
    listed: Vec<ListedTrace>,
}

impl Traces {
    /// The traces of a server's experiment; none at a server without traces (404).
    pub(super) async fn server(source: &dyn TrackingSource, experiment_id: &str) -> Result<Self> {
        let listed = source.list_traces(experiment_id, None).await?;
        Ok(Self { source: source.traces(), listed })
    }

    /// The traces of an experiment export folder (`traces/`).
    pub(super) fn export(dir: &Path) -> Result<Self> {
        let traces = DirTraces::of_experiment(dir, ExportSystem::default());
        let mut listed = Vec::new();
        for id in read_index(&TRACES_INDEX, &dir.join(TRACES))?.into_iter().flat_map(|e| e.items) {
            let info = read_trace_info(&traces.dir_of(&id)?)?;
            listed.push(ListedTrace::of_info(id, &info));
        }
        Ok(Self { source: Arc::new(traces), listed })
    }

    fn copy_of(t: &ListedTrace) -> &str {
        t.copy_of.as_deref().unwrap_or(&t.id)
    }
}

/// The links a trace's metadata may hold, followed through the runs' and logged models' one
/// copy each.
pub(super) struct Links<'a> {
    pub runs: &'a HashMap<&'a str, &'a str>,
    pub models: &'a HashMap<String, String>,
}

/// Every difference between the sides' traces, `concurrency` pairs read at once.
pub(super) async fn compare(src: &Traces, dst: &Traces, links: &Links<'_>, concurrency: usize) -> Result<Vec<String>> {
    let mut copies: HashMap<&str, Vec<&str>> = HashMap::new();
    for t in &dst.listed {
        copies.entry(Traces::copy_of(t)).or_default().push(&t.id);
    }
    let (copies, (src_store, dst_store)) = (&copies, (&src.source, &dst.source));
    let mut diffs: Vec<String> = stream::iter(&src.listed)
        .map(|t| async move {
            let at = format!("trace {}", t.id);
            match copies.get(t.id.as_str()).map(Vec::as_slice) {
                None | Some([]) => Ok::<_, crate::Error>(vec![format!("{at}: missing at the destination")]),
                Some([d]) => {
                    let (s, d) = futures::try_join!(src_store.read_trace(&t.id), dst_store.read_trace(d))?;
                    Ok(compare_trace(&s, &d, links, &format!("{at} -> {d}", d = d.trace_id())))
                }
                Some(many) => Ok(vec![format!("{at}: {} copies at the destination", many.len())]),
            }
        })
        .buffered(concurrency.max(1))
        .try_concat()
        .await?;
    let known: HashSet<&str> = src.listed.iter().map(|t| t.id.as_str()).collect();
    for t in &dst.listed {
        if !known.contains(Traces::copy_of(t)) {
            diffs.push(format!("trace {}: at the destination only", t.id));
        }
    }
    Ok(diffs)
}

fn compare_trace(s: &TraceRecord, d: &TraceRecord, links: &Links<'_>, at: &str) -> Vec<String> {
    let mut diffs = Vec::new();
    let want = comparable_info(&s.info, Some(links));
    let mut have = comparable_info(&d.info, None);
    // A link the comparison cannot follow (a run or model outside it) is left out on both sides.
    for key in [SOURCE_RUN, MODEL_ID] {
        if want["trace_metadata"].get(key).is_none() {
            if let Some(m) = have.get_mut("trace_metadata").and_then(Value::as_object_mut) {
                m.remove(key);
            }
        }
    }
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(have.keys()).collect();
    for key in keys {
        let (a, b) = (want.get(key).unwrap_or(&Value::Null), have.get(key).unwrap_or(&Value::Null));
        if a != b {
            diffs.push(format!("{at}: {key}: {a} != {b}"));
        }
    }
    let (a, b) = (comparable_spans(&s.spans), comparable_spans(&d.spans));
    if a.len() != b.len() {
        diffs.push(format!("{at}: {} spans != {}", a.len(), b.len()));
    } else if let Some((x, y)) = a.iter().zip(&b).find(|(x, y)| x != y) {
        diffs.push(format!("{at}: span {}: {x} != {y}", x["span_id"]));
    }
    diffs
}

/// The trace info as compared: without its ids and location, our tags and the server's own;
/// the source side (`links` given) with its run and logged model put through their matches
/// (removed where they have none in the comparison).
fn comparable_info(info: &Value, links: Option<&Links<'_>>) -> Map<String, Value> {
    let mut info = info.as_object().cloned().unwrap_or_default();
    info.remove("trace_id");
    info.remove("trace_location");
    if let Some(tags) = info.get_mut("tags").and_then(Value::as_object_mut) {
        tags.retain(|k, _| !SERVER_TAGS.contains(&k.as_str()) && !k.starts_with(identity::PREFIX));
    }
    if let (Some(links), Some(metadata)) = (links, info.get_mut("trace_metadata").and_then(Value::as_object_mut)) {
        let through = |key: &str, metadata: &mut Map<String, Value>, copy: &dyn Fn(&str) -> Option<String>| {
            if let Some(id) = metadata.get(key).and_then(Value::as_str).map(str::to_string) {
                match copy(&id) {
                    Some(c) => metadata.insert(key.to_string(), Value::String(c)),
                    None => metadata.remove(key),
                };
            }
        };
        through(SOURCE_RUN, metadata, &|r| links.runs.get(r).map(|c| c.to_string()));
        through(MODEL_ID, metadata, &|m| links.models.get(m).cloned());
    }
    if let Some(list) = info.get_mut("assessments").and_then(Value::as_array_mut) {
        for a in list.iter_mut().filter_map(Value::as_object_mut) {
            a.remove("assessment_id");
            a.remove("trace_id");
        }
        list.sort_by_key(Value::to_string);
    }
    info
}

/// The spans as compared, by span id: without the trace id each carries (in its own field and
/// the `mlflow.traceRequestId` attribute), attributes as a map.
fn comparable_spans(spans: &[Value]) -> Vec<Value> {
    let mut out: Vec<Value> = spans
        .iter()
        .map(|s| {
            let mut s = s.as_object().cloned().unwrap_or_default();
            s.remove("trace_id");
            let attributes: BTreeMap<String, Value> = s
                .remove("attributes")
                .and_then(|a| a.as_array().cloned())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|a| Some((a["key"].as_str()?.to_string(), a["value"].clone())))
                .filter(|(k, _)| k != "mlflow.traceRequestId")
                .collect();
            s.insert("attributes".into(), serde_json::to_value(attributes).unwrap_or_default());
            Value::Object(s)
        })
        .collect();
    out.sort_by_key(|s| s["span_id"].to_string());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn trace(id: &str, run: &str, tags: Value, attr: &str) -> TraceRecord {
        TraceRecord {
            info: json!({
                "trace_id": id, "state": "OK", "trace_location": {"mlflow_experiment": {"experiment_id": "1"}},
                "trace_metadata": {SOURCE_RUN: run}, "tags": tags,
                "assessments": [{"assessment_id": "a-1", "trace_id": id, "assessment_name": "relevance"}],
            }),
            spans: vec![json!({"trace_id": "AAAA", "span_id": "s1", "name": "root", "attributes": [
                {"key": "mlflow.traceRequestId", "value": {"string_value": id}},
                {"key": "x", "value": {"string_value": attr}},
            ]})],
        }
    }

    #[test]
    fn a_copy_with_new_ids_matches_and_a_changed_one_is_named() {
        let runs: HashMap<&str, &str> = [("r1", "r2")].into();
        let models = HashMap::new();
        let links = Links { runs: &runs, models: &models };
        let src = trace("tr-1", "r1", json!({"team": "a"}), "1");
        let copy = trace(
            "tr-2",
            "r2",
            json!({"team": "a", "mlflow.artifactLocation": "x", identity::SOURCE_TRACE_ID: "tr-1"}),
            "1",
        );
        assert_eq!(compare_trace(&src, &copy, &links, "t"), Vec::<String>::new());
        let other = trace("tr-2", "r3", json!({"team": "b"}), "2");
        let diffs = compare_trace(&src, &other, &links, "t");
        assert_eq!(diffs.len(), 3, "{diffs:?}");
        assert!(
            diffs[0].contains("tags") && diffs[1].contains("trace_metadata") && diffs[2].contains("span"),
            "{diffs:?}"
        );
    }
}
