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

fn permissions_path(object_type: &str, id: &str) -> String {
    format!("/api/2.0/permissions/{}/{}", super::encode(object_type), super::encode(id))
}
