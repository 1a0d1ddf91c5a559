/// \file milo/readers/zip_writer.hpp
/// A streaming zip writer in the layout PyTorch's PyTorchStreamWriter (miniz) gives `.pt`
/// files: stored entries only, each local header followed by an extra field "FB" of 'Z' bytes
/// that puts the entry's data at a multiple of `alignment` in the output, CRC-32 and sizes in
/// a data descriptor after non-empty data (flag bits 3 and 11), zip64 fields for any size or offset
/// from `zip64_threshold` on, and zip64 end records always. Part of the static library
/// `milo_readers`; not part of libmilo's ABI.
#ifndef MILO_READERS_ZIP_WRITER_HPP
#define MILO_READERS_ZIP_WRITER_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace milo {
namespace readers {

struct ZipWriterOptions {
    uint64_t alignment = 64;  ///< data offsets are multiples of this (1: no padding field)
    /// Sizes and offsets from this value on get zip64 fields (0xFFFFFFFF as zip requires;
    /// smaller values only make tests exercise the zip64 layout).
    uint64_t zip64_threshold = 0xFFFFFFFFu;
};

class ZipWriter {
public:
    /// `sink` receives the archive's bytes in order; it may throw to abort.
    using Sink = std::function<void(const char* data, size_t size)>;
    explicit ZipWriter(Sink sink, ZipWriterOptions options = {});

    /// Appends a stored entry. Throws std::invalid_argument for an empty, absolute, duplicate
    /// or over-long name, a name with "..", "." or empty components, a backslash or a NUL.
    void add(std::string_view name, std::string_view data);
    /// Writes the central directory and end records; no entry may follow.
    void finish();
    /// Bytes written so far.
    uint64_t size() const noexcept { return offset_; }

private:
    struct Entry {
        std::string name;
        uint64_t offset;
        uint64_t size;
        uint32_t crc;
        uint16_t flags;
    };
    void put(std::string_view bytes);

    Sink sink_;
    ZipWriterOptions options_;
    uint64_t offset_ = 0;
    bool finished_ = false;
    std::vector<Entry> entries_;
    std::unordered_set<std::string> names_;
};

}  // namespace readers
}  // namespace milo

#endif  // MILO_READERS_ZIP_WRITER_HPP
