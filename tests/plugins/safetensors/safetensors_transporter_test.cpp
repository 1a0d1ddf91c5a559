// Tests of the safetensors transporter plugin (plugins/safetensors), loaded as a real shared
// library through the registry: decoding the bundled example against the values its generator
// recorded, byte-identical re-encoding, strict rejection of malformed files, and (when the
// project virtualenv exists) agreement with the official safetensors library both ways.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "milo/milo.h"
#include "milo/milo_codec.hpp"

namespace {

using Bytes = std::vector<uint8_t>;

const std::string kSource = MILO_SOURCE_DIR;
const std::string kExample = kSource + "/docs/examples/models/iris_mlp.safetensors";
const std::string kExpected = kSource + "/docs/examples/models/iris_mlp.expected.json";
const std::string kPlugin = std::string(MILO_PLUGIN_OUTPUT_DIR) + "/milo_safetensors.so";
const std::string kTmp = MILO_TEST_TMP_DIR;

Bytes read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in.good());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_file(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
    REQUIRE(out.good());
}

std::string hex(const void* data, size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

struct RegistryDeleter {
    void operator()(milo_registry* r) const { milo_registry_destroy(r); }
};
struct DocDeleter {
    void operator()(milo_doc* d) const { milo_doc_destroy(d); }
};
using Registry = std::unique_ptr<milo_registry, RegistryDeleter>;
using Doc = std::unique_ptr<milo_doc, DocDeleter>;

Registry make_registry() {
    milo_registry* r = nullptr;
    milo_error error = MILO_ERROR_INIT;
    REQUIRE(milo_registry_create(&r, &error) == MILO_OK);
    Registry registry(r);
    INFO(error.message);
    REQUIRE(milo_registry_load_plugin(r, kPlugin.c_str(), &error) == MILO_OK);
    return registry;
}

struct Decoded {
    milo_status status;
    Doc doc;
    std::string message;
};

Decoded decode(milo_registry* registry, const Bytes& data, const char* id = "safetensors") {
    milo_doc* doc = nullptr;
    milo_error error = MILO_ERROR_INIT;
    milo_status status = milo_registry_decode_native(registry, id, data.data(), data.size(),
                                                     "test.safetensors", &doc, &error);
    Decoded out{status, Doc(doc), error.message};
    if (status != MILO_OK) CHECK(doc == nullptr);
    return out;
}

std::string header(const milo_doc* doc, const char* key) {
    const char* value = nullptr;
    REQUIRE(milo_doc_get_header(doc, key, &value, nullptr) == MILO_OK);
    return value != nullptr ? value : "<unset>";
}

milo_status sink(void* context, const void* data, size_t size, milo_error*) {
    auto* out = static_cast<Bytes*>(context);
    const auto* p = static_cast<const uint8_t*>(data);
    out->insert(out->end(), p, p + size);
    return MILO_OK;
}

// Encodes through the transporter's own encode callback into memory.
milo_status encode_to_memory(milo_registry* registry, const milo_doc* doc, Bytes* out,
                             std::string* message = nullptr) {
    const milo_transporter* t = milo_registry_find_transporter(registry, "safetensors");
    REQUIRE(t != nullptr);
    milo_error error = MILO_ERROR_INIT;
    milo_status status =
        t->encode(t->self, milo_api_get(MILO_ABI_VERSION), registry, doc, sink, out, &error);
    if (message != nullptr) *message = error.message;
    return status;
}

// A safetensors file from header JSON text and data bytes; the header is padded with spaces to
// a multiple of 8 (like the official writer) unless `pad` is false.
Bytes make_file(std::string header_json, const Bytes& data = {}, bool pad = true) {
    if (pad) header_json.append((8 - header_json.size() % 8) % 8, ' ');
    Bytes out(8);
    uint64_t n = header_json.size();
    for (int i = 0; i < 8; ++i) out[size_t(i)] = uint8_t(n >> (8 * i));
    out.insert(out.end(), header_json.begin(), header_json.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

milo_value* tensor(milo_doc* doc, int32_t dtype, std::vector<int64_t> shape, const Bytes& bytes) {
    milo_value* t = nullptr;
    REQUIRE(milo_value_create_tensor(doc, dtype, shape.data(), shape.size(), &t, nullptr) ==
            MILO_OK);
    void* data = nullptr;
    size_t nbytes = 0;
    REQUIRE(milo_value_tensor_mutable_data(t, &data, &nbytes, nullptr) == MILO_OK);
    REQUIRE(nbytes == bytes.size());
    if (nbytes != 0) std::memcpy(data, bytes.data(), nbytes);
    return t;
}

void put(milo_doc* doc, milo_value* map, const std::string& name, milo_value* value) {
    milo_value* key = nullptr;
    REQUIRE(milo_value_create_string(doc, name.data(), name.size(), &key, nullptr) == MILO_OK);
    REQUIRE(milo_value_append_pair(map, key, value, nullptr) == MILO_OK);
}

Bytes pattern(size_t n, uint8_t seed) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(seed + 37 * i);
    return b;
}

// A StateDict document holding one tensor of every dtype with a safetensors code; without
// bfloat16 and complex64 when `numpy_only` (numpy, hence safetensors.numpy, has neither).
Doc make_state_dict(bool numpy_only = false) {
    milo_doc* raw = nullptr;
    REQUIRE(milo_doc_create(&raw, nullptr) == MILO_OK);
    Doc doc(raw);
    milo_value* state = nullptr;
    REQUIRE(milo_value_create_container(raw, MILO_KIND_MAP, &state, nullptr) == MILO_OK);
    put(raw, state, "weights.f64", tensor(raw, MILO_DTYPE_FLOAT64, {2, 2}, pattern(32, 1)));
    put(raw, state, "weights.f32", tensor(raw, MILO_DTYPE_FLOAT32, {3}, pattern(12, 2)));
    put(raw, state, "weights.f16", tensor(raw, MILO_DTYPE_FLOAT16, {1, 3}, pattern(6, 3)));
    if (!numpy_only) {
        put(raw, state, "weights.bf16", tensor(raw, MILO_DTYPE_BFLOAT16, {2}, pattern(4, 4)));
        put(raw, state, "complex", tensor(raw, MILO_DTYPE_COMPLEX64, {1}, pattern(8, 5)));
    }
    put(raw, state, "counts.i64", tensor(raw, MILO_DTYPE_INT64, {}, pattern(8, 6)));
    put(raw, state, "counts.u64", tensor(raw, MILO_DTYPE_UINT64, {1}, pattern(8, 7)));
    put(raw, state, "i32", tensor(raw, MILO_DTYPE_INT32, {1}, pattern(4, 8)));
    put(raw, state, "u32", tensor(raw, MILO_DTYPE_UINT32, {1}, pattern(4, 9)));
    put(raw, state, "i16", tensor(raw, MILO_DTYPE_INT16, {2}, pattern(4, 10)));
    put(raw, state, "u16", tensor(raw, MILO_DTYPE_UINT16, {1}, pattern(2, 11)));
    put(raw, state, "i8", tensor(raw, MILO_DTYPE_INT8, {3}, pattern(3, 12)));
    put(raw, state, "u8", tensor(raw, MILO_DTYPE_UINT8, {2, 0}, {}));
    put(raw, state, "mask", tensor(raw, MILO_DTYPE_BOOL, {3}, {1, 0, 1}));
    put(raw, state, "name \"quoted\"\t\\ \xc3\xa9", tensor(raw, MILO_DTYPE_INT8, {1}, {42}));
    milo_value* root = nullptr;
    REQUIRE(milo_value_create_object(raw, "safetensors.StateDict", &root, nullptr) == MILO_OK);
    REQUIRE(milo_value_set_state(root, state, nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_root(raw, root, nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_header(raw, "transporter.id", "safetensors", nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_metadata(raw, "model", "hand-made", nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_metadata(raw, "note", "line\nbreak \"q\"", nullptr) == MILO_OK);
    return doc;
}

// Expected JSON for check_with_safetensors.py read: the document's tensors and metadata.
nlohmann::json describe(const milo_doc* doc) {
    nlohmann::json out = {{"metadata", nlohmann::json::array()},
                          {"tensors", nlohmann::json::array()}};
    for (size_t i = 0; i < milo_doc_metadata_count(doc); ++i) {
        const char* k = nullptr;
        const char* v = nullptr;
        REQUIRE(milo_doc_metadata_at(doc, i, &k, &v, nullptr) == MILO_OK);
        out["metadata"].push_back({k, v});
    }
    const milo_value* state = milo_value_get_state(milo_doc_get_root(doc));
    for (size_t i = 0; i < milo_value_count(state); ++i) {
        const char* name = nullptr;
        size_t len = 0;
        REQUIRE(milo_value_get_string(milo_value_key_at(state, i), &name, &len, nullptr) ==
                MILO_OK);
        const milo_value* t = milo_value_at(state, i);
        int32_t dtype = 0;
        const int64_t* shape = nullptr;
        size_t ndim = 0;
        const void* data = nullptr;
        size_t nbytes = 0;
        REQUIRE(milo_value_get_tensor(t, &dtype, &shape, &ndim, nullptr) == MILO_OK);
        REQUIRE(milo_value_tensor_data(t, &data, &nbytes, nullptr) == MILO_OK);
        out["tensors"].push_back({{"name", std::string(name, len)},
                                  {"dtype", milo::codec::dtype_info(dtype)->safetensors},
                                  {"shape", std::vector<int64_t>(shape, shape + ndim)},
                                  {"hex", hex(data, nbytes)}});
    }
    return out;
}

std::string venv_python() {
    std::string python = kSource + "/.venv/bin/python";
    std::ifstream probe(python);
    return probe.good() ? python : std::string();
}

int run(const std::string& command) {
    INFO(command);
    int rc = std::system(command.c_str());
    return rc;
}

}  // namespace

TEST_CASE("safetensors plugin registers its transporter", "[safetensors]") {
    Registry registry = make_registry();
    const milo_transporter* t = milo_registry_find_transporter(registry.get(), "safetensors");
    REQUIRE(t != nullptr);
    CHECK(std::string(t->framework) == "safetensors");
    CHECK(std::string(t->version) == "1");
    REQUIRE(t->types != nullptr);
    CHECK(std::string(t->types[0]) == "safetensors.StateDict");
    CHECK(t->types[1] == nullptr);
    REQUIRE(t->extensions != nullptr);
    CHECK(std::string(t->extensions[0]) == ".safetensors");
    CHECK(t->extensions[1] == nullptr);
    CHECK(milo_registry_find_transporter_for_type(registry.get(), "safetensors.StateDict") == t);

    Bytes example = read_file(kExample);
    CHECK(t->probe(t->self, example.data(), example.size()) > 0);
    CHECK(t->probe(t->self, example.data(), 16) > 0);  // a head shorter than the header
    CHECK(milo_registry_find_transporter_for_content(registry.get(), example.data(),
                                                     example.size()) == t);
    const std::string json = "{\"milo\": {\"format_version\": 1}}";
    CHECK(t->probe(t->self, reinterpret_cast<const uint8_t*>(json.data()), json.size()) == 0);
    Bytes huge = make_file("{}");
    huge[7] = 1;  // header length 2^56
    CHECK(t->probe(t->self, huge.data(), huge.size()) == 0);
    CHECK(t->probe(t->self, example.data(), 5) == 0);
    CHECK(t->probe(t->self, nullptr, 0) == 0);
}

TEST_CASE("safetensors decodes the bundled example exactly", "[safetensors]") {
    Registry registry = make_registry();
    Bytes example = read_file(kExample);
    nlohmann::json expected;
    std::ifstream(kExpected) >> expected;
    REQUIRE(expected["size"] == example.size());

    for (const char* id : {"safetensors", static_cast<const char*>(nullptr)}) {
        Decoded d = decode(registry.get(), example, id);
        INFO(d.message);
        REQUIRE(d.status == MILO_OK);
        const milo_doc* doc = d.doc.get();

        CHECK(header(doc, "framework.name") == "safetensors");
        CHECK(header(doc, "transporter.id") == "safetensors");
        CHECK(header(doc, "transporter.revision") == "1");
        CHECK(header(doc, "type") == "safetensors.StateDict");
        CHECK(header(doc, "source.kind") == "safetensors");
        CHECK(header(doc, "source.sha256") == expected["sha256"].get<std::string>());

        const auto& meta = expected["metadata"];
        REQUIRE(milo_doc_metadata_count(doc) == meta.size());
        for (size_t i = 0; i < meta.size(); ++i) {
            const char* k = nullptr;
            const char* v = nullptr;
            REQUIRE(milo_doc_metadata_at(doc, i, &k, &v, nullptr) == MILO_OK);
            CHECK(std::string(k) == meta[i][0].get<std::string>());
            CHECK(std::string(v) == meta[i][1].get<std::string>());
        }

        const milo_value* root = milo_doc_get_root(doc);
        REQUIRE(milo_value_get_kind(root) == MILO_KIND_OBJECT);
        const char* type = nullptr;
        REQUIRE(milo_value_get_name(root, &type, nullptr) == MILO_OK);
        CHECK(std::string(type) == "safetensors.StateDict");
        const milo_value* state = milo_value_get_state(root);
        REQUIRE(milo_value_get_kind(state) == MILO_KIND_MAP);
        const auto& tensors = expected["tensors"];
        REQUIRE(milo_value_count(state) == tensors.size());
        for (size_t i = 0; i < tensors.size(); ++i) {
            const auto& want = tensors[i];
            const char* name = nullptr;
            size_t len = 0;
            REQUIRE(milo_value_get_string(milo_value_key_at(state, i), &name, &len, nullptr) ==
                    MILO_OK);
            CHECK(std::string(name, len) == want["name"].get<std::string>());
            const milo_value* t = milo_value_at(state, i);
            int32_t dtype = 0;
            const int64_t* shape = nullptr;
            size_t ndim = 0;
            REQUIRE(milo_value_get_tensor(t, &dtype, &shape, &ndim, nullptr) == MILO_OK);
            CHECK(dtype == milo::codec::dtype_from_safetensors(want["dtype"].get<std::string>()));
            CHECK(std::string(milo::codec::dtype_info(dtype)->name) ==
                  want["numpy_dtype"].get<std::string>());
            CHECK(std::vector<int64_t>(shape, shape + ndim) ==
                  want["shape"].get<std::vector<int64_t>>());
            const void* data = nullptr;
            size_t nbytes = 0;
            REQUIRE(milo_value_tensor_data(t, &data, &nbytes, nullptr) == MILO_OK);
            CHECK(hex(data, nbytes) == want["hex"].get<std::string>());
        }
    }
}

TEST_CASE("safetensors re-encodes the bundled example byte for byte", "[safetensors]") {
    Registry registry = make_registry();
    Bytes example = read_file(kExample);
    Decoded d = decode(registry.get(), example);
    REQUIRE(d.status == MILO_OK);

    Bytes memory;
    REQUIRE(encode_to_memory(registry.get(), d.doc.get(), &memory) == MILO_OK);
    CHECK(memory == example);

    // Through the registry to a file: by explicit id, and found from the header / root type.
    const std::string out = kTmp + "/iris_mlp.roundtrip.safetensors";
    for (const char* id : {"safetensors", static_cast<const char*>(nullptr)}) {
        std::remove(out.c_str());
        milo_error error = MILO_ERROR_INIT;
        INFO(error.message);
        REQUIRE(milo_registry_encode_native(registry.get(), id, d.doc.get(), out.c_str(),
                                            &error) == MILO_OK);
        CHECK(read_file(out) == example);
    }

    // And the re-read document equals the first one.
    Decoded again = decode(registry.get(), memory);
    REQUIRE(again.status == MILO_OK);
    char where[256] = {0};
    CHECK(milo_doc_equal(d.doc.get(), again.doc.get(), where, sizeof where));
    INFO(where);
}

TEST_CASE("safetensors round-trips every dtype it can carry", "[safetensors]") {
    Registry registry = make_registry();
    Doc doc = make_state_dict();
    Bytes bytes;
    std::string message;
    REQUIRE(encode_to_memory(registry.get(), doc.get(), &bytes, &message) == MILO_OK);

    // Header: __metadata__ first, tensors in document order, padded to 8 with spaces.
    uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[size_t(i)];
    CHECK(n % 8 == 0);
    std::string text(bytes.begin() + 8, bytes.begin() + 8 + long(n));
    CHECK(text.rfind("{\"__metadata__\":{\"model\":\"hand-made\",\"note\":\"line\\nbreak "
                     "\\\"q\\\"\"},\"weights.f64\":{\"dtype\":\"F64\",\"shape\":[2,2],"
                     "\"data_offsets\":[0,32]},",
                     0) == 0);

    Decoded d = decode(registry.get(), bytes);
    INFO(d.message);
    REQUIRE(d.status == MILO_OK);
    const milo_value* a = milo_value_get_state(milo_doc_get_root(doc.get()));
    const milo_value* b = milo_value_get_state(milo_doc_get_root(d.doc.get()));
    REQUIRE(milo_value_count(a) == milo_value_count(b));
    for (size_t i = 0; i < milo_value_count(a); ++i) {
        const char *ka = nullptr, *kb = nullptr;
        size_t la = 0, lb = 0;
        REQUIRE(milo_value_get_string(milo_value_key_at(a, i), &ka, &la, nullptr) == MILO_OK);
        REQUIRE(milo_value_get_string(milo_value_key_at(b, i), &kb, &lb, nullptr) == MILO_OK);
        CHECK(std::string(ka, la) == std::string(kb, lb));
        int32_t da = 0, db = 0;
        const int64_t *sa = nullptr, *sb = nullptr;
        size_t na = 0, nb = 0;
        REQUIRE(milo_value_get_tensor(milo_value_at(a, i), &da, &sa, &na, nullptr) == MILO_OK);
        REQUIRE(milo_value_get_tensor(milo_value_at(b, i), &db, &sb, &nb, nullptr) == MILO_OK);
        CHECK(da == db);
        CHECK(std::vector<int64_t>(sa, sa + na) == std::vector<int64_t>(sb, sb + nb));
        const void *pa = nullptr, *pb = nullptr;
        size_t ba = 0, bb = 0;
        REQUIRE(milo_value_tensor_data(milo_value_at(a, i), &pa, &ba, nullptr) == MILO_OK);
        REQUIRE(milo_value_tensor_data(milo_value_at(b, i), &pb, &bb, nullptr) == MILO_OK);
        CHECK(hex(pa, ba) == hex(pb, bb));
    }
    REQUIRE(milo_doc_metadata_count(d.doc.get()) == 2);

    // Deterministic, and stable through a second round.
    Bytes again;
    REQUIRE(encode_to_memory(registry.get(), d.doc.get(), &again) == MILO_OK);
    CHECK(again == bytes);
}

TEST_CASE("safetensors accepts valid edge cases", "[safetensors]") {
    Registry registry = make_registry();
    SECTION("no tensors") {
        Decoded d = decode(registry.get(), make_file("{}"));
        INFO(d.message);
        REQUIRE(d.status == MILO_OK);
        CHECK(milo_value_count(milo_value_get_state(milo_doc_get_root(d.doc.get()))) == 0);
    }
    SECTION("unpadded header, null metadata, whitespace, scalar and empty tensors") {
        Decoded d = decode(registry.get(),
                           make_file("{ \"__metadata__\" : null, \"e\": {\"data_offsets\": [0, 0], "
                                     "\"shape\": [0, 3], \"dtype\": \"F32\"},\n\"s\":{\"dtype\":"
                                     "\"I32\",\"shape\":[],\"data_offsets\":[0,4]} }",
                                     {1, 2, 3, 4}, false));
        INFO(d.message);
        REQUIRE(d.status == MILO_OK);
        const milo_value* state = milo_value_get_state(milo_doc_get_root(d.doc.get()));
        REQUIRE(milo_value_count(state) == 2);
        CHECK(milo_value_find(state, "e") == milo_value_at(state, 0));
        CHECK(milo_value_find(state, "s") == milo_value_at(state, 1));
        CHECK(milo_doc_metadata_count(d.doc.get()) == 0);
    }
    SECTION("header order differs from data order: the document follows the data") {
        Decoded d = decode(registry.get(),
                           make_file("{\"b\":{\"dtype\":\"U8\",\"shape\":[1],"
                                     "\"data_offsets\":[1,2]},\"a\":{\"dtype\":\"U8\","
                                     "\"shape\":[1],\"data_offsets\":[0,1]}}",
                                     {7, 9}));
        REQUIRE(d.status == MILO_OK);
        const milo_value* state = milo_value_get_state(milo_doc_get_root(d.doc.get()));
        const char* name = nullptr;
        size_t len = 0;
        REQUIRE(milo_value_get_string(milo_value_key_at(state, 0), &name, &len, nullptr) ==
                MILO_OK);
        CHECK(std::string(name, len) == "a");
    }
}

TEST_CASE("safetensors rejects every truncation of the example", "[safetensors]") {
    Registry registry = make_registry();
    Bytes example = read_file(kExample);
    for (size_t k = 0; k < example.size(); ++k) {
        Bytes cut(example.begin(), example.begin() + long(k));
        Decoded d = decode(registry.get(), cut);
        INFO("truncated to " << k << " bytes: " << d.message);
        REQUIRE(d.status == MILO_ERR_CORRUPT);
    }
    Bytes longer = example;
    longer.push_back(0);
    Decoded d = decode(registry.get(), longer);
    CHECK(d.status == MILO_ERR_CORRUPT);
    CHECK(d.message.find("trailing") != std::string::npos);
}

TEST_CASE("safetensors rejects malformed files with MILO_ERR_CORRUPT", "[safetensors]") {
    Registry registry = make_registry();
    const std::string t1 = "\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    const Bytes eight(8, 0);

    struct Case {
        const char* what;
        Bytes file;
        const char* mentions;
    };
    Bytes huge_length = make_file("{}");
    for (int i = 0; i < 8; ++i) huge_length[size_t(i)] = 0xff;
    Bytes over_limit = make_file("{}");
    {
        uint64_t n = 100'000'001;
        for (int i = 0; i < 8; ++i) over_limit[size_t(i)] = uint8_t(n >> (8 * i));
    }
    Bytes past_end = make_file("{" + t1 + "}", eight);
    past_end[0] = uint8_t(past_end.size() - 7);
    Bytes bad_utf8 = make_file(
        "{\"t\xff\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", eight);
    Bytes nul_padding = make_file("{" + t1 + "}", eight, false);
    {
        std::string h = "{" + t1 + "}";
        h.push_back('\0');
        nul_padding = make_file(h, eight, false);
    }

    const Case cases[] = {
        {"empty file", {}, "byte 0"},
        {"header length huge", huge_length, "header length"},
        {"header length over 100 MB", over_limit, "100 MB"},
        {"header length past the end", past_end, "past the end"},
        {"header not starting with {", make_file(" {}"), "'{'"},
        {"non-object header: array", make_file("[]"), "'{'"},
        {"invalid JSON", make_file("{\"t\":}"), "JSON"},
        {"trailing text in header", make_file("{} x"), "JSON"},
        {"NUL padding", nul_padding, "NUL"},
        {"text after a NUL", make_file(std::string("{}\0{", 4) + "\"x\":1}"), "NUL"},
        {"invalid UTF-8 in header", bad_utf8, "JSON"},
        {"entry not an object", make_file("{\"t\":[1]}"), "\"t\""},
        {"missing dtype", make_file("{\"t\":{\"shape\":[2],\"data_offsets\":[0,8]}}", eight),
         "dtype"},
        {"missing shape", make_file("{\"t\":{\"dtype\":\"F32\",\"data_offsets\":[0,8]}}", eight),
         "shape"},
        {"missing data_offsets", make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2]}}", eight),
         "data_offsets"},
        {"unknown member",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}",
                   eight),
         "unknown member"},
        {"bad dtype", make_file("{\"t\":{\"dtype\":\"F33\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                                eight),
         "F33"},
        {"dtype not a string",
         make_file("{\"t\":{\"dtype\":12,\"shape\":[2],\"data_offsets\":[0,8]}}", eight), "dtype"},
        {"negative dimension",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", eight),
         "shape"},
        {"fractional dimension",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", eight),
         "shape"},
        {"shape product overflow",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,2],"
                   "\"data_offsets\":[0,8]}}",
                   eight),
         "overflow"},
        {"shape × itemsize overflow",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[4611686018427387905],"
                   "\"data_offsets\":[0,8]}}",
                   eight),
         "overflow"},
        {"too many dimensions",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                   "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
                   "1,1,1,1,1],\"data_offsets\":[0,4]}}",
                   Bytes(4, 0)),
         "dimensions"},
        {"size mismatch",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", eight),
         "bytes"},
        {"end before begin",
         make_file("{\"t\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[8,0]}}", eight),
         "end before begin"},
        {"offsets out of range",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", eight),
         "data area"},
        {"offsets not integers",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8.0]}}", eight),
         "data_offsets"},
        {"offsets with three members",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8,8]}}", eight),
         "data_offsets"},
        {"overlapping offsets",
         make_file("{" + t1 +
                       ",\"u\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                   eight),
         "overlaps"},
        {"gap between tensors",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                   "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]}}",
                   eight),
         "belong to no tensor"},
        {"data not starting at 0",
         make_file("{\"t\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", eight),
         "belong to no tensor"},
        {"trailing bytes not covered", make_file("{" + t1 + "}", Bytes(9, 0)), "trailing"},
        {"data without tensors", make_file("{}", eight), "trailing"},
        {"duplicate tensor name",
         make_file("{" + t1 + "," + t1 + "}", Bytes(16, 0)), "duplicate"},
        {"duplicate key inside an entry",
         make_file("{\"t\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],"
                   "\"data_offsets\":[0,8]}}",
                   eight),
         "duplicate"},
        {"metadata not an object", make_file("{\"__metadata__\":[\"a\"]}"), "__metadata__"},
        {"metadata value not a string", make_file("{\"__metadata__\":{\"a\":1}}"), "\"a\""},
        {"nesting too deep", make_file("{\"t\":{\"shape\":[[[[1]]]]}}"), "nesting"},
    };
    for (const Case& c : cases) {
        Decoded d = decode(registry.get(), c.file);
        INFO(c.what << ": " << d.message);
        CHECK(d.status == MILO_ERR_CORRUPT);
        CHECK(d.message.find(c.mentions) != std::string::npos);
    }

    // A dtype safetensors knows but Milo cannot hold is valid input that is not supported.
    Decoded fp8 = decode(registry.get(),
                         make_file("{\"t\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],"
                                   "\"data_offsets\":[0,2]}}",
                                   Bytes(2, 0)));
    INFO(fp8.message);
    CHECK(fp8.status == MILO_ERR_UNSUPPORTED);
}

