"""Loading libmilo and the ctypes prototype of every C ABI function the adapter calls.

Only the public C headers (sdk/include/milo/*.h) are mirrored here; every function gets its
argtypes and restype set explicitly, so a wrong call fails in Python instead of in C.
"""

import ctypes
import ctypes.util
import os

from ctypes import (CFUNCTYPE, POINTER, Structure, c_bool, c_char, c_char_p, c_double,
                    c_int32, c_int64, c_size_t, c_uint32, c_uint64, c_void_p)

#: The ABI these bindings were written for (MILO_ABI_VERSION of the headers they mirror).
ABI_VERSION = 2

MILO_ERROR_MESSAGE_SIZE = 1000
MILO_MAX_NDIM = 64


class milo_error(Structure):
    _fields_ = [("struct_size", c_uint32),
                ("code", c_int32),
                ("message", c_char * MILO_ERROR_MESSAGE_SIZE)]


def new_error():
    """A fresh error buffer, initialised like MILO_ERROR_INIT."""
    err = milo_error()
    err.struct_size = ctypes.sizeof(milo_error)
    return err


class milo_save_options(Structure):
    _fields_ = [("struct_size", c_uint32),
                ("abi_version", c_uint32),
                ("format", c_char_p),
                ("tensors", c_int32),
                ("indent", c_int32),
                ("readable_max_bytes", c_uint64),
                ("external_min_bytes", c_uint64)]


class milo_load_options(Structure):
    _fields_ = [("struct_size", c_uint32),
                ("abi_version", c_uint32),
                ("format", c_char_p),
                ("max_depth", c_uint32),
                ("flags", c_uint32)]


MILO_LOAD_NO_VERIFY = 1

# Descriptor layouts from plugin.h. The adapter only reads the data members; the callbacks are
# declared as plain pointers because Python never calls them.
class milo_transporter(Structure):
    _fields_ = [("struct_size", c_uint32),
                ("abi_version", c_uint32),
                ("id", c_char_p),
                ("description", c_char_p),
                ("version", c_char_p),
                ("framework", c_char_p),
                ("types", POINTER(c_char_p)),
                ("extensions", POINTER(c_char_p)),
                ("self", c_void_p),
                ("probe", c_void_p),
                ("decode", c_void_p),
                ("encode", c_void_p),
                ("destroy", c_void_p),
                ("get_extension", c_void_p)]


class milo_format(Structure):
    _fields_ = [("struct_size", c_uint32),
                ("abi_version", c_uint32),
                ("id", c_char_p),
                ("description", c_char_p),
                ("extensions", POINTER(c_char_p)),
                ("flags", c_uint32),
                ("reserved", c_uint32),
                ("self", c_void_p),
                ("probe", c_void_p),
                ("encode", c_void_p),
                ("decode", c_void_p),
                ("destroy", c_void_p),
                ("get_extension", c_void_p)]


#: milo_write_fn: (context, data, size, error) -> status
WRITE_FN = CFUNCTYPE(c_int32, c_void_p, c_void_p, c_size_t, POINTER(milo_error))
#: milo_release_fn: (context) -> void
RELEASE_FN = CFUNCTYPE(None, c_void_p)

_p = c_void_p           # opaque handles (milo_doc*, milo_value*, milo_registry*, ...)
_pp = POINTER(c_void_p)  # out-parameters for handles and borrowed pointers
_err = POINTER(milo_error)
_st = c_int32           # milo_status

