#!/usr/bin/env python3
"""Fidelity sweep of the sklearn plugin over every scikit-learn estimator.

For each class that sklearn.utils.all_estimators() lists: construct it (scikit-learn's own
test-instance helpers first), fit it on a small deterministic data set suited to its tags, check
that a plain pickle round trip gives back an equal object (if not, the estimator is excluded:
pickle itself is not faithful for it), then send it "through" Milo and compare the result with
the original: same class, same parameters, every attribute bit-identical, same outputs of every
prediction method on held-out rows.

    --through pickle  plain pickle.dumps/loads (validates the sweep itself)
    --through milo    milo.dump(est, x.json|x.yaml|x.pb) then milo.load(...) (all three)
    --through cli     pickle (protocols 2, 4, 5) and joblib files (each compression) converted
                      by the `milo` tool to JSON and back to .pkl, loaded by milo.load

Runs under either stack (Debian's scikit-learn 1.2.1 + numpy 1.24, or the venv's newest
scikit-learn + numpy 2.x). Exit status: 0 all attempted estimators passed, 1 some failed,
77 skipped (no scikit-learn, or --require-plugin names a missing plugin), 2 usage errors.
"""

import os

# One thread per library: the machine is shared, and threaded reductions may change the last bit.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import inspect
import json
import pickle
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import types
import warnings

PREDICTION_METHODS = (
    "predict", "predict_proba", "predict_log_proba", "predict_joint_log_proba",
    "decision_function", "transform", "score_samples", "score", "apply", "decision_path",
    "kneighbors", "mahalanobis", "staged_predict", "staged_predict_proba",
    "staged_decision_function",
)
MAX_DIFFERENCES = 20   # per comparison; the first ones are what a person reads anyway
MAX_DEPTH = 200        # nesting depth of the compared object graphs
FIT_SECONDS = 120      # a fit that takes longer on these tiny data sets is a bug of the sweep
CLI_SECONDS = 120

_np = None       # numpy and scipy.sparse, imported on first use (absence means "skipped")
_sparse = None


def _import_numpy():
    global _np, _sparse
    if _np is None:
        import numpy
        import scipy.sparse
        _np, _sparse = numpy, scipy.sparse


# ---------------------------------------------------------------------------------------------
# Comparison


