//! Model registry: registered models, their versions, tags, aliases and stages.
//!
//! GETs carry their parameters in the query string; every other method carries them in a JSON
//! body, DELETE and PATCH included, because the server ignores the query string there. Version
//! numbers always travel as JSON strings: `registered-models/alias` rejects a number.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{
    client::all_pages,
    client::Idempotency,
    types::{KeyValue, ModelVersion, RegisteredModel},
    Error, MlflowClient, Result,
};

/// Arguments of `model-versions/create`. The server picks the version number (one above the
/// highest ever used, deleted versions included), so versions must be created one at a time,
/// in the order they should be numbered.
#[derive(Debug, Clone, Serialize)]
pub struct ModelVersionCreate {
    pub name: String,
    /// Where the model's files are, e.g. `<run artifact_uri>/model`. Unless it is an absolute
    /// cloud URI, the server requires `run_id` to name the run whose artifact root contains it.
    pub source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub tags: Vec<KeyValue>,
    /// The MLflow 3 logged model holding the files (with `source = models:/<model_id>`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model_id: Option<String>,
}

/// `registered-models/search` accepts at most 1000 per page, and 0 yields a page token that
/// never advances.
const MODELS_PAGE: u32 = 1000;
/// `model-versions/search` accepts up to 200000 per page; smaller pages keep answers moderate.
const VERSIONS_PAGE: u32 = 10_000;

#[derive(Deserialize)]
struct RegisteredModelResponse {
    registered_model: RegisteredModel,
}

#[derive(Deserialize)]
struct ModelVersionResponse {
    model_version: ModelVersion,
}

#[derive(Deserialize)]
struct Empty {}

/// Quotes `s` as a string literal for a registry (or run) search filter.
///
/// MLflow's filter parser has no escape sequences: it strips the outer quotes and keeps the rest
/// verbatim, so `'a''b'` means `a''b` and `'a\'b'` means `a\'b`. Both quote styles are accepted,
/// so a value containing `'` is wrapped in `"` instead. A value containing both kinds has no
/// exact literal; see [`can_quote_filter_value`]. For such a value this returns it wrapped in `'`
/// unchanged, which the server rejects as an invalid clause (400) rather than matching nothing
/// silently.
pub fn quote_filter_value(s: &str) -> String {
    if !s.contains('\'') || s.contains('"') {
        format!("'{s}'")
    } else {
        format!("\"{s}\"")
    }
}

/// Whether [`quote_filter_value`] can express `s` exactly (it cannot hold both `'` and `"`).
pub fn can_quote_filter_value(s: &str) -> bool {
    !(s.contains('\'') && s.contains('"'))
}

/// `model-versions/generate-temporary-credentials`' answer (databricks-rest.md §3.2): a
/// short-lived cloud credential for a Unity Catalog version's `storage_location`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TemporaryCredentials {
    /// `CUSTOMER_HOSTED` (write to `storage_location` with the credential) or
    /// `DEFAULT_STORAGE` (the workspace's own storage, through presigned URLs).
    #[serde(default)]
    pub storage_mode: Option<String>,
    #[serde(default)]
    pub aws_temp_credentials: Option<AwsTemporaryCredentials>,
    #[serde(default)]
    pub azure_user_delegation_sas: Option<serde_json::Value>,
    #[serde(default)]
    pub gcp_oauth_token: Option<serde_json::Value>,
    #[serde(default)]
    pub r2_temp_credentials: Option<serde_json::Value>,
    /// The server-side encryption writes into the storage must ask for.
    #[serde(default)]
    pub encryption_details: Option<EncryptionDetails>,
}

/// `encryption_details` of [`TemporaryCredentials`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EncryptionDetails {
    #[serde(default)]
    pub sse_encryption_details: Option<SseEncryptionDetails>,
}

/// `algorithm` is `AWS_SSE_S3` or `AWS_SSE_KMS` (with the key's ARN).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SseEncryptionDetails {
    #[serde(default)]
    pub algorithm: Option<String>,
    #[serde(default)]
    pub aws_kms_key_arn: Option<String>,
}

/// An STS key triple for S3.
#[derive(Clone, Default, Deserialize)]
pub struct AwsTemporaryCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    #[serde(default)]
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsTemporaryCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsTemporaryCredentials").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

