//! What a job did, object by object: the source of truth for the summary, the exit code and
//! the `--report` file, which doubles as the id map from source to destination.

use std::time::Duration;

use serde::Serialize;

/// What happened to one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Written in full now.
    Created,
    /// An interrupted earlier attempt was finished.
    Resumed,
    /// A complete copy already existed.
    Skipped,
    /// Nothing usable was written; see `error`.
    Failed,
}

/// The result for one run.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    pub source_run_id: String,
    /// Destination run id, or the folder for exports.
    pub destination: Option<String>,
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub params: usize,
    pub tags: usize,
    pub metric_points: usize,
    pub artifact_files: usize,
    pub artifact_bytes: u64,
    /// Of `artifact_bytes`, those copied inside one object store (server-side), which never
    /// passed through this machine.
    pub artifact_bytes_in_store: u64,
    #[serde(serialize_with = "secs")]
    pub elapsed: Duration,
    /// Passes this run took: 1, or more when a transient failure sent it to a retry pass.
    pub attempts: u32,
    /// Whether the failure may go away on another attempt (network, throttling, 5xx).
    #[serde(skip)]
    pub retryable: bool,
}

impl RunOutcome {
    pub fn failed(source_run_id: &str, error: &crate::Error, elapsed: Duration) -> Self {
        Self {
            source_run_id: source_run_id.to_string(),
            destination: None,
            action: Action::Failed,
            error: Some(error.to_string()),
            retryable: error.is_transient(),
            params: 0,
            tags: 0,
            metric_points: 0,
            artifact_files: 0,
            artifact_bytes: 0,
            artifact_bytes_in_store: 0,
            elapsed,
            attempts: 1,
        }
    }
}

/// Totals over a job; data counts only what was written now.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub runs_created: usize,
    pub runs_resumed: usize,
    pub runs_skipped: usize,
    pub runs_failed: usize,
    /// Runs that needed more than one pass.
    pub runs_retried: usize,
    pub metric_points: usize,
    pub artifact_files: usize,
    pub artifact_bytes: u64,
    pub artifact_bytes_in_store: u64,
}

impl Summary {
    pub fn of(outcomes: &[RunOutcome]) -> Self {
        let mut s = Summary::default();
        for o in outcomes {
            match o.action {
                Action::Created => s.runs_created += 1,
                Action::Resumed => s.runs_resumed += 1,
                Action::Skipped => s.runs_skipped += 1,
                Action::Failed => s.runs_failed += 1,
            }
            if o.attempts > 1 {
                s.runs_retried += 1;
            }
            if matches!(o.action, Action::Created | Action::Resumed) {
                s.metric_points += o.metric_points;
                s.artifact_files += o.artifact_files;
                s.artifact_bytes += o.artifact_bytes;
                s.artifact_bytes_in_store += o.artifact_bytes_in_store;
            }
        }
        s
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1000.0).round() / 1000.0)
}
