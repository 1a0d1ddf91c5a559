// JSON encoder: streams a document through ctx->write in 64 KiB chunks (docs/format.md §1-4).
// Nothing proportional to the document is built in memory except the sharing table.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "json_format_internal.hpp"
#include "milo/milo_codec.hpp"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the JSON adapter reads tensor bytes in host order and needs a little-endian host"
#endif

namespace milo {
namespace json {
namespace {

namespace codec = milo::codec;

// The write callback already filled the caller's error; only the status travels up.
struct WriteFailed {
    milo_status status;
};

struct EncodeError {
    milo_status status;
    std::string message;
};

class Out {
public:
    static constexpr size_t kSize = 64 * 1024;

    Out(const milo_encode_context* ctx, milo_error* error)
        : ctx_(ctx), error_(error), buf_(new char[kSize]) {}

    void reserve(size_t n) {
        if (kSize - len_ < n) flush();
    }
    void put(char c) {
        if (len_ == kSize) flush();
        buf_[len_++] = c;
    }
    void write(const char* s, size_t n) {
        while (n > 0) {
            if (len_ == kSize) flush();
            size_t k = std::min(n, kSize - len_);
            std::memcpy(buf_.get() + len_, s, k);
            len_ += k;
            s += k;
            n -= k;
        }
    }
    void write(std::string_view s) { write(s.data(), s.size()); }
    char* cursor() { return buf_.get() + len_; }
    void advance(size_t n) { len_ += n; }
    void flush() {
        if (len_ == 0) return;
        milo_status st = ctx_->write(ctx_->context, buf_.get(), len_, error_);
        len_ = 0;
        if (st != MILO_OK) throw WriteFailed{st};
    }

private:
    const milo_encode_context* ctx_;
    milo_error* error_;
    std::unique_ptr<char[]> buf_;
    size_t len_ = 0;
};

struct PathSeg {
    const char* key;  // nullptr: an index
    size_t len;
    size_t index;
};

const char* trust_level_name(int32_t level) {
    switch (level) {
        case MILO_TRUST_TRUSTED: return "trusted";
        case MILO_TRUST_UNTRUSTED: return "untrusted";
        case MILO_TRUST_DANGEROUS: return "dangerous";
        default: return nullptr;
    }
}

bool is_decimal(const char* s) {
    if (s == nullptr || *s == '\0') return false;
    if (s[0] == '0' && s[1] != '\0') return false;
    for (; *s; ++s)
        if (*s < '0' || *s > '9') return false;
    return true;
}

class Encoder {
public:
    Encoder(const milo_api* api, const milo_doc* doc, const milo_encode_context* ctx,
            milo_error* error)
        : api_(api),
          doc_(doc),
          ctx_(ctx),
          out_(ctx, error),
          indent_(ctx->indent > 0 ? std::min(ctx->indent, 16) : 0) {}

    void run() {
        const milo_value* root = api_->doc_get_root(doc_);
        uint32_t reached = 0;
        if (!shared_.build(api_, root, codec::kDefaultMaxDepth, &reached)) {
            throw EncodeError{
                MILO_ERR_LIMIT,
                "value nesting deeper than " + std::to_string(codec::kDefaultMaxDepth) + " levels"};
        }
        out_.put('{');
        ++level_;
        newline();
        write_key("milo");
        write_header();
        if (root != nullptr) {
            out_.put(',');
            newline();
            write_key("root");
            write_value(root);
        }
        --level_;
        newline();
        out_.put('}');
        if (indent_ > 0) out_.put('\n');
        out_.flush();
    }

    std::string path() const {
        std::string p = "/root";
        for (const PathSeg& s : path_) {
            p += '/';
            if (s.key != nullptr)
                p.append(s.key, s.len);
            else
                p += std::to_string(s.index);
        }
        return p;
    }

private:
    /* ---- layout ---------------------------------------------------------------------- */

    void newline() {
        if (indent_ == 0) return;
        size_t n = size_t(level_) * size_t(indent_);
        out_.put('\n');
        while (n > 0) {
            static const char spaces[] = "                                                ";
            size_t k = std::min(n, sizeof(spaces) - 1);
            out_.write(spaces, k);
            n -= k;
        }
    }
    std::string_view item_sep() const { return indent_ > 0 ? ", " : ","; }
    void write_key(std::string_view k) {
        write_string(k.data(), k.size(), false);
        out_.put(':');
        if (indent_ > 0) out_.put(' ');
    }
    // Members of a pretty-printed object: separator, line break, key.
    void member(bool* first, std::string_view k) {
        if (!*first) out_.put(',');
        *first = false;
        newline();
        write_key(k);
    }
    void begin_object() {
        out_.put('{');
        ++level_;
    }
    void end_object(bool first) {
        --level_;
        if (!first) newline();
        out_.put('}');
    }
    // Members of a one-line object ({"name": "x", "version": "y"}).
    void inline_member(bool* first, std::string_view k) {
        if (!*first) out_.write(item_sep());
        *first = false;
        write_key(k);
    }

