"""Writes the test cases of the safe pickle VM (pickle_vm_test) into the build tree.

    make_pickle_cases.py OUTDIR           pickles + the graphs the VM must build (manifest.json)
    make_pickle_cases.py --forest FILE    the scale test's RandomForestClassifier pickle

Pickles come from the real picklers: pickle's C Pickler and pure-Python _Pickler, protocols 0-5,
each also through pickletools.optimize, for a broad set of values (scalars at their boundaries,
strings with lone surrogates, shared and cyclic containers, objects of classes defined here,
copyreg extension codes, persistent ids, out-of-band buffers, numpy arrays). A few hand-made
pickles cover what no Python 3 pickler writes (Python 2 strings, INST, OBJ, DUP, text numbers in
every syntax int() and float() accept, 8-byte lengths); each is checked with pickle._loads.

For every pickle the expected graph comes from `Mirror`, a symbolic unpickler written here over
pickletools' opcode table and argument readers: a node per created value, the memo sharing
nodes, globals named and never resolved. It is rendered to a canonical one-line text that
pickle_vm_test renders the same way from the C++ graph. Where the graph is plain data, the
mirror's graph is first evaluated to Python values and compared with what pickle.loads returns,
so the expectation is tied to CPython's own unpickler and not only to this mirror.
"""
import codecs
import collections
import copyreg
import functools
import io
import itertools
import json
import os
import pickle
import pickletools
import queue
import shutil
import struct
import sys
import warnings
import _compat_pickle

warnings.simplefilter("ignore", DeprecationWarning)  # "\z" in a STRING is meant
sys.setrecursionlimit(10000)

# ----------------------------------------------------------------------------------------------
# The mirror: a symbolic unpickler with the VM's semantics (pickle_vm.hpp).

CONTAINERS = ("list", "tuple", "dict", "set", "frozenset")


class Node:
    def __init__(self, kind, pos, value=None):
        self.kind = kind
        self.pos = pos
        self.value = value      # int, float, bool, bytes (str kinds: UTF-8 with surrogatepass)
        self.items = []
        self.callable = self.args = self.kwargs = None
        self.states, self.list_items, self.dict_items = [], [], []
        self.readonly = False
        self.g = None           # index into Mirror.globals


def read_line(data, pos):
    end = data.index(b"\n", pos)
    return data[pos:end], end + 1


def ops(data):
    """(opcode name, argument, position) like pickletools.genops, but text-line operands are
    given raw (genops parses INT with int(x), the VM with int(x, 0) as pickle.py does)."""
    pos = 0
    while True:
        op = pickletools.code2op[chr(data[pos])]
        start = pos
        pos += 1
        a = op.arg
        if a is None:
            arg = None
        elif a.n == pickletools.UP_TO_NEWLINE:
            arg, pos = read_line(data, pos)
            if op.name in ("GLOBAL", "INST"):
                name, pos = read_line(data, pos)
                arg = (arg, name)
        else:
            f = io.BytesIO(data)
            f.seek(pos)
            arg = a.reader(f)
            pos = f.tell()
        yield op.name, arg, start
        if op.name == "STOP":
            if pos != len(data):
                raise ValueError("trailing bytes")
            return


