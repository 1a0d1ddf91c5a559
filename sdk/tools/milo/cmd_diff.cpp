// `milo diff A B`: structural difference of two models, one line per differing path; ONNX
// models also by name (onnx_diff.cpp).
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli_runtime.hpp"
#include "doc_diff.hpp"
#include "onnx_view.hpp"

namespace milo {
namespace cli {

int run_diff(Context& ctx, const std::vector<std::string>& args) {
    Parsed p = parse_options(args, {{"all", false}, {"no-header", false}, {"structural", false}},
                             &ctx.globals);
    if (p.help) {
        print_command_help("diff");
        return kExitOk;
    }
    if (p.positionals.size() != 2) usage_error("expected two inputs A and B");
    const std::string& a_path = p.positionals[0];
    const std::string& b_path = p.positionals[1];
    if (a_path == "-" && b_path == "-") usage_error("only one input can be standard input");
    open_registry(&ctx);
    Loaded a = load_input(&ctx, a_path, nullptr, false);
    Loaded b = load_input(&ctx, b_path, nullptr, false);

    Differ d;
    if (has_flag(p, "all")) d.cap = SIZE_MAX;
    bool headers = !has_flag(p, "no-header");
    if (headers) d.header(a.doc.get(), b.doc.get());
    const milo_value* ra = milo_doc_get_root(a.doc.get());
    const milo_value* rb = milo_doc_get_root(b.doc.get());
    // Two ONNX models: nodes, initializers, inputs, outputs … by name; the generic walk skips
    // them and reports every other field.
    bool onnx = !has_flag(p, "structural") && is_onnx_model(ra) && is_onnx_model(rb);
    if (onnx)
        for (const std::string& path : onnx_diff_paths()) d.skip.insert(path);
    if (ra && rb) d.value(ra, rb, "/root", 1);
    else if (ra) d.report("/root", "only in A");
    else if (rb) d.report("/root", "only in B");
    std::string summary = onnx ? diff_onnx(&d, ra, rb) : "";
    if (d.total == 0 && headers) {
        // The library's own comparison is the last word on equality.
        char where[1024] = {0};
        if (!milo_doc_equal(a.doc.get(), b.doc.get(), where, sizeof where)) {
            ++d.total;
            d.lines.push_back(where[0] ? where : "/: the documents differ");
        }
    }
    for (const std::string& line : d.lines) std::printf("%s\n", line.c_str());
    if (d.total > d.lines.size()) {
        std::printf("... %" PRIu64 " more difference%s (--all shows every one)\n",
                    d.total - d.lines.size(), d.total - d.lines.size() == 1 ? "" : "s");
    }
    if (!summary.empty()) std::printf("%s\n", summary.c_str());
    return d.total == 0 ? kExitOk : kExitDifferent;
}

}  // namespace cli
}  // namespace milo
