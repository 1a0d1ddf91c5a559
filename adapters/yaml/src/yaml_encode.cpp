// YAML encoder: the JSON tree of docs/format.md written in block style (§5). The text is
// produced directly rather than through YAML::Emitter so that quoting, number text and key
// order are exactly those of the JSON encoder, and output streams through ctx->write.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "milo/milo_codec.hpp"
#include "yaml_format_internal.hpp"

namespace milo {
namespace yaml {
namespace {

namespace codec = milo::codec;

struct EncodeError {
    milo_status status;
    std::string message;
};

struct PathSeg {
    const char* key;  // nullptr: array index
    size_t len;
    size_t index;
};

// A block collection being written: its entries start at column `col`; the cursor already
// stands at that column for the first entry.
struct Block {
    int col;
    bool first;
};

class Encoder {
public:
    Encoder(const milo_api* api, const milo_doc* doc, const milo_encode_context* ctx)
        : api_(api), doc_(doc), ctx_(ctx) {
        // YAML has no one-line block style: 0 ("one line" for JSON) means the default.
        indent_ = ctx->indent > 0 ? std::min(ctx->indent, 16) : 2;
        seq_step_ = std::max(indent_, 2);  // "- " needs two columns
    }

    void run() {
        uint32_t reached = 0;
        const milo_value* root = api_->doc_get_root(doc_);
        if (!shared_.build(api_, root, codec::kDefaultMaxDepth, &reached))
            fail(MILO_ERR_LIMIT, "document nesting exceeds " +
                                     std::to_string(codec::kDefaultMaxDepth) + " levels");
        out_.reserve(kFlushAt + 4096);
        Block top{0, true};
        key(top, "milo");
        depth_ = 1;  // the top-level mapping
        Block hb = open_value_block(0);
        write_header(hb);
        depth_ = 1;
        if (root != nullptr) {
            key(top, "root");
            path_.push_back({"root", 4, 0});
            value(root, 0);
            path_.pop_back();
        }
        put('\n');
        flush();
    }

private:
    static constexpr size_t kFlushAt = 64 * 1024;

    [[noreturn]] void fail(milo_status st, const std::string& what) {
        std::string msg = "yaml encoder: " + what;
        if (!path_.empty()) msg += " at " + path_text();
        throw EncodeError{st, msg};
    }

    std::string path_text() const {
        std::string p;
        for (const PathSeg& s : path_) {
            p += '/';
            if (s.key != nullptr) p.append(s.key, s.len);
            else p += std::to_string(s.index);
        }
        return p;
    }

    /* ---- output ---------------------------------------------------------------------- */

    void flush() {
        if (out_.empty()) return;
        milo_error err = MILO_ERROR_INIT;
        milo_status st = ctx_->write(ctx_->context, out_.data(), out_.size(), &err);
        if (st != MILO_OK) throw EncodeError{st, err.message[0] ? err.message : "write failed"};
        out_.clear();
    }
    void maybe_flush() {
        if (out_.size() >= kFlushAt) flush();
    }
    void put(char c) { out_.push_back(c); }
    void put(std::string_view s) { out_.append(s.data(), s.size()); }
    void spaces(int n) { out_.append(size_t(n), ' '); }

