//! The registered-model mover. A registered model is a container of versions: at a server it
//! is prepared before them (`Open`: deleted first with `--delete-model`, found or created, tags
//! and description added, our earlier copies of its versions listed), and closed after them
//! (`Close`: aliases set, the outcome counts what its versions did). In an export folder,
//! `model.json` is written after its versions' runs and logged models; an `export-models`
//! folder's `models/models.json` indexes the models last, and its `manifest.json` closes it.
//!
//! When the destination model holds nothing but our copies, version numbers are kept: the
//! version mover reproduces a numbering gap left by a deleted source version. The writes
//! themselves go through the destination's [`ModelSink`].

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use serde_json::{json, Value};

use crate::{
    format::{
        model_json::{
            write_manifest_json, write_model_json, write_models_json, write_version_json, ExperimentCounts,
            VERSION_FILE,
        },
        ExportSystem,
    },
    job::{Deps, JobContext, ModelOutcome, Outcome, Phase},
    model::RegisteredModelRecord,
    select::PrincipalMap,
    store::{local, ModelSink},
    Error, Result,
};

/// Where a registered model goes.
#[derive(Clone)]
pub enum ModelDestination {
    /// The model named `name` at a server.
    Server { sink: Arc<dyn ModelSink>, name: String, source_tracking_uri: Option<String> },
    /// An export folder holding `model.json`.
    Folder { dir: PathBuf, system: ExportSystem },
    /// An `export-model-version` folder: `model.json`, then the one version's `version.json`.
    VersionFolder { dir: PathBuf, system: ExportSystem },
}

pub struct ModelMove {
    pub record: Arc<RegisteredModelRecord>,
    pub destination: ModelDestination,
    pub phase: Phase,
    /// Why the model could not be planned.
    pub error: Option<String>,
}

impl ModelMove {
    pub async fn execute(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        match (self.phase, &self.destination) {
            (Phase::Open, ModelDestination::Server { sink, name, source_tracking_uri }) => {
                let (delete_first, keep_numbers) = (ctx.models.delete_model, ctx.models.keep_numbers);
                let opened =
                    sink.open_model(name, &self.record, source_tracking_uri.as_deref(), delete_first, keep_numbers);
                match opened.await {
                    Ok(state) => Outcome::ModelReady(Arc::new(state)),
                    Err(e) => Outcome::failed(format!("model {name:?}"), &e),
                }
            }
            (Phase::Open, ModelDestination::Folder { .. } | ModelDestination::VersionFolder { .. }) => Outcome::Indexed,
            (Phase::Close, destination) => Outcome::Model(self.close(destination, deps, ctx).await),
        }
    }

    async fn close(&self, destination: &ModelDestination, deps: &Deps, ctx: &JobContext) -> ModelOutcome {
        let mut outcome = ModelOutcome::new(&self.record.name);
        if let Some(e) = &self.error {
            outcome.error = Some(e.clone());
            return outcome;
        }
        for d in deps {
            match d {
                Outcome::Version(v) => match (&v.error, &v.destination) {
                    (Some(e), _) => {
                        outcome.failed_versions.insert(v.version.clone(), e.clone());
                    }
                    (None, Some(dst)) => {
                        outcome.versions.insert(v.version.clone(), dst.clone());
                        if v.updated {
                            outcome.versions_updated += 1;
                        } else if v.skipped {
                            outcome.versions_skipped += 1;
                        } else {
                            outcome.versions_created += 1;
                        }
                    }
                    (None, None) => {}
                },
                Outcome::Failed { error, .. } => outcome.error = Some(error.clone()),
                _ => {}
            }
        }
        if outcome.error.is_some() {
            return outcome;
        }
        match destination {
            ModelDestination::Server { sink, name, .. } => {
                outcome.destination = Some(name.clone());
                let aliases: Vec<(String, String)> = self
                    .record
                    .aliases
                    .iter()
                    .filter_map(|(alias, src)| outcome.versions.get(src).map(|dst| (alias.clone(), dst.clone())))
                    .collect();
                if ctx.models.stages_and_aliases {
                    if let Err(e) = sink.set_aliases(name, &aliases).await {
                        outcome.error = Some(format!("model {name:?}: {e}"));
                    }
                }
                if let (None, Some(principals)) = (&outcome.error, &ctx.models.import_permissions) {
                    self.set_permissions(sink.as_ref(), name, principals, &mut outcome).await;
                }
            }
            ModelDestination::Folder { dir, system } | ModelDestination::VersionFolder { dir, system } => {
                // An export holds every version selected; one whose logged model could not be
                // written is also listed as failed, and only the others count as written.
                outcome.versions =
                    self.record.versions.iter().map(|v| (v.version.clone(), v.version.clone())).collect();
                outcome.versions_created =
                    outcome.versions.keys().filter(|v| !outcome.failed_versions.contains_key(*v)).count();
                let mut written = local::write_json(&dir.join("model.json"), &write_model_json(&self.record, system));
                if let (Ok(()), ModelDestination::VersionFolder { .. }, [v]) =
                    (&written, destination, self.record.versions.as_slice())
                {
                    written = local::write_json(&dir.join(VERSION_FILE), &write_version_json(&self.record, v, system));
                }
                match written {
                    Ok(()) => outcome.destination = Some(dir.display().to_string()),
                    Err(e) => outcome.error = Some(e.to_string()),
                }
            }
        }
        outcome
    }
}

