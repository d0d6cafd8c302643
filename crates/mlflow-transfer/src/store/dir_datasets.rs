//! Evaluation datasets in an export folder: `evaluation_dataset.json` in the folder of one
//! dataset (`export-evaluation-dataset`), or in `<name>_<id>/` of a bulk folder beside
//! `evaluation_datasets_summary.json` (`export-evaluation-datasets`, `evaluation_datasets/` of
//! `export-all`). The file is written through a temp name and renamed last, so a file that
//! exists is complete; records stream through it in both directions.

use std::{
    collections::HashMap,
    fs::File,
    io::{BufReader, BufWriter, Write},
    path::{Path, PathBuf},
    sync::Arc,
};

use async_trait::async_trait;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::{
    format::{
        evaluation_dataset_json::{header, read_header, read_records, summary_file, write_record, TRAILER},
        ExportSystem,
    },
    model::{DatasetRow, EvaluationDatasetRecord},
    paths::is_single_segment,
    store::{
        datasets::{DatasetTarget, EvaluationDatasetSink, EvaluationDatasetSource, RecordReader, RecordWriter},
        local, Target,
    },
    Error, Result,
};

pub const EVALUATION_DATASETS: &str = "evaluation_datasets";
pub const DATASET_JSON: &str = "evaluation_dataset.json";
pub const SUMMARY_JSON: &str = "evaluation_datasets_summary.json";
/// Records handed from the reading thread at a time; two pages are in flight at most.
const PAGE: usize = 1000;

/// The folder of one dataset in a bulk folder: `<name>_<id>` as the Python tool names it, or
/// the id alone when the name cannot be part of a folder name.
pub fn dataset_folder(bulk: &Path, name: &str, id: &str) -> PathBuf {
    let both = format!("{name}_{id}");
    bulk.join(if is_single_segment(&both) && !name.is_empty() { both } else { id.to_string() })
}

/// The dataset folders of a bulk folder (every subfolder holding `evaluation_dataset.json`),
/// sorted by name.
pub fn list_dataset_dirs(bulk: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in std::fs::read_dir(bulk).map_err(|e| Error::io(bulk, e))? {
        let path = entry.map_err(|e| Error::io(bulk, e))?.path();
        if path.join(DATASET_JSON).is_file() {
            dirs.push(path);
        }
    }
    dirs.sort();
    Ok(dirs)
}

/// Reads the description of the dataset in `dir`.
pub fn read_dataset_dir(dir: &Path) -> Result<EvaluationDatasetRecord> {
    let path = dir.join(DATASET_JSON);
    let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
    Ok(read_header(&path, BufReader::new(file))?)
}

/// Datasets read from export folders, by source dataset id.
pub struct DirDatasets {
    dirs: HashMap<String, PathBuf>,
}

impl DirDatasets {
    pub fn new(dirs: HashMap<String, PathBuf>) -> Self {
        Self { dirs }
    }

    fn file(&self, id: &str) -> Result<PathBuf> {
        let dir = self.dirs.get(id).ok_or_else(|| Error::NotFound(format!("evaluation dataset {id} in the export")))?;
        Ok(dir.join(DATASET_JSON))
    }
}

#[async_trait]
impl EvaluationDatasetSource for DirDatasets {
    async fn read_dataset(&self, dataset_id: &str) -> Result<EvaluationDatasetRecord> {
        let dir = self.file(dataset_id)?.parent().map(Path::to_path_buf).unwrap_or_default();
        tokio::task::spawn_blocking(move || read_dataset_dir(&dir)).await.expect("reading task panicked")
    }

    async fn records(&self, dataset: &EvaluationDatasetRecord) -> Result<Box<dyn RecordReader>> {
        let path = self.file(&dataset.dataset_id)?;
        let (tx, rx) = mpsc::channel::<Result<Vec<DatasetRow>>>(1);
        // The parser is synchronous: it runs on a thread of its own and hands pages over a
        // channel of one, so it reads ahead by a page at most.
        tokio::task::spawn_blocking(move || {
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) => return drop(tx.blocking_send(Err(Error::io(&path, e)))),
            };
            let mut page = Vec::with_capacity(PAGE);
            let read = read_records(&path, BufReader::new(file), |row| {
                page.push(row);
                if page.len() == PAGE {
                    let full = std::mem::replace(&mut page, Vec::with_capacity(PAGE));
                    tx.blocking_send(Ok(full)).map_err(|_| "the reader stopped".to_string())?;
                }
                Ok(())
            });
            let last = match read {
                Ok(()) if page.is_empty() => return,
                Ok(()) => Ok(page),
                Err(e) => Err(e.into()),
            };
            let _ = tx.blocking_send(last);
        });
        Ok(Box::new(ChannelRecords(rx)))
    }
}

