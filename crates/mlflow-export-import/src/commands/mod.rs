//! One module per subcommand; each only builds options and calls the library. What they
//! share is here: the job context with its progress display, the closing summary, the report
//! file and the exit status.

pub mod aliases;
pub mod completions;
pub mod copy_all;
pub mod copy_evaluation_dataset;
pub mod copy_evaluation_datasets;
pub mod copy_experiment;
pub mod copy_model;
pub mod copy_model_version;
pub mod copy_models;
pub mod copy_prompt;
pub mod copy_prompts;
pub mod copy_run;
pub mod copy_traces;
pub mod download_notebook;
pub mod export_all;
pub mod export_evaluation_dataset;
pub mod export_evaluation_datasets;
pub mod export_experiment;
pub mod export_experiments;
pub mod export_model;
pub mod export_model_version;
pub mod export_models;
pub mod export_prompt;
pub mod export_prompts;
pub mod export_run;
pub mod export_trace;
pub mod export_traces;
pub mod import_all;
pub mod import_evaluation_dataset;
pub mod import_evaluation_datasets;
pub mod import_experiment;
pub mod import_experiments;
pub mod import_model;
pub mod import_model_version;
pub mod import_models;
pub mod import_prompt;
pub mod import_prompts;
pub mod import_run;
pub mod import_trace;
pub mod import_traces;
pub mod list_registered_models;
pub mod logged_models;
pub mod man;
pub mod verify;
pub mod version;

use std::{
    collections::BTreeMap,
    path::Path,
    process::ExitCode,
    sync::{atomic::Ordering, Arc},
    time::Instant,
};

use anyhow::Context;
use mlflow_client::MlflowClient;
use mlflow_transfer::{
    execute::{execute, probe},
    job::{
        Action, JobContext, JobResult, ModelOptions, ModelOutcome, PromptOutcome, ScorerOutcome, Summary, WebhookAction,
    },
    plan::{plan, Destination, Selection, Source},
    select::{Renames, VersionFilter},
    Reporter,
};
use serde_json::json;

use crate::{
    cli::{GlobalArgs, ImportTagArgs},
    events,
    progress::Progress,
    settings,
};

/// Options and progress for a job; `tags` is `None` for exports (nothing is filtered).
pub fn job_context(
    global: &GlobalArgs,
    tags: Option<&ImportTagArgs>,
    export_metadata_tags: bool,
) -> (JobContext, Arc<Progress>) {
    let progress = Arc::new(Progress::new(global.quiet));
    let reporter: Arc<dyn Reporter> = progress.clone();
    (JobContext::new(settings::run_options(global, tags, export_metadata_tags), reporter), progress)
}

/// Plans the job and runs it, or with `--dry-run` prints the plan (one line per step on
/// stdout) and writes nothing: `None` then. Into a server, a dry run also looks each run up
/// there and says what it would get ([`dry_run_counts`]).
pub async fn plan_and_run(
    global: &GlobalArgs,
    ctx: &JobContext,
    source: Source,
    selection: Selection,
    destination: Destination,
) -> anyhow::Result<Option<JobResult>> {
    let mut plan = plan(&source, selection, &destination).await?;
    if let Some((k, n)) = global.shard {
        plan = plan.shard(k, n)?;
    }
    if global.dry_run {
        for line in plan.describe() {
            println!("{line}");
        }
        let (steps, runs) = (plan.steps.len(), plan.runs());
        let mut fields = json!({"steps": steps, "runs": runs});
        let mut text = format!("dry run: {steps} steps planned ({runs} runs); nothing was written");
        if let Destination::Server(_) | Destination::Database(_) = destination {
            let result = probe(plan, ctx).await;
            let (line, counts) = dry_run_counts(&result);
            text += &format!("\n{line}");
            fields["would"] = counts;
            if let Some(path) = &global.report {
                let report = json!({"dry_run": true, "would": fields["would"], "runs": result.runs, "experiments": result.experiments});
                mlflow_transfer::store::local::write_atomic_with(path, |out| {
                    serde_json::to_writer_pretty(out, &report)
                })
                .with_context(|| format!("writing report {}", path.display()))?;
            }
        }
        events::emit(events::Level::Info, "dry_run", &text, fields);
        return Ok(None);
    }
    Ok(Some(execute(plan, ctx).await))
}