class Comparer:
    """Compares two object graphs: bit-exact floats and arrays, same types, same sharing."""

    def __init__(self):
        _import_numpy()
        self.differences = []
        self._pairs = {}       # id(original part) -> id(loaded part): sharing must match
        self._reverse = {}
        self._keepalive = []   # memoised objects stay alive so their ids are not reused

    def add(self, path, what):
        if len(self.differences) < MAX_DIFFERENCES:
            self.differences.append(f"{path}: {what}")

    def full(self):
        return len(self.differences) >= MAX_DIFFERENCES

    def same_sharing(self, a, b, path):
        """True when (a, b) was already compared; records the pair otherwise."""
        ia, ib = id(a), id(b)
        if ia in self._pairs or ib in self._reverse:
            if self._pairs.get(ia) != ib or self._reverse.get(ib) != ia:
                self.add(path, "object sharing differs (an object shared in one graph is not "
                               "the same shared object in the other)")
            return True
        self._pairs[ia] = ib
        self._reverse[ib] = ia
        self._keepalive.append((a, b))
        return False

    def value(self, a, b, path, depth=0):
        if self.full():
            return
        if depth > MAX_DEPTH:
            self.add(path, f"nested deeper than {MAX_DEPTH}")
            return
        if type(a) is not type(b):
            self.add(path, f"type {_type_name(a)} vs {_type_name(b)}")
            return
        np = _np
        if a is None or isinstance(a, (bool, int, str, bytes, bytearray, range)) \
                or a is Ellipsis or a is NotImplemented:
            if a != b:
                self.add(path, f"{_short(a)} vs {_short(b)}")
        elif isinstance(a, float):
            if struct.pack("<d", a) != struct.pack("<d", b):
                self.add(path, f"float {a!r} vs {b!r} (bits differ)")
        elif isinstance(a, complex):
            if struct.pack("<dd", a.real, a.imag) != struct.pack("<dd", b.real, b.imag):
                self.add(path, f"complex {a!r} vs {b!r} (bits differ)")
        elif isinstance(a, np.ndarray):
            if not self.same_sharing(a, b, path):
                self.array(a, b, path, depth)
        elif isinstance(a, np.generic):
            if a.dtype != b.dtype or a.tobytes() != b.tobytes():
                self.add(path, f"numpy scalar {a!r} ({a.dtype}) vs {b!r} ({b.dtype})")
        elif isinstance(a, np.dtype):
            if a != b or a.descr != b.descr or a.itemsize != b.itemsize:
                self.add(path, f"dtype {a!r} vs {b!r}")
        elif _is_named_callable(a):
            if a is not b and _qualified(a) != _qualified(b):
                self.add(path, f"{_qualified(a)} vs {_qualified(b)}")
        elif isinstance(a, (list, tuple)):
            if isinstance(a, list) and self.same_sharing(a, b, path):
                return
            self.sequence(a, b, path, depth)
        elif isinstance(a, dict):
            if not self.same_sharing(a, b, path):
                self.mapping(a, b, path, depth)
        elif isinstance(a, (set, frozenset)):
            if a != b:
                self.add(path, f"set {_short(a)} vs {_short(b)}")
        elif self.same_sharing(a, b, path):
            return
        elif isinstance(a, np.random.RandomState):
            self.value(a.get_state(), b.get_state(), path + ".get_state()", depth + 1)
        elif isinstance(a, np.random.Generator):
            self.value(a.bit_generator.state, b.bit_generator.state,
                       path + ".bit_generator.state", depth + 1)
        elif isinstance(a, np.random.BitGenerator):
            self.value(a.state, b.state, path + ".state", depth + 1)
        elif _sparse.issparse(a):
            self.sparse(a, b, path, depth)
        elif _is_estimator(a):
            self.estimator(a, b, path, depth)
        elif type(a).__name__ == "Tree" and type(a).__module__ == "sklearn.tree._tree":
            self.value(a.__reduce__()[1], b.__reduce__()[1], path + ".__reduce__()[1]", depth + 1)
            self.value(a.__getstate__(), b.__getstate__(), path + ".__getstate__()", depth + 1)
        elif isinstance(a, types.MethodType):
            self.value(a.__func__, b.__func__, path + ".__func__", depth + 1)
            self.value(a.__self__, b.__self__, path + ".__self__", depth + 1)
        else:
            self.reduced(a, b, path, depth)

    def array(self, a, b, path, depth):
        np = _np
        if a.dtype != b.dtype or a.dtype.descr != b.dtype.descr:
            self.add(path, f"dtype {a.dtype!r} vs {b.dtype!r}")
            return
        if a.shape != b.shape:
            self.add(path, f"shape {a.shape} vs {b.shape}")
            return
        if isinstance(a, np.ma.MaskedArray):
            self.array(np.ma.getmaskarray(a), np.ma.getmaskarray(b), path + ".mask", depth + 1)
            # The effective fill value, read on views: reading it fills it in, changing the
            # object, and pickle itself stores an unset one as set, a str as a numpy str.
            fill_a, fill_b = (np.asarray(x.view(type(x)).fill_value) for x in (a, b))
            self.array(fill_a, fill_b, path + ".fill_value", depth + 1)
            a, b = np.ma.getdata(a), np.ma.getdata(b)
        if a.dtype.fields:
            # Field by field: padding bytes between fields carry no value.
            for name in a.dtype.names:
                self.array(a[name], b[name], f"{path}[{name!r}]", depth + 1)
        elif a.dtype.hasobject:
            flat_a, flat_b = a.reshape(-1), b.reshape(-1)
            for i in range(flat_a.size):
                self.value(flat_a[i], flat_b[i], f"{path}.flat[{i}]", depth + 1)
                if self.full():
                    return
        elif np.ascontiguousarray(a).tobytes() != np.ascontiguousarray(b).tobytes():
            flat_a, flat_b = a.reshape(-1), b.reshape(-1)
            bad = [i for i in range(flat_a.size) if flat_a[i:i + 1].tobytes()
                   != flat_b[i:i + 1].tobytes()]
            self.add(path, f"{len(bad)} of {flat_a.size} elements differ in bits, first at "
                           f"flat[{bad[0]}]: {flat_a[bad[0]]!r} vs {flat_b[bad[0]]!r}")

    def sequence(self, a, b, path, depth):
        if len(a) != len(b):
            self.add(path, f"length {len(a)} vs {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            self.value(x, y, f"{path}[{i}]", depth + 1)

    def mapping(self, a, b, path, depth):
        keys_a, keys_b = list(a.keys()), list(b.keys())
        if keys_a != keys_b:
            missing = [k for k in keys_a if k not in b]
            extra = [k for k in keys_b if k not in a]
            what = "key order differs" if not missing and not extra else \
                f"missing keys {missing[:5]}, extra keys {extra[:5]}"
            self.add(path, what)
            return
        for k in keys_a:
            self.value(a[k], b[k], f"{path}[{k!r}]", depth + 1)
        if hasattr(a, "default_factory"):
            self.value(a.default_factory, b.default_factory, path + ".default_factory", depth + 1)

    def sparse(self, a, b, path, depth):
        if a.format != b.format or a.shape != b.shape:
            self.add(path, f"sparse {a.format} {a.shape} vs {b.format} {b.shape}")
            return
        parts = {"csr": ("indices", "indptr", "data"), "csc": ("indices", "indptr", "data"),
                 "bsr": ("indices", "indptr", "data"), "coo": ("row", "col", "data"),
                 "dia": ("offsets", "data")}.get(a.format)
        if parts is None:   # lil, dok: compare the canonical coordinate form
            a, b, parts = a.tocoo(), b.tocoo(), ("row", "col", "data")
        for name in parts:
            self.array(getattr(a, name), getattr(b, name), f"{path}.{name}", depth + 1)

    def estimator(self, a, b, path, depth):
        try:
            pa, pb = a.get_params(deep=False), b.get_params(deep=False)
        except Exception as e:  # noqa: BLE001 - reported, the attributes are still compared
            self.add(path, f"get_params failed: {_exc(e)}")
        else:
            self.mapping(pa, pb, path + ".get_params()", depth + 1)
        self.value(vars(a), vars(b), path + ".__dict__", depth + 1)

    def reduced(self, a, b, path, depth):
        """Any other object: compare what pickle would record for it (callable, args, state)."""
        try:
            ra, rb = a.__reduce_ex__(4), b.__reduce_ex__(4)
        except Exception as e:  # noqa: BLE001
            self.add(path, f"cannot reduce {_type_name(a)}: {_exc(e)}")
            return
        if isinstance(ra, str) or isinstance(rb, str):   # a global singleton
            if ra != rb:
                self.add(path, f"global {ra} vs {rb}")
            return
        ra, rb = list(ra), list(rb)
        for r in (ra, rb):   # list and dict items come as iterators
            for i in (3, 4):
                if i < len(r) and r[i] is not None:
                    r[i] = list(r[i])
        self.sequence(tuple(ra), tuple(rb), path + ".__reduce_ex__(4)", depth + 1)


def compare(original, loaded, X_test, y_test=None, checked=None):
    """Differences between an estimator and its copy (empty list: equal).

    Same class, get_params(deep=False), every attribute of vars() (nested values recursively,
    floats and arrays by bits, object sharing), then every prediction method that works on the
    original, called on the held-out X_test (and y_test for score), bit-exact. The names of
    the methods compared are appended to `checked` when given."""
    comparer = Comparer()
    comparer.value(original, loaded, type(original).__name__)
    for method, args in _prediction_calls(original, X_test, y_test):
        try:
            expected = _call(original, method, args)
        except Exception:  # noqa: BLE001 - the original cannot do it: nothing to compare
            continue
        if checked is not None:
            checked.append(method)
        try:
            got = _call(loaded, method, args)
        except Exception as e:  # noqa: BLE001
            comparer.add(f"{method}()", f"raises on the copy: {_exc(e)}")
            continue
        outputs = Comparer()
        outputs.value(expected, got, f"{method}()")
        if outputs.differences:
            again = Comparer()   # a method that differs from itself proves nothing
            try:
                again.value(expected, _call(original, method, args), f"{method}()")
            except Exception:  # noqa: BLE001
                pass
            if again.differences:
                continue
        for d in outputs.differences:
            comparer.add(d.split(": ", 1)[0], d.split(": ", 1)[1])
    return comparer.differences


def _prediction_calls(est, X_test, y_test):
    for method in PREDICTION_METHODS:
        try:
            if not callable(getattr(est, method, None)):
                continue
        except Exception:  # noqa: BLE001 - available_if and friends may raise anything
            continue
        if method == "score" and y_test is not None:
            yield method, (X_test, y_test)
        else:
            yield method, (X_test,)


def _call(est, method, args):
    out = getattr(est, method)(*args)
    if isinstance(out, types.GeneratorType):
        out = list(out)
    return out


def _is_estimator(x):
    return hasattr(x, "get_params") and hasattr(x, "__dict__") and not isinstance(x, type)


def _is_named_callable(x):
    return isinstance(x, (type, types.FunctionType, types.BuiltinFunctionType,
                          types.WrapperDescriptorType, types.MethodDescriptorType,
                          types.ModuleType, _np.ufunc))


def _qualified(x):
    if isinstance(x, types.ModuleType):
        return x.__name__
    module = getattr(x, "__module__", None) or ("numpy" if isinstance(x, _np.ufunc) else "?")
    return f"{module}.{getattr(x, '__qualname__', getattr(x, '__name__', '?'))}"


def _type_name(x):
    return f"{type(x).__module__}.{type(x).__qualname__}"


def _short(x, limit=60):
    text = repr(x)
    return text if len(text) <= limit else text[:limit] + "..."


def _exc(e):
    text = f"{type(e).__name__}: {e}".strip().replace("\n", " ")
    return text if len(text) <= 300 else text[:300] + "..."


# ---------------------------------------------------------------------------------------------
# Data sets and fitting


class Data:
    """Small deterministic data sets: 60 training rows and 12 held-out rows of each kind."""

    def __init__(self):
        np = _np
        rng = np.random.RandomState(0)
        n, n_train = 72, 60
        centers = np.array([[0.0, 0.0, 0.0, 0.0], [3.0, 3.0, -1.0, 1.0], [-3.0, 2.0, 2.0, -2.0]])
        labels = np.arange(n) % 3
        rng.shuffle(labels)
        X = centers[labels] + rng.normal(scale=1.0, size=(n, 4))
        y_reg = X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(scale=0.1, size=n)
        split = lambda a: (a[:n_train], a[n_train:])  # noqa: E731

        self.X, self.X_test = split(X)
        self.y_class, self.y_class_test = split(labels)
        self.y_binary, self.y_binary_test = split(labels % 2)
        self.y_reg, self.y_reg_test = split(y_reg)
        self.y_reg_pos, self.y_reg_pos_test = split(np.abs(y_reg) + 1.0)
        y_class2 = np.column_stack([labels, (X[:, 0] > np.median(X[:, 0])).astype(np.int64)])
        self.y_class2, self.y_class2_test = split(y_class2)
        self.y_reg2, self.y_reg2_test = split(np.column_stack([y_reg, 2.0 * X[:, 1] + X[:, 2]]))
        X_pos = X - X.min(axis=0) + 0.1
        self.X_pos, self.X_pos_test = split(X_pos)
        # Imputers get holes in fixed places, so their statistics and masks are not trivial.
        X_nan = X.copy()
        X_nan[::7, 1] = np.nan
        X_nan[3::11, 3] = np.nan
        self.X_nan, self.X_nan_test = split(X_nan)
        X_int = rng.randint(0, 3, size=(n, 4))
        X_int[:3] = np.arange(3)[:, None]   # every category appears in the training rows
        self.X_int, self.X_int_test = split(X_int)
        words = np.array(["alpha", "beta", "gamma", "delta"], dtype=object)
        X_cat = words[X_int]
        self.X_cat, self.X_cat_test = split(X_cat)
        vocabulary = ["red", "green", "blue", "fast", "slow", "cat", "dog", "big", "small", "old"]
        docs = [" ".join(vocabulary[(3 * c + j + i) % len(vocabulary)] for j in range(4 + c))
                for i, c in enumerate(labels)]
        self.docs, self.docs_test = docs[:n_train], docs[n_train:]
        dicts = [{"x0": float(r[0]), "x1": float(r[1]), "colour": ["red", "green", "blue"][c]}
                 for r, c in zip(X, labels)]
        self.dicts, self.dicts_test = dicts[:n_train], dicts[n_train:]
        names = np.array(["cat", "dog", "emu"])
        self.labels, self.labels_test = split(names[labels])
        tags = [tuple(sorted({names[c], names[(c + i) % 3]})) for i, c in enumerate(labels)]
        self.tag_sets, self.tag_sets_test = tags[:n_train], tags[n_train:]
        self.X_1d, self.X_1d_test = split(X[:, 0].copy())
        self.K, self.K_test = self.X @ self.X.T, self.X_test @ self.X.T
        images = rng.uniform(size=(8, 20, 20))
        self.images, self.images_test = images[:6], images[6:]


def _input_kind(est):
    """How the estimator is fed: a normalised view of the tags of either scikit-learn version."""
    kind = {"input": "2d", "positive_X": False, "multioutput_only": False,
            "positive_y": False, "binary_only": False, "type": None}
    name = type(est).__name__
    try:
        from sklearn.utils import get_tags  # scikit-learn >= 1.6
    except ImportError:
        get_tags = None
    if get_tags is not None:
        tags = get_tags(est)
        inp, target = tags.input_tags, tags.target_tags
        if inp.pairwise:
            kind["input"] = "pairwise"
        elif target.one_d_labels:
            kind["input"] = "1dlabels"
        elif target.two_d_labels:
            kind["input"] = "2dlabels"
        elif inp.three_d_array:
            kind["input"] = "3d"
        elif inp.one_d_array and not inp.two_d_array:
            kind["input"] = "1d"
        elif inp.string and not inp.two_d_array:
            kind["input"] = "string"
        elif inp.dict:
            kind["input"] = "dict"
        elif inp.categorical:
            kind["input"] = "categorical"
        kind["positive_X"] = inp.positive_only
        kind["multioutput_only"] = target.multi_output and not target.single_output
        kind["positive_y"] = target.positive_only
        kind["binary_only"] = tags.classifier_tags is not None and \
            not tags.classifier_tags.multi_class
        kind["type"] = tags.estimator_type
    else:
        tags = est._get_tags()
        x_types = tags["X_types"]
        if tags["pairwise"]:
            kind["input"] = "pairwise"
        elif "1dlabels" in x_types:
            kind["input"] = "1dlabels"
        elif "2dlabels" in x_types:
            kind["input"] = "2dlabels"
        elif "3darray" in x_types:
            kind["input"] = "3d"
        elif "1darray" in x_types:
            kind["input"] = "1d"
        elif "string" in x_types and "2darray" not in x_types:
            kind["input"] = "string"
        elif "dict" in x_types:
            kind["input"] = "dict"
        elif "categorical" in x_types:
            kind["input"] = "categorical"
        kind["positive_X"] = tags["requires_positive_X"]
        kind["multioutput_only"] = tags["multioutput_only"]
        kind["positive_y"] = tags["requires_positive_y"]
        kind["binary_only"] = tags["binary_only"]
        kind["type"] = getattr(est, "_estimator_type", None)
    if name == "SkewedChi2Sampler":   # transform needs X > -skewedness, untagged
        kind["positive_X"] = True
    if name == "CategoricalNB":   # 1.2.1 tags it as plain positive 2-D input
        kind["input"] = "categorical"
        kind["positive_X"] = True
    if name in ("SimpleImputer", "KNNImputer", "IterativeImputer", "MissingIndicator"):
        kind["input"] = "nan"
    return kind


def _fit_data(est, kind, data):
    """(fit args, held-out X, held-out y or None) for this estimator."""
    inp = kind["input"]
    if inp == "1dlabels":
        return (data.labels,), data.labels_test, None
    if inp == "2dlabels":
        return (data.tag_sets,), data.tag_sets_test, None
    X, X_test = {
        "2d": (data.X, data.X_test), "pairwise": (data.K, data.K_test),
        "3d": (data.images, data.images_test), "1d": (data.X_1d, data.X_1d_test),
        "string": (data.docs, data.docs_test), "dict": (data.dicts, data.dicts_test),
        "nan": (data.X_nan, data.X_nan_test),
        "categorical": (data.X_int, data.X_int_test) if kind["positive_X"]
        else (data.X_cat, data.X_cat_test),
    }[inp]
    if kind["positive_X"] and inp == "2d":
        X, X_test = data.X_pos, data.X_pos_test
    try:
        parameters = inspect.signature(est.fit).parameters
        takes_y = "y" in parameters or "Y" in parameters
    except (TypeError, ValueError):
        takes_y = True
    if not takes_y:
        return (X,), X_test, None
    if kind["type"] == "regressor":
        if kind["multioutput_only"]:
            y, y_test = data.y_reg2, data.y_reg2_test
        elif kind["positive_y"]:
            y, y_test = data.y_reg_pos, data.y_reg_pos_test
        else:
            y, y_test = data.y_reg, data.y_reg_test
    elif kind["multioutput_only"]:
        y, y_test = data.y_class2, data.y_class2_test
    elif kind["binary_only"]:
        y, y_test = data.y_binary, data.y_binary_test
    else:
        y, y_test = data.y_class, data.y_class_test
    return (X, y), X_test, y_test


def _fallbacks(data):
    """Constructions for estimators whose required parameters the test helpers do not fill."""
    from sklearn.decomposition import PCA
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.preprocessing import MinMaxScaler, StandardScaler
    np = _np
    dictionary = np.random.RandomState(1).normal(size=(3, 4))
    dictionary /= np.linalg.norm(dictionary, axis=1, keepdims=True)
    search = dict(cv=2, error_score="raise")

    def frozen(cls):
        return cls(LogisticRegression(C=1).fit(data.X, data.y_class))
    return {
        "Pipeline": lambda cls: cls([("scale", StandardScaler()),
                                     ("clf", LogisticRegression(C=1))]),
        "FeatureUnion": lambda cls: cls([("pca", PCA(n_components=1)),
                                         ("scale", StandardScaler())]),
        # Not PCA here: its components_ is a strided view, which pickle stores contiguous, and
        # BLAS then rounds the column-selected product differently (plain pickle "fails").
        "ColumnTransformer": lambda cls: cls([("scale", StandardScaler(), [0, 1]),
                                              ("minmax", MinMaxScaler(), [2, 3])]),
        "GridSearchCV": lambda cls: cls(Ridge(), {"alpha": [0.1, 1.0]}, **search),
        "RandomizedSearchCV": lambda cls: cls(Ridge(), {"alpha": [0.1, 1.0]}, n_iter=2,
                                              **search),
        "HalvingGridSearchCV": lambda cls: cls(Ridge(), {"alpha": [0.1, 1.0]},
                                               min_resources="smallest", **search),
        "HalvingRandomSearchCV": lambda cls: cls(Ridge(), {"alpha": [0.1, 1.0]}, **search),
        "SparseCoder": lambda cls: cls(dictionary=dictionary),
        "FrozenEstimator": frozen,
    }


# Used even where a helper constructs the estimator: its instance does not fit our data.
_ALWAYS_FALLBACK = ("SparseCoder",)
# Parameters set after construction, so that the prediction methods work on the held-out rows
# (with the default radius of 1.0 some of them have no neighbour: predict raises).
_ADJUST = {"RadiusNeighborsClassifier": {"radius": 5.0},
           "RadiusNeighborsRegressor": {"radius": 5.0}}


def construct(cls, data):
    """An instance built the way scikit-learn's common tests build it (helpers differ by
    version), else from the fallback table, else with the default constructor."""
    name = cls.__name__
    fallbacks = _fallbacks(data)
    if name in _ALWAYS_FALLBACK:
        return fallbacks[name](cls)
    est, first_error = None, None
    try:
        from sklearn.utils._test_common.instance_generator import _construct_instances
        try:
            est = next(iter(_construct_instances(cls)))
        except Exception as e:  # noqa: BLE001 - SkipTest and friends
            first_error = e
    except ImportError:
        from sklearn.utils.estimator_checks import _construct_instance, _set_checking_parameters
        try:
            est = _construct_instance(cls)
            _set_checking_parameters(est)
        except Exception as e:  # noqa: BLE001
            first_error = e
    if est is None and name in fallbacks:
        est = fallbacks[name](cls)
    if est is None:
        try:
            est = cls()
        except Exception as e:
            raise RuntimeError(_exc(first_error or e)) from e
    # Every random_state, nested ones included, fixed to 0.
    seeds = {k: 0 for k in est.get_params(deep=True)
             if k == "random_state" or k.endswith("__random_state")}
    if seeds:
        est.set_params(**seeds)
    est.set_params(**_ADJUST.get(name, {}))
    return est


class _Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise _Timeout(f"took longer than {FIT_SECONDS} s")


def fit(est, data):
    """Fits est in place; returns (held-out X, held-out y or None)."""
    kind = _input_kind(est)
    args, X_test, y_test = _fit_data(est, kind, data)
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(FIT_SECONDS)
    try:
        est.fit(*args)
    finally:
        signal.alarm(0)
    return X_test, y_test


# ---------------------------------------------------------------------------------------------
# The ways through


# Each through_* gives [(label, function returning the copy, native reader or None)]. The native
# reader loads the intermediate native file with its own library (pickle, joblib): where that
# already differs from the original (joblib stores a shared array once per use), the copy is
# held to what the file holds instead.


def through_pickle(est, workdir):
    """The identity step, to validate the sweep."""
    return [("pickle", lambda: pickle.loads(pickle.dumps(est, protocol=pickle.HIGHEST_PROTOCOL)),
             None)]


def through_milo(est, workdir):
    """milo.dump to each document format, milo.load back."""
    import milo

    def one(ext):
        def run():
            path = os.path.join(workdir, "x." + ext)
            milo.dump(est, path)
            return milo.load(path)
        return run
    return [(ext, one(ext), None) for ext in ("json", "yaml", "pb")]


def _cli(cli, *args):
    proc = subprocess.run([cli, *args], capture_output=True, text=True, timeout=CLI_SECONDS)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"milo {' '.join(os.path.basename(a) for a in args)} exited "
                           f"{proc.returncode}: {' | '.join(tail)}")


