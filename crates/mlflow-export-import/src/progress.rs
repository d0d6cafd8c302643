//! The terminal side of the engine's [`Reporter`]: a byte bar while artifacts move, and one
//! line per finished run. Bars are drawn only when stderr is a terminal.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlflow_transfer::{
    report::{Action, RunOutcome},
    Reporter,
};

pub struct Progress {
    bar: ProgressBar,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Self { bar, quiet }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Reporter for Progress {
    fn run_started(&self, source_run_id: &str) {
        self.bar.set_message(format!("run {source_run_id}"));
    }

    fn artifacts_planned(&self, _files: usize, bytes: u64) {
        self.bar.inc_length(bytes);
    }

    fn bytes_moved(&self, bytes: u64) {
        self.bar.inc(bytes);
    }

    fn run_finished(&self, o: &RunOutcome) {
        if self.quiet && o.action != Action::Failed {
            return;
        }
        let line = match o.action {
            Action::Failed => format!("error: run {}: {}", o.source_run_id, o.error.as_deref().unwrap_or("failed")),
            action => format!(
                "run {} -> {} ({}): {} params, {} tags, {} metric points, {} artifact files ({}) in {:.1}s",
                o.source_run_id,
                o.destination.as_deref().unwrap_or("-"),
                match action {
                    Action::Created => "created",
                    Action::Resumed => "resumed an interrupted copy",
                    _ => "already complete, skipped",
                },
                o.params,
                o.tags,
                o.metric_points,
                o.artifact_files,
                indicatif::HumanBytes(o.artifact_bytes),
                o.elapsed.as_secs_f64()
            ),
        };
        self.bar.suspend(|| eprintln!("{line}"));
    }
}
