#!/usr/bin/env bash
# Regenerates the corpus of real exports written by old releases of the Python
# mlflow-export-import, under crates/mlflow-transfer/tests/fixtures/python/<version>/.
#
# For each era it makes a venv with that release and an MLflow of its day (installed by
# package name from the configured index), starts that MLflow's server (sqlite, local artifact
# root, a free port), logs known content with that era's client (scripts/python_corpus_seed.py,
# which also writes expected.json) and runs the release's own console scripts:
#   run/ experiment/ experiments/ model/ models/ all/
# with --export-source-tags on where the release has it (1.0.x, 1.1.x; 1.2.0 dropped it).
#
# The corpus is a committed fixture: CI does not run this (it needs old packages). Venvs are
# kept in $CORPUS_WORK (default /tmp/python-corpus) so a second run does not reinstall.
#
# Usage: scripts/python-corpus.sh [VERSION...]   (default: every era)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/crates/mlflow-transfer/tests/fixtures/python
WORK=${CORPUS_WORK:-/tmp/python-corpus}

# Pins that let MLflow 1.30-2.1 install from wheels on CPython 3.11.
PINS=('numpy<1.27' 'pandas<2' 'sqlalchemy<2' 'protobuf<4' 'flask<2.3' 'werkzeug<2.3' 'pyarrow<11' 'setuptools<70')

mlflow_for() {
    case $1 in
        1.0.9) echo 1.30.1 ;;
        1.1.2) echo 2.0.1 ;;
        1.2.0) echo 2.1.1 ;;
        *) echo "unknown era $1" >&2; return 1 ;;
    esac
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

SERVER_PID=
stop_server() {
    if [[ -n $SERVER_PID ]]; then
        kill -- "-$SERVER_PID" 2>/dev/null || kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

era() {
    local version=$1 mlflow_version venv server port uri dest ids parent
    mlflow_version=$(mlflow_for "$version")
    venv=$WORK/venv-$version
    if [[ ! -x $venv/bin/export-run ]]; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q --only-binary=:all: "mlflow==$mlflow_version" \
            "mlflow-export-import==$version" "${PINS[@]}"
    fi

    server=$WORK/server-$version
    rm -rf "$server"
    mkdir -p "$server/artifacts"
    port=$(free_port)
    uri=http://127.0.0.1:$port
    # The server execs gunicorn by name, so the venv's bin goes first on PATH.
    PATH=$venv/bin:$PATH setsid "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$server/mlflow.db" \
        --default-artifact-root "$server/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
        >"$server/log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 120); do
        curl -sf "$uri/health" >/dev/null && break
        sleep 0.5
    done
    curl -sf "$uri/health" >/dev/null || { tail -n 30 "$server/log"; return 1; }

    dest=$OUT/$version
    rm -rf "$dest"
    mkdir -p "$dest"
    export MLFLOW_TRACKING_URI=$uri
    local prefix=corpus-$version
    ids=$("$venv/bin/python" "$ROOT/scripts/python_corpus_seed.py" --tracking-uri "$uri" --prefix "$prefix" \
        --out "$dest/expected.json")
    parent=$(python3 -c 'import json, sys; print(json.loads(sys.argv[1])["runs"]["parent"])' "$ids")

    local source_tags=()
    if "$venv/bin/export-run" --help | grep -q -- --export-source-tags; then
        source_tags=(--export-source-tags true)
    fi
    (
        cd "$server"
        "$venv/bin/export-run" --run-id "$parent" --output-dir "$dest/run" "${source_tags[@]}"
        "$venv/bin/export-experiment" --experiment "$prefix-a" --output-dir "$dest/experiment" "${source_tags[@]}"
        "$venv/bin/export-experiments" --experiments "$prefix-a,$prefix-b" --output-dir "$dest/experiments" \
            "${source_tags[@]}"
        "$venv/bin/export-model" --model "$prefix-model" --output-dir "$dest/model" "${source_tags[@]}"
        "$venv/bin/export-models" --models "$prefix-model" --output-dir "$dest/models" "${source_tags[@]}"
        "$venv/bin/export-all" --output-dir "$dest/all" "${source_tags[@]}"
    ) >"$server/export.log" 2>&1 || { tail -n 40 "$server/export.log"; return 1; }
    unset MLFLOW_TRACKING_URI
    stop_server
    echo "$version: mlflow $mlflow_version, $(du -sk "$dest" | cut -f1) KB in $dest"
}

mkdir -p "$WORK"
versions=("$@")
[[ ${#versions[@]} -gt 0 ]] || versions=(1.0.9 1.1.2 1.2.0)
for v in "${versions[@]}"; do
    era "$v"
done
