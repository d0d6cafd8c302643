#!/usr/bin/env bash
# Benchmark: our `mlflow-export-import` against the Python tool (databricks-mlflow-export-import)
# on the same data, side by side, on two local MLflow tracking servers (issue 6).
#
#   bench/run.sh                                  # medium workload, one-worker servers
#   BENCH_WORKLOAD=big-metrics bench/run.sh
#   BENCH_WORKLOAD=large-artifacts BENCH_WORKERS=4 bench/run.sh
#   BENCH_STORE=pg-s3 BENCH_WORKERS=4 bench/run.sh   # PostgreSQL backends, artifacts in S3 (moto)
#
# Workloads (BENCH_WORKLOAD):
#   medium           100 runs x (10 params, 10 metrics x 100 steps, 3 small artifacts)
#   big-metrics      5 runs x (10 params, 100 metrics x 1,000 steps, 1 small artifact)
#   large-artifacts  2 runs x (10 params, 10 metrics x 100 steps, 1 small artifact, 512 MiB file)
#   models           50 runs as in medium, each backing one of 5 versions of 10 registered models;
#                    export-models / import-models of all models for both tools, and our
#                    copy-model model by model
#
# 1. creates a venv (bench/.venv or $BENCH_VENV) with mlflow[auth]==3.17.2 and
#    databricks-mlflow-export-import==1.2.1, and builds our release binary;
# 2. starts two MLflow servers (--workers $BENCH_WORKERS (default 1), job runner off), each in its
#    own process group, stopped on exit. BENCH_STORE picks the deployment shape:
#      sqlite (default)  sqlite backend, --serve-artifacts (artifacts through the server's proxy)
#      pg-s3             one throwaway PostgreSQL cluster (a database per server) and one moto
#                        server (local S3) with one bucket for both servers:
#                        --no-serve-artifacts --default-artifact-root s3://<bucket>/<server>;
#                        every tool gets the same AWS_* / MLFLOW_S3_ENDPOINT_URL variables;
# 3. seeds the workload into the source server (bench/seed_medium.py);
# 4. waits until no other heavy job runs (pgrep -f ci-clone / "cargo test"; at most
#    $BENCH_WAIT_MAX s, default 1500; BENCH_WAIT_MAX=0 skips the wait), then times
#      export-experiment     Python vs ours
#      import-experiment     Python vs ours (each imports its own export into a fresh experiment)
#      copy                  Python export + import vs our copy-experiment
#    measuring per step: wall time, the tool's CPU and peak RSS (/usr/bin/time -v), the servers'
#    CPU (utime+stime of each server's process group from /proc), and the HTTP requests the tool
#    made (lines added to the servers' uvicorn access logs; with pg-s3 also the CPU of PostgreSQL
#    and moto and the S3 requests in moto's log). A failing step is recorded, not fatal;
# 5. checks what arrived and writes a Markdown table to stdout and
#    bench/results/<workload>-w<workers>[-direct][-pg-s3].md ($BENCH_RESULTS).
#
# Environment: BENCH_WORKLOAD, BENCH_WORKERS, BENCH_STORE (sqlite | pg-s3), BENCH_PG_BIN (PostgreSQL
# binaries, default the newest /usr/lib/postgresql/*/bin), BENCH_DIRECT_STORE=1 (our tool reads and writes
# the servers' artifact folders directly: --artifacts-destination), BENCH_VENV, BENCH_RUNS (overrides the workload's
# run count), BENCH_RESULTS, BENCH_WAIT_MAX,
# BENCH_KEEP=1 (keep the work directory with exports, logs and per-endpoint counts),
# BENCH_PYTHON (python used to create the venv, default python3), BENCH_OUR_ARGS (extra global
# options for our tool, e.g. "--max-requests-in-flight 2").
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
# shellcheck source=bench/common.sh
. "$bench/common.sh"
workload="${BENCH_WORKLOAD:-medium}"
workers="${BENCH_WORKERS:-1}"
store="${BENCH_STORE:-sqlite}"
case "$workload" in
    medium) default_runs=100; seed_args=(); shape="10 params, 10 metrics x 100 steps, 3 small artifacts" ;;
    big-metrics) default_runs=5; seed_args=(--metrics 100 --steps 1000 --artifacts 1)
        shape="10 params, 100 metrics x 1,000 steps, 1 small artifact" ;;
    large-artifacts) default_runs=2; seed_args=(--artifacts 1 --artifact-mb 512 --threads 1)
        shape="10 params, 10 metrics x 100 steps, 1 small artifact, 1 file of 512 MiB" ;;
    models) default_runs=50; seed_args=(--models 10 --versions 5)
        shape="10 params, 10 metrics x 100 steps, 3 small artifacts, a model folder; 10 registered models x 5 versions" ;;
    *) die "unknown BENCH_WORKLOAD '$workload' (medium, big-metrics, large-artifacts, models)" ;;
