// joblib reader: real files written by joblib (make_joblib_cases.py, run by CTest before this
// test) must give, for every NumpyArrayWrapper, exactly the bytes joblib wrote, viewed in place;
// hand-made streams pin the layout rules and every refusal (byte offset + reason).
#include "milo/readers/joblib_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_set>
#include <vector>

using milo::pickle::Error;
using milo::pickle::Graph;
using milo::pickle::Kind;
using milo::pickle::Node;
using milo::readers::Container;
using milo::readers::DecompressError;
using milo::readers::DecompressLimits;
using milo::readers::PickleSource;
using milo::readers::read_pickle_or_joblib;
using namespace std::string_literals;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot open " + path);
    return std::string(std::istreambuf_iterator<char>(f), {});
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

void read(Graph& g, const std::string& data, PickleSource& src,
          const DecompressLimits& limits = {}) {
    read_pickle_or_joblib(g, u8(data), data.size(), src, {}, limits);
}

// Every node reachable from the root that carries a payload, in stream order.
std::vector<const Node*> wrappers(const Graph& g) {
    std::vector<const Node*> found, todo{g.root};
    std::unordered_set<const Node*> seen;
    while (!todo.empty()) {
        const Node* n = todo.back();
        todo.pop_back();
        if (n == nullptr || !seen.insert(n).second) continue;
        if (n->payload != nullptr) found.push_back(n);
        for (auto* v : {&n->items, &n->states, &n->list_items, &n->dict_items})
            todo.insert(todo.end(), v->begin(), v->end());
        todo.insert(todo.end(), {n->callable, n->args, n->kwargs, n->payload});
    }
    std::sort(found.begin(), found.end(),
              [](const Node* a, const Node* b) { return a->offset < b->offset; });
    return found;
}

const Node* state_value(const Node* w, const std::string& key) {
    const Node* st = w->states.at(0);
    for (size_t i = 0; i + 1 < st->items.size(); i += 2)
        if (st->items[i]->text == key) return st->items[i + 1];
    return nullptr;
}

// The error a call throws (fails the test when it throws none).
Error error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e;
    }
    FAIL("expected a pickle::Error");
    return Error(0, "");
}

Error read_error(const std::string& data) {
    return error_of([&] {
        Graph g;
        PickleSource src;
        read(g, data, src);
    });
}

#define CHECK_ERROR(data, off, part)                                   \
    do {                                                               \
        const Error e_ = read_error(data);                             \
        INFO(e_.what());                                               \
        CHECK(e_.offset() == (off));                                   \
        CHECK(std::string(e_.what()).find(part) != std::string::npos); \
    } while (0)

std::string zlib_compress(const std::string& s) {
    uLongf n = compressBound(s.size());
    std::string out(n, '\0');
    REQUIRE(compress2(reinterpret_cast<Bytef*>(&out[0]), &n, u8(s), s.size(), 6) == Z_OK);
    out.resize(n);
    return out;
}

// ---- real files -------------------------------------------------------------------------------

