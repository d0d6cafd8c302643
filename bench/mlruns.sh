#!/usr/bin/env bash
# Issue 15's `mlruns` case: an experiment in a file store (written by MLflow 3.12.0, the last
# release that writes them) moved into a 3.17.2 server (sqlite, --serve-artifacts, 1 worker),
# three ways, timed one after the other under /usr/bin/time -v:
#   1. ours: copy-experiment --src-uri <mlruns folder> into the server through its REST API;
#   2. ours: the same straight into the server's database (--dst-backend-store-uri);
#   3. what MLflow offers: `mlflow migrate-filestore` into a SQLite file (all or nothing, no
#      artifacts), a server on that file, then the Python tool's export-experiment and
#      import-experiment into the destination server (its artifacts are copied along the way).
# Each destination is counted with the official client (runs, and every metric point and file
# of 3 runs). Writes bench/results/mlruns.md ($BENCH_RESULTS).
#
#   bench/mlruns.sh                # 100 runs x (10 params, 10 metrics x 100 steps, 3 files)
#   BENCH_RUNS=20 bench/mlruns.sh
#
# Environment: BENCH_RUNS, BENCH_VENV (the bench venv of bench/common.sh), BENCH_MLRUNS_VENV
# (a venv with mlflow 3.12.0; made on first use), BENCH_RESULTS, BENCH_KEEP=1.
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
# shellcheck source=bench/common.sh
. "$bench/common.sh"

ensure_venv
ensure_time
runs="${BENCH_RUNS:-100}"
old_venv="${BENCH_MLRUNS_VENV:-$bench/.venv-mlflow-3.12}"
if ! "$old_venv/bin/python" -c 'import mlflow; assert mlflow.__version__ == "3.12.0"' 2>/dev/null; then
    log "installing mlflow 3.12.0 into $old_venv (writes file stores)"
    python3 -m venv "$old_venv"
    "$old_venv/bin/pip" install -q --disable-pip-version-check "mlflow==3.12.0" || die "pip install mlflow 3.12.0 failed"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-mlruns.XXXXXX")"
