package milo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root, two levels above this package (adapters/go).
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "sdk", "include", "milo", "milo.h")); err != nil {
		t.Fatalf("repository root not found above %s: %v", root, err)
	}
	return root
}

func irisPath(t *testing.T) string {
	return filepath.Join(repoRoot(t), "docs", "examples", "models", "iris_mlp.safetensors")
}

// newRegistry returns a registry with the default plugins, closed at the end of the test.
func newRegistry(t *testing.T) *Registry {
	t.Helper()
	r, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	if err := r.LoadPlugins(""); err != nil {
		t.Fatal(err)
	}
	return r
}

// wantStatus fails unless err is an *Error with the given status and its name.
func wantStatus(t *testing.T, err error, status int, msgPart string) *Error {
	t.Helper()
	var me *Error
	if !errors.As(err, &me) {
		t.Fatalf("want *milo.Error with status %d, got %T %v", status, err, err)
	}
	if me.Status != status || me.Name != StatusName(status) {
		t.Fatalf("want status %d (%s), got %d (%s): %s", status, StatusName(status), me.Status, me.Name, me.Message)
	}
	if !strings.Contains(me.Message, msgPart) {
		t.Fatalf("message %q does not contain %q", me.Message, msgPart)
	}
	if me.Error() != me.Name+": "+me.Message {
		t.Fatalf("Error() = %q", me.Error())
	}
	if StatusOf(err) != status {
		t.Fatalf("StatusOf = %d", StatusOf(err))
	}
	return me
}

func TestVersions(t *testing.T) {
	if Version() != "0.1.0" {
		t.Errorf("Version() = %q", Version())
	}
	if ABIVersion() != 2 || HeaderABIVersion != 2 {
		t.Errorf("ABIVersion() = %d, header %d", ABIVersion(), HeaderABIVersion)
	}
	if FormatVersion() != 1 {
		t.Errorf("FormatVersion() = %d", FormatVersion())
	}
	if !strings.HasSuffix(PluginDir(), filepath.Join("milo", "plugins")) {
		t.Errorf("PluginDir() = %q", PluginDir())
	}
}

func TestStatusNamesAndConstants(t *testing.T) {
	want := map[int]string{
		StatusOK: "MILO_OK", StatusInvalidArgument: "MILO_ERR_INVALID_ARGUMENT",
		StatusOutOfMemory: "MILO_ERR_OUT_OF_MEMORY", StatusCorrupt: "MILO_ERR_CORRUPT",
		StatusLimit: "MILO_ERR_LIMIT", StatusNotFound: "MILO_ERR_NOT_FOUND",
		StatusUnsupported: "MILO_ERR_UNSUPPORTED", StatusIO: "MILO_ERR_IO", StatusABI: "MILO_ERR_ABI",
		StatusPlugin: "MILO_ERR_PLUGIN", StatusDuplicate: "MILO_ERR_DUPLICATE",
		StatusType: "MILO_ERR_TYPE", StatusIntegrity: "MILO_ERR_INTEGRITY",
		StatusDangerous: "MILO_ERR_DANGEROUS", StatusOutOfRange: "MILO_ERR_OUT_OF_RANGE",
		StatusInternal: "MILO_ERR_INTERNAL",
	}
	if len(want) != 16 {
		t.Fatal("status constants are not 0..15")
	}
	for code, name := range want {
		if got := StatusName(code); got != name {
			t.Errorf("StatusName(%d) = %q, want %q", code, got, name)
		}
	}
	if StatusName(99) != "MILO_ERR_UNKNOWN" {
		t.Errorf("StatusName(99) = %q", StatusName(99))
	}
	if StatusOf(nil) != StatusOK || StatusOf(errors.New("x")) != -1 {
		t.Error("StatusOf of nil / foreign error")
	}
	if KindMap.String() != "map" || KindGlobal.String() != "global" || Kind(40).String() != "kind(40)" {
		t.Error("Kind.String")
	}
	if DTypeFloat16.String() != "float16" || DTypeString.String() != "string" || DType(0).String() != "dtype(0)" {
		t.Error("DType.String")
	}
	if DTypeFloat32.ItemSize() != 4 || DTypeComplex128.ItemSize() != 16 || DTypeString.ItemSize() != 0 {
		t.Error("DType.ItemSize")
	}
}

