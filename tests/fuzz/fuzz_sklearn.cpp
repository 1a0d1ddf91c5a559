// libFuzzer target for the scikit-learn transporters (plugins/sklearn, linked as the static
// library milo_sklearn_core): the pickle/joblib importer (graph → document recognisers), the
// PyMilo JSON reader, and the pickle writer fed with whatever they accept. The first byte picks
// the reader (even: pickle/joblib, odd: PyMilo JSON); the rest is the input. Besides "no crash,
// no leak, no hang, no unbounded allocation":
//   * a refused input must throw milo::Error — never MILO_ERR_INTERNAL or MILO_ERR_PLUGIN —
//     whose message names the input ("<fuzz>: ") and the place (a byte offset or a path);
//   * an accepted input gives a document that saves as JSON and reads back equal to itself;
//   * the writer either writes that document as a pickle or refuses it with milo::Error, and
//     a pickle it writes reads back through the importer (what it writes, it can read).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "milo/milo.hpp"
#include "pymilo_import.hpp"
#include "sklearn_import.hpp"

namespace {

const milo::Registry& registry() {
    static const milo::Registry reg;  // the built-in document formats; no plugins
    return reg;
}

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_sklearn: %s: %s\n", what, detail.c_str());
    std::abort();
}

void check_refusal(const milo::Error& e) {
    const std::string m = e.what();
    if (e.code() == MILO_ERR_INTERNAL || e.code() == MILO_ERR_PLUGIN) bug("internal error", m);
    if (m.rfind("<fuzz>", 0) != 0) bug("error without the input's name", m);
    const bool located = m.find("byte ") != std::string::npos ||
                         m.find("/root") != std::string::npos || m.find("$") != std::string::npos;
    if (!located) bug("error without a byte offset or path", m);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const bool pymilo = (data[0] & 1) != 0;
    ++data;
    --size;
    milo::Doc doc;
    try {
        if (pymilo)
            milo::sklearn::import_pymilo(doc, data, size, "<fuzz>");
        else
            milo::sklearn::import_pickle(doc, data, size, "<fuzz>");
    } catch (const milo::Error& e) {
        check_refusal(e);
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
    std::string pickle;
    try {
        pickle = milo::sklearn::export_pickle(doc);
    } catch (const milo::Error& e) {
        if (e.code() == MILO_ERR_INTERNAL) bug("writer: internal error", e.what());
        return 0;
    }
    try {
        milo::Doc again;
        milo::sklearn::import_pickle(again, reinterpret_cast<const uint8_t*>(pickle.data()),
                                     pickle.size(), "<fuzz>.written");
    } catch (const milo::Error& e) {
        bug("a pickle the writer wrote does not read back", e.what());
    }
    return 0;
}
