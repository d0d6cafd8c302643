//! `export-model`: a registered model, its versions and their runs → directory.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::VersionFilter,
};

use crate::{
    cli::{ExportModelArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportModelArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.export_deleted_runs == Some(false) {
        return crate::exit::usage(
            "--export-deleted-runs false is not supported: a version's run is exported even when deleted, since the \
             version needs it (leave the option out)",
        );
    }
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let system = settings::export_system(&from, "export_model").await;
    let (mut ctx, progress) = super::job_context(global, None, false);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.compat.notebooks, &from)?;
    let selection = Selection::Model {
        name: args.model.clone(),
        versions: VersionFilter {
            permissions: settings::source_permissions(args.export_permissions, &from)?,
            ..super::version_filter(&args.versions)
        },
        dst_name: args.model.clone(),
        dst_experiment: None,
    };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-model", global, &result, &from.named("source"), started)
}
