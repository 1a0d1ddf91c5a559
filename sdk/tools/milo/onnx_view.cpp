// ONNX models read from their document: field access, compact texts and the `inspect` view.
// See onnx_view.hpp; the document mapping is plugins/onnx/README.md.
#include "onnx_view.hpp"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <unordered_set>

#include "cli_runtime.hpp"
#include "doc_walk.hpp"
#include "milo/milo_codec.hpp"

namespace milo {
namespace cli {

namespace {

constexpr size_t kListItems = 8;    // list items shown before "..." (without --all)
constexpr size_t kTableRows = 10;   // rows of the largest-initializers table (without --all)
constexpr uint32_t kMaxNest = 200;  // graphs in attributes of graphs (the plugin stops at 100)

/// TensorProto.DataType by number: name and bits per element (0: no fixed size).
struct OnnxDType {
    const char* name;
    uint32_t bits;
};
const OnnxDType kDTypes[] = {
    {"UNDEFINED", 0},      {"FLOAT", 32},       {"UINT8", 8},          {"INT8", 8},
    {"UINT16", 16},        {"INT16", 16},       {"INT32", 32},         {"INT64", 64},
    {"STRING", 0},         {"BOOL", 8},         {"FLOAT16", 16},       {"DOUBLE", 64},
    {"UINT32", 32},        {"UINT64", 64},      {"COMPLEX64", 64},     {"COMPLEX128", 128},
    {"BFLOAT16", 16},      {"FLOAT8E4M3FN", 8}, {"FLOAT8E4M3FNUZ", 8}, {"FLOAT8E5M2", 8},
    {"FLOAT8E5M2FNUZ", 8}, {"UINT4", 4},        {"INT4", 4},           {"FLOAT4E2M1", 4},
    {"FLOAT8E8M0", 8},     {"UINT2", 2},        {"INT2", 2},           {"FLOAT6E2M3", 6},
    {"FLOAT6E3M2", 6}};

/// AttributeProto.AttributeType by number.
const char* const kAttributeTypes[] = {
    "UNDEFINED",      "FLOAT",      "INT",        "STRING",  "TENSOR", "GRAPH",
    "FLOATS",         "INTS",       "STRINGS",    "TENSORS", "GRAPHS", "SPARSE_TENSOR",
    "SPARSE_TENSORS", "TYPE_PROTO", "TYPE_PROTOS"};

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = char(c - 'A' + 'a');
    return s;
}

bool get_int(const milo_value* v, int64_t* out) {
    return v != nullptr && milo_value_get_kind(v) == MILO_KIND_INT &&
           milo_value_get_int(v, out, nullptr) == MILO_OK;
}

/// Enum value (name or number) as its name; numbers outside `names` stay numbers.
std::string enum_name(const milo_value* v, const char* const* names, size_t count) {
    if (v == nullptr) return "";
    std::string s;
    if (milo_value_get_kind(v) == MILO_KIND_STRING) return onnx_string_value(v, &s) ? s : "";
    int64_t n = 0;
    if (get_int(v, &n)) return n >= 0 && uint64_t(n) < count ? names[n] : std::to_string(n);
    return "?";
}

std::string upper_dtype(const milo_value* v) {
    static const std::vector<const char*> names = [] {
        std::vector<const char*> out;
        for (const OnnxDType& d : kDTypes) out.push_back(d.name);
        return out;
    }();
    return enum_name(v, names.data(), names.size());
}

uint32_t dtype_bits(const std::string& upper) {
    for (const OnnxDType& d : kDTypes)
        if (upper == d.name) return d.bits;
    return 0;
}

std::string quoted_cut(const std::string& s, size_t max_chars) {
    if (s.size() <= max_chars) return json_quote(s);
    size_t n = max_chars;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xc0) == 0x80) --n;  // whole UTF-8
    return json_quote(s.substr(0, n)) + "...";
}

/// Text of one item of a repeated field.
std::string item_text(const milo_value* v) {
    switch (milo_value_get_kind(v)) {
        case MILO_KIND_FLOAT: {
            double d = 0;
            milo_value_get_float(v, &d, nullptr);
            return float32_text(d);
        }
        case MILO_KIND_STRING:
        case MILO_KIND_BYTES: {  // AttributeProto.s and .strings are proto `bytes`
            std::string s;
            onnx_string_value(v, &s);
            if (milo_value_get_kind(v) == MILO_KIND_BYTES &&
                codec::utf8_invalid_at(s.data(), s.size()) != SIZE_MAX)
                return scalar_text(v, 40);  // "5 bytes 4c4f57..."
            return quoted_cut(s, 40);
        }
        default:
            return scalar_text(v, 40);
    }
}

/// Texts of the items of a repeated field: a list, or a 1-D tensor (numeric fields over 64
/// entries, string tensors). At most `max_items`; `total` gets the count.
std::vector<std::string> item_texts(const milo_value* v, size_t max_items, size_t* total) {
    std::vector<std::string> out;
    *total = 0;
    if (v == nullptr) return out;
    int32_t kind = milo_value_get_kind(v);
    if (kind == MILO_KIND_LIST) {
        *total = milo_value_count(v);
        for (size_t i = 0; i < *total && i < max_items; ++i)
            out.push_back(item_text(milo_value_at(v, i)));
        return out;
    }
    if (kind != MILO_KIND_TENSOR) {
        *total = 1;
        out.push_back(item_text(v));
        return out;
    }
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    if (milo_value_get_tensor(v, &dtype, &shape, &ndim, nullptr) != MILO_OK) return out;
    *total = milo_value_count(v);
    if (dtype == MILO_DTYPE_STRING) {
        for (size_t i = 0; i < *total && i < max_items; ++i) {
            const char* s = nullptr;
            size_t len = 0;
            if (milo_value_tensor_string_at(v, i, &s, &len, nullptr) != MILO_OK) break;
            out.push_back(quoted_cut(std::string(s ? s : "", s ? len : 0), 40));
        }
        return out;
    }
    const void* data = nullptr;
    size_t nbytes = 0;
    const codec::DTypeInfo* info = codec::dtype_info(dtype);
    if (!codec::dtype_is_numeric(dtype) || info == nullptr || info->size == 0 ||
        milo_value_tensor_data(v, &data, &nbytes, nullptr) != MILO_OK || data == nullptr) {
        return out;
    }
    uint64_t n = std::min<uint64_t>(nbytes / info->size, *total);  // never past the data
    for (uint64_t i = 0; i < n && i < max_items; ++i)
        out.push_back(element_text(static_cast<const uint8_t*>(data), dtype, i));
    return out;
}