// Reads every file of a manifest and checks each array against what joblib wrote.
void check_cases(const std::string& dir) {
    nlohmann::json m = nlohmann::json::parse(slurp(dir + "/manifest.json"));
    if (m.contains("skipped")) {
        WARN("joblib cases skipped: " << m["skipped"].get<std::string>());
        return;
    }
    INFO("written by " << m["python"] << ", numpy " << m["numpy"] << ", joblib " << m["joblib"]
                       << ", lz4: " << m["lz4"]);
    REQUIRE(m["cases"].size() >= 72);
    std::unordered_set<std::string> containers;
    size_t n_arrays = 0, n_objects = 0;
    for (const auto& c : m["cases"]) {
        INFO("case " << c["name"]);
        const std::string file = slurp(dir + "/" + c["file"].get<std::string>());
        Graph g;
        PickleSource src;
        read(g, file, src);
        CHECK(milo::readers::container_name(src.container) == c["container"].get<std::string>());
        containers.insert(c["container"].get<std::string>());
        const std::string& stream = src.container == Container::Pickle ? file : src.storage;
        CHECK(src.storage.empty() == (src.container == Container::Pickle));
        const auto& arrays = c["arrays"];
        CHECK(src.joblib == !arrays.empty());
        const auto ws = wrappers(g);
        REQUIRE(ws.size() == arrays.size());
        for (size_t i = 0; i < ws.size(); ++i) {
            const auto& a = arrays[i];
            INFO("array " << i << ": " << a.dump());
            const Node* w = ws[i];
            const uint64_t start = a["start"], end = a["end"];
            CHECK(w->offset < start);
            const Node* shape = state_value(w, "shape");
            REQUIRE(shape != nullptr);
            REQUIRE(shape->items.size() == a["shape"].size());
            for (size_t d = 0; d < shape->items.size(); ++d)
                CHECK(shape->items[d]->i == a["shape"][d].get<int64_t>());
            CHECK(state_value(w, "order")->text == a["order"].get<std::string>());
            const Node* p = w->payload;
            if (a["object"].get<bool>()) {
                // the nested pickle's root: numpy's _reconstruct, built with its item list
                ++n_objects;
                REQUIRE(p->kind == Kind::Reduce);
                CHECK(p->callable->name == "_reconstruct");
                CHECK(p->offset >= start);
                CHECK(p->offset < end);
                REQUIRE(p->states.size() == 1);
                REQUIRE(p->states[0]->items.size() == 5);
                const Node* items = p->states[0]->items[4];
                REQUIRE(items->kind == Kind::List);
                CHECK(items->items.size() == a["count"].get<size_t>());
                continue;
            }
            ++n_arrays;
            REQUIRE(p->kind == Kind::Bytes);
            const uint64_t at = a["data_offset"];
            CHECK(p->offset == at);
            CHECK(at + p->text.size() == end);
            CHECK(p->text.data() == stream.data() + at);  // a view of the stream, not a copy
            CHECK(p->text == slurp(dir + "/" + a["bin"].get<std::string>()));
            if (!a["padding"].is_null()) {
                const uint64_t pad = a["padding"];
                CHECK(uint8_t(stream[start]) == pad);
                CHECK(at == start + 1 + pad);
            }
        }
    }
    CHECK(n_arrays >= 1000);
    CHECK(n_objects >= 100);
    for (const char* k : {"pickle", "zlib", "gzip", "bz2", "xz", "lzma"})
        CHECK(containers.count(k));
    if (m["lz4"] != "none") CHECK(containers.count("lz4"));
}

}  // namespace

TEST_CASE("joblib files of Debian's joblib: every array byte for byte", "[joblib]") {
    check_cases(MILO_JOBLIB_CASES "/system");
}

TEST_CASE("joblib files of the venv's joblib: every array byte for byte", "[joblib]") {
    const std::string dir = MILO_JOBLIB_CASES "/venv";
    if (!std::ifstream(dir + "/manifest.json")) {
        WARN("no venv cases (no " << dir << "/manifest.json): the venv has no python");
        return;
    }
    check_cases(dir);
}

TEST_CASE("joblib files of real joblib, damaged", "[joblib]") {
    const std::string dir = MILO_JOBLIB_CASES "/system";
    nlohmann::json m = nlohmann::json::parse(slurp(dir + "/manifest.json"));
    const std::string file = slurp(dir + "/dtypes_p2_raw.joblib");
    nlohmann::json arrays;
    for (const auto& c : m["cases"])
        if (c["name"] == "dtypes_p2_raw") arrays = c["arrays"];
    // the array of 1000 float64 and one with more than one padding byte
    nlohmann::json big, padded;
    for (const auto& a : arrays) {
        if (a["shape"] == nlohmann::json::array({1000})) big = a;
        if (!a["object"].get<bool>() && !a["padding"].is_null() && a["padding"].get<int>() >= 3)
            padded = a;
    }
    REQUIRE(big.is_object());
    REQUIRE(padded.is_object());
    const uint64_t at = big["data_offset"], start = padded["start"];

    SECTION("array data cut short") {
        CHECK_ERROR(file.substr(0, at + 100), at, "needs 8000 bytes, only 100 remain");
    }
    SECTION("stream ends before the padding length") {
        CHECK_ERROR(file.substr(0, start), start, "padding length byte");
    }
    SECTION("padding cut short") { CHECK_ERROR(file.substr(0, start + 2), start, "cut short"); }
    SECTION("padding length above the alignment") {
        std::string bad = file;
        bad[start] = char(17);
        CHECK_ERROR(bad, start, "padding length is 17, expected 1 to 16");
    }
    SECTION("padding length 0") {
        std::string bad = file;
        bad[start] = 0;
        CHECK_ERROR(bad, start, "padding length is 0");
    }
    SECTION("padding byte other than 0xff") {
        std::string bad = file;
        bad[start + 2] = 0;
        CHECK_ERROR(bad, start + 2, "not 0xff");
    }
    SECTION("the same damage inside a zlib stream: offsets in the decompressed stream") {
        std::string bad = file;
        bad[start] = char(17);
        const Error e = read_error(zlib_compress(bad));
        CHECK(e.offset() == start);
        CHECK(std::string(e.what()).find("(in the zlib-decompressed stream)") != std::string::npos);
    }
    SECTION("a nested object-array pickle cut short") {
        const std::string objs = slurp(dir + "/objects_p2_raw.joblib");
        nlohmann::json first;
        for (const auto& c : m["cases"])
            if (c["name"] == "objects_p2_raw") first = c["arrays"][0];
        REQUIRE(first["object"].get<bool>());
        const uint64_t end = first["end"];
        const Error e = read_error(objs.substr(0, end - 3));
        INFO(e.what());
        CHECK(e.offset() >= first["start"].get<uint64_t>());
        CHECK(e.offset() <= end - 3);
        CHECK(std::string(e.what()).find("in the pickled object array after the "
                                         "NumpyArrayWrapper at byte") != std::string::npos);
    }
}

