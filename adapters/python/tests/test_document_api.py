"""The Document and Value API: header, metadata, trust, building and editing values, container
protocol, objects, tensors written through numpy views, to_python() of shared and cyclic
graphs."""

import gc
import unittest

import milo

from adapter_test_support import np, requires_numpy


class HeaderMetadataTrustTest(unittest.TestCase):
    def test_new_document(self):
        doc = milo.Document()
        self.assertIsNone(doc.root)
        self.assertEqual(doc.value_count(), 0)
        self.assertEqual(doc.header["format_version"], str(milo.format_version()))
        self.assertEqual(doc.header["producer.name"], "milo")
        self.assertEqual(doc.header["producer.version"], milo.version())
        self.assertEqual(set(doc.header), {"format_version", "producer.name",
                                           "producer.version"})
        self.assertEqual(len(doc.metadata), 0)

    def test_header_set_unset(self):
        doc = milo.Document()
        doc.header["type"] = "acme.Scorer"
        doc.header["transporter.revision"] = 3
        self.assertEqual(doc.header["type"], "acme.Scorer")
        self.assertEqual(doc.header["transporter.revision"], "3")
        doc.header["type"] = None
        self.assertNotIn("type", doc.header)
        with self.assertRaises(KeyError):
            doc.header["type"]
        doc.header["framework.name"] = "acme"
        del doc.header["framework.name"]
        self.assertIsNone(doc.header.get("framework.name"))
        with self.assertRaises(KeyError):
            doc.header["no.such.key"]
        with self.assertRaises(milo.Error) as cm:
            doc.header["no.such.key"] = "x"
        self.assertEqual(cm.exception.status, milo.Status.ERR_NOT_FOUND)
        with self.assertRaises(milo.Error) as cm:
            doc.header["source.sha256"] = "not hex"
        self.assertEqual(cm.exception.status, milo.Status.ERR_INVALID_ARGUMENT)
        self.assertTrue(cm.exception.message)
        self.assertTrue(set(milo.HEADER_KEYS) >= set(doc.header))

    def test_metadata_is_ordered(self):
        doc = milo.Document()
        md = doc.metadata
        md["b"] = "1"
        md["a"] = "2"
        md["c"] = "3"
        md["a"] = "replaced"
        self.assertEqual(list(md.items()), [("b", "1"), ("a", "replaced"), ("c", "3")])
        del md["b"]
        self.assertEqual(list(md), ["a", "c"])
        with self.assertRaises(KeyError):
            del md["b"]
        self.assertIn("c", md)

    def test_trust(self):
        doc = milo.Document()
        doc.set_trust("a.B", "instantiate", milo.Trust.UNTRUSTED)
        doc.set_trust("c.d", "call", milo.Trust.DANGEROUS)
        doc.set_trust("a.B", "instantiate", milo.Trust.TRUSTED)  # replaces in place
        self.assertEqual(doc.trust, [milo.TrustEntry("a.B", "instantiate", milo.Trust.TRUSTED),
                                     milo.TrustEntry("c.d", "call", milo.Trust.DANGEROUS)])
        with self.assertRaises(milo.Error) as cm:
            doc.set_trust("x.y", "call", 7)
        self.assertEqual(cm.exception.status, milo.Status.ERR_INVALID_ARGUMENT)


