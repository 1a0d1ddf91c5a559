// Registration and content probe of the binary protobuf format ("pb").
#include <cstdint>

#include "milo/plugin.h"
#include "milo/version.h"
#include "pb_wire.hpp"

namespace {

// Reads a varint of at most `max_bytes` from [*p, end); false when cut short or too long.
bool probe_varint(const uint8_t** p, const uint8_t* end, int max_bytes, uint64_t* out) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes && *p < end; ++i) {
        uint8_t b = *(*p)++;
        v |= uint64_t(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = v;
            return true;
        }
    }
    return false;
}

// Binary protobuf has no magic. A Document written by any protobuf library starts with field 1
// (header, tag 0x0a), a length, then the header's field 1 (format_version, tag 0x08) — because
// every serializer writes fields in number order and format_version is never 0.
int32_t pb_probe(void* /*self*/, const uint8_t* head, size_t size) {
    if (head == nullptr || size < 4 || head[0] != milo::pb::tag(1, milo::pb::kLen)) return 0;
    const uint8_t* p = head + 1;
    const uint8_t* end = head + size;
    uint64_t header_len = 0;
    if (!probe_varint(&p, end, 5, &header_len) || header_len < 2) return 0;
    if (p >= end || *p++ != milo::pb::tag(1, milo::pb::kVarint)) return 0;
    uint64_t version = 0;
    if (!probe_varint(&p, end, 5, &version) || version == 0) return 0;
    // A newer version is still ours: decoding then reports MILO_ERR_UNSUPPORTED precisely.
    return version <= MILO_FORMAT_VERSION ? 80 : 40;
}

milo_status pb_encode(void* /*self*/, const milo_api* api, const milo_doc* doc,
                      const milo_encode_context* context, milo_error* error) {
    return milo::pb::encode_document(api, doc, context, error);
}

milo_status pb_decode(void* /*self*/, const milo_api* api, milo_doc* doc,
                      const milo_decode_context* context, milo_error* error) {
    return milo::pb::decode_document(api, doc, context, error);
}

const char* const kExtensions[] = {".pb", ".milopb", nullptr};

const milo_format kFormat = {
    static_cast<uint32_t>(sizeof(milo_format)),
    MILO_ABI_VERSION,
    "pb",
    "binary protobuf (schema/milo/v1/document.proto, message milo.v1.Document)",
    kExtensions,
    0u,
    0u,
    nullptr,
    pb_probe,
    pb_encode,
    pb_decode,
    nullptr,
    nullptr,
};

const milo_plugin_info kInfo = {
    static_cast<uint32_t>(sizeof(milo_plugin_info)), MILO_ABI_VERSION, 1u, 0u, "pb",
    MILO_VERSION_STRING,
};

}  // namespace

extern "C" milo_status milo_pb_register(const milo_host* host, milo_error* error) {
    if (host == nullptr || host->declare_plugin == nullptr || host->register_format == nullptr)
        return MILO_ERR_INVALID_ARGUMENT;
    milo_status s = host->declare_plugin(host->context, &kInfo, error);
    if (s != MILO_OK) return s;
    return host->register_format(host->context, &kFormat, error);
}
