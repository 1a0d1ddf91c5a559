// JSON decoder: a strict one-pass recursive-descent parser over the whole input that builds
// values directly through the API table (no intermediate tree). Tensor data is parsed in place
// into the tensor's own buffer, after its size has been checked against the remaining input.
#include <pthread.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "json_format_internal.hpp"
#include "milo/milo_codec.hpp"

namespace milo {
namespace json {
namespace {

namespace codec = milo::codec;

struct DecodeError {
    milo_status status;
    std::string message;
};

struct PathSeg {
    const char* key;  // nullptr: an index
    size_t len;
    uint64_t index;
};

enum class Tag {
    kNone,
    kRef,
    kInt,
    kFloat,
    kBytes,
    kGlobal,
    kList,
    kTuple,
    kSet,
    kMap,
    kDict,
    kObject,
    kTensor
};

Tag tag_from_key(std::string_view k) {
    if (k == "$ref") return Tag::kRef;
    if (k == "$int") return Tag::kInt;
    if (k == "$float") return Tag::kFloat;
    if (k == "$bytes") return Tag::kBytes;
    if (k == "$global") return Tag::kGlobal;
    if (k == "$list") return Tag::kList;
    if (k == "$tuple") return Tag::kTuple;
    if (k == "$set") return Tag::kSet;
    if (k == "$map") return Tag::kMap;
    if (k == "$dict") return Tag::kDict;
    if (k == "$object") return Tag::kObject;
    if (k == "$tensor") return Tag::kTensor;
    return Tag::kNone;
}

bool tag_is_scalar(Tag t) {
    return t == Tag::kInt || t == Tag::kFloat || t == Tag::kBytes || t == Tag::kGlobal;
}

// Where a forward "$ref" must be patched once its "$id" is known.
enum class Slot { kItem, kMapValue, kArgs, kState, kTensorItem, kRoot };

struct Fixup {
    Slot slot;
    milo_value* target;
    size_t index;
    size_t offset;  // of the "$ref" object, for the error when the id never appears
    std::string path;
};

struct RecordField {
    std::string name;
    int32_t dtype = 0;
    uint64_t offset = 0;
    std::vector<int64_t> shape;
    uint64_t subcount = 1;
};

struct TensorSpec {
    int32_t dtype = 0;  // 0: not seen yet
    uint64_t itemsize = 0;
    std::vector<RecordField> fields;
    bool have_shape = false;
    std::vector<int64_t> shape;
    uint64_t count = 1;
};

std::string quote(std::string_view s) {
    std::string out = "'";
    for (char c : s.substr(0, 64)) out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
    if (s.size() > 64) out += "...";
    return out + "'";
}

/// The lowest frame address recursion may reach on this thread: a margin (a quarter of the
/// stack, at most 256 KiB) above the stack's low end; 0 when unknown. Computed once per thread:
/// for the main thread glibc reads /proc/self/maps, which costs a millisecond in a process with
/// many libraries loaded (a Python interpreter that imported scikit-learn).
uintptr_t stack_floor() {
    thread_local const uintptr_t floor = [] {
        uintptr_t limit = 0;
        pthread_attr_t attr;
        if (pthread_getattr_np(pthread_self(), &attr) == 0) {
            void* low = nullptr;
            size_t size = 0;
            if (pthread_attr_getstack(&attr, &low, &size) == 0 && low != nullptr) {
                uintptr_t margin = std::min<uintptr_t>(size / 4, uintptr_t(256) << 10);
                limit = reinterpret_cast<uintptr_t>(low) + margin;
            }
            pthread_attr_destroy(&attr);
        }
        return limit;
    }();
    return floor;
}

class Decoder {
public:
    Decoder(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx)
        : api_(api),
          doc_(doc),
          ctx_(ctx),
          begin_(ctx->data),
          p_(ctx->data),
          end_(ctx->data + ctx->size),
          name_(ctx->name ? ctx->name : "<memory>") {
        uint32_t d = ctx->max_depth == 0 ? codec::kDefaultMaxDepth : ctx->max_depth;
        max_depth_ = std::min(d, kHardMaxDepth);
        // The depth limit alone cannot know the caller's stack (thread pools, sanitizers with
        // big frames), so recursion also stops a safety margin above the stack's low end.
        stack_limit_ = stack_floor();
    }

    void run() {
        skip_ws();
        if (peek() != '{') expected("'{' (a Milo document is a JSON object)");
        bool seen_milo = false, seen_root = false;
        milo_value* root = nullptr;
        uint64_t root_pending = 0;
        size_t root_off = 0;
        parse_members([&](std::string_view key, size_t key_off) {
            if (key == "milo") {
                if (seen_milo) fail_at(MILO_ERR_CORRUPT, key_off, "duplicate member 'milo'");
                seen_milo = true;
                path_.push_back({"milo", 4, 0});
                parse_header();
                path_.pop_back();
            } else if (key == "root") {
                if (seen_root) fail_at(MILO_ERR_CORRUPT, key_off, "duplicate member 'root'");
                seen_root = true;
                in_root_ = true;
                root_off = offset();
                root = parse_value(1, &root_pending);
                in_root_ = false;
            } else {
                fail_at(MILO_ERR_CORRUPT, key_off,
                        "expected member 'milo' or 'root', found " + quote(key));
            }
        });
        skip_ws();
        if (p_ != end_) fail(MILO_ERR_CORRUPT, "expected end of input after the document");
        if (!seen_milo) fail_at(MILO_ERR_CORRUPT, 0, "expected member 'milo' (the header)");
        if (root == nullptr && seen_root) {
            in_root_ = true;
            add_fixup(Slot::kRoot, nullptr, 0, root_pending, root_off);
            in_root_ = false;
        } else if (root != nullptr) {
            call(api_->doc_set_root(doc_, root, &err_), root_off, "cannot set root");
        }
        if (!fixups_.empty()) {
            const Fixup* first = nullptr;
            uint64_t first_id = 0;
            for (auto& kv : fixups_)
                for (const Fixup& f : kv.second)
                    if (first == nullptr || f.offset < first->offset) {
                        first = &f;
                        first_id = kv.first;
                    }
            throw DecodeError{MILO_ERR_CORRUPT, prefix(first->offset, first->path) +
                                                    "\"$ref\": " + std::to_string(first_id) +
                                                    " names no \"$id\" in the document"};
        }
    }

private:
    /* ---- errors and positions --------------------------------------------------------- */

    size_t offset() const { return size_t(p_ - begin_); }

    std::string path() const {
        if (path_.empty()) return in_root_ ? "/root" : "/";
        std::string p;
        if (in_root_) p = "/root";
        for (const PathSeg& s : path_) {
            p += '/';
            if (s.key != nullptr)
                p.append(s.key, s.len);
            else
                p += std::to_string(s.index);
        }
        return p;
    }

    std::string prefix(size_t off, std::string where) const {
        // Deep paths would crowd out the reason in the fixed-size error buffer.
        if (where.size() > 160)
            where = where.substr(0, 60) + "/..." + where.substr(where.size() - 80);
        return std::string(name_) + ": byte " + std::to_string(off) + ": at " + where + ": ";
    }

    [[noreturn]] void fail_at(milo_status st, size_t off, const std::string& what) const {
        throw DecodeError{st, prefix(off, path()) + what};
    }
    [[noreturn]] void fail(milo_status st, const std::string& what) const {
        fail_at(st, offset(), what);
    }
    [[noreturn]] void expected(const std::string& what) const {
        if (p_ >= end_) fail(MILO_ERR_CORRUPT, "expected " + what + ", found end of input");
        fail(MILO_ERR_CORRUPT, "expected " + what);
    }
    // An API call that failed: keep its status, add where it happened.
    void call(milo_status st, size_t off, const char* what) {
        if (st == MILO_OK) return;
        // the library refusing a value built from the input means the input is invalid
        if (st == MILO_ERR_INVALID_ARGUMENT || st == MILO_ERR_TYPE || st == MILO_ERR_DUPLICATE ||
            st == MILO_ERR_OUT_OF_RANGE)
            st = MILO_ERR_CORRUPT;
        fail_at(st, off, std::string(what) + ": " + err_.message);
    }

    /* ---- lexing ----------------------------------------------------------------------- */