    void write_uint(uint64_t v) {
        char buf[codec::kNumberBuffer];
        out_.write(buf, codec::write_uint64(v, buf));
    }

    void fail(milo_status status, const std::string& what) {
        throw EncodeError{status, "at " + path() + ": " + what};
    }

    /* ---- strings --------------------------------------------------------------------- */

    void write_string(const char* s, size_t n, bool dollar_prefix) {
        if (codec::utf8_invalid_at(s, n) != SIZE_MAX)
            fail(MILO_ERR_INVALID_ARGUMENT, "string is not valid UTF-8");
        out_.put('"');
        if (dollar_prefix) out_.put('$');
        size_t start = 0;
        for (size_t i = 0; i < n; ++i) {
            unsigned char c = static_cast<unsigned char>(s[i]);
            if (c >= 0x20 && c != '"' && c != '\\') continue;
            out_.write(s + start, i - start);
            start = i + 1;
            char esc[7] = {'\\', 0, 0, 0, 0, 0, 0};
            size_t len = 2;
            switch (c) {
                case '"': esc[1] = '"'; break;
                case '\\': esc[1] = '\\'; break;
                case '\n': esc[1] = 'n'; break;
                case '\r': esc[1] = 'r'; break;
                case '\t': esc[1] = 't'; break;
                case '\b': esc[1] = 'b'; break;
                case '\f': esc[1] = 'f'; break;
                default: {
                    static const char hex[] = "0123456789abcdef";
                    esc[1] = 'u';
                    esc[2] = '0';
                    esc[3] = '0';
                    esc[4] = hex[c >> 4];
                    esc[5] = hex[c & 15];
                    len = 6;
                }
            }
            out_.write(esc, len);
        }
        out_.write(s + start, n - start);
        out_.put('"');
    }
    void write_cstring(const char* s) { write_string(s, std::strlen(s), false); }

    // base64 of `n` bytes, streamed (no quotes).
    void write_base64(const uint8_t* data, size_t n) {
        constexpr size_t kChunk = 3 * 8192;
        while (n > 0) {
            size_t k = std::min(n, kChunk);
            size_t text = codec::base64_encoded_size(k);
            out_.reserve(text);
            codec::base64_encode(data, k, out_.cursor());
            out_.advance(text);
            data += k;
            n -= k;
        }
    }

    /* ---- header ---------------------------------------------------------------------- */

    const char* header(const char* key) {
        const char* v = nullptr;
        if (api_->doc_get_header(doc_, key, &v, nullptr) != MILO_OK) return nullptr;
        return v;
    }

    // An inline object of string members (any may be unset); false when all are unset.
    bool write_header_group(bool* first, const char* name,
                            std::initializer_list<std::pair<const char*, const char*>> members,
                            const char* int_member = nullptr) {
        bool any = false;
        for (auto& m : members) any = any || header(m.second) != nullptr;
        if (!any) return false;
        member(first, name);
        out_.put('{');
        bool inner_first = true;
        for (auto& m : members) {
            const char* v = header(m.second);
            if (v == nullptr) continue;
            inline_member(&inner_first, m.first);
            if (int_member != nullptr && std::strcmp(m.first, int_member) == 0) {
                if (!is_decimal(v))
                    throw EncodeError{MILO_ERR_INVALID_ARGUMENT,
                                      std::string("header ") + m.second + " is not an integer"};
                out_.write(v, std::strlen(v));
            } else {
                write_cstring(v);
            }
        }
        out_.put('}');
        return true;
    }

