//! Real `mlflow server` processes for tests.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::{
    azurite, moto, mysql, postgres,
    process::{free_port, fresh_temp_dir, open_log, Service},
    python, script, venv,
};

/// How the server stores artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArtifactMode {
    /// `--serve-artifacts --artifacts-destination ROOT/artifacts`: experiments get
    /// `mlflow-artifacts:/` roots and artifacts go through the server's proxy.
    Proxy,
    /// `--no-serve-artifacts --default-artifact-root ROOT/artifacts`: artifact URIs are plain
    /// local paths that clients read and write directly.
    LocalRoot,
    /// Like [`ArtifactMode::Proxy`], behind MLflow's basic-auth app (`--app-name basic-auth`,
    /// default permission READ); [`MlflowServer::credentials`] gives the admin login.
    BasicAuth,
    /// `--no-serve-artifacts --default-artifact-root s3://BUCKET/PREFIX` on the shared moto
    /// ([`crate::moto::shared`]): clients write S3 themselves and need
    /// [`MlflowServer::client_env`].
    S3,
    /// `--serve-artifacts --artifacts-destination s3://BUCKET/PREFIX`: `mlflow-artifacts:/`
    /// roots, the server writes S3; clients need nothing ([`MlflowServer::store_env`] reaches
    /// the bucket).
    S3Proxied,
    /// `--no-serve-artifacts --default-artifact-root
    /// wasbs://CONTAINER@devstoreaccount1.blob.core.windows.net/PREFIX` on the shared azurite
    /// ([`crate::azurite::shared`]): clients need [`MlflowServer::client_env`].
    Azure,
}

/// Where the server keeps tracking data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// `sqlite:///ROOT/mlflow.db`
    Sqlite,
    /// A fresh database of the shared PostgreSQL cluster ([`crate::postgres::shared`]).
    Postgres,
    /// A fresh utf8mb4 database of the shared MariaDB server ([`crate::mysql::shared`]), through
    /// PyMySQL.
    Mysql,
}

/// What server to start: backend store, artifact store, uvicorn workers.
///
/// `ServerSpec::new(ArtifactMode::Proxy).backend(Backend::Postgres).workers(4)`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerSpec {
    pub backend: Backend,
    pub artifacts: ArtifactMode,
    /// `--workers`: 1 (fast on this machine) or 4 (MLflow's default, as users run it).
    pub workers: u32,
    /// `--enable-workspaces` (MLflow 3.10+): requests are scoped by `X-MLFLOW-WORKSPACE`.
    pub workspaces: bool,
}

impl ServerSpec {
    /// sqlite, `artifacts`, one worker: what [`MlflowServer::start`] runs.
    pub fn new(artifacts: ArtifactMode) -> ServerSpec {
        ServerSpec { backend: Backend::Sqlite, artifacts, workers: 1, workspaces: false }
    }

    pub fn backend(mut self, backend: Backend) -> ServerSpec {
        self.backend = backend;
        self
    }

    pub fn workers(mut self, workers: u32) -> ServerSpec {
        self.workers = workers;
        self
    }

    pub fn workspaces(mut self) -> ServerSpec {
        self.workspaces = true;
        self
    }
}

/// Settings of a basic-auth server (see [`MlflowServer::start_basic_auth`]).
#[derive(Debug, Clone)]
pub struct BasicAuthConfig {
    /// What a user gets on an object nobody granted them anything on: `READ` (MLflow's
    /// default), `NO_PERMISSIONS`, `USE`, `EDIT` or `MANAGE`.
    pub default_permission: String,
    pub admin_user: String,
    pub admin_password: String,
    /// Seconds MLflow's credential cache keeps a checked login (`auth_cache_ttl_seconds`; 0,
    /// MLflow's default, is off). Without it every request pays a password-hash check (tens of
    /// ms of CPU), and under a job's load the server burns a whole core on it. With it, MLflow
    /// 3.17.2 answers a bearer token 500 instead of 401 (its cache key wants a password), so a
    /// server whose tests send tokens keeps it off.
    pub credential_cache_seconds: u32,
}

impl Default for BasicAuthConfig {
    fn default() -> Self {
        Self {
            default_permission: "READ".into(),
            admin_user: BASIC_AUTH_USER.into(),
            admin_password: BASIC_AUTH_PASSWORD.into(),
            credential_cache_seconds: 0,
        }
    }
}

