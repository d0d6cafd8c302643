//! MLflow 3 traces move with their experiment: seeded with the official client (nested spans
//! with attributes and events, an ERROR span and an ERROR trace, a trace of a run, tags,
//! metadata, a feedback and an expectation), copied server to server and exported and
//! imported, read back with the official client and compared field by field; a second copy
//! creates nothing, and an interrupted one is finished.

use std::{collections::HashMap, path::Path};

use serde_json::Value;
use test_support::{python_eval, run_python_script, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{list_runs, ok, path},
    experiments::one_job_at_a_time,
};

/// Tags the destination server sets by itself (where it keeps the trace's files).
const SERVER_TAGS: [&str; 1] = ["mlflow.artifactLocation"];
const OURS: &str = "mlflow_export_import.";

fn dump_traces(url: &str, experiment: &str) -> serde_json::Map<String, Value> {
    match run_python_script("dump_traces.py", &["--tracking-uri", url, "--experiment", experiment]) {
        Value::Object(m) => m,
        other => panic!("unexpected dump {other}"),
    }
}

/// Source id → destination id of every run and logged model copied into `experiment`, by the
/// identity tags of the copies.
fn copy_map(url: &str, experiment: &str) -> HashMap<String, String> {
    let mut ids: HashMap<String, String> = list_runs(url, experiment)
        .iter()
        .map(|r| {
            let src = r["tags"]["mlflow_export_import.source.run_id"].as_str().expect("a copied run").to_string();
            (src, r["run_id"].as_str().unwrap().to_string())
        })
        .collect();
    let models = python_eval(&format!(
        "import json, mlflow\nc = mlflow.MlflowClient({url:?})\ne = c.get_experiment_by_name({experiment:?})\n\
         print(json.dumps({{m.tags['{SOURCE_MODEL_ID}']: m.model_id for m in c.search_logged_models(experiment_ids=[e.experiment_id])}}))"
    ));
    let models: HashMap<String, String> = serde_json::from_str(models.trim().lines().last().unwrap()).unwrap();
    ids.extend(models);
    ids
}

const SOURCE_MODEL_ID: &str = "mlflow_export_import.source.model_id";

/// A trace as the destination must hold it: the source's with its run and logged model
/// remapped (source id → copy id in `ids`), less the tags each server sets for itself.
fn expected(src: &Value, ids: &HashMap<String, String>) -> Value {
    let mut t = src.clone();
    let metadata = &mut t["info"]["trace_metadata"];
    for key in ["mlflow.sourceRun", "mlflow.modelId"] {
        if let Some(id) = metadata[key].as_str() {
            metadata[key] = Value::String(ids.get(id).unwrap_or_else(|| panic!("no copy of {key} {id}")).clone());
        }
    }
    drop_tags(&mut t, false);
    t
}

fn drop_tags(trace: &mut Value, ours: bool) {
    let tags = trace["info"]["tags"].as_object_mut().unwrap();
    tags.retain(|k, _| !SERVER_TAGS.contains(&k.as_str()) && (!ours || !k.starts_with(OURS)));
}

/// Every source trace is at the destination under its id, equal field by field, and carries
/// our identity; nothing else is there.
fn assert_traces_copied(
    src: &serde_json::Map<String, Value>,
    dst: &serde_json::Map<String, Value>,
    runs: &HashMap<String, String>,
    src_url: &str,
) {
    assert_eq!(src.keys().collect::<Vec<_>>(), dst.keys().collect::<Vec<_>>(), "trace ids are kept");
    for (id, s) in src {
        let mut d = dst[id].clone();
        let tags = &d["info"]["tags"];
        assert_eq!(tags["mlflow_export_import.source.trace_id"], id.as_str());
        assert_eq!(tags["mlflow_export_import.source.tracking_uri"], src_url);
        assert_eq!(tags["mlflow_export_import.complete"], "true");
        drop_tags(&mut d, true);
        let want = expected(s, runs);
        assert_eq!(d["info"], want["info"], "trace {id} info");
        assert_eq!(d["spans"], want["spans"], "trace {id} spans");
    }
}

