//! Command-line definitions: the Python tool's command and option names, nothing else.
//!
//! Boolean options take an optional value so that both `--use-src-user-id` and the Python
//! tool's `--use-src-user-id True` work in existing scripts.

use std::path::PathBuf;

use clap::{builder::BoolishValueParser, Args, Parser, Subcommand};

use mlflow_transfer::model::NotebookFormat;

use crate::{events::LogFormat, examples};

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
MLFLOW_TRACKING_TOKEN (bearer), DATABRICKS_HOST with DATABRICKS_TOKEN (personal access token) or \
DATABRICKS_CLIENT_ID/DATABRICKS_CLIENT_SECRET (OAuth machine-to-machine), or a ~/.databrickscfg \
profile (host, token or client_id/client_secret, auth_type), for `databricks` URIs. For copy, prefix any of them with SRC_ or DST_ to give each server its own \
(e.g. DST_MLFLOW_TRACKING_TOKEN); unprefixed variables apply to both.",
    after_long_help = crate::exit::HELP
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
    /// How stderr reports the job: `text`, lines for a person (colours only on a terminal
    /// without NO_COLOR); or `json`, one JSON object per event (`timestamp`, `level`, `event`,
    /// `message` and the event's fields: every run moved, every failure, the summary, a fatal
    /// error with its exit status) for schedulers and log pipelines. Progress bars are drawn
    /// only for `text` on a terminal.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT", env = "MLFLOW_EXPORT_IMPORT_LOG_FORMAT")]
    pub log_format: LogFormat,
    /// Plan the job and print one line per step (each object and where it would go) without
    /// writing anything: no folder, file, experiment, run or model is created. Only the
    /// source (and an export's files) is read.
    #[arg(long, global = true)]
    pub dry_run: bool,
    /// Do shard K of N of the job (K from 1), so that N processes, on one machine or several,
    /// started with 1/N to N/N, move every object exactly once between them. Objects are split
    /// in groups that move together: a run with its nested children, a registered model with
    /// its versions and the runs and logged models behind them, a trace with its run. Every
    /// shard prepares the destination experiments; webhooks go with shard 1. The shards of an
    /// export write into one folder, and the shard that finishes last completes its index
    /// files (`experiments.json`, `models.json`, `manifest.json`, ...); an import before then
    /// finds the export incomplete.
    #[arg(long, global = true, value_name = "K/N", value_parser = shard)]
    pub shard: Option<(u32, u32)>,
    /// Write a JSON report (every source and destination id, every failure) to this file.
    #[arg(long, global = true, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// Requests in flight at once per tracking server. MLflow's SQL store serves 15 database
    /// connections by default; staying below that keeps a busy server from timing out.
    #[arg(long, global = true, default_value_t = 8, value_name = "N")]
    pub max_requests_in_flight: usize,
    /// Requests started per second per tracking server, retries included; unlimited when
    /// not given. Hosted servers throttle (Databricks at a few per second): pacing below their
    /// limit is faster than bouncing off it with 429s.
    #[arg(long, global = true, value_name = "RATE", value_parser = positive_rate)]
    pub max_requests_per_second: Option<f64>,
    /// Seconds to wait for each read of a server's answer before the request counts as
    /// failed and is retried [env: MLFLOW_HTTP_REQUEST_TIMEOUT] [default: 120]. A create
    /// (experiment, run, model, version) waits at least 600 s: one given up on may still be
    /// applied after the tool has looked for it, and be made twice.
    #[arg(long, global = true, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub request_timeout: Option<u64>,
    /// Retries of one request after a transient failure (429, 5xx, timeout, broken connection),
    /// with exponential backoff and at least the server's Retry-After
    /// [env: MLFLOW_HTTP_REQUEST_MAX_RETRIES] [default: 7].
    #[arg(long, global = true, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Further passes over the objects that failed for a reason that may be transient, once
    /// the others of their level are done (and before anything that depends on them). 0
    /// reports them failed at once.
    #[arg(long, global = true, default_value_t = 2, value_name = "N")]
    pub retry_passes: u32,
    /// The tracking server's `--artifacts-destination` (or the folder holding its local
    /// `--default-artifact-root`), when this machine can read (export) or write (import) that
    /// folder: `mlflow-artifacts:` files then move straight from or to it, without a request
    /// per file through the server. A server's local artifact root is read from disk only
    /// inside this folder; any other local path a server names is read through the server,
    /// so a server cannot make an export include this machine's files. For a source read from
    /// the server's database, its `--artifacts-destination` as it is: a folder here, or an
    /// object-store URI (`s3://…`, `gs://…`, `wasbs://…`) read with this machine's credentials.
    #[arg(long, global = true, value_name = "DIR", conflicts_with_all = ["src_artifacts_destination", "dst_artifacts_destination"])]
    pub artifacts_destination: Option<PathBuf>,
    /// For copy: the source server's `--artifacts-destination` (see --artifacts-destination).
    #[arg(long, global = true, value_name = "DIR")]
    pub src_artifacts_destination: Option<PathBuf>,
    /// For copy: the destination server's `--artifacts-destination` (see --artifacts-destination).
    #[arg(long, global = true, value_name = "DIR")]
    pub dst_artifacts_destination: Option<PathBuf>,
    /// The workspace to read or write on a server run with `--enable-workspaces` (MLflow
    /// 3.10+): every request is scoped to it, so experiment and model names and version
    /// numbers are those of that workspace. Unset: the server's `default` workspace
    /// [env: MLFLOW_WORKSPACE].
    #[arg(long, global = true, value_name = "NAME", conflicts_with_all = ["src_workspace", "dst_workspace"])]
    pub workspace: Option<String>,
    /// For copy: the source server's workspace (see --workspace) [env: SRC_MLFLOW_WORKSPACE].
    #[arg(long, global = true, value_name = "NAME")]
    pub src_workspace: Option<String>,
    /// For copy: the destination server's workspace, which must exist (see --workspace)
    /// [env: DST_MLFLOW_WORKSPACE].
    #[arg(long, global = true, value_name = "NAME")]
    pub dst_workspace: Option<String>,
    /// Artifact files transferred at once per run.
    #[arg(long, global = true, default_value_t = 4, value_name = "N")]
    pub transfers: usize,
    /// Objects (runs, logged models, model versions) moved at once.
    #[arg(long, global = true, default_value_t = 8, value_name = "N")]
    pub concurrency: usize,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Export a run to a directory or a zip file.
    #[command(after_help = examples::EXPORT_RUN)]
    ExportRun(ExportRunArgs),
    /// Import a run from a directory or a zip file into an experiment.
    #[command(after_help = examples::IMPORT_RUN)]
    ImportRun(ImportRunArgs),
    /// Copy a run from one tracking server to another, streamed without a temporary copy.
    #[command(after_help = examples::COPY_RUN)]
    CopyRun(CopyRunArgs),
    /// Export an experiment and its runs to a directory.
    #[command(after_help = examples::EXPORT_EXPERIMENT)]
    ExportExperiment(ExportExperimentArgs),
    /// Import an experiment directory made by export-experiment.
    #[command(after_help = examples::IMPORT_EXPERIMENT)]
    ImportExperiment(ImportExperimentArgs),
    /// Copy an experiment and its runs from one tracking server to another.
    #[command(after_help = examples::COPY_EXPERIMENT)]
    CopyExperiment(CopyExperimentArgs),
    /// Export several (or all) experiments to a directory.
    #[command(after_help = examples::EXPORT_EXPERIMENTS)]
    ExportExperiments(ExportExperimentsArgs),
    /// Import every experiment of a directory made by export-experiments.
    #[command(after_help = examples::IMPORT_EXPERIMENTS)]
    ImportExperiments(ImportExperimentsArgs),
    /// Export a registered model, its versions and the runs behind them to a directory.
    #[command(after_help = examples::EXPORT_MODEL)]
    ExportModel(ExportModelArgs),
    /// Import a registered model directory made by export-model.
    #[command(after_help = examples::IMPORT_MODEL)]
    ImportModel(ImportModelArgs),
    /// Copy a registered model, its versions and their runs from one tracking server to another.
    #[command(after_help = examples::COPY_MODEL)]
    CopyModel(CopyModelArgs),
    /// Copy one model version (and its run) from one tracking server to another.
    #[command(after_help = examples::COPY_MODEL_VERSION)]
    CopyModelVersion(CopyModelVersionArgs),
    /// Copy several (or all) registered models, their versions and the runs behind them from
    /// one tracking server to another.
    #[command(after_help = examples::COPY_MODELS)]
    CopyModels(CopyModelsArgs),
    /// Export one registered model version and its run to a directory.
    #[command(after_help = examples::EXPORT_MODEL_VERSION)]
    ExportModelVersion(ExportModelVersionArgs),
    /// Import a model version directory made by export-model-version (its run first).
    #[command(after_help = examples::IMPORT_MODEL_VERSION)]
    ImportModelVersion(ImportModelVersionArgs),
    /// Download a Databricks workspace notebook (its latest revision) in one or more formats.
    #[command(after_help = examples::DOWNLOAD_NOTEBOOK)]
    DownloadNotebook(DownloadNotebookArgs),
    /// List registered models: a table on stdout and `registered_models.json`.
    #[command(after_help = examples::LIST_REGISTERED_MODELS)]
    ListRegisteredModels(ListRegisteredModelsArgs),
    /// Export several (or all) registered models with the runs behind their versions.
    #[command(after_help = examples::EXPORT_MODELS)]
    ExportModels(ExportModelsArgs),
    /// Import a directory made by export-models: experiments and runs first, then the models.
    #[command(after_help = examples::IMPORT_MODELS)]
    ImportModels(ImportModelsArgs),
    /// Export a whole tracking server: every registered model with its versions, and every
    /// experiment with its runs (the runs behind the versions always).
    #[command(after_help = examples::EXPORT_ALL)]
    ExportAll(ExportAllArgs),
    /// Import a directory made by export-all (or export-models): experiments and runs first,
    /// then the models.
    #[command(after_help = examples::IMPORT_ALL)]
    ImportAll(ImportAllArgs),
    /// Copy a whole tracking server to another: every experiment with its runs, then every
    /// registered model with its versions.
    #[command(after_help = examples::COPY_ALL)]
    CopyAll(CopyAllArgs),
    /// Keep a tracking server in step with another: copy-all, where a run copied before gets
    /// what its source gained since (params, tags, metric points, files, status), and with
    /// --delete, copies of runs the source deleted are deleted.
    #[command(after_help = examples::SYNC)]
    Sync(SyncArgs),
    /// Export one version of a prompt (prompt registry) to a directory (`prompt.json`).
    #[command(after_help = examples::EXPORT_PROMPT)]
    ExportPrompt(ExportPromptArgs),
    /// Import a prompt version directory made by export-prompt.
    #[command(after_help = examples::IMPORT_PROMPT)]
    ImportPrompt(ImportPromptArgs),
    /// Export prompts, every version of each, to a directory (`<name>_v<version>/prompt.json`).
    #[command(after_help = examples::EXPORT_PROMPTS)]
    ExportPrompts(ExportPromptsArgs),
    /// Import every prompt of a directory made by export-prompts, versions in order.
    #[command(after_help = examples::IMPORT_PROMPTS)]
    ImportPrompts(ImportPromptsArgs),
    /// Copy a prompt, its versions (numbers kept) and aliases from one tracking server to another.
    #[command(after_help = examples::COPY_PROMPT)]
    CopyPrompt(CopyPromptArgs),
    /// Copy several (or all) prompts from one tracking server to another.
    #[command(after_help = examples::COPY_PROMPTS)]
    CopyPrompts(CopyPromptsArgs),
    /// Export one MLflow 3 logged model (description, metrics, files) to a directory.
    #[command(after_help = examples::EXPORT_LOGGED_MODEL)]
    ExportLoggedModel(ExportLoggedModelArgs),
    /// Import a logged model directory made by export-logged-model into an experiment.
    #[command(after_help = examples::IMPORT_LOGGED_MODEL)]
    ImportLoggedModel(ImportLoggedModelArgs),
    /// Export the MLflow 3 logged models of several (or all) experiments to a directory.
    #[command(after_help = examples::EXPORT_LOGGED_MODELS)]
    ExportLoggedModels(ExportLoggedModelsArgs),
    /// Import a directory made by export-logged-models, each model into the experiment of its name.
    #[command(after_help = examples::IMPORT_LOGGED_MODELS)]
    ImportLoggedModels(ImportLoggedModelsArgs),
    /// Copy one MLflow 3 logged model from one tracking server to another.
    #[command(after_help = examples::COPY_LOGGED_MODEL)]
    CopyLoggedModel(CopyLoggedModelArgs),
    /// Copy the MLflow 3 logged models of several (or all) experiments from one tracking server to another.
    #[command(after_help = examples::COPY_LOGGED_MODELS)]
    CopyLoggedModels(CopyLoggedModelsArgs),
    /// Export one MLflow 3 trace (info, spans, assessments) to a directory.
    #[command(after_help = examples::EXPORT_TRACE)]
    ExportTrace(ExportTraceArgs),
    /// Import a trace directory made by export-trace into an experiment.
    #[command(after_help = examples::IMPORT_TRACE)]
    ImportTrace(ImportTraceArgs),
    /// Export the MLflow 3 traces of several (or all) experiments to a directory.
    #[command(after_help = examples::EXPORT_TRACES)]
    ExportTraces(ExportTracesArgs),
    /// Import a directory made by export-traces, each trace into the experiment of its name.
    #[command(after_help = examples::IMPORT_TRACES)]
    ImportTraces(ImportTracesArgs),
    /// Copy the MLflow 3 traces of an experiment from one tracking server to another.
    #[command(after_help = examples::COPY_TRACES)]
    CopyTraces(CopyTracesArgs),
    /// Compare an experiment after a migration with its source, run by run; print every
    /// difference and exit non-zero if there is any.
    #[command(after_help = examples::VERIFY)]
    Verify(VerifyArgs),
    /// Print this tool's version and the MLflow version of each server given (probed with
    /// `GET /version`); exit status 3 if a server cannot be reached.
    #[command(after_help = examples::VERSION)]
    Version(ServerVersionArgs),
    /// Print a shell completion script on stdout.
    #[command(after_help = examples::COMPLETIONS)]
    Completions(CompletionsArgs),
    /// Print a man page (roff) of the whole command line on stdout: the top page, then one
    /// page per subcommand.
    #[command(after_help = examples::MAN)]
    Man,
    /// Create links named after the Python tool's console scripts (export-run, import-experiment,
    /// ...) pointing at this executable.
    #[command(long_about = "Create links named after the Python tool's console scripts (export-run, \
