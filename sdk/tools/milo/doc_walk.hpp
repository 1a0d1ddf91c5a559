// Reading documents for people: value and dtype names, scalar text, document paths, tensor
// statistics, whole-document counts and the "$id" numbers of shared nodes.
#ifndef MILO_TOOLS_DOC_WALK_HPP
#define MILO_TOOLS_DOC_WALK_HPP

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "milo/milo.h"

namespace milo {
namespace cli {

/// Hard cap on recursion in the tool's tree walks, far above the decoders' default (1000).
constexpr uint32_t kMaxWalkDepth = 4000;

const char* kind_name(int32_t kind);
/// "float32"; record dtypes as "record{name:int64, value:float64[2]}".
std::string dtype_text(const milo_value* tensor);
/// "[2, 3]"
std::string shape_text(const int64_t* shape, size_t ndim);
/// "[1, 2]" multi-index of C-order element `flat` in `shape`.
std::string index_text(uint64_t flat, const int64_t* shape, size_t ndim);

/// Short text of a scalar (null, bool, int, float, string, bytes, global); strings quoted and
/// cut to `max_chars`. Other kinds give their kind name.
std::string scalar_text(const milo_value* v, size_t max_chars);
/// Shortest round-trip text of a double ("1.0", "nan", "-inf", NaN payloads in hex).
std::string double_text(double v);
/// Shortest text of a double that holds a float32 value, at float32 precision ("0.02", "1.0");
/// other values as double_text.
std::string float32_text(double v);
/// Number for stats output (6 significant digits).
std::string stat_text(double v);
/// JSON number, or a JSON string for non-finite values.
std::string json_number(double v);

/// Path segment for a map key: strings with '~' → "~0" and '/' → "~1"; other scalar keys in
/// braces ("{3}"); keys with identity as "{key #index}".
std::string key_segment(const milo_value* key, size_t index);

/// Statistics of a numeric tensor.
struct TensorStats {
    bool available = false;   ///< numeric (not record/object/string) with readable data
    bool is_bool = false;
    bool is_complex = false;  ///< min/max/mean are of |z|
    uint64_t count = 0;       ///< elements
    uint64_t nan_count = 0;
    uint64_t true_count = 0;  ///< bool tensors
    bool has_range = false;   ///< at least one non-NaN element
    std::string min, max;     ///< exact for integers, 6 digits for floats
    double min_value = 0, max_value = 0, mean = 0;
};

TensorStats tensor_stats(const milo_value* tensor);

/// Reads element `i` of a numeric tensor as double (complex: the real part; `imag` gets the
/// imaginary part when non-null). `data` is the tensor's little-endian bytes.
double element_as_double(const uint8_t* data, int32_t dtype, uint64_t i, double* imag);

/// Text of element `i` of a numeric tensor's data: integers exact, float64 as double_text,
/// narrower floats as float32_text, bool as true/false, complex as "(re, im)".
std::string element_text(const uint8_t* data, int32_t dtype, uint64_t i);

/// Whole-document counts, each shared node counted once.
struct DocCounts {
    uint64_t values = 0;           ///< milo_doc_value_count
    uint64_t tensors = 0;
    uint64_t tensor_elements = 0;  ///< all tensors
    uint64_t parameters = 0;       ///< elements of numeric tensors (bool … complex128)
    uint64_t tensor_bytes = 0;     ///< data bytes of numeric and record tensors
    uint64_t objects = 0;
};

DocCounts count_doc(const milo_doc* doc);

/// Every object type name and global name reachable from the root, in document order, unique.
std::vector<std::string> named_types(const milo_doc* doc);

/// The "$id" numbers an encoder gives shared nodes (1, 2, 3 … in canonical document order).
class ShareIds {
public:
    void build(const milo_value* root);
    /// 0 when `v` is not shared.
    uint64_t id(const milo_value* v) const;

private:
    std::unordered_map<const milo_value*, uint64_t> ids_;
};

/// Children in canonical order (map: key, value, key, value …; object: args, state; object
/// tensor: items). Nulls skipped.
void value_children(const milo_value* v, std::vector<const milo_value*>* out);

}  // namespace cli
}  // namespace milo

#endif  // MILO_TOOLS_DOC_WALK_HPP
