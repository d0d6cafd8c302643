//! Run artifacts: listing and downloading through the tracking server, uploading through its
//! `mlflow-artifacts` proxy.

use crate::{
    client::{all_pages, ByteStream},
    types::FileInfo,
    MlflowClient, Result,
};

impl MlflowClient {
    /// One directory level of a run's artifacts; `path` is relative to the run root.
    pub async fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<FileInfo>> {
        all_pages(|token| async move {
            let mut q = vec![("run_id", run_id.to_string())];
            if !path.is_empty() {
                q.push(("path", path.to_string()));
            }
            q.extend(token.map(|t| ("page_token", t)));
            self.get("/api/2.0/mlflow/artifacts/list", &q).await
        })
        .await
    }

    /// Streams one run artifact file (`GET /get-artifact`), whatever the artifact store.
    pub async fn download_artifact(&self, run_id: &str, path: &str) -> Result<ByteStream> {
        self.get_stream("/get-artifact", &[("run_id", run_id.to_string()), ("path", path.to_string())]).await
    }

    /// Uploads a file through the artifact proxy. `proxy_path` is the part of an
    /// `mlflow-artifacts:/…` URI after the scheme, joined with the file's relative path.
    pub async fn upload_proxied_artifact(&self, proxy_path: &str, len: u64, data: ByteStream) -> Result<()> {
        let encoded: Vec<String> = proxy_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20"))
            .collect();
        self.put_stream(
            &format!("/api/2.0/mlflow-artifacts/artifacts/{}", encoded.join("/")),
            len,
            reqwest::Body::wrap_stream(data.stream),
        )
        .await
    }
}
