//! The `mlflow-export-import` binary: a thin layer of argument parsing and terminal output over
//! the `mlflow-transfer` library.

mod cli;
mod commands;
mod console_scripts;
#[cfg(test)]
mod docs;
mod events;
mod examples;
mod exit;
mod progress;
mod python_options;
mod settings;

use std::process::ExitCode;

use clap::Parser;

use crate::cli::{Cli, Command};

fn main() -> ExitCode {
    let args = console_scripts::arguments(std::env::args_os().collect());
    let args = match python_options::adapt(args) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(exit::USAGE);
        }
    };
    let cli = Cli::parse_from(args);
    events::init(cli.global.log_format);
    init_logging(&cli.global);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let global = &cli.global;
    let result = runtime.block_on(async move {
        match cli.command {
            Command::ExportRun(a) => commands::export_run::run(a, global).await,
            Command::ImportRun(a) => commands::import_run::run(a, global).await,
            Command::CopyRun(a) => commands::copy_run::run(a, global).await,
            Command::ExportExperiment(a) => commands::export_experiment::run(a, global).await,
            Command::ImportExperiment(a) => commands::import_experiment::run(a, global).await,
            Command::CopyExperiment(a) => commands::copy_experiment::run(a, global).await,
            Command::ExportExperiments(a) => commands::export_experiments::run(a, global).await,
            Command::ImportExperiments(a) => commands::import_experiments::run(a, global).await,
            Command::ExportModel(a) => commands::export_model::run(a, global).await,
            Command::ImportModel(a) => commands::import_model::run(a, global).await,
            Command::CopyModel(a) => commands::copy_model::run(a, global).await,
            Command::CopyModelVersion(a) => commands::copy_model_version::run(a, global).await,
            Command::CopyModels(a) => commands::copy_models::run(a, global).await,
            Command::ExportModelVersion(a) => commands::export_model_version::run(a, global).await,
            Command::ImportModelVersion(a) => commands::import_model_version::run(a, global).await,
            Command::DownloadNotebook(a) => commands::download_notebook::run(a, global).await,
            Command::ListRegisteredModels(a) => commands::list_registered_models::run(a, global).await,
            Command::ExportModels(a) => commands::export_models::run(a, global).await,
            Command::ImportModels(a) => commands::import_models::run(a, global).await,
            Command::ExportAll(a) => commands::export_all::run(a, global).await,
            Command::ImportAll(a) => commands::import_all::run(a, global).await,
            Command::CopyAll(a) => commands::copy_all::run(a, global).await,
            Command::Sync(a) => commands::copy_all::sync(a, global).await,
            Command::ExportPrompt(a) => commands::export_prompt::run(a, global).await,
            Command::ImportPrompt(a) => commands::import_prompt::run(a, global).await,
            Command::ExportPrompts(a) => commands::export_prompts::run(a, global).await,
            Command::ImportPrompts(a) => commands::import_prompts::run(a, global).await,
            Command::CopyPrompt(a) => commands::copy_prompt::run(a, global).await,
            Command::CopyPrompts(a) => commands::copy_prompts::run(a, global).await,
            Command::ExportLoggedModel(a) => commands::logged_models::export_one(a, global).await,
            Command::ImportLoggedModel(a) => commands::logged_models::import_one(a, global).await,
            Command::ExportLoggedModels(a) => commands::logged_models::export_many(a, global).await,
            Command::ImportLoggedModels(a) => commands::logged_models::import_many(a, global).await,
            Command::CopyLoggedModel(a) => commands::logged_models::copy_one(a, global).await,
            Command::CopyLoggedModels(a) => commands::logged_models::copy_many(a, global).await,
            Command::ExportTrace(a) => commands::export_trace::run(a, global).await,
            Command::ImportTrace(a) => commands::import_trace::run(a, global).await,
            Command::ExportTraces(a) => commands::export_traces::run(a, global).await,
            Command::ImportTraces(a) => commands::import_traces::run(a, global).await,
            Command::CopyTraces(a) => commands::copy_traces::run(a, global).await,
            Command::Verify(a) => commands::verify::run(a, global).await,
            Command::Version(a) => commands::version::run(a, global).await,
            Command::Completions(a) => commands::completions::run(a),
            Command::Man => commands::man::run(),
            Command::Aliases(a) => commands::aliases::run(a, global),
            Command::ExportEvaluationDataset(a) => commands::export_evaluation_dataset::run(a, global).await,
            Command::ImportEvaluationDataset(a) => commands::import_evaluation_dataset::run(a, global).await,
            Command::CopyEvaluationDataset(a) => commands::copy_evaluation_dataset::run(a, global).await,
            Command::ExportEvaluationDatasets(a) => commands::export_evaluation_datasets::run(a, global).await,
            Command::ImportEvaluationDatasets(a) => commands::import_evaluation_datasets::run(a, global).await,
            Command::CopyEvaluationDatasets(a) => commands::copy_evaluation_datasets::run(a, global).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let top = e.to_string();
            // Library errors often include their cause in their own message already.
            let causes: Vec<String> =
                e.chain().skip(1).map(ToString::to_string).filter(|c| !top.contains(c.as_str())).collect();
            let mut text = format!("error: {top}");
            for cause in &causes {
                text += &format!("\n  caused by: {cause}");
            }
            let status = exit::status_of(&e);
            events::emit(
                events::Level::Error,
                "error",
                &text,
                serde_json::json!({"error": top, "causes": causes, "exit_status": status}),
            );
            ExitCode::from(status)
        }
    }
}

fn init_logging(global: &cli::GlobalArgs) {
    let ours = match (global.quiet, global.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "debug",
        (false, _) => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("MLFLOW_EXPORT_IMPORT_LOG").unwrap_or_else(|_| {
        // sqlx warns of every query over a second (reading 100,000 runs of a source database is
        // one): its statements are the tool's own business, not the user's.
        format!("warn,sqlx=error,mlflow_client={ours},mlflow_transfer={ours},mlflow_export_import={ours}").into()
    });
    if events::json() {
        // One JSON object per line, its fields at the top level like the tool's own events.
        tracing_subscriber::fmt()
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
        return;
    }
    // Colours only for a person at a terminal: logs piped to a file or a CI log stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(ansi)
        .init();
}
