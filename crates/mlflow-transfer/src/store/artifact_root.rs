//! The one interface artifact bytes move through, chosen from the `artifact_uri` a tracking
//! server gives a run or a logged model: the server's `mlflow-artifacts` proxy, a folder on
//! this machine, a cloud object store, or (read-only) the server's own artifact routes when this
//! machine cannot reach the store itself.

use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::Mutex,
    time::{Duration, Instant},
};

use mlflow_client::{api::ArtifactCredential, MlflowClient};

use mlflow_client::ByteStream;

use crate::{
    model::ArtifactFile,
    paths::{check_relative, safe_join},
    store::{
        local,
        object::{ObjectLocation, ObjectRoot, ObjectStores, Resolved, StoreId},
    },
    Error, Result,
};

/// Where one run's (or logged model's) artifacts are read or written.
#[derive(Debug, Clone)]
pub enum ArtifactRoot {
    /// Through the server's `mlflow-artifacts` proxy, under this path.
    Proxy(String),
    /// A folder on this machine (a server's plain local root, or its `--artifacts-destination`
    /// when this machine reaches it).
    Local(PathBuf),
    /// A folder in S3, Azure or GCS, reached with this machine's credentials.
    Object(ObjectRoot),
    /// The tracking server's run artifact routes (`artifacts/list`, `get-artifact`): reads of a
    /// store this machine has no credentials for. Read-only.
    RunRoutes(String),
    /// The same for a logged model (`logged-models/{id}/artifacts/...`). Read-only.
    ModelRoutes(String),
    /// A run on a Databricks workspace (`dbfs:/databricks/mlflow-tracking/<exp>/<run>/artifacts`,
    /// or any run of a `databricks` server): listed with `artifacts/list`, read and written
    /// through the signed URLs of its credentials routes. Holds the run id.
    DatabricksRun(String),
    /// A logged model on a Databricks workspace
    /// (`dbfs:/databricks/mlflow-tracking/<exp>/logged_models/<id>/artifacts`, or any logged model
    /// of a `databricks` server): listed with `logged-models/{id}/artifacts/directories`, read and
    /// written through its `credentials-for-download`/`-upload` signed URLs. Holds the model id.
    DatabricksModel(String),
    /// A folder of a Unity Catalog volume (`dbfs:/Volumes/<catalog>/<schema>/<volume>/...`, a
    /// run of an experiment whose artifact location is in a volume), read, listed and written
    /// through the workspace's Files API. Holds the absolute `/Volumes/...` path.
    Volume(String),
}

impl ArtifactRoot {
    /// [`ArtifactRoots::list`] of a root in a store this machine reaches itself (a folder or a
    /// cloud object store), without a tracking server: how a source read directly from MLflow's
    /// database lists its runs' files.
    pub async fn list_stored(&self) -> Result<Vec<ArtifactFile>> {
        match self {
            ArtifactRoot::Local(dir) => local::list_files(dir).await,
            ArtifactRoot::Object(o) => o.list().await,
            _ => Err(Error::Unsupported(format!("{self:?} is read through a tracking server"))),
        }
    }

    /// [`ArtifactRoots::write`] into such a root: how the database sink writes its runs' files.
    pub async fn write_stored(&self, rel: &str, data: ByteStream) -> Result<()> {
        match self {
            ArtifactRoot::Local(dir) => local::write(dir, rel, data).await.map(drop),
            ArtifactRoot::Object(o) => o.write(rel, data).await,
            _ => Err(Error::Unsupported(format!("{self:?} is written through a tracking server"))),
        }
    }

    /// [`ArtifactRoots::open`] of a file of such a root.
    pub async fn open_stored(&self, rel: &str) -> Result<ByteStream> {
        match self {
            ArtifactRoot::Local(dir) => local::open(&safe_join(dir, rel)?).await,
            ArtifactRoot::Object(o) => o.open(rel).await,
            _ => Err(Error::Unsupported(format!("{self:?} is read through a tracking server"))),
        }
    }
}

