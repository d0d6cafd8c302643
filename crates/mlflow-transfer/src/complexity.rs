//! A guard for tests that prove a cost is linear, not quadratic, in the job's size.
//!
//! Such a test runs its work at a size (10^5) where the linear cost is about a second and the
//! quadratic one 10^10 steps, many minutes even on a fast machine. The bound sits far from both,
//! so a loaded CI machine does not fail a linear run (a 5 s bound did, at 5.2 s) and a quadratic
//! one still fails, with a clear message instead of a hung suite.

use std::{sync::mpsc, thread, time::Duration};

/// Wall time allowed to work of size 10^5: 50x what the linear cost takes on a loaded 2-core
/// machine, a small fraction of what the quadratic one takes anywhere.
const BOUND: Duration = Duration::from_secs(60);

/// Runs `work` on its own thread and returns its result; panics if it is not done within
/// [`BOUND`], naming `what`.
pub(crate) fn linear<T: Send + 'static>(what: &str, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = tx.send(work());
    });
    match rx.recv_timeout(BOUND) {
        Ok(value) => value,
        // The work panicked: surface its panic, not a time-out.
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: not done in {BOUND:?}; the cost is not linear"),
    }
}
