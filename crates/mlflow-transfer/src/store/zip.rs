//! Zip files hold the same tree as an export directory.
//!
//! Export writes the directory (resumable, inspectable) and packs it at the end; import
//! unpacks into a private temp folder and reads that. Both run in blocking tasks, entry by
//! entry, so memory does not grow with file size. Entries are all checked before anything is
//! written: no absolute paths, no `..`, no symlinks.

use std::{
    fs::File,
    io,
    path::{Path, PathBuf},
};

use zip::{write::SimpleFileOptions, CompressionMethod, ZipArchive, ZipWriter};

use crate::{paths::check_relative, store::local, Error, Result};

/// Whether a path names a zip file (by extension, as the Python tool decides).
pub fn is_zip(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"))
}

/// Packs every file below `dir` into `zip_path` (written to a temp name, then renamed).
pub async fn pack(dir: &Path, zip_path: &Path) -> Result<()> {
    let dir = dir.to_path_buf();
    let zip_path = zip_path.to_path_buf();
    tokio::task::spawn_blocking(move || pack_blocking(&dir, &zip_path)).await.expect("zip task panicked")
}

fn pack_blocking(dir: &Path, zip_path: &Path) -> Result<()> {
    let tmp = PathBuf::from(format!("{}.partial", zip_path.display()));
    let out = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let mut zip = ZipWriter::new(io::BufWriter::new(out));
    let files = local::list_files_blocking(dir)?;
    for f in files {
        // Artifacts are often compressed already; JSON compresses well.
        let method = if f.path.ends_with(".json") { CompressionMethod::Deflated } else { CompressionMethod::Stored };
        let opts = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(f.size.is_none_or(|s| s >= u32::MAX as u64));
        zip.start_file(f.path.as_str(), opts).map_err(|e| zip_err(&tmp, e))?;
        let src = dir.join(&f.path);
        let mut input = File::open(&src).map_err(|e| Error::io(&src, e))?;
        io::copy(&mut input, &mut zip).map_err(|e| Error::io(&tmp, e))?;
    }
    let file = zip.finish().map_err(|e| zip_err(&tmp, e))?.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?;
    local::persist(&file, &tmp, zip_path)
}

/// Unpacks `zip_path` into `dest` after checking every entry.
pub async fn unpack(zip_path: &Path, dest: &Path) -> Result<()> {
    let zip_path = zip_path.to_path_buf();
    let dest = dest.to_path_buf();
    tokio::task::spawn_blocking(move || unpack_blocking(&zip_path, &dest)).await.expect("unzip task panicked")
}

fn unpack_blocking(zip_path: &Path, dest: &Path) -> Result<()> {
    let file = File::open(zip_path).map_err(|e| Error::io(zip_path, e))?;
    let mut zip = ZipArchive::new(io::BufReader::new(file)).map_err(|e| zip_err(zip_path, e))?;
    let mut entries = Vec::with_capacity(zip.len());
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| zip_err(zip_path, e))?;
        let name = entry.name().map_err(|e| zip_err(zip_path, e))?.to_string();
        let refuse = |why: String| Error::Input(format!("{}: refusing entry {name:?}: {why}", zip_path.display()));
        if entry.is_symlink() {
            return Err(refuse("symlinks are not allowed".into()));
        }
        if entry.is_dir() {
            continue;
        }
        check_relative(&name).map_err(|e| refuse(e.to_string()))?;
        if entry.enclosed_name().is_none() {
            return Err(refuse("path escapes the archive".into()));
        }
        entries.push((i, name));
    }
    for (i, name) in entries {
        let mut entry = zip.by_index(i).map_err(|e| zip_err(zip_path, e))?;
        let target = dest.join(&name);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        let mut out = File::create(&target).map_err(|e| Error::io(&target, e))?;
        // The reader stops an entry that inflates past its declared size (a zip bomb) or fails
        // its checksum; what was written of it is removed.
        if let Err(e) = io::copy(&mut entry, &mut out) {
            drop(out);
            let _ = std::fs::remove_file(&target);
            return Err(Error::Input(format!("{}: entry {name:?} is corrupt or truncated: {e}", zip_path.display())));
        }
    }
    Ok(())
}

fn zip_err(path: &Path, e: zip::result::ZipError) -> Error {
    Error::Input(format!("{}: not a readable zip file: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zip whose entry declares 10 bytes but inflates to 1 MiB.
    fn bomb(path: &Path) {
        let mut w = ZipWriter::new(File::create(path).unwrap());
        w.start_file("run.json", SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)).unwrap();
        io::Write::write_all(&mut w, &vec![0u8; 1 << 20]).unwrap();
        w.finish().unwrap();
        let mut bytes = std::fs::read(path).unwrap();
        let mut patch = |signature: [u8; 4], size_at: usize| {
            let at = bytes.windows(4).position(|w| w == signature).unwrap() + size_at;
            bytes[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
        };
        patch([0x50, 0x4b, 0x03, 0x04], 22); // local header: uncompressed size
        patch([0x50, 0x4b, 0x01, 0x02], 24); // central directory: uncompressed size
        std::fs::write(path, bytes).unwrap();
    }

    #[test]
    fn an_entry_larger_than_declared_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zip = dir.path().join("bomb.zip");
        bomb(&zip);
        let out = dir.path().join("out");
        let err = unpack_blocking(&zip, &out).unwrap_err().to_string();
        assert!(err.contains("larger than its declared uncompressed size"), "{err}");
        assert!(!out.join("run.json").exists());
    }
}
