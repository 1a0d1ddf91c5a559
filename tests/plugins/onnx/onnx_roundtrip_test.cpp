// Lossless by test: every ONNX model of the corpus is imported by the real plugin, encoded as
// JSON, YAML and protobuf documents (and JSON with external tensors), decoded again, and rebuilt
// into a ModelProto that must equal the original (protobuf message equality, unknown fields
// included, and byte-equal serialization). The corpus folders come from MILO_ONNX_CORPUS
// (colon-separated); every *.onnx below them counts, except under a folder named "bad".
#include <catch2/catch.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "milo/milo.hpp"
#include "onnx_reverse.hpp"

#include "../../test_files.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> models_under(const fs::path& dir) {
    std::vector<fs::path> out;
    for (auto it = fs::recursive_directory_iterator(dir); it != fs::recursive_directory_iterator();
         ++it) {
        if (it->is_directory() && it->path().filename() == "bad") {
            it.disable_recursion_pending();
            continue;
        }
        if (it->is_regular_file() && it->path().extension() == ".onnx") out.push_back(it->path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::vector<std::string> corpus_dirs() {
    std::vector<std::string> dirs;
    const char* env = std::getenv("MILO_ONNX_CORPUS");
    std::stringstream s(env ? env : "");
    for (std::string d; std::getline(s, d, ':');)
        if (!d.empty()) dirs.push_back(d);
    return dirs;
}

}  // namespace

TEST_CASE("every model of the corpus imports and rebuilds an equal ModelProto") {
    milo::Registry reg;
    reg.load_plugin(MILO_PLUGIN_OUTPUT_DIR "/milo_onnx.so");
    milo::onnx_import::Schema schema;
    const std::vector<std::string> dirs = corpus_dirs();
    REQUIRE_FALSE(dirs.empty());
    // one folder per process: the fixture and generated corpora run as parallel CTest tests
    const fs::path tmp = fs::path(MILO_TEST_TMP_DIR) / ("roundtrip-" + std::to_string(::getpid()));
    fs::create_directories(tmp);

    size_t total = 0, checks = 0, lossless = 0;
    std::vector<std::string> failures;
    for (const std::string& dir : dirs) {
        INFO("corpus folder " << dir);
        REQUIRE(fs::is_directory(dir));
        const std::vector<fs::path> models = models_under(dir);
        CHECK(!models.empty());
        size_t passed = 0;
        for (const fs::path& model : models) {
            const std::string bytes = read_file(model);
            auto check = [&](const milo::DocRef& doc, const char* how) {
                ++checks;
                try {
                    auto rebuilt = milo::onnx_test::rebuild_model(schema, doc.root());
                    std::string why = milo::onnx_test::compare_models(schema, bytes, *rebuilt);
                    if (!why.empty()) failures.push_back(model.string() + " [" + how + "]: " + why);
                    return why.empty();
                } catch (const std::exception& e) {
                    failures.push_back(model.string() + " [" + how + "]: " + e.what());
                    return false;
                }
            };
            try {
                milo::Doc doc = reg.decode_native(bytes, "onnx", model.c_str());
                bool ok = check(doc, "imported");
                for (const char* fmt : {"json", "yaml", "pb"}) {
                    milo::SaveOptions o;
                    o.format = fmt;
                    milo::Doc back = reg.decode(reg.encode(doc, o), fmt);
                    ok = check(back, fmt) && ok;
                }
                milo::SaveOptions ext;
                ext.tensors = MILO_TENSORS_EXTERNAL;
                const fs::path out = tmp / "model.json";
                reg.save(doc, out.string(), ext);
                milo::Doc back = reg.load(out.string());
                ok = check(back, "json+external") && ok;
                passed += ok;
                lossless += ok;
            } catch (const std::exception& e) {
                failures.push_back(model.string() + ": " + e.what());
            }
            ++total;
        }
        std::cout << "onnx round trip: " << dir << ": " << passed << "/" << models.size()
                  << " models equal after import and JSON, YAML, protobuf, external-tensor JSON\n";
    }
    fs::remove_all(tmp);
    std::cout << "onnx round trip: " << lossless << " of " << total
              << " models lossless (" << checks << " comparisons)\n";
    for (const auto& f : failures) std::cout << "FAILED " << f << "\n";
    CHECK(failures.empty());
}

namespace {

// The first value of `list` whose state has key `key`, searching depth-first from `v`.
milo::ValueRef find_state_key(milo::ValueRef v, const char* key, int depth = 0) {
    if (!v || depth > 40) return {};
    if (v.is(MILO_KIND_OBJECT)) {
        milo::ValueRef s = v.state();
        if (s && s.is(MILO_KIND_MAP)) {
            if (milo::ValueRef hit = s.find(key)) return s;
            for (size_t i = 0; i < s.size(); ++i)
                if (milo::ValueRef hit = find_state_key(s[i], key, depth + 1)) return hit;
        }
    } else if (v.is(MILO_KIND_LIST)) {
        for (size_t i = 0; i < v.size(); ++i)
            if (milo::ValueRef hit = find_state_key(v[i], key, depth + 1)) return hit;
    }
    return {};
}

size_t key_index(milo::ValueRef map, const char* key) {
    for (size_t i = 0; i < map.size(); ++i)
        if (map.key(i).as_string() == key) return i;
    return map.size();
}

}  // namespace

TEST_CASE("the comparison notices a changed string, a flipped weight bit and a dropped field") {
    milo::Registry reg;
    reg.load_plugin(MILO_PLUGIN_OUTPUT_DIR "/milo_onnx.so");
    milo::onnx_import::Schema schema;
    const std::vector<std::string> dirs = corpus_dirs();
    REQUIRE_FALSE(dirs.empty());
    // a model with nodes whose first initializer holds raw_data
    auto first_initializer = [](milo::ValueRef root) -> milo::ValueRef {
        milo::ValueRef graph = root.state().find("graph");
        if (!graph || !graph.state().find("node")) return {};
        milo::ValueRef inits = graph.state().find("initializer");
        if (!inits || inits.size() == 0) return {};
        milo::ValueRef state = inits[0].state();
        return state.find("raw_data") && state.find("name") ? state : milo::ValueRef();
    };
    std::string bytes;
    milo::Doc doc;
    bool found = false;
    for (const std::string& dir : dirs) {
        for (const fs::path& model : models_under(dir)) {
            bytes = read_file(model);
            doc = reg.decode_native(bytes, "onnx", model.c_str());
            if ((found = bool(first_initializer(doc.root())))) break;
        }
        if (found) break;
    }
    if (!found) {
        WARN("no model with a named raw_data initializer in the corpus");
        return;
    }
    milo::ValueRef tensor_state = first_initializer(doc.root());
    REQUIRE(milo::onnx_test::compare_models(
                schema, bytes, *milo::onnx_test::rebuild_model(schema, doc.root())) == "");

    SECTION("one bit of one weight") {
        milo::ValueRef raw = tensor_state.find("raw_data");
        REQUIRE(raw.is(MILO_KIND_TENSOR));
        REQUIRE(raw.data().second > 0);
        static_cast<uint8_t*>(raw.mutable_data().first)[0] ^= 1;
    }
    SECTION("a string") {
        milo::ValueRef op = find_state_key(doc.root(), "op_type");
        REQUIRE(op);
        op.set_at(key_index(op, "op_type"), doc.string("NotTheOp"));
    }
    SECTION("the tensor name dropped") {
        milo::ValueRef copy = doc.map();
        for (size_t i = 0; i < tensor_state.size(); ++i)
            if (tensor_state.key(i).as_string() != "name")
                doc.put(copy, tensor_state.key(i).as_string(), doc.copy(tensor_state[i]));
        doc.root().state().find("graph").state().find("initializer")[0].set_state(copy);
    }
    CHECK(milo::onnx_test::compare_models(
              schema, bytes, *milo::onnx_test::rebuild_model(schema, doc.root())) != "");
}
