// Decoder of the binary protobuf format: milo.v1.Document bytes → milo_doc.
//
// A strict reader over the in-memory input (size_t offsets: CodedInputStream is limited to
// 2 GiB, tensors are not). Every tag, wire type and length is checked before use; unknown
// fields, repeated singular fields and a oneof given twice are errors (format version 1).
// Values are decoded in canonical document order — a map's keys and values are read with two
// cursors, pairing key i with value i — so `ref`s always follow their `id`. A Value's `id`
// (field 16) is written after its content, so each Value's fields are scanned first (a Value
// has at most two), then a container is created and registered before its children: cycles
// resolve. Tensor data is copied once, from the input into the tensor's buffer, after its size
// has been checked against the shape.
//
// The value functions recurse (two frames per nesting level), so they keep their frames small:
// error messages are built in one cold printf-style function, and the 1 KB milo_error buffer
// for document calls is a member.
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include "milo/milo_codec.hpp"
#include "milo/plugin.h"
#include "pb_wire.hpp"

#define PB_COLD __attribute__((noinline, cold))
#define PB_NOINLINE __attribute__((noinline))

namespace milo {
namespace pb {
namespace {

// Cap on nesting whatever the caller asks, so that no input can exhaust the stack (documents
// deeper than codec::kDefaultMaxDepth cannot be encoded anyway).
constexpr uint32_t kHardMaxDepth = 4096;
// How often (in input bytes) to tell the host that earlier bytes are done with.
constexpr size_t kConsumedStep = size_t(16) << 20;

const char* const kHeaderKeys[] = {
    "producer.name", "producer.version", "framework.name", "framework.version",
    "transporter.id", "transporter.revision", "type", "source.kind",
    "source.version", "source.sha256", "external.file", "external.sha256",
};

const char* wire_name(uint32_t wire) {
    switch (wire) {
    case kVarint: return "varint";
    case kFixed64: return "64-bit";
    case kLen: return "length-delimited";
    case 3: return "start-group";
    case 4: return "end-group";
    case kFixed32: return "32-bit";
    default: return "invalid";
    }
}

// The wire type of each Value field (index = field number).
constexpr uint32_t kValueWire[17] = {0,    kVarint, kVarint, kVarint, kLen, kFixed64,
                                     kLen, kLen,    kLen,    kLen,    kLen, kLen,
                                     kLen, kLen,    kLen,    kVarint, kVarint};

const char* value_field_name(uint32_t f) {
    static const char* const names[] = {"",       "null",   "bool",   "int",   "big_int",
                                        "float",  "string", "bytes",  "list",  "tuple",
                                        "set",    "map",    "tensor", "object", "global",
                                        "ref",    "id"};
    return f <= 16 ? names[f] : "?";
}

const char* const kTensorNames[] = {"",     "dtype",    "shape", "itemsize", "fields",
                                    "data", "external", "items", "strings"};

// One field as read from the wire.
struct Field {
    uint32_t number;
    uint32_t wire;
    size_t at;        // offset of the tag
    uint64_t varint;  // kVarint payload
    size_t off;       // payload offset
    size_t len;       // payload length (kLen, fixed)
};

using ull = unsigned long long;

class Decoder {
public:
    Decoder(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx, milo_error* error)
        : api_(api), doc_(doc), ctx_(ctx), error_(error), data_(ctx->data), size_(ctx->size) {
        uint32_t limit = ctx->max_depth != 0 ? ctx->max_depth : codec::kDefaultMaxDepth;
        max_depth_ = limit < kHardMaxDepth ? limit : kHardMaxDepth;
        hard_capped_ = limit > kHardMaxDepth;
    }

    milo_status run();

private:
    using Seg = PathSeg;

    // --- errors (all return false)
    PB_COLD bool fail(milo_status status, size_t at, const char* fmt, ...)
        __attribute__((format(printf, 4, 5)));
    PB_COLD bool fail_api(size_t at, const char* doing);
    PB_COLD bool unknown(const Field& f, const char* message);
    PB_COLD bool wrong_wire(const Field& f, uint32_t wire, const char* message, const char* field);
    PB_COLD bool twice(const Field& f, const char* message, const char* field);
    std::string path() const;

    // --- wire
    bool varint(size_t* pos, size_t end, uint64_t* out);
    bool next_field(size_t* pos, size_t end, Field* f, const char* message);
    bool expect_wire(const Field& f, uint32_t wire, const char* message, const char* field) {
        return f.wire == wire || wrong_wire(f, wire, message, field);
    }
    bool text(const Field& f, const char* what, bool allow_nul);
    std::string str(const Field& f) const {
        return std::string(reinterpret_cast<const char*>(data_ + f.off), f.len);
    }
    bool dims(const Field& f, int64_t* out, size_t* ndim, const char* what);

    // --- header (not recursive)
    PB_NOINLINE bool header(size_t begin, size_t end);
    bool header_strings(const Field& outer, const char* message, const char* const* keys,
                        uint32_t count, uint32_t varint_field);
    bool header_entry(const Field& outer, bool trust);
    bool set_header(const char* key, const std::string& value, size_t at);

    // --- values (recursive: value → container → value)
    bool value(size_t begin, size_t end, uint32_t depth, milo_value** out);
    PB_NOINLINE bool scalar(const Field& kind, milo_value** out);
    PB_NOINLINE bool sequence(size_t begin, size_t end, uint32_t depth, milo_value* seq);
    PB_NOINLINE bool map(size_t begin, size_t end, uint32_t depth, milo_value* map);
    bool next_map_field(size_t* pos, size_t end, uint32_t want, Field* f, bool* found);
    bool scalar_first(const Field& f) const;
    PB_NOINLINE bool object(size_t begin, size_t end, uint32_t depth, uint64_t id, size_t id_at,
                            milo_value** out);
    PB_NOINLINE bool tensor(size_t begin, size_t end, uint32_t depth, uint64_t id, size_t id_at,
                            milo_value** out);
    PB_NOINLINE bool create_tensor(size_t begin, size_t end, uint64_t id, size_t id_at,
                                   milo_value** out, uint64_t* count, Field* storage);
    PB_NOINLINE bool record_field(const Field& f, milo_value* tensor);
    PB_NOINLINE bool object_items(const Field& storage, uint64_t count, uint32_t depth,
                                  milo_value* t);
    PB_NOINLINE bool string_items(const Field& storage, uint64_t count, milo_value* t);
    bool register_id(uint64_t id, size_t at, milo_value* v);
    void consumed(size_t pos);

