// PyMilo JSON → Milo document (README.md, "PyMilo JSON"). The document is the one the pickle
// importer (sklearn_import.cpp) makes for the object PyMilo's Import builds from the same file:
// same object/global/tensor forms, so the sklearn writer and milo.load handle it unchanged.
#include "pymilo_import.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "milo/milo_codec.hpp"
#include "milo/readers/trust_policy.hpp"
#include "sklearn_forms.hpp"
#include "sklearn_import.hpp"

namespace milo {
namespace sklearn {
namespace {

#include "pymilo_class_modules.inc"

constexpr int kMaxDepth = 200;          // PyMilo files nest a few dozen levels at most
constexpr size_t kMaxIntDigits = 4300;  // Python's own limit for int(str)

// ---------------------------------------------------------------------------------------------
// A strict recursive-descent parser for what Python's json.dump writes: RFC 8259 plus the bare
// tokens NaN, Infinity and -Infinity. Duplicate keys: the last value wins at the first key's
// position, as in Python's dict.

struct JVal {
    enum Kind { Null, Bool, Int, Float, Str, Arr, Obj } kind = Null;
    bool b = false;
    double f = 0;
    std::string text;  // Str: the string; Int: the decimal digits (with '-')
    std::vector<JVal> items;
    std::vector<std::pair<std::string, JVal>> members;
    size_t offset = 0;

    const JVal* find(std::string_view key) const {
        if (kind != Obj) return nullptr;
        for (const auto& m : members)
            if (m.first == key) return &m.second;
        return nullptr;
    }
};

class Located {
public:
    Located(std::string name, const char* data, size_t size) : name_(std::move(name)), data_(data), size_(size) {}
    // "file: byte N (line L:C)"
    std::string at(size_t offset) const {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < offset && i < size_; ++i) {
            if (data_[i] == '\n') {
                ++line;
                col = 1;
            } else {
                ++col;
            }
        }
        return name_ + ": byte " + std::to_string(offset) + " (line " + std::to_string(line) + ":" +
               std::to_string(col) + ")";
    }
    [[noreturn]] void fail(int32_t status, size_t offset, const std::string& what) const {
        throw Error(status, at(offset) + ": " + what);
    }
    const std::string& name() const { return name_; }

private:
    std::string name_;
    const char* data_;
    size_t size_;
};

class Parser {
public:
    Parser(const Located& loc, const char* p, size_t n) : loc_(loc), p_(p), n_(n) {}

    JVal parse_document() {
        JVal v = value(0);
        ws();
        if (i_ != n_) fail("trailing data after the JSON value");
        return v;
    }

private:
    [[noreturn]] void fail(const std::string& what) const { loc_.fail(MILO_ERR_CORRUPT, i_, what); }

    void ws() {
        while (i_ < n_ && (p_[i_] == ' ' || p_[i_] == '\t' || p_[i_] == '\n' || p_[i_] == '\r')) ++i_;
    }
    bool literal(const char* word) {
        size_t len = std::strlen(word);
        if (n_ - i_ >= len && std::memcmp(p_ + i_, word, len) == 0) {
            i_ += len;
            return true;
        }
        return false;
    }

    JVal value(int depth) {
        if (depth > kMaxDepth)
            loc_.fail(MILO_ERR_LIMIT, i_, "JSON nested deeper than " + std::to_string(kMaxDepth) + " levels");
        ws();
        if (i_ >= n_) fail("expected a JSON value, found the end of the file");
        JVal v;
        v.offset = i_;
        char c = p_[i_];
        if (c == '{') {
            v.kind = JVal::Obj;
            ++i_;
            ws();
            if (i_ < n_ && p_[i_] == '}') {
                ++i_;
                return v;
            }
            std::unordered_map<std::string, size_t> index;  // key → its member (O(1) per key)
            for (;;) {
                ws();
                if (i_ >= n_ || p_[i_] != '"') fail("expected a string key or '}'");
                std::string key = string();
                ws();
                if (i_ >= n_ || p_[i_] != ':') fail("expected ':' after an object key");
                ++i_;
                JVal item = value(depth + 1);
                auto [at, added] = index.try_emplace(key, v.members.size());
                if (!added) v.members[at->second].second = std::move(item);
                else v.members.emplace_back(std::move(key), std::move(item));
                ws();
                if (i_ < n_ && p_[i_] == ',') {
                    ++i_;
                    continue;
                }
                if (i_ < n_ && p_[i_] == '}') {
                    ++i_;
                    return v;
                }
                fail("expected ',' or '}' in an object");
            }
        }
        if (c == '[') {
            v.kind = JVal::Arr;
            ++i_;
            ws();
            if (i_ < n_ && p_[i_] == ']') {
                ++i_;
                return v;
            }
            for (;;) {
                v.items.push_back(value(depth + 1));
                ws();
                if (i_ < n_ && p_[i_] == ',') {
                    ++i_;
                    continue;
                }
                if (i_ < n_ && p_[i_] == ']') {
                    ++i_;
                    return v;
                }
                fail("expected ',' or ']' in an array");
            }
        }
        if (c == '"') {
            v.kind = JVal::Str;
            v.text = string();
            return v;
        }
        if (literal("null")) return v;
        if (literal("true") || literal("false")) {
            v.kind = JVal::Bool;
            v.b = p_[i_ - 1] == 'e' && p_[i_ - 2] == 'u';
            return v;
        }
        if (literal("NaN")) {
            v.kind = JVal::Float;
            v.f = std::numeric_limits<double>::quiet_NaN();
            return v;
        }
        if (literal("Infinity") || literal("-Infinity")) {
            v.kind = JVal::Float;
            v.f = p_[v.offset] == '-' ? -HUGE_VAL : HUGE_VAL;
            return v;
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number(v);
        fail(std::string("unexpected character '") + c + "'");
    }

    JVal number(JVal v) {
        size_t start = i_;
        if (p_[i_] == '-') ++i_;
        auto digits = [&] {
            size_t s = i_;
            while (i_ < n_ && p_[i_] >= '0' && p_[i_] <= '9') ++i_;
            return i_ - s;
        };
        size_t int_digits = digits();
        if (int_digits == 0) fail("expected digits in a number");
        if (int_digits > 1 && p_[start + (p_[start] == '-')] == '0') fail("leading zero in a number");
        bool is_float = false;
        if (i_ < n_ && p_[i_] == '.') {
            ++i_;
            is_float = true;
            if (digits() == 0) fail("expected digits after '.'");
        }
        if (i_ < n_ && (p_[i_] == 'e' || p_[i_] == 'E')) {
            ++i_;
            is_float = true;
            if (i_ < n_ && (p_[i_] == '+' || p_[i_] == '-')) ++i_;
            if (digits() == 0) fail("expected digits in an exponent");
        }
        std::string_view text(p_ + start, i_ - start);
        if (!is_float) {
            if (int_digits > kMaxIntDigits)
                loc_.fail(MILO_ERR_LIMIT, start, "integer of " + std::to_string(int_digits) +
                                                     " digits exceeds Python's limit of " +
                                                     std::to_string(kMaxIntDigits));
            v.kind = JVal::Int;
            v.text = std::string(text);
            if (v.text == "-0") v.text = "0";
            return v;
        }
        v.kind = JVal::Float;
        auto r = std::from_chars(text.data(), text.data() + text.size(), v.f);
        if (r.ec == std::errc::result_out_of_range) {
            // Python's float(): overflow gives ±inf, underflow ±0.0.
            size_t e = text.find_first_of("eE");
            bool tiny = e != std::string_view::npos && text[e + 1] == '-';
            double mag = tiny ? 0.0 : HUGE_VAL;
            v.f = text[0] == '-' ? -mag : mag;
        } else if (r.ec != std::errc() || r.ptr != text.data() + text.size()) {
            loc_.fail(MILO_ERR_CORRUPT, start, "malformed number");
        }
        return v;
    }

    uint32_t hex4() {
        if (n_ - i_ < 4) fail("truncated \\u escape");
        uint32_t cp = 0;
        for (int k = 0; k < 4; ++k) {
            char h = p_[i_++];
            cp <<= 4;
            if (h >= '0' && h <= '9') cp |= uint32_t(h - '0');
            else if (h >= 'a' && h <= 'f') cp |= uint32_t(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') cp |= uint32_t(h - 'A' + 10);
            else fail("bad hex digit in a \\u escape");
        }
        return cp;
    }

    std::string string() {
        ++i_;  // opening quote
        std::string out;
        size_t start = i_;
        for (;;) {
            if (i_ >= n_) loc_.fail(MILO_ERR_CORRUPT, start - 1, "unterminated string");
            unsigned char c = static_cast<unsigned char>(p_[i_]);
            if (c == '"') {
                ++i_;
                break;
            }
            if (c < 0x20) fail("control character in a string");
            if (c != '\\') {
                out += char(c);
                ++i_;
                continue;
            }
            ++i_;
            if (i_ >= n_) fail("truncated escape");
            char e = p_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = hex4();
                    if (cp >= 0xD800 && cp < 0xDC00 && n_ - i_ >= 6 && p_[i_] == '\\' && p_[i_ + 1] == 'u') {
                        size_t save = i_;
                        i_ += 2;
                        uint32_t lo = hex4();
                        if (lo >= 0xDC00 && lo < 0xE000) cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                        else i_ = save;
                    }
                    if (cp >= 0xD800 && cp < 0xE000)
                        fail("lone surrogate in a string (not representable in the document)");
                    codec::utf8_append(out, cp);
                    break;
                }
                default: fail(std::string("bad escape '\\") + e + "'");
            }
        }
        if (codec::utf8_invalid_at(out.data(), out.size()) != SIZE_MAX)
            loc_.fail(MILO_ERR_CORRUPT, start, "string is not valid UTF-8");
        return out;
    }

