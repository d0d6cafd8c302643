//! A connection to MLflow's backend database (SQLite, PostgreSQL or MySQL, as the tracking
//! server's `--backend-store-uri` names it): read-only for a source, writable (in transactions)
//! for the opt-in sink; and the few spelling differences between the three dialects that the
//! queries need.

use std::{collections::HashSet, path::PathBuf};

use futures::TryStreamExt;
use sqlx::{
    any::{install_default_drivers, AnyPoolOptions, AnyQueryResult, AnyRow},
    Any, AnyPool, Executor,
};

use crate::{Error, Result};

/// Connections open at once: reads of a few runs in parallel, far below what a server allows.
pub(super) const CONNECTIONS: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    MySql,
}

/// A value bound to a query's `?`.
#[derive(Clone, Copy)]
pub enum Bind<'a> {
    Text(&'a str),
    Int(i64),
    /// Writes only.
    Float(f64),
    Bool(bool),
    OptText(Option<&'a str>),
    OptInt(Option<i64>),
}

/// MLflow's database, opened read-only (or, for the sink, writable).
pub struct Db {
    pool: AnyPool,
    dialect: Dialect,
    /// The URI as given, without its password: what messages and copies' identity name.
    uri: String,
    /// The tables the database has: 2.x databases lack the MLflow 3 ones.
    tables: HashSet<String>,
    /// Whether tables have MLflow 3.10's `workspace` column (only the `default` one is read, as a
    /// server asked without a workspace answers).
    workspaces: bool,
}

/// Whether `uri` names a backend database rather than a tracking server or an export.
pub fn is_database_uri(uri: &str) -> bool {
    let scheme = uri.split_once(':').map_or("", |(s, _)| s).to_ascii_lowercase();
    let base = scheme.split('+').next().unwrap_or("");
    matches!(base, "sqlite" | "postgresql" | "postgres" | "mysql" | "mssql")
}

/// The sqlx URL of a SQLAlchemy database URI, and its dialect. SQLAlchemy's
/// `sqlite:///rel.db` is relative to the working folder and `sqlite:////abs.db` absolute;
/// driver suffixes (`postgresql+psycopg2`, `mysql+pymysql`) are dropped.
fn connect_url(uri: &str, writable: bool) -> Result<(Dialect, String)> {
    let (scheme, rest) = uri.split_once("://").ok_or_else(|| Error::Input(format!("{uri:?} is not a database URI")))?;
    let base = scheme.split('+').next().unwrap_or("").to_ascii_lowercase();
    match base.as_str() {
        "sqlite" => {
            let path = rest.strip_prefix('/').unwrap_or(rest);
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() || path == ":memory:" {
                return Err(Error::Input(format!("{uri:?}: name a database file (sqlite:///path/mlflow.db)")));
            }
            let file = std::fs::canonicalize(PathBuf::from(path))
                .map_err(|e| Error::Input(format!("{uri}: no database file {path:?} ({e})")))?;
            let shown = file.display().to_string();
            if !file.is_file() || shown.contains(['?', '#', '%']) {
                return Err(Error::Input(format!("{uri}: {shown:?} is not a database file this tool can open")));
            }
            // Read-only: a running server's database is only read, and never converted (sqlx
            // would otherwise create a missing file, or switch its journal mode). A sink's
            // `rw` never creates one either.
            let mode = if writable { "rw" } else { "ro" };
            Ok((Dialect::Sqlite, format!("sqlite://{shown}?mode={mode}")))
        }
        "postgresql" | "postgres" => Ok((Dialect::Postgres, format!("postgres://{rest}"))),
        "mysql" => Ok((Dialect::MySql, format!("mysql://{rest}"))),
        "mssql" => Err(Error::Unsupported(format!(
            "{}: SQL Server databases are not read directly; use the tracking server's URI",
            mlflow_client::redact(uri)
        ))),
        _ => Err(Error::Input(format!("{uri:?} is not a database URI"))),
    }
}

impl Db {
    /// Connects to `uri` read-only and reads which tables it has. A wrong password or host is
    /// one line naming the database without the password.
    pub async fn open(uri: &str) -> Result<Self> {
        Self::connect(uri, false).await
    }

    /// Connects to `uri` for writing (the sink). SQLite takes one writer at a time: its
    /// transactions go through one connection, rather than failing busy on each other.
    pub async fn open_writable(uri: &str) -> Result<Self> {
        Self::connect(uri, true).await
    }

    async fn connect(uri: &str, writable: bool) -> Result<Self> {
        let (dialect, url) = connect_url(uri, writable)?;
        let shown = mlflow_client::redact(uri);
        install_default_drivers();
        let read_only = match dialect {
            _ if writable => "",
            Dialect::Postgres => "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            Dialect::MySql => "SET SESSION TRANSACTION READ ONLY",
            Dialect::Sqlite => "",
        };
        let connections = match dialect {
            Dialect::Sqlite if writable => 1,
            // SQLite reads run on this machine's cores, one thread per connection, each with a
            // page cache of 2 MB: beyond two a core they add memory, not speed.
            Dialect::Sqlite => {
                let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
                u32::try_from(cores * 2).unwrap_or(CONNECTIONS).clamp(2, CONNECTIONS)
            }
            _ => CONNECTIONS,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(connections)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if !read_only.is_empty() {
                        conn.execute(read_only).await?;
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| Error::Database {
                message: format!("cannot open {shown}: {}", describe(&e)),
                transient: false,
            })?;
        let mut db = Self { pool, dialect, uri: shown, tables: HashSet::new(), workspaces: false };
        let list = match dialect {
            Dialect::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'table'",
            Dialect::Postgres => {
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema()"
            }
            Dialect::MySql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()"
            }
        };
        let rows = db.rows(list, &[]).await?;
        db.tables = rows.iter().map(|r| text(r, 0)).collect::<Result<_>>()?;
        if !db.has_table("runs") || !db.has_table("experiments") {
            return Err(Error::Input(format!("{}: not an MLflow database (it has no runs table)", db.uri)));
        }
        db.workspaces = db.rows("SELECT COUNT(*) FROM experiments WHERE workspace = 'default'", &[]).await.is_ok();
        Ok(db)
    }

    pub fn uri(&self) -> &str {
        &self.uri
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Whether tables have MLflow 3.10's `workspace` column.
    pub fn has_workspaces(&self) -> bool {
        self.workspaces
    }

    /// Starts a transaction: what it writes is seen by the server only once committed.
    pub async fn begin(&self) -> Result<Tx<'_>> {
        let tx = self.pool.begin().await.map_err(|e| self.error(&e))?;
        Ok(Tx { db: self, tx })
    }

    fn error(&self, e: &sqlx::Error) -> Error {
        Error::Database {
            message: format!("{}: {}", self.uri, describe(e)),
            transient: matches!(e, sqlx::Error::PoolTimedOut | sqlx::Error::Io(_)),
        }
    }

    pub fn has_table(&self, name: &str) -> bool {
        self.tables.contains(name)
    }

    /// `AND <alias>workspace = 'default'` where tables have workspaces, else nothing.
    pub fn in_default_workspace(&self, alias: &str) -> String {
        if self.workspaces {
            format!(" AND {alias}workspace = 'default'")
        } else {
            String::new()
        }
    }

    /// The rows of `query`, written with `?` placeholders, `"quoted"` identifiers and
    /// `CAST(… AS BIGINT)`, in this database's dialect.
    pub async fn rows(&self, query: &str, binds: &[Bind<'_>]) -> Result<Vec<AnyRow>> {
        let sql = self.dialect_of(query);
        bound(&sql, binds).fetch_all(&self.pool).await.map_err(|e| self.error(&e))
    }

    /// Each row of `query` ([`Self::rows`]) handed to `take` as it arrives, none kept: for
    /// answers of one row per run.
    pub async fn each_row(
        &self,
        query: &str,
        binds: &[Bind<'_>],
        mut take: impl FnMut(&AnyRow) -> Result<()>,
    ) -> Result<()> {
        let sql = self.dialect_of(query);
        let mut rows = bound(&sql, binds).fetch(&self.pool);
        while let Some(row) = rows.try_next().await.map_err(|e| self.error(&e))? {
            take(&row)?;
        }
        Ok(())
    }

    fn dialect_of(&self, query: &str) -> String {
        match self.dialect {
            Dialect::Sqlite => query.to_string(),
            Dialect::MySql => query.replace('"', "`").replace("AS BIGINT)", "AS SIGNED)"),
            Dialect::Postgres => {
                let mut out = String::with_capacity(query.len() + 8);
                let mut n = 0;
                for c in query.chars() {
                    if c == '?' {
                        n += 1;
                        out.push_str(&format!("${n}"));
                    } else {
                        out.push(c);
                    }
                }
                out
            }
        }
    }
}

/// `sql` with `binds` bound to its placeholders in order.
fn bound<'q>(sql: &'q str, binds: &'q [Bind<'q>]) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    let mut q = sqlx::query(sql);
    for b in binds {
        q = match b {
            Bind::Text(t) => q.bind(*t),
            Bind::Int(i) => q.bind(*i),
            Bind::Float(f) => q.bind(*f),
            Bind::Bool(b) => q.bind(*b),
            Bind::OptText(t) => q.bind(*t),
            Bind::OptInt(i) => q.bind(*i),
        };
    }
    q
}

