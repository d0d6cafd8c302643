//! Moving one run from a source to a sink: the one code path behind export, import and copy.

use std::{
    collections::HashMap,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use futures::{stream, StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::{
    format::run_json::ArtifactEntry,
    identity::{self, SourceIdentity},
    model::{ArtifactFile, RunRecord},
    report::{Action, RunOutcome},
    reporter::Reporter,
    store::{ByteStream, RunSink, RunSource, Target},
    Error, Result,
};

/// Whose name goes on the destination run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPolicy {
    /// Keep the source run's user (`--use-src-user-id`).
    Source,
    /// Use this user (the Python tool's default: the user running the import).
    Fixed(String),
}

/// How runs are transformed and moved.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Keep `mlflow.*` tags (`--import-mlflow-tags`).
    pub import_mlflow_tags: bool,
    /// Keep `mlflow_tools.metadata.*` tags (`--import-metadata-tags`).
    pub import_metadata_tags: bool,
    /// Add `mlflow_tools.metadata.*` tags describing the source (`--export-metadata-tags`).
    pub export_metadata_tags: bool,
    /// Record source fields and `mlflow.*` tags as `mlflow_exim.*` tags (`--import-source-tags`).
    pub import_source_tags: bool,
    pub user: UserPolicy,
    /// Artifact files moved at once per run.
    pub transfers: usize,
    /// Attempts per artifact file after a transient failure.
    pub file_retries: u32,
    /// Passes over the runs that failed for a reason that may be transient, after all others.
    pub retry_passes: u32,
}

impl Default for RunOptions {
    fn default() -> Self {
        Self {
            import_mlflow_tags: true,
            import_metadata_tags: true,
            export_metadata_tags: false,
            import_source_tags: false,
            user: UserPolicy::Source,
            transfers: 4,
            file_retries: 3,
            retry_passes: 2,
        }
    }
}

/// Tags the Python tool writes with `--export-metadata-tags`.
const METADATA_PREFIXES: [&str; 2] = ["mlflow_tools.metadata.", "mlflow_export_import.metadata."];

/// Applies the options to a run read from the source.
pub fn prepare(mut run: RunRecord, opts: &RunOptions, now_secs: i64) -> RunRecord {
    // Our own identity tags describe the copy they sit on, never the next one.
    run.tags.retain(|k, _| !k.starts_with(identity::PREFIX) || METADATA_PREFIXES.iter().any(|p| k.starts_with(p)));
    if !opts.import_mlflow_tags {
        run.tags.retain(|k, _| !k.starts_with("mlflow."));
    }
    if !opts.import_metadata_tags {
        run.tags.retain(|k, _| !METADATA_PREFIXES.iter().any(|p| k.starts_with(p)));
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
        let system: Vec<(String, String)> = run
            .tags
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("mlflow.").map(|rest| (format!("mlflow_exim.mlflow_tag.{rest}"), v.clone()))
            })
            .collect();
        run.tags.extend(system);
    }
    if let UserPolicy::Fixed(user) = &opts.user {
        run.meta.user_id = Some(user.clone());
        if run.tags.contains_key("mlflow.user") {
            run.tags.insert("mlflow.user".into(), user.clone());
        }
    }
    run
}

/// The identity a run carries at its destination.
pub fn source_identity(run: &RunRecord) -> SourceIdentity {
    SourceIdentity {
        tracking_uri: run.origin.tracking_uri.as_deref().map(mlflow_client::redact),
        run_id: run.meta.run_id.clone(),
        experiment_id: run.meta.experiment_id.clone(),
        experiment_name: run.origin.experiment_name.clone(),
    }
}

/// What every run of a job shares: options, progress, and the map of ids assigned so far.
pub struct JobContext {
    pub opts: RunOptions,
    pub reporter: Arc<dyn Reporter>,
    pub ids: IdMap,
}

impl JobContext {
    pub fn new(opts: RunOptions, reporter: Arc<dyn Reporter>) -> Self {
        Self { opts, reporter, ids: IdMap::default() }
    }
}

/// Source run id → destination run id, for every run done (or found complete) in this job,
/// and the source runs known to have no copy at the destination (`None`), so that a missing
/// parent shared by many children is looked up once.
#[derive(Debug, Default)]
pub struct IdMap(Mutex<HashMap<String, Option<String>>>);

impl IdMap {
    pub fn insert(&self, source: &str, destination: &str) {
        self.0.lock().expect("poisoned").insert(source.to_string(), Some(destination.to_string()));
    }

    /// `Some(Some(id))`: copied; `Some(None)`: known to have no copy; `None`: not known yet.
    pub fn get(&self, source: &str) -> Option<Option<String>> {
        self.0.lock().expect("poisoned").get(source).cloned()
    }

