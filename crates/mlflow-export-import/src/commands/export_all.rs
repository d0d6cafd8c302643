//! `export-all`: a whole tracking server → directory, in the Python tool's bulk layout (that of
//! `export-models`, with every experiment), the prompts in `prompts/`, and every evaluation
//! dataset in `evaluation_datasets/`.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Source};

use crate::{
    cli::{ExportAllArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportAllArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let selection = super::whole_server(&args.server, Default::default())?;
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_all").await;
    let (mut ctx, progress) = super::job_context(global, None, args.server.export_metadata_tags);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.compat.notebooks, &from)?;
    let destination = Destination::Folder { out: args.output_dir.clone(), system: system.clone() };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    // A shard without datasets still writes its (empty) part: the summary needs every shard's.
    if !result.evaluation_datasets.is_empty() || global.shard.is_some() {
        let dir = args.output_dir.join(mlflow_transfer::store::dir_datasets::EVALUATION_DATASETS);
        super::export_evaluation_datasets::write_summary_of(&dir, &system, &result, global.shard)?;
    }
    super::finish_job("export-all", global, &result, &from.named("source"), started)
}