    int peek() const { return p_ < end_ ? *p_ : -1; }
    void skip_ws() {
        while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
    }
    void expect(char c, const char* what) {
        skip_ws();
        if (peek() != c) expected(what);
        ++p_;
    }
    bool literal(const char* word, size_t n) {
        if (size_t(end_ - p_) >= n && std::memcmp(p_, word, n) == 0) {
            p_ += n;
            return true;
        }
        return false;
    }

    // Validates one UTF-8 sequence at p_ (first byte >= 0x80) and steps over it.
    void step_utf8() {
        size_t len = milo::codec::utf8_sequence(p_, size_t(end_ - p_));
        if (len == 0)
            fail(MILO_ERR_CORRUPT,
                 "invalid UTF-8 in string (bad or truncated sequence, overlong, surrogate or "
                 "above U+10FFFF)");
        p_ += len;
    }

    uint32_t hex4() {
        if (end_ - p_ < 4) fail(MILO_ERR_CORRUPT, "expected 4 hex digits after \\u");
        uint32_t v = 0;
        for (int i = 0; i < 4; ++i) {
            uint8_t c = p_[i];
            int d = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
            if (d < 0) fail_at(MILO_ERR_CORRUPT, offset() + i, "expected a hex digit after \\u");
            v = (v << 4) | uint32_t(d);
        }
        p_ += 4;
        return v;
    }

    // Reads a string at p_ (after optional whitespace). The result points into the input when
    // the string has no escapes, else into `scratch`.
    std::string_view read_string(std::string& scratch, const char* what = "a string") {
        skip_ws();
        if (peek() != '"') expected(what);
        ++p_;
        const uint8_t* s = p_;
        while (true) {
            if (p_ >= end_)
                fail_at(MILO_ERR_CORRUPT, size_t(s - begin_) - 1, "unterminated string");
            uint8_t c = *p_;
            if (c == '"') {
                std::string_view v(reinterpret_cast<const char*>(s), size_t(p_ - s));
                ++p_;
                return v;
            }
            if (c == '\\') break;
            if (c < 0x20) fail(MILO_ERR_CORRUPT, "control character in string (escape it)");
            if (c >= 0x80)
                step_utf8();
            else
                ++p_;
        }
        scratch.assign(reinterpret_cast<const char*>(s), size_t(p_ - s));
        while (true) {
            if (p_ >= end_)
                fail_at(MILO_ERR_CORRUPT, size_t(s - begin_) - 1, "unterminated string");
            uint8_t c = *p_;
            if (c == '"') {
                ++p_;
                return scratch;
            }
            if (c == '\\') {
                ++p_;
                int e = peek();
                ++p_;
                switch (e) {
                    case '"': scratch += '"'; break;
                    case '\\': scratch += '\\'; break;
                    case '/': scratch += '/'; break;
                    case 'b': scratch += '\b'; break;
                    case 'f': scratch += '\f'; break;
                    case 'n': scratch += '\n'; break;
                    case 'r': scratch += '\r'; break;
                    case 't': scratch += '\t'; break;
                    case 'u': {
                        size_t at = offset() - 2;
                        uint32_t cp = hex4();
                        if (cp >= 0xdc00 && cp <= 0xdfff)
                            fail_at(MILO_ERR_CORRUPT, at,
                                    "lone low surrogate escape \\u" + hex(cp));
                        if (cp >= 0xd800 && cp <= 0xdbff) {
                            if (!(end_ - p_ >= 2 && p_[0] == '\\' && p_[1] == 'u'))
                                fail_at(MILO_ERR_CORRUPT, at,
                                        "high surrogate \\u" + hex(cp) +
                                            " not followed by a low surrogate escape");
                            p_ += 2;
                            uint32_t lo = hex4();
                            if (lo < 0xdc00 || lo > 0xdfff)
                                fail_at(MILO_ERR_CORRUPT, at,
                                        "high surrogate \\u" + hex(cp) +
                                            " not followed by a low surrogate escape");
                            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                        }
                        codec::utf8_append(scratch, cp);
                        break;
                    }
                    default:
                        p_ -= (e < 0 ? 1 : 2);
                        fail(MILO_ERR_CORRUPT, "invalid escape in string");
                }
                continue;
            }
            if (c < 0x20) fail(MILO_ERR_CORRUPT, "control character in string (escape it)");
            const uint8_t* at = p_;
            if (c >= 0x80)
                step_utf8();
            else
                ++p_;
            scratch.append(reinterpret_cast<const char*>(at), size_t(p_ - at));
        }
    }

    static std::string hex(uint32_t v) {
        char buf[8];
        std::snprintf(buf, sizeof buf, "%04x", v);
        return buf;
    }

    std::string read_cstring(const char* what) {
        std::string scratch;
        size_t at = offset();
        std::string_view s = read_string(scratch, what);
        if (s.find('\0') != std::string_view::npos)
            fail_at(MILO_ERR_CORRUPT, at, std::string(what) + " must not contain NUL");
        return std::string(s);
    }

    struct Number {
        const char* begin;
        const char* end;
        bool is_int;
    };

    // A number token with the exact RFC 8259 grammar.
    Number scan_number() {
        const uint8_t* s = p_;
        auto digit = [&] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
        if (p_ < end_ && *p_ == '-') ++p_;
        if (p_ < end_ && *p_ == '0') {
            ++p_;
        } else if (p_ < end_ && *p_ >= '1' && *p_ <= '9') {
            while (digit()) ++p_;
        } else {
            p_ = s;
            expected("a number");
        }
        bool is_int = true;
        if (p_ < end_ && *p_ == '.') {
            is_int = false;
            ++p_;
            if (!digit()) expected("a digit after '.'");
            while (digit()) ++p_;
        }
        if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
            is_int = false;
            ++p_;
            if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
            if (!digit()) expected("a digit in the exponent");
            while (digit()) ++p_;
        }
        return {reinterpret_cast<const char*>(s), reinterpret_cast<const char*>(p_), is_int};
    }

    uint64_t read_uint(const char* what) {
        skip_ws();
        size_t at = offset();
        Number n = scan_number();
        uint64_t v = 0;
        if (!n.is_int || *n.begin == '-' || std::from_chars(n.begin, n.end, v).ec != std::errc())
            fail_at(MILO_ERR_CORRUPT, at, std::string("expected ") + what);
        return v;
    }

    // Calls on_member(key, key_offset) for each member of the object at p_; the callback must
    // consume the value. Duplicate keys are an error.
    template <class F>
    void parse_members(F&& on_member) {
        expect('{', "'{'");
        skip_ws();
        if (peek() == '}') {
            ++p_;
            return;
        }
        std::vector<std::string> seen;
        std::string scratch;
        while (true) {
            skip_ws();
            size_t key_off = offset();
            std::string key(read_string(scratch, "a string key"));
            for (const std::string& s : seen)
                if (s == key) fail_at(MILO_ERR_CORRUPT, key_off, "duplicate member " + quote(key));
            seen.push_back(key);
            expect(':', "':'");
            skip_ws();
            on_member(std::string_view(key), key_off);
            skip_ws();
            int c = peek();
            ++p_;
            if (c == ',') continue;
            if (c == '}') return;
            --p_;
            expected("',' or '}'");
        }
    }

    // Arrays: calls on_item(index) for each element; the callback consumes the value.
    template <class F>
    void parse_array(F&& on_item) {
        expect('[', "'['");
        skip_ws();
        if (peek() == ']') {
            ++p_;
            return;
        }
        for (size_t i = 0;; ++i) {
            skip_ws();
            on_item(i);
            skip_ws();
            int c = peek();
            ++p_;
            if (c == ',') continue;
            if (c == ']') return;
            --p_;
            expected("',' or ']'");
        }
    }

    /* ---- header ----------------------------------------------------------------------- */

    void set_header(const char* key, const std::string& value, size_t at) {
        call(api_->doc_set_header(doc_, key, value.c_str(), &err_), at, "invalid header value");
    }

    // {"a": "...", "b": "..."}: string members mapped to header keys.
    void parse_header_group(std::initializer_list<std::pair<const char*, const char*>> members,
                            const char* int_member = nullptr) {
        parse_members([&](std::string_view key, size_t key_off) {
            for (auto& m : members) {
                if (key != m.first) continue;
                path_.push_back({m.first, std::strlen(m.first), 0});
                size_t at = offset();
                std::string v;
                if (int_member != nullptr && key == int_member) {
                    Number n = scan_number();
                    if (!n.is_int || *n.begin == '-')
                        fail_at(MILO_ERR_CORRUPT, at, "expected a non-negative integer");
                    v.assign(n.begin, n.end);
                } else {
                    v = read_cstring("a string");
                    if (key == "sha256") check_sha256(v, at);
                }
                set_header(m.second, v, at);
                path_.pop_back();
                return;
            }
            fail_at(MILO_ERR_CORRUPT, key_off, "unknown header member " + quote(key));
        });
    }

