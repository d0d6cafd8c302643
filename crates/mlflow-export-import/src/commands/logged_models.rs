//! The MLflow 3 logged-model commands: `export-logged-model(s)`, `import-logged-model(s)` and
//! `copy-logged-model(s)`. Each is one [`Selection::LoggedModels`] job; they differ only in
//! where the models come from and go.

use std::{path::PathBuf, process::ExitCode, time::Instant};

use mlflow_client::MlflowClient;
use mlflow_transfer::{
    plan::{select_experiments, Destination, Selection, Source},
    select::ExperimentSpec,
    store::tracking::TrackingSource,
};

use crate::{
    cli::{
        CopyLoggedModelArgs, CopyLoggedModelsArgs, ExportLoggedModelArgs, ExportLoggedModelsArgs, GlobalArgs,
        ImportLoggedModelArgs, ImportLoggedModelsArgs, MlmodelFixArgs,
    },
    settings,
};

pub async fn export_one(args: ExportLoggedModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let system = settings::export_system(&from, "export_logged_model").await;
    let selection = by_id(args.model_id, true, None);
    let destination = Destination::Folder { out: args.output_dir, system };
    let source = Source::Server(from.source.clone());
    run("export-logged-model", global, None, source, selection, destination, &from.named("source")).await
}

pub async fn export_many(args: ExportLoggedModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let selection = in_experiments(from.source.as_ref(), &args.experiment_ids, None).await?;
    let system = settings::export_system(&from, "export_logged_models").await;
    let destination = Destination::Folder { out: args.output_dir, system };
    let source = Source::Server(from.source.clone());
    run("export-logged-models", global, None, source, selection, destination, &from.named("source")).await
}

pub async fn import_one(args: ImportLoggedModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let to = Some(args.experiment_name);
    import("import-logged-model", global, &args.tracking_uri, args.input_dir, &args.fix, true, to).await
}

pub async fn import_many(args: ImportLoggedModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let to = args.experiment_name;
    import("import-logged-models", global, &args.tracking_uri, args.input_dir, &args.fix, false, to).await
}

pub async fn copy_one(args: CopyLoggedModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let selection = by_id(args.model_id, false, args.dst_experiment_name);
    let clients = [from.named("source"), vec![("destination", &dst)]].concat();
    let destination = Destination::Server(dst.clone());
    let source = Source::Server(from.source.clone());
    run("copy-logged-model", global, Some(&args.fix), source, selection, destination, &clients).await
}

pub async fn copy_many(args: CopyLoggedModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let selection = in_experiments(from.source.as_ref(), &args.experiment_ids, args.dst_experiment_name).await?;
    let clients = [from.named("source"), vec![("destination", &dst)]].concat();
    let destination = Destination::Server(dst.clone());
    let source = Source::Server(from.source.clone());
    run("copy-logged-models", global, Some(&args.fix), source, selection, destination, &clients).await
}

/// An `export-logged-model` folder (`single`) or an `export-logged-models` one into a server.
async fn import(
    command: &str,
    global: &GlobalArgs,
    tracking_uri: &str,
    input_dir: PathBuf,
    fix: &MlmodelFixArgs,
    single: bool,
    dst_experiment: Option<String>,
) -> anyhow::Result<ExitCode> {
    let client = settings::client(tracking_uri, None, global)?;
    let selection = Selection::LoggedModels { model_ids: Vec::new(), experiments: Vec::new(), single, dst_experiment };
    let (source, destination) = (Source::Export(input_dir), Destination::Server(client.clone()));
    run(command, global, Some(fix), source, selection, destination, &[("destination", &client)]).await
}

fn by_id(model_id: String, single: bool, dst_experiment: Option<String>) -> Selection {
    Selection::LoggedModels { model_ids: vec![model_id], experiments: Vec::new(), single, dst_experiment }
}

/// Every logged model of the experiments `--experiment-ids` names (all of them readable).
async fn in_experiments(
    source: &dyn TrackingSource,
    ids: &str,
    dst_experiment: Option<String>,
) -> anyhow::Result<Selection> {
    let spec = ExperimentSpec::parse(ids)?;
    let (experiments, unreadable) = select_experiments(source, &spec).await?;
    if let Some((name, why)) = unreadable.first() {
        return crate::exit::usage(format!("--experiment-ids: experiment {name:?}: {why}"));
    }
    Ok(Selection::LoggedModels { model_ids: Vec::new(), experiments, single: false, dst_experiment })
}

async fn run(
    command: &str,
    global: &GlobalArgs,
    fix: Option<&MlmodelFixArgs>,
    source: Source,
    selection: Selection,
    destination: Destination,
    clients: &[(&str, &MlflowClient)],
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (mut ctx, progress) = super::job_context(global, None, false);
    if let Some(fix) = fix {
        ctx.opts.mlmodel_fix = fix.mlmodel_fix;
    }
    let job = super::plan_and_run(global, &ctx, source, selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(command, global, &result, clients, started)
}
