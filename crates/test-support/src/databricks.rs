//! A fake Databricks workspace: the routes in which a workspace differs from an open-source
//! MLflow server (`/work/shared/docs/databricks-rest.md` §9), in front of a real `mlflow server`.
//!
//! Tracking and registry routes (`/api/2.0/mlflow/*`) are passed to the real server: the fake
//! is a front, not a model of MLflow. What Databricks changes, it changes:
//! - every route but the OAuth discovery and token routes needs `Authorization: Bearer <token>`
//!   (a configured personal access token, or an OAuth token it issued that has not expired);
//! - runs' and logged models' `artifact_uri` (and experiments' `artifact_location`) are
//!   rewritten to `dbfs:/databricks/mlflow-tracking/<exp>/<run>/artifacts` (and
//!   `.../<exp>/logged_models/<id>/artifacts`) in every answer;
//! - the open-source artifact routes (`mlflow-artifacts`, `get-artifact`) do not exist;
//! - artifacts are listed by the fake itself and moved through credentials whose signed URLs
//!   are real SigV4 presigned URLs into the shared moto S3, or (a workspace on Azure,
//!   [`DatabricksFake::start_azure`]) service SAS URLs into azurite, so the bytes really move;
//! - every answer carries `x-databricks-org-id`, and one route can be made to answer 429;
//! - experiments are named by absolute workspace paths whose folder must exist (made with
//!   `workspace/mkdirs`), and the tags a workspace sets itself may not be set by a client;
//! - a new run's user is the caller's, not the one the request names;
//! - experiments have access control lists (`/api/2.0/permissions/experiments/{id}`) whose
//!   grants name principals the workspace knows ([`FakeOptions::principals`]).
//! - notebooks live in the workspace tree: imported as SOURCE, exported in each format as
//!   bytes derived from the source ([`DatabricksFake::exported`]).
//!
//! Each request shape the fake checks is cited to the Databricks REST reference. A request of
//! the wrong shape is answered 400 and recorded ([`DatabricksFake::violations`]), so a test
//! asserts there were none.
//!
//! The fake runs its own tokio runtime on a background thread and stops when dropped.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    convert::Infallible,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{header, Method, Request, Response, StatusCode};
use object_store::{
    aws::AmazonS3, azure::MicrosoftAzure, path::Path as StorePath, signer::Signer, ObjectStore, ObjectStoreExt,
};
use serde_json::{json, Value};

use crate::{
    azurite::{Azurite, AZURITE_ACCOUNT, AZURITE_KEY},
    background::{accept_until, Background},
    moto::{Moto, MOTO_ACCESS_KEY, MOTO_REGION},
};

/// The workspace id the fake answers in `x-databricks-org-id`.
pub const ORG_ID: &str = "1234567890123456";

/// The user whose home folder (`/Users/<USER>`) the workspace starts with.
pub const USER: &str = "me@example.com";

/// The group every object's access control list holds a grant for, inherited from the root
/// folder (as a workspace's `admins` group has).
pub const ADMINS: &str = "admins";

/// The levels an experiment's grant may have (databricks-rest.md §7.1).
const EXPERIMENT_LEVELS: [&str; 3] = ["CAN_READ", "CAN_EDIT", "CAN_MANAGE"];
/// The levels a workspace registry model takes (databricks-rest.md §7.1; Databricks REST
/// reference `/api/workspace/modelregistry/getpermissionlevels`).
const MODEL_LEVELS: [&str; 5] =
    ["CAN_READ", "CAN_EDIT", "CAN_MANAGE_STAGING_VERSIONS", "CAN_MANAGE_PRODUCTION_VERSIONS", "CAN_MANAGE"];

/// Tags a client may not set in a workspace, on runs or experiments (databricks-rest.md §6,
/// "Tags the Python tool drops when the target is Databricks"): setting one is a violation.
const SYSTEM_TAGS: [&str; 5] = [
    "mlflow.user",
    "mlflow.log-model.history",
    "mlflow.rootRunId",
    "mlflow.experiment.sourceType",
    "mlflow.experiment.sourceId",
];

/// How a fake workspace behaves.
#[derive(Debug, Clone)]
pub struct FakeOptions {
    /// Personal access tokens accepted as `Bearer`.
    pub tokens: Vec<String>,
    /// The OAuth service principal `(client_id, client_secret)` the token route accepts.
    pub client: Option<(String, String)>,
    /// Lifetime of the OAuth tokens issued, in seconds.
    pub expires_in: u64,
    /// The first OAuth token issued is refused from its first use, as a revoked one would be:
    /// the client must ask for a fresh token on a 401, not only before expiry.
    pub revoke_first_token: bool,
    /// Entries per `artifacts/list` page (tiny, so that clients must follow `next_page_token`).
    pub page_size: usize,
    /// The first `n` requests whose path holds this text are answered 429
    /// `REQUEST_LIMIT_EXCEEDED` with `Retry-After: 1`.
    pub throttle: Option<(String, u64)>,
    /// The users, groups and service principals the workspace knows: a grant to another is
    /// refused, as a workspace refuses a principal it does not have.
    pub principals: Vec<String>,
    /// On Azure, write credentials are ADLS Gen2 SAS URLs (`AZURE_ADLS_GEN2_SAS_URI`) into a
    /// DFS endpoint the fake serves itself (azurite has none), which keeps each file in azurite
    /// once flushed.
    pub adls: bool,
    /// Unity Catalog's temporary credentials are GCP OAuth tokens, as on a GCP workspace (the
    /// storage location stays where it is: nothing can be written with them).
    pub uc_gcp: bool,
    /// Unity Catalog versions are kept in the workspace's default storage: written through
    /// `fs/create-upload-url` presigned URLs, not with a cloud credential.
    pub uc_default_storage: bool,
}

impl Default for FakeOptions {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            client: None,
            expires_in: 3600,
            revoke_first_token: false,
            page_size: 2,
            throttle: None,
            principals: vec![USER.to_string(), ADMINS.to_string()],
            adls: false,
            uc_gcp: false,
            uc_default_storage: false,
        }
    }
}

/// Counters a test can assert on.
#[derive(Debug, Default)]
pub struct FakeCounts {
    /// OAuth tokens issued.
    pub tokens_issued: AtomicU64,
    /// Requests refused because their OAuth token had expired (or was revoked).
    pub expired_refused: AtomicU64,
    /// Requests answered 429 by [`FakeOptions::throttle`].
    pub throttled: AtomicU64,
    /// `credentials-for-read` and `credentials-for-write` calls.
    pub read_credentials: AtomicU64,
    pub write_credentials: AtomicU64,
    /// `workspace/import` calls that wrote a notebook.
    pub notebook_imports: AtomicU64,
    /// `create-multipart-upload` calls, and multipart uploads completed.
    pub multipart_created: AtomicU64,
    pub multipart_completed: AtomicU64,
    /// Unity Catalog versions created, finalized, and read-write credentials given out.
    pub uc_created: AtomicU64,
    pub uc_finalized: AtomicU64,
    pub uc_write_credentials: AtomicU64,
}

/// A notebook in the workspace: its language and SOURCE bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeNotebook {
    pub language: String,
    pub source: Vec<u8>,
}

/// The formats `workspace/export` serves (databricks-rest.md §5.1; names are case-sensitive).
const EXPORT_FORMATS: [&str; 4] = ["SOURCE", "HTML", "JUPYTER", "DBC"];
/// The languages `workspace/import` takes for a SOURCE notebook (databricks-rest.md §5.1).
const LANGUAGES: [&str; 4] = ["PYTHON", "SCALA", "SQL", "R"];

struct State {
    url: String,
    upstream: String,
    options: FakeOptions,
    http: reqwest::Client,
    storage: Storage,
    /// Key prefix of this workspace's artifacts in the moto bucket (or azurite container).
    prefix: String,
    issued: Mutex<HashMap<String, Instant>>,
    /// The workspace's folders (databricks-rest.md §5.1).
    folders: Mutex<BTreeSet<String>>,
    /// Direct grants by object (`experiments/<id>`, `registered-models/<id>`).
    grants: Mutex<HashMap<String, Grants>>,
    /// The workspace ids of registered models, by name, given out on first sight.
    model_ids: Mutex<BTreeMap<String, String>>,
    /// The workspace's notebooks by path.
    notebooks: Mutex<BTreeMap<String, FakeNotebook>>,
    /// The DFS endpoint of [`FakeOptions::adls`], and the files created there but not yet
    /// flushed: their bytes and the metadata value they were created with.
    dfs_url: Option<String>,
    staged: Mutex<HashMap<String, StagedFile>>,
    /// Unity Catalog versions created and not yet finalized, as (name, version).
    uc_pending: Mutex<BTreeSet<(String, String)>>,
    /// Direct Unity Catalog grants by model: principal → privileges.
    uc_grants: Mutex<HashMap<String, BTreeMap<String, BTreeSet<String>>>>,
    violations: Mutex<Vec<String>>,
    counts: FakeCounts,
}

/// A file created at the DFS endpoint and not yet flushed: its bytes so far, and the metadata
/// value it was created with.
type StagedFile = (Vec<u8>, Option<String>);

/// Where a workspace keeps its artifacts, and how it signs URLs into it.
enum Storage {
    /// The shared moto bucket: SigV4 presigned URLs (`AWS_PRESIGNED_URL`). `multipart` is a
    /// client of the same bucket that asks for SSE-S3 when it starts a multipart upload, as the
    /// single uploads' credentials do.
    S3 { store: AmazonS3, multipart: AmazonS3, bucket: String },
    /// The shared azurite container: service SAS URLs (`AZURE_SAS_URI`).
    Azure { store: MicrosoftAzure, blob_endpoint: String, container: String },
}

impl Storage {
    fn store(&self) -> &dyn ObjectStore {
        match self {
            Storage::S3 { store, .. } => store,
            Storage::Azure { store, .. } => store,
        }
    }

    /// The client the workspace writes its own files with: on S3, encrypted (SSE-S3) as the
    /// files its write credentials let clients put.
    fn writer(&self) -> &dyn ObjectStore {
        match self {
            Storage::S3 { multipart, .. } => multipart,
            Storage::Azure { store, .. } => store,
        }
    }
}

/// The metadata header an Azure write credential carries, which the client must send with the
/// block list (databricks-rest.md §2.3 "Headers"; `x-ms-meta-*` is one of Put Block List's).
pub const AZURE_METADATA: (&str, &str) = ("x-ms-meta-writtenby", "fake-workspace");

/// A running fake workspace; `url` is its host (`DATABRICKS_HOST`).
pub struct DatabricksFake {
    pub url: String,
    /// Where run `R`'s artifacts are in moto: `<prefix>/<R>/artifacts/<path>` of [`Moto::bucket`].
    pub prefix: String,
    state: Arc<State>,
    _serving: Vec<Background>,
}

type Body = BoxBody<Bytes, std::io::Error>;

/// An object's direct grants: (principal key, principal) → level.
type Grants = BTreeMap<(String, String), String>;

impl DatabricksFake {
    /// Starts a workspace on a free loopback port in front of the MLflow server at `upstream`,
    /// keeping artifacts in `moto` under a prefix of its own.
    pub fn start(upstream: &str, moto: &Moto, options: FakeOptions) -> DatabricksFake {
        Self::start_on(upstream, &moto.endpoint_url, &moto.bucket, options)
    }