/// Chooses artifact roots for one tracking server (one side of a job).
pub struct ArtifactRoots {
    client: MlflowClient,
    objects: ObjectStores,
    /// Stores this machine has credentials for but failed to read (another endpoint, a key
    /// without access): read through the server from then on.
    unreadable: Mutex<HashSet<StoreId>>,
    /// Read and write credentials of Databricks runs, asked for many files at a time.
    databricks_reads: tokio::sync::Mutex<Prefetched>,
    databricks_writes: tokio::sync::Mutex<Prefetched>,
}

/// How long a credential asked for ahead of its transfer is used. The signed URLs' lifetime is
/// not documented (databricks-rest.md §2.10); one refused is asked for again.
const CREDENTIAL_REUSE: Duration = Duration::from_secs(600);

/// Files per credentials call: well under the 2,000 MLflow allows, so that the last file of a
/// batch is moved while its credential is still fresh.
const CREDENTIAL_BATCH: usize = 500;

/// Credentials asked for ahead: one credentials call serves a batch of files of a run or logged
/// model listed (or about to be written) instead of one call each.
#[derive(Default)]
struct Prefetched {
    /// Files of each run or model whose credentials have not been asked for yet.
    pending: HashMap<Owner, Vec<String>>,
    /// Credentials asked for, by owner and path, with when.
    ready: HashMap<(Owner, String), (ArtifactCredential, Instant)>,
}

/// Whose files a Databricks credential is for: each has its own credentials routes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Owner {
    Run(String),
    Model(String),
}

impl Owner {
    fn of(root: &ArtifactRoot) -> Option<Owner> {
        match root {
            ArtifactRoot::DatabricksRun(run) => Some(Owner::Run(run.clone())),
            ArtifactRoot::DatabricksModel(id) => Some(Owner::Model(id.clone())),
            _ => None,
        }
    }
}

/// When and how a Databricks run's file goes to S3 in parts: MLflow's own settings and
/// defaults (`MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE`, 500 MiB;
/// `MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE`, 10 MiB; databricks-rest.md §2.5).
struct Multipart {
    min_size: u64,
    chunk: u64,
}

impl Multipart {
    /// S3's limits on a part (but the last): 5 MiB to 5 GiB, and 10,000 parts an object.
    const MIN_PART: u64 = 5 << 20;
    const MAX_PART: u64 = 5 << 30;
    const MAX_PARTS: u64 = 10_000;

    fn from_env() -> Result<Multipart> {
        let var = |name: &str, default: u64| match std::env::var(name) {
            Ok(v) => {
                v.trim().parse::<u64>().map_err(|_| Error::Input(format!("{name}={v:?}: expected a number of bytes")))
            }
            Err(_) => Ok(default),
        };
        let min_size = var("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", 500 << 20)?;
        let chunk = var("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", 10 << 20)?;
        if !(Self::MIN_PART..=Self::MAX_PART).contains(&chunk) {
            return Err(Error::Input(format!(
                "MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE={chunk}: S3 takes parts of 5 MiB ({}) to 5 GiB ({})",
                Self::MIN_PART,
                Self::MAX_PART
            )));
        }
        Ok(Multipart { min_size, chunk })
    }

    /// The part size for a file of `len` bytes: the chunk, or larger when the file would need
    /// more than 10,000 parts.
    fn part_size(&self, len: u64) -> usize {
        let size = self.chunk.max(len.div_ceil(Self::MAX_PARTS));
        usize::try_from(size).unwrap_or(usize::MAX)
    }
}

/// Which credentials of a Databricks run.
#[derive(Clone, Copy)]
enum Access {
    Read,
    Write,
}

impl std::fmt::Debug for ArtifactRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArtifactRoots").field("server", &self.client.base_url()).finish_non_exhaustive()
    }
}

impl ArtifactRoots {
    pub fn new(client: MlflowClient) -> Self {
        let objects = ObjectStores::from_process_env(client.side());
        Self {
            client,
            objects,
            unreadable: Mutex::default(),
            databricks_reads: Default::default(),
            databricks_writes: Default::default(),
        }
    }

