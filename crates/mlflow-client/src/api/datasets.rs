//! GenAI evaluation datasets (`/api/3.0/mlflow/datasets/...`, SQL stores only). Tags and
//! records travel as JSON-encoded strings inside the JSON body; this module encodes and
//! decodes them, so callers see maps and lists.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{de::IgnoredAny, Deserialize};
use serde_json::{json, Map, Value};

use crate::{
    client::{all_pages, Idempotency, PageTokens},
    Error, MlflowClient, Result,
};

/// A dataset as the server describes it (its records and experiment links are read apart).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Dataset {
    pub dataset_id: String,
    pub name: String,
    /// JSON text of a string map.
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub profile: Option<String>,
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub created_time: Option<i64>,
    #[serde(default)]
    pub last_update_time: Option<i64>,
    #[serde(default)]
    pub created_by: Option<String>,
    #[serde(default)]
    pub last_updated_by: Option<String>,
}

impl Dataset {
    /// The tags, decoded; values that are not strings are kept as their JSON text.
    pub fn tag_map(&self) -> Result<BTreeMap<String, String>> {
        let Some(text) = self.tags.as_deref().filter(|t| !t.is_empty()) else { return Ok(BTreeMap::new()) };
        let map: Map<String, Value> = serde_json::from_str(text)
            .map_err(|e| Error::Protocol(format!("dataset {}: tags are not a JSON object: {e}", self.dataset_id)))?;
        Ok(map
            .into_iter()
            .map(|(k, v)| match v {
                Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect())
    }
}

#[derive(Deserialize)]
struct DatasetResponse {
    dataset: Dataset,
}

#[derive(Deserialize)]
struct ExperimentIds {
    #[serde(default)]
    experiment_ids: Vec<String>,
}

#[derive(Deserialize)]
struct RecordsResponse {
    #[serde(default)]
    records: Option<String>,
    #[serde(default)]
    next_page_token: Option<String>,
}

/// Records per page read: the server's own default and maximum.
pub const RECORDS_PAGE: u32 = 1000;

fn path(id: &str, tail: &str) -> String {
    let id = url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>().replace('+', "%20");
    format!("/api/3.0/mlflow/datasets/{id}{tail}")
}

fn tags_text(tags: &BTreeMap<String, String>) -> String {
    serde_json::to_string(tags).expect("a string map always serializes")
}

impl MlflowClient {
    pub async fn get_dataset(&self, dataset_id: &str) -> Result<Dataset> {
        let r: DatasetResponse = self.get(&path(dataset_id, ""), &[]).await?;
        Ok(r.dataset)
    }

    /// Every dataset (linked to any of `experiment_ids`, when given) whose search matches
    /// `filter` (MLflow's filter syntax, empty for all).
    pub async fn search_datasets(&self, experiment_ids: &[String], filter: &str) -> Result<Vec<Dataset>> {
        all_pages(|token| async move {
            let mut body = json!({ "experiment_ids": experiment_ids, "max_results": 1000 });
            if !filter.is_empty() {
                body["filter_string"] = json!(filter);
            }
            if let Some(t) = token {
                body["page_token"] = json!(t);
            }
            self.send(Method::POST, "/api/3.0/mlflow/datasets/search", &body, Idempotency::Safe).await
        })
        .await
    }

    /// The ids of the experiments a dataset is linked to.
    pub async fn dataset_experiment_ids(&self, dataset_id: &str) -> Result<Vec<String>> {
        let r: ExperimentIds = self.get(&path(dataset_id, "/experiment-ids"), &[]).await?;
        Ok(r.experiment_ids)
    }

    /// Creates a dataset. Not retried once sent: names are not unique, so a retry could make a
    /// second one (the caller finds a lost answer's dataset by its tags).
    pub async fn create_dataset(
        &self,
        name: &str,
        experiment_ids: &[String],
        tags: &BTreeMap<String, String>,
    ) -> Result<Dataset> {
        let body = json!({ "name": name, "experiment_ids": experiment_ids, "tags": tags_text(tags) });
        let r: DatasetResponse =
            self.send(Method::POST, "/api/3.0/mlflow/datasets/create", &body, Idempotency::Create).await?;
        Ok(r.dataset)
    }

    /// Sets (adds or overwrites) tags.
    pub async fn set_dataset_tags(&self, dataset_id: &str, tags: &BTreeMap<String, String>) -> Result<()> {
        let body = json!({ "dataset_id": dataset_id, "tags": tags_text(tags) });
        let _: IgnoredAny = self.send(Method::PATCH, &path(dataset_id, "/tags"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Links the dataset to more experiments.
    pub async fn add_dataset_experiments(&self, dataset_id: &str, experiment_ids: &[String]) -> Result<()> {
        let body = json!({ "dataset_id": dataset_id, "experiment_ids": experiment_ids });
        let _: IgnoredAny =
            self.send(Method::POST, &path(dataset_id, "/add-experiments"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    pub async fn delete_dataset(&self, dataset_id: &str) -> Result<()> {
        let body = json!({ "dataset_id": dataset_id });
        let _: IgnoredAny = self.send(Method::DELETE, &path(dataset_id, ""), &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Inserts records, or updates those whose `inputs` are already there (so sending a record
    /// twice is harmless). `records` is the JSON text of a list of record objects.
    pub async fn upsert_dataset_records(&self, dataset_id: &str, records: String) -> Result<()> {
        let body = json!({ "dataset_id": dataset_id, "records": records });
        let _: IgnoredAny = self.send(Method::POST, &path(dataset_id, "/records"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// The records of a dataset, a page at a time.
    pub fn dataset_records(&self, dataset_id: &str) -> RecordPages {
        RecordPages {
            client: self.clone(),
            dataset_id: dataset_id.to_string(),
            tokens: PageTokens::default(),
            done: false,
        }
    }
}

/// The pages of one dataset's records, read on demand so that only one is held at a time.
pub struct RecordPages {
    client: MlflowClient,
    dataset_id: String,
    tokens: PageTokens,
    done: bool,
}

impl RecordPages {
    /// The next page of record objects, `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<Map<String, Value>>>> {
        if self.done {
            return Ok(None);
        }
        let mut q = vec![("max_results", RECORDS_PAGE.to_string())];
        if let Some(t) = self.tokens.current() {
            q.push(("page_token", t));
        }
        let r: RecordsResponse = self.client.get(&path(&self.dataset_id, "/records"), &q).await?;
        let next = r.next_page_token.filter(|t| !t.is_empty());
        if self.tokens.is_repeat(&next) {
            self.done = true;
            return Ok(None);
        }
        self.done = !self.tokens.advance(next)?;
        let records = match r.records.as_deref().filter(|t| !t.is_empty()) {
            None => Vec::new(),
            Some(text) => serde_json::from_str(text).map_err(|e| {
                Error::Protocol(format!("dataset {}: records are not a JSON list of objects: {e}", self.dataset_id))
            })?,
        };
        Ok(Some(records))
    }
}