    // Double-quoted scalar. Escapes what YAML would not keep verbatim: C0/C1 controls, DEL,
    // '"', '\\', and the characters some YAML 1.1 readers take as line breaks or a BOM.
    void quoted(const char* s, size_t n) {
        static const char hex[] = "0123456789ABCDEF";
        put('"');
        size_t run = 0;
        const auto* p = reinterpret_cast<const uint8_t*>(s);
        for (size_t i = 0; i < n; ++i) {
            uint8_t c = p[i];
            uint32_t cp = 0;
            size_t len = 1;
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') continue;
            if (c >= 0x80) {
                // Only U+0080..U+009F, U+2028/9, U+FEFF, U+FFFE/F need escaping.
                if (c == 0xc2 && i + 1 < n && p[i + 1] < 0xa0) {
                    cp = (p[i + 1] & 0x3fu) | 0x80u;
                    len = 2;
                } else if (c == 0xe2 && i + 2 < n && p[i + 1] == 0x80 &&
                           (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
                    cp = 0x2000 | (p[i + 2] & 0x3f);
                    len = 3;
                } else if (c == 0xef && i + 2 < n &&
                           ((p[i + 1] == 0xbb && p[i + 2] == 0xbf) ||
                            (p[i + 1] == 0xbf && (p[i + 2] == 0xbe || p[i + 2] == 0xbf)))) {
                    cp = 0xf000 | (uint32_t(p[i + 1] & 0x3f) << 6) | (p[i + 2] & 0x3f);
                    len = 3;
                } else {
                    continue;
                }
            }
            out_.append(s + run, i - run);
            if (c == '"') {
                put("\\\"");
            } else if (c == '\\') {
                put("\\\\");
            } else if (c == '\n') {
                put("\\n");
            } else if (c == '\t') {
                put("\\t");
            } else if (c == '\r') {
                put("\\r");
            } else if (c < 0x80) {
                put("\\x");
                put(hex[c >> 4]);
                put(hex[c & 15]);
            } else {
                put("\\u");
                for (int k = 3; k >= 0; --k) put(hex[(cp >> (4 * k)) & 15]);
            }
            i += len - 1;
            run = i + 1;
        }
        out_.append(s + run, n - run);
        put('"');
        maybe_flush();
    }
    void quoted(const char* s) { quoted(s, std::strlen(s)); }

    void number(uint64_t v) {
        char buf[codec::kNumberBuffer];
        put(std::string_view(buf, codec::write_uint64(v, buf)));
    }

    /* ---- block structure ------------------------------------------------------------- */

    void line(Block& b) {
        if (!b.first) {
            put('\n');
            spaces(b.col);
        }
        b.first = false;
    }
    void key(Block& b, const char* k) {
        line(b);
        quoted(k);
        put(':');
    }
    void key(Block& b, const char* k, size_t n) {
        line(b);
        quoted(k, n);
        put(':');
    }
    void dash(Block& b) {
        line(b);
        put('-');
    }

    // After "key:", positions the cursor for a nested block collection one level deeper.
    Block open_value_block(int col) {
        enter_nesting();
        put('\n');
        spaces(col + indent_);
        return Block{col + indent_, true};
    }
    // After "-", positions the cursor for a nested block collection on the same line.
    Block open_item_block(int col) {
        enter_nesting();
        spaces(seq_step_ - 1);
        return Block{col + seq_step_, true};
    }
    void enter_nesting() {
        if (++depth_ > kMaxYamlNesting - 4)  // room for flow data and {"$float": ...}
            fail(MILO_ERR_LIMIT, "document nesting exceeds the " +
                                     std::to_string(kMaxYamlNesting) +
                                     " YAML levels that YAML readers (yaml-cpp) accept; "
                                     "use JSON or protobuf for this document");
    }

    /* ---- header ---------------------------------------------------------------------- */

    const char* header(const char* k) {
        const char* v = nullptr;
        if (api_->doc_get_header(doc_, k, &v, nullptr) != MILO_OK) return nullptr;
        return v;
    }

    static bool is_decimal(const char* s) {
        if (*s == '\0') return false;
        for (; *s; ++s)
            if (*s < '0' || *s > '9') return false;
        return true;
    }

    struct HeaderField {
        const char* member;
        const char* key;
    };

    void header_group(Block& b, const char* name, std::initializer_list<HeaderField> fields,
                      const char* integer_member = nullptr) {
        bool any = false;
        for (const HeaderField& f : fields) any = any || header(f.key) != nullptr;
        if (!any) return;
        key(b, name);
        int saved = depth_;
        Block g = open_value_block(b.col);
        for (const HeaderField& f : fields) {
            const char* v = header(f.key);
            if (v == nullptr) continue;
            key(g, f.member);
            put(' ');
            if (integer_member != nullptr && std::strcmp(f.member, integer_member) == 0) {
                if (!is_decimal(v))
                    fail(MILO_ERR_INVALID_ARGUMENT, std::string("header ") + f.key +
                                                        " is not an integer");
                put(v);
            } else {
                quoted(v);
            }
        }
        depth_ = saved;
    }

    static const char* trust_level_name(int32_t level) {
        switch (level) {
            case MILO_TRUST_TRUSTED: return "trusted";
            case MILO_TRUST_UNTRUSTED: return "untrusted";
            case MILO_TRUST_DANGEROUS: return "dangerous";
            default: return nullptr;
        }
    }

    void write_header(Block& b) {
        key(b, "format_version");
        put(' ');
        const char* fv = header("format_version");
        if (fv == nullptr) {
            number(MILO_FORMAT_VERSION);
        } else {
            if (!is_decimal(fv))
                fail(MILO_ERR_INVALID_ARGUMENT, "header format_version is not an integer");
            put(fv);
        }
        header_group(b, "producer", {{"name", "producer.name"}, {"version", "producer.version"}});
        header_group(b, "framework",
                     {{"name", "framework.name"}, {"version", "framework.version"}});
        header_group(b, "transporter",
                     {{"id", "transporter.id"}, {"revision", "transporter.revision"}},
                     "revision");
        if (const char* type = header("type")) {
            key(b, "type");
            put(' ');
            quoted(type);
        }
        header_group(b, "source",
                     {{"kind", "source.kind"}, {"version", "source.version"},
                      {"sha256", "source.sha256"}});
        int saved = depth_;
        size_t ntrust = api_->doc_trust_count(doc_);
        if (ntrust > 0) {
            key(b, "trust");
            Block tb = open_value_block(b.col);
            int inner = depth_;
            for (size_t i = 0; i < ntrust; ++i) {
                const char* name = nullptr;
                const char* usage = nullptr;
                int32_t level = 0;
                if (api_->doc_trust_at(doc_, i, &name, &usage, &level, nullptr) != MILO_OK)
                    fail(MILO_ERR_INTERNAL, "cannot read trust entry");
                const char* lname = trust_level_name(level);
                if (lname == nullptr)
                    fail(MILO_ERR_INVALID_ARGUMENT, "unknown trust level " + std::to_string(level));
                dash(tb);
                Block e = open_item_block(tb.col);
                key(e, "name");
                put(' ');
                quoted(name ? name : "");
                key(e, "usage");
                put(' ');
                quoted(usage ? usage : "");
                key(e, "level");
                put(' ');
                quoted(lname);
                depth_ = inner;
            }
            depth_ = saved;
        }
        size_t nmeta = api_->doc_metadata_count(doc_);
        if (nmeta > 0) {
            key(b, "metadata");
            Block mb = open_value_block(b.col);
            for (size_t i = 0; i < nmeta; ++i) {
                const char* k = nullptr;
                const char* v = nullptr;
                if (api_->doc_metadata_at(doc_, i, &k, &v, nullptr) != MILO_OK)
                    fail(MILO_ERR_INTERNAL, "cannot read metadata entry");
                key(mb, k ? k : "");
                put(' ');
                quoted(v ? v : "");
            }
            depth_ = saved;
        }
        header_group(b, "external", {{"file", "external.file"}, {"sha256", "external.sha256"}});
    }

    /* ---- values ---------------------------------------------------------------------- */

    void check(milo_status st, const char* what) {
        if (st != MILO_OK) fail(MILO_ERR_INTERNAL, std::string("cannot read ") + what + " value");
    }

    // Writes the scalar text of `v` when it has a plain or quoted one-line form; false when
    // it needs a block (tagged scalars, containers).
    bool scalar_inline(const milo_value* v, int32_t kind) {
        char buf[codec::kNumberBuffer];
        switch (kind) {
            case MILO_KIND_NULL: put("null"); return true;
            case MILO_KIND_BOOL: {
                bool b = false;
                check(api_->value_get_bool(v, &b, nullptr), "bool");
                put(b ? "true" : "false");
                return true;
            }
            case MILO_KIND_INT: {
                int64_t i = 0;
                if (api_->value_get_int(v, &i, nullptr) != MILO_OK) return false;
                put(std::string_view(buf, codec::write_int64(i, buf)));
                return true;
            }
            case MILO_KIND_FLOAT: {
                double d = 0;
                check(api_->value_get_float(v, &d, nullptr), "float");
                if (codec::write_nonfinite(codec::double_to_bits(d), 8, false, buf) != 0)
                    return false;
                put(std::string_view(buf, codec::write_double(d, buf, true)));
                return true;
            }
            case MILO_KIND_STRING: {
                const char* s = nullptr;
                size_t n = 0;
                check(api_->value_get_string(v, &s, &n, nullptr), "string");
                quoted(s, n);
                return true;
            }
            default: return false;
        }
    }

    // Value after "key:" (block mapping entry) at mapping column `col`.
    void value(const milo_value* v, int col) { node(v, col, false); }
    // Value after "-" (block sequence item) at sequence column `col`.
    void item(const milo_value* v, int col) { node(v, col, true); }

    void node(const milo_value* v, int col, bool in_seq) {
        if (v == nullptr) fail(MILO_ERR_INVALID_ARGUMENT, "missing value");
        int32_t kind = api_->value_get_kind(v);
        if (kind < MILO_KIND_NULL || kind > MILO_KIND_GLOBAL)
            fail(MILO_ERR_INVALID_ARGUMENT, "unknown value kind " + std::to_string(kind));
        size_t mark = out_.size();
        put(' ');
        if (scalar_inline(v, kind)) return;
        uint64_t id = 0;
        if (codec::kind_has_identity(kind)) {
            codec::SharedNodes::Visit visit = shared_.visit(v);
            id = visit.id;
            if (!visit.first) {
                out_.resize(mark);
                int saved = depth_;
                Block b = in_seq ? open_item_block(col) : open_value_block(col);
                key(b, "$ref");
                put(' ');
                number(id);
                depth_ = saved;
                return;
            }
            if (id == 0 && api_->value_count(v) == 0 &&
                (kind == MILO_KIND_LIST || (kind == MILO_KIND_MAP))) {
                put(kind == MILO_KIND_LIST ? "[]" : "{}");
                return;
            }
        }
        out_.resize(mark);
        int saved = depth_;
        Block b = in_seq ? open_item_block(col) : open_value_block(col);
        block_body(v, kind, id, b);
        depth_ = saved;
    }

    // Writes a sequence of `n` items as the value of the current key.
    template <typename Get>
    void items_value(size_t n, int col, Get get) {
        if (n == 0) {
            put(" []");
            return;
        }
        int saved = depth_;
        Block b = open_value_block(col);
        for (size_t i = 0; i < n; ++i) {
            dash(b);
            path_.push_back({nullptr, 0, i});
            item(get(i), b.col);
            path_.pop_back();
        }
        depth_ = saved;
    }

    void block_body(const milo_value* v, int32_t kind, uint64_t id, Block& b) {
        char buf[codec::kNumberBuffer];
        if (id != 0) {
            // "$id" first, as in JSON, so one-pass readers know the node before its content.
            key(b, "$id");
            put(' ');
            number(id);
        }
        switch (kind) {
            case MILO_KIND_INT: {
                const char* text = nullptr;
                check(api_->value_get_int_text(v, &text, nullptr), "int");
                key(b, "$int");
                put(' ');
                quoted(text);
                return;
            }
            case MILO_KIND_FLOAT: {
                double d = 0;
                check(api_->value_get_float(v, &d, nullptr), "float");
                size_t n = codec::write_nonfinite(codec::double_to_bits(d), 8, false, buf);
                key(b, "$float");
                put(' ');
                quoted(buf, n);
                return;
            }
            case MILO_KIND_BYTES: {
                const uint8_t* data = nullptr;
                size_t n = 0;
                check(api_->value_get_bytes(v, &data, &n, nullptr), "bytes");
                key(b, "$bytes");
                put(' ');
                put('"');
                base64(data, n);
                put('"');
                return;
            }
            case MILO_KIND_GLOBAL: {
                const char* name = nullptr;
                check(api_->value_get_name(v, &name, nullptr), "global");
                key(b, "$global");
                put(' ');
                quoted(name);
                return;
            }
            case MILO_KIND_LIST:
                if (id == 0) {
                    size_t n = api_->value_count(v);
                    for (size_t i = 0; i < n; ++i) {
                        dash(b);
                        path_.push_back({nullptr, 0, i});
                        item(api_->value_at(v, i), b.col);
                        path_.pop_back();
                    }
                    return;
                }
                key(b, "$list");
                items_value(api_->value_count(v), b.col, [&](size_t i) { return api_->value_at(v, i); });
                return;
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
                key(b, kind == MILO_KIND_TUPLE ? "$tuple" : "$set");
                items_value(api_->value_count(v), b.col, [&](size_t i) { return api_->value_at(v, i); });
                return;
            case MILO_KIND_MAP:
                if (map_is_plain(v)) {
                    if (id == 0) {
                        plain_map_entries(v, b);
                        return;
                    }
                    key(b, "$map");
                    if (api_->value_count(v) == 0) {
                        put(" {}");
                        return;
                    }
                    int saved = depth_;
                    Block mb = open_value_block(b.col);
                    plain_map_entries(v, mb);
                    depth_ = saved;
                    return;
                }
                key(b, "$dict");
                write_dict(v, b.col);
                return;
            case MILO_KIND_OBJECT: {
                const char* type = nullptr;
                check(api_->value_get_name(v, &type, nullptr), "object");
                key(b, "$object");
                put(' ');
                quoted(type);
                if (const milo_value* args = api_->value_get_args(v)) {
                    key(b, "args");
                    path_.push_back({"args", 4, 0});
                    value(args, b.col);
                    path_.pop_back();
                }
                if (const milo_value* state = api_->value_get_state(v)) {
                    key(b, "state");
                    path_.push_back({"state", 5, 0});
                    value(state, b.col);
                    path_.pop_back();
                }
                return;
            }
            case MILO_KIND_TENSOR: {
                key(b, "$tensor");
                int saved = depth_;
                Block tb = open_value_block(b.col);
                write_tensor(v, tb);
                depth_ = saved;
                return;
            }
            default: fail(MILO_ERR_INTERNAL, "unexpected value kind");
        }
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
            check(api_->value_get_string(k, &s, &len, nullptr), "string");
            if (!seen.insert(std::string_view(s, len)).second) return false;
        }
        return true;
    }

