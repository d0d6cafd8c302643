//! Databricks workspaces, against the in-repo fake (`test_support::databricks`): a workspace
//! in front of a real MLflow server whose run artifacts live in moto behind signed URLs.
//!
//! `copy-experiment` from an open-source server into the workspace and back out to another
//! open-source server keeps every field (read back with the official client on the open
//! sides) and every byte (read back from moto on the workspace side); a second run creates
//! nothing. The tags a workspace sets itself are kept aside on the copy there, reported, and put
//! back by the copy out; experiment folders are made first. Personal access tokens, OAuth machine-to-machine (tokens that expire mid-job) and
//! `~/.databrickscfg` profiles authenticate; a wrong secret ends in one clear line and no
//! secret is ever printed. A run's notebook is exported in every format, byte for byte, and
//! imported into a workspace folder the run is then pointed at, once; `download-notebook` writes
//! one alone.

use std::{collections::HashMap, sync::atomic::Ordering};

use serde_json::{json, Value};
use test_support::{
    assert_runs_equal, azurite, databricks::FakeOptions, moto, unique_name, ArtifactMode, DatabricksFake, MlflowServer,
};

use crate::{
    auth::by_source,
    cli::{self, path},
};

const PAT: &str = "dapi-fake-pat-0123456789";
const CLIENT_ID: &str = "sp-0000-fake";
const CLIENT_SECRET: &str = "dose-fake-client-secret-9876";
/// An experiment tag a workspace refuses.
const NOTEBOOK_TAG: &str = "mlflow.experiment.sourceType";
/// Where a copy keeps a tag the destination refused.
const REFUSED: &str = "mlflow_export_import.refused_tag.";

/// The tags of experiment `name` at `server`, read with the official client.
fn experiment_tags(server: &MlflowServer, name: &str) -> Value {
    let code = format!(
        "import json\nfrom mlflow import MlflowClient\nprint(json.dumps(MlflowClient().get_experiment_by_name({name:?}).tags))"
    );
    serde_json::from_str(&server.python_eval(&code)).unwrap()
}

/// A source experiment of two runs (params, metrics, tags, a dataset, files in nested folders,
/// a 0-byte file) on the shared proxy server, seeded once per test binary.
fn source() -> &'static (String, HashMap<String, Value>) {
    static SOURCE: std::sync::OnceLock<(String, HashMap<String, Value>)> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let src = MlflowServer::shared(ArtifactMode::Proxy);
        let name = unique_name("dbx-src");
        for run in ["a", "b"] {
            src.seed(&["--scenario", "rich", "--experiment", &name, "--run-name", run, "--no-log-model"]);
        }
        // A tag a workspace sets itself, so may not be set by a copy.
        src.python_eval(&format!(
            "from mlflow import MlflowClient\nc = MlflowClient()\n\
             c.set_experiment_tag(c.get_experiment_by_name({name:?}).experiment_id, {NOTEBOOK_TAG:?}, 'NOTEBOOK')"
        ));
        let runs = src.dump_experiment(&name).as_object().unwrap().clone().into_iter().collect();
        (name, runs)
    })
}

/// A workspace in front of the shared local-root server, its artifacts in the shared moto.
fn workspace(options: FakeOptions) -> DatabricksFake {
    DatabricksFake::start(&MlflowServer::shared(ArtifactMode::LocalRoot).url, moto::shared(), options)
}

/// `[{path, size, sha256}]` of one run's files where the workspace stores them, byte for byte:
/// in moto, read with boto3 (each encrypted as the write credential asked), or in azurite, read
/// with azure-storage-blob (each a block blob carrying the metadata its credential asked for).
fn files_in_store(ws: &DatabricksFake, run_id: &str) -> Value {
    files_under(ws, &ws.key(run_id, ""), true)
}

