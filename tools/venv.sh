# Sourced by tools/run, tools/test and tools/check: create or reuse .venv and install what the
# project needs. Reinstalls only when pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi

stamp="$venv/.eventsvc-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing eventsvc and its dependencies into $venv" >&2
    pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
    # The exact torch version first: it is a CPU wheel this machine already holds; the torch
    # extra's range is then satisfied and pulls no multi-GB build.
    # (Lines about this machine's configured-but-absent local indexes are only noise.)
    {
        "${pip[@]}" "torch==2.13.0"
        "${pip[@]}" -e "$root[torch,postgres,dev]"
    } 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
    echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
