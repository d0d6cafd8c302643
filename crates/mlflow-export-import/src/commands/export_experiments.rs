//! `export-experiments`: several (or all) experiments of a tracking server → directory.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    experiments::{self, ExportTarget},
    select::ExperimentSpec,
    store::rest::RestSource,
};

use crate::{
    cli::{ExportExperimentsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportExperimentsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let filter = settings::run_filter(&args.filter, None)?;
    let spec = ExperimentSpec::parse(&args.experiments)?;
    let source = Arc::new(RestSource::new(client.clone()));
    let (selected, unreadable) = experiments::select(&source, &spec).await?;
    if selected.is_empty() && unreadable.is_empty() {
        anyhow::bail!("--experiments {:?} matches no experiment at {}", args.experiments, client.base_url());
    }
    let system = settings::export_system(&client, "export_experiments").await;
    let target = ExportTarget { out: &args.output_dir, bulk: true, filter: &filter, system: &system };
    let (ctx, progress) = super::job_context(global, None, args.export_metadata_tags);
    let mut result = experiments::export(source, selected, &target, &ctx, global.concurrency).await?;
    result.experiments.extend(unreadable);
    progress.finish();
    super::finish_job("export-experiments", global, &result, &[("source", &client)], started)
}