TEST_CASE("safetensors survives mutated inputs", "[safetensors]") {
    // A small deterministic mutation fuzz over the example: every outcome is a clean status.
    Registry registry = make_registry();
    const Bytes example = read_file(kExample);
    uint64_t state = 0x9e3779b97f4a7c15u;
    auto next = [&state] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    static const uint8_t interesting[] = {0, '{', '}', '[', '"', ',', ':', '-', '9', 0xff, 0x80};
    size_t ok = 0;
    for (int round = 0; round < 3000; ++round) {
        Bytes b = example;
        int edits = 1 + int(next() % 4);
        for (int e = 0; e < edits; ++e) {
            size_t at = size_t(next() % b.size());
            switch (next() % 4) {
                case 0: b[at] = uint8_t(next()); break;
                case 1: b[at] = interesting[next() % sizeof interesting]; break;
                case 2: b.erase(b.begin() + long(at)); break;
                default: b.insert(b.begin() + long(at), uint8_t(next())); break;
            }
            if (b.empty()) b.push_back(0);
        }
        Decoded d = decode(registry.get(), b);
        INFO("round " << round << ": " << d.message);
        REQUIRE((d.status == MILO_OK || d.status == MILO_ERR_CORRUPT ||
                 d.status == MILO_ERR_UNSUPPORTED));
        if (d.status == MILO_OK) {
            ++ok;
            Bytes out;  // whatever decodes also encodes
            REQUIRE(encode_to_memory(registry.get(), d.doc.get(), &out) == MILO_OK);
        }
    }
    CHECK(ok > 0);  // some edits (inside tensor data or metadata text) keep the file valid
}

