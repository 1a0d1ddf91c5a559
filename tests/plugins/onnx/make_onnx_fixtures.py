#!/usr/bin/env python3
"""Writes the dedicated ONNX fixtures of tests/plugins/onnx into OUTDIR, with expected.json.

Usage: make_onnx_fixtures.py OUTDIR   (run with the project venv: onnx 1.23, numpy, ml_dtypes)

Each fixture is a real model built with onnx.helper / numpy_helper (a few bytes are added by hand
where onnx cannot express them: unknown fields, a signalling NaN), covering one area of
plugins/onnx/README.md: external data (and models that must fail), sparse tensors, strings,
every element type in raw and typed fields, nested subgraphs, metadata_props and the other
fields newer than the plugin's compiled schema, unknown fields, odd tensors.

expected.json lists, per fixture, the checks onnx_dedicated_test.cpp runs on the document the
plugin makes of it:

  {"file": "strings.onnx", "checks": [CHECK, ...], "stdin": {...}}   a model that must load
  {"file": "bad/x.onnx", "must_fail": true, "status": "MILO_ERR_CORRUPT",
   "error_contains": ["...", ...]}                                   a model that must be refused

A CHECK has a "path" from the document root and a "kind":
  path steps: "key" (a key of a map; of an object's state when the value is an object),
              3 (a list index), {"name": "w"} (the list item whose state.name is "w")
  "tensor"  dtype, shape, and one of data_hex (raw little-endian bytes), strings, items_hex
  "bytes"   hex         "string" value      "int" value (or text: decimal beyond int64)
  "float"   bits (hex of the IEEE-754 double, big-endian digits)
  "list"    len, and optionally values (scalars, lists and maps as JSON; bytes {"hex": ..},
            integers beyond int64 {"int": decimal}, floats {"float_bits": hex},
            objects {"$object": type, "state": {..}})
  "object"  type, and optionally keys (the state's keys, in order)
  "absent"  the path does not exist      "header" key, value (path unused)
"stdin" (optional): decoding the same bytes with path "<stdin>" must fail as described there;
without it, the bytes-only decode must succeed and equal the document read from the file.
"""
import hashlib
import json
import os
import shutil
import struct
import sys
import warnings

import ml_dtypes
import numpy as np
import onnx
from onnx import TensorProto as TP
from onnx import helper, numpy_helper

warnings.simplefilter("ignore")
np.seterr(all="ignore")

IR = 10
OPSET = [helper.make_opsetid("", 21)]
FLOAT = TP.FLOAT


# ---------------------------------------------------------------- expected.json helpers

def hexs(b):
    return bytes(b).hex()


def le(array):
    """Raw little-endian bytes of a numpy array."""
    a = np.asarray(array)
    if a.dtype.byteorder == ">":
        a = a.byteswap().view(a.dtype.newbyteorder("<"))
    return a.tobytes()


def tensor_check(path, dtype, shape, data=None, strings=None, items=None):
    c = {"path": path, "kind": "tensor", "dtype": dtype, "shape": list(shape)}
    if data is not None:
        c["data_hex"] = hexs(data)
    if strings is not None:
        c["strings"] = strings
    if items is not None:
        c["items_hex"] = [hexs(i) for i in items]
    return c


def string_check(path, value):
    return {"path": path, "kind": "string", "value": value}


def int_check(path, value):
    if -(2**63) <= value < 2**63:
        return {"path": path, "kind": "int", "value": value}
    return {"path": path, "kind": "int", "text": str(value)}


def float_check(path, value):
    return {"path": path, "kind": "float", "bits": struct.pack(">d", value).hex()}


def bytes_check(path, data):
    return {"path": path, "kind": "bytes", "hex": hexs(data)}


def list_check(path, length, values=None):
    c = {"path": path, "kind": "list", "len": length}
    if values is not None:
        c["values"] = values
    return c


def object_check(path, type_name, keys=None):
    c = {"path": path, "kind": "object", "type": type_name}
    if keys is not None:
        c["keys"] = keys
    return c


def absent(path):
    return {"path": path, "kind": "absent"}


def header(key, value):
    return {"path": [], "kind": "header", "key": key, "value": value}


def metadata_checks(path, pairs):
    """metadata_props (a list of StringStringEntryProto) holds exactly `pairs`."""
    checks = [list_check(path, len(pairs))]
    for i, (k, v) in enumerate(pairs):
        checks.append(object_check(path + [i], "onnx.StringStringEntryProto", ["key", "value"]))
        checks.append(string_check(path + [i, "key"], k))
        checks.append(string_check(path + [i, "value"], v))
    return checks


def init(name):
    return ["graph", "initializer", {"name": name}]


def node(name):
    return ["graph", "node", {"name": name}]


def attr(path, name):
    return path + ["attribute", {"name": name}]


# ---------------------------------------------------------------- model helpers

def model_of(nodes, name, inputs=(), outputs=(), initializers=(), **kw):
    graph = helper.make_graph(list(nodes), name, list(inputs), list(outputs),
                              initializer=list(initializers))
    m = helper.make_model(graph, producer_name="milo-fixtures", opset_imports=OPSET, **kw)
    m.ir_version = IR
    return m


def raw_tensor(name, data_type, dims, data):
    """A TensorProto with raw_data set exactly to `data` (no conversion by onnx)."""
    t = TP()
    t.name = name
    t.data_type = data_type
    t.dims.extend(dims)
    t.raw_data = bytes(data)
    return t


def redim(t, dims):
    """`t` with other dims (onnx.helper refuses a value count that does not match them)."""
    t.ClearField("dims")
    t.dims.extend(dims)
    return t


def vi(name, elem=FLOAT, shape=()):
    return helper.make_tensor_value_info(name, elem, shape)


def external(t, location, offset=None, length=None, checksum=None):
    """Turns `t` into an external tensor (its raw_data is dropped: the file holds it)."""
    t.ClearField("raw_data")
    t.data_location = TP.EXTERNAL
    t.external_data.add(key="location", value=location)
    if offset is not None:
        t.external_data.add(key="offset", value=str(offset))
    if length is not None:
        t.external_data.add(key="length", value=str(length))
    if checksum is not None:
        t.external_data.add(key="checksum", value=checksum)
    return t


