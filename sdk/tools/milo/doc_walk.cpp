// Reading documents for people; see doc_walk.hpp.
#include "doc_walk.hpp"

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "milo/milo_codec.hpp"

namespace milo {
namespace cli {

namespace {

bool has_identity(int32_t kind) { return codec::kind_has_identity(kind); }

uint64_t load_le(const uint8_t* p, unsigned size) {
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= uint64_t(p[i]) << (8 * i);
    return v;
}

std::string escape_text(const char* data, size_t len, size_t max_chars) {
    std::string out;
    size_t i = 0;
    for (; i < len && out.size() < max_chars; ++i) {
        unsigned char c = static_cast<unsigned char>(data[i]);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\t') {
            out += "\\t";
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\x%02x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    // do not cut a UTF-8 sequence in half
    while (i < len && (static_cast<unsigned char>(data[i]) & 0xc0) == 0x80) out += data[i++];
    if (i < len) out += "...";
    return out;
}

}  // namespace

const char* kind_name(int32_t kind) {
    switch (kind) {
        case MILO_KIND_NULL: return "null";
        case MILO_KIND_BOOL: return "bool";
        case MILO_KIND_INT: return "int";
        case MILO_KIND_FLOAT: return "float";
        case MILO_KIND_STRING: return "string";
        case MILO_KIND_BYTES: return "bytes";
        case MILO_KIND_LIST: return "list";
        case MILO_KIND_TUPLE: return "tuple";
        case MILO_KIND_SET: return "set";
        case MILO_KIND_MAP: return "map";
        case MILO_KIND_TENSOR: return "tensor";
        case MILO_KIND_OBJECT: return "object";
        case MILO_KIND_GLOBAL: return "global";
        default: return "unknown";
    }
}

std::string shape_text(const int64_t* shape, size_t ndim) {
    std::string out = "[";
    for (size_t i = 0; i < ndim; ++i) {
        if (i) out += ", ";
        out += std::to_string(shape[i]);
    }
    return out + "]";
}

std::string index_text(uint64_t flat, const int64_t* shape, size_t ndim) {
    std::vector<uint64_t> idx(ndim, 0);
    for (size_t i = ndim; i-- > 0;) {
        uint64_t d = shape[i] > 0 ? uint64_t(shape[i]) : 1;
        idx[i] = flat % d;
        flat /= d;
    }
    std::string out = "[";
    for (size_t i = 0; i < ndim; ++i) {
        if (i) out += ", ";
        out += std::to_string(idx[i]);
    }
    return out + "]";
}

std::string dtype_text(const milo_value* tensor) {
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    if (milo_value_get_tensor(tensor, &dtype, &shape, &ndim, nullptr) != MILO_OK) return "?";
    if (dtype != MILO_DTYPE_RECORD) {
        const codec::DTypeInfo* info = codec::dtype_info(dtype);
        return info != nullptr ? info->name : "dtype#" + std::to_string(dtype);
    }
    std::string out = "record{";
    size_t n = milo_value_tensor_field_count(tensor);
    for (size_t i = 0; i < n; ++i) {
        const char* name = nullptr;
        int32_t fd = 0;
        uint64_t offset = 0;
        const int64_t* fshape = nullptr;
        size_t fndim = 0;
        if (milo_value_tensor_field_at(tensor, i, &name, &fd, &offset, &fshape, &fndim,
                                       nullptr) != MILO_OK)
            continue;
        if (i) out += ", ";
        const codec::DTypeInfo* info = codec::dtype_info(fd);
        out += std::string(name ? name : "?") + ":" + (info ? info->name : "?");
        if (fndim) out += shape_text(fshape, fndim);
    }
    out += "}";
    return out;
}

std::string double_text(double v) {
    char buf[codec::kNumberBuffer];
    size_t n = codec::write_nonfinite(codec::double_to_bits(v), 8, false, buf);
    if (n == 0) n = codec::write_double(v, buf, true);
    return std::string(buf, n);
}

std::string float32_text(double v) {
    float f = float(v);
    if (!std::isfinite(v) || double(f) != v) return double_text(v);
    char buf[codec::kNumberBuffer];
    std::string s(buf, codec::write_float(f, buf));
    if (s.find_first_of(".e") == std::string::npos) s += ".0";
    return s;
}

std::string stat_text(double v) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.6g", v);
    return buf;
}

std::string json_number(double v) {
    if (!std::isfinite(v)) return "\"" + stat_text(v) + "\"";
    char buf[codec::kNumberBuffer];
    size_t n = codec::write_double(v, buf, false);
    return std::string(buf, n);
}

std::string scalar_text(const milo_value* v, size_t max_chars) {
    int32_t kind = milo_value_get_kind(v);
    switch (kind) {
        case MILO_KIND_NULL:
            return "null";
        case MILO_KIND_BOOL: {
            bool b = false;
            milo_value_get_bool(v, &b, nullptr);
            return b ? "true" : "false";
        }
        case MILO_KIND_INT: {
            const char* t = nullptr;
            if (milo_value_get_int_text(v, &t, nullptr) == MILO_OK && t) return t;
            return "?";
        }
        case MILO_KIND_FLOAT: {
            double d = 0;
            milo_value_get_float(v, &d, nullptr);
            return double_text(d);
        }
        case MILO_KIND_STRING: {
            const char* s = nullptr;
            size_t len = 0;
            if (milo_value_get_string(v, &s, &len, nullptr) != MILO_OK || !s) return "\"?\"";
            return "\"" + escape_text(s, len, max_chars) + "\"";
        }
        case MILO_KIND_BYTES: {
            const uint8_t* b = nullptr;
            size_t len = 0;
            milo_value_get_bytes(v, &b, &len, nullptr);
            std::string out = std::to_string(len) + " bytes";
            if (len && b) {
                out += " ";
                static const char hex[] = "0123456789abcdef";
                size_t show = len < 16 ? len : 16;
                for (size_t i = 0; i < show; ++i) {
                    out += hex[b[i] >> 4];
                    out += hex[b[i] & 15];
                }
                if (show < len) out += "...";
            }
            return out;
        }
        case MILO_KIND_GLOBAL: {
            const char* name = nullptr;
            milo_value_get_name(v, &name, nullptr);
            return name ? name : "?";
        }
        default:
            return kind_name(kind);
    }
}

std::string key_segment(const milo_value* key, size_t index) {
    int32_t kind = milo_value_get_kind(key);
    if (kind == MILO_KIND_STRING) {
        const char* s = nullptr;
        size_t len = 0;
        if (milo_value_get_string(key, &s, &len, nullptr) == MILO_OK && s) {
            std::string out;
            for (size_t i = 0; i < len; ++i) {
                if (s[i] == '~') out += "~0";
                else if (s[i] == '/') out += "~1";
                else if (s[i] == '\0') out += "\\0";
                else out += s[i];
            }
            return out;
        }
    }
    if (has_identity(kind) || kind < 0) return "{key #" + std::to_string(index) + "}";
    return "{" + scalar_text(key, 40) + "}";
}

double element_as_double(const uint8_t* data, int32_t dtype, uint64_t i, double* imag) {
    if (imag) *imag = 0;
    switch (dtype) {
        case MILO_DTYPE_BOOL: return data[i] != 0 ? 1.0 : 0.0;
        case MILO_DTYPE_INT8: return double(int8_t(data[i]));
        case MILO_DTYPE_INT16: return double(int16_t(load_le(data + 2 * i, 2)));
        case MILO_DTYPE_INT32: return double(int32_t(load_le(data + 4 * i, 4)));
        case MILO_DTYPE_INT64: return double(int64_t(load_le(data + 8 * i, 8)));
        case MILO_DTYPE_UINT8: return double(data[i]);
        case MILO_DTYPE_UINT16: return double(load_le(data + 2 * i, 2));
        case MILO_DTYPE_UINT32: return double(load_le(data + 4 * i, 4));
        case MILO_DTYPE_UINT64: return double(load_le(data + 8 * i, 8));
        case MILO_DTYPE_FLOAT16:
            return codec::half_to_float(uint16_t(load_le(data + 2 * i, 2)));
        case MILO_DTYPE_BFLOAT16:
            return codec::bfloat16_to_float(uint16_t(load_le(data + 2 * i, 2)));
        case MILO_DTYPE_FLOAT32:
            return codec::bits_to_float(uint32_t(load_le(data + 4 * i, 4)));
        case MILO_DTYPE_FLOAT64: return codec::bits_to_double(load_le(data + 8 * i, 8));
        case MILO_DTYPE_COMPLEX64:
            if (imag) *imag = codec::bits_to_float(uint32_t(load_le(data + 8 * i + 4, 4)));
            return codec::bits_to_float(uint32_t(load_le(data + 8 * i, 4)));
        case MILO_DTYPE_COMPLEX128:
            if (imag) *imag = codec::bits_to_double(load_le(data + 16 * i + 8, 8));
            return codec::bits_to_double(load_le(data + 16 * i, 8));
        default: return 0;
    }
}

std::string element_text(const uint8_t* data, int32_t dtype, uint64_t i) {
    if (dtype == MILO_DTYPE_BOOL) return data[i] ? "true" : "false";
    const codec::DTypeInfo* info = codec::dtype_info(dtype);
    if (codec::dtype_is_integer(dtype) && info != nullptr) {
        uint64_t bits = load_le(data + i * info->size, info->size);
        if (!codec::dtype_is_signed(dtype)) return std::to_string(bits);
        unsigned shift = 64 - 8 * info->size;
        return std::to_string(shift ? int64_t(bits << shift) >> shift : int64_t(bits));
    }
    double im = 0;
    if (dtype == MILO_DTYPE_FLOAT64) return double_text(element_as_double(data, dtype, i, &im));
    if (codec::dtype_is_float(dtype)) return float32_text(element_as_double(data, dtype, i, &im));
    double re = element_as_double(data, dtype, i, &im);
    return "(" + double_text(re) + ", " + double_text(im) + ")";
}

TensorStats tensor_stats(const milo_value* tensor) {
    TensorStats st;
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    if (milo_value_get_tensor(tensor, &dtype, &shape, &ndim, nullptr) != MILO_OK) return st;
    st.count = milo_value_count(tensor);
    if (!codec::dtype_is_numeric(dtype)) return st;
    const void* raw = nullptr;
    size_t nbytes = 0;
    if (milo_value_tensor_data(tensor, &raw, &nbytes, nullptr) != MILO_OK) return st;
    const codec::DTypeInfo* info = codec::dtype_info(dtype);
    if (info == nullptr || info->size == 0 || (nbytes != 0 && raw == nullptr)) return st;
    const auto* data = static_cast<const uint8_t*>(raw);
    uint64_t n = nbytes / info->size;  // never read past the data, whatever count says
    st.count = n;
    st.available = true;
    st.is_bool = dtype == MILO_DTYPE_BOOL;
    st.is_complex = codec::dtype_is_complex(dtype);
    if (st.is_bool) {
        for (uint64_t i = 0; i < n; ++i) st.true_count += data[i] != 0;
        return st;
    }
    long double sum = 0;
    uint64_t finite_or_inf = 0;
    if (codec::dtype_is_integer(dtype)) {
        bool is_signed = codec::dtype_is_signed(dtype);
        int64_t smin = std::numeric_limits<int64_t>::max(), smax = std::numeric_limits<int64_t>::min();
        uint64_t umin = std::numeric_limits<uint64_t>::max(), umax = 0;
        for (uint64_t i = 0; i < n; ++i) {
            uint64_t bits = load_le(data + i * info->size, info->size);
            if (is_signed) {
                unsigned shift = 64 - 8 * info->size;
                int64_t v = shift ? int64_t(bits << shift) >> shift : int64_t(bits);
                if (v < smin) smin = v;
                if (v > smax) smax = v;
                sum += v;
            } else {
                if (bits < umin) umin = bits;
                if (bits > umax) umax = bits;
                sum += bits;
            }
        }
        if (n) {
            st.has_range = true;
            st.min = is_signed ? std::to_string(smin) : std::to_string(umin);
            st.max = is_signed ? std::to_string(smax) : std::to_string(umax);
            st.min_value = is_signed ? double(smin) : double(umin);
            st.max_value = is_signed ? double(smax) : double(umax);
            st.mean = double(sum / (long double)n);
        }
        return st;
    }
    double lo = 0, hi = 0;
    for (uint64_t i = 0; i < n; ++i) {
        double im = 0;
        double v = element_as_double(data, dtype, i, &im);
        if (st.is_complex) {
            if (std::isnan(v) || std::isnan(im)) {
                ++st.nan_count;
                continue;
            }
            v = std::hypot(v, im);
        } else if (std::isnan(v)) {
            ++st.nan_count;
            continue;
        }
        if (finite_or_inf == 0 || v < lo) lo = v;
        if (finite_or_inf == 0 || v > hi) hi = v;
        ++finite_or_inf;
        sum += v;
    }
    if (finite_or_inf) {
        st.has_range = true;
        st.min_value = lo;
        st.max_value = hi;
        st.min = stat_text(lo);
        st.max = stat_text(hi);
        st.mean = double(sum / (long double)finite_or_inf);
    }
    return st;
}

void value_children(const milo_value* v, std::vector<const milo_value*>* out) {
    int32_t kind = milo_value_get_kind(v);
    if (kind == MILO_KIND_LIST || kind == MILO_KIND_TUPLE || kind == MILO_KIND_SET) {
        size_t n = milo_value_count(v);
        for (size_t i = 0; i < n; ++i)
            if (const milo_value* c = milo_value_at(v, i)) out->push_back(c);
    } else if (kind == MILO_KIND_MAP) {
        size_t n = milo_value_count(v);
        for (size_t i = 0; i < n; ++i) {
            if (const milo_value* k = milo_value_key_at(v, i)) out->push_back(k);
            if (const milo_value* c = milo_value_at(v, i)) out->push_back(c);
        }
    } else if (kind == MILO_KIND_OBJECT) {
        if (const milo_value* a = milo_value_get_args(v)) out->push_back(a);
        if (const milo_value* s = milo_value_get_state(v)) out->push_back(s);
    } else if (kind == MILO_KIND_TENSOR) {
        int32_t dtype = 0;
        const int64_t* shape = nullptr;
        size_t ndim = 0;
        if (milo_value_get_tensor(v, &dtype, &shape, &ndim, nullptr) == MILO_OK &&
            dtype == MILO_DTYPE_OBJECT) {
            size_t n = milo_value_count(v);
            for (size_t i = 0; i < n; ++i)
                if (const milo_value* c = milo_value_tensor_item_at(v, i)) out->push_back(c);
        }
    }
}

namespace {

// Calls `fn` once per node with identity and once per scalar occurrence, iteratively.
template <typename Fn>
void walk_unique(const milo_value* root, Fn fn) {
    if (root == nullptr) return;
    std::unordered_set<const milo_value*> seen;
    std::vector<const milo_value*> stack{root};
    std::vector<const milo_value*> kids;
    while (!stack.empty()) {
        const milo_value* v = stack.back();
        stack.pop_back();
        int32_t kind = milo_value_get_kind(v);
        if (has_identity(kind) && !seen.insert(v).second) continue;
        fn(v, kind);
        kids.clear();
        value_children(v, &kids);
        for (size_t i = kids.size(); i-- > 0;) stack.push_back(kids[i]);
    }
}

}  // namespace

DocCounts count_doc(const milo_doc* doc) {
    DocCounts c;
    c.values = milo_doc_value_count(doc);
    walk_unique(milo_doc_get_root(doc), [&](const milo_value* v, int32_t kind) {
        if (kind == MILO_KIND_OBJECT) ++c.objects;
        if (kind != MILO_KIND_TENSOR) return;
        ++c.tensors;
        int32_t dtype = 0;
        const int64_t* shape = nullptr;
        size_t ndim = 0;
        if (milo_value_get_tensor(v, &dtype, &shape, &ndim, nullptr) != MILO_OK) return;
        uint64_t n = milo_value_count(v);
        c.tensor_elements += n;
        if (codec::dtype_is_numeric(dtype)) c.parameters += n;
        if (codec::dtype_is_numeric(dtype) || dtype == MILO_DTYPE_RECORD) {
            const void* data = nullptr;
            size_t nbytes = 0;
            if (milo_value_tensor_data(v, &data, &nbytes, nullptr) == MILO_OK)
                c.tensor_bytes += nbytes;
        }
    });
    return c;
}

std::vector<std::string> named_types(const milo_doc* doc) {
    std::vector<std::string> out;
    std::unordered_set<std::string> seen;
    walk_unique(milo_doc_get_root(doc), [&](const milo_value* v, int32_t kind) {
        if (kind != MILO_KIND_OBJECT && kind != MILO_KIND_GLOBAL) return;
        const char* name = nullptr;
        if (milo_value_get_name(v, &name, nullptr) == MILO_OK && name && seen.insert(name).second)
            out.push_back(name);
    });
    return out;
}

void ShareIds::build(const milo_value* root) {
    ids_.clear();
    if (root == nullptr) return;
    std::unordered_map<const milo_value*, uint32_t> counts;
    std::vector<const milo_value*> stack{root};
    std::vector<const milo_value*> kids;
    while (!stack.empty()) {
        const milo_value* v = stack.back();
        stack.pop_back();
        if (!has_identity(milo_value_get_kind(v))) continue;
        if (++counts[v] > 1) continue;
        kids.clear();
        value_children(v, &kids);
        for (size_t i = kids.size(); i-- > 0;) stack.push_back(kids[i]);
    }
    // second pass in document order hands out ids at first occurrences
    uint64_t next = 0;
    std::unordered_set<const milo_value*> expanded;
    stack.assign(1, root);
    while (!stack.empty()) {
        const milo_value* v = stack.back();
        stack.pop_back();
        if (!has_identity(milo_value_get_kind(v))) continue;
        if (!expanded.insert(v).second) continue;
        if (counts[v] > 1) ids_[v] = ++next;
        kids.clear();
        value_children(v, &kids);
        for (size_t i = kids.size(); i-- > 0;) stack.push_back(kids[i]);
    }
}

uint64_t ShareIds::id(const milo_value* v) const {
    auto it = ids_.find(v);
    return it == ids_.end() ? 0 : it->second;
}

}  // namespace cli
}  // namespace milo
