/* FROZEN COPY of sdk/include/milo/plugin.h as released with ABI 1 (Milo 0.1.0). Never edit: the
 * ABI tests compile a plugin against exactly these declarations, and every later libmilo must
 * keep loading it. */
/// \file milo/plugin.h
/// The plugin side of the ABI: the entry point, the host table a plugin receives, and the
/// transporter and format descriptors it registers.
///
/// A plugin is a shared library exporting exactly one symbol:
///
///     MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error);
///
/// It must first call `host->declare_plugin` with its name, version and ABI range, then
/// register its transporters and formats, then return MILO_OK. Registration is all-or-nothing:
/// when milo_register fails, nothing it registered stays. Plugins do not link libmilo: every
/// document call goes through `host->api`, a function table that only grows at the end.
/// Descriptors and the strings they point to must stay valid until `destroy` is called (or,
/// without destroy, until the plugin is unloaded) — static storage is the usual choice.
#ifndef MILO_PLUGIN_H
#define MILO_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "milo/error.h"
#include "milo/hash.h"
#include "milo/registry.h"
#include "milo/value.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MILO_PLUGIN_EXPORT __declspec(dllexport)
#else
#define MILO_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/// The library functions a plugin may call, one pointer per public function of the same name
/// without the `milo_` prefix. Appended to only; check `struct_size` before using a member
/// added after the plugin's ABI. [thread-safe, as the functions themselves] \since ABI 1
typedef struct milo_api {
    uint32_t struct_size;
    uint32_t abi_version;
    /* error.h */
    const char* (*status_name)(milo_status status);
    milo_status (*error_set)(milo_error* error, milo_status status, const char* message);
    /* value.h: documents */
    milo_status (*doc_create)(milo_doc** out, milo_error* error);
    void (*doc_destroy)(milo_doc* doc);
    milo_value* (*doc_get_root)(const milo_doc* doc);
    milo_status (*doc_set_root)(milo_doc* doc, milo_value* root, milo_error* error);
    milo_status (*doc_get_header)(const milo_doc* doc, const char* key, const char** out,
                                  milo_error* error);
    milo_status (*doc_set_header)(milo_doc* doc, const char* key, const char* value,
                                  milo_error* error);
    milo_status (*doc_set_trust)(milo_doc* doc, const char* name, const char* usage,
                                 int32_t level, milo_error* error);
    size_t (*doc_trust_count)(const milo_doc* doc);
    milo_status (*doc_trust_at)(const milo_doc* doc, size_t index, const char** name,
                                const char** usage, int32_t* level, milo_error* error);
    milo_status (*doc_set_metadata)(milo_doc* doc, const char* key, const char* value,
                                    milo_error* error);
    size_t (*doc_metadata_count)(const milo_doc* doc);
    milo_status (*doc_metadata_at)(const milo_doc* doc, size_t index, const char** key,
                                   const char** value, milo_error* error);
    /* value.h: creating values */
    milo_status (*value_create_null)(milo_doc* doc, milo_value** out, milo_error* error);
    milo_status (*value_create_bool)(milo_doc* doc, bool v, milo_value** out, milo_error* error);
    milo_status (*value_create_int)(milo_doc* doc, int64_t v, milo_value** out,
                                    milo_error* error);
    milo_status (*value_create_int_text)(milo_doc* doc, const char* text, size_t len,
                                         milo_value** out, milo_error* error);
    milo_status (*value_create_float)(milo_doc* doc, double v, milo_value** out,
                                      milo_error* error);
    milo_status (*value_create_string)(milo_doc* doc, const char* data, size_t len,
                                       milo_value** out, milo_error* error);
    milo_status (*value_create_bytes)(milo_doc* doc, const uint8_t* data, size_t len,
                                      milo_value** out, milo_error* error);
    milo_status (*value_create_container)(milo_doc* doc, int32_t kind, milo_value** out,
                                          milo_error* error);
    milo_status (*value_create_object)(milo_doc* doc, const char* type, milo_value** out,
                                       milo_error* error);
    milo_status (*value_create_global)(milo_doc* doc, const char* name, milo_value** out,
                                       milo_error* error);
    milo_status (*value_create_tensor)(milo_doc* doc, int32_t dtype, const int64_t* shape,
                                       size_t ndim, milo_value** out, milo_error* error);
    milo_status (*value_create_record_tensor)(milo_doc* doc, uint64_t itemsize,
                                              const int64_t* shape, size_t ndim,
                                              milo_value** out, milo_error* error);
    milo_status (*value_create_tensor_borrowed)(milo_doc* doc, int32_t dtype,
                                                const int64_t* shape, size_t ndim,
                                                const void* data, size_t nbytes,
                                                milo_release_fn release, void* release_context,
                                                milo_value** out, milo_error* error);
    /* value.h: reading */
    int32_t (*value_get_kind)(const milo_value* value);
    milo_status (*value_get_bool)(const milo_value* value, bool* out, milo_error* error);
    milo_status (*value_get_int)(const milo_value* value, int64_t* out, milo_error* error);
    milo_status (*value_get_int_text)(const milo_value* value, const char** out,
                                      milo_error* error);
    milo_status (*value_get_float)(const milo_value* value, double* out, milo_error* error);
    milo_status (*value_get_string)(const milo_value* value, const char** data, size_t* len,
                                    milo_error* error);
    milo_status (*value_get_bytes)(const milo_value* value, const uint8_t** data, size_t* len,
                                   milo_error* error);
    milo_status (*value_get_name)(const milo_value* value, const char** out, milo_error* error);
    /* value.h: containers */
    size_t (*value_count)(const milo_value* value);
    milo_value* (*value_at)(const milo_value* value, size_t index);
    milo_value* (*value_key_at)(const milo_value* value, size_t index);
    milo_value* (*value_find)(const milo_value* map, const char* key);
    milo_status (*value_append)(milo_value* container, milo_value* item, milo_error* error);
    milo_status (*value_append_pair)(milo_value* map, milo_value* key, milo_value* item,
                                     milo_error* error);
    milo_status (*value_set_at)(milo_value* container, size_t index, milo_value* item,
                                milo_error* error);
    /* value.h: objects */
    milo_value* (*value_get_args)(const milo_value* object);
    milo_value* (*value_get_state)(const milo_value* object);
    milo_status (*value_set_args)(milo_value* object, milo_value* args, milo_error* error);
    milo_status (*value_set_state)(milo_value* object, milo_value* state, milo_error* error);
    /* value.h: tensors */
    milo_status (*value_get_tensor)(const milo_value* tensor, int32_t* dtype,
                                    const int64_t** shape, size_t* ndim, milo_error* error);
    uint64_t (*value_tensor_itemsize)(const milo_value* tensor);
    milo_status (*value_tensor_data)(const milo_value* tensor, const void** data,
                                     size_t* nbytes, milo_error* error);
    milo_status (*value_tensor_mutable_data)(milo_value* tensor, void** data, size_t* nbytes,
                                             milo_error* error);
    milo_status (*value_tensor_add_field)(milo_value* tensor, const char* name, int32_t dtype,
                                          uint64_t offset, const int64_t* shape, size_t ndim,
                                          milo_error* error);
    size_t (*value_tensor_field_count)(const milo_value* tensor);
    milo_status (*value_tensor_field_at)(const milo_value* tensor, size_t index,
                                         const char** name, int32_t* dtype, uint64_t* offset,
                                         const int64_t** shape, size_t* ndim,
                                         milo_error* error);
    milo_value* (*value_tensor_item_at)(const milo_value* tensor, size_t index);
    milo_status (*value_tensor_set_item)(milo_value* tensor, size_t index, milo_value* item,
                                         milo_error* error);
    milo_status (*value_tensor_string_at)(const milo_value* tensor, size_t index,
                                          const char** data, size_t* len, milo_error* error);
    milo_status (*value_tensor_set_string)(milo_value* tensor, size_t index, const char* data,
                                           size_t len, milo_error* error);
    bool (*doc_equal)(const milo_doc* a, const milo_doc* b, char* where, size_t where_size);
    size_t (*doc_value_count)(const milo_doc* doc);
    /* registry.h: lookups, for transporters that delegate nested values */
    size_t (*registry_transporter_count)(const milo_registry* registry);
    const milo_transporter* (*registry_transporter_at)(const milo_registry* registry,
                                                       size_t index);
    const milo_transporter* (*registry_find_transporter)(const milo_registry* registry,
                                                         const char* id);
    const milo_transporter* (*registry_find_transporter_for_type)(const milo_registry* registry,
                                                                  const char* type);
    /* hash.h */
    void (*hash_sha256)(const uint8_t* data, size_t size, char out[65]);
} milo_api;

