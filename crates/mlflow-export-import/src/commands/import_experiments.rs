//! `import-experiments`: directory of experiments → tracking server, nested runs linked across
//! experiments.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{experiments, select::Renames};

use crate::{
    cli::{GlobalArgs, ImportExperimentsArgs},
    settings,
};

pub async fn run(args: ImportExperimentsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let renames = Renames::from_option(args.experiment_rename_file.as_deref())?;
    let prefix = args.experiment_name_prefix.clone().unwrap_or_default();
    let items = experiments::bulk_items(&args.input_dir, |name| format!("{prefix}{}", renames.apply(name)))?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let result = experiments::import(client.clone(), items, &ctx, global.concurrency).await;
    progress.finish();
    super::finish_job("import-experiments", global, &result, &[("destination", &client)], started)
}
