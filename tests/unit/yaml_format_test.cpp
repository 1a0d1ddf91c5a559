// YAML format adapter: round trips of every value kind and dtype through the public C ABI,
// agreement with the JSON encoding, and rejection of hostile or malformed input.
#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "milo/milo_codec.hpp"
#include "milo/registry.h"
#include "milo/value.h"

namespace {

struct Registry {
    milo_registry* r = nullptr;
    Registry() { REQUIRE(milo_registry_create(&r, nullptr) == MILO_OK); }
    ~Registry() { milo_registry_destroy(r); }
};

struct Doc {
    milo_doc* d = nullptr;
    Doc() { REQUIRE(milo_doc_create(&d, nullptr) == MILO_OK); }
    explicit Doc(milo_doc* p) : d(p) {}
    Doc(const Doc&) = delete;
    Doc(Doc&& o) noexcept : d(o.d) { o.d = nullptr; }
    ~Doc() { milo_doc_destroy(d); }
};

milo_status append_string(void* ctx, const void* data, size_t size, milo_error*) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
    return MILO_OK;
}

std::string encode(Registry& reg, const Doc& doc, const char* format = "yaml",
                   int32_t tensors = MILO_TENSORS_READABLE, int32_t indent = -1) {
    milo_save_options o = MILO_SAVE_OPTIONS_INIT;
    o.format = format;
    o.tensors = tensors;
    o.indent = indent;
    std::string out;
    milo_error e = MILO_ERROR_INIT;
    milo_status st = milo_doc_encode(reg.r, doc.d, &o, append_string, &out, &e);
    INFO(e.message);
    REQUIRE(st == MILO_OK);
    return out;
}

struct Decoded {
    milo_status status;
    std::string message;
    Doc doc;
};

Decoded decode(Registry& reg, const std::string& text, const char* format = "yaml",
               uint32_t max_depth = 0) {
    milo_load_options o = MILO_LOAD_OPTIONS_INIT;
    o.format = format;
    o.max_depth = max_depth;
    milo_doc* out = nullptr;
    milo_error e = MILO_ERROR_INIT;
    milo_status st = milo_doc_decode(reg.r, reinterpret_cast<const uint8_t*>(text.data()),
                                     text.size(), "test.yaml", &o, &out, &e);
    return Decoded{st, e.message, Doc(out)};
}

// YAML round trip: encode, decode, compare, and check the re-encoding is byte-identical.
void round_trip(Registry& reg, const Doc& doc, int32_t tensors = MILO_TENSORS_READABLE) {
    std::string text = encode(reg, doc, "yaml", tensors);
    Decoded back = decode(reg, text);
    INFO(text);
    INFO(back.message);
    REQUIRE(back.status == MILO_OK);
    char where[512] = {0};
    bool equal = milo_doc_equal(doc.d, back.doc.d, where, sizeof where);
    INFO(where);
    CHECK(equal);
    CHECK(encode(reg, back.doc, "yaml", tensors) == text);
}

milo_value* str(const Doc& d, const std::string& s) {
    milo_value* v = nullptr;
    REQUIRE(milo_value_create_string(d.d, s.data(), s.size(), &v, nullptr) == MILO_OK);
    return v;
}
milo_value* num(const Doc& d, double x) {
    milo_value* v = nullptr;
    REQUIRE(milo_value_create_float(d.d, x, &v, nullptr) == MILO_OK);
    return v;
}
milo_value* integer(const Doc& d, int64_t x) {
    milo_value* v = nullptr;
    REQUIRE(milo_value_create_int(d.d, x, &v, nullptr) == MILO_OK);
    return v;
}
milo_value* container(const Doc& d, int32_t kind) {
    milo_value* v = nullptr;
    REQUIRE(milo_value_create_container(d.d, kind, &v, nullptr) == MILO_OK);
    return v;
}
void append(milo_value* c, milo_value* v) { REQUIRE(milo_value_append(c, v, nullptr) == MILO_OK); }
void pair(milo_value* m, milo_value* k, milo_value* v) {
    REQUIRE(milo_value_append_pair(m, k, v, nullptr) == MILO_OK);
}

uint64_t bits_of(const milo_value* v) {
    double d = 0;
    REQUIRE(milo_value_get_float(v, &d, nullptr) == MILO_OK);
    return milo::codec::double_to_bits(d);
}

// Header + document wrapper for hand-written inputs.
std::string with_root(const std::string& root_yaml) {
    return "\"milo\":\n  \"format_version\": 1\n\"root\": " + root_yaml + "\n";
}

