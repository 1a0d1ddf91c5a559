// Fast reader of the canonical YAML subset that yaml_encode.cpp writes.
//
// Why: yaml-cpp scans about 6 MB/s and keeps a node and a string per scalar, so large tensors
// (a 133 MB base64 scalar, or millions of numbers in a flow sequence) load slowly and need
// several times their size in memory. This reader fills the same tree as the yaml-cpp path
// without copying large scalars: strings without escapes point into the input, and a one-line
// flow sequence of plain scalars becomes one "packed" node that is parsed when it is used.
//
// It only builds the tree; no document value exists yet, so on anything outside the subset
// it gives up (returns false) and the caller runs yaml-cpp on the same input. It must never
// accept input that yaml-cpp would read differently: whatever it is unsure about, it refuses.
#include <cstring>

#include "milo/milo_codec.hpp"
#include "yaml_format_internal.hpp"
#include "yaml_tree.hpp"

namespace milo {
namespace yaml {
namespace {

struct NotCanonical {};

class FastTree {
public:
    FastTree(const char* d, size_t n, uint32_t max_flow, Tree& t, void (*release)(void*, size_t),
             void* release_context)
        : d_(d), n_(n), max_flow_(max_flow), t_(t), release_(release),
          release_context_(release_context) {}

    void run() {
        // Leading blank lines, comments and one "---" line.
        skip_blank_lines();
        if (eof()) bail();
        if (col() == 0 && d_[i_] == '-' && n_ - i_ >= 3 && d_[i_ + 1] == '-' &&
            d_[i_ + 2] == '-' && (i_ + 3 == n_ || d_[i_ + 3] == ' ' || d_[i_ + 3] == '\n')) {
            i_ += 3;
            finish_line();
            if (eof()) bail();
        }
        if (col() != 0 || d_[i_] != '"') bail();
        t_.root = block_map();
        if (!eof()) bail();
    }

private:
    [[noreturn]] static void bail() { throw NotCanonical{}; }

    // Lets the host drop the pages scanned so far (every 4 MB).
    void maybe_release(size_t at) {
        if (release_ == nullptr || at < next_release_) return;
        release_(release_context_, at);
        next_release_ = at + (size_t(4) << 20);
    }

    bool eof() const { return i_ >= n_; }
    int32_t col() const { return int32_t(i_ - line_start_); }
    bool space_or_eol(size_t k) const { return k >= n_ || d_[k] == ' ' || d_[k] == '\n'; }

    void skip_spaces() {
        while (i_ < n_ && d_[i_] == ' ') ++i_;
    }

    // Moves to the first character of the next line holding content (or to the end).
    void skip_blank_lines() {
        while (i_ < n_) {
            skip_spaces();
            if (i_ >= n_) return;
            char c = d_[i_];
            if (c == '#') {
                comment();
                if (i_ >= n_) return;
                c = '\n';
            }
            if (c != '\n') {
                if (c == '\t' || c == '\r') bail();
                return;
            }
            ++i_;
            ++line_;
            line_start_ = i_;
            maybe_release(i_);
        }
    }

    // To the end of the line; the pre-scan refuses control characters in comments.
    void comment() {
        while (i_ < n_ && d_[i_] != '\n') {
            unsigned char c = static_cast<unsigned char>(d_[i_]);
            if ((c < 0x20 && c != '\t') || c == 0x7f) bail();
            ++i_;
        }
    }

    // Rest of the current line: spaces and an optional comment; then the next content line.
    void finish_line() {
        size_t before = i_;
        skip_spaces();
        if (i_ < n_ && d_[i_] == '#') {
            if (i_ == before) bail();
        } else if (i_ < n_ && d_[i_] != '\n') {
            bail();
        }
        skip_blank_lines();
    }

    size_t add(NodeType type, uint8_t flags, int32_t c, uint32_t a, uint32_t n) {
        t_.nodes.push_back(Node{type, flags, line_, c, a, n});
        pending_.push_back(uint32_t(t_.nodes.size() - 1));
        return t_.nodes.size() - 1;
    }

    struct Open {
        size_t node;
        size_t first;
    };

    Open open(NodeType type) {
        if (++depth_ >= kMaxYamlNesting) bail();  // the yaml-cpp path reports it
        size_t node = add(type, 0, col(), 0, 0);
        return Open{node, pending_.size()};
    }

    void close(Open o) {
        --depth_;
        Node& node = t_.nodes[o.node];
        node.a = uint32_t(t_.kids.size());
        node.n = uint32_t(pending_.size() - o.first);
        t_.kids.insert(t_.kids.end(), pending_.begin() + long(o.first), pending_.end());
        pending_.resize(o.first);
    }