    /// Where to read artifacts whose root is `uri`. Falls back to `routes` (the server's routes
    /// for the run or logged model) when the store is out of this machine's reach.
    pub fn for_reading(&self, routes: ArtifactRoot, uri: Option<&str>) -> Result<ArtifactRoot> {
        // A workspace has no `get-artifact` route: its own run routes are the credentials ones.
        let routes = match routes {
            ArtifactRoot::RunRoutes(run) if self.client.is_databricks() => ArtifactRoot::DatabricksRun(run),
            ArtifactRoot::ModelRoutes(id) if self.client.is_databricks() => ArtifactRoot::DatabricksModel(id),
            routes => routes,
        };
        let Some(uri) = uri else { return Ok(routes) };
        if let Some(root) = databricks_root(uri).or_else(|| self.volume_root(uri)) {
            return Ok(root);
        }
        if let Some(rel) = proxied_path(uri) {
            return Ok(match self.client.artifacts_destination() {
                Some(store) => match safe_join(store, &rel) {
                    // A run that logged nothing has no folder; the server then answers for it.
                    Ok(dir) if dir.is_dir() => ArtifactRoot::Local(dir),
                    _ => ArtifactRoot::Proxy(rel),
                },
                None => ArtifactRoot::Proxy(rel),
            });
        }
        if let Some(dir) = local::local_root(uri) {
            return Ok(match self.trusted_local(&dir) {
                Some(dir) => ArtifactRoot::Local(dir),
                None => routes,
            });
        }
        match self.objects.resolve(uri) {
            Ok(Some(Resolved::Root(root))) if self.unreadable.lock().expect("poisoned").contains(root.id()) => {
                Ok(routes)
            }
            Ok(Some(Resolved::Root(root))) => Ok(ArtifactRoot::Object(root)),
            Ok(Some(Resolved::NoCredentials(why))) => {
                tracing::debug!(?routes, "{why}; reading through the tracking server");
                Ok(routes)
            }
            // Other schemes (and stores the tool cannot reach) are read through the server,
            // which has its own access to them.
            Ok(None) | Err(_) => Ok(routes),
        }
    }

    /// `dir` (a local artifact root a server named) as a folder to read from disk, when it
    /// exists and lies inside the folder the user named with `--artifacts-destination`. The
    /// server's word alone is not enough: an `artifact_uri` of `/home/me/.ssh` that happens to
    /// exist on this machine would put this machine's files into an export. Everything else is
    /// read through the server, which answers for its own disk. Both paths are resolved
    /// (`..`, symlinks) before the containment check.
    fn trusted_local(&self, dir: &std::path::Path) -> Option<PathBuf> {
        let allowed = std::fs::canonicalize(self.client.artifacts_destination()?).ok()?;
        let dir = std::fs::canonicalize(dir).ok().filter(|d| d.is_dir())?;
        if dir.starts_with(&allowed) {
            Some(dir)
        } else {
            tracing::debug!(dir = %dir.display(), "artifact root outside --artifacts-destination; reading through the server");
            None
        }
    }

    /// Where to write artifacts whose root is `uri`; an error naming the missing credential
    /// or the unsupported scheme when this machine cannot write there.
    pub fn for_writing(&self, uri: &str) -> Result<ArtifactRoot> {
        if let Some(root) = databricks_root(uri).or_else(|| self.volume_root(uri)) {
            return Ok(root);
        }
        if let Some(rel) = proxied_path(uri).or_else(|| self.server_proxy_path(uri)) {
            return Ok(match self.client.artifacts_destination() {
                Some(store) => ArtifactRoot::Local(safe_join(store, &rel)?),
                None => ArtifactRoot::Proxy(rel),
            });
        }
        if let Some(dir) = local::local_root(uri) {
            return Ok(ArtifactRoot::Local(dir));
        }
        match self.objects.resolve(uri)? {
            Some(Resolved::Root(root)) => Ok(ArtifactRoot::Object(root)),
            Some(Resolved::NoCredentials(why)) => Err(Error::Unsupported(format!(
                "cannot write artifacts to {} at {}: {why}",
                mlflow_client::redact(uri),
                self.client.base_url()
            ))),
            None => Err(Error::Unsupported(format!(
                "cannot write artifacts to {:?}: this artifact store is not supported",
                mlflow_client::redact(uri)
            ))),
        }
    }

