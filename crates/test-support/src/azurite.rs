//! A local Azure Blob store: `azurite-blob` (npm `azurite`, installed by `.ci/run`) on
//! `127.0.0.1:<free port>`, data in a temp dir, the well-known development account
//! `devstoreaccount1`.

use std::sync::OnceLock;
use std::time::Duration;

use crate::process::{free_port, fresh_temp_dir, http_status, panic_message, which, Launch, Service};

/// Azurite's development account.
pub const AZURITE_ACCOUNT: &str = "devstoreaccount1";
/// Its well-known key.
pub const AZURITE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running azurite blob service with one container made at start.
#[derive(Debug)]
pub struct Azurite {
    pub port: u16,
    /// `http://127.0.0.1:PORT/devstoreaccount1`
    pub blob_endpoint: String,
    /// `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=…;BlobEndpoint=<blob_endpoint>;`
    pub connection_string: String,
    /// The container made at start (`mlflow`); servers share it under distinct prefixes.
    pub container: String,
    service: Service,
}

impl Azurite {
    /// Starts `azurite-blob` and creates [`Azurite::container`]. Panics with an install hint
    /// when `azurite-blob` is not on `PATH`.
    pub fn start() -> Azurite {
        let program = which("azurite-blob").unwrap_or_else(|| {
            panic!("azurite-blob is not on PATH: install it with `npm install -g azurite@3.35.0` (.ci/run does it)")
        });
        let mut last = String::new();
        for _ in 0..3 {
            let dir = fresh_temp_dir("azurite");
            let data = dir.join("data");
            std::fs::create_dir_all(&data).expect("create azurite data dir");
            let port = free_port();
            let log_path = dir.join("azurite.log");
            let port_s = port.to_string();
            let data_s = data.to_str().expect("UTF-8 temp dir").to_string();
            let args = [
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                &port_s,
                "--location",
                &data_s,
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--loose",
            ];
            let mut service = Service::spawn(Launch {
                name: "azurite-blob",
                program: program.as_os_str(),
                args: args.into_iter().map(std::ffi::OsStr::new).collect(),
                env: vec![],
                log_path: &log_path,
                remove_dir: Some(&dir),
                stop_signal: None,
                cwd: Some(&dir),
            });
            // Any HTTP answer (an unauthenticated GET gets 4xx) means it serves.
            match service.wait_ready(Duration::from_secs(30), || http_status(port, "GET", "/").is_some()) {
                Ok(()) => {
                    let blob_endpoint = format!("http://127.0.0.1:{port}/{AZURITE_ACCOUNT}");
                    let connection_string = format!(
                        "DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};\
                         BlobEndpoint={blob_endpoint};"
                    );
                    let az = Azurite { port, blob_endpoint, connection_string, container: "mlflow".into(), service };
                    az.create_container(&az.container);
                    return az;
                }
                Err(msg) => last = msg,
            }
        }
        panic!("{last}")
    }

    /// Creates a container (3–63 characters: lowercase letters, digits, `-`) with the venv's
    /// azure-storage-blob; one that exists is kept.
    pub fn create_container(&self, name: &str) {
        let code = format!(
            "from azure.core.exceptions import ResourceExistsError\n\
             from azure.storage.blob import BlobServiceClient\n\
             try:\n\
             \x20   BlobServiceClient.from_connection_string({cs:?}).create_container({name:?})\n\
             except ResourceExistsError:\n\
             \x20   pass\n",
            cs = self.connection_string
        );
        crate::python_eval(&code);
    }

    /// What a client (azure-storage-blob, the MLflow client and server) needs:
    /// `AZURE_STORAGE_CONNECTION_STRING`.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![("AZURE_STORAGE_CONNECTION_STRING".into(), self.connection_string.clone())]
    }

    /// `wasbs://<container>@devstoreaccount1.blob.core.windows.net/<prefix>`: the account in the
    /// URI is only a label; requests go to the connection string's `BlobEndpoint`.
    pub fn uri(&self, prefix: &str) -> String {
        format!("wasbs://{}@{AZURITE_ACCOUNT}.blob.core.windows.net/{}", self.container, prefix.trim_start_matches('/'))
    }

    /// Every blob under `prefix` in `container` with its size, sorted.
    pub fn list(&self, container: &str, prefix: &str) -> Vec<(String, u64)> {
        let code = format!(
            "import json\n\
             from azure.storage.blob import BlobServiceClient\n\
             c = BlobServiceClient.from_connection_string({cs:?}).get_container_client({container:?})\n\
             print(json.dumps(sorted([b.name, b.size] for b in c.list_blobs(name_starts_with={prefix:?}))))",
            cs = self.connection_string
        );
        let v: serde_json::Value = serde_json::from_str(&crate::python_eval(&code)).expect("JSON");
        v.as_array()
            .expect("list")
            .iter()
            .map(|e| (e[0].as_str().unwrap().to_string(), e[1].as_u64().unwrap()))
            .collect()
    }

    /// The last `max_bytes` of azurite's log.
    pub fn log_tail(&self, max_bytes: usize) -> String {
        self.service.log_tail(max_bytes)
    }
}

/// The azurite of this test binary, started on first use, stopped when the process exits.
pub fn shared() -> &'static Azurite {
    static AZ: OnceLock<Result<Azurite, String>> = OnceLock::new();
    match AZ.get_or_init(|| std::panic::catch_unwind(Azurite::start).map_err(|e| panic_message(&*e))) {
        Ok(a) => a,
        Err(msg) => panic!("shared azurite failed to start: {msg}"),
    }
}
