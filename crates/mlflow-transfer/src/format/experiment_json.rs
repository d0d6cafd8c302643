//! An experiment export folder (`export-experiment`) and a bulk one (`export-experiments`).
//!
//! Three layouts of the experiment folder exist (upstream-format.md §2.9): the seed-era
//! `manifest.json` (`{experiment, export_info, run_ids | "run-ids", …}`, 2020-11 → 2022-06; the
//! releases 1.0 and 1.1 list the runs as `export_info.ok_runs` instead, until 2022-12),
//! the `experiment.json` envelope with runs at `<dir>/<run_id>/` (2022-12 → 2025-10) and the same
//! envelope with runs at `<dir>/runs/<run_id>/` (2025-10 on). The last two differ only on disk,
//! not in the file, so where each run lives is decided by looking at the folders.
//!
//! A bulk export lists its experiments in `experiments.json` (or, before 1.2, `manifest.json`),
//! each in `<dir>/<id>/`; `export-all` and `export-models` put the same tree under
//! `<dir>/experiments/`.
//!
//! Ids read from these files become folder names, so an id that is not a single plain path
//! segment is refused rather than joined: a crafted `"../.."` must not reach outside the export.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::json::{has_shard_parts, insert_opt, read_json, system_value, utc_text, ExportSystem, FormatError, Obj};
use crate::model::ExperimentRecord;
use crate::paths::is_single_segment;

const EXPERIMENT_FILE: &str = "experiment.json";
const EXPERIMENTS_FILE: &str = "experiments.json";
const MANIFEST_FILE: &str = "manifest.json";
const RUNS_DIR: &str = "runs";
const EXPERIMENTS_DIR: &str = "experiments";

/// Which historical layout an experiment export folder was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExperimentLayout {
    /// Pre-1.0 and 1.x: `manifest.json` (briefly named `experiment.json` in Dec 2022), runs at
    /// `<dir>/<run_id>/`.
    Manifest,
    /// 2022-12 → 2025-10: `experiment.json` envelope, runs at `<dir>/<run_id>/`.
    Envelope,
    /// 2025-10 on: `experiment.json` envelope, runs at `<dir>/runs/<run_id>/`.
    Envelope2025,
}

/// A run listed by an experiment export, and the folder holding its `run.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedRun {
    pub run_id: String,
    /// Where the run should be; it may not exist, which the caller reports for that run alone.
    pub dir: PathBuf,
}

/// A parsed experiment export folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentDir {
    pub experiment: ExperimentRecord,
    /// In the order the export lists them.
    pub runs: Vec<ExportedRun>,
    /// Runs the exporter could not export; they have no folder.
    pub failed_run_ids: Vec<String>,
    pub layout: ExperimentLayout,
    /// The source server, without credentials.
    pub tracking_uri: Option<String>,
}

/// One experiment's outcome in a bulk export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentSummary {
    pub id: String,
    pub name: String,
    pub ok_runs: usize,
    pub failed_runs: usize,
}

/// One experiment listed by a bulk export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentEntry {
    pub id: String,
    pub name: String,
    /// The experiment's export folder, to pass to [`read_experiment_dir`].
    pub dir: PathBuf,
}

/// Renders `experiment.json` in the Python tool's current layout. `run_ids` are the runs
/// exported, to be written at `<dir>/runs/<run_id>/`; `failed_run_ids` those that were not.
pub fn write_experiment_json(
    exp: &ExperimentRecord,
    system: &ExportSystem,
    run_ids: &[String],
    failed_run_ids: &[String],
) -> Value {
    let mut experiment = Map::new();
    experiment.insert("experiment_id".into(), exp.experiment_id.clone().into());
    experiment.insert("name".into(), exp.name.clone().into());
    insert_opt(&mut experiment, "artifact_location", &exp.artifact_location);
    experiment.insert("lifecycle_stage".into(), exp.lifecycle_stage.clone().into());
    // Always an object, even empty: the Python importer passes it straight to `set_experiment`.
    experiment.insert("tags".into(), json!(exp.tags));
    insert_opt(&mut experiment, "creation_time", &exp.creation_time);
    insert_opt(&mut experiment, "last_update_time", &exp.last_update_time);
    insert_opt(&mut experiment, "_creation_time", &exp.creation_time.map(|ms| utc_text(ms.div_euclid(1000))));
    insert_opt(&mut experiment, "_last_update_time", &exp.last_update_time.map(|ms| utc_text(ms.div_euclid(1000))));
    json!({
        "system": system_value(system),
        "info": {
            "num_total_runs": run_ids.len() + failed_run_ids.len(),
            "num_ok_runs": run_ids.len(),
            "num_failed_runs": failed_run_ids.len(),
            "failed_runs": failed_run_ids,
        },
        "mlflow": mlflow_section(exp, experiment, run_ids),
    })
}

/// The `mlflow` object: the experiment, its runs, and (only when exported) its permissions.
fn mlflow_section(exp: &ExperimentRecord, experiment: Map<String, Value>, run_ids: &[String]) -> Value {
    let mut mlflow = json!({"experiment": experiment, "runs": run_ids});
    if let Some(permissions) = &exp.permissions {
        mlflow["permissions"] = permissions.clone();
    }
    mlflow
}

