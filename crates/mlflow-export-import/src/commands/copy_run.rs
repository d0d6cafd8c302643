//! `copy-run`: tracking server → tracking server, artifacts streamed from one to the other.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{CopyRunArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = Source::Server(from.source.clone());
    let (mut ctx, progress) = super::job_context(global, Some(&args.tags), args.export_metadata_tags);
    ctx.opts.notebook_dir = settings::copied_notebook_dir(&args.notebooks, &from, &dst)?;
    let selection =
        Selection::Run { run_id: Some(args.run_id.clone()), experiment: Some(args.experiment_name.clone()) };
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(
        "copy-run",
        global,
        &result,
        &[from.named("source"), vec![("destination", &dst)]].concat(),
        started,
    )
}