void expect_error(Registry& reg, const std::string& text, milo_status status,
                  const char* fragment = nullptr) {
    Decoded d = decode(reg, text);
    INFO(text.substr(0, 300));
    INFO(d.message);
    CHECK(d.status == status);
    CHECK(d.doc.d == nullptr);
    // every message names the input and a line:column
    CHECK(std::string(d.message).find("test.yaml:") != std::string::npos);
    if (fragment != nullptr) CHECK(std::string(d.message).find(fragment) != std::string::npos);
}

}  // namespace

TEST_CASE("yaml: the format is registered with its extensions and probe") {
    Registry reg;
    const milo_format* f = milo_registry_find_format(reg.r, "yaml");
    REQUIRE(f != nullptr);
    CHECK((f->flags & MILO_FORMAT_TEXT) != 0);
    CHECK(milo_registry_find_format_for_path(reg.r, "model.YML") == f);
    CHECK(milo_registry_find_format_for_path(reg.r, "a/model.yaml") == f);
    const char head[] = "# a comment\n---\n\"milo\":\n  \"format_version\": 1\n";
    CHECK(milo_registry_find_format_for_content(
              reg.r, reinterpret_cast<const uint8_t*>(head), sizeof head - 1) == f);
    const char json[] = "{\"milo\": {}}";
    CHECK(f->probe(f->self, reinterpret_cast<const uint8_t*>(json), sizeof json - 1) == 0);
}

TEST_CASE("yaml: scalars round trip bit-exactly and are written in the documented form") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_LIST);
    milo_value* v = nullptr;
    REQUIRE(milo_value_create_null(doc.d, &v, nullptr) == MILO_OK);
    append(root, v);
    REQUIRE(milo_value_create_bool(doc.d, true, &v, nullptr) == MILO_OK);
    append(root, v);
    REQUIRE(milo_value_create_bool(doc.d, false, &v, nullptr) == MILO_OK);
    append(root, v);
    append(root, integer(doc, 0));
    append(root, integer(doc, std::numeric_limits<int64_t>::min()));
    append(root, integer(doc, std::numeric_limits<int64_t>::max()));
    const char big[] = "-123456789012345678901234567890";
    REQUIRE(milo_value_create_int_text(doc.d, big, sizeof big - 1, &v, nullptr) == MILO_OK);
    append(root, v);
    const double floats[] = {0.0, -0.0, 1.0, 0.1, -2.5e-308, 1e300, 4.9e-324,
                             std::numeric_limits<double>::infinity(),
                             -std::numeric_limits<double>::infinity(),
                             milo::codec::bits_to_double(0x7ff8000000000000ull),
                             milo::codec::bits_to_double(0xfff8000000000000ull),
                             milo::codec::bits_to_double(0x7ff0000000000001ull),
                             milo::codec::bits_to_double(0xfff4000000000abcull)};
    for (double x : floats) append(root, num(doc, x));
    const uint8_t bytes[] = {0, 1, 2, 250, 255};
    REQUIRE(milo_value_create_bytes(doc.d, bytes, sizeof bytes, &v, nullptr) == MILO_OK);
    append(root, v);
    REQUIRE(milo_value_create_bytes(doc.d, bytes, 0, &v, nullptr) == MILO_OK);
    append(root, v);
    REQUIRE(milo_value_create_global(doc.d, "numpy.float64", &v, nullptr) == MILO_OK);
    append(root, v);
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    round_trip(reg, doc);

    std::string text = encode(reg, doc);
    CHECK(text.find("  - -0.0\n") != std::string::npos);
    CHECK(text.find("  - 1.0\n") != std::string::npos);
    CHECK(text.find("\"$float\": \"-nan\"") != std::string::npos);
    CHECK(text.find("\"$float\": \"0x7ff0000000000001\"") != std::string::npos);
    CHECK(text.find("\"$int\": \"-123456789012345678901234567890\"") != std::string::npos);
    CHECK(text.find("- -9223372036854775808\n") != std::string::npos);

    Decoded back = decode(reg, text);
    REQUIRE(back.status == MILO_OK);
    milo_value* r = milo_doc_get_root(back.doc.d);
    // NaN payloads survive by bit pattern
    CHECK(bits_of(milo_value_at(r, 7 + 11)) == 0x7ff0000000000001ull);
    CHECK(bits_of(milo_value_at(r, 7 + 12)) == 0xfff4000000000abcull);
    CHECK(bits_of(milo_value_at(r, 7 + 1)) == 0x8000000000000000ull);
}

