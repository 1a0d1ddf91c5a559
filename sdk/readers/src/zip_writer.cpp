// The zip layout of PyTorchStreamWriter (caffe2/serialize/inline_container.cc over miniz),
// byte for byte for archives under 4 GiB: zero times, versions 0, flags 0x0808, local CRC and
// sizes 0 with a data descriptor after the data (none for empty entries: flags 0x0800),
// central extra fields only for zip64 values, zip64 end record and locator always (miniz is
// opened with MZ_ZIP_FLAG_WRITE_ZIP64). Layouts over 4 GiB follow APPNOTE and miniz's
// mz_zip_writer_add_mem_ex_v2 but were not compared with a torch file of that size.
#include "milo/readers/zip_writer.hpp"

#include <zlib.h>

#include <algorithm>
#include <stdexcept>

namespace milo {
namespace readers {
namespace {

constexpr size_t kLocalHeaderSize = 30;

// `bytes` little-endian bytes of `v` (zeros past its eighth).
void le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(i < 8 ? char(v >> (8 * i)) : '\0');
}

uint32_t crc_of(std::string_view data) {
    uLong crc = ::crc32(0L, Z_NULL, 0);
    for (size_t done = 0; done < data.size();) {  // zlib takes uInt lengths
        uInt n = uInt(std::min<size_t>(data.size() - done, 1u << 30));
        crc = ::crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done), n);
        done += n;
    }
    return uint32_t(crc);
}

void check_name(std::string_view name) {
    auto bad = [&](const char* why) {
        throw std::invalid_argument(std::string("zip entry name ") + why + ": \"" +
                                    std::string(name.substr(0, 200)) + "\"");
    };
    if (name.empty()) bad("empty");
    if (name.size() > 0xFFFF) bad("longer than 65535 bytes");
    if (name.find('\0') != std::string_view::npos) bad("contains a NUL byte");
    if (name.find('\\') != std::string_view::npos) bad("contains a backslash");
    if (name[0] == '/') bad("absolute");
    for (size_t start = 0; start <= name.size();) {
        size_t end = std::min(name.find('/', start), name.size());
        std::string_view part = name.substr(start, end - start);
        if (part.empty() || part == "." || part == "..")
            bad("has an empty, \".\" or \"..\" component");
        start = end + 1;
    }
}

}  // namespace

ZipWriter::ZipWriter(Sink sink, ZipWriterOptions options)
    : sink_(std::move(sink)), options_(options) {
    if (options_.alignment == 0 || options_.alignment > 4096)
        throw std::invalid_argument("zip alignment must be 1..4096");
}

void ZipWriter::put(std::string_view bytes) {
    sink_(bytes.data(), bytes.size());
    offset_ += bytes.size();
}

void ZipWriter::add(std::string_view name, std::string_view data) {
    if (finished_) throw std::logic_error("zip writer: entry added after finish()");
    check_name(name);
    if (!names_.insert(std::string(name)).second)
        throw std::invalid_argument("zip entry name is a duplicate: \"" + std::string(name) + "\"");
    const uint64_t t = options_.zip64_threshold, at = offset_, size = data.size();
    const bool big_size = size >= t, big_offset = at >= t;
    std::string zip64;
    if (big_size || big_offset) {
        le(zip64, 0x0001, 2);
        le(zip64, (big_size ? 16 : 0) + (big_offset ? 8 : 0), 2);
        if (big_size) {
            le(zip64, size, 8);
            le(zip64, size, 8);
        }
        if (big_offset) le(zip64, at, 8);
    }
    // "FB" + its length + 'Z's up to the next multiple of the alignment.
    const uint64_t start = at + kLocalHeaderSize + name.size() + zip64.size() + 4;
    const uint64_t pad = (options_.alignment - start % options_.alignment) % options_.alignment;
    std::string header;
    le(header, 0x04034b50, 4);
    le(header, 0, 2);  // version needed (as miniz writes for stored entries)
    const uint16_t flags = data.empty() ? 0x0800 : 0x0808;  // UTF-8 name, data descriptor
    le(header, flags, 2);
    le(header, 0, 2);   // stored
    le(header, 0, 4);   // time, date
    le(header, 0, 12);  // CRC and sizes: in the data descriptor
    le(header, name.size(), 2);
    le(header, zip64.size() + 4 + pad, 2);
    header += name;
    header += zip64;
    header += "FB";
    le(header, pad, 2);
    header.append(size_t(pad), 'Z');
    put(header);
    put(data);
    const uint32_t crc = crc_of(data);
    entries_.push_back({std::string(name), at, size, crc, flags});
    if (data.empty()) return;
    std::string descriptor;
    le(descriptor, 0x08074b50, 4);
    le(descriptor, crc, 4);
    const int width = zip64.empty() ? 4 : 8;
    le(descriptor, size, width);
    le(descriptor, size, width);
    put(descriptor);
}

void ZipWriter::finish() {
    if (finished_) throw std::logic_error("zip writer: finish() called twice");
    finished_ = true;
    const uint64_t t = options_.zip64_threshold, cd_start = offset_;
    auto capped = [t](uint64_t v, uint64_t marker) { return v >= t ? marker : v; };
    for (const Entry& e : entries_) {
        std::string zip64;
        if (e.size >= t) {
            le(zip64, e.size, 8);
            le(zip64, e.size, 8);
        }
        if (e.offset >= t) le(zip64, e.offset, 8);
        if (!zip64.empty()) zip64 = std::string("\x01\x00", 2) + char(zip64.size()) + '\0' + zip64;
        std::string h;
        le(h, 0x02014b50, 4);
        le(h, 0, 2);  // version made by
        le(h, zip64.empty() ? 0 : 45, 2);
        le(h, e.flags, 2);
        le(h, 0, 2);
        le(h, 0, 4);
        le(h, e.crc, 4);
        le(h, capped(e.size, 0xFFFFFFFF), 4);
        le(h, capped(e.size, 0xFFFFFFFF), 4);
        le(h, e.name.size(), 2);
        le(h, zip64.size(), 2);
        le(h, 0, 6);  // comment length, disk, internal attributes
        le(h, 0, 4);  // external attributes
        le(h, capped(e.offset, 0xFFFFFFFF), 4);
        h += e.name;
        h += zip64;
        put(h);
    }
    const uint64_t cd_size = offset_ - cd_start, n = entries_.size(), end64 = offset_;
    std::string tail;
    le(tail, 0x06064b50, 4);
    le(tail, 44, 8);
    le(tail, 0x031e, 2);  // made by (UNIX, 3.0), needed 4.5: miniz's values
    le(tail, 0x002d, 2);
    le(tail, 0, 8);  // this disk, central directory disk
    le(tail, n, 8);
    le(tail, n, 8);
    le(tail, cd_size, 8);
    le(tail, cd_start, 8);
    le(tail, 0x07064b50, 4);
    le(tail, 0, 4);
    le(tail, end64, 8);
    le(tail, 1, 4);
    le(tail, 0x06054b50, 4);
    le(tail, 0, 4);
    le(tail, n >= 0xFFFF ? 0xFFFF : n, 2);
    le(tail, n >= 0xFFFF ? 0xFFFF : n, 2);
    le(tail, capped(cd_size, 0xFFFFFFFF), 4);
    le(tail, capped(cd_start, 0xFFFFFFFF), 4);
    le(tail, 0, 2);
    put(tail);
}

}  // namespace readers
}  // namespace milo
