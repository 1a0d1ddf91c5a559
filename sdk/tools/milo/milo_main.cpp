// `milo`: convert, inspect, validate, diff and scan models through the Milo document.
// Entry point: global options, the command table, help and version.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "cli_runtime.hpp"

namespace milo {
namespace cli {
namespace {

struct Command {
    const char* name;
    int (*run)(Context&, const std::vector<std::string>&);
    const char* usage;    // after "milo "
    const char* summary;  // one line for the command list
    const char* details;  // the rest of `milo help COMMAND`
};

int run_version(Context& ctx, const std::vector<std::string>& args);
int run_help(Context& ctx, const std::vector<std::string>& args);

const Command kCommands[] = {
    {"convert", run_convert,
     "convert [--to FORMAT] [--tensors MODE] [--indent N] [--transporter ID] IN OUT",
     "convert any readable input to a document format or to a native model file",
     "IN is a Milo document in any registered format (detected by content) or a native model\n"
     "file read through the transporter that recognises it. OUT's format comes from --to or\n"
     "from its extension (.json, .yaml/.yml, .pb). When OUT's extension is not a document\n"
     "format but a transporter writes it (e.g. .pkl), the document is written back to its\n"
     "native form. '-' as IN reads standard input; '-' as OUT writes the document to standard\n"
     "output (JSON unless --to says otherwise).\n"
     "\n"
     "options:\n"
     "  --to FORMAT        document format id: json, yaml, pb (see 'milo plugins')\n"
     "  --tensors MODE     auto (default: readable up to 64 KiB, compact above), readable,\n"
     "                     compact, or external (numeric tensors in OUT-minus-extension\n"
     "                     .safetensors beside OUT; needs a file OUT)\n"
     "  --indent N         spaces per level for text formats, 0 for one line (default 2)\n"
     "  --transporter ID   transporter for a native IN (instead of detection) and for a\n"
     "                     native OUT (instead of the document's own)\n"},
    {"inspect", run_inspect, "inspect [--json] [--tree] [--depth N] [--width N] [--all] FILE",
     "show the header, counts, trust summary and value tree of a model",
     "FILE is any readable input (a document or a native model file). Prints the header\n"
     "(format version, producer, framework, transporter, root type, source, metadata,\n"
     "external tensor file), the number of values, tensors, tensor elements, parameters\n"
     "(elements of numeric tensors) and tensor bytes, the trust summary with every untrusted\n"
     "and dangerous name, then the value tree: kinds and types, tensor dtype and shape with\n"
     "min/max/mean of numeric tensors (NaNs are counted and left out of min/max/mean; complex\n"
     "tensors show |z|). Nodes that occur more than once carry their '#n' number where they\n"
     "first appear and show '(ref #n)' later.\n"
     "\n"
     "An ONNX model (root onnx.ModelProto: a .onnx file, or a document made from one) shows a\n"
     "model view instead of the tree: ir_version, producer, opsets, metadata; the graph\n"
     "inputs that are not initializers and the outputs with element type and shape (a name\n"
     "for a symbolic dimension, '?' for an unknown one); every node as\n"
     "'[i] name: OpType(domain) inputs -> outputs  {attribute=value, ...}' (tensors as\n"
     "dtype[shape] with their values up to 4 elements, graphs as <graph NAME: N nodes>, lists\n"
     "cut after 8 items) with the nodes of If/Loop/Scan graphs indented below; initializer\n"
     "statistics (count, parameters = elements, bytes, per element type) and the 10 largest\n"
     "initializers with min/max/mean of float ones; the parameter count; local functions.\n"
     "--tree, --depth N (N > 0) or --width N add the tree; --all shows every list item and\n"
     "initializer, and the whole tree; --depth 0 shows the header only.\n"
     "\n"
     "options:\n"
     "  --depth N   show the tree down to depth N (default 8; 0: header only)\n"
     "  --width N   show at most N children per container (default 20)\n"
     "  --all       no depth or width limit (ONNX: nothing cut, tree included)\n"
     "  --tree      show the tree also for an ONNX model\n"
     "  --json      machine-readable output (one JSON object; ONNX: an \"onnx\" member)\n"},
    {"validate", run_validate, "validate FILE...",
     "check that files are valid Milo documents",
     "Loads each FILE completely and strictly, including the sha256 check of an external\n"
     "tensor file, and prints 'FILE: valid Milo document (format v1, N values, T tensors,\n"
     "B tensor bytes)'. Native model files are not documents (exit 5); use 'milo inspect'.\n"
     "Every FILE is checked; the exit code is that of the first failure.\n"},
    {"diff", run_diff, "diff [--all] [--no-header] [--structural] A B",
     "structural difference of two models",
     "A and B are any readable inputs. Walks both documents in parallel and prints one line\n"
     "per difference: 'PATH: reason', where PATH is a document path such as\n"
     "/root/state/coef_ (header fields under /milo/...). Tensors are compared bit by bit;\n"
     "for differing data the line gives the number of differing elements, the first index\n"
     "and the largest absolute difference. Output stops after 50 lines unless --all.\n"
     "Exit 0 when the documents are equal, 1 when they differ.\n"
     "\n"
     "Two ONNX models (root onnx.ModelProto) are also compared by name: opsets, metadata,\n"
     "graph inputs and outputs (type changes, order), nodes (matched by name; unnamed ones by\n"
     "their first output), initializers and value_info, local functions, and the graphs of\n"
     "If/Loop/Scan attributes. Lines such as 'node \"conv1\": attribute strides: [1, 1] vs\n"
     "[2, 2]', 'node \"n7\": removed (Relu x -> y)' (only in A; 'added': only in B),\n"
     "'initializer \"w\": values differ: 3 of 64 elements, first at [5] (0.5 vs 0.25), max\n"
     "abs diff 0.25'; every other field by its document path. A last line counts the nodes\n"
     "and initializers removed, added and changed in the main graph.\n"
     "\n"
     "options:\n"
     "  --all          print every difference\n"
     "  --no-header    compare the root values only (not producer, source, trust, ...)\n"
     "  --structural   compare ONNX models path by path like any other document\n"},
    {"scan", run_scan, "scan FILE", "security report of the names a model uses",
     "Reads FILE without executing anything and lists every type and callable it names with\n"
     "its trust level (trusted, untrusted, dangerous), plus object types and globals in the\n"
     "tree that the trust list does not classify. Exit 4 when anything is dangerous.\n"},
    {"plugins", run_plugins, "plugins [--all]", "list loaded plugins, transporters and formats",
     "Lists the plugin folders searched, each loaded plugin (path, name, version), each\n"
     "transporter (id, framework, revision, native extensions, root types) and each\n"
     "document format (id, extensions).\n"
     "\n"
     "options:\n"
     "  --all   list every root type of every transporter (default: the first 8)\n"},
    {"version", run_version, "version", "print the tool, library, ABI and format versions", ""},
    {"help", run_help, "help [COMMAND]", "show help for the tool or a command", ""},
};

const char kGeneralUsage[] =
    "usage: milo [--plugin PATH]... [--no-default-plugins] COMMAND [ARGS...]";

const Command* find_command(const std::string& name) {
    for (const Command& c : kCommands) {
        if (name == c.name) return &c;
    }
    return nullptr;
}

void print_general_help(std::FILE* out) {
    std::fprintf(out, "%s\n\n", kGeneralUsage);
    std::fprintf(out,
                 "Moves ML models between frameworks through one safe, human-readable Milo\n"
                 "document. Nothing in an input is ever executed.\n\ncommands:\n");
    for (const Command& c : kCommands) std::fprintf(out, "  %-9s %s\n", c.name, c.summary);
    std::fprintf(
        out,
        "\nglobal options (before or after the command):\n"
        "  --plugin PATH          load an extra plugin shared library (repeatable)\n"
        "  --no-default-plugins   skip the default plugin folder (MILO_PLUGIN_PATH still applies)\n"
        "  -h, --help             show help (of the command when one is given)\n"
        "  --version              same as 'milo version'\n"
        "\n"
        "'-' as a file name is standard input (standard output for convert's OUT); '--' ends\n"
        "the options. Plugins come from --plugin, the folders in MILO_PLUGIN_PATH\n"
        "(':'-separated, files milo_*.so) and the default folder beside libmilo.\n"
        "\n"
        "exit codes:\n"
        "  0  success\n"
        "  1  the inputs differ (diff)\n"
        "  2  usage error: bad command line, unknown option, command, format or transporter\n"
        "  3  invalid input: malformed, truncated, over a safety limit, checksum mismatch\n"
        "  4  dangerous content refused, or found by scan\n"
        "  5  unsupported input: newer format version, unsupported feature, or nothing\n"
        "     (no format, no transporter) recognises it\n"
        "  6  a file is missing or cannot be read, or the output cannot be written\n"
        "  7  a plugin failed to load or misbehaved\n"
        "  8  internal error (out of memory, a bug in Milo)\n"
        "\n"
        "Run 'milo help COMMAND' for the options of a command.\n");
}

int run_version(Context&, const std::vector<std::string>& args) {
    Globals ignored;
    Parsed p = parse_options(args, {}, &ignored);
    if (p.help) {
        print_command_help("version");
        return kExitOk;
    }
    if (!p.positionals.empty()) usage_error("unexpected argument '" + p.positionals[0] + "'");
    std::printf("milo %s (library %s, ABI %u, format version %u)\n", MILO_VERSION_STRING,
                milo_version_get(), milo_abi_version_get(), milo_format_version_get());
    return kExitOk;
}

int run_help(Context&, const std::vector<std::string>& args) {
    Globals ignored;
    Parsed p = parse_options(args, {}, &ignored);
    if (p.positionals.empty()) {
        if (p.help) {
            print_command_help("help");
            return kExitOk;
        }
        print_general_help(stdout);
        return kExitOk;
    }
    if (p.positionals.size() > 1) usage_error("expected at most one COMMAND");
    if (find_command(p.positionals[0]) == nullptr)
        usage_error("unknown command '" + p.positionals[0] + "'");
    print_command_help(p.positionals[0]);
    return kExitOk;
}

}  // namespace

void print_command_help(const std::string& name) {
    const Command* c = find_command(name);
    if (c == nullptr) return;
    std::string summary = c->summary;
    if (!summary.empty() && summary[0] >= 'a' && summary[0] <= 'z') summary[0] = char(summary[0] - 32);
    std::printf("usage: milo %s\n\n%s.\n", c->usage, summary.c_str());
    if (c->details[0] != '\0') std::printf("\n%s", c->details);
}

}  // namespace cli
}  // namespace milo

