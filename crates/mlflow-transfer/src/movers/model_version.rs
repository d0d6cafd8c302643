//! The model-version mover: one version of a registered model, after its model was opened and
//! its run (or MLflow 3 logged model) moved. A version is found again by its identity tags
//! (source model, version and server): an earlier copy gets its stage re-applied, nothing more.
//! A new one points at the destination copy of its files: inside the copied run, the copied
//! logged model, or (for absolute URIs of stores both servers reach) the same files. When the
//! model's numbers are kept, the [`ModelSink`] burns a number that belongs to a deleted source
//! version by creating and deleting a placeholder, which is how the registry's numbering
//! (highest number ever used, plus one) can be steered.

use std::{collections::BTreeMap, sync::Arc};

use crate::{
    job::{Action, Deps, JobContext, Outcome, VersionOutcome},
    model::{ModelVersionRecord, RegisteredModelRecord},
    store::{local, ModelSink, ModelState, NewVersion},
    Error, Result,
};

/// Where a version goes.
#[derive(Clone)]
pub enum VersionDestination {
    Server {
        sink: Arc<dyn ModelSink>,
        source_tracking_uri: Option<String>,
    },
    /// An export: the version is written with its model's `model.json`.
    Folder,
}

pub struct VersionMove {
    pub model: Arc<RegisteredModelRecord>,
    pub version: ModelVersionRecord,
    pub destination: VersionDestination,
}

impl VersionMove {
    pub async fn execute(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        let v = &self.version;
        let mut outcome = VersionOutcome {
            version: v.version.clone(),
            destination: None,
            skipped: false,
            updated: false,
            error: None,
            retryable: false,
        };
        let result = match &self.destination {
            VersionDestination::Folder => logged_model_copy(v, deps).map(|_| v.version.clone()),
            VersionDestination::Server { sink, source_tracking_uri } => {
                self.write(sink.as_ref(), source_tracking_uri.as_deref(), deps, ctx, &mut outcome).await
            }
        };
        match result {
            Ok(dst) => outcome.destination = Some(dst),
            Err(e) => {
                outcome.retryable = e.is_transient();
                outcome.error = Some(e.to_string());
            }
        }
        Outcome::Version(outcome)
    }

    async fn write(
        &self,
        sink: &dyn ModelSink,
        source_tracking_uri: Option<&str>,
        deps: &Deps,
        ctx: &JobContext,
        outcome: &mut VersionOutcome,
    ) -> Result<String> {
        let v = &self.version;
        let state = model_state(deps)?;
        let stage = v.current_stage.as_deref().unwrap_or("None");
        if let Some(existing) = state.ours.get(&v.version) {
            let mut changed = sink.update_version(&state.dst_name, existing, v.description.as_deref(), &v.tags).await?;
            if ctx.models.stages_and_aliases {
                changed |= sink.set_stage(&state.dst_name, existing, stage, ctx.models.stage_aliases).await?;
            }
            (outcome.skipped, outcome.updated) = (!changed, changed);
            return Ok(existing.version.clone());
        }
        let (source, run_id, model_id) = match version_files(v, ctx) {
            VersionFiles::InRun { src_run, dst_run } => match logged_model_copy(v, deps)? {
                Some(dst_model) => (format!("models:/{dst_model}"), Some(dst_run), Some(dst_model)),
                None => {
                    let path =
                        source_path_in_run(&v.source, &src_run, v.run_artifact_uri.as_deref()).ok_or_else(|| {
                            Error::Unsupported(format!(
                                "version {}: source {:?} is not inside the artifacts of its run {src_run} ({:?})",
                                v.version, v.source, v.run_artifact_uri
                            ))
                        })?;
                    let dst_root = sink.run_artifact_uri(&dst_run).await?;
                    let source =
                        if path.is_empty() { dst_root } else { format!("{}/{path}", dst_root.trim_end_matches('/')) };
                    (source, Some(dst_run), None)
                }
            },
            VersionFiles::Shared => (v.source.clone(), None, None),
            VersionFiles::Unreachable(why) => return Err(Error::Unsupported(format!("version {}: {why}", v.version))),
        };
        let request = NewVersion {
            source,
            run_id,
            run_link: v.run_link.clone(),
            description: v.description.clone(),
            tags: self.tags(ctx),
            model_id,
            src_model: self.model.name.clone(),
            src_version: v.version.clone(),
            source_tracking_uri: source_tracking_uri.map(str::to_string),
        };
        let created = sink.create_version(state, &request, ctx.models.await_creation).await?;
        if ctx.models.stages_and_aliases {
            sink.set_stage(&state.dst_name, &created, stage, ctx.models.stage_aliases).await?;
        }
        Ok(created.version)
    }
}

