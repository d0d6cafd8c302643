//! Webhooks at a tracking server.

use async_trait::async_trait;
use mlflow_client::{api::Webhook, MlflowClient};

use crate::{store::WebhookStore, Error, Result};

#[async_trait]
impl WebhookStore for MlflowClient {
    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        match self.list_webhooks().await {
            Ok(all) => Ok(all),
            // A server older than webhooks (no such route) holds none.
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    async fn create_webhook(&self, webhook: &Webhook, secret: Option<&str>) -> Result<Option<String>> {
        match MlflowClient::create_webhook(self, webhook, secret).await {
            Ok(id) => Ok(Some(id)),
            Err(e) if e.is_not_found() => {
                Err(Error::Unsupported(format!("the destination server has no webhooks (MLflow 3.3+): {e}")))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn update_webhook(&self, existing: &Webhook, webhook: &Webhook) -> Result<()> {
        let id = existing.webhook_id.as_deref().ok_or_else(|| Error::Input("a webhook without id".into()))?;
        Ok(MlflowClient::update_webhook(self, id, webhook).await?)
    }
}
