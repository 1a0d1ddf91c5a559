package milo

/*
#include <stdlib.h>
#include <milo/milo.h>
*/
import "C"

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// Value is a value inside a Doc (a borrowed milo_value handle). It keeps its document
// reachable, so a value stays usable after the caller drops the *Doc, until Doc.Close. After
// Close every method fails with ErrDocClosed (methods without an error result panic with it).
//
// Wrappers are cheap and not unique: two *Value for the same node compare Same, not ==.
type Value struct {
	doc *Doc
	ptr *C.milo_value
}

// Pair is one (key, value) pair of a map.
type Pair struct {
	Key   *Value
	Value *Value
}

// Field is one field of a record tensor.
type Field struct {
	Name   string
	DType  DType
	Offset uint64  // byte offset within an item
	Shape  []int64 // sub-array shape, nil for a scalar field
}

// Doc returns the document the value belongs to.
func (v *Value) Doc() *Doc { return v.doc }

// Same reports whether v and other are the same node (identity, not equality).
func (v *Value) Same(other *Value) bool {
	return v != nil && other != nil && v.doc == other.doc && v.ptr == other.ptr
}

// rlock takes v's document for reading; on success the caller must v.runlock().
func (v *Value) rlock() error {
	_, err := v.doc.rlock()
	return err
}

func (v *Value) runlock() { v.doc.mu.RUnlock() }

func (v *Value) mustRLock() { v.doc.mustRLock() }

// write runs fn under the document's write lock.
func (v *Value) write(fn func(e *C.milo_error) C.milo_status) error {
	if _, err := v.doc.lock(); err != nil {
		return err
	}
	defer v.doc.mu.Unlock()
	e := newCError()
	return newError(fn(e), e)
}

// goStringN copies n bytes of C text (NULs included).
func goStringN(p *C.char, n C.size_t) string {
	if n == 0 {
		return ""
	}
	return string(unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n)))
}

// Kind returns the value's kind; KindInvalid for a nil *Value.
func (v *Value) Kind() Kind {
	if v == nil {
		return KindInvalid
	}
	v.mustRLock()
	defer v.runlock()
	return Kind(C.milo_value_get_kind(v.ptr))
}

// Bool reads a bool (StatusType for other kinds).
func (v *Value) Bool() (bool, error) {
	if err := v.rlock(); err != nil {
		return false, err
	}
	defer v.runlock()
	var out C.bool
	e := newCError()
	if err := newError(C.milo_value_get_bool(v.ptr, &out, e), e); err != nil {
		return false, err
	}
	return bool(out), nil
}

// Int reads an integer; StatusOutOfRange when it does not fit int64 (use IntText).
func (v *Value) Int() (int64, error) {
	if err := v.rlock(); err != nil {
		return 0, err
	}
	defer v.runlock()
	var out C.int64_t
	e := newCError()
	if err := newError(C.milo_value_get_int(v.ptr, &out, e), e); err != nil {
		return 0, err
	}
	return int64(out), nil
}

// IntText reads any integer as decimal text.
func (v *Value) IntText() (string, error) {
	if err := v.rlock(); err != nil {
		return "", err
	}
	defer v.runlock()
	var out *C.char
	e := newCError()
	if err := newError(C.milo_value_get_int_text(v.ptr, &out, e), e); err != nil {
		return "", err
	}
	return C.GoString(out), nil
}

// Float reads a float, bit-exact.
func (v *Value) Float() (float64, error) {
	if err := v.rlock(); err != nil {
		return 0, err
	}
	defer v.runlock()
	var out C.double
	e := newCError()
	if err := newError(C.milo_value_get_float(v.ptr, &out, e), e); err != nil {
		return 0, err
	}
	return float64(out), nil
}