def through_cli(est, workdir, cli):
    """Native files (pickle protocols 2/4/5, joblib with each compression) converted by the
    milo tool to a JSON document and back to a pickle, which milo.load reads (restricted
    unpickling: nothing but the document's trusted names is imported)."""
    import joblib
    import milo

    sources = [(f"pickle-p{p}", f"p{p}.pkl", lambda path, p=p: _write_pickle(est, path, p),
                _read_pickle) for p in (2, 4, 5)]
    methods = ["none", "zlib", "gzip", "bz2", "xz", "lzma"]
    try:
        import lz4.frame  # noqa: F401 - joblib's lz4 compression needs it
        methods.append("lz4")
    except ImportError:
        pass
    for m in methods:
        compress = 0 if m == "none" else (m, 3)
        sources.append((f"joblib-{m}", f"{m}.joblib",
                        lambda path, c=compress: joblib.dump(est, path, compress=c), joblib.load))

    def one(file_name, write):
        def run():
            src = os.path.join(workdir, file_name)
            doc = src + ".json"
            back = src + ".back.pkl"
            write(src)
            _cli(cli, "convert", src, doc)
            _cli(cli, "convert", doc, back)
            return milo.load(back)
        return run
    return [(label, one(file_name, write),
             lambda f=file_name, r=read: r(os.path.join(workdir, f)))
            for label, file_name, write, read in sources]