    void check_sha256(const std::string& v, size_t at) {
        bool ok = v.size() == 64;
        for (char c : v) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
        if (!ok) fail_at(MILO_ERR_CORRUPT, at, "expected 64 lowercase hex digits (sha256)");
    }

    void parse_header() {
        // The host pre-fills "producer" for new documents; the file says who produced it.
        api_->doc_set_header(doc_, "producer.name", nullptr, nullptr);
        api_->doc_set_header(doc_, "producer.version", nullptr, nullptr);
        bool have_version = false;
        size_t header_off = offset();
        parse_members([&](std::string_view key, size_t key_off) {
            path_.push_back({nullptr, 0, 0});
            path_.back().key = key == "format_version" ? "format_version"
                               : key == "producer"     ? "producer"
                               : key == "framework"    ? "framework"
                               : key == "transporter"  ? "transporter"
                               : key == "type"         ? "type"
                               : key == "source"       ? "source"
                               : key == "trust"        ? "trust"
                               : key == "metadata"     ? "metadata"
                               : key == "external"     ? "external"
                                                       : "?";
            path_.back().len = std::strlen(path_.back().key);
            if (key == "format_version") {
                size_t at = offset();
                uint64_t v = read_uint("format_version as a positive integer");
                if (v == 0) fail_at(MILO_ERR_CORRUPT, at, "format_version must be at least 1");
                if (v > MILO_FORMAT_VERSION)
                    fail_at(MILO_ERR_UNSUPPORTED, at,
                            "format_version " + std::to_string(v) + " is newer than " +
                                std::to_string(MILO_FORMAT_VERSION) +
                                ", the newest this reader knows");
                set_header("format_version", std::to_string(v), at);
                have_version = true;
            } else if (key == "producer") {
                parse_header_group({{"name", "producer.name"}, {"version", "producer.version"}});
            } else if (key == "framework") {
                parse_header_group({{"name", "framework.name"}, {"version", "framework.version"}});
            } else if (key == "transporter") {
                parse_header_group({{"id", "transporter.id"}, {"revision", "transporter.revision"}},
                                   "revision");
            } else if (key == "type") {
                size_t at = offset();
                set_header("type", read_cstring("a string"), at);
            } else if (key == "source") {
                parse_header_group({{"kind", "source.kind"},
                                    {"version", "source.version"},
                                    {"sha256", "source.sha256"}});
            } else if (key == "external") {
                size_t at = offset();
                parse_header_group({{"file", "external.file"}, {"sha256", "external.sha256"}});
                const char* file = nullptr;
                api_->doc_get_header(doc_, "external.file", &file, nullptr);
                if (file != nullptr) {
                    std::string_view f(file);
                    if (f.empty() || f == "." || f == ".." || f.find('/') != f.npos ||
                        f.find('\\') != f.npos)
                        fail_at(MILO_ERR_CORRUPT, at,
                                "external.file must be a plain file name (no '/' or '..')");
                }
            } else if (key == "trust") {
                parse_trust();
            } else if (key == "metadata") {
                parse_members([&](std::string_view mkey, size_t mkey_off) {
                    if (mkey.find('\0') != mkey.npos)
                        fail_at(MILO_ERR_CORRUPT, mkey_off, "metadata key must not contain NUL");
                    std::string k(mkey);
                    size_t at = offset();
                    std::string v = read_cstring("a string (metadata values are strings)");
                    call(api_->doc_set_metadata(doc_, k.c_str(), v.c_str(), &err_), at,
                         "invalid metadata entry");
                });
            } else {
                fail_at(MILO_ERR_CORRUPT, key_off, "unknown header member " + quote(key));
            }
            path_.pop_back();
        });
        if (!have_version)
            fail_at(MILO_ERR_CORRUPT, header_off, "expected member 'format_version' in the header");
    }

    void parse_trust() {
        parse_array([&](size_t i) {
            path_.push_back({nullptr, 0, i});
            size_t entry_off = offset();
            std::string name, usage;
            int32_t level = -1;
            bool has_name = false, has_usage = false;
            parse_members([&](std::string_view key, size_t key_off) {
                if (key == "name") {
                    name = read_cstring("a string");
                    has_name = true;
                } else if (key == "usage") {
                    usage = read_cstring("a string");
                    has_usage = true;
                } else if (key == "level") {
                    size_t at = offset();
                    std::string l = read_cstring("a string");
                    if (l == "trusted")
                        level = MILO_TRUST_TRUSTED;
                    else if (l == "untrusted")
                        level = MILO_TRUST_UNTRUSTED;
                    else if (l == "dangerous")
                        level = MILO_TRUST_DANGEROUS;
                    else
                        fail_at(MILO_ERR_CORRUPT, at,
                                "expected 'trusted', 'untrusted' or 'dangerous'");
                } else {
                    fail_at(MILO_ERR_CORRUPT, key_off, "unknown trust member " + quote(key));
                }
            });
            if (!has_name || !has_usage || level < 0)
                fail_at(MILO_ERR_CORRUPT, entry_off,
                        "expected members 'name', 'usage' and 'level'");
            call(api_->doc_set_trust(doc_, name.c_str(), usage.c_str(), level, &err_), entry_off,
                 "invalid trust entry");
            path_.pop_back();
        });
    }

    /* ---- sharing ---------------------------------------------------------------------- */

    void apply(Slot slot, milo_value* target, size_t index, milo_value* node, size_t at) {
        milo_status st = MILO_OK;
        switch (slot) {
            case Slot::kItem:
            case Slot::kMapValue: st = api_->value_set_at(target, index, node, &err_); break;
            case Slot::kArgs: st = api_->value_set_args(target, node, &err_); break;
            case Slot::kState: st = api_->value_set_state(target, node, &err_); break;
            case Slot::kTensorItem:
                st = api_->value_tensor_set_item(target, index, node, &err_);
                break;
            case Slot::kRoot: st = api_->doc_set_root(doc_, node, &err_); break;
        }
        call(st, at, "cannot place a shared node");
    }

    // Places the node named by a "$ref" into `slot` now when its "$id" is known, else when it
    // appears (a "$ref" may precede the "$id" when a reader sees "$id" after the content).
    void add_fixup(Slot slot, milo_value* target, size_t index, uint64_t id, size_t at) {
        auto it = ids_.find(id);
        if (it != ids_.end()) {
            apply(slot, target, index, it->second, at);
            return;
        }
        fixups_[id].push_back({slot, target, index, at, path()});
    }

    void register_id(uint64_t id, milo_value* node, size_t at) {
        if (!ids_.emplace(id, node).second)
            fail_at(MILO_ERR_CORRUPT, at, "duplicate \"$id\": " + std::to_string(id));
        auto it = fixups_.find(id);
        if (it == fixups_.end()) return;
        std::vector<Fixup> todo = std::move(it->second);
        fixups_.erase(it);
        for (const Fixup& f : todo) apply(f.slot, f.target, f.index, node, f.offset);
    }

    milo_value* placeholder() {
        milo_value* v = nullptr;
        call(api_->value_create_null(doc_, &v, &err_), offset(), "cannot create value");
        return v;
    }

    /* ---- values ----------------------------------------------------------------------- */