std::string join(const std::vector<std::string>& items, const char* sep) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i) {
        if (i) out += sep;
        out += items[i];
    }
    return out;
}

/// "[a, b, c]" or "[a, b, ... (N items)]".
std::string list_text(const milo_value* v, size_t max_items) {
    size_t total = 0;
    std::vector<std::string> items = item_texts(v, max_items, &total);
    std::string out = "[" + join(items, ", ");
    if (total > items.size())
        out += (items.empty() ? "... (" : ", ... (") + std::to_string(total) + " items)";
    return out + "]";
}

/// Integers of a repeated int field (list or integer tensor).
std::vector<int64_t> int_list(const milo_value* v) {
    std::vector<int64_t> out;
    if (v == nullptr) return out;
    if (milo_value_get_kind(v) == MILO_KIND_LIST) {
        for (size_t i = 0, n = milo_value_count(v); i < n; ++i) {
            int64_t x = 0;
            if (get_int(milo_value_at(v, i), &x)) out.push_back(x);
        }
        return out;
    }
    size_t total = 0;
    for (const std::string& s : item_texts(v, SIZE_MAX, &total))
        out.push_back(std::strtoll(s.c_str(), nullptr, 10));
    return out;
}

std::string plural(uint64_t n, const char* one, const char* many) {
    return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string graph_brief(const milo_value* g) {
    return "<graph " + onnx_name(onnx_string(g, "name")) + ": " +
           plural(onnx_items(g, "node").size(), "node", "nodes") + ">";
}

std::string sparse_text(const milo_value* sp) {
    const milo_value* values = onnx_field(sp, "values");
    OnnxTensor v = onnx_tensor(values);
    std::vector<int64_t> dims = int_list(onnx_field(sp, "dims"));
    return "sparse " + v.dtype + shape_text(dims.data(), dims.size()) + " (" +
           std::to_string(v.elements) + " values)";
}

bool is_float_dtype(const std::string& d) {
    return d == "float" || d == "double" || d == "float16" || d == "bfloat16";
}

/// Statistics of an initializer's values, for float types whose values are a float tensor.
TensorStats float_stats(const OnnxTensor& t) {
    TensorStats none;
    if (!is_float_dtype(t.dtype) || t.data == nullptr ||
        milo_value_get_kind(t.data) != MILO_KIND_TENSOR)
        return none;
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    if (milo_value_get_tensor(t.data, &dtype, &shape, &ndim, nullptr) != MILO_OK ||
        !codec::dtype_is_float(dtype) || milo_value_count(t.data) != t.elements)
        return none;
    return tensor_stats(t.data);
}

/* ------------------------------------------------------------------ text view */

/// Graphs printed so far: a document may share one graph between attributes, or even hold a
/// cycle ($id/$ref); each is printed once.
using GraphSet = std::unordered_set<const milo_value*>;

void print_nodes(const milo_value* g, int indent, size_t max_items, uint32_t depth,
                 GraphSet* shown);

void print_subgraph(const std::string& label, const milo_value* g, int indent, size_t max_items,
                    uint32_t depth, GraphSet* shown) {
    if (!shown->insert(g).second) {
        std::printf("%*s%s: graph %s (shown above)\n", indent, "", label.c_str(),
                    onnx_name(onnx_string(g, "name")).c_str());
        return;
    }
    std::vector<std::string> ins, outs;
    for (const milo_value* vi : onnx_items(g, "input")) ins.push_back(onnx_value_info_text(vi));
    for (const milo_value* vi : onnx_items(g, "output")) outs.push_back(onnx_value_info_text(vi));
    size_t inits = onnx_items(g, "initializer").size();
    std::printf("%*s%s: graph %s  inputs: %s  outputs: %s%s\n", indent, "", label.c_str(),
                onnx_name(onnx_string(g, "name")).c_str(),
                ins.empty() ? "none" : join(ins, ", ").c_str(),
                outs.empty() ? "none" : join(outs, ", ").c_str(),
                inits ? ("  (" + plural(inits, "initializer", "initializers") + ")").c_str() : "");
    if (depth >= kMaxNest) {
        std::printf("%*s... nested deeper than %u graphs\n", indent + 2, "", kMaxNest);
        return;
    }
    print_nodes(g, indent + 2, max_items, depth + 1, shown);
}

void print_nodes(const milo_value* g, int indent, size_t max_items, uint32_t depth,
                 GraphSet* shown) {
    std::vector<const milo_value*> nodes = onnx_items(g, "node");
    for (size_t i = 0; i < nodes.size(); ++i) {
        std::printf("%*s[%zu] %s\n", indent, "", i, onnx_node_text(nodes[i], max_items).c_str());
        for (const milo_value* attr : onnx_items(nodes[i], "attribute")) {
            std::string name = onnx_string(attr, "name");
            if (const milo_value* sub = onnx_field(attr, "g"))
                print_subgraph(name, sub, indent + 4, max_items, depth, shown);
            std::vector<const milo_value*> subs = onnx_items(attr, "graphs");
            for (size_t k = 0; k < subs.size(); ++k)
                print_subgraph(name + "[" + std::to_string(k) + "]", subs[k], indent + 4, max_items,
                               depth, shown);
        }
    }
}

struct InitStats {
    struct Group {
        uint64_t count = 0, parameters = 0, bytes = 0;
    };
    Group total;
    std::map<std::string, Group> by_dtype;
    std::vector<OnnxTensor> tensors;  // document order
};

InitStats initializer_stats(const milo_value* g) {
    InitStats s;
    for (const milo_value* t : onnx_items(g, "initializer")) {
        s.tensors.push_back(onnx_tensor(t));
        const OnnxTensor& o = s.tensors.back();
        for (InitStats::Group* grp : {&s.total, &s.by_dtype[o.dtype]}) {
            grp->count += 1;
            grp->parameters += o.elements;
            grp->bytes += o.bytes;
        }
    }
    return s;
}

/// Rows of cells in aligned columns; a column whose cells below the first row all start like
/// numbers is right-aligned (the first row may be a header).
void print_table(const std::vector<std::vector<std::string>>& rows, int indent) {
    std::vector<size_t> width;
    std::vector<bool> numeric;
    for (size_t r = 0; r < rows.size(); ++r) {
        for (size_t c = 0; c < rows[r].size(); ++c) {
            if (width.size() <= c) {
                width.push_back(0);
                numeric.push_back(c > 0);
            }
            const std::string& cell = rows[r][c];
            width[c] = std::max(width[c], cell.size());
            bool number = !cell.empty() && (std::isdigit(static_cast<unsigned char>(cell[0])) ||
                                            cell[0] == '-' || cell == "nan" || cell == "inf");
            if (r > 0 || rows.size() == 1) numeric[c] = numeric[c] && number;
        }
    }
    for (const auto& row : rows) {
        std::string line;
        for (size_t c = 0; c < row.size(); ++c) {
            std::string pad(width[c] - row[c].size(), ' ');
            line += c ? "  " : "";
            line += numeric[c] ? pad + row[c] : row[c] + pad;
        }
        while (!line.empty() && line.back() == ' ') line.pop_back();
        std::printf("%*s%s\n", indent, "", line.c_str());
    }
}

/* ------------------------------------------------------------------ JSON view */

std::string json_value_text(const milo_value* v) {
    switch (milo_value_get_kind(v)) {
        case MILO_KIND_INT:
            return scalar_text(v, 0);
        case MILO_KIND_FLOAT: {
            double d = 0;
            milo_value_get_float(v, &d, nullptr);
            return std::isfinite(d) ? float32_text(d) : json_quote(double_text(d));
        }
        case MILO_KIND_BOOL:
            return scalar_text(v, 0);
        default: {
            std::string s;
            onnx_string_value(v, &s);
            if (codec::utf8_invalid_at(s.data(), s.size()) == SIZE_MAX) return json_quote(s);
            static const char hex[] = "0123456789abcdef";  // bytes that are no text
            std::string h;
            for (unsigned char c : s) h += std::string{hex[c >> 4], hex[c & 15]};
            return "{\"hex\": \"" + h + "\"}";
        }
    }
}

/// JSON array of a repeated field's items (every item, exact).
std::string json_items(const milo_value* v) {
    if (v == nullptr) return "[]";
    if (milo_value_get_kind(v) == MILO_KIND_LIST) {
        std::string out = "[";
        for (size_t i = 0, n = milo_value_count(v); i < n; ++i) {
            if (i) out += ", ";
            out += json_value_text(milo_value_at(v, i));
        }
        return out + "]";
    }
    size_t total = 0;
    std::vector<std::string> items = item_texts(v, SIZE_MAX, &total);
    bool is_integer = false;
    for (std::string& s : items)
        if (!codec::is_json_number(s, &is_integer)) s = json_quote(s);
    return "[" + join(items, ", ") + "]";
}

std::string json_tensor_brief(const milo_value* tp) {
    OnnxTensor t = onnx_tensor(tp);
    std::string out = "{\"name\": " + json_quote(t.name) + ", \"dtype\": " + json_quote(t.dtype) +
                      ", \"shape\": " + shape_text(t.dims.data(), t.dims.size());
    // small tensors (Constant values, ConstantOfShape fills) with their values, as in the text
    if (t.elements <= 4 && t.data != nullptr && milo_value_get_kind(t.data) != MILO_KIND_BYTES &&
        !onnx_bit_patterns(t.dtype))
        out += ", \"values\": " + json_items(t.data);
    return out + "}";
}

std::string json_graph(const milo_value* g, uint32_t depth, GraphSet* shown);

std::string json_attribute(const milo_value* attr, uint32_t depth, GraphSet* shown) {
    std::string ref = onnx_string(attr, "ref_attr_name");
    if (!ref.empty()) return "{\"ref\": " + json_quote(ref) + "}";
    std::string type = onnx_attribute_type(attr);
    auto list = [&](const char* key, auto one) {
        std::string out = "[";
        std::vector<const milo_value*> items = onnx_items(attr, key);
        for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + one(items[i]);
        return out + "]";
    };
    auto tensor = [](const milo_value* t) { return json_tensor_brief(t); };
    auto graph = [&](const milo_value* g) { return json_graph(g, depth + 1, shown); };
    auto sparse = [](const milo_value* t) {
        return "{\"sparse\": " + json_quote(sparse_text(t)) + "}";
    };
    auto type_proto = [](const milo_value* t) {
        return "{\"type\": " + json_quote(onnx_type_text(t)) + "}";
    };
    if (type == "FLOAT" || type == "INT" || type == "STRING") {
        const milo_value* v = onnx_field(attr, type == "FLOAT" ? "f" : type == "INT" ? "i" : "s");
        return v ? json_value_text(v) : "null";
    }
    if (type == "FLOATS") return json_items(onnx_field(attr, "floats"));
    if (type == "INTS") return json_items(onnx_field(attr, "ints"));
    if (type == "STRINGS") return json_items(onnx_field(attr, "strings"));
    if (type == "TENSOR") return tensor(onnx_field(attr, "t"));
    if (type == "GRAPH") return graph(onnx_field(attr, "g"));
    if (type == "SPARSE_TENSOR") return sparse(onnx_field(attr, "sparse_tensor"));
    if (type == "TYPE_PROTO") return type_proto(onnx_field(attr, "tp"));
    if (type == "TENSORS") return list("tensors", tensor);
    if (type == "GRAPHS") return list("graphs", graph);
    if (type == "SPARSE_TENSORS") return list("sparse_tensors", sparse);
    if (type == "TYPE_PROTOS") return list("type_protos", type_proto);
    return "null";
}

std::string json_names(const milo_value* msg, const char* key) {
    std::string out = "[";
    std::vector<const milo_value*> items = onnx_items(msg, key);
    for (size_t i = 0; i < items.size(); ++i) {
        std::string s;
        onnx_string_value(items[i], &s);
        out += (i ? ", " : "") + json_quote(s);
    }
    return out + "]";
}

std::string json_nodes(const milo_value* g, uint32_t depth, GraphSet* shown) {
    std::string out = "[";
    std::vector<const milo_value*> nodes = onnx_items(g, "node");
    for (size_t i = 0; i < nodes.size(); ++i) {
        const milo_value* n = nodes[i];
        out += i ? ", " : "";
        out += "{\"name\": " + json_quote(onnx_string(n, "name")) +
               ", \"op_type\": " + json_quote(onnx_string(n, "op_type")) +
               ", \"domain\": " + json_quote(onnx_string(n, "domain")) +
               ", \"inputs\": " + json_names(n, "input") +
               ", \"outputs\": " + json_names(n, "output") + ", \"attributes\": {";
        std::vector<const milo_value*> attrs = onnx_items(n, "attribute");
        for (size_t k = 0; k < attrs.size(); ++k) {
            out += k ? ", " : "";
            out += json_quote(onnx_string(attrs[k], "name")) + ": " +
                   json_attribute(attrs[k], depth, shown);
        }
        out += "}}";
    }
    return out + "]";
}

std::string json_value_infos(const std::vector<const milo_value*>& vis) {
    std::string out = "[";
    for (size_t i = 0; i < vis.size(); ++i) {
        out += i ? ", " : "";
        out += "{\"name\": " + json_quote(onnx_string(vis[i], "name")) +
               ", \"type\": " + json_quote(onnx_type_text(onnx_field(vis[i], "type"))) + "}";
    }
    return out + "]";
}

std::string json_graph(const milo_value* g, uint32_t depth, GraphSet* shown) {
    if (g == nullptr) return "null";
    std::string out = "{\"name\": " + json_quote(onnx_string(g, "name"));
    if (!shown->insert(g).second) return out + ", \"shown_above\": true}";
    if (depth > kMaxNest) return out + ", \"truncated\": true}";
    out += ", \"inputs\": " + json_value_infos(onnx_real_inputs(g));
    out += ", \"outputs\": " + json_value_infos(onnx_items(g, "output"));
    out += ", \"value_info\": " + std::to_string(onnx_items(g, "value_info").size());
    out += ", \"nodes\": " + json_nodes(g, depth, shown);
    out += ", \"initializers\": [";
    std::vector<const milo_value*> inits = onnx_items(g, "initializer");
    for (size_t i = 0; i < inits.size(); ++i) {
        OnnxTensor t = onnx_tensor(inits[i]);
        out += i ? ", " : "";
        out += "{\"name\": " + json_quote(t.name) + ", \"dtype\": " + json_quote(t.dtype) +
               ", \"shape\": " + shape_text(t.dims.data(), t.dims.size()) +
               ", \"elements\": " + std::to_string(t.elements) +
               ", \"bytes\": " + std::to_string(t.bytes) +
               ", \"storage\": " + json_quote(t.storage);
        TensorStats s = float_stats(t);
        if (s.available && s.has_range) {
            out += ", \"min\": " + json_number(s.min_value) +
                   ", \"max\": " + json_number(s.max_value) + ", \"mean\": " + json_number(s.mean);
        }
        if (s.available) out += ", \"nan\": " + std::to_string(s.nan_count);
        out += "}";
    }
    out +=
        "], \"sparse_initializers\": " + std::to_string(onnx_items(g, "sparse_initializer").size());
    return out + "}";
}

std::string json_opsets(const milo_value* msg) {
    std::string out = "[";
    std::vector<const milo_value*> sets = onnx_items(msg, "opset_import");
    for (size_t i = 0; i < sets.size(); ++i) {
        int64_t version = 0;
        get_int(onnx_field(sets[i], "version"), &version);
        out += i ? ", " : "";
        out += "{\"domain\": " + json_quote(onnx_opset_domain(sets[i])) +
               ", \"version\": " + std::to_string(version) + "}";
    }
    return out + "]";
}

}  // namespace

