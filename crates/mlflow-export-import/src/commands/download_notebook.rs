//! `download-notebook`: one Databricks workspace notebook → files in a folder.

use std::process::ExitCode;

use mlflow_transfer::{notebook, store::rest::RestSource};

use crate::{
    cli::{DownloadNotebookArgs, GlobalArgs},
    events, settings,
};

pub async fn run(args: DownloadNotebookArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    if args.revision.is_some() {
        return crate::exit::usage(
            "--revision: only a notebook's latest revision can be downloaded (the workspace API documents \
             no way to an earlier one); leave the option out",
        );
    }
    let client = settings::client(&args.tracking_uri, None, global)?;
    if !client.is_databricks() {
        return crate::exit::usage(format!(
            "--tracking-uri {}: not a Databricks workspace, and only a workspace has notebooks",
            args.tracking_uri
        ));
    }
    if global.dry_run {
        let message = format!("dry run: {} not downloaded into {}", args.notebook, args.output_dir.display());
        events::emit(events::Level::Info, "dry_run", &message, serde_json::json!({"notebook": args.notebook}));
        return Ok(ExitCode::SUCCESS);
    }
    let source = RestSource::new(client);
    let written = notebook::download(&source, &args.notebook, &args.notebook_formats.0, &args.output_dir).await?;
    for file in written.iter().filter(|_| !global.quiet) {
        let message = format!("{} written to {}", args.notebook, file.display());
        events::emit(events::Level::Info, "written", &message, serde_json::json!({"file": file}));
    }
    Ok(ExitCode::SUCCESS)
}
