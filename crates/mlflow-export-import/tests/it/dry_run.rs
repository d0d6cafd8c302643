//! `--dry-run` on every writing command: the job is planned from the source (read only), the
//! plan is printed on stdout one step per line, the exit code is 0, and nothing is written: an
//! export's output is not created (or an existing empty folder stays empty), and the
//! destination server, read back whole with the official client, is byte for byte what it was.
//! Then one import and one copy without `--dry-run` must change that reading, so the check can
//! fail; a dry run over what they wrote changes nothing either.

use std::{collections::BTreeMap, path::Path};

use serde_json::Value;
use test_support::{unique_name, ArtifactMode, MlflowServer};

use crate::cli::{self, ok, path};

/// Everything a tracking server holds, as the official client reads it: every experiment
/// (deleted ones too), every run (deleted ones too) with its info, data, inputs and artifact
/// listing, every registered model, every model version and every logged model. One JSON
/// document with sorted keys, so two readings of an unchanged server are byte-equal.
const SNAPSHOT: &str = r#"
import json, mlflow
from google.protobuf.json_format import MessageToDict
from mlflow.entities import ViewType

c = mlflow.MlflowClient()

def pages(search, **kw):
    out, token = [], None
    while True:
        page = search(page_token=token, **kw)
        out.extend(page)
        token = page.token
        if not token:
            return out

def d(entity):
    return MessageToDict(entity.to_proto(), preserving_proto_field_name=True)

def files(run_id, path=None):
    out = []
    for f in c.list_artifacts(run_id, path):
        out.extend(files(run_id, f.path) if f.is_dir else [[f.path, f.file_size]])
    return out

exps = sorted(pages(c.search_experiments, view_type=ViewType.ALL, max_results=1000), key=lambda e: int(e.experiment_id))
ids = [e.experiment_id for e in exps]
runs = pages(c.search_runs, experiment_ids=ids, run_view_type=ViewType.ALL, max_results=1000) if ids else []
logged = pages(c.search_logged_models, experiment_ids=ids, max_results=100) if ids else []
print(json.dumps({
    "experiments": [d(e) for e in exps],
    "runs": sorted((dict(d(r), artifacts=files(r.info.run_id)) for r in runs), key=lambda r: r["info"]["run_id"]),
    "registered_models": sorted((d(m) for m in pages(c.search_registered_models, max_results=1000)), key=lambda m: m["name"]),
    "model_versions": sorted((d(v) for v in pages(c.search_model_versions, max_results=1000)),
                             key=lambda v: (v["name"], int(v["version"]))),
    "logged_models": sorted((d(m) for m in logged), key=lambda m: m["info"]["model_id"]),
}, sort_keys=True, indent=1))
"#;

fn snapshot(server: &MlflowServer) -> String {
    server.python_eval(SNAPSHOT)
}

/// Asserts two snapshots are byte-equal, showing where they first differ.
fn assert_same_snapshot(before: &str, after: &str, what: &str) {
    if before == after {
        return;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (before.lines().collect(), after.lines().collect());
    let first = a.iter().zip(&b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let around = |l: &[&str]| l[first.saturating_sub(8)..(first + 8).min(l.len())].join("\n");
    panic!(
        "{what} wrote to the destination server: its snapshot changed at line {first}\n--- before:\n{}\n--- after:\n{}",
        around(&a),
        around(&b)
    );
}

/// What is at `p`: `None` when nothing is there, else every entry below it (folders with a
/// trailing `/`) with the bytes of each file.
fn tree(p: &Path) -> Option<BTreeMap<String, Vec<u8>>> {
    if !p.exists() {
        return None;
    }
    let mut out = BTreeMap::new();
    if p.is_file() {
        out.insert(String::new(), std::fs::read(p).unwrap());
        return Some(out);
    }
    let mut stack = vec![p.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap().path();
            let rel = entry.strip_prefix(p).unwrap().to_string_lossy().into_owned();
            if entry.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(entry);
            } else {
                out.insert(rel, std::fs::read(&entry).unwrap());
            }
        }
    }
    Some(out)
}

/// One step a plan must show on a line of its own.
#[derive(Debug, Clone)]
enum Step {
    /// A line holding the source run id.
    Run(String),
    /// A line holding the experiment's name.
    Experiment(String),
    /// A line holding the registered model's name.
    Model(String),
    /// A line holding the model's name and, elsewhere on it, the version number as a word of
    /// its own (`3`, `v3`, `/3`, `#3`; not a digit inside another number or id).
    Version(String, String),
}