/// Reads an experiment export folder of any historical layout.
pub fn read_experiment_dir(dir: &Path) -> Result<ExperimentDir, FormatError> {
    let path =
        [EXPERIMENT_FILE, MANIFEST_FILE].iter().map(|name| dir.join(name)).find(|p| p.is_file()).ok_or_else(|| {
            FormatError::NotAnExport {
                dir: dir.to_path_buf(),
                what: "an experiment export: neither experiment.json nor manifest.json",
            }
        })?;
    let root = read_json(&path)?;
    parse_experiment(dir, &root).map_err(|what| FormatError::Shape { path, what })
}

/// Renders `experiments.json` in the Python tool's current layout; each experiment belongs at
/// `<out>/<id>/`.
pub fn write_experiments_json(system: &ExportSystem, experiments: &[ExperimentSummary]) -> Value {
    let ok_runs: usize = experiments.iter().map(|e| e.ok_runs).sum();
    let failed_runs: usize = experiments.iter().map(|e| e.failed_runs).sum();
    json!({
        "system": system_value(system),
        "info": {
            "experiments": experiments.len(),
            "total_runs": ok_runs + failed_runs,
            "ok_runs": ok_runs,
            "failed_runs": failed_runs,
            "experiment_names": experiments.iter().map(|e| e.name.as_str()).collect::<Vec<_>>(),
        },
        "mlflow": {
            "experiments": experiments
                .iter()
                .map(|e| json!({"id": e.id, "name": e.name, "ok_runs": e.ok_runs, "failed_runs": e.failed_runs}))
                .collect::<Vec<_>>(),
        },
    })
}

/// Lists the experiments of a bulk export (`export-experiments`, or the `experiments/` part of
/// `export-all`/`export-models`) of any historical layout.
pub fn read_experiments_dir(dir: &Path) -> Result<Vec<ExperimentEntry>, FormatError> {
    // `export-all` and `export-models` also write a top-level `manifest.json` that lists no
    // experiments (1.2 on: an empty `mlflow`; 1.0 and 1.1: only `info`), so the `experiments/`
    // folder, where 1.0 and 1.1 put their own `manifest.json`, is looked at before the seed-era
    // manifest.
    let nested = dir.join(EXPERIMENTS_DIR);
    let candidates = [
        (dir.join(EXPERIMENTS_FILE), dir),
        (nested.join(EXPERIMENTS_FILE), nested.as_path()),
        (nested.join(MANIFEST_FILE), nested.as_path()),
        (dir.join(MANIFEST_FILE), dir),
    ];
    let (path, base) = candidates.into_iter().find(|(p, _)| p.is_file()).ok_or_else(|| FormatError::NotAnExport {
        dir: dir.to_path_buf(),
        what: if has_shard_parts(dir, "experiments") {
            "a complete export yet: its shards' parts of experiments.json are there, but not every \
             shard has finished (the last one writes experiments.json)"
        } else {
            "an experiments export: no experiments.json, experiments/experiments.json, \
             experiments/manifest.json or manifest.json"
        },
    })?;
    let root = read_json(&path)?;
    parse_experiments(base, &root).map_err(|what| FormatError::Shape { path, what })
}

fn parse_experiment(dir: &Path, root: &Value) -> Result<ExperimentDir, String> {
    let root = Obj::top(root)?;
    if let Some(mlflow) = root.object("mlflow")? {
        read_envelope(dir, &root, &mlflow)
    } else if root.get("experiment").is_some() {
        read_manifest(dir, &root)
    } else {
        Err("neither `mlflow` (1.2+ envelope) nor `experiment` (older manifest) present".into())
    }
}

fn read_envelope(dir: &Path, root: &Obj, mlflow: &Obj) -> Result<ExperimentDir, String> {
    let mut experiment = read_experiment(&mlflow.required_object("experiment")?)?;
    // Checked to be an object; its entries are checked when imported.
    experiment.permissions = mlflow.object("permissions")?.and(mlflow.get("permissions").cloned());
    let run_ids = mlflow.id_list("runs")?.ok_or_else(|| mlflow.missing("runs"))?;
    let failed_run_ids = match root.object("info")? {
        Some(info) => info.id_list("failed_runs")?.unwrap_or_default(),
        None => Vec::new(),
    };
    let tracking_uri = match root.object("system")? {
        Some(system) => system.opt_str("mlflow_tracking_uri")?,
        None => None,
    };

    // The file is the same before and after the Oct-2025 move of runs into `runs/`, so the
    // folders decide. A run found in neither place is given the current path; with no run
    // folder at all to go by, the current layout is assumed.
    let nested = |id: &str| dir.join(RUNS_DIR).join(id);
    let flat = |id: &str| dir.join(id);
    let layout = if !run_ids.iter().any(|id| nested(id).is_dir()) && run_ids.iter().any(|id| flat(id).is_dir()) {
        ExperimentLayout::Envelope
    } else {
        ExperimentLayout::Envelope2025
    };
    let runs = run_ids
        .into_iter()
        .map(|run_id| {
            let dir = if !nested(&run_id).is_dir() && flat(&run_id).is_dir() { flat(&run_id) } else { nested(&run_id) };
            ExportedRun { run_id, dir }
        })
        .collect();
    Ok(ExperimentDir {
        experiment,
        runs,
        failed_run_ids,
        layout,
        tracking_uri: tracking_uri.map(|u| mlflow_client::redact(&u)),
    })
}

