//! `export-trace`: one MLflow 3 trace of a tracking server → directory.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    store::rest::RestSource,
};

use crate::{
    cli::{ExportTraceArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportTraceArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let system = settings::export_system(&client, "export_trace").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Trace { trace_id: Some(args.request_id.clone()), dst_experiment: None };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let source = Source::Server(Arc::new(RestSource::new(client.clone())));
    let job = super::plan_and_run(global, &ctx, source, selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-trace", global, &result, &[("source", &client)], started)
}
