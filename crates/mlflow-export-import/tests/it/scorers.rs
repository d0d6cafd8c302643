//! Scorers registered on an experiment (here one without runs) move with it: every name with all its versions in
//! order, each serialized scorer byte-equal (read back with the official client's store), by
//! copy and by export/import. A re-run registers nothing; a version registered at the source
//! since is the only one a later run adds; a destination scorer of that name that is not a
//! copy is left alone and reported.

use serde_json::Value;
use test_support::{unique_name, ArtifactMode, MlflowServer};

use crate::cli::{clean_report, fails, ok, path};

fn scorers(server: &MlflowServer, experiment: &str) -> Value {
    test_support::run_python_script("scorers.py", &["--tracking-uri", &server.url, "--experiment", experiment, "dump"])
}

fn register(server: &MlflowServer, experiment: &str, name: &str, guidelines: &[&str]) {
    let args =
        [&["--tracking-uri", &server.url, "--experiment", experiment, "register", name][..], guidelines].concat();
    test_support::run_python_script("scorers.py", &args);
}

/// The scorers' (created, skipped) version counts of a report.
fn versions(report: &Value) -> (u64, u64) {
    let sum = |key: &str| report["scorers"].as_array().unwrap().iter().map(|s| s[key].as_u64().unwrap()).sum();
    (sum("versions_created"), sum("versions_skipped"))
}

#[test]
fn scorers_move_with_their_experiment_once() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let dst = MlflowServer::shared(ArtifactMode::LocalRoot);
    let experiment = unique_name("scorers");
    register(src, &experiment, "polite", &["be polite", "be very polite"]);
    register(src, &experiment, "concise", &["answer in one sentence"]);
    let source = scorers(src, &experiment);
    assert_eq!(source["polite"].as_array().unwrap().len(), 2, "{source}");

    let tmp = tempfile::tempdir().unwrap();
    let report = tmp.path().join("report.json");
    let copy = [
        "copy-experiment",
        "--src-uri",
        &src.url,
        "--dst-uri",
        &dst.url,
        "--src-experiment",
        &experiment,
        "--dst-experiment-name",
        &experiment,
        "--report",
        path(&report),
    ];
    ok(&copy);
    assert_eq!(versions(&clean_report(&report)), (3, 0));
    assert_eq!(scorers(dst, &experiment), source, "every version, in order, byte-equal");

    // Again: nothing registered (the destination is read back after the next copy).
    ok(&copy);
    assert_eq!(versions(&clean_report(&report)), (0, 3));

    // A version registered at the source since: only it is added.
    register(src, &experiment, "polite", &["be polite and brief"]);
    let source = scorers(src, &experiment);
    ok(&copy);
    assert_eq!(versions(&clean_report(&report)), (1, 3));
    assert_eq!(scorers(dst, &experiment), source);

    // Export, then import under another name.
    let out = tmp.path().join("export");
    ok(&["export-experiment", "--tracking-uri", &src.url, "--experiment", &experiment, "--output-dir", path(&out)]);
    assert!(out.join("scorers.json").is_file());
    let imported = unique_name("scorers-imported");
    let import = [
        "import-experiment",
        "--tracking-uri",
        &dst.url,
        "--experiment-name",
        &imported,
        "--input-dir",
        path(&out),
        "--report",
        path(&report),
    ];
    ok(&import);
    assert_eq!(scorers(dst, &imported), source);
    ok(&import);
    assert_eq!(versions(&clean_report(&report)), (0, 4));

    // A scorer of that name made at the destination by someone else: left alone, reported.
    let other = unique_name("scorers-other");
    register(src, &other, "polite", &["be polite"]);
    register(dst, &other, "polite", &["never apologize"]);
    let theirs = scorers(dst, &other);
    let err = fails(
        &[
            "copy-experiment",
            "--src-uri",
            &src.url,
            "--dst-uri",
            &dst.url,
            "--src-experiment",
            &other,
            "--dst-experiment-name",
            &other,
        ],
        &[],
    );
    assert!(err.contains("scorer \"polite\""), "{err}");
    assert_eq!(scorers(dst, &other), theirs, "the destination's own scorer is untouched");
}