TEST_CASE("yaml: strings that look like other things stay strings; escapes round trip") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_LIST);
    const std::string tricky[] = {"1", "true", "null", "", "yes", "NaN", ".inf", "~", "-",
                                  "- x", "a: b", "#c", "[x", "{y}", "&a", "*a", "!!str", "|",
                                  "'", "\"", "\\", "tab\there", "line\nbreak\r\n",
                                  std::string("nul\0byte", 8), "\x01\x1f\x7f",
                                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                                  "\xc2\x85 \xe2\x80\xa8 \xe2\x80\xa9 \xef\xbb\xbf \xef\xbf\xbe",
                                  "  leading and trailing  ", "---", "...", "%YAML"};
    for (const std::string& s : tricky) append(root, str(doc, s));
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    round_trip(reg, doc);
    std::string text = encode(reg, doc);
    CHECK(text.find("- \"1\"\n") != std::string::npos);
    CHECK(text.find("- \"true\"\n") != std::string::npos);
    CHECK(text.find("- \"\"\n") != std::string::npos);
    // non-ASCII text is passed through, not escaped
    CHECK(text.find("caf\xc3\xa9") != std::string::npos);
}

TEST_CASE("yaml: containers, $ keys, non-string keys, sharing and cycles") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_MAP);
    pair(root, str(doc, "$tensor"), integer(doc, 1));  // escaped as "$$tensor"
    pair(root, str(doc, "$$x"), integer(doc, 2));
    pair(root, str(doc, "empty list"), container(doc, MILO_KIND_LIST));
    pair(root, str(doc, "empty map"), container(doc, MILO_KIND_MAP));
    pair(root, str(doc, "empty tuple"), container(doc, MILO_KIND_TUPLE));
    milo_value* set = container(doc, MILO_KIND_SET);
    append(set, integer(doc, 3));
    append(set, str(doc, "x"));
    pair(root, str(doc, "set"), set);
    milo_value* dict = container(doc, MILO_KIND_MAP);  // non-string keys -> $dict
    milo_value* tkey = container(doc, MILO_KIND_TUPLE);
    append(tkey, integer(doc, 1));
    append(tkey, integer(doc, 2));
    pair(dict, tkey, str(doc, "tuple key"));
    pair(dict, integer(doc, 7), num(doc, 7.5));
    pair(root, str(doc, "dict"), dict);
    milo_value* dup = container(doc, MILO_KIND_MAP);  // duplicate string keys -> $dict
    pair(dup, str(doc, "k"), integer(doc, 1));
    pair(dup, str(doc, "k"), integer(doc, 2));
    pair(root, str(doc, "dup"), dup);
    // sharing: one list reachable twice; a cycle: a list containing itself; an object whose
    // state refers back to the object
    milo_value* shared = container(doc, MILO_KIND_LIST);
    append(shared, integer(doc, 42));
    pair(root, str(doc, "a"), shared);
    pair(root, str(doc, "b"), shared);
    milo_value* cyc = container(doc, MILO_KIND_LIST);
    append(cyc, cyc);
    pair(root, str(doc, "cycle"), cyc);
    milo_value* obj = nullptr;
    REQUIRE(milo_value_create_object(doc.d, "pkg.Node", &obj, nullptr) == MILO_OK);
    milo_value* state = container(doc, MILO_KIND_MAP);
    pair(state, str(doc, "self"), obj);
    milo_value* args = container(doc, MILO_KIND_TUPLE);
    append(args, str(doc, "arg"));
    REQUIRE(milo_value_set_args(obj, args, nullptr) == MILO_OK);
    REQUIRE(milo_value_set_state(obj, state, nullptr) == MILO_OK);
    pair(root, str(doc, "object"), obj);
    milo_value* self_keyed = container(doc, MILO_KIND_MAP);  // a map that is its own key
    pair(self_keyed, self_keyed, integer(doc, 0));
    pair(root, str(doc, "self keyed"), self_keyed);
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_header(doc.d, "type", "pkg.Root", nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_header(doc.d, "transporter.id", "test", nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_header(doc.d, "transporter.revision", "3", nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_header(doc.d, "source.sha256", std::string(64, 'a').c_str(), nullptr) ==
            MILO_OK);
    REQUIRE(milo_doc_set_trust(doc.d, "pkg.Node", "instantiate", MILO_TRUST_TRUSTED, nullptr) ==
            MILO_OK);
    REQUIRE(milo_doc_set_trust(doc.d, "os.system", "call", MILO_TRUST_DANGEROUS, nullptr) ==
            MILO_OK);
    REQUIRE(milo_doc_set_metadata(doc.d, "team", "fraud", nullptr) == MILO_OK);
    round_trip(reg, doc);

    std::string text = encode(reg, doc);
    CHECK(text.find("\"$$tensor\": 1") != std::string::npos);
    CHECK(text.find("\"$$$x\": 2") != std::string::npos);
    CHECK(text.find("\"$ref\": 1") != std::string::npos);
    CHECK(text.find("\"empty list\": []") != std::string::npos);
    CHECK(text.find("\"empty map\": {}") != std::string::npos);
    Decoded back = decode(reg, text);
    REQUIRE(back.status == MILO_OK);
    milo_value* r = milo_doc_get_root(back.doc.d);
    // sharing survives as identity, not as a copy
    CHECK(milo_value_find(r, "a") == milo_value_find(r, "b"));
    milo_value* c = milo_value_find(r, "cycle");
    CHECK(milo_value_at(c, 0) == c);
    milo_value* o = milo_value_find(r, "object");
    CHECK(milo_value_find(milo_value_get_state(o), "self") == o);
}

TEST_CASE("yaml: every dtype round trips readable and compact, including non-finite floats") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_LIST);
    for (int32_t dt = MILO_DTYPE_BOOL; dt <= MILO_DTYPE_COMPLEX128; ++dt) {
        milo_value* t = nullptr;
        int64_t shape[2] = {2, 3};
        REQUIRE(milo_value_create_tensor(doc.d, dt, shape, 2, &t, nullptr) == MILO_OK);
        void* data = nullptr;
        size_t n = 0;
        REQUIRE(milo_value_tensor_mutable_data(t, &data, &n, nullptr) == MILO_OK);
        auto* b = static_cast<uint8_t*>(data);
        uint32_t es = milo::codec::dtype_info(dt)->size;
        for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 37 + dt);
        if (dt == MILO_DTYPE_BOOL)
            for (size_t i = 0; i < n; ++i) b[i] = i % 2;
        if (dt == MILO_DTYPE_FLOAT16 || dt == MILO_DTYPE_BFLOAT16) {
            const uint16_t vals[] = {0x3c00, 0x8000, 0x7c00, 0xfc01, 0x7e00, 0x0001};
            const uint16_t bvals[] = {0x3f80, 0x8000, 0x7f80, 0xff81, 0x7fc0, 0x0001};
            std::memcpy(b, dt == MILO_DTYPE_FLOAT16 ? vals : bvals, 12);
        }
        if (dt == MILO_DTYPE_FLOAT32 || dt == MILO_DTYPE_COMPLEX64) {
            const uint32_t vals[] = {0x3f800000, 0x80000000, 0x7f800000, 0x7fc00001, 0x00000001,
                                     0x3dcccccd};
            std::memcpy(b, vals, 24);
        }
        if (dt == MILO_DTYPE_FLOAT64 || dt == MILO_DTYPE_COMPLEX128) {
            const uint64_t vals[] = {0x3ff0000000000000ull, 0x8000000000000000ull,
                                     0xfff0000000000000ull, 0x7ff8000000000000ull,
                                     0x0000000000000001ull, 0x3fb999999999999aull};
            std::memcpy(b, vals, 48);
        }
        (void)es;
        append(root, t);
    }
    // a 0-d scalar tensor and an empty tensor
    milo_value* t = nullptr;
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_INT32, nullptr, 0, &t, nullptr) == MILO_OK);
    append(root, t);
    int64_t empty_shape[2] = {0, 4};
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_FLOAT32, empty_shape, 2, &t, nullptr) ==
            MILO_OK);
    append(root, t);
    // object and string tensors
    int64_t two = 2;
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_STRING, &two, 1, &t, nullptr) == MILO_OK);
    REQUIRE(milo_value_tensor_set_string(t, 0, "a\"b", 3, nullptr) == MILO_OK);
    REQUIRE(milo_value_tensor_set_string(t, 1, "123", 3, nullptr) == MILO_OK);
    append(root, t);
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_OBJECT, &two, 1, &t, nullptr) == MILO_OK);
    REQUIRE(milo_value_tensor_set_item(t, 0, t, nullptr) == MILO_OK);  // refers to itself
    REQUIRE(milo_value_tensor_set_item(t, 1, num(doc, 2.5), nullptr) == MILO_OK);
    append(root, t);
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    round_trip(reg, doc, MILO_TENSORS_READABLE);
    round_trip(reg, doc, MILO_TENSORS_COMPACT);
    std::string text = encode(reg, doc);
    // float64 elements: shortest text, integral values without '.', as in JSON
    CHECK(text.find("\"data\": [1, -0, {\"$float\": \"-inf\"}, {\"$float\": \"nan\"}") !=
          std::string::npos);
    CHECK(text.find("{\"$float\": \"0x7fc00001\"}") != std::string::npos);
    CHECK(text.find("{\"$float\": \"0xfc01\"}") != std::string::npos);
    CHECK(text.find("\"shape\": [2, 3]") != std::string::npos);
}