/* ---------------------------------------------------------------------------------------- */
/* Field access and texts                                                                    */
/* ---------------------------------------------------------------------------------------- */

bool onnx_string_value(const milo_value* v, std::string* out) {
    out->clear();
    if (v == nullptr) return false;
    int32_t kind = milo_value_get_kind(v);
    if (kind == MILO_KIND_STRING) {
        const char* s = nullptr;
        size_t len = 0;
        if (milo_value_get_string(v, &s, &len, nullptr) != MILO_OK) return false;
        out->assign(s ? s : "", s ? len : 0);
        return true;
    }
    if (kind == MILO_KIND_BYTES) {  // proto2 strings that are not UTF-8
        const uint8_t* b = nullptr;
        size_t len = 0;
        if (milo_value_get_bytes(v, &b, &len, nullptr) != MILO_OK) return false;
        out->assign(reinterpret_cast<const char*>(b ? b : reinterpret_cast<const uint8_t*>("")),
                    b ? len : 0);
        return true;
    }
    return false;
}

bool is_onnx_model(const milo_value* root) {
    if (root == nullptr || milo_value_get_kind(root) != MILO_KIND_OBJECT) return false;
    const char* name = nullptr;
    milo_value_get_name(root, &name, nullptr);
    return name != nullptr && std::strcmp(name, "onnx.ModelProto") == 0;
}

