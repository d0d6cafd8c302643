//! An export directory as a source and as a sink.
//!
//! A run folder holds `run.json` and `artifacts/`. The sink writes artifacts first and
//! `run.json` last, through a temp file and a rename, so a folder with a `run.json` is a
//! complete export and a folder without one is an interrupted export to be finished.

use std::path::{Path, PathBuf};

use async_trait::async_trait;

use crate::{
    format::run_json::{read_run_json, write_run_json, ArtifactEntry, ExportSystem, RunJson},
    identity::SourceIdentity,
    model::{ArtifactFile, RunRecord},
    store::{local, ByteStream, RunSink, RunSource, Target},
    Error, Result,
};

pub const RUN_JSON: &str = "run.json";
pub const ARTIFACTS: &str = "artifacts";

/// Reads and checks `<dir>/run.json`; errors name the file.
pub fn read_run_dir(dir: &Path) -> Result<RunJson> {
    let path = dir.join(RUN_JSON);
    let bytes = std::fs::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Input(format!(
                "{}: not a run export: {RUN_JSON} is missing",
                dir.display()
            ))
        } else {
            Error::io(&path, e)
        }
    })?;
    read_run_json(&bytes).map_err(|source| Error::Format { path, source })
}

/// A single exported run in a folder (`export-run` output, or one run of an experiment export).
pub struct DirSource {
    dir: PathBuf,
}

impl DirSource {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// Reads the folder's run. The id is the one the export recorded.
    pub fn read(&self) -> Result<RunJson> {
        read_run_dir(&self.dir)
    }
}

#[async_trait]
impl RunSource for DirSource {
    async fn read_run(&self, _run_id: &str) -> Result<RunRecord> {
        Ok(self.read()?.run)
    }

    /// The files present, checked against the manifest `run.json` carries when we wrote it:
    /// a file it lists that is missing or has another size is an error, not a silent gap.
    async fn list_artifacts(&self, _run: &RunRecord) -> Result<Vec<ArtifactFile>> {
        let files = local::list_files(&self.dir.join(ARTIFACTS)).await?;
        if let Some(manifest) = self.read()?.artifacts {
            for entry in &manifest {
                match files.iter().find(|f| f.path == entry.path) {
                    None => {
                        return Err(Error::Input(format!(
                            "{}: artifact {} listed in {RUN_JSON} is missing",
                            self.dir.display(),
                            entry.path
                        )))
                    }
                    Some(f) if f.size != entry.size => {
                        return Err(Error::Input(format!(
                            "{}: artifact {} has {} bytes, {RUN_JSON} says {}",
                            self.dir.display(),
                            entry.path,
                            f.size,
                            entry.size
                        )))
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(files)
    }

    async fn open_artifact(&self, _run: &RunRecord, file: &ArtifactFile) -> Result<ByteStream> {
        local::open(&crate::paths::safe_join(&self.dir.join(ARTIFACTS), &file.path)?).await
    }
}

/// Writes one run into a folder.
pub struct DirSink {
    dir: PathBuf,
    system: ExportSystem,
}

impl DirSink {
    pub fn new(dir: impl Into<PathBuf>, system: ExportSystem) -> Self {
        Self { dir: dir.into(), system }
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

    async fn write_data(&self, _target: &Target, _run: &RunRecord) -> Result<()> {
        // Everything but artifacts goes into run.json, written last by `finish_run`.
        Ok(())
    }

    async fn write_artifact(&self, _target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        local::write(&self.dir.join(ARTIFACTS), &file.path, data).await.map(drop)
    }

    async fn finish_run(&self, _target: &Target, run: &RunRecord, artifacts: &[ArtifactEntry]) -> Result<()> {
        let json = write_run_json(run, &self.system, artifacts);
        let bytes = serde_json::to_vec_pretty(&json).expect("JSON values always serialize");
        local::write_atomic(&self.dir.join(RUN_JSON), &bytes)
    }
}
