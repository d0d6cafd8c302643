//! One module per subcommand; each only builds options and calls the library. What they
//! share is here: the closing summary, the report file and the exit status.

pub mod copy_run;
pub mod export_run;
pub mod import_run;

use std::{path::Path, process::ExitCode, time::Instant};

use anyhow::Context;
use mlflow_client::MlflowClient;
use mlflow_transfer::report::{RunOutcome, Summary};
use serde_json::json;

use crate::cli::GlobalArgs;

/// Prints the summary to stderr, the id map to stdout, writes `--report`, and says whether
/// everything asked for succeeded.
pub fn finish(
    command: &str,
    global: &GlobalArgs,
    outcomes: &[RunOutcome],
    clients: &[(&str, &MlflowClient)],
    started: Instant,
) -> anyhow::Result<ExitCode> {
    let summary = Summary::of(outcomes);
    let requests: u64 = clients.iter().map(|(_, c)| c.stats().requests.load(std::sync::atomic::Ordering::Relaxed)).sum();
    let retries: u64 = clients.iter().map(|(_, c)| c.stats().retries.load(std::sync::atomic::Ordering::Relaxed)).sum();
    let elapsed = started.elapsed();
    for o in outcomes.iter().filter(|o| o.destination.is_some()) {
        println!("{}\t{}", o.source_run_id, o.destination.as_deref().unwrap_or_default());
    }
    if !global.quiet || summary.runs_failed > 0 {
        eprintln!(
            "{command}: runs {} created, {} resumed, {} skipped, {} failed; {} metric points; {} artifact files ({}); {requests} requests, {retries} retries; {:.1}s",
            summary.runs_created,
            summary.runs_resumed,
            summary.runs_skipped,
            summary.runs_failed,
            summary.metric_points,
            summary.artifact_files,
            indicatif::HumanBytes(summary.artifact_bytes),
            elapsed.as_secs_f64()
        );
    }
    if let Some(path) = &global.report {
        let report = json!({
            "command": command,
            "servers": clients.iter().map(|(role, c)| json!({"role": role, "tracking_uri": c.base_url()})).collect::<Vec<_>>(),
            "summary": summary,
            "requests": requests,
            "retries": retries,
            "elapsed_seconds": elapsed.as_secs_f64(),
            "runs": outcomes,
        });
        write_report(path, &report)?;
    }
    Ok(if summary.runs_failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn write_report(path: &Path, report: &serde_json::Value) -> anyhow::Result<()> {
    let bytes = serde_json::to_vec_pretty(report).expect("JSON values always serialize");
    std::fs::write(path, bytes).with_context(|| format!("writing report {}", path.display()))
}