class Writer:
    def __init__(self, out):
        self.out = out
        self.fixtures = []

    def path(self, rel):
        p = os.path.join(self.out, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        return p

    def data(self, rel, content):
        with open(self.path(rel), "wb") as f:
            f.write(content)

    def model(self, rel, model_or_bytes, checks=None, stdin=None, **extra):
        data = (model_or_bytes if isinstance(model_or_bytes, bytes)
                else model_or_bytes.SerializeToString())
        self.data(rel, data)
        entry = {"file": rel}
        if checks is not None:
            entry["checks"] = checks + [header("source.sha256", hashlib.sha256(data).hexdigest())]
        if stdin is not None:
            entry["stdin"] = stdin
        entry.update(extra)
        self.fixtures.append(entry)
        return data

    def bad(self, rel, model, status, *fragments):
        self.model(rel, model, must_fail=True, status=status, error_contains=list(fragments))


# ---------------------------------------------------------------- external data

NO_FOLDER = {"status": "MILO_ERR_UNSUPPORTED",
             "error_contains": ["<stdin>", "the model was not read from a file",
                                "no folder to resolve it against"]}


def external_one_file(w):
    """Several tensors in one data file at offsets, with and without length; a subfolder."""
    a = np.arange(6, dtype="<f4").reshape(2, 3) * np.float32(-1.25)
    b = np.array([-3, 0, 32767], dtype="<i2")
    c = np.array([1, 2, 3, 254, 255], dtype=np.uint8)
    d = np.array([1.0, -0.0, np.inf, 65504.0], dtype="<f2")
    e_vals = [-8, -1, 0, 3, 7]                       # INT4, packed low nibble first
    e_packed = bytes([0xF8, 0x30, 0x07])
    blob = bytearray(le(a))                          # a: 0..24, with length
    blob += b"\xAA" * 8                              # gap: offsets need not be contiguous
    b_off = len(blob)
    blob += le(b)                                    # b: 32..38, with length
    blob += b"\x55" * 2
    c_off = len(blob)
    blob += le(c)                                    # c: 40..45, no length (rest of the file)
    w.data("ext_one_file/weights.bin", bytes(blob))
    w.data("ext_one_file/sub/more.bin", le(d))       # d: the whole file (no offset, no length)
    w.data("ext_one_file/sub/packed.bin", b"\x00" + e_packed)
    ta = external(numpy_helper.from_array(a, "a"), "weights.bin", 0, 24, checksum="not-checked")
    tb = external(numpy_helper.from_array(b, "b"), "weights.bin", b_off, 6)
    tc = external(numpy_helper.from_array(c, "c"), "weights.bin", c_off)
    td = external(numpy_helper.from_array(d, "d"), "sub/more.bin")
    te = external(raw_tensor("e", TP.INT4, [5], e_packed), "sub/packed.bin", 1, 3)
    nodes = [helper.make_node("Identity", [n], [n + "_out"]) for n in "abcde"]
    m = model_of(nodes, "ext_one_file", outputs=[vi(n + "_out") for n in "abcde"],
                 initializers=[ta, tb, tc, td, te])
    X = "(external data)"
    checks = [
        tensor_check(init("a") + [X], "float32", [2, 3], le(a)),
        tensor_check(init("b") + [X], "int16", [3], le(b)),
        tensor_check(init("c") + [X], "uint8", [5], le(c)),
        tensor_check(init("d") + [X], "float16", [4], le(d)),
        tensor_check(init("e") + [X], "int8", [5], le(np.array(e_vals, np.int8))),
        string_check(init("a") + ["data_location"], "EXTERNAL"),
        absent(init("a") + ["raw_data"]),
        list_check(init("a") + ["external_data"], 4),
        string_check(init("a") + ["external_data", 3, "key"], "checksum"),
        string_check(init("a") + ["external_data", 3, "value"], "not-checked"),
        list_check(init("c") + ["external_data"], 2),
        string_check(init("c") + ["external_data", 1, "value"], str(c_off)),
        string_check(init("d") + ["external_data", 0, "value"], "sub/more.bin"),
        string_check(init("e") + ["data_type"], "INT4"),
        object_check(init("b"), "onnx.TensorProto",
                     ["dims", "data_type", "name", "external_data", "data_location", X]),
    ]
    w.model("ext_one_file/model.onnx", m, checks, stdin=NO_FOLDER)


def external_per_tensor(w):
    """onnx.save_model(..., all_tensors_to_one_file=False): one file per tensor."""
    arrays = {  # name: (array, onnx type, document dtype)
        "w_per_f32": (np.linspace(-1, 1, 12, dtype="<f4").reshape(3, 4), FLOAT, "float32"),
        "w_per_i64": (np.array([2**40, -(2**62), 7], "<i8"), TP.INT64, "int64"),
        "w_per_bf16": (np.array([1.5, -2.0, 3.140625], ml_dtypes.bfloat16), TP.BFLOAT16,
                       "bfloat16"),
    }
    inits = [raw_tensor(n, typ, arr.shape, le(arr)) for n, (arr, typ, _) in arrays.items()]
    nodes = [helper.make_node("Identity", [n], [n + "_out"]) for n in arrays]
    m = model_of(nodes, "ext_per_tensor", outputs=[vi(n + "_out") for n in arrays],
                 initializers=inits)
    path = w.path("ext_per_tensor/model.onnx")
    onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=False,
                    size_threshold=0)
    with open(path, "rb") as f:
        saved = f.read()
    X = "(external data)"
    checks = []
    for n, (arr, _, dtype) in arrays.items():
        assert os.path.isfile(w.path("ext_per_tensor/" + n)), n
        checks.append(tensor_check(init(n) + [X], dtype, arr.shape, le(arr)))
        checks.append(string_check(init(n) + ["external_data", 0, "key"], "location"))
        checks.append(string_check(init(n) + ["external_data", 0, "value"], n))
    w.model("ext_per_tensor/model.onnx", saved, checks, stdin=NO_FOLDER)


def external_subfolder(w):
    v = np.array([[1, -2], [3, -4]], dtype="<i4")
    w.data("ext_subfolder/data/deeper/v.bin", le(v))
    t = external(numpy_helper.from_array(v, "v"), "data/deeper/v.bin", 0, 16)
    # "./" and a doubled slash are harmless: only ".." components leave the folder
    u = np.array([9.5], dtype="<f8")
    w.data("ext_subfolder/data/u.bin", le(u))
    t2 = external(numpy_helper.from_array(u, "u"), "./data//u.bin")
    m = model_of([helper.make_node("Add", ["v", "v"], ["y"])], "ext_subfolder",
                 outputs=[vi("y", TP.INT32)], initializers=[t, t2])
    checks = [tensor_check(init("v") + ["(external data)"], "int32", [2, 2], le(v)),
              tensor_check(init("u") + ["(external data)"], "float64", [1], le(u))]
    w.model("ext_subfolder/model.onnx", m, checks, stdin=NO_FOLDER)


