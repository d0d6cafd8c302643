//! `import-traces`: a directory made by export-traces → a tracking server, each trace into the
//! experiment of the name `traces.json` gives it (or `--experiment-name`).

use std::{process::ExitCode, time::Instant};

use mlflow_transfer::plan::{Destination, Selection, Source, TraceWindow};

use crate::{
    cli::{GlobalArgs, ImportTracesArgs},
    settings,
};

pub async fn run(args: ImportTracesArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let client = settings::client(&args.tracking_uri, None, global)?;
    let (ctx, progress) = super::job_context(global, None, false);
    let selection = Selection::Traces {
        experiments: Vec::new(),
        window: TraceWindow::default(),
        dst_experiment: args.experiment_name.clone(),
    };
    let source = Source::Export(args.input_dir.clone());
    let job = super::plan_and_run(global, &ctx, source, selection, Destination::Server(client.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("import-traces", global, &result, &[("destination", &client)], started)
}