esac
case "$store" in
    sqlite) store_suffix="" ;;
    pg-s3) store_suffix="-pg-s3"
        [ -z "${BENCH_DIRECT_STORE:-}" ] || die "BENCH_DIRECT_STORE is for proxied artifact folders, not BENCH_STORE=pg-s3 (our tool reads and writes S3 itself there)" ;;
    *) die "unknown BENCH_STORE '$store' (sqlite, pg-s3)" ;;
esac
runs="${BENCH_RUNS:-$default_runs}"
results="${BENCH_RESULTS:-$bench/results/$workload-w$workers${BENCH_DIRECT_STORE:+-direct}$store_suffix.md}"
script_start=$(date +%s)

# ---------------------------------------------------------------------------------------------
# 1. venv, /usr/bin/time, our binary
ensure_venv
ensure_time
work="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-bench.XXXXXX")"
build_tool "$work"

# ---------------------------------------------------------------------------------------------
# 2. servers (and with pg-s3: PostgreSQL, moto)
pgids=()   # process groups stopped first: MLflow servers, moto
pg_pgid="" # PostgreSQL's, stopped after the servers (pg_ctl stop -m fast, then its group)
pg_root=""
as_pg=()   # PostgreSQL refuses to run as root: initdb and the server run as the postgres user
cleanup() {
    local rc=$?
    [ "${#pgids[@]}" = 0 ] || stop_groups "${pgids[@]}"
    if [ -n "$pg_pgid" ]; then
        ${as_pg[@]+"${as_pg[@]}"} "$pg_bin/pg_ctl" -D "$pg_root/data" stop -m fast -w -t 30 >/dev/null 2>&1 || true
        stop_groups "$pg_pgid"
    fi
    wait 2>/dev/null || true
    [ -z "$pg_root" ] || rm -rf "$pg_root"
    if [ -n "${BENCH_KEEP:-}" ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_url() { # url log what: until the URL answers 2xx (at most 120 s)
    for _ in $(seq 1 240); do
        "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1], timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    tail -n 30 "$2" >&2 || true
    die "$3 $1 did not answer in 120 s (log above)"
}

db_pg=""; s3_pg=""; s3_log=""; store_desc=""
if [ "$store" = pg-s3 ]; then
    pg_bin="${BENCH_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
    [ -x "$pg_bin/initdb" ] && [ -x "$pg_bin/postgres" ] \
        || die "PostgreSQL binaries not found (set BENCH_PG_BIN; Debian: apt-get install postgresql)"
    pg_root="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-bench-pg.XXXXXX")"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' system user (Debian's postgresql package)"
        chown postgres: "$pg_root"
        as_pg=(runuser -u postgres --)
    fi
    log "starting PostgreSQL ($("$pg_bin/postgres" --version)) and moto"
    (cd "$pg_root" && ${as_pg[@]+"${as_pg[@]}"} "$pg_bin/initdb" -D "$pg_root/data" -U postgres -A trust -E UTF8 \
        --locale=C) >"$work/initdb.log" 2>&1 || { tail -n 20 "$work/initdb.log" >&2; die "initdb failed"; }
    pg_port="$(free_port)"
    # Defaults (fsync on) but for the connection limit: 2 servers x 4 workers x up to 15 pooled
    # connections each exceed the default 100.
    cd "$pg_root"
    setsid ${as_pg[@]+"${as_pg[@]}"} "$pg_bin/postgres" -D "$pg_root/data" -p "$pg_port" \
        -c listen_addresses=127.0.0.1 -c unix_socket_directories="$pg_root" -c max_connections=300 \
        </dev/null >"$work/postgres.log" 2>&1 &
    pg_pgid=$!
    cd "$repo"
    db_pg="$pg_pgid"
    s3_port="$(free_port)"
    setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3_port" </dev/null >"$work/moto.log" 2>&1 &
    s3_pg=$!
    pgids+=("$s3_pg")
    s3_log="$work/moto.log"
    s3="http://127.0.0.1:$s3_port"
    bucket="bench-artifacts"
    for _ in $(seq 1 120); do
        "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres && break
        sleep 0.5
    done
    "$pg_bin/pg_isready" -q -h 127.0.0.1 -p "$pg_port" -U postgres \
        || { tail -n 20 "$work/postgres.log" >&2; die "PostgreSQL did not start in 60 s"; }
    for db in mlflow_source mlflow_destination; do
        "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$db" || die "createdb $db failed"
    done
    wait_url "$s3/" "$s3_log" "moto"
    # One set of S3 variables for the servers, the seeder, the Python tool and ours.
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1 \
        MLFLOW_S3_ENDPOINT_URL="$s3" AWS_ENDPOINT_URL="$s3" AWS_EC2_METADATA_DISABLED=true
    "$py" -c 'import boto3, sys; boto3.client("s3").create_bucket(Bucket=sys.argv[1])' "$bucket" \
        || die "creating bucket $bucket failed"
    store_desc="PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') backend (one throwaway cluster, a database per server, default settings but max_connections=300), artifacts in S3 on one moto 5.2.5 server, one bucket for both servers (\`--no-serve-artifacts --default-artifact-root s3://$bucket/<source|destination>\`: same bucket, same endpoint, same key, so our copy can copy server-side)"
else
    store_desc="sqlite, \`--serve-artifacts\`"
fi

start_server() { # name -> sets $url, $pgid; the server runs in its own process group (setsid)
    local name="$1" port
    local -a store_args
    port="$(free_port)"
    mkdir -p "$work/$name"
    if [ "$store" = pg-s3 ]; then
        store_args=(--backend-store-uri "postgresql+psycopg2://postgres@127.0.0.1:$pg_port/mlflow_$name"
            --no-serve-artifacts --default-artifact-root "s3://$bucket/$name")
    else
        store_args=(--backend-store-uri "sqlite:///$work/$name/mlflow.db" --serve-artifacts
            --artifacts-destination "$work/$name/artifacts")
    fi
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false PYTHONUNBUFFERED=1 setsid "$venv/bin/mlflow" server \
        "${store_args[@]}" --host 127.0.0.1 --port "$port" --workers "$workers" \
        </dev/null >"$work/$name/server.log" 2>&1 &
    pgid=$!
    pgids+=("$pgid")
    url="http://127.0.0.1:$port"
}

log "starting two MLflow $mlflow_version servers ($store)"
start_server source; src="$url"; src_pg="$pgid"; src_log="$work/source/server.log"
start_server destination; dst="$url"; dst_pg="$pgid"; dst_log="$work/destination/server.log"
wait_url "$src/health" "$src_log" "server"
wait_url "$dst/health" "$dst_log" "server"
log "source $src (pgid $src_pg), destination $dst (pgid $dst_pg)"

# ---------------------------------------------------------------------------------------------
# 3. seed
exp="bench-$workload"
log "seeding $exp: $runs runs x ($shape)"
seed_start=$(date +%s)
"$py" "$bench/seed_medium.py" --tracking-uri "$src" --experiment "$exp" --runs "$runs" ${seed_args[@]+"${seed_args[@]}"} \
    >"$work/seed.json" 2>"$work/seed.err" || { tail -n 30 "$work/seed.err" >&2; die "seeding failed"; }
log "seeded in $(( $(date +%s) - seed_start )) s: $(cat "$work/seed.json")"

# ---------------------------------------------------------------------------------------------
# 4. measurements
clk_tck=$(getconf CLK_TCK)

group_ticks() { # pgid -> utime+stime+cutime+cstime (clock ticks) of every process in the group
    local pg="$1" total=0 f line rest
    local -a a
    for f in /proc/[0-9]*/stat; do
        { read -r line <"$f"; } 2>/dev/null || continue
        rest="${line##*) }"
        read -r -a a <<<"$rest"
        # a[0]=state a[1]=ppid a[2]=pgrp ... a[11]=utime a[12]=stime a[13]=cutime a[14]=cstime
        [ "${a[2]:-}" = "$pg" ] || continue
        total=$((total + a[11] + a[12] + a[13] + a[14]))
    done
    echo "$total"
}

access_re='"(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) [^ ]+ HTTP/[0-9.]+" [0-9]{3}'
count_requests() { grep -Ec "$access_re" "$1" || true; }

rows="$work/rows.tsv"
: >"$rows"
endpoints="$work/endpoints.tsv"
: >"$endpoints"

ticks_of() { [ -n "$1" ] && group_ticks "$1" || echo 0; }
requests_in() { [ -n "$1" ] && count_requests "$1" || echo 0; }
failures="$work/failures.tsv"
: >"$failures"

measure() { # step tool cmd... ; appends one row to $rows (a failing tool is recorded, not fatal)
    local step="$1" who="$2"; shift 2
    local tag="$step.$who"
    sleep 1 # let both servers go idle
    local s0 d0 sr0 dr0 s1 d1 sr1 dr1 t0 t1 busy0 busy1 db0 db1 o0 o1 or0 or1 rc=0
    busy0=$(heavy_jobs)
    s0=$(group_ticks "$src_pg"); d0=$(group_ticks "$dst_pg"); db0=$(ticks_of "$db_pg"); o0=$(ticks_of "$s3_pg")
    sr0=$(count_requests "$src_log"); dr0=$(count_requests "$dst_log"); or0=$(requests_in "$s3_log")
    log "step $step: $who ..."
    t0=$(date +%s%N)
    "$timebin" -v -o "$work/time.$tag" "$@" >"$work/out.$tag" 2>"$work/err.$tag" || rc=$?
    t1=$(date +%s%N)
    if [ "$rc" != 0 ]; then
        tail -n 30 "$work/err.$tag" >&2 || true
        log "step $step ($who) FAILED with exit code $rc: $*"
        printf '%s\t%s\n' "$tag" "$rc" >>"$failures"
        grep -v '^\s*$' "$work/err.$tag" | tail -n 15 >"$work/failure.$tag" || true
    fi
    busy1=$(heavy_jobs)
    sleep 0.5 # access-log lines of the last requests
    s1=$(group_ticks "$src_pg"); d1=$(group_ticks "$dst_pg"); db1=$(ticks_of "$db_pg"); o1=$(ticks_of "$s3_pg")
    sr1=$(count_requests "$src_log"); dr1=$(count_requests "$dst_log"); or1=$(requests_in "$s3_log")
    local ucpu scpu rss
    ucpu=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$work/time.$tag")
    scpu=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$work/time.$tag")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$tag")
    local loaded=no
    if [ "$busy0" = yes ] || [ "$busy1" = yes ]; then loaded=yes; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$who" \
        "$(( (t1 - t0) / 1000000 ))" "$ucpu" "$scpu" "$rss" \
        "$(( s1 - s0 ))" "$(( d1 - d0 ))" "$(( sr1 - sr0 ))" "$(( dr1 - dr0 ))" "$loaded" \
        "$(( db1 - db0 ))" "$(( o1 - o0 ))" "$(( or1 - or0 ))" "$rc" >>"$rows"
    # Requests per endpoint (path without query string; S3 keys cut to their bucket), for the
    # details section.
    local side logf n0 n1
    for side in src dst s3; do
        case "$side" in
            src) logf="$src_log"; n0=$sr0; n1=$sr1 ;;
            dst) logf="$dst_log"; n0=$dr0; n1=$dr1 ;;
            s3) logf="$s3_log"; n0=$or0; n1=$or1 ;;
        esac
        [ "$n1" -gt "$n0" ] || continue
        grep -E "$access_re" "$logf" | sed -n "$((n0 + 1)),${n1}p" \
            | sed -E 's/.*"([A-Z]+) ([^ ?]+)[^ ]* HTTP[^"]*" ([0-9]{3}).*/\1 \2 \3/' \
            | sed -E 's#(mlflow-artifacts/artifacts)/[^ ]+#\1/...#' \
            | if [ "$side" = s3 ]; then sed -E 's#^([A-Z]+ /[^/ ]+)/[^ ]+#\1/...#'; else cat; fi \
            | sort | uniq -c | awk -v t="$tag" -v s="$side" '{print t "\t" s "\t" $2 " " $3 " " $4 "\t" $1}' >>"$endpoints"
    done
    log "step $step: $who done in $(( (t1 - t0) / 1000000 )) ms, $(( sr1 - sr0 + dr1 - dr0 )) MLflow requests$([ -z "$s3_log" ] || echo ", $(( or1 - or0 )) S3 requests")"
}

