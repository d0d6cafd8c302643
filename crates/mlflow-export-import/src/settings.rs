//! Turning parsed arguments and the environment into library settings.

use anyhow::Context;
use mlflow_client::{config::process_env, ClientConfig, MlflowClient};
use std::sync::Arc;

use mlflow_transfer::job::{RunOptions, UserPolicy};
use mlflow_transfer::plan::Destination;
use mlflow_transfer::store::{
    mlruns_source::{self, is_mlruns_uri},
    rest::RestSource,
    sql::{self, is_database_uri, SqlSink},
    tracking::TrackingSource,
};

use mlflow_transfer::model::ExperimentRecord;
use mlflow_transfer::select::{parse_time, PrincipalMap, RunFilter};

use mlflow_transfer::model::NotebookFormat;

use crate::cli::{GlobalArgs, ImportTagArgs, NotebookDirArgs, NotebookFormatArgs, RunFilterArgs, RunIdArgs};

/// A client for `uri`; `side` is `Some("SRC")`/`Some("DST")` for copy (see `--help`).
pub fn client(uri: &str, side: Option<&str>, global: &GlobalArgs) -> anyhow::Result<MlflowClient> {
    let mut config = ClientConfig::resolve(uri, side, &process_env)?;
    config.max_in_flight = global.max_requests_in_flight.max(1);
    config.max_requests_per_second = global.max_requests_per_second;
    if let Some(secs) = global.request_timeout {
        config.timeout = std::time::Duration::from_secs(secs);
    }
    if let Some(n) = global.max_retries {
        config.retry.max_retries = n;
    }
    let workspace = match side {
        Some("SRC") => &global.src_workspace,
        Some("DST") => &global.dst_workspace,
        _ => &global.workspace,
    };
    if let Some(w) = workspace {
        anyhow::ensure!(!w.trim().is_empty(), "the workspace name is empty");
        config.workspace = Some(w.trim().to_string());
    }
    let store = match side {
        Some("SRC") => &global.src_artifacts_destination,
        Some("DST") => &global.dst_artifacts_destination,
        _ => &global.artifacts_destination,
    };
    if let Some(dir) = store {
        anyhow::ensure!(dir.is_dir(), "artifacts destination {} is not a folder", dir.display());
        config.artifacts_destination = Some(dir.clone());
    }
    MlflowClient::new(&config).with_context(|| format!("connecting to {}", mlflow_client::redact(uri)))
}

/// Where a job reads: a tracking server (with its client, for the request counts of the
/// summary), or a store read directly: MLflow's backend database (`sqlite:///…`,
/// `postgresql://…`, `mysql://…`, as the server's `--backend-store-uri` names it) or an
/// `mlruns` folder (a path or `file:///…`).
pub struct SourceSide {
    pub source: Arc<dyn TrackingSource>,
    pub client: Option<MlflowClient>,
}

impl SourceSide {
    /// The source's client under `label`, for [`crate::commands::finish_job`]'s request counts.
    pub fn named(&self, label: &'static str) -> Vec<(&'static str, &MlflowClient)> {
        self.client.iter().map(|c| (label, c)).collect()
    }
}

/// The source `uri` names; `side` as for [`client`] (`verify` reads both sides as sources). A
/// database is given the server's artifacts destination (`--src-`/`--dst-artifacts-destination`
/// for its side, else `--artifacts-destination`), a folder or an object-store URI, to read
/// proxied (`mlflow-artifacts:`) files.
pub async fn source(uri: &str, side: Option<&str>, global: &GlobalArgs) -> anyhow::Result<SourceSide> {
    if is_mlruns_uri(uri) {
        return Ok(SourceSide { source: Arc::new(mlruns_source::open(uri, side)?), client: None });
    }
    if !is_database_uri(uri) {
        let client = self::client(uri, side, global)?;
        return Ok(SourceSide { source: Arc::new(RestSource::new(client.clone())), client: Some(client) });
    }
    let dest = match side {
        Some("SRC") => global.src_artifacts_destination.as_ref(),
        Some("DST") => global.dst_artifacts_destination.as_ref(),
        _ => None,
    };
    let dest = dest.or(global.artifacts_destination.as_ref()).map(|d| d.to_string_lossy().into_owned());
    let source = sql::open(uri, dest, side).await?;
    Ok(SourceSide { source: Arc::new(source), client: None })
}

