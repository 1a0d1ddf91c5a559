package milo

/*
#include <stdlib.h>
#include <milo/milo.h>
*/
import "C"

import (
	"encoding/binary"
	"math"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Doc is a Milo document (milo_doc): a header and one root value. It owns every Value created
// in it. Create one with NewDoc or read one through a Registry; free it with Close.
//
// A Doc is safe for concurrent use: reads run in parallel, writes (builders, setters) take it
// exclusively. Close waits for running calls and makes every later call on the document or its
// values fail with ErrDocClosed (methods without an error result panic with it).
type Doc struct {
	mu  sync.RWMutex
	ptr *C.milo_doc
	reg *Registry // the registry that produced it (nil for NewDoc); kept open until Close
}

// liveDocs and liveRegistries count the C handles not yet destroyed (for the tests: every
// handle freed exactly once).
var liveDocs, liveRegistries atomic.Int64

// KeyValue is one metadata entry.
type KeyValue struct {
	Key   string
	Value string
}

// TrustEntry records that the document names Name (exact "module.qualname") used as Usage
// ("instantiate", "call", "reference", ...) with a trust level.
type TrustEntry struct {
	Name  string
	Usage string
	Level TrustLevel
}

func newDocHandle(p *C.milo_doc, reg *Registry) *Doc {
	d := &Doc{ptr: p, reg: reg}
	liveDocs.Add(1)
	runtime.SetFinalizer(d, (*Doc).Close)
	return d
}

// NewDoc creates an empty document: no root, format_version and producer set.
func NewDoc() (*Doc, error) {
	var p *C.milo_doc
	e := newCError()
	if err := newError(C.milo_doc_create(&p, e), e); err != nil {
		return nil, err
	}
	return newDocHandle(p, nil), nil
}

// Close frees the document and every value in it. It is idempotent and always returns nil.
// Tensor views (Value.TensorView) must not be used afterwards.
func (d *Doc) Close() error {
	d.mu.Lock()
	p, reg := d.ptr, d.reg
	d.ptr, d.reg = nil, nil
	if p != nil {
		runtime.SetFinalizer(d, nil)
		C.milo_doc_destroy(p)
		liveDocs.Add(-1)
	}
	d.mu.Unlock()
	if p != nil && reg != nil {
		reg.docClosed()
	}
	return nil
}

// Closed reports whether Close was called.
func (d *Doc) Closed() bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.ptr == nil
}

// rlock takes the document for reading; on success the caller must d.mu.RUnlock().
func (d *Doc) rlock() (*C.milo_doc, error) {
	if d == nil {
		return nil, goError(StatusInvalidArgument, "document is nil")
	}
	d.mu.RLock()
	if d.ptr == nil {
		d.mu.RUnlock()
		return nil, ErrDocClosed
	}
	return d.ptr, nil
}

// lock takes the document for writing; on success the caller must d.mu.Unlock().
func (d *Doc) lock() (*C.milo_doc, error) {
	d.mu.Lock()
	if d.ptr == nil {
		d.mu.Unlock()
		return nil, ErrDocClosed
	}
	return d.ptr, nil
}

// mustRLock is rlock for methods without an error result: it panics with ErrDocClosed.
func (d *Doc) mustRLock() *C.milo_doc {
	p, err := d.rlock()
	if err != nil {
		panic(err)
	}
	return p
}

func (d *Doc) wrap(p *C.milo_value) *Value {
	if p == nil {
		return nil
	}
	return &Value{doc: d, ptr: p}
}

// own checks that v (nil allowed when nilOK) belongs to d, before its handle reaches C: a
// value of another, possibly closed, document is refused without touching it.
func (d *Doc) own(v *Value, nilOK bool) (*C.milo_value, error) {
	if v == nil {
		if nilOK {
			return nil, nil
		}
		return nil, goError(StatusInvalidArgument, "value is nil")
	}
	if v.doc != d {
		return nil, goError(StatusInvalidArgument, "value belongs to another document")
	}
	return v.ptr, nil
}

// Header reads a header field ("format_version", "producer.name", "producer.version",
// "framework.name", "framework.version", "transporter.id", "transporter.revision", "type",
// "source.kind", "source.version", "source.sha256", "external.file", "external.sha256").
// ok is false when the field is unset; an unknown key is StatusNotFound.
func (d *Doc) Header(key string) (value string, ok bool, err error) {
	p, err := d.rlock()
	if err != nil {
		return "", false, err
	}
	defer d.mu.RUnlock()
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var out *C.char
	e := newCError()
	if err := newError(C.milo_doc_get_header(p, ckey, &out, e), e); err != nil {
		return "", false, err
	}
	if out == nil {
		return "", false, nil
	}
	return C.GoString(out), true, nil
}