impl VersionMove {
    /// The new version's tags: its own, `--copy-lineage-tags`' and `--import-source-tags`'
    /// (the version's fields, as the Python tool writes them).
    fn tags(&self, ctx: &JobContext) -> BTreeMap<String, String> {
        let v = &self.version;
        let mut tags = v.tags.clone();
        tags.extend(ctx.models.version_tags.clone());
        if ctx.opts.import_source_tags {
            let fields = [
                ("name", Some(self.model.name.clone())),
                ("version", Some(v.version.clone())),
                ("current_stage", v.current_stage.clone()),
                ("description", v.description.clone()),
                ("user_id", v.user_id.clone()),
                ("source", Some(v.source.clone())),
                ("run_id", v.run_id.clone()),
                ("run_link", v.run_link.clone()),
                ("status", v.status.clone()),
            ];
            let times =
                [("creation_timestamp", v.creation_timestamp), ("last_updated_timestamp", v.last_updated_timestamp)];
            tags.extend(crate::identity::source_field_tags(&fields, &times));
        }
        tags
    }
}

/// The destination model as its `Open` step found it.
fn model_state(deps: &Deps) -> Result<&ModelState> {
    deps.iter()
        .find_map(|d| match d {
            Outcome::ModelReady(state) => Some(Ok(state.as_ref())),
            Outcome::Failed { object, error, .. } => Some(Err(Error::Unsupported(format!("{object}: {error}")))),
            _ => None,
        })
        .unwrap_or_else(|| Err(Error::Input("the destination model was not prepared".into())))
}

/// The destination id of the version's logged model, when its files are one (`models:/m-…`),
/// from the logged-model step this version depends on.
fn logged_model_copy(v: &ModelVersionRecord, deps: &Deps) -> Result<Option<String>> {
    let Some(src_model) = v.logged_model_id() else { return Ok(None) };
    let found = deps.iter().find_map(|d| match d {
        Outcome::LoggedModel(m) if m.source_model_id == src_model => Some(m),
        _ => None,
    });
    match found {
        Some(m) if m.action != Action::Failed => Ok(m.destination.clone()),
        Some(m) => {
            Err(Error::Unsupported(format!("logged model {src_model}: {}", m.error.as_deref().unwrap_or("not copied"))))
        }
        None => Err(Error::Unsupported(format!(
            "version {}: its files are in MLflow 3 logged model {src_model}, which this source does not hold",
            v.version
        ))),
    }
}

/// Where a version's files come from at the destination.
enum VersionFiles {
    /// In its run, copied as `dst_run`.
    InRun {
        src_run: String,
        dst_run: String,
    },
    /// In a store both servers reach by absolute URI (`s3://…`, `dbfs:/…`): the new version
    /// points at the same files, as the Python tool does.
    Shared,
    Unreachable(String),
}

/// Absolute URIs of stores outside the tracking server, which a registry accepts without a run.
const SHARED_SCHEMES: [&str; 8] = ["s3://", "s3a://", "gs://", "wasbs://", "abfss://", "dbfs:/", "hdfs://", "oss://"];

