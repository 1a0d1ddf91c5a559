// Strict zip reader (milo/readers/zip_reader.hpp).
//
// Layout read here (APPNOTE 6.3): [prefix] local headers + data … central directory
// [zip64 end record, zip64 locator] end record [comment]. The end record must end the input
// exactly (with its comment); the central directory must sit right before the end records.
// As in CPython's zipfile, an archive behind a prefix is found by where its central directory
// actually is: base = actual position − declared offset, and every declared offset is relative
// to base. The whole directory and every local header are validated up front; entry data is
// CRC-checked when it is read.
#include "milo/readers/zip_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace milo {
namespace readers {

ZipError::ZipError(uint64_t offset, const std::string& reason)
    : std::runtime_error("byte " + std::to_string(offset) + ": " + reason), offset_(offset) {}

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEndSig = 0x06054b50;
constexpr uint32_t kZip64EndSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr size_t kEndSize = 22;
constexpr size_t kZip64EndSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr size_t kCentralSize = 46;
constexpr size_t kLocalSize = 30;
constexpr uint16_t kZip64ExtraId = 0x0001;

uint16_t le16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t(le32(p + 4)) << 32; }

bool valid_utf8(std::string_view s);

// A name for messages: control bytes, and every non-ASCII byte of a name that is not UTF-8,
// as \xNN.
std::string quoted(std::string_view name) {
    const bool utf8 = valid_utf8(name);
    std::string out = "\"";
    for (char ch : name) {
        const uint8_t c = uint8_t(ch);
        if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) {
            static const char kHex[] = "0123456789abcdef";
            out += {'\\', 'x', kHex[c >> 4], kHex[c & 15]};
        } else {
            out += ch;
        }
    }
    return out + "\"";
}

const char* method_name(uint16_t m) {
    switch (m) {
        case 1:
            return "shrink";
        case 6:
            return "implode";
        case 9:
            return "deflate64";
        case 12:
            return "bzip2";
        case 14:
            return "lzma";
        case 93:
            return "zstd";
        case 95:
            return "xz";
        case 98:
            return "ppmd";
        case 99:
            return "AES encryption";
        default:
            return "unknown";
    }
}

bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const uint8_t c = uint8_t(s[i]);
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, cp = c & 0x07;
        } else {
            return false;
        }
        if (s.size() - i < len) return false;
        for (size_t k = 1; k < len; ++k) {
            const uint8_t cc = uint8_t(s[i + k]);
            if ((cc & 0xC0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3F);
        }
        static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += len;
    }
    return true;
}

// Why `name` is refused as an entry name, or nullptr when it is acceptable.
const char* bad_name(std::string_view name) {
    if (name.empty()) return "an empty name";
    if (name.find('\0') != std::string_view::npos) return "a NUL byte in the name";
    if (name.find('\\') != std::string_view::npos) return "a backslash in the name";
    if (!valid_utf8(name)) return "a name that is not valid UTF-8";
    if (name[0] == '/') return "an absolute name";
    if (name.size() >= 2 && name[1] == ':') return "a drive letter in the name";
    for (size_t start = 0;;) {
        const size_t end = name.find('/', start);
        if (name.substr(start, end - start) == "..") return "a \"..\" component in the name";
        if (end == std::string_view::npos) break;
        start = end + 1;
    }
    return nullptr;
}

// The zip64 extended-information extra field of one header (nullptr when absent), after
// checking that the extra block is well formed. `at` is the block's absolute offset.
const uint8_t* zip64_extra(const uint8_t* extra, size_t len, uint64_t at, size_t* field_len) {
    const uint8_t* found = nullptr;
    size_t pos = 0;
    // as CPython: fewer than 4 bytes left (alignment padding) end the block
    while (len - pos >= 4) {
        const uint16_t id = le16(extra + pos);
        const uint16_t n = le16(extra + pos + 2);
        if (n > len - pos - 4)
            throw ZipError(at + pos, "extra field " + std::to_string(id) + " of " +
                                         std::to_string(n) +
                                         " bytes runs past its header's "
                                         "extra block");
        if (id == kZip64ExtraId) {
            if (found != nullptr) throw ZipError(at + pos, "second zip64 extra field in a header");
            found = extra + pos + 4;
            *field_len = n;
        }
        pos += 4 + size_t(n);
    }
    return found;
}

