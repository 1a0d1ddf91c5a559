#!/usr/bin/python3
"""The torch reader against real torch.save files (make_checkpoints.py): `milo convert X.pt` to
.json, .yaml and .pb, then every tensor of the manifest checked in the document through the
Python adapter (bytes, dtype, shape, stride, offset, sharing, Parameter, requires_grad), the
checkpoint dicts' scalars, `milo scan` (every name trusted), TorchScript refusal, and must-fail
files made by mutating real ones (must_fail_cases in this file).

Usage: torch_checkpoints_test.py MILO_CLI LIBMILO FIXTURE_DIR WORK_DIR
"""
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import zipfile
from collections import OrderedDict

import numpy as np

MILO, LIBMILO, FIXTURES, WORK = sys.argv[1:5]
os.environ["MILO_LIBRARY"] = LIBMILO
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../../adapters/python"))
import milo  # noqa: E402

EXIT_INVALID, EXIT_DANGEROUS, EXIT_UNSUPPORTED = 3, 4, 5
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


def run(*args):
    p = subprocess.run([MILO] + list(args), capture_output=True, text=True, timeout=300)
    return p.returncode, p.stdout + p.stderr


def child(v, key):
    """One step of a manifest path; an OrderedDict is its SETITEM items (README.md)."""
    if v.kind_name == "object" and v.type == "collections.OrderedDict":
        v = v.state
        if v.kind_name == "object" and v.type == "(pickle_extras)":
            v = v.state["setitem"]
    return v[key]


def elements(storage, itemsize, shape, stride, offset):
    rows = np.frombuffer(storage, dtype=np.uint8).reshape(-1, itemsize)
    idx = np.full(shape, offset, dtype=np.int64)
    for d, st in enumerate(stride):
        shp = [1] * len(shape)
        shp[d] = shape[d]
        idx = idx + np.arange(shape[d], dtype=np.int64).reshape(shp) * st
    return rows[idx.reshape(-1)].tobytes()


def check_tensor(doc_name, v, t, storage_nodes):
    where = "%s: %s" % (doc_name, t["path"])
    is_param = v.kind_name == "object" and v.type == "torch.nn.Parameter"
    check(is_param == t["is_parameter"], where + ": Parameter vs tensor")
    if is_param:
        check(v.state["requires_grad"].as_bool() == t["requires_grad"], where + ": requires_grad")
        v = v.state["data"]
    if v.kind_name == "tensor":
        dtype, shape = v.dtype.name.lower(), list(v.shape)
        data = bytes(v.data())
        stride, offset, grad, node = [], 0, False, None
        acc = 1
        for s in reversed(shape):
            stride.insert(0, acc)
            acc *= s
        storage = data
    else:
        check(v.type == "torch.Tensor", where + ": object type " + v.type)
        st = v.state
        s = st["storage"]
        check(s.type == "torch.storage", where + ": storage node type")
        node = s.handle
        dtype = s.state["dtype"].as_str()
        check(s.state["device"].as_str() == "cpu", where + ": device")
        raw = s.state["data"]
        check(raw.dtype.name.lower() == dtype and len(raw.shape) == 1, where + ": storage data")
        storage = bytes(raw.data())
        shape = [x.as_int() for x in st["size"]]
        stride = [x.as_int() for x in st["stride"]]
        offset = st["storage_offset"].as_int()
        grad = st["requires_grad"].as_bool()
        data = elements(storage, raw.itemsize, shape, stride, offset)
    check(dtype == t["dtype"], where + ": dtype %s, want %s" % (dtype, t["dtype"]))
    check(shape == t["shape"], where + ": shape %s, want %s" % (shape, t["shape"]))
    check(stride == t["stride"], where + ": stride %s, want %s" % (stride, t["stride"]))
    check(offset == t["storage_offset"], where + ": storage offset")
    if not is_param:
        check(grad == t["requires_grad"], where + ": requires_grad")
    check(hashlib.sha256(storage).hexdigest() == t["storage_sha256"], where + ": storage bytes")
    check(hashlib.sha256(data).hexdigest() == t["elements_sha256"], where + ": element bytes")
    # Sharing: one document node per storage, whatever the path.
    prev = storage_nodes.setdefault(t["storage"], node)
    check(prev == node, where + ": storage shared as in the file")


