"""Milo dtypes <-> numpy dtypes and struct codes. numpy is optional and imported lazily."""

import sys

from .constants import DType

_numpy = None
_numpy_checked = False


def numpy_or_none():
    """The numpy module, or None when it cannot be imported."""
    global _numpy, _numpy_checked
    if not _numpy_checked:
        try:
            import numpy
            _numpy = numpy
        except ImportError:
            _numpy = None
        _numpy_checked = True
    return _numpy


def require_numpy(what):
    np = numpy_or_none()
    if np is None:
        raise ImportError("milo: %s needs numpy, which is not installed (pip install numpy); "
                          "Value.data() gives the raw bytes without it" % what)
    return np


# Milo tensor data is little-endian C order. bfloat16 has no numpy type: its raw bits are
# exposed as uint16 (shift left by 16 and view as float32 to get the values).
_NUMPY_CODES = {
    DType.BOOL: "|b1", DType.INT8: "|i1", DType.INT16: "<i2", DType.INT32: "<i4",
    DType.INT64: "<i8", DType.UINT8: "|u1", DType.UINT16: "<u2", DType.UINT32: "<u4",
    DType.UINT64: "<u8", DType.FLOAT16: "<f2", DType.BFLOAT16: "<u2", DType.FLOAT32: "<f4",
    DType.FLOAT64: "<f8", DType.COMPLEX64: "<c8", DType.COMPLEX128: "<c16",
}

# struct/memoryview codes for reading numeric tensors without numpy (native order, so only used
# on little-endian hosts). float16, bfloat16 and complex have no memoryview code.
STRUCT_CODES = {
    DType.BOOL: "?", DType.INT8: "b", DType.INT16: "h", DType.INT32: "i", DType.INT64: "q",
    DType.UINT8: "B", DType.UINT16: "H", DType.UINT32: "I", DType.UINT64: "Q",
    DType.FLOAT32: "f", DType.FLOAT64: "d",
} if sys.byteorder == "little" else {}

_BY_KIND = {
    ("b", 1): DType.BOOL,
    ("i", 1): DType.INT8, ("i", 2): DType.INT16, ("i", 4): DType.INT32, ("i", 8): DType.INT64,
    ("u", 1): DType.UINT8, ("u", 2): DType.UINT16, ("u", 4): DType.UINT32,
    ("u", 8): DType.UINT64,
    ("f", 2): DType.FLOAT16, ("f", 4): DType.FLOAT32, ("f", 8): DType.FLOAT64,
    ("c", 8): DType.COMPLEX64, ("c", 16): DType.COMPLEX128,
}


def numpy_dtype(dtype):
    """The numpy dtype of a numeric milo dtype (bfloat16 -> uint16 raw bits)."""
    np = require_numpy("numpy_dtype()")
    return np.dtype(_NUMPY_CODES[DType(dtype)])


def from_numpy(np_dtype):
    """The milo dtype for a numpy dtype, or None when Milo has none (e.g. float128, bytes)."""
    if np_dtype.names is not None:
        return DType.RECORD
    if np_dtype.name == "bfloat16":  # ml_dtypes.bfloat16
        return DType.BFLOAT16
    kind = np_dtype.kind
    if kind == "U":
        return DType.STRING
    if kind == "O":
        return DType.OBJECT
    return _BY_KIND.get((kind, np_dtype.itemsize))


def to_dtype(spec):
    """Accepts a DType, its int value, a name ("float32", "FLOAT32") or a numpy dtype."""
    if isinstance(spec, DType):
        return spec
    if isinstance(spec, int) and not isinstance(spec, bool):
        return DType(spec)
    if isinstance(spec, str):
        try:
            return DType[spec.upper()]
        except KeyError:
            pass
    np = numpy_or_none()
    if np is not None:
        try:
            found = from_numpy(np.dtype(spec))
        except TypeError:
            found = None
        if found is not None:
            return found
    raise ValueError("milo: unknown dtype %r" % (spec,))
