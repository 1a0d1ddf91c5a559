/// \file milo/milo_codec.hpp
/// Header-only helpers for format adapters (C++17): dtype tables, base64, shortest round-trip
/// number text, float16/bfloat16 conversion, UTF-8 validation. No dependency on libmilo, so
/// out-of-tree format plugins can use it too.
#ifndef MILO_MILO_CODEC_HPP
#define MILO_MILO_CODEC_HPP

#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <vector>

#include "milo/plugin.h"
#include "milo/value.h"

namespace milo {
namespace codec {

struct DTypeInfo {
    int32_t id;
    const char* name;         ///< document name ("float32")
    uint32_t size;            ///< bytes per element; 0 for record/object/string
    const char* safetensors;  ///< safetensors dtype code, or nullptr when it has none
};

inline const DTypeInfo* dtype_table() {
    static const DTypeInfo table[] = {
        {0, nullptr, 0, nullptr},
        {MILO_DTYPE_BOOL, "bool", 1, "BOOL"},
        {MILO_DTYPE_INT8, "int8", 1, "I8"},
        {MILO_DTYPE_INT16, "int16", 2, "I16"},
        {MILO_DTYPE_INT32, "int32", 4, "I32"},
        {MILO_DTYPE_INT64, "int64", 8, "I64"},
        {MILO_DTYPE_UINT8, "uint8", 1, "U8"},
        {MILO_DTYPE_UINT16, "uint16", 2, "U16"},
        {MILO_DTYPE_UINT32, "uint32", 4, "U32"},
        {MILO_DTYPE_UINT64, "uint64", 8, "U64"},
        {MILO_DTYPE_FLOAT16, "float16", 2, "F16"},
        {MILO_DTYPE_BFLOAT16, "bfloat16", 2, "BF16"},
        {MILO_DTYPE_FLOAT32, "float32", 4, "F32"},
        {MILO_DTYPE_FLOAT64, "float64", 8, "F64"},
        {MILO_DTYPE_COMPLEX64, "complex64", 8, "C64"},
        {MILO_DTYPE_COMPLEX128, "complex128", 16, nullptr},
        {MILO_DTYPE_RECORD, "record", 0, nullptr},
        {MILO_DTYPE_OBJECT, "object", 0, nullptr},
        {MILO_DTYPE_STRING, "string", 0, nullptr},
    };
    return table;
}

constexpr int32_t kDTypeMax = MILO_DTYPE_STRING;

/// Info for a dtype id, or nullptr when unknown.
inline const DTypeInfo* dtype_info(int32_t id) {
    if (id < 1 || id > kDTypeMax) return nullptr;
    return &dtype_table()[id];
}

/// True for the fixed-size numeric dtypes (bool … complex128).
inline bool dtype_is_numeric(int32_t id) { return id >= MILO_DTYPE_BOOL && id <= MILO_DTYPE_COMPLEX128; }
inline bool dtype_is_integer(int32_t id) { return id >= MILO_DTYPE_INT8 && id <= MILO_DTYPE_UINT64; }
inline bool dtype_is_signed(int32_t id) { return id >= MILO_DTYPE_INT8 && id <= MILO_DTYPE_INT64; }
inline bool dtype_is_float(int32_t id) { return id >= MILO_DTYPE_FLOAT16 && id <= MILO_DTYPE_FLOAT64; }
inline bool dtype_is_complex(int32_t id) {
    return id == MILO_DTYPE_COMPLEX64 || id == MILO_DTYPE_COMPLEX128;
}

/// dtype id from its document name ("record" is not a name: records are objects); 0 if unknown.
inline int32_t dtype_from_name(std::string_view name) {
    for (int32_t id = 1; id <= kDTypeMax; ++id) {
        if (id != MILO_DTYPE_RECORD && name == dtype_table()[id].name) return id;
    }
    return 0;
}

/// dtype id from a safetensors code; 0 if unknown.
inline int32_t dtype_from_safetensors(std::string_view code) {
    for (int32_t id = 1; id <= kDTypeMax; ++id) {
        const char* c = dtype_table()[id].safetensors;
        if (c != nullptr && code == c) return id;
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* base64 (RFC 4648, standard alphabet, with padding)                                         */
/* ---------------------------------------------------------------------------------------- */

inline size_t base64_encoded_size(size_t n) { return (n + 2) / 3 * 4; }

/// Writes base64_encoded_size(n) characters to `out`.
inline void base64_encode(const uint8_t* in, size_t n, char* out) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t(in[i]) << 16) | (uint32_t(in[i + 1]) << 8) | in[i + 2];
        out[0] = alphabet[v >> 18];
        out[1] = alphabet[(v >> 12) & 63];
        out[2] = alphabet[(v >> 6) & 63];
        out[3] = alphabet[v & 63];
        out += 4;
    }
    if (i < n) {
        uint32_t v = uint32_t(in[i]) << 16;
        if (i + 1 < n) v |= uint32_t(in[i + 1]) << 8;
        out[0] = alphabet[v >> 18];
        out[1] = alphabet[(v >> 12) & 63];
        out[2] = (i + 1 < n) ? alphabet[(v >> 6) & 63] : '=';
        out[3] = '=';
    }
}

inline void base64_append(const uint8_t* in, size_t n, std::string& out) {
    size_t old = out.size();
    out.resize(old + base64_encoded_size(n));
    base64_encode(in, n, &out[old]);
}

/// Decoded size of canonical base64 text, or SIZE_MAX when the length is not a multiple of 4.
inline size_t base64_decoded_size(const char* in, size_t n) {
    if (n % 4 != 0) return SIZE_MAX;
    if (n == 0) return 0;
    size_t pad = (in[n - 1] == '=') + (n >= 2 && in[n - 2] == '=');
    return n / 4 * 3 - pad;
}

/// Decodes canonical base64 (padding required, no whitespace, zero unused bits) into `out`,
/// which holds base64_decoded_size(in, n) bytes. Returns the offset of the first bad character,
/// or SIZE_MAX on success.
inline size_t base64_decode(const char* in, size_t n, uint8_t* out) {
    static const auto table = [] {
        struct T { int8_t v[256]; } t{};
        for (int i = 0; i < 256; ++i) t.v[i] = -1;
        const char* a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        for (int i = 0; i < 64; ++i) t.v[static_cast<uint8_t>(a[i])] = static_cast<int8_t>(i);
        return t;
    }();
    if (n % 4 != 0) return n;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int8_t a = table.v[static_cast<uint8_t>(in[i])];
        int8_t b = table.v[static_cast<uint8_t>(in[i + 1])];
        if (a < 0) return i;
        if (b < 0) return i + 1;
        bool last = (i + 4 == n);
        if (last && in[i + 2] == '=') {
            if (in[i + 3] != '=') return i + 3;
            if ((b & 15) != 0) return i + 1;
            out[o++] = static_cast<uint8_t>((a << 2) | (b >> 4));
            break;
        }
        int8_t c = table.v[static_cast<uint8_t>(in[i + 2])];
        if (c < 0) return i + 2;
        if (last && in[i + 3] == '=') {
            if ((c & 3) != 0) return i + 2;
            out[o++] = static_cast<uint8_t>((a << 2) | (b >> 4));
            out[o++] = static_cast<uint8_t>(((b & 15) << 4) | (c >> 2));
            break;
        }
        int8_t d = table.v[static_cast<uint8_t>(in[i + 3])];
        if (d < 0) return i + 3;
        out[o++] = static_cast<uint8_t>((a << 2) | (b >> 4));
        out[o++] = static_cast<uint8_t>(((b & 15) << 4) | (c >> 2));
        out[o++] = static_cast<uint8_t>(((c & 3) << 6) | d);
    }
    return SIZE_MAX;
}

