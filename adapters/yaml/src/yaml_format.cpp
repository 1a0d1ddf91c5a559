// Registration and probe of the YAML format adapter.
#include <cstring>

#include "milo/plugin.h"
#include "milo/version.h"
#include "yaml_format_internal.hpp"

namespace {

// Skips a UTF-8 BOM, blank lines, comments, directives and a "---" line, then looks for the
// first key "milo" (quoted as this adapter writes it, or plain as hand-written YAML has it).
int32_t yaml_probe(void*, const uint8_t* head, size_t size) {
    const char* p = reinterpret_cast<const char*>(head);
    const char* end = p + size;
    if (size >= 3 && std::memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    while (p < end) {
        const char* line = p;
        while (p < end && (*p == ' ' || *p == '\t')) ++p;
        bool skip = p == end || *p == '\n' || *p == '\r' || *p == '#' ||
                    (p == line && *p == '%') ||
                    (p == line && end - p >= 3 && std::memcmp(p, "---", 3) == 0 &&
                     (end - p == 3 || p[3] == '\n' || p[3] == '\r' || p[3] == ' '));
        if (!skip) break;
        while (p < end && *p != '\n') ++p;
        if (p < end) ++p;
    }
    static const char* const starts[] = {"\"milo\":", "'milo':", "milo:"};
    for (const char* s : starts) {
        size_t n = std::strlen(s);
        if (size_t(end - p) >= n && std::memcmp(p, s, n) == 0) return 90;
    }
    return 0;
}

milo_status yaml_encode(void*, const milo_api* api, const milo_doc* doc,
                        const milo_encode_context* context, milo_error* error) {
    return milo::yaml::encode(api, doc, context, error);
}

milo_status yaml_decode(void*, const milo_api* api, milo_doc* doc,
                        const milo_decode_context* context, milo_error* error) {
    return milo::yaml::decode(api, doc, context, error);
}

const char* const kExtensions[] = {".yaml", ".yml", nullptr};

const milo_format kYamlFormat = {
    sizeof(milo_format),
    MILO_ABI_VERSION,
    "yaml",
    "Milo document as YAML (block style, strict subset of YAML 1.2)",
    kExtensions,
    MILO_FORMAT_TEXT | MILO_FORMAT_READABLE_TENSORS,
    0,
    nullptr,
    yaml_probe,
    yaml_encode,
    yaml_decode,
    nullptr,
    nullptr,
};

}  // namespace

extern "C" milo_status milo_yaml_register(const milo_host* host, milo_error* error) {
    milo_plugin_info info = {};
    info.struct_size = sizeof(milo_plugin_info);
    info.abi_version = MILO_ABI_VERSION;
    info.abi_min = 1;
    info.name = "yaml";
    info.version = MILO_VERSION_STRING;
    milo_status st = host->declare_plugin(host->context, &info, error);
    if (st != MILO_OK) return st;
    return host->register_format(host->context, &kYamlFormat, error);
}
