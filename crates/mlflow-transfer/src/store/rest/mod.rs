//! A tracking server as a source and as a sink, over the REST API: runs and experiments here,
//! registered models and logged models in [`models`].

mod datasets;
mod kept_runs;
mod logged_models;
mod models;
mod scorers;
mod tracking;
mod unity_catalog;
mod webhooks;
mod workspace;
pub use logged_models::ListedModels;
pub mod traces;
pub use datasets::RestDatasetSink;
pub use models::{RestLoggedModelSink, RestServer};
mod prompts;

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Mutex,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};
use kept_runs::KeptRuns;
use mlflow_client::{
    api::{RunCreate, SearchRuns},
    batch,
    types::{Experiment, KeyValue, Metric, Run, RunData, RunInfo, ViewType},
    MlflowClient,
};

use crate::{
    format::run_json::ArtifactEntry,
    identity::{self, SourceIdentity},
    model::{key_values, ArtifactFile, ExperimentRecord, MetricPoint, Origin, RunMeta, RunRecord},
    model::{Notebook, NotebookFormat},
    select::{ExperimentSpec, RunFilter},
    store::{
        artifact_root::{self, ArtifactRoot, ArtifactRoots},
        history::HistoryReader,
        object::ObjectLocation,
        ByteStream, RunSink, RunSource, Target,
    },
    Error, Result,
};

/// Metric histories fetched at once for one run.
const HISTORY_CONCURRENCY: usize = 8;
/// Runs per `runs/search` page while planning. A page is parsed and reduced to what the plan
/// keeps as it arrives; an MLflow server is asked for four pages at once, so this bounds the
/// memory of the answers in flight (about 1 KiB per small run) at that of one page of 10,000.
/// MLflow's own limit is 50,000.
const PLAN_PAGE: u32 = 2_500;

/// A run kept from a search as the JSON text the server sent, without the whitespace outside
/// strings (MLflow indents its answers: about half of the 1.3 KB of a small run). A fraction
/// of the memory of the parsed [`Run`] (one allocation instead of one per id, key and value).
type RawRun = Box<str>;

/// `json` without whitespace outside strings: the same document, in fewer bytes, streamed from
/// its parser to its writer without building a tree. `json` is one value of an answer already
/// parsed once, so it is valid; should it not be, it is kept as sent.
fn minify(json: &str) -> RawRun {
    let mut out = Vec::with_capacity(json.len());
    let mut parser = serde_json::Deserializer::from_str(json);
    match serde_transcode::transcode(&mut parser, &mut serde_json::Serializer::new(&mut out)) {
        Ok(()) => String::from_utf8(out).map_or_else(|_| json.into(), String::into_boxed_str),
        Err(_) => json.into(),
    }
}

/// A run's text kept by [`RestSource::keep`] or a search, parsed back.
fn parse_kept(run_id: &str, raw: &str) -> Result<Run> {
    serde_json::from_str(raw).map_err(|e| Error::Input(format!("run {run_id}: {e}")))
}

/// Reads runs from a tracking server.
pub struct RestSource {
    client: MlflowClient,
    experiment_names: Mutex<HashMap<String, String>>,
    /// Runs already returned by a search, so that reading them costs no second request.
    prefetched: Mutex<KeptRuns>,
    history: HistoryReader,
    artifacts: ArtifactRoots,
}

impl RestSource {
    pub fn new(client: MlflowClient) -> Self {
        Self {
            history: HistoryReader::new(client.clone()),
            artifacts: ArtifactRoots::new(client.clone()),
            client,
            experiment_names: Mutex::default(),
            prefetched: Mutex::default(),
        }
    }

    pub fn client(&self) -> &MlflowClient {
        &self.client
    }

    /// Keeps run `run_id` as read from the server, so that moving it later costs no second
    /// request.
    fn keep(&self, run_id: &str, run: &Run) -> Result<()> {
        let raw = serde_json::to_string(run).map_err(|e| Error::Input(format!("run {run_id}: {e}")))?;
        self.prefetched.lock().expect("poisoned").insert(run_id.to_string(), raw.into_boxed_str())
    }