const milo_value* onnx_field(const milo_value* msg, const char* key) {
    if (msg == nullptr || milo_value_get_kind(msg) != MILO_KIND_OBJECT) return nullptr;
    const milo_value* state = milo_value_get_state(msg);
    if (state == nullptr || milo_value_get_kind(state) != MILO_KIND_MAP) return nullptr;
    return milo_value_find(state, key);
}

std::string onnx_string(const milo_value* msg, const char* key) {
    std::string s;
    onnx_string_value(onnx_field(msg, key), &s);
    return s;
}

std::vector<const milo_value*> onnx_items(const milo_value* msg, const char* key) {
    std::vector<const milo_value*> out;
    const milo_value* v = onnx_field(msg, key);
    if (v == nullptr || milo_value_get_kind(v) != MILO_KIND_LIST) return out;
    for (size_t i = 0, n = milo_value_count(v); i < n; ++i)
        if (const milo_value* item = milo_value_at(v, i)) out.push_back(item);
    return out;
}

std::string onnx_name(const std::string& name) {
    bool plain = !name.empty();
    for (unsigned char c : name)
        if (c <= 0x20 || c == 0x7f || c == ',' || c == '"' || c == '\\') plain = false;
    return plain ? name : json_quote(name);
}

std::string onnx_dtype_text(const milo_value* data_type) {
    std::string up = upper_dtype(data_type);
    if (up.empty()) return "?";
    if (up[0] == '-' || std::isdigit(static_cast<unsigned char>(up[0]))) return "dtype " + up;
    return lower(up);
}

