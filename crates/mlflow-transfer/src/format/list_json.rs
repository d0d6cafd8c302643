//! Export files that hold one list of small records under `mlflow.<key>`: an experiment's
//! scorers (`scorers.json`) and a server's webhooks (`webhooks/webhooks.json`). The Python tool
//! has neither, so the files are ours alone; they carry its `system` block like every other.

use std::path::Path;

use serde::{de::DeserializeOwned, Serialize};
use serde_json::json;

use super::json::{list_of, read_json, system_value, ExportSystem, FormatError};
use crate::Result;

/// The records of the list file at `path`; none when there is no such file (an export made
/// before the file existed, or of a server without such objects).
pub fn read_list<T: DeserializeOwned>(path: &Path, key: &str) -> std::result::Result<Vec<T>, FormatError> {
    if !path.exists() {
        return Ok(Vec::new());
    }
    let doc = read_json(path)?;
    let shape = |what: String| FormatError::Shape { path: path.to_path_buf(), what };
    let items = doc
        .get("mlflow")
        .and_then(|m| m.get(key))
        .and_then(|l| l.as_array())
        .ok_or_else(|| shape(format!("no list `mlflow.{key}`")))?;
    list_of(items, &format!("mlflow.{key}")).map_err(shape)
}

/// Writes `items` as the list file at `path` (atomically, creating its folder).
pub fn write_list<T: Serialize>(path: &Path, system: &ExportSystem, key: &str, items: &[T]) -> Result<()> {
    let doc = json!({ "system": system_value(system), "mlflow": { key: items } });
    crate::store::local::write_json(path, &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, serde::Deserialize, Serialize)]
    struct Item {
        name: String,
    }

    #[test]
    fn a_list_round_trips_and_a_missing_file_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/items.json");
        assert!(read_list::<Item>(&path, "items").unwrap().is_empty());
        let items = vec![Item { name: "a".into() }, Item { name: "b".into() }];
        write_list(&path, &ExportSystem::default(), "items", &items).unwrap();
        assert_eq!(read_list::<Item>(&path, "items").unwrap(), items);
        std::fs::write(&path, r#"{"mlflow": {"items": [{"nom": 1}]}}"#).unwrap();
        let err = read_list::<Item>(&path, "items").unwrap_err().to_string();
        assert!(err.contains("mlflow.items[0]"), "{err}");
    }
}
