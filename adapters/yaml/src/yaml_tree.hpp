// The parse tree both YAML readers fill (yaml-cpp events or the canonical fast path) and
// yaml_decode.cpp turns into values. Internal, not installed.
#ifndef MILO_YAML_TREE_HPP
#define MILO_YAML_TREE_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace milo {
namespace yaml {

enum NodeType : uint8_t { kPlain, kQuoted, kSeq, kMap };

enum NodeFlags : uint8_t {
    kTextInArena = 0,
    kTextInInput = 1,  // scalar: `a` is an offset into the input, not the arena
    kPacked = 2,       // sequence of plain scalars on one line: `a` is the input offset of
                       // its '[', `n` the element count; kids are made on first access
};

// 32-bit fields: the input is below 2 GiB (yaml-cpp's limit), so are offsets and counts.
struct Node {
    NodeType type;
    uint8_t flags;
    int32_t line;  // 0-based
    int32_t col;   // 0-based, in bytes
    uint32_t a;    // scalar: text offset; collection: first child in kids (see kPacked)
    uint32_t n;    // scalar: length; collection: number of children (map: 2 per pair)
};

struct Tree {
    std::vector<Node> nodes;
    std::vector<uint32_t> kids;
    std::string arena;
    size_t root = SIZE_MAX;
    const char* input = nullptr;
    size_t input_size = 0;
};

/// Fills `tree` from input in the canonical subset the encoder writes (yaml_fast_tree.cpp):
/// block mappings with double-quoted keys, block sequences, one-line flow collections,
/// single-line double-quoted strings with the encoder's escapes, one-word plain scalars,
/// comments and a leading "---". Returns false, with `tree` in an unspecified state, for any
/// other construct; the caller then uses yaml-cpp. Whatever it accepts also passes
/// prescan(data, size, max_flow_depth), which therefore runs only when it gives up.
/// `release(release_context, offset)`, when given, is called every few MB with an offset whose
/// preceding pages the reader has finished scanning (the host may drop them; they stay
/// readable), so a large input is not held resident twice.
bool fast_tree(const char* data, size_t size, uint32_t max_flow_depth, Tree* tree,
               void (*release)(void*, size_t) = nullptr, void* release_context = nullptr);

struct PlainTable {
    bool v[256];
};
constexpr PlainTable make_plain_table() {
    PlainTable t{};
    for (int c = 0; c < 256; ++c)
        t.v[c] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '+' || c == '-';
    return t;
}
constexpr PlainTable kPlainTable = make_plain_table();

/// Plain-scalar characters (the same set as the pre-scan).
inline bool is_plain_char(char c) { return kPlainTable.v[static_cast<unsigned char>(c)]; }

}  // namespace yaml
}  // namespace milo

#endif  // MILO_YAML_TREE_HPP
