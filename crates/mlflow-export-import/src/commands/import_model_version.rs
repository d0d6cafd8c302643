//! `import-model-version`: an `export-model-version` directory → tracking server, the run
//! first, then the version (a new number after the model's last one).

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    job::ModelOptions,
    plan::{Destination, Selection, Source},
    select::VersionFilter,
};

use crate::{
    cli::{GlobalArgs, ImportModelVersionArgs},
    settings,
};

pub async fn run(args: ImportModelVersionArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    // As the Python tool: the version joins an existing model unless told to create it.
    if !args.create_model && client.get_registered_model(&args.model).await?.is_none() {
        return crate::exit::usage(format!(
            "registered model {:?} does not exist at {}: create it, or pass --create-model",
            args.model,
            client.base_url()
        ));
    }
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let ctx = ctx.with_models(ModelOptions {
        stages_and_aliases: args.import_stages_and_aliases,
        stage_aliases: args.stages.stages_as_aliases,
        keep_numbers: false,
        ..Default::default()
    });
    let selection = Selection::Model {
        name: args.model.clone(),
        versions: VersionFilter::default(),
        dst_name: args.model.clone(),
        dst_experiment: Some(args.experiment_name.clone()),
    };
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-model-version", global, &result, &[("destination", &client)], started)
}
