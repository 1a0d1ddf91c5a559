// YAML decoder: strict reader of the subset of docs/format.md §5.
//
// Input the encoder wrote is read by fast_tree() (yaml_fast_tree.cpp) into the tree directly.
// Anything else takes three stages: (1) a lexical pre-scan (yaml_prescan.cpp) bounds what
// yaml-cpp will buffer; (2) yaml-cpp's event parser (never YAML::Load: aliases would expand)
// fills the same tree, rejecting anchors, aliases, tags and extra documents; (3) the tree is
// turned into document values by the code below, shared by both readers. The tree lets
// tagged members come in any order; every tensor size is checked against the elements
// actually present before anything is allocated.
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <istream>
#include <streambuf>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "milo/milo_codec.hpp"
#include "yaml_format_internal.hpp"
#include "yaml_tree.hpp"

namespace milo {
namespace yaml {
namespace {

namespace codec = milo::codec;

// Error at a source place; converted to a message with the input name and document path.
struct DecodeError {
    milo_status status;
    int32_t line;  // 0-based; -1 when unknown
    int32_t col;
    std::string message;
};

struct MemBuf : std::streambuf {
    MemBuf(const char* data, size_t size) {
        char* p = const_cast<char*>(data);
        setg(p, p, p + size);
    }
};

/* ---- stage 2: events into a tree ------------------------------------------------------- */

class TreeBuilder : public YAML::EventHandler {
public:
    TreeBuilder(const char* data, size_t size, Tree& tree)
        : nodes(tree.nodes), kids(tree.kids), root(tree.root), arena_(tree.arena), data_(data),
          size_(size) {
        arena_.reserve(size);
    }

    std::vector<Node>& nodes;
    std::vector<uint32_t>& kids;
    size_t& root;
    std::string& arena_;

    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}

    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        check_anchor(mark, anchor);
        // yaml-cpp reports "~", "Null", "NULL" and an absent value the same way; only the
        // literal "null" is in the subset.
        size_t p = size_t(mark.pos);
        bool literal = mark.pos >= 0 && p + 4 <= size_ && std::memcmp(data_ + p, "null", 4) == 0 &&
                       (p + 4 == size_ || !is_word(data_[p + 4]));
        if (!literal)
            throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                              "missing value (write null explicitly)"};
        add_scalar(mark, kPlain, "null");
    }

    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
        throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                          "aliases are not allowed in Milo YAML"};
    }

    void OnAnchor(const YAML::Mark& mark, const std::string&) override {
        throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                          "anchors are not allowed in Milo YAML"};
    }

    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        check_anchor(mark, anchor);
        NodeType t;
        if (tag == "?") {
            t = kPlain;
        } else if (tag == "!" && mark.pos >= 0 && size_t(mark.pos) < size_ &&
                   (data_[mark.pos] == '"' || data_[mark.pos] == '\'')) {
            t = kQuoted;
        } else {
            throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                              "tags are not allowed in Milo YAML"};
        }
        add_scalar(mark, t, value);
    }

    void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, tag, anchor, kSeq);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, tag, anchor, kMap);
    }
    void OnMapEnd() override { close(); }

private:
    static bool is_word(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == '+' || c == '-';
    }

    void check_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) {
        if (anchor != YAML::NullAnchor)
            throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                              "anchors are not allowed in Milo YAML"};
    }

    void attach(size_t index) {
        if (stack_.empty()) {
            root = index;
        } else {
            pending_.push_back(uint32_t(index));
        }
    }

    void add_scalar(const YAML::Mark& mark, NodeType t, const std::string& value) {
        size_t at = arena_.size();
        arena_.append(value);
        nodes.push_back(
            Node{t, kTextInArena, mark.line, mark.column, uint32_t(at), uint32_t(value.size())});
        attach(nodes.size() - 1);
    }

    void open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
              NodeType t) {
        check_anchor(mark, anchor);
        if (tag != "?")
            throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                              "tags are not allowed in Milo YAML"};
        if (stack_.size() >= size_t(kMaxYamlNesting))
            throw DecodeError{MILO_ERR_LIMIT, mark.line, mark.column,
                              "YAML nesting deeper than " + std::to_string(kMaxYamlNesting) +
                                  " levels"};
        nodes.push_back(Node{t, kTextInArena, mark.line, mark.column, 0, 0});
        attach(nodes.size() - 1);
        stack_.push_back({nodes.size() - 1, pending_.size()});
    }

    void close() {
        Frame f = stack_.back();
        stack_.pop_back();
        Node& node = nodes[f.node];
        node.a = uint32_t(kids.size());
        node.n = uint32_t(pending_.size() - f.first);
        kids.insert(kids.end(), pending_.begin() + long(f.first), pending_.end());
        pending_.resize(f.first);
    }

    struct Frame {
        size_t node;
        size_t first;
    };
    const char* data_;
    size_t size_;
    std::vector<Frame> stack_;
    std::vector<uint32_t> pending_;
};

// Handler for whatever follows the first document: any event means a second document.
class RejectAll : public YAML::EventHandler {
public:
    void OnDocumentStart(const YAML::Mark& mark) override {
        throw DecodeError{MILO_ERR_CORRUPT, mark.line, mark.column,
                          "a second YAML document; a Milo file holds exactly one"};
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
};

/* ---- stage 3: tree into values ---------------------------------------------------------- */

struct PathSeg {
    std::string_view key;  // empty data(): index
    size_t index;
};

class ValueBuilder {
public:
    ValueBuilder(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx,
                 Tree& tree, size_t input_size)
        : api_(api), doc_(doc), ctx_(ctx), t_(tree), input_size_(input_size) {
        max_depth_ = ctx->max_depth ? ctx->max_depth : codec::kDefaultMaxDepth;
    }

    std::string path_text() const {
        std::string p;
        for (const PathSeg& s : path_) {
            p += '/';
            if (s.key.data() != nullptr) p.append(s.key.data(), s.key.size());
            else p += std::to_string(s.index);
        }
        return p.empty() ? "/" : p;
    }

    void run() {
        if (t_.root == SIZE_MAX) fail(-1, "empty input: expected a Milo document");
        size_t top = t_.root;
        if (node(top).type != kMap) fail(top, "expected a mapping with the members milo and root");
        std::vector<Pair> members = pairs(top, "document");
        size_t header = SIZE_MAX, root = SIZE_MAX;
        for (const Pair& p : members) {
            if (p.key == "milo") header = p.value;
            else if (p.key == "root") root = p.value;
            else fail(p.key_node, "unknown top-level member \"" + std::string(p.key) +
                                      "\"; expected milo and root");
        }
        if (header == SIZE_MAX) fail(top, "missing the header member milo");
        path_.push_back({"milo", 0});
        read_header(header);
        path_.pop_back();
        if (root != SIZE_MAX) {
            path_.push_back({"root", 0});
            milo_value* v = value(root, 1);
            path_.pop_back();
            call(api_->doc_set_root(doc_, v, &err_), root);
        }
    }

private:
    struct Pair {
        std::string_view key;
        size_t key_node;
        size_t value;
    };

