//! `sync`: a server kept in step with another. A second sync brings each copied run up to what
//! its source gained (metric points, a param, tags, files, a finished status) and each copied
//! model version, model and experiment up to their new description, tags and stage, creates
//! the new runs
//! and versions, and with `--delete` deletes the copy of a run the source deleted, within
//! `--max-delete`. `--dry-run` says all that before it is done. A sync with nothing to do makes
//! no request per run. The servers are this
//! test's own: `sync` takes everything a server holds.

use std::path::Path;

use serde_json::Value;
use test_support::{assert_runs_equal, dump_experiment, dump_run, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{fails, ok, path, read_json},
    experiments::experiment_tags,
    models::assert_model_equals,
};

/// Runs `sync` from `src` to `dst` with `extra` options and returns its report.
fn sync(src: &MlflowServer, dst: &MlflowServer, extra: &[&str]) -> Value {
    let report = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.json", unique_name("sync")));
    let args = [&["--report", path(&report), "sync", "--src-uri", &src.url, "--dst-uri", &dst.url][..], extra].concat();
    ok(&[&args[..], &["--use-src-user-id"]].concat());
    read_json(&report)
}

/// Destination run id of each source run in a report.
fn copies(report: &Value) -> std::collections::HashMap<String, String> {
    report["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["source_run_id"].as_str().unwrap().to_string(), r["destination"].as_str().unwrap().to_string()))
        .collect()
}

fn count(report: &Value, key: &str) -> u64 {
    report["summary"][key].as_u64().unwrap_or_else(|| panic!("{key} in {report}"))
}

fn deleted(report: &Value) -> Vec<String> {
    let lists = report["experiments"].as_array().unwrap().iter().filter_map(|e| e["runs_deleted"].as_array());
    lists.flatten().map(|v| v.as_str().unwrap().to_string()).collect()
}

#[test]
fn a_second_sync_brings_changed_runs_in_step_and_deletes_what_the_source_deleted() {
    let start = |mode| std::thread::spawn(move || MlflowServer::start(mode));
    let dst = start(ArtifactMode::LocalRoot);
    let src = MlflowServer::start(ArtifactMode::Proxy);
    let dst = dst.join().unwrap();
    let name = unique_name("sync");
    // A finished run, a run still going (two points, one file), a run to be deleted later.
    let seeded = src.python_eval(&format!(
        "import json, mlflow\nc = mlflow.MlflowClient()\ne = c.create_experiment({name:?}, tags={{'stage': 'one'}})\n\
         done = c.create_run(e, run_name='done', tags={{'team': 'a'}}).info.run_id\n\
         c.log_param(done, 'lr', '0.1')\nc.log_text(done, 'first', 'notes/a.txt')\nc.set_terminated(done)\n\
         live = c.create_run(e, run_name='live').info.run_id\n\
         [c.log_metric(live, 'loss', 1.0 / (s + 1), timestamp=1000 + s, step=s) for s in range(2)]\n\
         c.log_text(live, 'short', 'live.txt')\n\
         doomed = c.create_run(e, run_name='doomed').info.run_id\nc.set_terminated(doomed)\n\
         c.create_registered_model({name:?}, description='first', tags={{'owner': 'a'}})\n\
         c.create_model_version({name:?}, c.get_run(done).info.artifact_uri + '/notes', run_id=done)\n\
         print(json.dumps([done, live, doomed]))"
    ));
    let ids: Vec<String> = serde_json::from_str(seeded.lines().last().unwrap()).unwrap();
    let [done, live, doomed] = [&ids[0], &ids[1], &ids[2]];
    let first = sync(&src, &dst, &[]);
    assert_eq!(count(&first, "runs_created"), 3, "{first}");
    let copy = copies(&first);

    // The source moves on: the live run logs three more points, a param, a tag and a file,
    // rewrites its file at another size, and finishes; a tag of the finished run changes; a
    // run is deleted and another one made.
    let code = format!(
        "import json, mlflow\nc = mlflow.MlflowClient()\nlive, done, doomed = {live:?}, {done:?}, {doomed:?}\n\
         [c.log_metric(live, 'loss', 1.0 / (s + 1), timestamp=1000 + s, step=s) for s in range(2, 5)]\n\
         c.log_param(live, 'epochs', '5')\nc.set_tag(live, 'phase', 'trained')\n\
         c.log_text(live, 'a longer text than before', 'live.txt')\nc.log_text(live, 'new', 'more/b.txt')\n\
         c.set_terminated(live)\nc.set_tag(done, 'team', 'b')\nc.delete_run(doomed)\n\
         m = {name:?}\nc.update_registered_model(m, 'second')\nc.set_registered_model_tag(m, 'owner', 'b')\n\
         c.update_model_version(m, '1', 'checked')\nc.set_model_version_tag(m, '1', 'ok', 'yes')\n\
         c.transition_model_version_stage(m, '1', 'Staging')\n\
         c.create_model_version(m, c.get_run(live).info.artifact_uri + '/more', run_id=live)\n\
         e = c.get_experiment_by_name({name:?}).experiment_id\nc.set_experiment_tag(e, 'stage', 'two')\n\
         new = c.create_run(e, run_name='new').info.run_id\nc.set_terminated(new)\nprint(json.dumps(new))"
    );
    let new: String = serde_json::from_str(src.python_eval(&code).lines().last().unwrap()).unwrap();

    // A dry run says what the sync would do, and does none of it (the sync after it still finds
    // everything to do).
    let plan = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.json", unique_name("sync-dry")));
    let dry = ["--dry-run", "--report", path(&plan), "sync", "--src-uri", &src.url, "--dst-uri", &dst.url, "--delete"];
    let said = String::from_utf8_lossy(&crate::cli::run(&dry, &[]).stderr).into_owned();
    assert!(said.contains("runs would be: 1 created, 0 resumed, 2 updated, 0 skipped, 1 deleted"), "{said}");
    let would = read_json(&plan);
    assert_eq!(would["would"]["deleted"], 1, "{would}");

    // Not more deletes than allowed: that experiment deletes nothing and says why.
    let bounded = fails(
        &["sync", "--src-uri", &src.url, "--dst-uri", &dst.url, "--use-src-user-id", "--delete", "--max-delete", "0"],
        &[],
    );
    assert!(bounded.contains("1 copies of runs the source no longer has would be deleted"), "{bounded}");
    assert!(bounded.contains("1 created, 0 resumed, 2 updated, 0 skipped, 0 failed"), "{bounded}");
    assert!(bounded.contains("versions 1 created, 1 updated, 0 skipped, 0 failed"), "{bounded}");
    assert_model_equals(&src.dump_model(&name), &dst, &name);
    assert_eq!(experiment_tags(&dst.url, &name)["stage"], "two");
    assert_eq!(dump_run(&dst.url, &copy[doomed.as_str()])["info"]["lifecycle_stage"], "active");

    let second = sync(&src, &dst, &["--delete", "--max-delete", "1"]);
    // The bounded attempt above already brought the changed runs in step.
    assert_eq!(count(&second, "runs_updated"), 0, "{second}");
    let doomed_copy = copy[doomed.as_str()].clone();
    assert_eq!(deleted(&second), std::slice::from_ref(&doomed_copy), "{second}");
    let copy = copies(&second);
    let (source, copied) = (dump_experiment(&src.url, &name), dump_experiment(&dst.url, &name));
    assert_eq!(copied[&doomed_copy]["info"]["lifecycle_stage"], "deleted");
    for run in [done, live, &new] {
        assert_runs_equal(&source[run.as_str()], &copied[&copy[run.as_str()]]);
    }

    // Nothing to do: no write, and the requests do not grow with the runs.
    let idle = sync(&src, &dst, &["--delete"]);
    assert_eq!(
        (count(&idle, "runs_created"), count(&idle, "runs_updated"), count(&idle, "runs_skipped")),
        (0, 0, 3),
        "{idle}"
    );
    assert!(deleted(&idle).is_empty(), "{idle}");
    let versions = &idle["models"][0];
    assert_eq!((&versions["versions_updated"], &versions["versions_skipped"]), (&0.into(), &2.into()), "{idle}");
    let more = format!(
        "import mlflow\nc = mlflow.MlflowClient()\ne = c.get_experiment_by_name({name:?}).experiment_id\n\
         [c.set_terminated(c.create_run(e).info.run_id) for _ in range(10)]"
    );
    src.python_eval(&more);
    assert_eq!(count(&sync(&src, &dst, &[]), "runs_created"), 10);
    let idle_again = sync(&src, &dst, &["--delete"]);
    assert_eq!(count(&idle_again, "runs_skipped"), 13, "{idle_again}");
    assert_eq!(idle_again["requests"], idle["requests"], "a sync with nothing to do made requests per run");
}
