//! MLflow 3 logged models, as far as model versions need them: a version registered from
//! `models:/m-…` keeps its files in the logged model, not in its run's artifacts, so moving
//! such a version means re-creating the logged model (name, type, params, tags, files) next to
//! the copied run and registering from the new one.
//!
//! In exports a logged model sits beside its model's `model.json`, at
//! `logged_models/<model_id>/` with `logged_model.json` (written last) and `artifacts/`.

use std::path::{Path, PathBuf};

use mlflow_client::{
    types::{KeyValue, RunInfo},
    MlflowClient,
};
use serde_json::{json, Value};

use crate::{
    model::ArtifactFile,
    paths::{is_single_segment, safe_join},
    store::{local, ByteStream},
    Error, Result,
};

/// Tag on a copied logged model naming the source model id.
pub const SOURCE_MODEL_ID: &str = "mlflow_export_import.source.model_id";
/// The folder of an export's logged models, beside `model.json`.
pub const FOLDER: &str = "logged_models";
const FILE: &str = "logged_model.json";

/// `m-…` when a version's files are an MLflow 3 logged model (`models:/m-…`).
pub fn logged_model_id(source: &str) -> Option<&str> {
    source.strip_prefix("models:/").filter(|id| id.starts_with("m-") && is_single_segment(id))
}

/// Where logged models are read from.
#[derive(Debug, Clone)]
pub enum LoggedModelSource {
    Server(MlflowClient),
    /// An exported model folder (holding `logged_models/`).
    Export(PathBuf),
}

/// What a logged model is, apart from its files.
struct Description {
    name: String,
    model_type: Option<String>,
    params: Vec<KeyValue>,
    tags: Vec<KeyValue>,
}

impl LoggedModelSource {
    fn folder(dir: &Path, id: &str) -> Result<PathBuf> {
        if !is_single_segment(id) {
            return Err(Error::Input(format!("logged model id {id:?} is not a folder name")));
        }
        Ok(dir.join(FOLDER).join(id))
    }

    async fn describe(&self, id: &str) -> Result<Description> {
        match self {
            Self::Server(client) => {
                let lm = client.get_logged_model(id).await?;
                Ok(Description {
                    name: lm.info.name,
                    model_type: lm.info.model_type,
                    params: lm.data.params,
                    tags: lm.info.tags,
                })
            }
            Self::Export(dir) => {
                let path = Self::folder(dir, id)?.join(FILE);
                let bytes = std::fs::read(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Error::Input(format!("{}: missing: the export does not hold logged model {id}", path.display()))
                    } else {
                        Error::io(&path, e)
                    }
                })?;
                let bad = |what: &str| Error::Input(format!("{}: {what}", path.display()));
                let v: Value = serde_json::from_slice(&bytes).map_err(|e| bad(&format!("malformed JSON: {e}")))?;
                let m = v.get("mlflow").unwrap_or(&v);
                let pairs = |key: &str| -> Result<Vec<KeyValue>> {
                    match m.get(key) {
                        None | Some(Value::Null) => Ok(Vec::new()),
                        Some(Value::Object(o)) => Ok(o
                            .iter()
                            .map(|(k, v)| KeyValue::new(k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
                            .collect()),
                        Some(list @ Value::Array(_)) => serde_json::from_value(list.clone())
                            .map_err(|e| bad(&format!("`mlflow.{key}` is not a list of key/value pairs: {e}"))),
                        Some(_) => Err(bad(&format!("`mlflow.{key}` is not an object"))),
                    }
                };
                Ok(Description {
                    name: m["name"].as_str().ok_or_else(|| bad("`mlflow.name` missing"))?.to_string(),
                    model_type: m["model_type"].as_str().map(str::to_string),
                    params: pairs("params")?,
                    tags: pairs("tags")?,
                })
            }
        }
    }

    async fn files(&self, id: &str) -> Result<Vec<ArtifactFile>> {
        match self {
            Self::Server(client) => {
                let mut out = Vec::new();
                let mut dirs = vec![String::new()];
                while let Some(dir) = dirs.pop() {
                    for f in client.list_logged_model_artifacts(id, &dir).await? {
                        crate::paths::check_relative(&f.path)?;
                        if f.is_dir {
                            dirs.push(f.path);
                        } else {
                            out.push(ArtifactFile {
                                size: u64::try_from(f.file_size.unwrap_or(0)).unwrap_or(0),
                                path: f.path,
                            });
                        }
                    }
                }
                Ok(out)
            }
            Self::Export(dir) => local::list_files(&Self::folder(dir, id)?.join("artifacts")).await,
        }
    }

    async fn open(&self, id: &str, file: &ArtifactFile) -> Result<ByteStream> {
        match self {
            Self::Server(client) => Ok(client.download_logged_model_artifact(id, &file.path).await?),
            Self::Export(dir) => local::open(&safe_join(&Self::folder(dir, id)?.join("artifacts"), &file.path)?).await,
        }
    }
}

/// Writes logged model `id` of a server into an exported model folder (files first, the
/// description last, so a folder with `logged_model.json` is complete).
pub async fn export_logged_model(client: &MlflowClient, id: &str, model_dir: &Path) -> Result<()> {
    let from = LoggedModelSource::Server(client.clone());
    let folder = LoggedModelSource::folder(model_dir, id)?;
    if folder.join(FILE).exists() {
        return Ok(());
    }
    let d = from.describe(id).await?;
    for f in from.files(id).await? {
        let data = from.open(id, &f).await?;
        local::write(&folder.join("artifacts"), &f.path, data).await?;
    }
    let map = |kv: &[KeyValue]| {
        kv.iter().map(|t| (t.key.clone(), Value::String(t.value.clone()))).collect::<serde_json::Map<_, _>>()
    };
    let json = json!({ "mlflow": {
        "model_id": id, "name": d.name, "model_type": d.model_type, "params": map(&d.params), "tags": map(&d.tags),
    }});
    local::write_atomic(&folder.join(FILE), &serde_json::to_vec_pretty(&json).expect("JSON values always serialize"))
}

/// Re-creates a logged model next to a version's copied run: same name, type, params and tags,
/// its files streamed across, then finalized. Returns the new model id.
pub async fn copy_logged_model(
    from: &LoggedModelSource,
    to: &MlflowClient,
    id: &str,
    dst_run: &RunInfo,
) -> Result<String> {
    let d = from.describe(id).await?;
    // The registry writes `mlflow.modelVersions` itself when the version is created.
    let mut tags: Vec<KeyValue> = d.tags.into_iter().filter(|t| t.key != "mlflow.modelVersions").collect();
    tags.push(KeyValue::new(SOURCE_MODEL_ID, id));
    let created = to
        .create_logged_model(
            &dst_run.experiment_id,
            &d.name,
            d.model_type.as_deref(),
            Some(&dst_run.run_id),
            &d.params,
            &tags,
        )
        .await?;
    let root = created.info.artifact_uri.clone().unwrap_or_default();
    for f in from.files(id).await? {
        let data = from.open(id, &f).await?;
        crate::store::rest::upload_artifact(to, &root, &f.path, f.size, data).await?;
    }
    to.finalize_logged_model(&created.info.model_id).await?;
    Ok(created.info.model_id)
}
