#!/usr/bin/env python3
"""Cross-checks the Milo safetensors transporter against the official `safetensors` library.

  check_with_safetensors.py read FILE EXPECTED.json
      Loads FILE with safetensors.numpy.load_file (and its metadata with safe_open) and checks
      that names, dtypes, shapes, raw bytes and metadata equal EXPECTED.json, which the C++ test
      wrote from the document it encoded. Exit 0 when equal, 1 with a message otherwise.

  check_with_safetensors.py write FILE EXPECTED.json
      Writes FILE with safetensors.numpy.save_file (tensors of every dtype numpy can carry, a
      scalar, an empty tensor, metadata with one key) and EXPECTED.json describing it, for the
      C++ test to decode and re-encode.
"""
import json
import sys

import numpy as np
import safetensors
import safetensors.numpy

CODES = {
    "bool": "BOOL", "int8": "I8", "int16": "I16", "int32": "I32", "int64": "I64",
    "uint8": "U8", "uint16": "U16", "uint32": "U32", "uint64": "U64",
    "float16": "F16", "float32": "F32", "float64": "F64", "complex64": "C64",
}


def describe(array):
    little = array.astype(array.dtype.newbyteorder("<"))
    return {"dtype": CODES[str(array.dtype)], "shape": list(array.shape),
            "hex": little.tobytes().hex()}


def read(path, expected_path):
    with open(expected_path) as f:
        expected = json.load(f)
    loaded = safetensors.numpy.load_file(path)
    with safetensors.safe_open(path, framework="numpy") as f:
        metadata = f.metadata() or {}
        names_in_file = list(f.keys())
    problems = []
    if metadata != dict(expected["metadata"]):
        problems.append("metadata %r != %r" % (metadata, expected["metadata"]))
    want = {t["name"]: t for t in expected["tensors"]}
    if sorted(loaded) != sorted(want):
        problems.append("names %r != %r" % (sorted(loaded), sorted(want)))
    for name, t in want.items():
        if name not in loaded:
            continue
        got = describe(loaded[name])
        for key in ("dtype", "shape", "hex"):
            if got[key] != t[key]:
                problems.append("%s: %s %r != %r" % (name, key, got[key], t[key]))
    if problems:
        print("\n".join(problems))
        return 1
    print("safetensors %s read %d tensors (%s) and %d metadata entries: all equal"
          % (safetensors.__version__, len(loaded), ", ".join(names_in_file), len(metadata)))
    return 0


def write(path, expected_path):
    rng = np.random.default_rng(7)
    tensors = {
        "layer.weight": rng.standard_normal((5, 3)).astype(np.float32),
        "layer.bias": rng.standard_normal(5).astype(np.float64),
        "half": rng.standard_normal((2, 2)).astype(np.float16),
        "mask": rng.integers(0, 2, size=(3, 1)).astype(np.bool_),
        "i8": rng.integers(-128, 128, size=7).astype(np.int8),
        "i16": rng.integers(-30000, 30000, size=3).astype(np.int16),
        "i32": rng.integers(-2**31, 2**31, size=4).astype(np.int32),
        "step": np.array(123456789012, dtype=np.int64),
        "u8": rng.integers(0, 256, size=9).astype(np.uint8),
        "u16": rng.integers(0, 2**16, size=2).astype(np.uint16),
        "u32": rng.integers(0, 2**32, size=2).astype(np.uint32),
        "u64": np.array([2**64 - 1, 0, 2**63], dtype=np.uint64),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "specials": np.array([np.nan, -np.inf, np.inf, -0.0], dtype=np.float32),
        "name with \"quotes\", \\ and \u00e9\u4e2d\n": np.arange(2, dtype=np.int32),
    }
    try:  # complex64 is in the safetensors dtype list, but not every release of the bindings
        safetensors.numpy.save({"c": np.zeros(1, np.complex64)})
        values = rng.standard_normal(2) + 1j * rng.standard_normal(2)
        tensors["complex"] = values.astype(np.complex64)
    except Exception:
        pass
    metadata = {"format": "np"}
    safetensors.numpy.save_file(tensors, path, metadata=metadata)
    expected = {"metadata": sorted(metadata.items()),
                "tensors": [dict(name=n, **describe(a)) for n, a in tensors.items()]}
    with open(expected_path, "w") as f:
        json.dump(expected, f)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "write"):
        print(__doc__)
        sys.exit(2)
    sys.exit({"read": read, "write": write}[sys.argv[1]](sys.argv[2], sys.argv[3]))
