//! Helpers shared by the readers and writers of `format`: a field-path-aware view of a JSON
//! object, so every error names the offending field, and the pieces both writers emit.
//!
//! Shape errors are plain `String`s describing what is wrong and where; the readers of export
//! folders wrap them in [`FormatError`], which adds the file.

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
};

use mlflow_client::types::de_i64;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Why a file or folder of an export could not be read. Every variant names the file or
/// folder, since a bulk import walks many of them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("{}: malformed JSON: {source}", path.display())]
    Json { path: PathBuf, source: serde_json::Error },
    #[error("{}: unexpected shape: {what}", path.display())]
    Shape { path: PathBuf, what: String },
    /// `what` says which export was expected and which files it lacks.
    #[error("{}: not {what}", dir.display())]
    NotAnExport { dir: PathBuf, what: &'static str },
}

/// Reads and parses one export file.
pub(super) fn read_json(path: &Path) -> Result<Value, FormatError> {
    let bytes = std::fs::read(path).map_err(|source| FormatError::Io { path: path.to_path_buf(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| FormatError::Json { path: path.to_path_buf(), source })
}

/// The `system` block the Python tool writes at the top of every export file.
pub(super) fn system_value(system: &ExportSystem) -> Value {
    let mut sys = Map::new();
    sys.insert("package_version".into(), system.package_version.clone().into());
    sys.insert("script".into(), system.script.clone().into());
    sys.insert("export_file_version".into(), "2".into());
    sys.insert("export_time".into(), system.export_time.into());
    sys.insert("_export_time".into(), utc_text(system.export_time).into());
    insert_opt(&mut sys, "mlflow_version", &system.mlflow_version);
    insert_opt(&mut sys, "mlflow_tracking_uri", &system.mlflow_tracking_uri);
    insert_opt(&mut sys, "user", &system.user);
    Value::Object(sys)
}

/// Inserts `key` only when `value` is set: the Python tool omits unset optional fields.
pub(super) fn insert_opt<T: Clone + Into<Value>>(map: &mut Map<String, Value>, key: &str, value: &Option<T>) {
    if let Some(v) = value {
        map.insert(key.into(), v.clone().into());
    }
}

/// Param and tag values that are not strings (old exports wrote `…metadata.timestamp` as a
/// number) become their JSON text, which is what MLflow stores.
pub(super) fn tag_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Deserializes each item of the list at `path`, naming the item that fails.
pub(super) fn list_of<T: DeserializeOwned>(items: &[Value], path: &str) -> Result<Vec<T>, String> {
    items.iter().enumerate().map(|(i, item)| T::deserialize(item).map_err(|e| format!("`{path}[{i}]`: {e}"))).collect()
}

/// A JSON object together with its dotted path, so every error names the offending field.
pub(super) struct Obj<'a> {
    pub(super) map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    pub(super) fn top(v: &'a Value) -> Result<Self, String> {
        match v {
            Value::Object(map) => Ok(Obj { map, path: String::new() }),
            _ => Err("the top level is not an object".into()),
        }
    }

    pub(super) fn at(v: &'a Value, path: String) -> Result<Self, String> {
        match v {
            Value::Object(map) => Ok(Obj { map, path }),
            _ => Err(format!("`{path}` is not an object")),
        }
    }

    pub(super) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// The field's path quoted for an error message.
    pub(super) fn path_of(&self, key: &str) -> String {
        format!("`{}`", self.child_path(key))
    }

    pub(super) fn missing(&self, key: &str) -> String {
        format!("{} missing", self.path_of(key))
    }

    /// The field's value; `null` counts as absent, as the Python tool writes `None` for unset.
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn object(&self, key: &str) -> Result<Option<Obj<'a>>, String> {
        self.get(key).map(|v| Obj::at(v, self.child_path(key))).transpose()
    }

    pub(super) fn required_object(&self, key: &str) -> Result<Obj<'a>, String> {
        self.object(key)?.ok_or_else(|| self.missing(key))
    }

    /// The field's items, `None` when absent.
    pub(super) fn list(&self, key: &str) -> Result<Option<&'a [Value]>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(format!("{} is not a list", self.path_of(key))),
        }
    }

    /// The field's items deserialized, empty when absent.
    pub(super) fn list_of<T: DeserializeOwned>(&self, key: &str) -> Result<Vec<T>, String> {
        match self.list(key)? {
            None => Ok(Vec::new()),
            Some(items) => list_of(items, &self.child_path(key)),
        }
    }

    pub(super) fn opt_str(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{} is not a string", self.path_of(key))),
        }
    }

    /// An id: a string, or an integer from exports of file-store servers with numeric ids.
    pub(super) fn opt_id(&self, key: &str) -> Result<Option<String>, String> {
        match self.get(key) {
            Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
            _ => self.opt_str(key),
        }
    }

    pub(super) fn opt_int(&self, key: &str) -> Result<Option<i64>, String> {
        self.get(key).map(|v| de_i64(v).map_err(|_| format!("{} is not an integer", self.path_of(key)))).transpose()
    }

    /// A `{key: value}` object of params or tags, empty when absent; values become text as
    /// [`tag_text`] says.
    pub(super) fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>, String> {
        let Some(map) = self.object(key)? else {
            return Ok(BTreeMap::new());
        };
        Ok(map.map.iter().map(|(k, v)| (k.clone(), tag_text(v))).collect())
    }

    /// Tags as either a `{key: value}` object (what the Python tool writes from the client's
    /// entities) or a REST `[{key, value}]` list (what raw REST responses hold).
    pub(super) fn tags(&self, key: &str) -> Result<BTreeMap<String, String>, String> {
        match self.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Value::Object(map)) => Ok(map.iter().map(|(k, v)| (k.clone(), tag_text(v))).collect()),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let tag = Obj::at(item, format!("{}[{i}]", self.child_path(key)))?;
                    let name = tag.opt_str("key")?.ok_or_else(|| tag.missing("key"))?;
                    let value = tag.get("value").map(tag_text).unwrap_or_default();
                    Ok((name, value))
                })
                .collect(),
            Some(_) => Err(format!("{} is neither an object nor a list of {{key, value}}", self.path_of(key))),
        }
    }
}

/// What the `system` block records about the export that wrote a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExportSystem {
    pub package_version: String,
    /// Name of the command that wrote the file (the Python tool records its script name).
    pub script: String,
    /// Seconds since the Unix epoch.
    pub export_time: i64,
    pub mlflow_version: Option<String>,
    /// The source server, without credentials.
    pub mlflow_tracking_uri: Option<String>,
    pub user: Option<String>,
}

/// `YYYY-MM-DD HH:MM:SS` in UTC, the Python tool's rendering of epoch times.
pub fn utc_text(epoch_s: i64) -> String {
    // Howard Hinnant's days-to-civil algorithm, valid for the whole proleptic Gregorian range.
    let (days, secs) = (epoch_s.div_euclid(86_400), epoch_s.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
}

/// Whether `dir` holds a part of `<stem>.json` written by a shard of a sharded export, whose
/// last shard has not written the whole file yet when that file is missing.
pub(crate) fn has_shard_parts(dir: &Path, stem: &str) -> bool {
    let prefix = format!("{stem}.shard-");
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.file_name().to_str().is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".json")))
}