def external_bad(w):
    """Models whose external data must be refused. OUTDIR/outside.bin is outside bad/."""
    w.data("outside.bin", le(np.zeros(3, np.float32)))
    w.data("bad/data.bin", bytes(range(16)))
    os.symlink("../outside.bin", w.path("bad/link_outside.bin"))
    os.symlink("data.bin", w.path("bad/link_inside.bin"))  # fine: stays inside

    def one(rel, location, offset=None, length=None, dims=(3,), status="MILO_ERR_CORRUPT",
            *fragments):
        t = external(raw_tensor("w", FLOAT, list(dims), b""), location, offset, length)
        m = model_of([helper.make_node("Identity", ["w"], ["y"])], "bad", outputs=[vi("y")],
                     initializers=[t])
        w.bad(rel, m, status, "tensor 'w'", *fragments)

    where = "/root/state/graph/state/initializer/0/state/(external data)"
    one("bad/location_dotdot.onnx", "../outside.bin", None, None, (3,), "MILO_ERR_CORRUPT",
        where, "'../outside.bin'", "leaves the model's folder ('..')")
    one("bad/location_dotdot_inner.onnx", "sub/../../outside.bin", None, None, (3,),
        "MILO_ERR_CORRUPT", "leaves the model's folder ('..')")
    one("bad/location_absolute.onnx", "/etc/hostname", None, None, (3,), "MILO_ERR_CORRUPT",
        "'/etc/hostname'", "is an absolute path")
    one("bad/location_backslash.onnx", "sub\\data.bin", None, None, (3,), "MILO_ERR_CORRUPT",
        "contains a backslash")
    one("bad/location_drive.onnx", "C:data.bin", None, None, (3,), "MILO_ERR_CORRUPT",
        "names a drive")
    one("bad/location_symlink_out.onnx", "link_outside.bin", None, None, (3,),
        "MILO_ERR_CORRUPT", "'link_outside.bin'", "outside the model's folder")
    one("bad/location_missing.onnx", "nope.bin", None, None, (3,), "MILO_ERR_IO",
        "nope.bin", "No such file")
    os.makedirs(os.path.join(w.out, "bad", "folder"))  # a folder, not a file
    one("bad/location_folder.onnx", "folder", None, None, (3,), "MILO_ERR_IO",
        "is not a regular file")
    one("bad/offset_past_end.onnx", "data.bin", 100, None, (3,), "MILO_ERR_CORRUPT",
        "external data offset 100 is past the end of 'data.bin' (16 bytes)")
    one("bad/length_past_end.onnx", "data.bin", 8, 12, (3,), "MILO_ERR_CORRUPT",
        "external data bytes 8..20 run past the end of 'data.bin' (16 bytes)")
    one("bad/length_not_dims.onnx", "data.bin", 0, 8, (3,), "MILO_ERR_CORRUPT",
        "external data holds 8 bytes; dims and data_type need 12")
    one("bad/rest_not_dims.onnx", "link_inside.bin", 2, None, (3,), "MILO_ERR_CORRUPT",
        "external data holds 14 bytes; dims and data_type need 12")
    one("bad/offset_hex.onnx", "data.bin", "0x4", 12, (3,), "MILO_ERR_CORRUPT",
        "external data offset '0x4' is not a decimal byte count")
    one("bad/offset_negative.onnx", "data.bin", "-4", 12, (3,), "MILO_ERR_CORRUPT",
        "external data offset '-4' is not a decimal byte count")
    one("bad/length_space.onnx", "data.bin", 0, " 12", (3,), "MILO_ERR_CORRUPT",
        "external data length ' 12' is not a decimal byte count")
    one("bad/location_empty.onnx", "", None, None, (3,), "MILO_ERR_CORRUPT",
        "external data without a location")
    # not external data: a model cut short must be refused with the byte it breaks at
    whole = model_of([helper.make_node("Identity", ["x"], ["y"], name="n" * 40)], "cut",
                     [vi("x")], [vi("y")]).SerializeToString()
    w.bad("bad/truncated.onnx", whole[:len(whole) - 30], "MILO_ERR_CORRUPT",
          "not a valid ONNX model", "byte ")
    # the symlink that stays inside the folder is fine
    t = external(raw_tensor("w", FLOAT, [4], b""), "link_inside.bin")
    m = model_of([helper.make_node("Identity", ["w"], ["y"])], "ok", outputs=[vi("y")],
                 initializers=[t])
    w.model("bad/symlink_inside_ok.onnx", m,
            [tensor_check(init("w") + ["(external data)"], "float32", [4], bytes(range(16)))],
            stdin=NO_FOLDER)


# ---------------------------------------------------------------- sparse tensors

def sparse(w):
    # 1-D (linear) indices, values in raw_data
    v1 = np.array([1.5, -2.0, 4.25], dtype="<f4")
    i1 = np.array([1, 6, 11], dtype="<i8")
    s1 = helper.make_sparse_tensor(numpy_helper.from_array(v1, "sp_linear"),
                                   numpy_helper.from_array(i1, "sp_linear_idx"), [3, 4])
    # 2-D indices [nnz, rank] in int64_data, values in int32_data
    v2 = helper.make_tensor("sp_coo", TP.INT32, [2], [7, -9])
    i2 = helper.make_tensor("sp_coo_idx", TP.INT64, [2, 2], [0, 1, 2, 0])
    s2 = helper.make_sparse_tensor(v2, i2, [3, 2])
    # a Constant node holding a sparse_value attribute
    v3 = np.array([3.0], dtype="<f8")
    s3 = helper.make_sparse_tensor(numpy_helper.from_array(v3, "sc_values"),
                                   numpy_helper.from_array(np.array([5], "<i8"), "sc_idx"),
                                   [2, 3])
    const = helper.make_node("Constant", [], ["sc"], name="const_sparse", sparse_value=s3)
    graph = helper.make_graph([const], "sparse", [], [vi("sc", TP.DOUBLE)],
                              sparse_initializer=[s1, s2])
    m = helper.make_model(graph, opset_imports=OPSET)
    m.ir_version = IR
    sp = ["graph", "sparse_initializer"]
    sv = attr(node("const_sparse"), "sparse_value")
    checks = [
        list_check(sp, 2),
        object_check(sp + [0], "onnx.SparseTensorProto", ["values", "indices", "dims"]),
        list_check(sp + [0, "dims"], 2, [3, 4]),
        tensor_check(sp + [0, "values", "raw_data"], "float32", [3], le(v1)),
        tensor_check(sp + [0, "indices", "raw_data"], "int64", [3], le(i1)),
        string_check(sp + [0, "values", "name"], "sp_linear"),
        tensor_check(sp + [1, "values", "int32_data"], "int32", [2], le(np.array([7, -9], "<i4"))),
        tensor_check(sp + [1, "indices", "int64_data"], "int64", [2, 2],
                     le(np.array([[0, 1], [2, 0]], "<i8"))),
        string_check(sv + ["type"], "SPARSE_TENSOR"),
        object_check(sv + ["sparse_tensor"], "onnx.SparseTensorProto"),
        tensor_check(sv + ["sparse_tensor", "values", "raw_data"], "float64", [1], le(v3)),
        tensor_check(sv + ["sparse_tensor", "indices", "raw_data"], "int64", [1],
                     le(np.array([5], "<i8"))),
        list_check(sv + ["sparse_tensor", "dims"], 2, [2, 3]),
        absent(["graph", "initializer"]),
    ]
    w.model("sparse.onnx", m, checks)


# ---------------------------------------------------------------- strings

def strings(w):
    text = ["hello", "ünïcødé", "日本語", "🙂 emoji", "", "tab\tand\nnewline"]
    raw = [b"\xff\xfe", b"ok", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]
    t_text = helper.make_tensor("s_utf8", TP.STRING, [2, 3], [s.encode() for s in text])
    t_raw = helper.make_tensor("s_bytes", TP.STRING, [5], raw)
    t_in_raw = raw_tensor("s_raw_data", TP.STRING, [1], b"abc")  # STRING in raw_data: bytes
    n = helper.make_node("Identity", ["s_utf8"], ["y"], name="nœud_ünï",
                         label=b"\xff\x00bin", names=["α", "β"])
    n.doc_string = "@DOC@@@"  # made not UTF-8 below: onnx (Python) refuses such a string
    m = model_of([n], "strings", outputs=[vi("y", TP.STRING)],
                 initializers=[t_text, t_raw, t_in_raw])
    data = m.SerializeToString()
    assert data.count(b"@DOC@@@") == 1 and len(b"@DOC@@@") == len(b"bad\xff!ok")
    data = data.replace(b"@DOC@@@", b"bad\xff!ok")
    checks = [
        tensor_check(init("s_utf8") + ["string_data"], "string", [2, 3], strings=text),
        tensor_check(init("s_bytes") + ["string_data"], "object", [5], items=raw),
        bytes_check(init("s_raw_data") + ["raw_data"], b"abc"),
        string_check(node("nœud_ünï") + ["name"], "nœud_ünï"),
        # AttributeProto.s is `bytes` in onnx.proto: bytes even when it would be text
        bytes_check(attr(node("nœud_ünï"), "label") + ["s"], b"\xff\x00bin"),
        list_check(attr(node("nœud_ünï"), "names") + ["strings"], 2,
                   [{"hex": "α".encode().hex()}, {"hex": "β".encode().hex()}]),
        # a proto2 `string` field that is not UTF-8 (protobuf does not check): bytes
        bytes_check(node("nœud_ünï") + ["doc_string"], b"bad\xff!ok"),
    ]
    w.model("strings.onnx", data, checks)


# ---------------------------------------------------------------- element types

