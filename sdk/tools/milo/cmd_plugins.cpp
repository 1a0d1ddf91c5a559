// `milo plugins`: plugin folders, loaded plugins, transporters and formats.
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "cli_runtime.hpp"

namespace milo {
namespace cli {

namespace {

// Reads a member of a plugin-provided descriptor only when its struct_size covers it.
#define MILO_CLI_FIELD(ptr, type, member) \
    ((ptr)->struct_size >= offsetof(type, member) + sizeof((ptr)->member) ? (ptr)->member : nullptr)

const char* or_dash(const char* s) { return (s != nullptr && *s != '\0') ? s : "-"; }

std::string join_list(const char* const* items, size_t limit, size_t* total) {
    std::string out;
    size_t n = 0;
    if (items != nullptr) {
        for (const char* const* p = items; *p != nullptr; ++p, ++n) {
            if (n < limit) {
                if (!out.empty()) out += ", ";
                out += *p;
            }
        }
    }
    if (total) *total = n;
    if (n > limit) out += ", ... (" + std::to_string(n - limit) + " more; --all lists them)";
    return out.empty() ? std::string("-") : out;
}

}  // namespace

int run_plugins(Context& ctx, const std::vector<std::string>& args) {
    Parsed p = parse_options(args, {{"all", false}}, &ctx.globals);
    if (p.help) {
        print_command_help("plugins");
        return kExitOk;
    }
    if (!p.positionals.empty()) usage_error("unexpected argument '" + p.positionals[0] + "'");
    bool all = has_flag(p, "all");
    open_registry(&ctx);
    const milo_registry* reg = ctx.registry.get();

    const char* env = std::getenv("MILO_PLUGIN_PATH");
    std::printf("plugin folders:\n");
    if (env != nullptr && *env != '\0') std::printf("  MILO_PLUGIN_PATH  %s\n", env);
    const char* dir = milo_registry_get_plugin_dir();
    std::printf("  default           %s%s\n", or_dash(dir),
                ctx.globals.no_default_plugins ? "  (skipped: --no-default-plugins)" : "");

    size_t np = milo_registry_plugin_count(reg);
    std::printf("\nplugins (%zu):\n", np);
    for (size_t i = 0; i < np; ++i) {
        const char *path = nullptr, *name = nullptr, *version = nullptr;
        if (milo_registry_plugin_at(reg, i, &path, &name, &version, nullptr) != MILO_OK) continue;
        std::printf("  %-12s %-10s %s\n", or_dash(name), or_dash(version), or_dash(path));
    }

    size_t nt = milo_registry_transporter_count(reg);
    std::printf("\ntransporters (%zu):\n", nt);
    for (size_t i = 0; i < nt; ++i) {
        const milo_transporter* t = milo_registry_transporter_at(reg, i);
        if (t == nullptr) continue;
        const char* id = MILO_CLI_FIELD(t, milo_transporter, id);
        const char* framework = MILO_CLI_FIELD(t, milo_transporter, framework);
        const char* version = MILO_CLI_FIELD(t, milo_transporter, version);
        const char* description = MILO_CLI_FIELD(t, milo_transporter, description);
        const char* const* types = MILO_CLI_FIELD(t, milo_transporter, types);
        const char* const* exts = MILO_CLI_FIELD(t, milo_transporter, extensions);
        bool reads = MILO_CLI_FIELD(t, milo_transporter, decode) != nullptr;
        bool writes = MILO_CLI_FIELD(t, milo_transporter, encode) != nullptr;
        std::printf("  %s  framework: %s  revision: %s  %s\n", or_dash(id), or_dash(framework),
                    or_dash(version),
                    reads && writes ? "reads and writes"
                    : reads         ? "reads only"
                    : writes        ? "writes only"
                                    : "");
        if (description != nullptr && *description != '\0')
            std::printf("      %s\n", description);
        std::printf("      extensions: %s\n", join_list(exts, SIZE_MAX, nullptr).c_str());
        size_t ntypes = 0;
        std::string list = join_list(types, all ? SIZE_MAX : 8, &ntypes);
        std::printf("      types (%zu): %s\n", ntypes, list.c_str());
    }

    size_t nf = milo_registry_format_count(reg);
    std::printf("\nformats (%zu):\n", nf);
    for (size_t i = 0; i < nf; ++i) {
        const milo_format* f = milo_registry_format_at(reg, i);
        if (f == nullptr) continue;
        const char* id = MILO_CLI_FIELD(f, milo_format, id);
        const char* description = MILO_CLI_FIELD(f, milo_format, description);
        const char* const* exts = MILO_CLI_FIELD(f, milo_format, extensions);
        std::printf("  %-6s extensions: %s", or_dash(id), join_list(exts, SIZE_MAX, nullptr).c_str());
        if (description != nullptr && *description != '\0') std::printf("  (%s)", description);
        std::printf("\n");
    }
    return kExitOk;
}

}  // namespace cli
}  // namespace milo
