"""Opening the bundled iris_mlp.safetensors: header, metadata and every tensor bit-exactly
against iris_mlp.expected.json; zero-copy views that outlive the Document object."""

import ctypes
import gc
import json
import os
import shutil
import tempfile
import unittest
import weakref

import milo
from milo import _capi

from adapter_test_support import IRIS, IRIS_EXPECTED, np, requires_numpy

DTYPES = {"I64": milo.DType.INT64, "F32": milo.DType.FLOAT32, "F16": milo.DType.FLOAT16}


class IrisModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(IRIS_EXPECTED, encoding="utf-8") as f:
            cls.expected = json.load(f)
        cls.reg = milo.Registry()

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def test_header_and_metadata(self):
        with self.reg.open(IRIS) as doc:
            h = doc.header
            self.assertEqual(h["transporter.id"], "safetensors")
            self.assertEqual(h["transporter.revision"], "1")
            self.assertEqual(h["type"], "safetensors.StateDict")
            self.assertEqual(h["framework.name"], "safetensors")
            self.assertEqual(h["source.kind"], "safetensors")
            self.assertEqual(h["source.sha256"], self.expected["sha256"])
            self.assertEqual(h["format_version"], str(milo.format_version()))
            self.assertEqual(h["producer.name"], "milo")
            self.assertIsNone(h.get("external.file"))
            self.assertNotIn("external.file", h)
            self.assertEqual(list(doc.metadata.items()),
                             [tuple(kv) for kv in self.expected["metadata"]])
            self.assertEqual(doc.trust, [])
            self.assertEqual(doc.value_count(), 16)

    def test_tree_shape(self):
        with self.reg.open(IRIS) as doc:
            root = doc.root
            self.assertEqual(root.kind, milo.Kind.OBJECT)
            self.assertEqual(root.kind_name, "object")
            self.assertEqual(root.type, "safetensors.StateDict")
            self.assertIsNone(root.args)
            state = root.state
            self.assertEqual(state.kind, milo.Kind.MAP)
            names = [t["name"] for t in self.expected["tensors"]]
            self.assertEqual([k.as_str() for k in state.keys()], names)
            self.assertEqual(len(state), 7)
            self.assertIn("fc1.bias", state)
            self.assertNotIn("fc3.bias", state)
            with self.assertRaises(KeyError):
                state["fc3.bias"]

    def test_every_tensor_bytes_dtype_shape(self):
        """dtype, shape and raw bytes (through Value.data(), no numpy needed)."""
        with self.reg.open(IRIS) as doc:
            state = doc.root.state
            for t in self.expected["tensors"]:
                with self.subTest(tensor=t["name"]):
                    v = state[t["name"]]
                    self.assertEqual(v.kind, milo.Kind.TENSOR)
                    self.assertEqual(v.dtype, DTYPES[t["dtype"]])
                    self.assertEqual(v.shape, tuple(t["shape"]))
                    self.assertEqual(v.data().tobytes().hex(), t["hex"])
                    self.assertEqual(v.data().readonly, True)
                    self.assertEqual(v.itemsize, {"I64": 8, "F32": 4, "F16": 2}[t["dtype"]])

    @requires_numpy
    def test_every_tensor_as_numpy(self):
        with self.reg.open(IRIS) as doc:
            state = doc.root.state
            for t in self.expected["tensors"]:
                with self.subTest(tensor=t["name"]):
                    a = state[t["name"]].array()
                    self.assertEqual(a.dtype, np.dtype(t["numpy_dtype"]))
                    self.assertEqual(a.shape, tuple(t["shape"]))
                    self.assertEqual(a.tobytes().hex(), t["hex"])
                    self.assertFalse(a.flags.writeable)
            self.assertEqual(state["classes"].array().tolist(), [0, 1, 2])
            self.assertEqual(int(state["num_batches_tracked"].array()), 150)
            self.assertEqual(state["input_scale"].array().dtype, np.float16)

    @requires_numpy
    def test_array_is_a_zero_copy_view(self):
        with self.reg.open(IRIS) as doc:
            v = doc.root.state["fc1.weight"]
            data, nbytes = ctypes.c_void_p(), ctypes.c_size_t()
            err = _capi.new_error()
            status = _capi.lib.milo_value_tensor_data(v.handle, ctypes.byref(data),
                                                      ctypes.byref(nbytes), ctypes.byref(err))
            self.assertEqual(status, 0)
            a = v.array()
            self.assertEqual(a.__array_interface__["data"][0], data.value)
            self.assertEqual(a.nbytes, nbytes.value)
            self.assertEqual(a.ctypes.data, v.array().ctypes.data)
            with self.assertRaises(ValueError):
                a[0, 0] = 1.0  # read-only view of the document's memory

    @requires_numpy
    def test_array_survives_dropping_the_document(self):
        hexes = {t["name"]: t["hex"] for t in self.expected["tensors"]}
        doc = self.reg.open(IRIS)
        doc_ref = weakref.ref(doc)
        w = doc.root.state["fc1.weight"].array()
        s = doc.root.state["input_scale"].array()
        del doc
        gc.collect()
        self.assertIsNone(doc_ref(), "the Document object itself is gone")
        gc.collect()
        self.assertEqual(w.tobytes().hex(), hexes["fc1.weight"])
        self.assertEqual(s.tobytes().hex(), hexes["input_scale"])

    @requires_numpy
    def test_array_survives_close(self):
        doc = self.reg.open(IRIS)
        b = doc.root.state["fc2.bias"].array()
        doc.close()
        self.assertTrue(doc.closed)
        with self.assertRaises(ValueError):
            doc.root
        gc.collect()
        self.assertEqual(b.tobytes().hex(), next(t["hex"] for t in self.expected["tensors"]
                                                  if t["name"] == "fc2.bias"))

    def test_value_keeps_document_alive(self):
        doc = self.reg.open(IRIS)
        state = doc.root.state
        del doc
        gc.collect()
        self.assertEqual(state["classes"].data().tobytes().hex(),
                         self.expected["tensors"][0]["hex"])
        self.assertEqual(state.document.header["type"], "safetensors.StateDict")

    def test_module_level_open_and_convert(self):
        doc = milo.open(IRIS)
        self.assertEqual(doc.header["transporter.id"], "safetensors")
        doc.close()
        self.assertIs(milo.default_registry(), milo.default_registry())

    def test_native_round_trip(self):
        tmp = tempfile.mkdtemp(prefix="milo_py_")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        with open(IRIS, "rb") as f:
            original = f.read()
        with self.reg.decode_native("safetensors", original, path="iris.safetensors") as doc:
            out = os.path.join(tmp, "again.safetensors")
            self.reg.encode_native(None, doc, out)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), original)  # the writer reproduces the file exactly
            with self.reg.open(out) as again:
                self.assertIsNone(doc.difference(again))
                self.assertTrue(doc == again)
        with self.reg.decode_native(None, original) as probed:  # transporter found by probe
            self.assertEqual(probed.header["transporter.id"], "safetensors")
        # convert: native -> document -> native, through the module-level helper
        as_json = os.path.join(tmp, "iris.milo.json")
        milo.convert(IRIS, as_json, tensors="readable")
        back = os.path.join(tmp, "back.safetensors")
        milo.convert(as_json, back)
        with self.reg.open(back) as b, self.reg.open(IRIS) as a:
            self.assertEqual([v.data().tobytes() for v in b.root.state.values()],
                             [v.data().tobytes() for v in a.root.state.values()])
            self.assertEqual(dict(b.metadata), dict(a.metadata))


if __name__ == "__main__":
    unittest.main()
