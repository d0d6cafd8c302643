//! The prompt mover. A prompt (prompt registry) is a registered model tagged
//! `mlflow.prompt.is_prompt`; each version is a model version whose tags hold the template,
//! its type, the response format and model config. A prompt moves whole, in one step: its
//! versions must be created one after another, in order, for their numbers to be kept.
//!
//! At a server: the prompt is found or created with the source's description and tags; our
//! earlier copies of its versions are found by their source-identity tags and skipped; the
//! versions missing are created in ascending order, each under its source number (a number
//! that belongs to a version deleted at the source is burnt: created and deleted). When the
//! destination prompt holds versions that are not our copies, numbers cannot be kept and the
//! prompt fails unless `--delete-prompt` replaces it. Aliases are set last. Into a folder:
//! one `prompt.json` per version.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc};

use serde_json::{json, Value};

use crate::{
    format::{
        prompt_json::{version_folder, write_prompt_json, write_summary_json, PROMPT_FILE, SUMMARY_FILE},
        ExportSystem,
    },
    identity::{self, copied_from, PREFIX, SOURCE_MODEL, SOURCE_TRACKING_URI, SOURCE_VERSION},
    job::{Deps, JobContext, Outcome, PromptOutcome},
    model::{version_number, ModelVersionRecord, RegisteredModelRecord},
    store::{local, PromptSink},
    Error, Result,
};

/// Tags that hold ids of the source server's runs and experiments (prompt ↔ run links). They
/// would point at the wrong objects at the destination, so they are kept under
/// `mlflow_export_import.source.<key>` as a record.
const LINK_TAGS: [&str; 2] = ["mlflow.prompt.associatedRunIds", "_mlflow_experiment_ids"];

/// Where a prompt goes.
#[derive(Clone)]
pub enum PromptDestination {
    /// The prompt named `name` at a server.
    Server { sink: Arc<dyn PromptSink>, name: String, source_tracking_uri: Option<String> },
    /// An export folder: `dir/prompt.json` when `single` (`export-prompt`, one version), else
    /// `dir/<name>_v<version>/prompt.json` per version.
    Folder { dir: PathBuf, system: ExportSystem, single: bool },
}

pub struct PromptMove {
    pub record: Arc<RegisteredModelRecord>,
    pub destination: PromptDestination,
    /// Why the prompt could not be planned.
    pub error: Option<String>,
}

impl PromptMove {
    pub async fn execute(&self, _deps: &Deps, ctx: &JobContext) -> Outcome {
        let mut outcome = PromptOutcome {
            source_name: self.record.name.clone(),
            destination: None,
            versions_created: 0,
            versions_skipped: 0,
            versions: BTreeMap::new(),
            aliases: 0,
            error: self.error.clone(),
            retryable: false,
        };
        if outcome.error.is_some() {
            return Outcome::Prompt(outcome);
        }
        let done = match &self.destination {
            PromptDestination::Server { sink, name, source_tracking_uri } => {
                let delete_first = ctx.models.delete_prompt;
                self.to_server(sink.as_ref(), name, source_tracking_uri.as_deref(), delete_first, &mut outcome).await
            }
            PromptDestination::Folder { dir, system, single } => self.to_folder(dir, system, *single, &mut outcome),
        };
        if let Err(e) = done {
            outcome.error = Some(format!("prompt {:?}: {e}", self.record.name));
            outcome.retryable = e.is_transient();
        }
        Outcome::Prompt(outcome)
    }

