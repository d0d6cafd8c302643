//! The run mover: one run from a source to a sink, the one code path behind export, import and
//! copy of runs. Found again at the destination by its source identity (complete: skipped;
//! begun: finished in place), its parent and root links pointed at the destination's runs, its
//! files moved with per-file retries and size checks, its completion mark written last.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
    time::{Duration, Instant},
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::{stream, StreamExt, TryStreamExt};

use crate::{
    files::{copy_files, FileOptions, FileSink, FileSource},
    format::run_json::ArtifactEntry,
    identity::{self, SourceIdentity},
    job::{Action, Deps, IdMap, JobContext, Outcome, RunOptions, RunOutcome, UserPolicy},
    model::{ArtifactFile, MetricPoint, RunRecord},
    notebook,
    store::{ByteStream, ObjectLocation, RunSink, RunSource, Target},
    Error, Result,
};

/// One run to move.
pub struct RunMove {
    pub run_id: String,
    /// The run's parent (`mlflow.parentRunId`), if any: the planner moves parents first.
    pub parent: Option<String>,
    pub source: Arc<dyn RunSource>,
    pub sink: RunDestination,
}

/// Where a run goes.
pub enum RunDestination {
    /// A sink known when planning (an export folder).
    Ready(Arc<dyn RunSink>),
    /// The destination experiment prepared by the step this one depends on.
    Experiment,
}

impl RunMove {
    /// What [`Self::execute`] would do, writing nothing: created (also when the destination
    /// experiment does not exist yet), resumed, updated or skipped.
    pub async fn probe(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        let started = Instant::now();
        let absent = matches!(self.sink, RunDestination::Experiment)
            && !deps.iter().any(|d| matches!(d, Outcome::ExperimentReady { .. } | Outcome::Failed { .. }));
        let probed = async {
            if absent {
                return Ok(None);
            }
            let sink = self.sink(deps)?;
            let run = read_prepared(self.source.as_ref(), sink.as_ref(), &self.run_id, ctx).await?;
            sink.probe_run(&run, &SourceIdentity::of_run(&run)).await
        };
        let outcome = match probed.await {
            Ok(target) => {
                let action = target.as_ref().map_or(Action::Created, action);
                RunOutcome::probed(&self.run_id, action, target.map(|t| t.id().to_string()), started.elapsed())
            }
            Err(e) => RunOutcome::failed(&self.run_id, &e, started.elapsed()),
        };
        Outcome::Run(outcome)
    }

    /// Moves the run. Never panics on bad data; every failure becomes a `Failed` outcome that
    /// names the run and the reason.
    pub async fn execute(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        let started = Instant::now();
        ctx.reporter.run_started(&self.run_id);
        let outcome = match self.sink(deps) {
            Ok(sink) => {
                let result = transfer(self.source.as_ref(), sink.as_ref(), &self.run_id, ctx, started).await;
                let outcome = result.unwrap_or_else(|e| RunOutcome::failed(&self.run_id, &e, started.elapsed()));
                if let (Some(dst), true) = (&outcome.destination, sink.assigns_ids()) {
                    ctx.ids.insert(&outcome.source_run_id, dst);
                }
                outcome
            }
            Err(e) => RunOutcome::failed(&self.run_id, &e, started.elapsed()),
        };
        ctx.reporter.run_finished(&outcome);
        Outcome::Run(outcome)
    }

    fn sink(&self, deps: &Deps) -> Result<Arc<dyn RunSink>> {
        match &self.sink {
            RunDestination::Ready(sink) => Ok(sink.clone()),
            RunDestination::Experiment => deps
                .iter()
                .find_map(|d| match d {
                    Outcome::ExperimentReady { sink, .. } => Some(Ok(sink.clone())),
                    Outcome::Failed { object, error, .. } => {
                        Some(Err(Error::Unsupported(format!("{object}: {error}"))))
                    }
                    _ => None,
                })
                .unwrap_or_else(|| Err(Error::Input("no destination experiment was prepared for this run".into()))),
        }
    }
}

/// Tags the seed-era Python tool wrote with `--export-metadata-tags`, and its importer kept only
/// with `--import-metadata-tags`. The `mlflow_export_import.*` lineage of later releases
/// ([`identity::LINEAGE_PREFIXES`]) is not gated: their importers had no such option and kept it.
const METADATA_PREFIX: &str = "mlflow_tools.metadata.";

