//! A registered-model export folder (`export-model`), a bulk one (`export-models`,
//! `export-all`) and the `registered_models.json` listing.
//!
//! `model.json` has been three things (upstream-format.md §2.6, §2.9): the raw
//! `registered-models/get` response with the versions put in `latest_versions` (seed era, where
//! the REST JSON of the time wrote timestamps as strings), the same object inside the
//! `{system, info, mlflow}` envelope (1.2), and that envelope with `latest_versions` renamed
//! `versions` (today). The first `mlflow_tools` builds called the list `all_versions` and the
//! run's artifact root `artifact_uri`. Because model-level data comes from a REST response and
//! version data from Python entities, tags are a `[{key, value}]` list at one level and a dict
//! at the other, depending on the era; both shapes are read at both levels.
//!
//! Model names become folder names verbatim in a bulk export, and run ids become folder names
//! beside `model.json`, so either is refused unless it is a single plain path segment.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::json::{has_shard_parts, insert_opt, read_json, system_value, ExportSystem, FormatError, Obj};
use crate::model::{ModelVersionRecord, RegisteredModelRecord};
use crate::paths::is_single_segment;

const MODEL_FILE: &str = "model.json";
const MODELS_FILE: &str = "models.json";
const MODELS_DIR: &str = "models";
const MANIFEST_FILE: &str = "manifest.json";
const RUN_FILE: &str = "run.json";
/// The version file of an `export-model-version` folder, written after `model.json`.
pub const VERSION_FILE: &str = "version.json";
/// The folder of an `export-model-version` export that holds the version's run.
pub const VERSION_RUN_DIR: &str = "run";
/// Names of the version list, newest first: today, 1.2 and the seed era, the first builds.
const VERSION_LISTS: [&str; 3] = ["versions", "latest_versions", "all_versions"];

/// A parsed model export folder.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDir {
    pub model: RegisteredModelRecord,
    /// The versions' runs that were exported beside `model.json`, in ascending version order.
    pub runs: Vec<ExportedModelRun>,
    /// The source server, without credentials.
    pub tracking_uri: Option<String>,
}

/// A version's run exported beside `model.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedModelRun {
    pub run_id: String,
    /// Holds `run.json` and `artifacts/`.
    pub dir: PathBuf,
}

/// One model listed by a bulk export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    pub name: String,
    /// The model's export folder, to pass to [`read_model_dir`].
    pub dir: PathBuf,
}

/// Renders `model.json` in the Python tool's current layout; each version's run belongs at
/// `<dir>/<run_id>/`.
pub fn write_model_json(model: &RegisteredModelRecord, system: &ExportSystem) -> Value {
    let versions = model.versions.iter().map(|v| version_value(model, v)).collect::<Vec<_>>();
    let mut out = json!({
        "system": system_value(system),
        "info": {
            "num_src_versions": versions.len(),
            "num_dst_versions": versions.len(),
            "failed_versions": [],
        },
        "mlflow": {
            "registered_model": {
                "name": model.name,
                "creation_timestamp": model.creation_timestamp,
                "last_updated_timestamp": model.last_updated_timestamp,
                "description": model.description,
                // The Python importer sets aliases from this list, not from the versions'.
                "aliases": aliases_value(&model.aliases),
                "tags": tags_value(&model.tags),
                "versions": versions,
            },
        },
    });
    // Where the Python tool puts a workspace model's list: beside its `id` and `user_id`.
    if let Some(permissions) = &model.permissions {
        out["mlflow"]["registered_model"]["permissions"] = permissions.clone();
    }
    out
}

/// Every key the Python tool's `dict(ModelVersion)` has is written, `null` when unknown: its
/// importers index them unconditionally (`_experiment_name` by bulk import above all).
fn version_value(model: &RegisteredModelRecord, v: &ModelVersionRecord) -> Value {
    let aliases = model.aliases.iter().filter(|(_, version)| **version == v.version).map(|(alias, _)| alias);
    json!({
        "name": model.name,
        "version": v.version,
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "current_stage": v.current_stage,
        "description": v.description,
        "user_id": v.user_id,
        "source": v.source,
        "run_id": v.run_id,
        "run_link": v.run_link,
        "status": v.status,
        "status_message": "",
        "tags": v.tags,
        "aliases": aliases.collect::<Vec<_>>(),
        "_run_artifact_uri": v.run_artifact_uri,
        "_experiment_name": v.experiment_name,
    })
}

fn aliases_value(aliases: &BTreeMap<String, String>) -> Vec<Value> {
    aliases.iter().map(|(alias, version)| json!({"alias": alias, "version": version})).collect()
}

fn tags_value(tags: &BTreeMap<String, String>) -> Vec<Value> {
    tags.iter().map(|(key, value)| json!({"key": key, "value": value})).collect()
}

/// Renders `version.json` of an `export-model-version` folder: the one version, as in
/// `model.json`, with its aliases (its run belongs at `<dir>/run/`).
pub fn write_version_json(model: &RegisteredModelRecord, v: &ModelVersionRecord, system: &ExportSystem) -> Value {
    json!({
        "system": system_value(system),
        "info": {},
        "mlflow": {"model_version": version_value(model, v)},
    })
}

/// Reads a model export folder of any historical layout, or an `export-model-version` folder
/// (`version.json`, which wins over the `model.json` beside it).
pub fn read_model_dir(dir: &Path) -> Result<ModelDir, FormatError> {
    let path = dir.join(VERSION_FILE);
    if path.is_file() {
        let root = read_json(&path)?;
        let model = match dir.join(MODEL_FILE) {
            m if m.is_file() => Some(read_json(&m)?),
            _ => None,
        };
        return parse_version_dir(dir, &root, model.as_ref()).map_err(|what| FormatError::Shape { path, what });
    }
    let path = dir.join(MODEL_FILE);
    if !path.is_file() {
        return Err(FormatError::NotAnExport { dir: dir.to_path_buf(), what: "a model export: model.json is missing" });
    }
    let root = read_json(&path)?;
    parse_model(dir, &root).map_err(|what| FormatError::Shape { path, what })
}

/// Renders `models.json` in the Python tool's current layout; `names` are the models exported,
/// each at `<out>/<name>/`, `failed` those that were not.
pub fn write_models_json(system: &ExportSystem, names: &[String], failed: &[String]) -> Value {
    json!({
        "system": system_value(system),
        "info": {
            "num_total_models": names.len() + failed.len(),
            "num_ok_models": names.len(),
            "num_failed_models": failed.len(),
            "failed_models": failed,
        },
        "mlflow": {"models": names},
    })
}

