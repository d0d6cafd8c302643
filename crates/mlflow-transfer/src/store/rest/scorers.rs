//! Scorers at a tracking server.

use std::collections::BTreeMap;

use async_trait::async_trait;
use mlflow_client::{api::Scorer, MlflowClient};

use crate::{store::ScorerStore, Error, Result};

#[async_trait]
impl ScorerStore for MlflowClient {
    async fn scorers(&self, experiment_id: &str) -> Result<BTreeMap<String, Vec<Scorer>>> {
        let latest = match self.list_scorers(experiment_id).await {
            Ok(latest) => latest,
            // A server older than scorers (no such route) holds none.
            Err(e) if no_scorer_routes(&e) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut all = BTreeMap::new();
        for s in latest {
            let versions = self.scorer_versions(experiment_id, &s.name).await?;
            all.insert(s.name, versions);
        }
        Ok(all)
    }

    async fn add_scorer_versions(&self, experiment_id: &str, name: &str, versions: &[Scorer]) -> Result<()> {
        for v in versions {
            self.register_scorer(experiment_id, name, &v.serialized_scorer).await.map_err(|e| {
                if no_scorer_routes(&e) {
                    Error::Unsupported(format!("the destination server has no scorers (MLflow 3.x): {e}"))
                } else {
                    e.into()
                }
            })?;
        }
        Ok(())
    }
}

/// A 404 that is not about a missing experiment: the server has no scorer routes (older than
/// MLflow 3).
fn no_scorer_routes(e: &mlflow_client::Error) -> bool {
    e.is_not_found() && e.error_code() != Some("RESOURCE_DOES_NOT_EXIST")
}