def _write_pickle(est, path, protocol):
    with open(path, "wb") as f:
        pickle.dump(est, f, protocol=protocol)


def _read_pickle(path):
    with open(path, "rb") as f:
        return pickle.load(f)


# ---------------------------------------------------------------------------------------------
# The sweep


def pickle_bytes_note(original, loaded, reference):
    """Whether pickle.dumps(loaded) == pickle.dumps(original) (protocol 4): 'identical', or
    'differ' with why. `reference` is the copy the native library itself makes of the same
    input (pickle.load of the same pickle file, joblib.load of the same joblib file, a plain
    pickle copy for milo.dump). The estimator "pickles deterministically" through that input
    when the reference pickles to the original's bytes; then a difference is a failure
    (BYTES_FAILURE). Otherwise the reference differs too (numpy dtype singletons become
    separate objects, joblib stores a shared array once per use ...) and the note only records
    it."""
    try:
        first = pickle.dumps(original, protocol=4)
        got = pickle.dumps(loaded, protocol=4)
        if got == first:
            return "identical"
        if pickle.dumps(original, protocol=4) != first:
            return "differ (the original pickles differently twice)"
        copy = pickle.dumps(reference, protocol=4)
        if copy == first:
            return BYTES_FAILURE
        if got == copy:
            return "differ (as the native library's own copy does)"
        return "differ (the native library's own copy differs too, in another way)"
    except Exception as e:  # noqa: BLE001
        return f"differ (pickling failed: {_exc(e)})"