// Reads the zip64 values of the fields that hold their "see zip64" marker, in APPNOTE order.
struct Zip64Fields {
    uint64_t* value;
    bool saturated;
};
void read_zip64(const uint8_t* field, size_t len, uint64_t at, Zip64Fields* fields, size_t count) {
    size_t pos = 0;
    for (size_t i = 0; i < count; ++i) {
        if (!fields[i].saturated) continue;
        if (field == nullptr || len - pos < 8)
            throw ZipError(at, field == nullptr ? "a size or offset is 0xFFFFFFFF but the header "
                                                  "has no zip64 extra field"
                                                : "zip64 extra field too short for the sizes and "
                                                  "offsets marked 0xFFFFFFFF");
        *fields[i].value = le64(field + pos);
        pos += 8;
    }
}

// size > compressed × max_ratio, without overflow; small entries are exempt
bool over_ratio(uint64_t size, uint64_t compressed, const ZipLimits& limits) {
    if (size <= limits.ratio_floor) return false;
    if (compressed == 0) return true;
    const uint64_t q = size / compressed;
    return q > limits.max_ratio || (q == limits.max_ratio && size % compressed != 0);
}

}  // namespace

ZipReader::ZipReader(const uint8_t* data, size_t size, const ZipLimits& limits)
    : data_(data), size_(size), limits_(limits) {
    if (data == nullptr || size < kEndSize)
        throw ZipError(0, "not a zip archive: " + std::to_string(size) +
                              " bytes, fewer than an end-of-central-directory record");

    // ---- end of central directory record: the last one whose comment ends the input
    const size_t lowest = size - kEndSize > 65535 ? size - kEndSize - 65535 : 0;
    size_t end = SIZE_MAX, misfit = SIZE_MAX;
    for (size_t p = size - kEndSize + 1; p-- > lowest;) {
        if (le32(data + p) != kEndSig) continue;
        if (p + kEndSize + le16(data + p + 20) == size) {
            end = p;
            break;
        }
        if (misfit == SIZE_MAX) misfit = p;
    }
    if (end == SIZE_MAX) {
        if (misfit != SIZE_MAX)
            throw ZipError(misfit, "end-of-central-directory record with a comment of " +
                                       std::to_string(le16(data + misfit + 20)) + " bytes, but " +
                                       std::to_string(size - misfit - kEndSize) +
                                       " bytes follow it");
        throw ZipError(size, "no end-of-central-directory record in the last " +
                                 std::to_string(size - lowest) + " bytes");
    }
    const uint8_t* e = data + end;
    uint64_t disk = le16(e + 4), cd_disk = le16(e + 6);
    uint64_t count_disk = le16(e + 8), count = le16(e + 10);
    uint64_t cd_size = le32(e + 12), cd_offset = le32(e + 16);

    // ---- zip64 end record, found through its locator just before the end record
    size_t cd_end = end;
    bool zip64 = false;
    uint64_t zip64_declared = 0;
    if (end >= kZip64LocatorSize && le32(data + end - kZip64LocatorSize) == kZip64LocatorSig) {
        const size_t loc = end - kZip64LocatorSize;
        const uint8_t* l = data + loc;
        if (le32(l + 4) != 0 || le32(l + 16) > 1)
            throw ZipError(loc, "zip64 locator names disk " + std::to_string(le32(l + 4)) + " of " +
                                    std::to_string(le32(l + 16)) +
                                    ": multi-disk archives are not supported");
        zip64_declared = le64(l + 8);
        // the record is right before the locator: 56 bytes, or longer with extensible data
        // when it sits at its declared offset (no prefix)
        size_t rec = SIZE_MAX;
        if (loc >= kZip64EndSize && le32(data + loc - kZip64EndSize) == kZip64EndSig &&
            le64(data + loc - kZip64EndSize + 4) == kZip64EndSize - 12)
            rec = loc - kZip64EndSize;
        else if (zip64_declared <= loc && loc - zip64_declared >= kZip64EndSize &&
                 le32(data + zip64_declared) == kZip64EndSig &&
                 le64(data + zip64_declared + 4) == loc - zip64_declared - 12)
            rec = size_t(zip64_declared);
        if (rec == SIZE_MAX)
            throw ZipError(loc,
                           "zip64 end-of-central-directory record not found before its "
                           "locator (declared at byte " +
                               std::to_string(zip64_declared) + ")");
        const uint8_t* z = data + rec;
        const uint64_t z_disk = le32(z + 16), z_cd_disk = le32(z + 20);
        const uint64_t z_count_disk = le64(z + 24), z_count = le64(z + 32);
        const uint64_t z_cd_size = le64(z + 40), z_cd_offset = le64(z + 48);
        // the 16/32-bit fields must be the marker or agree with the zip64 values
        const auto agree = [&](uint64_t small, uint64_t marker, uint64_t big, const char* what) {
            if (small != marker && small != big)
                throw ZipError(end, std::string("end record and zip64 end record disagree on ") +
                                        what + ": " + std::to_string(small) + " vs " +
                                        std::to_string(big));
        };
        agree(disk, 0xFFFF, z_disk, "the disk number");
        agree(cd_disk, 0xFFFF, z_cd_disk, "the central directory's disk");
        agree(count_disk, 0xFFFF, z_count_disk, "the entries on this disk");
        agree(count, 0xFFFF, z_count, "the entry count");
        agree(cd_size, 0xFFFFFFFF, z_cd_size, "the central directory size");
        agree(cd_offset, 0xFFFFFFFF, z_cd_offset, "the central directory offset");
        disk = z_disk, cd_disk = z_cd_disk, count_disk = z_count_disk, count = z_count;
        cd_size = z_cd_size, cd_offset = z_cd_offset;
        cd_end = rec;
        zip64 = true;
    }
    if (disk != 0 || cd_disk != 0)
        throw ZipError(end, "multi-disk archives are not supported (disk " + std::to_string(disk) +
                                ", directory on disk " + std::to_string(cd_disk) + ")");
    if (count_disk != count)
        throw ZipError(end, "entries on this disk (" + std::to_string(count_disk) +
                                ") differ from the total (" + std::to_string(count) + ")");
    if (count > limits.max_entries)
        throw ZipError(end, std::to_string(count) + " entries, more than the limit of " +
                                std::to_string(limits.max_entries));

    // ---- where the archive starts
    if (cd_size > cd_end)
        throw ZipError(end, "central directory of " + std::to_string(cd_size) +
                                " bytes does not fit before the end record at byte " +
                                std::to_string(cd_end));
    const size_t cd_start = cd_end - size_t(cd_size);
    if (cd_offset > cd_start)
        throw ZipError(end, "central directory declared at offset " + std::to_string(cd_offset) +
                                " but it ends at byte " + std::to_string(cd_end) + " after " +
                                std::to_string(cd_size) + " bytes");
    base_ = cd_start - cd_offset;
    if (zip64 && zip64_declared + base_ != cd_end)
        throw ZipError(end - kZip64LocatorSize,
                       "zip64 locator points to byte " + std::to_string(zip64_declared) +
                           " but the zip64 end record is at archive offset " +
                           std::to_string(cd_end - base_));
    if (count > cd_size / kCentralSize)
        throw ZipError(cd_start, std::to_string(count) +
                                     " entries cannot fit in a central "
                                     "directory of " +
                                     std::to_string(cd_size) + " bytes");

    // ---- central directory entries
    entries_.reserve(size_t(count));
    std::vector<size_t> central_at;
    central_at.reserve(size_t(count));
    size_t q = cd_start;
    for (uint64_t i = 0; i < count; ++i) {
        if (cd_end - q < kCentralSize)
            throw ZipError(q, "central directory entry " + std::to_string(i) +
                                  " is truncated: the directory ends at byte " +
                                  std::to_string(cd_end));
        const uint8_t* c = data + q;
        if (le32(c) != kCentralSig)
            throw ZipError(q, "expected central directory entry " + std::to_string(i) +
                                  " (signature PK\\1\\2)");
        const uint16_t flags = le16(c + 8);
        const size_t name_len = le16(c + 28), extra_len = le16(c + 30), comment_len = le16(c + 32);
        if (cd_end - q - kCentralSize < name_len + extra_len + comment_len)
            throw ZipError(q, "central directory entry " + std::to_string(i) +
                                  ": name, extra field and comment run past the directory");
        ZipEntry entry;
        entry.name.assign(reinterpret_cast<const char*>(c + kCentralSize), name_len);
        if (const char* why = bad_name(entry.name))
            throw ZipError(q + kCentralSize, "entry " + quoted(entry.name) + ": " + why);
        if (flags & (0x0001 | 0x0040))
            throw ZipError(q, "entry " + quoted(entry.name) + " is encrypted (not supported)");
        entry.method = le16(c + 10);
        if (entry.method != 0 && entry.method != 8)
            throw ZipError(q, "entry " + quoted(entry.name) + " uses compression method " +
                                  std::to_string(entry.method) + " (" + method_name(entry.method) +
                                  "); only 0 (stored) and 8 (deflate) are supported");
        entry.crc32 = le32(c + 16);
        entry.compressed_size = le32(c + 20);
        entry.size = le32(c + 24);
        uint64_t local = le32(c + 42), start_disk = le16(c + 34);
        size_t z64_len = 0;
        const size_t extra_at = q + kCentralSize + name_len;
        const uint8_t* z64 = zip64_extra(data + extra_at, extra_len, extra_at, &z64_len);
        Zip64Fields fields[] = {{&entry.size, entry.size == 0xFFFFFFFF},
                                {&entry.compressed_size, entry.compressed_size == 0xFFFFFFFF},
                                {&local, local == 0xFFFFFFFF},
                                {&start_disk, start_disk == 0xFFFF}};
        read_zip64(z64, z64_len, extra_at, fields, 4);
        if (start_disk != 0)
            throw ZipError(
                q, "entry " + quoted(entry.name) + " starts on disk " + std::to_string(start_disk));
        if (entry.size > limits.max_entry_size)
            throw ZipError(q, "entry " + quoted(entry.name) + " of " + std::to_string(entry.size) +
                                  " bytes exceeds the limit of " +
                                  std::to_string(limits.max_entry_size));
        if (entry.method == 0 && entry.compressed_size != entry.size)
            throw ZipError(q, "stored entry " + quoted(entry.name) + " has size " +
                                  std::to_string(entry.size) + " but compressed size " +
                                  std::to_string(entry.compressed_size));
        if (entry.method == 8 && over_ratio(entry.size, entry.compressed_size, limits))
            throw ZipError(q, "entry " + quoted(entry.name) + " would inflate " +
                                  std::to_string(entry.compressed_size) + " bytes to " +
                                  std::to_string(entry.size) + ", beyond the ratio limit of " +
                                  std::to_string(limits.max_ratio));
        if (local >= cd_start - base_)
            throw ZipError(q, "entry " + quoted(entry.name) + ": local header offset " +
                                  std::to_string(local) + " is not before the central directory");
        entry.header_offset = base_ + local;
        entries_.push_back(std::move(entry));
        central_at.push_back(q);
        q += kCentralSize + name_len + extra_len + comment_len;
    }
    if (q != cd_end)
        throw ZipError(q, std::to_string(cd_end - q) +
                              " bytes after the last central directory "
                              "entry (the directory size says " +
                              std::to_string(cd_size) + ")");

    // ---- local headers must repeat the central entries; data must lie before the directory
    for (ZipEntry& entry : entries_) {
        const size_t h = size_t(entry.header_offset);
        if (cd_start - h < kLocalSize)
            throw ZipError(
                h, "local header of " + quoted(entry.name) + " runs into the central directory");
        const uint8_t* l = data + h;
        if (le32(l) != kLocalSig)
            throw ZipError(
                h, "expected the local header of " + quoted(entry.name) + " (signature PK\\3\\4)");
        const uint16_t flags = le16(l + 6);
        const size_t name_len = le16(l + 26), extra_len = le16(l + 28);
        if (cd_start - h - kLocalSize < name_len + extra_len)
            throw ZipError(
                h, "local header of " + quoted(entry.name) + " runs into the central directory");
        if (std::string_view(reinterpret_cast<const char*>(l + kLocalSize), name_len) != entry.name)
            throw ZipError(h + kLocalSize,
                           "local header name " +
                               quoted(std::string_view(
                                   reinterpret_cast<const char*>(l + kLocalSize), name_len)) +
                               " differs from the central directory's " + quoted(entry.name));
        if (le16(l + 8) != entry.method)
            throw ZipError(h, "local header of " + quoted(entry.name) + " has method " +
                                  std::to_string(le16(l + 8)) + ", the central directory " +
                                  std::to_string(entry.method));
        if (flags & (0x0001 | 0x0040))
            throw ZipError(h, "entry " + quoted(entry.name) + " is encrypted (not supported)");
        const size_t extra_at = h + kLocalSize + name_len;
        size_t z64_len = 0;
        const uint8_t* z64 = zip64_extra(data + extra_at, extra_len, extra_at, &z64_len);
        uint64_t crc = le32(l + 14), csize = le32(l + 18), usize = le32(l + 22);
        Zip64Fields fields[] = {{&usize, usize == 0xFFFFFFFF}, {&csize, csize == 0xFFFFFFFF}};
        read_zip64(z64, z64_len, extra_at, fields, 2);
        // with a data descriptor (flag bit 3) the local CRC and sizes may all be zero
        const bool deferred = (flags & 0x0008) && crc == 0 && csize == 0 && usize == 0;
        if (!deferred) {
            if (crc != entry.crc32 || csize != entry.compressed_size || usize != entry.size)
                throw ZipError(h, "local header of " + quoted(entry.name) +
                                      " disagrees with the central directory (CRC, sizes " +
                                      std::to_string(crc) + "/" + std::to_string(csize) + "/" +
                                      std::to_string(usize) + " vs " + std::to_string(entry.crc32) +
                                      "/" + std::to_string(entry.compressed_size) + "/" +
                                      std::to_string(entry.size) + ")");
        }
        entry.data_offset = h + kLocalSize + name_len + extra_len;
        if (entry.compressed_size > size - entry.data_offset)
            throw ZipError(entry.data_offset, "data of " + quoted(entry.name) + " (" +
                                                  std::to_string(entry.compressed_size) +
                                                  " bytes) runs past the end of the input");
        if (entry.compressed_size > cd_start - entry.data_offset)
            throw ZipError(entry.data_offset, "data of " + quoted(entry.name) +
                                                  " overlaps the central directory at byte " +
                                                  std::to_string(cd_start));
    }

    // ---- no two entries share bytes; no two share a name
    std::vector<size_t> order(entries_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
        return entries_[a].header_offset < entries_[b].header_offset;
    });
    for (size_t k = 1; k < order.size(); ++k) {
        const ZipEntry& prev = entries_[order[k - 1]];
        const ZipEntry& next = entries_[order[k]];
        if (prev.data_offset + prev.compressed_size > next.header_offset)
            throw ZipError(next.header_offset,
                           "entries " + quoted(prev.name) + " and " + quoted(next.name) +
                               " overlap (the first one's data ends at byte " +
                               std::to_string(prev.data_offset + prev.compressed_size) + ")");
    }
    by_name_ = std::move(order);
    std::sort(by_name_.begin(), by_name_.end(),
              [&](size_t a, size_t b) { return entries_[a].name < entries_[b].name; });
    for (size_t k = 1; k < by_name_.size(); ++k) {
        const size_t a = by_name_[k - 1], b = by_name_[k];
        if (entries_[a].name == entries_[b].name)
            throw ZipError(central_at[std::max(a, b)] + kCentralSize,
                           "duplicate entry name " + quoted(entries_[a].name));
    }
}

