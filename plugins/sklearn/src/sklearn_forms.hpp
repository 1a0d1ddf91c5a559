// Shared by the import and export sides of the sklearn transporter: the document forms that
// stand for pickle constructs without a value kind of their own (README.md, "Mapping"), and
// byte-level helpers for numpy data.
#ifndef MILO_SKLEARN_FORMS_HPP
#define MILO_SKLEARN_FORMS_HPP

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace milo {
namespace sklearn {

// Object types that are not Python names (parentheses cannot start a Python name).
constexpr const char* kCallType = "(call)";            // args: (callable, *args)
constexpr const char* kExtrasType = "(pickle_extras)";  // state: {append, setitem, build}
constexpr const char* kPersIdType = "(persistent_id)";  // args: (pid,)
constexpr const char* kExtType = "(extension)";         // args: (code,)
constexpr const char* kBufferType = "(out_of_band_buffer)";  // args: (index,)
constexpr const char* kStrType = "(str)";  // args: (bytes,): text with lone surrogates

/// "module.name", or "module:qual.name" when the qualified name is dotted (so that it can be
/// split again exactly).
std::string join_global(std::string_view module, std::string_view name);
/// Inverse of join_global; false when `full` has no separator.
bool split_global(std::string_view full, std::string& module, std::string& name);

/// numpy.dtype spec of a document dtype ("f8", "b1", …), or "" when it has none.
const char* canonical_spec(int32_t milo_dtype);

/// Bytes a byte-order swap reverses at a time for a document dtype: the element size, or half
/// of it for complex numbers (each part swaps on its own).
size_t swap_unit(int32_t milo_dtype);
/// Reverses the bytes of every `unit`-sized element.
void byteswap(std::string& bytes, size_t unit);
/// Reorders items between Fortran and C storage order.
std::string reorder(const std::string& bytes, const std::vector<int64_t>& shape, uint64_t itemsize,
                    bool to_c);
/// For each item in storage order (Fortran when `fortran`), its index in C order.
std::vector<size_t> storage_to_c_order(const std::vector<int64_t>& shape, bool fortran);

}  // namespace sklearn
}  // namespace milo

#endif