    const Located& loc_;
    const char* p_;
    size_t n_;
    size_t i_ = 0;
};

// ---------------------------------------------------------------------------------------------
// numpy element types as PyMilo names them ("float64", "<f8", "|u1", "int32" …).

struct NumType {
    int32_t dtype = 0;  // MILO_DTYPE_*, 0 when unknown
};

int32_t dtype_from_spec(std::string_view s) {
    // numpy names
    static const std::pair<const char*, int32_t> kNames[] = {
        {"bool", MILO_DTYPE_BOOL},       {"int8", MILO_DTYPE_INT8},     {"int16", MILO_DTYPE_INT16},
        {"int32", MILO_DTYPE_INT32},     {"int64", MILO_DTYPE_INT64},   {"uint8", MILO_DTYPE_UINT8},
        {"uint16", MILO_DTYPE_UINT16},   {"uint32", MILO_DTYPE_UINT32}, {"uint64", MILO_DTYPE_UINT64},
        {"float32", MILO_DTYPE_FLOAT32}, {"float64", MILO_DTYPE_FLOAT64}};
    for (const auto& n : kNames)
        if (s == n.first) return n.second;
    // array-protocol specs: optional byte order ('<', '|', '='), kind, size
    if (!s.empty() && (s[0] == '<' || s[0] == '|' || s[0] == '=')) s.remove_prefix(1);
    if (s == "?") return MILO_DTYPE_BOOL;
    for (int32_t d = MILO_DTYPE_BOOL; d <= MILO_DTYPE_FLOAT64; ++d)
        if (d != MILO_DTYPE_FLOAT16 && d != MILO_DTYPE_BFLOAT16 && s == canonical_spec(d)) return d;
    return 0;
}

size_t dtype_size(int32_t d) { return size_t(codec::dtype_info(d)->size); }

// ---------------------------------------------------------------------------------------------

struct Field {
    std::string name;
    int32_t dtype;
    uint64_t offset;
};

class Converter {
public:
    Converter(DocRef doc, const Located& loc, std::string sklearn_version)
        : doc_(doc), loc_(loc), version_(std::move(sklearn_version)) {
        stack_ = pick_stack(version_);
        core_ = std::string(kClassModuleStacks[stack_].numpy_core);
    }

    const std::string& numpy_core() const { return core_; }

    // Every name the document uses, with how a pickle of the same object would use it.
    void set_trust() const {
        for (const auto& u : uses_) {
            std::string module, name;
            if (!split_global(u.first, module, name)) continue;
            readers::TrustVerdict v = readers::classify(module, name, u.second);
            doc_.set_trust(u.first.c_str(), readers::usage_name(u.second), int32_t(v.level));
        }
    }

    // The estimator named `type` with the PyMilo "data" map `data`.
    ValueRef estimator(const std::string& type, const JVal& data, const std::string& path) {
        std::string full = class_name(type, path, data.offset);
        if (data.kind != JVal::Obj) fail(data, path, "expected the model's data object");
        ValueRef o = doc_.object(full.c_str());
        use(full, readers::Usage::Instantiate);
        ValueRef st = doc_.map();
        bool has_version = false;
        model_stack_.push_back(type);
        struct Pop {
            std::vector<std::string>& s;
            ~Pop() { s.pop_back(); }
        } pop{model_stack_};
        // Neighbor trees last: they share the model's _fit_X array (one object, as in PyMilo).
        std::vector<std::pair<std::string, ValueRef>> members;
        for (const auto& m : data.members) {
            if (m.first == "_sklearn_version") has_version = true;
            members.emplace_back(m.first, m.second.find("pymilo-tree-type")
                                              ? doc_.null()
                                              : value(m.second, path + "." + m.first, 1));
        }
        for (size_t i = 0; i < members.size(); ++i)
            if (const JVal* t = data.members[i].second.find("pymilo-tree-type"))
                members[i].second = neighbors_tree(*t, data, members, path + "." + members[i].first);
        for (const auto& m : members) doc_.put(st, m.first, m.second);
        // BaseEstimator.__getstate__ adds the version the object was made with.
        if (!has_version) doc_.put(st, "_sklearn_version", doc_.string(version_));
        o.set_state(st);
        return o;
    }

    [[noreturn]] void fail(const JVal& at, const std::string& path, const std::string& what,
                           int32_t status = MILO_ERR_CORRUPT) const {
        loc_.fail(status, at.offset, path + ": " + what);
    }

    std::string class_name(const std::string& type, const std::string& path, size_t offset) const {
        const char* module = lookup_module(type);
        if (module == nullptr)
            loc_.fail(MILO_ERR_UNSUPPORTED, offset,
                      path + ": unknown model type \"" + type +
                          "\" (not a scikit-learn estimator class of the supported versions)");
        return std::string(module) + "." + type;
    }

private:
    // The stack whose scikit-learn version is nearest to the file's.
    static size_t pick_stack(const std::string& v) {
        auto key = [](std::string_view s) {
            long major = 0, minor = 0;
            size_t dot = s.find('.');
            std::from_chars(s.data(), s.data() + s.size(), major);
            if (dot != std::string_view::npos)
                std::from_chars(s.data() + dot + 1, s.data() + s.size(), minor);
            return major * 1000 + minor;
        };
        size_t best = 0;
        long best_d = std::numeric_limits<long>::max();
        for (size_t i = 0; i < std::size(kClassModuleStacks); ++i) {
            long d = std::labs(key(kClassModuleStacks[i].sklearn_version) - key(v));
            if (d < best_d) {
                best_d = d;
                best = i;
            }
        }
        return best;
    }

    const char* lookup_module(const std::string& type) const {
        const char* other = nullptr;
        for (const ClassModule& c : kClassModules) {
            if (type != c.name) continue;
            if (*c.modules[stack_]) return c.modules[stack_];
            for (const char* m : c.modules)
                if (*m) other = m;
        }
        return other;
    }

    void use(const std::string& name, readers::Usage usage) {
        auto key = std::make_pair(name, usage);
        if (seen_.insert(key).second) uses_.push_back(key);
    }
    void use_array() {
        use(core_ + ".multiarray._reconstruct", readers::Usage::Call);
        use("numpy.ndarray", readers::Usage::Reference);
        use("numpy.dtype", readers::Usage::Call);
    }

    static bool has(const JVal& v, const char* key) { return v.find(key) != nullptr; }
    const JVal& need(const JVal& v, const char* key, const std::string& path) const {
        const JVal* f = v.find(key);
        if (f == nullptr) fail(v, path, std::string("expected the key \"") + key + "\"");
        return *f;
    }

    // Any PyMilo value. `depth` bounds the recursion together with the parser's limit.
    ValueRef value(const JVal& v, const std::string& path, int depth) {
        switch (v.kind) {
            case JVal::Null: return doc_.null();
            case JVal::Bool: return doc_.boolean(v.b);
            case JVal::Int: return integer(v);
            case JVal::Float: return doc_.number(v.f);
            case JVal::Str: return doc_.string(v.text);
            case JVal::Arr: {
                ValueRef l = doc_.list();
                for (size_t i = 0; i < v.items.size(); ++i)
                    l.append(value(v.items[i], path + "[" + std::to_string(i) + "]", depth + 1));
                return l;
            }
            case JVal::Obj: return object(v, path, depth);
        }
        fail(v, path, "unknown JSON value");
    }

    ValueRef integer(const JVal& v) {
        int64_t i = 0;
        auto r = std::from_chars(v.text.data(), v.text.data() + v.text.size(), i);
        if (r.ec == std::errc() && r.ptr == v.text.data() + v.text.size()) return doc_.integer(i);
        return doc_.integer_text(v.text);  // a Python int beyond int64: digits kept exactly
    }