    void write_header() {
        bool first = true;
        begin_object();
        member(&first, "format_version");
        const char* fv = header("format_version");
        if (fv == nullptr) {
            write_uint(MILO_FORMAT_VERSION);
        } else {
            if (!is_decimal(fv))
                throw EncodeError{MILO_ERR_INVALID_ARGUMENT,
                                  "header format_version is not an integer"};
            out_.write(fv, std::strlen(fv));
        }
        write_header_group(&first, "producer",
                           {{"name", "producer.name"}, {"version", "producer.version"}});
        write_header_group(&first, "framework",
                           {{"name", "framework.name"}, {"version", "framework.version"}});
        write_header_group(&first, "transporter",
                           {{"id", "transporter.id"}, {"revision", "transporter.revision"}},
                           "revision");
        if (const char* type = header("type")) {
            member(&first, "type");
            write_cstring(type);
        }
        write_header_group(
            &first, "source",
            {{"kind", "source.kind"}, {"version", "source.version"}, {"sha256", "source.sha256"}});
        size_t ntrust = api_->doc_trust_count(doc_);
        if (ntrust > 0) {
            member(&first, "trust");
            out_.put('[');
            ++level_;
            for (size_t i = 0; i < ntrust; ++i) {
                const char* name = nullptr;
                const char* usage = nullptr;
                int32_t level = 0;
                if (api_->doc_trust_at(doc_, i, &name, &usage, &level, nullptr) != MILO_OK)
                    throw EncodeError{MILO_ERR_INTERNAL, "cannot read trust entry"};
                const char* lname = trust_level_name(level);
                if (lname == nullptr)
                    throw EncodeError{MILO_ERR_INVALID_ARGUMENT,
                                      "unknown trust level " + std::to_string(level)};
                if (i > 0) out_.put(',');
                newline();
                out_.put('{');
                bool f = true;
                inline_member(&f, "name");
                write_cstring(name ? name : "");
                inline_member(&f, "usage");
                write_cstring(usage ? usage : "");
                inline_member(&f, "level");
                write_cstring(lname);
                out_.put('}');
            }
            --level_;
            newline();
            out_.put(']');
        }
        size_t nmeta = api_->doc_metadata_count(doc_);
        if (nmeta > 0) {
            member(&first, "metadata");
            begin_object();
            bool f = true;
            for (size_t i = 0; i < nmeta; ++i) {
                const char* k = nullptr;
                const char* v = nullptr;
                if (api_->doc_metadata_at(doc_, i, &k, &v, nullptr) != MILO_OK)
                    throw EncodeError{MILO_ERR_INTERNAL, "cannot read metadata entry"};
                member(&f, k ? k : "");
                write_cstring(v ? v : "");
            }
            end_object(f);
        }
        write_header_group(&first, "external",
                           {{"file", "external.file"}, {"sha256", "external.sha256"}});
        end_object(first);
    }

    /* ---- values ---------------------------------------------------------------------- */

    // {"$tag": <caller writes the value>} on one line: open and key.
    void inline_tag(const char* tag) {
        out_.put('{');
        write_key(tag);
    }

    void write_nonfinite_tag(uint64_t bits, int width, bool bfloat) {
        char buf[codec::kNumberBuffer];
        size_t n = codec::write_nonfinite(bits, width, bfloat, buf);
        inline_tag("$float");
        out_.put('"');
        out_.write(buf, n);
        out_.write("\"}", 2);
    }

