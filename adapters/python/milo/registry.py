"""milo.Registry: plugins, transporters and formats, and the calls that save, load and convert
through them."""

import ctypes
import io
import os
import warnings
from collections import namedtuple
from ctypes import byref, c_char_p, c_void_p

from . import _capi
from .constants import Status, Tensors
from .document import Document, _Closable, _Handle
from .errors import Error, call

lib = _capi.lib

PluginInfo = namedtuple("PluginInfo", "path name version")
TransporterInfo = namedtuple("TransporterInfo", "id framework description version")
FormatInfo = namedtuple("FormatInfo", "id description extensions")


class PluginWarning(UserWarning):
    """A plugin in the default folders failed to load (the others were loaded)."""


def _strings(array):
    """A NULL-terminated const char* const* as a tuple of str."""
    out = []
    if array:
        i = 0
        while array[i] is not None:
            out.append(array[i].decode("utf-8"))
            i += 1
    return tuple(out)


def _bytes_arg(data):
    if isinstance(data, bytes):
        return data
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError("milo: expected bytes, got %s" % type(data).__name__)


def _tensor_mode(tensors):
    if isinstance(tensors, str):
        try:
            return Tensors[tensors.upper()]
        except KeyError:
            raise ValueError("milo: tensors must be auto, readable, compact or external, not %r"
                             % tensors) from None
    return Tensors(tensors)


def _save_options(format, tensors, indent, readable_max_bytes, external_min_bytes):
    opts = _capi.milo_save_options()
    opts.struct_size = ctypes.sizeof(opts)
    opts.abi_version = _capi.ABI_VERSION
    opts.format = _capi.encode_text(format)
    opts.tensors = int(_tensor_mode(tensors))
    opts.indent = -1 if indent is None else int(indent)
    opts.readable_max_bytes = readable_max_bytes or 0
    opts.external_min_bytes = external_min_bytes or 0
    return opts


def _load_options(format, max_depth, verify):
    opts = _capi.milo_load_options()
    opts.struct_size = ctypes.sizeof(opts)
    opts.abi_version = _capi.ABI_VERSION
    opts.format = _capi.encode_text(format)
    opts.max_depth = max_depth or 0
    opts.flags = 0 if verify else _capi.MILO_LOAD_NO_VERIFY
    return opts


#: the probe callback of transporter and format descriptors
_PROBE_FN = ctypes.CFUNCTYPE(ctypes.c_int32, c_void_p, c_char_p, ctypes.c_size_t)


def _call_writing(stream, run):
    """Calls run(callback) with a milo_write_fn that writes into `stream` (anything with
    write(bytes)). An exception raised by stream.write stops the C call and is re-raised here
    (with the library's milo.Error as its __cause__)."""
    failures = []

    def write(context, data, size, error):
        # Runs inside libmilo: nothing may propagate from here into C.
        try:
            stream.write(ctypes.string_at(data, size) if size else b"")
            return 0
        except BaseException as exc:
            failures.append(exc)
            try:
                lib.milo_error_set(error, int(Status.ERR_IO), _capi.encode_text(
                    "the Python stream failed: %s: %s" % (type(exc).__name__, exc)))
            except BaseException:
                pass
            return int(Status.ERR_IO)

    callback = _capi.WRITE_FN(write)
    try:
        run(callback)
    except Error as err:
        if failures:
            raise failures[0] from err
        raise
    if failures:
        raise failures[0]