fn read_manifest(dir: &Path, root: &Obj) -> Result<ExperimentDir, String> {
    let experiment = read_experiment(&root.required_object("experiment")?)?;
    let export_info = root.object("export_info")?;
    // The README of the time wrote `run-ids`, the code `run_ids`; both shipped. Releases 1.0 and
    // 1.1 (2022-06 → 2022-12) list them in `export_info` as `ok_runs` / `failed_runs` instead.
    let info_list = |key: &str| match &export_info {
        Some(info) => info.id_list(key),
        None => Ok(None),
    };
    let run_ids = match (root.id_list("run_ids")?, root.id_list("run-ids")?) {
        (Some(ids), _) | (None, Some(ids)) => ids,
        (None, None) => info_list("ok_runs")?
            .ok_or_else(|| "`run_ids` (or `run-ids`, or `export_info.ok_runs`) missing".to_string())?,
    };
    let failed_run_ids = match (root.id_list("failed_run_ids")?, root.id_list("failed_run-ids")?) {
        (Some(ids), _) | (None, Some(ids)) => ids,
        (None, None) => info_list("failed_runs")?.unwrap_or_default(),
    };
    let tracking_uri = match &export_info {
        Some(info) => info.opt_str("mlflow_tracking_uri")?,
        None => None,
    };
    let runs = run_ids.into_iter().map(|run_id| ExportedRun { dir: dir.join(&run_id), run_id }).collect();
    Ok(ExperimentDir {
        experiment,
        runs,
        failed_run_ids,
        layout: ExperimentLayout::Manifest,
        tracking_uri: tracking_uri.map(|u| mlflow_client::redact(&u)),
    })
}

fn read_experiment(exp: &Obj) -> Result<ExperimentRecord, String> {
    Ok(ExperimentRecord {
        permissions: None,
        experiment_id: exp.opt_id("experiment_id")?.ok_or_else(|| exp.missing("experiment_id"))?,
        name: exp.opt_str("name")?.ok_or_else(|| exp.missing("name"))?,
        lifecycle_stage: exp.opt_str("lifecycle_stage")?.unwrap_or_else(|| "active".into()),
        artifact_location: exp.opt_str("artifact_location")?,
        creation_time: exp.opt_int("creation_time")?,
        last_update_time: exp.opt_int("last_update_time")?,
        tags: exp.tags("tags")?,
    })
}

fn parse_experiments(base: &Path, root: &Value) -> Result<Vec<ExperimentEntry>, String> {
    let root = Obj::top(root)?;
    let (parent, items) = if let Some(mlflow) = root.object("mlflow")? {
        let items = mlflow.list("experiments")?;
        (mlflow, items)
    } else {
        let items = root.list("experiments")?;
        (root, items)
    };
    let items = items.ok_or_else(|| parent.missing("experiments"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let entry = Obj::at(item, format!("{}[{i}]", parent.child_path("experiments")))?;
            let id = entry.opt_id("id")?.ok_or_else(|| entry.missing("id"))?;
            if !is_single_segment(&id) {
                return Err(format!("{} is not a folder name: {id:?}", entry.path_of("id")));
            }
            let name = entry.opt_str("name")?.ok_or_else(|| entry.missing("name"))?;
            Ok(ExperimentEntry { dir: base.join(&id), id, name })
        })
        .collect()
}