    void write_value(const milo_value* v) {
        int32_t kind = api_->value_get_kind(v);
        switch (kind) {
            case MILO_KIND_NULL: out_.write("null", 4); return;
            case MILO_KIND_BOOL: {
                bool b = false;
                check(api_->value_get_bool(v, &b, nullptr), "bool");
                if (b)
                    out_.write("true", 4);
                else
                    out_.write("false", 5);
                return;
            }
            case MILO_KIND_INT: {
                int64_t x = 0;
                milo_status st = api_->value_get_int(v, &x, nullptr);
                if (st == MILO_OK) {
                    char buf[codec::kNumberBuffer];
                    out_.write(buf, codec::write_int64(x, buf));
                    return;
                }
                const char* text = nullptr;
                check(api_->value_get_int_text(v, &text, nullptr), "int");
                inline_tag("$int");
                write_cstring(text);
                out_.put('}');
                return;
            }
            case MILO_KIND_FLOAT: {
                double d = 0;
                check(api_->value_get_float(v, &d, nullptr), "float");
                uint64_t bits = codec::double_to_bits(d);
                if ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) {
                    write_nonfinite_tag(bits, 8, false);
                } else {
                    char buf[codec::kNumberBuffer];
                    out_.write(buf, codec::write_double(d, buf, true));
                }
                return;
            }
            case MILO_KIND_STRING: {
                const char* s = nullptr;
                size_t n = 0;
                check(api_->value_get_string(v, &s, &n, nullptr), "string");
                write_string(s, n, false);
                return;
            }
            case MILO_KIND_BYTES: {
                const uint8_t* b = nullptr;
                size_t n = 0;
                check(api_->value_get_bytes(v, &b, &n, nullptr), "bytes");
                inline_tag("$bytes");
                out_.put('"');
                write_base64(b, n);
                out_.write("\"}", 2);
                return;
            }
            case MILO_KIND_GLOBAL: {
                const char* name = nullptr;
                check(api_->value_get_name(v, &name, nullptr), "global");
                inline_tag("$global");
                write_cstring(name);
                out_.put('}');
                return;
            }
            case MILO_KIND_LIST:
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
            case MILO_KIND_MAP:
            case MILO_KIND_TENSOR:
            case MILO_KIND_OBJECT: break;
            default: fail(MILO_ERR_INVALID_ARGUMENT, "unknown value kind " + std::to_string(kind));
        }
        codec::SharedNodes::Visit visit = shared_.visit(v);
        if (!visit.first) {
            inline_tag("$ref");
            write_uint(visit.id);
            out_.put('}');
            return;
        }
        uint64_t id = visit.id;
        if (kind == MILO_KIND_LIST && id == 0) {
            write_items(v);
            return;
        }
        if (kind == MILO_KIND_MAP && id == 0 && map_is_plain(v)) {
            write_plain_map(v);
            return;
        }
        // Tagged form; "$id" goes first so a one-pass reader knows the node before any
        // "$ref" to it inside its own content (cycles).
        bool first = true;
        begin_object();
        if (id != 0) {
            member(&first, "$id");
            write_uint(id);
        }
        switch (kind) {
            case MILO_KIND_LIST:
                member(&first, "$list");
                write_items(v);
                break;
            case MILO_KIND_TUPLE:
                member(&first, "$tuple");
                write_items(v);
                break;
            case MILO_KIND_SET:
                member(&first, "$set");
                write_items(v);
                break;
            case MILO_KIND_MAP:
                if (map_is_plain(v)) {
                    member(&first, "$map");
                    write_plain_map(v);
                } else {
                    member(&first, "$dict");
                    write_dict(v);
                }
                break;
            case MILO_KIND_OBJECT: write_object_members(v, &first); break;
            case MILO_KIND_TENSOR:
                member(&first, "$tensor");
                write_tensor(v);
                break;
        }
        end_object(first);
    }

    void check(milo_status st, const char* what) {
        if (st != MILO_OK) fail(MILO_ERR_INTERNAL, std::string("cannot read ") + what + " value");
    }

    void write_items(const milo_value* v) {
        size_t n = api_->value_count(v);
        out_.put('[');
        if (n == 0) {
            out_.put(']');
            return;
        }
        ++level_;
        for (size_t i = 0; i < n; ++i) {
            if (i > 0) out_.put(',');
            newline();
            path_.push_back({nullptr, 0, i});
            write_value(api_->value_at(v, i));
            path_.pop_back();
        }
        --level_;
        newline();
        out_.put(']');
    }

    bool map_is_plain(const milo_value* v) {
        size_t n = api_->value_count(v);
        std::unordered_set<std::string_view> seen;
        seen.reserve(n);
        for (size_t i = 0; i < n; ++i) {
            const milo_value* k = api_->value_key_at(v, i);
            if (api_->value_get_kind(k) != MILO_KIND_STRING) return false;
            const char* s = nullptr;
            size_t len = 0;
            if (api_->value_get_string(k, &s, &len, nullptr) != MILO_OK) return false;
            if (!seen.insert(std::string_view(s, len)).second) return false;
        }
        return true;
    }

    void write_plain_map(const milo_value* v) {
        size_t n = api_->value_count(v);
        bool first = true;
        begin_object();
        for (size_t i = 0; i < n; ++i) {
            const char* s = nullptr;
            size_t len = 0;
            check(api_->value_get_string(api_->value_key_at(v, i), &s, &len, nullptr), "key");
            // The key is a string scalar (no identity): visiting it is not needed.
            if (!first) out_.put(',');
            first = false;
            newline();
            write_string(s, len, len > 0 && s[0] == '$');
            out_.put(':');
            if (indent_ > 0) out_.put(' ');
            path_.push_back({s, len, 0});
            write_value(api_->value_at(v, i));
            path_.pop_back();
        }
        end_object(first);
    }

