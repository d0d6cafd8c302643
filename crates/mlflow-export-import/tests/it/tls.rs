//! HTTPS tracking servers: an MLflow server behind a TLS-terminating proxy whose certificate is
//! signed by a throwaway CA, as most real deployments are (nginx, a load balancer, an ingress).
//! Untrusted by default, with a clear message; trusted through `MLFLOW_TRACKING_SERVER_CERT_PATH`
//! (per side for copies); or not verified with `MLFLOW_TRACKING_INSECURE_TLS`.

use std::time::{Duration, Instant};

use test_support::{assert_runs_equal, dump_run, seed, unique_name, ArtifactMode, MlflowServer, TlsProxy};

use crate::cli::{self, assert_identity, destination, list_runs, path};

/// A run with params, tags, metric histories, dataset inputs and artifact files, seeded over
/// plain HTTP.
fn seeded_run(server: &MlflowServer) -> String {
    seed(&server.url, &["--experiment", &unique_name("tls-src"), "--scenario", "rich", "--no-log-model"])["run_ids"][0]
        .as_str()
        .unwrap()
        .to_string()
}

/// Runs the tool and asserts success, returning stdout.
fn ok_with(args: &[&str], envs: &[(&str, &str)]) -> String {
    String::from_utf8_lossy(&cli::succeeded(args, cli::run(args, envs)).stdout).into_owned()
}

/// `dst_id` on `dst` (read over plain HTTP with the official client) equals `src_id` on `src`,
/// field by field and artifact by artifact (sizes and SHA-256), and names `src_uri` as its source.
fn assert_copied(src: &MlflowServer, src_id: &str, src_uri: &str, dst: &MlflowServer, dst_id: &str) {
    let a = dump_run(&src.url, src_id);
    let b = dump_run(&dst.url, dst_id);
    assert_runs_equal(&a, &b);
    assert!(!b["artifacts"].as_array().is_some_and(Vec::is_empty), "the run has artifacts to compare: {b}");
    assert_identity(&b, src_id, src_uri);
}

fn assert_untrusted_message(err: &str, url: &str) {
    assert!(err.contains("certificate") && err.contains("not trusted"), "says the certificate is not trusted: {err}");
    assert!(err.contains(url), "names the server {url}: {err}");
    assert!(
        err.contains("MLFLOW_TRACKING_SERVER_CERT_PATH") && err.contains("MLFLOW_TRACKING_INSECURE_TLS"),
        "says what to set: {err}"
    );
}

#[test]
fn an_untrusted_certificate_fails_at_once_with_a_clear_message() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let tls = TlsProxy::start(&server.url);
    let run_id = seeded_run(server);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("run");
    let started = Instant::now();
    let err =
        cli::fails(&["export-run", "--tracking-uri", &tls.url, "--run-id", &run_id, "--output", path(&target)], &[]);
    assert_untrusted_message(&err, &tls.url);
    assert!(!target.exists(), "nothing exported");
    // A certificate does not become trusted by waiting: no retries with backoff.
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}: {err}", started.elapsed());
    assert!(tls.handshakes_failed() > 0, "the client refused the handshake");

    // Copy: the side whose certificate is untrusted is the one named.
    let other = TlsProxy::start(&server.url);
    let exp = unique_name("tls-untrusted");
    let ca = path(&tls.ca_pem_path);
    let err = cli::fails(
        &["copy-run", "--src-uri", &tls.url, "--dst-uri", &other.url, "--run-id", &run_id, "--experiment-name", &exp],
        &[("SRC_MLFLOW_TRACKING_SERVER_CERT_PATH", ca)],
    );
    assert_untrusted_message(&err, &other.url);
    assert!(list_runs(&server.url, &exp).is_empty(), "nothing written");
}

#[test]
fn a_ca_bundle_makes_export_import_and_copy_work() {
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let tls = TlsProxy::start(&server.url);
    let run_id = seeded_run(server);
    let trust = [("MLFLOW_TRACKING_SERVER_CERT_PATH", path(&tls.ca_pem_path))];
    let dir = tempfile::tempdir().unwrap();

    for output in [dir.path().join("run"), dir.path().join("run.zip")] {
        ok_with(&["export-run", "--tracking-uri", &tls.url, "--run-id", &run_id, "--output", path(&output)], &trust);
        let exp = unique_name("tls-import");
        let stdout = ok_with(
            &[
                "import-run",
                "--tracking-uri",
                &tls.url,
                "--input",
                path(&output),
                "--experiment-name",
                &exp,
                "--use-src-user-id",
            ],
            &trust,
        );
        let a = dump_run(&server.url, &run_id);
        let b = dump_run(&server.url, &destination(&stdout));
        assert_runs_equal(&a, &b);
    }

    let exp = unique_name("tls-copy");
    let stdout = ok_with(
        &[
            "copy-run",
            "--src-uri",
            &tls.url,
            "--dst-uri",
            &tls.url,
            "--run-id",
            &run_id,
            "--experiment-name",
            &exp,
            "--use-src-user-id",
        ],
        &trust,
    );
    assert_copied(server, &run_id, &tls.url, server, &destination(&stdout));
}

#[test]
fn insecure_tls_skips_verification() {
    let (src, dst) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let (src_tls, dst_tls) = (TlsProxy::start(&src.url), TlsProxy::start(&dst.url));
    let run_id = seeded_run(src);
    let exp = unique_name("tls-insecure");
    let stdout = ok_with(
        &[
            "copy-run",
            "--src-uri",
            &src_tls.url,
            "--dst-uri",
            &dst_tls.url,
            "--run-id",
            &run_id,
            "--experiment-name",
            &exp,
            "--use-src-user-id",
        ],
        &[("MLFLOW_TRACKING_INSECURE_TLS", "true")],
    );
    assert_copied(src, &run_id, &src_tls.url, dst, &destination(&stdout));
}

#[test]
fn copy_trusts_each_side_through_its_own_ca_bundle() {
    // Two fronts of one proxied server, each with its own CA: a copy needs both CAs, each for
    // its own side, and artifacts go up through TLS too.
    let server = MlflowServer::shared(ArtifactMode::Proxy);
    let (src_tls, dst_tls) = (TlsProxy::start(&server.url), TlsProxy::start(&server.url));
    let run_id = seeded_run(server);
    let exp = unique_name("tls-sides");
    let args = [
        "copy-run",
        "--src-uri",
        &src_tls.url,
        "--dst-uri",
        &dst_tls.url,
        "--run-id",
        &run_id,
        "--experiment-name",
        &exp,
        "--use-src-user-id",
    ];
    let (src_ca, dst_ca) = (path(&src_tls.ca_pem_path), path(&dst_tls.ca_pem_path));
    // Swapped bundles trust neither side.
    let err = cli::fails(
        &args,
        &[("SRC_MLFLOW_TRACKING_SERVER_CERT_PATH", dst_ca), ("DST_MLFLOW_TRACKING_SERVER_CERT_PATH", src_ca)],
    );
    let named = if err.contains(&src_tls.url) { &src_tls.url } else { &dst_tls.url };
    assert_untrusted_message(&err, named);
    let stdout = ok_with(
        &args,
        &[("SRC_MLFLOW_TRACKING_SERVER_CERT_PATH", src_ca), ("DST_MLFLOW_TRACKING_SERVER_CERT_PATH", dst_ca)],
    );
    assert_copied(server, &run_id, &src_tls.url, server, &destination(&stdout));
    assert_eq!(list_runs(&server.url, &exp).len(), 1);
}
