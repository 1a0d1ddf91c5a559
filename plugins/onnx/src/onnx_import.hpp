// ONNX ModelProto → Milo document, driven by protobuf descriptors and reflection.
#ifndef MILO_ONNX_IMPORT_HPP
#define MILO_ONNX_IMPORT_HPP

#include <cstddef>
#include <cstdint>

#include "milo/milo.hpp"
#include "onnx_schema.hpp"

namespace milo {
namespace onnx_import {

/// Key under which a message's fields unknown even to the overlay schema are kept.
constexpr const char* kUnknownKey = "(unknown fields)";
/// Key under which a TensorProto with data_location EXTERNAL carries the data read from its file.
constexpr const char* kExternalKey = "(external data)";
/// Repeated numeric fields (outside TensorProto data) longer than this become 1-D tensors.
constexpr int kListMax = 64;

constexpr const char* kTransporterId = "onnx";
constexpr const char* kRevision = "1";
constexpr const char* kRootType = "onnx.ModelProto";

/// Imports the serialized ModelProto `data` into `doc` (root and header). `path` is the file it
/// came from (external data is resolved against its folder) or a display name such as
/// "<stdin>" (then a model with external data is refused). `hash_source` false leaves
/// `source.sha256` unset (benchmarks use it to show what the hash costs; the transporter always
/// hashes). Throws milo::Error.
void import_model(const Schema& schema, DocRef doc, const uint8_t* data, size_t size,
                  const char* path, bool hash_source = true);

}  // namespace onnx_import
}  // namespace milo

#endif  // MILO_ONNX_IMPORT_HPP
