/* FROZEN COPY of sdk/include/milo/value.h as released with ABI 1 (Milo 0.1.0). Never edit: the
 * ABI tests compile a plugin against exactly these declarations, and every later libmilo must
 * keep loading it. */
/// \file milo/value.h
/// The Milo document: a header (the model descriptor) and one root value, edited through
/// opaque handles.
///
/// Ownership: a milo_doc owns every value created in it. A `milo_value*` is a borrowed handle
/// valid until the document is destroyed; values are never freed one by one. The same value may
/// be placed in several containers (sharing) and a container may contain itself (cycles); the
/// encoders write the second and later occurrences of a list, tuple, set, map, object or tensor
/// as a reference (`$ref`). Scalars (null, bool, int, float, string, bytes, global) have no
/// identity: placing one scalar in two places writes it twice.
///
/// Threads: a document is [not-concurrent]: concurrent reads of one document are safe, any
/// write needs exclusive access. Different documents are independent.
#ifndef MILO_VALUE_H
#define MILO_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "milo/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/// An owned document. \since ABI 1
typedef struct milo_doc milo_doc;
/// A value inside a document (borrowed handle). \since ABI 1
typedef struct milo_value milo_value;

/// \name Value kinds (fixed forever)
/// @{
#define MILO_KIND_NULL 0
#define MILO_KIND_BOOL 1
#define MILO_KIND_INT 2     ///< signed 64-bit, or a larger integer kept exactly as decimal text
#define MILO_KIND_FLOAT 3   ///< IEEE-754 double, bit-exact
#define MILO_KIND_STRING 4  ///< UTF-8 text
#define MILO_KIND_BYTES 5
#define MILO_KIND_LIST 6
#define MILO_KIND_TUPLE 7
#define MILO_KIND_SET 8     ///< ordered as inserted
#define MILO_KIND_MAP 9     ///< ordered (key, value) pairs; keys of any kind
#define MILO_KIND_TENSOR 10
#define MILO_KIND_OBJECT 11  ///< a typed node: type name, optional args, optional state
#define MILO_KIND_GLOBAL 12  ///< a reference to a named type or function; never resolved
/// @}

/// \name Tensor element types (fixed forever)
/// @{
#define MILO_DTYPE_BOOL 1
#define MILO_DTYPE_INT8 2
#define MILO_DTYPE_INT16 3
#define MILO_DTYPE_INT32 4
#define MILO_DTYPE_INT64 5
#define MILO_DTYPE_UINT8 6
#define MILO_DTYPE_UINT16 7
#define MILO_DTYPE_UINT32 8
#define MILO_DTYPE_UINT64 9
#define MILO_DTYPE_FLOAT16 10
#define MILO_DTYPE_BFLOAT16 11
#define MILO_DTYPE_FLOAT32 12
#define MILO_DTYPE_FLOAT64 13
#define MILO_DTYPE_COMPLEX64 14
#define MILO_DTYPE_COMPLEX128 15
#define MILO_DTYPE_RECORD 16  ///< named, typed fields at byte offsets within an item
#define MILO_DTYPE_OBJECT 17  ///< every element is a milo_value
#define MILO_DTYPE_STRING 18  ///< every element is a UTF-8 string
/// @}

/// Maximum number of tensor dimensions. \since ABI 1
#define MILO_MAX_NDIM 64

/// Releases memory handed to a document by milo_value_create_tensor_borrowed. Called exactly
/// once, from the thread that destroys the document (or copies the data on first write).
typedef void (*milo_release_fn)(void* context);

/* ------------------------------------------------------------------------------------------ */
/* Documents                                                                                   */
/* ------------------------------------------------------------------------------------------ */

/// Creates an empty document: no root, header with format_version set, producer set to this
/// library ("milo", its version). The caller owns `*out` and frees it with milo_doc_destroy.
/// [thread-safe] \since ABI 1
MILO_API milo_status milo_doc_create(milo_doc** out, milo_error* error);

/// Destroys a document and every value in it, and calls pending release callbacks. Accepts
/// NULL. \since ABI 1
MILO_API void milo_doc_destroy(milo_doc* doc);

/// Returns the root value (borrowed), or NULL when none is set. \since ABI 1
MILO_API milo_value* milo_doc_get_root(const milo_doc* doc);

/// Sets the root value; `root` must belong to `doc`; NULL clears it. \since ABI 1
MILO_API milo_status milo_doc_set_root(milo_doc* doc, milo_value* root, milo_error* error);

