#!/usr/bin/env python3
"""scikit-learn model files: export/import time and size of pickle, joblib, PyMilo, skops and
Milo, side by side in one run.

Usage (normally through scripts/bench.sh sklearn, which builds what Milo needs first):
  .venv/bin/python tests/bench/bench_sklearn.py [--reps N] [--quick] [--build DIR]
                                                [--dir DIR] [--keep] [--only NAME]

Models: LinearRegression (1000x20), RandomForestClassifier (100 trees, 5000x20),
MLPClassifier (256, 256) (2000x20, 30 epochs), Pipeline(StandardScaler, LogisticRegression)
(1000x20). Methods, each export = object -> file and import = file -> object:
  pickle            pickle.dump / pickle.load, protocol 5
  joblib            joblib.dump / joblib.load, uncompressed
  PyMilo            pymilo.Export(model).save / pymilo.Import(path).to_model()
  skops             skops.io.dump / skops.io.load(trusted=the file's types, listed beforehand)
  milo readable     milo.dump(model, "x.json", tensors="readable") / milo.load (Python adapter)
  milo compact      the same with tensors="compact"
  milo C++ pkl>doc>pkl  the pickle file -> document -> pickle file in C++ (decode_native, then
                    encode_native; milo_bench_sklearn_convert): export = decode, import = encode,
                    total = read + decode + encode
Times are medians of N runs (a run of a fast operation repeats it for >= 50 ms and counts the
time per operation); every export writes a new file (the old one is removed first, inside the
timing: ~30 us); sizes are file sizes. "check": the imported model's predictions equal the
original's bit for bit. Milo rows say "n/a" until the sklearn plugin and milo.dump/load exist.
Not a test: the target lines at the end are for people to read.
"""
import argparse
import contextlib
import gc
import json
import os
import pickle
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))


def timed(fn, reps):
    """Median seconds per call of fn over `reps` runs; a run repeats fn for >= 50 ms."""
    fn()  # warm-up
    inner = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        s = time.perf_counter() - t0
        if s >= 0.05 or inner >= 1 << 16:
            break
        inner = inner * 100 if s <= 0 else max(inner * 2, int(inner * 0.06 / s) + 1)
    runs = []
    for _ in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        runs.append((time.perf_counter() - t0) / inner)
    return statistics.median(runs)


def make_models():
    import numpy as np
    from sklearn.datasets import make_classification, make_regression
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    def clf_data(n):
        return make_classification(n_samples=n, n_features=20, n_informative=10,
                                   random_state=0)

    Xr, yr = make_regression(n_samples=1000, n_features=20, noise=0.1, random_state=0)
    X5, y5 = clf_data(5000)
    X2, y2 = clf_data(2000)
    X1, y1 = clf_data(1000)
    specs = [
        ("LinearRegression (1000x20)", LinearRegression(), Xr, yr),
        ("RandomForestClassifier (100 trees, 5000x20)",
         RandomForestClassifier(n_estimators=100, random_state=0), X5, y5),
        ("MLPClassifier (256, 256) (2000x20)",
         MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=30, random_state=0), X2, y2),
        ("Pipeline(StandardScaler, LogisticRegression) (1000x20)",
         Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500))]),
         X1, y1),
    ]
    models = []
    for name, model, X, y in specs:
        t0 = time.perf_counter()
        model.fit(X, y)
        print("fitted %s in %.1f s" % (name, time.perf_counter() - t0), file=sys.stderr)
        models.append((name, model, np.ascontiguousarray(X[:256])))
    return models


def outputs(model, X):
    """The bytes of every prediction method's output on X (for the bit-exact check)."""
    out = []
    for method in ("predict", "predict_proba", "decision_function"):
        if hasattr(model, method):
            try:
                out.append(getattr(model, method)(X).tobytes())
            except Exception:  # e.g. decision_function missing behind a pipeline step
                pass
    return out


def fresh_dump(dump, model, path):
    """Exports into a new file: rewriting or renaming over an existing file makes ext4 flush
    it on close (auto_da_alloc, ~4 ms here), which would swamp the small models."""
    if os.path.exists(path):
        os.remove(path)
    dump(model, path)


@contextlib.contextmanager
def quiet():
    """Silences libraries that print (PyMilo) while they are timed."""
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        yield


# ---- methods: name -> (export(model, path), import(path), extension)

