#!/usr/bin/env bash
# Configures and builds Milo into build/ (or $1) with the given extra CMake arguments.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dir="${1:-$root/build}"
shift || true
# Quiet, except for which language toolchains the adapter tests will use (or skip, and why).
cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE="${MILO_BUILD_TYPE:-RelWithDebInfo}" "$@" |
  { grep -E '^-- (Python|Rust|Go) adapter:' || true; }
cmake --build "$dir" -j"${MILO_JOBS:-2}"