/* ---------------------------------------------------------------------------------------- */
/* float16 / bfloat16                                                                        */
/* ---------------------------------------------------------------------------------------- */

inline float bits_to_float(uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}
inline uint32_t float_to_bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}
inline double bits_to_double(uint64_t b) {
    double d;
    std::memcpy(&d, &b, 8);
    return d;
}
inline uint64_t double_to_bits(double d) {
    uint64_t b;
    std::memcpy(&b, &d, 8);
    return b;
}

/// Exact widening of an IEEE binary16 to float (NaN payload bits kept in the high mantissa).
inline float half_to_float(uint16_t h) {
    uint32_t sign = uint32_t(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        int e = -1;
        do {
            ++e;
            mant <<= 1;
        } while ((mant & 0x400) == 0);
        bits = sign | (uint32_t(112 - e) << 23) | ((mant & 0x3ff) << 13);
    }
    return bits_to_float(bits);
}

/// Converts a finite float or infinity to binary16 when it is exactly representable; returns
/// false otherwise (the caller reports "not a float16 value").
inline bool float_to_half_exact(float f, uint16_t* out) {
    uint32_t b = float_to_bits(f);
    uint16_t sign = static_cast<uint16_t>((b >> 16) & 0x8000);
    uint32_t exp = (b >> 23) & 0xff;
    uint32_t mant = b & 0x7fffff;
    if (exp == 0xff) {
        if (mant != 0) return false;  // NaNs travel as bit patterns, not numbers
        *out = sign | 0x7c00;
        return true;
    }
    if (exp == 0 && mant == 0) {
        *out = sign;
        return true;
    }
    int e = int(exp) - 127;
    if (exp == 0) return false;  // float subnormals are far below half's range
    if (e > 15) return false;
    if (e >= -14) {
        if (mant & 0x1fff) return false;
        *out = static_cast<uint16_t>(sign | (uint32_t(e + 15) << 10) | (mant >> 13));
        return true;
    }
    if (e < -24) return false;
    uint32_t full = mant | 0x800000;  // 24-bit significand
    int shift = 13 + (-14 - e);
    if (full & ((1u << shift) - 1)) return false;
    *out = static_cast<uint16_t>(sign | (full >> shift));
    return true;
}