# name: (restype, argtypes)
_PROTOTYPES = {
    # version.h
    "milo_version_get": (c_char_p, []),
    "milo_abi_version_get": (c_uint32, []),
    "milo_format_version_get": (c_uint32, []),
    # error.h
    "milo_status_name": (c_char_p, [_st]),
    "milo_error_set": (_st, [_err, _st, c_char_p]),
    # hash.h (the output buffer is char[65])
    "milo_hash_sha256": (None, [c_void_p, c_size_t, c_char_p]),
    # value.h: documents
    "milo_doc_create": (_st, [_pp, _err]),
    "milo_doc_destroy": (None, [_p]),
    "milo_doc_get_root": (_p, [_p]),
    "milo_doc_set_root": (_st, [_p, _p, _err]),
    "milo_doc_get_header": (_st, [_p, c_char_p, POINTER(c_char_p), _err]),
    "milo_doc_set_header": (_st, [_p, c_char_p, c_char_p, _err]),
    "milo_doc_set_trust": (_st, [_p, c_char_p, c_char_p, c_int32, _err]),
    "milo_doc_trust_count": (c_size_t, [_p]),
    "milo_doc_trust_at": (_st, [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p),
                                POINTER(c_int32), _err]),
    "milo_doc_set_metadata": (_st, [_p, c_char_p, c_char_p, _err]),
    "milo_doc_metadata_count": (c_size_t, [_p]),
    "milo_doc_metadata_at": (_st, [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p), _err]),
    # value.h: creating values
    "milo_value_create_null": (_st, [_p, _pp, _err]),
    "milo_value_create_bool": (_st, [_p, c_bool, _pp, _err]),
    "milo_value_create_int": (_st, [_p, c_int64, _pp, _err]),
    "milo_value_create_int_text": (_st, [_p, c_char_p, c_size_t, _pp, _err]),
    "milo_value_create_float": (_st, [_p, c_double, _pp, _err]),
    "milo_value_create_string": (_st, [_p, c_char_p, c_size_t, _pp, _err]),
    "milo_value_create_bytes": (_st, [_p, c_void_p, c_size_t, _pp, _err]),
    "milo_value_create_container": (_st, [_p, c_int32, _pp, _err]),
    "milo_value_create_object": (_st, [_p, c_char_p, _pp, _err]),
    "milo_value_create_global": (_st, [_p, c_char_p, _pp, _err]),
    "milo_value_create_tensor": (_st, [_p, c_int32, POINTER(c_int64), c_size_t, _pp, _err]),
    "milo_value_create_record_tensor": (_st, [_p, c_uint64, POINTER(c_int64), c_size_t, _pp,
                                              _err]),
    "milo_value_create_tensor_borrowed": (_st, [_p, c_int32, POINTER(c_int64), c_size_t,
                                                c_void_p, c_size_t, RELEASE_FN, c_void_p, _pp,
                                                _err]),
    # value.h: reading scalars
    "milo_value_get_kind": (c_int32, [_p]),
    "milo_value_get_bool": (_st, [_p, POINTER(c_bool), _err]),
    "milo_value_get_int": (_st, [_p, POINTER(c_int64), _err]),
    "milo_value_get_int_text": (_st, [_p, POINTER(c_char_p), _err]),
    "milo_value_get_float": (_st, [_p, POINTER(c_double), _err]),
    "milo_value_get_string": (_st, [_p, _pp, POINTER(c_size_t), _err]),
    "milo_value_get_bytes": (_st, [_p, _pp, POINTER(c_size_t), _err]),
    "milo_value_get_name": (_st, [_p, POINTER(c_char_p), _err]),
    # value.h: containers
    "milo_value_count": (c_size_t, [_p]),
    "milo_value_at": (_p, [_p, c_size_t]),
    "milo_value_key_at": (_p, [_p, c_size_t]),
    "milo_value_find": (_p, [_p, c_char_p]),
    "milo_value_append": (_st, [_p, _p, _err]),
    "milo_value_append_pair": (_st, [_p, _p, _p, _err]),
    "milo_value_set_at": (_st, [_p, c_size_t, _p, _err]),
    # value.h: objects
    "milo_value_get_args": (_p, [_p]),
    "milo_value_get_state": (_p, [_p]),
    "milo_value_set_args": (_st, [_p, _p, _err]),
    "milo_value_set_state": (_st, [_p, _p, _err]),
    # value.h: tensors
    "milo_value_get_tensor": (_st, [_p, POINTER(c_int32), POINTER(POINTER(c_int64)),
                                    POINTER(c_size_t), _err]),
    "milo_value_tensor_itemsize": (c_uint64, [_p]),
    "milo_value_tensor_data": (_st, [_p, _pp, POINTER(c_size_t), _err]),
    "milo_value_tensor_mutable_data": (_st, [_p, _pp, POINTER(c_size_t), _err]),
    "milo_value_tensor_add_field": (_st, [_p, c_char_p, c_int32, c_uint64, POINTER(c_int64),
                                          c_size_t, _err]),
    "milo_value_tensor_field_count": (c_size_t, [_p]),
    "milo_value_tensor_field_at": (_st, [_p, c_size_t, POINTER(c_char_p), POINTER(c_int32),
                                         POINTER(c_uint64), POINTER(POINTER(c_int64)),
                                         POINTER(c_size_t), _err]),
    "milo_value_tensor_item_at": (_p, [_p, c_size_t]),
    "milo_value_tensor_set_item": (_st, [_p, c_size_t, _p, _err]),
    "milo_value_tensor_string_at": (_st, [_p, c_size_t, _pp, POINTER(c_size_t), _err]),
    "milo_value_tensor_set_string": (_st, [_p, c_size_t, c_char_p, c_size_t, _err]),
    # value.h: whole documents
    "milo_doc_equal": (c_bool, [_p, _p, c_char_p, c_size_t]),
    "milo_doc_value_count": (c_size_t, [_p]),
    # registry.h
    "milo_registry_create": (_st, [_pp, _err]),
    "milo_registry_destroy": (None, [_p]),
    "milo_registry_load_plugin": (_st, [_p, c_char_p, _err]),
    "milo_registry_load_plugins": (_st, [_p, c_char_p, _err]),
    "milo_registry_get_plugin_dir": (c_char_p, []),
    "milo_registry_plugin_count": (c_size_t, [_p]),
    "milo_registry_plugin_at": (_st, [_p, c_size_t, POINTER(c_char_p), POINTER(c_char_p),
                                      POINTER(c_char_p), _err]),
    "milo_registry_transporter_count": (c_size_t, [_p]),
    "milo_registry_transporter_at": (POINTER(milo_transporter), [_p, c_size_t]),
    "milo_registry_find_transporter": (POINTER(milo_transporter), [_p, c_char_p]),
    "milo_registry_find_transporter_for_type": (POINTER(milo_transporter), [_p, c_char_p]),
    "milo_registry_find_transporter_for_content": (POINTER(milo_transporter),
                                                   [_p, c_void_p, c_size_t]),
    "milo_registry_format_count": (c_size_t, [_p]),
    "milo_registry_format_at": (POINTER(milo_format), [_p, c_size_t]),
    "milo_registry_find_format": (POINTER(milo_format), [_p, c_char_p]),
    "milo_registry_find_format_for_path": (POINTER(milo_format), [_p, c_char_p]),
    "milo_registry_find_format_for_content": (POINTER(milo_format), [_p, c_void_p, c_size_t]),
    "milo_doc_save": (_st, [_p, _p, c_char_p, POINTER(milo_save_options), _err]),
    "milo_doc_encode": (_st, [_p, _p, POINTER(milo_save_options), WRITE_FN, c_void_p, _err]),
    "milo_doc_load": (_st, [_p, c_char_p, POINTER(milo_load_options), _pp, _err]),
    "milo_doc_decode": (_st, [_p, c_void_p, c_size_t, c_char_p, POINTER(milo_load_options), _pp,
                              _err]),
    "milo_registry_decode_native": (_st, [_p, c_char_p, c_void_p, c_size_t, c_char_p, _pp,
                                          _err]),
    "milo_registry_encode_native": (_st, [_p, c_char_p, _p, c_char_p, _err]),
    "milo_registry_encode_native_to": (_st, [_p, c_char_p, _p, WRITE_FN, c_void_p, _err]),
    "milo_doc_open": (_st, [_p, c_char_p, POINTER(milo_load_options), _pp, _err]),
}


