//! Registry webhooks (`/api/2.0/mlflow/webhooks`, MLflow 3.3+, SQL registry only). The server
//! never returns a webhook's secret: a copy gets one only where the caller supplies it.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::encode;
use crate::{
    client::{all_pages, Idempotency},
    MlflowClient, Result,
};

/// A webhook as it can be written again: everything but its id, times and secret.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Webhook {
    /// The server's id; not written to another server.
    #[serde(default, skip_serializing)]
    pub webhook_id: Option<String>,
    pub name: String,
    pub url: String,
    /// `{entity, action}` pairs, kept as the server wrote them.
    #[serde(default)]
    pub events: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `ACTIVE` or `DISABLED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Webhook {
    /// Whether `other` is this webhook as far as a copy can tell (ids, times and secrets
    /// aside).
    pub fn same_as(&self, other: &Webhook) -> bool {
        (&self.name, &self.url, &self.events, &self.description, &self.status)
            == (&other.name, &other.url, &other.events, &other.description, &other.status)
    }

    fn body(&self) -> Value {
        json!({
            "name": self.name,
            "url": self.url,
            "events": self.events,
            "description": self.description.clone().unwrap_or_default(),
            "status": self.status.clone().unwrap_or_else(|| "ACTIVE".into()),
        })
    }
}

#[derive(Deserialize)]
struct WebhookResponse {
    webhook: Webhook,
}

impl MlflowClient {
    /// Every webhook of the server (of the client's workspace), following pages.
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        all_pages(|token| async move {
            let mut query = vec![("max_results", "100".to_string())];
            query.extend(token.map(|t| ("page_token", t)));
            self.get("/api/2.0/mlflow/webhooks", &query).await
        })
        .await
    }

    /// Creates a webhook, with `secret` when one is known; returns its id.
    pub async fn create_webhook(&self, webhook: &Webhook, secret: Option<&str>) -> Result<String> {
        let mut body = webhook.body();
        if let Some(s) = secret {
            body["secret"] = json!(s);
        }
        let r: WebhookResponse =
            self.send(Method::POST, "/api/2.0/mlflow/webhooks", &body, Idempotency::Create).await?;
        Ok(r.webhook.webhook_id.unwrap_or_default())
    }

    /// Makes webhook `id` say what `webhook` says (its secret is left as it is).
    pub async fn update_webhook(&self, id: &str, webhook: &Webhook) -> Result<()> {
        let path = format!("/api/2.0/mlflow/webhooks/{}", encode(id));
        let _: WebhookResponse = self.send(Method::PATCH, &path, &webhook.body(), Idempotency::Safe).await?;
        Ok(())
    }
}
