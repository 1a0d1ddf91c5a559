"""Loading the library, versions, the registry's listings, and every failure path: each C
failure becomes milo.Error with the exact status, its name and a message."""

import gc
import io
import os
import pickle
import unittest
import weakref

import milo
from milo import _capi

from adapter_test_support import IRIS, TempDirTestCase


class LibraryTest(unittest.TestCase):
    def test_versions(self):
        self.assertRegex(milo.version(), r"^\d+\.\d+\.\d+$")
        self.assertGreaterEqual(milo.abi_version(), milo.ABI_VERSION)
        self.assertEqual(milo.ABI_VERSION, 2)
        self.assertGreaterEqual(milo.format_version(), 1)
        self.assertTrue(os.path.isfile(milo.library_path) or "/" not in milo.library_path)
        if os.environ.get("MILO_LIBRARY"):
            self.assertEqual(milo.library_path, os.environ["MILO_LIBRARY"])
        self.assertTrue(milo.plugin_dir().endswith(os.path.join("milo", "plugins")))

    def test_status_names_come_from_the_library(self):
        for status in milo.Status:
            self.assertEqual(milo.status_name(status), "MILO_" + status.name)
        self.assertEqual(milo.status_name(99), "MILO_ERR_UNKNOWN")
        e = milo.Error(99, "odd")
        self.assertEqual(e.status, 99)
        self.assertEqual(e.status_name, "MILO_ERR_UNKNOWN")
        self.assertEqual(str(e), "MILO_ERR_UNKNOWN: odd")

    def test_error_is_picklable(self):
        e = milo.Error(milo.Status.ERR_CORRUPT, "bad.json: byte 3")
        back = pickle.loads(pickle.dumps(e))
        self.assertEqual((back.status, back.status_name, back.message),
                         (3, "MILO_ERR_CORRUPT", "bad.json: byte 3"))

    def test_every_prototype_is_declared(self):
        for name in _capi._PROTOTYPES:
            fn = getattr(_capi.lib, name)
            self.assertIsNotNone(fn.argtypes, name)

    def test_sha256(self):
        self.assertEqual(milo.sha256(b"abc"), "ba7816bf8f01cfea414140de5dae2223"
                                              "b00361a396177a9cb410ff61f20015ad")


class RegistryListingTest(unittest.TestCase):
    def test_default_plugins(self):
        with milo.Registry() as reg:
            names = [p.name for p in reg.plugins()]
            self.assertEqual(names[:3], ["json", "yaml", "pb"])
            self.assertIn("safetensors", names)
            st = next(p for p in reg.plugins() if p.name == "safetensors")
            self.assertTrue(st.path.endswith("milo_safetensors.so"))
            self.assertTrue(os.path.isfile(st.path))
            self.assertEqual(reg.plugins()[0].path, "(built-in json)")
            transporters = {t.id: t for t in reg.transporters()}
            self.assertIn("safetensors", transporters)
            self.assertEqual(transporters["safetensors"].framework, "safetensors")
            self.assertEqual(transporters["safetensors"].version, "1")
            self.assertTrue(transporters["safetensors"].description)
            formats = {f.id: f for f in reg.formats()}
            self.assertEqual(list(formats)[:3], ["json", "yaml", "pb"])
            self.assertEqual(formats["json"].extensions, (".json",))
            self.assertEqual(formats["yaml"].extensions, (".yaml", ".yml"))
            self.assertIn(".pb", formats["pb"].extensions)

    def test_no_plugins_and_explicit_folders(self):
        with milo.Registry(plugins=False) as reg:
            self.assertEqual([p.name for p in reg.plugins()], ["json", "yaml", "pb"])
            self.assertEqual(reg.transporters(), [])
            with self.assertRaises(milo.Error) as cm:
                reg.open(IRIS)  # no transporter reads it
            self.assertEqual(cm.exception.status, milo.Status.ERR_UNSUPPORTED)
            reg.load_plugins([milo.plugin_dir()])
            # the bundled plugins: safetensors always, onnx when libonnx-dev was there to build it
            bundled = sorted(f for f in os.listdir(milo.plugin_dir()) if f.endswith(".so"))
            self.assertIn("milo_safetensors.so", bundled)
            # one transporter per plugin, named like it, except that the sklearn plugin also
            # reads PyMilo JSON files (transporter "pymilo")
            ids = []
            for f in bundled:
                ids.append(f[len("milo_"):-len(".so")])
                if ids[-1] == "sklearn":
                    ids.append("pymilo")
            self.assertEqual([t.id for t in reg.transporters()], ids)
            path = next(p.path for p in reg.plugins() if p.name == "safetensors")
            reg.load_plugin(path)  # already loaded: a no-op
            self.assertEqual(len(reg.plugins()), 3 + len(bundled))
        with milo.Registry(plugins=milo.plugin_dir()) as reg:
            self.assertEqual([t.id for t in reg.transporters()], ids)

    def test_close_is_idempotent_and_documents_keep_the_registry(self):
        reg = milo.Registry()
        doc = reg.open(IRIS)
        handle_ref = weakref.ref(reg._handle)
        reg.close()
        reg.close()
        with self.assertRaises(ValueError):
            reg.plugins()
        gc.collect()
        self.assertIsNotNone(handle_ref(), "an open document keeps its registry's plugins")
        self.assertEqual(doc.root.state["classes"].data().tobytes()[:8], b"\0" * 8)
        doc.close()
        gc.collect()
        self.assertIsNone(handle_ref(), "registry destroyed once the document is gone")


class ErrorPathTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.reg = milo.Registry()

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def assertMiloError(self, status, fn, *args, **kwargs):
        with self.assertRaises(milo.Error) as cm:
            fn(*args, **kwargs)
        e = cm.exception
        self.assertEqual(e.status, status)
        self.assertIsInstance(e.status, int)
        self.assertEqual(e.status_name, milo.status_name(status))
        self.assertTrue(e.message)
        self.assertEqual(str(e), "%s: %s" % (e.status_name, e.message))
        return e

    def test_missing_file(self):
        missing = self.path("nope.milo.json")
        for fn in (self.reg.open, self.reg.load):
            e = self.assertMiloError(milo.Status.ERR_NOT_FOUND, fn, missing)
            self.assertIn(missing, e.message)
            self.assertEqual(e.status, 5)
        self.assertMiloError(milo.Status.ERR_NOT_FOUND, self.reg.load_plugin,
                             self.path("milo_nope.so"))
        self.assertMiloError(milo.Status.ERR_NOT_FOUND, self.reg.load_plugins,
                             self.path("no_such_dir"))

    def test_corrupt_document(self):
        bad = self.path("bad.milo.json")
        with open(bad, "wb") as f:
            f.write(b'{"milo": {"format_version": 1}, "root": {"k": [1, 2, {"$bogus": 3}]}}')
        e = self.assertMiloError(milo.Status.ERR_CORRUPT, self.reg.load, bad)
        self.assertEqual(e.status, 3)
        self.assertIn(bad, e.message)
        self.assertIn("/root/k/2", e.message)  # the place in the document
        e = self.assertMiloError(milo.Status.ERR_CORRUPT, self.reg.decode,
                                 b'{"milo": {"format_version": 1}, "root": [1, 2',
                                 name="truncated.json")
        self.assertIn("truncated.json", e.message)
        self.assertIn("byte", e.message)
        e = self.assertMiloError(milo.Status.ERR_CORRUPT, self.reg.decode_native,
                                 "safetensors", b"\x08" + b"\0" * 7 + b"{bogus}!")
        self.assertIn("<memory>", e.message)

    def test_unknown_format_and_transporter(self):
        doc = milo.Document()
        doc.root = [1]
        e = self.assertMiloError(milo.Status.ERR_NOT_FOUND, self.reg.encode, doc,
                                 format="nope")
        self.assertIn("nope", e.message)
        self.assertMiloError(milo.Status.ERR_NOT_FOUND, self.reg.save, doc,
                             self.path("x.json"), format="nope")
        self.assertMiloError(milo.Status.ERR_NOT_FOUND, self.reg.decode, b"{}", format="nope")
        self.assertMiloError(milo.Status.ERR_NOT_FOUND, self.reg.decode_native, "nope", b"x")
        self.assertMiloError(milo.Status.ERR_UNSUPPORTED, self.reg.decode, b"\x01garbage")
        self.assertMiloError(milo.Status.ERR_UNSUPPORTED, self.reg.encode, doc,
                             tensors="external")
        self.assertMiloError(milo.Status.ERR_UNSUPPORTED, self.reg.encode_native, None, doc,
                             self.path("x.safetensors"))
        self.assertMiloError(milo.Status.ERR_INVALID_ARGUMENT, self.reg.encode, doc,
                             indent=99)
        with self.assertRaises(ValueError):
            self.reg.encode(doc, tensors="sideways")

    def test_unwritable_path(self):
        doc = milo.Document()
        doc.root = 1
        self.assertMiloError(milo.Status.ERR_IO, self.reg.save, doc,
                             self.path("no_dir/x.json"))

    def test_depth_limit(self):
        doc = milo.Document()
        deep = []
        for _ in range(50):
            deep = [deep]
        doc.root = deep
        data = self.reg.encode(doc)
        self.assertEqual(self.reg.decode(data).value_count(), 51)
        self.assertMiloError(milo.Status.ERR_LIMIT, self.reg.decode, data, max_depth=10)

    def test_exception_in_write_callback_does_not_escape_into_c(self):
        doc = milo.Document()
        doc.root = {"k": list(range(1000))}

        class Failing(io.RawIOBase):
            calls = 0

            def write(self, b):
                Failing.calls += 1
                raise RuntimeError("disk on fire")

        with self.assertRaises(RuntimeError) as cm:
            self.reg.encode_to(doc, Failing())
        self.assertEqual(str(cm.exception), "disk on fire")
        cause = cm.exception.__cause__
        self.assertIsInstance(cause, milo.Error)
        self.assertEqual(cause.status, milo.Status.ERR_IO)
        self.assertIn("disk on fire", cause.message)
        self.assertEqual(Failing.calls, 1, "encoding stopped at the first failed write")

        class Interrupting(io.RawIOBase):
            def write(self, b):
                raise KeyboardInterrupt

        with self.assertRaises(KeyboardInterrupt):
            self.reg.encode_to(doc, Interrupting())
        # the registry and document still work afterwards
        sink = io.BytesIO()
        self.reg.encode_to(doc, sink, format="pb")
        self.assertTrue(doc == self.reg.decode(sink.getvalue()))

    def test_convert_to_document_and_native(self):
        out = self.path("iris.yaml")
        self.reg.convert(IRIS, out, tensors="readable")
        with open(out, encoding="utf-8") as f:
            self.assertIn("safetensors.StateDict", f.read())
        native = self.path("iris_again.safetensors")
        self.reg.convert(out, native)
        with open(native, "rb") as a, open(IRIS, "rb") as b:
            self.assertEqual(a.read(), b.read())


if __name__ == "__main__":
    unittest.main()