    const milo_api* api_;
    milo_doc* doc_;
    const milo_decode_context* ctx_;
    milo_error* error_;
    const uint8_t* data_;
    size_t size_;
    uint32_t max_depth_;
    bool hard_capped_;
    bool quiet_ = false;  // probing: failures set status_ only
    milo_status status_ = MILO_OK;
    std::vector<Seg> path_;
    bool in_header_ = false;
    std::string header_path_;  // inside the header: "/producer/name" etc.
    std::unordered_map<uint64_t, milo_value*> ids_;
    std::vector<size_t> pins_;  // bytes from here on will be read again (map keys, object state)
    size_t reported_ = 0;
    int64_t dims_[MILO_MAX_NDIM];
    milo_error e_ = MILO_ERROR_INIT;  // of document calls; read by fail_api before the next call
};

/* ------------------------------------------------------------------------------- errors */

std::string Decoder::path() const {
    return in_header_ ? "/milo" + header_path_ : format_path(path_);
}

bool Decoder::fail(milo_status status, size_t at, const char* fmt, ...) {
    status_ = status;
    if (quiet_) return false;
    char what[600];
    va_list args;
    va_start(args, fmt);
    std::vsnprintf(what, sizeof what, fmt, args);
    va_end(args);
    std::string msg = ctx_->name != nullptr ? ctx_->name : "<memory>";
    msg += ": byte offset " + std::to_string(at) + " (" + path() + "): " + what;
    api_->error_set(error_, status, msg.c_str());
    return false;
}

// A rejected document edit means the input is inconsistent, except for resource limits.
bool Decoder::fail_api(size_t at, const char* doing) {
    milo_status c = e_.code;
    milo_status s = (c == MILO_ERR_LIMIT || c == MILO_ERR_OUT_OF_MEMORY ||
                     c == MILO_ERR_UNSUPPORTED || c == MILO_ERR_IO || c == MILO_ERR_INTEGRITY ||
                     c == MILO_ERR_NOT_FOUND)
                        ? c
                        : MILO_ERR_CORRUPT;
    std::string inner = e_.message;
    return fail(s, at, "%s: %s", doing, inner.c_str());
}

bool Decoder::unknown(const Field& f, const char* message) {
    return fail(MILO_ERR_CORRUPT, f.at,
                "unknown field %u (wire type %u) in %s; format version 1 readers reject unknown "
                "fields",
                f.number, f.wire, message);
}

bool Decoder::wrong_wire(const Field& f, uint32_t wire, const char* message, const char* field) {
    return fail(MILO_ERR_CORRUPT, f.at,
                "field %u (%s) of %s has wire type %u (%s), expected %u (%s)", f.number, field,
                message, f.wire, wire_name(f.wire), wire, wire_name(wire));
}

bool Decoder::twice(const Field& f, const char* message, const char* field) {
    return fail(MILO_ERR_CORRUPT, f.at, "%s.%s given twice", message, field);
}

/* --------------------------------------------------------------------------------- wire */

bool Decoder::varint(size_t* pos, size_t end, uint64_t* out) {
    uint64_t v = 0;
    size_t p = *pos;
    for (int i = 0; i < 10; ++i) {
        if (p >= end) return fail(MILO_ERR_CORRUPT, *pos, "truncated varint");
        uint8_t b = data_[p++];
        if (i == 9 && b > 1) return fail(MILO_ERR_CORRUPT, *pos, "varint overflows 64 bits");
        v |= uint64_t(b & 0x7f) << (7 * i);
        if ((b & 0x80) == 0) {
            *pos = p;
            *out = v;
            return true;
        }
    }
    return false;  // not reached: the tenth byte either ends the varint or fails above
}

bool Decoder::next_field(size_t* pos, size_t end, Field* f, const char* message) {
    f->at = *pos;
    uint64_t t = 0;
    if (!varint(pos, end, &t)) return false;
    if (t > 0xffffffffu || (t >> 3) == 0)
        return fail(MILO_ERR_CORRUPT, f->at,
                    "invalid tag %llu in %s (field numbers are 1 to 2^29-1)", ull(t), message);
    f->number = static_cast<uint32_t>(t >> 3);
    f->wire = static_cast<uint32_t>(t & 7);
    f->varint = 0;
    f->off = *pos;
    f->len = 0;
    switch (f->wire) {
    case kVarint:
        return varint(pos, end, &f->varint);
    case kFixed64:
    case kFixed32: {
        size_t n = f->wire == kFixed64 ? 8 : 4;
        if (end - *pos < n)
            return fail(MILO_ERR_CORRUPT, *pos,
                        "truncated %zu-byte field %u of %s: %zu bytes remain", n, f->number,
                        message, end - *pos);
        f->len = n;
        *pos += n;
        return true;
    }
    case kLen: {
        uint64_t len = 0;
        if (!varint(pos, end, &len)) return false;
        if (len > end - *pos)
            return fail(MILO_ERR_CORRUPT, f->at,
                        "field %u of %s declares %llu bytes but only %zu remain", f->number,
                        message, ull(len), end - *pos);
        f->off = *pos;
        f->len = static_cast<size_t>(len);
        *pos += f->len;
        return true;
    }
    default:
        return fail(MILO_ERR_CORRUPT, f->at,
                    "field %u of %s has wire type %u (%s), which this schema never uses",
                    f->number, message, f->wire, wire_name(f->wire));
    }
}

// Checks that a length-delimited payload is UTF-8 and, for text the C API takes NUL-terminated,
// has no NUL.
bool Decoder::text(const Field& f, const char* what, bool allow_nul) {
    const char* p = reinterpret_cast<const char*>(data_ + f.off);
    size_t bad = codec::utf8_invalid_at(p, f.len);
    if (bad != SIZE_MAX)
        return fail(MILO_ERR_CORRUPT, f.off + bad, "%s is not valid UTF-8 (byte 0x%02x)", what,
                    unsigned(data_[f.off + bad]));
    if (!allow_nul) {
        const void* nul = std::memchr(p, 0, f.len);
        if (nul != nullptr)
            return fail(MILO_ERR_CORRUPT, f.off + size_t(static_cast<const char*>(nul) - p),
                        "%s contains a NUL character", what);
    }
    return true;
}

// Appends the dimensions of a repeated int64 field (packed, or one unpacked element).
bool Decoder::dims(const Field& f, int64_t* out, size_t* ndim, const char* what) {
    auto push = [&](uint64_t d, size_t at) {
        if (*ndim >= MILO_MAX_NDIM)
            return fail(MILO_ERR_LIMIT, at, "%s has more than %d dimensions", what,
                        MILO_MAX_NDIM);
        if (static_cast<int64_t>(d) < 0)
            return fail(MILO_ERR_CORRUPT, at, "%s has a negative dimension %lld", what,
                        static_cast<long long>(d));
        out[(*ndim)++] = static_cast<int64_t>(d);
        return true;
    };
    if (f.wire == kVarint) return push(f.varint, f.off);
    if (f.wire != kLen)
        return fail(MILO_ERR_CORRUPT, f.at, "%s has wire type %u, expected 2 (packed) or 0", what,
                    f.wire);
    size_t pos = f.off;
    size_t end = f.off + f.len;
    while (pos < end) {
        size_t at = pos;
        uint64_t d = 0;
        if (!varint(&pos, end, &d) || !push(d, at)) return false;
    }
    return true;
}

/* ------------------------------------------------------------------------------ header */

bool Decoder::set_header(const char* key, const std::string& value, size_t at) {
    if (api_->doc_set_header(doc_, key, value.c_str(), &e_) != MILO_OK)
        return fail_api(at, "rejected header value");
    return true;
}

// NameVersion, Transporter, Source, External: singular fields, strings except `varint_field`.
bool Decoder::header_strings(const Field& outer, const char* message, const char* const* keys,
                             uint32_t count, uint32_t varint_field) {
    const std::string base = header_path_;
    bool seen[4] = {};
    size_t pos = outer.off;
    size_t end = outer.off + outer.len;
    while (pos < end) {
        Field f;
        header_path_ = base;
        if (!next_field(&pos, end, &f, message)) return false;
        if (f.number < 1 || f.number > count) return unknown(f, message);
        const char* key = keys[f.number - 1];
        header_path_ = base + "/" + (std::strchr(key, '.') + 1);
        bool is_varint = f.number == varint_field;
        if (!expect_wire(f, is_varint ? kVarint : kLen, message, key)) return false;
        if (seen[f.number]) return twice(f, message, std::strchr(key, '.') + 1);
        seen[f.number] = true;
        if (is_varint) {
            if (f.varint > 0xffffffffu)
                return fail(MILO_ERR_CORRUPT, f.off, "%s %llu does not fit 32 bits", key,
                            ull(f.varint));
            if (!set_header(key, std::to_string(f.varint), f.off)) return false;
        } else if (!text(f, key, false) || !set_header(key, str(f), f.off)) {
            return false;
        }
    }
    header_path_ = base;
    return true;
}

// TrustEntry {name, usage, level} or MetadataEntry {key, value}.
bool Decoder::header_entry(const Field& outer, bool trust) {
    const char* message = trust ? "milo.v1.TrustEntry" : "milo.v1.MetadataEntry";
    static const char* const kTrust[] = {"", "name", "usage", "level"};
    static const char* const kMeta[] = {"", "key", "value"};
    const char* const* names = trust ? kTrust : kMeta;
    std::string a, b;
    uint64_t level = 0;
    bool seen[4] = {};
    size_t pos = outer.off;
    size_t end = outer.off + outer.len;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, message)) return false;
        if (f.number < 1 || f.number > (trust ? 3u : 2u)) return unknown(f, message);
        bool is_level = trust && f.number == 3;
        if (!expect_wire(f, is_level ? kVarint : kLen, message, names[f.number])) return false;
        if (seen[f.number]) return twice(f, message, names[f.number]);
        seen[f.number] = true;
        if (is_level) {
            if (f.varint > MILO_TRUST_DANGEROUS)
                return fail(MILO_ERR_CORRUPT, f.off,
                            "trust level %llu is not TRUSTED (0), UNTRUSTED (1) or DANGEROUS (2)",
                            ull(f.varint));
            level = f.varint;
            continue;
        }
        if (!text(f, names[f.number], false)) return false;
        (f.number == 1 ? a : b) = str(f);
    }
    if (trust) {
        size_t before = api_->doc_trust_count(doc_);
        if (api_->doc_set_trust(doc_, a.c_str(), b.c_str(), static_cast<int32_t>(level), &e_) !=
            MILO_OK)
            return fail_api(outer.off, "rejected trust entry");
        if (api_->doc_trust_count(doc_) == before)
            return fail(MILO_ERR_CORRUPT, outer.at, "trust entry (%s, %s) given twice", a.c_str(),
                        b.c_str());
    } else {
        size_t before = api_->doc_metadata_count(doc_);
        if (api_->doc_set_metadata(doc_, a.c_str(), b.c_str(), &e_) != MILO_OK)
            return fail_api(outer.off, "rejected metadata entry");
        if (api_->doc_metadata_count(doc_) == before)
            return fail(MILO_ERR_CORRUPT, outer.at, "metadata key \"%s\" given twice", a.c_str());
    }
    return true;
}

