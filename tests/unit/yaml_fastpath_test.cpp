// The YAML adapter's fast reader of the canonical subset (yaml_fast_tree.cpp) against the
// yaml-cpp reader: the same documents, the same refusals with the same status codes.
// MILO_YAML_FASTPATH=0 forces yaml-cpp; =only makes the fast reader's refusal an error, to
// check that it really reads what the encoder writes.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "doc_generator.hpp"
#include "milo/milo.hpp"

#include "../test_files.hpp"

namespace {

const std::string kGolden = std::string(MILO_SOURCE_DIR) + "/tests/golden/v1";

struct Outcome {
    milo_status status = MILO_OK;
    std::string message;
    milo::Doc doc;
};

Outcome load(const milo::Registry& reg, const std::string& bytes, const char* mode) {
    if (mode == nullptr) unsetenv("MILO_YAML_FASTPATH");
    else setenv("MILO_YAML_FASTPATH", mode, 1);
    Outcome o;
    try {
        o.doc = reg.decode(bytes, "yaml");
    } catch (const milo::Error& e) {
        o.status = e.code();
        o.message = e.what();
    }
    unsetenv("MILO_YAML_FASTPATH");
    return o;
}

// Both readers agree: same status, and equal documents on success.
void same(const milo::Registry& reg, const std::string& bytes) {
    Outcome fast = load(reg, bytes, nullptr);
    Outcome slow = load(reg, bytes, "0");
    INFO("input:\n" << bytes.substr(0, 2000));
    INFO("fast: " << fast.message << "\nslow: " << slow.message);
    REQUIRE(fast.status == slow.status);
    if (fast.status == MILO_OK) {
        std::string where;
        bool eq = fast.doc.equals(slow.doc, &where);
        INFO("first difference: " << where);
        REQUIRE(eq);
    }
}

// The fast reader itself reads `bytes` (and agrees with yaml-cpp).
void fast_reads(const milo::Registry& reg, const std::string& bytes) {
    Outcome only = load(reg, bytes, "only");
    INFO("input:\n" << bytes.substr(0, 2000));
    INFO(only.message);
    REQUIRE(only.status == MILO_OK);
    same(reg, bytes);
}

std::vector<std::string> yaml_files(const std::string& dir) {
    std::vector<std::string> out;
    if (DIR* d = opendir(dir.c_str())) {
        while (dirent* e = readdir(d)) {
            std::string n = e->d_name;
            if (n.size() > 5 && n.substr(n.size() - 5) == ".yaml") out.push_back(dir + "/" + n);
        }
        closedir(d);
    }
    return out;
}

milo::SaveOptions opts(int32_t tensors, int32_t indent) {
    milo::SaveOptions o;
    o.format = "yaml";
    o.tensors = tensors;
    o.indent = indent;
    return o;
}

const char* kHeader = "\"milo\":\n  \"format_version\": 1\n";

}  // namespace

TEST_CASE("fast YAML reader: generated documents, every mode and indent") {
    milo::Registry reg;
    const int32_t modes[] = {MILO_TENSORS_READABLE, MILO_TENSORS_COMPACT};
    const int32_t indents[] = {0, 2, 4};
    for (int i = 0; i < 300; ++i) {
        milo::Doc doc;
        milo::test::DocGenerator gen(0x5eed0000u + static_cast<uint64_t>(i));
        gen.fill(doc);
        for (int32_t mode : modes)
            for (int32_t indent : indents) {
                INFO("seed " << i << " mode " << mode << " indent " << indent);
                std::string bytes = reg.encode(doc, opts(mode, indent));
                fast_reads(reg, bytes);
                Outcome o = load(reg, bytes, nullptr);
                std::string where;
                REQUIRE(doc.equals(o.doc, &where));
            }
    }
}

TEST_CASE("fast YAML reader: golden files and must-fail files") {
    milo::Registry reg;
    std::vector<std::string> good = yaml_files(kGolden);
    REQUIRE(!good.empty());
    for (const std::string& f : good) {
        INFO(f);
        fast_reads(reg, read_file(f));
    }
    std::vector<std::string> bad = yaml_files(kGolden + "/must_fail");
    REQUIRE(!bad.empty());
    for (const std::string& f : bad) {
        INFO(f);
        std::string bytes = read_file(f);
        same(reg, bytes);
        REQUIRE(load(reg, bytes, nullptr).status != MILO_OK);
    }
    for (const std::string& f : yaml_files(std::string(MILO_SOURCE_DIR) + "/tests/fuzz/corpus/yaml")) {
        INFO(f);
        same(reg, read_file(f));
    }
}

