//! The transfer engine: moves MLflow entities from a source to a sink.
//!
//! A tracking server, an export directory and a zip file are each a source and a sink, so
//! export (server → directory), import (directory → server) and copy (server → server) are the
//! same operation, written once. A job is planned ([`plan`]: what a command selects becomes
//! steps with dependencies), then executed ([`execute`]: levels, bounded concurrency, retry
//! passes), each step by the mover of its entity kind ([`movers`]) through the stores
//! ([`store`]), the only code that knows a backend. This crate never prints; progress goes
//! through [`Reporter`].

#[cfg(test)]
mod complexity;
mod error;
pub mod execute;
mod files;
pub mod format;
pub mod identity;
pub mod job;
pub mod mlmodel;
pub mod model;
pub mod movers;
pub mod notebook;
pub mod paths;
pub mod plan;
pub mod select;
pub mod store;
#[cfg(test)]
mod testing;
pub mod verify;

pub use error::{Error, Result};
pub use job::{Reporter, Silent};
