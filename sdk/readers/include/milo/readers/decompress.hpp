/// \file milo/readers/decompress.hpp
/// Content sniffing of model containers by magic bytes (never by file name) and bounded
/// decompression of the codecs joblib writes: zlib, gzip, bz2, xz, lzma ("alone"), lz4 frame.
/// Part of the static library `milo_readers` (sdk/readers); not part of libmilo's ABI.
#ifndef MILO_READERS_DECOMPRESS_HPP
#define MILO_READERS_DECOMPRESS_HPP

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace milo {
namespace readers {

enum class Container : uint8_t {
    Unknown,
    Pickle,  ///< a pickle stream (PROTO 2–5, or a protocol 0/1 opcode that can start a stream)
    Zip,     ///< a zip archive (local header or end-of-central-directory signature)
    Zlib,
    Gzip,
    Bz2,
    Xz,
    Lzma,    ///< the legacy "lzma alone" format (joblib's compress='lzma')
    Lz4,     ///< lz4 frame format
};

const char* container_name(Container c) noexcept;  ///< "pickle", "zip", "gzip", …

/// Identifies what `data` holds from its first bytes: the magic of each format (xz, lz4, gzip
/// 1f 8b 08, zlib 78 xx with a valid header check, bz2 "BZh1".."BZh9", zip local header or
/// empty-archive record, PROTO 2–5), then the plausible lzma-alone header and joblib's legacy
/// "ZF" header (< 0.10, reported as Zlib), then a zip end record whose comment ends the input
/// (an archive behind a prefix; searched in the last 65,557 bytes), and last a protocol 0/1
/// pickle's first opcode. Never reads past `size`.
Container sniff(const uint8_t* data, size_t size) noexcept;

/// Refusal to decompress: what() names the codec, the byte offset in the compressed input
/// where the codec failed (when known) and why.
class DecompressError : public std::runtime_error {
public:
    DecompressError(uint64_t offset, const std::string& reason);
    uint64_t offset() const noexcept { return offset_; }

private:
    uint64_t offset_;
};

struct DecompressLimits {
    uint64_t max_output = uint64_t(8) << 30;  ///< absolute cap on decompressed bytes
    uint64_t max_ratio = 1000;                ///< cap on output / input size
    uint64_t ratio_floor = uint64_t(16) << 20;  ///< outputs up to this size ignore the ratio
};

/// Decompresses a whole stream of codec `c` (Zlib … Lz4). The entire input must be consumed
/// (concatenated members are accepted only where the format defines them: gzip, bz2, xz, lz4
/// frames); trailing garbage, truncation, checksum errors and exceeding a limit are errors.
/// The output is capped at min(max_output, max(max_ratio × size, ratio_floor)) bytes, checked
/// before the buffer grows (a stream ending exactly at the cap is accepted). Strict details: zero
/// padding after a gzip member is garbage; xz stream padding (zero bytes, a multiple of 4) is
/// accepted; xz/lzma streams whose dictionary needs more than 256 MiB of decoder memory are
/// refused; Zlib also takes joblib's legacy "ZF" header, whose declared length must match.
/// Throws DecompressError (offset = compressed bytes consumed when the codec stopped).
std::string decompress(Container c, const uint8_t* data, size_t size,
                       const DecompressLimits& limits = {});

}  // namespace readers
}  // namespace milo

#endif  // MILO_READERS_DECOMPRESS_HPP
