//! Evaluation datasets at a tracking server. A copy carries its source's identity from its
//! creation and the completion marker from its last write; records go up in packed batches as
//! each page arrives. Experiment links follow experiment names: a linked experiment the
//! destination lacks is created there (empty), so the link is kept.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use mlflow_client::{
    api::{can_quote_filter_value, quote_filter_value, Dataset, RecordPages},
    batch::MAX_BATCH_BYTES,
    MlflowClient,
};

use super::{ensure_experiment, RestSource};
use crate::{
    identity::{self, same_server, SOURCE_TRACKING_URI},
    model::{DatasetRow, EvaluationDatasetRecord, LinkedExperiment},
    store::{
        datasets::{
            DatasetTarget, EvaluationDatasetSink, EvaluationDatasetSource, RecordReader, RecordWriter,
            SOURCE_DATASET_ID,
        },
        Target,
    },
    Error, Result,
};

/// Records per upsert request, at most (bytes are bounded too, by [`MAX_BATCH_BYTES`]).
const UPSERT_RECORDS: usize = 1000;
/// The fields of a record the upsert route takes; the rest (ids, times, authors) the server sets.
const UPSERT_FIELDS: [&str; 5] = ["inputs", "outputs", "expectations", "tags", "source"];

impl RestSource {
    /// The ids of the datasets `names` names (each one a name or an id), or with `None` every
    /// dataset (linked to one of `experiment_ids`, when given), in the server's order. A name
    /// several datasets share selects them all.
    pub async fn select_datasets(&self, names: Option<&[String]>, experiment_ids: &[String]) -> Result<Vec<String>> {
        let Some(names) = names else {
            return Ok(self
                .client
                .search_datasets(experiment_ids, "")
                .await?
                .into_iter()
                .map(|d| d.dataset_id)
                .collect());
        };
        let mut ids = Vec::new();
        for name in names {
            let found = self.datasets_named(name).await?;
            if !found.is_empty() {
                ids.extend(found.into_iter().map(|d| d.dataset_id));
                continue;
            }
            match self.client.get_dataset(name).await {
                Ok(d) => ids.push(d.dataset_id),
                Err(e) if e.is_not_found() || e.status() == Some(400) => {
                    return Err(Error::NotFound(format!(
                        "evaluation dataset {name:?}: no dataset with this name or id at {}",
                        self.client.base_url()
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
        let mut seen = BTreeSet::new();
        ids.retain(|id| seen.insert(id.clone()));
        Ok(ids)
    }

    async fn datasets_named(&self, name: &str) -> Result<Vec<Dataset>> {
        datasets_named(&self.client, name).await
    }
}

/// The datasets called exactly `name`.
async fn datasets_named(client: &MlflowClient, name: &str) -> Result<Vec<Dataset>> {
    let filter =
        if can_quote_filter_value(name) { format!("name = {}", quote_filter_value(name)) } else { String::new() };
    let mut found = client.search_datasets(&[], &filter).await?;
    found.retain(|d| d.name == name);
    Ok(found)
}

#[async_trait]
impl EvaluationDatasetSource for RestSource {
    async fn read_dataset(&self, dataset_id: &str) -> Result<EvaluationDatasetRecord> {
        let d = self.client.get_dataset(dataset_id).await?;
        let mut experiments = Vec::new();
        for id in self.client.dataset_experiment_ids(dataset_id).await? {
            let name = self.experiment_name(&id).await?;
            experiments.push(LinkedExperiment { id, name: Some(name) });
        }
        Ok(EvaluationDatasetRecord {
            tags: d.tag_map()?,
            dataset_id: d.dataset_id,
            name: d.name,
            experiments,
            schema: d.schema,
            profile: d.profile,
            digest: d.digest,
            created_time: d.created_time,
            last_update_time: d.last_update_time,
            created_by: d.created_by,
            last_updated_by: d.last_updated_by,
            tracking_uri: Some(mlflow_client::redact(self.client.base_url())),
        })
    }

    async fn records(&self, dataset: &EvaluationDatasetRecord) -> Result<Box<dyn RecordReader>> {
        Ok(Box::new(ServerRecords(self.client.dataset_records(&dataset.dataset_id))))
    }
}

struct ServerRecords(RecordPages);

#[async_trait]
impl RecordReader for ServerRecords {
    async fn next_page(&mut self) -> Result<Option<Vec<DatasetRow>>> {
        Ok(self.0.next_page().await?)
    }
}

/// Writes evaluation datasets to a tracking server.
pub struct RestDatasetSink {
    client: MlflowClient,
    /// Destination experiment ids by name, found (or created) once for all datasets.
    experiments: tokio::sync::Mutex<HashMap<String, String>>,
}

impl RestDatasetSink {
    pub fn new(client: MlflowClient) -> Self {
        Self { client, experiments: Default::default() }
    }

    /// Our copies of `dataset` among the datasets called `dst_name`, and the others.
    async fn find(&self, dataset: &EvaluationDatasetRecord, dst_name: &str) -> Result<(Vec<Dataset>, Vec<Dataset>)> {
        let mut ours = Vec::new();
        let mut others = Vec::new();
        for d in datasets_named(&self.client, dst_name).await? {
            if is_copy_of(&d.tag_map()?, dataset) {
                ours.push(d);
            } else {
                others.push(d);
            }
        }
        Ok((ours, others))
    }

    /// The destination ids of the experiments `dataset` is linked to, found by name and created
    /// where missing. A link without a name (a Python export records ids only) cannot be
    /// placed and is left out, with a warning.
    async fn experiment_ids(&self, dataset: &EvaluationDatasetRecord) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for e in &dataset.experiments {
            match &e.name {
                Some(name) => {
                    // Held across the lookup: two datasets linked to one missing experiment
                    // create it once.
                    let mut known = self.experiments.lock().await;
                    let id = match known.get(name) {
                        Some(id) => id.clone(),
                        None => ensure_experiment(&self.client, name, &BTreeMap::new()).await?.0,
                    };
                    known.insert(name.clone(), id.clone());
                    ids.push(id);
                }
                None => tracing::warn!(
                    dataset = %dataset.name,
                    experiment_id = %e.id,
                    "the export names no experiment for this link; the copy is not linked to it"
                ),
            }
        }
        Ok(ids)
    }
}

/// Whether tags of a destination dataset name `dataset` as their source (the tracking URIs
/// compared as servers when both are known, as runs are).
fn is_copy_of(tags: &BTreeMap<String, String>, dataset: &EvaluationDatasetRecord) -> bool {
    tags.get(SOURCE_DATASET_ID) == Some(&dataset.dataset_id)
        && match (&dataset.tracking_uri, tags.get(SOURCE_TRACKING_URI)) {
            (Some(a), Some(b)) => same_server(a, b),
            _ => true,
        }
}

#[async_trait]
impl EvaluationDatasetSink for RestDatasetSink {
    async fn begin_dataset(
        &self,
        dataset: &EvaluationDatasetRecord,
        dst_name: &str,
        delete_first: bool,
    ) -> Result<DatasetTarget> {
        let (ours, others) = self.find(dataset, dst_name).await?;
        if let Some(copy) = ours.first() {
            if identity::is_complete(&copy.tag_map()?) {
                return Ok(DatasetTarget::Complete(copy.dataset_id.clone()));
            }
            let experiments = self.experiment_ids(dataset).await?;
            let linked: BTreeSet<String> =
                self.client.dataset_experiment_ids(&copy.dataset_id).await?.into_iter().collect();
            let missing: Vec<String> = experiments.into_iter().filter(|e| !linked.contains(e)).collect();
            if !missing.is_empty() {
                self.client.add_dataset_experiments(&copy.dataset_id, &missing).await?;
            }
            return Ok(self.open(Target::Resumed(copy.dataset_id.clone())));
        }
        // Copies of other source datasets may share the name (names are not unique in MLflow);
        // only a dataset that is no copy of ours stands in the way.
        let others: Vec<&Dataset> =
            others.iter().filter(|d| !d.tag_map().is_ok_and(|t| t.contains_key(SOURCE_DATASET_ID))).collect();
        if !others.is_empty() {
            if !delete_first {
                return Err(Error::Input(format!(
                    "an evaluation dataset named {dst_name:?} already exists at {} and is not a copy of dataset {}; \
                     --delete-evaluation-dataset replaces it",
                    self.client.base_url(),
                    dataset.dataset_id
                )));
            }
            for d in &others {
                self.client.delete_dataset(&d.dataset_id).await?;
            }
        }
        let experiments = self.experiment_ids(dataset).await?;
        let mut tags = dataset.tags.clone();
        tags.retain(|k, _| !k.starts_with(identity::PREFIX));
        tags.insert(SOURCE_DATASET_ID.into(), dataset.dataset_id.clone());
        if let Some(uri) = &dataset.tracking_uri {
            tags.insert(SOURCE_TRACKING_URI.into(), uri.clone());
        }
        let created = self
            .client
            .create_or_find(
                || self.client.create_dataset(dst_name, &experiments, &tags),
                || async { Ok::<_, Error>(self.find(dataset, dst_name).await?.0.into_iter().next()) },
            )
            .await?;
        Ok(self.open(Target::Created(created.dataset_id)))
    }
}

impl RestDatasetSink {
    fn open(&self, target: Target) -> DatasetTarget {
        let writer = ServerRecordWriter { client: self.client.clone(), dataset_id: target.id().to_string() };
        DatasetTarget::Open { target, writer: Box::new(writer) }
    }
}

struct ServerRecordWriter {
    client: MlflowClient,
    dataset_id: String,
}

#[async_trait]
impl RecordWriter for ServerRecordWriter {
    async fn write(&mut self, records: Vec<DatasetRow>) -> Result<()> {
        for batch in pack(records) {
            self.client.upsert_dataset_records(&self.dataset_id, batch).await?;
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        let done = BTreeMap::from([(identity::COMPLETE.to_string(), "true".to_string())]);
        Ok(self.client.set_dataset_tags(&self.dataset_id, &done).await?)
    }
}

/// The records as the JSON texts of upsert requests, each within [`UPSERT_RECORDS`] records
/// and [`MAX_BATCH_BYTES`] bytes (a record larger than that alone goes alone), keeping only
/// the fields the route takes.
fn pack(records: Vec<DatasetRow>) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch = String::from("[");
    let mut count = 0;
    for mut r in records {
        r.retain(|k, _| UPSERT_FIELDS.contains(&k.as_str()));
        let text = serde_json::to_string(&r).expect("a JSON object always serializes");
        if count > 0 && (count == UPSERT_RECORDS || batch.len() + text.len() + 2 > MAX_BATCH_BYTES) {
            batch.push(']');
            out.push(std::mem::replace(&mut batch, String::from("[")));
            count = 0;
        }
        if count > 0 {
            batch.push(',');
        }
        batch.push_str(&text);
        count += 1;
    }
    if count > 0 {
        batch.push(']');
        out.push(batch);
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;

    #[test]
    fn records_pack_into_bounded_batches_of_upsert_fields() {
        let row = |i: usize| -> DatasetRow {
            serde_json::from_value(json!({"dataset_record_id": "dr-x", "inputs": {"q": i}, "outputs": {"a": "x"}}))
                .unwrap()
        };
        let batches = pack((0..2500).map(row).collect());
        assert_eq!(batches.len(), 3);
        let first: Vec<Value> = serde_json::from_str(&batches[0]).unwrap();
        assert_eq!(first.len(), UPSERT_RECORDS);
        assert_eq!(first[0], json!({"inputs": {"q": 0}, "outputs": {"a": "x"}}));
        let big = |i: usize| -> DatasetRow {
            serde_json::from_value(json!({"inputs": {"q": i, "blob": "x".repeat(400_000)}})).unwrap()
        };
        assert_eq!(pack((0..5).map(big).collect()).len(), 3);
        assert!(pack(Vec::new()).is_empty());
    }
}
