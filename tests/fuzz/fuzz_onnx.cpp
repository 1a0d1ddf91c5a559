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

#include "fuzz_checks.hpp"
#include "milo/milo.hpp"
#include "onnx_import.hpp"

namespace {

constexpr const char* kTarget = "fuzz_onnx";

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
        const std::string m = milo_fuzz::check_refusal(kTarget, e);
        if (m.rfind("<fuzz>: ", 0) != 0) milo_fuzz::bug(kTarget, "error without the input's name", m);
        const bool located = m.find(": byte ") != std::string::npos ||
                             m.find(": /root") != std::string::npos;
        if (!located) milo_fuzz::bug(kTarget, "error without a byte offset or document path", m);
        return 0;
    }
    milo_fuzz::check_json_round_trip(kTarget, doc);
    return 0;
}