def dtypes_raw(w):
    """Every element type in raw_data; sub-byte types unpacked, float8 kept as bit patterns."""
    f8 = [1.0, -0.5, 0.0, 2.0, -224.0]
    cases = []  # (name, onnx type, dims, raw bytes, milo dtype, expected document bytes)

    def same(name, typ, arr, dtype):
        arr = np.asarray(arr)
        cases.append((name, typ, list(arr.shape), le(arr), dtype, le(arr)))

    for n, typ, mld in [("f8e4m3fn", TP.FLOAT8E4M3FN, ml_dtypes.float8_e4m3fn),
                        ("f8e4m3fnuz", TP.FLOAT8E4M3FNUZ, ml_dtypes.float8_e4m3fnuz),
                        ("f8e5m2", TP.FLOAT8E5M2, ml_dtypes.float8_e5m2),
                        ("f8e5m2fnuz", TP.FLOAT8E5M2FNUZ, ml_dtypes.float8_e5m2fnuz)]:
        same("r_" + n, typ, np.array(f8, dtype=mld), "uint8")
    same("r_f8e8m0", TP.FLOAT8E8M0, np.array([1.0, 0.5, 2.0**10, 2.0**-20],
                                             dtype=ml_dtypes.float8_e8m0fnu), "uint8")
    same("r_f16", TP.FLOAT16, np.array([[1.0, -0.0], [np.inf, 6.1e-05]], "<f2"), "float16")
    same("r_bf16", TP.BFLOAT16, np.array([1.0, -3.5, 1e30, -np.inf], ml_dtypes.bfloat16),
         "bfloat16")
    same("r_f32", FLOAT, np.array([1.0, -0.0, 1e-45, np.nan, 3.4028235e38], "<f4"), "float32")
    same("r_f64", TP.DOUBLE, np.array([np.pi, -0.0, 5e-324], "<f8"), "float64")
    same("r_bool", TP.BOOL, np.array([True, False, True]), "bool")
    same("r_c64", TP.COMPLEX64, np.array([1 + 2j, -3.5 - 0j], "<c8"), "complex64")
    same("r_c128", TP.COMPLEX128, np.array([[1e300 - 1j]], "<c16"), "complex128")
    same("r_i8", TP.INT8, np.array([-128, 0, 127], np.int8), "int8")
    same("r_u8", TP.UINT8, np.array([0, 255], np.uint8), "uint8")
    same("r_i16", TP.INT16, np.array([-32768, 32767], "<i2"), "int16")
    same("r_u16", TP.UINT16, np.array([65535, 1], "<u2"), "uint16")
    same("r_i32", TP.INT32, np.array([-(2**31), 2**31 - 1], "<i4"), "int32")
    same("r_u32", TP.UINT32, np.array([2**32 - 1, 0, 7], "<u4"), "uint32")
    same("r_i64", TP.INT64, np.array([-(2**63), 2**63 - 1], "<i8"), "int64")
    same("r_u64", TP.UINT64, np.array([2**64 - 1, 1], "<u8"), "uint64")
    same("r_scalar", FLOAT, np.array(2.5, "<f4"), "float32")   # dims []: a 0-d tensor
    same("r_empty", FLOAT, np.zeros((2, 0), "<f4"), "float32")  # no element, raw_data ""
    # packed sub-byte types, odd element counts, first element in the low bits
    cases.append(("r_i4", TP.INT4, [5], bytes([0xF8, 0x30, 0x07]), "int8",
                  le(np.array([-8, -1, 0, 3, 7], np.int8))))
    cases.append(("r_u4", TP.UINT4, [5], bytes([0x10, 0x8F, 0x09]), "uint8",
                  bytes([0, 1, 15, 8, 9])))
    cases.append(("r_f4e2m1", TP.FLOAT4E2M1, [3], bytes([0xF1, 0x07]), "uint8",
                  bytes([0x1, 0xF, 0x7])))
    cases.append(("r_i2", TP.INT2, [5], bytes([0x4E, 0x02]), "int8",
                  le(np.array([-2, -1, 0, 1, -2], np.int8))))
    cases.append(("r_u2", TP.UINT2, [2, 3], bytes([0xE4, 0x07]), "uint8",
                  bytes([0, 1, 2, 3, 3, 1])))
    # the packing above is onnx's own: check it against onnx.helper's packer
    assert helper.make_tensor("x", TP.INT4, [5], [-8, -1, 0, 3, 7]).int32_data == [248, 48, 7]
    assert helper.make_tensor("x", TP.UINT2, [6], [0, 1, 2, 3, 3, 1]).int32_data == [228, 7]
    inits = [raw_tensor(n, typ, dims, raw) for n, typ, dims, raw, _, _ in cases]
    m = model_of([helper.make_node("Identity", ["r_f32"], ["y"], name="use")], "dtypes_raw",
                 outputs=[vi("y", FLOAT, [5])], initializers=inits)
    checks = []
    for n, typ, dims, raw, dtype, doc_bytes in cases:
        checks.append(tensor_check(init(n) + ["raw_data"], dtype, dims, doc_bytes))
        checks.append(string_check(init(n) + ["data_type"], TP.DataType.Name(typ)))
    w.model("dtypes_raw.onnx", m, checks)


def dtypes_typed(w):
    """The typed-field forms that onnx.helper.make_tensor(..., raw=False) writes."""
    cases = []  # (tensor, field, milo dtype, shape, expected bytes)

    def add(name, typ, dims, vals, field, dtype, shape, data):
        t = helper.make_tensor(name, typ, dims, vals, raw=False)
        assert not t.HasField("raw_data") and len(getattr(t, field)) > 0, name
        cases.append((t, field, dtype, shape, data))

    f16 = np.array([1.0, -0.0, np.inf, 0.1], "<f2")
    add("t_f16", TP.FLOAT16, [4], f16, "int32_data", "float16", [4], le(f16))
    bf = helper.make_tensor("probe", TP.BFLOAT16, [3], [1.0, -2.5, 3.14159])
    add("t_bf16", TP.BFLOAT16, [3], [1.0, -2.5, 3.14159], "int32_data", "bfloat16", [3],
        le(np.array(bf.int32_data, "<u2")))
    add("t_bool", TP.BOOL, [2, 2], [True, False, False, True], "int32_data", "bool", [2, 2],
        bytes([1, 0, 0, 1]))
    add("t_i8", TP.INT8, [3], [-128, 5, 127], "int32_data", "int8", [3], bytes([0x80, 5, 127]))
    add("t_u8", TP.UINT8, [2], [0, 255], "int32_data", "uint8", [2], bytes([0, 255]))
    add("t_i16", TP.INT16, [2], [-32768, 1], "int32_data", "int16", [2],
        le(np.array([-32768, 1], "<i2")))
    add("t_u16", TP.UINT16, [1], [65535], "int32_data", "uint16", [1], b"\xff\xff")
    add("t_i32", TP.INT32, [2], [-1, 2**31 - 1], "int32_data", "int32", [2],
        le(np.array([-1, 2**31 - 1], "<i4")))
    f8 = helper.make_tensor("probe", TP.FLOAT8E4M3FN, [3], [1.0, -2.0, 448.0])
    add("t_f8", TP.FLOAT8E4M3FN, [3], [1.0, -2.0, 448.0], "int32_data", "uint8", [3],
        bytes(f8.int32_data))
    # packed INT4 in int32_data (one packed byte per int32, 3 for 5 elements): unpacked to dims
    add("t_i4", TP.INT4, [5], [-8, -1, 0, 3, 7], "int32_data", "int8", [5],
        le(np.array([-8, -1, 0, 3, 7], "<i1")))
    add("t_u4", TP.UINT4, [3], [15, 0, 9], "int32_data", "uint8", [3], bytes([15, 0, 9]))
    add("t_f32", FLOAT, [2, 1], [0.5, -0.0], "float_data", "float32", [2, 1],
        le(np.array([0.5, -0.0], "<f4")))
    c64 = np.array([1 + 2j, 3 - 4j], "<c8")
    add("t_c64", TP.COMPLEX64, [2], c64, "float_data", "complex64", [2], le(c64))
    c128 = np.array([[0.1 + 0.2j]], "<c16")
    add("t_c128", TP.COMPLEX128, [1, 1], c128, "double_data", "complex128", [1, 1], le(c128))
    add("t_f64", TP.DOUBLE, [1], [0.1], "double_data", "float64", [1], le(np.array([0.1], "<f8")))
    add("t_i64", TP.INT64, [2], [-(2**63), 5], "int64_data", "int64", [2],
        le(np.array([-(2**63), 5], "<i8")))
    add("t_u32", TP.UINT32, [3], [0, 7, 2**32 - 1], "uint64_data", "uint32", [3],
        le(np.array([0, 7, 2**32 - 1], "<u4")))
    add("t_u64", TP.UINT64, [2], [2**64 - 1, 2**63], "uint64_data", "uint64", [2],
        le(np.array([2**64 - 1, 2**63], "<u8")))
    t_str = helper.make_tensor("t_str", TP.STRING, [2], [b"typed", "é".encode()])
    m = model_of([helper.make_node("Identity", ["t_f32"], ["y"], name="use")], "dtypes_typed",
                 outputs=[vi("y", FLOAT, [2, 1])], initializers=[c[0] for c in cases] + [t_str])
    checks = []
    for t, field, dtype, shape, data in cases:
        checks.append(tensor_check(init(t.name) + [field], dtype, shape, data))
        checks.append(absent(init(t.name) + ["raw_data"]))
    checks.append(tensor_check(init("t_str") + ["string_data"], "string", [2],
                               strings=["typed", "é"]))
    w.model("dtypes_typed.onnx", m, checks)