struct ChannelRecords(mpsc::Receiver<Result<Vec<DatasetRow>>>);

#[async_trait]
impl RecordReader for ChannelRecords {
    async fn next_page(&mut self) -> Result<Option<Vec<DatasetRow>>> {
        self.0.recv().await.transpose()
    }
}

/// Writes datasets into an export folder: `out` itself for one dataset, `<out>/<name>_<id>/`
/// for a bulk export.
pub struct DirDatasetSink {
    out: PathBuf,
    bulk: bool,
    system: Arc<ExportSystem>,
}

impl DirDatasetSink {
    pub fn new(out: impl Into<PathBuf>, bulk: bool, system: impl Into<Arc<ExportSystem>>) -> Self {
        Self { out: out.into(), bulk, system: system.into() }
    }
}

#[async_trait]
impl EvaluationDatasetSink for DirDatasetSink {
    async fn begin_dataset(&self, dataset: &EvaluationDatasetRecord, dst_name: &str, _: bool) -> Result<DatasetTarget> {
        let dir = if self.bulk { dataset_folder(&self.out, dst_name, &dataset.dataset_id) } else { self.out.clone() };
        let path = dir.join(DATASET_JSON);
        let id = dir.display().to_string();
        if path.is_file() {
            return Ok(DatasetTarget::Complete(id));
        }
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let tmp = local::partial_path(&path);
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut out = BufWriter::with_capacity(256 * 1024, file);
        let mut named = dataset.clone();
        named.name = dst_name.to_string();
        out.write_all(&header(&named, &self.system)).map_err(|e| Error::io(&tmp, e))?;
        let writer = FileRecordWriter { out, tmp, path, count: 0 };
        Ok(DatasetTarget::Open { target: Target::Created(id), writer: Box::new(writer) })
    }
}

struct FileRecordWriter {
    out: BufWriter<File>,
    tmp: PathBuf,
    path: PathBuf,
    count: usize,
}

#[async_trait]
impl RecordWriter for FileRecordWriter {
    async fn write(&mut self, records: Vec<DatasetRow>) -> Result<()> {
        // Into the buffer; the disk is written a buffer at a time.
        for r in &records {
            write_record(&mut self.out, self.count, r).map_err(|e| Error::io(&self.tmp, e))?;
            self.count += 1;
        }
        Ok(())
    }

    async fn finish(self: Box<Self>) -> Result<()> {
        let FileRecordWriter { mut out, tmp, path, .. } = *self;
        out.write_all(TRAILER).map_err(|e| Error::io(&tmp, e))?;
        let file = out.into_inner().map_err(|e| Error::io(&tmp, e.into_error()))?;
        tokio::task::spawn_blocking(move || local::persist(&file, &tmp, &path)).await.expect("rename task panicked")
    }
}

