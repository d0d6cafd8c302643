//! GenAI evaluation datasets: seeded with the official client (tags, two linked experiments,
//! records with inputs, outputs, expectations, tags and source), then copied server to server,
//! exported and imported (our layout and the Python tool's), and read back with the official
//! client: every record, the tags and the experiment links equal the source's. A re-run
//! creates nothing; a copy left without its completion marker and with records missing is
//! finished in place.

use std::path::Path;

use serde_json::{json, Value};
use test_support::{run_python_script, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{ok, path};

const PREFIX: &str = "mlflow_export_import.";
const RECORDS: usize = 1200;

pub fn datasets(command: &str, url: &str, args: &[&str]) -> Value {
    run_python_script("datasets.py", &[&[command, "--tracking-uri", url][..], args].concat())
}

/// Every dataset called `name` at `server`, as the official client reads it.
pub fn dump(server: &MlflowServer, name: &str) -> Vec<Value> {
    datasets("dump", &server.url, &["--name", name]).as_array().unwrap().clone()
}

/// Runs the tool with a report and returns the report's evaluation datasets.
fn moved(args: &[&str], report: &Path) -> Vec<Value> {
    ok(&[&["--report", path(report)][..], args].concat());
    let report: Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    report["evaluation_datasets"].as_array().cloned().unwrap_or_default()
}

fn actions(outcomes: &[Value]) -> Vec<&str> {
    outcomes.iter().map(|o| o["action"].as_str().unwrap()).collect()
}

/// Asserts that the one dataset called `name` at `dst` equals `src` (a dump of one dataset),
/// with our identity tags and completion marker on top of the source's tags; `linked`: whether
/// the experiment links are expected (a Python export names no experiments). Returns its id.
pub fn assert_copied(src: &Value, dst: &MlflowServer, name: &str, linked: bool) -> String {
    let found = dump(dst, name);
    assert_eq!(found.len(), 1, "one dataset {name:?} at the destination: {found:?}");
    let copy = &found[0];
    assert_eq!(copy["records"], src["records"], "records of {name:?}");
    let mut tags = copy["tags"].as_object().unwrap().clone();
    assert_eq!(tags.get("mlflow_export_import.source.dataset_id"), Some(&src["dataset_id"]));
    assert_eq!(tags.get("mlflow_export_import.complete"), Some(&json!("true")));
    tags.retain(|k, _| !k.starts_with(PREFIX));
    assert_eq!(Value::Object(tags), src["tags"]);
    if linked {
        assert_eq!(copy["experiments"], src["experiments"]);
    } else {
        assert_eq!(copy["experiments"], json!([]));
    }
    copy["dataset_id"].as_str().unwrap().to_string()
}

#[test]
fn evaluation_datasets_copy_export_and_import_with_every_record_once() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = unique_name("ds");
    let exps = format!("{name}-e1,{name}-e2");
    let seeded =
        datasets("seed", &src.url, &["--name", &name, "--records", &RECORDS.to_string(), "--experiments", &exps]);
    let source = dump(src, &name).remove(0);
    assert_eq!(source["records"].as_array().unwrap().len(), RECORDS);
    assert_eq!(source["experiments"], json!([format!("{name}-e1"), format!("{name}-e2")]));
    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.json");

    // Server to server: created, then skipped; the destination experiments are created by name.
    let copy =
        ["copy-evaluation-datasets", "--src-uri", &src.url, "--dst-uri", &dst.url, "--evaluation-datasets", &name];
    let first = moved(&copy, &report);
    assert_eq!(actions(&first), ["created"]);
    assert_eq!(first[0]["records"], RECORDS);
    let copy_id = assert_copied(&source, dst, &name, true);
    assert_eq!(actions(&moved(&copy, &report)), ["skipped"]);
    assert_eq!(assert_copied(&source, dst, &name, true), copy_id);

    // An interrupted copy (no completion marker, records missing) is finished in place.
    datasets(
        "untag",
        &dst.url,
        &["--dataset-id", &copy_id, "--key", "mlflow_export_import.complete", "--drop-records", "700"],
    );
    assert_eq!(actions(&moved(&copy, &report)), ["resumed"]);
    assert_eq!(assert_copied(&source, dst, &name, true), copy_id);

    // Export → import under another name; a re-run of either writes nothing.
    let out = tmp.path().join("one");
    let export =
        ["export-evaluation-dataset", "--tracking-uri", &src.url, "--dataset-name", &name, "--output-dir", path(&out)];
    assert_eq!(actions(&moved(&export, &report)), ["created"]);
    assert_eq!(actions(&moved(&export, &report)), ["skipped"]);
    let imported = format!("{name}-imported");
    let import = [
        "import-evaluation-dataset",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&out),
        "--dataset-name",
        &imported,
    ];
    assert_eq!(actions(&moved(&import, &report)), ["created"]);
    let imported_id = assert_copied(&source, dst, &imported, true);
    assert_eq!(actions(&moved(&import, &report)), ["skipped"]);
    assert_eq!(assert_copied(&source, dst, &imported, true), imported_id);

    // Bulk export (with its summary) → bulk import.
    let bulk = tmp.path().join("bulk");
    let exp_id = seeded["experiment_ids"][0].as_str().unwrap();
    moved(
        &[
            "export-evaluation-datasets",
            "--tracking-uri",
            &src.url,
            "--evaluation-datasets",
            "all",
            "--experiment-ids",
            exp_id,
            "--output-dir",
            path(&bulk),
        ],
        &report,
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(bulk.join("evaluation_datasets_summary.json")).unwrap()).unwrap();
    assert_eq!(summary["mlflow"]["datasets"], json!([{"name": name, "dataset_id": source["dataset_id"]}]));
    let folder = bulk.join(format!("{name}_{}", source["dataset_id"].as_str().unwrap()));
    assert!(folder.join("evaluation_dataset.json").is_file());

    // The Python tool's layout (records inline in `to_dict()`, experiment ids only) imports.
    let py = tmp.path().join("python");
    datasets(
        "python-export",
        &src.url,
        &["--dataset-id", source["dataset_id"].as_str().unwrap(), "--output-dir", path(&py)],
    );
    let from_python = format!("{name}-py");
    let import_py = [
        "import-evaluation-dataset",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&py),
        "--evaluation-dataset-name",
        &from_python,
    ];
    assert_eq!(actions(&moved(&import_py, &report)), ["created"]);
    assert_copied(&source, dst, &from_python, false);
    assert_eq!(actions(&moved(&import_py, &report)), ["skipped"]);

    // A dataset of that name that is not our copy stands in the way until it is replaced.
    let taken = format!("{name}-taken");
    datasets("seed", &dst.url, &["--name", &taken, "--records", "3"]);
    let import_taken = [
        "import-evaluation-dataset",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&out),
        "--evaluation-dataset-name",
        &taken,
    ];
    let err = crate::cli::fails(&import_taken, &[]);
    assert!(err.contains("already exists"), "{err}");
    assert_eq!(actions(&moved(&[&import_taken[..], &["--delete-evaluation-dataset"]].concat(), &report)), ["created"]);
    assert_copied(&source, dst, &taken, true);
}
