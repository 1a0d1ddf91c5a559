// Tests of the safe pickle VM (sdk/readers/src/pickle_vm.cpp).
//  * Real pickles written by make_pickle_cases.py (C and Python picklers, protocols 0-5,
//    optimized variants, numpy arrays, hand-made Python 2 streams): the graph, rendered to the
//    canonical text the script's symbolic unpickler renders, must match exactly, and so must
//    the globals with their usage.
//  * Must-fail streams (hand-made bytes): each asserts the error's byte offset and message.
//  * Limits: memo fan-out, 1,000,000-deep nesting, huge memo indices.
//  * [.scale] (run by pickle_vm_scale): a ~48 MB RandomForestClassifier pickle.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "milo/readers/pickle_vm.hpp"

namespace pk = milo::pickle;
using pk::Kind;
using pk::Node;

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    REQUIRE(f.good());
    std::ostringstream s;
    s << f.rdbuf();
    return s.str();
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

// Bytes from a spec: two-digit hex bytes, and 'text' copied as is; spaces separate.
std::string b(const std::string& spec) {
    std::string out;
    for (size_t i = 0; i < spec.size();) {
        if (spec[i] == ' ') {
            ++i;
        } else if (spec[i] == '\'') {
            const size_t end = spec.find('\'', i + 1);
            REQUIRE(end != std::string::npos);
            out += spec.substr(i + 1, end - i - 1);
            i = end + 1;
        } else {
            REQUIRE(i + 1 < spec.size());
            out += static_cast<char>(std::stoi(spec.substr(i, 2), nullptr, 16));
            i += 2;
        }
    }
    return out;
}

std::string esc(std::string_view s) {
    std::string out;
    char buf[8];
    for (char c : s) {
        const auto u = static_cast<uint8_t>(c);
        if (u >= 0x21 && u <= 0x7E && c != '"' && c != '\\') {
            out += c;
        } else {
            std::snprintf(buf, sizeof buf, "\\x%02x", u);
            out += buf;
        }
    }
    return out;
}

std::string hex(std::string_view s) {
    std::string out;
    char buf[4];
    for (char c : s) {
        std::snprintf(buf, sizeof buf, "%02x", static_cast<uint8_t>(c));
        out += buf;
    }
    return out;
}

// The canonical rendering of make_pickle_cases.py's render(): see there.
class Renderer {
public:
    std::string operator()(const Node* root) {
        counts_[root] = 1;
        std::vector<const Node*> todo{root};
        std::unordered_set<const Node*> seen;
        while (!todo.empty()) {
            const Node* n = todo.back();
            todo.pop_back();
            if (!seen.insert(n).second) continue;
            for (const Node* c : children(n)) {
                ++counts_[c];
                todo.push_back(c);
            }
        }
        return render(root, 0);
    }

private:
    static std::vector<const Node*> children(const Node* n) {
        std::vector<const Node*> out;
        if (n->is_container()) return {n->items.begin(), n->items.end()};
        if (n->kind == Kind::Reduce || n->kind == Kind::NewObj) {
            out = {n->callable, n->args};
            if (n->kwargs) out.push_back(n->kwargs);
        } else if (n->kind == Kind::PersId) {
            out = {n->args};
        }
        for (auto* list : {&n->states, &n->list_items, &n->dict_items})
            out.insert(out.end(), list->begin(), list->end());
        return out;
    }

    std::string render(const Node* n, int depth) {
        REQUIRE(depth < 5000);
        const auto known = ids_.find(n);
        if (known != ids_.end()) return "#" + std::to_string(known->second);
        std::string prefix;
        if (counts_[n] > 1) {
            const int id = static_cast<int>(ids_.size());
            ids_[n] = id;
            prefix = "#" + std::to_string(id) + "=";
        }
        return prefix + body(n, depth);
    }

    std::string join(const std::vector<Node*>& items, int depth) {
        std::string out;
        for (const Node* x : items) {
            if (!out.empty()) out += " ";
            out += render(x, depth + 1);
        }
        return out;
    }

    std::string extras(const Node* n, int depth) {
        std::string out;
        const std::pair<const char*, const std::vector<Node*>*> parts[] = {
            {" st[", &n->states}, {" li[", &n->list_items}, {" di[", &n->dict_items}};
        for (const auto& [tag, items] : parts) {
            if (items->empty()) continue;
            out += tag;
            out += join(*items, depth);
            out += "]";
        }
        return out;
    }

    std::string body(const Node* n, int depth) {
        const std::string ro = n->readonly ? "!ro" : "";
        switch (n->kind) {
            case Kind::None: return "N";
            case Kind::Bool: return n->i ? "T" : "F";
            case Kind::Int: return "i" + std::to_string(n->i);
            case Kind::Long: return "l" + hex(n->text);
            case Kind::Float: {
                uint64_t bits;
                std::memcpy(&bits, &n->f, 8);
                char buf[24];
                std::snprintf(buf, sizeof buf, "f%016llx", static_cast<unsigned long long>(bits));
                return buf;
            }
            case Kind::Str: return "s\"" + esc(n->text) + "\"" + ro;
            case Kind::Bytes: return "b\"" + esc(n->text) + "\"" + ro;
            case Kind::ByteArray: return "ba\"" + esc(n->text) + "\"" + ro;
            case Kind::Buffer:
                return "buf" + std::to_string(n->i) + "\"" + esc(n->text) + "\"" + ro;
            case Kind::List: return "[" + join(n->items, depth) + "]";
            case Kind::Tuple: return "(" + join(n->items, depth) + ")";
            case Kind::Dict: return "{" + join(n->items, depth) + "}";
            case Kind::Set: return "set{" + join(n->items, depth) + "}";
            case Kind::FrozenSet: return "fset{" + join(n->items, depth) + "}";
            case Kind::Global: return "g\"" + esc(n->text) + "\",\"" + esc(n->name) + "\"";
            case Kind::Reduce:
            case Kind::NewObj: {
                // One render() per statement: ids are numbered in rendering order.
                std::string out = n->kind == Kind::Reduce ? "R(" : "O(";
                out += render(n->callable, depth + 1);
                out += " ";
                out += render(n->args, depth + 1);
                if (n->kwargs) out += " kw=" + render(n->kwargs, depth + 1);
                out += extras(n, depth);
                return out + ")";
            }
            case Kind::PersId: {
                std::string out = "P(" + render(n->args, depth + 1);
                out += extras(n, depth);
                return out + ")";
            }
            case Kind::Ext: return "X(" + std::to_string(n->i) + extras(n, depth) + ")";
        }
        return "?";
    }