    void plain_map_entries(const milo_value* v, Block& b) {
        size_t n = api_->value_count(v);
        std::string escaped;
        for (size_t i = 0; i < n; ++i) {
            const char* s = nullptr;
            size_t len = 0;
            check(api_->value_get_string(api_->value_key_at(v, i), &s, &len, nullptr), "string");
            if (len > 0 && s[0] == '$') {
                escaped.assign(1, '$');
                escaped.append(s, len);
                key(b, escaped.data(), escaped.size());
            } else {
                key(b, s, len);
            }
            path_.push_back({s, len, 0});
            value(api_->value_at(v, i), b.col);
            path_.pop_back();
        }
    }

    // "$dict": [[k, v], ...] as a block sequence of two-item block sequences.
    void write_dict(const milo_value* v, int col) {
        size_t n = api_->value_count(v);
        int saved = depth_;
        Block b = open_value_block(col);
        for (size_t i = 0; i < n; ++i) {
            dash(b);
            int inner = depth_;
            Block pb = open_item_block(b.col);
            path_.push_back({nullptr, 0, i});
            dash(pb);
            item(api_->value_key_at(v, i), pb.col);
            dash(pb);
            item(api_->value_at(v, i), pb.col);
            path_.pop_back();
            depth_ = inner;
        }
        depth_ = saved;
    }

