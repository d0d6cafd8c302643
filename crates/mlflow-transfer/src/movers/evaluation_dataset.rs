//! The evaluation-dataset mover: one GenAI evaluation dataset, its tags, experiment links and
//! every record, from a source to a sink. Records move a page at a time (the next page is read
//! while the last is written), so memory holds two pages whatever the dataset's size. Its copy is found
//! again by its source id: complete, it is skipped without reading a record; interrupted, the
//! records are sent again (the destination dedupes them on their inputs) and it is completed.

use std::{sync::Arc, time::Instant};

use crate::{
    job::{Action, Deps, EvaluationDatasetOutcome, JobContext, Outcome},
    store::datasets::{DatasetTarget, EvaluationDatasetSink, EvaluationDatasetSource},
    Result,
};

/// One dataset to move.
pub struct EvaluationDatasetMove {
    pub dataset_id: String,
    /// The copy's name; the source's when `None`.
    pub dst_name: Option<String>,
    /// Replace a dataset of the same name that is not our complete copy.
    pub delete_first: bool,
    pub source: Arc<dyn EvaluationDatasetSource>,
    pub sink: Arc<dyn EvaluationDatasetSink>,
}

impl EvaluationDatasetMove {
    pub async fn execute(&self, _deps: &Deps, _ctx: &JobContext) -> Outcome {
        let started = Instant::now();
        let mut outcome = EvaluationDatasetOutcome {
            source_dataset_id: self.dataset_id.clone(),
            name: None,
            destination: None,
            action: Action::Failed,
            error: None,
            records: 0,
            attempts: 1,
            retryable: false,
        };
        if let Err(e) = self.transfer(&mut outcome).await {
            outcome.action = Action::Failed;
            outcome.error = Some(e.to_string());
            outcome.retryable = e.is_transient();
        }
        tracing::debug!(dataset = %self.dataset_id, action = ?outcome.action, elapsed = ?started.elapsed(), "evaluation dataset");
        Outcome::EvaluationDataset(outcome)
    }

    async fn transfer(&self, outcome: &mut EvaluationDatasetOutcome) -> Result<()> {
        let dataset = self.source.read_dataset(&self.dataset_id).await?;
        let dst_name = self.dst_name.clone().unwrap_or_else(|| dataset.name.clone());
        outcome.name = Some(dataset.name.clone());
        let (target, mut writer) = match self.sink.begin_dataset(&dataset, &dst_name, self.delete_first).await? {
            DatasetTarget::Complete(id) => {
                outcome.destination = Some(id);
                outcome.action = Action::Skipped;
                return Ok(());
            }
            DatasetTarget::Open { target, writer } => (target, writer),
        };
        outcome.destination = Some(target.id().to_string());
        let mut records = self.source.records(&dataset).await?;
        // The next page is read while the current one is written: two pages in memory at most.
        let mut page = records.next_page().await?;
        while let Some(current) = page {
            outcome.records += current.len();
            let (next, written) = tokio::join!(records.next_page(), writer.write(current));
            written?;
            page = next?;
        }
        writer.finish().await?;
        outcome.action =
            if matches!(target, crate::store::Target::Resumed(_)) { Action::Resumed } else { Action::Created };
        Ok(())
    }
}
