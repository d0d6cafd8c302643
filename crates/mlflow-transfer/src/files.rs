//! Moving an object's files, the same for every kind that has them (runs, logged models):
//! bounded concurrency, a retry per file on transient errors, every byte hashed and counted on
//! the way, a size check that catches a body cut short where the listing gives a size, and a
//! checksum check where the source vouches for one (an export's manifest).

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

/// Moves every file; the listing comes back sorted by path with the sizes and checksums of the
/// bytes moved.
pub async fn copy_files(
    from: &dyn FileSource,
    to: &dyn FileSink,
    files: &[ArtifactFile],
    opts: FileOptions,
    reporter: &Arc<dyn Reporter>,
) -> Result<Vec<ArtifactEntry>> {
    reporter.artifacts_planned(files.len(), files.iter().filter_map(|f| f.size).sum());
    let mut entries: Vec<ArtifactEntry> = stream::iter(files.iter())
        .map(|file| copy_file(from, to, file, opts.retries, reporter))
        .buffer_unordered(opts.transfers.max(1))
        .try_collect()
        .await?;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(entries)
}

/// Streams one file; retries the whole file on transient errors and on a size mismatch. A file
/// listed without a size joins the planned bytes once they have been moved.
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
            Ok(entry) => {
                if file.size.is_none() {
                    reporter.artifacts_planned(0, entry.size);
                }
                return Ok(entry);
            }
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
    // A copy inside the store is checked by size alone, so it needs one.
    if let (Some(size), Some(location)) = (file.size, from.locate(file).await) {
        if to.copy(file, &location).await? {
            return Ok(ArtifactEntry { path: file.path.clone(), size, sha256: None });
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
    // The sink is told the listed size, or else the one the source's stream declares.
    to.write(file, ByteStream { len: file.size.or(data.len), stream: Box::pin(stream) }).await?;
    let actual = count.load(Ordering::Relaxed);
    if let Some(expected) = file.size.filter(|&expected| expected != actual) {
        return Err(Error::Truncated { path: file.path.clone(), expected, actual });
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

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use bytes::Bytes;

    use super::*;

    /// Files held in memory; `declares_len` says whether an opened stream tells its length.
    struct Memory {
        files: HashMap<String, &'static [u8]>,
        declares_len: bool,
    }

    #[async_trait]
    impl FileSource for Memory {
        async fn open(&self, file: &ArtifactFile) -> Result<ByteStream> {
            let bytes = self.files[&file.path];
            let chunks = bytes.chunks(2).map(|c| Ok(Bytes::from_static(c))).collect::<Vec<_>>();
            let len = self.declares_len.then_some(bytes.len() as u64);
            Ok(ByteStream { len, stream: Box::pin(stream::iter(chunks)) })
        }
    }

    /// A written file's bytes and the length the sink was told.
    type Received = (Vec<u8>, Option<u64>);

    /// What was written, by path.
    #[derive(Default)]
    struct Written(Mutex<HashMap<String, Received>>);

    #[async_trait]
    impl FileSink for Written {
        async fn write(&self, file: &ArtifactFile, data: ByteStream) -> Result<()> {
            let bytes: Vec<Bytes> = data.stream.try_collect().await.map_err(|e| Error::Input(e.to_string()))?;
            self.0.lock().unwrap().insert(file.path.clone(), (bytes.concat(), data.len));
            Ok(())
        }
    }

    /// The planned bytes, added up.
    #[derive(Default)]
    struct Planned(AtomicU64);

    impl Reporter for Planned {
        fn artifacts_planned(&self, _files: usize, bytes: u64) {
            self.0.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    async fn copy(listed: &[(&str, Option<u64>)], declares_len: bool) -> (Result<Vec<ArtifactEntry>>, Written, u64) {
        let source =
            Memory { files: HashMap::from([("a".into(), &b"hello"[..]), ("b".into(), &b""[..])]), declares_len };
        let files: Vec<ArtifactFile> = listed
            .iter()
            .map(|(path, size)| ArtifactFile { path: path.to_string(), size: *size, sha256: None })
            .collect();
        let sink = Written::default();
        let planned = Arc::new(Planned::default());
        let reporter: Arc<dyn Reporter> = planned.clone();
        let result = copy_files(&source, &sink, &files, FileOptions { transfers: 2, retries: 0 }, &reporter).await;
        (result, sink, planned.0.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn a_file_listed_without_a_size_is_moved_and_its_real_size_recorded() {
        let hello_sha = format!("{:x}", Sha256::digest(b"hello"));
        for declares_len in [false, true] {
            let (result, sink, planned) = copy(&[("a", None), ("b", Some(0))], declares_len).await;
            let entries = result.unwrap();
            assert_eq!(
                entries[0],
                ArtifactEntry { path: "a".into(), size: 5, sha256: Some(hello_sha.clone()) },
                "declares_len {declares_len}"
            );
            assert_eq!(entries[1].size, 0);
            let written = sink.0.into_inner().unwrap();
            // The sink is told a length only when the source's stream declares one.
            assert_eq!(written["a"], (b"hello".to_vec(), declares_len.then_some(5)));
            assert_eq!(planned, 5, "the unknown size joins the plan once moved, and only then");
        }
    }

    #[tokio::test]
    async fn a_listed_size_the_bytes_do_not_match_is_still_truncation() {
        for listed in [Some(0), Some(9)] {
            let (result, _, planned) = copy(&[("a", listed)], true).await;
            match result {
                Err(Error::Truncated { path, expected, actual }) => {
                    assert_eq!((path.as_str(), Some(expected), actual), ("a", listed, 5));
                }
                other => panic!("{listed:?}: {other:?}"),
            }
            assert_eq!(planned, listed.unwrap());
        }
    }
}