impl ModelMove {
    /// Sets the source's access control list on the destination model (`--import-permissions`,
    /// `--copy-permissions`); a grant the destination refuses fails the model, naming the
    /// principal. `PATCH` merges, so a re-run sets the same grants again harmlessly.
    async fn set_permissions(
        &self,
        sink: &dyn ModelSink,
        name: &str,
        principals: &PrincipalMap,
        outcome: &mut ModelOutcome,
    ) {
        let Some(permissions) = &self.record.permissions else {
            outcome.error = Some(format!(
                "model {:?}: no permissions were exported with it (export it with --export-permissions)",
                self.record.name
            ));
            return;
        };
        match sink.set_permissions(name, permissions, principals).await {
            Ok(set) => {
                outcome.error = set.refusal().map(|e| format!("model {name:?}: {e}"));
                outcome.permissions = Some(set);
            }
            Err(e) => outcome.error = Some(format!("model {name:?}: {e}")),
        }
    }
}

/// The closing files of an `export-models`/`export-all` folder: `models/models.json`, listing
/// the models written, then the top `manifest.json` counting models and experiments. In a
/// sharded export each shard writes its part (`models.shard-K-of-N.json`) and the shard that
/// finds every part writes both files from them all.
pub struct ModelIndex {
    /// The `models/` folder.
    pub dir: PathBuf,
    /// The export's top folder, which holds `manifest.json`.
    pub manifest: PathBuf,
    pub system: ExportSystem,
    /// `(K, N)` when this job is shard K of N of an export.
    pub shard: Option<(u32, u32)>,
}

/// What an export's model index says: the models written and failed, and each experiment's
/// runs (by source id: the experiments are in every shard, their runs in one).
#[derive(Debug, Default, PartialEq)]
struct IndexedModels {
    ok: Vec<String>,
    failed: Vec<String>,
    experiments: BTreeMap<String, (usize, usize)>,
}

impl IndexedModels {
    fn of(deps: &Deps) -> Self {
        let mut index = IndexedModels::default();
        for d in deps {
            match d {
                Outcome::Model(m) if m.error.is_some() => index.failed.push(m.source_name.clone()),
                Outcome::Model(m) => index.ok.push(m.source_name.clone()),
                Outcome::Experiment(e) if e.error.is_none() => {
                    index.experiments.insert(e.source_experiment_id.clone(), (e.runs_ok, e.runs_failed));
                }
                _ => {}
            }
        }
        index
    }

    fn part(&self) -> Value {
        let runs: serde_json::Map<String, Value> =
            self.experiments.iter().map(|(id, (ok, failed))| (id.clone(), json!([ok, failed]))).collect();
        json!({"ok": self.ok, "failed": self.failed, "experiments": runs})
    }

    /// Every shard's part in one: models listed once each, runs summed over the shards.
    fn merge(parts: &[Value]) -> Result<Self> {
        let bad = || Error::Input("a shard's part of models.json is not a list of models and experiments".into());
        let mut index = IndexedModels::default();
        for part in parts {
            index.ok.extend(local::part_strings(part, "ok", "models.json")?);
            index.failed.extend(local::part_strings(part, "failed", "models.json")?);
            for (id, runs) in part.get("experiments").and_then(Value::as_object).ok_or_else(bad)? {
                let count = |i: usize| runs.get(i).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(bad);
                let entry = index.experiments.entry(id.clone()).or_default();
                entry.0 += count(0)?;
                entry.1 += count(1)?;
            }
        }
        Ok(index)
    }
}

