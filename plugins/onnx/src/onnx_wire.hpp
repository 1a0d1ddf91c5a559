// Protobuf wire-format walking for ONNX files: content sniffing, and the precise location of
// what is wrong when protobuf refuses a file (protobuf itself only says "failed to parse").
#ifndef MILO_ONNX_WIRE_HPP
#define MILO_ONNX_WIRE_HPP

#include <cstddef>
#include <cstdint>
#include <string>

#include <google/protobuf/descriptor.h>

namespace milo {
namespace onnx_import {

/// Messages nested deeper than this are refused (graph attributes inside graph attributes…).
/// Protobuf's own default recursion limit is the same.
constexpr int kMaxDepth = 100;

/// Confidence 0..100 that `head` (the first bytes of a file) starts an ONNX ModelProto.
int32_t probe_model(const uint8_t* head, size_t size);

/// Walks `data` as a `model` message (the overlay ModelProto descriptor) and describes the first
/// structural fault: "byte 1234: field graph (7) declares 9000 bytes but its message ends at
/// byte 2000". Empty when the wire format is sound.
std::string locate_wire_error(const google::protobuf::Descriptor* model, const uint8_t* data,
                              size_t size);

}  // namespace onnx_import
}  // namespace milo

#endif  // MILO_ONNX_WIRE_HPP
