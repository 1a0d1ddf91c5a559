// Exit codes, option parsing, registry set-up and input loading for the `milo` tool.
#include "cli_runtime.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <fstream>

namespace milo {
namespace cli {

namespace {

std::string g_command;
const char* g_usage = nullptr;

// How many leading bytes the probes see.
constexpr size_t kProbeBytes = 4096;

template <typename Struct, typename Field>
bool struct_has(const Struct* s, size_t offset, const Field&) {
    return s != nullptr && s->struct_size >= offset + sizeof(Field);
}

bool ends_with_ci(const std::string& text, const char* suffix) {
    size_t n = std::strlen(suffix);
    if (n == 0 || n > text.size()) return false;
    for (size_t i = 0; i < n; ++i) {
        char a = text[text.size() - n + i];
        char b = suffix[i];
        if (a >= 'A' && a <= 'Z') a = char(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = char(b - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

// Throws unless `path` names an existing, non-directory file.
void require_file(const std::string& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
        int e = errno;
        fail(kExitIo, path + ": " + (e == ENOENT ? std::string("no such file")
                                                 : std::string(std::strerror(e))));
    }
    if (S_ISDIR(st.st_mode)) fail(kExitIo, path + ": is a directory, expected a file");
}

std::vector<uint8_t> read_head(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) fail(kExitIo, path + ": cannot open: " + std::strerror(errno));
    std::vector<uint8_t> head(kProbeBytes);
    size_t n = std::fread(head.data(), 1, head.size(), f);
    bool bad = std::ferror(f) != 0;
    int e = errno;
    std::fclose(f);
    if (bad) fail(kExitIo, path + ": cannot read: " + std::strerror(e));
    head.resize(n);
    return head;
}

std::string transporter_list(const milo_registry* reg) {
    std::string out;
    size_t n = milo_registry_transporter_count(reg);
    for (size_t i = 0; i < n; ++i) {
        const char* id = transporter_id(milo_registry_transporter_at(reg, i));
        if (id == nullptr) continue;
        if (!out.empty()) out += ", ";
        out += id;
    }
    return out.empty() ? std::string("none loaded") : "loaded: " + out;
}

const milo_transporter* require_transporter(const milo_registry* reg, const char* id) {
    const milo_transporter* t = milo_registry_find_transporter(reg, id);
    if (t == nullptr) {
        usage_error(std::string("unknown transporter '") + id + "' (" + transporter_list(reg) +
                    "; see 'milo plugins')");
    }
    return t;
}

// Prefixes a core message with the input's name unless the message already names it.
std::string with_name(const std::string& name, const char* message) {
    std::string m = message != nullptr ? message : "";
    if (m.find(name) != std::string::npos) return m;
    return name + ": " + m;
}

}  // namespace

int exit_code_for(milo_status status) {
    switch (status) {
        case MILO_OK:
            return kExitOk;
        case MILO_ERR_CORRUPT:
        case MILO_ERR_LIMIT:
        case MILO_ERR_INTEGRITY:
        case MILO_ERR_TYPE:
        case MILO_ERR_OUT_OF_RANGE:
            return kExitInvalid;
        case MILO_ERR_DANGEROUS:
            return kExitDangerous;
        case MILO_ERR_UNSUPPORTED:
            return kExitUnsupported;
        case MILO_ERR_IO:
        case MILO_ERR_NOT_FOUND:
            return kExitIo;
        case MILO_ERR_PLUGIN:
        case MILO_ERR_ABI:
        case MILO_ERR_DUPLICATE:
            return kExitPlugin;
        case MILO_ERR_INVALID_ARGUMENT:
            return kExitUsage;
        default:
            return kExitInternal;
    }
}

void fail(int exit_code, std::string message) { throw Failure{exit_code, std::move(message)}; }

void check(milo_status status, const milo_error& error) {
    if (status == MILO_OK) return;
    std::string message = error.message[0] != '\0' ? std::string(error.message)
                                                   : std::string(milo_status_name(status));
    fail(exit_code_for(status), std::move(message));
}

void usage_error(std::string message) { fail(kExitUsage, std::move(message)); }

void set_current_command(const std::string& name, const char* usage) {
    g_command = name;
    g_usage = usage;
}

const std::string& current_command() { return g_command; }

std::string message_prefix() { return g_command.empty() ? "milo: " : "milo: " + g_command + ": "; }

void warn(const std::string& message) {
    std::fprintf(stderr, "%swarning: %s\n", message_prefix().c_str(), message.c_str());
}

/* ---------------------------------------------------------------------------------------- */

Parsed parse_options(const std::vector<std::string>& args, const std::vector<OptionSpec>& specs,
                     Globals* globals) {
    Parsed out;
    bool options_done = false;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (options_done || a.size() < 2 || a[0] != '-') {
            out.positionals.push_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        if (a == "-h" || a == "--help") {
            out.help = true;
            continue;
        }
        if (a.compare(0, 2, "--") != 0) usage_error("unknown option '" + a + "'");
        std::string name = a.substr(2);
        std::string value;
        bool has_value = false;
        size_t eq = name.find('=');
        if (eq != std::string::npos) {
            value = name.substr(eq + 1);
            name.resize(eq);
            has_value = true;
        }
        bool takes_value = false;
        bool known = false;
        bool global = false;
        if (name == "plugin") {
            known = takes_value = global = true;
        } else if (name == "no-default-plugins") {
            known = global = true;
        } else {
            for (const OptionSpec& s : specs) {
                if (name == s.name) {
                    known = true;
                    takes_value = s.takes_value;
                    break;
                }
            }
        }
        if (!known) usage_error("unknown option '--" + name + "'");
        if (takes_value && !has_value) {
            if (i + 1 >= args.size()) usage_error("option '--" + name + "' needs a value");
            value = args[++i];
        } else if (!takes_value && has_value) {
            usage_error("option '--" + name + "' takes no value");
        }
        if (global) {
            if (name == "plugin") {
                if (value.empty()) usage_error("option '--plugin' needs a path");
                globals->plugins.push_back(value);
            } else {
                globals->no_default_plugins = true;
            }
            continue;
        }
        out.options.push_back({name, value});
    }
    return out;
}

const std::string* find_option(const Parsed& parsed, const char* name) {
    const std::string* found = nullptr;
    for (const Option& o : parsed.options) {
        if (o.name == name) found = &o.value;
    }
    return found;
}

bool has_flag(const Parsed& parsed, const char* name) { return find_option(parsed, name) != nullptr; }

long parse_count(const std::string& value, const char* option, long lo, long hi) {
    bool ok = !value.empty() && value.size() <= 9;
    long v = 0;
    for (char c : value) {
        if (c < '0' || c > '9') {
            ok = false;
            break;
        }
        v = v * 10 + (c - '0');
    }
    if (!ok || v < lo || v > hi) {
        usage_error(std::string("option '--") + option + "' expects an integer from " +
                    std::to_string(lo) + " to " + std::to_string(hi) + ", got '" + value + "'");
    }
    return v;
}

/* ---------------------------------------------------------------------------------------- */

void open_registry(Context* ctx) {
    milo_error err = MILO_ERROR_INIT;
    milo_registry* reg = nullptr;
    check(milo_registry_create(&reg, &err), err);
    ctx->registry.reset(reg);
    for (const std::string& path : ctx->globals.plugins) {
        err = MILO_ERROR_INIT;
        milo_status st = milo_registry_load_plugin(reg, path.c_str(), &err);
        if (st != MILO_OK) {
            fail(exit_code_for(st) == kExitIo ? kExitIo : kExitPlugin,
                 with_name(path, err.message[0] ? err.message : milo_status_name(st)));
        }
    }
    err = MILO_ERROR_INIT;
    milo_status st = MILO_OK;
    if (ctx->globals.no_default_plugins) {
        const char* env = std::getenv("MILO_PLUGIN_PATH");
        if (env != nullptr && *env != '\0') st = milo_registry_load_plugins(reg, env, &err);
    } else {
        st = milo_registry_load_plugins(reg, nullptr, &err);
    }
    if (st != MILO_OK) {
        std::string m = err.message[0] ? err.message : milo_status_name(st);
        ctx->warnings.push_back(m);
        warn("plugins not loaded: " + m);
    }
}

/* ---------------------------------------------------------------------------------------- */

std::string display_name(const std::string& path) { return path == "-" ? "<stdin>" : path; }

std::vector<uint8_t> read_all(const std::string& path) {
    std::vector<uint8_t> data;
    std::FILE* f = nullptr;
    bool is_stdin = path == "-";
    if (is_stdin) {
        f = stdin;
    } else {
        require_file(path);
        f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) fail(kExitIo, path + ": cannot open: " + std::strerror(errno));
    }
    uint8_t buf[1 << 16];
    for (;;) {
        size_t n = std::fread(buf, 1, sizeof buf, f);
        data.insert(data.end(), buf, buf + n);
        if (n < sizeof buf) break;
    }
    bool bad = std::ferror(f) != 0;
    int e = errno;
    if (!is_stdin) std::fclose(f);
    if (bad) fail(kExitIo, display_name(path) + ": cannot read: " + std::strerror(e));
    return data;
}

Loaded load_input(Context* ctx, const std::string& path, const char* transporter,
                  bool documents_only) {
    milo_registry* reg = ctx->registry.get();
    const std::string name = display_name(path);
    milo_load_options options = MILO_LOAD_OPTIONS_INIT;
    milo_error err = MILO_ERROR_INIT;
    milo_doc* doc = nullptr;
    Loaded out;
    if (transporter != nullptr) require_transporter(reg, transporter);

    std::vector<uint8_t> data;
    std::vector<uint8_t> head;
    if (path == "-") {
        data = read_all(path);
        head.assign(data.begin(), data.begin() + std::min(data.size(), kProbeBytes));
    } else {
        require_file(path);
        head = read_head(path);
    }

    const milo_format* format = milo_registry_find_format_for_content(reg, head.data(), head.size());
    if (format != nullptr && format->probe != nullptr && !documents_only) {
        // a transporter that claims the content more strongly than the format wins (a PyMilo
        // .json file is only "some JSON object" to the JSON format)
        const milo_transporter* t =
            milo_registry_find_transporter_for_content(reg, head.data(), head.size());
        if (t != nullptr && t->probe(t->self, head.data(), head.size()) >
                                format->probe(format->self, head.data(), head.size()))
            format = nullptr;
    }
    if (format == nullptr && path != "-" && transporter == nullptr &&
        (documents_only ||
         milo_registry_find_transporter_for_content(reg, head.data(), head.size()) == nullptr))
        // unrecognised content in a file named like a document: let that format say precisely
        // what is wrong with it (exit 3) instead of "unsupported"
        format = milo_registry_find_format_for_path(reg, path.c_str());
    if (format != nullptr) {
        const char* id = format_id(format);
        out.format = id != nullptr ? id : "";
        milo_status st = path == "-"
                             ? milo_doc_decode(reg, data.data(), data.size(), name.c_str(),
                                               &options, &doc, &err)
                             : milo_doc_load(reg, path.c_str(), &options, &doc, &err);
        if (st != MILO_OK) fail(exit_code_for(st), with_name(name, err.message));
        out.doc.reset(doc);
        return out;
    }
    if (documents_only) {
        fail(kExitUnsupported, name + ": not a Milo document (no format recognises its content)");
    }
    const milo_transporter* t =
        transporter != nullptr ? milo_registry_find_transporter(reg, transporter)
                               : milo_registry_find_transporter_for_content(reg, head.data(),
                                                                           head.size());
    if (t == nullptr) {
        fail(kExitUnsupported, name +
                                   ": not a Milo document, and no transporter recognises it (" +
                                   transporter_list(reg) + ")");
    }
    const char* tid = transporter_id(t);
    out.transporter = tid != nullptr ? tid : "";
    if (path != "-") data = read_all(path);
    milo_status st = milo_registry_decode_native(reg, tid, data.data(), data.size(), name.c_str(),
                                                 &doc, &err);
    if (st != MILO_OK) fail(exit_code_for(st), with_name(name, err.message));
    out.doc.reset(doc);
    return out;
}

std::string header(const milo_doc* doc, const char* key) {
    const char* v = nullptr;
    if (milo_doc_get_header(doc, key, &v, nullptr) != MILO_OK || v == nullptr) return "";
    return v;
}

const char* transporter_id(const milo_transporter* t) {
    if (!struct_has(t, offsetof(milo_transporter, id), t->id)) return nullptr;
    return t->id;
}

bool transporter_handles_extension(const milo_transporter* t, const std::string& path) {
    if (!struct_has(t, offsetof(milo_transporter, extensions), t->extensions)) return false;
    if (t->extensions == nullptr) return false;
    for (const char* const* e = t->extensions; *e != nullptr; ++e) {
        if (ends_with_ci(path, *e)) return true;
    }
    return false;
}

const char* format_id(const milo_format* f) {
    if (!struct_has(f, offsetof(milo_format, id), f->id)) return nullptr;
    return f->id;
}

milo_status write_stdout(void*, const void* data, size_t size, milo_error* error) {
    if (size != 0 && std::fwrite(data, 1, size, stdout) != size) {
        std::string m = std::string("cannot write to standard output: ") + std::strerror(errno);
        return milo_error_set(error, MILO_ERR_IO, m.c_str());
    }
    return MILO_OK;
}

std::string json_quote(const std::string& text) {
    std::string out = "\"";
    for (unsigned char c : text) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out += char(c);
                }
        }
    }
    out += '"';
    return out;
}

const char* current_usage() { return g_usage; }

}  // namespace cli
}  // namespace milo