impl ModelIndex {
    pub async fn execute(&self, deps: &Deps, _ctx: &JobContext) -> Outcome {
        let models_json = self.dir.join("models.json");
        let mine = IndexedModels::of(deps);
        let whole = match self.shard {
            None => Ok(Some(mine)),
            Some(shard) => local::write_part(&models_json, shard, &mine.part())
                .and_then(|parts| parts.map(|p| IndexedModels::merge(&p)).transpose()),
        };
        let index = match whole {
            Ok(Some(index)) => index,
            Ok(None) => return Outcome::Indexed,
            Err(e) => return Outcome::failed(models_json.display().to_string(), &e),
        };
        let runs = ExperimentCounts {
            experiments: index.experiments.len(),
            ok_runs: index.experiments.values().map(|r| r.0).sum(),
            failed_runs: index.experiments.values().map(|r| r.1).sum(),
        };
        let (ok, failed) = (&index.ok, &index.failed);
        let files = [
            (models_json, write_models_json(&self.system, ok, failed)),
            (self.manifest.join("manifest.json"), write_manifest_json(&self.system, ok, failed, &runs)),
        ];
        for (path, json) in files {
            // Shards that finish together each write the whole files.
            let written = if self.shard.is_some() {
                local::write_json_shared(&path, &json)
            } else {
                local::write_json(&path, &json)
            };
            if let Err(e) = written {
                return Outcome::failed(path.display().to_string(), &e);
            }
        }
        Outcome::Indexed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{job::VersionOutcome, model::ModelVersionRecord};

    /// Two shards of an export: the model index and manifest are written once, by the shard
    /// that finds both parts, listing every shard's models and summing each experiment's runs
    /// (the experiment is in both shards); the first shard alone writes nothing whole, and an
    /// import before the second finds the export incomplete.
    #[tokio::test]
    async fn shards_of_an_export_index_every_shards_models() {
        let out = tempfile::tempdir().unwrap();
        let index = |k| ModelIndex {
            dir: out.path().join("models"),
            manifest: out.path().to_path_buf(),
            system: ExportSystem::default(),
            shard: Some((k, 2)),
        };
        let model = |name: &str, error: Option<&str>| {
            Outcome::Model(ModelOutcome { error: error.map(String::from), ..ModelOutcome::new(name) })
        };
        let experiment = |ok| {
            Outcome::Experiment(crate::job::ExperimentOutcome {
                source_experiment_id: "7".into(),
                runs_ok: ok,
                ..Default::default()
            })
        };
        let ctx = JobContext::new(crate::job::RunOptions::default(), Arc::new(crate::Silent));
        let first = [model("a", None), model("b", Some("gone")), experiment(2)];
        assert!(matches!(index(1).execute(&first.into(), &ctx).await, Outcome::Indexed));
        assert!(!out.path().join("manifest.json").exists());
        let err = crate::format::model_json::read_models_dir(out.path()).unwrap_err().to_string();
        assert!(err.contains("not every shard has finished"), "{err}");
        let second = [model("c", None), experiment(3)];
        assert!(matches!(index(2).execute(&second.into(), &ctx).await, Outcome::Indexed));
        let read = |p: &str| -> Value { serde_json::from_slice(&std::fs::read(out.path().join(p)).unwrap()).unwrap() };
        let models = read("models/models.json");
        assert_eq!(models["mlflow"]["models"], json!(["a", "c"]), "{models}");
        assert_eq!(models["info"]["failed_models"], json!(["b"]), "{models}");
        let manifest = read("manifest.json");
        let status = &manifest["info"]["status"];
        assert_eq!(status["experiments"]["experiments"], 1, "{manifest}");
        assert_eq!(status["experiments"]["ok_runs"], 5, "{manifest}");
    }

    /// A version that failed is reported failed, not counted among those written.
    #[tokio::test]
    async fn an_export_counts_only_the_versions_written() {
        let dir = tempfile::tempdir().unwrap();
        let version = |v: &str| ModelVersionRecord { version: v.into(), ..Default::default() };
        let record = RegisteredModelRecord {
            name: "m".into(),
            versions: vec![version("1"), version("2")],
            ..Default::default()
        };
        let step = ModelMove {
            record: Arc::new(record),
            destination: ModelDestination::Folder { dir: dir.path().to_path_buf(), system: ExportSystem::default() },
            phase: Phase::Close,
            error: None,
        };
        let outcome = |v: &str, error: Option<&str>| {
            Outcome::Version(VersionOutcome {
                version: v.into(),
                destination: error.is_none().then(|| v.to_string()),
                skipped: false,
                updated: false,
                error: error.map(String::from),
                retryable: false,
            })
        };
        let deps = [outcome("1", None), outcome("2", Some("its logged model could not be written"))];
        let ctx = JobContext::new(crate::job::RunOptions::default(), Arc::new(crate::Silent));
        let Outcome::Model(m) = step.execute(&deps.into(), &ctx).await else { panic!("a model outcome") };
        assert_eq!((m.versions_created, m.failed_versions.len()), (1, 1), "{m:?}");
        assert!(dir.path().join("model.json").is_file());
    }
}
