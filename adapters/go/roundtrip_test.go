package milo

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const (
	bigInt     = "-123456789012345678901234567890123456789"
	nanPayload = uint64(0x7ff80000deadbeef) // a quiet NaN with a payload
	snanBits   = uint64(0xfff0000000000001) // a negative signalling NaN
	unicode    = "héllo wörld ✓ 日本 🙂 with\x00nul"
)

var (
	f16Bits  = []uint16{0x3c00, 0x8000, 0x7c00, 0xfc00, 0x7e01, 0x0001} // 1, -0, +inf, -inf, NaN, denormal
	bf16Bits = []uint16{0x3f80, 0xbf80, 0x7fc1}
	f32Vals  = []float32{1.5, float32(math.Copysign(0, -1)), math.MaxFloat32, math.SmallestNonzeroFloat32}
	strElems = []string{"a", "", "ünï", "日本", "x\x00y", "last"}
)

func u16le(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}

func must(t *testing.T) func(*Value, error) *Value {
	return func(v *Value, err error) *Value {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// buildKitchenSink builds a document holding every value kind, every interesting scalar, many
// tensor dtypes, sharing and a cycle.
func buildKitchenSink(t *testing.T) *Doc {
	m := must(t)
	doc, err := NewDoc()
	ok(t, err)
	ok(t, doc.SetHeader("framework.name", "acme"))
	ok(t, doc.SetHeader("framework.version", "2.1"))
	ok(t, doc.SetHeader("type", "acme.Model"))
	ok(t, doc.SetMetadata("author", "Zoë"))
	ok(t, doc.SetMetadata("note", "κόσμε"))
	ok(t, doc.SetTrust("acme.Model", "instantiate", TrustTrusted))
	ok(t, doc.SetTrust("os.system", "call", TrustDangerous))

	root := m(doc.Object("acme.Model"))
	args := m(doc.Tuple())
	ok(t, args.Append(m(doc.Int(3))))
	ok(t, args.Append(m(doc.Global("acme.layers.Dense"))))
	ok(t, root.SetArgs(args))

	state := m(doc.Map())
	ok(t, root.SetState(state))
	ok(t, doc.SetRoot(root))

	ok(t, state.Put("null", m(doc.Null())))
	ok(t, state.Put("true", m(doc.Bool(true))))
	ok(t, state.Put("false", m(doc.Bool(false))))
	ok(t, state.Put("int", m(doc.Int(-42))))
	ok(t, state.Put("int_min", m(doc.Int(math.MinInt64))))
	ok(t, state.Put("int_max", m(doc.Int(math.MaxInt64))))
	ok(t, state.Put("big", m(doc.IntText(bigInt))))
	ok(t, state.Put("pi", m(doc.Float(math.Pi))))
	ok(t, state.Put("neg_zero", m(doc.Float(math.Copysign(0, -1)))))
	ok(t, state.Put("nan", m(doc.Float(math.Float64frombits(nanPayload)))))
	ok(t, state.Put("snan", m(doc.Float(math.Float64frombits(snanBits)))))
	ok(t, state.Put("inf", m(doc.Float(math.Inf(-1)))))
	ok(t, state.Put("tiny", m(doc.Float(math.SmallestNonzeroFloat64))))
	ok(t, state.Put("text", m(doc.String(unicode))))
	ok(t, state.Put("empty", m(doc.String(""))))
	ok(t, state.Put("bytes", m(doc.Bytes([]byte{0, 1, 2, 0xfe, 0xff}))))
	ok(t, state.Put("no_bytes", m(doc.Bytes(nil))))

	set := m(doc.Set())
	ok(t, set.Append(m(doc.String("x"))))
	ok(t, set.Append(m(doc.Int(7))))
	ok(t, state.Put("set", set))

	// A map with non-string keys: int, tuple, null, bool, float, bytes.
	odd := m(doc.Map())
	ok(t, odd.AppendPair(m(doc.Int(1)), m(doc.String("one"))))
	key := m(doc.Tuple())
	ok(t, key.Append(m(doc.Int(1))))
	ok(t, key.Append(m(doc.Int(2))))
	ok(t, odd.AppendPair(key, m(doc.String("pair"))))
	ok(t, odd.AppendPair(m(doc.Null()), m(doc.Bool(true))))
	ok(t, odd.AppendPair(m(doc.Float(-0.5)), m(doc.Null())))
	ok(t, odd.AppendPair(m(doc.Bytes([]byte("k"))), m(doc.Int(0))))
	ok(t, state.Put("odd_keys", odd))

	// Tensors of several dtypes.
	ok(t, state.Put("f32", m(doc.TensorFromFloat32([]int64{2, 2}, f32Vals))))
	ok(t, state.Put("f64", m(doc.TensorFromFloat64([]int64{3}, []float64{math.Float64frombits(nanPayload), 0, math.Copysign(0, -1)}))))
	ok(t, state.Put("i64", m(doc.TensorFromInt64([]int64{2}, []int64{math.MinInt64, math.MaxInt64}))))
	ok(t, state.Put("f16", m(doc.TensorFrom(DTypeFloat16, []int64{2, 3}, u16le(f16Bits)))))
	ok(t, state.Put("bf16", m(doc.TensorFrom(DTypeBFloat16, []int64{3}, u16le(bf16Bits)))))
	ok(t, state.Put("i8", m(doc.TensorFrom(DTypeInt8, []int64{4}, []byte{0x80, 0xff, 0, 0x7f}))))
	ok(t, state.Put("u64", m(doc.TensorFrom(DTypeUint64, []int64{1}, []byte{1, 2, 3, 4, 5, 6, 7, 0xff}))))
	ok(t, state.Put("bool_t", m(doc.TensorFrom(DTypeBool, []int64{3}, []byte{1, 0, 1}))))
	ok(t, state.Put("c64", m(doc.TensorFrom(DTypeComplex64, []int64{1}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}))))
	ok(t, state.Put("scalar", m(doc.TensorFrom(DTypeInt32, nil, []byte{0x2a, 0, 0, 0}))))
	ok(t, state.Put("zero_size", m(doc.TensorFrom(DTypeFloat32, []int64{0, 5}, nil))))
	ok(t, state.Put("strings", m(doc.StringTensor([]int64{2, 3}, strElems))))
	objT := m(doc.Tensor(DTypeObject, []int64{2}))
	ok(t, objT.SetItemAt(0, m(doc.String("first"))))
	ok(t, objT.SetItemAt(1, m(doc.Global("builtins.len"))))
	ok(t, state.Put("objects", objT))
	rec := m(doc.RecordTensor(12, []int64{2}))
	ok(t, rec.AddField("id", DTypeInt32, 0, nil))
	ok(t, rec.AddField("xy", DTypeFloat32, 4, []int64{2}))
	ok(t, rec.SetTensorData([]byte{1, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
		2, 0, 0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40}))
	ok(t, state.Put("record", rec))

	// Sharing: the same list placed twice; a list that contains itself.
	shared := m(doc.List())
	ok(t, shared.Append(m(doc.String("shared"))))
	ok(t, state.Put("shared_a", shared))
	ok(t, state.Put("shared_b", shared))
	cycle := m(doc.List())
	ok(t, cycle.Append(m(doc.Int(1))))
	ok(t, cycle.Append(cycle))
	ok(t, state.Put("cycle", cycle))
	return doc
}

func f64bits(t *testing.T, v *Value) uint64 {
	t.Helper()
	f, err := v.Float()
	if err != nil {
		t.Fatal(err)
	}
	return math.Float64bits(f)
}

// checkKitchenSink reads every value of a kitchen-sink document back and compares it exactly.
func checkKitchenSink(t *testing.T, doc *Doc) {
	t.Helper()
	for key, want := range map[string]string{"framework.name": "acme", "framework.version": "2.1", "type": "acme.Model"} {
		if got, _, _ := doc.Header(key); got != want {
			t.Errorf("header %s = %q", key, got)
		}
	}
	md, _ := doc.Metadata()
	if !reflect.DeepEqual(md, []KeyValue{{"author", "Zoë"}, {"note", "κόσμε"}}) {
		t.Errorf("metadata = %v", md)
	}
	trust, _ := doc.Trust()
	if !reflect.DeepEqual(trust, []TrustEntry{{"acme.Model", "instantiate", TrustTrusted}, {"os.system", "call", TrustDangerous}}) {
		t.Errorf("trust = %v", trust)
	}
	root := doc.Root()
	if name, _ := root.Name(); root.Kind() != KindObject || name != "acme.Model" {
		t.Fatalf("root %s %q", root.Kind(), name)
	}
	args, err := root.Args().Items()
	if err != nil || len(args) != 2 || root.Args().Kind() != KindTuple {
		t.Fatalf("args %v %v", args, err)
	}
	if i, _ := args[0].Int(); i != 3 {
		t.Errorf("args[0] = %d", i)
	}
	if n, _ := args[1].Name(); args[1].Kind() != KindGlobal || n != "acme.layers.Dense" {
		t.Errorf("args[1] = %s %q", args[1].Kind(), n)
	}
	s := root.State()
	get := func(key string) *Value {
		t.Helper()
		v := s.Find(key)
		if v == nil {
			t.Fatalf("state has no %q", key)
		}
		return v
	}
	if get("null").Kind() != KindNull {
		t.Error("null")
	}
	if b, _ := get("true").Bool(); !b {
		t.Error("true")
	}
	if b, err := get("false").Bool(); b || err != nil {
		t.Error("false")
	}
	for key, want := range map[string]int64{"int": -42, "int_min": math.MinInt64, "int_max": math.MaxInt64} {
		if i, err := get(key).Int(); i != want || err != nil {
			t.Errorf("%s = %d (%v)", key, i, err)
		}
	}
	if txt, _ := get("big").IntText(); get("big").Kind() != KindInt || txt != bigInt {
		t.Errorf("big = %q", txt)
	}
	if txt, _ := get("int_min").IntText(); txt != "-9223372036854775808" {
		t.Errorf("int_min text = %q", txt)
	}
	for key, want := range map[string]uint64{
		"pi": math.Float64bits(math.Pi), "neg_zero": 1 << 63, "nan": nanPayload, "snan": snanBits,
		"inf": math.Float64bits(math.Inf(-1)), "tiny": 1,
	} {
		if got := f64bits(t, get(key)); got != want {
			t.Errorf("%s bits %#x, want %#x", key, got, want)
		}
	}
	if str, _ := get("text").Str(); str != unicode {
		t.Errorf("text = %q", str)
	}
	if str, err := get("empty").Str(); str != "" || err != nil || get("empty").Kind() != KindString {
		t.Errorf("empty = %q", str)
	}
	if b, _ := get("bytes").BytesValue(); !bytes.Equal(b, []byte{0, 1, 2, 0xfe, 0xff}) {
		t.Errorf("bytes = %x", b)
	}
	if b, err := get("no_bytes").BytesValue(); len(b) != 0 || err != nil || get("no_bytes").Kind() != KindBytes {
		t.Errorf("no_bytes = %x", b)
	}
	set := get("set")
	if set.Kind() != KindSet || set.Len() != 2 {
		t.Errorf("set %s %d", set.Kind(), set.Len())
	}

	odd := get("odd_keys")
	pairs, err := odd.Pairs()
	if err != nil || len(pairs) != 5 {
		t.Fatalf("odd_keys %d pairs (%v)", len(pairs), err)
	}
	wantKinds := []Kind{KindInt, KindTuple, KindNull, KindFloat, KindBytes}
	for i, p := range pairs {
		if p.Key.Kind() != wantKinds[i] {
			t.Errorf("odd key %d kind %s", i, p.Key.Kind())
		}
	}
	if k, _ := pairs[1].Key.At(1); k == nil || mustInt(t, k) != 2 {
		t.Error("tuple key")
	}
	if f64bits(t, pairs[3].Key) != math.Float64bits(-0.5) {
		t.Error("float key")
	}
	if v, _ := pairs[1].Value.Str(); v != "pair" {
		t.Errorf("odd value 1 = %q", v)
	}

	tensor := func(key string, dtype DType, shape []int64, data []byte) {
		t.Helper()
		v := get(key)
		if v.Kind() != KindTensor || v.DType() != dtype || !reflect.DeepEqual(v.Shape(), shape) {
			t.Errorf("%s: %s %s %v", key, v.Kind(), v.DType(), v.Shape())
			return
		}
		got, err := v.TensorBytes()
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("%s: bytes %x (%v), want %x", key, got, err, data)
		}
	}
	f32 := make([]byte, 16)
	for i, f := range f32Vals {
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(f))
	}
	tensor("f32", DTypeFloat32, []int64{2, 2}, f32)
	f64 := make([]byte, 24)
	binary.LittleEndian.PutUint64(f64, nanPayload)
	binary.LittleEndian.PutUint64(f64[16:], 1<<63)
	tensor("f64", DTypeFloat64, []int64{3}, f64)
	tensor("f16", DTypeFloat16, []int64{2, 3}, u16le(f16Bits))
	tensor("bf16", DTypeBFloat16, []int64{3}, u16le(bf16Bits))
	tensor("i8", DTypeInt8, []int64{4}, []byte{0x80, 0xff, 0, 0x7f})
	tensor("u64", DTypeUint64, []int64{1}, []byte{1, 2, 3, 4, 5, 6, 7, 0xff})
	tensor("bool_t", DTypeBool, []int64{3}, []byte{1, 0, 1})
	tensor("c64", DTypeComplex64, []int64{1}, []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0})
	tensor("scalar", DTypeInt32, []int64{}, []byte{0x2a, 0, 0, 0})
	tensor("zero_size", DTypeFloat32, []int64{0, 5}, []byte{})
	if got, _ := get("f32").Float32s(); math.Float32bits(got[1]) != 1<<31 || got[3] != math.SmallestNonzeroFloat32 {
		t.Errorf("f32 = %v", got)
	}
	if got, _ := get("f64").Float64s(); math.Float64bits(got[0]) != nanPayload {
		t.Errorf("f64 = %v", got)
	}
	if got, _ := get("i64").Int64s(); !reflect.DeepEqual(got, []int64{math.MinInt64, math.MaxInt64}) {
		t.Errorf("i64 = %v", got)
	}
	strs := get("strings")
	if strs.DType() != DTypeString || !reflect.DeepEqual(strs.Shape(), []int64{2, 3}) || strs.Len() != 6 {
		t.Errorf("strings: %s %v", strs.DType(), strs.Shape())
	}
	if got, err := strs.Strings(); !reflect.DeepEqual(got, strElems) {
		t.Errorf("strings = %q (%v)", got, err)
	}
	if s4, _ := strs.StringAt(4); s4 != "x\x00y" {
		t.Errorf("strings[4] = %q", s4)
	}
	if _, err := strs.TensorBytes(); StatusOf(err) != StatusType {
		t.Errorf("TensorBytes of a string tensor: %v", err)
	}
	objs := get("objects")
	o0, _ := objs.ItemAt(0)
	o1, _ := objs.ItemAt(1)
	if objs.DType() != DTypeObject || o0 == nil || o1 == nil || mustStr(t, o0) != "first" || o1.Kind() != KindGlobal {
		t.Errorf("object tensor")
	}
	rec := get("record")
	fields, err := rec.Fields()
	if err != nil || !reflect.DeepEqual(fields, []Field{{"id", DTypeInt32, 0, nil}, {"xy", DTypeFloat32, 4, []int64{2}}}) {
		t.Errorf("record fields = %+v (%v)", fields, err)
	}
	tensor("record", DTypeRecord, []int64{2}, []byte{1, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40,
		2, 0, 0, 0, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40})
	if rec.ItemSize() != 12 {
		t.Errorf("record itemsize %d", rec.ItemSize())
	}

	// Sharing and the cycle survive as identity, not as copies.
	if !get("shared_a").Same(get("shared_b")) {
		t.Error("shared list was duplicated")
	}
	cycle := get("cycle")
	if inner, _ := cycle.At(1); !inner.Same(cycle) {
		t.Error("cycle was not kept")
	}
}

