// The sklearn transporter's two directions: pickle/joblib bytes → document (sklearn_import.cpp)
// and document → pickle bytes (sklearn_export.cpp).
#ifndef MILO_SKLEARN_IMPORT_HPP
#define MILO_SKLEARN_IMPORT_HPP

#include <cstdint>
#include <string>

#include "milo/milo.hpp"

namespace milo {
namespace sklearn {

constexpr const char* kTransporterId = "sklearn";
constexpr const char* kRevision = "1";

/// Reads a pickle stream or a joblib file (any compression) without executing anything and
/// fills `doc`: root value, header, trust list. Throws milo::Error (file name, byte offset).
void import_pickle(DocRef doc, const uint8_t* data, size_t size, const char* path);

/// Writes `doc` as a pickle stream (protocol 5 opcodes) that Python's unpickler turns into an
/// object equal to the one the document was made from. Throws milo::Error (document path).
std::string export_pickle(DocRef doc);

}  // namespace sklearn
}  // namespace milo

#endif
