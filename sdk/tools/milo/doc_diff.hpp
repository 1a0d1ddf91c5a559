// Structural comparison of two documents for `milo diff`: one "PATH: reason" line per
// difference. Used for whole documents and, by the ONNX diff, for parts of them.
#ifndef MILO_TOOLS_DOC_DIFF_HPP
#define MILO_TOOLS_DOC_DIFF_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "milo/milo.h"

namespace milo {
namespace cli {

constexpr size_t kDefaultDiffLines = 50;

struct Differ {
    size_t cap = kDefaultDiffLines;  ///< lines kept; `total` counts every difference
    uint64_t total = 0;
    std::vector<std::string> lines;
    /// Document paths not compared (another comparison reports them, e.g. ONNX nodes by name).
    std::unordered_set<std::string> skip;
    /// When set, differences go here instead of `lines`/`total` (callers that reword them).
    std::function<void(const std::string& path, const std::string& reason)> sink;
    // Nodes with identity already paired, and where each was first met (sharing and cycles).
    std::unordered_map<const milo_value*, const milo_value*> a_to_b, b_to_a;
    std::unordered_map<const milo_value*, std::string> first_a, first_b;

    void report(const std::string& path, const std::string& reason);
    /// Header fields, trust entries and metadata, under /milo/...
    void header(const milo_doc* a, const milo_doc* b);
    /// Values at `path` (depth counts nesting for the kMaxWalkDepth guard).
    void value(const milo_value* a, const milo_value* b, const std::string& path, uint32_t depth);

private:
    bool skipped(const std::string& path) const { return !skip.empty() && skip.count(path) != 0; }
    static const char* level_name(int32_t level);
    void keyed_entries(const milo_doc* a, const milo_doc* b);
    void compare_pairs(const std::string& prefix,
                       const std::vector<std::pair<std::string, std::string>>& a,
                       const std::vector<std::pair<std::string, std::string>>& b);
    void sequence(const milo_value* a, const milo_value* b, const std::string& path,
                  uint32_t depth);
    static bool string_keyed(const milo_value* m, std::unordered_map<std::string, size_t>* index);
    void map(const milo_value* a, const milo_value* b, const std::string& path, uint32_t depth);
    void object(const milo_value* a, const milo_value* b, const std::string& path, uint32_t depth);
    void part(const milo_value* a, const milo_value* b, const std::string& path, uint32_t depth);
    void tensor(const milo_value* a, const milo_value* b, const std::string& path, uint32_t depth);
};

}  // namespace cli
}  // namespace milo

#endif  // MILO_TOOLS_DOC_DIFF_HPP
