package milo

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

type irisExpected struct {
	SHA256   string      `json:"sha256"`
	Metadata [][2]string `json:"metadata"`
	Tensors  []struct {
		Name  string  `json:"name"`
		DType string  `json:"numpy_dtype"`
		Shape []int64 `json:"shape"`
		Hex   string  `json:"hex"`
	} `json:"tensors"`
}

func loadIrisExpected(t *testing.T) irisExpected {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(t), "docs", "examples", "models", "iris_mlp.expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp irisExpected
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	if len(exp.Tensors) != 7 {
		t.Fatalf("expected file lists %d tensors", len(exp.Tensors))
	}
	return exp
}

// checkIris asserts every header field and every tensor of the iris document bit-exactly.
func checkIris(t *testing.T, doc *Doc, exp irisExpected) {
	t.Helper()
	headers := map[string]string{
		"transporter.id": "safetensors", "transporter.revision": "1",
		"type": "safetensors.StateDict", "framework.name": "safetensors",
		"source.kind": "safetensors", "source.sha256": exp.SHA256,
		"format_version": "1", "producer.name": "milo",
	}
	for key, want := range headers {
		got, ok, err := doc.Header(key)
		if err != nil || !ok || got != want {
			t.Errorf("header %s = %q (set %v, err %v), want %q", key, got, ok, err, want)
		}
	}
	if _, ok, err := doc.Header("external.file"); ok || err != nil {
		t.Errorf("external.file should be unset (err %v)", err)
	}
	md, err := doc.Metadata()
	if err != nil {
		t.Fatal(err)
	}
	var gotMD [][2]string
	for _, kv := range md {
		gotMD = append(gotMD, [2]string{kv.Key, kv.Value})
	}
	if !reflect.DeepEqual(gotMD, exp.Metadata) {
		t.Errorf("metadata = %v, want %v", gotMD, exp.Metadata)
	}
	if v, ok, _ := doc.MetadataValue("model"); !ok || v != "iris-mlp" {
		t.Errorf("metadata model = %q %v", v, ok)
	}

	root := doc.Root()
	if root.Kind() != KindObject {
		t.Fatalf("root kind %s", root.Kind())
	}
	if name, _ := root.Name(); name != "safetensors.StateDict" {
		t.Errorf("root type %q", name)
	}
	if root.Args() != nil {
		t.Error("root has args")
	}
	state := root.State()
	if state.Kind() != KindMap || state.Len() != 7 {
		t.Fatalf("state: %s of %d", state.Kind(), state.Len())
	}
	pairs, err := state.Pairs()
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range exp.Tensors {
		key, _ := pairs[i].Key.Str()
		if key != want.Name {
			t.Errorf("pair %d key %q, want %q", i, key, want.Name)
		}
		tensor := state.Find(want.Name)
		if tensor == nil || !tensor.Same(pairs[i].Value) {
			t.Fatalf("Find(%q) did not return pair %d", want.Name, i)
		}
		if tensor.Kind() != KindTensor || tensor.DType().String() != want.DType {
			t.Errorf("%s: %s %s, want tensor %s", want.Name, tensor.Kind(), tensor.DType(), want.DType)
		}
		if got := tensor.Shape(); !reflect.DeepEqual(got, append([]int64{}, want.Shape...)) {
			t.Errorf("%s: shape %v, want %v", want.Name, got, want.Shape)
		}
		data, err := tensor.TensorBytes()
		if err != nil {
			t.Fatal(err)
		}
		if hex.EncodeToString(data) != want.Hex {
			t.Errorf("%s: bytes %x, want %s", want.Name, data, want.Hex)
		}
		view, err := tensor.TensorView()
		if err != nil || hex.EncodeToString(view) != want.Hex {
			t.Errorf("%s: view %x (%v)", want.Name, view, err)
		}
		if uint64(tensor.DType().ItemSize()) != tensor.ItemSize() {
			t.Errorf("%s: itemsize %d", want.Name, tensor.ItemSize())
		}
	}
	// Typed helpers decode the same bits.
	classes, err := state.Find("classes").Int64s()
	if err != nil || !reflect.DeepEqual(classes, []int64{0, 1, 2}) {
		t.Errorf("classes = %v (%v)", classes, err)
	}
	if n, _ := state.Find("num_batches_tracked").Int64s(); !reflect.DeepEqual(n, []int64{150}) {
		t.Errorf("num_batches_tracked = %v", n)
	}
	bias, err := state.Find("fc1.bias").Float32s()
	if err != nil || len(bias) != 8 || math.Float32bits(bias[0]) != 0xbd3c0000 || bias[5] != -0.125 {
		t.Errorf("fc1.bias = %v (%v)", bias, err)
	}
	if _, err := state.Find("input_scale").Float32s(); StatusOf(err) != StatusType {
		t.Errorf("Float32s of a float16 tensor: %v", err)
	}
}

func TestIrisOpen(t *testing.T) {
	exp := loadIrisExpected(t)
	r := newRegistry(t)
	doc, err := r.Open(irisPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	checkIris(t, doc, exp)
	if n := doc.ValueCount(); n != 16 {
		t.Errorf("ValueCount = %d, want 16", n)
	}

	// The same through DecodeNative with probing, and a round trip back to safetensors.
	raw, err := os.ReadFile(irisPath(t))
	if err != nil {
		t.Fatal(err)
	}
	doc2, err := r.DecodeNative("", raw, "iris_mlp.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer doc2.Close()
	if !doc.Equal(doc2) {
		t.Errorf("DecodeNative differs: %s", doc.Difference(doc2))
	}
	out := filepath.Join(t.TempDir(), "copy.safetensors")
	if err := r.EncodeNative("", doc, out); err != nil {
		t.Fatal(err)
	}
	back, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back, raw) {
		t.Errorf("EncodeNative wrote %d bytes that differ from the original %d", len(back), len(raw))
	}
	doc3, err := r.DecodeNative("safetensors", back, out)
	if err != nil {
		t.Fatal(err)
	}
	defer doc3.Close()
	checkIris(t, doc3, exp)
}

func TestIrisConvert(t *testing.T) {
	exp := loadIrisExpected(t)
	r := newRegistry(t)
	dir := t.TempDir()
	for _, name := range []string{"iris.milo.json", "iris.milo.yaml", "iris.milo.pb"} {
		dst := filepath.Join(dir, name)
		if err := r.Convert(irisPath(t), dst, &SaveOptions{Tensors: TensorsReadable}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		doc, err := r.Load(dst, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		checkIris(t, doc, exp)
		doc.Close()
	}
	// Document → native through the transporter of the output extension.
	native := filepath.Join(dir, "back.safetensors")
	if err := r.Convert(filepath.Join(dir, "iris.milo.yaml"), native, nil); err != nil {
		t.Fatal(err)
	}
	doc, err := r.Open(native)
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	checkIris(t, doc, exp)
	wantStatus(t, r.Convert(irisPath(t), filepath.Join(dir, "x.unknown"), nil), StatusUnsupported, "x.unknown")
}
