//! The HTTP core: one pooled connection set, a cap on requests in flight, retries.
//!
//! Retries follow the Python client's rules: 408, 429, 5xx and transport errors are retried with
//! exponential backoff and jitter (never shorter than `Retry-After`), except for creates, which
//! are resent only when the request certainly never reached the server. A create that may have
//! been applied is reconciled by the caller through a lookup, never blindly repeated.

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use reqwest::{header, Method, RequestBuilder, Response};
use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::{
    config::{Auth, ClientConfig, RetryPolicy},
    pace::Pacer,
    Error, Result,
};

/// The header that scopes a request to a workspace (mlflow/utils/workspace_utils.py).
const WORKSPACE_HEADER: &str = "X-MLFLOW-WORKSPACE";

/// Whether a request may be repeated after an ambiguous failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotency {
    Safe,
    Create,
}

/// Counters shared by every clone of a client.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

/// A typed MLflow REST client. Cheap to clone; clones share connections, limits and stats.
#[derive(Clone)]
pub struct MlflowClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for MlflowClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlflowClient").field("base_url", &self.inner.base).finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    /// The client creates are sent through: the same, but waiting [`CREATE_READ_TIMEOUT`] for
    /// an answer. A create given up on may still be applied after the tool has looked for
    /// its result and found none, and made again: a duplicate is worse than a long wait. A
    /// dropped connection is still seen at once.
    http_create: reqwest::Client,
    base: String,
    auth: Auth,
    retry: RetryPolicy,
    limiter: Arc<Semaphore>,
    /// Writes in flight: half the requests. MLflow's SQL store takes two pooled connections
    /// for one `log-batch` (the run's session, then one per kind of data), so as many writes
    /// as its pool has connections can starve each other until the pool's 30 s timeout.
    writes: Arc<Semaphore>,
    pacer: Option<Pacer>,
    /// The OAuth token source of a Databricks service principal ([`Auth::OAuthM2m`]).
    oauth: Option<crate::oauth::TokenSource>,
    artifacts_destination: Option<std::path::PathBuf>,
    side: Option<String>,
    workspace: Option<String>,
    databricks: bool,
    unity_catalog: bool,
    stats: ClientStats,
    /// Whether the server has answered at all. Until it has, a refused connection is a wrong
    /// URI or a server that is not running, reported at once rather than retried for a minute;
    /// retries are for servers that have answered before.
    answered: std::sync::atomic::AtomicBool,
}

/// A streamed response body with its declared length.
pub struct ByteStream {
    pub len: Option<u64>,
    pub stream: std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
}

/// A request's places under the client's limits. A request is in flight until its answer has
/// been read, not only until its headers arrive: the body is most of the work (a download can
/// take minutes), so releasing at the headers would let bodies pile up past the limit.
struct InFlight {
    _slot: OwnedSemaphorePermit,
    _write: Option<OwnedSemaphorePermit>,
}

/// A download's body that keeps its request in flight until the last byte has been read or the
/// stream is dropped, whichever comes first.
struct HeldBody {
    body: std::pin::Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>,
    in_flight: Option<InFlight>,
}

impl Stream for HeldBody {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = std::task::ready!(self.body.poll_next_unpin(cx));
        if next.is_none() {
            self.in_flight = None;
        }
        Poll::Ready(next)
    }
}

/// How long a create waits for its answer at least (see [`Inner::http_create`]).
const CREATE_READ_TIMEOUT: Duration = Duration::from_secs(600);

/// An HTTP client for `config`, trusting `certs` besides the system's, that gives up on an
/// answer silent for `read_timeout`.
fn http_client(
    config: &ClientConfig,
    certs: &[reqwest::Certificate],
    read_timeout: Duration,
) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("mlflow-export-import/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(read_timeout)
        .pool_max_idle_per_host(config.max_in_flight)
        .tcp_nodelay(true);
    if config.insecure_tls {
        builder = builder.tls_danger_accept_invalid_certs(true);
    }
    for cert in certs {
        builder = builder.add_root_certificate(cert.clone());
    }
    builder.build().map_err(|e| Error::Config(format!("cannot build HTTP client: {e}")))
}