impl Step {
    fn on(&self, line: &str) -> bool {
        match self {
            Step::Run(id) => line.contains(id.as_str()),
            Step::Experiment(name) | Step::Model(name) => line.contains(name.as_str()),
            Step::Version(model, version) => {
                line.contains(model.as_str())
                    && line
                        .replace(model.as_str(), " ")
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|word| word.trim_start_matches(|c: char| c.is_alphabetic()) == version)
            }
        }
    }
}

/// Finds a distinct line of `lines` for every step (one line per step), by augmenting paths.
/// Returns the steps left without a line of their own.
fn unmatched<'a>(lines: &[&str], steps: &'a [Step]) -> Vec<&'a Step> {
    fn assign(step: usize, steps: &[Step], lines: &[&str], owner: &mut [Option<usize>], seen: &mut [bool]) -> bool {
        for (l, line) in lines.iter().enumerate() {
            if seen[l] || !steps[step].on(line) {
                continue;
            }
            seen[l] = true;
            if owner[l].is_none_or(|other| assign(other, steps, lines, owner, seen)) {
                owner[l] = Some(step);
                return true;
            }
        }
        false
    }
    let mut owner = vec![None; lines.len()];
    (0..steps.len())
        .filter(|&s| !assign(s, steps, lines, &mut owner, &mut vec![false; lines.len()]))
        .map(|s| &steps[s])
        .collect()
}

