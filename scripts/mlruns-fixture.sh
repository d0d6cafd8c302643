#!/usr/bin/env bash
# Regenerates the `mlruns` file stores that the mlruns reader's tests read, under
# crates/mlflow-transfer/tests/fixtures/mlruns/<mlflow version>/, each with the `expected.json`
# the official client read back from it.
#
# For each MLflow version it makes a venv (installed by package name from the configured
# index), writes a small known store with that version's own client
# (scripts/mlruns_fixture_seed.py) and copies it into the fixtures. Versions: 2.22 (the last
# 2.x) and 3.12 (the last 3.x that still writes file stores: 3.13 raises unless
# MLFLOW_ALLOW_FILE_STORE is set).
#
# The store is written under $FIXTURE_WORK and removed once copied, so the absolute artifact
# paths recorded inside the fixture name a folder that no longer exists: the case of a store
# rsync'd from another machine, which the reader's fallback handles.
#
# The fixtures are committed: CI does not run this (it needs old packages). Venvs are kept in
# $FIXTURE_WORK (default /tmp/mlruns-fixture) so a second run does not reinstall.
#
# Usage: scripts/mlruns-fixture.sh [VERSION...]   (default: 2.22.5 3.12.0)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/crates/mlflow-transfer/tests/fixtures/mlruns
WORK=${FIXTURE_WORK:-/tmp/mlruns-fixture}

store_for() {
    local version=$1 venv store dest
    venv=$WORK/venv-$version
    if [[ ! -x $venv/bin/mlflow ]]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --only-binary=:all: "mlflow==$version"
    fi
    store=$WORK/store-$version/mlruns
    rm -rf "$WORK/store-$version"
    mkdir -p "$store"
    "$venv/bin/python" "$ROOT/scripts/mlruns_fixture_seed.py" --store "$store" --out "$WORK/store-$version/expected.json"

    dest=$OUT/$version
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -r "$store" "$dest/mlruns"
    cp "$WORK/store-$version/expected.json" "$dest/expected.json"
    rm -rf "$WORK/store-$version"
    echo "$version: $(du -sk "$dest" | cut -f1) KB in $dest"
}

mkdir -p "$WORK"
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.22.5 3.12.0)
for v in "${versions[@]}"; do
    store_for "$v"
done
