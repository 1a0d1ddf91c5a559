#!/usr/bin/env python3
"""Writes the inputs of decompress_test and zip_reader_test into OUTDIR, made by the real
Python codecs (zlib, gzip, bz2, lzma, lz4), joblib, pickle and zipfile, plus manifest.json:
what each file is, what it must decompress to, and how each zip archive is laid out as
CPython's zipfile sees it (the test's oracle).

    make_archives.py OUTDIR [--venv-python PATH] [--quick]

lz4 comes from the `lz4` package (imported here, or in the venv interpreter given), else from
the `lz4` command-line tool; with neither, the lz4 cases are skipped and the manifest says why.
Also writes OUTDIR/seeds/{zip,decompress}/ for the fuzz targets; --quick (for scripts/fuzz.sh)
leaves out the 1 GiB bombs and the 65,537-entry archive.
"""
import bz2
import collections
import gzip
import io
import json
import lzma
import os
import pickle
import random
import shutil
import struct
import subprocess
import sys
import threading
import warnings
import zipfile
import zlib

OUT = sys.argv[1]
VENV = sys.argv[sys.argv.index("--venv-python") + 1] if "--venv-python" in sys.argv else None
QUICK = "--quick" in sys.argv
os.makedirs(OUT, exist_ok=True)
manifest = {"codecs": [], "multi": [], "pickles": [], "bombs": [], "archives": {}, "lz4": None}


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)
    return name


# ------------------------------------------------------------------------------------ lz4

LZ4_HELPER = """
import sys, lz4.frame
data = sys.stdin.buffer.read()
sys.stdout.buffer.write(lz4.frame.compress(data, content_checksum=True))
"""


