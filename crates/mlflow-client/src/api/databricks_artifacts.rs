//! Run artifacts on a Databricks workspace: the credentials routes that hand out signed URLs
//! into the workspace's cloud storage (databricks-rest.md §2.3;
//! `mlflow/protos/databricks_artifacts_pb2.py` `DatabricksMlflowArtifactsService`), and the
//! transfers through those URLs. The open-source `get-artifact` and `mlflow-artifacts` routes
//! do not exist there.
//!
//! Uploads follow the credential's type (databricks-rest.md §2.4): one `PUT` to an S3 or GCS
//! URL; blocks and a block list to an Azure Blob SAS URL (§2.6); create, append and flush to an
//! ADLS Gen2 SAS URL (§2.7), in blocks of [`AZURE_BLOCK_SIZE`].

use std::fmt;

use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use reqwest::Method;

use crate::{
    client::{ByteStream, Idempotency},
    MlflowClient, Result,
};

/// Most paths per credentials request (MLflow's `_MAX_CREDENTIALS_REQUEST_SIZE`).
pub const MAX_CREDENTIAL_PATHS: usize = 2000;

/// Bytes per Azure block or ADLS append. MLflow sends 10 MiB; 4 MiB keeps a transfer's buffer
/// small (one block in memory per file in flight) and still allows blobs of 195 GiB (Azure
/// takes 50,000 blocks a blob).
pub const AZURE_BLOCK_SIZE: usize = 4 << 20;

/// The credential headers Azure's Put Block takes (MLflow `mlflow/azure/client.py`
/// `_PUT_BLOCK_HEADERS`); others the credential carries go to Put Block List only.
const PUT_BLOCK_HEADERS: [&str; 12] = [
    "authorization",
    "x-ms-date",
    "x-ms-version",
    "content-length",
    "content-md5",
    "x-ms-content-crc64",
    "x-ms-encryption-scope",
    "x-ms-lease-id",
    "x-ms-client-request-id",
    "x-ms-encryption-key",
    "x-ms-encryption-key-sha256",
    "x-ms-encryption-algorithm",
];
/// Put Block List (and ADLS create and flush) take those and the blob's properties.
const PUT_BLOCK_LIST_HEADERS: [&str; 3] = ["x-ms-blob-cache-control", "x-ms-tags", "x-ms-access-tier"];
const PUT_BLOCK_LIST_PREFIXES: [&str; 3] = ["x-ms-meta-", "x-ms-blob-content-", "if-"];

/// The type given to a [`MlflowClient::create_upload_url`] answer, which has none: a plain
/// `PUT` of the whole file.
const PRESIGNED: &str = "PRESIGNED_URL";

/// One signed URL for one file (`ArtifactCredentialInfo`).
#[derive(Clone, serde::Deserialize)]
pub struct ArtifactCredential {
    #[serde(default)]
    pub path: String,
    pub signed_uri: String,
    #[serde(default)]
    pub headers: Vec<CredentialHeader>,
    /// `AWS_PRESIGNED_URL`, `GCP_SIGNED_URL`, `AZURE_SAS_URI`, `AZURE_ADLS_GEN2_SAS_URI`.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// A header the storage request must carry (`ArtifactCredentialInfo.HttpHeader`).
#[derive(Clone, serde::Deserialize)]
pub struct CredentialHeader {
    pub name: String,
    pub value: String,
}

/// The signed URL is a bearer secret: never printed.
impl fmt::Debug for ArtifactCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArtifactCredential")
            .field("path", &self.path)
            .field("signed_uri", &crate::redact(&self.signed_uri))
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A page of a logged model's credentials (`GetCredentialsForLoggedModelDownload`): each
/// credential wrapped with the model's id.
#[derive(serde::Deserialize)]
struct ModelCredentialsPage {
    #[serde(default)]
    credentials: Vec<ModelCredential>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(serde::Deserialize)]
struct ModelCredential {
    credential_info: ArtifactCredential,
}

/// `CreateMultipartUpload`'s answer: the upload, a signed URL per part in part order, and one
/// to abort it.
#[derive(serde::Deserialize)]
struct MultipartUpload {
    upload_id: String,
    #[serde(default)]
    upload_credential_infos: Vec<ArtifactCredential>,
    #[serde(default)]
    abort_credential_info: Option<ArtifactCredential>,
}

#[derive(serde::Deserialize)]
struct PartCredential {
    upload_credential_info: ArtifactCredential,
}

#[derive(serde::Deserialize)]
struct CredentialsPage {
    #[serde(default)]
    credential_infos: Vec<ArtifactCredential>,
    #[serde(default)]
    next_page_token: Option<String>,
}

impl ArtifactCredential {
    fn header_pairs(&self) -> Vec<(String, String)> {
        self.headers.iter().map(|h| (h.name.clone(), h.value.clone())).collect()
    }

