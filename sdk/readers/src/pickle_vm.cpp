// The safe pickle virtual machine (see pickle_vm.hpp): the opcode semantics of CPython's
// Lib/pickle.py _Unpickler, run symbolically. Globals become names and calls become nodes;
// nothing is imported, resolved or called. The machine is a loop over opcodes with a value
// stack and a stack of MARK positions (pickle.py's metastack), never recursive. Operand lengths
// are checked against the bytes that remain before they are used, and strings and bytes are
// views of the input unless they need decoding.
#include "milo/readers/pickle_vm.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace milo {
namespace pickle {
namespace {

// Opcode bytes, as in Lib/pickletools.py.
enum : uint8_t {
    MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I',
    BININT = 'J', BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P',
    BINPERSID = 'Q', REDUCE = 'R', STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U',
    UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a', BUILD = 'b', GLOBAL = 'c', DICT = 'd',
    EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h', INST = 'i', LONG_BINGET = 'j',
    LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q', LONG_BINPUT = 'r',
    SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
    PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85,
    TUPLE2 = 0x86, TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b,
    BINBYTES = 'B', SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d,
    BINBYTES8 = 0x8e, EMPTY_SET = 0x8f, ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92,
    STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95, BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97,
    READONLY_BUFFER = 0x98,
};

struct OpName {
    uint8_t code;
    const char* name;
};
constexpr OpName kOpNames[] = {
    {MARK, "MARK"}, {STOP, "STOP"}, {POP, "POP"}, {POP_MARK, "POP_MARK"}, {DUP, "DUP"},
    {FLOAT, "FLOAT"}, {INT, "INT"}, {BININT, "BININT"}, {BININT1, "BININT1"}, {LONG, "LONG"},
    {BININT2, "BININT2"}, {NONE, "NONE"}, {PERSID, "PERSID"}, {BINPERSID, "BINPERSID"},
    {REDUCE, "REDUCE"}, {STRING, "STRING"}, {BINSTRING, "BINSTRING"},
    {SHORT_BINSTRING, "SHORT_BINSTRING"}, {UNICODE, "UNICODE"}, {BINUNICODE, "BINUNICODE"},
    {APPEND, "APPEND"}, {BUILD, "BUILD"}, {GLOBAL, "GLOBAL"}, {DICT, "DICT"},
    {EMPTY_DICT, "EMPTY_DICT"}, {APPENDS, "APPENDS"}, {GET, "GET"}, {BINGET, "BINGET"},
    {INST, "INST"}, {LONG_BINGET, "LONG_BINGET"}, {LIST, "LIST"}, {EMPTY_LIST, "EMPTY_LIST"},
    {OBJ, "OBJ"}, {PUT, "PUT"}, {BINPUT, "BINPUT"}, {LONG_BINPUT, "LONG_BINPUT"},
    {SETITEM, "SETITEM"}, {TUPLE, "TUPLE"}, {EMPTY_TUPLE, "EMPTY_TUPLE"},
    {SETITEMS, "SETITEMS"}, {BINFLOAT, "BINFLOAT"}, {PROTO, "PROTO"}, {NEWOBJ, "NEWOBJ"},
    {EXT1, "EXT1"}, {EXT2, "EXT2"}, {EXT4, "EXT4"}, {TUPLE1, "TUPLE1"}, {TUPLE2, "TUPLE2"},
    {TUPLE3, "TUPLE3"}, {NEWTRUE, "NEWTRUE"}, {NEWFALSE, "NEWFALSE"}, {LONG1, "LONG1"},
    {LONG4, "LONG4"}, {BINBYTES, "BINBYTES"}, {SHORT_BINBYTES, "SHORT_BINBYTES"},
    {SHORT_BINUNICODE, "SHORT_BINUNICODE"}, {BINUNICODE8, "BINUNICODE8"},
    {BINBYTES8, "BINBYTES8"}, {EMPTY_SET, "EMPTY_SET"}, {ADDITEMS, "ADDITEMS"},
    {FROZENSET, "FROZENSET"}, {NEWOBJ_EX, "NEWOBJ_EX"}, {STACK_GLOBAL, "STACK_GLOBAL"},
    {MEMOIZE, "MEMOIZE"}, {FRAME, "FRAME"}, {BYTEARRAY8, "BYTEARRAY8"},
    {NEXT_BUFFER, "NEXT_BUFFER"}, {READONLY_BUFFER, "READONLY_BUFFER"},
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == 68, "protocols 0-5 have 68 opcodes");

struct OpTable {
    const char* names[256] = {};
    constexpr OpTable() {
        for (const OpName& op : kOpNames) names[op.code] = op.name;
    }
};
constexpr OpTable kOpTable;

// Lib/_compat_pickle.py (CPython 3.11): NAME_MAPPING, then IMPORT_MAPPING, each with the
// entries added after the table literal.
struct NameMap {
    const char* from_module;
    const char* from_name;
    const char* to_module;
    const char* to_name;
};
constexpr NameMap kNameMapping[] = {
    {"__builtin__", "xrange", "builtins", "range"},
    {"__builtin__", "reduce", "functools", "reduce"},
    {"__builtin__", "intern", "sys", "intern"},
    {"__builtin__", "unichr", "builtins", "chr"},
    {"__builtin__", "unicode", "builtins", "str"},
    {"__builtin__", "long", "builtins", "int"},
    {"itertools", "izip", "builtins", "zip"},
    {"itertools", "imap", "builtins", "map"},
    {"itertools", "ifilter", "builtins", "filter"},
    {"itertools", "ifilterfalse", "itertools", "filterfalse"},
    {"itertools", "izip_longest", "itertools", "zip_longest"},
    {"UserDict", "IterableUserDict", "collections", "UserDict"},
    {"UserList", "UserList", "collections", "UserList"},
    {"UserString", "UserString", "collections", "UserString"},
    {"whichdb", "whichdb", "dbm", "whichdb"},
    {"_socket", "fromfd", "socket", "fromfd"},
    {"_multiprocessing", "Connection", "multiprocessing.connection", "Connection"},
    {"multiprocessing.process", "Process", "multiprocessing.context", "Process"},
    {"multiprocessing.forking", "Popen", "multiprocessing.popen_fork", "Popen"},
    {"urllib", "ContentTooShortError", "urllib.error", "ContentTooShortError"},
    {"urllib", "getproxies", "urllib.request", "getproxies"},
    {"urllib", "pathname2url", "urllib.request", "pathname2url"},
    {"urllib", "quote_plus", "urllib.parse", "quote_plus"},
    {"urllib", "quote", "urllib.parse", "quote"},
    {"urllib", "unquote_plus", "urllib.parse", "unquote_plus"},
    {"urllib", "unquote", "urllib.parse", "unquote"},
    {"urllib", "url2pathname", "urllib.request", "url2pathname"},
    {"urllib", "urlcleanup", "urllib.request", "urlcleanup"},
    {"urllib", "urlencode", "urllib.parse", "urlencode"},
    {"urllib", "urlopen", "urllib.request", "urlopen"},
    {"urllib", "urlretrieve", "urllib.request", "urlretrieve"},
    {"urllib2", "HTTPError", "urllib.error", "HTTPError"},
    {"urllib2", "URLError", "urllib.error", "URLError"},
    {"multiprocessing", "AuthenticationError", "multiprocessing.context", "AuthenticationError"},
    {"multiprocessing", "BufferTooShort", "multiprocessing.context", "BufferTooShort"},
    {"multiprocessing", "ProcessError", "multiprocessing.context", "ProcessError"},
    {"multiprocessing", "TimeoutError", "multiprocessing.context", "TimeoutError"},
    {"__builtin__", "basestring", "builtins", "str"},
    {"exceptions", "StandardError", "builtins", "Exception"},
    {"UserDict", "UserDict", "collections", "UserDict"},
    {"socket", "_socketobject", "socket", "SocketType"},
};
// ("exceptions", X) -> ("builtins", X) for these (PYTHON2_EXCEPTIONS, without WindowsError,
// which CPython adds only on Windows).
constexpr const char* kPython2Exceptions[] = {
    "ArithmeticError", "AssertionError", "AttributeError", "BaseException", "BufferError",
    "BytesWarning", "DeprecationWarning", "EOFError", "EnvironmentError", "Exception",
    "FloatingPointError", "FutureWarning", "GeneratorExit", "IOError", "ImportError",
    "ImportWarning", "IndentationError", "IndexError", "KeyError", "KeyboardInterrupt",
    "LookupError", "MemoryError", "NameError", "NotImplementedError", "OSError",
    "OverflowError", "PendingDeprecationWarning", "ReferenceError", "RuntimeError",
    "RuntimeWarning", "StopIteration", "SyntaxError", "SyntaxWarning", "SystemError",
    "SystemExit", "TabError", "TypeError", "UnboundLocalError", "UnicodeDecodeError",
    "UnicodeEncodeError", "UnicodeError", "UnicodeTranslateError", "UnicodeWarning",
    "UserWarning", "ValueError", "Warning", "ZeroDivisionError",
};
constexpr std::pair<const char*, const char*> kImportMapping[] = {
    {"__builtin__", "builtins"}, {"copy_reg", "copyreg"}, {"Queue", "queue"},
    {"SocketServer", "socketserver"}, {"ConfigParser", "configparser"}, {"repr", "reprlib"},
    {"tkFileDialog", "tkinter.filedialog"}, {"tkSimpleDialog", "tkinter.simpledialog"},
    {"tkColorChooser", "tkinter.colorchooser"}, {"tkCommonDialog", "tkinter.commondialog"},
    {"Dialog", "tkinter.dialog"}, {"Tkdnd", "tkinter.dnd"}, {"tkFont", "tkinter.font"},
    {"tkMessageBox", "tkinter.messagebox"}, {"ScrolledText", "tkinter.scrolledtext"},
    {"Tkconstants", "tkinter.constants"}, {"Tix", "tkinter.tix"}, {"ttk", "tkinter.ttk"},
    {"Tkinter", "tkinter"}, {"markupbase", "_markupbase"}, {"_winreg", "winreg"},
    {"thread", "_thread"}, {"dummy_thread", "_dummy_thread"}, {"dbhash", "dbm.bsd"},
    {"dumbdbm", "dbm.dumb"}, {"dbm", "dbm.ndbm"}, {"gdbm", "dbm.gnu"},
    {"xmlrpclib", "xmlrpc.client"}, {"SimpleXMLRPCServer", "xmlrpc.server"},
    {"httplib", "http.client"}, {"htmlentitydefs", "html.entities"},
    {"HTMLParser", "html.parser"}, {"Cookie", "http.cookies"}, {"cookielib", "http.cookiejar"},
    {"BaseHTTPServer", "http.server"}, {"test.test_support", "test.support"},
    {"commands", "subprocess"}, {"urlparse", "urllib.parse"},
    {"robotparser", "urllib.robotparser"}, {"urllib2", "urllib.request"}, {"anydbm", "dbm"},
    {"_abcoll", "collections.abc"}, {"cPickle", "pickle"},
    {"_elementtree", "xml.etree.ElementTree"}, {"FileDialog", "tkinter.filedialog"},
    {"SimpleDialog", "tkinter.simpledialog"}, {"DocXMLRPCServer", "xmlrpc.server"},
    {"SimpleHTTPServer", "http.server"}, {"CGIHTTPServer", "http.server"},
    {"UserDict", "collections"}, {"UserList", "collections"}, {"UserString", "collections"},
    {"whichdb", "dbm"}, {"StringIO", "io"}, {"cStringIO", "io"},
};

constexpr int kHighestProtocol = 5;
constexpr size_t kMaxIntDigits = 4300;  // CPython's default int max_str_digits

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string_view strip(std::string_view s) {
    while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
    return s;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int digit_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'z') return c - 'a' + 10;
    if (c >= 'A' && c <= 'Z') return c - 'A' + 10;
    return 99;
}

int hex_value(char c) {
    const int v = digit_value(c);
    return v < 16 ? v : -1;
}

void append_utf8(std::string& out, uint32_t cp) {
    // Surrogates (D800-DFFF) are encoded like any other code point: "surrogatepass".
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

// Index of the first byte that is not valid UTF-8, or npos. With `surrogates`, encoded lone
// surrogates (ED A0..BF xx) are accepted, as CPython's "surrogatepass" decoding does.
size_t invalid_utf8(std::string_view s, bool surrogates) {
    const auto* p = reinterpret_cast<const uint8_t*>(s.data());
    const size_t n = s.size();
    size_t i = 0;
    while (i < n) {
        const uint8_t c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        size_t len;
        uint8_t lo = 0x80, hi = 0xBF;  // range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;
            if (c == 0xED && !surrogates) hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;
            if (c == 0xF4) hi = 0x8F;
        } else {
            return i;
        }
        if (n - i < len || p[i + 1] < lo || p[i + 1] > hi) return i;
        for (size_t k = 2; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string_view::npos;
}

bool is_ascii(std::string_view s) {
    for (char c : s)
        if (static_cast<uint8_t>(c) >= 0x80) return false;
    return true;
}

std::string latin1_to_utf8(std::string_view s) {
    std::string out;
    out.reserve(s.size() * 2);
    for (char c : s) append_utf8(out, static_cast<uint8_t>(c));
    return out;
}

// codecs.escape_decode (the escapes of a Python bytes literal) of `s` into `out`. Returns
// nullptr, or what is wrong (followed by the text in messages).
const char* escape_decode(std::string_view s, std::string& out) {
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const char c = s[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (++i == s.size()) return "trailing \\ in ";
        const char e = s[i];
        switch (e) {
            case '\n': break;  // line continuation
            case '\\': case '\'': case '"': out += e; break;
            case 'a': out += '\a'; break;
            case 'b': out += '\b'; break;
            case 'f': out += '\f'; break;
            case 'n': out += '\n'; break;
            case 'r': out += '\r'; break;
            case 't': out += '\t'; break;
            case 'v': out += '\v'; break;
            case 'x': {
                const int hi = i + 1 < s.size() ? hex_value(s[i + 1]) : -1;
                const int lo = i + 2 < s.size() ? hex_value(s[i + 2]) : -1;
                if (hi < 0 || lo < 0) return "invalid \\x escape in ";
                out += static_cast<char>(hi * 16 + lo);
                i += 2;
                break;
            }
            default:
                if (e >= '0' && e <= '7') {  // up to 3 octal digits; CPython keeps the low byte
                    int v = e - '0';
                    for (int k = 0; k < 2 && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '7';
                         ++k)
                        v = v * 8 + (s[++i] - '0');
                    out += static_cast<char>(v & 0xFF);
                } else {
                    out += '\\';
                    out += e;
                }
        }
    }
    return nullptr;
}

// raw-unicode-escape decoding of `s` into UTF-8: \uXXXX and \UXXXXXXXX (after an odd number of
// backslashes), every other byte a latin-1 character. Returns nullptr, or what is wrong.
const char* raw_unicode_escape(std::string_view s, std::string& out) {
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<uint8_t>(s[i]);
        if (c != '\\' || i + 1 == s.size() || (s[i + 1] != 'u' && s[i + 1] != 'U')) {
            append_utf8(out, c);
            // A backslash escapes the next byte from being read as one: "\\\\u0041" stays.
            if (c == '\\' && i + 1 < s.size()) append_utf8(out, static_cast<uint8_t>(s[++i]));
            continue;
        }
        const size_t count = s[i + 1] == 'u' ? 4 : 8;
        uint32_t cp = 0;
        for (size_t k = 0; k < count; ++k) {
            const int h = i + 2 + k < s.size() ? hex_value(s[i + 2 + k]) : -1;
            if (h < 0) return count == 4 ? "truncated \\u escape in " : "truncated \\U escape in ";
            cp = cp * 16 + static_cast<uint32_t>(h);
        }
        if (cp > 0x10FFFF) return "\\U escape out of range in ";
        append_utf8(out, cp);  // lone surrogates as "surrogatepass"
        i += 1 + count;
    }
    return nullptr;
}

// Shortest little-endian two's complement encoding: drops sign-extension bytes.
size_t minimal_length(const uint8_t* p, size_t n) {
    while (n > 1 && ((p[n - 1] == 0x00 && !(p[n - 2] & 0x80)) ||
                     (p[n - 1] == 0xFF && (p[n - 2] & 0x80))))
        --n;
    if (n == 1 && p[0] == 0) n = 0;
    return n;
}

int64_t sign_extend(const uint8_t* p, size_t n) {  // n <= 8
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
    if (n > 0 && n < 8 && (p[n - 1] & 0x80)) v |= ~uint64_t(0) << (8 * n);
    return static_cast<int64_t>(v);
}

std::string quoted(std::string_view s) {
    std::string out = "'";
    for (char c : s.substr(0, 60)) {
        const auto u = static_cast<uint8_t>(c);
        if (u >= 0x20 && u < 0x7F && c != '\'' && c != '\\') {
            out += c;
        } else {
            static const char hex[] = "0123456789abcdef";
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 15];
        }
    }
    if (s.size() > 60) out += "...";
    return out + "'";
}

// The memo: dense keys (the pickler numbers them 0, 1, 2, …) in a vector, any others in a hash
// map, so that a single huge index costs one entry and not a slot per index below it.
class Memo {
public:
    void put(uint64_t key, Node* node) {
        if (key < dense_.size() || key <= 2 * count_ + 64) {
            if (key >= dense_.size()) dense_.resize(key + 1, nullptr);
            Node*& slot = dense_[key];
            if (!slot && (sparse_.empty() || sparse_.erase(key) == 0)) ++count_;
            slot = node;
            return;
        }
        auto [it, inserted] = sparse_.try_emplace(key, node);
        if (inserted)
            ++count_;
        else
            it->second = node;
    }
    Node* get(uint64_t key) const {
        if (key < dense_.size() && dense_[key]) return dense_[key];
        if (sparse_.empty()) return nullptr;
        const auto it = sparse_.find(key);
        return it == sparse_.end() ? nullptr : it->second;
    }
    size_t size() const noexcept { return count_; }

private:
    std::vector<Node*> dense_;
    std::unordered_map<uint64_t, Node*> sparse_;
    size_t count_ = 0;
};

}  // namespace

