"""Writes real joblib files for joblib_reader_test, with what the reader must find in them.

    make_joblib_cases.py OUTDIR [--allow-skip]

OUTDIR/manifest.json lists every file: its compression, protocol, and each array joblib wrote
after a NumpyArrayWrapper, in stream order (recorded by wrapping joblib's own write_array), with
the byte offsets of its data in the decompressed stream and, for arrays of plain items, a raw
dump <case>.arrays/<i>.bin of the bytes joblib wrote. Files are named *.joblib whatever their
compression: the reader must sniff the content. With --allow-skip a missing numpy/joblib writes
a manifest that only says why (the venv half of the tests is optional).

Also writes two decompression bombs (joblib streams holding 2 GiB of zeros) built without
compressing 2 GiB: zlib from repeated full-flush blocks, bz2 from repeated members.
"""
import bz2
import json
import os
import shutil
import subprocess
import sys
import zlib

out = sys.argv[1]
allow_skip = "--allow-skip" in sys.argv[2:]
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)


def write_manifest(manifest):
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)


try:
    import joblib
    import numpy as np
    from joblib import numpy_pickle
except ImportError as e:
    if not allow_skip:
        raise
    write_manifest({"skipped": f"{sys.executable}: {e}"})
    sys.exit(0)

try:
    import lz4.frame  # noqa: F401  (joblib's compress='lz4' needs it)
    have_lz4 = True
except ImportError:
    have_lz4 = False
lz4_cli = shutil.which("lz4")

# Every array joblib writes after a wrapper, in stream order, with where its bytes went.
records = []
_write_array = numpy_pickle.NumpyArrayWrapper.write_array


def recording_write_array(self, array, pickler):
    start = pickler.file_handle.tell()
    _write_array(self, array, pickler)
    records.append((self, array, start, pickler.file_handle.tell()))


numpy_pickle.NumpyArrayWrapper.write_array = recording_write_array


def dtype_arrays():
    rng = np.random.RandomState(7)
    a = {}
    a["bool"] = np.array([True, False, True, True])
    for t in ["i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8"]:
        info = np.iinfo(t)
        a[t] = np.array([info.min, info.max, 0, 1, 5], dtype=t)
    a["f2"] = np.array([0.5, -0.0, np.inf, np.nan, 65504], dtype="f2")
    a["f4"] = np.array([1.5, -0.0, -np.inf, np.nan, 1e-45], dtype="f4")
    a["f8"] = np.array([np.pi, -0.0, np.inf, np.nan, 5e-324, -1e308])
    a["c8"] = np.array([1 + 2j, -0.0 - 1j, complex(np.nan, np.inf)], dtype="c8")
    a["c16"] = np.array([3 - 4j, complex(-0.0, 1e-300)], dtype="c16")
    a["be_i4"] = np.array([1, -2, 3], dtype=">i4")
    a["be_f8"] = np.array([[1.25, -2.5], [np.nan, 7.0]], dtype=">f8")
    a["be_c16"] = np.array([1 + 1j], dtype=">c16")
    a["record"] = np.array([(1, 2.5, b"ab"), (-3, np.nan, b"xyz")],
                           dtype=[("a", "<i4"), ("b", ">f8"), ("c", "S3")])
    a["record_aligned"] = np.zeros(3, dtype=np.dtype([("x", "u1"), ("y", "<f8")], align=True))
    a["record_subarray"] = np.ones(2, dtype=[("v", "<f4", (2, 3)), ("n", "<i2")])
    a["datetime"] = np.array(["2024-02-29T12:00", "NaT"], dtype="M8[ns]")
    a["timedelta"] = np.array([1, -7], dtype="m8[s]")
    a["bytes"] = np.array([b"", b"hello", b"x\x00y"], dtype="S5")
    a["unicode"] = np.array(["", "h\u00e9llo", "\U0001f600"], dtype="U5")
    a["zero_d"] = np.array(2.75)
    a["empty"] = np.zeros(0, dtype="f8")
    a["empty_2d"] = np.zeros((3, 0), dtype="i4")
    a["fortran"] = np.asfortranarray(rng.rand(3, 4))
    a["fortran_3d"] = np.arange(24, dtype="i2").reshape(2, 3, 4).transpose()
    a["view"] = np.arange(48, dtype="f4").reshape(6, 8)[::2, 1::3]
    a["big"] = rng.rand(1000)
    a["matrix"] = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    # paddings of every length 1..16: arrays at every position modulo 16
    for i in range(16):
        a["pad" + "_" * i] = np.array([i], dtype="u1")
    return a


def object_arrays():
    return {
        "mixed": np.array([1, "a", None, 2.5, b"\x00"], dtype=object),
        "fortran_obj": np.asfortranarray(np.array([[1, "x"], [None, 3]], dtype=object)),
        "empty_obj": np.zeros(0, dtype=object),
        "record_obj": np.array([("k", 1.5)], dtype=[("o", "O"), ("x", "<f8")]),
        "nested_arrays": np.array([np.arange(3), None], dtype=object),
        "after_obj": np.arange(5, dtype="<i8"),  # plain array right after nested pickles
    }


