//! `export-experiment`: one experiment of a tracking server → directory.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    experiments::{self, ExportTarget},
    store::rest::RestSource,
};

use crate::{
    cli::{ExportExperimentArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportExperimentArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let filter = settings::run_filter(&args.filter, Some(&args.runs))?;
    let source = Arc::new(RestSource::new(client.clone()));
    let experiment = source.find_experiment(&args.experiment).await?;
    let system = settings::export_system(&client, "export_experiment").await;
    let target = ExportTarget { out: &args.output_dir, bulk: false, filter: &filter, system: &system };
    let (ctx, progress) = super::job_context(global, None, args.export_metadata_tags);
    let result = experiments::export(source, vec![experiment], &target, &ctx, global.concurrency).await?;
    progress.finish();
    super::finish_job("export-experiment", global, &result, &[("source", &client)], started)
}