// ---------------------------------------------------------------------------------------------

Error::Error(uint64_t offset, const std::string& reason)
    : std::runtime_error("byte " + std::to_string(offset) + ": " + reason),
      offset_(offset),
      reason_(reason) {}

const char* kind_name(Kind kind) noexcept {
    switch (kind) {
        case Kind::None: return "none";
        case Kind::Bool: return "bool";
        case Kind::Int: return "int";
        case Kind::Long: return "long";
        case Kind::Float: return "float";
        case Kind::Str: return "str";
        case Kind::Bytes: return "bytes";
        case Kind::ByteArray: return "bytearray";
        case Kind::List: return "list";
        case Kind::Tuple: return "tuple";
        case Kind::Dict: return "dict";
        case Kind::Set: return "set";
        case Kind::FrozenSet: return "frozenset";
        case Kind::Global: return "global";
        case Kind::Reduce: return "reduce";
        case Kind::NewObj: return "newobj";
        case Kind::PersId: return "persid";
        case Kind::Ext: return "ext";
        case Kind::Buffer: return "buffer";
    }
    return "?";
}

const char* opcode_name(uint8_t op) noexcept { return kOpTable.names[op]; }

bool fix_import(std::string& module, std::string& name) {
    for (const NameMap& m : kNameMapping) {
        if (module == m.from_module && name == m.from_name) {
            module = m.to_module;
            name = m.to_name;
            return true;
        }
    }
    if (module == "exceptions") {
        for (const char* e : kPython2Exceptions) {
            if (name == e) {
                module = "builtins";
                return true;
            }
        }
    }
    for (const auto& [from, to] : kImportMapping) {
        if (module == from) {
            module = to;
            return true;
        }
    }
    return false;
}