    ValueRef object(const JVal& v, const std::string& path, int depth) {
        if (const JVal* t = v.find("pymilo-inner-model-type")) {
            if (t->kind != JVal::Str) fail(*t, path, "expected a model type string");
            return estimator(t->text, need(v, "pymilo-inner-model-data", path),
                             path + ".pymilo-inner-model-data");
        }
        if (const JVal* t = v.find("pymilo-preprocessing-type")) {
            if (t->kind != JVal::Str) fail(*t, path, "expected a preprocessing type string");
            if (t->text == "BSpline")
                fail(*t, path, "scipy BSpline objects are not supported", MILO_ERR_UNSUPPORTED);
            return estimator(t->text, need(v, "pymilo-preprocessing-data", path),
                             path + ".pymilo-preprocessing-data");
        }
        if (const JVal* t = v.find("pymilo-tree")) return tree(*t, path + ".pymilo-tree");
        if (const JVal* t = v.find("pymilo-randomstate"))
            return random_state(*t, path + ".pymilo-randomstate");
        if (const JVal* t = v.find("pymilo-adamoptimizer"))
            return adam(*t, path + ".pymilo-adamoptimizer");
        if (const JVal* t = v.find("pymilo-binmapper")) {
            const JVal& d = need(*t, "__dict__", path + ".pymilo-binmapper");
            return estimator("_BinMapper", d, path + ".pymilo-binmapper.__dict__");
        }
        if (const JVal* t = v.find("pymiloed-data-structure")) {
            if (t->kind == JVal::Str && t->text == "numpy.ndarray") return ndarray(v, path, depth);
            if (t->kind == JVal::Str && t->text == "TreePredictor") return tree_predictor(v, path);
            if (t->kind == JVal::Str && t->text == "list of (str, estimator) tuples") {
                const JVal& d = need(v, "pymiloed-data", path);
                if (d.kind != JVal::Arr) fail(d, path + ".pymiloed-data", "expected a list");
                ValueRef l = doc_.list();
                for (size_t i = 0; i < d.items.size(); ++i) {
                    std::string p = path + ".pymiloed-data[" + std::to_string(i) + "]";
                    const JVal& pair = d.items[i];
                    if (pair.kind != JVal::Arr || pair.items.size() != 2)
                        fail(pair, p, "expected a [name, estimator] pair");
                    ValueRef tup = doc_.tuple();
                    tup.append(value(pair.items[0], p + "[0]", depth + 1));
                    tup.append(value(pair.items[1], p + "[1]", depth + 1));
                    l.append(tup);
                }
                return l;
            }
            fail(*t, path, "unsupported pymiloed-data-structure " + describe(*t),
                 MILO_ERR_UNSUPPORTED);
        }
        if (const JVal* t = v.find("function_name")) {
            const JVal& m = need(v, "function_module", path);
            if (t->kind != JVal::Str || m.kind != JVal::Str)
                fail(v, path, "expected function_name and function_module strings");
            return function(m.text, t->text);
        }
        if (const JVal* t = v.find("pymilo-tuple")) {
            if (t->kind != JVal::Arr) fail(*t, path + ".pymilo-tuple", "expected a list");
            return sequence(doc_.tuple(), *t, path + ".pymilo-tuple", depth);
        }
        if (const JVal* t = v.find("pymilo-set")) {
            if (t->kind != JVal::Arr) fail(*t, path + ".pymilo-set", "expected a list");
            return sequence(doc_.set(), *t, path + ".pymilo-set", depth);
        }
        if (has(v, "pymilo-slice")) {
            ValueRef o = doc_.object("builtins.slice");
            use("builtins.slice", readers::Usage::Call);
            ValueRef args = doc_.tuple();
            for (const char* k : {"start", "stop", "step"})
                args.append(value(need(v, k, path), path + "." + k, depth + 1));
            o.set_args(args);
            return o;
        }
        if (has(v, "np-type") && has(v, "value")) return numpy_value(v, path);
        // Objects PyMilo rebuilds by calling scikit-learn code: the same constructor call,
        // written as a call of a trusted class (nothing runs here; milo.load makes the call).
        if (const JVal* t = v.find("pymilo-ensemble-loss"))
            return ensemble_loss(*t, path + ".pymilo-ensemble-loss");
        if (const JVal* t = v.find("pymilo-sgd-loss")) return sgd_loss(*t, path + ".pymilo-sgd-loss");
        if (has(v, "pymilo_glm_base_loss")) return glm_loss(v, path);
        if (const JVal* t = v.find("pymilo-bunch")) return bunch(*t, path + ".pymilo-bunch");
        if (const JVal* t = v.find("pymilo-generator"))
            return generator(*t, path + ".pymilo-generator");
        // Forms not handled yet (see README.md, "PyMilo JSON").
        for (const char* k : {"pymilo-tree-type", "pymilo-sgdoptimizer"})
            if (has(v, k))
                fail(v, path, std::string("\"") + k +
                                  "\" objects are rebuilt by PyMilo with Python code; not supported",
                     MILO_ERR_UNSUPPORTED);
        for (const auto& m : v.members)
            if (m.first.rfind("pymilo", 0) == 0)
                fail(v, path, "unsupported PyMilo form \"" + m.first + "\"", MILO_ERR_UNSUPPORTED);
        // A plain dict; keys PyMilo wrote for numpy integer keys come back as those scalars.
        ValueRef map = doc_.map();
        for (const auto& m : v.members) {
            std::string p = path + "." + m.first;
            const JVal* npt = m.second.find("np-type");
            const JVal* kv = m.second.find("key-value");
            if (npt && kv && !m.second.find("value")) {
                JVal key;
                key.kind = JVal::Int;
                key.text = m.first;
                key.offset = m.second.offset;
                int64_t probe = 0;
                auto r = std::from_chars(m.first.data(), m.first.data() + m.first.size(), probe);
                if (r.ec != std::errc() || r.ptr != m.first.data() + m.first.size())
                    fail(m.second, p, "numpy integer key is not an integer");
                map.append(scalar(npt->kind == JVal::Str ? npt->text : "", key, p), value(*kv, p, depth + 1));
                continue;
            }
            map.append(doc_.string(m.first), value(m.second, p, depth + 1));
        }
        return map;
    }

    ValueRef sequence(ValueRef c, const JVal& list, const std::string& path, int depth) {
        for (size_t i = 0; i < list.items.size(); ++i)
            c.append(value(list.items[i], path + "[" + std::to_string(i) + "]", depth + 1));
        return c;
    }

    static std::string describe(const JVal& v) {
        return v.kind == JVal::Str ? "\"" + v.text + "\"" : std::string("(not a string)");
    }

    // {"np-type": …, "value": …}
    ValueRef numpy_value(const JVal& v, const std::string& path) {
        const JVal& t = need(v, "np-type", path);
        const JVal& val = need(v, "value", path);
        if (t.kind != JVal::Str) fail(t, path + ".np-type", "expected a string");
        if (t.text == "numpy.nan") return doc_.number(std::numeric_limits<double>::quiet_NaN());
        if (t.text == "numpy.infinity") return doc_.number(HUGE_VAL);
        if (t.text == "numpy.dtype") {
            if (val.kind != JVal::Str) fail(val, path + ".value", "expected a numpy type name");
            static const char* const kTypes[] = {"numpy.intc", "numpy.int32", "numpy.int64", "numpy.float64",
                                                 "numpy.uint8", "numpy.uint64"};
            for (const char* k : kTypes)
                if (val.text == k) {
                    // numpy.intc is numpy.int32 on the platforms PyMilo runs on
                    std::string name = val.text == "numpy.intc" ? "numpy.int32" : val.text;
                    use(name, readers::Usage::Reference);
                    return doc_.global(name.c_str());
                }
            fail(val, path + ".value", "unknown numpy type " + describe(val), MILO_ERR_UNSUPPORTED);
        }
        return scalar(t.text, val, path + ".value");
    }

    // A numpy scalar of the type PyMilo names ("numpy.int64" …) with the JSON number `val`.
    ValueRef scalar(const std::string& np_type, const JVal& val, const std::string& path) {
        int32_t d = 0;
        if (np_type == "numpy.intc" || np_type == "numpy.int32") d = MILO_DTYPE_INT32;
        else if (np_type == "numpy.int64") d = MILO_DTYPE_INT64;
        else if (np_type == "numpy.uint8") d = MILO_DTYPE_UINT8;
        else if (np_type == "numpy.uint64") d = MILO_DTYPE_UINT64;
        else if (np_type == "numpy.float64") d = MILO_DTYPE_FLOAT64;
        else fail(val, path, "unknown np-type \"" + np_type + "\"", MILO_ERR_UNSUPPORTED);
        std::string name = core_ + ".multiarray.scalar";
        use(name, readers::Usage::Call);
        ValueRef o = doc_.object(name.c_str());
        ValueRef args = doc_.tuple();
        args.append(doc_.string(codec::dtype_info(d)->name));
        ValueRef t = doc_.tensor(d, {});
        store(d, val, static_cast<char*>(t.mutable_data().first), path);
        args.append(t);
        o.set_args(args);
        return o;
    }

    // One JSON number into one element of dtype `d` at `out`; exact or an error.
    void store(int32_t d, const JVal& v, char* out, const std::string& path) const {
        if (d == MILO_DTYPE_BOOL) {
            if (v.kind != JVal::Bool) fail(v, path, "expected true or false for a bool element");
            *out = v.b ? 1 : 0;
            return;
        }
        if (d == MILO_DTYPE_FLOAT64 || d == MILO_DTYPE_FLOAT32) {
            double x = 0;
            if (v.kind == JVal::Float) {
                x = v.f;
            } else if (v.kind == JVal::Int) {
                auto r = std::from_chars(v.text.data(), v.text.data() + v.text.size(), x);
                int64_t back = 0;
                auto ri = std::from_chars(v.text.data(), v.text.data() + v.text.size(), back);
                if (r.ec != std::errc() || ri.ec != std::errc() || double(int64_t(x)) != x ||
                    int64_t(x) != back)
                    fail(v, path, "integer " + v.text + " is not exactly a float");
            } else {
                fail(v, path, "expected a number for a float element");
            }
            if (d == MILO_DTYPE_FLOAT64) {
                std::memcpy(out, &x, 8);
            } else {
                float f = float(x);
                if (!std::isnan(x) && double(f) != x)
                    fail(v, path, "number is not exactly a float32 value");
                std::memcpy(out, &f, 4);
            }
            return;
        }
        if (v.kind != JVal::Int) {
            // numpy casts integral floats into integer arrays (tolist() of records mixes them)
            if (v.kind == JVal::Float && std::isfinite(v.f) && std::trunc(v.f) == v.f &&
                std::fabs(v.f) < 9.2e18) {
                JVal i;
                i.kind = JVal::Int;
                i.text = std::to_string(int64_t(v.f));
                i.offset = v.offset;
                store(d, i, out, path);
                return;
            }
            fail(v, path, std::string("expected an integer for an ") + codec::dtype_info(d)->name +
                              " element, found " + (v.kind == JVal::Float ? "a non-integral float" : "another value"));
        }
        const char* b = v.text.data();
        const char* e = b + v.text.size();
        const size_t size = dtype_size(d);
        if (codec::dtype_is_signed(d)) {
            int64_t x = 0;
            auto r = std::from_chars(b, e, x);
            int64_t lo = size == 8 ? INT64_MIN : -(int64_t(1) << (8 * size - 1));
            int64_t hi = size == 8 ? INT64_MAX : (int64_t(1) << (8 * size - 1)) - 1;
            if (r.ec != std::errc() || r.ptr != e || x < lo || x > hi)
                fail(v, path, "integer " + v.text + " out of range for " + codec::dtype_info(d)->name);
            std::memcpy(out, &x, size);  // little-endian: the low bytes
        } else {
            uint64_t x = 0;
            auto r = std::from_chars(b, e, x);
            uint64_t hi = size == 8 ? UINT64_MAX : (uint64_t(1) << (8 * size)) - 1;
            if (r.ec != std::errc() || r.ptr != e || x > hi)
                fail(v, path, "integer " + v.text + " out of range for " + codec::dtype_info(d)->name);
            std::memcpy(out, &x, size);
        }
    }

    // Shape of a nested list by its first elements (arrays written without a shape).
    static std::vector<int64_t> infer_shape(const JVal& list, bool records) {
        std::vector<int64_t> shape;
        const JVal* cur = &list;
        while (cur->kind == JVal::Arr) {
            shape.push_back(int64_t(cur->items.size()));
            if (cur->items.empty()) break;
            const JVal* next = &cur->items[0];
            if (records && next->kind == JVal::Arr && next->items.size() > 0 &&
                next->items[0].kind != JVal::Arr)
                break;  // a record's field list
            cur = next;
        }
        return shape;
    }