    std::unordered_map<const Node*, int> counts_, ids_;
};

std::string render(const Node* root) { return Renderer()(root); }

std::string flags(const pk::GlobalRef& g) {
    return std::string(g.called ? "c" : "-") + (g.instantiated ? "i" : "-") +
           (g.referenced ? "r" : "-");
}

// Runs `data`; returns the error (offset, reason) or fails the test when the stream is accepted.
pk::Error must_fail(const std::string& data, const pk::Options& options = {}) {
    pk::Graph g;
    try {
        pk::run(g, u8(data), data.size(), options);
    } catch (const pk::Error& e) {
        return e;
    }
    FAIL("accepted: " << esc(data));
    throw std::logic_error("unreachable");
}

pk::Graph& parse(pk::Graph& g, const std::string& data, const pk::Options& options = {}) {
    const size_t end = pk::run(g, u8(data), data.size(), options);
    REQUIRE(end == data.size());
    return g;
}

const nlohmann::json& manifest() {
    static const nlohmann::json m =
        nlohmann::json::parse(read_file(std::string(MILO_PICKLE_CASES) + "/manifest.json"));
    return m;
}

}  // namespace

TEST_CASE("pickles written by Python give the graphs Python's symbolic unpickler expects") {
    const std::string dir = MILO_PICKLE_CASES;
    size_t cases = 0, checked_with_loads = 0, with_globals = 0;
    for (const auto& c : manifest()["cases"]) {
        const std::string name = c["name"];
        INFO("case " << name);
        const std::string data = read_file(dir + "/" + name + ".pkl");
        pk::Options options;
        const std::string py2 = c["py2"];
        options.py2_strings = py2 == "latin1"  ? pk::Py2Strings::Latin1
                              : py2 == "bytes" ? pk::Py2Strings::Bytes
                                               : pk::Py2Strings::Ascii;
        std::vector<std::string> buffer_data;
        std::vector<std::string_view> buffers;
        if (c.contains("buffers")) {
            if (c["buffers"] == "unresolved") {
                options.allow_unresolved_buffers = true;
            } else {
                for (int i = 0; i < c["buffers"].get<int>(); ++i)
                    buffer_data.push_back(read_file(dir + "/" + name + ".buf" + std::to_string(i)));
                for (const auto& s : buffer_data) buffers.push_back(s);
                options.buffers = &buffers;
            }
        }
        pk::Graph g;
        parse(g, data, options);
        CHECK(g.protocol == c["protocol"].get<int>());
        CHECK(g.opcode_count == c["opcodes"].get<uint64_t>());
        CHECK(g.node_count() == c["nodes"].get<size_t>());
        CHECK(render(g.root) == c["root"].get<std::string>());
        REQUIRE(g.globals.size() == c["globals"].size());
        for (size_t i = 0; i < g.globals.size(); ++i) {
            const auto& want = c["globals"][i];
            const pk::GlobalRef& got = g.globals[i];
            CHECK(esc(got.module) == want[0].get<std::string>());
            CHECK(esc(got.name) == want[1].get<std::string>());
            CHECK(esc(got.raw_module) == want[2].get<std::string>());
            CHECK(esc(got.raw_name) == want[3].get<std::string>());
            CHECK(got.first_offset == want[4].get<uint64_t>());
            CHECK(flags(got) == want[5].get<std::string>());
        }

        // The same stream embedded in a larger buffer: run() from `pos`, stopping at STOP.
        const std::string framed = "junk" + data + "trailing";
        pk::Options embedded = options;
        embedded.allow_trailing = true;
        embedded.base_offset = 1000;
        pk::Graph g2;
        CHECK(pk::run(g2, u8(framed), framed.size(), embedded, 4) == 4 + data.size());
        CHECK(render(g2.root) == c["root"].get<std::string>());
        CHECK(g2.root->offset == g.root->offset + 1004);

        ++cases;
        checked_with_loads += c.contains("checked_with_loads");
        with_globals += !g.globals.empty();
    }
    WARN(cases << " cases (" << checked_with_loads << " plain-data graphs also checked against "
               << "pickle.loads by the generator, " << with_globals << " with globals)");
    CHECK(cases >= 500);
    CHECK(with_globals >= 150);
}

