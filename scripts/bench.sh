#!/usr/bin/env bash
# Builds the benchmarks in Release (-O2) in build-bench and runs them.
#   scripts/bench.sh            full run (100 MB tensor, 10^6 small values; a few minutes)
#   scripts/bench.sh --quick    about a minute
# Other arguments go to milo_bench_formats (--dir DIR, --keep, --reps N, --tensor-mb N).
#   scripts/bench.sh onnx [--quick]   the ONNX import benchmark instead (needs libonnx-dev);
# its other arguments go to milo_bench_onnx (--reps N, --model-mb N, --dir DIR, --keep).
#   scripts/bench.sh sklearn [--quick]  scikit-learn model files: pickle, joblib, PyMilo, skops
# and Milo side by side, run by the venv's Python (scripts/python_env.sh); its other arguments go
# to tests/bench/bench_sklearn.py (--reps N, --only NAME, --dir DIR, --keep).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${MILO_BENCH_BUILD_DIR:-$root/build-bench}"
jobs="${MILO_BENCH_JOBS:-2}"

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" -DCMAKE_C_FLAGS_RELEASE="-O2 -DNDEBUG" \
  -DMILO_BUILD_TESTS=ON -DMILO_BUILD_BENCH=ON >/dev/null
bench=milo_bench_formats
if [ "${1:-}" = sklearn ]; then
  shift
  python="$root/.venv/bin/python"
  if [ ! -x "$python" ]; then
    echo "bench.sh: no $python: run scripts/python_env.sh first" >&2
    exit 1
  fi
  # Without the sklearn plugin only the Python columns are measured (Milo rows say n/a).
  targets=milo
  if [ -f "$root/plugins/sklearn/CMakeLists.txt" ]; then
    targets="milo milo_sklearn milo_bench_sklearn_convert"
  fi
  cmake --build "$build" --target $targets -j "$jobs"
  MILO_LIBRARY="$build/lib/libmilo.so" exec "$python" "$root/tests/bench/bench_sklearn.py" \
    --build "$build" "$@"
fi
if [ "${1:-}" = onnx ]; then
  bench=milo_bench_onnx
  shift
fi
cmake --build "$build" --target "$bench" -j "$jobs"
exec "$build/bin/$bench" "$@"
