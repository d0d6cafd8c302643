//! `export-evaluation-dataset`: one GenAI evaluation dataset (records, tags, experiment links) →
//! directory, as `evaluation_dataset.json`.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Source};

use crate::{
    cli::{ExportEvaluationDatasetArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportEvaluationDatasetArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_evaluation_dataset").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let selection = super::dataset_selection(Some(super::one_dataset(&args.dataset)), Vec::new(), true, None, false);
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-evaluation-dataset", global, &result, &from.named("source"), started)
}
