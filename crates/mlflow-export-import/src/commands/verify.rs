//! `verify`: what a user runs after a migration. Differences go to stdout, one per line.

use std::process::ExitCode;

use mlflow_transfer::verify::{verify, Options, Side};

use crate::{
    cli::{GlobalArgs, VerifyArgs},
    events, settings,
};

async fn side(
    uri: Option<&str>,
    experiment: Option<&str>,
    dir: Option<&std::path::Path>,
    prefix: &str,
    global: &GlobalArgs,
) -> anyhow::Result<Side> {
    match (uri, experiment, dir) {
        (Some(uri), Some(experiment), _) => {
            let from = settings::source(uri, Some(prefix), global).await?;
            Ok(Side::server(from.source, experiment).await?)
        }
        (_, _, Some(dir)) => Ok(Side::export(dir)?),
        _ => crate::exit::usage(format!(
            "give --{0}-uri with --{0}-experiment, or --{0}-dir",
            prefix.to_ascii_lowercase()
        )),
    }
}

pub async fn run(args: VerifyArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let src =
        side(args.src_uri.as_deref(), args.src_experiment.as_deref(), args.src_dir.as_deref(), "SRC", global).await?;
    let dst =
        side(args.dst_uri.as_deref(), args.dst_experiment.as_deref(), args.dst_dir.as_deref(), "DST", global).await?;
    let opts = Options {
        concurrency: global.concurrency.max(1),
        transfers: global.transfers.max(1),
        checksums: args.checksums,
    };
    let diffs = verify(&src, &dst, opts).await?;
    for d in &diffs {
        println!("{d}");
    }
    if !global.quiet || !diffs.is_empty() {
        let level = if diffs.is_empty() { events::Level::Info } else { events::Level::Error };
        events::emit(
            level,
            "verify",
            &format!("verify: {} source runs, {} destination runs, {} differences", src.len(), dst.len(), diffs.len()),
            serde_json::json!({"source_runs": src.len(), "destination_runs": dst.len(), "differences": diffs.len()}),
        );
    }
    Ok(if diffs.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
