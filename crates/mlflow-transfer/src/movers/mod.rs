//! One mover per entity kind, all siblings: each knows how to read its kind from a source,
//! find an earlier copy by its source identity, write it to a sink, and what a failed
//! dependency means for it. None imports another; they share only [`crate::job`] and the
//! stores. A new kind (trace, prompt, evaluation dataset) is one more file here, one more
//! [`crate::plan::Move`] variant, and the planner's steps for it.

pub mod evaluation_dataset;
pub mod experiment;
pub mod index;
pub mod logged_model;
pub mod model_version;
pub mod prompt;
pub mod registered_model;
pub mod run;
pub mod scorer;
pub mod trace;
pub mod webhook;
