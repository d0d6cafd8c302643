#!/usr/bin/env bash
# Run the whole test suite, including the tests against real MLflow servers.
# Extra arguments are passed to `cargo test` (and then the wheel smoke test is skipped).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export MLFLOW_EIM_VENV="${MLFLOW_EIM_VENV:-$repo/.venv}"
scripts/setup-venv.sh >/dev/null

# Plain `cargo test` (not nextest): the tests of one binary share MLflow servers through statics.
# Three at a time on two cores: the tests wait on MLflow servers and Python read-backs much of
# the time, so a third keeps the cores busy.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-3}"
cargo test --workspace "$@"

# The whole suite (no arguments) also builds the pip wheel from the debug build just made and
# tests it installed in a fresh venv, with no Rust toolchain on PATH (scripts/dist.sh --ci).
if [ $# -eq 0 ]; then
    scripts/dist.sh --ci
fi
