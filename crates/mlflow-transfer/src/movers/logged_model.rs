//! The logged-model mover: one MLflow 3 logged model from a source to a sink, the way a run
//! moves. Its copy is found again by its source id (complete: skipped; created but never
//! finalized: its files written again and finalized), its files move with the same per-file
//! retries and size checks as a run's, and the sink marks it complete last.
//!
//! At a server a logged model lives in an experiment and is attached to a run: the copy is
//! made in the destination copy of the run the step depends on.

use std::{sync::Arc, time::Instant};

use async_trait::async_trait;

use crate::{
    files::{copy_files, FileOptions, FileSink, FileSource},
    job::{Action, JobContext, LoggedModelOutcome, Outcome},
    model::{ArtifactFile, LoggedModelRecord},
    store::{ByteStream, LoggedModelSink, LoggedModelSource, ObjectLocation, Target},
    Error, Result,
};

/// One logged model to move.
pub struct LoggedModelMove {
    pub model_id: String,
    pub source: Arc<dyn LoggedModelSource>,
    pub sink: Arc<dyn LoggedModelSink>,
    /// The source server, recorded on the copy.
    pub source_tracking_uri: Option<String>,
}

impl LoggedModelMove {
    /// Moves the model. The run it belongs with is the run step it depends on, if any.
    pub async fn execute(&self, deps: &[Outcome], ctx: &JobContext) -> Outcome {
        let started = Instant::now();
        let mut outcome = LoggedModelOutcome {
            source_model_id: self.model_id.clone(),
            destination: None,
            action: Action::Failed,
            error: None,
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

    async fn transfer(&self, deps: &[Outcome], ctx: &JobContext, outcome: &mut LoggedModelOutcome) -> Result<()> {
        let dst_run = match deps.iter().find_map(|d| if let Outcome::Run(r) = d { Some(r) } else { None }) {
            None => None,
            Some(r) if r.action == Action::Failed => {
                return Err(Error::Unsupported(format!("its run {} was not copied", r.source_run_id)))
            }
            Some(r) => r.destination.clone(),
        };
        let model = self.source.read_logged_model(&self.model_id).await?;
        let target =
            self.sink.begin_logged_model(&model, dst_run.as_deref(), self.source_tracking_uri.as_deref()).await?;
        outcome.destination = Some(target.id().to_string());
        if let Target::Complete(_) = target {
            outcome.action = Action::Skipped;
            return Ok(());
        }
        let files = self.source.list_model_files(&model).await?;
        let opts = FileOptions { transfers: ctx.opts.transfers, retries: ctx.opts.file_retries };
        let from = ModelFiles { source: self.source.as_ref(), model: &model };
        let to = ModelTarget { sink: self.sink.as_ref(), target: &target };
        let entries = copy_files(&from, &to, &files, opts, &ctx.reporter).await?;
        self.sink.finish_logged_model(&target, &model).await?;
        outcome.action = if matches!(target, Target::Resumed(_)) { Action::Resumed } else { Action::Created };
        outcome.artifact_files = entries.len();
        outcome.artifact_bytes = entries.iter().map(|e| e.size).sum();
        Ok(())
    }
}

struct ModelFiles<'a> {
    source: &'a dyn LoggedModelSource,
    model: &'a LoggedModelRecord,
}

#[async_trait]
impl FileSource for ModelFiles<'_> {
    async fn open(&self, file: &ArtifactFile) -> Result<ByteStream> {
        self.source.open_model_file(self.model, file).await
    }

    async fn locate(&self, file: &ArtifactFile) -> Option<ObjectLocation> {
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
