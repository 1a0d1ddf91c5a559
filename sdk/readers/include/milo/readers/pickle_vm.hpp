/// \file milo/readers/pickle_vm.hpp
/// The safe pickle virtual machine: interprets a pickle stream (protocols 0–5, all 68 opcodes)
/// symbolically into a graph. Globals stay names, calls stay nodes; nothing is imported,
/// resolved or executed. Memo sharing is kept: a memo hit yields the same Node*.
///
/// Part of the static library `milo_readers` (sdk/readers), which plugins and the `milo` tool
/// link directly; it is not part of libmilo's ABI.
///
/// Strictness beyond CPython's: the stream must end at STOP with exactly one value on the stack
/// and no open MARK (trailing bytes are an error unless Options::allow_trailing); APPEND(S),
/// SETITEM(S), ADDITEMS, BUILD, NEWOBJ and REDUCE on a target of the wrong kind are errors (not
/// attribute lookups); BUILD may not set `__class__`. Every length-prefixed operand is checked
/// against the bytes remaining before anything is allocated. Every error is a pickle::Error
/// carrying the byte offset of the offending opcode.
#ifndef MILO_READERS_PICKLE_VM_HPP
#define MILO_READERS_PICKLE_VM_HPP

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace milo {
namespace pickle {

/// A malformed or refused stream. what() reads "byte N: <reason>"; offset() is N, counted from
/// the start of the buffer handed to run() plus Options::base_offset.
class Error : public std::runtime_error {
public:
    Error(uint64_t offset, const std::string& reason);
    uint64_t offset() const noexcept { return offset_; }
    /// The reason without the "byte N: " prefix.
    const std::string& reason() const noexcept { return reason_; }

private:
    uint64_t offset_;
    std::string reason_;
};

enum class Kind : uint8_t {
    None,
    Bool,       ///< value in `i` (0 or 1)
    Int,        ///< fits int64: value in `i`
    Long,       ///< does not fit int64: `text` is little-endian two's complement bytes
    Float,      ///< value in `f`
    Str,        ///< `text` is UTF-8 (lone surrogates encoded as CPython's "surrogatepass" does)
    Bytes,      ///< `text` is the bytes
    ByteArray,  ///< `text` is the bytes (BYTEARRAY8, or an in-band protocol-5 buffer)
    List,       ///< `items`
    Tuple,      ///< `items`
    Dict,       ///< `items` holds key0, value0, key1, value1, … in insertion order
    Set,        ///< `items`
    FrozenSet,  ///< `items`
    Global,     ///< `text` = module, `name` = qualified name, as resolved (see GlobalRef)
    Reduce,     ///< `callable`(*`args`): REDUCE
    NewObj,     ///< `callable` = class; `args` tuple; `kwargs` dict or null: NEWOBJ(_EX), OBJ, INST
    PersId,     ///< persistent_load(`args`): PERSID (args is a Str) or BINPERSID
    Ext,        ///< copyreg extension code in `i`: EXT1/2/4
    Buffer,     ///< out-of-band buffer number `i` (NEXT_BUFFER); `text` = its bytes if supplied
};

/// Name of a kind for messages ("dict", "global", …).
const char* kind_name(Kind kind) noexcept;

/// One value of the graph. Owned by its Graph; pointers stay valid as long as the Graph.
struct Node {
    Kind kind = Kind::None;
    bool readonly = false;    ///< Buffer/Bytes/ByteArray marked by READONLY_BUFFER
    uint32_t global = 0;      ///< Global: index into Graph::globals
    uint64_t offset = 0;      ///< byte offset of the opcode that created the node
    int64_t i = 0;            ///< Bool, Int, Ext, Buffer
    double f = 0.0;           ///< Float
    std::string_view text;    ///< Long, Str, Bytes, ByteArray, Buffer, Global (module)
    std::string_view name;    ///< Global (qualified name)
    std::vector<Node*> items;            ///< List, Tuple, Dict (k, v, k, v…), Set, FrozenSet
    Node* callable = nullptr;            ///< Reduce: the callable; NewObj: the class
    Node* args = nullptr;                ///< Reduce, NewObj: a Tuple; PersId: the pid
    Node* kwargs = nullptr;              ///< NewObj from NEWOBJ_EX: a Dict
    std::vector<Node*> states;           ///< Reduce/NewObj/PersId/Ext: BUILD arguments, in order
    std::vector<Node*> list_items;       ///< Reduce/NewObj: APPEND(S) onto the object
    std::vector<Node*> dict_items;       ///< Reduce/NewObj: SETITEM(S) onto it (k, v, k, v…)
    Node* payload = nullptr;             ///< attached by a BuildHook (e.g. joblib array data)

    bool is_container() const noexcept {
        return kind == Kind::List || kind == Kind::Tuple || kind == Kind::Dict ||
               kind == Kind::Set || kind == Kind::FrozenSet;
    }
};

/// True when `n` is the global `module`.`name` exactly (false for nullptr).
inline bool is_global(const Node* n, std::string_view module, std::string_view name) noexcept {
    return n != nullptr && n->kind == Kind::Global && n->text == module && n->name == name;
}

/// Every name a stream refers to (GLOBAL, STACK_GLOBAL, INST), once per (module, name), in
/// order of first appearance, with how it was used. Usage is never guessed: a name pushed but
/// never consumed counts as `referenced`.
struct GlobalRef {
    std::string module;       ///< after Python 2 → 3 renaming (fix_imports) when protocol < 3
    std::string name;         ///< qualified name, possibly dotted ("Outer.Inner")
    std::string raw_module;   ///< exactly as written in the stream
    std::string raw_name;
    uint64_t first_offset = 0;
    bool called = false;        ///< callable of REDUCE
    bool instantiated = false;  ///< class of NEWOBJ, NEWOBJ_EX, OBJ or INST
    bool referenced = false;    ///< used as a value (argument, item, state, root, …)
    std::string full_name() const { return module + "." + name; }
};

/// The result of run(): owns every node and every decoded string.
class Graph {
public:
    Graph();
    ~Graph();
    Graph(const Graph&) = delete;
    Graph& operator=(const Graph&) = delete;

    Node* root = nullptr;
    int protocol = 0;                 ///< highest PROTO seen (0 when the stream has none)
    std::vector<GlobalRef> globals;
    uint64_t opcode_count = 0;

    /// Allocation helpers for the VM and for BuildHooks.
    Node* make(Kind kind, uint64_t offset);
    std::string_view keep(std::string text);  ///< owns text; the view lives as long as the Graph
    size_t node_count() const noexcept { return nodes_.size(); }

private:
    std::deque<Node> nodes_;
    std::deque<std::string> texts_;
    friend class Vm;
};

/// Read access to the stream for a BuildHook: bytes after the BUILD opcode.
class Cursor {
public:
    Cursor(const uint8_t* data, size_t size, size_t pos, uint64_t base_offset)
        : data_(data), size_(size), pos_(pos), base_(base_offset) {}
    size_t remaining() const noexcept { return size_ - pos_; }
    /// Offset (for messages) of the next byte, including Options::base_offset.
    uint64_t offset() const noexcept { return base_ + pos_; }
    /// The next n bytes (borrowed from the input); throws Error when fewer remain.
    std::string_view take(size_t n, const char* what);
    const uint8_t* data() const noexcept { return data_; }
    size_t size() const noexcept { return size_; }
    size_t pos() const noexcept { return pos_; }
    void seek(size_t pos);

private:
    const uint8_t* data_;
    size_t size_;
    size_t pos_;
    uint64_t base_;
};

/// Called after every BUILD whose target is a NewObj or Reduce node, with that node and a
/// cursor at the byte after the BUILD opcode. It may read bytes (advancing the cursor) and set
/// node->payload. joblib uses it for the array bytes written after each NumpyArrayWrapper.
using BuildHook = std::function<void(Graph& graph, Node* built, Cursor& in)>;

/// How Python 2 strings (STRING, BINSTRING, SHORT_BINSTRING) are decoded, as Unpickler's
/// `encoding` argument: "ASCII" (CPython's default, strict), "latin1", or kept as bytes.
enum class Py2Strings : uint8_t { Ascii, Latin1, Bytes };

struct Options {
    /// Out-of-band buffers for NEXT_BUFFER, in order (protocol 5). When null, NEXT_BUFFER is an
    /// error unless allow_unresolved_buffers, in which case the Buffer node has an empty text.
    const std::vector<std::string_view>* buffers = nullptr;
    bool allow_unresolved_buffers = false;
    /// Stop at STOP and report where (run()'s return value) instead of refusing trailing bytes:
    /// for pickles embedded in a larger stream (joblib object arrays).
    bool allow_trailing = false;
    Py2Strings py2_strings = Py2Strings::Ascii;
    /// Added to every offset reported (position of this stream in an enclosing one).
    uint64_t base_offset = 0;
    BuildHook build_hook;
};

/// Runs the stream data[pos, size) into `graph` (which may already hold nodes from another
/// stream; globals accumulate). Sets graph.root to the value STOP returns and returns the
/// position just after STOP. Throws Error on anything malformed. The graph borrows from `data`
/// (string views), so `data` must outlive it.
size_t run(Graph& graph, const uint8_t* data, size_t size, const Options& options = {},
           size_t pos = 0);

/// Python 2 → 3 module/name renaming that CPython's Unpickler applies for protocol < 3 with
/// fix_imports (the tables of Lib/_compat_pickle.py). Returns false when nothing changes.
bool fix_import(std::string& module, std::string& name);

/// Name of an opcode byte ("BINUNICODE"), or nullptr when it is not an opcode.
const char* opcode_name(uint8_t op) noexcept;

}  // namespace pickle
}  // namespace milo

#endif  // MILO_READERS_PICKLE_VM_HPP
