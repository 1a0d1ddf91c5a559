#!/bin/sh
# ONNX part of the CLI tests: `milo inspect` and `milo diff` on real ONNX models, read by the
# onnx plugin from its default folder beside libmilo, and on documents made from them.
#   sh onnx_cli_test.sh CASE MILO_BINARY WORK_DIR FIXTURES_DIR PYTHON TESTS_DIR
# PYTHON (a Python with the onnx package, the project venv) makes modified models; cases that
# need it print "SKIPPED: ..." and exit 77 when it is missing.
set -u

case_name=$1
MILO=$2
WORK=$3
FIXTURES=$4
PYTHON=$5
HERE=$6

. "$(dirname "$0")/cli_harness.sh"

# expect_lines N PATTERN: exactly N stdout lines match the basic regex PATTERN.
expect_lines() {
    n=$(grep -c -- "$2" out.txt)
    [ "$n" = "$1" ] || fail "expected $1 lines matching '$2', got $n"
}
# expect_text FILE: FILE (the expected text, from a here-document) equals out.txt, where the
# lines starting with /milo/source/sha256 (file hashes) are left out.
expect_text() {
    grep -v '^/milo/source/sha256: ' out.txt >actual.txt
    cmp -s "$1" actual.txt || { diff "$1" actual.txt >&2; fail "output differs from $1"; }
}
# view FILE: the model view of `milo inspect` (from "onnx model:" on) into FILE.
view() { sed -n '/^onnx model:$/,$p' out.txt >"$1"; }
need_python() {
    if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c "import onnx, numpy" 2>/dev/null; then
        echo "SKIPPED: no Python with onnx at $PYTHON (scripts/python_env.sh makes it)"
        exit 77
    fi
}

SQUEEZE="$FIXTURES/light/light_squeezenet.onnx"
RESNET="$FIXTURES/light/light_resnet50.onnx"
if [ "$case_name" != onnx_hostile ]; then  # the hostile case is a hand-written document
    if [ ! -d "$FIXTURES" ]; then
        echo "SKIPPED: ONNX fixture corpus not found at $FIXTURES (-DMILO_ONNX_FIXTURES_DIR=...)"
        exit 77
    fi
    [ -f "$SQUEEZE" ] && [ -f "$RESNET" ] || fail "ONNX fixtures missing in $FIXTURES"
fi

case "$case_name" in

