// libFuzzer target for the safe pickle VM (sdk/readers, static library milo_readers).
// The first byte chooses the options, the rest is the stream:
//   bit 0 allow_unresolved_buffers, bits 1-2 py2_strings (Ascii, Latin1, Bytes), bit 3
//   allow_trailing, bit 4 two out-of-band buffers given, bit 5 base_offset 1000, bit 6 a build
//   hook that takes one byte after each BUILD (as joblib's takes array data), bit 7 a build hook
//   that runs the pickle following each BUILD into the same graph (as joblib's object arrays).
// Besides "no crash, no leak, no hang, no unbounded allocation":
//   * only pickle::Error may escape, with what() == "byte N: reason" and N inside the input;
//   * an accepted stream has a root; without allow_trailing it ends exactly at the input's end;
//   * the graph is sound: node count bounded by the opcode count, every Global node names its
//     GlobalRef, every GlobalRef has a usage, every Long needs more than 8 bytes and is minimal.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include "milo/readers/pickle_vm.hpp"

namespace pk = milo::pickle;

namespace {

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_pickle: %s: %s\n", what, detail.c_str());
    std::abort();
}

void check_graph(const pk::Graph& g) {
    if (!g.root) bug("accepted without a root", "");
    if (g.node_count() > 3 * g.opcode_count + 8)
        bug("too many nodes", std::to_string(g.node_count()));
    for (const pk::GlobalRef& ref : g.globals)
        if (!ref.called && !ref.instantiated && !ref.referenced)
            bug("global without usage", ref.full_name());
    std::unordered_set<const pk::Node*> seen;
    std::vector<const pk::Node*> todo{g.root};
    auto push = [&](const pk::Node* n) {
        if (n && seen.insert(n).second) todo.push_back(n);
    };
    while (!todo.empty()) {
        const pk::Node* n = todo.back();
        todo.pop_back();
        if (n->kind == pk::Kind::Global) {
            if (n->global >= g.globals.size()) bug("global index out of range", "");
            const pk::GlobalRef& ref = g.globals[n->global];
            if (n->text != ref.module || n->name != ref.name)
                bug("global node/ref mismatch", ref.full_name());
        }
        if (n->kind == pk::Kind::Long) {
            const auto* p = reinterpret_cast<const uint8_t*>(n->text.data());
            const size_t k = n->text.size();
            const bool redundant = k > 1 && ((p[k - 1] == 0 && !(p[k - 2] & 0x80)) ||
                                             (p[k - 1] == 0xFF && (p[k - 2] & 0x80)));
            if (k <= 8 || redundant) bug("Long not minimal or fits int64", std::to_string(k));
        }
        for (const pk::Node* c : n->items) push(c);
        for (const pk::Node* c : n->states) push(c);
        for (const pk::Node* c : n->list_items) push(c);
        for (const pk::Node* c : n->dict_items) push(c);
        push(n->callable);
        push(n->args);
        push(n->kwargs);
        push(n->payload);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const uint8_t flags = data[0];
    const uint8_t* stream = data + 1;
    const size_t n = size - 1;
    static const std::vector<std::string_view> buffers{"out-of-band", ""};
    pk::Options o;
    o.allow_unresolved_buffers = flags & 1;
    o.py2_strings = static_cast<pk::Py2Strings>(((flags >> 1) & 3) % 3);
    o.allow_trailing = flags & 8;
    if (flags & 16) o.buffers = &buffers;
    o.base_offset = (flags & 32) ? 1000 : 0;
    int depth = 0;
    if (flags & 64) {
        o.build_hook = [](pk::Graph& g, pk::Node* built, pk::Cursor& in) {
            if (in.remaining() == 0) return;
            pk::Node* payload = g.make(pk::Kind::Bytes, in.offset());
            payload->text = in.take(1, "hook byte");
            built->payload = payload;
        };
    } else if (flags & 128) {
        o.build_hook = [&depth, &o](pk::Graph& g, pk::Node* built, pk::Cursor& in) {
            if (depth >= 4 || in.remaining() == 0) return;  // joblib nests one level
            pk::Options nested = o;
            nested.allow_trailing = true;
            nested.base_offset = in.offset() - in.pos();
            ++depth;
            const size_t end = pk::run(g, in.data(), in.size(), nested, in.pos());
            --depth;
            built->payload = g.root;
            in.seek(end);
        };
    }
    pk::Graph g;
    size_t end = 0;
    try {
        end = pk::run(g, stream, n, o);
    } catch (const pk::Error& e) {
        if (e.offset() < o.base_offset || e.offset() > o.base_offset + n)
            bug("error offset outside the input", e.what());
        if (std::string(e.what()) != "byte " + std::to_string(e.offset()) + ": " + e.reason())
            bug("malformed message", e.what());
        return 0;
    }
    if (end > n || (!o.allow_trailing && end != n)) bug("bad end position", std::to_string(end));
    check_graph(g);
    return 0;
}
