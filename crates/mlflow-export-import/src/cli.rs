//! Command-line definitions: the Python tool's command and option names, nothing else.
//!
//! Boolean options take an optional value so that both `--use-src-user-id` and the Python
//! tool's `--use-src-user-id True` work in existing scripts.

use std::path::PathBuf;

use clap::{builder::BoolishValueParser, Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "mlflow-export-import",
    version,
    about = "Export, import and copy MLflow runs between tracking servers, directories and zip files.",
    long_about = "Export, import and copy MLflow runs between tracking servers, directories and zip files.\n\n\
Every run written to a tracking server carries `mlflow_export_import.source.*` tags naming the \
run it came from and an `mlflow_export_import.complete` tag written last, so running the same \
import or copy again skips what is complete and finishes what an interruption left half done.\n\n\
Credentials come from the environment: MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD (basic), \
MLFLOW_TRACKING_TOKEN (bearer), DATABRICKS_HOST/DATABRICKS_TOKEN or ~/.databrickscfg for \
`databricks` URIs. For copy, prefix any of them with SRC_ or DST_ to give each server its own \
(e.g. DST_MLFLOW_TRACKING_TOKEN); unprefixed variables apply to both."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// More detail on stderr (-v: debug, -vv: every request).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Write a JSON report (every source and destination id, every failure) to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Requests in flight at once per tracking server.
    #[arg(long, global = true, default_value_t = 16, value_name = "N")]
    pub max_requests_in_flight: usize,
    /// Artifact files transferred at once.
    #[arg(long, global = true, default_value_t = 4, value_name = "N")]
    pub transfers: usize,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export a run to a directory or a zip file.
    ExportRun(ExportRunArgs),
    /// Import a run from a directory or a zip file into an experiment.
    ImportRun(ImportRunArgs),
    /// Copy a run from one tracking server to another, streamed without a temporary copy.
    CopyRun(CopyRunArgs),
}

#[derive(Debug, Args)]
pub struct ExportRunArgs {
    /// Tracking server to read from.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Run ID.
    #[arg(long)]
    pub run_id: String,
    /// Output directory, or zip file when the name ends in `.zip`.
    #[arg(long, visible_alias = "output-dir")]
    pub output: PathBuf,
    /// Add `mlflow_tools.metadata.*` tags describing the source run (auditing).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_metadata_tags: bool,
    /// Databricks notebook formats; accepted for compatibility, notebooks are not exported.
    #[arg(long, value_name = "FORMATS")]
    pub notebook_formats: Option<String>,
}

#[derive(Debug, Args)]
pub struct ImportRunArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory or zip file made by export-run.
    #[arg(long, visible_alias = "input-dir")]
    pub input: PathBuf,
    /// Destination experiment; created when missing.
    #[arg(long)]
    pub experiment_name: String,
    #[command(flatten)]
    pub tags: ImportTagArgs,
}

#[derive(Debug, Args)]
pub struct ImportTagArgs {
    /// Keep the source run's user; otherwise the user running the import is recorded.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub use_src_user_id: bool,
    /// Import `mlflow.*` tags.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub import_mlflow_tags: bool,
    /// Import `mlflow_tools.metadata.*` tags written by --export-metadata-tags.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub import_metadata_tags: bool,
}

#[derive(Debug, Args)]
pub struct CopyRunArgs {
    /// Source tracking server.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Source run ID.
    #[arg(long, visible_alias = "src-run-id")]
    pub run_id: String,
    /// Destination experiment; created when missing.
    #[arg(long, visible_alias = "dst-experiment-name")]
    pub experiment_name: String,
    /// Add `mlflow_tools.metadata.*` tags describing the source run (auditing).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_metadata_tags: bool,
    #[command(flatten)]
    pub tags: ImportTagArgs,
}