const ZipEntry* ZipReader::find(std::string_view name) const noexcept {
    const auto it =
        std::lower_bound(by_name_.begin(), by_name_.end(), name,
                         [&](size_t i, std::string_view n) { return entries_[i].name < n; });
    return it != by_name_.end() && entries_[*it].name == name ? &entries_[*it] : nullptr;
}

namespace {

void check_crc(const ZipEntry& e, const uint8_t* bytes, size_t n) {
    const uint32_t crc = uint32_t(crc32_z(0, bytes, n));
    if (crc != e.crc32)
        throw ZipError(e.data_offset, "CRC-32 mismatch in " + quoted(e.name) + ": computed " +
                                          std::to_string(crc) + ", recorded " +
                                          std::to_string(e.crc32));
}

}  // namespace

std::string_view ZipReader::view(const ZipEntry& e) const {
    if (e.method != 0)
        throw ZipError(e.header_offset, "entry " + quoted(e.name) + " is deflated: use read()");
    if (e.data_offset > size_ || e.compressed_size > size_ - e.data_offset)
        throw ZipError(e.data_offset, "entry " + quoted(e.name) + " lies outside the input");
    check_crc(e, data_ + e.data_offset, size_t(e.compressed_size));
    return std::string_view(reinterpret_cast<const char*>(data_ + e.data_offset),
                            size_t(e.compressed_size));
}

