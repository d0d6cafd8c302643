//! MLflow 3 logged models moving with their experiment: every logged model of an experiment
//! (one logged with `mlflow.pyfunc.log_model` in a run, with params, tags and metrics computed
//! on a dataset; one made with `mlflow.initialize_logged_model` without a run), the runs'
//! model inputs and outputs, copied server to server and exported then imported. What the
//! destination holds is read back with the official client (`scripts/dump_logged_models.py`)
//! and compared with the source field by field; running a job again creates nothing.

use std::sync::OnceLock;

use serde_json::Value;
use test_support::{unique_name, ArtifactMode, MlflowServer};

use crate::cli::{ok, path};

const SOURCE_MODEL_ID: &str = "mlflow_export_import.source.model_id";
const COMPLETE: &str = "mlflow_export_import.complete";

/// The source experiment's name, seeded once per test binary.
pub(crate) fn seeded() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let name = unique_name("logged-models");
        let code = format!(
            r#"
import os, tempfile, mlflow, pandas
from mlflow.entities import LoggedModelInput
mlflow.set_experiment({name:?})
class Echo(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input):
        return model_input
data = mlflow.data.from_pandas(pandas.DataFrame({{"x": [1, 2, 3]}}), name="eval-set")
with mlflow.start_run(run_name="train") as run:
    info = mlflow.pyfunc.log_model(name="echo", python_model=Echo(), pip_requirements=["mlflow"],
                                   params={{"alpha": "0.5"}}, tags={{"team": "search"}},
                                   model_type="regressor", step=3)
    mlflow.log_metric("accuracy", 0.75, step=1, model_id=info.model_id, dataset=data)
    mlflow.log_metric("loss", 0.25, step=2, model_id=info.model_id)
lm = mlflow.initialize_logged_model(name="no-run", model_type="agent", params={{"p": "1"}}, tags={{"k": "v"}})
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "notes.txt"), "w") as f:
        f.write("made without a run\n")
    mlflow.MlflowClient().log_model_artifacts(lm.model_id, d)
mlflow.finalize_logged_model(lm.model_id, "READY")
with mlflow.start_run(run_name="evaluate") as ev:
    mlflow.log_param("k", "v")
mlflow.MlflowClient().log_inputs(ev.info.run_id, models=[LoggedModelInput(info.model_id), LoggedModelInput(lm.model_id)])
print("seeded")
"#
        );
        let out = source().python_eval(&code);
        assert!(out.contains("seeded"), "{out}");
        name
    })
}

fn source() -> &'static MlflowServer {
    MlflowServer::shared(ArtifactMode::Proxy)
}

fn destination() -> &'static MlflowServer {
    MlflowServer::shared(ArtifactMode::LocalRoot)
}

pub(crate) fn dump(server: &MlflowServer, experiment: &str) -> Value {
    let args = ["--tracking-uri", &server.url, "--experiment", experiment];
    test_support::run_python_script_env("dump_logged_models.py", &args, server.client_env())
}

/// Checks a destination experiment against the source: the same logged models, field by
/// field, each copy naming its source model; the same run links. Returns the destination dump.
fn assert_copied(src: &Value, dst_server: &MlflowServer, dst_experiment: &str) -> Value {
    let read = dump(dst_server, dst_experiment);
    let mut dst = read.clone();
    assert_eq!(src["models"].as_object().unwrap().len(), 2, "{src}");
    for (name, source_id) in src["ids"].as_object().unwrap() {
        assert!(dst["models"][name.as_str()].is_object(), "{name} not copied: {dst}");
        let tags = dst["models"][name.as_str()]["tags"].as_object_mut().unwrap();
        assert_eq!(tags.remove(SOURCE_MODEL_ID).as_ref(), Some(source_id), "{name}");
        assert_eq!(tags.remove(COMPLETE), Some(Value::from("true")), "{name}");
        assert_ne!(dst["ids"][name.as_str()], *source_id, "{name} has a new id");
    }
    // `MLmodel` names the copy and its run (`--mlmodel-fix`, on by default): with the source's
    // ids put back, the text and its size are the source's.
    for (name, model) in dst["models"].as_object_mut().unwrap() {
        let Some(text) = model["mlmodel"].as_str().map(str::to_string) else { continue };
        let (src_id, dst_id) =
            (src["ids"][name.as_str()].as_str().unwrap(), read["ids"][name.as_str()].as_str().unwrap());
        assert!(text.contains(&format!("model_id: {dst_id}\n")), "{text}");
        assert!(text.contains(&format!("model_uuid: {dst_id}\n")), "{text}");
        let restored = text
            .replace(&format!("_id: {dst_id}"), &format!("_id: {src_id}"))
            .replace(&format!("model_uuid: {dst_id}"), &format!("model_uuid: {src_id}"));
        let run_line = |t: &str| t.lines().find(|l| l.starts_with("run_id: ")).map(str::to_string);
        assert_ne!(
            run_line(&text),
            run_line(src["models"][name.as_str()]["mlmodel"].as_str().unwrap()),
            "run_id rewritten"
        );
        let restored = match (run_line(&text), run_line(src["models"][name.as_str()]["mlmodel"].as_str().unwrap())) {
            (Some(d), Some(s)) => restored.replace(&d, &s),
            _ => restored,
        };
        assert_eq!(restored, src["models"][name.as_str()]["mlmodel"].as_str().unwrap());
        model["mlmodel"] = Value::String(restored);
        let src_files = src["models"][name.as_str()]["files"].as_array().unwrap();
        let src_file = src_files.iter().find(|f| f["path"] == "MLmodel").unwrap();
        let file = model["files"].as_array_mut().unwrap().iter_mut().find(|f| f["path"] == "MLmodel").unwrap();
        assert_eq!(file["size"], text.len(), "the copy's size is the rewritten file's");
        *file = src_file.clone();
    }
    assert_eq!(dst["models"], src["models"]);
    assert_eq!(dst["runs"], src["runs"]);
    read
}

