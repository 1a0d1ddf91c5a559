#!/bin/sh
# CLI tests of the `milo` tool, one case per CTest test:
#   sh cli_test.sh CASE MILO_BINARY DATA_DIR WORK_DIR [SAFETENSORS_PLUGIN]
# Each case runs the real binary and checks exit codes, stdout and stderr.
set -u

case_name=$1
MILO=$2
DATA=$3
WORK=$4
PLUGIN=${5:--}

. "$(dirname "$0")/cli_harness.sh"


A="$DATA/model_a.json"
B="$DATA/model_b.json"

case "$case_name" in

usage)
    run; expect_code 2; expect_err "usage: milo"
    run frobnicate; expect_code 2; expect_err "milo: unknown command 'frobnicate'"
    run --bogus; expect_code 2; expect_err "unknown option '--bogus'"
    run inspect; expect_code 2; expect_err "milo: inspect: expected exactly one FILE"
    expect_err "usage: milo inspect"
    run inspect --bogus "$A"; expect_code 2; expect_err "milo: inspect: unknown option '--bogus'"
    run inspect --depth abc "$A"; expect_code 2; expect_err "--depth"
    run convert "$A"; expect_code 2; expect_err "expected IN and OUT"
    run convert --to xml "$A" -; expect_code 2; expect_err "unknown format 'xml'"
    run convert --tensors huge "$A" -; expect_code 2; expect_err "--tensors expects"
    run convert --indent 99 "$A" -; expect_code 2; expect_err "--indent"
    run convert --tensors external "$A" -; expect_code 2; expect_err "needs an output file"
    run convert "$A" out.unknownext; expect_code 2; expect_err "cannot tell the output format"
    run convert --transporter nosuch "$A" -; expect_code 2; expect_err "unknown transporter 'nosuch'"
    run convert --to; expect_code 2; expect_err "needs a value"
    run diff "$A"; expect_code 2; expect_err "expected two inputs"
    run diff - -; expect_code 2; expect_err "only one input can be standard input"
    run validate; expect_code 2
    run scan; expect_code 2
    run plugins extra; expect_code 2
    run version extra; expect_code 2
    run help nosuch; expect_code 2; expect_err "unknown command 'nosuch'"
    run inspect --json=yes "$A"; expect_code 2; expect_err "takes no value"
    # '--' ends the options: what follows is a file name, even when it starts with '-'
    run inspect -- --all; expect_code 6; expect_err "--all: no such file"
    run inspect --all -- "$A" extra; expect_code 2; expect_err "expected exactly one FILE"
    ;;

help_version)
    run help; expect_code 0; expect_out "exit codes:"; expect_out "convert"; expect_out "diff"
    expect_out "6  a file is missing"
    run --help; expect_code 0; expect_out "commands:"
    for c in convert inspect validate diff scan plugins version help; do
        run help "$c"; expect_code 0; expect_out "usage: milo $c"
        run "$c" --help; expect_code 0; expect_out "usage: milo $c"
    done
    run version; expect_code 0; expect_out "milo 0.1.0"; expect_out "ABI"
    run --version; expect_code 0; expect_out "milo 0.1.0"
    run -- inspect --help; expect_code 0; expect_out "usage: milo inspect"
    ;;

plugins)
    run plugins; expect_code 0
    expect_out "plugins ("; expect_out "transporters ("; expect_out "formats ("
    expect_out "json"; expect_out "yaml"; expect_out "pb"; expect_out ".json"
    run --no-default-plugins plugins; expect_code 0; expect_out "skipped"
    run plugins --plugin /nonexistent/milo_nothing.so; expect_code 6
    expect_err "/nonexistent/milo_nothing.so"
    echo "not a shared library" > milo_fake.so
    run --plugin "$WORK/milo_fake.so" plugins; expect_code 7; expect_err "milo_fake.so"
    ;;