def check_value(doc_name, v, want):
    where = "%s: value" % doc_name
    (k, x), = want.items()
    if k == "int":
        check(v.as_int() == x, "%s %s != %s" % (where, v, x))
    elif k == "float":
        check(v.as_float().hex() == x, "%s %s != %s" % (where, v, x))
    elif k == "str":
        check(v.as_str() == x, "%s %s != %s" % (where, v, x))
    else:
        check(v.as_bool() == x, "%s %s != %s" % (where, v, x))


def good_files(manifest, registry):
    for name, f in sorted(manifest["files"].items()):
        src = os.path.join(FIXTURES, name)
        if f["kind"] == "torchscript":
            # where a checkpoint is expected, refused by content; `milo scan` still reports the
            # names its pickles use (through the sklearn transporter's zip reading)
            rc, out = run("convert", "--transporter", "torch", src, os.path.join(WORK, "ts.json"))
            check(rc == EXIT_UNSUPPORTED and "TorchScript" in out,
                  "%s: TorchScript refused (exit %d: %s)" % (name, rc, out.strip()))
            rc, out = run("scan", src)
            check(rc == 0 and " 0 dangerous" in out,
                  "%s: scan of a TorchScript archive (exit %d): %s" % (name, rc, out.strip()))
            continue
        rc, out = run("scan", src)
        check(rc == 0 and " 0 untrusted, 0 dangerous" in out and "unlisted" not in out,
              "%s: scan (exit %d): %s" % (name, rc, out.strip()))
        for ext in ("json", "yaml", "pb"):
            dst = os.path.join(WORK, name.replace("/", "_") + "." + ext)
            rc, out = run("convert", src, dst)
            check(rc == 0, "%s -> %s: exit %d: %s" % (name, ext, rc, out.strip()))
            if rc != 0:
                continue
            doc = registry.load(dst)
            check(doc.header["source.kind"] == f["kind"], name + ": source.kind")
            if f["kind"] == "pt":
                check(doc.metadata.get("torch.archive_name") == f["archive"],
                      "%s: archive name %s" % (name, doc.metadata.get("torch.archive_name")))
            nodes = {}
            for t in f["tensors"]:
                v = doc.root
                for key in t["path"]:
                    v = child(v, key)
                check_tensor("%s.%s" % (name, ext), v, t, nodes)
            for path, want in f["values"]:
                v = doc.root
                for key in path:
                    v = child(v, key)
                check_value("%s.%s %s" % (name, ext, path), v, want)
            doc.close()


# ---- must-fail files, made from real ones --------------------------------------------------

def rezip(src, dst, edit):
    """Copies a zip's entries (stored) through edit(name, data) -> [(name, data), ...]."""
    with zipfile.ZipFile(src) as z:
        items = [(i.filename, z.read(i.filename)) for i in z.infolist()]
    with zipfile.ZipFile(dst, "w", zipfile.ZIP_STORED) as z:
        for n, d in items:
            for n2, d2 in edit(n, d):
                z.writestr(n2, d2)


class Rebuild:
    """Pickles as torch._utils._rebuild_tensor_v2(*args) (nothing of torch is called)."""
    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        import torch
        return (torch._utils._rebuild_tensor_v2, self.args)


class Key:
    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class PidPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Key):
            import torch
            return ("storage", torch.FloatStorage, obj.key, "cpu", obj.numel)
        return None


def crafted(path, offset, size, stride, numel=12):
    buf = io.BytesIO()
    PidPickler(buf, protocol=2).dump(
        {"t": Rebuild(Key("0", numel), offset, size, stride, False, OrderedDict())})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", buf.getvalue())
        z.writestr("archive/data/0", np.arange(numel, dtype="<f4").tobytes())
        z.writestr("archive/version", "3\n")