class Mirror:
    def __init__(self, py2="ascii", buffers=None):
        self.py2 = py2
        self.buffers = buffers   # list of bytes, "unresolved", or None
        self.globals = []        # dicts: module, name, raw_module, raw_name, first, c, i, r
        self.index = {}
        self.nodes = 0
        self.opcodes = 0
        self.protocol = 0
        self.seen = set()

    def make(self, kind, pos, value=None):
        self.nodes += 1
        return Node(kind, pos, value)

    def use(self, n):
        if n.kind == "global":
            self.globals[n.g]["r"] = True

    def global_node(self, module, name, pos):
        raw = (module, name)
        if self.protocol < 3:
            if raw in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[raw]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        key = (module, name)
        if key not in self.index:
            self.index[key] = len(self.globals)
            self.globals.append(dict(module=module, name=name, raw_module=raw[0],
                                     raw_name=raw[1], first=pos, c=False, i=False, r=False))
        n = self.make("global", pos, key)
        n.g = self.index[key]
        return n

    def int_node(self, v, pos):
        return self.make("int", pos, v)

    def py2_string(self, raw, pos):
        if self.py2 == "bytes":
            return self.make("bytes", pos, raw)
        text = raw.decode("ascii" if self.py2 == "ascii" else "latin-1")
        return self.make("str", pos, text.encode("utf-8"))

    def run(self, data):
        stack, marks, memo = [], [], {}
        next_buffer = 0

        def pop_mark():
            m = marks.pop()
            items = stack[m:]
            del stack[m:]
            return items

        def container(kind, items, pos):
            n = self.make(kind, pos)
            for x in items:
                self.use(x)
            n.items = list(items)
            return n

        for name, arg, pos in ops(data):
            self.opcodes += 1
            self.seen.add(name)
            if name == "PROTO":
                self.protocol = max(self.protocol, arg)
            elif name in ("FRAME",):
                pass
            elif name == "MARK":
                marks.append(len(stack))
            elif name == "STOP":
                assert not marks and len(stack) == 1
                root = stack[0]
                self.use(root)
                for g in self.globals:
                    if not (g["c"] or g["i"]):
                        g["r"] = True
                return root
            elif name == "POP":
                if len(stack) > (marks[-1] if marks else 0):
                    stack.pop()
                else:
                    marks.pop()
            elif name == "POP_MARK":
                pop_mark()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name == "NONE":
                stack.append(self.make("none", pos))
            elif name in ("NEWTRUE", "NEWFALSE"):
                stack.append(self.make("bool", pos, name == "NEWTRUE"))
            elif name == "INT":
                if arg in (b"00", b"01"):
                    stack.append(self.make("bool", pos, arg == b"01"))
                else:
                    stack.append(self.int_node(int(arg, 0), pos))
            elif name == "LONG":
                stack.append(self.int_node(int(arg[:-1] if arg.endswith(b"L") else arg, 0), pos))
            elif name in ("BININT", "BININT1", "BININT2", "LONG1", "LONG4"):
                stack.append(self.int_node(arg, pos))
            elif name == "FLOAT":
                stack.append(self.make("float", pos, float(arg)))
            elif name == "BINFLOAT":
                stack.append(self.make("float", pos, arg))
            elif name == "STRING":
                assert len(arg) >= 2 and arg[0] == arg[-1] and arg[:1] in (b"'", b'"')
                stack.append(self.py2_string(codecs.escape_decode(arg[1:-1])[0], pos))
            elif name in ("BINSTRING", "SHORT_BINSTRING"):
                stack.append(self.py2_string(arg.encode("latin-1"), pos))
            elif name == "UNICODE":
                text = str(arg, "raw-unicode-escape")
                stack.append(self.make("str", pos, text.encode("utf-8", "surrogatepass")))
            elif name in ("BINUNICODE", "SHORT_BINUNICODE", "BINUNICODE8"):
                stack.append(self.make("str", pos, arg.encode("utf-8", "surrogatepass")))
            elif name in ("BINBYTES", "SHORT_BINBYTES", "BINBYTES8"):
                stack.append(self.make("bytes", pos, arg))
            elif name == "BYTEARRAY8":
                stack.append(self.make("bytearray", pos, bytes(arg)))
            elif name in ("EMPTY_LIST", "EMPTY_TUPLE", "EMPTY_DICT", "EMPTY_SET"):
                kind = {"EMPTY_LIST": "list", "EMPTY_TUPLE": "tuple", "EMPTY_DICT": "dict",
                        "EMPTY_SET": "set"}[name]
                stack.append(self.make(kind, pos))
            elif name in ("LIST", "TUPLE", "DICT", "FROZENSET"):
                stack.append(container(name.lower(), pop_mark(), pos))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                k = int(name[-1])
                items = stack[-k:]
                del stack[-k:]
                stack.append(container("tuple", items, pos))
            elif name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
                if name in ("APPEND", "SETITEM"):
                    k = 1 if name == "APPEND" else 2
                    items = stack[-k:]
                    del stack[-k:]
                else:
                    items = pop_mark()
                target = stack[-1]
                for x in items:
                    self.use(x)
                if name.startswith("APPEND"):
                    dst = target.items if target.kind == "list" else target.list_items
                    assert target.kind in ("list", "reduce", "newobj")
                elif name.startswith("SETITEM"):
                    dst = target.items if target.kind == "dict" else target.dict_items
                    assert target.kind in ("dict", "reduce", "newobj")
                else:
                    assert target.kind == "set"
                    dst = target.items
                dst.extend(items)
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[int(arg)] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[int(arg)])
            elif name == "GLOBAL":
                stack.append(self.global_node(arg[0].decode(), arg[1].decode(), pos))
            elif name == "STACK_GLOBAL":
                nm, mod = stack.pop(), stack.pop()
                assert nm.kind == mod.kind == "str"
                stack.append(self.global_node(mod.value.decode("utf-8", "surrogatepass"),
                                              nm.value.decode("utf-8", "surrogatepass"), pos))
            elif name in ("INST", "OBJ"):
                if name == "INST":
                    cls = self.global_node(arg[0].decode(), arg[1].decode(), pos)
                    args = pop_mark()
                else:
                    cls, *args = pop_mark()
                if cls.kind == "global":
                    self.globals[cls.g]["i"] = True
                n = self.make("newobj", pos)
                n.callable, n.args = cls, container("tuple", args, pos)
                stack.append(n)
            elif name in ("NEWOBJ", "NEWOBJ_EX"):
                kwargs = stack.pop() if name == "NEWOBJ_EX" else None
                args, cls = stack.pop(), stack.pop()
                assert args.kind == "tuple" and (kwargs is None or kwargs.kind == "dict")
                if cls.kind == "global":
                    self.globals[cls.g]["i"] = True
                self.use(args)
                if kwargs:
                    self.use(kwargs)
                n = self.make("newobj", pos)
                n.callable, n.args, n.kwargs = cls, args, kwargs
                stack.append(n)
            elif name == "REDUCE":
                args, fn = stack.pop(), stack[-1]
                assert args.kind == "tuple"
                if fn.kind == "global":
                    self.globals[fn.g]["c"] = True
                self.use(args)
                n = self.make("reduce", pos)
                n.callable, n.args = fn, args
                stack[-1] = n
            elif name == "BUILD":
                state = stack.pop()
                assert stack[-1].kind in ("reduce", "newobj", "persid", "ext")
                self.use(state)
                stack[-1].states.append(state)
            elif name in ("PERSID", "BINPERSID"):
                if name == "PERSID":
                    pid = self.make("str", pos, arg.decode("ascii").encode())
                else:
                    pid = stack.pop()
                    self.use(pid)
                n = self.make("persid", pos)
                n.args = pid
                stack.append(n)
            elif name in ("EXT1", "EXT2", "EXT4"):
                stack.append(self.make("ext", pos, arg))
            elif name == "NEXT_BUFFER":
                b = b"" if self.buffers == "unresolved" else self.buffers[next_buffer]
                stack.append(self.make("buffer", pos, (next_buffer, b)))
                next_buffer += 1
            elif name == "READONLY_BUFFER":
                assert stack[-1].kind in ("buffer", "bytes", "bytearray")
                stack[-1].readonly = True
            else:
                raise AssertionError("unhandled opcode " + name)