    std::vector<int64_t> read_shape(const JVal& v, const JVal& list, bool records, const std::string& path,
                                    uint64_t& count) const {
        std::vector<int64_t> shape;
        if (const JVal* s = v.find("pymiloed-ndarray-shape")) {
            if (s->kind != JVal::Arr) fail(*s, path + ".pymiloed-ndarray-shape", "expected a list");
            for (const JVal& x : s->items) {
                int64_t n = -1;
                if (x.kind == JVal::Int) std::from_chars(x.text.data(), x.text.data() + x.text.size(), n);
                if (n < 0) fail(x, path + ".pymiloed-ndarray-shape", "expected a non-negative integer");
                shape.push_back(n);
            }
        } else {
            shape = infer_shape(list, records);
        }
        count = 1;
        for (int64_t n : shape) {
            if (n != 0 && count > uint64_t(INT64_MAX) / uint64_t(n))
                fail(v, path, "array shape overflows", MILO_ERR_LIMIT);
            count *= uint64_t(n);
        }
        return shape;
    }

    // Visits the elements of `list` in C order, checking every level against `shape`. An empty
    // top-level list stands for any shape with a zero (numpy reshapes it).
    template <typename F>
    void walk(const JVal& list, const std::vector<int64_t>& shape, size_t level, const std::string& path,
              F&& leaf) const {
        if (level == shape.size()) {
            leaf(list, path);
            return;
        }
        if (list.kind != JVal::Arr)
            fail(list, path, "expected a list at dimension " + std::to_string(level) + " of shape " +
                                 shape_text(shape));
        if (level == 0 && list.items.empty()) {
            if (std::find(shape.begin(), shape.end(), 0) == shape.end())
                fail(list, path, "empty list for an array of shape " + shape_text(shape));
            return;
        }
        if (int64_t(list.items.size()) != shape[level])
            fail(list, path, std::to_string(list.items.size()) + " elements at dimension " +
                                 std::to_string(level) + ", shape " + shape_text(shape) + " says " +
                                 std::to_string(shape[level]));
        for (size_t i = 0; i < list.items.size(); ++i)
            walk(list.items[i], shape, level + 1, path + "[" + std::to_string(i) + "]", leaf);
    }

    static std::string shape_text(const std::vector<int64_t>& shape) {
        std::string s = "(";
        for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
        return s + (shape.size() == 1 ? ",)" : ")");
    }

    // The numpy.dtype object numpy pickles for a plain number type ("<f8" …).
    ValueRef plain_dtype_object(int32_t d) {
        use("numpy.dtype", readers::Usage::Call);
        ValueRef o = doc_.object("numpy.dtype");
        ValueRef args = doc_.tuple();
        args.append(doc_.string(canonical_spec(d)));
        args.append(doc_.boolean(false));
        args.append(doc_.boolean(true));
        o.set_args(args);
        ValueRef st = doc_.tuple();
        st.append(doc_.integer(3));
        st.append(doc_.string(dtype_size(d) == 1 ? "|" : "<"));
        for (int k = 0; k < 3; ++k) st.append(doc_.null());
        st.append(doc_.integer(-1));
        st.append(doc_.integer(-1));
        st.append(doc_.integer(0));
        o.set_state(st);
        return o;
    }

    // numpy.dtype object of a structured dtype (fields of plain little-endian numbers).
    ValueRef record_dtype_object(const std::vector<Field>& fields, uint64_t itemsize) {
        use("numpy.dtype", readers::Usage::Call);
        ValueRef o = doc_.object("numpy.dtype");
        ValueRef args = doc_.tuple();
        args.append(doc_.string("V" + std::to_string(itemsize)));
        args.append(doc_.boolean(false));
        args.append(doc_.boolean(true));
        o.set_args(args);
        ValueRef names = doc_.tuple();
        ValueRef map = doc_.map();
        std::map<int32_t, ValueRef> shared;  // numpy memoizes each field dtype once
        for (const Field& f : fields) {
            names.append(doc_.string(f.name));
            auto it = shared.find(f.dtype);
            if (it == shared.end()) it = shared.emplace(f.dtype, plain_dtype_object(f.dtype)).first;
            ValueRef pair = doc_.tuple();
            pair.append(it->second);
            pair.append(doc_.integer(int64_t(f.offset)));
            doc_.put(map, f.name, pair);
        }
        ValueRef st = doc_.tuple();
        st.append(doc_.integer(3));
        st.append(doc_.string("|"));
        st.append(doc_.null());
        st.append(names);
        st.append(map);
        st.append(doc_.integer(int64_t(itemsize)));
        st.append(doc_.integer(1));
        st.append(doc_.integer(16));
        o.set_state(st);
        return o;
    }

    ValueRef ndarray_object(ValueRef dtype) {
        use_array();
        ValueRef o = doc_.object("numpy.ndarray");
        ValueRef st = doc_.map();
        doc_.put(st, "dtype", dtype);
        doc_.put(st, "order", doc_.string("C"));
        o.set_state(st);
        return o;
    }

    ValueRef record_array(const std::vector<Field>& fields, uint64_t itemsize, const JVal& list,
                          const std::vector<int64_t>& shape, uint64_t count, const std::string& path) {
        if (count > loc_size_limit() / std::max<uint64_t>(itemsize, 1))
            fail(list, path, "array larger than the file could hold", MILO_ERR_LIMIT);
        std::set<std::string> names;  // numpy refuses these names too
        for (const Field& f : fields)
            if (f.name.empty() || f.name.find('\0') != std::string::npos ||
                f.name.rfind("(padding", 0) == 0 || !names.insert(f.name).second)
                fail(list, path, "structured dtype: field name \"" + f.name +
                                     "\" is empty, repeated or reserved");
        ValueRef t = doc_.record_tensor(itemsize, shape);
        for (const Field& f : fields) t.add_field(f.name.c_str(), f.dtype, f.offset, {});
        char* base = static_cast<char*>(t.mutable_data().first);
        if (count) std::memset(base, 0, count * itemsize);
        size_t row = 0;
        walk(list, shape, 0, path, [&](const JVal& rec, const std::string& p) {
            if (rec.kind != JVal::Arr || rec.items.size() != fields.size())
                fail(rec, p, "expected a record of " + std::to_string(fields.size()) + " fields");
            for (size_t k = 0; k < fields.size(); ++k)
                store(fields[k].dtype, rec.items[k], base + row * itemsize + fields[k].offset,
                      p + "[" + std::to_string(k) + "]");
            ++row;
        });
        ValueRef o = ndarray_object(record_dtype_object(fields, itemsize));
        doc_.put(o.state(), "data", t);
        return o;
    }

    uint64_t loc_size_limit() const { return uint64_t(1) << 34; }

    // "[('value', '<f8'), ('count', '<u4'), …]": the repr of a structured dtype's descr.
    std::vector<Field> parse_descr(const JVal& v, const std::string& path, uint64_t& itemsize) const {
        const std::string& s = v.text;
        size_t i = 0;
        std::vector<Field> fields;
        auto skip = [&] { while (i < s.size() && s[i] == ' ') ++i; };
        auto expect = [&](char c) {
            skip();
            if (i >= s.size() || s[i] != c)
                fail(v, path, std::string("structured dtype: expected '") + c + "' at character " +
                                  std::to_string(i) + " of " + s, MILO_ERR_UNSUPPORTED);
            ++i;
        };
        auto quoted = [&] {
            skip();
            if (i >= s.size() || (s[i] != '\'' && s[i] != '"')) expect('\'');
            char q = s[i++];
            size_t e = s.find(q, i);
            if (e == std::string::npos) expect(q);
            std::string out = s.substr(i, e - i);
            i = e + 1;
            return out;
        };
        expect('[');
        itemsize = 0;
        for (;;) {
            expect('(');
            Field f;
            f.name = quoted();
            expect(',');
            std::string spec = quoted();
            f.dtype = dtype_from_spec(spec);
            if (f.dtype == 0 || (spec.size() && spec[0] == '>'))
                fail(v, path, "structured dtype: field \"" + f.name + "\" has unsupported type \"" + spec + "\"",
                     MILO_ERR_UNSUPPORTED);
            expect(')');
            f.offset = itemsize;  // packed: numpy.dtype(list) without align
            itemsize += dtype_size(f.dtype);
            fields.push_back(f);
            skip();
            if (i < s.size() && s[i] == ',') {
                ++i;
                continue;
            }
            expect(']');
            break;
        }
        skip();
        if (i != s.size()) fail(v, path, "structured dtype: trailing text in " + s, MILO_ERR_UNSUPPORTED);
        return fields;
    }

    // {"pymiloed-ndarray-list": …, "pymiloed-ndarray-dtype": …, "pymiloed-ndarray-shape": …}
    ValueRef ndarray(const JVal& v, const std::string& path, int depth) {
        const JVal& list = need(v, "pymiloed-ndarray-list", path);
        const JVal& dt = need(v, "pymiloed-ndarray-dtype", path);
        if (dt.kind != JVal::Str) fail(dt, path + ".pymiloed-ndarray-dtype", "expected a dtype string");
        const std::string lp = path + ".pymiloed-ndarray-list";
        const std::string& spec = dt.text;
        uint64_t count = 0;
        if (!spec.empty() && spec[0] == '[') {
            uint64_t itemsize = 0;
            std::vector<Field> fields = parse_descr(dt, path + ".pymiloed-ndarray-dtype", itemsize);
            std::vector<int64_t> shape = read_shape(v, list, true, path, count);
            return record_array(fields, itemsize, list, shape, count, lp);
        }
        if (int32_t d = dtype_from_spec(spec)) {
            std::vector<int64_t> shape = read_shape(v, list, false, path, count);
            if (count > loc_size_limit() / dtype_size(d))
                fail(v, path, "array larger than the file could hold", MILO_ERR_LIMIT);
            use_array();
            ValueRef t = doc_.tensor(d, shape);
            char* out = static_cast<char*>(t.mutable_data().first);
            size_t k = 0;
            const size_t size = dtype_size(d);
            walk(list, shape, 0, lp, [&](const JVal& x, const std::string& p) {
                store(d, x, out + size * k++, p);
            });
            return t;
        }
        if (spec == "object") {
            // PyMilo stacks an unshaped list of equally long object ndarrays (GradientBoosting's
            // estimators_) into one 2-d object array: np.asarray(list of arrays).
            if (!has(v, "pymiloed-ndarray-shape") && list.kind == JVal::Arr && !list.items.empty()) {
                JVal rows;
                rows.kind = JVal::Arr;
                rows.offset = list.offset;
                for (const JVal& item : list.items) {
                    const JVal* l = item.find("pymiloed-ndarray-list");
                    const JVal* d = item.find("pymiloed-ndarray-dtype");
                    if (!l || !d || d->kind != JVal::Str || d->text != "object" || l->kind != JVal::Arr ||
                        has(item, "pymiloed-ndarray-shape") || l->items.empty() ||
                        l->items.size() != list.items[0].find("pymiloed-ndarray-list")->items.size()) {
                        rows.items.clear();
                        break;
                    }
                    rows.items.push_back(*l);
                }
                if (!rows.items.empty()) {
                    std::vector<int64_t> shape{int64_t(rows.items.size()), int64_t(rows.items[0].items.size())};
                    std::vector<ValueRef> items;
                    walk(rows, shape, 0, lp, [&](const JVal& x, const std::string& p) {
                        items.push_back(value(x, p, depth + 1));
                    });
                    return object_array(shape, items);
                }
            }
            std::vector<int64_t> shape = read_shape(v, list, false, path, count);
            std::vector<ValueRef> items;
            const bool one_d = shape.size() == 1;
            walk(list, shape, 0, lp, [&](const JVal& x, const std::string& p) {
                // PyMilo turns list items of 1-d object arrays into tuples
                items.push_back(one_d && x.kind == JVal::Arr ? sequence(doc_.tuple(), x, p, depth)
                                                             : value(x, p, depth + 1));
            });
            return object_array(shape, items);
        }
        if (spec.size() > 2 && spec[0] == '<' && spec[1] == 'U') return unicode_array(v, list, spec, path);
        fail(dt, path + ".pymiloed-ndarray-dtype",
             "ndarray dtype \"" + spec + "\" cannot be reconstructed exactly", MILO_ERR_UNSUPPORTED);
    }