/// [`files_in_store`] of every file under key `prefix`; on Azure, `metadata` says whether
/// each blob carries the metadata a workspace's write credential asks for.
fn files_under(ws: &DatabricksFake, prefix: &str, metadata: bool) -> Value {
    let (code, env) = if ws.on_azure() {
        let az = azurite::shared();
        let (name, value) = test_support::databricks::AZURE_METADATA;
        let name = name.trim_start_matches("x-ms-meta-");
        let code = format!(
            "import hashlib, json\n\
             from azure.storage.blob import BlobServiceClient\n\
             c = BlobServiceClient.from_connection_string({cs:?}).get_container_client({container:?})\n\
             out = []\n\
             for b in c.list_blobs(name_starts_with={prefix:?}, include=['metadata']):\n\
             \x20   body = c.download_blob(b.name).readall()\n\
             \x20   assert b.blob_type == 'BlockBlob' and (b.metadata == {{{name:?}: {value:?}}}) == {metadata}, (b.name, b.blob_type, b.metadata)\n\
             \x20   out.append({{'path': b.name[len({prefix:?}):], 'size': len(body), 'sha256': hashlib.sha256(body).hexdigest()}})\n\
             print(json.dumps(sorted(out, key=lambda f: f['path'])))",
            cs = az.connection_string,
            container = az.container,
            metadata = if metadata { "True" } else { "False" },
        );
        (code, az.env())
    } else {
        let m = moto::shared();
        let code = format!(
            "import boto3, hashlib, json\n\
             s3 = boto3.client('s3')\n\
             out = []\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket={bucket:?}, Prefix={prefix:?}):\n\
             \x20   for o in page.get('Contents', []):\n\
             \x20       body = s3.get_object(Bucket={bucket:?}, Key=o['Key'])['Body'].read()\n\
             \x20       head = s3.head_object(Bucket={bucket:?}, Key=o['Key'])\n\
             \x20       assert head.get('ServerSideEncryption') == 'AES256', (o['Key'], head)\n\
             \x20       out.append({{'path': o['Key'][len({prefix:?}):], 'size': len(body), 'sha256': hashlib.sha256(body).hexdigest()}})\n\
             print(json.dumps(sorted(out, key=lambda f: f['path'])))",
            bucket = m.bucket
        );
        (code, m.env())
    };
    serde_json::from_str(&test_support::python_eval_env(&code, &env)).unwrap()
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run_ok(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    cli::succeeded(args, cli::run(args, env))
}

/// `copy-model` of model `from` at `src_uri` into `to` at `dst_uri`.
fn copy_model<'a>(src_uri: &'a str, dst_uri: &'a str, from: &'a str, to: &'a str) -> Vec<&'a str> {
    vec!["copy-model", "--src-uri", src_uri, "--dst-uri", dst_uri, "--src-model", from, "--dst-model", to]
}

/// A fresh Unity Catalog model name, `main.default.<prefix>_<unique>`.
fn uc_model_name(prefix: &str) -> String {
    format!("main.default.{}", unique_name(prefix).replace('-', "_"))
}

/// `copy-experiment` of experiment `from` at `src_uri` into `to` at `dst_uri`, keeping users.
fn copy_experiment<'a>(src_uri: &'a str, dst_uri: &'a str, from: &'a str, to: &'a str) -> Vec<&'a str> {
    let sides = ["--src-uri", src_uri, "--dst-uri", dst_uri];
    let names = ["--src-experiment", from, "--dst-experiment-name", to, "--use-src-user-id"];
    [&["copy-experiment"][..], &sides, &names].concat()
}

/// Copies the source into `ws` as `ws_name`, then out to the shared local-root server as
/// `back_name`, asserting fields, bytes and that a second run creates nothing. `to_ws` and
/// `from_ws` are the environments of each copy; `dst_uri`/`src_uri` name the workspace.
fn round_trip(ws: &DatabricksFake, ws_uri: &str, to_ws: &[(&str, &str)], from_ws: &[(&str, &str)]) -> Vec<String> {
    let (src_name, src_runs) = source();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let back = MlflowServer::shared(ArtifactMode::LocalRoot);
    // A folder the workspace lacks: made before the experiment.
    let ws_name = format!("/Users/{}/{}/experiment", test_support::databricks::USER, unique_name("dbx"));
    let back_name = unique_name("dbx-back");
    let mut said = Vec::new();
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let into = [copy_experiment(&src.url, ws_uri, src_name, &ws_name), vec!["--report", path(&report)]].concat();
    let out_of = copy_experiment(ws_uri, &back.url, &ws_name, &back_name);
    for pass in 0..2 {
        for (args, env) in [(&into[..], to_ws), (&out_of[..], from_ws)] {
            let out = run_ok(args, env);
            let err = stderr(&out);
            if pass == 1 {
                assert!(err.contains(" 0 created, 0 resumed"), "a second copy creates nothing: {err}");
            }
            said.push(format!("{}{err}", String::from_utf8_lossy(&out.stdout)));
        }
        // The report of the copy into the workspace names the tags it refused.
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        assert_eq!(r["experiments"][0]["tags_refused"], json!([NOTEBOOK_TAG]), "{r}");
        let created = r["runs"].as_array().unwrap().iter().filter(|run| run["action"] == "created");
        assert!(created.clone().all(|run| run["tags_refused"] == json!(["mlflow.user"])), "{r}");
        assert_eq!(created.count(), if pass == 0 { src_runs.len() } else { 0 });
    }
    // The refused experiment tag is kept aside in the workspace and back in place outside it.
    let (in_ws, out) = (experiment_tags(back, &ws_name), experiment_tags(back, &back_name));
    assert_eq!((in_ws.get(NOTEBOOK_TAG), &in_ws[format!("{REFUSED}{NOTEBOOK_TAG}")]), (None, &Value::from("NOTEBOOK")));
    assert_eq!(out[NOTEBOOK_TAG], "NOTEBOOK", "{out}");
    // The workspace side: fields through the MLflow server behind the fake (the official
    // client cannot speak the fake's artifact routes), bytes from moto.
    let ws_runs = by_source(back.dump_experiment(&ws_name));
    let back_runs = by_source(back.dump_experiment(&back_name));
    assert_eq!(ws_runs.len(), src_runs.len());
    assert_eq!(back_runs.len(), src_runs.len());
    for (src_id, original) in src_runs {
        let in_ws = &ws_runs[src_id];
        let ws_id = in_ws["info"]["run_id"].as_str().unwrap();
        // The workspace's copy holds everything but the user tag and the user, the caller's
        // there: both are kept aside.
        let mut expected = original.clone();
        expected["artifacts"] = in_ws["artifacts"].clone();
        expected["info"]["user_id"] = test_support::databricks::USER.into();
        let user = expected["tags"].as_object_mut().unwrap().remove("mlflow.user").expect("the seed sets mlflow.user");
        assert_eq!(in_ws["tags"][format!("{REFUSED}mlflow.user")], user);
        assert_eq!(in_ws["tags"]["mlflow_export_import.refused_field.user_id"], original["info"]["user_id"]);
        assert_runs_equal(&expected, in_ws);
        assert_eq!(files_in_store(ws, ws_id), original["artifacts"], "files of {src_id} in the workspace");
        let files = original["artifacts"].as_array().unwrap();
        assert!(
            files.iter().any(|f| f["size"] == 0)
                && files.iter().any(|f| f["path"].as_str().unwrap().contains("/level2/"))
        );
        // Out again: everything, files included, read back with the official client.
        assert_runs_equal(original, &back_runs[ws_id]);
    }
    // Reads ask for credentials once per run, not once per file.
    let reads = ws.counts().read_credentials.load(Ordering::Relaxed);
    assert_eq!(reads, src_runs.len() as u64, "credentials-for-read calls");
    assert_eq!(ws.violations(), Vec::<String>::new());
    said
}

#[test]
fn copy_into_a_workspace_and_back_with_a_personal_access_token() {
    let ws = workspace(FakeOptions {
        tokens: vec![PAT.into()],
        // One throttled credentials call: honoured, not a failure.
        throttle: Some(("credentials-for-write".into(), 1)),
        ..FakeOptions::default()
    });
    let said = round_trip(
        &ws,
        "databricks",
        &[("DST_DATABRICKS_HOST", &ws.url), ("DST_DATABRICKS_TOKEN", PAT)],
        &[("SRC_DATABRICKS_HOST", &ws.url), ("SRC_DATABRICKS_TOKEN", PAT)],
    );
    assert!(ws.counts().throttled.load(Ordering::Relaxed) >= 2, "the 429 was met");
    assert!(said.iter().all(|s| !s.contains(PAT)), "the token is never printed");
}

/// `[{path, size, sha256}]` of one logged model's files in moto, read with boto3.
fn model_files_in_moto(ws: &DatabricksFake, model_id: &str) -> Value {
    let m = moto::shared();
    let code = format!(
        "import boto3, hashlib, json\n\
         s3 = boto3.client('s3')\n\
         out = []\n\
         for page in s3.get_paginator('list_objects_v2').paginate(Bucket={bucket:?}, Prefix={prefix:?}):\n\
         \x20   for o in page.get('Contents', []):\n\
         \x20       body = s3.get_object(Bucket={bucket:?}, Key=o['Key'])['Body'].read()\n\
         \x20       out.append({{'path': o['Key'][len({prefix:?}):], 'size': len(body), 'sha256': hashlib.sha256(body).hexdigest()}})\n\
         print(json.dumps(sorted(out, key=lambda f: f['path'])))",
        bucket = m.bucket,
        prefix = ws.model_key(model_id, "")
    );
    serde_json::from_str(&test_support::python_eval_env(&code, &m.env())).unwrap()
}

/// MLflow 3 logged models into a workspace and back: their files go up and come down through
/// the logged-model credentials routes (`credentials-for-upload`/`-download`, `paths` plural),
/// listed with `artifacts/directories`, never the open-source download route. In the workspace
/// each model's files are the source's byte for byte (in moto, under the model's
/// `logged_models/<id>/artifacts` root); out again, each model equals its source: files, params,
/// tags, metrics with their datasets and runs, and the runs' links to the models.
#[test]
fn logged_models_copy_into_a_workspace_and_back_through_their_credentials_routes() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let upstream = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = crate::logged_models::seeded();
    let source = crate::logged_models::dump(src, name);
    let ws_name = format!("/Users/{}/{}", test_support::databricks::USER, unique_name("dbx-models"));
    let back_name = unique_name("dbx-models-back");
    let to_ws = [("DST_DATABRICKS_HOST", ws.url.as_str()), ("DST_DATABRICKS_TOKEN", PAT)];
    let from_ws = [("SRC_DATABRICKS_HOST", ws.url.as_str()), ("SRC_DATABRICKS_TOKEN", PAT)];
    // `MLmodel` kept as it is, so that every byte can be compared.
    let keep = ["--use-src-user-id", "--mlmodel-fix", "false", "-q"];
    let into = ["copy-experiment", "--src-uri", &src.url, "--dst-uri", "databricks", "--src-experiment", name];
    run_ok(&[&into[..], &["--dst-experiment-name", &ws_name], &keep].concat(), &to_ws);

    let in_ws = crate::logged_models::dump(upstream, &ws_name);
    let models = source["models"].as_object().unwrap();
    assert_eq!(in_ws["ids"].as_object().unwrap().len(), models.len(), "{in_ws}");
    for (model, id) in in_ws["ids"].as_object().unwrap() {
        let files = model_files_in_moto(&ws, id.as_str().unwrap());
        assert_eq!(files, models[model]["files"], "{model}'s files in the workspace");
        assert!(!files.as_array().unwrap().is_empty(), "{model} has files");
    }

    let out_of = ["copy-experiment", "--src-uri", "databricks", "--dst-uri", &upstream.url, "--src-experiment"];
    run_ok(&[&out_of[..], &[&ws_name, "--dst-experiment-name", &back_name], &keep].concat(), &from_ws);
    let mut back = crate::logged_models::dump(upstream, &back_name);
    for (model, dumped) in back["models"].as_object_mut().unwrap() {
        let tags = dumped["tags"].as_object_mut().unwrap();
        tags.retain(|k, _| !k.starts_with("mlflow_export_import."));
        assert_eq!(*dumped, models[model], "{model} out of the workspace");
    }
    assert_eq!(back["models"].as_object().unwrap().len(), models.len());
    assert_eq!(back["runs"], source["runs"], "the runs' links to the models");
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// A new experiment `name` at `src` of one finished run whose one file, `model/weights.bin`,
/// holds 9 MiB and a byte of random data; returns the run's id.
fn big_file_run(src: &MlflowServer, name: &str) -> String {
    let out = src.python_eval(&format!(
        "import os, tempfile\nfrom mlflow import MlflowClient\nc = MlflowClient()\n\
         run = c.create_run(c.create_experiment({name:?}))\n\
         d = tempfile.mkdtemp()\n\
         open(os.path.join(d, 'weights.bin'), 'wb').write(os.urandom(9 * 1024 * 1024 + 1))\n\
         c.log_artifacts(run.info.run_id, d, 'model')\n\
         c.set_terminated(run.info.run_id)\n\
         print(run.info.run_id)"
    ));
    out.trim().lines().last().expect("the run id").trim().to_string()
}

/// A file at or above MLflow's multipart threshold goes into a workspace on S3 in parts
/// (`create-multipart-upload`, a presigned `PUT` per part, `complete-multipart-upload`), with
/// MLflow's own settings: 9 MiB and a byte, parts of 5 MiB above 6 MiB, is one object of two
/// parts in moto, SSE-S3 and byte for byte, and copies back out equal. A part size S3 would
/// refuse is refused in one line naming the setting.
#[test]
fn a_large_file_goes_into_a_workspace_on_s3_in_parts() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let upstream = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = unique_name("dbx-multipart");
    let run = big_file_run(src, &name);
    let ws_name = format!("/Users/{}/{name}", test_support::databricks::USER);
    let env = [
        ("DST_DATABRICKS_HOST", ws.url.as_str()),
        ("DST_DATABRICKS_TOKEN", PAT),
        ("MLFLOW_MULTIPART_UPLOAD_MINIMUM_FILE_SIZE", "6291456"),
        ("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "5242880"),
    ];
    let args = ["copy-experiment", "--src-uri", &src.url, "--dst-uri", "databricks", "--src-experiment", &name];
    run_ok(&[&args[..], &["--dst-experiment-name", &ws_name, "-q"]].concat(), &env);
    let created = ws.counts().multipart_created.load(Ordering::Relaxed);
    let completed = ws.counts().multipart_completed.load(Ordering::Relaxed);
    assert_eq!((created, completed), (1, 1), "one multipart upload");
    let original = &src.dump_experiment(&name)[run.as_str()];
    let in_ws = by_source(upstream.dump_experiment(&ws_name));
    let ws_id = in_ws[run.as_str()]["info"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(files_in_store(&ws, &ws_id), original["artifacts"], "the file in moto, byte for byte");
    let m = moto::shared();
    let etag = test_support::python_eval_env(
        &format!(
            "import boto3\nprint(boto3.client('s3').head_object(Bucket={:?}, Key={:?})['ETag'])",
            m.bucket,
            ws.key(&ws_id, "model/weights.bin")
        ),
        &m.env(),
    );
    assert!(etag.trim().ends_with("-2\""), "an object of two parts: {etag}");
    let back_name = unique_name("dbx-multipart-back");
    let from_ws = [("SRC_DATABRICKS_HOST", ws.url.as_str()), ("SRC_DATABRICKS_TOKEN", PAT)];
    let out = ["copy-experiment", "--src-uri", "databricks", "--dst-uri", &upstream.url, "--src-experiment"];
    run_ok(&[&out[..], &[&ws_name, "--dst-experiment-name", &back_name, "-q"]].concat(), &from_ws);
    let back = by_source(upstream.dump_experiment(&back_name));
    assert_eq!(back[&ws_id]["artifacts"], original["artifacts"], "out of the workspace");

    let mut refused = env;
    refused[3] = ("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE", "1000");
    let other = format!("{ws_name}-small-parts");
    let failed = cli::run(&[&args[..], &["--dst-experiment-name", &other, "-q"]].concat(), &refused);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains("MLFLOW_MULTIPART_UPLOAD_CHUNK_SIZE=1000: S3 takes parts of 5 MiB"),
        "{}",
        stderr(&failed)
    );
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// Workspaces on Azure: credentials are SAS URLs into azurite. Through Blob SAS URLs every
/// file goes up as blocks and a block list (the 0-byte file as an empty list) carrying the
/// credential's metadata header; through ADLS Gen2 SAS URLs (the fake's own DFS endpoint) as a
/// create, appends at their positions and a flush, never with the workspace's token. Files
/// come down with a plain GET. A file of three blocks arrives whole and copies back out equal.
#[test]
fn copy_into_workspaces_on_azure_blob_and_adls_and_back() {
    for adls in [false, true] {
        copy_into_a_workspace_on_azure_and_back(adls);
    }
}

fn copy_into_a_workspace_on_azure_and_back(adls: bool) {
    let ws = DatabricksFake::start_azure(
        &MlflowServer::shared(ArtifactMode::LocalRoot).url,
        azurite::shared(),
        FakeOptions { tokens: vec![PAT.into()], adls, ..FakeOptions::default() },
    );
    let (to_ws, from_ws) = (
        [("DST_DATABRICKS_HOST", ws.url.as_str()), ("DST_DATABRICKS_TOKEN", PAT)],
        [("SRC_DATABRICKS_HOST", ws.url.as_str()), ("SRC_DATABRICKS_TOKEN", PAT)],
    );
    round_trip(&ws, "databricks", &to_ws, &from_ws);

    // Two blocks of 4 MiB and one of 1 MiB and a byte.
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let name = unique_name("dbx-azure-blocks");
    let run = big_file_run(src, &name);
    let run = run.as_str();
    let ws_name = format!("/Users/{}/{name}", test_support::databricks::USER);
    let args = ["copy-experiment", "--src-uri", &src.url, "--dst-uri", "databricks", "--src-experiment", &name];
    run_ok(&[&args[..], &["--dst-experiment-name", &ws_name, "-q"]].concat(), &to_ws);
    let original = &src.dump_experiment(&name)[run];
    let back = MlflowServer::shared(ArtifactMode::LocalRoot);
    let in_ws = by_source(back.dump_experiment(&ws_name));
    let copy = in_ws.get(run).unwrap_or_else(|| panic!("no copy of {run:?}: {:?}", in_ws.keys()));
    let ws_id = copy["info"]["run_id"].as_str().unwrap();
    assert_eq!(files_in_store(&ws, ws_id), original["artifacts"], "the 9 MiB file in azurite");
    let az = azurite::shared();
    // Through ADLS the fake itself puts the flushed file into azurite: its blocks are not ours.
    let blocks = (!adls).then(|| {
        test_support::python_eval_env(
            &format!(
                "from azure.storage.blob import BlobServiceClient\n\
             b = BlobServiceClient.from_connection_string({cs:?}).get_blob_client({container:?}, {blob:?})\n\
             print([blk.size for blk in b.get_block_list('committed')[0]])",
                cs = az.connection_string,
                container = az.container,
                blob = ws.key(ws_id, "model/weights.bin")
            ),
            &az.env(),
        )
    });
    if let Some(blocks) = blocks {
        assert_eq!(blocks.trim(), "[4194304, 4194304, 1048577]");
    }
    let back_name = unique_name("dbx-azure-back");
    let args = ["copy-experiment", "--src-uri", "databricks", "--dst-uri", &back.url, "--src-experiment", &ws_name];
    run_ok(&[&args[..], &["--dst-experiment-name", &back_name, "-q"]].concat(), &from_ws);
    let out = by_source(back.dump_experiment(&back_name));
    assert_eq!(out[ws_id]["artifacts"], original["artifacts"], "the 9 MiB file out of the workspace");
    assert_eq!(ws.violations(), Vec::<String>::new());
}

#[test]
fn copy_with_oauth_tokens_that_expire_mid_job_from_a_profile() {
    let ws = workspace(FakeOptions {
        client: Some((CLIENT_ID.into(), CLIENT_SECRET.into())),
        expires_in: 2,
        revoke_first_token: true,
        ..FakeOptions::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("databrickscfg");
    std::fs::write(
        &cfg,
        format!(
            "[DEFAULT]\nhost = http://127.0.0.1:9\ntoken = unused\n\n[ws]\nhost = {}\nclient_id = {CLIENT_ID}\n\
             client_secret = {CLIENT_SECRET}\nauth_type = oauth-m2m\n",
            ws.url
        ),
    )
    .unwrap();
    let cfg_env = [("DATABRICKS_CONFIG_FILE", path(&cfg))];
    let said = round_trip(&ws, "databricks://ws", &cfg_env, &cfg_env);
    let issued = ws.counts().tokens_issued.load(Ordering::Relaxed);
    // Four jobs, each longer than a token's life: every job asks again before expiry.
    assert!(issued > 4, "tokens refreshed mid-job: {issued} issued");
    let refused = ws.counts().expired_refused.load(Ordering::Relaxed);
    assert!(refused >= 1, "the revoked first token was refused, and replaced");
    assert!(said.iter().all(|s| !s.contains(CLIENT_SECRET)), "the secret is never printed");

    // The environment's client credentials, with a wrong secret: one clear line, and no secret
    // even in the most verbose log.
    let report = dir.path().join("report.json");
    let wrong = "wrong-secret-5555";
    let out = cli::run(
        &[
            "copy-experiment",
            "--src-uri",
            "databricks",
            "--dst-uri",
            &MlflowServer::shared(ArtifactMode::LocalRoot).url,
            "--src-experiment",
            "/Users/me@example.com/anything",
            "--dst-experiment-name",
            &unique_name("dbx-never"),
            "--report",
            path(&report),
            "-vvv",
        ],
        &[
            ("SRC_DATABRICKS_HOST", &ws.url),
            ("SRC_DATABRICKS_CLIENT_ID", CLIENT_ID),
            ("SRC_DATABRICKS_CLIENT_SECRET", wrong),
        ],
    );
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line says why: {err}");
    assert!(lines[0].contains("invalid_client"), "{err}");
    assert!(lines[0].contains("authentication failed") && lines[0].contains(CLIENT_ID), "{err}");
    let report = std::fs::read_to_string(&report).unwrap_or_default();
    for text in [&err, &String::from_utf8_lossy(&out.stdout).into_owned(), &report] {
        assert!(!text.contains(wrong) && !text.contains(CLIENT_SECRET), "{text}");
    }
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// Principals of the permission tests: Bob is known to the source workspace only, Robert to
/// the destination only.
const ANN: &str = "ann@example.com";
const BOB: &str = "bob@example.com";
const ROBERT: &str = "robert@example.com";

/// Two workspaces behind one token that know Ann, the `data-team` group and the workspace's own
/// principals; the first knows Bob, the second Robert.
fn principals_workspaces() -> (DatabricksFake, DatabricksFake) {
    let knowing = |person: &str| FakeOptions {
        tokens: vec![PAT.into()],
        principals: [ANN, person, test_support::databricks::USER, test_support::databricks::ADMINS, "data-team"]
            .map(str::to_string)
            .to_vec(),
        ..FakeOptions::default()
    };
    (workspace(knowing(BOB)), workspace(knowing(ROBERT)))
}

#[test]
fn experiment_permissions_move_between_workspaces_naming_a_principal_the_destination_lacks() {
    let (from, to) = principals_workspaces();
    let server = MlflowServer::shared(ArtifactMode::LocalRoot);
    let home = format!("/Users/{}", test_support::databricks::USER);
    let name = format!("{home}/{}", unique_name("perm-src"));
    let id = server
        .python_eval(&format!("from mlflow import MlflowClient\nprint(MlflowClient().create_experiment({name:?}))"));
    let id = id.trim();
    from.grant(id, "user_name", ANN, "CAN_EDIT");
    from.grant(id, "user_name", BOB, "CAN_READ");
    from.grant(id, "group_name", "data-team", "CAN_MANAGE");
    let src_env = [("DATABRICKS_HOST", from.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
    let dst_env = [("DATABRICKS_HOST", to.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
    // The destination experiment's id, from a job's report.
    let id_of = |report: &std::path::Path| -> String {
        let r: Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        r["experiments"][0]["destination"].as_str().unwrap().to_string()
    };

    // Exported into experiment.json as the Python tool writes it, the inherited grant included.
    let dir = tempfile::tempdir().unwrap();
    let (out, report) = (dir.path().join("out"), dir.path().join("report.json"));
    let export =
        ["export-experiment", "--tracking-uri", "databricks", "--experiment", &name, "--output-dir", path(&out)];
    run_ok(&[&export[..], &["--export-permissions"]].concat(), &src_env);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(out.join("experiment.json")).unwrap()).unwrap();
    let acl = written["mlflow"]["permissions"]["permissions"]["access_control_list"].as_array().unwrap();
    assert_eq!(acl.len(), 4, "{acl:?}");
    assert_eq!(written["mlflow"]["permissions"]["permission_levels"].as_array().unwrap().len(), 3);

    // Imported where Bob is unknown: the others' grants are set, Bob's refusal fails the job
    // and names him; the inherited grant is not made direct.
    let dst_name = format!("{home}/{}", unique_name("perm-dst"));
    let import = [
        "import-experiment",
        "--tracking-uri",
        "databricks",
        "--input-dir",
        path(&out),
        "--experiment-name",
        &dst_name,
        "--import-permissions",
        "--report",
        path(&report),
    ];
    let failed = cli::run(&import, &dst_env);
    assert!(!failed.status.success());
    assert!(
        stderr(&failed).contains(BOB) && stderr(&failed).contains("--principal-rename-file"),
        "{}",
        stderr(&failed)
    );
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let set = &r["experiments"][0]["permissions"];
    assert_eq!(set["applied"], json!(["data-team: CAN_MANAGE", format!("{ANN}: CAN_EDIT")]), "{r}");
    assert_eq!(set["refused"].as_array().unwrap().len(), 1, "{r}");
    let dst_id = id_of(&report);
    assert_eq!(to.direct_grants(&dst_id), [format!("{ANN}: CAN_EDIT"), "data-team: CAN_MANAGE".into()]);

    // Bob mapped to Robert: the re-run finishes, adding only his grant.
    let map = dir.path().join("principals.csv");
    std::fs::write(&map, format!("{BOB},{ROBERT}\n")).unwrap();
    run_ok(&[&import[..], &["--principal-rename-file", path(&map)]].concat(), &dst_env);
    let expected = [format!("{ANN}: CAN_EDIT"), "data-team: CAN_MANAGE".into(), format!("{ROBERT}: CAN_READ")];
    assert_eq!(to.direct_grants(&dst_id), expected);

    // Straight from one workspace to the other, each with its own host and token.
    let copy_name = format!("{home}/{}", unique_name("perm-copy"));
    let copy = [
        "copy-experiment",
        "--src-uri",
        "databricks",
        "--dst-uri",
        "databricks",
        "--src-experiment",
        &name,
        "--dst-experiment-name",
        &copy_name,
        "--copy-permissions",
        "--principal-rename-file",
        path(&map),
        "--report",
        path(&report),
    ];
    let sides = [
        ("SRC_DATABRICKS_HOST", from.url.as_str()),
        ("SRC_DATABRICKS_TOKEN", PAT),
        ("DST_DATABRICKS_HOST", to.url.as_str()),
        ("DST_DATABRICKS_TOKEN", PAT),
    ];
    run_ok(&copy, &sides);
    assert_eq!(to.direct_grants(&id_of(&report)), expected);

    // Where permissions cannot go, one line says so before anything is written.
    let refused = cli::fails(
        &[
            "import-experiment",
            "--tracking-uri",
            &server.url,
            "--input-dir",
            path(&out),
            "--experiment-name",
            "x",
            "--import-permissions",
        ],
        &[],
    );
    assert!(refused.contains("only a Databricks workspace has"), "{refused}");
    assert_eq!((from.violations(), to.violations()), (Vec::<String>::new(), Vec::<String>::new()));
}

/// A workspace registry model's access control list moves as an experiment's does: exported
/// into `model.json` where the Python tool puts it, set one principal at a time on import
/// (a principal the destination lacks fails the model by name until mapped), and copied
/// straight between two workspaces.
/// A model's permissions moved from workspace `from` (which grants Ann, Bob and the data team)
/// to `to` (which knows Robert, not Bob), for a registry at `uri`.
struct Moved {
    uri: &'static str,
    /// The model's names at `to`: imported, then copied.
    names: [String; 2],
    /// Its direct grants there after the first import (Bob refused), sorted.
    first: [String; 2],
    /// And once Bob is mapped to Robert.
    all: [String; 3],
}

impl Moved {
    /// Imports export `out` of model `name` into `to` with `--import-permissions`: Bob's
    /// refusal fails the model and names him, the others' grants are set, and the report lists
    /// them; mapped to Robert, the re-run adds his grant; then a copy straight from `from`
    /// gives the same. `grants` reads a model's direct grants at `to`.
    fn check(
        &self,
        from: &DatabricksFake,
        to: &DatabricksFake,
        name: &str,
        out: &std::path::Path,
        runs: &str,
        grants: impl Fn(&str) -> Vec<String>,
    ) {
        let dst_env = [("DATABRICKS_HOST", to.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        let [dst_name, copy_name] = &self.names;
        let import = ["import-model", "--tracking-uri", self.uri, "--input-dir", path(out), "--model", dst_name];
        let import =
            [&import[..], &["--experiment-name", runs, "--import-permissions", "--report", path(&report)]].concat();
        let failed = cli::run(&import, &dst_env);
        let err = stderr(&failed);
        assert!(!failed.status.success() && err.contains(BOB) && err.contains("--principal-rename-file"), "{err}");
        let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
        let set = &r["models"][0]["permissions"];
        let mut applied: Vec<String> = serde_json::from_value(set["applied"].clone()).unwrap();
        applied.sort();
        assert_eq!(applied, self.first, "{r}");
        assert_eq!(set["refused"].as_array().unwrap().len(), 1, "{r}");
        assert_eq!(grants(dst_name), self.first);

        let map = dir.path().join("principals.csv");
        std::fs::write(&map, format!("{BOB},{ROBERT}\n")).unwrap();
        run_ok(&[&import[..], &["--principal-rename-file", path(&map)]].concat(), &dst_env);
        assert_eq!(grants(dst_name), self.all);

        // Straight from one workspace to the other, each with its own host and token.
        let sides = [
            ("SRC_DATABRICKS_HOST", from.url.as_str()),
            ("SRC_DATABRICKS_TOKEN", PAT),
            ("DST_DATABRICKS_HOST", to.url.as_str()),
            ("DST_DATABRICKS_TOKEN", PAT),
        ];
        let options = ["--dst-experiment-name", runs, "--copy-permissions", "--principal-rename-file", path(&map)];
        run_ok(&[copy_model(self.uri, self.uri, name, copy_name), options.to_vec()].concat(), &sides);
        assert_eq!(grants(copy_name), self.all);
    }
}

#[test]
fn model_permissions_move_between_workspaces_naming_a_principal_the_destination_lacks() {
    let (from, to) = principals_workspaces();
    let server = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = unique_name("perm-model");
    server.python_eval(&format!(
        "from mlflow import MlflowClient\nMlflowClient().create_registered_model({name:?}, description='acl')"
    ));
    from.grant_model(&name, "user_name", ANN, "CAN_MANAGE_STAGING_VERSIONS");
    from.grant_model(&name, "user_name", BOB, "CAN_READ");
    from.grant_model(&name, "group_name", "data-team", "CAN_MANAGE");
    let src_env = [("DATABRICKS_HOST", from.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
    let runs = format!("/Users/{}/{}/runs", test_support::databricks::USER, unique_name("perm-model"));

    // Exported into model.json beside the model's other fields, the inherited grant included.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let export = ["export-model", "--tracking-uri", "databricks", "--model", &name, "--output-dir", path(&out)];
    run_ok(&[&export[..], &["--export-permissions"]].concat(), &src_env);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    let permissions = &written["mlflow"]["registered_model"]["permissions"];
    assert_eq!(permissions["permissions"]["access_control_list"].as_array().unwrap().len(), 4, "{permissions}");
    assert_eq!(permissions["permission_levels"].as_array().unwrap().len(), 5, "{permissions}");

    // Imported where Bob is unknown, mapped, and copied straight: the inherited grant is not
    // made direct.
    let ann = format!("{ANN}: CAN_MANAGE_STAGING_VERSIONS");
    let moved = Moved {
        uri: "databricks",
        names: [unique_name("perm-model-dst"), unique_name("perm-model-copy")],
        first: [ann.clone(), "data-team: CAN_MANAGE".into()],
        all: [ann, "data-team: CAN_MANAGE".into(), format!("{ROBERT}: CAN_READ")],
    };
    moved.check(&from, &to, &name, &out, &runs, |model| to.model_grants(model));

    // An open-source server has no access control lists: one line says so, nothing is written.
    let refused = cli::fails(
        &["export-model", "--tracking-uri", &server.url, "--model", &name, "--output-dir", path(&dir.path().join("x"))]
            .into_iter()
            .chain(["--export-permissions"])
            .collect::<Vec<_>>(),
        &[],
    );
    assert!(refused.contains("only a Databricks workspace has"), "{refused}");
    assert!(!dir.path().join("x").exists(), "nothing written");
    assert_eq!((from.violations(), to.violations()), (Vec::<String>::new(), Vec::<String>::new()));
}

/// The tags of every run of experiment `name` at `server`, read with the official client.
fn run_tags(server: &MlflowServer, name: &str) -> Vec<Value> {
    let code = format!(
        "import json\nfrom mlflow import MlflowClient\nc = MlflowClient()\n\
         e = c.get_experiment_by_name({name:?})\n\
         print(json.dumps([r.data.tags for r in c.search_runs([e.experiment_id])]))"
    );
    serde_json::from_str(&server.python_eval(&code)).unwrap()
}

#[test]
fn a_runs_notebook_is_exported_in_every_format_and_imported_into_a_folder_it_is_pointed_at() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let env = [("DATABRICKS_HOST", ws.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
    let behind = MlflowServer::shared(ArtifactMode::LocalRoot);
    let home = format!("/Users/{}/{}", test_support::databricks::USER, unique_name("nb"));
    let notebook = format!("{home}/train");
    let source = b"// Databricks notebook source\nprintln(\"trained\")\n";
    ws.put_notebook(&notebook, "SCALA", source);
    // Two runs logged from notebooks, as a workspace tags them; the second's notebook is gone.
    let code = format!(
        "from mlflow import MlflowClient\nc = MlflowClient()\ne = c.create_experiment({exp:?})\n\
         for nb in [{notebook:?}, {gone:?}]:\n\
         \x20   tags = {{'mlflow.databricks.notebookPath': nb, 'mlflow.databricks.notebookRevisionID': '1700000000000',\n\
         \x20           'mlflow.source.name': nb, 'mlflow.source.type': 'NOTEBOOK'}}\n\
         \x20   print(c.create_run(e, tags=tags).info.run_id)",
        exp = format!("{home}/experiment"),
        gone = format!("{home}/deleted"),
    );
    let ids: Vec<String> = behind.python_eval(&code).lines().map(str::to_string).collect();
    let dir = tempfile::tempdir().unwrap();
    let (out, gone_out) = (dir.path().join("run"), dir.path().join("gone"));
    for (id, to) in [(&ids[0], &out), (&ids[1], &gone_out)] {
        let args = ["export-run", "--tracking-uri", "databricks", "--run-id", id, "--output-dir", path(to)];
        let said = stderr(&run_ok(&[&args[..], &["--notebook-formats", "source,HTML,Jupyter,DBC"]].concat(), &env));
        if to == &gone_out {
            assert!(said.contains(&format!("notebook: none exported: {home}/deleted no longer exists")), "{said}");
        }
    }
    let notebooks = out.join("artifacts/notebooks");
    for format in ["SOURCE", "HTML", "JUPYTER", "DBC"] {
        let file = notebooks.join(format!("train.{}", format.to_lowercase()));
        assert_eq!(std::fs::read(&file).unwrap(), ws.exported(&notebook, format).unwrap(), "{format}");
    }
    let manifest: Value = serde_json::from_slice(&std::fs::read(notebooks.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest,
        json!({"mlflow.databricks.notebookPath": notebook, "mlflow.databricks.notebookRevisionID": "1700000000000",
            "formats": ["SOURCE", "HTML", "JUPYTER", "DBC"], "language": "SCALA"})
    );
    assert!(!gone_out.join("artifacts/notebooks").exists());
    // The notebook on its own, as download-notebook writes it.
    let alone = dir.path().join("alone");
    let args = [
        "download-notebook",
        "--tracking-uri",
        "databricks",
        "--notebook",
        &notebook,
        "--output-dir",
        path(&alone),
        "--notebook-formats",
        "html,source",
    ];
    run_ok(&args, &env);
    for format in ["SOURCE", "HTML"] {
        let file = alone.join(format!("train.{}", format.to_lowercase()));
        assert_eq!(std::fs::read(&file).unwrap(), ws.exported(&notebook, format).unwrap(), "{format}");
    }

    // Into the workspace: the notebook lands in the folder, and the run names it there.
    let imported = format!("{home}/imported");
    let folder = format!("{home}/copies/notebooks");
    let args = [
        "import-run",
        "--tracking-uri",
        "databricks",
        "--input-dir",
        path(&out),
        "--experiment-name",
        &imported,
        "--dst-notebook-dir",
        &folder,
    ];
    let first = stderr(&run_ok(&args, &env));
    let moved = format!("{folder}/train");
    assert!(first.contains(&format!("notebook: {notebook} imported as {moved}")), "{first}");
    let expected = test_support::databricks::FakeNotebook { language: "SCALA".into(), source: source.to_vec() };
    assert_eq!(ws.notebook(&moved), Some(expected));
    let tags = run_tags(behind, &imported);
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (&tags[0]["mlflow.databricks.notebookPath"], &tags[0]["mlflow.source.name"]),
        (&moved.clone().into(), &moved.into())
    );
    // Again: nothing created, nothing imported twice.
    let again = stderr(&run_ok(&args, &env));
    assert!(again.contains(" 0 created, 0 resumed"), "{again}");
    assert_eq!(ws.counts().notebook_imports.load(Ordering::Relaxed), 1);
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// A copy into a workspace interrupted after a run was created (its completion mark not yet
/// written, a file not yet uploaded) is finished in place by the re-run: the workspace records
/// its own user on the run, not the source's, and that must not make the half-made copy look
/// like someone else's run to be made again.
#[test]
fn an_interrupted_copy_into_a_workspace_is_resumed_in_place() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let (src_name, src_runs) = source();
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let upstream = MlflowServer::shared(ArtifactMode::LocalRoot);
    let ws_name = format!("/Users/{}/{}/experiment", test_support::databricks::USER, unique_name("dbx-resume"));
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let args = [copy_experiment(&src.url, "databricks", src_name, &ws_name), vec!["--report", path(&report)]].concat();
    let env = [("DST_DATABRICKS_HOST", ws.url.as_str()), ("DST_DATABRICKS_TOKEN", PAT)];
    run_ok(&args, &env);

    // Interrupt one copy after the fact: its completion mark and its last file are gone, as
    // when the job was killed between the upload of its files and its mark.
    let copies = by_source(upstream.dump_experiment(&ws_name));
    let (src_id, copy) = copies.iter().next().unwrap();
    let ws_id = copy["info"]["run_id"].as_str().unwrap().to_string();
    assert_eq!(copy["info"]["user_id"], test_support::databricks::USER, "the workspace's user, not the source's");
    let last = src_runs[src_id]["artifacts"].as_array().unwrap().last().unwrap()["path"].as_str().unwrap().to_string();
    upstream.python_eval(&format!(
        "from mlflow import MlflowClient\nMlflowClient().delete_tag({ws_id:?}, 'mlflow_export_import.complete')"
    ));
    let m = moto::shared();
    test_support::python_eval_env(
        &format!(
            "import boto3\nboto3.client('s3').delete_object(Bucket={:?}, Key={:?})",
            m.bucket,
            ws.key(&ws_id, &last)
        ),
        &m.env(),
    );
    assert_ne!(files_in_store(&ws, &ws_id), src_runs[src_id]["artifacts"], "the file is gone");

    let out = run_ok(&args, &env);
    let err = stderr(&out);
    assert!(err.contains(" 0 created, 1 resumed"), "the copy is finished, not made again: {err}");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let resumed: Vec<_> = r["runs"].as_array().unwrap().iter().filter(|run| run["action"] == "resumed").collect();
    assert_eq!(resumed.len(), 1, "{r}");
    assert_eq!(resumed[0]["destination"], ws_id.as_str(), "{r}");

    // The same run, whole again: its mark, every field and every byte.
    let after = by_source(upstream.dump_experiment(&ws_name));
    assert_eq!(after.len(), src_runs.len(), "no run added or removed");
    assert_eq!(after[src_id]["info"]["run_id"], ws_id.as_str());
    assert_eq!(files_in_store(&ws, &ws_id), src_runs[src_id]["artifacts"], "the missing file was uploaded");
    let mut expected = src_runs[src_id].clone();
    expected["artifacts"] = after[src_id]["artifacts"].clone();
    expected["info"]["user_id"] = test_support::databricks::USER.into();
    let user = expected["tags"].as_object_mut().unwrap().remove("mlflow.user").expect("the seed sets mlflow.user");
    assert_eq!(after[src_id]["tags"][format!("{REFUSED}mlflow.user")], user);
    assert_runs_equal(&expected, &after[src_id]);
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// `[{version, run_id, source}]` of model `name` at `server`, read with the official client
/// (without its files: a workspace's `dbfs:` sources are read through the workspace only).
fn versions_of(server: &MlflowServer, name: &str) -> Vec<Value> {
    let code = format!(
        "import json\nfrom mlflow import MlflowClient\n\
         vs = MlflowClient().search_model_versions(\"name='{name}'\")\n\
         print(json.dumps(sorted([{{'version': v.version, 'run_id': v.run_id, 'source': v.source, 'stage': v.current_stage}} for v in vs], key=lambda v: int(v['version']))))"
    );
    serde_json::from_str(&server.python_eval(&code)).unwrap()
}

/// A registered model copied into a workspace's registry and out again to an open-source
/// server keeps its versions under their numbers (the gap included), stages, aliases, tags,
/// descriptions and files; each version's run is a copy of a copy of its source run; a second
/// pass creates nothing.
#[test]
fn a_registered_model_copies_into_a_workspace_registry_and_back() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let (src, back) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    // The second seeded model: five versions from runs, version 3 deleted, no logged model.
    let name = crate::models::seed_models(src)[1].clone();
    let (ws_model, back_model) = (unique_name("dbx-model"), unique_name("dbx-model-back"));
    let ws_experiment = format!("/Users/{}/{}/model-runs", test_support::databricks::USER, unique_name("dbx"));
    let into = [
        copy_model(&src.url, "databricks", &name, &ws_model),
        vec!["--dst-experiment-name", &ws_experiment, "--use-src-user-id"],
    ]
    .concat();
    let out_of = [copy_model("databricks", &back.url, &ws_model, &back_model), vec!["--use-src-user-id"]].concat();
    let env = [
        ("DST_DATABRICKS_HOST", ws.url.as_str()),
        ("DST_DATABRICKS_TOKEN", PAT),
        ("SRC_DATABRICKS_HOST", ws.url.as_str()),
        ("SRC_DATABRICKS_TOKEN", PAT),
    ];
    for pass in 0..2 {
        for args in [&into[..], &out_of[..]] {
            let err = stderr(&run_ok(args, &env));
            if pass == 1 {
                assert!(err.contains("versions 0 created") && err.contains(" 0 created, 0 resumed"), "{err}");
            }
        }
    }
    // Out again: every field and file of every version, read with the official client.
    let (a, b) = (src.dump_model(&name), back.dump_model(&back_model));
    for field in ["description", "tags", "aliases"] {
        assert_eq!(b[field], a[field], "{field}");
    }
    let (va, vb) = (a["versions"].as_array().unwrap(), b["versions"].as_array().unwrap());
    assert_eq!(va.len(), 4, "versions 1, 2, 4 and 5");
    assert_eq!(vb.len(), va.len());
    let in_ws = versions_of(back, &ws_model);
    assert_eq!(in_ws.len(), va.len(), "{in_ws:?}");
    for ((x, y), w) in va.iter().zip(vb).zip(&in_ws) {
        let what = format!("v{}", x["version"]);
        for field in ["version", "current_stage", "description", "status", "files"] {
            assert_eq!(y[field], x[field], "{what}: {field}");
        }
        assert_eq!(w["version"], x["version"], "{what}: its number in the workspace");
        assert_eq!(w["stage"], x["current_stage"], "{what}: its stage in the workspace");
        assert!(w["source"].as_str().unwrap().starts_with("dbfs:/databricks/mlflow-tracking/"), "{what}: {w}");
        let own = |v: &Value| {
            let mut tags = v["tags"].as_object().unwrap().clone();
            tags.retain(|k, _| !k.starts_with("mlflow_export_import."));
            tags
        };
        assert_eq!(own(y), own(x), "{what}: tags");
        // The run behind it: a copy (out) of the copy (in the workspace) of the source's run.
        let ws_run = crate::models::source_runs_of(back, &[y["run_id"].as_str().unwrap()]).remove(0);
        assert_eq!(ws_run, w["run_id"].as_str().unwrap(), "{what}: run out of the workspace");
        let src_run = crate::models::source_runs_of(back, &[&ws_run]).remove(0);
        assert_eq!(src_run, x["run_id"].as_str().unwrap(), "{what}: run in the workspace");
    }
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// The Unity Catalog versions of `name` as the registry behind the workspace holds them, read
/// with the official client: number, run, source, tags and the model's aliases.
fn uc_versions(server: &MlflowServer, name: &str) -> Value {
    let code = format!(
        "import json\nfrom mlflow import MlflowClient\nc = MlflowClient()\n\
         vs = [c.get_model_version({name:?}, v.version) for v in c.search_model_versions(\"name='{name}'\")]\n\
         print(json.dumps({{'aliases': dict(c.get_registered_model({name:?}).aliases), 'versions': sorted([{{'version': v.version, 'run_id': v.run_id, 'source': v.source, 'tags': v.tags, 'description': v.description}} for v in vs], key=lambda v: int(v['version']))}}))"
    );
    serde_json::from_str(&server.python_eval(&code)).unwrap()
}

/// A registered model copied into a workspace's Unity Catalog registry (`databricks-uc`): each
/// version is created pending, its files written into its own storage location with the
/// version's temporary S3 credential (encrypted as the credential asks) and finalized; stages,
/// which Unity Catalog has not, become tags and (`--stages-as-aliases`) aliases; aliases,
/// tags and descriptions are kept; a second pass creates nothing. Copied out again, the model
/// is as its source was. Read back with the official client (the registry behind) and boto3
/// (the storage), byte for byte.
#[test]
fn a_registered_model_copies_into_unity_catalog_and_out_again() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let m = moto::shared();
    unity_catalog_round_trip(&ws, &[("DST_MLFLOW_S3_ENDPOINT_URL", m.endpoint_url.as_str())], 0);
}

/// The same on an Azure workspace: each version's storage is an ADLS Gen2 folder, written
/// with the version's SAS (here a container SAS of azurite, reached through the endpoint of the
/// connection string of the same account).
#[test]
fn a_registered_model_copies_into_unity_catalog_on_azure_and_out_again() {
    let ws = DatabricksFake::start_azure(
        &MlflowServer::shared(ArtifactMode::LocalRoot).url,
        azurite::shared(),
        FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() },
    );
    let az = azurite::shared();
    unity_catalog_round_trip(&ws, &[("DST_AZURE_STORAGE_CONNECTION_STRING", az.connection_string.as_str())], 1);
}

/// The same in a workspace whose Unity Catalog keeps versions in its default storage: each
/// file through a presigned URL for its `/Models/...` path (`fs/create-upload-url`).
#[test]
fn a_registered_model_copies_into_unity_catalog_default_storage_and_out_again() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], uc_default_storage: true, ..FakeOptions::default() });
    unity_catalog_round_trip(&ws, &[], 1);
}

/// Copies seeded model `model` into `ws`'s Unity Catalog (`storage_env`: how this machine
/// reaches its storage) and out again; see the tests above. Each seeded model has five
/// versions from runs, version 3 deleted; the first also a sixth from an MLflow 3 logged model.
fn unity_catalog_round_trip(ws: &DatabricksFake, storage_env: &[(&str, &str)], model: usize) {
    let (src, behind) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let name = crate::models::seed_models(src)[model].clone();
    let uc_name = uc_model_name("uc");
    let experiment = format!("/Users/{}/{}/uc-runs", test_support::databricks::USER, unique_name("dbx"));
    let args = [
        copy_model(&src.url, "databricks-uc", &name, &uc_name),
        vec!["--dst-experiment-name", &experiment, "--stages-as-aliases", "--use-src-user-id"],
    ]
    .concat();
    let env = [&[("DST_DATABRICKS_HOST", ws.url.as_str()), ("DST_DATABRICKS_TOKEN", PAT)], storage_env].concat();
    run_ok(&args, &env);
    let err = stderr(&run_ok(&args, &env));
    assert!(err.contains("versions 0 created") && err.contains(" 0 created, 0 resumed"), "{err}");
    let a = src.dump_model(&name);
    let va = a["versions"].as_array().unwrap();
    let live = va.len() as u64;
    let counts = ws.counts();
    assert_eq!(counts.uc_created.load(Ordering::Relaxed), live, "one version each, made once");
    assert_eq!(counts.uc_finalized.load(Ordering::Relaxed), live);
    assert_eq!(counts.uc_write_credentials.load(Ordering::Relaxed), live);
    assert_eq!(ws.uc_pending(), Vec::<(String, String)>::new());

    let uc = uc_versions(behind, &uc_name);
    let vu = uc["versions"].as_array().unwrap();
    assert_eq!(vu.len(), va.len(), "{uc}");
    // A logged model's `MLmodel` names its own run and model (`--mlmodel-fix`), so its bytes
    // differ from the source's; its size does not.
    let files = |version: &Value, files: &Value| {
        let logged = version["source"].as_str().is_some_and(|s| s.starts_with("models:/"));
        let mut files = files.clone();
        for f in files.as_array_mut().into_iter().flatten().filter(|f| logged && f["path"] == "MLmodel") {
            f["sha256"] = Value::Null;
        }
        files
    };
    let mut expected_aliases = serde_json::Map::new();
    for (x, u) in va.iter().zip(vu) {
        let (src_version, uc_version) = (x["version"].as_str().unwrap(), u["version"].as_str().unwrap());
        let what = format!("v{src_version} (Unity Catalog v{uc_version})");
        assert_eq!(u["description"], x["description"], "{what}");
        let tags = u["tags"].as_object().unwrap();
        for (k, v) in x["tags"].as_object().unwrap() {
            assert_eq!(tags.get(k), Some(v), "{what}: tag {k}");
        }
        assert_eq!(tags["mlflow_export_import.source.model"], json!(name), "{what}");
        assert_eq!(tags["mlflow_export_import.source.version"], json!(src_version), "{what}");
        let stage = x["current_stage"].as_str().unwrap();
        assert_eq!(
            tags.get("mlflow_export_import.refused_field.current_stage").and_then(Value::as_str),
            (stage != "None").then_some(stage),
            "{what}: its stage"
        );
        if stage != "None" {
            expected_aliases.insert(stage.to_ascii_lowercase(), json!(uc_version));
        }
        for (alias, v) in a["aliases"].as_object().unwrap() {
            if v.as_str() == Some(src_version) {
                expected_aliases.insert(alias.clone(), json!(uc_version));
            }
        }
        let source = u["source"].as_str().unwrap();
        assert!(
            source.starts_with("dbfs:/databricks/mlflow-tracking/") || source.starts_with("models:/m-"),
            "{what}: {u}"
        );
        // The version's own storage holds its model's files, byte for byte.
        let stored = files_under(ws, &ws.uc_key(&uc_name, uc_version, ""), false);
        assert_eq!(files(x, &stored), files(x, &x["files"]), "{what}: files");
    }
    assert_eq!(uc["aliases"], Value::Object(expected_aliases), "aliases: the source's and one per stage");

    // Out of Unity Catalog to an open-source registry: the model is as its source was, stages
    // back and the aliases made of them gone; the numbers are Unity Catalog's.
    let back_name = unique_name("uc-back");
    let out_of = [copy_model("databricks-uc", &behind.url, &uc_name, &back_name), vec!["--use-src-user-id"]].concat();
    let env = [("SRC_DATABRICKS_HOST", ws.url.as_str()), ("SRC_DATABRICKS_TOKEN", PAT)];
    run_ok(&out_of, &env);
    let b = behind.dump_model(&back_name);
    let vb = b["versions"].as_array().unwrap();
    assert_eq!(vb.len(), va.len(), "{b}");
    let position = |versions: &[Value], v: &Value| versions.iter().position(|x| x["version"] == *v);
    let aliases = |m: &Value, versions: &[Value]| -> Vec<(String, Option<usize>)> {
        m["aliases"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), position(versions, v))).collect()
    };
    assert_eq!(aliases(&b, vb), aliases(&a, va), "aliases, by the versions they name");
    for field in ["description", "tags"] {
        assert_eq!(b[field], a[field], "{field}");
    }
    for (x, y) in va.iter().zip(vb) {
        let what = format!("v{} (back as v{})", x["version"], y["version"]);
        for field in ["current_stage", "description", "status"] {
            assert_eq!(y[field], x[field], "{what}: {field}");
        }
        assert_eq!(files(x, &y["files"]), files(x, &x["files"]), "{what}: files");
        let own = |v: &Value| {
            let mut tags = v["tags"].as_object().unwrap().clone();
            tags.retain(|k, _| !k.starts_with("mlflow_export_import."));
            tags
        };
        assert_eq!(own(y), own(x), "{what}: tags");
    }
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// Databricks' upgrade of a workspace-registry model to Unity Catalog, one version at a time
/// (`copy-model-version` between `databricks` and `databricks-uc` of one workspace): each new
/// version points at the run of the version it copies, which is not copied, and holds its
/// files in its own storage; a second pass creates nothing. Then the bulk way:
/// `export-models` and `import-models --model-rename-file` to a three-level name.
#[test]
fn workspace_registry_versions_upgrade_to_unity_catalog_in_place() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let (src, behind) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let name = crate::models::seed_models(src)[2].clone();
    let ws_model = unique_name("ws-model");
    let experiment = format!("/Users/{}/{}/registry-runs", test_support::databricks::USER, unique_name("dbx"));
    let m = moto::shared();
    let env = [
        ("DATABRICKS_HOST", ws.url.as_str()),
        ("DATABRICKS_TOKEN", PAT),
        ("DST_DATABRICKS_HOST", ws.url.as_str()),
        ("DST_DATABRICKS_TOKEN", PAT),
        ("SRC_DATABRICKS_HOST", ws.url.as_str()),
        ("SRC_DATABRICKS_TOKEN", PAT),
        ("DST_MLFLOW_S3_ENDPOINT_URL", m.endpoint_url.as_str()),
        ("MLFLOW_S3_ENDPOINT_URL", m.endpoint_url.as_str()),
    ];
    let into_registry =
        [copy_model(&src.url, "databricks", &name, &ws_model), vec!["--dst-experiment-name", &experiment]].concat();
    run_ok(&into_registry, &env);
    let in_ws = versions_of(behind, &ws_model);
    assert_eq!(in_ws.len(), 4, "{in_ws:?}");
    let uc_name = uc_model_name("upgraded");
    for pass in 0..2 {
        for w in &in_ws {
            let version = w["version"].as_str().unwrap();
            let args = [
                "copy-model-version",
                "--src-registry-uri",
                "databricks",
                "--dst-registry-uri",
                "databricks-uc",
                "--src-model",
                &ws_model,
                "--src-version",
                version,
                "--dst-model",
                &uc_name,
                "--copy-stages-and-aliases",
            ];
            let err = stderr(&run_ok(&args, &env));
            if pass == 1 {
                assert!(err.contains("versions 0 created"), "{err}");
            }
        }
    }
    assert_eq!(ws.counts().uc_finalized.load(Ordering::Relaxed), 4, "each version made once");
    let a = src.dump_model(&name);
    let uc = uc_versions(behind, &uc_name);
    let vu = uc["versions"].as_array().unwrap();
    assert_eq!(vu.len(), 4, "{uc}");
    for ((w, u), x) in in_ws.iter().zip(vu).zip(a["versions"].as_array().unwrap()) {
        let what = format!("workspace v{} (Unity Catalog v{})", w["version"], u["version"]);
        assert_eq!(u["run_id"], w["run_id"], "{what}: the same run, not a copy");
        assert_eq!(u["source"], w["source"], "{what}: the same files as source");
        assert_eq!(u["tags"]["mlflow_export_import.source.model"], json!(ws_model), "{what}");
        assert_eq!(u["tags"]["mlflow_export_import.source.version"], w["version"], "{what}");
        let stage = w["stage"].as_str().unwrap();
        let kept = u["tags"].get("mlflow_export_import.refused_field.current_stage").and_then(Value::as_str);
        assert_eq!(kept, (stage != "None").then_some(stage), "{what}: its stage");
        let uc_version = u["version"].as_str().unwrap();
        assert_eq!(files_under(&ws, &ws.uc_key(&uc_name, uc_version, ""), false), x["files"], "{what}: files");
    }

    // The bulk way of the upgrade guide: export-models from the workspace registry, then
    // import-models into Unity Catalog, renaming the model to three levels (and its runs'
    // experiment, so that the imported runs do not join the originals).
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("export");
    run_ok(&["export-models", "--tracking-uri", "databricks", "--models", &ws_model, "--output-dir", path(&out)], &env);
    let bulk_name = uc_model_name("bulk");
    let (models_csv, experiments_csv) = (dir.path().join("models.csv"), dir.path().join("experiments.csv"));
    std::fs::write(&models_csv, format!("{ws_model},{bulk_name}\n")).unwrap();
    std::fs::write(&experiments_csv, format!("{experiment},{experiment}-uc\n")).unwrap();
    let import = [
        "import-models",
        "--tracking-uri",
        "databricks-uc",
        "--input-dir",
        path(&out),
        "--model-rename-file",
        path(&models_csv),
        "--experiment-rename-file",
        path(&experiments_csv),
    ];
    run_ok(&import, &env);
    let bulk = uc_versions(behind, &bulk_name);
    let vb = bulk["versions"].as_array().unwrap();
    assert_eq!(vb.len(), 4, "{bulk}");
    for ((w, b), x) in in_ws.iter().zip(vb).zip(a["versions"].as_array().unwrap()) {
        let what = format!("workspace v{} (imported as Unity Catalog v{})", w["version"], b["version"]);
        assert_ne!(b["run_id"], w["run_id"], "{what}: an imported copy of the run");
        let bulk_version = b["version"].as_str().unwrap();
        assert_eq!(files_under(&ws, &ws.uc_key(&bulk_name, bulk_version, ""), false), x["files"], "{what}: files");
    }
    assert_eq!(ws.uc_pending(), Vec::<(String, String)>::new());
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// No Unity Catalog version is left pending: one whose storage takes a credential the tool
/// cannot write with (a GCP token) fails its model naming the kind and is deleted, and a
/// copy an interrupted job left unfinalized (made here by hand, as the tool would have) is
/// deleted and made again by the next job.
#[test]
fn a_unity_catalog_version_is_never_left_pending() {
    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let behind = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = crate::models::seed_models(src)[1].clone();
    let m = moto::shared();
    let copy = |ws: &DatabricksFake, uc_name: &str| {
        let experiment = format!("/Users/{}/{}/uc-runs", test_support::databricks::USER, unique_name("dbx"));
        let args = [copy_model(&src.url, "databricks-uc", &name, uc_name), vec!["--dst-experiment-name", &experiment]]
            .concat();
        let env = [
            ("DST_DATABRICKS_HOST", ws.url.as_str()),
            ("DST_DATABRICKS_TOKEN", PAT),
            ("DST_MLFLOW_S3_ENDPOINT_URL", m.endpoint_url.as_str()),
        ];
        cli::run(&args, &env)
    };

    let gcp = workspace(FakeOptions { tokens: vec![PAT.into()], uc_gcp: true, ..FakeOptions::default() });
    let refused = uc_model_name("uc");
    let out = copy(&gcp, &refused);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("a GCP OAuth token"), "{err}");
    assert!(gcp.counts().uc_created.load(Ordering::Relaxed) >= 1, "a version was created");
    assert_eq!(gcp.uc_pending(), Vec::<(String, String)>::new(), "and deleted");
    assert_eq!(uc_versions(behind, &refused)["versions"], json!([]));
    assert_eq!(gcp.violations(), Vec::<String>::new());

    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let resumed = uc_model_name("uc");
    let code = format!(
        "import json, requests\n\
         h = {{'Authorization': 'Bearer {PAT}'}}\n\
         u = {url:?} + '/api/2.0/mlflow/unity-catalog/'\n\
         requests.post(u + 'registered-models/create', json={{'name': {resumed:?}}}, headers=h).raise_for_status()\n\
         tags = [{{'key': 'mlflow_export_import.source.model', 'value': {name:?}}}, {{'key': 'mlflow_export_import.source.version', 'value': '1'}}]\n\
         r = requests.post(u + 'model-versions/create', json={{'name': {resumed:?}, 'source': 's3://elsewhere/model', 'tags': tags}}, headers=h)\n\
         r.raise_for_status()\n\
         print(json.dumps(r.json()['model_version']))",
        url = ws.url
    );
    let left: Value = serde_json::from_str(&test_support::python_eval(&code)).unwrap();
    assert_eq!(left["status"], "PENDING_REGISTRATION", "{left}");
    assert_eq!(ws.uc_pending().len(), 1);
    let out = copy(&ws, &resumed);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(ws.uc_pending(), Vec::<(String, String)>::new());
    assert_eq!(ws.counts().uc_finalized.load(Ordering::Relaxed), 4);
    let versions = uc_versions(behind, &resumed)["versions"].clone();
    let numbers: Vec<&str> = versions.as_array().unwrap().iter().map(|v| v["version"].as_str().unwrap()).collect();
    assert_eq!(numbers, ["2", "3", "4", "5"], "the unfinished version 1 deleted, four made: {versions}");
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// Unity Catalog grants of a registered model (`--export-permissions`, `--import-permissions`,
/// `--copy-permissions` with `databricks-uc`): exported in the Python tool's layout (direct
/// and effective grants), imported as the direct ones only (the schema's inherited grant is
/// not made direct), one principal at a time so that one the destination lacks fails alone and
/// is named, mapped on the re-run; a workspace registry's list is refused for a Unity Catalog
/// model in one line.
#[test]
fn unity_catalog_grants_move_between_workspaces_naming_a_principal_the_destination_lacks() {
    let (from, to) = principals_workspaces();
    let server = MlflowServer::shared(ArtifactMode::LocalRoot);
    let name = uc_model_name("uc_perm");
    server.python_eval(&format!(
        "from mlflow import MlflowClient\nMlflowClient().create_registered_model({name:?}, description='grants')"
    ));
    from.grant_uc(&name, ANN, &["APPLY_TAG", "EXECUTE"]);
    from.grant_uc(&name, BOB, &["EXECUTE"]);
    from.grant_uc(&name, "data-team", &["ALL_PRIVILEGES"]);
    let src_env = [("DATABRICKS_HOST", from.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
    let dst_env = [("DATABRICKS_HOST", to.url.as_str()), ("DATABRICKS_TOKEN", PAT)];
    let runs = format!("/Users/{}/{}/runs", test_support::databricks::USER, unique_name("uc-perm"));

    // Exported beside the model's other fields: every page of both lists.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let export = ["export-model", "--tracking-uri", "databricks-uc", "--model", &name, "--output-dir", path(&out)];
    run_ok(&[&export[..], &["--export-permissions"]].concat(), &src_env);
    let written: Value = serde_json::from_str(&std::fs::read_to_string(out.join("model.json")).unwrap()).unwrap();
    let permissions = &written["mlflow"]["registered_model"]["permissions"];
    let count = |list: &str| permissions[list]["privilege_assignments"].as_array().map(Vec::len);
    assert_eq!((count("permissions"), count("effective_permissions")), (Some(3), Some(4)), "{permissions}");

    // Imported where Bob is unknown, mapped, and copied straight: the admins' inherited
    // EXECUTE is not made direct.
    let ann = format!("{ANN}: APPLY_TAG, EXECUTE");
    let moved = Moved {
        uri: "databricks-uc",
        names: [uc_model_name("uc_perm_dst"), uc_model_name("uc_perm_copy")],
        first: [ann.clone(), "data-team: ALL_PRIVILEGES".into()],
        all: [ann, "data-team: ALL_PRIVILEGES".into(), format!("{ROBERT}: EXECUTE")],
    };
    moved.check(&from, &to, &name, &out, &runs, |model| to.uc_grants(model));

    // Into a workspace registry, whose permissions are access control lists: refused by name.
    let ws_name = unique_name("uc-perm-ws");
    let into_ws = ["import-model", "--tracking-uri", "databricks", "--input-dir", path(&out), "--model", &ws_name];
    let refused = cli::fails(&[&into_ws[..], &["--experiment-name", &runs, "--import-permissions"]].concat(), &dst_env);
    assert!(refused.contains("Unity Catalog grants"), "{refused}");
    assert_eq!(to.model_grants(&ws_name), Vec::<String>::new());
    assert_eq!((from.violations(), to.violations()), (Vec::<String>::new(), Vec::<String>::new()));
}

/// Runs copied into a workspace experiment whose artifact location is a Unity Catalog volume
/// (`dbfs:/Volumes/...`) have their files written through the Files API (every listing page
/// followed), byte for byte in the workspace's storage; copied out again, each run is its
/// source's, files included; a second pass creates nothing.
#[test]
fn runs_copy_into_an_experiment_in_a_unity_catalog_volume_and_out_again() {
    let ws = workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() });
    let (src_name, src_runs) = source();
    let (src, behind) = (MlflowServer::shared(ArtifactMode::Proxy), MlflowServer::shared(ArtifactMode::LocalRoot));
    let folder = format!("/Volumes/main/default/vol/{}", unique_name("exp"));
    let ws_name = format!("/Users/{}/{}", test_support::databricks::USER, unique_name("dbx-volume"));
    behind.python_eval(&format!(
        "from mlflow import MlflowClient\nMlflowClient().create_experiment({ws_name:?}, artifact_location='dbfs:{folder}')"
    ));
    let back_name = unique_name("dbx-volume-back");
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let into = [copy_experiment(&src.url, "databricks", src_name, &ws_name), vec!["--report", path(&report)]].concat();
    let out_of = copy_experiment("databricks", &behind.url, &ws_name, &back_name);
    let env = [
        ("DST_DATABRICKS_HOST", ws.url.as_str()),
        ("DST_DATABRICKS_TOKEN", PAT),
        ("SRC_DATABRICKS_HOST", ws.url.as_str()),
        ("SRC_DATABRICKS_TOKEN", PAT),
    ];
    run_ok(&into, &env);
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let runs = r["runs"].as_array().unwrap();
    assert_eq!(runs.len(), src_runs.len(), "{r}");
    run_ok(&out_of, &env);
    for args in [&into[..], &out_of[..]] {
        let err = stderr(&run_ok(args, &env));
        assert!(err.contains(" 0 created, 0 resumed"), "a second copy creates nothing: {err}");
    }
    let back_runs = by_source(behind.dump_experiment(&back_name));
    assert_eq!(back_runs.len(), src_runs.len());
    for run in runs {
        let (src_id, ws_id) = (run["source_run_id"].as_str().unwrap(), run["destination"].as_str().unwrap());
        let files = files_under(&ws, &ws.volume_key(&folder, &format!("{ws_id}/artifacts/")), true);
        assert_eq!(files, src_runs[src_id]["artifacts"], "files of {src_id} in the volume");
        // Out again: everything, files included, read back with the official client.
        assert_runs_equal(&src_runs[src_id], &back_runs[ws_id]);
    }
    assert_eq!(ws.violations(), Vec::<String>::new());
}

/// Notebooks in a copy between workspaces (`copy-experiment --dst-notebook-dir`): each run's
/// notebook is read from the source workspace (SOURCE) and put into the destination folder, and
/// the copy's tags name it there; a second copy imports nothing; a source that is not a
/// workspace is refused in one line.
#[test]
fn a_copy_between_workspaces_carries_each_runs_notebook_into_a_folder() {
    let (from, to) = (
        workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() }),
        workspace(FakeOptions { tokens: vec![PAT.into()], ..FakeOptions::default() }),
    );
    let behind = MlflowServer::shared(ArtifactMode::LocalRoot);
    let home = format!("/Users/{}/{}", test_support::databricks::USER, unique_name("nb-copy"));
    let notebook = format!("{home}/train");
    let source = b"# Databricks notebook source\nprint('trained')\n";
    from.put_notebook(&notebook, "PYTHON", source);
    let experiment = format!("{home}/experiment");
    let code = format!(
        "from mlflow import MlflowClient\nc = MlflowClient()\ne = c.create_experiment({experiment:?})\n\
         tags = {{'mlflow.databricks.notebookPath': {notebook:?}, 'mlflow.source.name': {notebook:?}, 'mlflow.source.type': 'NOTEBOOK'}}\n\
         print(c.create_run(e, tags=tags).info.run_id)"
    );
    behind.python_eval(&code);
    let (copies, folder) = (format!("{home}/copies"), format!("{home}/carried"));
    let args = [
        "copy-experiment",
        "--src-uri",
        "databricks",
        "--dst-uri",
        "databricks",
        "--src-experiment",
        &experiment,
        "--dst-experiment-name",
        &copies,
        "--dst-notebook-dir",
        &folder,
    ];
    let env = [
        ("SRC_DATABRICKS_HOST", from.url.as_str()),
        ("SRC_DATABRICKS_TOKEN", PAT),
        ("DST_DATABRICKS_HOST", to.url.as_str()),
        ("DST_DATABRICKS_TOKEN", PAT),
    ];
    let moved = format!("{folder}/train");
    let first = stderr(&run_ok(&args, &env));
    assert!(first.contains(&format!("notebook: {notebook} imported as {moved}")), "{first}");
    let carried = to.notebook(&moved).expect("the notebook in the destination folder");
    assert_eq!((carried.language.as_str(), carried.source.as_slice()), ("PYTHON", &source[..]));
    let tags = run_tags(behind, &copies);
    assert_eq!(tags.len(), 1);
    assert_eq!(
        (&tags[0]["mlflow.databricks.notebookPath"], &tags[0]["mlflow.source.name"]),
        (&json!(moved), &json!(moved))
    );
    let again = stderr(&run_ok(&args, &env));
    assert!(again.contains(" 0 created, 0 resumed"), "{again}");
    assert_eq!(to.counts().notebook_imports.load(Ordering::Relaxed), 1, "imported once");

    let src = MlflowServer::shared(ArtifactMode::Proxy);
    let refused = cli::fails(
        &["copy-experiment", "--src-uri", &src.url, "--dst-uri", "databricks", "--src-experiment", "x"]
            .into_iter()
            .chain(["--dst-experiment-name", &copies, "--dst-notebook-dir", &folder])
            .collect::<Vec<_>>(),
        &env,
    );
    assert!(refused.contains("--dst-notebook-dir: the source is not a Databricks workspace"), "{refused}");
    assert_eq!((from.violations(), to.violations()), (Vec::<String>::new(), Vec::<String>::new()));
}