    const Node& node(size_t i) const { return t_.nodes[i]; }
    std::string_view text(size_t i) const {
        const Node& n = node(i);
        const char* base = n.flags & kTextInInput ? t_.input : t_.arena.data();
        return std::string_view(base + n.a, n.n);
    }
    size_t kid(size_t i, size_t k) {
        if (node(i).flags & kPacked) expand(i);
        return t_.kids[node(i).a + k];
    }

    // Walks the words of a packed sequence (validated by fast_tree: "[w, w, ...]").
    struct PackedCursor {
        const char* p;
        std::string_view next() {
            while (*p == ' ' || *p == ',' || *p == '[') ++p;
            const char* s = p;
            while (is_plain_char(*p)) ++p;
            return std::string_view(s, size_t(p - s));
        }
    };

    // Gives a packed sequence one node per word, for uses other than tensor data.
    void expand(size_t i) {
        Node seq = node(i);
        uint32_t first = uint32_t(t_.kids.size());
        PackedCursor c{t_.input + seq.a};
        for (uint32_t k = 0; k < seq.n; ++k) {
            std::string_view w = c.next();
            uint32_t off = uint32_t(w.data() - t_.input);
            t_.nodes.push_back(Node{kPlain, kTextInInput, seq.line,
                                    seq.col + int32_t(off - seq.a), off, uint32_t(w.size())});
            t_.kids.push_back(uint32_t(t_.nodes.size() - 1));
        }
        t_.nodes[i].a = first;
        t_.nodes[i].flags = 0;
    }

    // Element `k` of packed sequence `seq` at `w` failed: the error names its place.
    [[noreturn]] void fail_packed(size_t seq, std::string_view w, size_t k, const std::string& msg) {
        const Node& n = node(seq);
        path_.push_back({{}, k});
        std::string m = msg + " (at " + path_text() + ")";
        throw DecodeError{MILO_ERR_CORRUPT, n.line,
                          n.col + int32_t(size_t(w.data() - t_.input) - n.a), m};
    }

    // Tells the host that input before `at` is done with, every few MB.
    void maybe_consumed(size_t at) {
        if (ctx_->consumed == nullptr || at < last_consumed_ + (size_t(4) << 20)) return;
        ctx_->consumed(ctx_->context, at);
        last_consumed_ = at;
    }

    // Numeric elements of a packed sequence into dst, dst + stride, ...
    void packed_elements(size_t seq, int32_t dtype, uint8_t* dst, size_t stride, size_t group,
                         size_t group_stride, bool release) {
        PackedCursor c{t_.input + node(seq).a};
        std::string err;
        size_t n = node(seq).n;
        if (group == 1 && group_stride == stride &&
            (dtype == MILO_DTYPE_FLOAT64 || dtype == MILO_DTYPE_FLOAT32)) {
            // The common case of large readable tensors, without the per-element dispatch.
            for (size_t k = 0; k < n; ++k) {
                std::string_view w = c.next();
                bool ok = codec::is_json_number(w, nullptr);
                if (ok && dtype == MILO_DTYPE_FLOAT64) {
                    double v = 0;
                    ok = codec::parse_double(w, &v);
                    std::memcpy(dst + k * 8, &v, 8);
                } else if (ok) {
                    float v = 0;
                    ok = codec::parse_float(w, &v);
                    std::memcpy(dst + k * 4, &v, 4);
                }
                if (!ok) {
                    scalar_element(dtype, true, w, dst, &err);
                    fail_packed(seq, w, k, err);
                }
                if (release && (k & 0xffff) == 0) maybe_consumed(size_t(w.data() - t_.input));
            }
            return;
        }
        uint8_t* row = dst;
        size_t j = 0;
        for (size_t k = 0; k < n; ++k) {
            std::string_view w = c.next();
            if (!scalar_element(dtype, true, w, row + j * stride, &err)) fail_packed(seq, w, k, err);
            if (++j == group) {
                j = 0;
                row += group_stride;
            }
            if (release && (k & 0xffff) == 0) maybe_consumed(size_t(w.data() - t_.input));
        }
    }

    [[noreturn]] void fail(size_t at, const std::string& msg, milo_status st = MILO_ERR_CORRUPT) {
        std::string m = msg;
        if (!path_.empty()) m += " (at " + path_text() + ")";
        if (at == SIZE_MAX) throw DecodeError{st, -1, -1, m};
        throw DecodeError{st, node(at).line, node(at).col, m};
    }

    // Runs an API call; a failure becomes an error at `at` with the library's message.
    void call(milo_status st, size_t at) {
        if (st == MILO_OK) return;
        milo_status code = st == MILO_ERR_OUT_OF_MEMORY || st == MILO_ERR_LIMIT ? st
                                                                               : MILO_ERR_CORRUPT;
        std::string msg = err_.message[0] ? err_.message : api_->status_name(st);
        err_ = MILO_ERROR_INIT;
        fail(at, msg, code);
    }

    // Members of a mapping whose keys must all be quoted strings without duplicates.
    std::vector<Pair> pairs(size_t m, const char* what) {
        const Node& n = node(m);
        std::vector<Pair> out;
        out.reserve(n.n / 2);
        std::unordered_set<std::string_view> seen;
        for (size_t k = 0; k + 1 < n.n; k += 2) {
            size_t kn = kid(m, k);
            if (node(kn).type != kQuoted)
                fail(kn, std::string("keys of ") + what + " must be quoted strings");
            std::string_view key = text(kn);
            if (!seen.insert(key).second) fail(kn, "duplicate key \"" + std::string(key) + "\"");
            out.push_back({key, kn, kid(m, k + 1)});
        }
        return out;
    }

    std::string cstring(size_t i, const char* what) {
        if (node(i).type != kQuoted) fail(i, std::string("expected a quoted string for ") + what);
        std::string_view s = text(i);
        if (s.find('\0') != std::string_view::npos)
            fail(i, std::string(what) + " must not contain NUL characters");
        check_utf8(i, s);
        return std::string(s);
    }

    void check_utf8(size_t i, std::string_view s) {
        size_t bad = codec::utf8_invalid_at(s.data(), s.size());
        if (bad != SIZE_MAX)
            fail(i, "string is not valid UTF-8 (byte " + std::to_string(bad) +
                        " of the string; check \\u escapes)");
    }

    uint64_t uinteger(size_t i, const char* what) {
        std::string_view s = text(i);
        bool integer = false;
        uint64_t v = 0;
        if (node(i).type != kPlain || !codec::is_json_number(s, &integer) || !integer ||
            s[0] == '-' || std::from_chars(s.data(), s.data() + s.size(), v).ec != std::errc())
            fail(i, std::string("expected a non-negative integer for ") + what);
        return v;
    }

    /* ---- header ---------------------------------------------------------------------- */

    void set_header(const char* key, const std::string& v, size_t at) {
        call(api_->doc_set_header(doc_, key, v.c_str(), &err_), at);
    }