# ----------------------------------------------------------------------------------------------
# Canonical rendering (pickle_vm_test.cpp renders the C++ graph the same way).

def esc(b):
    return "".join(chr(c) if 0x21 <= c <= 0x7E and c not in (0x22, 0x5C) else "\\x%02x" % c
                   for c in b)


def long_bytes(v):
    """Minimal little-endian two's complement, as the VM stores a Kind::Long."""
    n = (v.bit_length() if v >= 0 else (~v).bit_length()) // 8 + 1
    return v.to_bytes(n, "little", signed=True)


def children(n):
    if n.kind in CONTAINERS:
        return list(n.items)
    out = []
    if n.kind in ("reduce", "newobj"):
        out = [n.callable, n.args] + ([n.kwargs] if n.kwargs else [])
    elif n.kind == "persid":
        out = [n.args]
    return out + n.states + n.list_items + n.dict_items


def render(root):
    counts, seen, todo = {id(root): 1}, set(), [root]
    while todo:
        n = todo.pop()
        if id(n) in seen:
            continue
        seen.add(id(n))
        for c in children(n):
            counts[id(c)] = counts.get(id(c), 0) + 1
            todo.append(c)
    ids = {}

    def r(n):
        if id(n) in ids:
            return "#%d" % ids[id(n)]
        prefix = ""
        if counts[id(n)] > 1:
            ids[id(n)] = len(ids)
            prefix = "#%d=" % ids[id(n)]
        return prefix + body(n)

    def extras(n):
        s = ""
        for tag, lst in (("st", n.states), ("li", n.list_items), ("di", n.dict_items)):
            if lst:
                s += " %s[%s]" % (tag, " ".join(r(x) for x in lst))
        return s

    def body(n):
        k = n.kind
        if k == "none":
            return "N"
        if k == "bool":
            return "T" if n.value else "F"
        if k == "int":
            v = n.value
            return "i%d" % v if -2**63 <= v < 2**63 else "l" + long_bytes(v).hex()
        if k == "float":
            return "f%016x" % struct.unpack("<Q", struct.pack("<d", n.value))[0]
        ro = "!ro" if n.readonly else ""
        if k in ("str", "bytes", "bytearray"):
            return {"str": "s", "bytes": "b", "bytearray": "ba"}[k] + '"%s"' % esc(n.value) + ro
        if k == "buffer":
            return 'buf%d"%s"' % (n.value[0], esc(n.value[1])) + ro
        if k in CONTAINERS:
            inner = " ".join(r(x) for x in n.items)
            return {"list": "[%s]", "tuple": "(%s)", "dict": "{%s}", "set": "set{%s}",
                    "frozenset": "fset{%s}"}[k] % inner
        if k == "global":
            return 'g"%s","%s"' % (esc(n.value[0].encode("utf-8", "surrogatepass")),
                                   esc(n.value[1].encode("utf-8", "surrogatepass")))
        if k == "reduce":
            return "R(%s %s%s)" % (r(n.callable), r(n.args), extras(n))
        if k == "newobj":
            kw = " kw=" + r(n.kwargs) if n.kwargs else ""
            return "O(%s %s%s%s)" % (r(n.callable), r(n.args), kw, extras(n))
        if k == "persid":
            return "P(%s%s)" % (r(n.args), extras(n))
        if k == "ext":
            return "X(%d%s)" % (n.value, extras(n))
        raise AssertionError(k)

    return r(root)


