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
#        scripts/mlruns-fixture.sh --database [VERSION...]   (default: 2.22.5; the venv must exist)
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

# A database store as a server of that version writes it (`--backend-store-uri sqlite:///…`,
# artifacts proxied to `--artifacts-destination`: the usual production shape), into
# crates/mlflow-transfer/tests/fixtures/sqlite/<version>/ as `mlflow.db` and `artifacts/`.
database_for() {
    local version=$1 venv work dest port pid
    venv=$WORK/venv-$version
    work=$WORK/db-$version
    # MLflow 2.x's database code needs SQLAlchemy 2.0 (2.1 removed a pool class it imports).
    "$venv/bin/pip" install -q --only-binary=:all: "sqlalchemy==2.0.44"
    rm -rf "$work"
    mkdir -p "$work/artifacts"
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$work/mlflow.db" --serve-artifacts \
        --artifacts-destination "$work/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
        >"$work/server.log" 2>&1 &
    pid=$!
    for _ in $(seq 60); do
        curl -sf "http://127.0.0.1:$port/health" >/dev/null && break
        sleep 1
    done
    "$venv/bin/python" "$ROOT/scripts/mlruns_fixture_seed.py" --tracking-uri "http://127.0.0.1:$port" \
        --out "$work/expected.json" || { kill "$pid"; tail -n 20 "$work/server.log" >&2; return 1; }
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    dest=$ROOT/crates/mlflow-transfer/tests/fixtures/sqlite/$version
    rm -rf "$dest"
    mkdir -p "$dest"
    cp -r "$work/mlflow.db" "$work/artifacts" "$work/expected.json" "$dest/"
    rm -rf "$work"
    echo "$version database: $(du -sk "$dest" | cut -f1) KB in $dest"
}

mkdir -p "$WORK"
if [[ ${1:-} == --database ]]; then
    shift
    for v in "${@:-2.22.5}"; do
        database_for "$v"
    done
    exit 0
fi
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(2.22.5 3.12.0)
for v in "${versions[@]}"; do
    store_for "$v"
done
