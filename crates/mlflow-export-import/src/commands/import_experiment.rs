//! `import-experiment`: experiment directory → tracking server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{check_experiment_dir, Selection, Source},
    select::RunFilter,
};

use crate::{
    cli::{GlobalArgs, ImportExperimentArgs},
    settings,
};

pub async fn run(args: ImportExperimentArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Fail on an unreadable export before touching the destination.
    check_experiment_dir(&args.input_dir)?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (mut ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let permissions = &args.permissions;
    ctx.opts.import_permissions =
        settings::principal_map(permissions.import_permissions, permissions.principal_rename_file.as_deref(), &client)?;
    ctx.opts.notebook_dir = settings::notebook_dir(&args.notebooks, &client)?;
    let selection =
        Selection::Experiment { experiment: None, name: args.experiment_name.clone(), filter: RunFilter::default() };
    let source = Source::Export(args.input_dir.clone());
    let destination = settings::destination(&client, &args.database, global).await?;
    let job = super::plan_and_run(global, &ctx, source, selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-experiment", global, &result, &[("destination", &client)], started)
}
