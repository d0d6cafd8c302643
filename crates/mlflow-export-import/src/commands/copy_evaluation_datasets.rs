//! `copy-evaluation-datasets`: several (or all) evaluation datasets, server to server.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Source};

use crate::{
    cli::{CopyEvaluationDatasetsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyEvaluationDatasetsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (names, experiment_ids) = super::some_datasets(&args.datasets)?;
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = from.source.clone();
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = super::dataset_selection(names, experiment_ids, false, None, args.write.delete_evaluation_dataset);
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(
        "copy-evaluation-datasets",
        global,
        &result,
        &[from.named("source"), vec![("destination", &dst)]].concat(),
        started,
    )
}