    /// A workspace on Azure: [`Self::start`] with the artifacts in azurite's container, moved
    /// through SAS URLs.
    pub fn start_azure(upstream: &str, azurite: &Azurite, options: FakeOptions) -> DatabricksFake {
        let store = object_store::azure::MicrosoftAzureBuilder::new()
            .with_account(AZURITE_ACCOUNT)
            .with_access_key(AZURITE_KEY)
            .with_container_name(&azurite.container)
            .with_endpoint(azurite.blob_endpoint.clone())
            .with_allow_http(true)
            .build()
            .expect("an Azure client for azurite");
        let storage = Storage::Azure {
            store,
            blob_endpoint: azurite.blob_endpoint.clone(),
            container: azurite.container.clone(),
        };
        Self::start_with(upstream, storage, options)
    }

    /// [`Self::start`] with the S3 endpoint and bucket given.
    fn start_on(upstream: &str, s3_endpoint: &str, bucket: &str, options: FakeOptions) -> DatabricksFake {
        let builder = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(MOTO_REGION)
            .with_access_key_id(MOTO_ACCESS_KEY)
            .with_secret_access_key(MOTO_ACCESS_KEY)
            .with_endpoint(s3_endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false);
        let store = builder.clone().build().expect("an S3 client for moto");
        let sse = "aws_server_side_encryption".parse().expect("a known key");
        let multipart = builder.with_config(sse, "AES256").build().expect("an S3 client for moto");
        Self::start_with(upstream, Storage::S3 { store, multipart, bucket: bucket.to_string() }, options)
    }

    fn start_with(upstream: &str, storage: Storage, options: FakeOptions) -> DatabricksFake {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let prefix = crate::unique_name("dbx");
        let dfs = (options.adls && matches!(storage, Storage::Azure { .. })).then(|| {
            let dfs = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
            dfs.set_nonblocking(true).expect("non-blocking listener");
            dfs
        });
        let dfs_url = dfs.as_ref().map(|l| format!("http://{}", l.local_addr().expect("local address")));
        let state = Arc::new(State {
            url: url.clone(),
            upstream: upstream.trim_end_matches('/').to_string(),
            options,
            http: reqwest::Client::builder().no_proxy().build().expect("HTTP client"),
            storage,
            prefix: prefix.clone(),
            issued: Mutex::default(),
            grants: Mutex::default(),
            model_ids: Mutex::default(),
            folders: Mutex::new(["/", "/Users", "/Shared", &format!("/Users/{USER}")].map(String::from).into()),
            notebooks: Mutex::default(),
            dfs_url,
            staged: Mutex::default(),
            uc_pending: Mutex::default(),
            uc_grants: Mutex::default(),
            violations: Mutex::default(),
            counts: FakeCounts::default(),
        });
        let serving = state.clone();
        let mut _serving = vec![Background::spawn(move |stopped| serve(listener, serving, stopped, false))];
        if let Some(dfs) = dfs {
            let serving = state.clone();
            _serving.push(Background::spawn(move |stopped| serve(dfs, serving, stopped, true)));
        }
        DatabricksFake { url, prefix, state, _serving }
    }

    /// Requests whose shape broke the reference, one line each; empty when all were right.
    pub fn violations(&self) -> Vec<String> {
        self.state.violations.lock().expect("poisoned").clone()
    }

    pub fn counts(&self) -> &FakeCounts {
        &self.state.counts
    }

    /// Grants `level` on experiment `id` to `principal` (`key`: `user_name`, `group_name` or
    /// `service_principal_name`), as an owner would in the workspace's UI.
    pub fn grant(&self, id: &str, key: &str, principal: &str, level: &str) {
        let mut grants = self.state.grants.lock().expect("poisoned");
        grants.entry(format!("experiments/{id}")).or_default().insert((key.into(), principal.into()), level.into());
    }

    /// The direct grants of experiment `id`, as `principal: LEVEL`, sorted.
    pub fn direct_grants(&self, id: &str) -> Vec<String> {
        self.state.direct_grants(&format!("experiments/{id}"))
    }

    /// Grants `level` on registered model `name` to `principal`, as [`DatabricksFake::grant`].
    pub fn grant_model(&self, name: &str, key: &str, principal: &str, level: &str) {
        let object = format!("registered-models/{}", self.state.model_id(name));
        let mut grants = self.state.grants.lock().expect("poisoned");
        grants.entry(object).or_default().insert((key.into(), principal.into()), level.into());
    }

    /// The direct grants of registered model `name`, as `principal: LEVEL`, sorted.
    pub fn model_grants(&self, name: &str) -> Vec<String> {
        self.state.direct_grants(&format!("registered-models/{}", self.state.model_id(name)))
    }

    /// Grants `privileges` on Unity Catalog model `name` to `principal`, as an owner would have.
    pub fn grant_uc(&self, name: &str, principal: &str, privileges: &[&str]) {
        let mut grants = self.state.uc_grants.lock().expect("poisoned");
        let held = grants.entry(name.to_string()).or_default().entry(principal.to_string()).or_default();
        held.extend(privileges.iter().map(|p| p.to_string()));
    }

    /// The direct Unity Catalog grants on model `name`, as `principal: PRIVILEGE, …`, sorted.
    pub fn uc_grants(&self, name: &str) -> Vec<String> {
        let grants = self.state.uc_grants.lock().expect("poisoned");
        grants
            .get(name)
            .into_iter()
            .flatten()
            .map(|(principal, privileges)| {
                format!("{principal}: {}", privileges.iter().cloned().collect::<Vec<_>>().join(", "))
            })
            .collect()
    }

    /// Puts a notebook at absolute `path`, making its folders, as a user would have.
    pub fn put_notebook(&self, path: &str, language: &str, source: &[u8]) {
        let folder = path.rsplit_once('/').map_or("/", |(f, _)| f);
        add_folders(&mut self.state.folders.lock().expect("poisoned"), folder);
        let notebook = FakeNotebook { language: language.into(), source: source.to_vec() };
        self.state.notebooks.lock().expect("poisoned").insert(path.into(), notebook);
    }

    /// The notebook at `path`, if any.
    pub fn notebook(&self, path: &str) -> Option<FakeNotebook> {
        self.state.notebooks.lock().expect("poisoned").get(path).cloned()
    }

    /// The bytes `workspace/export` serves for the notebook at `path` in `format`.
    pub fn exported(&self, path: &str, format: &str) -> Option<Vec<u8>> {
        self.notebook(path).map(|n| render(path, &n, format))
    }

    /// Whether the workspace keeps its artifacts in azurite ([`Self::start_azure`]), not moto.
    pub fn on_azure(&self) -> bool {
        matches!(self.state.storage, Storage::Azure { .. })
    }

    /// The moto key (azurite blob name) of file `path` of logged model `model_id`.
    pub fn model_key(&self, model_id: &str, path: &str) -> String {
        format!("{}/models/{model_id}/artifacts/{path}", self.prefix)
    }

    /// The moto key (azurite blob name) of file `path` of run `run_id`.
    pub fn key(&self, run_id: &str, path: &str) -> String {
        format!("{}/{run_id}/artifacts/{path}", self.prefix)
    }

    /// The moto key (azurite blob name) of file `path` below Unity Catalog volume folder
    /// `folder` (`/Volumes/<catalog>/<schema>/<volume>/...`).
    pub fn volume_key(&self, folder: &str, path: &str) -> String {
        format!("{}/volumes/{}/{path}", self.prefix, folder.trim_start_matches("/Volumes/").trim_end_matches('/'))
    }

    /// The moto key of file `path` of Unity Catalog version `version` of `name`.
    pub fn uc_key(&self, name: &str, version: &str, path: &str) -> String {
        uc_folder(&self.prefix, name, version) + path
    }

    /// The Unity Catalog versions created and not finalized.
    pub fn uc_pending(&self) -> Vec<(String, String)> {
        self.state.uc_pending.lock().expect("poisoned").iter().cloned().collect()
    }
}

/// Serves the workspace's routes, or (`dfs`) the storage endpoint of [`FakeOptions::adls`].
async fn serve(
    listener: std::net::TcpListener,
    state: Arc<State>,
    stopped: tokio::sync::oneshot::Receiver<()>,
    dfs: bool,
) {
    accept_until(listener, stopped, move |stream| {
        let state = state.clone();
        async move {
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move {
                    if dfs {
                        return Ok::<_, Infallible>(adls(&state, req).await);
                    }
                    let mut answer = handle(&state, req).await;
                    // Every workspace answer names the workspace (databricks-rest.md §0,
                    // "Workspace id"; mlflow `_unity_catalog/lineage/constants.py`).
                    answer.headers_mut().insert("x-databricks-org-id", header::HeaderValue::from_static(ORG_ID));
                    Ok::<_, Infallible>(answer)
                }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        }
    })
    .await;
}

/// The error body of every Databricks route (databricks-rest.md §0 "Error body", §8).
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_answer(status, &json!({"error_code": code, "message": message}))
}

fn json_answer(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(Bytes::from(body.to_string())))
        .expect("a valid answer")
}

fn full(bytes: Bytes) -> Body {
    BodyExt::boxed(Full::new(bytes).map_err(|never: Infallible| match never {}))
}

impl State {
    /// The workspace id of registered model `name` (32 hex digits, as a workspace's look).
    fn model_id(&self, name: &str) -> String {
        let mut ids = self.model_ids.lock().expect("poisoned");
        let next = ids.len() + 1;
        ids.entry(name.to_string()).or_insert_with(|| format!("{next:032x}")).clone()
    }

    fn direct_grants(&self, object: &str) -> Vec<String> {
        let grants = self.grants.lock().expect("poisoned");
        let mut out: Vec<String> = grants
            .get(object)
            .into_iter()
            .flatten()
            .map(|((_, principal), level)| format!("{principal}: {level}"))
            .collect();
        out.sort();
        out
    }

    /// Records a request that broke the reference and answers it 400.
    fn violation(&self, what: String) -> Response<Body> {
        self.violations.lock().expect("poisoned").push(what.clone());
        error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", &format!("fake workspace: {what}"))
    }
}