    /* ---- tensors --------------------------------------------------------------------- */

    void base64(const uint8_t* data, size_t n) {
        constexpr size_t kChunk = 3 * 8192;
        for (size_t at = 0; at < n; at += kChunk) {
            size_t k = std::min(kChunk, n - at);
            codec::base64_append(data + at, k, out_);
            maybe_flush();
        }
    }

    void flow_uints(const int64_t* vals, size_t n) {
        put('[');
        for (size_t i = 0; i < n; ++i) {
            if (i > 0) put(", ");
            if (vals[i] < 0) fail(MILO_ERR_INVALID_ARGUMENT, "negative tensor dimension");
            number(uint64_t(vals[i]));
        }
        put(']');
    }

    struct Field {
        const char* name;
        int32_t dtype;
        uint64_t offset;
        uint64_t subcount;
    };

    std::vector<Field> read_fields(const milo_value* t, Block* b) {
        size_t nf = api_->value_tensor_field_count(t);
        std::vector<Field> fields;
        int saved = depth_;
        Block fb{0, true};
        if (b != nullptr) {
            if (nf == 0) {
                put(" []");
            } else {
                fb = open_value_block(b->col);
            }
        }
        for (size_t i = 0; i < nf; ++i) {
            Field f{};
            const int64_t* shape = nullptr;
            size_t ndim = 0;
            if (api_->value_tensor_field_at(t, i, &f.name, &f.dtype, &f.offset, &shape, &ndim,
                                            nullptr) != MILO_OK)
                fail(MILO_ERR_INTERNAL, "cannot read record field");
            if (!codec::dtype_is_numeric(f.dtype))
                fail(MILO_ERR_INVALID_ARGUMENT, "record field of non-numeric dtype");
            f.subcount = 1;
            for (size_t k = 0; k < ndim; ++k) {
                if (shape[k] < 0 ||
                    __builtin_mul_overflow(f.subcount, uint64_t(shape[k]), &f.subcount))
                    fail(MILO_ERR_INVALID_ARGUMENT, "bad record field shape");
            }
            fields.push_back(f);
            if (b == nullptr) continue;
            dash(fb);
            int inner = depth_;
            Block e = open_item_block(fb.col);
            key(e, "name");
            put(' ');
            quoted(f.name);
            key(e, "dtype");
            put(' ');
            quoted(codec::dtype_info(f.dtype)->name);
            key(e, "offset");
            put(' ');
            number(f.offset);
            if (ndim > 0) {
                key(e, "shape");
                put(' ');
                flow_uints(shape, ndim);
            }
            depth_ = inner;
        }
        depth_ = saved;
        return fields;
    }

