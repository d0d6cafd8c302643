//! `MLmodel` files (the YAML description of a logged model) name the run and model they were
//! logged as: top-level `run_id`, `model_id` and `model_uuid`. A copy gets new ids, so the
//! Python tool rewrites them (`--mlmodel-fix`); so do we, line by line, replacing only a value
//! that names a source id and leaving every other byte as it was.

use std::collections::HashMap;

/// The file name of a model's description, at any depth of its files.
pub const MLMODEL: &str = "MLmodel";

/// The keys whose values are rewritten.
const ID_KEYS: [&str; 3] = ["run_id", "model_id", "model_uuid"];

/// Whether `path` is an `MLmodel` file.
pub fn is_mlmodel(path: &str) -> bool {
    path.rsplit('/').next() == Some(MLMODEL)
}

/// `text` with each top-level `run_id`/`model_id`/`model_uuid` whose value (bare or quoted) is
/// a key of `ids` set to the mapped id; `None` when nothing names a source id (or the file is
/// not text).
pub fn rewrite_ids(text: &[u8], ids: &HashMap<&str, &str>) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(text).ok()?;
    let mut changed = false;
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let replaced = ID_KEYS.iter().find_map(|key| {
            let rest = line.strip_prefix(key)?.strip_prefix(':')?;
            let body = rest.trim_end_matches(['\n', '\r']);
            let value = body.trim();
            let unquoted = ['\'', '"'].iter().find_map(|q| value.strip_prefix(*q)?.strip_suffix(*q)).unwrap_or(value);
            let to = ids.get(unquoted)?;
            Some(format!("{key}:{}{}", body.replacen(unquoted, to, 1), &rest[body.len()..]))
        });
        match replaced {
            Some(l) => {
                changed = true;
                out.push_str(&l);
            }
            None => out.push_str(line),
        }
    }
    changed.then(|| out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_top_level_ids_naming_the_source_are_replaced() {
        let ids: HashMap<&str, &str> = [("r-src", "r-dst"), ("m-src", "m-dst")].into();
        let text = b"artifact_path: mlflow-artifacts:/1/models/m-src/artifacts\nflavors:\n  x:\n    run_id: r-src\nmodel_id: m-src\nmodel_uuid: 'm-src'\nrun_id: r-src\r\nother_id: r-src\n";
        let out = String::from_utf8(rewrite_ids(text, &ids).unwrap()).unwrap();
        assert_eq!(
            out,
            "artifact_path: mlflow-artifacts:/1/models/m-src/artifacts\nflavors:\n  x:\n    run_id: r-src\nmodel_id: m-dst\nmodel_uuid: 'm-dst'\nrun_id: r-dst\r\nother_id: r-src\n"
        );
        assert_eq!(rewrite_ids(b"run_id: someone-else\n", &ids), None);
        assert_eq!(rewrite_ids(&[0xff, 0xfe], &ids), None);
        assert!(is_mlmodel("MLmodel") && is_mlmodel("sub/MLmodel") && !is_mlmodel("MLmodel.bak"));
    }
}