inline float bfloat16_to_float(uint16_t h) { return bits_to_float(uint32_t(h) << 16); }

inline bool float_to_bfloat16_exact(float f, uint16_t* out) {
    uint32_t b = float_to_bits(f);
    if ((b & 0xffff) != 0) return false;
    if (((b >> 23) & 0xff) == 0xff && (b & 0x7fffff) != 0) return false;
    *out = static_cast<uint16_t>(b >> 16);
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* Number text                                                                               */
/* ---------------------------------------------------------------------------------------- */

/// Buffer size that fits every text the writers below produce.
constexpr size_t kNumberBuffer = 40;

/// Shortest round-trip text of a finite double; always contains '.' or 'e' when
/// `force_point` ("1.0", "-0.0", "1e+300"). Returns the length. `buf` holds kNumberBuffer.
inline size_t write_double(double v, char* buf, bool force_point) {
    auto r = std::to_chars(buf, buf + kNumberBuffer - 3, v);
    size_t n = static_cast<size_t>(r.ptr - buf);
    if (force_point && std::memchr(buf, '.', n) == nullptr && std::memchr(buf, 'e', n) == nullptr) {
        buf[n++] = '.';
        buf[n++] = '0';
    }
    return n;
}

/// Shortest round-trip text of a finite float (float32 precision).
inline size_t write_float(float v, char* buf) {
    auto r = std::to_chars(buf, buf + kNumberBuffer, v);
    return static_cast<size_t>(r.ptr - buf);
}

inline size_t write_int64(int64_t v, char* buf) {
    return static_cast<size_t>(std::to_chars(buf, buf + kNumberBuffer, v).ptr - buf);
}
inline size_t write_uint64(uint64_t v, char* buf) {
    return static_cast<size_t>(std::to_chars(buf, buf + kNumberBuffer, v).ptr - buf);
}

/// Text of a non-finite value of a float dtype given its bit pattern and width in bytes (2, 4
/// or 8): "inf", "-inf", "nan" / "-nan" for the canonical quiet NaN, else "0x" + hex digits of
/// the pattern. Returns 0 for finite values.
inline size_t write_nonfinite(uint64_t bits, int width, bool bfloat, char* buf) {
    int total = width * 8;
    uint64_t sign_bit = uint64_t(1) << (total - 1);
    int exp_bits = width == 8 ? 11 : width == 4 ? 8 : (bfloat ? 8 : 5);
    int mant_bits = total - 1 - exp_bits;
    uint64_t exp_mask = ((uint64_t(1) << exp_bits) - 1) << mant_bits;
    uint64_t mant_mask = (uint64_t(1) << mant_bits) - 1;
    if ((bits & exp_mask) != exp_mask) return 0;
    bool neg = (bits & sign_bit) != 0;
    uint64_t mant = bits & mant_mask;
    const char* s = nullptr;
    if (mant == 0) s = neg ? "-inf" : "inf";
    else if (mant == (uint64_t(1) << (mant_bits - 1))) s = neg ? "-nan" : "nan";
    if (s != nullptr) {
        size_t n = std::strlen(s);
        std::memcpy(buf, s, n);
        return n;
    }
    static const char hex[] = "0123456789abcdef";
    buf[0] = '0';
    buf[1] = 'x';
    int digits = width * 2;
    for (int i = 0; i < digits; ++i) buf[2 + i] = hex[(bits >> (4 * (digits - 1 - i))) & 15];
    return size_t(digits) + 2;
}

/// Parses the text written by write_nonfinite for a float dtype of `width` bytes. Returns
/// false when `s` is not one of those forms (or a hex pattern that is finite / wrong width).
inline bool parse_nonfinite(std::string_view s, int width, bool bfloat, uint64_t* bits) {
    int total = width * 8;
    int exp_bits = width == 8 ? 11 : width == 4 ? 8 : (bfloat ? 8 : 5);
    int mant_bits = total - 1 - exp_bits;
    uint64_t sign_bit = uint64_t(1) << (total - 1);
    uint64_t exp_mask = ((uint64_t(1) << exp_bits) - 1) << mant_bits;
    uint64_t quiet = uint64_t(1) << (mant_bits - 1);
    if (s == "inf") *bits = exp_mask;
    else if (s == "-inf") *bits = sign_bit | exp_mask;
    else if (s == "nan") *bits = exp_mask | quiet;
    else if (s == "-nan") *bits = sign_bit | exp_mask | quiet;
    else {
        if (s.size() != size_t(width) * 2 + 2 || s[0] != '0' || s[1] != 'x') return false;
        uint64_t v = 0;
        for (size_t i = 2; i < s.size(); ++i) {
            char c = s[i];
            int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
            if (d < 0) return false;
            v = (v << 4) | uint64_t(d);
        }
        if ((v & exp_mask) != exp_mask) return false;  // finite values are written as numbers
        uint64_t mant = v & ((uint64_t(1) << mant_bits) - 1);
        // the canonical forms must use their names, so each pattern has one text
        if (mant == 0 || mant == quiet) return false;
        *bits = v;
    }
    return true;
}

/// Strict JSON-number grammar check (RFC 8259): -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
/// Sets *is_integer when there is neither fraction nor exponent.
inline bool is_json_number(std::string_view s, bool* is_integer) {
    size_t i = 0, n = s.size();
    if (i < n && s[i] == '-') ++i;
    if (i >= n) return false;
    if (s[i] == '0') {
        ++i;
    } else if (s[i] >= '1' && s[i] <= '9') {
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
    } else {
        return false;
    }
    bool integer = true;
    if (i < n && s[i] == '.') {
        integer = false;
        ++i;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start) return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        integer = false;
        ++i;
        if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
        size_t start = i;
        while (i < n && s[i] >= '0' && s[i] <= '9') ++i;
        if (i == start) return false;
    }
    if (is_integer != nullptr) *is_integer = integer;
    return i == n;
}

