//! Whole experiments: bulk export/import and copy compared field by field, nested links across
//! experiments, a killed import re-run, a corrupted run in a bulk import, old layouts.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::OnceLock,
    time::Duration,
};

use serde_json::Value;
use test_support::{assert_runs_equal, dump_experiment, seed, unique_name, ArtifactMode, MlflowServer};

use crate::cli::{self, fails, list_runs, ok, path, run, succeeded};

const RUNS_PER_EXPERIMENT: usize = 20;

/// One job of 60 runs at a time against the shared servers. A tracking server is sized for one
/// migration at a time (sqlite serialises writes; the SQL store has 15 connections), and several
/// concurrent jobs of other tests would measure contention, not this tool.
pub(crate) fn one_job_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// One seeded tree of 3 experiments × 20 runs on the proxy server, exported once.
pub(crate) struct Tree {
    prefix: String,
    run_ids: Vec<String>,
    export: PathBuf,
}

impl Tree {
    pub(crate) fn names(&self) -> [String; 3] {
        ["a", "b", "c"].map(|s| format!("{}-{s}", self.prefix))
    }

    fn run(&self, experiment: usize, index: usize) -> &str {
        &self.run_ids[experiment * RUNS_PER_EXPERIMENT + index]
    }
}

pub(crate) fn tree() -> &'static Tree {
    static TREE: OnceLock<Tree> = OnceLock::new();
    TREE.get_or_init(|| {
        let src = MlflowServer::shared(ArtifactMode::Proxy);
        let prefix = unique_name("tree");
        let out = seed(&src.url, &["--scenario", "tree", "--experiment", &prefix, "--runs", "20"]);
        let run_ids: Vec<String> =
            out["run_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
        assert_eq!(run_ids.len(), 3 * RUNS_PER_EXPERIMENT);
        let export = Path::new(env!("CARGO_TARGET_TMPDIR")).join(&prefix);
        ok(&[
            "export-experiments",
            "--tracking-uri",
            &src.url,
            "--experiments",
            &format!("{prefix}-*"),
            "--output-dir",
            path(&export),
            "--export-deleted-runs",
        ]);
        Tree { prefix, run_ids, export }
    })
}

/// Every run of the source experiments, by source id.
fn source_runs(t: &Tree) -> HashMap<String, Value> {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    t.names().iter().flat_map(|n| as_map(dump_experiment(&src.url, n))).collect()
}