#[test]
fn traces_move_with_their_experiment() {
    let _one = one_job_at_a_time();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = unique_name("traces");
    let seeded = run_python_script("seed_traces.py", &["--tracking-uri", &src.url, "--experiment", &name]);
    let source = dump_traces(&src.url, &name);
    assert_eq!(source.len(), 3, "seeded traces");
    // The seed covers what must survive: nested spans, events, an ERROR span, a run link,
    // tags, two kinds of assessment.
    let agent = &source[seeded["trace_ids"][0].as_str().unwrap()];
    assert_eq!(agent["spans"].as_array().unwrap().len(), 3);
    assert!(agent["spans"].as_array().unwrap().iter().any(|s| s["status"]["code"] == "SpanStatusCode.ERROR"));
    assert!(agent["spans"].as_array().unwrap().iter().any(|s| !s["events"].as_array().unwrap().is_empty()));
    assert_eq!(agent["info"]["trace_metadata"]["mlflow.sourceRun"], seeded["run_id"]);
    assert_eq!(agent["info"]["tags"]["team"], "search");
    assert_eq!(agent["info"]["assessments"].as_array().unwrap().len(), 2);
    let plain = &source[seeded["trace_ids"][1].as_str().unwrap()];
    assert_eq!(plain["info"]["trace_metadata"]["mlflow.modelId"], seeded["model_id"]);

    // Server to server, twice: the second run creates nothing and changes nothing.
    let copied = unique_name("traces-copy");
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{copied}.json"));
    let copy = [
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        &name,
        "--dst-experiment-name",
        &copied,
        "--report",
        path(&report),
    ];
    ok(&copy);
    let first = dump_traces(&dst.url, &copied);
    assert_traces_copied(&source, &first, &copy_map(&dst.url, &copied), &src.url);
    let actions = |report: &Path| -> Vec<String> {
        let r: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
        r["traces"].as_array().unwrap().iter().map(|t| t["action"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(actions(&report), ["created"; 3]);
    ok(&copy);
    assert_eq!(actions(&report), ["skipped"; 3]);
    assert_eq!(dump_traces(&dst.url, &copied), first, "a second copy changes nothing");
    // A copy interrupted before its completion tag is finished in place by the next job.
    let agent_id = seeded["trace_ids"][0].as_str().unwrap();
    python_eval(&format!(
        "import mlflow; mlflow.MlflowClient({:?}).delete_trace_tag({agent_id:?}, 'mlflow_export_import.complete')",
        dst.url
    ));
    ok(&copy);
    let mut resumed = actions(&report);
    resumed.sort();
    assert_eq!(resumed, ["resumed", "skipped", "skipped"]);
    assert_eq!(dump_traces(&dst.url, &copied), first, "the resumed copy is the same");
    // `verify` compares the traces too: equal, until a trace tag changes at the destination.
    let verify = [
        "verify",
        "--src-uri",
        &src.url,
        "--src-experiment",
        &name,
        "--dst-uri",
        &dst.url,
        "--dst-experiment",
        &copied,
    ];
    assert_eq!(ok(&verify), "");
    python_eval(&format!(
        "import mlflow; mlflow.MlflowClient({:?}).set_trace_tag({agent_id:?}, 'team', 'other')",
        dst.url
    ));
    let changed = crate::cli::run(&verify, &[]);
    let stdout = String::from_utf8_lossy(&changed.stdout);
    assert!(!changed.status.success(), "{stdout}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stdout.contains(&format!("trace {agent_id} -> {agent_id}: tags")) && stdout.contains("other"), "{stdout}");

    // Export, in the Python tool's layout, and import into another server.
    let export = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&name);
    ok(&["export-experiment", "--tracking-uri", &src.url, "--experiment", &name, "--output-dir", path(&export)]);
    assert_eq!(ok(&["verify", "--src-uri", &src.url, "--src-experiment", &name, "--dst-dir", path(&export)]), "");
    let index: Value = serde_json::from_slice(&std::fs::read(export.join("traces/traces.json")).unwrap()).unwrap();
    let mut listed: Vec<&str> =
        index["mlflow"]["experiments"][0]["traces"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    listed.sort_unstable();
    assert_eq!(listed, source.keys().map(String::as_str).collect::<Vec<_>>());
    for id in source.keys() {
        assert!(export.join("traces").join(id).join("trace.json").is_file());
        assert!(export.join("traces").join(id).join("artifacts/traces.json").is_file());
    }
    let other = MlflowServer::start(ArtifactMode::Proxy);
    let imported = unique_name("traces-import");
    let import = [
        "import-experiment",
        "--tracking-uri",
        &other.url,
        "--experiment-name",
        &imported,
        "--input-dir",
        path(&export),
    ];
    ok(&import);
    let back = dump_traces(&other.url, &imported);
    assert_traces_copied(&source, &back, &copy_map(&other.url, &imported), &src.url);
    ok(&import);
    assert_eq!(dump_traces(&other.url, &imported), back, "a second import changes nothing");
}

/// The standalone trace commands: `export-traces` and `import-traces` into a server that has
/// none of the traces; `copy-traces` of a time window and `export-trace` / `import-trace` of
/// the one trace before it, which together copy each trace once. Traces whose run is not
/// copied keep their source run id.
#[test]
fn trace_commands_move_traces_alone() {
    let _one = one_job_at_a_time();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let name = unique_name("trace-cmds");
    let seeded = run_python_script("seed_traces.py", &["--tracking-uri", &src.url, "--experiment", &name]);
    let source = dump_traces(&src.url, &name);
    // Neither the run nor the logged model is copied: the traces keep naming the source's.
    let run = seeded["run_id"].as_str().unwrap().to_string();
    let model = seeded["model_id"].as_str().unwrap().to_string();
    let runs: HashMap<String, String> = [(run.clone(), run), (model.clone(), model)].into();
    let work = tempfile::tempdir().unwrap();

    let export = work.path().join("traces");
    let experiment_id = seeded["experiment_id"].as_str().unwrap();
    ok(&[
        "export-traces",
        "--tracking-uri",
        &src.url,
        "--experiment-ids",
        experiment_id,
        "--output-dir",
        path(&export),
    ]);
    let index: Value = serde_json::from_slice(&std::fs::read(export.join("traces.json")).unwrap()).unwrap();
    assert_eq!(index["mlflow"]["experiments"][0]["name"], name.as_str());
    assert_eq!(index["info"]["num_ok_traces"], 3);
    let one = MlflowServer::start(ArtifactMode::Proxy);
    ok(&["import-traces", "--tracking-uri", &one.url, "--input-dir", path(&export)]);
    assert_traces_copied(&source, &dump_traces(&one.url, &name), &runs, &src.url);

    // By time: the traces from the second one on, then the first alone.
    let mut by_time: Vec<(i64, &String)> =
        source.iter().map(|(id, t)| (t["info"]["request_time"].as_i64().unwrap(), id)).collect();
    by_time.sort();
    let two = MlflowServer::start(ArtifactMode::Proxy);
    let from = by_time[1].0.to_string();
    let copy = ["copy-traces", "--src-uri", &src.url, "--dst-uri", &two.url, "--experiment", &name];
    ok(&[&copy[..], &["--trace-start-time", &from]].concat());
    let later = dump_traces(&two.url, &name);
    assert_eq!(later.keys().collect::<Vec<_>>().len(), 2);
    assert!(!later.contains_key(by_time[0].1.as_str()), "the first trace is before the window");
    let single = work.path().join("single");
    ok(&["export-trace", "--tracking-uri", &src.url, "--request-id", by_time[0].1, "--output-dir", path(&single)]);
    assert!(single.join("trace.json").is_file() && single.join("artifacts/traces.json").is_file());
    ok(&["import-trace", "--tracking-uri", &two.url, "--input-dir", path(&single), "--experiment-name", &name]);
    assert_traces_copied(&source, &dump_traces(&two.url, &name), &runs, &src.url);
}

/// A copy inside one server: the source traces hold their ids, so the copies get ids of their
/// own, carried by every span (`trace_id`, `mlflow.traceRequestId`) and assessment; the rest
/// is equal, and a second copy finds them again and creates nothing.
#[test]
fn traces_copied_inside_one_server_get_ids_of_their_own() {
    let _one = one_job_at_a_time();
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let name = unique_name("trace-same");
    run_python_script("seed_traces.py", &["--tracking-uri", &server.url, "--experiment", &name]);
    let source = dump_traces(&server.url, &name);
    let copied = unique_name("trace-same-copy");
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{copied}.json"));
    let copy = [
        "copy-experiment",
        "--src-uri",
        &server.url,
        "--dst-uri",
        &server.url,
        "--src-experiment",
        &name,
        "--dst-experiment-name",
        &copied,
        "--report",
        path(&report),
    ];
    ok(&copy);
    let first = dump_traces(&server.url, &copied);
    let runs = copy_map(&server.url, &copied);
    assert_eq!(first.len(), source.len());
    for copy in first.values() {
        let src_id = copy["info"]["tags"]["mlflow_export_import.source.trace_id"].as_str().unwrap();
        let new_id = copy["info"]["trace_id"].as_str().unwrap();
        assert_ne!(src_id, new_id);
        // The source with the new id wherever the id appears is the copy.
        let mut renamed = source[src_id].clone();
        let mut got = copy.clone();
        // Assessment ids are unique in a server: the copies' are new.
        for (a, b) in assessments(&mut renamed).iter_mut().zip(assessments(&mut got)) {
            assert_ne!(a["assessment_id"], b["assessment_id"]);
            a["assessment_id"] = b["assessment_id"].clone();
        }
        let renamed = serde_json::to_string(&renamed).unwrap().replace(src_id, new_id);
        let want = expected(&serde_json::from_str(&renamed).unwrap(), &runs);
        drop_tags(&mut got, true);
        assert_eq!(got, want, "copy {new_id} of {src_id}");
    }
    assert_eq!(dump_traces(&server.url, &name), source, "the source is untouched");
    let verify = [
        "verify",
        "--src-uri",
        &server.url,
        "--src-experiment",
        &name,
        "--dst-uri",
        &server.url,
        "--dst-experiment",
        &copied,
    ];
    assert_eq!(ok(&verify), "", "copies with ids of their own compare equal");
    ok(&copy);
    let r: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert!(r["traces"].as_array().unwrap().iter().all(|t| t["action"] == "skipped"), "{}", r["traces"]);
    assert_eq!(dump_traces(&server.url, &copied), first);
}

fn assessments(trace: &mut Value) -> &mut Vec<Value> {
    trace["info"]["assessments"].as_array_mut().unwrap()
}
