# Shared by bench/run.sh and bench/same_bucket.sh (sourced, not run): the venv, GNU time, our
# release binary, waiting for a quiet machine. Expects $bench, $repo and a `set -euo pipefail`
# caller; sets $venv, $py, $timebin, $mlflow_version, $pytool_version.

venv="${BENCH_VENV:-$bench/.venv}"
mlflow_version="3.17.2"
pytool_version="1.2.1"
# Extras for production-shaped servers (BENCH_STORE=pg-s3, same_bucket.sh): psycopg2 for
# PostgreSQL backend stores, boto3 for s3:// artifact roots, moto as the local S3. Same pins as
# scripts/setup-venv.sh.
bench_extras=("psycopg2-binary==2.9.13" "boto3==1.44.8" "moto[server]==5.2.5")

log() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }

venv_ready() {
    [ -x "$venv/bin/python" ] && [ -x "$venv/bin/mlflow" ] && [ -x "$venv/bin/export-experiment" ] \
        && [ -x "$venv/bin/import-experiment" ] && [ -x "$venv/bin/moto_server" ] || return 1
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m
print(*(m.version(d) for d in ("mlflow", "databricks-mlflow-export-import", "psycopg2-binary", "boto3", "moto")))' 2>/dev/null)" \
        = "$mlflow_version $pytool_version 2.9.13 1.44.8 5.2.5" ]
}

ensure_venv() {
    local want="mlflow[auth]==$mlflow_version databricks-mlflow-export-import==$pytool_version ${bench_extras[*]}"
    if ! venv_ready; then
        log "installing $want into $venv (a few minutes)"
        [ -x "$venv/bin/python" ] || "${BENCH_PYTHON:-python3}" -m venv "$venv" || die "cannot create venv $venv"
        # The Python tool installs into the same venv as mlflow (it needs an unpinned mlflow-skinny).
        "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
            "mlflow[auth]==$mlflow_version" "databricks-mlflow-export-import==$pytool_version" "${bench_extras[@]}" \
            || die "pip install of $want failed"
        venv_ready || die "venv $venv does not hold $want after installing"
    fi
    py="$venv/bin/python"
}

ensure_time() {
    timebin=/usr/bin/time
    if ! "$timebin" -v true >/dev/null 2>&1; then
        log "installing GNU time (Debian package 'time') for peak RSS"
        local sudo_cmd=""; [ "$(id -u)" = 0 ] || sudo_cmd="sudo"
        command -v apt-get >/dev/null || die "/usr/bin/time -v is missing and apt-get is not available"
        $sudo_cmd apt-get install -y -qq time >/dev/null 2>&1 \
            || { $sudo_cmd apt-get update -qq >/dev/null 2>&1 && $sudo_cmd apt-get install -y -qq time >/dev/null 2>&1; } \
            || die "could not install the 'time' package"
        "$timebin" -v true >/dev/null 2>&1 || die "/usr/bin/time -v does not work"
    fi
}

build_tool() { # work dir -> sets $tool to a snapshot of the release binary in it
    log "building our release binary"
    (cd "$repo" && cargo build --quiet --release -p mlflow-export-import) || die "cargo build --release failed"
    [ -x "$repo/target/release/mlflow-export-import" ] || die "binary missing after build"
    # Snapshot the binary so that a concurrent rebuild does not change it under the benchmark.
    cp "$repo/target/release/mlflow-export-import" "$1/mlflow-export-import"
    tool="$1/mlflow-export-import"
}

heavy_jobs() { # prints "yes" when another heavy job (CI clone, cargo test) is running
    if pgrep -f ci-clone >/dev/null || pgrep -f "cargo test" >/dev/null; then echo yes; else echo no; fi
}

wait_quiet() { # sets $under_load; waits at most ${BENCH_WAIT_MAX:-1500} s (0: no wait)
    local wait_max="${BENCH_WAIT_MAX:-1500}"
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

stop_groups() { # pgid... : TERM, up to 5 s, KILL
    local pg
    for pg in "$@"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
    for _ in $(seq 1 50); do
        local alive=0
        for pg in "$@"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for pg in "$@"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
}