/// Admin login of [`ArtifactMode::BasicAuth`] servers.
pub const BASIC_AUTH_USER: &str = "admin";
/// Admin password of [`ArtifactMode::BasicAuth`] servers.
pub const BASIC_AUTH_PASSWORD: &str = "eim-Adm1n-Passw0rd";

/// A running `mlflow server` (sqlite backend, artifacts in a fresh temp dir, one worker,
/// job runner off). It runs under `scripts/serve_mlflow.py`, which kills the server's whole
/// process group when this test process exits (even by a kill) or when this value is dropped.
#[derive(Debug)]
pub struct MlflowServer {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    pub mode: ArtifactMode,
    /// Backend, artifact mode (same as `mode`) and workers this server was started with.
    pub spec: ServerSpec,
    /// `--backend-store-uri`: `sqlite:///…`, `postgresql+psycopg2://postgres@127.0.0.1:PORT/DB` or
    /// `mysql+pymysql://mlflow:mlflow-eim@127.0.0.1:PORT/DB`.
    pub backend_store_uri: String,
    /// The artifact store given to the server (`--artifacts-destination` or
    /// `--default-artifact-root`): a local path, `s3://BUCKET/PREFIX` or `wasbs://…/PREFIX`;
    /// unique to this server.
    pub artifact_location: String,
    /// Temp dir holding `mlflow.db`, `artifacts/` and `server.log`; removed when the server stops
    /// (kept if `MLFLOW_EIM_KEEP_SERVER_DIR` is set).
    pub root: PathBuf,
    /// `root/artifacts`
    pub artifact_root: PathBuf,
    /// `root/server.log`: the server's and the launcher's output.
    pub log_path: PathBuf,
    credentials: Option<(String, String)>,
    client_env: Vec<(String, String)>,
    store_env: Vec<(String, String)>,
    /// The launcher: closing its stdin (drop, or process exit) stops the server.
    service: Service,
    /// How the launcher was started, to start it again after [`MlflowServer::crash_and_restart`].
    launch: Relaunch,
}

/// The launcher's arguments and environment, as first given.
#[derive(Debug)]
struct Relaunch {
    args: Vec<std::ffi::OsString>,
    envs: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)>,
}

const DEFAULT_START_TIMEOUT_SECS: u64 = 60;
/// A PostgreSQL or MySQL backend starts empty: MLflow runs all its migrations first.
const SQL_SERVER_START_TIMEOUT_SECS: u64 = 180;

impl MlflowServer {
    /// Start a server from the venv of [`crate::venv`] and wait until `GET /health` answers.
    /// Panics (with the server log's tail) when it is not healthy within 60 s
    /// (`MLFLOW_EIM_SERVER_START_TIMEOUT_SECS` overrides).
    pub fn start(mode: ArtifactMode) -> MlflowServer {
        Self::start_in_venv(mode, &venv())
    }

    /// Like [`MlflowServer::start`], with the `mlflow` of another venv (e.g. an MLflow 2.x one).
    pub fn start_in_venv(mode: ArtifactMode, venv: &Path) -> MlflowServer {
        Self::start_with(&ServerSpec::new(mode), venv, &BasicAuthConfig::default())
    }

    /// A server with the backend, artifact store and workers of `spec` (PostgreSQL, MariaDB, moto
    /// and azurite are started on first use, once per test binary). Each server gets its own
    /// database, and its own prefix in the shared bucket or container.
    pub fn start_spec(spec: &ServerSpec) -> MlflowServer {
        Self::start_with(spec, &venv(), &BasicAuthConfig::default())
    }

    /// A private [`ArtifactMode::BasicAuth`] server with its own default permission and admin
    /// login (e.g. `NO_PERMISSIONS`, so that a user sees only what was granted to them).
    pub fn start_basic_auth(auth: &BasicAuthConfig) -> MlflowServer {
        Self::start_with(&ServerSpec::new(ArtifactMode::BasicAuth), &venv(), auth)
    }

