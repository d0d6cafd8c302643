//! `export-model-version`: one registered model version and its run → directory, in the
//! Python tool's layout (`model.json`, `version.json`, the run in `run/`).

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{ExportModelVersionArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportModelVersionArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_model_version").await;
    let (mut ctx, progress) = super::job_context(global, None, false);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.compat.notebooks, &from)?;
    let selection = Selection::ModelVersion {
        name: args.model.clone(),
        version: args.version.clone(),
        dst_name: args.model.clone(),
    };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-model-version", global, &result, &from.named("source"), started)
}
