//! A throwaway MySQL-compatible server (MariaDB) for MLflow backend stores:
//! `mariadb-install-db` into a temp dir, one `mariadbd` on `127.0.0.1:<free port>` (its socket
//! in the temp dir too), and a password login [`MYSQL_USER`] / [`MYSQL_PASSWORD`] with every
//! privilege, created at each start by an `--init-file` (the install step runs with the grant
//! tables off, so it cannot create users).
//!
//! Nothing is read from `/etc/mysql` (`--no-defaults` everywhere): the server gets
//! `character-set-server=utf8mb4` with [`COLLATION`], what Debian's `mariadb-server` configures
//! and what MLflow needs (its `MEDIUMTEXT` columns are sized for utf8mb4; the compiled-in latin1
//! cannot store most text). That collation compares case- and accent-insensitively and ignores
//! trailing spaces, as production MySQL/MariaDB databases usually do, so keys or names that
//! differ only that way collide (see `tests/it/backends.rs` of mlflow-export-import).
//!
//! `mariadbd` refuses to run as root. When the tests run as root (CI does), the data directory
//! belongs to the `mysql` system user (created by Debian's `mariadb-server`) and the install
//! step and the server get `--user=mysql`, which makes them drop to it; otherwise they run as
//! the current user. Programs (`mariadbd` or `mysqld`, `mariadb-install-db` or
//! `mysql_install_db`, `mariadb` or `mysql`) are looked up in `$MLFLOW_EIM_MYSQL_BIN`, then on
//! `PATH`, then in `/usr/sbin`, `/usr/bin` (where Debian puts them). Oracle MySQL's
//! `mysqld --initialize` is not supported: install `mariadb-server`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::process::{free_port, fresh_temp_dir, panic_message, port_open, run_checked, which, Launch, Service};

/// The login every database URI uses (all privileges, from any host).
pub const MYSQL_USER: &str = "mlflow";
/// Its password (URIs carry it: `mysql+pymysql://mlflow:PASSWORD@…`).
pub const MYSQL_PASSWORD: &str = "mlflow-eim";
/// Collation of the server and of every database it creates: MariaDB's default for utf8mb4
/// (MySQL 8's is `utf8mb4_0900_ai_ci`, also case- and accent-insensitive).
pub const COLLATION: &str = "utf8mb4_general_ci";

/// A running MariaDB server, shut down and removed when dropped or when the test process exits.
#[derive(Debug)]
pub struct Mysql {
    pub port: u16,
    /// Temp dir holding `data/`, the socket, `init.sql` and `mysql.log`.
    pub root: PathBuf,
    /// `mariadbd` (or `mysqld`).
    pub server_bin: PathBuf,
    /// The command-line client (`mariadb` or `mysql`) that [`Self::query`] runs.
    pub client_bin: PathBuf,
    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub version: String,
    service: Service,
}

