//! Artifact roots in cloud object stores (`s3://`, `gs://`, `wasbs://`, `abfss://`), read and
//! written straight from this machine through the `object_store` crate, with the credentials
//! MLflow's own clients read from the environment. Each side of a copy reads its variables with
//! a `SRC_`/`DST_` prefix first, like the tracking variables.
//!
//! Credentials must be given explicitly (keys, a profile, a connection string, web identity,
//! a service-account file): instance-metadata and managed-identity endpoints are never asked,
//! so a machine without credentials fails fast with the variable to set rather than waiting on
//! a metadata endpoint that is not there. Reads then fall back to the tracking server's routes.

use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{Arc, Mutex},
};

use futures::{StreamExt, TryStreamExt};
use mlflow_client::ByteStream;
use object_store::{
    aws::AmazonS3Builder, azure::MicrosoftAzureBuilder, buffered::BufWriter, gcp::GoogleCloudStorageBuilder,
    path::Path as StorePath, BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig,
};
use tokio::io::AsyncWriteExt;

use crate::{model::ArtifactFile, Error, Result};

/// Which object store a root lives in, as far as a server-side copy cares: two roots with the
/// same id can copy objects between them without the bytes passing through this machine.
/// Holds no secret (the key id and account name are public identifiers).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoreId {
    scheme: &'static str,
    endpoint: String,
    bucket: String,
    principal: String,
}

/// A folder (key prefix) in an object store: a run's or logged model's artifact root.
#[derive(Clone)]
pub struct ObjectRoot {
    store: Arc<dyn ObjectStore>,
    id: StoreId,
    /// Key prefix, `/`-separated, without leading or trailing `/`.
    prefix: String,
    /// The URI as MLflow gave it, for messages.
    uri: String,
    secrets: Arc<Vec<String>>,
}

impl std::fmt::Debug for ObjectRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObjectRoot").field("uri", &self.uri).finish_non_exhaustive()
    }
}

/// One object of a root, located for a server-side copy.
#[derive(Clone)]
pub struct ObjectLocation {
    pub(crate) id: StoreId,
    pub(crate) path: StorePath,
}

/// The largest object copied server-side: S3's CopyObject takes at most 5 GiB; larger files
/// are streamed.
const MAX_SERVER_COPY: u64 = 5 << 30;
/// Multipart part size for uploads (and the buffer below which a file is one PUT).
const PART_SIZE: usize = 8 << 20;
/// S3 allows at most 10,000 parts per upload.
const MAX_PARTS: u64 = 9_000;

impl ObjectRoot {
    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn id(&self) -> &StoreId {
        &self.id
    }

    fn key(&self, rel: &str) -> Result<StorePath> {
        let rel = crate::paths::check_relative(rel)?;
        let key = if self.prefix.is_empty() { rel } else { format!("{}/{rel}", self.prefix) };
        StorePath::parse(&key).map_err(|e| Error::Input(format!("{}: invalid object key {key:?}: {e}", self.uri)))
    }

    fn error(&self, what: &str, e: object_store::Error) -> Error {
        let transient = matches!(e, object_store::Error::Generic { .. });
        Error::Store { message: scrub(&self.secrets, format!("{what} {}: {e}", self.uri)), transient }
    }

    /// The root itself as a store path (`None` for a whole bucket).
    fn prefix_path(&self) -> Option<StorePath> {
        (!self.prefix.is_empty()).then(|| StorePath::from_iter(self.prefix.split('/')))
    }

    /// Every file below the root, recursively, with sizes. Folder markers (zero-byte keys
    /// ending in `/`) are skipped as MLflow skips them.
    pub async fn list(&self) -> Result<Vec<ArtifactFile>> {
        let prefix = self.prefix_path();
        let listed: Vec<object_store::ObjectMeta> =
            self.store.list(prefix.as_ref()).try_collect().await.map_err(|e| self.error("cannot list", e))?;
        let mut out = Vec::with_capacity(listed.len());
        for meta in listed {
            let key = meta.location.as_ref();
            let rel = if self.prefix.is_empty() {
                key
            } else {
                match key.strip_prefix(self.prefix.as_str()).and_then(|r| r.strip_prefix('/')) {
                    Some(rel) => rel,
                    None => continue,
                }
            };
            if rel.is_empty() || (rel.ends_with('/') && meta.size == 0) {
                continue;
            }
            crate::paths::check_relative(rel)
                .map_err(|e| Error::Input(format!("{}: the store listed an object with an {e}", self.uri)))?;
            out.push(ArtifactFile { path: rel.to_string(), size: Some(meta.size), sha256: None });
        }
        out.sort();
        Ok(out)
    }

    /// Opens one file for streaming.
    pub async fn open(&self, rel: &str) -> Result<ByteStream> {
        let key = self.key(rel)?;
        let got = self.store.get(&key).await.map_err(|e| self.error(&format!("cannot read {rel} in"), e))?;
        let len = got.meta.size;
        let secrets = self.secrets.clone();
        let stream = got.into_stream().map_err(move |e| std::io::Error::other(scrub(&secrets, e.to_string())));
        Ok(ByteStream { len: Some(len), stream: Box::pin(stream) })
    }

