"""Documents and values: milo.Document owns a milo_doc; milo.Value is a borrowed milo_value
that keeps its Document alive."""

import ctypes
import itertools
import sys
import traceback
import weakref
from collections import namedtuple
from collections.abc import MutableMapping
from ctypes import byref, c_bool, c_char_p, c_double, c_int32, c_int64, c_size_t, c_uint8, \
    c_uint64, c_void_p
from dataclasses import dataclass
from typing import Any

from . import _capi, dtypes
from .constants import HEADER_KEYS, DType, Kind, Status, Trust
from .errors import Error, call

lib = _capi.lib

TrustEntry = namedtuple("TrustEntry", "name usage level")
Field = namedtuple("Field", "name dtype offset shape")

_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


@dataclass(frozen=True)
class Global:
    """A reference to a named type or function ("module.qualname"); never resolved."""
    name: str


@dataclass
class Object:
    """An object node as plain Python: type name, constructor args and state (None when
    absent). ``Document.value(Object(...))`` builds one."""
    type: str
    args: Any = None
    state: Any = None


class _Handle:
    """Owns one C handle and destroys it exactly once: when the last Python owner (the
    Document or Registry, exported buffers, dependent documents) lets go, or at exit."""

    __slots__ = ("ptr", "_finalizer", "__weakref__")

    def __init__(self, ptr, destroy, keep=()):
        self.ptr = ptr
        # `keep` holds handles this one needs to outlive it (a document keeps the registry whose
        # plugins may own release callbacks in it, rule 3.8 of docs/abi.md).
        self._finalizer = weakref.finalize(self, _destroy_handle, destroy, ptr, keep)


def _destroy_handle(destroy, ptr, keep):
    destroy(ptr)


class _Closable:
    """`closed` and the context-manager protocol for an owner of a _Handle in `_handle`
    (None once closed); the owner defines close()."""

    __slots__ = ()

    @property
    def closed(self):
        return self._handle is None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# Borrowed tensors (milo_value_create_tensor_borrowed): the document gets a context id; the
# array stays in _lent until libmilo calls _release with that id (exactly once).
_lent = {}
_lent_ids = itertools.count(1)


def _release(context):
    entry = _lent.pop(context, None)
    if entry is None:
        return
    on_release = entry[1]
    del entry
    if on_release is not None:
        try:
            on_release()
        except BaseException:  # never let an exception unwind into C
            traceback.print_exc()


# Kept alive for the library's lifetime: libmilo may call it until the last document goes.
_RELEASE_CALLBACK = _capi.RELEASE_FN(_release)


def _shape_arg(shape):
    shape = tuple(int(d) for d in shape)
    return (c_int64 * max(len(shape), 1))(*shape), len(shape)


class Header(MutableMapping):
    """The document header as a mapping of its fields (see HEADER_KEYS). Values are text;
    assigning None or deleting a key unsets the field. Iteration yields the fields that are
    set."""

    def __init__(self, doc):
        self._doc = doc

    def _get(self, key):
        out = c_char_p()
        try:
            call(lib.milo_doc_get_header, self._doc._ptr, _capi.encode_text(key), byref(out))
        except Error as exc:
            if exc.status == Status.ERR_NOT_FOUND:
                raise KeyError(key) from exc
            raise
        return _capi.text(out.value)

    def __getitem__(self, key):
        value = self._get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key, value):
        call(lib.milo_doc_set_header, self._doc._ptr, _capi.encode_text(key),
             None if value is None else _capi.encode_text(str(value)))

    def __delitem__(self, key):
        if self._get(key) is None:
            raise KeyError(key)
        self[key] = None

    def __iter__(self):
        return iter([k for k in HEADER_KEYS if self._get(k) is not None])

    def __len__(self):
        return sum(1 for _ in self)

    def __repr__(self):
        return "Header(%r)" % dict(self)


class Metadata(MutableMapping):
    """The document's free-form metadata: an ordered str -> str mapping."""

    def __init__(self, doc):
        self._doc = doc

    def _entries(self):
        p = self._doc._ptr
        out = []
        for i in range(lib.milo_doc_metadata_count(p)):
            key, value = c_char_p(), c_char_p()
            call(lib.milo_doc_metadata_at, p, i, byref(key), byref(value))
            out.append((_capi.text(key.value), _capi.text(value.value)))
        return out

    def __getitem__(self, key):
        for k, v in self._entries():
            if k == key:
                return v
        raise KeyError(key)

    def __setitem__(self, key, value):
        if value is None:
            raise ValueError("milo: metadata values are text; use del to remove an entry")
        call(lib.milo_doc_set_metadata, self._doc._ptr, _capi.encode_text(key),
             _capi.encode_text(str(value)))

    def __delitem__(self, key):
        if key not in self:
            raise KeyError(key)
        call(lib.milo_doc_set_metadata, self._doc._ptr, _capi.encode_text(key), None)

    def __contains__(self, key):
        return any(k == key for k, _ in self._entries())

    def __iter__(self):
        return iter([k for k, _ in self._entries()])

    def __len__(self):
        return lib.milo_doc_metadata_count(self._doc._ptr)

    def __repr__(self):
        return "Metadata(%r)" % dict(self._entries())


