//! The Databricks notebook a run was logged from (databricks-rest.md §5). An export keeps it
//! among the run's files the way the Python tool lays it out, `notebooks/<name>.<format>` and
//! `notebooks/manifest.json`, so either tool's importer reads either tool's export; an import
//! into a workspace can put it back as a notebook and point the run at it. A notebook can also
//! be downloaded on its own.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use bytes::Bytes;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};

use crate::{
    model::{ArtifactFile, NotebookFormat, RunRecord},
    store::{local, RunSink, RunSource},
    Error, Result,
};

/// The run tag naming the notebook by its absolute workspace path.
const PATH_TAG: &str = "mlflow.databricks.notebookPath";
/// The notebook revision the run was logged from (set by Databricks, absent for Git folders).
const REVISION_TAG: &str = "mlflow.databricks.notebookRevisionID";
/// The run's source, which for a notebook run is the notebook's path too.
const SOURCE_NAME_TAG: &str = "mlflow.source.name";
const MANIFEST: &str = "notebooks/manifest.json";
/// What the Python tool's importer (and ours, for an export without a `language`) assumes.
const DEFAULT_LANGUAGE: &str = "PYTHON";

/// The file name of a notebook named `name` saved in `format`.
fn file_name(format: NotebookFormat, name: &str) -> String {
    format!("{name}.{}", format.api_name().to_ascii_lowercase())
}

/// The file a notebook named `name` is saved as in an export, in `format`.
fn file_of(format: NotebookFormat, name: &str) -> String {
    format!("notebooks/{}", file_name(format, name))
}

/// `notebooks/manifest.json`: the Python tool's keys, and the notebook's language, which its
/// importer ignores and ours needs to import a notebook that is not Python.
#[derive(Debug, Serialize, Deserialize)]
struct Manifest {
    #[serde(rename = "mlflow.databricks.notebookPath")]
    path: String,
    #[serde(rename = "mlflow.databricks.notebookRevisionID")]
    revision: Option<String>,
    formats: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<String>,
}

/// The last segment of a workspace path.
fn name_of(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or(path)
}

/// The files that keep run `run`'s notebook in an export, by path under the run's artifacts,
/// and a line saying what was done. The notebook's latest revision is exported: the workspace
/// API documents no way to an earlier one. A run logged from no notebook, or whose notebook is
/// gone, gets none: that is said, not failed.
pub async fn export(
    source: &dyn RunSource,
    run: &RunRecord,
    formats: &[NotebookFormat],
) -> Result<(BTreeMap<String, Bytes>, String)> {
    let Some(path) = run.tags.get(PATH_TAG) else {
        return Ok((BTreeMap::new(), format!("none exported: the run has no {PATH_TAG} tag")));
    };
    let Some(notebook) = source.export_notebook(path, formats).await? else {
        return Ok((BTreeMap::new(), format!("none exported: {path} no longer exists")));
    };
    let name = name_of(path);
    let manifest = Manifest {
        path: path.clone(),
        revision: run.tags.get(REVISION_TAG).cloned(),
        formats: formats.iter().map(|f| f.api_name().to_string()).collect(),
        language: notebook.language,
    };
    let mut files: BTreeMap<String, Bytes> =
        notebook.exports.into_iter().map(|(format, bytes)| (file_of(format, name), bytes)).collect();
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Input(format!("notebook manifest: {e}")))?;
    files.insert(MANIFEST.into(), Bytes::from(json));
    let names: Vec<&str> = formats.iter().map(|f| f.api_name()).collect();
    Ok((files, format!("{path} exported as {}", names.join(", "))))
}

/// Puts the notebook an export keeps among `files` into folder `dir` of the destination
/// workspace and points the run's notebook tags at it, then says what was done. An export
/// without one (or without its SOURCE format) imports none, which is said, not failed.
pub async fn import(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    run: &mut RunRecord,
    files: &[ArtifactFile],
    dir: &str,
) -> Result<String> {
    let Some(manifest) = read(source, run, files, MANIFEST).await? else {
        return carry(source, sink, run, dir).await;
    };
    let manifest: Manifest = serde_json::from_slice(&manifest)
        .map_err(|e| Error::Input(format!("run {}: {MANIFEST}: {e}", run.meta.run_id)))?;
    let name = name_of(&manifest.path);
    if matches!(name, "" | "." | "..") {
        return Err(Error::Input(format!(
            "run {}: {MANIFEST}: no notebook name in {:?}",
            run.meta.run_id, manifest.path
        )));
    }
    let Some(content) = read(source, run, files, &file_of(NotebookFormat::Source, name)).await? else {
        return Ok(format!("none imported: {} was exported without the SOURCE format", manifest.path));
    };
    let language = manifest.language.as_deref().unwrap_or(DEFAULT_LANGUAGE);
    let to = place(sink, run, dir, name, language, Bytes::from(content)).await?;
    Ok(format!("{} imported as {to}", manifest.path))
}

