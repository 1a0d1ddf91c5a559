// Lexical pre-scan of YAML input before yaml-cpp sees it.
//
// Why: yaml-cpp 0.7 keeps every token of a flow collection that could still turn out to be an
// implicit key (a "[" or "{" not written after "key: ") until the collection closes, at about
// 100-250 bytes of memory per input byte; 2 MB of "[" costs 470 MB and seconds. The scan
// finds those collections and caps their size, caps flow nesting, and rejects anchors,
// aliases, tags and block scalars early with a precise place.
//
// The scan must never mistake structure for string or comment text, or a bomb could hide
// behind a quote yaml-cpp does not see. It therefore accepts only the subset Milo reads
// (quoted strings, one-word plain scalars, flow and block collections, comments) and rejects
// everything it cannot classify exactly: a quote after a plain word, a plain scalar that may
// continue on the next line, "," outside flow collections, ":" without a following space.
#include <algorithm>
#include <string>

#include "milo/milo_codec.hpp"
#include "yaml_format_internal.hpp"

namespace milo {
namespace yaml {

namespace codec = milo::codec;

void line_column(const char* data, size_t size, size_t offset, size_t* line, size_t* column) {
    size_t l = 1, start = 0;
    if (offset > size) offset = size;
    for (size_t i = 0; i < offset; ++i) {
        if (data[i] == '\n' || (data[i] == '\r' && (i + 1 >= size || data[i + 1] != '\n'))) {
            ++l;
            start = i + 1;
        }
    }
    *line = l;
    *column = offset - start + 1;
}

size_t utf8_invalid_at(const char* s, size_t n) {
    const auto* p = reinterpret_cast<const uint8_t*>(s);
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8) {
            uint64_t x;
            std::memcpy(&x, p + i, 8);
            if ((x & 0x8080808080808080ull) == 0) {
                i += 8;
                continue;
            }
        }
        if (p[i] < 0x80) {
            ++i;
            continue;
        }
        size_t len = codec::utf8_sequence(p + i, n - i);
        if (len == 0) return i;
        i += len;
    }
    return SIZE_MAX;
}

namespace {

enum class Prev {
    LineStart,  // nothing yet on this line
    Indicator,  // "- " or "? "
    Colon,      // ": "
    FlowOpen,
    Comma,
    FlowClose,
    Plain,
    Quoted,
};

bool is_plain_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '+' || c == '-';
}

bool node_may_start(Prev p) {
    return p == Prev::LineStart || p == Prev::Indicator || p == Prev::Colon ||
           p == Prev::FlowOpen || p == Prev::Comma;
}

struct Failure {
    milo_status status;
    size_t offset;
    std::string message;
};

class Prescan {
public:
    Prescan(const char* d, size_t n, uint32_t max_flow_depth)
        : d_(d), n_(n), max_flow_(max_flow_depth) {}

    void run() {
        while (i_ < n_) {
            if (at_line_start_) start_line();
            if (i_ >= n_) break;
            char c = d_[i_];
            if (c == '\n' || c == '\r') {
                newline();
                continue;
            }
            if (c == ' ' || c == '\t') {
                ++i_;
                continue;
            }
            check_region();
            if (need_separator_ && flow_ > 0 && c != ',' && c != ']' && c != '}' && c != ':' &&
                c != '#')
                fail(MILO_ERR_CORRUPT, i_, "expected ',', ']' or '}' in a flow collection");
            switch (c) {
                case '#':
                    if (i_ > 0 && d_[i_ - 1] != ' ' && d_[i_ - 1] != '\t' && !line_empty())
                        fail(MILO_ERR_CORRUPT, i_, "'#' must follow a space to start a comment");
                    skip_to_eol();
                    break;
                case '"': quoted_double(); break;
                case '\'': quoted_single(); break;
                case '[':
                case '{': flow_open(); break;
                case ']':
                case '}': flow_close(); break;
                case ',':
                    if (flow_ == 0)
                        fail(MILO_ERR_CORRUPT, i_, "',' outside a flow collection; quote the string");
                    need_separator_ = false;
                    prev_ = Prev::Comma;
                    ++i_;
                    break;
                case ':':
                    if (!followed_by_space(i_ + 1))
                        fail(MILO_ERR_CORRUPT, i_, "':' must be followed by a space");
                    need_separator_ = false;
                    value_parent_col_ = key_col_;
                    prev_ = Prev::Colon;
                    ++i_;
                    break;
                case '?':
                case '-':
                    if (followed_by_space(i_ + 1)) {
                        if (!node_may_start(prev_))
                            fail(MILO_ERR_CORRUPT, i_, std::string("unexpected '") + c + "'");
                        value_parent_col_ = long(i_ - line_start_);
                        prev_ = Prev::Indicator;
                        ++i_;
                    } else if (c == '-') {
                        plain();
                    } else {
                        fail(MILO_ERR_CORRUPT, i_, "'?' must be followed by a space");
                    }
                    break;
                case '&': fail(MILO_ERR_CORRUPT, i_, "anchors ('&') are not allowed in Milo YAML");
                case '*': fail(MILO_ERR_CORRUPT, i_, "aliases ('*') are not allowed in Milo YAML");
                case '!': fail(MILO_ERR_CORRUPT, i_, "tags ('!') are not allowed in Milo YAML");
                case '|':
                case '>':
                    fail(MILO_ERR_CORRUPT, i_,
                         "block scalars ('|', '>') are not allowed; use a double-quoted string");
                default:
                    if (is_plain_char(c)) {
                        plain();
                    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
                        fail(MILO_ERR_CORRUPT, i_, "control character in YAML text");
                    } else if (static_cast<unsigned char>(c) >= 0x80) {
                        fail(MILO_ERR_CORRUPT, i_, "unexpected text; strings must be quoted");
                    } else {
                        fail(MILO_ERR_CORRUPT, i_,
                             std::string("unexpected character '") + c +
                                 "'; strings must be quoted");
                    }
            }
        }
        if (flow_ > 0) fail(MILO_ERR_CORRUPT, n_, "unterminated flow collection");
    }

private:
    [[noreturn]] void fail(milo_status st, size_t at, std::string msg) {
        throw Failure{st, at, std::move(msg)};
    }