    /// Where a run keeps its artifacts and the name of its experiment, or `None` when the run
    /// does not exist. The run is kept, so moving it later costs no second request.
    pub async fn run_location(&self, run_id: &str) -> Result<Option<(Option<String>, String)>> {
        let run = match self.client.get_run(run_id).await {
            Ok(run) => run,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let experiment = self.experiment_name(&run.info.experiment_id).await?;
        self.keep(run_id, &run)?;
        Ok(Some((run.info.artifact_uri, experiment)))
    }

    /// The experiment named `name_or_id`, or with that id.
    pub async fn find_experiment(&self, name_or_id: &str) -> Result<ExperimentRecord> {
        if let Some(e) = self.client.get_experiment_by_name(name_or_id).await? {
            return Ok(experiment_record(e));
        }
        match self.client.get_experiment(name_or_id).await {
            Ok(e) => Ok(experiment_record(e)),
            Err(e) if e.is_not_found() || e.status() == Some(400) => Err(Error::NotFound(format!(
                "experiment {name_or_id:?}: no experiment with this name or id at {}",
                self.client.base_url()
            ))),
            Err(e) => Err(e.into()),
        }
    }

    /// Resolves `--experiments`. `all` and `prefix*` take active experiments only; a deleted
    /// experiment is taken when named explicitly.
    pub async fn select_experiments(&self, spec: &ExperimentSpec) -> Result<Vec<ExperimentRecord>> {
        let found = match spec {
            ExperimentSpec::All => self.client.search_experiments("", ViewType::ActiveOnly).await?,
            ExperimentSpec::Prefix(p) => {
                // `_` and `%` are wildcards to LIKE (and MySQL compares without case): the
                // search is a superset, the prefix is then matched exactly.
                let filter = format!("name LIKE '{}%'", p.replace('\'', "\\'"));
                let found = self.client.search_experiments(&filter, ViewType::ActiveOnly).await?;
                found.into_iter().filter(|e| e.name.starts_with(p.as_str())).collect()
            }
            ExperimentSpec::List(names) => {
                let mut out = Vec::new();
                for n in names {
                    let e = self.find_experiment(n).await?;
                    if !out.iter().any(|x: &ExperimentRecord| x.experiment_id == e.experiment_id) {
                        out.push(e);
                    }
                }
                return Ok(out);
            }
        };
        Ok(found.into_iter().map(experiment_record).collect())
    }

    /// The runs of an experiment that `filter` selects, as (id, parent id). The search results
    /// are kept, so reading these runs later makes no second request. Pages ([`PLAN_PAGE`] runs)
    /// are reduced as they arrive, four in flight at once from an MLflow server, and each run
    /// is kept as its JSON text ([`RawRun`]), so that 100,000 runs are planned in bounded
    /// memory.
    pub async fn plan_runs(&self, exp: &ExperimentRecord, filter: &RunFilter) -> Result<Vec<(String, Option<String>)>> {
        let query = SearchRuns {
            experiment_ids: vec![exp.experiment_id.clone()],
            filter: filter.search_filter(),
            run_view_type: if filter.include_deleted { ViewType::All } else { ViewType::ActiveOnly },
            max_results: PLAN_PAGE,
            page_token: None,
        };
        let mut links: Vec<(String, Option<String>)> = Vec::new();
        let mut metrics: Vec<Vec<Metric>> = Vec::new();
        self.client
            .search_runs_raw(query, |page| {
                let mut kept = self.prefetched.lock().expect("poisoned");
                for raw in page {
                    let run: Run = serde_json::from_str(raw.get()).map_err(|e| {
                        Error::Client(mlflow_client::Error::Protocol(format!("a run of runs/search: {e}")))
                    })?;
                    let parent = run.data.tags.iter().find(|t| t.key == "mlflow.parentRunId").map(|t| t.value.clone());
                    kept.insert(run.info.run_id.clone(), minify(raw.get()))?;
                    links.push((run.info.run_id, parent));
                    metrics.push(run.data.metrics);
                }
                Ok::<_, Error>(())
            })
            .await?;
        let chosen = filter.select(&links);
        self.experiment_names.lock().expect("poisoned").insert(exp.experiment_id.clone(), exp.name.clone());
        let keep: Vec<bool> = links.iter().map(|(id, _)| chosen.contains(id)).collect();
        drop(chosen);
        let for_history: Vec<(&str, &[Metric])> = links
            .iter()
            .zip(&metrics)
            .zip(&keep)
            .filter(|(_, &k)| k)
            .map(|(((id, _), m), _)| (id.as_str(), m.as_slice()))
            .collect();
        self.history.plan(&for_history);
        drop(for_history);
        drop(metrics);
        let mut kept = self.prefetched.lock().expect("poisoned");
        for ((id, _), &k) in links.iter().zip(&keep) {
            if !k {
                kept.drop_run(id);
            }
        }
        drop(kept);
        Ok(links.into_iter().zip(keep).filter(|(_, k)| *k).map(|(l, _)| l).collect())
    }

    /// The value of tag `key` of a run. One that [`Self::plan_runs`] found and that has not
    /// been read since is answered without a request (`verify` matches destination runs to
    /// their source this way before reading any of them); another is read and kept, so that
    /// moving it costs no second request.
    pub async fn run_tag(&self, run_id: &str, key: &str) -> Result<Option<String>> {
        let cached = self.prefetched.lock().expect("poisoned").get(run_id)?;
        let run = match cached {
            Some(raw) => parse_kept(run_id, &raw)?,
            None => {
                let run = self.client.get_run(run_id).await?;
                self.keep(run_id, &run)?;
                run
            }
        };
        Ok(run.data.tags.into_iter().find(|t| t.key == key).map(|t| t.value))
    }

    async fn experiment_name(&self, id: &str) -> Result<String> {
        if let Some(n) = self.experiment_names.lock().expect("poisoned").get(id) {
            return Ok(n.clone());
        }
        let name = self.client.get_experiment(id).await?.name;
        self.experiment_names.lock().expect("poisoned").insert(id.to_string(), name.clone());
        Ok(name)
    }

    /// Turns a REST run into a record. Metrics hold only the latest point per key until
    /// [`RunSource::complete_metrics`] fetches the histories, which a run found already copied
    /// never needs.
    async fn record(&self, run: Run) -> Result<RunRecord> {
        let origin = Origin {
            tracking_uri: Some(self.client.base_url().to_string()),
            experiment_name: Some(self.experiment_name(&run.info.experiment_id).await?),
        };
        Ok(run_record(run, origin))
    }
}

/// A REST run as a record: metrics hold the latest point per key, as the server's run answers
/// give them.
fn run_record(run: Run, origin: Origin) -> RunRecord {
    let mut metrics: BTreeMap<String, Vec<MetricPoint>> = BTreeMap::new();
    for m in &run.data.metrics {
        metrics.entry(m.key.clone()).or_default().push(MetricPoint::from(m));
    }
    let info = run.info;
    RunRecord {
        meta: RunMeta {
            run_id: info.run_id,
            experiment_id: info.experiment_id,
            run_name: info.run_name,
            user_id: info.user_id,
            status: info.status,
            start_time: info.start_time,
            end_time: info.end_time,
            lifecycle_stage: info.lifecycle_stage.unwrap_or_else(|| "active".into()),
            artifact_uri: info.artifact_uri,
        },
        params: run.data.params.into_iter().map(|p| (p.key, p.value)).collect(),
        tags: run.data.tags.into_iter().map(|t| (t.key, t.value)).collect(),
        metrics,
        dataset_inputs: run.inputs.dataset_inputs,
        model_inputs: run.inputs.model_inputs,
        model_outputs: run.outputs.model_outputs,
        origin,
    }
}

#[async_trait]
impl RunSource for RestSource {
    async fn complete_metrics(&self, run: &mut RunRecord) -> Result<()> {
        let mut read = self.history.take(&run.meta.run_id).await?.unwrap_or_default();
        let keys: Vec<String> = run.metrics.keys().filter(|k| !read.contains_key(*k)).cloned().collect();
        let run_id = run.meta.run_id.as_str();
        let per_key: BTreeMap<String, Vec<MetricPoint>> = stream::iter(keys)
            .map(|key| async move {
                let points = self.client.get_metric_history(run_id, &key).await?;
                let points = points.iter().map(MetricPoint::from).collect();
                Ok::<_, Error>((key, points))
            })
            .buffer_unordered(HISTORY_CONCURRENCY)
            .try_collect()
            .await?;
        read.extend(per_key);
        run.metrics = read;
        Ok(())
    }

