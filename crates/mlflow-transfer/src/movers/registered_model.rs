//! The registered-model mover. A registered model is a container of versions: at a server it
//! is prepared before them (`Open`: deleted first with `--delete-model`, found or created, tags
//! and description added, our earlier copies of its versions listed), and closed after them
//! (`Close`: aliases set, the outcome counts what its versions did). In an export folder,
//! `model.json` is written after its versions' runs and logged models; an `export-models`
//! folder's `models/models.json` indexes the models last.
//!
//! When the destination model holds nothing but our copies, version numbers are kept: the
//! version mover reproduces a numbering gap left by a deleted source version.

use std::{
    collections::{BTreeMap, HashMap},
    path::PathBuf,
    sync::Arc,
};

use mlflow_client::{types::ModelVersion, MlflowClient};

use crate::{
    format::{
        model_json::{write_model_json, write_models_json},
        ExportSystem,
    },
    identity::{copied_version, PLACEHOLDER},
    job::{JobContext, ModelOutcome, ModelState, Outcome, Phase},
    model::{key_values, version_number as number, RegisteredModelRecord},
    store::local,
    Error, Result,
};

/// Where a registered model goes.
#[derive(Clone)]
pub enum ModelDestination {
    /// The model named `name` at a server.
    Server { client: MlflowClient, name: String, source_tracking_uri: Option<String> },
    /// An export folder holding `model.json`.
    Folder { dir: PathBuf, system: ExportSystem },
}

pub struct ModelMove {
    pub record: Arc<RegisteredModelRecord>,
    pub destination: ModelDestination,
    pub phase: Phase,
    /// Why the model could not be planned.
    pub error: Option<String>,
}

impl ModelMove {
    pub async fn execute(&self, deps: &[Outcome], ctx: &JobContext) -> Outcome {
        match (self.phase, &self.destination) {
            (Phase::Open, ModelDestination::Server { client, name, source_tracking_uri }) => {
                match open(client, name, &self.record, source_tracking_uri.as_deref(), ctx).await {
                    Ok(state) => Outcome::ModelReady(Arc::new(state)),
                    Err(e) => Outcome::failed(format!("model {name:?}"), &e),
                }
            }
            (Phase::Open, ModelDestination::Folder { .. }) => Outcome::Indexed,
            (Phase::Close, destination) => Outcome::Model(self.close(destination, deps, ctx).await),
        }
    }

    async fn close(&self, destination: &ModelDestination, deps: &[Outcome], ctx: &JobContext) -> ModelOutcome {
        let mut outcome = ModelOutcome::new(&self.record.name);
        if let Some(e) = &self.error {
            outcome.error = Some(e.clone());
            return outcome;
        }
        for d in deps {
            match d {
                Outcome::Version(v) => match (&v.error, &v.destination) {
                    (Some(e), _) => {
                        outcome.failed_versions.insert(v.version.clone(), e.clone());
                    }
                    (None, Some(dst)) => {
                        outcome.versions.insert(v.version.clone(), dst.clone());
                        if v.skipped {
                            outcome.versions_skipped += 1;
                        } else {
                            outcome.versions_created += 1;
                        }
                    }
                    (None, None) => {}
                },
                Outcome::Failed { error, .. } => outcome.error = Some(error.clone()),
                _ => {}
            }
        }
        if outcome.error.is_some() {
            return outcome;
        }
        match destination {
            ModelDestination::Server { client, name, .. } => {
                outcome.destination = Some(name.clone());
                if ctx.models.stages_and_aliases {
                    if let Err(e) = set_aliases(client, name, &self.record, &outcome.versions).await {
                        outcome.error = Some(format!("model {name:?}: {e}"));
                    }
                }
            }
            ModelDestination::Folder { dir, system } => {
                // An export holds every version selected; one whose logged model could not be
                // written is also listed as failed.
                outcome.versions =
                    self.record.versions.iter().map(|v| (v.version.clone(), v.version.clone())).collect();
                outcome.versions_created = self.record.versions.len();
                match local::write_json(&dir.join("model.json"), &write_model_json(&self.record, system)) {
                    Ok(()) => outcome.destination = Some(dir.display().to_string()),
                    Err(e) => outcome.error = Some(e.to_string()),
                }
            }
        }
        outcome
    }
}

