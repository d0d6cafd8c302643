//! The Databricks workspace tree (databricks-rest.md §5.1; Databricks REST reference
//! `/api/workspace-objects/v1/mkdirs`): experiments there are named by absolute workspace
//! paths whose folders must exist before `experiments/create`.

use crate::{client::Idempotency, MlflowClient, Result};

impl MlflowClient {
    /// `POST /api/2.0/workspace/mkdirs {"path"}`: creates the folder and any missing parents
    /// (`mkdir -p`; an existing folder is not an error, so it is safe to repeat).
    pub async fn workspace_mkdirs(&self, path: &str) -> Result<()> {
        let body = serde_json::json!({ "path": path });
        let _: serde_json::Value =
            self.send(reqwest::Method::POST, "/api/2.0/workspace/mkdirs", &body, Idempotency::Safe).await?;
        Ok(())
    }
}
