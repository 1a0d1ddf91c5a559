// The strict zip reader (milo/readers/zip_reader.hpp) against archives written by CPython's
// zipfile and in PyTorch's layout (make_archives.py, run at build time; manifest.json is
// zipfile's own reading of each archive, with absolute offsets). Every refusal is pinned to its
// byte offset and reason; damaged archives are real ones with a few bytes patched.
#include "milo/readers/zip_reader.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../test_files.hpp"
#include "archive_cases.hpp"

using Catch::Matchers::Contains;
using milo::readers::ZipEntry;
using milo::readers::ZipError;
using milo::readers::ZipLimits;
using milo::readers::ZipReader;
using nlohmann::json;

namespace {


const json& archive(const std::string& name) { return manifest()["archives"].at(name); }

// The manifest entry named `name` of archive `zip`.
const json& entry(const std::string& zip, const std::string& name) {
    for (const json& e : archive(zip)["entries"])
        if (e["name"] == name) return e;
    FAIL("no entry " << name << " in " << zip);
    static const json none;
    return none;  // not reached: FAIL throws
}

const uint8_t* u8(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

void put16(std::string& s, uint64_t at, uint16_t v) {
    REQUIRE(at + 2 <= s.size());
    for (int i = 0; i < 2; ++i) s[at + i] = char(v >> (8 * i));
}
void put32(std::string& s, uint64_t at, uint32_t v) {
    REQUIRE(at + 4 <= s.size());
    for (int i = 0; i < 4; ++i) s[at + i] = char(v >> (8 * i));
}
void put64(std::string& s, uint64_t at, uint64_t v) {
    REQUIRE(at + 8 <= s.size());
    for (int i = 0; i < 8; ++i) s[at + i] = char(v >> (8 * i));
}
uint16_t get16(const std::string& s, uint64_t at) {
    return uint16_t(uint8_t(s[at]) | uint8_t(s[at + 1]) << 8);
}
uint32_t get32(const std::string& s, uint64_t at) {
    return get16(s, at) | uint32_t(get16(s, at + 2)) << 16;
}
uint64_t get64(const std::string& s, uint64_t at) {
    return get32(s, at) | uint64_t(get32(s, at + 4)) << 32;
}

// The refusal of opening `bytes`; fails the test when it opens.
ZipError open_refusal(const std::string& bytes, const ZipLimits& limits = {}) {
    try {
        ZipReader r(u8(bytes), bytes.size(), limits);
        FAIL("opened with " << r.entries().size() << " entries");
    } catch (const ZipError& e) {
        return e;
    }
    return ZipError(0, "not reached");  // FAIL throws
}

// The refusal of `f`; fails the test when it returns.
ZipError refusal(const std::function<void()>& f) {
    try {
        f();
        FAIL("no error");
    } catch (const ZipError& e) {
        return e;
    }
    return ZipError(0, "not reached");  // FAIL throws
}

#define CHECK_REFUSAL(err, at, text)           \
    do {                                       \
        const ZipError& e_ = (err);            \
        CHECK(e_.offset() == uint64_t(at));    \
        CHECK_THAT(e_.what(), Contains(text)); \
    } while (0)

// Archives zipfile must read and so must we; the others are refused by design.
const char* const kReadable[] = {"basic.zip",         "prefixed.zip",       "prefixed_absolute.zip",
                                 "empty.zip",         "empty_prefixed.zip", "comment.zip",
                                 "zip64_forced.zip",  "descriptor.zip",     "torch_layout.pt",
                                 "torch_prefixed.pt", "torch_absolute.pt",  "torch_zip64.pt"};

}  // namespace

TEST_CASE("archives zipfile wrote read back exactly as zipfile reads them") {
    int entries = 0;
    for (const char* name : kReadable) {
        INFO(name);
        const json& a = archive(name);
        const std::string bytes = load(name);
        ZipReader r(u8(bytes), bytes.size());
        CHECK(r.archive_offset() == a["base"].get<uint64_t>());
        REQUIRE(r.entries().size() == a["entries"].size());
        for (size_t i = 0; i < r.entries().size(); ++i) {
            const ZipEntry& e = r.entries()[i];
            const json& want = a["entries"][i];
            INFO(want["name"].get<std::string>());
            CHECK(e.name == want["name"]);
            CHECK(e.method == want["method"]);
            CHECK(e.compressed_size == want["csize"]);
            CHECK(e.size == want["size"]);
            CHECK(e.crc32 == want["crc"]);
            CHECK(e.header_offset == want["header_offset"]);
            CHECK(e.data_offset == want["data_offset"]);
            CHECK(r.find(e.name) == &e);
            const std::string content = load(want["content"]);
            CHECK(r.read(e) == content);
            if (e.method == 0) {  // a view into the input itself, no copy
                const std::string_view v = r.view(e);
                CHECK(v == content);
                CHECK(reinterpret_cast<const uint8_t*>(v.data()) == u8(bytes) + e.data_offset);
            }
            ++entries;
        }
        CHECK(r.find("not/there") == nullptr);
        CHECK(r.find("") == nullptr);
    }
    CHECK(entries >= 40);
}

TEST_CASE("PyTorch's layout: stored entries aligned to 64 bytes through FB extra fields") {
    for (const char* name :
         {"torch_layout.pt", "torch_prefixed.pt", "torch_absolute.pt", "torch_zip64.pt"}) {
        INFO(name);
        const std::string bytes = load(name);
        ZipReader r(u8(bytes), bytes.size());
        REQUIRE(r.entries().size() == 9);
        for (const ZipEntry& e : r.entries()) {
            INFO(e.name);
            CHECK(e.method == 0);
            CHECK((e.data_offset - r.archive_offset()) % 64 == 0);  // aligned in the archive
            // the padding field, after a zip64 field when there is one
            CHECK(bytes.find("FB", e.header_offset + 30 + e.name.size()) <
                  e.header_offset + 30 + e.name.size() + 24);
        }
        const ZipEntry* pkl = r.find("archive/data.pkl");
        REQUIRE(pkl != nullptr);
        CHECK(uint8_t(r.view(*pkl)[0]) == 0x80);  // PROTO 2
        CHECK(r.view(*pkl)[1] == 2);
        REQUIRE(r.find("archive/byteorder") != nullptr);
        CHECK(r.view(*r.find("archive/byteorder")) == "little");
    }
    // the end record holds real values beside the zip64 record (as miniz writes them)
    const std::string bytes = load("torch_layout.pt");
    const uint64_t eocd = archive("torch_layout.pt")["eocd"];
    CHECK(get32(bytes, eocd - 20) == 0x07064b50);
    CHECK(get16(bytes, eocd + 10) == 9);
}

TEST_CASE("65,537 entries: the count comes from the zip64 end record") {
    const std::string bytes = load("many.zip");
    const json& a = archive("many.zip");
    const uint64_t eocd = a["eocd"];
    CHECK(get16(bytes, eocd + 10) == 0xFFFF);  // the end record's count is saturated
    ZipReader r(u8(bytes), bytes.size());
    REQUIRE(r.entries().size() == 65537);
    char name[32];
    for (size_t i = 0; i < r.entries().size(); ++i) {
        std::snprintf(name, sizeof name, "e/%05zu", i);
        const ZipEntry& e = r.entries()[i];
        if (e.name != name || r.read(e) != std::to_string(i) || r.find(name) != &e) {
            FAIL_CHECK("entry " << i << ": " << e.name);
            break;
        }
    }
}

TEST_CASE("empty archives, with and without a prefix") {
    for (const char* name : {"empty.zip", "empty_prefixed.zip"}) {
        const std::string bytes = load(name);
        ZipReader r(u8(bytes), bytes.size());
        CHECK(r.entries().empty());
        CHECK(r.archive_offset() == archive(name)["base"].get<uint64_t>());
    }
}

TEST_CASE("names: duplicate, absolute, '..', backslash, NUL, invalid UTF-8") {
    const auto name_at = [](const std::string& zip, size_t i) {
        return archive(zip)["entries"][i]["central_offset"].get<uint64_t>() + 46;
    };
    CHECK_REFUSAL(open_refusal(load("dup.zip")), name_at("dup.zip", 2),
                  "duplicate entry name \"a.txt\"");
    CHECK_REFUSAL(open_refusal(load("absolute.zip")), name_at("absolute.zip", 1),
                  "entry \"/etc/passwd\": an absolute name");
    CHECK_REFUSAL(open_refusal(load("dotdot.zip")), name_at("dotdot.zip", 0),
                  "a \"..\" component in the name");
    CHECK_REFUSAL(open_refusal(load("backslash.zip")), name_at("backslash.zip", 0),
                  "a backslash in the name");

    // patched into readme.txt's central and local names
    const json& readme = entry("basic.zip", "readme.txt");
    const uint64_t central = readme["central_offset"].get<uint64_t>() + 46;
    const uint64_t local = readme["header_offset"].get<uint64_t>() + 30;
    const std::pair<std::string, const char*> bad[] = {
        {std::string("read\0e.txt", 10), "a NUL byte in the name"},
        {"read\xff"
         "e.txt",
         "not valid UTF-8"},
        {"read\xc0\xae.txt", "not valid UTF-8"},  // overlong '.'
        {"C:readme.t", "a drive letter"},
        {"a/../b.txt", "a \"..\" component"},
        {"/readme.tx", "an absolute name"}};
    for (const auto& [name, why] : bad) {
        REQUIRE(name.size() == 10);
        std::string bytes = load("basic.zip");
        bytes.replace(central, 10, name);
        bytes.replace(local, 10, name);
        CHECK_REFUSAL(open_refusal(bytes), central, why);
    }
    // messages show such bytes escaped
    std::string nul = load("basic.zip");
    nul.replace(central, 10, std::string("read\0e.txt", 10));
    CHECK_THAT(open_refusal(nul).what(), Contains("entry \"read\\x00e.txt\": a NUL byte"));
    // ".." only as a whole component
    std::string bytes = load("basic.zip");
    bytes.replace(central, 10, "a/..b/c.xy");
    bytes.replace(local, 10, "a/..b/c.xy");
    CHECK(ZipReader(u8(bytes), bytes.size()).entries()[0].name == "a/..b/c.xy");
}

TEST_CASE("methods other than stored and deflate are refused by name; encryption too") {
    CHECK_REFUSAL(open_refusal(load("bzip2.zip")),
                  archive("bzip2.zip")["entries"][0]["central_offset"].get<uint64_t>(),
                  "entry \"c.txt\" uses compression method 12 (bzip2)");
    CHECK_REFUSAL(open_refusal(load("lzma.zip")),
                  archive("lzma.zip")["entries"][0]["central_offset"].get<uint64_t>(),
                  "uses compression method 14 (lzma)");
    const json& e = entry("basic.zip", "data/random.bin");
    const uint64_t central = e["central_offset"];
    std::string bytes = load("basic.zip");
    put16(bytes, central + 8, get16(bytes, central + 8) | 1);
    CHECK_REFUSAL(open_refusal(bytes), central, "\"data/random.bin\" is encrypted");
    // in the local header only
    bytes = load("basic.zip");
    const uint64_t local = e["header_offset"];
    put16(bytes, local + 6, get16(bytes, local + 6) | 1);
    CHECK_REFUSAL(open_refusal(bytes), local, "is encrypted");
}

TEST_CASE("CRC-32 is checked on view and read") {
    for (const char* name : {"readme.txt", "data/payload.bin"}) {
        INFO(name);
        const json& m = entry("basic.zip", name);
        std::string bytes = load("basic.zip");
        // a consistent but wrong CRC in both headers: the archive opens, the data is refused
        const uint32_t wrong = m["crc"].get<uint32_t>() ^ 0x100;
        put32(bytes, m["central_offset"].get<uint64_t>() + 16, wrong);
        put32(bytes, m["header_offset"].get<uint64_t>() + 14, wrong);
        ZipReader r(u8(bytes), bytes.size());
        const ZipEntry& e = *r.find(name);
        CHECK_REFUSAL(refusal([&] { r.read(e); }), m["data_offset"], "CRC-32 mismatch in \"");
        if (e.method == 0)
            CHECK_REFUSAL(refusal([&] { r.view(e); }), m["data_offset"],
                          "recorded " + std::to_string(wrong));
    }
    // a damaged data byte
    const json& m = entry("basic.zip", "data/random.bin");
    std::string bytes = load("basic.zip");
    bytes[m["data_offset"].get<uint64_t>() + 1500] ^= 1;
    ZipReader r(u8(bytes), bytes.size());
    CHECK_REFUSAL(refusal([&] { r.view(*r.find("data/random.bin")); }), m["data_offset"],
                  "CRC-32 mismatch in \"data/random.bin\"");
    CHECK(r.read(*r.find("readme.txt")) == load(entry("basic.zip", "readme.txt")["content"]));
}

TEST_CASE("deflated data: damage, and sizes other than declared") {
    const json& m = entry("basic.zip", "data/payload.bin");
    const uint64_t data = m["data_offset"], csize = m["csize"], size = m["size"];
    const uint64_t central = m["central_offset"], local = m["header_offset"];
    {
        std::string bytes = load("basic.zip");
        bytes[data + 30000] ^= 0x55;
        ZipReader r(u8(bytes), bytes.size());
        const ZipError e = refusal([&] { r.read(*r.find("data/payload.bin")); });
        CHECK(e.offset() >= data);  // a deflate error after the byte, or the CRC at the start
        CHECK(e.offset() <= data + csize);
        CHECK_THAT(e.what(), Contains("\"data/payload.bin\""));
    }
    {  // declared one byte short: the stream has more
        std::string bytes = load("basic.zip");
        put32(bytes, central + 24, uint32_t(size - 1));
        put32(bytes, local + 22, uint32_t(size - 1));
        ZipReader r(u8(bytes), bytes.size());
        const ZipError e = refusal([&] { r.read(*r.find("data/payload.bin")); });
        CHECK(e.offset() > data);
        CHECK(e.offset() <= data + csize);
        CHECK_THAT(e.what(), Contains("deflated data is longer than the declared " +
                                      std::to_string(size - 1) + " bytes"));
        CHECK_REFUSAL(refusal([&] { r.view(*r.find("data/payload.bin")); }), local,
                      "is deflated: use read()");
    }
    {  // declared one byte long
        std::string bytes = load("basic.zip");
        put32(bytes, central + 24, uint32_t(size + 1));
        put32(bytes, local + 22, uint32_t(size + 1));
        ZipReader r(u8(bytes), bytes.size());
        CHECK_REFUSAL(
            refusal([&] { r.read(*r.find("data/payload.bin")); }), data + csize,
            "inflates to " + std::to_string(size) + " bytes, declared " + std::to_string(size + 1));
    }
    {  // compressed size one byte long (into the data descriptor that follows)
        const json& d = entry("descriptor.zip", "streamed.txt");
        std::string bytes = load("descriptor.zip");
        const uint64_t c = d["csize"];
        put32(bytes, d["central_offset"].get<uint64_t>() + 20, uint32_t(c + 1));
        ZipReader r(u8(bytes), bytes.size());
        CHECK_REFUSAL(refusal([&] { r.read(*r.find("streamed.txt")); }),
                      d["data_offset"].get<uint64_t>() + c,
                      "1 bytes of compressed data follow the end of the deflate stream");
    }
    {  // compressed size one byte short: truncated deflate stream
        const json& d = entry("descriptor.zip", "streamed.txt");
        std::string bytes = load("descriptor.zip");
        const uint64_t c = d["csize"];
        put32(bytes, d["central_offset"].get<uint64_t>() + 20, uint32_t(c - 1));
        ZipReader r(u8(bytes), bytes.size());
        CHECK_REFUSAL(refusal([&] { r.read(*r.find("streamed.txt")); }),
                      d["data_offset"].get<uint64_t>() + c - 1, "deflate: truncated data");
    }
}

TEST_CASE("the local header must repeat the central entry") {
    const json& m = entry("basic.zip", "data/random.bin");
    const uint64_t local = m["header_offset"];
    const auto patched = [&](const std::function<void(std::string&)>& patch) {
        std::string bytes = load("basic.zip");
        patch(bytes);
        return open_refusal(bytes);
    };
    CHECK_REFUSAL(patched([&](std::string& b) { b[local + 30] = 'D'; }), local + 30,
                  "local header name \"Data/random.bin\" differs from the central directory's "
                  "\"data/random.bin\"");
    CHECK_REFUSAL(patched([&](std::string& b) { put16(b, local + 8, 8); }), local,
                  "has method 8, the central directory 0");
    CHECK_REFUSAL(patched([&](std::string& b) { put32(b, local + 14, 1); }), local,
                  "disagrees with the central directory (CRC, sizes 1/3000/3000");
    CHECK_REFUSAL(patched([&](std::string& b) { put32(b, local + 18, 2999); }), local,
                  "disagrees with the central directory");
    CHECK_REFUSAL(patched([&](std::string& b) { b[local + 2] = 9; }), local,
                  "expected the local header of \"data/random.bin\" (signature PK\\3\\4)");
    // the local header offset points into the middle of another entry's data
    CHECK_REFUSAL(patched([&](std::string& b) {
                      put32(b, m["central_offset"].get<uint64_t>() + 42, uint32_t(local + 7));
                  }),
                  local + 7, "expected the local header of \"data/random.bin\"");
    // a data descriptor flag lets the local CRC and sizes be zero, but not wrong
    std::string bytes = load("basic.zip");
    put16(bytes, local + 6, 8);
    CHECK(ZipReader(u8(bytes), bytes.size()).entries().size() == 7);
    put32(bytes, local + 14, 0);
    put32(bytes, local + 18, 0);
    put32(bytes, local + 22, 0);
    CHECK(ZipReader(u8(bytes), bytes.size()).entries().size() == 7);
    put32(bytes, local + 22, 5);
    CHECK_REFUSAL(open_refusal(bytes), local, "disagrees with the central directory");
}

TEST_CASE("entry data must lie inside the input, before the central directory, without overlap") {
    const json& a = archive("basic.zip");
    const json& last = entry("basic.zip", "zeros.bin");  // the last entry in the file
    const uint64_t data = last["data_offset"];
    const auto with_csize = [&](uint64_t csize) {
        std::string bytes = load("basic.zip");
        put32(bytes, last["central_offset"].get<uint64_t>() + 20, uint32_t(csize));
        put32(bytes, last["header_offset"].get<uint64_t>() + 18, uint32_t(csize));
        return bytes;
    };
    const uint64_t size = a["size"], cd_start = a["cd_start"];
    CHECK_REFUSAL(open_refusal(with_csize(size - data + 1)), data,
                  "data of \"zeros.bin\" (" + std::to_string(size - data + 1) +
                      " bytes) runs past the end of the input");
    CHECK_REFUSAL(open_refusal(with_csize(cd_start - data + 1)), data,
                  "overlaps the central directory at byte " + std::to_string(cd_start));
    CHECK(ZipReader(u8(with_csize(cd_start - data)), size).entries().size() == 7);

    // readme.txt (stored, first) grown by one byte into data/payload.bin's local header
    const json& first = entry("basic.zip", "readme.txt");
    const json& second = entry("basic.zip", "data/payload.bin");
    const uint64_t grown =
        second["header_offset"].get<uint64_t>() - first["data_offset"].get<uint64_t>() + 1;
    std::string bytes = load("basic.zip");
    for (uint64_t at :
         {first["central_offset"].get<uint64_t>() + 20,
          first["central_offset"].get<uint64_t>() + 24, first["header_offset"].get<uint64_t>() + 18,
          first["header_offset"].get<uint64_t>() + 22})
        put32(bytes, at, uint32_t(grown));
    CHECK_REFUSAL(open_refusal(bytes), second["header_offset"],
                  "entries \"readme.txt\" and \"data/payload.bin\" overlap");
    // stored entries: size and compressed size agree
    bytes = load("basic.zip");
    put32(bytes, first["central_offset"].get<uint64_t>() + 20, 119);
    CHECK_REFUSAL(open_refusal(bytes), first["central_offset"],
                  "stored entry \"readme.txt\" has size 120 but compressed size 119");
    // a local header offset at or past the central directory
    bytes = load("basic.zip");
    put32(bytes, first["central_offset"].get<uint64_t>() + 42, uint32_t(cd_start));
    CHECK_REFUSAL(
        open_refusal(bytes), first["central_offset"],
        "local header offset " + std::to_string(cd_start) + " is not before the central directory");
}

TEST_CASE("truncated archives and central directories") {
    const json& a = archive("basic.zip");
    const std::string whole = load("basic.zip");
    const uint64_t eocd = a["eocd"], cd_start = a["cd_start"], cd_end = a["cd_end"];
    for (uint64_t cut : {whole.size() - 1, whole.size() - 21, cd_start + 10, uint64_t(5000)}) {
        INFO("cut at " << cut);
        CHECK_REFUSAL(open_refusal(whole.substr(0, cut)), cut,
                      "no end-of-central-directory record in the last");
    }
    CHECK_REFUSAL(open_refusal(whole.substr(0, 21)), 0, "not a zip archive: 21 bytes");
    CHECK_REFUSAL(open_refusal(""), 0, "not a zip archive: 0 bytes");

    std::string bytes = whole;  // one entry more than the directory holds
    put16(bytes, eocd + 8, 8);
    put16(bytes, eocd + 10, 8);
    CHECK_REFUSAL(open_refusal(bytes), cd_end, "central directory entry 7 is truncated");
    bytes = whole;  // one entry less
    put16(bytes, eocd + 8, 6);
    put16(bytes, eocd + 10, 6);
    CHECK_REFUSAL(open_refusal(bytes), a["entries"][6]["central_offset"],
                  "bytes after the last central directory entry");
    bytes = whole;  // directory size one byte short: it then starts inside the first entry
    put32(bytes, eocd + 12, uint32_t(cd_end - cd_start - 1));
    CHECK_REFUSAL(open_refusal(bytes), cd_start + 1, "expected central directory entry 0");
    bytes = whole;  // one byte long: it would start before the declared offset allows
    put32(bytes, eocd + 12, uint32_t(cd_end - cd_start + 1));
    CHECK_REFUSAL(open_refusal(bytes), eocd, "central directory declared at offset");
    bytes = whole;
    put32(bytes, eocd + 12, uint32_t(eocd + 1));
    CHECK_REFUSAL(open_refusal(bytes), eocd, "does not fit before the end record");
    bytes = whole;  // the disk and entry counts
    put16(bytes, eocd + 8, 6);
    CHECK_REFUSAL(open_refusal(bytes), eocd, "entries on this disk (6) differ from the total (7)");
    bytes = whole;
    put16(bytes, eocd + 4, 1);
    CHECK_REFUSAL(open_refusal(bytes), eocd, "multi-disk archives are not supported");
    bytes = whole;  // an entry whose name runs past the directory
    put16(bytes, a["entries"][6]["central_offset"].get<uint64_t>() + 28, 500);
    CHECK_REFUSAL(open_refusal(bytes), a["entries"][6]["central_offset"],
                  "central directory entry 6: name, extra field and comment run past");
    bytes = whole;  // a central entry's signature
    bytes[a["entries"][3]["central_offset"].get<uint64_t>() + 3] = 9;
    CHECK_REFUSAL(open_refusal(bytes), a["entries"][3]["central_offset"],
                  "expected central directory entry 3");
}

TEST_CASE("the end record's comment must end the input exactly") {
    const json& a = archive("comment.zip");
    const std::string whole = load("comment.zip");
    const uint64_t eocd = a["eocd"];
    REQUIRE(get16(whole, eocd + 20) == 18);
    CHECK(ZipReader(u8(whole), whole.size()).entries().size() == 1);
    for (uint16_t len : {17, 19, 0, 65535}) {
        INFO("comment length " << len);
        std::string bytes = whole;
        put16(bytes, eocd + 20, len);
        CHECK_REFUSAL(open_refusal(bytes), eocd,
                      "with a comment of " + std::to_string(len) + " bytes, but 18 bytes follow");
    }
    const std::string junk = load("basic.zip") + "junk";
    CHECK_REFUSAL(open_refusal(junk), archive("basic.zip")["eocd"],
                  "with a comment of 0 bytes, but 4 bytes follow");
}

TEST_CASE("bogus zip64 values") {
    const std::string many = load("many.zip");
    const json& a = archive("many.zip");
    const uint64_t eocd = a["eocd"], loc = eocd - 20, rec = eocd - 20 - 56;
    const uint64_t cd_start = a["cd_start"];
    REQUIRE(get32(many, rec) == 0x06064b50);
    REQUIRE(get32(many, loc) == 0x07064b50);
    const auto patched = [&](uint64_t at, uint64_t v, int width = 8) {
        std::string b = many;
        if (width == 8) put64(b, at, v);
        if (width == 4) put32(b, at, uint32_t(v));
        return b;
    };
    // counts: over the limit, or more than the directory's bytes can hold
    CHECK_REFUSAL(open_refusal(patched(rec + 24, 1ull << 40)), eocd,
                  "entries on this disk (1099511627776) differ from the total (65537)");
    std::string huge = many;
    put64(huge, rec + 24, 1ull << 40);
    put64(huge, rec + 32, 1ull << 40);
    CHECK_REFUSAL(open_refusal(huge), eocd, "1099511627776 entries, more than the limit of");
    ZipLimits unlimited;
    unlimited.max_entries = ~uint64_t(0);
    CHECK_REFUSAL(open_refusal(huge, unlimited), cd_start,
                  "1099511627776 entries cannot fit in a central directory");
    // the directory's offset and size: zipfile wrote them in the end record too, so a zip64
    // value alone disagrees; with the end record saying "see zip64" it is taken
    CHECK_REFUSAL(open_refusal(patched(rec + 48, cd_start + 8)), eocd,
                  "disagree on the central directory offset: " + std::to_string(cd_start) + " vs " +
                      std::to_string(cd_start + 8));
    const auto marked = [&](uint64_t at, uint64_t v, int width = 8) {
        std::string b = patched(at, v, width);
        put32(b, eocd + 12, 0xFFFFFFFF);
        put32(b, eocd + 16, 0xFFFFFFFF);
        return b;
    };
    CHECK(ZipReader(u8(marked(rec, 0x06064b50, 4)), many.size()).entries().size() == 65537);
    CHECK_REFUSAL(open_refusal(marked(rec + 48, cd_start + 8)), eocd,
                  "central directory declared at offset");
    CHECK_REFUSAL(open_refusal(marked(rec + 48, cd_start - 8)), loc,
                  "zip64 locator points to byte");
    CHECK_REFUSAL(open_refusal(marked(rec + 40, 1ull << 62)), eocd,
                  "does not fit before the end record");
    // the locator and the record
    CHECK_REFUSAL(open_refusal(patched(loc + 8, rec + 1)), loc, "zip64 locator points to byte");
    CHECK_REFUSAL(open_refusal(patched(rec, 0x06064b51, 4)), loc,
                  "zip64 end-of-central-directory record not found");
    CHECK_REFUSAL(open_refusal(patched(rec + 4, 1ull << 63)), loc,
                  "zip64 end-of-central-directory record not found");
    CHECK_REFUSAL(open_refusal(patched(loc + 16, 2, 4)), loc, "multi-disk archives");
    CHECK_REFUSAL(open_refusal(patched(rec + 16, 1, 4)), eocd,
                  "disagree on the disk number: 0 vs 1");

    // the 16/32-bit values beside the zip64 ones must agree (PyTorch writes both)
    std::string torch = load("torch_layout.pt");
    const uint64_t t_eocd = archive("torch_layout.pt")["eocd"];
    put64(torch, t_eocd - 20 - 56 + 32, 10);
    CHECK_REFUSAL(open_refusal(torch), t_eocd, "disagree on the entry count: 9 vs 10");

    // zip64 extra fields in the local header: zipfile's force_zip64 writes one with the sizes
    // but keeps the real sizes in the header; marked 0xFFFFFFFF, the extra field's are taken
    const json& big = entry("zip64_forced.zip", "big.bin");
    const uint64_t local = big["header_offset"];
    std::string z = load("zip64_forced.zip");
    const uint64_t extra = local + 30 + 7;
    REQUIRE(get16(z, extra) == 1);
    REQUIRE(get64(z, extra + 4) == get32(z, local + 22));
    put32(z, local + 18, 0xFFFFFFFF);
    put32(z, local + 22, 0xFFFFFFFF);
    CHECK(ZipReader(u8(z), z.size()).entries()[0].size == big["size"].get<uint64_t>());
    std::string wrong = z;
    put64(wrong, extra + 4, 5);  // the zip64 uncompressed size
    CHECK_REFUSAL(open_refusal(wrong), local, "disagrees with the central directory");
    wrong = z;
    put16(wrong, extra + 2, 200);
    CHECK_REFUSAL(open_refusal(wrong), extra, "extra field 1 of 200 bytes runs past");
    wrong = z;
    put16(wrong, extra + 2, 8);  // room for the uncompressed size only
    put16(wrong, extra + 12, 0x5A5A);
    put16(wrong, extra + 14, 4);  // what follows becomes another field of 4 bytes
    CHECK_REFUSAL(open_refusal(wrong), extra, "zip64 extra field too short");
    wrong = z;
    put16(wrong, extra, 0x5A5A);  // no zip64 field at all
    CHECK_REFUSAL(open_refusal(wrong), extra, "the header has no zip64 extra field");
    // zip64 extra fields in the central directory (torch_zip64.pt: every size and offset there)
    const json& t64 = entry("torch_zip64.pt", "archive/data/2");
    const uint64_t c64 = t64["central_offset"].get<uint64_t>() + 46 + 14;  // its zip64 field
    std::string t = load("torch_zip64.pt");
    REQUIRE(get16(t, c64) == 1);
    REQUIRE(get64(t, c64 + 20) + 135 == t64["header_offset"].get<uint64_t>());
    wrong = t;
    put64(wrong, c64 + 20, get64(t, c64 + 20) + 1);  // local header offset
    CHECK_REFUSAL(open_refusal(wrong), t64["header_offset"].get<uint64_t>() + 1,
                  "expected the local header of \"archive/data/2\"");
    wrong = t;
    put64(wrong, c64 + 20, 1ull << 62);
    CHECK_REFUSAL(open_refusal(wrong), t64["central_offset"],
                  "local header offset 4611686018427387904 is not before the central directory");
    wrong = t;
    put64(wrong, c64 + 4, 10241);  // uncompressed size: stored sizes must agree
    CHECK_REFUSAL(open_refusal(wrong), t64["central_offset"],
                  "has size 10241 but compressed size 10240");
    wrong = t;
    put64(wrong, c64 + 4, 1ull << 40);
    put64(wrong, c64 + 12, 1ull << 40);
    CHECK_REFUSAL(open_refusal(wrong), t64["central_offset"],
                  "of 1099511627776 bytes exceeds the limit of 68719476736");
    wrong = t;
    put16(wrong, c64 + 2, 16);  // room for the sizes, not the offset
    CHECK_REFUSAL(open_refusal(wrong), c64, "zip64 extra field too short");
    const json& readme = entry("basic.zip", "readme.txt");
    std::string b = load("basic.zip");
    put32(b, readme["central_offset"].get<uint64_t>() + 24, 0xFFFFFFFF);
    CHECK_REFUSAL(open_refusal(b), readme["central_offset"].get<uint64_t>() + 46 + 10,
                  "is 0xFFFFFFFF but the header has no zip64 extra field");
}

TEST_CASE("limits: entry count, entry size, deflate ratio") {
    const std::string basic = load("basic.zip");
    const json& a = archive("basic.zip");
    ZipLimits limits;
    limits.max_entries = 6;
    CHECK_REFUSAL(open_refusal(basic, limits), a["eocd"], "7 entries, more than the limit of 6");
    limits = {};
    limits.max_entry_size = 99999;
    CHECK_REFUSAL(open_refusal(basic, limits), a["entries"][1]["central_offset"],
                  "entry \"data/payload.bin\" of 271999 bytes exceeds the limit of 99999");

    // 32 MiB of zeros deflated ~1030:1, above the default 1000
    const std::string ratio = load("ratio.zip");
    const json& r = archive("ratio.zip");
    CHECK_REFUSAL(open_refusal(ratio), r["entries"][0]["central_offset"],
                  "entry \"zeros\" would inflate " +
                      std::to_string(r["entries"][0]["csize"].get<uint64_t>()) +
                      " bytes to 33554432, beyond the ratio limit of 1000");
    limits = {};
    limits.max_ratio = 2000;
    ZipReader ok(u8(ratio), ratio.size(), limits);
    CHECK(ok.read(ok.entries()[0]) == std::string(32u << 20, '\0'));
    limits = {};
    limits.ratio_floor = 32u << 20;  // entries up to the floor ignore the ratio
    CHECK(ZipReader(u8(ratio), ratio.size(), limits).entries().size() == 1);
    limits.ratio_floor = (32u << 20) - 1;
    CHECK_REFUSAL(open_refusal(ratio, limits), r["entries"][0]["central_offset"],
                  "beyond the ratio limit");
}

TEST_CASE("entries handed in from elsewhere are checked against the input") {
    const std::string bytes = load("basic.zip");
    ZipReader r(u8(bytes), bytes.size());
    ZipEntry e = r.entries()[0];
    e.data_offset = bytes.size() - 10;
    CHECK_REFUSAL(refusal([&] { r.view(e); }), bytes.size() - 10, "lies outside the input");
    e = r.entries()[1];
    e.compressed_size = bytes.size();
    CHECK_REFUSAL(refusal([&] { r.read(e); }), e.data_offset, "lies outside the input");
    e = r.entries()[1];
    e.method = 12;
    CHECK_REFUSAL(refusal([&] { r.read(e); }), e.header_offset, "compression method 12");
}

TEST_CASE("input that is no zip archive") {
    std::string junk(5000, 'x');
    CHECK_REFUSAL(open_refusal(junk), 5000, "no end-of-central-directory record in the last 5000");
    std::string big(200000, 'x');
    CHECK_REFUSAL(open_refusal(big), 200000, "in the last 65557 bytes");
    CHECK_THROWS_AS(ZipReader(nullptr, 100), ZipError);
}
