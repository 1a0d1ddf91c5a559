#!/usr/bin/env python3
"""Generates the trust allowlists of Milo's safe pickle readers (sdk/readers/src/trust_allowlist_
{sklearn,numpy,scipy}.inc) and checks them against the Python stack it runs under.

Each list entry is {"module", "qualname", mask}: the exact module and qualified name a pickle's
GLOBAL/STACK_GLOBAL/INST names (the split matters: "sklearn" + "tree._tree.Tree" walks
attributes and is not the entry "sklearn.tree._tree" + "Tree"), and the ways it may be used
(1 call = REDUCE, 2 instantiate = NEWOBJ/OBJ/INST, 4 reference = used as a value).
sdk/readers/src/trust_policy.cpp matches them exactly: never by prefix, never by subclass.

Where the entries come from (no name is guessed; every one is what the stack really has):
  sklearn  every class defined in a scikit-learn module (Python classes and Cython extension
           types, nested classes included) -> call|instantiate|reference; Cython's module-level
           `__pyx_unpickle_*` functions and the `newObj` reducers of the binary trees and
           distance metrics -> call; the functions estimators keep as parameters (scorers,
           score functions of sklearn.metrics and sklearn.feature_selection, kernels) ->
           reference. Modules under tests/externals/_build_utils and testing helpers are skipped,
           as is anything that fails to import.
  numpy    what numpy's own pickling writes, read back from real pickles (protocols 0-5, in-band
           and out-of-band) of arrays of every dtype and subclass, scalars, dtypes, RandomState,
           Generator and every BitGenerator, plus every scalar type, dtype class and ufunc as a
           reference. `numpy.core.*` and `numpy._core.*` are the same modules on numpy >= 1.26
           (one aliases the other), so each entry is also listed under the other spelling.
  scipy    the sparse matrix and array classes and BSpline, read back from real pickles.
The stdlib/joblib part (trust_allowlist_python.inc) is written by hand and only read here.

It also writes plugins/sklearn/src/pymilo_class_modules.inc: for each stack, the module that
defines every class sklearn.utils.all_estimators() lists (cls.__module__), plus the helper
classes PyMilo files rebuild (Tree, TreePredictor, _BinMapper, AdamOptimizer). The PyMilo
reader (pymilo_import.cpp) turns a file's bare "model_type" into a full name with it, picking
the stack whose scikit-learn version is nearest to the file's.

Usage:
  gen_sklearn_allowlist.py --regenerate
      collect under both stacks (/usr/bin/python3 and the repository's .venv) and rewrite the
      .inc files in sdk/readers/src.
  gen_sklearn_allowlist.py --class-modules
      collect only the class -> module table under both stacks and rewrite
      plugins/sklearn/src/pymilo_class_modules.inc (--regenerate does this too).
  gen_sklearn_allowlist.py --collect OUT.json
      collect under the running interpreter only.
  gen_sklearn_allowlist.py --write DIR A.json [B.json ...]
      merge collections (union of masks) and write DIR/trust_allowlist_{sklearn,numpy,scipy}.inc.
  gen_sklearn_allowlist.py --check DIR [--globals-out FILE] [--pickles-out DIR]
      fails (exit 1, listing what is missing) unless (a) everything the running stack would
      generate is in DIR's committed lists with at least that mask, and (b) every global, with
      its usage, in real pickles (protocols 0-5) of a set of fitted estimators is covered by DIR's
      lists (trust_allowlist_*.inc, the hand-written one included). --globals-out writes those
      globals as "module<TAB>qualname<TAB>mask" lines for the C++ test of classify(), and
      --pickles-out the pickles themselves (<n>_<Class>_p<protocol>.pkl).
"""

import argparse
import importlib
import inspect
import json
import os
import pickle
import pickletools
import platform
import re
import subprocess
import sys
import tempfile
import warnings

CALL, INSTANTIATE, REFERENCE = 1, 2, 4
ALL_USES = CALL | INSTANTIATE | REFERENCE
PARTS = ("sklearn", "numpy", "scipy")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
STACKS = ("/usr/bin/python3", os.path.join(ROOT, ".venv", "bin", "python"))

