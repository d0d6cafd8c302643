//! Background services (PostgreSQL, MariaDB, moto, azurite) run under `scripts/serve_mlflow.py`,
//! the generic launcher that puts a command in its own process group and kills the whole group
//! when this test process exits (even by a kill) or when the [`Service`] is dropped.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{python, script, tail};

/// One command running under the launcher.
#[derive(Debug)]
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) log_path: PathBuf,
    launcher: Option<Child>,
    /// Our end of the launcher's stdin: closing it (drop, or process exit) stops the service.
    launcher_stdin: Option<ChildStdin>,
}

/// How to launch a [`Service`].
pub(crate) struct Launch<'a> {
    pub(crate) name: &'a str,
    pub(crate) program: &'a OsStr,
    pub(crate) args: Vec<&'a OsStr>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) log_path: &'a Path,
    /// Removed by the launcher after it stopped the service.
    pub(crate) remove_dir: Option<&'a Path>,
    /// First signal sent to the group on stop (`TERM` if `None`).
    pub(crate) stop_signal: Option<&'a str>,
    pub(crate) cwd: Option<&'a Path>,
}

impl Service {
    pub(crate) fn spawn(l: Launch<'_>) -> Service {
        let mut cmd = Command::new(python());
        cmd.arg(script("serve_mlflow.py"))
            .arg("--parent-pid")
            .arg(std::process::id().to_string())
            .arg("--log")
            .arg(l.log_path);
        if let Some(dir) = l.remove_dir {
            cmd.arg("--remove-dir").arg(dir);
        }
        if let Some(sig) = l.stop_signal {
            cmd.arg("--stop-signal").arg(sig);
        }
        cmd.arg("--").arg(l.program).args(&l.args);
        if let Some(dir) = l.cwd {
            cmd.current_dir(dir);
        }
        cmd.envs(l.env.iter().map(|(k, v)| (k, v)))
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::from(open_log(l.log_path)));
        let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {} under serve_mlflow.py: {e}", l.name));
        Service::launched(l.name, l.log_path, child)
    }

    /// A launcher started by the caller (with a piped stdin, its output in `log_path`).
    pub(crate) fn launched(name: &str, log_path: &Path, mut child: Child) -> Service {
        let stdin = child.stdin.take();
        Service {
            name: name.to_string(),
            log_path: log_path.to_path_buf(),
            launcher: Some(child),
            launcher_stdin: stdin,
        }
    }

    /// How the launcher ended, when it has.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.launcher.as_mut().and_then(|c| c.try_wait().ok().flatten())
    }

    /// Polls `ready` every 100 ms until it holds; fails with the log's tail when the service
    /// exited or `timeout` passed.
    pub(crate) fn wait_ready(&mut self, timeout: Duration, mut ready: impl FnMut() -> bool) -> Result<(), String> {
        let started = Instant::now();
        loop {
            if ready() {
                return Ok(());
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited before it was ready ({status}); log {}:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail(6000)
                ));
            }
            if started.elapsed() > timeout {
                return Err(format!(
                    "{} not ready after {timeout:?}; log {}:\n{}",
                    self.name,
                    self.log_path.display(),
                    self.log_tail(6000)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub(crate) fn log_tail(&self, max_bytes: usize) -> String {
        let mut buf = Vec::new();
        if let Ok(mut f) = File::open(&self.log_path) {
            let _ = f.read_to_end(&mut buf);
        }
        tail(&String::from_utf8_lossy(&buf), max_bytes).to_string()
    }

    pub(crate) fn stop(&mut self) {
        // EOF on its stdin tells the launcher to signal the service's process group.
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
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh directory `<tmp>/mlflow-eim-<tag>-<pid>-<n>-<nanos>`.
pub(crate) fn fresh_temp_dir(tag: &str) -> PathBuf {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "mlflow-eim-{tag}-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

pub(crate) fn open_log(path: &Path) -> File {
    OpenOptions::new().create(true).append(true).open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("find a free port")
}

/// One plain HTTP/1.1 request to `127.0.0.1:port`; the status code, or `None` when nothing
/// answered.
pub(crate) fn http_status(port: u16, method: &str, path: &str) -> Option<u16> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(10)));
    let req =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut buf = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match s.read(&mut buf[n..]) {
            Ok(0) | Err(_) => break,
            Ok(k) => n += k,
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]);
    head.strip_prefix("HTTP/1.1 ").or_else(|| head.strip_prefix("HTTP/1.0 "))?.get(..3)?.parse().ok()
}

/// Whether something accepts TCP connections on `127.0.0.1:port`.
pub(crate) fn port_open(port: u16) -> bool {
    TcpStream::connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)), Duration::from_millis(300)).is_ok()
}

/// `program` found on `PATH`.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Runs a command to completion; panics with its output when it fails.
pub(crate) fn run_checked(cmd: &mut Command, what: &str) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stdout), 3000),
            tail(&String::from_utf8_lossy(&out.stderr), 3000)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Turns a panic payload caught by `catch_unwind` into its message.
pub(crate) fn panic_message(e: &(dyn std::any::Any + Send)) -> String {
    e.downcast_ref::<String>()
        .cloned()
        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown panic".into())
}