    async fn read_run(&self, run_id: &str) -> Result<RunRecord> {
        let cached = self.prefetched.lock().expect("poisoned").remove(run_id)?;
        if let Some(raw) = cached {
            // The text was parsed once already while planning: it parses again.
            let run = parse_kept(run_id, &raw)?;
            return self.record(run).await;
        }
        let run = self.client.get_run(run_id).await.map_err(|e| {
            if e.is_not_found() {
                Error::NotFound(format!("no such run at {}", self.client.base_url()))
            } else {
                e.into()
            }
        })?;
        self.record(run).await
    }

    async fn list_artifacts(&self, run: &RunRecord) -> Result<Vec<ArtifactFile>> {
        let (root, routes) = (self.read_root(run)?, ArtifactRoot::RunRoutes(run.meta.run_id.clone()));
        self.artifacts.list_readable(&root, routes).await.map_err(|e| match e {
            Error::Input(m) => Error::Input(format!("run {}: {m}", run.meta.run_id)),
            e => e,
        })
    }

    async fn open_artifact(&self, run: &RunRecord, file: &ArtifactFile) -> Result<ByteStream> {
        self.artifacts.open(&self.read_root(run)?, &file.path).await
    }

    async fn locate_artifact(&self, run: &RunRecord, file: &ArtifactFile) -> Option<ObjectLocation> {
        ArtifactRoots::locate(&self.read_root(run).ok()?, &file.path)
    }

