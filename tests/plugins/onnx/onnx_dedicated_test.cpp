// The dedicated ONNX fixtures (make_onnx_fixtures.py) read through the real plugin: every check
// expected.json lists for a fixture must hold on the document the plugin makes of it, and every
// must-fail fixture must be refused with the status and message it names. The fixture folder
// comes from MILO_ONNX_DEDICATED_DIR (CTest sets it after running the generator).
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "milo/milo.hpp"

#include "../../test_files.hpp"

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

const std::string kPlugin = std::string(MILO_PLUGIN_OUTPUT_DIR) + "/milo_onnx.so";

std::string fixture_dir() {
    const char* env = std::getenv("MILO_ONNX_DEDICATED_DIR");
    return env != nullptr && *env != '\0' ? env : MILO_ONNX_DEDICATED_DEFAULT;
}

const json& expected() {
    static const json doc = [] {
        const std::string path = fixture_dir() + "/expected.json";
        INFO("run tests/plugins/onnx/make_onnx_fixtures.py " << fixture_dir() << " first");
        REQUIRE(fs::is_regular_file(path));
        return json::parse(read_file(path));
    }();
    return doc;
}

milo::Registry& registry() {
    static milo::Registry r = [] {
        milo::Registry reg;
        reg.load_plugin(kPlugin);
        return reg;
    }();
    return r;
}

std::string hex(std::string_view bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

const char* dtype_name(int32_t dtype) {
    static const char* const names[] = {
        "?",       "bool",     "int8",    "int16",     "int32",      "int64",  "uint8",
        "uint16",  "uint32",   "uint64",  "float16",   "bfloat16",   "float32", "float64",
        "complex64", "complex128", "record", "object", "string"};
    return dtype >= 0 && dtype <= MILO_DTYPE_STRING ? names[dtype] : "?";
}

// A scalar, list or map value as JSON in the vocabulary of expected.json: bytes as {"hex"},
// integers beyond int64 as {"int": decimal}, floats as {"float_bits"}, objects as
// {"$object", "state"}.
json to_json(milo::ValueRef v) {
    switch (v.kind()) {
        case MILO_KIND_NULL: return nullptr;
        case MILO_KIND_BOOL: return v.as_bool();
        case MILO_KIND_INT: {
            const std::string text = v.int_text();
            try {
                size_t used = 0;
                const long long i = std::stoll(text, &used);
                if (used == text.size()) return json(int64_t(i));
            } catch (const std::out_of_range&) {
            }
            return {{"int", text}};
        }
        case MILO_KIND_FLOAT: {
            const double d = v.as_float();
            uint64_t bits = 0;
            std::memcpy(&bits, &d, sizeof bits);
            char buf[17];
            std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(bits));
            return {{"float_bits", buf}};
        }
        case MILO_KIND_STRING: return std::string(v.as_string());
        case MILO_KIND_BYTES: return {{"hex", hex(v.as_bytes())}};
        case MILO_KIND_LIST:
        case MILO_KIND_TUPLE: {
            json out = json::array();
            for (size_t i = 0; i < v.size(); ++i) out.push_back(to_json(v[i]));
            return out;
        }
        case MILO_KIND_MAP: {
            json out = json::object();
            for (size_t i = 0; i < v.size(); ++i)
                out[std::string(v.key(i).as_string())] = to_json(v[i]);
            return out;
        }
        case MILO_KIND_OBJECT:
            return {{"$object", std::string(v.name())}, {"state", to_json(v.state())}};
        default: return {{"kind", v.kind()}};
    }
}