onnx_inspect)
    # the plugin comes from the default folder: no --plugin needed
    run inspect "$SQUEEZE"; expect_code 0; expect_empty_err
    expect_line "input:        native, read by transporter onnx"
    expect_line "type:         onnx.ModelProto"
    expect_line "onnx model:"
    expect_line "  ir_version:    3"
    expect_line "  producer:      onnx-caffe2"
    expect_line "  opsets:        ai.onnx 9"
    expect_line "  graph:         squeezenet_old (105 nodes, 52 initializers, 0 value_info)"
    # 53 graph inputs, 52 of them initializers
    expect_line "inputs (1):"
    expect_line "  data_0: float[1, 3, 224, 224]"
    expect_line "nodes (105):"
    expect_lines 105 '^  \[[0-9]*\] '
    expect_line "  [0] ConstantOfShape conv10_b_0__SHAPE -> conv10_b_0  {value=float[1](0.02)}"
    expect_line "  [39] n0: Conv data_0, conv1_w_0, conv1_b_0 -> r0  {strides=[2, 2], pads=[0, 0, 0, 0], kernel_shape=[3, 3]}"
    expect_line "  [40] n1: Relu r0 -> r1"
    expect_line "  [48] n9: Concat r6, r8 -> r9  {axis=1}"
    expect_line "outputs (1):"
    expect_line "  softmaxout_1: float[1, 1000, 1, 1]"
    # numbers checked against numpy: 640 float32 + 117 int64 elements
    expect_line "initializers (52): 757 parameters, 3496 bytes"
    expect_line "  float  13 tensors  640 parameters  2560 bytes"
    expect_line "  int64  39 tensors  117 parameters   936 bytes"
    expect_line "largest initializers (10 of 52, --all shows every one):"
    expect_line "  name                  type       bytes         min        max          mean"
    expect_line "  conv1_b_0             float[64]    256  -0.0792504   0.263434     0.0312751"
    expect_line "  fire2/expand1x1_b_0   float[64]    256  -0.0600555   0.146023     0.0220392"
    expect_line "  fire4/squeeze1x1_b_0  float[32]    128    -0.10886   0.138829     0.0133699"
    expect_line "parameters:     757"
    expect_line "functions (0): none"
    expect_line "tree:         not shown for ONNX models (--tree shows it)"
    expect_no_out "root: object"
    view squeeze_view.txt

    run inspect "$RESNET"; expect_code 0
    expect_line "  graph:         resnet50 (415 nodes, 269 initializers, 0 value_info)"
    expect_line "  gpu_0/data_0: float[1, 3, 224, 224]"
    expect_line "  gpu_0/softmax_1: float[1, 1000]"
    expect_line "initializers (269): 2194 parameters, 10380 bytes"
    expect_line "  gpu_0/res2_0_branch2a_bn_b_0    float[64]    256   -1.79737  4.60738   0.412555"
    expect_lines 415 '^  \[[0-9]*\] '

    # --all: every initializer in the table, and the tree
    run inspect --all "$SQUEEZE"; expect_code 0
    expect_line "largest initializers (52 of 52):"
    expect_line "  conv10_b_0__SHAPE            int64[1]       8"
    expect_line "tree:"
    expect_line "  root: object onnx.ModelProto"
    # --tree, --depth N, --width N add the tree; --depth 0 is the header only
    run inspect --tree "$SQUEEZE"; expect_code 0
    expect_line "onnx model:"; expect_line "      producer_name: string \"onnx-caffe2\""
    run inspect --depth 2 "$SQUEEZE"; expect_code 0
    expect_line "onnx model:"; expect_line "    state: map (8 entries)  ..."
    run inspect --width 2 "$SQUEEZE"; expect_code 0
    expect_line "      ... 6 more (--width N or --all shows them)"
    run inspect --depth 0 "$SQUEEZE"; expect_code 0
    expect_no_out "onnx model:"; expect_no_out "tree:"
    expect_line "trust:        0 trusted, 0 untrusted, 0 dangerous"

    # string attributes are proto bytes in the document: shown as text when they are UTF-8
    run inspect "$FIXTURES/simple/test_strnorm_model_monday_casesensintive_lower/model.onnx"
    expect_code 0
    expect_line '  [0] StringNormalizer x -> y  {case_change_action="LOWER", is_case_sensitive=1, stopwords=["monday"]}'
    expect_line "  x: string[4]"

    # --json: an "onnx" member with the same facts, no tree unless asked
    run inspect --json "$SQUEEZE"; expect_code 0
    expect_no_out '"tree":'
    python3 - <<'EOF' || fail "--json: wrong onnx member"
import json
d = json.load(open("out.txt"))
o = d["onnx"]
assert o["ir_version"] == 3 and o["producer_name"] == "onnx-caffe2", o["ir_version"]
assert o["opsets"] == [{"domain": "ai.onnx", "version": 9}], o["opsets"]
assert o["parameters"] == 757
s = o["initializer_stats"]
assert (s["count"], s["parameters"], s["bytes"]) == (52, 757, 3496), s
assert s["by_dtype"] == {"float": {"count": 13, "parameters": 640, "bytes": 2560},
                         "int64": {"count": 39, "parameters": 117, "bytes": 936}}, s
g = o["graph"]
assert g["name"] == "squeezenet_old" and len(g["nodes"]) == 105 and len(g["initializers"]) == 52
assert g["inputs"] == [{"name": "data_0", "type": "float[1, 3, 224, 224]"}], g["inputs"]
assert g["outputs"] == [{"name": "softmaxout_1", "type": "float[1, 1000, 1, 1]"}]
assert g["nodes"][39] == {"name": "n0", "op_type": "Conv", "domain": "",
                          "inputs": ["data_0", "conv1_w_0", "conv1_b_0"], "outputs": ["r0"],
                          "attributes": {"strides": [2, 2], "pads": [0, 0, 0, 0],
                                         "kernel_shape": [3, 3]}}, g["nodes"][39]
assert g["nodes"][0]["attributes"]["value"] == {"name": "", "dtype": "float", "shape": [1],
                                                "values": [0.02]}, g["nodes"][0]
b = next(t for t in g["initializers"] if t["name"] == "conv1_b_0")
assert (b["dtype"], b["shape"], b["elements"], b["bytes"], b["storage"]) == \
    ("float", [64], 64, 256, "raw_data"), b
assert abs(b["min"] - -0.0792504) < 1e-7 and abs(b["max"] - 0.263434) < 1e-6, b
EOF
    run inspect --json --tree "$SQUEEZE"; expect_code 0
    python3 -c 'import json; d = json.load(open("out.txt")); assert "tree" in d and "onnx" in d' ||
        fail "--json --tree: no tree"
    ;;