# scikit-learn modules whose classes are not model data: test suites, vendored code, build
# helpers, testing utilities (TempMemmap writes files, assert_run_python_script runs code,
# the _mocking estimators call the check functions they are given).
SKIP_SEGMENTS = {"tests", "externals", "_build_utils", "__check_build", "conftest", "_testing",
                 "estimator_checks", "_mocking", "_joblib"}
# Packages trust_policy.cpp rates dangerous as a whole (fetch_* download, load_* read files).
SKIP_PACKAGES = ("sklearn.datasets",)
# Classes that are never model data and exist to run something: subclasses of these bases
# (worker pools, threads, processes, sockets) and wrappers whose job is to call a function.
DENY_CLASS_BASES = ("joblib.parallel.Parallel", "threading.Thread", "socket.socket",
                    "multiprocessing.process.BaseProcess", "subprocess.Popen")
DENY_CLASSES = {"sklearn.utils.parallel._FuncWrapper", "sklearn.utils.fixes._FuncWrapper"}
# Packages whose public functions estimators keep as parameters (score_func, metric, kernel …).
FUNCTION_PACKAGES = ("sklearn.metrics", "sklearn.feature_selection")
# Private functions sklearn itself stores in fitted estimators (GridSearchCV.scorer_ in 1.2).
EXTRA_FUNCTIONS = {"sklearn.metrics._scorer._passthrough_scorer"}
# Module-level reducers of Cython types: newObj(cls) is cls.__new__(cls).
REDUCER_FUNCTIONS = {"newObj"}


# --------------------------------------------------------------------------------------------
# Globals of a pickle, with how each is used (the same rules as sdk/readers' pickle VM).

class _Global:
    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name


def _fix_import(module, name, protocol):
    """CPython's Unpickler(fix_imports=True) renaming for protocol < 3 streams."""
    if protocol >= 3:
        return module, name
    import _compat_pickle
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def pickle_globals(data):
    """{(module, qualname): mask} for one pickle stream, by simulating its stack."""
    out = {}
    stack, marks, memo = [], [], {}
    protocol = 0

    def note(value, bit):
        if isinstance(value, _Global):
            out[value.name] = out.get(value.name, 0) | bit

    def pop(n):
        items = stack[len(stack) - n:]
        del stack[len(stack) - n:]
        return items

    def pop_mark():
        nonlocal stack
        items, stack = stack, marks.pop()
        return items

    def make_global(module, name):
        return _Global(_fix_import(module, name, protocol))

    for op, arg, _ in pickletools.genops(data):
        n = op.name
        if n == "PROTO":
            protocol = arg
        elif n == "MARK":
            marks.append(stack)
            stack = []
        elif n == "GLOBAL":
            module, _, name = arg.partition(" ")
            stack.append(make_global(module, name))
        elif n == "STACK_GLOBAL":
            module, name = pop(2)
            stack.append(make_global(module, name))
        elif n == "INST":
            for v in pop_mark():
                note(v, REFERENCE)
            module, _, name = arg.partition(" ")
            note(make_global(module, name), INSTANTIATE)
            stack.append(None)
        elif n == "OBJ":
            items = pop_mark()
            note(items[0], INSTANTIATE)
            for v in items[1:]:
                note(v, REFERENCE)
            stack.append(None)
        elif n in ("REDUCE", "NEWOBJ", "NEWOBJ_EX"):
            items = pop(3 if n == "NEWOBJ_EX" else 2)
            note(items[0], CALL if n == "REDUCE" else INSTANTIATE)
            for v in items[1:]:
                note(v, REFERENCE)
            stack.append(None)
        elif n in ("BUILD", "APPEND", "STOP", "POP"):
            note(stack.pop(), REFERENCE)
        elif n == "SETITEM":
            for v in pop(2):
                note(v, REFERENCE)
        elif n in ("APPENDS", "SETITEMS", "ADDITEMS", "POP_MARK"):
            for v in pop_mark():
                note(v, REFERENCE)
        elif n in ("TUPLE", "LIST", "DICT", "FROZENSET"):
            for v in pop_mark():
                note(v, REFERENCE)
            stack.append(None)
        elif n in ("PUT", "BINPUT", "LONG_BINPUT"):
            memo[arg] = stack[-1]
        elif n == "MEMOIZE":
            memo[len(memo)] = stack[-1]
        elif n in ("GET", "BINGET", "LONG_BINGET"):
            stack.append(memo[arg])
        elif n == "DUP":
            stack.append(stack[-1])
        elif n in ("FRAME", "READONLY_BUFFER"):
            pass
        elif isinstance(arg, str) and not op.stack_before:
            stack.append(arg)  # a string: STACK_GLOBAL may consume it
        else:
            for v in pop(len(op.stack_before)):
                note(v, REFERENCE)
            stack.extend([None] * len(op.stack_after))
    return out