TEST_CASE("opcode names and fix_import match CPython's pickletools and _compat_pickle") {
    const auto& m = manifest();
    REQUIRE(m["opcodes"].size() == 68);
    std::map<int, std::string> want;
    for (const auto& op : m["opcodes"]) want[op[0].get<int>()] = op[1].get<std::string>();
    for (int code = 0; code < 256; ++code) {
        INFO("opcode " << code);
        const char* name = pk::opcode_name(static_cast<uint8_t>(code));
        if (want.count(code))
            CHECK((name && want[code] == name));
        else
            CHECK(name == nullptr);
    }
    for (const auto& e : m["name_mapping"]) {
        std::string module = e[0], name = e[1];
        INFO(module << "." << name);
        CHECK(pk::fix_import(module, name));
        CHECK(module == e[2].get<std::string>());
        CHECK(name == e[3].get<std::string>());
    }
    for (const auto& e : m["import_mapping"]) {
        std::string module = e[0], name = "SomeName";
        INFO(module);
        CHECK(pk::fix_import(module, name));
        CHECK(module == e[1].get<std::string>());
        CHECK(name == "SomeName");
    }
    std::string module = "numpy", name = "ndarray";
    CHECK_FALSE(pk::fix_import(module, name));
    CHECK(module == "numpy");
    module = "exceptions", name = "NotAnException";  // module unmapped, name unknown
    CHECK_FALSE(pk::fix_import(module, name));
}

TEST_CASE("kind names") {
    const std::pair<Kind, const char*> kinds[] = {
        {Kind::None, "none"}, {Kind::Bool, "bool"}, {Kind::Int, "int"}, {Kind::Long, "long"},
        {Kind::Float, "float"}, {Kind::Str, "str"}, {Kind::Bytes, "bytes"},
        {Kind::ByteArray, "bytearray"}, {Kind::List, "list"}, {Kind::Tuple, "tuple"},
        {Kind::Dict, "dict"}, {Kind::Set, "set"}, {Kind::FrozenSet, "frozenset"},
        {Kind::Global, "global"}, {Kind::Reduce, "reduce"}, {Kind::NewObj, "newobj"},
        {Kind::PersId, "persid"}, {Kind::Ext, "ext"}, {Kind::Buffer, "buffer"}};
    for (const auto& [kind, name] : kinds) CHECK(std::string(pk::kind_name(kind)) == name);
}

namespace {

struct FailCase {
    const char* what;
    std::string data;
    uint64_t offset;
    const char* message;
};

}  // namespace

