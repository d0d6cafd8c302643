//! `export-prompts`: prompts, every version of each, → `<out>/<name>_v<version>/prompt.json`
//! and `<out>/prompts_summary.json`, the Python tool's layout.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::ExperimentSpec,
};

use crate::{
    cli::{ExportPromptsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportPromptsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_prompts").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Prompts {
        prompts: ExperimentSpec::parse(&args.prompts)?,
        version: None,
        single: false,
        dst_name: None,
    };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-prompts", global, &result, &from.named("source"), started)
}
