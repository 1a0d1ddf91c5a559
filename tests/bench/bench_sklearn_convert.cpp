// pickle bytes -> document -> pickle bytes through the sklearn plugin: the C++ column of
// tests/bench/bench_sklearn.py. The plugin is loaded by path through the registry (as an
// application would), each FILE is read, decoded with decode_native and written back with
// encode_native. Prints one JSON line per file:
//   {"file", "runs", "inner", "decode_s", "encode_s", "total_s", "in_bytes", "out_bytes",
//    "identical"}   (median seconds per operation; identical: output bytes == input bytes)
//   {"file", "error"}                                             when the plugin refuses it
// Not a test: no thresholds, never registered with CTest. See tests/bench/README.md.
//
// milo_bench_sklearn_convert [--plugin PATH] [--transporter ID] [--reps N] [--out DIR] FILE...
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "milo/milo.hpp"

#ifndef MILO_SKLEARN_PLUGIN
#define MILO_SKLEARN_PLUGIN ""
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary | std::ios::ate);
    if (!in) throw std::runtime_error("cannot open " + path);
    std::string out(size_t(in.tellg()), '\0');
    in.seekg(0);
    if (!in.read(&out[0], std::streamsize(out.size())))
        throw std::runtime_error("cannot read " + path);
    return out;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 0.0 : v[v.size() / 2];
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += char(c);
        } else if (c < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += char(c);
        }
    }
    return out + "\"";
}

struct Result {
    double decode_s = 0, encode_s = 0, total_s = 0;
};

// One round trip: read, decode, encode (atomic file write), destroy the document. The previous
// output is removed first: renaming over an existing file makes ext4 flush it (auto_da_alloc,
// milliseconds), which would swamp small models.
Result round_trip(const milo::Registry& reg, const std::string& in, const std::string& out,
                  const char* transporter) {
    std::remove(out.c_str());
    Result r;
    const auto t0 = Clock::now();
    const std::string bytes = read_file(in);
    {
        const auto t1 = Clock::now();
        milo::Doc doc = reg.decode_native(bytes, transporter, in.c_str());
        r.decode_s = seconds_since(t1);
        const auto t2 = Clock::now();
        reg.encode_native(doc, out, transporter);
        r.encode_s = seconds_since(t2);
    }
    r.total_s = seconds_since(t0);
    return r;
}

void usage() {
    std::puts(
        "milo_bench_sklearn_convert [--plugin PATH] [--transporter ID] [--reps N] [--out DIR] "
        "FILE...\n"
        "  --plugin PATH      the sklearn plugin (default: the one built with this program)\n"
        "  --transporter ID   transporter id (default: sklearn)\n"
        "  --reps N           median of N runs (default 5); a run repeats the round trip for\n"
        "                     >= 50 ms and counts the time per round trip\n"
        "  --out DIR          where the written pickles go (default /tmp)");
}

}  // namespace

int main(int argc, char** argv) {
    std::string plugin = MILO_SKLEARN_PLUGIN, transporter = "sklearn", out_dir = "/tmp";
    int reps = 5;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "--plugin" && has_value) {
            plugin = argv[++i];
        } else if (a == "--transporter" && has_value) {
            transporter = argv[++i];
        } else if (a == "--reps" && has_value) {
            reps = std::max(1, std::atoi(argv[++i]));
        } else if (a == "--out" && has_value) {
            out_dir = argv[++i];
        } else if (!a.empty() && a[0] == '-') {
            usage();
            return a == "-h" || a == "--help" ? 0 : 2;
        } else {
            files.push_back(a);
        }
    }
    if (files.empty() || plugin.empty()) {
        usage();
        return 2;
    }

    milo::Registry reg;
    try {
        reg.load_plugin(plugin);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "milo_bench_sklearn_convert: %s\n", e.what());
        return 1;
    }
    for (const std::string& file : files) {
        const std::string name = file.substr(file.find_last_of('/') + 1);
        const std::string out = out_dir + "/" + name + ".milo-roundtrip";
        std::ostringstream line;
        line << "{\"file\": " << json_string(file);
        try {
            round_trip(reg, file, out, transporter.c_str());  // warm-up, and the output to compare
            int inner = 1;
            for (;;) {  // calibrate: a run lasts >= 50 ms
                const auto t0 = Clock::now();
                for (int k = 0; k < inner; ++k) round_trip(reg, file, out, transporter.c_str());
                const double s = seconds_since(t0);
                if (s >= 0.05 || inner >= (1 << 16)) break;
                inner = s <= 0 ? inner * 100 : std::max(inner * 2, int(inner * 0.06 / s) + 1);
            }
            std::vector<double> dec, enc, tot;
            for (int r = 0; r < reps; ++r) {
                Result sum;
                for (int k = 0; k < inner; ++k) {
                    const Result one = round_trip(reg, file, out, transporter.c_str());
                    sum.decode_s += one.decode_s, sum.encode_s += one.encode_s;
                    sum.total_s += one.total_s;
                }
                dec.push_back(sum.decode_s / inner);
                enc.push_back(sum.encode_s / inner);
                tot.push_back(sum.total_s / inner);
            }
            const std::string in_bytes = read_file(file), out_bytes = read_file(out);
            char buf[256];
            std::snprintf(buf, sizeof buf,
                          ", \"runs\": %d, \"inner\": %d, \"decode_s\": %.9g, \"encode_s\": %.9g, "
                          "\"total_s\": %.9g, \"in_bytes\": %zu, \"out_bytes\": %zu, "
                          "\"identical\": %s}",
                          reps, inner, median(dec), median(enc), median(tot), in_bytes.size(),
                          out_bytes.size(), in_bytes == out_bytes ? "true" : "false");
            line << buf;
        } catch (const std::exception& e) {
            line << ", \"error\": " << json_string(e.what()) << "}";
        }
        std::remove(out.c_str());
        std::printf("%s\n", line.str().c_str());
        std::fflush(stdout);
    }
    return 0;
}