    async fn export_notebook(&self, path: &str, formats: &[NotebookFormat]) -> Result<Option<Notebook>> {
        workspace::export_notebook(&self.client, path, formats).await
    }
}

impl RestSource {
    fn read_root(&self, run: &RunRecord) -> Result<ArtifactRoot> {
        self.artifacts.for_reading(ArtifactRoot::RunRoutes(run.meta.run_id.clone()), run.meta.artifact_uri.as_deref())
    }
}

/// Writes runs into one experiment of a tracking server.
pub struct RestSink {
    client: MlflowClient,
    experiment_id: String,
    artifacts: ArtifactRoots,
    /// Where each run begun by this sink writes its artifacts.
    artifact_dests: Mutex<HashMap<String, ArtifactRoot>>,
    /// Every experiment id at the destination, listed once when a link needs a lookup.
    all_experiments: tokio::sync::OnceCell<Vec<String>>,
    /// Our copies in the experiment by source run id, listed with one paged search when the
    /// first run begins rather than one search per run; runs this sink makes are added.
    copies: tokio::sync::OnceCell<Mutex<HashMap<String, Vec<Run>>>>,
    /// Source runs whose create failed in a way that may have been applied: the listing above
    /// may not know their copy, so a later attempt searches afresh.
    uncertain: Mutex<HashSet<String>>,
}

impl RestSink {
    /// A sink into the experiment `name`, created when missing, with the source experiment's
    /// tags (description included) added where the destination lacks them. Fails before any
    /// run is created when the experiment's artifact store cannot be written from here.
    pub async fn for_experiment(client: MlflowClient, name: &str, tags: &BTreeMap<String, String>) -> Result<Self> {
        let (experiment_id, artifact_location) = ensure_experiment(&client, name, tags).await?;
        let artifacts = ArtifactRoots::new(client.clone());
        // A workspace's runs are written through their own credentials: nothing to check here.
        if let Some(location) = artifact_location.filter(|l| !artifact_root::is_databricks_tracking(l)) {
            let root = artifacts.for_writing(&location).map_err(|e| match e {
                Error::Unsupported(m) => Error::Unsupported(format!("experiment {name:?}: {m}")),
                e => e,
            })?;
            ArtifactRoots::check_writable(&root).await?;
        }
        Ok(Self::in_experiment(client, experiment_id, artifacts))
    }

    /// A sink into the experiment `name` if it exists, for looking only: nothing is created
    /// and its artifact store is not checked.
    pub async fn existing(client: MlflowClient, name: &str) -> Result<Option<Self>> {
        let Some(exp) = client.get_experiment_by_name(name).await? else { return Ok(None) };
        let artifacts = ArtifactRoots::new(client.clone());
        Ok(Some(Self::in_experiment(client, exp.experiment_id, artifacts)))
    }

    fn in_experiment(client: MlflowClient, experiment_id: String, artifacts: ArtifactRoots) -> Self {
        Self {
            client,
            experiment_id,
            artifacts,
            artifact_dests: Mutex::default(),
            all_experiments: Default::default(),
            copies: Default::default(),
            uncertain: Mutex::default(),
        }
    }

    pub fn experiment_id(&self) -> &str {
        &self.experiment_id
    }

    /// What is at the destination for `run`: its complete copy (changed since, or not), an
    /// incomplete one, or nothing.
    fn classify(&self, found: &[Run], run: &RunRecord) -> Option<Found> {
        if let Some(done) = found.iter().find(|r| is_complete_run(r)) {
            // A copy deleted at the destination stays as it is: writes to it would be refused.
            let state = run.tags.get(identity::SOURCE_STATE);
            let changed = state.is_some()
                && !done.info.is_deleted()
                && !run.meta.is_deleted()
                && state != tag_map(done).get(identity::SOURCE_STATE);
            return Some(if changed { Found::Changed(done.clone()) } else { Found::Complete(done.clone()) });
        }
        let partial = found.iter().find(|r| !r.info.is_deleted())?;
        // Start time and user can only be set at creation: a partial run that has other values
        // (made by another user, or by hand) cannot be finished faithfully.
        let same = partial.info.start_time.unwrap_or(0) == run.meta.start_time.unwrap_or(0)
            && (self.assigns_users()
                || partial.info.user_id.as_deref().unwrap_or("") == run.meta.user_id.as_deref().unwrap_or(""));
        Some(if same { Found::Resumable(partial.clone()) } else { Found::Unusable(partial.clone()) })
    }

