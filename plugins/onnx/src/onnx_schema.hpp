// The ONNX schema the importer reads with: Debian's compiled onnx-ml.proto (ONNX 1.12, from
// libonnx_proto) plus an overlay of the fields and messages later ONNX releases added (up to
// 1.23), built at run time into a private DescriptorPool. The compiled classes parse fast; the
// bytes a compiled message keeps as unknown fields are parsed again against the overlay, so
// newer fields (metadata_props on nodes, graphs, tensors…) arrive named instead of as raw wire
// data. The private pool never touches the generated pool, so it cannot clash with the copy of
// onnx.proto that libonnx_proto (and LibTorch) registers.
#ifndef MILO_ONNX_SCHEMA_HPP
#define MILO_ONNX_SCHEMA_HPP

#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>
#include <google/protobuf/message.h>
#include <mutex>
#include <string>

namespace milo {
namespace onnx_import {

/// The overlay schema (compiled onnx-ml.proto + newer fields) and the factory of its dynamic
/// messages. Owned by whoever imports (the transporter, a test); immutable once built except
/// for the factory's prototype cache, which `prototype` guards.
class Schema {
public:
    Schema();
    Schema(const Schema&) = delete;
    Schema& operator=(const Schema&) = delete;

    const google::protobuf::DescriptorPool& pool() const { return pool_; }
    /// Prototype of the overlay message named `full_name` ("onnx.NodeProto"), or NULL when the
    /// overlay has no such message. Valid while this Schema lives. [thread-safe]
    const google::protobuf::Message* prototype(const std::string& full_name) const;

private:
    google::protobuf::DescriptorPool pool_;
    mutable google::protobuf::DynamicMessageFactory factory_{&pool_};
    mutable std::mutex mutex_;
};

/// The ONNX TensorProto.DataType name of `value` ("FLOAT", "FLOAT8E4M3FN", …), or NULL.
const char* data_type_name(int64_t value);
/// Inverse of data_type_name; -1 when unknown.
int64_t data_type_value(const std::string& name);

}  // namespace onnx_import
}  // namespace milo

#endif  // MILO_ONNX_SCHEMA_HPP