/// What a dry run found the runs would get, as a line for stderr and as counts. A run that
/// could not be looked up is counted as failed.
fn dry_run_counts(result: &JobResult) -> (String, serde_json::Value) {
    let s = Summary::of(&result.runs);
    let deleted = result.runs_deleted();
    let refused: Vec<&str> = result.experiments.iter().filter_map(|e| e.error.as_deref()).collect();
    let (created, resumed, updated, skipped, failed) =
        (s.runs_created, s.runs_resumed, s.runs_updated, s.runs_skipped, s.runs_failed);
    let mut line = format!(
        "runs would be: {created} created, {resumed} resumed, {updated} updated, {skipped} skipped, \
         {deleted} deleted ({failed} could not be looked up); other objects are not looked up"
    );
    for why in &refused {
        line += &format!("\n  {why}");
    }
    let counts = json!({"created": created, "resumed": resumed, "updated": updated, "skipped": skipped,
        "deleted": deleted, "failed": failed, "errors": refused});
    (line, counts)
}

/// `--stages`/`--versions`/`--export-latest-versions` as the library takes them.
pub fn version_filter(args: &crate::cli::VersionArgs) -> VersionFilter {
    VersionFilter {
        stages: args.stages.clone(),
        versions: args.versions.clone(),
        latest_only: args.export_latest_versions,
        permissions: false,
    }
}

/// A whole server (`export-all`, `copy-all`), as the planner takes it.
pub fn whole_server(
    args: &crate::cli::WholeServerArgs,
    webhook_secrets: Arc<BTreeMap<String, String>>,
) -> anyhow::Result<Selection> {
    Ok(Selection::All {
        versions: version_filter(&args.versions),
        filter: settings::run_filter(&args.filter, None)?,
        rename_experiments: Renames::default(),
        rename_models: Renames::default(),
        webhook_secrets,
        delete_datasets: false,
    })
}