class Document(_Closable):
    """An owned Milo document (milo_doc). ``Document()`` makes an empty one; registries
    return loaded ones. Freed once, by close() or when garbage collected; Values and exported
    arrays keep it alive."""

    def __init__(self):
        out = c_void_p()
        call(lib.milo_doc_create, byref(out))
        self._adopt_ptr(out.value, ())

    @classmethod
    def _adopt(cls, ptr, keep=()):
        self = cls.__new__(cls)
        self._adopt_ptr(ptr, keep)
        return self

    def _adopt_ptr(self, ptr, keep):
        self._handle = _Handle(ptr, lib.milo_doc_destroy, keep)
        self._lent_ids = {}  # value ptr -> context id of a borrowed tensor (see _release)

    @property
    def _ptr(self):
        handle = self._handle
        if handle is None:
            raise ValueError("milo: operation on a closed Document")
        return handle.ptr

    # -- lifetime --------------------------------------------------------------------------

    def close(self):
        """Releases the document. Its Values stop working; memory still viewed by exported
        numpy arrays or memoryviews is freed when the last of them goes. Idempotent."""
        self._handle = None

    # -- header ----------------------------------------------------------------------------

    @property
    def header(self):
        """Mutable mapping of the header fields: ``doc.header["type"] = "x"``; None unsets."""
        return Header(self)

    @property
    def metadata(self):
        """Ordered mutable mapping of metadata entries."""
        return Metadata(self)

    @property
    def trust(self):
        """The trust entries as a list of TrustEntry(name, usage, level)."""
        p = self._ptr
        out = []
        for i in range(lib.milo_doc_trust_count(p)):
            name, usage, level = c_char_p(), c_char_p(), c_int32()
            call(lib.milo_doc_trust_at, p, i, byref(name), byref(usage), byref(level))
            try:
                lvl = Trust(level.value)
            except ValueError:
                lvl = level.value
            out.append(TrustEntry(_capi.text(name.value), _capi.text(usage.value), lvl))
        return out

    def set_trust(self, name, usage, level):
        """Records (or replaces) the trust level of `name` used as `usage`."""
        call(lib.milo_doc_set_trust, self._ptr, _capi.encode_text(name),
             _capi.encode_text(usage), int(level))

    # -- root ------------------------------------------------------------------------------

    @property
    def root(self):
        """The root Value, or None. Assign a Value of this document, any convertible Python
        object, or None (clears it)."""
        p = lib.milo_doc_get_root(self._ptr)
        return None if p is None else Value(self, p)

    @root.setter
    def root(self, obj):
        p = None if obj is None else self._make(obj, {})
        call(lib.milo_doc_set_root, self._ptr, p)

    # -- comparing -------------------------------------------------------------------------

    def difference(self, other):
        """None when the documents are equal (milo_doc_equal: header and root, floats and
        tensors by bit pattern, sharing by graph shape), else the first difference as
        "/root/path: reason"."""
        where = ctypes.create_string_buffer(1024)
        if lib.milo_doc_equal(self._ptr, other._ptr, where, len(where)):
            return None
        return where.value.decode("utf-8", errors="replace")

    def __eq__(self, other):
        if not isinstance(other, Document):
            return NotImplemented
        return bool(lib.milo_doc_equal(self._ptr, other._ptr, None, 0))

    __hash__ = None

    def value_count(self):
        """Number of values reachable from the root, shared nodes counted once."""
        return lib.milo_doc_value_count(self._ptr)

    def __repr__(self):
        if self._handle is None:
            return "<milo.Document (closed)>"
        return "<milo.Document type=%r values=%d>" % (self.header.get("type"),
                                                       self.value_count())

    # -- building values -------------------------------------------------------------------

    def value(self, obj):
        """Converts a Python object into a value of this document (not yet linked anywhere):
        None, bool, int (any size), float, str, bytes, list, tuple, set/frozenset, dict (keys of
        any kind), numpy arrays (copied), Global, Object, or a Value of this document (placed
        as-is, so it is shared). The same Python container object placed twice becomes one
        shared node, and self-containing containers become cycles."""
        return Value(self, self._make(obj, {}))

    def _create(self, fn, *args):
        out = c_void_p()
        call(fn, self._ptr, *args, byref(out))
        return out.value

    def _make(self, obj, memo):
        if isinstance(obj, Value):
            obj._doc._ptr  # raises if that document is closed; libmilo checks ownership
            return obj._ptr
        if obj is None:
            return self._create(lib.milo_value_create_null)
        if isinstance(obj, bool):
            return self._create(lib.milo_value_create_bool, obj)
        if isinstance(obj, int):
            if _INT64_MIN <= obj <= _INT64_MAX:
                return self._create(lib.milo_value_create_int, obj)
            text = str(int(obj)).encode("ascii")
            return self._create(lib.milo_value_create_int_text, text, len(text))
        if isinstance(obj, float):
            return self._create(lib.milo_value_create_float, obj)
        if isinstance(obj, str):
            data = obj.encode("utf-8")
            return self._create(lib.milo_value_create_string, data, len(data))
        if isinstance(obj, (bytes, bytearray, memoryview)):
            data = bytes(obj)
            return self._create(lib.milo_value_create_bytes, data, len(data))
        if isinstance(obj, Global):
            return self._create(lib.milo_value_create_global, _capi.encode_text(obj.name))

        key = id(obj)
        if key in memo:
            return memo[key][1]
        if isinstance(obj, Object):
            p = self._create(lib.milo_value_create_object, _capi.encode_text(obj.type))
            memo[key] = (obj, p)
            if obj.args is not None:
                call(lib.milo_value_set_args, p, self._make(obj.args, memo))
            if obj.state is not None:
                call(lib.milo_value_set_state, p, self._make(obj.state, memo))
            return p
        kind = (Kind.LIST if isinstance(obj, list) else
                Kind.TUPLE if isinstance(obj, tuple) else
                Kind.SET if isinstance(obj, (set, frozenset)) else
                Kind.MAP if isinstance(obj, dict) else None)
        if kind is not None:
            p = self._create(lib.milo_value_create_container, int(kind))
            memo[key] = (obj, p)
            if kind == Kind.MAP:
                for k, v in obj.items():
                    call(lib.milo_value_append_pair, p, self._make(k, memo),
                         self._make(v, memo))
            else:
                for item in obj:
                    call(lib.milo_value_append, p, self._make(item, memo))
            return p

        np = dtypes.numpy_or_none() if type(obj).__module__.startswith("numpy") else None
        if np is not None:
            if isinstance(obj, np.ndarray):
                p = self._tensor_from_array(obj, memo, copy=True)
                memo[key] = (obj, p)
                return p
            if isinstance(obj, np.bool_):
                return self._make(bool(obj), memo)
            if isinstance(obj, np.integer):
                return self._make(int(obj), memo)
            if isinstance(obj, np.floating):
                return self._make(float(obj), memo)
        raise TypeError("milo: cannot convert %s to a document value" % type(obj).__name__)

    def container(self, kind, items=()):
        """An empty list, tuple, set or map (kind: Kind or "list"/"tuple"/"set"/"map"),
        filled with `items` (pairs for a map)."""
        if isinstance(kind, str):
            kind = Kind[kind.upper()]
        v = Value(self, self._create(lib.milo_value_create_container, int(kind)))
        for item in items:
            if kind == Kind.MAP:
                v.append_pair(*item)
            else:
                v.append(item)
        return v

    def object(self, type, args=None, state=None):
        """An object of type `type` with optional args and state (Values or Python objects)."""
        v = Value(self, self._create(lib.milo_value_create_object, _capi.encode_text(type)))
        if args is not None:
            v.set_args(args)
        if state is not None:
            v.set_state(state)
        return v

    def global_(self, name):
        """A global naming `name` ("module.qualname")."""
        return Value(self, self._create(lib.milo_value_create_global, _capi.encode_text(name)))

    def tensor(self, dtype, shape):
        """A zero-filled tensor (object elements null, string elements empty). dtype: DType,
        its name or a numpy dtype. Write it through ``value.array(writable=True)``."""
        dtype = dtypes.to_dtype(dtype)
        shape_arr, ndim = _shape_arg(shape)
        return Value(self, self._create(lib.milo_value_create_tensor, int(dtype), shape_arr,
                                        ndim))

    def tensor_from(self, array, copy=False, on_release=None):
        """A tensor holding a numpy array. With copy=False the document borrows the array's
        memory (milo_value_create_tensor_borrowed, zero-copy): the array must be numeric,
        C-contiguous and little-endian and must not be modified while the document holds it;
        the document keeps it alive and lets go of it exactly once (on close, or when the
        tensor is first written), then calls `on_release()` if given. copy=True copies (and
        also accepts string, object and structured arrays, non-contiguous or big-endian
        ones)."""
        np = dtypes.require_numpy("Document.tensor_from()")
        if not isinstance(array, np.ndarray):
            array = np.asarray(array)
        if copy:
            if on_release is not None:
                raise ValueError("milo: on_release only applies to copy=False")
            return Value(self, self._tensor_from_array(array, {}, copy=True))
        return Value(self, self._tensor_borrowed(array, on_release))

    def _tensor_borrowed(self, array, on_release):
        dt = dtypes.from_numpy(array.dtype)
        if dt is None or dt in (DType.RECORD, DType.OBJECT, DType.STRING):
            raise ValueError("milo: copy=False needs a numeric array, not %s" % array.dtype)
        if not array.flags.c_contiguous or array.dtype.byteorder == ">" or (
                array.dtype.byteorder == "=" and sys.byteorder != "little"):
            raise ValueError("milo: copy=False needs a C-contiguous little-endian array; "
                             "use copy=True")
        shape_arr, ndim = _shape_arg(array.shape)
        context = next(_lent_ids)
        _lent[context] = (array, on_release)
        try:
            p = self._create(lib.milo_value_create_tensor_borrowed, int(dt), shape_arr, ndim,
                             array.ctypes.data, array.nbytes, _RELEASE_CALLBACK, context)
        except BaseException:
            _lent.pop(context, None)  # on failure nothing is released: the caller keeps it
            raise
        self._lent_ids[p] = context
        return p

    def _tensor_from_array(self, arr, memo, copy):
        np = dtypes.require_numpy("converting numpy arrays")
        dt = dtypes.from_numpy(arr.dtype)
        if dt is None:
            raise TypeError("milo: numpy dtype %s has no Milo dtype" % arr.dtype)
        shape_arr, ndim = _shape_arg(arr.shape)
        if dt == DType.RECORD:
            p = self._create(lib.milo_value_create_record_tensor, arr.dtype.itemsize,
                             shape_arr, ndim)
            for name in arr.dtype.names:
                fdt, offset = arr.dtype.fields[name][:2]
                base, sub = (fdt.subdtype if fdt.subdtype is not None else (fdt, ()))
                fdtype = dtypes.from_numpy(base)
                if fdtype is None or fdtype in (DType.RECORD, DType.OBJECT, DType.STRING):
                    raise TypeError("milo: record field %r has unsupported dtype %s"
                                    % (name, base))
                sub_arr, sub_ndim = _shape_arg(sub)
                call(lib.milo_value_tensor_add_field, p, _capi.encode_text(name), int(fdtype),
                     offset, sub_arr, sub_ndim)
            data = np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder("<"))
            self._fill(p, data)
            return p
        if dt in (DType.STRING, DType.OBJECT):
            p = self._create(lib.milo_value_create_tensor, int(dt), shape_arr, ndim)
            for i, item in enumerate(arr.ravel(order="C")):
                if dt == DType.STRING:
                    data = str(item).encode("utf-8")
                    call(lib.milo_value_tensor_set_string, p, i, data, len(data))
                else:
                    call(lib.milo_value_tensor_set_item, p, i, self._make(item, memo))
            return p
        if dt == DType.BFLOAT16:  # e.g. ml_dtypes.bfloat16: copy its bits
            arr = np.ascontiguousarray(arr).view(np.uint16)
        p = self._create(lib.milo_value_create_tensor, int(dt), shape_arr, ndim)
        order = "|" if arr.dtype.itemsize == 1 else "<"
        self._fill(p, np.ascontiguousarray(arr, dtype=arr.dtype.newbyteorder(order)))
        return p

    @staticmethod
    def _fill(p, data):
        dst, nbytes = c_void_p(), c_size_t()
        call(lib.milo_value_tensor_mutable_data, p, byref(dst), byref(nbytes))
        if nbytes.value != data.nbytes:
            raise Error(Status.ERR_INTERNAL, "tensor holds %d bytes, array %d"
                        % (nbytes.value, data.nbytes))
        if nbytes.value:
            ctypes.memmove(dst.value, data.ctypes.data, nbytes.value)