    // An ndarray of dtype object with `items` in C order (as many as the shape holds).
    ValueRef object_array(const std::vector<int64_t>& shape, const std::vector<ValueRef>& items) {
        ValueRef t = doc_.tensor(MILO_DTYPE_OBJECT, shape);
        for (size_t k = 0; k < items.size(); ++k) t.set_item(k, items[k]);
        ValueRef dtype = doc_.object("numpy.dtype");
        ValueRef args = doc_.tuple();
        args.append(doc_.string("O8"));
        args.append(doc_.boolean(false));
        args.append(doc_.boolean(true));
        dtype.set_args(args);
        ValueRef st = doc_.tuple();
        for (ValueRef x : {doc_.integer(3), doc_.string("|"), doc_.null(), doc_.null(), doc_.null(),
                           doc_.integer(-1), doc_.integer(-1), doc_.integer(63)})
            st.append(x);
        dtype.set_state(st);
        ValueRef o = ndarray_object(dtype);
        doc_.put(o.state(), "data", t);
        return o;
    }

    ValueRef unicode_array(const JVal& v, const JVal& list, const std::string& spec, const std::string& path) {
        uint64_t chars = 0;
        auto r = std::from_chars(spec.data() + 2, spec.data() + spec.size(), chars);
        if (r.ec != std::errc() || r.ptr != spec.data() + spec.size() || chars == 0 || chars > (1u << 20))
            fail(v, path + ".pymiloed-ndarray-dtype", "bad string dtype \"" + spec + "\"", MILO_ERR_UNSUPPORTED);
        uint64_t count = 0;
        std::vector<int64_t> shape = read_shape(v, list, false, path, count);
        if (count > loc_size_limit() / (4 * chars))
            fail(v, path, "array larger than the file could hold", MILO_ERR_LIMIT);
        std::string bytes(count * 4 * chars, '\0');
        size_t k = 0;
        walk(list, shape, 0, path + ".pymiloed-ndarray-list", [&](const JVal& x, const std::string& p) {
            if (x.kind != JVal::Str) fail(x, p, "expected a string element");
            std::vector<uint32_t> cps;
            const unsigned char* s = reinterpret_cast<const unsigned char*>(x.text.data());
            for (size_t i = 0; i < x.text.size();) {  // valid UTF-8 (checked by the parser)
                uint32_t c = s[i];
                int n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
                c &= n == 1 ? 0x7F : n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07;
                for (int j = 1; j < n; ++j) c = (c << 6) | (s[i + j] & 0x3F);
                cps.push_back(c);
                i += size_t(n);
            }
            if (cps.size() > chars) fail(x, p, "string longer than the dtype " + spec);
            for (size_t j = 0; j < cps.size(); ++j) std::memcpy(&bytes[(k * chars + j) * 4], &cps[j], 4);
            ++k;
        });
        use("numpy.dtype", readers::Usage::Call);
        ValueRef dtype = doc_.object("numpy.dtype");
        ValueRef args = doc_.tuple();
        args.append(doc_.string("U" + std::to_string(chars)));
        args.append(doc_.boolean(false));
        args.append(doc_.boolean(true));
        dtype.set_args(args);
        ValueRef st = doc_.tuple();
        for (ValueRef x : {doc_.integer(3), doc_.string("<"), doc_.null(), doc_.null(), doc_.null(),
                           doc_.integer(int64_t(4 * chars)), doc_.integer(4), doc_.integer(8)})
            st.append(x);
        dtype.set_state(st);
        ValueRef o = ndarray_object(dtype);
        ValueRef shp = doc_.list();
        for (int64_t n : shape) shp.append(doc_.integer(n));
        doc_.put(o.state(), "shape", shp);
        doc_.put(o.state(), "data", doc_.bytes(bytes.data(), bytes.size()));
        return o;
    }

    // A function PyMilo names by module and name. numpy ufuncs ("function_module": "numpy")
    // pickle under numpy's core module on numpy 1.x and as numpy.<name> on 2.x.
    ValueRef function(const std::string& module, const std::string& name) {
        std::string full = join_global(module, name);
        if (module == "numpy" && core_ == "numpy.core") {
            readers::TrustVerdict v =
                readers::classify("numpy.core._multiarray_umath", name, readers::Usage::Reference);
            if (v.level == readers::TrustLevel::Trusted) full = "numpy.core._multiarray_umath." + name;
        }
        use(full, readers::Usage::Reference);
        return doc_.global(full.c_str());
    }

    // sklearn.tree._tree.Tree as Tree.__reduce__ gives it: (n_features, n_classes, n_outputs),
    // then {max_depth, node_count, nodes, values}. Nodes use the C struct layout of the
    // scikit-learn that wrote the file (fields aligned to their size).
    ValueRef tree(const JVal& t, const std::string& path) {
        const JVal& st = need(t, "internal_state", path);
        const std::string sp = path + ".internal_state";
        const JVal& nodes = need(st, "nodes", sp);
        const JVal& types = need(nodes, "types", sp + ".nodes");
        const JVal& names = need(nodes, "field-names", sp + ".nodes");
        const JVal& rows = need(nodes, "values", sp + ".nodes");
        if (types.kind != JVal::Arr || names.kind != JVal::Arr || types.items.size() != names.items.size() ||
            types.items.empty())
            fail(nodes, sp + ".nodes", "expected equally long types and field-names lists");
        std::vector<Field> fields;
        uint64_t offset = 0, align = 1;
        for (size_t i = 0; i < types.items.size(); ++i) {
            const JVal& ty = types.items[i];
            const JVal& nm = names.items[i];
            if (ty.kind != JVal::Str || nm.kind != JVal::Str)
                fail(ty, sp + ".nodes.types[" + std::to_string(i) + "]", "expected strings");
            int32_t d = dtype_from_spec(ty.text);
            if (d == 0)
                fail(ty, sp + ".nodes.types[" + std::to_string(i) + "]",
                     "unknown node field type " + describe(ty), MILO_ERR_UNSUPPORTED);
            uint64_t size = dtype_size(d);
            offset = (offset + size - 1) / size * size;
            fields.push_back({nm.text, d, offset});
            offset += size;
            align = std::max(align, size);
        }
        uint64_t itemsize = (offset + align - 1) / align * align;
        int64_t node_count = int_field(need(st, "node_count", sp), sp + ".node_count");
        if (rows.kind != JVal::Arr || int64_t(rows.items.size()) != node_count)
            fail(rows, sp + ".nodes.values", "expected node_count (" + std::to_string(node_count) + ") records");
        int64_t n_features = int_field(need(t, "n_features", path), path + ".n_features");
        ValueRef node_array = record_array(fields, itemsize, rows, {node_count}, uint64_t(node_count),
                                           sp + ".nodes.values");
        check_tree(node_array, fields, itemsize, node_count, n_features, rows, sp + ".nodes.values");

        const JVal& vals = need(st, "values", sp);
        JVal wrapped;  // the values as an ndarray of float64
        wrapped.kind = JVal::Obj;
        wrapped.offset = vals.offset;
        wrapped.members.emplace_back("pymiloed-ndarray-list", vals);
        JVal f64;
        f64.kind = JVal::Str;
        f64.text = "float64";
        wrapped.members.emplace_back("pymiloed-ndarray-dtype", f64);
        ValueRef values = ndarray(wrapped, sp + ".values", 0);

        const JVal& nc = need(t, "n_classes", path);
        JVal nc_wrapped;
        nc_wrapped.kind = JVal::Obj;
        nc_wrapped.offset = nc.offset;
        nc_wrapped.members.emplace_back("pymiloed-ndarray-list", nc);
        JVal i64;
        i64.kind = JVal::Str;
        i64.text = "int64";
        nc_wrapped.members.emplace_back("pymiloed-ndarray-dtype", i64);
        if (nc.kind != JVal::Arr) fail(nc, path + ".n_classes", "expected a list");
        ValueRef n_classes = ndarray(nc_wrapped, path + ".n_classes", 0);

        const std::string name = class_name("Tree", path, t.offset);
        use(name, readers::Usage::Call);
        ValueRef o = doc_.object(name.c_str());
        ValueRef args = doc_.tuple();
        args.append(doc_.integer(n_features));
        args.append(n_classes);
        args.append(doc_.integer(int_field(need(t, "n_outputs", path), path + ".n_outputs")));
        o.set_args(args);
        ValueRef state = doc_.map();
        doc_.put(state, "max_depth", doc_.integer(int_field(need(st, "max_depth", sp), sp + ".max_depth")));
        doc_.put(state, "node_count", doc_.integer(node_count));
        doc_.put(state, "nodes", node_array);
        doc_.put(state, "values", values);
        o.set_state(state);
        return o;
    }

