//! `import-model`: model directory → tracking server (runs first, then versions in order).

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::VersionFilter,
};

use crate::{
    cli::{GlobalArgs, ImportModelArgs},
    settings,
};

pub async fn run(args: ImportModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let ctx = ctx.with_models(super::imported_permissions(&args.write, &args.permissions, &client)?);
    let selection = Selection::Model {
        name: args.model.clone(),
        versions: VersionFilter::default(),
        dst_name: args.model.clone(),
        dst_experiment: Some(args.experiment_name.clone()),
    };
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-model", global, &result, &[("destination", &client)], started)
}