/// Returns the library's API table for ABI `abi_version` (NULL when that ABI is newer than the
/// library or older than MILO_ABI_MIN_SUPPORTED). Applications rarely need it; it lets one
/// code path serve both plugins and applications. Static storage. [thread-safe] \since ABI 1
MILO_API const milo_api* milo_api_get(uint32_t abi_version);

/// What a plugin declares about itself before registering anything. \since ABI 1
typedef struct milo_plugin_info {
    uint32_t struct_size;
    uint32_t abi_version;  ///< MILO_ABI_VERSION the plugin was compiled against
    uint32_t abi_min;      ///< oldest host ABI the plugin works with (usually 1)
    uint32_t reserved;     ///< 0
    const char* name;      ///< short unique name, e.g. "sklearn"
    const char* version;   ///< the plugin's own version
} milo_plugin_info;

/// Decoding context a format receives. The whole input is in memory (often memory-mapped).
/// \since ABI 1
typedef struct milo_decode_context {
    uint32_t struct_size;
    uint32_t abi_version;
    const uint8_t* data;  ///< the whole input
    size_t size;
    const char* name;     ///< input name for messages (file path or "<memory>")
    uint32_t max_depth;   ///< nesting limit to enforce
    uint32_t reserved;
    void* context;        ///< pass to the callbacks below
    /// Optional hint: the decoder is done with the bytes before `offset` for now. The host may
    /// drop their pages from memory; they stay readable (reading them again costs a re-read).
    void (*consumed)(void* context, size_t offset);
    /// Creates a numeric tensor whose data lives in the document's external tensor file under
    /// `name`; the host resolves and checks it after decoding.
    milo_status (*create_external_tensor)(void* context, milo_doc* doc, int32_t dtype,
                                          const int64_t* shape, size_t ndim, const char* name,
                                          milo_value** out, milo_error* error);
} milo_decode_context;

