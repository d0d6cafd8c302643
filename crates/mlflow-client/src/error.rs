//! The client's one error type.
//!
//! Every variant names the request it came from by method and a redacted URL, so a failure in
//! a long migration can be traced without ever printing a credential.

use std::time::Duration;

/// What went wrong talking to a tracking server.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with an error status.
    #[error("{}", api_message(*.status, .error_code.as_deref(), .message, .method, .url))]
    Api {
        method: &'static str,
        url: String,
        status: u16,
        error_code: Option<String>,
        message: String,
        /// Delay the server asked for (`Retry-After`).
        retry_after: Option<Duration>,
    },
    /// The request did not complete: connection refused or reset, timeout, broken body, or a
    /// TLS certificate we do not trust.
    #[error("{}", transport_display(.method, .url, .source))]
    Transport {
        method: &'static str,
        url: String,
        #[source]
        source: reqwest::Error,
    },
    /// The server's answer was not the JSON we expected.
    #[error("{method} {url}: unexpected response body: {source}; body starts with {snippet:?}")]
    Decode {
        method: &'static str,
        url: String,
        snippet: String,
        #[source]
        source: serde_json::Error,
    },
    /// The server broke the API's own rules (a paging token that leads back to an earlier
    /// page): retrying cannot help.
    #[error("{0}")]
    Protocol(String),
    /// The tracking URI or credentials could not be turned into a client.
    #[error("{0}")]
    Config(String),
    /// A local file the client had to read (CA bundle, `~/.databrickscfg`).
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

fn api_message(status: u16, code: Option<&str>, message: &str, method: &str, url: &str) -> String {
    let what = match status {
        401 => "authentication failed (check the tracking username/password or token)",
        403 => "permission denied",
        _ => "request failed",
    };
    let code = code.map(|c| format!(" {c}")).unwrap_or_default();
    let message = if message.is_empty() { String::new() } else { format!(": {message}") };
    format!("{what}: {method} {url}: HTTP {status}{code}{message}")
}

fn transport_display(method: &str, url: &str, e: &reqwest::Error) -> String {
    if untrusted_certificate(e) {
        return format!(
            "TLS certificate not trusted: {method} {url}: the server's certificate is not trusted ({}); \
             set MLFLOW_TRACKING_SERVER_CERT_PATH to a PEM file with the CA certificate that signed it \
             (SRC_/DST_MLFLOW_TRACKING_SERVER_CERT_PATH for one side of a copy), \
             or MLFLOW_TRACKING_INSECURE_TLS=true to skip verification",
            cause_chain(e).trim_start_matches(": ")
        );
    }
    format!("{method} {url}: {}", transport_message(e))
}

/// Whether the TLS handshake failed because the server's certificate did not verify (unknown
/// issuer, wrong name, expired, ...): retrying cannot help, a setting must change.
fn untrusted_certificate(e: &reqwest::Error) -> bool {
    // rustls reports these as `invalid peer certificate: <reason>` (wrapped in an io::Error,
    // whose `source()` skips it, so look at each level's text).
    e.is_connect() && cause_chain(e).contains("invalid peer certificate")
}

