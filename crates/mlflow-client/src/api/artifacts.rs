//! Run artifacts: listing and downloading through the tracking server, and listing,
//! downloading and uploading through its `mlflow-artifacts` proxy. The proxy routes are the
//! cheaper reads where a run's root is `mlflow-artifacts:`: the tracking routes load the run from
//! the database on every call.

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
        self.put_stream(&proxy_route(proxy_path), len, reqwest::Body::wrap_stream(data.stream)).await
    }

    /// One directory level below a proxy path. The proxy names entries by their base name only;
    /// the paths returned here are made relative to `proxy_path` like `artifacts/list`'s.
    pub async fn list_proxied_artifacts(&self, proxy_path: &str, dir: &str) -> Result<Vec<FileInfo>> {
        let full = [proxy_path.trim_matches('/'), dir.trim_matches('/')]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("/");
        let page: crate::client::Page<FileInfo> =
            self.get("/api/2.0/mlflow-artifacts/artifacts", &[("path", full)]).await?;
        Ok(page
            .into_items()
            .into_iter()
            .map(|f| FileInfo {
                path: if dir.is_empty() { f.path } else { format!("{}/{}", dir.trim_matches('/'), f.path) },
                ..f
            })
            .collect())
    }

    /// Streams one file through the artifact proxy.
    pub async fn download_proxied_artifact(&self, proxy_path: &str) -> Result<ByteStream> {
        self.get_stream(&proxy_route(proxy_path), &[]).await
    }
}

/// The proxy route of a path, each segment percent-encoded.
fn proxy_route(proxy_path: &str) -> String {
    let encoded: Vec<String> = proxy_path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20"))
        .collect();
    format!("/api/2.0/mlflow-artifacts/artifacts/{}", encoded.join("/"))
}
