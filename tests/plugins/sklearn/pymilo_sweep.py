#!/usr/bin/env python3
"""PyMilo sweep: every estimator PyMilo supports, through the C++ "pymilo" transporter.

For each model class of PyMilo's own tables (pymilo.pymilo_param.SKLEARN_*_TABLE, the model
chains; preprocessing and feature extraction classes are only reached inside pipelines): build
and fit it on the small standard data of sweep_estimators.py, PyMilo Export to JSON, `milo
convert` (C++, no Python) to a Milo document (.json; also .yaml and .pb for every fifth
estimator), milo.load, and compare with PyMilo's own Import of the same JSON on this stack:
same class, get_params equal, every fitted attribute bit-identical (nested estimators
recursively), every prediction method bit-identical on the held-out rows
(sweep_estimators.compare). The target is every estimator PyMilo itself exports and imports;
where it cannot, the estimator is listed and not attempted. Also reported, never failing:
where PyMilo's import differs from the original estimator (PyMilo's own losses).

KNOWN_FAILURES lists, per scikit-learn version of the stack, the estimators the C++ reader does
not convert yet, with the reason. The list is strict: a listed estimator that fails is "known"
(not a failure), one that passes, is not attempted or does not exist fails the run ("remove it
from the list"), and an unlisted failure fails the run.

usage: pymilo_sweep.py MILO_CLI WORK_DIR [NAME ...]   (names: only these estimators)
Exit: 0 all attempted passed, 1 failures (pymilo, numpy or scikit-learn missing included).
"""

import os
import subprocess
import sys
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

try:
    import numpy  # noqa: F401
    import sklearn
    import pymilo
    from pymilo import Export, Import
    from pymilo import pymilo_param
except ImportError as e:
    print(f"FAIL: {sys.executable} cannot import numpy, scikit-learn and pymilo ({e})")
    sys.exit(1)

import milo

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sweep_estimators as se  # noqa: E402

MODEL_TABLES = ("LINEAR_MODEL", "NEURAL_NETWORK", "DECISION_TREE", "CLUSTERING", "NAIVE_BAYES",
                "SVM", "NEIGHBORS", "ENSEMBLE", "CROSS_DECOMPOSITION", "COMPOSE")
ALL_FORMATS_EVERY = 5

# PyMilo forms the C++ reader refuses (MILO_ERR_UNSUPPORTED; plugins/sklearn/README.md).
_CFNODE = ("PyMilo rebuilds the CF-node tree (pymilo_cfnode_id) with Python code; not "
           "supported")
_BISECT = ("PyMilo rebuilds _bisecting_tree (pymilo_model_type) with Python "
           "code; not supported")
KNOWN_FAILURES = {   # scikit-learn "major.minor" of the stack -> {estimator: reason}
    "1.9": {"Birch": _CFNODE, "BisectingKMeans": _BISECT},
    "1.2": {"Birch": _CFNODE, "BisectingKMeans": _BISECT},
}


def short(e):
    return se._exc(e)


def estimators():
    seen = {}
    for table in MODEL_TABLES:
        for name, cls in getattr(pymilo_param, f"SKLEARN_{table}_TABLE", {}).items():
            if isinstance(cls, type):
                seen.setdefault(name, cls)
    return sorted(seen.items())