BYTES_FAILURE = "differ (the native library's own copy is identical)"


def sweep_one(name, cls, data, through, workdir):
    record = {"name": name, "module": cls.__module__}
    start = time.perf_counter()
    try:
        est = construct(cls, data)
    except Exception as e:  # noqa: BLE001
        record.update(status="SKIP", stage="construct", reason=f"cannot construct: {_exc(e)}")
        return record
    try:
        X_test, y_test = fit(est, data)
    except BaseException as e:  # noqa: BLE001 - includes the fit alarm
        if isinstance(e, KeyboardInterrupt):
            raise
        record.update(status="SKIP", stage="fit", reason=f"cannot fit: {_exc(e)}")
        return record

    methods = []
    try:
        differences = compare(est, pickle.loads(pickle.dumps(est)), X_test, y_test, methods)
    except Exception as e:  # noqa: BLE001
        differences = [_exc(e)]
    record["methods"] = methods
    if differences:
        record.update(status="EXCLUDED", reason=f"plain pickle fails: {differences[0]}",
                      differences=differences)
        return record

    failures, notes, lossy = [], {}, {}
    for label, run, read_native in through(est, workdir):
        try:
            loaded = run()
        except Exception as e:  # noqa: BLE001
            failures.append(f"[{label}] {_exc(e)}")
            continue
        try:
            reference = (read_native() if read_native is not None else
                         pickle.loads(pickle.dumps(est, protocol=5)))
            notes[label] = pickle_bytes_note(est, loaded, reference)
        except Exception as e:  # noqa: BLE001
            notes[label] = f"differ (the native copy failed: {_exc(e)})"
        if notes[label] == BYTES_FAILURE:
            failures.append(f"[{label}] pickle.dumps(loaded) != pickle.dumps(original), though "
                            "the estimator pickles deterministically (the native library's own "
                            "copy of the same input gives the original's bytes)")
        try:
            diffs = compare(est, loaded, X_test, y_test)
            if diffs and read_native is not None:
                native = read_native()
                native_diffs = compare(est, native, X_test, y_test)
                if native_diffs:
                    lossy[label] = native_diffs[0]
                    diffs = compare(native, loaded, X_test, y_test)
        except Exception as e:  # noqa: BLE001
            diffs = [f"comparison raised {_exc(e)}"]
        failures.extend(f"[{label}] {d}" for d in diffs)
    record["pickle_bytes"] = notes
    if lossy:   # compared with the native library's own reading of the file instead
        record["native_file_differs"] = lossy
    record["seconds"] = round(time.perf_counter() - start, 3)
    if failures:
        record.update(status="FAIL", reason=failures[0], differences=failures)
    else:
        record["status"] = "PASS"
    return record


