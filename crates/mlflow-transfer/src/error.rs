//! The engine's one error type: what failed, on which object or file, and why.

use std::path::PathBuf;

use crate::format::FormatError;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error(transparent)]
    Client(#[from] mlflow_client::Error),
    /// A file of an export could not be read or written.
    #[error("{}: {source}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file of an export is not what the format says it should be (the error names it).
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The input is not an export we can read (missing files, unsafe paths, bad zip).
    #[error("{0}")]
    Input(String),
    /// Moving one artifact file failed (after its own retries).
    #[error("artifact {path}: {source}")]
    Artifact {
        path: String,
        #[source]
        source: Box<Error>,
    },
    /// An artifact arrived with a different size than listed (e.g. a body cut short).
    #[error("artifact {path}: expected {expected} bytes, got {actual}")]
    Truncated { path: String, expected: u64, actual: u64 },
    /// The destination cannot take what we need to write.
    #[error("{0}")]
    Unsupported(String),
    /// An object store (S3, Azure, GCS) refused or failed a request; the message names the
    /// store and holds no credential.
    #[error("{message}")]
    Store { message: String, transient: bool },
    /// MLflow's backend database, read directly, failed a query; the message names the
    /// database without its password.
    #[error("{message}")]
    Database { message: String, transient: bool },
    /// The object does not exist at the source.
    #[error("{0}")]
    NotFound(String),
    /// The server has not finished something in the time we wait for it (a model version
    /// still registering). Not the user's fault, and a later pass may find it done.
    #[error("{0}")]
    Pending(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Whether trying the same object again may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Client(e) => e.is_transient(),
            Error::Truncated { .. } | Error::Pending(_) => true,
            Error::Store { transient, .. } | Error::Database { transient, .. } => *transient,
            Error::Artifact { source, .. } => source.is_transient(),
            // A full disk or a read-only one stays so however often the job tries.
            Error::Io { source, .. } => !matches!(
                source.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::StorageFull
                    | std::io::ErrorKind::ReadOnlyFilesystem
                    | std::io::ErrorKind::QuotaExceeded
            ),
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A model version still registering when the wait ends is retried on a later pass, not
    /// reported as the user's bad input.
    #[test]
    fn waiting_on_the_server_is_transient_bad_input_is_not() {
        assert!(Error::Pending("version 3 of m still pending registration after 300s".into()).is_transient());
        assert!(!Error::Input("no run.json".into()).is_transient());
    }
}