    // Parses the value at p_ at document depth `depth`. Returns nullptr (and the id in
    // *pending) for a "$ref" whose "$id" has not been seen yet; the caller records a fixup.
    milo_value* parse_value(uint32_t depth, uint64_t* pending) {
        skip_ws();
        if (depth > max_depth_)
            fail(MILO_ERR_LIMIT, "nesting deeper than " + std::to_string(max_depth_) + " levels");
        if (reinterpret_cast<uintptr_t>(__builtin_frame_address(0)) < stack_limit_)
            fail(MILO_ERR_LIMIT, "nesting of " + std::to_string(depth) +
                                     " levels is too deep for this thread's stack");
        size_t at = offset();
        milo_value* v = nullptr;
        switch (peek()) {
            case '{': return parse_object(depth, pending);
            case '[': {
                call(api_->value_create_container(doc_, MILO_KIND_LIST, &v, &err_), at,
                     "cannot create list");
                parse_items(v, depth);
                return v;
            }
            case '"': {
                std::string scratch;
                std::string_view s = read_string(scratch);
                call(api_->value_create_string(doc_, s.data(), s.size(), &v, &err_), at,
                     "cannot create string");
                return v;
            }
            case 't':
                if (literal("true", 4)) {
                    call(api_->value_create_bool(doc_, true, &v, &err_), at, "cannot create bool");
                    return v;
                }
                break;
            case 'f':
                if (literal("false", 5)) {
                    call(api_->value_create_bool(doc_, false, &v, &err_), at, "cannot create bool");
                    return v;
                }
                break;
            case 'n':
                if (literal("null", 4)) {
                    call(api_->value_create_null(doc_, &v, &err_), at, "cannot create null");
                    return v;
                }
                break;
            default:
                if (peek() == '-' || (peek() >= '0' && peek() <= '9')) return parse_number_value();
        }
        expected("a value");
    }

    milo_value* parse_number_value() {
        size_t at = offset();
        Number n = scan_number();
        milo_value* v = nullptr;
        if (n.is_int) {
            int64_t x = 0;
            auto r = std::from_chars(n.begin, n.end, x);
            if (r.ec == std::errc()) {
                call(api_->value_create_int(doc_, x, &v, &err_), at, "cannot create int");
            } else {
                // Beyond int64: kept exactly, like {"$int": ...}; "-0" never reaches here.
                call(api_->value_create_int_text(doc_, n.begin, size_t(n.end - n.begin), &v, &err_),
                     at, "invalid integer");
            }
            return v;
        }
        double d = 0;
        if (!codec::parse_double(std::string_view(n.begin, size_t(n.end - n.begin)), &d))
            fail_at(MILO_ERR_CORRUPT, at, "number out of the float64 range");
        call(api_->value_create_float(doc_, d, &v, &err_), at, "cannot create float");
        return v;
    }

    void parse_items(milo_value* node, uint32_t depth) {
        parse_array([&](size_t i) {
            path_.push_back({nullptr, 0, i});
            size_t at = offset();
            uint64_t pending = 0;
            milo_value* item = parse_value(depth + 1, &pending);
            if (item == nullptr) {
                call(api_->value_append(node, placeholder(), &err_), at, "cannot append");
                add_fixup(Slot::kItem, node, i, pending, at);
            } else {
                call(api_->value_append(node, item, &err_), at, "cannot append");
            }
            path_.pop_back();
        });
    }

    milo_value* parse_object(uint32_t depth, uint64_t* pending) {
        const uint8_t* open = p_;
        ++p_;
        skip_ws();
        if (peek() == '"') {
            std::string scratch;
            size_t key_off = offset();
            std::string_view key = read_string(scratch);
            if (key.size() >= 1 && key[0] == '$' && !(key.size() >= 2 && key[1] == '$'))
                return parse_tagged(depth, pending, std::string(key), key_off,
                                    size_t(open - begin_));
        }
        p_ = open;
        milo_value* map = nullptr;
        call(api_->value_create_container(doc_, MILO_KIND_MAP, &map, &err_), offset(),
             "cannot create map");
        parse_map_body(map, depth);
        return map;
    }

    // A plain map {"k": v, ...}: unique keys, "$$x" unescaped to "$x".
    void parse_map_body(milo_value* map, uint32_t depth) {
        expect('{', "'{'");
        skip_ws();
        if (peek() == '}') {
            ++p_;
            return;
        }
        std::unordered_set<std::string> seen;
        std::string scratch;
        for (size_t i = 0;; ++i) {
            skip_ws();
            size_t key_off = offset();
            const uint8_t* raw = p_ + 1;
            std::string_view key = read_string(scratch, "a string key");
            size_t raw_len = size_t(p_ - raw) - 1;
            if (!key.empty() && key[0] == '$') {
                if (key.size() < 2 || key[1] != '$')
                    fail_at(MILO_ERR_CORRUPT, key_off,
                            "key " + quote(key) +
                                " begins with a single '$' inside a plain map (a tag mixed with "
                                "other keys, or a key that should be escaped as '$$')");
                key.remove_prefix(1);
            }
            if (!seen.emplace(key).second)
                fail_at(MILO_ERR_CORRUPT, key_off, "duplicate key " + quote(key) + " in a map");
            milo_value* k = nullptr;
            call(api_->value_create_string(doc_, key.data(), key.size(), &k, &err_), key_off,
                 "cannot create key");
            expect(':', "':'");
            path_.push_back({reinterpret_cast<const char*>(raw), raw_len, 0});
            skip_ws();
            size_t at = offset();
            uint64_t pending = 0;
            milo_value* v = parse_value(depth + 1, &pending);
            if (v == nullptr) {
                call(api_->value_append_pair(map, k, placeholder(), &err_), at, "cannot add pair");
                add_fixup(Slot::kMapValue, map, i, pending, at);
            } else {
                call(api_->value_append_pair(map, k, v, &err_), at, "cannot add pair");
            }
            path_.pop_back();
            skip_ws();
            int c = peek();
            ++p_;
            if (c == ',') continue;
            if (c == '}') return;
            --p_;
            expected("',' or '}'");
        }
    }

    // {"$dict": [[k, v], ...]}: keys of any kind.
    void parse_dict(milo_value* map, uint32_t depth) {
        parse_array([&](size_t i) {
            path_.push_back({nullptr, 0, i});
            expect('[', "'[' (a [key, value] pair)");
            size_t key_at = offset();
            uint64_t pending = 0;
            milo_value* k = parse_value(depth + 1, &pending);
            if (k == nullptr)
                fail_at(MILO_ERR_UNSUPPORTED, key_at,
                        "a map key that is a \"$ref\" to a node whose \"$id\" comes later "
                        "(write \"$id\" before the node's content)");
            expect(',', "',' between key and value");
            skip_ws();
            size_t at = offset();
            milo_value* v = parse_value(depth + 1, &pending);
            if (v == nullptr) {
                call(api_->value_append_pair(map, k, placeholder(), &err_), at, "cannot add pair");
                add_fixup(Slot::kMapValue, map, i, pending, at);
            } else {
                call(api_->value_append_pair(map, k, v, &err_), at, "cannot add pair");
            }
            skip_ws();
            if (peek() != ']') expected("']' closing the [key, value] pair");
            ++p_;
            path_.pop_back();
        });
    }

    milo_value* create_container(int32_t kind, size_t at) {
        milo_value* v = nullptr;
        call(api_->value_create_container(doc_, kind, &v, &err_), at, "cannot create container");
        return v;
    }