// Str reads a string (a copy; may contain NUL).
func (v *Value) Str() (string, error) {
	if err := v.rlock(); err != nil {
		return "", err
	}
	defer v.runlock()
	var data *C.char
	var n C.size_t
	e := newCError()
	if err := newError(C.milo_value_get_string(v.ptr, &data, &n, e), e); err != nil {
		return "", err
	}
	return goStringN(data, n), nil
}

// BytesValue reads a bytes value (a copy).
func (v *Value) BytesValue() ([]byte, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	var data *C.uint8_t
	var n C.size_t
	e := newCError()
	if err := newError(C.milo_value_get_bytes(v.ptr, &data, &n, e), e); err != nil {
		return nil, err
	}
	out := make([]byte, int(n))
	if n > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(data)), int(n)))
	}
	return out, nil
}

// Name reads the type name of an object or the name of a global.
func (v *Value) Name() (string, error) {
	if err := v.rlock(); err != nil {
		return "", err
	}
	defer v.runlock()
	var out *C.char
	e := newCError()
	if err := newError(C.milo_value_get_name(v.ptr, &out, e), e); err != nil {
		return "", err
	}
	return C.GoString(out), nil
}

// Len returns the items of a list/tuple/set, the pairs of a map, the elements of a tensor,
// and 0 for other kinds.
func (v *Value) Len() int {
	v.mustRLock()
	defer v.runlock()
	return int(C.milo_value_count(v.ptr))
}

// indexError explains why item i of v is absent; the read lock is held.
func (v *Value) indexError(i int, what string) error {
	k := Kind(C.milo_value_get_kind(v.ptr))
	n := int(C.milo_value_count(v.ptr))
	if what == "key" && k != KindMap {
		return goError(StatusType, "KeyAt needs a map, got %s", k)
	}
	if k < KindList || k > KindMap {
		return goError(StatusType, "At needs a list, tuple, set or map, got %s", k)
	}
	return goError(StatusOutOfRange, "%s index %d out of range for %s of %d", what, i, k, n)
}

// At returns item i of a list/tuple/set, or the value of pair i of a map. StatusType for other
// kinds, StatusOutOfRange for a bad index.
func (v *Value) At(i int) (*Value, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	if i >= 0 {
		if p := C.milo_value_at(v.ptr, C.size_t(i)); p != nil {
			return v.doc.wrap(p), nil
		}
	}
	return nil, v.indexError(i, "item")
}

// KeyAt returns the key of pair i of a map.
func (v *Value) KeyAt(i int) (*Value, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	if i >= 0 {
		if p := C.milo_value_key_at(v.ptr, C.size_t(i)); p != nil {
			return v.doc.wrap(p), nil
		}
	}
	return nil, v.indexError(i, "key")
}

// Items returns the items of a list, tuple or set (the values of a map's pairs).
func (v *Value) Items() ([]*Value, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	k := Kind(C.milo_value_get_kind(v.ptr))
	if k < KindList || k > KindMap {
		return nil, goError(StatusType, "Items needs a list, tuple, set or map, got %s", k)
	}
	n := int(C.milo_value_count(v.ptr))
	out := make([]*Value, n)
	for i := range out {
		out[i] = v.doc.wrap(C.milo_value_at(v.ptr, C.size_t(i)))
	}
	return out, nil
}

// Pairs returns the (key, value) pairs of a map in order.
func (v *Value) Pairs() ([]Pair, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	if k := Kind(C.milo_value_get_kind(v.ptr)); k != KindMap {
		return nil, goError(StatusType, "Pairs needs a map, got %s", k)
	}
	n := int(C.milo_value_count(v.ptr))
	out := make([]Pair, n)
	for i := range out {
		out[i] = Pair{v.doc.wrap(C.milo_value_key_at(v.ptr, C.size_t(i))),
			v.doc.wrap(C.milo_value_at(v.ptr, C.size_t(i)))}
	}
	return out, nil
}

