//! An export directory as a source and as a sink.
//!
//! A run folder holds `run.json` and `artifacts/`. The sink writes artifacts first and
//! `run.json` last, through a temp file and a rename, so a folder with a `run.json` is a
//! complete export and a folder without one is an interrupted export to be finished.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

use async_trait::async_trait;

use crate::{
    format::{
        logged_model_json::{read_logged_model_json, write_logged_model_json},
        run_json::{read_run_json, write_run_json, ArtifactEntry, RunJson},
        ExportSystem,
    },
    identity::SourceIdentity,
    model::{ArtifactFile, LoggedModelRecord, RunRecord},
    paths::{is_single_segment, safe_join},
    store::{local, ByteStream, LoggedModelSink, LoggedModelSource, RunSink, RunSource, Target},
    Error, Result,
};

pub const RUN_JSON: &str = "run.json";
pub const ARTIFACTS: &str = "artifacts";
/// The folder of a model export's logged models, beside `model.json`.
pub const LOGGED_MODELS: &str = "logged_models";
const LOGGED_MODEL_JSON: &str = "logged_model.json";

/// Where the logged models of an export live: the Python tool writes them in three layouts.
#[derive(Debug, Clone)]
pub enum ModelFolders {
    /// `<dir>/logged_models/<id>/`, beside an experiment's `experiment.json` or a registered
    /// model's `model.json`.
    Beside(PathBuf),
    /// `<dir>/<id>/`, an `export-logged-models` folder.
    Under(PathBuf),
    /// `<dir>` itself, an `export-logged-model` folder of one model.
    Single(PathBuf),
}

impl ModelFolders {
    /// The folder of model `id`, refusing an id that is not a plain folder name.
    pub fn dir_of(&self, id: &str) -> Result<PathBuf> {
        let root = match self {
            ModelFolders::Single(dir) => return Ok(dir.clone()),
            ModelFolders::Beside(dir) => dir.join(LOGGED_MODELS),
            ModelFolders::Under(dir) => dir.clone(),
        };
        if !is_single_segment(id) {
            return Err(Error::Input(format!("logged model id {id:?} is not a folder name")));
        }
        Ok(root.join(id))
    }

    /// The folder of model `id` as text, the same however it is reached: one copy per folder.
    /// An id that is not a folder name gets a name of its own (its step fails when it runs).
    pub fn key(&self, id: &str) -> String {
        self.dir_of(id).map_or_else(|_| format!("{self:?}/{id}"), |d| d.display().to_string())
    }
}

/// Reads and checks `<dir>/run.json`; errors name the file.
pub fn read_run_dir(dir: &Path) -> Result<RunJson> {
    let path = dir.join(RUN_JSON);
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Input(format!("{}: not a run export: {RUN_JSON} is missing", dir.display()))
        } else {
            Error::io(&path, e)
        }
    })?;
    Ok(read_run_json(&path, &bytes)?)
}

/// Exported runs, each in its own folder (`export-run` output, or the runs of an experiment
/// export).
pub struct DirSource {
    dirs: HashMap<String, PathBuf>,
    /// Artifact manifests seen when reading each run, to check the files against.
    manifests: Mutex<HashMap<String, Vec<ArtifactEntry>>>,
}

impl DirSource {
    /// The run in `dir`; returns the source and the run's id.
    pub fn single(dir: impl Into<PathBuf>) -> Result<(Self, String)> {
        let dir = dir.into();
        let id = read_run_dir(&dir)?.run.meta.run_id;
        Ok((Self::tree([(id.clone(), dir)]), id))
    }

    /// Runs by id, each in its folder.
    pub fn tree(dirs: impl IntoIterator<Item = (String, PathBuf)>) -> Self {
        Self { dirs: dirs.into_iter().collect(), manifests: Mutex::default() }
    }

    fn dir_of(&self, run_id: &str) -> Result<&Path> {
        self.dirs
            .get(run_id)
            .map(PathBuf::as_path)
            .ok_or_else(|| Error::NotFound(format!("run {run_id} is not part of this export")))
    }
}

