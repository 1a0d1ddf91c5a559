/* Declares itself twice; declare_plugin is "called first, once". The second call must fail
 * and, with the failure passed on, nothing stays. */
#include "milo_test_plugin.h"

static const milo_transporter transporter = MILO_TEST_TRANSPORTER("test.declare_twice", NULL);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &transporter, error);
    if (st == MILO_OK) st = host->declare_plugin(host->context, &milo_test_info, error);
    return st;
}
