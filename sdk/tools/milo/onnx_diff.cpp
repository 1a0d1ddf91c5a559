// `milo diff` of two ONNX models by name: opsets, metadata, graph inputs and outputs, nodes,
// initializers, value_info and functions. See onnx_view.hpp.
#include <cstdint>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "cli_runtime.hpp"
#include "doc_diff.hpp"
#include "doc_walk.hpp"
#include "onnx_view.hpp"

namespace milo {
namespace cli {

namespace {

constexpr size_t kListItems = 16;   // list items in "A vs B" texts
constexpr uint32_t kMaxNest = 200;  // graphs in attributes of graphs (the plugin stops at 100)

const char* const kTensorDataKeys[] = {"dims",        "data_type",  "(external data)", "raw_data",
                                       "float_data",  "int32_data", "string_data",     "int64_data",
                                       "double_data", "uint64_data"};

/// "/state/t/state/float_data" → "t/float_data": a path below a message without the state
/// level of each message ("" for the message itself).
std::string short_path(const std::string& path) {
    std::string out;
    size_t i = 0;
    while (i < path.size()) {
        size_t j = path.find('/', i + 1);
        if (j == std::string::npos) j = path.size();
        std::string seg = path.substr(i + 1, j - i - 1);
        if (seg != "state" && !seg.empty()) out += (out.empty() ? "" : "/") + seg;
        i = j;
    }
    return out;
}

/// Keys of list items; a key seen before gets " #2", " #3" … so every key is unique.
/// `occurrence` (optional) gets 1, 2, 3 … per item.
std::vector<std::string> unique_keys(std::vector<std::string> keys,
                                     std::vector<int>* occurrence = nullptr) {
    std::unordered_map<std::string, int> seen;
    for (std::string& k : keys) {
        int n = ++seen[k];
        if (occurrence) occurrence->push_back(n);
        if (n > 1) k += " #" + std::to_string(n);
    }
    return keys;
}

std::unordered_map<std::string, size_t> index_of(const std::vector<std::string>& keys) {
    std::unordered_map<std::string, size_t> out;
    for (size_t i = 0; i < keys.size(); ++i) out.emplace(keys[i], i);
    return out;
}

/// "Conv x, w -> y": a node without its name and attributes.
std::string node_brief(const milo_value* n) {
    std::string ins = onnx_names_text(n, "input");
    std::string domain = onnx_string(n, "domain");
    return onnx_name(onnx_string(n, "op_type")) +
           (domain.empty() || domain == "ai.onnx" ? "" : "(" + domain + ")") +
           (ins.empty() ? "" : " " + ins) + " -> " + onnx_names_text(n, "output");
}

/// Nodes are matched by name; unnamed nodes by their first output (output names are unique in
/// a graph), and by position among the rest when they have none.
std::vector<std::string> node_keys(const std::vector<const milo_value*>& nodes,
                                   std::vector<int>* occurrence) {
    std::vector<std::string> keys;
    size_t anonymous = 0;
    for (const milo_value* n : nodes) {
        std::string name = onnx_string(n, "name");
        std::vector<const milo_value*> outs = onnx_items(n, "output");
        std::string first;
        if (!outs.empty()) onnx_string_value(outs[0], &first);
        if (!name.empty())
            keys.push_back("name " + name);
        else if (!first.empty())
            keys.push_back("output " + first);
        else
            keys.push_back("position " + std::to_string(anonymous++));
    }
    return unique_keys(keys, occurrence);
}

/// 'node "conv1"' ('node "conv1" #2' for a repeated name), 'node [7] (Relu x -> y)' unnamed.
std::string node_label(const std::string& prefix, const milo_value* n, size_t index,
                       int occurrence) {
    std::string name = onnx_string(n, "name");
    if (name.empty())
        return prefix + "node [" + std::to_string(index) + "] (" + node_brief(n) + ")";
    return prefix + "node " + json_quote(name) +
           (occurrence > 1 ? " #" + std::to_string(occurrence) : "");
}

std::string or_none(const std::string& s) { return s.empty() ? "none" : s; }

struct Counts {
    uint64_t removed = 0, added = 0, changed = 0;
    bool any() const { return removed || added || changed; }
    std::string text() const {
        return std::to_string(removed) + " removed, " + std::to_string(added) + " added, " +
               std::to_string(changed) + " changed";
    }
};

struct OnnxDiffer {
    Differ* out;
    Counts node_counts, init_counts;  // of the main graph
    // Graph pairs compared so far: a document may share a graph or hold a cycle ($id/$ref).
    std::set<std::pair<const milo_value*, const milo_value*>> graphs_seen;