bool Decoder::header(size_t begin, size_t end) {
    in_header_ = true;
    header_path_.clear();
    // The document starts with this library's defaults (producer); the input says everything.
    for (const char* key : kHeaderKeys) {
        if (api_->doc_set_header(doc_, key, nullptr, &e_) != MILO_OK)
            return fail_api(begin, "clearing the header");
    }
    static const char* const kNames[] = {"",            "format_version", "producer",
                                         "framework",   "transporter",    "type",
                                         "source",      "trust",          "metadata",
                                         "external"};
    static const char* const kProducer[] = {"producer.name", "producer.version"};
    static const char* const kFramework[] = {"framework.name", "framework.version"};
    static const char* const kTransporter[] = {"transporter.id", "transporter.revision"};
    static const char* const kSource[] = {"source.kind", "source.version", "source.sha256"};
    static const char* const kExternal[] = {"external.file", "external.sha256"};
    bool seen[10] = {};
    bool has_version = false;
    size_t pos = begin;
    while (pos < end) {
        Field f;
        header_path_.clear();
        if (!next_field(&pos, end, &f, "milo.v1.Header")) return false;
        if (f.number < 1 || f.number > 9) return unknown(f, "milo.v1.Header");
        header_path_ = std::string("/") + kNames[f.number];
        if (!expect_wire(f, f.number == 1 ? kVarint : kLen, "milo.v1.Header", kNames[f.number]))
            return false;
        if (f.number != 7 && f.number != 8) {
            if (seen[f.number]) return twice(f, "milo.v1.Header", kNames[f.number]);
            seen[f.number] = true;
        }
        bool ok = true;
        switch (f.number) {
        case 1:
            if (f.varint == 0 || f.varint > 0xffffffffu)
                return fail(MILO_ERR_CORRUPT, f.off, "format_version must be 1 to 2^32-1, got %llu",
                            ull(f.varint));
            if (f.varint > MILO_FORMAT_VERSION)
                return fail(MILO_ERR_UNSUPPORTED, f.off,
                            "format_version %llu is newer than this reader (%d)", ull(f.varint),
                            MILO_FORMAT_VERSION);
            ok = set_header("format_version", std::to_string(f.varint), f.off);
            has_version = true;
            break;
        case 2: ok = header_strings(f, "milo.v1.NameVersion", kProducer, 2, 0); break;
        case 3: ok = header_strings(f, "milo.v1.NameVersion", kFramework, 2, 0); break;
        case 4: ok = header_strings(f, "milo.v1.Transporter", kTransporter, 2, 2); break;
        case 5: ok = text(f, "type", false) && set_header("type", str(f), f.off); break;
        case 6: ok = header_strings(f, "milo.v1.Source", kSource, 3, 0); break;
        case 7:
            header_path_ += "/" + std::to_string(api_->doc_trust_count(doc_));
            ok = header_entry(f, true);
            break;
        case 8:
            header_path_ += "/" + std::to_string(api_->doc_metadata_count(doc_));
            ok = header_entry(f, false);
            break;
        case 9: ok = header_strings(f, "milo.v1.External", kExternal, 2, 0); break;
        default: break;
        }
        if (!ok) return false;
    }
    header_path_.clear();
    if (!has_version)
        return fail(MILO_ERR_CORRUPT, begin, "header has no format_version (field 1)");
    in_header_ = false;
    return true;
}

