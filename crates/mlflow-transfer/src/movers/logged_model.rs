//! The logged-model mover: one MLflow 3 logged model from a source to a sink, the way a run
//! moves. Its copy is found again by its source id (complete: skipped; created but never
//! finalized: its files written again and finalized), its files move with the same per-file
//! retries and size checks as a run's, and the sink marks it complete last.
//!
//! At a server a logged model lives in an experiment and is attached to a run: the copy is
//! made in the destination copy of its run, or (logged without a run, or its run not moved)
//! in the experiment its sink names. Its metric points are logged again through the copies of
//! their runs, and the copies of the runs that take or output it are linked to the copy, all
//! before the copy is finalized. A run the job does not move (a logged model moved on its own)
//! is looked for at the destination, copied there by an earlier job; what names a run that has
//! no copy there is not kept, and the outcome's notes say so.

use std::{
    collections::{BTreeSet, HashMap},
    sync::Arc,
    time::Instant,
};

use async_trait::async_trait;
use bytes::Bytes;
use futures::TryStreamExt;

use crate::{
    files::{copy_files, FileOptions, FileSink, FileSource},
    job::{Action, Deps, JobContext, LoggedModelOutcome, Outcome, RunOutcome},
    mlmodel,
    model::{ArtifactFile, LoggedModelRecord},
    store::{ByteStream, LoggedModelMetric, LoggedModelSink, LoggedModelSource, ObjectLocation, Target},
    Error, Result,
};

/// One logged model to move.
pub struct LoggedModelMove {
    pub model_id: String,
    pub source: Arc<dyn LoggedModelSource>,
    pub sink: Arc<dyn LoggedModelSink>,
    /// The source server, recorded on the copy.
    pub source_tracking_uri: Option<String>,
    /// The source run whose copy the model's copy joins: the run that logged it, or for a
    /// model found through a version, the version's run (an export made before models recorded
    /// their run says it only that way).
    pub run_id: Option<String>,
    /// Source runs that take the model as an input (their steps are among the dependencies).
    pub inputs: Vec<String>,
    /// Source runs that output the model, with the step of each output.
    pub outputs: Vec<(String, i64)>,
}

impl LoggedModelMove {
    /// Moves the model. The run it belongs with is the run step it depends on, if any.
    pub async fn execute(&self, deps: &Deps, ctx: &JobContext) -> Outcome {
        let started = Instant::now();
        let mut outcome = LoggedModelOutcome {
            source_model_id: self.model_id.clone(),
            destination: None,
            action: Action::Failed,
            error: None,
            notes: Vec::new(),
            artifact_files: 0,
            artifact_bytes: 0,
            attempts: 1,
            retryable: false,
        };
        match self.transfer(deps, ctx, &mut outcome).await {
            Ok(()) => {}
            Err(e) => {
                outcome.action = Action::Failed;
                outcome.error = Some(e.to_string());
                outcome.retryable = e.is_transient();
            }
        }
        tracing::debug!(model = %self.model_id, action = ?outcome.action, elapsed = ?started.elapsed(), "logged model");
        Outcome::LoggedModel(outcome)
    }

