package milo

import (
	"encoding/hex"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitLive runs the garbage collector until the live handle counts reach the given values.
func waitLive(t *testing.T, docs, regs int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for liveDocs.Load() != docs || liveRegistries.Load() != regs {
		if time.Now().After(deadline) {
			t.Fatalf("live docs %d (want %d), registries %d (want %d)", liveDocs.Load(), docs,
				liveRegistries.Load(), regs)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}

func wantPanic(t *testing.T, want error, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		err, isErr := r.(error)
		if !isErr || !errors.Is(err, want) {
			t.Errorf("want panic with %v, got %v", want, r)
		}
	}()
	fn()
}

func TestUseAfterClose(t *testing.T) {
	docs0, regs0 := liveDocs.Load(), liveRegistries.Load()
	r := newRegistry(t)
	doc, err := r.Open(irisPath(t))
	ok(t, err)
	bias := doc.Root().State().Find("fc1.bias")
	state := doc.Root().State()
	waitLive(t, docs0+1, regs0+1)

	ok(t, doc.Close())
	ok(t, doc.Close()) // idempotent
	if !doc.Closed() {
		t.Error("Closed() is false after Close")
	}
	waitLive(t, docs0, regs0+1)

	_, err = bias.TensorBytes()
	if !errors.Is(err, ErrDocClosed) {
		t.Errorf("TensorBytes after Close: %v", err)
	}
	wantStatus(t, err, StatusInvalidArgument, "closed document")
	if _, err := bias.TensorView(); !errors.Is(err, ErrDocClosed) {
		t.Errorf("TensorView after Close: %v", err)
	}
	if _, err := bias.Float32s(); !errors.Is(err, ErrDocClosed) {
		t.Errorf("Float32s after Close: %v", err)
	}
	if _, err := state.At(0); !errors.Is(err, ErrDocClosed) {
		t.Errorf("At after Close: %v", err)
	}
	if err := state.Put("x", bias); !errors.Is(err, ErrDocClosed) {
		t.Errorf("Put after Close: %v", err)
	}
	if _, _, err := doc.Header("type"); !errors.Is(err, ErrDocClosed) {
		t.Errorf("Header after Close: %v", err)
	}
	if _, err := doc.Int(1); !errors.Is(err, ErrDocClosed) {
		t.Errorf("Int after Close: %v", err)
	}
	if err := doc.SetRoot(nil); !errors.Is(err, ErrDocClosed) {
		t.Errorf("SetRoot after Close: %v", err)
	}
	if err := r.Save(doc, t.TempDir()+"/x.json", nil); !errors.Is(err, ErrDocClosed) {
		t.Errorf("Save after Close: %v", err)
	}
	wantPanic(t, ErrDocClosed, func() { bias.Kind() })
	wantPanic(t, ErrDocClosed, func() { bias.Shape() })
	wantPanic(t, ErrDocClosed, func() { state.Len() })
	wantPanic(t, ErrDocClosed, func() { doc.Root() })
	wantPanic(t, ErrDocClosed, func() { doc.ValueCount() })

	ok(t, r.Close())
	ok(t, r.Close())
	waitLive(t, docs0, regs0)
	if _, err := r.Open(irisPath(t)); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	if err := r.LoadPlugins(""); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("LoadPlugins after Close: %v", err)
	}
	if r.Plugins() != nil || r.Transporters() != nil || r.Formats() != nil {
		t.Error("lists after Close")
	}
}

// irisBias opens the iris model and returns one tensor; the caller never sees the *Doc.
func irisBias(t *testing.T, r *Registry) *Value {
	doc, err := r.Open(irisPath(t))
	ok(t, err)
	return doc.Root().State().Find("fc2.bias")
}

func TestValueKeepsDocAlive(t *testing.T) {
	docs0, regs0 := liveDocs.Load(), liveRegistries.Load()
	r, err := NewRegistry()
	ok(t, err)
	ok(t, r.LoadPlugins(""))
	v := irisBias(t, r)
	r = nil // only the value keeps the document, and the document its registry, reachable
	for i := 0; i < 5; i++ {
		runtime.GC()
		time.Sleep(5 * time.Millisecond)
	}
	if liveDocs.Load() != docs0+1 || liveRegistries.Load() != regs0+1 {
		t.Fatalf("document or registry freed while a value was in use")
	}
	data, err := v.TensorBytes()
	ok(t, err)
	exp := loadIrisExpected(t).Tensors[4]
	if exp.Name != "fc2.bias" || hex.EncodeToString(data) != exp.Hex {
		t.Errorf("fc2.bias = %x", data)
	}
	if v.DType() != DTypeFloat32 || v.Doc().Closed() {
		t.Error("value unusable")
	}
	runtime.KeepAlive(v)
	v = nil
	// Dropping the last value lets the finalizers free the document, then the registry.
	waitLive(t, docs0, regs0)
}

func TestRegistryCloseWaitsForDocs(t *testing.T) {
	docs0, regs0 := liveDocs.Load(), liveRegistries.Load()
	r := newRegistry(t)
	doc, err := r.Open(irisPath(t))
	ok(t, err)
	ok(t, r.Close())
	// The registry refuses calls but stays alive (its plugin may own the document's memory).
	if _, err := r.Open(irisPath(t)); !errors.Is(err, ErrRegistryClosed) {
		t.Errorf("Open after Close: %v", err)
	}
	waitLive(t, docs0+1, regs0+1)
	if got, _ := doc.Root().State().Find("classes").Int64s(); len(got) != 3 || got[2] != 2 {
		t.Errorf("classes after registry Close = %v", got)
	}
	ok(t, doc.Close())
	waitLive(t, docs0, regs0)
}

func TestCrossDocumentValues(t *testing.T) {
	a, err := NewDoc()
	ok(t, err)
	defer a.Close()
	b, err := NewDoc()
	ok(t, err)
	list := must(t)(b.List())
	item := must(t)(a.Int(1))
	wantStatus(t, list.Append(item), StatusInvalidArgument, "another document")
	wantStatus(t, b.SetRoot(item), StatusInvalidArgument, "another document")
	wantStatus(t, list.Append(nil), StatusInvalidArgument, "nil")
	ok(t, b.Close())
	// A value of a closed document is refused without touching it.
	aList := must(t)(a.List())
	wantStatus(t, aList.Append(list), StatusInvalidArgument, "another document")
	if errors.Is(aList.Append(item), ErrDocClosed) {
		t.Error("closing b closed a")
	}
	if aList.Len() != 1 {
		t.Errorf("len %d", aList.Len())
	}
}

func TestConcurrentReadsAndClose(t *testing.T) {
	r := newRegistry(t)
	for round := 0; round < 20; round++ {
		doc, err := r.Open(irisPath(t))
		ok(t, err)
		w := doc.Root().State().Find("fc1.weight")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := 0; g < 4; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					data, err := w.Float32s()
					if err != nil {
						if !errors.Is(err, ErrDocClosed) {
							errs <- err
						}
						return
					}
					if len(data) != 32 {
						errs <- errors.New("short read")
						return
					}
				}
			}()
		}
		if round%2 == 0 {
			doc.Close() // races with the readers: they see data or ErrDocClosed, never freed memory
		}
		wg.Wait()
		doc.Close()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	// Encoding from several goroutines at once through one registry.
	doc, err := r.Open(irisPath(t))
	ok(t, err)
	defer doc.Close()
	var wg sync.WaitGroup
	outs := make([]string, 4)
	for g := range outs {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			data, err := r.Encode(doc, &SaveOptions{Format: "yaml"})
			if err == nil {
				outs[g] = string(data)
			}
		}(g)
	}
	wg.Wait()
	for _, o := range outs {
		if o == "" || o != outs[0] || !strings.Contains(o, "safetensors.StateDict") {
			t.Fatal("concurrent encodes differ or failed")
		}
	}
}