    // A tagged object; its first key (already read) begins with a single '$'.
    milo_value* parse_tagged(uint32_t depth, uint64_t* pending, std::string key, size_t key_off,
                             size_t open_off) {
        Tag tag = Tag::kNone;
        bool has_id = false;
        uint64_t id = 0;
        size_t id_off = 0;
        uint64_t ref = 0;
        milo_value* node = nullptr;
        // args/state met before "$object" are kept until the object exists.
        milo_value* member_value[2] = {nullptr, nullptr};
        uint64_t member_pending[2] = {0, 0};
        size_t member_off[2] = {0, 0};
        bool has_member[2] = {false, false};
        std::string scratch;
        auto set_node = [&](milo_value* v) {
            node = v;
            if (has_id) register_id(id, node, id_off);
        };
        auto place_member = [&](int m) {
            if (member_value[m] != nullptr) {
                call(m == 0 ? api_->value_set_args(node, member_value[m], &err_)
                            : api_->value_set_state(node, member_value[m], &err_),
                     member_off[m], "cannot set object member");
            } else {
                add_fixup(m == 0 ? Slot::kArgs : Slot::kState, node, 0, member_pending[m],
                          member_off[m]);
            }
        };
        while (true) {
            expect(':', "':'");
            skip_ws();
            size_t at = offset();
            if (key == "$id") {
                if (has_id) fail_at(MILO_ERR_CORRUPT, key_off, "duplicate member \"$id\"");
                id = read_uint("a positive integer id");
                if (id == 0) fail_at(MILO_ERR_CORRUPT, at, "\"$id\" must be at least 1");
                has_id = true;
                id_off = at;
                if (node != nullptr) register_id(id, node, id_off);
            } else if (key == "args" || key == "state") {
                int m = key == "args" ? 0 : 1;
                if (tag != Tag::kNone && tag != Tag::kObject)
                    fail_at(MILO_ERR_CORRUPT, key_off,
                            "member " + quote(key) + " is only allowed with \"$object\"");
                if (has_member[m])
                    fail_at(MILO_ERR_CORRUPT, key_off, "duplicate member " + quote(key));
                has_member[m] = true;
                path_.push_back({m == 0 ? "args" : "state", m == 0 ? size_t(4) : size_t(5), 0});
                member_off[m] = at;
                member_value[m] = parse_value(depth + 1, &member_pending[m]);
                path_.pop_back();
                if (node != nullptr) place_member(m);
            } else {
                Tag t = tag_from_key(key);
                if (t == Tag::kNone) {
                    if (key[0] == '$')
                        fail_at(MILO_ERR_CORRUPT, key_off, "unknown tag " + quote(key));
                    fail_at(MILO_ERR_CORRUPT, key_off,
                            "member " + quote(key) + " mixed with a tag in a tagged object");
                }
                if (tag != Tag::kNone)
                    fail_at(MILO_ERR_CORRUPT, key_off,
                            "second tag " + quote(key) + " in one object");
                tag = t;
                milo_value* v = nullptr;
                switch (t) {
                    case Tag::kRef: ref = read_uint("a positive integer id"); break;
                    case Tag::kInt: {
                        std::string_view s = read_string(scratch, "a decimal string");
                        bool is_int = false;
                        if (!codec::is_json_number(s, &is_int) || !is_int || s == "-0")
                            fail_at(MILO_ERR_CORRUPT, at, "expected a decimal integer string");
                        call(api_->value_create_int_text(doc_, s.data(), s.size(), &v, &err_), at,
                             "invalid \"$int\"");
                        node = v;
                        break;
                    }
                    case Tag::kFloat: {
                        std::string_view s = read_string(scratch, "a string");
                        uint64_t bits = 0;
                        if (!codec::parse_nonfinite(s, 8, false, &bits))
                            fail_at(MILO_ERR_CORRUPT, at,
                                    "expected \"nan\", \"-nan\", \"inf\", \"-inf\" or a 16-digit "
                                    "hex NaN pattern, found " +
                                        quote(s));
                        call(api_->value_create_float(doc_, codec::bits_to_double(bits), &v, &err_),
                             at, "cannot create float");
                        node = v;
                        break;
                    }
                    case Tag::kBytes: {
                        std::string_view s = read_string(scratch, "a base64 string");
                        size_t n = codec::base64_decoded_size(s.data(), s.size());
                        if (n == SIZE_MAX)
                            fail_at(MILO_ERR_CORRUPT, at, "base64 length is not a multiple of 4");
                        std::vector<uint8_t> bytes(n);
                        size_t bad = codec::base64_decode(s.data(), s.size(), bytes.data());
                        if (bad != SIZE_MAX)
                            fail_at(MILO_ERR_CORRUPT, at + 1 + bad,
                                    "invalid base64 character or padding");
                        call(api_->value_create_bytes(doc_, bytes.data(), n, &v, &err_), at,
                             "cannot create bytes");
                        node = v;
                        break;
                    }
                    case Tag::kGlobal: {
                        std::string name = read_cstring("a string (module.qualname)");
                        call(api_->value_create_global(doc_, name.c_str(), &v, &err_), at,
                             "invalid \"$global\"");
                        node = v;
                        break;
                    }
                    case Tag::kList:
                    case Tag::kTuple:
                    case Tag::kSet: {
                        int32_t kind = t == Tag::kList    ? MILO_KIND_LIST
                                       : t == Tag::kTuple ? MILO_KIND_TUPLE
                                                          : MILO_KIND_SET;
                        set_node(create_container(kind, at));
                        if (peek() != '[') expected("'['");
                        parse_items(node, depth);
                        break;
                    }
                    case Tag::kMap:
                        set_node(create_container(MILO_KIND_MAP, at));
                        if (peek() != '{') expected("'{'");
                        parse_map_body(node, depth);
                        break;
                    case Tag::kDict:
                        set_node(create_container(MILO_KIND_MAP, at));
                        if (peek() != '[') expected("'['");
                        parse_dict(node, depth);
                        break;
                    case Tag::kObject: {
                        std::string type = read_cstring("a string (the object's type)");
                        call(api_->value_create_object(doc_, type.c_str(), &v, &err_), at,
                             "invalid \"$object\"");
                        set_node(v);
                        for (int m = 0; m < 2; ++m)
                            if (has_member[m]) place_member(m);
                        break;
                    }
                    case Tag::kTensor:
                        if (peek() != '{') expected("'{' (the tensor)");
                        node = parse_tensor(depth, has_id, id, id_off);
                        break;
                    case Tag::kNone: break;
                }
            }
            skip_ws();
            int c = peek();
            if (c == '}') {
                ++p_;
                break;
            }
            if (c != ',') expected("',' or '}'");
            ++p_;
            skip_ws();
            key_off = offset();
            key = std::string(read_string(scratch, "a string key"));
        }
        if (tag == Tag::kNone)
            fail_at(MILO_ERR_CORRUPT, open_off,
                    "expected a tag ($list, $map, $object, ...) in an object with \"$id\"");
        if (has_id && (tag_is_scalar(tag) || tag == Tag::kRef))
            fail_at(MILO_ERR_CORRUPT, id_off,
                    "\"$id\" is only allowed on lists, tuples, sets, maps, objects and tensors");
        if ((has_member[0] || has_member[1]) && tag != Tag::kObject)
            fail_at(MILO_ERR_CORRUPT, open_off,
                    "'args' and 'state' are only allowed with \"$object\"");
        if (tag == Tag::kRef) {
            auto it = ids_.find(ref);
            if (it != ids_.end()) return it->second;
            *pending = ref;
            return nullptr;
        }
        return node;
    }

    /* ---- tensors ---------------------------------------------------------------------- */

    std::vector<int64_t> parse_shape(const char* what) {
        std::vector<int64_t> shape;
        parse_array([&](size_t i) {
            if (i >= MILO_MAX_NDIM)
                fail(MILO_ERR_LIMIT, "more than " + std::to_string(MILO_MAX_NDIM) + " dimensions");
            uint64_t d = read_uint(what);
            if (d > uint64_t(INT64_MAX)) fail(MILO_ERR_LIMIT, "dimension too large");
            shape.push_back(int64_t(d));
        });
        return shape;
    }

    static bool product(const std::vector<int64_t>& shape, uint64_t* out) {
        uint64_t n = 1;
        for (int64_t d : shape)
            if (__builtin_mul_overflow(n, uint64_t(d), &n)) return false;
        *out = n;
        return true;
    }

    void parse_record_dtype(TensorSpec* spec) {
        bool has_itemsize = false, has_fields = false;
        size_t off = offset();
        parse_members([&](std::string_view key, size_t key_off) {
            if (key == "itemsize") {
                spec->itemsize = read_uint("a non-negative integer");
                if (spec->itemsize > MILO_MAX_TENSOR_BYTES)
                    fail(MILO_ERR_LIMIT, "itemsize too large");
                has_itemsize = true;
            } else if (key == "fields") {
                has_fields = true;
                parse_array([&](size_t) {
                    RecordField f;
                    bool has_name = false, has_dtype = false, has_offset = false;
                    size_t foff = offset();
                    parse_members([&](std::string_view fk, size_t fk_off) {
                        size_t at = offset();
                        if (fk == "name") {
                            f.name = read_cstring("a string");
                            has_name = true;
                        } else if (fk == "dtype") {
                            std::string scratch;
                            std::string_view n = read_string(scratch);
                            f.dtype = codec::dtype_from_name(n);
                            if (!codec::dtype_is_numeric(f.dtype))
                                fail_at(MILO_ERR_CORRUPT, at,
                                        "expected a numeric dtype for a record field, found " +
                                            quote(n));
                            has_dtype = true;
                        } else if (fk == "offset") {
                            f.offset = read_uint("a non-negative integer");
                            has_offset = true;
                        } else if (fk == "shape") {
                            f.shape = parse_shape("a non-negative integer");
                            if (!product(f.shape, &f.subcount))
                                fail_at(MILO_ERR_LIMIT, at, "field shape overflows");
                        } else {
                            fail_at(MILO_ERR_CORRUPT, fk_off,
                                    "unknown record field member " + quote(fk));
                        }
                    });
                    if (!has_name || !has_dtype || !has_offset)
                        fail_at(MILO_ERR_CORRUPT, foff,
                                "expected record field members 'name', 'dtype' and 'offset'");
                    uint64_t size = 0;
                    if (__builtin_mul_overflow(f.subcount,
                                               uint64_t(codec::dtype_info(f.dtype)->size), &size) ||
                        size > spec->itemsize || f.offset > spec->itemsize - size)
                        fail_at(MILO_ERR_CORRUPT, foff,
                                "record field " + quote(f.name) + " does not fit in the itemsize");
                    spec->fields.push_back(std::move(f));
                });
            } else {
                fail_at(MILO_ERR_CORRUPT, key_off, "unknown record dtype member " + quote(key));
            }
        });
        if (!has_itemsize || !has_fields)
            fail_at(MILO_ERR_CORRUPT, off, "expected record dtype members 'itemsize' and 'fields'");
        spec->dtype = MILO_DTYPE_RECORD;
    }