def method_table(milo_mod):
    methods = []

    def pk_dump(m, p):
        with open(p, "wb") as f:
            pickle.dump(m, f, protocol=5)

    def pk_load(p):
        with open(p, "rb") as f:
            return pickle.load(f)

    methods.append(("pickle", pk_dump, pk_load, ".pkl", None))
    try:
        import joblib
        methods.append(("joblib", lambda m, p: joblib.dump(m, p), joblib.load, ".joblib", None))
    except ImportError as e:
        methods.append(("joblib", None, None, "", "not installed: %s" % e))
    try:
        from pymilo import Export, Import

        def pm_dump(m, p):
            with quiet():
                Export(m).save(p)

        def pm_load(p):
            with quiet():
                return Import(p).to_model()
        methods.append(("PyMilo", pm_dump, pm_load, ".json", None))
    except ImportError as e:
        methods.append(("PyMilo", None, None, "", "not installed: %s" % e))
    try:
        import skops.io as sio
        trusted = {}

        def sk_load(p):
            if p not in trusted:  # the types are listed before timing, as a user would
                trusted[p] = sio.get_untrusted_types(file=p)
            return sio.load(p, trusted=trusted[p])
        methods.append(("skops", lambda m, p: sio.dump(m, p), sk_load, ".skops", None))
    except ImportError as e:
        methods.append(("skops", None, None, "", "not installed: %s" % e))
    for mode in ("readable", "compact"):
        if milo_mod is None or not hasattr(milo_mod, "dump"):
            why = "Python adapter not importable" if milo_mod is None else "no milo.dump yet"
            methods.append(("milo " + mode, None, None, "", why))
            continue
        methods.append(("milo " + mode,
                        lambda m, p, mode=mode: milo_mod.dump(m, p, tensors=mode),
                        lambda p: milo_mod.load(p), ".json", None))
    return methods


def import_milo(build):
    if build:
        os.environ.setdefault("MILO_LIBRARY", os.path.join(build, "lib", "libmilo.so"))
    sys.path.insert(0, os.path.join(REPO, "adapters", "python"))
    try:
        import milo
        return milo
    except Exception as e:  # ImportError, or OSError from a missing libmilo
        print("note: the Milo Python adapter does not import (%s)" % e, file=sys.stderr)
        return None


