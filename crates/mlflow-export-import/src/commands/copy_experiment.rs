//! `copy-experiment`: one experiment from a tracking server to another, streamed.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Selection, Source};

use crate::{
    cli::{CopyExperimentArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyExperimentArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let filter = settings::run_filter(&args.filter, Some(&args.runs))?;
    let notebook_dir = settings::copied_notebook_dir(&args.notebooks, &from, &dst)?;
    let source = from.source.clone();
    let mut experiment = source.find_experiment(&args.src_experiment).await?;
    let (mut ctx, progress) = super::job_context(global, Some(&args.tags), args.export_metadata_tags);
    ctx.opts.notebook_dir = notebook_dir;
    ctx.opts.import_permissions =
        settings::principal_map(args.copy_permissions, args.principal_rename_file.as_deref(), &dst)?;
    if args.copy_permissions {
        settings::read_permissions(source.as_ref(), std::slice::from_mut(&mut experiment)).await?;
    }
    let selection =
        Selection::Experiment { experiment: Some(experiment), name: args.dst_experiment_name.clone(), filter };
    let destination = settings::destination(&dst, &args.database, global).await?;
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(
        "copy-experiment",
        global,
        &result,
        &[from.named("source"), vec![("destination", &dst)]].concat(),
        started,
    )
}