    /// The credential's headers an Azure request may carry: Put Block takes fewer than the
    /// requests that set the blob's properties (`commit`).
    fn azure_headers(&self, commit: bool) -> Vec<(String, String)> {
        let allowed = |name: &str| {
            let name = name.to_ascii_lowercase();
            PUT_BLOCK_HEADERS.contains(&name.as_str())
                || commit
                    && (PUT_BLOCK_LIST_HEADERS.contains(&name.as_str())
                        || PUT_BLOCK_LIST_PREFIXES.iter().any(|p| name.starts_with(p)))
        };
        self.headers.iter().filter(|h| allowed(&h.name)).map(|h| (h.name.clone(), h.value.clone())).collect()
    }

    /// The signed URL with `pairs` added to its query (percent-encoded).
    fn url_with(&self, pairs: &[(&str, &str)]) -> Result<String> {
        let mut url = reqwest::Url::parse(&self.signed_uri)
            .map_err(|e| crate::Error::Protocol(format!("artifact {}: the signed URL is not a URL: {e}", self.path)))?;
        url.query_pairs_mut().extend_pairs(pairs);
        Ok(url.into())
    }
}

/// The id of block `n` of a blob: Base64 of a fixed-length text, as Azure wants every id of
/// a blob to be the same length.
fn block_id(n: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("block-{n:010}"))
}

/// Calls `put` with each block of `size` bytes of `data` and its offset, in order, and
/// returns the total length, checked against `len`: a source that sends more or fewer bytes
/// than it declared fails the file rather than storing a different one.
async fn in_blocks<F, Fut>(data: ByteStream, len: u64, path: &str, size: usize, mut put: F) -> Result<u64>
where
    F: FnMut(Bytes, u64) -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut stream = data.stream;
    let mut block = BytesMut::with_capacity(size.min(len as usize));
    let mut offset = 0u64;
    while let Some(chunk) = stream.next().await {
        let mut chunk = chunk.map_err(|source| crate::Error::Io { path: path.to_string(), source })?;
        while !chunk.is_empty() {
            let take = (size - block.len()).min(chunk.len());
            block.extend_from_slice(&chunk.split_to(take));
            if block.len() == size {
                let full = block.split().freeze();
                let at = offset;
                offset += full.len() as u64;
                put(full, at).await?;
            }
        }
    }
    if !block.is_empty() {
        let last = block.split().freeze();
        let at = offset;
        offset += last.len() as u64;
        put(last, at).await?;
    }
    if offset != len {
        return Err(crate::Error::Protocol(format!("artifact {path}: {offset} bytes read where {len} were declared")));
    }
    Ok(offset)
}

impl MlflowClient {
    /// Read credentials for `paths` (relative to the run's artifact root), one per path in
    /// request order.
    pub async fn credentials_for_read(&self, run_id: &str, paths: &[String]) -> Result<Vec<ArtifactCredential>> {
        self.artifact_credentials("credentials-for-read", run_id, paths).await
    }

    /// Write credentials for `paths`, one per path in request order.
    pub async fn credentials_for_write(&self, run_id: &str, paths: &[String]) -> Result<Vec<ArtifactCredential>> {
        self.artifact_credentials("credentials-for-write", run_id, paths).await
    }

    /// Download credentials for files `paths` of logged model `model_id`, one per path in order.
    pub async fn credentials_for_model_download(
        &self,
        model_id: &str,
        paths: &[String],
    ) -> Result<Vec<ArtifactCredential>> {
        self.model_credentials("credentials-for-download", model_id, paths).await
    }

