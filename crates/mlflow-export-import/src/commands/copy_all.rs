//! `copy-all`: a whole tracking server to another, streamed: every experiment with its runs,
//! then every registered model with its versions, then every prompt. `sync` is the same job,
//! optionally deleting the copies of runs the source no longer has.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    job::{Deletes, ModelOptions},
    plan::{Destination, Source},
};

use crate::{
    cli::{CopyAllArgs, GlobalArgs, SyncArgs},
    settings,
};

/// `sync`: copy-all (which already brings changed runs in step), with `--delete`.
pub async fn sync(args: SyncArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if !args.delete {
        return job("sync", args.copy, None, global).await;
    }
    let filter = &args.copy.server.filter;
    if filter.run_start_time.is_some() || filter.runs_until.is_some() || global.shard.is_some() {
        anyhow::bail!(
            "--delete cannot be used with --run-start-time, --runs-until or --shard: runs the job \
             leaves out would be taken for runs the source no longer has"
        );
    }
    let deletes = Deletes::new(&args.copy.src_uri, args.max_delete.unwrap_or(usize::MAX));
    job("sync", args.copy, Some(deletes), global).await
}

pub async fn run(args: CopyAllArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    job("copy-all", args, None, global).await
}

async fn job(
    command: &str,
    args: CopyAllArgs,
    deletes: Option<Deletes>,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let selection = super::whole_server(&args.server, super::webhook_secrets(&args.webhooks)?)?;
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = from.source.clone();
    let (ctx, progress) = super::job_context(global, Some(&args.tags), args.server.export_metadata_tags);
    let models = super::model_options(&args.write);
    let mut ctx = ctx.with_models(ModelOptions { delete_prompt: args.prompts.delete_prompt, ..models });
    if let Some(deletes) = deletes {
        ctx = ctx.with_deletes(deletes);
    }
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(command, global, &result, &[from.named("source"), vec![("destination", &dst)]].concat(), started)
}
