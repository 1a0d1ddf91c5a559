/* Variant (8): duplicate ids. Each build registers something unique first, so the test can
 * check that the duplicate undoes it (all-or-nothing).
 *  TEST_DUP_OTHER:   format "dupfmt", then transporter "test.scorer" (milo_test_good's id).
 *  TEST_DUP_SELF:    transporter "test.dupself" twice.
 *  TEST_DUP_BUILTIN: transporter "test.dupbuiltin", then format "json" (a built-in). */
#include "milo_test_plugin.h"

#if defined(TEST_DUP_OTHER)
static const char* const extensions[] = {".dupfmt", NULL};
static const milo_format first_format = MILO_TEST_FORMAT("dupfmt", extensions);
static const milo_transporter duplicate = MILO_TEST_TRANSPORTER("test.scorer", NULL);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st == MILO_OK) st = host->register_format(host->context, &first_format, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &duplicate, error);
    return st;
}
#elif defined(TEST_DUP_SELF)
static const char* const types[] = {"test.DupSelf", NULL};
static const milo_transporter once = MILO_TEST_TRANSPORTER("test.dupself", types);
static const milo_transporter again = MILO_TEST_TRANSPORTER("test.dupself", NULL);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &once, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &again, error);
    return st;
}
#elif defined(TEST_DUP_BUILTIN)
static const char* const extensions[] = {".json", NULL};
static const milo_transporter first = MILO_TEST_TRANSPORTER("test.dupbuiltin", NULL);
static const milo_format duplicate = MILO_TEST_FORMAT("json", extensions);

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &first, error);
    if (st == MILO_OK) st = host->register_format(host->context, &duplicate, error);
    return st;
}
#else
#error "define TEST_DUP_OTHER, TEST_DUP_SELF or TEST_DUP_BUILTIN"
#endif
