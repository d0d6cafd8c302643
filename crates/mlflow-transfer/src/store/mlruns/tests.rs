//! The reader against stores written by the real MLflow client (fixtures made by
//! `scripts/mlruns-fixture.sh`, each with what the official client read back from it), and
//! against broken stores made here.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;

use super::*;

const RUN: &str = "0123456789abcdef0123456789abcdef";

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlruns");
    let mut out: Vec<PathBuf> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    out.sort();
    assert!(out.len() >= 2, "{}: expected a 2.x and a 3.x store", dir.display());
    out
}

fn expected(fixture: &Path) -> Json {
    serde_json::from_str(&fs::read_to_string(fixture.join("expected.json")).unwrap()).unwrap()
}

fn opt_str(v: &Json) -> Option<String> {
    v.as_str().map(str::to_string)
}

fn string_map(v: &Json) -> BTreeMap<String, String> {
    v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect()
}

/// A value of `expected.json`: a number, or `"NaN"`, `"inf"`, `"-inf"`.
fn float(v: &Json) -> f64 {
    v.as_f64().unwrap_or_else(|| v.as_str().unwrap().parse().unwrap())
}

#[test]
fn experiments_match_the_official_client() {
    for fixture in fixtures() {
        let store = Mlruns::open(fixture.join("mlruns").to_str().unwrap()).unwrap();
        let want = expected(&fixture);
        let want = want["experiments"].as_array().unwrap();
        let mut got = store.experiments(true).unwrap();
        got.sort_by(|a, b| a.name.cmp(&b.name));
        let mut want: Vec<&Json> = want.iter().collect();
        want.sort_by_key(|e| e["name"].as_str().unwrap());
        assert_eq!(got.len(), want.len(), "{}", fixture.display());
        for (g, w) in got.iter().zip(want) {
            let expect = ExperimentRecord {
                experiment_id: w["experiment_id"].as_str().unwrap().into(),
                name: w["name"].as_str().unwrap().into(),
                lifecycle_stage: w["lifecycle_stage"].as_str().unwrap().into(),
                artifact_location: opt_str(&w["artifact_location"]),
                creation_time: w["creation_time"].as_i64(),
                last_update_time: w["last_update_time"].as_i64(),
                tags: string_map(&w["tags"]),
            };
            assert_eq!(g, &expect, "{}", fixture.display());
            assert_eq!(&store.experiment(&g.experiment_id).unwrap(), g);
        }
        let active: Vec<_> = store.experiments(false).unwrap().into_iter().map(|e| e.name).collect();
        assert!(active.contains(&"fixture-a".to_string()) && !active.contains(&"fixture-b".to_string()));
    }
}