# ---------------------------------------------------------------- nested subgraphs

def subgraphs(w):
    def const_graph(name, value, node_name=None):
        c = helper.make_node("Constant", [], [name + "_v"], name=node_name,
                             value=numpy_helper.from_array(np.array([value], "<f4")))
        return helper.make_graph([c], name, [], [vi(name + "_v", FLOAT, [1])])

    # If at top level
    if_top = helper.make_node("If", ["cond"], ["if_out"], name="if_top",
                              then_branch=const_graph("then_graph", 1.0, "then_const"),
                              else_branch=const_graph("else_graph", -1.0))
    # three levels of graphs: Loop body → If → If → a graph holding an initializer
    deep_w = np.array([0.25, -8.0], "<f4")
    deepest = helper.make_graph(
        [helper.make_node("Identity", ["deep_w"], ["deep_out"], name="deepest")], "deepest",
        [], [vi("deep_out", FLOAT, [2])], initializer=[numpy_helper.from_array(deep_w, "deep_w")])
    if_deep = helper.make_node("If", ["cond_in"], ["d_out"], name="if_deep",
                               then_branch=const_graph("deep_then", 2.0), else_branch=deepest)
    level2 = helper.make_graph([if_deep], "level2", [], [vi("d_out")])
    if_in_loop = helper.make_node("If", ["cond_in"], ["l_out"], name="if_in_loop",
                                  then_branch=level2, else_branch=const_graph("loop_else", 0.0))
    body = helper.make_graph(
        [if_in_loop, helper.make_node("Identity", ["cond_in"], ["cond_out"])], "loop_body",
        [vi("iter", TP.INT64, []), vi("cond_in", TP.BOOL, [])],
        [vi("cond_out", TP.BOOL, []), vi("l_out")])
    loop = helper.make_node("Loop", ["trip", "cond"], ["loop_scan"], name="loop", body=body)
    # Scan
    scan_body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_in"], ["s_out"], name="scan_add"),
         helper.make_node("Identity", ["s_out"], ["y_out"])], "scan_body",
        [vi("s_in", FLOAT, [2]), vi("x_in", FLOAT, [2])],
        [vi("s_out", FLOAT, [2]), vi("y_out", FLOAT, [2])])
    scan = helper.make_node("Scan", ["s0", "xs"], ["s_final", "ys"], name="scan",
                            num_scan_inputs=1, body=scan_body)
    # a GRAPHS attribute (list of graphs) on a custom-domain node
    custom = helper.make_node("Branches", ["cond"], ["b_out"], name="custom_graphs",
                              domain="test.milo",
                              branches=[const_graph("g0", 0.0), const_graph("g1", 1.0)])
    m = model_of([if_top, loop, scan, custom], "subgraphs",
                 [vi("cond", TP.BOOL, []), vi("trip", TP.INT64, []), vi("s0", FLOAT, [2]),
                  vi("xs", FLOAT, [3, 2])],
                 [vi("if_out"), vi("loop_scan"), vi("s_final"), vi("ys"), vi("b_out")])
    m.opset_import.append(helper.make_opsetid("test.milo", 1))
    then_g = attr(node("if_top"), "then_branch") + ["g"]
    body_g = attr(node("loop"), "body") + ["g"]
    lvl2 = attr(body_g + ["node", {"name": "if_in_loop"}], "then_branch") + ["g"]
    lvl3 = attr(lvl2 + ["node", {"name": "if_deep"}], "else_branch") + ["g"]
    checks = [
        string_check(attr(node("if_top"), "then_branch") + ["type"], "GRAPH"),
        object_check(then_g, "onnx.GraphProto", ["node", "name", "output"]),
        string_check(then_g + ["name"], "then_graph"),
        string_check(then_g + ["node", 0, "name"], "then_const"),
        tensor_check(attr(then_g + ["node", 0], "value") + ["t", "raw_data"], "float32", [1],
                     le(np.array([1.0], "<f4"))),
        string_check(attr(node("if_top"), "else_branch") + ["g", "name"], "else_graph"),
        string_check(body_g + ["name"], "loop_body"),
        string_check(lvl2 + ["name"], "level2"),
        string_check(lvl3 + ["name"], "deepest"),
        string_check(lvl3 + ["node", {"name": "deepest"}, "op_type"], "Identity"),
        tensor_check(lvl3 + ["initializer", {"name": "deep_w"}, "raw_data"], "float32", [2],
                     le(deep_w)),
        int_check(attr(node("scan"), "num_scan_inputs") + ["i"], 1),
        string_check(attr(node("scan"), "body") + ["g", "node", 0, "name"], "scan_add"),
        string_check(attr(node("custom_graphs"), "branches") + ["type"], "GRAPHS"),
        list_check(attr(node("custom_graphs"), "branches") + ["graphs"], 2),
        string_check(attr(node("custom_graphs"), "branches") + ["graphs", 1, "name"], "g1"),
    ]
    w.model("subgraphs.onnx", m, checks)


# ---------------------------------------------------------------- metadata_props everywhere