Graph::Graph() = default;
Graph::~Graph() = default;

Node* Graph::make(Kind kind, uint64_t offset) {
    Node& node = nodes_.emplace_back();
    node.kind = kind;
    node.offset = offset;
    return &node;
}

std::string_view Graph::keep(std::string text) { return texts_.emplace_back(std::move(text)); }

std::string_view Cursor::take(size_t n, const char* what) {
    if (n > remaining()) {
        throw Error(offset(), std::string("truncated ") + what + ": need " + std::to_string(n) +
                                  " bytes, " + std::to_string(remaining()) + " remain");
    }
    std::string_view out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
}

void Cursor::seek(size_t pos) {
    if (pos > size_) {
        throw Error(base_ + size_, "seek to " + std::to_string(pos) + " past the end of the " +
                                       std::to_string(size_) + "-byte stream");
    }
    pos_ = pos;
}

// ---------------------------------------------------------------------------------------------

class Vm {
public:
    Vm(Graph& graph, const uint8_t* data, size_t size, const Options& options, size_t pos)
        : g_(graph), data_(data), size_(size), opt_(options), pos_(pos) {
        stack_.reserve(256);
        marks_.reserve(32);
    }

    size_t run();

private:
    [[noreturn]] void fail(const std::string& reason) const { throw Error(op_offset_, reason); }
    std::string op() const { return opcode_name(op_); }
    static std::string resolved_key(const std::string& module, const std::string& name) {
        return std::to_string(module.size()) + ':' + module + name;
    }
    // "an int (created at byte 7)"
    static std::string where(const Node* n) {
        const bool vowel = n->kind == Kind::Int || n->kind == Kind::Ext;
        return std::string(vowel ? "an " : "a ") + kind_name(n->kind) + " (created at byte " +
               std::to_string(n->offset) + ")";
    }

