// Pickle opcodes shared by the writers that turn documents back into pickle streams (the
// sklearn and torch plugins): each function appends one opcode with its operand to `out`, in
// the shortest form CPython's pickler uses. Header-only; the writers keep their own memo and
// protocol-specific choices (MEMOIZE vs BINPUT, SHORT_BINUNICODE vs BINUNICODE).
#ifndef MILO_READERS_PICKLE_EMIT_HPP
#define MILO_READERS_PICKLE_EMIT_HPP

#include <cstdint>
#include <cstring>
#include <string>

namespace milo {
namespace pickle {
namespace emit {

/// The low `bytes` bytes of `v`, little-endian.
inline void le(std::string& out, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) out.push_back(char(v >> (8 * i)));
}

/// `le` (little-endian two's complement) trimmed to its shortest form: top bytes that only
/// repeat the sign go.
inline std::string trim_le(std::string le) {
    while (le.size() > 1) {
        const unsigned char top = static_cast<unsigned char>(le.back());
        const unsigned char next = static_cast<unsigned char>(le[le.size() - 2]);
        if ((top == 0x00 && !(next & 0x80)) || (top == 0xFF && (next & 0x80))) le.pop_back();
        else break;
    }
    return le;
}

/// LONG1 / LONG4 of a little-endian two's complement integer (already in shortest form).
inline void long_bytes(std::string& out, const std::string& le_bytes) {
    if (le_bytes.size() < 256) {
        out.push_back('\x8a');
        out.push_back(char(le_bytes.size()));
    } else {
        out.push_back('\x8b');
        le(out, le_bytes.size(), 4);
    }
    out += le_bytes;
}

/// BININT1, BININT2, BININT or LONG1: the shortest that holds `v` (protocol 2 and later).
inline void int64(std::string& out, int64_t v) {
    if (v >= 0 && v < 256) {
        out.push_back('K');
        le(out, uint64_t(v), 1);
    } else if (v >= 0 && v < 65536) {
        out.push_back('M');
        le(out, uint64_t(v), 2);
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        out.push_back('J');
        le(out, uint64_t(uint32_t(int32_t(v))), 4);
    } else {
        std::string bytes;
        le(bytes, uint64_t(v), 8);
        long_bytes(out, trim_le(bytes));
    }
}

/// BINFLOAT: the double's bits, big-endian.
inline void float64(std::string& out, double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    out.push_back('G');
    for (int i = 7; i >= 0; --i) out.push_back(char(bits >> (8 * i)));
}

/// BINGET / LONG_BINGET of memo entry `index` (< 2^32; the caller checks).
inline void get(std::string& out, uint64_t index) {
    if (index < 256) {
        out.push_back('h');
        le(out, index, 1);
    } else {
        out.push_back('j');
        le(out, index, 4);
    }
}

}  // namespace emit
}  // namespace pickle
}  // namespace milo

#endif  // MILO_READERS_PICKLE_EMIT_HPP
