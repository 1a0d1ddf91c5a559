// Recognition of numpy dtypes, arrays and scalars in a pickle graph (see numpy_graph.hpp).
// The layouts follow numpy's __reduce__/__setstate__ (dtype state versions 3 and 4, ndarray
// state (version, shape, dtype, is_fortran, data)) and joblib's NumpyArrayWrapper state.
#include "milo/readers/numpy_graph.hpp"

#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>

namespace milo {
namespace numpy {
namespace {

using pickle::Kind;
using pickle::Node;

constexpr int kMaxDTypeDepth = 32;  // structured dtypes nested deeper than this are refused

[[noreturn]] void fail(const Node* at, const std::string& reason) {
    throw pickle::Error(at ? at->offset : 0, reason);
}

using pickle::is_global;

bool is_core_global(const Node* n, std::string_view sub, std::string_view name) {
    return n != nullptr && n->kind == Kind::Global && n->name == name &&
           is_numpy_core(n->text, sub);
}

bool is_int(const Node* n) { return n && (n->kind == Kind::Int || n->kind == Kind::Bool); }

int64_t int_at(const Node* tuple, size_t i, const char* what) {
    const Node* n = tuple->items[i];
    if (!is_int(n)) fail(n, std::string("numpy: ") + what + " is a " + pickle::kind_name(n->kind) +
                                ", expected an int");
    return n->i;
}

std::string_view str_at(const Node* tuple, size_t i, const char* what) {
    const Node* n = tuple->items[i];
    if (n->kind != Kind::Str)
        fail(n, std::string("numpy: ") + what + " is a " + pickle::kind_name(n->kind) +
                    ", expected a str");
    return n->text;
}

// A shape tuple: ints ≥ 0 whose product (and product × itemsize) fits in 64 bits.
std::vector<int64_t> shape_of(const Node* n, const char* what) {
    if (n == nullptr || n->kind != Kind::Tuple)
        fail(n, std::string("numpy: ") + what + " is not a tuple");
    std::vector<int64_t> shape;
    shape.reserve(n->items.size());
    for (const Node* d : n->items) {
        if (!is_int(d) || d->i < 0)
            fail(d, std::string("numpy: ") + what + " has a dimension that is not an int >= 0");
        shape.push_back(d->i);
    }
    return shape;
}

uint64_t checked_bytes(const std::vector<int64_t>& shape, uint64_t itemsize, const Node* at) {
    uint64_t count = 1;
    for (int64_t d : shape) {
        if (d != 0 && count > std::numeric_limits<uint64_t>::max() / uint64_t(d))
            fail(at, "numpy: shape product overflows 64 bits");
        count *= uint64_t(d);
    }
    if (itemsize != 0 && count > std::numeric_limits<uint64_t>::max() / itemsize)
        fail(at, "numpy: array byte count overflows 64 bits");
    return count * itemsize;
}

uint64_t element_count(const std::vector<int64_t>& shape, const Node* at) {
    return checked_bytes(shape, 1, at);
}

// Digits after the kind letter of a dtype spec ("f8" → 8); -1 when there are none.
int64_t spec_size(std::string_view spec) {
    if (spec.size() < 2 || spec.size() > 12) return -1;
    int64_t v = 0;
    for (size_t i = 1; i < spec.size(); ++i) {
        if (spec[i] < '0' || spec[i] > '9') return -1;
        v = v * 10 + (spec[i] - '0');
    }
    return v;
}

// Dtype nodes may be shared (memo) at every level: parsing each node once keeps a fan-out of
// shared field dtypes from expanding exponentially.
using DTypeCache = std::unordered_map<const Node*, std::shared_ptr<const DType>>;

std::shared_ptr<const DType> parse_dtype_at(const Node* node, int depth, DTypeCache& cache);

std::shared_ptr<const DType> require_dtype(const Node* n, int depth, const char* what,
                                           DTypeCache& cache) {
    auto d = parse_dtype_at(n, depth, cache);
    if (!d) fail(n, std::string("numpy: ") + what + " is not a numpy.dtype");
    return d;
}

std::shared_ptr<const DType> parse_dtype_at(const Node* node, int depth, DTypeCache& cache) {
    if (node == nullptr || node->kind != Kind::Reduce || !is_global(node->callable, "numpy", "dtype"))
        return nullptr;
    if (depth > kMaxDTypeDepth) fail(node, "numpy: dtype nested deeper than 32 levels");
    auto cached = cache.find(node);
    if (cached != cache.end()) return cached->second;
    auto dt = std::make_shared<DType>();
    dt->node = node;
    const Node* args = node->args;
    if (args == nullptr || args->items.size() != 3 || args->items[0]->kind != Kind::Str ||
        !is_int(args->items[1]) || !is_int(args->items[2]))
        fail(node, "numpy: numpy.dtype arguments are not (spec, align, copy)");
    dt->spec = std::string(args->items[0]->text);
    if (dt->spec.empty()) fail(node, "numpy: empty dtype spec");
    dt->kind = dt->spec[0];
    static const std::string_view kKinds = "biufcSUVOMm";
    if (kKinds.find(dt->kind) == std::string_view::npos)
        fail(node, "numpy: unknown dtype kind in spec \"" + dt->spec + "\"");
    int64_t size = spec_size(dt->spec);
    if (node->states.size() != 1)
        fail(node, "numpy: numpy.dtype expects exactly one BUILD state, found " +
                       std::to_string(node->states.size()));
    const Node* st = node->states[0];
    if (st->kind != Kind::Tuple || (st->items.size() != 8 && st->items.size() != 9))
        fail(st, "numpy: dtype state is not an 8- or 9-tuple");
    dt->state_version = int(int_at(st, 0, "dtype state version"));
    if (dt->state_version != 3 && dt->state_version != 4)
        fail(st, "numpy: dtype state version " + std::to_string(dt->state_version) +
                     " is not supported (3 or 4)");
    std::string_view order = str_at(st, 1, "dtype byte order");
    if (order != "<" && order != ">" && order != "|" && order != "=")
        fail(st->items[1], "numpy: dtype byte order is not one of < > | =");
    dt->byteorder = order[0];
    const Node* sub = st->items[2];
    if (sub->kind != Kind::None) {
        if (sub->kind != Kind::Tuple || sub->items.size() != 2)
            fail(sub, "numpy: dtype subarray is not (base, shape)");
        dt->base = require_dtype(sub->items[0], depth + 1, "subarray base", cache);
        dt->subarray_shape = shape_of(sub->items[1], "subarray shape");
    }
    const Node* names = st->items[3];
    const Node* fields = st->items[4];
    if ((names->kind == Kind::None) != (fields->kind == Kind::None))
        fail(names, "numpy: dtype has names without fields or fields without names");
    if (names->kind != Kind::None) {
        if (names->kind != Kind::Tuple || fields->kind != Kind::Dict)
            fail(names, "numpy: dtype names/fields are not a tuple and a dict");
        // By name: a dtype may have many fields (lookup must not be quadratic).
        std::unordered_map<std::string_view, const Node*> by_name;
        for (size_t i = 0; i + 1 < fields->items.size(); i += 2)
            if (fields->items[i]->kind == Kind::Str)
                by_name.emplace(fields->items[i]->text, fields->items[i + 1]);
        for (const Node* nm : names->items) {
            if (nm->kind != Kind::Str) fail(nm, "numpy: dtype field name is not a str");
            auto found = by_name.find(nm->text);
            const Node* entry = found == by_name.end() ? nullptr : found->second;
            if (entry == nullptr)
                fail(nm, "numpy: dtype field \"" + std::string(nm->text) + "\" missing from fields");
            if (entry->kind != Kind::Tuple || entry->items.size() < 2 || entry->items.size() > 3)
                fail(entry, "numpy: dtype field entry is not (dtype, offset[, title])");
            Field f;
            f.name = std::string(nm->text);
            f.type = require_dtype(entry->items[0], depth + 1, "field dtype", cache);
            int64_t off = int_at(entry, 1, "field offset");
            if (off < 0) fail(entry, "numpy: negative field offset");
            f.offset = uint64_t(off);
            if (entry->items.size() == 3) f.title = entry->items[2];
            dt->fields.push_back(std::move(f));
        }
    }
    int64_t elsize = int_at(st, 5, "dtype elsize");
    dt->alignment = int_at(st, 6, "dtype alignment");
    dt->flags = int_at(st, 7, "dtype flags");
    if (st->items.size() == 9) dt->metadata = st->items[8];
    // Item size: flexible types (S, U, V) carry it in the state; others in the spec.
    if (elsize != -1) {
        if (elsize < 0) fail(st, "numpy: negative dtype elsize");
        size = elsize;
    } else if (dt->kind == 'M' || dt->kind == 'm') {
        size = 8;
    }
    if (size < 0) fail(node, "numpy: dtype spec \"" + dt->spec + "\" has no item size");
    if (size > (int64_t(1) << 40)) fail(node, "numpy: dtype item size is implausibly large");
    dt->itemsize = uint64_t(size);
    if (dt->base) {
        uint64_t want = checked_bytes(dt->subarray_shape, dt->base->itemsize, node);
        if (want != dt->itemsize) fail(node, "numpy: subarray dtype size does not match its base");
    }
    for (const Field& f : dt->fields)
        if (f.offset > dt->itemsize || f.type->itemsize > dt->itemsize - f.offset)
            fail(node, "numpy: field \"" + f.name + "\" lies outside the item");
    cache.emplace(node, dt);
    return dt;
}

// ndarray state (version, shape, dtype, is_fortran, data) or the 4-tuple without version.
bool fill_from_state(const Node* node, const Node* state, Array& out) {
    DTypeCache cache;
    if (state->kind != Kind::Tuple || (state->items.size() != 5 && state->items.size() != 4))
        fail(state, "numpy: ndarray state is not a 5-tuple (version, shape, dtype, fortran, data)");
    size_t k = state->items.size() == 5 ? 1 : 0;
    if (k == 1 && (!is_int(state->items[0]) || state->items[0]->i != 1))
        fail(state->items[0], "numpy: ndarray state version is not 1");
    out.shape = shape_of(state->items[k], "ndarray shape");
    out.dtype = require_dtype(state->items[k + 1], 0, "ndarray dtype", cache);
    const Node* fortran = state->items[k + 2];
    if (!is_int(fortran)) fail(fortran, "numpy: ndarray is_fortran is not a bool");
    out.fortran = fortran->i != 0;
    const Node* data = state->items[k + 3];
    if (out.dtype->has_object()) {
        if (data->kind != Kind::List) fail(data, "numpy: object array data is not a list");
        if (element_count(out.shape, node) != data->items.size())
            fail(data, "numpy: object array has " + std::to_string(data->items.size()) +
                           " items, its shape needs " +
                           std::to_string(element_count(out.shape, node)));
        out.objects.assign(data->items.begin(), data->items.end());
        return true;
    }
    if (!bytes_value(data, out.data, out.owned))
        fail(data, std::string("numpy: ndarray data is a ") + pickle::kind_name(data->kind) +
                       ", expected bytes");
    uint64_t want = checked_bytes(out.shape, out.dtype->itemsize, node);
    if (want != out.data.size())
        fail(data, "numpy: ndarray data has " + std::to_string(out.data.size()) +
                       " bytes, shape and dtype need " + std::to_string(want));
    return true;
}

const Node* dict_get(const Node* dict, std::string_view key) {
    for (size_t i = 0; i + 1 < dict->items.size(); i += 2)
        if (dict->items[i]->kind == Kind::Str && dict->items[i]->text == key)
            return dict->items[i + 1];
    return nullptr;
}

bool parse_joblib(const Node* node, Array& out) {
    DTypeCache cache;
    if (node->states.size() != 1 || node->states[0]->kind != Kind::Dict)
        fail(node, "joblib: NumpyArrayWrapper state is not a dict");
    const Node* st = node->states[0];
    const Node* payload = node->payload;
    if (payload == nullptr) fail(node, "joblib: NumpyArrayWrapper without array data");
    const Node* subclass = dict_get(st, "subclass");
    if (!is_global(subclass, "numpy", "ndarray"))
        fail(node, "joblib: NumpyArrayWrapper subclass is not numpy.ndarray");
    const Node* dtype = dict_get(st, "dtype");
    const Node* shape = dict_get(st, "shape");
    const Node* order = dict_get(st, "order");
    if (!dtype || !shape || !order) fail(node, "joblib: NumpyArrayWrapper state lacks dtype/shape/order");
    out.dtype = require_dtype(dtype, 0, "NumpyArrayWrapper dtype", cache);
    out.shape = shape_of(shape, "NumpyArrayWrapper shape");
    if (order->kind != Kind::Str || (order->text != "C" && order->text != "F"))
        fail(order, "joblib: NumpyArrayWrapper order is not 'C' or 'F'");
    out.fortran = order->text == "F";
    if (out.dtype->has_object()) {
        // The nested pickle holds the whole object array; take its elements.
        Array inner;
        if (!parse_array(payload, inner) || !inner.dtype->has_object())
            fail(payload, "joblib: object array payload is not an object ndarray");
        if (inner.shape != out.shape) fail(payload, "joblib: object array payload shape differs");
        out.objects = std::move(inner.objects);
        out.fortran = inner.fortran;
        return true;
    }
    if (payload->kind != Kind::Bytes) fail(payload, "joblib: array payload is not bytes");
    out.data = payload->text;
    if (checked_bytes(out.shape, out.dtype->itemsize, node) != out.data.size())
        fail(payload, "joblib: array payload size does not match shape and dtype");
    return true;
}

}  // namespace

bool DType::little_endian() const noexcept { return byteorder != '>'; }

bool DType::has_object() const noexcept {
    if (kind == 'O' || (base && base->has_object())) return true;
    for (const Field& f : fields)
        if (f.type->has_object()) return true;
    return false;
}

bool is_numpy_core(std::string_view module, std::string_view sub) {
    for (std::string_view prefix : {std::string_view("numpy.core."), std::string_view("numpy._core.")})
        if (module.size() == prefix.size() + sub.size() && module.substr(0, prefix.size()) == prefix &&
            module.substr(prefix.size()) == sub)
            return true;
    return false;
}

const Node* object_class(const Node* node) {
    if (node == nullptr) return nullptr;
    if (node->kind == Kind::NewObj && node->callable && node->callable->kind == Kind::Global)
        return node->callable;
    if (node->kind == Kind::Reduce && is_global(node->callable, "copyreg", "_reconstructor") &&
        node->args && !node->args->items.empty() && node->args->items[0]->kind == Kind::Global)
        return node->args->items[0];
    return nullptr;
}

bool bytes_value(const Node* node, std::string_view& out, std::string& owned) {
    if (node == nullptr) return false;
    if (node->kind == Kind::Bytes || node->kind == Kind::ByteArray ||
        (node->kind == Kind::Buffer && node->readonly)) {
        out = node->text;
        return true;
    }
    if (node->kind != Kind::Reduce || node->callable == nullptr) return false;
    const Node* args = node->args;
    if (is_global(node->callable, "builtins", "bytes") && args && args->items.empty()) {
        out = {};
        return true;
    }
    if (!is_global(node->callable, "_codecs", "encode") || !args || args->items.size() != 2 ||
        args->items[0]->kind != Kind::Str || args->items[1]->kind != Kind::Str ||
        args->items[1]->text != "latin1")
        return false;
    // UTF-8 text whose code points are all < 256 → one byte each.
    std::string_view s = args->items[0]->text;
    owned.clear();
    owned.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            owned.push_back(char(c));
        } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
            owned.push_back(char(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[++i]) & 0x3F)));
        } else {
            fail(node, "_codecs.encode: text has a code point above U+00FF for latin1");
        }
    }
    out = owned;
    return true;
}