    void write_tensor(const milo_value* t, Block& b) {
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

        key(b, "dtype");
        uint64_t itemsize = api_->value_tensor_itemsize(t);
        std::vector<Field> fields;
        if (dtype == MILO_DTYPE_RECORD) {
            int saved = depth_;
            Block db = open_value_block(b.col);
            key(db, "itemsize");
            put(' ');
            number(itemsize);
            key(db, "fields");
            fields = read_fields(t, &db);
            depth_ = saved;
        } else {
            const codec::DTypeInfo* info = codec::dtype_info(dtype);
            if (info == nullptr) fail(MILO_ERR_INVALID_ARGUMENT, "unknown dtype " + std::to_string(dtype));
            put(' ');
            quoted(info->name);
        }
        key(b, "shape");
        put(' ');
        flow_uints(shape, ndim);

        if (mode == MILO_TENSORS_EXTERNAL) {
            key(b, "external");
            put(' ');
            quoted(ext_name);
            return;
        }
        path_.push_back({"data", 4, 0});
        if (dtype == MILO_DTYPE_OBJECT) {
            key(b, "data");
            items_value(size_t(count), b.col,
                        [&](size_t i) { return api_->value_tensor_item_at(t, i); });
        } else if (dtype == MILO_DTYPE_STRING) {
            key(b, "data");
            put(" [");
            for (uint64_t i = 0; i < count; ++i) {
                const char* s = nullptr;
                size_t n = 0;
                check(api_->value_tensor_string_at(t, size_t(i), &s, &n, nullptr), "string");
                if (i > 0) put(", ");
                quoted(s, n);
            }
            put(']');
        } else {
            const void* data = nullptr;
            size_t nbytes = 0;
            check(api_->value_tensor_data(t, &data, &nbytes, nullptr), "tensor");
            if (itemsize == 0 || nbytes / itemsize != count || nbytes % itemsize != 0)
                fail(MILO_ERR_INTERNAL, "tensor data size does not match its shape");
            const auto* bytes = static_cast<const uint8_t*>(data);
            if (mode == MILO_TENSORS_COMPACT) {
                path_.pop_back();
                key(b, "base64");
                put(" \"");
                base64(bytes, nbytes);
                put('"');
                return;
            }
            if (dtype == MILO_DTYPE_RECORD) {
                write_record_data(bytes, count, itemsize, fields, b);
            } else {
                key(b, "data");
                put(' ');
                numeric(dtype, bytes, count, 1, codec::dtype_info(dtype)->size);
            }
        }
        path_.pop_back();
    }

