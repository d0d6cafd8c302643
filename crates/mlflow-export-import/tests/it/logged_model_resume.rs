//! A model version whose files are an MLflow 3 logged model (`models:/m-…`, one 64 MiB file),
//! moved by a job that is SIGKILLed after the destination's copy of the logged model was
//! created and before it was finalized, then run again: the second run must finish that copy
//! instead of making another (one logged model copied from the source, READY, its files
//! byte-equal, the version registered from it), and a third run must create nothing.
//!
//! The kill is made deterministic by a proxy in front of the destination that holds one
//! answer while the test looks: `copy-model` is killed while the answer to the big file's
//! upload is held (the file is stored, the model is not finalized), `import-model` while the
//! answer to the logged model's creation is held (the model exists, the tool never learned its
//! id, no file is stored).

use std::{
    os::unix::process::ExitStatusExt,
    path::Path,
    process::{Child, Command, Stdio},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, OnceLock,
    },
    time::{Duration, Instant},
};

use serde_json::{json, Value};
use test_support::{unique_name, ArtifactMode, FaultPlan, FaultProxy, MlflowServer};

use crate::cli::{ok, path};

const SOURCE_MODEL_ID: &str = "mlflow_export_import.source.model_id";
const BIG_FILE: &str = "big.bin";
const BIG_MIB: u64 = 64;

/// A destination of these tests only, proxied like the source (the tool uploads through the
/// server, where the proxy can hold the upload's answer).
fn destination() -> &'static MlflowServer {
    static DST: OnceLock<MlflowServer> = OnceLock::new();
    DST.get_or_init(|| MlflowServer::start(ArtifactMode::Proxy))
}

/// At the source: a run, a READY logged model made from it with a 64 MiB file of random bytes
/// (and a small `MLmodel`), params, tags and a type, and registered model `model` whose only
/// version is registered from that logged model.
struct Source {
    model: String,
    model_id: String,
    run_id: String,
}

fn seed(src: &MlflowServer) -> Source {
    let (experiment, model) = (unique_name("lm-src"), unique_name("lm-model"));
    let code = format!(
        r#"
import json, os, tempfile, mlflow
c = mlflow.MlflowClient()
exp = c.create_experiment({experiment:?})
run = c.create_run(exp, run_name="trains-a-big-model").info.run_id
lm = c.create_logged_model(exp, name="big", source_run_id=run, params={{"layers": "12"}},
                           tags={{"team": "resume"}}, model_type="blob")
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, {BIG_FILE:?}), "wb") as f:
        for _ in range({BIG_MIB}):
            f.write(os.urandom(1 << 20))
    with open(os.path.join(d, "MLmodel"), "w") as f:
        f.write("artifact_path: big\n")
    c.log_model_artifacts(lm.model_id, d)
c.finalize_logged_model(lm.model_id, "READY")
c.set_terminated(run)
c.create_registered_model({model:?})
v = c.create_model_version({model:?}, f"models:/{{lm.model_id}}", run_id=run, model_id=lm.model_id)
assert v.version == "1", v
print(json.dumps({{"model_id": lm.model_id, "run_id": run}}))
"#
    );
    let out = src.python_eval(&code);
    let ids: Value = serde_json::from_str(out.lines().last().expect("ids printed")).unwrap();
    Source {
        model,
        model_id: ids["model_id"].as_str().unwrap().to_string(),
        run_id: ids["run_id"].as_str().unwrap().to_string(),
    }
}