onnx_document)
    # A document made from an ONNX file shows the same model view without the plugin.
    run inspect "$SQUEEZE"; expect_code 0; view expected.txt
    for ext in json yaml pb; do
        run convert "$SQUEEZE" "squeeze.$ext"; expect_code 0
        run --no-default-plugins inspect "squeeze.$ext"; expect_code 0
        expect_line "input:        Milo document ($ext)"
        view got.txt
        cmp -s expected.txt got.txt || { diff expected.txt got.txt >&2; fail "$ext: view differs"; }
        run diff "$SQUEEZE" "squeeze.$ext"; expect_code 0
        [ ! -s out.txt ] || fail "$ext: the document differs from its model"
    done
    run convert --tensors compact "$SQUEEZE" compact.json; expect_code 0
    run --no-default-plugins inspect compact.json; expect_code 0; view got.txt
    cmp -s expected.txt got.txt || fail "compact tensors: view differs"
    run --no-default-plugins diff squeeze.json squeeze.yaml; expect_code 0
    ;;

onnx_hostile)
    # A hand-written document whose graph holds itself in two If branches ($ref), and fields of
    # unexpected kinds: every graph is shown once, nothing loops.
    run inspect "$HERE/data/onnx_shared_graph.json"; expect_code 0
    expect_line "  graph:         loop (3 nodes, 0 initializers, 0 value_info)"
    expect_line "  [0] If c -> y  {then_branch=<graph loop: 3 nodes>, else_branch=<graph loop: 3 nodes>}"
    expect_line "      then_branch: graph loop (shown above)"
    expect_line "      else_branch: graph loop (shown above)"
    expect_line '  [1] "" 1, x ->   {odd=?}'
    expect_lines 5 '^  *\[[0-9]\] \|(shown above)$'
    run inspect --json "$HERE/data/onnx_shared_graph.json"; expect_code 0
    python3 - <<'EOF' || fail "--json: shared graph"
import json
g = json.load(open("out.txt"))["onnx"]["graph"]
assert g["nodes"][0]["attributes"]["then_branch"] == {"name": "loop", "shown_above": True}, g
EOF
    sed 's/"odd", "type": 99/"odd", "type": 98/' "$HERE/data/onnx_shared_graph.json" >other.json
    run diff "$HERE/data/onnx_shared_graph.json" other.json; expect_code 1
    expect_line 'node [1] ("" 1, x -> ): attribute odd: type 99 vs 98 (? vs ?)'
    run diff "$HERE/data/onnx_shared_graph.json" "$HERE/data/onnx_shared_graph.json"; expect_code 0
    ;;

onnx_diff_models)
    run diff "$SQUEEZE" "$SQUEEZE"; expect_code 0; [ ! -s out.txt ] || fail "a model differs from itself"
    # two different real models; 66 node names match, 8 of those nodes are identical (numpy)
    run diff --all "$SQUEEZE" "$RESNET"; expect_code 1
    expect_line '/root/state/graph/state/name: "squeezenet_old" vs "resnet50"'
    expect_line 'input "data_0": removed (float[1, 3, 224, 224])'
    expect_line 'input "gpu_0/data_0": added (float[1, 3, 224, 224])'
    expect_line 'output "softmaxout_1": removed (float[1, 1000, 1, 1])'
    expect_line 'output "gpu_0/softmax_1": added (float[1, 1000])'
    expect_line 'node [0] (ConstantOfShape conv10_b_0__SHAPE -> conv10_b_0): removed'
    expect_line 'initializer "conv1_b_0": removed (float[64])'
    expect_line 'onnx: nodes 39 removed, 349 added, 58 changed; initializers 52 removed, 269 added, 0 changed'
    expect_lines 39 '^node \[[0-9]*\] (.*): removed$'
    expect_lines 52 '^initializer ".*": removed ('
    expect_lines 269 '^initializer ".*": added ('
    # without --all: 50 lines, the count of the rest, the summary
    run diff "$SQUEEZE" "$RESNET"; expect_code 1
    [ "$(wc -l <out.txt)" = 52 ] || fail "expected 50 lines, the rest count and the summary"
    expect_lines 1 '^\.\.\. [0-9]* more differences (--all shows every one)$'
    expect_line 'onnx: nodes 39 removed, 349 added, 58 changed; initializers 52 removed, 269 added, 0 changed'
    # --structural: the generic path-by-path walk, no summary
    run diff --all --structural "$SQUEEZE" "$RESNET"; expect_code 1
    expect_line '/root/state/graph/state/name: "squeezenet_old" vs "resnet50"'
    expect_no_out "onnx: nodes"; expect_no_out 'node "'
    ;;

