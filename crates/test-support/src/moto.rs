//! A local S3: `moto_server` from the venv (PyPI `moto[server]`) on `127.0.0.1:<free port>`,
//! state in memory, dummy credentials `testing`/`testing` accepted everywhere.

use std::sync::OnceLock;
use std::time::Duration;

use crate::process::{free_port, fresh_temp_dir, http_status, panic_message, Launch, Service};
use crate::venv;

/// Access key id and secret of [`Moto`] (any value works; these are the conventional ones).
pub const MOTO_ACCESS_KEY: &str = "testing";
/// Region clients sign for.
pub const MOTO_REGION: &str = "us-east-1";

/// A running moto S3 server with one bucket made at start.
#[derive(Debug)]
pub struct Moto {
    pub port: u16,
    /// `http://127.0.0.1:PORT`
    pub endpoint_url: String,
    /// The bucket made at start (`mlflow-eim`); servers share it under distinct prefixes.
    pub bucket: String,
    service: Service,
}

impl Moto {
    /// Starts `moto_server` and creates [`Moto::bucket`]; panics with the log when it does not
    /// answer within 30 s.
    pub fn start() -> Moto {
        let moto_server = venv().join("bin").join("moto_server");
        if !moto_server.exists() {
            panic!("no moto_server at {}: run scripts/setup-venv.sh (or set MLFLOW_EIM_VENV)", moto_server.display());
        }
        let mut last = String::new();
        for _ in 0..3 {
            let dir = fresh_temp_dir("moto");
            let port = free_port();
            let log_path = dir.join("moto.log");
            let port_s = port.to_string();
            let mut service = Service::spawn(Launch {
                name: "moto_server",
                program: moto_server.as_os_str(),
                args: ["-H", "127.0.0.1", "-p", &port_s].into_iter().map(std::ffi::OsStr::new).collect(),
                env: vec![],
                log_path: &log_path,
                remove_dir: Some(&dir),
                stop_signal: None,
                cwd: Some(&dir),
            });
            match service.wait_ready(Duration::from_secs(30), || http_status(port, "GET", "/") == Some(200)) {
                Ok(()) => {
                    let moto = Moto {
                        port,
                        endpoint_url: format!("http://127.0.0.1:{port}"),
                        bucket: "mlflow-eim".into(),
                        service,
                    };
                    moto.create_bucket(&moto.bucket);
                    return moto;
                }
                Err(msg) => last = msg,
            }
        }
        panic!("{last}")
    }

    /// Creates a bucket (3–63 characters: lowercase letters, digits, `-`). Creating one that
    /// exists is a no-op.
    pub fn create_bucket(&self, name: &str) {
        assert!(
            (3..=63).contains(&name.len())
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "bucket name {name:?}"
        );
        // moto takes unsigned path-style requests: a plain PUT /<bucket> is CreateBucket.
        match http_status(self.port, "PUT", &format!("/{name}")) {
            Some(200) | Some(409) => {}
            other => panic!("create bucket {name} on moto: {other:?}; log:\n{}", self.service.log_tail(3000)),
        }
    }

    /// What a client (boto3, the MLflow client and server, `object_store`'s `from_env`) needs to
    /// reach this S3: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_DEFAULT_REGION`,
    /// `MLFLOW_S3_ENDPOINT_URL`, `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP=true`,
    /// `AWS_EC2_METADATA_DISABLED=true`.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", MOTO_ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", MOTO_ACCESS_KEY),
            ("AWS_DEFAULT_REGION", MOTO_REGION),
            ("MLFLOW_S3_ENDPOINT_URL", &self.endpoint_url),
            ("AWS_ENDPOINT_URL", &self.endpoint_url),
            ("AWS_ALLOW_HTTP", "true"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    }

    /// `s3://<bucket>/<prefix>`
    pub fn uri(&self, prefix: &str) -> String {
        format!("s3://{}/{}", self.bucket, prefix.trim_start_matches('/'))
    }

    /// Every key under `prefix` in `bucket` with its size, sorted (read with boto3).
    pub fn list(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let code = format!(
            "import boto3, json\n\
             s3 = boto3.client('s3')\n\
             out = []\n\
             for page in s3.get_paginator('list_objects_v2').paginate(Bucket={bucket:?}, Prefix={prefix:?}):\n\
             \x20   out += [[o['Key'], o['Size']] for o in page.get('Contents', [])]\n\
             print(json.dumps(sorted(out)))"
        );
        let v: serde_json::Value = serde_json::from_str(&crate::python_eval_env(&code, &self.env())).expect("JSON");
        v.as_array()
            .expect("list")
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_u64().unwrap()))
            .collect()
    }

    /// The last `max_bytes` of moto's log.
    pub fn log_tail(&self, max_bytes: usize) -> String {
        self.service.log_tail(max_bytes)
    }
}

/// The moto server of this test binary, started on first use, stopped when the process exits.
/// Tests isolate themselves by prefix (or by bucket, [`Moto::create_bucket`]).
pub fn shared() -> &'static Moto {
    static MOTO: OnceLock<Result<Moto, String>> = OnceLock::new();
    match MOTO.get_or_init(|| std::panic::catch_unwind(Moto::start).map_err(|e| panic_message(&*e))) {
        Ok(m) => m,
        Err(msg) => panic!("shared moto server failed to start: {msg}"),
    }
}