TEST_CASE("yaml: record tensors with sub-arrays and non-zero padding") {
    Registry reg;
    Doc doc;
    milo_value* t = nullptr;
    int64_t shape = 3;
    REQUIRE(milo_value_create_record_tensor(doc.d, 24, &shape, 1, &t, nullptr) == MILO_OK);
    REQUIRE(milo_value_tensor_add_field(t, "left", MILO_DTYPE_INT32, 0, nullptr, 0, nullptr) ==
            MILO_OK);
    int64_t sub = 2;
    REQUIRE(milo_value_tensor_add_field(t, "value", MILO_DTYPE_FLOAT64, 8, &sub, 1, nullptr) ==
            MILO_OK);
    void* data = nullptr;
    size_t n = 0;
    REQUIRE(milo_value_tensor_mutable_data(t, &data, &n, nullptr) == MILO_OK);
    REQUIRE(n == 72);
    auto* b = static_cast<uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(i * 11 + 1);
    for (int item = 0; item < 3; ++item) {  // keep the float64 fields finite
        double vals[2] = {item * 0.5, -1e-10 * item};
        std::memcpy(b + item * 24 + 8, vals, 16);
    }
    REQUIRE(milo_doc_set_root(doc.d, t, nullptr) == MILO_OK);
    round_trip(reg, doc, MILO_TENSORS_READABLE);
    round_trip(reg, doc, MILO_TENSORS_COMPACT);
    std::string text = encode(reg, doc);
    CHECK(text.find("\"padding\": \"") != std::string::npos);
    CHECK(text.find("\"itemsize\": 24") != std::string::npos);
}