TEST_CASE("fast YAML reader: hand-written canonical variants and errors") {
    milo::Registry reg;
    const std::string h = kHeader;
    const std::vector<std::string> docs = {
        // accepted variants
        "# comment\n---\n" + h + "\"root\": 1 # trailing\n\n# end\n",
        h + "\"root\":\n  - 1\n  -   \"a\\t\\\"b\\\\\\n\\x01\\u00e9\\u2028\"\n  - null\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"float64\"\n    \"shape\": [2]\n"
            "    \"data\": [1.5, {\"$float\": \"nan\"}]\n",
        h + "\"root\":\n  \"$tensor\":\n    \"data\": [1, 2, 3]\n    \"shape\": [3]\n"
            "    \"dtype\": \"int8\"\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"uint8\"\n    \"shape\": [3]\n"
            "    \"base64\": \"AQID\"\n",
        h + "\"root\":\n  - [1, [2, \"x\"], {\"a\": 1}]\n  - []\n  - {}\n",
        h + "\"root\":\n  \"$object\": \"m.C\"\n  \"state\": 1\n  \"args\": [1]\n",
        h + "\"root\":\n  -\n    \"k\": 1\n  - - 1\n    - 2\n",
        h + "\"root\": \"\\u00e9\xc3\xa9\"\n",
        // errors found inside the fast path
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"float64\"\n    \"shape\": [3]\n"
            "    \"data\": [1, 2]\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"float64\"\n    \"shape\": [2]\n"
            "    \"data\": [1, x]\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"int8\"\n    \"shape\": [2]\n"
            "    \"data\": [1, 300]\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"float16\"\n    \"shape\": [1]\n"
            "    \"data\": [0.1]\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"bool\"\n    \"shape\": [1]\n"
            "    \"data\": [1]\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"uint8\"\n    \"shape\": [3]\n"
            "    \"base64\": \"AQI=\"\n",
        h + "\"root\":\n  \"$tensor\":\n    \"dtype\": \"uint8\"\n    \"shape\": [3]\n"
            "    \"base64\": \"AQ*D\"\n",
        h + "\"root\":\n  \"a\": 1\n  \"a\": 2\n",
        h + "\"root\":\n  \"$nope\": 1\n",
        h + "\"root\": \"\\ud800\"\n",
        h + "\"root\": \"\\x00\"\n",
        h + "\"root\": Null\n",
        h + "\"root\": [Null]\n",
        h + "\"root\": [-]\n",
        h + "\"root\":\n",
        h + "\"root\":\n\"x\": 1\n",
        h + "\"root\": 1\n---\n\"milo\": 1\n",
        h + "\"root\": 1\n...\n",
        h + "\"root\": [1,]\n",
        h + "\"root\": [1 2]\n",
        h + "\"root\": [\"a\": 1]\n",
        h + "\"root\": \"a\": 1\n",
        h + "\"root\":\n  - 1\n   - 2\n",
        h + "\"root\":\n  - 1\n - 2\n",
        h + "\"root\":\t1\n",
        h + "\"root\": 1\r\n",
        h + "\"root\": [1,\n  2]\n",
        h + "\"root\": \"a\n  b\"\n",
        h + "\"root\": 'a'\n",
        h + "\"root\": 1#c\n",
        "\"milo\": {\"format_version\": 1}\n\"root\": 1\n",
        "milo:\n  format_version: 1\n",
    };
    for (const std::string& d : docs) same(reg, d);
    // the switch works: hand-written YAML outside the subset is not read by the fast reader
    std::string folded = h + "\"root\": \"a\n  b\"\n";
    REQUIRE(load(reg, folded, "only").status == MILO_ERR_UNSUPPORTED);
    REQUIRE(load(reg, folded, nullptr).status == MILO_OK);
    fast_reads(reg, docs[0]);
    fast_reads(reg, docs[2]);
    // nesting limits: the fast reader leaves the limit errors to yaml-cpp's path
    std::string deep = h + "\"root\": " + std::string(600, '[') + std::string(600, ']') + "\n";
    same(reg, deep);
    std::string deep_block = h + "\"root\":\n";
    for (int i = 0; i < 495; ++i) deep_block += std::string(size_t(2 + 2 * i), ' ') + "-\n";
    deep_block += std::string(2 + 2 * 495, ' ') + "1\n";
    same(reg, deep_block);
}

TEST_CASE("fast YAML reader: mutated documents get the same answer from both readers") {
    milo::Registry reg;
    std::mt19937_64 rng(42);
    const char alphabet[] = " \n-:[]{},\"#\\xu0aN.\t";
    int mutated = 0;
    for (int i = 0; i < 400; ++i) {
        milo::Doc doc;
        milo::test::DocGenerator gen(0xbad0000u + static_cast<uint64_t>(i));
        gen.fill(doc);
        std::string base = reg.encode(doc, opts(i % 2 ? MILO_TENSORS_COMPACT : MILO_TENSORS_READABLE, 2));
        if (base.size() > 20000) continue;
        for (int m = 0; m < 40; ++m) {
            std::string s = base;
            int edits = 1 + int(rng() % 3);
            for (int e = 0; e < edits && !s.empty(); ++e) {
                size_t at = rng() % s.size();
                char c = alphabet[rng() % (sizeof alphabet - 1)];
                switch (rng() % 3) {
                    case 0: s.erase(at, 1); break;
                    case 1: s.insert(at, 1, c); break;
                    default: s[at] = c; break;
                }
            }
            same(reg, s);
            ++mutated;
        }
    }
    REQUIRE(mutated > 1000);
}
