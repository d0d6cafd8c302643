//! The Databricks Files API (databricks-rest.md §2.9; Databricks REST reference
//! `/api/files/v2`): the files of Unity Catalog volumes, where a run's artifacts are when its
//! experiment's artifact location is `dbfs:/Volumes/<catalog>/<schema>/<volume>/...` (MLflow's
//! `UCVolumesArtifactRepository`).

use serde::Deserialize;

use crate::{
    client::{all_pages, ByteStream},
    types::FileInfo,
    Error, MlflowClient, Result,
};

/// An entry of `GET /api/2.0/fs/directories{path}`.
#[derive(Deserialize)]
struct DirectoryEntry {
    path: String,
    #[serde(default)]
    is_directory: bool,
    #[serde(default)]
    file_size: Option<u64>,
}

impl MlflowClient {
    /// One level of folder `dir` below volume folder `root` (both absolute `/Volumes/...`
    /// paths; `dir` empty for the root itself), every page, each entry's path relative to
    /// `root`, as `artifacts/list` names them. An entry outside `dir` is refused.
    pub async fn list_volume_directory(&self, root: &str, dir: &str) -> Result<Vec<FileInfo>> {
        let root = root.trim_end_matches('/');
        let folder = if dir.is_empty() { root.to_string() } else { format!("{root}/{}", dir.trim_matches('/')) };
        let route = files_route("directories", &folder);
        let entries: Vec<DirectoryEntry> = all_pages(|token| {
            let route = &route;
            async move {
                let query: Vec<(&str, String)> = token.into_iter().map(|t| ("page_token", t)).collect();
                self.get(route, &query).await
            }
        })
        .await?;
        let (in_folder, in_root) = (format!("{folder}/"), format!("{root}/"));
        entries
            .into_iter()
            .map(|e| {
                let below = e.path.strip_prefix(&in_folder).is_some_and(|rest| !rest.is_empty());
                match e.path.strip_prefix(&in_root).filter(|_| below) {
                    Some(rel) => Ok(FileInfo { path: rel.to_string(), is_dir: e.is_directory, file_size: e.file_size }),
                    None => Err(Error::Protocol(format!("the listing of {folder} named {:?}, outside it", e.path))),
                }
            })
            .collect()
    }

    /// Streams volume file `path` (`GET /api/2.0/fs/files{path}`).
    pub async fn download_volume_file(&self, path: &str) -> Result<ByteStream> {
        self.get_stream(&files_route("files", path), &[]).await
    }

    /// Writes `len` bytes to volume file `path`, replacing what is there
    /// (`PUT /api/2.0/fs/files{path}?overwrite=true`), so that a repeat changes nothing.
    pub async fn upload_volume_file(&self, path: &str, len: u64, data: ByteStream) -> Result<()> {
        let route = format!("{}?overwrite=true", files_route("files", path));
        self.put_stream(&route, len, reqwest::Body::wrap_stream(data.stream)).await
    }
}

/// `/api/2.0/fs/<kind><path>`, each segment of `path` percent-encoded, `/` kept.
fn files_route(kind: &str, path: &str) -> String {
    let segments: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(super::encode).collect();
    format!("/api/2.0/fs/{kind}/{}", segments.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_paths_are_encoded_segment_by_segment() {
        assert_eq!(files_route("files", "/Volumes/c/s/v/a b/x?.txt"), "/api/2.0/fs/files/Volumes/c/s/v/a%20b/x%3F.txt");
        assert_eq!(files_route("directories", "/Volumes/c/s/v/"), "/api/2.0/fs/directories/Volumes/c/s/v");
    }
}
