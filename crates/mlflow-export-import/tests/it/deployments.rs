//! Production deployment shapes: PostgreSQL and sqlite backends with artifacts in S3 (moto in
//! server mode, `--no-serve-artifacts`: the tool reads and writes the bucket itself) and in
//! Azure Blob (azurite), moved between like and unlike shapes and checked with the official
//! client field by field and byte by byte (sha256 of every artifact file).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    process::Output,
    sync::OnceLock,
};

use serde_json::Value;
use test_support::{assert_runs_equal, unique_name, ArtifactMode, Backend, MlflowServer, ServerSpec};

use crate::{
    backends::sql_server,
    cli::{self, clean_report, path},
    experiments::{as_map, one_job_at_a_time},
    models::{assert_model_copied, seed_models},
};

/// Runs the tool with exactly the store variables given, HOME pointed at an empty folder so
/// that no `~/.aws` file is read.
fn tool(args: &[&str], env: &[(String, String)]) -> Output {
    static HOME: OnceLock<PathBuf> = OnceLock::new();
    let home = HOME.get_or_init(|| {
        let h = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique_name("home"));
        std::fs::create_dir_all(&h).unwrap();
        h
    });
    let mut env = env.to_vec();
    env.push(("HOME".into(), path(home).to_string()));
    cli::run_with(args, &env)
}

fn tool_ok(args: &[&str], env: &[(String, String)]) {
    cli::succeeded(args, tool(args, env));
}

/// The variables of both servers, unprefixed (they share the one moto and azurite).
fn both(a: &MlflowServer, b: &MlflowServer) -> Env {
    a.client_env().iter().chain(b.client_env()).cloned().collect()
}

/// Environment variables given to one run of the tool.
type Env = Vec<(String, String)>;

/// `side`-prefixed copies of a server's store variables (`SRC_AWS_ACCESS_KEY_ID`, ...).
fn side(prefix: &str, server: &MlflowServer) -> Env {
    server.client_env().iter().map(|(k, v)| (format!("{prefix}_{k}"), v.clone())).collect()
}

fn pg_s3() -> &'static MlflowServer {
    MlflowServer::shared_spec(&ServerSpec::new(ArtifactMode::S3).backend(Backend::Postgres))
}

fn sqlite_s3() -> &'static MlflowServer {
    MlflowServer::shared_spec(&ServerSpec::new(ArtifactMode::S3))
}

fn sqlite_azure() -> &'static MlflowServer {
    MlflowServer::shared_spec(&ServerSpec::new(ArtifactMode::Azure))
}

/// One experiment on the sqlite + proxied server: 12 runs of the `tree` scenario (nested runs,
/// FAILED, KILLED and deleted ones, an artifact each) and the `rich` run (deep folders, unicode
/// and empty files, a 6,000-character param, NaN and infinite metric values).
struct Source {
    experiment: String,
    runs: HashMap<String, Value>,
}

fn source() -> &'static Source {
    static SOURCE: OnceLock<Source> = OnceLock::new();
    SOURCE.get_or_init(|| {
        let src = MlflowServer::shared(ArtifactMode::Proxy);
        let prefix = unique_name("deploy");
        src.seed(&["--scenario", "tree", "--experiment", &prefix, "--runs", "12"]);
        let experiment = format!("{prefix}-a");
        src.seed(&["--scenario", "rich", "--experiment", &experiment, "--no-log-model"]);
        let runs = as_map(src.dump_experiment(&experiment));
        assert_eq!(runs.len(), 13);
        Source { experiment, runs }
    })
}

/// Copy id → the id of the run it was made from, as its identity tag says.
type Hop = HashMap<String, String>;

