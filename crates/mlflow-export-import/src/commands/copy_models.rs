//! `copy-models`: several (or all) registered models, server to server, streamed: the runs
//! behind their versions (or every run of those experiments) once each, then the models.

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::{ExperimentSpec, Renames, RunFilter},
};

use crate::{
    cli::{CopyModelsArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let from = settings::source(&args.src_uri, Some("SRC"), global).await?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let source = from.source.clone();
    let names = source.select_models(&ExperimentSpec::parse(&args.models)?).await?;
    if names.is_empty() {
        return crate::exit::usage(format!(
            "--models {:?} matches no registered model at {}",
            args.models,
            from.source.tracking_uri()
        ));
    }
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let (models, versions) = super::copied_permissions(&args.write, &args.versions, &args.permissions, &from, &dst)?;
    let ctx = ctx.with_models(models);
    let selection = Selection::Models {
        names,
        versions,
        all_runs: args.all_runs,
        filter: RunFilter::default(),
        rename_experiments: Renames::default(),
        rename_models: Renames::default(),
    };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job(
        "copy-models",
        global,
        &result,
        &[from.named("source"), vec![("destination", &dst)]].concat(),
        started,
    )
}