/// The certificates of `config`'s CA bundle, if it names one.
fn ca_certificates(config: &ClientConfig) -> Result<Vec<reqwest::Certificate>> {
    let Some(path) = &config.ca_cert_path else { return Ok(Vec::new()) };
    let pem = std::fs::read(path).map_err(|source| Error::Io { path: path.display().to_string(), source })?;
    reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| Error::Config(format!("{}: not a PEM certificate bundle: {e}", path.display())))
}

impl MlflowClient {
    pub fn new(config: &ClientConfig) -> Result<Self> {
        let certs = ca_certificates(config)?;
        let http = http_client(config, &certs, config.timeout)?;
        let http_create = http_client(config, &certs, config.timeout.max(CREATE_READ_TIMEOUT))?;
        let oauth = match &config.auth {
            Auth::OAuthM2m { client_id, client_secret } => {
                Some(crate::oauth::TokenSource::new(&config.base_url, client_id, client_secret, http.clone()))
            }
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                http_create,
                base: config.base_url.clone(),
                auth: config.auth.clone(),
                retry: config.retry,
                limiter: Arc::new(Semaphore::new(config.max_in_flight.max(1))),
                writes: Arc::new(Semaphore::new(config.max_in_flight.div_ceil(2).max(1))),
                pacer: Pacer::new(config.max_requests_per_second),
                oauth,
                artifacts_destination: config.artifacts_destination.clone(),
                side: config.side.clone(),
                workspace: config.workspace.clone(),
                databricks: config.databricks,
                unity_catalog: config.unity_catalog,
                stats: ClientStats::default(),
                answered: Default::default(),
            }),
        })
    }

    /// The server's base URL (prefix included, no credentials).
    pub fn base_url(&self) -> &str {
        &self.inner.base
    }

    /// See [`ClientConfig::artifacts_destination`].
    pub fn artifacts_destination(&self) -> Option<&std::path::Path> {
        self.inner.artifacts_destination.as_deref()
    }

    /// See [`ClientConfig::workspace`].
    pub fn workspace(&self) -> Option<&str> {
        self.inner.workspace.as_deref()
    }

    /// See [`ClientConfig::databricks`].
    pub fn is_databricks(&self) -> bool {
        self.inner.databricks
    }

    /// See [`ClientConfig::unity_catalog`].
    pub fn is_unity_catalog(&self) -> bool {
        self.inner.unity_catalog
    }

    /// See [`ClientConfig::side`].
    pub fn side(&self) -> Option<&str> {
        self.inner.side.as_deref()
    }

    pub fn stats(&self) -> &ClientStats {
        &self.inner.stats
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.inner.base, path)
    }

    fn request(&self, method: Method, url: &str) -> RequestBuilder {
        self.request_with(&self.inner.http, method, url)
    }

    fn request_with(&self, http: &reqwest::Client, method: Method, url: &str) -> RequestBuilder {
        let mut rb = http.request(method, url);
        if let Some(w) = self.inner.workspace.as_deref().filter(|_| !url.contains("/mlflow/workspaces")) {
            rb = rb.header(WORKSPACE_HEADER, w);
        }
        match &self.inner.auth {
            // Added by `execute`, which may have to wait for a fresh token.
            Auth::None | Auth::OAuthM2m { .. } => rb,
            Auth::Basic { username, password } => rb.basic_auth(username, Some(password)),
            Auth::Bearer(token) => rb.bearer_auth(token),
        }
    }

    /// GET with query parameters, JSON answer.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let (url, bytes) = self.get_bytes(path, query).await?;
        decode("GET", url, &bytes)
    }

    /// GET whose JSON answer may hold the bare `NaN`/`Infinity` tokens Python's `json` module
    /// writes (the `ajax-api` routes): they are quoted before decoding, as the REST routes do.
    pub(crate) async fn get_python_json<T: DeserializeOwned>(&self, path: &str, query: &[(&str, String)]) -> Result<T> {
        let (url, bytes) = self.get_bytes(path, query).await?;
        decode("GET", url, &crate::quote_non_finite(&bytes).map_or(bytes, Bytes::from))
    }

    /// GET a plain-text body (e.g. `/version`).
    pub(crate) async fn get_text(&self, path: &str) -> Result<String> {
        let (_, bytes) = self.get_bytes(path, &[]).await?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_string())
    }

    /// One GET, retried while that is safe: the URL (for error messages) and the whole body.
    async fn get_bytes(&self, path: &str, query: &[(&str, String)]) -> Result<(String, Bytes)> {
        let url = self.url(path);
        let bytes = self
            .with_retries(Idempotency::Safe, || self.body_of("GET", &url, self.request(Method::GET, &url).query(query)))
            .await?;
        Ok((url, bytes))
    }

    /// POST (or PATCH/DELETE) with a JSON body, JSON answer.
    pub(crate) async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        idempotency: Idempotency,
    ) -> Result<T> {
        self.send_with_headers(method, path, body, idempotency, &[]).await
    }

    /// [`Self::send`] with extra request headers (the OTLP route takes its experiment in one).
    pub(crate) async fn send_with_headers<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &B,
        idempotency: Idempotency,
        headers: &[(&str, &str)],
    ) -> Result<T> {
        let url = self.url(path);
        let name = method_name(&method);
        let body = serde_json::to_vec(body).map(Bytes::from).map_err(|source| Error::Decode {
            method: name,
            url: url.clone(),
            snippet: String::new(),
            source,
        })?;
        let http = match idempotency {
            Idempotency::Safe => &self.inner.http,
            Idempotency::Create => &self.inner.http_create,
        };
        let bytes = self
            .with_retries(idempotency, || {
                let rb = headers.iter().fold(
                    self.request_with(http, method.clone(), &url).header(header::CONTENT_TYPE, "application/json"),
                    |rb, (k, v)| rb.header(*k, *v),
                );
                let rb = rb.body(body.clone());
                self.body_of(name, &url, rb)
            })
            .await?;
        decode(name, url, &bytes)
    }

    /// Sends one request and reads its whole answer.
    async fn body_of(&self, method: &'static str, url: &str, rb: RequestBuilder) -> Result<Bytes> {
        let (resp, _in_flight) = self.execute(method, url, rb).await?;
        resp.bytes().await.map_err(|source| Error::Transport { method, url: url.to_string(), source })
    }

    /// Opens a streamed download. Failures before the first byte are retried; a body that breaks
    /// later surfaces as an I/O error of the stream, for the caller to restart the file.
    pub(crate) async fn get_stream(&self, path: &str, query: &[(&str, String)]) -> Result<ByteStream> {
        let url = self.url(path);
        let (resp, in_flight) = self
            .with_retries(Idempotency::Safe, || async {
                self.execute("GET", &url, self.request(Method::GET, &url).query(query)).await
            })
            .await?;
        let len = resp.content_length();
        let body = Box::pin(resp.bytes_stream().map_err(std::io::Error::other));
        Ok(ByteStream { len, stream: Box::pin(HeldBody { body, in_flight: Some(in_flight) }) })
    }

    /// Uploads a streamed body with PUT. Not retried here: a stream cannot be replayed, so the
    /// caller reopens its source and calls again.
    pub(crate) async fn put_stream(&self, path: &str, len: u64, body: reqwest::Body) -> Result<()> {
        let url = self.url(path);
        let rb = self
            .request(Method::PUT, &url)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .header(header::CONTENT_LENGTH, len)
            .body(body);
        self.execute("PUT", &url, rb).await.map(drop)
    }

    /// Opens a streamed download of a signed storage URL (a Databricks artifact credential),
    /// sending the credential's headers and no credential of the tracking server. Messages
    /// name the URL without its query, which holds the signature.
    pub(crate) async fn get_signed(&self, url: &str, headers: &[(String, String)]) -> Result<ByteStream> {
        let shown = crate::redact(url);
        let (resp, in_flight) = self
            .with_retries(Idempotency::Safe, || async {
                let rb = headers.iter().fold(self.inner.http.get(url), |rb, (k, v)| rb.header(k, v));
                self.execute("GET", &shown, rb).await
            })
            .await?;
        let len = resp.content_length();
        let body = Box::pin(resp.bytes_stream().map_err(std::io::Error::other));
        Ok(ByteStream { len, stream: Box::pin(HeldBody { body, in_flight: Some(in_flight) }) })
    }

    /// Sends a body of `len` bytes to a signed storage URL (`PUT`; `PATCH` for an ADLS append,
    /// `DELETE` to abort a multipart upload) with the credential's headers, and returns the
    /// answer's `ETag`, which an S3 multipart upload needs for each part. Not retried here, as
    /// [`Self::put_stream`].
    pub(crate) async fn send_signed(
        &self,
        method: reqwest::Method,
        url: &str,
        headers: &[(String, String)],
        len: u64,
        body: reqwest::Body,
    ) -> Result<Option<String>> {
        let name = match method {
            reqwest::Method::PATCH => "PATCH",
            reqwest::Method::DELETE => "DELETE",
            _ => "PUT",
        };
        let rb = headers
            .iter()
            .fold(self.inner.http.request(method, url), |rb, (k, v)| rb.header(k, v))
            .header(header::CONTENT_LENGTH, len)
            .body(body);
        let (resp, _in_flight) = self.execute(name, &crate::redact(url), rb).await?;
        Ok(resp.headers().get(header::ETAG).and_then(|v| v.to_str().ok()).map(str::to_string))
    }

    /// Sends one request under the in-flight limit and maps error statuses to [`Error::Api`].
    /// The answer comes with its places under the limit, for the caller to hold while it reads
    /// the body.
    async fn execute(&self, method: &'static str, url: &str, rb: RequestBuilder) -> Result<(Response, InFlight)> {
        // The pace is the server's; a signed storage URL is another service's.
        let on_server = url.strip_prefix(self.inner.base.as_str()).is_some_and(|p| p.starts_with('/'));
        if let Some(pacer) = self.inner.pacer.as_ref().filter(|_| on_server) {
            pacer.wait().await;
        }
        // Artifact uploads (PUT) and anything sent to a signed storage URL go to the artifact
        // store, not the database.
        let write = match method {
            "GET" | "PUT" => None,
            _ if !on_server => None,
            _ => Some(self.inner.writes.clone().acquire_owned().await.expect("limiter never closes")),
        };
        let slot = self.inner.limiter.clone().acquire_owned().await.expect("limiter never closes");
        let in_flight = InFlight { _slot: slot, _write: write };
        let send = |rb: RequestBuilder| async move {
            self.inner.stats.requests.fetch_add(1, Ordering::Relaxed);
            tracing::trace!(method, url, "request");
            let resp = rb.send().await.map_err(|source| Error::Transport { method, url: url.to_string(), source })?;
            self.inner.answered.store(true, Ordering::Relaxed);
            Ok::<_, Error>(resp)
        };
        // The workspace's token goes to the workspace only, never to a signed storage URL.
        let resp = match &self.inner.oauth {
            Some(oauth) if on_server => {
                // A token the workspace refuses (revoked, or expired early) is replaced once and
                // the request sent again: a 401 was not applied, creates included.
                let again = rb.try_clone();
                let token = oauth.token().await?;
                let resp = send(rb.bearer_auth(&token)).await?;
                match again {
                    Some(again) if resp.status() == reqwest::StatusCode::UNAUTHORIZED => {
                        oauth.refused(&token).await;
                        send(again.bearer_auth(oauth.token().await?)).await?
                    }
                    _ => resp,
                }
            }
            _ => send(rb).await?,
        };
        let status = resp.status();
        if status.is_success() {
            return Ok((resp, in_flight));
        }
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = resp.bytes().await.unwrap_or_default();
        let (error_code, message) = parse_error_body(&body);
        Err(Error::Api { method, url: url.to_string(), status: status.as_u16(), error_code, message, retry_after })
    }

    /// Creates an object whose create request is not safe to repeat blindly. After a failure
    /// that may be transient, `find` looks for what the lost attempt may have made (by name or
    /// by identity tags); only when it finds nothing is the create sent again, within the same
    /// retry limits as any request.
    pub async fn create_or_find<T, E, C, CF, F, FF>(&self, mut create: C, mut find: F) -> std::result::Result<T, E>
    where
        E: From<Error>,
        C: FnMut() -> CF,
        CF: std::future::Future<Output = Result<T>>,
        F: FnMut() -> FF,
        FF: std::future::Future<Output = std::result::Result<Option<T>, E>>,
    {
        let policy = self.inner.retry;
        let mut attempt = 0;
        loop {
            match create().await {
                Ok(v) => return Ok(v),
                Err(e) if e.is_transient() && attempt < policy.max_retries && !self.never_answered(&e) => {
                    if let Some(found) = find().await? {
                        return Ok(found);
                    }
                    self.pause_before_retry(&e, attempt).await;
                    attempt += 1;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A connection refused by a server that has never answered: nothing to wait for.
    fn never_answered(&self, e: &Error) -> bool {
        e.is_connection_refused() && !self.inner.answered.load(Ordering::Relaxed)
    }

    /// Waits out the backoff for retry number `attempt` (at least the server's `Retry-After`)
    /// and counts the retry. A wait of more than a second is announced, so that a job never
    /// sits silent.
    async fn pause_before_retry(&self, e: &Error, attempt: u32) {
        let delay = backoff(&self.inner.retry, attempt).max(e.retry_after().unwrap_or_default());
        if delay > Duration::from_secs(1) {
            tracing::warn!(
                "{e}; retrying in {:.1}s (retry {} of {})",
                delay.as_secs_f64(),
                attempt + 1,
                self.inner.retry.max_retries
            );
        } else {
            tracing::debug!(error = %e, attempt, ?delay, "retrying");
        }
        self.inner.stats.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(delay).await;
    }

    async fn with_retries<T, F, Fut>(&self, idempotency: Idempotency, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let policy = self.inner.retry;
        let mut attempt = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let retryable = match idempotency {
                        Idempotency::Safe => e.is_transient(),
                        Idempotency::Create => e.was_not_sent(),
                    };
                    if !retryable || attempt >= policy.max_retries || self.never_answered(&e) {
                        return Err(e);
                    }
                    self.pause_before_retry(&e, attempt).await;
                    attempt += 1;
                }
            }
        }
    }
}