wait_quiet
loadavg_before="$(cut -d' ' -f1-3 /proc/loadavg)"
bench_start=$(date +%s)

# Extra global options for our tool, e.g. BENCH_OUR_ARGS="--max-requests-in-flight 4".
read -r -a our_args <<<"${BENCH_OUR_ARGS:-}"
export_py="$work/export-python"
export_ours="$work/export-ours"
# export-experiment
# BENCH_DIRECT_STORE=1: our tool reads and writes the servers' artifact folders directly.
direct_export=(); direct_import=(); direct_copy=()
if [ -n "${BENCH_DIRECT_STORE:-}" ]; then
    direct_export=(--artifacts-destination "$work/source/artifacts")
    direct_import=(--artifacts-destination "$work/destination/artifacts")
    direct_copy=(--src-artifacts-destination "$work/source/artifacts" --dst-artifacts-destination "$work/destination/artifacts")
fi
if [ "$workload" = models ]; then
    # Each tool imports under its own name prefix: the same names would merge into one model.
    printf 'bench-model-,py-bench-model-\n' >"$work/py-models.csv"
    printf 'bench-models,py-bench-models\n' >"$work/py-experiments.csv"
    printf 'bench-model-,ours-bench-model-\n' >"$work/ours-models.csv"
    printf 'bench-models,ours-bench-models\n' >"$work/ours-experiments.csv"
    measure export python env MLFLOW_TRACKING_URI="$src" "$venv/bin/export-models" \
        --models all --output-dir "$export_py"
    measure export ours "$tool" ${our_args[@]+"${our_args[@]}"} ${direct_export[@]+"${direct_export[@]}"} \
        export-models --tracking-uri "$src" --models all --output-dir "$export_ours"
    measure import python env MLFLOW_TRACKING_URI="$dst" "$venv/bin/import-models" --input-dir "$export_py" \
        --model-rename-file "$work/py-models.csv" --experiment-rename-file "$work/py-experiments.csv" --use-src-user-id True
    measure import ours "$tool" ${our_args[@]+"${our_args[@]}"} ${direct_import[@]+"${direct_import[@]}"} \
        import-models --tracking-uri "$dst" --input-dir "$export_ours" \
        --model-rename-file "$work/ours-models.csv" --experiment-rename-file "$work/ours-experiments.csv" --use-src-user-id true
    # No bulk copy of models: copy-model for each, into one destination experiment.
    models_list="$(seq -s ' ' 0 $((10 - 1)))"
    measure copy ours env TOOL="$tool" SRC="$src" DST="$dst" MODELS="$models_list" bash -c \
        'for m in $MODELS; do "$TOOL" "$@" copy-model --src-uri "$SRC" --dst-uri "$DST" --src-model "bench-model-$m" --dst-model "copy-bench-model-$m" --dst-experiment-name bench-copy-ours --use-src-user-id true -q || exit 1; done' \
        copy ${our_args[@]+"${our_args[@]}"} ${direct_copy[@]+"${direct_copy[@]}"}
