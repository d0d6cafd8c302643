//! `export-model`: a registered model, its versions and their runs → directory.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{models, store::rest::RestSource};

use crate::{
    cli::{ExportModelArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let source = Arc::new(RestSource::new(client.clone()));
    let system = settings::export_system(&client, "export_model").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let filter = super::version_filter(&args.versions);
    let result =
        models::export_model(source, &args.model, &filter, &args.output_dir, &system, &ctx, global.concurrency).await?;
    progress.finish();
    super::finish_job("export-model", global, &result, &[("source", &client)], started)
}