TEST_CASE("joblib decompression bombs are refused under the caps", "[joblib]") {
    const std::string dir = MILO_JOBLIB_CASES "/system";
    Graph g;
    PickleSource src;
    // zlib of 2 GiB of zeros (ratio about 1000:1) against a 256 MiB output cap
    const std::string z = slurp(dir + "/bomb_zlib.joblib");
    DecompressLimits capped;
    capped.max_output = uint64_t(256) << 20;
    CHECK_THROWS_AS(read(g, z, src, capped), DecompressError);
    CHECK(src.container == Container::Zlib);
    // bz2 members holding 2 GiB of zeros in 2.5 KB: the default ratio cap
    const std::string b = slurp(dir + "/bomb_bz2.joblib");
    CHECK(b.size() < 4096);
    CHECK_THROWS_AS(read(g, b, src), DecompressError);
    CHECK(src.container == Container::Bz2);
}

// ---- hand-made streams ------------------------------------------------------------------------

namespace {

// Protocol-2 pieces written as CPython writes them.
std::string le(uint64_t v, int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += char((v >> (8 * i)) & 0xff);
    return s;
}
std::string str(const std::string& s) { return "X" + le(s.size(), 4) + s; }  // BINUNICODE
std::string int_(int64_t v) {                                                // LONG1 / BININT
    if (v >= INT32_MIN && v <= INT32_MAX) return "J" + le(uint64_t(v), 4);
    return std::string("\x8a\x08", 2) + le(uint64_t(v), 8);
}
std::string global(const std::string& module, const std::string& name) {
    return "c" + module + "\n" + name + "\n";
}
std::string tuple(const std::vector<std::string>& items) {
    std::string s = "(";
    for (const auto& i : items) s += i;
    return s + "t";
}
// numpy.dtype(spec, False, True) with its version-3 state, as numpy pickles it
std::string dtype(const std::string& spec, const std::string& order = "<", int flags = 0) {
    return global("numpy", "dtype") + str(spec) + "\x89\x88\x87R" +
           tuple({"K\x03", str(order), "NNN", int_(-1), int_(-1), int_(flags)}) + "b";
}

struct Stream {
    std::string bytes;
    uint64_t wrapper = 0;  // offset of the NEWOBJ opcode
    uint64_t after = 0;    // offset just after the BUILD opcode
};

using State = std::vector<std::pair<std::string, std::string>>;

State state(const std::string& shape = "K\x02\x85", const std::string& dt = dtype("f8")) {
    return {{"subclass", global("numpy", "ndarray")},
            {"shape", shape},
            {"order", str("C")},
            {"dtype", dt},
            {"allow_mmap", "\x88"},
            {"numpy_array_alignment_bytes", "K\x10"}};
}

State without(State s, const std::string& key) {
    s.erase(std::remove_if(s.begin(), s.end(), [&](const auto& kv) { return kv.first == key; }),
            s.end());
    return s;
}

State with(State s, const std::string& key, const std::string& value) {
    for (auto& kv : s)
        if (kv.first == key) kv.second = value;
    return s;
}

// PROTO 2, NumpyArrayWrapper(), BUILD(state as a dict, or `raw_state`), `after`, STOP.
Stream wrapper(const State& st, const std::string& after,
               const std::string& module = "joblib.numpy_pickle",
               const std::string* raw_state = nullptr) {
    Stream s;
    s.bytes = "\x80\x02" + global(module, "NumpyArrayWrapper") + ")";
    s.wrapper = s.bytes.size();
    s.bytes += "\x81";
    if (raw_state) {
        s.bytes += *raw_state;
    } else {
        s.bytes += "}(";
        for (const auto& kv : st) s.bytes += str(kv.first) + kv.second;
        s.bytes += "u";
    }
    s.bytes += "b";
    s.after = s.bytes.size();
    s.bytes += after + ".";
    return s;
}

const std::string kData("\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40", 16);
std::string pad(int n) { return char(n) + std::string(size_t(n), '\xff'); }

const Node* read_wrapper(Graph& g, const Stream& s) {
    PickleSource src;
    read(g, s.bytes, src);
    CHECK(src.container == Container::Pickle);
    CHECK(src.joblib);
    REQUIRE(g.root != nullptr);
    REQUIRE(g.root->payload != nullptr);
    return g.root;
}

}  // namespace