def _line(record):
    status = record["status"]
    if status == "PASS":
        counts = {}
        for note in record["pickle_bytes"].values():
            counts[note] = counts.get(note, 0) + 1
        detail = "pickle bytes: " + (next(iter(counts)) if len(counts) == 1 else
                                     "; ".join(f"{n} {note}" for note, n in counts.items()))
        lossy = record.get("native_file_differs")
        if lossy:   # the report names the files and what differs
            detail += (f"; {len(lossy)} files held to what their own library reads back, "
                       f"which differs from the original")
        return f"PASS  {record['name']} ({detail})"
    reason = record["reason"]
    more = len(record.get("differences", [])) - 1
    if status in ("FAIL", "EXCLUDED") and more > 0:
        reason += f" (+{more} more)"
    if status == "SKIP":
        return f"SKIP  {record['name']}: cannot construct or fit: {reason.split(': ', 1)[1]}"
    return f"{status}  {record['name']}: {reason}"


def self_test():
    """Proves the comparison can fail: each case corrupts a plain pickle copy of a fitted
    estimator in one way and expects a difference naming it; untouched copies must compare
    equal. Returns the number of failed cases."""
    np = _np
    import scipy.sparse
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression, SGDClassifier
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

    data = Data()
    up = lambda x: np.nextafter(x, np.inf)  # noqa: E731 - one ulp up
    linear = LinearRegression().fit(data.X, data.y_reg)
    linear.shared_a_ = linear.shared_b_ = np.arange(3.0)   # extra attributes, for sharing,
    linear.order_ = {"a": 1, "b": 2}                        # key order and type cases
    linear.pair_ = (1, 2)
    linear.count_ = 3
    linear.rng_ = np.random.default_rng(0)
    linear.matrix_ = scipy.sparse.csr_matrix(np.eye(3))
    linear.zero_ = 0.0
    linear.nan_ = float("nan")
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(data.X, data.y_class)
    pipeline = Pipeline([("scale", StandardScaler()),
                         ("clf", LogisticRegression())]).fit(data.X, data.y_class)
    sgd = SGDClassifier(random_state=np.random.RandomState(0), max_iter=5).fit(
        data.X, data.y_class)
    function = FunctionTransformer(func=np.log1p).fit(data.X_pos)
    encoder = OneHotEncoder().fit(data.X_cat)
    search = GridSearchCV(LinearRegression(), {"fit_intercept": [True, False]}, cv=2).fit(
        data.X, data.y_reg)

    def with_attr(name, value):
        return lambda c: setattr(c, name, value)

    def setitem(get, index, value_of):
        def run(c):
            array = get(c)
            array[index] = value_of(array[index])
        return run

    nan_payload = struct.unpack("<d", struct.pack("<Q", 0x7FF8000000000001))[0]
    cases = [  # (estimator, name, corruption of the copy, expected words in a difference)
        (linear, "float array element one ulp up", setitem(lambda c: c.coef_, 0, up), "bits"),
        (linear, "numpy float scalar one ulp up",
         lambda c: setattr(c, "intercept_", up(c.intercept_)), "intercept_"),
        (linear, "float64 array as float32", lambda c: setattr(c, "coef_", c.coef_.astype(
            np.float32)), "dtype"),
        (linear, "array reshaped", lambda c: setattr(c, "coef_", c.coef_.reshape(1, -1)),
         "shape"),
        (linear, "parameter changed", lambda c: c.set_params(fit_intercept=False),
         "get_params()['fit_intercept']"),
        (linear, "0.0 vs -0.0", with_attr("zero_", -0.0), "bits differ"),
        (linear, "NaN payload", with_attr("nan_", nan_payload), "bits differ"),
        (linear, "sharing broken", lambda c: setattr(c, "shared_b_", c.shared_b_.copy()),
         "sharing"),
        (linear, "dict key order", with_attr("order_", {"b": 2, "a": 1}), "key order"),
        (linear, "tuple as list", with_attr("pair_", [1, 2]), "type"),
        (linear, "int as numpy int", with_attr("count_", np.int64(3)), "type"),
        (linear, "Generator advanced", lambda c: c.rng_.random(), "bit_generator.state"),
        (linear, "sparse data one ulp up", setitem(lambda c: c.matrix_.data, 0, up), ".data"),
        (linear, "attribute missing", lambda c: delattr(c, "n_features_in_"), "missing keys"),
        (forest, "tree threshold one ulp up",
         setitem(lambda c: c.estimators_[1].tree_.threshold, 0, up), "threshold"),
        (forest, "class of a nested estimator",
         lambda c: setattr(c.estimators_[0], "__class__", type(c.estimators_[0]).__mro__[1]),
         "estimators_"),
        (pipeline, "nested step coefficient", setitem(lambda c: c.steps[1][1].coef_,
                                                      (0, 0), up), "steps"),
        (sgd, "RandomState advanced", lambda c: c.random_state.random_sample(), "get_state()"),
        (function, "function replaced", lambda c: setattr(c, "func", np.expm1), "expm1"),
        (encoder, "object array element", setitem(lambda c: c.categories_[0], 0,
                                                  lambda v: "zzz"), "flat[0]"),
        (search, "masked array mask",
         lambda c: c.cv_results_["param_fit_intercept"].__setmask__([True, False]), "mask"),
    ]
    failed = 0
    for est in {id(e): e for e, *_ in cases}.values():
        diffs = compare(est, pickle.loads(pickle.dumps(est)), data.X_test, data.y_class_test)
        if diffs:
            failed += 1
            print(f"FAIL  untouched copy of {type(est).__name__}: {diffs[0]}")
    for est, label, corrupt, words in cases:
        copy = pickle.loads(pickle.dumps(est))
        corrupt(copy)
        try:
            diffs = compare(est, copy, data.X_test, data.y_class_test)
        except Exception as e:  # noqa: BLE001
            diffs, words = [f"comparison raised {_exc(e)}"], "\0never"
        if any(words in d for d in diffs):
            print(f"PASS  {label}: {diffs[0]}")
        else:
            failed += 1
            print(f"FAIL  {label}: expected a difference with {words!r}, got {diffs[:3]}")
    # The pickle-bytes rule: a copy whose bytes differ fails only where the native library's
    # own copy keeps the original's bytes.
    from sklearn.impute import SimpleImputer
    imputer = SimpleImputer().fit(data.X)   # _fit_dtype is the dtype object of statistics_
    plain = pickle.loads(pickle.dumps(imputer))
    split = pickle.loads(pickle.dumps(imputer))
    split._fit_dtype = pickle.loads(pickle.dumps(split._fit_dtype))  # equal, no longer shared
    bytes_cases = [("dtype sharing broken", split, plain, BYTES_FAILURE),
                   ("plain copy", plain, plain, "identical")]
    for label, loaded, reference, want in bytes_cases:
        got = pickle_bytes_note(imputer, loaded, reference)
        if got == want:
            print(f"PASS  pickle bytes, {label}: {got}")
        else:
            failed += 1
            print(f"FAIL  pickle bytes, {label}: expected {want!r}, got {got!r}")
    passed = len(cases) + len({id(e) for e, *_ in cases}) + len(bytes_cases) - failed
    print(f"self-test: {passed} passed, {failed} failed")
    return failed


