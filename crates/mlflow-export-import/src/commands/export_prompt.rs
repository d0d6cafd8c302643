//! `export-prompt`: one version of a prompt → `prompt.json` in a directory, the Python
//! tool's layout with what it leaves out (aliases, response format, model config, the
//! prompt's own description and tags) in added fields.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::ExperimentSpec,
};

use crate::{
    cli::{ExportPromptArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportPromptArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_prompt").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Prompts {
        prompts: ExperimentSpec::List(vec![args.prompt_name.clone()]),
        version: Some(args.prompt_version.clone()),
        single: true,
        dst_name: None,
    };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-prompt", global, &result, &from.named("source"), started)
}
