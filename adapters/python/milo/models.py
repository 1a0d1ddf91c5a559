"""Python objects (scikit-learn models, numpy arrays, plain containers) to Milo documents and
back: milo.dump/dumps/load/loads/scan.

Writing pickles the object in memory and hands the bytes to the "sklearn" transporter, which
reads them symbolically (nothing is imported or run) into a document. Reading asks the same
transporter to write the document back as a pickle stream, checks every name that stream and
the document use against the trust lists, and only then unpickles it with RestrictedUnpickler,
which imports nothing else. There is no fallback to plain pickle anywhere.
"""

import io
import os
import pickle
import types
from ctypes import POINTER, byref, c_char_p, c_int32, c_int64, c_size_t

from . import _capi
from .constants import DType, Kind, Trust
from .document import TrustEntry
from .errors import UntrustedTypesError

#: The transporter that maps pickles to documents and back.
TRANSPORTER = "sklearn"

_PROBE_BYTES = 64 * 1024  # what libmilo's probes look at

lib = _capi.lib

# Never imported by RestrictedUnpickler, whatever a document or `trusted=` says: modules that
# run commands, import or load code, or reach the interpreter, and builtins that do the same.
# A second line of defence behind the transporter's classification (which reports these as
# dangerous), checked on the name and on the object the name resolves to.
_NEVER_MODULES = frozenset((
    "os", "posix", "nt", "subprocess", "sys", "importlib", "imp", "pickle", "_pickle",
    "pickletools", "marshal", "runpy", "shutil", "socket", "ctypes", "code", "codeop", "pty",
    "multiprocessing", "webbrowser", "pkgutil", "shelve", "tempfile", "io", "_io", "signal",
    "threading", "_thread", "asyncio", "inspect", "types", "gc",
))
_NEVER_BUILTINS = frozenset((
    "eval", "exec", "execfile", "compile", "__import__", "open", "file", "getattr", "setattr",
    "delattr", "globals", "locals", "vars", "input", "breakpoint", "exit", "quit", "help",
    "__loader__", "__build_class__",
))


def _split(full_name):
    """(module, qualname) of a name as the transporter spells it: "module.name", or
    "module:Outer.Inner" when the qualname itself has a dot."""
    if ":" in full_name:
        module, _, qualname = full_name.partition(":")
    else:
        module, _, qualname = full_name.rpartition(".")
    return module, qualname


def _join(module, qualname):
    return "%s%s%s" % (module, ":" if "." in qualname else ".", qualname)


def _never(full_name):
    """True for a name that is never imported (Python 2's __builtin__ counts as builtins)."""
    module, qualname = _split(full_name)
    if module in ("builtins", "__builtin__"):
        return qualname in _NEVER_BUILTINS
    return module.split(".", 1)[0] in _NEVER_MODULES


def _registry():
    from . import default_registry
    return default_registry()


# -- reading inputs --------------------------------------------------------------------------


def _open_any(reg, path):
    """(Document, is_document) for any input, decided by content as the milo tool does: a Milo
    document in a registered format (unless a transporter's probe claims the bytes more
    strongly, as for a PyMilo .json file); else a native file through the transporter whose
    probe recognises it; else, for a file named like a document, that format (for its precise
    error); else the sklearn transporter (pickles of protocols 0 and 1 have no magic)."""
    with io.open(path, "rb") as f:
        head = f.read(_PROBE_BYTES)
    transporter = reg.probe_transporter(head)
    if reg.probe_format(head) is not None and not reg.transporter_outbids_format(head):
        return reg.load(path), True
    if transporter is None:
        if lib.milo_registry_find_format_for_path(reg._ptr, _capi.encode_path(path)):
            return reg.load(path), True
        transporter = TRANSPORTER
    with io.open(path, "rb") as f:
        data = f.read()
    return reg.decode_native(transporter, data, os.fsdecode(path)), False


# -- trust -----------------------------------------------------------------------------------

_LEVEL_ORDER = {Trust.TRUSTED: 0, Trust.UNTRUSTED: 1, Trust.DANGEROUS: 2}


def _level(level):
    # unknown levels count as dangerous, as in `milo scan`
    return level if level in _LEVEL_ORDER else Trust.DANGEROUS


