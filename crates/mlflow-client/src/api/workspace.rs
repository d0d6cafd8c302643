//! The Databricks workspace tree (databricks-rest.md §5.1; Databricks REST reference
//! `/api/workspace-objects/v1/{mkdirs,export,import,get-status}`): experiments there are named
//! by absolute workspace paths whose folders must exist before `experiments/create`, and the
//! notebooks runs were logged from are read and written here.

use base64::Engine;
use serde::Deserialize;

use crate::{client::Idempotency, Error, MlflowClient, Result};

/// A workspace object as `workspace/get-status` describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct WorkspaceObject {
    /// `NOTEBOOK`, `DIRECTORY`, `FILE`, `LIBRARY`, `REPO`, `DASHBOARD`.
    pub object_type: Option<String>,
    pub path: Option<String>,
    /// A notebook's language: `PYTHON`, `SCALA`, `SQL`, `R`.
    pub language: Option<String>,
}

impl MlflowClient {
    /// `POST /api/2.0/workspace/mkdirs {"path"}`: creates the folder and any missing parents
    /// (`mkdir -p`; an existing folder is not an error, so it is safe to repeat).
    pub async fn workspace_mkdirs(&self, path: &str) -> Result<()> {
        let body = serde_json::json!({ "path": path });
        let _: serde_json::Value =
            self.send(reqwest::Method::POST, "/api/2.0/workspace/mkdirs", &body, Idempotency::Safe).await?;
        Ok(())
    }

    /// `GET /api/2.0/workspace/get-status?path=`: what is at `path` (`RESOURCE_DOES_NOT_EXIST`
    /// when nothing is).
    pub async fn workspace_get_status(&self, path: &str) -> Result<WorkspaceObject> {
        self.get("/api/2.0/workspace/get-status", &[("path", path.to_string())]).await
    }

    /// `GET /api/2.0/workspace/export?path=&format=`: the notebook at `path` in `format`
    /// (`SOURCE`, `HTML`, `JUPYTER`, `DBC`; case-sensitive), its latest revision. The answer's
    /// base64 `content` is decoded here.
    pub async fn workspace_export(&self, path: &str, format: &str) -> Result<Vec<u8>> {
        #[derive(Deserialize)]
        struct Exported {
            content: String,
        }
        let query = [("path", path.to_string()), ("format", format.to_string())];
        let url = "/api/2.0/workspace/export";
        let got: Exported = self.get(url, &query).await?;
        base64::engine::general_purpose::STANDARD.decode(got.content.as_bytes()).map_err(|e| {
            Error::Protocol(format!("GET {}{url}: the {format} export of {path} is not base64: {e}", self.base_url()))
        })
    }

    /// `POST /api/2.0/workspace/import {"path", "format", "language", "content", "overwrite"}`:
    /// writes `content` as the notebook at `path` (its folder must exist). With `overwrite`, an
    /// existing notebook is replaced, so the call is safe to repeat.
    pub async fn workspace_import(
        &self,
        path: &str,
        format: &str,
        language: &str,
        content: &[u8],
        overwrite: bool,
    ) -> Result<()> {
        let body = serde_json::json!({
            "path": path,
            "format": format,
            "language": language,
            "content": base64::engine::general_purpose::STANDARD.encode(content),
            "overwrite": overwrite,
        });
        let idempotency = if overwrite { Idempotency::Safe } else { Idempotency::Create };
        let _: serde_json::Value =
            self.send(reqwest::Method::POST, "/api/2.0/workspace/import", &body, idempotency).await?;
        Ok(())
    }
}