    bool line_empty() const { return prev_ == Prev::LineStart; }

    bool followed_by_space(size_t k) const {
        return k >= n_ || d_[k] == ' ' || d_[k] == '\t' || d_[k] == '\n' || d_[k] == '\r';
    }

    void newline() {
        if (d_[i_] == '\r' && i_ + 1 < n_ && d_[i_ + 1] == '\n') ++i_;
        ++i_;
        at_line_start_ = true;
    }

    void skip_to_eol() {
        while (i_ < n_ && d_[i_] != '\n' && d_[i_] != '\r') {
            unsigned char c = static_cast<unsigned char>(d_[i_]);
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                fail(MILO_ERR_CORRUPT, i_, "control character in YAML text");
            ++i_;
        }
    }

    // Indentation, document markers, directives, and the rule that a plain scalar must not
    // continue on a following, more indented line (YAML would fold it into the scalar).
    void start_line() {
        at_line_start_ = false;
        line_start_ = i_;
        size_t k = i_;
        while (k < n_ && d_[k] == ' ') ++k;
        if (k < n_ && d_[k] == '\t' && flow_ == 0)
            fail(MILO_ERR_CORRUPT, k, "tab in indentation");
        bool blank = k >= n_ || d_[k] == '\n' || d_[k] == '\r';
        if (blank) {
            i_ = k;
            return;
        }
        prev_ = Prev::LineStart;
        if (flow_ == 0) need_separator_ = false;
        key_col_ = -1;
        value_parent_col_ = -1;
        if (k == i_ && flow_ == 0 && n_ - k >= 3 &&
            (d_[k] == '-' || d_[k] == '.') && d_[k + 1] == d_[k] && d_[k + 2] == d_[k] &&
            followed_by_space(k + 3)) {
            plain_pending_ = false;
            i_ = k + 3;
            return;
        }
        if (k == i_ && d_[k] == '%' && flow_ == 0) {
            i_ = k;
            skip_to_eol();
            return;
        }
        if (plain_pending_ && d_[k] != '#') {
            long indent = long(k - i_);
            if (flow_ == 0 && indent > plain_parent_col_)
                fail(MILO_ERR_CORRUPT, k,
                     "plain scalar continues on this line; write one value per line or quote it");
            plain_pending_ = false;
        }
        i_ = k;
    }

    void check_region() {
        if (region_start_ != SIZE_MAX && i_ - region_start_ > kMaxKeyPossibleFlowBytes)
            fail(MILO_ERR_LIMIT, region_start_,
                 "flow collection longer than " + std::to_string(kMaxKeyPossibleFlowBytes) +
                     " bytes outside a 'key: value' position (YAML parsers buffer it whole); "
                     "write it as a block sequence or as the value of a key");
    }

    void begin_node(const char* what) {
        if (!node_may_start(prev_))
            fail(MILO_ERR_CORRUPT, i_, std::string("unexpected ") + what +
                                           "; expected ':', ',' or the end of the line");
        if (prev_ != Prev::Colon) key_col_ = long(i_ - line_start_);
    }