    async fn transfer(&self, deps: &Deps, ctx: &JobContext, outcome: &mut LoggedModelOutcome) -> Result<()> {
        let model = self.source.read_logged_model(&self.model_id).await?;
        let runs: Vec<_> = deps.iter().filter_map(|d| if let Outcome::Run(r) = d { Some(r) } else { None }).collect();
        if let Some(r) = self.run_id.as_deref().and_then(|id| runs.iter().find(|r| r.source_run_id == id)) {
            if r.action == Action::Failed {
                return Err(Error::Unsupported(format!("its run {} was not copied", r.source_run_id)));
            }
        }
        let copies = self.run_copies(&model, &runs, deps).await?;
        // The copy joins the copy of its run.
        let dst_run = self.run_id.as_deref().and_then(|id| copies.get(id)).cloned();
        let target =
            self.sink.begin_logged_model(&model, dst_run.as_deref(), self.source_tracking_uri.as_deref()).await?;
        outcome.destination = Some(target.id().to_string());
        if let Target::Complete(_) = target {
            outcome.action = Action::Skipped;
            return Ok(());
        }
        let mut files = self.source.list_model_files(&model).await?;
        let rewritten = if ctx.opts.mlmodel_fix && self.sink.new_ids() {
            let mut ids: HashMap<&str, &str> = [(model.model_id.as_str(), target.id())].into();
            if let (Some(from), Some(to)) = (self.run_id.as_deref(), dst_run.as_deref()) {
                ids.insert(from, to);
            }
            self.rewrite_mlmodels(&model, &mut files, &ids).await?
        } else {
            HashMap::new()
        };
        let opts = FileOptions { transfers: ctx.opts.transfers, retries: ctx.opts.file_retries };
        let from = ModelFiles { source: self.source.as_ref(), model: &model, rewritten: &rewritten };
        let to = ModelTarget { sink: self.sink.as_ref(), target: &target };
        let entries = copy_files(&from, &to, &files, opts, &ctx.reporter).await?;
        // Metrics and run links before the completion mark, so a copy found complete has them.
        // A point logged through a run that has no copy has nowhere to go.
        let metrics: Vec<LoggedModelMetric> = model
            .metrics
            .iter()
            .filter_map(|m| {
                let run = copies.get(m.run_id.as_deref()?)?;
                Some(LoggedModelMetric { run_id: Some(run.to_string()), ..m.clone() })
            })
            .collect();
        self.sink.log_model_metrics(&target, &metrics).await?;
        let inputs: Vec<String> =
            self.inputs.iter().filter_map(|r| copies.get(r.as_str()).map(|d| d.to_string())).collect();
        let outputs: Vec<(String, i64)> =
            self.outputs.iter().filter_map(|(r, step)| Some((copies.get(r.as_str())?.to_string(), *step))).collect();
        if self.sink.new_ids() {
            let lost_points = model.metrics.len() - metrics.len();
            if lost_points > 0 {
                outcome.notes.push(format!(
                    "{lost_points} metric points not kept: the runs they were logged through have no copy at the destination"
                ));
            }
            let lost_links = self.inputs.len() + self.outputs.len() - inputs.len() - outputs.len();
            if lost_links > 0 {
                outcome.notes.push(format!(
                    "{lost_links} run links (model inputs and outputs) not kept: those runs have no copy at the destination"
                ));
            }
            if self.run_id.is_some() && dst_run.is_none() {
                outcome.notes.push(format!(
                    "its run {} has no copy at the destination: the copy is not attached to a run",
                    self.run_id.as_deref().unwrap_or_default()
                ));
            }
        }
        self.sink.link_model_runs(&target, &inputs, &outputs).await?;
        self.sink.finish_logged_model(&target, &model).await?;
        outcome.action = if matches!(target, Target::Resumed(_)) { Action::Resumed } else { Action::Created };
        outcome.artifact_files = entries.len();
        outcome.artifact_bytes = entries.iter().map(|e| e.size).sum();
        Ok(())
    }
}

impl LoggedModelMove {
    /// The destination copy of each source run the model names: those the job moved (from
    /// their outcomes), and at a server, copies an earlier job made of the others (found by
    /// their identity tags through the destination experiment's sink).
    async fn run_copies(
        &self,
        model: &LoggedModelRecord,
        runs: &[&RunOutcome],
        deps: &Deps,
    ) -> Result<HashMap<String, String>> {
        let mut copies: HashMap<String, String> = runs
            .iter()
            .filter(|r| r.action != Action::Failed)
            .filter_map(|r| Some((r.source_run_id.clone(), r.destination.clone()?)))
            .collect();
        let moved: BTreeSet<&str> = runs.iter().map(|r| r.source_run_id.as_str()).collect();
        let Some(sink) = deps.iter().find_map(|d| match d {
            Outcome::ExperimentReady { sink, .. } => Some(sink),
            _ => None,
        }) else {
            return Ok(copies);
        };
        for run in self.named_runs(model).into_iter().filter(|r| !moved.contains(r)) {
            if let Some(copy) = sink.find_copy(run, self.source_tracking_uri.as_deref()).await? {
                copies.insert(run.to_string(), copy);
            }
        }
        Ok(copies)
    }