class ValueApiTest(unittest.TestCase):
    def test_scalars(self):
        doc = milo.Document()
        cases = [(None, milo.Kind.NULL), (True, milo.Kind.BOOL), (7, milo.Kind.INT),
                 (2 ** 64, milo.Kind.INT), (0.1, milo.Kind.FLOAT), ("s", milo.Kind.STRING),
                 (b"\x00\xff", milo.Kind.BYTES), (milo.Global("a.b"), milo.Kind.GLOBAL)]
        for obj, kind in cases:
            with self.subTest(obj=obj):
                v = doc.value(obj)
                self.assertEqual(v.kind, kind)
                self.assertEqual(v.to_python(), obj)
        self.assertEqual(doc.value(2 ** 64).int_text(), "18446744073709551616")
        self.assertEqual(doc.value(-5).int_text(), "-5")
        self.assertEqual(doc.value(2 ** 64).as_int(), 2 ** 64)
        self.assertIs(doc.value(False).as_bool(), False)
        self.assertEqual(doc.value(bytearray(b"ab")).as_bytes(), b"ab")
        self.assertEqual(doc.value(milo.Global("a.b")).kind_name, "global")

    def test_wrong_kind_is_a_type_error(self):
        doc = milo.Document()
        s = doc.value("text")
        for read in (s.as_int, s.as_float, s.as_bool, s.as_bytes, lambda: s.name,
                     lambda: s.dtype, s.data):
            with self.assertRaises(milo.Error) as cm:
                read()
            self.assertEqual(cm.exception.status, milo.Status.ERR_TYPE)
            self.assertEqual(cm.exception.status_name, "MILO_ERR_TYPE")
            self.assertTrue(cm.exception.message)
        with self.assertRaises(milo.Error) as cm:
            len(s)
        self.assertEqual(cm.exception.status, milo.Status.ERR_TYPE)
        with self.assertRaises(milo.Error) as cm:
            doc.value([1]).as_str()
        self.assertEqual(cm.exception.status, 11)
        with self.assertRaises(TypeError):
            doc.value(object())
        with self.assertRaises(TypeError):
            doc.value(1 + 2j)

    def test_list_protocol(self):
        doc = milo.Document()
        lst = doc.value([1, "two"])
        self.assertEqual(len(lst), 2)
        self.assertEqual(lst[0].as_int(), 1)
        self.assertEqual(lst[-1].as_str(), "two")
        with self.assertRaises(IndexError):
            lst[2]
        appended = lst.append({"k": None})
        self.assertEqual(appended.kind, milo.Kind.MAP)
        lst[0] = 3.5
        lst.extend([None, [1]])
        self.assertEqual(lst.to_python(), [3.5, "two", {"k": None}, None, [1]])
        self.assertEqual([v.kind_name for v in lst], ["float", "string", "map", "null", "list"])
        self.assertIn("two", lst)
        self.assertNotIn("three", lst)
        t = doc.container("tuple", [1, 2])
        self.assertEqual(t.to_python(), (1, 2))
        st = doc.container(milo.Kind.SET, ["a"])
        self.assertEqual(st.to_python(), {"a"})

    def test_map_protocol(self):
        doc = milo.Document()
        m = doc.value({"a": 1, 2: "two", ("t", 1): [0]})
        self.assertEqual(m["a"].as_int(), 1)
        self.assertEqual(m[2].as_str(), "two")
        self.assertEqual(m[("t", 1)].to_python(), [0])
        self.assertIsNone(m.get("missing"))
        with self.assertRaises(KeyError):
            m["missing"]
        with self.assertRaises(KeyError):
            m[True]  # 1/True are different keys in a document; no match for the bool True
        m["a"] = "replaced"
        m["new"] = 5
        m.append_pair(None, "null key")
        self.assertEqual([k.to_python() for k in m.keys()], ["a", 2, ("t", 1), "new", None])
        self.assertEqual([v.to_python() for v in m.values()],
                         ["replaced", "two", [0], 5, "null key"])
        self.assertEqual(m.to_python(), {"a": "replaced", 2: "two", ("t", 1): [0], "new": 5,
                                         None: "null key"})
        for k, v in m.items():
            self.assertEqual(m[k], v)  # a key Value finds its own pair
        m2 = doc.container("map", [([1], "list key"), ({2}, "set key")])
        self.assertEqual(m2.to_python(), [([1], "list key"), ({2}, "set key")])  # unhashable
        self.assertEqual(m2[[1]].as_str(), "list key")
        self.assertEqual(m2[frozenset({2})].as_str(), "set key")
        self.assertEqual(m2[{2}].as_str(), "set key")
        self.assertNotIn(1.0, doc.value({1: "int"}))

    def test_objects_and_globals(self):
        doc = milo.Document()
        obj = doc.object("acme.Scorer", args=(1,), state={"threshold": 0.5})
        self.assertEqual(obj.kind, milo.Kind.OBJECT)
        self.assertEqual(obj.type, "acme.Scorer")
        self.assertEqual(obj.name, "acme.Scorer")
        self.assertEqual(obj.args.to_python(), (1,))
        self.assertEqual(obj.state["threshold"].as_float(), 0.5)
        obj.set_args(None)
        self.assertIsNone(obj.args)
        obj.state = {"threshold": 0.75}
        self.assertEqual(obj.to_python(), milo.Object("acme.Scorer", None, {"threshold": 0.75}))
        g = doc.global_("builtins.len")
        self.assertEqual(g.to_python(), milo.Global("builtins.len"))
        doc.root = obj
        self.assertEqual(doc.root, obj)  # the same node
        self.assertEqual(doc.value_count(), 4)  # object, state map, its key and value
        doc.root = None
        self.assertIsNone(doc.root)

    def test_sharing_and_cycles(self):
        doc = milo.Document()
        inner = doc.value([1, 2])
        outer = doc.value({"x": inner, "y": inner})
        self.assertEqual(outer["x"], outer["y"])
        py = outer.to_python()
        self.assertIs(py["x"], py["y"])
        lst = doc.container("list")
        lst.append(lst)
        py = lst.to_python()
        self.assertIs(py[0], py)
        # a cycle through a tuple: tuple -> list -> the tuple
        t = doc.container("tuple")
        holder = doc.container("list")
        t.append(holder)
        holder.append(t)
        py = t.to_python()
        self.assertIsInstance(py, tuple)
        self.assertIs(py[0][0], py)
        # a cycle through an object's state
        obj = doc.object("acme.Node")
        obj.set_state({"self": obj})
        py = obj.to_python()
        self.assertIs(py.state["self"], py)
        # a Python list containing itself becomes a cycle in the document
        a = [1]
        a.append(a)
        v = doc.value(a)
        self.assertEqual(v[1], v)
        # a tuple containing itself only through tuples cannot exist in Python
        t1, t2 = doc.container("tuple"), doc.container("tuple")
        t1.append(t2)
        t2.append(t1)
        with self.assertRaises(ValueError):
            t1.to_python()

    def test_values_of_another_document_are_refused(self):
        a, b = milo.Document(), milo.Document()
        v = a.value([1])
        with self.assertRaises(milo.Error) as cm:
            b.root = v
        self.assertEqual(cm.exception.status, milo.Status.ERR_INVALID_ARGUMENT)
        a.close()
        with self.assertRaises(ValueError):
            v.kind
        with self.assertRaises(ValueError):
            b.value(v)
        self.assertIn("closed", repr(v))

    def test_value_count_and_equality(self):
        a, b = milo.Document(), milo.Document()
        for d in (a, b):
            d.root = {"k": [1, 2.0, "x"]}
        self.assertEqual(a, b)
        self.assertEqual(a.value_count(), 6)
        b.root["k"].append(None)
        self.assertNotEqual(a, b)
        self.assertIn("/root", a.difference(b))

    @requires_numpy
    def test_tensor_builders(self):
        doc = milo.Document()
        t = doc.tensor(milo.DType.FLOAT32, (2, 3))
        self.assertEqual(t.shape, (2, 3))
        self.assertEqual(t.size, 6)
        self.assertEqual(t.itemsize, 4)
        self.assertEqual(t.numpy_dtype, np.float32)
        self.assertEqual(t.array().tolist(), [[0.0] * 3] * 2)
        w = t.array(writable=True)
        w[1, 2] = 7.5
        self.assertEqual(t.array()[1, 2], 7.5)
        self.assertEqual(t.array().ctypes.data, w.ctypes.data)
        self.assertEqual(doc.tensor("int16", [4]).dtype, milo.DType.INT16)
        self.assertEqual(doc.tensor(np.dtype("<f2"), [1]).dtype, milo.DType.FLOAT16)
        s = doc.tensor("string", [2])
        s.set_item(1, "zwei")
        self.assertEqual(s.array().tolist(), ["", "zwei"])
        o = doc.tensor("object", [2])
        o.set_item(0, {"a": 1})
        self.assertEqual(o.array().tolist(), [{"a": 1}, None])
        with self.assertRaises(ValueError):
            s.array(writable=True)
        with self.assertRaises(milo.Error) as cm:
            doc.tensor("float32", [-1])
        self.assertEqual(cm.exception.status, milo.Status.ERR_INVALID_ARGUMENT)
        with self.assertRaises(ValueError):
            doc.tensor("float8", [1])
        self.assertEqual(doc.value(np.float32(0.5)).as_float(), 0.5)
        self.assertEqual(doc.value(np.int64(-3)).as_int(), -3)
        self.assertIs(doc.value(np.bool_(True)).as_bool(), True)

    @requires_numpy
    def test_shared_numpy_array_is_one_tensor(self):
        doc = milo.Document()
        arr = np.zeros(3)
        v = doc.value([arr, arr])
        self.assertEqual(v[0], v[1])
        py = v.to_python()
        self.assertIs(py[0], py[1])


class LifetimeTest(unittest.TestCase):
    def test_value_keeps_document(self):
        doc = milo.Document()
        doc.root = {"k": "v"}
        v = doc.root["k"]
        del doc
        gc.collect()
        self.assertEqual(v.as_str(), "v")
        self.assertEqual(v.document.root["k"].as_str(), "v")

    def test_context_manager_closes(self):
        with milo.Document() as doc:
            doc.root = [1]
        self.assertTrue(doc.closed)
        with self.assertRaises(ValueError):
            doc.root
        doc.close()


if __name__ == "__main__":
    unittest.main()