/// Applies the options to a run read from the source.
fn prepare(mut run: RunRecord, opts: &RunOptions, now_secs: i64) -> RunRecord {
    // Tags an earlier destination refused are the source's data again; our own identity tags
    // describe the copy they sit on, never the next one.
    identity::restore_refused(&mut run.tags);
    if let Some(user) = run.tags.remove(identity::REFUSED_USER) {
        run.meta.user_id = Some(user);
    }
    run.tags.retain(|k, _| !identity::is_own_tag(k));
    // The source's `mlflow.*` tags as lineage, taken before `--import-mlflow-tags false` drops
    // them from the run itself.
    let lineage: Vec<(String, String)> = run
        .tags
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("mlflow.").map(|rest| (format!("mlflow_exim.mlflow_tag.{rest}"), v.clone()))
        })
        .collect();
    if !opts.import_mlflow_tags {
        run.tags.retain(|k, _| !k.starts_with("mlflow."));
    }
    if !opts.import_metadata_tags {
        run.tags.retain(|k, _| !k.starts_with(METADATA_PREFIX));
    }
    if opts.export_metadata_tags {
        let m = &run.meta;
        let mut add = |k: &str, v: String| run.tags.insert(format!("mlflow_tools.metadata.{k}"), v);
        add("timestamp", now_secs.to_string());
        add("timestamp_nice", crate::format::utc_text(now_secs));
        add("experiment_id", m.experiment_id.clone());
        add("run-id", m.run_id.clone());
        if let Some(n) = &run.origin.experiment_name {
            add("experiment-name", n.clone());
        }
        if let Some(u) = &run.origin.tracking_uri {
            add("tracking_uri", u.clone());
        }
    }
    if opts.import_source_tags {
        let m = run.meta.clone();
        let mut add = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                run.tags.insert(format!("mlflow_exim.run_info.{k}"), v);
            }
        };
        add("run_id", Some(m.run_id));
        add("experiment_id", Some(m.experiment_id));
        add("user_id", m.user_id);
        add("status", serde_json::to_value(m.status).ok().and_then(|v| v.as_str().map(String::from)));
        add("start_time", m.start_time.map(|t| t.to_string()));
        add("end_time", m.end_time.map(|t| t.to_string()));
        add("lifecycle_stage", Some(m.lifecycle_stage));
        add("artifact_uri", m.artifact_uri);
        run.tags.extend(lineage);
    }
    if let UserPolicy::Fixed(user) = &opts.user {
        run.meta.user_id = Some(user.clone());
        if run.tags.contains_key("mlflow.user") {
            run.tags.insert("mlflow.user".into(), user.clone());
        }
    }
    run
}

/// Tags that hold run ids and must point at destination runs.
const RUN_LINK_TAGS: [&str; 2] = ["mlflow.parentRunId", "mlflow.rootRunId"];

/// Points parent and root links at the destination runs: those moved in this job, else copies
/// an earlier job left at the destination. Links to runs with no copy are kept as they are.
async fn remap_links(run: &mut RunRecord, ids: &IdMap, sink: &dyn RunSink) -> Result<()> {
    for key in RUN_LINK_TAGS {
        let Some(src) = run.tags.get(key).cloned() else { continue };
        let dst = match ids.get(&src) {
            Some(known) => known,
            None => {
                let found = sink.find_copy(&src, run.origin.tracking_uri.as_deref()).await?;
                ids.insert_lookup(&src, found.as_ref());
                found
            }
        };
        if let Some(dst) = dst {
            run.tags.insert(key.to_string(), dst);
        }
    }
    Ok(())
}

