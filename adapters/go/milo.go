// Package milo drives the Milo C ABI (libmilo) from Go through cgo.
//
// A Registry holds the formats ("json", "yaml", "pb") and the plugins with their transporters;
// it saves, loads, encodes, decodes and converts documents. A Doc owns every Value created in
// it: a *Value is a borrowed view that keeps its Doc reachable, and every method of a Value
// refuses to run (error or panic, never a dangling access) once its Doc is closed.
//
// Every failing C call becomes an *Error carrying the Milo status code, its symbolic name and
// the library's message. Registries and documents are freed by Close (idempotent); a finalizer
// frees them as a safety net when a program forgets to.
//
// Build: the package links -lmilo and includes <milo/milo.h>. Point cgo at a Milo build or
// installation with CGO_CFLAGS / CGO_LDFLAGS (see README.md).
package milo

/*
#cgo LDFLAGS: -lmilo
#include <stdlib.h>
#include <milo/milo.h>
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// Status codes of the C ABI (milo/error.h). They never change value.
const (
	StatusOK              = 0  // success
	StatusInvalidArgument = 1  // a bad argument (nil, wrong document, bad text, ...)
	StatusOutOfMemory     = 2  // an allocation failed
	StatusCorrupt         = 3  // input is malformed, truncated or inconsistent
	StatusLimit           = 4  // input exceeds a safety limit (depth, size, ratio)
	StatusNotFound        = 5  // a named thing (file, plugin, format, key) is absent
	StatusUnsupported     = 6  // input is valid but not supported
	StatusIO              = 7  // reading or writing a file failed
	StatusABI             = 8  // ABI version negotiation failed
	StatusPlugin          = 9  // a plugin failed, misbehaved or threw
	StatusDuplicate       = 10 // an id is already registered
	StatusType            = 11 // a value is not of the kind the call needs
	StatusIntegrity       = 12 // a checksum does not match
	StatusDangerous       = 13 // content refused as dangerous
	StatusOutOfRange      = 14 // an index or number is out of range
	StatusInternal        = 15 // a bug in Milo
)

// Error is a failed Milo call: the status code, its name (milo_status_name, e.g.
// "MILO_ERR_CORRUPT") and the message naming the input, the place in it and what was expected.
// Use errors.As to get it from a returned error, or StatusOf for just the code.
type Error struct {
	Status  int
	Name    string
	Message string
}

// Error formats the error as "NAME: message".
func (e *Error) Error() string { return e.Name + ": " + e.Message }

// ErrDocClosed is returned (or, by methods without an error result, panicked with) when a
// document, or a value of it, is used after Doc.Close.
var ErrDocClosed = &Error{StatusInvalidArgument, "MILO_ERR_INVALID_ARGUMENT", "milo: use of a closed document"}

// ErrRegistryClosed is returned when a registry is used after Registry.Close.
var ErrRegistryClosed = &Error{StatusInvalidArgument, "MILO_ERR_INVALID_ARGUMENT", "milo: use of a closed registry"}

// StatusOf returns the status code carried by err: StatusOK for nil, the code of an *Error
// found by errors.As, and -1 for any other error.
func StatusOf(err error) int {
	if err == nil {
		return StatusOK
	}
	var me *Error
	if errors.As(err, &me) {
		return me.Status
	}
	return -1
}

// StatusName returns the symbolic name of a status code ("MILO_ERR_UNKNOWN" if unknown).
func StatusName(status int) string {
	return C.GoString(C.milo_status_name(C.milo_status(status)))
}

// Version returns the library version "MAJOR.MINOR.PATCH" of the loaded libmilo.
func Version() string { return C.GoString(C.milo_version_get()) }

// ABIVersion returns the ABI version the loaded libmilo implements.
func ABIVersion() uint32 { return uint32(C.milo_abi_version_get()) }

// FormatVersion returns the document format version libmilo writes.
func FormatVersion() uint32 { return uint32(C.milo_format_version_get()) }

// HeaderABIVersion is the ABI version of the headers this package was compiled against.
const HeaderABIVersion = uint32(C.MILO_ABI_VERSION)

// PluginDir returns the default plugin folder ("milo/plugins" beside the loaded libmilo).
func PluginDir() string { return C.GoString(C.milo_registry_get_plugin_dir()) }

// Kind is the kind of a value (MILO_KIND_*).
type Kind int32

// Value kinds. KindInvalid is never stored; Kind returns it for a nil *Value.
const (
	KindInvalid Kind = -1
	KindNull    Kind = 0
	KindBool    Kind = 1
	KindInt     Kind = 2
	KindFloat   Kind = 3
	KindString  Kind = 4
	KindBytes   Kind = 5
	KindList    Kind = 6
	KindTuple   Kind = 7
	KindSet     Kind = 8
	KindMap     Kind = 9
	KindTensor  Kind = 10
	KindObject  Kind = 11
	KindGlobal  Kind = 12
)

var kindNames = [...]string{"null", "bool", "int", "float", "string", "bytes", "list", "tuple",
	"set", "map", "tensor", "object", "global"}

// String returns the lower-case kind name ("map"), or "kind(N)" for an unknown value.
func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	if k == KindInvalid {
		return "invalid"
	}
	return fmt.Sprintf("kind(%d)", int32(k))
}

// DType is a tensor element type (MILO_DTYPE_*).
type DType int32

// Tensor element types.
const (
	DTypeBool       DType = 1
	DTypeInt8       DType = 2
	DTypeInt16      DType = 3
	DTypeInt32      DType = 4
	DTypeInt64      DType = 5
	DTypeUint8      DType = 6
	DTypeUint16     DType = 7
	DTypeUint32     DType = 8
	DTypeUint64     DType = 9
	DTypeFloat16    DType = 10
	DTypeBFloat16   DType = 11
	DTypeFloat32    DType = 12
	DTypeFloat64    DType = 13
	DTypeComplex64  DType = 14
	DTypeComplex128 DType = 15
	DTypeRecord     DType = 16 // named, typed fields at byte offsets within an item
	DTypeObject     DType = 17 // every element is a value
	DTypeString     DType = 18 // every element is a UTF-8 string
)

var dtypeNames = [...]string{"", "bool", "int8", "int16", "int32", "int64", "uint8", "uint16",
	"uint32", "uint64", "float16", "bfloat16", "float32", "float64", "complex64", "complex128",
	"record", "object", "string"}

var dtypeSizes = [...]int{0, 1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8, 8, 16, 0, 0, 0}

// String returns the dtype name ("float32"), or "dtype(N)" for an unknown value.
func (d DType) String() string {
	if d > 0 && int(d) < len(dtypeNames) {
		return dtypeNames[d]
	}
	return fmt.Sprintf("dtype(%d)", int32(d))
}

// ItemSize returns the bytes of one element of a numeric dtype, 0 for record, object, string
// and unknown dtypes.
func (d DType) ItemSize() int {
	if d > 0 && int(d) < len(dtypeSizes) {
		return dtypeSizes[d]
	}
	return 0
}

// TrustLevel says how far a name a document refers to is trusted (MILO_TRUST_*).
type TrustLevel int32

// Trust levels.
const (
	TrustTrusted   TrustLevel = 0
	TrustUntrusted TrustLevel = 1
	TrustDangerous TrustLevel = 2
)

// TensorMode says how a document format stores tensors (MILO_TENSORS_*).
type TensorMode int32

// Tensor storage modes for SaveOptions.Tensors.
const (
	TensorsAuto     TensorMode = 0 // readable up to ReadableMaxBytes, compact above
	TensorsReadable TensorMode = 1 // every element a number in the text
	TensorsCompact  TensorMode = 2 // base64 of the raw little-endian bytes
	TensorsExternal TensorMode = 3 // numeric tensors in a safetensors sidecar (Save only)
)

// newError returns nil for MILO_OK, else the *Error the C call reported into e.
func newError(st C.milo_status, e *C.milo_error) error {
	if st == C.MILO_OK {
		return nil
	}
	msg := ""
	if e != nil {
		msg = C.GoString(&e.message[0])
	}
	return &Error{Status: int(st), Name: StatusName(int(st)), Message: msg}
}

// goError makes an *Error for a failure detected on the Go side of the boundary.
func goError(status int, format string, args ...any) error {
	return &Error{Status: status, Name: StatusName(status), Message: fmt.Sprintf(format, args...)}
}

// newCError returns an initialised error buffer (MILO_ERROR_INIT).
func newCError() *C.milo_error {
	e := new(C.milo_error)
	e.struct_size = C.uint32_t(unsafe.Sizeof(*e))
	return e
}

// cEmpty is a NUL-terminated empty C string for calls that need a non-NULL pointer.
var cEmpty = C.CString("")

// cStringOrNil returns a C copy of s (free it with C.free), or nil for "".
func cStringOrNil(s string) *C.char {
	if s == "" {
		return nil
	}
	return C.CString(s)
}

// goBytesData returns a pointer to b's data for the length of one C call (the callee copies),
// or a pointer to an empty C string when b is empty.
func goBytesData(b []byte) *C.uint8_t {
	if len(b) == 0 {
		return (*C.uint8_t)(unsafe.Pointer(cEmpty))
	}
	return (*C.uint8_t)(unsafe.Pointer(&b[0]))
}

// goStringData is goBytesData for a string.
func goStringData(s string) *C.char {
	if len(s) == 0 {
		return cEmpty
	}
	return (*C.char)(unsafe.Pointer(unsafe.StringData(s)))
}

// Must returns v, or panics with err when it is not nil: `doc.Map()` etc. in builders whose
// failure would be a bug, e.g. `state := milo.Must(doc.Map())`.
func Must(v *Value, err error) *Value {
	if err != nil {
		panic(err)
	}
	return v
}
