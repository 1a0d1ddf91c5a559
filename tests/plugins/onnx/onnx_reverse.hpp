// Test-only reverse of the ONNX import: a Milo document → the protobuf message it came from.
// The plugin only imports; this exists to prove the import loses nothing.
#ifndef MILO_TEST_ONNX_REVERSE_HPP
#define MILO_TEST_ONNX_REVERSE_HPP

#include <memory>
#include <string>

#include <google/protobuf/message.h>

#include "milo/milo.hpp"
#include "onnx_import.hpp"
#include "onnx_schema.hpp"

namespace milo {
namespace onnx_test {

/// Rebuilds the overlay-schema ModelProto (a dynamic message of `schema`) from the document
/// root. Throws std::runtime_error naming the document path of anything it cannot map back.
std::unique_ptr<google::protobuf::Message> rebuild_model(const onnx_import::Schema& schema,
                                                         ValueRef root);

/// Compares the original serialized model with the rebuilt one: protobuf message equality of
/// the compiled onnx::ModelProto (unknown fields included) and of the overlay messages, and
/// equality of their serializations. Returns "" when equal, else what differs.
std::string compare_models(const onnx_import::Schema& schema, const std::string& original,
                           const google::protobuf::Message& rebuilt);

}  // namespace onnx_test
}  // namespace milo

#endif  // MILO_TEST_ONNX_REVERSE_HPP
