/// \file milo/registry.h
/// The registry: plugins, transporters (native ⇄ document) and formats (document ⇄ bytes), and
/// the calls that save, load and convert through them.
///
/// Threads: loading plugins is [not-concurrent] with every other call on the same registry;
/// once loading is done, every find/count/at, save, load and conversion call is [thread-safe]
/// (plugins must make their callbacks thread-safe). Plugins stay loaded until the registry is
/// destroyed; pointers to transporters and formats are borrowed for that long.
#ifndef MILO_REGISTRY_H
#define MILO_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "milo/error.h"
#include "milo/value.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct milo_registry milo_registry;
typedef struct milo_transporter milo_transporter;
typedef struct milo_format milo_format;

/// A byte sink: writes `size` bytes or fails. Used for every encoded output.
typedef milo_status (*milo_write_fn)(void* context, const void* data, size_t size,
                                     milo_error* error);

/// Creates a registry with the built-in formats ("json", "yaml", "pb"). They register through
/// the same entry point as plugins and are listed as plugins with the path "(built-in json)"
/// etc. and no shared library. [thread-safe] \since ABI 1
MILO_API milo_status milo_registry_create(milo_registry** out, milo_error* error);

/// Destroys a registry, its registrations, and unloads its plugins (last). Accepts NULL.
/// [not-concurrent] \since ABI 1
MILO_API void milo_registry_destroy(milo_registry* registry);

/// Loads one plugin from a shared library path: dlopen (RTLD_LOCAL), look up `milo_register`,
/// negotiate the ABI, run it. All-or-nothing: when it fails nothing it registered stays and the
/// library is closed. Loading the same file twice is a no-op. [not-concurrent] \since ABI 1
MILO_API milo_status milo_registry_load_plugin(milo_registry* registry, const char* path,
                                               milo_error* error);

/// Loads every `milo_*.so` in the ':'-separated folders of `dirs`; with `dirs` NULL, the
/// folders of the environment variable MILO_PLUGIN_PATH and then the default plugin folder
/// (milo_registry_get_plugin_dir). Files are loaded in name order; a file name loaded from an
/// earlier folder shadows the same name in later folders, and a file already loaded is
/// skipped. Missing folders are skipped unless `dirs` names them. Every plugin is tried: one
/// that fails to load leaves nothing registered (all-or-nothing) and does not keep the others
/// out; the status and message of the first failure are returned after the rest are loaded.
/// [not-concurrent]
/// \since ABI 1
MILO_API milo_status milo_registry_load_plugins(milo_registry* registry, const char* dirs,
                                                milo_error* error);

/// The default plugin folder: "milo/plugins" beside the loaded libmilo. Static storage.
/// [thread-safe] \since ABI 1
MILO_API const char* milo_registry_get_plugin_dir(void);

/// Number of loaded plugins. \since ABI 1
MILO_API size_t milo_registry_plugin_count(const milo_registry* registry);
/// Reads plugin `index`: its file path, declared name and version (borrowed). \since ABI 1
MILO_API milo_status milo_registry_plugin_at(const milo_registry* registry, size_t index,
                                             const char** path, const char** name,
                                             const char** version, milo_error* error);

/// Number of registered transporters. \since ABI 1
MILO_API size_t milo_registry_transporter_count(const milo_registry* registry);
/// Transporter `index` in registration order (borrowed), NULL when out of range. \since ABI 1
MILO_API const milo_transporter* milo_registry_transporter_at(const milo_registry* registry,
                                                              size_t index);
/// The transporter with id `id`, or NULL. \since ABI 1
MILO_API const milo_transporter* milo_registry_find_transporter(const milo_registry* registry,
                                                                const char* id);
/// The transporter that declares the exact type name `type` in its `types`, or NULL.
/// \since ABI 1
MILO_API const milo_transporter* milo_registry_find_transporter_for_type(
    const milo_registry* registry, const char* type);
/// The transporter whose probe gives the highest positive score for the first bytes of a
/// native input, or NULL. \since ABI 1
MILO_API const milo_transporter* milo_registry_find_transporter_for_content(
    const milo_registry* registry, const uint8_t* head, size_t size);

/// Number of registered formats. \since ABI 1
MILO_API size_t milo_registry_format_count(const milo_registry* registry);
/// Format `index` in registration order (borrowed), NULL when out of range. \since ABI 1
MILO_API const milo_format* milo_registry_format_at(const milo_registry* registry, size_t index);
/// The format with id `id` ("json", "yaml", "pb"), or NULL. \since ABI 1
MILO_API const milo_format* milo_registry_find_format(const milo_registry* registry,
                                                      const char* id);
/// The format whose extensions match the end of `path` (case-insensitive), or NULL.
/// \since ABI 1
MILO_API const milo_format* milo_registry_find_format_for_path(const milo_registry* registry,
                                                               const char* path);
/// The format whose probe gives the highest positive score for the first bytes of a file, or
/// NULL. \since ABI 1
MILO_API const milo_format* milo_registry_find_format_for_content(const milo_registry* registry,
                                                                  const uint8_t* head,
                                                                  size_t size);

