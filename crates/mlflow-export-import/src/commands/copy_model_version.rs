//! `copy-model-version`: one version and its run, server to server.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    models::{self, ModelWriteOptions, VersionFilter},
    store::rest::RestSource,
};

use crate::{
    cli::{CopyModelVersionArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyModelVersionArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_registry_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_registry_uri, Some("DST"), global)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let opts = ModelWriteOptions {
        stages_and_aliases: args.copy_stages_and_aliases,
        keep_numbers: false,
        ..Default::default()
    };
    let filter = VersionFilter { versions: Some(vec![args.src_version.clone()]), ..Default::default() };
    let result = models::copy_model(
        source,
        &args.src_model,
        &filter,
        dst.clone(),
        &args.dst_model,
        args.dst_experiment_name.as_deref(),
        &ctx,
        &opts,
        global.concurrency,
    )
    .await?;
    progress.finish();
    if result.models.iter().all(|m| m.versions.is_empty() && m.failed_versions.is_empty()) {
        anyhow::bail!("model {:?} has no version {}", args.src_model, args.src_version);
    }
    super::finish_job("copy-model-version", global, &result, &[("source", &src), ("destination", &dst)], started)
}
