//! `import-prompt`: a directory made by `export-prompt` (ours or the Python tool's) → tracking
//! server, the version under its own number.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    job::ModelOptions,
    plan::{Destination, Selection, Source},
    select::ExperimentSpec,
};

use crate::{
    cli::{GlobalArgs, ImportPromptArgs},
    settings,
};

pub async fn run(args: ImportPromptArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let selection = Selection::Prompts {
        prompts: ExperimentSpec::All,
        version: None,
        single: true,
        dst_name: args.prompt_name.clone(),
    };
    import("import-prompt", &args.tracking_uri, &args.input_dir, args.write.delete_prompt, selection, global).await
}

/// Runs a prompt import `selection` of `input_dir` into `tracking_uri` as `command`.
pub async fn import(
    command: &str,
    tracking_uri: &str,
    input_dir: &std::path::Path,
    delete_prompt: bool,
    selection: Selection,
    global: &GlobalArgs,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, None, false);
    let ctx = ctx.with_models(ModelOptions { delete_prompt, ..Default::default() });
    let source = Source::Export(input_dir.to_path_buf());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(command, global, &result, &[("destination", &client)], started)
}