_SCALAR_KINDS = (Kind.NULL, Kind.BOOL, Kind.INT, Kind.FLOAT, Kind.STRING, Kind.BYTES,
                 Kind.GLOBAL)


def _same_key(candidate, key):
    """Key equality that keeps kinds apart (1, 1.0 and True are different keys in a
    document), except set and frozenset, which are both a document set."""
    sets = (set, frozenset)
    if isinstance(candidate, sets) and isinstance(key, sets):
        return candidate == key
    return type(candidate) is type(key) and candidate == key


class Value:
    """A value inside a Document (borrowed milo_value*). It holds a strong reference to its
    Document, so the document lives at least as long as the Value. ``a == b`` is true when both
    wrap the same node; compare contents with ``to_python()``."""

    __slots__ = ("_doc", "_v")

    def __init__(self, doc, ptr):
        self._doc = doc
        self._v = ptr

    @property
    def _ptr(self):
        self._doc._ptr  # raises once the document is closed
        return self._v

    @property
    def document(self):
        return self._doc

    @property
    def handle(self):
        """The milo_value* address (for identity checks and C interop)."""
        return self._v

    def __eq__(self, other):
        return isinstance(other, Value) and other._doc is self._doc and other._v == self._v

    def __hash__(self):
        return hash((id(self._doc), self._v))

    def __bool__(self):
        return True

    def __repr__(self):
        if self._doc.closed:
            return "<milo.Value (closed document)>"
        kind = self.kind
        if kind == Kind.TENSOR:
            return "<milo.Value tensor %s%s>" % (self.dtype.name.lower(), list(self.shape))
        if kind in (Kind.OBJECT, Kind.GLOBAL):
            return "<milo.Value %s %s>" % (self.kind_name, self.name)
        if kind in _SCALAR_KINDS:
            return "<milo.Value %s %r>" % (self.kind_name, self.to_python())
        return "<milo.Value %s len=%d>" % (self.kind_name, len(self))

    # -- kind and scalars ------------------------------------------------------------------

    @property
    def kind(self):
        return Kind(lib.milo_value_get_kind(self._ptr))

    @property
    def kind_name(self):
        """"null", "bool", "int", ..., "global"."""
        return self.kind.name.lower()

    def as_bool(self):
        out = c_bool()
        call(lib.milo_value_get_bool, self._ptr, byref(out))
        return out.value

    def as_int(self):
        """The integer, of any size (larger than int64 is read from its decimal text)."""
        out = c_int64()
        try:
            call(lib.milo_value_get_int, self._ptr, byref(out))
        except Error as exc:
            if exc.status != Status.ERR_OUT_OF_RANGE:
                raise
            return int(self.int_text())
        return out.value

    def int_text(self):
        """Decimal text of an integer."""
        out = c_char_p()
        call(lib.milo_value_get_int_text, self._ptr, byref(out))
        return _capi.text(out.value)

    def as_float(self):
        out = c_double()
        call(lib.milo_value_get_float, self._ptr, byref(out))
        return out.value

    def as_str(self):
        data, size = c_void_p(), c_size_t()
        call(lib.milo_value_get_string, self._ptr, byref(data), byref(size))
        return ctypes.string_at(data.value, size.value).decode("utf-8") if size.value else ""

    def as_bytes(self):
        data, size = c_void_p(), c_size_t()
        call(lib.milo_value_get_bytes, self._ptr, byref(data), byref(size))
        return ctypes.string_at(data.value, size.value) if size.value else b""

    @property
    def name(self):
        """Type name of an object, or the name of a global."""
        out = c_char_p()
        call(lib.milo_value_get_name, self._ptr, byref(out))
        return _capi.text(out.value)

    # -- containers ------------------------------------------------------------------------

    def _child(self, p):
        return None if p is None else Value(self._doc, p)

    def _need(self, *kinds):
        kind = self.kind
        if kind not in kinds:
            raise Error(Status.ERR_TYPE, "value is a %s, not a %s" % (
                kind.name.lower(), " or ".join(k.name.lower() for k in kinds)))
        return kind

    def __len__(self):
        self._need(Kind.LIST, Kind.TUPLE, Kind.SET, Kind.MAP, Kind.TENSOR)
        return lib.milo_value_count(self._ptr)

    def _index(self, index):
        n = lib.milo_value_count(self._ptr)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError("milo: index %d out of range (%d items)" % (index, n))
        return i

    def _key_index(self, key):
        """Index of the first pair whose key matches `key`, or None."""
        p = self._ptr
        n = lib.milo_value_count(p)
        if isinstance(key, Value):
            for i in range(n):
                if lib.milo_value_key_at(p, i) == key._v:
                    return i
            key = key.to_python()
        for i in range(n):
            k = Value(self._doc, lib.milo_value_key_at(p, i))
            if k.kind == Kind.TENSOR:
                continue
            try:
                if _same_key(k.to_python(), key):
                    return i
            except (ValueError, TypeError):
                continue
        return None

    def __getitem__(self, key):
        kind = self._need(Kind.LIST, Kind.TUPLE, Kind.SET, Kind.MAP)
        p = self._ptr
        if kind != Kind.MAP:
            if not isinstance(key, int):
                raise TypeError("milo: %s indices must be integers" % kind.name.lower())
            return Value(self._doc, lib.milo_value_at(p, self._index(key)))
        if isinstance(key, str):
            found = lib.milo_value_find(p, _capi.encode_text(key))
            if found is None:
                raise KeyError(key)
            return Value(self._doc, found)
        i = self._key_index(key)
        if i is None:
            raise KeyError(key)
        return Value(self._doc, lib.milo_value_at(p, i))

    def get(self, key, default=None):
        """map.get(key) -> Value or default."""
        try:
            return self[key]
        except KeyError:
            return default

    def __setitem__(self, key, item):
        kind = self._need(Kind.LIST, Kind.TUPLE, Kind.SET, Kind.MAP)
        p = self._ptr
        if kind != Kind.MAP:
            call(lib.milo_value_set_at, p, self._index(key), self._doc._make(item, {}))
            return
        i = self._key_index(key)
        if i is None:
            self.append_pair(key, item)
        else:
            call(lib.milo_value_set_at, p, i, self._doc._make(item, {}))

    def __contains__(self, x):
        kind = self._need(Kind.LIST, Kind.TUPLE, Kind.SET, Kind.MAP)
        if kind == Kind.MAP:
            if isinstance(x, str):
                return lib.milo_value_find(self._ptr, _capi.encode_text(x)) is not None
            return self._key_index(x) is not None
        for item in self:
            if item == x:
                return True
            if not isinstance(x, Value) and item.kind != Kind.TENSOR:
                try:
                    if _same_key(item.to_python(), x):
                        return True
                except (ValueError, TypeError):
                    pass
        return False

    def __iter__(self):
        """Items of a list/tuple/set, keys of a map (as Values)."""
        kind = self._need(Kind.LIST, Kind.TUPLE, Kind.SET, Kind.MAP)
        p = self._ptr
        at = lib.milo_value_key_at if kind == Kind.MAP else lib.milo_value_at
        return iter([Value(self._doc, at(p, i)) for i in range(lib.milo_value_count(p))])

    def keys(self):
        self._need(Kind.MAP)
        return list(self)

    def values(self):
        self._need(Kind.MAP)
        p = self._ptr
        return [Value(self._doc, lib.milo_value_at(p, i))
                for i in range(lib.milo_value_count(p))]

    def items(self):
        """(key, value) Value pairs of a map, in order."""
        self._need(Kind.MAP)
        p = self._ptr
        return [(Value(self._doc, lib.milo_value_key_at(p, i)),
                 Value(self._doc, lib.milo_value_at(p, i)))
                for i in range(lib.milo_value_count(p))]

    def append(self, item):
        """Appends to a list, tuple or set; returns the appended Value."""
        v = self._doc._make(item, {})
        call(lib.milo_value_append, self._ptr, v)
        return Value(self._doc, v)

    def extend(self, items):
        for item in items:
            self.append(item)

    def append_pair(self, key, item):
        """Appends the pair (key, item) to a map (keys are not deduplicated)."""
        k = self._doc._make(key, {})
        v = self._doc._make(item, {})
        call(lib.milo_value_append_pair, self._ptr, k, v)

    # -- objects ---------------------------------------------------------------------------

    @property
    def type(self):
        """Type name of an object."""
        self._need(Kind.OBJECT)
        return self.name

    @property
    def args(self):
        self._need(Kind.OBJECT)
        return self._child(lib.milo_value_get_args(self._ptr))

    @args.setter
    def args(self, obj):
        self.set_args(obj)

    @property
    def state(self):
        self._need(Kind.OBJECT)
        return self._child(lib.milo_value_get_state(self._ptr))

    @state.setter
    def state(self, obj):
        self.set_state(obj)

    def set_args(self, obj):
        """Sets (None clears) the constructor arguments of an object."""
        call(lib.milo_value_set_args, self._ptr,
             None if obj is None else self._doc._make(obj, {}))

    def set_state(self, obj):
        """Sets (None clears) the state of an object."""
        call(lib.milo_value_set_state, self._ptr,
             None if obj is None else self._doc._make(obj, {}))

    # -- tensors ---------------------------------------------------------------------------

    def _tensor_info(self):
        dtype, shape, ndim = c_int32(), ctypes.POINTER(c_int64)(), c_size_t()
        call(lib.milo_value_get_tensor, self._ptr, byref(dtype), byref(shape), byref(ndim))
        dims = tuple(shape[i] for i in range(ndim.value))
        try:
            dt = DType(dtype.value)
        except ValueError:
            dt = dtype.value
        return dt, dims

    @property
    def dtype(self):
        """The milo DType of a tensor (see numpy_dtype for the numpy one)."""
        return self._tensor_info()[0]

    @property
    def shape(self):
        return self._tensor_info()[1]

    @property
    def size(self):
        """Number of elements of a tensor."""
        self._need(Kind.TENSOR)
        return lib.milo_value_count(self._ptr)

    @property
    def itemsize(self):
        """Bytes per element (record: the item size; object and string tensors: 0)."""
        self._need(Kind.TENSOR)
        return lib.milo_value_tensor_itemsize(self._ptr)

    @property
    def fields(self):
        """Fields of a record tensor: list of Field(name, dtype, offset, shape)."""
        p = self._ptr
        out = []
        for i in range(lib.milo_value_tensor_field_count(p)):
            name, dtype, offset = c_char_p(), c_int32(), c_uint64()
            shape, ndim = ctypes.POINTER(c_int64)(), c_size_t()
            call(lib.milo_value_tensor_field_at, p, i, byref(name), byref(dtype),
                 byref(offset), byref(shape), byref(ndim))
            out.append(Field(_capi.text(name.value), DType(dtype.value), offset.value,
                             tuple(shape[j] for j in range(ndim.value))))
        return out

    @property
    def numpy_dtype(self):
        """The numpy dtype that array() uses (bfloat16: uint16 raw bits; records: a
        structured dtype; strings: str; objects: object)."""
        np = dtypes.require_numpy("Value.numpy_dtype")
        dt = self.dtype
        if dt == DType.RECORD:
            fields = self.fields
            return np.dtype({
                "names": [f.name for f in fields],
                "formats": [np.dtype((dtypes.numpy_dtype(f.dtype), f.shape)) if f.shape
                            else dtypes.numpy_dtype(f.dtype) for f in fields],
                "offsets": [f.offset for f in fields],
                "itemsize": self.itemsize})
        if dt == DType.STRING:
            return np.dtype(str)
        if dt == DType.OBJECT:
            return np.dtype(object)
        return dtypes.numpy_dtype(dt)

    def _buffer(self, writable):
        """A memoryview (format "B") over the tensor's data, zero-copy; its exporter keeps
        the document's memory alive."""
        p = self._ptr
        data, nbytes = c_void_p(), c_size_t()
        fn = lib.milo_value_tensor_mutable_data if writable else lib.milo_value_tensor_data
        call(fn, p, byref(data), byref(nbytes))
        size = nbytes.value
        if size == 0 or data.value is None:
            raw = (c_uint8 * 0)()
        else:
            raw = (c_uint8 * size).from_address(data.value)
        # The exporter owns the document handle (not the Document), so Document.close() only
        # defers the free until the last view goes. Views of our own borrowed arrays also keep
        # the array: libmilo may release it (copy on write) while a view still points at it.
        lent = _lent.get(self._doc._lent_ids.get(p)) if not writable else None
        raw._milo_keep = (self._doc._handle, lent[0] if lent is not None else None)
        view = memoryview(raw)
        if not writable:
            view = view.toreadonly()
        return view.cast("B"), data.value

    def data(self):
        """Read-only memoryview of the raw little-endian bytes of a numeric or record tensor,
        zero-copy (valid while the tensor is not written through a writable view)."""
        return self._buffer(False)[0]

    def array(self, writable=False):
        """The tensor as a numpy array. Numeric and record tensors give a ZERO-COPY view of the
        document's memory (its .base chain keeps the memory alive, even past Document.close()),
        read-only unless writable=True (milo_value_tensor_mutable_data; a borrowed tensor is
        copied first, so take read-only views after writable ones). bfloat16 gives the raw
        uint16 bits. String tensors give a numpy str array, object tensors a numpy object array
        of to_python() elements; both are copies."""
        np = dtypes.require_numpy("Value.array()")
        dt, shape = self._tensor_info()
        if dt in (DType.STRING, DType.OBJECT):
            if writable:
                raise ValueError("milo: %s tensors are copied into numpy; no writable view"
                                 % dt.name.lower())
            return _Converter(self._doc).convert(self._ptr)
        view, _ = self._buffer(writable)
        return np.frombuffer(view, dtype=self.numpy_dtype).reshape(shape)

    def item(self, index):
        """Element `index` (C order) of an object tensor (a Value) or a string tensor (str)."""
        dt = self.dtype
        p = self._ptr
        i = int(index)
        if dt == DType.OBJECT:
            found = lib.milo_value_tensor_item_at(p, i)
            if found is None:
                raise IndexError("milo: element %d out of range" % i)
            return Value(self._doc, found)
        if dt == DType.STRING:
            data, size = c_void_p(), c_size_t()
            call(lib.milo_value_tensor_string_at, p, i, byref(data), byref(size))
            return ctypes.string_at(data.value, size.value).decode("utf-8") if size.value else ""
        raise Error(Status.ERR_TYPE, "item() needs an object or string tensor, not %s"
                    % getattr(dt, "name", dt))

    def set_item(self, index, obj):
        """Sets element `index` of an object tensor (any convertible object) or a string
        tensor (a str)."""
        dt = self.dtype
        if dt == DType.STRING:
            data = obj.encode("utf-8")
            call(lib.milo_value_tensor_set_string, self._ptr, int(index), data, len(data))
        else:
            call(lib.milo_value_tensor_set_item, self._ptr, int(index),
                 self._doc._make(obj, {}))

    # -- conversion ------------------------------------------------------------------------

    def to_python(self):
        """The value as plain Python, recursively: None, bool, int, float, str, bytes, list,
        tuple, set (frozenset inside sets and keys; a list when an element is unhashable),
        dict (a list of (key, value) pairs when a key is unhashable), tensors as numpy arrays
        (zero-copy, read-only; without numpy: memoryviews for numeric tensors, nested lists for
        string and object tensors), Object and Global. A node reached twice gives the same
        Python object, so cycles are kept."""
        return _Converter(self._doc).convert(self._ptr)