else
    measure export python env MLFLOW_TRACKING_URI="$src" "$venv/bin/export-experiment" \
        --experiment "$exp" --output-dir "$export_py"
    measure export ours "$tool" ${our_args[@]+"${our_args[@]}"} ${direct_export[@]+"${direct_export[@]}"} \
        export-experiment --tracking-uri "$src" --experiment "$exp" --output-dir "$export_ours"
    # import-experiment, each tool its own export, into fresh experiments
    measure import python env MLFLOW_TRACKING_URI="$dst" "$venv/bin/import-experiment" \
        --experiment-name bench-import-python --input-dir "$export_py" --use-src-user-id True
    measure import ours "$tool" ${our_args[@]+"${our_args[@]}"} ${direct_import[@]+"${direct_import[@]}"} import-experiment --tracking-uri "$dst" --input-dir "$export_ours" \
        --experiment-name bench-import-ours --use-src-user-id true
    # copy: ours server to server (the Python side is its export + import above)
    measure copy ours "$tool" ${our_args[@]+"${our_args[@]}"} ${direct_copy[@]+"${direct_copy[@]}"} copy-experiment --src-uri "$src" --dst-uri "$dst" --src-experiment "$exp" \
        --dst-experiment-name bench-copy-ours --use-src-user-id true --report "$work/report.copy.ours.json"
    # BENCH_DST_DB=1: ours again, importing our export straight into the destination server's
    # database (--dst-backend-store-uri, one transaction per run) instead of through its REST API.
    if [ -n "${BENCH_DST_DB:-}" ]; then
        if [ "$store" = pg-s3 ]; then
            dst_db=(--dst-backend-store-uri "postgresql://postgres@127.0.0.1:$pg_port/mlflow_destination"
                --dst-artifact-root "s3://$bucket/destination")
        else
            dst_db=(--dst-backend-store-uri "sqlite:///$work/destination/mlflow.db" --dst-artifact-root mlflow-artifacts:/
                --dst-artifacts-destination "$work/destination/artifacts")
        fi
        measure import ours-db "$tool" ${our_args[@]+"${our_args[@]}"} import-experiment --tracking-uri "$dst" \
            --input-dir "$export_ours" --experiment-name bench-import-ours-db --use-src-user-id true "${dst_db[@]}"
    fi
    # BENCH_SOURCE_DB=1: ours again, reading the source server's database directly (and its
    # artifacts from where the server keeps them) instead of its REST API.
    if [ -n "${BENCH_SOURCE_DB:-}" ]; then
        src_artifacts=()
        if [ "$store" = pg-s3 ]; then
            src_db="postgresql://postgres@127.0.0.1:$pg_port/mlflow_source"
        else
            src_db="sqlite:///$work/source/mlflow.db"
            src_artifacts=(--src-artifacts-destination "$work/source/artifacts")
        fi
        measure export ours-db "$tool" ${our_args[@]+"${our_args[@]}"} \
            ${src_artifacts[@]+--artifacts-destination "${src_artifacts[1]}"} \
            export-experiment --tracking-uri "$src_db" --experiment "$exp" --output-dir "$work/export-ours-db"
        measure copy ours-db "$tool" ${our_args[@]+"${our_args[@]}"} ${src_artifacts[@]+"${src_artifacts[@]}"} \
            copy-experiment --src-uri "$src_db" --dst-uri "$dst" --src-experiment "$exp" \
            --dst-experiment-name bench-copy-ours-db --use-src-user-id true
    fi
