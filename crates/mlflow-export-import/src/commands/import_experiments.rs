//! `import-experiments`: directory of experiments → tracking server, nested runs linked across
//! experiments.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::{Renames, RunFilter},
};

use crate::{
    cli::{GlobalArgs, ImportExperimentsArgs},
    settings,
};

pub async fn run(args: ImportExperimentsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let rename = Renames::from_option(args.experiment_rename_file.as_deref())?;
    let prefix = args.experiment_name_prefix.clone().unwrap_or_default();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (mut ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let permissions = &args.permissions;
    ctx.opts.import_permissions =
        settings::principal_map(permissions.import_permissions, permissions.principal_rename_file.as_deref(), &client)?;
    ctx.opts.notebook_dir = settings::notebook_dir(&args.notebooks, &client)?;
    let selection = Selection::Experiments {
        experiments: Vec::new(),
        unreadable: Vec::new(),
        filter: RunFilter::default(),
        rename,
        prefix,
    };
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-experiments", global, &result, &[("destination", &client)], started)
}
