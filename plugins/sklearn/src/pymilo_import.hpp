// PyMilo JSON files (https://github.com/openscilab/pymilo) → the Milo document the pickle
// importer makes for the object PyMilo's own Import would build (README.md, "PyMilo JSON").
#ifndef MILO_PYMILO_IMPORT_HPP
#define MILO_PYMILO_IMPORT_HPP

#include <cstddef>
#include <cstdint>

#include "milo/milo.hpp"

namespace milo {
namespace sklearn {

constexpr const char* kPymiloTransporterId = "pymilo";

/// Probe score of the first bytes of a file: 40 for a JSON object with PyMilo's markers in the
/// head, else 0. Milo's own JSON documents ({"milo": …}) always score 0.
int32_t probe_pymilo(const uint8_t* head, size_t size);

/// Reads a PyMilo JSON file without executing anything and fills `doc` (root, header with
/// transporter.id "sklearn", trust). Throws milo::Error naming the file, the byte offset
/// (line:column) and the JSON path: MILO_ERR_CORRUPT for malformed input, MILO_ERR_LIMIT for
/// nesting or sizes beyond the limits, MILO_ERR_UNSUPPORTED for valid files this reader cannot
/// reconstruct exactly (unknown model types, PyMilo forms computed by Python code).
void import_pymilo(DocRef doc, const uint8_t* data, size_t size, const char* path);

}  // namespace sklearn
}  // namespace milo

#endif