fn decode<T: DeserializeOwned>(method: &'static str, url: String, bytes: &[u8]) -> Result<T> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { bytes };
    serde_json::from_slice(text).map_err(|source| Error::Decode {
        method,
        url,
        snippet: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
        source,
    })
}

/// One page of any list or search answer: the items sit under a name that depends on the
/// endpoint, the token to the next page beside them.
#[derive(serde::Deserialize)]
#[serde(bound = "T: DeserializeOwned")]
pub(crate) struct Page<T> {
    #[serde(
        default = "Vec::new",
        alias = "runs",
        alias = "experiments",
        alias = "registered_models",
        alias = "model_versions",
        alias = "metrics",
        alias = "files",
        alias = "models",
        alias = "traces",
        alias = "webhooks",
        alias = "datasets",
        alias = "privilege_assignments",
        alias = "contents"
    )]
    pub(crate) items: Vec<T>,
    #[serde(default)]
    pub(crate) next_page_token: Option<String>,
}

impl<T> Page<T> {
    /// The items of a single-page answer.
    pub(crate) fn into_items(self) -> Vec<T> {
        self.items
    }
}

/// Collects every page (see [`each_page`]).
pub(crate) async fn all_pages<T, F, Fut>(fetch: F) -> Result<Vec<T>>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    let mut out = Vec::new();
    each_page(fetch, |items| {
        out.extend(items);
        Ok::<_, Error>(())
    })
    .await?;
    Ok(out)
}