fn version_files(v: &ModelVersionRecord, ctx: &JobContext) -> VersionFiles {
    match v.run_id.as_deref().map(|r| (r, ctx.ids.get(r).flatten())) {
        Some((src_run, Some(dst_run))) => VersionFiles::InRun { src_run: src_run.to_string(), dst_run },
        _ if SHARED_SCHEMES.iter().any(|s| v.source.starts_with(s)) => VersionFiles::Shared,
        Some((src_run, None)) => VersionFiles::Unreachable(format!(
            "its run {src_run} was not copied (see the run's error, or it no longer exists)"
        )),
        None => VersionFiles::Unreachable(format!(
            "it has no run and its source {:?} is not in a store both servers reach; such versions are not supported",
            v.source
        )),
    }
}

/// Where a version's files sit inside its run's artifacts, for any way `source` may be written:
/// `runs:/<run_id>/<path>`, or the run's artifact root (any scheme) followed by the path.
pub fn source_path_in_run(source: &str, run_id: &str, run_artifact_uri: Option<&str>) -> Option<String> {
    if let Some(rest) = source.strip_prefix("runs:/") {
        let (id, path) = rest.split_once('/').unwrap_or((rest, ""));
        return (id == run_id).then(|| path.trim_matches('/').to_string());
    }
    let root = run_artifact_uri?.trim_end_matches('/');
    let relative = |s: &str| {
        s.strip_prefix(root)
            .filter(|rest| rest.is_empty() || rest.starts_with('/'))
            .map(|rest| rest.trim_matches('/').to_string())
    };
    relative(source).or_else(|| {
        // The same local folder written as `/x` in one place and `file:///x` in the other.
        let (a, b) = (local::local_root(source)?, local::local_root(root)?);
        a.strip_prefix(&b).ok().and_then(|p| p.to_str()).map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_source_inside_its_run_for_every_scheme() {
        let id = "abc";
        assert_eq!(source_path_in_run("runs:/abc/model", id, None).as_deref(), Some("model"));
        assert_eq!(source_path_in_run("runs:/other/model", id, None), None);
        let root = Some("mlflow-artifacts:/1/abc/artifacts");
        assert_eq!(source_path_in_run("mlflow-artifacts:/1/abc/artifacts/model", id, root).as_deref(), Some("model"));
        assert_eq!(source_path_in_run("mlflow-artifacts:/1/abc/artifacts", id, root).as_deref(), Some(""));
        assert_eq!(source_path_in_run("mlflow-artifacts:/1/abc/artifactsX/m", id, root), None);
        let s3 = Some("s3://bucket/1/abc/artifacts");
        assert_eq!(source_path_in_run("s3://bucket/1/abc/artifacts/a/b", id, s3).as_deref(), Some("a/b"));
        let local = Some("/srv/mlruns/1/abc/artifacts");
        assert_eq!(source_path_in_run("file:///srv/mlruns/1/abc/artifacts/model", id, local).as_deref(), Some("model"));
        let dbfs = Some("dbfs:/databricks/mlflow-tracking/1/abc/artifacts");
        assert_eq!(
            source_path_in_run("dbfs:/databricks/mlflow-tracking/1/abc/artifacts/model", id, dbfs).as_deref(),
            Some("model")
        );
        assert_eq!(source_path_in_run("models:/m-123", id, root), None);
    }

    #[test]
    fn where_version_files_come_from() {
        let ctx = JobContext::new(crate::job::RunOptions::default(), std::sync::Arc::new(crate::Silent));
        ctx.ids.insert("copied", "dst");
        let version = |run: Option<&str>, source: &str| ModelVersionRecord {
            run_id: run.map(String::from),
            source: source.into(),
            ..Default::default()
        };
        assert!(
            matches!(version_files(&version(Some("copied"), "runs:/copied/m"), &ctx), VersionFiles::InRun { dst_run, .. } if dst_run == "dst")
        );
        assert!(matches!(version_files(&version(None, "s3://b/m"), &ctx), VersionFiles::Shared));
        assert!(matches!(version_files(&version(Some("gone"), "dbfs:/x/m"), &ctx), VersionFiles::Shared));
        assert!(matches!(version_files(&version(Some("gone"), "runs:/gone/m"), &ctx), VersionFiles::Unreachable(_)));
        assert!(matches!(version_files(&version(None, "/local/m"), &ctx), VersionFiles::Unreachable(_)));
    }
}
