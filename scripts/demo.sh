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
cargo build --quiet --release -p mlflow-export-import
tool="${CARGO_TARGET_DIR:-$repo/target}/release/mlflow-export-import"

# shellcheck source=SCRIPTDIR/lib/servers.sh
source "$repo/scripts/lib/servers.sh"

start_two_servers
echo "source:      $src"
echo "destination: $dst"

echo "== logging a run with the official mlflow client (incl. a logged model)"
run_id="$(seed_run "$src" demo-source)"
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
