//! `export-experiment`: one experiment of a tracking server → directory.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{ExportExperimentArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportExperimentArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let filter = settings::run_filter(&args.filter, Some(&args.runs))?;
    let source = from.source.clone();
    let mut experiment = source.find_experiment(&args.experiment).await?;
    if args.export_permissions {
        settings::read_permissions(source.as_ref(), std::slice::from_mut(&mut experiment)).await?;
    }
    let system = settings::export_system(&from, "export_experiment").await;
    let (mut ctx, progress) = super::job_context(global, None, args.export_metadata_tags);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.compat.notebooks, &from)?;
    let name = experiment.name.clone();
    let selection = Selection::Experiment { experiment: Some(experiment), name, filter };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-experiment", global, &result, &from.named("source"), started)
}
