//! Probing what a server is and can do, instead of assuming features.

use crate::{types::ServerInfo, MlflowClient, Result};

impl MlflowClient {
    /// `GET /version`: the server's MLflow version as plain text.
    pub async fn version(&self) -> Result<String> {
        self.get_text("/version").await
    }

    /// `GET /api/3.0/mlflow/server-info`; `None` on servers that predate it.
    pub async fn server_info(&self) -> Result<Option<ServerInfo>> {
        match self.get("/api/3.0/mlflow/server-info", &[]).await {
            Ok(info) => Ok(Some(info)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }
}
