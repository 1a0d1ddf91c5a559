// `milo inspect FILE`: header, counts, trust summary and the value tree; for ONNX models a
// model view (onnx_view.cpp) instead of the tree.
#include <cinttypes>
#include <cstdio>
#include <string>
#include <unordered_set>
#include <vector>

#include "cli_runtime.hpp"
#include "doc_walk.hpp"
#include "milo/milo_codec.hpp"
#include "onnx_view.hpp"

namespace milo {
namespace cli {

namespace {

struct TreeNode {
    std::string label;
    std::string path;
    std::string kind;
    std::string type;   // object type or global name
    std::string value;  // scalar text, or a preview of string tensor elements
    uint64_t id = 0;
    bool is_ref = false;
    uint64_t count = 0;  // entries of a container, elements of a tensor
    bool is_tensor = false;
    std::string dtype;
    std::vector<int64_t> shape;
    uint64_t itemsize = 0;
    TensorStats stats;
    std::vector<TreeNode> children;
    uint64_t omitted = 0;  // children left out by the width limit
    bool cut = false;      // children left out by the depth limit
};

struct TreeBuilder {
    const ShareIds* ids;
    uint32_t max_depth;
    uint64_t max_width;
    std::unordered_set<const milo_value*> shown;

    void child(TreeNode* parent, const milo_value* v, std::string label, uint32_t depth) {
        TreeNode c;
        std::string path = parent->path + "/" + label;
        build(v, &c, std::move(label), std::move(path), depth);
        parent->children.push_back(std::move(c));
    }

    void build(const milo_value* v, TreeNode* n, std::string label, std::string path,
               uint32_t depth) {
        n->label = std::move(label);
        n->path = std::move(path);
        int32_t kind = milo_value_get_kind(v);
        n->kind = kind_name(kind);
        n->id = ids->id(v);
        if (n->id != 0 && !shown.insert(v).second) {
            n->is_ref = true;
            return;
        }
        switch (kind) {
            case MILO_KIND_LIST:
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
            case MILO_KIND_MAP:
                n->count = milo_value_count(v);
                break;
            case MILO_KIND_OBJECT:
            case MILO_KIND_GLOBAL: {
                const char* name = nullptr;
                milo_value_get_name(v, &name, nullptr);
                n->type = name ? name : "";
                break;
            }
            case MILO_KIND_TENSOR:
                describe_tensor(v, n);
                break;
            default:
                n->value = scalar_text(v, 60);
                return;
        }
        size_t total = 0;
        if (kind == MILO_KIND_OBJECT) {
            total = (milo_value_get_args(v) ? 1 : 0) + (milo_value_get_state(v) ? 1 : 0);
        } else if (kind == MILO_KIND_TENSOR) {
            if (n->dtype == "object") total = milo_value_count(v);
        } else if (kind != MILO_KIND_GLOBAL) {
            total = milo_value_count(v);
        }
        if (total == 0) return;
        if (depth >= max_depth) {
            n->cut = true;
            return;
        }
        uint64_t shown_count = total < max_width ? total : max_width;
        n->omitted = total - shown_count;
        if (kind == MILO_KIND_OBJECT) {
            if (const milo_value* a = milo_value_get_args(v)) child(n, a, "args", depth + 1);
            if (const milo_value* s = milo_value_get_state(v)) child(n, s, "state", depth + 1);
            n->omitted = 0;
        } else if (kind == MILO_KIND_MAP) {
            for (size_t i = 0; i < shown_count; ++i) {
                const milo_value* key = milo_value_key_at(v, i);
                const milo_value* item = milo_value_at(v, i);
                if (key != nullptr && codec::kind_has_identity(milo_value_get_kind(key))) {
                    child(n, key, "{key #" + std::to_string(i) + "}", depth + 1);
                    if (item) child(n, item, "{value #" + std::to_string(i) + "}", depth + 1);
                } else if (item != nullptr) {
                    child(n, item, key ? key_segment(key, i) : "{key #" + std::to_string(i) + "}",
                          depth + 1);
                }
            }
        } else if (kind == MILO_KIND_TENSOR) {
            for (size_t i = 0; i < shown_count; ++i)
                if (const milo_value* item = milo_value_tensor_item_at(v, i))
                    child(n, item, std::to_string(i), depth + 1);
        } else {
            for (size_t i = 0; i < shown_count; ++i)
                if (const milo_value* item = milo_value_at(v, i))
                    child(n, item, std::to_string(i), depth + 1);
        }
    }

