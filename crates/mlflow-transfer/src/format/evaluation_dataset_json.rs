//! `evaluation_dataset.json`: one GenAI evaluation dataset, all its records inline, as the
//! Python tool writes it (`mlflow.evaluation_dataset` = the MLflow client's
//! `EvaluationDataset.to_dict()`). The file can hold any number of records, so neither side
//! ever holds it whole: the writer streams records out after a header, and the reader makes
//! two streaming passes, one for the description (records skipped unparsed) and one that hands
//! the records out one by one.
//!
//! Ours adds `experiment_names` beside `experiment_ids` (the same order), so an import can link
//! the copy to the destination's experiments by name; the Python importer ignores it.

use std::{
    collections::BTreeMap,
    fmt,
    io::{BufRead, Write},
    marker::PhantomData,
    path::Path,
};

use serde::{
    de::{DeserializeSeed, Error as _, IgnoredAny, MapAccess, SeqAccess, Visitor},
    Deserialize, Deserializer,
};
use serde_json::{json, Map, Value};

use super::json::{system_value, tag_text, ExportSystem, FormatError};
use crate::model::{DatasetRow, EvaluationDatasetRecord, LinkedExperiment};

/// Everything of the file before its records, with `"records": [` opened last: the writer then
/// appends records separated by commas, and [`TRAILER`].
pub fn header(d: &EvaluationDatasetRecord, system: &ExportSystem) -> Vec<u8> {
    let mut ds = Map::new();
    ds.insert("name".into(), d.name.clone().into());
    ds.insert("digest".into(), json!(d.digest));
    ds.insert("source".into(), json!({ "dataset_id": d.dataset_id }).to_string().into());
    ds.insert("source_type".into(), "mlflow_evaluation_dataset".into());
    ds.insert("dataset_id".into(), d.dataset_id.clone().into());
    ds.insert("tags".into(), json!(d.tags));
    ds.insert("schema".into(), json!(d.schema));
    ds.insert("profile".into(), json!(d.profile));
    ds.insert("created_time".into(), json!(d.created_time));
    ds.insert("last_update_time".into(), json!(d.last_update_time));
    ds.insert("created_by".into(), json!(d.created_by));
    ds.insert("last_updated_by".into(), json!(d.last_updated_by));
    ds.insert("experiment_ids".into(), d.experiments.iter().map(|e| e.id.clone()).collect());
    ds.insert("experiment_names".into(), d.experiments.iter().map(|e| json!(e.name)).collect());
    // Written by hand around the two objects: the records must come last, and `serde_json`'s
    // maps are sorted.
    let mut text = br#"{"system":"#.to_vec();
    serde_json::to_writer(&mut text, &system_value(system)).expect("JSON values always serialize");
    text.extend_from_slice(br#","mlflow":{"evaluation_dataset":"#);
    serde_json::to_writer(&mut text, &Value::Object(ds)).expect("JSON values always serialize");
    // Reopen the dataset's object for its records.
    text.pop();
    text.extend_from_slice(br#","records":["#);
    text
}

/// A bulk folder's summary file: `system` and `mlflow` = `summary`.
pub fn summary_file(system: &ExportSystem, summary: Value) -> Value {
    json!({ "system": system_value(system), "mlflow": summary })
}

/// Closes the records list and the three objects around it.
pub const TRAILER: &[u8] = b"]}}}";

/// Writes one record after `count` others.
pub fn write_record(out: &mut impl Write, count: usize, record: &DatasetRow) -> std::io::Result<()> {
    if count > 0 {
        out.write_all(b",")?;
    }
    serde_json::to_writer(out, record).map_err(std::io::Error::from)
}

#[derive(Deserialize)]
struct Header {
    #[serde(default)]
    system: Option<SystemPart>,
    mlflow: MlflowPart,
}

#[derive(Deserialize)]
struct SystemPart {
    #[serde(default)]
    mlflow_tracking_uri: Option<String>,
}

#[derive(Deserialize)]
struct MlflowPart {
    evaluation_dataset: DatasetPart,
}

/// The description; `records` and any other field are skipped without being built.
#[derive(Deserialize)]
struct DatasetPart {
    dataset_id: String,
    name: String,
    #[serde(default)]
    tags: Option<Map<String, Value>>,
    #[serde(default)]
    experiment_ids: Option<Vec<String>>,
    #[serde(default)]
    experiment_names: Option<Vec<Option<String>>>,
    #[serde(default)]
    schema: Option<Value>,
    #[serde(default)]
    profile: Option<Value>,
    #[serde(default)]
    digest: Option<String>,
    #[serde(default)]
    created_time: Option<Value>,
    #[serde(default)]
    last_update_time: Option<Value>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    last_updated_by: Option<String>,
}

/// A field the server sends as JSON text and a reader may find parsed.
fn text_of(v: Option<Value>) -> Option<String> {
    match v? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

/// Milliseconds, as written by MLflow, or a time string the Python tool's readable rendering
/// left: only numbers are kept.
fn millis(v: Option<Value>) -> Option<i64> {
    v?.as_i64()
}

/// Reads the dataset's description from `reader` (the whole file), skipping its records.
pub fn read_header(path: &Path, reader: impl BufRead) -> Result<EvaluationDatasetRecord, FormatError> {
    let h: Header = serde_json::from_reader(reader).map_err(|source| shape_or_json(path, source))?;
    let d = h.mlflow.evaluation_dataset;
    let ids = d.experiment_ids.unwrap_or_default();
    let names = d.experiment_names.unwrap_or_default();
    let experiments = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| LinkedExperiment { id, name: names.get(i).cloned().flatten() })
        .collect();
    let tags: BTreeMap<String, String> =
        d.tags.unwrap_or_default().iter().map(|(k, v)| (k.clone(), tag_text(v))).collect();
    Ok(EvaluationDatasetRecord {
        dataset_id: d.dataset_id,
        name: d.name,
        tags,
        experiments,
        schema: text_of(d.schema),
        profile: text_of(d.profile),
        digest: d.digest,
        created_time: millis(d.created_time),
        last_update_time: millis(d.last_update_time),
        created_by: d.created_by,
        last_updated_by: d.last_updated_by,
        tracking_uri: h.system.and_then(|s| s.mlflow_tracking_uri),
    })
}

fn shape_or_json(path: &Path, source: serde_json::Error) -> FormatError {
    if source.is_data() {
        FormatError::Shape { path: path.to_path_buf(), what: source.to_string() }
    } else {
        FormatError::Json { path: path.to_path_buf(), source }
    }
}

/// Hands every record of the file to `take`, in order, one at a time; `take` may stop the
/// reading with an error.
pub fn read_records(
    path: &Path,
    reader: impl BufRead,
    take: impl FnMut(DatasetRow) -> Result<(), String>,
) -> Result<(), FormatError> {
    let mut take = take;
    let mut de = serde_json::Deserializer::from_reader(reader);
    Descend { keys: &["mlflow", "evaluation_dataset", "records"], take: &mut take, _row: PhantomData }
        .deserialize(&mut de)
        .map_err(|source| shape_or_json(path, source))?;
    de.end().map_err(|source| shape_or_json(path, source))
}

/// Walks down the objects named by `keys`, skipping every other field unparsed, and streams
/// the list at the end of the path through `take`.
struct Descend<'a, F> {
    keys: &'a [&'a str],
    take: &'a mut F,
    _row: PhantomData<DatasetRow>,
}