    void write_dict(const milo_value* v) {
        size_t n = api_->value_count(v);
        out_.put('[');
        if (n == 0) {
            out_.put(']');
            return;
        }
        ++level_;
        for (size_t i = 0; i < n; ++i) {
            if (i > 0) out_.put(',');
            newline();
            path_.push_back({nullptr, 0, i});
            out_.put('[');
            ++level_;
            newline();
            write_value(api_->value_key_at(v, i));
            out_.put(',');
            newline();
            write_value(api_->value_at(v, i));
            --level_;
            newline();
            out_.put(']');
            path_.pop_back();
        }
        --level_;
        newline();
        out_.put(']');
    }

    void write_object_members(const milo_value* v, bool* first) {
        const char* type = nullptr;
        check(api_->value_get_name(v, &type, nullptr), "object");
        member(first, "$object");
        write_cstring(type);
        if (const milo_value* args = api_->value_get_args(v)) {
            member(first, "args");
            path_.push_back({"args", 4, 0});
            write_value(args);
            path_.pop_back();
        }
        if (const milo_value* state = api_->value_get_state(v)) {
            member(first, "state");
            path_.push_back({"state", 5, 0});
            write_value(state);
            path_.pop_back();
        }
    }

    /* ---- tensors --------------------------------------------------------------------- */

    void write_shape(const int64_t* shape, size_t ndim) {
        out_.put('[');
        for (size_t i = 0; i < ndim; ++i) {
            if (i > 0) out_.write(item_sep());
            if (shape[i] < 0) fail(MILO_ERR_INVALID_ARGUMENT, "negative tensor dimension");
            write_uint(uint64_t(shape[i]));
        }
        out_.put(']');
    }

    struct Field {
        const char* name;
        int32_t dtype;
        uint64_t offset;
        uint64_t subcount;  // elements per item (product of the sub-array shape)
    };

    std::vector<Field> read_fields(const milo_value* t) {
        std::vector<Field> fields;
        size_t nf = api_->value_tensor_field_count(t);
        for (size_t i = 0; i < nf; ++i) {
            Field f{};
            const int64_t* shape = nullptr;
            size_t ndim = 0;
            if (api_->value_tensor_field_at(t, i, &f.name, &f.dtype, &f.offset, &shape, &ndim,
                                            nullptr) != MILO_OK)
                fail(MILO_ERR_INTERNAL, "cannot read record field");
            f.subcount = 1;
            for (size_t d = 0; d < ndim; ++d) f.subcount *= uint64_t(shape[d]);
            fields.push_back(f);
        }
        return fields;
    }

    void write_record_dtype(const milo_value* t, uint64_t itemsize) {
        bool first = true;
        begin_object();
        member(&first, "itemsize");
        write_uint(itemsize);
        member(&first, "fields");
        size_t nf = api_->value_tensor_field_count(t);
        out_.put('[');
        ++level_;
        for (size_t i = 0; i < nf; ++i) {
            const char* name = nullptr;
            int32_t dtype = 0;
            uint64_t offset = 0;
            const int64_t* shape = nullptr;
            size_t ndim = 0;
            if (api_->value_tensor_field_at(t, i, &name, &dtype, &offset, &shape, &ndim, nullptr) !=
                MILO_OK)
                fail(MILO_ERR_INTERNAL, "cannot read record field");
            const codec::DTypeInfo* info = codec::dtype_info(dtype);
            if (info == nullptr || !codec::dtype_is_numeric(dtype))
                fail(MILO_ERR_INVALID_ARGUMENT, "record field of non-numeric dtype");
            if (i > 0) out_.put(',');
            newline();
            out_.put('{');
            bool f = true;
            inline_member(&f, "name");
            write_cstring(name);
            inline_member(&f, "dtype");
            write_cstring(info->name);
            inline_member(&f, "offset");
            write_uint(offset);
            if (ndim > 0) {
                inline_member(&f, "shape");
                write_shape(shape, ndim);
            }
            out_.put('}');
        }
        --level_;
        if (nf > 0) newline();
        out_.put(']');
        end_object(first);
    }

