//! Whole experiments, one or many: export to a folder, import from one, copy between servers.
//!
//! Each function plans every run first (from one search per experiment, or from the export's
//! files), then hands all runs to one [`job::transfer_all`], so nested runs resolve across
//! experiments and one bad run never stops the others. Experiment files are written last,
//! after their runs, listing what succeeded and what failed.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use mlflow_client::MlflowClient;
use serde::Serialize;

use crate::{
    format::{
        experiment_json::{
            read_experiment_dir, read_experiments_dir, write_experiment_json, write_experiments_json, ExperimentSummary,
        },
        ExportSystem,
    },
    job::{transfer_all, PlannedRun},
    model::ExperimentRecord,
    report::{Action, RunOutcome},
    select::{ExperimentSpec, RunFilter},
    store::{
        dir::{read_run_dir, DirSink, DirSource},
        local,
        rest::{RestSink, RestSource},
        RunSink, RunSource,
    },
    transfer::JobContext,
    Error, Result,
};

/// The result for one experiment.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentOutcome {
    pub source_experiment_id: String,
    pub name: String,
    /// Destination experiment id, or the folder for exports.
    pub destination: Option<String>,
    pub runs_ok: usize,
    pub runs_failed: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Everything a job did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobResult {
    pub experiments: Vec<ExperimentOutcome>,
    pub runs: Vec<RunOutcome>,
    pub models: Vec<crate::models::ModelOutcome>,
}

impl JobResult {
    pub fn failed(&self) -> bool {
        self.experiments.iter().any(|e| e.error.is_some() || e.runs_failed > 0)
            || self.runs.iter().any(|r| r.action == Action::Failed)
            || self.models.iter().any(crate::models::ModelOutcome::failed)
    }
}

/// One experiment of a job with the runs planned for it.
struct Planned {
    record: ExperimentRecord,
    destination: Option<String>,
    run_ids: Vec<String>,
    /// Where the experiment file goes, for exports.
    export_dir: Option<PathBuf>,
    error: Option<String>,
}

/// Runs the planned runs and builds the per-experiment outcomes.
async fn run_job(
    plans: Vec<Planned>,
    runs: Vec<PlannedRun>,
    extra: Vec<RunOutcome>,
    ctx: &JobContext,
    concurrency: usize,
) -> (Vec<Planned>, JobResult) {
    let mut outcomes = transfer_all(runs, ctx, concurrency).await;
    outcomes.extend(extra);
    let experiments = plans
        .iter()
        .map(|p| {
            let mine: Vec<&RunOutcome> = outcomes.iter().filter(|o| p.run_ids.contains(&o.source_run_id)).collect();
            ExperimentOutcome {
                source_experiment_id: p.record.experiment_id.clone(),
                name: p.record.name.clone(),
                destination: p.destination.clone(),
                runs_ok: mine.iter().filter(|o| o.action != Action::Failed).count(),
                runs_failed: mine.iter().filter(|o| o.action == Action::Failed).count(),
                error: p.error.clone(),
            }
        })
        .collect();
    (plans, JobResult { experiments, runs: outcomes, models: Vec::new() })
}