    // Bytes of the whole tensor, checked.
    uint64_t tensor_bytes(const TensorSpec& s, size_t at) {
        uint64_t size =
            s.dtype == MILO_DTYPE_RECORD ? s.itemsize : codec::dtype_info(s.dtype)->size;
        uint64_t n = 0;
        if (__builtin_mul_overflow(s.count, size, &n) || n > MILO_MAX_TENSOR_BYTES)
            fail_at(MILO_ERR_LIMIT, at, "tensor larger than 1 TiB");
        return n;
    }

    size_t remaining() const { return size_t(end_ - p_); }

    milo_value* create_tensor(const TensorSpec& s, size_t at, bool has_id, uint64_t id,
                              size_t id_off) {
        milo_value* t = nullptr;
        const int64_t* shape = s.shape.empty() ? nullptr : s.shape.data();
        if (s.dtype == MILO_DTYPE_RECORD) {
            call(api_->value_create_record_tensor(doc_, s.itemsize, shape, s.shape.size(), &t,
                                                  &err_),
                 at, "cannot create tensor");
            for (const RecordField& f : s.fields) {
                call(api_->value_tensor_add_field(t, f.name.c_str(), f.dtype, f.offset,
                                                  f.shape.empty() ? nullptr : f.shape.data(),
                                                  f.shape.size(), &err_),
                     at, "invalid record field");
            }
        } else {
            call(api_->value_create_tensor(doc_, s.dtype, shape, s.shape.size(), &t, &err_), at,
                 "cannot create tensor");
        }
        if (has_id) register_id(id, t, id_off);
        return t;
    }

    uint8_t* mutable_data(milo_value* t, size_t at, uint64_t expect) {
        void* data = nullptr;
        size_t nbytes = 0;
        call(api_->value_tensor_mutable_data(t, &data, &nbytes, &err_), at, "cannot write tensor");
        if (nbytes != expect)
            fail_at(MILO_ERR_INTERNAL, at, "tensor buffer has an unexpected size");
        return static_cast<uint8_t*>(data);
    }

    void maybe_consumed() {
        if (ctx_->consumed == nullptr) return;
        size_t off = offset();
        if (off - last_consumed_ >= (size_t(4) << 20)) {
            ctx_->consumed(ctx_->context, off);
            last_consumed_ = off;
        }
    }

    milo_value* parse_tensor(uint32_t depth, bool has_id, uint64_t id, size_t id_off) {
        TensorSpec spec;
        milo_value* t = nullptr;
        bool has_storage = false, readable = false;
        std::string_view padding;
        size_t padding_off = 0;
        size_t tensor_off = offset();
        parse_members([&](std::string_view key, size_t key_off) {
            size_t at = offset();
            if (key == "dtype") {
                if (peek() == '{') {
                    parse_record_dtype(&spec);
                } else {
                    std::string scratch;
                    std::string_view n =
                        read_string(scratch, "a dtype name or a record dtype object");
                    spec.dtype = codec::dtype_from_name(n);
                    if (spec.dtype == 0) fail_at(MILO_ERR_CORRUPT, at, "unknown dtype " + quote(n));
                }
                return;
            }
            if (key == "shape") {
                spec.shape = parse_shape("a non-negative integer dimension");
                if (!product(spec.shape, &spec.count))
                    fail_at(MILO_ERR_LIMIT, at, "element count overflows");
                spec.have_shape = true;
                return;
            }
            if (key == "padding") {
                std::string scratch;
                padding_off = at + 1;
                padding = read_string(scratch, "a base64 string");
                if (padding.data() == scratch.data())
                    fail_at(MILO_ERR_CORRUPT, at, "invalid base64 (escapes)");
                return;
            }
            bool is_data = key == "data", is_b64 = key == "base64", is_ext = key == "external";
            if (!is_data && !is_b64 && !is_ext)
                fail_at(MILO_ERR_CORRUPT, key_off, "unknown tensor member " + quote(key));
            if (has_storage)
                fail_at(MILO_ERR_CORRUPT, key_off,
                        "expected exactly one of 'data', 'base64', 'external'");
            has_storage = true;
            if (spec.dtype == 0 || !spec.have_shape)
                fail_at(MILO_ERR_CORRUPT, key_off,
                        "expected 'dtype' and 'shape' before " + quote(key));
            uint64_t nbytes = tensor_bytes(spec, at);
            path_.push_back({is_data ? "data" : is_b64 ? "base64" : "external", key.size(), 0});
            if (is_ext) {
                if (!codec::dtype_is_numeric(spec.dtype))
                    fail_at(MILO_ERR_CORRUPT, key_off, "only numeric tensors can be external");
                std::string name = read_cstring("a string (the external tensor name)");
                if (ctx_->create_external_tensor == nullptr)
                    fail_at(MILO_ERR_UNSUPPORTED, at,
                            "external tensors are not supported by this reader");
                call(ctx_->create_external_tensor(ctx_->context, doc_, spec.dtype,
                                                  spec.shape.empty() ? nullptr : spec.shape.data(),
                                                  spec.shape.size(), name.c_str(), &t, &err_),
                     at, "cannot create external tensor");
                if (has_id) register_id(id, t, id_off);
            } else if (is_b64) {
                if (spec.dtype == MILO_DTYPE_OBJECT || spec.dtype == MILO_DTYPE_STRING)
                    fail_at(MILO_ERR_CORRUPT, key_off,
                            "object and string tensors have no 'base64' form");
                parse_base64_data(spec, nbytes, &t, has_id, id, id_off);
            } else {
                readable = true;
                parse_readable(spec, nbytes, depth, &t, has_id, id, id_off);
            }
            path_.pop_back();
        });
        if (!has_storage)
            fail_at(MILO_ERR_CORRUPT, tensor_off, "expected one of 'data', 'base64', 'external'");
        if (padding_off != 0) {
            if (spec.dtype != MILO_DTYPE_RECORD || !readable)
                fail_at(MILO_ERR_CORRUPT, padding_off,
                        "'padding' is only allowed with readable record data");
            apply_padding(spec, t, padding, padding_off);
        }
        return t;
    }

    void parse_base64_data(const TensorSpec& spec, uint64_t nbytes, milo_value** t, bool has_id,
                           uint64_t id, size_t id_off) {
        skip_ws();
        size_t at = offset();
        if (peek() != '"') expected("a base64 string");
        const uint8_t* s = p_ + 1;
        const void* close = std::memchr(s, '"', size_t(end_ - s));
        if (close == nullptr) fail_at(MILO_ERR_CORRUPT, at, "unterminated string");
        size_t len = size_t(static_cast<const uint8_t*>(close) - s);
        uint64_t want = (nbytes + 2) / 3 * 4;
        if (len != want)
            fail_at(MILO_ERR_CORRUPT, at,
                    "expected " + std::to_string(want) + " base64 characters for " +
                        std::to_string(nbytes) + " bytes of tensor data, found " +
                        std::to_string(len));
        // The length is right; the '=' padding must be too, or the decoder would write more
        // (or fewer) bytes than the tensor holds.
        if (codec::base64_decoded_size(reinterpret_cast<const char*>(s), len) != nbytes)
            fail_at(MILO_ERR_CORRUPT, at + len - 1,
                    "base64 padding does not match " + std::to_string(nbytes) + " bytes");
        *t = create_tensor(spec, at, has_id, id, id_off);
        uint8_t* data = mutable_data(*t, at, nbytes);
        // Decode in slices so the host may drop the pages already read.
        const char* text = reinterpret_cast<const char*>(s);
        size_t done = 0;
        constexpr size_t kSlice = size_t(4) << 20;  // multiple of 4
        while (done < len) {
            size_t k = std::min(kSlice, len - done);
            // '=' may only end the whole text, never a slice in the middle.
            if (done + k < len && text[done + k - 1] == '=')
                fail_at(MILO_ERR_CORRUPT, at + done + k, "base64 padding before the end");
            size_t bad = codec::base64_decode(text + done, k, data + done / 4 * 3);
            if (bad != SIZE_MAX)
                fail_at(MILO_ERR_CORRUPT, at + 1 + done + bad,
                        "invalid base64 character or padding");
            done += k;
            p_ = s + done;
            maybe_consumed();
        }
        p_ = s + len + 1;
    }