// cSetter is the shape of milo_doc_set_header and milo_doc_set_metadata (NULL value: unset).
type cSetter func(*C.milo_doc, *C.char, *C.char, *C.milo_error) C.milo_status

// setKeyValue calls set with key and value (nil: unset) under the write lock.
func (d *Doc) setKeyValue(set cSetter, key string, value *string) error {
	p, err := d.lock()
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	var cval *C.char
	if value != nil {
		cval = C.CString(*value)
		defer C.free(unsafe.Pointer(cval))
	}
	e := newCError()
	return newError(set(p, ckey, cval, e), e)
}

func (d *Doc) setHeader(key string, value *string) error {
	return d.setKeyValue(func(p *C.milo_doc, k, v *C.char, e *C.milo_error) C.milo_status {
		return C.milo_doc_set_header(p, k, v, e)
	}, key, value)
}

// SetHeader sets a header field (see Header for the keys). "format_version" and
// "transporter.revision" take decimal text; "source.sha256" 64 lowercase hex digits.
func (d *Doc) SetHeader(key, value string) error { return d.setHeader(key, &value) }

// UnsetHeader clears a header field.
func (d *Doc) UnsetHeader(key string) error { return d.setHeader(key, nil) }

// Metadata returns the free-form metadata entries in insertion order.
func (d *Doc) Metadata() ([]KeyValue, error) {
	p, err := d.rlock()
	if err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	n := int(C.milo_doc_metadata_count(p))
	out := make([]KeyValue, 0, n)
	e := newCError()
	for i := 0; i < n; i++ {
		var k, v *C.char
		if err := newError(C.milo_doc_metadata_at(p, C.size_t(i), &k, &v, e), e); err != nil {
			return nil, err
		}
		out = append(out, KeyValue{C.GoString(k), C.GoString(v)})
	}
	return out, nil
}

// MetadataValue returns the metadata entry for key; ok is false when absent.
func (d *Doc) MetadataValue(key string) (value string, ok bool, err error) {
	entries, err := d.Metadata()
	if err != nil {
		return "", false, err
	}
	for _, kv := range entries {
		if kv.Key == key {
			return kv.Value, true, nil
		}
	}
	return "", false, nil
}

func (d *Doc) setMetadata(key string, value *string) error {
	return d.setKeyValue(func(p *C.milo_doc, k, v *C.char, e *C.milo_error) C.milo_status {
		return C.milo_doc_set_metadata(p, k, v, e)
	}, key, value)
}

// SetMetadata sets a metadata entry (a known key is replaced in place).
func (d *Doc) SetMetadata(key, value string) error { return d.setMetadata(key, &value) }

// UnsetMetadata removes a metadata entry.
func (d *Doc) UnsetMetadata(key string) error { return d.setMetadata(key, nil) }

// Trust returns the trust entries in insertion order.
func (d *Doc) Trust() ([]TrustEntry, error) {
	p, err := d.rlock()
	if err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	n := int(C.milo_doc_trust_count(p))
	out := make([]TrustEntry, 0, n)
	e := newCError()
	for i := 0; i < n; i++ {
		var name, usage *C.char
		var level C.int32_t
		if err := newError(C.milo_doc_trust_at(p, C.size_t(i), &name, &usage, &level, e), e); err != nil {
			return nil, err
		}
		out = append(out, TrustEntry{C.GoString(name), C.GoString(usage), TrustLevel(level)})
	}
	return out, nil
}

// SetTrust records (or, for a known name and usage, replaces) a trust entry.
func (d *Doc) SetTrust(name, usage string, level TrustLevel) error {
	p, err := d.lock()
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	cname, cusage := C.CString(name), C.CString(usage)
	defer C.free(unsafe.Pointer(cname))
	defer C.free(unsafe.Pointer(cusage))
	e := newCError()
	return newError(C.milo_doc_set_trust(p, cname, cusage, C.int32_t(level), e), e)
}

// Root returns the root value, or nil when none is set. Panics with ErrDocClosed after Close.
func (d *Doc) Root() *Value {
	p := d.mustRLock()
	defer d.mu.RUnlock()
	return d.wrap(C.milo_doc_get_root(p))
}

// SetRoot sets the root value (a value of this document); nil clears it.
func (d *Doc) SetRoot(v *Value) error {
	p, err := d.lock()
	if err != nil {
		return err
	}
	defer d.mu.Unlock()
	cv, err := d.own(v, true)
	if err != nil {
		return err
	}
	e := newCError()
	return newError(C.milo_doc_set_root(p, cv, e), e)
}