# ----------------------------------------------------------------------------------------------
# Cross-check of the mirror against CPython for plain data: evaluate the mirror's graph, render
# it and pickle.loads' result "loosely" (identity only for mutable containers, sets sorted) and
# compare.

PLAIN = ("none", "bool", "int", "float", "str", "bytes", "bytearray") + CONTAINERS


def all_nodes(root):
    seen, todo, out = set(), [root], []
    while todo:
        n = todo.pop()
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
            todo.extend(children(n))
    return out


def evaluate(root):
    nodes = sorted(all_nodes(root), key=lambda n: n.pos)  # creation order = stream order
    obj = {}
    for n in nodes:  # immutables from their (earlier) items; mutable containers empty for now
        k = n.kind
        if k == "str":
            obj[id(n)] = n.value.decode("utf-8", "surrogatepass")
        elif k == "bytearray":
            obj[id(n)] = bytearray(n.value)
        elif k in ("list", "dict", "set"):
            obj[id(n)] = {"list": list, "dict": dict, "set": set}[k]()
        elif k in ("tuple", "frozenset"):
            obj[id(n)] = (tuple if k == "tuple" else frozenset)(obj[id(x)] for x in n.items)
        else:
            obj[id(n)] = n.value
    for n in nodes:
        o = obj[id(n)]
        items = [obj[id(x)] for x in n.items]
        if n.kind == "list":
            o.extend(items)
        elif n.kind == "set":
            o.update(items)
        elif n.kind == "dict":
            for i in range(0, len(items), 2):
                o[items[i]] = items[i + 1]
    return obj[id(root)]


