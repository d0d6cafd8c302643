//! A tracking server's prompt registry as a source and a sink. A prompt is a registered model
//! tagged `mlflow.prompt.is_prompt`, and the server leaves prompts (and their versions) out of
//! every search unless the filter names that tag, so each search here does.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mlflow_client::{
    api::{can_quote_filter_value, quote_filter_value, ModelVersionCreate},
    types::ModelVersion,
};

use super::{
    models::{model_record, version_record},
    RestServer, RestSource,
};
use crate::{
    identity::{SOURCE_MODEL, SOURCE_VERSION},
    model::{key_values, prompt_tags, version_number, ModelVersionRecord, RegisteredModelRecord},
    select::ExperimentSpec,
    store::PromptSink,
    Error, Result,
};

/// The filter clause that makes a search include prompts, and only them.
fn prompt_filter() -> String {
    format!("tags.`{}` = 'true'", prompt_tags::IS_PROMPT)
}

/// Every live version of prompt `name`, in ascending order.
async fn prompt_versions(client: &mlflow_client::MlflowClient, name: &str) -> Result<Vec<ModelVersion>> {
    if !can_quote_filter_value(name) {
        return Err(Error::Input(format!("{name:?} cannot be a prompt name (it holds both quote kinds)")));
    }
    let filter = format!("name = {} AND {}", quote_filter_value(name), prompt_filter());
    let mut versions = client.search_model_versions(&filter).await?;
    versions.sort_by_key(|v| version_number(&v.version));
    Ok(versions)
}

impl RestSource {
    /// Prompt `name` with its aliases, and all its versions or only `version`. Fails when
    /// there is no such prompt, or the name is a registered model's.
    pub async fn read_prompt(&self, name: &str, version: Option<&str>) -> Result<RegisteredModelRecord> {
        let client = &self.client;
        let Some(model) = client.get_registered_model(name).await? else {
            return Err(Error::NotFound(format!("prompt {name:?} does not exist at {}", client.base_url())));
        };
        let versions = prompt_versions(client, name).await?.into_iter().map(version_record);
        let versions: Vec<ModelVersionRecord> = versions.filter(|v| version.is_none_or(|n| v.version == n)).collect();
        let record = model_record(model, versions);
        if !prompt_tags::is_prompt(&record.tags) {
            return Err(Error::Input(format!("{name:?} is a registered model, not a prompt")));
        }
        if let (Some(n), true) = (version, record.versions.is_empty()) {
            return Err(Error::NotFound(format!("prompt {name:?} has no version {n}")));
        }
        Ok(record)
    }

    /// Prompt names for `--prompts`: `all`, `prefix*`, or a list (comma or `.txt`).
    pub async fn select_prompts(&self, spec: &ExperimentSpec) -> Result<Vec<String>> {
        let all = || async {
            Ok::<_, Error>(self.client.search_registered_models(&prompt_filter()).await?.into_iter().map(|m| m.name))
        };
        match spec {
            ExperimentSpec::List(names) => Ok(names.clone()),
            ExperimentSpec::All => Ok(all().await?.collect()),
            ExperimentSpec::Prefix(p) => Ok(all().await?.filter(|n| n.starts_with(p.as_str())).collect()),
        }
    }
}

#[async_trait]
impl PromptSink for RestServer {
    async fn open_prompt(
        &self,
        dst_name: &str,
        prompt: &RegisteredModelRecord,
        delete_first: bool,
    ) -> Result<Vec<ModelVersionRecord>> {
        let client = &self.client;
        let existing = super::models::find_or_create(client, dst_name, prompt, delete_first).await?;
        if let Some(m) = existing {
            let have: BTreeMap<String, String> = m.tags.into_iter().map(|t| (t.key, t.value)).collect();
            if !prompt_tags::is_prompt(&have) {
                return Err(Error::Input(format!(
                    "{dst_name:?} is a registered model at the destination, not a prompt"
                )));
            }
            // The source's tags and description win: a re-run after they changed brings them over.
            for (k, v) in &prompt.tags {
                if have.get(k) != Some(v) {
                    client.set_registered_model_tag(dst_name, k, v).await?;
                }
            }
            if let Some(d) = prompt.description.as_deref().filter(|d| m.description.as_deref() != Some(*d)) {
                client.update_registered_model_description(dst_name, d).await?;
            }
        }
        Ok(prompt_versions(client, dst_name).await?.into_iter().map(version_record).collect())
    }

    async fn create_prompt_version(&self, dst_name: &str, v: &ModelVersionRecord) -> Result<String> {
        let client = &self.client;
        let source =
            if prompt_tags::SOURCES.contains(&v.source.as_str()) { &v.source } else { prompt_tags::SOURCES[0] };
        let request = ModelVersionCreate {
            name: dst_name.to_string(),
            source: source.to_string(),
            run_id: None,
            run_link: None,
            description: v.description.clone(),
            tags: key_values(&v.tags),
            model_id: None,
        };
        let identity =
            |tags: &BTreeMap<String, String>| (tags.get(SOURCE_MODEL).cloned(), tags.get(SOURCE_VERSION).cloned());
        let want = identity(&v.tags);
        let find = || async {
            let found = prompt_versions(client, dst_name).await?.into_iter().rev().find(|found| {
                let tags: BTreeMap<String, String> =
                    found.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect();
                want.0.is_some() && identity(&tags) == want
            });
            Ok::<_, Error>(found)
        };
        let created = client.create_or_find(|| client.create_model_version(&request), find).await?;
        Ok(created.version)
    }

    async fn delete_prompt_version(&self, dst_name: &str, version: &str) -> Result<()> {
        Ok(self.client.delete_model_version(dst_name, version).await?)
    }

    async fn set_prompt_aliases(&self, dst_name: &str, aliases: &[(String, String)]) -> Result<()> {
        for (alias, version) in aliases {
            self.client.set_registered_model_alias(dst_name, alias, version).await?;
        }
        Ok(())
    }
}
