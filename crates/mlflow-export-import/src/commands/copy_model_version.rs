//! `copy-model-version`: one version and its run, server to server; at one server without
//! `--dst-experiment-name`, the version alone, pointing at the source run (shallow).

use std::{collections::BTreeMap, process::ExitCode, sync::Arc, time::Instant};

use mlflow_client::redact;

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
    // A version that does not exist is a usage error, not an empty job.
    let model = source.read_model(&args.src_model, &VersionFilter::default()).await?;
    let Some(version) = model.versions.iter().find(|v| v.version == args.src_version) else {
        return crate::exit::usage(format!("model {:?} has no version {}", args.src_model, args.src_version));
    };
    let mut version_tags = BTreeMap::new();
    if args.copy_lineage_tags {
        let run_tags = match &version.run_id {
            Some(id) => src.get_run(id).await?.data.tags.into_iter().map(|t| (t.key, t.value)).collect(),
            None => BTreeMap::new(),
        };
        let uris = (redact(src.base_url()), redact(dst.base_url()));
        version_tags = lineage_tags(&args.src_model, &version.version, version.run_id.as_deref(), uris, &run_tags);
    }
    let ctx = ctx.with_models(ModelOptions {
        stages_and_aliases: args.copy_stages_and_aliases,
        stage_aliases: args.stages.stages_as_aliases,
        keep_numbers: false,
        version_tags,
        ..Default::default()
    });
    // The Python tool's shallow mode (no --dst-experiment-name): at the same server the new
    // version points at the source run itself. Between servers the run has to be copied, into
    // an experiment named as its source's; so is one registered from a logged model.
    let shallow =
        args.dst_experiment_name.is_none() && src.base_url() == dst.base_url() && version.logged_model_id().is_none();
    let selection = if shallow {
        if let Some(run_id) = &version.run_id {
            ctx.ids.insert(run_id, run_id);
        }
        Selection::ModelVersion {
            name: args.src_model.clone(),
            version: args.src_version.clone(),
            dst_name: args.dst_model.clone(),
        }
    } else {
        Selection::Model {
            name: args.src_model.clone(),
            versions: VersionFilter { versions: Some(vec![args.src_version.clone()]), ..Default::default() },
            dst_name: args.dst_model.clone(),
            dst_experiment: args.dst_experiment_name.clone(),
        }
    };
    let job = super::plan_and_run(global, &ctx, Source::Server(source), selection, Destination::Server(dst.clone()));
    let Some(result) = job.await? else { return Ok(ExitCode::SUCCESS) };
    progress.finish();
    super::finish_job("copy-model-version", global, &result, &[("source", &src), ("destination", &dst)], started)
}

/// The Python tool's prefix of lineage tags.
const LINEAGE: &str = "mlflow_exim";
/// The source run's tags that `--copy-lineage-tags` records, as the Python tool does.
const LINEAGE_RUN_TAGS: [&str; 4] =
    ["mlflow.databricks.workspaceURL", "mlflow.databricks.webappURL", "mlflow.databricks.workspaceID", "mlflow.user"];

/// The tags the Python tool's `--copy-lineage-tags` adds to the new version, with its names
/// (the destination's URI key repeats the prefix, as it does). `uris`: source, destination.
fn lineage_tags(
    model: &str,
    version: &str,
    run_id: Option<&str>,
    uris: (String, String),
    run_tags: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::from([
        (format!("{LINEAGE}.src_version.name"), model.to_string()),
        (format!("{LINEAGE}.src_version.version"), version.to_string()),
        (format!("{LINEAGE}.src_client.tracking_uri"), uris.0),
        (format!("{LINEAGE}.{LINEAGE}.dst_client.tracking_uri"), uris.1),
    ]);
    if let Some(id) = run_id {
        tags.insert(format!("{LINEAGE}.src_version.run_id"), id.to_string());
    }
    for key in LINEAGE_RUN_TAGS {
        if let Some(value) = run_tags.get(key) {
            tags.insert(format!("{LINEAGE}.src_run.{key}"), value.clone());
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_tags_are_the_python_tools() {
        let run_tags = BTreeMap::from([
            ("mlflow.user".to_string(), "ana".to_string()),
            ("mlflow.source.name".to_string(), "train.py".to_string()),
        ]);
        let uris = ("http://src:5000".to_string(), "http://dst:5000".to_string());
        let tags = lineage_tags("wine", "3", Some("r1"), uris, &run_tags);
        let expected = [
            ("mlflow_exim.mlflow_exim.dst_client.tracking_uri", "http://dst:5000"),
            ("mlflow_exim.src_client.tracking_uri", "http://src:5000"),
            ("mlflow_exim.src_run.mlflow.user", "ana"),
            ("mlflow_exim.src_version.name", "wine"),
            ("mlflow_exim.src_version.run_id", "r1"),
            ("mlflow_exim.src_version.version", "3"),
        ];
        let expected: BTreeMap<String, String> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(tags, expected);
    }
}