func mustInt(t *testing.T, v *Value) int64 {
	t.Helper()
	i, err := v.Int()
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func mustStr(t *testing.T, v *Value) string {
	t.Helper()
	s, err := v.Str()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestKitchenSinkInMemory(t *testing.T) {
	doc := buildKitchenSink(t)
	defer doc.Close()
	checkKitchenSink(t, doc)
	// root, args tuple + 2 items, state, 36 keys, 35 distinct values (shared_b is shared_a),
	// 2 set items, odd_keys 5 keys + 5 values + 2 in the tuple key, 2 object tensor items, the
	// shared list's item and the cycle's int: each shared node counted once.
	if n := doc.ValueCount(); n != 94 {
		t.Errorf("ValueCount = %d", n)
	}
	if !doc.Equal(doc) || doc.Difference(doc) != "" {
		t.Error("a document differs from itself")
	}
}

func TestRoundTrip(t *testing.T) {
	r := newRegistry(t)
	orig := buildKitchenSink(t)
	defer orig.Close()
	dir := t.TempDir()
	modes := []TensorMode{TensorsAuto, TensorsReadable, TensorsCompact}
	for _, format := range []string{"json", "yaml", "pb"} {
		for _, mode := range modes {
			opts := &SaveOptions{Format: format, Tensors: mode}
			name := format + "-" + []string{"auto", "readable", "compact"}[mode]
			t.Run(name, func(t *testing.T) {
				path := filepath.Join(dir, name+".milo."+format)
				ok(t, r.Save(orig, path, opts))
				loaded, err := r.Load(path, nil) // format detected by content
				ok(t, err)
				defer loaded.Close()
				if !orig.Equal(loaded) {
					t.Fatalf("Save/Load: %s", orig.Difference(loaded))
				}
				checkKitchenSink(t, loaded)

				data, err := r.Encode(orig, opts)
				ok(t, err)
				onDisk, err := os.ReadFile(path)
				ok(t, err)
				if !bytes.Equal(data, onDisk) {
					t.Errorf("Encode differs from Save (%d vs %d bytes)", len(data), len(onDisk))
				}
				decoded, err := r.Decode(data, name, &LoadOptions{Format: format})
				ok(t, err)
				defer decoded.Close()
				if !orig.Equal(decoded) {
					t.Fatalf("Encode/Decode: %s", orig.Difference(decoded))
				}
				checkKitchenSink(t, decoded)
			})
		}
	}
	// One-line text: no newline inside the JSON body.
	data, err := r.Encode(orig, &SaveOptions{Format: "json", Indent: IndentNone})
	ok(t, err)
	if bytes.Count(bytes.TrimSpace(data), []byte("\n")) != 0 {
		t.Error("IndentNone still wrote several lines")
	}
	indented, err := r.Encode(orig, &SaveOptions{Format: "json", Indent: 4})
	ok(t, err)
	if !bytes.Contains(indented, []byte("\n    \"")) {
		t.Error("Indent 4 not applied")
	}
}

func TestDifference(t *testing.T) {
	a := buildKitchenSink(t)
	defer a.Close()
	b := buildKitchenSink(t)
	defer b.Close()
	if !a.Equal(b) {
		t.Fatalf("two builds differ: %s", a.Difference(b))
	}
	ok(t, b.Root().State().Find("f32").SetTensorData(make([]byte, 16)))
	if a.Equal(b) || !strings.Contains(a.Difference(b), "f32") {
		t.Errorf("difference = %q", a.Difference(b))
	}
	ok(t, b.SetHeader("type", "acme.Other"))
	if a.Equal(b) {
		t.Error("header change not seen")
	}
	// -0.0 and 0.0 differ by bit pattern.
	c, _ := NewDoc()
	defer c.Close()
	d, _ := NewDoc()
	defer d.Close()
	ok(t, c.SetRoot(must(t)(c.Float(0))))
	ok(t, d.SetRoot(must(t)(d.Float(math.Copysign(0, -1)))))
	if c.Equal(d) {
		t.Error("0.0 equals -0.0")
	}
}

func TestExternalTensors(t *testing.T) {
	r := newRegistry(t)
	orig := buildKitchenSink(t)
	defer orig.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "model.milo.json")
	ok(t, r.Save(orig, path, &SaveOptions{Tensors: TensorsExternal}))
	sidecar := filepath.Join(dir, "model.milo.safetensors")
	info, err := os.Stat(sidecar)
	if err != nil || info.Size() == 0 {
		t.Fatalf("no sidecar %s: %v", sidecar, err)
	}
	text, err := os.ReadFile(path)
	ok(t, err)
	if !bytes.Contains(text, []byte("model.milo.safetensors")) {
		t.Error("document does not name its sidecar")
	}
	loaded, err := r.Load(path, nil)
	ok(t, err)
	defer loaded.Close()
	if file, set, _ := loaded.Header("external.file"); !set || file != "model.milo.safetensors" {
		t.Errorf("external.file = %q", file)
	}
	if sum, set, _ := loaded.Header("external.sha256"); !set || len(sum) != 64 {
		t.Errorf("external.sha256 = %q", sum)
	}
	checkKitchenSink(t, loaded)
	// Equal to the original except for the external.* header fields.
	ok(t, loaded.UnsetHeader("external.file"))
	ok(t, loaded.UnsetHeader("external.sha256"))
	if !orig.Equal(loaded) {
		t.Errorf("external round trip: %s", orig.Difference(loaded))
	}

	// Decode refuses documents with external tensors; a tampered sidecar fails the sha256 check.
	_, err = r.Decode(text, "model.milo.json", nil)
	wantStatus(t, err, StatusUnsupported, "")
	raw, err := os.ReadFile(sidecar)
	ok(t, err)
	raw[len(raw)-1] ^= 0xff
	ok(t, os.WriteFile(sidecar, raw, 0o644))
	_, err = r.Load(path, nil)
	wantStatus(t, err, StatusIntegrity, "")
	noVerify, err := r.Load(path, &LoadOptions{NoVerify: true})
	ok(t, err)
	noVerify.Close()
}
