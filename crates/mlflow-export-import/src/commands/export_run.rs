//! `export-run`: tracking server → directory or zip file.

use std::{process::ExitCode, sync::Arc, time::Instant};

use anyhow::Context;
use mlflow_transfer::{
    format::run_json::ExportSystem,
    store::{dir::DirSink, rest::RestSource, zip},
    transfer::{transfer_run, JobContext},
    Reporter,
};

use crate::{cli::{ExportRunArgs, GlobalArgs}, progress::Progress, settings};

pub async fn run(args: ExportRunArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    if args.notebook_formats.is_some() {
        tracing::warn!("--notebook-formats is accepted for compatibility; Databricks notebooks are not exported");
    }
    let client = settings::client(&args.tracking_uri, None, global)?;
    let system = ExportSystem {
        package_version: env!("CARGO_PKG_VERSION").to_string(),
        script: "export_run".into(),
        export_time: unix_now(),
        mlflow_version: client.version().await.ok(),
        mlflow_tracking_uri: Some(client.base_url().to_string()),
        user: std::env::var("USER").ok(),
    };
    let as_zip = zip::is_zip(&args.output);
    // A zip is packed from a finished directory next to it, so an interrupted export resumes.
    let dir = if as_zip { staging_dir(&args.output) } else { args.output.clone() };
    let source = RestSource::new(client.clone());
    let sink = DirSink::new(&dir, system);
    let progress = Arc::new(Progress::new(global.quiet));
    let reporter: Arc<dyn Reporter> = progress.clone();
    let opts = settings::run_options(global, None, args.export_metadata_tags);
    let ctx = JobContext::new(opts, reporter);
    let mut outcome = transfer_run(&source, &sink, &args.run_id, &ctx).await;
    progress.finish();
    if as_zip && outcome.error.is_none() {
        zip::pack(&dir, &args.output).await.with_context(|| format!("writing {}", args.output.display()))?;
        std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        outcome.destination = Some(args.output.display().to_string());
    }
    super::finish("export-run", global, &[outcome], &[("source", &client)], started)
}

fn staging_dir(zip: &std::path::Path) -> std::path::PathBuf {
    std::path::PathBuf::from(format!("{}.partial.d", zip.display()))
}

pub fn unix_now() -> i64 {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    i64::try_from(secs).unwrap_or(i64::MAX)
}
