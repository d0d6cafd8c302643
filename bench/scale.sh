#!/usr/bin/env bash
# Scale benchmark ("scale to a million runs"): one experiment of N small runs on a real
# `mlflow server`, exported, imported, copied (dry-run) and verified by our release binary.
#
#   bench/scale.sh                                      # N = 100 and 100000, import up to 10000
#   SCALE_SIZES="100 10000 100000" bench/scale.sh
#   SCALE_IMPORT_MAX=100000 bench/scale.sh              # import + verify at every size
#
# Per size N:
# 1. seeds one experiment `scale` of N runs (2 params, 4 tags, 1 metric point, no artifacts)
#    into a fresh sqlite file before its server starts (bench/seed_scale.py seed: the official
#    store creates the schema, the experiment and run 0; the other runs are SQL rows mirroring
#    run 0's), starts `mlflow server` on it (--serve-artifacts, --workers $SCALE_WORKERS,
#    default 1, job runner off) and reads 3 runs back with the official client
#    (seed_scale.py check);
# 2. starts a second, empty server (the destination);
# 3. times, each under /usr/bin/time -v (wall, CPU, peak RSS of our process):
#      plan.export   export-experiment --dry-run            (planning time = its wall time)
#      plan.copy     copy-experiment --dry-run to the destination
#      export        export-experiment of all N runs into a folder
#      plan.import   import-experiment --dry-run of that folder (reads the folder only)
#    and, when N <= $SCALE_IMPORT_MAX (default 10000; a server takes a few ms per run created):
#      import        import-experiment of that folder into the destination
#      verify        verify source server experiment against the destination's
#      sync.first    sync of the whole source server into the destination (creates N runs)
#      sync.idle     the same sync again, with --delete: nothing to do; the requests it made
#                    are listed under the table (they must not grow with N)
# 4. stops both servers (TERM, then KILL, by their process groups).
# With SCALE_ROUTE=database the same steps read and write the servers' sqlite files directly
# instead of their REST APIs (the source with --tracking-uri/--src-uri sqlite:///…, the
# destination with --dst-backend-store-uri; the servers keep running), copy runs in full after
# the import, and sync (REST only) is left out.
# Every row records the 1-minute load average before and after the step (the machine may be
# shared). Rows go to stdout and to $SCALE_RESULTS (default bench/results/scale-raw.md).
#
# Environment: SCALE_SIZES, SCALE_IMPORT_MAX, SCALE_WORKERS, SCALE_ROUTE (rest or database), SCALE_RESULTS, SCALE_KEEP=1 (keep
# the work directory), SCALE_TOOL (a prebuilt binary; default: cargo build --release into
# $CARGO_TARGET_DIR or target/), BENCH_VENV (default: the repository's .venv if it has
# mlflow 3.17.2, else bench/.venv, created as bench/run.sh does).
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
if [ -z "${BENCH_VENV:-}" ] && [ -x "$repo/.venv/bin/mlflow" ]; then BENCH_VENV="$repo/.venv"; fi
# shellcheck source=bench/common.sh
. "$bench/common.sh"
sizes="${SCALE_SIZES:-100 100000}"
import_max="${SCALE_IMPORT_MAX:-10000}"
workers="${SCALE_WORKERS:-1}"
route="${SCALE_ROUTE:-rest}"
case "$route" in rest | database) ;; *) die "SCALE_ROUTE must be rest or database, not $route" ;; esac
results="${SCALE_RESULTS:-$bench/results/scale-raw.md}"
exp=scale

if [ -x "$venv/bin/mlflow" ] && [ "$("$venv/bin/python" -c 'import mlflow; print(mlflow.__version__)' 2>/dev/null)" = "$mlflow_version" ]; then
    py="$venv/bin/python"
else
    ensure_venv
fi
ensure_time
work="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-scale.XXXXXX")"
if [ -n "${SCALE_TOOL:-}" ]; then
    cp "$SCALE_TOOL" "$work/mlflow-export-import"
else
    log "building our release binary"
    target="${CARGO_TARGET_DIR:-$repo/target}"
    (cd "$repo" && cargo build --quiet --release -p mlflow-export-import) || die "cargo build --release failed"
    cp "$target/release/mlflow-export-import" "$work/mlflow-export-import"
fi
tool="$work/mlflow-export-import"
# Which code the figures are of: HEAD at the start (the binary is snapshotted now), or the
# prebuilt binary given.
tool_desc="commit $(cd "$repo" && git rev-parse --short HEAD)"
[ -z "$(cd "$repo" && git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock)" ] \
    || tool_desc="$tool_desc (+ uncommitted changes in crates/)"