class Registry(_Closable):
    """A registry (milo_registry) with the built-in formats json, yaml and pb.

    plugins=True loads the default plugin folders (MILO_PLUGIN_PATH, then milo/plugins beside
    libmilo; a plugin that fails there is a PluginWarning, like in the milo tool), False loads
    none, a str or a list of str loads those folders (failures raise). Freed once, by close()
    or when garbage collected; documents it made keep it alive.
    """

    def __init__(self, plugins=True):
        out = c_void_p()
        call(lib.milo_registry_create, byref(out))
        self._handle = _Handle(out.value, lib.milo_registry_destroy)
        if plugins is True:
            try:
                self.load_plugins()
            except Error as exc:
                warnings.warn(str(exc), PluginWarning, stacklevel=2)
        elif plugins not in (False, None):
            self.load_plugins(plugins)

    @property
    def _ptr(self):
        handle = self._handle
        if handle is None:
            raise ValueError("milo: operation on a closed Registry")
        return handle.ptr

    def close(self):
        """Releases the registry (its plugins are unloaded once no document it made is left).
        Idempotent."""
        self._handle = None

    def __repr__(self):
        if self._handle is None:
            return "<milo.Registry (closed)>"
        return "<milo.Registry plugins=%s>" % [p.name for p in self.plugins()]

    def _doc(self, ptr):
        return Document._adopt(ptr, keep=(self._handle,))

    # -- plugins ---------------------------------------------------------------------------

    def load_plugin(self, path):
        """Loads one plugin shared library (a file already loaded is a no-op)."""
        call(lib.milo_registry_load_plugin, self._ptr, _capi.encode_path(path))

    def load_plugins(self, dirs=None):
        """Loads every milo_*.so in `dirs` (a folder, a ':'-separated string or a list);
        None: MILO_PLUGIN_PATH, then the default folder. Every plugin is tried; the first
        failure is raised after the others are loaded."""
        if dirs is None:
            arg = None
        elif isinstance(dirs, (str, bytes, os.PathLike)):
            arg = _capi.encode_path(dirs)
        else:
            arg = b":".join(_capi.encode_path(d) for d in dirs)
        call(lib.milo_registry_load_plugins, self._ptr, arg)

    def plugins(self):
        """Loaded plugins (built-in formats included): list of PluginInfo(path, name,
        version)."""
        p = self._ptr
        out = []
        for i in range(lib.milo_registry_plugin_count(p)):
            path, name, version = c_char_p(), c_char_p(), c_char_p()
            call(lib.milo_registry_plugin_at, p, i, byref(path), byref(name), byref(version))
            out.append(PluginInfo(os.fsdecode(path.value) if path.value is not None else None,
                                  _capi.text(name.value), _capi.text(version.value)))
        return out

    def transporters(self):
        """Registered transporters: list of TransporterInfo(id, framework, description,
        version)."""
        p = self._ptr
        out = []
        for i in range(lib.milo_registry_transporter_count(p)):
            t = lib.milo_registry_transporter_at(p, i).contents
            out.append(TransporterInfo(_capi.text(t.id), _capi.text(t.framework),
                                       _capi.text(t.description), _capi.text(t.version)))
        return out

    def formats(self):
        """Registered document formats: list of FormatInfo(id, description, extensions)."""
        p = self._ptr
        out = []
        for i in range(lib.milo_registry_format_count(p)):
            f = lib.milo_registry_format_at(p, i).contents
            out.append(FormatInfo(_capi.text(f.id), _capi.text(f.description),
                                  _strings(f.extensions)))
        return out

    # -- reading ---------------------------------------------------------------------------

    def open(self, path, format=None, max_depth=None, verify=True):
        """Opens any input: a Milo document in a registered format, else a native file through
        the transporter that recognises it."""
        out = c_void_p()
        opts = _load_options(format, max_depth, verify)
        call(lib.milo_doc_open, self._ptr, _capi.encode_path(path), byref(opts), byref(out))
        return self._doc(out.value)

    def load(self, path, format=None, max_depth=None, verify=True):
        """Loads a Milo document file (format detected by content unless given). verify=False
        skips the sha256 check of an external tensor file."""
        out = c_void_p()
        opts = _load_options(format, max_depth, verify)
        call(lib.milo_doc_load, self._ptr, _capi.encode_path(path), byref(opts), byref(out))
        return self._doc(out.value)

    def decode(self, data, name="<memory>", format=None, max_depth=None):
        """Decodes a Milo document from bytes; `name` is used in messages."""
        data = _bytes_arg(data)
        out = c_void_p()
        opts = _load_options(format, max_depth, True)
        call(lib.milo_doc_decode, self._ptr, data, len(data), _capi.encode_text(name),
             byref(opts), byref(out))
        return self._doc(out.value)

    def decode_native(self, transporter_id, data, path=None):
        """Native model bytes -> Document through `transporter_id` (None: the transporter
        whose probe recognises the bytes). `path` names the input in messages."""
        data = _bytes_arg(data)
        out = c_void_p()
        call(lib.milo_registry_decode_native, self._ptr, _capi.encode_text(transporter_id),
             data, len(data), None if path is None else _capi.encode_path(path), byref(out))
        return self._doc(out.value)

    def probe_format(self, head):
        """The id of the document format whose probe recognises `head` (the first bytes of an
        input; 64 KiB are plenty), or None."""
        head = _bytes_arg(head)
        f = lib.milo_registry_find_format_for_content(self._ptr, head, len(head))
        return _capi.text(f.contents.id) if f else None

    def probe_transporter(self, head):
        """The id of the transporter whose probe recognises `head` (the first bytes of a
        native file), or None."""
        head = _bytes_arg(head)
        t = lib.milo_registry_find_transporter_for_content(self._ptr, head, len(head))
        return _capi.text(t.contents.id) if t else None

    def transporter_outbids_format(self, head):
        """True when the transporter that recognises `head` is more confident than the format
        that does (a PyMilo JSON file is only "some JSON object" to the JSON format), as in
        milo_doc_open and the milo tool."""
        head = _bytes_arg(head)
        f = lib.milo_registry_find_format_for_content(self._ptr, head, len(head))
        t = lib.milo_registry_find_transporter_for_content(self._ptr, head, len(head))
        if not f or not t or not f.contents.probe or not t.contents.probe:
            return bool(t) and not f
        return (_PROBE_FN(t.contents.probe)(t.contents.self, head, len(head))
                > _PROBE_FN(f.contents.probe)(f.contents.self, head, len(head)))

    # -- writing ---------------------------------------------------------------------------

    def save(self, doc, path, format=None, tensors="auto", indent=None,
             readable_max_bytes=None, external_min_bytes=None):
        """Saves `doc` to `path` atomically. format: "json", "yaml", "pb" (None: from the
        extension, else json). tensors: "auto", "readable", "compact" or "external" (numeric
        tensors go to "<path minus extension>.safetensors"). indent: spaces per level for
        text formats (0: one line; None: 2)."""
        opts = _save_options(format, tensors, indent, readable_max_bytes, external_min_bytes)
        call(lib.milo_doc_save, self._ptr, doc._ptr, _capi.encode_path(path), byref(opts))

    def encode_to(self, doc, stream, format="json", tensors="auto", indent=None,
                  readable_max_bytes=None, external_min_bytes=None):
        """Encodes `doc` into a binary file-like object (anything with write(bytes)). An
        exception raised by stream.write stops the encoding and is re-raised here (with the
        library's milo.Error as its __cause__)."""
        opts = _save_options(format, tensors, indent, readable_max_bytes, external_min_bytes)
        _call_writing(stream, lambda callback: call(lib.milo_doc_encode, self._ptr, doc._ptr,
                                                    byref(opts), callback, None))

    def encode(self, doc, format="json", tensors="auto", indent=None,
               readable_max_bytes=None, external_min_bytes=None):
        """Encodes `doc` to bytes ("external" tensors need a file: use save)."""
        buffer = io.BytesIO()
        self.encode_to(doc, buffer, format=format, tensors=tensors, indent=indent,
                       readable_max_bytes=readable_max_bytes,
                       external_min_bytes=external_min_bytes)
        return buffer.getvalue()

    def encode_native(self, transporter_id, doc, path):
        """Writes `doc` back to its native form through `transporter_id` (None: the header's
        transporter.id, else the transporter of the root type) into `path`."""
        call(lib.milo_registry_encode_native, self._ptr, _capi.encode_text(transporter_id),
             doc._ptr, _capi.encode_path(path))

    def encode_native_bytes(self, transporter_id, doc):
        """encode_native into memory: the native bytes of `doc`."""
        buffer = io.BytesIO()
        _call_writing(buffer, lambda callback: call(
            lib.milo_registry_encode_native_to, self._ptr, _capi.encode_text(transporter_id),
            doc._ptr, callback, None))
        return buffer.getvalue()

    def convert(self, src, dst, **save_options):
        """Opens `src` (document or native file) and writes `dst`: a document, or a native
        file when no format but a transporter claims dst's extension (like `milo convert`).
        save_options are those of save()."""
        with self.open(src) as doc:
            encoded_path = _capi.encode_path(dst)
            if (save_options.get("format") is None
                    and not lib.milo_registry_find_format_for_path(self._ptr, encoded_path)):
                native = self._transporter_for_path(os.fsdecode(encoded_path))
                if native is not None:
                    if save_options:
                        raise ValueError("milo: save options do not apply to a native output")
                    self.encode_native(native, doc, dst)
                    return
            self.save(doc, dst, **save_options)

    def _transporter_for_path(self, path):
        p = self._ptr
        lower = path.lower()
        for i in range(lib.milo_registry_transporter_count(p)):
            t = lib.milo_registry_transporter_at(p, i).contents
            if t.encode and any(lower.endswith(ext.lower()) for ext in _strings(t.extensions)):
                return _capi.text(t.id)
        return None
