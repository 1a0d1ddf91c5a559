#!/usr/bin/env bash
# Second command of the README (and what CI runs): build and run the whole test suite, then
# the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer.
# MILO_SKIP_SANITIZE=1 skips the sanitizer pass.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
# Python test-side packages (safetensors, numpy) in a project-local venv; tests that need them
# say so and skip when it could not be made.
"$root/scripts/python_env.sh" || echo "test: python venv unavailable; Python-side checks will be skipped"
"$root/scripts/build.sh" "$root/build"
(cd "$root/build" && ctest --output-on-failure -j2)
if [ "${MILO_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== sanitizer build (ASan + UBSan; the Python, Rust and Go adapter tests ran above) =="
  MILO_BUILD_TYPE=Debug "$root/scripts/build.sh" "$root/build-asan" -DMILO_SANITIZE=ON -DMILO_BUILD_BENCH=OFF
  # Label "slow": the estimator sweeps and the corpus self-check, which exercise Python far more
  # than Milo's code; the value round trips and the adversarial corpus do run under ASan.
  (cd "$root/build-asan" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
     UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 MILO_PROPERTY_ITERATIONS=300 \
     ctest --output-on-failure -j2 -LE slow)
fi
echo "test: all suites passed"