TEST_CASE("joblib wrapper layouts joblib writes", "[joblib]") {
    Graph g;
    SECTION("alignment 16 with the full 16 bytes of padding") {
        const Stream s = wrapper(state(), pad(16) + kData);
        const Node* p = read_wrapper(g, s)->payload;
        CHECK(p->kind == Kind::Bytes);
        CHECK(p->offset == s.after + 17);
        CHECK(p->text == kData);
        CHECK(p->text.data() == s.bytes.data() + s.after + 17);
    }
    SECTION("alignment None (written where tell() fails): no padding") {
        const Stream s = wrapper(with(state(), "numpy_array_alignment_bytes", "N"), kData);
        CHECK(read_wrapper(g, s)->payload->text == kData);
    }
    SECTION("joblib < 1.2: no alignment key, no padding") {
        const Stream s = wrapper(without(state(), "numpy_array_alignment_bytes"), kData);
        CHECK(read_wrapper(g, s)->payload->offset == s.after);
    }
    SECTION("sklearn.externals.joblib, old scikit-learn's copy of joblib") {
        const Stream s = wrapper(state(), pad(1) + kData, "sklearn.externals.joblib.numpy_pickle");
        CHECK(read_wrapper(g, s)->payload->text == kData);
    }
    SECTION("another class is not a wrapper: the bytes after BUILD are opcodes") {
        const Stream s = wrapper(state(), "", "joblib.numpy_pickle_x");
        PickleSource src;
        read(g, s.bytes, src);
        CHECK_FALSE(src.joblib);
        CHECK(g.root->payload == nullptr);
    }
    SECTION("shape (): one item; shape (0, 5): none") {
        const Stream one = wrapper(state(")"), pad(3) + kData.substr(0, 8));
        CHECK(read_wrapper(g, one)->payload->text.size() == 8);
        Graph g2;
        const Stream none = wrapper(state("K\x00K\x05\x86"s), pad(3));
        CHECK(read_wrapper(g2, none)->payload->text.empty());
    }
    SECTION("alignment 4 (a future default): padding up to 4") {
        const Stream s =
            wrapper(with(state(), "numpy_array_alignment_bytes", "K\x04"), pad(4) + kData);
        CHECK(read_wrapper(g, s)->payload->text == kData);
    }
    SECTION("object dtype: a nested pickle, its root is the payload; offsets continue") {
        const std::string nested = "\x80\x02(K\x07X\x01\x00\x00\x00zl."s;
        const Stream s = wrapper(state("K\x02\x85", dtype("O8", "|", 63)), nested);
        const Node* p = read_wrapper(g, s)->payload;
        REQUIRE(p->kind == Kind::List);
        CHECK(p->offset == s.after + 11);  // the LIST opcode of the nested stream
        REQUIRE(p->items.size() == 2);
        CHECK(p->items[0]->i == 7);
        CHECK(p->items[1]->text == "z");
    }
    SECTION("globals of the nested pickle and of the rest of the stream: each named once") {
        // nested: (X, _reconstruct); after it the outer stream names len, then X again
        const std::string x = global("numpy.core.multiarray", "_reconstruct");
        const std::string nested = "\x80\x02" + x + "\x85.";
        Stream s = wrapper(state("K\x01\x85", dtype("O8", "|", 63)), nested);
        s.bytes.insert(s.bytes.size() - 1, global("builtins", "len") + x + "\x87");
        PickleSource src;
        read(g, s.bytes, src);
        REQUIRE(g.root->kind == Kind::Tuple);
        REQUIRE(g.root->items.size() == 3);
        CHECK(g.root->items[1]->name == "len");
        CHECK(g.root->items[2]->name == "_reconstruct");
        CHECK(g.root->items[2]->text == "numpy.core.multiarray");
        std::vector<std::string> names;
        for (const auto& ref : g.globals) names.push_back(ref.full_name());
        CHECK(names == std::vector<std::string>{
                           "joblib.numpy_pickle.NumpyArrayWrapper", "numpy.ndarray", "numpy.dtype",
                           "numpy.core.multiarray._reconstruct", "builtins.len"});
        CHECK(g.root->items[1]->global == 4);
        CHECK(g.root->items[2]->global == 3);
    }
    SECTION("record dtype holding an object field: a nested pickle too (numpy's hasobject)") {
        const std::string names = str("o") + "\x85";
        const std::string fields = "}(" + str("o") + tuple({dtype("O8", "|", 63), "K\x00"s}) + "u";
        const std::string rec =
            global("numpy", "dtype") + str("V8") + "\x89\x88\x87R" +
            tuple({"K\x03", str("|"), "N", names, fields, int_(8), int_(1), int_(63)}) + "b";
        const Stream s = wrapper(state("K\x01\x85", rec), "\x80\x02N.");
        CHECK(read_wrapper(g, s)->payload->kind == Kind::None);
    }
    SECTION("the caller's build hook still sees every BUILD, wrappers with their payload") {
        int calls = 0;
        milo::pickle::Options o;
        o.build_hook = [&](Graph&, Node* n, milo::pickle::Cursor&) {
            CHECK((n->kind == Kind::NewObj) == (n->payload != nullptr));
            ++calls;
        };
        const Stream s = wrapper(state(), pad(2) + kData);
        PickleSource src;
        read_pickle_or_joblib(g, u8(s.bytes), s.bytes.size(), src, o);
        CHECK(calls == 2);  // the dtype's BUILD and the wrapper's
    }
}

