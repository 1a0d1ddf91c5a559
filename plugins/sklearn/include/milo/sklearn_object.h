/// \file milo/sklearn_object.h
/// The sklearn transporter's extension for in-house estimators: another plugin's transporter
/// takes over the objects of a Python class the sklearn transporter does not know (e.g.
/// `acme.models.FraudScorer` inside a scikit-learn Pipeline). Shipped by plugins/sklearn
/// (installed beside the SDK headers; CMake target `milo::sklearn_headers`); it needs only the
/// SDK headers. See plugins/sklearn/README.md, "In-house estimators".
///
/// How it is found. When the sklearn transporter reads a pickle, every object of a class that
/// the trust policy neither trusts (allowlist) nor calls dangerous is offered to the registered
/// transporter whose `types` list that exact "module.qualname" (registry
/// `find_transporter_for_type`), if that transporter's `get_extension(self,
/// MILO_EXT_SKLEARN_OBJECT)` returns this struct. On the way out, every object whose type has
/// such a transporter is handed to it before it is written.
///
/// The pickle-level form of an object is the value the sklearn transporter makes of it without
/// help: `{"$object": "module.qualname", "state": <BUILD state>}` (NEWOBJ, the usual form of a
/// Python class instance) or with `"args"` as well (REDUCE: the class called with args). Both
/// callbacks run in C++ inside the host process: they must not execute or import anything, must
/// treat the value as untrusted input (check every kind, size and range before using it) and
/// are called concurrently on different documents (no global mutable state).
#ifndef MILO_SKLEARN_OBJECT_H
#define MILO_SKLEARN_OBJECT_H

#include <stddef.h>
#include <stdint.h>

#include "milo/plugin.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Extension id, for `get_extension`. A change that breaks the contract below gets "/2".
#define MILO_EXT_SKLEARN_OBJECT "milo.ext.sklearn_object/1"

/// The extension table a transporter returns from `get_extension(self, MILO_EXT_SKLEARN_OBJECT)`.
/// Static storage (it must live as long as the transporter). Growable: the sklearn transporter
/// reads a member only when `struct_size` covers it; new members are appended.
/// \since milo.ext.sklearn_object/1 (host ABI 2)
typedef struct milo_sklearn_object_ext {
    uint32_t struct_size;  ///< sizeof(milo_sklearn_object_ext) as the plugin compiled it
    uint32_t abi_version;  ///< MILO_ABI_VERSION the plugin compiled against
    /// Import: the pickle-level `object` (a value of `doc`, the document being filled) → the
    /// plugin's own form, created in `doc` and returned in `*out` (it may be `object` itself,
    /// changed in place). Usually an object of the same type with a validated, readable state.
    /// `path` is the object's document path ("/root/state/steps/1/1") for messages; the sklearn
    /// transporter prefixes the file name and path to the error message. Fail with a precise
    /// message (which member, what was expected) when the state is not what the class has:
    /// the whole conversion fails with that status. Called after the objects inside `object`
    /// (bottom-up), once per object, with `self` the transporter's `self`. Must not keep
    /// pointers to `doc` or its values after returning. On success the class is listed as
    /// trusted in the document's trust report with the usage note "delegated:<transporter id>".
    milo_status (*import_object)(void* self, const milo_api* api, milo_registry* registry,
                                 milo_doc* doc, milo_value* object, const char* path,
                                 milo_value** out, milo_error* error);
    /// Export: the plugin's `value` (read-only, in `doc`, the document being written) → the
    /// pickle-level object the sklearn transporter writes in its place, created in the scratch
    /// document `out_doc` (owned by the caller, alive until the pickle is written) and returned
    /// in `*out`. `value` may also be in the pickle-level form (a document converted without the
    /// plugin): accept it after checking it, or fail. The result must be an object value; values
    /// inside it are written as usual (an object of another delegated type is handed to its
    /// transporter in turn). Sharing between the result and the rest of the document is not
    /// kept: write everything the object needs into `out_doc`.
    milo_status (*export_object)(void* self, const milo_api* api, milo_registry* registry,
                                 const milo_doc* doc, const milo_value* value, const char* path,
                                 milo_doc* out_doc, milo_value** out, milo_error* error);
} milo_sklearn_object_ext;

#ifdef __cplusplus
}
#endif

#endif  // MILO_SKLEARN_OBJECT_H
