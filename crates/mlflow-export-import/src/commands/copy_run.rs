//! `copy-run`: tracking server → tracking server, artifacts streamed from one to the other.

use std::{process::ExitCode, sync::Arc, time::Instant};

use anyhow::Context;
use mlflow_transfer::store::rest::{RestSink, RestSource};

use crate::{
    cli::{CopyRunArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = RestSource::new(src.clone());
    let sink = RestSink::for_experiment(dst.clone(), &args.experiment_name, &Default::default())
        .await
        .with_context(|| format!("preparing experiment {:?}", args.experiment_name))?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), args.export_metadata_tags);
    let result = super::one_run(Arc::new(source), Arc::new(sink), &args.run_id, &ctx).await;
    progress.finish();
    super::finish_job("copy-run", global, &result, &[("source", &src), ("destination", &dst)], started)
}
