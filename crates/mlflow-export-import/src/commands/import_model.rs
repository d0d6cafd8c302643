//! `import-model`: model directory → tracking server (runs first, then versions in order).

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::models;

use crate::{
    cli::{GlobalArgs, ImportModelArgs},
    settings,
};

pub async fn run(args: ImportModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let opts = super::model_write_options(&args.write);
    let result = models::import_model(
        client.clone(),
        &args.input_dir,
        &args.model,
        &args.experiment_name,
        &ctx,
        &opts,
        global.concurrency,
    )
    .await?;
    progress.finish();
    super::finish_job("import-model", global, &result, &[("destination", &client)], started)
}
