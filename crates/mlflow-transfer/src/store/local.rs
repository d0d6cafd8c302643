//! Files on this machine: an export's `artifacts/` folder, or a tracking server's artifact root
//! when it is a plain local path. Writes go to a `.partial` file renamed into place, so a
//! crash never leaves a half-written file under its final name.

use std::path::{Path, PathBuf};

use futures::StreamExt;
use tokio::io::AsyncWriteExt;
use tokio_util::io::ReaderStream;

use mlflow_client::ByteStream;

use crate::{model::ArtifactFile, paths::safe_join, Error, Result};

/// Every regular file below `root`, with paths relative to it. Symlinks are refused: following
/// one could read or later write outside the folder.
pub async fn list_files(root: &Path) -> Result<Vec<ArtifactFile>> {
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || list_files_blocking(&root)).await.expect("listing task panicked")
}

/// [`list_files`] for callers already on a blocking thread.
pub fn list_files_blocking(root: &Path) -> Result<Vec<ArtifactFile>> {
    let root = root.to_path_buf();
    {
        let mut out = Vec::new();
        if !root.exists() {
            return Ok(out);
        }
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            let entries = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
            for entry in entries {
                let entry = entry.map_err(|e| Error::io(&dir, e))?;
                let path = entry.path();
                let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
                if meta.file_type().is_symlink() {
                    return Err(Error::Input(format!("{}: symlinks are not allowed in artifacts", path.display())));
                } else if meta.is_dir() {
                    stack.push(path);
                } else if !is_partial(&path) {
                    let rel = path.strip_prefix(&root).expect("below root");
                    let rel = rel
                        .to_str()
                        .ok_or_else(|| Error::Input(format!("{}: file name is not UTF-8", path.display())))?;
                    out.push(ArtifactFile {
                        path: rel.replace(std::path::MAIN_SEPARATOR, "/"),
                        size: Some(meta.len()),
                        sha256: None,
                    });
                }
            }
        }
        out.sort();
        Ok(out)
    }
}

const PARTIAL: &str = ".mlflow-export-import.partial";

/// The temp file `dest` is written to before [`persist`] gives it its name.
pub fn partial_path(dest: &Path) -> PathBuf {
    PathBuf::from(format!("{}{PARTIAL}", dest.display()))
}

fn is_partial(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.ends_with(PARTIAL))
}

/// Opens a file as a byte stream.
pub async fn open(path: &Path) -> Result<ByteStream> {
    let file = tokio::fs::File::open(path).await.map_err(|e| Error::io(path, e))?;
    let len = file.metadata().await.map_err(|e| Error::io(path, e))?.len();
    Ok(ByteStream { len: Some(len), stream: Box::pin(ReaderStream::with_capacity(file, 256 * 1024)) })
}

/// Streams `data` to `root/rel`, creating folders, through a temp file and a rename.
pub async fn write(root: &Path, rel: &str, mut data: ByteStream) -> Result<PathBuf> {
    let dest = safe_join(root, rel)?;
    if let Some(parent) = dest.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| Error::io(parent, e))?;
    }
    let tmp = PathBuf::from(format!("{}{PARTIAL}", dest.display()));
    let mut file = tokio::fs::File::create(&tmp).await.map_err(|e| Error::io(&tmp, e))?;
    while let Some(chunk) = data.stream.next().await {
        let chunk = chunk.map_err(|e| Error::io(&dest, e))?;
        file.write_all(&chunk).await.map_err(|e| Error::io(&tmp, e))?;
    }
    file.flush().await.map_err(|e| Error::io(&tmp, e))?;
    let file = file.into_std().await;
    let (from, to) = (tmp.clone(), dest.clone());
    tokio::task::spawn_blocking(move || persist(&file, &from, &to)).await.expect("rename task panicked")?;
    Ok(dest)
}

/// Syncs `file` (written in full to `tmp`), gives it its final name, then syncs the folder so
/// that the new name survives a power cut too. The one way a file of ours comes into place: an
/// export reported complete is on the disk, not in the page cache.
pub fn persist(file: &std::fs::File, tmp: &Path, dest: &Path) -> Result<()> {
    file.sync_all().map_err(|e| Error::io(tmp, e))?;
    std::fs::rename(tmp, dest).map_err(|e| Error::io(dest, e))?;
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io(dir, e))
}

/// Writes a small file atomically (temp file in the same folder, synced, then renamed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |out| std::io::Write::write_all(out, bytes))
}

/// Like [`write_atomic`], for a file written piece by piece by `write`, through a buffer.
pub fn write_atomic_with<E: Into<std::io::Error>>(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::result::Result<(), E>,
) -> Result<()> {
    write_through(path, &partial_path(path), write)
}

