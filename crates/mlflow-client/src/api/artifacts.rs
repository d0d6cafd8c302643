//! Run artifacts: listing and downloading through the tracking server, uploading through its
//! `mlflow-artifacts` proxy.

use serde::Deserialize;

use crate::{client::ByteStream, types::FileInfo, MlflowClient, Result};

#[derive(Deserialize)]
struct ListResponse {
    #[serde(default)]
    files: Vec<FileInfo>,
    #[serde(default)]
    next_page_token: Option<String>,
}

impl MlflowClient {
    /// One directory level of a run's artifacts; `path` is relative to the run root.
    pub async fn list_artifacts(&self, run_id: &str, path: &str) -> Result<Vec<FileInfo>> {
        let mut files = Vec::new();
        let mut token = None::<String>;
        loop {
            let mut q = vec![("run_id", run_id.to_string())];
            if !path.is_empty() {
                q.push(("path", path.to_string()));
            }
            if let Some(t) = &token {
                q.push(("page_token", t.clone()));
            }
            let page: ListResponse = self.get("/api/2.0/mlflow/artifacts/list", &q).await?;
            files.extend(page.files);
            match page.next_page_token.filter(|t| !t.is_empty()) {
                // OSS ignores page tokens; stop if a server repeats the same one.
                Some(t) if Some(&t) != token.as_ref() => token = Some(t),
                _ => return Ok(files),
            }
        }
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