/* ------------------------------------------------------------------------------ values */

bool Decoder::register_id(uint64_t id, size_t at, milo_value* v) {
    if (id == 0) return true;
    if (!ids_.emplace(id, v).second)
        return fail(MILO_ERR_CORRUPT, at, "id %llu defined twice", ull(id));
    return true;
}

void Decoder::consumed(size_t pos) {
    if (ctx_->consumed == nullptr || pos - reported_ < kConsumedStep) return;
    size_t safe = pos;
    for (size_t pin : pins_)
        if (pin < safe) safe = pin;
    if (safe > reported_) {
        reported_ = safe;
        ctx_->consumed(ctx_->context, safe);
    }
}

bool Decoder::value(size_t begin, size_t end, uint32_t depth, milo_value** out) {
    if (depth > max_depth_)
        return fail(MILO_ERR_LIMIT, begin, "values nested deeper than the limit of %u%s",
                    max_depth_, hard_capped_ ? " (the protobuf adapter's own cap)" : "");
    Field kind{};
    bool has_kind = false;
    uint64_t id = 0;
    size_t id_at = 0;
    size_t pos = begin;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.Value")) return false;
        if (f.number < 1 || f.number > 16) return unknown(f, "milo.v1.Value");
        if (!expect_wire(f, kValueWire[f.number], "milo.v1.Value", value_field_name(f.number)))
            return false;
        if (f.number == kValueId) {
            if (id_at != 0) return twice(f, "milo.v1.Value", "id");
            if (f.varint == 0)
                return fail(MILO_ERR_CORRUPT, f.at, "Value.id 0 is not an id (ids start at 1)");
            id = f.varint;
            id_at = f.at;  // never 0: the Document's own tags come first
            continue;
        }
        if (has_kind)
            return fail(MILO_ERR_CORRUPT, f.at, "oneof Value.kind given twice: %s after %s",
                        value_field_name(f.number), value_field_name(kind.number));
        kind = f;
        has_kind = true;
    }
    if (!has_kind)
        return fail(MILO_ERR_CORRUPT, begin,
                    "Value has no kind (expected exactly one of fields 1 to 15)");
    bool identity = kind.number >= kValueList && kind.number <= kValueObject;
    if (id != 0 && !identity)
        return fail(MILO_ERR_CORRUPT, id_at,
                    "a Value of kind %s cannot carry an id (only list, tuple, set, map, tensor "
                    "and object have identity)",
                    value_field_name(kind.number));
    size_t inner_end = kind.off + kind.len;
    milo_value* v = nullptr;
    switch (kind.number) {
    case kValueList:
    case kValueTuple:
    case kValueSet:
    case kValueMap: {
        int32_t k = kind.number == kValueList    ? MILO_KIND_LIST
                    : kind.number == kValueTuple ? MILO_KIND_TUPLE
                    : kind.number == kValueSet   ? MILO_KIND_SET
                                                 : MILO_KIND_MAP;
        if (api_->value_create_container(doc_, k, &v, &e_) != MILO_OK)
            return fail_api(kind.at, "cannot create a container");
        if (!register_id(id, id_at, v)) return false;
        bool ok = kind.number == kValueMap ? map(kind.off, inner_end, depth, v)
                                           : sequence(kind.off, inner_end, depth, v);
        if (!ok) return false;
        *out = v;
        return true;
    }
    case kValueTensor:
        return tensor(kind.off, inner_end, depth, id, id_at, out);
    case kValueObject:
        return object(kind.off, inner_end, depth, id, id_at, out);
    default:
        return scalar(kind, out);
    }
}

