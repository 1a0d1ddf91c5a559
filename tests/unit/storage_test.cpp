// Saving and loading files: every format × tensor mode, the safetensors sidecar (zero-copy,
// verified), atomic writes, and the errors of a damaged or escaping sidecar.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "milo/milo.hpp"

namespace {

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/milo-storage-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        path = tmpl;
    }
    ~TempDir() { std::system(("rm -rf '" + path + "'").c_str()); }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
    std::vector<std::string> files() const {
        std::vector<std::string> out;
        DIR* d = opendir(path.c_str());
        while (dirent* e = readdir(d))
            if (e->d_name[0] != '.') out.push_back(e->d_name);
        closedir(d);
        std::sort(out.begin(), out.end());
        return out;
    }
};

std::string slurp(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

void spit(const std::string& path, const std::string& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << bytes;
}

// A model-like document: an object with a big float32 weight, a small int64 buffer, a float16
// tensor, a complex128 tensor (no safetensors code: stays inline) and a shared tensor.
void build_model(milo::Doc& doc) {
    doc.set_header("framework.name", "test");
    doc.set_header("type", "test.Model");
    auto obj = doc.object("test.Model");
    auto state = doc.map();
    auto w = doc.tensor(MILO_DTYPE_FLOAT32, {256, 300});
    float* wp = w.mutable_data_as<float>();
    for (int i = 0; i < 256 * 300; ++i) wp[i] = static_cast<float>(i) * 0.25f - 7.f;
    doc.put(state, "weight", w);
    auto b = doc.tensor(MILO_DTYPE_INT64, {3});
    int64_t* bp = b.mutable_data_as<int64_t>();
    bp[0] = INT64_MIN;
    bp[1] = 0;
    bp[2] = INT64_MAX;
    doc.put(state, "steps", b);
    auto h = doc.tensor(MILO_DTYPE_FLOAT16, {4});
    uint16_t* hp = h.mutable_data_as<uint16_t>();
    hp[0] = 0x3c00;
    hp[1] = 0x7e01;  // NaN with payload
    hp[2] = 0x8000;
    hp[3] = 0x0001;
    doc.put(state, "half", h);
    auto c = doc.tensor(MILO_DTYPE_COMPLEX128, {1});
    double* cp = c.mutable_data_as<double>();
    cp[0] = 1.5;
    cp[1] = -2.5;
    doc.put(state, "phase", c);
    doc.put(state, "tied", w);  // shared: written once
    obj.set_state(state);
    doc.set_root(obj);
}

milo::SaveOptions mode(const char* format, int32_t tensors) {
    milo::SaveOptions o;
    o.format = format;
    o.tensors = tensors;
    return o;
}

}  // namespace

TEST_CASE("save and load in every format and tensor mode") {
    milo::Registry reg;
    milo::Doc doc;
    build_model(doc);
    const char* exts[][2] = {{"json", ".json"}, {"yaml", ".yaml"}, {"pb", ".pb"}};
    const int32_t modes[] = {MILO_TENSORS_AUTO, MILO_TENSORS_READABLE, MILO_TENSORS_COMPACT,
                             MILO_TENSORS_EXTERNAL};
    for (auto& fe : exts) {
        for (int32_t m : modes) {
            TempDir dir;
            std::string path = dir / (std::string("model") + fe[1]);
            INFO(fe[0] << " mode " << m);
            milo::SaveOptions o;  // format from the extension
            o.tensors = m;
            reg.save(doc, path, o);
            milo::Doc back = reg.load(path);
            std::string where;
            INFO(where);
            CHECK(doc.equals(back, &where));
            auto files = dir.files();
            if (m == MILO_TENSORS_EXTERNAL) {
                REQUIRE(files.size() == 2);
                CHECK(std::count(files.begin(), files.end(), "model.safetensors") == 1);
                CHECK(back.header("external.file") == "model.safetensors");
                CHECK(back.header("external.sha256").size() == 64);
            } else {
                CHECK(files.size() == 1);  // no sidecar, no temporary file left behind
            }
        }
    }
}

