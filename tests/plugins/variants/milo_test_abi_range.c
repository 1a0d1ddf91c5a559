/* Variants (3) and (4): a plugin whose declared ABI range does not meet the host's.
 * milo_test_abi_future: built against ABI 4242 and needs at least 4242 (newer than any host).
 * milo_test_abi_zero: built against ABI 0, older than MILO_ABI_MIN_SUPPORTED.
 * Both would register a transporter if the declaration were (wrongly) accepted. */
#include "milo_test_plugin.h"

static const milo_plugin_info info = {(uint32_t)sizeof(milo_plugin_info), TEST_ABI_VERSION,
                                      TEST_ABI_MIN, 0u, MILO_TEST_PLUGIN_NAME, "1.0.0"};

static const char* const types[] = {"test.AbiRange", NULL};
static const milo_transporter transporter =
    MILO_TEST_TRANSPORTER("test.abi_range." MILO_TEST_PLUGIN_NAME, types);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &info, error);
    if (st != MILO_OK) return st;
    return host->register_transporter(host->context, &transporter, error);
}
