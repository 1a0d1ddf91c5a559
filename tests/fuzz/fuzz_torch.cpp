// libFuzzer target for the PyTorch checkpoint transporter (plugins/torch, linked as the static
// library milo_torch_core): torch.save files (zip, legacy) → document → torch.save zip. Besides
// "no crash, no leak, no hang, no unbounded allocation" and the checks of fuzz_checks.hpp, the
// writer writes an accepted document or refuses it with milo::Error, and a file it writes reads
// back through the reader (what it writes, it can read).
#include <string>

#include "fuzz_checks.hpp"
#include "torch_export.hpp"
#include "torch_import.hpp"

namespace {
constexpr const char* kTarget = "fuzz_torch";
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    milo::Doc doc;
    try {
        milo::torch::import_pt(doc, data, size, "<fuzz>");
    } catch (const milo::Error& e) {
        milo_fuzz::check_refusal(kTarget, e);
        return 0;
    }
    milo_fuzz::check_json_round_trip(kTarget, doc);
    std::string pt;
    try {
        pt = milo::torch::export_pt(doc);
    } catch (const milo::Error& e) {
        if (e.code() == MILO_ERR_INTERNAL) milo_fuzz::bug(kTarget, "writer: internal error", e.what());
        return 0;
    }
    try {
        milo::Doc again;
        milo::torch::import_pt(again, reinterpret_cast<const uint8_t*>(pt.data()), pt.size(),
                               "<fuzz>.written");
    } catch (const milo::Error& e) {
        milo_fuzz::bug(kTarget, "a file the writer wrote does not read back", e.what());
    }
    return 0;
}