    /// The volume folder of a `dbfs:/Volumes/<catalog>/<schema>/<volume>[/...]` root of a
    /// workspace's run (databricks-rest.md §2.1: MLflow's `UCVolumesArtifactRepository`); a path
    /// with `.` or `..` segments is not one.
    fn volume_root(&self, uri: &str) -> Option<ArtifactRoot> {
        let path = uri.strip_prefix("dbfs:")?.trim_end_matches('/');
        let segments: Vec<&str> = path.strip_prefix("/Volumes/")?.split('/').collect();
        let plain = segments.iter().all(|s| !s.is_empty() && *s != "." && *s != "..");
        (self.client.is_databricks() && segments.len() >= 3 && plain).then(|| ArtifactRoot::Volume(path.to_string()))
    }

    /// `http(s)://<this server>/api/2.0/mlflow-artifacts/artifacts/<path>`, as some servers
    /// spell their proxy.
    fn server_proxy_path(&self, uri: &str) -> Option<String> {
        let prefix = format!("{}/api/2.0/mlflow-artifacts/artifacts/", self.client.base_url());
        uri.strip_prefix(&prefix).map(|p| p.trim_matches('/').to_string())
    }

    /// Every file below the root, recursively, with sizes; paths are checked to stay inside it.
    pub async fn list(&self, root: &ArtifactRoot) -> Result<Vec<ArtifactFile>> {
        match root {
            ArtifactRoot::Local(_) | ArtifactRoot::Object(_) => root.list_stored().await,
            ArtifactRoot::Proxy(_)
            | ArtifactRoot::RunRoutes(_)
            | ArtifactRoot::ModelRoutes(_)
            | ArtifactRoot::DatabricksRun(_)
            | ArtifactRoot::DatabricksModel(_)
            | ArtifactRoot::Volume(_) => {
                let mut files = Vec::new();
                let mut dirs = vec![String::new()];
                while let Some(dir) = dirs.pop() {
                    let listed = match root {
                        ArtifactRoot::Proxy(p) => self.client.list_proxied_artifacts(p, &dir).await?,
                        ArtifactRoot::RunRoutes(run) | ArtifactRoot::DatabricksRun(run) => {
                            self.client.list_artifacts(run, &dir).await?
                        }
                        ArtifactRoot::ModelRoutes(id) | ArtifactRoot::DatabricksModel(id) => {
                            self.client.list_logged_model_artifacts(id, &dir).await?
                        }
                        ArtifactRoot::Volume(folder) => self.client.list_volume_directory(folder, &dir).await?,
                        _ => unreachable!("matched above"),
                    };
                    for f in listed {
                        check_relative(&f.path)
                            .map_err(|e| Error::Input(format!("the server listed an artifact with an {e}")))?;
                        if f.is_dir {
                            dirs.push(f.path);
                        } else {
                            files.push(ArtifactFile { path: f.path, size: f.file_size, sha256: None });
                        }
                    }
                }
                files.sort();
                if let Some(owner) = Owner::of(root) {
                    let paths = files.iter().map(|f| f.path.clone()).collect();
                    self.databricks_reads.lock().await.pending.insert(owner, paths);
                }
                Ok(files)
            }
        }
    }

    /// [`Self::list`] of a root being read; when it is an object store this machine cannot
    /// read after all, says so once and lists through `routes` (the server's) instead, as every
    /// later read of that store will.
    pub async fn list_readable(&self, root: &ArtifactRoot, routes: ArtifactRoot) -> Result<Vec<ArtifactFile>> {
        match (self.list(root).await, root) {
            (Err(e), ArtifactRoot::Object(o)) => {
                if self.unreadable.lock().expect("poisoned").insert(o.id().clone()) {
                    tracing::warn!("{e}; reading this store through the tracking server instead");
                }
                self.list(&routes).await
            }
            (listed, _) => listed,
        }
    }

