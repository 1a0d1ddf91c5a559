// libFuzzer target for the PyTorch checkpoint transporter (plugins/torch, linked as the static
// library milo_torch_core): torch.save files (zip, legacy) → document → torch.save zip. Besides
// "no crash, no leak, no hang, no unbounded allocation":
//   * a refused input must throw milo::Error — never MILO_ERR_INTERNAL or MILO_ERR_PLUGIN —
//     whose message names the input ("<fuzz>");
//   * an accepted input gives a document that saves as JSON and reads back equal to itself;
//   * the writer writes that document or refuses it with milo::Error, and a file it writes
//     reads back through the reader (what it writes, it can read).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "milo/milo.hpp"
#include "torch_export.hpp"
#include "torch_import.hpp"

namespace {

const milo::Registry& registry() {
    static const milo::Registry reg;  // the built-in document formats; no plugins
    return reg;
}

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_torch: %s: %s\n", what, detail.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    milo::Doc doc;
    try {
        milo::torch::import_pt(doc, data, size, "<fuzz>");
    } catch (const milo::Error& e) {
        const std::string m = e.what();
        if (e.code() == MILO_ERR_INTERNAL || e.code() == MILO_ERR_PLUGIN) bug("internal error", m);
        if (m.rfind("<fuzz>", 0) != 0) bug("error without the input's name", m);
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
        bug("the saved JSON does not read back", e.what());
    }
    std::string pt;
    try {
        pt = milo::torch::export_pt(doc);
    } catch (const milo::Error& e) {
        if (e.code() == MILO_ERR_INTERNAL) bug("writer: internal error", e.what());
        return 0;
    }
    try {
        milo::Doc again;
        milo::torch::import_pt(again, reinterpret_cast<const uint8_t*>(pt.data()), pt.size(),
                               "<fuzz>.written");
    } catch (const milo::Error& e) {
        bug("a file the writer wrote does not read back", e.what());
    }
    return 0;
}
