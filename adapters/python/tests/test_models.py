"""milo.dump/dumps/load/loads/scan/convert against the real sklearn transporter: estimators
and numpy arrays round-trip bit for bit through every document format, untrusted and dangerous
names are refused before anything is unpickled (and never run: canary files), and the
restricted unpickler imports nothing it was not told to.

Run by CTest twice: in the venv suite (sklearn parts skip when sklearn is missing there) and
as `python_adapter_models_test` with Debian's /usr/bin/python3 (scikit-learn, joblib), where
this file runs as a script and exits 77 when the sklearn plugin is not built."""

import os
import io
import pickle
import pickletools
import subprocess
import sys
import unittest

import milo
from milo import Trust

from adapter_test_support import TempDirTestCase, bits, np

try:
    import sklearn
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
except ImportError:
    sklearn = None

try:
    import joblib
except ImportError:
    joblib = None

from models_test_types import Gadget

GADGET = "models_test_types.Gadget"
LINEAR_REGRESSION = "sklearn.linear_model._base.LinearRegression"


SKLEARN_PLUGIN = os.path.join(milo.plugin_dir(), "milo_sklearn.so")


def sklearn_plugin_loaded():
    return any(t.id == "sklearn" for t in milo.default_registry().transporters())


# Built but failing to load is a failure (PluginTest), not a reason to skip.
PLUGIN_BUILT = sklearn_plugin_loaded() or os.path.exists(SKLEARN_PLUGIN)
requires_plugin = unittest.skipUnless(PLUGIN_BUILT, "sklearn plugin not built")
requires_numpy = unittest.skipUnless(np is not None, "numpy is not installed for this Python")
requires_sklearn = unittest.skipUnless(sklearn is not None,
                                       "scikit-learn is not installed for this Python")
requires_joblib = unittest.skipUnless(joblib is not None, "joblib is not installed")


def plain_round_trip_bytes(obj):
    """What pickle itself gives after one dump/load: the reference for the bytes of a loaded
    object (a plain round trip is not byte-identical to the first dump: arrays come back from
    bytearrays)."""
    return pickle.dumps(pickle.loads(pickle.dumps(obj, protocol=5)), protocol=5)


def assert_same_pickle(test, got, expected):
    """Equal pickle streams; else fails naming the first differing opcode."""
    if got == expected:
        return
    ops = [[(op.name, arg) for op, arg, _ in pickletools.genops(data) if op.name != "FRAME"]
           for data in (got, expected)]
    at = next((i for i, (x, y) in enumerate(zip(*ops)) if x != y), min(map(len, ops)))
    test.fail("pickle streams differ at opcode %d: %r instead of %r (%d vs %d opcodes)" % (
        at, ops[0][at:at + 3], ops[1][at:at + 3], len(ops[0]), len(ops[1])))


def short_unicode(text):
    data = text.encode("utf-8")
    return b"\x8c" + bytes([len(data)]) + data


def stack_global(module, name):
    """A protocol 4 stream that only looks `module`.`name` up (STACK_GLOBAL, STOP)."""
    return b"\x80\x04" + short_unicode(module) + short_unicode(name) + b"\x93."


class _Shell:
    """Unpickling runs os.system(command): the classic payload."""

    def __init__(self, command):
        self.command = command

    def __reduce__(self):
        return (os.system, (self.command,))