pub(crate) fn as_map(v: Value) -> HashMap<String, Value> {
    v.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Checks that `dst_names` hold exactly the runs of `src_names`, each once and complete, equal
/// field by field, with parent and root links pointing at the right destination runs.
pub(crate) fn assert_copied(src: &HashMap<String, Value>, dst_url: &str, src_names: &[String], dst_names: &[String]) {
    let expected: Vec<Vec<String>> = src_names
        .iter()
        .map(|name| src.iter().filter(|(_, r)| experiment_name_of(r, name)).map(|(id, _)| id.clone()).collect())
        .collect();
    assert_runs_copied(src, dst_url, &expected, dst_names);
}

/// Checks that each experiment `dst_names[i]` holds exactly the source runs `expected[i]`
/// (ids of `src`), as [`assert_copied`] does for runs named after their experiment.
pub(crate) fn assert_runs_copied(
    src: &HashMap<String, Value>,
    dst_url: &str,
    expected: &[Vec<String>],
    dst_names: &[String],
) {
    let mut dst: HashMap<String, Value> = HashMap::new();
    let mut by_source: HashMap<String, String> = HashMap::new();
    for (expected, dst_name) in expected.iter().zip(dst_names) {
        let runs = as_map(dump_experiment(dst_url, dst_name));
        assert_eq!(runs.len(), expected.len(), "{dst_name}: run count");
        for (id, run) in runs {
            let source_id = run["tags"]["mlflow_export_import.source.run_id"].as_str().unwrap().to_string();
            assert_eq!(run["tags"]["mlflow_export_import.complete"], "true", "{id}");
            assert!(by_source.insert(source_id.clone(), id.clone()).is_none(), "{source_id} copied twice");
            assert!(expected.contains(&source_id), "{dst_name} holds {source_id}, which it should not");
            dst.insert(id, run);
        }
    }
    for (source_id, dst_id) in &by_source {
        let (a, b) = (&src[source_id], &dst[dst_id]);
        assert_runs_equal(a, b);
        for link in ["mlflow.parentRunId", "mlflow.rootRunId"] {
            if let Some(parent) = a["tags"][link].as_str() {
                assert_eq!(b["tags"][link].as_str(), by_source.get(parent).map(String::as_str), "{link} of {dst_id}");
            }
        }
    }
}

fn experiment_name_of(run: &Value, name: &str) -> bool {
    run["info"]["run_name"].as_str().is_some_and(|n| n.rsplit_once('-').is_some_and(|(exp, _)| exp == name))
}

pub(crate) fn experiment_tags(url: &str, name: &str) -> Value {
    let code = format!(
        "import json, mlflow\nprint(json.dumps(mlflow.MlflowClient({url:?}).get_experiment_by_name({name:?}).tags))"
    );
    serde_json::from_str(&test_support::python_eval(&code)).unwrap()
}

#[test]
fn bulk_export_then_import_matches_field_by_field_with_links_across_experiments() {
    let t = tree();
    let _one = one_job_at_a_time();
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let prefix = unique_name("bulk");
    let out = cli::run(
        &[
            "import-experiments",
            "--tracking-uri",
            &dst.url,
            "--input-dir",
            path(&t.export),
            "--experiment-name-prefix",
            &format!("{prefix}-"),
            "--use-src-user-id",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("experiments    3 done, 0 failed") && stderr.contains("60 created"), "{stderr}");
    let dst_names = t.names().map(|n| format!("{prefix}-{n}"));
    assert_copied(&source_runs(t), &dst.url, &t.names(), &dst_names);
    // `verify` agrees, from the server and from the export; and it notices a wrong pairing.
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    for (from, to) in t.names().iter().zip(&dst_names) {
        let out = cli::run(
            &["verify", "--src-uri", &src.url, "--src-experiment", from, "--dst-uri", &dst.url, "--dst-experiment", to],
            &[],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let first_dir = std::fs::read_dir(&t.export)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            std::fs::read_to_string(p.join("experiment.json"))
                .is_ok_and(|j| j.contains(&format!("\"{}\"", t.names()[0])))
        })
        .unwrap();
    ok(&["verify", "--src-dir", path(&first_dir), "--dst-uri", &dst.url, "--dst-experiment", &dst_names[0]]);
    let wrong = cli::run(
        &[
            "verify",
            "--src-uri",
            &src.url,
            "--src-experiment",
            &t.names()[0],
            "--dst-uri",
            &dst.url,
            "--dst-experiment",
            &dst_names[1],
        ],
        &[],
    );
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stdout).contains("missing at the destination"));
    let tags = experiment_tags(&dst.url, &dst_names[0]);
    assert_eq!(tags["mlflow.note.content"], format!("description of {}-a", t.prefix));
    // Again: nothing is created twice.
    let again = cli::run(
        &[
            "import-experiments",
            "--tracking-uri",
            &dst.url,
            "--input-dir",
            path(&t.export),
            "--experiment-name-prefix",
            &format!("{prefix}-"),
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("0 created, 0 resumed, 0 updated, 60 skipped"));
}

#[test]
fn copy_experiment_one_by_one_links_to_runs_copied_earlier() {
    let t = tree();
    let _one = one_job_at_a_time();
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let prefix = unique_name("copy");
    let dst_names = t.names().map(|n| format!("{prefix}-{n}"));
    for (from, to) in t.names().iter().zip(&dst_names) {
        ok(&[
            "copy-experiment",
            "--src-uri",
            &src.url,
            "--dst-uri",
            &dst.url,
            "--src-experiment",
            from,
            "--dst-experiment-name",
            to,
            "--export-deleted-runs",
            "--use-src-user-id",
        ]);
    }
    // The same source spelled another way (a loopback name, a trailing slash) is the same
    // server: the copies are found, none is made twice.
    let respelled = format!("{}/", src.url.replace("127.0.0.1", "localhost"));
    assert_ne!(respelled, src.url);
    let args = [
        "copy-experiment",
        "--src-uri",
        &respelled,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        &t.names()[0],
        "--dst-experiment-name",
        &dst_names[0],
        "--export-deleted-runs",
        "--use-src-user-id",
    ];
    let again = succeeded(&args, run(&args, &[]));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains(" 0 created, 0 resumed"), "{said}");
    assert_copied(&source_runs(t), &dst.url, &t.names(), &dst_names);
}