    // --- input ---
    const uint8_t* take(size_t n);
    uint8_t u8() { return *take(1); }
    uint64_t uint_le(size_t n) {
        const uint8_t* p = take(n);
        uint64_t v = 0;
        for (size_t i = 0; i < n; ++i) v |= uint64_t(p[i]) << (8 * i);
        return v;
    }
    int32_t i32() { return static_cast<int32_t>(static_cast<uint32_t>(uint_le(4))); }
    std::string_view bytes(uint64_t n) {
        return {reinterpret_cast<const char*>(take(n)), static_cast<size_t>(n)};
    }
    std::string_view line();

    // --- stack ---
    size_t level() const { return marks_.empty() ? 0 : marks_.back(); }
    [[noreturn]] void underflow() const {
        fail("stack underflow: " + op() +
             " needs a value but the stack above the last MARK is empty");
    }
    Node* pop() {
        if (stack_.size() <= level()) underflow();
        Node* n = stack_.back();
        stack_.pop_back();
        return n;
    }
    Node*& top() {
        if (stack_.size() <= level()) underflow();
        return stack_.back();
    }
    size_t pop_mark() {
        if (marks_.empty()) fail(op() + " without a MARK");
        const size_t m = marks_.back();
        marks_.pop_back();
        return m;
    }
    // The value under the items of a MARK just popped (the list of APPENDS, the dict of SETITEMS).
    Node* below(size_t mark) {
        if (mark <= level()) underflow();
        return stack_[mark - 1];
    }
    void push(Node* n) { stack_.push_back(n); }
    Node* make(Kind kind) { return g_.make(kind, op_offset_); }

    // --- values ---
    void use(const Node* n) {
        if (n->kind == Kind::Global) g_.globals[n->global].referenced = true;
    }
    void use(size_t from) {
        for (size_t i = from; i < stack_.size(); ++i) use(stack_[i]);
    }
    void hashable(const Node* n, const char* role) const {
        if (n->kind == Kind::List || n->kind == Kind::Dict || n->kind == Kind::Set ||
            n->kind == Kind::ByteArray)
            fail(op() + ": unhashable " + kind_name(n->kind) + " (created at byte " +
                 std::to_string(n->offset) + ") as a " + role);
    }
    void dict_key(Node* dict, const Node* key);
    void seq_into(Node* target, size_t from);
    void map_into(Node* target, size_t from);
    void state_dict(const Node* state);
    Node* container(Kind kind, size_t from);
    Node* int_node(std::string_view text, bool base0);
    bool text_int(std::string_view text, bool base0, bool& negative);
    Node* float_node(std::string_view text);
    Node* py2_string(std::string_view raw);
    Node* long_node(std::string_view le);
    Node* str_node(std::string_view utf8);
    Node* global(std::string_view module, std::string_view name);
    void sync_globals();
    uint64_t memo_index(std::string_view text, bool put);
    void callable_or_class(const Node* n, bool is_class) const;

    Graph& g_;
    const uint8_t* data_;
    size_t size_;
    const Options& opt_;
    size_t pos_;
    uint64_t op_offset_ = 0;  // of the current opcode, with base_offset
    uint8_t op_ = 0;
    size_t frame_end_ = 0;    // end of the current FRAME; no frame when <= pos_
    int proto_ = 0;           // highest PROTO of this stream so far
    size_t next_buffer_ = 0;
    std::vector<Node*> stack_;
    std::vector<size_t> marks_;
    Memo memo_;
    // Globals: (raw module, raw name, fixed?) -> index, and resolved (module, name) -> index.
    std::unordered_map<std::string, uint32_t> raw_, resolved_;
    std::vector<std::pair<std::string_view, std::string_view>> views_;  // kept module, name
    std::vector<uint32_t> pushed_;  // globals this run made nodes for (once each)
    std::vector<bool> is_pushed_;
    std::string key_;
    std::unordered_set<const Node*> class_dicts_;  // dicts holding a "__class__" key
    std::unordered_set<const Node*> state_dicts_;  // dicts used as BUILD state
    std::vector<uint32_t> limbs_;                  // text integers beyond 64 bits
    std::string scratch_;
};

const uint8_t* Vm::take(size_t n) {
    const size_t remain = size_ - pos_;
    if (n > remain) {
        fail("truncated " + op() + " operand: need " + std::to_string(n) + " bytes, " +
             std::to_string(remain) + " remain");
    }
    // pickle.py refuses an operand that runs past the end of its FRAME.
    if (pos_ < frame_end_ && n > frame_end_ - pos_) {
        fail(op() + " operand crosses the end of the FRAME at byte " +
             std::to_string(opt_.base_offset + frame_end_));
    }
    const uint8_t* p = data_ + pos_;
    pos_ += n;
    return p;
}

std::string_view Vm::line() {
    const uint8_t* start = data_ + pos_;
    const void* nl = std::memchr(start, '\n', size_ - pos_);
    if (!nl) fail("truncated " + op() + " operand: no '\\n' before the end of the input");
    const size_t len = static_cast<size_t>(static_cast<const uint8_t*>(nl) - start);
    take(len + 1);
    return {reinterpret_cast<const char*>(start), len};
}

void Vm::callable_or_class(const Node* n, bool is_class) const {
    const Kind k = n->kind;
    const bool ok = k == Kind::Global || k == Kind::Reduce || k == Kind::Ext ||
                    (!is_class && (k == Kind::NewObj || k == Kind::PersId));
    if (!ok) fail(op() + (is_class ? ": the class is " : ": the callable is ") + where(n));
}

void Vm::dict_key(Node* dict, const Node* key) {
    hashable(key, "dict key");
    if (key->kind == Kind::Str && key->text == "__class__") {
        if (state_dicts_.count(dict))
            fail(op() + ": BUILD sets __class__ (state " + where(dict) + ")");
        class_dicts_.insert(dict);
    }
}

// APPEND(S): items stack_[from, end) onto a list, or onto an object (its extend/append).
void Vm::seq_into(Node* target, size_t from) {
    std::vector<Node*>* dst;
    if (target->kind == Kind::List)
        dst = &target->items;
    else if (target->kind == Kind::Reduce || target->kind == Kind::NewObj)
        dst = &target->list_items;
    else
        fail(op() + " to " + where(target) + ": not a list or an object");
    use(from);
    dst->insert(dst->end(), stack_.begin() + from, stack_.end());
    stack_.resize(from);
}

// SETITEM(S): key/value pairs stack_[from, end) into a dict, or an object (its __setitem__).
void Vm::map_into(Node* target, size_t from) {
    const size_t n = stack_.size() - from;
    if (n % 2) fail(op() + " with an odd number of items (" + std::to_string(n) + ")");
    std::vector<Node*>* dst;
    if (target->kind == Kind::Dict) {
        for (size_t i = from; i < stack_.size(); i += 2) dict_key(target, stack_[i]);
        dst = &target->items;
    } else if (target->kind == Kind::Reduce || target->kind == Kind::NewObj) {
        dst = &target->dict_items;
    } else {
        fail(op() + " on " + where(target) + ": not a dict or an object");
    }
    use(from);
    dst->insert(dst->end(), stack_.begin() + from, stack_.end());
    stack_.resize(from);
}

