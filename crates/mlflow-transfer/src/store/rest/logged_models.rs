//! A server's MLflow 3 logged models as the planner finds them with their experiment: one
//! paged search per experiment, whose answers are then read without a second request, and the
//! run links (model inputs and outputs) of the experiment's runs.

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use mlflow_client::types::{ModelInput, ModelOutput};

use super::{models::logged_model_record, RestSource};
use crate::{
    model::{ArtifactFile, LoggedModelRecord},
    store::{ByteStream, LoggedModelSource, ObjectLocation},
    Error, Result,
};

/// Runs read at once for their model links.
const LINK_READS: usize = 8;

impl RestSource {
    /// Every logged model of experiment `experiment_id`; none at a server older than MLflow 3,
    /// which answers the search with 404.
    pub async fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        match self.client.search_logged_models(experiment_id).await {
            Ok(found) => Ok(found.into_iter().map(logged_model_record).collect()),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// The model inputs and outputs of runs, in the order given. A run search answers with a
    /// run's outputs but not its model inputs, so each run is read (a few at a time); the
    /// answer replaces the search's, so that moving the run (its `run.json` in an export)
    /// keeps its inputs and costs no second request.
    pub async fn model_links(&self, run_ids: &[String]) -> Result<Vec<(Vec<ModelInput>, Vec<ModelOutput>)>> {
        futures::stream::iter(run_ids)
            .map(|id| async move {
                let run = self.client.get_run(id).await?;
                let raw = serde_json::to_string(&run).map_err(|e| Error::Input(format!("run {id}: {e}")))?;
                self.prefetched.lock().expect("poisoned").insert(id.clone(), raw.into_boxed_str());
                Ok::<_, Error>((run.inputs.model_inputs, run.outputs.model_outputs))
            })
            .buffered(LINK_READS)
            .try_collect()
            .await
    }
}

/// Logged models already read by a search, handed out once each; any other is read from the
/// server.
pub struct ListedModels {
    source: Arc<RestSource>,
    listed: Mutex<HashMap<String, LoggedModelRecord>>,
}

impl ListedModels {
    pub fn new(source: Arc<RestSource>, listed: impl IntoIterator<Item = LoggedModelRecord>) -> Self {
        let listed = listed.into_iter().map(|m| (m.model_id.clone(), m)).collect();
        Self { source, listed: Mutex::new(listed) }
    }
}

#[async_trait]
impl LoggedModelSource for ListedModels {
    async fn read_logged_model(&self, model_id: &str) -> Result<LoggedModelRecord> {
        let listed = self.listed.lock().expect("poisoned").remove(model_id);
        match listed {
            Some(m) => Ok(m),
            None => self.source.read_logged_model(model_id).await,
        }
    }

    async fn list_model_files(&self, model: &LoggedModelRecord) -> Result<Vec<ArtifactFile>> {
        self.source.list_model_files(model).await
    }

    async fn open_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Result<ByteStream> {
        self.source.open_model_file(model, file).await
    }

    async fn locate_model_file(&self, model: &LoggedModelRecord, file: &ArtifactFile) -> Option<ObjectLocation> {
        self.source.locate_model_file(model, file).await
    }
}
