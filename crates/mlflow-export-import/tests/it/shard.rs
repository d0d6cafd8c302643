//! `--shard K/N`: N processes started at once with 1/N .. N/N import one bulk export between
//! them; together they move every run exactly once, nested links intact, and each does its
//! part; one of them killed mid-way and started again finishes its part. Four shards of one
//! export write one folder that imports whole. The destination is PostgreSQL-backed, as a
//! server that several writers share is.

use std::collections::HashMap;

use serde_json::Value;
use test_support::{dump_experiment, seed, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{self, clean_report, fails, ok, path},
    experiments::{as_map, assert_copied, one_job_at_a_time},
};

const SHARDS: u32 = 4;
/// The shard killed mid-way and re-run.
const KILLED: u32 = 2;

#[test]
fn four_shards_run_at_once_one_killed_and_rerun_import_every_run_exactly_once() {
    let _one = one_job_at_a_time();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    // Many writers at once, as a team's server takes them: PostgreSQL. SQLite serialises writers
    // and answers a lock it cannot take only after its 30 s timeout, so shards into an SQLite
    // server (and every other test sharing it) would mostly wait.
    let dst = crate::backends::sql_server(test_support::Backend::Postgres);
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
    let shard = |k: u32| {
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
    };
    let mut children: Vec<_> = (1..=SHARDS).map(shard).collect();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let killed = &mut children[KILLED as usize - 1];
    assert!(killed.try_wait().unwrap().is_none(), "shard {KILLED} still at work when killed");
    killed.kill().unwrap();
    killed.wait().unwrap();
    for (k, mut child) in (1..=SHARDS).zip(children) {
        if k != KILLED {
            assert!(child.wait().unwrap().success(), "shard {k} failed");
        }
    }
    assert!(shard(KILLED).wait().unwrap().success(), "shard {KILLED} re-run failed");
    let done: Vec<u64> = reports
        .iter()
        .map(|r| {
            let summary = &clean_report(r)["summary"];
            ["runs_created", "runs_resumed", "runs_skipped"].iter().map(|k| summary[k].as_u64().unwrap()).sum()
        })
        .collect();
    assert_eq!(done.iter().sum::<u64>(), 60, "each run belongs to exactly one shard: {done:?}");
    assert!(done.iter().all(|&c| c > 0), "every shard did a part: {done:?}");
    let dst_names: Vec<String> = names.iter().map(|n| format!("sharded-{n}")).collect();
    assert_copied(&source, &dst.url, &names, &dst_names);

    // The same shard again finds its runs done; the whole job unsharded creates nothing.
    let again = work.path().join("again.json");
    let args = ["import-experiments", "--tracking-uri", &dst.url, "--input-dir", path(&export)];
    ok(&[&args[..], &["--experiment-name-prefix", "sharded-", "--use-src-user-id", "--report", path(&again), "-q"]]
        .concat());
    let summary = &clean_report(&again)["summary"];
    assert_eq!((summary["runs_created"].as_u64(), summary["runs_skipped"].as_u64()), (Some(0), Some(60)), "{summary}");

    // Four shards of one export at once, into one folder: its index files are completed by
    // the last shard, and the whole export imports equal to the source.
    let sharded = work.path().join("sharded-export");
    let mut children: Vec<_> = (1..=SHARDS)
        .map(|k| {
            let shard = format!("{k}/{SHARDS}");
            let args = ["export-experiments", "--tracking-uri", &src.url, "--experiments", &pattern];
            let rest = ["--output-dir", path(&sharded), "--export-deleted-runs", "--shard", &shard, "-q"];
            cli::command(&[&args[..], &rest].concat()).spawn().expect("binary starts")
        })
        .collect();
    for (k, child) in (1..=SHARDS).zip(&mut children) {
        assert!(child.wait().unwrap().success(), "export shard {k} failed");
    }
    assert!(sharded.join("experiments.json").is_file() && sharded.join("experiments.shard-1-of-4.json").is_file());
    let args = ["import-experiments", "--tracking-uri", &dst.url, "--input-dir", path(&sharded)];
    ok(&[&args[..], &["--experiment-name-prefix", "from-shards-", "--use-src-user-id", "-q"]].concat());
    let from_shards: Vec<String> = names.iter().map(|n| format!("from-shards-{n}")).collect();
    assert_copied(&source, &dst.url, &names, &from_shards);

    let err =
        fails(&["import-experiments", "--tracking-uri", &dst.url, "--input-dir", path(&export), "--shard", "3/2"], &[]);
    assert!(err.contains("expected K/N"), "{err}");
}