/// What the experiments of a bulk export hold, for its `manifest.json`.
pub struct ExperimentCounts {
    pub experiments: usize,
    pub ok_runs: usize,
    pub failed_runs: usize,
}

/// Renders the top `manifest.json` of an `export-models`/`export-all` folder: what it holds, in
/// the shape of the Python tool's `info.status` (`mlflow` is empty). Importers never read it;
/// it is written last.
pub fn write_manifest_json(
    system: &ExportSystem,
    names: &[String],
    failed: &[String],
    experiments: &ExperimentCounts,
) -> Value {
    json!({
        "system": system_value(system),
        "info": {
            "status": {
                "models": {
                    "model_names": names,
                    "num_total_models": names.len() + failed.len(),
                    "num_ok_models": names.len(),
                    "num_failed_models": failed.len(),
                    "failed_models": failed,
                },
                "experiments": {
                    "experiments": experiments.experiments,
                    "total_runs": experiments.ok_runs + experiments.failed_runs,
                    "ok_runs": experiments.ok_runs,
                    "failed_runs": experiments.failed_runs,
                },
            },
        },
        "mlflow": {},
    })
}

/// Lists the models of a bulk export: `export-models`/`export-all` put them under `models/`,
/// listed by `models.json` (1.2 on) or by `manifest.json`'s `ok_models` (1.0 and 1.1, whose
/// top-level `manifest.json` lists no models, hence only the nested one is read).
pub fn read_models_dir(dir: &Path) -> Result<Vec<ModelEntry>, FormatError> {
    let nested = dir.join(MODELS_DIR);
    let candidates = [
        (dir.join(MODELS_FILE), dir),
        (nested.join(MODELS_FILE), nested.as_path()),
        (nested.join(MANIFEST_FILE), nested.as_path()),
    ];
    let (path, base) = candidates.into_iter().find(|(p, _)| p.is_file()).ok_or_else(|| FormatError::NotAnExport {
        dir: dir.to_path_buf(),
        what: if has_shard_parts(&nested, "models") {
            "a complete export yet: its shards' parts of models/models.json are there, but not every \
             shard has finished (the last one writes models.json)"
        } else {
            "a models export: no models.json, models/models.json or models/manifest.json"
        },
    })?;
    let root = read_json(&path)?;
    parse_models(base, &root).map_err(|what| FormatError::Shape { path, what })
}

/// Renders the `registered_models.json` listing of the Python tool's `list-registered-models`:
/// the raw REST listing of its day, hence string timestamps and only each stage's latest
/// version.
pub fn write_registered_models_json(models: &[RegisteredModelRecord]) -> Value {
    let models = models
        .iter()
        .map(|m| {
            let mut model = Map::new();
            model.insert("name".into(), m.name.clone().into());
            insert_opt(&mut model, "creation_timestamp", &m.creation_timestamp.map(|t| t.to_string()));
            insert_opt(&mut model, "last_updated_timestamp", &m.last_updated_timestamp.map(|t| t.to_string()));
            insert_opt(&mut model, "description", &m.description);
            let latest = latest_versions(&m.versions).into_iter().map(|v| rest_version_value(&m.name, v));
            model.insert("latest_versions".into(), latest.collect::<Vec<_>>().into());
            model.insert("tags".into(), tags_value(&m.tags).into());
            model.insert("aliases".into(), aliases_value(&m.aliases).into());
            Value::Object(model)
        })
        .collect::<Vec<_>>();
    json!({"registered_models": models})
}

/// The highest version in each stage, in version order, as the REST `latest_versions` holds.
/// Relies on `versions` being in ascending order, as [`RegisteredModelRecord`] keeps them.
fn latest_versions(versions: &[ModelVersionRecord]) -> Vec<&ModelVersionRecord> {
    let mut by_stage = BTreeMap::new();
    for (i, v) in versions.iter().enumerate() {
        by_stage.insert(stage_name(v), i);
    }
    let picked = by_stage.into_values().collect::<BTreeSet<_>>();
    picked.into_iter().map(|i| &versions[i]).collect()
}

/// The REST API names the absence of a stage `"None"`; Unity Catalog versions have no stage.
fn stage_name(v: &ModelVersionRecord) -> &str {
    v.current_stage.as_deref().unwrap_or("None")
}

fn rest_version_value(model_name: &str, v: &ModelVersionRecord) -> Value {
    let mut version = Map::new();
    version.insert("name".into(), model_name.into());
    version.insert("version".into(), v.version.clone().into());
    insert_opt(&mut version, "creation_timestamp", &v.creation_timestamp.map(|t| t.to_string()));
    insert_opt(&mut version, "last_updated_timestamp", &v.last_updated_timestamp.map(|t| t.to_string()));
    version.insert("current_stage".into(), stage_name(v).into());
    insert_opt(&mut version, "description", &v.description);
    version.insert("source".into(), v.source.clone().into());
    insert_opt(&mut version, "run_id", &v.run_id);
    insert_opt(&mut version, "status", &v.status);
    insert_opt(&mut version, "run_link", &v.run_link);
    Value::Object(version)
}

fn parse_model(dir: &Path, root: &Value) -> Result<ModelDir, String> {
    let root = Obj::top(root)?;
    let envelope = root.object("mlflow")?;
    let parent = match &envelope {
        Some(mlflow) => mlflow,
        None if root.get("registered_model").is_some() => &root,
        None => return Err("neither `mlflow` (1.2+ envelope) nor `registered_model` (older layouts) present".into()),
    };
    let model = read_model(&parent.required_object("registered_model")?)?;
    let tracking_uri = match root.object("system")? {
        Some(system) => system.opt_str("mlflow_tracking_uri")?,
        None => None,
    };

    // Several versions may come from one run, which was exported once.
    let mut seen = BTreeSet::new();
    let runs = model
        .versions
        .iter()
        .filter_map(|v| v.run_id.as_deref())
        .filter(|run_id| seen.insert(*run_id))
        .map(|run_id| ExportedModelRun { run_id: run_id.to_string(), dir: dir.join(run_id) })
        .filter(|run| run.dir.join(RUN_FILE).is_file())
        .collect();
    Ok(ModelDir { model, runs, tracking_uri: tracking_uri.map(|u| mlflow_client::redact(&u)) })
}

