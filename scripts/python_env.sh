#!/usr/bin/env bash
# Creates (or refreshes) the project-local virtualenv .venv at the repository root with the
# pinned packages of scripts/requirements-test.txt, then prints the venv's python path.
# Also makes .venv-debian: Debian's /usr/bin/python3 with its own scikit-learn/numpy (system
# site packages) plus the pins of scripts/requirements-debian.txt installed without their
# dependencies (pymilo for the PyMilo reader's tests on that stack). Only .venv's python is
# printed; a failure to make .venv-debian is reported on stderr and does not fail the script.
# Idempotent: safe to rerun; it only installs what is missing or differs from the pins.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
venv="$root/.venv"
requirements="$here/requirements-test.txt"
debian_venv="$root/.venv-debian"
debian_requirements="$here/requirements-debian.txt"

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

# Exit 0 when the interpreter $1 has every pin of the file $2 (fast, works offline on reruns).
pins_satisfied() {
    "$1" - "$2" >/dev/null 2>&1 <<'PY'
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
}

if ! pins_satisfied "$venv/bin/python" "$requirements"; then
    "$venv/bin/python" -m pip install --disable-pip-version-check --quiet \
        -r "$requirements" >&2
fi

# .venv-debian needs Debian's interpreter itself (its site packages hold scikit-learn 1.2.1).
if [ -x /usr/bin/python3 ]; then
    if { [ -x "$debian_venv/bin/python" ] ||
         /usr/bin/python3 -m venv --system-site-packages "$debian_venv" >&2; } &&
       { pins_satisfied "$debian_venv/bin/python" "$debian_requirements" ||
         "$debian_venv/bin/python" -m pip install --disable-pip-version-check --quiet \
             --no-deps -r "$debian_requirements" >&2; }; then
        :
    else
        echo "python_env.sh: could not make $debian_venv; its tests will fail" >&2
    fi
fi

echo "$venv/bin/python"