_OPCODE_FORMS = frozenset(("copyreg.__newobj__", "copyreg.__newobj_ex__"))


def _named_types(doc):
    """Every object type and global name reachable from the root, in document order, unique
    (shared nodes visited once; iterative, so any depth is fine), except the transporter's
    pseudo-types: "(call)" and the like, and copyreg.__newobj__/__newobj_ex__, which stand for
    the NEWOBJ opcodes (the class they create is named in the stream)."""
    root = lib.milo_doc_get_root(doc._ptr)
    names = {}
    seen = set()
    stack = [root] if root is not None else []
    containers = (Kind.LIST, Kind.TUPLE, Kind.SET)
    while stack:
        p = stack.pop()
        kind = lib.milo_value_get_kind(p)
        if kind == Kind.GLOBAL:
            names.setdefault(_value_name(p), None)
            continue
        if kind not in containers and kind not in (Kind.MAP, Kind.OBJECT, Kind.TENSOR):
            continue
        if p in seen:
            continue
        seen.add(p)
        children = []
        if kind == Kind.OBJECT:
            names.setdefault(_value_name(p), None)
            children = [lib.milo_value_get_args(p), lib.milo_value_get_state(p)]
        elif kind in containers:
            children = [lib.milo_value_at(p, i) for i in range(lib.milo_value_count(p))]
        elif kind == Kind.MAP:
            for i in range(lib.milo_value_count(p)):
                children += [lib.milo_value_key_at(p, i), lib.milo_value_at(p, i)]
        else:  # tensor: only object tensors hold values
            children = [lib.milo_value_tensor_item_at(p, i)
                        for i in range(lib.milo_value_count(p))] if _is_object_tensor(p) else []
        stack.extend(c for c in reversed(children) if c is not None)
    return [n for n in names if not n.startswith("(") and n not in _OPCODE_FORMS]


def _value_name(p):
    out = c_char_p()
    lib.milo_value_get_name(p, byref(out), None)
    return _capi.text(out.value) or ""


def _is_object_tensor(p):
    dtype, shape, ndim = c_int32(), POINTER(c_int64)(), c_size_t()
    status = lib.milo_value_get_tensor(p, byref(dtype), byref(shape), byref(ndim), None)
    return status == 0 and dtype.value == DType.OBJECT


def _entries(doc):
    return [TrustEntry(e.name, e.usage, _level(e.level)) for e in doc.trust]


def _unlisted(doc, entries):
    """Names the document's tree uses that its trust list leaves out (untrusted)."""
    listed = set(e.name for e in entries)
    return [TrustEntry(n, "unlisted", Trust.UNTRUSTED) for n in _named_types(doc)
            if n not in listed]


def _worse(a, b):
    return a if _LEVEL_ORDER[a] >= _LEVEL_ORDER[b] else b


def _merge(*lists):
    """Entries of several trust lists, one per (name, usage), each at the worst level any list
    gives that name (a name's level is its worst over all usages: the unpickler sees names,
    not usages). Names on the never-import list are dangerous whatever the lists say."""
    worst = {}
    for entries in lists:
        for e in entries:
            level = Trust.DANGEROUS if _never(e.name) else e.level
            worst[e.name] = _worse(worst.get(e.name, Trust.TRUSTED), level)
    out, seen = [], set()
    for entries in lists:
        for e in entries:
            if (e.name, e.usage) not in seen:
                seen.add((e.name, e.usage))
                out.append(TrustEntry(e.name, e.usage, worst[e.name]))
    return out


def _trusted_names(trusted):
    if trusted is None:
        return frozenset()
    if isinstance(trusted, (str, bytes)):
        raise TypeError("milo: trusted must be a list of \"module.qualname\" strings, not one "
                        "string (write trusted=[%r])" % (trusted,))
    names = []
    for name in trusted:
        if not isinstance(name, str):
            raise TypeError("milo: trusted names are \"module.qualname\" strings, not %s (for "
                            "a class: \"%%s.%%s\" %% (cls.__module__, cls.__qualname__))"
                            % type(name).__name__)
        names.append(name)
    return frozenset(names)


