//! A throwaway PostgreSQL cluster for MLflow backend stores: `initdb` into a temp dir, one
//! `postgres` on `127.0.0.1:<free port>`, trust authentication, superuser `postgres`.
//!
//! PostgreSQL refuses to run as root. When the tests run as root (CI does), the cluster
//! belongs to the `postgres` system user (created by Debian's `postgresql` package) and
//! `initdb` / `postgres` run through `setpriv --reuid=postgres` (util-linux); otherwise they
//! run as the current user. Binaries: `$MLFLOW_EIM_PG_BIN`, else the directory of `initdb` on
//! `PATH`, else the newest `/usr/lib/postgresql/*/bin` (where Debian puts them).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::{free_port, fresh_temp_dir, panic_message, port_open, run_checked, which, Launch, Service};

/// The cluster's superuser (every database URI logs in as it; trust authentication).
pub const POSTGRES_USER: &str = "postgres";

/// A running PostgreSQL cluster, stopped (fast shutdown) and removed when dropped or when the
/// test process exits.
#[derive(Debug)]
pub struct Postgres {
    pub port: u16,
    /// Temp dir holding `data/` (the cluster), the socket and `postgres.log`.
    pub root: PathBuf,
    /// Directory of `initdb`, `postgres`, `createdb`, `psql`.
    pub bin_dir: PathBuf,
    service: Service,
}

impl Postgres {
    /// `initdb` a new cluster and start it; panics with the log when it does not come up
    /// within 60 s.
    pub fn start() -> Postgres {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(pg) => return pg,
                Err((msg, retry)) if retry => last = msg,
                Err((msg, _)) => panic!("{msg}"),
            }
        }
        panic!("{last}")
    }

    fn try_start() -> Result<Postgres, (String, bool)> {
        let bin_dir = bin_dir();
        let root = fresh_temp_dir("pg");
        let data = root.join("data");
        let run_as = run_as();
        if let Some(owner) = &run_as {
            std::os::unix::fs::chown(&root, Some(owner.uid), Some(owner.gid))
                .unwrap_or_else(|e| panic!("chown {} to postgres: {e}", root.display()));
        }
        let initdb = bin_dir.join("initdb");
        let mut cmd = as_owner(&run_as, &initdb);
        cmd.arg("-D")
            .arg(&data)
            .args(["-U", POSTGRES_USER, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .current_dir(&root);
        run_checked(&mut cmd, "initdb");

        let port = free_port();
        let log_path = root.join("postgres.log");
        let postgres = bin_dir.join("postgres");
        let (program, mut args): (OsString, Vec<OsString>) = match &run_as {
            Some(_) => ("setpriv".into(), setpriv_args().into_iter().chain([postgres.into_os_string()]).collect()),
            None => (postgres.into_os_string(), vec![]),
        };
        args.extend(
            [
                "-D".into(),
                data.clone().into_os_string(),
                "-p".into(),
                port.to_string().into(),
                "-c".into(),
                "listen_addresses=127.0.0.1".into(),
                "-c".into(),
                format!("unix_socket_directories={}", root.display()).into(),
            ]
            .into_iter()
            .chain(
                // A throwaway cluster: no durability; room for several 4-worker MLflow servers
                // (each worker pools up to 15 connections).
                [
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                    "max_connections=400",
                    "shared_buffers=64MB",
                ]
                .into_iter()
                .flat_map(|c| [OsString::from("-c"), OsString::from(c)]),
            ),
        );
        let mut service = Service::spawn(Launch {
            name: "postgres",
            program: &program,
            args: args.iter().map(OsString::as_os_str).collect(),
            env: vec![],
            log_path: &log_path,
            remove_dir: Some(&root),
            // SIGINT is the fast shutdown; SIGTERM would wait for every client to go.
            stop_signal: Some("INT"),
            cwd: Some(&root),
        });
        let isready = bin_dir.join("pg_isready");
        let ready = service.wait_ready(Duration::from_secs(60), || {
            port_open(port)
                && Command::new(&isready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string(), "-U", POSTGRES_USER])
                    .status()
                    .is_ok_and(|s| s.success())
        });
        if let Err(msg) = ready {
            let retry = msg.contains("ddress already in use");
            return Err((msg, retry));
        }
        Ok(Postgres { port, root, bin_dir, service })
    }

    /// `postgresql+psycopg2://postgres@127.0.0.1:PORT/<database>`, for `--backend-store-uri`.
    /// The driver is named: SQLAlchemy 2.1 (what MLflow 3.17.2 installs) maps a bare
    /// `postgresql://` to psycopg 3, which the venv does not have; it has psycopg2-binary.
    pub fn uri(&self, database: &str) -> String {
        format!("postgresql+psycopg2://{POSTGRES_USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates database `name` (lowercase letters, digits, `_`) and returns its [`Self::uri`].
    pub fn create_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "database name {name:?}: use lowercase letters, digits and _"
        );
        let mut cmd = Command::new(self.bin_dir.join("createdb"));
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", POSTGRES_USER, name]);
        run_checked(&mut cmd, &format!("createdb {name}"));
        self.uri(name)
    }

    /// Creates a database with a name unique to this process (`<prefix>_<pid>_<n>`) and returns
    /// its URI.
    pub fn fresh_database(&self, prefix: &str) -> String {
        static N: AtomicU64 = AtomicU64::new(0);
        let prefix: String =
            prefix.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
        self.create_database(&format!("{prefix}_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)))
    }

    /// Runs SQL with `psql -At` against a database (a name, or a URI from this cluster) and
    /// returns its output: one line per row, columns separated by `|`.
    pub fn query(&self, database: &str, sql: &str) -> String {
        let db = database.rsplit('/').next().unwrap_or(database);
        let mut cmd = Command::new(self.bin_dir.join("psql"));
        cmd.args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", &self.port.to_string()]).args([
            "-U",
            POSTGRES_USER,
            "-d",
            db,
            "-c",
            sql,
        ]);
        run_checked(&mut cmd, &format!("psql {sql:?}"))
    }

    /// The last `max_bytes` of the server log.
    pub fn log_tail(&self, max_bytes: usize) -> String {
        self.service.log_tail(max_bytes)
    }
}