onnx_diff_modified)
    need_python
    "$PYTHON" "$HERE/onnx_cli_models.py" "$WORK" "$SQUEEZE" || fail "model generation failed"
    run diff "$SQUEEZE" squeezenet_mod.onnx; expect_code 1
    cat >expected.txt <<'EOF'
node [0] (ConstantOfShape conv10_b_0__SHAPE -> conv10_b_0): removed
node [1] (ConstantOfShape conv10_w_0__SHAPE -> conv10_w_0): attribute value: values differ: 1 of 1 elements, first at [0] (0.02 vs 0.03), max abs diff 0.01
node "n2": attribute strides: [2, 2] vs [1, 1]
node "extra_copy": added (Identity softmaxout_1 -> copy_out)
initializer "conv1_b_0": values differ: 1 of 64 elements, first at [3] (0.005314612 vs 0.5053146), max abs diff 0.5
onnx: nodes 1 removed, 1 added, 2 changed; initializers 0 removed, 0 added, 1 changed
EOF
    expect_text expected.txt
    expect_lines 1 '^/milo/source/sha256: '
    # B to A: removed and added swap
    run diff --no-header squeezenet_mod.onnx "$SQUEEZE"; expect_code 1
    expect_line 'node "extra_copy": removed (Identity softmaxout_1 -> copy_out)'
    expect_line 'node [0] (ConstantOfShape conv10_b_0__SHAPE -> conv10_b_0): added'
    expect_line 'onnx: nodes 1 removed, 1 added, 2 changed; initializers 0 removed, 0 added, 1 changed'
    # the same comparison on documents
    run convert squeezenet_mod.onnx mod.yaml; expect_code 0
    run convert "$SQUEEZE" orig.pb; expect_code 0
    run --no-default-plugins diff orig.pb mod.yaml; expect_code 1
    expect_text expected.txt
    ;;

onnx_control)
    need_python
    "$PYTHON" "$HERE/onnx_cli_models.py" "$WORK" "$SQUEEZE" || fail "model generation failed"
    run inspect control_a.onnx; expect_code 0; view got.txt
    cat >expected.txt <<'EOF'
onnx model:
  ir_version:    8
  producer:      milo-cli-test 1
  doc_string:    "control-flow test model" ...
  opsets:        ai.onnx 17, local.fn 1
  metadata:      author = cli
                 stage = a
  graph:         control (8 nodes, 4 initializers, 3 value_info)
inputs (1):
  x: float[N, 3]
nodes (8):
  [0] sum: ReduceSum x -> s  {keepdims=0}
  [1] positive: Greater s, zero -> c
  [2] branch: If c -> y  {else_branch=<graph else_body: 1 node>, then_branch=<graph then_body: 1 node>}
      else_branch: graph else_body  inputs: none  outputs: else_out: float[N]
        [0] else_neg: Neg x -> else_out
      then_branch: graph then_body  inputs: none  outputs: then_out: float[1]
        [0] then_const: Constant -> then_out  {value=float[1](1.5)}
  [3] repeat: Loop trip, "", y -> z  {body=<graph loop_body: 2 nodes>}
      body: graph loop_body  inputs: iter: int64[], cond_in: bool[], acc_in: float[1]  outputs: cond_out: bool[], acc_out: float[1]  (1 initializer)
        [0] body_add: Add acc_in, step -> acc_out
        [1] body_cond: Identity cond_in -> cond_out
  [4] scaled: Scale2(local.fn) z -> w  {factor=2.0}
  [5] act: LeakyRelu w -> out  {alpha=0.1}
  [6] many_ints: Constant -> many  {value_ints=[0, 1, 2, 3, 4, 5, 6, 7, ... (70 items)]}
  [7] copy: Identity out -> extra
outputs (2):
  out: float[1]
  extra: float[1]
initializers (4): 84 parameters, 200 bytes
  float16   1 tensor  70 parameters  140 bytes
  float    2 tensors  13 parameters   52 bytes
  int64     1 tensor    1 parameter    8 bytes
largest initializers (4 of 4):
  name     type            bytes  min  max  mean
  table    float16[7, 10]    140    0   69  34.5
  weights  float[3, 4]        48   -1    1     0
  trip     int64[]             8
  zero     float[]             4    0    0     0
parameters:     84
functions (1):
  local.fn.Scale2(X) -> Y  {factor}  opsets ai.onnx 17
    [0] Constant -> f  {value_float=2.0}
    [1] Mul X, f -> Y
