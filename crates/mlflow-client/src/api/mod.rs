//! One module per area of the REST API, each adding methods to [`crate::MlflowClient`].

mod artifacts;
mod databricks_artifacts;
mod datasets;
mod experiments;
mod files;
mod logged_models;
mod permissions;
mod registry;
mod runs;
mod scorers;
mod server;
mod traces;
mod webhooks;
mod workspace;

pub use databricks_artifacts::{ArtifactCredential, CredentialHeader, MAX_CREDENTIAL_PATHS};
pub use datasets::{Dataset, RecordPages};
pub use registry::{
    can_quote_filter_value, quote_filter_value, AwsTemporaryCredentials, EncryptionDetails, ModelVersionCreate,
    SseEncryptionDetails, TemporaryCredentials,
};
pub use runs::{LogBatch, RunCreate, SearchRuns, HISTORY_BULK_POINTS, HISTORY_BULK_RUNS};
pub use scorers::Scorer;
pub use webhooks::Webhook;
pub use workspace::WorkspaceObject;

/// `s` as one segment of a URL path (an id or name the server chose: never trusted to hold no
/// `/` or `?`).
fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>().replace('+', "%20")
}