def globals_of(obj, protocols=range(0, pickle.HIGHEST_PROTOCOL + 1)):
    """Union over protocols 0-5 (and protocol 5 out of band) of pickle_globals."""
    found = {}
    blobs = [pickle.dumps(obj, protocol=p) for p in protocols]
    if pickle.HIGHEST_PROTOCOL >= 5:
        blobs.append(pickle.dumps(obj, protocol=5, buffer_callback=lambda b: None))
    for blob in blobs:
        for key, mask in pickle_globals(blob).items():
            found[key] = found.get(key, 0) | mask
    return found


def _add(table, name, mask):
    table[name] = table.get(name, 0) | mask


# --------------------------------------------------------------------------------------------
# Collection under the running stack.

def _skip_module(name):
    return (any(seg in SKIP_SEGMENTS for seg in name.split(".")) or
            any(name == p or name.startswith(p + ".") for p in SKIP_PACKAGES))


def _classes_in(module):
    """Classes defined in `module` (obj.__module__ == its name), nested classes included."""
    todo = [obj for obj in vars(module).values()
            if inspect.isclass(obj) and obj.__module__ == module.__name__]
    seen = set()
    while todo:
        cls = todo.pop()
        if id(cls) in seen or "<locals>" in cls.__qualname__:
            continue
        seen.add(id(cls))
        yield cls
        for inner in vars(cls).values():
            if (inspect.isclass(inner) and inner.__module__ == cls.__module__ and
                    inner.__qualname__ == cls.__qualname__ + "." + inner.__name__):
                todo.append(inner)


def _denied(cls):
    return (f"{cls.__module__}.{cls.__qualname__}" in DENY_CLASSES or
            any(f"{b.__module__}.{b.__qualname__}" in DENY_CLASS_BASES for b in cls.__mro__))


def collect_sklearn():
    import pkgutil
    import sklearn
    entries, skipped = {}, []
    modules = [sklearn]
    for info in pkgutil.walk_packages(sklearn.__path__, "sklearn.", onerror=lambda n: None):
        if _skip_module(info.name):
            continue
        try:
            modules.append(importlib.import_module(info.name))
        except Exception as exc:  # optional dependencies (pytest, matplotlib, pandas …)
            skipped.append(f"{info.name}: {type(exc).__name__}")
    for module in modules:
        for cls in _classes_in(module):
            if not _denied(cls):
                _add(entries, (module.__name__, cls.__qualname__), ALL_USES)
        for name, obj in vars(module).items():
            if not inspect.isroutine(obj):  # functions (Python or Cython); not scorer objects
                continue
            if getattr(obj, "__module__", None) != module.__name__:
                continue
            full = f"{module.__name__}.{name}"
            if name.startswith("__pyx_unpickle_") or name in REDUCER_FUNCTIONS:
                _add(entries, (module.__name__, name), CALL)
            else:
                # Any function an estimator may keep as a value (BisectingKMeans keeps
                # _kmeans_single_lloyd): a reference is a name lookup, not a call; danger
                # rules still apply first.
                _add(entries, (module.__name__, name), REFERENCE)
    return entries, skipped


