//! The on-disk export format shared with the Python mlflow-export-import.
//!
//! Users hold years of exports written by every release of the Python tool, and that tool
//! changed its layout four times without bumping `export_file_version` and never kept a reader
//! for an older layout. So each file here reads *every* historical layout into the engine's
//! model, and writes only the newest one, which the Python importer of today can still read:
//! an export made by this tool stays importable by the Python tool, and our own additions live
//! where that importer never looks.
//!
//! Parsing is done by hand over `serde_json::Value` rather than with derived structs because
//! the layouts disagree on where fields live and what type they have, and because an error must
//! name the field that is wrong: a user with ten thousand run folders needs to know which key
//! of which file to fix.

pub mod evaluation_dataset_json;
pub mod experiment_json;
pub mod index_json;
mod json;
pub mod list_json;
pub mod logged_model_json;
pub mod model_json;
pub mod prompt_json;
pub mod run_json;
pub mod trace_json;

pub use json::{utc_text, ExportSystem, FormatError};
