/* Variant (5): registers a transporter without calling declare_plugin first, ignores the
 * refusal and reports success. The host must still refuse the whole plugin. */
#include "milo_test_plugin.h"

static const milo_transporter transporter = MILO_TEST_TRANSPORTER("test.undeclared", NULL);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    (void)host->register_transporter(host->context, &transporter, error);
    return MILO_OK;
}
