// Overlay of the ONNX schema: Debian's compiled onnx-ml.proto (1.12) plus what ONNX 1.13–1.23
// added. Each addition is applied only when the compiled schema lacks it, so a newer libonnx_proto
// keeps working unchanged.
#include "onnx_schema.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

#include <google/protobuf/descriptor.pb.h>

#include <onnx/onnx_pb.h>

namespace milo {
namespace onnx_import {

namespace {

namespace pb = google::protobuf;
using FDP = pb::FieldDescriptorProto;

pb::DescriptorProto* find_message(pb::FileDescriptorProto* file, const std::string& name) {
    for (auto& m : *file->mutable_message_type())
        if (m.name() == name) return &m;
    return nullptr;
}

pb::DescriptorProto* message_or_new(pb::FileDescriptorProto* file, const std::string& name,
                                    bool* created) {
    *created = false;
    if (auto* m = find_message(file, name)) return m;
    *created = true;
    auto* m = file->add_message_type();
    m->set_name(name);
    return m;
}

// Adds field `name` = `number` unless the message already has that number.
FDP* add_field(pb::DescriptorProto* m, const char* name, int number, FDP::Type type,
               bool repeated, const char* type_name = nullptr) {
    for (const auto& f : m->field())
        if (f.number() == number) return nullptr;
    FDP* f = m->add_field();
    f->set_name(name);
    f->set_number(number);
    f->set_type(type);
    f->set_label(repeated ? FDP::LABEL_REPEATED : FDP::LABEL_OPTIONAL);
    if (type_name != nullptr) f->set_type_name(type_name);
    return f;
}

constexpr FDP::Type kString = FDP::TYPE_STRING;
constexpr FDP::Type kInt32 = FDP::TYPE_INT32;
constexpr FDP::Type kInt64 = FDP::TYPE_INT64;
constexpr FDP::Type kMessage = FDP::TYPE_MESSAGE;

void add_newer_schema(pb::FileDescriptorProto* file) {
    bool created = false;
    // Messages introduced after 1.12 (multi-device configuration, ONNX 1.19).
    if (auto* m = message_or_new(file, "IntIntListEntryProto", &created); created) {
        add_field(m, "key", 1, kInt64, false);
        add_field(m, "value", 2, kInt64, true);
    }
    if (auto* m = message_or_new(file, "SimpleShardedDimProto", &created); created) {
        m->add_oneof_decl()->set_name("dim");
        add_field(m, "dim_value", 1, kInt64, false)->set_oneof_index(0);
        add_field(m, "dim_param", 2, kString, false)->set_oneof_index(0);
        add_field(m, "num_shards", 3, kInt64, false);
    }
    if (auto* m = message_or_new(file, "ShardedDimProto", &created); created) {
        add_field(m, "axis", 1, kInt64, false);
        add_field(m, "simple_sharding", 2, kMessage, true, ".onnx.SimpleShardedDimProto");
    }
    if (auto* m = message_or_new(file, "ShardingSpecProto", &created); created) {
        add_field(m, "tensor_name", 1, kString, false);
        add_field(m, "device", 2, kInt64, true);
        add_field(m, "index_to_device_group_map", 3, kMessage, true, ".onnx.IntIntListEntryProto");
        add_field(m, "sharded_dim", 4, kMessage, true, ".onnx.ShardedDimProto");
    }
    if (auto* m = message_or_new(file, "NodeDeviceConfigurationProto", &created); created) {
        add_field(m, "configuration_id", 1, kString, false);
        add_field(m, "sharding_spec", 2, kMessage, true, ".onnx.ShardingSpecProto");
        add_field(m, "pipeline_stage", 3, kInt32, false);
    }
    if (auto* m = message_or_new(file, "DeviceConfigurationProto", &created); created) {
        add_field(m, "name", 1, kString, false);
        add_field(m, "num_devices", 2, kInt32, false);
        add_field(m, "device", 3, kString, true);
    }
    const char* kEntry = ".onnx.StringStringEntryProto";
    // Fields added to existing messages (metadata_props everywhere in 1.16, overloads in 1.16,
    // function attribute defaults and value infos in 1.15/1.16, configuration in 1.19).
    if (auto* m = find_message(file, "ModelProto"))
        add_field(m, "configuration", 26, kMessage, true, ".onnx.DeviceConfigurationProto");
    if (auto* m = find_message(file, "NodeProto")) {
        add_field(m, "overload", 8, kString, false);
        add_field(m, "metadata_props", 9, kMessage, true, kEntry);
        add_field(m, "device_configurations", 10, kMessage, true,
                  ".onnx.NodeDeviceConfigurationProto");
    }
    if (auto* m = find_message(file, "GraphProto"))
        add_field(m, "metadata_props", 16, kMessage, true, kEntry);
    if (auto* m = find_message(file, "TensorProto"))
        add_field(m, "metadata_props", 16, kMessage, true, kEntry);
    if (auto* m = find_message(file, "ValueInfoProto"))
        add_field(m, "metadata_props", 4, kMessage, true, kEntry);
    if (auto* m = find_message(file, "FunctionProto")) {
        add_field(m, "attribute_proto", 11, kMessage, true, ".onnx.AttributeProto");
        add_field(m, "value_info", 12, kMessage, true, ".onnx.ValueInfoProto");
        add_field(m, "overload", 13, kString, false);
        add_field(m, "metadata_props", 14, kMessage, true, kEntry);
    }
}

// TensorProto.DataType of ONNX 1.23; the compiled enum stops at BFLOAT16 (16).
constexpr const char* kDataTypes[] = {
    "UNDEFINED",      "FLOAT",      "UINT8",        "INT8",       "UINT16",
    "INT16",          "INT32",      "INT64",        "STRING",     "BOOL",
    "FLOAT16",        "DOUBLE",     "UINT32",       "UINT64",     "COMPLEX64",
    "COMPLEX128",     "BFLOAT16",   "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
    "FLOAT8E5M2FNUZ", "UINT4",      "INT4",         "FLOAT4E2M1", "FLOAT8E8M0",
    "UINT2",          "INT2",       "FLOAT6E2M3",   "FLOAT6E3M2"};
constexpr int64_t kDataTypeCount = sizeof kDataTypes / sizeof kDataTypes[0];

}  // namespace

Schema::Schema() {
    pb::FileDescriptorProto file;
    ::onnx::ModelProto::descriptor()->file()->CopyTo(&file);
    file.set_name("milo/onnx_overlay.proto");
    add_newer_schema(&file);
    if (pool_.BuildFile(file) == nullptr)
        throw std::logic_error("onnx: the schema overlay does not build");
}

const google::protobuf::Message* Schema::prototype(const std::string& full_name) const {
    const pb::Descriptor* d = pool_.FindMessageTypeByName(full_name);
    if (d == nullptr) return nullptr;
    std::lock_guard<std::mutex> lock(mutex_);
    return factory_.GetPrototype(d);
}

const char* data_type_name(int64_t value) {
    return value >= 0 && value < kDataTypeCount ? kDataTypes[value] : nullptr;
}

int64_t data_type_value(const std::string& name) {
    for (int64_t i = 0; i < kDataTypeCount; ++i)
        if (name == kDataTypes[i]) return i;
    return -1;
}

}  // namespace onnx_import
}  // namespace milo
