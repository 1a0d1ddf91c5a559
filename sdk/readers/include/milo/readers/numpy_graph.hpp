/// \file milo/readers/numpy_graph.hpp
/// Recognises numpy values in a pickle graph without numpy: dtypes (`numpy.dtype` + BUILD
/// state, versions 3 and 4, structured/record dtypes with offsets and titles, subarrays,
/// datetime units), arrays (`_reconstruct` + BUILD, protocol-5 `_frombuffer`, joblib's
/// NumpyArrayWrapper with its payload) and scalars (`numpy.core.multiarray.scalar`). Both
/// `numpy.core` and `numpy._core` module paths are accepted. Shapes and byte counts are
/// checked with overflow-checked arithmetic against the data actually present.
/// Part of the static library `milo_readers`; not part of libmilo's ABI.
#ifndef MILO_READERS_NUMPY_GRAPH_HPP
#define MILO_READERS_NUMPY_GRAPH_HPP

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "milo/readers/pickle_vm.hpp"

namespace milo {
namespace numpy {

struct DType;

struct Field {
    std::string name;
    std::shared_ptr<const DType> type;
    uint64_t offset = 0;
    const pickle::Node* title = nullptr;  ///< the optional title, or nullptr
};

struct DType {
    const pickle::Node* node = nullptr;  ///< the numpy.dtype Reduce node
    std::string spec;        ///< first argument of numpy.dtype(), e.g. "f8", "V56", "O8", "U5"
    char kind = 0;           ///< 'b' 'i' 'u' 'f' 'c' 'S' 'U' 'V' 'O' 'M' 'm'
    char byteorder = '|';    ///< '<', '>' or '|' (as in the BUILD state)
    uint64_t itemsize = 0;   ///< bytes per item (after elsize for flexible types)
    int64_t alignment = -1;  ///< as in the state
    int64_t flags = 0;       ///< as in the state
    std::vector<Field> fields;                 ///< structured dtypes, in `names` order
    std::shared_ptr<const DType> base;         ///< subarray dtypes: the element dtype
    std::vector<int64_t> subarray_shape;       ///< subarray dtypes: the shape
    const pickle::Node* metadata = nullptr;    ///< version-4 state: datetime metadata/dict
    int state_version = 3;
    bool is_object() const noexcept { return kind == 'O'; }
    /// Items hold Python objects somewhere (numpy's `hasobject`: an object dtype, or a record
    /// or subarray with an object field). numpy pickles such arrays as a list of items.
    bool has_object() const noexcept;
    bool little_endian() const noexcept;       ///< true for '<', and for '|' (order-free)
};

struct Array {
    const pickle::Node* node = nullptr;
    std::string module;          ///< module of the reconstruct function ("numpy.core.multiarray")
    std::string form;            ///< "reconstruct", "frombuffer" or "joblib"
    std::shared_ptr<const DType> dtype;
    std::vector<int64_t> shape;
    bool fortran = false;        ///< data is in Fortran order
    std::string_view data;       ///< raw item bytes (non-object dtypes), exactly count*itemsize
    std::vector<const pickle::Node*> objects;  ///< has_object() dtypes: the items in storage order
    std::string owned;           ///< backing store of `data` when it had to be decoded (latin-1)
};

struct Scalar {
    const pickle::Node* node = nullptr;
    std::string module;
    std::shared_ptr<const DType> dtype;
    std::string_view data;       ///< exactly itemsize bytes
    std::string owned;           ///< backing store of `data` when it had to be decoded (latin-1)
};

/// The bytes of a `bytes` value however the protocol wrote it: Bytes/ByteArray (protocol 3+),
/// `_codecs.encode(str, "latin1")` and `bytes()` (protocols 0–2). False when `node` is none of
/// these; `owned` receives decoded bytes when needed.
bool bytes_value(const pickle::Node* node, std::string_view& out, std::string& owned);

/// The class of an object node: the class of NEWOBJ, or of `copyreg._reconstructor(cls, …)`
/// (protocols 0–1). nullptr otherwise.
const pickle::Node* object_class(const pickle::Node* node);

/// Parses a dtype node. Throws pickle::Error (offset of the node) when `node` is a numpy.dtype
/// call whose arguments or state are malformed; returns nullptr when it is not a dtype at all.
std::shared_ptr<const DType> parse_dtype(const pickle::Node* node);

/// Parses an ndarray node (any supported form). Returns false when `node` is not an ndarray
/// pattern; throws pickle::Error when it is one but malformed (shape/byte-count mismatch, …).
bool parse_array(const pickle::Node* node, Array& out);

/// Parses a numpy scalar (`numpy.core.multiarray.scalar(dtype, bytes)`); false when not one.
bool parse_scalar(const pickle::Node* node, Scalar& out);

/// True when `module` is "numpy.core.<sub>" or "numpy._core.<sub>" (sub given without dot).
bool is_numpy_core(std::string_view module, std::string_view sub);

}  // namespace numpy
}  // namespace milo

#endif  // MILO_READERS_NUMPY_GRAPH_HPP
