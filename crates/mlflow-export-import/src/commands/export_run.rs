//! `export-run`: tracking server → directory or zip file.

use std::{process::ExitCode, time::Instant};

use anyhow::Context;
use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    store::zip,
};

use crate::{
    cli::{ExportRunArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let system = settings::export_system(&from, "export_run").await;
    let as_zip = zip::is_zip(&args.output);
    // A zip is packed from a finished directory next to it, so an interrupted export resumes.
    let dir = if as_zip { staging_dir(&args.output) } else { args.output.clone() };
    let source = Source::Server(from.source.clone());
    let (mut ctx, progress) = super::job_context(global, None, args.export_metadata_tags);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.notebooks, &from)?;
    let selection = Selection::Run { run_id: Some(args.run_id.clone()), experiment: None };
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Folder { out: dir.clone(), system });
    let Some(mut result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    if as_zip && !result.failed() {
        zip::pack(&dir, &args.output).await.with_context(|| format!("writing {}", args.output.display()))?;
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        for outcome in &mut result.runs {
            outcome.destination = Some(args.output.display().to_string());
        }
    }
    super::finish_job("export-run", global, &result, &from.named("source"), started)
}

fn staging_dir(zip: &std::path::Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.partial.d", zip.display()))
}
