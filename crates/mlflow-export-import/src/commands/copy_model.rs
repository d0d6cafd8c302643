//! `copy-model`: a registered model, its versions and their runs, server to server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source};

use crate::{
    cli::{CopyModelArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = from.source.clone();
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let (models, versions) = super::copied_permissions(&args.write, &args.versions, &args.permissions, &from, &dst)?;
    let ctx = ctx.with_models(models);
    let selection = Selection::Model {
        name: args.src_model.clone(),
        versions,
        dst_name: args.dst_model.clone().unwrap_or_else(|| args.src_model.clone()),
        dst_experiment: args.dst_experiment_name.clone(),
    };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(
        "copy-model",
        global,
        &result,
        &[from.named("source"), vec![("destination", &dst)]].concat(),
        started,
    )
}
