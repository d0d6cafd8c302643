//! The webhook mover: every webhook of a server. Webhooks carry no tags, so a copy is found by
//! name: absent, it is created; present and different, it is made to say what the source's
//! says; two of one name cannot be told apart and fail. The server never returns a secret, so
//! a copy gets one only from the user's `--webhook-secrets-file` (by webhook name), and the
//! report says, per webhook, whether it did.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    job::{Deps, JobContext, Outcome, WebhookAction, WebhookOutcome},
    store::{Webhook, WebhookStore},
    Result,
};

/// The webhooks of one server to move.
pub struct WebhookMove {
    pub source: Arc<dyn WebhookStore>,
    pub sink: Arc<dyn WebhookStore>,
    /// Secrets by webhook name, from `--webhook-secrets-file`; never written anywhere else.
    pub secrets: Arc<BTreeMap<String, String>>,
}

impl WebhookMove {
    pub async fn execute(&self, _deps: &Deps, _ctx: &JobContext) -> Outcome {
        match self.transfer().await {
            Ok(outcomes) => Outcome::Webhooks(outcomes),
            Err(e) => Outcome::Webhooks(vec![WebhookOutcome {
                name: "(all)".into(),
                destination: None,
                action: WebhookAction::Failed,
                secret: NOT_COPIED,
                error: Some(e.to_string()),
                retryable: e.is_transient(),
            }]),
        }
    }

    async fn transfer(&self) -> Result<Vec<WebhookOutcome>> {
        let source = self.source.webhooks().await?;
        if source.is_empty() {
            return Ok(Vec::new());
        }
        let have = self.sink.webhooks().await?;
        let mut named: BTreeMap<&str, usize> = BTreeMap::new();
        for w in &source {
            *named.entry(w.name.as_str()).or_default() += 1;
        }
        let mut outcomes = Vec::new();
        for w in &source {
            let copies: Vec<&Webhook> = have.iter().filter(|h| h.name == w.name).collect();
            let mut outcome = WebhookOutcome {
                name: w.name.clone(),
                destination: None,
                action: WebhookAction::Failed,
                secret: NOT_COPIED,
                error: None,
                retryable: false,
            };
            let done = match (named[w.name.as_str()], copies.as_slice()) {
                (n, _) if n > 1 => {
                    Err(format!("{n} webhooks at the source are named {:?}: a copy could not be found again", w.name))
                }
                (_, []) => {
                    let secret = self.secrets.get(&w.name).map(String::as_str);
                    self.sink.create_webhook(w, secret).await.map_err(|e| fail(&mut outcome, e)).map(|id| {
                        outcome.destination = id;
                        outcome.secret = if secret.is_some() { FROM_FILE } else { NOT_COPIED };
                        WebhookAction::Created
                    })
                }
                (_, [existing]) => {
                    outcome.destination = existing.webhook_id.clone();
                    outcome.secret = UNCHANGED;
                    if existing.same_as(w) {
                        Ok(WebhookAction::Unchanged)
                    } else {
                        let updated = self.sink.update_webhook(existing, w).await;
                        updated.map_err(|e| fail(&mut outcome, e)).map(|()| WebhookAction::Updated)
                    }
                }
                (_, many) => Err(format!(
                    "{} webhooks at the destination are named {:?}: which is the copy cannot be told",
                    many.len(),
                    w.name
                )),
            };
            match done {
                Ok(action) => outcome.action = action,
                Err(why) => (outcome.action, outcome.error) = (WebhookAction::Failed, Some(why)),
            }
            outcomes.push(outcome);
        }
        Ok(outcomes)
    }
}

const NOT_COPIED: &str = "not copied (a server never returns it; see --webhook-secrets-file)";
const FROM_FILE: &str = "set from --webhook-secrets-file";
const UNCHANGED: &str = "left as it was at the destination";

/// Records whether a failed write may succeed on another pass, and says why it failed.
fn fail(outcome: &mut WebhookOutcome, e: crate::Error) -> String {
    outcome.retryable = e.is_transient();
    e.to_string()
}