/// Every logged model of `server` copied from `source_id` (by its identity tag), the ids of
/// all logged models in `experiment`, and the versions of registered model `model`. With
/// `files`, the files of each copy are listed with size and sha256.
fn logged_models(server: &MlflowServer, source_id: &str, experiment: &str, model: &str, files: bool) -> Value {
    let args = json!({"source_id": source_id, "experiment": experiment, "model": model, "files": files});
    let code = format!(
        r#"
import hashlib, json, os, tempfile, mlflow
from mlflow.entities import ViewType
a = json.loads({args:?})
c = mlflow.MlflowClient()
ids = [e.experiment_id for e in c.search_experiments(view_type=ViewType.ALL, max_results=1000)]
models, token = [], None
while True:
    page = c.search_logged_models(experiment_ids=ids, max_results=100, page_token=token)
    models.extend(page)
    token = page.token
    if not token:
        break
def files(m):
    out = []
    if not mlflow.artifacts.list_artifacts(artifact_uri=m.artifact_location):
        return out  # nothing uploaded yet (a copy left by the killed job)
    with tempfile.TemporaryDirectory() as d:
        local = mlflow.artifacts.download_artifacts(artifact_uri=m.artifact_location, dst_path=d)
        for dirpath, _, names in os.walk(local):
            for n in names:
                full = os.path.join(dirpath, n)
                with open(full, "rb") as f:
                    data = f.read()
                out.append({{"path": os.path.relpath(full, local), "size": len(data),
                             "sha256": hashlib.sha256(data).hexdigest()}})
    return sorted(out, key=lambda f: f["path"])
def describe(m):
    return {{"model_id": m.model_id, "name": m.name, "status": str(m.status), "experiment_id": m.experiment_id,
             "source_run_id": m.source_run_id, "model_type": m.model_type, "params": dict(m.params),
             "tags": {{k: v for k, v in m.tags.items() if not k.startswith("mlflow.")}},
             "model_versions": [{{"name": x["name"], "version": str(x["version"])}}
                                for x in json.loads(m.tags.get("mlflow.modelVersions", "[]"))],
             "files": files(m) if a["files"] else None}}
exp = c.get_experiment_by_name(a["experiment"])
versions = c.search_model_versions(f"name='{{a['model']}}'")
print(json.dumps({{
    "copies": sorted((describe(m) for m in models if m.tags.get({SOURCE_MODEL_ID:?}) == a["source_id"]),
                     key=lambda m: m["model_id"]),
    "in_experiment": sorted(m.model_id for m in models if exp is not None and m.experiment_id == exp.experiment_id),
    "experiment_id": exp.experiment_id if exp is not None else None,
    "versions": sorted(({{"version": v.version, "model_id": v.model_id, "source": v.source, "status": v.status,
                        "run_id": v.run_id}} for v in versions), key=lambda v: int(v["version"])),
}}, sort_keys=True))
"#,
        args = args.to_string()
    );
    serde_json::from_str(server.python_eval(&code).lines().last().expect("JSON printed")).unwrap()
}

/// The source run's id, as the identity tag of its copy `run_id` at `server` says.
fn source_run_of(server: &MlflowServer, run_id: &str) -> String {
    let code = format!(
        "import mlflow\nprint(mlflow.MlflowClient().get_run({run_id:?}).data.tags.get('mlflow_export_import.source.run_id'))"
    );
    server.python_eval(&code).trim().to_string()
}

/// Holds the answer to the first request whose path `matches` (after the server handled it)
/// until released, so the job is stopped at a known point.
struct Gate {
    armed: AtomicBool,
    held: AtomicBool,
}

impl Gate {
    fn proxy(upstream: &str, matches: fn(&str) -> bool) -> (Arc<Gate>, FaultProxy) {
        let gate = Arc::new(Gate { armed: AtomicBool::new(true), held: AtomicBool::new(false) });
        let g = gate.clone();
        let plan = FaultPlan::rewriting(move |path, _| {
            if g.armed.load(Ordering::SeqCst) && matches(path) {
                g.held.store(true, Ordering::SeqCst);
                let deadline = Instant::now() + Duration::from_secs(600);
                while g.armed.load(Ordering::SeqCst) && Instant::now() < deadline {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            None
        });
        (gate, FaultProxy::start(upstream, plan))
    }

    fn release(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }
}

/// The upload of the big file into a logged model's artifacts (`mlflow-artifacts` proxy route).
fn big_file_upload(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or_default();
    path.contains("/mlflow-artifacts/artifacts/") && path.contains("/models/m-") && path.ends_with(BIG_FILE)
}

/// `logged-models/create`.
fn logged_model_creation(path: &str) -> bool {
    path.split('?').next() == Some("/api/2.0/mlflow/logged-models")
}

/// A started job held by a gate; dropped (also when a check fails), it is killed and the gate
/// released.
struct HeldJob<'a> {
    child: Child,
    gate: &'a Gate,
}

impl Drop for HeldJob<'_> {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.gate.release();
    }
}

fn spawn(args: &[&str], stderr: &Path) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mlflow-export-import"));
    for side in ["", "SRC_", "DST_"] {
        for var in
            ["MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN"]
        {
            cmd.env_remove(format!("{side}{var}"));
        }
    }
    cmd.args(args)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(stderr).unwrap())
        .spawn()
        .expect("the binary starts")
}