impl MlflowClient {
    /// The path of registry route `route` (`registered-models/get`, …): MLflow's, or the
    /// Unity Catalog one of a `databricks-uc` registry (databricks-rest.md §3.2), which takes
    /// the same requests but for stages and filters.
    fn registry(&self, route: &str) -> String {
        if self.is_unity_catalog() {
            format!("/api/2.0/mlflow/unity-catalog/{route}")
        } else {
            format!("/api/2.0/mlflow/{route}")
        }
    }

    /// Every registered model matching `filter` (empty for all), following pages.
    ///
    /// The server leaves prompts out unless the filter asks for them with
    /// ``tags.`mlflow.prompt.is_prompt` = 'true'``, so enumerating everything takes two calls.
    pub async fn search_registered_models(&self, filter: &str) -> Result<Vec<RegisteredModel>> {
        if self.is_unity_catalog() && !filter.is_empty() {
            return Err(Error::Config(format!(
                "a Unity Catalog registry lists its models without a filter; cannot search for {filter:?}"
            )));
        }
        all_pages(|token| async move {
            let mut q = vec![("max_results", MODELS_PAGE.to_string())];
            if !filter.is_empty() {
                q.push(("filter", filter.to_string()));
            }
            q.extend(token.map(|t| ("page_token", t)));
            self.get(&self.registry("registered-models/search"), &q).await
        })
        .await
    }