    void apply_padding(const TensorSpec& spec, milo_value* t, std::string_view text, size_t at) {
        std::vector<ByteRange> gaps;
        std::vector<ByteRange> used;
        for (const RecordField& f : spec.fields)
            used.push_back({f.offset, f.offset + codec::dtype_info(f.dtype)->size * f.subcount});
        std::sort(used.begin(), used.end(),
                  [](const ByteRange& a, const ByteRange& b) { return a.begin < b.begin; });
        uint64_t pos = 0, per_item = 0;
        for (const ByteRange& u : used) {
            if (u.begin > pos) gaps.push_back({pos, u.begin});
            pos = std::max(pos, u.end);
        }
        if (pos < spec.itemsize) gaps.push_back({pos, spec.itemsize});
        for (const ByteRange& g : gaps) per_item += g.end - g.begin;
        uint64_t total = per_item * spec.count;  // <= tensor bytes, no overflow
        if (uint64_t(text.size()) != (total + 2) / 3 * 4)
            fail_at(MILO_ERR_CORRUPT, at,
                    "expected " + std::to_string((total + 2) / 3 * 4) +
                        " base64 characters of padding for " + std::to_string(total) + " bytes");
        if (codec::base64_decoded_size(text.data(), text.size()) != total)
            fail_at(MILO_ERR_CORRUPT, at,
                    "base64 padding does not match " + std::to_string(total) + " bytes");
        std::vector<uint8_t> bytes(total);
        size_t bad = codec::base64_decode(text.data(), text.size(), bytes.data());
        if (bad != SIZE_MAX)
            fail_at(MILO_ERR_CORRUPT, at + bad, "invalid base64 character or padding");
        uint8_t* data = mutable_data(t, at, spec.count * spec.itemsize);
        size_t k = 0;
        for (uint64_t i = 0; i < spec.count; ++i)
            for (const ByteRange& g : gaps)
                for (uint64_t b = g.begin; b < g.end; ++b) data[i * spec.itemsize + b] = bytes[k++];
    }

    void parse_readable(const TensorSpec& spec, uint64_t nbytes, uint32_t depth, milo_value** t,
                        bool has_id, uint64_t id, size_t id_off) {
        skip_ws();
        size_t at = offset();
        // Each element needs at least one byte of text plus a separator.
        auto plausible = [&](uint64_t elements, const char* what) {
            if (elements > (remaining() + 1) / 2)
                fail_at(MILO_ERR_CORRUPT, at,
                        "tensor needs " + std::to_string(elements) + " " + what + " but only " +
                            std::to_string(remaining()) + " bytes of input remain");
        };
        if (spec.dtype == MILO_DTYPE_OBJECT) {
            plausible(spec.count, "elements");
            *t = create_tensor(spec, at, has_id, id, id_off);
            size_t n = 0;
            parse_array([&](size_t i) {
                if (i >= spec.count)
                    fail(MILO_ERR_CORRUPT, "more than " + std::to_string(spec.count) + " elements");
                path_.push_back({nullptr, 0, i});
                size_t vat = offset();
                uint64_t pending = 0;
                milo_value* v = parse_value(depth + 1, &pending);
                if (v == nullptr)
                    add_fixup(Slot::kTensorItem, *t, i, pending, vat);
                else
                    call(api_->value_tensor_set_item(*t, i, v, &err_), vat, "cannot set element");
                path_.pop_back();
                n = i + 1;
            });
            if (n != spec.count)
                fail(MILO_ERR_CORRUPT, "expected " + std::to_string(spec.count) +
                                           " elements, found " + std::to_string(n));
            return;
        }
        if (spec.dtype == MILO_DTYPE_STRING) {
            plausible(spec.count, "elements");
            *t = create_tensor(spec, at, has_id, id, id_off);
            size_t n = 0;
            std::string scratch;
            parse_array([&](size_t i) {
                if (i >= spec.count)
                    fail(MILO_ERR_CORRUPT, "more than " + std::to_string(spec.count) + " elements");
                size_t sat = offset();
                std::string_view s = read_string(scratch);
                call(api_->value_tensor_set_string(*t, i, s.data(), s.size(), &err_), sat,
                     "cannot set element");
                n = i + 1;
            });
            if (n != spec.count)
                fail(MILO_ERR_CORRUPT, "expected " + std::to_string(spec.count) +
                                           " elements, found " + std::to_string(n));
            return;
        }
        if (spec.dtype == MILO_DTYPE_RECORD) {
            // Field text bounds the field bytes; padding is bounded here as a multiple of input.
            if (nbytes > uint64_t(remaining()) * 64 + (uint64_t(1) << 20))
                fail_at(MILO_ERR_CORRUPT, at,
                        "record tensor of " + std::to_string(nbytes) +
                            " bytes is implausible for the remaining input");
            for (const RecordField& f : spec.fields) {
                uint64_t e = 0;
                if (__builtin_mul_overflow(spec.count, f.subcount, &e))
                    fail_at(MILO_ERR_LIMIT, at, "too many elements");
                plausible(e, "field elements");
            }
            *t = create_tensor(spec, at, has_id, id, id_off);
            uint8_t* data = mutable_data(*t, at, nbytes);
            std::vector<bool> done(spec.fields.size());
            parse_members([&](std::string_view key, size_t key_off) {
                size_t k = 0;
                while (k < spec.fields.size() && spec.fields[k].name != key) ++k;
                if (k == spec.fields.size())
                    fail_at(MILO_ERR_CORRUPT, key_off, "unknown record field " + quote(key));
                const RecordField& f = spec.fields[k];
                done[k] = true;
                path_.push_back({f.name.data(), f.name.size(), 0});
                parse_numeric(f.dtype, data + f.offset, spec.count * f.subcount, f.subcount,
                              spec.itemsize);
                path_.pop_back();
            });
            for (size_t k = 0; k < done.size(); ++k)
                if (!done[k])
                    fail_at(MILO_ERR_CORRUPT, at,
                            "missing data of record field " + quote(spec.fields[k].name));
            return;
        }
        uint64_t comps = spec.count * (codec::dtype_is_complex(spec.dtype) ? 2 : 1);
        plausible(comps, "numbers");
        *t = create_tensor(spec, at, has_id, id, id_off);
        uint8_t* data = mutable_data(*t, at, nbytes);
        parse_numeric(spec.dtype, data, spec.count, spec.count, 0);
    }