async fn handle(state: &State, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "unreadable body");
    };
    let path = parts.uri.path().to_string();
    let query: HashMap<String, String> =
        parts.uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    match (&parts.method, path.as_str()) {
        (&Method::GET, "/.well-known/databricks-config") => return host_metadata(state),
        (&Method::GET, "/oidc/.well-known/oauth-authorization-server") => return oidc_discovery(state),
        (&Method::POST, "/oidc/v1/token") => return token(state, &parts.headers, &body),
        _ => {}
    }
    if let Some(refused) = authenticate(state, &parts.headers) {
        return refused;
    }
    if let Some((route, n)) = &state.options.throttle {
        if path.contains(route.as_str()) && state.counts.throttled.fetch_add(1, Ordering::Relaxed) < *n {
            // databricks-rest.md §8: 429 `REQUEST_LIMIT_EXCEEDED`, retry after `Retry-After`.
            let mut r = error(StatusCode::TOO_MANY_REQUESTS, "REQUEST_LIMIT_EXCEEDED", "fake workspace: throttled");
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return r;
        }
    }
    match (&parts.method, path.as_str()) {
        (&Method::GET, "/api/2.0/mlflow/artifacts/list") => list_run_artifacts(state, &query).await,
        (&Method::POST, "/api/2.0/mlflow/artifacts/credentials-for-read") => {
            state.counts.read_credentials.fetch_add(1, Ordering::Relaxed);
            run_credentials(state, &body, Method::GET).await
        }
        (&Method::POST, "/api/2.0/mlflow/artifacts/credentials-for-write") => {
            state.counts.write_credentials.fetch_add(1, Ordering::Relaxed);
            run_credentials(state, &body, Method::PUT).await
        }
        (&Method::POST, "/api/2.0/mlflow/artifacts/create-multipart-upload") => create_multipart(state, &body).await,
        (&Method::GET, "/api/2.0/mlflow/artifacts/get-presigned-upload-part-url") => part_url(state, &query).await,
        (&Method::POST, "/api/2.0/mlflow/artifacts/complete-multipart-upload") => {
            complete_multipart(state, &body).await
        }
        _ if path.starts_with("/api/2.0/mlflow/logged-models/") && path.contains("/artifacts/") => {
            let rest = path.trim_start_matches("/api/2.0/mlflow/logged-models/");
            let (id, route) = rest.split_once("/artifacts/").unwrap_or_default();
            match (&parts.method, route) {
                (&Method::GET, "directories") => list_model_artifacts(state, id, &query).await,
                (&Method::POST, "credentials-for-download") => {
                    state.counts.read_credentials.fetch_add(1, Ordering::Relaxed);
                    model_credentials(state, id, &body, Method::GET).await
                }
                (&Method::POST, "credentials-for-upload") => {
                    state.counts.write_credentials.fetch_add(1, Ordering::Relaxed);
                    model_credentials(state, id, &body, Method::PUT).await
                }
                // The open-source `artifacts/files` download is not a workspace route.
                _ => error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", &format!("no API found for '{path}'")),
            }
        }
        // The open-source artifact routes are not part of the workspace API (databricks-rest.md
        // §2.1: Databricks documents only the credentials routes for run artifacts).
        _ if path.starts_with("/api/2.0/mlflow-artifacts")
            || path.ends_with("/get-artifact")
            || path.starts_with("/ajax-api/2.0/mlflow/logged-models/") =>
        {
            error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", &format!("no API found for '{path}'"))
        }
        (&Method::POST, "/api/2.0/workspace/mkdirs") => mkdirs(state, &body),
        _ if path.starts_with("/api/2.0/permissions/") => permissions(state, &parts.method, &path, &body),
        (&Method::GET, "/api/2.0/mlflow/databricks/registered-models/get") => {
            databricks_model(state, &params(&query, &body), parts).await
        }
        (&Method::GET, "/api/2.0/workspace/get-status") => get_status(state, &params(&query, &body)),
        (&Method::GET, "/api/2.0/workspace/export") => export_notebook(state, &params(&query, &body)),
        (&Method::POST, "/api/2.0/workspace/import") => import_notebook(state, &body),
        _ if path.starts_with(UC_ROUTES) => unity_catalog(state, parts, &query, body).await,
        (&Method::POST, "/api/2.0/fs/create-upload-url") => create_upload_url(state, &body).await,
        _ if path.starts_with(VOLUME_FILES) || path.starts_with(VOLUME_DIRECTORIES) => {
            volume_files(state, &parts, &query, body).await
        }
        _ if path.starts_with(UC_GRANTS) || path.starts_with(UC_EFFECTIVE_GRANTS) => {
            uc_grants(state, &parts.method, &path, &query, &body)
        }
        (&Method::POST, "/api/2.0/mlflow/experiments/create") => match missing_folder(state, &body) {
            Some(refused) => refused,
            None => checked_forward(state, parts, body).await,
        },
        _ if path.starts_with("/api/2.0/mlflow/") => checked_forward(state, parts, body).await,
        _ => error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", &format!("no API found for '{path}'")),
    }
}

/// `GET /.well-known/databricks-config` (databricks-rest.md §1.2 step 1, databricks-sdk
/// `config.py` `_resolve_host_metadata`).
fn host_metadata(state: &State) -> Response<Body> {
    json_answer(StatusCode::OK, &json!({"oidc_endpoint": format!("{}/oidc", state.url), "workspace_id": ORG_ID}))
}

/// `GET {host}/oidc/.well-known/oauth-authorization-server` (databricks-rest.md §1.2 step 2,
/// docs `/aws/en/dev-tools/auth/oauth-m2m`).
fn oidc_discovery(state: &State) -> Response<Body> {
    json_answer(
        StatusCode::OK,
        &json!({
            "authorization_endpoint": format!("{}/oidc/v1/authorize", state.url),
            "token_endpoint": format!("{}/oidc/v1/token", state.url),
        }),
    )
}

/// `POST /oidc/v1/token`: form body `grant_type=client_credentials&scope=all-apis`, client id
/// and secret as Basic auth (databricks-rest.md §1.2 step 3, docs
/// `/aws/en/dev-tools/auth/oauth-m2m`, databricks-sdk `oauth.py` `ClientCredentials`).
fn token(state: &State, headers: &hyper::HeaderMap, body: &[u8]) -> Response<Body> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return state.violation(format!("token request with Content-Type {content_type:?}"));
    }
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return state.violation(format!("token request without grant_type=client_credentials: {form:?}"));
    }
    if form.get("scope").is_none_or(|s| s.is_empty()) {
        return state.violation("token request without a scope".into());
    }
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64_decode(b.trim()))
        .and_then(|b| String::from_utf8(b).ok());
    let Some((id, secret)) = basic.as_deref().and_then(|b| b.split_once(':')) else {
        return state.violation("token request without Basic client credentials".into());
    };
    let accepted = state.options.client.as_ref().is_some_and(|(i, s)| i == id && s == secret);
    if !accepted {
        return json_answer(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        );
    }
    let n = state.counts.tokens_issued.fetch_add(1, Ordering::Relaxed);
    let access = format!("oauth-{}-{n}", crate::unique_name("tok"));
    let expiry = if n == 0 && state.options.revoke_first_token {
        Instant::now()
    } else {
        Instant::now() + Duration::from_secs(state.options.expires_in)
    };
    state.issued.lock().expect("poisoned").insert(access.clone(), expiry);
    json_answer(
        StatusCode::OK,
        &json!({"access_token": access, "token_type": "Bearer", "expires_in": state.options.expires_in, "scope": "all-apis"}),
    )
}

/// `Authorization: Bearer <token>` on every workspace call (databricks-rest.md §1.1, §9.1):
/// `None` when the token is a known PAT or an unexpired OAuth token, else the 401 answer.
fn authenticate(state: &State, headers: &hyper::HeaderMap) -> Option<Response<Body>> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    let refuse = |why: &str| Some(error(StatusCode::UNAUTHORIZED, "UNAUTHENTICATED", why));
    let Some(token) = bearer else { return refuse("Credential was not sent or was of an unsupported type") };
    if state.options.tokens.iter().any(|t| t == token) {
        return None;
    }
    match state.issued.lock().expect("poisoned").get(token) {
        Some(expiry) if *expiry > Instant::now() => None,
        Some(_) => {
            state.counts.expired_refused.fetch_add(1, Ordering::Relaxed);
            refuse("Token expired")
        }
        None => refuse("Invalid access token"),
    }
}

/// Whose artifacts a request is about: a run's live under `<prefix>/<run>/artifacts`, a logged
/// model's under `<prefix>/models/<id>/artifacts`.
#[derive(Debug, Clone, Copy)]
enum Owner<'a> {
    Run(&'a str),
    Model(&'a str),
    /// A Unity Catalog version in the workspace's default storage: (name, version).
    UcVersion(&'a str, &'a str),
}

impl Owner<'_> {
    fn root(&self, state: &State) -> String {
        match self {
            Owner::Run(run) => format!("{}/{run}/artifacts", state.prefix),
            Owner::Model(id) => format!("{}/models/{id}/artifacts", state.prefix),
            Owner::UcVersion(name, version) => uc_folder(&state.prefix, name, version).trim_end_matches('/').into(),
        }
    }

    fn root_uri(&self) -> String {
        match self {
            Owner::Run(run) => format!("dbfs:/databricks/mlflow-tracking/0/{run}/artifacts"),
            Owner::Model(id) => format!("dbfs:/databricks/mlflow-tracking/0/logged_models/{id}/artifacts"),
            Owner::UcVersion(name, version) => format!("/Models/{}/{version}", name.replace('.', "/")),
        }
    }
}

/// `GET /api/2.0/mlflow/artifacts/list` with `run_id` (required), `path`, `page_token`
/// (databricks-rest.md §2.2; docs `/api/workspace/experiments/listartifacts`).
async fn list_run_artifacts(state: &State, query: &HashMap<String, String>) -> Response<Body> {
    let Some(run_id) = query.get("run_id").filter(|r| is_id(r)) else {
        return state.violation(format!("artifacts/list without a run_id: {query:?}"));
    };
    list_artifacts(state, Owner::Run(run_id), query.get("path"), query).await
}

/// `GET /api/2.0/mlflow/logged-models/{model_id}/artifacts/directories` with
/// `artifact_directory_path`, `page_token` (databricks-rest.md §2.2: the same answer as a run's
/// listing; MLflow `ListLoggedModelArtifacts`).
async fn list_model_artifacts(state: &State, model_id: &str, query: &HashMap<String, String>) -> Response<Body> {
    if !is_id(model_id) {
        return state.violation(format!("logged model artifacts of {model_id:?}"));
    }
    list_artifacts(state, Owner::Model(model_id), query.get("artifact_directory_path"), query).await
}

/// A listing of folder `dir` of `owner`'s artifacts: entries root-relative, pages of
/// [`FakeOptions::page_size`] entries.
async fn list_artifacts(
    state: &State,
    owner: Owner<'_>,
    dir: Option<&String>,
    query: &HashMap<String, String>,
) -> Response<Body> {
    let dir = dir.map(|p| p.trim_matches('/').to_string()).unwrap_or_default();
    if !is_relative(&dir) {
        return state.violation(format!("artifacts listing of a path outside {owner:?}: {dir:?}"));
    }
    let root = owner.root(state);
    let prefix = if dir.is_empty() { root.clone() } else { format!("{root}/{dir}") };
    let listed = match state
        .storage
        .store()
        .list_with_delimiter(Some(&StorePath::parse(prefix.as_str()).unwrap_or_default()))
        .await
    {
        Ok(l) => l,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()),
    };
    let rel = |p: &StorePath| p.as_ref().strip_prefix(&format!("{root}/")).unwrap_or_default().to_string();
    let mut entries: Vec<Value> = listed
        .common_prefixes
        .iter()
        .map(|p| json!({"path": rel(p), "is_dir": true}))
        .chain(listed.objects.iter().map(|o| json!({"path": rel(&o.location), "is_dir": false, "file_size": o.size})))
        .collect();
    entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
    // A file's path lists that one file (databricks-rest.md §2.2, "single-file quirk").
    if entries.is_empty() && !dir.is_empty() {
        if let Ok(meta) = state.storage.store().head(&StorePath::parse(prefix.as_str()).unwrap_or_default()).await {
            entries.push(json!({"path": dir, "is_dir": false, "file_size": meta.size}));
        }
    }
    let start: usize = query.get("page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let end = (start + state.options.page_size.max(1)).min(entries.len());
    let mut answer = json!({"root_uri": owner.root_uri(), "files": entries.get(start..end).unwrap_or_default()});
    if end < entries.len() {
        answer["next_page_token"] = json!(end.to_string());
    }
    json_answer(StatusCode::OK, &answer)
}