#[test]
fn runs_match_the_official_client() {
    for fixture in fixtures() {
        let store = Mlruns::open(&format!("file://{}", fixture.join("mlruns").display())).unwrap();
        let want = expected(&fixture);
        let want = want["runs"].as_array().unwrap();
        let names: BTreeMap<String, String> =
            store.experiments(true).unwrap().into_iter().map(|e| (e.experiment_id, e.name)).collect();
        let mut listed = 0;
        for exp in names.keys() {
            let all = store.runs(exp, true).unwrap();
            let active = store.runs(exp, false).unwrap();
            assert_eq!(active.len(), all.iter().filter(|r| !r.meta.is_deleted()).count());
            listed += all.len();
            for entry in all {
                let w = want.iter().find(|w| w["run_id"] == entry.meta.run_id.as_str()).expect("run listed by mlflow");
                assert_eq!(entry.parent_run_id, opt_str(&w["tags"]["mlflow.parentRunId"]));
                assert_eq!(entry.meta, store.read_run(&entry.meta.run_id).unwrap().meta);
            }
        }
        assert_eq!(listed, want.len(), "{}", fixture.display());
        assert!(want.iter().any(|w| w["lifecycle_stage"] == "deleted"), "the fixture has a deleted run");

        for w in want {
            let run = store.read_run(w["run_id"].as_str().unwrap()).unwrap();
            let status: RunStatus = serde_json::from_value(w["status"].clone()).unwrap();
            let meta = RunMeta {
                run_id: w["run_id"].as_str().unwrap().into(),
                experiment_id: w["experiment_id"].as_str().unwrap().into(),
                run_name: opt_str(&w["run_name"]),
                user_id: opt_str(&w["user_id"]),
                status,
                start_time: w["start_time"].as_i64(),
                end_time: w["end_time"].as_i64(),
                lifecycle_stage: w["lifecycle_stage"].as_str().unwrap().into(),
                artifact_uri: opt_str(&w["artifact_uri"]),
            };
            assert_eq!(run.meta, meta, "{}", fixture.display());
            assert_eq!(run.params, string_map(&w["params"]));
            assert_eq!(run.tags, string_map(&w["tags"]));
            assert_eq!(run.origin.experiment_name.as_ref(), names.get(&meta.experiment_id));
            assert_eq!(run.origin.tracking_uri, Some(store.uri()));

            let metrics = w["metrics"].as_object().unwrap();
            assert_eq!(run.metrics.keys().collect::<Vec<_>>(), metrics.keys().collect::<Vec<_>>());
            for (key, points) in metrics {
                let want: Vec<MetricPoint> = points
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| MetricPoint {
                        value: float(&p["value"]),
                        timestamp: p["timestamp"].as_i64().unwrap(),
                        step: p["step"].as_i64().unwrap(),
                    })
                    .collect();
                let keys = |ps: &[MetricPoint]| ps.iter().map(MetricPoint::key).collect::<Vec<_>>();
                assert_eq!(keys(&run.metrics[key]), keys(&want), "{key} of {}", meta.run_id);
            }

            let inputs: Vec<DatasetInput> = w["dataset_inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| DatasetInput {
                    tags: string_map(&i["tags"]).iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
                    dataset: serde_json::from_value(i["dataset"].clone()).unwrap(),
                })
                .collect();
            assert_eq!(run.dataset_inputs, inputs, "{}", meta.run_id);
            let models: Vec<ModelInput> = w["model_inputs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| ModelInput { model_id: m.as_str().unwrap().into() })
                .collect();
            assert_eq!(run.model_inputs, models, "{}", meta.run_id);
            let outputs: Vec<ModelOutput> = serde_json::from_value(w["model_outputs"].clone()).unwrap();
            assert_eq!(run.model_outputs, outputs, "{}", meta.run_id);

            let mut files: Vec<String> = match store.artifact_dir(&run.meta) {
                Some(dir) => {
                    crate::store::local::list_files_blocking(&dir).unwrap().into_iter().map(|f| f.path).collect()
                }
                None => Vec::new(),
            };
            files.sort();
            let want_files: Vec<String> =
                w["artifacts"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect();
            assert_eq!(files, want_files, "artifacts of {}", meta.run_id);
        }
        let parent = want.iter().find(|w| w["run_name"] == "parent").unwrap();
        let loss = &parent["metrics"]["loss"];
        assert!(loss.as_array().unwrap().iter().any(|p| p["value"] == "NaN"), "the fixture has a NaN point");
        assert!(!parent["dataset_inputs"].as_array().unwrap().is_empty(), "the fixture has a dataset input");
        if want.iter().any(|w| !w["model_outputs"].as_array().unwrap().is_empty()) {
            let child = want.iter().find(|w| w["run_name"] == "child").unwrap();
            assert!(!child["model_inputs"].as_array().unwrap().is_empty(), "a 3.x fixture has a model input");
            assert!(!child["metrics"]["val"].is_null(), "a 3.x fixture has a metric point naming a dataset");
        }
    }
}

