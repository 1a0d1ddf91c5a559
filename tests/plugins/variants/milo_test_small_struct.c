/* Variant (10): a transporter descriptor whose struct_size stops before `decode`, smaller
 * than any ABI's milo_transporter. The host must refuse it rather than read past its end. */
#include "milo_test_plugin.h"

static const milo_transporter small = {
    (uint32_t)offsetof(milo_transporter, decode),
    MILO_ABI_VERSION,
    "test.small",
    "a descriptor cut short",
    "1",
    "milo-test",
    NULL,
    NULL,
    NULL,
    milo_test_probe_never,
    milo_test_decode_unsupported, /* beyond struct_size: must not be read */
    NULL,
    NULL,
    NULL,
};

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st != MILO_OK) return st;
    return host->register_transporter(host->context, &small, error);
}
