//! The terminal side of the engine's [`Reporter`]: a runs bar and a bytes bar (with rates and
//! ETA) while a job moves, and one line per finished run. Bars are drawn only when stderr is a
//! terminal; otherwise only the lines are printed.

use std::io::IsTerminal;

use crate::events;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mlflow_transfer::{
    job::{Action, RunOutcome},
    Reporter,
};

pub struct Progress {
    bars: MultiProgress,
    runs: ProgressBar,
    bytes: ProgressBar,
    quiet: bool,
}

impl Progress {
    pub fn new(quiet: bool) -> Self {
        let target = if quiet || crate::events::json() || !std::io::stderr().is_terminal() {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        let bars = MultiProgress::with_draw_target(target);
        let runs = bars.add(ProgressBar::new(0));
        runs.set_style(
            ProgressStyle::with_template("runs      [{bar:30}] {pos}/{len} {per_sec} ETA {eta} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        let bytes = bars.add(ProgressBar::new(0));
        bytes.set_style(
            ProgressStyle::with_template("artifacts [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Self { bars, runs, bytes, quiet }
    }

    pub fn finish(&self) {
        self.runs.finish_and_clear();
        self.bytes.finish_and_clear();
    }
}

impl Reporter for Progress {
    fn runs_planned(&self, runs: usize) {
        self.runs.inc_length(runs as u64);
    }

    fn run_started(&self, source_run_id: &str) {
        self.runs.set_message(source_run_id.to_string());
    }

    fn artifacts_planned(&self, _files: usize, bytes: u64) {
        self.bytes.inc_length(bytes);
    }

    fn bytes_moved(&self, bytes: u64) {
        self.bytes.inc(bytes);
    }

    fn run_finished(&self, o: &RunOutcome) {
        self.runs.inc(1);
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
                    Action::Updated => "updated with what its source gained",
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
        let line = match &o.notebook {
            Some(notebook) => format!("{line}; notebook: {notebook}"),
            None => line,
        };
        let level = if o.action == Action::Failed { events::Level::Error } else { events::Level::Info };
        let fields = serde_json::to_value(o).unwrap_or_default();
        self.bars.suspend(|| events::emit(level, "run", &line, fields));
    }
}