async fn set_aliases(
    client: &MlflowClient,
    name: &str,
    model: &RegisteredModelRecord,
    versions: &BTreeMap<String, String>,
) -> Result<()> {
    for (alias, src_version) in &model.aliases {
        if let Some(dst_version) = versions.get(src_version) {
            client.set_registered_model_alias(name, alias, dst_version).await?;
        }
    }
    Ok(())
}

/// Finds or creates the destination model and lists our earlier copies of its versions.
async fn open(
    client: &MlflowClient,
    dst_name: &str,
    model: &RegisteredModelRecord,
    source_tracking_uri: Option<&str>,
    ctx: &JobContext,
) -> Result<ModelState> {
    if ctx.models.delete_model {
        client.delete_registered_model(dst_name).await?;
    }
    let existing = match client.get_registered_model(dst_name).await? {
        Some(m) => Some(m),
        None => {
            let tags = key_values(&model.tags);
            let created = client
                .create_or_find(
                    || async {
                        client.create_registered_model(dst_name, model.description.as_deref(), &tags).await.map(drop)
                    },
                    || async { Ok::<_, Error>(client.get_registered_model(dst_name).await?.map(drop)) },
                )
                .await;
            match created {
                Ok(()) => None,
                // Lost a race with another job creating the same name.
                Err(e) => Some(client.get_registered_model(dst_name).await?.ok_or(e)?),
            }
        }
    };
    if let Some(m) = &existing {
        for (k, v) in &model.tags {
            if !m.tags.iter().any(|t| &t.key == k) {
                client.set_registered_model_tag(dst_name, k, v).await?;
            }
        }
        if let (Some(d), true) = (&model.description, m.description.as_deref().unwrap_or("").is_empty()) {
            client.update_registered_model_description(dst_name, d).await?;
        }
    }
    let tracking_uri = source_tracking_uri.map(mlflow_client::redact);
    let mut ours: HashMap<String, ModelVersion> = HashMap::new();
    let mut foreign = 0usize;
    for v in client.search_model_versions_of(dst_name).await? {
        if v.tags.iter().any(|t| t.key == PLACEHOLDER) {
            // Left by an interrupted earlier attempt.
            client.delete_model_version(dst_name, &v.version).await?;
        } else if let Some(src) = copied_version(&v, &model.name, tracking_uri.as_deref()) {
            ours.insert(src.to_string(), v.clone());
        } else {
            foreign += 1;
        }
    }
    // Numbers can be steered only while the model holds nothing but our copies.
    let keep_numbers = ctx.models.keep_numbers && foreign == 0;
    if keep_numbers {
        // A job killed between creating a version and burning its number (one that belongs to a
        // deleted source version) left our copy under the wrong number: burn it now, and the
        // version is made again under its own.
        let misnumbered: Vec<String> =
            ours.iter().filter(|(src, v)| number(&v.version) != number(src)).map(|(src, _)| src.clone()).collect();
        for src in misnumbered {
            if let Some(v) = ours.remove(&src) {
                client.delete_model_version(dst_name, &v.version).await?;
            }
        }
    }
    Ok(ModelState { dst_name: dst_name.to_string(), ours, keep_numbers })
}

/// `models/models.json` of an `export-models` folder, listing the models written.
pub struct ModelIndex {
    pub dir: PathBuf,
    pub system: ExportSystem,
}

impl ModelIndex {
    pub async fn execute(&self, deps: &[Outcome], _ctx: &JobContext) -> Outcome {
        let models = deps.iter().filter_map(|d| if let Outcome::Model(m) = d { Some(m) } else { None });
        let (failed, ok): (Vec<&ModelOutcome>, Vec<&ModelOutcome>) = models.partition(|o| o.error.is_some());
        let names = |v: Vec<&ModelOutcome>| v.into_iter().map(|o| o.source_name.clone()).collect::<Vec<_>>();
        let path = self.dir.join("models.json");
        match local::write_json(&path, &write_models_json(&self.system, &names(ok), &names(failed))) {
            Ok(()) => Outcome::Indexed,
            Err(e) => Outcome::failed(path.display().to_string(), &e),
        }
    }
}
