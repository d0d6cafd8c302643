//! `copy-all`: a whole tracking server to another, streamed: every experiment with its runs,
//! then every registered model with its versions, then every prompt.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    job::ModelOptions,
    plan::{Destination, Source},
    store::rest::RestSource,
};

use crate::{
    cli::{CopyAllArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyAllArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let selection = super::whole_server(&args.server, super::webhook_secrets(&args.webhooks)?)?;
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, Some(&args.tags), args.server.export_metadata_tags);
    let models = super::model_options(&args.write);
    let ctx = ctx.with_models(ModelOptions { delete_prompt: args.prompts.delete_prompt, ..models });
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("copy-all", global, &result, &[("source", &src), ("destination", &dst)], started)
}