def _numpy_samples(np):
    """Objects whose pickles contain every numpy reconstructor and class numpy pickles use."""
    scalar_types = sorted({t for t in np.sctypeDict.values()}, key=lambda t: t.__name__)
    dtypes = [np.dtype(t) for t in scalar_types]
    dtypes += [np.dtype([("a", "<i4"), ("b", ">f8", (2,))]), np.dtype("M8[ns]"), np.dtype("m8[s]"),
               np.dtype(("f4", (2, 3))), np.dtype({"names": ["x"], "formats": ["u1"],
                                                   "titles": ["t"]}),
               np.dtype("f8", metadata={"k": 1})]
    samples = list(dtypes)
    for dt in dtypes:
        try:
            samples.append(np.zeros(2, dtype=dt))
            samples.append(np.zeros((), dtype=dt)[()])
        except (TypeError, ValueError):
            pass
    samples += [np.asfortranarray(np.ones((2, 2))), np.array([1, "a", None], dtype=object),
                np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]).view(np.recarray),
                np.matrix([[1, 2]]), np.char.array(["ab"]),
                np.ma.masked_array([1.0, 2.0], mask=[0, 1]),
                np.ma.masked_array(np.zeros(2, dtype=[("a", "i4")]), mask=[(0,), (1,)]),
                np.random.RandomState(0), np.random.SeedSequence(1)]
    with tempfile.TemporaryDirectory() as tmp:
        mapped = np.memmap(os.path.join(tmp, "m"), "f8", "w+", shape=(2,))
        samples += [mapped, mapped[:1]]  # pickled as _reconstruct(numpy.memmap, …): a reference
    if hasattr(np, "dtypes") and hasattr(np.dtypes, "StringDType"):
        samples.append(np.array(["a"], dtype=np.dtypes.StringDType()))
    for name in ("MT19937", "PCG64", "PCG64DXSM", "Philox", "SFC64"):
        bitgen = getattr(np.random, name, None)
        if bitgen is not None:
            samples += [bitgen(0), np.random.Generator(bitgen(0))]
    samples += scalar_types
    samples += [type(dt) for dt in dtypes]
    samples += [obj for obj in vars(np).values() if isinstance(obj, np.ufunc)]
    # numpy's public functions, which estimators keep as parameters (pooling_func=np.mean)
    # (not the ones that read or write files or change global state: the danger rules refuse
    # those whatever the allowlist says)
    io_or_state = re.compile(r"^(load|save|set|rec|from(file|regex)|genfromtxt|show|info|"
                             r"lookfor|source|who|disp|deprecate|get_include)")
    samples += [obj for name, obj in sorted(vars(np).items())
                if inspect.isfunction(obj) and not name.startswith("_")
                and not io_or_state.match(name)]
    return samples


def _scipy_samples(np):
    """Every sparse format (matrix and array), and the B-splines SplineTransformer keeps.
    Not scipy.stats distributions: rv_generic.__setstate__ exec()s `_parse_arg_template`, a
    string from the pickled state (trust_policy.cpp rates them dangerous)."""
    import scipy.interpolate
    import scipy.sparse as sp
    samples, classes = [], []
    for name in sorted(dir(sp)):
        cls = getattr(sp, name)
        if inspect.isclass(cls) and name.endswith(("_matrix", "_array")):
            classes.append(cls)
            samples.append(cls(np.eye(3)))
    samples.append(scipy.interpolate.BSpline(np.arange(8.0), np.ones(4), 3))
    return samples, classes


def collect():
    warnings.simplefilter("ignore")
    import numpy as np
    parts = {part: {} for part in PARTS}
    parts["sklearn"], skipped = collect_sklearn()
    for obj in _numpy_samples(np):
        for (module, name), mask in globals_of(obj).items():
            if module.split(".")[0] == "numpy":
                _add(parts["numpy"], (module, name), mask)
    samples, classes = _scipy_samples(np)
    for obj in samples:
        for (module, name), mask in globals_of(obj).items():
            if module.split(".")[0] == "scipy":
                _add(parts["scipy"], (module, name), mask)
    for cls in classes:  # NEWOBJ at protocol >= 2, copyreg._reconstructor's reference below it
        _add(parts["scipy"], (cls.__module__, cls.__qualname__), INSTANTIATE | REFERENCE)
    # numpy >= 1.26 has both spellings of the core modules; list each name under both.
    for (module, name), mask in list(parts["numpy"].items()):
        for a, b in (("numpy.core", "numpy._core"), ("numpy._core", "numpy.core")):
            if module == a or module.startswith(a + "."):
                _add(parts["numpy"], (b + module[len(a):], name), mask)
    return {"stack": stack_description(), "skipped": skipped,
            "parts": {part: sorted([m, n, mask] for (m, n), mask in table.items())
                      for part, table in parts.items()}}


def stack_description():
    versions = [f"CPython {platform.python_version()}"]
    for package in ("numpy", "scipy", "sklearn", "joblib"):
        try:
            versions.append(f"{package} {importlib.import_module(package).__version__}")
        except ImportError:
            pass
    return ", ".join(versions)