#[test]
fn check_nested_runs_pulls_in_ancestors_and_descendants() {
    let t = tree();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let out = tempfile::tempdir().unwrap();
    let exported = |run: &str, nested: &str| {
        let dir = out.path().join(unique_name("nested"));
        ok(&[
            "export-experiment",
            "--tracking-uri",
            &src.url,
            "--experiment",
            &t.names()[0],
            "--output-dir",
            path(&dir),
            "--run-ids",
            run,
            "--check-nested-runs",
            nested,
        ]);
        let mut ids: Vec<String> = std::fs::read_dir(dir.join("runs"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        ids.sort();
        ids
    };
    let mut family = vec![t.run(0, 0).to_string(), t.run(0, 10).to_string()];
    family.sort();
    assert_eq!(exported(t.run(0, 10), "false"), vec![t.run(0, 10).to_string()]);
    assert_eq!(exported(t.run(0, 10), "true"), family, "the parent comes along");
    assert_eq!(exported(t.run(0, 0), "True"), family, "the child comes along");
}

/// Starts the binary with `args` and SIGKILLs it (no clean stop) at a random moment, up to
/// `kills` times, restarting it after each kill, until a start runs to its end. Returns the
/// moments of the kills that hit a running job.
pub(crate) fn kill_at_random_moments(args: &[&str], kills: usize, seed: u64) -> Vec<Duration> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut moments = Vec::new();
    for _ in 0..kills {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mlflow-export-import"))
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let at = Duration::from_millis(rng.u64(1500..5000));
        std::thread::sleep(at);
        if child.try_wait().unwrap().is_some() {
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        moments.push(at);
    }
    moments
}

/// A seed that differs from run to run and is printed, so a failure can be replayed.
pub(crate) fn kill_seed() -> u64 {
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("kill seed: {seed}");
    seed
}

#[test]
fn an_import_killed_five_times_then_rerun_ends_with_exactly_the_source_runs() {
    let t = tree();
    let _one = one_job_at_a_time();
    let dst = MlflowServer::shared(ArtifactMode::Proxy);
    let prefix = format!("{}-", unique_name("killed"));
    let args = [
        "import-experiments",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&t.export),
        "--experiment-name-prefix",
        &prefix,
        "--use-src-user-id",
        "-q",
    ];
    let seed = kill_seed();
    // Paced so that five kills a few seconds apart all land before the job could finish (about
    // 4 requests a run: at 6 per second the whole job takes some 40 s); the last run is not.
    let paced = [args.as_slice(), &["--max-requests-per-second", "6"]].concat();
    let moments = kill_at_random_moments(&paced, 5, seed);
    assert_eq!(moments.len(), 5, "seed {seed}: the job ended after kills at {moments:?}");
    let dst_names = t.names().map(|n| format!("{prefix}{n}"));
    let landed: usize = dst_names.iter().map(|n| list_runs(&dst.url, n).len()).sum();
    eprintln!("{landed} of {} runs landed after kills at {moments:?}", 3 * RUNS_PER_EXPERIMENT);
    assert!(landed > 0 && landed < 3 * RUNS_PER_EXPERIMENT, "{landed} runs after kills at {moments:?}");
    ok(&args);
    assert_copied(&source_runs(t), &dst.url, &t.names(), &dst_names);
}

#[test]
fn a_corrupted_run_in_a_bulk_import_is_reported_and_the_rest_imported() {
    let t = tree();
    let _one = one_job_at_a_time();
    let dst = MlflowServer::shared(ArtifactMode::Proxy);
    let copy = tempfile::tempdir().unwrap();
    copy_tree(&t.export, copy.path());
    let bad = t.run(0, 18);
    let exp_dirs: Vec<PathBuf> =
        std::fs::read_dir(copy.path()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    let bad_file = exp_dirs.iter().map(|d| d.join("runs").join(bad).join("run.json")).find(|p| p.exists()).unwrap();
    std::fs::write(&bad_file, b"{ this is not json").unwrap();
    let report = copy.path().join("report.json");
    let prefix = format!("{}-", unique_name("corrupt"));
    let err = fails(
        &[
            "import-experiments",
            "--tracking-uri",
            &dst.url,
            "--input-dir",
            path(copy.path()),
            "--experiment-name-prefix",
            &prefix,
            "--report",
            path(&report),
        ],
        &[],
    );
    assert!(err.contains("59 created") && err.contains("1 failed"), "{err}");
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let failures = report["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{report}");
    assert_eq!(failures[0]["run_id"], bad);
    let reason = failures[0]["reason"].as_str().unwrap();
    assert!(reason.contains(path(&bad_file)) && reason.contains("malformed JSON"), "{reason}");
    let total: usize = t.names().iter().map(|n| list_runs(&dst.url, &format!("{prefix}{n}")).len()).sum();
    assert_eq!(total, 59);
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mlflow-transfer/tests/fixtures").join(name)
}

#[test]
fn old_experiment_layouts_import() {
    let dst = MlflowServer::shared(ArtifactMode::Proxy);
    for (layout, runs) in [("experiment/seed-era", 2), ("experiment/envelope-2023", 2), ("experiment/envelope-2025", 2)]
    {
        let name = unique_name("old-layout");
        ok(&[
            "import-experiment",
            "--tracking-uri",
            &dst.url,
            "--input-dir",
            path(&fixture(layout)),
            "--experiment-name",
            &name,
        ]);
        let got = as_map(dump_experiment(&dst.url, &name));
        assert_eq!(got.len(), runs, "{layout}");
        let by_source: HashMap<&str, &str> = got
            .iter()
            .map(|(id, r)| (r["tags"]["mlflow_export_import.source.run_id"].as_str().unwrap(), id.as_str()))
            .collect();
        for run in got.values() {
            assert!(!run["params"].as_object().unwrap().is_empty(), "{layout}: params imported");
            assert!(!run["artifacts"].as_array().unwrap().is_empty(), "{layout}: artifacts imported");
            if let Some(parent) = run["tags"]["mlflow.parentRunId"].as_str() {
                assert!(by_source.values().any(|id| *id == parent), "{layout}: parent link remapped to {parent}");
            }
        }
    }
    let prefix = format!("{}-", unique_name("old-bulk"));
    ok(&[
        "import-experiments",
        "--tracking-uri",
        &dst.url,
        "--input-dir",
        path(&fixture("experiments/seed-era")),
        "--experiment-name-prefix",
        &prefix,
    ]);
    for name in ["sklearn", "sparkml"] {
        assert_eq!(list_runs(&dst.url, &format!("{prefix}{name}")).len(), 1, "{name}");
    }
}

#[test]
fn an_experiment_prefix_matches_names_not_patterns() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let base = unique_name("pfx");
    let names = [format!("{base}_a"), format!("{base}Xa"), format!("{base}%b")];
    let code = format!("import mlflow\nc = mlflow.MlflowClient()\nfor n in {:?}:\n    c.create_experiment(n)\n", names);
    server.python_eval(&code);
    let out = tempfile::tempdir().unwrap();
    let listed = |pattern: &str| {
        let plan = ok(&[
            "export-experiments",
            "--tracking-uri",
            &server.url,
            "--experiments",
            pattern,
            "--output-dir",
            path(out.path()),
            "--dry-run",
        ]);
        names.iter().filter(|n| plan.lines().any(|l| l.contains(&format!("{n:?}")))).cloned().collect::<Vec<_>>()
    };
    assert_eq!(listed(&format!("{base}_*")), vec![names[0].clone()], "`_` is no wildcard");
    assert_eq!(listed(&format!("{base}%*")), vec![names[2].clone()], "`%` is no wildcard");
    assert_eq!(listed(&format!("{base}*")).len(), 3);
}

/// `verify` compares artifact paths and sizes; `--checksums` also reads the bytes on both
/// sides. A copy whose file was altered in place (same size, one byte flipped) passes the first
/// and is named by the second, with a non-zero exit.
#[test]
fn verify_with_checksums_names_a_file_with_other_bytes_of_the_same_size() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let src = fixture("experiment/envelope-2025");
    let exp = unique_name("verify-checksums");
    let imported = ok(&[
        "import-experiment",
        "--tracking-uri",
        &server.url,
        "--input-dir",
        path(&src),
        "--experiment-name",
        &exp,
        "--use-src-user-id",
    ]);
    let verify = |checksums: &str| {
        let args = ["verify", "--src-dir", path(&src), "--dst-uri", &server.url, "--dst-experiment", &exp];
        cli::run(&[&args[..], &["--checksums", checksums]].concat(), &[])
    };
    let before = verify("true");
    assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stdout));

    // The copy's file in the server's artifact store: <root>/<experiment id>/<run id>/artifacts.
    let (src_id, dst_id) = imported.lines().next().and_then(|l| l.split_once('\t')).expect("id line on stdout");
    let victim = std::fs::read_dir(&server.artifact_root)
        .unwrap()
        .map(|e| e.unwrap().path().join(dst_id).join("artifacts/importance.csv"))
        .find(|p| p.exists())
        .expect("the copy's artifact");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();

    let sizes = verify("false");
    let stderr = String::from_utf8_lossy(&sizes.stderr);
    assert!(sizes.status.success() && stderr.contains(" 0 differences"), "{stderr}");
    let checked = verify("true");
    let (stdout, stderr) = (String::from_utf8_lossy(&checked.stdout), String::from_utf8_lossy(&checked.stderr));
    assert!(!checked.status.success(), "{stdout}");
    let want = format!("run {src_id} -> {dst_id}: artifact importance.csv: SHA-256 differs");
    assert_eq!(stdout.lines().collect::<Vec<_>>(), [want.as_str()]);
    assert!(stderr.contains(" 1 differences"), "{stderr}");
}
