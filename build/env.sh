# Sourced by build/serve, build/test and .ci/run: makes .venv with pm-fast installed
# (editable, so the Rust extension is compiled by maturin) and rebuilds it when the
# Rust sources or the project metadata change. Needs python3.11, cargo and gcc.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3

if [ ! -x "$VENV/bin/python" ]; then
    echo "build: creating $VENV" >&2
    "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi

stamp="$VENV/.pm-fast-build"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/pm_fast_ext/Cargo.toml" "$ROOT/pm_fast_ext/Cargo.lock" \
        "$ROOT"/pm_fast_ext/src/*.rs 2>/dev/null | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || ! "$VENV/bin/python" -c "import pm_fast_ext._native" 2>/dev/null; then
    echo "build: installing pm-fast and compiling pm_fast_ext (first run takes a few minutes)" >&2
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT[test,robyn]"
    echo "$want" > "$stamp"
fi
export PATH="$VENV/bin:$PATH"