namespace {

std::string type_text(const milo_value* tp, uint32_t depth) {
    if (tp == nullptr || depth > kMaxNest) return "?";
    auto tensor = [](const milo_value* t) {
        const milo_value* elem = onnx_field(t, "elem_type");
        std::string out = elem ? onnx_dtype_text(elem) : "?";
        const milo_value* shape = onnx_field(t, "shape");
        if (shape == nullptr) return out;
        std::vector<std::string> dims;
        for (const milo_value* d : onnx_items(shape, "dim")) {
            const milo_value* value = onnx_field(d, "dim_value");
            const milo_value* param = onnx_field(d, "dim_param");
            if (value != nullptr)
                dims.push_back(scalar_text(value, 40));
            else if (param != nullptr)
                dims.push_back(onnx_name(onnx_string(d, "dim_param")));
            else
                dims.push_back("?");
        }
        return out + "[" + join(dims, ", ") + "]";
    };
    if (const milo_value* t = onnx_field(tp, "tensor_type")) return tensor(t);
    if (const milo_value* t = onnx_field(tp, "sparse_tensor_type")) return "sparse " + tensor(t);
    if (const milo_value* s = onnx_field(tp, "sequence_type"))
        return "seq(" + type_text(onnx_field(s, "elem_type"), depth + 1) + ")";
    if (const milo_value* m = onnx_field(tp, "map_type"))
        return "map(" + onnx_dtype_text(onnx_field(m, "key_type")) + ", " +
               type_text(onnx_field(m, "value_type"), depth + 1) + ")";
    if (const milo_value* o = onnx_field(tp, "optional_type"))
        return "optional(" + type_text(onnx_field(o, "elem_type"), depth + 1) + ")";
    if (const milo_value* o = onnx_field(tp, "opaque_type")) {
        std::string d = onnx_string(o, "domain"), n = onnx_string(o, "name");
        return "opaque(" + (d.empty() ? n : d + "." + n) + ")";
    }
    return "?";
}

}  // namespace

std::string onnx_type_text(const milo_value* type_proto) { return type_text(type_proto, 0); }

OnnxTensor onnx_tensor(const milo_value* tp) {
    OnnxTensor t;
    t.name = onnx_string(tp, "name");
    const milo_value* data_type = onnx_field(tp, "data_type");
    t.dtype = data_type ? onnx_dtype_text(data_type) : "undefined";
    t.dims = int_list(onnx_field(tp, "dims"));
    t.elements = 1;
    for (int64_t d : t.dims) {
        if (d <= 0) {
            t.elements = 0;
            break;
        }
        t.elements = t.elements > UINT64_MAX / uint64_t(d) ? UINT64_MAX : t.elements * uint64_t(d);
    }
    static const char* const kDataFields[][2] = {
        {"(external data)", "external"}, {"raw_data", "raw_data"},
        {"float_data", "float_data"},    {"int32_data", "int32_data"},
        {"string_data", "string_data"},  {"int64_data", "int64_data"},
        {"double_data", "double_data"},  {"uint64_data", "uint64_data"}};
    for (const auto& f : kDataFields) {
        if (const milo_value* v = onnx_field(tp, f[0])) {
            t.storage = f[1];
            t.data = v;
            break;
        }
    }
    uint32_t bits = dtype_bits(upper_dtype(data_type));
    if (bits != 0) {
        t.bytes = t.elements > UINT64_MAX / bits ? UINT64_MAX / 8 : (t.elements * bits + 7) / 8;
    } else if (t.data != nullptr && milo_value_get_kind(t.data) == MILO_KIND_TENSOR) {
        for (size_t i = 0, n = milo_value_count(t.data); i < n; ++i) {  // strings: their lengths
            const char* s = nullptr;
            size_t len = 0;
            if (milo_value_tensor_string_at(t.data, i, &s, &len, nullptr) == MILO_OK)
                t.bytes += len;
        }
    } else if (t.data != nullptr && milo_value_get_kind(t.data) == MILO_KIND_LIST) {
        for (size_t i = 0, n = milo_value_count(t.data); i < n; ++i) {
            std::string s;
            onnx_string_value(milo_value_at(t.data, i), &s);
            t.bytes += s.size();
        }
    } else if (t.data != nullptr && milo_value_get_kind(t.data) == MILO_KIND_BYTES) {
        const uint8_t* b = nullptr;
        size_t len = 0;
        milo_value_get_bytes(t.data, &b, &len, nullptr);
        t.bytes = len;
    }
    return t;
}