class ScanReport:
    """What a model names, classified: a sequence of TrustEntry(name, usage, level) (level a
    milo.Trust; a name has its worst level in every entry). Names a document's tree uses but
    its trust list leaves out appear with usage "unlisted" and level untrusted.

    ``trusted``, ``untrusted``, ``dangerous``: sorted names per level. ``unlisted``: sorted
    names without an entry in the document's list.
    ``ok``: nothing untrusted or dangerous. ``path``: what was scanned.
    """

    def __init__(self, entries, path=None):
        self.entries = tuple(entries)
        self.path = path

    def _names(self, level):
        return sorted(set(e.name for e in self.entries if e.level == level))

    @property
    def trusted(self):
        return self._names(Trust.TRUSTED)

    @property
    def untrusted(self):
        return self._names(Trust.UNTRUSTED)

    @property
    def dangerous(self):
        return self._names(Trust.DANGEROUS)

    @property
    def unlisted(self):
        return sorted(set(e.name for e in self.entries if e.usage == "unlisted"))

    @property
    def ok(self):
        return not any(e.level != Trust.TRUSTED for e in self.entries)

    def __len__(self):
        return len(self.entries)

    def __iter__(self):
        return iter(self.entries)

    def __getitem__(self, index):
        return self.entries[index]

    def __repr__(self):
        return "<milo.ScanReport %s: %d trusted, %d untrusted, %d dangerous>" % (
            self.path, len(self.trusted), len(self.untrusted), len(self.dangerous))

    def __str__(self):
        lines = [repr(self)]
        for level in (Trust.DANGEROUS, Trust.UNTRUSTED, Trust.TRUSTED):
            lines += ["  %-10s %s (%s)" % (level.name.lower(), e.name, e.usage)
                      for e in self.entries if e.level == level]
        return "\n".join(lines)


def _stream_trust(reg, data):
    """How the transporter classifies the names of a pickle stream."""
    with reg.decode_native(TRANSPORTER, data) as doc:
        return [TrustEntry(e.name, e.usage, _level(e.level)) for e in doc.trust]


