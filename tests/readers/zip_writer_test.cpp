// The zip writer (milo/readers/zip_writer.hpp): archives torch.save wrote (make_torch_zips.py,
// run at build time) rewritten entry by entry come out byte-identical; everything it writes
// reads back through ZipReader with 64-byte-aligned data, in the zip64 layout too; bad names
// are refused before anything is written. The archives of the "Python's zipfile" case are
// checked again by zip_writer_check.py (test zip_writer_zipfile).
#include "milo/readers/zip_writer.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../test_files.hpp"
#include "milo/readers/zip_reader.hpp"

using Catch::Matchers::Contains;
using milo::readers::ZipEntry;
using milo::readers::ZipReader;
using milo::readers::ZipWriter;
using milo::readers::ZipWriterOptions;

namespace {

using Entries = std::vector<std::pair<std::string, std::string>>;

std::string write_zip(const Entries& entries, ZipWriterOptions options = {}) {
    std::string out;
    ZipWriter w([&](const char* p, size_t n) { out.append(p, n); }, options);
    for (const auto& [name, data] : entries) w.add(name, data);
    w.finish();
    CHECK(w.size() == out.size());
    return out;
}

// Reads `zip` back and checks every entry against `entries` and the alignment.
void check_read_back(const std::string& zip, const Entries& entries, uint64_t alignment) {
    ZipReader r(reinterpret_cast<const uint8_t*>(zip.data()), zip.size());
    CHECK(r.archive_offset() == 0);
    REQUIRE(r.entries().size() == entries.size());
    for (size_t i = 0; i < entries.size(); ++i) {
        const ZipEntry& e = r.entries()[i];
        INFO(e.name);
        CHECK(e.name == entries[i].first);
        CHECK(e.method == 0);
        CHECK(e.size == entries[i].second.size());
        CHECK(e.data_offset % alignment == 0);
        CHECK(r.view(e) == entries[i].second);
    }
}

Entries sample_entries() {
    Entries entries;
    for (size_t n : {0, 1, 3, 59, 60, 63, 64, 65, 200, 5000}) {
        std::string data;
        for (size_t i = 0; i < n; ++i) data.push_back(char((i * 7 + n) & 0xFF));
        entries.emplace_back("archive/data/" + std::to_string(n), data);
    }
    entries.emplace_back("archive/version", "3\n");
    return entries;
}

}  // namespace

TEST_CASE("torch.save archives rewritten entry by entry are byte-identical") {
    std::istringstream list(read_file(std::string(MILO_TORCH_ZIPS_DIR) + "/list.txt"));
    int files = 0;
    for (std::string name; std::getline(list, name);) {
        INFO(name);
        const std::string original = read_file(std::string(MILO_TORCH_ZIPS_DIR) + "/" + name);
        ZipReader r(reinterpret_cast<const uint8_t*>(original.data()), original.size());
        Entries entries;
        for (const ZipEntry& e : r.entries()) entries.emplace_back(e.name, std::string(r.view(e)));
        CHECK(write_zip(entries) == original);
        ++files;
    }
    if (files == 0)
        WARN("no torch for make_torch_zips.py: nothing compared (scripts/deps.sh)");
    else
        CHECK(files == 4);
}

TEST_CASE("written archives read back with aligned data") {
    const Entries entries = sample_entries();
    for (uint64_t alignment : {1, 64, 4096}) {
        INFO("alignment " << alignment);
        ZipWriterOptions o;
        o.alignment = alignment;
        check_read_back(write_zip(entries, o), entries, alignment);
    }
    check_read_back(write_zip({}), {}, 1);
}

TEST_CASE("zip64 fields read back, and Python's zipfile gets the same archives") {
    const Entries entries = sample_entries();
    nlohmann::json manifest = nlohmann::json::object();
    for (uint64_t threshold : {uint64_t(0), uint64_t(64), uint64_t(1000), uint64_t(0xFFFFFFFF)}) {
        INFO("zip64 from " << threshold);
        ZipWriterOptions o;
        o.zip64_threshold = threshold;
        const std::string zip = write_zip(entries, o);
        check_read_back(zip, entries, 64);
        const std::string file = "zip64_from_" + std::to_string(threshold) + ".zip";
        write_file(std::string(MILO_ZIP_WRITER_OUT) + "/" + file, zip);
        nlohmann::json& want = manifest[file];
        for (const auto& [name, data] : entries) {
            std::string hex;
            for (unsigned char c : data) {
                hex += "0123456789abcdef"[c >> 4];
                hex += "0123456789abcdef"[c & 15];
            }
            want.push_back({name, hex});
        }
    }
    write_file(std::string(MILO_ZIP_WRITER_OUT) + "/manifest.json", manifest.dump());
}

TEST_CASE("bad entry names are refused before anything is written") {
    std::string out;
    ZipWriter w([&](const char* p, size_t n) { out.append(p, n); });
    w.add("archive/a", "x");
    const size_t written = out.size();
    const std::pair<std::string, const char*> bad[] = {
        {"", "empty"},
        {"/archive/b", "absolute"},
        {"archive/../b", "\"..\" component"},
        {"archive//b", "empty, \".\" or \"..\" component"},
        {"archive/./b", "\".\""},
        {"archive/", "component"},
        {"archive\\b", "backslash"},
        {std::string("archive/b\0c", 11), "NUL byte"},
        {std::string(70000, 'a'), "longer than 65535 bytes"},
        {"archive/a", "duplicate"},
    };
    for (const auto& [name, why] : bad) {
        INFO(name.substr(0, 40));
        try {
            w.add(name, "y");
            FAIL("accepted");
        } catch (const std::invalid_argument& e) {
            CHECK_THAT(e.what(), Contains(why));
        }
        CHECK(out.size() == written);
    }
    w.finish();
    CHECK_THROWS_AS(w.add("archive/c", "z"), std::logic_error);
    CHECK_THROWS_AS(w.finish(), std::logic_error);
    check_read_back(out, {{"archive/a", "x"}}, 64);
}
