//! MLflow 3 logged models, as far as model versions need them: a version registered from
//! `models:/m-…` keeps its files in the logged model, not in its run's artifacts, so moving
//! such a version means re-creating the logged model (name, type, params, tags, files) next to
//! the copied run and registering from the new one.
//!
//! In exports a logged model sits beside its model's `model.json`, at
//! `logged_models/<model_id>/` with `logged_model.json` (written last) and `artifacts/`.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use mlflow_client::{
    types::{KeyValue, RunInfo},
    MlflowClient,
};
use serde_json::{json, Value};

use crate::{
    model::ArtifactFile,
    paths::{is_single_segment, safe_join},
    store::{
        artifact_root::{ArtifactRoot, ArtifactRoots},
        local, ByteStream,
    },
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
    /// A tracking server, with the artifact roots its logged models' files are read from.
    Server(MlflowClient, Arc<ArtifactRoots>),
    /// An exported model folder (holding `logged_models/`).
    Export(PathBuf),
}

/// What a logged model is, and where its files are.
struct Description {
    name: String,
    model_type: Option<String>,
    params: Vec<KeyValue>,
    tags: Vec<KeyValue>,
    /// The model's artifact root at a server; `None` in an export.
    root: Option<ArtifactRoot>,
}

impl LoggedModelSource {
    /// Logged models of the server `client` talks to.
    pub fn server(client: MlflowClient) -> Self {
        let roots = Arc::new(ArtifactRoots::new(client.clone()));
        Self::Server(client, roots)
    }

    fn folder(dir: &Path, id: &str) -> Result<PathBuf> {
        if !is_single_segment(id) {
            return Err(Error::Input(format!("logged model id {id:?} is not a folder name")));
        }
        Ok(dir.join(FOLDER).join(id))
    }

    async fn describe(&self, id: &str) -> Result<Description> {
        match self {
            Self::Server(client, roots) => {
                let lm = client.get_logged_model(id).await?;
                let routes = ArtifactRoot::ModelRoutes(id.to_string());
                Ok(Description {
                    root: Some(roots.for_reading(routes, lm.info.artifact_uri.as_deref())?),
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
                    root: None,
                })
            }
        }
    }

    async fn files(&self, id: &str, d: &Description) -> Result<Vec<ArtifactFile>> {
        match (self, &d.root) {
            (Self::Server(_, roots), Some(root)) => roots.list(root).await,
            _ => local::list_files(&Self::export_files(self, id)?).await,
        }
    }

    async fn open(&self, id: &str, d: &Description, file: &ArtifactFile) -> Result<ByteStream> {
        match (self, &d.root) {
            (Self::Server(_, roots), Some(root)) => roots.open(root, &file.path).await,
            _ => local::open(&safe_join(&Self::export_files(self, id)?, &file.path)?).await,
        }
    }

    /// The `artifacts/` folder of logged model `id` in an export.
    fn export_files(&self, id: &str) -> Result<PathBuf> {
        match self {
            Self::Export(dir) => Ok(Self::folder(dir, id)?.join("artifacts")),
            Self::Server(client, _) => {
                Err(Error::Input(format!("logged model {id} at {} has no artifact root", client.base_url())))
            }
        }
    }
}

/// Writes logged model `id` of a server into an exported model folder (files first, the
/// description last, so a folder with `logged_model.json` is complete).
pub async fn export_logged_model(client: &MlflowClient, id: &str, model_dir: &Path) -> Result<()> {
    let from = LoggedModelSource::server(client.clone());
    let folder = LoggedModelSource::folder(model_dir, id)?;
    if folder.join(FILE).exists() {
        return Ok(());
    }
    let d = from.describe(id).await?;
    for f in from.files(id, &d).await? {
        let data = from.open(id, &d, &f).await?;
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
/// its files streamed across (or copied inside their object store when both roots are in the
/// same one), then finalized. Returns the new model id.
pub async fn copy_logged_model(
    from: &LoggedModelSource,
    to: &MlflowClient,
    id: &str,
    dst_run: &RunInfo,
) -> Result<String> {
    let d = from.describe(id).await?;
    // The registry writes `mlflow.modelVersions` itself when the version is created; a copy of
    // a copy names only the model it was made from.
    let mut tags: Vec<KeyValue> =
        d.tags.iter().filter(|t| t.key != "mlflow.modelVersions" && t.key != SOURCE_MODEL_ID).cloned().collect();
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
    let roots = ArtifactRoots::new(to.clone());
    let dest = roots.for_writing(created.info.artifact_uri.as_deref().unwrap_or_default())?;
    for f in from.files(id, &d).await? {
        let located = d.root.as_ref().and_then(|r| ArtifactRoots::locate(r, &f.path));
        if let Some(loc) = located {
            if ArtifactRoots::copy(&dest, &loc, &f.path, f.size).await? {
                continue;
            }
        }
        let data = from.open(id, &d, &f).await?;
        roots.write(&dest, &f.path, f.size, data).await?;
    }
    to.finalize_logged_model(&created.info.model_id).await?;
    Ok(created.info.model_id)
}