/// The cluster of this test binary, started on first use, stopped when the process exits.
/// Tests isolate themselves by database ([`Postgres::fresh_database`]).
pub fn shared() -> &'static Postgres {
    static PG: OnceLock<Result<Postgres, String>> = OnceLock::new();
    match PG.get_or_init(|| std::panic::catch_unwind(Postgres::start).map_err(|e| panic_message(&*e))) {
        Ok(pg) => pg,
        Err(msg) => panic!("shared PostgreSQL cluster failed to start: {msg}"),
    }
}

fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("MLFLOW_EIM_PG_BIN").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    if let Some(dir) =
        which("initdb").and_then(|p| p.canonicalize().ok()).and_then(|p| p.parent().map(Path::to_path_buf))
    {
        if dir.join("postgres").exists() {
            return dir;
        }
    }
    // Debian: /usr/lib/postgresql/<major>/bin, the newest major.
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b).unwrap_or_else(|| {
        panic!(
            "no PostgreSQL binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin: \
             install them (`apt-get install postgresql`; .ci/run does it) or set MLFLOW_EIM_PG_BIN"
        )
    })
}

#[derive(Debug, Clone, Copy)]
struct Owner {
    uid: u32,
    gid: u32,
}

/// `Some(postgres user)` when running as root, `None` otherwise.
fn run_as() -> Option<Owner> {
    let euid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)?.parse().ok()))
        .or_else(|| String::from_utf8(Command::new("id").arg("-u").output().ok()?.stdout).ok()?.trim().parse().ok())
        .unwrap_or(1u32);
    if euid != 0 {
        return None;
    }
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, POSTGRES_USER]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => Some(Owner { uid, gid }),
        _ => panic!(
            "tests run as root and PostgreSQL refuses to: they run it as the `postgres` system user, \
             which does not exist here (Debian's postgresql package creates it), or run the tests as another user"
        ),
    }
}

fn setpriv_args() -> Vec<OsString> {
    [format!("--reuid={POSTGRES_USER}"), format!("--regid={POSTGRES_USER}"), "--init-groups".into(), "--".into()]
        .into_iter()
        .map(OsString::from)
        .collect()
}

fn as_owner(run_as: &Option<Owner>, program: &Path) -> Command {
    match run_as {
        Some(_) => {
            let mut c = Command::new("setpriv");
            c.args(setpriv_args()).arg(program);
            c
        }
        None => Command::new(program),
    }
}
