/* Shared bits of the test plugin variants: the declared info and minimal descriptors whose
 * callbacks do nothing useful. C99; each variant includes it once. */
#ifndef MILO_TEST_PLUGIN_H
#define MILO_TEST_PLUGIN_H

#include <milo/plugin.h>

#ifndef MILO_TEST_PLUGIN_NAME
#error "MILO_TEST_PLUGIN_NAME must be defined by the build (the target name)"
#endif

/* Not every variant uses every helper. */
#define MILO_TEST_UNUSED __attribute__((unused))

/* Declared name = file stem, so every message can be matched against either. */
MILO_TEST_UNUSED static const milo_plugin_info milo_test_info = {
    (uint32_t)sizeof(milo_plugin_info), MILO_ABI_VERSION, 1u, 0u, MILO_TEST_PLUGIN_NAME, "1.0.0"};

MILO_TEST_UNUSED static int32_t milo_test_probe_never(void* self, const uint8_t* head,
                                                      size_t size) {
    (void)self;
    (void)head;
    (void)size;
    return 0;
}

MILO_TEST_UNUSED static milo_status milo_test_decode_unsupported(
    void* self, const milo_api* api, milo_registry* registry, const uint8_t* data, size_t size,
    const char* path, milo_doc* doc, milo_error* error) {
    (void)self;
    (void)registry;
    (void)data;
    (void)size;
    (void)path;
    (void)doc;
    return api->error_set(error, MILO_ERR_UNSUPPORTED, MILO_TEST_PLUGIN_NAME ": no decode");
}

MILO_TEST_UNUSED static milo_status milo_test_format_encode_unsupported(
    void* self, const milo_api* api, const milo_doc* doc, const milo_encode_context* context,
    milo_error* error) {
    (void)self;
    (void)doc;
    (void)context;
    return api->error_set(error, MILO_ERR_UNSUPPORTED, MILO_TEST_PLUGIN_NAME ": no encode");
}

/* A transporter descriptor with id `ID`, types `TYPES` (NULL-terminated array or NULL). */
#define MILO_TEST_TRANSPORTER(ID, TYPES)                                                    \
    {(uint32_t)sizeof(milo_transporter), MILO_ABI_VERSION, ID, "test transporter " ID, "1", \
     "milo-test", TYPES, NULL, NULL, milo_test_probe_never, milo_test_decode_unsupported,    \
     NULL, NULL, NULL}

/* A format descriptor with id `ID` and extensions `EXTS`. */
#define MILO_TEST_FORMAT(ID, EXTS)                                                           \
    {(uint32_t)sizeof(milo_format), MILO_ABI_VERSION, ID, "test format " ID, EXTS, 0u, 0u, NULL, \
     milo_test_probe_never, milo_test_format_encode_unsupported, NULL, NULL, NULL}

#endif /* MILO_TEST_PLUGIN_H */
