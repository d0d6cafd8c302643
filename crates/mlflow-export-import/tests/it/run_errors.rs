//! Bad input gets a clear error, a non-zero exit, and nothing written outside the target.

use std::io::Write;

use serde_json::Value;
use test_support::{seed, unique_name, ArtifactMode, FaultPlan, FaultProxy, MlflowServer};

use crate::cli::{closed_port_url, fails, files_below, list_runs, ok, path};

#[test]
fn unknown_run_id() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("run");
    let err = fails(
        &["export-run", "--tracking-uri", &src.url, "--run-id", "0123456789abcdef", "--output", path(&target)],
        &[],
    );
    assert!(err.contains("0123456789abcdef") && err.contains("no such run"), "{err}");
    assert!(!target.exists(), "nothing written for a run that does not exist");
    let exp = unique_name("unknown");
    let err = fails(
        &[
            "copy-run",
            "--src-uri",
            &src.url,
            "--dst-uri",
            &dst.url,
            "--run-id",
            "0123456789abcdef",
            "--experiment-name",
            &exp,
        ],
        &[],
    );
    assert!(err.contains("no such run"), "{err}");
    assert!(list_runs(&dst.url, &exp).is_empty());
}

#[test]
fn export_directory_without_run_json() {
    let dst = MlflowServer::shared(ArtifactMode::Proxy);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("artifacts")).unwrap();
    let exp = unique_name("no-run-json");
    let err =
        fails(&["import-run", "--tracking-uri", &dst.url, "--input", path(dir.path()), "--experiment-name", &exp], &[]);
    assert!(err.contains("run.json is missing"), "{err}");
    assert!(list_runs(&dst.url, &exp).is_empty());
}

#[test]
fn malformed_run_json_names_the_file() {
    let dst = MlflowServer::shared(ArtifactMode::Proxy);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("run.json");
    std::fs::write(&file, b"{\"mlflow\": {\"info\": ").unwrap();
    let exp = unique_name("malformed");
    let err =
        fails(&["import-run", "--tracking-uri", &dst.url, "--input", path(dir.path()), "--experiment-name", &exp], &[]);
    assert!(err.contains(path(&file)) && err.contains("malformed JSON"), "{err}");
    std::fs::write(
        &file,
        br#"{"mlflow": {"info": {"run_id": "a1", "experiment_id": "1", "status": "FINISHED"}, "params": [1, 2]}}"#,
    )
    .unwrap();
    let err =
        fails(&["import-run", "--tracking-uri", &dst.url, "--input", path(dir.path()), "--experiment-name", &exp], &[]);
    assert!(err.contains(path(&file)) && err.contains("params"), "{err}");
    assert!(list_runs(&dst.url, &exp).is_empty(), "nothing imported from a broken file");
}

/// Writes a zip whose only entry has the given name (and is a symlink when `link` is set).
fn hostile_zip(path: &std::path::Path, entry: &str, link: bool) {
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default();
    if link {
        zip.add_symlink(entry, "/etc/passwd", opts).unwrap();
    } else {
        zip.start_file(entry, opts).unwrap();
        zip.write_all(b"owned").unwrap();
    }
    zip.finish().unwrap();
}

#[test]
fn zip_with_escaping_entries_is_refused() {
    let dst = MlflowServer::shared(ArtifactMode::Proxy);
    let dir = tempfile::tempdir().unwrap();
    let escaped = dir.path().join("escaped.txt");
    for (name, entry, link) in [
        ("dotdot.zip", "../escaped.txt", false),
        ("nested.zip", "artifacts/../../escaped.txt", false),
        ("absolute.zip", escaped.to_str().unwrap(), false),
        ("symlink.zip", "artifacts/link", true),
    ] {
        let zip = dir.path().join("sub").join(name);
        std::fs::create_dir_all(zip.parent().unwrap()).unwrap();
        hostile_zip(&zip, entry, link);
        let exp = unique_name("hostile");
        let err =
            fails(&["import-run", "--tracking-uri", &dst.url, "--input", path(&zip), "--experiment-name", &exp], &[]);
        assert!(err.contains("refusing entry"), "{name}: {err}");
        assert!(!escaped.exists(), "{name} wrote outside the target");
        assert!(list_runs(&dst.url, &exp).is_empty());
    }
    let truncated = dir.path().join("truncated.zip");
    std::fs::write(&truncated, b"PK\x03\x04 not really a zip").unwrap();
    let err =
        fails(&["import-run", "--tracking-uri", &dst.url, "--input", path(&truncated), "--experiment-name", "x"], &[]);
    assert!(err.contains("not a readable zip file"), "{err}");
}

