// Writes seed inputs for the decoder fuzzers: generated documents (every kind and dtype,
// sharing, cycles) in each format and tensor mode. Usage: make_seeds OUTDIR [COUNT]
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../unit/doc_generator.hpp"

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: make_seeds OUTDIR [COUNT]\n");
        return 2;
    }
    std::string out = argv[1];
    int count = argc > 2 ? std::atoi(argv[2]) : 60;
    milo::Registry reg;
    for (int i = 0; i < count; ++i) {
        milo::Doc doc;
        milo::test::DocGenerator(0xf0220000u + static_cast<uint64_t>(i)).fill(doc);
        for (const char* f : {"json", "yaml", "pb"}) {
            milo::SaveOptions o;
            o.format = f;
            o.tensors = (i % 2) ? MILO_TENSORS_COMPACT : MILO_TENSORS_READABLE;
            o.indent = (i % 3 == 0) ? 0 : 2;
            std::string bytes = reg.encode(doc, o);
            std::ofstream(out + "/" + f + "/gen-" + std::to_string(i), std::ios::binary) << bytes;
        }
    }
    return 0;
}
