//! `import-models`: a directory made by `export-models` → tracking server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{models, select::Renames};

use crate::{
    cli::{GlobalArgs, ImportModelsArgs},
    settings,
};

pub async fn run(args: ImportModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let experiment_renames = Renames::from_option(args.experiment_rename_file.as_deref())?;
    let model_renames = Renames::from_option(args.model_rename_file.as_deref())?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let opts = super::model_write_options(&args.write);
    let result = models::import_models(
        client.clone(),
        &args.input_dir,
        |n| experiment_renames.apply(n),
        |n| model_renames.apply(n),
        &ctx,
        &opts,
        global.concurrency,
    )
    .await?;
    progress.finish();
    super::finish_job("import-models", global, &result, &[("destination", &client)], started)
}
