//! The index step of a bulk export of MLflow 3 objects (`traces.json`, `logged_models.json`):
//! after the steps of the objects it lists, it writes the index of those written, by
//! experiment, with the ids that failed. At a server there is nothing to write; the step
//! still carries the failure to list the objects, if they could not be.

use std::{collections::BTreeSet, path::PathBuf};

use serde_json::{json, Value};

use crate::{
    format::{
        index_json::{write_index, IndexKind, IndexedExperiment},
        ExportSystem,
    },
    job::{Action, Deps, JobContext, Outcome},
    store::local,
};

pub struct IndexMove {
    pub kind: &'static IndexKind,
    /// The folder the index goes in; `None` at a server.
    pub dir: Option<PathBuf>,
    /// The experiments and the objects planned of each.
    pub experiments: Vec<IndexedExperiment>,
    pub system: ExportSystem,
    /// What could not be listed, and why.
    pub error: Option<(String, String)>,
    /// `(K, N)` when this job is shard K of N of an export: every shard plans every object,
    /// so the index is the planned objects less every shard's failures, written by the shard
    /// that finds all their parts.
    pub shard: Option<(u32, u32)>,
}

impl IndexMove {
    pub async fn execute(&self, deps: &Deps, _ctx: &JobContext) -> Outcome {
        if let Some((object, error)) = &self.error {
            return Outcome::Failed { object: object.clone(), error: error.clone(), retryable: false };
        }
        let Some(dir) = &self.dir else { return Outcome::Indexed };
        let failed: BTreeSet<String> = deps
            .iter()
            .filter_map(|d| match d {
                Outcome::Trace(t) if t.action == Action::Failed => Some(t.source_trace_id.clone()),
                Outcome::LoggedModel(m) if m.action == Action::Failed => Some(m.source_model_id.clone()),
                _ => None,
            })
            .collect();
        let path = dir.join(self.kind.file);
        let written = local::write_whole(
            &path,
            self.shard,
            failed,
            |failed| json!({"failed": failed}),
            |parts| {
                let mut all = BTreeSet::new();
                for part in parts {
                    all.extend(local::part_strings(part, "failed", self.kind.file)?);
                }
                Ok(all)
            },
            |failed| self.render(&failed),
        );
        match written {
            Ok(()) => Outcome::Indexed,
            Err(e) => Outcome::failed(path.display().to_string(), &e),
        }
    }

    /// The index of the planned objects less those that `failed`.
    fn render(&self, failed: &BTreeSet<String>) -> Value {
        let written: Vec<IndexedExperiment> = self
            .experiments
            .iter()
            .map(|e| IndexedExperiment {
                items: e.items.iter().filter(|t| !failed.contains(t.as_str())).cloned().collect(),
                ..e.clone()
            })
            .collect();
        let failed: Vec<String> = failed.iter().cloned().collect();
        write_index(self.kind, &self.system, &written, &failed)
    }
}