// Equal reports deep structural equality (header and values; floats and tensor bytes by bit
// pattern; sharing and cycles by graph shape). Panics with ErrDocClosed after Close.
func (d *Doc) Equal(other *Doc) bool { return d.Difference(other) == "" }

// Difference returns "" when the documents are equal, else the first difference as a document
// path and a reason ("/root/state/coef_: ..."). Panics with ErrDocClosed after Close.
func (d *Doc) Difference(other *Doc) string {
	first, second := d, other
	if other != nil && uintptr(unsafe.Pointer(other)) < uintptr(unsafe.Pointer(d)) {
		first, second = other, d // a fixed lock order: no deadlock with other.Difference(d)
	}
	p1 := first.mustRLock()
	defer first.mu.RUnlock()
	p2 := p1
	if second != first {
		p2 = second.mustRLock()
		defer second.mu.RUnlock()
	}
	where := make([]byte, 1024)
	if C.milo_doc_equal(p1, p2, (*C.char)(unsafe.Pointer(&where[0])), C.size_t(len(where))) {
		return ""
	}
	s := C.GoString((*C.char)(unsafe.Pointer(&where[0])))
	if s == "" {
		s = "documents differ"
	}
	return s
}

// ValueCount returns the number of values reachable from the root, shared ones counted once.
// Panics with ErrDocClosed after Close.
func (d *Doc) ValueCount() int {
	p := d.mustRLock()
	defer d.mu.RUnlock()
	return int(C.milo_doc_value_count(p))
}

// create runs one value constructor under the write lock and wraps its result.
func (d *Doc) create(fn func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status) (*Value, error) {
	p, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	var out *C.milo_value
	e := newCError()
	if err := newError(fn(p, &out, e), e); err != nil {
		return nil, err
	}
	return d.wrap(out), nil
}

// Null creates a null value.
func (d *Doc) Null() (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_null(p, out, e)
	})
}

// Bool creates a bool value.
func (d *Doc) Bool(b bool) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_bool(p, C.bool(b), out, e)
	})
}

// Int creates an integer value.
func (d *Doc) Int(i int64) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_int(p, C.int64_t(i), out, e)
	})
}

// IntText creates an integer of any size from decimal text ('-'? digits, no leading zeros);
// other text is StatusInvalidArgument.
func (d *Doc) IntText(s string) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_int_text(p, goStringData(s), C.size_t(len(s)), out, e)
	})
}

// Float creates a float value; the bit pattern (-0.0, NaN payloads) is kept exactly.
func (d *Doc) Float(f float64) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_float(p, C.double(f), out, e)
	})
}

// String creates a string value; s must be valid UTF-8 (it may contain NUL).
func (d *Doc) String(s string) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_string(p, goStringData(s), C.size_t(len(s)), out, e)
	})
}

// Bytes creates a bytes value (a copy of b).
func (d *Doc) Bytes(b []byte) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_bytes(p, goBytesData(b), C.size_t(len(b)), out, e)
	})
}

func (d *Doc) container(kind Kind) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_container(p, C.int32_t(kind), out, e)
	})
}

// List creates an empty list.
func (d *Doc) List() (*Value, error) { return d.container(KindList) }

// Tuple creates an empty tuple.
func (d *Doc) Tuple() (*Value, error) { return d.container(KindTuple) }

// Set creates an empty set (ordered as inserted).
func (d *Doc) Set() (*Value, error) { return d.container(KindSet) }

// Map creates an empty map (ordered pairs; keys of any kind).
func (d *Doc) Map() (*Value, error) { return d.container(KindMap) }

// Object creates an object of the fully qualified type typ, with no args and no state.
func (d *Doc) Object(typ string) (*Value, error) {
	ctyp := C.CString(typ)
	defer C.free(unsafe.Pointer(ctyp))
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_object(p, ctyp, out, e)
	})
}

// Global creates a global naming name ("module.qualname"); it is never resolved.
func (d *Doc) Global(name string) (*Value, error) {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_global(p, cname, out, e)
	})
}

func shapePtr(shape []int64) *C.int64_t {
	if len(shape) == 0 {
		return nil
	}
	return (*C.int64_t)(unsafe.Pointer(&shape[0]))
}

// Tensor creates a tensor of dtype (not DTypeRecord) and shape: numeric data zero-filled,
// object elements null, string elements empty. Fill it with SetTensorData, SetStringAt or
// SetItemAt.
func (d *Doc) Tensor(dtype DType, shape []int64) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_tensor(p, C.int32_t(dtype), shapePtr(shape), C.size_t(len(shape)), out, e)
	})
}

