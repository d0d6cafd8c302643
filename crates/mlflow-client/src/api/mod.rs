//! One module per area of the REST API, each adding methods to [`crate::MlflowClient`].

mod artifacts;
mod datasets;
mod experiments;
mod logged_models;
mod registry;
mod runs;
mod server;

pub use datasets::{Dataset, RecordPages};
pub use registry::{can_quote_filter_value, quote_filter_value, ModelVersionCreate};
pub use runs::{LogBatch, RunCreate, SearchRuns, HISTORY_BULK_POINTS, HISTORY_BULK_RUNS};