fi
bench_secs=$(( $(date +%s) - bench_start ))
loadavg_after="$(cut -d' ' -f1-3 /proc/loadavg)"
still_busy="$(heavy_jobs)"

# ---------------------------------------------------------------------------------------------
# 5. check what arrived, write the report
log "checking what arrived"
"$py" - "$src" "$dst" "$exp" >"$work/arrived.json" 2>"$work/arrived.err" <<'PY' || { tail -n 20 "$work/arrived.err" >&2; die "checking the results failed"; }
import json, sys
from mlflow.tracking import MlflowClient
src, dst, exp = sys.argv[1:4]

def summary(uri, name):
    c = MlflowClient(tracking_uri=uri)
    e = c.get_experiment_by_name(name)
    if e is None:
        return {"runs": 0}
    runs = c.search_runs([e.experiment_id], max_results=1000)
    out = {"runs": len(runs), "params": 0, "points": 0, "files": 0}
    for r in runs[:3]:  # full check of a few runs: params, every metric point, artifact files
        out["params"] += len(r.data.params)
        out["points"] += sum(len(c.get_metric_history(r.info.run_id, k)) for k in r.data.metrics)
        stack, files = [""], 0
        while stack:
            for f in c.list_artifacts(r.info.run_id, stack.pop() or None):
                if f.is_dir:
                    stack.append(f.path)
                else:
                    files += 1
        out["files"] += files
    return out