/// `POST /api/2.0/mlflow/artifacts/credentials-for-read|write`: `{"run_id", "path": [..],
/// "page_token"}` → one `ArtifactCredentialInfo` per path, in request order
/// (databricks-rest.md §2.3, `mlflow/protos/databricks_artifacts_pb2.py`
/// `GetCredentialsForRead`/`GetCredentialsForWrite`; docs
/// `/api/workspace/experiments/getcredentialsforread`).
async fn run_credentials(state: &State, body: &[u8], method: Method) -> Response<Body> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return state.violation("credentials request body is not JSON".into());
    };
    let Some(run_id) = req["run_id"].as_str().filter(|r| is_id(r)) else {
        return state.violation(format!("credentials request without run_id: {req}"));
    };
    let Some(paths) = req["path"].as_array() else {
        return state.violation(format!("credentials request without a `path` list: {req}"));
    };
    let infos = match credentials(state, Owner::Run(run_id), paths, method).await {
        Ok(infos) => infos,
        Err(refused) => return refused,
    };
    json_answer(StatusCode::OK, &json!({"credential_infos": infos}))
}

/// `POST /api/2.0/mlflow/logged-models/{model_id}/artifacts/credentials-for-download|upload`:
/// `{"paths": [..], "page_token"}` (plural, unlike a run's) → `{"credentials": [{"model_id",
/// "credential_info"}]}`, one per path in request order (databricks-rest.md §2.3, MLflow
/// `GetCredentialsForLoggedModelDownload`/`Upload`).
async fn model_credentials(state: &State, model_id: &str, body: &[u8], method: Method) -> Response<Body> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return state.violation("credentials request body is not JSON".into());
    };
    if !is_id(model_id) {
        return state.violation(format!("credentials request for logged model {model_id:?}"));
    }
    let Some(paths) = req["paths"].as_array() else {
        return state.violation(format!("logged model credentials request without a `paths` list: {req}"));
    };
    let infos = match credentials(state, Owner::Model(model_id), paths, method).await {
        Ok(infos) => infos,
        Err(refused) => return refused,
    };
    let credentials: Vec<Value> =
        infos.into_iter().map(|info| json!({"model_id": model_id, "credential_info": info})).collect();
    json_answer(StatusCode::OK, &json!({"credentials": credentials}))
}

/// One `ArtifactCredentialInfo` per path of `owner`'s artifacts. Signed URLs are SigV4
/// presigned URLs into moto, or SAS URLs into azurite (ADLS ones into the fake's own DFS
/// endpoint); write credentials carry a header the client must send (§2.3 "Headers").
async fn credentials(
    state: &State,
    owner: Owner<'_>,
    paths: &[Value],
    method: Method,
) -> Result<Vec<Value>, Response<Body>> {
    if paths.is_empty() || paths.len() > 2000 {
        return Err(state.violation(format!("credentials request for {} paths (1 to 2000)", paths.len())));
    }
    let root = owner.root(state);
    let mut infos = Vec::new();
    for p in paths {
        let Some(path) = p.as_str().filter(|p| is_relative(p) && !p.is_empty()) else {
            return Err(state.violation(format!("credentials request for path {p}")));
        };
        // `parse`, not `from`: the key is the path as given, not percent-encoded once more.
        let Ok(key) = StorePath::parse(format!("{root}/{path}")) else {
            return Err(state.violation(format!("credentials request for path {path:?}")));
        };
        let mut info = match &state.storage {
            Storage::S3 { store: s3, .. } => {
                let mut headers = Vec::new();
                let mut opts = object_store::signer::SignedUrlOptions::default();
                if method == Method::PUT {
                    headers.push(json!({"name": "x-amz-server-side-encryption", "value": "AES256"}));
                    opts = opts.with_signed_header(
                        header::HeaderName::from_static("x-amz-server-side-encryption"),
                        header::HeaderValue::from_static("AES256"),
                    );
                }
                let url = match s3.signed_url_opts(method.clone(), &key, Duration::from_secs(900), &opts).await {
                    Ok(u) => u,
                    Err(e) => return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string())),
                };
                json!({"signed_uri": url.to_string(), "headers": headers, "type": "AWS_PRESIGNED_URL"})
            }
            Storage::Azure { blob_endpoint, container, .. } => {
                // Read, or create and write (databricks-rest.md §2.6: blocks, then the list).
                let (permissions, headers) = if method == Method::PUT {
                    ("cw", vec![json!({"name": AZURE_METADATA.0, "value": AZURE_METADATA.1})])
                } else {
                    ("r", Vec::new())
                };
                match (&state.dfs_url, method == Method::PUT) {
                    (Some(dfs), true) => {
                        let url = blob_url(dfs, container, key.as_ref());
                        let sas = format!("sv=2021-08-06&sr=b&sp=cw&sig={ADLS_SIGNATURE}");
                        json!({"signed_uri": format!("{url}?{sas}"), "headers": headers, "type": "AZURE_ADLS_GEN2_SAS_URI"})
                    }
                    _ => {
                        let url = blob_url(blob_endpoint, container, key.as_ref());
                        let sas = service_sas(container, Some(key.as_ref()), permissions);
                        json!({"signed_uri": format!("{url}?{sas}"), "headers": headers, "type": "AZURE_SAS_URI"})
                    }
                }
            }
        };
        if let Owner::Run(run_id) = owner {
            info["run_id"] = json!(run_id);
            info["path"] = json!(path);
        }
        infos.push(info);
    }
    Ok(infos)
}

/// The moto key of file `path` of run `run_id` and the S3 clients, for a multipart request
/// naming them; a violation when the workspace is not on S3 or the names are wrong.
fn multipart_target<'a>(
    state: &'a State,
    run_id: Option<&str>,
    path: Option<&str>,
) -> Result<(StorePath, &'a AmazonS3, &'a AmazonS3), Box<Response<Body>>> {
    let Storage::S3 { store, multipart, .. } = &state.storage else {
        return Err(Box::new(state.violation("a multipart upload into a workspace whose storage is not S3".into())));
    };
    let (Some(run_id), Some(path)) = (run_id.filter(|r| is_id(r)), path.filter(|p| is_relative(p) && !p.is_empty()))
    else {
        return Err(Box::new(state.violation(format!("a multipart request for run {run_id:?}, path {path:?}"))));
    };
    match StorePath::parse(format!("{}/{path}", Owner::Run(run_id).root(state))) {
        Ok(key) => Ok((key, store, multipart)),
        Err(_) => Err(Box::new(state.violation(format!("a multipart request for path {path:?}")))),
    }
}

/// A SigV4 presigned URL for a `PUT` (or `DELETE`) of `key` with the multipart query `query`
/// signed in (`partNumber`, `uploadId`).
async fn signed_part(
    s3: &AmazonS3,
    method: Method,
    key: &StorePath,
    query: &[(&str, String)],
) -> Result<Value, String> {
    let opts = object_store::signer::SignedUrlOptions::default()
        .with_query(query.iter().map(|(k, v)| (k.to_string(), v.clone())));
    let url = s3.signed_url_opts(method, key, Duration::from_secs(900), &opts).await.map_err(|e| e.to_string())?;
    Ok(json!({"signed_uri": url.to_string(), "headers": [], "type": "AWS_PRESIGNED_URL"}))
}

/// `POST /api/2.0/mlflow/artifacts/create-multipart-upload` `{"run_id", "path", "num_parts"}`
/// → `{"upload_id", "upload_credential_infos": [one per part, in order], "abort_credential_info"}`
/// (databricks-rest.md §2.3, §2.5; MLflow `CreateMultipartUpload`). The upload is a real one in
/// moto, started with SSE-S3; each part's URL is presigned with its part number and the upload.
async fn create_multipart(state: &State, body: &[u8]) -> Response<Body> {
    use object_store::multipart::MultipartStore;
    let req = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let (key, s3, multipart) = match multipart_target(state, req["run_id"].as_str(), req["path"].as_str()) {
        Ok(t) => t,
        Err(refused) => return *refused,
    };
    let Some(parts) = req["num_parts"].as_u64().filter(|n| (1..=10_000).contains(n)) else {
        return state.violation(format!("create-multipart-upload without num_parts of 1 to 10,000: {req}"));
    };
    state.counts.multipart_created.fetch_add(1, Ordering::Relaxed);
    let id = match multipart.create_multipart(&key).await {
        Ok(id) => id,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()),
    };
    let mut infos = Vec::new();
    for n in 1..=parts {
        match signed_part(s3, Method::PUT, &key, &[("partNumber", n.to_string()), ("uploadId", id.clone())]).await {
            Ok(mut info) => {
                info["run_id"] = req["run_id"].clone();
                info["path"] = req["path"].clone();
                infos.push(info);
            }
            Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e),
        }
    }
    let abort = match signed_part(s3, Method::DELETE, &key, &[("uploadId", id.clone())]).await {
        Ok(info) => info,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e),
    };
    json_answer(
        StatusCode::OK,
        &json!({"upload_id": id, "upload_credential_infos": infos, "abort_credential_info": abort}),
    )
}

/// `GET /api/2.0/mlflow/artifacts/get-presigned-upload-part-url` with `run_id`, `path`,
/// `upload_id`, `part_number` → `{"upload_credential_info"}` (databricks-rest.md §2.3).
async fn part_url(state: &State, query: &HashMap<String, String>) -> Response<Body> {
    let (key, s3, _) =
        match multipart_target(state, query.get("run_id").map(String::as_str), query.get("path").map(String::as_str)) {
            Ok(t) => t,
            Err(refused) => return *refused,
        };
    let (Some(upload), Some(n)) =
        (query.get("upload_id"), query.get("part_number").filter(|n| n.parse::<u32>().is_ok()))
    else {
        return state.violation(format!("get-presigned-upload-part-url without upload_id and part_number: {query:?}"));
    };
    match signed_part(s3, Method::PUT, &key, &[("partNumber", n.clone()), ("uploadId", upload.clone())]).await {
        Ok(info) => json_answer(StatusCode::OK, &json!({"upload_credential_info": info})),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e),
    }
}

/// `POST /api/2.0/mlflow/artifacts/complete-multipart-upload` `{"run_id", "path", "upload_id",
/// "part_etags": [{"part_number", "etag"}]}` → `{}` (databricks-rest.md §2.3, §2.5): the parts
/// must be numbered 1, 2, … in order, each with the `ETag` storage answered.
async fn complete_multipart(state: &State, body: &[u8]) -> Response<Body> {
    use object_store::multipart::{MultipartStore, PartId};
    let req = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let (key, _, multipart) = match multipart_target(state, req["run_id"].as_str(), req["path"].as_str()) {
        Ok(t) => t,
        Err(refused) => return *refused,
    };
    let Some(upload) = req["upload_id"].as_str() else {
        return state.violation(format!("complete-multipart-upload without upload_id: {req}"));
    };
    let etags = req["part_etags"].as_array().cloned().unwrap_or_default();
    let mut parts = Vec::new();
    for (i, p) in etags.iter().enumerate() {
        match (p["part_number"].as_u64(), p["etag"].as_str()) {
            (Some(n), Some(etag)) if n == i as u64 + 1 && !etag.is_empty() => {
                parts.push(PartId { content_id: etag.to_string() });
            }
            _ => return state.violation(format!("complete-multipart-upload part {i}: {p}")),
        }
    }
    if parts.is_empty() {
        return state.violation(format!("complete-multipart-upload without parts: {req}"));
    }
    match multipart.complete_multipart(&key, &upload.to_string(), parts).await {
        Ok(_) => {
            state.counts.multipart_completed.fetch_add(1, Ordering::Relaxed);
            json_answer(StatusCode::OK, &json!({}))
        }
        Err(e) => error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", &e.to_string()),
    }
}

/// The signature of the fake's ADLS Gen2 SAS URLs: a request without it is refused, as storage
/// refuses a URL whose query was lost.
const ADLS_SIGNATURE: &str = "fake-adls-signature";

