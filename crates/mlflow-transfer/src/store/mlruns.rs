//! MLflow's file store (`mlruns` folders) read directly, without MLflow.
//!
//! MLflow 3.13+ refuses to open file stores, and users still hold them (rsync'd from HPC
//! clusters, or left from local work). The layout (`shared/docs/backend-stores.md` §11, as
//! MLflow 2.22 and 3.12 write it):
//! - `<root>/<exp_id>/meta.yaml` and `tags/<key>` per experiment; deleted experiments are
//!   moved whole under `<root>/.trash/`;
//! - `<root>/<exp_id>/<run_id>/meta.yaml`, `params/<key>`, `tags/<key>` (raw values),
//!   `metrics/<key>` (one `<timestamp> <value> <step>` line per point), `inputs/<id>/meta.yaml`
//!   naming a dataset under `<root>/<exp_id>/datasets/<id>/meta.yaml`; deleted runs stay in place;
//! - `<root>/models/<name>/meta.yaml`, `tags/`, `aliases/<alias>` and `version-<n>/` for the
//!   registry.
//!
//! Keys with a `/` are nested folders. Nothing read is trusted: every folder name used as an
//! id is one plain path segment, each `meta.yaml` must agree with the folder it is in, and
//! symlinks are refused (following one could read files outside the store).
//!
//! Plain blocking file reads: callers on an async runtime run these on a blocking thread.

use std::{
    collections::{BTreeMap, HashMap},
    fs,
    path::{Path, PathBuf},
    sync::Mutex,
};

use mlflow_client::types::{Dataset, DatasetInput, KeyValue, ModelInput, ModelOutput, RunStatus};
use serde_norway::{Mapping, Value};

use crate::{
    model::{
        ExperimentRecord, LoggedModelRecord, MetricPoint, ModelVersionRecord, Origin, RegisteredModelRecord, RunMeta,
        RunRecord, LOGGED_MODEL_PENDING, LOGGED_MODEL_READY, LOGGED_MODEL_UPLOAD_FAILED,
    },
    paths::is_single_segment,
    store::local::local_root,
    Error, Result,
};

/// Where deleted experiments are moved.
const TRASH: &str = ".trash";
/// The registry's folder at the root.
const MODELS: &str = "models";
/// Folders of an experiment that are not runs (3.x keeps logged models under `models/`).
const EXPERIMENT_FOLDERS: [&str; 4] = ["tags", "datasets", "traces", "models"];
/// The stage the registry gives a deleted model version, which it keeps on disk.
const DELETED_VERSION_STAGE: &str = "Deleted_Internal";
const PARENT_RUN_TAG: &str = "mlflow.parentRunId";

/// A run's artifact root and experiment name, as a model version records them.
type RunPlace = (Option<String>, Option<String>);

/// An `mlruns` folder opened for reading.
#[derive(Debug)]
pub struct Mlruns {
    root: PathBuf,
    /// Run id → its experiment's folder and id, built at the first look-up by id: finding a
    /// run otherwise means a look into every experiment folder, for every run.
    run_index: Mutex<HashMap<String, (PathBuf, String)>>,
}

/// A run as [`Mlruns::runs`] lists it: its meta and parent, without params, tags or metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEntry {
    pub meta: RunMeta,
    /// The `mlflow.parentRunId` tag, for nested runs.
    pub parent_run_id: Option<String>,
}