    /// Streams `data` to `rel`: one PUT for small files, a multipart upload (parts uploaded
    /// two at a time, so memory stays bounded) for large ones. A failed upload is aborted.
    /// Parts are sized from `data.len`; one of unknown size gets the smallest parts, which hold
    /// up to `MAX_PARTS * PART_SIZE` bytes.
    pub async fn write(&self, rel: &str, mut data: ByteStream) -> Result<()> {
        let key = self.key(rel)?;
        let part = usize::try_from(data.len.unwrap_or(0) / MAX_PARTS).unwrap_or(usize::MAX).max(PART_SIZE);
        let mut out = BufWriter::with_capacity(self.store.clone(), key, part).with_max_concurrency(2);
        let streamed: std::io::Result<()> = async {
            while let Some(chunk) = data.stream.next().await {
                out.write_all(&chunk?).await?;
            }
            Ok(())
        }
        .await;
        // A writer whose shutdown (the last part, or the single put) failed cannot be aborted:
        // the crate panics on it. Only one that failed before is.
        let written = match streamed {
            Ok(()) => out.shutdown().await,
            Err(e) => {
                let _ = out.abort().await;
                Err(e)
            }
        };
        if let Err(e) = written {
            let message = scrub(&self.secrets, format!("cannot write {rel} to {}: {e}", self.uri));
            return Err(Error::Store { message, transient: true });
        }
        Ok(())
    }

    /// Where `rel` is, for [`Self::copy_from`] on another root.
    pub fn locate(&self, rel: &str) -> Result<ObjectLocation> {
        Ok(ObjectLocation { id: self.id.clone(), path: self.key(rel)? })
    }

    /// Copies `from` to `rel` inside the store, when both are in this store and the file is
    /// small enough for one server-side copy; `false` when the bytes must be streamed instead.
    /// The copy's size is checked against `size`, so a file of unknown size is streamed.
    pub async fn copy_from(&self, from: &ObjectLocation, rel: &str, size: Option<u64>) -> Result<bool> {
        let Some(size) = size.filter(|&s| s <= MAX_SERVER_COPY && from.id == self.id) else {
            return Ok(false);
        };
        let key = self.key(rel)?;
        self.store.copy(&from.path, &key).await.map_err(|e| self.error(&format!("cannot copy {rel} into"), e))?;
        let meta = self.store.head(&key).await.map_err(|e| self.error(&format!("cannot check {rel} in"), e))?;
        if meta.size != size {
            return Err(Error::Truncated { path: rel.to_string(), expected: size, actual: meta.size });
        }
        Ok(true)
    }

    /// Checks that the root can be reached with the credentials given (one listing call), so
    /// that a job fails before it creates anything when they are wrong.
    pub async fn check(&self) -> Result<()> {
        let prefix = self.prefix_path();
        self.store.list_with_delimiter(prefix.as_ref()).await.map_err(|e| self.error("cannot reach", e))?;
        Ok(())
    }
}

/// What an object-store URI resolved to.
pub enum Resolved {
    Root(ObjectRoot),
    /// The scheme is known, but this machine has no credentials for it; the message names the
    /// variables to set.
    NoCredentials(String),
}

/// Environment lookup shared with the stores it builds.
type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

