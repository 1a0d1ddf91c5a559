// Registration of the built-in "json" format: probe, and the C entry points that wrap the
// encoder and decoder.
#include <cstring>

#include "json_format_internal.hpp"
#include "milo/plugin.h"
#include "milo/version.h"

namespace {

int32_t json_probe(void*, const uint8_t* head, size_t size) {
    size_t i = 0;
    auto skip_ws = [&] {
        while (i < size &&
               (head[i] == ' ' || head[i] == '\t' || head[i] == '\n' || head[i] == '\r'))
            ++i;
    };
    skip_ws();
    if (i >= size || head[i] != '{') return 0;
    ++i;
    skip_ws();
    static const char kKey[] = "\"milo\"";
    const size_t key_len = sizeof(kKey) - 1;
    if (size - i >= key_len && std::memcmp(head + i, kKey, key_len) == 0) return 95;
    // A JSON object, but maybe not a Milo document (or "root" written first).
    return 10;
}

milo_status json_encode(void*, const milo_api* api, const milo_doc* doc,
                        const milo_encode_context* context, milo_error* error) {
    return milo::json::encode_document(api, doc, context, error);
}

milo_status json_decode(void*, const milo_api* api, milo_doc* doc,
                        const milo_decode_context* context, milo_error* error) {
    return milo::json::decode_document(api, doc, context, error);
}

const char* const kExtensions[] = {".json", nullptr};

const milo_format kJsonFormat = {
    static_cast<uint32_t>(sizeof(milo_format)),
    MILO_ABI_VERSION,
    "json",
    "Milo document as strict JSON (RFC 8259)",
    kExtensions,
    MILO_FORMAT_TEXT | MILO_FORMAT_READABLE_TENSORS,
    0,
    nullptr,
    json_probe,
    json_encode,
    json_decode,
    nullptr,
    nullptr,
};

}  // namespace

/// Registers the built-in JSON format; called by the core when it creates a registry.
extern "C" milo_status milo_json_register(const milo_host* host, milo_error* error) {
    static const milo_plugin_info info = {static_cast<uint32_t>(sizeof(milo_plugin_info)),
                                          MILO_ABI_VERSION,
                                          1,
                                          0,
                                          "json",
                                          MILO_VERSION_STRING};
    milo_status st = host->declare_plugin(host->context, &info, error);
    if (st != MILO_OK) return st;
    return host->register_format(host->context, &kJsonFormat, error);
}