convert_roundtrip)
    # Normalise the hand-written input, then JSON → YAML → protobuf → JSON gives the same bytes.
    run convert "$A" a.json; expect_code 0; expect_empty_out
    run convert a.json a.yaml; expect_code 0
    run convert a.yaml a.pb; expect_code 0
    run convert a.pb b.json; expect_code 0
    same_bytes a.json b.json
    run convert --to yaml a.json y2; expect_code 0
    same_bytes a.yaml y2
    run convert --to pb a.yaml p2; expect_code 0
    same_bytes a.pb p2
    # every storage mode decodes to the same document
    run convert --tensors compact a.json c.json; expect_code 0
    grep -q '"base64"' c.json || fail "compact output has no base64 tensors"
    run convert --tensors readable c.json r.json; expect_code 0
    same_bytes a.json r.json
    run convert --tensors external a.json e.json; expect_code 0
    [ -f e.safetensors ] || fail "no e.safetensors written"
    run validate e.json; expect_code 0
    run diff a.json e.json; [ "$code" = 0 ] || [ "$code" = 1 ] || fail "diff exit $code"
    expect_no_out "/root"
    run convert e.json back.json; expect_code 0
    same_bytes a.json back.json
    # a tampered or missing external tensor file is refused
    cp e.safetensors saved.safetensors
    python3 -c "
b = bytearray(open('e.safetensors', 'rb').read()); b[-1] ^= 1
open('e.safetensors', 'wb').write(b)" || fail "python3 missing"
    run validate e.json; expect_code 3; expect_err "/milo/external/sha256"
    rm e.safetensors
    run validate e.json; expect_code 6; expect_err "e.safetensors"
    mv saved.safetensors e.safetensors
    run validate e.json; expect_code 0
    run convert --indent 0 a.json one.json; expect_code 0
    [ "$(wc -l <one.json)" -le 1 ] || fail "--indent 0 should give one line"
    run diff a.json one.json; expect_code 0
    ;;

convert_stdio)
    run convert "$A" a.json; expect_code 0
    run convert a.json -; expect_code 0
    cp out.txt stdout.json
    same_bytes a.json stdout.json
    run convert --to yaml a.json -; expect_code 0
    cp out.txt stdout.yaml
    run convert a.json a.yaml; expect_code 0
    same_bytes a.yaml stdout.yaml
    run_in a.yaml convert - from_stdin.json; expect_code 0
    same_bytes a.json from_stdin.json
    run convert a.json a.pb; expect_code 0
    run_in a.pb convert - -; expect_code 0
    cp out.txt pb_stdin.json
    same_bytes a.json pb_stdin.json
    run_in a.json inspect -; expect_code 0; expect_out "<stdin>"
    run_in a.json validate -; expect_code 0; expect_out "<stdin>: valid Milo document"
    run_in a.json diff - a.json; expect_code 0
    run_in "$DATA/not_a_model.txt" --no-default-plugins convert - x.json; expect_code 5
    expect_err "<stdin>"
    [ ! -e x.json ] || fail "output written for a failed conversion"
    ;;

inspect)
    run inspect "$A"; expect_code 0
    expect_out "      again: (ref #1)"
    expect_out "      ... 2 more (--width N or --all shows them)"
    run inspect --all "$A"; expect_code 0
    expect_out "scikit-learn 1.2.1"; expect_out "sklearn (revision 1)"
    expect_out "sklearn.linear_model._base.LinearRegression"; expect_out "team = fraud"
    expect_out "coef_: tensor float64 [3]  min -1.25  max 3  mean 0.75"
    expect_out "weights: tensor float32 [2, 3]  min -0  max 4  mean 2.1  nan 1"
    expect_out "half: tensor float16 [2]  min -2  max 0.5"
    expect_out "brain: tensor bfloat16 [2]  min 1.5  max 8"
    expect_out "mask: tensor bool [4]  true 3 of 4"
    expect_out "idx: tensor int64 [2, 2]  min -2  max 4  mean 1.5"
    expect_out "z: tensor complex64 [2]  |z| min 1  max 5  mean 3"
    expect_out "labels: tensor string [2]"
    expect_out "nodes: tensor record{left:int64, value:float64} [2]"
    expect_out "shared: list (2 items)  #1"
    expect_out "again: (ref #1)"
    expect_out "big: int 123456789012345678901234567890"
    expect_out "bad: float nan"
    expect_out "\$escaped: string \"dollar\""
    expect_out "dtype: global numpy.float64"
    expect_out "trust:        2 trusted, 0 untrusted, 0 dangerous"
    # 3 + 6 + 2 + 2 + 4 + 4 + 2 numeric elements
    expect_out "23 parameters"
    run inspect --depth 1 "$A"; expect_code 0; expect_out "root: object"; expect_no_out "coef_"
    run inspect --width 2 "$A"; expect_code 0; expect_out "more (--width N or --all shows them)"
    run inspect --depth 0 "$A"; expect_code 0; expect_no_out "tree:"
    run inspect --all "$A"; expect_code 0; expect_out "coef_"
    run inspect --json "$A"; expect_code 0
    expect_out '"dtype": "float64", "shape": [3]'
    expect_out '"parameters": 23'
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import json,sys; json.load(open("out.txt"))' || fail "--json output is not JSON"
    fi
    run inspect "$DATA/cycle.json"; expect_code 0
    expect_out "root: list (2 items)  #1"; expect_out "self: (ref #1)"
    ;;