int main(int argc, char** argv) {
    using namespace milo::cli;
    Context ctx;
    std::vector<std::string> args(argv + 1, argv + argc);
    std::string command_name;
    try {
        // Global options may precede the command.
        size_t i = 0;
        bool want_help = false, want_version = false;
        for (; i < args.size(); ++i) {
            const std::string& a = args[i];
            if (a == "--plugin" || a.compare(0, 9, "--plugin=") == 0) {
                std::string v = a.size() > 8 ? a.substr(9) : "";
                if (a == "--plugin") {
                    if (i + 1 >= args.size()) usage_error("option '--plugin' needs a value");
                    v = args[++i];
                }
                if (v.empty()) usage_error("option '--plugin' needs a path");
                ctx.globals.plugins.push_back(v);
            } else if (a == "--no-default-plugins") {
                ctx.globals.no_default_plugins = true;
            } else if (a == "-h" || a == "--help") {
                want_help = true;
            } else if (a == "--version") {
                want_version = true;
            } else if (a == "--") {
                ++i;
                break;
            } else if (a.size() > 1 && a[0] == '-') {
                usage_error("unknown option '" + a + "'");
            } else {
                break;
            }
        }
        if (i >= args.size()) {
            if (want_version) return run_version(ctx, {});
            if (want_help) {
                print_general_help(stdout);
                return kExitOk;
            }
            std::fprintf(stderr, "%s\nRun 'milo help' for the list of commands.\n",
                         kGeneralUsage);
            return kExitUsage;
        }
        command_name = args[i];
        const Command* cmd = find_command(command_name);
        if (cmd == nullptr) usage_error("unknown command '" + command_name + "'");
        set_current_command(cmd->name, cmd->usage);
        ctx.command = cmd->name;
        std::vector<std::string> rest(args.begin() + long(i) + 1, args.end());
        if (want_help) rest.insert(rest.begin(), "--help");
        int code = cmd->run(ctx, rest);
        if (std::fflush(stdout) != 0) {
            std::fprintf(stderr, "%scannot write to standard output: %s\n",
                         message_prefix().c_str(), std::strerror(errno));
            return kExitIo;
        }
        return code;
    } catch (const Failure& f) {
        std::fflush(stdout);
        std::fprintf(stderr, "%s%s\n", message_prefix().c_str(), f.message.c_str());
        if (f.exit_code == kExitUsage) {
            if (current_usage() != nullptr) {
                std::fprintf(stderr, "usage: milo %s\nRun 'milo help %s' for details.\n",
                             current_usage(), current_command().c_str());
            } else {
                std::fprintf(stderr, "%s\nRun 'milo help' for the list of commands.\n",
                             kGeneralUsage);
            }
        }
        return f.exit_code;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "%sout of memory\n", message_prefix().c_str());
        return kExitInternal;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%sinternal error: %s\n", message_prefix().c_str(), e.what());
        return kExitInternal;
    }
}