impl Mlruns {
    /// Opens the store at `location`: a path or a `file://` URI. Refuses anything that is not
    /// an mlruns root (a folder holding an experiment folder with a `meta.yaml`, `.trash` or a
    /// registered model), naming the path and what is missing.
    pub fn open(location: &str) -> Result<Self> {
        let path = match local_root(location) {
            Some(p) => p,
            None if location.contains("://") => {
                return Err(Error::Input(format!("{location}: not a file store (expected a path or a file:// URI)")))
            }
            None => PathBuf::from(location),
        };
        if !path.is_dir() {
            return Err(Error::Input(format!("{}: no such mlruns folder", path.display())));
        }
        let root = fs::canonicalize(&path).map_err(|e| Error::io(&path, e))?;
        let store = Mlruns { root, run_index: Mutex::default() };
        // `.trash` is made by MLflow when it opens a store, even an empty one; a `models/`
        // folder counts only with a registered model in it (projects have `models/` folders).
        let has_meta = |dir: &Path| -> Result<bool> {
            Ok(dir.is_dir()
                && subfolders(dir)?.iter().any(|(name, d)| !is_reserved_root(name) && d.join("meta.yaml").is_file()))
        };
        let marked = store.root.join(TRASH).is_dir() || has_meta(&store.root)? || has_meta(&store.root.join(MODELS))?;
        if !marked {
            return Err(Error::Input(format!(
                "{}: not an mlruns folder (no experiment folder with a meta.yaml, no .trash, no models/<name>/meta.yaml)",
                path.display()
            )));
        }
        Ok(store)
    }

    /// The store's folder (resolved).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The store as a tracking URI (`file:///…`), recorded as the runs' origin.
    pub fn uri(&self) -> String {
        url::Url::from_file_path(&self.root).map(String::from).unwrap_or_else(|_| self.root.display().to_string())
    }

    /// Every experiment, by id; the deleted ones (under `.trash`) too when asked.
    pub fn experiments(&self, include_deleted: bool) -> Result<Vec<ExperimentRecord>> {
        let mut out = Vec::new();
        for (name, dir) in self.experiment_dirs(include_deleted)? {
            if let Some(e) = read_experiment(&dir, &name)? {
                out.push(e);
            }
        }
        out.sort_by(|a, b| a.experiment_id.cmp(&b.experiment_id));
        Ok(out)
    }

    /// One experiment, active or deleted.
    pub fn experiment(&self, experiment_id: &str) -> Result<ExperimentRecord> {
        let dir = self.experiment_dir(experiment_id)?;
        read_experiment(&dir, experiment_id)?
            .ok_or_else(|| Error::Input(format!("{}: experiment folder without meta.yaml", dir.display())))
    }

    /// The runs of an experiment (the deleted ones too when asked), read from their
    /// `meta.yaml` and parent tag only. Sorted by start time, then id. Folders without a
    /// `meta.yaml` are skipped with a warning, as MLflow skips them.
    pub fn runs(&self, experiment_id: &str, include_deleted: bool) -> Result<Vec<RunEntry>> {
        let exp_dir = self.experiment_dir(experiment_id)?;
        let mut out = Vec::new();
        for (name, dir) in subfolders(&exp_dir)? {
            if EXPERIMENT_FOLDERS.contains(&name.as_str()) {
                continue;
            }
            if !dir.join("meta.yaml").is_file() {
                tracing::warn!(dir = %dir.display(), "run folder without meta.yaml; skipped");
                continue;
            }
            let meta = read_run_meta(&dir, experiment_id, &name)?;
            if meta.is_deleted() && !include_deleted {
                continue;
            }
            let parent_run_id = read_value(&dir.join("tags").join(PARENT_RUN_TAG))?;
            out.push(RunEntry { meta, parent_run_id });
        }
        out.sort_by(|a, b| (a.meta.start_time, &a.meta.run_id).cmp(&(b.meta.start_time, &b.meta.run_id)));
        Ok(out)
    }

