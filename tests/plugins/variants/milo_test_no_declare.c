/* Variant (9): returns MILO_OK without declaring itself (nor registering anything). A plugin
 * with no name, version or ABI range must be refused. */
#include <milo/plugin.h>

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    (void)host;
    (void)error;
    return MILO_OK;
}
