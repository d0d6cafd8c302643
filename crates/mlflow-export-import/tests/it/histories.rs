//! Metric histories read in bulk: every point arrives, including where one bulk answer cannot
//! hold them all (30 runs × 1,000 points of one key; one run with 30,000 points of its own),
//! non-finite values and repeated steps, and far fewer requests are made than one per key.

use std::collections::HashMap;

use serde_json::Value;
use test_support::{assert_runs_equal, dump_experiment, seed, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{clean_report, ok, path},
    experiments::as_map,
};

/// Requests a per-key reader needs for the histories alone: 30 runs × 3 keys, 2 keys of the
/// long run, one of them in 2 pages.
const PER_KEY_HISTORY_REQUESTS: u64 = 93;

fn assert_same_runs(src: &HashMap<String, Value>, dst: &HashMap<String, Value>) {
    assert_eq!(dst.len(), src.len());
    for run in dst.values() {
        let source = run["tags"]["mlflow_export_import.source.run_id"].as_str().unwrap();
        assert_runs_equal(&src[source], run);
    }
}

#[test]
fn histories_read_in_bulk_arrive_point_for_point_in_few_requests() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let exp = unique_name("histories");
    let seeded = seed(&src.url, &["--scenario", "histories", "--experiment", &exp]);
    assert_eq!(seeded["run_ids"].as_array().unwrap().len(), 32);
    let source = as_map(dump_experiment(&src.url, &exp));
    let work = tempfile::tempdir().unwrap();
    let (export, report) = (work.path().join("export"), work.path().join("export.json"));
    ok(&["export-experiment", "--tracking-uri", &src.url, "--experiment", &exp, "--output-dir", path(&export)]
        .into_iter()
        .chain(["--report", path(&report)])
        .collect::<Vec<_>>());
    let requests = clean_report(&report)["requests"].as_u64().unwrap();
    eprintln!("export of the histories experiment: {requests} requests");
    // One artifact listing per run, the experiment, the search: 34 besides the histories.
    assert!(requests < 34 + PER_KEY_HISTORY_REQUESTS / 4, "{requests} requests for the export");
    let imported = format!("{exp}-imported");
    ok(&["import-experiment", "--tracking-uri", &dst.url, "--input-dir", path(&export)]
        .into_iter()
        .chain(["--experiment-name", &imported, "--use-src-user-id"])
        .collect::<Vec<_>>());
    assert_same_runs(&source, &as_map(dump_experiment(&dst.url, &imported)));

    let copied = format!("{exp}-copied");
    let report = work.path().join("copy.json");
    ok(&["copy-experiment", "--src-uri", &src.url, "--dst-uri", &dst.url, "--src-experiment", &exp]
        .into_iter()
        .chain(["--dst-experiment-name", &copied, "--use-src-user-id", "--report", path(&report)])
        .collect::<Vec<_>>());
    clean_report(&report);
    assert_same_runs(&source, &as_map(dump_experiment(&dst.url, &copied)));
}