#[test]
fn wrong_credentials_say_authentication_failed_and_show_no_secret() {
    let server = MlflowServer::shared(ArtifactMode::BasicAuth);
    let secret = "n0t-the-Passw0rd";
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("r");
    let args = ["export-run", "--tracking-uri", &server.url, "--run-id", "abc", "--output", path(&target)];
    for envs in [
        vec![("MLFLOW_TRACKING_USERNAME", "admin"), ("MLFLOW_TRACKING_PASSWORD", secret)],
        vec![("MLFLOW_TRACKING_TOKEN", secret)],
    ] {
        let err = fails(&[&args[..], &["-vv"]].concat(), &envs);
        assert!(err.contains("authentication failed"), "{err}");
        assert!(!err.contains(secret), "secret printed: {err}");
    }
    let with_creds_in_url = server.url.replace("http://", &format!("http://admin:{secret}@"));
    let err = fails(
        &["export-run", "--tracking-uri", &with_creds_in_url, "--run-id", "abc", "--output", "unused", "-vv"],
        &[],
    );
    assert!(err.contains("authentication failed") && !err.contains(secret), "{err}");
}

#[test]
fn right_credentials_work() {
    let server = MlflowServer::shared(ArtifactMode::BasicAuth);
    let (user, password) = server.credentials().expect("basic-auth server has an admin login");
    let uri = server.url.replace("http://", &format!("http://{user}:{password}@"));
    let run_id = seed(&uri, &["--experiment", &unique_name("auth"), "--scenario", "rich"])["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("r");
    let out = cli::run(
        &["export-run", "--tracking-uri", &server.url, "--run-id", &run_id, "--output", path(&target)],
        &[("MLFLOW_TRACKING_USERNAME", user), ("MLFLOW_TRACKING_PASSWORD", password)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains(password));
}

#[test]
fn bad_tracking_uri_and_missing_input() {
    let err = fails(&["export-run", "--tracking-uri", "ftp://x", "--run-id", "a", "--output", "o"], &[]);
    assert!(err.contains("unsupported tracking URI"), "{err}");
    let err = fails(
        &["import-run", "--tracking-uri", "http://127.0.0.1:9", "--input", "/no/such/dir", "--experiment-name", "e"],
        &[],
    );
    assert!(err.contains("/no/such/dir"), "{err}");
    ok(&["export-run", "--help"]);
}

use crate::cli;

#[test]
fn secrets_appear_in_no_output_file_or_report() {
    let server = MlflowServer::shared(ArtifactMode::BasicAuth);
    let (user, password) = server.credentials().expect("basic-auth server has an admin login");
    let with_password = server.url.replace("http://", &format!("http://{user}:{password}@"));
    let run_id = seed(&with_password, &["--experiment", &unique_name("secret"), "--scenario", "rich"])["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let (export, zip, report) = (dir.path().join("run"), dir.path().join("run.zip"), dir.path().join("report.json"));
    let creds = [("MLFLOW_TRACKING_USERNAME", user), ("MLFLOW_TRACKING_PASSWORD", password)];
    let token = "tok-3d7f0c2a9b";
    let mut outputs = Vec::new();
    for (args, envs) in [
        // Password from the environment, at every verbosity, with a report.
        (
            vec![
                "export-run",
                "--tracking-uri",
                &server.url,
                "--run-id",
                &run_id,
                "--output",
                path(&export),
                "-vv",
                "--report",
                path(&report),
            ],
            creds.to_vec(),
        ),
        // Password inside the URI, exporting to a zip.
        (
            vec!["export-run", "--tracking-uri", &with_password, "--run-id", &run_id, "--output", path(&zip), "-v"],
            vec![],
        ),
        // Import with the password, and a copy whose source has it in the URI.
        (
            vec![
                "import-run",
                "--tracking-uri",
                &server.url,
                "--input",
                path(&export),
                "--experiment-name",
                "secret-import",
                "-vv",
            ],
            creds.to_vec(),
        ),
        (
            vec![
                "copy-run",
                "--src-uri",
                &with_password,
                "--dst-uri",
                &server.url,
                "--run-id",
                &run_id,
                "--experiment-name",
                "secret-copy",
                "-vv",
            ],
            creds.to_vec(),
        ),
    ] {
        let out = cli::run(&args, &envs);
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        outputs.push(out.stdout);
        outputs.push(out.stderr);
    }
    // A bearer token is refused by this server; the failure must not show it either.
    let out = cli::run(
        &["export-run", "--tracking-uri", &server.url, "--run-id", &run_id, "--output", "unused", "-vv"],
        &[("MLFLOW_TRACKING_TOKEN", token)],
    );
    outputs.push(out.stderr);
    for file in files_below(dir.path()) {
        outputs.push(std::fs::read(&file).unwrap());
    }
    for (i, bytes) in outputs.iter().enumerate() {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains(password) && !text.contains(token), "secret found in output {i}: {text}");
    }
    let report = std::fs::read_to_string(&report).unwrap();
    assert!(report.contains(&run_id), "the report was written");
}

#[test]
fn an_export_missing_a_file_its_manifest_lists_is_refused() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = seed(&server.url, &["--experiment", &unique_name("manifest"), "--scenario", "rich", "--no-log-model"])
        ["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("run");
    ok(&["export-run", "--tracking-uri", &server.url, "--run-id", &run_id, "--output", path(&export)]);
    let victim = files_below(&export.join("artifacts")).into_iter().next().expect("the run has artifacts");
    std::fs::remove_file(&victim).unwrap();
    let exp = unique_name("manifest-import");
    let err =
        fails(&["import-run", "--tracking-uri", &server.url, "--input", path(&export), "--experiment-name", &exp], &[]);
    let rel = victim.strip_prefix(export.join("artifacts")).unwrap().to_str().unwrap().to_string();
    assert!(err.contains(&rel) && err.contains("missing"), "{err}");
    let runs = list_runs(&server.url, &exp);
    assert!(
        runs.iter().all(|r| r["tags"]["mlflow_export_import.complete"].is_null()),
        "nothing is marked complete: {runs:?}"
    );
}

/// A proxy in front of `server` that changes the first file of every artifact listing.
fn lying_server(server: &MlflowServer, change: fn(&mut Value)) -> FaultProxy {
    FaultProxy::start(
        &server.url,
        FaultPlan::rewriting(move |_, body| {
            let mut listing: Value = serde_json::from_slice(body).ok()?;
            let file = listing.get_mut("files")?.as_array_mut()?.iter_mut().find(|f| f["is_dir"] != true)?;
            change(file);
            serde_json::to_vec(&listing).ok()
        }),
    )
}

fn plain_run(server: &MlflowServer, what: &str) -> String {
    seed(&server.url, &["--experiment", &unique_name(what), "--scenario", "rich", "--no-log-model"])["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_server_listing_an_artifact_outside_the_run_is_refused() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let run_id = plain_run(src, "escape");
    let proxy = lying_server(src, |f| f["path"] = "../../escaped.txt".into());
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("out").join("run");
    let err = fails(&["export-run", "--tracking-uri", &proxy.url, "--run-id", &run_id, "--output", path(&export)], &[]);
    assert!(err.contains(&run_id) && err.contains("unsafe path") && err.contains("escaped.txt"), "{err}");
    let written: Vec<_> = files_below(dir.path()).into_iter().filter(|p| p.ends_with("escaped.txt")).collect();
    assert!(written.is_empty(), "{written:?}");
    let exp = unique_name("escape-copy");
    let err = fails(
        &["copy-run", "--src-uri", &proxy.url, "--dst-uri", &dst.url, "--run-id", &run_id, "--experiment-name", &exp],
        &[],
    );
    assert!(err.contains("unsafe path"), "{err}");
    assert!(list_runs(&dst.url, &exp).iter().all(|r| r["tags"]["mlflow_export_import.complete"].is_null()));
}

/// `export-run` of `run_id` through `proxy`, which must fail at once (no retry pass): its
/// stderr, and the folder it was exporting into.
fn failed_export(proxy: &FaultProxy, run_id: &str) -> (String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("run");
    let args = [
        "export-run",
        "--tracking-uri",
        &proxy.url,
        "--run-id",
        run_id,
        "--output",
        path(&export),
        "--retry-passes",
        "0",
    ];
    (fails(&args, &[]), dir)
}

#[test]
fn a_server_declaring_a_huge_artifact_size_is_refused_without_trusting_it() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(src, "huge");
    let proxy = lying_server(src, |f| f["file_size"] = 1_000_000_000_000_000_u64.into());
    let (err, dir) = failed_export(&proxy, &run_id);
    assert!(err.contains(&run_id) && err.contains("1000000000000000"), "{err}");
    let biggest = files_below(dir.path()).iter().map(|p| std::fs::metadata(p).unwrap().len()).max().unwrap_or(0);
    assert!(biggest < 1 << 20, "no space was set aside for the declared size: {biggest} bytes");
}

/// A listing may omit sizes (servers and object stores may): the files are moved anyway, and
/// the manifest records the bytes that arrived, not a made-up 0.
#[test]
fn a_server_listing_artifacts_without_sizes_is_read_and_the_real_sizes_recorded() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(src, "sizeless");
    let proxy = FaultProxy::start(
        &src.url,
        FaultPlan::rewriting(|_, body| {
            let mut listing: Value = serde_json::from_slice(body).ok()?;
            for file in listing.get_mut("files")?.as_array_mut()? {
                file.as_object_mut()?.remove("file_size");
            }
            serde_json::to_vec(&listing).ok()
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("run");
    ok(&["export-run", "--tracking-uri", &proxy.url, "--run-id", &run_id, "--output", path(&export)]);
    let run_json: Value = serde_json::from_slice(&std::fs::read(export.join("run.json")).unwrap()).unwrap();
    let manifest = run_json["info"]["artifacts"].as_array().expect("a manifest");
    assert!(manifest.iter().any(|a| a["size"].as_u64() > Some(0)), "{manifest:?}");
    for a in manifest {
        let file = export.join("artifacts").join(a["path"].as_str().unwrap());
        assert_eq!(a["size"].as_u64(), Some(std::fs::metadata(file).unwrap().len()), "{a}");
        assert!(a["sha256"].is_string(), "{a}");
    }
    let exp = unique_name("sizeless-copy");
    ok(&["copy-run", "--src-uri", &proxy.url, "--dst-uri", &src.url, "--run-id", &run_id, "--experiment-name", &exp]);
    let runs = list_runs(&src.url, &exp);
    assert!(runs.len() == 1 && runs[0]["tags"]["mlflow_export_import.complete"] == "true", "{runs:?}");
}

#[test]
fn a_server_listing_a_negative_artifact_size_is_refused() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(src, "negative-size");
    let proxy = lying_server(src, |f| f["file_size"] = (-5).into());
    let (err, _dir) = failed_export(&proxy, &run_id);
    assert!(err.contains(&run_id) && err.contains("size as -5, not a number of bytes"), "{err}");
}

#[test]
fn names_mlflow_rejects_fail_the_run_with_the_servers_reason() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(server, "names");
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("run");
    ok(&["export-run", "--tracking-uri", &server.url, "--run-id", &run_id, "--output", path(&export)]);
    let file = export.join("run.json");
    let mut run: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    run["mlflow"]["params"]["bad*key"] = "x".into();
    std::fs::write(&file, serde_json::to_vec(&run).unwrap()).unwrap();
    let exp = unique_name("names-import");
    let err =
        fails(&["import-run", "--tracking-uri", &server.url, "--input", path(&export), "--experiment-name", &exp], &[]);
    assert!(err.contains(&run_id) && err.contains("bad*key") && err.contains("INVALID_PARAMETER_VALUE"), "{err}");
    assert!(list_runs(&server.url, &exp).iter().all(|r| r["tags"]["mlflow_export_import.complete"].is_null()));
}

/// A wrong port answers nothing: the job says so at once, instead of sitting silent through a
/// minute of retries (retries are for servers that have answered before), and writes nothing.
#[test]
fn a_server_that_never_answered_fails_at_once_with_a_hint() {
    let url = closed_port_url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let started = std::time::Instant::now();
    let err =
        fails(&["export-experiment", "--tracking-uri", &url, "--experiment", "x", "--output-dir", path(&out)], &[]);
    // Seven retries with backoff take about 49 s; one attempt takes milliseconds.
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "took {:?}: {err}", started.elapsed());
    assert!(err.contains(&url) && err.contains("is the server running"), "{err}");
    assert!(!out.exists());
}

/// A server whose search names a run `../../escaped`: the id would become a folder of the
/// export, so the experiment is refused by name and nothing lands outside the output folder.
#[test]
fn a_server_returning_a_run_id_that_is_a_path_is_refused() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let experiment = unique_name("hostile-ids");
    seed(&src.url, &["--experiment", &experiment, "--scenario", "rich", "--no-log-model"]);
    let proxy = FaultProxy::start(
        &src.url,
        FaultPlan::rewriting(|path, body| {
            if !path.contains("runs/search") {
                return None;
            }
            let mut answer: Value = serde_json::from_slice(body).ok()?;
            let info = &mut answer.get_mut("runs")?.as_array_mut()?.first_mut()?["info"];
            info["run_id"] = "../../escaped".into();
            info["run_uuid"] = "../../escaped".into();
            serde_json::to_vec(&answer).ok()
        }),
    );
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a").join("b");
    let report = dir.path().join("report.json");
    let args =
        ["export-experiment", "--tracking-uri", &proxy.url, "--experiment", &experiment, "--output-dir", path(&out)];
    let err = fails(&[&args[..], &["--report", path(&report)]].concat(), &[]);
    assert!(err.contains("../../escaped") && err.contains("cannot be a folder name"), "{err}");
    assert!(!dir.path().join("escaped").exists() && !dir.path().join("a").join("escaped").exists());
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["experiments"][0]["name"], experiment.as_str(), "{report}");
}