TEST_CASE("yaml: output is deterministic and honours the indent option") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_MAP);
    milo_value* inner = container(doc, MILO_KIND_LIST);
    milo_value* m = container(doc, MILO_KIND_MAP);
    pair(m, str(doc, "k"), integer(doc, 1));
    pair(m, str(doc, "l"), integer(doc, 2));
    append(inner, m);
    append(inner, container(doc, MILO_KIND_LIST));
    pair(root, str(doc, "x"), inner);
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    std::string a = encode(reg, doc, "yaml", MILO_TENSORS_READABLE, 2);
    CHECK(a == encode(reg, doc, "yaml", MILO_TENSORS_READABLE, 2));
    CHECK(a.find("\"root\":\n  \"x\":\n    - \"k\": 1\n      \"l\": 2\n    - []\n") !=
          std::string::npos);
    // indent 0 (one line for JSON) falls back to 2; other widths read back the same
    CHECK(encode(reg, doc, "yaml", MILO_TENSORS_READABLE, 0) == a);
    for (int32_t indent : {1, 3, 4, 8}) {
        std::string t = encode(reg, doc, "yaml", MILO_TENSORS_READABLE, indent);
        Decoded back = decode(reg, t);
        INFO(t);
        REQUIRE(back.status == MILO_OK);
        CHECK(milo_doc_equal(doc.d, back.doc.d, nullptr, 0));
    }
}

TEST_CASE("yaml: JSON -> YAML -> JSON gives the identical document and bytes") {
    Registry reg;
    Doc doc;
    milo_value* root = nullptr;
    REQUIRE(milo_value_create_object(doc.d, "sklearn.linear_model._base.LinearRegression", &root,
                                     nullptr) == MILO_OK);
    milo_value* state = container(doc, MILO_KIND_MAP);
    milo_value* t = nullptr;
    int64_t shape[1] = {4};
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_FLOAT64, shape, 1, &t, nullptr) == MILO_OK);
    void* data = nullptr;
    size_t n = 0;
    REQUIRE(milo_value_tensor_mutable_data(t, &data, &n, nullptr) == MILO_OK);
    const double coef[4] = {0.1, -3.0, 1e-300, std::numeric_limits<double>::quiet_NaN()};
    std::memcpy(data, coef, sizeof coef);
    pair(state, str(doc, "coef_"), t);
    pair(state, str(doc, "intercept_"), num(doc, -0.0));
    pair(state, str(doc, "n_features_in_"), integer(doc, 4));
    pair(state, str(doc, "fit_intercept"), str(doc, "true"));
    REQUIRE(milo_value_set_state(root, state, nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_header(doc.d, "framework.name", "scikit-learn", nullptr) == MILO_OK);

    std::string json = encode(reg, doc, "json");
    Decoded from_json = decode(reg, json, "json");
    REQUIRE(from_json.status == MILO_OK);
    std::string yaml = encode(reg, from_json.doc, "yaml");
    Decoded from_yaml = decode(reg, yaml, "yaml");
    INFO(yaml);
    REQUIRE(from_yaml.status == MILO_OK);
    CHECK(milo_doc_equal(doc.d, from_yaml.doc.d, nullptr, 0));
    CHECK(encode(reg, from_yaml.doc, "json") == json);
}