    /// Upload credentials for files `paths` of logged model `model_id`, one per path in order.
    pub async fn credentials_for_model_upload(
        &self,
        model_id: &str,
        paths: &[String],
    ) -> Result<Vec<ArtifactCredential>> {
        self.model_credentials("credentials-for-upload", model_id, paths).await
    }

    /// `POST /api/2.0/mlflow/artifacts/credentials-for-{read,write}` `{"run_id", "path": [..],
    /// "page_token"}`, following `next_page_token`. Credentials are paired with paths by
    /// position, as MLflow pairs them; an answer of another length is refused.
    async fn artifact_credentials(
        &self,
        route: &str,
        run_id: &str,
        paths: &[String],
    ) -> Result<Vec<ArtifactCredential>> {
        let url = format!("/api/2.0/mlflow/artifacts/{route}");
        self.paged_credentials(
            &url,
            &format!("run {run_id}"),
            paths,
            |chunk| serde_json::json!({"run_id": run_id, "path": chunk}),
            |page: CredentialsPage| (page.credential_infos, page.next_page_token),
        )
        .await
    }

    /// `POST /api/2.0/mlflow/logged-models/{id}/artifacts/credentials-for-{download,upload}`
    /// `{"paths": [..], "page_token"}` (databricks-rest.md §2.3: `paths`, plural), each
    /// credential wrapped with the model's id.
    async fn model_credentials(
        &self,
        route: &str,
        model_id: &str,
        paths: &[String],
    ) -> Result<Vec<ArtifactCredential>> {
        let url = format!("/api/2.0/mlflow/logged-models/{}/artifacts/{route}", super::encode(model_id));
        self.paged_credentials(
            &url,
            &format!("logged model {model_id}"),
            paths,
            |chunk| serde_json::json!({"paths": chunk}),
            |page: ModelCredentialsPage| {
                (page.credentials.into_iter().map(|c| c.credential_info).collect(), page.next_page_token)
            },
        )
        .await
    }

