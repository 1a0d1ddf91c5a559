// Shared declarations of the JSON format adapter (encoder, decoder, registration).
#ifndef MILO_JSON_FORMAT_INTERNAL_HPP
#define MILO_JSON_FORMAT_INTERNAL_HPP

#include "milo/plugin.h"

namespace milo {
namespace json {

milo_status encode_document(const milo_api* api, const milo_doc* doc,
                            const milo_encode_context* ctx, milo_error* error);
milo_status decode_document(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx,
                            milo_error* error);

// Record tensors: bytes of an item not covered by any field, as [begin, end) ranges in order.
struct ByteRange {
    uint64_t begin;
    uint64_t end;
};

// Hard cap on value nesting whatever the caller asks: the decoder recurses once per level.
constexpr uint32_t kHardMaxDepth = 4096;

}  // namespace json
}  // namespace milo

#endif  // MILO_JSON_FORMAT_INTERNAL_HPP