TEST_CASE("yaml: hand-written YAML in the subset is accepted") {
    Registry reg;
    std::string text =
        "# written by hand\n"
        "---\n"
        "\"milo\":\n"
        "  \"format_version\": 1  # the only required member\n"
        "\"root\":\n"
        "  'single': 'it''s'\n"
        "  \"flow\": {\"a\": [1, 2.5, null, true], \"b\": {}}\n"
        "  \"list\":\n"
        "  - 1\n"
        "  - -2\n"
        "  \"t\": {\"$tuple\": [1, 2], \"$id\": 1}\n"
        "  \"r\": {\"$ref\": 1}\n"
        "...\n";
    Decoded d = decode(reg, text);
    INFO(d.message);
    REQUIRE(d.status == MILO_OK);
    milo_value* r = milo_doc_get_root(d.doc.d);
    const char* s = nullptr;
    size_t len = 0;
    REQUIRE(milo_value_get_string(milo_value_find(r, "single"), &s, &len, nullptr) == MILO_OK);
    CHECK(std::string(s, len) == "it's");
    CHECK(milo_value_find(r, "t") == milo_value_find(r, "r"));
    // no producer in the file: none in the document (as with JSON)
    const char* producer = "unset";
    REQUIRE(milo_doc_get_header(d.doc.d, "producer.name", &producer, nullptr) == MILO_OK);
    CHECK(producer == nullptr);
    Decoded j = decode(reg, "{\"milo\": {\"format_version\": 1}}", "json");
    REQUIRE(j.status == MILO_OK);
    Decoded y = decode(reg, "\"milo\": {\"format_version\": 1}\n");
    REQUIRE(y.status == MILO_OK);
    CHECK(milo_doc_equal(j.doc.d, y.doc.d, nullptr, 0));
    CHECK(milo_value_count(milo_value_find(r, "list")) == 2);
}

