//! Run artifacts on a Databricks workspace: the credentials routes that hand out signed URLs
//! into the workspace's cloud storage (databricks-rest.md §2.3;
//! `mlflow/protos/databricks_artifacts_pb2.py` `DatabricksMlflowArtifactsService`), and the
//! transfers through those URLs. The open-source `get-artifact` and `mlflow-artifacts` routes
//! do not exist there.

use std::fmt;

use crate::{
    client::{ByteStream, Idempotency},
    MlflowClient, Result,
};

/// Most paths per credentials request (MLflow's `_MAX_CREDENTIALS_REQUEST_SIZE`).
pub const MAX_CREDENTIAL_PATHS: usize = 2000;

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

    /// The single-request transports; Azure block blobs and ADLS need block uploads, which
    /// this tool does not make yet.
    fn check_kind(&self, writing: bool) -> Result<()> {
        match self.kind.as_str() {
            "AWS_PRESIGNED_URL" | "GCP_SIGNED_URL" => Ok(()),
            _ if !writing => Ok(()),
            other => Err(crate::Error::Protocol(format!(
                "artifact {}: uploads through {other} credentials are not supported yet",
                self.path
            ))),
        }
    }
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
        let mut out = Vec::with_capacity(paths.len());
        for chunk in paths.chunks(MAX_CREDENTIAL_PATHS) {
            let mut tokens = crate::client::PageTokens::default();
            let mut got = Vec::with_capacity(chunk.len());
            loop {
                let mut body = serde_json::json!({"run_id": run_id, "path": chunk});
                if let Some(t) = tokens.current() {
                    body["page_token"] = serde_json::json!(t);
                }
                // Asking for credentials changes nothing: safe to repeat.
                let page: CredentialsPage = self.send(reqwest::Method::POST, &url, &body, Idempotency::Safe).await?;
                let next = page.next_page_token.filter(|t| !t.is_empty());
                if tokens.is_repeat(&next) || page.credential_infos.is_empty() {
                    break;
                }
                got.extend(page.credential_infos);
                if !tokens.advance(next)? {
                    break;
                }
            }
            if got.len() != chunk.len() {
                return Err(crate::Error::Protocol(format!(
                    "{url}: {} credentials for {} paths of run {run_id}",
                    got.len(),
                    chunk.len()
                )));
            }
            out.extend(got.into_iter().zip(chunk).map(|(c, p)| ArtifactCredential { path: p.clone(), ..c }));
        }
        Ok(out)
    }

    /// Streams the file behind a read credential.
    pub async fn download_signed(&self, credential: &ArtifactCredential) -> Result<ByteStream> {
        credential.check_kind(false)?;
        self.get_signed(&credential.signed_uri, &credential.header_pairs()).await
    }

    /// Uploads `len` bytes to the file behind a write credential, in one request.
    pub async fn upload_signed(&self, credential: &ArtifactCredential, len: u64, data: ByteStream) -> Result<()> {
        credential.check_kind(true)?;
        self.put_signed(
            &credential.signed_uri,
            &credential.header_pairs(),
            len,
            reqwest::Body::wrap_stream(data.stream),
        )
        .await
    }
}