func TestRegistryLists(t *testing.T) {
	r := newRegistry(t)
	var names []string
	foundPluginFile := false
	for _, p := range r.Plugins() {
		names = append(names, p.Name)
		if p.Name == "safetensors" {
			foundPluginFile = strings.HasSuffix(p.Path, "milo_safetensors.so") && p.Version == "0.1.0"
		}
	}
	// the built-in formats, then the bundled plugins: safetensors always, onnx when built
	if !strings.HasPrefix(strings.Join(names, ","), "json,yaml,pb,") || !foundPluginFile {
		t.Errorf("plugins = %+v", r.Plugins())
	}
	var st TransporterInfo
	for _, tr := range r.Transporters() {
		if tr.ID == "safetensors" {
			st = tr
		}
	}
	if st.ID != "safetensors" || st.Framework != "safetensors" || st.Version != "1" ||
		!strings.Contains(st.Description, "safetensors") ||
		strings.Join(st.Types, ",") != "safetensors.StateDict" ||
		strings.Join(st.Extensions, ",") != ".safetensors" {
		t.Errorf("transporter = %+v", st)
	}
	fs := r.Formats()
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.ID+"="+strings.Join(f.Extensions, "|"))
	}
	if strings.Join(ids, ",") != "json=.json,yaml=.yaml|.yml,pb=.pb|.milopb" {
		t.Errorf("formats = %v", ids)
	}
	if !fs[0].Text || !fs[1].Text || fs[2].Text || !fs[0].ReadableTensors {
		t.Errorf("format flags = %+v", fs)
	}
	// Loading the same plugin again is a no-op; a missing one is NOT_FOUND.
	if err := r.LoadPlugin(filepath.Join(PluginDir(), "milo_safetensors.so")); err != nil {
		t.Errorf("reloading the plugin: %v", err)
	}
	before := len(r.Plugins())
	wantStatus(t, r.LoadPlugin("/nonexistent/milo_x.so"), StatusNotFound, "/nonexistent/milo_x.so")
	wantStatus(t, r.LoadPlugins("/nonexistent-plugin-dir"), StatusNotFound, "/nonexistent-plugin-dir")
	if len(r.Plugins()) != before {
		t.Errorf("plugins after failures = %+v", r.Plugins())
	}
}

func TestRegistryWithoutPlugins(t *testing.T) {
	r, err := NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if len(r.Transporters()) != 0 || len(r.Formats()) != 3 {
		t.Fatalf("fresh registry: %+v %+v", r.Transporters(), r.Formats())
	}
	// No transporter: a native file is not recognised.
	_, err = r.Open(irisPath(t))
	wantStatus(t, err, StatusUnsupported, "iris_mlp.safetensors")
}

func TestErrors(t *testing.T) {
	r := newRegistry(t)
	dir := t.TempDir()

	_, err := r.Open(filepath.Join(dir, "missing.milo.json"))
	wantStatus(t, err, StatusNotFound, "missing.milo.json")
	_, err = r.Load(filepath.Join(dir, "missing.milo.json"), nil)
	wantStatus(t, err, StatusNotFound, "missing.milo.json")

	// Corrupt document: the message names the input and the byte offset.
	bad := filepath.Join(dir, "bad.milo.json")
	if err := os.WriteFile(bad, []byte(`{"milo": {"format_version": 1}, "root": [1, 2`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = r.Load(bad, nil)
	me := wantStatus(t, err, StatusCorrupt, "bad.milo.json")
	if !strings.Contains(me.Message, "byte ") {
		t.Errorf("corrupt message has no place: %q", me.Message)
	}
	_, err = r.Decode([]byte(`{"milo": 1}`), "inline.json", &LoadOptions{Format: "json"})
	me = wantStatus(t, err, StatusCorrupt, "inline.json")
	if !strings.Contains(me.Message, "/milo") {
		t.Errorf("corrupt message has no document path: %q", me.Message)
	}
	_, err = r.Decode([]byte("hello"), "junk", nil)
	wantStatus(t, err, StatusUnsupported, "junk")
	_, err = r.DecodeNative("safetensors", []byte("garbage-garbage-"), "g.safetensors")
	wantStatus(t, err, StatusCorrupt, "g.safetensors")
	_, err = r.DecodeNative("nope", []byte("x"), "")
	wantStatus(t, err, StatusNotFound, "nope")
	_, err = r.Encode(nil, nil)
	wantStatus(t, err, StatusInvalidArgument, "nil")

	doc, err := r.Open(irisPath(t))
	if err != nil {
		t.Fatal(err)
	}
	defer doc.Close()
	// Wrong kind.
	_, err = doc.Root().Int()
	wantStatus(t, err, StatusType, "int")
	_, err = doc.Root().State().Find("fc1.bias").Int64s()
	wantStatus(t, err, StatusType, "float32")
	_, err = doc.Root().At(0)
	wantStatus(t, err, StatusType, "object")
	_, err = doc.Root().State().At(7)
	wantStatus(t, err, StatusOutOfRange, "7")
	_, _, err = doc.Header("no.such.key")
	wantStatus(t, err, StatusNotFound, "no.such.key")
	wantStatus(t, doc.SetHeader("source.sha256", "XYZ"), StatusInvalidArgument, "")
	_, err = doc.String("bad \xff utf-8")
	wantStatus(t, err, StatusInvalidArgument, "UTF-8")
	_, err = doc.IntText("012")
	wantStatus(t, err, StatusInvalidArgument, "leading zeros")
	_, err = doc.IntText("")
	wantStatus(t, err, StatusInvalidArgument, "decimal digits")
	big, err := doc.IntText("123456789012345678901234567890")
	if err != nil {
		t.Fatal(err)
	}
	_, err = big.Int()
	wantStatus(t, err, StatusOutOfRange, "")
	_, err = doc.TensorFrom(DTypeFloat32, []int64{2}, []byte{1, 2, 3})
	wantStatus(t, err, StatusInvalidArgument, "needs 8 bytes")
	wantStatus(t, r.Save(doc, filepath.Join(dir, "no-dir", "x.json"), nil), StatusIO, "no-dir")
	_, err = r.Encode(doc, &SaveOptions{Tensors: TensorsExternal})
	if StatusOf(err) == StatusOK {
		t.Error("Encode in external mode must fail")
	}
}
