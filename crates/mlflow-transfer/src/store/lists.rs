//! Export stores of the objects kept as one list file each: an experiment folder's
//! `scorers.json` and an export's `webhooks/webhooks.json`. A write reads the file, changes the
//! list and writes it again whole (atomically): the lists are short, and a re-run of an export
//! finds in the file what it wrote before, as at a server.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    sync::Arc,
};

use async_trait::async_trait;
use tokio::sync::Mutex;

use super::{Scorer, ScorerStore, Webhook, WebhookStore};
use crate::{
    format::{
        list_json::{read_list, write_list},
        ExportSystem,
    },
    Result,
};

/// The file of scorers of an experiment folder.
pub const SCORERS_FILE: &str = "scorers.json";
/// The file of webhooks of a whole-server export, in its `webhooks/` folder.
pub const WEBHOOKS_FILE: &str = "webhooks/webhooks.json";

/// One list file; writes are serialized, as two steps may add to one file.
struct ListFile {
    path: PathBuf,
    system: Arc<ExportSystem>,
    key: &'static str,
    lock: Mutex<()>,
}

impl ListFile {
    fn read<T: serde::de::DeserializeOwned>(&self) -> Result<Vec<T>> {
        Ok(read_list(&self.path, self.key)?)
    }

    /// Reads the list, lets `change` change it, and writes it back.
    async fn update<T>(&self, change: impl FnOnce(&mut Vec<T>)) -> Result<()>
    where
        T: serde::de::DeserializeOwned + serde::Serialize,
    {
        let _one_at_a_time = self.lock.lock().await;
        let mut items = self.read()?;
        change(&mut items);
        write_list(&self.path, &self.system, self.key, &items)
    }
}

/// The scorers of one experiment folder of an export.
pub struct DirScorers(ListFile);

impl DirScorers {
    pub fn new(experiment_dir: &Path, system: Arc<ExportSystem>) -> Self {
        Self(ListFile { path: experiment_dir.join(SCORERS_FILE), system, key: "scorers", lock: Mutex::new(()) })
    }
}

#[async_trait]
impl ScorerStore for DirScorers {
    async fn scorers(&self, _experiment_id: &str) -> Result<BTreeMap<String, Vec<Scorer>>> {
        let mut all: BTreeMap<String, Vec<Scorer>> = BTreeMap::new();
        for s in self.0.read::<Scorer>()? {
            all.entry(s.name.clone()).or_default().push(s);
        }
        for versions in all.values_mut() {
            versions.sort_by_key(|s| s.version);
        }
        Ok(all)
    }

    async fn add_scorer_versions(&self, _experiment_id: &str, _name: &str, versions: &[Scorer]) -> Result<()> {
        self.0.update(|items: &mut Vec<Scorer>| items.extend(versions.iter().cloned())).await
    }
}

/// The webhooks of a whole-server export.
pub struct DirWebhooks(ListFile);

impl DirWebhooks {
    pub fn new(export_dir: &Path, system: Arc<ExportSystem>) -> Self {
        Self(ListFile { path: export_dir.join(WEBHOOKS_FILE), system, key: "webhooks", lock: Mutex::new(()) })
    }
}

#[async_trait]
impl WebhookStore for DirWebhooks {
    async fn webhooks(&self) -> Result<Vec<Webhook>> {
        self.0.read()
    }

    /// Secrets are never written to an export.
    async fn create_webhook(&self, webhook: &Webhook, _secret: Option<&str>) -> Result<Option<String>> {
        self.0.update(|items: &mut Vec<Webhook>| items.push(webhook.clone())).await?;
        Ok(None)
    }

    async fn update_webhook(&self, existing: &Webhook, webhook: &Webhook) -> Result<()> {
        self.0
            .update(|items: &mut Vec<Webhook>| {
                for w in items.iter_mut().filter(|w| w.name == existing.name) {
                    *w = webhook.clone();
                }
            })
            .await
    }
}