// Follows a path of expected.json from the root. A string step is a map key (of the state, when
// the value is an object), a number a list index, {"name": X} the list item whose state.name is
// X. Returns an empty ValueRef, and says why in `why`, when the path leads nowhere.
milo::ValueRef follow(milo::ValueRef v, const json& path, std::string* why) {
    std::string at = "";
    for (const json& step : path) {
        if (v.is(MILO_KIND_OBJECT)) v = v.state();
        milo::ValueRef next;
        if (step.is_string()) {
            if (v.is(MILO_KIND_MAP)) next = v.find(step.get<std::string>().c_str());
        } else if (step.is_number_integer()) {
            const size_t i = step.get<size_t>();
            if ((v.is(MILO_KIND_LIST) || v.is(MILO_KIND_TUPLE)) && i < v.size()) next = v[i];
        } else if (step.is_object() && step.contains("name") && v.is(MILO_KIND_LIST)) {
            const std::string want = step["name"].get<std::string>();
            for (size_t i = 0; i < v.size() && !next; ++i) {
                milo::ValueRef name = v[i].is(MILO_KIND_OBJECT) ? v[i].state().find("name")
                                                                : milo::ValueRef();
                if (name.is(MILO_KIND_STRING) && name.as_string() == want) next = v[i];
            }
        }
        at += "/" + step.dump();
        if (!next) {
            *why = "nothing at " + at;
            return {};
        }
        v = next;
    }
    return v;
}

// Runs one check of expected.json on `doc`.
void run_check(const milo::DocRef& doc, const json& c) {
    const std::string kind = c.at("kind");
    INFO("check " << c.dump());
    if (kind == "header") {
        const std::string key = c.at("key");
        CHECK(doc.header(key.c_str()) == c.at("value").get<std::string>());
        return;
    }
    std::string why;
    milo::ValueRef v = follow(doc.root(), c.at("path"), &why);
    if (kind == "absent") {
        CHECK(!v);
        return;
    }
    INFO(why);
    REQUIRE(v);
    if (kind == "tensor") {
        REQUIRE(v.kind() == MILO_KIND_TENSOR);
        CHECK(dtype_name(v.dtype()) == c.at("dtype").get<std::string>());
        CHECK(v.shape() == c.at("shape").get<std::vector<int64_t>>());
        if (c.contains("data_hex")) {
            auto [data, size] = v.data();
            CHECK(hex({static_cast<const char*>(data), size}) == c["data_hex"].get<std::string>());
        }
        if (c.contains("strings")) {
            std::vector<std::string> got;
            for (size_t i = 0; i < v.size(); ++i) got.emplace_back(v.string_at(i));
            CHECK(got == c["strings"].get<std::vector<std::string>>());
        }
        if (c.contains("items_hex")) {
            std::vector<std::string> got;
            for (size_t i = 0; i < v.size(); ++i)
                got.push_back(v.item(i).is(MILO_KIND_BYTES) ? hex(v.item(i).as_bytes()) : "?");
            CHECK(got == c["items_hex"].get<std::vector<std::string>>());
        }
    } else if (kind == "bytes") {
        REQUIRE(v.kind() == MILO_KIND_BYTES);
        CHECK(hex(v.as_bytes()) == c.at("hex").get<std::string>());
    } else if (kind == "string") {
        REQUIRE(v.kind() == MILO_KIND_STRING);
        CHECK(v.as_string() == c.at("value").get<std::string>());
    } else if (kind == "int") {
        REQUIRE(v.kind() == MILO_KIND_INT);
        if (c.contains("text")) CHECK(v.int_text() == c["text"].get<std::string>());
        else CHECK(v.as_int() == c.at("value").get<int64_t>());
    } else if (kind == "float") {
        REQUIRE(v.kind() == MILO_KIND_FLOAT);
        CHECK(to_json(v).at("float_bits") == c.at("bits"));
    } else if (kind == "list") {
        REQUIRE(v.kind() == MILO_KIND_LIST);
        CHECK(v.size() == c.at("len").get<size_t>());
        if (c.contains("values")) CHECK(to_json(v) == c["values"]);
    } else if (kind == "object") {
        REQUIRE(v.kind() == MILO_KIND_OBJECT);
        CHECK(v.name() == c.at("type").get<std::string>());
        if (c.contains("keys")) {
            std::vector<std::string> keys;
            milo::ValueRef state = v.state();
            for (size_t i = 0; state && i < state.size(); ++i)
                keys.emplace_back(state.key(i).as_string());
            CHECK(keys == c["keys"].get<std::vector<std::string>>());
        }
    } else {
        FAIL("unknown check kind " << kind);
    }
}