/// Reads a header field. Keys: "format_version", "producer.name", "producer.version",
/// "framework.name", "framework.version", "transporter.id", "transporter.revision", "type",
/// "source.kind", "source.version", "source.sha256", "external.file", "external.sha256".
/// `*out` is NULL when the field is unset; the string lives until the field changes or the
/// document is destroyed. MILO_ERR_NOT_FOUND for an unknown key. \since ABI 1
MILO_API milo_status milo_doc_get_header(const milo_doc* doc, const char* key, const char** out,
                                         milo_error* error);

/// Sets a header field (see milo_doc_get_header for keys); `value` NULL unsets it.
/// "format_version" and "transporter.revision" take decimal text. "source.sha256" must be 64
/// lowercase hex digits. \since ABI 1
MILO_API milo_status milo_doc_set_header(milo_doc* doc, const char* key, const char* value,
                                         milo_error* error);

/// \name Trust levels (fixed forever)
/// @{
#define MILO_TRUST_TRUSTED 0
#define MILO_TRUST_UNTRUSTED 1
#define MILO_TRUST_DANGEROUS 2
/// @}

/// Records that the document names `name` (exact "module.qualname") used as `usage` (e.g.
/// "instantiate", "call", "reference") with a trust level. Setting the same (name, usage)
/// again replaces its level. Entries keep insertion order. \since ABI 1
MILO_API milo_status milo_doc_set_trust(milo_doc* doc, const char* name, const char* usage,
                                        int32_t level, milo_error* error);
/// Number of trust entries. \since ABI 1
MILO_API size_t milo_doc_trust_count(const milo_doc* doc);
/// Reads trust entry `index`; strings borrowed from the document. \since ABI 1
MILO_API milo_status milo_doc_trust_at(const milo_doc* doc, size_t index, const char** name,
                                       const char** usage, int32_t* level, milo_error* error);

/// Sets a free-form metadata entry (UTF-8 key and value); insertion ordered, a known key is
/// replaced in place; `value` NULL removes it. \since ABI 1
MILO_API milo_status milo_doc_set_metadata(milo_doc* doc, const char* key, const char* value,
                                           milo_error* error);
/// Number of metadata entries. \since ABI 1
MILO_API size_t milo_doc_metadata_count(const milo_doc* doc);
/// Reads metadata entry `index` (borrowed strings). \since ABI 1
MILO_API milo_status milo_doc_metadata_at(const milo_doc* doc, size_t index, const char** key,
                                          const char** value, milo_error* error);

/* ------------------------------------------------------------------------------------------ */
/* Creating values. Each returns a value owned by `doc` in `*out`.                             */
/* ------------------------------------------------------------------------------------------ */

/// \since ABI 1
MILO_API milo_status milo_value_create_null(milo_doc* doc, milo_value** out, milo_error* error);
/// \since ABI 1
MILO_API milo_status milo_value_create_bool(milo_doc* doc, bool v, milo_value** out,
                                            milo_error* error);
/// \since ABI 1
MILO_API milo_status milo_value_create_int(milo_doc* doc, int64_t v, milo_value** out,
                                           milo_error* error);
/// An integer of any size from decimal text (optional '-', digits, no leading zeros). Values
/// that fit int64 are stored as such. \since ABI 1
MILO_API milo_status milo_value_create_int_text(milo_doc* doc, const char* text, size_t len,
                                                milo_value** out, milo_error* error);
/// \since ABI 1
MILO_API milo_status milo_value_create_float(milo_doc* doc, double v, milo_value** out,
                                             milo_error* error);
/// UTF-8 text (validated; may contain NUL). \since ABI 1
MILO_API milo_status milo_value_create_string(milo_doc* doc, const char* data, size_t len,
                                              milo_value** out, milo_error* error);
/// \since ABI 1
MILO_API milo_status milo_value_create_bytes(milo_doc* doc, const uint8_t* data, size_t len,
                                             milo_value** out, milo_error* error);
/// An empty list, tuple, set or map (`kind` one of MILO_KIND_LIST/TUPLE/SET/MAP). \since ABI 1
MILO_API milo_status milo_value_create_container(milo_doc* doc, int32_t kind, milo_value** out,
                                                 milo_error* error);
/// An object of fully qualified type `type` with no args and no state. \since ABI 1
MILO_API milo_status milo_value_create_object(milo_doc* doc, const char* type, milo_value** out,
                                              milo_error* error);
/// A global naming `name` ("module.qualname"). \since ABI 1
MILO_API milo_status milo_value_create_global(milo_doc* doc, const char* name, milo_value** out,
                                              milo_error* error);

/// A tensor of `dtype` (not RECORD) and `shape` (`ndim` ≤ MILO_MAX_NDIM, dims ≥ 0). Numeric
/// data is zero-filled; object elements are null values; string elements are empty. The size
/// is checked (no overflow, at most `MILO_MAX_TENSOR_BYTES`). \since ABI 1
MILO_API milo_status milo_value_create_tensor(milo_doc* doc, int32_t dtype, const int64_t* shape,
                                              size_t ndim, milo_value** out, milo_error* error);