    /// The copies of `source` in the experiment as listed when the job began, with what this
    /// sink made since.
    async fn known_copies(&self, source: &SourceIdentity) -> Result<Vec<Run>> {
        let copies = self.copies().await?.lock().expect("poisoned");
        let found = copies.get(&source.run_id).map(Vec::as_slice).unwrap_or_default();
        Ok(found.iter().filter(|r| source.matches(&tag_map(r))).cloned().collect())
    }

    /// Our copies in the experiment by source run id, listed with one paged search the first
    /// time they are needed, keeping only their info and our tags.
    async fn copies(&self) -> Result<&Mutex<HashMap<String, Vec<Run>>>> {
        self.copies
            .get_or_try_init(|| async {
                let runs = self
                    .client
                    .search_runs(SearchRuns {
                        experiment_ids: vec![self.experiment_id.clone()],
                        filter: format!("tags.`{}` LIKE '%'", identity::SOURCE_RUN_ID),
                        run_view_type: ViewType::All,
                        max_results: 1000,
                        page_token: None,
                    })
                    .await?;
                let mut by_source: HashMap<String, Vec<Run>> = HashMap::new();
                for mut run in runs {
                    run.data.params.clear();
                    run.data.metrics.clear();
                    run.data.tags.retain(|t| t.key.starts_with(identity::PREFIX));
                    if let Some(id) = tag_map(&run).remove(identity::SOURCE_RUN_ID) {
                        by_source.entry(id).or_default().push(run);
                    }
                }
                Ok::<_, Error>(Mutex::new(by_source))
            })
            .await
    }

    /// Records a run made for `source` (a partial copy until it is finished).
    fn made(&self, source: &SourceIdentity, info: &RunInfo) {
        if let Some(copies) = self.copies.get() {
            let tags = source.tags().into_iter().map(|(k, v)| KeyValue::new(k, v)).collect();
            let run = Run {
                info: info.clone(),
                data: RunData { tags, ..Default::default() },
                inputs: Default::default(),
                outputs: Default::default(),
            };
            copies.lock().expect("poisoned").insert(source.run_id.clone(), vec![run]);
        }
    }

    async fn find(&self, source: &SourceIdentity) -> Result<Vec<Run>> {
        self.find_in(vec![self.experiment_id.clone()], source).await
    }

    async fn find_in(&self, experiment_ids: Vec<String>, source: &SourceIdentity) -> Result<Vec<Run>> {
        let runs = self
            .client
            .search_runs(SearchRuns {
                experiment_ids,
                filter: format!("tags.`{}` = '{}'", identity::SOURCE_RUN_ID, source.run_id.replace('\'', "\\'")),
                run_view_type: ViewType::All,
                max_results: 1000,
                page_token: None,
            })
            .await?;
        Ok(runs.into_iter().filter(|r| source.matches(&tag_map(r))).collect())
    }