impl Mysql {
    /// Installs a new data directory and starts the server on it; panics with the log when it
    /// does not answer within 60 s.
    pub fn start() -> Mysql {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start() {
                Ok(m) => return m,
                Err((msg, retry)) if retry => last = msg,
                Err((msg, _)) => panic!("{msg}"),
            }
        }
        panic!("{last}")
    }

    fn try_start() -> Result<Mysql, (String, bool)> {
        let server_bin = program(&["mariadbd", "mysqld"]);
        let install_db = program(&["mariadb-install-db", "mysql_install_db"]);
        let client_bin = program(&["mariadb", "mysql"]);
        let root = fresh_temp_dir("mysql");
        let data = root.join("data");
        let as_root = running_as_root();
        if as_root {
            let (uid, gid) = mysql_owner();
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {} to mysql: {e}", root.display()));
        }
        // What both the install step and the server get (the redo log size must agree).
        let mut common: Vec<OsString> = vec!["--no-defaults".into()];
        if as_root {
            common.push("--user=mysql".into());
        }
        common.push(flag("--datadir=", &data));
        common.extend(
            [
                // A throwaway server: no durability, a small redo log.
                "--innodb-log-file-size=16M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--skip-name-resolve",
            ]
            .map(OsString::from),
        );
        let mut cmd = Command::new(&install_db);
        cmd.args(&common).arg("--skip-test-db").current_dir(&root);
        run_checked(&mut cmd, "mariadb-install-db");

        let init = root.join("init.sql");
        std::fs::write(
            &init,
            format!(
                "CREATE USER IF NOT EXISTS '{MYSQL_USER}'@'%' IDENTIFIED BY '{MYSQL_PASSWORD}';\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{MYSQL_USER}'@'%' WITH GRANT OPTION;\n"
            ),
        )
        .unwrap_or_else(|e| panic!("write {}: {e}", init.display()));

        let port = free_port();
        let log_path = root.join("mysql.log");
        let mut args = common;
        args.extend([
            flag("--socket=", &root.join("mysqld.sock")),
            flag("--pid-file=", &root.join("mysqld.pid")),
            flag("--init-file=", &init),
            format!("--port={port}").into(),
            "--bind-address=127.0.0.1".into(),
            "--character-set-server=utf8mb4".into(),
            format!("--collation-server={COLLATION}").into(),
            // Room for several 4-worker MLflow servers (each worker pools up to 15 connections).
            "--max-connections=400".into(),
            "--innodb-buffer-pool-size=64M".into(),
        ]);
        let mut service = Service::spawn(Launch {
            name: "mariadbd",
            program: server_bin.as_os_str(),
            args: args.iter().map(OsString::as_os_str).collect(),
            env: vec![],
            log_path: &log_path,
            remove_dir: Some(&root),
            // TERM is mariadbd's normal shutdown (it closes client connections itself).
            stop_signal: None,
            cwd: Some(&root),
        });
        let mut version = String::new();
        let ready = service.wait_ready(Duration::from_secs(60), || {
            if !port_open(port) {
                return false;
            }
            // The port opens before the init file has created the login.
            match client_command(&client_bin, port, "mysql", "SELECT VERSION()").output() {
                Ok(o) if o.status.success() => {
                    version = String::from_utf8_lossy(&o.stdout).trim().to_string();
                    true
                }
                _ => false,
            }
        });
        if let Err(msg) = ready {
            let retry = msg.contains("ddress already in use");
            return Err((msg, retry));
        }
        Ok(Mysql { port, root, server_bin, client_bin, version, service })
    }

    /// `mysql+pymysql://mlflow:mlflow-eim@127.0.0.1:PORT/<database>`, for
    /// `--backend-store-uri` (the venv has PyMySQL; `scripts/setup-venv.sh` pins it).
    pub fn uri(&self, database: &str) -> String {
        format!("mysql+pymysql://{MYSQL_USER}:{MYSQL_PASSWORD}@127.0.0.1:{}/{database}", self.port)
    }

    /// Creates database `name` (lowercase letters, digits, `_`) with `CHARACTER SET utf8mb4`
    /// and [`COLLATION`], and returns its [`Self::uri`].
    pub fn create_database(&self, name: &str) -> String {
        assert!(
            !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "database name {name:?}: use at most 64 lowercase letters, digits and _"
        );
        self.query("mysql", &format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE {COLLATION}"));
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

    /// Runs SQL with the client in batch mode against a database (a name, or a URI from this
    /// server) and returns its output: one line per row, columns separated by a tab, no header;
    /// the client escapes NUL, tab, newline and backslash in values as `\0`, `\t`, `\n`, `\\`
    /// (select `HEX(col)` for the exact bytes).
    pub fn query(&self, database: &str, sql: &str) -> String {
        let db = database.rsplit('/').next().unwrap_or(database);
        let db = db.split('?').next().unwrap_or(db);
        run_checked(&mut client_command(&self.client_bin, self.port, db, sql), &format!("mariadb {sql:?}"))
    }

    /// The last `max_bytes` of the server log.
    pub fn log_tail(&self, max_bytes: usize) -> String {
        self.service.log_tail(max_bytes)
    }
}

/// The MariaDB server of this test binary, started on first use, stopped when the process
/// exits. Tests isolate themselves by database ([`Mysql::fresh_database`]).
pub fn shared() -> &'static Mysql {
    static M: OnceLock<Result<Mysql, String>> = OnceLock::new();
    match M.get_or_init(|| std::panic::catch_unwind(Mysql::start).map_err(|e| panic_message(&*e))) {
        Ok(m) => m,
        Err(msg) => panic!("shared MariaDB server failed to start: {msg}"),
    }
}

fn client_command(client: &Path, port: u16, database: &str, sql: &str) -> Command {
    let mut cmd = Command::new(client);
    cmd.args(["--no-defaults", "--batch", "--skip-column-names", "--protocol=TCP", "-h", "127.0.0.1"])
        .arg(format!("--port={port}"))
        .arg(format!("--user={MYSQL_USER}"))
        .arg(format!("--password={MYSQL_PASSWORD}"))
        .arg(format!("--database={database}"))
        .arg("--execute")
        .arg(sql);
    cmd
}

fn flag(name: &str, path: &Path) -> OsString {
    let mut s = OsString::from(name);
    s.push(path);
    s
}

/// The first of `names` found in `$MLFLOW_EIM_MYSQL_BIN`, on `PATH`, in `/usr/sbin`, `/usr/bin`.
fn program(names: &[&str]) -> PathBuf {
    let dirs: Vec<PathBuf> =
        std::env::var_os("MLFLOW_EIM_MYSQL_BIN").filter(|d| !d.is_empty()).map(PathBuf::from).into_iter().collect();
    for name in names {
        if let Some(p) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            return p;
        }
    }
    for name in names {
        if let Some(p) = which(name) {
            return p;
        }
    }
    for name in names {
        if let Some(p) = ["/usr/sbin", "/usr/bin"].iter().map(|d| Path::new(d).join(name)).find(|p| p.is_file()) {
            return p;
        }
    }
    panic!(
        "none of {names:?} on PATH, in /usr/sbin or /usr/bin: install MariaDB \
         (`apt-get install mariadb-server`; .ci/run does it) or set MLFLOW_EIM_MYSQL_BIN"
    )
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2)?.parse().ok()))
        .or_else(|| String::from_utf8(Command::new("id").arg("-u").output().ok()?.stdout).ok()?.trim().parse().ok())
        == Some(0u32)
}

/// uid and gid of the `mysql` system user.
fn mysql_owner() -> (u32, u32) {
    let id = |flag: &str| -> Option<u32> {
        let out = Command::new("id").args([flag, "mysql"]).output().ok()?;
        String::from_utf8(out.stdout).ok()?.trim().parse().ok()
    };
    match (id("-u"), id("-g")) {
        (Some(uid), Some(gid)) => (uid, gid),
        _ => panic!(
            "tests run as root and mariadbd refuses to: it runs as the `mysql` system user, which \
             does not exist here (Debian's mariadb-server creates it), or run the tests as another user"
        ),
    }
}