def _checked_stream(reg, doc, allowed):
    """The pickle stream of `doc` and the names RestrictedUnpickler may import: the names the
    stream uses. Raises UntrustedTypesError when one of them is dangerous, or untrusted and
    not in `allowed`.

    A document is data and its trust list could claim anything, so it is not taken on faith:
    the transporter reads the stream it wrote back, and each name the stream uses gets the
    worst level of the transporter's classification, the document's entries for it and
    milo's never-import list."""
    data = reg.encode_native_bytes(TRANSPORTER, doc)
    claimed = {}
    for e in _entries(doc):
        claimed[e.name] = _worse(claimed.get(e.name, Trust.TRUSTED), e.level)
    level = {}
    for e in _merge(_stream_trust(reg, data)):
        level[e.name] = _worse(e.level, claimed.get(e.name, Trust.TRUSTED))
    dangerous = [n for n, lv in level.items() if lv == Trust.DANGEROUS]
    refused = [n for n, lv in level.items() if lv == Trust.UNTRUSTED and n not in allowed]
    if dangerous or refused:
        raise UntrustedTypesError(refused, dangerous)
    return data, frozenset(level)


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler that imports only the exact "module.qualname" strings in `admitted`
    and never one on milo's never-import list (checked on the name and on the object it
    resolves to); persistent ids and out-of-band buffers are refused. Anything else raises
    UntrustedTypesError (a pickle.UnpicklingError) before the name is imported."""

    def __init__(self, file, admitted):
        super().__init__(file)
        self._admitted = frozenset(admitted)

    def find_class(self, module, name):
        full = _join(module, name)
        if _never(full):
            raise UntrustedTypesError([], [full], "refusing to import %s: it can run code and "
                                      "is never loaded" % full)
        if full not in self._admitted:
            raise UntrustedTypesError([full], (), "refusing to import %s: the pickle stream "
                                      "names it but it was not admitted" % full)
        obj = super().find_class(module, name)
        # The name was admitted; make sure it did not lead somewhere else (a dotted qualname
        # through a module attribute, or an alias of a forbidden function).
        if isinstance(obj, types.ModuleType):
            raise UntrustedTypesError([], [full], "refusing %s: it resolves to a module" % full)
        where = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
        if isinstance(where, str) and isinstance(qualname, str) and _never(_join(where, qualname)):
            raise UntrustedTypesError([], [full], "refusing %s: it resolves to %s, which is "
                                      "never loaded" % (full, _join(where, qualname)))
        return obj

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("milo: persistent ids are not allowed (found %.80r)"
                                     % (pid,))


def _unpickle(data, admitted):
    f = io.BytesIO(data)
    obj = RestrictedUnpickler(f, admitted).load()
    if f.tell() != len(data):
        raise pickle.UnpicklingError("milo: %d bytes after the end of the pickle stream (at "
                                     "offset %d)" % (len(data) - f.tell(), f.tell()))
    return obj


def _load_document(reg, doc, allowed):
    data, admitted = _checked_stream(reg, doc, allowed)
    return _unpickle(data, admitted)


# -- the public functions --------------------------------------------------------------------


def _document_of(reg, obj):
    # protocol 5 with buffers in-band: the transporter sees one self-contained stream
    return reg.decode_native(TRANSPORTER, pickle.dumps(obj, protocol=5))


def dump(obj, path, **options):
    """Writes `obj` (anything picklable whose pickle the sklearn transporter reads) to `path`
    as a Milo document, in the format its extension names (.json, .yaml/.yml, .pb; else
    JSON), atomically. `options` are those of Registry.save (format=, tensors=, indent=,
    readable_max_bytes=, external_min_bytes=). A native extension (.pkl, .joblib …) is
    refused: use milo.convert to write native files."""
    reg = _registry()
    if options.get("format") is None:
        encoded = _capi.encode_path(path)
        if (not lib.milo_registry_find_format_for_path(reg._ptr, encoded)
                and reg._transporter_for_path(os.fsdecode(encoded)) is not None):
            raise ValueError("milo.dump writes Milo documents; %s has a native file extension "
                             "(use .json, .yaml or .pb, or pass format=)" % os.fsdecode(path))
    with _document_of(reg, obj) as doc:
        reg.save(doc, path, **options)


def dumps(obj, format="json", **options):
    """`obj` as the text of a Milo document (JSON, or format="yaml"). `options` are those of
    Registry.encode (tensors=, indent=, readable_max_bytes=)."""
    if format not in ("json", "yaml"):
        raise ValueError("milo.dumps returns text: format must be \"json\" or \"yaml\", not %r "
                         "(Registry.encode gives the bytes of any format)" % (format,))
    reg = _registry()
    with _document_of(reg, obj) as doc:
        return reg.encode(doc, format=format, **options).decode("utf-8")


def load(path, trusted=None):
    """Reads the object back from `path`: a Milo document in any format, or a pickle, joblib
    or PyMilo JSON file (read without running it: decoded to a document first). Raises
    UntrustedTypesError, before anything is unpickled, when the model names a type or function
    that is not trusted — unless `trusted` (a list of exact "module.qualname" strings) allows
    it — or anything dangerous (never loaded)."""
    allowed = _trusted_names(trusted)
    reg = _registry()
    doc, _ = _open_any(reg, path)
    with doc:
        return _load_document(reg, doc, allowed)


def loads(data, trusted=None):
    """load() from the text (str) or bytes of a Milo document in any format."""
    allowed = _trusted_names(trusted)
    if isinstance(data, str):
        data = data.encode("utf-8")
    reg = _registry()
    with reg.decode(data, name="<string>") as doc:
        return _load_document(reg, doc, allowed)


def scan(path):
    """The trust report (ScanReport) of a pickle, joblib or other native model file, or of a
    Milo document. Nothing is unpickled or imported. For a document of the sklearn transporter
    the report also covers the pickle stream the document stands for (what load checks); for
    other documents, names its tree uses that its trust list leaves out count as untrusted."""
    reg = _registry()
    doc, is_document = _open_any(reg, path)
    with doc:
        entries = _entries(doc)
        if not is_document:
            extra = []
        elif doc.header.get("transporter.id") == TRANSPORTER:
            extra = _stream_trust(reg, reg.encode_native_bytes(TRANSPORTER, doc))
        else:
            extra = _unlisted(doc, entries)
        return ScanReport(_merge(entries, extra), os.fsdecode(path))