TEST_CASE("malformed and hostile streams fail with the offset and reason") {
    const std::string class_key = "8c 09 '__class__'";
    const std::string newobj = "'cbuiltins\nobject\n)' 81";  // object.__new__(object)
    const std::vector<FailCase> cases = {
        {"empty input", "", 0, "empty pickle stream"},
        {"trailing bytes", b("'N.xy'"), 2, "2 trailing bytes after STOP at byte 1"},
        {"broken tail", b("80 02 5d 71 00"), 5, "the input ends before STOP"},
        {"broken tail in a text line", b("'I12'"), 0, "truncated INT operand: no '\\n'"},
        {"unbalanced MARK at STOP", b("'(N.'"), 2, "unbalanced MARK/stack at STOP"},
        {"extra stack items at STOP", b("'NN.'"), 2, "found 2 value(s) and 0 open MARK(s)"},
        {"STOP on an empty stack", b("'.'"), 0, "found 0 value(s)"},
        {"stack underflow (APPEND)", b("']a'"), 1, "stack underflow: APPEND"},
        {"stack underflow across a MARK", b("'](Na'"), 3, "stack underflow: APPEND"},
        {"stack underflow (POP)", b("'0'"), 0, "stack underflow: POP"},
        {"stack underflow (REDUCE)", b("')R'"), 1, "stack underflow: REDUCE"},
        {"stack underflow (TUPLE3)", b("'NN' 87"), 2, "stack underflow: TUPLE3"},
        {"stack underflow (APPENDS, list below the MARK missing)", b("'(Ne'"), 2,
         "stack underflow: APPENDS"},
        {"POP_MARK without MARK", b("'1'"), 0, "POP_MARK without a MARK"},
        {"TUPLE without MARK", b("'Nt'"), 1, "TUPLE without a MARK"},
        {"SETITEM on a list", b("']NNs'"), 3, "SETITEM on a list (created at byte 0)"},
        {"SETITEM on a tuple", b("')NNs'"), 3, "SETITEM on a tuple (created at byte 0)"},
        {"SETITEM on an int", b("'K' 01 'NNs'"), 4, "SETITEM on an int (created at byte 0)"},
        {"SETITEMS on a list", b("'](NNu'"), 4, "SETITEMS on a list"},
        {"SETITEMS on an int", b("'K' 07 '(NNu'"), 5, "SETITEMS on an int"},
        {"APPEND to a dict", b("'}Na'"), 2, "APPEND to a dict (created at byte 0)"},
        {"APPENDS to a str", b("8c 01 'x(Ne'"), 5, "APPENDS to a str (created at byte 0)"},
        {"ADDITEMS to a list", b("'](N' 90"), 3, "ADDITEMS to a list"},
        {"ADDITEMS to a frozenset", b("'(' 91 '(N' 90"), 4, "ADDITEMS to a frozenset"},
        {"BUILD on an int", b("'K' 01 '}b'"), 3, "BUILD on an int (created at byte 0)"},
        {"BUILD on a list", b("']}b'"), 2, "BUILD on a list"},
        {"BUILD on a global", b("'cos\nsystem\n}b'"), 12, "BUILD on a global"},
        {"BUILD sets __class__ (dict state)", b(newobj + "'}'" + class_key + "'Nsb'"), 33,
         "BUILD sets __class__"},
        {"BUILD sets __class__ (slotstate)", b(newobj + "'N}'" + class_key + "'Ns' 86 'b'"), 35,
         "BUILD sets __class__"},
        {"BUILD sets __class__ (state)", b(newobj + "'}'" + class_key + "'NsN' 86 'b'"), 35,
         "BUILD sets __class__"},
        {"BUILD state gains __class__ afterwards",
         b(newobj + "'}q' 00 'bh' 00 " + class_key + "'Ns'"), 37, "SETITEM: BUILD sets __class__"},
        {"NEWOBJ with a list as args", b("'cm\nC\n]' 81"), 6,
         "NEWOBJ: the arguments are a list (created at byte 5), not a tuple"},
        {"NEWOBJ with a literal class", b("'K' 01 ')' 81"), 3, "NEWOBJ: the class is an int"},
        {"NEWOBJ with a str class", b("8c 01 'x)' 81"), 4, "NEWOBJ: the class is a str"},
        {"NEWOBJ_EX with a list as kwargs", b("'cm\nC\n)]' 92"), 7,
         "NEWOBJ_EX: the keyword arguments are a list"},
        {"OBJ without class", b("'(o'"), 1, "OBJ without a class after the MARK"},
        {"OBJ with a literal class", b("'(NNo'"), 3, "OBJ: the class is a none"},
        {"INST without MARK", b("'im\nC\n'"), 0, "INST without a MARK"},
        {"REDUCE on a literal", b("'K' 01 ')R'"), 3, "REDUCE: the callable is an int"},
        {"REDUCE on a list", b("'])R'"), 2, "REDUCE: the callable is a list"},
        {"REDUCE with a dict as args", b("'cm\nf\n}R'"), 6, "REDUCE: the arguments are a dict"},
        {"memo miss (GET)", b("'g1\n'"), 0, "memo key 1 not found"},
        {"memo miss (GET, negative)", b("'g-1\n'"), 0, "memo key -1 not found"},
        {"memo miss (BINGET)", b("'Nq' 00 'h' 05"), 3, "memo key 5 not found"},
        {"memo miss (LONG_BINGET)", b("'j' 00 00 01 00"), 0, "memo key 65536 not found"},
        {"PUT with an empty stack", b("'p0\n'"), 0, "stack underflow: PUT"},
        {"bad PUT text", b("'Npabc\n'"), 1, "PUT: malformed memo index 'abc'"},
        {"negative PUT", b("'Np-1\n'"), 1, "negative PUT index"},
        {"PUT index out of range", b("'Np99999999999999999999\n'"), 1, "out of range"},
        {"malformed INT", b("'I12a\n'"), 0, "INT: malformed integer '12a'"},
        {"INT with leading zeros", b("'I010\n'"), 0, "INT: malformed integer"},
        {"INT with double underscore", b("'I1__0\n'"), 0, "INT: malformed integer"},
        {"INT with trailing underscore", b("'I1_\n'"), 0, "INT: malformed integer"},
        {"INT empty", b("'I\n'"), 0, "INT: malformed integer"},
        {"INT with an empty hex prefix", b("'I0x\n'"), 0, "INT: malformed integer"},
        {"INT digit outside its base", b("'I0b102\n'"), 0, "INT: malformed integer"},
        {"INT of 4301 digits", "I" + std::string(4301, '7') + "\n", 0,
         "INT: integer text has 4301 digits, more than 4300"},
        {"malformed LONG", b("'L12x\n'"), 0, "LONG: malformed integer"},
        {"LONG with two L", b("'L12LL\n'"), 0, "LONG: malformed integer"},
        {"malformed FLOAT", b("'F1.2.3\n'"), 0, "FLOAT: malformed float '1.2.3'"},
        {"FLOAT with a trailing underscore", b("'F1_\n'"), 0, "FLOAT: malformed float"},
        {"FLOAT nanx", b("'Fnanx\n'"), 0, "FLOAT: malformed float"},
        {"FLOAT empty", b("'F\n'"), 0, "FLOAT: malformed float"},
        {"FLOAT hex", b("'F0x1p3\n'"), 0, "FLOAT: malformed float"},
        {"FLOAT exponent without digits", b("'F1e\n'"), 0, "FLOAT: malformed float"},
        {"STRING unquoted", b("'Sabc\n'"), 0, "STRING: the operand must be quoted"},
        {"STRING with mismatched quotes", b("'S'27'abc\"\n'"), 0, "must be quoted"},
        {"STRING of one quote", b("'S'27'\n'"), 0, "must be quoted"},
        {"STRING with a bad \\x escape", b("'S'27'a\\x4'27'\n'"), 0, "STRING: invalid \\x escape"},
        {"STRING with a trailing backslash", b("'S'27'\\'27'\n'"), 0, "STRING: trailing \\"},
        {"STRING not ASCII", b("'S'27 e9 27 0a"), 0, "is not ASCII"},
        {"BINSTRING not ASCII", b("'U' 01 e9"), 0, "is not ASCII"},
        {"UNICODE with a short \\u", b("'V\\u12\n'"), 0, "UNICODE: truncated \\u escape"},
        {"UNICODE with \\U out of range", b("'V\\U00110000\n'"), 0, "\\U escape out of range"},
        {"invalid UTF-8 in BINUNICODE", b("'X' 02 00 00 00 c3 28"), 0,
         "BINUNICODE: invalid UTF-8 at byte 0 of the string"},
        {"overlong UTF-8", b("8c 03 'a' c0 80"), 0, "invalid UTF-8 at byte 1"},
        {"UTF-8 beyond U+10FFFF", b("8c 04 f4 90 80 80"), 0, "invalid UTF-8"},
        {"truncated UTF-8 sequence", b("8c 02 'a' e2"), 0, "invalid UTF-8 at byte 1"},
        {"GLOBAL not UTF-8", b("'c' ff '\nx\n'"), 0, "GLOBAL: module or name is not UTF-8"},
        {"GLOBAL with a surrogate", b("'cm\n' ed a0 80 '\n'"), 0, "not UTF-8"},
        {"GLOBAL with an empty module", b("'c\nx\n'"), 0, "GLOBAL: empty module or name"},
        {"GLOBAL with a NUL in its name", b("'cos\nsystem' 00 'x\n'"), 0,
         "GLOBAL: module or name contains a NUL byte"},
        {"STACK_GLOBAL with a NUL in its module", b("8c 03 'o' 00 's' 8c 01 'x' 93"), 8,
         "STACK_GLOBAL: module or name contains a NUL byte"},
        {"STACK_GLOBAL with a lone surrogate", b("8c 03 ed a0 80 8c 01 'x' 93"), 8,
         "STACK_GLOBAL: module or name is not UTF-8"},
        {"PERSID not ASCII", b("'P' e9 0a"), 0,
         "PERSID: persistent IDs in protocol 0 must be ASCII"},
        {"STACK_GLOBAL with an int name", b("8c 01 'm' 'K' 01 93"), 5,
         "STACK_GLOBAL needs two str, got a str (created at byte 0) and an int"},
        {"STACK_GLOBAL with bytes module", b("'C' 01 'm' 8c 01 'x' 93"), 6,
         "STACK_GLOBAL needs two str, got a bytes"},
        {"BINBYTES8 of 2^62 bytes", b("80 04 8e 00 00 00 00 00 00 00 40 'x.'"), 2,
         "truncated BINBYTES8 operand: need 4611686018427387904 bytes, 2 remain"},
        {"BINUNICODE8 of 2^62 bytes", b("8d 00 00 00 00 00 00 00 40"), 0,
         "truncated BINUNICODE8 operand: need 4611686018427387904 bytes, 0 remain"},
        {"BYTEARRAY8 of 2^64-1 bytes", b("96 ff ff ff ff ff ff ff ff 'ab'"), 0,
         "need 18446744073709551615 bytes, 2 remain"},
        {"BINUNICODE of 4 GiB - 1", b("'X' ff ff ff ff 'abc'"), 0,
         "truncated BINUNICODE operand: need 4294967295 bytes, 3 remain"},
        {"BINBYTES of 4 GiB - 1", b("'B' ff ff ff ff"), 0, "need 4294967295 bytes, 0 remain"},
        {"LONG4 of 2 GiB - 1", b("8b ff ff ff 7f 00"), 0, "need 2147483647 bytes, 1 remain"},
        {"LONG4 negative", b("8b ff ff ff ff"), 0, "LONG4 with a negative byte count (-1)"},
        {"BINSTRING negative", b("'T' 00 00 00 80"), 0, "BINSTRING with a negative byte count"},
        {"PROTO 6", b("80 06 'N.'"), 0, "unsupported pickle protocol 6 (highest is 5)"},
        {"odd SETITEMS", b("'}(Nu'"), 3, "SETITEMS with an odd number of items (1)"},
        {"odd DICT", b("'(NNNd'"), 4, "DICT with an odd number of items (3)"},
        {"unhashable dict key (SETITEM)", b("'}]Ns'"), 3,
         "SETITEM: unhashable list (created at byte 1) as a dict key"},
        {"unhashable dict key (DICT)", b("'(}Nd'"), 3, "DICT: unhashable dict"},
        {"unhashable dict key (bytearray)", b("'}' 96 01 00 00 00 00 00 00 00 'xNs'"), 12,
         "unhashable bytearray"},
        {"unhashable frozenset item", b("'(' 8f 91"), 2, "FROZENSET: unhashable set"},
        {"unhashable set item", b("8f '(]' 90"), 3, "ADDITEMS: unhashable list"},
        {"FRAME longer than the input", b("80 04 95 10 00 00 00 00 00 00 00 'K' 01 '.'"), 2,
         "FRAME of 16 bytes but only 3 remain"},
        {"FRAME inside a frame", b("95 0a 00 00 00 00 00 00 00 95 01 00 00 00 00 00 00 00 'N.'"), 9,
         "FRAME inside the current frame, which ends at byte 19"},
        {"operand crossing the end of a FRAME", b("95 02 00 00 00 00 00 00 00 'J' 01 02 03 04 '.'"),
         9, "BININT operand crosses the end of the FRAME at byte 11"},
        {"text line crossing the end of a FRAME", b("95 02 00 00 00 00 00 00 00 'I12\n.'"), 9,
         "INT operand crosses the end of the FRAME"},
        {"truncated FRAME length", b("95 01 00"), 0,
         "truncated FRAME operand: need 8 bytes, 2 remain"},
        {"NEXT_BUFFER without buffers", b("80 05 97 '.'"), 2,
         "NEXT_BUFFER: the stream refers to out-of-band buffers but none were given"},
        {"READONLY_BUFFER on an int", b("'K' 01 98"), 2, "READONLY_BUFFER on an int"},
        {"EXT1 code 0", b("82 00"), 0, "EXT1: extension code 0 is not positive"},
        {"EXT4 negative code", b("84 ff ff ff ff"), 0, "EXT4: extension code -1 is not positive"},
        {"unknown opcode 0xff", b("80 02 ff"), 2, "unknown opcode 0xff"},
        {"unknown opcode z", b("'Nz'"), 1, "unknown opcode 0x7a ('z')"},
        {"STOP inside a MARK after valid data", b("80 02 ']q' 00 '(K' 01 '.'"), 8,
         "1 open MARK(s)"},
    };
    for (const FailCase& c : cases) {
        INFO(c.what << ": " << esc(c.data));
        const pk::Error e = must_fail(c.data);
        CHECK(e.offset() == c.offset);
        CHECK_THAT(e.reason(), Catch::Contains(c.message));
        CHECK(std::string(e.what()) == "byte " + std::to_string(e.offset()) + ": " + e.reason());
    }

    // Truncated operands of every opcode that has a binary operand: the length field cut
    // short, then (for length-prefixed ones) the data.
    struct Operand {
        uint8_t op;
        const char* name;
        int field;  // bytes of the fixed operand or of the length prefix
        bool prefixed;
    };
    const Operand operands[] = {
        {'J', "BININT", 4, false}, {'K', "BININT1", 1, false}, {'M', "BININT2", 2, false},
        {'G', "BINFLOAT", 8, false}, {0x80, "PROTO", 1, false}, {0x95, "FRAME", 8, false},
        {0x82, "EXT1", 1, false}, {0x83, "EXT2", 2, false}, {0x84, "EXT4", 4, false},
        {'h', "BINGET", 1, false}, {'j', "LONG_BINGET", 4, false},
        {'q', "BINPUT", 1, false}, {'r', "LONG_BINPUT", 4, false},
        {0x8a, "LONG1", 1, true}, {0x8b, "LONG4", 4, true}, {'T', "BINSTRING", 4, true},
        {'U', "SHORT_BINSTRING", 1, true}, {'X', "BINUNICODE", 4, true},
        {0x8c, "SHORT_BINUNICODE", 1, true}, {0x8d, "BINUNICODE8", 8, true},
        {'B', "BINBYTES", 4, true}, {'C', "SHORT_BINBYTES", 1, true},
        {0x8e, "BINBYTES8", 8, true}, {0x96, "BYTEARRAY8", 8, true},
    };
    int truncations = 0;
    for (const Operand& o : operands) {
        const std::string head = b("80 04 'N'") + static_cast<char>(o.op);  // opcode at byte 3
        INFO(o.name);
        for (int have = 0; have < o.field; ++have) {
            const pk::Error e = must_fail(head + std::string(have, '\0'));
            CHECK(e.offset() == 3);
            CHECK(e.reason() == std::string("truncated ") + o.name + " operand: need " +
                                    std::to_string(o.field) + " bytes, " + std::to_string(have) +
                                    " remain");
            ++truncations;
        }
        if (o.prefixed) {
            std::string len(o.field, '\0');
            len[0] = 5;  // declares 5 bytes, 2 follow
            const pk::Error e = must_fail(head + len + "ab");
            CHECK(e.offset() == 3);
            CHECK(e.reason() == std::string("truncated ") + o.name +
                                    " operand: need 5 bytes, 2 remain");
            ++truncations;
        }
    }
    CHECK(truncations == 96);

    SECTION("out-of-band buffers") {
        const std::string data = b("80 05 97 97 '.'");
        const std::vector<std::string_view> none;
        pk::Options o;
        o.buffers = &none;
        const pk::Error e = must_fail(data, o);
        CHECK(e.offset() == 2);
        CHECK(e.reason() == "NEXT_BUFFER: not enough out-of-band buffers (0 given)");
        const std::vector<std::string_view> one{"x"};
        o.buffers = &one;
        CHECK(must_fail(data, o).offset() == 3);
    }
    SECTION("Python 2 strings per Options::py2_strings") {
        const std::string data = b("'U' 02 'a' e9 '.'");
        CHECK_THAT(must_fail(data).reason(), Catch::Contains("SHORT_BINSTRING: Python 2 string"));
        pk::Options o;
        o.py2_strings = pk::Py2Strings::Latin1;
        pk::Graph g;
        CHECK(parse(g, data, o).root->text == "a\xc3\xa9");
        o.py2_strings = pk::Py2Strings::Bytes;
        pk::Graph g2;
        CHECK(parse(g2, data, o).root->kind == Kind::Bytes);
        CHECK(g2.root->text == "a\xe9");
    }
    SECTION("base_offset is added to every offset") {
        pk::Options o;
        o.base_offset = 100000;
        CHECK(must_fail(b("'N]a'"), o).offset() == 100002);
        CHECK(must_fail(b("'N.x'"), o).offset() == 100002);
        CHECK(must_fail(b("'N'"), o).offset() == 100001);
        CHECK(must_fail(b("95 02 00 00 00 00 00 00 00 'J' 01 02 03 04 '.'"), o).reason() ==
              "BININT operand crosses the end of the FRAME at byte 100011");
    }
}