#[test]
fn copy_experiment_moves_every_logged_model_with_metrics_and_run_links() {
    let (src, dst) = (source(), destination());
    let experiment = seeded();
    let before = dump(src, experiment);
    // What the seed made, as the official client reads it: a sanity check of the fixture.
    let echo = &before["models"]["echo"];
    assert_eq!(echo["source_run"], "train");
    assert_eq!(echo["metrics"].as_array().unwrap().len(), 2, "{echo}");
    assert_eq!(before["models"]["no-run"]["source_run"], Value::Null);
    assert_eq!(before["runs"]["evaluate"]["model_inputs"], serde_json::json!(["echo", "no-run"]));
    assert_eq!(before["runs"]["train"]["model_outputs"], serde_json::json!([["echo", 3]]));

    let to = unique_name("lm-copy");
    let args = [
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        experiment,
        "--dst-experiment-name",
        &to,
    ];
    ok(&args);
    let first = assert_copied(&before, dst, &to);
    ok(&args);
    assert_eq!(dump(dst, &to), first, "a second copy changed the destination");
    // `verify` compares the logged models and run links too, and finds them equal.
    let verify = [
        "verify",
        "--src-uri",
        &src.url,
        "--src-experiment",
        experiment,
        "--dst-uri",
        &dst.url,
        "--dst-experiment",
        &to,
    ];
    assert_eq!(ok(&verify), "");
}

#[test]
fn export_and_import_experiment_move_every_logged_model() {
    let (src, dst) = (source(), destination());
    let experiment = seeded();
    let before = dump(src, experiment);
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("exp");
    ok(&["export-experiment", "--tracking-uri", &src.url, "--experiment", experiment, "--output-dir", path(&dir)]);
    for id in before["ids"].as_object().unwrap().values() {
        let json = dir.join("logged_models").join(id.as_str().unwrap()).join("logged_model.json");
        assert!(json.is_file(), "{} missing", json.display());
    }
    assert_eq!(ok(&["verify", "--src-uri", &src.url, "--src-experiment", experiment, "--dst-dir", path(&dir)]), "");
    let to = unique_name("lm-import");
    let args = ["import-experiment", "--tracking-uri", &dst.url, "--experiment-name", &to, "--input-dir", path(&dir)];
    ok(&args);
    let first = assert_copied(&before, dst, &to);
    ok(&args);
    assert_eq!(dump(dst, &to), first, "a second import changed the destination");
    // `--mlmodel-fix false` keeps the source's bytes.
    let kept = unique_name("lm-kept");
    ok(&[
        "import-experiment",
        "--tracking-uri",
        &dst.url,
        "--experiment-name",
        &kept,
        "--input-dir",
        path(&dir),
        "--mlmodel-fix",
        "false",
    ]);
    let as_is = dump(dst, &kept);
    assert_eq!(as_is["models"]["echo"]["mlmodel"], before["models"]["echo"]["mlmodel"]);
    assert_eq!(as_is["models"]["echo"]["files"], before["models"]["echo"]["files"]);
}

