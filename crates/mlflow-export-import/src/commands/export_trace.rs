//! `export-trace`: one MLflow 3 trace of a tracking server → directory.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{ExportTraceArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportTraceArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let system = settings::export_system(&from, "export_trace").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Trace { trace_id: Some(args.request_id.clone()), dst_experiment: None };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let source = Source::Server(from.source.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-trace", global, &result, &from.named("source"), started)
}
