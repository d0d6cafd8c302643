//! `list-registered-models`: every registered model with its latest versions, as a table on
//! stdout and as `registered_models.json` (the Python tool's file).

use std::process::ExitCode;

use anyhow::Context;
use mlflow_transfer::format::model_json::write_registered_models_json;

use crate::{
    cli::{GlobalArgs, ListRegisteredModelsArgs},
    settings,
};

pub async fn run(args: ListRegisteredModelsArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let from = settings::source(&args.tracking_uri, None, global).await?;
    let all = from.source.list_models().await?;
    let json = serde_json::to_vec_pretty(&write_registered_models_json(&all)).expect("JSON values always serialize");
    if global.dry_run {
        crate::events::emit(
            crate::events::Level::Info,
            "dry_run",
            &format!("dry run: {} not written", args.output_file.display()),
            serde_json::json!({"file": args.output_file}),
        );
    } else {
        mlflow_transfer::store::local::write_atomic(&args.output_file, &json)
            .with_context(|| format!("writing {}", args.output_file.display()))?;
    }
    let width = all.iter().map(|m| m.name.len()).max().unwrap_or(4).max(4);
    println!("{:width$}  {:>8}  {:<10}  aliases", "name", "versions", "latest");
    for m in &all {
        let latest = m.versions.last().map_or("-", |v| v.version.as_str());
        let aliases: Vec<String> = m.aliases.iter().map(|(a, v)| format!("{a}={v}")).collect();
        println!("{:width$}  {:>8}  {:<10}  {}", m.name, m.versions.len(), latest, aliases.join(","));
    }
    if !global.quiet && !global.dry_run {
        crate::events::emit(
            crate::events::Level::Info,
            "written",
            &format!("{} registered models written to {}", all.len(), args.output_file.display()),
            serde_json::json!({"registered_models": all.len(), "file": args.output_file}),
        );
    }
    Ok(ExitCode::SUCCESS)
}