/// Experiment-export reading that [`Obj`] does not cover in general: ids become folder names.
impl Obj<'_> {
    /// A list of ids; each must be one plain path segment, since run ids are joined onto the
    /// export folder.
    fn id_list(&self, key: &str) -> Result<Option<Vec<String>>, String> {
        let Some(items) = self.list(key)? else {
            return Ok(None);
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let id = match item {
                    Value::String(s) => s.clone(),
                    Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
                    other => return Err(format!("`{}[{i}]` is not an id: {other}", self.child_path(key))),
                };
                if is_single_segment(&id) {
                    Ok(id)
                } else {
                    Err(format!("`{}[{i}]` is not a folder name: {id:?}", self.child_path(key)))
                }
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::format::run_json::{read_run_json, Layout};

    const SEED_A: &str = "c62bf5aae36d4876bcb77bde40b6bccd";
    const SEED_B: &str = "f09a737ea3414df181adc11726a9ed45";
    const PARENT_2023: &str = "d0e1df6de6b64e6da6d5348d60a55491";
    const CHILD_2023: &str = "02139b9773c249e8909e832e9cd7c43c";
    const FAILED_2023: &str = "6c67bb21e4d34e5082a392dc66540a27";
    const RUN_2025_A: &str = "02902bce67214048861e3e4fbd5dae3e";
    const RUN_2025_B: &str = "7359d81383e74902a03577f691db8abe";
    const BULK_1: &str = "4925291073c5432eadd0e349569c833a";
    const BULK_7: &str = "f12fba54c81f40708fc07cedc2a51a58";

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    fn fixture(name: &str) -> (PathBuf, ExperimentDir) {
        let dir = fixtures().join("experiment").join(name);
        let exp = read_experiment_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        (dir, exp)
    }

    fn run_ids(exp: &ExperimentDir) -> Vec<&str> {
        exp.runs.iter().map(|r| r.run_id.as_str()).collect()
    }

    /// Each listed run's folder holds a `run.json` of `layout` for that run, plus artifacts.
    fn assert_runs_readable(exp: &ExperimentDir, layout: Layout) {
        for run in &exp.runs {
            let path = run.dir.join("run.json");
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rj = read_run_json(Path::new("run.json"), &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(rj.layout, layout, "{}", path.display());
            assert_eq!(rj.run.meta.run_id, run.run_id);
            assert_eq!(rj.run.meta.experiment_id, exp.experiment.experiment_id);
            assert!(run.dir.join("artifacts").read_dir().unwrap().next().is_some());
        }
    }

    fn system() -> ExportSystem {
        ExportSystem {
            package_version: "0.1.0".into(),
            script: "export-experiment".into(),
            export_time: 1721364374,
            mlflow_version: Some("2.14.3".into()),
            mlflow_tracking_uri: Some("http://src:5000".into()),
            user: Some("andre".into()),
        }
    }

    fn sample_experiment() -> ExperimentRecord {
        ExperimentRecord {
            permissions: None,
            experiment_id: "42".into(),
            name: "/Users/josé/exp".into(),
            lifecycle_stage: "deleted".into(),
            artifact_location: Some("s3://bucket/42".into()),
            creation_time: Some(1684623705797),
            last_update_time: Some(1684623706000),
            tags: BTreeMap::from([
                ("mlflow.note.content".into(), "line 1\nline \"2\"".into()),
                ("team".into(), "ü".into()),
            ]),
        }
    }

    fn write(path: &Path, v: &Value) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn seed_era_fixture() {
        let (dir, exp) = fixture("seed-era");
        assert_eq!(exp.layout, ExperimentLayout::Manifest);
        assert_eq!(
            exp.experiment,
            ExperimentRecord {
                permissions: None,
                experiment_id: "2".into(),
                name: "sklearn_wine".into(),
                lifecycle_stage: "active".into(),
                artifact_location: Some("/opt/mlflow/server/mlruns/2".into()),
                creation_time: None,
                last_update_time: None,
                tags: BTreeMap::new(),
            }
        );
        assert_eq!(
            exp.runs,
            vec![
                ExportedRun { run_id: SEED_A.into(), dir: dir.join(SEED_A) },
                ExportedRun { run_id: SEED_B.into(), dir: dir.join(SEED_B) },
            ]
        );
        assert!(exp.failed_run_ids.is_empty());
        assert_eq!(exp.tracking_uri, None);
        assert_runs_readable(&exp, Layout::Pre1_0);
    }

    #[test]
    fn envelope_2023_fixture_with_a_nested_run() {
        let (dir, exp) = fixture("envelope-2023");
        assert_eq!(exp.layout, ExperimentLayout::Envelope);
        assert_eq!(exp.experiment.experiment_id, "3");
        assert_eq!(exp.experiment.name, "sklearn_iris");
        assert_eq!(exp.experiment.artifact_location.as_deref(), Some("mlflow-artifacts:/3"));
        assert_eq!(exp.experiment.creation_time, Some(1690270812345));
        assert_eq!(exp.experiment.last_update_time, Some(1690270812345));
        assert_eq!(
            exp.experiment.tags,
            BTreeMap::from([
                ("experiment_created".into(), "2023-07-25 07:40:12".into()),
                ("version_mlflow".into(), "2.5.0".into()),
            ])
        );
        assert_eq!(run_ids(&exp), [CHILD_2023, PARENT_2023]);
        assert!(exp.runs.iter().all(|r| r.dir == dir.join(&r.run_id)));
        assert_eq!(exp.failed_run_ids, [FAILED_2023]);
        assert_eq!(exp.tracking_uri.as_deref(), Some("http://127.0.0.1:5020"));
        assert_runs_readable(&exp, Layout::Envelope2023);

        let child =
            read_run_json(Path::new("run.json"), &std::fs::read(dir.join(CHILD_2023).join("run.json")).unwrap())
                .unwrap()
                .run;
        assert_eq!(child.tags["mlflow.parentRunId"], PARENT_2023);
        assert_eq!(child.tags["mlflow.rootRunId"], PARENT_2023);
    }

    #[test]
    fn envelope_2025_fixture() {
        let (dir, exp) = fixture("envelope-2025");
        assert_eq!(exp.layout, ExperimentLayout::Envelope2025);
        assert_eq!(exp.experiment.experiment_id, "12");
        assert_eq!(exp.experiment.name, "/Shared/wine-pricing");
        assert_eq!(
            exp.experiment.tags,
            BTreeMap::from([
                ("mlflow.note.content".into(), "Wine price regression.\nOwner: pricing team.".into()),
                ("mlflow.experimentKind".into(), "custom_model_development".into()),
                ("team".into(), "pricing".into()),
            ])
        );
        assert_eq!(run_ids(&exp), [RUN_2025_B, RUN_2025_A]);
        assert!(exp.runs.iter().all(|r| r.dir == dir.join("runs").join(&r.run_id)));
        assert!(exp.failed_run_ids.is_empty());
        assert_eq!(exp.tracking_uri.as_deref(), Some("http://mlflow.internal:5000"));
        assert_runs_readable(&exp, Layout::Envelope2025);
    }

    #[test]
    fn writes_the_python_tools_current_layout() {
        let v = write_experiment_json(&sample_experiment(), &system(), &ids(&["r1", "r2"]), &ids(&["r3"]));
        assert_eq!(
            v,
            json!({
                "system": {
                    "package_version": "0.1.0",
                    "script": "export-experiment",
                    "export_file_version": "2",
                    "export_time": 1721364374,
                    "_export_time": "2024-07-19 04:46:14",
                    "mlflow_version": "2.14.3",
                    "mlflow_tracking_uri": "http://src:5000",
                    "user": "andre",
                },
                "info": {"num_total_runs": 3, "num_ok_runs": 2, "num_failed_runs": 1, "failed_runs": ["r3"]},
                "mlflow": {
                    "experiment": {
                        "experiment_id": "42",
                        "name": "/Users/josé/exp",
                        "artifact_location": "s3://bucket/42",
                        "lifecycle_stage": "deleted",
                        "tags": {"mlflow.note.content": "line 1\nline \"2\"", "team": "ü"},
                        "creation_time": 1684623705797_i64,
                        "last_update_time": 1684623706000_i64,
                        "_creation_time": "2023-05-20 23:01:45",
                        "_last_update_time": "2023-05-20 23:01:46",
                    },
                    "runs": ["r1", "r2"],
                },
            })
        );

        let bare = ExperimentRecord {
            experiment_id: "0".into(),
            name: "Default".into(),
            lifecycle_stage: "active".into(),
            ..Default::default()
        };
        let v = write_experiment_json(&bare, &system(), &[], &[]);
        assert_eq!(
            v["mlflow"]["experiment"],
            json!({"experiment_id": "0", "name": "Default", "lifecycle_stage": "active", "tags": {}})
        );
        assert_eq!(v["mlflow"]["runs"], json!([]));
    }

    #[test]
    fn write_then_read_round_trips_the_current_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let exp = sample_experiment();
        let system = ExportSystem { mlflow_tracking_uri: Some("https://user:secret@src:5000/path".into()), ..system() };
        let runs = ids(&["aa", "bb"]);
        write(&tmp.path().join("experiment.json"), &write_experiment_json(&exp, &system, &runs, &ids(&["cc"])));
        for id in &runs {
            std::fs::create_dir_all(tmp.path().join("runs").join(id)).unwrap();
        }
        let back = read_experiment_dir(tmp.path()).unwrap();
        assert_eq!(
            back,
            ExperimentDir {
                experiment: exp,
                runs: runs
                    .iter()
                    .map(|id| ExportedRun { run_id: id.clone(), dir: tmp.path().join("runs").join(id) })
                    .collect(),
                failed_run_ids: ids(&["cc"]),
                layout: ExperimentLayout::Envelope2025,
                tracking_uri: Some("https://src:5000/path".into()),
            }
        );
    }

    #[test]
    fn a_listed_run_missing_on_disk_is_returned_not_an_error() {
        let tmp = tempfile::tempdir().unwrap();
        let v = json!({"mlflow": {"experiment": {"experiment_id": "1", "name": "e"}, "runs": ["here", "gone"]}});
        write(&tmp.path().join("experiment.json"), &v);
        std::fs::create_dir(tmp.path().join("here")).unwrap();
        let exp = read_experiment_dir(tmp.path()).unwrap();
        assert_eq!(exp.layout, ExperimentLayout::Envelope);
        assert_eq!(
            exp.runs,
            vec![
                ExportedRun { run_id: "here".into(), dir: tmp.path().join("here") },
                ExportedRun { run_id: "gone".into(), dir: tmp.path().join("runs/gone") },
            ]
        );

        let tmp = tempfile::tempdir().unwrap();
        let v = json!({"experiment": {"experiment_id": "1", "name": "e"}, "run_ids": ["gone"]});
        write(&tmp.path().join("manifest.json"), &v);
        let exp = read_experiment_dir(tmp.path()).unwrap();
        assert_eq!(exp.runs[0].dir, tmp.path().join("gone"));
    }

    #[test]
    fn rest_list_tags_numeric_ids_and_defaults() {
        let tmp = tempfile::tempdir().unwrap();
        let v = json!({
            "system": {"mlflow_tracking_uri": null},
            "mlflow": {
                "experiment": {
                    "experiment_id": 1280664374380606u64,
                    "name": "/Users/a@b.com/wine",
                    "creation_time": "1684623705797",
                    "tags": [
                        {"key": "mlflow.note.content", "value": "desc"},
                        {"key": "mlflow.ownerId", "value": 7},
                        {"key": "empty"},
                    ],
                },
                "runs": [],
            },
        });
        write(&tmp.path().join("experiment.json"), &v);
        let exp = read_experiment_dir(tmp.path()).unwrap();
        assert_eq!(exp.layout, ExperimentLayout::Envelope2025);
        assert_eq!(exp.experiment.experiment_id, "1280664374380606");
        assert_eq!(exp.experiment.lifecycle_stage, "active");
        assert_eq!(exp.experiment.creation_time, Some(1684623705797));
        assert_eq!(
            exp.experiment.tags,
            BTreeMap::from([
                ("mlflow.note.content".into(), "desc".into()),
                ("mlflow.ownerId".into(), "7".into()),
                ("empty".into(), String::new()),
            ])
        );
        assert!(exp.runs.is_empty() && exp.failed_run_ids.is_empty());
        assert_eq!(exp.tracking_uri, None);
    }

    /// Dec 2022 builds wrote the 1.x manifest under the new name for ten days.
    #[test]
    fn v1x_manifest_shape_in_either_file() {
        for file in ["manifest.json", "experiment.json"] {
            let tmp = tempfile::tempdir().unwrap();
            let v = json!({
                "experiment": {"experiment_id": 5, "name": "e", "lifecycle_stage": "deleted"},
                "export_info": {"export_time": "2022-06-01 10:00:00", "num_runs": 2, "mlflow_version": "1.26.0",
                                "mlflow_tracking_uri": "http://u:p@host:5000", "ok_runs": 1, "failed_runs": 1},
                "run_ids": ["r1"],
                "failed_run_ids": ["r2"],
            });
            write(&tmp.path().join(file), &v);
            std::fs::create_dir_all(tmp.path().join("r1")).unwrap();
            let exp = read_experiment_dir(tmp.path()).unwrap();
            assert_eq!(exp.layout, ExperimentLayout::Manifest, "{file}");
            assert_eq!(exp.experiment.experiment_id, "5");
            assert_eq!(exp.experiment.lifecycle_stage, "deleted");
            assert_eq!(run_ids(&exp), ["r1"]);
            assert_eq!(exp.runs[0].dir, tmp.path().join("r1"));
            assert_eq!(exp.failed_run_ids, ["r2"]);
            assert_eq!(exp.tracking_uri.as_deref(), Some("http://host:5000"));
        }
    }

    #[test]
    fn experiment_json_wins_over_a_stray_manifest() {
        let tmp = tempfile::tempdir().unwrap();
        write(
            &tmp.path().join("experiment.json"),
            &json!({"mlflow": {"experiment": {"experiment_id": "1", "name": "new"}, "runs": []}}),
        );
        write(&tmp.path().join("manifest.json"), &json!({}));
        assert_eq!(read_experiment_dir(tmp.path()).unwrap().experiment.name, "new");
    }

    #[test]
    fn malformed_json_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("experiment.json");
        for bad in [&b"{\"mlflow\": "[..], b"", b"\xff\xfe"] {
            std::fs::write(&path, bad).unwrap();
            let err = read_experiment_dir(tmp.path()).unwrap_err();
            assert!(matches!(err, FormatError::Json { .. }), "{err:?}");
            let prefix = format!("{}: malformed JSON: ", path.display());
            assert!(err.to_string().starts_with(&prefix), "{err}");
        }
        std::fs::remove_file(&path).unwrap();
        std::fs::write(tmp.path().join("experiments.json"), "[").unwrap();
        let err = read_experiments_dir(tmp.path()).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: malformed JSON: ", tmp.path().join("experiments.json").display())),
            "{err}"
        );
    }

    #[test]
    fn wrong_shapes_name_the_file_and_field() {
        let envelope = || json!({"mlflow": {"experiment": {"experiment_id": "1", "name": "e"}, "runs": []}});
        let manifest = || json!({"experiment": {"experiment_id": "1", "name": "e"}, "run-ids": []});
        let set = |mut v: Value, pointer: &str, value: Option<Value>| {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let parent = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            match value {
                Some(value) => parent.insert(key.into(), value),
                None => parent.remove(key),
            };
            v
        };
        let env = |pointer: &str, value: Option<Value>| ("experiment.json", set(envelope(), pointer, value));
        let man = |pointer: &str, value: Option<Value>| ("manifest.json", set(manifest(), pointer, value));
        let cases = [
            (env("/mlflow/runs", Some(json!("r1"))), "`mlflow.runs` is not a list"),
            (env("/mlflow/runs", None), "`mlflow.runs` missing"),
            (env("/mlflow/runs", Some(json!(["ok", {"id": 1}]))), "`mlflow.runs[1]` is not an id: {\"id\":1}"),
            (env("/mlflow/runs", Some(json!(["../../etc"]))), "`mlflow.runs[0]` is not a folder name: \"../../etc\""),
            (env("/mlflow/runs", Some(json!([""]))), "`mlflow.runs[0]` is not a folder name: \"\""),
            (env("/mlflow/experiment", None), "`mlflow.experiment` missing"),
            (env("/mlflow/experiment", Some(json!([]))), "`mlflow.experiment` is not an object"),
            (env("/mlflow/experiment/name", None), "`mlflow.experiment.name` missing"),
            (env("/mlflow/experiment/name", Some(json!(3))), "`mlflow.experiment.name` is not a string"),
            (
                env("/mlflow/experiment/experiment_id", Some(json!(1.5))),
                "`mlflow.experiment.experiment_id` is not a string",
            ),
            (
                env("/mlflow/experiment/creation_time", Some(json!("today"))),
                "`mlflow.experiment.creation_time` is not an integer",
            ),
            (
                env("/mlflow/experiment/tags", Some(json!("t"))),
                "`mlflow.experiment.tags` is neither an object nor a list of {key, value}",
            ),
            (env("/mlflow/experiment/tags", Some(json!([{"value": "v"}]))), "`mlflow.experiment.tags[0].key` missing"),
            (
                env("/mlflow/experiment/tags", Some(json!([{"key": "k"}, 1]))),
                "`mlflow.experiment.tags[1]` is not an object",
            ),
            (env("/info", Some(json!([]))), "`info` is not an object"),
            (env("/info", Some(json!({"failed_runs": 2}))), "`info.failed_runs` is not a list"),
            (env("/system", Some(json!({"mlflow_tracking_uri": 5}))), "`system.mlflow_tracking_uri` is not a string"),
            (env("/mlflow", Some(json!({}))), "`mlflow.experiment` missing"),
            (env("/mlflow", Some(json!(1))), "`mlflow` is not an object"),
            (man("/run-ids", Some(json!({}))), "`run-ids` is not a list"),
            (man("/run-ids", None), "`run_ids` (or `run-ids`, or `export_info.ok_runs`) missing"),
            (
                (
                    "manifest.json",
                    json!({"experiment": {"experiment_id": "1", "name": "e"}, "export_info": {"ok_runs": ["../x"]}}),
                ),
                "`export_info.ok_runs[0]` is not a folder name: \"../x\"",
            ),
            (man("/failed_run-ids", Some(json!("x"))), "`failed_run-ids` is not a list"),
            (man("/experiment/experiment_id", None), "`experiment.experiment_id` missing"),
            (
                man("/export_info", Some(json!({"mlflow_tracking_uri": []}))),
                "`export_info.mlflow_tracking_uri` is not a string",
            ),
            (
                ("manifest.json", json!({"info": {}, "experiments": []})),
                "neither `mlflow` (1.2+ envelope) nor `experiment` (older manifest) present",
            ),
            (("experiment.json", json!(["x"])), "the top level is not an object"),
        ];
        for ((file, v), want) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join(file);
            write(&path, &v);
            let err = read_experiment_dir(tmp.path()).unwrap_err();
            assert!(matches!(err, FormatError::Shape { .. }), "{err:?}");
            assert_eq!(err.to_string(), format!("{}: unexpected shape: {want}", path.display()));
        }
    }

    #[test]
    fn a_folder_without_an_export_file_is_not_an_export() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("experiment.json")).unwrap();
        assert_eq!(
            read_experiment_dir(tmp.path()).unwrap_err().to_string(),
            format!("{}: not an experiment export: neither experiment.json nor manifest.json", tmp.path().display())
        );
        assert_eq!(
            read_experiments_dir(tmp.path()).unwrap_err().to_string(),
            format!(
                "{}: not an experiments export: no experiments.json, experiments/experiments.json, \
                 experiments/manifest.json or manifest.json",
                tmp.path().display()
            )
        );
    }

    #[test]
    fn seed_era_bulk_fixture() {
        let dir = fixtures().join("experiments/seed-era");
        let entries = read_experiments_dir(&dir).unwrap();
        assert_eq!(
            entries,
            vec![
                ExperimentEntry { id: "1".into(), name: "sklearn".into(), dir: dir.join("1") },
                ExperimentEntry { id: "7".into(), name: "sparkml".into(), dir: dir.join("7") },
            ]
        );
        let expected = [("sklearn", BULK_1), ("sparkml", BULK_7)];
        for (entry, (name, run_id)) in entries.iter().zip(expected) {
            let exp = read_experiment_dir(&entry.dir).unwrap();
            assert_eq!(exp.layout, ExperimentLayout::Manifest);
            assert_eq!(exp.experiment.experiment_id, entry.id);
            assert_eq!(exp.experiment.name, name);
            assert_eq!(run_ids(&exp), [run_id]);
            assert_eq!(exp.runs[0].dir, entry.dir.join(run_id));
            assert_runs_readable(&exp, Layout::Pre1_0);
        }
    }

    fn summaries() -> Vec<ExperimentSummary> {
        vec![
            ExperimentSummary {
                id: "1280664374380606".into(),
                name: "/Users/x/Sklearn_Wine_ws".into(),
                ok_runs: 1,
                failed_runs: 0,
            },
            ExperimentSummary {
                id: "9195e233f19e49379b16c5f2d2b0c05f".into(),
                name: "/Repos/x/Keras_Mnist".into(),
                ok_runs: 1,
                failed_runs: 1,
            },
        ]
    }

    #[test]
    fn writes_experiments_json_in_the_current_layout() {
        let v = write_experiments_json(&system(), &summaries());
        assert_eq!(v["system"]["script"], "export-experiment");
        assert_eq!(
            v["info"],
            json!({"experiments": 2, "total_runs": 3, "ok_runs": 2, "failed_runs": 1,
                   "experiment_names": ["/Users/x/Sklearn_Wine_ws", "/Repos/x/Keras_Mnist"]})
        );
        assert_eq!(
            v["mlflow"],
            json!({"experiments": [
                {"id": "1280664374380606", "name": "/Users/x/Sklearn_Wine_ws", "ok_runs": 1, "failed_runs": 0},
                {"id": "9195e233f19e49379b16c5f2d2b0c05f", "name": "/Repos/x/Keras_Mnist", "ok_runs": 1, "failed_runs": 1},
            ]})
        );
    }

    #[test]
    fn written_experiments_json_reads_back_at_top_level_and_under_experiments() {
        let v = write_experiments_json(&system(), &summaries());
        for base in ["", "experiments"] {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join(base);
            write(&root.join("experiments.json"), &v);
            // export-all's own top-level manifest must not be mistaken for a seed-era one.
            write(&tmp.path().join("manifest.json"), &json!({"info": {}, "mlflow": {}}));
            let entries = read_experiments_dir(tmp.path()).unwrap();
            let want = summaries()
                .into_iter()
                .map(|s| ExperimentEntry { dir: root.join(&s.id), id: s.id, name: s.name })
                .collect::<Vec<_>>();
            assert_eq!(entries, want, "{base:?}");
        }
    }

    #[test]
    fn bulk_wrong_shapes_name_the_file_and_field() {
        let cases = [
            ("experiments.json", json!({"mlflow": {}}), "`mlflow.experiments` missing"),
            ("experiments.json", json!({"mlflow": {"experiments": {}}}), "`mlflow.experiments` is not a list"),
            (
                "experiments.json",
                json!({"mlflow": {"experiments": [{"name": "n"}]}}),
                "`mlflow.experiments[0].id` missing",
            ),
            (
                "experiments.json",
                json!({"mlflow": {"experiments": [{"id": "1"}]}}),
                "`mlflow.experiments[0].name` missing",
            ),
            ("experiments.json", json!({"mlflow": {"experiments": ["1"]}}), "`mlflow.experiments[0]` is not an object"),
            (
                "experiments.json",
                json!({"mlflow": {"experiments": [{"id": "a/b", "name": "n"}]}}),
                "`mlflow.experiments[0].id` is not a folder name: \"a/b\"",
            ),
            ("manifest.json", json!({"info": {}}), "`experiments` missing"),
            (
                "manifest.json",
                json!({"experiments": [{"id": "..", "name": "n"}]}),
                "`experiments[0].id` is not a folder name: \"..\"",
            ),
            (
                "manifest.json",
                json!({"experiments": [{"id": true, "name": "n"}]}),
                "`experiments[0].id` is not a string",
            ),
        ];
        for (file, v, want) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join(file);
            write(&path, &v);
            assert_eq!(
                read_experiments_dir(tmp.path()).unwrap_err().to_string(),
                format!("{}: unexpected shape: {want}", path.display())
            );
        }
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("manifest.json"), &json!({"experiments": [{"id": 7, "name": "n"}]}));
        assert_eq!(read_experiments_dir(tmp.path()).unwrap()[0].id, "7");
    }

    #[test]
    fn a_sharded_export_still_being_written_says_so() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("experiments.shard-1-of-2.json"), "[]").unwrap();
        let err = read_experiments_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("not a complete export yet") && err.contains("not every shard has finished"), "{err}");
    }

    /// Each release's `export-experiment` folder: the experiment, its three runs (1.0 and 1.1
    /// list them as `export_info.ok_runs`), each run as logged, the child naming its parent.
    #[test]
    fn reads_the_python_corpus_experiments() {
        use crate::format::corpus;
        for release in corpus::RELEASES {
            let expected = corpus::expected(release);
            let exp = read_experiment_dir(&corpus::dir(release).join("experiment")).unwrap_or_else(|e| panic!("{e}"));
            let layout = if corpus::is_1x(release) { ExperimentLayout::Manifest } else { ExperimentLayout::Envelope };
            assert_eq!(exp.layout, layout, "{release}");
            assert_eq!(exp.experiment.name, expected["experiments"][0]["name"].as_str().unwrap(), "{release}");
            assert_eq!(exp.experiment.tags, BTreeMap::from([("purpose".into(), "corpus".into())]), "{release}");
            assert_eq!(exp.failed_run_ids, Vec::<String>::new(), "{release}");
            let mut got = run_ids(&exp);
            got.sort_unstable();
            let mut want: Vec<String> = ["parent", "child", "failed"].map(|n| corpus::run_id(&expected, n)).into();
            want.sort_unstable();
            assert_eq!(got, want, "{release}");
            let rl = if corpus::is_1x(release) { Layout::V1x } else { Layout::Envelope2023 };
            assert_runs_readable_as_logged(&exp, rl, &expected, release);
        }
    }

    /// Every listed run's `run.json` is of `layout` and holds what the generator logged.
    fn assert_runs_readable_as_logged(exp: &ExperimentDir, layout: Layout, expected: &Value, what: &str) {
        use crate::format::corpus;
        let names = expected["runs"].as_object().unwrap();
        for run in &exp.runs {
            let path = run.dir.join("run.json");
            let rj = read_run_json(&path, &std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(rj.layout, layout, "{what}");
            let (name, want) = names.iter().find(|(_, r)| r["source_run_id"] == run.run_id.as_str()).unwrap();
            corpus::assert_run_as_logged(&rj.run, want, &format!("{what} {name}"));
            let parent = want["parent"].as_str().map(|p| corpus::run_id(expected, p));
            assert_eq!(rj.run.tags.get("mlflow.parentRunId"), parent.as_ref(), "{what} {name}");
        }
    }

    /// Each release's `export-experiments` folder and the experiments of its `export-all` and
    /// `export-models` folders (1.0 and 1.1: `manifest.json` files, beside a top-level one that
    /// lists no experiments).
    #[test]
    fn reads_the_python_corpus_bulk_experiments() {
        use crate::format::corpus;
        for release in corpus::RELEASES {
            let expected = corpus::expected(release);
            let names = |e: &[ExperimentEntry]| {
                let mut n: Vec<String> = e.iter().map(|e| e.name.clone()).collect();
                n.sort_unstable();
                n
            };
            let a = expected["experiments"][0]["name"].as_str().unwrap().to_string();
            let b = expected["experiments"][1]["name"].as_str().unwrap().to_string();
            for (folder, want) in [
                ("experiments", vec![a.clone(), b.clone()]),
                ("all", vec!["Default".to_string(), a.clone(), b.clone()]),
                ("models", vec![a.clone(), b.clone()]),
            ] {
                let what = format!("{release} {folder}");
                let entries =
                    read_experiments_dir(&corpus::dir(release).join(folder)).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(names(&entries), want, "{what}");
                for entry in &entries {
                    let exp = read_experiment_dir(&entry.dir).unwrap_or_else(|e| panic!("{what}: {e}"));
                    assert_eq!(exp.experiment.name, entry.name, "{what}");
                    let rl = if corpus::is_1x(release) { Layout::V1x } else { Layout::Envelope2023 };
                    assert_runs_readable_as_logged(&exp, rl, &expected, &what);
                }
            }
        }
    }
}
