//! Real exports written by old releases of the Python tool (the corpus of
//! `scripts/python-corpus.sh`: 1.0.9 on MLflow 1.30, 1.1.2 on 2.0, 1.2.0 on 2.1) import with
//! each import command into a 3.17.2 server, and what lands there, read with the official
//! client, is what that release's generator logged (`expected.json`): params, full metric
//! histories, status and times, every tag of the exported `run.json` (the 1.0/1.1 lineage tags
//! included, the parent link pointing at the parent's copy), artifact bytes, model versions
//! with stage, description and tags. A second import of each folder creates nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;
use test_support::{run_python_script, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{files_below, path, run, succeeded};

fn corpus(release: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mlflow-transfer/tests/fixtures/python").join(release)
}

/// One import of a corpus folder: the command line, and where each logged run must land.
struct Import {
    args: Vec<String>,
    /// The export folder, whose `run.json` files hold the tags each copy must carry.
    folder: PathBuf,
    /// Destination experiment → names of the logged runs it must hold, no more.
    experiments: Vec<(String, Vec<&'static str>)>,
    /// Destination name of the model, if the folder holds one.
    model: Option<String>,
}

/// Every import command on its folder of `release`'s corpus, each into its own names.
fn imports(release: &str, url: &str, tmp: &Path) -> Vec<Import> {
    let dir = corpus(release);
    let u = unique_name("py-corpus");
    let source_prefix = format!("corpus-{release}-");
    let rename = |to: &str| {
        let file = tmp.join(format!("{to}.csv"));
        std::fs::write(&file, format!("{source_prefix},{u}-{to}-\n")).unwrap();
        file.to_str().unwrap().to_string()
    };
    let args = |cmd: &str, folder: &str, more: &[&str]| {
        let mut a = vec![cmd.to_string(), "--tracking-uri".into(), url.into(), "--input-dir".into()];
        a.push(path(&dir.join(folder)).to_string());
        a.extend(more.iter().map(|s| s.to_string()));
        a
    };
    let a_b = |prefix: &str, a: Vec<&'static str>, b: Vec<&'static str>| {
        vec![(format!("{prefix}a"), a), (format!("{prefix}b"), b)]
    };
    let all_runs = || vec!["parent", "child", "failed"];
    let exps_prefix = format!("{u}-exps/");
    let (models_renames, all_renames) = (rename("models"), rename("all"));
    vec![
        Import {
            args: args("import-run", "run", &["--experiment-name", &format!("{u}-run")]),
            folder: dir.join("run"),
            experiments: vec![(format!("{u}-run"), vec!["parent"])],
            model: None,
        },
        Import {
            args: args("import-experiment", "experiment", &["--experiment-name", &format!("{u}-exp")]),
            folder: dir.join("experiment"),
            experiments: vec![(format!("{u}-exp"), all_runs())],
            model: None,
        },
        Import {
            args: args("import-experiments", "experiments", &["--experiment-name-prefix", &exps_prefix]),
            folder: dir.join("experiments"),
            experiments: a_b(&format!("{exps_prefix}{source_prefix}"), all_runs(), vec!["solo"]),
            model: None,
        },
        Import {
            args: args(
                "import-model",
                "model",
                &["--model", &format!("{u}-model"), "--experiment-name", &format!("{u}-model-exp")],
            ),
            folder: dir.join("model"),
            experiments: vec![(format!("{u}-model-exp"), vec!["parent", "solo"])],
            model: Some(format!("{u}-model")),
        },
        Import {
            args: args(
                "import-models",
                "models",
                &["--model-rename-file", &models_renames, "--experiment-rename-file", &models_renames],
            ),
            folder: dir.join("models"),
            experiments: a_b(&format!("{u}-models-"), vec!["parent"], vec!["solo"]),
            model: Some(format!("{u}-models-model")),
        },
        Import {
            args: args(
                "import-all",
                "all",
                &["--model-rename-file", &all_renames, "--experiment-rename-file", &all_renames],
            ),
            folder: dir.join("all"),
            experiments: a_b(&format!("{u}-all-"), all_runs(), vec!["solo"]),
            model: Some(format!("{u}-all-model")),
        },
    ]
}

/// Runs `args`, asserting success; returns stderr (the summary).
fn import(args: &[String]) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    String::from_utf8_lossy(&succeeded(&args, run(&args, &[])).stderr).into_owned()
}

/// The tags of every `run.json` below `folder`, by source run id.
fn exported_tags(folder: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    files_below(folder)
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "run.json"))
        .map(|p| {
            let file: Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
            let body = file.get("mlflow").unwrap_or(&file);
            let id = body["info"]["run_id"].as_str().unwrap().to_string();
            (id, serde_json::from_value(body["tags"].clone()).unwrap())
        })
        .collect()
}

