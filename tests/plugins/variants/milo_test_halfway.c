/* Variant (6): registers a transporter, a format and a second transporter, then fails. The
 * host must drop all three (all-or-nothing) and close the library. */
#include "milo_test_plugin.h"

static const char* const first_types[] = {"test.HalfwayFirst", NULL};
static const char* const second_types[] = {"test.HalfwaySecond", NULL};
static const char* const format_extensions[] = {".halfway", NULL};

static const milo_transporter first = MILO_TEST_TRANSPORTER("test.halfway_first", first_types);
static const milo_transporter second = MILO_TEST_TRANSPORTER("test.halfway_second", second_types);
static const milo_format format = MILO_TEST_FORMAT("halfwayfmt", format_extensions);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &first, error);
    if (st == MILO_OK) st = host->register_format(host->context, &format, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &second, error);
    if (st != MILO_OK) return st; /* not expected: the test wants the failure below */
    return host->api->error_set(error, MILO_ERR_PLUGIN,
                                MILO_TEST_PLUGIN_NAME ": second transporter failed halfway");
}