async fn transfer(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    run_id: &str,
    ctx: &JobContext,
    started: Instant,
) -> Result<RunOutcome> {
    let mut run = read_prepared(source, sink, run_id, ctx).await?;
    if sink.assigns_ids() {
        remap_links(&mut run, &ctx.ids, sink).await?;
    }
    let identity = SourceIdentity::of_run(&run);
    let target = sink.begin_run(&run, &identity).await?;
    let action = action(&target);
    if matches!(action, Action::Created | Action::Resumed) {
        source.complete_metrics(&mut run).await?;
    }
    let mut outcome = RunOutcome {
        source_run_id: run.meta.run_id.clone(),
        destination: Some(target.id().to_string()),
        action,
        error: None,
        params: run.params.len(),
        tags: run.tags.len(),
        tags_refused: refused_keys(&run.tags),
        metric_points: run.metrics.values().map(Vec::len).sum(),
        artifact_files: 0,
        artifact_bytes: 0,
        artifact_bytes_in_store: 0,
        notebook: None,
        elapsed: Duration::ZERO,
        attempts: 1,
        retryable: false,
    };
    match action {
        Action::Skipped => {}
        Action::Updated => update(source, sink, &target, run, ctx, &mut outcome).await?,
        _ => {
            let mut files = source.list_artifacts(&run).await?;
            let mut notebook_files = BTreeMap::new();
            if !ctx.opts.notebook_formats.is_empty() {
                let (exported, said) = notebook::export(source, &run, &ctx.opts.notebook_formats).await?;
                files.retain(|f| !exported.contains_key(&f.path));
                files.extend(exported.iter().map(|(path, bytes)| ArtifactFile {
                    path: path.clone(),
                    size: Some(bytes.len() as u64),
                    sha256: None,
                }));
                notebook_files = exported;
                outcome.notebook = Some(said);
            }
            if let Some(dir) = &ctx.opts.notebook_dir {
                outcome.notebook = Some(notebook::import(source, sink, &mut run, &files, dir).await?);
            }
            sink.expect_artifacts(&target, &files).await?;
            let from = RunFiles { source, run: &run, written: &notebook_files };
            let entries = move_files(&from, sink, &target, &files, ctx).await?;
            sink.finish_run(&target, &run, &entries).await?;
            outcome.count_files(&entries);
        }
    }
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// The points of `source` that `held` lacks, counted as a multiset: a point logged twice at the
/// source and once at the destination is missing once.
fn missing_points(source: &[MetricPoint], held: &[MetricPoint]) -> Vec<MetricPoint> {
    let mut count: HashMap<(i64, i64, u64), usize> = HashMap::new();
    for p in held {
        *count.entry(p.key()).or_default() += 1;
    }
    source
        .iter()
        .filter(|p| match count.get_mut(&p.key()) {
            Some(n) if *n > 0 => {
                *n -= 1;
                false
            }
            _ => true,
        })
        .cloned()
        .collect()
}

/// What is done to a run the sink found as `target`.
fn action(target: &Target) -> Action {
    match target {
        Target::Created(_) => Action::Created,
        Target::Resumed(_) => Action::Resumed,
        Target::Complete(_) => Action::Skipped,
        Target::Changed(_) => Action::Updated,
    }
}

/// The run as the source has it, with the job's options applied. A copy at a server records
/// the source's state, to be kept in step with it; an export is a snapshot.
async fn read_prepared(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    run_id: &str,
    ctx: &JobContext,
) -> Result<RunRecord> {
    let run = source.read_run(run_id).await?;
    let state = identity::run_state(&run);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut run = prepare(run, &ctx.opts, i64::try_from(now).unwrap_or(0));
    identity::refuse_tags(&mut run.tags, sink.refused_tags());
    if let (true, Some(user)) = (sink.assigns_users(), &run.meta.user_id) {
        run.tags.insert(identity::REFUSED_USER.into(), user.clone());
    }
    if sink.assigns_ids() {
        run.tags.insert(identity::SOURCE_STATE.into(), state);
    }
    Ok(run)
}

/// The tags the destination refused, which [`read_prepared`] set aside.
fn refused_keys(tags: &BTreeMap<String, String>) -> Vec<String> {
    tags.keys().filter_map(|k| k.strip_prefix(identity::REFUSED_TAG)).map(str::to_string).collect()
}

/// Streams `files` of a run into the run `target` names.
async fn move_files(
    from: &RunFiles<'_>,
    sink: &dyn RunSink,
    target: &Target,
    files: &[ArtifactFile],
    ctx: &JobContext,
) -> Result<Vec<ArtifactEntry>> {
    let opts = FileOptions { transfers: ctx.opts.transfers, retries: ctx.opts.file_retries };
    let to = RunTarget { sink, target };
    copy_files(from, &to, files, opts, &ctx.reporter).await
}

/// Brings a complete copy in step with its changed source: adds the params, tags, dataset
/// inputs and metric points it lacks (only the histories of metrics whose latest point differs
/// are read, on both sides), the files it lacks or holds at another size, and the source's
/// status, end time and name. Nothing the copy holds is removed: a point, tag or file the
/// source no longer has may have been added at the destination. A param whose value differs
/// cannot be changed in MLflow and fails the run, naming it.
async fn update(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    target: &Target,
    mut run: RunRecord,
    ctx: &JobContext,
    outcome: &mut RunOutcome,
) -> Result<()> {
    let source_files = source.list_artifacts(&run).await?;
    // The notebook may have changed too, and the tags pointing at it must not be put back.
    if let Some(dir) = &ctx.opts.notebook_dir {
        outcome.notebook = Some(notebook::import(source, sink, &mut run, &source_files, dir).await?);
    }
    let copy = sink.read_copy(target).await?;
    let changed: HashSet<String> = run
        .metrics
        .iter()
        .filter(|(k, points)| {
            let theirs = copy.metrics.get(*k).and_then(|c| MetricPoint::latest(c)).map(MetricPoint::key);
            MetricPoint::latest(points).map(MetricPoint::key) != theirs
        })
        .map(|(k, _)| k.clone())
        .collect();
    run.metrics.retain(|k, _| changed.contains(k));
    source.complete_metrics(&mut run).await?;
    run.metrics.retain(|k, _| changed.contains(k));
    let held_keys = &copy.metrics;
    let histories: Vec<(String, Vec<MetricPoint>)> = stream::iter(run.metrics.keys().cloned())
        .map(|key| async move {
            let have = if held_keys.contains_key(&key) { sink.copy_history(target, &key).await? } else { Vec::new() };
            Ok::<_, Error>((key, have))
        })
        .buffer_unordered(8)
        .try_collect()
        .await?;
    let mut metrics = BTreeMap::new();
    for (key, have) in histories {
        let missing = missing_points(&run.metrics[&key], &have);
        if !missing.is_empty() {
            metrics.insert(key, missing);
        }
    }
    let mut params = BTreeMap::new();
    for (k, v) in &run.params {
        match copy.params.get(k) {
            None => {
                params.insert(k.clone(), v.clone());
            }
            Some(theirs) if theirs == v => {}
            Some(theirs) => {
                return Err(Error::Unsupported(format!(
                    "param {k:?} is {v:?} at the source and {theirs:?} in its copy {}: MLflow params cannot be changed",
                    target.id()
                )))
            }
        }
    }
    let tags = run.tags.iter().filter(|(k, v)| copy.tags.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone()));
    let dataset_inputs = run
        .dataset_inputs
        .iter()
        .filter(|d| {
            !copy
                .dataset_inputs
                .iter()
                .any(|c| c.dataset.name == d.dataset.name && c.dataset.digest == d.dataset.digest)
        })
        .cloned()
        .collect();
    let held: HashMap<String, Option<u64>> =
        sink.list_copy_files(target).await?.into_iter().map(|f| (f.path, f.size)).collect();
    let files: Vec<ArtifactFile> = source_files
        .into_iter()
        .filter(|f| match held.get(&f.path) {
            None => true,
            Some(size) => size.is_some() && f.size.is_some() && *size != f.size,
        })
        .collect();
    sink.expect_artifacts(target, &files).await?;
    let from = RunFiles { source, run: &run, written: &BTreeMap::new() };
    let entries = move_files(&from, sink, target, &files, ctx).await?;
    let delta = RunRecord {
        meta: run.meta.clone(),
        params,
        tags: tags.collect(),
        metrics,
        dataset_inputs,
        ..RunRecord::default()
    };
    sink.update_run(target, &delta).await?;
    outcome.params = delta.params.len();
    outcome.tags = delta.tags.len();
    outcome.metric_points = delta.metrics.values().map(Vec::len).sum();
    outcome.count_files(&entries);
    Ok(())
}

