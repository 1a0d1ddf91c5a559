"""The torch writer (document -> .pt through `milo convert DOC out.pt`), tested two ways.

(a) Real torch.save files -> `milo convert` to JSON (the reader) -> `milo convert` back to .pt:
    the bytes equal torch's own file, and torch.load gives identical tensors (legacy-format
    sources are written in the zip format: same tensors, other bytes).
(b) Documents built with the milo Python adapter in the contract's form (independent of the
    reader) -> .pt: the bytes equal what torch.save writes for the same objects built in
    torch, and torch.load(weights_only=True) gives them back.
Identical means: same Python types (Parameter vs Tensor, OrderedDict vs dict), dtype, shape,
stride, storage offset, requires_grad, every byte of every storage (NaN payloads, -0.0,
bfloat16, complex), and the same grouping of tensors by storage. Each output is written twice
from its document: same bytes. Must-fail documents: a precise error naming the path, no file.

    writer_test.py MILO_BINARY LIBMILO WORKDIR PYTHON_ADAPTER_DIR
"""
import collections
import io
import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch

MILO, LIBMILO, WORK, ADAPTER = sys.argv[1:5]
os.environ["MILO_LIBRARY"] = LIBMILO
sys.path.insert(0, ADAPTER)
import milo  # noqa: E402

os.makedirs(WORK, exist_ok=True)
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def convert(src, dst):
    if os.path.exists(dst):
        os.remove(dst)
    return subprocess.run([MILO, "convert", src, dst], capture_output=True, text=True)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def storage_bytes(t):
    """Every byte of the tensor's whole storage."""
    whole = torch.empty(0, dtype=t.dtype).set_(t.storage())
    return whole.view(torch.uint8).numpy().tobytes() if whole.numel() else b""


def same(a, b, path, storages):
    """Compares two loaded objects; records each tensor's storage for the sharing check."""
    if type(a) is not type(b):
        return check(False, "%s: type %s vs %s" % (path, type(a).__name__, type(b).__name__))
    if isinstance(a, torch.Tensor):
        for attr in ("dtype", "shape", "requires_grad"):
            check(getattr(a, attr) == getattr(b, attr), "%s: %s %s vs %s" % (
                path, attr, getattr(a, attr), getattr(b, attr)))
        check(a.stride() == b.stride(), "%s: stride %s vs %s" % (path, a.stride(), b.stride()))
        check(a.storage_offset() == b.storage_offset(), path + ": storage offset")
        check(storage_bytes(a) == storage_bytes(b), path + ": storage bytes differ")
        storages.append((path, a.storage().data_ptr(), b.storage().data_ptr(), a.storage().size()))
    elif isinstance(a, dict):
        check(list(a) == list(b), "%s: keys %s vs %s" % (path, list(a), list(b)))
        for k in a:
            if k in b:
                same(a[k], b[k], "%s/%s" % (path, k), storages)
    elif isinstance(a, (list, tuple)):
        check(len(a) == len(b), path + ": length")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, "%s/%d" % (path, i), storages)
    elif isinstance(a, float):
        check(struct.pack("<d", a) == struct.pack("<d", b), "%s: %r vs %r" % (path, a, b))
    else:
        check(a == b, "%s: %r vs %r" % (path, a, b))


def same_loaded(a, b, name):
    storages = []
    same(a, b, name, storages)
    # Sharing: two tensors share a storage in one exactly when they do in the other.
    for i, (p, a1, b1, n1) in enumerate(storages):
        for q, a2, b2, n2 in storages[i + 1:]:
            if n1 and n2:
                check((a1 == a2) == (b1 == b2), "%s and %s: storage sharing differs" % (p, q))


def load(path, weights_only=True):
    return torch.load(path, weights_only=weights_only)


def must_load_alike(original, ours, name, weights_only=True):
    same_loaded(load(original, weights_only), load(ours, weights_only), name)


