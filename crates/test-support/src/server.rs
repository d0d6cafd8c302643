//! Real `mlflow server` processes for tests.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{python, script, tail, venv};

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
}

/// Settings of a basic-auth server (see [`MlflowServer::start_basic_auth`]).
#[derive(Debug, Clone)]
pub struct BasicAuthConfig {
    /// What a user gets on an object nobody granted them anything on: `READ` (MLflow's
    /// default), `NO_PERMISSIONS`, `USE`, `EDIT` or `MANAGE`.
    pub default_permission: String,
    pub admin_user: String,
    pub admin_password: String,
}

impl Default for BasicAuthConfig {
    fn default() -> Self {
        Self {
            default_permission: "READ".into(),
            admin_user: BASIC_AUTH_USER.into(),
            admin_password: BASIC_AUTH_PASSWORD.into(),
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
    /// Temp dir holding `mlflow.db`, `artifacts/` and `server.log`; removed when the server stops
    /// (kept if `MLFLOW_EIM_KEEP_SERVER_DIR` is set).
    pub root: PathBuf,
    /// `root/artifacts`
    pub artifact_root: PathBuf,
    /// `root/server.log`: the server's and the launcher's output.
    pub log_path: PathBuf,
    credentials: Option<(String, String)>,
    launcher: Option<Child>,
    /// Our end of the launcher's stdin: closing it (drop, or process exit) stops the server.
    launcher_stdin: Option<ChildStdin>,
}

const DEFAULT_START_TIMEOUT_SECS: u64 = 60;

impl MlflowServer {
    /// Start a server from the venv of [`crate::venv`] and wait until `GET /health` answers.
    /// Panics (with the server log's tail) when it is not healthy within 60 s
    /// (`MLFLOW_EIM_SERVER_START_TIMEOUT_SECS` overrides).
    pub fn start(mode: ArtifactMode) -> MlflowServer {
        Self::start_in_venv(mode, &venv())
    }

    /// Like [`MlflowServer::start`], with the `mlflow` of another venv (e.g. an MLflow 2.x one).
    pub fn start_in_venv(mode: ArtifactMode, venv: &Path) -> MlflowServer {
        Self::start_with(mode, venv, &BasicAuthConfig::default())
    }

    /// A private [`ArtifactMode::BasicAuth`] server with its own default permission and admin
    /// login (e.g. `NO_PERMISSIONS`, so that a user sees only what was granted to them).
    pub fn start_basic_auth(auth: &BasicAuthConfig) -> MlflowServer {
        Self::start_with(ArtifactMode::BasicAuth, &venv(), auth)
    }

    fn start_with(mode: ArtifactMode, venv: &Path, auth: &BasicAuthConfig) -> MlflowServer {
        let mut last_err = String::new();
        for _attempt in 0..3 {
            match Self::try_start(mode, venv, auth) {
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

    fn try_start(mode: ArtifactMode, venv: &Path, auth: &BasicAuthConfig) -> Result<MlflowServer, (String, bool)> {
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
            .arg(format!("sqlite:///{}", root.join("mlflow.db").display()));
        let mut credentials = None;
        match mode {
            ArtifactMode::BasicAuth => {
                let ini = root.join("basic_auth.ini");
                fs::write(
                    &ini,
                    format!(
                        "[mlflow]\ndefault_permission = {}\ndatabase_uri = sqlite:///{}\n\
                         admin_username = {}\nadmin_password = {}\n\
                         authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n",
                        auth.default_permission,
                        root.join("basic_auth.db").display(),
                        auth.admin_user,
                        auth.admin_password,
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
        };
        cmd.args(["--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
            .env("GIT_PYTHON_REFRESH", "quiet")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(open_log(&log_path)));
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start scripts/serve_mlflow.py: {e}"));
        let stdin = child.stdin.take();
        let mut server = MlflowServer {
            url,
            port,
            mode,
            root,
            artifact_root,
            log_path,
            credentials,
            launcher: Some(child),
            launcher_stdin: stdin,
        };

        let timeout = Duration::from_secs(
            std::env::var("MLFLOW_EIM_SERVER_START_TIMEOUT_SECS")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(DEFAULT_START_TIMEOUT_SECS),
        );
        let started = Instant::now();
        loop {
            if health_ok(port) {
                return Ok(server);
            }
            let exited = server.launcher.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                let log = server.log_tail(8000);
                let retry = log.contains("ddress already in use");
                return Err((
                    format!(
                        "mlflow server ({mode:?}, port {port}) exited before it was healthy \
                         ({status}); log {}:\n{log}",
                        server.log_path.display()
                    ),
                    retry,
                ));
            }
            if started.elapsed() > timeout {
                let log = server.log_tail(8000);
                let msg = format!(
                    "mlflow server ({mode:?}, {}) not healthy after {:?}; log {}:\n{log}",
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

    /// `(user, password)` of the admin, for [`ArtifactMode::BasicAuth`] servers.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        self.credentials.as_ref().map(|(u, p)| (u.as_str(), p.as_str()))
    }

    /// The last `max_bytes` of the server log.
    pub fn log_tail(&self, max_bytes: usize) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            s = String::from_utf8_lossy(&buf).into_owned();
        }
        tail(&s, max_bytes).to_string()
    }

    /// Stop the server now (also done on drop).
    pub fn stop(&mut self) {
        // EOF on its stdin tells the launcher to TERM (then KILL) the server's process group.
        drop(self.launcher_stdin.take());
        if let Some(mut child) = self.launcher.take() {
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
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
    static PROXY: OnceLock<Result<MlflowServer, String>> = OnceLock::new();
    static LOCAL: OnceLock<Result<MlflowServer, String>> = OnceLock::new();
    static AUTH: OnceLock<Result<MlflowServer, String>> = OnceLock::new();
    let cell = match mode {
        ArtifactMode::Proxy => &PROXY,
        ArtifactMode::LocalRoot => &LOCAL,
        ArtifactMode::BasicAuth => &AUTH,
    };
    let res = cell.get_or_init(|| {
        std::panic::catch_unwind(|| MlflowServer::start(mode)).map_err(|e| {
            e.downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into())
        })
    });
    match res {
        Ok(s) => s,
        Err(msg) => panic!("shared {mode:?} MLflow server failed to start: {msg}"),
    }
}

fn fresh_dir(mode: ArtifactMode) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let tag = match mode {
        ArtifactMode::Proxy => "proxy",
        ArtifactMode::LocalRoot => "local",
        ArtifactMode::BasicAuth => "auth",
    };
    let dir = std::env::temp_dir().join(format!(
        "mlflow-eim-server-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

fn open_log(path: &Path) -> File {
    OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("find a free port")
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