/// Checks that experiment `name` of `dst` holds each source run exactly once, complete, equal
/// field by field and byte by byte, with nested links pointing at the copies. `hops` are the
/// earlier copies in the chain from the source (each copy names only the run it was made from),
/// first hop first. Returns this hop, for the next.
fn assert_experiment_copied(dst: &MlflowServer, name: &str, hops: &[&Hop]) -> Hop {
    let src = source();
    let copies = as_map(dst.dump_experiment(name));
    assert_eq!(copies.len(), src.runs.len(), "{name} at {}: run count", dst.url);
    let mut hop = Hop::new();
    let mut by_origin = HashMap::new();
    for (id, run) in &copies {
        let made_from = run["tags"]["mlflow_export_import.source.run_id"].as_str().expect("identity tag").to_string();
        assert_eq!(run["tags"]["mlflow_export_import.complete"], "true", "{id}");
        let origin = hops.iter().rev().fold(made_from.clone(), |id, earlier| earlier[&id].clone());
        assert!(by_origin.insert(origin, id.clone()).is_none(), "{id}: a source run copied twice");
        hop.insert(id.clone(), made_from);
    }
    for (source_id, a) in &src.runs {
        let b = &copies[by_origin.get(source_id).unwrap_or_else(|| panic!("{source_id} not copied to {name}"))];
        assert_runs_equal(a, b);
        assert!(!a["artifacts"].as_array().unwrap().is_empty(), "{source_id}: the source has artifacts");
        for link in ["mlflow.parentRunId", "mlflow.rootRunId"] {
            if let Some(parent) = a["tags"][link].as_str() {
                assert_eq!(
                    b["tags"][link].as_str(),
                    by_origin.get(parent).map(String::as_str),
                    "{link} of {source_id}"
                );
            }
        }
    }
    hop
}

fn report(dir: &Path, name: &str) -> (PathBuf, String) {
    let p = dir.join(format!("{name}.json"));
    let s = path(&p).to_string();
    (p, s)
}

fn copy_experiment(
    src: &MlflowServer,
    from: &str,
    dst: &MlflowServer,
    to: &str,
    env: &[(String, String)],
    work: &Path,
) -> Value {
    let (report_path, report_arg) = report(work, &unique_name("copy"));
    tool_ok(
        &[
            "copy-experiment",
            "--src-uri",
            &src.url,
            "--dst-uri",
            &dst.url,
            "--src-experiment",
            from,
            "--dst-experiment-name",
            to,
            "--use-src-user-id",
            "--export-deleted-runs",
            "--report",
            &report_arg,
        ],
        env,
    );
    clean_report(&report_path)
}

/// `export-experiment` of `from` at `src` (deleted runs included) into `dir`, then
/// `import-experiment` of it as `to` at `dst`, each with the store variables given.
fn export_then_import(
    (src, from, src_env): (&MlflowServer, &str, &[(String, String)]),
    (dst, to, dst_env): (&MlflowServer, &str, &[(String, String)]),
    dir: &Path,
) {
    let dir = path(dir);
    tool_ok(
        &[
            "export-experiment",
            "--tracking-uri",
            &src.url,
            "--experiment",
            from,
            "--output-dir",
            dir,
            "--export-deleted-runs",
        ],
        src_env,
    );
    tool_ok(
        &[
            "import-experiment",
            "--tracking-uri",
            &dst.url,
            "--input-dir",
            dir,
            "--experiment-name",
            to,
            "--use-src-user-id",
        ],
        dst_env,
    );
}

#[test]
fn postgres_and_s3_round_trips_between_like_and_unlike_shapes() {
    let _one = one_job_at_a_time();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique_name("deploy"));
    std::fs::create_dir_all(&work).unwrap();
    let (proxy, pg, lite) = (MlflowServer::shared(ArtifactMode::Proxy), pg_s3(), sqlite_s3());
    let from = &source().experiment;

    // sqlite + proxied artifacts -> PostgreSQL + S3 (the tool writes the bucket itself).
    let on_pg = unique_name("on-pg");
    let first = copy_experiment(proxy, from, pg, &on_pg, &both(proxy, pg), &work);
    assert_eq!(first["summary"]["runs_created"], 13, "{first}");
    let to_pg = assert_experiment_copied(pg, &on_pg, &[]);
    let keys = test_support::moto::shared().list(&test_support::moto::shared().bucket, "");
    assert!(keys.iter().any(|(k, _)| k.contains("/artifacts/")), "no artifact reached the bucket: {keys:?}");

    // Again: nothing is created twice.
    let again = copy_experiment(proxy, from, pg, &on_pg, &both(proxy, pg), &work);
    assert_eq!(again["summary"]["runs_created"], 0, "{again}");
    assert_eq!(again["summary"]["runs_skipped"], 13, "{again}");
    assert_eq!(assert_experiment_copied(pg, &on_pg, &[]), to_pg, "the copies changed");

    // PostgreSQL + S3 -> export directory (read from the bucket) -> sqlite + S3.
    let imported = unique_name("imported");
    export_then_import((pg, &on_pg, pg.client_env()), (lite, &imported, lite.client_env()), &work.join("export"));
    assert_experiment_copied(lite, &imported, &[&to_pg]);

    // The bulk commands: PostgreSQL + S3 -> export-experiments -> import-experiments -> sqlite + S3.
    let bulk = work.join("bulk");
    tool_ok(
        &[
            "export-experiments",
            "--tracking-uri",
            &pg.url,
            "--experiments",
            &on_pg,
            "--output-dir",
            path(&bulk),
            "--export-deleted-runs",
        ],
        pg.client_env(),
    );
    let prefix = unique_name("bulk");
    tool_ok(
        &[
            "import-experiments",
            "--tracking-uri",
            &lite.url,
            "--input-dir",
            path(&bulk),
            "--experiment-name-prefix",
            &prefix,
            "--use-src-user-id",
        ],
        lite.client_env(),
    );
    assert_experiment_copied(lite, &format!("{prefix}{on_pg}"), &[&to_pg]);

    // PostgreSQL + S3 -> sqlite + S3 in the same bucket: copied inside the store.
    let in_store = unique_name("in-store");
    let r = copy_experiment(pg, &on_pg, lite, &in_store, &both(pg, lite), &work);
    let summary = &r["summary"];
    assert!(summary["artifact_bytes"].as_u64().unwrap() > 0, "{summary}");
    assert_eq!(summary["artifact_bytes_in_store"], summary["artifact_bytes"], "{summary}");
    let to_lite = assert_experiment_copied(lite, &in_store, &[&to_pg]);

    // sqlite + S3 -> sqlite + proxied artifacts: back to the first shape.
    let back = unique_name("back");
    copy_experiment(lite, &in_store, proxy, &back, &both(lite, proxy), &work);
    assert_experiment_copied(proxy, &back, &[&to_pg, &to_lite]);
}

