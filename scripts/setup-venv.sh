#!/usr/bin/env bash
# Create (idempotently) the Python venv holding the official MLflow server and client
# used by the real-server tests. Prints the venv path on stdout (and nothing else).
#
# Venv path: $MLFLOW_EIM_VENV, or <repo>/.venv.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${MLFLOW_EIM_VENV:-$repo/.venv}"
mlflow_version="3.17.2" # 3.18.0 does not install here (its mlflow-skinny pin is unavailable)
marker="$venv/.mlflow-eim-ready"
# The `auth` extra brings Flask-WTF, which the basic-auth server used by the credential tests needs.
# The others serve production-shaped servers in tests: psycopg2 for PostgreSQL backend stores,
# PyMySQL for MySQL/MariaDB ones (`mysql+pymysql://` URIs), boto3 and moto (a local S3) for
# s3:// artifact roots, azure-storage-blob for wasbs:// ones (against azurite, which .ci/run
# installs with npm). maturin builds the pip wheel of the tool (scripts/dist.sh, which CI runs too).
extras=(
    "psycopg2-binary==2.9.13"
    "PyMySQL==1.2.4"
    "boto3==1.44.8"
    "moto[server]==5.2.5"
    "azure-storage-blob==12.31.1"
    "maturin==1.16.0"
)
want="mlflow[auth]==$mlflow_version ${extras[*]}"

ready() {
    [ -x "$venv/bin/mlflow" ] || return 1
    [ -x "$venv/bin/python" ] || return 1
    # The marker names what was installed: a venv made for another list is upgraded. A venv made
    # by hand (no marker) is accepted when it has the right mlflow and the extras.
    if [ -f "$marker" ] && [ "$(cat "$marker")" != "$want" ]; then return 1; fi
    [ -x "$venv/bin/moto_server" ] || return 1
    [ -x "$venv/bin/maturin" ] || return 1
    # Same answer as `mlflow --version`, without importing mlflow (which takes seconds).
    [ "$("$venv/bin/python" -c 'import importlib.metadata as m
for d in ("flask-wtf", "psycopg2-binary", "pymysql", "boto3", "moto", "azure-storage-blob", "maturin"): m.version(d)
print(m.version("mlflow"))' 2>/dev/null)" = "$mlflow_version" ]
}

if ready; then
    echo "$venv"
    exit 0
fi

python_bin="${MLFLOW_EIM_PYTHON:-python3}"
echo "setup-venv: installing $want into $venv (takes a few minutes)" >&2
if [ ! -x "$venv/bin/python" ]; then
    "$python_bin" -m venv "$venv" >&2
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "mlflow[auth]==$mlflow_version" "${extras[@]}" >&2
"$venv/bin/mlflow" --version >&2
echo "$want" >"$marker"
echo "$venv"
