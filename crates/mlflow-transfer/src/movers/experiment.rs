//! The experiment mover. An experiment is a container: at a server it is prepared before its
//! runs (`Open`: found by name or created, tags added, its artifact store checked writable), and
//! closed after them (`Close`: its outcome counts what its runs did). In an export folder it is
//! written after its runs, `experiment.json` listing which succeeded; a bulk export's
//! `experiments.json` indexes the experiment folders last.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    path::PathBuf,
    sync::Arc,
};

use serde_json::{json, Value};

use crate::{
    format::{
        experiment_json::{write_experiment_json, write_experiments_json, ExperimentSummary},
        ExportSystem,
    },
    job::{Action, Deletes, Deps, ExperimentOutcome, JobContext, Outcome, Phase},
    model::ExperimentRecord,
    store::{local, ExperimentSink, RunSink},
    Error, Result,
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
    /// `(K, N)` when this job is shard K of N of an export: `experiment.json` then lists
    /// every shard's runs, written by the shard that finishes last.
    pub shard: Option<(u32, u32)>,
}

impl ExperimentMove {
    pub async fn execute(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        self.run(deps, ctx, false).await
    }

    /// What [`Self::execute`] would do, writing nothing: an existing destination experiment is
    /// found (its runs are then probed against it), and the copies `--delete` would delete are
    /// listed.
    pub async fn probe(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        self.run(deps, ctx, true).await
    }

    async fn run(&self, deps: &Deps, ctx: &JobContext, probing: bool) -> Outcome {
        match (self.phase, &self.destination) {
            (Phase::Open, ExperimentDestination::Server { server, name }) if probing => {
                match server.find_experiment(name).await {
                    Ok(Some((experiment_id, sink))) => Outcome::ExperimentReady { experiment_id, sink },
                    Ok(None) => Outcome::Indexed,
                    Err(e) => Outcome::failed(format!("experiment {name:?}"), &e),
                }
            }
            (Phase::Open, ExperimentDestination::Server { server, name }) => {
                let mut tags = import_tags(&self.record.tags);
                // Only an experiment read from a source (not one named for an import's runs).
                if ctx.opts.import_source_tags && !self.record.experiment_id.is_empty() {
                    tags.extend(source_tags(&self.record));
                }
                match server.open_experiment(name, &tags).await {
                    Ok((experiment_id, sink)) => Outcome::ExperimentReady { experiment_id, sink },
                    Err(e) => Outcome::failed(format!("experiment {name:?}"), &e),
                }
            }
            (Phase::Open, ExperimentDestination::Folder { .. }) => Outcome::Indexed,
            (Phase::Close, destination) => Outcome::Experiment(self.close(destination, deps, ctx, probing).await),
        }
    }

    async fn close(
        &self,
        destination: &ExperimentDestination,
        deps: &Deps,
        ctx: &JobContext,
        probing: bool,
    ) -> ExperimentOutcome {
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
            runs_deleted: Vec::new(),
            tags_refused: Vec::new(),
            permissions: None,
            error: self.error.clone(),
        };
        if outcome.error.is_some() {
            return outcome;
        }
        match destination {
            ExperimentDestination::Server { server, .. } => {
                for d in deps {
                    match d {
                        Outcome::ExperimentReady { experiment_id, sink } => {
                            outcome.destination = Some(experiment_id.clone());
                            if !probing {
                                self.set_permissions(server.as_ref(), experiment_id, ctx, &mut outcome).await;
                            }
                            let tags = import_tags(&self.record.tags);
                            outcome.tags_refused = sink
                                .refused_tags()
                                .iter()
                                .filter(|k| tags.contains_key(**k))
                                .map(|k| k.to_string())
                                .collect();
                            if let Some(deletes) = &ctx.deletes {
                                let keep = ok.iter().chain(&failed).cloned().collect();
                                match self.prune(sink.as_ref(), &keep, deletes, probing).await {
                                    Ok(deleted) => outcome.runs_deleted = deleted,
                                    Err(e) => outcome.error = Some(e.to_string()),
                                }
                            }
                        }
                        Outcome::Failed { error, .. } => outcome.error = Some(error.clone()),
                        _ => {}
                    }
                }
            }
            ExperimentDestination::Folder { dir, .. } if probing => {
                outcome.destination = Some(dir.display().to_string());
            }
            ExperimentDestination::Folder { dir, system } => {
                let written = local::write_whole(
                    &dir.join("experiment.json"),
                    self.shard,
                    (ok, failed),
                    |(ok, failed)| json!({"ok": ok, "failed": failed}),
                    every_shards_runs,
                    |(ok, failed)| write_experiment_json(&self.record, system, &ok, &failed),
                );
                match written {
                    Ok(()) => outcome.destination = Some(dir.display().to_string()),
                    Err(e) => outcome.error = Some(e.to_string()),
                }
            }
        }
        outcome
    }
}