TEST_CASE("safetensors encode refuses documents it cannot write", "[safetensors]") {
    Registry registry = make_registry();
    auto expect = [&](milo_doc* doc, milo_status status, const char* mentions) {
        Bytes out;
        std::string message;
        CHECK(encode_to_memory(registry.get(), doc, &out, &message) == status);
        INFO(message);
        CHECK(message.find(mentions) != std::string::npos);
    };
    auto state_doc = [&](milo_value** state) {
        milo_doc* raw = nullptr;
        REQUIRE(milo_doc_create(&raw, nullptr) == MILO_OK);
        REQUIRE(milo_value_create_container(raw, MILO_KIND_MAP, state, nullptr) == MILO_OK);
        milo_value* root = nullptr;
        REQUIRE(milo_value_create_object(raw, "safetensors.StateDict", &root, nullptr) == MILO_OK);
        REQUIRE(milo_value_set_state(root, *state, nullptr) == MILO_OK);
        REQUIRE(milo_doc_set_root(raw, root, nullptr) == MILO_OK);
        return Doc(raw);
    };

    milo_value* state = nullptr;
    Doc complex128 = state_doc(&state);
    put(complex128.get(), state, "z",
        tensor(complex128.get(), MILO_DTYPE_COMPLEX128, {1}, Bytes(16, 0)));
    expect(complex128.get(), MILO_ERR_UNSUPPORTED, "complex128");

    Doc strings = state_doc(&state);
    milo_value* s = nullptr;
    int64_t one = 1;
    REQUIRE(milo_value_create_tensor(strings.get(), MILO_DTYPE_STRING, &one, 1, &s, nullptr) ==
            MILO_OK);
    put(strings.get(), state, "s", s);
    expect(strings.get(), MILO_ERR_UNSUPPORTED, "string");

    Doc not_tensor = state_doc(&state);
    milo_value* i = nullptr;
    REQUIRE(milo_value_create_int(not_tensor.get(), 3, &i, nullptr) == MILO_OK);
    put(not_tensor.get(), state, "n", i);
    expect(not_tensor.get(), MILO_ERR_TYPE, "/root/state/n");

    Doc reserved = state_doc(&state);
    put(reserved.get(), state, "__metadata__",
        tensor(reserved.get(), MILO_DTYPE_UINT8, {1}, {0}));
    expect(reserved.get(), MILO_ERR_UNSUPPORTED, "__metadata__");

    milo_doc* raw = nullptr;
    REQUIRE(milo_doc_create(&raw, nullptr) == MILO_OK);
    Doc other(raw);
    milo_value* root = nullptr;
    REQUIRE(milo_value_create_object(raw, "sklearn.linear_model.LinearRegression", &root,
                                     nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_root(raw, root, nullptr) == MILO_OK);
    expect(raw, MILO_ERR_TYPE, "LinearRegression");
}

TEST_CASE("safetensors output loads in the official library, and its files in Milo",
          "[safetensors][python]") {
    const std::string python = venv_python();
    if (python.empty()) {
        WARN("skipped: " << kSource << "/.venv/bin/python is missing (run scripts/python_env.sh)");
        return;
    }
    const std::string script = kSource + "/tests/plugins/safetensors/check_with_safetensors.py";
    Registry registry = make_registry();

    // Milo → safetensors: a hand-built document encoded through the registry.
    Doc doc = make_state_dict(true);
    const std::string out = kTmp + "/milo_written.safetensors";
    const std::string expected = kTmp + "/milo_written.expected.json";
    std::remove(out.c_str());
    milo_error error = MILO_ERROR_INIT;
    REQUIRE(milo_registry_encode_native(registry.get(), nullptr, doc.get(), out.c_str(),
                                        &error) == MILO_OK);
    write_file(expected, describe(doc.get()).dump());
    CHECK(run("'" + python + "' '" + script + "' read '" + out + "' '" + expected + "'") == 0);

    // safetensors → Milo: a file written by the official library decodes to exactly what it
    // recorded and re-encodes byte for byte.
    const std::string theirs = kTmp + "/official_written.safetensors";
    const std::string theirs_json = kTmp + "/official_written.expected.json";
    REQUIRE(run("'" + python + "' '" + script + "' write '" + theirs + "' '" + theirs_json +
                "'") == 0);
    Bytes file = read_file(theirs);
    Decoded d = decode(registry.get(), file);
    INFO(d.message);
    REQUIRE(d.status == MILO_OK);
    nlohmann::json want;
    std::ifstream(theirs_json) >> want;
    nlohmann::json got = describe(d.doc.get());
    CHECK(got["metadata"] == want["metadata"]);
    std::map<std::string, nlohmann::json> by_name;
    for (const auto& t : got["tensors"]) by_name[t["name"].get<std::string>()] = t;
    REQUIRE(by_name.size() == want["tensors"].size());
    for (const auto& t : want["tensors"]) {
        INFO(t["name"].get<std::string>());
        REQUIRE(by_name.count(t["name"].get<std::string>()) == 1);
        CHECK(by_name[t["name"].get<std::string>()] == t);
    }
    Bytes again;
    REQUIRE(encode_to_memory(registry.get(), d.doc.get(), &again) == MILO_OK);
    CHECK(again == file);
}