tree:         not shown for ONNX models (--tree shows it)
EOF
    cmp -s expected.txt got.txt || { diff expected.txt got.txt >&2; fail "control_a view differs"; }
    # 70 ints are a 1-D tensor in the document (README: repeated numeric fields over 64)
    run inspect --all control_a.onnx; expect_code 0
    expect_line "  [6] many_ints: Constant -> many  {value_ints=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 62, 63, 64, 65, 66, 67, 68, 69]}"
    run inspect --json control_a.onnx; expect_code 0
    python3 - <<'EOF' || fail "--json: wrong onnx member"
import json
o = json.load(open("out.txt"))["onnx"]
assert o["metadata"] == {"author": "cli", "stage": "a"}, o["metadata"]
assert o["doc_string"] == "control-flow test model\nsecond line"
nodes = o["graph"]["nodes"]
branch = nodes[2]["attributes"]
assert branch["then_branch"]["nodes"][0]["attributes"]["value"]["values"] == [1.5], branch
assert branch["else_branch"]["outputs"] == [{"name": "else_out", "type": "float[N]"}], branch
body = nodes[3]["attributes"]["body"]
assert [n["name"] for n in body["nodes"]] == ["body_add", "body_cond"], body
assert body["initializers"][0]["name"] == "step" and body["initializers"][0]["max"] == 0.25
assert nodes[4]["attributes"] == {"factor": 2.0} and nodes[5]["attributes"] == {"alpha": 0.1}
assert nodes[6]["attributes"]["value_ints"] == list(range(70)), nodes[6]
table = next(t for t in o["graph"]["initializers"] if t["name"] == "table")
assert (table["dtype"], table["shape"], table["bytes"], table["min"], table["max"], table["mean"]) \
    == ("float16", [7, 10], 140, 0, 69, 34.5), table
f = o["functions"][0]
assert (f["domain"], f["name"], f["inputs"], f["outputs"], f["attributes"]) == \
    ("local.fn", "Scale2", ["X"], ["Y"], ["factor"]), f
assert [n["op_type"] for n in f["nodes"]] == ["Constant", "Mul"], f
EOF

    run diff control_a.onnx control_b.onnx; expect_code 1
    cat >expected.txt <<'EOF'
/milo/framework/version: "17" vs "18"
opset "ai.onnx": 17 vs 18
metadata "stage": "a" vs "b"
input "x": type float[N, 3] vs float[N, 4]
output "extra": removed (float[1])
node "branch": attribute then_branch: node "then_const": attribute value: values differ: 1 of 1 elements, first at [0] (1.5 vs 2.5), max abs diff 1
node "scaled": attribute factor: 2.0 vs 3.0
node "act": attribute alpha: 0.1 vs 0.2
node "many_ints": attribute value_ints: ints: values differ: 1 of 70 elements, first at [57] (57 vs 1000), max abs diff 943
node "copy": removed (Identity out -> extra)
initializer "trip": values differ: 1 of 1 elements, first at [] (3 vs 4), max abs diff 1
initializer "weights": values differ: 12 of 12 elements, first at [0, 0] (-1.0 vs -2.0), max abs diff 1
initializer "table": removed (float16[7, 10])
initializer "bias": added (int32[2])
value_info "vi_seq": type seq(float[M]) vs seq(double[M])
value_info "vi_map": type map(int64, float) vs map(string, float)
value_info "vi_opt": removed (optional(int32[?]))
onnx: nodes 1 removed, 0 added, 4 changed; initializers 1 removed, 1 added, 2 changed
EOF
    expect_text expected.txt
    run convert control_b.onnx b.json; expect_code 0
    run diff control_b.onnx b.json; expect_code 0

    # float8 tensors are bit patterns in the document: no values shown, none compared as numbers
    run inspect low_bits_b.onnx; expect_code 0
    expect_line "  [0] k: Constant -> c  {value=float8e4m3fn[2]}"
    expect_line "initializers (3): 9 parameters, 7 bytes"
    expect_line "  float8e4m3fn   1 tensor  3 parameters  3 bytes"
    expect_line "  int4          2 tensors  6 parameters  4 bytes"
    run diff --no-header low_bits_a.onnx low_bits_b.onnx; expect_code 1
    cat >expected.txt <<'EOF'
node "k": attribute value: values differ: 1 of 2 elements, first at [1] (bit patterns)
initializer "f8": values differ: 1 of 3 elements, first at [1] (bit patterns)
initializer "i4": values differ: 1 of 3 elements, first at [2] (3 vs -7), max abs diff 10
initializer "i4raw": values differ: 1 of 3 elements, first at [2] (3 vs -7), max abs diff 10
onnx: nodes 0 removed, 0 added, 1 changed; initializers 0 removed, 0 added, 3 changed
EOF
    expect_text expected.txt
    ;;

*)
    echo "unknown case $case_name" >&2
    exit 2
    ;;
esac
exit 0
