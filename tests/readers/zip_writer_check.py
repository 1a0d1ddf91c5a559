"""Python's zipfile reads what zip_writer_test wrote (manifest.json: file -> [[name, hex], ...]):
names in order, contents, CRCs (testzip), and each entry's data at a multiple of 64 bytes.
Usage: zip_writer_check.py DIR"""
import json
import os
import struct
import sys
import zipfile

root = sys.argv[1]
manifest = json.load(open(os.path.join(root, "manifest.json")))
assert len(manifest) == 4, manifest.keys()
for file, want in manifest.items():
    path = os.path.join(root, file)
    raw = open(path, "rb").read()
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None, file
        assert z.namelist() == [name for name, _ in want], (file, z.namelist())
        for info, (_, data) in zip(z.infolist(), want):
            assert z.read(info) == bytes.fromhex(data), (file, info.filename)
            at = info.header_offset
            name_len, extra_len = struct.unpack("<HH", raw[at + 26:at + 30])
            assert (at + 30 + name_len + extra_len) % 64 == 0, (file, info.filename)
print("zipfile read %d archives" % len(manifest))