// A dict that BUILD merges into an instance (or sets as attributes) may not name __class__,
// neither now nor through a later SETITEM on the same dict.
void Vm::state_dict(const Node* state) {
    if (state->kind != Kind::Dict) return;
    if (class_dicts_.count(state)) fail("BUILD sets __class__ (state " + where(state) + ")");
    state_dicts_.insert(state);
}

// LIST, TUPLE, DICT, FROZENSET: a new container of stack_[from, end).
Node* Vm::container(Kind kind, size_t from) {
    Node* n = make(kind);
    if (kind == Kind::Dict) {
        const size_t count = stack_.size() - from;
        if (count % 2) fail(op() + " with an odd number of items (" + std::to_string(count) + ")");
        for (size_t i = from; i < stack_.size(); i += 2) dict_key(n, stack_[i]);
    } else if (kind == Kind::FrozenSet) {
        for (size_t i = from; i < stack_.size(); ++i) hashable(stack_[i], "frozenset item");
    }
    use(from);
    n->items.assign(stack_.begin() + from, stack_.end());
    stack_.resize(from);
    return n;
}

Node* Vm::long_node(std::string_view le) {
    const auto* p = reinterpret_cast<const uint8_t*>(le.data());
    const size_t n = minimal_length(p, le.size());
    if (n <= 8) {
        Node* node = make(Kind::Int);
        node->i = sign_extend(p, n);
        return node;
    }
    Node* node = make(Kind::Long);
    node->text = le.substr(0, n);
    return node;
}

// Python's int(text, 0) (base0) or int(text): whitespace around, a sign, a 0x/0o/0b prefix
// (base0 only), underscores between digits. Leaves the magnitude in limbs_ (little-endian
// 32-bit) and returns false for malformed text.
bool Vm::text_int(std::string_view s, bool base0, bool& negative) {
    s = strip(s);
    negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    int base = 10;
    if (base0 && s.size() >= 2 && s[0] == '0') {
        const char p = static_cast<char>(s[1] | 0x20);
        if (p == 'x' || p == 'o' || p == 'b') {
            base = p == 'x' ? 16 : p == 'o' ? 8 : 2;
            s.remove_prefix(2);
            if (!s.empty() && s[0] == '_') s.remove_prefix(1);  // "0x_1f" is valid
        }
    }
    if (s.empty() || s.front() == '_' || s.back() == '_') return false;
    size_t digits = 0;
    bool nonzero = false;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '_') {
            if (s[i - 1] == '_') return false;
            continue;
        }
        const int d = digit_value(s[i]);
        if (d >= base) return false;
        if (d) nonzero = true;
        ++digits;
    }
    // int("010", 0) is an error: no leading zeros in a base-0 decimal literal (except 0 itself).
    if (base0 && base == 10 && s[0] == '0' && nonzero) return false;
    if (digits > kMaxIntDigits) {
        fail(op() + ": integer text has " + std::to_string(digits) + " digits, more than " +
             std::to_string(kMaxIntDigits));
    }
    // Digits are folded in chunks of base^k < 2^32, then limbs = limbs * base^k + chunk.
    const int per_chunk = base == 10 ? 9 : base == 16 ? 7 : base == 8 ? 10 : 31;
    limbs_.clear();
    uint64_t chunk = 0, scale = 1;
    int in_chunk = 0;
    auto flush = [&] {
        uint64_t carry = chunk;
        for (uint32_t& limb : limbs_) {
            const uint64_t t = uint64_t(limb) * scale + carry;
            limb = static_cast<uint32_t>(t);
            carry = t >> 32;
        }
        if (carry) limbs_.push_back(static_cast<uint32_t>(carry));
        chunk = 0;
        scale = 1;
        in_chunk = 0;
    };
    for (char c : s) {
        if (c == '_') continue;
        chunk = chunk * base + digit_value(c);
        scale *= base;
        if (++in_chunk == per_chunk) flush();
    }
    if (in_chunk) flush();
    return true;
}

Node* Vm::int_node(std::string_view text, bool base0) {
    bool negative;
    if (!text_int(text, base0, negative)) fail(op() + ": malformed integer " + quoted(text));
    while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
    if (limbs_.size() <= 2) {
        const uint64_t mag = limbs_.empty()       ? 0
                             : limbs_.size() == 1 ? limbs_[0]
                                                  : (uint64_t(limbs_[1]) << 32) | limbs_[0];
        const uint64_t max = uint64_t(std::numeric_limits<int64_t>::max());
        if (mag <= max || (negative && mag == max + 1)) {
            Node* n = make(Kind::Int);
            n->i = negative ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
            return n;
        }
    }
    // Two's complement, little-endian, one sign byte to spare; minimal_length() trims it.
    std::string out(limbs_.size() * 4 + 1, '\0');
    for (size_t i = 0; i < limbs_.size(); ++i)
        for (int b = 0; b < 4; ++b) out[i * 4 + b] = static_cast<char>(limbs_[i] >> (8 * b));
    if (negative) {
        unsigned carry = 1;
        for (char& c : out) {
            const unsigned v = (~static_cast<unsigned>(static_cast<uint8_t>(c)) & 0xFF) + carry;
            c = static_cast<char>(v);
            carry = v >> 8;
        }
    }
    out.resize(minimal_length(reinterpret_cast<const uint8_t*>(out.data()), out.size()));
    Node* n = make(Kind::Long);
    n->text = g_.keep(std::move(out));
    return n;
}