impl ExperimentMove {
    /// Sets the source's access control list on the destination experiment, when asked to
    /// (`--import-permissions`, `--copy-permissions`). A grant the destination refuses fails the
    /// experiment, naming the principal: permissions are not silently narrower than the source's.
    async fn set_permissions(
        &self,
        server: &dyn ExperimentSink,
        experiment_id: &str,
        ctx: &JobContext,
        outcome: &mut ExperimentOutcome,
    ) {
        let Some(principals) = &ctx.opts.import_permissions else { return };
        let Some(permissions) = &self.record.permissions else {
            outcome.error = Some(format!(
                "experiment {:?}: no permissions were exported with it (export it with --export-permissions)",
                self.record.name
            ));
            return;
        };
        match server.set_permissions(experiment_id, permissions, principals).await {
            Ok(set) => {
                outcome.error = set.refusal();
                outcome.permissions = Some(set);
            }
            Err(e) => outcome.error = Some(e.to_string()),
        }
    }

    /// Deletes the copies of the source experiment's runs that are not in `keep` (the runs
    /// this job moved, which are all the runs the source has active): the runs the source
    /// deleted or no longer has. An experiment deleted at the source is not pruned: only the
    /// runs behind model versions were planned for it. Returns the deleted copies' ids (when
    /// `probing`, those it would delete).
    async fn prune(
        &self,
        sink: &dyn RunSink,
        keep: &HashSet<String>,
        deletes: &Deletes,
        probing: bool,
    ) -> Result<Vec<String>> {
        if self.record.lifecycle_stage != "active" {
            return Ok(Vec::new());
        }
        let stale = sink.stale_copies(&self.record.experiment_id, &deletes.tracking_uri, keep).await?;
        deletes.take(stale.len())?;
        let mut deleted = Vec::new();
        for (copy, source) in stale {
            if probing {
                deleted.push(copy);
                continue;
            }
            sink.delete_copy(&copy).await?;
            tracing::info!(run = %copy, source = %source, "deleted: the source no longer has this run");
            deleted.push(copy);
        }
        Ok(deleted)
    }
}

/// The runs (moved, failed) of an experiment over the parts every shard wrote.
fn every_shards_runs(parts: &[Value]) -> Result<(Vec<String>, Vec<String>)> {
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for part in parts {
        ok.extend(local::part_strings(part, "ok", "experiment.json")?);
        failed.extend(local::part_strings(part, "failed", "experiment.json")?);
    }
    Ok((ok, failed))
}

/// `experiments.json` of a bulk export, listing the experiments written.
pub struct ExperimentIndex {
    pub out: PathBuf,
    pub system: ExportSystem,
    /// `(K, N)` when this job is shard K of N: the index then counts every shard's runs,
    /// written by the shard that finishes last.
    pub shard: Option<(u32, u32)>,
}

impl ExperimentIndex {
    pub async fn execute(&self, deps: &Deps, _ctx: &JobContext) -> Outcome {
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
        let written = local::write_whole(
            &path,
            self.shard,
            summaries,
            |s| summaries_json(s),
            every_shards_summaries,
            |s| write_experiments_json(&self.system, &s),
        );
        match written {
            Ok(()) => Outcome::Indexed,
            Err(e) => Outcome::failed(path.display().to_string(), &e),
        }
    }
}

fn summaries_json(summaries: &[ExperimentSummary]) -> Value {
    summaries
        .iter()
        .map(|e| json!({"id": e.id, "name": e.name, "ok_runs": e.ok_runs, "failed_runs": e.failed_runs}))
        .collect()
}

