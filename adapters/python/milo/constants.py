"""The ABI's fixed enumerations (error.h, value.h, registry.h) as IntEnums.

Members compare equal to the plain integers of the C headers, so ``Status.ERR_CORRUPT == 3``.
"""

import enum


class _Constant(enum.IntEnum):
    # str() is the number, as for int (and as IntEnum does from Python 3.11 on).
    __str__ = int.__repr__


class Status(_Constant):
    """milo_status codes (MILO_OK, MILO_ERR_*), named without the MILO_ prefix."""
    OK = 0
    ERR_INVALID_ARGUMENT = 1
    ERR_OUT_OF_MEMORY = 2
    ERR_CORRUPT = 3
    ERR_LIMIT = 4
    ERR_NOT_FOUND = 5
    ERR_UNSUPPORTED = 6
    ERR_IO = 7
    ERR_ABI = 8
    ERR_PLUGIN = 9
    ERR_DUPLICATE = 10
    ERR_TYPE = 11
    ERR_INTEGRITY = 12
    ERR_DANGEROUS = 13
    ERR_OUT_OF_RANGE = 14
    ERR_INTERNAL = 15


class Kind(_Constant):
    """Value kinds (MILO_KIND_*)."""
    NULL = 0
    BOOL = 1
    INT = 2
    FLOAT = 3
    STRING = 4
    BYTES = 5
    LIST = 6
    TUPLE = 7
    SET = 8
    MAP = 9
    TENSOR = 10
    OBJECT = 11
    GLOBAL = 12


class DType(_Constant):
    """Tensor element types (MILO_DTYPE_*)."""
    BOOL = 1
    INT8 = 2
    INT16 = 3
    INT32 = 4
    INT64 = 5
    UINT8 = 6
    UINT16 = 7
    UINT32 = 8
    UINT64 = 9
    FLOAT16 = 10
    BFLOAT16 = 11
    FLOAT32 = 12
    FLOAT64 = 13
    COMPLEX64 = 14
    COMPLEX128 = 15
    RECORD = 16
    OBJECT = 17
    STRING = 18


class Trust(_Constant):
    """Trust levels of a document's trust entries (MILO_TRUST_*)."""
    TRUSTED = 0
    UNTRUSTED = 1
    DANGEROUS = 2


class Tensors(_Constant):
    """How saving stores tensors (MILO_TENSORS_*); the ``tensors=`` option also takes the
    lower-case names ("auto", "readable", "compact", "external")."""
    AUTO = 0
    READABLE = 1
    COMPACT = 2
    EXTERNAL = 3


#: Keys of the document header (milo_doc_get_header / milo_doc_set_header).
HEADER_KEYS = (
    "format_version", "producer.name", "producer.version", "framework.name",
    "framework.version", "transporter.id", "transporter.revision", "type", "source.kind",
    "source.version", "source.sha256", "external.file", "external.sha256",
)