#[test]
fn s3_and_azure_with_credentials_per_side() {
    let _one = one_job_at_a_time();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique_name("azure"));
    std::fs::create_dir_all(&work).unwrap();
    let (proxy, lite, azure) = (MlflowServer::shared(ArtifactMode::Proxy), sqlite_s3(), sqlite_azure());
    let from = &source().experiment;
    let on_s3 = unique_name("on-s3");
    copy_experiment(proxy, from, lite, &on_s3, lite.client_env(), &work);
    let to_s3 = assert_experiment_copied(lite, &on_s3, &[]);

    // S3 -> Azure with each side's variables under its own prefix only.
    let env: Vec<_> = side("SRC", lite).into_iter().chain(side("DST", azure)).collect();
    let on_azure = unique_name("on-azure");
    copy_experiment(lite, &on_s3, azure, &on_azure, &env, &work);
    let to_azure = assert_experiment_copied(azure, &on_azure, &[&to_s3]);

    // Azure -> export directory -> sqlite + proxied artifacts.
    let back = unique_name("back");
    export_then_import((azure, &on_azure, azure.client_env()), (proxy, &back, &[]), &work.join("export"));
    assert_experiment_copied(proxy, &back, &[&to_s3, &to_azure]);
}

#[test]
fn registered_models_and_logged_models_into_postgres_and_s3() {
    let _one = one_job_at_a_time();
    let (proxy, pg, lite) = (MlflowServer::shared(ArtifactMode::Proxy), pg_s3(), sqlite_s3());
    let (azure, pg_proxied) = (sqlite_azure(), sql_server(Backend::Postgres));
    for name in seed_models(proxy) {
        // Proxied -> PostgreSQL + S3 (files streamed), then on to sqlite + S3 in the same bucket
        // (run and logged-model files read from S3 and copied inside it); the model with a
        // logged-model version goes on to Azure and to PostgreSQL + proxied with 4 workers.
        let mut hops = vec![(proxy, pg), (pg, lite)];
        if name.ends_with("-m0") {
            hops.extend([(lite, azure), (azure, pg_proxied)]);
        }
        for (src, dst) in hops {
            tool_ok(
                &[
                    "copy-model",
                    "--src-uri",
                    &src.url,
                    "--dst-uri",
                    &dst.url,
                    "--src-model",
                    &name,
                    "--dst-experiment-name",
                    &unique_name("models"),
                    "--use-src-user-id",
                ],
                &both(src, dst),
            );
            assert_model_copied(src, &name, dst, &name);
        }
    }
}

