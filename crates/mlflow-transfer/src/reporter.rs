//! Progress events, so that the engine never prints. The binary draws bars from them; tests
//! and library users may ignore them.

use crate::job::RunOutcome;

/// Receives progress as work happens. Every method has a no-op default.
pub trait Reporter: Send + Sync {
    /// A job will move this many runs.
    fn runs_planned(&self, _runs: usize) {}
    /// A run is about to be read.
    fn run_started(&self, _source_run_id: &str) {}
    /// The artifacts of a run are known.
    fn artifacts_planned(&self, _files: usize, _bytes: u64) {}
    /// Artifact bytes moved (called often, with small increments).
    fn bytes_moved(&self, _bytes: u64) {}
    /// A run is done, skipped or failed.
    fn run_finished(&self, _outcome: &RunOutcome) {}
}

/// Reports nothing.
pub struct Silent;

impl Reporter for Silent {}