    int64_t int_field(const JVal& v, const std::string& path) const {
        int64_t x = 0;
        if (v.kind != JVal::Int ||
            std::from_chars(v.text.data(), v.text.data() + v.text.size(), x).ec != std::errc() || x < 0)
            fail(v, path, "expected a non-negative integer");
        return x;
    }

    // The walk predict() does must stay inside the tree (as the pickle importer checks).
    void check_tree(ValueRef array, const std::vector<Field>& fields, uint64_t itemsize, int64_t count,
                    int64_t n_features, const JVal& at, const std::string& path) const {
        uint64_t left = UINT64_MAX, right = UINT64_MAX, feature = UINT64_MAX;
        for (const Field& f : fields) {
            if (f.dtype != MILO_DTYPE_INT64) continue;
            if (f.name == "left_child") left = f.offset;
            if (f.name == "right_child") right = f.offset;
            if (f.name == "feature") feature = f.offset;
        }
        if (left == UINT64_MAX || right == UINT64_MAX || feature == UINT64_MAX)
            fail(at, path, "node records lack int64 left_child/right_child/feature");
        const char* base = static_cast<const char*>(array.state().find("data").data().first);
        for (int64_t i = 0; i < count; ++i) {
            const char* rec = base + uint64_t(i) * itemsize;
            int64_t l, r, f;
            std::memcpy(&l, rec + left, 8);
            std::memcpy(&r, rec + right, 8);
            std::memcpy(&f, rec + feature, 8);
            bool leaf = l == -1 && r == -1;
            bool inner = l > i && l < count && r > i && r < count;
            if (!(leaf || inner) || (!leaf && (f < 0 || f >= n_features)))
                fail(at, path + "[" + std::to_string(i) + "]",
                     "node has left_child " + std::to_string(l) + ", right_child " + std::to_string(r) +
                         ", feature " + std::to_string(f) + " (node_count " + std::to_string(count) + ")");
        }
    }

    // ("MT19937", key[624], pos, has_gauss, cached_gaussian) → RandomState as numpy pickles it.
    ValueRef random_state(const JVal& t, const std::string& path) {
        if (t.kind != JVal::Arr || t.items.size() != 5 || t.items[0].kind != JVal::Str ||
            t.items[0].text != "MT19937")
            fail(t, path, "expected [\"MT19937\", key, pos, has_gauss, cached_gaussian]");
        JVal wrapped;
        wrapped.kind = JVal::Obj;
        wrapped.offset = t.items[1].offset;
        wrapped.members.emplace_back("pymiloed-ndarray-list", t.items[1]);
        JVal u32;
        u32.kind = JVal::Str;
        u32.text = "uint32";
        wrapped.members.emplace_back("pymiloed-ndarray-dtype", u32);
        if (t.items[1].kind != JVal::Arr || t.items[1].items.size() != 624)
            fail(t.items[1], path + "[1]", "expected 624 key words");
        ValueRef key = ndarray(wrapped, path + "[1]", 0);
        auto bitgen_state = [&](ValueRef k) {
            ValueRef s = doc_.map();
            doc_.put(s, "bit_generator", doc_.string("MT19937"));
            ValueRef inner = doc_.map();
            doc_.put(inner, "key", k);
            doc_.put(inner, "pos", value(t.items[2], path + "[2]", 0));
            doc_.put(s, "state", inner);
            return s;
        };
        ValueRef st = bitgen_state(key);
        doc_.put(st, "has_gauss", value(t.items[3], path + "[3]", 0));
        doc_.put(st, "gauss", value(t.items[4], path + "[4]", 0));
        const char* ctor = "numpy.random._pickle.__randomstate_ctor";
        const char* bitgen = "numpy.random._pickle.__bit_generator_ctor";
        use(ctor, readers::Usage::Call);
        ValueRef o = doc_.object(ctor);
        ValueRef args = doc_.tuple();
        if (core_ == "numpy.core") {  // numpy 1.x: __randomstate_ctor("MT19937", ctor)
            use(bitgen, readers::Usage::Reference);
            args.append(doc_.string("MT19937"));
            args.append(doc_.global(bitgen));
        } else {  // numpy 2.x: __randomstate_ctor(<MT19937 pickled with its own state>)
            use(bitgen, readers::Usage::Call);
            use("numpy.random._mt19937.MT19937", readers::Usage::Reference);
            ValueRef g = doc_.object(bitgen);
            ValueRef gargs = doc_.tuple();
            gargs.append(doc_.global("numpy.random._mt19937.MT19937"));
            g.set_args(gargs);
            ValueRef gst = doc_.tuple();
            ValueRef key2 = ndarray(wrapped, path + "[1]", 0);
            gst.append(bitgen_state(key2));
            gst.append(doc_.null());
            g.set_state(gst);
            args.append(g);
        }
        o.set_args(args);
        o.set_state(st);
        return o;
    }

    // PyMilo rebuilds the optimizer as AdamOptimizer(params, beta_1, beta_2, epsilon): the
    // default learning rate, t = 0 and zero moments shaped like the parameters.
    ValueRef adam(const JVal& t, const std::string& path) {
        const JVal& type = need(t, "type", path);
        if (type.kind != JVal::Str || type.text != "AdamOptimizer")
            fail(type, path + ".type", "expected \"AdamOptimizer\"");
        const JVal& params = need(t, "params", path);
        if (params.kind != JVal::Arr) fail(params, path + ".params", "expected a list of arrays");
        const std::string name = class_name("AdamOptimizer", path, t.offset);
        use(name, readers::Usage::Instantiate);
        ValueRef o = doc_.object(name.c_str());
        ValueRef st = doc_.map();
        doc_.put(st, "learning_rate_init", doc_.number(0.001));
        doc_.put(st, "learning_rate", doc_.number(0.001));
        for (const char* k : {"beta_1", "beta_2", "epsilon"})
            doc_.put(st, k, value(need(t, k, path), path + "." + k, 0));
        doc_.put(st, "t", doc_.integer(0));
        // ms, vs = [np.zeros_like(p) for p in params], where PyMilo passes the JSON values
        // as they are: an ndarray written as a dict gives a 0-d object array holding int 0.
        for (const char* k : {"ms", "vs"}) {
            ValueRef l = doc_.list();
            for (size_t i = 0; i < params.items.size(); ++i) {
                std::string p = path + ".params[" + std::to_string(i) + "]";
                const JVal& param = params.items[i];
                if (param.kind == JVal::Obj) {
                    l.append(object_array({}, {doc_.integer(0)}));
                    continue;
                }
                ValueRef a = value(param, p, 0);
                if (!a.is(MILO_KIND_TENSOR)) fail(param, p, "expected a numeric ndarray");
                ValueRef z = doc_.tensor(a.dtype(), a.shape());
                auto buf = z.mutable_data();
                if (buf.second) std::memset(buf.first, 0, buf.second);
                l.append(z);
            }
            doc_.put(st, k, l);
        }
        o.set_state(st);
        return o;
    }

    // `name`(*args) as a REDUCE call; `name` must be a class the default policy trusts to call.
    ValueRef call(const std::string& name, std::initializer_list<ValueRef> args) {
        use(name, readers::Usage::Call);
        ValueRef o = doc_.object(name.c_str());
        ValueRef t = doc_.tuple();
        for (ValueRef a : args) t.append(a);
        o.set_args(t);
        return o;
    }

    const std::string& str_field(const JVal& v, const char* key, const std::string& path) const {
        const JVal& f = need(v, key, path);
        if (f.kind != JVal::Str) fail(f, path + "." + key, "expected a string");
        return f.text;
    }
    bool bool_field(const JVal& v, const char* key, const std::string& path) const {
        const JVal& f = need(v, key, path);
        if (f.kind != JVal::Bool) fail(f, path + "." + key, "expected true or false");
        return f.b;
    }
    // Major * 1000 + minor of the scikit-learn version the document is made for.
    long sklearn_key() const {
        std::string_view s = kClassModuleStacks[stack_].sklearn_version;
        long major = 0, minor = 0;
        auto r = std::from_chars(s.data(), s.data() + s.size(), major);
        std::from_chars(r.ptr + 1, s.data() + s.size(), minor);
        return major * 1000 + minor;
    }