import-experiment, ...) pointing at this executable.\n\n\
Invoked under one of those names, this executable behaves as `mlflow-export-import <name>`: put \
DIR first on PATH and scripts written for the Python tool run unchanged. Only the scripts this \
tool implements get a link. Re-running is harmless: links already in place are left alone.")]
    #[command(after_help = examples::ALIASES)]
    Aliases(AliasesArgs),
    /// Export one GenAI evaluation dataset (its records, tags and experiment links) to a directory.
    #[command(after_help = examples::EXPORT_EVALUATION_DATASET)]
    ExportEvaluationDataset(ExportEvaluationDatasetArgs),
    /// Import an evaluation dataset directory made by export-evaluation-dataset.
    #[command(after_help = examples::IMPORT_EVALUATION_DATASET)]
    ImportEvaluationDataset(ImportEvaluationDatasetArgs),
    /// Copy one evaluation dataset from one tracking server to another.
    #[command(after_help = examples::COPY_EVALUATION_DATASET)]
    CopyEvaluationDataset(CopyEvaluationDatasetArgs),
    /// Export several (or all) evaluation datasets to a directory, one folder each.
    #[command(after_help = examples::EXPORT_EVALUATION_DATASETS)]
    ExportEvaluationDatasets(ExportEvaluationDatasetsArgs),
    /// Import every evaluation dataset of a directory made by export-evaluation-datasets.
    #[command(after_help = examples::IMPORT_EVALUATION_DATASETS)]
    ImportEvaluationDatasets(ImportEvaluationDatasetsArgs),
    /// Copy several (or all) evaluation datasets from one tracking server to another.
    #[command(after_help = examples::COPY_EVALUATION_DATASETS)]
    CopyEvaluationDatasets(CopyEvaluationDatasetsArgs),
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct AliasesArgs {
    /// Folder to create the links in; created when missing.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace files of those names that are not already links to this executable.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ServerVersionArgs {
    /// A tracking server to probe.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: Option<String>,
    /// The source server of a copy to probe (credentials from SRC_-prefixed variables).
    #[arg(long, visible_alias = "src-mlflow-uri", value_name = "URI")]
    pub src_uri: Option<String>,
    /// The destination server of a copy to probe (credentials from DST_-prefixed variables).
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Source tracking server (with --src-experiment), or its database or `mlruns` folder read
    /// directly (see export-experiment's --tracking-uri).
    #[arg(long, value_name = "URI", requires = "src_experiment", conflicts_with = "src_dir")]
    pub src_uri: Option<String>,
    /// Source experiment name or id.
    #[arg(long)]
    pub src_experiment: Option<String>,
    /// Source experiment export folder (instead of a server).
    #[arg(long, value_name = "DIR", required_unless_present = "src_uri")]
    pub src_dir: Option<PathBuf>,
    /// Destination tracking server (with --dst-experiment), or its database or `mlruns` folder
    /// read directly.
    #[arg(long, value_name = "URI", requires = "dst_experiment", conflicts_with = "dst_dir")]
    pub dst_uri: Option<String>,
    /// Destination experiment name or id.
    #[arg(long)]
    pub dst_experiment: Option<String>,
    /// Destination experiment export folder (instead of a server).
    #[arg(long, value_name = "DIR", required_unless_present = "dst_uri")]
    pub dst_dir: Option<PathBuf>,
    /// Also compare the bytes of every artifact file by SHA-256 (read in full on both sides,
    /// streamed), not only paths and sizes.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub checksums: bool,
}

