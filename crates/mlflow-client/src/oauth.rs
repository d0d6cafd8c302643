//! OAuth machine-to-machine tokens for a Databricks workspace: a service principal's client id
//! and secret exchanged at the workspace's token endpoint (docs
//! `/aws/en/dev-tools/auth/oauth-m2m`; databricks-sdk `oauth.py` `ClientCredentials`).
//!
//! The endpoint is found as the SDK finds it (`/.well-known/databricks-config` → its
//! `oidc_endpoint`'s `/.well-known/oauth-authorization-server`), falling back to the classic
//! `{host}/oidc/v1/token`. Client credentials have no refresh token: a fresh token is asked
//! for before the cached one expires, or after the workspace refused it. One request at a
//! time asks, so a pool of workers refreshes once, not once each.

use std::time::{Duration, Instant};

use reqwest::header;
use tokio::sync::Mutex;

use crate::{Error, Result};

/// A cached token and when to replace it.
struct Cached {
    token: String,
    refresh_at: Instant,
}

/// The token source of one workspace.
pub(crate) struct TokenSource {
    host: String,
    client_id: String,
    client_secret: String,
    http: reqwest::Client,
    endpoint: tokio::sync::OnceCell<String>,
    cached: Mutex<Option<Cached>>,
}

impl TokenSource {
    pub(crate) fn new(host: &str, client_id: &str, client_secret: &str, http: reqwest::Client) -> Self {
        Self {
            host: host.trim_end_matches('/').to_string(),
            client_id: client_id.to_string(),
            client_secret: client_secret.to_string(),
            http,
            endpoint: tokio::sync::OnceCell::new(),
            cached: Mutex::new(None),
        }
    }

    /// A token valid for a while yet, asking for a fresh one when needed.
    pub(crate) async fn token(&self) -> Result<String> {
        let mut cached = self.cached.lock().await;
        if let Some(c) = cached.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cached = Some(fresh);
        Ok(token)
    }

    /// Drops the cached token if it is `token`, which the workspace refused; another worker
    /// may have replaced it already.
    pub(crate) async fn refused(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|c| c.token == token) {
            *cached = None;
        }
    }

    /// The token endpoint, discovered once. Only an endpoint on the workspace's own host is
    /// trusted with the client secret; anything else falls back to the classic path.
    async fn endpoint(&self) -> &str {
        self.endpoint
            .get_or_init(|| async {
                let fallback = format!("{}/oidc/v1/token", self.host);
                match self.discover().await {
                    Some(e) if same_origin(&e, &self.host) => e,
                    Some(e) => {
                        tracing::warn!(endpoint = %crate::redact(&e), "token endpoint on another host ignored");
                        fallback
                    }
                    None => fallback,
                }
            })
            .await
    }

    async fn discover(&self) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct HostMetadata {
            oidc_endpoint: Option<String>,
        }
        #[derive(serde::Deserialize)]
        struct Discovery {
            token_endpoint: Option<String>,
        }
        let get = |url: String| async move {
            let resp = self.http.get(&url).send().await.ok()?;
            resp.status().is_success().then_some(())?;
            resp.bytes().await.ok()
        };
        let oidc = match get(format!("{}/.well-known/databricks-config", self.host)).await {
            Some(b) => serde_json::from_slice::<HostMetadata>(&b).ok()?.oidc_endpoint?,
            None => format!("{}/oidc", self.host),
        };
        let body = get(format!("{}/.well-known/oauth-authorization-server", oidc.trim_end_matches('/'))).await?;
        serde_json::from_slice::<Discovery>(&body).ok()?.token_endpoint
    }

    async fn fetch(&self) -> Result<Cached> {
        #[derive(serde::Deserialize)]
        struct Token {
            access_token: String,
            expires_in: Option<u64>,
        }
        #[derive(serde::Deserialize, Default)]
        struct Refusal {
            error: Option<String>,
            error_description: Option<String>,
        }
        let url = self.endpoint().await.to_string();
        let received = Instant::now();
        let resp = self
            .http
            .post(&url)
            .basic_auth(&self.client_id, Some(&self.client_secret))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=all-apis")
            .send()
            .await
            .map_err(|source| Error::Transport { method: "POST", url: url.clone(), source })?;
        let status = resp.status();
        let body = resp.bytes().await.unwrap_or_default();
        if !status.is_success() {
            let refusal: Refusal = serde_json::from_slice(&body).unwrap_or_default();
            let message = [refusal.error, refusal.error_description].into_iter().flatten().collect::<Vec<_>>();
            return Err(Error::Api {
                method: "POST",
                url,
                status: status.as_u16(),
                error_code: None,
                message: format!("OAuth client id {:?} refused: {}", self.client_id, message.join(": ")),
                retry_after: None,
            });
        }
        let token: Token = serde_json::from_slice(&body).map_err(|source| Error::Decode {
            method: "POST",
            url: url.clone(),
            snippet: String::new(),
            source,
        })?;
        let ttl = Duration::from_secs(token.expires_in.unwrap_or(3600));
        Ok(Cached { token: token.access_token, refresh_at: received + ttl - refresh_margin(ttl) })
    }
}

/// How long before expiry a token is replaced: half its life, at most five minutes (the SDK
/// uses twenty; a shorter margin spares requests on hour-long tokens, and a job's requests
/// last seconds).
fn refresh_margin(ttl: Duration) -> Duration {
    (ttl / 2).min(Duration::from_secs(300))
}

fn same_origin(a: &str, b: &str) -> bool {
    match (url::Url::parse(a), url::Url::parse(b)) {
        (Ok(a), Ok(b)) => a.origin() == b.origin(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_replaced_before_they_expire() {
        assert_eq!(refresh_margin(Duration::from_secs(2)), Duration::from_secs(1));
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(300));
        assert!(same_origin("https://h.example/oidc/v1/token", "https://h.example"));
        assert!(!same_origin("https://evil.example/oidc/v1/token", "https://h.example"));
    }
}