// Decodes `bytes` through the onnx transporter and returns the error it fails with; fails the
// test when it succeeds.
milo::Error refusal(const std::string& bytes, const char* path) {
    try {
        registry().decode_native(bytes, "onnx", path);
    } catch (const milo::Error& e) {
        return e;
    }
    FAIL("decoded, but must fail");
    return milo::Error(MILO_OK, "");
}

void check_refusal(const milo::Error& e, const json& want, const std::string& name) {
    INFO("error: " << e.what());
    CHECK(milo_status_name(e.code()) == want.at("status").get<std::string>());
    CHECK(std::string(e.what()).find(name) != std::string::npos);
    for (const json& fragment : want.at("error_contains"))
        CHECK(std::string(e.what()).find(fragment.get<std::string>()) != std::string::npos);
}

std::vector<json> fixtures(bool must_fail) {
    std::vector<json> out;
    for (const json& f : expected().at("fixtures"))
        if (f.value("must_fail", false) == must_fail) out.push_back(f);
    return out;
}

}  // namespace

TEST_CASE("every .onnx file of the fixture folder is listed in expected.json") {
    std::set<std::string> listed, found;
    for (const json& f : expected().at("fixtures")) listed.insert(f.at("file").get<std::string>());
    for (const auto& e : fs::recursive_directory_iterator(fixture_dir()))
        if (e.path().extension() == ".onnx")
            found.insert(fs::relative(e.path(), fixture_dir()).generic_string());
    CHECK(found == listed);
    CHECK(fixtures(false).size() >= 10);
    CHECK(fixtures(true).size() >= 10);
}

TEST_CASE("dedicated fixtures decode to the documents expected.json describes") {
    size_t checks = 0;
    for (const json& f : fixtures(false)) {
        const std::string path = fixture_dir() + "/" + f.at("file").get<std::string>();
        INFO("fixture " << path);
        const std::string bytes = read_file(path);
        milo::Doc doc;
        try {
            doc = registry().decode_native(bytes, "onnx", path.c_str());
        } catch (const milo::Error& e) {
            FAIL("decode failed: " << e.what());
        }
        for (const json& c : f.at("checks")) run_check(doc, c), ++checks;
        // opened by path (the transporter found by its probe), the same document
        milo::Doc opened = registry().open(path);
        std::string where;
        const bool same = doc.equals(opened, &where);
        INFO(where);
        CHECK(same);
    }
    CHECK(checks >= 200);
}

TEST_CASE("a model read from bytes alone has no folder: external data is refused, the rest reads") {
    for (const json& f : fixtures(false)) {
        const std::string path = fixture_dir() + "/" + f.at("file").get<std::string>();
        INFO("fixture " << path);
        const std::string bytes = read_file(path);
        if (f.contains("stdin")) {
            check_refusal(refusal(bytes, "<stdin>"), f["stdin"], "<stdin>");
        } else {
            milo::Doc from_file = registry().decode_native(bytes, "onnx", path.c_str());
            milo::Doc from_bytes = registry().decode_native(bytes, "onnx", "<stdin>");
            std::string where;
            const bool same = from_file.equals(from_bytes, &where);
            INFO(where);
            CHECK(same);
        }
    }
}

TEST_CASE("must-fail fixtures are refused with the status and message they name") {
    for (const json& f : fixtures(true)) {
        const std::string path = fixture_dir() + "/" + f.at("file").get<std::string>();
        INFO("fixture " << path);
        check_refusal(refusal(read_file(path), path.c_str()), f, path);
        // through milo_doc_open (probe, mapped file) the same refusal
        try {
            registry().open(path);
            FAIL("opened, but must fail");
        } catch (const milo::Error& e) {
            check_refusal(e, f, path);
        }
    }
}