    void describe_tensor(const milo_value* v, TreeNode* n) {
        n->is_tensor = true;
        int32_t dtype = 0;
        const int64_t* shape = nullptr;
        size_t ndim = 0;
        if (milo_value_get_tensor(v, &dtype, &shape, &ndim, nullptr) != MILO_OK) return;
        n->dtype = dtype_text(v);
        if (shape != nullptr) n->shape.assign(shape, shape + ndim);
        n->count = milo_value_count(v);
        n->itemsize = milo_value_tensor_itemsize(v);
        n->stats = tensor_stats(v);
        if (dtype == MILO_DTYPE_STRING) {
            std::string preview;
            size_t total = milo_value_count(v);
            for (size_t i = 0; i < total && i < 4; ++i) {
                const char* s = nullptr;
                size_t len = 0;
                if (milo_value_tensor_string_at(v, i, &s, &len, nullptr) != MILO_OK) break;
                if (i) preview += ", ";
                std::string piece(s ? s : "", s ? len : 0);
                preview += json_quote(piece.size() > 40 ? piece.substr(0, 40) + "..." : piece);
            }
            if (total > 4) preview += ", ...";
            n->value = "[" + preview + "]";
        }
    }
};

std::string shape_of(const TreeNode& n) { return shape_text(n.shape.data(), n.shape.size()); }

std::string describe(const TreeNode& n) {
    if (n.is_ref) return "(ref #" + std::to_string(n.id) + ")";
    std::string out = n.kind;
    if (n.kind == "object" || n.kind == "global") {
        out += " " + n.type;
    } else if (n.is_tensor) {
        out += " " + n.dtype + " " + shape_of(n);
        const TensorStats& s = n.stats;
        if (s.available && s.is_bool) {
            out += "  true " + std::to_string(s.true_count) + " of " + std::to_string(s.count);
        } else if (s.available && s.has_range) {
            const char* z = s.is_complex ? "|z| " : "";
            out += std::string("  ") + z + "min " + s.min + "  max " + s.max + "  mean " +
                   stat_text(s.mean);
        }
        if (s.available && s.nan_count) out += "  nan " + std::to_string(s.nan_count);
        if (!n.value.empty()) out += "  " + n.value;
    } else if (n.kind == "list" || n.kind == "tuple" || n.kind == "set") {
        out += " (" + std::to_string(n.count) + (n.count == 1 ? " item)" : " items)");
    } else if (n.kind == "map") {
        out += " (" + std::to_string(n.count) + (n.count == 1 ? " entry)" : " entries)");
    } else if (n.kind == "bytes") {
        out = n.value;
    } else {
        out += " " + n.value;
    }
    if (n.id) out += "  #" + std::to_string(n.id);
    if (n.cut) out += "  ...";
    return out;
}

void print_tree(const TreeNode& n, int indent) {
    std::printf("%*s%s: %s\n", indent, "", n.label.c_str(), describe(n).c_str());
    for (const TreeNode& c : n.children) print_tree(c, indent + 2);
    if (n.omitted) {
        std::printf("%*s... %" PRIu64 " more (--width N or --all shows them)\n", indent + 2, "",
                    n.omitted);
    }
}

void json_tree(const TreeNode& n, std::string* out) {
    *out += "{\"path\": " + json_quote(n.path) + ", \"kind\": " + json_quote(n.kind);
    if (n.is_ref) {
        *out += ", \"ref\": " + std::to_string(n.id) + "}";
        return;
    }
    if (n.id) *out += ", \"id\": " + std::to_string(n.id);
    if (!n.type.empty()) *out += ", \"type\": " + json_quote(n.type);
    if (n.is_tensor) {
        *out += ", \"dtype\": " + json_quote(n.dtype) + ", \"shape\": " + shape_of(n) +
                ", \"elements\": " + std::to_string(n.count);
        const TensorStats& s = n.stats;
        if (s.available && s.is_bool) *out += ", \"true\": " + std::to_string(s.true_count);
        if (s.available && !s.is_bool && s.has_range) {
            *out += ", \"min\": " + json_number(s.min_value) + ", \"max\": " +
                    json_number(s.max_value) + ", \"mean\": " + json_number(s.mean);
            if (s.is_complex) *out += ", \"stats_of\": \"abs\"";
        }
        if (s.available && !s.is_bool) *out += ", \"nan\": " + std::to_string(s.nan_count);
    } else if (n.kind == "list" || n.kind == "tuple" || n.kind == "set" || n.kind == "map") {
        *out += ", \"count\": " + std::to_string(n.count);
    } else if (n.kind != "object" && n.kind != "global") {
        *out += ", \"value\": " + json_quote(n.value);
    }
    if (n.cut) *out += ", \"truncated\": true";
    if (!n.children.empty()) {
        *out += ", \"children\": {";
        bool first = true;
        for (const TreeNode& c : n.children) {
            if (!first) *out += ", ";
            first = false;
            *out += json_quote(c.label) + ": ";
            json_tree(c, out);
        }
        *out += "}";
    }
    if (n.omitted) *out += ", \"omitted\": " + std::to_string(n.omitted);
    *out += "}";
}

const char* trust_level_name(int32_t level) {
    switch (level) {
        case MILO_TRUST_TRUSTED: return "trusted";
        case MILO_TRUST_UNTRUSTED: return "untrusted";
        case MILO_TRUST_DANGEROUS: return "dangerous";
        default: return "unknown";
    }
}

struct TrustEntry {
    std::string name, usage;
    int32_t level;
};

std::vector<TrustEntry> trust_entries(const milo_doc* doc) {
    std::vector<TrustEntry> out;
    size_t n = milo_doc_trust_count(doc);
    for (size_t i = 0; i < n; ++i) {
        const char *name = nullptr, *usage = nullptr;
        int32_t level = 0;
        if (milo_doc_trust_at(doc, i, &name, &usage, &level, nullptr) != MILO_OK) continue;
        out.push_back({name ? name : "", usage ? usage : "", level});
    }
    return out;
}

std::string join_nonempty(std::initializer_list<std::string> parts, const char* sep) {
    std::string out;
    for (const std::string& p : parts) {
        if (p.empty()) continue;
        if (!out.empty()) out += sep;
        out += p;
    }
    return out;
}

}  // namespace

int run_inspect(Context& ctx, const std::vector<std::string>& args) {
    Parsed p = parse_options(
        args, {{"json", false}, {"depth", true}, {"width", true}, {"all", false}, {"tree", false}},
        &ctx.globals);
    if (p.help) {
        print_command_help("inspect");
        return kExitOk;
    }
    if (p.positionals.size() != 1) usage_error("expected exactly one FILE");
    bool as_json = has_flag(p, "json");
    bool all = has_flag(p, "all");
    // Tree options ask for the tree, which an ONNX model shows only on request.
    bool tree_asked =
        all || has_flag(p, "tree") || find_option(p, "depth") || find_option(p, "width");
    uint32_t max_depth = 8;
    uint64_t max_width = 20;
    if (const std::string* d = find_option(p, "depth")) max_depth = uint32_t(parse_count(*d, "depth", 0, kMaxWalkDepth));
    if (const std::string* w = find_option(p, "width")) max_width = uint64_t(parse_count(*w, "width", 1, 100000000));
    if (all) {
        max_depth = kMaxWalkDepth;
        max_width = UINT64_MAX;
    }
    const std::string& file = p.positionals[0];
    open_registry(&ctx);
    Loaded loaded = load_input(&ctx, file, nullptr, false);
    const milo_doc* doc = loaded.doc.get();

    DocCounts counts = count_doc(doc);
    std::vector<TrustEntry> trust = trust_entries(doc);
    uint64_t levels[3] = {0, 0, 0};
    for (const TrustEntry& t : trust)
        if (t.level >= 0 && t.level <= 2) ++levels[t.level];
    std::vector<std::pair<std::string, std::string>> metadata;
    for (size_t i = 0, n = milo_doc_metadata_count(doc); i < n; ++i) {
        const char *k = nullptr, *v = nullptr;
        if (milo_doc_metadata_at(doc, i, &k, &v, nullptr) == MILO_OK)
            metadata.emplace_back(k ? k : "", v ? v : "");
    }

    TreeNode tree;
    bool has_tree = false;
    const milo_value* root = milo_doc_get_root(doc);
    bool onnx_view = max_depth > 0 && is_onnx_model(root);
    if (root != nullptr && max_depth > 0 && (tree_asked || !onnx_view)) {
        ShareIds ids;
        ids.build(root);
        TreeBuilder b{&ids, max_depth, max_width, {}};
        b.build(root, &tree, "root", "/root", 1);
        has_tree = true;
    }

    static const char* const kHeaderKeys[] = {
        "format_version", "producer.name", "producer.version", "framework.name",
        "framework.version", "transporter.id", "transporter.revision", "type", "source.kind",
        "source.version", "source.sha256", "external.file", "external.sha256"};

    if (as_json) {
        std::string out = "{\"file\": " + json_quote(display_name(file));
        out += ", \"input\": " + (loaded.format.empty()
                                      ? "{\"transporter\": " + json_quote(loaded.transporter) + "}"
                                      : "{\"format\": " + json_quote(loaded.format) + "}");
        out += ", \"header\": {";
        bool first = true;
        for (const char* key : kHeaderKeys) {
            std::string v = header(doc, key);
            if (v.empty()) continue;
            if (!first) out += ", ";
            first = false;
            out += json_quote(key) + ": " + json_quote(v);
        }
        out += "}, \"metadata\": {";
        for (size_t i = 0; i < metadata.size(); ++i) {
            if (i) out += ", ";
            out += json_quote(metadata[i].first) + ": " + json_quote(metadata[i].second);
        }
        out += "}, \"counts\": {\"values\": " + std::to_string(counts.values) +
               ", \"objects\": " + std::to_string(counts.objects) +
               ", \"tensors\": " + std::to_string(counts.tensors) +
               ", \"tensor_elements\": " + std::to_string(counts.tensor_elements) +
               ", \"parameters\": " + std::to_string(counts.parameters) +
               ", \"tensor_bytes\": " + std::to_string(counts.tensor_bytes) + "}";
        out += ", \"trust\": {\"trusted\": " + std::to_string(levels[0]) +
               ", \"untrusted\": " + std::to_string(levels[1]) +
               ", \"dangerous\": " + std::to_string(levels[2]) + ", \"entries\": [";
        for (size_t i = 0; i < trust.size(); ++i) {
            if (i) out += ", ";
            out += "{\"name\": " + json_quote(trust[i].name) + ", \"usage\": " +
                   json_quote(trust[i].usage) + ", \"level\": " +
                   json_quote(trust_level_name(trust[i].level)) + "}";
        }
        out += "]}";
        if (onnx_view) out += ", \"onnx\": " + onnx_view_json(root);
        if (has_tree) {
            out += ", \"tree\": ";
            json_tree(tree, &out);
        }
        out += "}\n";
        std::fputs(out.c_str(), stdout);
        return kExitOk;
    }

    auto line = [](const char* label, const std::string& value) {
        if (!value.empty()) std::printf("%-14s%s\n", label, value.c_str());
    };
    line("file:", display_name(file));
    line("input:", loaded.format.empty() ? "native, read by transporter " + loaded.transporter
                                         : "Milo document (" + loaded.format + ")");
    line("format:", "v" + header(doc, "format_version"));
    line("producer:", join_nonempty({header(doc, "producer.name"), header(doc, "producer.version")}, " "));
    line("framework:",
         join_nonempty({header(doc, "framework.name"), header(doc, "framework.version")}, " "));
    std::string rev = header(doc, "transporter.revision");
    line("transporter:", join_nonempty({header(doc, "transporter.id"),
                                        rev.empty() ? "" : "(revision " + rev + ")"},
                                       " "));
    line("type:", header(doc, "type"));
    std::string sha = header(doc, "source.sha256");
    line("source:", join_nonempty({header(doc, "source.kind"),
                                   header(doc, "source.version").empty()
                                       ? ""
                                       : "version " + header(doc, "source.version"),
                                   sha.empty() ? "" : "sha256 " + sha},
                                  ", "));
    std::string ext_sha = header(doc, "external.sha256");
    line("external:", join_nonempty({header(doc, "external.file"),
                                     ext_sha.empty() ? "" : "(sha256 " + ext_sha + ")"},
                                    " "));
    for (size_t i = 0; i < metadata.size(); ++i) {
        line(i == 0 ? "metadata:" : "", metadata[i].first + " = " + metadata[i].second);
    }
    std::printf("%-14s%" PRIu64 " values, %" PRIu64 " objects, %" PRIu64 " tensors, %" PRIu64
                " tensor elements, %" PRIu64 " parameters, %" PRIu64 " tensor bytes\n",
                "counts:", counts.values, counts.objects, counts.tensors, counts.tensor_elements,
                counts.parameters, counts.tensor_bytes);
    std::printf("%-14s%" PRIu64 " trusted, %" PRIu64 " untrusted, %" PRIu64 " dangerous\n",
                "trust:", levels[0], levels[1], levels[2]);
    for (int level : {MILO_TRUST_DANGEROUS, MILO_TRUST_UNTRUSTED}) {
        for (const TrustEntry& t : trust) {
            if (t.level != level) continue;
            std::printf("  %-11s %s (%s)\n", trust_level_name(level), t.name.c_str(),
                        t.usage.c_str());
        }
    }
    if (onnx_view) print_onnx_view(root, all);
    if (has_tree) {
        std::printf("tree:\n");
        print_tree(tree, 2);
    } else if (onnx_view) {
        std::printf("tree:         not shown for ONNX models (--tree shows it)\n");
    } else if (root == nullptr) {
        std::printf("tree:         (no root value)\n");
    }
    return kExitOk;
}

}  // namespace cli
}  // namespace milo
