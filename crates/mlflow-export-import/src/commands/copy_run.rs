//! `copy-run`: tracking server → tracking server, artifacts streamed from one to the other.

use std::{process::ExitCode, sync::Arc, time::Instant};

use anyhow::Context;
use mlflow_transfer::{
    store::rest::{RestSink, RestSource},
    transfer::{transfer_run, JobContext},
    Reporter,
};

use crate::{cli::{CopyRunArgs, GlobalArgs}, progress::Progress, settings};

pub async fn run(args: CopyRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = RestSource::new(src.clone());
    let sink = RestSink::for_experiment(dst.clone(), &args.experiment_name, &Default::default())
        .await
        .with_context(|| format!("preparing experiment {:?}", args.experiment_name))?;
    let progress = Arc::new(Progress::new(global.quiet));
    let reporter: Arc<dyn Reporter> = progress.clone();
    let opts = settings::run_options(global, Some(&args.tags), args.export_metadata_tags);
    let ctx = JobContext::new(opts, reporter);
    let outcome = transfer_run(&source, &sink, &args.run_id, &ctx).await;
    progress.finish();
    super::finish("copy-run", global, &[outcome], &[("source", &src), ("destination", &dst)], started)
}