    /// Opens one file for streaming.
    pub async fn open(&self, root: &ArtifactRoot, rel: &str) -> Result<ByteStream> {
        match root {
            ArtifactRoot::Local(_) | ArtifactRoot::Object(_) => root.open_stored(rel).await,
            ArtifactRoot::Proxy(p) => {
                Ok(self.client.download_proxied_artifact(&join(p, &check_relative(rel)?)).await?)
            }
            ArtifactRoot::RunRoutes(run) => Ok(self.client.download_artifact(run, rel).await?),
            ArtifactRoot::ModelRoutes(id) => Ok(self.client.download_logged_model_artifact(id, rel).await?),
            ArtifactRoot::Volume(folder) => {
                Ok(self.client.download_volume_file(&join(folder, &check_relative(rel)?)).await?)
            }
            ArtifactRoot::DatabricksRun(_) | ArtifactRoot::DatabricksModel(_) => {
                let owner = Owner::of(root).expect("a Databricks root");
                let rel = check_relative(rel)?;
                let credential = self.credential(Access::Read, &owner, &rel).await?;
                match self.client.download_signed(&credential).await {
                    // A signed URL that expired or was refused: once more with a fresh one
                    // (databricks-rest.md §2.10).
                    Err(e) if matches!(e.status(), Some(401 | 403)) => {
                        let credential = self.ask(Access::Read, &owner, vec![rel.to_string()]).await?.remove(0);
                        Ok(self.client.download_signed(&credential).await?)
                    }
                    other => Ok(other?),
                }
            }
        }
    }

    /// The files about to be written below `root`: when it is a Databricks run, their write
    /// credentials are then asked for in batches.
    pub async fn expect_writes(&self, root: &ArtifactRoot, files: &[ArtifactFile]) {
        if let Some(owner) = Owner::of(root) {
            let paths = files.iter().map(|f| f.path.clone()).collect();
            self.databricks_writes.lock().await.pending.insert(owner, paths);
        }
    }

    /// The credential of file `rel` of a Databricks run or logged model: one asked for ahead if
    /// still fresh, else asked for now together with the next of its files not yet asked for.
    async fn credential(&self, access: Access, owner: &Owner, rel: &str) -> Result<ArtifactCredential> {
        let mut cache = match access {
            Access::Read => self.databricks_reads.lock().await,
            Access::Write => self.databricks_writes.lock().await,
        };
        if let Some((credential, at)) = cache.ready.remove(&(owner.clone(), rel.to_string())) {
            if at.elapsed() < CREDENTIAL_REUSE {
                return Ok(credential);
            }
        }
        let mut batch = vec![rel.to_string()];
        if let Some(rest) = cache.pending.get_mut(owner) {
            rest.retain(|p| p != rel);
            let take = rest.len().min(CREDENTIAL_BATCH - 1);
            batch.extend(rest.drain(..take));
            if rest.is_empty() {
                cache.pending.remove(owner);
            }
        }
        let mut credentials = self.ask(access, owner, batch).await?.into_iter();
        let first = credentials.next().ok_or_else(|| Error::Input(format!("{owner:?}: no credential for {rel}")))?;
        let now = Instant::now();
        for c in credentials {
            cache.ready.insert((owner.clone(), c.path.clone()), (c, now));
        }
        Ok(first)
    }

    /// One credential per path of `paths`, in order (checked by the client), from the owner's
    /// route.
    async fn ask(&self, access: Access, owner: &Owner, paths: Vec<String>) -> Result<Vec<ArtifactCredential>> {
        let c = &self.client;
        let credentials = match (access, owner) {
            (Access::Read, Owner::Run(run)) => c.credentials_for_read(run, &paths).await?,
            (Access::Write, Owner::Run(run)) => c.credentials_for_write(run, &paths).await?,
            (Access::Read, Owner::Model(id)) => c.credentials_for_model_download(id, &paths).await?,
            (Access::Write, Owner::Model(id)) => c.credentials_for_model_upload(id, &paths).await?,
        };
        // A model's credentials name no path: they are the paths asked for, in order.
        Ok(credentials.into_iter().zip(paths).map(|(c, path)| ArtifactCredential { path, ..c }).collect())
    }