/// `: cause: cause...` of an error, without its own text (reqwest's embeds the full URL).
fn cause_chain(e: &reqwest::Error) -> String {
    let mut out = String::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn transport_message(e: &reqwest::Error) -> String {
    // reqwest's own Display embeds the full URL; print only the cause chain.
    let mut out = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else if e.is_body() || e.is_decode() {
        "response body broken".to_string()
    } else {
        "request failed".to_string()
    };
    out.push_str(&cause_chain(e));
    if e.is_connect() && out.contains("refused") {
        out.push_str(" (is the server running, and are the tracking URI's host and port right?)");
    }
    out
}

/// Fragments of messages with which a busy MLflow SQL store answers 400 although nothing is
/// wrong with the request.
const OVERLOAD_MESSAGES: [&str; 2] = ["QueuePool limit", "database is locked"];

/// Two runs logging the same dataset into one experiment at once race in MLflow's SQL store: it
/// looks the dataset up, then inserts it, and the loser's transaction is rolled back with an
/// integrity error (sqlite, PostgreSQL, MySQL wordings). Resent, the request finds the dataset.
fn dataset_insert_race(url: &str, message: &str) -> bool {
    url.contains("/runs/log-inputs")
        && ["IntegrityError", "UNIQUE constraint failed", "duplicate key value", "Duplicate entry"]
            .iter()
            .any(|m| message.contains(m))
}

/// A 400 that says nothing about the request: the store was busy or lost a race, and rolled back.
/// A 500 of MLflow's SQL store after it retried the write itself with backoff (about 26 s):
/// the database refuses the rows (on MySQL, say, two tag keys equal under its case-insensitive
/// collation), and a resend would only repeat those retries.
fn retried_by_the_server(message: &str) -> bool {
    message.contains("Failed to set tags with given within")
}

fn rolled_back(url: &str, message: &str) -> bool {
    OVERLOAD_MESSAGES.iter().any(|m| message.contains(m)) || dataset_insert_race(url, message)
}

impl Error {
    /// Whether retrying the same request may succeed: 408, 429, 5xx but 501 (a route the
    /// server does not implement, such as OTLP spans on a file store), transport failures, and
    /// the overloaded-database answers that MLflow's SQL store reports as 400 (its connection
    /// pool timing out, sqlite's write lock, a lost race inserting a dataset).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { status: 400, message, url, .. } => rolled_back(url, message),
            Error::Api { status: 500..=599, message, .. } if retried_by_the_server(message) => false,
            // A feature the server was started without (workspaces on a server without
            // `--enable-workspaces`): a 500 that every resend repeats.
            Error::Api { error_code: Some(code), .. } if code == "FEATURE_DISABLED" => false,
            Error::Api { status, .. } => matches!(status, 408 | 429 | 500 | 502..=599),
            Error::Transport { source, .. } => !untrusted_certificate(source),
            _ => false,
        }
    }

    /// Whether the request certainly had no effect, so even a create may be resent: it never
    /// reached the server, was refused before being handled, or found no database connection
    /// (the store rolls back a transaction that hit sqlite's lock).
    pub fn was_not_sent(&self) -> bool {
        match self {
            // A certificate that did not verify will not verify on a resend either.
            Error::Transport { source, .. } => source.is_connect() && !untrusted_certificate(source),
            Error::Api { status: 400, message, url, .. } => rolled_back(url, message),
            Error::Api { status, .. } => matches!(status, 408 | 429),
            _ => false,
        }
    }

    /// The connection itself was refused (nothing listens there), not a TLS failure.
    pub fn is_connection_refused(&self) -> bool {
        match self {
            Error::Transport { source, .. } => {
                source.is_connect() && !untrusted_certificate(source) && cause_chain(source).contains("refused")
            }
            _ => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Error::Api { status: 404, .. }) || self.error_code() == Some("RESOURCE_DOES_NOT_EXIST")
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn error_code(&self) -> Option<&str> {
        match self {
            Error::Api { error_code, .. } => error_code.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Api { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, message: &str) -> Error {
        Error::Api {
            method: "GET",
            url: "u".into(),
            status,
            error_code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    #[test]
    fn transient_statuses_and_overloaded_database() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(api(s, "").is_transient(), "{s}");
        }
        assert!(api(400, "QueuePool limit of size 5 overflow 10 reached, connection timed out").is_transient());
        assert!(api(400, "(sqlite3.OperationalError) database is locked").is_transient());
        for s in [400, 401, 403, 404] {
            assert!(!api(s, "Invalid value").is_transient(), "{s}");
        }
    }

    #[test]
    fn a_lost_dataset_insert_race_is_retried() {
        let race = |url: &str| Error::Api {
            method: "POST",
            url: url.into(),
            status: 400,
            error_code: Some("BAD_REQUEST".into()),
            message: "(sqlite3.IntegrityError) UNIQUE constraint failed: datasets.experiment_id, datasets.name".into(),
            retry_after: None,
        };
        assert!(race("http://h/api/2.0/mlflow/runs/log-inputs").is_transient());
        assert!(race("http://h/api/2.0/mlflow/runs/log-inputs").was_not_sent());
        assert!(!race("http://h/api/2.0/mlflow/runs/log-batch").is_transient());
    }

    #[test]
    fn a_write_the_server_already_retried_is_not_resent() {
        let exhausted = api(500, "Failed to set tags with given within 3 retries. Keys: ['t', 'T']");
        assert!(!exhausted.is_transient());
        assert!(!exhausted.was_not_sent());
        assert!(api(500, "Failed to set tags for another reason").is_transient());
    }

    #[test]
    fn a_feature_the_server_lacks_is_not_retried() {
        let disabled = Error::Api {
            method: "GET",
            url: "u".into(),
            status: 500,
            error_code: Some("FEATURE_DISABLED".into()),
            message: "Workspace APIs are not available: workspaces are not enabled on this server".into(),
            retry_after: None,
        };
        assert!(!disabled.is_transient());
    }

    #[test]
    fn authentication_failures_say_so() {
        assert!(api(401, "").to_string().starts_with("authentication failed"));
    }
}