def estimators():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier
    rng = np.random.RandomState(0)
    x = rng.rand(40, 4)
    y = (x[:, 0] + x[:, 1] > 1).astype(int) + (x[:, 2] > 0.7)
    tree = DecisionTreeClassifier(max_depth=4, random_state=0).fit(x, y)
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(x, y)
    return {"decision_tree": tree, "random_forest": forest}


values = {"dtypes": dtype_arrays(), "objects": object_arrays()}
try:
    values.update(estimators())
except ImportError as e:
    print(f"no scikit-learn ({e}): estimator cases left out", file=sys.stderr)

compressions = [("raw", 0), ("zlib", ("zlib", 3)), ("gzip", ("gzip", 3)), ("bz2", ("bz2", 3)),
                ("xz", ("xz", 3)), ("lzma", ("lzma", 3))]
if have_lz4:
    compressions.append(("lz4", ("lz4", 3)))

manifest = {"python": sys.executable, "numpy": np.__version__, "joblib": joblib.__version__,
            "lz4": "joblib" if have_lz4 else ("lz4 command" if lz4_cli else "none"),
            "cases": []}


def describe(name, records):
    arrays = []
    os.makedirs(os.path.join(out, name + ".arrays"))
    for i, (wrapper, array, start, end) in enumerate(records):
        entry = {"dtype": array.dtype.str, "shape": list(array.shape), "order": wrapper.order,
                 "object": bool(array.dtype.hasobject), "start": start, "end": end}
        if array.dtype.hasobject:
            entry["count"] = int(array.size)
        else:
            raw = array.tobytes(order=wrapper.order)
            entry["data_offset"] = end - len(raw)
            entry["padding"] = None if wrapper.numpy_array_alignment_bytes is None else \
                entry["data_offset"] - start - 1
            entry["bin"] = f"{name}.arrays/{i}.bin"
            with open(os.path.join(out, entry["bin"]), "wb") as f:
                f.write(raw)
        arrays.append(entry)
    return arrays


for value_name, value in values.items():
    for protocol in range(6):
        for cname, compress in compressions:
            name = f"{value_name}_p{protocol}_{cname}"
            records.clear()
            joblib.dump(value, os.path.join(out, name + ".joblib"), compress=compress,
                        protocol=protocol)
            manifest["cases"].append({"name": name, "file": name + ".joblib",
                                      "container": cname if cname != "raw" else "pickle",
                                      "protocol": protocol, "arrays": describe(name, records)})
            if cname == "raw" and not have_lz4 and lz4_cli:
                # The same stream in an lz4 frame made by the lz4 tool (joblib's lz4 needs the
                # python lz4 package; the frame format is the same).
                lz_name = f"{value_name}_p{protocol}_lz4cli"
                subprocess.run([lz4_cli, "-q", "-f", os.path.join(out, name + ".joblib"),
                                os.path.join(out, lz_name + ".joblib")], check=True)
                shutil.copytree(os.path.join(out, name + ".arrays"),
                                os.path.join(out, lz_name + ".arrays"))
                manifest["cases"].append(
                    {"name": lz_name, "file": lz_name + ".joblib", "container": "lz4",
                     "protocol": protocol,
                     "arrays": [dict(a, bin=a["bin"].replace(name, lz_name)) if "bin" in a
                                else a for a in manifest["cases"][-1]["arrays"]]})

# Decompression bombs: the stream of a one-array joblib file whose data is 2 GiB of zeros.
records.clear()
small = os.path.join(out, "bomb_source.joblib")
joblib.dump({"a": np.zeros(1)}, small, protocol=2)
stream = open(small, "rb").read()
os.remove(small)
data_offset = records[0][3] - 8
head, tail = stream[:data_offset], stream[data_offset + 8:]
mib, n_mib = bytes(1 << 20), 2048
c = zlib.compressobj(9)
flushed = c.compress(head) + c.flush(zlib.Z_FULL_FLUSH)
block = c.compress(mib) + c.flush(zlib.Z_FULL_FLUSH)  # after a full flush, identical each time
end = c.compress(tail) + c.flush()[:-4]  # the final blocks, without the adler32 trailer
adler = zlib.adler32(head)
a, b = adler & 0xFFFF, adler >> 16
b = (b + n_mib * len(mib) * a) % 65521  # appending n zeros: a unchanged, b += n * a
adler = zlib.adler32(tail, (b << 16) | a)
with open(os.path.join(out, "bomb_zlib.joblib"), "wb") as f:
    f.write(flushed + block * n_mib + end + adler.to_bytes(4, "big"))
with open(os.path.join(out, "bomb_bz2.joblib"), "wb") as f:  # concatenated bz2 members
    f.write(bz2.compress(head) + bz2.compress(bytes(64 << 20)) * 32 + bz2.compress(tail))
manifest["bombs"] = {"zlib": "bomb_zlib.joblib", "bz2": "bomb_bz2.joblib",
                     "decompressed_size": len(head) + n_mib * len(mib) + len(tail)}
write_manifest(manifest)
print(f"{len(manifest['cases'])} joblib files in {out}")