validate)
    run validate "$A"; expect_code 0
    expect_out "model_a.json: valid Milo document (format v1, "
    expect_out "tensors, "
    run validate "$A" "$B" "$DATA/cycle.json"; expect_code 0
    run validate "$A" "$DATA/corrupt_trailing.json" "$B"; expect_code 3
    expect_out "model_b.json: valid"; expect_err "corrupt_trailing.json"
    run validate "$DATA/not_a_model.txt"; expect_code 5; expect_err "not a Milo document"
    ;;

diff_equal)
    run diff "$A" "$A"; expect_code 0; expect_empty_out
    run convert "$A" a.yaml; expect_code 0
    run diff "$A" a.yaml; expect_code 0
    run convert "$A" a.pb; expect_code 0
    run diff a.pb "$A"; expect_code 0
    run diff "$DATA/cycle.json" "$DATA/cycle.json"; expect_code 0
    ;;

diff_different)
    run diff "$A" "$B"; expect_code 1
    expect_out "/milo/framework/version: \"1.2.1\" vs \"1.3.0\""
    expect_out "/root/state/alpha: 0.5 vs 0.25"
    expect_out "/root/state/name: only in A"
    expect_out "/root/state/extra: only in B"
    expect_out "/root/state/coef_: tensor data differs: 1 of 3 elements, first at [2] (3.0 vs 3.5), max abs diff 0.5"
    expect_out "/root/state/weights: tensor data differs: 2 of 6 elements, first at [0, 2]"
    expect_out "/root/state/idx: shape differs: [2, 2] vs [4]"
    run diff "$B" "$A"; expect_code 1; expect_out "/root/state/name: only in B"
    run diff "$A" "$DATA/cycle.json"; expect_code 1; expect_out "/root: kind differs: object vs list"
    ;;

diff_cap)
    # 60 differing keys: output stops at 50 lines unless --all.
    python3 - <<'EOF' || exit 1
import json
def doc(v):
    return {"milo": {"format_version": 1}, "root": {("k%02d" % i): v + i for i in range(60)}}
json.dump(doc(0), open("m1.json", "w"))
json.dump(doc(1), open("m2.json", "w"))
EOF
    run diff m1.json m2.json; expect_code 1
    [ "$(wc -l <out.txt)" = 51 ] || fail "expected 50 lines and a summary"
    expect_out "... 10 more differences (--all shows every one)"
    run diff --all m1.json m2.json; expect_code 1
    [ "$(wc -l <out.txt)" = 60 ] || fail "expected 60 lines with --all"
    ;;

corrupt)
    run validate "$DATA/corrupt_trailing.json"; expect_code 3; expect_err "milo: validate: "
    expect_err "corrupt_trailing.json"
    run inspect "$DATA/corrupt_dtype.json"; expect_code 3; expect_err "/root/state/w"
    expect_err "float33"
    run convert "$DATA/corrupt_truncated.json" x.json; expect_code 3
    expect_err "milo: convert: "; expect_err "corrupt_truncated.json"
    [ ! -e x.json ] || fail "output written for corrupt input"
    run diff "$A" "$DATA/corrupt_count.json"; expect_code 3; expect_err "/root/w"
    # a truncated protobuf document
    run convert "$A" a.pb; expect_code 0
    head -c 100 a.pb >cut.pb
    run validate cut.pb; [ "$code" = 3 ] || [ "$code" = 5 ] || fail "truncated pb: exit $code"
    ;;

