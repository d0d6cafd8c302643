//! `import-experiment`: experiment directory → tracking server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::experiments::{self, ImportItem};

use crate::{
    cli::{GlobalArgs, ImportExperimentArgs},
    settings,
};

pub async fn run(args: ImportExperimentArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    // Fail on an unreadable export before touching the destination.
    experiments::check_experiment_dir(&args.input_dir)?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let items = vec![ImportItem { dir: args.input_dir.clone(), name: args.experiment_name.clone() }];
    let result = experiments::import(client.clone(), items, &ctx, global.concurrency).await;
    progress.finish();
    super::finish_job("import-experiment", global, &result, &[("destination", &client)], started)
}