/// The job `args` (writing to `dst` through the proxy of `gate`) is started, held by `gate`,
/// SIGKILLed once `dst` shows a PENDING copy of the source's logged model, then run again
/// (second run) and a third time. Checks the state after the kill, after the second run and
/// after the third.
#[allow(clippy::too_many_arguments)]
fn kill_then_resume(
    src: &MlflowServer,
    source: &Source,
    dst: &MlflowServer,
    gate: &Gate,
    args: &[&str],
    dst_experiment: &str,
    dst_model: &str,
    work: &Path,
) {
    let read = |files| logged_models(dst, &source.model_id, dst_experiment, dst_model, files);

    // 1. Started, held at the gate, killed while the destination's copy is PENDING.
    let stderr = work.join("killed.stderr");
    let mut job = HeldJob { child: spawn(args, &stderr), gate };
    let deadline = Instant::now() + Duration::from_secs(300);
    while !gate.held.load(Ordering::SeqCst) {
        if let Some(status) = job.child.try_wait().unwrap() {
            panic!(
                "{args:?} ended ({status}) before the gate held it:\n{}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "{args:?}: the gate held nothing within 300 s");
        std::thread::sleep(Duration::from_millis(20));
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    let pending = loop {
        let state = read(false);
        if let Some(m) = state["copies"].as_array().unwrap().iter().find(|m| m["status"] == "PENDING") {
            break m["model_id"].as_str().unwrap().to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no PENDING copy of {} appeared at the destination: {state}",
            source.model_id
        );
    };
    job.child.kill().unwrap();
    let status = job.child.wait().unwrap();
    drop(job);
    assert_eq!(status.signal(), Some(9), "{args:?} was not killed by SIGKILL but ended: {status}");
    let after_kill = read(false);
    eprintln!("state after the kill: {after_kill}");
    let copies = after_kill["copies"].as_array().unwrap();
    assert_eq!(copies.len(), 1, "after the kill: one copy of the logged model, created: {after_kill}");
    assert_eq!(copies[0]["model_id"], pending.as_str());
    assert_eq!(copies[0]["status"], "PENDING", "the kill came after finalizing: {after_kill}");
    assert_eq!(after_kill["versions"], json!([]), "the kill came after the version was registered: {after_kill}");

    // 2. Run again: finishes the job with the one copy.
    let report2 = work.join("second.json");
    ok(&[args, &["--report", path(&report2)]].concat());
    let report: Value = serde_json::from_slice(&std::fs::read(&report2).unwrap()).unwrap();
    let m = &report["models"][0];
    assert_eq!((&m["versions_created"], &m["failed_versions"]), (&json!(1), &json!({})), "second run: {m}");
    let done = read(true);
    let copies = done["copies"].as_array().unwrap();
    assert_eq!(
        copies.len(),
        1,
        "after the re-run the destination must hold exactly one copy of logged model {} (the killed run \
         left {pending} PENDING), found: {}",
        source.model_id,
        serde_json::to_string_pretty(copies).unwrap()
    );
    let copy = &copies[0];
    let copy_id = copy["model_id"].as_str().unwrap();
    assert_eq!(copy["status"], "READY", "{copy}");
    assert_eq!(done["in_experiment"], json!([copy_id]), "logged models in {dst_experiment}: {done}");
    assert_eq!(copy["experiment_id"], done["experiment_id"], "{copy}");

    let src_state = source_model(src, &source.model_id);
    for field in ["name", "model_type", "params"] {
        assert_eq!(copy[field], src_state[field], "{field} of the copy");
    }
    let mut want_tags = src_state["tags"].clone();
    want_tags[SOURCE_MODEL_ID] = json!(source.model_id);
    want_tags["mlflow_export_import.complete"] = json!("true");
    assert_eq!(copy["tags"], want_tags, "tags of the copy");
    assert_eq!(copy["files"], src_state["files"], "files of the copy");
    let files = copy["files"].as_array().unwrap();
    assert!(
        files.iter().any(|f| f["path"] == BIG_FILE && f["size"] == BIG_MIB << 20),
        "the big file is not in the copy: {files:?}"
    );

    let versions = done["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 1, "{done}");
    let v = &versions[0];
    assert_eq!(v["source"], format!("models:/{copy_id}"), "the version's source");
    // MLflow 3.17's registry does not keep a version's `model_id` (it reads back empty); the
    // server records it on the logged model instead, when the version is created with one.
    assert!(v["model_id"].is_null() || v["model_id"] == copy_id, "the version's model_id: {v}");
    assert_eq!(
        copy["model_versions"],
        json!([{"name": dst_model, "version": "1"}]),
        "the copy's `mlflow.modelVersions`: the version was not registered with model_id {copy_id}"
    );
    assert_eq!(v["status"], "READY");
    let run = v["run_id"].as_str().expect("the version has a run");
    assert_eq!(copy["source_run_id"], run, "the copy was logged from the version's run");
    assert_eq!(source_run_of(dst, run), source.run_id, "the version's run is the copy of the source's");

    // 3. Once more: nothing to do.
    let report3 = work.join("third.json");
    ok(&[args, &["--report", path(&report3)]].concat());
    let report: Value = serde_json::from_slice(&std::fs::read(&report3).unwrap()).unwrap();
    let m = &report["models"][0];
    assert_eq!(m["versions_created"], 0, "third run: {m}");
    assert_eq!(m["versions_skipped"], 1, "third run: {m}");
    assert_eq!(m["failed_versions"], json!({}), "third run: {m}");
    assert_eq!(report["summary"]["runs_created"], 0, "third run: {}", report["summary"]);
    let again = read(false);
    assert_eq!(again["copies"].as_array().unwrap().len(), 1, "third run made another copy: {again}");
    assert_eq!(again["copies"][0]["model_id"], copy_id, "{again}");
    assert_eq!(again["in_experiment"], done["in_experiment"], "third run: logged models in {dst_experiment}");
    assert_eq!(again["versions"], done["versions"], "third run: versions");
}

/// The source's logged model as [`logged_models`] describes a copy, files included.
fn source_model(src: &MlflowServer, model_id: &str) -> Value {
    let code = format!(
        r#"
import hashlib, json, os, tempfile, mlflow
m = mlflow.MlflowClient().get_logged_model({model_id:?})
out = []
with tempfile.TemporaryDirectory() as d:
    local = mlflow.artifacts.download_artifacts(artifact_uri=m.artifact_location, dst_path=d)
    for dirpath, _, names in os.walk(local):
        for n in names:
            full = os.path.join(dirpath, n)
            with open(full, "rb") as f:
                data = f.read()
            out.append({{"path": os.path.relpath(full, local), "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}})
print(json.dumps({{"name": m.name, "model_type": m.model_type, "params": dict(m.params),
                  "tags": {{k: v for k, v in m.tags.items() if not k.startswith("mlflow.")}},
                  "files": sorted(out, key=lambda f: f["path"])}}))
"#
    );
    serde_json::from_str(src.python_eval(&code).lines().last().expect("JSON printed")).unwrap()
}

#[test]
fn copy_model_killed_before_its_logged_model_is_finalized_resumes_into_one_copy() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), destination());
    let source = seed(src);
    let work = tempfile::tempdir().unwrap();
    let (gate, proxy) = Gate::proxy(&dst.url, big_file_upload);
    let (dst_experiment, dst_model) = (unique_name("lm-copy-exp"), unique_name("lm-copy"));
    let args = [
        "copy-model",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &proxy.url,
        "--src-model",
        &source.model,
        "--dst-model",
        &dst_model,
        "--dst-experiment-name",
        &dst_experiment,
    ];
    kill_then_resume(src, &source, dst, &gate, &args, &dst_experiment, &dst_model, work.path());
}

#[test]
fn import_model_killed_before_its_logged_model_is_finalized_resumes_into_one_copy() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), destination());
    let source = seed(src);
    let work = tempfile::tempdir().unwrap();
    let export = work.path().join("export");
    ok(&["export-model", "--tracking-uri", &src.url, "--model", &source.model, "--output-dir", path(&export)]);
    let exported = export.join("logged_models").join(&source.model_id).join("artifacts").join(BIG_FILE);
    assert_eq!(std::fs::metadata(&exported).map(|m| m.len()).ok(), Some(BIG_MIB << 20), "{}", exported.display());
    let (gate, proxy) = Gate::proxy(&dst.url, logged_model_creation);
    let (dst_experiment, dst_model) = (unique_name("lm-import-exp"), unique_name("lm-import"));
    let args = [
        "import-model",
        "--tracking-uri",
        &proxy.url,
        "--input-dir",
        path(&export),
        "--model",
        &dst_model,
        "--experiment-name",
        &dst_experiment,
    ];
    kill_then_resume(src, &source, dst, &gate, &args, &dst_experiment, &dst_model, work.path());
}