    async fn to_server(
        &self,
        sink: &dyn PromptSink,
        name: &str,
        tracking_uri: Option<&str>,
        delete_first: bool,
        outcome: &mut PromptOutcome,
    ) -> Result<()> {
        let src = &self.record;
        let tracking_uri = tracking_uri.map(identity::redact);
        let prompt = RegisteredModelRecord { tags: link_tags_recorded(&src.tags), ..(**src).clone() };
        let existing = sink.open_prompt(name, &prompt, delete_first).await?;
        outcome.destination = Some(name.to_string());
        let mut ours: BTreeMap<String, String> = BTreeMap::new();
        let (mut foreign, mut misnumbered) = (0usize, Vec::new());
        for v in existing {
            let copied = copied_from(|k| v.tags.get(k).map(String::as_str), &src.name, tracking_uri.as_deref());
            match copied {
                // Created by a job killed before it could burn this number: made again below.
                Some(s) if version_number(&v.version) < version_number(s) => misnumbered.push(v.version.clone()),
                Some(s) => {
                    ours.insert(s.to_string(), v.version.clone());
                }
                None => foreign += 1,
            }
        }
        let missing: Vec<&ModelVersionRecord> =
            src.versions.iter().filter(|v| !ours.contains_key(&v.version)).collect();
        if !missing.is_empty() && foreign > 0 {
            return Err(Error::Input(format!(
                "the destination prompt {name:?} has {foreign} version(s) not copied from this source, so version \
                 numbers cannot be kept; use --delete-prompt to replace it"
            )));
        }
        for version in misnumbered {
            sink.delete_prompt_version(name, &version).await?;
        }
        for v in &src.versions {
            if let Some(dst) = ours.get(&v.version) {
                outcome.versions.insert(v.version.clone(), dst.clone());
                outcome.versions_skipped += 1;
            }
        }
        for v in missing {
            // A source that is itself a copy carries identity tags of its own: ours replace them.
            let mut tags = v.tags.clone();
            tags.retain(|k, _| !k.starts_with(PREFIX));
            let mut tags = link_tags_recorded(&tags);
            tags.insert(SOURCE_MODEL.into(), src.name.clone());
            tags.insert(SOURCE_VERSION.into(), v.version.clone());
            if let Some(u) = &tracking_uri {
                tags.insert(SOURCE_TRACKING_URI.into(), u.clone());
            }
            let new = ModelVersionRecord { tags, ..v.clone() };
            let want = version_number(&v.version);
            let dst = loop {
                let got = sink.create_prompt_version(name, &new).await?;
                if version_number(&got) >= want {
                    break got;
                }
                // Too low: this number belongs to a version deleted at the source. Burn it.
                sink.delete_prompt_version(name, &got).await?;
            };
            outcome.versions.insert(v.version.clone(), dst);
            outcome.versions_created += 1;
        }
        let aliases: Vec<(String, String)> = src
            .aliases
            .iter()
            .filter_map(|(alias, v)| outcome.versions.get(v).map(|dst| (alias.clone(), dst.clone())))
            .collect();
        sink.set_prompt_aliases(name, &aliases).await?;
        outcome.aliases = aliases.len();
        Ok(())
    }

    fn to_folder(
        &self,
        dir: &std::path::Path,
        system: &ExportSystem,
        single: bool,
        outcome: &mut PromptOutcome,
    ) -> Result<()> {
        let src = &self.record;
        for v in &src.versions {
            let folder = if single {
                dir.to_path_buf()
            } else {
                let name = version_folder(&src.name, &v.version);
                if !crate::paths::is_single_segment(&name) {
                    return Err(Error::Input(format!("{name:?} cannot be a folder name")));
                }
                dir.join(name)
            };
            local::write_json(&folder.join(PROMPT_FILE), &write_prompt_json(src, v, system))?;
            outcome.versions.insert(v.version.clone(), v.version.clone());
            outcome.versions_created += 1;
        }
        outcome.aliases = src.aliases.values().filter(|v| outcome.versions.contains_key(*v)).count();
        outcome.destination = Some(dir.display().to_string());
        Ok(())
    }
}

/// Tags with the [`LINK_TAGS`] moved under the tool's namespace.
fn link_tags_recorded(tags: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    tags.iter()
        .map(|(k, v)| match LINK_TAGS.contains(&k.as_str()) {
            true => (format!("{PREFIX}source.{k}"), v.clone()),
            false => (k.clone(), v.clone()),
        })
        .collect()
}

/// `prompts_summary.json` of a bulk prompts folder, written after every prompt; in a sharded
/// export, from every shard's counts by the shard that finds them all.
pub struct PromptIndex {
    pub dir: PathBuf,
    pub system: ExportSystem,
    /// `(K, N)` when this job is shard K of N of an export.
    pub shard: Option<(u32, u32)>,
}

impl PromptIndex {
    pub async fn execute(&self, deps: &Deps, _ctx: &JobContext) -> Outcome {
        let (mut ok, mut failed) = (0, 0);
        for d in deps {
            if let Outcome::Prompt(p) = d {
                match &p.error {
                    None => ok += p.versions_created,
                    Some(_) => failed += 1,
                }
            }
        }
        let path = self.dir.join(SUMMARY_FILE);
        let written = local::write_whole(
            &path,
            self.shard,
            (ok, failed),
            |(ok, failed)| json!({"ok": ok, "failed": failed}),
            every_shards_counts,
            |(ok, failed)| write_summary_json(&self.system, ok, failed),
        );
        match written {
            Ok(()) => Outcome::Indexed,
            Err(e) => Outcome::failed(path.display().to_string(), &e),
        }
    }
}

