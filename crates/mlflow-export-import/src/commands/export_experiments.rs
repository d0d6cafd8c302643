//! `export-experiments`: several (or all) experiments of a tracking server → directory.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{select_experiments, Destination, Selection, Source},
    select::{ExperimentSpec, Renames},
};

use crate::{
    cli::{ExportExperimentsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportExperimentsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let filter = settings::run_filter(&args.filter, None)?;
    let spec = ExperimentSpec::parse(&args.experiments)?;
    let source = from.source.clone();
    let (mut experiments, unreadable) = select_experiments(source.as_ref(), &spec).await?;
    if experiments.is_empty() && unreadable.is_empty() {
        return crate::exit::usage(format!(
            "--experiments {:?} matches no experiment at {}",
            args.experiments,
            from.source.tracking_uri()
        ));
    }
    if args.export_permissions {
        settings::read_permissions(source.as_ref(), &mut experiments).await?;
    }
    let system = settings::export_system(&from, "export_experiments").await;
    let (mut ctx, progress) = super::job_context(global, None, args.export_metadata_tags);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.compat.notebooks, &from)?;
    let selection =
        Selection::Experiments { experiments, unreadable, filter, rename: Renames::default(), prefix: String::new() };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-experiments", global, &result, &from.named("source"), started)
}