TEST_CASE("memo fan-out (billion laughs) stays linear") {
    // 31 lists; list k holds list k-1 1000 times (BINGET). Expanded: 1000^30 leaves.
    std::string data = b("80 02 ']q' 00 '0'");
    for (int k = 1; k <= 30; ++k) {
        data += b("']q'") + static_cast<char>(k) + '(';
        for (int i = 0; i < 1000; ++i) data += 'h' + std::string(1, static_cast<char>(k - 1));
        data += b("'e0'");
    }
    data += 'h' + std::string(1, static_cast<char>(30)) + '.';
    pk::Graph g;
    parse(g, data);
    CHECK(g.node_count() == 31);
    CHECK(g.node_count() * 100 < data.size());
    const Node* n = g.root;
    for (int depth = 30; depth > 0; --depth) {
        REQUIRE(n->kind == Kind::List);
        REQUIRE(n->items.size() == 1000);
        for (const Node* item : n->items) REQUIRE(item == n->items[0]);
        n = n->items[0];
    }
    CHECK(n->items.empty());
}

TEST_CASE("1,000,000-deep nesting parses without recursion") {
    const size_t depth = 1000000;
    SECTION("EMPTY_LIST ... APPEND ...") {
        std::string data(depth, ']');
        data += std::string(depth - 1, 'a') + ".";
        pk::Graph g;
        parse(g, data);
        size_t levels = 1;
        for (const Node* n = g.root; !n->items.empty(); n = n->items[0]) ++levels;
        CHECK(levels == depth);
    }
    SECTION("MARK ... LIST ...") {
        std::string data(depth, '(');
        data += std::string(depth, 'l') + ".";
        pk::Graph g;
        parse(g, data);
        size_t levels = 1;
        for (const Node* n = g.root; !n->items.empty(); n = n->items[0]) ++levels;
        CHECK(levels == depth);
    }
}