    void header_group(size_t m, const char* group,
                      std::initializer_list<std::pair<const char*, const char*>> fields,
                      const char* integer_member = nullptr) {
        if (node(m).type != kMap) fail(m, std::string("expected a mapping for ") + group);
        for (const Pair& p : pairs(m, group)) {
            const char* key = nullptr;
            for (const auto& f : fields)
                if (p.key == f.first) key = f.second;
            if (key == nullptr)
                fail(p.key_node, "unknown member \"" + std::string(p.key) + "\" in " + group);
            if (integer_member != nullptr && p.key == integer_member) {
                set_header(key, std::to_string(uinteger(p.value, key)), p.value);
            } else {
                set_header(key, cstring(p.value, key), p.value);
            }
        }
    }

    void read_header(size_t h) {
        if (node(h).type != kMap) fail(h, "expected a mapping for the header milo");
        // The host pre-fills "producer" for new documents; the file says who produced it.
        api_->doc_set_header(doc_, "producer.name", nullptr, nullptr);
        api_->doc_set_header(doc_, "producer.version", nullptr, nullptr);
        bool version = false;
        for (const Pair& p : pairs(h, "the header")) {
            path_.push_back({p.key, 0});
            if (p.key == "format_version") {
                uint64_t v = uinteger(p.value, "format_version");
                if (v > MILO_FORMAT_VERSION)
                    fail(p.value, "format_version " + std::to_string(v) +
                                      " is newer than this reader (" +
                                      std::to_string(MILO_FORMAT_VERSION) + ")",
                         MILO_ERR_UNSUPPORTED);
                if (v == 0) fail(p.value, "format_version must be at least 1");
                set_header("format_version", std::to_string(v), p.value);
                version = true;
            } else if (p.key == "producer") {
                header_group(p.value, "producer", {{"name", "producer.name"}, {"version", "producer.version"}});
            } else if (p.key == "framework") {
                header_group(p.value, "framework", {{"name", "framework.name"}, {"version", "framework.version"}});
            } else if (p.key == "transporter") {
                header_group(p.value, "transporter",
                             {{"id", "transporter.id"}, {"revision", "transporter.revision"}},
                             "revision");
            } else if (p.key == "type") {
                set_header("type", cstring(p.value, "type"), p.value);
            } else if (p.key == "source") {
                header_group(p.value, "source",
                             {{"kind", "source.kind"}, {"version", "source.version"},
                              {"sha256", "source.sha256"}});
            } else if (p.key == "external") {
                header_group(p.value, "external", {{"file", "external.file"}, {"sha256", "external.sha256"}});
            } else if (p.key == "trust") {
                read_trust(p.value);
            } else if (p.key == "metadata") {
                if (node(p.value).type != kMap) fail(p.value, "expected a mapping for metadata");
                for (const Pair& m : pairs(p.value, "metadata")) {
                    std::string k = cstring(m.key_node, "a metadata key");
                    std::string v = cstring(m.value, "a metadata value");
                    call(api_->doc_set_metadata(doc_, k.c_str(), v.c_str(), &err_), m.value);
                }
            } else {
                fail(p.key_node, "unknown header member \"" + std::string(p.key) + "\"");
            }
            path_.pop_back();
        }
        if (!version) fail(h, "the header has no format_version");
    }

    void read_trust(size_t s) {
        if (node(s).type != kSeq) fail(s, "expected a sequence for trust");
        for (size_t i = 0; i < node(s).n; ++i) {
            size_t e = kid(s, i);
            path_.push_back({{}, i});
            if (node(e).type != kMap) fail(e, "expected a mapping {name, usage, level}");
            std::string name, usage, level;
            bool has[3] = {false, false, false};
            for (const Pair& p : pairs(e, "a trust entry")) {
                if (p.key == "name") name = cstring(p.value, "name"), has[0] = true;
                else if (p.key == "usage") usage = cstring(p.value, "usage"), has[1] = true;
                else if (p.key == "level") level = cstring(p.value, "level"), has[2] = true;
                else fail(p.key_node, "unknown member \"" + std::string(p.key) + "\" in a trust entry");
            }
            if (!has[0] || !has[1] || !has[2]) fail(e, "a trust entry needs name, usage and level");
            int32_t lv;
            if (level == "trusted") lv = MILO_TRUST_TRUSTED;
            else if (level == "untrusted") lv = MILO_TRUST_UNTRUSTED;
            else if (level == "dangerous") lv = MILO_TRUST_DANGEROUS;
            else fail(e, "trust level must be trusted, untrusted or dangerous, not \"" + level + "\"");
            call(api_->doc_set_trust(doc_, name.c_str(), usage.c_str(), lv, &err_), e);
            path_.pop_back();
        }
    }

    /* ---- values ---------------------------------------------------------------------- */

    milo_value* value(size_t i, uint32_t depth) {
        if (depth > max_depth_)
            fail(i, "nesting deeper than " + std::to_string(max_depth_) + " levels", MILO_ERR_LIMIT);
        const Node& n = node(i);
        milo_value* out = nullptr;
        switch (n.type) {
            case kQuoted: {
                std::string_view s = text(i);
                check_utf8(i, s);
                call(api_->value_create_string(doc_, s.data(), s.size(), &out, &err_), i);
                return out;
            }
            case kPlain: return plain(i);
            case kSeq: {
                call(api_->value_create_container(doc_, MILO_KIND_LIST, &out, &err_), i);
                fill_items(out, i, depth);
                return out;
            }
            case kMap: break;
        }
        if (n.n == 0) {
            call(api_->value_create_container(doc_, MILO_KIND_MAP, &out, &err_), i);
            return out;
        }
        size_t k0 = kid(i, 0);
        std::string_view first = node(k0).type == kQuoted ? text(k0) : std::string_view();
        if (first.size() >= 1 && first[0] == '$' && (first.size() < 2 || first[1] != '$'))
            return tagged(i, depth);
        call(api_->value_create_container(doc_, MILO_KIND_MAP, &out, &err_), i);
        fill_plain_map(out, i, depth);
        return out;
    }

    milo_value* plain(size_t i) {
        std::string_view s = text(i);
        milo_value* out = nullptr;
        if (s == "null") {
            call(api_->value_create_null(doc_, &out, &err_), i);
            return out;
        }
        if (s == "true" || s == "false") {
            call(api_->value_create_bool(doc_, s == "true", &out, &err_), i);
            return out;
        }
        bool integer = false;
        if (!codec::is_json_number(s, &integer))
            fail(i, "plain scalar \"" + std::string(s.substr(0, 40)) +
                        "\" is not null, true, false or a JSON number; quote strings");
        if (integer) {
            int64_t v = 0;
            auto r = std::from_chars(s.data(), s.data() + s.size(), v);
            if (r.ec == std::errc() && r.ptr == s.data() + s.size()) {
                call(api_->value_create_int(doc_, v, &out, &err_), i);
            } else {
                call(api_->value_create_int_text(doc_, s.data(), s.size(), &out, &err_), i);
            }
            return out;
        }
        double d = 0;
        if (!codec::parse_double(s, &d)) fail(i, "number out of the range of a float64");
        call(api_->value_create_float(doc_, d, &out, &err_), i);
        return out;
    }