#[derive(Debug, Args)]
pub struct ExportModelsArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Model names, comma-separated; `all`; `prefix*`; or a .txt file with one per line.
    #[arg(long)]
    pub models: String,
    /// Output directory.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    /// Export every run of the experiments behind the versions, not only the versions' runs;
    /// --run-start-time, --runs-until and --export-deleted-runs select which (the versions'
    /// own runs are exported whatever they say: a version needs its run).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_all_runs: bool,
    #[command(flatten)]
    pub versions: VersionArgs,
    #[command(flatten)]
    pub filter: RunFilterArgs,
    /// Export each model's access control list (a Databricks workspace registry's permissions)
    /// into `model.json`, as the Python tool does, for import-model(s) --import-permissions.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_permissions: bool,
    #[command(flatten)]
    pub compat: ExportCompatArgs,
}

#[derive(Debug, Args)]
pub struct ExportAllArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Output directory.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub server: WholeServerArgs,
    #[command(flatten)]
    pub compat: ExportCompatArgs,
}

/// What of a whole server `export-all` and `copy-all` take.
#[derive(Debug, Args)]
pub struct WholeServerArgs {
    #[command(flatten)]
    pub versions: VersionArgs,
    /// Which runs of each experiment to take; the runs behind the versions are taken whatever
    /// these say, as each version needs its run.
    #[command(flatten)]
    pub filter: RunFilterArgs,
    /// Add `mlflow_tools.metadata.*` tags describing each source run (auditing).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_metadata_tags: bool,
}

#[derive(Debug, Args)]
pub struct CopyAllArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    #[command(flatten)]
    pub server: WholeServerArgs,
    #[command(flatten)]
    pub write: ModelWriteArgs,
    #[command(flatten)]
    pub prompts: PromptWriteArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub webhooks: WebhookSecretArgs,
    #[command(flatten)]
    pub compat: CompatArgs,
}

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub copy: CopyAllArgs,
    /// Also delete (soft-delete: restorable) each destination run copied from a run that the
    /// source no longer has active: deleted there, or gone. Only copies this tool made from this
    /// source server, in experiments active at the source, are candidates. Not with
    /// --run-start-time, --runs-until or --shard, which leave runs out of the job that exist.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub delete: bool,
    /// With --delete: delete at most N runs in the whole job. An experiment whose copies to
    /// delete do not fit in what is left deletes none and is reported failed.
    #[arg(long, value_name = "N", requires = "delete")]
    pub max_delete: Option<usize>,
}