/// Each experiment once, in the order the shards list them, with every shard's runs counted.
fn every_shards_summaries(parts: &[Value]) -> Result<Vec<ExperimentSummary>> {
    let bad = || Error::Input("a shard's part of experiments.json is not a list of experiments".into());
    let mut out: Vec<ExperimentSummary> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for part in parts {
        for e in part.as_array().ok_or_else(bad)? {
            let text = |k: &str| e.get(k).and_then(Value::as_str).map(String::from).ok_or_else(bad);
            let count = |k: &str| e.get(k).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(bad);
            let (id, ok_runs, failed_runs) = (text("id")?, count("ok_runs")?, count("failed_runs")?);
            match at.get(&id) {
                Some(&i) => {
                    out[i].ok_runs += ok_runs;
                    out[i].failed_runs += failed_runs;
                }
                None => {
                    at.insert(id.clone(), out.len());
                    out.push(ExperimentSummary { id, name: text("name")?, ok_runs, failed_runs });
                }
            }
        }
    }
    Ok(out)
}

/// `--import-source-tags` on an experiment, as the Python tool writes them: its fields, and
/// its `mlflow.*` tags as `mlflow_exim.mlflow_tag.*`.
fn source_tags(e: &ExperimentRecord) -> BTreeMap<String, String> {
    let fields = [
        ("experiment_id", Some(e.experiment_id.clone())),
        ("name", Some(e.name.clone())),
        ("artifact_location", e.artifact_location.clone()),
        ("lifecycle_stage", Some(e.lifecycle_stage.clone()).filter(|s| !s.is_empty())),
    ];
    let times = [("creation_time", e.creation_time), ("last_update_time", e.last_update_time)];
    let mut tags = crate::identity::source_field_tags(&fields, &times);
    for (k, v) in &e.tags {
        if let Some(rest) = k.strip_prefix("mlflow.") {
            tags.insert(format!("mlflow_exim.mlflow_tag.{rest}"), v.clone());
        }
    }
    tags
}

/// Experiment tags to carry over; our own bookkeeping tags are not.
fn import_tags(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut tags = tags.clone();
    crate::identity::restore_refused(&mut tags);
    tags.retain(|k, _| !k.starts_with(crate::identity::PREFIX));
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_tags_are_the_python_tools() {
        let e = ExperimentRecord {
            permissions: None,
            experiment_id: "7".into(),
            name: "wine".into(),
            lifecycle_stage: "active".into(),
            artifact_location: None,
            creation_time: Some(1721364374123),
            last_update_time: None,
            tags: BTreeMap::from([("mlflow.note.content".into(), "hi".into()), ("team".into(), "a".into())]),
        };
        let expected = [
            ("mlflow_exim.field._creation_time", "2024-07-19 04:46:14"),
            ("mlflow_exim.field.creation_time", "1721364374123"),
            ("mlflow_exim.field.experiment_id", "7"),
            ("mlflow_exim.field.lifecycle_stage", "active"),
            ("mlflow_exim.field.name", "wine"),
            ("mlflow_exim.mlflow_tag.note.content", "hi"),
        ];
        let expected: BTreeMap<String, String> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(source_tags(&e), expected);
    }

    #[test]
    fn shards_parts_add_up_to_each_experiment_once() {
        let part = |ok: usize| json!([{"id": "1", "name": "a", "ok_runs": ok, "failed_runs": 0}, {"id": "2", "name": "b", "ok_runs": 1, "failed_runs": 1}]);
        let all = every_shards_summaries(&[part(3), part(4)]).unwrap();
        let got: Vec<_> = all.iter().map(|e| (e.id.as_str(), e.ok_runs, e.failed_runs)).collect();
        assert_eq!(got, [("1", 7, 0), ("2", 2, 2)]);
        assert!(every_shards_summaries(&[json!({"id": "1"})]).is_err());
        let runs =
            every_shards_runs(&[json!({"ok": ["a"], "failed": []}), json!({"ok": ["b"], "failed": ["c"]})]).unwrap();
        assert_eq!(runs, (vec!["a".to_string(), "b".to_string()], vec!["c".to_string()]));
        assert!(every_shards_runs(&[json!({"ok": [1], "failed": []})]).is_err());
    }
}