    fn remember(&self, run_id: &str, artifact_uri: Option<&str>) -> Result<()> {
        let uri = artifact_uri.unwrap_or_default();
        let dest = self.artifacts.for_writing(uri).map_err(|e| match e {
            Error::Unsupported(m) => Error::Unsupported(format!("destination run {run_id}: {m}")),
            e => e,
        })?;
        self.artifact_dests.lock().expect("poisoned").insert(run_id.to_string(), dest);
        Ok(())
    }
}

fn experiment_record(e: Experiment) -> ExperimentRecord {
    ExperimentRecord {
        permissions: None,
        experiment_id: e.experiment_id,
        name: e.name,
        lifecycle_stage: e.lifecycle_stage.unwrap_or_else(|| "active".into()),
        artifact_location: e.artifact_location,
        creation_time: e.creation_time,
        last_update_time: e.last_update_time,
        tags: e.tags.into_iter().map(|t| (t.key, t.value)).collect(),
    }
}

/// Finds or creates an experiment by name and makes sure it has `tags`: a tag the destination
/// lacks or holds with another value (the source's changed since an earlier copy) is set; tags
/// only the destination has are kept. A create that failed
/// ambiguously, or lost a race, is reconciled by looking the name up again. Returns the
/// experiment's id and artifact location.
pub async fn ensure_experiment(
    client: &MlflowClient,
    name: &str,
    tags: &BTreeMap<String, String>,
) -> Result<(String, Option<String>)> {
    let mut tags = tags.clone();
    identity::refuse_tags(&mut tags, workspace::refused_tags(client));
    let existing = match client.get_experiment_by_name(name).await? {
        Some(exp) => exp,
        None => {
            workspace::prepare_experiment_path(client, name).await?;
            let by_name = || client.get_experiment_by_name(name);
            let tags = key_values(&tags);
            let created = client
                .create_or_find(
                    || async { client.create_experiment(name, &tags).await.map(Created::New) },
                    || async { Ok::<_, mlflow_client::Error>(by_name().await?.map(Created::Found)) },
                )
                .await;
            match created {
                // Only a read tells where the server put a new experiment's artifacts.
                Ok(Created::New(id)) => return Ok((id.clone(), client.get_experiment(&id).await?.artifact_location)),
                Ok(Created::Found(exp)) => exp,
                // Lost a race with another job creating the same name.
                Err(e) => by_name().await?.ok_or(e)?,
            }
        }
    };
    if existing.lifecycle_stage.as_deref() == Some("deleted") {
        return Err(Error::Input(format!(
            "experiment {name:?} exists at {} but is deleted: restore it or choose another name",
            client.base_url()
        )));
    }
    for (k, v) in &tags {
        if !existing.tags.iter().any(|t| &t.key == k && &t.value == v) {
            client.set_experiment_tag(&existing.experiment_id, k, v).await?;
        }
    }
    Ok((existing.experiment_id, existing.artifact_location))
}

/// An earlier copy of a run at the destination, as [`RestSink::classify`] sees it.
enum Found {
    /// Complete, and its source unchanged since.
    Complete(Run),
    /// Complete, and its source changed since.
    Changed(Run),
    /// Incomplete, and can be finished.
    Resumable(Run),
    /// Incomplete with another start time or user: replaced.
    Unusable(Run),
}

/// What [`MlflowClient::create_or_find`] came back with.
enum Created<N, F> {
    New(N),
    Found(F),
}

/// Names what in a refused batch the destination's database could not store, where the
/// server's answer does not: a NUL character (PostgreSQL's text type cannot hold one; sqlite and
/// MySQL can), or two keys that differ only by case (one key under MySQL's default
/// case-insensitive collation). Such a run is refused for good, not retried.
fn explain_refused(e: mlflow_client::Error, b: &mlflow_client::api::LogBatch) -> Error {
    let fields = || b.params.iter().map(|p| ("param", p)).chain(b.tags.iter().map(|t| ("tag", t)));
    if e.status().is_none() {
        return e.into();
    }
    if let Some((what, kv)) = fields().find(|(_, kv)| kv.key.contains('\0') || kv.value.contains('\0')) {
        return Error::Unsupported(format!(
            "{what} {:?} holds a NUL character, which the destination's database refused ({e})",
            kv.key.replace('\0', "\\0")
        ));
    }
    if e.is_transient() {
        return e.into();
    }
    let mut seen: HashMap<(&str, String), &str> = HashMap::new();
    for (what, kv) in fields() {
        if let Some(other) = seen.insert((what, kv.key.to_lowercase()), &kv.key) {
            if other != kv.key {
                return Error::Unsupported(format!(
                    "{what}s {other:?} and {:?} differ only by case, which the destination's database \
                     (a case-insensitive collation, as MySQL's default) holds as one key ({e})",
                    kv.key
                ));
            }
        }
    }
    e.into()
}

fn tag_map(run: &Run) -> BTreeMap<String, String> {
    run.data.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect()
}

fn is_complete_run(run: &Run) -> bool {
    identity::is_complete(&tag_map(run))
}

impl RestSink {
    fn dest(&self, target: &Target) -> Result<ArtifactRoot> {
        let dest = self.artifact_dests.lock().expect("poisoned").get(target.id()).cloned();
        dest.ok_or_else(|| Error::Input(format!("run {} was not started", target.id())))
    }
}

#[async_trait]
impl RunSink for RestSink {
    fn refused_tags(&self) -> &'static [&'static str] {
        workspace::refused_tags(&self.client)
    }

    fn assigns_users(&self) -> bool {
        self.client.is_databricks()
    }

    async fn import_notebook(&self, path: &str, language: &str, source: Bytes) -> Result<()> {
        workspace::import_notebook(&self.client, path, language, &source).await
    }

