#!/usr/bin/env bash
# Build the distributable forms of the tool into dist/ and smoke-test each the way a user gets it:
#   dist/mlflow_export_import_rs-VERSION-py3-none-manylinux_2_17_x86_64.whl
#       the pip wheel (maturin, `bin` bindings; PyPI name mlflow-export-import-rs): the binary,
#       its man page and bash/zsh/fish completions. Linked by zig against glibc 2.17
#       (manylinux2014), so it runs on old distributions.
#   dist/mlflow-export-import-VERSION-x86_64-linux-static
#       one statically linked binary (glibc, -C target-feature=+crt-static), no shared library needed.
# Each is tested in a fresh venv / as is, with no Rust toolchain on PATH: `--version`, then a real
# `copy-run` between two MLflow servers (the repo's venv, scripts/setup-venv.sh) addressed as
# http://localhost:PORT, the copy read back with the official client and compared with its source.
#
# scripts/dist.sh --ci: the cheap mode CI runs after the tests (scripts/test.sh): the wheel from
# the debug build of the same target directory (no zig, no static binary, nothing in dist/),
# smoke-tested the same way.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
mode=full
case "${1:-}" in
    "") ;;
    --ci) mode=ci ;;
    *) echo "usage: scripts/dist.sh [--ci]" >&2; exit 2 ;;
esac
export MLFLOW_EIM_VENV="${MLFLOW_EIM_VENV:-$repo/.venv}"
venv="$(scripts/setup-venv.sh)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target}" # maturin builds in the same one
host="$(rustc -vV | sed -n 's/^host: //p')"
zig_version="0.13.0" # the ziglang PyPI package; maturin --zig links the manylinux2014 wheel with it

# shellcheck source=SCRIPTDIR/lib/servers.sh
source "$repo/scripts/lib/servers.sh"

# --- build ----------------------------------------------------------------------------------
if [ "$mode" = full ]; then
    echo "== static binary (glibc, crt-static)"
    RUSTFLAGS="-C target-feature=+crt-static" cargo build --quiet --release --locked \
        --target "$host" -p mlflow-export-import
    static_built="$CARGO_TARGET_DIR/$host/release/mlflow-export-import"
    bin="$static_built"
else
    echo "== debug build"
    cargo build --quiet --locked -p mlflow-export-import
    bin="$CARGO_TARGET_DIR/debug/mlflow-export-import"
fi
version="$("$bin" --version | awk '{print $2}')"

# The man page and completions, written by the binary itself, go into the wheel as data files
# (pyproject.toml: [tool.maturin] data), which pip installs under the environment's share/.
echo "== man page and shell completions (wheel data)"
data="$repo/wheel-data/data/share"
rm -rf "$repo/wheel-data"
mkdir -p "$data/man/man1" "$data/bash-completion/completions" "$data/zsh/site-functions" \
    "$data/fish/vendor_completions.d"
"$bin" man >"$data/man/man1/mlflow-export-import.1"
"$bin" completions bash >"$data/bash-completion/completions/mlflow-export-import"
"$bin" completions zsh >"$data/zsh/site-functions/_mlflow-export-import"
"$bin" completions fish >"$data/fish/vendor_completions.d/mlflow-export-import.fish"

echo "== wheel"
if [ "$mode" = full ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "ziglang==$zig_version"
    out="$repo/dist"
    rm -rf "$out"
    mkdir -p "$out"
    # A target directory of its own: zig as linker and C compiler, and the static build's
    # RUSTFLAGS, would each make cargo rebuild the other's artifacts in a shared one.
    PATH="$venv/bin:$PATH" CARGO_TARGET_DIR="$CARGO_TARGET_DIR/zig" "$venv/bin/maturin" build \
        --quiet --release --locked --compatibility manylinux2014 --zig --strip --out "$out"
    # Stripped: the release profile keeps line tables for backtraces (Cargo.toml), some 80 MB.
    static="$out/mlflow-export-import-$version-x86_64-linux-static"
    strip -o "$static" "$static_built"
else
    # Same profile and target directory as `cargo test`, so most of it is built already (only
    # what the tests' dev-dependencies built with other features is compiled again); the wheel
    # is tagged linux_x86_64, for this machine (no zig, no manylinux audit).
    out="$work/dist"
    "$venv/bin/maturin" build --quiet --profile dev --locked --compatibility linux --out "$out"
fi
wheel="$(ls "$out"/*.whl)"
ls -l "$out"

# --- smoke tests ----------------------------------------------------------------------------
# PATH without any directory holding cargo, rustc or rustup: the installed tool must stand alone.
no_rust_path() {
    local d kept=() IFS=:
    for d in $PATH; do
        if [ -e "$d/cargo" ] || [ -e "$d/rustc" ] || [ -e "$d/rustup" ]; then continue; fi
        kept+=("$d")
    done
    echo "${kept[*]}"
}
bare_path="$(no_rust_path)"

start_two_servers
src="${src/127.0.0.1/localhost}" # the tool resolves the host name (a static binary too)
dst="${dst/127.0.0.1/localhost}"
run_id="$(seed_run "$src" smoke-source)"
echo "source run $run_id on $src, destination $dst"

# smoke_copy NAME TOOL PATH: `--version` and a copy-run with TOOL under PATH (no Rust on it), then
# the copy is compared with its source.
smoke_copy() {
    local name="$1" tool="$2" path="$3"
    if env PATH="$path" sh -c 'command -v cargo || command -v rustc'; then
        echo "a Rust toolchain is still on PATH" >&2
        exit 1
    fi
    env PATH="$path" "$tool" --version
    env PATH="$path" "$tool" copy-run --src-uri "$src" --dst-uri "$dst" --run-id "$run_id" \
        --experiment-name "smoke-$name" --use-src-user-id >"$work/$name.log" 2>&1 \
        || { cat "$work/$name.log" >&2; exit 1; }
    check_copied_run "$src" "$run_id" "$dst" "smoke-$name"
}

echo "== wheel: pip install into a fresh venv"
user="$work/user-venv"
python3 -m venv "$user"
"$user/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel"
[ "$(env PATH="$user/bin:$bare_path" sh -c 'command -v mlflow-export-import')" = "$user/bin/mlflow-export-import" ]
smoke_copy wheel mlflow-export-import "$user/bin:$bare_path"
for f in man/man1/mlflow-export-import.1 bash-completion/completions/mlflow-export-import \
    zsh/site-functions/_mlflow-export-import fish/vendor_completions.d/mlflow-export-import.fish; do
    if [ ! -s "$user/share/$f" ]; then
        echo "the wheel did not install share/$f" >&2
        exit 1
    fi
done
grep -q '^\.TH' "$user/share/man/man1/mlflow-export-import.1"
echo "wheel: man page and bash/zsh/fish completions installed under $user/share"

if [ "$mode" = full ]; then
    echo "== static binary"
    # ldd exits non-zero on a static executable.
    ldd_out="$(ldd "$static" 2>&1 || true)"
    echo "ldd: $ldd_out"
    case "$ldd_out" in *"not a dynamic executable"* | *"statically linked"*) ;; *) exit 1 ;; esac
    smoke_copy static "$static" "$bare_path"
fi
echo "== dist: all smoke tests passed"
