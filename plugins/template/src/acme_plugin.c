/* Entry point of the template plugin: declare, then register. The host unloads the library
 * and drops everything registered if any step fails (all-or-nothing). */
#include "acme_plugin.h"

static const milo_plugin_info acme_info = {
    (uint32_t)sizeof(milo_plugin_info),
    MILO_ABI_VERSION, /* the ABI these headers describe */
    1u,               /* oldest host ABI this plugin works with */
    0u,
    "acme",  /* unique among loaded plugins */
    "1.0.0", /* the plugin's own version */
};

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &acme_info, error);
    if (st == MILO_OK) st = host->register_transporter(host->context, &acme_scorer_transporter, error);
    if (st == MILO_OK) st = host->register_format(host->context, &acme_props_format, error);
    return st;
}
