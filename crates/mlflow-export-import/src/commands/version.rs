//! `version`: this tool's version and the MLflow version of each server given, so that a bug
//! report or a migration plan names both sides.

use std::process::ExitCode;

use serde_json::json;

use crate::{
    cli::{GlobalArgs, ServerVersionArgs},
    events, exit, settings,
};

/// One server's answer to `GET /version`.
async fn probe(role: &str, uri: &str, side: Option<&str>, global: &GlobalArgs) -> serde_json::Value {
    let answer = match settings::client(uri, side, global) {
        Ok(client) => client.version().await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let uri = mlflow_client::redact(uri);
    match answer {
        Ok(version) => json!({"role": role, "tracking_uri": uri, "mlflow_version": version}),
        Err(e) => json!({"role": role, "tracking_uri": uri, "error": format!("{e:#}")}),
    }
}

pub async fn run(args: ServerVersionArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let asked = [
        ("tracking", &args.tracking_uri, None),
        ("source", &args.src_uri, Some("SRC")),
        ("destination", &args.dst_uri, Some("DST")),
    ];
    let servers = futures::future::join_all(
        asked.iter().filter_map(|(role, uri, side)| uri.as_deref().map(|uri| probe(role, uri, *side, global))),
    )
    .await;
    let version = env!("CARGO_PKG_VERSION");
    if events::json() {
        println!("{}", json!({"version": version, "servers": servers}));
    } else {
        println!("mlflow-export-import {version}");
        for s in &servers {
            let answer = match (&s["mlflow_version"], &s["error"]) {
                (serde_json::Value::String(v), _) => format!("MLflow {v}"),
                (_, e) => format!("unreachable: {}", e.as_str().unwrap_or_default()),
            };
            println!(
                "{:<12} {}  {answer}",
                s["role"].as_str().unwrap_or_default(),
                s["tracking_uri"].as_str().unwrap_or_default()
            );
        }
    }
    let unreachable = servers.iter().any(|s| s.get("error").is_some());
    Ok(if unreachable { ExitCode::from(exit::UNREACHABLE) } else { ExitCode::SUCCESS })
}
