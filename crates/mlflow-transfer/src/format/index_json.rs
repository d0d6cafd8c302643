//! The index files of the Python tool's bulk exports of MLflow 3 objects, `traces.json` and
//! `logged_models.json`: the experiments, each with the ids of its objects written, and the
//! counts (with the ids that failed). The importer reads the experiment names from them; an
//! export interrupted before its index was written is read from its folders instead.

use std::path::Path;

use serde_json::{json, Value};

use super::json::{read_json, system_value, ExportSystem, FormatError};

/// An experiment as an index lists it, with the ids of its objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexedExperiment {
    pub id: String,
    pub name: String,
    pub items: Vec<String>,
}

/// The names one kind of index uses.
pub struct IndexKind {
    /// The index file.
    pub file: &'static str,
    /// The file that makes an object's folder complete.
    pub item_file: &'static str,
    /// Each experiment's list of ids.
    pub list: &'static str,
    /// What the objects are called in messages.
    pub objects: &'static str,
    /// The `info` counts: total, ok, failed, and the list of failed ids.
    pub counts: [&'static str; 4],
}

/// `traces.json` (the Python tool spells its total `num_total_trace`).
pub const TRACES_INDEX: IndexKind = IndexKind {
    file: "traces.json",
    item_file: "trace.json",
    list: "traces",
    objects: "traces",
    counts: ["num_total_trace", "num_ok_traces", "num_failed_traces", "failed_traces"],
};

/// `logged_models.json`.
pub const LOGGED_MODELS_INDEX: IndexKind = IndexKind {
    file: "logged_models.json",
    item_file: "logged_model.json",
    list: "logged_models",
    objects: "logged models",
    counts: ["num_total_logged_models", "num_ok_logged_models", "num_failed_logged_models", "failed_logged_models"],
};

/// The index: the experiments with the objects written of each, and the objects that failed.
pub fn write_index(
    kind: &IndexKind,
    system: &ExportSystem,
    experiments: &[IndexedExperiment],
    failed: &[String],
) -> Value {
    let ok: usize = experiments.iter().map(|e| e.items.len()).sum();
    let listed: Vec<Value> =
        experiments.iter().map(|e| json!({"id": e.id, "name": e.name, kind.list: e.items})).collect();
    let [total, num_ok, num_failed, failed_ids] = kind.counts;
    json!({
        "system": system_value(system),
        "info": {total: ok + failed.len(), num_ok: ok, num_failed: failed.len(), failed_ids: failed},
        "mlflow": {"experiments": listed},
    })
}

/// The experiments and objects `<root>/<index file>` lists; without it (an export interrupted
/// before it was written), the complete object folders, under no experiment name; none
/// without `root`.
pub fn read_index(kind: &IndexKind, root: &Path) -> Result<Vec<IndexedExperiment>, FormatError> {
    let index = root.join(kind.file);
    if index.is_file() {
        let v = read_json(&index)?;
        let shape = |what: &str| FormatError::Shape { path: index.clone(), what: what.to_string() };
        let text = |v: &Value, what: &str| match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            _ => Err(shape(what)),
        };
        let mut out = Vec::new();
        for e in v
            .pointer("/mlflow/experiments")
            .and_then(Value::as_array)
            .ok_or_else(|| shape("`mlflow.experiments` is not a list"))?
        {
            let items = e.get(kind.list).and_then(Value::as_array).into_iter().flatten();
            out.push(IndexedExperiment {
                id: text(&e["id"], "an experiment has no id")?,
                name: text(&e["name"], "an experiment has no name")?,
                items: items.map(|t| text(t, "an id is not a string")).collect::<Result<_, _>>()?,
            });
        }
        return Ok(out);
    }
    let Ok(entries) = std::fs::read_dir(root) else { return Ok(Vec::new()) };
    let mut ids: Vec<String> = entries
        .flatten()
        .filter(|e| e.path().join(kind.item_file).is_file())
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .collect();
    ids.sort();
    Ok(if ids.is_empty() {
        Vec::new()
    } else {
        vec![IndexedExperiment { id: String::new(), name: String::new(), items: ids }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_index_reads_back_and_a_missing_one_is_read_from_the_folders() {
        let dir = tempfile::tempdir().unwrap();
        let exps = vec![IndexedExperiment { id: "1".into(), name: "e".into(), items: vec!["m-1".into()] }];
        let v = write_index(&LOGGED_MODELS_INDEX, &ExportSystem::default(), &exps, &["m-2".to_string()]);
        assert_eq!(v["info"]["num_total_logged_models"], 2);
        assert_eq!(v["info"]["failed_logged_models"], json!(["m-2"]));
        std::fs::write(dir.path().join("logged_models.json"), v.to_string()).unwrap();
        assert_eq!(read_index(&LOGGED_MODELS_INDEX, dir.path()).unwrap(), exps);
        std::fs::remove_file(dir.path().join("logged_models.json")).unwrap();
        for id in ["m-3", "m-4"] {
            std::fs::create_dir(dir.path().join(id)).unwrap();
        }
        std::fs::write(dir.path().join("m-3/logged_model.json"), "{}").unwrap();
        let found = read_index(&LOGGED_MODELS_INDEX, dir.path()).unwrap();
        assert_eq!(
            found,
            vec![IndexedExperiment { id: String::new(), name: String::new(), items: vec!["m-3".into()] }]
        );
    }
}
