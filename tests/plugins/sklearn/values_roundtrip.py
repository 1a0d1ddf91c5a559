"""Round trip of Python values through the sklearn transporter with the `milo` tool.

For every value × pickle protocol (0-5) × joblib compression: pickle it, `milo convert` the
pickle to a document (JSON, YAML and protobuf), `milo convert` the document back to a pickle,
load that with Python's unpickler (the values are the test's own) and require
pickle.dumps(loaded) == pickle.dumps(pickle.loads(source)) — which compares every float and
array byte, dtypes, memory order and the sharing of sub-objects.

    values_roundtrip.py MILO_BINARY WORKDIR
"""
import collections
import os
import pickle
import subprocess
import sys
import tempfile

try:
    import numpy as np
except ImportError:  # pragma: no cover
    print("SKIPPED: numpy not importable by", sys.executable)
    sys.exit(77)


def values():
    """(name, value) pairs: every pickle construct the transporter maps."""
    v = {}
    for i, x in enumerate([None, True, False, 0, -1, 255, 256, 65535, 65536, 2**31 - 1, -2**31,
                           2**63 - 1, -2**63, 2**64, -2**200, 10**400, 1.5, -0.0,
                           float("nan"), float("inf"), -float("inf"), 5e-324]):
        v["scalar%d" % i] = x
    v["str"] = "héllo wörld ✓"
    v["str_surrogate"] = "a\ud800b"
    surrogate = "shared\udc80"
    v["str_surrogate_shared"] = [surrogate, surrogate, {surrogate: surrogate}]  # memo hits
    v["bytes"] = b"\x00\xff" * 300
    v["bytes_empty"] = b""
    v["bytearray"] = bytearray(b"abc")
    v["containers"] = [[], (), {}, set(), frozenset({1, 2}), {(1, 2): "tuple key", 3: None},
                       {"$dollar": 1}, (1, [2, (3, {4: 5})])]
    v["ordered"] = collections.OrderedDict([("b", 1), ("a", 2)])
    dd = collections.defaultdict(list)
    dd["k"].append(1)
    v["defaultdict"] = dd
    shared = [1, 2]
    v["shared"] = [shared, shared, {"again": shared}]
    cyc = []
    cyc.append(cyc)
    v["cycle_list"] = cyc
    d = {}
    d["self"] = d
    v["cycle_dict"] = d
    lst = []
    tup = (lst, 1)
    lst.append(tup)
    v["cycle_tuple"] = tup
    v["builtins"] = [slice(1, 10, 2), complex(1.5, -2), range(3, 9, 2)]
    # numpy
    rng = np.random.RandomState(0)
    for dt in ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
               "float16", "float32", "float64", "complex64", "complex128"]:
        a = (rng.standard_normal(24) * 100).astype(dt).reshape(2, 3, 4)
        v["np_" + dt] = a
        v["np_" + dt + "_F"] = np.asfortranarray(a)
        v["np_" + dt + "_BE"] = a.astype(np.dtype(dt).newbyteorder(">"))
        v["np_" + dt + "_scalar"] = a.flat[1]
    v["np_0d"] = np.array(3.25)
    v["np_empty"] = np.zeros((0, 3))
    v["np_view"] = np.arange(20.0).reshape(4, 5)[:, 1:3]
    v["np_nan_bits"] = np.array([np.nan, -np.nan, np.inf], dtype="float64")
    rec = np.zeros(3, dtype=[("left", "<i8"), ("right", "<i8"), ("thr", "<f8"), ("n", "<u1")])
    rec["left"] = [1, -1, -1]
    rec["thr"] = [0.5, np.nan, -2.0]
    v["np_record"] = rec
    v["np_record_aligned"] = np.zeros(2, dtype=np.dtype([("a", "u1"), ("b", "<f8")], align=True))
    v["np_record_subarray"] = np.ones(2, dtype=[("a", "<f4", (2, 2)), ("b", "<i2")])
    v["np_record_titles"] = np.zeros(2, dtype={"names": ["x"], "formats": ["<f8"],
                                               "titles": ["the x"]})
    v["np_unicode"] = np.array(["ab", "çd✓"])
    v["np_bytes"] = np.array([b"ab", b"c"])
    v["np_datetime"] = np.array(["2024-01-02", "1970-01-01"], dtype="datetime64[ns]")
    v["np_longdouble"] = np.array([1.5, 2.5], dtype=np.longdouble)
    v["np_object"] = np.array([1, "two", None, (3,)], dtype=object)
    v["np_record_object"] = np.array([("a", 1.5), (None, -2.0)], dtype=[("o", "O"), ("x", "<f8")])
    v["np_object_F"] = np.asfortranarray(np.array([[1, "a"], [None, 2.5]], dtype=object))
    v["np_shared"] = [v["np_float64"], v["np_float64"]]
    v["np_dtypes"] = [np.dtype("f8"), np.dtype(">i4"), np.float64, np.log1p]
    return v


