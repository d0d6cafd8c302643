//! The evaluation-dataset commands: `export-`, `import-` and `copy-evaluation-dataset` (one
//! dataset) and their plural forms (several, or all). They differ only in what they select and
//! where they write, so they share this file.

use std::{path::Path, process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    format::ExportSystem,
    job::{Action, JobResult},
    plan::{Destination, Selection, Source},
    select::ExperimentSpec,
    store::{dir_datasets::write_summary, rest::RestSource},
};

use crate::{
    cli::{
        CopyEvaluationDatasetArgs, CopyEvaluationDatasetsArgs, DatasetPickArgs, DatasetsPickArgs,
        ExportEvaluationDatasetArgs, ExportEvaluationDatasetsArgs, GlobalArgs, ImportEvaluationDatasetArgs,
        ImportEvaluationDatasetsArgs,
    },
    settings,
};

/// `--dataset-name` / `--dataset-id` as a selection of one name or id.
fn one(pick: &DatasetPickArgs) -> Vec<String> {
    pick.dataset_id.iter().chain(pick.dataset_name.iter()).cloned().collect()
}

/// `--evaluation-datasets` (with `--experiment-ids`): `None` for all.
fn many(pick: &DatasetsPickArgs) -> anyhow::Result<(Option<Vec<String>>, Vec<String>)> {
    let experiment_ids = pick.experiment_ids.clone().unwrap_or_default();
    match ExperimentSpec::parse(&pick.evaluation_datasets)? {
        ExperimentSpec::All => Ok((None, experiment_ids)),
        ExperimentSpec::List(names) if experiment_ids.is_empty() => Ok((Some(names), Vec::new())),
        ExperimentSpec::List(_) => crate::exit::usage("--experiment-ids filters only --evaluation-datasets all"),
        ExperimentSpec::Prefix(_) => crate::exit::usage("--evaluation-datasets takes names, ids, `all` or a .txt file"),
    }
}

fn selection(
    names: Option<Vec<String>>,
    experiment_ids: Vec<String>,
    single: bool,
    dst_name: Option<String>,
    delete_first: bool,
) -> Selection {
    Selection::EvaluationDatasets { names, experiment_ids, single, dst_name, delete_first }
}

pub async fn export_one(args: ExportEvaluationDatasetArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let source = Arc::new(RestSource::new(client.clone()));
    let system = settings::export_system(&client, "export_evaluation_dataset").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let selection = selection(Some(one(&args.dataset)), Vec::new(), true, None, false);
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-evaluation-dataset", global, &result, &[("source", &client)], started)
}

pub async fn import_one(args: ImportEvaluationDatasetArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection =
        selection(None, Vec::new(), true, args.evaluation_dataset_name.clone(), args.write.delete_evaluation_dataset);
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-evaluation-dataset", global, &result, &[("destination", &client)], started)
}

pub async fn copy_one(args: CopyEvaluationDatasetArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = selection(
        Some(one(&args.dataset)),
        Vec::new(),
        true,
        args.evaluation_dataset_name.clone(),
        args.write.delete_evaluation_dataset,
    );
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("copy-evaluation-dataset", global, &result, &[("source", &src), ("destination", &dst)], started)
}

pub async fn export_many(args: ExportEvaluationDatasetsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (names, experiment_ids) = many(&args.datasets)?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let source = Arc::new(RestSource::new(client.clone()));
    let system = settings::export_system(&client, "export_evaluation_datasets").await;
    let (ctx, progress) = super::job_context(global, None, false);
    let destination = Destination::Folder { out: args.output_dir.clone(), system: system.clone() };
    let selection = selection(names, experiment_ids, false, None, false);
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    write_summary_of(&args.output_dir, &system, &result)?;
    super::finish_job("export-evaluation-datasets", global, &result, &[("source", &client)], started)
}

/// Writes `evaluation_datasets_summary.json` into `dir` for the datasets `result` exported.
pub fn write_summary_of(dir: &Path, system: &ExportSystem, result: &JobResult) -> anyhow::Result<()> {
    let exported: Vec<(String, String)> = result
        .evaluation_datasets
        .iter()
        .filter(|d| d.action != Action::Failed)
        .map(|d| (d.name.clone().unwrap_or_default(), d.source_dataset_id.clone()))
        .collect();
    let failed = result.evaluation_datasets.len() - exported.len();
    Ok(write_summary(dir, system, &exported, failed)?)
}

pub async fn import_many(args: ImportEvaluationDatasetsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = selection(None, Vec::new(), false, None, args.write.delete_evaluation_dataset);
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-evaluation-datasets", global, &result, &[("destination", &client)], started)
}

pub async fn copy_many(args: CopyEvaluationDatasetsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (names, experiment_ids) = many(&args.datasets)?;
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = selection(names, experiment_ids, false, None, args.write.delete_evaluation_dataset);
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("copy-evaluation-datasets", global, &result, &[("source", &src), ("destination", &dst)], started)
}
