// Content sniffing and bounded decompression (milo/readers/decompress.hpp).
//
// Every codec runs through one driver (run()) that owns the output buffer: the buffer grows
// geometrically but never past the cap (max_output, and max_ratio × input beyond ratio_floor),
// and the check happens before growing. At the cap the codec gets a one-byte probe: a stream
// that ends exactly at the cap is accepted, one more byte of output is refused. The driver also
// makes "all input consumed" strict: after a member ends, only a next member of the same format
// may follow (gzip, bz2, xz, lz4), anything else is trailing garbage.
#include "milo/readers/decompress.hpp"

#include <bzlib.h>
#include <lz4frame.h>
#include <lzma.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <memory>

namespace milo {
namespace readers {

DecompressError::DecompressError(uint64_t offset, const std::string& reason)
    : std::runtime_error("byte " + std::to_string(offset) + ": " + reason), offset_(offset) {}

const char* container_name(Container c) noexcept {
    switch (c) {
        case Container::Pickle:
            return "pickle";
        case Container::Zip:
            return "zip";
        case Container::Zlib:
            return "zlib";
        case Container::Gzip:
            return "gzip";
        case Container::Bz2:
            return "bz2";
        case Container::Xz:
            return "xz";
        case Container::Lzma:
            return "lzma";
        case Container::Lz4:
            return "lz4";
        case Container::Unknown:
            break;
    }
    return "unknown";
}

namespace {

uint32_t le32(const uint8_t* p) {
    return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

uint64_t le64(const uint8_t* p) { return le32(p) | uint64_t(le32(p + 4)) << 32; }

bool starts_with(const uint8_t* d, size_t n, const char* magic, size_t len) {
    return n >= len && std::memcmp(d, magic, len) == 0;
}

const uint8_t kXzMagic[6] = {0xFD, '7', 'z', 'X', 'Z', 0x00};
const uint8_t kLz4Magic[4] = {0x04, 0x22, 0x4D, 0x18};

// Old joblib (< 0.10) "ZF" files: "ZF" + hex(len) left-justified in 19 characters (plus one
// more space when written by Python 2 with joblib <= 0.8.4), then a zlib stream of `len` bytes.
// Returns the size of that header, or 0 when `d` does not start with one.
size_t zfile_header(const uint8_t* d, size_t n, uint64_t* declared) {
    constexpr size_t kField = 19;
    if (n < 2 + kField + 2 || d[0] != 'Z' || d[1] != 'F' || d[2] != '0' || d[3] != 'x') return 0;
    size_t i = 4;
    uint64_t len = 0;
    for (; i < 2 + kField && std::isxdigit(d[i]); ++i) {
        if (i - 4 >= 16) return 0;  // more than 64 bits
        len = len << 4 | uint64_t(std::isdigit(d[i]) ? d[i] - '0' : (d[i] | 0x20) - 'a' + 10);
    }
    if (i == 4) return 0;
    for (; i < 2 + kField; ++i)
        if (d[i] != ' ') return 0;
    if (d[i] == ' ') ++i;
    if (i + 2 > n || d[i] != 0x78 || (d[i] * 256 + d[i + 1]) % 31 != 0) return 0;
    if (declared != nullptr) *declared = len;
    return i;
}

// lzma-alone header: properties byte (lc/lp/pb, < 9*5*5), dictionary size (2^n or 2^n + 2^(n-1),
// at least 4 KiB, or 0xFFFFFFFF), uncompressed size (unknown = all ones, or below 256 GiB). The
// same plausibility rules liblzma applies when it auto-detects this headerless format.
bool lzma_alone_header(const uint8_t* d, size_t n) {
    if (n < 13 || d[0] >= 9 * 5 * 5) return false;
    const uint32_t dict = le32(d + 1);
    if (dict != 0xFFFFFFFFu) {
        if (dict < 4096) return false;
        uint32_t top = dict;
        while (top & (top - 1)) top &= top - 1;  // highest set bit
        if (dict != top && dict != top + (top >> 1)) return false;
    }
    const uint64_t size = le64(d + 5);
    return size == ~uint64_t(0) || size < (uint64_t(1) << 38);
}

// An end-of-central-directory record whose comment ends exactly at the end of the input,
// searched in the last 22 + 65535 bytes (an archive behind a prefix has no magic at the head).
bool zip_tail(const uint8_t* d, size_t n) {
    if (n < 22) return false;
    const size_t lowest = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (size_t p = n - 22 + 1; p-- > lowest;) {
        if (d[p] == 'P' && d[p + 1] == 'K' && d[p + 2] == 5 && d[p + 3] == 6 &&
            p + 22 + (d[p + 20] | size_t(d[p + 21]) << 8) == n)
            return true;
    }
    return false;
}

// Opcodes that can begin a protocol 0/1 pickle (which has no PROTO): MARK and the opcodes that
// push a value, plus LIST, DICT, TUPLE and PUT, which only a malformed stream starts with.
bool pickle_start(uint8_t b) {
    static const char kStarts[] = "(]})cNILFSVXUTKJMGldtpP";  // P: PERSID
    return b != 0 && std::strchr(kStarts, b) != nullptr;
}

}  // namespace

Container sniff(const uint8_t* d, size_t n) noexcept {
    if (d == nullptr || n == 0) return Container::Unknown;
    if (n >= 2 && d[0] == 0x80 && d[1] >= 2 && d[1] <= 5) return Container::Pickle;
    if (starts_with(d, n, "PK\x03\x04", 4) || starts_with(d, n, "PK\x05\x06", 4))
        return Container::Zip;
    if (n >= 3 && d[0] == 0x1F && d[1] == 0x8B && d[2] == 8) return Container::Gzip;
    if (n >= 2 && d[0] == 0x78 && (d[0] * 256 + d[1]) % 31 == 0) return Container::Zlib;
    if (n >= 4 && starts_with(d, n, "BZh", 3) && d[3] >= '1' && d[3] <= '9') return Container::Bz2;
    if (n >= 6 && std::memcmp(d, kXzMagic, 6) == 0) return Container::Xz;
    if (n >= 4 && std::memcmp(d, kLz4Magic, 4) == 0) return Container::Lz4;
    if (zfile_header(d, n, nullptr) != 0) return Container::Zlib;
    if (lzma_alone_header(d, n)) return Container::Lzma;
    if (zip_tail(d, n)) return Container::Zip;
    if (pickle_start(d[0])) return Container::Pickle;
    return Container::Unknown;
}

namespace {

// What one codec call did: input consumed, output produced, and whether a member (stream,
// frame) ended or the codec failed (`why` then says how).
struct Step {
    size_t in = 0;
    size_t out = 0;
    enum { More, End, Fail } state = More;
    std::string why;
};

class Codec {
public:
    virtual ~Codec() = default;
    /// Decodes from `in` (all remaining input) into `out`.
    virtual Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) = 0;
    /// Prepares for the next member after Step::End.
    virtual void reset() = 0;
    /// After a member: how many bytes (padding) precede the next member at `p`, or npos when
    /// `p` does not hold one (trailing garbage). Default: no further members.
    virtual size_t next_member(const uint8_t*, size_t) const { return npos; }
    static constexpr size_t npos = ~size_t(0);
};

unsigned clamp_uint(size_t n) { return unsigned(std::min<size_t>(n, 1u << 30)); }

class ZlibCodec : public Codec {
public:
    explicit ZlibCodec(bool gzip) : gzip_(gzip) {
        if (inflateInit2(&z_, gzip ? 16 + MAX_WBITS : MAX_WBITS) != Z_OK) throw std::bad_alloc();
    }
    ~ZlibCodec() override { inflateEnd(&z_); }
    Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
        z_.next_in = const_cast<Bytef*>(in);
        z_.avail_in = clamp_uint(in_len);
        z_.next_out = out;
        z_.avail_out = clamp_uint(out_len);
        const unsigned in0 = z_.avail_in, out0 = z_.avail_out;
        const int rc = inflate(&z_, Z_NO_FLUSH);
        Step s;
        s.in = in0 - z_.avail_in;
        s.out = out0 - z_.avail_out;
        if (rc == Z_STREAM_END) {
            s.state = Step::End;
        } else if (rc == Z_NEED_DICT) {
            s.state = Step::Fail;
            s.why = "the stream needs a preset dictionary (not supported)";
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            s.state = Step::Fail;
            s.why = rc == Z_MEM_ERROR ? "out of memory" : (z_.msg ? z_.msg : "corrupt data");
        }
        return s;
    }
    void reset() override { inflateReset(&z_); }
    size_t next_member(const uint8_t* p, size_t n) const override {
        return gzip_ && n >= 2 && p[0] == 0x1F && p[1] == 0x8B ? 0 : npos;
    }

private:
    z_stream z_{};
    bool gzip_;
};

class Bz2Codec : public Codec {
public:
    Bz2Codec() { init(); }
    ~Bz2Codec() override { BZ2_bzDecompressEnd(&b_); }
    Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
        b_.next_in = reinterpret_cast<char*>(const_cast<uint8_t*>(in));
        b_.avail_in = clamp_uint(in_len);
        b_.next_out = reinterpret_cast<char*>(out);
        b_.avail_out = clamp_uint(out_len);
        const unsigned in0 = b_.avail_in, out0 = b_.avail_out;
        const int rc = BZ2_bzDecompress(&b_);
        Step s;
        s.in = in0 - b_.avail_in;
        s.out = out0 - b_.avail_out;
        if (rc == BZ_STREAM_END) {
            s.state = Step::End;
        } else if (rc != BZ_OK) {
            s.state = Step::Fail;
            s.why = rc == BZ_DATA_ERROR_MAGIC ? "bad stream header (no \"BZh\" magic)"
                    : rc == BZ_DATA_ERROR     ? "corrupt data or block CRC mismatch"
                    : rc == BZ_MEM_ERROR      ? "out of memory"
                                              : "decoder error " + std::to_string(rc);
        }
        return s;
    }
    void reset() override {
        BZ2_bzDecompressEnd(&b_);
        init();
    }
    size_t next_member(const uint8_t* p, size_t n) const override {
        return starts_with(p, n, "BZh", 3) ? 0 : npos;
    }

private:
    void init() {
        b_ = bz_stream{};
        if (BZ2_bzDecompressInit(&b_, 0, 0) != BZ_OK) throw std::bad_alloc();
    }
    bz_stream b_{};
};

// Decoder memory for xz/lzma: the dictionary is allocated at its declared size (up to 4 GiB),
// so it is capped. xz -9 needs 65 MiB.
constexpr uint64_t kLzmaMemLimit = uint64_t(256) << 20;

class LzmaCodec : public Codec {
public:
    explicit LzmaCodec(bool xz) : xz_(xz) { init(); }
    ~LzmaCodec() override { lzma_end(&s_); }
    Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
        s_.next_in = in;
        s_.avail_in = in_len;
        s_.next_out = out;
        s_.avail_out = out_len;
        // all the remaining input is always handed over, so each call may finish the stream
        const lzma_ret rc = lzma_code(&s_, LZMA_FINISH);
        Step s;
        s.in = in_len - s_.avail_in;
        s.out = out_len - s_.avail_out;
        switch (rc) {
            case LZMA_OK:
            case LZMA_BUF_ERROR:
                break;  // no progress: the driver tells truncation apart
            case LZMA_STREAM_END:
                s.state = Step::End;
                break;
            case LZMA_MEMLIMIT_ERROR:
                s.state = Step::Fail;
                s.why = "the dictionary needs " + std::to_string(lzma_memusage(&s_)) +
                        " bytes of decoder memory, more than the " + std::to_string(kLzmaMemLimit) +
                        " allowed";
                break;
            case LZMA_FORMAT_ERROR:
                s.state = Step::Fail;
                s.why = xz_ ? "bad stream header (no xz magic)" : "bad lzma-alone header";
                break;
            case LZMA_OPTIONS_ERROR:
                s.state = Step::Fail;
                s.why = "unsupported options in the header";
                break;
            case LZMA_DATA_ERROR:
                s.state = Step::Fail;
                s.why = "corrupt data or checksum mismatch";
                break;
            case LZMA_MEM_ERROR:
                s.state = Step::Fail;
                s.why = "out of memory";
                break;
            default:
                s.state = Step::Fail;
                s.why = "decoder error " + std::to_string(int(rc));
        }
        return s;
    }
    void reset() override {
        lzma_end(&s_);
        init();
    }
    // xz: stream padding (zero bytes, a multiple of 4) may follow a stream, then another stream
    size_t next_member(const uint8_t* p, size_t n) const override {
        if (!xz_) return npos;
        size_t zeros = 0;
        while (zeros < n && p[zeros] == 0) ++zeros;
        if (zeros % 4 != 0) return npos;
        if (zeros == n || (n - zeros >= 6 && std::memcmp(p + zeros, kXzMagic, 6) == 0))
            return zeros;
        return npos;
    }

private:
    void init() {
        s_ = LZMA_STREAM_INIT;
        const lzma_ret rc = xz_ ? lzma_stream_decoder(&s_, kLzmaMemLimit, 0)
                                : lzma_alone_decoder(&s_, kLzmaMemLimit);
        if (rc != LZMA_OK) throw std::bad_alloc();
    }
    lzma_stream s_ = LZMA_STREAM_INIT;
    bool xz_;
};