    void write_tensor(const milo_value* t) {
        int32_t dtype = 0;
        const int64_t* shape = nullptr;
        size_t ndim = 0;
        check(api_->value_get_tensor(t, &dtype, &shape, &ndim, nullptr), "tensor");
        uint64_t count = 1;
        if (!codec::element_count(shape, ndim, &count))
            fail(MILO_ERR_INVALID_ARGUMENT, "bad tensor shape");
        int32_t mode = MILO_TENSORS_READABLE;
        const char* ext_name = nullptr;
        if (!codec::tensor_storage(ctx_, t, dtype, MILO_TENSORS_READABLE, &mode, &ext_name))
            fail(MILO_ERR_INVALID_ARGUMENT, "external tensor without a name");

        bool first = true;
        begin_object();
        member(&first, "dtype");
        uint64_t itemsize = api_->value_tensor_itemsize(t);
        if (dtype == MILO_DTYPE_RECORD) {
            write_record_dtype(t, itemsize);
        } else {
            const codec::DTypeInfo* info = codec::dtype_info(dtype);
            if (info == nullptr)
                fail(MILO_ERR_INVALID_ARGUMENT, "unknown dtype " + std::to_string(dtype));
            write_cstring(info->name);
        }
        member(&first, "shape");
        write_shape(shape, ndim);

        if (mode == MILO_TENSORS_EXTERNAL) {
            member(&first, "external");
            write_cstring(ext_name);
        } else if (dtype == MILO_DTYPE_OBJECT) {
            member(&first, "data");
            write_object_elements(t, count);
        } else if (dtype == MILO_DTYPE_STRING) {
            member(&first, "data");
            write_string_elements(t, count);
        } else {
            const void* data = nullptr;
            size_t nbytes = 0;
            check(api_->value_tensor_data(t, &data, &nbytes, nullptr), "tensor");
            if (nbytes / (itemsize ? itemsize : 1) != count && itemsize != 0)
                fail(MILO_ERR_INTERNAL, "tensor data size does not match its shape");
            const uint8_t* bytes = static_cast<const uint8_t*>(data);
            if (mode == MILO_TENSORS_COMPACT) {
                member(&first, "base64");
                out_.put('"');
                write_base64(bytes, nbytes);
                out_.put('"');
            } else if (dtype == MILO_DTYPE_RECORD) {
                write_record_data(t, bytes, count, itemsize, &first);
            } else {
                member(&first, "data");
                write_numeric(dtype, bytes, count, count, 0);
            }
        }
        end_object(first);
    }

    void write_object_elements(const milo_value* t, uint64_t count) {
        out_.put('[');
        if (count == 0) {
            out_.put(']');
            return;
        }
        ++level_;
        path_.push_back({"data", 4, 0});
        for (size_t i = 0; i < count; ++i) {
            if (i > 0) out_.put(',');
            newline();
            path_.push_back({nullptr, 0, i});
            const milo_value* item = api_->value_tensor_item_at(t, i);
            if (item == nullptr) fail(MILO_ERR_INTERNAL, "missing object tensor element");
            write_value(item);
            path_.pop_back();
        }
        path_.pop_back();
        --level_;
        newline();
        out_.put(']');
    }

    void write_string_elements(const milo_value* t, uint64_t count) {
        out_.put('[');
        for (size_t i = 0; i < count; ++i) {
            if (i > 0) out_.write(item_sep());
            const char* s = nullptr;
            size_t n = 0;
            if (api_->value_tensor_string_at(t, i, &s, &n, nullptr) != MILO_OK)
                fail(MILO_ERR_INTERNAL, "cannot read string tensor element");
            write_string(s, n, false);
        }
        out_.put(']');
    }

    // Numeric elements of `dtype` (complex: component pairs). `subcount` elements are
    // contiguous, then the next group starts `stride` bytes after the previous group (records).
    void write_numeric(int32_t dtype, const uint8_t* base, uint64_t count, uint64_t subcount,
                       uint64_t stride) {
        switch (dtype) {
            case MILO_DTYPE_BOOL: return emit<MILO_DTYPE_BOOL>(base, count, subcount, stride, 1);
            case MILO_DTYPE_INT8: return emit<MILO_DTYPE_INT8>(base, count, subcount, stride, 1);
            case MILO_DTYPE_INT16: return emit<MILO_DTYPE_INT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_INT32: return emit<MILO_DTYPE_INT32>(base, count, subcount, stride, 4);
            case MILO_DTYPE_INT64: return emit<MILO_DTYPE_INT64>(base, count, subcount, stride, 8);
            case MILO_DTYPE_UINT8: return emit<MILO_DTYPE_UINT8>(base, count, subcount, stride, 1);
            case MILO_DTYPE_UINT16:
                return emit<MILO_DTYPE_UINT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_UINT32:
                return emit<MILO_DTYPE_UINT32>(base, count, subcount, stride, 4);
            case MILO_DTYPE_UINT64:
                return emit<MILO_DTYPE_UINT64>(base, count, subcount, stride, 8);
            case MILO_DTYPE_FLOAT16:
                return emit<MILO_DTYPE_FLOAT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_BFLOAT16:
                return emit<MILO_DTYPE_BFLOAT16>(base, count, subcount, stride, 2);
            case MILO_DTYPE_FLOAT32:
                return emit<MILO_DTYPE_FLOAT32>(base, count, subcount, stride, 4);
            case MILO_DTYPE_FLOAT64:
                return emit<MILO_DTYPE_FLOAT64>(base, count, subcount, stride, 8);
            case MILO_DTYPE_COMPLEX64:
                return emit<MILO_DTYPE_FLOAT32>(base, count * 2, subcount * 2, stride, 4);
            case MILO_DTYPE_COMPLEX128:
                return emit<MILO_DTYPE_FLOAT64>(base, count * 2, subcount * 2, stride, 8);
            default: fail(MILO_ERR_INVALID_ARGUMENT, "not a numeric dtype");
        }
    }