/// Hands every page's items to `take` as it arrives, following tokens until the server sends
/// none, so a caller can reduce each page before the next is read. A server that answers a
/// token with that same token has ignored it (OSS does on some listings) and sent the previous
/// page again: that repeat is dropped and the loop ends instead of running forever. A token
/// that leads back to any earlier page (A → B → A) would loop forever too, and can only be an
/// error: it is reported, not followed.
pub(crate) async fn each_page<T, E, F, Fut>(fetch: F, take: impl FnMut(Vec<T>) -> Result<(), E>) -> Result<(), E>
where
    E: From<Error>,
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    continue_pages(PageTokens::default(), fetch, take).await
}

/// [`each_page`] from where `tokens` left off.
pub(crate) async fn continue_pages<T, E, F, Fut>(
    mut tokens: PageTokens,
    mut fetch: F,
    mut take: impl FnMut(Vec<T>) -> Result<(), E>,
) -> Result<(), E>
where
    E: From<Error>,
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Page<T>>>,
{
    loop {
        let page = fetch(tokens.current()).await?;
        let next = page.next_page_token.filter(|t| !t.is_empty());
        if tokens.is_repeat(&next) {
            return Ok(());
        }
        take(page.items)?;
        if !tokens.advance(next)? {
            return Ok(());
        }
    }
}

