//! A server's MLflow 3 logged models as the planner finds them with their experiment: one
//! paged search per experiment, whose answers are then read without a second request, and the
//! run links (model inputs and outputs) of the experiment's runs.

use std::{collections::HashMap, sync::Arc, sync::Mutex};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use mlflow_client::types::{ModelInput, ModelOutput};

use super::{experiment_record, models::logged_model_record, RestSource};
use crate::{
    model::{ArtifactFile, ExperimentRecord, LoggedModelRecord},
    store::{ByteStream, LoggedModelSource, ObjectLocation},
    Error, Result,
};

/// Runs read at once for their model links.
const LINK_READS: usize = 8;

impl RestSource {
    /// Logged model `model_id` and the experiment that holds it.
    pub async fn logged_model_with_experiment(&self, model_id: &str) -> Result<(LoggedModelRecord, ExperimentRecord)> {
        let found = self.client.get_logged_model(model_id).await?;
        let experiment = experiment_record(self.client.get_experiment(&found.info.experiment_id).await?);
        let mut record = logged_model_record(found);
        self.restore_nans(&mut record).await?;
        Ok((record, experiment))
    }

    /// Every logged model of experiment `experiment_id`; none at a server older than MLflow 3,
    /// which answers the search with 404.
    pub async fn list_logged_models(&self, experiment_id: &str) -> Result<Vec<LoggedModelRecord>> {
        let found = match self.client.search_logged_models(experiment_id).await {
            Ok(found) => found,
            Err(e) if e.is_not_found() => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut records = Vec::with_capacity(found.len());
        for m in found {
            let mut record = logged_model_record(m);
            self.restore_nans(&mut record).await?;
            records.push(record);
        }
        Ok(records)
    }

    /// MLflow keeps a logged model's metrics without the NaN flag of its run's metrics: a NaN
    /// comes back as 0.0 (3.17.2). Re-logged as 0.0 through the run it would also add to the
    /// run copy's history a point the source run does not have. So each 0.0 point is checked
    /// against its run's history (one request per run and key, for such points only) and
    /// gets its NaN back where the run has a NaN, and no 0.0, at that time and step.
    pub(super) async fn restore_nans(&self, model: &mut LoggedModelRecord) -> Result<()> {
        let mut histories: HashMap<(String, String), Vec<mlflow_client::types::Metric>> = HashMap::new();
        for m in model.metrics.iter_mut().filter(|m| m.value == 0.0) {
            let Some(run_id) = m.run_id.clone() else { continue };
            let key = (run_id, m.key.clone());
            if !histories.contains_key(&key) {
                let history = match self.client.get_metric_history(&key.0, &key.1).await {
                    Ok(h) => h,
                    Err(e) if e.is_not_found() => Vec::new(),
                    Err(e) => return Err(e.into()),
                };
                histories.insert(key.clone(), history);
            }
            let at = |p: &&mlflow_client::types::Metric| p.timestamp == m.timestamp && p.step == m.step;
            let points: Vec<_> = histories[&key].iter().filter(at).collect();
            if points.iter().any(|p| p.value.is_nan()) && !points.iter().any(|p| p.value == 0.0) {
                m.value = f64::NAN;
            }
        }
        Ok(())
    }

    /// The model inputs and outputs of runs, in the order given. A run search answers with a
    /// run's outputs but not its model inputs, so each run is read (a few at a time); the
    /// answer replaces the search's, so that moving the run (its `run.json` in an export)
    /// keeps its inputs and costs no second request.
    pub async fn model_links(&self, run_ids: &[String]) -> Result<Vec<(Vec<ModelInput>, Vec<ModelOutput>)>> {
        futures::stream::iter(run_ids.iter().cloned())
            .map(|id| async move {
                let run = self.client.get_run(&id).await?;
                self.keep(&id, &run)?;
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
    source: Arc<dyn LoggedModelSource>,
    listed: Mutex<HashMap<String, LoggedModelRecord>>,
}

impl ListedModels {
    pub fn new(source: Arc<dyn LoggedModelSource>, listed: impl IntoIterator<Item = LoggedModelRecord>) -> Self {
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
