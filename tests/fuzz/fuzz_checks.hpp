// What every importer's libFuzzer target checks besides "no crash": a refusal is a milo::Error
// that names the input and is not an internal error, and an imported document survives a JSON
// round trip unchanged. Each target defines kTarget (its name, for the reports).
#ifndef MILO_FUZZ_CHECKS_HPP
#define MILO_FUZZ_CHECKS_HPP

#include <cstdio>
#include <cstdlib>
#include <string>

#include "milo/milo.hpp"

namespace milo_fuzz {

[[noreturn]] inline void bug(const char* target, const char* what, const std::string& detail) {
    std::fprintf(stderr, "%s: %s: %s\n", target, what, detail.c_str());
    std::abort();
}

/// A refused input: never MILO_ERR_INTERNAL or MILO_ERR_PLUGIN, and the message starts with
/// the input's name ("<fuzz>"). Returns the message for target-specific checks.
inline std::string check_refusal(const char* target, const milo::Error& e) {
    std::string m = e.what();
    if (e.code() == MILO_ERR_INTERNAL || e.code() == MILO_ERR_PLUGIN)
        bug(target, "internal error", m);
    if (m.rfind("<fuzz>", 0) != 0) bug(target, "error without the input's name", m);
    return m;
}

/// An imported document saves as JSON (compact tensors) and reads back equal to itself.
inline void check_json_round_trip(const char* target, const milo::Doc& doc) {
    static const milo::Registry reg;  // the built-in document formats; no plugins
    milo::SaveOptions o;
    o.format = "json";
    o.tensors = MILO_TENSORS_COMPACT;
    std::string text;
    try {
        text = reg.encode(doc, o);
    } catch (const milo::Error& e) {
        bug(target, "an imported document cannot be saved as JSON", e.what());
    }
    try {
        milo::Doc back = reg.decode(text, "json");
        std::string where;
        if (!doc.equals(back, &where)) bug(target, "JSON round trip changed the document", where);
    } catch (const milo::Error& e) {
        bug(target, "the JSON of an imported document does not load", e.what());
    }
}

}  // namespace milo_fuzz

#endif  // MILO_FUZZ_CHECKS_HPP
