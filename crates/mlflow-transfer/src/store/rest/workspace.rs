//! What a Databricks workspace does differently as a destination (databricks-rest.md §6): an
//! experiment is named by an absolute workspace path whose folder must exist, and some tags
//! may not be set.

use mlflow_client::MlflowClient;

use crate::{Error, Result};

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
