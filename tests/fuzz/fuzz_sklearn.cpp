// libFuzzer target for the scikit-learn transporters (plugins/sklearn, linked as the static
// library milo_sklearn_core): the pickle/joblib importer (graph → document recognisers), the
// PyMilo JSON reader, and the pickle writer fed with whatever they accept. The first byte picks
// the reader (even: pickle/joblib, odd: PyMilo JSON); the rest is the input. Besides "no crash,
// no leak, no hang, no unbounded allocation" and the checks of fuzz_checks.hpp:
//   * a refusal also names the place (a byte offset or a path);
//   * the writer either writes an accepted document as a pickle or refuses it with
//     milo::Error, and a pickle it writes reads back through the importer.
#include <string>

#include "fuzz_checks.hpp"
#include "pymilo_import.hpp"
#include "sklearn_import.hpp"

namespace {
constexpr const char* kTarget = "fuzz_sklearn";
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
        const std::string m = milo_fuzz::check_refusal(kTarget, e);
        const bool located = m.find("byte ") != std::string::npos ||
                             m.find("/root") != std::string::npos ||
                             m.find('$') != std::string::npos;
        if (!located) milo_fuzz::bug(kTarget, "error without a byte offset or path", m);
        return 0;
    }
    milo_fuzz::check_json_round_trip(kTarget, doc);
    std::string pickle;
    try {
        pickle = milo::sklearn::export_pickle(doc);
    } catch (const milo::Error& e) {
        if (e.code() == MILO_ERR_INTERNAL) milo_fuzz::bug(kTarget, "writer: internal error", e.what());
        return 0;
    }
    try {
        milo::Doc again;
        milo::sklearn::import_pickle(again, reinterpret_cast<const uint8_t*>(pickle.data()),
                                     pickle.size(), "<fuzz>.written");
    } catch (const milo::Error& e) {
        milo_fuzz::bug(kTarget, "a pickle the writer wrote does not read back", e.what());
    }
    return 0;
}
