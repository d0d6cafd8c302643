//! `--shard K/N`: N processes started at once with 1/N .. N/N import one bulk export between
//! them; together they move every run exactly once, nested links intact, and each does its
//! part. A job whose other steps need every run (an export) refuses to be split.

use std::collections::HashMap;

use serde_json::Value;
use test_support::{dump_experiment, seed, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{self, clean_report, fails, ok, path},
    experiments::{as_map, assert_copied, one_job_at_a_time},
};

const SHARDS: u32 = 3;

#[test]
fn three_shards_run_at_once_import_every_run_exactly_once() {
    let _one = one_job_at_a_time();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let prefix = unique_name("shard");
    seed(&src.url, &["--scenario", "tree", "--experiment", &prefix, "--runs", "20"]);
    let names: Vec<String> = ["a", "b", "c"].iter().map(|s| format!("{prefix}-{s}")).collect();
    let source: HashMap<String, Value> = names.iter().flat_map(|n| as_map(dump_experiment(&src.url, n))).collect();
    assert_eq!(source.len(), 60);
    let work = tempfile::tempdir().unwrap();
    let export = work.path().join("export");
    let pattern = format!("{prefix}-*");
    ok(&[
        "export-experiments",
        "--tracking-uri",
        &src.url,
        "--experiments",
        &pattern,
        "--output-dir",
        path(&export),
        "--export-deleted-runs",
        "-q",
    ]);

    let reports: Vec<_> = (1..=SHARDS).map(|k| work.path().join(format!("shard-{k}.json"))).collect();
    let children: Vec<_> = (1..=SHARDS)
        .map(|k| {
            let shard = format!("{k}/{SHARDS}");
            let args = [
                "import-experiments",
                "--tracking-uri",
                &dst.url,
                "--input-dir",
                path(&export),
                "--experiment-name-prefix",
                "sharded-",
                "--use-src-user-id",
                "--shard",
                &shard,
                "--report",
                path(&reports[k as usize - 1]),
                "-q",
            ];
            cli::command(&args).spawn().expect("binary starts")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success(), "a shard failed");
    }
    let created: Vec<u64> =
        reports.iter().map(|r| clean_report(r)["summary"]["runs_created"].as_u64().unwrap()).collect();
    assert_eq!(created.iter().sum::<u64>(), 60, "each run created by exactly one shard: {created:?}");
    assert!(created.iter().all(|&c| c > 0), "every shard did a part: {created:?}");
    let dst_names: Vec<String> = names.iter().map(|n| format!("sharded-{n}")).collect();
    assert_copied(&source, &dst.url, &names, &dst_names);

    // The same shard again finds its runs done; the whole job unsharded creates nothing.
    let again = work.path().join("again.json");
    let args = ["import-experiments", "--tracking-uri", &dst.url, "--input-dir", path(&export)];
    ok(&[&args[..], &["--experiment-name-prefix", "sharded-", "--use-src-user-id", "--report", path(&again), "-q"]]
        .concat());
    let summary = &clean_report(&again)["summary"];
    assert_eq!((summary["runs_created"].as_u64(), summary["runs_skipped"].as_u64()), (Some(0), Some(60)), "{summary}");

    let err = fails(
        &[
            "export-experiment",
            "--tracking-uri",
            &src.url,
            "--experiment",
            &names[0],
            "--output-dir",
            path(&work.path().join("x")),
            "--shard",
            "1/2",
        ],
        &[],
    );
    assert!(err.contains("cannot be split"), "{err}");
    assert!(!work.path().join("x").exists(), "a refused job writes nothing");
    let err =
        fails(&["import-experiments", "--tracking-uri", &dst.url, "--input-dir", path(&export), "--shard", "3/2"], &[]);
    assert!(err.contains("expected K/N"), "{err}");
}
