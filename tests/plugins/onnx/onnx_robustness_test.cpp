// Robustness of the ONNX import plugin (plugins/onnx), loaded as a real shared library through
// the registry: truncated and bit-flipped real models, recursion bombs, huge declared sizes,
// malformed wire data and invalid UTF-8. Every fault must give a precise error (status code and
// a message naming a byte offset or a document path) and never crash; whatever imports must be
// a sound document (it is saved as JSON and read back equal).
//
// The oracle for damaged models is protobuf itself (the compiled onnx::ModelProto of Debian's
// libonnx_proto): the plugin must accept exactly the byte strings protobuf parses, and when
// protobuf refuses, it must say at which byte the wire format breaks.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <onnx/onnx_pb.h>

#include "milo/milo.hpp"

#include "../../test_files.hpp"
#include "../../test_limits.hpp"

namespace {

const std::string kFixtures = MILO_ONNX_FIXTURES_DIR;
const char* const kPlugin = MILO_ONNX_PLUGIN;

const milo::Registry& registry() {
    static milo::Registry* reg = [] {
        auto* r = new milo::Registry();
        r->load_plugin(kPlugin);
        return r;
    }();
    return *reg;
}

// ------------------------------------------------------------------ importing

struct Result {
    milo_status status = MILO_OK;
    milo::Doc doc{milo::default_api(), nullptr};
    std::string message;
};

// Imports `bytes` through the registry with the "onnx" transporter. `name` is not an existing
// file, so the model has no folder (external data would be refused, never read).
Result import(const std::string& bytes, const char* name = "robust.onnx") {
    milo_doc* d = nullptr;
    milo_error e = MILO_ERROR_INIT;
    Result r;
    r.status = milo_registry_decode_native(registry().get(), "onnx",
                                           reinterpret_cast<const uint8_t*>(bytes.data()),
                                           bytes.size(), name, &d, &e);
    r.doc = milo::Doc(milo::default_api(), d);
    r.message = e.message;
    if (r.status != MILO_OK) {
        CHECK(d == nullptr);
        CHECK(e.code == r.status);
    }
    return r;
}

bool protobuf_parses(const std::string& bytes) {
    onnx::ModelProto m;
    return m.ParseFromArray(bytes.data(), int(bytes.size()));
}

// The N of a "byte N: " message, or -1 when there is none.
long long byte_offset(const std::string& message) {
    static const std::regex re(": byte ([0-9]+): ");
    std::smatch m;
    if (!std::regex_search(message, m, re)) return -1;
    return std::stoll(m[1].str());
}

// A refused model: MILO_ERR_CORRUPT, named, with the byte where the wire format breaks.
void check_wire_error(const Result& r, const std::string& bytes, const char* name) {
    INFO(r.message);
    CHECK(r.status == MILO_ERR_CORRUPT);
    CHECK(r.message.rfind(std::string(name) + ": not a valid ONNX model: byte ", 0) == 0);
    const long long at = byte_offset(r.message);
    CHECK(at >= 0);
    CHECK(at <= (long long)bytes.size());
}

// A model protobuf parses but the plugin refuses (only possible through its own checks, e.g.
// external data): some status other than OK, and the document path of the fault.
void check_path_error(const Result& r, const char* name) {
    INFO(r.message);
    CHECK(r.status != MILO_ERR_INTERNAL);
    CHECK(r.status != MILO_ERR_PLUGIN);
    CHECK(r.message.rfind(std::string(name) + ": /root", 0) == 0);
}

// A decoded document must be sound: saved as JSON (compact tensors) and read back, it is equal.
void check_sound(const Result& r) {
    REQUIRE(r.status == MILO_OK);
    REQUIRE(r.doc.root().is(MILO_KIND_OBJECT));
    CHECK(r.doc.root().name() == "onnx.ModelProto");
    milo::SaveOptions o;
    o.format = "json";
    o.tensors = MILO_TENSORS_COMPACT;
    const std::string text = registry().encode(r.doc, o);
    milo::Doc back = registry().decode(text, "json");
    std::string where;
    const bool equal = r.doc.equals(back, &where);
    INFO(where);
    CHECK(equal);
}

// Checks one damaged model against protobuf; returns whether it imported.
bool check_damaged(const std::string& bytes, const char* name) {
    Result r = import(bytes, name);
    const bool parses = protobuf_parses(bytes);
    if (!parses) {
        check_wire_error(r, bytes, name);
        return false;
    }
    if (r.status != MILO_OK) {
        check_path_error(r, name);
        return false;
    }
    check_sound(r);
    return true;
}

// ------------------------------------------------------------------ wire format by hand

std::string varint(uint64_t v) {
    std::string out;
    do {
        out += char((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
        v >>= 7;
    } while (v != 0);
    return out;
}
std::string tag(uint64_t field, int wire) { return varint(field << 3 | uint64_t(wire)); }
std::string varint_field(uint64_t field, uint64_t v) { return tag(field, 0) + varint(v); }
std::string ld_field(uint64_t field, const std::string& payload) {
    return tag(field, 2) + varint(payload.size()) + payload;
}
// The head every hand-made model starts with: ir_version 8.
const std::string kHead = varint_field(1, 8);

// ------------------------------------------------------------------ document navigation

// state[key] of an object value.
milo::ValueRef field(milo::ValueRef obj, const char* key) {
    REQUIRE(obj.is(MILO_KIND_OBJECT));
    milo::ValueRef v = obj.state().find(key);
    INFO(key);
    REQUIRE(v);
    return v;
}

std::string_view bytes_of(milo::ValueRef v) {
    REQUIRE(v.is(MILO_KIND_BYTES));
    return v.as_bytes();
}

// ------------------------------------------------------------------ real models

std::vector<std::string> light_models() {
    std::vector<std::string> names = {"light_bvlc_alexnet", "light_zfnet512",   "light_vgg19",
                                      "light_squeezenet",   "light_inception_v1", "light_resnet50",
                                      "light_shufflenet",   "light_inception_v2", "light_densenet121"};
    for (auto& n : names) n = kFixtures + "/light/" + n + ".onnx";
    return names;
}

}  // namespace

// ==================================================================== truncation

TEST_CASE("every prefix of a small real model imports or names the byte where it breaks") {
    const std::string model = read_file(kFixtures + "/light/light_bvlc_alexnet.onnx");
    REQUIRE(model.size() > 1000);
    REQUIRE(import(model).status == MILO_OK);
    int imported = 0;
    for (size_t cut = 0; cut < model.size(); ++cut) {
        INFO("prefix of " << cut << " bytes");
        if (check_damaged(model.substr(0, cut), "robust.onnx")) ++imported;
    }
    // the prefixes that end on a field boundary of ModelProto parse (empty one included)
    CHECK(imported >= 2);
    CHECK(imported < 20);
}

TEST_CASE("sampled prefixes of every light model import or name the byte where they break") {
    std::mt19937_64 rng(0x6f6e6e78);
    for (const std::string& path : light_models()) {
        const std::string model = read_file(path);
        std::vector<size_t> cuts = {0, 1, 2, model.size() - 1, model.size() / 2};
        for (int i = 0; i < 150; ++i) cuts.push_back(size_t(rng() % model.size()));
        for (size_t cut : cuts) {
            INFO(path << " cut at " << cut);
            check_damaged(model.substr(0, cut), "robust.onnx");
        }
    }
}

// ==================================================================== byte flips

TEST_CASE("seeded random byte flips in real models never crash and fail precisely") {
    std::mt19937_64 rng(20261122);
    int imported = 0, refused = 0;
    for (const std::string& path : light_models()) {
        const std::string model = read_file(path);
        const int mutants = model.size() < 20000 ? 400 : 120;
        for (int i = 0; i < mutants; ++i) {
            std::string m = model;
            const int flips = 1 + int(rng() % 4);
            std::string what;
            for (int k = 0; k < flips; ++k) {
                const size_t at = size_t(rng() % m.size());
                const uint8_t old = uint8_t(m[at]);
                // half bit flips, half arbitrary bytes
                m[at] = char(rng() % 2 ? old ^ (1u << (rng() % 8)) : uint8_t(rng()));
                what += " byte " + std::to_string(at) + ":" + std::to_string(old) + "->" +
                        std::to_string(uint8_t(m[at]));
            }
            INFO(path << " mutant " << i << what);
            if (check_damaged(m, "mutant.onnx")) ++imported;
            else ++refused;
        }
    }
    // both outcomes occur (a flip inside tensor data or a name still parses)
    CHECK(imported > 50);
    CHECK(refused > 50);
}

// ==================================================================== recursion

namespace {

// A model whose deepest message is at depth `depth` (the ModelProto is depth 0): graph → node
// → attribute "body" (GRAPH) → graph → … as control-flow operators nest their bodies.
std::string nested_model(int depth) {
    onnx::ModelProto model;
    model.set_ir_version(8);
    model.add_opset_import()->set_version(17);
    onnx::GraphProto* g = model.mutable_graph();
    int d = 1;
    for (int level = 0;; ++level, d += 3) {
        g->set_name("g" + std::to_string(level));
        if (d == depth) break;
        onnx::NodeProto* n = g->add_node();
        n->set_op_type("Loop");
        n->set_name("n" + std::to_string(level));
        if (d + 1 == depth) break;
        onnx::AttributeProto* a = n->add_attribute();
        a->set_name("body");
        a->set_type(onnx::AttributeProto::GRAPH);
        if (d + 2 == depth) break;
        g = a->mutable_g();
    }
    std::string out;
    REQUIRE(model.SerializeToString(&out));
    return out;
}

// Follows graph → node → attribute → g down the document; returns the depth reached.
int document_depth(milo::ValueRef root) {
    int depth = 0;
    milo::ValueRef v = root;
    for (;;) {
        milo::ValueRef st = v.state();
        milo::ValueRef next;
        if (milo::ValueRef g = st.find("graph")) next = g;
        else if (milo::ValueRef n = st.find("node")) next = n[0];
        else if (milo::ValueRef a = st.find("attribute")) next = a[0];
        else if (milo::ValueRef g2 = st.find("g")) next = g2;
        if (!next) return depth;
        v = next;
        ++depth;
    }
}

}  // namespace

TEST_CASE("graph attributes nested 60 levels import; 100 is the limit; 101 and 150 are refused") {
    for (int depth : {60, 99, 100}) {
        INFO("depth " << depth);
        const std::string model = nested_model(depth);
        REQUIRE(protobuf_parses(model));
        Result r = import(model);
        INFO(r.message);
        REQUIRE(r.status == MILO_OK);
        CHECK(document_depth(r.doc.root()) == depth);
        check_sound(r);
    }
    for (int depth : {101, 102, 150}) {
        INFO("depth " << depth);
        const std::string model = nested_model(depth);
        Result r = import(model);
        INFO(r.message);
        CHECK((r.status == MILO_ERR_LIMIT || r.status == MILO_ERR_CORRUPT));
        CHECK(r.message.find("nested deeper than 100 levels") != std::string::npos);
        CHECK(byte_offset(r.message) > 0);
        CHECK(byte_offset(r.message) < (long long)model.size());
    }
}

namespace {

// `levels` nested messages built from the inside out (no quadratic copying): each level is
// `tag` + length of everything inside. The innermost payload is `core`.
std::string nest(const std::string& level_tag, int levels, const std::string& core) {
    std::string rev(core.rbegin(), core.rend());
    for (int i = 0; i < levels; ++i) {
        const std::string len = varint(rev.size());
        rev.append(len.rbegin(), len.rend());
        rev.append(level_tag.rbegin(), level_tag.rend());
    }
    return std::string(rev.rbegin(), rev.rend());
}

}  // namespace

TEST_CASE("recursion bombs 100,000 levels deep are refused without exhausting the stack") {
    SECTION("graph → node → attribute → graph … by length-delimited messages") {
        // Model.graph (7) holds node (1) holds attribute (5) holds g (6) holds node (1) …
        const std::string innermost = ld_field(1, "");  // a graph with one empty node
        const std::string cycle[3] = {tag(6, 2), tag(5, 2), tag(1, 2)};  // g ← attribute ← node
        // 33,333 cycles of three levels, from the inside out
        std::string r(innermost.rbegin(), innermost.rend());
        for (int i = 0; i < 33333; ++i)
            for (const std::string& t : cycle) {
                const std::string len = varint(r.size());
                r.append(len.rbegin(), len.rend());
                r.append(t.rbegin(), t.rend());
            }
        std::string graph(r.rbegin(), r.rend());
        const std::string model = kHead + ld_field(7, graph);
        Result res = import(model);
        INFO(res.message);
        CHECK(res.status == MILO_ERR_CORRUPT);
        CHECK(res.message.find("nested deeper than 100 levels") != std::string::npos);
        CHECK(byte_offset(res.message) > 0);
    }
    SECTION("unknown start-groups") {
        // field 100 as a group (tag 0xa3 0x06), opened 100,000 times and closed as often
        std::string open, close;
        for (int i = 0; i < 100000; ++i) open += tag(100, 3), close += tag(100, 4);
        const std::string model = kHead + open + close;
        Result r = import(model);
        INFO(r.message);
        CHECK(r.status == MILO_ERR_CORRUPT);
        CHECK(r.message.find("nested deeper than 100 levels") != std::string::npos);
        CHECK(byte_offset(r.message) > 0);
    }
    SECTION("100,000 levels of an unknown length-delimited field are one opaque bytes value") {
        // Unknown fields are not parsed: 100,000 levels of field 100 inside field 100 are one
        // opaque byte string.
        const std::string payload = nest(tag(100, 2), 100000, "");
        const std::string model = kHead + payload;
        Result r = import(model);
        INFO(r.message);
        REQUIRE(r.status == MILO_OK);
        milo::ValueRef unknown = field(r.doc.root(), "(unknown fields)");
        REQUIRE(unknown.size() == 1);
        CHECK(unknown[0].find("number").as_int() == 100);
        CHECK(unknown[0].find("wire").as_string() == "bytes");
        CHECK(bytes_of(unknown[0].find("value")) == nest(tag(100, 2), 99999, ""));
    }
}

// ==================================================================== declared sizes

TEST_CASE("huge declared lengths are refused at the byte that declares them") {
    struct Case {
        const char* what;
        std::string bytes;
        size_t at;
        std::string message;
    };
    const std::string node = ld_field(4, "Relu");  // NodeProto.op_type
    // a graph with one initializer whose raw_data (13) declares 4 GiB but holds 4 bytes
    const std::string tensor = varint_field(1, 1) + varint_field(2, 1) +
                               tag(9, 2) + varint(uint64_t(1) << 32) + "abcd";
    const std::string graph = ld_field(1, node) + ld_field(5, tensor);
    const size_t graph_at = kHead.size() + 1 + varint(graph.size()).size();
    const size_t tensor_at = graph_at + ld_field(1, node).size() + 1 + varint(tensor.size()).size();
    const Case cases[] = {
        {"graph length 2^62", kHead + tag(7, 2) + varint(uint64_t(1) << 62), kHead.size(),
         "ModelProto.graph (7) declares 4611686018427387904 bytes but only 0 remain in its "
         "message (which ends at byte 12)"},
        {"unknown field declaring 4 GiB", kHead + tag(1000, 2) + varint(uint64_t(1) << 32) + "xyz",
         kHead.size(),
         "ModelProto field 1000 declares 4294967296 bytes but only 3 remain in its message"},
        {"raw_data declaring 4 GiB inside an initializer", kHead + ld_field(7, graph),
         tensor_at + varint_field(1, 1).size() + varint_field(2, 1).size(),
         "TensorProto.raw_data (9) declares 4294967296 bytes but only 4 remain in its message"},
        {"length varint of 2^64 - 1", kHead + tag(7, 2) + varint(~uint64_t(0)), kHead.size(),
         "declares 18446744073709551615 bytes"},
        {"length varint of 11 bytes", kHead + tag(7, 2) + std::string(10, '\xff') + '\x01',
         kHead.size(), "ModelProto.graph (7): truncated length"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        REQUIRE_FALSE(protobuf_parses(c.bytes));
        Result r = import(c.bytes);
        check_wire_error(r, c.bytes, "robust.onnx");
        CHECK(byte_offset(r.message) == (long long)c.at);
        CHECK(r.message.find(c.message) != std::string::npos);
    }
}

namespace {

// A model whose only initializer is `t`.
std::string model_with(const onnx::TensorProto& t) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.add_opset_import()->set_version(17);
    *m.mutable_graph()->add_initializer() = t;
    m.mutable_graph()->set_name("g");
    std::string out;
    REQUIRE(m.SerializeToString(&out));
    return out;
}

onnx::TensorProto raw_tensor(std::vector<int64_t> dims, int data_type, const std::string& raw) {
    onnx::TensorProto t;
    for (int64_t d : dims) t.add_dims(d);
    t.set_data_type(data_type);
    t.set_name("w");
    t.set_raw_data(raw);
    return t;
}

// The models whose dims declare far more than their data holds. Imported, their data must
// come back as it is (bytes, or a flat tensor of the values present), never sized from dims.
std::vector<std::pair<std::string, std::string>> size_bombs() {
    const int64_t t40 = int64_t(1) << 40;
    std::vector<std::pair<std::string, std::string>> out;
    out.push_back({"dims [2^40, 2^40] FLOAT, 8 raw bytes",
                   model_with(raw_tensor({t40, t40}, onnx::TensorProto::FLOAT, "12345678"))});
    out.push_back({"dims [2^40] FLOAT, 16 raw bytes",
                   model_with(raw_tensor({t40}, onnx::TensorProto::FLOAT, "0123456789abcdef"))});
    out.push_back({"dims [2^30] FLOAT (4 GiB), 4 raw bytes",
                   model_with(raw_tensor({int64_t(1) << 30}, onnx::TensorProto::FLOAT, "abcd"))});
    out.push_back({"dims [2^62] INT4, 1 raw byte",
                   model_with(raw_tensor({int64_t(1) << 62}, 22 /* INT4, newer than libonnx_proto */, "\x12"))});
    out.push_back({"dims [2^31, 2^31, 2^31] DOUBLE (overflows 2^64), 8 raw bytes",
                   model_with(raw_tensor({int64_t(1) << 31, int64_t(1) << 31, int64_t(1) << 31},
                                         onnx::TensorProto::DOUBLE, "abcdefgh"))});
    out.push_back({"dims [-1] FLOAT, 4 raw bytes",
                   model_with(raw_tensor({-1}, onnx::TensorProto::FLOAT, "abcd"))});
    out.push_back({"dims of 65 ones FLOAT, 4 raw bytes",
                   model_with(raw_tensor(std::vector<int64_t>(65, 1), onnx::TensorProto::FLOAT,
                                         "abcd"))});
    onnx::TensorProto f = raw_tensor({t40}, onnx::TensorProto::FLOAT, "");
    f.clear_raw_data();
    f.add_float_data(1.5f), f.add_float_data(-2.0f), f.add_float_data(3.25f);
    out.push_back({"dims [2^40] FLOAT, 3 float_data", model_with(f)});
    onnx::TensorProto s = raw_tensor({t40, 3}, onnx::TensorProto::STRING, "");
    s.clear_raw_data();
    s.add_string_data("a"), s.add_string_data("b");
    out.push_back({"dims [2^40, 3] STRING, 2 string_data", model_with(s)});
    onnx::TensorProto seg = raw_tensor({t40}, onnx::TensorProto::FLOAT, "abcd");
    seg.mutable_segment()->set_begin(0);
    seg.mutable_segment()->set_end(t40);
    out.push_back({"segment [0, 2^40) of FLOAT, 4 raw bytes", model_with(seg)});
    return out;
}


}  // namespace

TEST_CASE("dims far beyond the data import with the data kept as it is") {
    for (const auto& [what, bytes] : size_bombs()) {
        INFO(what);
        Result r = import(bytes);
        INFO(r.message);
        REQUIRE(r.status == MILO_OK);
        milo::ValueRef t = field(field(r.doc.root(), "graph"), "initializer")[0];
        // dims are listed as they were declared
        milo::ValueRef dims = field(t, "dims");
        onnx::ModelProto m;
        REQUIRE(m.ParseFromString(bytes));
        const onnx::TensorProto& src = m.graph().initializer(0);
        REQUIRE(dims.size() == size_t(src.dims_size()));
        if (dims.is(MILO_KIND_LIST))
            for (int i = 0; i < src.dims_size(); ++i) CHECK(dims[size_t(i)].as_int() == src.dims(i));
        else
            CHECK(std::equal(src.dims().begin(), src.dims().end(), dims.data_as<int64_t>()));
        if (src.has_raw_data()) {
            CHECK(bytes_of(field(t, "raw_data")) == src.raw_data());
        } else if (src.float_data_size() > 0) {
            milo::ValueRef fd = field(t, "float_data");
            REQUIRE(fd.is(MILO_KIND_TENSOR));
            CHECK(fd.dtype() == MILO_DTYPE_FLOAT32);
            CHECK(fd.shape() == std::vector<int64_t>{src.float_data_size()});
            CHECK(std::memcmp(fd.data().first, src.float_data().data(), 4 * 3) == 0);
        } else {
            milo::ValueRef sd = field(t, "string_data");
            REQUIRE(sd.is(MILO_KIND_TENSOR));
            CHECK(sd.dtype() == MILO_DTYPE_STRING);
            CHECK(sd.shape() == std::vector<int64_t>{2});
            CHECK(sd.string_at(1) == "b");
        }
        check_sound(r);
    }
}

#ifndef MILO_TEST_ASAN
TEST_CASE("dims far beyond the data import under a 512 MiB address-space allowance") {
    // In a child process limited to its current address space + 512 MiB: had the importer
    // sized anything from dims (4 GiB and up), the allocation would fail.
    registry();  // load the plugin before the fork
    const auto bombs = size_bombs();
    const int status = run_with_memory_allowance(512 * 1024, [&] {
        int i = 1;
        for (const auto& b : bombs) {
            milo_doc* d = nullptr;
            milo_error e = MILO_ERROR_INIT;
            if (milo_registry_decode_native(registry().get(), "onnx",
                                            reinterpret_cast<const uint8_t*>(b.second.data()),
                                            b.second.size(), "bomb.onnx", &d, &e) != MILO_OK) {
                std::fprintf(stderr, "%s: %s\n", b.first.c_str(), e.message);
                return i;
            }
            milo_doc_destroy(d);
            ++i;
        }
        return 0;
    });
    INFO("child exit " << status << " (1..: index of the failing model + 1)");
    CHECK(status == 0);
}
#endif

// ==================================================================== malformed wire data

TEST_CASE("invalid wire types, field number 0 and broken groups name their byte") {
    struct Case {
        const char* what;
        std::string bytes;
        size_t at;
        std::string message;
    };
    const std::string node_bad = ld_field(4, "Relu") + tag(3, 7);  // NodeProto.name, wire 7
    const std::string graph_bad = ld_field(1, node_bad);
    const size_t node_at = kHead.size() + 1 + varint(graph_bad.size()).size() + 1 +
                           varint(node_bad.size()).size();
    const Case cases[] = {
        {"wire type 6", kHead + tag(2, 6), 2, "ModelProto.producer_name (2): invalid wire type 6"},
        {"wire type 7 on an unknown field", kHead + tag(77, 7) + "zz", 2,
         "ModelProto field 77: invalid wire type 7"},
        {"wire type 7 inside a node", kHead + ld_field(7, graph_bad),
         node_at + ld_field(4, "Relu").size(), "NodeProto.name (3): invalid wire type 7"},
        {"field number 0, varint", kHead + tag(0, 0) + varint(5), 2,
         "field number 0 is outside 1..536870911 (in ModelProto)"},
        {"field number 0, length-delimited", kHead + tag(0, 2) + varint(1) + "x", 2,
         "field number 0 is outside 1..536870911"},
        {"unterminated group", kHead + tag(100, 3) + varint_field(1, 5), 2 + 2 + 2,
         "group of field 100 is never closed"},
        {"group closed by another field number", kHead + tag(100, 3) + tag(101, 4), 4,
         "end-group tag for field 101 without a matching start-group"},
        {"end-group without a start", kHead + tag(100, 4), 2,
         "end-group tag for field 100 without a matching start-group"},
        {"truncated varint", kHead + tag(5, 0) + "\x80\x80", 2,
         "ModelProto.model_version (5): truncated or overlong varint"},
        {"11-byte varint", kHead + tag(5, 0) + std::string(10, '\x80') + '\x01', 2,
         "ModelProto.model_version (5): truncated or overlong varint"},
        {"truncated fixed32", kHead + tag(50, 5) + "ab", 2,
         "ModelProto field 50: fixed32 value needs 4 bytes, 2 remain in its message"},
        {"truncated tag", kHead + "\x80", 2, "truncated or overlong field tag"},
        // valid varints, but longer than the 5 bytes protobuf reads for a tag or a length
        {"6-byte tag", kHead + "\x88\x80\x80\x80\x80" + '\0' + varint(3), 2,
         "field tag takes 6 bytes; protobuf allows at most 5"},
        {"6-byte length", kHead + tag(2, 2) + "\x81\x80\x80\x80\x80" + '\0' + "x", 2,
         "ModelProto.producer_name (2): its length takes 6 bytes; protobuf allows at most 5"},
        // repeated scalars in packed form: TensorProto.double_data (10) and dims (1)
        {"packed doubles of 12 bytes", kHead + ld_field(7, ld_field(5, ld_field(10, "12345678abcd"))),
         8, "TensorProto.double_data (10): packed values take 12 bytes, not a multiple of 8"},
        {"packed varints ending in a continuation byte",
         kHead + ld_field(7, ld_field(5, ld_field(1, "\x02\x03\x80"))), 10,
         "TensorProto.dims (1): packed varint truncated or overlong (the field ends at byte 11)"},
    };
    for (const Case& c : cases) {
        INFO(c.what);
        REQUIRE_FALSE(protobuf_parses(c.bytes));
        Result r = import(c.bytes);
        check_wire_error(r, c.bytes, "robust.onnx");
        CHECK(byte_offset(r.message) == (long long)c.at);
        CHECK(r.message.find(c.message) != std::string::npos);
    }
}

TEST_CASE("repeated scalars in packed form import like the unpacked ones") {
    // dims (1) packed as [2, 3], float_data (4) packed as six floats
    std::string floats;
    for (float f : {1.f, 2.f, 3.f, -4.f, 0.5f, 1e30f}) floats.append(reinterpret_cast<char*>(&f), 4);
    const std::string tensor = ld_field(1, "\x02\x03") + varint_field(2, 1) + ld_field(4, floats);
    const std::string model = kHead + ld_field(7, ld_field(5, tensor));
    REQUIRE(protobuf_parses(model));
    Result r = import(model);
    INFO(r.message);
    REQUIRE(r.status == MILO_OK);
    milo::ValueRef t = field(field(r.doc.root(), "graph"), "initializer")[0];
    CHECK(field(t, "dims").size() == 2);
    CHECK(field(t, "dims")[1].as_int() == 3);
    milo::ValueRef fd = field(t, "float_data");
    REQUIRE(fd.is(MILO_KIND_TENSOR));
    CHECK(fd.shape() == std::vector<int64_t>{2, 3});
    CHECK(std::memcmp(fd.data().first, floats.data(), floats.size()) == 0);
    check_sound(r);
}

TEST_CASE("well-formed unknown groups and odd wire types of known fields are kept") {
    // field 100 as a group holding a varint and a nested group; producer_name (2) sent as a
    // varint (a wire type protobuf keeps as an unknown field)
    const std::string group = tag(100, 3) + varint_field(1, 7) + tag(2, 3) + tag(2, 4) + tag(100, 4);
    const std::string model = kHead + varint_field(2, 42) + group;
    REQUIRE(protobuf_parses(model));
    Result r = import(model);
    INFO(r.message);
    REQUIRE(r.status == MILO_OK);
    milo::ValueRef unknown = field(r.doc.root(), "(unknown fields)");
    REQUIRE(unknown.size() == 2);
    CHECK(unknown[0].find("number").as_int() == 2);
    CHECK(unknown[0].find("wire").as_string() == "varint");
    CHECK(unknown[0].find("value").as_int() == 42);
    CHECK(unknown[1].find("number").as_int() == 100);
    CHECK(unknown[1].find("wire").as_string() == "group");
    milo::ValueRef inner = unknown[1].find("value");
    REQUIRE(inner.size() == 2);
    CHECK(inner[0].find("value").as_int() == 7);
    CHECK(inner[1].find("wire").as_string() == "group");
    CHECK(inner[1].find("value").size() == 0);
    CHECK_FALSE(r.doc.root().state().find("producer_name"));
    check_sound(r);
}

// ==================================================================== strings

TEST_CASE("strings that are not UTF-8 come back as the same bytes") {
    const std::string bad[] = {
        std::string("\xff\xfe", 2),          // not a UTF-8 byte
        std::string("\xc0\xaf", 2),          // overlong '/'
        std::string("\xed\xa0\x80", 3),      // a UTF-16 surrogate
        std::string("ab\xe2\x82", 4),        // truncated 3-byte sequence
        std::string("\xf4\x90\x80\x80", 4),  // above U+10FFFF
        std::string("nul\0inside\x80", 11),  // NUL is fine, the lone continuation byte is not
    };
    const std::string good = "caf\xc3\xa9 \xf0\x9f\x98\x80";  // "café 😀"
    for (const std::string& s : bad) {
        onnx::ModelProto m;
        m.set_ir_version(8);
        m.set_producer_name(s);
        m.set_doc_string(good);
        onnx::GraphProto* g = m.mutable_graph();
        g->set_name(s);
        onnx::NodeProto* n = g->add_node();
        n->set_op_type("Relu");
        n->set_name(s);
        n->add_input(good);
        n->add_input(s);
        // NodeProto.overload (8, ONNX 1.16) is newer than libonnx_proto: read through the overlay
        n->mutable_unknown_fields()->AddLengthDelimited(8, s);
        onnx::NodeProto* n2 = g->add_node();
        n2->set_op_type("Relu");
        n2->mutable_unknown_fields()->AddLengthDelimited(8, good);
        onnx::AttributeProto* a = n->add_attribute();
        a->set_name("mode");
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(good);  // a bytes field: bytes even when it is text
        onnx::TensorProto* t = g->add_initializer();
        t->set_name("labels");
        t->set_data_type(onnx::TensorProto::STRING);
        t->add_dims(2);
        t->add_string_data(good);
        t->add_string_data(s);
        auto* kv = m.add_metadata_props();
        kv->set_key(s);
        kv->set_value(good);
        std::string bytes;
        REQUIRE(m.SerializeToString(&bytes));

        Result r = import(bytes);
        INFO(r.message);
        REQUIRE(r.status == MILO_OK);
        milo::ValueRef root = r.doc.root();
        CHECK(bytes_of(field(root, "producer_name")) == s);
        CHECK(field(root, "doc_string").as_string() == good);
        milo::ValueRef graph = field(root, "graph");
        CHECK(bytes_of(field(graph, "name")) == s);
        milo::ValueRef node = field(graph, "node")[0];
        CHECK(bytes_of(field(node, "name")) == s);
        CHECK(bytes_of(field(node, "overload")) == s);
        CHECK(field(field(graph, "node")[1], "overload").as_string() == good);
        CHECK(field(node, "input")[0].as_string() == good);
        CHECK(bytes_of(field(node, "input")[1]) == s);
        CHECK(bytes_of(field(field(node, "attribute")[0], "s")) == good);
        milo::ValueRef sd = field(field(graph, "initializer")[0], "string_data");
        REQUIRE(sd.is(MILO_KIND_TENSOR));
        CHECK(sd.dtype() == MILO_DTYPE_OBJECT);  // an element is not UTF-8: bytes elements
        CHECK(sd.shape() == std::vector<int64_t>{2});
        CHECK(bytes_of(sd.item(0)) == good);
        CHECK(bytes_of(sd.item(1)) == s);
        milo::ValueRef prop = field(root, "metadata_props")[0];
        CHECK(bytes_of(field(prop, "key")) == s);
        CHECK(field(prop, "value").as_string() == good);
        check_sound(r);
    }
}

// ==================================================================== empty and tiny inputs

TEST_CASE("an empty file is an empty ModelProto; every single byte is refused precisely") {
    // Zero bytes are a valid (empty) protobuf message: protobuf parses it and so does the
    // plugin, into a ModelProto without fields.
    REQUIRE(protobuf_parses(""));
    Result r = import("");
    INFO(r.message);
    REQUIRE(r.status == MILO_OK);
    CHECK(r.doc.root().name() == "onnx.ModelProto");
    CHECK(r.doc.root().state().size() == 0);
    CHECK(r.doc.header("source.sha256") ==
          "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK_FALSE(r.doc.has_header("source.version"));
    check_sound(r);

    for (int b = 0; b < 256; ++b) {  // a tag without its value, or not a tag at all
        const std::string one(1, char(b));
        INFO("the single byte " << b);
        REQUIRE_FALSE(protobuf_parses(one));
        Result r1 = import(one);
        check_wire_error(r1, one, "robust.onnx");
        // an open group is reported where its end tag was due: the end of the input
        const bool opens_group = b >= 8 && b < 0x80 && (b & 7) == 3;
        CHECK(byte_offset(r1.message) == (opens_group ? 1 : 0));
    }
}
