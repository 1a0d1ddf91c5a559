"""Writes the ONNX models of the CLI's ONNX tests (onnx_cli_test.sh) with the onnx package:
    python onnx_cli_models.py OUT_DIR SQUEEZENET_ONNX
control_a.onnx / control_b.onnx: If and Loop subgraphs, a local function, metadata, a
symbolic dimension, a float16 initializer, a 70-entry ints attribute and value_info of sequence,
map and optional types; B changes one thing of each kind. low_bits_a/b.onnx: float8 and int4 tensors. squeezenet_mod.onnx: the real SqueezeNet with one attribute, one initializer value
and one unnamed node's constant changed, one node removed and one added."""
import sys

import numpy as np
import onnx
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh


def control(b):
    then_g = h.make_graph(
        [h.make_node("Constant", [], ["then_out"], name="then_const",
                     value=nh.from_array(np.array([2.5 if b else 1.5], np.float32)))],
        "then_body", [], [h.make_tensor_value_info("then_out", T.FLOAT, [1])])
    else_g = h.make_graph([h.make_node("Neg", ["x"], ["else_out"], name="else_neg")],
                         "else_body", [], [h.make_tensor_value_info("else_out", T.FLOAT, ["N"])])
    body = h.make_graph(
        [h.make_node("Add", ["acc_in", "step"], ["acc_out"], name="body_add"),
         h.make_node("Identity", ["cond_in"], ["cond_out"], name="body_cond")],
        "loop_body",
        [h.make_tensor_value_info("iter", T.INT64, []),
         h.make_tensor_value_info("cond_in", T.BOOL, []),
         h.make_tensor_value_info("acc_in", T.FLOAT, [1])],
        [h.make_tensor_value_info("cond_out", T.BOOL, []),
         h.make_tensor_value_info("acc_out", T.FLOAT, [1])],
        [nh.from_array(np.array([0.25], np.float32), "step")])
    nodes = [
        h.make_node("ReduceSum", ["x"], ["s"], name="sum", keepdims=0),
        h.make_node("Greater", ["s", "zero"], ["c"], name="positive"),
        h.make_node("If", ["c"], ["y"], name="branch", then_branch=then_g, else_branch=else_g),
        h.make_node("Loop", ["trip", "", "y"], ["z"], name="repeat", body=body),
        h.make_node("Scale2", ["z"], ["w"], name="scaled", domain="local.fn",
                    factor=3.0 if b else 2.0),
        h.make_node("LeakyRelu", ["w"], ["out"], name="act", alpha=0.2 if b else 0.1),
        h.make_node("Constant", [], ["many"], name="many_ints",
                    value_ints=[1000 if b and i == 57 else i for i in range(70)]),
    ]
    if not b:
        nodes.append(h.make_node("Identity", ["out"], ["extra"], name="copy"))
    fn = h.make_function("local.fn", "Scale2", ["X"], ["Y"],
                         [h.make_node("Constant", [], ["f"], value_float=2.0),
                          h.make_node("Mul", ["X", "f"], ["Y"])],
                         [h.make_opsetid("", 17)], attributes=["factor"])
    weights = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    inits = [nh.from_array(np.array(0.0, np.float32), "zero"),
             nh.from_array(np.array(4 if b else 3, np.int64), "trip"),
             nh.from_array(weights * np.float32(2) if b else weights, "weights")]
    if b:
        inits.append(nh.from_array(np.array([1, 2], np.int32), "bias"))
    else:
        inits.append(nh.from_array(np.arange(70, dtype=np.float16).reshape(7, 10), "table"))
    outputs = [h.make_tensor_value_info("out", T.FLOAT, [1])]
    if not b:
        outputs.append(h.make_tensor_value_info("extra", T.FLOAT, [1]))
    value_info = [  # types of other kinds; names that no node uses are fine for the checker
        h.make_value_info("vi_seq", h.make_sequence_type_proto(
            h.make_tensor_type_proto(T.DOUBLE if b else T.FLOAT, ["M"]))),
        h.make_value_info("vi_map", h.make_map_type_proto(
            T.STRING if b else T.INT64, h.make_tensor_type_proto(T.FLOAT, None)))]
    if not b:
        value_info.append(h.make_value_info("vi_opt", h.make_optional_type_proto(
            h.make_tensor_type_proto(T.INT32, [None]))))
    g = h.make_graph(nodes, "control",
                     [h.make_tensor_value_info("x", T.FLOAT, ["N", 4 if b else 3])], outputs, inits,
                     value_info=value_info)
    m = h.make_model(g, producer_name="milo-cli-test", producer_version="1",
                     opset_imports=[h.make_opsetid("", 18 if b else 17),
                                    h.make_opsetid("local.fn", 1)],
                     functions=[fn])
    m.ir_version = 8
    h.set_model_props(m, {"author": "cli", "stage": "b" if b else "a"})
    m.doc_string = "control-flow test model\nsecond line"
    onnx.checker.check_model(m)
    return m


def low_bits(b):
    """float8 values are kept as bit patterns, int4 unpacked (plugins/onnx/README.md)."""
    f8 = [1.0, 3.0 if b else 2.0, 0.5]
    g = h.make_graph(
        [h.make_node("Constant", [], ["c"], name="k",
                     value=h.make_tensor("v", T.FLOAT8E4M3FN, [2], f8[:2]))],
        "low_bits", [], [h.make_tensor_value_info("c", T.FLOAT8E4M3FN, [2])],
        [h.make_tensor("f8", T.FLOAT8E4M3FN, [3], f8),
         # int32_data holds int4 pairs: the document keeps the 2 stored entries
         h.make_tensor("i4", T.INT4, [3], [1, -2, -7 if b else 3]),
         # raw_data: unpacked to int8 in the document
         h.make_tensor("i4raw", T.INT4, [3], bytes([0xE1, 0x09 if b else 0x03]), raw=True)])
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 21)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    return m


def squeezenet_modified(src):
    m = onnx.load(src)
    g = m.graph
    for a in next(n for n in g.node if n.name == "n2").attribute:  # MaxPool
        if a.name == "strides":
            a.ints[:] = [1, 1]
    t = next(t for t in g.initializer if t.name == "conv1_b_0")
    values = nh.to_array(t).copy()
    values[3] += np.float32(0.5)
    t.CopyFrom(nh.from_array(values, "conv1_b_0"))
    fill = next(n for n in g.node if list(n.output) == ["conv10_w_0"])  # unnamed ConstantOfShape
    fill.attribute[0].t.float_data[:] = [0.03]
    del g.node[0]  # unnamed: ConstantOfShape conv10_b_0__SHAPE -> conv10_b_0
    g.node.append(h.make_node("Identity", ["softmaxout_1"], ["copy_out"], name="extra_copy"))
    return m


out = sys.argv[1]
onnx.save(control(False), f"{out}/control_a.onnx")
onnx.save(control(True), f"{out}/control_b.onnx")
onnx.save(low_bits(False), f"{out}/low_bits_a.onnx")
onnx.save(low_bits(True), f"{out}/low_bits_b.onnx")
onnx.save(squeezenet_modified(sys.argv[2]), f"{out}/squeezenet_mod.onnx")