def metadata(w):
    """metadata_props on model (in the compiled 1.12 schema) and on graph, node, tensor, value
    info and function (ONNX 1.16, known to the plugin through its overlay only)."""
    t = numpy_helper.from_array(np.array([1, 2], "<i8"), "w_meta")
    t.metadata_props.add(key="tensor.k", value="tensor-v")
    n = helper.make_node("Add", ["x", "w_meta"], ["y"], name="n_meta")
    n.metadata_props.add(key="node.k1", value="v1")
    n.metadata_props.add(key="node.k2", value="v2 ü")
    x = vi("x", TP.INT64, [2])
    x.metadata_props.add(key="input.k", value="in")
    y = vi("y", TP.INT64, [2])
    hidden = vi("hidden", TP.INT64, [2])
    hidden.metadata_props.add(key="vi.k", value="value-info")
    f = helper.make_function("meta.fn", "MetaFn", ["a"], ["b"],
                             [helper.make_node("Identity", ["a"], ["b"])], OPSET)
    f.metadata_props.add(key="function.k", value="fn")
    g = helper.make_graph([n], "g_meta", [x], [y], initializer=[t], value_info=[hidden])
    g.metadata_props.add(key="graph.k", value="graph-v")
    m = helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("meta.fn", 1)],
                          functions=[f])
    m.ir_version = IR
    helper.set_model_props(m, {"model.a": "1", "model.b": "two"})
    U = "(unknown fields)"
    checks = (
        metadata_checks(["metadata_props"], [("model.a", "1"), ("model.b", "two")])
        + metadata_checks(["graph", "metadata_props"], [("graph.k", "graph-v")])
        + metadata_checks(node("n_meta") + ["metadata_props"],
                          [("node.k1", "v1"), ("node.k2", "v2 ü")])
        + metadata_checks(init("w_meta") + ["metadata_props"], [("tensor.k", "tensor-v")])
        + metadata_checks(["graph", "input", 0, "metadata_props"], [("input.k", "in")])
        + metadata_checks(["graph", "value_info", 0, "metadata_props"], [("vi.k", "value-info")])
        + metadata_checks(["functions", 0, "metadata_props"], [("function.k", "fn")])
        + [absent(p + [U]) for p in (["graph"], node("n_meta"), init("w_meta"),
                                     ["graph", "input", 0], ["graph", "value_info", 0],
                                     ["functions", 0], [])]
        + [object_check(node("n_meta"), "onnx.NodeProto",
                        ["input", "output", "name", "op_type", "metadata_props"]),
           object_check(["graph"], "onnx.GraphProto",
                        ["node", "name", "initializer", "input", "output", "value_info",
                         "metadata_props"]),
           object_check(init("w_meta"), "onnx.TensorProto",
                        ["dims", "data_type", "name", "raw_data", "metadata_props"]),
           object_check(["graph", "value_info", 0], "onnx.ValueInfoProto",
                        ["name", "type", "metadata_props"]),
           tensor_check(init("w_meta") + ["raw_data"], "int64", [2],
                        le(np.array([1, 2], "<i8")))])
    w.model("metadata.onnx", m, checks)


# ---------------------------------------------------------------- functions, training, docs

def functions(w):
    """A model-local function with attribute defaults, overload and value_info; a node calling
    that overload; training_info; a doc_string on every message that has one."""
    bias = numpy_helper.from_array(np.array([0.5, -1.0], "<f4"), "bias_default")
    bias.metadata_props.add(key="in.overlay", value="yes")   # a tensor parsed by the overlay
    fn_nodes = [
        helper.make_node("Mul", ["x", "x"], ["sq"], name="fn_mul", doc_string="square"),
        helper.make_node("Constant", [], ["b"], name="fn_const"),
        helper.make_node("Add", ["sq", "b"], ["y"], name="fn_add"),
    ]
    # the Constant takes its value from the function's "bias" attribute (ref_attr_name)
    ref = fn_nodes[1].attribute.add()
    ref.name, ref.ref_attr_name, ref.type = "value", "bias", onnx.AttributeProto.TENSOR
    f = helper.make_function("custom.fn", "SquarePlus", ["x"], ["y"], fn_nodes,
                             OPSET, attributes=["unused"],
                             attribute_protos=[helper.make_attribute("bias", bias),
                                               helper.make_attribute("mode", "fast")],
                             doc_string="function doc")
    f.overload = "v2"
    f.value_info.append(vi("sq", FLOAT, [2]))
    call = helper.make_node("SquarePlus", ["x"], ["y"], name="call_fn", domain="custom.fn",
                            doc_string="node doc")
    call.overload = "v2"
    call.attribute.append(helper.make_attribute("mode", "slow", doc_string="attr doc"))
    w0 = numpy_helper.from_array(np.array([1.0, 2.0], "<f4"), "w")
    w0.doc_string = "tensor doc"
    x = helper.make_tensor_value_info("x", FLOAT, [2], doc_string="input doc")
    g = helper.make_graph([call], "g_fn", [x], [vi("y", FLOAT, [2])], initializer=[w0],
                          doc_string="graph doc")
    m = helper.make_model(g, opset_imports=OPSET + [helper.make_opsetid("custom.fn", 1)],
                          functions=[f], doc_string="model doc", producer_name="milo-fixtures",
                          producer_version="1.0", domain="dev.milo", model_version=42)
    m.ir_version = IR
    # training_info: an initialization graph and an algorithm graph with their bindings
    init_g = helper.make_graph(
        [helper.make_node("Identity", ["w_start"], ["w_init"], name="t_init")], "training_init",
        [], [vi("w_init", FLOAT, [2])],
        initializer=[numpy_helper.from_array(np.zeros(2, "<f4"), "w_start")])
    algo_g = helper.make_graph(
        [helper.make_node("Sub", ["w", "grad"], ["w_new"], name="t_step")], "training_algo",
        [vi("grad", FLOAT, [2])], [vi("w_new", FLOAT, [2])])
    ti = m.training_info.add()
    ti.initialization.CopyFrom(init_g)
    ti.algorithm.CopyFrom(algo_g)
    ti.initialization_binding.add(key="w", value="w_init")
    ti.update_binding.add(key="w", value="w_new")
    fp = ["functions", 0]
    checks = [
        header("type", "onnx.ModelProto"), header("framework.name", "onnx"),
        header("framework.version", "21"), header("source.kind", "onnx"),
        header("source.version", str(IR)), header("transporter.id", "onnx"),
        object_check([], "onnx.ModelProto",
                     ["ir_version", "producer_name", "producer_version", "domain",
                      "model_version", "doc_string", "graph", "opset_import", "training_info",
                      "functions"]),
        int_check(["ir_version"], IR), int_check(["model_version"], 42),
        string_check(["domain"], "dev.milo"),
        list_check(["opset_import"], 2),
        string_check(["opset_import", 1, "domain"], "custom.fn"),
        int_check(["opset_import", 0, "version"], 21),
        string_check(["doc_string"], "model doc"),
        string_check(["graph", "doc_string"], "graph doc"),
        string_check(node("call_fn") + ["doc_string"], "node doc"),
        string_check(attr(node("call_fn"), "mode") + ["doc_string"], "attr doc"),
        bytes_check(attr(node("call_fn"), "mode") + ["s"], b"slow"),
        string_check(["graph", "input", 0, "doc_string"], "input doc"),
        string_check(init("w") + ["doc_string"], "tensor doc"),
        string_check(node("call_fn") + ["overload"], "v2"),
        object_check(node("call_fn"), "onnx.NodeProto",
                     ["input", "output", "name", "op_type", "attribute", "doc_string",
                      "domain", "overload"]),
        object_check(fp, "onnx.FunctionProto",
                     ["name", "input", "output", "attribute", "node", "doc_string",
                      "opset_import", "domain", "attribute_proto", "value_info", "overload"]),
        string_check(fp + ["name"], "SquarePlus"), string_check(fp + ["domain"], "custom.fn"),
        string_check(fp + ["overload"], "v2"), string_check(fp + ["doc_string"], "function doc"),
        list_check(fp + ["attribute"], 1, ["unused"]),
        list_check(fp + ["attribute_proto"], 2),
        string_check(fp + ["attribute_proto", 0, "name"], "bias"),
        string_check(fp + ["attribute_proto", 0, "type"], "TENSOR"),
        tensor_check(fp + ["attribute_proto", 0, "t", "raw_data"], "float32", [2],
                     le(np.array([0.5, -1.0], "<f4"))),
        string_check(fp + ["attribute_proto", 0, "t", "data_type"], "FLOAT"),
        string_check(fp + ["attribute_proto", 0, "t", "metadata_props", 0, "key"], "in.overlay"),
        bytes_check(fp + ["attribute_proto", 1, "s"], b"fast"),
        string_check(fp + ["value_info", 0, "name"], "sq"),
        string_check(fp + ["value_info", 0, "type", "tensor_type", "elem_type"], "FLOAT"),
        string_check(fp + ["node", {"name": "fn_const"}, "attribute", 0, "ref_attr_name"], "bias"),
        string_check(fp + ["node", {"name": "fn_mul"}, "doc_string"], "square"),
        object_check(["training_info", 0], "onnx.TrainingInfoProto",
                     ["initialization", "algorithm", "initialization_binding", "update_binding"]),
        string_check(["training_info", 0, "initialization", "name"], "training_init"),
        tensor_check(["training_info", 0, "initialization", "initializer", 0, "raw_data"],
                     "float32", [2], bytes(8)),
        string_check(["training_info", 0, "algorithm", "node", 0, "name"], "t_step"),
        string_check(["training_info", 0, "update_binding", 0, "value"], "w_new"),
        absent(fp + ["(unknown fields)"]), absent(["(unknown fields)"]),
    ]
    w.model("functions.onnx", m, checks)


