//! A typed async client for the MLflow tracking server's REST API.
//!
//! It knows nothing of exports: it mirrors the API (one module per area in [`api`]), resolves
//! tracking URIs and credentials ([`config`]), retries what is safe to retry, and reports
//! failures as one [`Error`] type whose messages never contain credentials.

pub mod api;
pub mod batch;
mod client;
pub mod config;
mod error;
mod oauth;
mod offset_pages;
mod pace;
mod python_json;
pub mod types;

pub use client::{ByteStream, ClientStats, MlflowClient};
pub use config::{redact, Auth, ClientConfig, RetryPolicy};
pub use error::{Error, Result};
pub use python_json::quote_non_finite;