/// A transaction of the sink: dropped without [`Tx::commit`], it is rolled back.
pub struct Tx<'a> {
    db: &'a Db,
    tx: sqlx::Transaction<'static, Any>,
}

impl Tx<'_> {
    /// Runs one statement written as for [`Db::rows`].
    pub async fn execute(&mut self, query: &str, binds: &[Bind<'_>]) -> Result<AnyQueryResult> {
        let sql = self.db.dialect_of(query);
        bound(&sql, binds).execute(&mut *self.tx).await.map_err(|e| self.db.error(&e))
    }

    pub async fn rows(&mut self, query: &str, binds: &[Bind<'_>]) -> Result<Vec<AnyRow>> {
        let sql = self.db.dialect_of(query);
        bound(&sql, binds).fetch_all(&mut *self.tx).await.map_err(|e| self.db.error(&e))
    }

    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await.map_err(|e| self.db.error(&e))
    }
}

/// A database error as one line without the statement (which can be long) or credentials.
fn describe(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        other => other.to_string(),
    }
}

/// Column `i` of a row as text; a NULL is empty.
pub fn text(row: &AnyRow, i: usize) -> Result<String> {
    Ok(opt_text(row, i)?.unwrap_or_default())
}

/// MySQL hands some text columns over as bytes (a binary collation): those are decoded as
/// UTF-8.
pub fn opt_text(row: &AnyRow, i: usize) -> Result<Option<String>> {
    use sqlx::Row;
    match row.try_get::<Option<String>, _>(i) {
        Ok(v) => Ok(v),
        Err(e) => match row.try_get::<Option<Vec<u8>>, _>(i) {
            Ok(bytes) => {
                bytes.map(|b| String::from_utf8(b).map_err(|u| decode(sqlx::Error::Decode(Box::new(u))))).transpose()
            }
            Err(_) => Err(decode(e)),
        },
    }
}

