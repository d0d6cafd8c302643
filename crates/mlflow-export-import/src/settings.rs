//! Turning parsed arguments and the environment into library settings.

use anyhow::Context;
use mlflow_client::{config::process_env, ClientConfig, MlflowClient};
use mlflow_transfer::transfer::{RunOptions, UserPolicy};

use crate::cli::{GlobalArgs, ImportTagArgs};

/// A client for `uri`; `side` is `Some("SRC")`/`Some("DST")` for copy (see `--help`).
pub fn client(uri: &str, side: Option<&str>, global: &GlobalArgs) -> anyhow::Result<MlflowClient> {
    let mut config = ClientConfig::resolve(uri, side, &process_env)?;
    config.max_in_flight = global.max_requests_in_flight.max(1);
    MlflowClient::new(&config).with_context(|| format!("connecting to {}", mlflow_client::redact(uri)))
}

/// The user recorded on imported runs when the source user is not kept.
fn local_user() -> String {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|v| process_env(v))
        .unwrap_or_else(|| "unknown".into())
}

pub fn run_options(global: &GlobalArgs, tags: Option<&ImportTagArgs>, export_metadata_tags: bool) -> RunOptions {
    let mut opts = RunOptions { export_metadata_tags, transfers: global.transfers.max(1), ..RunOptions::default() };
    if let Some(t) = tags {
        opts.import_mlflow_tags = t.import_mlflow_tags;
        // Tags just added by --export-metadata-tags on a copy are wanted at the destination.
        opts.import_metadata_tags = t.import_metadata_tags || export_metadata_tags;
        opts.user = if t.use_src_user_id { UserPolicy::Source } else { UserPolicy::Fixed(local_user()) };
    }
    opts
}