def _package_build_tree_library():
    """<repo>/build/lib/libmilo.so when the package sits at <repo>/adapters/python/milo."""
    package_dir = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(package_dir)))
    return os.path.join(repo, "build", "lib", "libmilo.so")


def _candidates():
    env = os.environ.get("MILO_LIBRARY")
    if env:
        # An explicit choice is never second-guessed: if it does not load, that is the error.
        return [env]
    found = []
    local = _package_build_tree_library()
    if os.path.exists(local):
        found.append(local)
    name = ctypes.util.find_library("milo")
    if name:
        found.append(name)
    found.append("libmilo.so")
    return found


def _load_library():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path), path
        except OSError as exc:
            tried.append("%s (%s)" % (path, exc))
    raise ImportError("milo: cannot load libmilo; set MILO_LIBRARY to the full path of "
                      "libmilo.so. Tried: " + "; ".join(tried))


lib, library_path = _load_library()

for _name, (_restype, _argtypes) in _PROTOTYPES.items():
    try:
        _fn = getattr(lib, _name)
    except AttributeError:
        raise ImportError("milo: %s (%s) does not export %s" % (library_path, "libmilo",
                                                                _name)) from None
    _fn.restype = _restype
    _fn.argtypes = _argtypes

_loaded_abi = lib.milo_abi_version_get()
if _loaded_abi < ABI_VERSION:
    raise ImportError("milo: %s implements ABI %d, but these bindings need ABI %d or newer"
                      % (library_path, _loaded_abi, ABI_VERSION))


def text(ptr):
    """A borrowed NUL-terminated UTF-8 string (bytes from a c_char_p) as str; None stays None."""
    return None if ptr is None else ptr.decode("utf-8")


def encode_text(s):
    """str -> UTF-8 bytes for a const char* argument; None stays None (NULL)."""
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    return s.encode("utf-8")


def encode_path(p):
    return os.fsencode(p)
