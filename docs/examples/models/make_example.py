#!/usr/bin/env python3
"""Writes the bundled example model iris_mlp.safetensors and its iris_mlp.expected.json.

The weights of a small multilayer perceptron for the iris data set (4 inputs -> 8 hidden ->
3 classes), drawn from a fixed seed, saved with the real `safetensors` library (numpy API).
iris_mlp.expected.json records, independently of Milo, what a reader must find in the file:
every tensor's name, dtype, shape, byte range and raw little-endian bytes (hex), and the
metadata in file order. tests/plugins/safetensors/ checks the Milo transporter against it.

Run through the project virtualenv (scripts/python_env.sh creates it):

    $(scripts/python_env.sh) docs/examples/models/make_example.py

The official writer emits `__metadata__` in the order of a Rust HashMap, which changes from
call to call; the script serialises until that order is the sorted one, so that reruns give
byte-identical files. Every byte of the file is still the library's own output.
"""
import hashlib
import json
import os
import struct

import numpy as np
import safetensors
import safetensors.numpy

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "iris_mlp.safetensors")
EXPECTED = os.path.join(HERE, "iris_mlp.expected.json")
SEED = 20240917


def make_tensors():
    rng = np.random.default_rng(SEED)
    # Glorot-uniform-like initialisation, rounded to 1/1024 so the values read nicely too.
    def weights(rows, cols):
        limit = np.sqrt(6.0 / (rows + cols))
        w = rng.uniform(-limit, limit, size=(rows, cols))
        return (np.round(w * 1024) / 1024).astype(np.float32)

    return {
        "fc1.weight": weights(8, 4),
        "fc1.bias": (np.round(rng.normal(0, 0.1, size=8) * 1024) / 1024).astype(np.float32),
        "fc2.weight": weights(3, 8),
        "fc2.bias": np.array([0.125, -0.0625, -0.0], dtype=np.float32),
        # per-feature input scaling (sepal/petal length/width), stored in half precision
        "input_scale": np.array([0.1279, 0.2295, 0.0566, 0.1309], dtype=np.float16),
        # class ids and the training step counter, as integer buffers
        "classes": np.array([0, 1, 2], dtype=np.int64),
        "num_batches_tracked": np.array(150, dtype=np.int64),
    }


METADATA = {
    "model": "iris-mlp",
    "classes": "setosa,versicolor,virginica",
    "inputs": "sepal_length,sepal_width,petal_length,petal_width",
}


def header_of(data):
    (n,) = struct.unpack("<Q", data[:8])
    return n, json.loads(data[8 : 8 + n])


def serialise(tensors):
    for _ in range(10000):
        data = safetensors.numpy.save(tensors, metadata=METADATA)
        _, header = header_of(data)
        keys = list(header["__metadata__"].keys())
        if keys == sorted(keys):
            return data
    raise SystemExit("could not obtain a sorted __metadata__ order")


def main():
    tensors = make_tensors()
    data = serialise(tensors)
    with open(MODEL, "wb") as f:
        f.write(data)

    # Read back through the library and compare with what was saved.
    loaded = safetensors.numpy.load_file(MODEL)
    assert sorted(loaded) == sorted(tensors)
    for name, array in tensors.items():
        assert loaded[name].dtype == array.dtype and loaded[name].shape == array.shape
        assert loaded[name].tobytes() == array.tobytes()

    n, header = header_of(data)
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        array = tensors[name]
        assert end - begin == array.nbytes
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        assert data[8 + n + begin : 8 + n + end] == raw
        entries.append({
            "name": name,
            "dtype": info["dtype"],
            "numpy_dtype": str(array.dtype),
            "shape": list(array.shape),
            "data_offsets": [begin, end],
            "hex": raw.hex(),
        })
    entries.sort(key=lambda e: e["data_offsets"])
    expected = {
        "file": os.path.basename(MODEL),
        "made_by": "safetensors %s, numpy %s, seed %d"
        % (safetensors.__version__, np.__version__, SEED),
        "size": len(data),
        "header_length": n,
        "sha256": hashlib.sha256(data).hexdigest(),
        "metadata": [[k, v] for k, v in header["__metadata__"].items()],
        "tensors": entries,
    }
    with open(EXPECTED, "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote %s (%d bytes) and %s" % (MODEL, len(data), EXPECTED))


if __name__ == "__main__":
    main()
