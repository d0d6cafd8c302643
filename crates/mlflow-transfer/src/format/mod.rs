//! The on-disk export format shared with the Python mlflow-export-import.
//!
//! Users hold years of exports written by every release of the Python tool, and that tool
//! changed its layout four times without bumping `export_file_version` and never kept a reader
//! for an older layout. So each file here reads *every* historical layout into the engine's
//! model, and writes only the newest one, which the Python importer of today can still read:
//! an export made by this tool stays importable by the Python tool, and our own additions live
//! where that importer never looks.
//!
//! Parsing is done by hand over `serde_json::Value` rather than with derived structs because
//! the layouts disagree on where fields live and what type they have, and because an error must
//! name the field that is wrong: a user with ten thousand run folders needs to know which key
//! of which file to fix.

pub mod evaluation_dataset_json;
pub mod experiment_json;
pub mod index_json;
mod json;
pub mod list_json;
pub mod logged_model_json;
pub mod model_json;
pub mod prompt_json;
pub mod run_json;
pub mod trace_json;

pub use json::{utc_text, ExportSystem, FormatError};

/// The corpus of real exports written by old releases of the Python tool
/// (`tests/fixtures/python/<release>/`, made by `scripts/python-corpus.sh`), and what each
/// release's generator logged (`expected.json`), for the readers' tests.
#[cfg(test)]
pub(crate) mod corpus {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use serde_json::Value;

    use crate::model::{MetricPoint, RunRecord};

    /// The releases in the corpus: 1.0.9 and 1.1.2 write the 1.x layouts, 1.2.0 the envelope.
    pub const RELEASES: [&str; 3] = ["1.0.9", "1.1.2", "1.2.0"];

    /// The folder of one release's exports.
    pub fn dir(release: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/python").join(release)
    }

    /// What the generator logged for `release`.
    pub fn expected(release: &str) -> Value {
        let path = dir(release).join("expected.json");
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    }

    /// Whether `release` is of the 1.x layouts (its run exports carry `--export-source-tags`).
    pub fn is_1x(release: &str) -> bool {
        release != "1.2.0"
    }

    /// The source run id the generator logged as run `name`.
    pub fn run_id(expected: &Value, name: &str) -> String {
        expected["runs"][name]["source_run_id"].as_str().unwrap().to_string()
    }

    /// Fields of a run as the generator of the corpus logged them (`expected.json`).
    pub fn assert_run_as_logged(run: &RunRecord, want: &Value, what: &str) {
        let status = serde_json::to_value(run.meta.status).unwrap();
        assert_eq!(status, want["status"], "{what}: status");
        assert_eq!(run.meta.start_time, want["start_time"].as_i64(), "{what}: start_time");
        assert_eq!(run.meta.end_time, want["end_time"].as_i64(), "{what}: end_time");
        let params: BTreeMap<String, String> = serde_json::from_value(want["params"].clone()).unwrap();
        assert_eq!(run.params, params, "{what}: params");
        let point = |p: &Value| MetricPoint {
            value: p["value"].as_f64().unwrap(),
            timestamp: p["timestamp"].as_i64().unwrap(),
            step: p["step"].as_i64().unwrap(),
        };
        let metrics: BTreeMap<String, Vec<MetricPoint>> = want["metrics"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, points)| (k.clone(), points.as_array().unwrap().iter().map(point).collect()))
            .collect();
        assert_eq!(run.metrics, metrics, "{what}: metric histories");
        for (k, v) in want["tags"].as_object().unwrap() {
            assert_eq!(run.tags.get(k).map(String::as_str), v.as_str(), "{what}: tag {k}");
        }
    }
}
