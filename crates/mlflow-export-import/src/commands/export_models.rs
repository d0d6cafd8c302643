//! `export-models`: several (or all) registered models, the runs behind their versions once
//! each, in the Python tool's `export-models` layout.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{models, select::ExperimentSpec, store::rest::RestSource};

use crate::{
    cli::{ExportModelsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let source = Arc::new(RestSource::new(client.clone()));
    let names = models::select_models(&source, &ExperimentSpec::parse(&args.models)?).await?;
    if names.is_empty() {
        anyhow::bail!("--models {:?} matches no registered model at {}", args.models, client.base_url());
    }
    let system = settings::export_system(&client, "export_models").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let filter = super::version_filter(&args.versions);
    let result = models::export_models(
        source,
        &names,
        &filter,
        args.export_all_runs,
        &args.output_dir,
        &system,
        &ctx,
        global.concurrency,
    )
    .await?;
    progress.finish();
    super::finish_job("export-models", global, &result, &[("source", &client)], started)
}