def find_lz4():
    """A function bytes -> lz4 frame bytes, and where it comes from; or (None, why)."""
    try:
        import lz4
        import lz4.frame as f

        return ((lambda d: f.compress(d, content_checksum=True)),
                "lz4 package %s (%s)" % (lz4.__version__, sys.executable))
    except ImportError:
        pass
    if VENV and os.path.exists(VENV):
        probe = subprocess.run([VENV, "-c", "import lz4.frame; print(lz4.__version__)"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            def via_venv(d):
                return subprocess.run([VENV, "-c", LZ4_HELPER], input=d, capture_output=True,
                                      check=True).stdout
            return via_venv, "lz4 package %s (%s)" % (probe.stdout.strip(), VENV)
    tool = shutil.which("lz4")
    if tool:
        def via_tool(d):
            return subprocess.run([tool, "-q", "-c", "-9"], input=d, capture_output=True,
                                  check=True).stdout
        return via_tool, "lz4 command-line tool (%s)" % tool
    return None, "no lz4 package in %s or %s, and no lz4 tool" % (sys.executable, VENV)


lz4_compress, lz4_source = find_lz4()
manifest["lz4"] = lz4_source if lz4_compress else None
if not lz4_compress:
    print("make_archives.py: skipping lz4 cases: " + lz4_source, file=sys.stderr)

# ------------------------------------------------------------------------------ codecs

rng = random.Random(20261122)
# compressible text, incompressible bytes and runs: several output growths, every codec path
payload = (b"".join(b"line %06d: the quick brown fox jumps over the lazy dog\n" % i
                    for i in range(3000)) +
           bytes(rng.getrandbits(8) for _ in range(60000)) + bytes(40000) + b"\xff" * 999)
put("payload.bin", payload)
part2 = b"second member " * 500
put("part2.bin", part2)
put("empty.bin", b"")


def codec(name, container, data, expected, what):
    manifest["codecs"].append({"file": put(name, data), "container": container,
                               "expected": expected, "what": what})


codec("payload.zlib", "zlib", zlib.compress(payload, 6), "payload.bin", "zlib.compress")
codec("payload.gz", "gzip", gzip.compress(payload, 9, mtime=0), "payload.bin", "gzip.compress")
codec("payload.bz2", "bz2", bz2.compress(payload, 9), "payload.bin", "bz2.compress")
codec("payload.xz", "xz", lzma.compress(payload), "payload.bin", "lzma FORMAT_XZ, CRC64")
codec("payload.lzma", "lzma", lzma.compress(payload, format=lzma.FORMAT_ALONE), "payload.bin",
      "lzma FORMAT_ALONE")
for check, tag in [(lzma.CHECK_NONE, "none"), (lzma.CHECK_CRC32, "crc32"),
                   (lzma.CHECK_SHA256, "sha256")]:
    codec("payload_%s.xz" % tag, "xz", lzma.compress(payload, check=check), "payload.bin",
          "lzma FORMAT_XZ, check " + tag)
codec("payload_level1.zlib", "zlib", zlib.compress(payload, 1), "payload.bin", "zlib level 1")
for name, container, c in [("empty.zlib", "zlib", zlib.compress(b"")),
                           ("empty.gz", "gzip", gzip.compress(b"", mtime=0)),
                           ("empty.bz2", "bz2", bz2.compress(b"")),
                           ("empty.xz", "xz", lzma.compress(b"")),
                           ("empty.lzma", "lzma", lzma.compress(b"", format=lzma.FORMAT_ALONE))]:
    codec(name, container, c, "empty.bin", "empty input")
if lz4_compress:
    codec("payload.lz4", "lz4", lz4_compress(payload), "payload.bin", lz4_source)
    codec("empty.lz4", "lz4", lz4_compress(b""), "empty.bin", lz4_source)
    try:  # frame options joblib's users may set: small independent blocks, checksums, HC
        import lz4.frame as lzf

        codec("payload_blocks.lz4", "lz4",
              lzf.compress(payload, block_size=lzf.BLOCKSIZE_MAX64KB, block_linked=False,
                           block_checksum=True, store_size=False), "payload.bin",
              "lz4 64 KiB independent blocks, block checksums, no content size")
        codec("payload_hc.lz4", "lz4", lzf.compress(payload, compression_level=16),
              "payload.bin", "lz4 HC level 16")
    except ImportError:
        pass
    if VENV and "(%s)" % VENV not in lz4_source:  # the venv's lz4 too, when it has one
        helper = subprocess.run([VENV, "-c", LZ4_HELPER], input=payload, capture_output=True)
        if helper.returncode == 0:
            codec("payload_venv.lz4", "lz4", helper.stdout, "payload.bin", "lz4 of " + VENV)

# old joblib (< 0.10) "ZF" files, written by joblib's own compatibility writer
try:
    from joblib import numpy_pickle_compat

    zf = io.BytesIO()
    numpy_pickle_compat.write_zfile(zf, payload)
    codec("payload.zf", "zlib", zf.getvalue(), "payload.bin", "joblib write_zfile (ZF format)")
except ImportError:
    print("make_archives.py: joblib missing, no ZF case", file=sys.stderr)

# multi-member streams: concatenated members decompress to the concatenated payloads
put("multi.bin", payload + part2)
multi = [("multi.gz", "gzip", gzip.compress(payload, mtime=0) + gzip.compress(part2, mtime=0)),
         ("multi.bz2", "bz2", bz2.compress(payload) + bz2.compress(part2)),
         # xz stream padding (4 zero bytes) between and after streams
         ("multi.xz", "xz", lzma.compress(payload) + bytes(4) + lzma.compress(part2) + bytes(8))]
if lz4_compress:
    multi.append(("multi.lz4", "lz4", lz4_compress(payload) + lz4_compress(part2)))
for name, container, data in multi:
    manifest["multi"].append({"file": put(name, data), "container": container,
                              "expected": "multi.bin"})

# ----------------------------------------------------------------------------- joblib

try:
    import joblib
    import numpy as np

    model = {"w": np.arange(5000, dtype=np.float64) * 0.5, "name": "joblib model",
             "ids": np.arange(1000, dtype=np.int32)}
    joblib.dump(model, os.path.join(OUT, "joblib_raw.pkl"))
    readers = {"zlib": zlib.decompress, "gzip": gzip.decompress, "bz2": bz2.decompress,
               "xz": lzma.decompress, "lzma": lzma.decompress}
    try:
        import lz4.frame

        readers["lz4"] = lz4.frame.decompress  # joblib's lz4 needs the package here
    except ImportError:
        pass
    for method, decode in readers.items():
        path = os.path.join(OUT, "joblib_%s.pkl" % method)
        joblib.dump(model, path, compress=(method, 3))
        raw = open(path, "rb").read()
        codec("joblib_%s.pkl" % method, method, raw,
              put("joblib_%s.pkl.expected" % method, decode(raw)), "joblib.dump compress=" + method)
    if lz4_compress and "lz4" not in readers:  # what joblib would write: an lz4 frame
        raw = open(os.path.join(OUT, "joblib_raw.pkl"), "rb").read()
        codec("joblib_lz4.pkl", "lz4", lz4_compress(raw), "joblib_raw.pkl",
              "lz4 frame of a joblib pickle")
    manifest["pickles"].append("joblib_raw.pkl")
except ImportError as e:
    print("make_archives.py: joblib/numpy missing (%s), no joblib cases" % e, file=sys.stderr)

# ---------------------------------------------------------------------------- pickles

objects = [None, True, 5, -70000, 2**40, 1.5, "text", b"bytes", (), (1, 2), [], [1, "a"], {},
           {"k": [1.0]}, collections.OrderedDict(a=1), {1, 2}, frozenset([3])]
for proto in range(0, 6):
    for i, obj in enumerate(objects):
        name = "proto%d_%02d.pkl" % (proto, i)
        put(name, pickle.dumps(obj, protocol=proto))
        manifest["pickles"].append(name)

# ------------------------------------------------------------------------------ bombs
# 1 GiB of zeros, compressed in 1 MiB pieces (nothing here holds the gibibyte).


def bomb(name, container, compressor, finish):
    chunk = bytes(1 << 20)
    parts = [compressor(chunk) for _ in range(1024)]
    parts.append(finish())
    manifest["bombs"].append({"file": put(name, b"".join(parts)), "container": container,
                              "size": 1 << 30})


if not QUICK:
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb("bomb.gz", "gzip", z.compress, z.flush)
    z = zlib.compressobj(9)
    bomb("bomb.zlib", "zlib", z.compress, z.flush)
    b = bz2.BZ2Compressor(9)
    bomb("bomb.bz2", "bz2", b.compress, b.flush)
    x = lzma.LZMACompressor(preset=0)
    bomb("bomb.xz", "xz", x.compress, x.flush)
if lz4_compress and not QUICK:
    # the tool or package compresses the whole gibibyte: through a pipe, 1 MiB at a time
    if "tool" in lz4_source:
        p = subprocess.Popen([shutil.which("lz4"), "-q", "-c", "-9"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        out = []
        t = threading.Thread(target=lambda: out.append(p.stdout.read()))
        t.start()
        for _ in range(1024):
            p.stdin.write(bytes(1 << 20))
        p.stdin.close()
        t.join()
        p.wait()
        data = out[0]
    else:
        data = subprocess.run([VENV or sys.executable, "-c", """
import sys, lz4.frame
c = lz4.frame.LZ4FrameCompressor()
w = sys.stdout.buffer
w.write(c.begin())
chunk = bytes(1 << 20)
for _ in range(1024):
    w.write(c.compress(chunk))
w.write(c.flush())
"""], capture_output=True, check=True).stdout
    manifest["bombs"].append({"file": put("bomb.lz4", data), "container": "lz4", "size": 1 << 30})

# ------------------------------------------------------------------------------- zip


def describe(name, base):
    """The archive as CPython's zipfile reads it: entries with absolute offsets."""
    path = os.path.join(OUT, name)
    raw = open(path, "rb").read()
    entries = []
    with zipfile.ZipFile(path) as zf:
        pos = zf.start_dir
        for i, info in enumerate(zf.infolist()):
            assert raw[pos:pos + 4] == b"PK\x01\x02"
            n, m, k = struct.unpack("<HHH", raw[pos + 28:pos + 34])
            h = info.header_offset  # zipfile adds the prefix ("concat") already
            ln, lm = struct.unpack("<HH", raw[h + 26:h + 30])
            entry = {"name": info.filename, "method": info.compress_type,
                     "csize": info.compress_size, "size": info.file_size, "crc": info.CRC,
                     "header_offset": h, "data_offset": h + 30 + ln + lm, "central_offset": pos}
            if len(zf.infolist()) <= 64:
                content = "%s.d/%d" % (name, i)
                os.makedirs(os.path.join(OUT, name + ".d"), exist_ok=True)
                put(content, zf.read(info))
                entry["content"] = content
            entries.append(entry)
            pos += 46 + n + m + k
        cd_end = pos
        comment = len(zf.comment)
    manifest["archives"][name] = {"base": base, "size": len(raw), "cd_start": zf.start_dir,
                                  "cd_end": cd_end, "count": len(entries),
                                  "eocd": len(raw) - 22 - comment,
                                  "entries": entries if len(entries) <= 64 else []}


def basic_zip(prefix=b""):
    f = io.BytesIO()
    f.write(prefix)
    with zipfile.ZipFile(f, "w") as zf:  # offsets relative to where the archive starts
        zf.writestr("readme.txt", b"stored text\n" * 10, zipfile.ZIP_STORED)
        zf.writestr("data/payload.bin", payload, zipfile.ZIP_DEFLATED, 9)
        zf.writestr("data/random.bin", bytes(rng.getrandbits(8) for _ in range(3000)),
                    zipfile.ZIP_STORED)
        zf.writestr("empty", b"", zipfile.ZIP_STORED)
        zf.writestr("dir/", b"")
        zf.writestr("donn\u00e9es/\u00e9t\u00e9.txt", "\u00e9t\u00e9".encode(),
                    zipfile.ZIP_DEFLATED)
        zf.writestr("zeros.bin", bytes(100000), zipfile.ZIP_DEFLATED)
    return f.getvalue()


put("basic.zip", basic_zip())
describe("basic.zip", 0)
prefix = b"#!/bin/sh\necho self-extracting prefix\nexit 0\n" * 3
# an archive appended to other bytes: its offsets are relative to its own start
put("prefixed.zip", prefix + basic_zip())
describe("prefixed.zip", len(prefix))
# zipfile writing after a prefix records absolute offsets (as `zip -A` fixes them)
put("prefixed_absolute.zip", basic_zip(prefix))
describe("prefixed_absolute.zip", 0)

with zipfile.ZipFile(os.path.join(OUT, "empty.zip"), "w"):
    pass
describe("empty.zip", 0)
put("empty_prefixed.zip", prefix + open(os.path.join(OUT, "empty.zip"), "rb").read())
describe("empty_prefixed.zip", len(prefix))

with zipfile.ZipFile(os.path.join(OUT, "comment.zip"), "w") as zf:
    zf.writestr("a.txt", b"a")
    zf.comment = b"an archive comment"
describe("comment.zip", 0)

# zip64 extra fields in the local headers (force_zip64), stored and deflated
with zipfile.ZipFile(os.path.join(OUT, "zip64_forced.zip"), "w") as zf:
    with zf.open("big.bin", "w", force_zip64=True) as w:
        w.write(payload)
    zi = zipfile.ZipInfo("deflated.bin")
    zi.compress_type = zipfile.ZIP_DEFLATED
    with zf.open(zi, "w", force_zip64=True) as w:
        w.write(payload)
describe("zip64_forced.zip", 0)


class Unseekable(io.RawIOBase):
    """Only write(): zipfile then writes data descriptors (flag bit 3)."""

    def __init__(self):
        self.buf = bytearray()

    def writable(self):
        return True

    def write(self, b):
        self.buf += b
        return len(b)


u = Unseekable()
with zipfile.ZipFile(u, "w") as zf:
    zf.writestr("streamed.txt", b"streamed " * 100, zipfile.ZIP_DEFLATED)
    with zf.open("opened.bin", "w") as w:
        w.write(payload[:5000])
put("descriptor.zip", bytes(u.buf))
describe("descriptor.zip", 0)

# 65,537 entries: the end record's count saturates, zipfile writes the zip64 end records
if not QUICK:
    with zipfile.ZipFile(os.path.join(OUT, "many.zip"), "w") as zf:
        for i in range(65537):
            zf.writestr("e/%05d" % i, str(i).encode())
    describe("many.zip", 0)

# 32 MiB of zeros deflated: ratio ~1030, above the default cap of 1000
with zipfile.ZipFile(os.path.join(OUT, "ratio.zip"), "w") as zf:
    zf.writestr("zeros", bytes(32 << 20), zipfile.ZIP_DEFLATED, 9)
describe("ratio.zip", 0)

# refused by name or method (zipfile writes them as asked)
warnings.simplefilter("ignore")
for name, entries, method in [
        ("dup.zip", ["a.txt", "b.txt", "a.txt"], zipfile.ZIP_STORED),
        ("absolute.zip", ["ok.txt", "/etc/passwd"], zipfile.ZIP_STORED),
        ("dotdot.zip", ["a/../../evil.txt"], zipfile.ZIP_STORED),
        ("backslash.zip", ["dir\\file.txt"], zipfile.ZIP_STORED),
        ("bzip2.zip", ["c.txt"], zipfile.ZIP_BZIP2),
        ("lzma.zip", ["c.txt"], zipfile.ZIP_LZMA)]:
    with zipfile.ZipFile(os.path.join(OUT, name), "w") as zf:
        for n in entries:
            zf.writestr(zipfile.ZipInfo(n), b"content of " + n.encode(), method)
    describe(name, 0)


def torch_like(records, prefix=b"", absolute=False, zip64_fields=False):
    """The layout PyTorch's writer (caffe2 PyTorchStreamWriter over miniz, MZ_ZIP_FLAG_WRITE_ZIP64)
    produces: stored entries under "archive/", each local header padded by an extra field "FB"
    so that the data starts at a multiple of 64, then the central directory, a zip64 end record,
    its locator and an end record holding the real (unsaturated) values. With zip64_fields,
    every entry is written as miniz writes entries beyond 4 GiB: sizes (and in the central
    directory the offset) 0xFFFFFFFF, the values in zip64 extra fields."""
    out = bytearray(prefix)
    start = 0 if absolute else len(prefix)
    central = bytearray()
    for name, data in records:
        full = ("archive/" + name).encode()
        offset = len(out) - start
        size = 0xFFFFFFFF if zip64_fields else len(data)
        local64 = struct.pack("<HHQQ", 1, 16, len(data), len(data)) if zip64_fields else b""
        central64 = (struct.pack("<HHQQQ", 1, 24, len(data), len(data), offset)
                     if zip64_fields else b"")
        at = offset + 30 + len(full) + len(local64) + 4
        pad = (64 - at % 64) % 64
        extra = local64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(data)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0, 0, 0, 0x21, crc, size, size,
                           len(full), len(extra)) + full + extra + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 0, 0, 0, 0, 0x21, crc,
                               size, size, len(full), len(central64), 0, 0, 0, 0o100644 << 16,
                               0xFFFFFFFF if zip64_fields else offset) + full + central64
    cd_offset = len(out) - start
    out += central
    zip64_offset = len(out) - start
    n = len(records)
    out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 45, 0, 0, n, n, len(central),
                       cd_offset)
    out += struct.pack("<IIQI", 0x07064B50, 0, zip64_offset, 1)
    out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
    return bytes(out)


class Storage:
    """Stands for a torch storage: pickled as a persistent id, as torch.save does."""

    def __init__(self, key, numel):
        self.key, self.numel = key, numel


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", "FloatStorage", obj.key, "cpu", obj.numel)
        return None


state = collections.OrderedDict(weight=Storage("0", 6), bias=Storage("1", 3))
pkl = io.BytesIO()
TorchPickler(pkl, protocol=2).dump(state)
torch_records = [("data.pkl", pkl.getvalue()), (".format_version", b"1"),
                 (".storage_alignment", b"64"), ("byteorder", b"little"),
                 ("data/0", struct.pack("<6f", *[0.5 * i for i in range(6)])),
                 ("data/1", struct.pack("<3f", -1.0, 0.0, 1.0)),
                 ("data/2", bytes(range(256)) * 40), ("version", b"3\n"),
                 (".data/serialization_id", b"1234567890123456789012345678901234567890")]
put("torch_layout.pt", torch_like(torch_records))
describe("torch_layout.pt", 0)
put("torch_prefixed.pt", torch_like(torch_records, prefix))
describe("torch_prefixed.pt", len(prefix))
put("torch_absolute.pt", torch_like(torch_records, prefix, absolute=True))
describe("torch_absolute.pt", 0)
put("torch_zip64.pt", torch_like(torch_records, prefix, zip64_fields=True))
describe("torch_zip64.pt", len(prefix))

# ------------------------------------------------------------------------------ seeds

for target in ("zip", "decompress"):
    os.makedirs(os.path.join(OUT, "seeds", target), exist_ok=True)
for name in ["prefixed.zip", "empty.zip", "comment.zip", "descriptor.zip", "dup.zip",
             "bzip2.zip", "torch_layout.pt", "torch_prefixed.pt", "torch_zip64.pt"]:
    shutil.copy(os.path.join(OUT, name), os.path.join(OUT, "seeds", "zip", name))
# fuzz_decompress: first byte picks the codec (its Container value), small payloads
small = payload[:3000]
seeds = {3: zlib.compress(small), 4: gzip.compress(small, mtime=0) + gzip.compress(b"x"),
         5: bz2.compress(small), 6: lzma.compress(small) + bytes(4),
         7: lzma.compress(small, format=lzma.FORMAT_ALONE)}
if lz4_compress:
    seeds[8] = lz4_compress(small)
for tag, data in seeds.items():
    with open(os.path.join(OUT, "seeds", "decompress", "codec%d" % tag), "wb") as f:
        f.write(bytes([tag]) + data)

with open(os.path.join(OUT, "manifest.json"), "w") as f:
    json.dump(manifest, f, indent=1, sort_keys=True)