// Find returns the value of the first pair of a map whose key is the string key, or nil when
// absent (or v is not a map).
func (v *Value) Find(key string) *Value {
	v.mustRLock()
	defer v.runlock()
	ckey := C.CString(key)
	defer C.free(unsafe.Pointer(ckey))
	return v.doc.wrap(C.milo_value_find(v.ptr, ckey))
}

// Args returns an object's constructor arguments, or nil when none.
func (v *Value) Args() *Value {
	v.mustRLock()
	defer v.runlock()
	return v.doc.wrap(C.milo_value_get_args(v.ptr))
}

// State returns an object's state, or nil when none.
func (v *Value) State() *Value {
	v.mustRLock()
	defer v.runlock()
	return v.doc.wrap(C.milo_value_get_state(v.ptr))
}

// SetArgs sets (nil: clears) an object's constructor arguments.
func (v *Value) SetArgs(args *Value) error {
	return v.link(args, true, func(a *C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_set_args(v.ptr, a, e)
	})
}

// SetState sets (nil: clears) an object's state.
func (v *Value) SetState(state *Value) error {
	return v.link(state, true, func(s *C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_set_state(v.ptr, s, e)
	})
}

// Append appends item (a value of the same document) to a list, tuple or set.
func (v *Value) Append(item *Value) error {
	return v.link(item, false, func(it *C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_append(v.ptr, it, e)
	})
}

// SetAt replaces item i of a list/tuple/set, or the value of pair i of a map.
func (v *Value) SetAt(i int, item *Value) error {
	if i < 0 {
		return goError(StatusOutOfRange, "index %d is negative", i)
	}
	return v.link(item, false, func(it *C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_set_at(v.ptr, C.size_t(i), it, e)
	})
}

// link runs fn with item's handle under the write lock, after checking item's document.
func (v *Value) link(item *Value, nilOK bool, fn func(*C.milo_value, *C.milo_error) C.milo_status) error {
	if _, err := v.doc.lock(); err != nil {
		return err
	}
	defer v.doc.mu.Unlock()
	it, err := v.doc.own(item, nilOK)
	if err != nil {
		return err
	}
	e := newCError()
	return newError(fn(it, e), e)
}

// AppendPair appends the pair (key, item) to a map; keys may be of any kind and are not
// deduplicated.
func (v *Value) AppendPair(key, item *Value) error {
	if _, err := v.doc.lock(); err != nil {
		return err
	}
	defer v.doc.mu.Unlock()
	k, err := v.doc.own(key, false)
	if err != nil {
		return err
	}
	it, err := v.doc.own(item, false)
	if err != nil {
		return err
	}
	e := newCError()
	return newError(C.milo_value_append_pair(v.ptr, k, it, e), e)
}

// Put appends the pair (string key, item) to a map.
func (v *Value) Put(key string, item *Value) error {
	if _, err := v.doc.lock(); err != nil {
		return err
	}
	defer v.doc.mu.Unlock()
	it, err := v.doc.own(item, false)
	if err != nil {
		return err
	}
	if k := Kind(C.milo_value_get_kind(v.ptr)); k != KindMap {
		return goError(StatusType, "Put needs a map, got %s", k)
	}
	var kv *C.milo_value
	e := newCError()
	if err := newError(C.milo_value_create_string(v.doc.ptr, goStringData(key), C.size_t(len(key)), &kv, e), e); err != nil {
		return err
	}
	return newError(C.milo_value_append_pair(v.ptr, kv, it, e), e)
}

// DType returns a tensor's element type, 0 for other kinds.
func (v *Value) DType() DType {
	v.mustRLock()
	defer v.runlock()
	var dtype C.int32_t
	var shape *C.int64_t
	var ndim C.size_t
	if C.milo_value_get_tensor(v.ptr, &dtype, &shape, &ndim, nil) != C.MILO_OK {
		return 0
	}
	return DType(dtype)
}