bool Decoder::scalar(const Field& kind, milo_value** out) {
    const char* p = reinterpret_cast<const char*>(data_ + kind.off);
    milo_value* v = nullptr;
    milo_status s = MILO_OK;
    switch (kind.number) {
    case kValueNull:
        if (kind.varint != 0)
            return fail(MILO_ERR_CORRUPT, kind.off, "Value.null must be NULL_VALUE (0), got %llu",
                        ull(kind.varint));
        s = api_->value_create_null(doc_, &v, &e_);
        break;
    case kValueBool:
        if (kind.varint > 1)
            return fail(MILO_ERR_CORRUPT, kind.off, "Value.bool must be 0 or 1, got %llu",
                        ull(kind.varint));
        s = api_->value_create_bool(doc_, kind.varint != 0, &v, &e_);
        break;
    case kValueInt: {
        uint64_t z = kind.varint;
        s = api_->value_create_int(doc_, static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1)), &v,
                                   &e_);
        break;
    }
    case kValueBigInt: {
        if (!text(kind, "big_int", false)) return false;
        if (api_->value_create_int_text(doc_, p, kind.len, &v, &e_) != MILO_OK)
            return fail_api(kind.off, "big_int is not a decimal integer");
        int64_t fits = 0;
        if (api_->value_get_int(v, &fits, nullptr) == MILO_OK)
            return fail(MILO_ERR_CORRUPT, kind.off,
                        "big_int %lld fits in 64 bits; it must be written as int",
                        static_cast<long long>(fits));
        break;
    }
    case kValueFloat: {
        uint64_t bits = 0;
        for (int i = 7; i >= 0; --i) bits = (bits << 8) | data_[kind.off + size_t(i)];
        s = api_->value_create_float(doc_, codec::bits_to_double(bits), &v, &e_);
        break;
    }
    case kValueString:
        if (!text(kind, "string", true)) return false;
        s = api_->value_create_string(doc_, p, kind.len, &v, &e_);
        break;
    case kValueBytes:
        s = api_->value_create_bytes(doc_, data_ + kind.off, kind.len, &v, &e_);
        break;
    case kValueGlobal:
        if (!text(kind, "global name", false)) return false;
        s = api_->value_create_global(doc_, str(kind).c_str(), &v, &e_);
        break;
    case kValueRef: {
        auto it = ids_.find(kind.varint);
        if (it == ids_.end())
            return fail(MILO_ERR_CORRUPT, kind.off,
                        "ref %llu names no id defined earlier in document order",
                        ull(kind.varint));
        *out = it->second;
        return true;
    }
    default:
        return fail(MILO_ERR_INTERNAL, kind.at, "unhandled Value field %u", kind.number);
    }
    if (s != MILO_OK) return fail_api(kind.off, "rejected value");
    *out = v;
    return true;
}

bool Decoder::sequence(size_t begin, size_t end, uint32_t depth, milo_value* seq) {
    size_t pos = begin;
    uint64_t index = 0;
    path_.push_back({nullptr, 0, 0, false});
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.Sequence")) return false;
        if (f.number != 1) return unknown(f, "milo.v1.Sequence");
        if (!expect_wire(f, kLen, "milo.v1.Sequence", "items")) return false;
        path_.back().index = index++;
        milo_value* item = nullptr;
        if (!value(f.off, f.off + f.len, depth + 1, &item)) return false;
        if (api_->value_append(seq, item, &e_) != MILO_OK)
            return fail_api(f.at, "cannot append the item");
    }
    path_.pop_back();
    return true;
}

// Advances a map cursor to the next field `want` (1 keys, 2 values), skipping the other one.
bool Decoder::next_map_field(size_t* pos, size_t end, uint32_t want, Field* f, bool* found) {
    *found = false;
    while (*pos < end) {
        if (!next_field(pos, end, f, "milo.v1.Map")) return false;
        if (f->number != 1 && f->number != 2) return unknown(*f, "milo.v1.Map");
        if (!expect_wire(*f, kLen, "milo.v1.Map", f->number == 1 ? "keys" : "values"))
            return false;
        if (f->number == want) {
            *found = true;
            return true;
        }
    }
    return true;
}

