//! `copy-prompt`: a prompt with every version (numbers kept) and its aliases, server to server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    job::ModelOptions,
    plan::{Destination, Selection, Source},
    select::ExperimentSpec,
};

use crate::{
    cli::{CopyPromptArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyPromptArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::Prompts {
        prompts: ExperimentSpec::List(vec![args.src_prompt.clone()]),
        version: None,
        single: false,
        dst_name: args.dst_prompt.clone(),
    };
    copy("copy-prompt", &args.src_uri, &args.dst_uri, args.write.delete_prompt, selection, global).await
}

/// Runs a prompt copy `selection` from `src_uri` to `dst_uri` as `command`.
pub async fn copy(
    command: &str,
    src_uri: &str,
    dst_uri: &str,
    delete_prompt: bool,
    selection: Selection,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(src_uri, Some("SRC"), global).await?;
    let dst = settings::client(dst_uri, Some("DST"), global)?;
    let source = from.source.clone();
    let (ctx, progress) = super::job_context(global, None, false);
    let ctx = ctx.with_models(ModelOptions { delete_prompt, ..Default::default() });
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(command, global, &result, &[from.named("source"), vec![("destination", &dst)]].concat(), started)
}