def loose(o, ids=None):
    ids = {} if ids is None else ids
    if isinstance(o, (list, dict, set, bytearray)):
        if id(o) in ids:
            return "#%d" % ids[id(o)]
        ids[id(o)] = len(ids)
    if o is None or isinstance(o, bool):
        return repr(o)
    if isinstance(o, int):
        return "i%d" % o
    if isinstance(o, float):
        return "f%016x" % struct.unpack("<Q", struct.pack("<d", o))[0]
    if isinstance(o, str):
        return "s" + esc(o.encode("utf-8", "surrogatepass"))
    if isinstance(o, (bytes, bytearray)):
        return type(o).__name__ + esc(o)
    if isinstance(o, (list, tuple)):
        return type(o).__name__ + "[" + " ".join(loose(x, ids) for x in o) + "]"
    if isinstance(o, dict):
        return "dict{" + " ".join(loose(k, ids) + ":" + loose(v, ids) for k, v in o.items()) + "}"
    if isinstance(o, (set, frozenset)):
        return type(o).__name__ + "{" + " ".join(sorted(loose(x, ids) for x in o)) + "}"
    raise TypeError(type(o))


# ----------------------------------------------------------------------------------------------
# Values. Classes live in __main__, as a user's would.

class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y


class Slotted:
    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b


class SlotsAndDict:
    __slots__ = ("a", "__dict__")

    def __init__(self):
        self.a, self.z = 1, 2


def make_reduced(a, b):
    return Reduced()


class Reduced:
    """__reduce__ with every optional part: state, list items, dict items."""
    def __reduce__(self):
        return (make_reduced, (1, "two"), {"state": 3}, iter([4, 5]), iter([("k", 6)]))

    def append(self, x):
        pass

    def extend(self, xs):
        pass

    def __setitem__(self, k, v):
        pass


class KwNew:
    def __new__(cls, a, *, b=0):
        self = super().__new__(cls)
        self.a, self.b = a, b
        return self

    def __getnewargs_ex__(self):
        return (self.a,), {"b": self.b}


class MyList(list):
    pass


class MyDict(dict):
    pass


class ExtA:
    pass


class ExtB:
    pass


class ExtC:
    pass


class Persist:
    def __init__(self, key):
        self.key = key


copyreg.add_extension(__name__, "ExtA", 1)       # EXT1
copyreg.add_extension(__name__, "ExtB", 300)     # EXT2
copyreg.add_extension(__name__, "ExtC", 70000)   # EXT4


def values():
    nan = float("nan")
    shared = {"k": 1}
    cyc_list = []
    cyc_list.append(cyc_list)
    cyc_dict = {}
    cyc_dict["self"] = cyc_dict
    rec_l = []
    rec_t = (rec_l, 1)
    rec_l.append(rec_t)
    s = "shared"
    ml = MyList([1, 2, 3])
    ml.attr = "x"
    md = MyDict(a=1)
    md.attr = [2]
    v = {
        "none": None,
        "bools": [True, False],
        "ints": [0, 1, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31, 2**31, -2**31 - 1,
                 2**63 - 1, -2**63, 2**63, -2**63 - 1, 2**64, 2**200, -2**200],
        "int_huge": 2**3000 + 12345,
        "int_huge_negative": -(2**2500),
        "floats": [0.0, -0.0, 1.5, -2.25e-300, 1e308, 5e-324, nan, float("inf"),
                   float("-inf"), 0.1],
        "strs": ["", "ascii", "café", "€uro", "😀", "\ud800", "a\udfffb",
                 "line\nbreak\\back\r\x00\x1a", "x" * 300],
        "bytes": [b"", b"\x00\xff", b"x" * 300, bytes(range(256))],
        "bytearray": bytearray(b"ab\x00\xff"),
        "nested": {"a": [1, (2, 3), {"b": {4, 5}}], "f": frozenset({6}), (1, 2): None},
        "empties": [[], (), {}, set(), frozenset()],
        "tuples": [(1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)],
        "shared_dict": [shared, shared],
        "cycle_list": cyc_list,
        "cycle_dict": cyc_dict,
        "recursive_tuple": rec_t,
        "shared_str": [s, s, s],
        "memo_300": [str(i) for i in range(300)] * 2,
        "point": Point(1, "two"),
        "points_shared_class": [Point(1, 2), Point(3, 4)],
        "slotted": Slotted(1, [2]),
        "slots_and_dict": SlotsAndDict(),
        "reduced": Reduced(),
        "newobj_ex": KwNew(1, b=2),
        "ordered_dict": collections.OrderedDict([("x", 1), ("y", 2)]),
        "defaultdict": collections.defaultdict(list, {"a": [1]}),
        "list_subclass": ml,
        "dict_subclass": md,
        "py2_names": [range, functools.reduce, str, int, zip, Exception, KeyError,
                      collections.UserDict, itertools.filterfalse, queue.Queue, set([1, 2])],
        "ext_classes": [ExtA, ExtB, ExtC],
        "ext_objects": [ExtA(), ExtB(), ExtC()],
        "big_frames": [b"y" * 70000, "z" * 70000, list(range(20000)), "end"],
    }
    return v