TEST_CASE("yaml: malformed and hostile inputs are rejected with a place") {
    Registry reg;
    SECTION("anchors and aliases") {
        expect_error(reg, with_root("&a [1]"), MILO_ERR_CORRUPT, "anchors");
        expect_error(reg, "\"milo\":\n  \"format_version\": 1\n\"root\": *a\n", MILO_ERR_CORRUPT,
                     "test.yaml:3:9");
    }
    SECTION("billion laughs is rejected fast") {
        std::string bomb = "\"milo\":\n  \"format_version\": 1\n\"root\":\n  \"a\": &a [\"lol\"]\n";
        std::string prev = "a";
        for (int i = 0; i < 30; ++i) {
            std::string name = "l" + std::to_string(i);
            bomb += "  \"" + name + "\": &" + name + " [*" + prev + ", *" + prev + ", *" + prev +
                    ", *" + prev + "]\n";
            prev = name;
        }
        auto t0 = std::chrono::steady_clock::now();
        expect_error(reg, bomb, MILO_ERR_CORRUPT, "anchors");
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(1));
    }
    SECTION("tags") {
        expect_error(reg, with_root("!!python/object:os.system [\"ls\"]"), MILO_ERR_CORRUPT, "tags");
        expect_error(reg, with_root("! 1"), MILO_ERR_CORRUPT, "tags");
        expect_error(reg, with_root("!!str 1"), MILO_ERR_CORRUPT, "tags");
    }
    SECTION("duplicate keys") {
        expect_error(reg, with_root("{\"a\": 1, \"a\": 2}"), MILO_ERR_CORRUPT, "duplicate key");
        expect_error(reg, "\"milo\":\n  \"format_version\": 1\n\"milo\":\n  \"format_version\": 1\n",
                     MILO_ERR_CORRUPT, "test.yaml:3:1");
    }
    SECTION("deep nesting bombs are rejected fast") {
        auto t0 = std::chrono::steady_clock::now();
        expect_error(reg, with_root(std::string(100000, '[')), MILO_ERR_LIMIT);
        expect_error(reg, std::string(10000000, '['), MILO_ERR_LIMIT);
        std::string dashes;
        for (int i = 0; i < 100000; ++i) dashes += "- ";
        expect_error(reg, with_root("\n  " + dashes + "1"), MILO_ERR_LIMIT);
        CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
        // the depth limit of the options applies to values
        std::string nested = "[[[[[[1]]]]]]";
        Decoded shallow = decode(reg, with_root(nested), "yaml", 3);
        CHECK(shallow.status == MILO_ERR_LIMIT);
        Decoded ok = decode(reg, with_root(nested), "yaml", 10);
        CHECK(ok.status == MILO_OK);
    }
    SECTION("a huge flow collection in implicit-key position is refused, not buffered") {
        std::string flat = "\"milo\":\n  \"format_version\": 1\n\"root\":\n  [";
        for (int i = 0; i < 600000; ++i) flat += "1, ";
        flat += "1]\n";
        expect_error(reg, flat, MILO_ERR_LIMIT, "test.yaml:4:3");
        // the same list as the value of a key is fine
        std::string ok = "\"milo\":\n  \"format_version\": 1\n\"root\": [";
        for (int i = 0; i < 600000; ++i) ok += "1, ";
        ok += "1]\n";
        Decoded d = decode(reg, ok);
        INFO(d.message);
        CHECK(d.status == MILO_OK);
        CHECK(milo_value_count(milo_doc_get_root(d.doc.d)) == 600001);
    }
    SECTION("plain scalars other than null/true/false/numbers") {
        for (const char* s : {"yes", "NaN", ".inf", "-.inf", "~", "Null", "TRUE", "0x10", "1_000",
                              "+1", "01", "1.", ".5", "hello"})
            expect_error(reg, with_root(s), MILO_ERR_CORRUPT);
        expect_error(reg, with_root("yes"), MILO_ERR_CORRUPT, "test.yaml:3:9");
        expect_error(reg, "\"milo\":\n  \"format_version\": 1\n\"root\":\n", MILO_ERR_CORRUPT,
                     "missing value");
        expect_error(reg, "milo:\n  format_version: 1\n", MILO_ERR_CORRUPT, "quoted");
    }
    SECTION("block scalars, multi-line plain scalars, stray quotes") {
        expect_error(reg, with_root("|\n  text"), MILO_ERR_CORRUPT, "block scalars");
        expect_error(reg, with_root("1\n  2"), MILO_ERR_CORRUPT);
        expect_error(reg, with_root("[1\n \"x\"]"), MILO_ERR_CORRUPT);
        expect_error(reg, with_root("a \"[[[[\""), MILO_ERR_CORRUPT);
    }
    SECTION("unknown tags and bad tagged forms") {
        expect_error(reg, with_root("{\"$evil\": 1}"), MILO_ERR_CORRUPT, "unknown tag");
        expect_error(reg, with_root("{\"$float\": \"NaN\"}"), MILO_ERR_CORRUPT, "$float");
        expect_error(reg, with_root("{\"$ref\": 5}"), MILO_ERR_CORRUPT, "no earlier $id");
        expect_error(reg, with_root("[{\"$id\": 1, \"$list\": []}, {\"$id\": 1, \"$list\": []}]"),
                     MILO_ERR_CORRUPT, "defined twice");
        expect_error(reg, with_root("{\"$list\": [], \"x\": 1}"), MILO_ERR_CORRUPT, "mixed");
        expect_error(reg, with_root("{\"x\": 1, \"$list\": []}"), MILO_ERR_CORRUPT, "single '$'");
        expect_error(reg, with_root("{\"$int\": \"12x\"}"), MILO_ERR_CORRUPT);
    }
    SECTION("bad base64") {
        expect_error(reg, with_root("{\"$bytes\": \"abc\"}"), MILO_ERR_CORRUPT, "base64");
        expect_error(reg, with_root("{\"$bytes\": \"ab!=\"}"), MILO_ERR_CORRUPT, "base64");
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": \"int32\", \"shape\": [2], "
                               "\"base64\": \"AAAA\"}}"),
                     MILO_ERR_CORRUPT, "expected 8");
    }
    SECTION("tensor element counts and sizes") {
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": \"float32\", \"shape\": [3], "
                               "\"data\": [1.0, 2.0]}}"),
                     MILO_ERR_CORRUPT, "/root/data");
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": \"float32\", \"shape\": [1099511627776, "
                               "1099511627776], \"data\": []}}"),
                     MILO_ERR_LIMIT);
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": \"int8\", \"shape\": [1], "
                               "\"data\": [300]}}"),
                     MILO_ERR_CORRUPT, "out of range");
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": \"float16\", \"shape\": [1], "
                               "\"data\": [0.1]}}"),
                     MILO_ERR_CORRUPT, "float16");
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": \"cat\", \"shape\": [1], "
                               "\"data\": [1]}}"),
                     MILO_ERR_CORRUPT, "unknown dtype");
        expect_error(reg,
                     with_root("{\"$tensor\": {\"dtype\": {\"itemsize\": 1099511627776, "
                               "\"fields\": [{\"name\": \"a\", \"dtype\": \"int8\", "
                               "\"offset\": 0}]}, \"shape\": [1], \"data\": {\"a\": [1]}}}"),
                     MILO_ERR_LIMIT);
    }
    SECTION("a second document or trailing garbage") {
        expect_error(reg, with_root("1") + "---\n\"milo\": {}\n", MILO_ERR_CORRUPT, "second");
        expect_error(reg, with_root("1") + "]\n", MILO_ERR_CORRUPT);
        expect_error(reg, with_root("1") + "\"x\"\n", MILO_ERR_CORRUPT);
    }
    SECTION("header strictness") {
        expect_error(reg, "\"milo\":\n  \"format_version\": 2\n", MILO_ERR_UNSUPPORTED);
        expect_error(reg, "\"milo\":\n  \"format_version\": 1\n  \"colour\": \"red\"\n",
                     MILO_ERR_CORRUPT, "unknown header member");
        expect_error(reg, "\"milo\":\n  \"producer\": {}\n", MILO_ERR_CORRUPT, "format_version");
        expect_error(reg, "\"milo\":\n  \"format_version\": 1\n\"extra\": 1\n", MILO_ERR_CORRUPT);
    }
    SECTION("encoding problems") {
        expect_error(reg, with_root("\"\xff\""), MILO_ERR_CORRUPT, "UTF-8");
        expect_error(reg, with_root("\"\\ud800\""), MILO_ERR_CORRUPT, "unicode");
        expect_error(reg, with_root(std::string("\"a\0b\"", 5)), MILO_ERR_CORRUPT, "control");
        expect_error(reg, "", MILO_ERR_CORRUPT, "empty");
    }
}

