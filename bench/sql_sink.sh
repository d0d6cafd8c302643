#!/usr/bin/env bash
# The database sink against the REST path (issue 15): one exported experiment of
# $RUNS runs x $METRICS metrics x $STEPS steps (default 200 x 50 x 20: 200,000 points), imported
# twice into the same PostgreSQL-backed one-worker MLflow server: through its REST API, then
# with --dst-backend-store-uri. Prints wall time and the CPU seconds of our process, the MLflow
# server and PostgreSQL for each, then verifies each import against the source.
#
#   MLFLOW_EIM_VENV=/path/to/venv TOOL=target/release/mlflow-export-import bench/sql_sink.sh
#
# Needs PostgreSQL binaries (/usr/lib/postgresql/*/bin) and, as root, the postgres user.
set -euo pipefail
RUNS=${RUNS:-200} METRICS=${METRICS:-50} STEPS=${STEPS:-20}
venv=${MLFLOW_EIM_VENV:?set MLFLOW_EIM_VENV to a venv with mlflow 3.17.2 and psycopg2}
tool=$(realpath "${TOOL:?set TOOL to the release binary}")
repo=$(cd "$(dirname "$0")/.." && pwd)
py="$venv/bin/python"
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-sql-sink.XXXXXX")
chmod 755 "$work"
as_pg=()
if [ "$(id -u)" = 0 ]; then as_pg=(runuser -u postgres --); mkdir "$work/pg"; chown postgres: "$work/pg"; else mkdir "$work/pg"; fi
pgids=()
cleanup() { for g in "${pgids[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done; }
trap cleanup EXIT
port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu() { # pgid -> CPU seconds of the process group so far
    local t=0
    for p in $(pgrep -g "$1"); do
        t=$(awk -v t="$t" '{print t + ($14 + $15 + $16 + $17) / 100}' "/proc/$p/stat" 2>/dev/null || echo "$t")
    done
    echo "$t"
}

(cd "$work/pg" && ${as_pg[@]+"${as_pg[@]}"} "$pg_bin/initdb" -D "$work/pg/data" -U postgres -A trust -E UTF8 --locale=C >/dev/null)
pg_port=$(port)
setsid ${as_pg[@]+"${as_pg[@]}"} "$pg_bin/postgres" -D "$work/pg/data" -p "$pg_port" -c listen_addresses=127.0.0.1 \
    -c unix_socket_directories="$work/pg" </dev/null >"$work/postgres.log" 2>&1 &
pgids+=($!); pg_pgid=$!
until "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres; do sleep 0.5; done
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres mlflow
db="postgresql://postgres@127.0.0.1:$pg_port/mlflow"

serve() { # backend artifacts-dir port -> starts a one-worker server in its own group
    setsid "$venv/bin/mlflow" server --backend-store-uri "$1" --serve-artifacts --artifacts-destination "$2" \
        --host 127.0.0.1 --port "$3" --workers 1 </dev/null >"$work/server-$3.log" 2>&1 &
    pgids+=($!); last_pgid=$!
    until curl -sf "http://127.0.0.1:$3/health" >/dev/null; do sleep 0.5; done
}
src_port=$(port); dst_port=$(port)
mkdir -p "$work/src-art" "$work/dst-art"
export MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false
serve "sqlite:///$work/src.db" "$work/src-art" "$src_port"
serve "postgresql+psycopg2://postgres@127.0.0.1:$pg_port/mlflow" "$work/dst-art" "$dst_port"; dst_pgid=$last_pgid
src="http://127.0.0.1:$src_port"; dst="http://127.0.0.1:$dst_port"

"$py" "$repo/bench/seed_medium.py" --tracking-uri "$src" --experiment bench --runs "$RUNS" --params 10 \
    --metrics "$METRICS" --steps "$STEPS" --artifacts 1 >/dev/null
"$tool" -q export-experiment --tracking-uri "$src" --experiment bench --output-dir "$work/export" >/dev/null

measure() { # label, import args...
    local label=$1; shift
    local s0 p0 t0 t1
    s0=$(cpu "$dst_pgid"); p0=$(cpu "$pg_pgid"); t0=$(date +%s.%N)
    /usr/bin/time -f "%U %S" -o "$work/own" "$tool" -q import-experiment --tracking-uri "$dst" --input-dir "$work/export" "$@"
    t1=$(date +%s.%N)
    awk -v l="$label" -v w="$(echo "$t1 - $t0" | bc)" -v s="$(echo "$(cpu "$dst_pgid") - $s0" | bc)" \
        -v p="$(echo "$(cpu "$pg_pgid") - $p0" | bc)" '{printf "| %s | %.1f | %.2f | %.1f | %.1f |\n", l, w, $1 + $2, s, p}' "$work/own"
}
echo "| import ($RUNS runs x $METRICS metrics x $STEPS steps) | wall s | our CPU s | server CPU s | PostgreSQL CPU s |"
echo "|---|---|---|---|---|"
measure "REST (server's log-batch)" --experiment-name rest --use-src-user-id
measure "--dst-backend-store-uri" --experiment-name direct --use-src-user-id --dst-backend-store-uri "$db" \
    --dst-artifact-root mlflow-artifacts:/ --dst-artifacts-destination "$work/dst-art"
for to in rest direct; do
    "$tool" verify --src-uri "$src" --src-experiment bench --dst-uri "$dst" --dst-experiment "$to" --checksums \
        >"$work/verify-$to.txt" 2>&1 || { head -n 20 "$work/verify-$to.txt" >&2; exit 1; }
done
echo "verify source vs each import: 0 differences"