// Python's float(text): whitespace around, a sign, inf/infinity/nan in any case, or a decimal
// with underscores between digits and an optional exponent.
Node* Vm::float_node(std::string_view text) {
    std::string_view s = strip(text);
    bool negative = false;
    if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
        negative = s[0] == '-';
        s.remove_prefix(1);
    }
    auto bad = [&] { fail(op() + ": malformed float " + quoted(text)); };
    auto named = [&](const char* word) {
        const size_t n = std::strlen(word);
        if (s.size() != n) return false;
        for (size_t i = 0; i < n; ++i)
            if ((s[i] | 0x20) != word[i]) return false;
        return true;
    };
    double value = 0.0;
    if (named("inf") || named("infinity")) {
        value = std::numeric_limits<double>::infinity();
    } else if (named("nan")) {
        value = std::numeric_limits<double>::quiet_NaN();
    } else {
        scratch_.clear();
        size_t i = 0;
        auto digits = [&] {  // copies digits, dropping single underscores between them
            size_t n = 0;
            while (i < s.size()) {
                if (is_digit(s[i])) {
                    scratch_ += s[i++];
                    ++n;
                } else if (s[i] == '_' && n && i + 1 < s.size() && is_digit(s[i + 1])) {
                    ++i;
                } else {
                    break;
                }
            }
            return n;
        };
        const size_t whole = digits();
        size_t frac = 0;
        if (i < s.size() && s[i] == '.') {
            scratch_ += s[i++];
            frac = digits();
        }
        if (whole + frac == 0) bad();
        int64_t exp10 = 0;
        if (i < s.size() && (s[i] | 0x20) == 'e') {
            scratch_ += s[i++];
            bool eneg = false;
            if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
                eneg = s[i] == '-';
                scratch_ += s[i++];
            }
            const size_t at = scratch_.size();
            if (!digits()) bad();
            for (size_t k = at; k < scratch_.size(); ++k)
                exp10 = std::min<int64_t>(exp10 * 10 + (scratch_[k] - '0'), 1000000000);
            if (eneg) exp10 = -exp10;
        }
        if (i != s.size()) bad();
        const char* b = scratch_.data();
        const auto r = std::from_chars(b, b + scratch_.size(), value);
        if (r.ec == std::errc::result_out_of_range) {
            // Beyond double's range: infinity when the decimal exponent is positive, else 0
            // (float() rounds, from_chars refuses). Decimal exponent of the first nonzero digit:
            int64_t e = exp10;
            size_t k = 0;
            while (k < whole && scratch_[k] == '0') ++k;
            if (k < whole) {
                e += static_cast<int64_t>(whole - k);
            } else {
                for (k = whole + 1; k < whole + 1 + frac && scratch_[k] == '0';) ++k, --e;
            }
            value = e > 0 ? std::numeric_limits<double>::infinity() : 0.0;
        } else if (r.ec != std::errc() || r.ptr != b + scratch_.size()) {
            bad();
        }
    }
    Node* n = make(Kind::Float);
    n->f = negative ? -value : value;
    return n;
}

// STRING, BINSTRING, SHORT_BINSTRING: a Python 2 str, decoded as Options::py2_strings says.
Node* Vm::py2_string(std::string_view raw) {
    if (opt_.py2_strings == Py2Strings::Bytes) {
        Node* n = make(Kind::Bytes);
        n->text = raw;
        return n;
    }
    Node* n = make(Kind::Str);
    if (is_ascii(raw)) {
        n->text = raw;
    } else if (opt_.py2_strings == Py2Strings::Latin1) {
        n->text = g_.keep(latin1_to_utf8(raw));
    } else {
        fail(op() + ": Python 2 string " + quoted(raw) +
             " is not ASCII (decode it as latin1 or bytes)");
    }
    return n;
}

Node* Vm::str_node(std::string_view utf8) {
    const size_t bad = invalid_utf8(utf8, true);
    if (bad != std::string_view::npos)
        fail(op() + ": invalid UTF-8 at byte " + std::to_string(bad) + " of the string");
    Node* n = make(Kind::Str);
    n->text = utf8;
    return n;
}

// Indexes the globals this VM has not seen: those of earlier runs into the graph, and those a
// nested run (started by the build hook, as joblib does for object arrays) added meanwhile.
void Vm::sync_globals() {
    while (views_.size() < g_.globals.size()) {
        const GlobalRef& ref = g_.globals[views_.size()];
        resolved_.emplace(resolved_key(ref.module, ref.name), static_cast<uint32_t>(views_.size()));
        views_.emplace_back();  // kept on first use
    }
}

Node* Vm::global(std::string_view module, std::string_view name) {
    if (module.empty() || name.empty()) fail(op() + ": empty module or name");
    // Python can import neither (embedded NUL, lone surrogates: STACK_GLOBAL's str operands
    // may carry them); documents name globals as C strings of UTF-8.
    if (module.find('\0') != std::string_view::npos || name.find('\0') != std::string_view::npos)
        fail(op() + ": module or name contains a NUL byte");
    if (invalid_utf8(module, false) != std::string_view::npos ||
        invalid_utf8(name, false) != std::string_view::npos)
        fail(op() + ": module or name is not UTF-8");
    sync_globals();
    const bool fix = proto_ < 3;  // CPython applies fix_imports below protocol 3
    // Key: fixed?, the module's length, module, name (no separator that a name could contain).
    const uint64_t module_size = module.size();
    key_.assign(fix ? "2" : "3");
    key_.append(reinterpret_cast<const char*>(&module_size), sizeof module_size);
    key_ += module;
    key_ += name;
    uint32_t index;
    auto raw = raw_.find(key_);
    if (raw != raw_.end()) {
        index = raw->second;
    } else {
        std::string m(module), q(name);
        if (fix) fix_import(m, q);
        auto [it, added] = resolved_.try_emplace(resolved_key(m, q), uint32_t(g_.globals.size()));
        index = it->second;
        if (added) {
            GlobalRef ref;
            ref.module = m;
            ref.name = q;
            ref.raw_module = std::string(module);
            ref.raw_name = std::string(name);
            ref.first_offset = op_offset_;
            g_.globals.push_back(std::move(ref));
            views_.emplace_back(g_.keep(std::move(m)), g_.keep(std::move(q)));
        }
        raw_.emplace(key_, index);
    }
    if (views_[index].first.empty()) {  // a global of another run into this graph
        views_[index] = {g_.keep(g_.globals[index].module), g_.keep(g_.globals[index].name)};
    }
    if (index >= is_pushed_.size()) is_pushed_.resize(index + 1);
    if (!is_pushed_[index]) {
        is_pushed_[index] = true;
        pushed_.push_back(index);
    }
    Node* n = make(Kind::Global);
    n->global = index;
    n->text = views_[index].first;
    n->name = views_[index].second;
    return n;
}

// PUT/GET text: Python's int(text), base 10.
uint64_t Vm::memo_index(std::string_view text, bool put) {
    bool negative;
    if (!text_int(text, false, negative)) fail(op() + ": malformed memo index " + quoted(text));
    while (!limbs_.empty() && limbs_.back() == 0) limbs_.pop_back();
    const bool zero = limbs_.empty();
    if (negative && !zero) {
        if (put) fail("negative PUT index " + quoted(strip(text)));
        fail("memo key " + std::string(strip(text)) + " not found");
    }
    if (limbs_.size() > 2) {
        if (put) fail("PUT index " + quoted(strip(text)) + " out of range");
        fail("memo key " + std::string(strip(text)) + " not found");
    }
    return zero ? 0 : limbs_.size() == 1 ? limbs_[0] : (uint64_t(limbs_[1]) << 32) | limbs_[0];
}