def multi_device(w):
    """ModelProto.configuration and NodeProto.device_configurations (ONNX 1.19 messages)."""
    n = helper.make_node("MatMul", ["x", "x"], ["y"], name="sharded")
    dc = n.device_configurations.add()
    dc.configuration_id = "mesh"
    dc.pipeline_stage = 1
    spec = dc.sharding_spec.add()
    spec.tensor_name = "x"
    spec.device.extend([0, 1])
    spec.index_to_device_group_map.add(key=0, value=[0, 1])
    sd = spec.sharded_dim.add()
    sd.axis = 0
    sd.simple_sharding.add(dim_value=8, num_shards=2)
    sd.simple_sharding.add(dim_param="N", num_shards=2)
    m = model_of([n], "multi_device", [vi("x", FLOAT, [8, 8])], [vi("y", FLOAT, [8, 8])])
    cfg = m.configuration.add()
    cfg.name, cfg.num_devices = "mesh", 2
    cfg.device.extend(["cuda:0", "cuda:1"])
    dcp = node("sharded") + ["device_configurations", 0]
    sp = dcp + ["sharding_spec", 0]
    checks = [
        object_check(["configuration", 0], "onnx.DeviceConfigurationProto",
                     ["name", "num_devices", "device"]),
        string_check(["configuration", 0, "name"], "mesh"),
        int_check(["configuration", 0, "num_devices"], 2),
        list_check(["configuration", 0, "device"], 2, ["cuda:0", "cuda:1"]),
        object_check(dcp, "onnx.NodeDeviceConfigurationProto",
                     ["configuration_id", "sharding_spec", "pipeline_stage"]),
        int_check(dcp + ["pipeline_stage"], 1),
        object_check(sp, "onnx.ShardingSpecProto",
                     ["tensor_name", "device", "index_to_device_group_map", "sharded_dim"]),
        list_check(sp + ["device"], 2, [0, 1]),
        object_check(sp + ["index_to_device_group_map", 0], "onnx.IntIntListEntryProto"),
        list_check(sp + ["index_to_device_group_map", 0, "value"], 2, [0, 1]),
        object_check(sp + ["sharded_dim", 0, "simple_sharding", 1], "onnx.SimpleShardedDimProto",
                     ["dim_param", "num_shards"]),
        int_check(sp + ["sharded_dim", 0, "simple_sharding", 0, "dim_value"], 8),
        string_check(sp + ["sharded_dim", 0, "simple_sharding", 1, "dim_param"], "N"),
        absent(["(unknown fields)"]), absent(node("sharded") + ["(unknown fields)"]),
    ]
    w.model("multi_device.onnx", m, checks)


# ---------------------------------------------------------------- unknown fields

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def tag(number, wire):
    return varint(number << 3 | wire)


def ld(number, payload):
    return tag(number, 2) + varint(len(payload)) + payload


def unknown_fields(w):
    """Fields no ONNX release defines, appended by hand to a ModelProto, a GraphProto and
    NodeProtos (one beside an overlay-known field, one with a known number but the wrong
    wire type): they must come back, in wire order, under "(unknown fields)"."""
    model_extra = (tag(999, 0) + varint(7) + ld(998, b"opaque\x00\xff")
                   + tag(997, 5) + struct.pack("<I", 0xDEADBEEF)
                   + tag(996, 1) + struct.pack("<Q", 2**64 - 1)
                   + tag(995, 3) + tag(1, 0) + varint(5) + ld(2, b"g") + tag(995, 4))
    graph_extra = tag(999, 0) + varint(7) + ld(998, b"graph-extra")
    mixed_extra = tag(1000, 0) + varint(3) + ld(1001, b"\x01\x02")
    wrong_wire = tag(9, 0) + varint(1)   # NodeProto.metadata_props is a message, not a varint
    mixed = helper.make_node("Relu", ["x"], ["h"], name="node_mixed")
    mixed.metadata_props.add(key="k", value="v")
    mixed = onnx.NodeProto.FromString(mixed.SerializeToString() + mixed_extra)
    wrong = onnx.NodeProto.FromString(
        helper.make_node("Relu", ["h"], ["y"], name="node_wrong_wire").SerializeToString()
        + wrong_wire)
    g = helper.make_graph([mixed, wrong], "g_unknown", [vi("x")], [vi("y")])
    g = onnx.GraphProto.FromString(g.SerializeToString() + graph_extra)
    m = helper.make_model(g, opset_imports=OPSET)
    m.ir_version = IR
    data = m.SerializeToString() + model_extra
    for part in (graph_extra, mixed_extra, wrong_wire):
        assert part in data, "protobuf dropped the unknown fields"
    U = "(unknown fields)"
    checks = [
        list_check([U], 5, [
            {"number": 999, "wire": "varint", "value": 7},
            {"number": 998, "wire": "bytes", "value": {"hex": b"opaque\x00\xff".hex()}},
            {"number": 997, "wire": "fixed32", "value": 0xDEADBEEF},
            {"number": 996, "wire": "fixed64", "value": {"int": str(2**64 - 1)}},
            {"number": 995, "wire": "group", "value": [
                {"number": 1, "wire": "varint", "value": 5},
                {"number": 2, "wire": "bytes", "value": {"hex": b"g".hex()}}]}]),
        object_check([], "onnx.ModelProto", ["ir_version", "graph", "opset_import", U]),
        list_check(["graph", U], 2, [
            {"number": 999, "wire": "varint", "value": 7},
            {"number": 998, "wire": "bytes", "value": {"hex": b"graph-extra".hex()}}]),
        object_check(["graph"], "onnx.GraphProto", ["node", "name", "input", "output", U]),
        object_check(node("node_mixed"), "onnx.NodeProto",
                     ["input", "output", "name", "op_type", "metadata_props", U]),
        string_check(node("node_mixed") + ["metadata_props", 0, "value"], "v"),
        list_check(node("node_mixed") + [U], 2, [
            {"number": 1000, "wire": "varint", "value": 3},
            {"number": 1001, "wire": "bytes", "value": {"hex": "0102"}}]),
        object_check(node("node_wrong_wire"), "onnx.NodeProto",
                     ["input", "output", "name", "op_type", U]),
        list_check(node("node_wrong_wire") + [U], 1,
                   [{"number": 9, "wire": "varint", "value": 1}]),
        absent(["graph", "input", 0, U]),
    ]
    w.model("unknown_fields.onnx", data, checks)


