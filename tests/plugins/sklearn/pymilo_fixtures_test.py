#!/usr/bin/env python3
"""PyMilo JSON fixtures through the C++ reader (plugins/sklearn, transporter "pymilo").

Run by an interpreter where `import pymilo` works (CTest: .venv-debian, Debian's scikit-learn
1.2.1 plus pymilo; without pymilo the test fails). For every fixture in FIXTURES/generated
(written by PyMilo 1.4 with scikit-learn 1.2.1) and the valid file of FIXTURES/from_repo:
`milo convert` (C++, no Python) turns the PyMilo JSON into a Milo document in JSON, YAML and
protobuf; milo.load (the restricted unpickler of adapters/python) turns each into an object,
which must equal the object PyMilo's own Import makes from the same file on this stack:
  * same class, get_params equal, every fitted attribute equal (arrays bit-identical, nested
    estimators recursively: sweep_estimators.compare), every prediction method bit-identical;
  * predict / predict_proba ... equal to expected_outputs.json bit for bit; where they differ,
    only if PyMilo's own import here gives the same bits as milo (the recording machine's BLAS
    summed in another order: printed as a note);
and the document's trust report must list nothing untrusted or dangerous.
Files that must fail: the corrupted JSON (exit 3, line 182), the unknown model (exit 5,
"Unknown-Model") and crafted variants of the valid file.

usage: pymilo_fixtures_test.py MILO_CLI FIXTURES_DIR WORK_DIR
Exit: 0 all passed, 1 failures (pymilo or scikit-learn missing included).
"""

import json
import os
import subprocess
import sys
import warnings

# One thread per library, set before numpy loads: threaded BLAS reductions may change last bits.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    import numpy as np
    import sklearn  # noqa: F401
    from pymilo import Import
except ImportError as e:
    print(f"FAIL: {sys.executable} cannot import numpy, scikit-learn and pymilo ({e}); "
          "run scripts/python_env.sh (it makes .venv-debian)")
    sys.exit(1)

import milo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sweep_estimators import compare  # noqa: E402  bit-exact object graph + outputs comparison

NOTES = []


def run(cli, *args):
    return subprocess.run([cli, *args], capture_output=True, text=True)