TEST_CASE("the external sidecar is a safetensors file, mapped without a copy") {
    milo::Registry reg;
    milo::Doc doc;
    build_model(doc);
    TempDir dir;
    reg.save(doc, dir / "m.json", mode("json", MILO_TENSORS_EXTERNAL));
    std::string side = slurp(dir / "m.safetensors");
    REQUIRE(side.size() > 8);
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(static_cast<uint8_t>(side[i])) << (8 * i);
    REQUIRE(n % 8 == 0);
    auto header = nlohmann::json::parse(side.substr(8, n));
    CHECK(header["state.weight"]["dtype"] == "F32");
    CHECK(header["state.weight"]["shape"] == nlohmann::json::array({256, 300}));
    CHECK(header["state.steps"]["dtype"] == "I64");
    CHECK(header["state.half"]["dtype"] == "F16");
    CHECK(header.find("state.phase") == header.end());  // complex128 stays inline
    CHECK(header.find("state.tied") == header.end());   // shared tensor stored once
    auto off = header["state.weight"]["data_offsets"];
    CHECK(off[1].get<uint64_t>() - off[0].get<uint64_t>() == 256 * 300 * 4);

    milo::Doc back = reg.load(dir / "m.json");
    auto w = back.root().state().find("weight");
    const void* p = w.data().first;
    // the tensor points into a read-only file mapping of m.safetensors, not into the heap
    std::ifstream maps("/proc/self/maps");
    std::string line;
    bool inside = false;
    while (std::getline(maps, line)) {
        if (line.find("m.safetensors") == std::string::npos) continue;
        unsigned long lo = 0, hi = 0;
        std::sscanf(line.c_str(), "%lx-%lx", &lo, &hi);
        auto a = reinterpret_cast<uintptr_t>(p);
        if (a >= lo && a < hi) inside = true;
    }
    CHECK(inside);
    CHECK(w.data_as<float>()[5] == 5 * 0.25f - 7.f);
    CHECK(back.root().state().find("tied") == w);
}

TEST_CASE("a damaged or escaping sidecar is refused with a precise error") {
    milo::Registry reg;
    milo::Doc doc;
    build_model(doc);
    TempDir dir;
    std::string path = dir / "m.json";
    reg.save(doc, path, mode("json", MILO_TENSORS_EXTERNAL));
    std::string side = slurp(dir / "m.safetensors");
    std::string text = slurp(path);

    auto expect_fail = [&](milo_status code, const char* needle) {
        try {
            reg.load(path);
            FAIL("load succeeded");
        } catch (const milo::Error& e) {
            INFO(e.what());
            CHECK(e.code() == code);
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
    };
    // one flipped byte in the data: sha256 mismatch
    std::string bad = side;
    bad[bad.size() - 3] ^= 1;
    spit(dir / "m.safetensors", bad);
    expect_fail(MILO_ERR_INTEGRITY, "sha256");
    // skipping verification still checks structure, and gives the flipped value
    {
        milo_load_options o = MILO_LOAD_OPTIONS_INIT;
        o.flags = MILO_LOAD_NO_VERIFY;
        milo_doc* d = nullptr;
        REQUIRE(milo_doc_load(reg.get(), path.c_str(), &o, &d, nullptr) == MILO_OK);
        milo_doc_destroy(d);
    }
    // missing sidecar
    std::remove((dir / "m.safetensors").c_str());
    expect_fail(MILO_ERR_NOT_FOUND, "m.safetensors");
    spit(dir / "m.safetensors", side);
    // a header that points outside the document's folder
    std::string escaped = text;
    size_t at = escaped.find("\"m.safetensors\"");
    REQUIRE(at != std::string::npos);
    escaped.replace(at, 15, "\"../m.safetensors\"");
    spit(path, escaped);
    expect_fail(MILO_ERR_CORRUPT, "no '/'");
    // decoding from memory cannot reach a sidecar
    try {
        reg.decode(text, "json");
        FAIL("decode succeeded");
    } catch (const milo::Error& e) {
        CHECK(e.code() == MILO_ERR_UNSUPPORTED);
    }
}

TEST_CASE("a failed save leaves the previous file untouched") {
    milo::Registry reg;
    milo::Doc doc;
    build_model(doc);
    TempDir dir;
    std::string path = dir / "m.json";
    spit(path, "previous");
    milo::SaveOptions o = mode("nope", MILO_TENSORS_AUTO);
    CHECK_THROWS_AS(reg.save(doc, path, o), milo::Error);
    CHECK(slurp(path) == "previous");
    CHECK(dir.files().size() == 1);
    // and a save into a missing folder fails cleanly
    try {
        reg.save(doc, dir / "missing/m.json");
        FAIL("saved into a missing folder");
    } catch (const milo::Error& e) {
        CHECK(e.code() == MILO_ERR_IO);
    }
}

TEST_CASE("formats are found by id, extension and content") {
    milo::Registry reg;
    CHECK(milo_registry_find_format(reg.get(), "json") != nullptr);
    CHECK(milo_registry_find_format(reg.get(), "yaml") != nullptr);
    CHECK(milo_registry_find_format(reg.get(), "pb") != nullptr);
    CHECK(std::string(milo_registry_find_format_for_path(reg.get(), "A.JSON")->id) == "json");
    CHECK(std::string(milo_registry_find_format_for_path(reg.get(), "a.yml")->id) == "yaml");
    milo::Doc doc;
    build_model(doc);
    for (const char* f : {"json", "yaml", "pb"}) {
        std::string bytes = reg.encode(doc, mode(f, MILO_TENSORS_COMPACT));
        auto* found = milo_registry_find_format_for_content(
            reg.get(), reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
        REQUIRE(found != nullptr);
        CHECK(std::string(found->id) == f);
        milo::Doc back = reg.decode(bytes);  // detected by content
        CHECK(doc.equals(back));
    }
}
