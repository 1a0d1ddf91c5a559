// Structural comparison of two documents; see doc_diff.hpp.
#include "doc_diff.hpp"

#include <cmath>
#include <cstring>

#include "cli_runtime.hpp"
#include "doc_walk.hpp"
#include "milo/milo_codec.hpp"

namespace milo {
namespace cli {

namespace {

std::string quoted(const std::string& s) { return json_quote(s); }

}  // namespace

void Differ::report(const std::string& path, const std::string& reason) {
    if (sink) {
        sink(path, reason);
        return;
    }
    ++total;
    if (lines.size() < cap) lines.push_back(path + ": " + reason);
}

/* ------------------------------------------------------------------ header */

void Differ::header(const milo_doc* a, const milo_doc* b) {
    static const char* const kKeys[] = {
        "format_version",    "producer.name",  "producer.version",     "framework.name",
        "framework.version", "transporter.id", "transporter.revision", "type",
        "source.kind",       "source.version", "source.sha256",        "external.file",
        "external.sha256"};
    for (const char* key : kKeys) {
        const char *va = nullptr, *vb = nullptr;
        milo_doc_get_header(a, key, &va, nullptr);
        milo_doc_get_header(b, key, &vb, nullptr);
        std::string path = std::string("/milo/") + key;
        for (char& c : path)
            if (c == '.') c = '/';
        if (va == nullptr && vb == nullptr) continue;
        if (va == nullptr)
            report(path, "only in B (" + quoted(vb) + ")");
        else if (vb == nullptr)
            report(path, "only in A (" + quoted(va) + ")");
        else if (std::strcmp(va, vb) != 0)
            report(path, quoted(va) + " vs " + quoted(vb));
    }
    keyed_entries(a, b);
}

const char* Differ::level_name(int32_t level) {
    return level == MILO_TRUST_TRUSTED     ? "trusted"
           : level == MILO_TRUST_UNTRUSTED ? "untrusted"
           : level == MILO_TRUST_DANGEROUS ? "dangerous"
                                           : "unknown";
}

void Differ::keyed_entries(const milo_doc* a, const milo_doc* b) {
    auto trust = [](const milo_doc* d) {
        std::vector<std::pair<std::string, std::string>> out;
        for (size_t i = 0, n = milo_doc_trust_count(d); i < n; ++i) {
            const char *name = nullptr, *usage = nullptr;
            int32_t level = 0;
            if (milo_doc_trust_at(d, i, &name, &usage, &level, nullptr) != MILO_OK) continue;
            out.emplace_back(std::string(name ? name : "") + " (" + (usage ? usage : "") + ")",
                             level_name(level));
        }
        return out;
    };
    auto metadata = [](const milo_doc* d) {
        std::vector<std::pair<std::string, std::string>> out;
        for (size_t i = 0, n = milo_doc_metadata_count(d); i < n; ++i) {
            const char *k = nullptr, *v = nullptr;
            if (milo_doc_metadata_at(d, i, &k, &v, nullptr) != MILO_OK) continue;
            out.emplace_back(k ? k : "", quoted(v ? v : ""));
        }
        return out;
    };
    compare_pairs("/milo/trust/", trust(a), trust(b));
    compare_pairs("/milo/metadata/", metadata(a), metadata(b));
}

void Differ::compare_pairs(const std::string& prefix,
                           const std::vector<std::pair<std::string, std::string>>& a,
                           const std::vector<std::pair<std::string, std::string>>& b) {
    std::unordered_map<std::string, const std::string*> in_b;
    for (const auto& e : b) in_b.emplace(e.first, &e.second);
    std::unordered_map<std::string, bool> in_a;
    for (const auto& e : a) {
        in_a.emplace(e.first, true);
        auto it = in_b.find(e.first);
        if (it == in_b.end())
            report(prefix + e.first, "only in A (" + e.second + ")");
        else if (*it->second != e.second)
            report(prefix + e.first, e.second + " vs " + *it->second);
    }
    for (const auto& e : b) {
        if (!in_a.count(e.first)) report(prefix + e.first, "only in B (" + e.second + ")");
    }
}

/* ------------------------------------------------------------------ values */

void Differ::value(const milo_value* a, const milo_value* b, const std::string& path,
                   uint32_t depth) {
    if (skipped(path)) return;
    if (depth > kMaxWalkDepth) {
        report(path, "nested deeper than " + std::to_string(kMaxWalkDepth) +
                         " levels; not compared further");
        return;
    }
    int32_t ka = milo_value_get_kind(a), kb = milo_value_get_kind(b);
    if (ka != kb) {
        report(path, std::string("kind differs: ") + kind_name(ka) + " vs " + kind_name(kb));
        return;
    }
    if (codec::kind_has_identity(ka)) {
        auto ia = a_to_b.find(a);
        auto ib = b_to_a.find(b);
        if (ia != a_to_b.end() && ia->second == b) return;  // compared already (or a cycle)
        if (ia != a_to_b.end() || ib != b_to_a.end()) {
            std::string why = "sharing differs:";
            if (ia != a_to_b.end())
                why += " in A this is the same node as " + first_a[a] + ";";
            else
                why += " in A this node occurs only here;";
            if (ib != b_to_a.end())
                why += " in B it is the same node as " + first_b[b];
            else
                why += " in B it occurs only here";
            report(path, why);
            return;
        }
        a_to_b.emplace(a, b);
        b_to_a.emplace(b, a);
        first_a.emplace(a, path);
        first_b.emplace(b, path);
    }
    switch (ka) {
        case MILO_KIND_NULL:
            return;
        case MILO_KIND_BOOL:
        case MILO_KIND_INT:
        case MILO_KIND_GLOBAL: {
            std::string ta = scalar_text(a, 200), tb = scalar_text(b, 200);
            if (ta != tb) report(path, ta + " vs " + tb);
            return;
        }
        case MILO_KIND_FLOAT: {
            double da = 0, db = 0;
            milo_value_get_float(a, &da, nullptr);
            milo_value_get_float(b, &db, nullptr);
            if (codec::double_to_bits(da) != codec::double_to_bits(db))
                report(path, double_text(da) + " vs " + double_text(db));
            return;
        }
        case MILO_KIND_STRING: {
            const char *sa = nullptr, *sb = nullptr;
            size_t la = 0, lb = 0;
            milo_value_get_string(a, &sa, &la, nullptr);
            milo_value_get_string(b, &sb, &lb, nullptr);
            if (la != lb || (la && std::memcmp(sa, sb, la) != 0))
                report(path, scalar_text(a, 60) + " vs " + scalar_text(b, 60));
            return;
        }
        case MILO_KIND_BYTES: {
            const uint8_t *ba = nullptr, *bb = nullptr;
            size_t la = 0, lb = 0;
            milo_value_get_bytes(a, &ba, &la, nullptr);
            milo_value_get_bytes(b, &bb, &lb, nullptr);
            size_t n = la < lb ? la : lb, i = 0;
            while (i < n && ba[i] == bb[i]) ++i;
            if (la != lb)
                report(path, "bytes differ: " + std::to_string(la) + " vs " + std::to_string(lb) +
                                 " bytes");
            else if (i < n)
                report(path, "bytes differ from offset " + std::to_string(i));
            return;
        }
        case MILO_KIND_LIST:
        case MILO_KIND_TUPLE:
        case MILO_KIND_SET:
            sequence(a, b, path, depth);
            return;
        case MILO_KIND_MAP:
            map(a, b, path, depth);
            return;
        case MILO_KIND_OBJECT:
            object(a, b, path, depth);
            return;
        case MILO_KIND_TENSOR:
            tensor(a, b, path, depth);
            return;
        default:
            report(path, "unknown kind " + std::to_string(ka));
    }
}

void Differ::sequence(const milo_value* a, const milo_value* b, const std::string& path,
                      uint32_t depth) {
    size_t na = milo_value_count(a), nb = milo_value_count(b);
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; ++i) {
        const milo_value* ia = milo_value_at(a, i);
        const milo_value* ib = milo_value_at(b, i);
        if (ia && ib) value(ia, ib, path + "/" + std::to_string(i), depth + 1);
    }
    if (na != nb) {
        report(path, "length differs: " + std::to_string(na) + " vs " + std::to_string(nb) +
                         (na > nb ? " (items from " + std::to_string(nb) + " only in A)"
                                  : " (items from " + std::to_string(na) + " only in B)"));
    }
}

// String keys, all distinct: compare by key; otherwise by position.
bool Differ::string_keyed(const milo_value* m, std::unordered_map<std::string, size_t>* index) {
    size_t n = milo_value_count(m);
    for (size_t i = 0; i < n; ++i) {
        const milo_value* k = milo_value_key_at(m, i);
        const char* s = nullptr;
        size_t len = 0;
        if (k == nullptr || milo_value_get_kind(k) != MILO_KIND_STRING ||
            milo_value_get_string(k, &s, &len, nullptr) != MILO_OK)
            return false;
        if (!index->emplace(std::string(s, len), i).second) return false;
    }
    return true;
}

void Differ::map(const milo_value* a, const milo_value* b, const std::string& path,
                 uint32_t depth) {
    std::unordered_map<std::string, size_t> ia, ib;
    size_t na = milo_value_count(a), nb = milo_value_count(b);
    if (string_keyed(a, &ia) && string_keyed(b, &ib)) {
        std::vector<size_t> order_b;  // B positions of common keys, in A's order
        for (size_t i = 0; i < na; ++i) {
            const milo_value* k = milo_value_key_at(a, i);
            std::string seg = key_segment(k, i);
            const char* s = nullptr;
            size_t len = 0;
            milo_value_get_string(k, &s, &len, nullptr);
            auto it = ib.find(std::string(s, len));
            if (it == ib.end()) {
                if (!skipped(path + "/" + seg)) report(path + "/" + seg, "only in A");
                continue;
            }
            order_b.push_back(it->second);
            const milo_value* va = milo_value_at(a, i);
            const milo_value* vb = milo_value_at(b, it->second);
            if (va && vb) value(va, vb, path + "/" + seg, depth + 1);
        }
        for (size_t i = 0; i < nb; ++i) {
            const milo_value* k = milo_value_key_at(b, i);
            const char* s = nullptr;
            size_t len = 0;
            milo_value_get_string(k, &s, &len, nullptr);
            std::string only_b = path + "/" + key_segment(k, i);
            if (!ia.count(std::string(s, len)) && !skipped(only_b)) report(only_b, "only in B");
        }
        for (size_t i = 1; i < order_b.size(); ++i) {
            if (order_b[i] < order_b[i - 1]) {
                report(path, "key order differs");
                break;
            }
        }
        return;
    }
    size_t n = na < nb ? na : nb;
    for (size_t i = 0; i < n; ++i) {
        const milo_value* ka = milo_value_key_at(a, i);
        const milo_value* kb = milo_value_key_at(b, i);
        std::string seg = key_segment(ka, i);
        if (ka && kb) {
            int32_t kind = milo_value_get_kind(ka);
            if (codec::kind_has_identity(kind))
                value(ka, kb, path + "/{key #" + std::to_string(i) + "}", depth + 1);
            else if (kind != milo_value_get_kind(kb) ||
                     scalar_text(ka, 1000) != scalar_text(kb, 1000))
                report(path + "/{key #" + std::to_string(i) + "}",
                       "key differs: " + scalar_text(ka, 60) + " vs " + scalar_text(kb, 60));
        }
        const milo_value* va = milo_value_at(a, i);
        const milo_value* vb = milo_value_at(b, i);
        if (va && vb) value(va, vb, path + "/" + seg, depth + 1);
    }
    if (na != nb) {
        report(path, "entry count differs: " + std::to_string(na) + " vs " + std::to_string(nb));
    }
}

void Differ::object(const milo_value* a, const milo_value* b, const std::string& path,
                    uint32_t depth) {
    const char *ta = nullptr, *tb = nullptr;
    milo_value_get_name(a, &ta, nullptr);
    milo_value_get_name(b, &tb, nullptr);
    if (std::strcmp(ta ? ta : "", tb ? tb : "") != 0) {
        report(path, std::string("type differs: ") + (ta ? ta : "?") + " vs " + (tb ? tb : "?"));
        return;
    }
    part(milo_value_get_args(a), milo_value_get_args(b), path + "/args", depth);
    part(milo_value_get_state(a), milo_value_get_state(b), path + "/state", depth);
}

void Differ::part(const milo_value* a, const milo_value* b, const std::string& path,
                  uint32_t depth) {
    if (a == nullptr && b == nullptr) return;
    if (skipped(path)) return;
    if (a == nullptr)
        report(path, "only in B");
    else if (b == nullptr)
        report(path, "only in A");
    else
        value(a, b, path, depth + 1);
}

void Differ::tensor(const milo_value* a, const milo_value* b, const std::string& path,
                    uint32_t depth) {
    int32_t da = 0, db = 0;
    const int64_t *sa = nullptr, *sb = nullptr;
    size_t na = 0, nb = 0;
    if (milo_value_get_tensor(a, &da, &sa, &na, nullptr) != MILO_OK ||
        milo_value_get_tensor(b, &db, &sb, &nb, nullptr) != MILO_OK) {
        report(path, "tensor cannot be read");
        return;
    }
    std::string ta = dtype_text(a), tb = dtype_text(b);
    if (ta != tb || milo_value_tensor_itemsize(a) != milo_value_tensor_itemsize(b)) {
        report(path, "dtype differs: " + ta + " vs " + tb);
        return;
    }
    if (na != nb || (na && std::memcmp(sa, sb, na * sizeof(int64_t)) != 0)) {
        report(path, "shape differs: " + shape_text(sa, na) + " vs " + shape_text(sb, nb));
        return;
    }
    uint64_t count = milo_value_count(a);
    if (da == MILO_DTYPE_OBJECT) {
        for (uint64_t i = 0; i < count; ++i) {
            const milo_value* ia = milo_value_tensor_item_at(a, i);
            const milo_value* ib = milo_value_tensor_item_at(b, i);
            if (ia && ib) value(ia, ib, path + "/" + std::to_string(i), depth + 1);
        }
        return;
    }
    if (da == MILO_DTYPE_STRING) {
        uint64_t diffs = 0, first = 0;
        std::string first_text;
        for (uint64_t i = 0; i < count; ++i) {
            const char *xa = nullptr, *xb = nullptr;
            size_t la = 0, lb = 0;
            milo_value_tensor_string_at(a, i, &xa, &la, nullptr);
            milo_value_tensor_string_at(b, i, &xb, &lb, nullptr);
            if (la == lb && (la == 0 || std::memcmp(xa, xb, la) == 0)) continue;
            if (diffs++ == 0) {
                first = i;
                first_text = " (" + quoted(std::string(xa ? xa : "", xa ? la : 0)) + " vs " +
                             quoted(std::string(xb ? xb : "", xb ? lb : 0)) + ")";
            }
        }
        if (diffs) {
            report(path, "tensor data differs: " + std::to_string(diffs) + " of " +
                             std::to_string(count) + " elements, first at " +
                             index_text(first, sa, na) + first_text);
        }
        return;
    }
    const void *pa = nullptr, *pb = nullptr;
    size_t ba = 0, bb = 0;
    if (milo_value_tensor_data(a, &pa, &ba, nullptr) != MILO_OK ||
        milo_value_tensor_data(b, &pb, &bb, nullptr) != MILO_OK) {
        report(path, "tensor data cannot be read");
        return;
    }
    if (ba != bb) {
        report(path, "tensor data size differs: " + std::to_string(ba) + " vs " +
                         std::to_string(bb) + " bytes");
        return;
    }
    if (ba == 0 || std::memcmp(pa, pb, ba) == 0) return;
    const auto* xa = static_cast<const uint8_t*>(pa);
    const auto* xb = static_cast<const uint8_t*>(pb);
    uint64_t itemsize = milo_value_tensor_itemsize(a);
    if (itemsize == 0) return;
    uint64_t n = ba / itemsize;
    bool numeric = codec::dtype_is_numeric(da);
    bool complex = codec::dtype_is_complex(da);
    uint64_t diffs = 0, first = 0, nan_diffs = 0;
    double max_abs = -1;
    for (uint64_t i = 0; i < n; ++i) {
        if (std::memcmp(xa + i * itemsize, xb + i * itemsize, itemsize) == 0) continue;
        if (diffs++ == 0) first = i;
        if (!numeric) continue;
        double ia = 0, ib = 0;
        double ra = element_as_double(xa, da, i, &ia);
        double rb = element_as_double(xb, db, i, &ib);
        double d = complex ? std::hypot(ra - rb, ia - ib) : std::fabs(ra - rb);
        if (std::isnan(d)) {
            ++nan_diffs;
        } else if (d > max_abs) {
            max_abs = d;
        }
    }
    std::string why = "tensor data differs: " + std::to_string(diffs) + " of " + std::to_string(n) +
                      " elements, first at " + index_text(first, sa, na);
    if (numeric && !complex) {
        // integers exact, float16/bfloat16/float32 at their own precision ("0.1", not
        // "0.100000001...")
        why += " (" + element_text(xa, da, first) + " vs " + element_text(xb, db, first) + ")";
    }
    if (numeric && max_abs >= 0) why += ", max abs diff " + stat_text(max_abs);
    if (nan_diffs) why += ", " + std::to_string(nan_diffs) + " involving NaN";
    if (numeric && max_abs == 0) why += " (bit patterns differ, e.g. -0.0 vs 0.0)";
    report(path, why);
}
}  // namespace cli
}  // namespace milo