TEST_CASE("memo indices: huge, sparse and dense") {
    SECTION("LONG_BINPUT 4294967295 and text PUT 2^63") {
        pk::Graph g;
        parse(g, b("'N' 72 ff ff ff ff '0' 'Np9223372036854775808\n0' 6a ff ff ff ff "
                   "'g9223372036854775808\n' 86 '.'"));
        REQUIRE(g.root->kind == Kind::Tuple);
        CHECK(g.root->items[0]->offset == 0);
        CHECK(g.root->items[1]->offset == 7);
        CHECK(g.node_count() == 3);
    }
    SECTION("MEMOIZE numbers after the count of entries, as pickle.py") {
        pk::Graph g;  // LONG_BINPUT 2^32-1 (1 entry), MEMOIZE -> key 1
        parse(g, b("'N' 72 ff ff ff ff '0K' 07 94 '0h' 01 '.'"));
        CHECK(g.root->kind == Kind::Int);
        CHECK(g.root->i == 7);
    }
    SECTION("mixed keys against a reference map") {
        // Values 0..2999 under keys that mix dense runs, repeats and far-apart indices; then
        // every key read back into one list.
        std::map<uint32_t, int> want;
        std::string data = b("80 02");
        uint32_t x = 12345;
        for (int v = 0; v < 3000; ++v) {
            x = x * 1103515245u + 12345u;
            uint32_t key;
            switch (v % 4) {
                case 0: key = static_cast<uint32_t>(v / 2); break;  // dense, with repeats
                case 1: key = x; break;                              // anywhere
                case 2: key = (x % 64) + 4000; break;                // near the dense run
                default: key = static_cast<uint32_t>(want.size());   // MEMOIZE-like
            }
            data += b("'J'");
            for (int i = 0; i < 4; ++i) data += static_cast<char>((v >> (8 * i)) & 0xFF);
            data += 'r';
            for (int i = 0; i < 4; ++i) data += static_cast<char>((key >> (8 * i)) & 0xFF);
            data += '0';
            want[key] = v;
        }
        data += "](";
        for (const auto& [key, v] : want) {
            data += 'j';
            for (int i = 0; i < 4; ++i) data += static_cast<char>((key >> (8 * i)) & 0xFF);
        }
        data += "e.";
        pk::Graph g;
        parse(g, data);
        REQUIRE(g.root->items.size() == want.size());
        size_t i = 0;
        for (const auto& [key, v] : want) {
            INFO("key " << key);
            CHECK(g.root->items[i++]->i == v);
        }
    }
}