    /// A run with params, tags, full metric histories (in file order), dataset and logged-model
    /// inputs and logged-model outputs.
    pub fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let (exp_dir, experiment_id, dir) = self.locate_run(run_id)?;
        let meta = read_run_meta(&dir, &experiment_id, run_id)?;
        let tags = read_key_values(&dir.join("tags"))?;
        let meta = RunMeta { run_name: meta.run_name.clone().or_else(|| tags.get("mlflow.runName").cloned()), ..meta };
        let experiment = read_experiment(&exp_dir, &experiment_id)?;
        let (dataset_inputs, model_inputs) = read_inputs(&dir.join("inputs"), &exp_dir.join("datasets"))?;
        Ok(RunRecord {
            params: read_key_values(&dir.join("params"))?,
            tags,
            metrics: read_metrics(&dir.join("metrics"))?,
            dataset_inputs,
            model_inputs,
            model_outputs: read_outputs(&dir.join("outputs"))?,
            origin: Origin { tracking_uri: Some(self.uri()), experiment_name: experiment.map(|e| e.name) },
            meta,
        })
    }

    /// The folder holding the run's artifacts, or `None` when its `artifact_uri` is not on
    /// this machine's file system (an object store: read it from there).
    ///
    /// The `artifact_uri` (`file://…` or a plain path) is absolute and names the machine the
    /// run was logged on. A store copied elsewhere (rsync'd from an HPC cluster) keeps those
    /// old paths, which then lead nowhere; its artifacts came along in
    /// `<root>/<exp>/<run>/artifacts` when they lived inside the store (MLflow's default). So
    /// a path outside the root that does not exist falls back to that folder when it exists.
    /// The path may not exist at all: a run that logged nothing has no folder.
    pub fn artifact_dir(&self, run: &RunMeta) -> Option<PathBuf> {
        let in_store = || self.locate_run(&run.run_id).ok().map(|(_, _, dir)| dir.join("artifacts"));
        let Some(uri) = run.artifact_uri.as_deref() else { return in_store() };
        let dir = local_root(uri)?;
        if dir.exists() || dir.starts_with(&self.root) {
            return Some(dir);
        }
        match in_store() {
            Some(local) if local.is_dir() => Some(local),
            _ => Some(dir),
        }
    }

    /// Every registered model with its versions in ascending order. Deleted versions (kept on
    /// disk as `Deleted_Internal`) are left out, as the registry's API leaves them out. Each
    /// version whose run is in this store gets that run's artifact root and experiment name.
    pub fn registered_models(&self) -> Result<Vec<RegisteredModelRecord>> {
        let models_dir = self.root.join(MODELS);
        if !models_dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        let mut runs = HashMap::new();
        for (name, dir) in subfolders(&models_dir)? {
            let yaml = Yaml::read(&dir.join("meta.yaml"))?;
            let declared = yaml.string("name")?;
            if declared.as_deref() != Some(name.as_str()) {
                return Err(mismatch(&dir, "name", declared.as_deref()));
            }
            let mut versions = Vec::new();
            for (folder, vdir) in subfolders(&dir)? {
                let Some(number) = folder.strip_prefix("version-") else { continue };
                if let Some(v) = self.read_version(&vdir, number, &mut runs)? {
                    versions.push(v);
                }
            }
            versions.sort_by_key(|v| crate::model::version_number(&v.version));
            out.push(RegisteredModelRecord {
                permissions: None,
                name,
                description: yaml.string("description")?.filter(|d| !d.is_empty()),
                tags: read_key_values(&dir.join("tags"))?,
                aliases: read_key_values(&dir.join("aliases"))?,
                creation_timestamp: yaml.int("creation_timestamp")?,
                last_updated_timestamp: yaml.int("last_updated_timestamp")?,
                versions,
            });
        }
        Ok(out)
    }

    /// The active MLflow 3 logged models of an experiment (`<exp>/models/m-…/meta.yaml`, with
    /// `params/` and `tags/`), oldest first. Their files are in `artifact_location`, or where an
    /// rsync'd store keeps them (see [`Self::artifact_dir`]). A model with metric points is
    /// refused: their file layout is not one this reader has seen MLflow write.
    pub fn logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        let dir = self.experiment_dir(experiment_id)?.join(MODELS);
        if !dir.is_dir() {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for (name, mdir) in subfolders(&dir)? {
            if !name.starts_with("m-") {
                continue;
            }
            let yaml = Yaml::read(&mdir.join("meta.yaml"))?;
            let declared = yaml.string("model_id")?;
            if declared.as_deref() != Some(name.as_str()) {
                return Err(mismatch(&mdir, "model_id", declared.as_deref()));
            }
            if yaml.string("lifecycle_stage")?.as_deref() == Some("deleted") {
                continue;
            }
            if !read_key_values(&mdir.join("metrics"))?.is_empty() {
                return Err(Error::Unsupported(format!(
                    "{}: logged model metrics in a file store are not read yet; copy it from a tracking server",
                    mdir.display()
                )));
            }
            let status = match yaml.int("status")? {
                Some(1) => Some(LOGGED_MODEL_PENDING.to_string()),
                Some(2) => Some(LOGGED_MODEL_READY.to_string()),
                Some(3) => Some(LOGGED_MODEL_UPLOAD_FAILED.to_string()),
                _ => None,
            };
            let in_store = mdir.join("artifacts");
            let artifact_uri = yaml.string("artifact_location")?;
            let artifact_uri = match artifact_uri.as_deref().and_then(local_root) {
                // A path that leads nowhere (a store copied from elsewhere): the model's own
                // folder here, where its files are if it has any.
                Some(p) if !p.exists() && !p.starts_with(&self.root) => Some(in_store.display().to_string()),
                _ => artifact_uri,
            };
            out.push((
                yaml.int("creation_timestamp")?,
                LoggedModelRecord {
                    name: yaml.string("name")?.unwrap_or_default(),
                    model_type: yaml.string("model_type")?,
                    params: read_key_values(&mdir.join("params"))?,
                    tags: read_key_values(&mdir.join("tags"))?,
                    artifact_uri,
                    source_run_id: yaml.string("source_run_id")?.filter(|r| !r.is_empty()),
                    metrics: Vec::new(),
                    status,
                    model_id: name,
                },
            ));
        }
        out.sort_by(|a, b| (a.0, &a.1.model_id).cmp(&(b.0, &b.1.model_id)));
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }

    /// A model version; `None` when deleted. `runs` keeps the artifact root and experiment name
    /// of each run already located.
    fn read_version(
        &self,
        dir: &Path,
        number: &str,
        runs: &mut HashMap<String, RunPlace>,
    ) -> Result<Option<ModelVersionRecord>> {
        let yaml = Yaml::read(&dir.join("meta.yaml"))?;
        let version = yaml.string("version")?;
        if version.as_deref() != Some(number) {
            return Err(mismatch(dir, "version", version.as_deref()));
        }
        let current_stage = yaml.string("current_stage")?;
        if current_stage.as_deref() == Some(DELETED_VERSION_STAGE) {
            return Ok(None);
        }
        let run_id = yaml.string("run_id")?.filter(|r| !r.is_empty());
        let (run_artifact_uri, experiment_name) = match &run_id {
            Some(id) => match runs.get(id) {
                Some(place) => place.clone(),
                None => {
                    let place = match self.locate_run(id) {
                        Ok((exp_dir, experiment_id, run_dir)) => (
                            read_run_meta(&run_dir, &experiment_id, id)?.artifact_uri,
                            read_experiment(&exp_dir, &experiment_id)?.map(|e| e.name),
                        ),
                        // A version may outlive its run, or name one of another store.
                        Err(Error::NotFound(_)) => (None, None),
                        Err(e) => return Err(e),
                    };
                    runs.insert(id.clone(), place.clone());
                    place
                }
            },
            None => (None, None),
        };
        Ok(Some(ModelVersionRecord {
            version: number.to_string(),
            description: yaml.string("description")?.filter(|d| !d.is_empty()),
            tags: read_key_values(&dir.join("tags"))?,
            current_stage,
            source: yaml.string("source")?.unwrap_or_default(),
            run_id,
            run_link: yaml.string("run_link")?.filter(|r| !r.is_empty()),
            status: yaml.string("status")?,
            user_id: yaml.string("user_id")?,
            creation_timestamp: yaml.int("creation_timestamp")?,
            last_updated_timestamp: yaml.int("last_updated_timestamp")?,
            run_artifact_uri,
            experiment_name,
        }))
    }

    /// The folder of an experiment, active or in `.trash`.
    fn experiment_dir(&self, experiment_id: &str) -> Result<PathBuf> {
        check_id("experiment id", experiment_id)?;
        if is_reserved_root(experiment_id) {
            return Err(Error::Input(format!("{experiment_id:?} is not an experiment id")));
        }
        [self.root.join(experiment_id), self.root.join(TRASH).join(experiment_id)]
            .into_iter()
            .find(|d| d.is_dir())
            .ok_or_else(|| Error::NotFound(format!("experiment {experiment_id} is not in {}", self.root.display())))
    }

    /// The experiment folders (id, path): the active ones, and those in `.trash` when asked.
    fn experiment_dirs(&self, include_deleted: bool) -> Result<Vec<(String, PathBuf)>> {
        let mut out: Vec<_> = subfolders(&self.root)?.into_iter().filter(|(name, _)| !is_reserved_root(name)).collect();
        let trash = self.root.join(TRASH);
        if include_deleted && trash.is_dir() {
            out.extend(subfolders(&trash)?);
        }
        Ok(out)
    }

    /// The folders of a run: its experiment's, the experiment id, and its own. A run not in
    /// the index has the index rebuilt once: it may be new, or have moved to `.trash` with
    /// its experiment.
    fn locate_run(&self, run_id: &str) -> Result<(PathBuf, String, PathBuf)> {
        check_id("run id", run_id)?;
        if EXPERIMENT_FOLDERS.contains(&run_id) {
            return Err(Error::Input(format!("{run_id:?} is not a run id")));
        }
        let found = |index: &HashMap<String, (PathBuf, String)>| {
            let (exp_dir, experiment_id) = index.get(run_id)?;
            let dir = exp_dir.join(run_id);
            dir.join("meta.yaml").is_file().then(|| (exp_dir.clone(), experiment_id.clone(), dir))
        };
        let mut index = self.run_index.lock().expect("poisoned");
        if let Some(hit) = found(&index) {
            return Ok(hit);
        }
        index.clear();
        for (experiment_id, exp_dir) in self.experiment_dirs(true)? {
            for (name, _) in subfolders(&exp_dir)? {
                if !EXPERIMENT_FOLDERS.contains(&name.as_str()) {
                    index.insert(name, (exp_dir.clone(), experiment_id.clone()));
                }
            }
        }
        found(&index).ok_or_else(|| Error::NotFound(format!("run {run_id} is not in {}", self.root.display())))
    }
}

