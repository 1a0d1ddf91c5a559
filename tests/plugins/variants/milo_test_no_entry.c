/* Variant (2): a shared library without the milo_register entry point. It exports a
 * misspelt one, so the loader must look up the exact name and refuse the file. */
#include <milo/plugin.h>

MILO_PLUGIN_EXPORT milo_status milo_regsiter(const milo_host* host, milo_error* error);

MILO_PLUGIN_EXPORT milo_status milo_regsiter(const milo_host* host, milo_error* error) {
    (void)host;
    (void)error;
    return MILO_OK;
}