/// \name Tensor storage modes (fixed forever)
/// @{
#define MILO_TENSORS_AUTO 0      ///< readable up to readable_max_bytes, compact above
#define MILO_TENSORS_READABLE 1  ///< every element a number in the text
#define MILO_TENSORS_COMPACT 2   ///< base64 of the raw little-endian bytes
#define MILO_TENSORS_EXTERNAL 3  ///< numeric tensors in a safetensors sidecar file
/// @}

/// Options for saving. Initialise with MILO_SAVE_OPTIONS_INIT; fields beyond struct_size are
/// taken as their defaults. \since ABI 1
typedef struct milo_save_options {
    uint32_t struct_size;
    uint32_t abi_version;
    const char* format;           ///< format id; NULL: from the path's extension, else "json"
    int32_t tensors;              ///< MILO_TENSORS_*
    int32_t indent;               ///< spaces per level for text formats; 0: one line; -1: default (2)
    uint64_t readable_max_bytes;  ///< AUTO threshold; 0: default (64 KiB)
    uint64_t external_min_bytes;  ///< EXTERNAL: tensors smaller than this stay inline; 0: 1 byte
} milo_save_options;

#define MILO_SAVE_OPTIONS_INIT \
    {(uint32_t)sizeof(milo_save_options), MILO_ABI_VERSION, NULL, MILO_TENSORS_AUTO, -1, 0, 0}

/// Options for loading. \since ABI 1
typedef struct milo_load_options {
    uint32_t struct_size;
    uint32_t abi_version;
    const char* format;      ///< format id; NULL: detect by content
    uint32_t max_depth;      ///< nesting limit; 0: default (1000)
    uint32_t flags;          ///< MILO_LOAD_*
} milo_load_options;

/// Skip the sha256 check of an external tensor file (sizes, names and dtypes are still
/// checked). \since ABI 1
#define MILO_LOAD_NO_VERIFY 1u

#define MILO_LOAD_OPTIONS_INIT {(uint32_t)sizeof(milo_load_options), MILO_ABI_VERSION, NULL, 0, 0}

/// Saves a document to `path` through a format, atomically (temporary file, then rename). In
/// EXTERNAL mode the numeric tensors go to "<path minus extension>.safetensors" beside it and
/// the header records its name and sha256. `options` may be NULL. [thread-safe] \since ABI 1
MILO_API milo_status milo_doc_save(milo_registry* registry, const milo_doc* doc,
                                   const char* path, const milo_save_options* options,
                                   milo_error* error);

/// Encodes a document to a byte stream (EXTERNAL mode is refused: it needs a path).
/// [thread-safe] \since ABI 1
MILO_API milo_status milo_doc_encode(milo_registry* registry, const milo_doc* doc,
                                     const milo_save_options* options, milo_write_fn write,
                                     void* write_context, milo_error* error);

/// Loads a document file; the format is detected by content (then by the file extension)
/// unless options name it. External
/// tensor files are memory-mapped (zero-copy) and verified. [thread-safe] \since ABI 1
MILO_API milo_status milo_doc_load(milo_registry* registry, const char* path,
                                   const milo_load_options* options, milo_doc** out,
                                   milo_error* error);

/// Decodes a document from memory; `name` (may be NULL) is used in messages. Documents that
/// reference external tensor files are refused (MILO_ERR_UNSUPPORTED). [thread-safe]
/// \since ABI 1
MILO_API milo_status milo_doc_decode(milo_registry* registry, const uint8_t* data, size_t size,
                                     const char* name, const milo_load_options* options,
                                     milo_doc** out, milo_error* error);

/// Converts a native input (model file bytes) into a document through transporter
/// `transporter_id`, or, when NULL, the transporter whose probe recognises the content.
/// `path` (may be NULL) names the input in messages and locates side files. [thread-safe]
/// \since ABI 1
MILO_API milo_status milo_registry_decode_native(milo_registry* registry,
                                                 const char* transporter_id,
                                                 const uint8_t* data, size_t size,
                                                 const char* path, milo_doc** out,
                                                 milo_error* error);

/// Writes a document back to its native form through `transporter_id` (NULL: the header's
/// "transporter.id", else the transporter registered for the root type) into `path`,
/// atomically. [thread-safe] \since ABI 1
MILO_API milo_status milo_registry_encode_native(milo_registry* registry,
                                                 const char* transporter_id,
                                                 const milo_doc* doc, const char* path,
                                                 milo_error* error);

/// Writes a document back to its native form like milo_registry_encode_native, but into the
/// byte stream `write` instead of a file (for callers that keep native bytes in memory, e.g. to
/// unpickle them). [thread-safe] \since ABI 2
MILO_API milo_status milo_registry_encode_native_to(milo_registry* registry,
                                                    const char* transporter_id,
                                                    const milo_doc* doc, milo_write_fn write,
                                                    void* write_context, milo_error* error);

/// Opens any input: a Milo document in a registered format (by content), else a native file
/// through the transporter that recognises it. [thread-safe] \since ABI 1
MILO_API milo_status milo_doc_open(milo_registry* registry, const char* path,
                                   const milo_load_options* options, milo_doc** out,
                                   milo_error* error);

#ifdef __cplusplus
}
#endif

#endif  // MILO_REGISTRY_H
