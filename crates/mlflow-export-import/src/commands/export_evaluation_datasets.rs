//! `export-evaluation-datasets`: several (or all) evaluation datasets → directory, a
//! `<name>_<id>/` folder each and `evaluation_datasets_summary.json`.

use std::{path::Path, process::ExitCode, time::Instant};

use mlflow_transfer::{
    format::ExportSystem,
    job::{Action, JobResult},
    plan::{Destination, Source},
    store::dir_datasets::write_summary,
};

use crate::{
    cli::{ExportEvaluationDatasetsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportEvaluationDatasetsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (names, experiment_ids) = super::some_datasets(&args.datasets)?;
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_evaluation_datasets").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let destination = Destination::Folder { out: args.output_dir.clone(), system: system.clone() };
    let selection = super::dataset_selection(names, experiment_ids, false, None, false);
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    write_summary_of(&args.output_dir, &system, &result, global.shard)?;
    super::finish_job("export-evaluation-datasets", global, &result, &from.named("source"), started)
}

/// Writes `evaluation_datasets_summary.json` into `dir` for the datasets `result` exported
/// (with `--shard`, this shard's part, and the whole once every shard's part is there).
pub fn write_summary_of(
    dir: &Path,
    system: &ExportSystem,
    result: &JobResult,
    shard: Option<(u32, u32)>,
) -> anyhow::Result<()> {
    let exported: Vec<(String, String)> = result
        .evaluation_datasets
        .iter()
        .filter(|d| d.action != Action::Failed)
        .map(|d| (d.name.clone().unwrap_or_default(), d.source_dataset_id.clone()))
        .collect();
    let failed = result.evaluation_datasets.len() - exported.len();
    Ok(write_summary(dir, system, exported, failed, shard)?)
}