/// An `export-model-version` folder as a model of one version: the model's fields from
/// `model.json` when there is one (else only the version's name), its aliases those of this
/// version only, and the run in `run/`.
fn parse_version_dir(dir: &Path, root: &Value, model: Option<&Value>) -> Result<ModelDir, String> {
    let top = Obj::top(root)?;
    let mlflow = top.object("mlflow")?.ok_or_else(|| top.missing("mlflow"))?;
    let v = mlflow.required_object("model_version")?;
    let (_, version) = read_version(&v)?;
    let mut record = match model {
        Some(m) => parse_model(dir, m)?.model,
        None => {
            RegisteredModelRecord { name: v.opt_str("name")?.ok_or_else(|| v.missing("name"))?, ..Default::default() }
        }
    };
    record.aliases.retain(|_, number| *number == version.version);
    for alias in v.string_list("aliases")? {
        record.aliases.insert(alias, version.version.clone());
    }
    let runs = match &version.run_id {
        Some(run_id) if dir.join(VERSION_RUN_DIR).join(RUN_FILE).is_file() => {
            vec![ExportedModelRun { run_id: run_id.clone(), dir: dir.join(VERSION_RUN_DIR) }]
        }
        _ => Vec::new(),
    };
    record.versions = vec![version];
    let tracking_uri = match top.object("system")? {
        Some(system) => system.opt_str("mlflow_tracking_uri")?,
        None => None,
    };
    Ok(ModelDir { model: record, runs, tracking_uri: tracking_uri.map(|u| mlflow_client::redact(&u)) })
}

fn read_model(m: &Obj) -> Result<RegisteredModelRecord, String> {
    let name = m.opt_str("name")?.ok_or_else(|| m.missing("name"))?;
    let list_key = VERSION_LISTS.into_iter().find(|key| m.get(key).is_some()).unwrap_or(VERSION_LISTS[0]);
    let items = m.list(list_key)?.unwrap_or_default();

    // Files before model-level aliases existed carry them only on the versions; where both
    // exist they agree (the exporter copies one into the other), and the model's list wins.
    let mut aliases = BTreeMap::new();
    let mut versions = BTreeMap::new();
    for (i, item) in items.iter().enumerate() {
        let v = Obj::at(item, format!("{}[{i}]", m.child_path(list_key)))?;
        let (number, version) = read_version(&v)?;
        for alias in v.string_list("aliases")? {
            aliases.insert(alias, version.version.clone());
        }
        if versions.insert(number, version).is_some() {
            return Err(format!("{} repeats version {number}", v.path_of("version")));
        }
    }
    if let Some(items) = m.list("aliases")? {
        for (i, item) in items.iter().enumerate() {
            let a = Obj::at(item, format!("{}[{i}]", m.child_path("aliases")))?;
            let alias = a.opt_str("alias")?.ok_or_else(|| a.missing("alias"))?;
            aliases.insert(alias, a.opt_id("version")?.ok_or_else(|| a.missing("version"))?);
        }
    }

    Ok(RegisteredModelRecord {
        name,
        description: m.opt_str("description")?,
        tags: m.tags("tags")?,
        aliases,
        creation_timestamp: m.opt_int("creation_timestamp")?,
        last_updated_timestamp: m.opt_int("last_updated_timestamp")?,
        versions: versions.into_values().collect(),
        permissions: m.object("permissions")?.and(m.get("permissions").cloned()),
    })
}

/// The version and its number, by which versions sort: as text, "10" would come before "9".
fn read_version(v: &Obj) -> Result<(u64, ModelVersionRecord), String> {
    let version = v.opt_id("version")?.ok_or_else(|| v.missing("version"))?;
    let number =
        version.parse::<u64>().map_err(|_| format!("{} is not a version number: {version:?}", v.path_of("version")))?;
    // Versions registered from a logged model rather than a run have an empty `run_id`.
    let run_id = v.opt_str("run_id")?.filter(|id| !id.is_empty());
    if let Some(id) = &run_id {
        if !is_single_segment(id) {
            return Err(format!("{} is not a folder name: {id:?}", v.path_of("run_id")));
        }
    }
    let record = ModelVersionRecord {
        version,
        description: v.opt_str("description")?,
        tags: v.tags("tags")?,
        current_stage: v.opt_str("current_stage")?,
        source: v.opt_str("source")?.ok_or_else(|| v.missing("source"))?,
        run_id,
        run_link: v.opt_str("run_link")?,
        status: v.opt_str("status")?,
        user_id: v.opt_str("user_id")?,
        creation_timestamp: v.opt_int("creation_timestamp")?,
        last_updated_timestamp: v.opt_int("last_updated_timestamp")?,
        run_artifact_uri: match v.opt_str("_run_artifact_uri")? {
            Some(uri) => Some(uri),
            None => v.opt_str("artifact_uri")?,
        },
        experiment_name: v.opt_str("_experiment_name")?,
    };
    Ok((number, record))
}

fn parse_models(base: &Path, root: &Value) -> Result<Vec<ModelEntry>, String> {
    let root = Obj::top(root)?;
    let (parent, key) = match root.object("mlflow")? {
        Some(mlflow) => (mlflow, "models"),
        None if root.get("ok_models").is_some() => (root, "ok_models"),
        None => return Err("neither `mlflow.models` (1.2+) nor `ok_models` (1.0, 1.1) present".into()),
    };
    let items = parent.list(key)?.ok_or_else(|| parent.missing(key))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{}[{i}]", parent.child_path(key));
            match item {
                Value::String(name) if is_single_segment(name) => {
                    Ok(ModelEntry { dir: base.join(name), name: name.clone() })
                }
                Value::String(name) => Err(format!("`{path}` is not a folder name: {name:?}")),
                other => Err(format!("`{path}` is not a model name: {other}")),
            }
        })
        .collect()
}