/// The secrets of `--webhook-secrets-file`, by webhook name. An error names the file and the
/// place in it, never a value.
pub fn webhook_secrets(args: &crate::cli::WebhookSecretArgs) -> anyhow::Result<Arc<BTreeMap<String, String>>> {
    let Some(path) = &args.webhook_secrets_file else { return Ok(Arc::default()) };
    let text = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let secrets: BTreeMap<String, String> = serde_json::from_slice(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: expected a JSON object of webhook names to secrets (line {}, column {})",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    Ok(Arc::new(secrets))
}

/// `--dataset-name` / `--dataset-id` as a selection of one name or id.
pub fn one_dataset(pick: &crate::cli::DatasetPickArgs) -> Vec<String> {
    pick.dataset_id.iter().chain(pick.dataset_name.iter()).cloned().collect()
}

/// `--evaluation-datasets` (with `--experiment-ids`): the names or ids, `None` for all, and the
/// experiments `all` is filtered by.
pub fn some_datasets(pick: &crate::cli::DatasetsPickArgs) -> anyhow::Result<(Option<Vec<String>>, Vec<String>)> {
    use mlflow_transfer::select::ExperimentSpec;
    let experiment_ids = pick.experiment_ids.clone().unwrap_or_default();
    match ExperimentSpec::parse(&pick.evaluation_datasets)? {
        ExperimentSpec::All => Ok((None, experiment_ids)),
        ExperimentSpec::List(names) if experiment_ids.is_empty() => Ok((Some(names), Vec::new())),
        ExperimentSpec::List(_) => crate::exit::usage("--experiment-ids filters only --evaluation-datasets all"),
        ExperimentSpec::Prefix(_) => crate::exit::usage("--evaluation-datasets takes names, ids, `all` or a .txt file"),
    }
}

/// An evaluation-dataset job as the planner takes it (see [`Selection::EvaluationDatasets`]).
pub fn dataset_selection(
    names: Option<Vec<String>>,
    experiment_ids: Vec<String>,
    single: bool,
    dst_name: Option<String>,
    delete_first: bool,
) -> Selection {
    Selection::EvaluationDatasets { names, experiment_ids, single, dst_name, delete_first }
}

/// `--delete-model`/`--await-creation-for` as the library takes them.
pub fn model_options(args: &crate::cli::ModelWriteArgs) -> ModelOptions {
    ModelOptions {
        delete_model: args.delete_model,
        await_creation: std::time::Duration::from_secs(args.await_creation_for),
        stage_aliases: args.stages.stages_as_aliases,
        ..Default::default()
    }
}

/// [`model_options`] of an import that sets the models' exported access control lists
/// (`--import-permissions`) at `dst`.
pub fn imported_permissions(
    write: &crate::cli::ModelWriteArgs,
    permissions: &crate::cli::PermissionArgs,
    dst: &MlflowClient,
) -> anyhow::Result<ModelOptions> {
    let file = permissions.principal_rename_file.as_deref();
    let import_permissions = settings::principal_map(permissions.import_permissions, file, dst)?;
    Ok(ModelOptions { import_permissions, ..model_options(write) })
}

/// [`model_options`] and [`version_filter`] of a copy that reads the models' access control
/// lists at the source and sets them at `dst` (`--copy-permissions`).
pub fn copied_permissions(
    write: &crate::cli::ModelWriteArgs,
    versions: &crate::cli::VersionArgs,
    permissions: &crate::cli::CopyPermissionArgs,
    from: &settings::SourceSide,
    dst: &MlflowClient,
) -> anyhow::Result<(ModelOptions, VersionFilter)> {
    let file = permissions.principal_rename_file.as_deref();
    let import_permissions = settings::principal_map(permissions.copy_permissions, file, dst)?;
    let filter = VersionFilter {
        permissions: settings::source_permissions(permissions.copy_permissions, from)?,
        ..version_filter(versions)
    };
    Ok((ModelOptions { import_permissions, ..model_options(write) }, filter))
}

/// Prints the stats block to stderr and the id map to stdout (`source<TAB>destination` per
/// run), writes `--report`, and says whether everything asked for succeeded.
pub fn finish_job(
    command: &str,
    global: &GlobalArgs,
    result: &JobResult,
    clients: &[(&str, &MlflowClient)],
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let summary = Summary::of(&result.runs);
    let requests: u64 = clients.iter().map(|(_, c)| c.stats().requests.load(Ordering::Relaxed)).sum();
    let retries: u64 = clients.iter().map(|(_, c)| c.stats().retries.load(Ordering::Relaxed)).sum();
    let elapsed = started.elapsed();
    for o in result.runs.iter().filter(|o| o.destination.is_some()) {
        println!("{}\t{}", o.source_run_id, o.destination.as_deref().unwrap_or_default());
    }
    let failed = result.failed();
    // Failed runs were reported as they finished; the other failed objects are reported here.
    let failures = failures(result);
    for (text, fields) in &failures {
        events::emit(events::Level::Error, "failure", text, fields.clone());
    }
    if !global.quiet || failed {
        let mut block = format!("{command}:\n");
        if !result.experiments.is_empty() {
            let bad = result.experiments.iter().filter(|e| e.error.is_some()).count();
            block += &format!("  experiments    {} done, {bad} failed\n", result.experiments.len() - bad);
        }
        if !result.models.is_empty() {
            let versions = |f: fn(&ModelOutcome) -> usize| result.models.iter().map(f).sum::<usize>();
            block += &format!(
                "  models         {} done, {} failed; versions {} created, {} updated, {} skipped, {} failed\n",
                result.models.iter().filter(|m| !m.failed()).count(),
                result.models.iter().filter(|m| m.failed()).count(),
                versions(|m| m.versions_created),
                versions(|m| m.versions_updated),
                versions(|m| m.versions_skipped),
                versions(|m| m.failed_versions.len()),
            );
        }
        if !result.logged_models.is_empty() {
            let count = |a: Action| result.logged_models.iter().filter(|m| m.action == a).count();
            block += &format!(
                "  logged models  {} created, {} resumed, {} skipped, {} failed; {} files, {}\n",
                count(Action::Created),
                count(Action::Resumed),
                count(Action::Skipped),
                count(Action::Failed),
                result.logged_models.iter().map(|m| m.artifact_files).sum::<usize>(),
                indicatif::HumanBytes(result.logged_models.iter().map(|m| m.artifact_bytes).sum::<u64>())
            );
        }
        if !result.scorers.is_empty() {
            let versions = |f: fn(&ScorerOutcome) -> usize| result.scorers.iter().map(f).sum::<usize>();
            block += &format!(
                "  scorers        {} done, {} failed; versions {} created, {} skipped\n",
                result.scorers.iter().filter(|s| s.error.is_none()).count(),
                result.scorers.iter().filter(|s| s.error.is_some()).count(),
                versions(|s| s.versions_created),
                versions(|s| s.versions_skipped),
            );
        }
        if !result.webhooks.is_empty() {
            let count = |a: WebhookAction| result.webhooks.iter().filter(|w| w.action == a).count();
            block += &format!(
                "  webhooks       {} created, {} updated, {} unchanged, {} failed\n",
                count(WebhookAction::Created),
                count(WebhookAction::Updated),
                count(WebhookAction::Unchanged),
                count(WebhookAction::Failed)
            );
        }
        if !result.prompts.is_empty() {
            let versions = |f: fn(&PromptOutcome) -> usize| result.prompts.iter().map(f).sum::<usize>();
            block += &format!(
                "  prompts        {} done, {} failed; versions {} created, {} skipped\n",
                result.prompts.iter().filter(|p| p.error.is_none()).count(),
                result.prompts.iter().filter(|p| p.error.is_some()).count(),
                versions(|p| p.versions_created),
                versions(|p| p.versions_skipped),
            );
        }
        if !result.traces.is_empty() {
            let count = |a: Action| result.traces.iter().filter(|t| t.action == a).count();
            block += &format!(
                "  traces         {} created, {} resumed, {} skipped, {} failed\n",
                count(Action::Created),
                count(Action::Resumed),
                count(Action::Skipped),
                count(Action::Failed)
            );
        }
        if !result.evaluation_datasets.is_empty() {
            let count = |a: Action| result.evaluation_datasets.iter().filter(|d| d.action == a).count();
            block += &format!(
                "  eval datasets  {} created, {} resumed, {} skipped, {} failed; {} records written\n",
                count(Action::Created),
                count(Action::Resumed),
                count(Action::Skipped),
                count(Action::Failed),
                result.evaluation_datasets.iter().map(|d| d.records).sum::<usize>()
            );
        }
        block += &format!(
            "  runs           {} created, {} resumed, {} updated, {} skipped, {} failed\n",
            summary.runs_created, summary.runs_resumed, summary.runs_updated, summary.runs_skipped, summary.runs_failed
        );
        let deleted = result.runs_deleted();
        if deleted > 0 {
            block += &format!("  runs deleted   {deleted} (their source runs are deleted or gone)\n");
        }
        block += &format!("  metric points  {}\n", summary.metric_points);
        block += &format!(
            "  artifacts      {} files, {}{}\n",
            summary.artifact_files,
            indicatif::HumanBytes(summary.artifact_bytes),
            match summary.artifact_bytes_in_store {
                0 => String::new(),
                n => format!(" ({} copied inside the object store)", indicatif::HumanBytes(n)),
            }
        );
        block += &format!("  requests       {requests} ({retries} retried)\n");
        if summary.runs_retried > 0 {
            block += &format!("  retry passes   {} runs needed more than one\n", summary.runs_retried);
        }
        block += &format!("  elapsed        {:.1}s", elapsed.as_secs_f64());
        let mut fields = serde_json::to_value(&summary).unwrap_or_default();
        if let Some(fields) = fields.as_object_mut() {
            fields.insert("command".into(), json!(command));
            fields.insert("requests".into(), json!(requests));
            fields.insert("retries".into(), json!(retries));
            fields.insert("elapsed_seconds".into(), json!(elapsed.as_secs_f64()));
        }
        let level = if failed { events::Level::Error } else { events::Level::Info };
        events::emit(level, "summary", &block, fields);
    }
    if let Some(path) = &global.report {
        let failures: Vec<serde_json::Value> = result
            .runs
            .iter()
            .filter(|r| r.error.is_some())
            .map(|r| json!({"run_id": r.source_run_id, "reason": r.error}))
            .chain(failures.into_iter().map(|(_, fields)| fields))
            .collect();
        let report = Report {
            command,
            elapsed_seconds: elapsed.as_secs_f64(),
            evaluation_datasets: &result.evaluation_datasets,
            experiments: &result.experiments,
            failures,
            logged_models: &result.logged_models,
            models: &result.models,
            prompts: &result.prompts,
            requests,
            retries,
            runs: &result.runs,
            scorers: &result.scorers,
            webhooks: &result.webhooks,
            servers: clients.iter().map(|(role, c)| json!({"role": role, "tracking_uri": c.base_url()})).collect(),
            summary: &summary,
            traces: &result.traces,
        };
        write_report(path, &report)?;
    }
    Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

/// Every failed object but the runs, as its line for stderr and its entry of the report's
/// `failures` (what it is, and `reason`).
fn failures(result: &JobResult) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for e in &result.experiments {
        if let Some(reason) = &e.error {
            out.push((
                format!("error: experiment {:?}: {reason}", e.name),
                json!({"experiment": e.name, "reason": reason}),
            ));
        }
    }
    for m in &result.logged_models {
        if let Some(reason) = &m.error {
            out.push((
                format!("error: logged model {}: {reason}", m.source_model_id),
                json!({"logged_model": m.source_model_id, "reason": reason}),
            ));
        }
    }
    for t in &result.traces {
        if let Some(reason) = &t.error {
            out.push((
                format!("error: trace {}: {reason}", t.source_trace_id),
                json!({"trace": t.source_trace_id, "reason": reason}),
            ));
        }
    }
    for d in &result.evaluation_datasets {
        if let Some(reason) = &d.error {
            out.push((
                format!("error: evaluation dataset {}: {reason}", d.source_dataset_id),
                json!({"evaluation_dataset": d.source_dataset_id, "reason": reason}),
            ));
        }
    }
    for m in &result.models {
        if let Some(reason) = &m.error {
            out.push((format!("error: {reason}"), json!({"model": m.source_name, "reason": reason})));
        }
        for (version, why) in &m.failed_versions {
            out.push((
                format!("error: model {:?} version {version}: {why}", m.source_name),
                json!({"model": m.source_name, "version": version, "reason": why}),
            ));
        }
    }
    for s in &result.scorers {
        if let Some(reason) = &s.error {
            out.push((
                format!("error: scorer {:?} of experiment {:?}: {reason}", s.name, s.experiment),
                json!({"scorer": s.name, "experiment": s.experiment, "reason": reason}),
            ));
        }
    }
    for w in &result.webhooks {
        if let Some(reason) = &w.error {
            out.push((format!("error: webhook {:?}: {reason}", w.name), json!({"webhook": w.name, "reason": reason})));
        }
    }
    for p in &result.prompts {
        if let Some(reason) = &p.error {
            out.push((format!("error: {reason}"), json!({"prompt": p.source_name, "reason": reason})));
        }
    }
    for f in &result.other_failures {
        out.push((format!("error: {}: {}", f.object, f.reason), json!({"object": f.object, "reason": f.reason})));
    }
    out
}

/// The `--report` file, serialized straight into the file. It used to be built as one
/// `serde_json::Value` (a tree map per run outcome) and then rendered into a buffer, so that a
/// job of 100,000 runs held its report in memory twice over before writing it. The top-level
/// fields are in alphabetical order, the order the `Value` wrote them in; the objects inside
/// keep their fields' declared order (the same JSON, keys in another order).
#[derive(serde::Serialize)]
struct Report<'a> {
    command: &'a str,
    elapsed_seconds: f64,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    evaluation_datasets: &'a [mlflow_transfer::job::EvaluationDatasetOutcome],
    experiments: &'a [mlflow_transfer::job::ExperimentOutcome],
    failures: Vec<serde_json::Value>,
    logged_models: &'a [mlflow_transfer::job::LoggedModelOutcome],
    models: &'a [ModelOutcome],
    prompts: &'a [PromptOutcome],
    requests: u64,
    retries: u64,
    runs: &'a [mlflow_transfer::job::RunOutcome],
    scorers: &'a [ScorerOutcome],
    servers: Vec<serde_json::Value>,
    summary: &'a Summary,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    traces: &'a [mlflow_transfer::job::TraceOutcome],
    webhooks: &'a [mlflow_transfer::job::WebhookOutcome],
}

fn write_report(path: &Path, report: &Report<'_>) -> anyhow::Result<()> {
    mlflow_transfer::store::local::write_atomic_with(path, |out| serde_json::to_writer_pretty(out, report))
        .with_context(|| format!("writing report {}", path.display()))
}