    // One element's text; non-finite floats as {"$float": "..."} flow mappings.
    size_t element(int32_t dtype, const uint8_t* p, char* c) {
        uint64_t bits = 0;
        switch (dtype) {
            case MILO_DTYPE_BOOL:
                if (*p > 1) fail(MILO_ERR_INVALID_ARGUMENT, "bool element is neither 0 nor 1");
                std::memcpy(c, *p ? "true" : "false", *p ? 4 : 5);
                return *p ? 4 : 5;
            case MILO_DTYPE_INT8: return codec::write_int64(int8_t(*p), c);
            case MILO_DTYPE_UINT8: return codec::write_uint64(*p, c);
            case MILO_DTYPE_INT16: { int16_t v; std::memcpy(&v, p, 2); return codec::write_int64(v, c); }
            case MILO_DTYPE_UINT16: { uint16_t v; std::memcpy(&v, p, 2); return codec::write_uint64(v, c); }
            case MILO_DTYPE_INT32: { int32_t v; std::memcpy(&v, p, 4); return codec::write_int64(v, c); }
            case MILO_DTYPE_UINT32: { uint32_t v; std::memcpy(&v, p, 4); return codec::write_uint64(v, c); }
            case MILO_DTYPE_INT64: { int64_t v; std::memcpy(&v, p, 8); return codec::write_int64(v, c); }
            case MILO_DTYPE_UINT64: { uint64_t v; std::memcpy(&v, p, 8); return codec::write_uint64(v, c); }
            case MILO_DTYPE_FLOAT16:
            case MILO_DTYPE_BFLOAT16: {
                uint16_t h;
                std::memcpy(&h, p, 2);
                bool bf = dtype == MILO_DTYPE_BFLOAT16;
                if (size_t n = nonfinite(h, 2, bf, c)) return n;
                return codec::write_float(bf ? codec::bfloat16_to_float(h) : codec::half_to_float(h), c);
            }
            case MILO_DTYPE_FLOAT32: {
                uint32_t b32;
                std::memcpy(&b32, p, 4);
                if (size_t n = nonfinite(b32, 4, false, c)) return n;
                return codec::write_float(codec::bits_to_float(b32), c);
            }
            case MILO_DTYPE_FLOAT64: {
                std::memcpy(&bits, p, 8);
                if (size_t n = nonfinite(bits, 8, false, c)) return n;
                return codec::write_double(codec::bits_to_double(bits), c, false);
            }
            default: fail(MILO_ERR_INTERNAL, "not a numeric dtype");
        }
    }

