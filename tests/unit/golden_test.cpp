// Golden files of format version 1: valid documents and their twins in the other formats, and
// files every reader must reject — through the library and through `milo validate`.
#include <dirent.h>
#include <sys/wait.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "milo/milo.hpp"

namespace {

const std::string kGolden = std::string(MILO_SOURCE_DIR) + "/tests/golden/v1";

std::vector<std::string> list(const std::string& dir, const std::string& suffix) {
    std::vector<std::string> out;
    DIR* d = opendir(dir.c_str());
    REQUIRE(d != nullptr);
    while (dirent* e = readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
            out.push_back(n);
    }
    closedir(d);
    std::sort(out.begin(), out.end());
    return out;
}

bool exists(const std::string& path) { return std::ifstream(path).good(); }

}  // namespace

TEST_CASE("valid golden documents load, and their YAML and protobuf twins are identical") {
    milo::Registry reg;
    auto files = list(kGolden, ".json");
    REQUIRE(files.size() >= 6);
    for (const auto& name : files) {
        std::string stem = kGolden + "/" + name.substr(0, name.size() - 5);
        INFO(name);
        milo::Doc doc = reg.load(stem + ".json");
        for (const char* twin : {".yaml", ".pb"}) {
            INFO(twin);
            REQUIRE(exists(stem + twin));
            milo::Doc other = reg.load(stem + twin);
            std::string where;
            INFO(where);
            CHECK(doc.equals(other, &where));
        }
        // the canonical encoding is stable
        std::string once = reg.encode(doc);
        milo::Doc again = reg.decode(once, "json");
        CHECK(doc.equals(again));
        CHECK(reg.encode(again) == once);
    }
}

TEST_CASE("must-fail golden files are rejected with a message naming the place") {
    milo::Registry reg;
    std::vector<std::string> files;
    for (const char* ext : {".json", ".yaml", ".pb"})
        for (auto& n : list(kGolden + "/must_fail", ext)) files.push_back(n);
    REQUIRE(files.size() >= 50);
    for (const auto& name : files) {
        std::string path = kGolden + "/must_fail/" + name;
        INFO(name);
        milo_doc* doc = nullptr;
        milo_error err = MILO_ERROR_INIT;
        milo_status s = milo_doc_load(reg.get(), path.c_str(), nullptr, &doc, &err);
        milo_doc_destroy(doc);
        INFO(milo_status_name(s) << ": " << err.message);
        CHECK((s == MILO_ERR_CORRUPT || s == MILO_ERR_LIMIT || s == MILO_ERR_INTEGRITY));
        std::string m = err.message;
        CHECK(m.find(name) != std::string::npos);  // names the file
        // a byte offset, a document path, or "file:line:column"
        bool place = m.find("byte") != std::string::npos || m.find("/root") != std::string::npos ||
                     m.find("/milo") != std::string::npos ||
                     std::regex_search(m, std::regex(":[0-9]+:[0-9]+:"));
        CHECK(place);
    }
}

TEST_CASE("milo validate exits 3 for every must-fail file and 0 for every golden file") {
    std::string milo = std::string(MILO_BINARY_DIR) + "/bin/milo";
    if (!exists(milo)) {
        WARN("milo tool not built; skipping");
        return;
    }
    auto run = [&](const std::string& file) {
        std::string cmd = "'" + milo + "' validate '" + file + "' >/dev/null 2>&1";
        int rc = std::system(cmd.c_str());
        return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    };
    for (const char* ext : {".json", ".yaml", ".pb"}) {
        for (auto& n : list(kGolden + "/must_fail", ext)) {
            INFO(n);
            CHECK(run(kGolden + "/must_fail/" + n) == 3);
        }
        for (auto& n : list(kGolden, ext)) {
            INFO(n);
            CHECK(run(kGolden + "/" + n) == 0);
        }
    }
}
