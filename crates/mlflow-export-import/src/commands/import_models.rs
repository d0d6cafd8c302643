//! `import-models`: a directory made by `export-models` → tracking server. `import-all` is the
//! same job over an `export-all` directory ([`import`]).

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    job::ModelOptions,
    plan::{Destination, Selection, Source},
    select::{Renames, RunFilter, VersionFilter},
};

use crate::{
    cli::{GlobalArgs, ImportModelsArgs},
    settings,
};

pub async fn run(args: ImportModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    import("import-models", args, false, global, |rename_experiments, rename_models| Selection::Models {
        names: Vec::new(),
        versions: VersionFilter::default(),
        all_runs: false,
        filter: RunFilter::default(),
        rename_experiments,
        rename_models,
    })
    .await
}

/// Imports a bulk export's experiments, runs and models (and with `import-all` its prompts,
/// replaced first with `delete_prompt`) as `command`; `selection` makes the job's selection
/// from the experiment and model renames.
pub async fn import(
    command: &str,
    args: ImportModelsArgs,
    delete_prompt: bool,
    global: &GlobalArgs,
    selection: impl FnOnce(Renames, Renames) -> Selection,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let rename_experiments = Renames::from_option(args.experiment_rename_file.as_deref())?;
    let rename_models = Renames::from_option(args.model_rename_file.as_deref())?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let models = super::imported_permissions(&args.write, &args.permissions, &client)?;
    let ctx = ctx.with_models(ModelOptions { delete_prompt, ..models });
    let selection = selection(rename_experiments, rename_models);
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(command, global, &result, &[("destination", &client)], started)
}