    // `count` elements of `dtype`, `subcount` contiguous per group, groups `stride` apart.
    void parse_numeric(int32_t dtype, uint8_t* base, uint64_t count, uint64_t subcount,
                       uint64_t stride) {
        switch (dtype) {
            case MILO_DTYPE_BOOL: return elems<MILO_DTYPE_BOOL>(base, count, subcount, stride, 1);
            case MILO_DTYPE_INT8: return elems<MILO_DTYPE_INT8>(base, count, subcount, stride, 1);
            case MILO_DTYPE_INT16: return elems<MILO_DTYPE_INT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_INT32: return elems<MILO_DTYPE_INT32>(base, count, subcount, stride, 4);
            case MILO_DTYPE_INT64: return elems<MILO_DTYPE_INT64>(base, count, subcount, stride, 8);
            case MILO_DTYPE_UINT8: return elems<MILO_DTYPE_UINT8>(base, count, subcount, stride, 1);
            case MILO_DTYPE_UINT16:
                return elems<MILO_DTYPE_UINT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_UINT32:
                return elems<MILO_DTYPE_UINT32>(base, count, subcount, stride, 4);
            case MILO_DTYPE_UINT64:
                return elems<MILO_DTYPE_UINT64>(base, count, subcount, stride, 8);
            case MILO_DTYPE_FLOAT16:
                return elems<MILO_DTYPE_FLOAT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_BFLOAT16:
                return elems<MILO_DTYPE_BFLOAT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_FLOAT32:
                return elems<MILO_DTYPE_FLOAT32>(base, count, subcount, stride, 4);
            case MILO_DTYPE_FLOAT64:
                return elems<MILO_DTYPE_FLOAT64>(base, count, subcount, stride, 8);
            case MILO_DTYPE_COMPLEX64:
                return elems<MILO_DTYPE_FLOAT32>(base, count * 2, subcount * 2, stride, 4);
            case MILO_DTYPE_COMPLEX128:
                return elems<MILO_DTYPE_FLOAT64>(base, count * 2, subcount * 2, stride, 8);
            default: fail(MILO_ERR_INTERNAL, "not a numeric dtype");
        }
    }

    [[noreturn]] void element_error(uint64_t index, size_t at, const std::string& what) {
        path_.push_back({nullptr, 0, index});
        fail_at(MILO_ERR_CORRUPT, at, what);
    }

    // {"$float": "..."} inside tensor data; returns the bit pattern.
    uint64_t parse_nonfinite_element(int width, bool bfloat, uint64_t index) {
        size_t at = offset();
        ++p_;
        std::string scratch;
        std::string_view k = read_string(scratch, "\"$float\"");
        if (k != "$float")
            element_error(index, at, "expected {\"$float\": ...} for a non-finite element");
        expect(':', "':'");
        skip_ws();
        size_t vat = offset();
        std::string_view s = read_string(scratch, "a string");
        uint64_t bits = 0;
        if (!codec::parse_nonfinite(s, width, bfloat, &bits))
            element_error(index, vat,
                          "expected \"nan\", \"-nan\", \"inf\", \"-inf\" or a " +
                              std::to_string(width * 2) + "-digit hex NaN pattern");
        expect('}', "'}'");
        return bits;
    }

    template <int32_t DT>
    void parse_element(uint8_t* dest, uint64_t index) {
        size_t at = offset();
        if constexpr (DT == MILO_DTYPE_BOOL) {
            if (literal("true", 4))
                *dest = 1;
            else if (literal("false", 5))
                *dest = 0;
            else
                element_error(index, at, "expected true or false");
            return;
        } else {
            constexpr bool is_float = DT >= MILO_DTYPE_FLOAT16 && DT <= MILO_DTYPE_FLOAT64;
            if constexpr (is_float) {
                if (peek() == '{') {
                    constexpr int width = DT == MILO_DTYPE_FLOAT64   ? 8
                                          : DT == MILO_DTYPE_FLOAT32 ? 4
                                                                     : 2;
                    uint64_t bits =
                        parse_nonfinite_element(width, DT == MILO_DTYPE_BFLOAT16, index);
                    std::memcpy(dest, &bits, width);  // little-endian host
                    return;
                }
            }
            if (p_ >= end_ || !(*p_ == '-' || (*p_ >= '0' && *p_ <= '9'))) {
                path_.push_back({nullptr, 0, index});
                expected("a number");
            }
            Number n = scan_number();
            if constexpr (DT == MILO_DTYPE_FLOAT64) {
                double v;
                if (std::from_chars(n.begin, n.end, v).ec != std::errc())
                    element_error(index, at, "number out of the float64 range");
                std::memcpy(dest, &v, 8);
            } else if constexpr (DT == MILO_DTYPE_FLOAT32) {
                float v;
                if (std::from_chars(n.begin, n.end, v).ec != std::errc())
                    element_error(index, at, "number out of the float32 range");
                std::memcpy(dest, &v, 4);
            } else if constexpr (DT == MILO_DTYPE_FLOAT16 || DT == MILO_DTYPE_BFLOAT16) {
                float v;
                uint16_t h = 0;
                bool ok = std::from_chars(n.begin, n.end, v).ec == std::errc();
                if (ok)
                    ok = DT == MILO_DTYPE_FLOAT16 ? codec::float_to_half_exact(v, &h)
                                                  : codec::float_to_bfloat16_exact(v, &h);
                if (!ok)
                    element_error(index, at,
                                  std::string("number not exactly representable as ") +
                                      (DT == MILO_DTYPE_FLOAT16 ? "float16" : "bfloat16"));
                std::memcpy(dest, &h, 2);
            } else {
                using T = std::conditional_t<
                    DT == MILO_DTYPE_INT8, int8_t,
                    std::conditional_t<
                        DT == MILO_DTYPE_INT16, int16_t,
                        std::conditional_t<
                            DT == MILO_DTYPE_INT32, int32_t,
                            std::conditional_t<
                                DT == MILO_DTYPE_INT64, int64_t,
                                std::conditional_t<
                                    DT == MILO_DTYPE_UINT8, uint8_t,
                                    std::conditional_t<DT == MILO_DTYPE_UINT16, uint16_t,
                                                       std::conditional_t<DT == MILO_DTYPE_UINT32,
                                                                          uint32_t, uint64_t>>>>>>>;
                T v;
                if (!n.is_int || std::from_chars(n.begin, n.end, v).ec != std::errc())
                    element_error(index, at,
                                  std::string("expected an integer in the range of ") +
                                      codec::dtype_info(DT)->name);
                std::memcpy(dest, &v, sizeof v);
            }
        }
    }

    template <int32_t DT>
    void elems(uint8_t* base, uint64_t count, uint64_t subcount, uint64_t stride, size_t esize) {
        expect('[', "'['");
        skip_ws();
        uint8_t* group = base;
        uint64_t k = 0;
        for (uint64_t i = 0; i < count; ++i) {
            if (i > 0) {
                skip_ws();
                if (peek() != ',') {
                    if (peek() == ']')
                        fail(MILO_ERR_CORRUPT, "expected " + std::to_string(count) +
                                                   " numbers, found " + std::to_string(i));
                    expected("','");
                }
                ++p_;
                skip_ws();
                if ((i & 0xffff) == 0) maybe_consumed();
            }
            parse_element<DT>(group + k * esize, i);
            if (++k == subcount) {
                k = 0;
                group += stride;
            }
        }
        skip_ws();
        if (peek() != ']') {
            if (peek() == ',')
                fail(MILO_ERR_CORRUPT, "more than " + std::to_string(count) + " numbers");
            expected("']'");
        }
        ++p_;
    }

    const milo_api* api_;
    milo_doc* doc_;
    const milo_decode_context* ctx_;
    const uint8_t* begin_;
    const uint8_t* p_;
    const uint8_t* end_;
    const char* name_;
    uint32_t max_depth_;
    uintptr_t stack_limit_ = 0;
    bool in_root_ = false;
    size_t last_consumed_ = 0;
    milo_error err_ = MILO_ERROR_INIT;
    std::vector<PathSeg> path_;
    std::unordered_map<uint64_t, milo_value*> ids_;
    std::unordered_map<uint64_t, std::vector<Fixup>> fixups_;
};

}  // namespace

milo_status decode_document(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx,
                            milo_error* error) {
    if (api == nullptr || doc == nullptr || ctx == nullptr ||
        (ctx->data == nullptr && ctx->size != 0)) {
        if (api != nullptr)
            return api->error_set(error, MILO_ERR_INVALID_ARGUMENT,
                                  "json: decode: missing argument");
        return MILO_ERR_INVALID_ARGUMENT;
    }
    static const uint8_t kEmpty[1] = {0};
    milo_decode_context local = *ctx;
    if (local.data == nullptr) local.data = kEmpty;
    try {
        Decoder dec(api, doc, &local);
        dec.run();
        return MILO_OK;
    } catch (const DecodeError& e) {
        return api->error_set(error, e.status, e.message.c_str());
    } catch (const std::bad_alloc&) {
        return api->error_set(error, MILO_ERR_OUT_OF_MEMORY, "json: decode: out of memory");
    } catch (...) {
        return api->error_set(error, MILO_ERR_INTERNAL, "json: decode: unexpected exception");
    }
}

}  // namespace json
}  // namespace milo