impl<'de, F: FnMut(DatasetRow) -> Result<(), String>> DeserializeSeed<'de> for Descend<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        if self.keys.is_empty() {
            d.deserialize_seq(self)
        } else {
            d.deserialize_map(self)
        }
    }
}

impl<'de, F: FnMut(DatasetRow) -> Result<(), String>> Visitor<'de> for Descend<'_, F> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.keys.first() {
            Some(k) => write!(f, "an object with `{k}`"),
            None => f.write_str("a list of records"),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (want, rest) = self.keys.split_first().expect("maps are visited with a key to find");
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == *want && !found {
                found = true;
                map.next_value_seed(Descend { keys: rest, take: &mut *self.take, _row: PhantomData })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if found || rest.is_empty() {
            // A dataset without `records` has none.
            Ok(())
        } else {
            Err(A::Error::custom(format!("`{want}` missing")))
        }
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        let mut i = 0;
        while let Some(row) = seq.next_element::<DatasetRow>()? {
            (self.take)(row).map_err(|e| S::Error::custom(format!("record {i}: {e}")))?;
            i += 1;
        }
        Ok(())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<(), E> {
        // `"records": null`: none.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> EvaluationDatasetRecord {
        EvaluationDatasetRecord {
            dataset_id: "d-1".into(),
            name: "ds".into(),
            tags: BTreeMap::from([("team".into(), "a".into())]),
            experiments: vec![LinkedExperiment { id: "1".into(), name: Some("e1".into()) }],
            schema: Some("{}".into()),
            created_time: Some(5),
            tracking_uri: Some("http://src".into()),
            ..Default::default()
        }
    }

    fn system() -> ExportSystem {
        ExportSystem {
            package_version: "1".into(),
            script: "export_evaluation_dataset".into(),
            export_time: 0,
            mlflow_version: None,
            mlflow_tracking_uri: Some("http://src".into()),
            user: None,
        }
    }

    #[test]
    fn written_file_reads_back_header_and_records() {
        let mut out = header(&record(), &system());
        let rows: Vec<DatasetRow> =
            (0..3).map(|i| serde_json::from_value(json!({"inputs": {"q": i}})).unwrap()).collect();
        for (i, r) in rows.iter().enumerate() {
            write_record(&mut out, i, r).unwrap();
        }
        out.extend_from_slice(TRAILER);
        let v: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["system"]["script"], "export_evaluation_dataset");
        assert_eq!(v["mlflow"]["evaluation_dataset"]["records"].as_array().unwrap().len(), 3);
        let p = Path::new("f");
        assert_eq!(read_header(p, &out[..]).unwrap(), record());
        let mut got = Vec::new();
        read_records(p, &out[..], |r| {
            got.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(got, rows);
    }

    #[test]
    fn python_layout_records_first_or_absent_and_errors_name_the_record() {
        let p = Path::new("f");
        let py = br#"{"system": {"mlflow_tracking_uri": "http://x"}, "mlflow": {"evaluation_dataset":
            {"records": [{"inputs": {"a": 1}}], "name": "n", "dataset_id": "d-2", "tags": {"k": 3},
             "experiment_ids": ["7"], "created_time": "2025-01-01 00:00:00"}}}"#;
        let h = read_header(p, &py[..]).unwrap();
        assert_eq!(h.experiments, vec![LinkedExperiment { id: "7".into(), name: None }]);
        assert_eq!(h.tags["k"], "3");
        assert_eq!(h.created_time, None);
        let mut n = 0;
        read_records(p, &py[..], |_| {
            n += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(n, 1);
        let none = br#"{"mlflow": {"evaluation_dataset": {"name": "n", "dataset_id": "d"}}}"#;
        read_records(p, &none[..], |_| Err("no record expected".into())).unwrap();
        let bad = br#"{"mlflow": {"evaluation_dataset": {"records": [{"inputs": {}}, 3]}}}"#;
        let err = read_records(p, &bad[..], |_| Ok(())).unwrap_err().to_string();
        assert!(err.contains("invalid type"), "{err}");
        let stop = read_records(p, &py[..], |_| Err("full".into())).unwrap_err().to_string();
        assert!(stop.contains("record 0: full"), "{stop}");
    }
}
