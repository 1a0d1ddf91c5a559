#!/usr/bin/env bash
# Fuzzes the document decoders with libFuzzer under ASan + UBSan (not part of CI).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGETS...]      default: 600 s, json yaml pb
#   scripts/fuzz.sh 600 onnx                               the ONNX importer (needs libonnx-dev)
# Corpora live in tests/fuzz/corpus/<target>/ and grow as the fuzzer finds new coverage, except
# onnx's: tests/fuzz/corpus/onnx/ holds only its seeds, the grown corpus stays in
# build-fuzz/corpus/onnx/. Crashes are written to build-fuzz/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
secs="${1:-600}"
shift || true
if [ $# -gt 0 ]; then targets=("$@"); else targets=(json yaml pb); fi
"$root/scripts/deps.sh"
CC=clang CXX=clang++ cmake -S "$root" -B "$root/build-fuzz" -DMILO_FUZZ=ON -DMILO_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
build_targets=(make_fuzz_seeds)
for t in "${targets[@]}"; do build_targets+=("fuzz_$t"); done
cmake --build "$root/build-fuzz" -j2 --target "${build_targets[@]}"
mkdir -p "$root/build-fuzz/artifacts" "$root/build-fuzz/seeds"/{json,yaml,pb}
"$root/build-fuzz/bin/make_fuzz_seeds" "$root/build-fuzz/seeds" 60
for t in "${targets[@]}"; do
  extra=()
  if [ "$t" = onnx ]; then
    # seeds: the generated models kept in the repository, plus the real models of the shared
    # fixture corpus up to 64 KB, used in place (copied into the build tree, never the repo)
    corpus="$root/build-fuzz/corpus/onnx"
    fixtures="${MILO_ONNX_FIXTURES_DIR:-$root/../shared/fixtures/onnx}"
    mkdir -p "$root/build-fuzz/seeds/onnx"
    if [ -d "$fixtures" ]; then
      find "$fixtures" -name '*.onnx' -size -64k | while read -r f; do
        rel="${f#"$fixtures"/}"
        cp -n "$f" "$root/build-fuzz/seeds/onnx/${rel//\//_}"
      done
    fi
    seeds=("$root/tests/fuzz/corpus/onnx" "$root/build-fuzz/seeds/onnx")
    extra=(-dict="$root/tests/fuzz/onnx.dict")
    mkdir -p "$corpus"
  else
    corpus="$root/tests/fuzz/corpus/$t"
    mkdir -p "$corpus"
    # golden and must-fail files of the format are seeds too
    ext=$t; [ "$t" = json ] || [ "$t" = yaml ] || ext=pb
    seeds=("$root/build-fuzz/seeds/$t")
    for f in "$root"/tests/golden/v1/*."$ext" "$root"/tests/golden/v1/must_fail/*."$ext"; do
      [ -f "$f" ] && cp -n "$f" "$root/build-fuzz/seeds/$t/" || true
    done
  fi
  echo "== fuzz_$t for ${secs}s =="
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$root/build-fuzz/bin/fuzz_$t" -max_total_time="$secs" -max_len=65536 -timeout=10 \
      -rss_limit_mb=2048 -artifact_prefix="$root/build-fuzz/artifacts/$t-" \
      -print_final_stats=1 "${extra[@]}" "$corpus" "${seeds[@]}" 2>&1 | grep -v "# Uses: " | tail -25
done