/// The prompt versions written and prompts failed, summed over every shard's part.
fn every_shards_counts(parts: &[Value]) -> Result<(usize, usize)> {
    let bad = || Error::Input(format!("a shard's part of {SUMMARY_FILE} has no counts"));
    let count = |part: &Value, key: &str| part.get(key).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(bad);
    parts.iter().try_fold((0, 0), |(ok, failed), part| Ok((ok + count(part, "ok")?, failed + count(part, "failed")?)))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;

    use super::*;
    use crate::job::RunOptions;

    /// A registry's numbering in memory: the next number is one above every number ever
    /// given, deleted ones included.
    #[derive(Default)]
    struct Registry {
        versions: Mutex<Vec<(ModelVersionRecord, bool)>>,
    }

    #[async_trait]
    impl PromptSink for Registry {
        async fn open_prompt(&self, _: &str, _: &RegisteredModelRecord, _: bool) -> Result<Vec<ModelVersionRecord>> {
            Ok(self.versions.lock().unwrap().iter().filter(|(_, live)| *live).map(|(v, _)| v.clone()).collect())
        }
        async fn create_prompt_version(&self, _: &str, v: &ModelVersionRecord) -> Result<String> {
            let mut all = self.versions.lock().unwrap();
            let number = (all.len() + 1).to_string();
            all.push((ModelVersionRecord { version: number.clone(), ..v.clone() }, true));
            Ok(number)
        }
        async fn delete_prompt_version(&self, _: &str, version: &str) -> Result<()> {
            self.versions
                .lock()
                .unwrap()
                .iter_mut()
                .filter(|(v, _)| v.version == version)
                .for_each(|(_, l)| *l = false);
            Ok(())
        }
        async fn set_prompt_aliases(&self, _: &str, _: &[(String, String)]) -> Result<()> {
            Ok(())
        }
    }

    /// Versions 1 and 3 (2 deleted at the source): 2 is burnt, 3 kept; a re-run makes nothing;
    /// a copy left under a wrong number by a killed job is made again under its own.
    #[tokio::test]
    async fn numbers_are_kept_and_a_rerun_makes_nothing() {
        let v = |n: &str| ModelVersionRecord { version: n.into(), ..Default::default() };
        let record = RegisteredModelRecord { name: "p".into(), versions: vec![v("1"), v("3")], ..Default::default() };
        let sink = Arc::new(Registry::default());
        let step = PromptMove {
            record: Arc::new(record),
            destination: PromptDestination::Server { sink: sink.clone(), name: "p".into(), source_tracking_uri: None },
            error: None,
        };
        let ctx = JobContext::new(RunOptions::default(), Arc::new(crate::Silent));
        let run = || async {
            let Outcome::Prompt(p) = step.execute(&Deps::default(), &ctx).await else { panic!("a prompt outcome") };
            assert_eq!(p.error, None);
            (p.versions_created, p.versions_skipped, p.versions.into_iter().collect::<Vec<_>>())
        };
        let kept = vec![("1".to_string(), "1".to_string()), ("3".to_string(), "3".to_string())];
        assert_eq!(run().await, (2, 0, kept.clone()));
        assert_eq!(run().await, (0, 2, kept.clone()));
        // A job killed before burning number 2 left source version 3's copy under 2 (too low):
        // it is deleted and made again under 3; the copy of version 1 is kept.
        let sink2 = Registry::default();
        let mut tags = BTreeMap::new();
        tags.insert(SOURCE_MODEL.to_string(), "p".to_string());
        tags.insert(SOURCE_VERSION.to_string(), "1".to_string());
        sink2.create_prompt_version("p", &ModelVersionRecord { tags: tags.clone(), ..v("") }).await.unwrap();
        tags.insert(SOURCE_VERSION.to_string(), "3".to_string());
        sink2.create_prompt_version("p", &ModelVersionRecord { tags, ..v("") }).await.unwrap();
        let step = PromptMove {
            destination: PromptDestination::Server {
                sink: Arc::new(sink2),
                name: "p".into(),
                source_tracking_uri: None,
            },
            record: step.record.clone(),
            error: None,
        };
        let Outcome::Prompt(p) = step.execute(&Deps::default(), &ctx).await else { panic!("a prompt outcome") };
        assert_eq!((p.versions_created, p.versions_skipped, p.versions.into_iter().collect::<Vec<_>>()), (1, 1, kept));
    }
}