class Lz4Codec : public Codec {
public:
    Lz4Codec() {
        if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx_, LZ4F_VERSION)))
            throw std::bad_alloc();
    }
    ~Lz4Codec() override { LZ4F_freeDecompressionContext(dctx_); }
    Step step(const uint8_t* in, size_t in_len, uint8_t* out, size_t out_len) override {
        // Input in the pieces the decoder asks for (its hint: the rest of the current block),
        // so a failure is reported at the end of the block that holds the fault.
        size_t src = std::min(in_len, hint_);
        const size_t src0 = src;
        size_t dst = out_len;
        const size_t r = LZ4F_decompress(dctx_, out, &dst, in, &src, nullptr);
        Step s;
        if (LZ4F_isError(r)) {
            s.in = src0;
            s.state = Step::Fail;
            s.why = LZ4F_getErrorName(r);
            return s;
        }
        s.in = src;
        s.out = dst;
        hint_ = r == 0 ? LZ4F_HEADER_SIZE_MIN : r;
        if (r == 0) s.state = Step::End;  // frame complete (content checksum verified)
        return s;
    }
    void reset() override {}  // the context is ready for a new frame after one ends
    size_t next_member(const uint8_t* p, size_t n) const override {
        // another frame, or a skippable frame (magic 0x184D2A50..5F)
        if (n >= 4 && (std::memcmp(p, kLz4Magic, 4) == 0 ||
                       ((p[0] & 0xF0) == 0x50 && p[1] == 0x2A && p[2] == 0x4D && p[3] == 0x18)))
            return 0;
        return npos;
    }