/// A file of an export altered in place (same size, one byte flipped: bit rot, a bad copy):
/// its SHA-256 no longer matches `run.json`'s manifest, so the import refuses it by name and
/// marks nothing complete.
#[test]
fn an_export_file_with_other_bytes_of_the_same_size_is_refused() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(server, "checksum");
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("run");
    ok(&["export-run", "--tracking-uri", &server.url, "--run-id", &run_id, "--output", path(&export)]);
    let victim = files_below(&export.join("artifacts")).into_iter().find(|p| std::fs::metadata(p).unwrap().len() > 0);
    let victim = victim.expect("the run has a non-empty artifact");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 0x01;
    std::fs::write(&victim, &bytes).unwrap();
    let exp = unique_name("checksum-import");
    let err =
        fails(&["import-run", "--tracking-uri", &server.url, "--input", path(&export), "--experiment-name", &exp], &[]);
    let rel = victim.strip_prefix(export.join("artifacts")).unwrap().to_str().unwrap().to_string();
    assert!(err.contains(&rel) && err.contains("SHA-256") && err.contains("damaged"), "{err}");
    let runs = list_runs(&server.url, &exp);
    assert!(runs.iter().all(|r| r["tags"]["mlflow_export_import.complete"].is_null()), "nothing complete: {runs:?}");
}

