//! `copy-model-version`: one version and its run, server to server.

use std::{process::ExitCode, sync::Arc, time::Instant};

use mlflow_transfer::{
    job::ModelOptions,
    plan::{Destination, Selection, Source},
    select::VersionFilter,
    store::rest::RestSource,
};

use crate::{
    cli::{CopyModelVersionArgs, GlobalArgs},
    settings,
};

pub async fn run(args: CopyModelVersionArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let src = settings::client(&args.src_registry_uri, Some("SRC"), global)?;
    let dst = settings::client(&args.dst_registry_uri, Some("DST"), global)?;
    let source = Arc::new(RestSource::new(src.clone()));
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let ctx = ctx.with_models(ModelOptions {
        stages_and_aliases: args.copy_stages_and_aliases,
        keep_numbers: false,
        ..Default::default()
    });
    let selection = Selection::Model {
        name: args.src_model.clone(),
        versions: VersionFilter { versions: Some(vec![args.src_version.clone()]), ..Default::default() },
        dst_name: args.dst_model.clone(),
        dst_experiment: args.dst_experiment_name.clone(),
    };
    // A version that does not exist is a usage error, not an empty job.
    if !source
        .read_model(&args.src_model, &VersionFilter::default())
        .await?
        .versions
        .iter()
        .any(|v| v.version == args.src_version)
    {
        return crate::exit::usage(format!("model {:?} has no version {}", args.src_model, args.src_version));
    }
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("copy-model-version", global, &result, &[("source", &src), ("destination", &dst)], started)
}