private:
    LZ4F_dctx* dctx_ = nullptr;
    size_t hint_ = LZ4F_HEADER_SIZE_MIN;
};

// The output buffer: grows by doubling up to `cap`, checked before each growth.
class Sink {
public:
    explicit Sink(uint64_t cap, size_t first) : cap_(cap), first_(first) {}
    /// Room for the codec's next output (at least one byte).
    uint8_t* space(size_t* avail) {
        if (used_ == buf_.size() && used_ < cap_) {
            const uint64_t grown = std::max<uint64_t>(buf_.size() * uint64_t(2), first_);
            buf_.resize(size_t(std::min<uint64_t>(grown, cap_)));
        }
        if (used_ < buf_.size()) {
            *avail = buf_.size() - used_;
            return reinterpret_cast<uint8_t*>(&buf_[used_]);
        }
        *avail = 1;  // at the cap: a probe byte, see the file comment
        return &probe_;
    }
    /// Records `n` bytes written into the last space(); false when that overflowed the cap.
    bool commit(size_t n) {
        if (n == 0) return true;
        if (used_ == buf_.size()) return false;
        used_ += n;
        return true;
    }
    std::string take() {
        buf_.resize(used_);
        return std::move(buf_);
    }

private:
    std::string buf_;
    size_t used_ = 0;
    uint64_t cap_;
    uint64_t first_;
    uint8_t probe_ = 0;
};