/// Writes `path` through the temp file `tmp`, then gives it its name ([`persist`]).
fn write_through<E: Into<std::io::Error>>(
    path: &Path,
    tmp: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::result::Result<(), E>,
) -> Result<()> {
    let file = std::fs::File::create(tmp).map_err(|e| Error::io(tmp, e))?;
    let mut out = std::io::BufWriter::new(file);
    write(&mut out).map_err(|e| Error::io(tmp, e.into()))?;
    let file = out.into_inner().map_err(|e| Error::io(tmp, e.into_error()))?;
    persist(&file, tmp, path)
}

/// A local artifact root given as `/abs/path` or `file:///abs/path`.
pub fn local_root(uri: &str) -> Option<PathBuf> {
    if uri.starts_with('/') {
        return Some(PathBuf::from(uri));
    }
    let u = url::Url::parse(uri).ok()?;
    (u.scheme() == "file").then(|| u.to_file_path().ok()).flatten()
}

/// Writes a JSON file of an export atomically (pretty, as the Python tool writes them),
/// creating its folder.
pub fn write_json(path: &Path, json: &serde_json::Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    write_atomic(path, &serde_json::to_vec_pretty(json).expect("JSON values always serialize"))
}

/// [`write_json`] of a file that several processes may write at once: the shards of one
/// export that finish together each write its whole index file. Each writes through a temp
/// file of its own (named after its process); with the one shared temp name, one shard's
/// rename took the file from under another's, which then failed (`No such file or directory`).
pub fn write_json_shared(path: &Path, json: &serde_json::Value) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let tmp = PathBuf::from(format!("{}.{}{PARTIAL}", path.display(), std::process::id()));
    let bytes = serde_json::to_vec_pretty(json).expect("JSON values always serialize");
    write_through(path, &tmp, |out| std::io::Write::write_all(out, &bytes))
}

/// Writes shard `k` of `n`'s part of a file that needs every shard's work, as
/// `<name>.shard-K-of-N.json` beside `path`, then reads back the parts present: when all `n`
/// are there they are returned in shard order, for the caller to write the whole file. The
/// shard whose part lands last always finds every part, so the whole file is written by a shard
/// that finished, and only once all have; shards finishing together write the same content.
pub fn write_part(path: &Path, (k, n): (u32, u32), part: &serde_json::Value) -> Result<Option<Vec<serde_json::Value>>> {
    let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("part");
    let part_path = |i: u32| path.with_file_name(format!("{name}.shard-{i}-of-{n}.json"));
    write_json(&part_path(k), part)?;
    let mut parts = Vec::with_capacity(n as usize);
    for i in 1..=n {
        let p = part_path(i);
        match std::fs::read(&p) {
            Ok(bytes) => parts.push(
                serde_json::from_slice(&bytes).map_err(|e| Error::Input(format!("{}: not JSON: {e}", p.display())))?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(&p, e)),
        }
    }
    Ok(Some(parts))
}

/// Writes the file at `path` from `mine`, this job's share of it. When the job is one shard
/// of several, `mine` is written as this shard's part (`part`), and the whole file, from every
/// shard's part (`merge`), only by the shard that finds them all ([`write_part`]).
pub fn write_whole<T>(
    path: &Path,
    shard: Option<(u32, u32)>,
    mine: T,
    part: impl FnOnce(&T) -> serde_json::Value,
    merge: impl FnOnce(&[serde_json::Value]) -> Result<T>,
    render: impl FnOnce(T) -> serde_json::Value,
) -> Result<()> {
    let whole = match shard {
        None => Some(mine),
        Some(shard) => write_part(path, shard, &part(&mine))?.map(|parts| merge(&parts)).transpose()?,
    };
    match (whole, shard) {
        (Some(whole), None) => write_json(path, &render(whole)),
        // Shards that finish together each write the whole file.
        (Some(whole), Some(_)) => write_json_shared(path, &render(whole)),
        (None, _) => Ok(()),
    }
}

/// The list of strings under `key` in a shard's part of `file` (see [`write_part`]).
pub fn part_strings(part: &serde_json::Value, key: &str, file: &str) -> Result<Vec<String>> {
    let bad = || Error::Input(format!("a shard's part of {file} has no list of strings under {key:?}"));
    part.get(key)
        .and_then(serde_json::Value::as_array)
        .ok_or_else(bad)?
        .iter()
        .map(|v| v.as_str().map(String::from).ok_or_else(bad))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shard_whose_part_lands_last_gets_every_part() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("experiments.json");
        assert_eq!(write_part(&path, (2, 2), &serde_json::json!(["b"])).unwrap(), None);
        let parts = write_part(&path, (1, 2), &serde_json::json!(["a"])).unwrap().expect("both parts there");
        assert_eq!(parts, [serde_json::json!(["a"]), serde_json::json!(["b"])]);
        assert!(dir.path().join("experiments.shard-2-of-2.json").is_file());
        std::fs::write(dir.path().join("experiments.shard-2-of-2.json"), "{").unwrap();
        assert!(write_part(&path, (1, 2), &serde_json::json!([])).unwrap_err().to_string().contains("not JSON"));
    }
}