    // Text of one non-finite element as {"$float": "..."} into `c`; returns the length.
    size_t nonfinite_text(uint64_t bits, int width, bool bfloat, char* c) {
        size_t n = 0;
        const char* open = indent_ > 0 ? "{\"$float\": \"" : "{\"$float\":\"";
        size_t ol = std::strlen(open);
        std::memcpy(c, open, ol);
        n = ol;
        n += codec::write_nonfinite(bits, width, bfloat, c + n);
        c[n++] = '"';
        c[n++] = '}';
        return n;
    }

    template <int32_t DT>
    size_t format_element(const uint8_t* e, char* c, uint64_t index) {
        if constexpr (DT == MILO_DTYPE_BOOL) {
            if (*e > 1)
                fail(MILO_ERR_INVALID_ARGUMENT,
                     "bool tensor element " + std::to_string(index) + " is neither 0 nor 1");
            if (*e) {
                std::memcpy(c, "true", 4);
                return 4;
            }
            std::memcpy(c, "false", 5);
            return 5;
        } else if constexpr (DT == MILO_DTYPE_INT8 || DT == MILO_DTYPE_INT16 ||
                             DT == MILO_DTYPE_INT32 || DT == MILO_DTYPE_INT64) {
            using T = std::conditional_t<
                DT == MILO_DTYPE_INT8, int8_t,
                std::conditional_t<DT == MILO_DTYPE_INT16, int16_t,
                                   std::conditional_t<DT == MILO_DTYPE_INT32, int32_t, int64_t>>>;
            T v;
            std::memcpy(&v, e, sizeof v);
            return size_t(std::to_chars(c, c + codec::kNumberBuffer, v).ptr - c);
        } else if constexpr (DT == MILO_DTYPE_UINT8 || DT == MILO_DTYPE_UINT16 ||
                             DT == MILO_DTYPE_UINT32 || DT == MILO_DTYPE_UINT64) {
            using T =
                std::conditional_t<DT == MILO_DTYPE_UINT8, uint8_t,
                                   std::conditional_t<DT == MILO_DTYPE_UINT16, uint16_t,
                                                      std::conditional_t<DT == MILO_DTYPE_UINT32,
                                                                         uint32_t, uint64_t>>>;
            T v;
            std::memcpy(&v, e, sizeof v);
            return size_t(std::to_chars(c, c + codec::kNumberBuffer, v).ptr - c);
        } else if constexpr (DT == MILO_DTYPE_FLOAT16 || DT == MILO_DTYPE_BFLOAT16) {
            uint16_t h;
            std::memcpy(&h, e, 2);
            constexpr uint16_t mask = DT == MILO_DTYPE_FLOAT16 ? 0x7c00 : 0x7f80;
            if ((h & mask) == mask) return nonfinite_text(h, 2, DT == MILO_DTYPE_BFLOAT16, c);
            float f =
                DT == MILO_DTYPE_FLOAT16 ? codec::half_to_float(h) : codec::bfloat16_to_float(h);
            return codec::write_float(f, c);
        } else if constexpr (DT == MILO_DTYPE_FLOAT32) {
            uint32_t b;
            std::memcpy(&b, e, 4);
            if ((b & 0x7f800000u) == 0x7f800000u) return nonfinite_text(b, 4, false, c);
            return codec::write_float(codec::bits_to_float(b), c);
        } else {
            static_assert(DT == MILO_DTYPE_FLOAT64, "unhandled dtype");
            uint64_t b;
            std::memcpy(&b, e, 8);
            if ((b & 0x7ff0000000000000ull) == 0x7ff0000000000000ull)
                return nonfinite_text(b, 8, false, c);
            return codec::write_double(codec::bits_to_double(b), c, false);
        }
    }