def numpy_values():
    import numpy as np
    return {
        "np_float2d": np.arange(6.0).reshape(2, 3),
        "np_int_fortran": np.array([[1, 2], [3, 4]], dtype="<i4", order="F"),
        "np_bool": np.array([True, False]),
        "np_unicode": np.array(["ab", "c"], dtype="U3"),
        "np_object": np.array([1, "x", None], dtype=object),
        "np_structured": np.zeros(2, dtype=[("a", "<i8"), ("b", "<f4", (2,))]),
        "np_scalars": [np.float64(2.5), np.int32(-7), np.bool_(True)],
        "np_0d": np.array(3.0),
        "np_big_endian": np.array([1.0, -2.0], dtype=">f8"),
        "np_datetime": np.array(["2020-01-01"], dtype="M8[s]"),
        "np_complex": np.array([1 + 2j], dtype="c16"),
        "np_empty": np.zeros((0, 3)),
        "np_shared_dtype": [np.zeros(2), np.ones(3)],
    }


# ----------------------------------------------------------------------------------------------
# Picklers.

class CPersist(pickle.Pickler):
    def persistent_id(self, obj):
        return ("key", obj.key) if isinstance(obj, Persist) else None


class PyPersist(pickle._Pickler):
    def persistent_id(self, obj):
        return ("key", obj.key) if isinstance(obj, Persist) else None


class Loader(pickle._Unpickler):
    def persistent_load(self, pid):
        return Persist(pid)


def dump(pickler, value, protocol, **kw):
    f = io.BytesIO()
    pickler(f, protocol, **kw).dump(value)
    return f.getvalue()