/// The DFS endpoint of [`FakeOptions::adls`], as ADLS Gen2's Path operations take a file
/// (Azure REST reference, Data Lake Storage Gen2 "Path - Create" `PUT ?resource=file`, "Path -
/// Update" `PATCH ?action=append&position=` and `?action=flush&position=`; databricks-rest.md
/// §2.7). An append must start where the file ends and a flush name its length; a flushed
/// file is put into azurite with the metadata it was created with. The workspace's token must
/// never reach storage.
async fn adls(state: &State, req: Request<hyper::body::Incoming>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let Ok(body) = body.collect().await.map(|b| b.to_bytes()) else {
        return error(StatusCode::BAD_REQUEST, "BAD_REQUEST", "unreadable body");
    };
    let query: HashMap<String, String> =
        parts.uri.query().map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    if query.get("sig").map(String::as_str) != Some(ADLS_SIGNATURE) {
        return state.violation(format!("ADLS {} {} without the SAS signature", parts.method, parts.uri.path()));
    }
    if parts.headers.contains_key(header::AUTHORIZATION) {
        return state.violation("the workspace's credentials were sent to storage".into());
    }
    // `/<container>/<name>`, percent-decoded.
    let path = percent_encoding::percent_decode_str(parts.uri.path()).decode_utf8_lossy().into_owned();
    let Some((_, name)) = path.trim_start_matches('/').split_once('/') else {
        return state.violation(format!("ADLS request for {path:?}"));
    };
    let metadata = parts.headers.get(AZURE_METADATA.0).and_then(|v| v.to_str().ok()).map(str::to_string);
    let param = |k: &str| query.get(k).map(String::as_str);
    let position: Option<usize> = param("position").and_then(|p| p.parse().ok());
    // The staged file, once flushed: the lock is let go before the store is written.
    let (bytes, metadata) = {
        let mut staged = state.staged.lock().expect("poisoned");
        let flush = match (&parts.method, param("resource"), param("action")) {
            (&Method::PUT, Some("file"), None) if body.is_empty() => {
                staged.insert(name.to_string(), (Vec::new(), metadata));
                return empty(StatusCode::CREATED);
            }
            (&Method::PATCH, None, Some("append")) => {
                let Some(file) = staged.get_mut(name) else {
                    return state.violation(format!("ADLS append to {name:?}, which was not created"));
                };
                if position != Some(file.0.len()) {
                    return state.violation(format!("ADLS append at {position:?} to a file of {}", file.0.len()));
                }
                file.0.extend_from_slice(&body);
                if param("flush") != Some("true") {
                    return empty(StatusCode::ACCEPTED);
                }
                file.0.len()
            }
            (&Method::PATCH, None, Some("flush")) if body.is_empty() => match staged.get(name) {
                Some(file) if position == Some(file.0.len()) => file.0.len(),
                _ => return state.violation(format!("ADLS flush of {name:?} at {position:?}")),
            },
            _ => return state.violation(format!("ADLS {} {path} {query:?}", parts.method)),
        };
        let file = staged.remove(name).expect("checked above");
        debug_assert_eq!(file.0.len(), flush);
        file
    };
    let mut opts = object_store::PutOptions::default();
    if let Some(value) = metadata {
        let key = object_store::Attribute::Metadata(AZURE_METADATA.0.trim_start_matches("x-ms-meta-").into());
        opts.attributes.insert(key, value.into());
    }
    let Ok(location) = StorePath::parse(name) else {
        return state.violation(format!("ADLS file name {name:?}"));
    };
    match state.storage.store().put_opts(&location, bytes.into(), opts).await {
        Ok(_) => empty(StatusCode::OK),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()),
    }
}

fn empty(status: StatusCode) -> Response<Body> {
    Response::builder().status(status).body(full(Bytes::new())).expect("a valid answer")
}

/// The URL of blob `name` (path segments percent-encoded) in `container` at `endpoint`.
fn blob_url(endpoint: &str, container: &str, name: &str) -> String {
    let mut url = url::Url::parse(endpoint).expect("azurite's endpoint is a URL");
    url.path_segments_mut().expect("an http URL").push(container).extend(name.split('/'));
    url.to_string()
}

/// A service SAS for blob `name` of `container` (or, `None`, the container) granting
/// `permissions` (`r`, `cw`), signed with azurite's account key (Azure REST reference, "Create
/// a service SAS": the string to sign of version 2020-12-06 and later). It expires far ahead: the fake does not test expiry here.
fn service_sas(container: &str, name: Option<&str>, permissions: &str) -> String {
    const VERSION: &str = "2021-08-06";
    const EXPIRY: &str = "2099-01-01T00:00:00Z";
    // A blob's (`b`), or with no name the whole container's (`c`).
    let (resource, kind) = match name {
        Some(name) => (format!("/blob/{AZURITE_ACCOUNT}/{container}/{name}"), "b"),
        None => (format!("/blob/{AZURITE_ACCOUNT}/{container}"), "c"),
    };
    // permissions, start, expiry, resource, identifier, IP, protocol, version, resource type,
    // snapshot time, encryption scope, then the five response-header overrides.
    let fields = [permissions, "", EXPIRY, &resource, "", "", "", VERSION, kind, "", "", "", "", "", "", ""];
    let key = base64::engine::general_purpose::STANDARD.decode(AZURITE_KEY).expect("azurite's key is Base64");
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).expect("HMAC takes any key length");
    mac.update(fields.join("\n").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    url::form_urlencoded::Serializer::new(String::new())
        .append_pair("sv", VERSION)
        .append_pair("sr", kind)
        .append_pair("sp", permissions)
        .append_pair("se", EXPIRY)
        .append_pair("sig", &signature)
        .finish()
}

/// `POST /api/2.0/workspace/mkdirs {"path"}` (databricks-rest.md §5.1): creates the folder
/// and its parents; an existing folder is fine.
fn mkdirs(state: &State, body: &[u8]) -> Response<Body> {
    let path = serde_json::from_slice::<Value>(body).ok().and_then(|b| b["path"].as_str().map(str::to_string));
    let Some(path) = path.filter(|p| p.starts_with('/') && !p.split('/').any(|s| s == "." || s == "..")) else {
        return state
            .violation(format!("workspace/mkdirs needs an absolute \"path\": {}", String::from_utf8_lossy(body)));
    };
    add_folders(&mut state.folders.lock().expect("poisoned"), &path);
    json_answer(StatusCode::OK, &json!({}))
}

/// Adds folder `path` and its parents.
fn add_folders(folders: &mut BTreeSet<String>, path: &str) {
    let mut at = String::new();
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        at = format!("{at}/{segment}");
        folders.insert(at.clone());
    }
}

/// A GET's parameters, from the query or a JSON body (databricks-rest.md §0 "GET parameters":
/// the Python tool sends a JSON body on GET).
fn params(query: &HashMap<String, String>, body: &[u8]) -> HashMap<String, String> {
    let mut all = query.clone();
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
        for (k, v) in map {
            all.entry(k).or_insert_with(|| v.as_str().map_or_else(|| v.to_string(), str::to_string));
        }
    }
    all
}

/// An absolute workspace path with no `.` or `..` segment.
fn is_workspace_path(p: &str) -> bool {
    p.starts_with('/') && !p.split('/').any(|s| s == "." || s == "..")
}