# ---- (a) real torch.save files through the reader and back ---------------------------------
def real_cases():
    g = torch.Generator().manual_seed(0)
    nan_payload = torch.from_numpy(f32([0x7FC00001, 0xFFC12345, 0x80000000, 0x7F800000]))
    dtypes = {}
    for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64,
               torch.complex128, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8):
        dtypes[str(dt)] = (torch.randn(2, 3, generator=g) * 50).to(dt)
    dtypes["bool"] = torch.tensor([[True, False, True]])
    dtypes["nan_payload"] = nan_payload
    dtypes["zero_d"] = torch.tensor(7, dtype=torch.int64)
    dtypes["empty"] = torch.zeros(0, 3)
    base = torch.arange(24, dtype=torch.float64).reshape(4, 6)
    views = collections.OrderedDict()
    views["base"] = base
    views["t"] = base.t()
    views["slice"] = base[1:3, 2:5]
    views["row"] = base[2]
    views["expand"] = torch.ones(3, 1).expand(3, 4)
    views["again"] = base  # the same tensor twice
    views["param"] = torch.nn.Parameter(torch.randn(3, 2, generator=g))
    views["frozen"] = torch.nn.Parameter(base[0], requires_grad=False)
    views["grad"] = torch.randn(2, generator=g).requires_grad_()
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
    nested = {"epoch": 3, "name": "run-1", "tags": ["a", "b"], "pair": (1, "x"), "none": None,
              "flags": [True, False], "big": 2**40, "neg": -70000, "model": model.state_dict(),
              "list_of_tensors": [torch.ones(2), torch.zeros(2, dtype=torch.int32)]}
    with_floats = {"lr": 0.1, "neg_zero": -0.0, "inf": float("inf"), "w": torch.ones(2)}
    return [("dtypes", dtypes, True, False), ("views", views, True, False),
            ("state_dict", model.state_dict(), True, False), ("nested", nested, True, False),
            ("with_floats", with_floats, False, False), ("legacy_views", views, True, True)]


def run_real():
    for name, obj, weights_only, legacy in real_cases():
        src = os.path.join(WORK, name + ".pt")
        torch.save(obj, src, _use_new_zipfile_serialization=not legacy)
        doc, out, out2 = (os.path.join(WORK, name + s) for s in (".json", ".out.pt", ".out2.pt"))
        r = convert(src, doc)
        if r.returncode != 0:
            check(False, "%s: reading failed: %s" % (name, r.stderr.strip()))
            continue
        r = convert(doc, out)
        if r.returncode != 0:
            check(False, "%s: writing failed: %s" % (name, r.stderr.strip()))
            continue
        check(convert(doc, out2).returncode == 0 and read(out) == read(out2),
              name + ": second write differs")
        shared = "pickle.shared_strings" in json.load(open(doc))["milo"].get("metadata", {})
        if legacy:
            check(read(out)[:4] == b"PK\x03\x04", name + ": not written in the zip format")
        elif name in ("state_dict", "nested") and not shared:
            # The pickle shares the string 'version' between _metadata dicts; without the
            # reader's pickle.shared_strings the bytes differ there only (loads identically).
            print("NOTE: %s: no pickle.shared_strings in the document; byte identity not checked"
                  % name)
        else:
            check(read(out) == read(src), name + ": bytes differ from torch.save's file")
        if not weights_only:
            # torch 1.13's weights_only unpickler has no BINFLOAT: it refuses torch's own file.
            for path in (src, out):
                try:
                    load(path, True)
                    check(False, name + ": weights_only load of floats unexpectedly worked")
                except Exception as e:  # noqa: BLE001 - torch raises UnpicklingError
                    check("Unsupported operand 71" in str(e), name + ": " + str(e)[:200])
        must_load_alike(src, out, name, weights_only)
        print("ok (a)", name)


