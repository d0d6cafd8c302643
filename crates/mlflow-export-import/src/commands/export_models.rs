//! `export-models`: several (or all) registered models, the runs behind their versions once
//! each, in the Python tool's `export-models` layout.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::{ExperimentSpec, Renames, VersionFilter},
};

use crate::{
    cli::{ExportModelsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: ExportModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let source = from.source.clone();
    let names = source.select_models(&ExperimentSpec::parse(&args.models)?).await?;
    if names.is_empty() {
        return crate::exit::usage(format!(
            "--models {:?} matches no registered model at {}",
            args.models,
            from.source.tracking_uri()
        ));
    }
    let filter = settings::run_filter(&args.filter, None)?;
    if !args.export_all_runs && (filter.started_after.is_some() || filter.started_before.is_some()) {
        return crate::exit::usage(
            "--run-start-time and --runs-until select the other runs that --export-all-runs adds; the runs behind \
             the versions are always exported (a version needs its run)",
        );
    }
    let system = settings::export_system(&from, "export_models").await;
    let (mut ctx, progress) = super::job_context(global, None, false);
    ctx.opts.notebook_formats = settings::notebook_formats(&args.compat.notebooks, &from)?;
    let selection = Selection::Models {
        names,
        versions: VersionFilter {
            permissions: settings::source_permissions(args.export_permissions, &from)?,
            ..super::version_filter(&args.versions)
        },
        all_runs: args.export_all_runs,
        filter,
        rename_experiments: Renames::default(),
        rename_models: Renames::default(),
    };
    let destination = Destination::Folder { out: args.output_dir.clone(), system };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, destination);
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("export-models", global, &result, &from.named("source"), started)
}
