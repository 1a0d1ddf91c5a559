#!/usr/bin/env bash
# Fuzzes the document decoders with libFuzzer under ASan + UBSan (not part of CI).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGETS...]      default: 600 s, json yaml pb
# Corpora live in tests/fuzz/corpus/<target>/ and grow as the fuzzer finds new coverage;
# crashes are written to build-fuzz/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-600}"
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(json yaml pb); fi
"$root/scripts/deps.sh"
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -DMILO_FUZZ=ON -DMILO_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$root/build-fuzz" -j2 --target fuzz_json fuzz_yaml fuzz_pb make_fuzz_seeds
mkdir -p "$root/build-fuzz/artifacts" "$root/build-fuzz/seeds"/{json,yaml,pb}
"$root/build-fuzz/bin/make_fuzz_seeds" "$root/build-fuzz/seeds" 60
for t in "${targets[@]}"; do
  corpus="$root/tests/fuzz/corpus/$t"
  mkdir -p "$corpus"
  # golden and must-fail files of the format are seeds too
  ext=$t; [ "$t" = json ] || [ "$t" = yaml ] || ext=pb
  seeds=("$root/build-fuzz/seeds/$t")
  for f in "$root"/tests/golden/v1/*."$ext" "$root"/tests/golden/v1/must_fail/*."$ext"; do
    [ -f "$f" ] && cp -n "$f" "$root/build-fuzz/seeds/$t/" || true
  done
  echo "== fuzz_$t for ${secs}s =="
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$root/build-fuzz/bin/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$root/build-fuzz/artifacts/$t-" \
      -print_final_stats=1 "$corpus" "${seeds[@]}" 2>&1 | tail -25
done
