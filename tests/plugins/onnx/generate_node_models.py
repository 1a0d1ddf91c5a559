#!/usr/bin/env python3
"""Writes the models of ONNX's backend test cases into OUTDIR (run with the project venv).

Usage: generate_node_models.py OUTDIR

  OUTDIR/node/<case>/model.onnx     every case of onnx.backend.test.case.node.collect_testcases()
  OUTDIR/<kind>/<case>/model.onnx   every case of onnx.backend.test.case.model.collect_testcases()
                                    that has a model (kind "simple"; kind "real" has none)

This is what `python -m onnx.backend.test.cmd_tools generate-data` wrote before ONNX 1.23 (which
writes the model cases only), without the input/output tensors. Collecting the cases runs every
operator's reference computation, which takes a while; a stamp file naming the onnx version and
this script's digest lets a second run return at once. Files whose bytes are unchanged are not
rewritten (their timestamps stay); case folders no longer generated are removed.
"""
import hashlib
import json
import os
import sys
import warnings


def write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: generate_node_models.py OUTDIR")
    out = os.path.abspath(sys.argv[1])
    import onnx  # noqa: E402 (after the usage check: importing onnx takes a second)

    with open(__file__, "rb") as f:
        script_digest = hashlib.sha256(f.read()).hexdigest()
    stamp_path = os.path.join(out, "generated.json")
    key = {"onnx": onnx.__version__, "script": script_digest}
    try:
        with open(stamp_path, encoding="utf-8") as f:
            stamp = json.load(f)
        if stamp.get("key") == key and all(
                os.path.isfile(os.path.join(out, p)) for p in stamp["files"]):
            print(f"up to date: {stamp['counts']} in {out}")
            return
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        pass

    # The reference computations overflow, divide by zero… on purpose; their warnings are noise.
    import numpy as np
    warnings.simplefilter("ignore")
    np.seterr(all="ignore")
    from onnx.backend.test.case import model as model_cases
    from onnx.backend.test.case import node as node_cases

    cases = [("node", c) for c in node_cases.collect_testcases()]
    cases += [(c.kind, c) for c in model_cases.collect_testcases() if c.model is not None]
    counts, files, written = {}, [], 0
    for kind, case in cases:
        rel = os.path.join(kind, case.name, "model.onnx")
        if rel in files:
            sys.exit(f"two test cases named {kind}/{case.name}")
        files.append(rel)
        written += write_if_changed(os.path.join(out, rel), case.model.SerializeToString())
        counts[kind] = counts.get(kind, 0) + 1
    # cases an earlier onnx version had and this one lacks would linger in the corpus
    removed = 0
    for kind in counts:
        for name in os.listdir(os.path.join(out, kind)):
            stale = os.path.join(kind, name, "model.onnx")
            if stale not in files and os.path.isfile(os.path.join(out, stale)):
                os.remove(os.path.join(out, stale))
                if not os.listdir(os.path.join(out, kind, name)):
                    os.rmdir(os.path.join(out, kind, name))
                removed += 1
    with open(stamp_path, "w", encoding="utf-8") as f:
        json.dump({"key": key, "counts": counts, "files": files}, f, indent=1)
        f.write("\n")
    print(f"{counts} in {out} ({written} written, {len(files) - written} unchanged, "
          f"{removed} stale removed)")


if __name__ == "__main__":
    main()