size_t Vm::run() {
    if (pos_ >= size_) {
        op_offset_ = opt_.base_offset + pos_;
        fail("empty pickle stream: expected an opcode");
    }
    for (;;) {
        if (pos_ >= size_) {
            op_offset_ = opt_.base_offset + size_;
            fail("truncated stream: the input ends before STOP");
        }
        op_offset_ = opt_.base_offset + pos_;
        op_ = data_[pos_++];
        ++g_.opcode_count;
        switch (op_) {
            case MARK: marks_.push_back(stack_.size()); break;
            case STOP: {
                if (!marks_.empty() || stack_.size() != 1) {
                    fail("unbalanced MARK/stack at STOP: expected exactly one value and no open "
                         "MARK, found " + std::to_string(stack_.size()) + " value(s) and " +
                         std::to_string(marks_.size()) + " open MARK(s)");
                }
                g_.root = stack_.back();
                use(g_.root);
                for (uint32_t i : pushed_) {  // only this run's: a nested run's STOP comes first
                    GlobalRef& ref = g_.globals[i];
                    if (!ref.called && !ref.instantiated) ref.referenced = true;
                }
                if (pos_ < size_ && !opt_.allow_trailing) {
                    const uint64_t stop = op_offset_;
                    op_offset_ = opt_.base_offset + pos_;
                    fail(std::to_string(size_ - pos_) + " trailing bytes after STOP at byte " +
                         std::to_string(stop));
                }
                return pos_;
            }
            case POP:
                if (stack_.size() > level())
                    stack_.pop_back();
                else if (!marks_.empty())
                    marks_.pop_back();  // as pickle.py: POP on an empty level drops the MARK
                else
                    underflow();
                break;
            case POP_MARK: stack_.resize(pop_mark()); break;
            case DUP: push(top()); break;

            // ----- scalars -----
            case NONE: push(make(Kind::None)); break;
            case NEWTRUE:
            case NEWFALSE: {
                Node* n = make(Kind::Bool);
                n->i = op_ == NEWTRUE;
                push(n);
                break;
            }
            case INT: {
                const std::string_view t = line();
                if (t == "00" || t == "01") {  // protocol 0's False and True
                    Node* n = make(Kind::Bool);
                    n->i = t[1] == '1';
                    push(n);
                } else {
                    push(int_node(t, true));
                }
                break;
            }
            case LONG: {
                std::string_view t = line();
                if (!t.empty() && t.back() == 'L') t.remove_suffix(1);
                push(int_node(t, true));
                break;
            }
            case BININT:
            case BININT1:
            case BININT2: {
                Node* n = make(Kind::Int);
                n->i = op_ == BININT ? i32()
                                     : static_cast<int64_t>(uint_le(op_ == BININT1 ? 1 : 2));
                push(n);
                break;
            }
            case LONG1: push(long_node(bytes(u8()))); break;
            case LONG4: {
                const int32_t n = i32();
                if (n < 0) fail("LONG4 with a negative byte count (" + std::to_string(n) + ")");
                push(long_node(bytes(static_cast<uint64_t>(n))));
                break;
            }
            case FLOAT: push(float_node(line())); break;
            case BINFLOAT: {
                const uint8_t* p = take(8);
                uint64_t bits = 0;
                for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];  // big-endian
                Node* n = make(Kind::Float);
                std::memcpy(&n->f, &bits, 8);
                push(n);
                break;
            }

            // ----- strings and bytes -----
            case STRING: {
                const std::string_view t = line();
                if (t.size() < 2 || t.front() != t.back() || (t[0] != '\'' && t[0] != '"'))
                    fail("STRING: the operand must be quoted, got " + quoted(t));
                const std::string_view body = t.substr(1, t.size() - 2);
                if (body.find('\\') == std::string_view::npos) {
                    push(py2_string(body));
                    break;
                }
                std::string out;
                if (const char* why = escape_decode(body, out))
                    fail(std::string("STRING: ") + why + quoted(t));
                push(py2_string(g_.keep(std::move(out))));
                break;
            }
            case BINSTRING: {
                const int32_t n = i32();
                if (n < 0) fail("BINSTRING with a negative byte count (" + std::to_string(n) + ")");
                push(py2_string(bytes(static_cast<uint64_t>(n))));
                break;
            }
            case SHORT_BINSTRING: push(py2_string(bytes(u8()))); break;
            case UNICODE: {
                const std::string_view t = line();
                if (is_ascii(t) && t.find('\\') == std::string_view::npos) {
                    push(str_node(t));
                    break;
                }
                std::string out;
                if (const char* why = raw_unicode_escape(t, out))
                    fail(std::string("UNICODE: ") + why + quoted(t));
                Node* n = make(Kind::Str);
                n->text = g_.keep(std::move(out));
                push(n);
                break;
            }
            case BINUNICODE: push(str_node(bytes(uint_le(4)))); break;
            case SHORT_BINUNICODE: push(str_node(bytes(u8()))); break;
            case BINUNICODE8: push(str_node(bytes(uint_le(8)))); break;
            case BINBYTES:
            case SHORT_BINBYTES:
            case BINBYTES8:
            case BYTEARRAY8: {
                const std::string_view b =
                    bytes(op_ == SHORT_BINBYTES ? u8() : uint_le(op_ == BINBYTES ? 4 : 8));
                Node* n = make(op_ == BYTEARRAY8 ? Kind::ByteArray : Kind::Bytes);
                n->text = b;
                push(n);
                break;
            }

            // ----- containers -----
            case EMPTY_LIST: push(make(Kind::List)); break;
            case EMPTY_TUPLE: push(make(Kind::Tuple)); break;
            case EMPTY_DICT: push(make(Kind::Dict)); break;
            case EMPTY_SET: push(make(Kind::Set)); break;
            case LIST: push(container(Kind::List, pop_mark())); break;
            case TUPLE: push(container(Kind::Tuple, pop_mark())); break;
            case DICT: push(container(Kind::Dict, pop_mark())); break;
            case FROZENSET: push(container(Kind::FrozenSet, pop_mark())); break;
            case TUPLE1:
            case TUPLE2:
            case TUPLE3: {
                const size_t k = op_ - TUPLE1 + 1u;
                if (stack_.size() - level() < k) underflow();
                push(container(Kind::Tuple, stack_.size() - k));
                break;
            }
            case APPEND: {
                if (stack_.size() - level() < 2) underflow();
                seq_into(stack_[stack_.size() - 2], stack_.size() - 1);
                break;
            }
            case APPENDS: {
                const size_t m = pop_mark();
                seq_into(below(m), m);
                break;
            }
            case SETITEM: {
                if (stack_.size() - level() < 3) underflow();
                map_into(stack_[stack_.size() - 3], stack_.size() - 2);
                break;
            }
            case SETITEMS: {
                const size_t m = pop_mark();
                map_into(below(m), m);
                break;
            }
            case ADDITEMS: {
                const size_t m = pop_mark();
                Node* set = below(m);
                if (set->kind != Kind::Set) fail("ADDITEMS to " + where(set) + ": not a set");
                for (size_t i = m; i < stack_.size(); ++i) hashable(stack_[i], "set item");
                use(m);
                set->items.insert(set->items.end(), stack_.begin() + m, stack_.end());
                stack_.resize(m);
                break;
            }

            // ----- memo -----
            case PUT: {
                const uint64_t key = memo_index(line(), true);
                memo_.put(key, top());
                break;
            }
            case BINPUT:
            case LONG_BINPUT: {
                const uint64_t key = uint_le(op_ == BINPUT ? 1 : 4);
                memo_.put(key, top());
                break;
            }
            case MEMOIZE: memo_.put(memo_.size(), top()); break;
            case GET:
            case BINGET:
            case LONG_BINGET: {
                const uint64_t key =
                    op_ == GET ? memo_index(line(), false) : uint_le(op_ == BINGET ? 1 : 4);
                Node* n = memo_.get(key);
                if (!n) fail("memo key " + std::to_string(key) + " not found");
                push(n);
                break;
            }

            // ----- globals, calls, objects -----
            case GLOBAL: {
                const std::string_view module = line();
                const std::string_view name = line();
                if (invalid_utf8(module, false) != std::string_view::npos ||
                    invalid_utf8(name, false) != std::string_view::npos)
                    fail("GLOBAL: module or name is not UTF-8");
                push(global(module, name));
                break;
            }
            case STACK_GLOBAL: {
                Node* name = pop();
                Node* module = pop();
                if (module->kind != Kind::Str || name->kind != Kind::Str) {
                    fail("STACK_GLOBAL needs two str, got " + where(module) + " and " +
                         where(name));
                }
                push(global(module->text, name->text));
                break;
            }
            case INST: {
                const std::string_view module = line();
                const std::string_view name = line();
                if (invalid_utf8(module, false) != std::string_view::npos ||
                    invalid_utf8(name, false) != std::string_view::npos)
                    fail("INST: module or name is not UTF-8");
                Node* cls = global(module, name);
                g_.globals[cls->global].instantiated = true;
                Node* args = container(Kind::Tuple, pop_mark());
                Node* n = make(Kind::NewObj);
                n->callable = cls;
                n->args = args;
                push(n);
                break;
            }
            case OBJ: {
                const size_t m = pop_mark();
                if (stack_.size() == m) fail("OBJ without a class after the MARK");
                Node* cls = stack_[m];
                callable_or_class(cls, true);
                if (cls->kind == Kind::Global) g_.globals[cls->global].instantiated = true;
                Node* args = container(Kind::Tuple, m + 1);
                stack_.pop_back();  // the class
                Node* n = make(Kind::NewObj);
                n->callable = cls;
                n->args = args;
                push(n);
                break;
            }
            case NEWOBJ:
            case NEWOBJ_EX: {
                Node* kwargs = op_ == NEWOBJ_EX ? pop() : nullptr;
                Node* args = pop();
                Node* cls = pop();
                callable_or_class(cls, true);
                if (args->kind != Kind::Tuple)
                    fail(op() + ": the arguments are " + where(args) + ", not a tuple");
                if (kwargs && kwargs->kind != Kind::Dict)
                    fail("NEWOBJ_EX: the keyword arguments are " + where(kwargs) + ", not a dict");
                if (cls->kind == Kind::Global) g_.globals[cls->global].instantiated = true;
                use(args);
                if (kwargs) use(kwargs);
                Node* n = make(Kind::NewObj);
                n->callable = cls;
                n->args = args;
                n->kwargs = kwargs;
                push(n);
                break;
            }
            case REDUCE: {
                Node* args = pop();
                Node*& fn = top();
                callable_or_class(fn, false);
                if (args->kind != Kind::Tuple)
                    fail("REDUCE: the arguments are " + where(args) + ", not a tuple");
                if (fn->kind == Kind::Global) g_.globals[fn->global].called = true;
                use(args);
                Node* n = make(Kind::Reduce);
                n->callable = fn;
                n->args = args;
                fn = n;
                break;
            }
            case BUILD: {
                Node* state = pop();
                Node* target = top();
                const Kind k = target->kind;
                if (k != Kind::Reduce && k != Kind::NewObj && k != Kind::PersId && k != Kind::Ext)
                    fail("BUILD on " + where(target) + ": only objects can be built");
                state_dict(state);
                if (state->kind == Kind::Tuple && state->items.size() == 2) {  // (state, slotstate)
                    state_dict(state->items[0]);
                    state_dict(state->items[1]);
                }
                use(state);
                target->states.push_back(state);
                if (opt_.build_hook && (k == Kind::Reduce || k == Kind::NewObj)) {
                    Cursor in(data_, size_, pos_, opt_.base_offset);
                    opt_.build_hook(g_, target, in);
                    if (in.pos() < pos_) fail("BUILD: the build hook moved the stream backwards");
                    pos_ = in.pos();
                }
                break;
            }
            case PERSID: {
                const std::string_view t = line();
                if (!is_ascii(t)) fail("PERSID: persistent IDs in protocol 0 must be ASCII");
                Node* pid = make(Kind::Str);
                pid->text = t;
                Node* n = make(Kind::PersId);
                n->args = pid;
                push(n);
                break;
            }
            case BINPERSID: {
                Node* pid = pop();
                use(pid);
                Node* n = make(Kind::PersId);
                n->args = pid;
                push(n);
                break;
            }
            case EXT1:
            case EXT2:
            case EXT4: {
                const int64_t code =
                    op_ == EXT4 ? i32() : static_cast<int64_t>(uint_le(op_ == EXT1 ? 1 : 2));
                if (code <= 0)
                    fail(op() + ": extension code " + std::to_string(code) + " is not positive");
                Node* n = make(Kind::Ext);
                n->i = code;
                push(n);
                break;
            }

            // ----- protocol 2+ framing and protocol 5 buffers -----
            case PROTO: {
                const int v = u8();
                if (v > kHighestProtocol) {
                    fail("unsupported pickle protocol " + std::to_string(v) + " (highest is " +
                         std::to_string(kHighestProtocol) + ")");
                }
                proto_ = std::max(proto_, v);
                g_.protocol = std::max(g_.protocol, v);
                break;
            }
            case FRAME: {
                if (pos_ < frame_end_) {
                    fail("FRAME inside the current frame, which ends at byte " +
                         std::to_string(opt_.base_offset + frame_end_));
                }
                const uint64_t n = uint_le(8);
                if (n > size_ - pos_) {
                    fail("FRAME of " + std::to_string(n) + " bytes but only " +
                         std::to_string(size_ - pos_) + " remain");
                }
                frame_end_ = pos_ + static_cast<size_t>(n);
                break;
            }
            case NEXT_BUFFER: {
                Node* n = make(Kind::Buffer);
                n->i = static_cast<int64_t>(next_buffer_);
                if (opt_.buffers) {
                    if (next_buffer_ >= opt_.buffers->size()) {
                        fail("NEXT_BUFFER: not enough out-of-band buffers (" +
                             std::to_string(opt_.buffers->size()) + " given)");
                    }
                    n->text = (*opt_.buffers)[next_buffer_];
                } else if (!opt_.allow_unresolved_buffers) {
                    fail("NEXT_BUFFER: the stream refers to out-of-band buffers but none were "
                         "given");
                }
                ++next_buffer_;
                push(n);
                break;
            }
            case READONLY_BUFFER: {
                Node* n = top();
                if (n->kind != Kind::Buffer && n->kind != Kind::Bytes && n->kind != Kind::ByteArray)
                    fail("READONLY_BUFFER on " + where(n) + ": not a buffer");
                n->readonly = true;
                break;
            }
            default: {
                static const char hex[] = "0123456789abcdef";
                std::string b = "0x";
                b += hex[op_ >> 4];
                b += hex[op_ & 15];
                if (op_ >= 0x20 && op_ < 0x7F) b += std::string(" ('") + char(op_) + "')";
                fail("unknown opcode " + b);
            }
        }
    }
}

size_t run(Graph& graph, const uint8_t* data, size_t size, const Options& options, size_t pos) {
    if (pos > size) {
        throw Error(options.base_offset + size,
                    "start " + std::to_string(pos) + " is past the end of the input");
    }
    Vm vm(graph, data, size, options, pos);
    return vm.run();
}

}  // namespace pickle
}  // namespace milo
