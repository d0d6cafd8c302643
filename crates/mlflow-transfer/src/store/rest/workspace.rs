//! What a Databricks workspace does differently (databricks-rest.md §5, §6): as a destination,
//! an experiment is named by an absolute workspace path whose folder must exist, and some tags
//! may not be set; on both sides, runs' notebooks live in the workspace tree.

use bytes::Bytes;
use mlflow_client::MlflowClient;

use crate::{
    model::{Notebook, NotebookFormat},
    Error, Result,
};

/// Tags a workspace does not let a client set, on runs and experiments alike: the owner comes
/// from the caller's identity, `log_model` history and root links are the workspace's own, and
/// the notebook tags tie an experiment to a notebook of the source workspace (the Python tool's
/// `_DATABRICKS_SKIP_TAGS`).
const REFUSED_TAGS: [&str; 5] = [
    "mlflow.user",
    "mlflow.log-model.history",
    "mlflow.rootRunId",
    "mlflow.experiment.sourceType",
    "mlflow.experiment.sourceId",
];

/// The tags `client`'s server refuses.
pub fn refused_tags(client: &MlflowClient) -> &'static [&'static str] {
    if client.is_databricks() {
        &REFUSED_TAGS
    } else {
        &[]
    }
}

/// Before experiment `name` is created at `client`'s server: in a workspace, `name` must be an
/// absolute path, and its folder is created (`mkdir -p`) so that the create does not fail for
/// a missing parent.
pub async fn prepare_experiment_path(client: &MlflowClient, name: &str) -> Result<()> {
    if !client.is_databricks() {
        return Ok(());
    }
    if !name.starts_with('/') || name.ends_with('/') {
        return Err(Error::Input(format!(
            "experiment {name:?}: a Databricks experiment is named by its workspace path, such as \
             /Users/<user>/{}",
            name.trim_matches('/')
        )));
    }
    match name.rsplit_once('/') {
        Some((folder, _)) if !folder.is_empty() => Ok(client.workspace_mkdirs(folder).await?),
        _ => Ok(()),
    }
}

/// The notebook at `path` in each of `formats` (databricks-rest.md §5.1 `get-status`, then one
/// `export` per format), or `None` when the workspace holds no notebook there.
pub async fn export_notebook(
    client: &MlflowClient,
    path: &str,
    formats: &[NotebookFormat],
) -> Result<Option<Notebook>> {
    if !client.is_databricks() {
        return Err(Error::Unsupported(format!("notebook {path}: the source is not a Databricks workspace")));
    }
    let object = match client.workspace_get_status(path).await {
        Ok(o) if o.object_type.as_deref() == Some("NOTEBOOK") => o,
        Ok(_) => return Ok(None),
        Err(e) if e.is_not_found() => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut exports = Vec::new();
    for format in formats {
        exports.push((*format, Bytes::from(client.workspace_export(path, format.api_name()).await?)));
    }
    Ok(Some(Notebook { language: object.language, exports }))
}

/// Writes a notebook's SOURCE export as the notebook at `path` (databricks-rest.md §5.1
/// `mkdirs` for its folder, then `import` with `overwrite`, so that a repeat changes nothing).
pub async fn import_notebook(client: &MlflowClient, path: &str, language: &str, source: &[u8]) -> Result<()> {
    if !client.is_databricks() {
        return Err(Error::Unsupported(format!("notebook {path}: the destination is not a Databricks workspace")));
    }
    if let Some((folder, _)) = path.rsplit_once('/').filter(|(f, _)| !f.is_empty()) {
        client.workspace_mkdirs(folder).await?;
    }
    Ok(client.workspace_import(path, "SOURCE", language, source, true).await?)
}
