#!/usr/bin/env bash
# Fuzzes the document decoders with libFuzzer under ASan + UBSan (not part of CI).
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGETS...]      default: 600 s, json yaml pb
#   scripts/fuzz.sh 600 onnx                               the ONNX importer (needs libonnx-dev)
#   scripts/fuzz.sh 600 joblib                             the joblib/pickle reader (sdk/readers)
#   scripts/fuzz.sh 600 pickle                             the safe pickle VM (sdk/readers)
#   scripts/fuzz.sh 600 zip decompress                     zip reader, bounded decompression
#   scripts/fuzz.sh 600 sklearn                            sklearn/PyMilo importers + pickle writer
#   scripts/fuzz.sh 600 torch                              torch.save reader + .pt writer
# Corpora live in tests/fuzz/corpus/<target>/ and grow as the fuzzer finds new coverage, except
# onnx's: tests/fuzz/corpus/onnx/ holds only its seeds, the grown corpus stays in
# build-fuzz/corpus/onnx/, and joblib's: its seeds are files that Debian's joblib writes
# (tests/readers/make_joblib_cases.py) and its corpus stays in build-fuzz/corpus/joblib/.
# pickle's seeds are pickles written by Debian's Python (tests/fuzz/make_pickle_seeds.py) into
# build-fuzz/seeds/pickle/ and its corpus stays in build-fuzz/corpus/pickle/.
# zip's and decompress's seeds are small archives and streams written by Python's zipfile and
# codecs (tests/readers/make_archives.py --quick) and their corpora stay in build-fuzz/corpus/.
# Crashes are written to build-fuzz/artifacts/.
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
  elif [ "$t" = joblib ]; then
    # seeds: the real joblib files of the reader's tests up to 64 KB (every codec and protocol)
    corpus="$root/build-fuzz/corpus/joblib"
    cases="$root/build-fuzz/joblib_cases"
    [ -f "$cases/manifest.json" ] || /usr/bin/python3 "$root/tests/readers/make_joblib_cases.py" "$cases" >/dev/null
    mkdir -p "$root/build-fuzz/seeds/joblib" "$corpus"
    find "$cases" -maxdepth 1 -name '*.joblib' -size -64k -exec cp -n {} "$root/build-fuzz/seeds/joblib/" \;
    seeds=("$root/build-fuzz/seeds/joblib")
  elif [ "$t" = pickle ]; then
    # seeds: pickles of varied values, every protocol, written by Debian's Python
    corpus="$root/build-fuzz/corpus/pickle"
    mkdir -p "$root/build-fuzz/seeds/pickle" "$corpus"
    /usr/bin/python3 "$root/tests/fuzz/make_pickle_seeds.py" "$root/build-fuzz/seeds/pickle" >/dev/null
    seeds=("$root/build-fuzz/seeds/pickle")
    extra=(-dict="$root/tests/fuzz/pickle.dict")
  elif [ "$t" = sklearn ]; then
    # seeds: small fitted estimators as pickles and joblib files (first byte 0), and the PyMilo
    # JSON files of the shared fixtures (first byte 1), used in place
    corpus="$root/build-fuzz/corpus/sklearn"
    mkdir -p "$root/build-fuzz/seeds/sklearn" "$corpus"
    /usr/bin/python3 "$root/tests/fuzz/make_sklearn_seeds.py" "$root/build-fuzz/seeds/sklearn" \
      "${MILO_PYMILO_FIXTURES_DIR:-$root/../shared/fixtures/pymilo}" >/dev/null
    seeds=("$root/build-fuzz/seeds/sklearn")
    extra=(-dict="$root/tests/fuzz/pickle.dict")
  elif [ "$t" = torch ]; then
    # seeds: the torch.save files of the reader's tests up to 64 KB (written by Debian's torch)
    corpus="$root/build-fuzz/corpus/torch"
    fixtures="$root/build-fuzz/torch_fixtures"
    [ -f "$fixtures/manifest.json" ] || /usr/bin/python3 "$root/tests/plugins/torch/make_checkpoints.py" "$fixtures" >/dev/null
    mkdir -p "$root/build-fuzz/seeds/torch" "$corpus"
    find "$fixtures" -name '*.pt' -size -64k | while read -r f; do
      rel="${f#"$fixtures"/}"
      cp -n "$f" "$root/build-fuzz/seeds/torch/${rel//\//_}"
    done
    seeds=("$root/build-fuzz/seeds/torch")
    extra=(-dict="$root/tests/fuzz/pickle.dict")
  elif [ "$t" = zip ] || [ "$t" = decompress ]; then
    corpus="$root/build-fuzz/corpus/$t"
    archives="$root/build-fuzz/archives"
    [ -f "$archives/manifest.json" ] || /usr/bin/python3 "$root/tests/readers/make_archives.py" \
      "$archives" --quick --venv-python "$root/.venv/bin/python" >/dev/null
    mkdir -p "$root/build-fuzz/seeds/$t" "$corpus"
    cp -n "$archives/seeds/$t/"* "$root/build-fuzz/seeds/$t/"
    seeds=("$root/build-fuzz/seeds/$t")
    if [ "$t" = zip ]; then extra=(-dict="$root/tests/fuzz/zip.dict"); fi
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