/// `GET /api/2.0/workspace/get-status?path=` → `ObjectInfo` (databricks-rest.md §5.1); nothing
/// there → 404 `RESOURCE_DOES_NOT_EXIST`.
fn get_status(state: &State, params: &HashMap<String, String>) -> Response<Body> {
    let Some(path) = params.get("path").filter(|p| is_workspace_path(p)) else {
        return state.violation(format!("workspace/get-status needs an absolute path: {params:?}"));
    };
    if let Some(n) = state.notebooks.lock().expect("poisoned").get(path) {
        let info = json!({"object_type": "NOTEBOOK", "path": path, "language": n.language, "size": n.source.len()});
        return json_answer(StatusCode::OK, &info);
    }
    if state.folders.lock().expect("poisoned").contains(path) {
        return json_answer(StatusCode::OK, &json!({"object_type": "DIRECTORY", "path": path}));
    }
    error(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", &format!("Path ({path}) doesn't exist."))
}

/// `GET /api/2.0/workspace/export?path=&format=` → `{"content": base64, "file_type"}`
/// (databricks-rest.md §5.1, `direct_download` false); the format's name is case-sensitive;
/// a missing notebook → 404 `RESOURCE_DOES_NOT_EXIST`.
fn export_notebook(state: &State, params: &HashMap<String, String>) -> Response<Body> {
    let Some(path) = params.get("path").filter(|p| is_workspace_path(p)) else {
        return state.violation(format!("workspace/export needs an absolute path: {params:?}"));
    };
    let format = params.get("format").map_or("SOURCE", String::as_str);
    if !EXPORT_FORMATS.contains(&format) {
        return state.violation(format!("workspace/export in format {format:?} (one of {EXPORT_FORMATS:?})"));
    }
    if params.get("direct_download").is_some_and(|d| d == "true") {
        return state.violation("workspace/export with direct_download: the fake answers JSON only".into());
    }
    let Some(notebook) = state.notebooks.lock().expect("poisoned").get(path).cloned() else {
        return error(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", &format!("Path ({path}) doesn't exist."));
    };
    use base64::Engine;
    let content = base64::engine::general_purpose::STANDARD.encode(render(path, &notebook, format));
    let file_type = match format {
        "SOURCE" => "py",
        "HTML" => "html",
        "JUPYTER" => "ipynb",
        _ => "dbc",
    };
    json_answer(StatusCode::OK, &json!({"content": content, "file_type": file_type}))
}

/// What the fake serves for a notebook in `format`: the SOURCE bytes, or a small wrapper of
/// them that differs per format.
fn render(path: &str, notebook: &FakeNotebook, format: &str) -> Vec<u8> {
    let source = String::from_utf8_lossy(&notebook.source);
    match format {
        "SOURCE" => notebook.source.clone(),
        "HTML" => format!("<html><!-- {path} --><pre>{source}</pre></html>").into_bytes(),
        "JUPYTER" => json!({"cells": [{"cell_type": "code", "source": source}], "metadata": {"path": path}})
            .to_string()
            .into_bytes(),
        _ => [b"DBC\0".as_slice(), &notebook.source].concat(),
    }
}

/// `POST /api/2.0/workspace/import {"path" REQ, "format", "language", "content", "overwrite"}`
/// (databricks-rest.md §5.1): `language` is required for a SOURCE notebook, the folder must
/// exist, and an existing notebook is replaced only with `overwrite` (else
/// `RESOURCE_ALREADY_EXISTS`). The fake takes SOURCE only, which is all the tool sends.
fn import_notebook(state: &State, body: &[u8]) -> Response<Body> {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return state.violation("workspace/import body is not JSON".into());
    };
    let Some(path) = req["path"].as_str().filter(|p| is_workspace_path(p)) else {
        return state.violation(format!("workspace/import needs an absolute path: {req}"));
    };
    if req["format"].as_str().unwrap_or("SOURCE") != "SOURCE" {
        return state.violation(format!("workspace/import in format {} (the fake takes SOURCE)", req["format"]));
    }
    let Some(language) = req["language"].as_str().filter(|l| LANGUAGES.contains(l)) else {
        return state.violation(format!("workspace/import of a SOURCE notebook needs a language {LANGUAGES:?}: {req}"));
    };
    let Some(source) = req["content"].as_str().and_then(base64_decode) else {
        return state.violation(format!("workspace/import without base64 content: {}", req["content"]));
    };
    let overwrite = match &req["overwrite"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        other => return state.violation(format!("workspace/import overwrite is not a boolean: {other}")),
    };
    let folder = path.rsplit_once('/').map_or("/", |(f, _)| if f.is_empty() { "/" } else { f });
    if !state.folders.lock().expect("poisoned").contains(folder) {
        let message = format!("The parent folder ({folder}) does not exist.");
        return error(StatusCode::NOT_FOUND, "RESOURCE_DOES_NOT_EXIST", &message);
    }
    let mut notebooks = state.notebooks.lock().expect("poisoned");
    if state.folders.lock().expect("poisoned").contains(path) || (notebooks.contains_key(path) && !overwrite) {
        return error(StatusCode::BAD_REQUEST, "RESOURCE_ALREADY_EXISTS", &format!("Path ({path}) already exists."));
    }
    notebooks.insert(path.into(), FakeNotebook { language: language.into(), source });
    state.counts.notebook_imports.fetch_add(1, Ordering::Relaxed);
    json_answer(StatusCode::OK, &json!({}))
}

/// `GET|PATCH /api/2.0/permissions/{experiments|registered-models}/{id}` and
/// `GET .../permissionLevels`
/// (databricks-rest.md §7.1; Databricks REST reference `/api/access-management/v1/workspace`).
/// `GET` answers the direct grants and one grant to [`ADMINS`] inherited from the root folder;
/// `PATCH` merges its grants into the direct ones.
fn permissions(state: &State, method: &Method, path: &str, body: &[u8]) -> Response<Body> {
    let rest = path.trim_start_matches("/api/2.0/permissions/");
    let (object, levels) = match rest.strip_suffix("/permissionLevels") {
        Some(object) => (object, true),
        None => (rest, false),
    };
    let (kind, id) = object.split_once('/').unwrap_or((object, ""));
    let (object_type, kind_levels): (&str, &[&str]) = match kind {
        "experiments" if is_id(id) => ("mlflowExperiment", &EXPERIMENT_LEVELS),
        "registered-models" if state.model_ids.lock().expect("poisoned").values().any(|m| m == id) => {
            ("registered-model", &MODEL_LEVELS)
        }
        _ => return state.violation(format!("{method} {path}: not an experiment's or a known model's permissions")),
    };
    match (method, levels) {
        (&Method::GET, true) => json_answer(
            StatusCode::OK,
            &json!({"permission_levels": kind_levels.iter().map(|l| json!({"permission_level": l, "description": ""})).collect::<Vec<_>>()}),
        ),
        (&Method::GET, false) => {
            let grants = state.grants.lock().expect("poisoned");
            let mut list: Vec<Value> = grants
                .get(object)
                .into_iter()
                .flatten()
                .map(|((key, principal), level)| {
                    json!({key: principal, "display_name": principal,
                           "all_permissions": [{"permission_level": level, "inherited": false}]})
                })
                .collect();
            list.push(json!({"group_name": ADMINS, "all_permissions": [
                {"permission_level": "CAN_MANAGE", "inherited": true, "inherited_from_object": ["/directories/0"]}]}));
            json_answer(
                StatusCode::OK,
                &json!({"object_id": format!("/{object}"), "object_type": object_type, "access_control_list": list}),
            )
        }
        (&Method::PATCH, false) => {
            let request = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
            let Some(entries) = request["access_control_list"].as_array() else {
                return state.violation(format!("PATCH {path}: no access_control_list"));
            };
            let mut set = Vec::new();
            for entry in entries {
                let named: Vec<(&str, &str)> = ["user_name", "group_name", "service_principal_name"]
                    .into_iter()
                    .filter_map(|k| Some((k, entry[k].as_str()?)))
                    .collect();
                let level = entry["permission_level"].as_str().unwrap_or_default();
                let [(key, principal)] = named[..] else {
                    return state.violation(format!("PATCH {path}: an entry names one principal: {entry}"));
                };
                if !kind_levels.contains(&level) {
                    return state.violation(format!("PATCH {path}: {level:?} is no level of a {object_type}"));
                }
                if !state.options.principals.iter().any(|p| p == principal) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "INVALID_PARAMETER_VALUE",
                        &format!("fake workspace: principal {principal} does not exist"),
                    );
                }
                set.push(((key.to_string(), principal.to_string()), level.to_string()));
            }
            state.grants.lock().expect("poisoned").entry(object.to_string()).or_default().extend(set);
            json_answer(StatusCode::OK, &json!({}))
        }
        _ => state.violation(format!("{method} {path}: not a permissions route")),
    }
}

/// Refuses an `experiments/create` whose name is not an absolute workspace path or whose
/// folder does not exist (databricks-rest.md §6: the Python tool calls `workspace/mkdirs` on
/// the name's folder first).
fn missing_folder(state: &State, body: &[u8]) -> Option<Response<Body>> {
    let name = serde_json::from_slice::<Value>(body).ok().and_then(|b| b["name"].as_str().map(str::to_string));
    let Some(name) = name.filter(|n| n.starts_with('/')) else {
        return Some(error(
            StatusCode::BAD_REQUEST,
            "INVALID_PARAMETER_VALUE",
            "fake workspace: an experiment name is an absolute workspace path, such as /Users/<user>/<name>",
        ));
    };
    let folder = name.rsplit_once('/').map_or("/", |(f, _)| if f.is_empty() { "/" } else { f });
    if state.folders.lock().expect("poisoned").contains(folder) {
        return None;
    }
    Some(error(
        StatusCode::NOT_FOUND,
        "RESOURCE_DOES_NOT_EXIST",
        &format!("fake workspace: parent folder {folder} of experiment {name} does not exist"),
    ))
}

/// `GET /api/2.0/mlflow/databricks/registered-models/get?name=` (databricks-rest.md §4;
/// Databricks REST reference `/api/workspace/modelregistry/getmodel`): the model as the registry
/// behind has it, with the workspace id its permissions are kept under.
async fn databricks_model(
    state: &State,
    params: &HashMap<String, String>,
    mut parts: hyper::http::request::Parts,
) -> Response<Body> {
    let Some(name) = params.get("name").cloned() else {
        return state.violation("databricks/registered-models/get without a name".into());
    };
    let query: String = url::form_urlencoded::Serializer::new(String::new()).append_pair("name", &name).finish();
    parts.uri = format!("/api/2.0/mlflow/registered-models/get?{query}").parse().expect("a valid path");
    let answer = forward(state, parts, Bytes::new()).await;
    if answer.status() != StatusCode::OK {
        return answer;
    }
    let bytes = answer.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut model = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)["registered_model"].take();
    model["id"] = json!(state.model_id(&name));
    model["permission_level"] = json!("CAN_MANAGE");
    json_answer(StatusCode::OK, &json!({"registered_model_databricks": model}))
}

/// [`forward`], after checking that the call sets none of the tags a workspace sets itself.
async fn checked_forward(state: &State, parts: hyper::http::request::Parts, body: Bytes) -> Response<Body> {
    let request = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let mut keys: Vec<&str> =
        request["tags"].as_array().into_iter().flatten().filter_map(|t| t["key"].as_str()).collect();
    if parts.uri.path().ends_with("/set-tag") || parts.uri.path().ends_with("/set-experiment-tag") {
        keys.extend(request["key"].as_str());
    }
    if let Some(key) = keys.into_iter().find(|k| SYSTEM_TAGS.contains(k)) {
        return state.violation(format!("{} sets the workspace's own tag {key}", parts.uri.path()));
    }
    // A run's user is the caller's, whatever the request says (databricks-rest.md §6; the
    // original tool's README: "the user is automatically picked up from your Databricks access
    // token").
    let body = match request {
        Value::Object(mut create) if parts.uri.path() == "/api/2.0/mlflow/runs/create" => {
            create.insert("user_id".into(), json!(USER));
            Bytes::from(Value::Object(create).to_string())
        }
        _ => body,
    };
    forward(state, parts, body).await
}

/// Passes a tracking or registry call to the real server and rewrites artifact locations in
/// its answer the way a workspace spells them (databricks-rest.md §6, §9.2).
async fn forward(state: &State, parts: hyper::http::request::Parts, body: Bytes) -> Response<Body> {
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut out = state.http.request(parts.method.clone(), format!("{}{path}", state.upstream)).body(body);
    for (name, value) in &parts.headers {
        // The real server behind is open: the workspace's credentials stop here.
        if !matches!(
            *name,
            header::HOST
                | header::CONNECTION
                | header::CONTENT_LENGTH
                | header::TRANSFER_ENCODING
                | header::AUTHORIZATION
        ) {
            out = out.header(name, value);
        }
    }
    let answer = match out.send().await {
        Ok(a) => a,
        Err(e) => return error(StatusCode::BAD_GATEWAY, "TEMPORARILY_UNAVAILABLE", &e.to_string()),
    };
    let status = answer.status();
    let bytes = answer.bytes().await.unwrap_or_default();
    let bytes = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut v) => {
            rewrite_locations(&mut v);
            Bytes::from(v.to_string())
        }
        Err(_) => bytes,
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(full(bytes))
        .expect("a valid answer")
}

/// Sets `artifact_uri` of every run and logged model info and `artifact_location` of every
/// experiment to the workspace's `dbfs:/databricks/mlflow-tracking/...` form.
fn rewrite_locations(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let exp = map.get("experiment_id").and_then(Value::as_str).map(str::to_string);
            let run = map.get("run_id").or_else(|| map.get("run_uuid")).and_then(Value::as_str).map(str::to_string);
            let model = map.get("model_id").and_then(Value::as_str).map(str::to_string);
            let in_volume =
                |key: &str| map.get(key).and_then(Value::as_str).is_some_and(|u| u.starts_with("dbfs:/Volumes/"));
            let (uri_in_volume, location_in_volume) = (in_volume("artifact_uri"), in_volume("artifact_location"));
            match (&exp, &run, &model, map.contains_key("artifact_uri") && !uri_in_volume) {
                (Some(exp), Some(run), _, true) => {
                    let uri = format!("dbfs:/databricks/mlflow-tracking/{exp}/{run}/artifacts");
                    map.insert("artifact_uri".into(), json!(uri));
                }
                // A logged model's info (databricks-rest.md §2.1, §5 "logged models →
                // `.../<exp>/logged_models/<id>/artifacts`").
                (Some(exp), None, Some(model), true) => {
                    let uri = format!("dbfs:/databricks/mlflow-tracking/{exp}/logged_models/{model}/artifacts");
                    map.insert("artifact_uri".into(), json!(uri));
                }
                _ => {}
            }
            // An experiment (and its runs) in a Unity Catalog volume keeps its `dbfs:/Volumes/`
            // location (databricks-rest.md §2.1).
            if let (Some(exp), true) = (&exp, map.contains_key("artifact_location") && !location_in_volume) {
                map.insert("artifact_location".into(), json!(format!("dbfs:/databricks/mlflow-tracking/{exp}")));
            }
            map.values_mut().for_each(rewrite_locations);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_locations),
        _ => {}
    }
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

fn is_relative(p: &str) -> bool {
    !p.starts_with('/') && p.split('/').all(|s| s != ".." && s != ".")
}

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// The prefix of the Unity Catalog registry routes (databricks-rest.md §3.2).
const UC_ROUTES: &str = "/api/2.0/mlflow/unity-catalog/";

