//! Keeping every path we write inside its target folder.
//!
//! Artifact paths come from servers and zip entries come from users; neither is trusted.

use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Checks that `rel` is a plain relative path (no `..`, no root, no empty or `.` segments, no
/// backslashes or NUL) and returns it normalised to `/` separators.
pub fn check_relative(rel: &str) -> Result<String> {
    let bad = |why: &str| Err(Error::Input(format!("unsafe path {rel:?}: {why}")));
    if rel.is_empty() {
        return bad("empty");
    }
    if rel.contains('\\') || rel.contains('\0') {
        return bad("contains a backslash or NUL");
    }
    if rel.starts_with('/') || Path::new(rel).has_root() {
        return bad("absolute");
    }
    for seg in rel.split('/') {
        match seg {
            "" => return bad("empty segment"),
            "." | ".." => return bad("`.` or `..` segment"),
            _ => {}
        }
    }
    if Path::new(rel).components().any(|c| !matches!(c, Component::Normal(_))) {
        return bad("not a normal relative path");
    }
    Ok(rel.to_string())
}

/// Whether `name` can be used as one folder name (ids and model names become folders).
pub fn is_single_segment(name: &str) -> bool {
    !name.contains('/') && check_relative(name).is_ok()
}

/// Joins a checked relative path onto `root`.
pub fn safe_join(root: &Path, rel: &str) -> Result<PathBuf> {
    Ok(root.join(check_relative(rel)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_escapes() {
        for p in ["../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\..\\b", "", "a/."] {
            assert!(check_relative(p).is_err(), "{p}");
        }
        for p in ["a", "a/b/c.txt", "ünï/cödé.bin", "..a/b..", "model/MLmodel"] {
            assert_eq!(check_relative(p).unwrap(), p);
        }
    }
}