/// A run's files at its source, and files written from bytes in hand (its notebook).
struct RunFiles<'a> {
    source: &'a dyn RunSource,
    run: &'a RunRecord,
    written: &'a BTreeMap<String, Bytes>,
}

#[async_trait]
impl FileSource for RunFiles<'_> {
    async fn open(&self, file: &ArtifactFile) -> Result<ByteStream> {
        match self.written.get(&file.path) {
            Some(bytes) => Ok(ByteStream {
                len: Some(bytes.len() as u64),
                stream: Box::pin(futures::stream::once(std::future::ready(Ok(bytes.clone())))),
            }),
            None => self.source.open_artifact(self.run, file).await,
        }
    }

    async fn locate(&self, file: &ArtifactFile) -> Option<ObjectLocation> {
        if self.written.contains_key(&file.path) {
            return None;
        }
        self.source.locate_artifact(self.run, file).await
    }
}

/// A run's files at its destination.
struct RunTarget<'a> {
    sink: &'a dyn RunSink,
    target: &'a Target,
}

#[async_trait]
impl FileSink for RunTarget<'_> {
    async fn write(&self, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        self.sink.write_artifact(self.target, file, data).await
    }

    async fn copy(&self, file: &ArtifactFile, from: &ObjectLocation) -> Result<bool> {
        self.sink.copy_artifact(self.target, file, from).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_points_are_counted_as_a_multiset_with_nan_equal_to_nan() {
        let p = |value: f64, step: i64| MetricPoint { value, timestamp: 5, step };
        let source = [p(1.0, 0), p(1.0, 0), p(f64::NAN, 1), p(2.0, 2)];
        let held = [p(1.0, 0), p(f64::NAN, 1), p(9.0, 7)];
        let keys = |v: Vec<MetricPoint>| v.iter().map(MetricPoint::key).collect::<Vec<_>>();
        assert_eq!(keys(missing_points(&source, &held)), keys(vec![p(1.0, 0), p(2.0, 2)]));
        assert!(missing_points(&held[..2], &source).is_empty());
    }

    #[test]
    fn source_tags_keep_the_mlflow_lineage_that_import_mlflow_tags_false_drops() {
        let mut run = RunRecord::default();
        run.tags.insert("mlflow.source.name".into(), "train.py".into());
        run.tags.insert("team".into(), "a".into());
        let opts = RunOptions { import_mlflow_tags: false, import_source_tags: true, ..RunOptions::default() };
        let got = prepare(run, &opts, 0);
        assert_eq!(got.tags.get("mlflow.source.name"), None);
        assert_eq!(got.tags.get("mlflow_exim.mlflow_tag.source.name").map(String::as_str), Some("train.py"));
        assert_eq!(got.tags.get("team").map(String::as_str), Some("a"));
    }

    /// What a workspace refused to store (a tag, the user) is the source's again on the next copy.
    #[test]
    fn a_copy_out_of_a_workspace_gets_back_the_tags_and_user_it_refused() {
        let mut run = RunRecord::default();
        run.meta.user_id = Some("token-user".into());
        run.tags.insert("mlflow_export_import.refused_tag.mlflow.user".into(), "ann".into());
        run.tags.insert(identity::REFUSED_USER.into(), "ann".into());
        let got = prepare(run.clone(), &RunOptions::default(), 0);
        assert_eq!(got.meta.user_id.as_deref(), Some("ann"));
        assert_eq!(got.tags, BTreeMap::from([("mlflow.user".to_string(), "ann".to_string())]));
        // The importing user, when asked for, still wins.
        let opts = RunOptions { user: UserPolicy::Fixed("me".into()), ..RunOptions::default() };
        assert_eq!(prepare(run, &opts, 0).meta.user_id.as_deref(), Some("me"));
    }

    /// The lineage of a 1.0/1.1 export is kept as their importer kept it, whatever the options;
    /// the seed era's metadata tags follow `--import-metadata-tags`; our identity never passes.
    #[test]
    fn old_lineage_tags_are_kept_and_identity_is_not() {
        let mut run = RunRecord::default();
        for key in [
            "mlflow_export_import.metadata.experiment_name",
            "mlflow_export_import.run_info.start_time",
            "mlflow_export_import.mlflow.runName",
            "mlflow_tools.metadata.run-id",
            identity::SOURCE_RUN_ID,
            identity::COMPLETE,
        ] {
            run.tags.insert(key.into(), "v".into());
        }
        let opts = RunOptions { import_metadata_tags: false, import_mlflow_tags: false, ..RunOptions::default() };
        let got = prepare(run, &opts, 0);
        let keys: Vec<&str> = got.tags.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "mlflow_export_import.metadata.experiment_name",
                "mlflow_export_import.mlflow.runName",
                "mlflow_export_import.run_info.start_time",
            ]
        );
    }
}
