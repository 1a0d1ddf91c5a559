// Loads and unloads every test plugin 1000 times in one process: the good ones (C, C++, the
// template, the frozen-ABI-1 plugin, the scorecard example that delegates to two others, the
// bundled safetensors plugin, and the onnx plugin when it is built) must load and work every time, the broken variants must be
// refused every time, and afterwards no plugin library may remain mapped. Under the sanitizer
// build (ASan + LeakSanitizer) this is the leak and use-after-unload check.
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <milo/milo.h>

#include <fstream>
#include <string>
#include <vector>

#include "../../docs/examples/scorecard/scorecard_model.hpp"

namespace {

struct Plugin {
    bool good;
    std::string path;
};

std::vector<Plugin> plugins() {
    std::ifstream in(MILO_SOAK_PLUGIN_LIST);
    std::vector<Plugin> out;
    std::string kind, path;
    while (in >> kind >> path) out.push_back({kind == "good", path});
    return out;
}

bool is_loaded(const std::string& path) {
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (h != nullptr) dlclose(h);
    return h != nullptr;
}

milo_status write_nothing(void*, const void*, size_t, milo_error*) { return MILO_OK; }

}  // namespace

TEST_CASE("every test plugin loads and unloads 1000 times without a leak", "[abi][soak]") {
    const std::vector<Plugin> all = plugins();
    size_t good = 0;
    for (const Plugin& p : all) good += p.good;
    REQUIRE(good == MILO_SOAK_GOOD_COUNT);
    REQUIRE(all.size() >= 16);

    acme::Scorecard card;
    card.name = "soak";
    card.features = {"a", "b"};
    card.stages = {{{1, 0.5, -1.0, 1.0}}};
    card.components["normalizer"] = {"safetensors", acme::normalizer_bytes({1, 2}, {3, 4})};
    card.components["gate"] = {"acmescore", acme::gate_bytes("g", {0.5, {1.0, -1.0}})};
    const std::string native = acme::to_native(card);
    const std::string scorer = acme::gate_bytes("s", {0.25, {1.0, 2.0, 3.0}});
    // ModelProto{ir_version: 8, producer_name: "soak"}: exercises the onnx plugin when present
    const std::string onnx_model("\x08\x08\x12\x04soak", 8);
    bool have_onnx = false;
    for (const Plugin& p : all) have_onnx = have_onnx || p.path.find("milo_onnx.so") != std::string::npos;

    for (int i = 0; i < 1000; ++i) {
        milo_registry* reg = nullptr;
        REQUIRE(milo_registry_create(&reg, nullptr) == MILO_OK);
        for (const Plugin& p : all) {
            milo_error error = MILO_ERROR_INIT;
            const milo_status st = milo_registry_load_plugin(reg, p.path.c_str(), &error);
            if ((st == MILO_OK) != p.good) {
                milo_registry_destroy(reg);
                FAIL("iteration " << i << ": " << p.path << ": " << milo_status_name(st) << " "
                                  << error.message);
            }
        }
        // Use them: the scorecard delegates to safetensors and acme.scorer on the way in and
        // out; acme.scorer and the frozen plugin decode their own inputs.
        const struct {
            const char* id;
            std::string bytes;
        } inputs[] = {{"acme.scorecard", native}, {"acme.scorer", scorer},
                      {"frozen.abi1", "FROZEN1\nsoak"}, {"onnx", onnx_model}};
        for (const auto& in : inputs) {
            if (std::string(in.id) == "onnx" && !have_onnx) continue;
            milo_doc* doc = nullptr;
            milo_error error = MILO_ERROR_INIT;
            milo_status st = milo_registry_decode_native(
                reg, in.id, reinterpret_cast<const uint8_t*>(in.bytes.data()), in.bytes.size(),
                nullptr, &doc, &error);
            milo_save_options o = MILO_SAVE_OPTIONS_INIT;
            if (st == MILO_OK) st = milo_doc_encode(reg, doc, &o, write_nothing, nullptr, &error);
            milo_doc_destroy(doc);
            if (st != MILO_OK) {
                milo_registry_destroy(reg);
                FAIL("iteration " << i << ": " << in.id << ": " << error.message);
            }
        }
        milo_registry_destroy(reg);
    }
    for (const Plugin& p : all) {
        INFO(p.path);
        CHECK_FALSE(is_loaded(p.path));
    }
}
