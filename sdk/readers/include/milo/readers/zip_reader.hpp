/// \file milo/readers/zip_reader.hpp
/// A strict, read-only zip reader for model archives (PyTorch `.pt`, TorchScript): stored and
/// deflated entries, zip64, an arbitrary prefix before the archive (offsets are relative to
/// where the archive starts). Refuses duplicate names, absolute names, `..` components,
/// backslashes, entries that overlap or leave the file, local/central header mismatches and
/// CRC mismatches. Part of the static library `milo_readers`; not part of libmilo's ABI.
///
/// Strict rules beyond APPNOTE: the end record's comment must end the input exactly; the
/// central directory sits right before the end records (its actual position minus its declared
/// offset is the prefix); names must be valid UTF-8 whatever the language flag says, and NUL
/// bytes and drive letters ("C:") are refused too; only methods 0 and 8, no encryption, no
/// multi-disk archives. Data descriptors (flag bit 3) are accepted: the central directory's
/// CRC and sizes are the ones used.
#ifndef MILO_READERS_ZIP_READER_HPP
#define MILO_READERS_ZIP_READER_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace milo {
namespace readers {

class ZipError : public std::runtime_error {
public:
    ZipError(uint64_t offset, const std::string& reason);
    uint64_t offset() const noexcept { return offset_; }

private:
    uint64_t offset_;
};

struct ZipEntry {
    std::string name;
    uint16_t method = 0;            ///< 0 stored, 8 deflated
    uint64_t compressed_size = 0;
    uint64_t size = 0;
    uint32_t crc32 = 0;
    uint64_t header_offset = 0;     ///< local header, absolute in the input
    uint64_t data_offset = 0;       ///< first data byte, absolute in the input
};

struct ZipLimits {
    uint64_t max_entries = 1u << 20;
    uint64_t max_entry_size = uint64_t(64) << 30;  ///< uncompressed size of one entry
    uint64_t max_ratio = 1000;                     ///< deflated entries: size / compressed
    uint64_t ratio_floor = uint64_t(16) << 20;     ///< entries up to this size ignore the ratio
};

class ZipReader {
public:
    /// Parses the central directory of `data` (borrowed; must outlive the reader) and checks
    /// every entry's local header, name and extent against it (entries in directory order).
    /// Throws ZipError (absolute byte offset) for anything malformed or over a limit.
    ZipReader(const uint8_t* data, size_t size, const ZipLimits& limits = {});
    const std::vector<ZipEntry>& entries() const noexcept { return entries_; }
    /// The entry named exactly `name`, or nullptr.
    const ZipEntry* find(std::string_view name) const noexcept;
    /// A stored entry's bytes without a copy (CRC checked on every call); throws for deflated.
    std::string_view view(const ZipEntry& e) const;
    /// The entry's bytes (inflated when needed), CRC checked.
    std::string read(const ZipEntry& e) const;
    /// Where the archive starts in the input (size of any prefix).
    uint64_t archive_offset() const noexcept { return base_; }

private:
    const uint8_t* data_;
    size_t size_;
    uint64_t base_ = 0;
    ZipLimits limits_;
    std::vector<ZipEntry> entries_;
    std::vector<size_t> by_name_;  ///< indexes into entries_, sorted by name (for find)
};

}  // namespace readers
}  // namespace milo

#endif  // MILO_READERS_ZIP_READER_HPP
