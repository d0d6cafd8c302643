//! `import-trace`: trace directory made by export-trace → an experiment of a tracking server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{GlobalArgs, ImportTraceArgs},
    settings,
};

pub async fn run(args: ImportTraceArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Trace { trace_id: None, dst_experiment: Some(args.experiment_name.clone()) };
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-trace", global, &result, &[("destination", &client)], started)
}
