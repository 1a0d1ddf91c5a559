#include "onnx_wire.hpp"

#include <string>

namespace milo {
namespace onnx_import {

namespace {

namespace pb = google::protobuf;

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLength = 2, kStartGroup = 3, kEndGroup = 4,
                       kFixed32 = 5 };

const char* wire_name(uint32_t w) {
    switch (w) {
        case kVarint: return "varint";
        case kFixed64: return "fixed64";
        case kLength: return "length-delimited";
        case kStartGroup: return "start-group";
        case kEndGroup: return "end-group";
        case kFixed32: return "fixed32";
        default: return "invalid";
    }
}

// Reads a varint at `*pos` (< end); false when it runs past `end` or exceeds 10 bytes. Like
// protobuf, the bits of a 10th byte beyond 64 are dropped.
bool read_varint(const uint8_t* data, size_t* pos, size_t end, uint64_t* out) {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
        if (*pos >= end) return false;
        uint8_t b = data[(*pos)++];
        v |= uint64_t(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

// Protobuf reads tags and lengths as 32-bit varints of at most 5 bytes; longer encodings of
// them (valid varints otherwise) make it refuse the message.
constexpr size_t kMaxTagBytes = 5;
constexpr size_t kMaxLengthBytes = 5;

// The fixed size of the elements of a packable field type, 0 for varint types.
size_t packed_width(const pb::FieldDescriptor* f) {
    switch (f->type()) {
        case pb::FieldDescriptor::TYPE_DOUBLE:
        case pb::FieldDescriptor::TYPE_FIXED64:
        case pb::FieldDescriptor::TYPE_SFIXED64: return 8;
        case pb::FieldDescriptor::TYPE_FLOAT:
        case pb::FieldDescriptor::TYPE_FIXED32:
        case pb::FieldDescriptor::TYPE_SFIXED32: return 4;
        default: return 0;
    }
}

std::string field_label(const pb::Descriptor* type, uint64_t number) {
    const pb::FieldDescriptor* f =
        type != nullptr && number <= 536870911u ? type->FindFieldByNumber(int(number)) : nullptr;
    std::string owner = type != nullptr ? type->name() : "unknown message";
    if (f != nullptr) return owner + "." + f->name() + " (" + std::to_string(number) + ")";
    return owner + " field " + std::to_string(number);
}

struct Walker {
    const uint8_t* data;
    std::string error;

    bool fail(size_t at, std::string what) {
        error = "byte " + std::to_string(at) + ": " + what;
        return false;
    }

    // Walks [pos, end) as fields of `type` (NULL: unknown bytes, only the framing is checked).
    // `group` is the field number of an open group, 0 otherwise.
    bool walk(const pb::Descriptor* type, size_t pos, size_t end, int depth, uint64_t group,
              size_t* group_end) {
        if (depth > kMaxDepth)
            return fail(pos, "messages nested deeper than " + std::to_string(kMaxDepth) +
                                 " levels");
        while (pos < end) {
            const size_t at = pos;
            uint64_t tag = 0;
            if (!read_varint(data, &pos, end, &tag))
                return fail(at, "truncated or overlong field tag (message ends at byte " +
                                    std::to_string(end) + ")");
            if (pos - at > kMaxTagBytes)
                return fail(at, "field tag takes " + std::to_string(pos - at) +
                                    " bytes; protobuf allows at most " +
                                    std::to_string(kMaxTagBytes));
            const uint64_t number = tag >> 3;
            const uint32_t wire = uint32_t(tag & 7);
            if (number == 0 || number > 536870911u)
                return fail(at, "field number " + std::to_string(number) +
                                    " is outside 1..536870911 (in " +
                                    (type ? type->name() : std::string("unknown bytes")) + ")");
            switch (wire) {
                case kVarint: {
                    uint64_t v = 0;
                    if (!read_varint(data, &pos, end, &v))
                        return fail(at, field_label(type, number) +
                                            ": truncated or overlong varint");
                    break;
                }
                case kFixed64:
                case kFixed32: {
                    const size_t n = wire == kFixed64 ? 8 : 4;
                    if (end - pos < n)
                        return fail(at, field_label(type, number) + ": " + wire_name(wire) +
                                            " value needs " + std::to_string(n) +
                                            " bytes, " + std::to_string(end - pos) +
                                            " remain in its message");
                    pos += n;
                    break;
                }
                case kLength: {
                    uint64_t len = 0;
                    const size_t len_at = pos;
                    if (!read_varint(data, &pos, end, &len))
                        return fail(at, field_label(type, number) + ": truncated length");
                    if (len > end - pos)
                        return fail(at, field_label(type, number) + " declares " +
                                            std::to_string(len) + " bytes but only " +
                                            std::to_string(end - pos) +
                                            " remain in its message (which ends at byte " +
                                            std::to_string(end) + ")");
                    if (pos - len_at > kMaxLengthBytes)
                        return fail(at, field_label(type, number) + ": its length takes " +
                                            std::to_string(pos - len_at) +
                                            " bytes; protobuf allows at most " +
                                            std::to_string(kMaxLengthBytes));
                    const pb::FieldDescriptor* f =
                        type != nullptr ? type->FindFieldByNumber(int(number)) : nullptr;
                    if (f != nullptr && f->type() == pb::FieldDescriptor::TYPE_MESSAGE &&
                        !walk(f->message_type(), pos, pos + size_t(len), depth + 1, 0, nullptr))
                        return false;
                    if (f != nullptr && f->is_packable() &&
                        !packed(f, number, type, pos, pos + size_t(len)))
                        return false;
                    pos += size_t(len);
                    break;
                }
                case kStartGroup: {
                    size_t after = 0;
                    if (!walk(nullptr, pos, end, depth + 1, number, &after)) return false;
                    pos = after;
                    break;
                }
                case kEndGroup:
                    if (group != number)
                        return fail(at, "end-group tag for field " + std::to_string(number) +
                                            " without a matching start-group");
                    *group_end = pos;
                    return true;
                default:
                    return fail(at, field_label(type, number) + ": invalid wire type " +
                                        std::to_string(wire));
            }
        }
        if (group != 0)
            return fail(end, "group of field " + std::to_string(group) + " is never closed");
        return true;
    }

    // A repeated scalar field in packed form (protobuf accepts it for any repeated scalar):
    // whole fixed-size elements, or varints that end inside [pos, end).
    bool packed(const pb::FieldDescriptor* f, uint64_t number, const pb::Descriptor* type,
                size_t pos, size_t end) {
        const size_t width = packed_width(f);
        if (width != 0) {
            if ((end - pos) % width != 0)
                return fail(pos, field_label(type, number) + ": packed values take " +
                                     std::to_string(end - pos) + " bytes, not a multiple of " +
                                     std::to_string(width));
            return true;
        }
        while (pos < end) {
            const size_t at = pos;
            uint64_t v = 0;
            if (!read_varint(data, &pos, end, &v))
                return fail(at, field_label(type, number) +
                                    ": packed varint truncated or overlong (the field ends at "
                                    "byte " + std::to_string(end) + ")");
        }
        return true;
    }
};

}  // namespace

int32_t probe_model(const uint8_t* head, size_t size) {
    // ModelProto writers put ir_version (field 1, varint) first; its values are small.
    if (size < 2 || head[0] != 0x08 || head[1] == 0 || head[1] > 0x7f) return 0;
    size_t pos = 2;
    int fields = 1;
    while (pos < size && fields < 8) {
        uint64_t tag = 0;
        if (!read_varint(head, &pos, size, &tag)) break;  // the head may end mid-field
        const uint64_t number = tag >> 3;
        const uint32_t wire = uint32_t(tag & 7);
        static const uint8_t kModelFields[] = {2, 3, 4, 5, 6, 7, 8, 14, 20, 25, 26};
        bool known = false;
        for (uint8_t n : kModelFields) known = known || n == number;
        // a number above every ModelProto field is a newer release's field: the evidence so
        // far stands (the importer keeps it under "(unknown fields)")
        if (!known && number > 26) break;
        if (!known) return 0;
        const bool varint_field = number == 5;  // model_version
        if (varint_field != (wire == kVarint) || (!varint_field && wire != kLength)) return 0;
        uint64_t v = 0;
        if (!read_varint(head, &pos, size, &v)) break;
        if (wire == kLength) pos += v < size ? size_t(v) : size;
        ++fields;
    }
    return fields >= 2 ? 70 : 30;
}

std::string locate_wire_error(const pb::Descriptor* model, const uint8_t* data, size_t size) {
    Walker w{data, {}};
    w.walk(model, 0, size, 0, 0, nullptr);
    return w.error;
}

}  // namespace onnx_import
}  // namespace milo