    static size_t nonfinite(uint64_t bits, int width, bool bf, char* c) {
        char tmp[codec::kNumberBuffer];
        size_t n = codec::write_nonfinite(bits, width, bf, tmp);
        if (n == 0) return 0;
        static const char open[] = "{\"$float\": \"";
        std::memcpy(c, open, sizeof open - 1);
        std::memcpy(c + sizeof open - 1, tmp, n);
        c[sizeof open - 1 + n] = '"';
        c[sizeof open + n] = '}';
        return sizeof open + n + 1;
    }

    // `count` groups of `subcount` elements; group g starts at base + g * stride.
    void numeric(int32_t dtype, const uint8_t* base, uint64_t count, uint64_t subcount,
                 uint64_t stride) {
        int32_t scalar = dtype;
        int parts = 1;
        if (dtype == MILO_DTYPE_COMPLEX64) scalar = MILO_DTYPE_FLOAT32, parts = 2;
        if (dtype == MILO_DTYPE_COMPLEX128) scalar = MILO_DTYPE_FLOAT64, parts = 2;
        uint32_t esize = codec::dtype_info(scalar)->size;
        put('[');
        bool first = true;
        for (uint64_t g = 0; g < count; ++g) {
            const uint8_t* p = base + g * stride;
            for (uint64_t k = 0; k < subcount * uint64_t(parts); ++k) {
                size_t at = out_.size();
                out_.resize(at + 2 + 2 * codec::kNumberBuffer);
                char* c = &out_[at];
                if (!first) {
                    *c++ = ',';
                    *c++ = ' ';
                }
                first = false;
                c += element(scalar, p + k * esize, c);
                out_.resize(size_t(c - out_.data()));
                maybe_flush();
            }
        }
        put(']');
    }