class _SaveFile:
    """Unpickling runs numpy.save(path, array): dangerous (writes files) for the transporter,
    but not on the Python side's short never-import list."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (np.save, (self.path, np.zeros(1)))


def run_with_plain_pickle(data):
    """Unpickles `data` with plain pickle in a child process (to prove a payload is live)."""
    subprocess.run([sys.executable, "-c", "import pickle, sys; "
                    "pickle.loads(sys.stdin.buffer.read())"], input=data, check=True)


class ModelTestCase(TempDirTestCase):
    def assert_same(self, a, b, where="obj", seen=None):
        """Same types, same state recursively, arrays by dtype, shape, order and bytes, floats
        by bit pattern."""
        seen = set() if seen is None else seen
        self.assertIs(type(a), type(b), where)
        if isinstance(a, float):
            self.assertEqual(bits(a), bits(b), where)
        elif np is not None and isinstance(a, np.ndarray):
            fortran = [x.flags.f_contiguous and not x.flags.c_contiguous for x in (a, b)]
            self.assertEqual((a.dtype, a.shape, fortran[0]), (b.dtype, b.shape, fortran[1]),
                             where)
            if a.dtype.hasobject:
                for i, (x, y) in enumerate(zip(a.ravel("K"), b.ravel("K"))):
                    self.assert_same(x, y, "%s[%d]" % (where, i), seen)
            else:
                self.assertEqual(a.tobytes("A"), b.tobytes("A"), where)
        elif np is not None and isinstance(a, np.generic):
            self.assertEqual((a.dtype, a.tobytes()), (b.dtype, b.tobytes()), where)
        elif isinstance(a, dict):
            self.assertEqual(list(a), list(b), where)
            for k in a:
                self.assert_same(a[k], b[k], "%s[%r]" % (where, k), seen)
        elif isinstance(a, (list, tuple)):
            self.assertEqual(len(a), len(b), where)
            for i, (x, y) in enumerate(zip(a, b)):
                self.assert_same(x, y, "%s[%d]" % (where, i), seen)
        elif isinstance(a, (type(None), bool, int, str, bytes, type)) or callable(a):
            self.assertEqual(a, b, where)
        else:
            if id(a) in seen:
                return
            seen.add(id(a))
            # __getstate__: estimators (with _sklearn_version), Tree, RandomState; vars() else
            state = getattr(a, "__getstate__", None)
            sa = state() if state is not None else vars(a)
            sb = b.__getstate__() if state is not None else vars(b)
            self.assert_same(sa, sb, where + ".__getstate__()", seen)

    def assert_same_predictions(self, a, b, X):
        for method in ("predict", "predict_proba", "decision_function", "transform"):
            if hasattr(a, method):
                expected, got = getattr(a, method)(X), getattr(b, method)(X)
                self.assertEqual((expected.dtype, expected.shape), (got.dtype, got.shape), method)
                self.assertEqual(expected.tobytes(), got.tobytes(), method)


@requires_plugin
class PluginTest(unittest.TestCase):
    def test_the_sklearn_plugin_is_loaded(self):
        with milo.Registry(plugins=False) as reg:
            if os.path.exists(SKLEARN_PLUGIN):
                reg.load_plugin(SKLEARN_PLUGIN)  # raises milo.Error saying why it cannot load
        self.assertTrue(sklearn_plugin_loaded())


# -- estimators and arrays round trip ------------------------------------------------------


@requires_plugin
@requires_sklearn
class EstimatorRoundTripTest(ModelTestCase):
    @classmethod
    def setUpClass(cls):
        X, y = load_iris(return_X_y=True)
        order = np.random.RandomState(0).permutation(len(y))
        cls.X, cls.y = X[order[:120]], y[order[:120]]
        cls.X_test = X[order[120:]]
        cls.models = {
            "linear": LinearRegression().fit(cls.X, cls.y.astype(float)),
            "forest": RandomForestClassifier(n_estimators=4, max_depth=4,
                                             random_state=0).fit(cls.X, cls.y),
            "pipeline": Pipeline([("scale", StandardScaler()),
                                  ("clf", LogisticRegression(max_iter=500))]).fit(cls.X, cls.y),
        }

    def check(self, original, loaded):
        self.assertIs(type(loaded), type(original))
        self.assert_same_predictions(original, loaded, self.X_test)
        self.assert_same(original, loaded)

    def test_pickle_bytes_match_a_plain_round_trip(self):
        # the strictest check: the loaded object pickles exactly like pickle's own round trip,
        # so sharing (memo) and every byte of state came back too
        for name, model in self.models.items():
            with self.subTest(model=name):
                loaded = milo.loads(milo.dumps(model))
                assert_same_pickle(self, pickle.dumps(loaded, protocol=5),
                                   plain_round_trip_bytes(model))

    def test_dump_and_load_in_every_format(self):
        for name, model in self.models.items():
            for ext in (".json", ".yaml", ".pb"):
                with self.subTest(model=name, format=ext):
                    path = self.path(name + ext)
                    self.assertIsNone(milo.dump(model, path))
                    self.check(model, milo.load(path))

    def test_document_is_readable_and_names_the_estimator(self):
        path = self.path("linear.json")
        milo.dump(self.models["linear"], path, tensors="readable", indent=1)
        with milo.open(path) as doc:
            self.assertEqual(doc.header["transporter.id"], "sklearn")
            self.assertEqual(doc.root.type, LINEAR_REGRESSION)
            levels = {e.name: e.level for e in doc.trust}
            self.assertEqual(levels[LINEAR_REGRESSION], Trust.TRUSTED)
            coef = doc.root.state["coef_"].array()
            self.assertEqual(coef.tobytes(), self.models["linear"].coef_.tobytes())
        with open(path) as f:
            text = f.read()
        self.assertIn('"$object": "%s"' % LINEAR_REGRESSION, text)

    def test_save_options_reach_the_format(self):
        readable, compact = self.path("r.json"), self.path("c.json")
        milo.dump(self.models["forest"], readable, tensors="readable")
        milo.dump(self.models["forest"], compact, tensors="compact", indent=0)
        with open(compact) as f:
            text = f.read()
        self.assertEqual(text.count("\n"), 1 if text.endswith("\n") else 0)
        self.assertLess(os.path.getsize(compact), os.path.getsize(readable))
        self.check(self.models["forest"], milo.load(compact))
        external = self.path("e.json")
        milo.dump(self.models["forest"], external, tensors="external")
        self.assertTrue(os.path.exists(self.path("e.safetensors")))
        self.check(self.models["forest"], milo.load(external))

    def test_dumps_and_loads(self):
        for name, model in self.models.items():
            with self.subTest(model=name):
                text = milo.dumps(model)
                self.assertIsInstance(text, str)
                self.assertTrue(text.startswith("{"))
                self.check(model, milo.loads(text))
                self.check(model, milo.loads(text.encode("utf-8")))
                self.check(model, milo.loads(milo.dumps(model, format="yaml")))
                reg = milo.default_registry()
                with reg.decode(text.encode("utf-8")) as doc:
                    self.check(model, milo.loads(reg.encode(doc, format="pb")))
        # the same output every time (determinism)
        self.assertEqual(milo.dumps(self.models["forest"]), milo.dumps(self.models["forest"]))

    def test_dumps_is_text_only_and_dump_writes_documents_only(self):
        with self.assertRaisesRegex(ValueError, "json.*yaml"):
            milo.dumps(self.models["linear"], format="pb")
        with self.assertRaisesRegex(ValueError, "native file extension"):
            milo.dump(self.models["linear"], self.path("model.pkl"))
        self.assertFalse(os.path.exists(self.path("model.pkl")))

    def test_load_reads_pickle_and_joblib_files_without_running_them(self):
        model = self.models["pipeline"]
        path = self.path("model.pkl")
        with open(path, "wb") as f:
            pickle.dump(model, f, protocol=2)
        self.check(model, milo.load(path))
        if joblib is None:
            return
        for compress in (0, ("zlib", 3), ("gzip", 3), ("bz2", 3), ("xz", 3)):
            with self.subTest(compress=compress):
                path = self.path("model.joblib")
                joblib.dump(model, path, compress=compress)
                self.check(model, milo.load(path))

    def test_convert_pickle_to_document_and_back(self):
        model = self.models["forest"]
        src = self.path("forest.pkl")
        with open(src, "wb") as f:
            pickle.dump(model, f, protocol=4)
        milo.convert(src, self.path("forest.yaml"))
        self.check(model, milo.load(self.path("forest.yaml")))
        milo.convert(self.path("forest.yaml"), self.path("back.pkl"))  # native, by extension
        with open(self.path("back.pkl"), "rb") as f:
            self.assertEqual(f.read(2)[:1], b"\x80")  # a pickle stream, not a document
        self.check(model, milo.load(self.path("back.pkl")))


@requires_plugin
@requires_numpy
class ArrayRoundTripTest(ModelTestCase):
    def arrays(self):
        nan_payload = np.array([0x7FF8000000000123], dtype="<u8").view("<f8")[0]
        return {
            "f64": np.array([1.5, -0.0, np.nan, np.inf, -np.inf, 5e-324, nan_payload]),
            "f32": np.array([[0.1, -2.5], [3.25, np.float32(1e-45)]], dtype=np.float32),
            "i64": np.arange(-3, 3, dtype=np.int64),
            "i32": np.array([-(2 ** 31), 2 ** 31 - 1], dtype=np.int32),
            "u8": np.frombuffer(b"\x00\x7f\xff", dtype=np.uint8).copy(),
            "bool": np.array([True, False, True]),
            "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
            "empty": np.zeros((0, 4)),
            "scalar": np.float64(0.1),
            "note": "arrays",
        }

    def test_dict_of_arrays(self):
        data = self.arrays()
        for ext in (".json", ".yaml", ".pb"):
            with self.subTest(format=ext):
                milo.dump(data, self.path("arrays" + ext))
                back = milo.load(self.path("arrays" + ext))
                self.assert_same(data, back)
        back = milo.loads(milo.dumps(data, tensors="compact"))
        self.assert_same(data, back)
        # the dtype object shared by all float64 arrays stays one object, as in pickle's own
        # round trip
        self.assertIs(back["fortran"].dtype, back["f64"].dtype)
        assert_same_pickle(self, pickle.dumps(back, protocol=5), plain_round_trip_bytes(data))


# -- trust --------------------------------------------------------------------------------


@requires_plugin
@requires_numpy
class TrustTest(ModelTestCase):
    def document_text(self, obj):
        return milo.dumps(obj)

    def edited(self, text, edit):
        """The document `text` after edit(doc), as JSON text again."""
        reg = milo.default_registry()
        with reg.decode(text.encode("utf-8")) as doc:
            edit(doc)
            return reg.encode(doc).decode("utf-8")

    def test_a_type_of_our_own_needs_trusted(self):
        data = {"gadget": Gadget("g1", [0.5, -1.0]), "w": np.arange(3.0)}
        path = self.path("gadget.json")
        milo.dump(data, path)
        report = milo.scan(path)
        self.assertIn(GADGET, report.untrusted)
        self.assertFalse(report.ok)
        with self.assertRaises(milo.UntrustedTypesError) as caught:
            milo.load(path)
        e = caught.exception
        self.assertEqual(e.names, [GADGET])
        self.assertEqual(e.dangerous, [])
        self.assertEqual(e.status, milo.Status.ERR_DANGEROUS)
        self.assertIsInstance(e, milo.Error)
        self.assertIsInstance(e, pickle.UnpicklingError)
        self.assertIn(GADGET, str(e))
        self.assertIn("trusted=['%s']" % GADGET, str(e))
        back = milo.load(path, trusted=[GADGET])
        self.assertEqual(back["gadget"], data["gadget"])
        self.assert_same(data["w"], back["w"])
        back = milo.loads(milo.dumps(data), trusted=(GADGET,))
        self.assertEqual(back["gadget"], data["gadget"])

    def test_trusted_must_be_a_list_of_names(self):
        text = milo.dumps({"gadget": Gadget("g", [])})
        with self.assertRaisesRegex(TypeError, r"not one string \(write trusted=\['%s'\]\)"
                                    % GADGET):
            milo.loads(text, trusted=GADGET)
        with self.assertRaisesRegex(TypeError, "module.qualname"):
            milo.loads(text, trusted=[Gadget])

    def test_an_object_added_to_a_document_is_refused(self):
        def add_evil(doc):
            doc.root["evil"] = milo.Object("acme.Evil", state={"x": 1})

        text = self.edited(self.document_text({"w": np.arange(3.0)}), add_evil)
        self.assertIn("acme.Evil", text)
        with self.assertRaises(milo.UntrustedTypesError) as caught:
            milo.loads(text)
        self.assertIn("acme.Evil", caught.exception.names)
        self.assertIn("acme.Evil", str(caught.exception))

    @requires_sklearn
    def test_a_trust_entry_set_to_untrusted_is_refused(self):
        X = np.arange(20.0).reshape(10, 2)
        model = LinearRegression().fit(X, X[:, 0] * 2.0 - X[:, 1])

        def distrust(doc):
            usages = [e.usage for e in doc.trust if e.name == LINEAR_REGRESSION]
            self.assertTrue(usages)
            for usage in usages:
                doc.set_trust(LINEAR_REGRESSION, usage, Trust.UNTRUSTED)

        text = self.edited(self.document_text(model), distrust)
        with self.assertRaises(milo.UntrustedTypesError) as caught:
            milo.loads(text)
        self.assertEqual(caught.exception.names, [LINEAR_REGRESSION])
        back = milo.loads(text, trusted=[LINEAR_REGRESSION])
        self.assertEqual(back.predict(X).tobytes(), model.predict(X).tobytes())

    def test_dangerous_names_are_never_loaded(self):
        canary = self.path("canary")
        live_canary = self.path("live_canary")
        pkl = self.path("shell.pkl")
        with open(pkl, "wb") as f:
            pickle.dump({"w": np.arange(2.0), "run": _Shell("touch " + canary)}, f, protocol=4)
        # the payload is live: plain pickle runs it (in a child process, other canary)
        run_with_plain_pickle(pickle.dumps(_Shell("touch " + live_canary), protocol=4))
        self.assertTrue(os.path.exists(live_canary))

        report = milo.scan(pkl)
        self.assertFalse(report.ok)
        self.assertTrue({"posix.system", "os.system"} & set(report.dangerous), str(report))
        system = ({"posix.system", "os.system"} & set(report.dangerous)).pop()
        self.assertIn(system, [e.name for e in report])
        for trusted in (None, [system], [e.name for e in report]):
            with self.subTest(trusted=trusted):
                with self.assertRaises(milo.UntrustedTypesError) as caught:
                    milo.load(pkl, trusted=trusted)
                self.assertIn(system, caught.exception.dangerous)
                self.assertIn("never loaded", str(caught.exception))

        # a document that lies: every entry marked trusted
        doc_path = self.path("shell.json")
        milo.convert(pkl, doc_path)

        def trust_everything(doc):
            for e in doc.trust:
                doc.set_trust(e.name, e.usage, Trust.TRUSTED)

        with open(doc_path) as f:
            text = self.edited(f.read(), trust_everything)
        self.assertNotIn('"dangerous"', text)
        with self.assertRaises(milo.UntrustedTypesError) as caught:
            milo.loads(text, trusted=[system])
        self.assertIn(system, caught.exception.dangerous)
        lying = self.path("lying.json")
        with open(lying, "w") as f:
            f.write(text)
        self.assertIn(system, milo.scan(lying).dangerous)  # scan reads the stream it stands for
        with self.assertRaises(milo.UntrustedTypesError):
            milo.load(lying, trusted=[system])
        self.assertFalse(os.path.exists(canary))

    def test_a_document_cannot_vouch_for_a_dangerous_call(self):
        # numpy.save is not on the Python side's never-import list: only the transporter's
        # reading of the stream the document stands for finds it dangerous
        canary, live_canary = self.path("canary.npy"), self.path("live_canary.npy")
        run_with_plain_pickle(pickle.dumps(_SaveFile(live_canary)))
        self.assertTrue(os.path.exists(live_canary))
        pkl = self.path("save.pkl")
        with open(pkl, "wb") as f:
            pickle.dump([1.5, _SaveFile(canary)], f, protocol=5)
        self.assertIn("numpy.save", milo.scan(pkl).dangerous)

        def trust_everything(doc):
            for e in doc.trust:
                doc.set_trust(e.name, e.usage, Trust.TRUSTED)

        with milo.open(pkl) as doc:
            trust_everything(doc)
            self.assertEqual(set(e.level for e in doc.trust), {Trust.TRUSTED})
            text = milo.default_registry().encode(doc).decode("utf-8")
        for trusted in (None, ["numpy.save"]):
            with self.assertRaises(milo.UntrustedTypesError) as caught:
                milo.loads(text, trusted=trusted)
            self.assertEqual(caught.exception.dangerous, ["numpy.save"])
        self.assertFalse(os.path.exists(canary))

    def test_protocol_0_global_of_os_system(self):
        canary = self.path("canary0")
        path = self.path("p0.pkl")
        with open(path, "wb") as f:
            f.write(b"cos\nsystem\n(S'touch %s'\ntR." % canary.encode())
        report = milo.scan(path)
        self.assertIn("os.system", report.dangerous)
        with self.assertRaises(milo.UntrustedTypesError):
            milo.load(path, trusted=["os.system"])
        self.assertFalse(os.path.exists(canary))

    @requires_sklearn
    def test_scan_of_benign_files(self):
        X = np.arange(20.0).reshape(10, 2)
        model = LinearRegression().fit(X, X[:, 0])
        paths = [self.path("lr.pkl"), self.path("lr.json")]
        with open(paths[0], "wb") as f:
            pickle.dump(model, f)
        milo.dump(model, paths[1])
        if joblib is not None:
            paths.append(self.path("lr.joblib"))
            joblib.dump(model, paths[-1], compress=3)
        for path in paths:
            with self.subTest(path=os.path.basename(path)):
                report = milo.scan(path)
                self.assertTrue(report.ok, str(report))
                self.assertIn(LINEAR_REGRESSION, report.trusted)
                self.assertEqual((report.untrusted, report.dangerous), ([], []))
                self.assertEqual(report.path, path)
                self.assertTrue(all(isinstance(e, milo.TrustEntry) for e in report))

    def test_persistent_ids_are_refused(self):
        class WithIds(pickle.Pickler):
            def persistent_id(self, obj):
                return "storage-7" if isinstance(obj, str) and obj == "external" else None

        buffer = io.BytesIO()
        WithIds(buffer, protocol=2).dump({"a": "external"})
        with self.assertRaisesRegex(pickle.UnpicklingError, "persistent ids are not allowed"):
            milo.RestrictedUnpickler(io.BytesIO(buffer.getvalue()), ()).load()
        path = self.path("persid.pkl")
        with open(path, "wb") as f:
            f.write(buffer.getvalue())
        with self.assertRaises((milo.Error, pickle.UnpicklingError)) as caught:
            milo.load(path)
        self.assertRegex(str(caught.exception), "(?i)persist")


class ScanDocumentTest(TempDirTestCase):
    """scan of a document no transporter wrote (no plugin needed)."""

    def test_names_missing_from_the_trust_list_are_unlisted(self):
        doc = milo.Document()
        doc.root = milo.Object("acme.Model", state={
            "f": milo.Global("acme.helpers.f"), "g": milo.Global("posix.system"),
            "c": milo.Object("(call)", args=(1,)), "n": milo.Object("copyreg.__newobj__")})
        doc.set_trust("acme.Model", "instantiate", Trust.TRUSTED)
        path = self.path("acme.json")
        milo.default_registry().save(doc, path)
        report = milo.scan(path)
        self.assertEqual(report.unlisted, ["acme.helpers.f", "posix.system"])
        self.assertEqual(report.trusted, ["acme.Model"])
        self.assertEqual(report.untrusted, ["acme.helpers.f"])
        self.assertEqual(report.dangerous, ["posix.system"])  # the never-import list
        self.assertFalse(report.ok)
        self.assertEqual([tuple(e) for e in report], [
            ("acme.Model", "instantiate", Trust.TRUSTED),
            ("acme.helpers.f", "unlisted", Trust.UNTRUSTED),
            ("posix.system", "unlisted", Trust.DANGEROUS)])
        self.assertIn("dangerous  posix.system (unlisted)", str(report))


class RestrictedUnpicklerTest(unittest.TestCase):
    """The unpickler on its own, on hand-made streams (no plugin needed)."""

    def load(self, data, admitted):
        return milo.RestrictedUnpickler(io.BytesIO(data), admitted).load()

    def test_admits_exact_names_only(self):
        data = stack_global("collections", "OrderedDict")
        with self.assertRaises(milo.UntrustedTypesError) as caught:
            self.load(data, {"collections.Ordered", "collections"})
        self.assertEqual(caught.exception.names, ["collections.OrderedDict"])
        import collections
        self.assertIs(self.load(data, {"collections.OrderedDict"}), collections.OrderedDict)

    def test_never_list_beats_admission(self):
        for module, name in (("posix", "system"), ("os", "system"), ("builtins", "eval"),
                             ("subprocess", "Popen"), ("builtins", "getattr")):
            full = module + "." + name
            with self.subTest(name=full):
                with self.assertRaises(milo.UntrustedTypesError) as caught:
                    self.load(stack_global(module, name), {full})
                self.assertEqual(caught.exception.dangerous, [full])

    def test_what_a_name_resolves_to_is_checked(self):
        # milo.models imports os: an admitted dotted name must not reach os.system through it
        # (a qualname with a dot is spelt "module:qual.name", as the transporter writes it)
        with self.assertRaisesRegex(milo.UntrustedTypesError, "resolves to posix.system"):
            self.load(stack_global("milo.models", "os.system"), {"milo.models:os.system"})
        with self.assertRaises(milo.UntrustedTypesError) as caught:
            self.load(stack_global("milo.models", "os.system"), {"milo.models.os.system"})
        self.assertEqual(caught.exception.names, ["milo.models:os.system"])
        with self.assertRaisesRegex(milo.UntrustedTypesError, "resolves to a module"):
            self.load(stack_global("milo.models", "os"), {"milo.models.os"})

    def test_out_of_band_buffers_are_refused(self):
        buffers = []
        data = pickle.dumps(pickle.PickleBuffer(b"abc"), protocol=5,
                            buffer_callback=buffers.append)
        with self.assertRaises(pickle.UnpicklingError):
            self.load(data, set())

    def test_trailing_bytes_after_stop(self):
        from milo import models
        self.assertEqual(models._unpickle(pickle.dumps([1, 2]), ()), [1, 2])
        with self.assertRaisesRegex(pickle.UnpicklingError, r"3 bytes after the end of the "
                                    r"pickle stream \(at offset \d+\)"):
            models._unpickle(pickle.dumps([1, 2]) + b"abc", ())


def main():
    """Script mode (CTest with /usr/bin/python3): exit 77 when there is nothing to test."""
    if not PLUGIN_BUILT:
        print("SKIPPED: sklearn plugin not built (no milo_sklearn.so in %s)" % milo.plugin_dir())
        return 77
    if sklearn is None or np is None:
        print("SKIPPED: %s has no scikit-learn/numpy" % sys.executable)
        return 77
    program = unittest.main(exit=False, verbosity=2)
    return 0 if program.result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
