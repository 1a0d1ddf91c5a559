// Reading joblib files and plain pickles (see joblib_reader.hpp).
//
// joblib (numpy_pickle.py) replaces each ndarray by a NumpyArrayWrapper object and writes the
// array right after the wrapper's BUILD opcode, outside the pickle's own framing:
//   * dtype with Python objects (numpy's `hasobject`: 'O', or records/subarrays holding 'O'):
//     a complete pickle (pickle.dump(array, protocol=2)) follows; its root is the array.
//   * otherwise, when the state has 'numpy_array_alignment_bytes' A (joblib >= 1.2) and A is
//     not None: one byte N, then N bytes 0xff, then the items; joblib writes
//     N = A - (position after N) % A, so 1 <= N <= A and the items start aligned (A = 16).
//     Older files (no key) and files written where tell() is unsupported (A = None) have no
//     padding. The items are count * itemsize bytes in the wrapper's 'order', count being the
//     product of 'shape' (1 for shape ()).
// The reader is stricter than joblib: the state must have exactly the keys joblib writes, and
// the padding must be what joblib writes.
#include "milo/readers/joblib_reader.hpp"

#include <cstdio>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "milo/readers/numpy_graph.hpp"

namespace milo {
namespace readers {
namespace {

using pickle::Kind;
using pickle::Node;

using pickle::is_global;

bool is_wrapper_class(const Node* n) {
    return is_global(n, "joblib.numpy_pickle", "NumpyArrayWrapper") ||
           is_global(n, "sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper");
}

// The wrapper class as written by protocol >= 2 (NEWOBJ) and by protocols 0/1
// (copyreg._reconstructor(cls, object, None) through REDUCE).
bool is_wrapper(const Node* n) {
    if (n->kind == Kind::NewObj) return is_wrapper_class(n->callable);
    return n->kind == Kind::Reduce && is_global(n->callable, "copyreg", "_reconstructor") &&
           n->args != nullptr && n->args->kind == Kind::Tuple && !n->args->items.empty() &&
           is_wrapper_class(n->args->items[0]);
}

// numpy's dtype.hasobject. Dtype nodes may be shared, so each is visited once.
bool has_object(const numpy::DType& root) {
    std::vector<const numpy::DType*> todo{&root};
    std::unordered_set<const numpy::DType*> seen;
    while (!todo.empty()) {
        const numpy::DType* t = todo.back();
        todo.pop_back();
        if (!seen.insert(t).second) continue;
        if (t->is_object()) return true;
        for (const numpy::Field& f : t->fields)
            if (f.type) todo.push_back(f.type.get());
        if (t->base) todo.push_back(t->base.get());
    }
    return false;
}

std::string hex_prefix(const uint8_t* data, size_t size) {
    std::string out;
    for (size_t i = 0; i < size && i < 8; ++i) {
        char b[4];
        std::snprintf(b, sizeof b, i ? " %02x" : "%02x", data[i]);
        out += b;
    }
    return out;
}

// What the state of one wrapper says about the bytes that follow it.
struct WrapperState {
    uint64_t count = 1;  // items: product of the shape
    uint64_t itemsize = 0;
    bool objects = false;   // a nested pickle follows
    int64_t alignment = 0;  // 0: no padding byte
};

[[noreturn]] void wrapper_error(const Node* w, const std::string& why) {
    throw pickle::Error(w->offset, "joblib: NumpyArrayWrapper " + why);
}

WrapperState parse_state(const Node* w) {
    auto fail = [w](const std::string& why) { wrapper_error(w, why); };
    if (w->states.size() != 1 || w->payload != nullptr) fail("is built more than once");
    if (!w->list_items.empty() || !w->dict_items.empty()) fail("has items appended to it");
    const Node* st = w->states[0];
    if (st->kind != Kind::Dict)
        fail(std::string("state is a ") + pickle::kind_name(st->kind) + ", expected a dict");

    const Node* subclass = nullptr;
    const Node* shape = nullptr;
    const Node* order = nullptr;
    const Node* dtype = nullptr;
    const Node* mmap = nullptr;
    const Node* align = nullptr;
    bool has_align = false;
    for (size_t i = 0; i + 1 < st->items.size(); i += 2) {
        const Node* k = st->items[i];
        if (k->kind != Kind::Str) fail("state has a key that is not a str");
        const Node** slot = k->text == "subclass"                      ? &subclass
                            : k->text == "shape"                       ? &shape
                            : k->text == "order"                       ? &order
                            : k->text == "dtype"                       ? &dtype
                            : k->text == "allow_mmap"                  ? &mmap
                            : k->text == "numpy_array_alignment_bytes" ? &align
                                                                       : nullptr;
        if (slot == nullptr)
            fail("state has an unknown key '" + std::string(k->text.substr(0, 64)) + "'");
        if (*slot != nullptr) fail("state has the key '" + std::string(k->text) + "' twice");
        *slot = st->items[i + 1];
        has_align |= slot == &align;
    }
    if (!subclass || !shape || !order || !dtype || !mmap)
        fail(std::string("state lacks '") +
             (!subclass ? "subclass"
              : !shape  ? "shape"
              : !order  ? "order"
              : !dtype  ? "dtype"
                        : "allow_mmap") +
             "'");
    if (subclass->kind != Kind::Global) fail("'subclass' is not a global");
    if (mmap->kind != Kind::Bool) fail("'allow_mmap' is not a bool");
    if (order->kind != Kind::Str || (order->text != "C" && order->text != "F"))
        fail("'order' is not 'C' or 'F'");

    WrapperState out;
    if (shape->kind != Kind::Tuple) fail("'shape' is not a tuple");
    for (const Node* d : shape->items) {
        if (d->kind != Kind::Int || d->i < 0)
            fail("'shape' has a dimension that is not an int >= 0");
        const uint64_t n = uint64_t(d->i);
        if (n != 0 && out.count > std::numeric_limits<uint64_t>::max() / n)
            fail("'shape' has more items than 2^64");
        out.count *= n;
    }
    std::shared_ptr<const numpy::DType> dt;
    try {
        dt = numpy::parse_dtype(dtype);
    } catch (const pickle::Error& e) {
        fail(std::string("'dtype' is a malformed numpy.dtype (") + e.what() + ")");
    }
    if (!dt) fail("'dtype' is not a numpy.dtype");
    out.itemsize = dt->itemsize;
    out.objects = has_object(*dt);
    if (has_align && align->kind != Kind::None) {
        if (align->kind != Kind::Int || align->i < 1)
            fail("'numpy_array_alignment_bytes' is not None or an int >= 1");
        out.alignment = align->i;
    }
    return out;
}

// The BuildHook: reads the array that follows a wrapper and attaches it as the payload.
void read_wrapper(pickle::Graph& graph, Node* w, pickle::Cursor& in,
                  const pickle::Options& options) {
    const WrapperState st = parse_state(w);
    const uint64_t base = in.offset() - in.pos();
    if (st.objects) {
        // A plain pickle.load in joblib: a fresh memo and no wrapper hook (so no recursion).
        pickle::Options nested;
        nested.allow_trailing = true;
        nested.py2_strings = options.py2_strings;
        nested.base_offset = base;
        Node* const outer_root = graph.root;
        size_t end;
        try {
            end = pickle::run(graph, in.data(), in.size(), nested, in.pos());
        } catch (const pickle::Error& e) {
            throw pickle::Error(e.offset(), e.reason() +
                                                " (in the pickled object array after the "
                                                "NumpyArrayWrapper at byte " +
                                                std::to_string(w->offset) + ")");
        }
        w->payload = graph.root;
        graph.root = outer_root;
        in.seek(end);
        return;
    }
    if (st.alignment != 0) {
        const uint64_t at = in.offset();
        if (in.remaining() < 1)
            throw pickle::Error(at,
                                "joblib: expected the padding length byte of the array data, "
                                "found the end of the stream");
        const uint8_t n = uint8_t(in.take(1, "joblib padding length")[0]);
        if (n < 1 || n > st.alignment)
            throw pickle::Error(at, "joblib: array padding length is " + std::to_string(n) +
                                        ", expected 1 to " + std::to_string(st.alignment) +
                                        " (numpy_array_alignment_bytes)");
        if (in.remaining() < n)
            throw pickle::Error(at, "joblib: array padding of " + std::to_string(n) +
                                        " bytes is cut short by the end of the stream");
        const std::string_view pad = in.take(n, "joblib padding");
        for (size_t i = 0; i < pad.size(); ++i)
            if (uint8_t(pad[i]) != 0xff)
                throw pickle::Error(at + 1 + i, "joblib: array padding byte is not 0xff");
    }
    if (st.itemsize != 0 && st.count > std::numeric_limits<uint64_t>::max() / st.itemsize)
        throw pickle::Error(w->offset, "joblib: NumpyArrayWrapper array has more than 2^64 bytes");
    const uint64_t nbytes = st.count * st.itemsize;
    const uint64_t at = in.offset();
    if (nbytes > in.remaining())
        throw pickle::Error(at, "joblib: array data of the NumpyArrayWrapper at byte " +
                                    std::to_string(w->offset) + " needs " + std::to_string(nbytes) +
                                    " bytes, only " + std::to_string(in.remaining()) + " remain");
    Node* bytes = graph.make(Kind::Bytes, at);
    bytes->text = in.take(size_t(nbytes), "joblib array data");  // a view: no copy
    w->payload = bytes;
}

void run_joblib(pickle::Graph& graph, const uint8_t* data, size_t size,
                const pickle::Options& options, bool& joblib) {
    pickle::Options o = options;
    o.build_hook = [&options, &joblib](pickle::Graph& g, Node* built, pickle::Cursor& in) {
        if (is_wrapper(built)) {
            read_wrapper(g, built, in, options);
            joblib = true;
        }
        if (options.build_hook) options.build_hook(g, built, in);
    };
    pickle::run(graph, data, size, o);
}

}  // namespace

void read_pickle_or_joblib(pickle::Graph& graph, const uint8_t* data, size_t size,
                           PickleSource& source, const pickle::Options& options,
                           const DecompressLimits& limits) {
    source.container = sniff(data, size);
    source.storage.clear();
    source.joblib = false;
    switch (source.container) {
        case Container::Pickle:
            run_joblib(graph, data, size, options, source.joblib);
            return;
        case Container::Zip:
            throw pickle::Error(0,
                                "a zip archive (e.g. a PyTorch .pt or TorchScript file), not "
                                "a pickle or joblib file");
        case Container::Unknown:
            if (size == 0) throw pickle::Error(0, "empty input, expected a pickle or joblib file");
            if (size >= 2 && data[0] == 'Z' && data[1] == 'F')
                throw pickle::Error(0,
                                    "a compressed file of joblib < 0.10 ('ZF' header), which "
                                    "is not supported; expected a pickle or joblib file");
            throw pickle::Error(
                0, "not a pickle or joblib file: it starts with bytes " + hex_prefix(data, size));
        default:
            break;
    }
    const std::string where =
        std::string(" (in the ") + container_name(source.container) + "-decompressed stream)";
    source.storage = decompress(source.container, data, size, limits);
    const auto* d = reinterpret_cast<const uint8_t*>(source.storage.data());
    const size_t n = source.storage.size();
    if (sniff(d, n) != Container::Pickle)
        throw pickle::Error(0, "not a pickle: it starts with bytes " +
                                   (n ? hex_prefix(d, n) : std::string("(none: empty)")) + where);
    try {
        run_joblib(graph, d, n, options, source.joblib);
    } catch (const pickle::Error& e) {
        throw pickle::Error(e.offset(), e.reason() + where);
    }
}

}  // namespace readers
}  // namespace milo
