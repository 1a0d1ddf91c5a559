"""Writes real torch.save archives for zip_writer_test (which rewrites their entries with
ZipWriter and expects the same bytes): sizes around the 64-byte alignment, an empty storage,
more than ten storages (records in string order "0", "1", "10", …), archive names taken from
the file name. Usage: make_torch_zips.py OUT_DIR (Debian's python3 with python3-torch;
without torch: an empty list)."""
import os
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
try:
    import torch
except ImportError:  # zip_writer_test then warns that it compared nothing
    open(os.path.join(out, "list.txt"), "w").close()
    sys.exit(0)
cases = {
    "small.pt": {"w": torch.arange(6, dtype=torch.float32)},
    "sizes.pt": {str(n): torch.ones(n, dtype=torch.uint8) for n in (0, 1, 3, 63, 64, 65, 200)},
    "many.pt": [torch.full((i + 1,), i, dtype=torch.int64) for i in range(12)],
    "long_name_of_an_archive.pt": {"x": torch.zeros(2, 2, dtype=torch.float16)},
}
for name, obj in cases.items():
    torch.save(obj, os.path.join(out, name))
with open(os.path.join(out, "list.txt"), "w") as f:
    f.write("\n".join(cases) + "\n")
