//! `copy-traces`: the MLflow 3 traces of an experiment from a tracking server to another.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{CopyTracesArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyTracesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let window = settings::trace_window(&args.window)?;
    let source = from.source.clone();
    let experiment = source.find_experiment(&args.experiment).await?;
    let (ctx, progress) = super::job_context(global, None, false);
    let dst_experiment = Some(args.dst_experiment_name.clone().unwrap_or_else(|| experiment.name.clone()));
    let selection = Selection::Traces { experiments: vec![experiment], window, dst_experiment };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(
        "copy-traces",
        global,
        &result,
        &[from.named("source"), vec![("destination", &dst)]].concat(),
        started,
    )
}