/// Encoding context a format receives. \since ABI 1
typedef struct milo_encode_context {
    uint32_t struct_size;
    uint32_t abi_version;
    void* context;        ///< pass to the callbacks below
    milo_write_fn write;  ///< the output stream
    int32_t indent;       ///< spaces per nesting level for text formats; 0 for one line
    uint32_t reserved;
    /// How to store `tensor`: MILO_TENSORS_READABLE, _COMPACT or _EXTERNAL (then `*name` is its
    /// name in the external file). Object and string tensors are always READABLE; record
    /// tensors READABLE or COMPACT.
    int32_t (*tensor_storage)(void* context, const milo_value* tensor, const char** name);
} milo_encode_context;

/// A transporter: one framework's native files ⇄ documents. \since ABI 1
struct milo_transporter {
    uint32_t struct_size;
    uint32_t abi_version;
    const char* id;           ///< unique, e.g. "sklearn"
    const char* description;  ///< one line for `milo plugins`
    const char* version;      ///< the transporter's revision, decimal, e.g. "1"
    const char* framework;    ///< e.g. "scikit-learn"
    const char* const* types; ///< NULL-terminated exact root type names it owns (may be NULL)
    const char* const* extensions;  ///< NULL-terminated native file extensions (".pkl")
    void* self;               ///< passed back to every callback
    /// Confidence 0..100 that `head` (the first bytes of a file) is this transporter's input.
    /// May be NULL.
    int32_t (*probe)(void* self, const uint8_t* head, size_t size);
    /// Native bytes → document: fill `doc` (root and header). May be NULL (export only).
    milo_status (*decode)(void* self, const milo_api* api, milo_registry* registry,
                          const uint8_t* data, size_t size, const char* path, milo_doc* doc,
                          milo_error* error);
    /// Document → native bytes through `write`. May be NULL (import only).
    milo_status (*encode)(void* self, const milo_api* api, milo_registry* registry,
                          const milo_doc* doc, milo_write_fn write, void* write_context,
                          milo_error* error);
    /// Called once when the registry drops the transporter. May be NULL.
    void (*destroy)(void* self);
    /// Optional capability by string id ("milo.ext.<name>/<n>"), NULL if unsupported.
    const void* (*get_extension)(void* self, const char* id);
};

/// Format flags. \since ABI 1
#define MILO_FORMAT_TEXT 1u            ///< a text format (indentation applies)
#define MILO_FORMAT_READABLE_TENSORS 2u  ///< can store tensors element by element

/// A format adapter: documents ⇄ bytes. \since ABI 1
struct milo_format {
    uint32_t struct_size;
    uint32_t abi_version;
    const char* id;                 ///< unique, e.g. "json"
    const char* description;
    const char* const* extensions;  ///< NULL-terminated, e.g. {".json", NULL}
    uint32_t flags;                 ///< MILO_FORMAT_*
    uint32_t reserved;
    void* self;
    /// Confidence 0..100 that `head` starts a document in this format. May be NULL.
    int32_t (*probe)(void* self, const uint8_t* head, size_t size);
    milo_status (*encode)(void* self, const milo_api* api, const milo_doc* doc,
                          const milo_encode_context* context, milo_error* error);
    /// Decodes into the empty document `doc`. Must be strict: trailing garbage is an error.
    milo_status (*decode)(void* self, const milo_api* api, milo_doc* doc,
                          const milo_decode_context* context, milo_error* error);
    void (*destroy)(void* self);
    const void* (*get_extension)(void* self, const char* id);
};

/// The table a plugin receives in milo_register. Valid only during that call, except `api`,
/// which stays valid while the plugin is loaded. \since ABI 1
typedef struct milo_host {
    uint32_t struct_size;
    uint32_t abi_version;  ///< the host library's MILO_ABI_VERSION
    const milo_api* api;
    void* context;         ///< pass to the callbacks below
    /// Must be called first, once. Fails with MILO_ERR_ABI when the ranges do not overlap.
    milo_status (*declare_plugin)(void* context, const milo_plugin_info* info,
                                  milo_error* error);
    /// Registers a transporter. MILO_ERR_DUPLICATE when its id is taken. [registration-only]
    milo_status (*register_transporter)(void* context, const milo_transporter* transporter,
                                        milo_error* error);
    /// Registers a format. MILO_ERR_DUPLICATE when its id is taken. [registration-only]
    milo_status (*register_format)(void* context, const milo_format* format,
                                   milo_error* error);
} milo_host;

/// The plugin entry point's type. \since ABI 1
typedef milo_status (*milo_register_fn)(const milo_host* host, milo_error* error);

#ifdef __cplusplus
}
#endif

#endif  // MILO_PLUGIN_H
