//! `import-run`: directory or zip file → tracking server.

use std::{process::ExitCode, sync::Arc, time::Instant};

use anyhow::Context;
use mlflow_transfer::{
    store::{dir::DirSource, rest::RestSink, zip},
    transfer::{transfer_run, JobContext},
    Reporter,
};

use crate::{cli::{GlobalArgs, ImportRunArgs}, progress::Progress, settings};

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
    let progress = Arc::new(Progress::new(global.quiet));
    let reporter: Arc<dyn Reporter> = progress.clone();
    let opts = settings::run_options(global, Some(&args.tags), false);
    let ctx = JobContext::new(opts, reporter);
    let outcome = transfer_run(&source, &sink, &run_id, &ctx).await;
    progress.finish();
    super::finish("import-run", global, &[outcome], &[("destination", &client)], started)
}
