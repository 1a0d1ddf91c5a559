"""A document covering every value kind, round-tripped through json, yaml and pb (save/load and
encode/decode): milo_doc_equal holds and to_python() of both sides is identical, floats by bit
pattern. Also external tensor files and borrowed (zero-copy) tensors."""

import gc
import os
import unittest
import weakref

import milo

from adapter_test_support import TempDirTestCase, bits, from_bits, np, requires_numpy, same

NAN_PAYLOAD_BITS = 0x7FF8000000000123  # a quiet NaN with a payload
BIG = 2 ** 100 + 7
NEG_BIG = -(3 ** 70)


def build_all_kinds(doc, with_tensors):
    """Fills `doc` with every kind: scalars, big ints, special floats, non-ASCII text, bytes,
    containers (map keys of several kinds), a shared list placed twice, a self-containing list,
    a global, an object with args and state, and (with numpy) tensors of many dtypes."""
    shared = [1, "shared", 2.5]
    cycle = ["head"]
    cycle.append(cycle)
    state = {
        "null": None, "true": True, "false": False,
        "int": -42, "int64_min": -2 ** 63, "int64_max": 2 ** 63 - 1,
        "big": BIG, "neg_big": NEG_BIG,
        "float": 1.5, "neg_zero": -0.0, "nan": from_bits(NAN_PAYLOAD_BITS),
        "inf": float("-inf"), "denormal": 5e-324, "third": 1.0 / 3.0,
        "text": "héllo wörld ✓ 日本 🚀", "empty_text": "", "nul_inside": "a\x00b",
        "bytes": bytes(range(256)),
        "list": [1, "two", 3.0, [None]],
        "tuple": (1, ("nested", 2)),
        "set": {1, 2, "three"},
        "map_keys": {1: "int key", ("a", 1): "tuple key", None: "null key", b"k": "bytes key",
                     2.5: "float key", frozenset({7}): "set key", milo.Global("m.K"): "global"},
        "shared_a": shared, "shared_b": shared,
        "cycle": cycle,
        "global": milo.Global("numpy.float32"),
        "object": milo.Object("acme.Thing", args=(1, "x"), state={"k": [1, 2]}),
        "bare_object": milo.Object("acme.Empty"),
    }
    if with_tensors:
        state.update({
            "f32": np.array([[1.5, -2.25, 3.0], [0.0, -0.0, 1e-30]], dtype=np.float32),
            "f16": np.array([0.5, -1.0, 65504.0, 6.1e-5], dtype=np.float16),
            "f64": np.array([from_bits(NAN_PAYLOAD_BITS), -0.0, 1e308], dtype=np.float64),
            "i8": np.array([-128, 0, 127], dtype=np.int8),
            "i16_be": np.array([1, -2, 300], dtype=">i2"),  # converted to little-endian
            "u64": np.array([0, 2 ** 64 - 1], dtype=np.uint64),
            "bool": np.array([True, False, True]),
            "c64": np.array([1 + 2j, -0.5j], dtype=np.complex64),
            "scalar": np.array(150, dtype=np.int64),
            "empty": np.zeros((0, 3), dtype=np.float32),
            "strided": np.arange(12, dtype=np.int32).reshape(3, 4)[:, ::2],  # non-contiguous
            "strings": np.array([["ä", "bc"], ["", "日本語"]]),
            "objects": np.array([None, "x", {"a": 1}], dtype=object),
            "record": np.array([(1, 2.5, [1, 2]), (-1, 0.25, [3, 4])],
                               dtype=[("id", "<i4"), ("score", "<f8"), ("pair", "<u2", (2,))]),
        })
    doc.header["type"] = "acme.AllKinds"
    doc.metadata["purpose"] = "round trip"
    doc.metadata["ünïcode"] = "✓"
    doc.set_trust("acme.Thing", "instantiate", milo.Trust.TRUSTED)
    doc.set_trust("os.system", "call", milo.Trust.DANGEROUS)
    root = doc.object("acme.Root", args=[1], state=state)
    if with_tensors:
        bf = doc.tensor("bfloat16", [2])
        bf.array(writable=True)[:] = [0x3F80, 0xC000]  # 1.0 and -2.0 as bfloat16 bits
        root.state["bf16"] = bf
    doc.root = root
    return doc