/// The Unity Catalog grants routes of registered models (databricks-rest.md §7.2; Databricks
/// REST reference `grants/get`, `grants/geteffective`, `grants/update`), whose securable type
/// for a model is `function` (the Python tool's `uc_permissions_utils`).
const UC_GRANTS: &str = "/api/2.1/unity-catalog/permissions/function/";
const UC_EFFECTIVE_GRANTS: &str = "/api/2.1/unity-catalog/effective-permissions/function/";

/// The privileges a registered model takes (databricks-rest.md §7.2).
const UC_MODEL_PRIVILEGES: [&str; 4] = ["ALL_PRIVILEGES", "EXECUTE", "APPLY_TAG", "MANAGE"];

/// `GET` of a model's direct or effective grants, [`FakeOptions::page_size`] principals a
/// page (so that clients must follow `next_page_token`); the effective list adds the
/// workspace admins' `EXECUTE`, inherited from the schema. `PATCH {"changes": [{principal,
/// add, remove}]}` merges; a principal the workspace does not know is refused 404
/// `PRINCIPAL_DOES_NOT_EXIST`, a privilege a model does not take 400.
fn uc_grants(
    state: &State,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    body: &[u8],
) -> Response<Body> {
    let effective = path.starts_with(UC_EFFECTIVE_GRANTS);
    let encoded = path.trim_start_matches(if effective { UC_EFFECTIVE_GRANTS } else { UC_GRANTS });
    let name = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().into_owned();
    if !is_uc_name(&name) {
        return state.violation(format!("grants of {name:?}: not a catalog.schema.model name"));
    }
    if *method == Method::PATCH && !effective {
        let request = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        let Some(changes) = request["changes"].as_array() else {
            return state.violation(format!("grants update without changes: {request}"));
        };
        for change in changes {
            let Some(principal) = change["principal"].as_str() else {
                return state.violation(format!("a grants change without a principal: {change}"));
            };
            if !state.options.principals.iter().any(|p| p == principal) {
                let message = format!("fake workspace: principal {principal} does not exist");
                return error(StatusCode::NOT_FOUND, "PRINCIPAL_DOES_NOT_EXIST", &message);
            }
            let add: Vec<&str> = change["add"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if let Some(bad) = add.iter().find(|p| !UC_MODEL_PRIVILEGES.contains(p)) {
                let message = format!("fake workspace: privilege {bad} is not a registered model's");
                return error(StatusCode::BAD_REQUEST, "INVALID_PARAMETER_VALUE", &message);
            }
            let mut grants = state.uc_grants.lock().expect("poisoned");
            let held = grants.entry(name.clone()).or_default().entry(principal.to_string()).or_default();
            held.extend(add.iter().map(|p| p.to_string()));
        }
        return json_answer(StatusCode::OK, &json!({}));
    }
    if *method != Method::GET {
        return error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", &format!("no API found for '{path}'"));
    }
    let grants = state.uc_grants.lock().expect("poisoned").get(&name).cloned().unwrap_or_default();
    let mut assignments: Vec<Value> = grants
        .iter()
        .map(|(principal, privileges)| {
            let privileges: Vec<Value> = if effective {
                privileges.iter().map(|p| json!({"privilege": p})).collect()
            } else {
                privileges.iter().map(|p| json!(p)).collect()
            };
            json!({"principal": principal, "privileges": privileges})
        })
        .collect();
    if effective {
        let schema = name.rsplit_once('.').map_or("", |(s, _)| s);
        assignments.push(json!({"principal": ADMINS, "privileges": [
            {"privilege": "EXECUTE", "inherited_from_type": "SCHEMA", "inherited_from_name": schema}
        ]}));
    }
    let start: usize = query.get("page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
    let size = state.options.page_size.max(1);
    let page: Vec<Value> = assignments.iter().skip(start).take(size).cloned().collect();
    let mut answer = json!({"privilege_assignments": page});
    if start + size < assignments.len() {
        answer["next_page_token"] = json!((start + size).to_string());
    }
    json_answer(StatusCode::OK, &answer)
}

/// `POST /api/2.0/fs/create-upload-url {"path": "/Models/<catalog>/<schema>/<model>/<version>/<file>"}`
/// → `{"url", "headers"}` (databricks-rest.md §3.3 step 4, MLflow
/// `presigned_url_artifact_repo.py`): a presigned `PUT` into a pending Unity Catalog version of a
/// workspace with [`FakeOptions::uc_default_storage`].
async fn create_upload_url(state: &State, body: &[u8]) -> Response<Body> {
    let request = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let path = request["path"].as_str().unwrap_or_default();
    let parts: Vec<&str> = path.strip_prefix("/Models/").unwrap_or_default().splitn(5, '/').collect();
    let [catalog, schema, model, version, file] = parts[..] else {
        return state.violation(format!("create-upload-url for {path:?}: not /Models/<c>/<s>/<m>/<version>/<file>"));
    };
    let name = format!("{catalog}.{schema}.{model}");
    if !state.options.uc_default_storage
        || !state.uc_pending.lock().expect("poisoned").contains(&(name.clone(), version.to_string()))
    {
        return state
            .violation(format!("create-upload-url into version {version} of {name}, not pending in default storage"));
    }
    match credentials(state, Owner::UcVersion(&name, version), &[json!(file)], Method::PUT).await {
        Ok(infos) => {
            json_answer(StatusCode::OK, &json!({"url": infos[0]["signed_uri"], "headers": infos[0]["headers"]}))
        }
        Err(refused) => refused,
    }
}

/// The Files API routes of Unity Catalog volumes (databricks-rest.md §2.9; Databricks REST
/// reference `/api/files/v2`).
const VOLUME_FILES: &str = "/api/2.0/fs/files/Volumes/";
const VOLUME_DIRECTORIES: &str = "/api/2.0/fs/directories/Volumes/";

/// The storage key of volume path `/Volumes/<catalog>/<schema>/<volume>[/...]` (`segments`
/// after `/Volumes/`, percent-decoded): `<prefix>/volumes/...`; `None` for a path that is not
/// one, or holds `.` or `..`.
fn volume_key(state: &State, segments: &str) -> Option<StorePath> {
    let decoded: Vec<String> = segments
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect();
    let plain = decoded.iter().all(|s| !s.is_empty() && s != "." && s != "..");
    // `parse`, not `from`: the key is the path itself, not percent-encoded once more.
    let key = (plain && decoded.len() >= 3).then(|| format!("{}/volumes/{}", state.prefix, decoded.join("/")))?;
    StorePath::parse(key).ok()
}

/// `GET|PUT /api/2.0/fs/files/Volumes/...` (a file's bytes; a `PUT` must say
/// `overwrite=true` to replace one, and carry `application/octet-stream`) and
/// `GET /api/2.0/fs/directories/Volumes/...` (one level, `{"contents": [{path, is_directory,
/// file_size, name}], "next_page_token"}`, [`FakeOptions::page_size`] entries a page; 404
/// `NOT_FOUND` for a folder that does not exist), kept in the workspace's storage.
async fn volume_files(
    state: &State,
    parts: &hyper::http::request::Parts,
    query: &HashMap<String, String>,
    body: Bytes,
) -> Response<Body> {
    let path = parts.uri.path();
    let (directory, rest) = match path.strip_prefix(VOLUME_DIRECTORIES) {
        Some(rest) => (true, rest),
        None => (false, path.trim_start_matches(VOLUME_FILES)),
    };
    let Some(key) = volume_key(state, rest) else {
        return state
            .violation(format!("Files API request for {path:?}: not a /Volumes/<catalog>/<schema>/<volume> path"));
    };
    let store = state.storage.store();
    // A key's segments are percent-encoded in storage; the Files API names the path itself.
    let absolute = |k: &StorePath| {
        format!("/Volumes/{}", k.as_ref().strip_prefix(&format!("{}/volumes/", state.prefix)).unwrap_or_default())
    };
    match (&parts.method, directory) {
        (&Method::GET, false) => match store.get(&key).await {
            Ok(found) => match found.bytes().await {
                Ok(bytes) => Response::builder()
                    .status(StatusCode::OK)
                    .header(header::CONTENT_TYPE, "application/octet-stream")
                    .body(full(bytes))
                    .expect("a valid answer"),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()),
            },
            Err(_) => error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("fake workspace: no file {path}")),
        },
        (&Method::PUT, false) => {
            let octets = parts.headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/octet-stream");
            if query.get("overwrite").map(String::as_str) != Some("true") || !octets {
                return state.violation(format!("PUT {path} without overwrite=true and application/octet-stream"));
            }
            match state.storage.writer().put(&key, body.into()).await {
                Ok(_) => empty(StatusCode::NO_CONTENT),
                Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", &e.to_string()),
            }
        }
        (&Method::GET, true) => {
            let listed = match store.list_with_delimiter(Some(&key)).await {
                Ok(l) if !(l.objects.is_empty() && l.common_prefixes.is_empty()) => l,
                _ => return error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("fake workspace: no folder {path}")),
            };
            let mut entries: Vec<Value> = listed
                .common_prefixes
                .iter()
                .map(|p| json!({"path": absolute(p), "is_directory": true}))
                .chain(
                    listed
                        .objects
                        .iter()
                        .map(|o| json!({"path": absolute(&o.location), "is_directory": false, "file_size": o.size})),
                )
                .collect();
            entries.sort_by(|a, b| a["path"].as_str().cmp(&b["path"].as_str()));
            let start: usize = query.get("page_token").and_then(|t| t.parse().ok()).unwrap_or(0);
            let size = state.options.page_size.max(1);
            let page: Vec<Value> = entries.iter().skip(start).take(size).cloned().collect();
            let mut answer = json!({"contents": page});
            if start + size < entries.len() {
                answer["next_page_token"] = json!((start + size).to_string());
            }
            json_answer(StatusCode::OK, &answer)
        }
        _ => error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", &format!("no API found for '{path}'")),
    }
}

/// The storage folder of Unity Catalog version `version` of `name`, under `prefix`, with a
/// trailing `/`.
fn uc_folder(prefix: &str, name: &str, version: &str) -> String {
    format!("{prefix}/uc/{name}/{version}/")
}

/// Where Unity Catalog version `version` of `name` keeps its files: a folder of the
/// workspace's bucket, or of its container (as an ADLS Gen2 `abfss://` URI, as on Azure).
fn uc_location(state: &State, name: &str, version: &str) -> String {
    let folder = uc_folder(&state.prefix, name, version);
    match &state.storage {
        Storage::S3 { bucket, .. } => format!("s3://{bucket}/{folder}"),
        Storage::Azure { container, .. } => {
            format!("abfss://{container}@{AZURITE_ACCOUNT}.dfs.core.windows.net/{folder}")
        }
    }
}

/// `catalog.schema.model`: three non-empty parts (databricks-rest.md §3.1, MLflow
/// `split_uc_model_name`).
fn is_uc_name(name: &str) -> bool {
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() == 3 && parts.iter().all(|p| !p.is_empty() && !p.contains('/'))
}