    // After a scalar or a closed flow collection, only ':', ',', ']', '}', a comment or the
    // end of the line may follow on the same line.
    void after_node(Prev kind) {
        prev_ = kind;
        need_separator_ = true;
        size_t k = i_;
        while (k < n_ && (d_[k] == ' ' || d_[k] == '\t')) ++k;
        if (k >= n_ || d_[k] == '\n' || d_[k] == '\r') return;
        char c = d_[k];
        if (c == ':' || (flow_ > 0 && (c == ',' || c == ']' || c == '}'))) return;
        if (c == '#' && k > i_) return;
        fail(MILO_ERR_CORRUPT, k,
             flow_ > 0 ? "expected ':', ',', ']' or '}'" : "expected ':' or the end of the line");
    }

    void quoted_double() {
        begin_node("'\"'");
        size_t start = i_++;
        while (true) {
            i_ = skip_quoted_text(d_, i_, n_);
            if (i_ >= n_) fail(MILO_ERR_CORRUPT, start, "unterminated double-quoted string");
            unsigned char c = static_cast<unsigned char>(d_[i_]);
            if (c == '"') break;
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                fail(MILO_ERR_CORRUPT, i_, "control character in a string; escape it");
            if (c == '\\') {
                if (i_ + 1 >= n_) fail(MILO_ERR_CORRUPT, start, "unterminated double-quoted string");
                ++i_;
            }
            ++i_;
        }
        ++i_;
        after_node(Prev::Quoted);
        plain_pending_ = false;
    }

    void quoted_single() {
        begin_node("\"'\"");
        size_t start = i_++;
        while (true) {
            if (i_ >= n_) fail(MILO_ERR_CORRUPT, start, "unterminated single-quoted string");
            unsigned char c = static_cast<unsigned char>(d_[i_]);
            if (c == '\'') {
                if (i_ + 1 < n_ && d_[i_ + 1] == '\'') {
                    i_ += 2;
                    continue;
                }
                break;
            }
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
                fail(MILO_ERR_CORRUPT, i_, "control character in a string");
            ++i_;
        }
        ++i_;
        after_node(Prev::Quoted);
        plain_pending_ = false;
    }

    void plain() {
        begin_node("plain scalar");
        long parent = prev_ == Prev::Colon || prev_ == Prev::Indicator ? value_parent_col_ : -1;
        while (i_ < n_ && is_plain_char(d_[i_])) ++i_;
        after_node(Prev::Plain);
        size_t k = i_;
        while (k < n_ && (d_[k] == ' ' || d_[k] == '\t')) ++k;
        plain_pending_ = k >= n_ || d_[k] == '\n' || d_[k] == '\r';
        plain_parent_col_ = parent;
    }

    void flow_open() {
        begin_node("flow collection");
        if (++flow_ > max_flow_)
            fail(MILO_ERR_LIMIT, i_, "flow collections nested deeper than " +
                                         std::to_string(max_flow_) + " levels");
        // Only a collection written as the value after "key: " cannot become an implicit key.
        if (region_start_ == SIZE_MAX && prev_ != Prev::Colon) {
            region_start_ = i_;
            region_depth_ = flow_;
        }
        prev_ = Prev::FlowOpen;
        need_separator_ = false;
        ++i_;
    }

    void flow_close() {
        if (flow_ == 0) fail(MILO_ERR_CORRUPT, i_, "unmatched flow collection end");
        if (region_start_ != SIZE_MAX && flow_ == region_depth_) region_start_ = SIZE_MAX;
        --flow_;
        ++i_;
        after_node(Prev::FlowClose);
        plain_pending_ = false;
    }

    const char* d_;
    size_t n_;
    uint32_t max_flow_;
    size_t i_ = 0;
    size_t line_start_ = 0;
    bool at_line_start_ = true;
    Prev prev_ = Prev::LineStart;
    bool need_separator_ = false;
    uint32_t flow_ = 0;
    size_t region_start_ = SIZE_MAX;
    uint32_t region_depth_ = 0;
    long key_col_ = -1;
    long value_parent_col_ = -1;
    bool plain_pending_ = false;
    long plain_parent_col_ = -1;
};

}  // namespace

PrescanResult prescan(const char* data, size_t size, uint32_t max_flow_depth) {
    PrescanResult r;
    try {
        Prescan p(data, size, max_flow_depth);
        p.run();
    } catch (const Failure& f) {
        r.status = f.status;
        r.offset = f.offset;
        r.message = f.message;
    }
    return r;
}

}  // namespace yaml
}  // namespace milo