    void fill_items(milo_value* c, size_t seq, uint32_t depth) {
        for (size_t k = 0; k < node(seq).n; ++k) {
            path_.push_back({{}, k});
            milo_value* item = value(kid(seq, k), depth + 1);
            call(api_->value_append(c, item, &err_), kid(seq, k));
            path_.pop_back();
        }
    }

    void fill_plain_map(milo_value* map, size_t m, uint32_t depth) {
        std::string unescaped;
        for (const Pair& p : pairs(m, "a map")) {
            std::string_view key = p.key;
            if (!key.empty() && key[0] == '$') {
                if (key.size() < 2 || key[1] != '$')
                    fail(p.key_node, "key \"" + std::string(key) +
                                         "\" begins with a single '$' in a plain map "
                                         "(write \"$" + std::string(key) + "\" or use a tag first)");
                key.remove_prefix(1);
            }
            check_utf8(p.key_node, key);
            milo_value* k = nullptr;
            call(api_->value_create_string(doc_, key.data(), key.size(), &k, &err_), p.key_node);
            path_.push_back({key, 0});
            milo_value* v = value(p.value, depth + 1);
            path_.pop_back();
            call(api_->value_append_pair(map, k, v, &err_), p.value);
        }
    }

    void define_id(size_t at, uint64_t id, milo_value* v) {
        if (id == 0) return;
        if (!ids_.emplace(id, v).second) fail(at, "$id " + std::to_string(id) + " defined twice");
    }

    milo_value* tagged(size_t m, uint32_t depth) {
        std::vector<Pair> ps = pairs(m, "a tagged form");
        static const char* const tags[] = {"$int",  "$float", "$bytes", "$tuple", "$set",
                                           "$dict", "$tensor", "$object", "$global", "$list",
                                           "$map", "$ref"};
        const Pair* tag = nullptr;
        size_t id_node = SIZE_MAX, args = SIZE_MAX, state = SIZE_MAX;
        for (const Pair& p : ps) {
            if (p.key == "$id") {
                id_node = p.value;
            } else if (p.key == "args") {
                args = p.value;
            } else if (p.key == "state") {
                state = p.value;
            } else if (!p.key.empty() && p.key[0] == '$') {
                bool known = false;
                for (const char* t : tags) known = known || p.key == t;
                if (!known) fail(p.key_node, "unknown tag \"" + std::string(p.key) + "\"");
                if (tag != nullptr)
                    fail(p.key_node, "two tags \"" + std::string(tag->key) + "\" and \"" +
                                         std::string(p.key) + "\" in one mapping");
                tag = &p;
            } else {
                fail(p.key_node, "member \"" + std::string(p.key) +
                                     "\" mixed with a tag (plain keys come first or are escaped)");
            }
        }
        if (tag == nullptr) fail(m, "\"$id\" without a tag such as $list, $map or $object");
        std::string_view t = tag->key;
        bool is_object = t == "$object";
        bool has_identity = t == "$list" || t == "$tuple" || t == "$set" || t == "$map" ||
                            t == "$dict" || t == "$tensor" || is_object;
        if (!is_object && (args != SIZE_MAX || state != SIZE_MAX))
            fail(args != SIZE_MAX ? args : state,
                 "args/state are members of $object only, not of " + std::string(t));
        if (!has_identity && id_node != SIZE_MAX)
            fail(id_node, std::string(t) + " values have no identity and take no $id");
        uint64_t id = 0;
        if (id_node != SIZE_MAX) {
            id = uinteger(id_node, "$id");
            if (id == 0) fail(id_node, "$id must be at least 1");
        }
        size_t v = tag->value;
        milo_value* out = nullptr;
        if (t == "$ref") {
            uint64_t ref = uinteger(v, "$ref");
            auto it = ids_.find(ref);
            if (it == ids_.end())
                fail(v, "$ref " + std::to_string(ref) + " names no earlier $id");
            return it->second;
        }
        if (t == "$int") {
            std::string s = cstring(v, "$int");
            call(api_->value_create_int_text(doc_, s.data(), s.size(), &out, &err_), v);
            return out;
        }
        if (t == "$float") {
            uint64_t bits = 0;
            if (node(v).type != kQuoted || !codec::parse_nonfinite(text(v), 8, false, &bits))
                fail(v, "$float must be \"nan\", \"-nan\", \"inf\", \"-inf\" or a 16-digit "
                        "hex NaN pattern such as \"0x7ff0000000000001\"");
            call(api_->value_create_float(doc_, codec::bits_to_double(bits), &out, &err_), v);
            return out;
        }
        if (t == "$bytes") {
            std::vector<uint8_t> bytes = base64(v, "$bytes", SIZE_MAX);
            call(api_->value_create_bytes(doc_, bytes.data(), bytes.size(), &out, &err_), v);
            return out;
        }
        if (t == "$global") {
            std::string s = cstring(v, "$global");
            call(api_->value_create_global(doc_, s.c_str(), &out, &err_), v);
            return out;
        }
        if (t == "$list" || t == "$tuple" || t == "$set") {
            if (node(v).type != kSeq) fail(v, "expected a sequence after " + std::string(t));
            int32_t kind = t == "$list" ? MILO_KIND_LIST : t == "$tuple" ? MILO_KIND_TUPLE : MILO_KIND_SET;
            call(api_->value_create_container(doc_, kind, &out, &err_), m);
            define_id(id_node, id, out);
            fill_items(out, v, depth);
            return out;
        }
        if (t == "$map") {
            if (node(v).type != kMap) fail(v, "expected a mapping after $map");
            call(api_->value_create_container(doc_, MILO_KIND_MAP, &out, &err_), m);
            define_id(id_node, id, out);
            fill_plain_map(out, v, depth);
            return out;
        }
        if (t == "$dict") {
            if (node(v).type != kSeq) fail(v, "expected a sequence of [key, value] after $dict");
            call(api_->value_create_container(doc_, MILO_KIND_MAP, &out, &err_), m);
            define_id(id_node, id, out);
            for (size_t k = 0; k < node(v).n; ++k) {
                size_t pair = kid(v, k);
                path_.push_back({{}, k});
                if (node(pair).type != kSeq || node(pair).n != 2)
                    fail(pair, "expected a [key, value] pair");
                milo_value* key = value(kid(pair, 0), depth + 1);
                milo_value* val = value(kid(pair, 1), depth + 1);
                call(api_->value_append_pair(out, key, val, &err_), pair);
                path_.pop_back();
            }
            return out;
        }
        if (is_object) {
            std::string type = cstring(v, "$object");
            call(api_->value_create_object(doc_, type.c_str(), &out, &err_), v);
            define_id(id_node, id, out);
            if (args != SIZE_MAX) {
                path_.push_back({"args", 0});
                milo_value* a = value(args, depth + 1);
                call(api_->value_set_args(out, a, &err_), args);
                path_.pop_back();
            }
            if (state != SIZE_MAX) {
                path_.push_back({"state", 0});
                milo_value* s = value(state, depth + 1);
                call(api_->value_set_state(out, s, &err_), state);
                path_.pop_back();
            }
            return out;
        }
        // $tensor
        return tensor(v, id_node, id, depth);
    }