def one(index, name, cls, data, cli, work):
    """("pass" | "fail" | "skip", reason, PyMilo-loss notes)."""
    try:
        est = se.construct(cls, data)
        X_test, y_test = se.fit(est, data)
    except Exception as e:  # noqa: BLE001
        return "skip", f"cannot be fitted here: {short(e)}", []
    path = os.path.join(work, name + ".pymilo.json")
    try:
        Export(est).save(path)
    except Exception as e:  # noqa: BLE001
        return "skip", f"PyMilo cannot export it: {short(e)}", []
    try:
        theirs = Import(path).to_model()
    except Exception as e:  # noqa: BLE001
        return "skip", f"PyMilo cannot import its own file: {short(e)}", []
    exts = (".json", ".yaml", ".pb") if index % ALL_FORMATS_EVERY == 0 else (".json",)
    problems = []
    for ext in exts:
        out = os.path.join(work, name + ".milo" + ext)
        r = subprocess.run([cli, "convert", path, out], capture_output=True, text=True,
                           timeout=se.CLI_SECONDS)
        if r.returncode != 0:
            return "fail", f"milo convert {ext}: exit {r.returncode}: {r.stderr.strip()}", []
        try:
            mine = milo.load(out)
        except Exception as e:  # noqa: BLE001
            return "fail", f"milo.load {ext}: {short(e)}", []
        # (clusterers without predict, e.g. DBSCAN, are compared by their attributes alone)
        if ext != ".json":  # predictions update counters inside neighbor trees: a fresh import
            theirs = Import(path).to_model()
        problems += [f"{ext}: {d}" for d in se.compare(theirs, mine, X_test, y_test)]
        if ext == ".json":
            import json
            trust = json.load(open(out))["milo"].get("trust", [])
            problems += [f"trust: {t['name']} ({t['usage']}) is {t['level']}"
                         for t in trust if t["level"] != "trusted"]
    # Last: prediction calls on PyMilo's object update counters inside it (neighbor trees).
    losses = se.compare(est, theirs, X_test, y_test)
    if problems:
        return "fail", "; ".join(problems[:5]), losses
    return "pass", ", ".join(exts), losses


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    cli, work, only = sys.argv[1], sys.argv[2], set(sys.argv[3:])
    os.makedirs(work, exist_ok=True)
    se._import_numpy()
    data = se.Data()
    stack = (f"pymilo {pymilo.__version__}, scikit-learn {sklearn.__version__}, "
             f"numpy {numpy.__version__}")
    series = ".".join(sklearn.__version__.split(".")[:2])
    known = KNOWN_FAILURES.get(series, {})
    names = {name for name, _ in estimators()}
    passed, attempted, skipped, failures, loss_notes, known_seen = 0, 0, [], [], [], []
    failures += [f"{n}: in the known-failure list but not one of PyMilo's estimators here: "
                 "remove it from the list" for n in sorted(set(known) - names)]
    for index, (name, cls) in enumerate(estimators()):
        if only and name not in only:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            verdict, reason, losses = one(index, name, cls, data, cli, work)
        if name in known:
            if verdict == "fail":
                verdict = "known"
                known_seen.append(f"{name}: {known[name]} (now: {reason})")
            else:
                now = "passes" if verdict == "pass" else "is not attempted"
                reason = f"known failure now {now}: remove it from the list ({reason})"
                verdict = "fail"
        print(f"{verdict:5} {name}: {reason}", flush=True)
        if losses:
            loss_notes.append(f"{name}: {'; '.join(losses[:3])}")
        if verdict == "skip":
            skipped.append(f"{name}: {reason}")
            continue
        attempted += 1
        passed += verdict == "pass"
        if verdict == "fail":
            failures.append(f"{name}: {reason}")
    print(f"\nnot attempted (PyMilo itself cannot, or no fit here): {len(skipped)}")
    for s in skipped:
        print("  ", s)
    print(f"PyMilo's import differs from the original estimator (reported only): {len(loss_notes)}")
    for s in loss_notes:
        print("  ", s[:400])
    print(f"known failures (KNOWN_FAILURES[{series!r}]): {len(known_seen)}")
    for k in known_seen:
        print("  ", k[:600])
    print(f"failures: {len(failures)}")
    for f in failures:
        print("  ", f[:600])
    print(f"{stack}: {passed}/{attempted} passed, {len(known_seen)} known failures, "
          f"{len(failures)} failures")
    return 0 if not failures and attempted else 1

if __name__ == "__main__":
    sys.exit(main())
