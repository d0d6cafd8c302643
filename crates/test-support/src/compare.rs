//! Field-by-field comparison of two run dumps made by `scripts/dump_run.py`.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

/// Tags with this prefix are the tool's identity tags: ignored by the comparison (callers
/// check them separately).
pub const IDENTITY_TAG_PREFIX: &str = "mlflow_export_import.";

/// Tags whose presence must match but whose values (run ids) differ between servers.
const RUN_ID_TAGS: [&str; 2] = ["mlflow.parentRunId", "mlflow.rootRunId"];

const INFO_FIELDS: [&str; 6] = ["run_name", "status", "start_time", "end_time", "user_id", "lifecycle_stage"];

const DATASET_FIELDS: [&str; 7] = ["name", "digest", "source_type", "source", "schema", "profile", "tags"];

/// Panics, listing every difference (each naming its field), unless the two dumps describe
/// equal runs. See [`diff_runs`] for what "equal" means.
pub fn assert_runs_equal(src: &Value, dst: &Value) {
    let diffs = diff_runs(src, dst);
    if !diffs.is_empty() {
        let id = |d: &Value| d.pointer("/info/run_id").and_then(Value::as_str).unwrap_or("?").to_string();
        let shown: Vec<&String> = diffs.iter().take(100).collect();
        let more = if diffs.len() > 100 { format!("\n  ... and {} more", diffs.len() - 100) } else { String::new() };
        panic!(
            "runs differ (src {} vs dst {}): {} difference(s):\n  {}{more}",
            id(src),
            id(dst),
            diffs.len(),
            shown.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
        );
    }
}

/// Every difference between two run dumps, as messages naming the field. Equal means:
/// same info run_name, status, start_time, end_time, user_id, lifecycle_stage; same params;
/// same tags, except keys starting with [`IDENTITY_TAG_PREFIX`] and except the values (not the
/// presence) of `mlflow.parentRunId` / `mlflow.rootRunId`; the same metric keys, each with the
/// same points (value, step, timestamp) in the same order, floats compared bit-exactly (through
/// `value_hex` when both sides have it), NaN equal to NaN; the same dataset inputs; the same
/// artifact files (path, size, sha256).
pub fn diff_runs(src: &Value, dst: &Value) -> Vec<String> {
    let mut d = Vec::new();

    for f in INFO_FIELDS {
        let a = src.pointer(&format!("/info/{f}")).unwrap_or(&Value::Null);
        let b = dst.pointer(&format!("/info/{f}")).unwrap_or(&Value::Null);
        if a != b {
            d.push(format!("info.{f}: src {} != dst {}", show(a), show(b)));
        }
    }

    // params
    let (ps, pd) = (obj(src, "params"), obj(dst, "params"));
    for k in union(ps, pd) {
        match (ps.get(k), pd.get(k)) {
            (Some(a), None) => d.push(format!("param {k:?}: missing in dst (src {})", show(a))),
            (None, Some(b)) => d.push(format!("param {k:?}: extra in dst ({})", show(b))),
            (Some(a), Some(b)) if a != b => d.push(format!("param {k:?}: src {} != dst {}", show(a), show(b))),
            _ => {}
        }
    }

    // tags
    let keep = |k: &str| !k.starts_with(IDENTITY_TAG_PREFIX);
    let (ts, td) = (obj(src, "tags"), obj(dst, "tags"));
    for k in union(ts, td).into_iter().filter(|k| keep(k)) {
        match (ts.get(k), td.get(k)) {
            (Some(a), None) => d.push(format!("tag {k:?}: missing in dst (src {})", show(a))),
            (None, Some(b)) => d.push(format!("tag {k:?}: extra in dst ({})", show(b))),
            (Some(a), Some(b)) if a != b && !RUN_ID_TAGS.contains(&k.as_str()) => {
                d.push(format!("tag {k:?}: src {} != dst {}", show(a), show(b)))
            }
            _ => {}
        }
    }

    // metrics
    let (ms, md) = (obj(src, "metrics"), obj(dst, "metrics"));
    for k in union(ms, md) {
        match (ms.get(k), md.get(k)) {
            (Some(_), None) => d.push(format!("metric {k:?}: missing in dst")),
            (None, Some(_)) => d.push(format!("metric {k:?}: extra in dst")),
            (Some(a), Some(b)) => diff_metric(k, a, b, &mut d),
            _ => {}
        }
    }

    // dataset inputs
    let (ds, dd) = (arr(src, "dataset_inputs"), arr(dst, "dataset_inputs"));
    if ds.len() != dd.len() {
        d.push(format!(
            "dataset_inputs: src has {} != dst has {}: src {:?} dst {:?}",
            ds.len(),
            dd.len(),
            ds.iter().map(dataset_label).collect::<Vec<_>>(),
            dd.iter().map(dataset_label).collect::<Vec<_>>()
        ));
    }
    for (i, (a, b)) in ds.iter().zip(dd.iter()).enumerate() {
        for f in DATASET_FIELDS {
            let (x, y) = (a.get(f).unwrap_or(&Value::Null), b.get(f).unwrap_or(&Value::Null));
            if x != y {
                d.push(format!("dataset_inputs[{i}] ({}).{f}: src {} != dst {}", dataset_label(a), show(x), show(y)));
            }
        }
    }

    // artifacts
    let index = |v: &Value| -> BTreeMap<String, (Value, Value)> {
        arr(v, "artifacts")
            .iter()
            .map(|f| {
                (
                    f.get("path").and_then(Value::as_str).unwrap_or("?").to_string(),
                    (f.get("size").cloned().unwrap_or(Value::Null), f.get("sha256").cloned().unwrap_or(Value::Null)),
                )
            })
            .collect()
    };
    let (as_, ad) = (index(src), index(dst));
    let paths: BTreeSet<&String> = as_.keys().chain(ad.keys()).collect();
    for p in paths {
        match (as_.get(p), ad.get(p)) {
            (Some(_), None) => d.push(format!("artifact {p:?}: missing in dst")),
            (None, Some(_)) => d.push(format!("artifact {p:?}: extra in dst")),
            (Some((sa, ha)), Some((sb, hb))) => {
                if sa != sb {
                    d.push(format!("artifact {p:?}: size src {sa} != dst {sb}"));
                }
                if ha != hb {
                    d.push(format!("artifact {p:?}: sha256 src {ha} != dst {hb}"));
                }
            }
            _ => {}
        }
    }
    d
}