    static uint32_t hex_value(const char* p, int digits) {
        uint32_t v = 0;
        for (int k = 0; k < digits; ++k) {
            char c = p[k];
            uint32_t d;
            if (c >= '0' && c <= '9') d = uint32_t(c - '0');
            else if (c >= 'a' && c <= 'f') d = uint32_t(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') d = uint32_t(c - 'A' + 10);
            else bail();
            v = v * 16 + d;
        }
        return v;
    }

    // A double-quoted scalar on one line, at i_. Keys always go to the arena (error paths
    // name them after the input may have been released); other strings without escapes
    // point into the input.
    size_t quoted(bool key) {
        int32_t c = col();
        size_t start = ++i_;
        size_t k = start;
        while (true) {
            k = skip_quoted_text(d_, k, n_);
            if (k < n_ && d_[k] == '\t') {
                ++k;
                continue;
            }
            break;
        }
        if (k >= n_ || (d_[k] != '"' && d_[k] != '\\')) bail();
        if (d_[k] == '"' && !key) {
            i_ = k + 1;
            return add(kQuoted, kTextInInput, c, uint32_t(start), uint32_t(k - start));
        }
        size_t at = t_.arena.size();
        t_.arena.append(d_ + start, k - start);
        while (true) {
            if (k >= n_) bail();
            char ch = d_[k];
            if (ch == '"') break;
            if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f) bail();
            if (ch != '\\') {
                t_.arena += ch;
                ++k;
                continue;
            }
            if (k + 1 >= n_) bail();
            char e = d_[k + 1];
            k += 2;
            switch (e) {
                case '"': t_.arena += '"'; break;
                case '\\': t_.arena += '\\'; break;
                case 'n': t_.arena += '\n'; break;
                case 't': t_.arena += '\t'; break;
                case 'r': t_.arena += '\r'; break;
                case 'x':
                case 'u': {
                    int digits = e == 'x' ? 2 : 4;
                    if (n_ - k < size_t(digits)) bail();
                    uint32_t cp = hex_value(d_ + k, digits);
                    if (cp >= 0xd800 && cp <= 0xdfff) bail();
                    milo::codec::utf8_append(t_.arena, cp);
                    k += size_t(digits);
                    break;
                }
                default: bail();
            }
        }
        i_ = k + 1;
        return add(kQuoted, kTextInArena, c, uint32_t(at), uint32_t(t_.arena.size() - at));
    }

    // One plain word at i_; words yaml-cpp treats specially go to yaml-cpp.
    size_t plain() {
        size_t start = i_;
        while (i_ < n_ && is_plain_char(d_[i_])) ++i_;
        check_word(start, i_);
        return add(kPlain, kTextInInput, int32_t(start - line_start_), uint32_t(start),
                   uint32_t(i_ - start));
    }

    void check_word(size_t start, size_t end) const {
        if (end == start) bail();
        char c = d_[start];
        if (c == 'N' || c == '-' || c == '.') {
            std::string_view w(d_ + start, end - start);
            if (w == "Null" || w == "NULL" || w == "-" || w.substr(0, 2) == "--" ||
                w.substr(0, 2) == "..")
                bail();
        }
    }

    /* ---- flow collections (one line) ---------------------------------------------------- */

    void flow_item() {
        char c = i_ < n_ ? d_[i_] : '\n';
        if (c == '"') quoted(false);
        else if (c == '[') flow_seq(false);
        else if (c == '{') flow_map(false);
        else if (is_plain_char(c)) plain();
        else bail();
        skip_spaces();
        if (i_ < n_ && d_[i_] == ':') bail();  // a single-pair mapping in YAML
    }

    // A flow collection opens: the pre-scan's nesting limit, and its size limit for
    // collections that are not the value after "key: ".
    void flow_enter() {
        if (++flow_ > max_flow_) bail();
    }
    void flow_leave(size_t start, bool after_key) {
        --flow_;
        if (!after_key && i_ - start + 64 > kMaxKeyPossibleFlowBytes) bail();
    }

    void flow_seq(bool after_key) {
        size_t bracket = i_;
        flow_enter();
        flow_seq_body(bracket);
        flow_leave(bracket, after_key);
    }

    void flow_seq_body(size_t bracket) {
        ++i_;
        skip_spaces();
        if (i_ < n_ && is_plain_char(d_[i_]) && packed(bracket)) return;
        i_ = bracket;
        Open o = open(kSeq);
        ++i_;
        skip_spaces();
        if (i_ < n_ && d_[i_] == ']') {
            ++i_;
            close(o);
            return;
        }
        while (true) {
            flow_item();
            if (i_ >= n_) bail();
            if (d_[i_] == ']') break;
            if (d_[i_] != ',') bail();
            ++i_;
            skip_spaces();
        }
        ++i_;
        close(o);
    }

    // "[w, w, ...]" of plain words only, on this line: one node; false if anything else.
    bool packed(size_t bracket) {
        if (depth_ + 1 >= kMaxYamlNesting) return false;
        // Locals: the input is char data, which may alias members.
        const char* d = d_;
        size_t n = n_, i = i_;
        uint32_t count = 0;
        while (true) {
            size_t start = i;
            while (i < n && is_plain_char(d[i])) ++i;
            if (i == start) return false;
            char first = d[start];
            if (first == 'N' || first == '-' || first == '.') check_word(start, i);
            ++count;
            if ((count & 0xffff) == 0) maybe_release(i);
            while (i < n && d[i] == ' ') ++i;
            if (i >= n) return false;
            char c = d[i];
            if (c == ']') break;
            if (c != ',') return false;
            ++i;
            while (i < n && d[i] == ' ') ++i;
        }
        i_ = i + 1;
        add(kSeq, kPacked, int32_t(bracket - line_start_), uint32_t(bracket), count);
        return true;
    }