    // {"pymilo-ensemble-loss": {...}}: the loss object of a (Hist)GradientBoosting model, made
    // as LossFunctionTransporter.deserialize makes it: the model's _get_loss(sample_weight)
    // with sample_weight = None when the hessian was constant, else True. That picks a class
    // of sklearn._loss.loss by loss name and class count, called with (sample_weight, ...).
    ValueRef ensemble_loss(const JVal& t, const std::string& path) {
        const std::string& model = str_field(t, "model_type", path);
        const std::string& library = str_field(t, "loss-library", path);
        const std::string& loss = str_field(t, "loss", path);
        auto unsupported = [&](const std::string& what) {
            fail(t, path, what + " (model " + model + ", loss \"" + loss + "\", library " + library + ")",
                 MILO_ERR_UNSUPPORTED);
        };
        auto count = [&](const char* key) { return int_field(need(t, key, path), path + "." + key); };
        const std::string L = "sklearn._loss.loss.";
        if (library == "sklearn._loss.loss.BaseLoss") {
            ValueRef sw = bool_field(t, "constant_hessian", path) ? doc_.null() : doc_.boolean(true);
            auto by_classes = [&](int64_t n, bool binomial) {
                return binomial ? call(L + "HalfBinomialLoss", {sw})
                                : call(L + "HalfMultinomialLoss", {sw, doc_.integer(n)});
            };
            if (model == "HistGradientBoostingClassifier") {
                // PyMilo builds a default classifier (loss "log_loss") with the tree count.
                int64_t n = count("n_trees_per_iteration_");
                return by_classes(n, n == 1);
            }
            if (model == "GradientBoostingClassifier") {
                int64_t n = count("n_classes");
                if (loss == "log_loss") return by_classes(n, n == 2);
                if (loss == "exponential" && n <= 2) return call(L + "ExponentialLoss", {sw});
                unsupported("no such classifier loss");
            }
            static const std::pair<const char*, const char*> kRegression[] = {
                {"squared_error", "HalfSquaredError"}, {"absolute_error", "AbsoluteError"},
                {"poisson", "HalfPoissonLoss"},        {"gamma", "HalfGammaLoss"}};
            if (model == "HistGradientBoostingRegressor" || model == "GradientBoostingRegressor") {
                for (const auto& r : kRegression)
                    if (loss == r.first) return call(L + r.second, {sw});
                // PyMilo passes alpha as the quantile for GradientBoostingRegressor only; for
                // the Hist model it leaves quantile=None, which its own import cannot use.
                if (model == "GradientBoostingRegressor" && (loss == "huber" || loss == "quantile")) {
                    ValueRef alpha = value(need(t, "alpha", path), path + ".alpha", 0);
                    return call(L + (loss == "huber" ? "HuberLoss" : "PinballLoss"), {sw, alpha});
                }
            }
            unsupported("a loss PyMilo itself cannot rebuild");
        }
        if (library == "sklearn.ensemble._gb_losses.LossFunction") {  // scikit-learn < 1.3
            const std::string G = "sklearn.ensemble._gb_losses.";
            if (model == "GradientBoostingClassifier") {
                ValueRef n = doc_.integer(count("n_classes_"));
                if (loss == "deviance" || loss == "log_loss")
                    return call(G + (count("len(classes_)") > 2 ? "MultinomialDeviance" : "BinomialDeviance"), {n});
                if (loss == "exponential") return call(G + "ExponentialLoss", {n});
            } else if (model == "GradientBoostingRegressor") {
                if (loss == "squared_error") return call(G + "LeastSquaresError", {});
                if (loss == "absolute_error") return call(G + "LeastAbsoluteError", {});
                if (loss == "huber" || loss == "quantile")
                    return call(G + (loss == "huber" ? "HuberLossFunction" : "QuantileLossFunction"),
                                {value(need(t, "alpha", path), path + ".alpha", 0)});
            }
            unsupported("a loss PyMilo itself cannot rebuild");
        }
        fail(t, path, "loss library " + library + " (scikit-learn < 1.1) is not supported",
             MILO_ERR_UNSUPPORTED);
    }

    // {"pymilo_glm_base_loss": true, ...}: BaseLossTransporter rebuilds it as
    // <Model>()._get_loss(): Poisson and Gamma without arguments, Tweedie from power and link
    // (the identity link, or "auto" with power <= 0, gives HalfTweedieLossIdentity).
    ValueRef glm_loss(const JVal& v, const std::string& path) {
        const std::string L = "sklearn._loss.loss.";
        const std::string& model = model_stack_.empty() ? std::string() : model_stack_.back();
        if (model == "PoissonRegressor") return call(L + "HalfPoissonLoss", {});
        if (model == "GammaRegressor") return call(L + "HalfGammaLoss", {});
        if (model == "TweedieRegressor") {
            const JVal& power = need(v, "power", path);
            const std::string& link = str_field(v, "link", path);
            double p = power.kind == JVal::Float ? power.f : power.kind == JVal::Int ? std::stod(power.text) : NAN;
            if (std::isnan(p)) fail(power, path + ".power", "expected a number");
            bool identity = link == "identity" || (link == "auto" && p <= 0);
            if (!identity && link != "log" && link != "auto")
                fail(v, path + ".link", "unknown link " + describe(need(v, "link", path)), MILO_ERR_UNSUPPORTED);
            return call(L + (identity ? "HalfTweedieLossIdentity" : "HalfTweedieLoss"),
                        {doc_.null(), value(power, path + ".power", 0)});
        }
        fail(v, path, "GLM loss of a model other than Poisson/Gamma/TweedieRegressor (" + model + ")",
             MILO_ERR_UNSUPPORTED);
    }

    // {"pymilo-tree-type": "KDTree"|"BallTree"} of a neighbors model: NeighborsTreeTransporter
    // calls the tree class with the model's own _fit_X, leaf_size and effective_metric_ (and
    // effective_metric_params_ as keywords: only an empty map can be a positional call).
    ValueRef neighbors_tree(const JVal& t, const JVal& data,
                            std::vector<std::pair<std::string, ValueRef>>& members,
                            const std::string& path) {
        static const char* const kRebuilt[] = {"KNeighborsRegressor", "KNeighborsClassifier",
                                               "RadiusNeighborsRegressor", "RadiusNeighborsClassifier",
                                               "NearestNeighbors", "NearestCentroid"};
        if (std::find_if(std::begin(kRebuilt), std::end(kRebuilt),
                         [&](const char* m) { return model_stack_.back() == m; }) == std::end(kRebuilt)) {
            // Other models (LocalOutlierFactor): PyMilo leaves the serialized dict in place.
            ValueRef raw = doc_.map();
            for (const auto& m : data.find(path.substr(path.rfind('.') + 1))->members)
                doc_.put(raw, m.first, value(m.second, path + "." + m.first, 1));
            return raw;
        }
        auto member = [&](const char* key) {
            for (const auto& m : members)
                if (m.first == key) return m.second;
            fail(data, path, std::string("expected the key \"") + key + "\" beside the tree");
        };
        if (t.kind != JVal::Str || (t.text != "KDTree" && t.text != "BallTree"))
            fail(t, path, "expected \"KDTree\" or \"BallTree\"", MILO_ERR_UNSUPPORTED);
        const JVal& params = need(data, "effective_metric_params_", path);
        if (params.kind != JVal::Obj || !params.members.empty())
            fail(params, path, "tree with metric parameters (keyword arguments) is not supported",
                 MILO_ERR_UNSUPPORTED);
        const std::string name = t.text == "KDTree" ? "sklearn.neighbors._kd_tree.KDTree"
                                                    : "sklearn.neighbors._ball_tree.BallTree";
        // The tree keeps PyMilo's _fit_X itself (check_array returns it unchanged) only because
        // that array's dtype is numpy's own float64 descriptor; an unpickled dtype is a copy,
        // and check_array would make a view. So a float64 _fit_X gets numpy.dtype("f8", False,
        // False) (copy=False: numpy's own descriptor; the state set on it changes nothing):
        // the tree and the model then share one array, as in PyMilo.
        for (auto& m : members) {
            if (m.first != "_fit_X" || !m.second.is(MILO_KIND_TENSOR) ||
                m.second.dtype() != MILO_DTYPE_FLOAT64)
                continue;
            ValueRef dtype =
                call("numpy.dtype", {doc_.string("f8"), doc_.boolean(false), doc_.boolean(false)});
            ValueRef st = doc_.tuple();  // the state it already has ("=": native, on any host)
            for (ValueRef x : {doc_.integer(3), doc_.string("="), doc_.null(), doc_.null(),
                               doc_.null(), doc_.integer(-1), doc_.integer(-1), doc_.integer(0)})
                st.append(x);
            dtype.set_state(st);
            ValueRef a = ndarray_object(dtype);
            doc_.put(a.state(), "data", m.second);
            m.second = a;
        }
        return call(name, {member("_fit_X"), member("leaf_size"), member("effective_metric_")});
    }

    // {"pymilo-generator": {"state": null}}: GeneratorTransporter makes default_rng(0) and calls
    // __setstate__(state). On numpy 2.x Generator.__getstate__ is None (PyMilo writes null) and
    // __setstate__(None) changes nothing: the result is default_rng(0), pickled by numpy 2.x as
    // below (PCG64 seeded by SeedSequence(0); its state numbers are fixed). A non-null state
    // (numpy 1.x files) is not supported.
    ValueRef generator(const JVal& g, const std::string& path) {
        const JVal& state = need(g, "state", path);
        if (state.kind != JVal::Null || core_ != "numpy._core")
            fail(g, path, "numpy Generator with a state (numpy 1.x) is not supported",
                 MILO_ERR_UNSUPPORTED);
        const std::string R = "numpy.random.";
        const std::string pcg = R + "_pcg64.PCG64", seq = R + "bit_generator.SeedSequence";
        use(pcg, readers::Usage::Reference);
        use(seq, readers::Usage::Reference);
        ValueRef bits = call(R + "_pickle.__bit_generator_ctor", {doc_.global(pcg.c_str())});
        ValueRef pcg_state = doc_.map(), inner = doc_.map();
        doc_.put(pcg_state, "bit_generator", doc_.string("PCG64"));
        doc_.put(inner, "state", doc_.integer_text("35399562948360463058890781895381311971"));
        doc_.put(inner, "inc", doc_.integer_text("87136372517582989555478159403783844777"));
        doc_.put(pcg_state, "state", inner);
        doc_.put(pcg_state, "has_uint32", doc_.integer(0));
        doc_.put(pcg_state, "uinteger", doc_.integer(0));
        // SeedSequence(0) as its Cython __reduce__ writes it: (class, field checksum, None) and
        // the state (entropy, n_children_spawned, pool, pool_size, spawn_key).
        ValueRef seed = call(R + "bit_generator.__pyx_unpickle_SeedSequence",
                             {doc_.global(seq.c_str()), doc_.integer(65708578), doc_.null()});
        ValueRef pool = doc_.tensor(MILO_DTYPE_UINT32, {4});
        const uint32_t words[4] = {4265667335u, 1328953910u, 1320288413u, 3365567143u};
        std::memcpy(pool.mutable_data().first, words, sizeof words);
        use_array();
        ValueRef seed_state = doc_.tuple();
        for (ValueRef x : {doc_.integer(0), doc_.integer(0), pool, doc_.integer(4), doc_.tuple()})
            seed_state.append(x);
        seed.set_state(seed_state);
        ValueRef bits_state = doc_.tuple();
        bits_state.append(pcg_state);
        bits_state.append(seed);
        bits.set_state(bits_state);
        return call(R + "_pickle.__generator_ctor", {bits});
    }

