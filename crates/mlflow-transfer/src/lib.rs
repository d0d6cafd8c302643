//! The transfer engine: moves MLflow entities from a source to a sink.
//!
//! A tracking server, an export directory and a zip file are each a source and a sink, so
//! export (server → directory), import (directory → server) and copy (server → server) are the
//! same operation, written once. This crate never prints; progress goes through [`Reporter`].

mod error;
pub mod experiments;
pub mod format;
pub mod identity;
pub mod job;
pub mod logged_models;
pub mod model;
pub mod models;
pub mod paths;
pub mod report;
pub mod reporter;
pub mod select;
pub mod store;
pub mod transfer;
pub mod verify;

pub use error::{Error, Result};
pub use reporter::{Reporter, Silent};