    async fn find_copy(&self, run_id: &str, source_tracking_uri: Option<&str>) -> Result<Option<String>> {
        let all = self
            .all_experiments
            .get_or_try_init(|| async {
                let exps = self.client.search_experiments("", ViewType::All).await?;
                Ok::<_, Error>(exps.into_iter().map(|e| e.experiment_id).collect::<Vec<_>>())
            })
            .await?;
        let source = SourceIdentity {
            tracking_uri: source_tracking_uri.map(mlflow_client::redact),
            run_id: run_id.to_string(),
            experiment_id: String::new(),
            experiment_name: None,
        };
        // `runs/search` takes a bounded list of experiments per call. Several complete copies
        // can exist (the same run imported into two experiments): the one in the most recently
        // created experiment (highest id) wins, as the likeliest target of the current migration.
        let mut best: Option<(u64, String)> = None;
        for chunk in all.chunks(100) {
            for r in self.find_in(chunk.to_vec(), &source).await?.iter().filter(|r| is_complete_run(r)) {
                let rank = r.info.experiment_id.parse().unwrap_or(0);
                if best.as_ref().is_none_or(|(b, _)| rank > *b) {
                    best = Some((rank, r.info.run_id.clone()));
                }
            }
        }
        if let Some((_, id)) = best {
            return Ok(Some(id));
        }
        Ok(None)
    }

    async fn begin_run(&self, run: &RunRecord, source: &SourceIdentity) -> Result<Target> {
        let found = if self.uncertain.lock().expect("poisoned").contains(&source.run_id) {
            self.find(source).await?
        } else {
            self.known_copies(source).await?
        };
        match self.classify(&found, run) {
            Some(Found::Complete(done)) => {
                if run.meta.is_deleted() && !done.info.is_deleted() {
                    self.client.delete_run(&done.info.run_id).await?;
                }
                return Ok(Target::Complete(done.info.run_id));
            }
            Some(Found::Changed(done)) => {
                self.remember(&done.info.run_id, done.info.artifact_uri.as_deref())?;
                return Ok(Target::Changed(done.info.run_id));
            }
            Some(Found::Resumable(partial)) => {
                self.remember(&partial.info.run_id, partial.info.artifact_uri.as_deref())?;
                return Ok(Target::Resumed(partial.info.run_id));
            }
            Some(Found::Unusable(partial)) => {
                tracing::info!(run = %partial.info.run_id, "replacing an incomplete copy whose start time or user differ");
                self.client.delete_run(&partial.info.run_id).await?;
            }
            None => {}
        }
        let create = RunCreate {
            experiment_id: self.experiment_id.clone(),
            user_id: run.meta.user_id.clone().unwrap_or_default(),
            run_name: run.meta.run_name.clone(),
            start_time: run.meta.start_time.unwrap_or(0),
            tags: source.tags().into_iter().map(|(k, v)| KeyValue::new(k, v)).collect(),
        };
        let created = self
            .client
            .create_or_find(
                || async { self.client.create_run(&create).await.map(Created::New) },
                || async {
                    Ok::<_, Error>(self.find(source).await?.into_iter().next().map(|r| Created::Found(r.info)))
                },
            )
            .await
            .inspect_err(|_| {
                self.uncertain.lock().expect("poisoned").insert(source.run_id.clone());
            })?;
        let (info, target): (&RunInfo, fn(String) -> Target) = match &created {
            Created::New(info) => (info, Target::Created),
            // A lost answer to a create that was applied: the run holds its identity tags only.
            Created::Found(info) => (info, Target::Resumed),
        };
        self.made(source, info);
        self.remember(&info.run_id, info.artifact_uri.as_deref())?;
        Ok(target(info.run_id.clone()))
    }

    async fn probe_run(&self, run: &RunRecord, source: &SourceIdentity) -> Result<Option<Target>> {
        let found = self.known_copies(source).await?;
        Ok(match self.classify(&found, run) {
            Some(Found::Complete(r)) => Some(Target::Complete(r.info.run_id)),
            Some(Found::Changed(r)) => Some(Target::Changed(r.info.run_id)),
            Some(Found::Resumable(r)) => Some(Target::Resumed(r.info.run_id)),
            Some(Found::Unusable(_)) | None => None,
        })
    }

    async fn expect_artifacts(&self, target: &Target, files: &[ArtifactFile]) -> Result<()> {
        // A target without a destination fails on its first write, with the reason.
        if let Ok(dest) = self.dest(target) {
            self.artifacts.expect_writes(&dest, files).await;
        }
        Ok(())
    }

    async fn write_artifact(&self, target: &Target, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        self.artifacts.write(&self.dest(target)?, &file.path, data).await
    }

    async fn copy_artifact(&self, target: &Target, file: &ArtifactFile, from: &ObjectLocation) -> Result<bool> {
        ArtifactRoots::copy(&self.dest(target)?, from, &file.path, file.size).await
    }

    /// Inputs, status and times first; then params, tags and metrics, the completion mark
    /// riding in the last batch, which the server stores after the rest of that batch.
    async fn finish_run(&self, target: &Target, run: &RunRecord, _artifacts: &[ArtifactEntry]) -> Result<()> {
        self.write_data(target, run, KeyValue::new(identity::COMPLETE, "true")).await?;
        if run.meta.is_deleted() {
            self.client.delete_run(target.id()).await?;
        }
        Ok(())
    }

