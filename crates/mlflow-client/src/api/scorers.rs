//! Scorers registered on an experiment (MLflow 3 GenAI, `/api/3.0/mlflow/scorers/...`): each
//! name has versions numbered by the server, each version an opaque serialized scorer.

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::{client::Idempotency, MlflowClient, Result};

/// One version of a registered scorer.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Scorer {
    #[serde(alias = "scorer_name")]
    pub name: String,
    #[serde(alias = "scorer_version")]
    pub version: i64,
    /// The scorer as the Python client serialized it (JSON text); copied byte for byte.
    pub serialized_scorer: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<i64>,
    /// The same for every version of one name at one server.
    #[serde(default, skip_serializing)]
    pub scorer_id: Option<String>,
}

#[derive(Deserialize)]
struct ScorersResponse {
    #[serde(default)]
    scorers: Vec<Scorer>,
}

impl MlflowClient {
    /// The latest version of each scorer registered on an experiment.
    pub async fn list_scorers(&self, experiment_id: &str) -> Result<Vec<Scorer>> {
        let query = [("experiment_id", experiment_id.to_string())];
        let r: ScorersResponse = self.get("/api/3.0/mlflow/scorers/list", &query).await?;
        Ok(r.scorers)
    }

    /// Every version of scorer `name` of an experiment, oldest first.
    pub async fn scorer_versions(&self, experiment_id: &str, name: &str) -> Result<Vec<Scorer>> {
        let query = [("experiment_id", experiment_id.to_string()), ("name", name.to_string())];
        let r: ScorersResponse = self.get("/api/3.0/mlflow/scorers/versions", &query).await?;
        let mut versions = r.scorers;
        versions.sort_by_key(|s| s.version);
        Ok(versions)
    }

    /// Registers the next version of scorer `name`; returns the version the server gave it.
    pub async fn register_scorer(&self, experiment_id: &str, name: &str, serialized_scorer: &str) -> Result<i64> {
        #[derive(Deserialize)]
        struct Registered {
            version: i64,
        }
        let body = json!({ "experiment_id": experiment_id, "name": name, "serialized_scorer": serialized_scorer });
        let r: Registered =
            self.send(Method::POST, "/api/3.0/mlflow/scorers/register", &body, Idempotency::Create).await?;
        Ok(r.version)
    }
}
