#!/usr/bin/env bash
# A real export / import / copy end to end, on a fresh machine:
#   1. creates the Python venv with the official MLflow (scripts/setup-venv.sh) and builds the tool,
#   2. starts two MLflow tracking servers on loopback ports (sqlite + artifact proxy, temp dirs),
#   3. logs a run with the official `mlflow` Python client: params, metric history, a dataset
#      input and artifacts including a logged pyfunc model,
#   4. exports it to a zip, imports the zip into the second server, copies it straight from
#      server to server, and runs the copy again to show that nothing is duplicated,
#   5. prints what arrived, read back with the official client, and stops the servers.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export MLFLOW_EIM_VENV="${MLFLOW_EIM_VENV:-$repo/.venv}"
venv="$(scripts/setup-venv.sh)"
py="$venv/bin/python"
cargo build --quiet --release -p mlflow-export-import
tool="$repo/target/release/mlflow-export-import"

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # name -> sets $url; each server runs in its own process group
    local name="$1" port
    port="$(free_port)"
    mkdir -p "$work/$name"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$venv/bin/mlflow" server \
        --backend-store-uri "sqlite:///$work/$name/mlflow.db" --serve-artifacts \
        --artifacts-destination "$work/$name/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
        </dev/null >"$work/$name/server.log" 2>&1 &
    pids+=($!)
    url="http://127.0.0.1:$port"
}

wait_healthy() {
    for _ in $(seq 1 120); do
        "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    echo "server $1 did not start" >&2
    exit 1
}

echo "== starting two MLflow servers"
start_server source
src="$url"
start_server destination
dst="$url"
wait_healthy "$src"
wait_healthy "$dst"
echo "source:      $src"
echo "destination: $dst"

echo "== logging a run with the official mlflow client (incl. a logged model)"
run_id="$("$py" scripts/seed.py --tracking-uri "$src" --scenario rich --experiment demo-source 2>/dev/null \
    | "$py" -c 'import json,sys; print(json.load(sys.stdin)["run_ids"][0])')"
echo "source run: $run_id"

echo "== export-run to a zip"
"$tool" export-run --tracking-uri "$src" --run-id "$run_id" --output "$work/run.zip"
echo "== import-run from the zip"
"$tool" import-run --tracking-uri "$dst" --input "$work/run.zip" --experiment-name demo-imported --use-src-user-id
echo "== copy-run, server to server"
"$tool" copy-run --src-uri "$src" --dst-uri "$dst" --run-id "$run_id" --experiment-name demo-copied --use-src-user-id
echo "== copy-run again: the complete copy is found and skipped"
"$tool" copy-run --src-uri "$src" --dst-uri "$dst" --run-id "$run_id" --experiment-name demo-copied --use-src-user-id

echo "== what the destination holds, read back with the official client"
for exp in demo-imported demo-copied; do
    "$py" scripts/list_runs.py --tracking-uri "$dst" --experiment "$exp" | "$py" -c '
import json, sys
runs = json.load(sys.stdin)
print(sys.argv[1] + ": " + str(len(runs)) + " run(s)")
for r in runs:
    t = r["tags"]
    print("  %s status=%s from source run %s complete=%s" % (
        r["run_id"], r["status"], t.get("mlflow_export_import.source.run_id"), t.get("mlflow_export_import.complete")))' "$exp"
done
dst_run="$("$py" scripts/list_runs.py --tracking-uri "$dst" --experiment demo-copied | "$py" -c 'import json,sys; print(json.load(sys.stdin)[0]["run_id"])')"
"$py" scripts/dump_run.py --tracking-uri "$src" --run-id "$run_id" >"$work/src.json"
"$py" scripts/dump_run.py --tracking-uri "$dst" --run-id "$dst_run" >"$work/dst.json"
"$py" - "$work/src.json" "$work/dst.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
points = lambda d: sum(len(v) for v in d["metrics"].values())
print(f"copied run: {len(b['params'])} params, {points(b)} metric points, {len(b['artifacts'])} artifact files "
      f"({sum(f['size'] for f in b['artifacts'])} bytes), {len(b['dataset_inputs'])} dataset input(s)")
same = lambda k: a[k] == b[k]
print("identical to the source:",
      {k: same(k) for k in ("params", "metrics", "dataset_inputs", "artifacts")},
      "start/end time:", (a["info"]["start_time"], a["info"]["end_time"]) == (b["info"]["start_time"], b["info"]["end_time"]))
print("model files:", [f["path"] for f in b["artifacts"] if f["path"].startswith("model/")])
PY