# --------------------------------------------------------------------------------------------
# Writing and reading the .inc files.

_ENTRY = re.compile(r'^\{"([^"]+)", "([^"]+)", ([0-7])\},$')


def write(out_dir, collections):
    stacks = [c["stack"] for c in collections]
    for part in PARTS:
        merged = {}
        for c in collections:
            for module, name, mask in c["parts"][part]:
                _add(merged, (module, name), mask)
        lines = [
            f"// Trust allowlist, part `{part}`: {len(merged)} entries {{\"module\", \"qualname\", "
            "usage mask}, sorted.",
            "// Masks: 1 call (REDUCE), 2 instantiate (NEWOBJ/OBJ/INST), 4 reference (a value).",
            "// GENERATED by plugins/sklearn/tools/gen_sklearn_allowlist.py --regenerate; do not"
            " edit.",
            "// Stacks merged:",
        ] + [f"//   {s}" for s in stacks]
        lines += [f'{{"{m}", "{n}", {mask}}},' for (m, n), mask in sorted(merged.items())]
        with open(os.path.join(out_dir, f"trust_allowlist_{part}.inc"), "w") as f:
            f.write("\n".join(lines) + "\n")


def read_allowlists(inc_dir):
    """{(module, qualname): mask} over every trust_allowlist_*.inc in inc_dir, and the same
    per part: {part: {(module, qualname): mask}}."""
    union, parts = {}, {}
    for file in sorted(os.listdir(inc_dir)):
        m = re.fullmatch(r"trust_allowlist_(\w+)\.inc", file)
        if not m:
            continue
        table = parts.setdefault(m.group(1), {})
        for line in open(os.path.join(inc_dir, file)):
            line = line.strip()
            if not line or line.startswith("//"):
                continue
            entry = _ENTRY.match(line)
            if not entry:
                raise SystemExit(f"{file}: unexpected line {line!r}")
            key, mask = (entry.group(1), entry.group(2)), int(entry.group(3))
            _add(table, key, mask)
            _add(union, key, mask)
    return union, parts


# --------------------------------------------------------------------------------------------
# --check: a set of fitted estimators, pickled for real.