fn process_env() -> Env {
    Arc::new(|name: &str| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

/// `env` with Azure credentials (of any side) replaced by SAS `sas` for `account`: a
/// connection string is kept only for its blob endpoint, and only when it names `account`.
fn with_azure_sas(env: Env, account: String, sas: String) -> Env {
    const REPLACED: [&str; 5] = [
        "AZURE_STORAGE_ACCESS_KEY",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
    ];
    Arc::new(move |name: &str| {
        if name.ends_with("AZURE_STORAGE_CONNECTION_STRING") {
            let cs = env(name)?;
            let field = |key: &str| {
                cs.split(';')
                    .filter_map(|kv| kv.split_once('='))
                    .find(|(k, _)| k.trim().eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.trim().to_string())
            };
            let endpoint = field("BlobEndpoint").filter(|_| field("AccountName").as_deref() == Some(&account))?;
            Some(format!("AccountName={account};BlobEndpoint={endpoint};SharedAccessSignature={sas}"))
        } else if name.ends_with("AZURE_STORAGE_SAS_TOKEN") {
            Some(sas.clone())
        } else if REPLACED.iter().any(|r| name.ends_with(r)) {
            None
        } else {
            env(name)
        }
    })
}

/// `env` with the S3 keys (of any side) replaced by these.
fn with_s3_keys(env: Env, id: String, secret: String, token: Option<String>) -> Env {
    Arc::new(move |name: &str| {
        if name.ends_with("AWS_ACCESS_KEY_ID") {
            Some(id.clone())
        } else if name.ends_with("AWS_SECRET_ACCESS_KEY") {
            Some(secret.clone())
        } else if name.ends_with("AWS_SESSION_TOKEN") {
            token.clone()
        } else {
            env(name)
        }
    })
}

/// Builds and caches the object stores one side of a job reaches.
pub struct ObjectStores {
    side: Option<String>,
    env: Env,
    /// Server-side encryption S3 writes ask for: `AES256`, or `aws:kms` with a key id.
    s3_encryption: Option<(String, Option<String>)>,
    cache: Mutex<HashMap<(String, String), Arc<BuiltStore>>>,
}

struct BuiltStore {
    store: Arc<dyn ObjectStore>,
    id: StoreId,
    secrets: Arc<Vec<String>>,
}

/// A parsed object-store URI.
#[derive(Debug, PartialEq, Eq)]
struct Location {
    scheme: &'static str,
    bucket: String,
    /// Azure storage account (from `container@account.blob.core.windows.net`).
    account: Option<String>,
    prefix: String,
}

/// Schemes MLflow supports that this tool cannot reach; named in the error.
const UNSUPPORTED: [&str; 8] = ["hdfs", "viewfs", "ftp", "sftp", "r2", "b2", "dbfs", "uc"];

impl ObjectStores {
    /// Stores of one side (`SRC`, `DST` or none), reading the process environment.
    pub fn from_process_env(side: Option<&str>) -> Self {
        Self::with_env(side, process_env())
    }

    /// The root of S3 folder `uri` reached with these keys (a Unity Catalog version's temporary
    /// credential) in place of the environment's, its writes asking for server-side encryption
    /// `encryption` (`AES256`, or `aws:kms` with a key id) when given; the endpoint, region and
    /// the rest still come from the environment.
    pub fn s3_keys_root(
        side: Option<&str>,
        uri: &str,
        (id, secret, token): (String, String, Option<String>),
        encryption: Option<(&str, Option<String>)>,
    ) -> Result<ObjectRoot> {
        if !matches!(parse(uri)?, Some(Location { scheme: "s3", .. })) {
            return Err(Error::Unsupported(format!("S3 credentials for storage {}", mlflow_client::redact(uri))));
        }
        let mut stores = Self::with_env(side, with_s3_keys(process_env(), id, secret, token));
        stores.s3_encryption = encryption.map(|(algorithm, key)| (algorithm.to_string(), key));
        stores.root_of(uri)
    }

    /// The root of Azure folder `uri` (`abfss://container@account.dfs.core.windows.net/…`)
    /// reached with SAS token `sas` (a Unity Catalog version's temporary credential) in place of
    /// the environment's credentials. The blob endpoint of the environment's connection string
    /// is kept when that string names the same account (an emulator, a private endpoint);
    /// otherwise the account's own endpoint is used.
    pub fn azure_sas_root(side: Option<&str>, uri: &str, sas: String) -> Result<ObjectRoot> {
        let account = match parse(uri)? {
            Some(Location { scheme: "azure", account: Some(account), .. }) => account,
            _ => return Err(Error::Input(format!("{}: not an Azure folder", mlflow_client::redact(uri)))),
        };
        Self::with_env(side, with_azure_sas(process_env(), account, sas)).root_of(uri)
    }

    /// The root of `uri` with the credentials these stores were made with.
    fn root_of(&self, uri: &str) -> Result<ObjectRoot> {
        match self.resolve(uri)? {
            Some(Resolved::Root(root)) => Ok(root),
            Some(Resolved::NoCredentials(why)) => Err(Error::Unsupported(why)),
            None => Err(Error::Input(format!("{}: not an object-store folder", mlflow_client::redact(uri)))),
        }
    }

    fn with_env(side: Option<&str>, env: Env) -> Self {
        Self { side: side.map(str::to_string), env, s3_encryption: None, cache: Mutex::default() }
    }

    fn var(&self, name: &str) -> Option<String> {
        self.side.as_ref().and_then(|s| (self.env)(&format!("{s}_{name}"))).or_else(|| (self.env)(name))
    }

    /// A variable's name as the user should set it for this side.
    fn named(&self, name: &str) -> String {
        match &self.side {
            Some(s) => format!("{name} (or {s}_{name})"),
            None => name.to_string(),
        }
    }

    /// `None` when `uri` is not an object-store URI (a local path, `mlflow-artifacts:`, ...);
    /// an error for schemes MLflow knows that this tool cannot reach.
    pub fn resolve(&self, uri: &str) -> Result<Option<Resolved>> {
        let scheme = uri.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        let scheme = scheme.or_else(|| uri.split_once(":/").map(|(s, _)| s.to_ascii_lowercase()));
        if let Some(s) = &scheme {
            if UNSUPPORTED.contains(&s.as_str()) {
                return Err(Error::Unsupported(format!(
                    "artifacts at {}: the `{s}:` artifact store is not supported by this tool",
                    mlflow_client::redact(uri)
                )));
            }
        }
        let Some(loc) = parse(uri)? else { return Ok(None) };
        let cache_key = (loc.scheme.to_string(), format!("{}@{}", loc.bucket, loc.account.as_deref().unwrap_or("")));
        if let Some(built) = self.cache.lock().expect("poisoned").get(&cache_key) {
            return Ok(Some(Resolved::Root(root(built, loc.prefix, uri))));
        }
        let built = match loc.scheme {
            "s3" => self.s3(&loc)?,
            "azure" => self.azure(&loc)?,
            _ => self.gcs(&loc)?,
        };
        let built = match built {
            Ok(b) => Arc::new(b),
            Err(missing) => return Ok(Some(Resolved::NoCredentials(missing))),
        };
        self.cache.lock().expect("poisoned").insert(cache_key, built.clone());
        Ok(Some(Resolved::Root(root(&built, loc.prefix, uri))))
    }

    fn client_options(&self, endpoint: Option<&str>, ignore_tls_var: &str) -> ClientOptions {
        let mut opts = ClientOptions::new().with_connect_timeout(std::time::Duration::from_secs(10));
        if endpoint.is_some_and(|e| e.starts_with("http://")) {
            opts = opts.with_allow_http(true);
        }
        if self.var(ignore_tls_var).is_some_and(|v| is_true(&v)) {
            opts = opts.with_allow_invalid_certificates(true);
        }
        opts
    }

    /// S3: keys from `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY` (+ `AWS_SESSION_TOKEN`), else
    /// the profile `AWS_PROFILE` in the shared credentials and config files, else web identity,
    /// else container credentials; `MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION=unsigned` reads
    /// public buckets. The endpoint from `MLFLOW_S3_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`,
    /// `AWS_ENDPOINT_URL` or the profile, as boto3 resolves it.
    fn s3(&self, loc: &Location) -> Result<std::result::Result<BuiltStore, String>> {
        let profile = self.aws_profile()?;
        let from_profile = |k: &str| profile.as_ref().and_then(|p| p.get(k).cloned());
        let endpoint = self
            .var("MLFLOW_S3_ENDPOINT_URL")
            .or_else(|| self.var("AWS_ENDPOINT_URL_S3"))
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
            .or_else(|| from_profile("endpoint_url"));
        let region = self
            .var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
            .or_else(|| from_profile("region"))
            .unwrap_or_else(|| "us-east-1".into());
        let mut b = AmazonS3Builder::new()
            .with_bucket_name(&loc.bucket)
            .with_region(region)
            .with_retry(retry())
            .with_client_options(self.client_options(endpoint.as_deref(), "MLFLOW_S3_IGNORE_TLS"));
        if let Some(e) = &endpoint {
            b = b.with_endpoint(e.trim_end_matches('/'));
        }
        if let Some((algorithm, kms_key)) = &self.s3_encryption {
            b = b.with_config("aws_server_side_encryption".parse().expect("known key"), algorithm);
            if let Some(key) = kms_key {
                b = b.with_config("aws_sse_kms_key_id".parse().expect("known key"), key);
            }
        }
        if self.var("MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE").is_some_and(|s| s.eq_ignore_ascii_case("virtual")) {
            b = b.with_virtual_hosted_style_request(true);
        }
        let mut secrets = Vec::new();
        let keys = match (self.var("AWS_ACCESS_KEY_ID"), self.var("AWS_SECRET_ACCESS_KEY")) {
            (Some(id), Some(secret)) => Some((id, secret, self.var("AWS_SESSION_TOKEN"))),
            _ => match (from_profile("aws_access_key_id"), from_profile("aws_secret_access_key")) {
                (Some(id), Some(secret)) => Some((id, secret, from_profile("aws_session_token"))),
                _ => None,
            },
        };
        let principal = if let Some((id, secret, token)) = keys {
            b = b.with_access_key_id(&id).with_secret_access_key(&secret);
            secrets.push(secret);
            if let Some(t) = token {
                b = b.with_token(&t);
                secrets.push(t);
            }
            id
        } else if let (Some(file), Some(role)) = (self.var("AWS_WEB_IDENTITY_TOKEN_FILE"), self.var("AWS_ROLE_ARN")) {
            b = b
                .with_config("aws_web_identity_token_file".parse().expect("known key"), file)
                .with_config("aws_role_arn".parse().expect("known key"), &role);
            if let Some(n) = self.var("AWS_ROLE_SESSION_NAME") {
                b = b.with_config("aws_role_session_name".parse().expect("known key"), n);
            }
            role
        } else if let Some(rel) = self.var("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            b = b.with_config("aws_container_credentials_relative_uri".parse().expect("known key"), rel);
            "container".into()
        } else if let Some(full) = self.var("AWS_CONTAINER_CREDENTIALS_FULL_URI") {
            b = b.with_config("aws_container_credentials_full_uri".parse().expect("known key"), full);
            "container".into()
        } else if self.var("MLFLOW_EXPERIMENTAL_S3_SIGNATURE_VERSION").is_some_and(|v| v == "unsigned") {
            b = b.with_skip_signature(true);
            "anonymous".into()
        } else {
            return Ok(Err(format!(
                "no credentials for s3://{}: set {} and {}, or {}, or {} with {}",
                loc.bucket,
                self.named("AWS_ACCESS_KEY_ID"),
                self.named("AWS_SECRET_ACCESS_KEY"),
                self.named("AWS_PROFILE"),
                self.named("AWS_WEB_IDENTITY_TOKEN_FILE"),
                self.named("AWS_ROLE_ARN"),
            )));
        };
        let store = b.build().map_err(|e| Error::Unsupported(format!("s3://{}: {e}", loc.bucket)))?;
        let id =
            StoreId { scheme: "s3", endpoint: endpoint.unwrap_or_default(), bucket: loc.bucket.clone(), principal };
        Ok(Ok(BuiltStore { store: Arc::new(store), id, secrets: Arc::new(secrets) }))
    }

    /// The profile named by `AWS_PROFILE` (or `default`) from `~/.aws/credentials` and
    /// `~/.aws/config` (or `AWS_SHARED_CREDENTIALS_FILE`, `AWS_CONFIG_FILE`), merged.
    fn aws_profile(&self) -> Result<Option<HashMap<String, String>>> {
        let name = self.var("AWS_PROFILE");
        let home = (self.env)("HOME").map(PathBuf::from);
        let credentials = self
            .var("AWS_SHARED_CREDENTIALS_FILE")
            .map(PathBuf::from)
            .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
        let config =
            self.var("AWS_CONFIG_FILE").map(PathBuf::from).or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
        let profile = name.clone().unwrap_or_else(|| "default".into());
        let mut merged: Option<HashMap<String, String>> = None;
        let sections = [
            (config, if profile == "default" { "default".to_string() } else { format!("profile {profile}") }),
            (credentials, profile.clone()),
        ];
        for (path, section) in sections {
            let Some(path) = path else { continue };
            let Ok(text) = std::fs::read_to_string(&path) else { continue };
            if let Some(found) = mlflow_client::config::ini_section(&text, &section) {
                merged.get_or_insert_with(HashMap::new).extend(found);
            }
        }
        if merged.is_none() && name.is_some() {
            return Err(Error::Input(format!(
                "AWS profile {profile:?} (from {}) is in neither the AWS config nor the credentials file",
                self.named("AWS_PROFILE")
            )));
        }
        Ok(merged)
    }

    /// Azure Blob (`wasbs`) and ADLS Gen2 (`abfss`, through its blob endpoint):
    /// `AZURE_STORAGE_CONNECTION_STRING`, else `AZURE_STORAGE_ACCESS_KEY`, else
    /// `AZURE_STORAGE_SAS_TOKEN`, else a service principal (`AZURE_CLIENT_ID`,
    /// `AZURE_CLIENT_SECRET`, `AZURE_TENANT_ID`) or workload identity (`AZURE_FEDERATED_TOKEN_FILE`).
    fn azure(&self, loc: &Location) -> Result<std::result::Result<BuiltStore, String>> {
        let mut account = loc.account.clone().unwrap_or_default();
        let mut b = MicrosoftAzureBuilder::new().with_container_name(&loc.bucket).with_retry(retry());
        let mut endpoint = None;
        let mut secrets = Vec::new();
        if let Some(cs) = self.var("AZURE_STORAGE_CONNECTION_STRING") {
            let parts: HashMap<String, String> = cs
                .split(';')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            secrets.push(cs.clone());
            if let Some(a) = parts.get("accountname") {
                account.clone_from(a);
            }
            if let Some(k) = parts.get("accountkey") {
                b = b.with_access_key(k);
                secrets.push(k.clone());
            } else if let Some(sas) = parts.get("sharedaccesssignature") {
                b = b.with_sas_authorization(sas_pairs(sas));
                secrets.push(sas.clone());
            } else {
                return Err(Error::Input(format!(
                    "{} holds neither AccountKey nor SharedAccessSignature",
                    self.named("AZURE_STORAGE_CONNECTION_STRING")
                )));
            }
            endpoint = parts.get("blobendpoint").cloned();
            if endpoint.is_none() && parts.get("defaultendpointsprotocol").is_some_and(|p| p == "http") {
                let suffix = parts.get("endpointsuffix").map_or("core.windows.net", String::as_str);
                endpoint = Some(format!("http://{account}.blob.{suffix}"));
            }
        } else if let Some(key) = self.var("AZURE_STORAGE_ACCESS_KEY") {
            b = b.with_access_key(&key);
            secrets.push(key);
        } else if let Some(sas) = self.var("AZURE_STORAGE_SAS_TOKEN") {
            b = b.with_sas_authorization(sas_pairs(&sas));
            secrets.push(sas);
        } else if let (Some(id), Some(tenant)) = (self.var("AZURE_CLIENT_ID"), self.var("AZURE_TENANT_ID")) {
            if let Some(secret) = self.var("AZURE_CLIENT_SECRET") {
                b = b.with_client_secret_authorization(id, &secret, tenant);
                secrets.push(secret);
            } else if let Some(file) = self.var("AZURE_FEDERATED_TOKEN_FILE") {
                b = b
                    .with_client_id(id)
                    .with_tenant_id(tenant)
                    .with_config("azure_federated_token_file".parse().expect("known key"), file);
            } else {
                return Ok(Err(format!(
                    "no credentials for Azure container {}: {} needs {} or {}",
                    loc.bucket,
                    self.named("AZURE_CLIENT_ID"),
                    self.named("AZURE_CLIENT_SECRET"),
                    self.named("AZURE_FEDERATED_TOKEN_FILE")
                )));
            }
        } else {
            return Ok(Err(format!(
                "no credentials for Azure container {}: set {}, {}, {}, or {} with {} and {}",
                loc.bucket,
                self.named("AZURE_STORAGE_CONNECTION_STRING"),
                self.named("AZURE_STORAGE_ACCESS_KEY"),
                self.named("AZURE_STORAGE_SAS_TOKEN"),
                self.named("AZURE_CLIENT_ID"),
                self.named("AZURE_CLIENT_SECRET"),
                self.named("AZURE_TENANT_ID"),
            )));
        }
        if account.is_empty() {
            return Err(Error::Input(format!("Azure container {}: no storage account in the URI", loc.bucket)));
        }
        b = b
            .with_account(&account)
            .with_client_options(self.client_options(endpoint.as_deref(), "MLFLOW_TRACKING_INSECURE_TLS"));
        if let Some(e) = &endpoint {
            b = b.with_endpoint(e.trim_end_matches('/').to_string());
        }
        let store = b.build().map_err(|e| Error::Unsupported(format!("Azure container {}: {e}", loc.bucket)))?;
        let id = StoreId {
            scheme: "azure",
            endpoint: endpoint.unwrap_or_default(),
            bucket: loc.bucket.clone(),
            principal: account,
        };
        Ok(Ok(BuiltStore { store: Arc::new(store), id, secrets: Arc::new(secrets) }))
    }

    /// GCS: a service-account file (`GOOGLE_APPLICATION_CREDENTIALS`) or key
    /// (`GOOGLE_SERVICE_ACCOUNT_KEY`).
    fn gcs(&self, loc: &Location) -> Result<std::result::Result<BuiltStore, String>> {
        let mut b = GoogleCloudStorageBuilder::new().with_bucket_name(&loc.bucket).with_retry(retry());
        let mut secrets = Vec::new();
        if let Some(path) = self.var("GOOGLE_APPLICATION_CREDENTIALS") {
            b = b.with_application_credentials(path);
        } else if let Some(key) = self.var("GOOGLE_SERVICE_ACCOUNT_KEY") {
            b = b.with_service_account_key(&key);
            secrets.push(key);
        } else {
            return Ok(Err(format!(
                "no credentials for gs://{}: set {} (a service-account or authorized-user JSON file)",
                loc.bucket,
                self.named("GOOGLE_APPLICATION_CREDENTIALS")
            )));
        }
        let store = b.build().map_err(|e| Error::Unsupported(format!("gs://{}: {e}", loc.bucket)))?;
        let id =
            StoreId { scheme: "gs", endpoint: String::new(), bucket: loc.bucket.clone(), principal: String::new() };
        Ok(Ok(BuiltStore { store: Arc::new(store), id, secrets: Arc::new(secrets) }))
    }
}

fn root(built: &BuiltStore, prefix: String, uri: &str) -> ObjectRoot {
    ObjectRoot {
        store: built.store.clone(),
        id: built.id.clone(),
        prefix,
        uri: mlflow_client::redact(uri),
        secrets: built.secrets.clone(),
    }
}

/// Retries of one store request: transient failures (5xx, throttling, broken connections) a few
/// times within a minute, so that a wrong endpoint fails in seconds rather than the crate's
/// default three minutes; the engine retries the whole file after that.
fn retry() -> RetryConfig {
    RetryConfig { backoff: BackoffConfig::default(), max_retries: 4, retry_timeout: std::time::Duration::from_secs(60) }
}

/// `message` with every secret of the store replaced by `***`.
fn scrub(secrets: &[String], mut message: String) -> String {
    for s in secrets {
        message = message.replace(s.as_str(), "***");
    }
    message
}

fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")
}

/// A SAS token (`sv=…&sig=…`, with or without a leading `?`) as decoded query pairs.
fn sas_pairs(sas: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(sas.trim_start_matches('?').as_bytes()).into_owned().collect()
}

/// Splits an object-store URI into bucket (or container and account) and key prefix. `None`
/// for URIs of other schemes.
fn parse(uri: &str) -> Result<Option<Location>> {
    let Some((scheme, rest)) = uri.split_once("://") else { return Ok(None) };
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "s3" | "s3a" => "s3",
        "gs" => "gs",
        "wasbs" | "wasb" | "abfss" | "abfs" => "azure",
        _ => return Ok(None),
    };
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let bad = |why: &str| Error::Input(format!("artifact URI {:?}: {why}", mlflow_client::redact(uri)));
    let (bucket, account) = if scheme == "azure" {
        let (container, host) = authority.split_once('@').ok_or_else(|| bad("expected container@account.host"))?;
        let account = host.split('.').next().unwrap_or_default();
        (container.to_string(), Some(account.to_string()))
    } else {
        (authority.to_string(), None)
    };
    if bucket.is_empty() {
        return Err(bad("no bucket or container"));
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(bad("`.` or `..` in the path"));
    }
    Ok(Some(Location { scheme, bucket, account, prefix: segments.join("/") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stores(vars: &[(&str, &str)], side: Option<&str>) -> ObjectStores {
        let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ObjectStores::with_env(side, Arc::new(move |k| vars.get(k).cloned()))
    }

    #[test]
    fn uris_split_into_bucket_and_prefix() {
        let l = parse("s3://bkt/a/b/1/r/artifacts/").unwrap().unwrap();
        assert_eq!((l.scheme, l.bucket.as_str(), l.prefix.as_str()), ("s3", "bkt", "a/b/1/r/artifacts"));
        let l = parse("s3://bkt").unwrap().unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("bkt", ""));
        let l = parse("wasbs://ctr@acct.blob.core.windows.net/root/1").unwrap().unwrap();
        assert_eq!(
            (l.scheme, l.bucket.as_str(), l.account.as_deref(), l.prefix.as_str()),
            ("azure", "ctr", Some("acct"), "root/1")
        );
        let l = parse("abfss://fs@acct.dfs.core.windows.net/x").unwrap().unwrap();
        assert_eq!((l.bucket.as_str(), l.account.as_deref()), ("fs", Some("acct")));
        assert_eq!(parse("gs://g/p//q").unwrap().unwrap().prefix, "p/q");
        assert!(parse("s3://b/../x").is_err());
        assert!(parse("wasbs://noaccount/x").is_err());
        assert!(parse("mlflow-artifacts:/1/r").unwrap().is_none());
        assert!(parse("/local/path").unwrap().is_none());
    }

    #[test]
    fn unsupported_schemes_are_named() {
        let s = stores(&[], None);
        for uri in ["hdfs://nn:8020/x", "ftp://u:secret@h/x", "sftp://h/x", "dbfs:/databricks/mlflow-tracking/1"] {
            let Err(e) = s.resolve(uri) else { panic!("{uri} accepted") };
            let scheme = uri.split(':').next().unwrap();
            assert!(e.to_string().contains(&format!("`{scheme}:`")), "{e}");
            assert!(!e.to_string().contains("secret"), "{e}");
        }
    }

    #[test]
    fn missing_credentials_name_the_side_variables() {
        let s = stores(&[("HOME", "/nonexistent")], Some("DST"));
        match s.resolve("s3://bkt/x").unwrap() {
            Some(Resolved::NoCredentials(m)) => {
                assert!(m.contains("AWS_ACCESS_KEY_ID (or DST_AWS_ACCESS_KEY_ID)"), "{m}")
            }
            _ => panic!("credentials found"),
        }
        assert!(matches!(s.resolve("wasbs://c@a.blob.core.windows.net/x").unwrap(), Some(Resolved::NoCredentials(_))));
        assert!(matches!(s.resolve("gs://g/x").unwrap(), Some(Resolved::NoCredentials(_))));
    }

    #[test]
    fn side_variables_win_and_identify_the_store() {
        let s = stores(
            &[
                ("AWS_ACCESS_KEY_ID", "both"),
                ("AWS_SECRET_ACCESS_KEY", "s1"),
                ("SRC_AWS_ACCESS_KEY_ID", "src-key"),
                ("SRC_AWS_SECRET_ACCESS_KEY", "s2"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ],
            Some("SRC"),
        );
        let Some(Resolved::Root(r)) = s.resolve("s3://bkt/p").unwrap() else { panic!() };
        assert_eq!(r.id.principal, "src-key");
        assert_eq!(r.id.endpoint, "http://127.0.0.1:9");
        assert_eq!(r.secrets.as_slice(), ["s2"]);
        assert_eq!(r.key("a/b.txt").unwrap().as_ref(), "p/a/b.txt");
        assert!(r.key("../x").is_err());
    }

    #[test]
    fn temporary_keys_replace_every_sides_keys_and_keep_the_endpoint() {
        let s = stores(
            &[
                ("AWS_ACCESS_KEY_ID", "both"),
                ("AWS_SECRET_ACCESS_KEY", "s1"),
                ("DST_AWS_ACCESS_KEY_ID", "dst-key"),
                ("DST_AWS_SECRET_ACCESS_KEY", "s2"),
                ("DST_AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ],
            Some("DST"),
        );
        let s = ObjectStores::with_env(
            Some("DST"),
            with_s3_keys(s.env.clone(), "temp-key".into(), "temp-secret".into(), Some("tok".into())),
        );
        let Some(Resolved::Root(r)) = s.resolve("s3://bkt/models/m/1").unwrap() else { panic!() };
        assert_eq!(r.id.principal, "temp-key");
        assert_eq!(r.id.endpoint, "http://127.0.0.1:9");
        assert_eq!(r.secrets.as_slice(), ["temp-secret", "tok"]);
        assert_eq!(r.key("MLmodel").unwrap().as_ref(), "models/m/1/MLmodel");
    }

    /// A store that refuses the upload (here: nothing listens) makes the write an error; the
    /// crate's writer, shut down, must not be aborted too (it panics: seen when a version's
    /// storage was unreachable).
    #[tokio::test]
    async fn a_refused_upload_is_an_error_not_a_panic() {
        let s = stores(
            &[
                ("AWS_ACCESS_KEY_ID", "k"),
                ("AWS_SECRET_ACCESS_KEY", "a-secret-key"),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ],
            None,
        );
        let Some(Resolved::Root(r)) = s.resolve("s3://bkt/p").unwrap() else { panic!() };
        let chunks = vec![Ok(bytes::Bytes::from_static(b"hello"))];
        let data = ByteStream { len: Some(5), stream: Box::pin(futures::stream::iter(chunks)) };
        let e = r.write("a.txt", data).await.unwrap_err().to_string();
        assert!(e.contains("cannot write a.txt to s3://bkt/p"), "{e}");
    }

    #[test]
    fn a_temporary_sas_replaces_azure_credentials_and_keeps_only_its_accounts_endpoint() {
        let emulator =
            "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:9/acct";
        let s = stores(&[("AZURE_STORAGE_CONNECTION_STRING", emulator)], Some("DST"));
        let env = with_azure_sas(s.env.clone(), "acct".into(), "sv=1&sig=temp".into());
        let s = ObjectStores::with_env(Some("DST"), env);
        let Some(Resolved::Root(r)) = s.resolve("abfss://c@acct.dfs.core.windows.net/uc/m/1").unwrap() else {
            panic!()
        };
        assert_eq!(r.id.endpoint, "http://127.0.0.1:9/acct");
        assert!(r.secrets.iter().all(|secret| !secret.contains("a2V5")), "the account key is not used");
        assert!(r.secrets.iter().any(|secret| secret.contains("sig=temp")));
        // Another account's connection string lends nothing, not even its endpoint.
        let s = stores(&[("AZURE_STORAGE_CONNECTION_STRING", emulator)], None);
        let s = ObjectStores::with_env(None, with_azure_sas(s.env.clone(), "other".into(), "sv=1&sig=temp".into()));
        let Some(Resolved::Root(r)) = s.resolve("abfss://c@other.dfs.core.windows.net/uc").unwrap() else { panic!() };
        assert_eq!(r.id.endpoint, "");
        assert_eq!(r.secrets.as_slice(), ["sv=1&sig=temp"]);
    }

    #[test]
    fn aws_profiles_are_read_from_the_shared_files() {
        let dir = tempfile::tempdir().unwrap();
        let creds = dir.path().join("credentials");
        std::fs::write(&creds, "[default]\naws_access_key_id = d\naws_secret_access_key = x\n[team]\naws_access_key_id = t\naws_secret_access_key = y\n").unwrap();
        let config = dir.path().join("config");
        std::fs::write(&config, "[profile team]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:1\n").unwrap();
        let (c, f) = (creds.to_str().unwrap(), config.to_str().unwrap());
        let s = stores(&[("AWS_SHARED_CREDENTIALS_FILE", c), ("AWS_CONFIG_FILE", f), ("AWS_PROFILE", "team")], None);
        let Some(Resolved::Root(r)) = s.resolve("s3://bkt/p").unwrap() else { panic!() };
        assert_eq!((r.id.principal.as_str(), r.id.endpoint.as_str()), ("t", "http://127.0.0.1:1"));
        let s = stores(&[("AWS_SHARED_CREDENTIALS_FILE", c), ("AWS_CONFIG_FILE", f), ("AWS_PROFILE", "nope")], None);
        assert!(s.resolve("s3://bkt/p").is_err());
    }

    #[test]
    fn azure_connection_strings_are_parsed() {
        let cs = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;";
        let s = stores(&[("AZURE_STORAGE_CONNECTION_STRING", cs)], None);
        let Some(Resolved::Root(r)) = s.resolve("wasbs://c@other.blob.core.windows.net/x").unwrap() else { panic!() };
        assert_eq!(r.id.principal, "devstoreaccount1");
        assert_eq!(r.id.endpoint, "http://127.0.0.1:10000/devstoreaccount1");
        assert!(r.secrets.iter().any(|s| s == "a2V5"));
        let s = stores(&[("AZURE_STORAGE_CONNECTION_STRING", "AccountName=a;BlobEndpoint=http://x")], None);
        assert!(s.resolve("wasbs://c@a.blob.core.windows.net/x").is_err());
    }
}