/// Webhook secrets, which no server hands out.
#[derive(Debug, Args)]
pub struct WebhookSecretArgs {
    /// JSON file of `{"webhook name": "secret", ...}`: the secret each webhook is created with
    /// at the destination. A server never returns a webhook's secret, so without this a copied
    /// webhook has none (the report says, per webhook, whether it got one). Only read; secrets
    /// are never written to an export, a report or the output.
    #[arg(long, value_name = "FILE")]
    pub webhook_secrets_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ImportModelsArgs {
    /// Tracking server to write to.
    /// `databricks-uc` or `databricks-uc://PROFILE` names a Databricks workspace whose models go
    /// into Unity Catalog (`catalog.schema.model` names; see --stages-as-aliases).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-models or export-all.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// CSV file of `old_prefix,new_prefix` lines applied to model names.
    #[arg(long, value_name = "FILE")]
    pub model_rename_file: Option<PathBuf>,
    /// CSV file of `old_prefix,new_prefix` lines applied to experiment names.
    #[arg(long, value_name = "FILE")]
    pub experiment_rename_file: Option<PathBuf>,
    #[command(flatten)]
    pub write: ModelWriteArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub permissions: PermissionArgs,
    #[command(flatten)]
    pub compat: CompatArgs,
}

/// Which versions of a model to take.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// Only versions in these stages (comma-separated: Production,Staging,Archived,None).
    #[arg(long, value_delimiter = ',', value_name = "STAGES", conflicts_with = "versions")]
    pub stages: Option<Vec<String>>,
    /// Only these versions (comma-separated numbers).
    #[arg(long, value_delimiter = ',', value_name = "VERSIONS")]
    pub versions: Option<Vec<String>>,
    /// Only the latest version of each stage.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_latest_versions: bool,
}

/// How versions are written.
#[derive(Debug, Args)]
pub struct ModelWriteArgs {
    /// First delete the destination model and all its versions.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub delete_model: bool,
    /// Seconds to wait for a version to become READY on servers that register asynchronously.
    #[arg(long, default_value_t = 300, value_name = "SECONDS")]
    pub await_creation_for: u64,
    #[command(flatten)]
    pub stages: StageArgs,
}

/// What becomes of stages in a registry that has none.
#[derive(Debug, Args)]
pub struct StageArgs {
    /// Into a Unity Catalog registry (a `databricks-uc` or `databricks-uc://PROFILE`
    /// destination), which has no stages: also point an alias named after each version's
    /// stage (`staging`, `production`, `archived`) at it. The stage is always kept as the
    /// version's tag `mlflow_export_import.refused_field.current_stage`.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub stages_as_aliases: bool,
}

#[derive(Debug, Args)]
pub struct ExportModelArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Registered model name.
    #[arg(long)]
    pub model: String,
    /// Output directory.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub versions: VersionArgs,
    /// The runs behind the versions are exported deleted or not (a version needs its run), so
    /// `true` is what this tool always does; `false` (the Python tool's leaving out of versions
    /// whose run is deleted) is refused.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub export_deleted_runs: Option<bool>,
    /// Export each model's access control list (a Databricks workspace registry's permissions)
    /// into `model.json`, as the Python tool does, for import-model(s) --import-permissions.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_permissions: bool,
    #[command(flatten)]
    pub compat: ExportCompatArgs,
}

#[derive(Debug, Args)]
pub struct ImportModelArgs {
    /// Tracking server to write to.
    /// `databricks-uc` or `databricks-uc://PROFILE` names a Databricks workspace whose models go
    /// into Unity Catalog (`catalog.schema.model` names; see --stages-as-aliases).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-model.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Destination registered model name.
    #[arg(long)]
    pub model: String,
    /// Experiment for the versions' runs; created when missing.
    #[arg(long)]
    pub experiment_name: String,
    #[command(flatten)]
    pub write: ModelWriteArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub permissions: PermissionArgs,
}

#[derive(Debug, Args)]
pub struct CopyModelArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    /// `databricks-uc` or `databricks-uc://PROFILE` names a Databricks workspace whose models go
    /// into Unity Catalog (`catalog.schema.model` names; see --stages-as-aliases).
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Source registered model name.
    #[arg(long)]
    pub src_model: String,
    /// Destination registered model name (default: the source name).
    #[arg(long)]
    pub dst_model: Option<String>,
    /// Experiment for the versions' runs (default: an experiment named as the run's source experiment).
    #[arg(long)]
    pub dst_experiment_name: Option<String>,
    #[command(flatten)]
    pub versions: VersionArgs,
    #[command(flatten)]
    pub write: ModelWriteArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub permissions: CopyPermissionArgs,
}

#[derive(Debug, Args)]
pub struct CopyModelsArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    /// `databricks-uc` or `databricks-uc://PROFILE` names a Databricks workspace whose models go
    /// into Unity Catalog (`catalog.schema.model` names; see --stages-as-aliases).
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Model names, comma-separated; `all`; `prefix*`; or a .txt file with one per line. Each
    /// keeps its name; the runs go into experiments named as their source experiments.
    #[arg(long)]
    pub models: String,
    /// Copy every run of the experiments behind the versions, not only the versions' runs.
    #[arg(long, visible_alias = "export-all-runs", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub all_runs: bool,
    #[command(flatten)]
    pub versions: VersionArgs,
    #[command(flatten)]
    pub write: ModelWriteArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub permissions: CopyPermissionArgs,
}

#[derive(Debug, Args)]
pub struct CopyModelVersionArgs {
    /// Source registered model name.
    #[arg(long)]
    pub src_model: String,
    /// Source version number.
    #[arg(long)]
    pub src_version: String,
    /// Destination registered model name; created when missing.
    #[arg(long)]
    pub dst_model: String,
    /// Source tracking server.
    #[arg(long, visible_alias = "src-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_registry_uri: String,
    /// Destination tracking server.
    /// `databricks-uc` or `databricks-uc://PROFILE` names a Databricks workspace whose models go
    /// into Unity Catalog (`catalog.schema.model` names; see --stages-as-aliases).
    #[arg(long, visible_alias = "dst-uri", value_name = "URI")]
    pub dst_registry_uri: String,
    /// Experiment for the version's copied run. Without it, at the same server (source and
    /// destination URIs equal), the new version points at the source run and nothing else is
    /// copied (shallow, as the Python tool); between servers the run is copied into an
    /// experiment named as its source experiment (a version cannot point at another server's
    /// run), as is the run of a version registered from an MLflow 3 logged model.
    #[arg(long)]
    pub dst_experiment_name: Option<String>,
    /// Also copy the version's stage and the aliases pointing at it.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub copy_stages_and_aliases: bool,
    #[command(flatten)]
    pub stages: StageArgs,
    /// Also tag the new version as the Python tool does: `mlflow_exim.src_version.{name,version,run_id}`,
    /// `mlflow_exim.src_client.tracking_uri`, `mlflow_exim.mlflow_exim.dst_client.tracking_uri`
    /// (sic) and the source run's `mlflow.user` and Databricks workspace tags as
    /// `mlflow_exim.src_run.<tag>`. (The `mlflow_export_import.source.*` identity tags are
    /// always written.)
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub copy_lineage_tags: bool,
    #[command(flatten)]
    pub tags: ImportTagArgs,
}

