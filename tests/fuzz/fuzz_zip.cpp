// libFuzzer target for the strict zip reader (sdk/readers/src/zip_reader.cpp): arbitrary bytes
// are opened with small limits and every entry is read. Besides "no crash, no leak, no hang, no
// unbounded allocation":
//   * a refusal is a ZipError whose offset lies inside the input (any other exception escapes
//     and is reported);
//   * an accepted archive holds what the reader promises: entries inside the input, after the
//     prefix, not overlapping, with unique names that find() returns; a read entry has its
//     declared size, and a stored one reads as its zero-copy view.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "milo/readers/zip_reader.hpp"

namespace {

using milo::readers::ZipEntry;
using milo::readers::ZipError;
using milo::readers::ZipLimits;
using milo::readers::ZipReader;

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_zip: %s: %s\n", what, detail.c_str());
    std::abort();
}

void check_refusal(const ZipError& e, size_t size) {
    if (e.offset() > size) bug("refusal offset past the input", e.what());
}

void check_archive(const ZipReader& r, size_t size) {
    std::vector<const ZipEntry*> order;
    for (const ZipEntry& e : r.entries()) {
        if (e.header_offset < r.archive_offset() || e.data_offset < e.header_offset + 30 ||
            e.data_offset > size || e.compressed_size > size - e.data_offset)
            bug("entry outside the input", e.name);
        if (e.name.empty() || e.name[0] == '/' || e.name.find('\\') != std::string::npos ||
            e.name.find('\0') != std::string::npos ||
            ("/" + e.name + "/").find("/../") != std::string::npos)
            bug("unsafe name accepted", e.name);
        if (e.method != 0 && e.method != 8) bug("method accepted", std::to_string(e.method));
        if (r.find(e.name) != &e) bug("find() misses", e.name);
        order.push_back(&e);
    }
    std::sort(order.begin(), order.end(), [](const ZipEntry* a, const ZipEntry* b) {
        return a->header_offset < b->header_offset;
    });
    for (size_t i = 1; i < order.size(); ++i)
        if (order[i - 1]->data_offset + order[i - 1]->compressed_size > order[i]->header_offset)
            bug("overlapping entries accepted", order[i]->name);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    ZipLimits limits;
    limits.max_entries = 4096;
    limits.max_entry_size = 4u << 20;
    limits.max_ratio = 100;
    limits.ratio_floor = 64u << 10;
    try {
        const ZipReader r(data, size, limits);
        check_archive(r, size);
        for (const ZipEntry& e : r.entries()) {
            try {
                const std::string out = r.read(e);
                if (out.size() != e.size) bug("read size differs from the declared", e.name);
                if (e.method == 0 && r.view(e) != out) bug("view differs from read", e.name);
            } catch (const ZipError& err) {
                check_refusal(err, size);
            }
        }
    } catch (const ZipError& e) {
        check_refusal(e, size);
    }
    return 0;
}
