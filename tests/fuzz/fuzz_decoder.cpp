// libFuzzer target for one document decoder (MILO_FUZZ_FORMAT). Besides "no crash, no leak, no
// hang", every input that decodes must re-encode and decode to an equal document, and encode to
// the same bytes again (determinism).
#include <cstdio>
#include <cstdlib>
#include <string>

#include "milo/milo.h"

namespace {

milo_registry* registry() {
    static milo_registry* reg = [] {
        milo_registry* r = nullptr;
        if (milo_registry_create(&r, nullptr) != MILO_OK) std::abort();
        return r;
    }();
    return reg;
}

milo_status append(void* ctx, const void* data, size_t size, milo_error*) {
    static_cast<std::string*>(ctx)->append(static_cast<const char*>(data), size);
    return MILO_OK;
}

std::string encode(milo_doc* doc, int32_t tensors) {
    milo_save_options o = MILO_SAVE_OPTIONS_INIT;
    o.format = MILO_FUZZ_FORMAT;
    o.tensors = tensors;
    std::string out;
    milo_error err = MILO_ERROR_INIT;
    if (milo_doc_encode(registry(), doc, &o, append, &out, &err) != MILO_OK) {
        std::fprintf(stderr, "re-encoding a decoded document failed: %s\n", err.message);
        std::abort();
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    milo_load_options lo = MILO_LOAD_OPTIONS_INIT;
    lo.format = MILO_FUZZ_FORMAT;
    milo_doc* doc = nullptr;
    milo_error err = MILO_ERROR_INIT;
    if (milo_doc_decode(registry(), data, size, "fuzz", &lo, &doc, &err) != MILO_OK) {
        if (err.message[0] == '\0') {
            std::fprintf(stderr, "decode failed without a message (status %d)\n", err.code);
            std::abort();
        }
        return 0;
    }
    for (int32_t mode : {MILO_TENSORS_READABLE, MILO_TENSORS_COMPACT}) {
        std::string bytes = encode(doc, mode);
        milo_doc* back = nullptr;
        if (milo_doc_decode(registry(), reinterpret_cast<const uint8_t*>(bytes.data()),
                            bytes.size(), "re-encoded", &lo, &back, &err) != MILO_OK) {
            std::fprintf(stderr, "re-encoded document does not decode: %s\n", err.message);
            std::abort();
        }
        char where[512];
        if (!milo_doc_equal(doc, back, where, sizeof where)) {
            std::fprintf(stderr, "round trip changed the document at %s\n", where);
            std::abort();
        }
        if (encode(back, mode) != bytes) {
            std::fprintf(stderr, "encoding is not deterministic\n");
            std::abort();
        }
        milo_doc_destroy(back);
    }
    milo_doc_destroy(doc);
    return 0;
}