std::shared_ptr<const DType> parse_dtype(const Node* node) {
    DTypeCache cache;
    return parse_dtype_at(node, 0, cache);
}

bool parse_array(const Node* node, Array& out) {
    if (node == nullptr) return false;
    out.node = node;
    if (node->kind == Kind::Reduce && is_core_global(node->callable, "multiarray", "_reconstruct")) {
        const Node* args = node->args;
        if (args->items.size() != 3 || !is_global(args->items[0], "numpy", "ndarray"))
            return false;  // a subclass (matrix, MaskedArray …): left to the generic mapping
        if (node->states.size() != 1)
            fail(node, "numpy: ndarray expects exactly one BUILD state, found " +
                           std::to_string(node->states.size()));
        if (!node->list_items.empty() || !node->dict_items.empty())
            fail(node, "numpy: ndarray with appended items");
        out.module = std::string(node->callable->text);
        out.form = "reconstruct";
        return fill_from_state(node, node->states[0], out);
    }
    if (node->kind == Kind::Reduce && is_core_global(node->callable, "numeric", "_frombuffer")) {
        const Node* args = node->args;
        if (args->items.size() != 4) fail(node, "numpy: _frombuffer expects 4 arguments");
        if (!node->states.empty() || !node->list_items.empty() || !node->dict_items.empty())
            fail(node, "numpy: _frombuffer result is modified after construction");
        out.module = std::string(node->callable->text);
        out.form = "frombuffer";
        DTypeCache cache;
        out.dtype = require_dtype(args->items[1], 0, "_frombuffer dtype", cache);
        if (out.dtype->has_object()) fail(node, "numpy: _frombuffer of an object dtype");
        out.shape = shape_of(args->items[2], "_frombuffer shape");
        const Node* order = args->items[3];
        if (order->kind != Kind::Str || (order->text != "C" && order->text != "F"))
            fail(order, "numpy: _frombuffer order is not 'C' or 'F'");
        out.fortran = order->text == "F";
        const Node* buf = args->items[0];
        if (buf->kind == Kind::Buffer && buf->text.empty() &&
            checked_bytes(out.shape, out.dtype->itemsize, node) != 0)
            fail(buf, "numpy: array data is an out-of-band buffer that was not supplied");
        if (buf->kind == Kind::Buffer) {
            out.data = buf->text;
        } else if (!bytes_value(buf, out.data, out.owned)) {
            fail(buf, "numpy: _frombuffer buffer is not bytes");
        }
        if (checked_bytes(out.shape, out.dtype->itemsize, node) != out.data.size())
            fail(buf, "numpy: _frombuffer has " + std::to_string(out.data.size()) +
                          " bytes, shape and dtype need " +
                          std::to_string(checked_bytes(out.shape, out.dtype->itemsize, node)));
        return true;
    }
    const Node* cls = object_class(node);
    if (cls && cls->name == "NumpyArrayWrapper" &&
        (cls->text == "joblib.numpy_pickle" || cls->text == "sklearn.externals.joblib.numpy_pickle")) {
        out.module = std::string(cls->text);
        out.form = "joblib";
        return parse_joblib(node, out);
    }
    return false;
}

bool parse_scalar(const Node* node, Scalar& out) {
    if (node == nullptr || node->kind != Kind::Reduce ||
        !is_core_global(node->callable, "multiarray", "scalar"))
        return false;
    const Node* args = node->args;
    if (args->items.size() != 2) fail(node, "numpy: scalar expects (dtype, data)");
    out.node = node;
    out.module = std::string(node->callable->text);
    DTypeCache cache;
    out.dtype = require_dtype(args->items[0], 0, "scalar dtype", cache);
    if (out.dtype->is_object()) return false;  // scalar(dtype('O'), obj): generic mapping
    if (!bytes_value(args->items[1], out.data, out.owned))
        fail(args->items[1], "numpy: scalar data is not bytes");
    if (out.data.size() != out.dtype->itemsize)
        fail(args->items[1], "numpy: scalar has " + std::to_string(out.data.size()) +
                                 " bytes, its dtype needs " + std::to_string(out.dtype->itemsize));
    return true;
}

}  // namespace numpy
}  // namespace milo
