/// \file milo/readers/joblib_reader.hpp
/// Reads joblib files (and plain pickles) into a pickle graph without executing anything:
/// sniffs the container by magic, decompresses with size and ratio caps, and runs the safe
/// pickle VM with a BuildHook that reads the array bytes joblib writes after each
/// `joblib.numpy_pickle.NumpyArrayWrapper` (alignment padding; object arrays as nested
/// pickles) and attaches them as the wrapper node's payload (a Bytes node, or the nested
/// pickle's root). Part of the static library `milo_readers`; not part of libmilo's ABI.
#ifndef MILO_READERS_JOBLIB_READER_HPP
#define MILO_READERS_JOBLIB_READER_HPP

#include <string>

#include "milo/readers/decompress.hpp"
#include "milo/readers/pickle_vm.hpp"

namespace milo {
namespace readers {

struct PickleSource {
    Container container = Container::Unknown;  ///< what the input was (Pickle, Gzip, …)
    std::string storage;    ///< decompressed bytes when the input was compressed (graph borrows)
    bool joblib = false;    ///< at least one NumpyArrayWrapper was read
};

/// Runs `data` (a pickle or a joblib file, compressed or not) into `graph`. The graph borrows
/// from `data` or from `source.storage`, so both must outlive it. Errors: pickle::Error (offset
/// in the decompressed stream; the message says so when the input was compressed) or
/// DecompressError.
void read_pickle_or_joblib(pickle::Graph& graph, const uint8_t* data, size_t size,
                           PickleSource& source, const pickle::Options& options = {},
                           const DecompressLimits& limits = {});

}  // namespace readers
}  // namespace milo

#endif  // MILO_READERS_JOBLIB_READER_HPP