#[async_trait]
impl RunSource for DirSource {
    async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let dir = self.dir_of(run_id)?;
        let json = read_run_dir(dir)?;
        if json.run.meta.run_id != run_id {
            return Err(Error::Input(format!(
                "{}: expected run {run_id}, but {RUN_JSON} holds run {}",
                dir.display(),
                json.run.meta.run_id
            )));
        }
        if let Some(m) = json.artifacts {
            self.manifests.lock().expect("poisoned").insert(run_id.to_string(), m);
        }
        Ok(json.run)
    }

    /// The files present, checked against the manifest `run.json` carries when we wrote it:
    /// a file it lists that is missing or has another size is an error, not a silent gap; its
    /// SHA-256 goes with the file, for the bytes to be checked as they stream.
    async fn list_artifacts(&self, run: &RunRecord) -> Result<Vec<ArtifactFile>> {
        let dir = self.dir_of(&run.meta.run_id)?;
        let mut files = local::list_files(&dir.join(ARTIFACTS)).await?;
        let manifest = self.manifests.lock().expect("poisoned").remove(&run.meta.run_id);
        for entry in manifest.iter().flatten() {
            match files.iter_mut().find(|f| f.path == entry.path) {
                None => {
                    return Err(Error::Input(format!(
                        "{}: artifact {} listed in {RUN_JSON} is missing",
                        dir.display(),
                        entry.path
                    )))
                }
                Some(ArtifactFile { size: Some(size), .. }) if *size != entry.size => {
                    return Err(Error::Input(format!(
                        "{}: artifact {} has {size} bytes, {RUN_JSON} says {}",
                        dir.display(),
                        entry.path,
                        entry.size
                    )))
                }
                Some(f) => f.sha256.clone_from(&entry.sha256),
            }
        }
        Ok(files)
    }

    async fn open_artifact(&self, run: &RunRecord, file: &ArtifactFile) -> Result<ByteStream> {
        let dir = self.dir_of(&run.meta.run_id)?;
        local::open(&crate::paths::safe_join(&dir.join(ARTIFACTS), &file.path)?).await
    }
}

/// Writes one run into a folder.
pub struct DirSink {
    dir: PathBuf,
    /// Shared by every run of an export: a copy per run (five strings) was a good part of
    /// planning's memory at 100,000 runs.
    system: Arc<ExportSystem>,
}

impl DirSink {
    pub fn new(dir: impl Into<PathBuf>, system: impl Into<Arc<ExportSystem>>) -> Self {
        Self { dir: dir.into(), system: system.into() }
    }
}

#[async_trait]
impl RunSink for DirSink {
    fn assigns_ids(&self) -> bool {
        false
    }

    async fn begin_run(&self, _run: &RunRecord, source: &SourceIdentity) -> Result<Target> {
        let id = self.dir.display().to_string();
        if self.dir.join(RUN_JSON).exists() {
            let existing = read_run_dir(&self.dir)?;
            if existing.run.meta.run_id != source.run_id {
                return Err(Error::Input(format!(
                    "{id} already holds an export of run {}, not {}",
                    existing.run.meta.run_id, source.run_id
                )));
            }
            return Ok(Target::Complete(id));
        }
        let resumed = self.dir.join(ARTIFACTS).exists();
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        Ok(if resumed { Target::Resumed(id) } else { Target::Created(id) })
    }

    async fn write_artifact(&self, _target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        local::write(&self.dir.join(ARTIFACTS), &file.path, data).await.map(drop)
    }

    async fn finish_run(&self, _target: &Target, run: &RunRecord, artifacts: &[ArtifactEntry]) -> Result<()> {
        let doc = write_run_json(run, &self.system, artifacts);
        local::write_atomic_with(&self.dir.join(RUN_JSON), |out| serde_json::to_writer_pretty(out, &doc))
    }
}

/// The logged models of an export.
pub struct DirLoggedModels {
    folders: ModelFolders,
}