TEST_CASE("joblib wrapper states and data that are refused", "[joblib]") {
    SECTION("state keys") {
        for (const char* key : {"subclass", "shape", "order", "dtype", "allow_mmap"}) {
            const Stream s = wrapper(without(state(), key), pad(1) + kData);
            CHECK_ERROR(s.bytes, s.wrapper, std::string("state lacks '") + key + "'");
        }
        State extra = state();
        extra.emplace_back("mmap_offset", "K\x00"s);
        const Stream s = wrapper(extra, pad(1) + kData);
        CHECK_ERROR(s.bytes, s.wrapper, "unknown key 'mmap_offset'");
        State twice = state();
        twice.emplace_back("order", str("F"));
        const Stream t = wrapper(twice, pad(1) + kData);
        CHECK_ERROR(t.bytes, t.wrapper, "the key 'order' twice");
        const std::string none = "N";
        const Stream n = wrapper({}, "", "joblib.numpy_pickle", &none);
        CHECK_ERROR(n.bytes, n.wrapper, "state is a none, expected a dict");
    }
    SECTION("shape") {
        const std::pair<std::string, std::string> bad[] = {
            {"]K\x02\x61", "'shape' is not a tuple"},
            {"J\xff\xff\xff\xff\x85", "dimension that is not an int >= 0"},
            {str("2") + "\x85", "dimension that is not an int >= 0"},
            {"\x88\x85", "dimension that is not an int >= 0"},
            {int_(int64_t(1) << 62) + int_(int64_t(1) << 62) + "\x86", "more items than 2^64"},
        };
        for (const auto& b : bad) {
            const Stream s = wrapper(state(b.first), pad(1) + kData);
            CHECK_ERROR(s.bytes, s.wrapper, b.second);
        }
        const Stream big = wrapper(state(int_(int64_t(1) << 61) + "\x85", dtype("c16")), pad(1));
        CHECK_ERROR(big.bytes, big.wrapper, "more than 2^64 bytes");
        // 2^40 items: refused by the bytes present, nothing allocated
        const Stream huge = wrapper(state(int_(int64_t(1) << 40) + "\x85"), pad(1) + kData);
        CHECK_ERROR(huge.bytes, huge.after + 2, "needs 8796093022208 bytes, only 17 remain");
    }
    SECTION("order, subclass, allow_mmap, dtype, alignment") {
        const std::tuple<std::string, std::string, std::string> bad[] = {
            {"order", str("X"), "'order' is not 'C' or 'F'"},
            {"order", "K\x00"s, "'order' is not 'C' or 'F'"},
            {"subclass", str("numpy.ndarray"), "'subclass' is not a global"},
            {"allow_mmap", "K\x01", "'allow_mmap' is not a bool"},
            {"dtype", "K\x08", "'dtype' is not a numpy.dtype"},
            {"dtype", global("numpy", "dtype") + str("f8") + "\x89\x88\x87R" + "Nb",
             "'dtype' is a malformed numpy.dtype"},
            {"numpy_array_alignment_bytes", "K\x00"s, "is not None or an int >= 1"},
            {"numpy_array_alignment_bytes", str("16"), "is not None or an int >= 1"},
        };
        for (const auto& b : bad) {
            const Stream s = wrapper(with(state(), std::get<0>(b), std::get<1>(b)), pad(1) + kData);
            CHECK_ERROR(s.bytes, s.wrapper, std::get<2>(b));
        }
    }
    SECTION("padding and data") {
        const Stream over = wrapper(state(), pad(17) + kData);
        CHECK_ERROR(over.bytes, over.after, "padding length is 17, expected 1 to 16");
        const Stream zero = wrapper(state(), std::string(1, '\0') + kData);
        CHECK_ERROR(zero.bytes, zero.after, "padding length is 0, expected 1 to 16");
        const Stream four =
            wrapper(with(state(), "numpy_array_alignment_bytes", "K\x04"), pad(5) + kData);
        CHECK_ERROR(four.bytes, four.after, "padding length is 5, expected 1 to 4");
        const Stream byte = wrapper(state(), "\x03\xff\xfe\xff" + kData);
        CHECK_ERROR(byte.bytes, byte.after + 2, "padding byte is not 0xff");
        const Stream cut = wrapper(state(), pad(1) + kData.substr(0, 9));  // 9 bytes + STOP
        CHECK_ERROR(cut.bytes, cut.after + 2, "needs 16 bytes, only 10 remain");
        const Stream empty = wrapper(state(), "");  // the STOP is taken as the padding length
        CHECK_ERROR(empty.bytes, empty.after, "padding length is 46");
    }
    SECTION("built twice, or items appended") {
        Stream s = wrapper(state(), pad(1) + kData);
        s.bytes.insert(s.bytes.size() - 1, "}b");
        CHECK_ERROR(s.bytes, s.wrapper, "built more than once");
    }
    SECTION("object dtype without a valid nested pickle") {
        const Stream s = wrapper(state("K\x02\x85", dtype("O8", "|", 63)), "\x80\x02\xfe");
        const Error e = read_error(s.bytes);
        INFO(e.what());
        CHECK(e.offset() == s.after + 2);
        CHECK(std::string(e.what()).find("(in the pickled object array after the "
                                         "NumpyArrayWrapper at byte " +
                                         std::to_string(s.wrapper) + ")") != std::string::npos);
    }
}

TEST_CASE("joblib reader: inputs that are not pickles", "[joblib]") {
    CHECK_ERROR(std::string("PK\x03\x04\x14\x00\x00\x00\x08\x00", 10), 0u,
                "a zip archive (e.g. a PyTorch .pt or TorchScript file), not a pickle or joblib");
    CHECK_ERROR(std::string("\x7f\x45LF\x02\x01\x01\x00\x00\x00", 10), 0u,
                "not a pickle or joblib file: it starts with bytes 7f 45 4c 46 02 01 01 00");
    CHECK_ERROR(std::string(), 0u, "empty input");
    CHECK_ERROR(std::string("ZF0x00000000000000d8"), 0u, "joblib < 0.10");
    CHECK_ERROR(zlib_compress("hello"), 0u,
                "not a pickle: it starts with bytes 68 65 6c 6c 6f (in the zlib-decompressed "
                "stream)");
    // a plain pickle is read as it is
    Graph g;
    PickleSource src;
    read(g, "\x80\x02K\x05.", src);
    CHECK(src.container == Container::Pickle);
    CHECK_FALSE(src.joblib);
    CHECK(g.root->i == 5);
}