class _Pending:
    """Marks a node whose Python object is still being built (a tuple, set or map whose
    children are converted first); references to it are patched once it exists."""
    __slots__ = ("ptr",)

    def __init__(self, ptr):
        self.ptr = ptr


def _hashable(x):
    if isinstance(x, set):
        x = frozenset(x)
    try:
        hash(x)
    except TypeError:
        return None, False
    return x, True


class _Converter:
    def __init__(self, doc):
        self.doc = doc
        self.memo = {}     # value ptr -> Python object or _Pending
        self.fixups = {}   # value ptr -> [setter(obj)]
        self.np = dtypes.numpy_or_none()

    def _slot(self, p, setter):
        """Converts child `p` for a slot that `setter` can fill later if it is pending."""
        x = self.convert(p)
        if isinstance(x, _Pending):
            self.fixups.setdefault(x.ptr, []).append(setter)
            return None
        return x

    def _fixed(self, p, where):
        """Converts a child whose slot cannot be patched later (tuple item, set element,
        map key)."""
        x = self.convert(p)
        if isinstance(x, _Pending):
            raise ValueError("milo: the value graph has a cycle through a %s, which Python "
                             "cannot represent" % where)
        return x

    def _done(self, p, obj):
        self.memo[p] = obj
        for setter in self.fixups.pop(p, ()):
            setter(obj)
        return obj

    def convert(self, p):
        kind = lib.milo_value_get_kind(p)
        v = Value(self.doc, p)
        if kind == Kind.NULL:
            return None
        if kind == Kind.BOOL:
            return v.as_bool()
        if kind == Kind.INT:
            return v.as_int()
        if kind == Kind.FLOAT:
            return v.as_float()
        if kind == Kind.STRING:
            return v.as_str()
        if kind == Kind.BYTES:
            return v.as_bytes()
        if kind == Kind.GLOBAL:
            return Global(v.name)
        if p in self.memo:
            return self.memo[p]
        n = lib.milo_value_count(p)
        if kind == Kind.LIST:
            out = [None] * n
            self.memo[p] = out
            for i in range(n):
                out[i] = self._slot(lib.milo_value_at(p, i),
                                    lambda x, i=i: out.__setitem__(i, x))
            return self._done(p, out)
        if kind == Kind.OBJECT:
            out = Object(v.name)
            self.memo[p] = out
            args, state = lib.milo_value_get_args(p), lib.milo_value_get_state(p)
            if args is not None:
                out.args = self._slot(args, lambda x: setattr(out, "args", x))
            if state is not None:
                out.state = self._slot(state, lambda x: setattr(out, "state", x))
            return self._done(p, out)
        if kind in (Kind.TUPLE, Kind.SET):
            self.memo[p] = _Pending(p)
            where = "tuple item" if kind == Kind.TUPLE else "set element"
            items = [self._fixed(lib.milo_value_at(p, i), where) for i in range(n)]
            if kind == Kind.TUPLE:
                return self._done(p, tuple(items))
            hashed = [_hashable(x) for x in items]
            if all(ok for _, ok in hashed):
                return self._done(p, set(x for x, _ in hashed))
            return self._done(p, items)
        if kind == Kind.MAP:
            self.memo[p] = _Pending(p)
            keys = [self._fixed(lib.milo_value_key_at(p, i), "map key") for i in range(n)]
            hashed = [_hashable(k) for k in keys]
            if all(ok for _, ok in hashed):
                out = {}
                self._done(p, out)
                for i, (k, _) in enumerate(hashed):
                    out[k] = self._slot(lib.milo_value_at(p, i),
                                        lambda x, k=k: out.__setitem__(k, x))
                return out
            pairs = [None] * n
            self._done(p, pairs)
            for i, k in enumerate(keys):
                pairs[i] = (k, self._slot(lib.milo_value_at(p, i),
                                          lambda x, i=i, k=k: pairs.__setitem__(i, (k, x))))
            return pairs
        if kind == Kind.TENSOR:
            return self._tensor(v, p)
        raise Error(Status.ERR_UNSUPPORTED, "value kind %d is unknown to these bindings" % kind)

    def _tensor(self, v, p):
        dt, shape = v._tensor_info()
        n = lib.milo_value_count(p)
        np = self.np
        if dt == DType.OBJECT:
            if np is not None:
                out = np.empty(n, dtype=object)
                self.memo[p] = out.reshape(shape)
                for i in range(n):
                    out[i] = self._slot(lib.milo_value_tensor_item_at(p, i),
                                        lambda x, i=i: out.__setitem__(i, x))
                return self._done(p, self.memo[p])
            if not shape:
                return self._done(p, self._fixed(lib.milo_value_tensor_item_at(p, 0),
                                                 "0-d object tensor"))
            nested = _nest([None] * n, shape)  # placeholder structure, filled below
            self.memo[p] = nested
            for i in range(n):
                x = self._slot(lib.milo_value_tensor_item_at(p, i),
                               lambda x, i=i: _set_nested(nested, shape, i, x))
                _set_nested(nested, shape, i, x)
            return self._done(p, nested)
        if dt == DType.STRING:
            items = [v.item(i) for i in range(n)]
            if np is not None:
                width = max([len(s) for s in items] + [1])
                out = np.array(items, dtype="<U%d" % width).reshape(shape)
            else:
                out = _nest(items, shape)
            return self._done(p, out)
        if np is not None:
            return self._done(p, v.array())
        view = v.data()
        code = dtypes.STRUCT_CODES.get(dt)
        if code is not None and 0 not in shape:
            view = view.cast(code, list(shape))
        return self._done(p, view)


def _nest(flat, shape):
    """Nested lists of `flat` (C order) in `shape`; a scalar for shape ()."""
    if not shape:
        return flat[0] if flat else None
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def _set_nested(nested, shape, index, x):
    if not shape:
        return
    target = nested
    strides = []
    acc = 1
    for d in reversed(shape):
        strides.append(acc)
        acc *= d
    strides.reverse()
    coords = [(index // s) % d for s, d in zip(strides, shape)]
    for c in coords[:-1]:
        target = target[c]
    target[coords[-1]] = x
