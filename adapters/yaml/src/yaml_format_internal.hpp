// Internal interface of the YAML format adapter (not installed).
#ifndef MILO_YAML_FORMAT_INTERNAL_HPP
#define MILO_YAML_FORMAT_INTERNAL_HPP

#include <cstddef>
#include <cstdint>
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

/// 1-based line and column of byte `offset`.
void line_column(const char* data, size_t size, size_t offset, size_t* line, size_t* column);

}  // namespace yaml
}  // namespace milo

#endif  // MILO_YAML_FORMAT_INTERNAL_HPP