def estimators():
    try:
        from sklearn.datasets import load_iris
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LinearRegression, LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.tree import DecisionTreeClassifier
    except ImportError:
        return {}
    X, y = load_iris(return_X_y=True)
    return {
        "LinearRegression": LinearRegression().fit(X, y),
        "DecisionTree": DecisionTreeClassifier(random_state=0).fit(X, y),
        "RandomForest": RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y),
        "Pipeline": make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, y),
    }


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("%s → exit %d: %s" % (" ".join(cmd), r.returncode, r.stderr.strip()))


def check(milo, work, name, references, source_bytes, formats):
    src = os.path.join(work, name + ".in")
    with open(src, "wb") as f:
        f.write(source_bytes)
    # The reference is what pickle/joblib give back from the same bytes: some objects pickle
    # differently in memory than after one load (dtype singletons, big-endian views, caches).
    wants = [pickle.dumps(r, protocol=4) for r in references]
    for fmt in formats:
        doc = os.path.join(work, name + "." + fmt)
        back = os.path.join(work, name + "." + fmt + ".pkl")
        run([milo, "convert", "--transporter", "sklearn", src, doc])
        run([milo, "convert", doc, back])
        with open(back, "rb") as f:
            loaded = pickle.load(f)
        got = pickle.dumps(loaded, protocol=4)
        if got not in wants:
            raise AssertionError("%s via %s: pickle.dumps differs after the round trip" % (name, fmt))


def main():
    milo, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    cases = dict(values())
    cases.update(estimators())
    failures, count, notes = [], 0, set()
    for name, obj in cases.items():
        for proto in range(0, 6):
            try:
                data = pickle.dumps(obj, protocol=proto)
            except Exception:
                continue  # not picklable at this protocol (e.g. some objects under 0/1)
            formats = ["json", "yaml", "pb"] if proto in (2, 5) else ["json"]
            count += 1
            try:
                check(milo, work, "%s_p%d" % (name, proto), [pickle.loads(data)], data, formats)
            except Exception as e:  # noqa: BLE001 — report every failure, then fail
                failures.append("%s protocol %d: %s" % (name, proto, e))
    try:
        import joblib
        compressions = [0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)]
        try:
            import lz4  # noqa: F401
            compressions.append(("lz4", 3))
        except ImportError:
            pass
        for name in ["np_float64", "np_record", "np_object", "np_record_object", "np_float64_F",
                     "RandomForest",
                     "Pipeline"]:
            if name not in cases:
                continue
            for comp in compressions:
                with tempfile.NamedTemporaryFile(suffix=".joblib", dir=work, delete=False) as t:
                    path = t.name
                joblib.dump(cases[name], path, compress=comp)
                with open(path, "rb") as f:
                    data = f.read()
                # joblib loads with pickle's pure-Python unpickler, which interns strings
                # differently from the C one that loads Milo's output: compare both after one
                # pass through the C unpickler.
                reference = pickle.loads(pickle.dumps(joblib.load(path), protocol=4))
                again = pickle.loads(pickle.dumps(joblib.load(path), protocol=4))
                if pickle.dumps(reference, protocol=4) != pickle.dumps(again, protocol=4):
                    notes.add("%s: joblib.load is not deterministic here" % name)
                # Some joblib versions copy structured arrays without their padding bytes, which
                # then hold whatever memory held (two loads can differ, or agree by chance).
                # The file holds the in-memory object's bytes: that is a reference too.
                references = [reference, pickle.loads(pickle.dumps(cases[name], protocol=4))]
                os.unlink(path)
                count += 1
                tag = comp[0] if comp else "raw"
                try:
                    check(milo, work, "%s_joblib_%s" % (name, tag), references, data, ["json"])
                except Exception as e:  # noqa: BLE001
                    failures.append("%s joblib %s: %s" % (name, tag, e))
    except ImportError:
        print("note: joblib not importable; joblib cases skipped")
    for n in sorted(notes):
        print("note:", n)
    for f in failures:
        print("FAIL", f)
    print("values round trip: %d passed / %d attempted (%s)" %
          (count - len(failures), count, sys.executable))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
