# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034 # $repo, $venv come from the caller; $work, $url, $src, $dst and $py are for it
# Shell shared by scripts/demo.sh and scripts/dist.sh (sourced, not run): loopback MLflow
# tracking servers from the repo's venv, a run logged with the official client, and a copied run
# checked against its source, read back with the official client.
#
# The caller sets $repo (the repository) and $venv (the repo's venv, printed by
# scripts/setup-venv.sh). Sourcing makes $work, a temporary directory, and an EXIT trap that
# stops the servers and removes $work.

py="$venv/bin/python"
server_pids=()
work="$(mktemp -d)"
trap 'servers_stop; rm -rf "$work"' EXIT

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME: sets $url. sqlite backend store and artifact proxy under $work/NAME; each
# server runs in its own process group (setsid), so servers_stop ends it with its workers.
start_server() {
    local name="$1" port
    port="$(free_port)"
    mkdir -p "$work/$name"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$venv/bin/mlflow" server \
        --backend-store-uri "sqlite:///$work/$name/mlflow.db" --serve-artifacts \
        --artifacts-destination "$work/$name/artifacts" --host 127.0.0.1 --port "$port" --workers 1 \
        </dev/null >"$work/$name/server.log" 2>&1 &
    server_pids+=($!)
    url="http://127.0.0.1:$port"
}

wait_healthy() { # URL
    for _ in $(seq 1 120); do
        "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    echo "server $1 did not start" >&2
    exit 1
}

# start_two_servers: a source and a destination server, both answering; sets $src and $dst.
start_two_servers() {
    echo "== starting two MLflow servers"
    start_server source
    src="$url"
    start_server destination
    dst="$url"
    wait_healthy "$src"
    wait_healthy "$dst"
}

servers_stop() {
    local pid
    for pid in "${server_pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}

# seed_run URL EXPERIMENT: logs a run with the official client (params, metric history, a
# dataset input, artifacts incl. a logged pyfunc model) and prints its id.
seed_run() {
    "$py" "$repo/scripts/seed.py" --tracking-uri "$1" --scenario rich --experiment "$2" 2>/dev/null \
        | "$py" -c 'import json,sys; print(json.load(sys.stdin)["run_ids"][0])'
}

# check_copied_run SRC_URL RUN_ID DST_URL DST_EXPERIMENT: the one run in DST_EXPERIMENT equals the
# source run as the official client reads them: run name, status, times, user, params, tags (but
# the tool's own mlflow_export_import.* lineage tags), full metric histories, dataset inputs and
# artifact files (path, size, sha256). Prints a one-line summary; exits non-zero on a difference.
check_copied_run() {
    local src="$1" run_id="$2" dst="$3" exp="$4" dst_run
    dst_run="$("$py" "$repo/scripts/list_runs.py" --tracking-uri "$dst" --experiment "$exp" \
        | "$py" -c 'import json,sys; r=json.load(sys.stdin); assert len(r)==1, r; print(r[0]["run_id"])')"
    "$py" "$repo/scripts/dump_run.py" --tracking-uri "$src" --run-id "$run_id" >"$work/check-src.json"
    "$py" "$repo/scripts/dump_run.py" --tracking-uri "$dst" --run-id "$dst_run" >"$work/check-dst.json"
    "$py" - "$work/check-src.json" "$work/check-dst.json" "$exp" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
own = lambda tags: {k: v for k, v in tags.items() if not k.startswith("mlflow_export_import.")}
diffs = [f"info.{k}" for k in ("run_name", "status", "start_time", "end_time", "user_id", "lifecycle_stage")
         if a["info"].get(k) != b["info"].get(k)]
diffs += [k for k in ("params", "metrics", "dataset_inputs", "artifacts") if a[k] != b[k]]
if own(a["tags"]) != own(b["tags"]):
    diffs.append("tags")
points = sum(len(v) for v in b["metrics"].values())
if diffs or not (b["params"] and points and b["artifacts"]):
    sys.exit(f"{sys.argv[3]}: copied run differs from its source in {diffs or 'nothing, but it is empty'}")
print(f"{sys.argv[3]}: copied run equals its source ({len(b['params'])} params, {len(own(b['tags']))} tags, "
      f"{points} metric points, {len(b['artifacts'])} artifact files)")
PY
}