TEST_CASE("globals: deduplicated by resolved name, usage recorded, accumulated across runs") {
    // Protocol 2: __builtin__.set is fixed to builtins.set and shared with a later builtins.set.
    const std::string first =
        b("80 02 'c__builtin__\nset\n' ']' 85 'R' 'cbuiltins\nset\n' 'cos\nsystem\n' '0' 86 '.'");
    pk::Graph g;
    parse(g, first);
    REQUIRE(g.globals.size() == 2);
    CHECK(g.globals[0].full_name() == "builtins.set");
    CHECK(g.globals[0].raw_module == "__builtin__");
    CHECK(g.globals[0].first_offset == 2);
    CHECK(flags(g.globals[0]) == "c-r");
    CHECK(g.globals[1].full_name() == "os.system");
    CHECK(flags(g.globals[1]) == "--r");  // pushed and popped: never used, so "referenced"
    // Protocol 3+: no renaming.
    pk::Graph g3;
    parse(g3, b("80 03 'c__builtin__\nset\n.'"));
    CHECK(g3.globals[0].full_name() == "__builtin__.set");
    // A second stream into the same graph: its globals join the same list; nodes keep views.
    const std::string second = b("80 04 8c 08 'builtins' 8c 03 'set' 93 ')' 81 '.'");
    parse(g, second);
    REQUIRE(g.globals.size() == 2);
    CHECK(flags(g.globals[0]) == "cir");
    CHECK(g.root->callable->text == "builtins");
    CHECK(g.root->callable->name == "set");
    CHECK(g.protocol == 4);
}

