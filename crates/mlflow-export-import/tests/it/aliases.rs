//! The Python tool's console-script names: a shell script written for the Python tool runs
//! unchanged with the links made by `aliases` first on PATH.

use test_support::{assert_runs_equal, dump_experiment, seed, unique_name, ArtifactMode, MlflowServer};

use crate::{
    cli::{clean_environment, fails, ok, path, succeeded},
    experiments::as_map,
};

#[test]
fn a_python_tool_script_runs_unchanged_through_the_aliases() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let (src, dst) = (unique_name("aliases-src"), unique_name("aliases-dst"));
    for name in ["first", "second"] {
        seed(&server.url, &["--scenario", "rich", "--no-log-model", "--experiment", &src, "--run-name", name]);
    }
    let tmp = tempfile::tempdir().unwrap();
    let links = tmp.path().join("bin");
    let created = ok(&["aliases", "--dir", path(&links)]);
    assert!(created.contains("export-experiment"), "{created}");
    assert_eq!(ok(&["aliases", "--dir", path(&links)]), "", "a re-run leaves the links alone");

    // The Python tool's spelling: tracking server from the environment, valued booleans.
    let script = "export-experiment --experiment \"$SRC\" --output-dir \"$OUT\" --export-permissions False \
        && import-experiment --experiment-name \"$DST\" --input-dir \"$OUT\" --use-src-user-id True \
           --import-permissions False";
    let search_path = std::env::join_paths(
        std::iter::once(links.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let mut shell = std::process::Command::new("sh");
    clean_environment(&mut shell)
        .args(["-c", script])
        .env("PATH", search_path)
        .env("MLFLOW_TRACKING_URI", &server.url)
        .env("SRC", &src)
        .env("DST", &dst)
        .env("OUT", tmp.path().join("export"));
    succeeded(&["sh", "-c", script], shell.output().expect("sh runs"));

    let sources = as_map(dump_experiment(&server.url, &src));
    let copies = as_map(dump_experiment(&server.url, &dst));
    assert_eq!((sources.len(), copies.len()), (2, 2));
    for copy in copies.values() {
        let source_id = copy["tags"]["mlflow_export_import.source.run_id"].as_str().expect("source tag");
        assert_runs_equal(&sources[source_id], copy);
    }
}

#[test]
fn aliases_replace_another_file_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let theirs = tmp.path().join(format!("export-run{}", std::env::consts::EXE_SUFFIX));
    std::fs::write(&theirs, "#!/bin/sh\n").unwrap();
    let stderr = fails(&["aliases", "--dir", path(tmp.path())], &[]);
    assert!(stderr.contains("--force") && stderr.contains("export-run"), "{stderr}");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "a refused run creates nothing");
    let created = ok(&["aliases", "--dir", path(tmp.path()), "--force"]);
    assert!(created.contains("export-run"), "{created}");
    assert!(theirs.symlink_metadata().unwrap().file_type().is_symlink());
}
