// libFuzzer target for the joblib reader (sdk/readers: sniffing, bounded decompression, the
// pickle VM with joblib's NumpyArrayWrapper hook, numpy recognition of the wrappers). Besides
// "no crash, no leak, no hang, no unbounded allocation":
//   * a refused input throws pickle::Error (whose message starts "byte N: ") or
//     readers::DecompressError; any other exception escapes and is reported;
//   * in an accepted input every array payload is a view of the stream it was read from (the
//     input, or the decompressed bytes), and numpy's parse_array either accepts the wrapper or
//     refuses it with pickle::Error.
// Decompression is capped at 4 MiB (ratio 100 above 64 KiB) so that bombs are cheap.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_set>
#include <vector>

#include "milo/readers/joblib_reader.hpp"
#include "milo/readers/numpy_graph.hpp"

namespace {

using milo::pickle::Kind;
using milo::pickle::Node;

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_joblib: %s: %s\n", what, detail.c_str());
    std::abort();
}

void check_graph(const milo::pickle::Graph& g, const uint8_t* stream, size_t size) {
    std::vector<const Node*> todo{g.root};
    std::unordered_set<const Node*> seen;
    while (!todo.empty()) {
        const Node* n = todo.back();
        todo.pop_back();
        if (n == nullptr || !seen.insert(n).second) continue;
        if (n->payload != nullptr && n->payload->kind == Kind::Bytes) {
            const auto* p = reinterpret_cast<const uint8_t*>(n->payload->text.data());
            const size_t len = n->payload->text.size();
            if (len != 0 && (p < stream || p + len > stream + size))
                bug("array payload outside the stream", std::to_string(n->offset));
            if (n->payload->offset + len > size)
                bug("array payload offset past the end", std::to_string(n->payload->offset));
        }
        if (n->payload != nullptr) {
            milo::numpy::Array a;
            try {
                milo::numpy::parse_array(n, a);
            } catch (const milo::pickle::Error&) {
            }
        }
        for (auto* v : {&n->items, &n->states, &n->list_items, &n->dict_items})
            todo.insert(todo.end(), v->begin(), v->end());
        todo.insert(todo.end(), {n->callable, n->args, n->kwargs, n->payload});
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    milo::readers::DecompressLimits limits;
    limits.max_output = 4u << 20;
    limits.max_ratio = 100;
    limits.ratio_floor = 64u << 10;
    milo::pickle::Graph graph;
    milo::readers::PickleSource source;
    try {
        milo::readers::read_pickle_or_joblib(graph, data, size, source, {}, limits);
    } catch (const milo::pickle::Error& e) {
        if (std::string(e.what()).rfind("byte " + std::to_string(e.offset()) + ": ", 0) != 0)
            bug("error without its byte offset", e.what());
        return 0;
    } catch (const milo::readers::DecompressError&) {
        return 0;
    }
    if (source.container == milo::readers::Container::Pickle)
        check_graph(graph, data, size);
    else
        check_graph(graph, reinterpret_cast<const uint8_t*>(source.storage.data()),
                    source.storage.size());
    return 0;
}