fn is_reserved_root(name: &str) -> bool {
    name == TRASH || name == MODELS
}

fn check_id(what: &str, id: &str) -> Result<()> {
    if is_single_segment(id) {
        Ok(())
    } else {
        Err(Error::Input(format!("unsafe {what} {id:?}: not a single folder name")))
    }
}

fn mismatch(dir: &Path, field: &str, found: Option<&str>) -> Error {
    Error::Input(match found {
        Some(found) => format!("{}: meta.yaml has {field} {found:?}, which is not its folder's name", dir.display()),
        None => format!("{}: meta.yaml has no {field}", dir.display()),
    })
}

/// The sub-folders of `dir` (name, path), sorted by name. Names that cannot be ids (not UTF-8,
/// not one plain segment, hidden files) are skipped, except `.trash`; symlinks are refused.
fn subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let kind = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if kind.is_symlink() {
            return Err(Error::Input(format!(
                "{}: symlinks are not allowed in an mlruns folder",
                entry.path().display()
            )));
        }
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if kind.is_dir() && (name == TRASH || (!name.starts_with('.') && is_single_segment(&name))) {
            out.push((name, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

/// An experiment from its folder; `None` (with a warning) when the folder has no `meta.yaml`,
/// which MLflow skips the same way.
fn read_experiment(dir: &Path, folder: &str) -> Result<Option<ExperimentRecord>> {
    let path = dir.join("meta.yaml");
    if !path.is_file() {
        tracing::warn!(dir = %dir.display(), "experiment folder without meta.yaml; skipped");
        return Ok(None);
    }
    let yaml = Yaml::read(&path)?;
    let id = yaml.string("experiment_id")?;
    if id.as_deref() != Some(folder) {
        return Err(mismatch(dir, "experiment_id", id.as_deref()));
    }
    Ok(Some(ExperimentRecord {
        permissions: None,
        experiment_id: folder.to_string(),
        name: yaml.string("name")?.unwrap_or_default(),
        lifecycle_stage: yaml.string("lifecycle_stage")?.unwrap_or_else(|| "active".into()),
        artifact_location: yaml.string("artifact_location")?,
        creation_time: yaml.int("creation_time")?,
        last_update_time: yaml.int("last_update_time")?,
        tags: read_key_values(&dir.join("tags"))?,
    }))
}

/// A run's `meta.yaml`, checked against its folder (`run_id`, `run_uuid`) and experiment.
fn read_run_meta(dir: &Path, experiment_id: &str, folder: &str) -> Result<RunMeta> {
    let yaml = Yaml::read(&dir.join("meta.yaml"))?;
    // Both name the run; 1.x stores may have only `run_uuid`.
    let ids = [("run_id", yaml.string("run_id")?), ("run_uuid", yaml.string("run_uuid")?)];
    for (field, id) in &ids {
        if id.as_deref().is_some_and(|id| id != folder) {
            return Err(mismatch(dir, field, id.as_deref()));
        }
    }
    if ids.iter().all(|(_, id)| id.is_none()) {
        return Err(mismatch(dir, "run_id", None));
    }
    let declared = yaml.string("experiment_id")?;
    if declared.as_deref() != Some(experiment_id) {
        return Err(Error::Input(format!(
            "{}: meta.yaml has experiment_id {}, but the run is in experiment folder {experiment_id}",
            dir.display(),
            declared.as_deref().unwrap_or("(none)")
        )));
    }
    Ok(RunMeta {
        run_id: folder.to_string(),
        experiment_id: experiment_id.to_string(),
        run_name: yaml.string("run_name")?.filter(|n| !n.is_empty()),
        user_id: yaml.string("user_id")?,
        status: yaml.status()?,
        start_time: yaml.int("start_time")?,
        end_time: yaml.int("end_time")?,
        lifecycle_stage: yaml.string("lifecycle_stage")?.unwrap_or_else(|| "active".into()),
        artifact_uri: yaml.string("artifact_uri")?,
    })
}

/// Every file below `dir` as key (its path relative to `dir`, `/`-separated: MLflow makes a
/// key with `/` into folders) and raw content. A missing folder is empty.
fn read_key_values(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for (key, path) in files_below(dir)? {
        let value = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        out.insert(key, value);
    }
    Ok(out)
}

/// One raw value file, `None` when absent.
fn read_value(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// The files below `dir` with their `/`-separated relative paths, sorted; symlinks refused.
fn files_below(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![(String::new(), dir.to_path_buf())];
    while let Some((prefix, d)) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|e| Error::io(&d, e))? {
            let entry = entry.map_err(|e| Error::io(&d, e))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| Error::Input(format!("{}: file name is not UTF-8", path.display())))?;
            let key = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            if kind.is_symlink() {
                return Err(Error::Input(format!("{}: symlinks are not allowed in an mlruns folder", path.display())));
            } else if kind.is_dir() {
                stack.push((key, path));
            } else {
                out.push((key, path));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every metric's full history, in file order.
fn read_metrics(dir: &Path) -> Result<BTreeMap<String, Vec<MetricPoint>>> {
    let mut out = BTreeMap::new();
    for (key, path) in files_below(dir)? {
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let points = text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                parse_metric_line(line)
                    .ok_or_else(|| Error::Input(format!("{}:{}: not a metric line: {line:?}", path.display(), i + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        out.insert(key, points);
    }
    Ok(out)
}

/// `<timestamp> <value> [<step> [<dataset name> <dataset digest>]]`: the value as Python's
/// `str` writes a float (`nan`, `inf`, `-inf` included); old files have no step (0). MLflow 3
/// adds the dataset a point was computed on, which a [`MetricPoint`] does not hold. (MLflow's
/// own reader takes the step of such a line as 0; the step written is kept here.)
fn parse_metric_line(line: &str) -> Option<MetricPoint> {
    let parts: Vec<&str> = line.split_whitespace().collect();
    if ![2, 3, 5].contains(&parts.len()) {
        return None;
    }
    let step = match parts.get(2) {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    Some(MetricPoint { timestamp: parts[0].parse().ok()?, value: parts[1].parse().ok()?, step })
}

/// The run's inputs (`inputs/<input_id>/meta.yaml`, in input-id order): datasets, each
/// naming a dataset of the experiment, and (MLflow 3) logged models. A dataset that is not
/// there is skipped with a warning, as MLflow skips it.
fn read_inputs(inputs: &Path, datasets: &Path) -> Result<(Vec<DatasetInput>, Vec<ModelInput>)> {
    let (mut out, mut models) = (Vec::new(), Vec::new());
    if !inputs.is_dir() {
        return Ok((out, models));
    }
    for (_, dir) in subfolders(inputs)? {
        let yaml = Yaml::read(&dir.join("meta.yaml"))?;
        let Some(source_id) = yaml.string("source_id")? else {
            return Err(Error::Input(format!("{}: input without source_id", dir.display())));
        };
        match yaml.string("source_type")?.as_deref() {
            Some("DATASET") => {}
            Some("MODEL") => {
                models.push(ModelInput { model_id: source_id });
                continue;
            }
            _ => continue,
        }
        check_id("dataset id", &source_id)?;
        let meta = datasets.join(&source_id).join("meta.yaml");
        if !meta.is_file() {
            tracing::warn!(input = %dir.display(), "the input's dataset {source_id} is not in the store; skipped");
            continue;
        }
        let tags = match yaml.0.get("tags") {
            Some(Value::Mapping(m)) => m
                .iter()
                .map(|(k, v)| {
                    Ok(KeyValue::new(scalar(k, &dir)?.unwrap_or_default(), scalar(v, &dir)?.unwrap_or_default()))
                })
                .collect::<Result<Vec<_>>>()?,
            _ => Vec::new(),
        };
        let d = Yaml::read(&meta)?;
        let field = |k: &str| -> Result<String> { Ok(d.string(k)?.unwrap_or_default()) };
        out.push(DatasetInput {
            tags,
            dataset: Dataset {
                name: field("name")?,
                digest: field("digest")?,
                source_type: field("source_type")?,
                source: field("source")?,
                schema: d.string("schema")?,
                profile: d.string("profile")?,
            },
        });
    }
    Ok((out, models))
}

/// The logged models a run output (MLflow 3: `outputs/<model_id>/meta.yaml` with the step).
fn read_outputs(outputs: &Path) -> Result<Vec<ModelOutput>> {
    let mut out = Vec::new();
    if !outputs.is_dir() {
        return Ok(out);
    }
    for (model_id, dir) in subfolders(outputs)? {
        let yaml = Yaml::read(&dir.join("meta.yaml"))?;
        if yaml.string("destination_type")?.as_deref() == Some("MODEL_OUTPUT") {
            out.push(ModelOutput { model_id, step: yaml.int("step")?.unwrap_or(0) });
        }
    }
    Ok(out)
}

/// A `meta.yaml` file as a mapping, read loosely: MLflow versions differ in whether ids are
/// quoted and whether statuses are numbers.
struct Yaml(Mapping, PathBuf);

impl Yaml {
    fn read(path: &Path) -> Result<Self> {
        let text = fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        match serde_norway::from_str(&text) {
            Ok(Value::Mapping(m)) => Ok(Yaml(m, path.to_path_buf())),
            Ok(_) => Err(Error::Input(format!("{}: not a YAML mapping", path.display()))),
            Err(e) => Err(Error::Input(format!("{}: {e}", path.display()))),
        }
    }

    /// A string or number field as text; `None` when absent or null.
    fn string(&self, key: &str) -> Result<Option<String>> {
        self.0.get(key).map_or(Ok(None), |v| scalar(v, &self.1))
    }

    /// An integer field (written as a number, or a string of one).
    fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.0.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_i64().is_some() => Ok(n.as_i64()),
            Some(Value::String(s)) if s.parse::<i64>().is_ok() => Ok(s.parse().ok()),
            Some(v) => Err(Error::Input(format!("{}: {key} is not an integer: {v:?}", self.1.display()))),
        }
    }

    /// The run `status`: a number (RUNNING 1 … KILLED 5, as the file store writes it) or a name.
    fn status(&self) -> Result<RunStatus> {
        let status = self.string("status")?.unwrap_or_default();
        Ok(match status.as_str() {
            "1" | "RUNNING" => RunStatus::Running,
            "2" | "SCHEDULED" => RunStatus::Scheduled,
            "3" | "FINISHED" => RunStatus::Finished,
            "4" | "FAILED" => RunStatus::Failed,
            "5" | "KILLED" => RunStatus::Killed,
            _ => return Err(Error::Input(format!("{}: unknown run status {status:?}", self.1.display()))),
        })
    }
}

/// A YAML scalar as text (`None` for null); lists and mappings are errors naming `path`.
fn scalar(v: &Value, path: &Path) -> Result<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        Value::Number(n) => Ok(Some(n.to_string())),
        Value::Bool(b) => Ok(Some(b.to_string())),
        other => Err(Error::Input(format!("{}: expected a plain value, found {other:?}", path.display()))),
    }
}

#[cfg(test)]
mod tests {
    // The reader against stores written by the real MLflow client (fixtures made by
    // `scripts/mlruns-fixture.sh`, each with what the official client read back from it), and
    // against broken stores made here.

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
                    permissions: None,
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
                    let w =
                        want.iter().find(|w| w["run_id"] == entry.meta.run_id.as_str()).expect("run listed by mlflow");
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
                        let experiment =
                            experiments.iter().find(|e| e["experiment_id"] == run["experiment_id"]).unwrap();
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
                    permissions: None,
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
        // Deleting the experiment moves it, with its runs, to .trash: still found by id.
        fs::create_dir_all(good.path().join(TRASH)).unwrap();
        fs::rename(good.path().join("1"), good.path().join(TRASH).join("1")).unwrap();
        assert_eq!(store.read_run(RUN).unwrap().meta.run_id, RUN);
        assert!(matches!(store.read_run(&RUN.replace('0', "f")), Err(Error::NotFound(_))));
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
        assert_eq!(
            parse_metric_line("5 0.5 7 train b064d295").unwrap(),
            MetricPoint { value: 0.5, timestamp: 5, step: 7 }
        );
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
        std::os::unix::fs::symlink(outside.path().join("secret"), tmp.path().join("1").join(RUN).join("params/p"))
            .unwrap();
        let store = Mlruns::open(tmp.path().to_str().unwrap()).unwrap();
        let err = store.read_run(RUN).unwrap_err().to_string();
        assert!(err.contains("symlinks are not allowed"), "{err}");
    }
}