    void flow_map(bool after_key) {
        size_t start = i_;
        flow_enter();
        flow_map_body();
        flow_leave(start, after_key);
    }

    void flow_map_body() {
        Open o = open(kMap);
        ++i_;
        skip_spaces();
        if (i_ < n_ && d_[i_] == '}') {
            ++i_;
            close(o);
            return;
        }
        while (true) {
            if (i_ >= n_ || d_[i_] != '"') bail();
            quoted(true);
            if (i_ >= n_ || d_[i_] != ':' || !space_or_eol(i_ + 1)) bail();
            ++i_;
            skip_spaces();
            flow_item();
            if (i_ >= n_) bail();
            if (d_[i_] == '}') break;
            if (d_[i_] != ',') bail();
            ++i_;
            skip_spaces();
        }
        ++i_;
        close(o);
    }

    /* ---- block collections -------------------------------------------------------------- */

    // A scalar or flow collection that ends its line.
    void inline_value(bool after_key) {
        char c = d_[i_];
        if (c == '"') quoted(false);
        else if (c == '[') flow_seq(after_key);
        else if (c == '{') flow_map(after_key);
        else if (is_plain_char(c) && !(c == '-' && space_or_eol(i_ + 1))) plain();
        else bail();
        finish_line();
    }

    bool quoted_key_at(size_t k) const {
        ++k;
        while (k < n_ && d_[k] != '"' && d_[k] != '\n') k += d_[k] == '\\' ? 2 : 1;
        return k < n_ && d_[k] == '"' && k + 1 < n_ && d_[k + 1] == ':' && space_or_eol(k + 2);
    }

    // Any node starting at i_ (a block collection may start here and continue below).
    void node() {
        char c = d_[i_];
        if (c == '"' && quoted_key_at(i_)) block_map();
        else if (c == '-' && space_or_eol(i_ + 1)) block_seq();
        else inline_value(false);
    }

    // After "key:" or "-" with nothing more on the line: the value starts on a later line,
    // indented deeper than `parent_col`.
    void value_below(int32_t parent_col) {
        skip_blank_lines();
        if (eof() || col() <= parent_col) bail();  // an empty value (null) or an indentless sequence
        node();
    }

    size_t block_map() {
        int32_t c = col();
        Open o = open(kMap);
        bool seen_state = false;
        while (true) {
            size_t key = quoted(true);
            if (i_ >= n_ || d_[i_] != ':' || !space_or_eol(i_ + 1)) bail();
            {
                const Node& k = t_.nodes[key];
                std::string_view name(t_.arena.data() + k.a, k.n);
                // Values are built in file order except $object's args before state; a
                // released input (ctx->consumed) must not be read again.
                if (name == "state") seen_state = true;
                if (name == "args" && seen_state) bail();
            }
            ++i_;
            skip_spaces();
            if (i_ >= n_ || d_[i_] == '\n' || d_[i_] == '#') {
                if (i_ < n_ && d_[i_] == '#' && d_[i_ - 1] != ' ') bail();
                value_below(c);
            } else {
                inline_value(true);
            }
            if (eof() || col() < c) break;
            if (col() > c || d_[i_] != '"') bail();
        }
        close(o);
        return o.node;
    }

    void block_seq() {
        int32_t c = col();
        Open o = open(kSeq);
        while (true) {
            ++i_;  // '-'
            skip_spaces();
            if (i_ >= n_ || d_[i_] == '\n' || d_[i_] == '#') {
                if (i_ < n_ && d_[i_] == '#' && d_[i_ - 1] != ' ') bail();
                value_below(c);
            } else {
                node();
            }
            if (eof() || col() < c) break;
            if (col() > c || d_[i_] != '-' || !space_or_eol(i_ + 1)) bail();
        }
        close(o);
    }

    const char* d_;
    size_t n_;
    uint32_t max_flow_;
    Tree& t_;
    uint32_t flow_ = 0;
    size_t i_ = 0;
    size_t line_start_ = 0;
    void (*release_)(void*, size_t) = nullptr;
    void* release_context_ = nullptr;
    size_t next_release_ = size_t(4) << 20;
    int32_t line_ = 0;
    int depth_ = 0;
    std::vector<uint32_t> pending_;
};

}  // namespace

bool fast_tree(const char* data, size_t size, uint32_t max_flow_depth, Tree* tree,
               void (*release)(void*, size_t), void* release_context) {
    tree->input = data;
    tree->input_size = size;
    try {
        FastTree f(data, size, max_flow_depth, *tree, release, release_context);
        f.run();
        return tree->root != SIZE_MAX;
    } catch (const NotCanonical&) {
        return false;
    }
}

}  // namespace yaml
}  // namespace milo
