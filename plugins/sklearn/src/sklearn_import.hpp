// The sklearn transporter's two directions: pickle/joblib bytes → document (sklearn_import.cpp)
// and document → pickle bytes (sklearn_export.cpp).
#ifndef MILO_SKLEARN_IMPORT_HPP
#define MILO_SKLEARN_IMPORT_HPP

#include <cstdint>
#include <string>
#include <string_view>

#include "milo/milo.hpp"
#include "milo/sklearn_object.h"

namespace milo {
namespace sklearn {

constexpr const char* kTransporterId = "sklearn";
constexpr const char* kRevision = "1";

/// Reads a pickle stream or a joblib file (any compression) without executing anything and
/// fills `doc`: root value, header, trust list. Throws milo::Error (file name, byte offset).
/// With a `registry`, objects of in-house classes are handed to the transporters registered
/// for them (milo/sklearn_object.h; README.md, "In-house estimators").
void import_pickle(DocRef doc, const uint8_t* data, size_t size, const char* path,
                   milo_registry* registry = nullptr);

/// Writes `doc` as a pickle stream (protocol 5 opcodes) that Python's unpickler turns into an
/// object equal to the one the document was made from. Throws milo::Error (document path).
/// With a `registry`, objects of in-house classes go through their transporters first.
std::string export_pickle(DocRef doc, milo_registry* registry = nullptr);

/// The trust usage note of a class whose objects a transporter took over: "instantiate,
/// delegated:acme.fraud" (the export side requires that transporter for them).
constexpr const char* kDelegatedNote = ", delegated:";

/// In-house estimators: true when the trust policy neither trusts `module`.`name` (for any
/// usage) nor calls it dangerous — only such classes are handed to another transporter.
bool untrusted_class(std::string_view module, std::string_view name);
/// The transporter registered for exactly `type` that offers MILO_EXT_SKLEARN_OBJECT (set in
/// `ext`), or nullptr.
const milo_transporter* object_delegate(const milo_api* api, milo_registry* registry,
                                        const std::string& type,
                                        const milo_sklearn_object_ext*& ext);

}  // namespace sklearn
}  // namespace milo

#endif
