#!/usr/bin/env bash
# Same-bucket copy measurement: what passes through our tool when source and destination run
# artifacts live in one S3 bucket (server-side CopyObject), against two buckets (streamed).
#
#   bench/same_bucket.sh                       # 4 x 256 MiB = 1 GiB in one run
#   BENCH_SB_FILES=2 BENCH_SB_FILE_MIB=64 bench/same_bucket.sh
#
# 1. the bench venv (bench/common.sh: mlflow 3.17.2, boto3, moto[server], ...), GNU time, our
#    release binary (snapshot);
# 2. bench/same_bucket.py: one moto server (local S3) with buckets bench-same and bench-other;
#    two MLflow servers (sqlite, --no-serve-artifacts, artifact roots s3://bench-same/source and
#    s3://bench-same/destination), each in its own process group, stopped on exit; one source run
#    whose artifacts (BENCH_SB_FILES x BENCH_SB_FILE_MIB MiB of random bytes under big/) are put
#    straight into the run's artifact_uri with boto3;
# 3. waits for a quiet machine (as bench/run.sh: BENCH_WAIT_MAX), then times our copy-run with
#    --report into (a) an experiment in the same bucket, (b) an experiment whose artifact_location
#    is in bench-other: wall time, peak RSS (/usr/bin/time -v), rchar/wchar from /proc/<pid>/io
#    polled every 20 ms (socket traffic included), artifact_bytes_in_store from the report, the
#    S3 requests in moto's log and moto's CPU;
# 4. checks with boto3 that every copied object has the source's size and MD5 (whole bytes read
#    back), and writes bench/results/same-bucket-copy.md ($BENCH_RESULTS).
#
# Environment: BENCH_SB_FILES (4), BENCH_SB_FILE_MIB (256), BENCH_SB_REPEAT (runs of each case,
# default 2), BENCH_VENV, BENCH_PYTHON, BENCH_WAIT_MAX, BENCH_RESULTS, BENCH_KEEP=1 (keep the work
# directory: logs, reports, /usr/bin/time output).
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$bench/.." && pwd)"
# shellcheck source=bench/common.sh
. "$bench/common.sh"

ensure_venv
ensure_time
work="$(mktemp -d "${TMPDIR:-/tmp}/mlflow-eim-same-bucket.XXXXXX")"
cleanup() {
    local rc=$?
    if [ -n "${BENCH_KEEP:-}" ]; then log "work directory kept: $work"; else rm -rf "$work"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
build_tool "$work"
commit="$(cd "$repo" && git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [ -n "$(cd "$repo" && git status --porcelain --untracked-files=no -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]; then
    commit="$commit (+ uncommitted changes in crates/)"
fi

# The Python driver starts and stops its servers itself (process groups, stopped in `finally` and
# on TERM/INT); it runs in the foreground so that the trap above sees its exit code.
"$py" "$bench/same_bucket.py" --tool "$tool" --venv "$venv" --work "$work" --time "$timebin" \
    --files "${BENCH_SB_FILES:-4}" --file-mib "${BENCH_SB_FILE_MIB:-256}" --repeat "${BENCH_SB_REPEAT:-2}" \
    --wait-max "${BENCH_WAIT_MAX:-1500}" --commit "$commit" --mlflow "$mlflow_version" \
    --results "${BENCH_RESULTS:-$bench/results/same-bucket-copy.md}"