// Shape returns a copy of a tensor's shape ([] for a scalar tensor), nil for other kinds.
func (v *Value) Shape() []int64 {
	v.mustRLock()
	defer v.runlock()
	var dtype C.int32_t
	var shape *C.int64_t
	var ndim C.size_t
	if C.milo_value_get_tensor(v.ptr, &dtype, &shape, &ndim, nil) != C.MILO_OK {
		return nil
	}
	out := make([]int64, int(ndim))
	if ndim > 0 {
		copy(out, unsafe.Slice((*int64)(unsafe.Pointer(shape)), int(ndim)))
	}
	return out
}

// ItemSize returns the bytes of one tensor element (record: itemsize; object, string and
// non-tensors: 0).
func (v *Value) ItemSize() uint64 {
	v.mustRLock()
	defer v.runlock()
	return uint64(C.milo_value_tensor_itemsize(v.ptr))
}

// tensorData returns the data of a numeric or record tensor; the read lock is held.
func (v *Value) tensorData() ([]byte, error) {
	var data unsafe.Pointer
	var n C.size_t
	e := newCError()
	if err := newError(C.milo_value_tensor_data(v.ptr, &data, &n, e), e); err != nil {
		return nil, err
	}
	if n == 0 {
		return []byte{}, nil
	}
	return unsafe.Slice((*byte)(data), int(n)), nil
}

// TensorBytes returns a copy of a numeric or record tensor's little-endian C-order data
// (StatusType for object and string tensors and non-tensors).
func (v *Value) TensorBytes() ([]byte, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	view, err := v.tensorData()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), view...), nil
}

// TensorView returns a tensor's data without copying: a read-only slice over the document's
// memory (possibly a read-only file mapping; never write to it). It is valid only until the
// tensor is written (SetTensorData) or the document is closed; keep the *Doc open while using
// it and prefer TensorBytes when in doubt.
func (v *Value) TensorView() ([]byte, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	return v.tensorData()
}

// typedData returns a copy of the data of a tensor that must have dtype want.
func (v *Value) typedData(want DType) ([]byte, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	var dtype C.int32_t
	var shape *C.int64_t
	var ndim C.size_t
	e := newCError()
	if err := newError(C.milo_value_get_tensor(v.ptr, &dtype, &shape, &ndim, e), e); err != nil {
		return nil, err
	}
	if DType(dtype) != want {
		return nil, goError(StatusType, "tensor is %s, not %s", DType(dtype), want)
	}
	view, err := v.tensorData()
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), view...), nil
}

// Float32s returns a copy of a float32 tensor's elements (StatusType for other dtypes).
func (v *Value) Float32s() ([]float32, error) {
	b, err := v.typedData(DTypeFloat32)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out, nil
}

// Float64s returns a copy of a float64 tensor's elements (StatusType for other dtypes).
func (v *Value) Float64s() ([]float64, error) {
	b, err := v.typedData(DTypeFloat64)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, nil
}

// Int64s returns a copy of an int64 tensor's elements (StatusType for other dtypes).
func (v *Value) Int64s() ([]int64, error) {
	b, err := v.typedData(DTypeInt64)
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(b)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, nil
}

// SetTensorData copies data (exactly the tensor's byte size) into a numeric or record tensor.
// Views taken before are invalid afterwards.
func (v *Value) SetTensorData(data []byte) error {
	if _, err := v.doc.lock(); err != nil {
		return err
	}
	defer v.doc.mu.Unlock()
	return writeTensor(v.ptr, data)
}

// StringAt returns element i (C order) of a string tensor.
func (v *Value) StringAt(i int) (string, error) {
	if err := v.rlock(); err != nil {
		return "", err
	}
	defer v.runlock()
	if i < 0 {
		return "", goError(StatusOutOfRange, "index %d is negative", i)
	}
	var data *C.char
	var n C.size_t
	e := newCError()
	if err := newError(C.milo_value_tensor_string_at(v.ptr, C.size_t(i), &data, &n, e), e); err != nil {
		return "", err
	}
	return goStringN(data, n), nil
}