    /// Streams one file to `rel` below the root; `data.len` is its size when known.
    pub async fn write(&self, root: &ArtifactRoot, rel: &str, data: ByteStream) -> Result<()> {
        match root {
            ArtifactRoot::Local(dir) => local::write(dir, rel, data).await.map(drop),
            ArtifactRoot::Object(o) => o.write(rel, data).await,
            ArtifactRoot::Proxy(p) => {
                // The proxy takes a declared length; a chunked upload may be stored empty by
                // a server that reads only `Content-Length` bytes.
                let len = data.len.ok_or_else(|| {
                    Error::Unsupported(format!(
                        "artifact {rel}: its size is unknown (neither the source's listing nor its download gives it), \
                         and the server's artifact proxy needs it to upload"
                    ))
                })?;
                Ok(self.client.upload_proxied_artifact(&join(p, &check_relative(rel)?), len, data).await?)
            }
            ArtifactRoot::RunRoutes(id) | ArtifactRoot::ModelRoutes(id) => {
                Err(Error::Unsupported(format!("{id}: artifacts read through the server cannot be written")))
            }
            ArtifactRoot::Volume(folder) => {
                let len = data.len.ok_or_else(|| {
                    Error::Unsupported(format!("artifact {rel}: its size is unknown, and the Files API needs it"))
                })?;
                Ok(self.client.upload_volume_file(&join(folder, &check_relative(rel)?), len, data).await?)
            }
            ArtifactRoot::DatabricksRun(_) | ArtifactRoot::DatabricksModel(_) => {
                // A signed PUT takes a declared length, as the proxy does.
                let len = data.len.ok_or_else(|| {
                    Error::Unsupported(format!("artifact {rel}: its size is unknown, and a signed upload needs it"))
                })?;
                let owner = Owner::of(root).expect("a Databricks root");
                let rel = check_relative(rel)?;
                let credential = self.credential(Access::Write, &owner, &rel).await?;
                // A large file of a run into S3 goes in parts, as MLflow sends it (a single
                // signed PUT holds at most 5 GiB); the credential only said where it goes.
                if let (Owner::Run(run), "AWS_PRESIGNED_URL") = (&owner, credential.kind.as_str()) {
                    let multipart = Multipart::from_env()?;
                    if len >= multipart.min_size {
                        let part = multipart.part_size(len);
                        return Ok(self.client.upload_multipart(run, &rel, len, data, part).await?);
                    }
                }
                Ok(self.client.upload_signed(&credential, len, data).await?)
            }
        }
    }

    /// Where file `rel` of `root` is in its object store, when it is in one: a sink in the same
    /// store can then copy it server-side.
    pub fn locate(root: &ArtifactRoot, rel: &str) -> Option<ObjectLocation> {
        match root {
            ArtifactRoot::Object(o) => o.locate(rel).ok(),
            _ => None,
        }
    }

    /// Copies `from` to `rel` below `root` inside their object store; `false` when they are not
    /// in the same store (or the file is too large for one copy, or of unknown size) and the
    /// bytes must be streamed.
    pub async fn copy(root: &ArtifactRoot, from: &ObjectLocation, rel: &str, size: Option<u64>) -> Result<bool> {
        match root {
            ArtifactRoot::Object(o) => o.copy_from(from, rel, size).await,
            _ => Ok(false),
        }
    }

    /// Fails now, before anything is created, when a root this job will write to cannot be
    /// reached with the credentials given.
    pub async fn check_writable(root: &ArtifactRoot) -> Result<()> {
        match root {
            ArtifactRoot::Object(o) => o.check().await,
            _ => Ok(()),
        }
    }
}

/// Whether `uri` lies in a Databricks workspace's MLflow artifact area (an experiment's or a
/// run's root), whose files only the credentials routes reach.
pub fn is_databricks_tracking(uri: &str) -> bool {
    uri.starts_with("dbfs:/databricks/mlflow-tracking/")
}

