//! `copy-model`: a registered model, its versions and their runs, server to server.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{models, store::rest::RestSource};

use crate::{
    cli::{CopyModelArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let opts = super::model_write_options(&args.write);
    let filter = super::version_filter(&args.versions);
    let dst_model = args.dst_model.as_deref().unwrap_or(&args.src_model);
    let result = models::copy_model(
        source,
        &args.src_model,
        &filter,
        dst.clone(),
        dst_model,
        args.dst_experiment_name.as_deref(),
        &ctx,
        &opts,
        global.concurrency,
    )
    .await?;
    progress.finish();
    super::finish_job("copy-model", global, &result, &[("source", &src), ("destination", &dst)], started)
}