struct Cap {
    uint64_t bytes;
    std::string why;  ///< which limit set it, for the message
};

Cap output_cap(uint64_t input_size, const DecompressLimits& limits) {
    const uint64_t by_ratio =
        input_size != 0 && limits.max_ratio > std::numeric_limits<uint64_t>::max() / input_size
            ? std::numeric_limits<uint64_t>::max()
            : limits.max_ratio * input_size;
    Cap cap{limits.max_output, "max_output"};
    if (std::max(by_ratio, limits.ratio_floor) < cap.bytes) {
        cap.bytes = std::max(by_ratio, limits.ratio_floor);
        cap.why = "max_ratio " + std::to_string(limits.max_ratio) + " x " +
                  std::to_string(input_size) + " input bytes, ratio_floor " +
                  std::to_string(limits.ratio_floor);
    }
    cap.bytes = std::min<uint64_t>(cap.bytes, std::string().max_size());
    return cap;
}

// Decodes data[0, size) with `codec`; offsets in errors are `base` + bytes consumed.
std::string run(Codec& codec, const char* name, const uint8_t* data, size_t size, uint64_t base,
                const Cap& cap) {
    const auto fail = [&](size_t pos, const std::string& why) {
        return DecompressError(base + pos, std::string(name) + ": " + why);
    };
    // first guess: twice the input (model data rarely compresses much), at least 64 KiB
    const uint64_t first = std::max<uint64_t>(uint64_t(64) << 10, uint64_t(size) * 2);
    Sink sink(cap.bytes, first);
    size_t pos = 0;
    int idle = 0;
    for (;;) {
        size_t avail = 0;
        uint8_t* out = sink.space(&avail);
        const Step s = codec.step(data + pos, size - pos, out, avail);
        pos += s.in;
        if (!sink.commit(s.out))
            throw fail(pos, "output exceeds the limit of " + std::to_string(cap.bytes) +
                                " bytes (" + cap.why + ")");
        if (s.state == Step::Fail) throw fail(pos, s.why);
        if (s.state == Step::End) {
            if (pos == size) break;
            const size_t skip = codec.next_member(data + pos, size - pos);
            if (skip == Codec::npos)
                throw fail(pos, "trailing garbage: " + std::to_string(size - pos) +
                                    " bytes after the end of the compressed stream");
            pos += skip;
            if (pos == size) break;
            codec.reset();
            idle = 0;
            continue;
        }
        if (s.in != 0 || s.out != 0) {
            idle = 0;
        } else if (pos == size) {
            throw fail(pos, "truncated input: the stream ends before its end marker");
        } else if (++idle > 2) {
            throw fail(pos, "the decoder makes no progress");
        }
    }
    return sink.take();
}

}  // namespace