/// The source id of the run named `name` in the seeded experiment.
fn seeded_run(name: &str) -> String {
    let code = format!(
        "import mlflow\nr = mlflow.search_runs(experiment_names=[{:?}], filter_string=\"attributes.run_name = '{name}'\", output_format='list')\nprint(r[0].info.run_id)",
        seeded()
    );
    source().python_eval(&code).trim().lines().last().unwrap().to_string()
}

/// The report's outcome of each logged model, by source model id.
fn report_models(report: &std::path::Path) -> serde_json::Map<String, Value> {
    let v: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    let models = v["logged_models"].as_array().unwrap().iter();
    models.map(|m| (m["source_model_id"].as_str().unwrap().to_string(), m.clone())).collect()
}

/// A copy made without its run: the same description and files (an `MLmodel` naming the copy),
/// and the copy names its source. With `alone`, no copy of its run exists at the destination:
/// the copy has no run and no metrics. (Without, another test may have copied its run to the
/// shared destination, which the copy then joins.)
fn assert_copied_alone(src: &Value, dst: &Value, alone: bool) {
    for (name, source_id) in src["ids"].as_object().unwrap() {
        let (s, d) = (&src["models"][name.as_str()], &dst["models"][name.as_str()]);
        assert!(d.is_object(), "{name} not copied: {dst}");
        for field in ["model_type", "status", "params"] {
            assert_eq!(d[field], s[field], "{name}: {field}");
        }
        let mut tags = d["tags"].as_object().unwrap().clone();
        assert_eq!(tags.remove(SOURCE_MODEL_ID).as_ref(), Some(source_id), "{name}");
        assert_eq!(tags.remove(COMPLETE), Some(Value::from("true")), "{name}");
        assert_eq!(Value::Object(tags), s["tags"], "{name}: tags");
        if alone {
            assert_eq!(d["source_run"], Value::Null, "{name}: no run at the destination");
            assert_eq!(d["metrics"], serde_json::json!([]), "{name}: no run to log metrics through");
        }
        let paths = |v: &Value| v["files"].as_array().unwrap().iter().map(|f| f["path"].clone()).collect::<Vec<_>>();
        assert_eq!(paths(d), paths(s), "{name}: files");
        for (f, g) in d["files"].as_array().unwrap().iter().zip(s["files"].as_array().unwrap()) {
            if f["path"] != "MLmodel" {
                assert_eq!(f, g, "{name}: {}", f["path"]);
            }
        }
        if let Some(text) = d["mlmodel"].as_str() {
            assert!(text.contains(&format!("model_id: {}\n", dst["ids"][name.as_str()].as_str().unwrap())), "{text}");
        }
    }
}

#[test]
fn copy_logged_models_joins_a_run_copied_before_and_keeps_its_metrics() {
    let (src, dst) = (source(), destination());
    let experiment = seeded();
    let mut before = dump(src, experiment);
    let to = unique_name("lm-join");
    let train = seeded_run("train");
    ok(&["copy-run", "--src-uri", &src.url, "--dst-uri", &dst.url, "--run-id", &train, "--experiment-name", &to]);
    let args = [
        "copy-logged-models",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--experiment-ids",
        experiment,
        "--dst-experiment-name",
        &to,
    ];
    ok(&args);
    // The run `evaluate` was not copied: its model inputs have nowhere to be.
    before["runs"].as_object_mut().unwrap().remove("evaluate");
    let first = assert_copied(&before, dst, &to);
    let report = tempfile::tempdir().unwrap();
    let report = report.path().join("report.json");
    ok(&[&args[..], &["--report", path(&report)]].concat());
    assert_eq!(dump(dst, &to), first, "a second copy changed the destination");
    assert!(report_models(&report).values().all(|m| m["action"] == "skipped"), "{report:?}");
}