/// Model-export reading that [`Obj`] does not cover in general.
impl Obj<'_> {
    /// A list of strings, empty when absent.
    fn string_list(&self, key: &str) -> Result<Vec<String>, String> {
        let Some(items) = self.list(key)? else {
            return Ok(Vec::new());
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!("`{}[{i}]` is not a string: {other}", self.child_path(key))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::run_json::{read_run_json, Layout};

    const SEED_RUN: &str = "56edef2e41fd431cb14d947c2f6d08d3";
    const SEED_GONE_RUN: &str = "a87ce6ae8a654d3dbdd6f02a9492f66a";
    const RUN_V1: &str = "840c985d17f84c1c92a1f6044c843e9f";
    const RUN_V3: &str = "f2ae7a638ce249919c81559bc50cc4dd";
    const UC_MODEL: &str = "andre_catalog.ml_models.sklearn_wine";

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
    }

    fn fixture(name: &str) -> (PathBuf, ModelDir) {
        let dir = fixtures().join("model").join(name);
        let model = read_model_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
        (dir, model)
    }

    /// Each run folder holds a `run.json` of `layout` for that run, and the model's files.
    fn assert_runs_readable(md: &ModelDir, layout: Layout, mlmodel: &str) {
        for run in &md.runs {
            let path = run.dir.join("run.json");
            let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let rj = read_run_json(Path::new("run.json"), &bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(rj.layout, layout, "{}", path.display());
            assert_eq!(rj.run.meta.run_id, run.run_id);
            assert!(run.dir.join("artifacts").join(mlmodel).join("MLmodel").is_file(), "{}", run.dir.display());
        }
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    fn write(path: &Path, v: &Value) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
    }

    fn system() -> ExportSystem {
        ExportSystem {
            package_version: "0.1.0".into(),
            script: "export-model".into(),
            export_time: 1721364374,
            mlflow_version: Some("2.14.3".into()),
            mlflow_tracking_uri: Some("http://src:5000".into()),
            user: Some("andre".into()),
        }
    }

    fn sample_model() -> RegisteredModelRecord {
        let version = |n: &str, stage: Option<&str>| ModelVersionRecord {
            version: n.into(),
            description: Some(format!("v{n}")),
            tags: map(&[("n", n)]),
            current_stage: stage.map(Into::into),
            source: format!("mlflow-artifacts:/1/r{n}/artifacts/model"),
            run_id: Some(format!("r{n}")),
            run_link: Some(String::new()),
            status: Some("READY".into()),
            user_id: Some("josé".into()),
            creation_timestamp: Some(1684716075276),
            last_updated_timestamp: Some(1684716075307),
            run_artifact_uri: Some(format!("mlflow-artifacts:/1/r{n}/artifacts")),
            experiment_name: Some("/Users/josé/wine".into()),
        };
        RegisteredModelRecord {
            permissions: None,
            name: "team.wine model".into(),
            description: Some("line 1\nline \"2\"".into()),
            tags: map(&[("info", "ü"), ("team", "pricing")]),
            aliases: map(&[("champion", "9"), ("challenger", "10"), ("old", "2")]),
            creation_timestamp: Some(1684716075258),
            last_updated_timestamp: Some(1684716088532),
            versions: vec![
                version("2", Some("Archived")),
                version("9", Some("Production")),
                version("10", Some("Staging")),
                ModelVersionRecord { source: "models:/m-abc".into(), ..version("11", None) },
            ],
        }
    }

    #[test]
    fn seed_era_fixture() {
        let (dir, md) = fixture("seed-era");
        assert_eq!(
            md.model,
            RegisteredModelRecord {
                permissions: None,
                name: "sklearn_wine".into(),
                description: Some("hi my desc".into()),
                tags: map(&[("info", "Sklearn Wine Quality model")]),
                aliases: BTreeMap::new(),
                creation_timestamp: Some(1587517284168),
                last_updated_timestamp: Some(1587572072601),
                versions: vec![
                    ModelVersionRecord {
                        version: "1".into(),
                        description: Some("first cut".into()),
                        tags: map(&[("registered_version_info", "v1 Production")]),
                        current_stage: Some("Production".into()),
                        source: format!("file:///opt/mlflow/server/mlruns/1/{SEED_RUN}/artifacts/sklearn-model"),
                        run_id: Some(SEED_RUN.into()),
                        run_link: Some(String::new()),
                        status: Some("READY".into()),
                        user_id: None,
                        creation_timestamp: Some(1587517284216),
                        last_updated_timestamp: Some(1587517325183),
                        run_artifact_uri: Some(format!("file:///opt/mlflow/server/mlruns/1/{SEED_RUN}/artifacts")),
                        experiment_name: None,
                    },
                    ModelVersionRecord {
                        version: "2".into(),
                        description: Some(String::new()),
                        tags: BTreeMap::new(),
                        current_stage: Some("None".into()),
                        source: format!("file:///opt/mlflow/server/mlruns/1/{SEED_GONE_RUN}/artifacts/sklearn-model"),
                        run_id: Some(SEED_GONE_RUN.into()),
                        run_link: Some(String::new()),
                        status: Some("READY".into()),
                        user_id: None,
                        creation_timestamp: Some(1587571992475),
                        last_updated_timestamp: Some(1587572072601),
                        run_artifact_uri: None,
                        experiment_name: None,
                    },
                ],
            }
        );
        // Version 2's run was not exported (its run had been deleted), so it has no folder.
        assert_eq!(md.runs, vec![ExportedModelRun { run_id: SEED_RUN.into(), dir: dir.join(SEED_RUN) }]);
        assert_eq!(md.tracking_uri, None);
        assert_runs_readable(&md, Layout::Pre1_0, "sklearn-model");
    }

    #[test]
    fn envelope_fixture_with_a_deleted_version() {
        let (dir, md) = fixture("envelope");
        let version = |n: &str, run_id: &str| ModelVersionRecord {
            version: n.into(),
            run_id: Some(run_id.into()),
            source: format!("mlflow-artifacts:/7/{run_id}/artifacts/model"),
            run_artifact_uri: Some(format!("mlflow-artifacts:/7/{run_id}/artifacts")),
            experiment_name: Some("/Shared/wine-quality".into()),
            status: Some("READY".into()),
            user_id: Some("odorfer".into()),
            ..ModelVersionRecord::default()
        };
        assert_eq!(
            md.model,
            RegisteredModelRecord {
                permissions: None,
                name: "wine-quality".into(),
                description: Some("Wine quality regressor.\nOwned by the pricing team.".into()),
                tags: map(&[("task", "regression"), ("team", "pricing")]),
                aliases: map(&[("champion", "3"), ("legacy", "1")]),
                creation_timestamp: Some(1762300000000),
                last_updated_timestamp: Some(1762412345678),
                versions: vec![
                    ModelVersionRecord {
                        current_stage: Some("Archived".into()),
                        creation_timestamp: Some(1762300000100),
                        last_updated_timestamp: Some(1762412000500),
                        ..version("1", RUN_V1)
                    },
                    ModelVersionRecord {
                        description: Some("v3 gradient boosting".into()),
                        tags: map(&[("framework", "xgboost"), ("validated", "true")]),
                        current_stage: Some("Production".into()),
                        run_link: Some(String::new()),
                        creation_timestamp: Some(1762412000000),
                        last_updated_timestamp: Some(1762412345678),
                        ..version("3", RUN_V3)
                    },
                ],
            }
        );
        assert_eq!(
            md.runs,
            vec![
                ExportedModelRun { run_id: RUN_V1.into(), dir: dir.join(RUN_V1) },
                ExportedModelRun { run_id: RUN_V3.into(), dir: dir.join(RUN_V3) },
            ]
        );
        assert_eq!(md.tracking_uri.as_deref(), Some("http://mlflow.internal:5000"));
        assert_runs_readable(&md, Layout::Envelope2025, "model");
    }

    #[test]
    fn bulk_fixture() {
        let dir = fixtures().join("models/bulk");
        let entries = read_models_dir(&dir).unwrap();
        assert_eq!(
            entries,
            vec![
                ModelEntry { name: UC_MODEL.into(), dir: dir.join("models").join(UC_MODEL) },
                ModelEntry { name: "iris classifier".into(), dir: dir.join("models/iris classifier") },
            ]
        );
        let uc = read_model_dir(&entries[0].dir).unwrap();
        assert_eq!(uc.model.name, UC_MODEL);
        assert_eq!(uc.model.description, None);
        assert!(uc.model.tags.is_empty());
        assert_eq!(uc.model.aliases, map(&[("white_2", "15")]));
        let v = &uc.model.versions[..];
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].version.as_str(), v[0].current_stage.as_deref()), ("15", None));
        assert_eq!(v[0].tags, map(&[("alias", "white_2")]));
        assert_eq!(v[0].run_id.as_deref(), Some("6222162b4c7f47c2820a7e5b520f65a9"));
        assert!(uc.runs.is_empty());
        assert_eq!(uc.tracking_uri.as_deref(), Some("databricks://e2_demo"));

        let iris = read_model_dir(&entries[1].dir).unwrap();
        assert_eq!(iris.model.name, "iris classifier");
        assert_eq!(iris.model.description.as_deref(), Some(""));
        assert!(iris.model.versions.is_empty() && iris.model.aliases.is_empty() && iris.runs.is_empty());
    }

    #[test]
    fn writes_the_python_tools_current_layout() {
        let mut model = sample_model();
        model.versions.truncate(1);
        let v = write_model_json(&model, &system());
        assert_eq!(v["system"]["script"], "export-model");
        assert_eq!(v["system"]["_export_time"], "2024-07-19 04:46:14");
        assert_eq!(v["info"], json!({"num_src_versions": 1, "num_dst_versions": 1, "failed_versions": []}));
        assert_eq!(
            v["mlflow"],
            json!({"registered_model": {
                "name": "team.wine model",
                "creation_timestamp": 1684716075258_i64,
                "last_updated_timestamp": 1684716088532_i64,
                "description": "line 1\nline \"2\"",
                "aliases": [
                    {"alias": "challenger", "version": "10"},
                    {"alias": "champion", "version": "9"},
                    {"alias": "old", "version": "2"},
                ],
                "tags": [{"key": "info", "value": "ü"}, {"key": "team", "value": "pricing"}],
                "versions": [{
                    "name": "team.wine model",
                    "version": "2",
                    "creation_timestamp": 1684716075276_i64,
                    "last_updated_timestamp": 1684716075307_i64,
                    "current_stage": "Archived",
                    "description": "v2",
                    "user_id": "josé",
                    "source": "mlflow-artifacts:/1/r2/artifacts/model",
                    "run_id": "r2",
                    "run_link": "",
                    "status": "READY",
                    "status_message": "",
                    "tags": {"n": "2"},
                    "aliases": ["old"],
                    "_run_artifact_uri": "mlflow-artifacts:/1/r2/artifacts",
                    "_experiment_name": "/Users/josé/wine",
                }],
            }})
        );

        let bare = RegisteredModelRecord {
            name: "m".into(),
            versions: vec![ModelVersionRecord { version: "1".into(), source: "s".into(), ..Default::default() }],
            ..Default::default()
        };
        let v = write_model_json(&bare, &system());
        let m = &v["mlflow"]["registered_model"];
        assert_eq!((&m["aliases"], &m["tags"], &m["description"]), (&json!([]), &json!([]), &Value::Null));
        assert_eq!(m["versions"][0]["tags"], json!({}));
        assert_eq!(m["versions"][0]["aliases"], json!([]));
        assert_eq!(m["versions"][0]["_experiment_name"], Value::Null);
    }

    #[test]
    fn write_then_read_round_trips_the_current_layout() {
        let tmp = tempfile::tempdir().unwrap();
        let model = sample_model();
        let system = ExportSystem { mlflow_tracking_uri: Some("https://user:secret@src:5000/path".into()), ..system() };
        write(&tmp.path().join("model.json"), &write_model_json(&model, &system));
        // Only some runs were exported; version 11 has none of its own.
        for id in ["r9", "r2"] {
            write(&tmp.path().join(id).join("run.json"), &json!({}));
        }
        std::fs::create_dir(tmp.path().join("r10")).unwrap();
        let back = read_model_dir(tmp.path()).unwrap();
        assert_eq!(
            back,
            ModelDir {
                model,
                runs: ["r2", "r9"]
                    .iter()
                    .map(|id| ExportedModelRun { run_id: id.to_string(), dir: tmp.path().join(id) })
                    .collect(),
                tracking_uri: Some("https://src:5000/path".into()),
            }
        );
    }

    #[test]
    fn a_version_folder_reads_as_a_model_of_that_version_with_its_aliases_only() {
        let tmp = tempfile::tempdir().unwrap();
        let model = sample_model();
        let v9 = model.versions[1].clone();
        write(&tmp.path().join("model.json"), &write_model_json(&model, &system()));
        write(&tmp.path().join(VERSION_FILE), &write_version_json(&model, &v9, &system()));
        // `model.json` lists other versions, whose runs are not in the folder: `run/` is read.
        write(&tmp.path().join(VERSION_RUN_DIR).join("run.json"), &json!({}));
        let back = read_model_dir(tmp.path()).unwrap();
        let expected =
            RegisteredModelRecord { aliases: map(&[("champion", "9")]), versions: vec![v9.clone()], ..model.clone() };
        assert_eq!(
            back,
            ModelDir {
                model: expected,
                runs: vec![ExportedModelRun { run_id: "r9".into(), dir: tmp.path().join(VERSION_RUN_DIR) }],
                tracking_uri: Some("http://src:5000".into()),
            }
        );
        // The Python tool's older folders have no `model.json`: the version's name is the model's.
        std::fs::remove_file(tmp.path().join("model.json")).unwrap();
        let back = read_model_dir(tmp.path()).unwrap();
        assert_eq!(back.model.name, model.name);
        assert_eq!(back.model.aliases, map(&[("champion", "9")]));
        assert_eq!(back.model.versions, vec![v9]);
    }

    #[test]
    fn a_python_tool_version_folder_is_read() {
        // upstream-format.md §2.6, `samples/databricks/single/versions/sklearn_wine`.
        let tmp = tempfile::tempdir().unwrap();
        let run = "6222162b4c7f47c2820a7e5b520f65a9";
        write(
            &tmp.path().join(VERSION_FILE),
            &json!({"system": {"package_version": "1.2.0", "mlflow_tracking_uri": "databricks://e2"},
                "mlflow": {"model_version": {
                "name": "cat.ml.sklearn_wine", "version": "15", "creation_timestamp": 1717552439516_i64,
                "description": "white_2", "user_id": "andre", "current_stage": null,
                "source": format!("dbfs:/databricks/mlflow-tracking/0828/{run}/artifacts/model"),
                "run_id": run, "run_link": null, "status": "READY", "status_message": "",
                "tags": {"alias": "white_2"}, "aliases": ["white_2"]}}}),
        );
        write(
            &tmp.path().join("model.json"),
            &json!({"mlflow": {"registered_model": {"name": "cat.ml.sklearn_wine", "description": "wine",
                "tags": [{"key": "k", "value": "v"}],
                "aliases": [{"alias": "white_2", "version": "15"}, {"alias": "old", "version": "3"}]}}}),
        );
        write(&tmp.path().join("run").join("run.json"), &json!({}));
        let md = read_model_dir(tmp.path()).unwrap();
        assert_eq!((md.model.name.as_str(), md.model.description.as_deref()), ("cat.ml.sklearn_wine", Some("wine")));
        assert_eq!(md.model.tags, map(&[("k", "v")]));
        assert_eq!(md.model.aliases, map(&[("white_2", "15")]));
        let v = &md.model.versions[..];
        assert_eq!((v.len(), v[0].version.as_str(), v[0].current_stage.as_deref()), (1, "15", None));
        assert_eq!(v[0].tags, map(&[("alias", "white_2")]));
        assert_eq!(md.runs, vec![ExportedModelRun { run_id: run.into(), dir: tmp.path().join("run") }]);
        assert_eq!(md.tracking_uri.as_deref(), Some("databricks://e2"));
    }

    #[test]
    fn older_envelopes_and_version_lists() {
        // 1.2: the REST response inside the envelope, versions still called `latest_versions`,
        // written in string order ("10" before "9"), tags as REST lists, no model-level aliases.
        let v12 = json!({
            "system": {"package_version": "1.2.0"},
            "mlflow": {"registered_model": {
                "name": "m",
                "tags": [{"key": "a", "value": 1}],
                "latest_versions": [
                    {"version": "10", "source": "s10", "run_id": "r", "aliases": ["new"],
                     "tags": [{"key": "k", "value": "v"}], "current_stage": null},
                    {"version": 9, "source": "s9", "run_id": "r", "aliases": ["old", "stable"],
                     "creation_timestamp": "1587517284216"},
                ],
            }},
        });
        // The first `mlflow_tools` builds: `all_versions`, `artifact_uri`.
        let tools = json!({"registered_model": {
            "name": "m",
            "all_versions": [{"version": "1", "source": "s", "run_id": "", "artifact_uri": "file:///a"}],
        }});
        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("model.json"), &v12);
        write(&tmp.path().join("r/run.json"), &json!({}));
        let md = read_model_dir(tmp.path()).unwrap();
        assert_eq!(md.model.tags, map(&[("a", "1")]));
        assert_eq!(md.model.versions.iter().map(|v| v.version.as_str()).collect::<Vec<_>>(), ["9", "10"]);
        assert_eq!(md.model.versions[0].creation_timestamp, Some(1587517284216));
        assert_eq!(md.model.versions[1].tags, map(&[("k", "v")]));
        assert_eq!(md.model.versions[1].current_stage, None);
        assert_eq!(md.model.aliases, map(&[("new", "10"), ("old", "9"), ("stable", "9")]));
        // Two versions of one run: the run is listed once.
        assert_eq!(md.runs, vec![ExportedModelRun { run_id: "r".into(), dir: tmp.path().join("r") }]);

        let tmp = tempfile::tempdir().unwrap();
        write(&tmp.path().join("model.json"), &tools);
        let md = read_model_dir(tmp.path()).unwrap();
        assert_eq!(md.model.versions[0].run_id, None);
        assert_eq!(md.model.versions[0].run_artifact_uri.as_deref(), Some("file:///a"));
        assert!(md.runs.is_empty());

        // Where the model's alias list and a version's disagree, the model's wins.
        let tmp = tempfile::tempdir().unwrap();
        let v = json!({"mlflow": {"registered_model": {
            "name": "m",
            "aliases": [{"alias": "champion", "version": 2}],
            "versions": [{"version": "1", "source": "s", "aliases": ["champion", "extra"]}],
        }}});
        write(&tmp.path().join("model.json"), &v);
        assert_eq!(read_model_dir(tmp.path()).unwrap().model.aliases, map(&[("champion", "2"), ("extra", "1")]));
    }

    #[test]
    fn writes_registered_models_json_in_the_seed_shape() {
        let v = write_registered_models_json(&[
            sample_model(),
            RegisteredModelRecord { name: "empty".into(), ..Default::default() },
        ]);
        let version = |n: &str, stage: &str, source: &str| {
            json!({
                "name": "team.wine model",
                "version": n,
                "creation_timestamp": "1684716075276",
                "last_updated_timestamp": "1684716075307",
                "current_stage": stage,
                "description": format!("v{n}"),
                "source": source,
                "run_id": format!("r{n}"),
                "status": "READY",
                "run_link": "",
            })
        };
        assert_eq!(
            v,
            json!({"registered_models": [
                {
                    "name": "team.wine model",
                    "creation_timestamp": "1684716075258",
                    "last_updated_timestamp": "1684716088532",
                    "description": "line 1\nline \"2\"",
                    "latest_versions": [
                        version("2", "Archived", "mlflow-artifacts:/1/r2/artifacts/model"),
                        version("9", "Production", "mlflow-artifacts:/1/r9/artifacts/model"),
                        version("10", "Staging", "mlflow-artifacts:/1/r10/artifacts/model"),
                        version("11", "None", "models:/m-abc"),
                    ],
                    "tags": [{"key": "info", "value": "ü"}, {"key": "team", "value": "pricing"}],
                    "aliases": [
                        {"alias": "challenger", "version": "10"},
                        {"alias": "champion", "version": "9"},
                        {"alias": "old", "version": "2"},
                    ],
                },
                {"name": "empty", "latest_versions": [], "tags": [], "aliases": []},
            ]})
        );

        // Only the newest version of each stage is listed.
        let mut model = sample_model();
        for v in &mut model.versions {
            v.current_stage = Some("Production".into());
        }
        model.versions[3].current_stage = None;
        let v = write_registered_models_json(&[model]);
        let latest = v["registered_models"][0]["latest_versions"].as_array().unwrap();
        let picked = latest.iter().map(|v| (v["version"].as_str().unwrap(), v["current_stage"].as_str().unwrap()));
        assert_eq!(picked.collect::<Vec<_>>(), [("10", "Production"), ("11", "None")]);
    }

    #[test]
    fn writes_models_json_and_reads_it_back_in_both_places() {
        let ok = names(&[UC_MODEL, "iris classifier"]);
        let v = write_models_json(&system(), &ok, &names(&["broken"]));
        assert_eq!(
            v["info"],
            json!({"num_total_models": 3, "num_ok_models": 2, "num_failed_models": 1, "failed_models": ["broken"]})
        );
        assert_eq!(v["mlflow"], json!({"models": [UC_MODEL, "iris classifier"]}));
        for base in ["", "models"] {
            let tmp = tempfile::tempdir().unwrap();
            let root = tmp.path().join(base);
            write(&root.join("models.json"), &v);
            // export-all's own top-level manifest plays no part.
            write(&tmp.path().join("manifest.json"), &json!({"info": {}, "mlflow": {}}));
            let want = ok.iter().map(|n| ModelEntry { name: n.clone(), dir: root.join(n) }).collect::<Vec<_>>();
            assert_eq!(read_models_dir(tmp.path()).unwrap(), want, "{base:?}");
        }
    }

    #[test]
    fn unsafe_model_folder_names_are_refused() {
        for name in ["", ".", "..", "a/b", "../x", "a\\b", "nul\0", "/abs"] {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("models.json");
            write(&path, &json!({"mlflow": {"models": ["fine", name]}}));
            assert_eq!(
                read_models_dir(tmp.path()).unwrap_err().to_string(),
                format!("{}: unexpected shape: `mlflow.models[1]` is not a folder name: {name:?}", path.display())
            );
        }
    }

    #[test]
    fn malformed_json_names_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("model.json");
        for bad in [&b"{\"mlflow\": "[..], b"", b"\xff\xfe"] {
            std::fs::write(&path, bad).unwrap();
            let err = read_model_dir(tmp.path()).unwrap_err();
            assert!(matches!(err, FormatError::Json { .. }), "{err:?}");
            assert!(err.to_string().starts_with(&format!("{}: malformed JSON: ", path.display())), "{err}");
        }
        let path = tmp.path().join("models.json");
        std::fs::write(&path, "[").unwrap();
        let err = read_models_dir(tmp.path()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}: malformed JSON: ", path.display())), "{err}");
    }

    #[test]
    fn wrong_shapes_name_the_file_and_field() {
        let valid = || {
            json!({"mlflow": {"registered_model": {
                "name": "m",
                "aliases": [{"alias": "a", "version": "1"}],
                "versions": [
                    {"version": "1", "source": "s"},
                    {"version": "2", "source": "s"},
                    {"version": "3", "source": "s"},
                ],
            }}})
        };
        let set = |pointer: &str, value: Option<Value>| {
            let mut v = valid();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let parent = v.pointer_mut(parent).unwrap().as_object_mut().unwrap();
            match value {
                Some(value) => parent.insert(key.into(), value),
                None => parent.remove(key),
            };
            v
        };
        let rm = "/mlflow/registered_model";
        let v2 = "/mlflow/registered_model/versions/2";
        let cases = [
            (set(&format!("{v2}/version"), None), "`mlflow.registered_model.versions[2].version` missing"),
            (
                set(&format!("{v2}/version"), Some(json!("3a"))),
                "`mlflow.registered_model.versions[2].version` is not a version number: \"3a\"",
            ),
            (
                set(&format!("{v2}/version"), Some(json!(1.5))),
                "`mlflow.registered_model.versions[2].version` is not a string",
            ),
            (
                set(&format!("{v2}/version"), Some(json!("1"))),
                "`mlflow.registered_model.versions[2].version` repeats version 1",
            ),
            (set(&format!("{v2}/source"), None), "`mlflow.registered_model.versions[2].source` missing"),
            (
                set(&format!("{v2}/run_id"), Some(json!("../../etc"))),
                "`mlflow.registered_model.versions[2].run_id` is not a folder name: \"../../etc\"",
            ),
            (
                set(&format!("{v2}/run_id"), Some(json!(7))),
                "`mlflow.registered_model.versions[2].run_id` is not a string",
            ),
            (
                set(&format!("{v2}/creation_timestamp"), Some(json!("yesterday"))),
                "`mlflow.registered_model.versions[2].creation_timestamp` is not an integer",
            ),
            (
                set(&format!("{v2}/current_stage"), Some(json!(["Production"]))),
                "`mlflow.registered_model.versions[2].current_stage` is not a string",
            ),
            (
                set(&format!("{v2}/tags"), Some(json!("t"))),
                "`mlflow.registered_model.versions[2].tags` is neither an object nor a list of {key, value}",
            ),
            (
                set(&format!("{v2}/aliases"), Some(json!(["ok", 1]))),
                "`mlflow.registered_model.versions[2].aliases[1]` is not a string: 1",
            ),
            (
                set(&format!("{rm}/versions"), Some(json!([{"version": "1", "source": "s"}, "2"]))),
                "`mlflow.registered_model.versions[1]` is not an object",
            ),
            (set(&format!("{rm}/versions"), Some(json!({}))), "`mlflow.registered_model.versions` is not a list"),
            (set(&format!("{rm}/name"), None), "`mlflow.registered_model.name` missing"),
            (
                set(&format!("{rm}/aliases"), Some(json!([{"alias": "a"}]))),
                "`mlflow.registered_model.aliases[0].version` missing",
            ),
            (
                set(&format!("{rm}/aliases"), Some(json!([{"version": "1"}]))),
                "`mlflow.registered_model.aliases[0].alias` missing",
            ),
            (set(&format!("{rm}/aliases"), Some(json!("a"))), "`mlflow.registered_model.aliases` is not a list"),
            (
                set(&format!("{rm}/tags"), Some(json!([{"value": "v"}]))),
                "`mlflow.registered_model.tags[0].key` missing",
            ),
            (
                set(&format!("{rm}/last_updated_timestamp"), Some(json!(true))),
                "`mlflow.registered_model.last_updated_timestamp` is not an integer",
            ),
            (set("/mlflow/registered_model", None), "`mlflow.registered_model` missing"),
            (set("/mlflow/registered_model", Some(json!([]))), "`mlflow.registered_model` is not an object"),
            (set("/mlflow", Some(json!(1))), "`mlflow` is not an object"),
            (set("/system", Some(json!({"mlflow_tracking_uri": 5}))), "`system.mlflow_tracking_uri` is not a string"),
            (
                json!({"registered_model": {"name": "m", "latest_versions": [{"source": "s"}]}}),
                "`registered_model.latest_versions[0].version` missing",
            ),
            (json!({"info": {}}), "neither `mlflow` (1.2+ envelope) nor `registered_model` (older layouts) present"),
            (json!(["x"]), "the top level is not an object"),
        ];
        for (v, want) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("model.json");
            write(&path, &v);
            let err = read_model_dir(tmp.path()).unwrap_err();
            assert!(matches!(err, FormatError::Shape { .. }), "{err:?}");
            assert_eq!(err.to_string(), format!("{}: unexpected shape: {want}", path.display()));
        }
    }

    #[test]
    fn bulk_wrong_shapes_name_the_file_and_field() {
        let cases = [
            (json!({"info": {}}), "neither `mlflow.models` (1.2+) nor `ok_models` (1.0, 1.1) present"),
            (json!({"ok_models": "m"}), "`ok_models` is not a list"),
            (json!({"ok_models": ["../m"]}), "`ok_models[0]` is not a folder name: \"../m\""),
            (json!({"mlflow": {}}), "`mlflow.models` missing"),
            (json!({"mlflow": {"models": "m"}}), "`mlflow.models` is not a list"),
            (
                json!({"mlflow": {"models": [{"name": "m"}]}}),
                "`mlflow.models[0]` is not a model name: {\"name\":\"m\"}",
            ),
        ];
        for (v, want) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let path = tmp.path().join("models/models.json");
            write(&path, &v);
            assert_eq!(
                read_models_dir(tmp.path()).unwrap_err().to_string(),
                format!("{}: unexpected shape: {want}", path.display())
            );
        }
    }

    #[test]
    fn a_folder_without_an_export_file_is_not_an_export() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("model.json")).unwrap();
        assert_eq!(
            read_model_dir(tmp.path()).unwrap_err().to_string(),
            format!("{}: not a model export: model.json is missing", tmp.path().display())
        );
        assert_eq!(
            read_models_dir(tmp.path()).unwrap_err().to_string(),
            format!(
                "{}: not a models export: no models.json, models/models.json or models/manifest.json",
                tmp.path().display()
            )
        );
    }

    /// The model as the generator of the corpus registered it: description, tag, and each
    /// version's stage, description, tags and run.
    fn assert_model_as_logged(model: &RegisteredModelRecord, expected: &Value, what: &str) {
        let want = &expected["models"][0];
        assert_eq!(model.name, want["name"].as_str().unwrap(), "{what}");
        assert_eq!(model.description.as_deref(), want["description"].as_str(), "{what}");
        let tags: BTreeMap<String, String> = serde_json::from_value(want["tags"].clone()).unwrap();
        assert_eq!(model.tags, tags, "{what}");
        let versions = want["versions"].as_array().unwrap();
        assert_eq!(model.versions.len(), versions.len(), "{what}");
        for (got, v) in model.versions.iter().zip(versions) {
            let at = format!("{what} v{}", got.version);
            assert_eq!(got.version, v["version"].as_str().unwrap(), "{at}");
            assert_eq!(got.current_stage.as_deref(), v["stage"].as_str(), "{at}");
            assert_eq!(got.description.as_deref(), v["description"].as_str(), "{at}");
            let tags: BTreeMap<String, String> = serde_json::from_value(v["tags"].clone()).unwrap();
            assert_eq!(got.tags, tags, "{at}");
            let run = expected["runs"][v["run"].as_str().unwrap()]["source_run_id"].as_str();
            assert_eq!(got.run_id.as_deref(), run, "{at}");
        }
    }

    /// Each release's `export-model` folder (with both versions' runs beside `model.json`) and
    /// the models of its `export-models` and `export-all` folders (1.0 and 1.1 list them in
    /// `models/manifest.json` as `ok_models`).
    #[test]
    fn reads_the_python_corpus_models() {
        use crate::format::corpus;
        for release in corpus::RELEASES {
            let expected = corpus::expected(release);
            let md = read_model_dir(&corpus::dir(release).join("model")).unwrap_or_else(|e| panic!("{e}"));
            assert_model_as_logged(&md.model, &expected, release);
            let mut runs: Vec<&str> = md.runs.iter().map(|r| r.run_id.as_str()).collect();
            runs.sort_unstable();
            let mut want = [corpus::run_id(&expected, "parent"), corpus::run_id(&expected, "solo")];
            want.sort_unstable();
            assert_eq!(runs, want, "{release}");
            for folder in ["models", "all"] {
                let what = format!("{release} {folder}");
                let entries = read_models_dir(&corpus::dir(release).join(folder)).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(entries.len(), 1, "{what}");
                let md = read_model_dir(&entries[0].dir).unwrap_or_else(|e| panic!("{what}: {e}"));
                assert_eq!(entries[0].name, md.model.name, "{what}");
                assert_model_as_logged(&md.model, &expected, &what);
                // A bulk export puts the runs under `experiments/`, not beside the model.
                assert_eq!(md.runs, Vec::new(), "{what}");
            }
        }
    }
}
