//! Moving an object's files, the same for every kind that has them (runs, logged models):
//! bounded concurrency, a retry per file on transient errors, every byte hashed and counted on
//! the way, a size check that catches a body cut short, and a checksum check where the source
//! vouches for one (an export's manifest).

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};

use async_trait::async_trait;
use futures::{stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{
    format::run_json::ArtifactEntry,
    job::Reporter,
    model::ArtifactFile,
    store::{object::ObjectLocation, ByteStream},
    Error, Result,
};

/// Where one object's files are read from.
#[async_trait]
pub trait FileSource: Send + Sync {
    async fn open(&self, file: &ArtifactFile) -> Result<ByteStream>;
    /// Where the file is in an object store, so that a sink in the same store copies it there.
    async fn locate(&self, _file: &ArtifactFile) -> Option<ObjectLocation> {
        None
    }
}

/// Where one object's files are written.
#[async_trait]
pub trait FileSink: Send + Sync {
    async fn write(&self, file: &ArtifactFile, data: ByteStream) -> Result<()>;
    /// Copies inside the object store; `false` when that is not possible and the file must be
    /// streamed.
    async fn copy(&self, _file: &ArtifactFile, _from: &ObjectLocation) -> Result<bool> {
        Ok(false)
    }
}

/// How files move.
#[derive(Clone, Copy)]
pub struct FileOptions {
    /// Files moved at once.
    pub transfers: usize,
    /// Attempts per file after a transient failure.
    pub retries: u32,
}

/// Moves every file; the listing comes back sorted by path with sizes and checksums.
pub async fn copy_files(
    from: &dyn FileSource,
    to: &dyn FileSink,
    files: &[ArtifactFile],
    opts: FileOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<ArtifactEntry>> {
    reporter.artifacts_planned(files.len(), files.iter().map(|f| f.size).sum());
    let mut entries: Vec<ArtifactEntry> = stream::iter(files.iter())
        .map(|file| copy_file(from, to, file, opts.retries, reporter))
        .buffer_unordered(opts.transfers.max(1))
        .try_collect()
        .await?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Streams one file; retries the whole file on transient errors and on a size mismatch.
async fn copy_file(
    from: &dyn FileSource,
    to: &dyn FileSink,
    file: &ArtifactFile,
    retries: u32,
    reporter: &Arc<dyn Reporter>,
) -> Result<ArtifactEntry> {
    let mut attempt = 0;
    loop {
        match copy_once(from, to, file, reporter).await {
            Ok(entry) => return Ok(entry),
            Err(e) if e.is_transient() && attempt < retries => {
                attempt += 1;
                tracing::debug!(path = %file.path, error = %e, attempt, "retrying artifact");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            Err(e @ (Error::Truncated { .. } | Error::Input(_))) => return Err(e),
            Err(e) => return Err(Error::Artifact { path: file.path.clone(), source: Box::new(e) }),
        }
    }
}

async fn copy_once(
    from: &dyn FileSource,
    to: &dyn FileSink,
    file: &ArtifactFile,
    reporter: &Arc<dyn Reporter>,
) -> Result<ArtifactEntry> {
    if let Some(location) = from.locate(file).await {
        if to.copy(file, &location).await? {
            return Ok(ArtifactEntry { path: file.path.clone(), size: file.size, sha256: None });
        }
    }
    let data = from.open(file).await?;
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let count = Arc::new(AtomicU64::new(0));
    let (h, c) = (hasher.clone(), count.clone());
    let reporter = reporter.clone();
    let stream = data.stream.inspect_ok(move |chunk| {
        h.lock().expect("poisoned").update(chunk);
        c.fetch_add(chunk.len() as u64, Ordering::Relaxed);
        reporter.bytes_moved(chunk.len() as u64);
    });
    to.write(file, ByteStream { len: data.len, stream: Box::pin(stream) }).await?;
    let actual = count.load(Ordering::Relaxed);
    if actual != file.size {
        return Err(Error::Truncated { path: file.path.clone(), expected: file.size, actual });
    }
    let sha256 = format!("{:x}", hasher.lock().expect("poisoned").clone().finalize());
    if let Some(expected) = file.sha256.as_deref().filter(|e| !e.eq_ignore_ascii_case(&sha256)) {
        return Err(Error::Input(format!(
            "artifact {}: its bytes have SHA-256 {sha256}, the source's manifest says {expected}: the file is damaged",
            file.path
        )));
    }
    Ok(ArtifactEntry { path: file.path.clone(), size: actual, sha256: Some(sha256) })
}
