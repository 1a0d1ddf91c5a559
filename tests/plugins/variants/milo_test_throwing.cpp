// Variant (7): a C++ plugin whose callbacks let exceptions fly straight out of the plugin, with
// no try/catch anywhere. The host must catch at the boundary, report MILO_ERR_PLUGIN with a
// message, and keep running. Registration itself is well-behaved, so the plugin loads.
//   transporter "test.thrower" (type test.Thrower): decode throws std::runtime_error, encode
//   throws an int, probe throws for content starting with "THROW".
//   format "throwfmt" (".throwfmt"): encode throws std::logic_error, decode std::runtime_error,
//   probe as above.
#include <cstring>
#include <stdexcept>

#include "milo_test_plugin.h"

namespace {

bool starts_with_throw(const uint8_t* head, size_t size) {
    return size >= 5 && std::memcmp(head, "THROW", 5) == 0;
}

int32_t thrower_probe(void*, const uint8_t* head, size_t size) {
    if (starts_with_throw(head, size)) throw std::runtime_error("test.thrower: probe exploded");
    return 0;
}

milo_status thrower_decode(void*, const milo_api*, milo_registry*, const uint8_t*, size_t,
                           const char*, milo_doc*, milo_error*) {
    throw std::runtime_error("test.thrower: decode exploded");
}

milo_status thrower_encode(void*, const milo_api*, milo_registry*, const milo_doc*,
                           milo_write_fn, void*, milo_error*) {
    throw 42;  // not a std::exception: the host needs catch (...)
}

milo_status throwfmt_encode(void*, const milo_api*, const milo_doc*, const milo_encode_context*,
                            milo_error*) {
    throw std::logic_error("throwfmt: encode exploded");
}

milo_status throwfmt_decode(void*, const milo_api*, milo_doc*, const milo_decode_context*,
                            milo_error*) {
    throw std::runtime_error("throwfmt: decode exploded");
}

const char* const thrower_types[] = {"test.Thrower", nullptr};
const char* const thrower_extensions[] = {".thrower", nullptr};
const char* const throwfmt_extensions[] = {".throwfmt", nullptr};

milo_transporter make_transporter() {
    milo_transporter t{};
    t.struct_size = sizeof(milo_transporter);
    t.abi_version = MILO_ABI_VERSION;
    t.id = "test.thrower";
    t.description = "a transporter that throws C++ exceptions";
    t.version = "1";
    t.framework = "milo-test";
    t.types = thrower_types;
    t.extensions = thrower_extensions;
    t.probe = thrower_probe;
    t.decode = thrower_decode;
    t.encode = thrower_encode;
    return t;
}

milo_format make_format() {
    milo_format f{};
    f.struct_size = sizeof(milo_format);
    f.abi_version = MILO_ABI_VERSION;
    f.id = "throwfmt";
    f.description = "a format that throws C++ exceptions";
    f.extensions = throwfmt_extensions;
    f.probe = thrower_probe;
    f.encode = throwfmt_encode;
    f.decode = throwfmt_decode;
    return f;
}

// Constant after load; descriptors must outlive the registration.
const milo_transporter thrower_transporter = make_transporter();
const milo_format throwfmt_format = make_format();

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host,
                                                        milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &thrower_transporter, error);
    if (st == MILO_OK) st = host->register_format(host->context, &throwfmt_format, error);
    return st;
}