def _enumerate():
    # The experimental estimators join all_estimators() once enabled.
    import sklearn.experimental.enable_halving_search_cv  # noqa: F401
    import sklearn.experimental.enable_iterative_imputer  # noqa: F401
    from sklearn.utils import all_estimators
    return all_estimators()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--through", choices=("pickle", "milo", "cli"), default="pickle")
    parser.add_argument("--report", help="write the JSON report here")
    parser.add_argument("--only", help="comma-separated estimator class names")
    parser.add_argument("--milo-cli", help="the milo tool (default: `milo` on PATH)")
    parser.add_argument("--require-plugin",
                        help="exit 77 (skipped) unless this file (milo_sklearn.so) exists")
    parser.add_argument("--workdir", help="keep the intermediate files in this folder "
                                          "(default: a temporary folder, removed)")
    parser.add_argument("--self-test", action="store_true",
                        help="check that the comparison detects corrupted copies, then exit")
    args = parser.parse_args(argv)

    if args.require_plugin and not os.path.isfile(args.require_plugin):
        print(f"SKIPPED: sklearn plugin not built ({args.require_plugin} is missing)")
        return 77
    try:
        import numpy
        import sklearn
    except ImportError as e:
        print(f"SKIPPED: {sys.executable} has no scikit-learn ({e})")
        return 77
    _import_numpy()
    warnings.simplefilter("ignore")
    numpy.seterr(all="ignore")
    if args.self_test:
        return 1 if self_test() else 0

    through = {"pickle": through_pickle, "milo": through_milo}.get(args.through)
    if args.through in ("milo", "cli"):
        try:
            import milo  # noqa: F401
        except Exception as e:  # noqa: BLE001 - ImportError, or libmilo not loadable
            print(f"error: cannot import the milo Python adapter: {_exc(e)}", file=sys.stderr)
            return 2
    if args.through == "cli":
        cli = args.milo_cli or shutil.which("milo")
        if not cli or not os.access(cli, os.X_OK):
            print("error: the milo tool was not found (--milo-cli or PATH)", file=sys.stderr)
            return 2
        through = lambda est, workdir: through_cli(est, workdir, cli)  # noqa: E731

    estimators = _enumerate()
    if args.only:
        wanted = set(args.only.split(","))
        estimators = [(n, c) for n, c in estimators if n in wanted]
        if len(estimators) != len(wanted):
            print(f"error: unknown estimators {sorted(wanted - {n for n, _ in estimators})}",
                  file=sys.stderr)
            return 2
    stack = f"{sklearn.__version__}/{numpy.__version__}"
    print(f"stack {stack} (Python {sys.version.split()[0]}), through {args.through}: "
          f"{len(estimators)} estimators", flush=True)

    data = Data()
    records = []
    start = time.perf_counter()
    base = args.workdir or tempfile.mkdtemp(prefix="milo-sweep-")
    os.makedirs(base, exist_ok=True)
    try:
        for name, cls in estimators:
            workdir = tempfile.mkdtemp(prefix=name + "-", dir=base)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    record = sweep_one(name, cls, data, through, workdir)
            finally:
                if not args.workdir:
                    shutil.rmtree(workdir, ignore_errors=True)
            records.append(record)
            print(_line(record), flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(base, ignore_errors=True)
    seconds = time.perf_counter() - start

    count = {s: sum(r["status"] == s for r in records)
             for s in ("PASS", "FAIL", "EXCLUDED", "SKIP")}
    attempted = count["PASS"] + count["FAIL"]
    identical = sum(all(v == "identical" for v in r["pickle_bytes"].values())
                    for r in records if r["status"] == "PASS")
    print(f"stack {stack}: passed {count['PASS']} / attempted {attempted} "
          f"(excluded {count['EXCLUDED']}, not constructible {count['SKIP']}); "
          f"pickle bytes identical for {identical} of {count['PASS']} passed; "
          f"{seconds:.1f} s")
    if args.report:
        report = {
            "stack": {"sklearn": sklearn.__version__, "numpy": numpy.__version__,
                      "python": sys.version.split()[0], "executable": sys.executable},
            "through": args.through,
            "seconds": round(seconds, 3),
            "summary": {"enumerated": len(records), "passed": count["PASS"],
                        "failed": count["FAIL"], "attempted": attempted,
                        "excluded": count["EXCLUDED"], "not_constructible": count["SKIP"],
                        "pickle_bytes_identical": identical},
            "estimators": records,
        }
        with open(args.report, "w") as f:
            json.dump(report, f, indent=1)
    return 1 if count["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
