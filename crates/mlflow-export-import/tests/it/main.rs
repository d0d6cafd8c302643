//! Integration tests: the real binary against real `mlflow server` processes.
//!
//! Servers are started once per test binary (see `test_support::MlflowServer::shared`); tests
//! isolate themselves with unique experiment names. What a destination holds is read back
//! with the official Python client (`scripts/dump_run.py`, `scripts/list_runs.py`), so a bug in
//! our own client cannot hide a bug in what we wrote.

mod aliases;
mod all;
mod auth;
mod backends;
mod cli;
mod database_sink;
mod database_source;
mod databricks;
mod deployments;
mod dry_run;
mod evaluation_datasets;
mod experiments;
mod faults;
mod histories;
mod logged_model_resume;
mod logged_models;
mod mlruns_source;
mod model_versions;
mod models;
mod output;
mod prompts;
mod python_corpus;
mod run_errors;
mod run_fixtures;
mod run_roundtrip;
mod scorers;
mod shard;
mod sync;
mod tls;
mod traces;
mod workspaces;