#[derive(Debug, Args)]
pub struct ExportModelVersionArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Registered model name.
    #[arg(long)]
    pub model: String,
    /// Version number.
    #[arg(long)]
    pub version: String,
    /// Output directory: `model.json`, `version.json` and the version's run in `run/`.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub compat: ExportCompatArgs,
}

#[derive(Debug, Args)]
pub struct ImportModelVersionArgs {
    /// Tracking server to write to.
    /// `databricks-uc` or `databricks-uc://PROFILE` names a Databricks workspace whose models go
    /// into Unity Catalog (`catalog.schema.model` names; see --stages-as-aliases).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-model-version (or by the Python tool's).
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Destination registered model name. It must exist unless --create-model is given.
    #[arg(long)]
    pub model: String,
    /// Experiment for the version's run; created when missing.
    #[arg(long)]
    pub experiment_name: String,
    /// Create the destination model when it does not exist, with the exported model's
    /// description and tags.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub create_model: bool,
    /// Also set the version's stage and the aliases pointing at it.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub import_stages_and_aliases: bool,
    #[command(flatten)]
    pub stages: StageArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
}

#[derive(Debug, Args)]
pub struct DownloadNotebookArgs {
    /// The Databricks workspace: `databricks` or `databricks://PROFILE`.
    #[arg(long, env = "MLFLOW_TRACKING_URI", default_value = "databricks", value_name = "URI")]
    pub tracking_uri: String,
    /// The notebook's absolute workspace path.
    #[arg(long, value_name = "PATH")]
    pub notebook: String,
    /// Folder the notebook is written to, as `<name>.<format>` (made when missing).
    #[arg(long, visible_alias = "output", value_name = "DIR")]
    pub output_dir: PathBuf,
    /// Formats, comma-separated, in any case: SOURCE, HTML, JUPYTER, DBC.
    #[arg(long, value_name = "FORMATS", value_parser = notebook_formats, default_value = "SOURCE")]
    pub notebook_formats: NotebookFormats,
    /// Refused when given: only the latest revision is downloaded, as the workspace API
    /// documents no way to an earlier one.
    #[arg(long, value_name = "ID")]
    pub revision: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListRegisteredModelsArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Where to write the JSON listing.
    #[arg(long, default_value = "registered_models.json", value_name = "FILE")]
    pub output_file: PathBuf,
}

/// Which runs of an experiment to take.
#[derive(Debug, Args)]
pub struct RunFilterArgs {
    /// Also take deleted runs (they are deleted again at the destination).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_deleted_runs: bool,
    /// Only runs started after this time: YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or epoch ms.
    #[arg(long, value_name = "TIME")]
    pub run_start_time: Option<String>,
    /// Only runs started before this time: YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or epoch ms.
    #[arg(long, value_name = "TIME")]
    pub runs_until: Option<String>,
}

/// Picking runs by id.
#[derive(Debug, Args)]
pub struct RunIdArgs {
    /// Only these runs (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub run_ids: Option<Vec<String>>,
    /// With --run-ids, also take the selected runs' ancestors and descendants in the experiment.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub check_nested_runs: bool,
}

/// Accepted for compatibility with the Python tool's scripts.
#[derive(Debug, Args)]
pub struct CompatArgs {
    /// Accepted for compatibility: this tool always works concurrently (see --concurrency).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub use_threads: bool,
    /// Accepted empty for compatibility: Databricks notebooks are exported by the export
    /// commands only (any format is refused here, saying so).
    #[arg(long, value_name = "FORMATS", value_parser = no_notebook_formats)]
    pub notebook_formats: Option<String>,
}

/// [`CompatArgs`] of the export commands, which export notebooks.
#[derive(Debug, Args)]
pub struct ExportCompatArgs {
    /// Accepted for compatibility: this tool always works concurrently (see --concurrency).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub use_threads: bool,
    #[command(flatten)]
    pub notebooks: NotebookFormatArgs,
}

/// Which formats of each run's Databricks notebook an export keeps.
#[derive(Debug, Args)]
pub struct NotebookFormatArgs {
    /// From a Databricks workspace: save the notebook each run was logged from (its
    /// `mlflow.databricks.notebookPath` tag) in these formats, comma-separated, in any case:
    /// SOURCE, HTML, JUPYTER, DBC. The notebook's latest revision is saved, not the one the run
    /// was logged from (the workspace API documents no way to an earlier one), as
    /// `artifacts/notebooks/<name>.<format>` with `artifacts/notebooks/manifest.json`, the
    /// Python tool's layout. A run logged from no notebook, or whose notebook is gone, is
    /// exported without one, and the report says so.
    #[arg(long, value_name = "FORMATS", value_parser = notebook_formats)]
    pub notebook_formats: Option<NotebookFormats>,
}

/// The formats `--notebook-formats` names.
#[derive(Debug, Clone)]
pub struct NotebookFormats(pub Vec<NotebookFormat>);

/// Where an import puts each run's notebook.
#[derive(Debug, Args)]
pub struct NotebookDirArgs {
    /// Into a Databricks workspace: put the notebook each run was exported with (its SOURCE
    /// format, saved by --notebook-formats), or in a copy from a workspace the notebook the
    /// run names there, into this workspace folder, made when missing, as
    /// `<folder>/<notebook name>`, replacing what is there; and point the run's
    /// `mlflow.databricks.notebookPath` and `mlflow.source.name` tags at it (the Python tool
    /// uploads the notebook but leaves the tags naming the source workspace's). A run without
    /// a notebook is moved without one, and the report says so.
    #[arg(long, value_name = "DIR")]
    pub dst_notebook_dir: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportExperimentArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Experiment name or id.
    #[arg(long)]
    pub experiment: String,
    /// Output directory.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub runs: RunIdArgs,
    #[command(flatten)]
    pub filter: RunFilterArgs,
    /// Add `mlflow_tools.metadata.*` tags describing each source run (auditing).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_metadata_tags: bool,
    /// Export each experiment's access control list (a Databricks workspace's permissions) into
    /// `experiment.json`, as the Python tool does, for import-experiment(s)
    /// --import-permissions.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_permissions: bool,
    #[command(flatten)]
    pub compat: ExportCompatArgs,
}

#[derive(Debug, Args)]
pub struct ImportExperimentArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-experiment.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Destination experiment; created when missing, reused (and missing tags added) when present.
    #[arg(long)]
    pub experiment_name: String,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub permissions: PermissionArgs,
    #[command(flatten)]
    pub notebooks: NotebookDirArgs,
    #[command(flatten)]
    pub database: DstDatabaseArgs,
    #[command(flatten)]
    pub compat: CompatArgs,
}