# Hand-made pickles: name -> (bytes, py2 modes[, loadable]). Checked with pickle._loads (the
# Python implementation: the VM follows pickle.py where it differs from _pickle.c).
HAND = {
    "py2_str_plain": (b"S'hello'\np0\n.", ["ascii", "latin1", "bytes"]),
    "py2_str_escapes": (b"(S'a\\x41\\n\\'q\\\\'\nS\"dq\\101\\7\\12x\"\nS'\\z\\\\'\nS''\nl.",
                        ["ascii", "bytes"]),
    "py2_str_latin1": (b"(S'caf\\xe9'\nU\x04caf\xe9T\x02\x00\x00\x00\xe9\xffl.",
                       ["latin1", "bytes"]),
    "py2_inst": (b"(i__main__\nPoint\np0\n(dp1\nS'x'\np2\nI1\nsS'y'\np3\nI2\nsb.",
                 ["ascii"]),
    "py2_inst_args": (b"(I1\nI2\ni__main__\nPoint\n.", ["ascii"]),
    "py2_obj": (b"(c__main__\nPoint\nq\x00K\x01K\x02o}q\x01b.", ["ascii"]),
    "py2_builtin_global": (b"c__builtin__\nset\n(lp0\nI1\naI2\na\x85R.", ["ascii"]),
    "py2_exceptions_global": (b"(cexceptions\nValueError\ncexceptions\nStandardError\n"
                              b"ccopy_reg\n_reconstructor\nl.", ["ascii"]),
    "text_ints": (b"(I01\nI00\nI-0x1F\nI 12 \nI1_000\nI0o17\nI-0b101\nI0x_ff\nI0_0\n"
                  b"I99999999999999999999999\nI-9223372036854775808\nI-9223372036854775809\n"
                  b"L123456789012345678901234567890L\nL-5\nL0x10L\nl.", ["ascii"]),
    "text_floats": (b"(F1.5\nF-0.0\nFnan\nF-nan\nFinf\nF-Infinity\nF1_0.5e-1_0\nF 2.5 \n"
                    b"F1e500\nF-1e500\nF1e-500\nF.5\nF5.\nF2.4e-324\nF1E+2\nl.", ["ascii"]),
    "text_unicode": (b"(V\\u20ac\\U0001f600\xe9\\ud800\\\\u0041\\x\\\nVplain\nV\nl.",
                     ["ascii"]),
    "text_memo": (b"(lp 5 \nI1\nag 5\nag5\na.", ["ascii"]),
    "persid_text": (b"(Pkey one\nPk2\nl.", ["ascii"]),
    "dup": (b"\x80\x02]q\x002\x86q\x01.", ["ascii"]),
    "pop_level": (b"I5\n(I6\n00.", ["ascii"]),
    "pop_mark_op": (b"(I1\nI2\n1I3\n.", ["ascii"]),
    "binbytes8": (b"\x80\x04\x8e\x03\x00\x00\x00\x00\x00\x00\x00abc.", ["ascii"]),
    "binunicode8": (b"\x80\x04\x8d\x05\x00\x00\x00\x00\x00\x00\x00\xc3\xa9\xed\xa0\x80.",
                    ["ascii"]),
    "bytearray8": (b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00\x00\xff.", ["ascii"]),
    "memo_sparse": (b"\x80\x02K\x07r\xff\xff\xff\xff0j\xff\xff\xff\xffj\xff\xff\xff\xff\x86.",
                    ["ascii"]),
    "long_nonminimal": (b"\x80\x02(\x8a\x09\x01\x00\x00\x00\x00\x00\x00\x00\x00"
                        b"\x8a\x0a\x00\x00\x00\x00\x00\x00\x00\x00\x01\x00"
                        b"\x8b\x00\x00\x00\x00\x8a\x01\xffl.", ["ascii"]),
    "readonly_bytes": (b"\x80\x05C\x02ab\x98.", ["ascii"]),
    "global_unicode_name": (b"c\xc3\xa9mod\nna.me\n.", ["ascii"], False),  # not importable
    "frame_then_frame": (b"\x80\x04\x95\x02\x00\x00\x00\x00\x00\x00\x00K\x01\x95\x03\x00\x00"
                         b"\x00\x00\x00\x00\x00K\x02\x86.", ["ascii"]),
}


def write_case(out, cases, name, data, py2="ascii", buffers=None):
    m = Mirror(py2, buffers)
    root = m.run(data)
    case = {"name": name, "py2": py2, "protocol": m.protocol, "nodes": m.nodes,
            "opcodes": m.opcodes, "root": render(root),
            "globals": [[esc(g["module"].encode("utf-8", "surrogatepass")),
                         esc(g["name"].encode("utf-8", "surrogatepass")),
                         esc(g["raw_module"].encode("utf-8", "surrogatepass")),
                         esc(g["raw_name"].encode("utf-8", "surrogatepass")), g["first"],
                         ("c" if g["c"] else "-") + ("i" if g["i"] else "-") +
                         ("r" if g["r"] else "-")] for g in m.globals]}
    if buffers == "unresolved":
        case["buffers"] = "unresolved"
    elif buffers is not None:
        case["buffers"] = len(buffers)
        for i, b in enumerate(buffers):
            with open(os.path.join(out, "%s.buf%d" % (name, i)), "wb") as f:
                f.write(b)
    with open(os.path.join(out, name + ".pkl"), "wb") as f:
        f.write(data)
    # Plain data: the mirror's graph must evaluate to what CPython's unpickler returns.
    if buffers is None and all(n.kind in PLAIN for n in all_nodes(root)):
        enc = {"ascii": "ASCII", "latin1": "latin1", "bytes": "bytes"}[py2]
        expected = loose(Loader(io.BytesIO(data), encoding=enc).load())
        got = loose(evaluate(root))
        assert got == expected, (name, got[:300], expected[:300])
        case["checked_with_loads"] = True
    cases.append(case)
    return m.seen


def main(out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    cases, seen, digests = [], set(), set()

    def add(name, data, **kw):
        key = (data, kw.get("py2", "ascii"), repr(kw.get("buffers")))
        if key in digests:
            return
        digests.add(key)
        seen.update(write_case(out, cases, name, data, **kw))

    vals = values()
    try:
        vals.update(numpy_values())
    except ImportError:
        print("numpy missing: numpy cases skipped", file=sys.stderr)
    vals["persistent"] = [Persist("a"), Persist(7), 1]
    skipped = []
    for vname, value in vals.items():
        for proto in range(6):
            for pname, picklers in (("c", (pickle.Pickler, CPersist)),
                                    ("py", (pickle._Pickler, PyPersist))):
                pickler = picklers[1] if vname == "persistent" else picklers[0]
                try:
                    data = dump(pickler, value, proto)
                except (pickle.PicklingError, TypeError, ValueError) as e:
                    skipped.append("%s p%d %s: %s" % (vname, proto, pname, e))
                    continue
                if vname == "persistent":
                    Loader(io.BytesIO(data)).load()
                else:
                    pickle.loads(data)
                base = "%s_p%d_%s" % (vname, proto, pname)
                add(base, data)
                add(base + "_opt", pickletools.optimize(data))

    # protocol 5 buffers: out of band (given, and unresolved) and in band
    import numpy as np
    buffer_values = {
        "buffers": [pickle.PickleBuffer(bytearray(b"rw-data")), pickle.PickleBuffer(b"ro"),
                    pickle.PickleBuffer(bytearray())],
        "np_buffers": [np.arange(4, dtype="<i2"), np.arange(3.0)],
    }
    for vname, value in buffer_values.items():
        for pname, pickler in (("c", pickle.Pickler), ("py", pickle._Pickler)):
            bufs = []
            data = dump(pickler, value, 5, buffer_callback=bufs.append)
            raw = [bytes(b.raw()) for b in bufs]
            pickle.loads(data, buffers=raw)
            add("%s_oob_%s" % (vname, pname), data, buffers=raw)
            add("%s_unresolved_%s" % (vname, pname), data, buffers="unresolved")
            add("%s_inband_%s" % (vname, pname), dump(pickler, value, 5))

    for name, (data, modes, *loadable) in HAND.items():
        for mode in modes:
            enc = {"ascii": "ASCII", "latin1": "latin1", "bytes": "bytes"}[mode]
            if loadable != [False]:
                Loader(io.BytesIO(data), encoding=enc).load()  # valid for CPython's pickle.py
            add("hand_%s_%s" % (name, mode), data, py2=mode)

    all_ops = {op.name for op in pickletools.opcodes}
    missing = all_ops - seen
    assert not missing, "opcodes not covered: %s" % sorted(missing)
    assert len(all_ops) == 68

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({
            "cases": cases,
            "opcodes": [[op.code.encode("latin-1")[0], op.name] for op in pickletools.opcodes],
            "name_mapping": [list(k) + list(v) for k, v in _compat_pickle.NAME_MAPPING.items()],
            "import_mapping": [[k, v] for k, v in _compat_pickle.IMPORT_MAPPING.items()],
        }, f, indent=0)
    checked = sum(1 for c in cases if c.get("checked_with_loads"))
    print("%d cases (%d checked against pickle.loads), all 68 opcodes; %d value/protocol "
          "combinations the picklers refuse" % (len(cases), checked, len(skipped)))


def forest(path):
    try:
        from sklearn.datasets import make_classification
        from sklearn.ensemble import RandomForestClassifier
    except ImportError as e:
        print("SKIPPED: scikit-learn is not available (%s)" % e)
        sys.exit(77)
    # ~48 MB: 500 fully grown trees on noisy labels (flip_y) of 5,400 samples.
    X, y = make_classification(n_samples=5400, n_features=20, flip_y=0.3, random_state=0)
    model = RandomForestClassifier(n_estimators=500, random_state=0, n_jobs=1).fit(X, y)
    data = pickle.dumps(model)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    n = sum(1 for _ in pickletools.genops(data))
    print("wrote %s: %d bytes, %d opcodes" % (path, len(data), n))


if __name__ == "__main__":
    if sys.argv[1] == "--forest":
        forest(sys.argv[2])
    else:
        main(sys.argv[1])