bool onnx_bit_patterns(const std::string& dtype) {
    return dtype.compare(0, 6, "float8") == 0 || dtype.compare(0, 6, "float4") == 0;
}

std::string onnx_tensor_text(const milo_value* tensor_proto) {
    OnnxTensor t = onnx_tensor(tensor_proto);
    std::string out = t.dtype + shape_text(t.dims.data(), t.dims.size());
    if (t.elements == 0 || t.elements > 4 || t.data == nullptr ||
        milo_value_get_kind(t.data) == MILO_KIND_BYTES || onnx_bit_patterns(t.dtype))
        return out;
    size_t total = 0;
    std::vector<std::string> items = item_texts(t.data, 4, &total);
    if (total == t.elements && items.size() == total) out += "(" + join(items, ", ") + ")";
    return out;
}

std::string onnx_attribute_text(const milo_value* attr, size_t max_items) {
    std::string ref = onnx_string(attr, "ref_attr_name");
    if (!ref.empty()) return "@" + onnx_name(ref);
    std::string type = onnx_attribute_type(attr);
    auto many = [&](const char* key, std::string (*one)(const milo_value*)) {
        std::vector<const milo_value*> items = onnx_items(attr, key);
        std::vector<std::string> texts;
        for (size_t i = 0; i < items.size() && i < max_items; ++i) texts.push_back(one(items[i]));
        std::string out = "[" + join(texts, ", ");
        if (items.size() > texts.size())
            out += ", ... (" + std::to_string(items.size()) + " items)";
        return out + "]";
    };
    if (type == "FLOAT" || type == "INT" || type == "STRING") {
        const milo_value* v = onnx_field(attr, type == "FLOAT" ? "f" : type == "INT" ? "i" : "s");
        return v ? item_text(v) : "?";
    }
    if (type == "FLOATS") return list_text(onnx_field(attr, "floats"), max_items);
    if (type == "INTS") return list_text(onnx_field(attr, "ints"), max_items);
    if (type == "STRINGS") return list_text(onnx_field(attr, "strings"), max_items);
    if (type == "TENSOR") return onnx_tensor_text(onnx_field(attr, "t"));
    if (type == "GRAPH") return graph_brief(onnx_field(attr, "g"));
    if (type == "SPARSE_TENSOR") return sparse_text(onnx_field(attr, "sparse_tensor"));
    if (type == "TYPE_PROTO") return onnx_type_text(onnx_field(attr, "tp"));
    if (type == "TENSORS") return many("tensors", onnx_tensor_text);
    if (type == "GRAPHS") return many("graphs", graph_brief);
    if (type == "SPARSE_TENSORS") return many("sparse_tensors", sparse_text);
    if (type == "TYPE_PROTOS") return many("type_protos", onnx_type_text);
    return "?";
}

std::string onnx_node_text(const milo_value* node, size_t max_items) {
    std::string name = onnx_string(node, "name");
    std::string domain = onnx_string(node, "domain");
    std::string out = name.empty() ? "" : onnx_name(name) + ": ";
    out += onnx_name(onnx_string(node, "op_type"));
    if (!domain.empty() && domain != "ai.onnx") out += "(" + domain + ")";
    std::string ins = onnx_names_text(node, "input");
    out += (ins.empty() ? "" : " " + ins) + " -> " + onnx_names_text(node, "output");
    std::vector<std::string> attrs;
    for (const milo_value* a : onnx_items(node, "attribute"))
        attrs.push_back(onnx_name(onnx_string(a, "name")) + "=" +
                        onnx_attribute_text(a, max_items));
    if (!attrs.empty()) out += "  {" + join(attrs, ", ") + "}";
    return out;
}

std::string onnx_names_text(const milo_value* msg, const char* key) {
    std::vector<std::string> names;
    for (const milo_value* v : onnx_items(msg, key)) {
        std::string s;
        names.push_back(onnx_string_value(v, &s) ? onnx_name(s) : item_text(v));
    }
    return join(names, ", ");
}

std::string onnx_attribute_type(const milo_value* attr) {
    std::string t = enum_name(onnx_field(attr, "type"), kAttributeTypes,
                              sizeof kAttributeTypes / sizeof kAttributeTypes[0]);
    if (!t.empty() && t != "UNDEFINED") return t;
    // Old models may leave `type` unset: the field present tells.
    static const char* const kByField[][2] = {{"f", "FLOAT"},
                                              {"i", "INT"},
                                              {"s", "STRING"},
                                              {"t", "TENSOR"},
                                              {"g", "GRAPH"},
                                              {"sparse_tensor", "SPARSE_TENSOR"},
                                              {"tp", "TYPE_PROTO"},
                                              {"floats", "FLOATS"},
                                              {"ints", "INTS"},
                                              {"strings", "STRINGS"},
                                              {"tensors", "TENSORS"},
                                              {"graphs", "GRAPHS"},
                                              {"sparse_tensors", "SPARSE_TENSORS"},
                                              {"type_protos", "TYPE_PROTOS"}};
    for (const auto& f : kByField)
        if (onnx_field(attr, f[0]) != nullptr) return f[1];
    return t.empty() ? "UNDEFINED" : t;
}