    /// The credentials of `paths` from the route at `url`, in chunks of at most
    /// [`MAX_CREDENTIAL_PATHS`], following each chunk's pages; paired with the paths by
    /// position, an answer of another length refused.
    async fn paged_credentials<P: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        owner: &str,
        paths: &[String],
        request: impl Fn(&[String]) -> serde_json::Value,
        page_of: impl Fn(P) -> (Vec<ArtifactCredential>, Option<String>),
    ) -> Result<Vec<ArtifactCredential>> {
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(MAX_CREDENTIAL_PATHS) {
            let mut tokens = crate::client::PageTokens::default();
            let mut got = Vec::with_capacity(chunk.len());
            loop {
                let mut body = request(chunk);
                if let Some(t) = tokens.current() {
                    body["page_token"] = serde_json::json!(t);
                }
                // Asking for credentials changes nothing: safe to repeat.
                let page: P = self.send(reqwest::Method::POST, url, &body, Idempotency::Safe).await?;
                let (infos, next) = page_of(page);
                let next = next.filter(|t| !t.is_empty());
                if tokens.is_repeat(&next) || infos.is_empty() {
                    break;
                }
                got.extend(infos);
                if !tokens.advance(next)? {
                    break;
                }
            }
            if got.len() != chunk.len() {
                return Err(crate::Error::Protocol(format!(
                    "{url}: {} credentials for {} paths of {owner}",
                    got.len(),
                    chunk.len()
                )));
            }
            out.extend(got.into_iter().zip(chunk).map(|(c, p)| ArtifactCredential { path: p.clone(), ..c }));
        }
        Ok(out)
    }

    /// `POST /api/2.0/fs/create-upload-url {"path"}` → `{"url", "headers"}`: a presigned URL
    /// to `PUT` the file at Files API path `path` (`/Models/<catalog>/<schema>/<model>/<version>/…`)
    /// with, as a Unity Catalog version in the workspace's default storage is written
    /// (databricks-rest.md §3.3 step 4; MLflow `presigned_url_artifact_repo.py`).
    pub async fn create_upload_url(&self, path: &str) -> Result<ArtifactCredential> {
        #[derive(serde::Deserialize)]
        struct Answer {
            url: String,
            #[serde(default)]
            headers: Vec<CredentialHeader>,
        }
        let body = serde_json::json!({ "path": path });
        let r: Answer = self.send(Method::POST, "/api/2.0/fs/create-upload-url", &body, Idempotency::Safe).await?;
        Ok(ArtifactCredential { path: path.to_string(), signed_uri: r.url, headers: r.headers, kind: PRESIGNED.into() })
    }

    /// Streams the file behind a read credential.
    pub async fn download_signed(&self, credential: &ArtifactCredential) -> Result<ByteStream> {
        self.get_signed(&credential.signed_uri, &credential.header_pairs()).await
    }

    /// Uploads `len` bytes to the file behind a write credential, the way its type takes them.
    pub async fn upload_signed(&self, credential: &ArtifactCredential, len: u64, data: ByteStream) -> Result<()> {
        match credential.kind.as_str() {
            "AWS_PRESIGNED_URL" | "GCP_SIGNED_URL" | PRESIGNED => {
                let body = reqwest::Body::wrap_stream(data.stream);
                let headers = credential.header_pairs();
                self.send_signed(Method::PUT, &credential.signed_uri, &headers, len, body).await.map(drop)
            }
            "AZURE_SAS_URI" => self.upload_azure_blob(credential, len, data).await,
            "AZURE_ADLS_GEN2_SAS_URI" => self.upload_adls(credential, len, data).await,
            other => Err(crate::Error::Protocol(format!(
                "artifact {}: the workspace gave a write credential of unknown type {other:?}",
                credential.path
            ))),
        }
    }

    /// An Azure block blob through a SAS URL (databricks-rest.md §2.6): each block with Put
    /// Block, then Put Block List naming them in order; an empty file is an empty list.
    async fn upload_azure_blob(&self, credential: &ArtifactCredential, len: u64, data: ByteStream) -> Result<()> {
        let mut ids = Vec::new();
        let mut headers = credential.azure_headers(false);
        headers.push(("x-ms-blob-type".into(), "BlockBlob".into()));
        let headers = &headers;
        in_blocks(data, len, &credential.path, AZURE_BLOCK_SIZE, |block, _| {
            let id = block_id(ids.len());
            let url = credential.url_with(&[("comp", "block"), ("blockid", &id)]);
            ids.push(id);
            async move {
                let size = block.len() as u64;
                self.send_signed(Method::PUT, &url?, headers, size, block.into()).await.map(drop)
            }
        })
        .await?;
        let mut list = String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<BlockList>\n");
        for id in &ids {
            list.push_str(&format!("<Uncommitted>{id}</Uncommitted>\n"));
        }
        list.push_str("</BlockList>");
        let url = credential.url_with(&[("comp", "blocklist")])?;
        let headers = credential.azure_headers(true);
        self.send_signed(Method::PUT, &url, &headers, list.len() as u64, list.into()).await.map(drop)
    }

    /// A file in ADLS Gen2 through a SAS URL (databricks-rest.md §2.7): create it, append each
    /// block at its position, then flush at the file's length (a one-block file flushes with
    /// its append).
    async fn upload_adls(&self, credential: &ArtifactCredential, len: u64, data: ByteStream) -> Result<()> {
        let commit = credential.azure_headers(true);
        let create = credential.url_with(&[("resource", "file")])?;
        self.send_signed(Method::PUT, &create, &commit, 0, Bytes::new().into()).await?;
        let one_block = len > 0 && len <= AZURE_BLOCK_SIZE as u64;
        let append_headers = credential.azure_headers(false);
        let headers = &append_headers;
        in_blocks(data, len, &credential.path, AZURE_BLOCK_SIZE, |block, at| {
            let position = at.to_string();
            let mut pairs = vec![("action", "append"), ("position", position.as_str())];
            if one_block {
                pairs.push(("flush", "true"));
            }
            let url = credential.url_with(&pairs);
            async move {
                let size = block.len() as u64;
                self.send_signed(Method::PATCH, &url?, headers, size, block.into()).await.map(drop)
            }
        })
        .await?;
        if !one_block {
            let flush = credential.url_with(&[("action", "flush"), ("position", &len.to_string())])?;
            self.send_signed(Method::PATCH, &flush, &commit, 0, Bytes::new().into()).await?;
        }
        Ok(())
    }

    /// Uploads file `path` of run `run_id` to the workspace's S3 storage in parts of `part`
    /// bytes (databricks-rest.md §2.5: `create-multipart-upload`, a signed `PUT` per part whose
    /// `ETag` is kept, a part refused with 401/403 signed again once with
    /// `get-presigned-upload-part-url`, then `complete-multipart-upload`). An upload that
    /// fails is aborted through its abort URL, so no parts are left behind.
    pub async fn upload_multipart(
        &self,
        run_id: &str,
        path: &str,
        len: u64,
        data: ByteStream,
        part: usize,
    ) -> Result<()> {
        let parts = len.div_ceil(part as u64).max(1);
        let body = serde_json::json!({"run_id": run_id, "path": path, "num_parts": parts});
        let route = "/api/2.0/mlflow/artifacts/create-multipart-upload";
        let upload: MultipartUpload = self.send(Method::POST, route, &body, Idempotency::Create).await?;
        if upload.upload_credential_infos.len() as u64 != parts {
            return Err(crate::Error::Protocol(format!(
                "{route}: {} part URLs for the {parts} parts of {path} of run {run_id}",
                upload.upload_credential_infos.len()
            )));
        }
        let done = self.send_parts(run_id, path, len, data, part, &upload).await;
        if done.is_err() {
            if let Some(abort) = &upload.abort_credential_info {
                let headers = abort.header_pairs();
                let aborted = self.send_signed(Method::DELETE, &abort.signed_uri, &headers, 0, Bytes::new().into());
                if let Err(e) = aborted.await {
                    tracing::warn!(run = run_id, path, "the failed multipart upload could not be aborted: {e}");
                }
            }
        }
        done
    }

    /// The parts of a multipart upload, then its completion.
    async fn send_parts(
        &self,
        run_id: &str,
        path: &str,
        len: u64,
        data: ByteStream,
        part: usize,
        upload: &MultipartUpload,
    ) -> Result<()> {
        let etags = std::sync::Mutex::new(Vec::new());
        let etags_ref = &etags;
        in_blocks(data, len, path, part, |bytes, at| async move {
            let number = at / part as u64 + 1;
            let credential = &upload.upload_credential_infos[number as usize - 1];
            let size = bytes.len() as u64;
            let headers = credential.header_pairs();
            let sent = self.send_signed(Method::PUT, &credential.signed_uri, &headers, size, bytes.clone().into());
            let etag = match sent.await {
                Err(e) if matches!(e.status(), Some(401 | 403)) => {
                    let query = [
                        ("run_id", run_id.to_string()),
                        ("path", path.to_string()),
                        ("upload_id", upload.upload_id.clone()),
                        ("part_number", number.to_string()),
                    ];
                    let fresh: PartCredential =
                        self.get("/api/2.0/mlflow/artifacts/get-presigned-upload-part-url", &query).await?;
                    let c = fresh.upload_credential_info;
                    self.send_signed(Method::PUT, &c.signed_uri, &c.header_pairs(), size, bytes.into()).await?
                }
                other => other?,
            };
            let etag = etag.ok_or_else(|| {
                crate::Error::Protocol(format!("part {number} of {path} of run {run_id}: the storage gave no ETag"))
            })?;
            etags_ref.lock().expect("poisoned").push(serde_json::json!({"part_number": number, "etag": etag}));
            Ok(())
        })
        .await?;
        let part_etags = etags.into_inner().expect("poisoned");
        let body = serde_json::json!({
            "run_id": run_id, "path": path, "upload_id": upload.upload_id, "part_etags": part_etags,
        });
        let route = "/api/2.0/mlflow/artifacts/complete-multipart-upload";
        let _: serde_json::Value = self.send(Method::POST, route, &body, Idempotency::Safe).await?;
        Ok(())
    }
}