pub fn opt_int(row: &AnyRow, i: usize) -> Result<Option<i64>> {
    use sqlx::Row;
    row.try_get::<Option<i64>, _>(i).map_err(decode)
}

pub fn int(row: &AnyRow, i: usize) -> Result<i64> {
    Ok(opt_int(row, i)?.unwrap_or_default())
}

pub fn float(row: &AnyRow, i: usize) -> Result<f64> {
    use sqlx::Row;
    Ok(row.try_get::<Option<f64>, _>(i).map_err(decode)?.unwrap_or_default())
}

fn decode(e: sqlx::Error) -> Error {
    Error::Database { message: format!("unexpected column type in MLflow's database: {e}"), transient: false }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlalchemy_uris_become_sqlx_urls() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("mlflow.db");
        std::fs::write(&db, b"").unwrap();
        let (d, url) = connect_url(&format!("sqlite:///{}", db.display()), false).unwrap();
        assert_eq!(d, Dialect::Sqlite);
        assert_eq!(url, format!("sqlite://{}?mode=ro", std::fs::canonicalize(&db).unwrap().display()));
        let e = connect_url("sqlite:////nonexistent/x.db", false).unwrap_err().to_string();
        assert!(e.contains("no database file"), "{e}");
        assert_eq!(
            connect_url("postgresql+psycopg2://u:p@h/db", false).unwrap(),
            (Dialect::Postgres, "postgres://u:p@h/db".into())
        );
        assert_eq!(
            connect_url("mysql+pymysql://u:p@h:3306/db", false).unwrap(),
            (Dialect::MySql, "mysql://u:p@h:3306/db".into())
        );
        let e = connect_url("mssql+pyodbc://u:secret@h/db", false).unwrap_err().to_string();
        assert!(e.contains("SQL Server") && !e.contains("secret"), "{e}");
        assert!(is_database_uri("postgresql://h/db") && is_database_uri("sqlite:///x.db"));
        assert!(!is_database_uri("http://h:5000") && !is_database_uri("databricks://p") && !is_database_uri("/tmp/x"));
    }
}