    // Decoded size of base64 text; `expected` (SIZE_MAX: any) is checked before allocating.
    size_t base64_size(size_t i, const char* what, size_t expected) {
        if (node(i).type != kQuoted) fail(i, std::string("expected a base64 string for ") + what);
        std::string_view s = text(i);
        size_t n = codec::base64_decoded_size(s.data(), s.size());
        if (n == SIZE_MAX)
            fail(i, std::string("bad base64 in ") + what + ": length " + std::to_string(s.size()) +
                        " is not a multiple of 4");
        if (expected != SIZE_MAX && n != expected)
            fail(i, std::string(what) + " holds " + std::to_string(n) + " bytes, expected " +
                        std::to_string(expected));
        return n;
    }

    std::vector<uint8_t> base64(size_t i, const char* what, size_t expected) {
        std::vector<uint8_t> out(base64_size(i, what, expected));
        base64_into(i, what, out.data());
        return out;
    }

    static bool is_base64_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
    }

    // Decodes checked base64 text into `out` in chunks, releasing input text behind it. The
    // result and the offset of a bad character are those of one base64_decode call.
    void base64_into(size_t i, const char* what, uint8_t* out) {
        std::string_view s = text(i);
        bool release = (node(i).flags & kTextInInput) != 0;
        constexpr size_t kChunk = size_t(4) << 20;  // characters, a multiple of 4
        size_t bad = SIZE_MAX;
        for (size_t at = 0; at < s.size() && bad == SIZE_MAX; at += kChunk) {
            size_t len = std::min(kChunk, s.size() - at);
            size_t b = codec::base64_decode(s.data() + at, len, out + at / 4 * 3);
            if (at + len < s.size()) {
                // base64_decode took the chunk's last quad as the end of the text; padding
                // there is a bad character in the middle.
                const char* q = s.data() + at + len - 4;
                if (b == SIZE_MAX || b >= len - 4) {
                    b = SIZE_MAX;
                    for (size_t k = 0; k < 4 && b == SIZE_MAX; ++k)
                        if (!is_base64_char(q[k])) b = len - 4 + k;
                }
            }
            if (b != SIZE_MAX) bad = at + b;
            if (release) maybe_consumed(size_t(s.data() + at + len - t_.input));
        }
        if (bad != SIZE_MAX)
            fail(i, std::string("bad base64 in ") + what + " at character " + std::to_string(bad));
    }

    /* ---- tensors --------------------------------------------------------------------- */

    struct Field {
        std::string name;
        int32_t dtype;
        uint64_t offset;
        std::vector<int64_t> shape;
        uint64_t subcount;
        size_t at;
    };

    std::vector<int64_t> shape_of(size_t s, const char* what) {
        if (node(s).type != kSeq) fail(s, std::string("expected a sequence of integers for ") + what);
        if (node(s).n > MILO_MAX_NDIM)
            fail(s, std::string(what) + " has more than " + std::to_string(MILO_MAX_NDIM) + " dimensions");
        std::vector<int64_t> out;
        for (size_t k = 0; k < node(s).n; ++k) {
            uint64_t d = uinteger(kid(s, k), what);
            if (d > uint64_t(INT64_MAX)) fail(kid(s, k), std::string(what) + " dimension too large");
            out.push_back(int64_t(d));
        }
        return out;
    }

    uint64_t product(const std::vector<int64_t>& shape, size_t at) {
        uint64_t count = 1;
        bool zero = false, overflow = false;
        for (int64_t d : shape) {
            if (d == 0) zero = true;
            if (__builtin_mul_overflow(count, uint64_t(d), &count)) overflow = true;
        }
        if (zero) return 0;
        if (overflow) fail(at, "tensor element count overflows", MILO_ERR_LIMIT);
        return count;
    }

    std::vector<Field> record_fields(size_t d, uint64_t* itemsize) {
        size_t fields_node = SIZE_MAX;
        bool has_size = false;
        for (const Pair& p : pairs(d, "a record dtype")) {
            if (p.key == "itemsize") *itemsize = uinteger(p.value, "itemsize"), has_size = true;
            else if (p.key == "fields") fields_node = p.value;
            else fail(p.key_node, "unknown member \"" + std::string(p.key) + "\" in a record dtype");
        }
        if (!has_size || fields_node == SIZE_MAX) fail(d, "a record dtype needs itemsize and fields");
        if (node(fields_node).type != kSeq) fail(fields_node, "expected a sequence of fields");
        std::vector<Field> out;
        for (size_t k = 0; k < node(fields_node).n; ++k) {
            size_t f = kid(fields_node, k);
            if (node(f).type != kMap) fail(f, "expected a field {name, dtype, offset, shape}");
            Field fd{};
            fd.at = f;
            bool has[3] = {false, false, false};
            for (const Pair& p : pairs(f, "a record field")) {
                if (p.key == "name") {
                    fd.name = cstring(p.value, "a field name"), has[0] = true;
                } else if (p.key == "dtype") {
                    if (node(p.value).type != kQuoted) fail(p.value, "expected a dtype name");
                    fd.dtype = codec::dtype_from_name(text(p.value));
                    if (!codec::dtype_is_numeric(fd.dtype))
                        fail(p.value, "record fields need a numeric dtype, not \"" +
                                          std::string(text(p.value)) + "\"");
                    has[1] = true;
                } else if (p.key == "offset") {
                    fd.offset = uinteger(p.value, "offset"), has[2] = true;
                } else if (p.key == "shape") {
                    fd.shape = shape_of(p.value, "a field shape");
                } else {
                    fail(p.key_node, "unknown member \"" + std::string(p.key) + "\" in a record field");
                }
            }
            if (!has[0] || !has[1] || !has[2]) fail(f, "a record field needs name, dtype and offset");
            fd.subcount = product(fd.shape, f);
            out.push_back(std::move(fd));
        }
        return out;
    }