// Strings returns every element of a string tensor in C order.
func (v *Value) Strings() ([]string, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	n := int(C.milo_value_count(v.ptr))
	out := make([]string, n)
	e := newCError()
	for i := range out {
		var data *C.char
		var len C.size_t
		if err := newError(C.milo_value_tensor_string_at(v.ptr, C.size_t(i), &data, &len, e), e); err != nil {
			return nil, err
		}
		out[i] = goStringN(data, len)
	}
	if n == 0 {
		// Still refuse non-string tensors and other kinds.
		var dtype C.int32_t
		var shape *C.int64_t
		var ndim C.size_t
		if err := newError(C.milo_value_get_tensor(v.ptr, &dtype, &shape, &ndim, e), e); err != nil {
			return nil, err
		}
		if DType(dtype) != DTypeString {
			return nil, goError(StatusType, "tensor is %s, not string", DType(dtype))
		}
	}
	return out, nil
}

// SetStringAt sets element i of a string tensor (valid UTF-8).
func (v *Value) SetStringAt(i int, s string) error {
	if i < 0 {
		return goError(StatusOutOfRange, "index %d is negative", i)
	}
	return v.write(func(e *C.milo_error) C.milo_status {
		return C.milo_value_tensor_set_string(v.ptr, C.size_t(i), goStringData(s), C.size_t(len(s)), e)
	})
}

// ItemAt returns element i (C order) of an object tensor.
func (v *Value) ItemAt(i int) (*Value, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	if i >= 0 {
		if p := C.milo_value_tensor_item_at(v.ptr, C.size_t(i)); p != nil {
			return v.doc.wrap(p), nil
		}
	}
	return nil, goError(StatusOutOfRange, "no object tensor element %d (%s of %d elements)", i,
		Kind(C.milo_value_get_kind(v.ptr)), int(C.milo_value_count(v.ptr)))
}

// SetItemAt sets element i of an object tensor to item (a value of the same document).
func (v *Value) SetItemAt(i int, item *Value) error {
	if i < 0 {
		return goError(StatusOutOfRange, "index %d is negative", i)
	}
	return v.link(item, false, func(it *C.milo_value, e *C.milo_error) C.milo_status {
		return C.milo_value_tensor_set_item(v.ptr, C.size_t(i), it, e)
	})
}

// AddField adds a field to a record tensor: a scalar numeric dtype at byte offset, with an
// optional sub-array shape.
func (v *Value) AddField(name string, dtype DType, offset uint64, shape []int64) error {
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	return v.write(func(e *C.milo_error) C.milo_status {
		return C.milo_value_tensor_add_field(v.ptr, cname, C.int32_t(dtype), C.uint64_t(offset),
			shapePtr(shape), C.size_t(len(shape)), e)
	})
}

// Fields returns the fields of a record tensor (empty for other values).
func (v *Value) Fields() ([]Field, error) {
	if err := v.rlock(); err != nil {
		return nil, err
	}
	defer v.runlock()
	n := int(C.milo_value_tensor_field_count(v.ptr))
	out := make([]Field, 0, n)
	e := newCError()
	for i := 0; i < n; i++ {
		var name *C.char
		var dtype C.int32_t
		var offset C.uint64_t
		var shape *C.int64_t
		var ndim C.size_t
		st := C.milo_value_tensor_field_at(v.ptr, C.size_t(i), &name, &dtype, &offset, &shape, &ndim, e)
		if err := newError(st, e); err != nil {
			return nil, err
		}
		f := Field{Name: C.GoString(name), DType: DType(dtype), Offset: uint64(offset)}
		if ndim > 0 {
			f.Shape = append([]int64(nil), unsafe.Slice((*int64)(unsafe.Pointer(shape)), int(ndim))...)
		}
		out = append(out, f)
	}
	return out, nil
}