bool Decoder::map(size_t begin, size_t end, uint32_t depth, milo_value* map) {
    // Keys come before values in the bytes but pair with them in document order. Scalar keys
    // have no identity (no id, no ref), so decoding them up front changes nothing but lets the
    // host drop the keys' bytes before the values, which hold the bulk, are read. The first
    // other key stops this; it and later keys are decoded in order, pinned until then.
    std::vector<milo_value*> keys;
    size_t kpos = begin;
    path_.push_back({nullptr, 0, 0, true});
    for (;;) {
        size_t at = kpos;
        Field kf;
        bool found = false;
        if (!next_map_field(&kpos, end, 1, &kf, &found)) return false;
        if (!found) {
            kpos = end;
            break;
        }
        if (!scalar_first(kf)) {
            kpos = at;
            break;
        }
        path_.back() = {nullptr, 0, keys.size(), true};
        milo_value* key = nullptr;
        if (!value(kf.off, kf.off + kf.len, depth + 1, &key)) return false;
        keys.push_back(key);
    }
    size_t vpos = begin;
    pins_.push_back(kpos);
    for (uint64_t index = 0;; ++index) {
        Field kf, vf;
        bool has_key = index < keys.size();
        bool has_value = false;
        if (!has_key && !next_map_field(&kpos, end, 1, &kf, &has_key)) return false;
        if (!next_map_field(&vpos, end, 2, &vf, &has_value)) return false;
        if (!has_key && !has_value) break;
        if (has_key != has_value)
            return fail(MILO_ERR_CORRUPT, has_value ? vf.at : index < keys.size() ? end : kf.at,
                        "map has more %s than %s (pair %llu)", has_key ? "keys" : "values",
                        has_key ? "values" : "keys", ull(index));
        // No Seg& across value(): nested pushes may reallocate path_.
        path_.back() = {nullptr, 0, index, true};
        milo_value* key = nullptr;
        if (index < keys.size()) {
            key = keys[index];
        } else {
            pins_.back() = kpos;
            if (!value(kf.off, kf.off + kf.len, depth + 1, &key)) return false;
        }
        path_.back() = {nullptr, 0, index, false};
        const char* s = nullptr;
        size_t len = 0;
        if (api_->value_get_kind(key) == MILO_KIND_STRING &&
            api_->value_get_string(key, &s, &len, nullptr) == MILO_OK) {
            path_.back().name = s;
            path_.back().len = len;
        }
        milo_value* item = nullptr;
        if (!value(vf.off, vf.off + vf.len, depth + 1, &item)) return false;
        if (api_->value_append_pair(map, key, item, &e_) != MILO_OK)
            return fail_api(vf.at, "cannot append the map pair");
    }
    path_.pop_back();
    pins_.pop_back();
    return true;
}

// True when a Value's first field is a scalar kind (null … bytes, global). Never fails: a
// malformed Value is left to value() to report, in document order.
bool Decoder::scalar_first(const Field& f) const {
    uint64_t t = 0;
    size_t end = f.off + f.len;
    for (size_t p = f.off, shift = 0; p < end && shift < 35; shift += 7) {
        uint8_t b = data_[p++];
        t |= uint64_t(b & 0x7f) << shift;
        if ((b & 0x80) == 0) {
            uint64_t n = t >> 3;
            return (n >= kValueNull && n <= kValueBytes) || n == kValueGlobal;
        }
    }
    return false;
}

bool Decoder::object(size_t begin, size_t end, uint32_t depth, uint64_t id, size_t id_at,
                     milo_value** out) {
    static const char* const kNames[] = {"", "type", "args", "state"};
    Field parts[4];
    bool seen[4] = {};
    size_t pos = begin;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.Object")) return false;
        if (f.number < 1 || f.number > 3) return unknown(f, "milo.v1.Object");
        if (!expect_wire(f, kLen, "milo.v1.Object", kNames[f.number])) return false;
        if (seen[f.number]) return twice(f, "milo.v1.Object", kNames[f.number]);
        seen[f.number] = true;
        parts[f.number] = f;
    }
    if (seen[1] && !text(parts[1], "object type", false)) return false;
    milo_value* obj = nullptr;
    if (api_->value_create_object(doc_, seen[1] ? str(parts[1]).c_str() : "", &obj, &e_) !=
        MILO_OK)
        return fail_api(seen[1] ? parts[1].off : begin, "rejected object");
    if (!register_id(id, id_at, obj)) return false;
    // args is decoded first even when the input puts state before it: keep state's bytes.
    pins_.push_back(seen[3] ? parts[3].at : end);
    for (uint32_t n = 2; n <= 3; ++n) {
        if (!seen[n]) continue;
        if (n == 3) pins_.back() = end;  // nothing before state is read after it
        path_.push_back({kNames[n], n == 2 ? size_t(4) : size_t(5), 0, false});
        milo_value* child = nullptr;
        if (!value(parts[n].off, parts[n].off + parts[n].len, depth + 1, &child)) return false;
        milo_status s = n == 2 ? api_->value_set_args(obj, child, &e_)
                               : api_->value_set_state(obj, child, &e_);
        if (s != MILO_OK) return fail_api(parts[n].at, "cannot set the object's args or state");
        path_.pop_back();
    }
    pins_.pop_back();
    *out = obj;
    return true;
}

bool Decoder::record_field(const Field& outer, milo_value* tensor) {
    static const char* const kNames[] = {"", "name", "dtype", "offset", "shape"};
    int64_t shape[MILO_MAX_NDIM];
    size_t ndim = 0;
    std::string name;
    uint64_t dtype = 0, offset = 0;
    bool seen[4] = {};
    size_t pos = outer.off;
    size_t end = outer.off + outer.len;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.Field")) return false;
        if (f.number < 1 || f.number > 4) return unknown(f, "milo.v1.Field");
        if (f.number == 4) {
            if (!dims(f, shape, &ndim, "record field shape")) return false;
            continue;
        }
        if (!expect_wire(f, f.number == 1 ? kLen : kVarint, "milo.v1.Field", kNames[f.number]))
            return false;
        if (seen[f.number]) return twice(f, "milo.v1.Field", kNames[f.number]);
        seen[f.number] = true;
        if (f.number == 1) {
            if (!text(f, "record field name", false)) return false;
            name = str(f);
        } else {
            (f.number == 2 ? dtype : offset) = f.varint;
        }
    }
    if (dtype < MILO_DTYPE_BOOL || dtype > MILO_DTYPE_COMPLEX128)
        return fail(MILO_ERR_CORRUPT, outer.off,
                    "record field \"%s\" has dtype %llu; fields must have a numeric dtype (1 to "
                    "15)",
                    name.c_str(), ull(dtype));
    if (api_->value_tensor_add_field(tensor, name.c_str(), static_cast<int32_t>(dtype), offset,
                                     ndim ? shape : nullptr, ndim, &e_) != MILO_OK)
        return fail_api(outer.off, "rejected record field");
    return true;
}

