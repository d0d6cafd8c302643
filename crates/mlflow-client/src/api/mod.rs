//! One module per area of the REST API, each adding methods to [`crate::MlflowClient`].

mod artifacts;
mod experiments;
mod runs;
mod server;

pub use runs::{LogBatch, RunCreate, SearchRuns};
