//! `copy-all`: a whole tracking server to another, streamed: every experiment with its runs,
//! then every registered model with its versions.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    plan::{Destination, Selection, Source},
    select::Renames,
    store::rest::RestSource,
};

use crate::{
    cli::{CopyAllArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyAllArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_uri, Some("DST"), global)?;
    let filter = settings::run_filter(&args.filter, None)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, Some(&args.tags), args.export_metadata_tags);
    let ctx = ctx.with_models(super::model_options(&args.write));
    let selection = Selection::All {
        versions: super::version_filter(&args.versions),
        filter,
        rename_experiments: Renames::default(),
        rename_models: Renames::default(),
    };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("copy-all", global, &result, &[("source", &src), ("destination", &dst)], started)
}