/// Runs written straight into the destination server's database.
#[derive(Debug, Args)]
pub struct DstDatabaseArgs {
    /// Write runs straight into the destination server's database (its `--backend-store-uri`:
    /// `sqlite:///path/mlflow.db`, `postgresql://…`, `mysql://…`) instead of through its REST
    /// API, each run whole in one transaction (with the runs finished at the same time): many
    /// times faster, for runs with long metric histories most of all.
    /// Runs and experiments only (logged models, traces and scorers are refused: copy those
    /// through the server). Only a database at a schema revision this tool knows (MLflow
    /// 3.17.2's) is written; upgrade others with `mlflow db upgrade <uri>` first. The server
    /// may keep running: its UI shows each run only once its transaction commits, whole,
    /// never half-written. Files go to the run's artifact store from this machine (for a
    /// server proxying artifacts, give its folder with --dst-artifacts-destination).
    #[arg(long, value_name = "URI")]
    pub dst_backend_store_uri: Option<String>,
    /// With --dst-backend-store-uri: the server's default artifact root as the server names it
    /// (`mlflow-artifacts:/` for a server with --serve-artifacts, else its
    /// --default-artifact-root), which a new experiment's location is made from as MLflow
    /// makes it (`<root>/<experiment id>`). Needed only when the experiment is created.
    #[arg(long, value_name = "URI", requires = "dst_backend_store_uri")]
    pub dst_artifact_root: Option<String>,
}

#[derive(Debug, Args)]
pub struct CopyExperimentArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Source experiment name or id.
    #[arg(long)]
    pub src_experiment: String,
    /// Destination experiment; created when missing.
    #[arg(long)]
    pub dst_experiment_name: String,
    #[command(flatten)]
    pub runs: RunIdArgs,
    #[command(flatten)]
    pub filter: RunFilterArgs,
    /// Add `mlflow_tools.metadata.*` tags describing each source run (auditing).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_metadata_tags: bool,
    #[command(flatten)]
    pub notebooks: NotebookDirArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    /// Copy the experiment's access control list from one Databricks workspace to another
    /// (see --import-permissions).
    #[arg(long = "copy-permissions", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub copy_permissions: bool,
    /// With --copy-permissions: CSV lines `source_principal,destination_principal` (see
    /// --import-permissions).
    #[arg(long, value_name = "FILE", requires = "copy_permissions")]
    pub principal_rename_file: Option<PathBuf>,
    #[command(flatten)]
    pub database: DstDatabaseArgs,
    #[command(flatten)]
    pub compat: CompatArgs,
}

/// Setting exported experiment or model permissions at the destination.
#[derive(Debug, Args)]
pub struct PermissionArgs {
    /// Set each exported access control list (export-experiment(s) or export-model(s)
    /// --export-permissions) on the destination experiment or registered model, in a Databricks
    /// workspace: every grant made on the object itself, one principal at a time; grants it
    /// inherited from its source folder are left to the destination's folders. A grant the
    /// destination refuses (most often a principal it does not have) fails the object, naming
    /// the principal: map it with --principal-rename-file. Safe to repeat: grants are merged,
    /// never removed.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub import_permissions: bool,
    /// With --import-permissions: CSV lines `source_principal,destination_principal` (a user's
    /// email, a group's name or a service principal's application id, matched whole); an empty
    /// destination drops that principal's grants. Unlisted principals keep their names.
    #[arg(long, value_name = "FILE", requires = "import_permissions")]
    pub principal_rename_file: Option<PathBuf>,
}

/// Copying registered models' permissions between workspaces.
#[derive(Debug, Args)]
pub struct CopyPermissionArgs {
    /// Copy each registered model's access control list from one Databricks workspace to
    /// another (see import-model --import-permissions).
    #[arg(long = "copy-permissions", value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub copy_permissions: bool,
    /// With --copy-permissions: CSV lines `source_principal,destination_principal` (see
    /// import-model --principal-rename-file).
    #[arg(long, value_name = "FILE", requires = "copy_permissions")]
    pub principal_rename_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportExperimentsArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Experiment names or ids, comma-separated; `all`; `prefix*`; or a .txt file with one per line.
    /// `all` and `prefix*` take active experiments; name a deleted one to export it.
    #[arg(long)]
    pub experiments: String,
    /// Output directory.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub filter: RunFilterArgs,
    /// Add `mlflow_tools.metadata.*` tags describing each source run (auditing).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_metadata_tags: bool,
    /// Export each experiment's access control list (a Databricks workspace's permissions) into
    /// `experiment.json`, as the Python tool does, for import-experiment(s)
    /// --import-permissions.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub export_permissions: bool,
    #[command(flatten)]
    pub compat: ExportCompatArgs,
}

#[derive(Debug, Args)]
pub struct ImportExperimentsArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-experiments.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Prefix added to every destination experiment name.
    #[arg(long, value_name = "PREFIX")]
    pub experiment_name_prefix: Option<String>,
    /// CSV file of `old_prefix,new_prefix` lines; the first matching prefix of each name is replaced.
    #[arg(long, value_name = "FILE")]
    pub experiment_rename_file: Option<PathBuf>,
    #[command(flatten)]
    pub tags: ImportTagArgs,
    #[command(flatten)]
    pub permissions: PermissionArgs,
    #[command(flatten)]
    pub notebooks: NotebookDirArgs,
    #[command(flatten)]
    pub compat: CompatArgs,
}

#[derive(Debug, Args)]
pub struct ExportRunArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
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
    #[command(flatten)]
    pub notebooks: NotebookFormatArgs,
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
    #[command(flatten)]
    pub notebooks: NotebookDirArgs,
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
    /// Record the source run's fields and `mlflow.*` tags as `mlflow_exim.*` tags (lineage), and
    /// as the Python tool does, an experiment's (created or found for a source experiment) and
    /// each new model version's fields as `mlflow_exim.field.*` tags.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub import_source_tags: bool,
    #[command(flatten)]
    pub fix: MlmodelFixArgs,
}

#[derive(Debug, Args)]
pub struct MlmodelFixArgs {
    /// In the `MLmodel` files of each MLflow 3 logged model copied to a server, replace a
    /// top-level `run_id`, `model_id` or `model_uuid` that names the source run or model by the
    /// destination's id (the file's size changes accordingly; nothing else in it does).
    /// `false` copies the files byte for byte.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "true", value_name = "BOOL")]
    pub mlmodel_fix: bool,
}

#[derive(Debug, Args)]
pub struct CopyRunArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
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
    pub notebooks: NotebookDirArgs,
    #[command(flatten)]
    pub tags: ImportTagArgs,
}

fn shard(arg: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected K/N with 1 <= K <= N, e.g. 2/4; got {arg:?}");
    let (k, n) = arg.split_once('/').ok_or_else(bad)?;
    let (k, n): (u32, u32) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
    if k == 0 || k > n {
        return Err(bad());
    }
    Ok((k, n))
}

