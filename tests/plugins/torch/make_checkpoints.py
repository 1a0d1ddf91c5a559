#!/usr/bin/python3
"""Writes the torch reader's fixtures with Debian's torch (python3-torch) into OUT_DIR, and
OUT_DIR/manifest.json describing every tensor exactly.

Usage: /usr/bin/python3 make_checkpoints.py OUT_DIR

manifest.json: {"files": {NAME: {"kind": "pt" | "pt-legacy" | "torchscript", "archive": str,
  "tensors": [TENSOR...], "values": [[PATH, VALUE]...]}}}
  TENSOR: path (keys from the root: str for dict keys, int for list items), dtype (milo name),
  shape, stride, storage_offset, requires_grad, is_parameter, storage (index of its storage in
  the file: equal indexes = one shared storage), storage_sha256 (all of the storage's bytes),
  elements_sha256 (the tensor's own elements in C order).
  VALUE: {"int": n} | {"float": float.hex()} | {"str": s} | {"bool": b}
"""
import collections
import hashlib
import json
import os
import sys

import torch

DTYPES = {
    torch.float32: "float32", torch.float64: "float64", torch.float16: "float16",
    torch.bfloat16: "bfloat16", torch.complex64: "complex64", torch.complex128: "complex128",
    torch.bool: "bool", torch.uint8: "uint8", torch.int8: "int8", torch.int16: "int16",
    torch.int32: "int32", torch.int64: "int64",
}


def raw(t):
    """Bytes of a contiguous tensor (any dtype) in C order."""
    t = t.detach().contiguous().reshape(-1)
    return t.view(torch.uint8).numpy().tobytes() if t.numel() else b""


def walk(value, path, out, storages):
    if isinstance(value, torch.Tensor):
        st = value.storage()
        sid = storages.setdefault((st.data_ptr(), st.nbytes()), len(storages))
        whole = torch.empty(0, dtype=value.dtype).set_(st)
        out.append({
            "path": path, "dtype": DTYPES[value.dtype], "shape": list(value.shape),
            "stride": list(value.stride()), "storage_offset": value.storage_offset(),
            "requires_grad": value.requires_grad,
            "is_parameter": isinstance(value, torch.nn.Parameter), "storage": sid,
            "storage_sha256": hashlib.sha256(raw(whole)).hexdigest(),
            "elements_sha256": hashlib.sha256(raw(value)).hexdigest(),
        })
    elif isinstance(value, dict):
        for k, v in value.items():
            walk(v, path + [k], out, storages)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            walk(v, path + [i], out, storages)


def plain(value, path, out):
    """Scalars of a checkpoint dict (not inside tensors)."""
    if isinstance(value, bool):
        out.append([path, {"bool": value}])
    elif isinstance(value, int):
        out.append([path, {"int": value}])
    elif isinstance(value, float):
        out.append([path, {"float": value.hex()}])
    elif isinstance(value, str):
        out.append([path, {"str": value}])
    elif isinstance(value, dict):
        for k, v in value.items():
            plain(v, path + [k], out)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            plain(v, path + [i], out)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.bn = torch.nn.BatchNorm2d(4)
        self.fc = torch.nn.Linear(16, 5)


def models():
    torch.manual_seed(7)
    cnn = Cnn()
    rnn = torch.nn.ModuleDict({"lstm": torch.nn.LSTM(4, 6, num_layers=2),
                               "gru": torch.nn.GRU(3, 5, bidirectional=True)})
    enc = torch.nn.TransformerEncoderLayer(d_model=8, nhead=2, dim_feedforward=16)
    return cnn, rnn, enc


def checkpoint(cnn):
    opt = torch.optim.Adam(cnn.fc.parameters(), lr=1e-3)
    loss = cnn.fc(torch.randn(2, 16)).pow(2).sum()
    loss.backward()
    opt.step()
    return {"epoch": 3, "step": 1200, "loss": float(loss), "model": cnn.state_dict(),
            "optimizer": opt.state_dict(), "notes": "ünïcode notes",
            "history": [0.5, 0.25, 3, "x"]}


def every_dtype():
    out = {}
    for dt, name in DTYPES.items():
        base = torch.arange(-3, 9).reshape(3, 4)
        out[name] = base.to(dt) if dt != torch.bool else base > 2
    out["complex64"] = torch.complex(torch.randn(5), torch.randn(5))
    out["complex128"] = out["complex64"].to(torch.complex128) * 1.5
    out["float16_odd"] = torch.tensor([65504.0, -0.0, float("inf"), float("nan")],
                                      dtype=torch.float16)
    out["bfloat16_odd"] = torch.tensor([1e38, -0.0, float("-inf"), 1e-40], dtype=torch.bfloat16)
    out["scalar"] = torch.tensor(2.5)
    out["empty"] = torch.zeros(0, 3)
    return out


def views():
    base = torch.arange(24, dtype=torch.float32)
    m = base.reshape(4, 6)
    other = torch.arange(10, dtype=torch.int64)
    return {"base": base, "matrix": m, "slice": base[5:11], "strided": base[1::3],
            "transposed": m.t(), "block": m[1:3, 2:5], "alone_view": other[2:7],
            "list": [m[0], m[3]]}


def params():
    return {"w": torch.nn.Parameter(torch.randn(3, 2)),
            "frozen": torch.nn.Parameter(torch.randn(4), requires_grad=False),
            "leaf": torch.randn(2, 2).requires_grad_(True),
            "shared_param": torch.nn.Parameter(torch.arange(6.0).reshape(2, 3)[:, 1:])}


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    cnn, rnn, enc = models()
    plan = {
        "cnn_state.pt": cnn.state_dict(),
        "rnn_state.pt": rnn.state_dict(),
        "transformer_state.pt": enc.state_dict(),
        "checkpoint.pt": checkpoint(cnn),
        "dtypes.pt": every_dtype(),
        "views.pt": views(),
        "params.pt": params(),
    }
    legacy = {"legacy_dtypes.pt": every_dtype(), "legacy_views.pt": views(),
              "legacy_checkpoint.pt": checkpoint(models()[0])}
    files = {}
    for name, obj in list(plan.items()) + list(legacy.items()):
        path = os.path.join(out_dir, name)
        torch.save(obj, path, _use_new_zipfile_serialization=name not in legacy)
        tensors, values = [], []
        walk(obj, [], tensors, {})
        plain(obj, [], values)
        files[name] = {"kind": "pt-legacy" if name in legacy else "pt",
                       "archive": name[:-3], "tensors": tensors, "values": values}
    # The archive folder comes from the file name: "model" for model.pt.
    os.makedirs(os.path.join(out_dir, "sub"), exist_ok=True)
    torch.save(views(), os.path.join(out_dir, "sub", "model.pt"))
    t, v = [], []
    walk(views(), [], t, {})
    files["sub/model.pt"] = {"kind": "pt", "archive": "model", "tensors": t, "values": v}
    scripted = torch.jit.script(cnn.fc)
    scripted.save(os.path.join(out_dir, "scripted.pt"))
    traced = torch.jit.trace(torch.nn.Sequential(torch.nn.Linear(4, 2), torch.nn.ReLU()),
                             torch.randn(1, 4))
    traced.save(os.path.join(out_dir, "traced.pt"))
    for name in ("scripted.pt", "traced.pt"):
        files[name] = {"kind": "torchscript", "archive": None, "tensors": [], "values": []}
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump({"torch": torch.__version__, "files": files}, f, indent=1)
    print("make_checkpoints: %d files in %s" % (len(files), out_dir))


if __name__ == "__main__":
    main()