[ -z "${SCALE_TOOL:-}" ] || tool_desc="SCALE_TOOL=$SCALE_TOOL (HEAD at start: $tool_desc)"

pgids=()
cleanup() {
    local rc=$?
    [ "${#pgids[@]}" = 0 ] || stop_groups "${pgids[@]}"
    wait 2>/dev/null || true
    if [ -n "${SCALE_KEEP:-}" ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_url() { # url log: until the URL answers (at most 180 s)
    for _ in $(seq 1 360); do
        "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    tail -n 30 "$2" >&2 || true
    die "server $1 did not answer in 180 s (log above)"
}
start_server() { # dir -> sets $url, $pgid (own process group); the sqlite file may exist already
    local dir="$1" port
    port="$(free_port)"
    mkdir -p "$dir/artifacts"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false PYTHONUNBUFFERED=1 setsid "$venv/bin/mlflow" server \
        --backend-store-uri "sqlite:///$dir/mlflow.db" --serve-artifacts --artifacts-destination "$dir/artifacts" \
        --host 127.0.0.1 --port "$port" --workers "$workers" </dev/null >"$dir/server.log" 2>&1 &
    pgid=$!
    pgids+=("$pgid")
    url="http://127.0.0.1:$port"
    wait_url "$url/health" "$dir/server.log"
}

rows="$work/rows.md"
: >"$rows"
notes="$work/notes.md"
: >"$notes"
load1() { cut -d' ' -f1 /proc/loadavg; }
measure() { # n step cmd... : one table row; a failing step is recorded (exit code), not fatal
    local n="$1" step="$2"; shift 2
    local tag="$n.$step" rc=0 t0 t1 l0 l1
    sleep 1
    l0=$(load1)
    log "N=$n $step ..."
    t0=$(date +%s%N)
    "$timebin" -v -o "$work/time.$tag" "$@" >"$work/out.$tag" 2>"$work/err.$tag" || rc=$?
    t1=$(date +%s%N)
    l1=$(load1)
    [ "$rc" = 0 ] || { tail -n 20 "$work/err.$tag" >&2; log "N=$n $step FAILED (exit $rc)"; }
    local wall ucpu scpu rss per_run
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", (b - a) / 1e9}')
    ucpu=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$work/time.$tag")
    scpu=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$work/time.$tag")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time.$tag")
    per_run=$(awk -v a="$t0" -v b="$t1" -v n="$n" 'BEGIN {printf "%.2f", (b - a) / 1e6 / n}')
    local row
    row="| $n | $step | $wall | $per_run | $ucpu + $scpu | $rss | $l0 -> $l1 | $rc |"
    echo "$row" >>"$rows"
    echo "$row" >&2
}

for n in $sizes; do
    dir="$work/n$n"
    mkdir -p "$dir/src" "$dir/dst"
    log "N=$n: seeding"
    s0=$(date +%s)
    "$py" "$bench/seed_scale.py" seed --db "$dir/src/mlflow.db" --experiment "$exp" --runs "$n" \
        >"$dir/seed.json" 2>"$dir/seed.err" || { tail -n 20 "$dir/seed.err" >&2; die "seeding failed"; }
    log "N=$n: seeded in $(( $(date +%s) - s0 )) s: $(cat "$dir/seed.json")"
    start_server "$dir/src"; src="$url"; src_pg="$pgid"
    start_server "$dir/dst"; dst="$url"; dst_pg="$pgid"
    "$py" "$bench/seed_scale.py" check --tracking-uri "$src" --experiment "$exp" --runs "$n" \
        >"$dir/check.json" 2>"$dir/check.err" || { tail -n 20 "$dir/check.err" >&2; die "read-back check failed"; }
    log "N=$n: read back through the server: $(cat "$dir/check.json")"

    if [ "$route" = rest ]; then
        measure "$n" plan.export "$tool" export-experiment --tracking-uri "$src" --experiment "$exp" \
            --output-dir "$dir/export-dry" --dry-run
        measure "$n" plan.copy "$tool" copy-experiment --src-uri "$src" --dst-uri "$dst" --src-experiment "$exp" \
            --dst-experiment-name scale-copy --dry-run
        measure "$n" export "$tool" export-experiment --tracking-uri "$src" --experiment "$exp" \
            --output-dir "$dir/export" --report "$dir/report.export.json"
        measure "$n" plan.import "$tool" import-experiment --tracking-uri "$dst" --input-dir "$dir/export" \
            --experiment-name scale-import --dry-run
        if [ "$n" -le "$import_max" ]; then
            measure "$n" import "$tool" import-experiment --tracking-uri "$dst" --input-dir "$dir/export" \
                --experiment-name scale-import --use-src-user-id true --report "$dir/report.import.json"
            measure "$n" verify "$tool" verify --src-uri "$src" --src-experiment "$exp" --dst-uri "$dst" \
                --dst-experiment scale-import
            measure "$n" sync.first "$tool" sync --src-uri "$src" --dst-uri "$dst" --use-src-user-id true \
                --report "$dir/report.sync.first.json"
            measure "$n" sync.idle "$tool" sync --src-uri "$src" --dst-uri "$dst" --use-src-user-id true --delete \
                --report "$dir/report.sync.idle.json"
            requests=$("$py" -c 'import json,sys; r=json.load(open(sys.argv[1])); s=r["summary"]; print(r["requests"], s["runs_skipped"], s["runs_created"] + s["runs_updated"])' \
                "$dir/report.sync.idle.json")
            echo "- N=$n: the idle sync made ${requests%% *} requests (runs skipped, written: ${requests#* })" >>"$notes"
        fi
    else
        sdb="sqlite:///$dir/src/mlflow.db"; ddb="sqlite:///$dir/dst/mlflow.db"
        sart=(--artifacts-destination "$dir/src/artifacts")
        both=(--src-artifacts-destination "$dir/src/artifacts" --dst-artifacts-destination "$dir/dst/artifacts")
        sink=(--dst-backend-store-uri "$ddb" --dst-artifact-root mlflow-artifacts:/ --dst-artifacts-destination "$dir/dst/artifacts")
        measure "$n" plan.export "$tool" export-experiment --tracking-uri "$sdb" "${sart[@]}" --experiment "$exp" \
            --output-dir "$dir/export-dry" --dry-run
        measure "$n" plan.copy "$tool" copy-experiment --src-uri "$sdb" --src-artifacts-destination "$dir/src/artifacts" \
            --dst-uri "$dst" "${sink[@]}" --src-experiment "$exp" --dst-experiment-name scale-copy --dry-run
        measure "$n" export "$tool" export-experiment --tracking-uri "$sdb" "${sart[@]}" --experiment "$exp" \
            --output-dir "$dir/export" --report "$dir/report.export.json"
        measure "$n" plan.import "$tool" import-experiment --tracking-uri "$dst" "${sink[@]}" --input-dir "$dir/export" \
            --experiment-name scale-import --dry-run
        if [ "$n" -le "$import_max" ]; then
            measure "$n" import "$tool" import-experiment --tracking-uri "$dst" "${sink[@]}" --input-dir "$dir/export" \
                --experiment-name scale-import --use-src-user-id true --report "$dir/report.import.json"
            measure "$n" verify "$tool" verify --src-uri "$sdb" --src-experiment "$exp" --dst-uri "$ddb" \
                --dst-experiment scale-import "${both[@]}"
            measure "$n" copy "$tool" copy-experiment --src-uri "$sdb" --src-artifacts-destination "$dir/src/artifacts" \
                --dst-uri "$dst" "${sink[@]}" --src-experiment "$exp" --dst-experiment-name scale-copy \
                --use-src-user-id true --report "$dir/report.copy.json"
            measure "$n" copy.again "$tool" copy-experiment --src-uri "$sdb" --src-artifacts-destination "$dir/src/artifacts" \
                --dst-uri "$dst" "${sink[@]}" --src-experiment "$exp" --dst-experiment-name scale-copy \
                --use-src-user-id true --report "$dir/report.copy.again.json"
            measure "$n" verify.copy "$tool" verify --src-uri "$sdb" --src-experiment "$exp" --dst-uri "$ddb" \
                --dst-experiment scale-copy "${both[@]}"
        fi
    fi
    stop_groups "$src_pg" "$dst_pg"
    pgids=()
    [ -n "${SCALE_KEEP:-}" ] || rm -rf "$dir"
done

mkdir -p "$(dirname "$results")"
{
    echo "# bench/scale.sh $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "binary: $tool_desc, route: $route, MLflow $mlflow_version, --workers $workers, $(nproc) cores, sizes: $sizes, import/verify up to N=$import_max"
    echo
    echo "| runs | step | wall s | ms per run | CPU user + sys s | peak RSS MiB | load avg (1 min) | exit |"
    echo "|---|---|---|---|---|---|---|---|"
    cat "$rows"
    echo
    cat "$notes"
} >"$results"
cat "$results"
