//! `import-evaluation-dataset`: a directory made by `export-evaluation-dataset` (ours or the
//! Python tool's) → tracking server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Source};

use crate::{
    cli::{GlobalArgs, ImportEvaluationDatasetArgs},
    settings,
};

pub async fn run(args: ImportEvaluationDatasetArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = super::dataset_selection(
        None,
        Vec::new(),
        true,
        args.evaluation_dataset_name.clone(),
        args.write.delete_evaluation_dataset,
    );
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-evaluation-dataset", global, &result, &[("destination", &client)], started)
}
