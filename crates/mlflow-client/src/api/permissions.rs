//! Access control lists of a Databricks workspace's objects (databricks-rest.md §7.1;
//! Databricks REST reference `/api/access-management/v1/workspace`,
//! `/api/2.0/permissions/{request_object_type}/{request_object_id}`). Open-source MLflow has
//! no such routes.

use serde_json::Value;

use crate::{client::Idempotency, MlflowClient, Result};

impl MlflowClient {
    /// `GET /api/2.0/permissions/{object_type}/{id}`: the object's access control list,
    /// `{object_id, object_type, access_control_list: [...]}`, as the workspace answers it.
    pub async fn get_permissions(&self, object_type: &str, id: &str) -> Result<Value> {
        self.get(&permissions_path(object_type, id), &[]).await
    }

    /// `GET /api/2.0/permissions/{object_type}/{id}/permissionLevels`: the levels the object
    /// takes, `[{permission_level, description}]`.
    pub async fn get_permission_levels(&self, object_type: &str, id: &str) -> Result<Value> {
        let answer: Value = self.get(&format!("{}/permissionLevels", permissions_path(object_type, id)), &[]).await?;
        Ok(answer.get("permission_levels").cloned().unwrap_or_else(|| Value::Array(Vec::new())))
    }

    /// `PATCH /api/2.0/permissions/{object_type}/{id} {"access_control_list": [entry]}`: adds
    /// or updates one principal's grant, leaving the others as they are (so it is safe to
    /// repeat, and a principal the workspace does not know fails alone).
    pub async fn patch_permission(&self, object_type: &str, id: &str, entry: &Value) -> Result<()> {
        let body = serde_json::json!({ "access_control_list": [entry] });
        let _: Value =
            self.send(reqwest::Method::PATCH, &permissions_path(object_type, id), &body, Idempotency::Safe).await?;
        Ok(())
    }
}

impl MlflowClient {
    /// The workspace registry's id of registered model `name`, which its access control list is
    /// kept under (`GET /api/2.0/mlflow/databricks/registered-models/get?name=` →
    /// `registered_model_databricks.id`; databricks-rest.md §4, Databricks REST reference
    /// `/api/workspace/modelregistry/getmodel`). Open-source MLflow has no such route.
    pub async fn databricks_registered_model_id(&self, name: &str) -> Result<String> {
        let query = [("name", name.to_string())];
        let answer: Value = self.get("/api/2.0/mlflow/databricks/registered-models/get", &query).await?;
        match answer.pointer("/registered_model_databricks/id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => Ok(id.to_string()),
            _ => Err(crate::Error::Protocol(format!("registered model {name:?}: the workspace sent no id"))),
        }
    }
}

/// The securable type Unity Catalog keeps registered models' grants under, as the Python tool
/// and MLflow's own Databricks utilities name it (databricks-rest.md §7.2).
const UC_MODEL_SECURABLE: &str = "function";

impl MlflowClient {
    /// `GET /api/2.1/unity-catalog/permissions/function/{full_name}` (or, `effective`,
    /// `effective-permissions/...`), every page: `{"privilege_assignments": [{principal,
    /// privileges}]}` (databricks-rest.md §7.2; Databricks REST reference `grants/get`,
    /// `grants/geteffective`). The direct list's privileges are names; the effective list's
    /// are `{privilege, inherited_from_type, inherited_from_name}`.
    pub async fn uc_model_permissions(&self, full_name: &str, effective: bool) -> Result<Value> {
        let kind = if effective { "effective-permissions" } else { "permissions" };
        let path = format!("/api/2.1/unity-catalog/{kind}/{UC_MODEL_SECURABLE}/{}", super::encode(full_name));
        let assignments: Vec<Value> = crate::client::all_pages(|token| {
            let path = &path;
            async move {
                let query: Vec<(&str, String)> = token.into_iter().map(|t| ("page_token", t)).collect();
                self.get(path, &query).await
            }
        })
        .await?;
        Ok(serde_json::json!({ "privilege_assignments": assignments }))
    }

    /// `PATCH /api/2.1/unity-catalog/permissions/function/{full_name}
    /// {"changes": [{principal, add}]}`: grants `privileges` to `principal`, leaving the rest
    /// as they are (so it is safe to repeat; databricks-rest.md §7.2, `grants/update`).
    pub async fn uc_grant_model(&self, full_name: &str, principal: &str, privileges: &[String]) -> Result<()> {
        let path = format!("/api/2.1/unity-catalog/permissions/{UC_MODEL_SECURABLE}/{}", super::encode(full_name));
        let body = serde_json::json!({ "changes": [{ "principal": principal, "add": privileges }] });
        let _: Value = self.send(reqwest::Method::PATCH, &path, &body, Idempotency::Safe).await?;
        Ok(())
    }
}

fn permissions_path(object_type: &str, id: &str) -> String {
    format!("/api/2.0/permissions/{}/{}", super::encode(object_type), super::encode(id))
}
