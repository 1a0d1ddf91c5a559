// Internal interface of the YAML format adapter (not installed).
#ifndef MILO_YAML_FORMAT_INTERNAL_HPP
#define MILO_YAML_FORMAT_INTERNAL_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "milo/plugin.h"

namespace milo {
namespace yaml {

/// yaml-cpp 0.7 throws DeepRecursion at 500 nested nodes. The decoder stops at this many
/// collections; the encoder refuses to write deeper YAML so that what it writes reads back.
constexpr int kMaxYamlNesting = 490;

/// A flow collection that could be an implicit key makes yaml-cpp buffer every token until it
/// closes (about 100 bytes of memory per input byte), so such collections are capped.
constexpr size_t kMaxKeyPossibleFlowBytes = size_t(1) << 20;

milo_status encode(const milo_api* api, const milo_doc* doc, const milo_encode_context* ctx,
                   milo_error* error);
milo_status decode(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx,
                   milo_error* error);

/// Result of the lexical pre-scan: ok, or a status, byte offset and message.
struct PrescanResult {
    milo_status status = MILO_OK;
    size_t offset = 0;
    std::string message;
};

/// Checks that `data` uses only the YAML subset of docs/format.md §5 at the lexical level and
/// stays within the limits yaml-cpp needs to run in bounded memory and time. Fail-closed: any
/// construct it cannot classify exactly is rejected.
PrescanResult prescan(const char* data, size_t size, uint32_t max_flow_depth);

/// First index >= i (or n) of a byte that needs a look inside a double-quoted string: '"',
/// '\\', a C0 control or DEL. Eight bytes per step; large base64 strings are most of the input.
inline size_t skip_quoted_text(const char* d, size_t i, size_t n) {
    constexpr uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (n - i >= 8) {
        uint64_t x;
        std::memcpy(&x, d + i, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\'), del = x ^ (ones * 0x7f);
        uint64_t hit = ((x - ones * 0x20) | (q - ones) | (b - ones) | (del - ones)) & ~x & high;
        if (hit != 0) break;
        i += 8;
    }
    while (i < n) {
        unsigned char c = static_cast<unsigned char>(d[i]);
        if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) return i;
        ++i;
    }
    return n;
}

/// Offset of the first byte that is not valid UTF-8, or SIZE_MAX (codec::utf8_invalid_at,
/// with ASCII taken eight bytes at a time).
size_t utf8_invalid_at(const char* s, size_t n);

/// 1-based line and column of byte `offset`.
void line_column(const char* data, size_t size, size_t offset, size_t* line, size_t* column);

}  // namespace yaml
}  // namespace milo

#endif  // MILO_YAML_FORMAT_INTERNAL_HPP
