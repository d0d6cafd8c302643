//! GenAI evaluation datasets: what a source and a sink of them offer. A dataset's records are
//! never held whole: a source hands them out a page at a time and a sink writes each page as
//! it comes, so a dataset of any size moves in the memory of a few pages.

use async_trait::async_trait;

use crate::{
    model::{DatasetRow, EvaluationDatasetRecord},
    store::Target,
    Result,
};

/// Tag on a copied dataset naming the source dataset id (beside
/// [`crate::identity::SOURCE_TRACKING_URI`] and, written last, [`crate::identity::COMPLETE`]).
pub const SOURCE_DATASET_ID: &str = "mlflow_export_import.source.dataset_id";

/// Something evaluation datasets can be read from.
#[async_trait]
pub trait EvaluationDatasetSource: Send + Sync {
    /// The dataset's description and experiment links.
    async fn read_dataset(&self, dataset_id: &str) -> Result<EvaluationDatasetRecord>;
    /// Its records, a page at a time.
    async fn records(&self, dataset: &EvaluationDatasetRecord) -> Result<Box<dyn RecordReader>>;
}

/// The pages of one dataset's records.
#[async_trait]
pub trait RecordReader: Send {
    /// The next page, `None` after the last.
    async fn next_page(&mut self) -> Result<Option<Vec<DatasetRow>>>;
}

/// What a sink found for a dataset before writing.
pub enum DatasetTarget {
    /// A complete copy exists with this id: nothing to write.
    Complete(String),
    /// A copy was created (or an interrupted one found): write the records into `writer`.
    Open { target: Target, writer: Box<dyn RecordWriter> },
}

/// Something evaluation datasets can be written to.
#[async_trait]
pub trait EvaluationDatasetSink: Send + Sync {
    /// Finds the copy of `dataset` (named `dst_name`) or starts one. A dataset of that name
    /// that is no copy made by this tool stands in the way: with `delete_first` it is deleted,
    /// without, the dataset fails. (Copies of other source datasets of the same name do not:
    /// MLflow names need not be unique.)
    async fn begin_dataset(
        &self,
        dataset: &EvaluationDatasetRecord,
        dst_name: &str,
        delete_first: bool,
    ) -> Result<DatasetTarget>;
}

/// Where one dataset's records go.
#[async_trait]
pub trait RecordWriter: Send {
    /// Writes one page of records.
    async fn write(&mut self, records: Vec<DatasetRow>) -> Result<()>;
    /// Marks the copy complete, last.
    async fn finish(self: Box<Self>) -> Result<()>;
}
