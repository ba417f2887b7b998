# Sourced by tools/run, tools/test, tools/check and tools/lock: create or reuse .venv and
# install exactly what requirements.lock says, then the project itself. Reinstalls only when
# the lock or pyproject.toml changed since the last install.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    "$python" -m venv "$venv"
fi

stamp="$venv/.eventsvc-installed"
want="$(cat "$root/pyproject.toml" "$root/requirements.lock" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "installing eventsvc and its locked dependencies into $venv" >&2
    pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
    # torch first and outside the lock: the exact version is a CPU wheel this machine already
    # holds, and any other requirement may pull a multi-GB build. The lock then pins torch's
    # dependencies too, and the project goes in last with no resolution of its own.
    # (Lines about this machine's configured-but-absent local indexes are only noise.)
    {
        "${pip[@]}" "torch==2.13.0"
        "${pip[@]}" -r "$root/requirements.lock"
        "${pip[@]}" --no-deps --no-build-isolation -e "$root"
    } 2>&1 | { grep -v "^WARNING: Location '.*' is ignored" || true; }
    echo "$want" > "$stamp"
fi
export PATH="$venv/bin:$PATH"