TEST_CASE("yaml: documents too deep for YAML readers are refused by the encoder") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_LIST);
    milo_value* cur = root;
    for (int i = 0; i < 600; ++i) {
        milo_value* next = container(doc, MILO_KIND_LIST);
        append(cur, next);
        cur = next;
    }
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    milo_save_options o = MILO_SAVE_OPTIONS_INIT;
    o.format = "yaml";
    std::string out;
    milo_error e = MILO_ERROR_INIT;
    CHECK(milo_doc_encode(reg.r, doc.d, &o, append_string, &out, &e) == MILO_ERR_LIMIT);
    CHECK(std::string(e.message).find("/root/0/0") != std::string::npos);
    // 400 levels still fit and read back
    Doc ok;
    root = container(ok, MILO_KIND_LIST);
    cur = root;
    for (int i = 0; i < 400; ++i) {
        milo_value* next = container(ok, MILO_KIND_LIST);
        append(cur, next);
        cur = next;
    }
    REQUIRE(milo_doc_set_root(ok.d, root, nullptr) == MILO_OK);
    round_trip(reg, ok);
}

TEST_CASE("yaml: truncated and mutated documents never crash and fail cleanly") {
    Registry reg;
    Doc doc;
    milo_value* root = container(doc, MILO_KIND_MAP);
    milo_value* lst = container(doc, MILO_KIND_LIST);
    append(lst, num(doc, 1.5));
    append(lst, str(doc, "x\ny"));
    append(lst, lst);
    pair(root, str(doc, "$k"), lst);
    milo_value* t = nullptr;
    int64_t shape = 3;
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_FLOAT32, &shape, 1, &t, nullptr) == MILO_OK);
    pair(root, str(doc, "t"), t);
    pair(root, integer(doc, 5), t);
    REQUIRE(milo_doc_set_root(doc.d, root, nullptr) == MILO_OK);
    const std::string text = encode(reg, doc);
    size_t accepted = 0;
    for (size_t n = 0; n < text.size(); ++n) {
        Decoded d = decode(reg, text.substr(0, n));
        if (d.status == MILO_OK) ++accepted;
        else CHECK(!std::string(d.message).empty());
    }
    // a prefix can only be valid when it ends between complete lines; most are not
    CHECK(accepted < text.size() / 4);
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto next = [&] {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        return state;
    };
    const char alphabet[] = "[]{}:,-?&*!|>#'\"\\ \n\t0123456789.eE+$abnultrf";
    for (int round = 0; round < 3000; ++round) {
        std::string m = text;
        for (int k = 0, edits = 1 + int(next() % 4); k < edits; ++k) {
            size_t at = next() % m.size();
            switch (next() % 3) {
                case 0: m[at] = alphabet[next() % (sizeof alphabet - 1)]; break;
                case 1: m.insert(at, 1, alphabet[next() % (sizeof alphabet - 1)]); break;
                default: m.erase(at, 1 + next() % 3); break;
            }
            if (m.empty()) m = "x";
        }
        Decoded d = decode(reg, m);
        if (d.status != MILO_OK) CHECK(std::string(d.message).find("test.yaml") == 0);
    }
}