    fn start_with(spec: &ServerSpec, venv: &Path, auth: &BasicAuthConfig) -> MlflowServer {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            match Self::try_start(spec, venv, auth) {
                Ok(s) => return s,
                Err((msg, retry)) => {
                    if !retry {
                        panic!("{msg}");
                    }
                    last_err = msg;
                }
            }
        }
        panic!("{last_err}")
    }

    fn try_start(spec: &ServerSpec, venv: &Path, auth: &BasicAuthConfig) -> Result<MlflowServer, (String, bool)> {
        let mode = spec.artifacts;
        let mlflow = venv.join("bin").join("mlflow");
        if !mlflow.exists() {
            return Err((
                format!("no mlflow at {}: run scripts/setup-venv.sh (or set MLFLOW_EIM_VENV)", mlflow.display()),
                false,
            ));
        }
        let root = fresh_dir(mode);
        let artifact_root = root.join("artifacts");
        fs::create_dir_all(&artifact_root).expect("create artifact dir");
        let log_path = root.join("server.log");
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let backend_store_uri = match spec.backend {
            Backend::Sqlite => format!("sqlite:///{}", root.join("mlflow.db").display()),
            Backend::Postgres => postgres::shared().fresh_database("mlflow"),
            Backend::Mysql => mysql::shared().fresh_database("mlflow"),
        };
        // This server's own prefix in the shared bucket or container.
        let prefix = root.file_name().and_then(OsStr::to_str).expect("UTF-8 temp dir").to_string();
        let (artifact_location, client_env, store_env) = match mode {
            ArtifactMode::Proxy | ArtifactMode::LocalRoot | ArtifactMode::BasicAuth => {
                (artifact_root.display().to_string(), vec![], vec![])
            }
            ArtifactMode::S3 => {
                let m = moto::shared();
                (m.uri(&prefix), m.env(), m.env())
            }
            ArtifactMode::S3Proxied => {
                let m = moto::shared();
                (m.uri(&prefix), vec![], m.env())
            }
            ArtifactMode::Azure => {
                let a = azurite::shared();
                (a.uri(&prefix), a.env(), a.env())
            }
        };

        let mut cmd = Command::new(python());
        cmd.arg(script("serve_mlflow.py"))
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .arg("--log")
            .arg(&log_path)
            .arg("--remove-dir")
            .arg(&root)
            .arg("--")
            .arg(&mlflow)
            .arg("server")
            .arg("--backend-store-uri")
            .arg(&backend_store_uri);
        let mut credentials = None;
        match mode {
            ArtifactMode::BasicAuth => {
                let ini = root.join("basic_auth.ini");
                fs::write(
                    &ini,
                    format!(
                        "[mlflow]\ndefault_permission = {}\ndatabase_uri = sqlite:///{}\n\
                         admin_username = {}\nadmin_password = {}\n\
                         authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n\
                         auth_cache_ttl_seconds = {}\n",
                        auth.default_permission,
                        root.join("basic_auth.db").display(),
                        auth.admin_user,
                        auth.admin_password,
                        auth.credential_cache_seconds,
                    ),
                )
                .expect("write basic_auth.ini");
                credentials = Some((auth.admin_user.clone(), auth.admin_password.clone()));
                cmd.env("MLFLOW_AUTH_CONFIG_PATH", &ini)
                    // The auth app's CSRF protection needs a static secret key.
                    .env("MLFLOW_FLASK_SERVER_SECRET_KEY", "mlflow-eim-test-secret")
                    .arg("--app-name")
                    .arg("basic-auth")
                    .arg("--serve-artifacts")
                    .arg("--artifacts-destination")
                    .arg(&artifact_root)
            }
            ArtifactMode::Proxy => cmd.arg("--serve-artifacts").arg("--artifacts-destination").arg(&artifact_root),
            ArtifactMode::LocalRoot => {
                cmd.arg("--no-serve-artifacts").arg("--default-artifact-root").arg(&artifact_root)
            }
            ArtifactMode::S3Proxied => {
                cmd.arg("--serve-artifacts").arg("--artifacts-destination").arg(&artifact_location)
            }
            ArtifactMode::S3 | ArtifactMode::Azure => {
                cmd.arg("--no-serve-artifacts").arg("--default-artifact-root").arg(&artifact_location)
            }
        };
        if spec.workspaces {
            cmd.arg("--enable-workspaces");
        }
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--workers", &spec.workers.to_string()])
            .envs(store_env.iter().map(|(k, v)| (k, v)))
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            // Webhook URLs are then stored without resolving their host (none resolves here).
            .env("MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS", "true")
            .env("GIT_PYTHON_REFRESH", "quiet")
            .env("PYTHONUNBUFFERED", "1");
        if spec.backend == Backend::Sqlite {
            // A shared server serves several tests' jobs at once, each with up to 8 requests in
            // flight; a `log-batch` holds two pooled connections. MLflow's default pool (5 + 10
            // overflow) then runs dry and requests wait out its 30 s timeout while the machine
            // idles: three concurrent 32-run copies took 420 s each with the default pool and
            // 142 s with this one. A SQLite file has no connection limit; the PostgreSQL and
            // MySQL servers keep the default, within their servers' own limits.
            cmd.env("MLFLOW_SQLALCHEMYSTORE_POOL_SIZE", "40").env("MLFLOW_SQLALCHEMYSTORE_MAX_OVERFLOW", "40");
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::from(open_log(&log_path)));
        let launch = Relaunch {
            args: cmd.get_args().map(OsStr::to_os_string).collect(),
            envs: cmd.get_envs().map(|(k, v)| (k.to_os_string(), v.map(OsStr::to_os_string))).collect(),
        };
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start scripts/serve_mlflow.py: {e}"));
        let service = Service::launched("mlflow server", &log_path, child);
        let mut server = MlflowServer {
            url,
            port,
            mode,
            spec: spec.clone(),
            backend_store_uri,
            artifact_location,
            root,
            artifact_root,
            log_path,
            credentials,
            client_env,
            store_env,
            service,
            launch,
        };

        let timeout = Duration::from_secs(
            std::env::var("MLFLOW_EIM_SERVER_START_TIMEOUT_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(
                match spec.backend {
                    Backend::Sqlite => DEFAULT_START_TIMEOUT_SECS,
                    Backend::Postgres | Backend::Mysql => SQL_SERVER_START_TIMEOUT_SECS,
                },
            ),
        );
        let started = Instant::now();
        loop {
            if health_ok(port) {
                return Ok(server);
            }
            if let Some(status) = server.service.exited() {
                let log = server.log_tail(8000);
                let retry = log.contains("ddress already in use");
                return Err((
                    format!(
                        "mlflow server ({spec:?}, port {port}) exited before it was healthy \
                         ({status}); log {}:\n{log}",
                        server.log_path.display()
                    ),
                    retry,
                ));
            }
            if started.elapsed() > timeout {
                let log = server.log_tail(8000);
                let msg = format!(
                    "mlflow server ({spec:?}, {}) not healthy after {:?}; log {}:\n{log}",
                    server.url,
                    timeout,
                    server.log_path.display()
                );
                drop(server);
                return Err((msg, false));
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The shared server of this mode (same as [`shared`]).
    pub fn shared(mode: ArtifactMode) -> &'static MlflowServer {
        shared(mode)
    }

    /// The shared server of this spec (same as [`shared_spec`]).
    pub fn shared_spec(spec: &ServerSpec) -> &'static MlflowServer {
        shared_spec(spec)
    }

    /// What a client needs in its environment to reach this server's artifact store directly:
    /// the moto variables ([`crate::Moto::env`]) for [`ArtifactMode::S3`],
    /// `AZURE_STORAGE_CONNECTION_STRING` for [`ArtifactMode::Azure`], nothing otherwise (proxied
    /// and local stores). Pass it to the tool (`Command::envs`) and to the official client
    /// ([`MlflowServer::seed`], [`crate::run_python_script_env`], …).
    pub fn client_env(&self) -> &[(String, String)] {
        &self.client_env
    }

    /// The store variables the server process itself got (also set for
    /// [`ArtifactMode::S3Proxied`], whose clients need none): what reaches its bucket.
    pub fn store_env(&self) -> &[(String, String)] {
        &self.store_env
    }

    /// [`crate::seed`] against this server, with [`MlflowServer::client_env`].
    pub fn seed(&self, args: &[&str]) -> serde_json::Value {
        crate::seed_env(&self.url, args, &self.client_env)
    }

    /// [`crate::dump_run`] against this server, with [`MlflowServer::client_env`].
    pub fn dump_run(&self, run_id: &str) -> serde_json::Value {
        crate::dump_run_env(&self.url, run_id, &self.client_env)
    }

    /// [`crate::dump_experiment`] against this server, with [`MlflowServer::client_env`].
    pub fn dump_experiment(&self, experiment: &str) -> serde_json::Value {
        crate::dump_experiment_env(&self.url, experiment, &self.client_env)
    }

    /// [`crate::dump_model`] against this server, with [`MlflowServer::client_env`].
    pub fn dump_model(&self, name: &str) -> serde_json::Value {
        crate::dump_model_env(&self.url, name, &self.client_env)
    }

    /// [`crate::python_eval`] with [`MlflowServer::client_env`] and `MLFLOW_TRACKING_URI` set to
    /// this server.
    pub fn python_eval(&self, code: &str) -> String {
        let mut env = self.client_env.clone();
        env.push(("MLFLOW_TRACKING_URI".into(), self.url.clone()));
        crate::python_eval_env(code, &env)
    }

    /// `(user, password)` of the admin, for [`ArtifactMode::BasicAuth`] servers.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The last `max_bytes` of the server log.
    pub fn log_tail(&self, max_bytes: usize) -> String {
        self.service.log_tail(max_bytes)
    }

    /// Kills the server's whole process group with SIGKILL (as a crash or an OOM kill would:
    /// requests in flight are cut), keeps it away for `down`, then starts it again on the same
    /// port over the same database and artifacts, and returns once `/health` answers. The
    /// launcher sees its command exit by itself and leaves the server's folder in place.
    pub fn crash_and_restart(&mut self, down: Duration) {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let pid = log
            .lines()
            .rev()
            .find_map(|l| l.strip_prefix("serve_mlflow: started pid "))
            .and_then(|p| p.trim().parse::<u32>().ok())
            .expect("the launcher logs the server's pid");
        let killed = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status().expect("kill runs");
        assert!(killed.success(), "kill -KILL -{pid} failed");
        let deadline = Instant::now() + Duration::from_secs(15);
        while self.service.exited().is_none() {
            assert!(Instant::now() < deadline, "the launcher did not notice its server die");
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(down);
        let mut cmd = Command::new(python());
        cmd.args(&self.launch.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(open_log(&self.log_path)));
        for (k, v) in &self.launch.envs {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot restart scripts/serve_mlflow.py: {e}"));
        self.service = Service::launched("mlflow server", &self.log_path, child);
        let port = self.port;
        self.service.wait_ready(Duration::from_secs(DEFAULT_START_TIMEOUT_SECS), || health_ok(port)).unwrap();
    }

    /// Remove a run's files from this server's artifact folder (proxied and local-root servers):
    /// a test that stored hundreds of MB gives the disk back to the rest of the suite, which
    /// shares the server until the test binary exits.
    pub fn remove_run_artifacts(&self, run_id: &str) {
        assert!(!run_id.is_empty() && !run_id.contains(['/', '.']), "not a run id: {run_id:?}");
        for experiment in fs::read_dir(&self.artifact_root).expect("read the artifact folder") {
            let run = experiment.expect("read the artifact folder").path().join(run_id);
            if run.is_dir() {
                fs::remove_dir_all(&run).unwrap_or_else(|e| panic!("remove {}: {e}", run.display()));
            }
        }
    }

    /// Stop the server now (also done on drop).
    pub fn stop(&mut self) {
        // EOF on its stdin tells the launcher to TERM (then KILL) the server's process group.
        self.service.stop();
        if std::env::var_os("MLFLOW_EIM_KEEP_SERVER_DIR").is_none() {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

impl Drop for MlflowServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One server per mode per test binary, started on first use and stopped when the process
/// exits. Tests sharing it must isolate themselves by unique experiment/model names
/// (see [`crate::unique_name`]). A failed start is remembered: later calls panic at once.
pub fn shared(mode: ArtifactMode) -> &'static MlflowServer {
    shared_spec(&ServerSpec::new(mode))
}

/// One server per [`ServerSpec`] per test binary, like [`shared`] (`shared(mode)` is
/// `shared_spec(&ServerSpec::new(mode))`). Servers of different specs start concurrently.
pub fn shared_spec(spec: &ServerSpec) -> &'static MlflowServer {
    type Cell = OnceLock<Result<MlflowServer, String>>;
    static CELLS: OnceLock<Mutex<HashMap<ServerSpec, &'static Cell>>> = OnceLock::new();
    let cell: &'static Cell = {
        let mut cells = CELLS.get_or_init(Default::default).lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cells.entry(spec.clone()).or_insert_with(|| Box::leak(Box::default()))
    };
    let res = cell.get_or_init(|| {
        std::panic::catch_unwind(|| MlflowServer::start_spec(spec)).map_err(|e| crate::process::panic_message(&*e))
    });
    match res {
        Ok(s) => s,
        Err(msg) => panic!("shared {spec:?} MLflow server failed to start: {msg}"),
    }
}

fn fresh_dir(mode: ArtifactMode) -> PathBuf {
    let tag = match mode {
        ArtifactMode::Proxy => "proxy",
        ArtifactMode::LocalRoot => "local",
        ArtifactMode::BasicAuth => "auth",
        ArtifactMode::S3 => "s3",
        ArtifactMode::S3Proxied => "s3proxied",
        ArtifactMode::Azure => "azure",
    };
    fresh_temp_dir(&format!("server-{tag}"))
}

fn health_ok(port: u16) -> bool {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(5)));
    let req = format!("GET /health HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200")
}