fn diff_metric(key: &str, a: &Value, b: &Value, d: &mut Vec<String>) {
    let empty = Vec::new();
    let pa = a.as_array().unwrap_or(&empty);
    let pb = b.as_array().unwrap_or(&empty);
    if pa.len() != pb.len() {
        d.push(format!("metric {key:?}: src has {} points != dst has {}", pa.len(), pb.len()));
    }
    let mut reported = 0;
    for (i, (x, y)) in pa.iter().zip(pb.iter()).enumerate() {
        let mut bad = Vec::new();
        if !same_value(x, y) {
            bad.push("value");
        }
        for f in ["step", "timestamp"] {
            if x.get(f) != y.get(f) {
                bad.push(f);
            }
        }
        if !bad.is_empty() {
            reported += 1;
            if reported > 10 {
                d.push(format!("metric {key:?}: more points differ after point {i}"));
                break;
            }
            d.push(format!(
                "metric {key:?} point {i}: {} differ: src {} != dst {}",
                bad.join(", "),
                point(x),
                point(y)
            ));
        }
    }
}

/// Bit-exact value comparison: through `value_hex` when both sides have it, else the JSON
/// values ("NaN", "Infinity", "-Infinity" strings compare as strings, so NaN == NaN).
fn same_value(x: &Value, y: &Value) -> bool {
    match (x.get("value_hex"), y.get("value_hex")) {
        (Some(a), Some(b)) => a == b,
        _ => x.get("value") == y.get("value") && x.get("value_hex") == y.get("value_hex"),
    }
}

fn point(p: &Value) -> String {
    let g = |f: &str| p.get(f).map(|v| v.to_string()).unwrap_or_else(|| "-".into());
    let hex = p.get("value_hex").map(|v| format!(" ({})", v.as_str().unwrap_or("?"))).unwrap_or_default();
    format!("{{value {}{hex}, step {}, timestamp {}}}", g("value"), g("step"), g("timestamp"))
}

fn dataset_label(v: &Value) -> String {
    format!(
        "{}@{}",
        v.get("name").and_then(Value::as_str).unwrap_or("?"),
        v.get("digest").and_then(Value::as_str).unwrap_or("?")
    )
}

fn obj<'a>(v: &'a Value, key: &str) -> &'a Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    v.get(key).and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn arr<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key).and_then(Value::as_array).map(|a| a.as_slice()).unwrap_or(&[])
}

fn union<'a>(a: &'a Map<String, Value>, b: &'a Map<String, Value>) -> BTreeSet<&'a String> {
    a.keys().chain(b.keys()).collect()
}

