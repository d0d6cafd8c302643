//! The experiment mover. An experiment is a container: at a server it is prepared before its
//! runs (`Open`: found by name or created, tags added, its artifact store checked writable), and
//! closed after them (`Close`: its outcome counts what its runs did). In an export folder it is
//! written after its runs, `experiment.json` listing which succeeded; a bulk export's
//! `experiments.json` indexes the experiment folders last.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use crate::{
    format::{
        experiment_json::{write_experiment_json, write_experiments_json, ExperimentSummary},
        ExportSystem,
    },
    job::{Action, ExperimentOutcome, JobContext, Outcome, Phase},
    model::ExperimentRecord,
    store::{local, ExperimentSink},
};

/// Where an experiment goes.
#[derive(Clone)]
pub enum ExperimentDestination {
    /// The experiment named `name` at a server.
    Server { server: Arc<dyn ExperimentSink>, name: String },
    /// An export folder (`<dir>/experiment.json`, runs under `<dir>/runs/`).
    Folder { dir: PathBuf, system: ExportSystem },
}

pub struct ExperimentMove {
    /// The source experiment (with the destination's name, for imports).
    pub record: ExperimentRecord,
    pub destination: ExperimentDestination,
    pub phase: Phase,
    /// Why the experiment could not be planned (unreadable at the source or in the export).
    pub error: Option<String>,
}

impl ExperimentMove {
    pub async fn execute(&self, deps: &[Outcome], _ctx: &JobContext) -> Outcome {
        match (self.phase, &self.destination) {
            (Phase::Open, ExperimentDestination::Server { server, name }) => {
                match server.open_experiment(name, &import_tags(&self.record.tags)).await {
                    Ok((experiment_id, sink)) => Outcome::ExperimentReady { experiment_id, sink },
                    Err(e) => Outcome::failed(format!("experiment {name:?}"), &e),
                }
            }
            (Phase::Open, ExperimentDestination::Folder { .. }) => Outcome::Indexed,
            (Phase::Close, destination) => Outcome::Experiment(self.close(destination, deps)),
        }
    }

    fn close(&self, destination: &ExperimentDestination, deps: &[Outcome]) -> ExperimentOutcome {
        let runs = || deps.iter().filter_map(|d| if let Outcome::Run(r) = d { Some(r) } else { None });
        let (ok, failed): (Vec<String>, Vec<String>) = {
            let (ok, failed): (Vec<_>, Vec<_>) = runs().partition(|r| r.action != Action::Failed);
            let ids = |v: Vec<&crate::job::RunOutcome>| v.into_iter().map(|r| r.source_run_id.clone()).collect();
            (ids(ok), ids(failed))
        };
        let mut outcome = ExperimentOutcome {
            source_experiment_id: self.record.experiment_id.clone(),
            name: self.record.name.clone(),
            destination: None,
            runs_ok: ok.len(),
            runs_failed: failed.len(),
            error: self.error.clone(),
        };
        if outcome.error.is_some() {
            return outcome;
        }
        match destination {
            ExperimentDestination::Server { .. } => {
                for d in deps {
                    match d {
                        Outcome::ExperimentReady { experiment_id, .. } => {
                            outcome.destination = Some(experiment_id.clone())
                        }
                        Outcome::Failed { error, .. } => outcome.error = Some(error.clone()),
                        _ => {}
                    }
                }
            }
            ExperimentDestination::Folder { dir, system } => {
                let json = write_experiment_json(&self.record, system, &ok, &failed);
                match local::write_json(&dir.join("experiment.json"), &json) {
                    Ok(()) => outcome.destination = Some(dir.display().to_string()),
                    Err(e) => outcome.error = Some(e.to_string()),
                }
            }
        }
        outcome
    }
}

/// `experiments.json` of a bulk export, listing the experiments written.
pub struct ExperimentIndex {
    pub out: PathBuf,
    pub system: ExportSystem,
}

impl ExperimentIndex {
    pub async fn execute(&self, deps: &[Outcome], _ctx: &JobContext) -> Outcome {
        let summaries: Vec<ExperimentSummary> = deps
            .iter()
            .filter_map(|d| if let Outcome::Experiment(e) = d { Some(e) } else { None })
            .filter(|e| e.error.is_none())
            .map(|e| ExperimentSummary {
                id: e.source_experiment_id.clone(),
                name: e.name.clone(),
                ok_runs: e.runs_ok,
                failed_runs: e.runs_failed,
            })
            .collect();
        let path = self.out.join("experiments.json");
        match local::write_json(&path, &write_experiments_json(&self.system, &summaries)) {
            Ok(()) => Outcome::Indexed,
            Err(e) => Outcome::failed(path.display().to_string(), &e),
        }
    }
}

/// Experiment tags to carry over; our own bookkeeping tags are not.
fn import_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter().filter(|(k, _)| !k.starts_with(crate::identity::PREFIX)).map(|(k, v)| (k.clone(), v.clone())).collect()
}