/// `evaluation_datasets_summary.json` of a bulk folder, as the Python tool writes it: counts
/// and each dataset's name and id. Shard K of N of an export writes its part, and the shard
/// that finds every part writes the summary of them all ([`local::write_whole`]).
pub fn write_summary(
    bulk: &Path,
    system: &ExportSystem,
    datasets: Vec<(String, String)>,
    failed: usize,
    shard: Option<(u32, u32)>,
) -> Result<()> {
    let part = |(datasets, failed): &(Vec<(String, String)>, usize)| json!({"datasets": datasets, "failed": failed});
    let merge = |parts: &[Value]| {
        let bad = || Error::Input(format!("a shard's part of {SUMMARY_JSON} is not a list of datasets and a count"));
        let (mut all, mut failed) = (Vec::new(), 0);
        for part in parts {
            let datasets: Vec<(String, String)> =
                serde_json::from_value(part.get("datasets").cloned().ok_or_else(bad)?).map_err(|_| bad())?;
            all.extend(datasets);
            failed += part.get("failed").and_then(Value::as_u64).ok_or_else(bad)? as usize;
        }
        Ok((all, failed))
    };
    let render = |(datasets, failed): (Vec<(String, String)>, usize)| {
        let list: Vec<_> = datasets.iter().map(|(name, id)| json!({"name": name, "dataset_id": id})).collect();
        let summary = json!({
            "total_datasets": datasets.len() + failed,
            "successful_exports": datasets.len(),
            "failed_exports": failed,
            "datasets": list,
        });
        summary_file(system, summary)
    };
    local::write_whole(&bulk.join(SUMMARY_JSON), shard, (datasets, failed), part, merge, render)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::LinkedExperiment;

    fn system() -> ExportSystem {
        ExportSystem {
            package_version: "1".into(),
            script: "export_evaluation_datasets".into(),
            export_time: 0,
            mlflow_version: None,
            mlflow_tracking_uri: None,
            user: None,
        }
    }

    /// A bulk folder written page by page reads back page by page (three pages for 2,500
    /// records), every record in order; a second begin finds the complete file.
    /// Three shards of an export, one without datasets: the summary is written once all three
    /// parts are there, listing every shard's datasets and failures.
    #[test]
    fn shards_write_one_summary_of_every_shards_datasets() {
        let dir = tempfile::tempdir().unwrap();
        let summary = dir.path().join(SUMMARY_JSON);
        let dataset = |n: &str| vec![(n.to_string(), format!("d-{n}"))];
        write_summary(dir.path(), &system(), dataset("a"), 1, Some((2, 3))).unwrap();
        write_summary(dir.path(), &system(), Vec::new(), 0, Some((3, 3))).unwrap();
        assert!(!summary.exists(), "written before every shard's part");
        write_summary(dir.path(), &system(), dataset("b"), 0, Some((1, 3))).unwrap();
        let doc: Value = serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
        let text = doc.to_string();
        assert!(text.contains(r#""total_datasets":3"#) && text.contains(r#""failed_exports":1"#), "{text}");
        assert!(text.contains(r#""dataset_id":"d-b""#) && text.contains(r#""dataset_id":"d-a""#), "{text}");
    }

    #[tokio::test]
    async fn a_bulk_folder_round_trips_records_by_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let dataset = EvaluationDatasetRecord {
            dataset_id: "d-1".into(),
            name: "qa".into(),
            tags: BTreeMap::from([("k".into(), "v".into())]),
            experiments: vec![LinkedExperiment { id: "3".into(), name: Some("e".into()) }],
            ..Default::default()
        };
        let rows: Vec<DatasetRow> =
            (0..2500).map(|i| serde_json::from_value(json!({"inputs": {"q": i}})).unwrap()).collect();
        let sink = DirDatasetSink::new(dir.path(), true, system());
        let DatasetTarget::Open { mut writer, .. } = sink.begin_dataset(&dataset, "qa", false).await.unwrap() else {
            panic!("a new folder holds no copy")
        };
        for page in rows.chunks(700) {
            writer.write(page.to_vec()).await.unwrap();
        }
        writer.finish().await.unwrap();
        let folder = dataset_folder(dir.path(), "qa", "d-1");
        assert_eq!(list_dataset_dirs(dir.path()).unwrap(), vec![folder.clone()]);
        assert!(matches!(sink.begin_dataset(&dataset, "qa", false).await.unwrap(), DatasetTarget::Complete(_)));

        let source = DirDatasets::new(HashMap::from([("d-1".to_string(), folder)]));
        let read = source.read_dataset("d-1").await.unwrap();
        assert_eq!(read, EvaluationDatasetRecord { tracking_uri: None, ..dataset });
        let mut pages = source.records(&read).await.unwrap();
        let mut sizes = Vec::new();
        let mut back = Vec::new();
        while let Some(page) = pages.next_page().await.unwrap() {
            sizes.push(page.len());
            back.extend(page);
        }
        assert_eq!(sizes, [PAGE, PAGE, 500]);
        assert_eq!(back, rows);
    }

    #[test]
    fn a_name_that_cannot_be_a_folder_name_leaves_the_id() {
        assert_eq!(dataset_folder(Path::new("b"), "a/b", "d-1"), Path::new("b/d-1"));
        assert_eq!(dataset_folder(Path::new("b"), "qa", "d-1"), Path::new("b/qa_d-1"));
    }
}