TEST_CASE("build hook reads bytes after BUILD") {
    // NEWOBJ + BUILD, then 4 raw bytes the hook takes, then STOP.
    const std::string data = b("80 04 'cm\nC\n)' 81 '}b' 'DATA' '.'");
    pk::Options o;
    int calls = 0;
    o.build_hook = [&](pk::Graph& g, Node* built, pk::Cursor& in) {
        ++calls;
        CHECK(built->kind == Kind::NewObj);
        CHECK(in.offset() == 11);
        Node* payload = g.make(Kind::Bytes, in.offset());
        payload->text = in.take(4, "array data");
        built->payload = payload;
    };
    pk::Graph g;
    parse(g, data, o);
    CHECK(calls == 1);
    REQUIRE(g.root->payload);
    CHECK(g.root->payload->text == "DATA");

    o.build_hook = [](pk::Graph&, Node*, pk::Cursor& in) { in.take(100, "array data"); };
    const pk::Error e = must_fail(data, o);
    CHECK(e.offset() == 11);
    CHECK(e.reason() == "truncated array data: need 100 bytes, 5 remain");

    o.build_hook = [](pk::Graph&, Node*, pk::Cursor& in) { in.seek(0); };
    CHECK(must_fail(data, o).reason() == "BUILD: the build hook moved the stream backwards");
    o.build_hook = [](pk::Graph&, Node*, pk::Cursor& in) { in.seek(in.size() + 1); };
    CHECK_THAT(must_fail(data, o).reason(), Catch::Contains("past the end"));
}

TEST_CASE("a build hook may run a nested pickle into the same graph (joblib object arrays)") {
    // Outer: NEWOBJ(m.C) + BUILD, hook runs the nested stream, then the outer pushes os.system
    // (added by the nested run) and builtins.len, and calls m.f (pushed before the BUILD).
    const std::string nested = b("80 04 'cos\nsystem\n' 'cbuiltins\nlen\n' 86 '.'");
    const std::string outer = b("80 04 'cm\nf\n' 'cm\nC\n)' 81 '}b0' 'cos\nsystem\n' "
                                "'cbuiltins\nlen\n' 86 85 'R.'");
    pk::Options o;
    o.build_hook = [&](pk::Graph& g, Node* built, pk::Cursor&) {
        pk::Options inner;
        inner.base_offset = 5000;
        pk::run(g, u8(nested), nested.size(), inner);
        built->payload = g.root;
    };
    pk::Graph g;
    parse(g, outer, o);
    REQUIRE(g.globals.size() == 4);  // m.f, m.C, os.system, builtins.len: no duplicates
    CHECK(g.globals[0].full_name() == "m.f");
    CHECK(flags(g.globals[0]) == "c--");  // the nested STOP does not touch the outer's pending f
    CHECK(flags(g.globals[1]) == "-i-");
    CHECK(g.globals[2].full_name() == "os.system");
    CHECK(g.globals[2].first_offset == 5002);
    CHECK(flags(g.globals[2]) == "--r");
    CHECK(g.globals[3].full_name() == "builtins.len");
    REQUIRE(g.root->kind == Kind::Reduce);
    const Node* args = g.root->args->items[0];
    CHECK(args->items[0]->global == 2);
    CHECK(args->items[0]->text == "os");
    CHECK(args->items[1]->global == 3);
    CHECK(args->items[1]->name == "len");
}

TEST_CASE("values decoded exactly") {
    pk::Graph g;
    // LONG1 2^64 (minimal 9 bytes), LONG1 -2^63 (fits int64), text INT -2^63-1, BINFLOAT -0.0
    const std::string data =
        b("80 02 '(' 8a 09 00 00 00 00 00 00 00 00 01 8a 08 00 00 00 00 00 00 00 80 "
          "'I-9223372036854775809\n' 'G' 80 00 00 00 00 00 00 00 'l.'");
    parse(g, data);
    const auto& items = g.root->items;
    REQUIRE(items.size() == 4);
    CHECK(items[0]->kind == Kind::Long);
    CHECK(hex(items[0]->text) == "000000000000000001");
    CHECK(items[1]->kind == Kind::Int);
    CHECK(items[1]->i == INT64_MIN);
    CHECK(items[2]->kind == Kind::Long);
    CHECK(hex(items[2]->text) == "ffffffffffffff7fff");
    CHECK(items[3]->kind == Kind::Float);
    CHECK(std::signbit(items[3]->f));
    // Strings are borrowed from the input.
    const std::string s = b("8c 03 'abc.'");
    pk::Graph g2;
    parse(g2, s);
    CHECK(g2.root->text.data() == s.data() + 2);
}

TEST_CASE("Cursor") {
    const std::string data = "abcdef";
    pk::Cursor c(u8(data), data.size(), 2, 10);
    CHECK(c.offset() == 12);
    CHECK(c.take(3, "x") == "cde");
    CHECK(c.remaining() == 1);
    try {
        c.take(2, "thing");
        FAIL("no error");
    } catch (const pk::Error& e) {
        CHECK(e.offset() == 15);
        CHECK(e.reason() == "truncated thing: need 2 bytes, 1 remain");
    }
    c.seek(6);
    CHECK(c.remaining() == 0);
    CHECK_THROWS_AS(c.seek(7), pk::Error);
}

TEST_CASE("a ~48 MB RandomForestClassifier pickle", "[.scale]") {
    const char* path = std::getenv("MILO_PICKLE_FOREST");
    REQUIRE(path);
    const std::string data = read_file(path);
    pk::Graph g;
    const auto t0 = std::chrono::steady_clock::now();
    parse(g, data);
    const auto t1 = std::chrono::steady_clock::now();
    REQUIRE(g.root->kind == Kind::NewObj);
    REQUIRE(g.root->callable->kind == Kind::Global);
    CHECK(g.root->callable->text == "sklearn.ensemble._forest");
    CHECK(g.root->callable->name == "RandomForestClassifier");
    CHECK(g.opcode_count > 20000);
    CHECK(g.node_count() <= g.opcode_count + 16);
    std::printf("forest pickle: %zu bytes, %llu opcodes, %zu nodes, %zu globals, parsed in "
                "%.2f ms\n",
                data.size(), static_cast<unsigned long long>(g.opcode_count), g.node_count(),
                g.globals.size(), std::chrono::duration<double, std::milli>(t1 - t0).count());
}