/// The tokens of one listing, for paging loops that cannot be written as [`each_page`] (one
/// that hands each page on with an `await`): the same rules against a server that repeats or
/// cycles its tokens.
#[derive(Default)]
pub(crate) struct PageTokens {
    token: Option<String>,
    seen: std::collections::HashSet<String>,
}

impl PageTokens {
    /// The token to ask the next page with (none for the first).
    pub(crate) fn current(&self) -> Option<String> {
        self.token.clone()
    }

    /// Whether an answer whose next token is `next` is the previous page sent again (the
    /// server ignored the token): drop it, the listing is over.
    pub(crate) fn is_repeat(&self, next: &Option<String>) -> bool {
        self.token.is_some() && *next == self.token
    }

    /// Moves on to `next` (empty tokens already dropped): `false` when the listing is over; an
    /// error when `next` leads back to a page already read.
    pub(crate) fn advance(&mut self, next: Option<String>) -> Result<bool> {
        match next {
            Some(t) if !self.seen.insert(t.clone()) => Err(Error::Protocol(format!(
                "the server's paging token {t:?} leads back to a page already read; stopping instead of looping"
            ))),
            Some(t) => {
                self.token = Some(t);
                Ok(true)
            }
            None => Ok(false),
        }
    }
}

fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let exp = policy.initial_backoff.saturating_mul(1u32 << attempt.min(16));
    let capped = exp.min(policy.max_backoff);
    // Full jitter in [50%, 100%] keeps concurrent workers from retrying in lockstep.
    capped.mul_f64(0.5 + fastrand::f64() * 0.5)
}

fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        _ => "REQUEST",
    }
}

/// MLflow answers `{"error_code", "message"}`; proxies and FastAPI routes answer text, HTML or
/// `{"detail"}`. Keep what helps a user and cap its length.
fn parse_error_body(body: &[u8]) -> (Option<String>, String) {
    #[derive(serde::Deserialize)]
    struct Body {
        error_code: Option<String>,
        message: Option<String>,
        detail: Option<serde_json::Value>,
    }
    if let Ok(b) = serde_json::from_slice::<Body>(body) {
        let message = b
            .message
            .or_else(|| b.detail.map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_string)))
            .unwrap_or_default();
        return (b.error_code, message);
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let text = if text.starts_with('<') { "" } else { text };
    (None, text.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_of_every_shape() {
        assert_eq!(
            parse_error_body(br#"{"error_code":"RESOURCE_DOES_NOT_EXIST","message":"no run"}"#),
            (Some("RESOURCE_DOES_NOT_EXIST".into()), "no run".into())
        );
        assert_eq!(parse_error_body(br#"{"detail":"Invalid path"}"#), (None, "Invalid path".into()));
        assert_eq!(parse_error_body(b"<html>oops</html>"), (None, String::new()));
        assert_eq!(parse_error_body(b"Invalid Host header"), (None, "Invalid Host header".into()));
    }

    fn page(items: &[u32], next: Option<&str>) -> Page<u32> {
        Page { items: items.to_vec(), next_page_token: next.map(String::from) }
    }

    #[tokio::test]
    async fn pages_are_followed_until_no_token_or_a_repeated_one() {
        let all = all_pages(|token| async move {
            Ok(match token.as_deref() {
                None => page(&[1, 2], Some("a")),
                Some("a") => page(&[3], Some("b")),
                _ => page(&[4], Some("")),
            })
        })
        .await
        .unwrap();
        assert_eq!(all, [1, 2, 3, 4]);
        // A server that ignores tokens answers the same page again: stop, do not loop.
        let all = all_pages(|_| async { Ok(page(&[7], Some("same"))) }).await.unwrap();
        assert_eq!(all, [7]);
        // A → B → A would never end.
        let err = all_pages(|token| async move {
            Ok(match token.as_deref() {
                None | Some("b") => page(&[1], Some("a")),
                _ => page(&[2], Some("b")),
            })
        })
        .await
        .unwrap_err();
        assert!(err.to_string().contains("leads back to a page already read"), "{err}");
        let parsed: Page<u32> = serde_json::from_str(r#"{"runs": [5], "next_page_token": "t"}"#).unwrap();
        assert_eq!((parsed.items, parsed.next_page_token.as_deref()), (vec![5], Some("t")));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
        };
        assert!(backoff(&p, 0) <= Duration::from_millis(100));
        assert!(backoff(&p, 3) >= Duration::from_millis(400));
        assert!(backoff(&p, 10) <= Duration::from_secs(1));
    }
}
