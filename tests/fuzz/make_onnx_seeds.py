# Writes the generated seeds of fuzz_onnx (corpus/onnx/gen_*.onnx): small ONNX models with what
# the real fixtures lack: fields newer than ONNX 1.12 (metadata_props, overload, function
# attribute_proto/value_info), every tensor data field and element type, a sparse initializer,
# an external data reference, attributes of every kind. Needs onnx (the project venv):
#   .venv/bin/python tests/fuzz/make_onnx_seeds.py tests/fuzz/corpus/onnx
import sys, numpy as np, onnx
from onnx import helper as h, TensorProto as T, numpy_helper as nh
out = sys.argv[1]

def model(graph, **kw):
    m = h.make_model(graph, opset_imports=[h.make_opsetid("", 21)], **kw)
    m.ir_version = 10
    return m

# 1. typed tensors in every data field and element type
inits = []
for i, dt in enumerate([T.FLOAT, T.UINT8, T.INT8, T.UINT16, T.INT16, T.INT32, T.INT64, T.BOOL,
                        T.FLOAT16, T.DOUBLE, T.UINT32, T.UINT64, T.COMPLEX64, T.COMPLEX128,
                        T.BFLOAT16, T.FLOAT8E4M3FN, T.FLOAT8E5M2, T.UINT4, T.INT4, T.FLOAT4E2M1]):
    vals = [1, 0, 1, 0, 1, 1] if dt == T.BOOL else [1, 2, 3, 4, 5, 6]
    if dt in (T.COMPLEX64, T.COMPLEX128): vals = [1+2j, 3-1j, 0.5j, 2, 1, -1]
    typed = h.make_tensor(f"typed{i}", dt, [2, 3], vals)
    inits.append(typed)
    inits.append(nh.from_array(nh.to_array(typed), f"raw{i}"))  # the same in raw_data
inits.append(h.make_tensor("s", T.STRING, [2], [b"a", b"\xff\xfe"]))
seg = h.make_tensor("seg", T.FLOAT, [4], [1, 2, 3, 4]); seg.segment.begin = 1; seg.segment.end = 3
seg.ClearField("float_data"); seg.float_data.extend([2, 3]); inits.append(seg)
g = h.make_graph([h.make_node("Identity", ["raw0"], ["y"])], "typed", [],
                 [h.make_tensor_value_info("y", T.FLOAT, [2, 3])], initializer=inits)
onnx.save(model(g), f"{out}/gen_typed_tensors.onnx")

# 2. newer fields: metadata_props on graph/node/tensor/value_info, overload, local functions
#    with attribute_proto and value_info, a sparse initializer, nested graph attributes
f = h.make_function("custom", "Fn", ["x"], ["y"], [h.make_node("Relu", ["x"], ["y"])],
                    [h.make_opsetid("", 21)], attributes=["alpha"])
f.overload = "v2"
f.attribute_proto.append(h.make_attribute("beta", 0.5))
f.value_info.append(h.make_tensor_value_info("x", T.FLOAT, ["N"]))
n = h.make_node("Fn", ["x"], ["t"], domain="custom", name="call", alpha=1.0)
n.overload = "v2"
n.metadata_props.append(onnx.StringStringEntryProto(key="k", value="v"))
body = h.make_graph([h.make_node("Identity", ["t"], ["u"])], "body", [],
                    [h.make_tensor_value_info("u", T.FLOAT, None)])
iff = h.make_node("If", ["c"], ["y"], then_branch=body, else_branch=body)
sp = h.make_sparse_tensor(h.make_tensor("sv", T.FLOAT, [2], [1.5, 2.5]),
                          h.make_tensor("si", T.INT64, [2], [0, 5]), [2, 4])
g = h.make_graph([n, iff], "newer", [h.make_tensor_value_info("x", T.FLOAT, ["N", 3]),
                                      h.make_tensor_value_info("c", T.BOOL, [])],
                 [h.make_tensor_value_info("y", T.FLOAT, None)], sparse_initializer=[sp])
g.metadata_props.append(onnx.StringStringEntryProto(key="gk", value="gv"))
g.value_info.append(h.make_tensor_value_info("t", T.FLOAT, ["N", 3]))
m = model(g, functions=[f])
m.opset_import.append(h.make_opsetid("custom", 1))
m.metadata_props.append(onnx.StringStringEntryProto(key="author", value="milo"))
m.training_info.add().algorithm.name = "train"
onnx.save(m, f"{out}/gen_newer_fields.onnx")

# 3. external data reference (refused without a folder: exercises the location checks)
t = nh.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
t.data_location = T.EXTERNAL; t.ClearField("raw_data")
for k, v in (("location", "w.bin"), ("offset", "0"), ("length", "24")):
    t.external_data.append(onnx.StringStringEntryProto(key=k, value=v))
g = h.make_graph([h.make_node("Identity", ["w"], ["y"])], "ext", [],
                 [h.make_tensor_value_info("y", T.FLOAT, [2, 3])], initializer=[t])
onnx.save(model(g), f"{out}/gen_external_data.onnx")

# 4. sequence/map/optional types in value infos, attributes of every kind
attrs = dict(f=1.5, i=3, s="txt", t=h.make_tensor("at", T.INT64, [2], [1, 2]), floats=[1.0, 2.0],
             ints=[1, 2, 3], strings=["a", "b"], g=body, graphs=[body, body],
             sparse_tensor=sp, tp=h.make_tensor_type_proto(T.FLOAT, [1]))
n = h.make_node("Custom", ["x"], ["y"], domain="custom", **attrs)
vi = [h.make_value_info("seq", h.make_sequence_type_proto(h.make_tensor_type_proto(T.FLOAT, [None]))),
      h.make_value_info("map", h.make_map_type_proto(T.INT64, h.make_tensor_type_proto(T.FLOAT, [2]))),
      h.make_value_info("opt", h.make_optional_type_proto(h.make_tensor_type_proto(T.INT32, []))),
      h.make_value_info("sp", h.make_sparse_tensor_type_proto(T.FLOAT, [3, 3]))]
g = h.make_graph([n], "kinds", [h.make_tensor_value_info("x", T.FLOAT, [1])],
                 [h.make_tensor_value_info("y", T.FLOAT, [1])], value_info=vi)
m = model(g); m.opset_import.append(h.make_opsetid("custom", 1))
onnx.save(m, f"{out}/gen_attribute_kinds.onnx")