#[test]
fn copy_logged_model_without_its_run_keeps_the_model_and_says_what_it_could_not() {
    let (src, dst) = (source(), destination());
    // A model of a run that no test copies.
    let experiment = unique_name("lm-alone-src");
    let code = format!(
        r#"
import os, tempfile, mlflow
mlflow.set_experiment({experiment:?})
with mlflow.start_run(run_name="fit") as run:
    lm = mlflow.initialize_logged_model(name="alone", model_type="agent", params={{"p": "1"}}, tags={{"k": "v"}},
                                        source_run_id=run.info.run_id)
    mlflow.log_metric("score", 0.5, step=1, model_id=lm.model_id)
with tempfile.TemporaryDirectory() as d:
    with open(os.path.join(d, "weights.bin"), "wb") as f:
        f.write(bytes(range(256)))
    mlflow.MlflowClient().log_model_artifacts(lm.model_id, d)
mlflow.finalize_logged_model(lm.model_id, "READY")
broken = mlflow.initialize_logged_model(name="broken", model_type="agent", tags={{"why": "upload failed"}})
mlflow.finalize_logged_model(broken.model_id, "FAILED")
mlflow.initialize_logged_model(name="pending", model_type="agent", params={{"q": "2"}})
print(lm.model_id)
"#
    );
    let model_id = src.python_eval(&code).trim().lines().last().unwrap().to_string();
    let all = dump(src, &experiment);
    let mut before = all.clone();
    before["ids"].as_object_mut().unwrap().retain(|k, _| k == "alone");
    assert_eq!(before["models"]["alone"]["source_run"], "fit", "{before}");
    assert_eq!(before["models"]["alone"]["metrics"].as_array().unwrap().len(), 1, "{before}");
    let to = unique_name("lm-alone");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let args = [
        "copy-logged-model",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--model-id",
        &model_id,
        "--dst-experiment-name",
        &to,
    ];
    ok(&[&args[..], &["--report", path(&report)]].concat());
    let after = dump(dst, &to);
    assert_copied_alone(&before, &after, true);
    let notes = report_models(&report)[&model_id]["notes"].to_string();
    assert!(notes.contains("1 metric points not kept"), "{notes}");
    assert!(notes.contains("has no copy at the destination"), "{notes}");
    ok(&args);
    assert_eq!(dump(dst, &to), after, "a second copy changed the destination");

    // Every model of the experiment, each ending with its source's status: a model whose upload
    // failed stays failed and one still pending stays pending, and a second copy finds both.
    assert_eq!(all["models"]["broken"]["status"], "FAILED", "{all}");
    assert_eq!(all["models"]["pending"]["status"], "PENDING", "{all}");
    let to = unique_name("lm-statuses");
    let args = [
        "copy-logged-models",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--experiment-ids",
        &experiment,
        "--dst-experiment-name",
        &to,
    ];
    ok(&args);
    let after = dump(dst, &to);
    assert_copied_alone(&all, &after, true);
    ok(&[&args[..], &["--report", path(&report)]].concat());
    assert!(report_models(&report).values().all(|m| m["action"] == "skipped"), "{report:?}");
    assert_eq!(dump(dst, &to), after, "a second copy changed the destination");
}

#[test]
fn export_and_import_logged_models_in_the_python_tools_layouts() {
    let (src, dst) = (source(), destination());
    let experiment = seeded();
    let before = dump(src, experiment);
    let out = tempfile::tempdir().unwrap();
    // export-logged-models: `logged_models.json` names the experiment of each model.
    let many = out.path().join("many");
    ok(&[
        "export-logged-models",
        "--tracking-uri",
        &src.url,
        "--experiment-ids",
        experiment,
        "--output-dir",
        path(&many),
    ]);
    let index: Value = serde_json::from_slice(&std::fs::read(many.join("logged_models.json")).unwrap()).unwrap();
    assert_eq!(index["info"]["num_ok_logged_models"], 2, "{index}");
    assert_eq!(index["mlflow"]["experiments"][0]["name"], experiment, "{index}");
    for id in before["ids"].as_object().unwrap().values() {
        let id = id.as_str().unwrap();
        assert!(index["mlflow"]["experiments"][0]["logged_models"].as_array().unwrap().contains(&Value::from(id)));
        assert!(many.join(id).join("logged_model.json").is_file(), "{id}");
    }
    let to = unique_name("lm-imported");
    let import =
        ["import-logged-models", "--tracking-uri", &dst.url, "--input-dir", path(&many), "--experiment-name", &to];
    ok(&import);
    let first = dump(dst, &to);
    assert_copied_alone(&before, &first, false);
    ok(&import);
    assert_eq!(dump(dst, &to), first, "a second import changed the destination");
    // export-logged-model: the folder itself holds the model.
    let echo = before["ids"]["echo"].as_str().unwrap();
    let one = out.path().join("one");
    ok(&["export-logged-model", "--tracking-uri", &src.url, "--model-id", echo, "--output-dir", path(&one)]);
    assert!(one.join("logged_model.json").is_file() && one.join("artifacts").join("MLmodel").is_file());
    let single = unique_name("lm-single");
    ok(&["import-logged-model", "--tracking-uri", &dst.url, "--input-dir", path(&one), "--experiment-name", &single]);
    let mut only_echo = before.clone();
    only_echo["ids"].as_object_mut().unwrap().retain(|k, _| k == "echo");
    assert_copied_alone(&only_echo, &dump(dst, &single), false);
}