    /// The registered model with this exact name, aliases included; `None` if there is none.
    pub async fn get_registered_model(&self, name: &str) -> Result<Option<RegisteredModel>> {
        let r = self
            .get::<RegisteredModelResponse>(&self.registry("registered-models/get"), &[("name", name.to_string())])
            .await;
        match r {
            Ok(r) => Ok(Some(r.registered_model)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates a registered model. Not retried after an ambiguous failure: the server answers
    /// `RESOURCE_ALREADY_EXISTS` to a repeat, so callers reconcile with
    /// [`Self::get_registered_model`]. The answer carries no `user_id`.
    pub async fn create_registered_model(
        &self,
        name: &str,
        description: Option<&str>,
        tags: &[KeyValue],
    ) -> Result<RegisteredModel> {
        let mut body = json!({ "name": name, "tags": tags });
        if let Some(d) = description {
            body["description"] = json!(d);
        }
        let r: RegisteredModelResponse =
            self.send(Method::POST, &self.registry("registered-models/create"), &body, Idempotency::Create).await?;
        Ok(r.registered_model)
    }

    pub async fn update_registered_model_description(&self, name: &str, description: &str) -> Result<RegisteredModel> {
        let body = json!({ "name": name, "description": description });
        let r: RegisteredModelResponse =
            self.send(Method::PATCH, &self.registry("registered-models/update"), &body, Idempotency::Safe).await?;
        Ok(r.registered_model)
    }

    /// Deletes a registered model and all its versions. A model that is already gone counts as
    /// deleted, so a retry after a lost answer does not fail.
    pub async fn delete_registered_model(&self, name: &str) -> Result<()> {
        let body = json!({ "name": name });
        let r = self
            .send::<_, Empty>(Method::DELETE, &self.registry("registered-models/delete"), &body, Idempotency::Safe)
            .await;
        ok_if_gone(r)
    }

    /// Sets (upserts) one registered-model tag.
    pub async fn set_registered_model_tag(&self, name: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "name": name, "key": key, "value": value });
        let _: Empty =
            self.send(Method::POST, &self.registry("registered-models/set-tag"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Points `alias` at `version` (moving it if it exists). The version must exist (404
    /// otherwise); `latest` and `v<digits>` are reserved names.
    pub async fn set_registered_model_alias(&self, name: &str, alias: &str, version: &str) -> Result<()> {
        let body = json!({ "name": name, "alias": alias, "version": version });
        let _: Empty =
            self.send(Method::POST, &self.registry("registered-models/alias"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    pub async fn delete_registered_model_alias(&self, name: &str, alias: &str) -> Result<()> {
        let body = json!({ "name": name, "alias": alias });
        let _: Empty =
            self.send(Method::DELETE, &self.registry("registered-models/alias"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Every model version matching `filter` (e.g. `name = 'm'`, built with
    /// [`quote_filter_value`]), following pages. Deleted versions are not listed, and the results
    /// carry no `aliases`: read those from [`Self::get_registered_model`] or
    /// [`Self::get_model_version`].
    ///
    /// A Unity Catalog registry leaves the tags out of its search results too (MLflow's
    /// `model_version_search_from_uc_proto`): there each version is read again with
    /// [`Self::get_model_version`], as the Python tool does, which gives both.
    pub async fn search_model_versions(&self, filter: &str) -> Result<Vec<ModelVersion>> {
        let found: Vec<ModelVersion> = all_pages(|token| async move {
            let mut q = vec![("filter", filter.to_string()), ("max_results", VERSIONS_PAGE.to_string())];
            q.extend(token.map(|t| ("page_token", t)));
            self.get(&self.registry("model-versions/search"), &q).await
        })
        .await?;
        if !self.is_unity_catalog() {
            return Ok(found);
        }
        let mut versions = Vec::with_capacity(found.len());
        for v in found {
            // Deleted between the search and the read: gone, as the search would say now.
            versions.extend(self.get_model_version(&v.name, &v.version).await?);
        }
        Ok(versions)
    }

    /// Every live version of the model named `name`, in no particular order. Works for any
    /// name: one holding both quote kinds cannot be written as a filter literal, so it is
    /// matched with `LIKE` (quotes as `_`) and the extra hits are dropped here.
    pub async fn search_model_versions_of(&self, name: &str) -> Result<Vec<ModelVersion>> {
        if can_quote_filter_value(name) {
            return self.search_model_versions(&format!("name = {}", quote_filter_value(name))).await;
        }
        let pattern: String = name.chars().map(|c| if c == '\'' || c == '"' { '_' } else { c }).collect();
        let mut all = self.search_model_versions(&format!("name LIKE '{pattern}'")).await?;
        all.retain(|v| v.name == name);
        Ok(all)
    }

    /// One model version, aliases included; `None` if it does not exist or was deleted.
    pub async fn get_model_version(&self, name: &str, version: &str) -> Result<Option<ModelVersion>> {
        let q = [("name", name.to_string()), ("version", version.to_string())];
        match self.get::<ModelVersionResponse>(&self.registry("model-versions/get"), &q).await {
            Ok(r) => Ok(Some(r.model_version)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Registers a new version. Not retried after an ambiguous failure, since a repeat would add
    /// a second version: callers reconcile by searching the model's versions (by `source`,
    /// `run_id` or a provenance tag) before trying again.
    /// A Unity Catalog version is made `PENDING_REGISTRATION` with a `storage_location` its
    /// files are then written to, and becomes `READY` with [`Self::finalize_model_version`]. It
    /// has no `run_link` field: that is left out there.
    pub async fn create_model_version(&self, req: &ModelVersionCreate) -> Result<ModelVersion> {
        let mut req = req.clone();
        if self.is_unity_catalog() {
            req.run_link = None;
        }
        let r: ModelVersionResponse =
            self.send(Method::POST, &self.registry("model-versions/create"), &req, Idempotency::Create).await?;
        Ok(r.model_version)
    }

    /// A short-lived credential to read (or, with `write`, also write) the files of Unity
    /// Catalog version `version` of `name` (databricks-rest.md §3.3 step 4).
    pub async fn generate_temporary_credentials(
        &self,
        name: &str,
        version: &str,
        write: bool,
    ) -> Result<TemporaryCredentials> {
        #[derive(Deserialize)]
        struct Answer {
            credentials: TemporaryCredentials,
        }
        let operation = if write { "MODEL_VERSION_OPERATION_READ_WRITE" } else { "MODEL_VERSION_OPERATION_READ" };
        let body = json!({ "name": name, "version": version, "operation": operation });
        let route = self.registry("model-versions/generate-temporary-credentials");
        let r: Answer = self.send(Method::POST, &route, &body, Idempotency::Safe).await?;
        Ok(r.credentials)
    }

    /// Marks a Unity Catalog version whose files are written `READY` (databricks-rest.md §3.3
    /// step 6).
    pub async fn finalize_model_version(&self, name: &str, version: &str) -> Result<ModelVersion> {
        let body = json!({ "name": name, "version": version });
        let route = self.registry("model-versions/finalize");
        let r: ModelVersionResponse = self.send(Method::POST, &route, &body, Idempotency::Safe).await?;
        Ok(r.model_version)
    }

    pub async fn update_model_version_description(
        &self,
        name: &str,
        version: &str,
        description: &str,
    ) -> Result<ModelVersion> {
        let body = json!({ "name": name, "version": version, "description": description });
        let r: ModelVersionResponse =
            self.send(Method::PATCH, &self.registry("model-versions/update"), &body, Idempotency::Safe).await?;
        Ok(r.model_version)
    }

    /// Deletes one version; its aliases go with it. The number is never reused. A version that is
    /// already gone counts as deleted, so a retry after a lost answer does not fail.
    pub async fn delete_model_version(&self, name: &str, version: &str) -> Result<()> {
        let body = json!({ "name": name, "version": version });
        let r = self
            .send::<_, Empty>(Method::DELETE, &self.registry("model-versions/delete"), &body, Idempotency::Safe)
            .await;
        ok_if_gone(r)
    }

    /// Sets (upserts) one model-version tag.
    pub async fn set_model_version_tag(&self, name: &str, version: &str, key: &str, value: &str) -> Result<()> {
        let body = json!({ "name": name, "version": version, "key": key, "value": value });
        let _: Empty =
            self.send(Method::POST, &self.registry("model-versions/set-tag"), &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// Moves a version to `stage` (`None`, `Staging`, `Production` or `Archived`, any case).
    /// `archive_existing_versions` is always sent: with `true` the versions currently in that
    /// stage become `Archived`, which a copy replaying stages does not want. Safe to repeat.
    pub async fn transition_model_version_stage(
        &self,
        name: &str,
        version: &str,
        stage: &str,
        archive_existing_versions: bool,
    ) -> Result<ModelVersion> {
        if self.is_unity_catalog() {
            return Err(Error::Config(format!(
                "version {version} of {name}: a Unity Catalog registry has no stages (use aliases)"
            )));
        }
        let body = json!({
            "name": name,
            "version": version,
            "stage": stage,
            "archive_existing_versions": archive_existing_versions,
        });
        let r: ModelVersionResponse = self
            .send(Method::POST, &self.registry("model-versions/transition-stage"), &body, Idempotency::Safe)
            .await?;
        Ok(r.model_version)
    }

    /// The version's `artifact_uri`. OSS servers return the stored `source` verbatim (e.g.
    /// `runs:/<id>/model` or `mlflow-artifacts:/…`), not a resolved storage location.
    pub async fn get_model_version_download_uri(&self, name: &str, version: &str) -> Result<String> {
        #[derive(Deserialize)]
        struct Uri {
            #[serde(default)]
            artifact_uri: String,
        }
        let q = [("name", name.to_string()), ("version", version.to_string())];
        let r: Uri = self.get(&self.registry("model-versions/get-download-uri"), &q).await?;
        Ok(r.artifact_uri)
    }
}

fn ok_if_gone(r: Result<Empty>) -> Result<()> {
    match r {
        Ok(_) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_quoted_without_escapes() {
        assert_eq!(quote_filter_value("churn"), "'churn'");
        assert_eq!(quote_filter_value("it's"), "\"it's\"");
        assert_eq!(quote_filter_value("say \"hi\""), "'say \"hi\"'");
        assert_eq!(quote_filter_value(""), "''");
        assert!(can_quote_filter_value("it's") && can_quote_filter_value("a\"b"));
        assert!(!can_quote_filter_value("it's \"x\""));
        // No exact literal exists; the result must make the server fail loudly.
        assert_eq!(quote_filter_value("a'b\"c"), "'a'b\"c'");
    }

    #[test]
    fn version_create_omits_unset_fields() {
        let req = ModelVersionCreate {
            name: "m".into(),
            source: "mlflow-artifacts:/1/r/artifacts/model".into(),
            run_id: Some("r".into()),
            run_link: None,
            description: None,
            tags: vec![KeyValue::new("k", "v")],
            model_id: None,
        };
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            json!({
                "name": "m",
                "source": "mlflow-artifacts:/1/r/artifacts/model",
                "run_id": "r",
                "tags": [{"key": "k", "value": "v"}],
            })
        );
    }
}