    // {"pymilo-bunch": {...}} (Stacking*/Voting* named_estimators_): BunchTransporter puts the
    // values into a Bunch() as json.load read them; then GeneralDataStructureTransporter goes
    // through the Bunch like any dict (general_dict). Pickled, a Bunch is __newobj__(Bunch) +
    // its items (+ its __dict__ as BUILD state where Bunch() has one).
    ValueRef bunch(const JVal& b, const std::string& path) {
        if (b.kind != JVal::Obj) fail(b, path, "expected an object");
        const std::string name = "sklearn.utils._bunch.Bunch";
        use(name, readers::Usage::Instantiate);
        ValueRef o = doc_.object(name.c_str());
        ValueRef extras = doc_.object("(pickle_extras)");
        ValueRef st = doc_.map();
        doc_.put(st, "setitem", general_dict(b, path));
        // Bunch.__init__ sets _deprecated_key_to_warnings on scikit-learn 1.9.1, not on 1.2.1
        // (the two stacks checked); taken to start with 1.3.
        if (sklearn_key() >= 1003) {
            ValueRef dict = doc_.map();
            doc_.put(dict, "_deprecated_key_to_warnings", doc_.map());
            ValueRef build = doc_.list();
            build.append(dict);
            doc_.put(st, "build", build);
        }
        extras.set_state(st);
        o.set_state(extras);
        return o;
    }

    // GeneralDataStructureTransporter.get_deserialized_dict on a dict of raw JSON values: it
    // ignores "pymilo-bypass" and the other transporters' forms, rebuilds tuples, sets, slices,
    // ndarrays and numpy scalars at any depth, and in lists only ndarrays.
    ValueRef general_dict(const JVal& v, const std::string& path) {
        const bool ndarray_form = has(v, "pymiloed-data-structure") &&
                                  v.find("pymiloed-data-structure")->kind == JVal::Str &&
                                  v.find("pymiloed-data-structure")->text == "numpy.ndarray";
        if (has(v, "pymilo-tuple") || has(v, "pymilo-set") || has(v, "pymilo-slice"))
            fail(v, path, "tuple, set or slice inside a Bunch is not supported", MILO_ERR_UNSUPPORTED);
        if (ndarray_form) return general_ndarray(v, path);
        if (has(v, "np-type") && has(v, "value")) return numpy_value(v, path);
        ValueRef map = doc_.map();
        for (const auto& m : v.members) {
            const std::string p = path + "." + m.first;
            ValueRef x;
            if (m.second.kind == JVal::Obj) {
                if (has(m.second, "np-type") && !has(m.second, "value"))
                    fail(m.second, p, "numpy key inside a Bunch is not supported", MILO_ERR_UNSUPPORTED);
                x = general_dict(m.second, p);
            } else if (m.second.kind == JVal::Arr) {
                x = doc_.list();
                for (size_t i = 0; i < m.second.items.size(); ++i) {
                    const JVal& item = m.second.items[i];
                    const JVal* t = item.find("pymiloed-data-structure");
                    x.append(t && t->kind == JVal::Str && t->text == "numpy.ndarray"
                                 ? general_ndarray(item, p + "[" + std::to_string(i) + "]")
                                 : raw(item));
                }
            } else {
                x = raw(m.second);
            }
            doc_.put(map, m.first, x);
        }
        return map;
    }

    // deep_deserialize_ndarray: as ndarray() for number and string dtypes (object arrays keep
    // raw items there; not supported).
    ValueRef general_ndarray(const JVal& v, const std::string& path) {
        const JVal* dt = v.find("pymiloed-ndarray-dtype");
        if (dt && dt->kind == JVal::Str && dt->text == "object")
            fail(v, path, "object ndarray inside a Bunch is not supported", MILO_ERR_UNSUPPORTED);
        return ndarray(v, path, 0);
    }

    // A JSON value as json.load gives it (the parser bounds the nesting).
    ValueRef raw(const JVal& v) {
        switch (v.kind) {
            case JVal::Null: return doc_.null();
            case JVal::Bool: return doc_.boolean(v.b);
            case JVal::Int: return integer(v);
            case JVal::Float: return doc_.number(v.f);
            case JVal::Str: return doc_.string(v.text);
            case JVal::Arr: {
                ValueRef l = doc_.list();
                for (const JVal& x : v.items) l.append(raw(x));
                return l;
            }
            case JVal::Obj: {
                ValueRef m = doc_.map();
                for (const auto& x : v.members) doc_.put(m, x.first, raw(x.second));
                return m;
            }
        }
        fail(v, "", "unknown JSON value");
    }

    // {"pymilo-sgd-loss": name}: SGDClassifier(loss=name)._get_loss_function(name), i.e. the
    // class of SGDClassifier.loss_functions with its default argument (epsilon 0.1).
    ValueRef sgd_loss(const JVal& t, const std::string& path) {
        if (t.kind != JVal::Str) fail(t, path, "expected a loss name");
        const std::string F = "sklearn.linear_model._sgd_fast.";
        const bool cy = sklearn_key() >= 1006;  // scikit-learn 1.6 moved three to sklearn._loss
        const std::string C = "sklearn._loss._loss.";
        const std::string& n = t.text;
        if (n == "hinge") return call(F + "Hinge", {doc_.number(1.0)});
        if (n == "squared_hinge") return call(F + "SquaredHinge", {doc_.number(1.0)});
        if (n == "perceptron") return call(F + "Hinge", {doc_.number(0.0)});
        if (n == "log_loss" || (n == "log" && !cy)) return call(cy ? C + "CyHalfBinomialLoss" : F + "Log", {});
        if (n == "modified_huber") return call(F + "ModifiedHuber", {});
        if (n == "squared_error") return call(cy ? C + "CyHalfSquaredError" : F + "SquaredLoss", {});
        if (n == "huber") return call(cy ? C + "CyHuberLoss" : F + "Huber", {doc_.number(0.1)});
        if (n == "epsilon_insensitive") return call(F + "EpsilonInsensitive", {doc_.number(0.1)});
        if (n == "squared_epsilon_insensitive")
            return call(F + "SquaredEpsilonInsensitive", {doc_.number(0.1)});
        fail(t, path, "unknown SGD loss " + describe(t), MILO_ERR_UNSUPPORTED);
    }

    // TreePredictor(nodes, binned_left_cat_bitsets, raw_left_cat_bitsets): its __dict__.
    ValueRef tree_predictor(const JVal& v, const std::string& path) {
        const JVal& d = need(v, "pymiloed-data", path);
        const std::string dp = path + ".pymiloed-data";
        const std::string name = class_name("TreePredictor", path, v.offset);
        use(name, readers::Usage::Instantiate);
        ValueRef o = doc_.object(name.c_str());
        ValueRef st = doc_.map();
        for (const char* k : {"nodes", "binned_left_cat_bitsets", "raw_left_cat_bitsets"}) {
            const JVal& a = need(d, k, dp);
            if (!a.find("pymiloed-ndarray-list")) fail(a, dp + "." + k, "expected an ndarray");
            doc_.put(st, k, ndarray(a, dp + "." + k, 0));
        }
        o.set_state(st);
        return o;
    }

    DocRef doc_;
    const Located& loc_;
    std::string version_;
    size_t stack_ = 0;
    std::string core_;
    std::vector<std::pair<std::string, readers::Usage>> uses_;
    std::vector<std::string> model_stack_;  // the estimators being converted, innermost last
    std::set<std::pair<std::string, readers::Usage>> seen_;
};

std::string display(const char* path) {
    return path && *path ? std::string(path) : std::string("<memory>");
}

}  // namespace

int32_t probe_pymilo(const uint8_t* head, size_t size) {
    std::string_view s(reinterpret_cast<const char*>(head), size);
    size_t i = s.find_first_not_of(" \t\r\n");
    if (i == std::string_view::npos || s[i] != '{') return 0;
    size_t j = s.find_first_not_of(" \t\r\n", i + 1);
    if (j != std::string_view::npos && s.compare(j, 6, "\"milo\"") == 0) return 0;  // a Milo document
    for (const char* marker : {"\"pymilo_version\"", "\"model_type\"", "\"pymiloed-", "\"pymilo-",
                               "\"np-type\""})
        if (s.find(marker) != std::string_view::npos) return 40;
    // PyMilo writes "data" first; files of the old format (plain lists) have no marker early.
    if (j != std::string_view::npos && s.compare(j, 6, "\"data\"") == 0) return 30;
    return 0;
}

void import_pymilo(DocRef doc, const uint8_t* data, size_t size, const char* path) {
    const char* text = reinterpret_cast<const char*>(data);
    Located loc(display(path), text, size);
    JVal root = Parser(loc, text, size).parse_document();
    if (root.kind != JVal::Obj) loc.fail(MILO_ERR_CORRUPT, root.offset, "$: expected a JSON object");
    auto str = [&](const char* key, bool required) -> std::string {
        const JVal* v = root.find(key);
        if (v == nullptr) {
            if (required)
                loc.fail(MILO_ERR_CORRUPT, root.offset,
                         std::string("$: not a PyMilo file: no \"") + key + "\" key");
            return "";
        }
        if (v->kind != JVal::Str) loc.fail(MILO_ERR_CORRUPT, v->offset, std::string("$.") + key + ": expected a string");
        return v->text;
    };
    const std::string model_type = str("model_type", true);
    const std::string pymilo_version = str("pymilo_version", true);
    const std::string sklearn_version = str("sklearn_version", false);
    const JVal* payload = root.find("data");
    if (payload == nullptr) loc.fail(MILO_ERR_CORRUPT, root.offset, "$: no \"data\" key");

    Converter conv(doc, loc, sklearn_version.empty() ? "1.2.1" : sklearn_version);
    // The model type first: an unknown model is reported as such, whatever its payload.
    conv.class_name(model_type, "$.model_type", root.find("model_type")->offset);
    ValueRef obj = conv.estimator(model_type, *payload, "$.data");
    doc.set_root(obj);

    char sha[65] = {0};
    doc.api()->hash_sha256(data, size, sha);
    doc.set_header("framework.name", "scikit-learn");
    if (!sklearn_version.empty()) doc.set_header("framework.version", sklearn_version);
    doc.set_header("type", std::string(obj.name()));
    doc.set_header("transporter.id", kTransporterId);
    doc.set_header("transporter.revision", kRevision);
    doc.set_header("source.kind", "pymilo");
    doc.set_header("source.version", pymilo_version);
    if (sha[0]) doc.set_header("source.sha256", sha);
    doc.set_metadata("pickle.numpy_core", conv.numpy_core());
    conv.set_trust();
}

}  // namespace sklearn
}  // namespace milo
