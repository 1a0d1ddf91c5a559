// The README's SDK snippets, compiled and run as written (C part through the C ABI only).
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <string>

#include "milo/milo.h"
#include "milo/milo.hpp"

TEST_CASE("README C snippet: open a native model and save it as a readable document") {
    std::string model = std::string(MILO_SOURCE_DIR) + "/docs/examples/models/iris_mlp.safetensors";
    std::string out = "/tmp/milo-readme-" + std::to_string(::getpid()) + ".milo.json";
    milo_registry* reg = NULL;
    milo_error err = MILO_ERROR_INIT;
    milo_doc* doc = NULL;
    // the bundled plugins come from the default folder beside libmilo
    REQUIRE(milo_registry_create(&reg, &err) == MILO_OK);
    REQUIRE(milo_registry_load_plugins(reg, NULL, &err) == MILO_OK);
    REQUIRE(milo_doc_open(reg, model.c_str(), NULL, &doc, &err) == MILO_OK);
    milo_save_options opts = MILO_SAVE_OPTIONS_INIT;
    opts.tensors = MILO_TENSORS_READABLE;
    REQUIRE(milo_doc_save(reg, doc, out.c_str(), &opts, &err) == MILO_OK);
    milo_doc* back = NULL;
    REQUIRE(milo_doc_load(reg, out.c_str(), NULL, &back, &err) == MILO_OK);
    CHECK(milo_doc_equal(doc, back, NULL, 0));
    milo_doc_destroy(back);
    milo_doc_destroy(doc);
    milo_registry_destroy(reg);
    std::remove(out.c_str());
}

TEST_CASE("README C++ snippet: build, save and load a document") {
    std::string path = "/tmp/milo-readme-" + std::to_string(::getpid()) + "-scorer.yaml";
    milo::Registry reg;
    reg.load_plugins();
    milo::Doc doc;
    auto model = doc.object("acme.Scorer");
    auto state = doc.map();
    auto w = doc.tensor(MILO_DTYPE_FLOAT32, {3});
    float* p = w.mutable_data_as<float>();
    p[0] = 0.5f; p[1] = -1.0f; p[2] = 2.0f;
    doc.put(state, "weights", w);
    model.set_state(state);
    doc.set_root(model);
    reg.save(doc, path);
    milo::Doc back = reg.load(path);
    CHECK(back.equals(doc));
    CHECK(back.root().state().find("weights").data_as<float>()[1] == -1.0f);
    std::remove(path.c_str());
}