std::string decompress(Container c, const uint8_t* data, size_t size,
                       const DecompressLimits& limits) {
    if (data == nullptr && size != 0) throw DecompressError(0, "no input");
    static const uint8_t kEmpty = 0;
    if (data == nullptr) data = &kEmpty;
    const Cap cap = output_cap(size, limits);
    switch (c) {
        case Container::Zlib: {
            uint64_t declared = 0;
            const size_t header = zfile_header(data, size, &declared);
            ZlibCodec codec(false);
            std::string out = run(codec, "zlib", data + header, size - header, header, cap);
            if (header != 0 && out.size() != declared)
                throw DecompressError(
                    size, "zlib: joblib ZF header declares " + std::to_string(declared) +
                              " bytes, the stream holds " + std::to_string(out.size()));
            return out;
        }
        case Container::Gzip: {
            ZlibCodec codec(true);
            return run(codec, "gzip", data, size, 0, cap);
        }
        case Container::Bz2: {
            Bz2Codec codec;
            return run(codec, "bz2", data, size, 0, cap);
        }
        case Container::Xz: {
            LzmaCodec codec(true);
            return run(codec, "xz", data, size, 0, cap);
        }
        case Container::Lzma: {
            LzmaCodec codec(false);
            return run(codec, "lzma", data, size, 0, cap);
        }
        case Container::Lz4: {
            Lz4Codec codec;
            return run(codec, "lz4", data, size, 0, cap);
        }
        default:
            throw DecompressError(
                0, std::string("decompress: ") + container_name(c) + " is not a compression codec");
    }
}

}  // namespace readers
}  // namespace milo