# ---- (b) documents made with the Python adapter ---------------------------------------------
def f32(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def built_case(doc):
    """(document root, the same objects built in torch)."""
    Obj = milo.Object
    data = f32([0x7FC00001, 0x80000000, 0x7F800000, 0xFF800000] +
               [0x3F800000 + i for i in range(8)])
    storage = Obj("torch.storage", state={"dtype": "float32", "device": "cpu", "data": data})

    def view(offset, size, stride, grad=False):
        return Obj("torch.Tensor", state={"storage": storage, "storage_offset": offset,
                                          "size": size, "stride": stride, "requires_grad": grad})

    bf16 = doc.tensor("bfloat16", [3])
    bf16.array(writable=True)[:] = [0x3F80, 0x8000, 0x7FC1]
    c128 = np.array([1 + 2j, -0.0 - 1j], dtype=np.complex128)
    same_array = np.arange(4, dtype=np.int16)
    p_data = np.array([[1.5, -2.5]], dtype=np.float64)
    root = {
        "tensors": {"bf16": bf16, "c128": c128, "bool": np.array([True, False]),
                    "u8": np.array([0, 255], dtype=np.uint8), "i8": np.array([-128], dtype=np.int8),
                    "i32": np.array([[1], [2]], dtype=np.int32), "i64": np.array(9, dtype=np.int64),
                    "f16": np.array([65504, -0.0], dtype=np.float16),
                    "empty": np.zeros((0, 2), dtype=np.float32)},
        "views": [view(2, [2, 3], [1, 2]), view(0, [12], [1], True), view(11, [], [])],
        "params": {"p": Obj("torch.nn.Parameter", state={"data": p_data, "requires_grad": True}),
                   "pv": Obj("torch.nn.Parameter",
                             state={"data": view(4, [2, 2], [2, 1]), "requires_grad": False})},
        "meta": {"epoch": 3, "name": "run", "steps": [1, 2, 3], "pair": (4, "x"), "none": None,
                 "flag": True, "big": -(2**40)},
        "same": [same_array, same_array],
    }
    s = torch.from_numpy(data.copy())

    def tview(offset, size, stride, grad=False):
        t = torch.empty(0).set_(s.storage(), offset, size, stride)
        return t.requires_grad_() if grad else t

    shared = torch.from_numpy(same_array.copy())
    expected = {
        "tensors": {"bf16": torch.from_numpy(np.array([0x3F80, 0x8000, 0x7FC1], dtype=np.uint16)
                                             .view(np.int16)).view(torch.bfloat16),
                    "c128": torch.from_numpy(c128.copy()), "bool": torch.tensor([True, False]),
                    "u8": torch.tensor([0, 255], dtype=torch.uint8),
                    "i8": torch.tensor([-128], dtype=torch.int8),
                    "i32": torch.tensor([[1], [2]], dtype=torch.int32),
                    "i64": torch.tensor(9, dtype=torch.int64),
                    "f16": torch.tensor([65504, -0.0], dtype=torch.float16),
                    "empty": torch.zeros(0, 2)},
        "views": [tview(2, (2, 3), (1, 2)), tview(0, (12,), (1,), True), tview(11, (), ())],
        "params": {"p": torch.nn.Parameter(torch.from_numpy(p_data.copy())),
                   "pv": torch.nn.Parameter(tview(4, (2, 2), (2, 1)), requires_grad=False)},
        "meta": {"epoch": 3, "name": "run", "steps": [1, 2, 3], "pair": (4, "x"), "none": None,
                 "flag": True, "big": -(2**40)},
        "same": [shared, shared],
    }
    return root, expected


def make_doc(path, build):
    with milo.Registry() as reg, milo.Document() as doc:
        doc.header["transporter.id"] = "torch"
        doc.header["framework.name"] = "pytorch"
        doc.header["type"] = "dict"
        root, expected = build(doc)
        doc.root = doc.value(root)
        reg.save(doc, path)
    return expected


def run_built():
    doc, out, out2 = (os.path.join(WORK, "built" + s) for s in (".json", ".out.pt", ".out2.pt"))
    expected = make_doc(doc, built_case)
    r = convert(doc, out)
    if r.returncode != 0:
        return check(False, "built: writing failed: " + r.stderr.strip())
    check(convert(doc, out2).returncode == 0 and read(out) == read(out2), "built: second write")
    buf = io.BytesIO()
    torch.save(expected, buf)  # archive name "archive", as for a document without one
    check(read(out) == buf.getvalue(), "built: bytes differ from torch.save of the same objects")
    same_loaded(expected, load(out), "built")
    print("ok (b) built")


def run_must_fail():
    data = np.arange(12, dtype=np.float32)

    def storage(dtype="float32", device="cpu"):
        return milo.Object("torch.storage", state={"dtype": dtype, "device": device, "data": data})

    def view(s, size, stride, offset=0):
        st = {"storage_offset": offset, "size": size, "stride": stride, "requires_grad": False}
        if s is not None:
            st["storage"] = s
        return milo.Object("torch.Tensor", state=st)

    cases = {
        "view_too_big": ({"w": [view(storage(), [4], [4])]}, "/root/w/0/state: view (offset 0, "
                         "size [4], stride [4]) does not fit its storage of 12 elements"),
        "offset_too_big": ({"w": view(storage(), [1], [1], 12)},
                           "/root/w/state: view (offset 12, size [1], stride [1]) does not fit"),
        "unknown_dtype": ({"w": view(storage("float8"), [1], [1])},
                          "/root/w/state/storage/state: unknown dtype \"float8\""),
        "no_storage": ({"w": view(None, [1], [1])},
                       "/root/w: torch.Tensor state has no storage (a torch.storage object)"),
        "cuda": ({"w": view(storage(device="cuda:0"), [1], [1])},
                 "/root/w/state/storage/state: storage on device \"cuda:0\" (only cpu)"),
        "uint16": ({"w": {"x": np.zeros(2, dtype=np.uint16)}},
                   "/root/w/x: dtype uint16 has no torch storage class"),
    }
    for name, (root, message) in cases.items():
        doc, out = os.path.join(WORK, name + ".json"), os.path.join(WORK, name + ".pt")
        make_doc(doc, lambda d: (root, None))
        r = convert(doc, out)
        check(r.returncode != 0, name + ": written")
        check(message in r.stderr, "%s: message %r lacks %r" % (name, r.stderr.strip(), message))
        check(not os.path.exists(out), name + ": output file left behind")
        print("ok must-fail", name)


run_real()
run_built()
run_must_fail()
if failures:
    print("%d failure(s)" % len(failures))
    sys.exit(1)
print("all writer checks passed")