/// Parses a JSON number as double with correct rounding; false when out of range (overflow to
/// infinity) or malformed. Text must already satisfy is_json_number.
inline bool parse_double(std::string_view s, double* out) {
    double v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
    *out = v;
    return true;
}

inline bool parse_float(std::string_view s, float* out) {
    float v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
    *out = v;
    return true;
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8                                                                                     */
/* ---------------------------------------------------------------------------------------- */

/// Length (1..4) of the valid UTF-8 sequence at `p` (`avail` ≥ 1 bytes readable), or 0 when it
/// is not valid UTF-8 (bad lead or continuation byte, truncated, overlong, surrogate, > U+10FFFF).
inline size_t utf8_sequence(const uint8_t* p, size_t avail) {
    uint8_t c = p[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
        len = 2;
        cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        len = 3;
        cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (avail < len) return 0;
    for (size_t k = 1; k < len; ++k) {
        if ((p[k] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/// Offset of the first byte that is not part of valid UTF-8 (no surrogates, no overlongs), or
/// SIZE_MAX when all of `s` is valid.
inline size_t utf8_invalid_at(const char* s, size_t n) {
    const auto* p = reinterpret_cast<const uint8_t*>(s);
    size_t i = 0;
    while (i < n) {
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        size_t len = utf8_sequence(p + i, n - i);
        if (len == 0) return i;
        i += len;
    }
    return SIZE_MAX;
}

/// `s` between two `quote` characters for an error message: control bytes, the quote and the
/// backslash written as \xNN. With `max` > 0, text beyond `max` bytes (counting the opening
/// quote) is cut and marked "...".
inline std::string quote_for_message(std::string_view s, char quote = '"', size_t max = 0) {
    std::string out(1, quote);
    for (char c : s) {
        if (static_cast<unsigned char>(c) < 0x20 || c == quote || c == '\\') {
            static const char kHex[] = "0123456789abcdef";
            const auto b = static_cast<unsigned char>(c);
            out += "\\x";
            out += kHex[b >> 4];
            out += kHex[b & 15];
        } else {
            out += c;
        }
    }
    if (max > 0 && out.size() > max) out = out.substr(0, max) + "...";
    return out + quote;
}

/// Appends code point `cp` (≤ U+10FFFF, not a surrogate) to `s` as UTF-8.
inline void utf8_append(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
        s += char(cp);
    } else if (cp < 0x800) {
        s += char(0xc0 | (cp >> 6));
        s += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        s += char(0xe0 | (cp >> 12));
        s += char(0x80 | ((cp >> 6) & 0x3f));
        s += char(0x80 | (cp & 0x3f));
    } else {
        s += char(0xf0 | (cp >> 18));
        s += char(0x80 | ((cp >> 12) & 0x3f));
        s += char(0x80 | ((cp >> 6) & 0x3f));
        s += char(0x80 | (cp & 0x3f));
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Encoding tensors                                                                          */
/* ---------------------------------------------------------------------------------------- */

/// Element count of a shape; false on a negative dimension or overflow.
inline bool element_count(const int64_t* shape, size_t ndim, uint64_t* count) {
    uint64_t n = 1;
    for (size_t i = 0; i < ndim; ++i)
        if (shape[i] < 0 || __builtin_mul_overflow(n, uint64_t(shape[i]), &n)) return false;
    *count = n;
    return true;
}

/// How an encoder stores tensor `t` of `dtype`: the host's answer (or `fallback` without a
/// callback) normalised to what the dtype allows — object and string tensors are always
/// READABLE, record tensors never EXTERNAL (COMPACT instead), an unknown answer is READABLE.
/// `*name` is the external name. Returns false when the host said EXTERNAL without a name.
inline bool tensor_storage(const milo_encode_context* ctx, const milo_value* t, int32_t dtype,
                           int32_t fallback, int32_t* mode, const char** name) {
    *name = nullptr;
    int32_t m = ctx->tensor_storage != nullptr ? ctx->tensor_storage(ctx->context, t, name)
                                               : fallback;
    if (dtype == MILO_DTYPE_OBJECT || dtype == MILO_DTYPE_STRING) m = MILO_TENSORS_READABLE;
    if (dtype == MILO_DTYPE_RECORD && m == MILO_TENSORS_EXTERNAL) m = MILO_TENSORS_COMPACT;
    if (m != MILO_TENSORS_COMPACT && m != MILO_TENSORS_EXTERNAL) m = MILO_TENSORS_READABLE;
    *mode = m;
    return m != MILO_TENSORS_EXTERNAL || *name != nullptr;
}

/* ---------------------------------------------------------------------------------------- */
/* Sharing: which nodes get "$id"/"$ref"                                                     */
/* ---------------------------------------------------------------------------------------- */

/// Default and encoder nesting limit (root value is depth 1).
constexpr uint32_t kDefaultMaxDepth = 1000;

/// True for kinds with identity (list, tuple, set, map, tensor, object).
inline bool kind_has_identity(int32_t kind) {
    return kind == MILO_KIND_LIST || kind == MILO_KIND_TUPLE || kind == MILO_KIND_SET ||
           kind == MILO_KIND_MAP || kind == MILO_KIND_TENSOR || kind == MILO_KIND_OBJECT;
}

/// Finds the nodes reachable more than once from a root, in the canonical traversal order of
/// docs/format.md §2 (depth-first; map key before value; object args before state; object
/// tensor elements in order), and hands out ids 1, 2, 3 … at their first occurrence while an
/// encoder walks the same order. Iterative, so deep graphs cannot overflow the stack here.
class SharedNodes {
public:
    /// Returns false (and the depth reached) when nesting exceeds `max_depth`.
    bool build(const milo_api* api, const milo_value* root, uint32_t max_depth,
               uint32_t* depth_reached) {
        counts_.clear();
        next_id_ = 0;
        if (root == nullptr) return true;
        struct Frame { const milo_value* v; uint32_t depth; };
        std::vector<Frame> stack{{root, 1}};
        while (!stack.empty()) {
            Frame f = stack.back();
            stack.pop_back();
            if (f.depth > max_depth) {
                if (depth_reached) *depth_reached = f.depth;
                return false;
            }
            int32_t kind = api->value_get_kind(f.v);
            if (!kind_has_identity(kind)) continue;
            uint32_t& c = counts_[f.v].count;
            if (++c > 1) continue;  // children already scheduled
            // push children in reverse so they pop in document order
            std::vector<const milo_value*> kids;
            children(api, f.v, kind, &kids);
            for (size_t i = kids.size(); i-- > 0;) stack.push_back({kids[i], f.depth + 1});
        }
        return true;
    }

    struct Visit {
        uint64_t id;  ///< 0: not shared (write inline, no $id)
        bool first;   ///< true: write the node with "$id"; false: write {"$ref": id}
    };

    /// Call once per occurrence, in document order, for nodes with identity.
    Visit visit(const milo_value* v) {
        auto it = counts_.find(v);
        if (it == counts_.end() || it->second.count < 2) return {0, true};
        if (it->second.id == 0) {
            it->second.id = ++next_id_;
            return {it->second.id, true};
        }
        return {it->second.id, false};
    }

    /// Children of a node in canonical order (nulls skipped).
    static void children(const milo_api* api, const milo_value* v, int32_t kind,
                         std::vector<const milo_value*>* out) {
        if (kind == MILO_KIND_LIST || kind == MILO_KIND_TUPLE || kind == MILO_KIND_SET) {
            size_t n = api->value_count(v);
            for (size_t i = 0; i < n; ++i) out->push_back(api->value_at(v, i));
        } else if (kind == MILO_KIND_MAP) {
            size_t n = api->value_count(v);
            for (size_t i = 0; i < n; ++i) {
                out->push_back(api->value_key_at(v, i));
                out->push_back(api->value_at(v, i));
            }
        } else if (kind == MILO_KIND_OBJECT) {
            if (const milo_value* a = api->value_get_args(v)) out->push_back(a);
            if (const milo_value* s = api->value_get_state(v)) out->push_back(s);
        } else if (kind == MILO_KIND_TENSOR) {
            int32_t dtype = 0;
            const int64_t* shape = nullptr;
            size_t ndim = 0;
            if (api->value_get_tensor(v, &dtype, &shape, &ndim, nullptr) == MILO_OK &&
                dtype == MILO_DTYPE_OBJECT) {
                size_t n = api->value_count(v);
                for (size_t i = 0; i < n; ++i) out->push_back(api->value_tensor_item_at(v, i));
            }
        }
    }

private:
    struct Entry { uint32_t count = 0; uint64_t id = 0; };
    std::unordered_map<const milo_value*, Entry> counts_;
    uint64_t next_id_ = 0;
};

}  // namespace codec
}  // namespace milo

#endif  // MILO_MILO_CODEC_HPP
