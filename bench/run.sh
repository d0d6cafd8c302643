#!/usr/bin/env bash
# Benchmark: our `mlflow-export-import` against the Python tool (databricks-mlflow-export-import)
# on the same data, side by side, on two local MLflow tracking servers (issue 6).
#
#   bench/run.sh                                  # medium workload, one-worker servers
#   BENCH_WORKLOAD=big-metrics bench/run.sh
#   BENCH_WORKLOAD=large-artifacts BENCH_WORKERS=4 bench/run.sh
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
# 2. starts two MLflow servers (sqlite, --serve-artifacts, --workers $BENCH_WORKERS (default 1),
#    job runner off), each in its own process group, stopped on exit;
# 3. seeds the workload into the source server (bench/seed_medium.py);
# 4. waits until no other heavy job runs (pgrep -f ci-clone / "cargo test"; at most
#    $BENCH_WAIT_MAX s, default 1500; BENCH_WAIT_MAX=0 skips the wait), then times
#      export-experiment     Python vs ours
#      import-experiment     Python vs ours (each imports its own export into a fresh experiment)
#      copy                  Python export + import vs our copy-experiment
#    measuring per step: wall time, the tool's CPU and peak RSS (/usr/bin/time -v), the servers'
#    CPU (utime+stime of each server's process group from /proc), and the HTTP requests the tool
#    made (lines added to the servers' uvicorn access logs);
# 5. checks what arrived and writes a Markdown table to stdout and
#    bench/results/<workload>-w<workers>.md ($BENCH_RESULTS).
#
# Environment: BENCH_WORKLOAD, BENCH_WORKERS, BENCH_DIRECT_STORE=1 (our tool reads and writes
# the servers' artifact folders directly: --artifacts-destination), BENCH_VENV, BENCH_RUNS (overrides the workload's
# run count), BENCH_RESULTS, BENCH_WAIT_MAX,
# BENCH_KEEP=1 (keep the work directory with exports, logs and per-endpoint counts),
# BENCH_PYTHON (python used to create the venv, default python3), BENCH_OUR_ARGS (extra global
# options for our tool, e.g. "--max-requests-in-flight 2").
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
venv="${BENCH_VENV:-$bench/.venv}"
mlflow_version="3.17.2"
pytool_version="1.2.1"
workload="${BENCH_WORKLOAD:-medium}"
workers="${BENCH_WORKERS:-1}"
case "$workload" in
    medium) default_runs=100; seed_args=(); shape="10 params, 10 metrics x 100 steps, 3 small artifacts" ;;
    big-metrics) default_runs=5; seed_args=(--metrics 100 --steps 1000 --artifacts 1)
        shape="10 params, 100 metrics x 1,000 steps, 1 small artifact" ;;
    large-artifacts) default_runs=2; seed_args=(--artifacts 1 --artifact-mb 512 --threads 1)
        shape="10 params, 10 metrics x 100 steps, 1 small artifact, 1 file of 512 MiB" ;;
    models) default_runs=50; seed_args=(--models 10 --versions 5)
        shape="10 params, 10 metrics x 100 steps, 3 small artifacts, a model folder; 10 registered models x 5 versions" ;;
    *) echo "bench: unknown BENCH_WORKLOAD '$workload' (medium, big-metrics, large-artifacts, models)" >&2; exit 2 ;;
esac
runs="${BENCH_RUNS:-$default_runs}"
results="${BENCH_RESULTS:-$bench/results/$workload-w$workers${BENCH_DIRECT_STORE:+-direct}.md}"
wait_max="${BENCH_WAIT_MAX:-1500}"
script_start=$(date +%s)

log() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# 1. venv, /usr/bin/time, our binary
want="mlflow[auth]==$mlflow_version databricks-mlflow-export-import==$pytool_version"
venv_ready() {
    [ -x "$venv/bin/python" ] && [ -x "$venv/bin/mlflow" ] && [ -x "$venv/bin/export-experiment" ] \
        && [ -x "$venv/bin/import-experiment" ] || return 1
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mlflow"), m.version("databricks-mlflow-export-import"))' 2>/dev/null)" \
        = "$mlflow_version $pytool_version" ]
}
if ! venv_ready; then
    log "installing $want into $venv (a few minutes)"
    [ -x "$venv/bin/python" ] || "${BENCH_PYTHON:-python3}" -m venv "$venv" || die "cannot create venv $venv"
    # The Python tool installs into the same venv as mlflow (it needs an unpinned mlflow-skinny).
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "mlflow[auth]==$mlflow_version" "databricks-mlflow-export-import==$pytool_version" \
        || die "pip install of $want failed"
    venv_ready || die "venv $venv does not hold $want after installing"