/// A destination run is what the generator logged as `want`, with every exported tag.
fn assert_run(got: &Value, want: &Value, exported: &BTreeMap<String, String>, parent: Option<&str>, what: &str) {
    let info = &got["info"];
    for field in ["status", "start_time", "end_time"] {
        assert_eq!(info[field], want[field], "{what}: {field}");
    }
    assert_eq!(got["params"], want["params"], "{what}: params");
    let metrics = got["metrics"].as_object().unwrap();
    assert_eq!(metrics.len(), want["metrics"].as_object().unwrap().len(), "{what}: metric keys");
    for (key, points) in want["metrics"].as_object().unwrap() {
        let history = |v: &Value| {
            let mut h: Vec<(u64, i64, i64)> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["value"].as_f64().unwrap().to_bits(),
                        p["step"].as_i64().unwrap(),
                        p["timestamp"].as_i64().unwrap(),
                    )
                })
                .collect();
            h.sort_unstable();
            h
        };
        assert_eq!(history(&metrics[key]), history(points), "{what}: history of {key}");
    }
    let tags = got["tags"].as_object().unwrap();
    for (k, v) in want["tags"].as_object().unwrap() {
        assert_eq!(tags.get(k), Some(v), "{what}: logged tag {k}");
    }
    for (k, v) in exported {
        let want = if k == "mlflow.parentRunId" { parent.expect("a parent copy") } else { v.as_str() };
        assert_eq!(tags.get(k).and_then(Value::as_str), Some(want), "{what}: exported tag {k}");
    }
    assert_eq!(tags.get("mlflow.parentRunId").and_then(Value::as_str), parent, "{what}: parent link");
    assert_eq!(tags["mlflow_export_import.source.run_id"], want["source_run_id"], "{what}: identity");
    let files: BTreeMap<&str, &str> = got["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["sha256"].as_str().unwrap()))
        .collect();
    let want_files: BTreeMap<&str, &str> =
        want["artifacts"].as_object().unwrap().iter().map(|(k, v)| (k.as_str(), v.as_str().unwrap())).collect();
    assert_eq!(files, want_files, "{what}: artifacts");
}