/// `--notebook-formats` of a command that does not export: the Python tool's scripts pass it
/// empty; a format asks for what the command does not do, so it is refused rather than ignored.
fn no_notebook_formats(s: &str) -> Result<String, String> {
    match s.trim() {
        "" => Ok(String::new()),
        _ => Err("Databricks notebooks are exported by the export commands only; leave the option out".into()),
    }
}

/// `--notebook-formats` of an export.
fn notebook_formats(s: &str) -> Result<NotebookFormats, String> {
    NotebookFormat::parse_list(s).map(NotebookFormats)
}

fn positive_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{s:?} is not a positive number of requests per second")),
    }
}

/// One evaluation dataset, by name or by id.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct DatasetPickArgs {
    /// Name of the evaluation dataset (every dataset of that name, when several share it).
    #[arg(long)]
    pub dataset_name: Option<String>,
    /// Id of the evaluation dataset (`d-...`).
    #[arg(long)]
    pub dataset_id: Option<String>,
}

/// Replacing an existing evaluation dataset at the destination.
#[derive(Debug, Args)]
pub struct DatasetWriteArgs {
    /// Delete a destination dataset of the same name first when it is not a copy made by this
    /// tool (our copy of this dataset is completed or skipped instead). Without it, such a
    /// dataset fails the import of this one.
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub delete_evaluation_dataset: bool,
}

/// Several evaluation datasets.
#[derive(Debug, Args)]
pub struct DatasetsPickArgs {
    /// Dataset names (or ids), comma-separated; `all`; or a .txt file with one per line.
    #[arg(long)]
    pub evaluation_datasets: String,
    /// With `all`: only datasets linked to one of these experiments (comma-separated ids).
    #[arg(long, value_delimiter = ',', value_name = "IDS")]
    pub experiment_ids: Option<Vec<String>>,
    /// Accepted for compatibility: this tool always works concurrently (see --concurrency).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub use_threads: bool,
}

#[derive(Debug, Args)]
pub struct ExportEvaluationDatasetArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    #[command(flatten)]
    pub dataset: DatasetPickArgs,
    /// Output directory (`evaluation_dataset.json` is written in it).
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportEvaluationDatasetArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-evaluation-dataset (ours or the Python tool's).
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Name of the copy (default: the exported dataset's name).
    #[arg(long, visible_alias = "dataset-name")]
    pub evaluation_dataset_name: Option<String>,
    #[command(flatten)]
    pub write: DatasetWriteArgs,
}

#[derive(Debug, Args)]
pub struct CopyEvaluationDatasetArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    #[command(flatten)]
    pub dataset: DatasetPickArgs,
    /// Name of the copy (default: the source dataset's name).
    #[arg(long)]
    pub evaluation_dataset_name: Option<String>,
    #[command(flatten)]
    pub write: DatasetWriteArgs,
}

#[derive(Debug, Args)]
pub struct ExportEvaluationDatasetsArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    #[command(flatten)]
    pub datasets: DatasetsPickArgs,
    /// Output directory: a `<name>_<id>/` folder per dataset and `evaluation_datasets_summary.json`.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportEvaluationDatasetsArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-evaluation-datasets (ours or the Python tool's).
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    #[command(flatten)]
    pub write: DatasetWriteArgs,
    /// Accepted for compatibility: this tool always works concurrently (see --concurrency).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub use_threads: bool,
}

#[derive(Debug, Args)]
pub struct CopyEvaluationDatasetsArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    #[command(flatten)]
    pub datasets: DatasetsPickArgs,
    #[command(flatten)]
    pub write: DatasetWriteArgs,
}

/// `import-all`: `import-models`' options, and those of prompts, webhooks and evaluation datasets.
#[derive(Debug, Args)]
pub struct ImportAllArgs {
    #[command(flatten)]
    pub models: ImportModelsArgs,
    #[command(flatten)]
    pub prompts: PromptWriteArgs,
    #[command(flatten)]
    pub webhooks: WebhookSecretArgs,
    #[command(flatten)]
    pub datasets: DatasetWriteArgs,
}

/// How prompts are written.
#[derive(Debug, Args)]
pub struct PromptWriteArgs {
    /// First delete the destination prompt and all its versions. Without it, a prompt that
    /// holds versions not copied from this source fails (its version numbers cannot be kept).
    #[arg(long, value_parser = BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true", default_value = "false", value_name = "BOOL")]
    pub delete_prompt: bool,
}

/// `--use-threads` of the prompt commands, a flag in the Python tool.
#[derive(Debug, Args)]
pub struct PromptThreadArgs {
    /// Accepted for compatibility: this tool always works concurrently (see --concurrency).
    #[arg(long)]
    pub use_threads: bool,
}

#[derive(Debug, Args)]
pub struct ExportPromptArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Prompt name.
    #[arg(long)]
    pub prompt_name: String,
    /// Version to export.
    #[arg(long, value_name = "VERSION")]
    pub prompt_version: String,
    /// Output directory; `prompt.json` is written into it.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
}

/// Picking traces by the time they started.
#[derive(Debug, Args)]
pub struct TraceWindowArgs {
    /// Only traces started at or after this time: YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or epoch ms.
    #[arg(long, value_name = "TIME")]
    pub trace_start_time: Option<String>,
    /// Only traces started before this time: YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC) or epoch ms.
    #[arg(long, value_name = "TIME")]
    pub traces_until: Option<String>,
}

/// How the logged-model commands treat runs: a logged model moves without its run. Written
/// once, shown in the help of each.
const LOGGED_MODEL_RUNS: &str = "\
A logged model moves without its run. At a server, its copy joins the copy of its run that an \
earlier job made (copy-run, copy-experiment, import-experiment, ...), and its metric points are \
logged again through the copies of their runs; what names a run that has no copy there is not \
kept, and the report's notes say so. Copy the runs first to keep everything.";

#[derive(Debug, Args)]
pub struct ExportLoggedModelArgs {
    /// Tracking server to read from (MLflow >= 3.0).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// The logged model id (`m-...`).
    #[arg(long, value_name = "ID")]
    pub model_id: String,
    /// Output directory: `logged_model.json` and `artifacts/` (the model's files).
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_long_help = LOGGED_MODEL_RUNS)]
pub struct ImportLoggedModelArgs {
    /// Tracking server to write to (MLflow >= 3.0).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-logged-model.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Destination experiment; created when missing.
    #[arg(long)]
    pub experiment_name: String,
    #[command(flatten)]
    pub fix: MlmodelFixArgs,
}

#[derive(Debug, Args)]
pub struct ExportLoggedModelsArgs {
    /// Tracking server to read from (MLflow >= 3.0).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Experiment ids (or names), comma-separated, or `all` (every active experiment).
    #[arg(long)]
    pub experiment_ids: String,
    /// Output directory: `logged_models.json` and one folder per model.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
}