    /// Every source run `model` names, once each: the run that logged it, the runs its metric
    /// points were logged through, the runs that take or output it. Its step follows theirs
    /// in the job, and their copies are what it is linked to.
    pub fn named_runs<'a>(&'a self, model: &'a LoggedModelRecord) -> BTreeSet<&'a str> {
        (self.run_id.iter())
            .chain(model.metrics.iter().filter_map(|m| m.run_id.as_ref()))
            .chain(&self.inputs)
            .chain(self.outputs.iter().map(|(r, _)| r))
            .map(String::as_str)
            .collect()
    }

    /// Reads each `MLmodel` file (small: a few hundred bytes) and rewrites the ids in `ids`
    /// (source → copy); a file that changes gets the new size in `files`, which the size check
    /// then uses, and is written from the returned bytes.
    async fn rewrite_mlmodels(
        &self,
        model: &LoggedModelRecord,
        files: &mut [ArtifactFile],
        ids: &HashMap<&str, &str>,
    ) -> Result<HashMap<String, Bytes>> {
        let mut out = HashMap::new();
        for file in files.iter_mut().filter(|f| mlmodel::is_mlmodel(&f.path)) {
            if file.size.is_some_and(|s| s > MLMODEL_MAX) {
                continue;
            }
            let data = self.source.open_model_file(model, file).await?;
            let bytes: Vec<Bytes> = data.stream.try_collect().await.map_err(|e| Error::io(&file.path, e))?;
            if let Some(new) = mlmodel::rewrite_ids(&bytes.concat(), ids) {
                file.size = Some(new.len() as u64);
                file.sha256 = None;
                out.insert(file.path.clone(), Bytes::from(new));
            }
        }
        Ok(out)
    }
}

/// The largest `MLmodel` file rewritten; a bigger one is not a model description and is
/// copied as it is.
const MLMODEL_MAX: u64 = 1 << 20;

struct ModelFiles<'a> {
    source: &'a dyn LoggedModelSource,
    model: &'a LoggedModelRecord,
    /// Files written from these bytes instead of the source's.
    rewritten: &'a HashMap<String, Bytes>,
}

#[async_trait]
impl FileSource for ModelFiles<'_> {
    async fn open(&self, file: &ArtifactFile) -> Result<ByteStream> {
        match self.rewritten.get(&file.path) {
            Some(bytes) => Ok(ByteStream {
                len: Some(bytes.len() as u64),
                stream: Box::pin(futures::stream::once(std::future::ready(Ok(bytes.clone())))),
            }),
            None => self.source.open_model_file(self.model, file).await,
        }
    }

    async fn locate(&self, file: &ArtifactFile) -> Option<ObjectLocation> {
        if self.rewritten.contains_key(&file.path) {
            return None;
        }
        self.source.locate_model_file(self.model, file).await
    }
}

struct ModelTarget<'a> {
    sink: &'a dyn LoggedModelSink,
    target: &'a Target,
}

#[async_trait]
impl FileSink for ModelTarget<'_> {
    async fn write(&self, file: &ArtifactFile, data: ByteStream) -> Result<()> {
        self.sink.write_model_file(self.target, file, data).await
    }

    async fn copy(&self, file: &ArtifactFile, from: &ObjectLocation) -> Result<bool> {
        self.sink.copy_model_file(self.target, file, from).await
    }
}