fi
py="$venv/bin/python"

timebin=/usr/bin/time
if ! "$timebin" -v true >/dev/null 2>&1; then
    log "installing GNU time (Debian package 'time') for peak RSS"
    sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
    command -v apt-get >/dev/null || die "/usr/bin/time -v is missing and apt-get is not available"
    $sudo_cmd apt-get install -y -qq time >/dev/null 2>&1 \
        || { $sudo_cmd apt-get update -qq >/dev/null 2>&1 && $sudo_cmd apt-get install -y -qq time >/dev/null 2>&1; } \
        || die "could not install the 'time' package"
    "$timebin" -v true >/dev/null 2>&1 || die "/usr/bin/time -v does not work"
fi

log "building our release binary"
(cd "$repo" && cargo build --quiet --release -p mlflow-export-import) || die "cargo build --release failed"
tool="$repo/target/release/mlflow-export-import"
[ -x "$tool" ] || die "binary $tool missing after build"
# Snapshot the binary so that a concurrent rebuild does not change it under the benchmark.
work="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-bench.XXXXXX")"
cp "$tool" "$work/mlflow-export-import"
tool="$work/mlflow-export-import"

# ---------------------------------------------------------------------------------------------
# 2. servers
pgids=()
cleanup() {
    local rc=$?
    local pg
    for pg in "${pgids[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for pg in "${pgids[@]}"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pg in "${pgids[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "${BENCH_KEEP:-}" ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() { # name -> sets $url, $pgid; the server runs in its own process group (setsid)
    local name="$1" port
    port="$(free_port)"
    mkdir -p "$work/$name"
    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false PYTHONUNBUFFERED=1 setsid "$venv/bin/mlflow" server \
        --backend-store-uri "sqlite:///$work/$name/mlflow.db" --serve-artifacts \
        --artifacts-destination "$work/$name/artifacts" --host 127.0.0.1 --port "$port" --workers "$workers" \
        </dev/null >"$work/$name/server.log" 2>&1 &
    pgid=$!
    pgids+=("$pgid")
    url="http://127.0.0.1:$port"
}

wait_healthy() { # url log
    for _ in $(seq 1 240); do
        "$py" -c "import urllib.request,sys; urllib.request.urlopen(sys.argv[1] + '/health', timeout=1)" "$1" 2>/dev/null && return 0
        sleep 0.5
    done
    tail -n 30 "$2" >&2 || true
    die "server $1 did not become healthy in 120 s (log above)"
}

log "starting two MLflow $mlflow_version servers"
start_server source; src="$url"; src_pg="$pgid"; src_log="$work/source/server.log"
start_server destination; dst="$url"; dst_pg="$pgid"; dst_log="$work/destination/server.log"
wait_healthy "$src" "$src_log"
wait_healthy "$dst" "$dst_log"
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

heavy_jobs() { # prints "yes" when another heavy job (CI clone, cargo test) is running
    if pgrep -f ci-clone >/dev/null || pgrep -f "cargo test" >/dev/null; then echo yes; else echo no; fi
}

wait_quiet() {
    under_load="no"
    if [ "$wait_max" = 0 ]; then
        under_load="$(heavy_jobs)"
        return 0
    fi
    local waited=0
    while [ "$(heavy_jobs)" = yes ]; do
        if [ "$waited" -ge "$wait_max" ]; then
            log "other heavy jobs still running after ${waited} s: measuring under load"
            under_load="yes"
            return 0
        fi
        [ "$waited" = 0 ] && log "waiting for other heavy jobs (ci-clone, cargo test) to finish (at most ${wait_max} s)"
        sleep 30
        waited=$((waited + 30))
    done
    [ "$waited" -gt 0 ] && log "no heavy job left after ${waited} s"
    # Let the 1-minute load average settle below 1 (at most 3 minutes more).
    local settle=0
    while awk '{exit !($1 >= 1.0)}' /proc/loadavg && [ "$settle" -lt 180 ]; do
        [ "$settle" = 0 ] && log "waiting for the load average to drop below 1 ($(cut -d' ' -f1 /proc/loadavg))"
        sleep 10
        settle=$((settle + 10))
    done
    return 0
}

rows="$work/rows.tsv"
: >"$rows"
endpoints="$work/endpoints.tsv"
: >"$endpoints"

measure() { # step tool cmd... ; appends one row to $rows
    local step="$1" who="$2"; shift 2
    local tag="$step.$who"
    sleep 1 # let both servers go idle
    local s0 d0 sr0 dr0 s1 d1 sr1 dr1 t0 t1 busy0 busy1
    busy0=$(heavy_jobs)
    s0=$(group_ticks "$src_pg"); d0=$(group_ticks "$dst_pg")
    sr0=$(count_requests "$src_log"); dr0=$(count_requests "$dst_log")
    log "step $step: $who ..."
    t0=$(date +%s%N)
    if ! "$timebin" -v -o "$work/time.$tag" "$@" >"$work/out.$tag" 2>"$work/err.$tag"; then
        tail -n 30 "$work/err.$tag" >&2 || true
        die "step $step ($who) failed: $*"
    fi
    t1=$(date +%s%N)
    busy1=$(heavy_jobs)
    sleep 0.5 # access-log lines of the last requests
    s1=$(group_ticks "$src_pg"); d1=$(group_ticks "$dst_pg")
    sr1=$(count_requests "$src_log"); dr1=$(count_requests "$dst_log")
    local ucpu scpu rss
    ucpu=$(awk -F': ' '/User time \(seconds\)/ {print $2}' "$work/time.$tag")
    scpu=$(awk -F': ' '/System time \(seconds\)/ {print $2}' "$work/time.$tag")
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.$tag")
    local loaded=no
    if [ "$busy0" = yes ] || [ "$busy1" = yes ]; then loaded=yes; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$who" \
        "$(( (t1 - t0) / 1000000 ))" "$ucpu" "$scpu" "$rss" \
        "$(( s1 - s0 ))" "$(( d1 - d0 ))" "$(( sr1 - sr0 ))" "$(( dr1 - dr0 ))" "$loaded" >>"$rows"
    # Requests per endpoint (path without query string), for the details section.
    local side logf n0 n1
    for side in src dst; do
        if [ "$side" = src ]; then logf="$src_log"; n0=$sr0; n1=$sr1; else logf="$dst_log"; n0=$dr0; n1=$dr1; fi
        [ "$n1" -gt "$n0" ] || continue
        grep -E "$access_re" "$logf" | sed -n "$((n0 + 1)),${n1}p" \
            | sed -E 's/.*"([A-Z]+) ([^ ?]+)[^ ]* HTTP[^"]*" ([0-9]{3}).*/\1 \2 \3/' \
            | sed -E 's#(mlflow-artifacts/artifacts)/[^ ]+#\1/...#' \
            | sort | uniq -c | awk -v t="$tag" -v s="$side" '{print t "\t" s "\t" $2 " " $3 " " $4 "\t" $1}' >>"$endpoints"
    done
    log "step $step: $who done in $(( (t1 - t0) / 1000000 )) ms, $(( sr1 - sr0 + dr1 - dr0 )) requests"
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
        --dst-experiment-name bench-copy-ours --use-src-user-id true
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
    --nproc "$(nproc)" --mem-gib "$(awk -v k="$mem_total_kb" 'BEGIN {printf "%.1f", k / 1048576}')" \
    --cpu "$cpu_model" --under-load "$under_load" --still-busy "$still_busy" \
    --loadavg "$loadavg_before -> $loadavg_after" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
    --bench-secs "$bench_secs" --total-secs "$(( $(date +%s) - script_start ))" \
    >"$work/results.md" || die "report generation failed"
mkdir -p "$(dirname "$results")"
cp "$work/results.md" "$results"
cat "$results"
log "results written to $results (whole script: $(( $(date +%s) - script_start )) s)"