// RecordTensor creates a zero-filled record tensor whose items are itemsize bytes; add its
// fields with AddField before writing data.
func (d *Doc) RecordTensor(itemsize uint64, shape []int64) (*Value, error) {
	return d.create(func(p *C.milo_doc, out **C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_create_record_tensor(p, C.uint64_t(itemsize), shapePtr(shape), C.size_t(len(shape)), out, e)
	})
}

// tensorBytes is the data size of a numeric dtype and shape, false when invalid or overflowing.
func tensorBytes(dtype DType, shape []int64) (uint64, bool) {
	if dtype.ItemSize() == 0 {
		return 0, false
	}
	return scaledCount(uint64(dtype.ItemSize()), shape)
}

// scaledCount is n × the product of shape, false for a negative dim or an overflow.
func scaledCount(n uint64, shape []int64) (uint64, bool) {
	for _, dim := range shape {
		if dim < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(dim))
		if hi != 0 {
			return 0, false
		}
		n = lo
	}
	return n, true
}

// TensorFrom creates a numeric tensor of dtype and shape holding a copy of data (little-endian,
// C order, exactly shape-product × itemsize bytes).
func (d *Doc) TensorFrom(dtype DType, shape []int64, data []byte) (*Value, error) {
	n, ok := tensorBytes(dtype, shape)
	if !ok {
		return nil, goError(StatusInvalidArgument, "TensorFrom needs a numeric dtype and dims >= 0, got %s %v", dtype, shape)
	}
	if n != uint64(len(data)) {
		return nil, goError(StatusInvalidArgument, "tensor %s %v needs %d bytes, got %d", dtype, shape, n, len(data))
	}
	p, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	var out *C.milo_value
	e := newCError()
	st := C.milo_value_create_tensor(p, C.int32_t(dtype), shapePtr(shape), C.size_t(len(shape)), &out, e)
	if err := newError(st, e); err != nil {
		return nil, err
	}
	if err := writeTensor(out, data); err != nil {
		return nil, err
	}
	return d.wrap(out), nil
}

// writeTensor copies data into a numeric tensor's memory; the document's write lock is held.
func writeTensor(t *C.milo_value, data []byte) error {
	var dst unsafe.Pointer
	var n C.size_t
	e := newCError()
	if err := newError(C.milo_value_tensor_mutable_data(t, &dst, &n, e), e); err != nil {
		return err
	}
	if int(n) != len(data) {
		return goError(StatusInvalidArgument, "tensor holds %d bytes, got %d", int(n), len(data))
	}
	if n > 0 {
		copy(unsafe.Slice((*byte)(dst), int(n)), data)
	}
	return nil
}

// TensorFromFloat32 creates a float32 tensor holding a copy of values.
func (d *Doc) TensorFromFloat32(shape []int64, values []float32) (*Value, error) {
	buf := make([]byte, 4*len(values))
	for i, f := range values {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	return d.TensorFrom(DTypeFloat32, shape, buf)
}

// TensorFromFloat64 creates a float64 tensor holding a copy of values.
func (d *Doc) TensorFromFloat64(shape []int64, values []float64) (*Value, error) {
	buf := make([]byte, 8*len(values))
	for i, f := range values {
		binary.LittleEndian.PutUint64(buf[8*i:], math.Float64bits(f))
	}
	return d.TensorFrom(DTypeFloat64, shape, buf)
}

// TensorFromInt64 creates an int64 tensor holding a copy of values.
func (d *Doc) TensorFromInt64(shape []int64, values []int64) (*Value, error) {
	buf := make([]byte, 8*len(values))
	for i, v := range values {
		binary.LittleEndian.PutUint64(buf[8*i:], uint64(v))
	}
	return d.TensorFrom(DTypeInt64, shape, buf)
}

// StringTensor creates a string tensor of shape holding values (C order, valid UTF-8).
func (d *Doc) StringTensor(shape []int64, values []string) (*Value, error) {
	if n, ok := scaledCount(1, shape); !ok || n != uint64(len(values)) {
		return nil, goError(StatusInvalidArgument, "string tensor %v needs as many values as elements, got %d", shape, len(values))
	}
	p, err := d.lock()
	if err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	var out *C.milo_value
	e := newCError()
	st := C.milo_value_create_tensor(p, C.MILO_DTYPE_STRING, shapePtr(shape), C.size_t(len(shape)), &out, e)
	if err := newError(st, e); err != nil {
		return nil, err
	}
	for i, s := range values {
		st := C.milo_value_tensor_set_string(out, C.size_t(i), goStringData(s), C.size_t(len(s)), e)
		if err := newError(st, e); err != nil {
			return nil, err
		}
	}
	return d.wrap(out), nil
}