def fitted_estimators():
    import numpy as np
    from sklearn import (calibration, cluster, compose, covariance, cross_decomposition,
                         decomposition, discriminant_analysis, dummy, ensemble,
                         feature_extraction, feature_selection, gaussian_process, impute,
                         isotonic, kernel_approximation, linear_model, mixture, model_selection,
                         multiclass, naive_bayes, neighbors, neural_network, pipeline,
                         preprocessing, svm, tree)
    from sklearn.datasets import make_classification, make_regression
    X, y = make_classification(n_samples=80, n_features=6, n_informative=3, random_state=0)
    X3, y3 = make_classification(n_samples=90, n_features=6, n_informative=4, n_classes=3,
                                 random_state=0)
    Xr, yr = make_regression(n_samples=80, n_features=6, random_state=0)
    Xp, yp = np.abs(Xr), np.abs(yr) + 1.0
    docs = ["alpha beta gamma", "beta gamma delta", "gamma delta alpha"]
    rng = np.random.RandomState(0)
    lm, en, nb = linear_model, ensemble, neighbors
    fits = [
        (lm.LinearRegression(), Xr, yr), (lm.LogisticRegression(), X3, y3),
        (lm.Ridge(), Xr, yr), (lm.Lasso(), Xr, yr), (lm.ElasticNet(), Xr, yr),
        (lm.SGDClassifier(random_state=0), X, y),
        (lm.SGDClassifier(loss="log_loss", random_state=0), X, y),
        (lm.SGDClassifier(loss="modified_huber", random_state=0), X, y),
        (lm.SGDRegressor(random_state=0), Xr, yr),
        (lm.SGDRegressor(loss="huber", random_state=0), Xr, yr),
        (lm.SGDRegressor(loss="epsilon_insensitive", random_state=0), Xr, yr),
        (lm.Perceptron(), X, y), (lm.PassiveAggressiveClassifier(), X, y),
        (lm.PoissonRegressor(), Xp, yp), (lm.TweedieRegressor(power=1.5), Xp, yp),
        (lm.HuberRegressor(), Xr, yr), (lm.BayesianRidge(), Xr, yr),
        (lm.RANSACRegressor(random_state=0), Xr, yr),
        (tree.DecisionTreeClassifier(random_state=0), X, y),
        (tree.DecisionTreeRegressor(random_state=0), Xr, yr),
        (en.RandomForestClassifier(n_estimators=3, random_state=rng), X, y),
        (en.ExtraTreesRegressor(n_estimators=3, random_state=0), Xr, yr),
        (en.GradientBoostingClassifier(n_estimators=3), X3, y3),
        (en.GradientBoostingRegressor(n_estimators=3, loss="huber"), Xr, yr),
        (en.HistGradientBoostingClassifier(max_iter=3), X, y),
        (en.HistGradientBoostingClassifier(max_iter=3), X3, y3),
        (en.HistGradientBoostingRegressor(max_iter=3, loss="poisson"), Xp, yp),
        (en.AdaBoostClassifier(n_estimators=3), X, y),
        (en.BaggingRegressor(n_estimators=3), Xr, yr),
        (en.IsolationForest(n_estimators=3, random_state=0), X, None),
        (en.StackingClassifier([("t", tree.DecisionTreeClassifier())]), X, y),
        (en.VotingRegressor([("l", lm.Ridge()), ("t", tree.DecisionTreeRegressor())]), Xr, yr),
        (nb.KNeighborsClassifier(algorithm="kd_tree"), X, y),
        (nb.KNeighborsRegressor(algorithm="ball_tree", metric="manhattan"), Xr, yr),
        (nb.NearestNeighbors(algorithm="brute", metric="cosine"), X, None),
        (nb.KernelDensity(), X, None), (nb.LocalOutlierFactor(novelty=True), X, None),
        (nb.KDTree(X), None, None), (nb.BallTree(X, metric="chebyshev"), None, None),
        (cluster.KMeans(n_clusters=2, n_init=1, random_state=0), X, None),
        (cluster.MiniBatchKMeans(n_clusters=2, n_init=1, random_state=0), X, None),
        (cluster.DBSCAN(), X, None), (cluster.Birch(n_clusters=2), X, None),
        (cluster.AgglomerativeClustering(), X, None),
        (decomposition.PCA(2), X, None), (decomposition.TruncatedSVD(2), X, None),
        (decomposition.NMF(2, max_iter=20), np.abs(X), None),
        (decomposition.KernelPCA(2, kernel="rbf"), X, None),
        (svm.SVC(probability=True, random_state=0), X, y), (svm.LinearSVC(), X, y),
        (svm.SVR(), Xr, yr), (svm.OneClassSVM(), X, None),
        (neural_network.MLPClassifier(max_iter=5, random_state=0), X, y),
        (neural_network.MLPRegressor(max_iter=5, solver="sgd", random_state=0), Xr, yr),
        (naive_bayes.GaussianNB(), X, y), (naive_bayes.MultinomialNB(), np.abs(X), y),
        (discriminant_analysis.LinearDiscriminantAnalysis(), X, y),
        (discriminant_analysis.QuadraticDiscriminantAnalysis(reg_param=0.1), X, y),
        (gaussian_process.GaussianProcessRegressor(
            kernel=gaussian_process.kernels.RBF() + gaussian_process.kernels.WhiteKernel()),
         Xr, yr),
        (gaussian_process.GaussianProcessClassifier(), X, y),
        (mixture.GaussianMixture(2, random_state=0), X, None),
        (covariance.LedoitWolf(), X, None), (covariance.EllipticEnvelope(), X, None),
        (cross_decomposition.PLSRegression(2), Xr, yr),
        (isotonic.IsotonicRegression(), Xr[:, 0], yr),
        (calibration.CalibratedClassifierCV(cv=2), X, y),
        (multiclass.OneVsRestClassifier(lm.LogisticRegression()), X3, y3),
        (feature_selection.SelectKBest(k=2), X, y),
        (feature_selection.SelectKBest(feature_selection.mutual_info_regression, k=2), Xr, yr),
        (feature_selection.RFE(lm.LinearRegression(), n_features_to_select=2), Xr, yr),
        (feature_selection.VarianceThreshold(), X, None),
        (kernel_approximation.RBFSampler(random_state=0), X, None),
        (kernel_approximation.Nystroem(n_components=5), X, None),
        (preprocessing.StandardScaler(), X, None), (preprocessing.MinMaxScaler(), X, None),
        (preprocessing.QuantileTransformer(n_quantiles=10), X, None),
        (preprocessing.PolynomialFeatures(), X, None),
        (preprocessing.KBinsDiscretizer(n_bins=3), X, None),
        (preprocessing.SplineTransformer(), X, None),
        (preprocessing.FunctionTransformer(np.log1p, np.expm1), np.abs(X), None),
        (preprocessing.LabelEncoder(), y, None), (preprocessing.LabelBinarizer(), y3, None),
        (preprocessing.OneHotEncoder(), np.round(X), None),
        (impute.SimpleImputer(), X, None), (impute.KNNImputer(), X, None),
        (dummy.DummyRegressor(), Xr, yr),
        (feature_extraction.text.TfidfVectorizer(), docs, None),
        (feature_extraction.text.CountVectorizer(ngram_range=(1, 2)), docs, None),
        (feature_extraction.DictVectorizer(), [{"a": 1.0}, {"b": 2.0}], None),
        (model_selection.GridSearchCV(lm.Ridge(), {"alpha": [0.5, 1.0]}, cv=2), Xr, yr),
        (model_selection.RandomizedSearchCV(tree.DecisionTreeClassifier(),
                                            {"max_depth": [1, 2]}, n_iter=2, cv=2), X, y),
        (pipeline.make_pipeline(
            compose.ColumnTransformer([("s", preprocessing.StandardScaler(), [0, 1]),
                                       ("o", preprocessing.OneHotEncoder(), [2])]),
            lm.Ridge()), np.round(Xr), yr),
        (pipeline.make_union(decomposition.PCA(1), preprocessing.StandardScaler()), X, None),
    ]
    models = []
    for est, a, b in fits:
        if a is None:
            models.append(est)
        else:
            models.append(est.fit(a) if b is None else est.fit(a, b))
    return models