    async fn read_copy(&self, target: &Target) -> Result<RunRecord> {
        let run = self.client.get_run(target.id()).await?;
        Ok(run_record(run, Origin::default()))
    }

    async fn copy_history(&self, target: &Target, key: &str) -> Result<Vec<MetricPoint>> {
        let points = self.client.get_metric_history(target.id(), key).await?;
        Ok(points.iter().map(MetricPoint::from).collect())
    }

    async fn list_copy_files(&self, target: &Target) -> Result<Vec<ArtifactFile>> {
        self.artifacts.list_readable(&self.dest(target)?, ArtifactRoot::RunRoutes(target.id().to_string())).await
    }

    async fn stale_copies(
        &self,
        experiment_id: &str,
        tracking_uri: &str,
        keep: &HashSet<String>,
    ) -> Result<Vec<(String, String)>> {
        let copies = self.copies().await?.lock().expect("poisoned");
        let mut stale = Vec::new();
        for (source_run, runs) in copies.iter().filter(|(id, _)| !keep.contains(*id)) {
            for run in runs.iter().filter(|r| !r.info.is_deleted()) {
                let tags = tag_map(run);
                let from = |k: &str| tags.get(k).map(String::as_str);
                if from(identity::SOURCE_EXPERIMENT_ID) == Some(experiment_id)
                    && from(identity::SOURCE_TRACKING_URI).is_some_and(|u| identity::same_server(u, tracking_uri))
                {
                    stale.push((run.info.run_id.clone(), source_run.clone()));
                }
            }
        }
        stale.sort();
        Ok(stale)
    }

    async fn delete_copy(&self, run_id: &str) -> Result<()> {
        Ok(self.client.delete_run(run_id).await?)
    }

    async fn update_run(&self, target: &Target, delta: &RunRecord) -> Result<()> {
        let mut delta = delta.clone();
        let state = delta.tags.remove(identity::SOURCE_STATE).ok_or_else(|| {
            Error::Input(format!("run {}: an update must say which source state it brings", target.id()))
        })?;
        self.write_data(target, &delta, KeyValue::new(identity::SOURCE_STATE, state)).await
    }
}

impl RestSink {
    /// Writes a run's inputs, status, times and name, then its params, tags and metric points
    /// in packed batches, `last` in the very last one: the server stores a batch's tags after
    /// the rest of it, so `last` is there only if everything else is.
    async fn write_data(&self, target: &Target, run: &RunRecord, last: KeyValue) -> Result<()> {
        if !run.dataset_inputs.is_empty() {
            self.client.log_inputs(target.id(), &run.dataset_inputs).await?;
        }
        self.client.update_run(target.id(), run.meta.status, run.meta.end_time, run.meta.run_name.as_deref()).await?;
        let metrics: Vec<Metric> = run
            .metrics
            .iter()
            .flat_map(|(key, points)| {
                points.iter().map(move |p| Metric {
                    key: key.clone(),
                    value: p.value,
                    timestamp: p.timestamp,
                    step: p.step,
                })
            })
            .collect();
        for b in batch::pack_ending_with(key_values(&run.params), key_values(&run.tags), metrics, last) {
            if let Err(e) = self.client.log_batch(target.id(), &b).await {
                return Err(explain_refused(e, &b));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minified_run_is_the_same_run() {
        let pretty = r#"{
          "info": {"run_id": "abc", "experiment_id": "1", "run_name": "a \"quoted\" name\\ with  spaces",
                   "status": "FINISHED", "start_time": 1704164645678},
          "data": {"metrics": [{"key": "loss", "value": "NaN", "timestamp": 1, "step": 0}],
                   "params": [{"key": "p", "value": " padded\t\n value "}],
                   "tags": [{"key": "k", "value": "é ü"}]},
          "inputs": {}, "outputs": {}
        }"#;
        let small = minify(pretty);
        assert!(small.len() < pretty.len() * 3 / 4, "{small}");
        let a: serde_json::Value = serde_json::from_str(pretty).unwrap();
        let b: serde_json::Value = serde_json::from_str(&small).unwrap();
        assert_eq!(a, b);
        let (a, b): (Run, Run) = (serde_json::from_str(pretty).unwrap(), serde_json::from_str(&small).unwrap());
        assert_eq!(a.info, b.info);
        assert_eq!(a.data.params, b.data.params);
        assert!(b.data.metrics[0].value.is_nan());
    }
}