#[test]
fn copy_run_onto_every_shape() {
    let _one = one_job_at_a_time();
    let proxy = MlflowServer::shared(ArtifactMode::Proxy);
    let (rich_id, rich) =
        source().runs.iter().max_by_key(|(_, r)| r["artifacts"].as_array().map_or(0, Vec::len)).expect("a source run");
    for dst in [pg_s3(), sqlite_s3(), sqlite_azure(), sql_server(Backend::Postgres), sql_server(Backend::Mysql)] {
        let args = [
            "copy-run",
            "--src-uri",
            &proxy.url,
            "--dst-uri",
            &dst.url,
            "--run-id",
            rich_id,
            "--experiment-name",
            &unique_name("one-run"),
            "--use-src-user-id",
        ];
        let out = cli::succeeded(&args, tool(&args, dst.client_env()));
        let copied = dst.dump_run(&cli::destination(&String::from_utf8_lossy(&out.stdout)));
        assert_runs_equal(rich, &copied);
    }
}

#[test]
fn without_store_credentials_writes_fail_before_any_run_and_reads_go_through_the_server() {
    let _one = one_job_at_a_time();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique_name("nocreds"));
    std::fs::create_dir_all(&work).unwrap();
    let (proxy, lite) = (MlflowServer::shared(ArtifactMode::Proxy), sqlite_s3());
    let from = &source().experiment;

    let name = unique_name("no-creds");
    let out = tool(
        &[
            "copy-experiment",
            "--src-uri",
            &proxy.url,
            "--dst-uri",
            &lite.url,
            "--src-experiment",
            from,
            "--dst-experiment-name",
            &name,
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no credentials for s3://"), "{stderr}");
    assert!(stderr.contains("AWS_ACCESS_KEY_ID (or DST_AWS_ACCESS_KEY_ID)"), "{stderr}");
    let code = format!("import mlflow\nprint(len(mlflow.search_runs(experiment_names=[{name:?}], output_format='list', run_view_type=3)))");
    assert_eq!(lite.python_eval(&code).trim(), "0", "runs were created before the credential check");

    // Reads need no credentials: the server's routes serve the bucket's files.
    let on_s3 = unique_name("on-s3");
    copy_experiment(proxy, from, lite, &on_s3, lite.client_env(), &work);
    let to_s3 = assert_experiment_copied(lite, &on_s3, &[]);
    let back = unique_name("back");
    export_then_import((lite, &on_s3, &[]), (proxy, &back, &[]), &work.join("export"));
    assert_experiment_copied(proxy, &back, &[&to_s3]);

    // Credentials for another endpoint: the store fails to list, and the server serves the files.
    let elsewhere: Env = lite
        .client_env()
        .iter()
        .map(|(k, v)| (k.clone(), if k.ends_with("ENDPOINT_URL") { "http://127.0.0.1:9".into() } else { v.clone() }))
        .collect();
    let back = unique_name("back");
    export_then_import((lite, &on_s3, &elsewhere), (proxy, &back, &[]), &work.join("export-elsewhere"));
    assert_experiment_copied(proxy, &back, &[&to_s3]);
}

#[test]
fn store_secrets_appear_in_no_output_export_or_report() {
    let _one = one_job_at_a_time();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join(unique_name("secrets"));
    std::fs::create_dir_all(&work).unwrap();
    let (proxy, lite, azure) = (MlflowServer::shared(ArtifactMode::Proxy), sqlite_s3(), sqlite_azure());
    let from = &source().experiment;
    // moto checks no signature, so a distinctive secret can be used for the tool alone.
    let aws_secret = "eim-s3-Secr3t-n0t-to-be-seen";
    let env = |server: &MlflowServer| -> Env {
        server
            .client_env()
            .iter()
            .map(|(k, v)| {
                if k == "AWS_SECRET_ACCESS_KEY" {
                    (k.clone(), aws_secret.to_string())
                } else {
                    (k.clone(), v.clone())
                }
            })
            .collect()
    };
    let azure_env = azure.client_env().to_vec();
    let connection = &azure_env.iter().find(|(k, _)| k == "AZURE_STORAGE_CONNECTION_STRING").expect("azure env").1;
    let account_key = connection.split(';').find_map(|kv| kv.strip_prefix("AccountKey=")).expect("account key");
    let (report_path, report_arg) = report(&work, "report");
    let export = work.join("export");
    let mut outputs = Vec::new();
    let on_s3 = unique_name("secret-s3");
    let steps: Vec<(Vec<String>, Env)> = vec![
        (
            vec!["copy-experiment", "--src-uri", &proxy.url, "--dst-uri", &lite.url, "--src-experiment", from]
                .into_iter()
                .map(String::from)
                .chain(["--dst-experiment-name".into(), on_s3.clone()])
                .collect(),
            env(lite),
        ),
        (
            ["export-experiment", "--tracking-uri", &lite.url, "--experiment", &on_s3, "--output-dir", path(&export)]
                .map(String::from)
                .to_vec(),
            env(lite),
        ),
        (
            [
                "import-experiment",
                "--tracking-uri",
                &azure.url,
                "--input-dir",
                path(&export),
                "--experiment-name",
                &unique_name("secret-az"),
            ]
            .map(String::from)
            .to_vec(),
            azure_env.clone(),
        ),
        // A failing write: the error path must be as clean as the happy one.
        (
            [
                "copy-experiment",
                "--src-uri",
                &proxy.url,
                "--dst-uri",
                &azure.url,
                "--src-experiment",
                from,
                "--dst-experiment-name",
                &unique_name("secret-fail"),
            ]
            .map(String::from)
            .to_vec(),
            vec![("AZURE_STORAGE_CONNECTION_STRING".into(), connection.replace("127.0.0.1:", "127.0.0.1:1"))],
        ),
    ];
    for (args, env) in steps {
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["-vv", "--report", &report_arg]);
        let out = tool(&args, &env);
        outputs.push(String::from_utf8_lossy(&out.stdout).into_owned());
        outputs.push(String::from_utf8_lossy(&out.stderr).into_owned());
        outputs.push(std::fs::read_to_string(&report_path).unwrap_or_default());
    }
    for entry in walk(&export) {
        outputs.push(String::from_utf8_lossy(&std::fs::read(entry).unwrap()).into_owned());
    }
    for text in &outputs {
        for secret in [aws_secret, account_key, connection.as_str()] {
            assert!(!text.contains(secret), "a secret leaked into:\n{text}");
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_nul_character_postgresql_refuses_is_named_not_retried() {
    let (proxy, pg) = (MlflowServer::shared(ArtifactMode::Proxy), pg_s3());
    let code = format!(
        "import mlflow\nc = mlflow.MlflowClient()\ne = c.create_experiment({:?})\n\
         r = c.create_run(e, tags={{'with.nul': 'a\\x00b'}})\nc.set_terminated(r.info.run_id)\nprint(r.info.run_id)",
        unique_name("nul")
    );
    // The client prints links to the run on stdout before the id.
    let run_id = proxy.python_eval(&code).lines().last().expect("run id").trim().to_string();
    let name = unique_name("nul-copy");
    let out = tool(
        &[
            "copy-run",
            "--src-uri",
            &proxy.url,
            "--dst-uri",
            &pg.url,
            "--run-id",
            &run_id,
            "--experiment-name",
            &name,
            "--max-retries",
            "1",
            "--retry-passes",
            "0",
        ],
        pg.client_env(),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("tag \"with.nul\" holds a NUL character"), "{stderr}");
    let code = format!(
        "import mlflow\nruns = mlflow.search_runs(experiment_names=[{name:?}], output_format='list', run_view_type=3)\n\
         print(sum(r.data.tags.get('mlflow_export_import.complete') == 'true' for r in runs))"
    );
    assert_eq!(pg.python_eval(&code).trim(), "0", "a run was marked complete");
}

#[test]
fn an_artifact_store_the_tool_cannot_write_is_named_before_any_run_is_created() {
    let proxy = MlflowServer::shared(ArtifactMode::Proxy);
    let (run_id, name) = (source().runs.keys().next().expect("a run").clone(), unique_name("dbfs-root"));
    // The server accepts a `dbfs:` root (unlike host-addressed schemes such as `hdfs:`, which
    // MLflow 3.17 refuses itself) but only Databricks can store there.
    let code = format!(
        "import mlflow\nmlflow.MlflowClient().create_experiment({name:?}, artifact_location='dbfs:/eim/{name}')"
    );
    proxy.python_eval(&code);
    let args =
        ["copy-run", "--src-uri", &proxy.url, "--dst-uri", &proxy.url, "--run-id", &run_id, "--experiment-name", &name];
    let out = tool(&args, &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("the `dbfs:` artifact store is not supported"), "{stderr}");
    assert!(stderr.contains(&format!("experiment {name:?}")), "{stderr}");
    let code = format!("import mlflow\nprint(len(mlflow.search_runs(experiment_names=[{name:?}], output_format='list', run_view_type=3)))");
    assert_eq!(proxy.python_eval(&code).trim(), "0", "a run was created");
}