/// Puts a notebook's SOURCE `content` into folder `dir` as `<dir>/<name>` and points the run's
/// notebook tags at it; the notebook's new path.
async fn place(
    sink: &dyn RunSink,
    run: &mut RunRecord,
    dir: &str,
    name: &str,
    language: &str,
    content: Bytes,
) -> Result<String> {
    let to = format!("{}/{name}", dir.trim_end_matches('/'));
    sink.import_notebook(&to, language, content).await?;
    for tag in [PATH_TAG, SOURCE_NAME_TAG] {
        run.tags.insert(tag.into(), to.clone());
    }
    Ok(to)
}

/// In a copy from a workspace, where the run's files hold no notebook: the notebook the run
/// names there, read in its SOURCE format and put into folder `dir` as [`import`] does. A
/// source that keeps no notebooks (an export without one) imports none, which is said.
async fn carry(source: &dyn RunSource, sink: &dyn RunSink, run: &mut RunRecord, dir: &str) -> Result<String> {
    let Some(path) = run.tags.get(PATH_TAG).cloned() else {
        return Ok(format!("none imported: the run has no {PATH_TAG} tag"));
    };
    let notebook = match source.export_notebook(&path, &[NotebookFormat::Source]).await {
        Ok(Some(notebook)) => notebook,
        Ok(None) => return Ok(format!("none imported: {path} no longer exists")),
        Err(Error::Unsupported(_)) => return Ok("none imported: the export holds no notebook".into()),
        Err(e) => return Err(e),
    };
    let Some((_, content)) = notebook.exports.into_iter().find(|(f, _)| *f == NotebookFormat::Source) else {
        return Ok(format!("none imported: {path} has no SOURCE export"));
    };
    let name = name_of(&path);
    if matches!(name, "" | "." | "..") {
        return Err(Error::Input(format!("run {}: no notebook name in {path:?}", run.meta.run_id)));
    }
    let language = notebook.language.as_deref().unwrap_or(DEFAULT_LANGUAGE);
    let to = place(sink, run, dir, name, language, content).await?;
    Ok(format!("{path} imported as {to}"))
}

/// Writes the notebook at workspace `path` into folder `out`, one `<name>.<format>` file per
/// format (the Python tool's `download-notebook` names); returns the files written.
pub async fn download(
    source: &dyn RunSource,
    path: &str,
    formats: &[NotebookFormat],
    out: &Path,
) -> Result<Vec<PathBuf>> {
    let Some(notebook) = source.export_notebook(path, formats).await? else {
        return Err(Error::NotFound(format!("notebook {path}: the workspace holds no notebook there")));
    };
    std::fs::create_dir_all(out).map_err(|source| Error::Io { path: out.to_path_buf(), source })?;
    let mut written = Vec::new();
    for (format, bytes) in notebook.exports {
        let file = out.join(file_name(format, name_of(path)));
        local::write_atomic(&file, &bytes)?;
        written.push(file);
    }
    Ok(written)
}

/// The bytes of file `path` of the run, when it has one.
async fn read(source: &dyn RunSource, run: &RunRecord, files: &[ArtifactFile], path: &str) -> Result<Option<Vec<u8>>> {
    let Some(file) = files.iter().find(|f| f.path == path) else { return Ok(None) };
    let stream = source.open_artifact(run, file).await?.stream;
    let bytes: Vec<u8> = stream
        .map_ok(|b| b.to_vec())
        .try_concat()
        .await
        .map_err(|e| Error::Input(format!("run {}: {path}: {e}", run.meta.run_id)))?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_in_any_case_once_each_and_unknown_ones_are_named() {
        let got = NotebookFormat::parse_list(" source,Html,JUPYTER,dbc,SOURCE,").unwrap();
        assert_eq!(got, NotebookFormat::ALL);
        assert_eq!(NotebookFormat::parse_list("").unwrap(), []);
        let err = NotebookFormat::parse_list("SOURCE,PDF").unwrap_err();
        assert!(err.contains("\"PDF\"") && err.contains("SOURCE, HTML, JUPYTER or DBC"), "{err}");
    }

    #[test]
    fn files_are_named_as_the_python_tool_names_them() {
        assert_eq!(file_of(NotebookFormat::Jupyter, name_of("/Users/a@b.c/train")), "notebooks/train.jupyter");
        let manifest =
            Manifest { path: "/a/nb".into(), revision: None, formats: vec!["SOURCE".into()], language: None };
        let json = serde_json::to_value(&manifest).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"mlflow.databricks.notebookPath": "/a/nb", "mlflow.databricks.notebookRevisionID": null, "formats": ["SOURCE"]})
        );
    }
}