/// The root of a Databricks run, `dbfs:/databricks/mlflow-tracking/<exp>/<run>/artifacts`, or
/// logged model, `dbfs:/databricks/mlflow-tracking/<exp>/logged_models/<id>/artifacts`
/// (databricks-rest.md §2.1; MLflow's `databricks_run_artifact_repo.py` and
/// `databricks_logged_model_artifact_repo.py` patterns). The ids are checked to be plain ids:
/// they go into requests and the report.
fn databricks_root(uri: &str) -> Option<ArtifactRoot> {
    let rest = uri.strip_prefix("dbfs:/databricks/mlflow-tracking/")?.trim_end_matches('/');
    let id = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    match rest.split('/').collect::<Vec<_>>()[..] {
        [exp, run, "artifacts"] if id(exp) && id(run) => Some(ArtifactRoot::DatabricksRun(run.to_string())),
        [exp, "logged_models", model, "artifacts"] if id(exp) && id(model) => {
            Some(ArtifactRoot::DatabricksModel(model.to_string()))
        }
        _ => None,
    }
}

/// The proxy path of an `mlflow-artifacts:/p` or `mlflow-artifacts://host:port/p` URI.
pub(crate) fn proxied_path(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("mlflow-artifacts:")?;
    let path = match rest.strip_prefix("//") {
        Some(with_host) => with_host.split_once('/').map_or("", |(_, p)| p),
        None => rest,
    };
    Some(path.trim_matches('/').to_string())
}