def check(inc_dir, globals_out, pickles_out):
    warnings.simplefilter("ignore")
    union, parts = read_allowlists(inc_dir)
    problems = []
    # (a) the committed generated lists hold everything this stack generates.
    current = collect()
    for part, rows in current["parts"].items():
        table = parts.get(part, {})
        for module, name, mask in rows:
            have = table.get((module, name), 0)
            if have & mask != mask:
                problems.append(f"trust_allowlist_{part}.inc: {module}.{name} needs mask {mask}, "
                                f"has {have} (regenerate)")
    # (b) every global of real pickles of fitted estimators is covered, with its usage.
    seen = {}
    models = fitted_estimators()
    if pickles_out:
        os.makedirs(pickles_out, exist_ok=True)
        for stale in os.listdir(pickles_out):
            if stale.endswith(".pkl"):
                os.remove(os.path.join(pickles_out, stale))
    for index, model in enumerate(models):
        for key, mask in globals_of(model).items():
            _add(seen, key, mask)
        if pickles_out:  # the same pickles (in-band), for the C++ test to run through the VM
            for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
                name = f"{index:03d}_{type(model).__name__}_p{protocol}.pkl"
                with open(os.path.join(pickles_out, name), "wb") as f:
                    f.write(pickle.dumps(model, protocol=protocol))
    for (module, name), mask in sorted(seen.items()):
        have = union.get((module, name), 0)
        if have & mask != mask:
            problems.append(f"pickles of fitted estimators use {module}.{name} with mask {mask};"
                            f" the allowlists give {have}")
    if globals_out:
        with open(globals_out, "w") as f:
            for (module, name), mask in sorted(seen.items()):
                f.write(f"{module}\t{name}\t{mask}\n")
    print(f"stack: {current['stack']}")
    print(f"checked {sum(len(r) for r in current['parts'].values())} generated entries and "
          f"{len(seen)} globals from {len(models)} fitted estimators (protocols 0-5)")
    for p in problems:
        print("MISSING:", p)
    return 1 if problems else 0