def must_fail_cases():
    src = os.path.join(FIXTURES, "views.pt")
    out = []

    def add(name, expect_rc, expect_text):
        out.append((os.path.join(WORK, name), expect_rc, expect_text))
        return out[-1][0]

    rezip(src, add("size_mismatch.pt", EXIT_INVALID, "storage record"),
          lambda n, d: [(n, d[:-4] if n == "views/data/0" else d)])
    rezip(src, add("duplicate_entry.pt", EXIT_INVALID, "duplicate"),
          lambda n, d: [(n, d)] + ([(n, d)] if n.endswith("data.pkl") else []))
    rezip(src, add("dotdot_name.pt", EXIT_INVALID, ".."),
          lambda n, d: [(n, d)] + ([("views/../evil", b"x")] if n.endswith("version") else []))
    # CRC: flip the first byte of a stored record in place.
    with zipfile.ZipFile(src) as z:
        info = z.getinfo("views/data/0")
    blob = bytearray(open(src, "rb").read())
    h = info.header_offset
    start = h + 30 + int.from_bytes(blob[h + 26:h + 28], "little") + \
        int.from_bytes(blob[h + 28:h + 30], "little")
    blob[start] ^= 0xFF
    open(add("crc_mismatch.pt", EXIT_INVALID, "CRC"), "wb").write(blob)
    crafted(add("offset_out_of_range.pt", EXIT_INVALID, "/root/t"), 10, (3,), (1,))
    crafted(add("stride_out_of_range.pt", EXIT_INVALID, "/root/t"), 0, (3, 2), (6, 1))
    crafted(add("negative_stride.pt", EXIT_INVALID, "/root/t"), 11, (3,), (-1,))
    crafted(add("size_overflow.pt", EXIT_INVALID, "/root/t"), 0, (2 ** 62, 8), (1, 1))
    # Live control: the same crafting with a valid view converts.
    control = os.path.join(WORK, "crafted_ok.pt")
    crafted(control, 2, (2, 3), (4, 1))
    rc, text = run("convert", control, os.path.join(WORK, "crafted_ok.json"))
    check(rc == 0, "crafted control converts (exit %d: %s)" % (rc, text.strip()))
    # Any bytes before the archive (not a pickle): read as without them.
    prefixed = os.path.join(WORK, "prefixed.pt")
    open(prefixed, "wb").write(b"\0" * 100 + open(src, "rb").read())
    rc, text = run("convert", prefixed, prefixed + ".json")
    rc2, _ = run("convert", src, os.path.join(WORK, "unprefixed.json"))
    diff = "not converted"
    if rc == 0 and rc2 == 0:
        reg = milo.Registry()
        a = reg.load(prefixed + ".json")
        b = reg.load(os.path.join(WORK, "unprefixed.json"))
        a.header["source.sha256"] = b.header["source.sha256"]  # the files differ, not the models
        diff = a.difference(b)
    same = diff is None
    check(same, "prefixed archive reads as the plain one (exit %d, %s): %s" % (rc, diff, text))
    # Legacy: a storage record shorter than its count.
    leg = open(os.path.join(FIXTURES, "legacy_views.pt"), "rb").read()
    open(add("legacy_truncated.pt", EXIT_INVALID, "bytes"), "wb").write(leg[:-3])
    open(add("legacy_trailing.pt", EXIT_INVALID, "trailing"), "wb").write(leg + b"\0")
    return out


def rce_case():
    canary = os.path.join(WORK, "canary")
    if os.path.exists(canary):
        os.remove(canary)

    class Payload:
        def __reduce__(self):
            return (os.system, ("touch " + canary,))
    path = os.path.join(WORK, "rce.pt")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": Payload()}, protocol=2))
        z.writestr("archive/version", "3\n")
    rc, text = run("scan", path)
    check(rc == EXIT_DANGEROUS and "posix.system" in text, "rce.pt: scan exit %d: %s" % (rc, text))
    run("convert", path, os.path.join(WORK, "rce.json"))  # any outcome but running it
    check(not os.path.exists(canary), "rce.pt: the payload ran")


def main():
    os.makedirs(WORK, exist_ok=True)
    with open(os.path.join(FIXTURES, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    registry = milo.Registry()
    good_files(manifest, registry)
    for path, rc_want, text in must_fail_cases():
        rc, out = run("convert", path, path + ".json")
        check(rc == rc_want and text in out and ("byte" in out or "/root" in out),
              "%s: exit %d (want %d, %r): %s" % (os.path.basename(path), rc, rc_want, text,
                                                 out.strip()))
    rce_case()
    n = sum(len(f["tensors"]) for f in manifest["files"].values())
    print("torch checkpoints: %d files, %d tensors x 3 formats; %d failures" %
          (len(manifest["files"]), n, len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
