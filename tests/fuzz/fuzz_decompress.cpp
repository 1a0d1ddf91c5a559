// libFuzzer target for bounded decompression and sniffing (sdk/readers/src/decompress.cpp):
// the first byte picks the codec (3 + byte % 6: zlib, gzip, bz2, xz, lzma, lz4, the Container
// values), the rest is decompressed with small caps (1 MiB, ratio 50 above 64 KiB). Besides "no
// crash, no leak, no hang, no unbounded allocation":
//   * a refusal is a DecompressError whose offset lies inside the input and whose message
//     names the codec (any other exception escapes and is reported);
//   * an accepted stream never exceeds the cap, and the cap is exact: the same stream with
//     max_output = its output size decodes to the same bytes, one byte less is refused for the
//     limit.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "milo/readers/decompress.hpp"

namespace {

using milo::readers::Container;
using milo::readers::container_name;
using milo::readers::decompress;
using milo::readers::DecompressError;
using milo::readers::DecompressLimits;

[[noreturn]] void bug(const char* what, const std::string& detail) {
    std::fprintf(stderr, "fuzz_decompress: %s: %s\n", what, detail.c_str());
    std::abort();
}

void check_refusal(const DecompressError& e, Container c, size_t size) {
    if (e.offset() > size) bug("refusal offset past the input", e.what());
    if (std::strstr(e.what(), (std::string(container_name(c)) + ": ").c_str()) == nullptr)
        bug("refusal does not name the codec", e.what());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    (void)milo::readers::sniff(data, size);
    if (size == 0) return 0;
    const Container c = Container(3 + data[0] % 6);
    const uint8_t* in = data + 1;
    const size_t n = size - 1;
    DecompressLimits limits;
    limits.max_output = 1u << 20;
    limits.max_ratio = 50;
    limits.ratio_floor = 64u << 10;
    std::string out;
    try {
        out = decompress(c, in, n, limits);
    } catch (const DecompressError& e) {
        check_refusal(e, c, n);
        return 0;
    }
    if (out.size() > limits.max_output) bug("output over the cap", std::to_string(out.size()));
    limits.max_output = out.size();
    if (decompress(c, in, n, limits) != out) bug("output differs at an exact cap", "");
    if (out.empty()) return 0;
    limits.max_output = out.size() - 1;
    try {
        decompress(c, in, n, limits);
        bug("a cap one byte short was not enforced", std::to_string(out.size()));
    } catch (const DecompressError& e) {
        check_refusal(e, c, n);
        if (std::strstr(e.what(), "exceeds the limit") == nullptr)
            bug("a cap one byte short gave another error", e.what());
    }
    return 0;
}