std::string ZipReader::read(const ZipEntry& e) const {
    if (e.method == 0) return std::string(view(e));
    if (e.method != 8)
        throw ZipError(e.header_offset, "entry " + quoted(e.name) + " uses compression method " +
                                            std::to_string(e.method));
    if (e.data_offset > size_ || e.compressed_size > size_ - e.data_offset)
        throw ZipError(e.data_offset, "entry " + quoted(e.name) + " lies outside the input");
    if (e.size > limits_.max_entry_size || e.size > std::string().max_size() ||
        over_ratio(e.size, e.compressed_size, limits_))
        throw ZipError(e.header_offset, "entry " + quoted(e.name) + " is over the size limits");

    // Raw inflate into a buffer that grows by doubling up to the declared size; one probe
    // byte past it tells "exactly as declared" from "longer than declared".
    z_stream z{};
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK) throw std::bad_alloc();
    struct End {
        z_stream* z;
        ~End() { inflateEnd(z); }
    } guard{&z};
    const uint8_t* in = data_ + e.data_offset;
    const size_t csize = size_t(e.compressed_size), usize = size_t(e.size);
    const size_t first = std::max<size_t>(size_t(64) << 10, csize < SIZE_MAX / 4 ? csize * 4 : 0);
    std::string out;
    size_t used = 0, consumed = 0;
    const auto fail = [&](const std::string& why) {
        return ZipError(e.data_offset + consumed, "entry " + quoted(e.name) + ": " + why);
    };
    for (int idle = 0;;) {
        if (used == out.size() && used < usize)
            out.resize(std::min(
                usize, std::max(first, out.size() < SIZE_MAX / 2 ? out.size() * 2 : SIZE_MAX)));
        uint8_t probe = 0;
        uint8_t* dst = used < out.size() ? reinterpret_cast<uint8_t*>(&out[used]) : &probe;
        const size_t room = used < out.size() ? out.size() - used : 1;
        z.next_in = const_cast<Bytef*>(in + consumed);
        z.avail_in = unsigned(std::min<size_t>(csize - consumed, 1u << 30));
        z.next_out = dst;
        z.avail_out = unsigned(std::min<size_t>(room, 1u << 30));
        const unsigned in0 = z.avail_in, out0 = z.avail_out;
        const int rc = inflate(&z, Z_NO_FLUSH);
        consumed += in0 - z.avail_in;
        const size_t produced = out0 - z.avail_out;
        if (dst == &probe && produced != 0)
            throw fail("deflated data is longer than the declared " + std::to_string(usize) +
                       " bytes");
        used += produced;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            throw fail(std::string("deflate: ") + (z.msg != nullptr ? z.msg : "corrupt data"));
        if (in0 != z.avail_in || produced != 0) {
            idle = 0;
        } else if (consumed == csize) {
            throw fail("deflate: truncated data (the stream ends before its last block)");
        } else if (++idle > 2) {
            throw fail("deflate: the decoder makes no progress");
        }
    }
    if (used != usize)
        throw fail("inflates to " + std::to_string(used) + " bytes, declared " +
                   std::to_string(usize));
    if (consumed != csize)
        throw fail(std::to_string(csize - consumed) +
                   " bytes of compressed data follow the end of the deflate stream");
    out.resize(used);
    check_crc(e, reinterpret_cast<const uint8_t*>(out.data()), out.size());
    return out;
}

}  // namespace readers
}  // namespace milo