    fn insert_lookup(&self, source: &str, destination: Option<&String>) {
        self.0.lock().expect("poisoned").entry(source.to_string()).or_insert_with(|| destination.cloned());
    }
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

/// Moves one run. Never panics on bad data; every failure becomes a `Failed` outcome that
/// names the run and the reason.
pub async fn transfer_run(source: &dyn RunSource, sink: &dyn RunSink, run_id: &str, ctx: &JobContext) -> RunOutcome {
    let started = Instant::now();
    ctx.reporter.run_started(run_id);
    let outcome = match try_transfer(source, sink, run_id, ctx, started).await {
        Ok(o) => o,
        Err(e) => RunOutcome::failed(run_id, &e, started.elapsed()),
    };
    if let (Some(dst), true) = (&outcome.destination, sink.assigns_ids()) {
        ctx.ids.insert(&outcome.source_run_id, dst);
    }
    ctx.reporter.run_finished(&outcome);
    outcome
}

async fn try_transfer(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    run_id: &str,
    ctx: &JobContext,
    started: Instant,
) -> Result<RunOutcome> {
    let (opts, reporter) = (&ctx.opts, &ctx.reporter);
    let run = source.read_run(run_id).await?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_secs();
    let mut run = prepare(run, opts, i64::try_from(now).unwrap_or(0));
    if sink.assigns_ids() {
        remap_links(&mut run, &ctx.ids, sink).await?;
    }
    let identity = source_identity(&run);
    let target = sink.begin_run(&run, &identity).await?;
    let action = match target {
        Target::Created(_) => Action::Created,
        Target::Resumed(_) => Action::Resumed,
        Target::Complete(_) => Action::Skipped,
    };
    if action != Action::Skipped {
        source.complete_metrics(&mut run).await?;
    }
    let mut outcome = RunOutcome {
        source_run_id: run.meta.run_id.clone(),
        destination: Some(target.id().to_string()),
        action,
        error: None,
        params: run.params.len(),
        tags: run.tags.len(),
        metric_points: run.metrics.values().map(Vec::len).sum(),
        artifact_files: 0,
        artifact_bytes: 0,
        artifact_bytes_in_store: 0,
        elapsed: Duration::ZERO,
        attempts: 1,
        retryable: false,
    };
    if action == Action::Skipped {
        outcome.elapsed = started.elapsed();
        return Ok(outcome);
    }
    let files = source.list_artifacts(&run).await?;
    reporter.artifacts_planned(files.len(), files.iter().map(|f| f.size).sum());
    let entries: Vec<ArtifactEntry> = stream::iter(files.iter())
        .map(|file| copy_file(source, sink, &run, &target, file, opts.file_retries, reporter))
        .buffer_unordered(opts.transfers.max(1))
        .try_collect()
        .await?;
    let mut entries = entries;
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    sink.finish_run(&target, &run, &entries).await?;
    outcome.artifact_files = entries.len();
    outcome.artifact_bytes = entries.iter().map(|e| e.size).sum();
    outcome.artifact_bytes_in_store = entries.iter().filter(|e| e.sha256.is_none()).map(|e| e.size).sum();
    outcome.elapsed = started.elapsed();
    Ok(outcome)
}

/// Streams one file, hashing and counting on the way; retries the whole file on transient
/// errors and on a size mismatch (a body cut short).
async fn copy_file(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    run: &RunRecord,
    target: &Target,
    file: &ArtifactFile,
    retries: u32,
    reporter: &Arc<dyn Reporter>,
) -> Result<ArtifactEntry> {
    let mut attempt = 0;
    loop {
        match copy_once(source, sink, run, target, file, reporter).await {
            Ok(entry) => return Ok(entry),
            Err(e) if e.is_transient() && attempt < retries => {
                attempt += 1;
                tracing::debug!(path = %file.path, error = %e, attempt, "retrying artifact");
                tokio::time::sleep(Duration::from_millis(250 * u64::from(attempt))).await;
            }
            Err(e @ (Error::Truncated { .. } | Error::Input(_))) => return Err(e),
            Err(e) => return Err(Error::Artifact { path: file.path.clone(), source: Box::new(e) }),
        }
    }
}

async fn copy_once(
    source: &dyn RunSource,
    sink: &dyn RunSink,
    run: &RunRecord,
    target: &Target,
    file: &ArtifactFile,
    reporter: &Arc<dyn Reporter>,
) -> Result<ArtifactEntry> {
    if let Some(from) = source.locate_artifact(run, file).await {
        if sink.copy_artifact(target, file, &from).await? {
            return Ok(ArtifactEntry { path: file.path.clone(), size: file.size, sha256: None });
        }
    }
    let data = source.open_artifact(run, file).await?;
    let hasher = Arc::new(Mutex::new(Sha256::new()));
    let count = Arc::new(AtomicU64::new(0));
    let (h, c) = (hasher.clone(), count.clone());
    let stream = data.stream.inspect_ok(move |chunk| {
        h.lock().expect("poisoned").update(chunk);
        c.fetch_add(chunk.len() as u64, Ordering::Relaxed);
    });
    let reporter = reporter.clone();
    let stream = stream.inspect_ok(move |chunk| reporter.bytes_moved(chunk.len() as u64));
    let data = ByteStream { len: data.len, stream: Box::pin(stream) };
    sink.write_artifact(target, file, data).await?;
    let actual = count.load(Ordering::Relaxed);
    if actual != file.size {
        return Err(Error::Truncated { path: file.path.clone(), expected: file.size, actual });
    }
    let sha256 = Some(format!("{:x}", hasher.lock().expect("poisoned").clone().finalize()));
    Ok(ArtifactEntry { path: file.path.clone(), size: actual, sha256 })
}
