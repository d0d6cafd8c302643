//! `version`: this tool's version and the MLflow version of each server given, so that a bug
//! report or a migration plan names both sides.

use std::process::ExitCode;

use serde::Serialize;
use serde_json::json;

use crate::{
    cli::{GlobalArgs, ServerVersionArgs},
    events, exit, settings,
};

/// One server's answer to `GET /version`, or why there was none.
#[derive(Serialize)]
struct Probe {
    role: &'static str,
    tracking_uri: String,
    #[serde(flatten)]
    answer: Answer,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Answer {
    MlflowVersion(String),
    Error(String),
}

async fn probe(role: &'static str, uri: &str, side: Option<&str>, global: &GlobalArgs) -> Probe {
    let answer = match settings::client(uri, side, global) {
        Ok(client) => client.version().await.map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let answer = answer.map_or_else(|e| Answer::Error(format!("{e:#}")), Answer::MlflowVersion);
    Probe { role, tracking_uri: mlflow_client::redact(uri), answer }
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
            let answer = match &s.answer {
                Answer::MlflowVersion(v) => format!("MLflow {v}"),
                Answer::Error(e) => format!("unreachable: {e}"),
            };
            println!("{:<12} {}  {answer}", s.role, s.tracking_uri);
        }
    }
    let unreachable = servers.iter().any(|s| matches!(s.answer, Answer::Error(_)));
    Ok(if unreachable { ExitCode::from(exit::UNREACHABLE) } else { ExitCode::SUCCESS })
}