/// Runs `args` with `--dry-run` and checks the contract's visible part: exit 0, "dry run" on
/// stderr, a plan on stdout naming every step of `steps` on a line of its own.
fn dry_run(args: &[&str], steps: &[Step]) {
    let args = [args, &["--dry-run"]].concat();
    let out = cli::run(&args, &[]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let shown = format!("{args:?} ({})\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    assert!(out.status.success(), "the dry run failed: {shown}");
    assert!(stderr.to_lowercase().contains("dry run"), "stderr does not say \"dry run\": {shown}");
    let lines: Vec<&str> = stdout.lines().filter(|l| !l.trim().is_empty()).collect();
    let missing = unmatched(&lines, steps);
    assert!(missing.is_empty(), "the plan shows no line of its own for {missing:?}: {shown}");
}

/// The source: experiment `experiment` with a parent run, its nested child and another run,
/// each with a param, a metric and a file; registered model `model` with version 1 from the
/// parent run and version 2 from the other run.
struct Source {
    experiment: String,
    parent: String,
    child: String,
    other: String,
    model: String,
}

impl Source {
    fn runs(&self) -> Vec<Step> {
        [&self.parent, &self.child, &self.other].into_iter().map(|id| Step::Run(id.clone())).collect()
    }

    /// The experiment and its three runs.
    fn experiment_steps(&self) -> Vec<Step> {
        [vec![Step::Experiment(self.experiment.clone())], self.runs()].concat()
    }

    /// The model and its two versions.
    fn model_steps(&self) -> Vec<Step> {
        vec![
            Step::Model(self.model.clone()),
            Step::Version(self.model.clone(), "1".into()),
            Step::Version(self.model.clone(), "2".into()),
        ]
    }
}

fn seed_source(src: &MlflowServer) -> Source {
    let (experiment, model) = (unique_name("dry-src"), unique_name("dry-model"));
    let code = format!(
        r#"
import json, mlflow
c = mlflow.MlflowClient()
exp = c.create_experiment({experiment:?})
def run(name, parent=None):
    tags = {{"mlflow.parentRunId": parent}} if parent else {{}}
    rid = c.create_run(exp, run_name=name, tags=tags).info.run_id
    c.log_param(rid, "p", name)
    c.log_metric(rid, "m", 1.5, step=0)
    c.log_text(rid, f"artifact_path: model\nrun: {{name}}\n", "model/MLmodel")
    c.set_terminated(rid)
    return rid
parent = run("parent")
child = run("child", parent)
other = run("other")
c.create_registered_model({model:?}, description="dry-run source")
for rid in (parent, other):
    c.create_model_version({model:?}, f"runs:/{{rid}}/model", run_id=rid)
print(json.dumps({{"parent": parent, "child": child, "other": other}}))
"#
    );
    let out = src.python_eval(&code);
    let ids: Value = serde_json::from_str(out.lines().last().expect("ids printed")).unwrap();
    let id = |k: &str| ids[k].as_str().unwrap().to_string();
    Source { experiment, parent: id("parent"), child: id("child"), other: id("other"), model }
}

/// The parsed snapshot's runs in experiment `name`, by their source run id tag.
fn copied_runs(snapshot: &str, name: &str) -> Vec<String> {
    let s: Value = serde_json::from_str(snapshot).unwrap();
    let exp = s["experiments"].as_array().unwrap().iter().find(|e| e["name"] == name);
    let exp_id = exp.unwrap_or_else(|| panic!("no experiment {name:?} at the destination"))["experiment_id"].clone();
    let mut ids: Vec<String> = s["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["info"]["experiment_id"] == exp_id)
        .map(|r| {
            let tags = r["data"]["tags"].as_array().unwrap();
            let tag = tags.iter().find(|t| t["key"] == "mlflow_export_import.source.run_id").expect("identity tag");
            tag["value"].as_str().unwrap().to_string()
        })
        .collect();
    ids.sort();
    ids
}

fn versions_of(snapshot: &str, model: &str) -> Vec<String> {
    let s: Value = serde_json::from_str(snapshot).unwrap();
    let versions = s["model_versions"].as_array().unwrap().iter().filter(|v| v["name"] == model);
    versions.map(|v| v["version"].as_str().unwrap().to_string()).collect()
}

#[test]
fn dry_run_plans_every_writing_command_and_writes_nothing() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    // A destination of its own: its whole content is compared, so no other test may write it.
    let dst = &MlflowServer::start(ArtifactMode::Proxy);
    let s = seed_source(src);
    let source_before = (src.dump_experiment(&s.experiment), src.dump_model(&s.model));
    let work = tempfile::tempdir().unwrap();
    let (exports, dry) = (work.path().join("exports"), work.path().join("dry"));
    std::fs::create_dir_all(&dry).unwrap();
    let export = |name: &str| exports.join(name);

    // The inputs of the imports, made by real exports.
    let (run_dir, exp_dir, exps_dir, model_dir, models_dir) =
        (export("run"), export("experiment"), export("experiments"), export("model"), export("models"));
    let from = ["--tracking-uri", src.url.as_str()];
    for (command, option, object, dir) in [
        ("export-run", "--run-id", &s.parent, &run_dir),
        ("export-experiment", "--experiment", &s.experiment, &exp_dir),
        ("export-experiments", "--experiments", &s.experiment, &exps_dir),
        ("export-model", "--model", &s.model, &model_dir),
        ("export-models", "--models", &s.model, &models_dir),
    ] {
        let output = if command == "export-run" { "--output" } else { "--output-dir" };
        ok(&[&[command][..], &from, &[option, object.as_str(), output, path(dir)]].concat());
    }
    assert!(exp_dir.join("experiment.json").is_file() && model_dir.join("model.json").is_file());

    // Exports: the output is not created, or an existing empty folder stays empty.
    let run = &s.runs()[..1];
    for (command, option, object, out, exists, steps) in [
        ("export-run", "--run-id", &s.parent, dry.join("run"), false, run),
        ("export-run", "--run-id", &s.parent, dry.join("run.zip"), false, run),
        ("export-experiment", "--experiment", &s.experiment, dry.join("exp"), true, &s.experiment_steps()[..]),
        ("export-experiments", "--experiments", &s.experiment, dry.join("exps"), false, &s.experiment_steps()[..]),
        ("export-model", "--model", &s.model, dry.join("model"), true, &s.model_steps()[..]),
        ("export-models", "--models", &s.model, dry.join("models"), false, &s.model_steps()[..]),
    ] {
        if exists {
            std::fs::create_dir_all(&out).unwrap();
        }
        let before = tree(&out);
        let output = if command == "export-run" { "--output" } else { "--output-dir" };
        dry_run(&[&[command][..], &from, &[option, object.as_str(), output, path(&out)]].concat(), steps);
        let after = tree(&out);
        if !exists {
            assert!(
                after.is_none(),
                "{command} --dry-run created {}: {:?}",
                out.display(),
                after.map(|t| t.into_keys())
            );
        }
        assert_eq!(after, before, "{command} --dry-run wrote into {}", out.display());
    }

    // Imports and copies: the destination server is unchanged.
    let to = ["--tracking-uri", dst.url.as_str()];
    let both = ["--src-uri", src.url.as_str(), "--dst-uri", dst.url.as_str()];
    let (imported_exp, copied_model, copied_model_exp) =
        (unique_name("dry-imported"), unique_name("dry-copied"), unique_name("dry-dst"));
    let import_experiment =
        [&["import-experiment"][..], &to, &["--input-dir", path(&exp_dir), "--experiment-name", &imported_exp]]
            .concat();
    let copy_model = [
        &["copy-model"][..],
        &both,
        &["--src-model", &s.model, "--dst-model", &copied_model, "--dst-experiment-name", &copied_model_exp],
    ]
    .concat();
    // Destination names unlike the source's: a plan naming only the destination does not pass.
    let [e1, e2, e3, e4, e5] = [(); 5].map(|()| unique_name("dry-dst"));
    let [m1, m2] = [(); 2].map(|()| unique_name("dry-dst-model"));
    let writes: Vec<(Vec<&str>, Vec<Step>)> = vec![
        (
            [&["import-run"][..], &to, &["--input", path(&run_dir), "--experiment-name", &e1]].concat(),
            s.runs()[..1].to_vec(),
        ),
        (import_experiment.clone(), s.experiment_steps()),
        (
            [&["import-experiments"][..], &to, &["--input-dir", path(&exps_dir), "--experiment-name-prefix", "dry-"]]
                .concat(),
            s.experiment_steps(),
        ),
        (
            [&["import-model"][..], &to, &["--input-dir", path(&model_dir), "--model", &m1, "--experiment-name", &e2]]
                .concat(),
            s.model_steps(),
        ),
        ([&["import-models"][..], &to, &["--input-dir", path(&models_dir)]].concat(), s.model_steps()),
        (
            [&["copy-run"][..], &both, &["--run-id", &s.parent, "--experiment-name", &e3]].concat(),
            s.runs()[..1].to_vec(),
        ),
        (
            [&["copy-experiment"][..], &both, &["--src-experiment", &s.experiment, "--dst-experiment-name", &e4]]
                .concat(),
            s.experiment_steps(),
        ),
        (copy_model.clone(), s.model_steps()),
        (
            vec![
                "copy-model-version",
                "--src-model",
                &s.model,
                "--src-version",
                "2",
                "--dst-model",
                &m2,
                "--src-registry-uri",
                &src.url,
                "--dst-registry-uri",
                &dst.url,
                "--dst-experiment-name",
                &e5,
            ],
            vec![Step::Version(s.model.clone(), "2".into())],
        ),
    ];
    let empty = snapshot(dst);
    for (args, steps) in &writes {
        dry_run(args, steps);
        assert_same_snapshot(&empty, &snapshot(dst), &format!("{} --dry-run", args[0]));
    }

    // Without --dry-run the same reading changes: the check above can fail.
    ok(&import_experiment);
    let imported = snapshot(dst);
    assert_ne!(imported, empty, "import-experiment changed nothing the snapshot reads");
    let mut want = vec![s.parent.clone(), s.child.clone(), s.other.clone()];
    want.sort();
    assert_eq!(copied_runs(&imported, &imported_exp), want, "the imported experiment's runs");
    // A dry run over what is already there writes nothing either.
    dry_run(&import_experiment, &s.experiment_steps());
    assert_same_snapshot(&imported, &snapshot(dst), "import-experiment --dry-run over an imported experiment");

    ok(&copy_model);
    let copied = snapshot(dst);
    assert_ne!(copied, imported, "copy-model changed nothing the snapshot reads");
    assert_eq!(versions_of(&copied, &copied_model), ["1", "2"], "the copied model's versions");
    dry_run(&copy_model, &s.model_steps());
    assert_same_snapshot(&copied, &snapshot(dst), "copy-model --dry-run over a copied model");

    // The source was only read.
    assert_eq!((src.dump_experiment(&s.experiment), src.dump_model(&s.model)), source_before, "the source changed");
}

#[test]
fn a_plan_must_name_each_step_on_a_line_of_its_own() {
    let (p, c, model) = ("0f3a9c1e", "7b2d4e6f", "dry-model-42-7");
    let steps = vec![
        Step::Experiment("dry-src-1".into()),
        Step::Run(p.into()),
        Step::Run(c.into()),
        Step::Model(model.into()),
        Step::Version(model.into(), "1".into()),
        Step::Version(model.into(), "2".into()),
    ];
    let good = format!(
        "create experiment dry-src-1\ncopy run {p}\ncopy run {c} (child of {p})\ncreate registered model {model}\n\
         create version {model} v1 from run {p}\ncreate version {model}/2 from run {c}\n"
    );
    let lines: Vec<&str> = good.lines().collect();
    assert!(unmatched(&lines, &steps).is_empty(), "{:?}", unmatched(&lines, &steps));
    // Two steps on one line, a version number only inside the model's name or a run id: not a plan.
    for bad in [
        format!("experiment dry-src-1: runs {p}, {c}\nmodel {model}\n{model} v1\n{model} v2"),
        format!("experiment dry-src-1\nrun {p}\nrun {c}\nmodel {model}\n{model} versions 1 and 2"),
        format!("experiment dry-src-1\nrun {p}\nrun {c}\nmodel {model}\n{model} v1\n{model} from run 7b2d4e6f"),
    ] {
        let lines: Vec<&str> = bad.lines().collect();
        assert!(!unmatched(&lines, &steps).is_empty(), "accepted:\n{bad}");
    }
}