    void report(const std::string& label, const std::string& reason) { out->report(label, reason); }

    /// Differences below two messages that are not compared by name, as "LABEL: field/path".
    void rest(const std::string& label, const milo_value* a, const milo_value* b,
              const std::vector<std::string>& skip_keys) {
        Differ d;
        d.cap = SIZE_MAX;
        for (const std::string& k : skip_keys) d.skip.insert("/state/" + k);
        d.sink = [&](const std::string& path, const std::string& reason) {
            static const std::string kData = "tensor data differs: ";
            std::string p = short_path(path);
            report(p.empty() ? label : label + ": " + p,
                   reason.compare(0, kData.size(), kData) == 0
                       ? "values differ: " + reason.substr(kData.size())
                       : reason);
        };
        d.value(a, b, "", 1);
    }

    static bool same(const milo_value* a, const milo_value* b) {
        Differ d;
        bool differ = false;
        d.sink = [&](const std::string&, const std::string&) { differ = true; };
        d.value(a, b, "", 1);
        return !differ;
    }

    /* ------------------------------------------------------------ model parts */

    void opsets(const std::string& prefix, const milo_value* a, const milo_value* b) {
        auto list = [](const milo_value* m, std::vector<std::string>* keys) {
            std::vector<const milo_value*> items = onnx_items(m, "opset_import");
            for (const milo_value* o : items) keys->push_back(onnx_opset_domain(o));
            *keys = unique_keys(*keys);
            return items;
        };
        std::vector<std::string> ka, kb;
        std::vector<const milo_value*> la = list(a, &ka), lb = list(b, &kb);
        auto version = [](const milo_value* o) {
            const milo_value* v = onnx_field(o, "version");
            return v ? scalar_text(v, 40) : "?";
        };
        auto ib = index_of(kb), ia = index_of(ka);
        for (size_t i = 0; i < la.size(); ++i) {
            std::string label = prefix + "opset " + json_quote(ka[i]);
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "removed (version " + version(la[i]) + ")");
                continue;
            }
            if (version(la[i]) != version(lb[it->second]))
                report(label, version(la[i]) + " vs " + version(lb[it->second]));
            rest(label, la[i], lb[it->second], {"domain", "version"});
        }
        for (size_t j = 0; j < lb.size(); ++j)
            if (!ia.count(kb[j]))
                report(prefix + "opset " + json_quote(kb[j]),
                       "added (version " + version(lb[j]) + ")");
    }