def array_of(rec):
    return np.array(rec["data"], dtype=rec["dtype"]).reshape(rec["shape"])


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def quiet(f, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return f(*args)


def check_trust(doc_json):
    header = json.load(open(doc_json))["milo"]
    bad = [t for t in header.get("trust", []) if t["level"] != "trusted"]
    return [f"trust: {t['name']} ({t['usage']}) is {t['level']}" for t in bad]


def probe_rows(model):
    """Input rows for a file without recorded outputs: 3 fixed rows of the model's width."""
    n = int(getattr(model, "n_features_in_", 1))
    return np.linspace(-2.0, 2.0, 3 * n).reshape(3, n)


def check_fixture(cli, path, expected, work):
    stem = os.path.splitext(os.path.basename(path))[0]
    try:
        theirs = quiet(lambda: Import(path).to_model())
    except Exception as e:  # noqa: BLE001
        return [f"PyMilo's own Import fails on this stack: {type(e).__name__}: {e}"]
    loaded = {}
    for ext in (".json", ".yaml", ".pb"):
        out = os.path.join(work, stem + ".milo" + ext)
        r = run(cli, "convert", path, out)
        if r.returncode != 0:
            return [f"milo convert to {ext}: exit {r.returncode}: {r.stderr.strip()}"]
        try:
            loaded[ext] = quiet(milo.load, out)
        except Exception as e:  # noqa: BLE001
            return [f"milo.load {ext}: {type(e).__name__}: {e}"]
    problems = check_trust(os.path.join(work, stem + ".milo.json"))
    header = json.load(open(os.path.join(work, stem + ".milo.json")))["milo"]
    if header.get("transporter", {}).get("id") != "sklearn":
        problems.append(f"header transporter {header.get('transporter')}")
    if header.get("source", {}).get("kind") != "pymilo":
        problems.append(f"header source {header.get('source')}")
    x = array_of(expected["input"]) if expected else probe_rows(theirs)
    for ext, obj in loaded.items():
        # Attribute by attribute and every prediction method, against PyMilo's import.
        checked = []
        diffs = quiet(compare, theirs, obj, x, None, checked)
        problems += [f"{ext} vs PyMilo's import: {d}" for d in diffs]
        if not checked:
            problems.append(f"{ext}: no prediction method ran on PyMilo's import")
        if expected is None:
            continue
        if type(obj).__name__ != expected["model_type"]:
            problems.append(f"{ext}: class {type(obj).__name__}, expected {expected['model_type']}")
        for method, rec in expected["outputs"].items():
            try:
                got = quiet(getattr(obj, method), x)
            except Exception as e:  # noqa: BLE001
                problems.append(f"{ext}: {method} raised {type(e).__name__}: {e}")
                continue
            want = array_of(rec)
            if same_bits(got, want):
                continue
            if same_bits(quiet(getattr(theirs, method), x), got):
                NOTES.append(f"{stem}{ext} {method}: recording machine differs, PyMilo's import "
                             "here agrees with milo bit for bit")
                continue
            problems.append(f"{ext}: {method} differs from expected_outputs.json and from "
                            f"PyMilo's import: {np.asarray(got)!r} vs {want!r}")
    return problems


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    cli, fixtures, work = sys.argv[1:4]
    os.makedirs(work, exist_ok=True)
    expected = json.load(open(os.path.join(fixtures, "generated", "expected_outputs.json")))
    cases = [(os.path.join(fixtures, "generated", v["file"]), v)
             for v in expected["fixtures"].values()]
    cases.append((os.path.join(fixtures, "from_repo", "valid_jsons__linear_regression.json"), None))
    failures = 0
    for path, exp in cases:
        problems = check_fixture(cli, path, exp, work)
        print(("FAIL " if problems else "ok   ") + os.path.basename(path))
        for p in problems:
            print("     ", p)
        failures += bool(problems)
    # Files that must fail, with the status and the place.
    must_fail = [
        ("invalid_jsons__corrupted.json", 3, ["line 182:5", "expected ',' or '}'"]),
        ("invalid_jsons__unknown-model.json", 5, ["Unknown-Model", "$.model_type"]),
    ]
    # Crafted files: the valid LinearRegression with one thing broken.
    lr = json.load(open(os.path.join(fixtures, "from_repo", "valid_jsons__linear_regression.json")))

    def crafted(name, edit, text=None):
        d = json.loads(json.dumps(lr))
        if edit:
            edit(d["data"])
        with open(os.path.join(work, name), "w") as f:
            f.write(text if text is not None else json.dumps(d))
        return os.path.join(work, name)

    nd = lambda lst, dt, shape: {"pymiloed-ndarray-list": lst, "pymiloed-ndarray-dtype": dt,
                                 "pymiloed-ndarray-shape": shape,
                                 "pymiloed-data-structure": "numpy.ndarray"}
    deep = '{"data": {"x": ' + "[" * 300 + "]" * 300 + '}, "sklearn_version": "1.2.1", ' \
           '"pymilo_version": "1.4", "model_type": "LinearRegression"}'
    must_fail += [
        (crafted("shape_mismatch.json", lambda d: d.update(coef_=nd([1.0, 2.0], "float64", [3]))),
         3, ["$.data.coef_.pymiloed-ndarray-list", "2 elements at dimension 0"]),
        (crafted("dtype_unknown.json", lambda d: d.update(coef_=nd([1, 2], "datetime64[ns]", [2]))),
         5, ["$.data.coef_.pymiloed-ndarray-dtype", "datetime64[ns]"]),
        (crafted("nan_in_int.json", lambda d: d.update(coef_=nd([1, float("nan")], "int64", [2]))),
         3, ["$.data.coef_.pymiloed-ndarray-list[1]", "int64"]),
        (crafted("huge_int_in_array.json", lambda d: d.update(coef_=nd([2 ** 70], "int64", [1]))),
         3, ["out of range for int64"]),
        (crafted("huge_shape.json", lambda d: d.update(coef_=nd([], "float64", [2 ** 40, 2 ** 40, 0, 2 ** 40]))),
         3, ["overflows"]),  # MILO_ERR_LIMIT: the tool exits 3 for it too
        (crafted("too_deep.json", None, deep), 3, ["nested deeper than 200"]),
        (crafted("trailing.json", None, json.dumps(lr) + " x"), 3, ["trailing data"]),
        (crafted("old_format_list.json", lambda d: d.update(coef_=[1.0, 2.0])), 0, []),
    ]
    for name, code, needles in must_fail:
        r = run(cli, "convert", os.path.join(fixtures, "from_repo", name), os.path.join(work, "x.json"))
        bad = r.returncode != code or not all(n in r.stderr for n in needles)
        print(("FAIL " if bad else "ok   ") + f"{os.path.basename(name)}: exit {r.returncode}: "
              f"{r.stderr.strip()}")
        failures += bad
    for note in NOTES:
        print("note:", note)
    print(f"{len(cases) + len(must_fail) - failures}/{len(cases) + len(must_fail)} passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