/// Everything each import of `release` put at the server is what was logged.
fn assert_imported(release: &str, server: &MlflowServer, imports: &[Import]) {
    let expected: Value =
        serde_json::from_slice(&std::fs::read(corpus(release).join("expected.json")).unwrap()).unwrap();
    let mut args = vec!["--tracking-uri".to_string(), server.url.clone()];
    for i in imports {
        for (name, _) in &i.experiments {
            args.extend(["--experiment".into(), name.clone()]);
        }
        args.extend(i.model.iter().flat_map(|m| ["--model".to_string(), m.clone()]));
    }
    let dump = run_python_script("dump_many.py", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let logged = expected["runs"].as_object().unwrap();
    let name_of = |source: &Value| logged.iter().find(|(_, r)| r["source_run_id"] == *source).map(|(n, _)| n.clone());
    for i in imports {
        let exported = exported_tags(&i.folder);
        let cmd = format!("{release} {}", i.args[0]);
        // Which copy each logged run became, over the import's experiments, to follow links.
        let mut copies: BTreeMap<String, (String, &Value)> = BTreeMap::new();
        for (exp, names) in &i.experiments {
            let runs = dump["experiments"][exp]["runs"].as_object().unwrap();
            let mut got: Vec<String> =
                runs.values().map(|r| name_of(&r["tags"]["mlflow_export_import.source.run_id"]).unwrap()).collect();
            got.sort_unstable();
            let mut want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            want.sort_unstable();
            assert_eq!(got, want, "{cmd}: runs of {exp}");
            if names.contains(&"parent") && i.args[0] != "import-run" && i.args[0] != "import-model" {
                assert_eq!(dump["experiments"][exp]["tags"]["purpose"], "corpus", "{cmd}: tags of {exp}");
            }
            for (id, r) in runs {
                copies.insert(name_of(&r["tags"]["mlflow_export_import.source.run_id"]).unwrap(), (id.clone(), r));
            }
        }
        for (name, (_, got)) in &copies {
            let want = &logged[name];
            let tags = &exported[want["source_run_id"].as_str().unwrap()];
            let lineage = tags.keys().filter(|k| k.starts_with("mlflow_export_import.")).count();
            assert_eq!(lineage > 0, release != "1.2.0", "{cmd} {name}: 1.0 and 1.1 exports carry lineage tags");
            let parent = want["parent"].as_str().map(|p| copies[p].0.as_str());
            assert_run(got, want, tags, parent, &format!("{cmd} {name}"));
        }
        if let Some(model) = &i.model {
            let got = &dump["models"][model];
            let want = &expected["models"][0];
            assert_eq!(got["description"], want["description"], "{cmd}: model description");
            assert_eq!(got["tags"], want["tags"], "{cmd}: model tags");
            let versions = got["versions"].as_array().unwrap();
            assert_eq!(versions.len(), 2, "{cmd}: versions");
            for (v, w) in versions.iter().zip(want["versions"].as_array().unwrap()) {
                let at = format!("{cmd} v{}", w["version"]);
                assert_eq!(v["version"], w["version"], "{at}");
                assert_eq!(v["current_stage"], w["stage"], "{at}: stage");
                assert_eq!(v["description"], w["description"], "{at}: description");
                let tags: BTreeMap<&String, &Value> = v["tags"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, _)| !k.starts_with("mlflow_export_import."))
                    .collect();
                assert_eq!(serde_json::to_value(tags).unwrap(), w["tags"], "{at}: tags");
                assert_eq!(v["run_id"].as_str(), Some(copies[w["run"].as_str().unwrap()].0.as_str()), "{at}: run");
                let mlmodel = &logged[w["run"].as_str().unwrap()]["artifacts"]["model/MLmodel"];
                let files = v["files"].as_array().unwrap();
                assert_eq!(files.len(), 1, "{at}: files");
                assert_eq!((&files[0]["path"], &files[0]["sha256"]), (&Value::from("MLmodel"), mlmodel), "{at}");
            }
        }
    }
}

/// Imports every folder of `release` twice; the second time nothing is created.
fn release_imports(release: &str) {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let tmp = tempfile::tempdir().unwrap();
    let imports = imports(release, &server.url, tmp.path());
    for i in &imports {
        import(&i.args);
    }
    for i in &imports {
        let again = import(&i.args);
        let runs: usize = i.experiments.iter().map(|(_, names)| names.len()).sum();
        let what = format!("{release} {} again:\n{again}", i.args[0]);
        assert!(again.contains(&format!(" 0 created, 0 resumed, 0 updated, {runs} skipped, 0 failed")), "{what}");
        if i.model.is_some() {
            assert!(again.contains("versions 0 created, 0 updated, 2 skipped, 0 failed"), "{what}");
        }
    }
    assert_imported(release, server, &imports);
}

#[test]
fn python_1_0_9_exports_import() {
    release_imports("1.0.9");
}

#[test]
fn python_1_1_2_exports_import() {
    release_imports("1.1.2");
}

#[test]
fn python_1_2_0_exports_import() {
    release_imports("1.2.0");
}