#[derive(Debug, Args)]
#[command(after_long_help = LOGGED_MODEL_RUNS)]
pub struct ImportLoggedModelsArgs {
    /// Tracking server to write to (MLflow >= 3.0).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-logged-models.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Put every model into this experiment, instead of the experiment of the name
    /// `logged_models.json` gives (created when missing).
    #[arg(long)]
    pub experiment_name: Option<String>,
    #[command(flatten)]
    pub fix: MlmodelFixArgs,
}

#[derive(Debug, Args)]
#[command(after_long_help = LOGGED_MODEL_RUNS)]
pub struct CopyLoggedModelArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server (MLflow >= 3.0).
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// The source logged model id (`m-...`).
    #[arg(long, value_name = "ID")]
    pub model_id: String,
    /// Destination experiment; created when missing. Default: the source experiment's name.
    #[arg(long)]
    pub dst_experiment_name: Option<String>,
    #[command(flatten)]
    pub fix: MlmodelFixArgs,
}

#[derive(Debug, Args)]
#[command(after_long_help = LOGGED_MODEL_RUNS)]
pub struct CopyLoggedModelsArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server (MLflow >= 3.0).
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Source experiment ids (or names), comma-separated, or `all` (every active experiment).
    #[arg(long)]
    pub experiment_ids: String,
    /// Put every model into this experiment (created when missing). Default: the experiment
    /// of the source experiment's name.
    #[arg(long)]
    pub dst_experiment_name: Option<String>,
    #[command(flatten)]
    pub fix: MlmodelFixArgs,
}

#[derive(Debug, Args)]
pub struct ExportTraceArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// The trace id (`tr-...`).
    #[arg(long, visible_alias = "trace-id", value_name = "ID")]
    pub request_id: String,
    /// Output directory: `trace.json` and `artifacts/traces.json` (the spans).
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportPromptArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-prompt (holding `prompt.json`).
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Destination prompt name (default: the exported prompt's name).
    #[arg(long)]
    pub prompt_name: Option<String>,
    #[command(flatten)]
    pub write: PromptWriteArgs,
}

#[derive(Debug, Args)]
pub struct ExportPromptsArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Prompt names, comma-separated; `all`; `prefix*`; or a .txt file with one per line.
    /// Every version of each is exported (the Python tool takes only the latest of named ones).
    #[arg(long)]
    pub prompts: String,
    /// Output directory.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub threads: PromptThreadArgs,
}

#[derive(Debug, Args)]
pub struct ImportPromptsArgs {
    /// Tracking server to write to.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-prompts (or the `prompts` folder of export-all).
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    #[command(flatten)]
    pub write: PromptWriteArgs,
    #[command(flatten)]
    pub threads: PromptThreadArgs,
}

#[derive(Debug, Args)]
pub struct CopyPromptArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Source prompt name.
    #[arg(long)]
    pub src_prompt: String,
    /// Destination prompt name (default: the source name).
    #[arg(long)]
    pub dst_prompt: Option<String>,
    #[command(flatten)]
    pub write: PromptWriteArgs,
}

#[derive(Debug, Args)]
pub struct CopyPromptsArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server.
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Prompt names, comma-separated; `all`; `prefix*`; or a .txt file with one per line.
    #[arg(long)]
    pub prompts: String,
    #[command(flatten)]
    pub write: PromptWriteArgs,
    #[command(flatten)]
    pub threads: PromptThreadArgs,
}

#[derive(Debug, Args)]
pub struct ImportTraceArgs {
    /// Tracking server to write to (MLflow >= 3.4 with a database backend).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-trace.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Destination experiment; created when missing.
    #[arg(long)]
    pub experiment_name: String,
}

#[derive(Debug, Args)]
pub struct ExportTracesArgs {
    /// Tracking server to read from, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Experiment ids (or names), comma-separated, or `all` (every active experiment).
    #[arg(long)]
    pub experiment_ids: String,
    /// Output directory: `traces.json` and one folder per trace.
    #[arg(long, visible_alias = "output")]
    pub output_dir: PathBuf,
    #[command(flatten)]
    pub window: TraceWindowArgs,
}

#[derive(Debug, Args)]
pub struct ImportTracesArgs {
    /// Tracking server to write to (MLflow >= 3.4 with a database backend).
    #[arg(long, env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub tracking_uri: String,
    /// Input directory made by export-traces.
    #[arg(long, visible_alias = "input")]
    pub input_dir: PathBuf,
    /// Put every trace into this experiment, instead of the experiment of the name
    /// `traces.json` gives (created when missing).
    #[arg(long)]
    pub experiment_name: Option<String>,
}

#[derive(Debug, Args)]
pub struct CopyTracesArgs {
    /// Source tracking server, or a store read directly, without loading its server:
    /// its backend database (`sqlite:///mlflow.db`, `postgresql://…`, `mysql://…`, as the
    /// server's `--backend-store-uri`; opened read-only) or an `mlruns` folder (a path or
    /// `file:///…`). Give a database source the server's artifacts folder or object-store URI
    /// with --artifacts-destination (--src-artifacts-destination in a copy) when the server
    /// proxies artifacts. Traces, scorers, evaluation datasets and webhooks are read from a
    /// server only.
    #[arg(long, visible_alias = "src-mlflow-uri", env = "MLFLOW_TRACKING_URI", value_name = "URI")]
    pub src_uri: String,
    /// Destination tracking server (MLflow >= 3.4 with a database backend).
    #[arg(long, visible_alias = "dst-mlflow-uri", value_name = "URI")]
    pub dst_uri: String,
    /// Source experiment name or id.
    #[arg(long)]
    pub experiment: String,
    /// Destination experiment; created when missing. Default: the source experiment's name.
    #[arg(long)]
    pub dst_experiment_name: Option<String>,
    #[command(flatten)]
    pub window: TraceWindowArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[test]
    fn notebook_formats_are_parsed_on_exports_and_refused_elsewhere_saying_why() {
        let args = |command: &str, formats: &str| {
            let (side, dir) = if command.starts_with("export") {
                ("--experiment", "--output-dir")
            } else {
                ("--experiment-name", "--input-dir")
            };
            let mut argv = vec!["mlflow-export-import", command, "--tracking-uri", "http://x", side, "e", dir, "d"];
            argv.extend(["--notebook-formats", formats]);
            Cli::try_parse_from(argv)
        };
        let Ok(Cli { command: Command::ExportExperiment(parsed), .. }) = args("export-experiment", "source,Html")
        else {
            panic!("export-experiment takes notebook formats")
        };
        let formats = parsed.compat.notebooks.notebook_formats.map(|f| f.0);
        assert_eq!(formats, Some(vec![NotebookFormat::Source, NotebookFormat::Html]));
        let unknown = args("export-experiment", "SOURCE,PDF").unwrap_err().to_string();
        assert!(unknown.contains("unknown notebook format \"PDF\""), "{unknown}");
        let refused = args("import-experiment", "SOURCE").unwrap_err().to_string();
        assert!(refused.contains("exported by the export commands only"), "{refused}");
        assert!(args("import-experiment", "").is_ok());
    }
}
