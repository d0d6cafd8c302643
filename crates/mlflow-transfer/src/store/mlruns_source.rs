//! An `mlruns` folder ([`super::mlruns`]) as a source: its blocking reads run on blocking
//! threads, and [`super::direct`] answers the rest.

use std::{path::PathBuf, sync::Arc};

use async_trait::async_trait;
use mlflow_client::types::{ModelInput, ModelOutput};

use crate::{
    model::{prompt_tags, ExperimentRecord, LoggedModelRecord, RegisteredModelRecord, RunMeta, RunRecord},
    select::RunFilter,
    store::{
        direct::{Catalog, DirectSource, Unread},
        mlruns::Mlruns,
    },
    Result,
};

/// Whether `uri` names a file store: a `file:` URI, or a path to a folder.
pub fn is_mlruns_uri(uri: &str) -> bool {
    uri.starts_with("file:") || (!uri.contains("://") && std::path::Path::new(uri).is_dir())
}

/// Opens the `mlruns` folder `location` (a path or `file:///…`) as a source.
pub fn open(location: &str, side: Option<&str>) -> Result<DirectSource> {
    let catalog = MlrunsCatalog(Arc::new(Mlruns::open(location)?));
    Ok(DirectSource::new(Arc::new(catalog), None, side))
}

struct MlrunsCatalog(Arc<Mlruns>);

impl MlrunsCatalog {
    /// Runs `read` on a blocking thread.
    async fn blocking<T: Send + 'static>(&self, read: impl FnOnce(&Mlruns) -> Result<T> + Send + 'static) -> Result<T> {
        let store = self.0.clone();
        tokio::task::spawn_blocking(move || read(&store)).await.expect("an mlruns read panicked")
    }
}

#[async_trait]
impl Catalog for MlrunsCatalog {
    fn uri(&self) -> String {
        self.0.uri()
    }

    async fn experiments(&self, include_deleted: bool) -> Result<Vec<ExperimentRecord>> {
        let all = self.blocking(move |s| s.experiments(include_deleted)).await?;
        Ok(all.into_iter().filter(|e| include_deleted || e.lifecycle_stage != "deleted").collect())
    }

    async fn experiment(&self, name: &str) -> Result<Option<ExperimentRecord>> {
        let all = self.experiments(true).await?;
        let by_name = all.iter().find(|e| e.name == name).cloned();
        Ok(by_name.or_else(|| all.into_iter().find(|e| e.experiment_id == name)))
    }

    async fn runs(&self, experiment_id: &str, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>> {
        let (id, deleted) = (experiment_id.to_string(), filter.include_deleted);
        let mut runs = self.blocking(move |s| s.runs(&id, deleted)).await?;
        // Newest first, as a server's search answers.
        runs.reverse();
        let in_window = |t: Option<i64>| {
            filter.started_after.is_none_or(|a| t.is_some_and(|t| t > a))
                && filter.started_before.is_none_or(|b| t.is_some_and(|t| t < b))
        };
        Ok(runs
            .into_iter()
            .filter(|r| in_window(r.meta.start_time))
            .map(|r| (r.meta.run_id, r.parent_run_id))
            .collect())
    }

    async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let id = run_id.to_string();
        self.blocking(move |s| s.read_run(&id)).await
    }

    /// The run's folder, or where an rsync'd store keeps it ([`Mlruns::artifact_dir`]).
    fn artifact_folder(&self, run: &RunMeta) -> Option<PathBuf> {
        self.0.artifact_dir(run)
    }

    async fn model(&self, name: &str) -> Result<Option<RegisteredModelRecord>> {
        let name = name.to_string();
        self.blocking(move |s| Ok(s.registered_models()?.into_iter().find(|m| m.name == name))).await
    }

    async fn model_names(&self, prompts: bool) -> Result<Vec<String>> {
        let models = self.blocking(Mlruns::registered_models).await?;
        let mut names: Vec<String> =
            models.into_iter().filter(|m| prompt_tags::is_prompt(&m.tags) == prompts).map(|m| m.name).collect();
        names.sort();
        Ok(names)
    }

    async fn logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        let id = experiment_id.to_string();
        self.blocking(move |s| s.logged_models(&id)).await
    }

    async fn logged_model(&self, model_id: &str) -> Result<Option<(LoggedModelRecord, String)>> {
        let id = model_id.to_string();
        self.blocking(move |s| {
            for e in s.experiments(true)? {
                if let Some(m) = s.logged_models(&e.experiment_id)?.into_iter().find(|m| m.model_id == id) {
                    return Ok(Some((m, e.experiment_id)));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn model_links(&self, run_id: &str) -> Result<(Vec<ModelInput>, Vec<ModelOutput>)> {
        let run = self.read_run(run_id).await?;
        Ok((run.model_inputs, run.model_outputs))
    }

    async fn count_unread(&self, kind: Unread, experiment_id: Option<&str>) -> Result<u64> {
        let folder = match (kind, experiment_id) {
            (Unread::Traces, Some(id)) => self.0.root().join(id).join("traces"),
            _ => return Ok(0),
        };
        Ok(std::fs::read_dir(folder).map_or(0, |d| d.count() as u64))
    }
}
