//! `copy-experiment`: one experiment from a tracking server to another, streamed.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{experiments, store::rest::RestSource};

use crate::{
    cli::{CopyExperimentArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyExperimentArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let filter = settings::run_filter(&args.filter, Some(&args.runs))?;
    let source = Arc::new(RestSource::new(src.clone()));
    let experiment = source.find_experiment(&args.src_experiment).await?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), args.export_metadata_tags);
    let result = experiments::copy(
        source,
        experiment,
        &filter,
        dst.clone(),
        &args.dst_experiment_name,
        &ctx,
        global.concurrency,
    )
    .await?;
    progress.finish();
    super::finish_job("copy-experiment", global, &result, &[("source", &src), ("destination", &dst)], started)
}
