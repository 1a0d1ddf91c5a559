"""Milo from Python: documents, values, registries and conversions over the Milo C ABI
(libmilo), through ctypes only.

    import milo
    with milo.Registry() as reg:
        doc = reg.open("model.safetensors")
        w = doc.root.state["fc1.weight"].array()   # zero-copy numpy view

    milo.dump(model, "model.json")          # a scikit-learn model as a readable document
    model = milo.load("model.json")         # back, through a restricted unpickler

libmilo is found through MILO_LIBRARY, else <repo>/build/lib/libmilo.so when this package sits
in <repo>/adapters/python, else the system library path (see README.md).
"""

import ctypes as _ctypes
import threading as _threading

from . import _capi
from .constants import HEADER_KEYS, DType, Kind, Status, Tensors, Trust
from .document import Document, Field, Global, Header, Metadata, Object, TrustEntry, Value
from .errors import Error, UntrustedTypesError, status_name
from .models import RestrictedUnpickler, ScanReport, dump, dumps, load, loads, scan
from .registry import FormatInfo, PluginInfo, PluginWarning, Registry, TransporterInfo

__all__ = [
    "ABI_VERSION", "DType", "Document", "Error", "Field", "FormatInfo", "Global", "HEADER_KEYS",
    "Header", "Kind", "Metadata", "Object", "PluginInfo", "PluginWarning", "Registry",
    "RestrictedUnpickler", "ScanReport", "Status", "Tensors", "TransporterInfo", "Trust",
    "TrustEntry", "UntrustedTypesError", "Value", "abi_version", "convert", "default_registry",
    "dump", "dumps", "format_version", "library_path", "load", "loads", "open", "plugin_dir",
    "scan", "sha256", "status_name", "version",
]

#: The ABI these bindings were written for; the loaded library must implement at least this.
ABI_VERSION = _capi.ABI_VERSION
#: The libmilo that was loaded.
library_path = _capi.library_path


def version():
    """libmilo's release version, "MAJOR.MINOR.PATCH"."""
    return _capi.text(_capi.lib.milo_version_get())


def abi_version():
    """The ABI version the loaded libmilo implements."""
    return int(_capi.lib.milo_abi_version_get())


def format_version():
    """The document format version libmilo writes."""
    return int(_capi.lib.milo_format_version_get())


def plugin_dir():
    """The default plugin folder: milo/plugins beside the loaded libmilo."""
    return _capi.text(_capi.lib.milo_registry_get_plugin_dir())


def sha256(data):
    """SHA-256 of bytes as 64 lowercase hex digits (milo_hash_sha256)."""
    data = bytes(data)
    out = _ctypes.create_string_buffer(65)
    _capi.lib.milo_hash_sha256(data, len(data), out)
    return out.value.decode("ascii")


_default = None
_default_lock = _threading.Lock()


def default_registry():
    """The registry behind milo.open and milo.convert, created on first use with the default
    plugins."""
    global _default
    with _default_lock:
        if _default is None or _default.closed:
            _default = Registry(plugins=True)
        return _default


def open(path, **load_options):
    """Opens a document or native model file with the default registry (Registry.open)."""
    return default_registry().open(path, **load_options)


def convert(src, dst, **save_options):
    """Converts `src` into `dst` with the default registry (Registry.convert)."""
    default_registry().convert(src, dst, **save_options)