/// Resolves `--experiments`. Experiments named one by one are looked up one by one: one that
/// cannot be read (no such experiment, permission denied) comes back as a failed outcome naming
/// it, and does not stop the others. Any other failure (the server unreachable, a wrong login)
/// stops the job.
pub async fn select(
    source: &RestSource,
    spec: &ExperimentSpec,
) -> Result<(Vec<ExperimentRecord>, Vec<ExperimentOutcome>)> {
    let ExperimentSpec::List(names) = spec else {
        return Ok((source.select_experiments(spec).await?, Vec::new()));
    };
    let (mut found, mut failed) = (Vec::<ExperimentRecord>::new(), Vec::new());
    for name in names {
        match source.find_experiment(name).await {
            Ok(e) => {
                if !found.iter().any(|x| x.experiment_id == e.experiment_id) {
                    found.push(e);
                }
            }
            Err(e) if unreadable(&e) => failed.push(ExperimentOutcome {
                source_experiment_id: String::new(),
                name: name.clone(),
                destination: None,
                runs_ok: 0,
                runs_failed: 0,
                error: Some(e.to_string()),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok((found, failed))
}

/// Whether a lookup failed because of the object itself, not the server or the login.
fn unreadable(e: &Error) -> bool {
    match e {
        Error::NotFound(_) => true,
        Error::Client(c) => matches!(c.status(), Some(403 | 404)),
        _ => false,
    }
}

/// Where and how an export writes.
pub struct ExportTarget<'a> {
    pub out: &'a Path,
    /// Each experiment goes to `<out>/<id>/` and `<out>/experiments.json` lists them;
    /// otherwise the one experiment goes to `<out>/`.
    pub bulk: bool,
    pub filter: &'a RunFilter,
    pub system: &'a ExportSystem,
}

/// Exports experiments from a server.
pub async fn export(
    source: Arc<RestSource>,
    experiments: Vec<ExperimentRecord>,
    target: &ExportTarget<'_>,
    ctx: &JobContext,
    concurrency: usize,
) -> Result<JobResult> {
    let ExportTarget { out, bulk, filter, system } = *target;
    let mut plans = Vec::new();
    let mut runs = Vec::new();
    for exp in experiments {
        let dir = if bulk { out.join(&exp.experiment_id) } else { out.to_path_buf() };
        let mut plan = Planned {
            destination: Some(dir.display().to_string()),
            export_dir: Some(dir.clone()),
            record: exp,
            run_ids: Vec::new(),
            error: None,
        };
        match source.plan_runs(&plan.record, filter).await {
            Ok(found) => {
                for (id, parent) in found {
                    let sink: Arc<dyn RunSink> = Arc::new(DirSink::new(dir.join("runs").join(&id), system.clone()));
                    plan.run_ids.push(id.clone());
                    runs.push(PlannedRun { run_id: id, parent, source: source.clone(), sink });
                }
            }
            Err(e) => plan.error = Some(e.to_string()),
        }
        plans.push(plan);
    }
    let (plans, result) = run_job(plans, runs, Vec::new(), ctx, concurrency).await;
    for (plan, outcome) in plans.iter().zip(&result.experiments) {
        let Some(dir) = &plan.export_dir else { continue };
        if plan.error.is_some() {
            continue;
        }
        let (ok, failed): (Vec<&RunOutcome>, Vec<&RunOutcome>) = result
            .runs
            .iter()
            .filter(|o| plan.run_ids.contains(&o.source_run_id))
            .partition(|o| o.action != Action::Failed);
        let ids = |v: Vec<&RunOutcome>| v.into_iter().map(|o| o.source_run_id.clone()).collect::<Vec<_>>();
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let json = write_experiment_json(&plan.record, system, &ids(ok), &ids(failed));
        local::write_atomic(&dir.join("experiment.json"), &pretty(&json))?;
        debug_assert_eq!(outcome.source_experiment_id, plan.record.experiment_id);
    }
    if bulk {
        let summaries: Vec<ExperimentSummary> = result
            .experiments
            .iter()
            .filter(|e| e.error.is_none())
            .map(|e| ExperimentSummary {
                id: e.source_experiment_id.clone(),
                name: e.name.clone(),
                ok_runs: e.runs_ok,
                failed_runs: e.runs_failed,
            })
            .collect();
        std::fs::create_dir_all(out).map_err(|e| Error::io(out, e))?;
        local::write_atomic(&out.join("experiments.json"), &pretty(&write_experiments_json(system, &summaries)))?;
    }
    Ok(result)
}

fn pretty(v: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).expect("JSON values always serialize")
}

/// An experiment folder to import and the name it gets at the destination.
pub struct ImportItem {
    pub dir: PathBuf,
    pub name: String,
}

/// The experiment folders of a bulk export, with destination names from `rename`.
pub fn bulk_items(dir: &Path, rename: impl Fn(&str) -> String) -> Result<Vec<ImportItem>> {
    let entries = read_experiments_dir(dir).map_err(Error::from)?;
    Ok(entries.into_iter().map(|e| ImportItem { name: rename(&e.name), dir: e.dir }).collect())
}

/// Checks that a folder is a readable experiment export, so that a command can refuse it
/// before touching its destination.
pub fn check_experiment_dir(dir: &Path) -> Result<()> {
    read_experiment_dir(dir).map(drop).map_err(Error::from)
}

/// Imports experiment folders into a server.
pub async fn import(client: MlflowClient, items: Vec<ImportItem>, ctx: &JobContext, concurrency: usize) -> JobResult {
    let mut plans = Vec::new();
    let mut runs = Vec::new();
    let mut unreadable = Vec::new();
    for item in items {
        let mut plan = Planned {
            record: ExperimentRecord { name: item.name.clone(), ..ExperimentRecord::default() },
            destination: None,
            run_ids: Vec::new(),
            export_dir: None,
            error: None,
        };
        let exp = match read_experiment_dir(&item.dir) {
            Ok(exp) => exp,
            Err(e) => {
                plan.error = Some(e.to_string());
                plans.push(plan);
                continue;
            }
        };
        plan.record = ExperimentRecord { name: item.name.clone(), ..exp.experiment.clone() };
        let sink = match RestSink::for_experiment(client.clone(), &item.name, &import_tags(&exp.experiment.tags)).await
        {
            Ok(s) => Arc::new(s),
            Err(e) => {
                plan.error = Some(format!("experiment {:?}: {e}", item.name));
                plans.push(plan);
                continue;
            }
        };
        plan.destination = Some(sink.experiment_id().to_string());
        let source: Arc<dyn RunSource> =
            Arc::new(DirSource::tree(exp.runs.iter().map(|r| (r.run_id.clone(), r.dir.clone()))));
        for r in &exp.runs {
            plan.run_ids.push(r.run_id.clone());
            // The parent link is needed to order runs; a run whose files cannot be read is
            // reported as failed now and does not hold up the others.
            match read_run_dir(&r.dir) {
                Ok(json) => runs.push(PlannedRun {
                    run_id: r.run_id.clone(),
                    parent: json.run.tags.get("mlflow.parentRunId").cloned(),
                    source: source.clone(),
                    sink: sink.clone(),
                }),
                Err(e) => unreadable.push(RunOutcome::failed(&r.run_id, &e, std::time::Duration::ZERO)),
            }
        }
        plans.push(plan);
    }
    for o in &unreadable {
        ctx.reporter.run_finished(o);
    }
    run_job(plans, runs, unreadable, ctx, concurrency).await.1
}

/// Experiment tags to carry over; our own bookkeeping tags are not.
fn import_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter().filter(|(k, _)| !k.starts_with(crate::identity::PREFIX)).map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Copies one experiment between servers, streamed with no temporary copy.
pub async fn copy(
    source: Arc<RestSource>,
    experiment: ExperimentRecord,
    filter: &RunFilter,
    dst: MlflowClient,
    dst_name: &str,
    ctx: &JobContext,
    concurrency: usize,
) -> Result<JobResult> {
    let sink = Arc::new(RestSink::for_experiment(dst, dst_name, &import_tags(&experiment.tags)).await?);
    let found = source.plan_runs(&experiment, filter).await?;
    let plan = Planned {
        destination: Some(sink.experiment_id().to_string()),
        run_ids: found.iter().map(|(id, _)| id.clone()).collect(),
        record: experiment,
        export_dir: None,
        error: None,
    };
    let runs = found
        .into_iter()
        .map(|(run_id, parent)| PlannedRun { run_id, parent, source: source.clone(), sink: sink.clone() })
        .collect();
    Ok(run_job(vec![plan], runs, Vec::new(), ctx, concurrency).await.1)
}