std::string onnx_value_info_text(const milo_value* vi) {
    return onnx_name(onnx_string(vi, "name")) + ": " + onnx_type_text(onnx_field(vi, "type"));
}

std::vector<std::string> onnx_initializer_names(const milo_value* graph) {
    std::vector<std::string> out;
    for (const milo_value* t : onnx_items(graph, "initializer"))
        out.push_back(onnx_string(t, "name"));
    for (const milo_value* t : onnx_items(graph, "sparse_initializer"))
        out.push_back(onnx_string(onnx_field(t, "values"), "name"));
    return out;
}

std::vector<const milo_value*> onnx_real_inputs(const milo_value* graph) {
    std::vector<std::string> names = onnx_initializer_names(graph);
    std::unordered_set<std::string> inits(names.begin(), names.end());
    std::vector<const milo_value*> out;
    for (const milo_value* vi : onnx_items(graph, "input"))
        if (!inits.count(onnx_string(vi, "name"))) out.push_back(vi);
    return out;
}

std::string onnx_opset_domain(const milo_value* opset) {
    std::string d = onnx_string(opset, "domain");
    return d.empty() ? "ai.onnx" : d;
}

/* ---------------------------------------------------------------------------------------- */
/* inspect                                                                                   */
/* ---------------------------------------------------------------------------------------- */

void print_onnx_view(const milo_value* model, bool all) {
    size_t max_items = all ? SIZE_MAX : kListItems;
    auto line = [](const char* label, const std::string& value) {
        if (!value.empty()) std::printf("  %-15s%s\n", label, value.c_str());
    };
    std::printf("onnx model:\n");
    const milo_value* ir = onnx_field(model, "ir_version");
    line("ir_version:", ir ? scalar_text(ir, 40) : "?");
    std::string producer = onnx_string(model, "producer_name");
    std::string pversion = onnx_string(model, "producer_version");
    line("producer:", producer + (pversion.empty() ? "" : " " + pversion));
    line("domain:", onnx_string(model, "domain"));
    int64_t model_version = 0;
    if (get_int(onnx_field(model, "model_version"), &model_version) && model_version != 0)
        line("model_version:", std::to_string(model_version));
    std::string doc = onnx_string(model, "doc_string");
    if (!doc.empty()) {  // its first line
        std::string first = doc.substr(0, doc.find('\n'));
        bool more = first.size() < doc.size() && first.size() <= 100;
        line("doc_string:", quoted_cut(first, 100) + (more ? " ..." : ""));
    }
    std::vector<std::string> opsets;
    for (const milo_value* o : onnx_items(model, "opset_import")) {
        const milo_value* v = onnx_field(o, "version");
        opsets.push_back(onnx_opset_domain(o) + " " + (v ? scalar_text(v, 40) : "?"));
    }
    line("opsets:", opsets.empty() ? "none" : join(opsets, ", "));
    std::vector<const milo_value*> meta = onnx_items(model, "metadata_props");
    for (size_t i = 0; i < meta.size(); ++i)
        line(i == 0 ? "metadata:" : "",
             onnx_string(meta[i], "key") + " = " + onnx_string(meta[i], "value"));

    const milo_value* g = onnx_field(model, "graph");
    std::vector<const milo_value*> inputs = onnx_real_inputs(g), outputs = onnx_items(g, "output");
    std::vector<const milo_value*> nodes = onnx_items(g, "node");
    InitStats inits = initializer_stats(g);
    size_t value_info = onnx_items(g, "value_info").size();
    size_t sparse = onnx_items(g, "sparse_initializer").size();
    if (g == nullptr) {
        std::printf("  graph:         none\n");
    } else {
        std::string info = plural(nodes.size(), "node", "nodes") + ", " +
                           plural(inits.total.count, "initializer", "initializers") + ", " +
                           plural(value_info, "value_info", "value_info");
        if (sparse) info += ", " + plural(sparse, "sparse initializer", "sparse initializers");
        line("graph:", onnx_name(onnx_string(g, "name")) + " (" + info + ")");
    }
    std::printf("inputs (%zu):\n", inputs.size());
    for (const milo_value* vi : inputs) std::printf("  %s\n", onnx_value_info_text(vi).c_str());
    std::printf("nodes (%zu):\n", nodes.size());
    GraphSet shown{g};
    print_nodes(g, 2, max_items, 0, &shown);
    std::printf("outputs (%zu):\n", outputs.size());
    for (const milo_value* vi : outputs) std::printf("  %s\n", onnx_value_info_text(vi).c_str());

    std::printf("initializers (%" PRIu64 "): %s, %s\n", inits.total.count,
                plural(inits.total.parameters, "parameter", "parameters").c_str(),
                plural(inits.total.bytes, "byte", "bytes").c_str());
    if (!inits.tensors.empty()) {
        std::vector<std::vector<std::string>> rows;
        std::vector<std::pair<std::string, InitStats::Group>> groups(inits.by_dtype.begin(),
                                                                     inits.by_dtype.end());
        std::stable_sort(groups.begin(), groups.end(), [](const auto& x, const auto& y) {
            return x.second.bytes > y.second.bytes;
        });
        for (const auto& grp : groups) {
            rows.push_back({grp.first, plural(grp.second.count, "tensor", "tensors"),
                            plural(grp.second.parameters, "parameter", "parameters"),
                            plural(grp.second.bytes, "byte", "bytes")});
        }
        print_table(rows, 2);
        std::vector<size_t> order(inits.tensors.size());
        for (size_t i = 0; i < order.size(); ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](size_t x, size_t y) {
            return inits.tensors[x].bytes > inits.tensors[y].bytes;
        });
        size_t shown = std::min(order.size(), all ? order.size() : kTableRows);
        std::printf("largest initializers (%zu of %zu%s):\n", shown, order.size(),
                    shown < order.size() ? ", --all shows every one" : "");
        rows.assign(1, {"name", "type", "bytes", "min", "max", "mean"});
        for (size_t k = 0; k < shown; ++k) {
            const OnnxTensor& t = inits.tensors[order[k]];
            TensorStats s = float_stats(t);
            std::vector<std::string> row = {onnx_name(t.name),
                                            t.dtype + shape_text(t.dims.data(), t.dims.size()),
                                            std::to_string(t.bytes)};
            if (s.available && s.has_range) {
                row.insert(row.end(), {s.min, s.max, stat_text(s.mean)});
                if (s.nan_count) row.push_back("nan " + std::to_string(s.nan_count));
            }
            rows.push_back(std::move(row));
        }
        print_table(rows, 2);
    }
    std::printf("parameters:     %" PRIu64 "\n", inits.total.parameters);

    std::vector<const milo_value*> functions = onnx_items(model, "functions");
    std::printf("functions (%zu):%s\n", functions.size(), functions.empty() ? " none" : "");
    for (const milo_value* f : functions) {
        std::string domain = onnx_string(f, "domain");
        std::string head = (domain.empty() ? "" : domain + ".") +
                           onnx_name(onnx_string(f, "name")) + "(" + onnx_names_text(f, "input") +
                           ") -> " + onnx_names_text(f, "output");
        std::string attrs = onnx_names_text(f, "attribute");
        for (const milo_value* a : onnx_items(f, "attribute_proto"))  // attributes with defaults
            attrs += (attrs.empty() ? "" : ", ") + onnx_name(onnx_string(a, "name")) + "=" +
                     onnx_attribute_text(a, max_items);
        std::vector<std::string> fsets;
        for (const milo_value* o : onnx_items(f, "opset_import")) {
            const milo_value* v = onnx_field(o, "version");
            fsets.push_back(onnx_opset_domain(o) + " " + (v ? scalar_text(v, 40) : "?"));
        }
        std::printf("  %s  {%s}  opsets %s\n", head.c_str(), attrs.c_str(),
                    fsets.empty() ? "none" : join(fsets, ", ").c_str());
        print_nodes(f, 4, max_items, 0, &shown);
    }
}