def models(uri, prefix):
    c = MlflowClient(tracking_uri=uri)
    names = [m.name for m in c.search_registered_models(max_results=1000) if m.name.startswith(prefix)]
    versions = [v for n in names for v in c.search_model_versions(f"name = '{n}'")]
    aliases = sum(len(c.get_registered_model(n).aliases) for n in names)
    return {"runs": len({v.run_id for v in versions}), "models": len(names), "versions": len(versions),
            "production": sum(v.current_stage == "Production" for v in versions), "aliases": aliases}

if exp == "bench-models":
    print(json.dumps({
        "source": models(src, "bench-model-"),
        "import.python": models(dst, "py-bench-model-"),
        "import.ours": models(dst, "ours-bench-model-"),
        "copy.ours": models(dst, "copy-bench-model-"),
    }))
    sys.exit(0)

print(json.dumps({
    "source": summary(src, exp),
    "import.python": summary(dst, "bench-import-python"),
    "import.ours": summary(dst, "bench-import-ours"),
    "copy.ours": summary(dst, "bench-copy-ours"),
    "copy.ours-db": summary(dst, "bench-copy-ours-db"),
    "import.ours-db": summary(dst, "bench-import-ours-db"),
}))
PY

mem_total_kb=$(awk '/MemTotal/ {print $2}' /proc/meminfo)
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
commit="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(cd "$repo" && git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    commit="$commit (+ uncommitted changes in crates/)"
fi
"$py" "$bench/report.py" \
    --rows "$rows" --endpoints "$endpoints" --arrived "$work/arrived.json" --clk-tck "$clk_tck" \
    --runs "$runs" --workload "$workload: $runs runs x ($shape)" --workers "$workers" --our-args "${BENCH_OUR_ARGS:-}${BENCH_DIRECT_STORE:+ --artifacts-destination (direct artifact folders)}" --mlflow "$mlflow_version" --pytool "$pytool_version" --commit "$commit" \
    --our-version "$("$tool" --version 2>/dev/null || echo '?')" \
    --store "$store" --store-desc "$store_desc" --failures "$failures" --work "$work" \
    --copy-report "$work/report.copy.ours.json" \
    --nproc "$(nproc)" --mem-gib "$(awk -v k="$mem_total_kb" 'BEGIN {printf "%.1f", k / 1048576}')" \
    --cpu "$cpu_model" --under-load "$under_load" --still-busy "$still_busy" \
    --loadavg "$loadavg_before -> $loadavg_after" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --bench-secs "$bench_secs" --total-secs "$(( $(date +%s) - script_start ))" \
    >"$work/results.md" || die "report generation failed"
mkdir -p "$(dirname "$results")"
cp "$work/results.md" "$results"
cat "$results"
log "results written to $results (whole script: $(( $(date +%s) - script_start )) s)"
if grep -q '\.ours\s' "$failures"; then die "our tool failed in a step (see the results)"; fi
if [ -s "$failures" ]; then log "the Python tool failed in a step (recorded in the results)"; fi