    milo_value* tensor(size_t body, size_t id_node, uint64_t id, uint32_t depth) {
        if (node(body).type != kMap) fail(body, "expected a mapping after $tensor");
        size_t dtype_n = SIZE_MAX, shape_n = SIZE_MAX, data_n = SIZE_MAX, b64_n = SIZE_MAX,
               ext_n = SIZE_MAX, pad_n = SIZE_MAX;
        for (const Pair& p : pairs(body, "a tensor")) {
            if (p.key == "dtype") dtype_n = p.value;
            else if (p.key == "shape") shape_n = p.value;
            else if (p.key == "data") data_n = p.value;
            else if (p.key == "base64") b64_n = p.value;
            else if (p.key == "external") ext_n = p.value;
            else if (p.key == "padding") pad_n = p.value;
            else fail(p.key_node, "unknown tensor member \"" + std::string(p.key) + "\"");
        }
        if (dtype_n == SIZE_MAX || shape_n == SIZE_MAX) fail(body, "a tensor needs dtype and shape");
        if ((data_n != SIZE_MAX) + (b64_n != SIZE_MAX) + (ext_n != SIZE_MAX) != 1)
            fail(body, "a tensor needs exactly one of data, base64 and external");
        int32_t dtype = 0;
        uint64_t itemsize = 0;
        std::vector<Field> fields;
        if (node(dtype_n).type == kMap) {
            dtype = MILO_DTYPE_RECORD;
            fields = record_fields(dtype_n, &itemsize);
        } else {
            if (node(dtype_n).type != kQuoted) fail(dtype_n, "expected a dtype name or a record dtype");
            dtype = codec::dtype_from_name(text(dtype_n));
            if (dtype == 0) fail(dtype_n, "unknown dtype \"" + std::string(text(dtype_n)) + "\"");
            itemsize = codec::dtype_info(dtype)->size;
        }
        std::vector<int64_t> shape = shape_of(shape_n, "shape");
        uint64_t count = product(shape, shape_n);
        uint64_t nbytes = 0;
        if (itemsize != 0 && __builtin_mul_overflow(count, itemsize, &nbytes))
            fail(shape_n, "tensor size overflows", MILO_ERR_LIMIT);
        if (nbytes > MILO_MAX_TENSOR_BYTES)
            fail(shape_n, "tensor larger than 1 TiB", MILO_ERR_LIMIT);
        if (pad_n != SIZE_MAX && (dtype != MILO_DTYPE_RECORD || data_n == SIZE_MAX))
            fail(pad_n, "padding belongs to readable record tensors only");
        milo_value* out = nullptr;

        if (ext_n != SIZE_MAX) {
            if (!codec::dtype_is_numeric(dtype))
                fail(ext_n, "only numeric tensors can be external");
            std::string name = cstring(ext_n, "external");
            if (ctx_->create_external_tensor == nullptr)
                fail(ext_n, "external tensors are not supported here", MILO_ERR_UNSUPPORTED);
            milo_status st = ctx_->create_external_tensor(ctx_->context, doc_, dtype, shape.data(),
                                                          shape.size(), name.c_str(), &out, &err_);
            if (st != MILO_OK) {
                std::string msg = err_.message[0] ? err_.message : api_->status_name(st);
                err_ = MILO_ERROR_INIT;
                fail(ext_n, msg, st);
            }
            define_id(id_node, id, out);
            return out;
        }
        if (b64_n != SIZE_MAX) {
            if (dtype == MILO_DTYPE_OBJECT || dtype == MILO_DTYPE_STRING)
                fail(b64_n, "object and string tensors have no base64 form");
            size_t n = base64_size(b64_n, "base64", size_t(nbytes));
            out = create(dtype, itemsize, shape, fields, body);
            define_id(id_node, id, out);
            if (n != 0) base64_into(b64_n, "base64", mutable_data(out, body));
            return out;
        }
        path_.push_back({"data", 0});
        if (dtype == MILO_DTYPE_OBJECT || dtype == MILO_DTYPE_STRING) {
            if (node(data_n).type != kSeq) fail(data_n, "expected a sequence of elements");
            if (node(data_n).n != count)
                fail(data_n, "tensor has " + std::to_string(node(data_n).n) + " elements, shape needs " +
                                 std::to_string(count));
            out = create(dtype, itemsize, shape, fields, body);
            define_id(id_node, id, out);
            for (size_t k = 0; k < count; ++k) {
                size_t e = kid(data_n, k);
                path_.push_back({{}, k});
                if (dtype == MILO_DTYPE_STRING) {
                    if (node(e).type != kQuoted) fail(e, "expected a quoted string element");
                    std::string_view s = text(e);
                    check_utf8(e, s);
                    call(api_->value_tensor_set_string(out, k, s.data(), s.size(), &err_), e);
                } else {
                    milo_value* item = value(e, depth + 1);
                    call(api_->value_tensor_set_item(out, k, item, &err_), e);
                }
                path_.pop_back();
            }
        } else if (dtype == MILO_DTYPE_RECORD) {
            out = record_data(data_n, pad_n, itemsize, shape, count, nbytes, fields, body);
            define_id(id_node, id, out);
        } else {
            uint64_t parts = codec::dtype_is_complex(dtype) ? 2 : 1;
            if (node(data_n).type != kSeq) fail(data_n, "expected a sequence of numbers");
            if (node(data_n).n != count * parts)
                fail(data_n, "tensor has " + std::to_string(node(data_n).n) + " numbers, shape " +
                                 "needs " + std::to_string(count * parts));
            out = create(dtype, itemsize, shape, fields, body);
            define_id(id_node, id, out);
            uint8_t* dst = mutable_data(out, body);
            int32_t scalar = dtype == MILO_DTYPE_COMPLEX64 ? MILO_DTYPE_FLOAT32
                             : dtype == MILO_DTYPE_COMPLEX128 ? MILO_DTYPE_FLOAT64 : dtype;
            uint32_t esize = codec::dtype_info(scalar)->size;
            if (node(data_n).flags & kPacked) {
                packed_elements(data_n, scalar, dst, esize, 1, esize, true);
            } else {
                for (size_t k = 0; k < count * parts; ++k)
                    element(scalar, kid(data_n, k), dst + k * esize, k);
            }
        }
        path_.pop_back();
        return out;
    }

    milo_value* create(int32_t dtype, uint64_t itemsize, const std::vector<int64_t>& shape,
                       const std::vector<Field>& fields, size_t at) {
        milo_value* out = nullptr;
        if (dtype == MILO_DTYPE_RECORD) {
            call(api_->value_create_record_tensor(doc_, itemsize, shape.data(), shape.size(), &out,
                                                  &err_), at);
            for (const Field& f : fields)
                call(api_->value_tensor_add_field(out, f.name.c_str(), f.dtype, f.offset,
                                                  f.shape.data(), f.shape.size(), &err_), f.at);
        } else {
            call(api_->value_create_tensor(doc_, dtype, shape.data(), shape.size(), &out, &err_), at);
        }
        return out;
    }

    uint8_t* mutable_data(milo_value* t, size_t at) {
        void* data = nullptr;
        size_t n = 0;
        call(api_->value_tensor_mutable_data(t, &data, &n, &err_), at);
        return static_cast<uint8_t*>(data);
    }

