//! `import-run`: directory or zip file → tracking server.

use std::{process::ExitCode, sync::Arc, time::Instant};

use anyhow::Context;
use mlflow_transfer::store::{dir::DirSource, rest::RestSink, zip};

use crate::{
    cli::{GlobalArgs, ImportRunArgs},
    settings,
};

pub async fn run(args: ImportRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if !args.input.exists() {
        anyhow::bail!("{}: no such file or directory", args.input.display());
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
    let (source, run_id) = DirSource::single(dir)?;
    let client = settings::client(&args.tracking_uri, None, global)?;
    let sink = RestSink::for_experiment(client.clone(), &args.experiment_name, &Default::default())
        .await
        .with_context(|| format!("preparing experiment {:?}", args.experiment_name))?;
    let (ctx, progress) = super::job_context(global, Some(&args.tags), false);
    let result = super::one_run(Arc::new(source), Arc::new(sink), &run_id, &ctx).await;
    progress.finish();
    super::finish_job("import-run", global, &result, &[("destination", &client)], started)
}