# ---------------------------------------------------------------- odd tensors and numbers

def tensor_edges(w):
    seg_raw = raw_tensor("seg_raw", FLOAT, [10], le(np.array([1, 2, 3], "<f4")))
    seg_raw.segment.begin, seg_raw.segment.end = 2, 5
    seg_typed = redim(helper.make_tensor("seg_typed", TP.INT64, [4], [4, 5, 6, 7]), [10])
    seg_typed.segment.begin, seg_typed.segment.end = 0, 4
    seg_bad = raw_tensor("seg_bad", FLOAT, [2], bytes(12))  # end past the element count
    seg_bad.segment.begin, seg_bad.segment.end = 0, 3
    keep = [  # (tensor, raw bytes kept as they are)
        raw_tensor("raw_short", FLOAT, [4], bytes(12)),            # length not dims × 4
        raw_tensor("raw_long", TP.INT16, [1], b"\x01\x02\x03"),
        raw_tensor("bool_two", TP.BOOL, [2], b"\x01\x02"),          # a bool byte above 1
        raw_tensor("u4_padding", TP.UINT4, [3], b"\x10\xf2"),       # padding bits set
        raw_tensor("i4_short", TP.INT4, [5], b"\x10\x32"),          # 2 bytes for 5 nibbles
        raw_tensor("neg_dims", FLOAT, [-1], bytes(4)),
        raw_tensor("f6", TP.FLOAT6E2M3, [2], b"\x01\x3f"),          # no tensor form
        raw_tensor("type_99", 99, [2], b"\x01\x02"),                # unknown data_type
        raw_tensor("undefined", TP.UNDEFINED, [1], b"\x07"),
        seg_bad,
    ]
    typed = [  # (tensor, field, dtype, shape, bytes)
        (redim(helper.make_tensor("f_count", FLOAT, [3], [1.0, 2.0, 3.0]), [2, 2]),
         "float_data", "float32", [3], le(np.array([1, 2, 3], "<f4"))),
        (helper.make_tensor("i8_wide", TP.INT32, [1, 2], [1, 300], raw=False),
         "int32_data", "int32", [2], le(np.array([1, 300], "<i4"))),
        (redim(helper.make_tensor("c64_odd", FLOAT, [3], [1.0, 2.0, 3.0]), [2]),
         "float_data", "float32", [3], le(np.array([1, 2, 3], "<f4"))),
        (helper.make_tensor("u32_big", TP.UINT64, [2, 1], [1, 2**33], raw=False),
         "uint64_data", "uint64", [2], le(np.array([1, 2**33], "<u8"))),
    ]
    # a typed field that does not fit its data type stays a flat 1-D tensor of its own type
    typed[1][0].data_type = TP.INT8       # 300 does not fit int8
    typed[2][0].data_type = TP.COMPLEX64  # 3 floats are not pairs
    typed[3][0].data_type = TP.UINT32     # 2^33 does not fit uint32
    n = helper.make_node("Pad", ["x"], ["y"], name="numbers",
                         many_ints=list(range(-50, 50)), many_floats=[0.5] * 65,
                         ints_64=list(range(64)), neg_zero=-0.0, big=2**63 - 1,
                         small=-(2**63), nan_attr=float("nan"), snan_attr=1.75)
    m = model_of([n], "edges", initializers=[seg_raw, seg_typed] + keep + [t[0] for t in typed])
    data = m.SerializeToString()
    # a signalling NaN float attribute, written by hand (Python floats would quiet it)
    quiet = tag(2, 5) + struct.pack("<f", 1.75)
    assert data.count(quiet) == 1
    data = data.replace(quiet, tag(2, 5) + bytes.fromhex("0000a07f"))
    numbers = node("numbers")
    checks = [
        tensor_check(init("seg_raw") + ["raw_data"], "float32", [3],
                     le(np.array([1, 2, 3], "<f4"))),
        object_check(init("seg_raw") + ["segment"], "onnx.TensorProto.Segment", ["begin", "end"]),
        int_check(init("seg_raw") + ["segment", "end"], 5),
        tensor_check(init("seg_typed") + ["int64_data"], "int64", [4],
                     le(np.array([4, 5, 6, 7], "<i8"))),
        string_check(init("f6") + ["data_type"], "FLOAT6E2M3"),
        int_check(init("type_99") + ["data_type"], 99),
        string_check(init("undefined") + ["data_type"], "UNDEFINED"),
        tensor_check(attr(numbers, "many_ints") + ["ints"], "int64", [100],
                     le(np.arange(-50, 50, dtype="<i8"))),
        tensor_check(attr(numbers, "many_floats") + ["floats"], "float32", [65],
                     le(np.full(65, 0.5, "<f4"))),
        list_check(attr(numbers, "ints_64") + ["ints"], 64, list(range(64))),
        float_check(attr(numbers, "neg_zero") + ["f"], -0.0),
        float_check(attr(numbers, "nan_attr") + ["f"], float(np.float32("nan"))),
        tensor_check(attr(numbers, "snan_attr") + ["f"], "float32", [], bytes.fromhex("0000a07f")),
        int_check(attr(numbers, "big") + ["i"], 2**63 - 1),
        int_check(attr(numbers, "small") + ["i"], -(2**63)),
        string_check(attr(numbers, "snan_attr") + ["type"], "FLOAT"),
    ]
    for t in keep:
        checks.append(bytes_check(init(t.name) + ["raw_data"], t.raw_data))
    for t, field, dtype, shape, raw in typed:
        checks.append(tensor_check(init(t.name) + [field], dtype, shape, raw))
    w.model("tensor_edges.onnx", data, checks)


# ---------------------------------------------------------------- main

# Everything this script writes under OUTDIR: removed first, so a run never sees stale files.
OWNED = ["ext_one_file", "ext_per_tensor", "ext_subfolder", "bad", "outside.bin",
         "sparse.onnx", "strings.onnx", "dtypes_raw.onnx", "dtypes_typed.onnx", "subgraphs.onnx",
         "metadata.onnx", "functions.onnx", "multi_device.onnx", "unknown_fields.onnx",
         "tensor_edges.onnx", "expected.json"]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_onnx_fixtures.py OUTDIR")
    out = os.path.abspath(sys.argv[1])
    os.makedirs(out, exist_ok=True)
    for name in OWNED:
        p = os.path.join(out, name)
        if os.path.islink(p) or os.path.isfile(p):
            os.remove(p)
        elif os.path.isdir(p):
            shutil.rmtree(p)
    w = Writer(out)
    for make in (external_one_file, external_per_tensor, external_subfolder, external_bad,
                 sparse, strings, dtypes_raw, dtypes_typed, subgraphs, metadata, functions,
                 multi_device, unknown_fields, tensor_edges):
        make(w)
    expected = {"onnx_version": onnx.__version__, "fixtures": w.fixtures}
    with open(os.path.join(out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, indent=1, ensure_ascii=False)
        f.write("\n")
    good = [e for e in w.fixtures if not e.get("must_fail")]
    print(f"{len(good)} fixtures ({sum(len(e['checks']) for e in good)} checks), "
          f"{len(w.fixtures) - len(good)} must-fail models in {out}")


if __name__ == "__main__":
    main()