def run_cpp(binary, files, reps, out_dir):
    """{pickle path: result dict} from milo_bench_sklearn_convert; {} with a note if absent."""
    if not binary or not os.access(binary, os.X_OK):
        return {}, "milo_bench_sklearn_convert not built (needs the sklearn plugin)"
    p = subprocess.run([binary, "--reps", str(reps), "--out", out_dir] + files,
                       capture_output=True, text=True)
    if p.returncode != 0:
        return {}, "milo_bench_sklearn_convert failed: %s" % p.stderr.strip()[-200:]
    results = {}
    for line in p.stdout.splitlines():
        r = json.loads(line)
        results[r["file"]] = r
    return results, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=None, help="median of N runs (default 5)")
    ap.add_argument("--quick", action="store_true", help="3 runs")
    ap.add_argument("--build", help="Milo build folder (libmilo, milo_bench_sklearn_convert)")
    ap.add_argument("--convert-bin", help="milo_bench_sklearn_convert (default: in --build)")
    ap.add_argument("--dir", help="scratch folder (default: a temporary one, removed at the end)")
    ap.add_argument("--keep", action="store_true", help="keep the files written")
    ap.add_argument("--only", help="only models whose name contains TEXT")
    args = ap.parse_args()
    reps = args.reps or (3 if args.quick else 5)
    warnings.simplefilter("ignore")
    work = args.dir or tempfile.mkdtemp(prefix="milo-bench-sklearn-")
    os.makedirs(work, exist_ok=True)
    convert_bin = args.convert_bin or (
        os.path.join(args.build, "bin", "milo_bench_sklearn_convert") if args.build else None)

    import numpy
    import sklearn
    milo_mod = import_milo(args.build)
    versions = ["python %s" % platform.python_version(), "scikit-learn %s" % sklearn.__version__,
                "numpy %s" % numpy.__version__]
    for mod in ("joblib", "pymilo", "skops"):
        try:
            versions.append("%s %s" % (mod, __import__(mod).__version__))
        except Exception:
            versions.append("%s -" % mod)
    load_start = open("/proc/loadavg").read().split()[:3]

    models = [m for m in make_models() if not args.only or args.only in m[0]]
    methods = method_table(milo_mod)
    table = {}  # (model, method) -> dict(export, import, total, size, check) or dict(note)
    pickles, written = {}, []
    for mi, (name, model, X) in enumerate(models):
        want = outputs(model, X)
        for method, dump, load, ext, note in methods:
            if dump is None:
                table[name, method] = {"note": note}
                continue
            path = os.path.join(work, "m%d-%s%s" % (mi, method.replace(" ", "_"), ext))
            print("%s / %s ..." % (name, method), file=sys.stderr)
            written.append(path)
            try:
                fresh_dump(dump, model, path)
                same = outputs(load(path), X) == want
                t_exp = timed(lambda: fresh_dump(dump, model, path), reps)
                t_imp = timed(lambda: load(path), reps)
                table[name, method] = {"export": t_exp, "import": t_imp, "total": t_exp + t_imp,
                                       "size": os.path.getsize(path),
                                       "check": "same" if same else "DIFF"}
            except Exception as e:
                table[name, method] = {"note": "FAILED: %s: %s" % (type(e).__name__, str(e)[:60])}
            if method == "pickle":
                pickles[name] = path
    cpp, cpp_note = run_cpp(convert_bin, list(pickles.values()), reps, work)
    cpp_row = "milo C++ pkl>doc>pkl"
    for name, path in pickles.items():
        r = cpp.get(path)
        if r is None:
            table[name, cpp_row] = {"note": cpp_note or "no result"}
        elif "error" in r:
            table[name, cpp_row] = {"note": "FAILED: " + r["error"][:70]}
        else:
            table[name, cpp_row] = {"export": r["decode_s"], "import": r["encode_s"],
                                    "total": r["total_s"], "size": r["out_bytes"],
                                    "check": "same bytes" if r["identical"] else "bytes differ"}

    # ---- report
    print("Milo scikit-learn benchmark: median of %d runs; ms per operation; KB = 1024 bytes"
          % reps)
    print(", ".join(versions))
    print("load average at start: %s (%d CPUs)" % (" ".join(load_start), os.cpu_count()))
    print("export = object -> file, import = file -> object (C++ row: pickle -> document, "
          "document -> pickle)")
    print("x pickle / x PyMilo: total time and size relative to those rows; check: predictions "
          "bit-identical")
    rows = [m[0] for m in methods] + [cpp_row]
    head = "%-22s %10s %10s %10s %10s %10s %10s %10s %10s  %s" % (
        "method", "export ms", "import ms", "total ms", "size KB", "t x pkl", "t x PyMilo",
        "KB x pkl", "KB x PyMilo", "check")
    for name, _, _ in models:
        print("\n== %s ==" % name)
        print(head)
        print("-" * len(head))
        base, pym = table.get((name, "pickle"), {}), table.get((name, "PyMilo"), {})
        for row in rows:
            c = table.get((name, row), {"note": "-"})
            if "note" in c:
                print("%-22s %s" % (row, c["note"]))
                continue

            def ratio(key, ref):
                return "%10.3g" % (c[key] / ref[key]) if key in ref and ref[key] else "%10s" % "-"
            print("%-22s %10.3f %10.3f %10.3f %10.1f %s %s %s %s  %s" % (
                row, c["export"] * 1e3, c["import"] * 1e3, c["total"] * 1e3, c["size"] / 1024,
                ratio("total", base), ratio("total", pym), ratio("size", base),
                ratio("size", pym), c["check"]))

    print("\nTargets of the issue:")
    for name, _, _ in models:
        if not name.startswith("RandomForest"):
            continue
        c, pym = table.get((name, cpp_row), {}), table.get((name, "PyMilo"), {})
        if "total" in c and "total" in pym:
            x = pym["total"] / c["total"]
            print("  RF pickle -> doc -> pickle: %.1fx the speed of PyMilo export+import "
                  "(target >= 50x)  %s" % (x, "met" if x >= 50 else "MISSED"))
        else:
            print("  RF pickle -> doc -> pickle >= 50x PyMilo's speed: not measured (%s)" %
                  c.get("note", pym.get("note", "-")))
    for name, _, _ in models:
        c, pym = table.get((name, "milo readable"), {}), table.get((name, "PyMilo"), {})
        if "size" in c and "size" in pym:
            x = c["size"] / pym["size"]
            print("  %-55s readable JSON = %.3f of PyMilo's size (target <= 0.333)  %s" %
                  (name, x, "met" if x <= 1 / 3 else "MISSED"))
        else:
            print("  %-55s readable JSON <= 1/3 of PyMilo's size: not measured (%s)" %
                  (name, c.get("note", pym.get("note", "-"))))
    for name, _, _ in models:
        c, base = table.get((name, "milo compact"), {}), table.get((name, "pickle"), {})
        if "total" in c and "total" in base:
            x = c["total"] / base["total"]
            print("  %-55s compact export+import = %.2fx pickle's time (target <= 3x)  %s" %
                  (name, x, "met" if x <= 3 else "MISSED"))
        else:
            print("  %-55s compact within 3x of pickle's time: not measured (%s)" %
                  (name, c.get("note", base.get("note", "-"))))
    print("\nload average at the end: %s" % " ".join(open("/proc/loadavg").read().split()[:3]))
    if args.keep:
        print("kept the files in %s" % work)
    elif args.dir:
        for path in written:
            if os.path.exists(path):
                os.remove(path)
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