pgids=()
cleanup() {
    local rc=$?
    [ "${#pgids[@]}" = 0 ] || stop_groups "${pgids[@]}"
    wait 2>/dev/null || true
    if [ -n "${BENCH_KEEP:-}" ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
build_tool "$work"

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
server() { # name db-file -> sets $url; a 3.17.2 server on that sqlite file, in its own process group
    local port
    port="$(free_port)"
    mkdir -p "$work/$1"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$venv/bin/mlflow" server --backend-store-uri "sqlite:///$2" \
        --serve-artifacts --artifacts-destination "$work/$1/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
        </dev/null >"$work/$1/server.log" 2>&1 &
    pgids+=("$!")
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 240); do
        "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$url/health" 2>/dev/null && return 0
        sleep 0.5
    done
    tail -n 20 "$work/$1/server.log" >&2
    die "server $1 did not start"
}
rows="$work/rows.tsv"
: >"$rows"
measure() { # label cmd... : wall, CPU and peak RSS of the command
    local label="$1"; shift
    log "$label ..."
    local t0 t1
    t0=$(date +%s%N)
    "$timebin" -v -o "$work/time.txt" "$@" >"$work/out.txt" 2>"$work/err.txt" || { tail -n 20 "$work/err.txt" >&2; die "$label failed"; }
    t1=$(date +%s%N)
    printf '%s\t%s\t%s\t%s\n' "$label" "$(( (t1 - t0) / 1000000 ))" \
        "$(awk -F': ' '/User time|System time/ {s += $2} END {print s}' "$work/time.txt")" \
        "$(awk -F': ' '/Maximum resident/ {print int($2 / 1024)}' "$work/time.txt")" >>"$rows"
}

# The file store, written by MLflow 3.12.0's own client (file:// tracking URI).
store="$work/mlruns"
log "seeding $runs runs into $store with mlflow 3.12.0"
(cd "$work" && "$old_venv/bin/python" "$bench/seed_medium.py" --tracking-uri "file://$store" --experiment bench-mlruns \
    --runs "$runs" >"$work/seed.json" 2>"$work/seed.err") || { tail -n 20 "$work/seed.err" >&2; die "seeding failed"; }
server destination "$work/destination.db"
dst="$url"
loadavg_before="$(cut -d' ' -f1-3 /proc/loadavg)"

measure "ours: copy-experiment from the folder, through the server's REST API" \
    "$tool" -q copy-experiment --src-uri "$store" --dst-uri "$dst" --src-experiment bench-mlruns \
    --dst-experiment-name ours-rest --use-src-user-id true
measure "ours: copy-experiment from the folder into the server's database" \
    "$tool" -q copy-experiment --src-uri "$store" --dst-uri "$dst" --src-experiment bench-mlruns \
    --dst-experiment-name ours-db --use-src-user-id true --dst-backend-store-uri "sqlite:///$work/destination.db" \
    --dst-artifact-root mlflow-artifacts:/ --dst-artifacts-destination "$work/destination/artifacts"
t0=$(date +%s)
measure "MLflow: migrate-filestore into a SQLite file" \
    "$venv/bin/mlflow" migrate-filestore --source "$work" --target "sqlite:///$work/migrated.db" --no-progress
# The migration copies no artifacts: the server on its file reads them where the store keeps them.
server migrated "$work/migrated.db"
migrated="$url"
measure "Python tool: export-experiment from a server on the migrated file" \
    env MLFLOW_TRACKING_URI="$migrated" "$venv/bin/export-experiment" --experiment bench-mlruns --output-dir "$work/export-py"
measure "Python tool: import-experiment into the destination" \
    env MLFLOW_TRACKING_URI="$dst" "$venv/bin/import-experiment" --experiment-name python --input-dir "$work/export-py" \
    --use-src-user-id True
loadavg_after="$(cut -d' ' -f1-3 /proc/loadavg)"

"$py" - "$dst" >"$work/arrived.json" <<'PY'
import json, sys
from mlflow.tracking import MlflowClient
c = MlflowClient(tracking_uri=sys.argv[1])
out = {}
for name in ("ours-rest", "ours-db", "python"):
    e = c.get_experiment_by_name(name)
    runs = c.search_runs([e.experiment_id], max_results=1000) if e else []
    points = sum(len(c.get_metric_history(r.info.run_id, k)) for r in runs[:3] for k in r.data.metrics)
    files = sum(1 for r in runs[:3] for f in c.list_artifacts(r.info.run_id) if not f.is_dir)
    out[name] = {"runs": len(runs), "points_3_runs": points, "top_level_files_3_runs": files}
print(json.dumps(out))
PY
results="${BENCH_RESULTS:-$bench/results/mlruns.md}"
{
    echo "# An mlruns folder into a server: ours vs migrate-filestore + the Python tool (issue 15)"
    echo
    echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load average $loadavg_before -> $loadavg_after"
    echo "- Store: $runs runs x (10 params, 10 metrics x 100 steps, 3 small files) written by MLflow 3.12.0 (\`bench/seed_medium.py\`, file:// URI)"
    echo "- Destination: MLflow $mlflow_version server, sqlite, \`--serve-artifacts\`, 1 worker; ours at commit $(cd "$repo" && git rev-parse --short HEAD); Python tool $pytool_version"
    echo
    echo "| step | wall s | CPU s | peak RSS MiB |"
    echo "|---|---:|---:|---:|"
    awk -F'\t' '{printf "| %s | %.1f | %.1f | %s |\n", $1, $2 / 1000, $3, $4}' "$rows"
    awk -F'\t' 'NR >= 3 {s += $2} END {printf "| MLflow + Python tool, in all | %.1f | | |\n", s / 1000}' "$rows"
    echo
    echo "What arrived (official client): \`$(cat "$work/arrived.json")\`"
} >"$results"
cat "$results"
