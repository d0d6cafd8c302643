//! Unity Catalog versions (databricks-rest.md §3.3): a version is created pending, with a
//! `storage_location` of its own, and holds no files until they are written there with a
//! temporary credential of the version (or, in the workspace's default storage, through
//! presigned URLs); `finalize` then makes it ready. The files are those its `source` names at
//! the destination workspace (the copied run's folder, or the copied logged model), read back
//! from there as MLflow's `copy_model_version` does.

use futures::{StreamExt, TryStreamExt};
use mlflow_client::{types::ModelVersion, ByteStream, MlflowClient};

use crate::{
    store::{
        artifact_root::{ArtifactRoot, ArtifactRoots},
        object::{ObjectRoot, ObjectStores},
        NewVersion,
    },
    Error, Result,
};

/// Files written into a version's storage at once.
const CONCURRENT_FILES: usize = 8;

/// Writes the files of `new` into pending Unity Catalog version `created` of `name`, then
/// finalizes it; the finalized version.
pub(super) async fn write_and_finalize(
    client: &MlflowClient,
    name: &str,
    created: &ModelVersion,
    new: &NewVersion,
) -> Result<ModelVersion> {
    let version = &created.version;
    let what = || format!("version {version} of {name}");
    let location = match &created.storage_location {
        Some(l) if !l.is_empty() => l.clone(),
        _ => client
            .get_model_version(name, version)
            .await?
            .and_then(|v| v.storage_location)
            .ok_or_else(|| Error::Unsupported(format!("{}: the registry gave no storage_location", what())))?,
    };
    let storage = version_storage(client, name, version, &location).await?;
    let roots = ArtifactRoots::new(client.clone());
    let (root, prefix) = source_files(client, &roots, new).await?;
    let files: Vec<_> = roots
        .list(&root)
        .await?
        .into_iter()
        .filter_map(|f| {
            let rel = if prefix.is_empty() {
                f.path.clone()
            } else {
                f.path.strip_prefix(&format!("{prefix}/"))?.to_string()
            };
            Some((f.path, rel))
        })
        .collect();
    if files.is_empty() {
        return Err(Error::Unsupported(format!("{}: no files at its source {}", what(), new.source)));
    }
    futures::stream::iter(files)
        .map(|(path, rel)| {
            let (roots, root, storage) = (&roots, &root, &storage);
            async move { storage.write(client, &rel, roots.open(root, &path).await?).await }
        })
        .buffer_unordered(CONCURRENT_FILES)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(client.finalize_model_version(name, version).await?)
}

/// Where a version's files are written.
enum VersionStorage {
    /// Its `storage_location`, reached with its temporary cloud credential.
    Object(ObjectRoot),
    /// The workspace's default storage: each file through a presigned URL for its Files API
    /// path under this folder (`/Models/<catalog>/<schema>/<model>/<version>`).
    Presigned(String),
}

impl VersionStorage {
    async fn write(&self, client: &MlflowClient, rel: &str, data: ByteStream) -> Result<()> {
        match self {
            VersionStorage::Object(root) => root.write(rel, data).await,
            VersionStorage::Presigned(folder) => {
                let len = data.len.ok_or_else(|| {
                    Error::Unsupported(format!(
                        "{rel}: a presigned upload needs the file's size, which its source omits"
                    ))
                })?;
                let credential = client.create_upload_url(&format!("{folder}/{rel}")).await?;
                Ok(client.upload_signed(&credential, len, data).await?)
            }
        }
    }
}

/// The version's storage, reached with a read-write temporary credential of its own.
async fn version_storage(client: &MlflowClient, name: &str, version: &str, location: &str) -> Result<VersionStorage> {
    let credentials = client.generate_temporary_credentials(name, version, true).await?;
    let unsupported = |kind: &str| {
        Error::Unsupported(format!(
            "version {version} of {name}: its storage takes {kind}, which this tool does not write yet \
             (S3 and Azure temporary credentials only)"
        ))
    };
    if credentials.storage_mode.as_deref() == Some("DEFAULT_STORAGE") {
        let levels = name.replace('.', "/");
        return Ok(VersionStorage::Presigned(format!("/Models/{levels}/{version}")));
    }
    if let Some(sas) = &credentials.azure_user_delegation_sas {
        let Some(token) = sas.get("sas_token").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) else {
            return Err(unsupported("an Azure user delegation SAS without its token"));
        };
        return ObjectStores::azure_sas_root(client.side(), location, token.to_string()).map(VersionStorage::Object);
    }
    let Some(aws) = credentials.aws_temp_credentials else {
        let kind = if credentials.gcp_oauth_token.is_some() {
            "a GCP OAuth token"
        } else if credentials.r2_temp_credentials.is_some() {
            "Cloudflare R2 credentials"
        } else {
            "no credential the tool knows"
        };
        return Err(unsupported(kind));
    };
    let sse = credentials.encryption_details.and_then(|e| e.sse_encryption_details).unwrap_or_default();
    let encryption = match sse.algorithm.as_deref() {
        Some("AWS_SSE_S3") => Some(("AES256", None)),
        Some("AWS_SSE_KMS") => Some(("aws:kms", sse.aws_kms_key_arn)),
        Some(other) => {
            return Err(Error::Unsupported(format!(
                "version {version} of {name}: its storage asks for encryption {other}, which this tool does not know"
            )))
        }
        None => None,
    };
    let keys = (aws.access_key_id, aws.secret_access_key, aws.session_token);
    ObjectStores::s3_keys_root(client.side(), location, keys, encryption).map(VersionStorage::Object)
}

/// Where the files `new.source` names are at the destination, and their folder in it.
async fn source_files(
    client: &MlflowClient,
    roots: &ArtifactRoots,
    new: &NewVersion,
) -> Result<(ArtifactRoot, String)> {
    if let Some(model_id) = &new.model_id {
        return Ok((roots.for_reading(ArtifactRoot::ModelRoutes(model_id.clone()), None)?, String::new()));
    }
    let Some(run_id) = &new.run_id else {
        return Err(Error::Unsupported(format!(
            "{}: a Unity Catalog version's files are copied from a run",
            new.source
        )));
    };
    let run_root = client.get_run(run_id).await?.info.artifact_uri.unwrap_or_default();
    let prefix = new
        .source
        .strip_prefix(run_root.trim_end_matches('/'))
        .filter(|rest| rest.is_empty() || rest.starts_with('/'))
        .ok_or_else(|| Error::Unsupported(format!("{} is not inside run {run_id}'s {run_root}", new.source)))?;
    let root = roots.for_reading(ArtifactRoot::RunRoutes(run_id.clone()), Some(&run_root))?;
    Ok((root, prefix.trim_matches('/').to_string()))
}
