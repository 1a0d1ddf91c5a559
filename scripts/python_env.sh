#!/usr/bin/env bash
# Creates (or refreshes) the project-local virtualenv .venv at the repository root with the
# pinned packages of scripts/requirements-test.txt, then prints the venv's python path.
# Idempotent: safe to rerun; it only installs what is missing or differs from the pins.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$root/.venv"
requirements="$here/requirements-test.txt"

python=""
for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then
        python="$candidate"
        break
    fi
done
if [ -z "$python" ]; then
    echo "python_env.sh: no python3 found" >&2
    exit 1
fi

if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" >&2
fi

# Skip pip entirely when every pin is already satisfied (fast, works offline on reruns).
if ! "$venv/bin/python" - "$requirements" >/dev/null 2>&1 <<'PY'
import sys
from importlib.metadata import version, PackageNotFoundError
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    name, _, pinned = line.partition("==")
    try:
        if version(name.strip()) != pinned.strip():
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
PY
then
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
        -r "$requirements" >&2
fi

echo "$venv/bin/python"