/// A server that names a folder of this machine as a run's artifact root (here one holding a
/// private file; in the wild `/home/me/.ssh`) does not get that folder into the export: a
/// local root is read from disk only inside `--artifacts-destination`, else through the
/// server, which answers with the run's own files.
#[test]
fn a_server_naming_a_folder_of_this_machine_does_not_get_it_exported() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(src, "local-root");
    let dir = tempfile::tempdir().unwrap();
    let private = dir.path().join("private");
    std::fs::create_dir_all(&private).unwrap();
    std::fs::write(private.join("secret.txt"), "not for export").unwrap();
    let named = private.to_str().unwrap().to_string();
    let proxy = FaultProxy::start(
        &src.url,
        FaultPlan::rewriting(move |path, body| {
            if !path.contains("runs/get") {
                return None;
            }
            let mut answer: Value = serde_json::from_slice(body).ok()?;
            answer.get_mut("run")?.get_mut("info")?["artifact_uri"] = named.clone().into();
            serde_json::to_vec(&answer).ok()
        }),
    );
    let export = dir.path().join("out");
    ok(&["export-run", "--tracking-uri", &proxy.url, "--run-id", &run_id, "--output", path(&export)]);
    let exported = files_below(&export.join("artifacts"));
    assert!(!exported.is_empty(), "the run's own files are exported");
    assert!(!exported.iter().any(|p| p.ends_with("secret.txt")), "{exported:?}");
}

/// A disk that fills during an export (here the file being written is `/dev/full`) ends the
/// job with an error naming the file and the cause, a non-zero exit, and no file under its
/// final name claiming to be whole.
#[test]
fn a_disk_that_fills_during_an_export_is_a_clear_error() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let run_id = plain_run(src, "disk-full");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink("/dev/full", out.join("run.json.mlflow-export-import.partial")).unwrap();
    let report = dir.path().join("report.json");
    let err = fails(
        &[
            "export-run",
            "--tracking-uri",
            &src.url,
            "--run-id",
            &run_id,
            "--output",
            path(&out),
            "--report",
            path(&report),
        ],
        &[],
    );
    assert!(err.contains("run.json") && err.contains("No space left on device"), "{err}");
    assert!(!out.join("run.json").exists(), "no run.json claims the run is whole");
    let report: Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(report["summary"]["runs_failed"], 1, "{report}");
    assert_eq!(report["runs"][0]["attempts"], 1, "a full disk is not tried again: {report}");
}
