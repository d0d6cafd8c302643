//! Exit statuses, so that a script or scheduler can tell a job to re-run (some objects failed)
//! from a command to fix (bad input) and from a server to check (unreachable, refused).
//!
//! | status | meaning |
//! |---|---|
//! | 0 | everything asked for was done (or planned, with `--dry-run`; or `verify` found no difference) |
//! | 1 | the job ran but some objects failed (listed on stderr and in `--report`), `verify` found differences, or an error stopped the job |
//! | 2 | usage or input error: an option, a name that matches nothing, an export that cannot be read |
//! | 3 | a server could not be reached, or refused the credentials, while the job was planned (once objects move, such a failure is a failed object: 1) |

/// The table above, for `--help`.
pub const HELP: &str = "Exit status: 0 all done (or planned, or no difference found by verify); 1 some objects \
failed (listed on stderr and in --report), verify found differences, or an error stopped the job; 2 usage or \
input error (an option, a name that matches nothing, an export that cannot be read); 3 a server could not be \
reached or refused the credentials while the job was planned (once objects move, such a failure is a failed \
object: 1).";

pub const SOME_FAILED: u8 = 1;
pub const USAGE: u8 = 2;
pub const UNREACHABLE: u8 = 3;

/// An error in what the user asked for, found by a command after parsing (clap's own usage
/// errors exit with 2 too).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// `Err(Usage)` as an `anyhow` error, for `return usage(...)`.
pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(Usage(message.into()).into())
}

/// The status of a command that stopped on `error`.
pub fn status_of(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.is::<Usage>() || cause.is::<clap::Error>() {
            return USAGE;
        }
        if let Some(e) = cause.downcast_ref::<mlflow_transfer::Error>() {
            use mlflow_transfer::Error as E;
            match e {
                E::Input(_) | E::Format(_) | E::NotFound(_) => return USAGE,
                E::Client(c) => return status_of_client(c),
                _ => return SOME_FAILED,
            }
        }
        if let Some(c) = cause.downcast_ref::<mlflow_client::Error>() {
            return status_of_client(c);
        }
    }
    SOME_FAILED
}

fn status_of_client(error: &mlflow_client::Error) -> u8 {
    use mlflow_client::Error as E;
    match error {
        E::Config(_) => USAGE,
        E::Api { status: 401 | 403, .. } => UNREACHABLE,
        // A name or id the user gave that the server does not hold.
        e if e.is_not_found() => USAGE,
        E::Transport { .. } => UNREACHABLE,
        _ => SOME_FAILED,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16) -> mlflow_client::Error {
        mlflow_client::Error::Api {
            method: "GET",
            url: "http://h/x".into(),
            status,
            error_code: (status == 404).then(|| "RESOURCE_DOES_NOT_EXIST".into()),
            message: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn each_kind_of_error_has_its_status() {
        let status = |e: anyhow::Error| status_of(&e);
        assert_eq!(status(Usage("--experiments matches nothing".into()).into()), USAGE);
        assert_eq!(status(anyhow::Error::new(Usage("x".into())).context("while planning")), USAGE);
        assert_eq!(status(mlflow_transfer::Error::Input("no run.json".into()).into()), USAGE);
        assert_eq!(status(mlflow_transfer::Error::NotFound("experiment x".into()).into()), USAGE);
        assert_eq!(status(mlflow_client::Error::Config("bad uri".into()).into()), USAGE);
        assert_eq!(status(api(404).into()), USAGE);
        assert_eq!(status(mlflow_transfer::Error::Client(api(401)).into()), UNREACHABLE);
        assert_eq!(status(api(403).into()), UNREACHABLE);
        assert_eq!(status(api(500).into()), SOME_FAILED);
        assert_eq!(status(mlflow_transfer::Error::Unsupported("no traces".into()).into()), SOME_FAILED);
        assert_eq!(status(anyhow::anyhow!("something else")), SOME_FAILED);
    }
}
