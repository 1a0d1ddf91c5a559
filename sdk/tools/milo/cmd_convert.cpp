// `milo convert IN OUT`: any readable input → a document format, or a document → native.
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <cstdio>
#include <string>

#include "cli_runtime.hpp"

namespace milo {
namespace cli {

namespace {

std::string format_ids(const milo_registry* reg) {
    std::string out;
    size_t n = milo_registry_format_count(reg);
    for (size_t i = 0; i < n; ++i) {
        const char* id = format_id(milo_registry_format_at(reg, i));
        if (id == nullptr) continue;
        if (!out.empty()) out += ", ";
        out += id;
    }
    return out;
}

// The transporter that writes OUT natively, or nullptr: --transporter, else the document's own
// transporter when it handles OUT's extension, else the first that does.
const milo_transporter* native_writer(const milo_registry* reg, const milo_doc* doc,
                                      const std::string& out, const std::string* requested) {
    if (requested != nullptr) return milo_registry_find_transporter(reg, requested->c_str());
    std::string own = header(doc, "transporter.id");
    if (!own.empty()) {
        const milo_transporter* t = milo_registry_find_transporter(reg, own.c_str());
        if (t != nullptr && transporter_handles_extension(t, out)) return t;
    }
    size_t n = milo_registry_transporter_count(reg);
    for (size_t i = 0; i < n; ++i) {
        const milo_transporter* t = milo_registry_transporter_at(reg, i);
        if (t != nullptr && transporter_handles_extension(t, out)) return t;
    }
    return nullptr;
}

}  // namespace

int run_convert(Context& ctx, const std::vector<std::string>& args) {
    Parsed p = parse_options(
        args, {{"to", true}, {"tensors", true}, {"indent", true}, {"transporter", true}},
        &ctx.globals);
    if (p.help) {
        print_command_help("convert");
        return kExitOk;
    }
    if (p.positionals.size() != 2) usage_error("expected IN and OUT");
    const std::string& in = p.positionals[0];
    const std::string& out = p.positionals[1];

    milo_save_options options = MILO_SAVE_OPTIONS_INIT;
    if (const std::string* t = find_option(p, "tensors")) {
        if (*t == "auto") options.tensors = MILO_TENSORS_AUTO;
        else if (*t == "readable") options.tensors = MILO_TENSORS_READABLE;
        else if (*t == "compact") options.tensors = MILO_TENSORS_COMPACT;
        else if (*t == "external") options.tensors = MILO_TENSORS_EXTERNAL;
        else usage_error("--tensors expects auto, readable, compact or external, got '" + *t + "'");
    }
    if (const std::string* n = find_option(p, "indent")) {
        options.indent = int32_t(parse_count(*n, "indent", 0, 16));
    }
    if (options.tensors == MILO_TENSORS_EXTERNAL && out == "-") {
        usage_error("--tensors external needs an output file, not standard output");
    }
    const std::string* to = find_option(p, "to");
    const std::string* transporter = find_option(p, "transporter");

    open_registry(&ctx);
    milo_registry* reg = ctx.registry.get();
    const milo_format* format = nullptr;
    if (to != nullptr) {
        format = milo_registry_find_format(reg, to->c_str());
        if (format == nullptr) {
            usage_error("unknown format '" + *to + "' for --to (known: " + format_ids(reg) + ")");
        }
    } else if (out != "-") {
        format = milo_registry_find_format_for_path(reg, out.c_str());
    } else {
        format = milo_registry_find_format(reg, "json");
    }
    if (transporter != nullptr && milo_registry_find_transporter(reg, transporter->c_str()) == nullptr) {
        usage_error("unknown transporter '" + *transporter + "' (see 'milo plugins')");
    }

    Loaded loaded = load_input(&ctx, in, transporter ? transporter->c_str() : nullptr, false);
    milo_error err = MILO_ERROR_INIT;

    if (format == nullptr) {
        // Not a document extension: write native when a transporter handles it.
        const milo_transporter* t = native_writer(reg, loaded.doc.get(), out, transporter);
        if (t == nullptr) {
            usage_error("cannot tell the output format of '" + out +
                        "': not a document extension and no transporter writes it; use --to " +
                        "(" + format_ids(reg) + ") or a known extension");
        }
        const char* tid = transporter_id(t);
        milo_status st = milo_registry_encode_native(reg, tid, loaded.doc.get(), out.c_str(), &err);
        check(st, err);
        return kExitOk;
    }

    options.format = format_id(format);
    if (out == "-") {
        milo_status st = milo_doc_encode(reg, loaded.doc.get(), &options, write_stdout, nullptr, &err);
        check(st, err);
        if (std::fflush(stdout) != 0)
            fail(kExitIo, std::string("cannot write to standard output: ") + std::strerror(errno));
        return kExitOk;
    }
    milo_status st = milo_doc_save(reg, loaded.doc.get(), out.c_str(), &options, &err);
    check(st, err);
    return kExitOk;
}

}  // namespace cli
}  // namespace milo