    template <int32_t DT>
    void emit(const uint8_t* base, uint64_t count, uint64_t subcount, uint64_t stride,
              size_t esize) {
        std::string_view sep = item_sep();
        out_.put('[');
        const uint8_t* group = base;
        uint64_t k = 0;
        for (uint64_t i = 0; i < count; ++i) {
            out_.reserve(2 * codec::kNumberBuffer);
            char* start = out_.cursor();
            char* c = start;
            if (i > 0) {
                std::memcpy(c, sep.data(), sep.size());
                c += sep.size();
            }
            c += format_element<DT>(group + k * esize, c, i);
            out_.advance(size_t(c - start));
            if (++k == subcount) {
                k = 0;
                group += stride;
            }
        }
        out_.put(']');
    }

    void write_record_data(const milo_value* t, const uint8_t* bytes, uint64_t count,
                           uint64_t itemsize, bool* first) {
        std::vector<Field> fields = read_fields(t);
        member(first, "data");
        bool f = true;
        begin_object();
        for (const Field& fd : fields) {
            member(&f, fd.name);
            path_.push_back({fd.name, std::strlen(fd.name), 0});
            write_numeric(fd.dtype, bytes + fd.offset, count * fd.subcount, fd.subcount, itemsize);
            path_.pop_back();
        }
        end_object(f);
        if (count == 0) return;
        // Padding: bytes of an item outside every field, in item order.
        std::vector<ByteRange> gaps;
        {
            std::vector<ByteRange> used;
            for (const Field& fd : fields) {
                uint64_t size = codec::dtype_info(fd.dtype)->size * fd.subcount;
                used.push_back({fd.offset, fd.offset + size});
            }
            std::sort(used.begin(), used.end(),
                      [](const ByteRange& a, const ByteRange& b) { return a.begin < b.begin; });
            uint64_t at = 0;
            for (const ByteRange& u : used) {
                if (u.begin > at) gaps.push_back({at, u.begin});
                at = std::max(at, u.end);
            }
            if (at < itemsize) gaps.push_back({at, itemsize});
        }
        bool nonzero = false;
        for (uint64_t i = 0; i < count && !nonzero; ++i) {
            const uint8_t* item = bytes + i * itemsize;
            for (const ByteRange& g : gaps)
                for (uint64_t b = g.begin; b < g.end && !nonzero; ++b) nonzero = item[b] != 0;
        }
        if (!nonzero) return;
        member(first, "padding");
        out_.put('"');
        uint8_t stage[3 * 4096];
        size_t staged = 0;
        auto drain = [&](bool final) {
            size_t k = final ? staged : staged / 3 * 3;
            write_base64(stage, k);
            std::memmove(stage, stage + k, staged - k);
            staged -= k;
        };
        for (uint64_t i = 0; i < count; ++i) {
            const uint8_t* item = bytes + i * itemsize;
            for (const ByteRange& g : gaps) {
                for (uint64_t b = g.begin; b < g.end; ++b) {
                    stage[staged++] = item[b];
                    if (staged == sizeof stage) drain(false);
                }
            }
        }
        drain(true);
        out_.put('"');
    }

    const milo_api* api_;
    const milo_doc* doc_;
    const milo_encode_context* ctx_;
    Out out_;
    int indent_;
    int level_ = 0;
    codec::SharedNodes shared_;
    std::vector<PathSeg> path_;
};

}  // namespace

milo_status encode_document(const milo_api* api, const milo_doc* doc,
                            const milo_encode_context* ctx, milo_error* error) {
    if (api == nullptr || doc == nullptr || ctx == nullptr || ctx->write == nullptr) {
        if (api != nullptr)
            return api->error_set(error, MILO_ERR_INVALID_ARGUMENT,
                                  "json: encode: missing argument");
        return MILO_ERR_INVALID_ARGUMENT;
    }
    try {
        Encoder enc(api, doc, ctx, error);
        enc.run();
        return MILO_OK;
    } catch (const WriteFailed& w) {
        return w.status;
    } catch (const EncodeError& e) {
        return api->error_set(error, e.status, ("json: encode: " + e.message).c_str());
    } catch (const std::bad_alloc&) {
        return api->error_set(error, MILO_ERR_OUT_OF_MEMORY, "json: encode: out of memory");
    } catch (...) {
        return api->error_set(error, MILO_ERR_INTERNAL, "json: encode: unexpected exception");
    }
}

}  // namespace json
}  // namespace milo
