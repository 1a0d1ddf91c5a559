// libFuzzer target for the ONNX importer (plugins/onnx, linked as the static library
// milo_onnx_import). Besides "no crash, no leak, no hang, no unbounded allocation":
//   * a refused input must throw milo::Error (any other exception escapes and is reported)
//     with a precise message: the byte offset of a wire-format fault ("byte N: ...") or the
//     document path of the value at fault ("/root/..."), and never MILO_ERR_INTERNAL;
//   * an imported document must be sound: saved as JSON with compact tensors and read back,
//     it is equal to itself.
// The display name "<fuzz>" is not a file, so the importer has no folder and never reads
// external data.
#include <cstdio>
#include <cstdlib>
#include <string>

#include <google/protobuf/stubs/logging.h>

#include "milo/milo.hpp"
#include "onnx_import.hpp"

namespace {

const milo::Registry& registry() {
    static const milo::Registry reg;  // the built-in document formats; no plugins
    return reg;
}

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_onnx: %s: %s\n", what, detail.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // protobuf logs (not fails) each non-UTF-8 string it parses into an overlay message
    static const bool quiet = (google::protobuf::SetLogHandler(nullptr), true);
    (void)quiet;
    static const milo::onnx_import::Schema schema;
    milo::Doc doc;
    try {
        milo::onnx_import::import_model(schema, doc, data, size, "<fuzz>");
    } catch (const milo::Error& e) {
        const std::string m = e.what();
        if (e.code() == MILO_ERR_INTERNAL || e.code() == MILO_ERR_PLUGIN)
            bug("internal error", m);
        if (m.rfind("<fuzz>: ", 0) != 0) bug("error without the input's name", m);
        const bool located = m.find(": byte ") != std::string::npos ||
                             m.find(": /root") != std::string::npos;
        if (!located) bug("error without a byte offset or document path", m);
        return 0;
    }
    milo::SaveOptions o;
    o.format = "json";
    o.tensors = MILO_TENSORS_COMPACT;
    std::string text;
    try {
        text = registry().encode(doc, o);
    } catch (const milo::Error& e) {
        bug("an imported document cannot be saved as JSON", e.what());
    }
    try {
        milo::Doc back = registry().decode(text, "json");
        std::string where;
        if (!doc.equals(back, &where)) bug("JSON round trip changed the document", where);
    } catch (const milo::Error& e) {
        bug("the JSON of an imported document does not load", e.what());
    }
    return 0;
}
