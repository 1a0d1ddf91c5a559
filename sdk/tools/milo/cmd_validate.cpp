// `milo validate FILE...`: strict, complete load of Milo documents.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "cli_runtime.hpp"
#include "doc_walk.hpp"

namespace milo {
namespace cli {

int run_validate(Context& ctx, const std::vector<std::string>& args) {
    Parsed p = parse_options(args, {}, &ctx.globals);
    if (p.help) {
        print_command_help("validate");
        return kExitOk;
    }
    if (p.positionals.empty()) usage_error("expected at least one FILE");
    open_registry(&ctx);
    int result = kExitOk;
    for (const std::string& file : p.positionals) {
        try {
            Loaded loaded = load_input(&ctx, file, nullptr, true);
            const milo_doc* doc = loaded.doc.get();
            DocCounts c = count_doc(doc);
            std::string version = header(doc, "format_version");
            std::printf("%s: valid Milo document (format v%s, %" PRIu64 " values, %" PRIu64
                        " tensors, %" PRIu64 " tensor bytes)\n",
                        display_name(file).c_str(), version.empty() ? "?" : version.c_str(),
                        c.values, c.tensors, c.tensor_bytes);
        } catch (const Failure& f) {
            if (f.exit_code == kExitUsage) throw;
            std::fflush(stdout);
            std::fprintf(stderr, "%s%s\n", message_prefix().c_str(), f.message.c_str());
            if (result == kExitOk) result = f.exit_code;
        }
    }
    return result;
}

}  // namespace cli
}  // namespace milo
