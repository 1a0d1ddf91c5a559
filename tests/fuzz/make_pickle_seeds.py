"""Writes the seeds of fuzz_pickle: pickles of varied values, every protocol, with the option
byte fuzz_pickle reads first (0: strict defaults; 0x12 for protocol-5 buffers: two given).
Uses Debian's Python (numpy optional):
    /usr/bin/python3 tests/fuzz/make_pickle_seeds.py build-fuzz/seeds/pickle
"""
import collections
import os
import pickle
import pickletools
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


class Obj:
    def __init__(self):
        self.a, self.b = 1, [2.5, "x"]


class Slots:
    __slots__ = ("s",)

    def __init__(self):
        self.s = {"k": None}


shared = {"s": 1}
cyc = []
cyc.append(cyc)
values = {
    "scalars": [None, True, False, 0, -1, 255, 65536, 2**31, -2**63, 2**70, -2**200, 1.5,
                float("nan"), -0.0, "é\ud800", b"\x00\xff", bytearray(b"ba")],
    "containers": {"l": [1, (2,), (3, 4, 5, 6)], "s": {1, 2}, "f": frozenset({3}),
                   (1, 2): shared, "again": shared},
    "cycle": cyc,
    "object": Obj(),
    "slots": Slots(),
    "ordered": collections.OrderedDict(a=1),
    "defaultdict": collections.defaultdict(list, {"x": [1]}),
    "globals": [len, collections.OrderedDict, range, Exception],
}
try:
    import numpy as np
    values["numpy"] = [np.arange(6.0).reshape(2, 3), np.zeros(2, dtype=[("a", "<i4")]),
                       np.array(["a", None], dtype=object), np.float32(1.5)]
except ImportError:
    pass

count = 0
for name, value in values.items():
    for proto in range(6):
        try:
            data = pickle.dumps(value, protocol=proto)
        except Exception:
            continue
        for variant, blob in (("", data), ("_opt", pickletools.optimize(data))):
            with open(os.path.join(out, "%s_p%d%s.bin" % (name, proto, variant)), "wb") as f:
                f.write(b"\x00" + blob)
            count += 1
bufs = []
data = pickle.dumps([pickle.PickleBuffer(b"ro"), pickle.PickleBuffer(bytearray(b"rw"))],
                    protocol=5, buffer_callback=bufs.append)
with open(os.path.join(out, "buffers_p5.bin"), "wb") as f:
    f.write(b"\x12" + data)
# Python 2 streams: STRING escapes, INST, text numbers
for i, blob in enumerate([b"(S'a\\x41\\n'\nS\"q\"\nI01\nF1e5\nL12L\nV\\u20ac\nl.",
                          b"(i__main__\nObj\n(dS'a'\nI1\nsb.",
                          b"\x80\x02c__builtin__\nset\n]\x85R."]):
    with open(os.path.join(out, "py2_%d.bin" % i), "wb") as f:
        f.write(b"\x02" + blob)
print("%d seeds in %s" % (count + 4, out))