// Reads a Tensor's description, checks its size against the input, creates it (and its record
// fields), registers its id, and returns its element count and storage field.
bool Decoder::create_tensor(size_t begin, size_t end, uint64_t id, size_t id_at,
                            milo_value** out, uint64_t* count_out, Field* storage_out) {
    uint64_t dtype = 0, itemsize = 0;
    bool has_dtype = false, has_itemsize = false;
    size_t ndim = 0, nfields = 0;
    Field storage;
    bool has_storage = false;
    size_t pos = begin;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.Tensor")) return false;
        if (f.number < 1 || f.number > 8) return unknown(f, "milo.v1.Tensor");
        if (f.number == kTensorShape) {
            if (!dims(f, dims_, &ndim, "tensor shape")) return false;
            continue;
        }
        bool is_varint = f.number == kTensorDtype || f.number == kTensorItemsize;
        if (!expect_wire(f, is_varint ? kVarint : kLen, "milo.v1.Tensor",
                         kTensorNames[f.number]))
            return false;
        if (is_varint) {
            bool& seen = f.number == kTensorDtype ? has_dtype : has_itemsize;
            if (seen) return twice(f, "milo.v1.Tensor", kTensorNames[f.number]);
            seen = true;
            (f.number == kTensorDtype ? dtype : itemsize) = f.varint;
        } else if (f.number == kTensorFields) {
            ++nfields;
        } else {
            if (has_storage)
                return fail(MILO_ERR_CORRUPT, f.at, "oneof Tensor.storage given twice: %s after %s",
                            kTensorNames[f.number], kTensorNames[storage.number]);
            storage = f;
            has_storage = true;
        }
    }
    if (dtype == 0) return fail(MILO_ERR_CORRUPT, begin, "tensor has no dtype");
    if (dtype > static_cast<uint64_t>(codec::kDTypeMax))
        return fail(MILO_ERR_CORRUPT, begin, "unknown tensor dtype %llu", ull(dtype));
    auto dt = static_cast<int32_t>(dtype);
    const char* dname = codec::dtype_info(dt)->name;
    bool record = dt == MILO_DTYPE_RECORD;
    if (!record && (has_itemsize || nfields != 0))
        return fail(MILO_ERR_CORRUPT, begin,
                    "itemsize and fields belong to record tensors only, not %s", dname);
    if (!has_storage)
        return fail(MILO_ERR_CORRUPT, begin,
                    "tensor has no storage (expected data, external, items or strings)");
    uint32_t want = dt == MILO_DTYPE_OBJECT   ? kTensorItems
                    : dt == MILO_DTYPE_STRING ? kTensorStrings
                                              : kTensorData;
    bool external = storage.number == kTensorExternal && codec::dtype_is_numeric(dt);
    if (storage.number != want && !external)
        return fail(MILO_ERR_CORRUPT, storage.at, "a %s tensor cannot use storage %s", dname,
                    kTensorNames[storage.number]);

    uint64_t count = 1;
    for (size_t i = 0; i < ndim; ++i) {
        if (__builtin_mul_overflow(count, static_cast<uint64_t>(dims_[i]), &count))
            return fail(MILO_ERR_LIMIT, begin, "tensor element count overflows 64 bits");
    }
    if (record || codec::dtype_is_numeric(dt)) {
        uint64_t elsize = record ? itemsize : codec::dtype_info(dt)->size;
        uint64_t nbytes = 0;
        if (__builtin_mul_overflow(count, elsize, &nbytes) || nbytes > MILO_MAX_TENSOR_BYTES ||
            elsize > MILO_MAX_TENSOR_BYTES)
            return fail(MILO_ERR_LIMIT, begin,
                        "tensor of %llu elements of %llu bytes exceeds the 1 TiB limit",
                        ull(count), ull(elsize));
        if (!external && storage.len != nbytes)
            return fail(MILO_ERR_CORRUPT, storage.at,
                        "tensor data has %zu bytes, expected %llu (%llu elements x %llu bytes)",
                        storage.len, ull(nbytes), ull(count), ull(elsize));
    } else if (count > storage.len / 2) {
        // Every element takes at least a tag and a length byte: refuse before allocating.
        return fail(MILO_ERR_CORRUPT, storage.at,
                    "tensor declares %llu elements but its %s (%zu bytes) cannot hold that many",
                    ull(count), kTensorNames[storage.number], storage.len);
    }

    milo_value* t = nullptr;
    const int64_t* shape = ndim ? dims_ : nullptr;
    if (external) {
        if (!text(storage, "external tensor name", false)) return false;
        if (ctx_->create_external_tensor == nullptr)
            return fail(MILO_ERR_UNSUPPORTED, storage.at,
                        "tensor is stored in an external file, which this input cannot reach");
        if (ctx_->create_external_tensor(ctx_->context, doc_, dt, shape, ndim,
                                         str(storage).c_str(), &t, &e_) != MILO_OK)
            return fail_api(storage.off, "external tensor");
    } else {
        milo_status s = record
                            ? api_->value_create_record_tensor(doc_, itemsize, shape, ndim, &t, &e_)
                            : api_->value_create_tensor(doc_, dt, shape, ndim, &t, &e_);
        if (s != MILO_OK) return fail_api(begin, "cannot create the tensor");
    }
    if (!register_id(id, id_at, t)) return false;
    if (record) {
        for (pos = begin; pos < end;) {
            Field f;
            if (!next_field(&pos, end, &f, "milo.v1.Tensor")) return false;
            if (f.number == kTensorFields && !record_field(f, t)) return false;
        }
    }
    *out = t;
    *count_out = count;
    *storage_out = storage;
    return true;
}