# The helper classes PyMilo files name by class only, besides the estimators.
PYMILO_HELPERS = (
    ("sklearn.tree._tree", "Tree"),
    ("sklearn.ensemble._hist_gradient_boosting.predictor", "TreePredictor"),
    ("sklearn.ensemble._hist_gradient_boosting.binning", "_BinMapper"),
    ("sklearn.neural_network._stochastic_optimizers", "AdamOptimizer"),
)


def collect_class_modules():
    """{sklearn_version, numpy_core, classes: {class name: defining module}} of this stack."""
    import numpy
    import sklearn
    from sklearn.utils import all_estimators
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classes = {name: cls.__module__ for name, cls in all_estimators()}
    for module, name in PYMILO_HELPERS:
        cls = getattr(importlib.import_module(module), name)
        classes[name] = cls.__module__
    core = "numpy._core" if int(numpy.__version__.split(".")[0]) >= 2 else "numpy.core"
    return {"sklearn_version": sklearn.__version__, "numpy_core": core, "classes": classes}


def write_class_modules(path, tables):
    names = sorted(set().union(*(t["classes"] for t in tables)))
    with open(path, "w") as f:
        f.write("// GENERATED by plugins/sklearn/tools/gen_sklearn_allowlist.py --regenerate; do not"
                " edit.\n// scikit-learn class name -> defining module, per Python stack (\"\" when"
                " the stack lacks it).\n")
        f.write("struct ClassModuleStack {\n    const char* sklearn_version;\n"
                "    const char* numpy_core;\n};\n")
        f.write("constexpr ClassModuleStack kClassModuleStacks[] = {\n")
        for t in tables:
            f.write(f'    {{"{t["sklearn_version"]}", "{t["numpy_core"]}"}},\n')
        f.write("};\n")
        f.write(f"struct ClassModule {{\n    const char* name;\n"
                f"    const char* modules[{len(tables)}];\n}};\n")
        f.write("constexpr ClassModule kClassModules[] = {\n")
        for n in names:
            mods = ", ".join(f'"{t["classes"].get(n, "")}"' for t in tables)
            f.write(f'    {{"{n}", {{{mods}}}}},\n')
        f.write("};\n")


def regenerate_class_modules():
    tables = []
    for python in STACKS:
        out = subprocess.run([python, os.path.abspath(__file__), "--collect-class-modules"],
                             check=True, capture_output=True, text=True).stdout
        tables.append(json.loads(out))
    path = os.path.join(ROOT, "plugins", "sklearn", "src", "pymilo_class_modules.inc")
    write_class_modules(path, tables)
    print(f"{path}: " + ", ".join(f"{t['sklearn_version']} {len(t['classes'])} classes"
                                  for t in tables))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group(required=True)
    mode.add_argument("--regenerate", action="store_true")
    mode.add_argument("--collect", metavar="OUT_JSON")
    mode.add_argument("--write", nargs="+", metavar=("DIR", "JSON"))
    mode.add_argument("--check", metavar="INC_DIR")
    mode.add_argument("--class-modules", action="store_true")
    mode.add_argument("--collect-class-modules", action="store_true")
    ap.add_argument("--globals-out", metavar="FILE")
    ap.add_argument("--pickles-out", metavar="DIR")
    args = ap.parse_args()
    if args.collect:
        with open(args.collect, "w") as f:
            json.dump(collect(), f, indent=0)
        return 0
    if args.write:
        if len(args.write) < 2:
            ap.error("--write needs DIR and at least one JSON")
        write(args.write[0], [json.load(open(p)) for p in args.write[1:]])
        return 0
    if args.check:
        return check(args.check, args.globals_out, args.pickles_out)
    if args.collect_class_modules:
        json.dump(collect_class_modules(), sys.stdout)
        return 0
    if args.class_modules:
        regenerate_class_modules()
        return 0
    collections = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, python in enumerate(STACKS):
            out = os.path.join(tmp, f"{i}.json")
            subprocess.run([python, os.path.abspath(__file__), "--collect", out], check=True)
            collections.append(json.load(open(out)))
    for c in collections:
        skipped = f": {', '.join(c['skipped'])}" if c["skipped"] else ""
        print(f"{c['stack']}: {len(c['skipped'])} modules failed to import{skipped}")
    write(os.path.join(ROOT, "sdk", "readers", "src"), collections)
    regenerate_class_modules()
    return 0


if __name__ == "__main__":
    sys.exit(main())