/// The Unity Catalog registry's legacy routes (databricks-rest.md §3.2, MLflow
/// `UcModelRegistryService` in `databricks_uc_registry_service_pb2`), served by the
/// open-source registry behind under its own routes with Unity Catalog's rules on top: every
/// name has three levels and every version number is a JSON string; there are no stages (no
/// `transition-stage` route, no `current_stage`, no `run_link`); registered-model search takes
/// no filter; a version is created `PENDING_REGISTRATION` with a `storage_location` in moto,
/// written with a temporary credential of its own (`generate-temporary-credentials`, §3.3 step
/// 4) and made `READY` by `finalize` (step 6), which refuses a version without its `MLmodel`;
/// version search answers without tags and aliases, as MLflow's reading of it drops them.
async fn unity_catalog(
    state: &State,
    mut parts: hyper::http::request::Parts,
    query: &HashMap<String, String>,
    body: Bytes,
) -> Response<Body> {
    let path = parts.uri.path().to_string();
    let route = path.trim_start_matches(UC_ROUTES).to_string();
    let request = serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null);
    let given = params(query, &body);
    let name = given.get("name").cloned().unwrap_or_default();
    let search = route.ends_with("/search");
    if !search && !is_uc_name(&name) {
        return state.violation(format!("{route} for {name:?}: not a catalog.schema.model name"));
    }
    if request.get("version").is_some_and(|v| !v.is_string()) {
        return state.violation(format!("{route}: version {} is not a string", request["version"]));
    }
    let version = given.get("version").cloned().unwrap_or_default();
    let key = (name.clone(), version.clone());
    match (&parts.method, route.as_str()) {
        (&Method::GET, "registered-models/search") if query.contains_key("filter") => {
            return state.violation("registered-models/search with a filter".into());
        }
        (&Method::GET, "model-versions/search") => {
            let filter = query.get("filter").map(String::as_str).unwrap_or_default();
            let by = |field: &str| filter.starts_with(&format!("{field} = "));
            if !(by("name") || by("run_id")) {
                return state.violation(format!("model-versions/search with filter {filter:?}"));
            }
        }
        (&Method::POST, "model-versions/create") => {
            let refused = ["run_link", "stage", "current_stage"].into_iter().find(|f| request.get(*f).is_some());
            if let Some(field) = refused {
                return state.violation(format!("model-versions/create with {field}, which Unity Catalog has not"));
            }
            if !request["source"].is_string() {
                return state.violation(format!("model-versions/create without a source: {request}"));
            }
        }
        (&Method::POST, "model-versions/generate-temporary-credentials") => {
            let operation = request["operation"].as_str().unwrap_or_default();
            let pending = state.uc_pending.lock().expect("poisoned").contains(&key);
            match operation {
                "MODEL_VERSION_OPERATION_READ" => {}
                "MODEL_VERSION_OPERATION_READ_WRITE" if pending => {
                    state.counts.uc_write_credentials.fetch_add(1, Ordering::Relaxed);
                }
                _ => {
                    return state.violation(format!(
                    "generate-temporary-credentials {operation:?} for version {version} of {name} (pending: {pending})"
                ))
                }
            }
            // Valid for an hour.
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            let expiry_ms = (now + Duration::from_secs(3600)).as_millis() as u64;
            let credential = match &state.storage {
                _ if state.options.uc_default_storage => {
                    let answer = json!({"storage_mode": "DEFAULT_STORAGE", "expiration_time": expiry_ms});
                    return json_answer(StatusCode::OK, &json!({ "credentials": answer }));
                }
                _ if state.options.uc_gcp => json!({"gcp_oauth_token": {"oauth_token": "ya29.fake"}}),
                // A container SAS stands in for a user delegation SAS (azurite has no Entra ID).
                Storage::Azure { container, .. } => {
                    json!({"azure_user_delegation_sas": {"sas_token": service_sas(container, None, "racwl")}})
                }
                // The keys moto takes; a real workspace's are an STS triple scoped to the folder.
                Storage::S3 { .. } => json!({
                    "aws_temp_credentials": {
                        "access_key_id": MOTO_ACCESS_KEY,
                        "secret_access_key": MOTO_ACCESS_KEY,
                        "session_token": "fake-session-token",
                    },
                    "encryption_details": {"sse_encryption_details": {"algorithm": "AWS_SSE_S3"}},
                }),
            };
            let mut credentials = credential;
            credentials["expiration_time"] = json!(expiry_ms);
            credentials["storage_mode"] = json!("CUSTOMER_HOSTED");
            return json_answer(StatusCode::OK, &json!({ "credentials": credentials }));
        }
        (&Method::POST, "model-versions/finalize") => {
            if !state.uc_pending.lock().expect("poisoned").contains(&key) {
                return state.violation(format!("finalize of version {version} of {name}, which is not pending"));
            }
            let mlmodel = StorePath::from(uc_folder(&state.prefix, &name, &version) + "MLmodel");
            if state.storage.store().head(&mlmodel).await.is_err() {
                return state.violation(format!("finalize of version {version} of {name} without its MLmodel"));
            }
            state.uc_pending.lock().expect("poisoned").remove(&key);
            state.counts.uc_finalized.fetch_add(1, Ordering::Relaxed);
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("name", &name)
                .append_pair("version", &version)
                .finish();
            parts.method = Method::GET;
            parts.uri = format!("{UC_ROUTES}model-versions/get?{query}").parse().expect("a valid path");
        }
        (&Method::GET, "model-versions/get")
        | (&Method::GET, "registered-models/search")
        | (&Method::POST, "registered-models/create")
        | (&Method::GET, "registered-models/get")
        | (&Method::PATCH, "registered-models/update")
        | (&Method::DELETE, "registered-models/delete")
        | (&Method::POST, "registered-models/set-tag")
        | (&Method::DELETE, "registered-models/delete-tag")
        | (&Method::POST | &Method::DELETE | &Method::GET, "registered-models/alias")
        | (&Method::PATCH, "model-versions/update")
        | (&Method::POST, "model-versions/set-tag")
        | (&Method::DELETE, "model-versions/delete-tag") => {}
        (&Method::DELETE, "model-versions/delete") => {
            state.uc_pending.lock().expect("poisoned").remove(&key);
        }
        _ => return error(StatusCode::NOT_FOUND, "ENDPOINT_NOT_FOUND", &format!("no API found for '{path}'")),
    }
    let upstream = parts.uri.path_and_query().map_or("/", |p| p.as_str()).replacen("/unity-catalog/", "/", 1);
    let create = route == "model-versions/create";
    let body = if parts.method == Method::GET { Bytes::new() } else { body };
    parts.uri = upstream.parse().expect("a valid path");
    let answer = checked_forward(state, parts, body).await;
    if answer.status() != StatusCode::OK {
        return answer;
    }
    let bytes = answer.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let mut answer = serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null);
    if create {
        let version = answer["model_version"]["version"].as_str().unwrap_or_default().to_string();
        state.uc_pending.lock().expect("poisoned").insert((name.clone(), version));
        state.counts.uc_created.fetch_add(1, Ordering::Relaxed);
    }
    let pending = state.uc_pending.lock().expect("poisoned").clone();
    let as_uc = |v: &mut Value, search: bool| {
        let Some(map) = v.as_object_mut() else { return };
        let (n, ver) = (map["name"].as_str().unwrap_or_default(), map["version"].as_str().unwrap_or_default());
        let status = if pending.contains(&(n.to_string(), ver.to_string())) { "PENDING_REGISTRATION" } else { "READY" };
        let location = uc_location(state, n, ver);
        map.insert("status".into(), json!(status));
        map.insert("storage_location".into(), json!(location));
        for field in ["current_stage", "run_link"] {
            map.remove(field);
        }
        if search {
            map.remove("tags");
            map.remove("aliases");
        }
    };
    if let Some(v) = answer.get_mut("model_version") {
        as_uc(v, false);
    }
    for v in answer.get_mut("model_versions").and_then(Value::as_array_mut).into_iter().flatten() {
        as_uc(v, true);
    }
    json_answer(StatusCode::OK, &answer)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routes that answer without the MLflow server or S3 behind.
    #[tokio::test(flavor = "multi_thread")]
    async fn auth_refusals_missing_routes_and_wrong_shapes() {
        let options = FakeOptions {
            tokens: vec!["pat".into()],
            client: Some(("id".into(), "secret".into())),
            expires_in: 1,
            ..FakeOptions::default()
        };
        let ws = tokio::task::spawn_blocking(move || {
            DatabricksFake::start_on("http://127.0.0.1:9", "http://127.0.0.1:9", "b", options)
        })
        .await
        .unwrap();
        let http = reqwest::Client::new();
        let code = |r: reqwest::Response| async move {
            let org = r.headers().get("x-databricks-org-id").map(|v| v.to_str().unwrap().to_string());
            assert_eq!(org.as_deref(), Some(ORG_ID));
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap();
            (status, body["error_code"].as_str().or(body["error"].as_str()).unwrap_or_default().to_string())
        };
        let search = format!("{}/api/2.0/mlflow/experiments/search", ws.url);
        assert_eq!(code(http.get(&search).send().await.unwrap()).await, (401, "UNAUTHENTICATED".into()));
        let proxy = format!("{}/api/2.0/mlflow-artifacts/artifacts", ws.url);
        let got = http.get(&proxy).bearer_auth("pat").send().await.unwrap();
        assert_eq!(code(got).await, (404, "ENDPOINT_NOT_FOUND".into()));
        let token = |secret: &'static str| {
            http.post(format!("{}/oidc/v1/token", ws.url))
                .basic_auth("id", Some(secret))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body("grant_type=client_credentials&scope=all-apis")
                .send()
        };
        assert_eq!(code(token("wrong").await.unwrap()).await, (401, "invalid_client".into()));
        let issued: Value = token("secret").await.unwrap().json().await.unwrap();
        let access = issued["access_token"].as_str().unwrap();
        assert_eq!(issued["expires_in"], 1);
        let got = http.get(&proxy).bearer_auth(access).send().await.unwrap();
        assert_eq!(code(got).await.0, 404, "an issued token is accepted");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(code(http.get(&proxy).bearer_auth(access).send().await.unwrap()).await.0, 401, "expired");
        let creds = format!("{}/api/2.0/mlflow/artifacts/credentials-for-read", ws.url);
        let got = http.post(&creds).bearer_auth("pat").json(&json!({"run_id": "r", "path": "a.txt"})).send().await;
        assert_eq!(code(got.unwrap()).await, (400, "INVALID_PARAMETER_VALUE".into()));
        assert_eq!(ws.violations().len(), 1, "{:?}", ws.violations());
        let create = format!("{}/api/2.0/mlflow/experiments/create", ws.url);
        let got = http.post(&create).bearer_auth("pat").json(&json!({"name": "no-folder"})).send().await;
        assert_eq!(code(got.unwrap()).await, (400, "INVALID_PARAMETER_VALUE".into()));
        // Notebooks: a SOURCE import needs a language; a missing one is not found; an existing
        // one is replaced only with `overwrite`.
        let import = format!("{}/api/2.0/workspace/import", ws.url);
        let nb = json!({"path": "/Shared/nb", "format": "SOURCE", "content": "eA=="});
        let got = http.post(&import).bearer_auth("pat").json(&nb).send().await;
        assert_eq!(code(got.unwrap()).await, (400, "INVALID_PARAMETER_VALUE".into()));
        assert_eq!(ws.violations().len(), 2, "{:?}", ws.violations());
        let export = format!("{}/api/2.0/workspace/export?path=/Shared/nb&format=HTML", ws.url);
        assert_eq!(code(http.get(&export).bearer_auth("pat").send().await.unwrap()).await.0, 404);
        ws.put_notebook("/Shared/nb", "PYTHON", b"x");
        let again = json!({"path": "/Shared/nb", "language": "PYTHON", "content": "eA=="});
        let got = http.post(&import).bearer_auth("pat").json(&again).send().await;
        assert_eq!(code(got.unwrap()).await, (400, "RESOURCE_ALREADY_EXISTS".into()));
        tokio::task::spawn_blocking(move || drop(ws)).await.unwrap();
    }
}