/// A record tensor whose items are `itemsize` bytes; add fields with
/// milo_value_tensor_add_field before writing data. Data is zero-filled. \since ABI 1
MILO_API milo_status milo_value_create_record_tensor(milo_doc* doc, uint64_t itemsize,
                                                     const int64_t* shape, size_t ndim,
                                                     milo_value** out, milo_error* error);

/// A numeric tensor over caller memory without copying. `data` must hold exactly
/// shape-product × itemsize bytes, little-endian, C order, and stay valid and unchanged until
/// `release(release_context)` is called (once; `release` may be NULL for static memory). The
/// document copies the data before the first mutable access. On failure nothing is released:
/// the caller keeps the memory. \since ABI 1
MILO_API milo_status milo_value_create_tensor_borrowed(milo_doc* doc, int32_t dtype,
                                                       const int64_t* shape, size_t ndim,
                                                       const void* data, size_t nbytes,
                                                       milo_release_fn release,
                                                       void* release_context, milo_value** out,
                                                       milo_error* error);

/* ------------------------------------------------------------------------------------------ */
/* Reading scalars                                                                             */
/* ------------------------------------------------------------------------------------------ */

/// Kind of a value (MILO_KIND_*), or -1 for NULL. \since ABI 1
MILO_API int32_t milo_value_get_kind(const milo_value* value);
/// \since ABI 1
MILO_API milo_status milo_value_get_bool(const milo_value* value, bool* out, milo_error* error);
/// MILO_ERR_OUT_OF_RANGE when the integer does not fit int64 (read it with
/// milo_value_get_int_text). \since ABI 1
MILO_API milo_status milo_value_get_int(const milo_value* value, int64_t* out, milo_error* error);
/// Decimal text of any integer; borrowed, lives as long as the document. \since ABI 1
MILO_API milo_status milo_value_get_int_text(const milo_value* value, const char** out,
                                             milo_error* error);
/// \since ABI 1
MILO_API milo_status milo_value_get_float(const milo_value* value, double* out,
                                          milo_error* error);
/// UTF-8 text of a STRING; `*len` excludes the terminating NUL the buffer also has. Borrowed.
/// \since ABI 1
MILO_API milo_status milo_value_get_string(const milo_value* value, const char** data,
                                           size_t* len, milo_error* error);
/// \since ABI 1
MILO_API milo_status milo_value_get_bytes(const milo_value* value, const uint8_t** data,
                                          size_t* len, milo_error* error);
/// Type name of an OBJECT or name of a GLOBAL (borrowed). \since ABI 1
MILO_API milo_status milo_value_get_name(const milo_value* value, const char** out,
                                         milo_error* error);

/* ------------------------------------------------------------------------------------------ */
/* Containers: list, tuple, set, map                                                           */
/* ------------------------------------------------------------------------------------------ */

/// Items of a list/tuple/set, pairs of a map, elements of a tensor; 0 for other kinds.
/// \since ABI 1
MILO_API size_t milo_value_count(const milo_value* value);
/// Item `index` of a list/tuple/set, or the value of pair `index` of a map; NULL when out of
/// range or not a container. Borrowed. \since ABI 1
MILO_API milo_value* milo_value_at(const milo_value* value, size_t index);
/// Key of pair `index` of a map; NULL otherwise. Borrowed. \since ABI 1
MILO_API milo_value* milo_value_key_at(const milo_value* value, size_t index);
/// The value of the first pair of a map whose key is the string `key`; NULL if absent.
/// \since ABI 1
MILO_API milo_value* milo_value_find(const milo_value* map, const char* key);
/// Appends `item` (of the same document) to a list, tuple or set. \since ABI 1
MILO_API milo_status milo_value_append(milo_value* container, milo_value* item,
                                       milo_error* error);
/// Appends the pair (`key`, `item`) to a map. Keys are not deduplicated. \since ABI 1
MILO_API milo_status milo_value_append_pair(milo_value* map, milo_value* key, milo_value* item,
                                            milo_error* error);
/// Replaces item `index` of a list/tuple/set, or the value of pair `index` of a map.
/// \since ABI 1
MILO_API milo_status milo_value_set_at(milo_value* container, size_t index, milo_value* item,
                                       milo_error* error);