#[test]
fn models_match_the_official_client() {
    for fixture in fixtures() {
        let store = Mlruns::open(fixture.join("mlruns").to_str().unwrap()).unwrap();
        let want = expected(&fixture);
        let runs = want["runs"].as_array().unwrap();
        let experiments = want["experiments"].as_array().unwrap();
        let got = store.registered_models().unwrap();
        let want = want["models"].as_array().unwrap();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            let versions = w["versions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let run = runs.iter().find(|r| r["run_id"] == v["run_id"]).unwrap();
                    let experiment = experiments.iter().find(|e| e["experiment_id"] == run["experiment_id"]).unwrap();
                    ModelVersionRecord {
                        version: v["version"].as_str().unwrap().into(),
                        description: opt_str(&v["description"]).filter(|d| !d.is_empty()),
                        tags: string_map(&v["tags"]),
                        current_stage: opt_str(&v["current_stage"]),
                        source: v["source"].as_str().unwrap().into(),
                        run_id: opt_str(&v["run_id"]),
                        run_link: opt_str(&v["run_link"]).filter(|l| !l.is_empty()),
                        status: opt_str(&v["status"]),
                        user_id: opt_str(&v["user_id"]),
                        creation_timestamp: v["creation_timestamp"].as_i64(),
                        last_updated_timestamp: v["last_updated_timestamp"].as_i64(),
                        run_artifact_uri: opt_str(&run["artifact_uri"]),
                        experiment_name: opt_str(&experiment["name"]),
                    }
                })
                .collect();
            let expect = RegisteredModelRecord {
                name: w["name"].as_str().unwrap().into(),
                description: opt_str(&w["description"]).filter(|d| !d.is_empty()),
                tags: string_map(&w["tags"]),
                aliases: string_map(&w["aliases"]),
                creation_timestamp: w["creation_timestamp"].as_i64(),
                last_updated_timestamp: w["last_updated_timestamp"].as_i64(),
                versions,
            };
            assert_eq!(g, &expect, "{}", fixture.display());
            assert!(g.versions.iter().any(|v| v.current_stage.as_deref() == Some("Production")));
            assert!(!g.aliases.is_empty());
        }
    }
}

/// A store with one experiment `1` holding run [`RUN`], whose meta.yaml names `run_id`.
fn tiny_store(run_id: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let exp = tmp.path().join("1");
    fs::create_dir_all(exp.join(RUN)).unwrap();
    fs::write(exp.join("meta.yaml"), "experiment_id: '1'\nname: e\nlifecycle_stage: active\n").unwrap();
    fs::write(
        exp.join(RUN).join("meta.yaml"),
        format!("run_id: {run_id}\nrun_uuid: {run_id}\nexperiment_id: '1'\nstatus: 3\nlifecycle_stage: active\n"),
    )
    .unwrap();
    tmp
}

#[test]
fn refuses_what_is_not_an_mlruns_folder() {
    let err = Mlruns::open("/no/such/mlruns").unwrap_err().to_string();
    assert_eq!(err, "/no/such/mlruns: no such mlruns folder");
    let empty = tempfile::tempdir().unwrap();
    let err = Mlruns::open(empty.path().to_str().unwrap()).unwrap_err().to_string();
    assert!(err.starts_with(&format!("{}: not an mlruns folder", empty.path().display())), "{err}");
    assert!(err.contains("meta.yaml"), "{err}");
    fs::create_dir_all(empty.path().join("models/m")).unwrap();
    assert!(Mlruns::open(empty.path().to_str().unwrap()).is_err(), "a models/ folder alone is no registry");
    fs::write(empty.path().join("models/m/meta.yaml"), "name: m\n").unwrap();
    assert!(Mlruns::open(empty.path().to_str().unwrap()).is_ok(), "a registry-only store");
    let err = Mlruns::open("s3://bucket/mlruns").unwrap_err().to_string();
    assert!(err.contains("not a file store"), "{err}");
}