/// A value for a message: strings longer than 120 chars are cut, with their length.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) if s.chars().count() > 120 => {
            let head: String = s.chars().take(100).collect();
            format!("{head:?}... ({} chars)", s.chars().count())
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "info": {"run_id": "abc", "experiment_id": "1", "run_name": "r", "user_id": "u",
                     "status": "FINISHED", "start_time": 1000, "end_time": 2000,
                     "lifecycle_stage": "active", "artifact_uri": "mlflow-artifacts:/1/abc/artifacts"},
            "params": {"a": "1", "long": "x".repeat(6000)},
            "tags": {"t": "v", "mlflow.runName": "r", "mlflow.parentRunId": "p1"},
            "metrics": {
                "loss": [
                    {"value": 0.5, "value_hex": "0x1.0000000000000p-1", "step": 0, "timestamp": 10},
                    {"value": "NaN", "step": 1, "timestamp": 11},
                    {"value": "Infinity", "step": 1, "timestamp": 12}
                ]
            },
            "dataset_inputs": [{"name": "d", "digest": "123", "source_type": "code", "source": "{}",
                                "schema": "{}", "profile": "{}",
                                "tags": [{"key": "mlflow.data.context", "value": "training"}]}],
            "artifacts": [{"path": "a/b.txt", "size": 3, "sha256": "00ff"},
                          {"path": "empty", "size": 0, "sha256": "e3b0"}]
        })
    }

    fn assert_panics_with(src: &Value, dst: &Value, needle: &str) {
        let err = std::panic::catch_unwind(|| assert_runs_equal(src, dst))
            .expect_err("assert_runs_equal should have panicked");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains(needle), "message {msg:?} lacks {needle:?}");
    }

    #[test]
    fn equal_dumps_pass() {
        let a = sample();
        let mut b = sample();
        // Different run id, experiment, artifact URI, parent run id value, identity tags: equal.
        b["info"]["run_id"] = json!("other");
        b["info"]["experiment_id"] = json!("7");
        b["info"]["artifact_uri"] = json!("file:///x");
        b["tags"]["mlflow.parentRunId"] = json!("p2");
        b["tags"]["mlflow_export_import.source.run_id"] = json!("abc");
        assert_runs_equal(&a, &b);
        assert!(diff_runs(&a, &b).is_empty());
    }

    #[test]
    fn changed_metric_point_fails() {
        let a = sample();
        let mut b = sample();
        b["metrics"]["loss"][0]["value_hex"] = json!("0x1.0000000000001p-1");
        assert_panics_with(&a, &b, "metric \"loss\" point 0: value differ");
        let mut b = sample();
        b["metrics"]["loss"][2]["timestamp"] = json!(13);
        assert_panics_with(&a, &b, "metric \"loss\" point 2: timestamp differ");
        let mut b = sample();
        b["metrics"]["loss"][1]["value"] = json!(0.0);
        assert_panics_with(&a, &b, "metric \"loss\" point 1: value differ");
        let mut b = sample();
        b["metrics"]["loss"].as_array_mut().unwrap().pop();
        assert_panics_with(&a, &b, "metric \"loss\": src has 3 points != dst has 2");
    }

    #[test]
    fn missing_artifact_fails() {
        let a = sample();
        let mut b = sample();
        b["artifacts"].as_array_mut().unwrap().remove(1);
        assert_panics_with(&a, &b, "artifact \"empty\": missing in dst");
        let mut b = sample();
        b["artifacts"][0]["sha256"] = json!("0000");
        assert_panics_with(&a, &b, "artifact \"a/b.txt\": sha256");
    }

    #[test]
    fn changed_start_time_fails() {
        let a = sample();
        let mut b = sample();
        b["info"]["start_time"] = json!(1001);
        assert_panics_with(&a, &b, "info.start_time: src 1000 != dst 1001");
    }

    #[test]
    fn params_tags_datasets_fail() {
        let a = sample();
        let mut b = sample();
        b["params"]["long"] = json!("y");
        assert_panics_with(&a, &b, "param \"long\"");
        let mut b = sample();
        b["tags"].as_object_mut().unwrap().remove("mlflow.parentRunId");
        assert_panics_with(&a, &b, "tag \"mlflow.parentRunId\": missing in dst");
        let mut b = sample();
        b["tags"]["t"] = json!("w");
        assert_panics_with(&a, &b, "tag \"t\": src \"v\" != dst \"w\"");
        let mut b = sample();
        b["dataset_inputs"][0]["profile"] = json!("{\"n\": 1}");
        assert_panics_with(&a, &b, "dataset_inputs[0] (d@123).profile");
        let mut b = sample();
        b["metrics"]["extra"] = json!([]);
        assert_panics_with(&a, &b, "metric \"extra\": extra in dst");
    }
}