unsupported)
    run validate "$DATA/future_version.json"; expect_code 5; expect_err "future_version.json"
    run --no-default-plugins inspect "$DATA/not_a_model.txt"; expect_code 5
    expect_err "not a Milo document, and no transporter recognises it"
    run convert --no-default-plugins "$DATA/not_a_model.txt" x.json; expect_code 5
    : >empty.bin
    run inspect empty.bin; [ "$code" = 3 ] || [ "$code" = 5 ] || fail "empty file: exit $code"
    ;;

missing_file)
    run inspect nosuchfile.json; expect_code 6; expect_err "nosuchfile.json: no such file"
    run validate nosuchfile.json; expect_code 6
    run diff "$A" nosuchfile.json; expect_code 6
    run convert nosuchfile.json out.json; expect_code 6
    run inspect "$WORK"; expect_code 6; expect_err "is a directory"
    run convert "$A" "$WORK/no/such/dir/out.json"; expect_code 6
    ;;

scan)
    run scan "$A"; expect_code 0; expect_out "2 trusted, 0 untrusted, 0 dangerous"
    run scan "$DATA/dangerous.json"; expect_code 4
    expect_out "dangerous  os.system (call)"; expect_out "untrusted  mylib.Custom (instantiate)"
    expect_out "trusted    collections.OrderedDict (instantiate)"
    expect_err "dangerous content"
    run inspect "$DATA/dangerous.json"; expect_code 0
    expect_out "1 trusted, 1 untrusted, 1 dangerous"; expect_out "dangerous   os.system (call)"
    ;;

native_safetensors)
    # document → native file → document through a transporter plugin
    [ "$PLUGIN" != "-" ] || fail "no plugin given"
    P="--no-default-plugins --plugin $PLUGIN"
    cat >w.json <<'EOF'
{"milo": {"format_version": 1, "framework": {"name": "safetensors"},
          "transporter": {"id": "safetensors", "revision": 1}, "type": "safetensors.StateDict",
          "metadata": {"model": "tiny"}},
 "root": {"$object": "safetensors.StateDict", "state": {
   "w": {"$tensor": {"dtype": "float32", "shape": [2, 2], "data": [1.0, 2.0, 3.0, {"$float": "nan"}]}},
   "b": {"$tensor": {"dtype": "int64", "shape": [2], "data": [7, 8]}}}}}
EOF
    run $P plugins; expect_code 0; expect_out "safetensors  framework: safetensors"
    run $P convert w.json w.safetensors; expect_code 0
    [ -s w.safetensors ] || fail "no native file written"
    run $P inspect w.safetensors; expect_code 0
    expect_out "native, read by transporter safetensors"
    expect_out "w: tensor float32 [2, 2]  min 1  max 3  mean 2  nan 1"
    run $P convert w.safetensors w2.json; expect_code 0
    run $P diff --no-header w.json w2.json; expect_code 0
    run $P diff w.json w2.json; expect_code 1; expect_out "/milo/source/kind: only in B"
    run $P diff --no-header w.json w.safetensors; expect_code 0
    run_in w.safetensors $P convert - w3.json; expect_code 0
    run $P convert w3.json w3.safetensors; expect_code 0
    same_bytes w.safetensors w3.safetensors
    run $P convert --transporter safetensors w.safetensors -; expect_code 0
    expect_out '"type": "safetensors.StateDict"'
    run $P validate w.safetensors; expect_code 5; expect_err "not a Milo document"
    head -c 50 w.safetensors >cut.safetensors
    run $P inspect cut.safetensors; expect_code 3; expect_err "cut.safetensors"
    # without the plugin the native file is not recognised, and .safetensors is no format
    run --no-default-plugins inspect w.safetensors; expect_code 5
    run --no-default-plugins convert w.json x.safetensors; expect_code 2
    ;;

*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
exit 0
