//! `export-traces`: the MLflow 3 traces of several (or all) experiments → directory.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{select_experiments, Destination, Selection, Source},
    select::ExperimentSpec,
};

use crate::{
    cli::{ExportTracesArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportTracesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let window = settings::trace_window(&args.window)?;
    let spec = ExperimentSpec::parse(&args.experiment_ids)?;
    let source = from.source.clone();
    let (experiments, unreadable) = select_experiments(source.as_ref(), &spec).await?;
    if let Some((name, why)) = unreadable.first() {
        return crate::exit::usage(format!("--experiment-ids: experiment {name:?}: {why}"));
    }
    let system = settings::export_system(&from, "export_traces").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Traces { experiments, window, dst_experiment: None };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-traces", global, &result, &from.named("source"), started)
}