bool Decoder::tensor(size_t begin, size_t end, uint32_t depth, uint64_t id, size_t id_at,
                     milo_value** out) {
    milo_value* t = nullptr;
    uint64_t count = 0;
    Field storage;
    if (!create_tensor(begin, end, id, id_at, &t, &count, &storage)) return false;
    if (storage.number == kTensorData) {
        void* dst = nullptr;
        size_t n = 0;
        if (api_->value_tensor_mutable_data(t, &dst, &n, &e_) != MILO_OK)
            return fail_api(storage.off, "cannot write tensor data");
        if (n != storage.len)
            return fail(MILO_ERR_INTERNAL, storage.off,
                        "tensor buffer has %zu bytes, the checked size is %zu", n, storage.len);
        // In steps, telling the host as we go: one huge tensor then never needs the whole
        // mapped input resident next to its copy.
        for (size_t done = 0; done < n;) {
            size_t step = n - done < kConsumedStep ? n - done : kConsumedStep;
            std::memcpy(static_cast<uint8_t*>(dst) + done, data_ + storage.off + done, step);
            done += step;
            consumed(storage.off + done);
        }
    } else if (storage.number == kTensorItems) {
        if (!object_items(storage, count, depth, t)) return false;
    } else if (storage.number == kTensorStrings) {
        if (!string_items(storage, count, t)) return false;
    }
    *out = t;
    return true;
}

bool Decoder::object_items(const Field& storage, uint64_t count, uint32_t depth, milo_value* t) {
    path_.push_back({nullptr, 0, 0, false});
    size_t pos = storage.off;
    size_t end = storage.off + storage.len;
    uint64_t i = 0;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.Sequence")) return false;
        if (f.number != 1) return unknown(f, "milo.v1.Sequence");
        if (!expect_wire(f, kLen, "milo.v1.Sequence", "items")) return false;
        if (i >= count)
            return fail(MILO_ERR_CORRUPT, f.at, "object tensor has more items than its %llu "
                        "elements", ull(count));
        path_.back().index = i;
        milo_value* item = nullptr;
        if (!value(f.off, f.off + f.len, depth + 1, &item)) return false;
        if (api_->value_tensor_set_item(t, i, item, &e_) != MILO_OK)
            return fail_api(f.at, "cannot set the object tensor element");
        ++i;
    }
    path_.pop_back();
    if (i != count)
        return fail(MILO_ERR_CORRUPT, storage.at, "object tensor has %llu items, expected %llu",
                    ull(i), ull(count));
    return true;
}

bool Decoder::string_items(const Field& storage, uint64_t count, milo_value* t) {
    size_t pos = storage.off;
    size_t end = storage.off + storage.len;
    uint64_t i = 0;
    while (pos < end) {
        Field f;
        if (!next_field(&pos, end, &f, "milo.v1.StringList")) return false;
        if (f.number != 1) return unknown(f, "milo.v1.StringList");
        if (!expect_wire(f, kLen, "milo.v1.StringList", "items")) return false;
        if (i >= count)
            return fail(MILO_ERR_CORRUPT, f.at, "string tensor has more items than its %llu "
                        "elements", ull(count));
        if (!text(f, "string tensor element", true)) return false;
        if (api_->value_tensor_set_string(t, i, reinterpret_cast<const char*>(data_ + f.off),
                                          f.len, &e_) != MILO_OK)
            return fail_api(f.at, "rejected string tensor element");
        ++i;
    }
    if (i != count)
        return fail(MILO_ERR_CORRUPT, storage.at, "string tensor has %llu items, expected %llu",
                    ull(i), ull(count));
    return true;
}

/* ---------------------------------------------------------------------------- document */

milo_status Decoder::run() {
    // A newer format_version explains unknown fields better than "unknown field" does: look
    // for it first, quietly (the strict pass below reports anything malformed).
    quiet_ = true;
    for (size_t pos = 0; pos < size_;) {
        Field f;
        if (!next_field(&pos, size_, &f, "milo.v1.Document")) break;
        if (f.number != 1 || f.wire != kLen) continue;
        size_t p = f.off;
        Field g;
        if (next_field(&p, f.off + f.len, &g, "milo.v1.Header") && g.number == 1 &&
            g.wire == kVarint && g.varint > MILO_FORMAT_VERSION) {
            quiet_ = false;
            in_header_ = true;
            header_path_ = "/format_version";
            fail(MILO_ERR_UNSUPPORTED, g.off, "format_version %llu is newer than this reader (%d)",
                 ull(g.varint), MILO_FORMAT_VERSION);
            return status_;
        }
        break;
    }
    quiet_ = false;
    status_ = MILO_OK;

    Field head{}, root{};
    bool has_head = false, has_root = false;
    for (size_t pos = 0; pos < size_;) {
        Field f;
        if (!next_field(&pos, size_, &f, "milo.v1.Document")) return status_;
        if (f.number != 1 && f.number != 2) {
            unknown(f, "milo.v1.Document");
            return status_;
        }
        const char* name = f.number == 1 ? "header" : "root";
        if (!expect_wire(f, kLen, "milo.v1.Document", name)) return status_;
        bool& seen = f.number == 1 ? has_head : has_root;
        if (seen) {
            twice(f, "milo.v1.Document", name);
            return status_;
        }
        seen = true;
        (f.number == 1 ? head : root) = f;
    }
    if (!has_head) {
        in_header_ = true;
        fail(MILO_ERR_CORRUPT, size_,
             size_ == 0 ? "empty input: expected a milo.v1.Document"
                        : "document has no header (field 1)");
        return status_;
    }
    if (!header(head.off, head.off + head.len)) return status_;
    if (has_root) {
        milo_value* v = nullptr;
        if (!value(root.off, root.off + root.len, 1, &v)) return status_;
        if (api_->doc_set_root(doc_, v, &e_) != MILO_OK) {
            fail_api(root.at, "cannot set the root");
            return status_;
        }
    }
    return MILO_OK;
}

}  // namespace

milo_status decode_document(const milo_api* api, milo_doc* doc,
                            const milo_decode_context* context, milo_error* error) {
    if (api == nullptr || doc == nullptr || context == nullptr ||
        (context->data == nullptr && context->size != 0))
        return api != nullptr ? api->error_set(error, MILO_ERR_INVALID_ARGUMENT,
                                               "protobuf decoder: missing document or input")
                              : MILO_ERR_INVALID_ARGUMENT;
    return guard_boundary(api, error, "protobuf decoder", [&] {
        Decoder decoder(api, doc, context, error);
        return decoder.run();
    });
}

}  // namespace pb
}  // namespace milo