std::string onnx_view_json(const milo_value* model) {
    std::string out = "{";
    const milo_value* ir = onnx_field(model, "ir_version");
    out += "\"ir_version\": " + (ir ? json_value_text(ir) : "null");
    out += ", \"producer_name\": " + json_quote(onnx_string(model, "producer_name"));
    out += ", \"producer_version\": " + json_quote(onnx_string(model, "producer_version"));
    out += ", \"domain\": " + json_quote(onnx_string(model, "domain"));
    const milo_value* mv = onnx_field(model, "model_version");
    out += ", \"model_version\": " + (mv ? json_value_text(mv) : "null");
    out += ", \"doc_string\": " + json_quote(onnx_string(model, "doc_string"));
    out += ", \"opsets\": " + json_opsets(model);
    out += ", \"metadata\": {";
    std::vector<const milo_value*> meta = onnx_items(model, "metadata_props");
    for (size_t i = 0; i < meta.size(); ++i) {
        out += i ? ", " : "";
        out += json_quote(onnx_string(meta[i], "key")) + ": " +
               json_quote(onnx_string(meta[i], "value"));
    }
    const milo_value* g = onnx_field(model, "graph");
    GraphSet shown;
    out += "}, \"graph\": " + json_graph(g, 0, &shown);
    InitStats inits = initializer_stats(g);
    out += ", \"initializer_stats\": {\"count\": " + std::to_string(inits.total.count) +
           ", \"parameters\": " + std::to_string(inits.total.parameters) +
           ", \"bytes\": " + std::to_string(inits.total.bytes) + ", \"by_dtype\": {";
    bool first = true;
    for (const auto& grp : inits.by_dtype) {
        out += first ? "" : ", ";
        first = false;
        out += json_quote(grp.first) + ": {\"count\": " + std::to_string(grp.second.count) +
               ", \"parameters\": " + std::to_string(grp.second.parameters) +
               ", \"bytes\": " + std::to_string(grp.second.bytes) + "}";
    }
    out += "}}, \"parameters\": " + std::to_string(inits.total.parameters) + ", \"functions\": [";
    std::vector<const milo_value*> functions = onnx_items(model, "functions");
    for (size_t i = 0; i < functions.size(); ++i) {
        const milo_value* f = functions[i];
        out += i ? ", " : "";
        out += "{\"domain\": " + json_quote(onnx_string(f, "domain")) +
               ", \"name\": " + json_quote(onnx_string(f, "name")) +
               ", \"inputs\": " + json_names(f, "input") +
               ", \"outputs\": " + json_names(f, "output") +
               ", \"attributes\": " + json_names(f, "attribute") +
               ", \"opsets\": " + json_opsets(f) + ", \"nodes\": " + json_nodes(f, 0, &shown) + "}";
    }
    return out + "]}";
}

std::vector<std::string> onnx_diff_paths() {
    return {"/root/state/opset_import",
            "/root/state/metadata_props",
            "/root/state/functions",
            "/root/state/graph/state/node",
            "/root/state/graph/state/initializer",
            "/root/state/graph/state/input",
            "/root/state/graph/state/output",
            "/root/state/graph/state/value_info"};
}

}  // namespace cli
}  // namespace milo