/// `--notebook-formats` of an export reading `from`: formats ask for notebooks, which only a
/// Databricks workspace holds.
pub fn notebook_formats(args: &NotebookFormatArgs, from: &SourceSide) -> anyhow::Result<Vec<NotebookFormat>> {
    let formats = args.notebook_formats.as_ref().map(|f| f.0.clone()).unwrap_or_default();
    if !formats.is_empty() && !from.client.as_ref().is_some_and(MlflowClient::is_databricks) {
        anyhow::bail!(
            "--notebook-formats: the source is not a Databricks workspace, and only a workspace has notebooks; leave the option out"
        );
    }
    Ok(formats)
}

/// `--dst-notebook-dir` of an import into `to`: an absolute folder of a Databricks workspace.
pub fn notebook_dir(args: &NotebookDirArgs, to: &MlflowClient) -> anyhow::Result<Option<String>> {
    let Some(dir) = &args.dst_notebook_dir else { return Ok(None) };
    if !to.is_databricks() {
        anyhow::bail!(
            "--dst-notebook-dir: the destination is not a Databricks workspace, and only a workspace has notebooks; leave the option out"
        );
    }
    let folder = dir.trim_end_matches('/');
    if !folder.starts_with('/') || folder.split('/').any(|s| s == "." || s == "..") {
        anyhow::bail!(
            "--dst-notebook-dir {dir:?}: a workspace folder is an absolute path, such as /Users/<user>/notebooks"
        );
    }
    Ok(Some(folder.to_string()))
}

/// `--dst-notebook-dir` of a copy from `from` to `to`: both must be Databricks workspaces, the
/// source holding the notebooks the runs name.
pub fn copied_notebook_dir(
    args: &NotebookDirArgs,
    from: &SourceSide,
    to: &MlflowClient,
) -> anyhow::Result<Option<String>> {
    if args.dst_notebook_dir.is_some() && !from.client.as_ref().is_some_and(MlflowClient::is_databricks) {
        anyhow::bail!(
            "--dst-notebook-dir: the source is not a Databricks workspace, and only a workspace has notebooks; leave the option out"
        );
    }
    notebook_dir(args, to)
}

/// Where runs are written: the server `client`, or with `--dst-backend-store-uri` its database
/// directly (checked now: a schema revision this tool does not know, a database that takes no
/// writes or a wrong password fail before anything is planned). Proxied files are written
/// into `--dst-artifacts-destination` (else `--artifacts-destination`).
pub async fn destination(
    client: &MlflowClient,
    database: &crate::cli::DstDatabaseArgs,
    global: &GlobalArgs,
) -> anyhow::Result<Destination> {
    let Some(uri) = &database.dst_backend_store_uri else { return Ok(Destination::Server(client.clone())) };
    let dest = global.dst_artifacts_destination.as_ref().or(global.artifacts_destination.as_ref());
    let dest = dest.map(|d| d.to_string_lossy().into_owned());
    let sink = SqlSink::open(uri, database.dst_artifact_root.clone(), dest, Some("DST")).await?;
    Ok(Destination::Database(Arc::new(sink)))
}

/// The user recorded on imported runs when the source user is not kept: the local user, as
/// the MLflow client (Python's `getpass.getuser()`) finds it: the environment first, then the
/// account of this process's uid (containers and cron jobs often set no `USER`).
fn local_user() -> String {
    ["LOGNAME", "USER", "LNAME", "USERNAME"]
        .iter()
        .find_map(|v| process_env(v))
        .or_else(account_name)
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(unix)]
fn account_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    user_of_uid(&std::fs::read_to_string("/etc/passwd").ok()?, uid)
}

#[cfg(not(unix))]
fn account_name() -> Option<String> {
    None
}

/// The name of `uid` in a passwd file (`name:x:uid:gid:...`).
#[cfg_attr(not(unix), allow(dead_code))]
fn user_of_uid(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let id: u32 = fields.nth(1)?.parse().ok()?;
        (id == uid && !name.is_empty()).then(|| name.to_string())
    })
}