    void write_record_data(const uint8_t* bytes, uint64_t count, uint64_t itemsize,
                           const std::vector<Field>& fields, Block& b) {
        key(b, "data");
        if (fields.empty()) {
            put(" {}");
        } else {
            int saved = depth_;
            Block db = open_value_block(b.col);
            for (const Field& f : fields) {
                key(db, f.name);
                put(' ');
                numeric(f.dtype, bytes + f.offset, count, f.subcount, itemsize);
            }
            depth_ = saved;
        }
        if (count == 0) return;
        // Padding: every byte of an item outside all fields, in item order.
        std::vector<uint8_t> used(size_t(itemsize), 0);
        for (const Field& f : fields) {
            uint64_t size = uint64_t(codec::dtype_info(f.dtype)->size) * f.subcount;
            if (f.offset > itemsize || size > itemsize - f.offset)
                fail(MILO_ERR_INVALID_ARGUMENT, "record field outside the item");
            std::fill(used.begin() + f.offset, used.begin() + f.offset + size, 1);
        }
        std::vector<uint32_t> gaps;
        for (uint64_t i = 0; i < itemsize; ++i)
            if (!used[i]) gaps.push_back(uint32_t(i));
        if (gaps.empty()) return;
        bool nonzero = false;
        for (uint64_t i = 0; i < count && !nonzero; ++i)
            for (uint32_t g : gaps) nonzero = nonzero || bytes[i * itemsize + g] != 0;
        if (!nonzero) return;
        key(b, "padding");
        put(" \"");
        std::vector<uint8_t> stage;
        stage.reserve(3 * 4096);
        for (uint64_t i = 0; i < count; ++i) {
            for (uint32_t g : gaps) {
                stage.push_back(bytes[i * itemsize + g]);
                if (stage.size() == 3 * 4096) {
                    base64(stage.data(), stage.size());
                    stage.clear();
                }
            }
        }
        base64(stage.data(), stage.size());
        put('"');
    }

    const milo_api* api_;
    const milo_doc* doc_;
    const milo_encode_context* ctx_;
    int indent_;
    int seq_step_;
    int depth_ = 0;
    std::string out_;
    std::vector<PathSeg> path_;
    codec::SharedNodes shared_;
};

}  // namespace

milo_status encode(const milo_api* api, const milo_doc* doc, const milo_encode_context* ctx,
                   milo_error* error) {
    if (api == nullptr || doc == nullptr || ctx == nullptr || ctx->write == nullptr)
        return MILO_ERR_INVALID_ARGUMENT;
    try {
        Encoder enc(api, doc, ctx);
        enc.run();
        return MILO_OK;
    } catch (const EncodeError& e) {
        return api->error_set(error, e.status, e.message.c_str());
    } catch (const std::bad_alloc&) {
        return api->error_set(error, MILO_ERR_OUT_OF_MEMORY, "yaml encoder: out of memory");
    } catch (const std::exception& e) {
        return api->error_set(error, MILO_ERR_INTERNAL, e.what());
    }
}

}  // namespace yaml
}  // namespace milo
