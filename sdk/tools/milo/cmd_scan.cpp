// `milo scan FILE`: the trust report of every name a model uses.
#include <cstdio>
#include <string>
#include <unordered_set>

#include "cli_runtime.hpp"
#include "doc_walk.hpp"

namespace milo {
namespace cli {

int run_scan(Context& ctx, const std::vector<std::string>& args) {
    Parsed p = parse_options(args, {}, &ctx.globals);
    if (p.help) {
        print_command_help("scan");
        return kExitOk;
    }
    if (p.positionals.size() != 1) usage_error("expected exactly one FILE");
    const std::string& file = p.positionals[0];
    open_registry(&ctx);
    Loaded loaded = load_input(&ctx, file, nullptr, false);
    const milo_doc* doc = loaded.doc.get();

    static const char* const kLevels[] = {"trusted", "untrusted", "dangerous"};
    size_t counts[3] = {0, 0, 0};
    size_t n = milo_doc_trust_count(doc);
    std::unordered_set<std::string> classified;
    std::string lines[3];
    for (size_t i = 0; i < n; ++i) {
        const char *name = nullptr, *usage = nullptr;
        int32_t level = 0;
        if (milo_doc_trust_at(doc, i, &name, &usage, &level, nullptr) != MILO_OK) continue;
        if (level < 0 || level > 2) level = MILO_TRUST_DANGEROUS;  // unknown levels: worst case
        ++counts[level];
        classified.insert(name ? name : "");
        char label[16];
        std::snprintf(label, sizeof label, "  %-10s ", kLevels[level]);
        lines[level] += std::string(label) + (name ? name : "") + " (" + (usage ? usage : "") +
                        ")\n";
    }
    std::string unlisted;
    size_t n_unlisted = 0;
    for (const std::string& name : named_types(doc)) {
        if (classified.count(name)) continue;
        ++n_unlisted;
        unlisted += "  unlisted   " + name + "\n";
    }
    std::printf("%s: %zu names: %zu trusted, %zu untrusted, %zu dangerous", display_name(file).c_str(),
                n, counts[0], counts[1], counts[2]);
    if (n_unlisted) std::printf("; %zu named in the tree but not classified", n_unlisted);
    std::printf("\n%s%s%s%s", lines[2].c_str(), lines[1].c_str(), unlisted.c_str(),
                lines[0].c_str());
    if (counts[2] != 0) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s%s: dangerous content: %zu dangerous name%s\n",
                     message_prefix().c_str(), display_name(file).c_str(), counts[2],
                     counts[2] == 1 ? "" : "s");
        return kExitDangerous;
    }
    return kExitOk;
}

}  // namespace cli
}  // namespace milo