pub(crate) fn join(root: &str, rel: &str) -> String {
    if root.is_empty() {
        rel.to_string()
    } else {
        format!("{root}/{rel}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roots(base: &str) -> ArtifactRoots {
        let config = mlflow_client::ClientConfig::resolve(base, None, &|_| None).unwrap();
        ArtifactRoots::new(MlflowClient::new(&config).unwrap())
    }

    #[test]
    fn write_roots_by_scheme() {
        let r = roots("http://h:5000/pre");
        let proxy = |uri: &str| match r.for_writing(uri).unwrap() {
            ArtifactRoot::Proxy(p) => p,
            other => panic!("{uri}: {other:?}"),
        };
        assert_eq!(proxy("mlflow-artifacts:/1/abc/artifacts"), "1/abc/artifacts");
        assert_eq!(proxy("mlflow-artifacts://h:5000/1/abc/artifacts"), "1/abc/artifacts");
        assert_eq!(proxy("http://h:5000/pre/api/2.0/mlflow-artifacts/artifacts/x/y"), "x/y");
        assert!(
            matches!(r.for_writing("/srv/a/1/r/artifacts").unwrap(), ArtifactRoot::Local(p) if p == std::path::Path::new("/srv/a/1/r/artifacts"))
        );
        assert!(matches!(r.for_writing("file:///srv/a").unwrap(), ArtifactRoot::Local(_)));
        let e = r.for_writing("hdfs://nn/x").unwrap_err().to_string();
        assert!(e.contains("`hdfs:`"), "{e}");
        let e = r.for_writing("https://elsewhere/x").unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
    }

    #[test]
    fn databricks_run_and_model_roots_use_the_credentials_routes() {
        let r = roots("http://h:5000");
        let dbx = |root: Result<ArtifactRoot>| match root.unwrap() {
            ArtifactRoot::DatabricksRun(run) => run,
            other => panic!("{other:?}"),
        };
        let uri = "dbfs:/databricks/mlflow-tracking/123/abc/artifacts";
        assert_eq!(dbx(r.for_writing(uri)), "abc");
        // An open-source server has no volumes.
        assert!(r.for_writing("dbfs:/Volumes/c/s/v/x").is_err());
        assert_eq!(dbx(r.for_reading(ArtifactRoot::RunRoutes("abc".into()), Some(uri))), "abc");
        assert_eq!(dbx(r.for_writing("dbfs:/databricks/mlflow-tracking/1/r/artifacts/")), "r");
        let model = "dbfs:/databricks/mlflow-tracking/1/logged_models/m-1/artifacts";
        assert!(matches!(r.for_writing(model).unwrap(), ArtifactRoot::DatabricksModel(id) if id == "m-1"));
        for other in [
            "dbfs:/databricks/mlflow-tracking/1/r/artifacts/sub",
            "dbfs:/databricks/mlflow-tracking/1/../artifacts",
            "dbfs:/databricks/mlflow-tracking/1/logged_models/../artifacts",
        ] {
            assert!(databricks_root(other).is_none(), "{other}");
        }
        // A Databricks server's runs are read through the credentials routes whatever the root.
        let config = mlflow_client::ClientConfig::resolve("databricks", None, &|k| {
            [("DATABRICKS_HOST", "http://w"), ("DATABRICKS_TOKEN", "t")]
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .unwrap();
        let r = ArtifactRoots::new(MlflowClient::new(&config).unwrap());
        assert_eq!(dbx(r.for_reading(ArtifactRoot::RunRoutes("x".into()), Some("dbfs:/custom/root"))), "x");
        // Except a run in a Unity Catalog volume, read and written through the Files API; a
        // path that is not plainly inside a volume is not one.
        let volume = |uri: &str| match r.for_reading(ArtifactRoot::RunRoutes("x".into()), Some(uri)).unwrap() {
            ArtifactRoot::Volume(path) => Some(path),
            _ => None,
        };
        assert_eq!(volume("dbfs:/Volumes/c/s/v/exp/x/artifacts/").as_deref(), Some("/Volumes/c/s/v/exp/x/artifacts"));
        assert!(
            matches!(r.for_writing("dbfs:/Volumes/c/s/v").unwrap(), ArtifactRoot::Volume(p) if p == "/Volumes/c/s/v")
        );
        for not_one in ["dbfs:/Volumes/c/s", "dbfs:/Volumes/c/../v/x", "dbfs:/Volumes/c//v/x", "dbfs:/volumes/c/s/v"] {
            assert_eq!(volume(not_one), None, "{not_one}");
        }
        let model = r.for_reading(ArtifactRoot::ModelRoutes("m-2".into()), None).unwrap();
        assert!(matches!(model, ArtifactRoot::DatabricksModel(id) if id == "m-2"));
    }

    /// Parts are the chunk size, or larger when a file would need more than S3's 10,000.
    #[test]
    fn multipart_parts_stay_within_s3s_count() {
        let m = Multipart { min_size: 500 << 20, chunk: 10 << 20 };
        assert_eq!(m.part_size(600 << 20), 10 << 20);
        let huge: u64 = 200 << 30;
        let part = m.part_size(huge) as u64;
        assert!(part > 10 << 20 && huge.div_ceil(part) <= 10_000, "{part}");
    }

    #[test]
    fn unreachable_stores_are_read_through_the_server() {
        let r = roots("http://h:5000");
        let run = || ArtifactRoot::RunRoutes("r1".into());
        assert!(
            matches!(r.for_reading(run(), Some("hdfs://nn/x")).unwrap(), ArtifactRoot::RunRoutes(id) if id == "r1")
        );
        assert!(matches!(r.for_reading(run(), None).unwrap(), ArtifactRoot::RunRoutes(_)));
        assert!(
            matches!(r.for_reading(run(), Some("mlflow-artifacts:/1/r1/artifacts")).unwrap(), ArtifactRoot::Proxy(p) if p == "1/r1/artifacts")
        );
        // A local path that is not a folder here belongs to the server's machine.
        assert!(matches!(
            r.for_reading(run(), Some("/nonexistent/mlruns/1/r1/artifacts")).unwrap(),
            ArtifactRoot::RunRoutes(_)
        ));
        let model = ArtifactRoot::ModelRoutes("m-1".into());
        assert!(
            matches!(r.for_reading(model, Some("ftp://h/x")).unwrap(), ArtifactRoot::ModelRoutes(id) if id == "m-1")
        );
    }
}