#[test]
fn a_run_whose_meta_names_another_run_is_an_error() {
    let tmp = tiny_store("fedcba9876543210fedcba9876543210");
    let store = Mlruns::open(tmp.path().to_str().unwrap()).unwrap();
    let err = store.read_run(RUN).unwrap_err().to_string();
    assert!(err.contains(RUN) && err.contains("fedcba9876543210fedcba9876543210"), "{err}");
    assert!(err.contains("not its folder's name"), "{err}");
    assert!(store.runs("1", true).is_err());

    let moved = tiny_store(RUN);
    fs::write(moved.path().join("1/meta.yaml"), "experiment_id: '2'\nname: e\n").unwrap();
    let store = Mlruns::open(moved.path().to_str().unwrap()).unwrap();
    let err = store.experiments(false).unwrap_err().to_string();
    assert!(err.contains("experiment_id \"2\"") && err.contains("not its folder's name"), "{err}");
    assert!(store.read_run(RUN).is_err(), "the run's experiment_id is not its folder's either");

    let good = tiny_store(RUN);
    let store = Mlruns::open(good.path().to_str().unwrap()).unwrap();
    assert_eq!(store.read_run(RUN).unwrap().meta.status, RunStatus::Finished);
}

#[test]
fn refuses_ids_that_are_paths() {
    let tmp = tiny_store(RUN);
    let store = Mlruns::open(tmp.path().to_str().unwrap()).unwrap();
    for id in ["../x", "..", "1/..", "/etc", "a/b", ""] {
        let err = store.read_run(id).unwrap_err().to_string();
        assert!(err.contains("unsafe run id"), "{id}: {err}");
        assert!(store.runs(id, true).unwrap_err().to_string().contains("unsafe experiment id"), "{id}");
    }
    assert!(store.runs(".trash", true).is_err());
}

#[test]
fn metric_lines_as_mlflow_writes_them() {
    let p = parse_metric_line("1704067200000 nan 3").unwrap();
    assert!(p.value.is_nan() && p.step == 3);
    assert_eq!(parse_metric_line("5 inf 1").unwrap().value, f64::INFINITY);
    assert_eq!(parse_metric_line("5 -inf 1").unwrap().value, f64::NEG_INFINITY);
    assert_eq!(parse_metric_line("5 1e-05").unwrap(), MetricPoint { value: 1e-5, timestamp: 5, step: 0 });
    assert_eq!(parse_metric_line("5 0.5 7 train b064d295").unwrap(), MetricPoint { value: 0.5, timestamp: 5, step: 7 });
    for bad in ["5", "x 1 2", "5 1 2 3", "5 1 2.5", "5 1 2 a b c"] {
        assert!(parse_metric_line(bad).is_none(), "{bad}");
    }
}

#[test]
fn falls_back_to_the_run_folder_when_the_artifact_uri_leads_nowhere() {
    let tmp = tiny_store(RUN);
    let store = Mlruns::open(tmp.path().to_str().unwrap()).unwrap();
    let local = store.root().join("1").join(RUN).join("artifacts");
    fs::create_dir_all(&local).unwrap();
    let mut meta = store.read_run(RUN).unwrap().meta;
    meta.artifact_uri = Some(format!("file:///gone/cluster/mlruns/1/{RUN}/artifacts"));
    assert_eq!(store.artifact_dir(&meta), Some(local.clone()));
    meta.artifact_uri = Some(store.root().display().to_string());
    assert_eq!(store.artifact_dir(&meta), Some(store.root().to_path_buf()), "an existing path is used as it is");
    meta.artifact_uri = Some("s3://bucket/a".into());
    assert_eq!(store.artifact_dir(&meta), None);
}

#[test]
fn refuses_symlinks() {
    let tmp = tiny_store(RUN);
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), "s").unwrap();
    fs::create_dir_all(tmp.path().join("1").join(RUN).join("params")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), tmp.path().join("1").join(RUN).join("params/p")).unwrap();
    let store = Mlruns::open(tmp.path().to_str().unwrap()).unwrap();
    let err = store.read_run(RUN).unwrap_err().to_string();
    assert!(err.contains("symlinks are not allowed"), "{err}");
}