impl DirLoggedModels {
    /// The models beside an experiment's or a registered model's export.
    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self::at(ModelFolders::Beside(model_dir.into()))
    }

    pub fn at(folders: ModelFolders) -> Self {
        Self { folders }
    }
}

#[async_trait]
impl LoggedModelSource for DirLoggedModels {
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord> {
        let path = self.folders.dir_of(model_id)?.join(LOGGED_MODEL_JSON);
        let bytes = std::fs::read(&path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::Input(format!("{}: missing: the export does not hold logged model {model_id}", path.display()))
            } else {
                Error::io(&path, e)
            }
        })?;
        let mut m = read_logged_model_json(&path, &bytes)?;
        m.model_id = model_id.to_string();
        Ok(m)
    }

    async fn list_model_files(&self, model: &LoggedModelRecord) -> Result<Vec<ArtifactFile>> {
        local::list_files(&self.folders.dir_of(&model.model_id)?.join(ARTIFACTS)).await
    }

    async fn open_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Result<ByteStream> {
        let root = self.folders.dir_of(&model.model_id)?.join(ARTIFACTS);
        local::open(&safe_join(&root, &file.path)?).await
    }
}

/// The logged models in `<dir>/logged_models/`, each folder that holds a `logged_model.json`
/// (one without is an interrupted export's), its id the folder's name. Files there (the
/// Python tool's `logged_models.json` index) are not models.
pub fn read_logged_models(dir: &Path) -> Result<Vec<LoggedModelRecord>> {
    let root = dir.join(LOGGED_MODELS);
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&root, e)),
    };
    let folders = ModelFolders::Beside(dir.to_path_buf());
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&root, e))?;
        if !entry.file_type().map_err(|e| Error::io(entry.path(), e))?.is_dir() {
            continue;
        }
        let Some(id) = entry.file_name().to_str().map(str::to_string) else { continue };
        let path = folders.dir_of(&id)?.join(LOGGED_MODEL_JSON);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(&path, e)),
        };
        out.push(LoggedModelRecord { model_id: id, ..read_logged_model_json(&path, &bytes)? });
    }
    out.sort_by(|a, b| a.model_id.cmp(&b.model_id));
    Ok(out)
}

/// The model an `export-logged-model` folder holds (the id its `logged_model.json` gives).
pub fn read_single_logged_model(dir: &Path) -> Result<LoggedModelRecord> {
    let path = dir.join(LOGGED_MODEL_JSON);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let m = read_logged_model_json(&path, &bytes)?;
    if m.model_id.is_empty() {
        return Err(Error::Input(format!("{}: `mlflow.model_id` is missing", path.display())));
    }
    Ok(m)
}

/// Writes logged models into an export: files first, `logged_model.json` last.
pub struct DirLoggedModelSink {
    folders: ModelFolders,
}

impl DirLoggedModelSink {
    /// Beside an experiment's or a registered model's export.
    pub fn new(model_dir: impl Into<PathBuf>) -> Self {
        Self::at(ModelFolders::Beside(model_dir.into()))
    }

    pub fn at(folders: ModelFolders) -> Self {
        Self { folders }
    }
}

#[async_trait]
impl LoggedModelSink for DirLoggedModelSink {
    async fn begin_logged_model(&self, model: &LoggedModelRecord, _: Option<&str>, _: Option<&str>) -> Result<Target> {
        let dir = self.folders.dir_of(&model.model_id)?;
        let id = dir.display().to_string();
        if dir.join(LOGGED_MODEL_JSON).exists() {
            return Ok(Target::Complete(id));
        }
        Ok(if dir.exists() { Target::Resumed(id) } else { Target::Created(id) })
    }

    async fn write_model_file(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        local::write(&Path::new(target.id()).join(ARTIFACTS), &file.path, data).await.map(drop)
    }

    async fn finish_logged_model(&self, target: &Target, model: &LoggedModelRecord) -> Result<()> {
        let path = Path::new(target.id()).join(LOGGED_MODEL_JSON);
        local::write_json(&path, &write_logged_model_json(model))
    }
}