    void metadata(const milo_value* a, const milo_value* b) {
        auto keys = [](const std::vector<const milo_value*>& items) {
            std::vector<std::string> out;
            for (const milo_value* e : items) out.push_back(onnx_string(e, "key"));
            return unique_keys(out);
        };
        std::vector<const milo_value*> la = onnx_items(a, "metadata_props");
        std::vector<const milo_value*> lb = onnx_items(b, "metadata_props");
        std::vector<std::string> ka = keys(la), kb = keys(lb);
        auto ia = index_of(ka), ib = index_of(kb);
        for (size_t i = 0; i < la.size(); ++i) {
            std::string label = "metadata " + json_quote(ka[i]);
            std::string va = json_quote(onnx_string(la[i], "value"));
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "removed (" + va + ")");
                continue;
            }
            std::string vb = json_quote(onnx_string(lb[it->second], "value"));
            if (va != vb) report(label, va + " vs " + vb);
            rest(label, la[i], lb[it->second], {"key", "value"});
        }
        for (size_t j = 0; j < lb.size(); ++j)
            if (!ia.count(kb[j]))
                report("metadata " + json_quote(kb[j]),
                       "added (" + json_quote(onnx_string(lb[j], "value")) + ")");
    }

    /// Graph inputs, outputs or value_info, by name; `order`: their order matters.
    void value_infos(const std::string& kind, const std::vector<const milo_value*>& la,
                     const std::vector<const milo_value*>& lb, bool order) {
        auto keys = [](const std::vector<const milo_value*>& items) {
            std::vector<std::string> out;
            for (const milo_value* v : items) out.push_back(onnx_string(v, "name"));
            return unique_keys(out);
        };
        std::vector<std::string> ka = keys(la), kb = keys(lb);
        auto ia = index_of(ka), ib = index_of(kb);
        auto type = [](const milo_value* v) { return onnx_type_text(onnx_field(v, "type")); };
        std::vector<std::string> common_a, common_b;
        for (size_t i = 0; i < la.size(); ++i) {
            std::string label = kind + " " + json_quote(ka[i]);
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "removed (" + type(la[i]) + ")");
                continue;
            }
            common_a.push_back(ka[i]);
            std::string ta = type(la[i]), tb = type(lb[it->second]);
            if (ta != tb) report(label, "type " + ta + " vs " + tb);
            rest(label, la[i], lb[it->second],
                 ta != tb ? std::vector<std::string>{"name", "type"}
                          : std::vector<std::string>{"name"});
        }
        for (size_t j = 0; j < lb.size(); ++j) {
            if (ia.count(kb[j])) {
                common_b.push_back(kb[j]);
                continue;
            }
            report(kind + " " + json_quote(kb[j]), "added (" + type(lb[j]) + ")");
        }
        if (order && common_a != common_b) {
            std::vector<std::string> qa, qb;
            for (const std::string& k : common_a) qa.push_back(json_quote(k));
            for (const std::string& k : common_b) qb.push_back(json_quote(k));
            size_t n = 0;
            std::string ta, tb;
            for (; n < qa.size() && n < 8; ++n) {
                ta += (n ? ", " : "") + qa[n];
                tb += (n ? ", " : "") + qb[n];
            }
            if (n < qa.size()) ta += ", ...", tb += ", ...";
            report(kind + "s", "order differs: " + ta + " vs " + tb);
        }
    }

    /// Initializers of both models listed among the graph inputs of only one (before IR 4 every
    /// initializer is also an input; the initializer comparison covers their types).
    void listed_initializers(const std::string& prefix, const milo_value* ga,
                             const milo_value* gb) {
        auto set = [](const std::vector<std::string>& v) {
            return std::unordered_set<std::string>(v.begin(), v.end());
        };
        auto names = [](const milo_value* g) {
            std::unordered_set<std::string> out;
            for (const milo_value* vi : onnx_items(g, "input")) out.insert(onnx_string(vi, "name"));
            return out;
        };
        std::unordered_set<std::string> init_b = set(onnx_initializer_names(gb));
        std::unordered_set<std::string> in_a = names(ga), in_b = names(gb);
        for (const std::string& n : onnx_initializer_names(ga)) {
            if (!init_b.count(n) || in_a.count(n) == in_b.count(n)) continue;
            report(prefix + "initializer " + json_quote(n),
                   std::string("listed among the graph inputs in ") + (in_a.count(n) ? "A" : "B") +
                       " only");
        }
    }

    /* ------------------------------------------------------------ tensors */

    /// Two TensorProtos: type, shape, then values (differing elements, largest difference).
    void tensor(const std::string& label, const milo_value* ta, const milo_value* tb) {
        OnnxTensor a = onnx_tensor(ta), b = onnx_tensor(tb);
        std::vector<std::string> skip(std::begin(kTensorDataKeys), std::end(kTensorDataKeys));
        if (a.dtype != b.dtype) {
            report(label, "dtype " + a.dtype + " vs " + b.dtype);
        } else if (a.dims != b.dims) {
            report(label, "shape " + shape_text(a.dims.data(), a.dims.size()) + " vs " +
                              shape_text(b.dims.data(), b.dims.size()));
        } else {
            if (a.storage != b.storage)
                report(label, "storage " + or_none(a.storage) + " vs " + or_none(b.storage));
            if (a.data != nullptr && b.data != nullptr) {
                // The values, wherever each model keeps them (raw_data, float_data, a file).
                // Data that is not one element per entry (int4 pairs packed in int32_data, a
                // size mismatch) is compared as stored.
                auto per_element = [](const OnnxTensor& t) {
                    return milo_value_get_kind(t.data) == MILO_KIND_TENSOR &&
                           milo_value_count(t.data) == t.elements;
                };
                std::string what = per_element(a) && per_element(b)
                                       ? "values differ: "
                                       : "stored " + a.storage + " differs: ";
                Differ d;
                d.cap = SIZE_MAX;
                d.sink = [&](const std::string& path, const std::string& reason) {
                    static const std::string kData = "tensor data differs: ";
                    std::string p = short_path(path);
                    if (reason.compare(0, kData.size(), kData) == 0) {
                        std::string why = reason.substr(kData.size());
                        // float8/float4 are uint8 bit patterns: no values or differences
                        size_t values = why.find(" (", why.find("first at "));
                        if (onnx_bit_patterns(a.dtype) && values != std::string::npos)
                            why = why.substr(0, values) + " (bit patterns)";
                        report(label, what + why);
                    } else {
                        report(label, "values: " + (p.empty() ? "" : p + ": ") + reason);
                    }
                };
                d.value(a.data, b.data, "", 1);
            }
        }
        rest(label, ta, tb, skip);
    }

    void initializers(const std::string& prefix, const milo_value* ga, const milo_value* gb,
                      bool main) {
        auto keys = [](const std::vector<const milo_value*>& items) {
            std::vector<std::string> out;
            for (const milo_value* t : items) out.push_back(onnx_string(t, "name"));
            return unique_keys(out);
        };
        std::vector<const milo_value*> la = onnx_items(ga, "initializer");
        std::vector<const milo_value*> lb = onnx_items(gb, "initializer");
        std::vector<std::string> ka = keys(la), kb = keys(lb);
        auto ia = index_of(ka), ib = index_of(kb);
        auto brief = [](const milo_value* t) {
            OnnxTensor o = onnx_tensor(t);
            return o.dtype + shape_text(o.dims.data(), o.dims.size());
        };
        for (size_t i = 0; i < la.size(); ++i) {
            std::string label = prefix + "initializer " + json_quote(ka[i]);
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "removed (" + brief(la[i]) + ")");
                if (main) ++init_counts.removed;
                continue;
            }
            uint64_t before = out->total;
            tensor(label, la[i], lb[it->second]);
            if (main && out->total != before) ++init_counts.changed;
        }
        for (size_t j = 0; j < lb.size(); ++j) {
            if (ia.count(kb[j])) continue;
            report(prefix + "initializer " + json_quote(kb[j]), "added (" + brief(lb[j]) + ")");
            if (main) ++init_counts.added;
        }
    }

    /* ------------------------------------------------------------ nodes */

    void attribute(const std::string& label, const milo_value* a, const milo_value* b,
                   uint32_t depth) {
        std::string ta = onnx_attribute_type(a), tb = onnx_attribute_type(b);
        if (ta != tb) {
            report(label, "type " + ta + " vs " + tb + " (" + onnx_attribute_text(a, kListItems) +
                              " vs " + onnx_attribute_text(b, kListItems) + ")");
            return;
        }
        if (!onnx_string(a, "ref_attr_name").empty() || !onnx_string(b, "ref_attr_name").empty()) {
            rest(label, a, b, {});
            return;
        }
        if (ta == "GRAPH") {
            graph(label, onnx_field(a, "g"), onnx_field(b, "g"), depth + 1, false);
            rest(label, a, b, {"g"});
            return;
        }
        if (ta == "GRAPHS" || ta == "TENSORS") {
            const char* key = ta == "GRAPHS" ? "graphs" : "tensors";
            std::vector<const milo_value*> la = onnx_items(a, key), lb = onnx_items(b, key);
            for (size_t k = 0; k < la.size() && k < lb.size(); ++k) {
                std::string l = label + "[" + std::to_string(k) + "]";
                if (ta == "GRAPHS")
                    graph(l, la[k], lb[k], depth + 1, false);
                else
                    tensor(l, la[k], lb[k]);
            }
            if (la.size() != lb.size())
                report(label,
                       "count " + std::to_string(la.size()) + " vs " + std::to_string(lb.size()));
            rest(label, a, b, {key});
            return;
        }
        if (ta == "TENSOR") {
            tensor(label, onnx_field(a, "t"), onnx_field(b, "t"));
            rest(label, a, b, {"t"});
            return;
        }
        if (same(a, b)) return;
        std::string xa = onnx_attribute_text(a, kListItems),
                    xb = onnx_attribute_text(b, kListItems);
        if (xa == xb) {  // the difference is beyond what the short texts show
            rest(label, a, b, {});
            return;
        }
        report(label, xa + " vs " + xb);
        static const std::unordered_map<std::string, std::string> kField = {
            {"FLOAT", "f"},
            {"INT", "i"},
            {"STRING", "s"},
            {"FLOATS", "floats"},
            {"INTS", "ints"},
            {"STRINGS", "strings"},
            {"SPARSE_TENSOR", "sparse_tensor"},
            {"SPARSE_TENSORS", "sparse_tensors"},
            {"TYPE_PROTO", "tp"},
            {"TYPE_PROTOS", "type_protos"}};
        auto f = kField.find(ta);
        rest(label, a, b,
             f == kField.end() ? std::vector<std::string>{} : std::vector<std::string>{f->second});
    }

    void attributes(const std::string& label, const milo_value* na, const milo_value* nb,
                    uint32_t depth) {
        auto keys = [](const std::vector<const milo_value*>& items) {
            std::vector<std::string> out;
            for (const milo_value* a : items) out.push_back(onnx_string(a, "name"));
            return unique_keys(out);
        };
        std::vector<const milo_value*> la = onnx_items(na, "attribute");
        std::vector<const milo_value*> lb = onnx_items(nb, "attribute");
        std::vector<std::string> ka = keys(la), kb = keys(lb);
        auto ia = index_of(ka), ib = index_of(kb);
        for (size_t i = 0; i < la.size(); ++i) {
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "attribute " + onnx_name(ka[i]) + " removed (" +
                                  onnx_attribute_text(la[i], kListItems) + ")");
                continue;
            }
            attribute(label + ": attribute " + onnx_name(ka[i]), la[i], lb[it->second], depth);
        }
        for (size_t j = 0; j < lb.size(); ++j)
            if (!ia.count(kb[j]))
                report(label, "attribute " + onnx_name(kb[j]) + " added (" +
                                  onnx_attribute_text(lb[j], kListItems) + ")");
    }

    void node(const std::string& label, const milo_value* a, const milo_value* b, uint32_t depth) {
        std::string oa = onnx_string(a, "op_type"), ob = onnx_string(b, "op_type");
        if (oa != ob) report(label, "op_type " + onnx_name(oa) + " vs " + onnx_name(ob));
        std::string da = onnx_string(a, "domain"), db = onnx_string(b, "domain");
        if (da != db) report(label, "domain " + json_quote(da) + " vs " + json_quote(db));
        for (const char* key : {"input", "output"}) {
            std::string xa = onnx_names_text(a, key), xb = onnx_names_text(b, key);
            if (xa != xb)
                report(label, std::string(key) + "s " + or_none(xa) + " vs " + or_none(xb));
        }
        attributes(label, a, b, depth);
        rest(label, a, b, {"name", "op_type", "domain", "input", "output", "attribute"});
    }

    /// Nodes of two graphs (or functions) matched by name; see node_keys.
    void node_list(const std::string& prefix, const milo_value* ga, const milo_value* gb,
                   uint32_t depth, bool main) {
        std::vector<const milo_value*> la = onnx_items(ga, "node"), lb = onnx_items(gb, "node");
        std::vector<int> na, nb;
        std::vector<std::string> ka = node_keys(la, &na), kb = node_keys(lb, &nb);
        auto ia = index_of(ka), ib = index_of(kb);
        for (size_t i = 0; i < la.size(); ++i) {
            std::string label = node_label(prefix, la[i], i, na[i]);
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "removed" + (onnx_string(la[i], "name").empty()
                                               ? std::string()
                                               : " (" + node_brief(la[i]) + ")"));
                if (main) ++node_counts.removed;
                continue;
            }
            uint64_t before = out->total;
            node(label, la[i], lb[it->second], depth);
            if (main && out->total != before) ++node_counts.changed;
        }
        for (size_t j = 0; j < lb.size(); ++j) {
            if (ia.count(kb[j])) continue;
            report(node_label(prefix, lb[j], j, nb[j]),
                   "added" + (onnx_string(lb[j], "name").empty() ? std::string()
                                                                 : " (" + node_brief(lb[j]) + ")"));
            if (main) ++node_counts.added;
        }
    }

    /// Two graphs; `label` is "" for the main graph (whose other fields the generic walk
    /// compares), else what holds it ("node \"If_0\": attribute then_branch").
    void graph(const std::string& label, const milo_value* ga, const milo_value* gb, uint32_t depth,
               bool main) {
        if (ga == nullptr || gb == nullptr) {  // the generic walk reports a missing main graph
            if (ga != gb && !main) report(label, ga ? "graph only in A" : "graph only in B");
            return;
        }
        if (!graphs_seen.insert({ga, gb}).second) return;
        if (depth > kMaxNest) {
            report(label,
                   "graphs nested deeper than " + std::to_string(kMaxNest) + "; not compared");
            return;
        }
        std::string prefix = label.empty() ? "" : label + ": ";
        value_infos(prefix + "input", onnx_real_inputs(ga), onnx_real_inputs(gb), true);
        listed_initializers(prefix, ga, gb);
        value_infos(prefix + "output", onnx_items(ga, "output"), onnx_items(gb, "output"), true);
        node_list(prefix, ga, gb, depth, main);
        initializers(prefix, ga, gb, main);
        value_infos(prefix + "value_info", onnx_items(ga, "value_info"),
                    onnx_items(gb, "value_info"), false);
        if (!main) rest(label, ga, gb, {"node", "initializer", "input", "output", "value_info"});
    }

    void functions(const milo_value* a, const milo_value* b) {
        auto keys = [](const std::vector<const milo_value*>& items) {
            std::vector<std::string> out;
            for (const milo_value* f : items) {
                std::string domain = onnx_string(f, "domain"),
                            overload = onnx_string(f, "overload");
                out.push_back((domain.empty() ? "" : domain + ".") + onnx_string(f, "name") +
                              (overload.empty() ? "" : ":" + overload));
            }
            return unique_keys(out);
        };
        auto brief = [](const milo_value* f) {
            return "(" + onnx_names_text(f, "input") + ") -> " + onnx_names_text(f, "output");
        };
        std::vector<const milo_value*> la = onnx_items(a, "functions"),
                                       lb = onnx_items(b, "functions");
        std::vector<std::string> ka = keys(la), kb = keys(lb);
        auto ia = index_of(ka), ib = index_of(kb);
        for (size_t i = 0; i < la.size(); ++i) {
            std::string label = "function " + json_quote(ka[i]);
            auto it = ib.find(ka[i]);
            if (it == ib.end()) {
                report(label, "removed " + brief(la[i]));
                continue;
            }
            const milo_value* fb = lb[it->second];
            for (const char* key : {"input", "output", "attribute"}) {
                std::string xa = onnx_names_text(la[i], key), xb = onnx_names_text(fb, key);
                if (xa != xb)
                    report(label, std::string(key) + "s " + or_none(xa) + " vs " + or_none(xb));
            }
            opsets(label + ": ", la[i], fb);
            node_list(label + ": ", la[i], fb, 1, false);
            rest(label, la[i], fb,
                 {"name", "domain", "overload", "input", "output", "attribute", "opset_import",
                  "node"});
        }
        for (size_t j = 0; j < lb.size(); ++j)
            if (!ia.count(kb[j])) report("function " + json_quote(kb[j]), "added " + brief(lb[j]));
    }
};

}  // namespace

std::string diff_onnx(Differ* out, const milo_value* a, const milo_value* b) {
    OnnxDiffer d{out, {}, {}, {}};
    d.opsets("", a, b);
    d.metadata(a, b);
    d.graph("", onnx_field(a, "graph"), onnx_field(b, "graph"), 0, true);
    d.functions(a, b);
    if (!d.node_counts.any() && !d.init_counts.any()) return "";
    return "onnx: nodes " + d.node_counts.text() + "; initializers " + d.init_counts.text();
}

}  // namespace cli
}  // namespace milo
