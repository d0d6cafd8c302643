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

/// Model jobs split by model: four shards of one `export-models` at once write one folder
/// whose `models.json` and `manifest.json` the last shard completes, and which imports equal to
/// the source; four shards of `copy-models` at once (one killed mid-way and run again) leave
/// every model equal to its source, every version and every run behind them once. Three
/// models in four shards: a shard without a model still does its part of the indexes.
#[test]
fn four_shards_of_a_model_job_move_each_model_version_and_run_once() {
    let _one = one_job_at_a_time();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let dst = crate::backends::sql_server(test_support::Backend::Postgres);
    let names = crate::models::seed_models(src);
    let experiment = names[0].trim_end_matches("-m0").to_string();
    let pattern = format!("{experiment}-m*");
    let source: Vec<Value> = names.iter().map(|n| src.dump_model(n)).collect();
    let mut version_runs: Vec<String> = source
        .iter()
        .flat_map(|m| m["versions"].as_array().unwrap().iter().map(|v| v["run_id"].as_str().unwrap().to_string()))
        .collect();
    version_runs.sort();
    version_runs.dedup();

    // Four export shards at once into one folder, imported whole under other names.
    let work = tempfile::tempdir().unwrap();
    let export = work.path().join("models");
    let mut children: Vec<_> = (1..=SHARDS)
        .map(|k| {
            let shard = format!("{k}/{SHARDS}");
            let args = ["export-models", "--tracking-uri", &src.url, "--models", &pattern, "--output-dir"];
            cli::command(&[&args[..], &[path(&export), "--shard", &shard, "-q"]].concat()).spawn().expect("starts")
        })
        .collect();
    for (k, child) in (1..=SHARDS).zip(&mut children) {
        assert!(child.wait().unwrap().success(), "export shard {k} failed");
    }
    let manifest: Value = serde_json::from_slice(&std::fs::read(export.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["info"]["status"]["models"]["num_ok_models"], 3, "{manifest}");
    assert_eq!(manifest["info"]["status"]["experiments"]["ok_runs"], version_runs.len(), "{manifest}");
    let renames = work.path().join("renames.csv");
    // The models and their experiment renamed alike: `<experiment>-from-shards[-m<i>]`.
    std::fs::write(&renames, format!("{experiment},{experiment}-from-shards\n")).unwrap();
    let args = ["import-models", "--tracking-uri", &dst.url, "--input-dir", path(&export), "--model-rename-file"];
    let rest = [path(&renames), "--experiment-rename-file", path(&renames), "--use-src-user-id", "-q"];
    ok(&[&args[..], &rest].concat());
    for (name, dump) in names.iter().zip(&source) {
        crate::models::assert_model_equals(dump, dst, &name.replace(&experiment, &format!("{experiment}-from-shards")));
    }

    // Four copy shards at once; a shard that has a model (its dry run plans one) is killed
    // while at work and run again.
    let shard_args = |k: u32| {
        let shard = format!("{k}/{SHARDS}");
        let args = ["copy-models", "--src-uri", &src.url, "--dst-uri", &dst.url, "--models", &pattern];
        [&args[..], &["--use-src-user-id", "--shard", &shard, "-q"]].concat().iter().map(|s| s.to_string()).collect()
    };
    let with_models: Vec<u32> = (1..=SHARDS)
        .filter(|&k| {
            let args: Vec<String> = shard_args(k);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ok(&[&["--dry-run"][..], &args].concat()).contains("registered model")
        })
        .collect();
    assert!((1..SHARDS as usize).contains(&with_models.len()), "3 models in 4 shards: {with_models:?}");
    let killed = with_models[0];
    let start = |k: u32, paced: bool| {
        let args: Vec<String> = shard_args(k);
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        if paced {
            args.extend(["--max-requests-per-second", "5"]);
        }
        cli::command(&args).spawn().expect("binary starts")
    };
    let mut children: Vec<_> = (1..=SHARDS).map(|k| start(k, k == killed)).collect();
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let child = &mut children[killed as usize - 1];
    assert!(child.try_wait().unwrap().is_none(), "shard {killed} still at work when killed");
    child.kill().unwrap();
    child.wait().unwrap();
    for (k, mut child) in (1..=SHARDS).zip(children) {
        if k != killed {
            assert!(child.wait().unwrap().success(), "copy shard {k} failed");
        }
    }
    assert!(start(killed, false).wait().unwrap().success(), "shard {killed} re-run failed");
    for (name, dump) in names.iter().zip(&source) {
        crate::models::assert_model_equals(dump, dst, name);
    }
    let code = format!(
        "import json, mlflow\nfrom mlflow.entities import ViewType\nc = mlflow.MlflowClient()\n\
         e = c.get_experiment_by_name({experiment:?})\n\
         runs = c.search_runs([e.experiment_id], run_view_type=ViewType.ALL, max_results=1000)\n\
         print(json.dumps(sorted(r.data.tags.get('mlflow_export_import.source.run_id') for r in runs)))"
    );
    let copied: Vec<String> = serde_json::from_str(dst.python_eval(&code).trim()).unwrap();
    assert_eq!(copied, version_runs, "each run behind a version copied once");

    // The whole job unsharded finds everything done.
    let report = work.path().join("again.json");
    let args: Vec<String> = shard_args(1);
    let args: Vec<&str> = args[..args.len() - 3].iter().map(String::as_str).collect();
    ok(&[&args[..], &["--report", path(&report), "-q"]].concat());
    let report = clean_report(&report);
    let created: u64 =
        report["models"].as_array().unwrap().iter().map(|m| m["versions_created"].as_u64().unwrap()).sum();
    assert_eq!((created, report["summary"]["runs_created"].as_u64()), (0, Some(0)), "{}", report["summary"]);
}
