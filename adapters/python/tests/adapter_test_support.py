"""Shared helpers of the Python adapter's tests: paths, the optional numpy, and a structural
comparison that checks floats by bit pattern and follows shared nodes and cycles."""

import os
import shutil
import struct
import tempfile
import unittest

import milo

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(TESTS_DIR)))
IRIS = os.path.join(REPO_ROOT, "docs", "examples", "models", "iris_mlp.safetensors")
IRIS_EXPECTED = os.path.join(REPO_ROOT, "docs", "examples", "models", "iris_mlp.expected.json")

try:
    import numpy as np
except ImportError:
    np = None

requires_numpy = unittest.skipUnless(np is not None, "numpy is not installed for this Python")


def bits(x):
    """The IEEE-754 double bit pattern of a float, as an int."""
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def from_bits(b):
    return struct.unpack("<d", struct.pack("<Q", b))[0]


class TempDirTestCase(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.tmp = tempfile.mkdtemp(prefix="milo_py_")
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.tmp, name)


def same(a, b, memo=None):
    """True when a and b have the same structure and values: same types, floats with the same
    bits (so -0.0 != 0.0 and NaN payloads count), numpy arrays with the same dtype, shape and
    bytes, and a shared/cyclic node on one side matched by one on the other."""
    if memo is None:
        memo = {}
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return bits(a) == bits(b)
    if isinstance(a, (list, tuple, dict, set, frozenset, milo.Object)) or (
            np is not None and isinstance(a, np.ndarray)):
        if id(a) in memo:
            return memo[id(a)] is b  # a shared node must map to one shared node
        memo[id(a)] = b
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y, memo) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            same(ka, kb, memo) and same(va, vb, memo)
            for (ka, va), (kb, vb) in zip(a.items(), b.items()))
    if isinstance(a, (set, frozenset)):
        return a == b
    if isinstance(a, milo.Object):
        return a.type == b.type and same(a.args, b.args, memo) and same(a.state, b.state, memo)
    if np is not None and isinstance(a, np.ndarray):
        if a.dtype != b.dtype or a.shape != b.shape:
            return False
        if a.dtype == object:
            return all(same(x, y, memo) for x, y in zip(a.ravel(), b.ravel()))
        if a.dtype.kind == "U":
            return a.tolist() == b.tolist()
        return a.tobytes() == b.tobytes()
    if isinstance(a, memoryview):
        return a.format == b.format and a.shape == b.shape and a.tobytes() == b.tobytes()
    return a == b