    milo_value* record_data(size_t data_n, size_t pad_n, uint64_t itemsize,
                            const std::vector<int64_t>& shape, uint64_t count, uint64_t nbytes,
                            const std::vector<Field>& fields, size_t body) {
        if (node(data_n).type != kMap) fail(data_n, "expected a mapping of field columns");
        // The text holds only the fields; bound what unused item bytes may cost.
        if (nbytes > 64 * uint64_t(input_size_) + (uint64_t(1) << 20))
            fail(body, "record tensor of " + std::to_string(nbytes) +
                           " bytes is implausibly large for this input", MILO_ERR_LIMIT);
        std::vector<size_t> columns(fields.size(), SIZE_MAX);
        for (const Pair& p : pairs(data_n, "record data")) {
            size_t idx = SIZE_MAX;
            for (size_t k = 0; k < fields.size(); ++k)
                if (fields[k].name == p.key) idx = k;
            if (idx == SIZE_MAX) fail(p.key_node, "data for unknown field \"" + std::string(p.key) + "\"");
            columns[idx] = p.value;
        }
        for (size_t k = 0; k < fields.size(); ++k) {
            if (columns[k] == SIZE_MAX) fail(data_n, "no data for field \"" + fields[k].name + "\"");
            size_t c = columns[k];
            uint64_t want = 0;
            if (node(c).type != kSeq) fail(c, "expected a sequence of numbers");
            uint64_t parts = codec::dtype_is_complex(fields[k].dtype) ? 2 : 1;
            if (__builtin_mul_overflow(count, fields[k].subcount * parts, &want) || node(c).n != want)
                fail(c, "field \"" + fields[k].name + "\" has " + std::to_string(node(c).n) +
                            " numbers, shape needs " + std::to_string(want));
        }
        std::vector<uint8_t> padding;
        std::vector<uint64_t> gaps;
        milo_value* out = create(MILO_DTYPE_RECORD, itemsize, shape, fields, body);
        uint8_t* dst = count ? mutable_data(out, body) : nullptr;
        if (pad_n != SIZE_MAX) {
            std::vector<uint8_t> used(size_t(itemsize), 0);
            for (const Field& f : fields) {
                uint64_t size = codec::dtype_info(f.dtype)->size * f.subcount;
                std::fill(used.begin() + long(f.offset), used.begin() + long(f.offset + size), 1);
            }
            for (uint64_t b = 0; b < itemsize; ++b)
                if (!used[b]) gaps.push_back(b);
            padding = base64(pad_n, "padding", size_t(gaps.size() * count));
        }
        for (size_t k = 0; k < fields.size(); ++k) {
            const Field& f = fields[k];
            int32_t scalar = f.dtype == MILO_DTYPE_COMPLEX64 ? MILO_DTYPE_FLOAT32
                             : f.dtype == MILO_DTYPE_COMPLEX128 ? MILO_DTYPE_FLOAT64 : f.dtype;
            uint32_t esize = codec::dtype_info(scalar)->size;
            uint64_t per = f.subcount * (codec::dtype_is_complex(f.dtype) ? 2 : 1);
            path_.push_back({f.name, 0});
            size_t e = 0;
            if (count != 0 && per != 0 && (node(columns[k]).flags & kPacked)) {
                // Columns are read in field order, not file order: no input is released.
                packed_elements(columns[k], scalar, dst + f.offset, esize, size_t(per),
                                size_t(itemsize), false);
            } else {
                for (uint64_t item = 0; item < count; ++item)
                    for (uint64_t j = 0; j < per; ++j, ++e)
                        element(scalar, kid(columns[k], e),
                                dst + item * itemsize + f.offset + j * esize, e);
            }
            path_.pop_back();
        }
        size_t at = 0;
        for (uint64_t item = 0; item < count && !padding.empty(); ++item)
            for (uint64_t g : gaps) dst[item * itemsize + g] = padding[at++];
        return out;
    }

    template <typename T>
    void store(uint8_t* dst, T v) {
        std::memcpy(dst, &v, sizeof v);
    }

    // One element of a readable tensor into `dst` (little-endian host assumed, as elsewhere).
    void element(int32_t dtype, size_t i, uint8_t* dst, size_t index) {
        const Node& n = node(i);
        path_.push_back({{}, index});
        if (codec::dtype_is_float(dtype) && n.type == kMap) {
            int width = int(codec::dtype_info(dtype)->size);
            bool bf = dtype == MILO_DTYPE_BFLOAT16;
            uint64_t bits = 0;
            if (n.n != 2 || node(kid(i, 0)).type != kQuoted || text(kid(i, 0)) != "$float" ||
                node(kid(i, 1)).type != kQuoted ||
                !codec::parse_nonfinite(text(kid(i, 1)), width, bf, &bits))
                fail(i, std::string("expected a number or {\"$float\": ...} with a ") +
                            std::to_string(width * 2) + "-digit pattern");
            if (width == 2) store(dst, uint16_t(bits));
            else if (width == 4) store(dst, uint32_t(bits));
            else store(dst, bits);
            path_.pop_back();
            return;
        }
        bool plain = n.type == kPlain;
        std::string err;
        if (!scalar_element(dtype, plain, plain ? text(i) : std::string_view(), dst, &err))
            fail(i, err);
        path_.pop_back();
    }

    // A plain scalar (`plain` false: some other node) as one element; false and `err` if not.
    bool scalar_element(int32_t dtype, bool plain, std::string_view s, uint8_t* dst,
                        std::string* err) {
        if (dtype == MILO_DTYPE_BOOL) {
            if (!plain || (s != "true" && s != "false")) return *err = "expected true or false", false;
            *dst = s == "true";
            return true;
        }
        if (codec::dtype_is_float(dtype)) {
            int width = int(codec::dtype_info(dtype)->size);
            bool bf = dtype == MILO_DTYPE_BFLOAT16;
            if (!plain || !codec::is_json_number(s, nullptr)) {
                *err = "expected a number";
                return false;
            }
            if (width == 8) {
                double d = 0;
                if (!codec::parse_double(s, &d)) return *err = "number out of float64 range", false;
                store(dst, d);
            } else {
                float f = 0;
                if (!codec::parse_float(s, &f)) return *err = "number out of float32 range", false;
                if (width == 4) {
                    store(dst, f);
                } else {
                    uint16_t h = 0;
                    bool ok = bf ? codec::float_to_bfloat16_exact(f, &h) : codec::float_to_half_exact(f, &h);
                    if (!ok) {
                        *err = std::string("not exactly a ") + (bf ? "bfloat16" : "float16") + " value";
                        return false;
                    }
                    store(dst, h);
                }
            }
            return true;
        }
        // integers
        bool integer = false;
        if (!plain || !codec::is_json_number(s, &integer) || !integer)
            return *err = "expected an integer", false;
        bool ok = true;
        if (codec::dtype_is_signed(dtype)) {
            int64_t v = 0;
            auto r = std::from_chars(s.data(), s.data() + s.size(), v);
            ok = r.ec == std::errc();
            switch (dtype) {
                case MILO_DTYPE_INT8: ok = ok && v >= INT8_MIN && v <= INT8_MAX; if (ok) store(dst, int8_t(v)); break;
                case MILO_DTYPE_INT16: ok = ok && v >= INT16_MIN && v <= INT16_MAX; if (ok) store(dst, int16_t(v)); break;
                case MILO_DTYPE_INT32: ok = ok && v >= INT32_MIN && v <= INT32_MAX; if (ok) store(dst, int32_t(v)); break;
                default: if (ok) store(dst, v); break;
            }
        } else {
            uint64_t v = 0;
            auto r = std::from_chars(s.data(), s.data() + s.size(), v);
            ok = r.ec == std::errc();
            switch (dtype) {
                case MILO_DTYPE_UINT8: ok = ok && v <= UINT8_MAX; if (ok) store(dst, uint8_t(v)); break;
                case MILO_DTYPE_UINT16: ok = ok && v <= UINT16_MAX; if (ok) store(dst, uint16_t(v)); break;
                case MILO_DTYPE_UINT32: ok = ok && v <= UINT32_MAX; if (ok) store(dst, uint32_t(v)); break;
                default: if (ok) store(dst, v); break;
            }
        }
        if (!ok) {
            *err = std::string("integer out of range for ") + codec::dtype_info(dtype)->name;
            return false;
        }
        return true;
    }

