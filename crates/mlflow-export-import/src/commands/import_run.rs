//! `import-run`: directory or zip file → tracking server.

use std::{process::ExitCode, time::Instant};

use anyhow::Context;
use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    store::zip,
};

use crate::{
    cli::{GlobalArgs, ImportRunArgs},
    settings,
};

pub async fn run(args: ImportRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if !args.input.exists() {
        return crate::exit::usage(format!("{}: no such file or directory", args.input.display()));
    }
    // A zip is unpacked (entries checked first) into a private folder removed on exit.
    let unpacked = if zip::is_zip(&args.input) {
        let tmp = tempfile::tempdir().context("creating a temporary folder")?;
        zip::unpack(&args.input, tmp.path()).await?;
        Some(tmp)
    } else {
        None
    };
    let dir = unpacked.as_ref().map_or(args.input.as_path(), |t| t.path());
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (mut ctx, progress) = super::job_context(global, Some(&args.tags), false);
    ctx.opts.notebook_dir = settings::notebook_dir(&args.notebooks, &client)?;
    let selection = Selection::Run { run_id: None, experiment: Some(args.experiment_name.clone()) };
    let source = Source::Export(dir.to_path_buf());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-run", global, &result, &[("destination", &client)], started)
}