/* ------------------------------------------------------------------------------------------ */
/* Objects                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/// Constructor arguments of an object (borrowed), or NULL when none. \since ABI 1
MILO_API milo_value* milo_value_get_args(const milo_value* object);
/// State of an object (borrowed), or NULL when none. \since ABI 1
MILO_API milo_value* milo_value_get_state(const milo_value* object);
/// Sets (or with NULL clears) the constructor arguments of an object. \since ABI 1
MILO_API milo_status milo_value_set_args(milo_value* object, milo_value* args, milo_error* error);
/// Sets (or with NULL clears) the state of an object. \since ABI 1
MILO_API milo_status milo_value_set_state(milo_value* object, milo_value* state,
                                          milo_error* error);

/* ------------------------------------------------------------------------------------------ */
/* Tensors                                                                                     */
/* ------------------------------------------------------------------------------------------ */

/// Largest tensor data size accepted, in bytes (1 TiB). \since ABI 1
#define MILO_MAX_TENSOR_BYTES ((uint64_t)1 << 40)

/// dtype, shape and element count of a tensor. `*shape` is borrowed (NULL when ndim is 0).
/// \since ABI 1
MILO_API milo_status milo_value_get_tensor(const milo_value* tensor, int32_t* dtype,
                                           const int64_t** shape, size_t* ndim,
                                           milo_error* error);
/// Bytes of one element (record: itemsize; object and string tensors: 0). \since ABI 1
MILO_API uint64_t milo_value_tensor_itemsize(const milo_value* tensor);
/// Read-only pointer to the little-endian C-order data of a numeric or record tensor and its
/// size in bytes; zero-copy, valid until the tensor is written or the document destroyed.
/// MILO_ERR_TYPE for object and string tensors. \since ABI 1
MILO_API milo_status milo_value_tensor_data(const milo_value* tensor, const void** data,
                                            size_t* nbytes, milo_error* error);
/// Writable pointer to the data (copies borrowed data first). \since ABI 1
MILO_API milo_status milo_value_tensor_mutable_data(milo_value* tensor, void** data,
                                                    size_t* nbytes, milo_error* error);
/// Adds a field to a record tensor: a scalar numeric `dtype` (not RECORD/OBJECT/STRING) at
/// byte `offset` with optional sub-array shape (`ndim` may be 0). The field must fit in the
/// itemsize, must not overlap another field, and its name must be unique and non-empty.
/// \since ABI 1
MILO_API milo_status milo_value_tensor_add_field(milo_value* tensor, const char* name,
                                                 int32_t dtype, uint64_t offset,
                                                 const int64_t* shape, size_t ndim,
                                                 milo_error* error);
/// Number of fields of a record tensor (0 otherwise). \since ABI 1
MILO_API size_t milo_value_tensor_field_count(const milo_value* tensor);
/// Reads field `index`; name and shape borrowed. \since ABI 1
MILO_API milo_status milo_value_tensor_field_at(const milo_value* tensor, size_t index,
                                                const char** name, int32_t* dtype,
                                                uint64_t* offset, const int64_t** shape,
                                                size_t* ndim, milo_error* error);
/// Element `index` (C order) of an OBJECT tensor (borrowed). \since ABI 1
MILO_API milo_value* milo_value_tensor_item_at(const milo_value* tensor, size_t index);
/// Sets element `index` of an OBJECT tensor. \since ABI 1
MILO_API milo_status milo_value_tensor_set_item(milo_value* tensor, size_t index,
                                                milo_value* item, milo_error* error);
/// Element `index` of a STRING tensor (borrowed UTF-8 with NUL after `*len` bytes).
/// \since ABI 1
MILO_API milo_status milo_value_tensor_string_at(const milo_value* tensor, size_t index,
                                                 const char** data, size_t* len,
                                                 milo_error* error);
/// Sets element `index` of a STRING tensor (validated UTF-8). \since ABI 1
MILO_API milo_status milo_value_tensor_set_string(milo_value* tensor, size_t index,
                                                  const char* data, size_t len,
                                                  milo_error* error);

/* ------------------------------------------------------------------------------------------ */
/* Whole documents                                                                             */
/* ------------------------------------------------------------------------------------------ */

/// Deep structural equality of two documents: header, then root values compared kind by kind,
/// floats and tensor bytes by bit pattern, sharing and cycles by graph shape. Writes the first
/// difference as a document path ("/root/state/coef_") and a reason into `where` (may be NULL,
/// `where_size` bytes). Returns true when equal. [not-concurrent per document] \since ABI 1
MILO_API bool milo_doc_equal(const milo_doc* a, const milo_doc* b, char* where,
                             size_t where_size);

/// Number of values reachable from the root, each shared node counted once. \since ABI 1
MILO_API size_t milo_doc_value_count(const milo_doc* doc);

#ifdef __cplusplus
}
#endif

#endif  // MILO_VALUE_H