    const milo_api* api_;
    milo_doc* doc_;
    const milo_decode_context* ctx_;
    Tree& t_;
    size_t input_size_;
    uint32_t max_depth_;
    milo_error err_ = MILO_ERROR_INIT;
    size_t last_consumed_ = 0;
    std::vector<PathSeg> path_;
    std::unordered_map<uint64_t, milo_value*> ids_;
};

std::string where(const milo_decode_context* ctx, int32_t line, int32_t col) {
    std::string s = ctx->name ? ctx->name : "<memory>";
    if (line >= 0) s += ":" + std::to_string(line + 1) + ":" + std::to_string(col + 1);
    return s;
}

}  // namespace

milo_status decode(const milo_api* api, milo_doc* doc, const milo_decode_context* ctx,
                   milo_error* error) {
    if (api == nullptr || doc == nullptr || ctx == nullptr || (ctx->data == nullptr && ctx->size))
        return MILO_ERR_INVALID_ARGUMENT;
    const char* data = reinterpret_cast<const char*>(ctx->data);
    size_t size = ctx->size;
    std::string name = ctx->name ? ctx->name : "<memory>";
    auto report = [&](milo_status st, size_t offset, const std::string& msg) {
        size_t line = 0, col = 0;
        line_column(data, size, offset, &line, &col);
        std::string m = name + ":" + std::to_string(line) + ":" + std::to_string(col) +
                        " (byte " + std::to_string(offset) + "): " + msg;
        return api->error_set(error, st, m.c_str());
    };
    // yaml-cpp keeps positions in int.
    if (size > size_t(INT_MAX) - 16)
        return api->error_set(error, MILO_ERR_LIMIT,
                              (name + ": YAML input larger than 2 GiB; use JSON or protobuf").c_str());
    if (size >= 3 && std::memcmp(data, "\xef\xbb\xbf", 3) == 0)
        return report(MILO_ERR_CORRUPT, 0, "byte order mark; Milo YAML is UTF-8 without a BOM");
    // Validate in 4 MB chunks and let the host drop each one: both passes over a large input
    // (this check and the scan) would otherwise keep the whole text resident.
    auto release = [](void* c, size_t offset) {
        auto* dc = static_cast<const milo_decode_context*>(c);
        if (dc->consumed != nullptr) dc->consumed(dc->context, offset);
    };
    for (size_t at = 0; at < size;) {
        size_t end = std::min(size, at + (size_t(4) << 20));
        size_t bad = utf8_invalid_at(data + at, end - at);
        if (bad == SIZE_MAX) {
            at = end;
            release(const_cast<milo_decode_context*>(ctx), at);
        } else if (end < size && bad + 4 > end - at) {
            at += bad;  // a sequence cut by the chunk's end: check it with the next chunk
        } else {
            return report(MILO_ERR_CORRUPT, at + bad, "invalid UTF-8");
        }
    }
    uint32_t max_depth = ctx->max_depth ? ctx->max_depth : codec::kDefaultMaxDepth;
    uint32_t flow_limit = std::min<uint32_t>(uint32_t(kMaxYamlNesting), 3 * max_depth + 8);

    // MILO_YAML_FASTPATH=0 always uses yaml-cpp; =only refuses what the fast reader cannot
    // read (for tests that compare the two readers).
    const char* mode = std::getenv("MILO_YAML_FASTPATH");
    bool fast_allowed = mode == nullptr || std::strcmp(mode, "0") != 0;
    bool fast_only = mode != nullptr && std::strcmp(mode, "only") == 0;
    try {
        Tree tree;
        if (!fast_allowed ||
            !fast_tree(data, size, flow_limit, &tree, release,
                       const_cast<milo_decode_context*>(ctx))) {
            // fast_tree accepts only input the pre-scan accepts, so the scan is needed here only.
            PrescanResult pre = prescan(data, size, flow_limit);
            if (pre.status != MILO_OK) return report(pre.status, pre.offset, pre.message);
            if (fast_only)
                throw DecodeError{MILO_ERR_UNSUPPORTED, -1, -1,
                                  "not in the canonical YAML subset (MILO_YAML_FASTPATH=only)"};
            tree = Tree{};
            tree.input = data;
            tree.input_size = size;
            TreeBuilder builder(data, size, tree);
            MemBuf buf(data, size);
            std::istream in(&buf);
            YAML::Parser parser(in);
            if (!parser.HandleNextDocument(builder))
                throw DecodeError{MILO_ERR_CORRUPT, -1, -1, "empty input: expected a Milo document"};
            RejectAll rest;
            if (parser.HandleNextDocument(rest))
                throw DecodeError{MILO_ERR_CORRUPT, -1, -1, "a second YAML document"};
        }
        ValueBuilder vb(api, doc, ctx, tree, size);
        vb.run();
        return MILO_OK;
    } catch (const DecodeError& e) {
        std::string m = where(ctx, e.line, e.col) + ": " + e.message;
        return api->error_set(error, e.status, m.c_str());
    } catch (const YAML::DeepRecursion& e) {
        std::string m = where(ctx, e.mark.line, e.mark.column) +
                        ": YAML nesting too deep for the YAML parser (" + e.msg + ")";
        return api->error_set(error, MILO_ERR_LIMIT, m.c_str());
    } catch (const YAML::Exception& e) {
        std::string m = where(ctx, e.mark.is_null() ? -1 : e.mark.line,
                              e.mark.is_null() ? -1 : e.mark.column) +
                        ": malformed YAML: " + e.msg;
        return api->error_set(error, MILO_ERR_CORRUPT, m.c_str());
    } catch (const std::bad_alloc&) {
        return api->error_set(error, MILO_ERR_OUT_OF_MEMORY, (name + ": out of memory").c_str());
    } catch (const std::exception& e) {
        return api->error_set(error, MILO_ERR_INTERNAL, (name + ": " + e.what()).c_str());
    }
}

}  // namespace yaml
}  // namespace milo