class RoundTripTest(TempDirTestCase):
    @classmethod
    def setUpClass(cls):
        cls.reg = milo.Registry()

    @classmethod
    def tearDownClass(cls):
        cls.reg.close()

    def check_back(self, doc, back, label):
        self.assertIsNone(doc.difference(back), label)
        self.assertTrue(doc == back, label)
        self.assertEqual(back.value_count(), doc.value_count())
        self.assertEqual(dict(back.metadata), dict(doc.metadata))
        self.assertEqual(back.trust, doc.trust)
        a, b = doc.root.to_python(), back.root.to_python()
        self.assertTrue(same(a, b), label)
        s = b.state
        self.assertEqual(bits(s["nan"]), NAN_PAYLOAD_BITS)
        self.assertEqual(bits(s["neg_zero"]), bits(-0.0))
        self.assertEqual(s["big"], BIG)
        self.assertEqual(s["neg_big"], NEG_BIG)
        self.assertEqual(s["text"], "héllo wörld ✓ 日本 🚀")
        self.assertEqual(s["nul_inside"], "a\x00b")
        self.assertIs(s["shared_a"], s["shared_b"])
        self.assertIs(s["cycle"][1], s["cycle"])
        # Sharing is also visible on the Value level: the same node under two keys.
        self.assertEqual(back.root.state["shared_a"], back.root.state["shared_b"])
        self.assertEqual(back.root.state["big"].int_text(), str(BIG))
        return b

    def all_kinds(self, with_tensors=None):
        if with_tensors is None:
            with_tensors = np is not None
        return build_all_kinds(milo.Document(), with_tensors)

    def test_python_values_before_saving(self):
        doc = self.all_kinds(False)
        s = doc.root.state.to_python()
        self.assertIs(s["null"], None)
        self.assertIs(s["true"], True)
        self.assertEqual(s["tuple"], (1, ("nested", 2)))
        self.assertEqual(s["set"], {1, 2, "three"})
        self.assertEqual(s["map_keys"][frozenset({7})], "set key")
        self.assertEqual(s["map_keys"][("a", 1)], "tuple key")
        self.assertEqual(s["map_keys"][milo.Global("m.K")], "global")
        self.assertEqual(s["object"], milo.Object("acme.Thing", (1, "x"), {"k": [1, 2]}))
        self.assertEqual(s["global"], milo.Global("numpy.float32"))
        self.assertEqual(doc.root.args.to_python(), [1])
        st = doc.root.state
        self.assertEqual(st["map_keys"][1].as_str(), "int key")
        self.assertEqual(st["map_keys"][("a", 1)].as_str(), "tuple key")
        self.assertEqual(st["big"].as_int(), BIG)
        self.assertEqual(st["int64_min"].as_int(), -2 ** 63)
        self.assertEqual(bits(st["nan"].as_float()), NAN_PAYLOAD_BITS)
        self.assertEqual(st["bytes"].as_bytes(), bytes(range(256)))
        self.assertEqual(st["global"].name, "numpy.float32")

    def test_save_load_every_format(self):
        doc = self.all_kinds()
        cases = [("json", "readable"), ("json", "compact"), ("json", "auto"),
                 ("yaml", "readable"), ("yaml", "compact"), ("pb", "auto")]
        for fmt, tensors in cases:
            with self.subTest(format=fmt, tensors=tensors):
                path = self.path("all_%s_%s.%s" % (fmt, tensors, fmt))
                self.reg.save(doc, path, tensors=tensors)
                with self.reg.load(path) as back:
                    self.check_back(doc, back, "%s/%s" % (fmt, tensors))
                with self.reg.load(path, format=fmt) as back:
                    self.assertTrue(doc == back)

    def test_encode_decode_every_format(self):
        doc = self.all_kinds()
        for fmt in ("json", "yaml", "pb"):
            with self.subTest(format=fmt):
                data = self.reg.encode(doc, format=fmt, indent=0 if fmt == "json" else None)
                self.assertIsInstance(data, bytes)
                with self.reg.decode(data, name="mem." + fmt) as back:
                    self.check_back(doc, back, fmt)
                with self.reg.decode(bytearray(data), format=fmt) as back:
                    self.assertTrue(doc == back)

    def test_indent_option(self):
        doc = milo.Document()
        doc.root = {"a": [1, 2]}
        one_line = self.reg.encode(doc, indent=0)
        self.assertNotIn(b"\n", one_line.strip())
        four = self.reg.encode(doc, indent=4)
        self.assertIn(b"\n    ", four)

    def test_difference_names_the_place(self):
        a, b = milo.Document(), milo.Document()
        a.root = {"x": [1, 2.0]}
        b.root = {"x": [1, -2.0]}
        self.assertFalse(a == b)
        where = a.difference(b)
        self.assertIsNotNone(where)
        self.assertIn("/root", where)

    @requires_numpy
    def test_tensors_read_back(self):
        doc = self.all_kinds()
        data = self.reg.encode(doc, format="pb")
        with self.reg.decode(data) as back:
            st = back.root.state
            self.assertEqual(st["f16"].dtype, milo.DType.FLOAT16)
            f16 = st["f16"].array()
            self.assertEqual(f16.dtype, np.float16)
            self.assertEqual(f16.tobytes(),
                             np.array([0.5, -1.0, 65504.0, 6.1e-5], np.float16).tobytes())
            self.assertEqual(bits(float(st["f64"].array()[0])), NAN_PAYLOAD_BITS)
            self.assertEqual(st["i16_be"].array().dtype, np.dtype("<i2"))
            self.assertEqual(st["i16_be"].array().tolist(), [1, -2, 300])
            self.assertEqual(st["u64"].array().tolist(), [0, 2 ** 64 - 1])
            self.assertEqual(st["strided"].shape, (3, 2))
            self.assertEqual(st["strided"].array().tolist(), [[0, 2], [4, 6], [8, 10]])
            self.assertEqual(st["scalar"].shape, ())
            self.assertEqual(st["empty"].shape, (0, 3))
            self.assertEqual(st["strings"].dtype, milo.DType.STRING)
            self.assertEqual(st["strings"].array().tolist(), [["ä", "bc"], ["", "日本語"]])
            self.assertEqual(st["strings"].item(3), "日本語")
            self.assertEqual(st["objects"].dtype, milo.DType.OBJECT)
            self.assertEqual(st["objects"].array().tolist(), [None, "x", {"a": 1}])
            self.assertEqual(st["objects"].item(2)["a"].as_int(), 1)
            rec = st["record"]
            self.assertEqual(rec.dtype, milo.DType.RECORD)
            self.assertEqual([f.name for f in rec.fields], ["id", "score", "pair"])
            self.assertEqual(rec.fields[2], milo.Field("pair", milo.DType.UINT16, 12, (2,)))
            r = rec.array()
            self.assertEqual(r["id"].tolist(), [1, -1])
            self.assertEqual(r["score"].tolist(), [2.5, 0.25])
            self.assertEqual(r["pair"].tolist(), [[1, 2], [3, 4]])
            self.assertEqual(st["bf16"].dtype, milo.DType.BFLOAT16)
            self.assertEqual(st["bf16"].array().tolist(), [0x3F80, 0xC000])  # raw bits
            self.assertEqual(st["c64"].array().tolist(), [1 + 2j, -0.5j])

    @requires_numpy
    def test_external_tensor_file(self):
        doc = self.all_kinds()
        path = self.path("ext.milo.json")
        self.reg.save(doc, path, tensors="external")
        sidecar = self.path("ext.milo.safetensors")
        self.assertTrue(os.path.isfile(sidecar))
        with open(path, "rb") as f:
            text = f.read()
        self.assertIn(b"ext.milo.safetensors", text)
        with self.reg.load(path) as back:
            self.assertEqual(back.header["external.file"], "ext.milo.safetensors")
            self.assertEqual(len(back.header["external.sha256"]), 64)
            self.check_back(doc, back, "external")
            # The sidecar is an ordinary safetensors file the transporter can read.
            with self.reg.open(sidecar) as st_doc:
                self.assertEqual(st_doc.header["transporter.id"], "safetensors")
        # A tampered sidecar fails verification, unless verify=False.
        with open(sidecar, "r+b") as f:
            f.seek(-1, os.SEEK_END)
            last = f.read(1)
            f.seek(-1, os.SEEK_END)
            f.write(bytes([last[0] ^ 0xFF]))
        with self.assertRaises(milo.Error) as cm:
            self.reg.load(path)
        self.assertEqual(cm.exception.status, milo.Status.ERR_INTEGRITY)
        with self.reg.load(path, verify=False) as back:
            self.assertFalse(doc == back)

    @requires_numpy
    def test_borrowed_tensor_round_trip_and_single_release(self):
        released = []
        source = np.arange(12, dtype=np.float32).reshape(3, 4) * 0.5
        expected = source.copy()
        source_ref = weakref.ref(source)
        doc = milo.Document()
        t = doc.tensor_from(source, copy=False, on_release=lambda: released.append(1))
        self.assertEqual(t.array().ctypes.data, source.ctypes.data)  # zero-copy both ways
        doc.root = milo.Object("acme.Scorer", state={"w": t, "w_again": t})
        del source
        gc.collect()
        self.assertIsNotNone(source_ref(), "the document keeps the borrowed array alive")
        for fmt in ("json", "yaml", "pb"):
            with self.reg.decode(self.reg.encode(doc, format=fmt)) as back:
                self.assertTrue(doc == back, fmt)
                w = back.root.state["w"]
                self.assertEqual(w.array().tobytes(), expected.tobytes())
                self.assertEqual(w, back.root.state["w_again"])  # still one shared node
        self.assertEqual(released, [])
        del t, w
        doc.close()
        gc.collect()
        self.assertEqual(released, [1], "release ran exactly once, when the document closed")
        self.assertIsNone(source_ref(), "the array was let go")
        doc.close()  # idempotent
        gc.collect()
        self.assertEqual(released, [1])

    @requires_numpy
    def test_borrowed_tensor_copy_on_write(self):
        released = []
        source = np.array([1.0, 2.0, 3.0])
        doc = milo.Document()
        t = doc.tensor_from(source, copy=False, on_release=lambda: released.append(1))
        view = t.array()  # keeps the borrowed array while it points at it
        w = t.array(writable=True)  # libmilo copies, then releases the borrowed memory
        self.assertEqual(released, [1])
        w[0] = 10.0
        self.assertEqual(source.tolist(), [1.0, 2.0, 3.0])  # the caller's array is untouched
        self.assertEqual(t.array().tolist(), [10.0, 2.0, 3.0])
        self.assertEqual(view.tolist(), [1.0, 2.0, 3.0])  # the old view still reads valid memory
        doc.close()
        del t, w, view
        gc.collect()
        self.assertEqual(released, [1])

    @requires_numpy
    def test_close_defers_free_until_views_are_gone(self):
        released = []
        doc = milo.Document()
        doc.root = doc.tensor_from(np.ones(4, np.int64), copy=False,
                                   on_release=lambda: released.append(1))
        view = doc.root.array()
        doc.close()
        gc.collect()
        self.assertEqual(released, [], "a live view keeps the document's memory")
        self.assertEqual(view.tolist(), [1, 1, 1, 1])
        del view
        gc.collect()
        self.assertEqual(released, [1])

    @requires_numpy
    def test_borrowed_tensor_refusals(self):
        doc = milo.Document()
        with self.assertRaises(ValueError):
            doc.tensor_from(np.arange(6).reshape(2, 3)[:, ::2], copy=False)
        with self.assertRaises(ValueError):
            doc.tensor_from(np.arange(3, dtype=">f4"), copy=False)
        with self.assertRaises(ValueError):
            doc.tensor_from(np.array(["a"]), copy=False)
        copied = doc.tensor_from(np.arange(6).reshape(2, 3)[:, ::2], copy=True)
        self.assertEqual(copied.array().tolist(), [[0, 2], [3, 5]])


if __name__ == "__main__":
    unittest.main()