pub fn run_options(global: &GlobalArgs, tags: Option<&ImportTagArgs>, export_metadata_tags: bool) -> RunOptions {
    let mut opts = RunOptions {
        export_metadata_tags,
        transfers: global.transfers.max(1),
        retry_passes: global.retry_passes,
        concurrency: global.concurrency.max(1),
        ..RunOptions::default()
    };
    if let Some(t) = tags {
        opts.import_mlflow_tags = t.import_mlflow_tags;
        // Tags just added by --export-metadata-tags on a copy are wanted at the destination.
        opts.import_metadata_tags = t.import_metadata_tags || export_metadata_tags;
        opts.import_source_tags = t.import_source_tags;
        opts.mlmodel_fix = t.fix.mlmodel_fix;
        opts.user = if t.use_src_user_id { UserPolicy::Source } else { UserPolicy::Fixed(local_user()) };
    }
    opts
}

/// The principals of `--import-permissions`/`--copy-permissions` (renamed by their file), or
/// `None` when permissions are not asked for. Refused at once for a destination without
/// access control lists.
pub fn principal_map(
    wanted: bool,
    file: Option<&std::path::Path>,
    dst: &MlflowClient,
) -> anyhow::Result<Option<PrincipalMap>> {
    if !wanted {
        return Ok(None);
    }
    if !dst.is_databricks() {
        return Err(mlflow_transfer::store::tracking::no_permissions(dst.base_url()).into());
    }
    Ok(Some(file.map(PrincipalMap::read).transpose()?.unwrap_or_default()))
}

/// Whether models' access control lists are to be read from `from` (`--export-permissions`,
/// `--copy-permissions`): only a workspace has them, and another source is refused before
/// anything is read.
pub fn source_permissions(wanted: bool, from: &SourceSide) -> anyhow::Result<bool> {
    if wanted && !from.client.as_ref().is_some_and(MlflowClient::is_databricks) {
        return Err(mlflow_transfer::store::tracking::no_permissions(&from.source.tracking_uri()).into());
    }
    Ok(wanted)
}

/// Reads each experiment's access control list from the source (`--export-permissions`,
/// `--copy-permissions`), a few at a time.
pub async fn read_permissions(source: &dyn TrackingSource, experiments: &mut [ExperimentRecord]) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let lists: Vec<serde_json::Value> = futures::stream::iter(experiments.iter())
        .map(|e| async move {
            source.experiment_permissions(&e.experiment_id).await.with_context(|| format!("experiment {:?}", e.name))
        })
        .buffered(8)
        .try_collect()
        .await?;
    for (e, list) in experiments.iter_mut().zip(lists) {
        e.permissions = Some(list);
    }
    Ok(())
}

pub fn run_filter(filter: &RunFilterArgs, ids: Option<&RunIdArgs>) -> anyhow::Result<RunFilter> {
    let time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
    Ok(RunFilter {
        started_after: time(&filter.run_start_time).context("--run-start-time")?,
        started_before: time(&filter.runs_until).context("--runs-until")?,
        include_deleted: filter.export_deleted_runs,
        run_ids: ids.and_then(|i| i.run_ids.clone()),
        check_nested_runs: ids.is_some_and(|i| i.check_nested_runs),
    })
}

/// The time window of `--trace-start-time` / `--traces-until`.
pub fn trace_window(w: &crate::cli::TraceWindowArgs) -> anyhow::Result<mlflow_transfer::plan::TraceWindow> {
    let time = |t: &Option<String>| t.as_deref().map(parse_time).transpose();
    Ok(mlflow_transfer::plan::TraceWindow {
        after: time(&w.trace_start_time).context("--trace-start-time")?,
        before: time(&w.traces_until).context("--traces-until")?,
    })
}

/// The `system` block of files this run of the tool writes.
pub async fn export_system(from: &SourceSide, script: &str) -> mlflow_transfer::format::ExportSystem {
    let mlflow_version = match &from.client {
        Some(client) => client.version().await.ok(),
        None => None,
    };
    mlflow_transfer::format::ExportSystem {
        package_version: env!("CARGO_PKG_VERSION").to_string(),
        script: script.into(),
        export_time: unix_now(),
        mlflow_version,
        mlflow_tracking_uri: Some(from.source.tracking_uri()),
        user: process_env("USER"),
    }
}

pub fn unix_now() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_of_a_uid_is_read_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n# comment\nmlops:x:1000:1000::/home/mlops:/bin/sh\n";
        assert_eq!(user_of_uid(passwd, 1000).as_deref(), Some("mlops"));
        assert_eq!(user_of_uid(passwd, 0).as_deref(), Some("root"));
        assert_eq!(user_of_uid(passwd, 7), None);
    }
}
