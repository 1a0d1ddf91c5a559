/* Variant (1): a well-behaved C99 plugin.
 *
 * Transporter "test.scorer" owns the toy type "test.Scorer", whose native form is one line of
 * text, "weights=1,2,3" (optionally followed by one newline). Its document is an object
 * test.Scorer whose state maps "weights" to a float64 tensor of shape [n].
 *
 * Format "testfmt" (".testfmt") encodes a document whose root is a string, line by line:
 * "MILOTEST", one "key=value" line per header field that is set, then "root=" followed by
 * the string's bytes up to the end of the file. Trust and metadata are not kept.
 *
 * No global mutable state: everything the callbacks need arrives as arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milo_test_plugin.h"

#define SCORER_PREFIX "weights="
#define SCORER_PREFIX_LEN 8u
#define TESTFMT_MAGIC "MILOTEST\n"
#define TESTFMT_MAGIC_LEN 9u

static milo_status fail(const milo_api* api, milo_error* error, milo_status status,
                        const char* name, const char* what, size_t offset) {
    char message[512];
    snprintf(message, sizeof message, "%s: byte %lu: %s", name, (unsigned long)offset, what);
    return api->error_set(error, status, message);
}

/* ---------------------------------------------------------------------------------------- */
/* transporter test.scorer                                                                  */
/* ---------------------------------------------------------------------------------------- */

static int32_t scorer_probe(void* self, const uint8_t* head, size_t size) {
    (void)self;
    if (size >= SCORER_PREFIX_LEN && memcmp(head, SCORER_PREFIX, SCORER_PREFIX_LEN) == 0) {
        return 90;
    }
    return 0;
}

/* Parses the comma-separated numbers of `text` (NUL-terminated, `len` bytes) into `out`
 * (room for `cap` values); returns the count, or -1 with `*bad` set to the offending offset. */
static long parse_weights(const char* text, size_t len, double* out, size_t cap, size_t* bad) {
    size_t count = 0;
    const char* p = text;
    const char* end_of_text = text + len;
    if (len == 0) return 0;
    for (;;) {
        char* end = NULL;
        double v;
        /* strtod skips leading blanks and accepts hex; the format does not. */
        if (p == end_of_text || *p == ',' || *p == ' ' || *p == '\t' || *p == '\n' ||
            (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))) {
            *bad = (size_t)(p - text);
            return -1;
        }
        v = strtod(p, &end);
        if (end == p || count == cap) {
            *bad = (size_t)(p - text);
            return -1;
        }
        out[count++] = v;
        if (end == end_of_text) return (long)count;
        if (*end != ',') {
            *bad = (size_t)(end - text);
            return -1;
        }
        p = end + 1;
    }
}

static milo_status set_headers(const milo_api* api, milo_doc* doc, milo_error* error) {
    static const char* const pairs[][2] = {
        {"transporter.id", "test.scorer"}, {"transporter.revision", "1"},
        {"type", "test.Scorer"},           {"framework.name", "milo-test"},
        {"framework.version", "1.0"},      {"source.kind", "scorer-text"},
    };
    size_t i;
    for (i = 0; i < sizeof pairs / sizeof pairs[0]; ++i) {
        milo_status st = api->doc_set_header(doc, pairs[i][0], pairs[i][1], error);
        if (st != MILO_OK) return st;
    }
    return MILO_OK;
}

static milo_status scorer_decode(void* self, const milo_api* api, milo_registry* registry,
                                 const uint8_t* data, size_t size, const char* path,
                                 milo_doc* doc, milo_error* error) {
    const char* name = path ? path : "<memory>";
    size_t len;
    char* text;
    double* weights;
    long count;
    size_t bad = 0;
    milo_status st;
    milo_value *tensor = NULL, *object = NULL, *state = NULL, *key = NULL;
    int64_t shape[1];
    void* tensor_data = NULL;
    size_t nbytes = 0;
    (void)self;
    (void)registry;

    if (size < SCORER_PREFIX_LEN || memcmp(data, SCORER_PREFIX, SCORER_PREFIX_LEN) != 0) {
        return fail(api, error, MILO_ERR_CORRUPT, name, "expected \"weights=\"", 0);
    }
    len = size - SCORER_PREFIX_LEN;
    if (len > 0 && data[size - 1] == '\n') --len;
    if (memchr(data + SCORER_PREFIX_LEN, '\0', len) != NULL) {
        return fail(api, error, MILO_ERR_CORRUPT, name, "NUL byte in weights",
                    SCORER_PREFIX_LEN);
    }
    text = (char*)malloc(len + 1);
    weights = (double*)malloc((len / 2 + 1) * sizeof(double)); /* at most one per 2 bytes */
    if (text == NULL || weights == NULL) {
        free(text);
        free(weights);
        return api->error_set(error, MILO_ERR_OUT_OF_MEMORY, "test.scorer: out of memory");
    }
    memcpy(text, data + SCORER_PREFIX_LEN, len);
    text[len] = '\0';
    count = parse_weights(text, len, weights, len / 2 + 1, &bad);
    free(text);
    if (count < 0) {
        free(weights);
        return fail(api, error, MILO_ERR_CORRUPT, name, "expected a number",
                    SCORER_PREFIX_LEN + bad);
    }

    shape[0] = (int64_t)count;
    st = api->value_create_tensor(doc, MILO_DTYPE_FLOAT64, shape, 1, &tensor, error);
    if (st == MILO_OK) st = api->value_tensor_mutable_data(tensor, &tensor_data, &nbytes, error);
    if (st == MILO_OK && nbytes != (size_t)count * sizeof(double)) {
        st = api->error_set(error, MILO_ERR_INTERNAL, "test.scorer: tensor size mismatch");
    }
    if (st == MILO_OK && nbytes > 0) memcpy(tensor_data, weights, nbytes);
    free(weights);
    if (st == MILO_OK) st = api->value_create_object(doc, "test.Scorer", &object, error);
    if (st == MILO_OK) st = api->value_create_container(doc, MILO_KIND_MAP, &state, error);
    if (st == MILO_OK) st = api->value_create_string(doc, "weights", 7, &key, error);
    if (st == MILO_OK) st = api->value_append_pair(state, key, tensor, error);
    if (st == MILO_OK) st = api->value_set_state(object, state, error);
    if (st == MILO_OK) st = api->doc_set_root(doc, object, error);
    if (st == MILO_OK) st = set_headers(api, doc, error);
    return st;
}

/* Shortest text that reads back as exactly `v`. */
static void format_double(double v, char* out, size_t cap) {
    int precision;
    if (isnan(v)) {
        snprintf(out, cap, "nan");
        return;
    }
    for (precision = 1; precision <= 17; ++precision) {
        snprintf(out, cap, "%.*g", precision, v);
        if (strtod(out, NULL) == v) return;
    }
}

static milo_status scorer_encode(void* self, const milo_api* api, milo_registry* registry,
                                 const milo_doc* doc, milo_write_fn write, void* write_context,
                                 milo_error* error) {
    const milo_value* root = api->doc_get_root(doc);
    const milo_value* weights;
    const char* type = NULL;
    int32_t dtype = 0;
    const int64_t* shape = NULL;
    size_t ndim = 0, nbytes = 0, i, count;
    const void* raw = NULL;
    milo_status st;
    (void)self;
    (void)registry;

    if (api->value_get_kind(root) != MILO_KIND_OBJECT ||
        api->value_get_name(root, &type, NULL) != MILO_OK || strcmp(type, "test.Scorer") != 0) {
        return api->error_set(error, MILO_ERR_TYPE, "test.scorer: root is not a test.Scorer");
    }
    weights = api->value_find(api->value_get_state(root), "weights");
    if (api->value_get_kind(weights) != MILO_KIND_TENSOR) {
        return api->error_set(error, MILO_ERR_TYPE, "test.scorer: /root/state/weights: no tensor");
    }
    /* Deliberately writes before validating the dtype, so tests can check that a failed
     * encode leaves no partial output behind. */
    st = write(write_context, SCORER_PREFIX, SCORER_PREFIX_LEN, error);
    if (st != MILO_OK) return st;
    st = api->value_get_tensor(weights, &dtype, &shape, &ndim, error);
    if (st != MILO_OK) return st;
    if (dtype != MILO_DTYPE_FLOAT64 || ndim != 1) {
        return api->error_set(error, MILO_ERR_TYPE,
                              "test.scorer: /root/state/weights: expected float64[n]");
    }
    st = api->value_tensor_data(weights, &raw, &nbytes, error);
    if (st != MILO_OK) return st;
    count = nbytes / sizeof(double);
    for (i = 0; i < count; ++i) {
        char text[40];
        double v;
        memcpy(&v, (const char*)raw + i * sizeof(double), sizeof v);
        format_double(v, text, sizeof text);
        if (i > 0) {
            st = write(write_context, ",", 1, error);
            if (st != MILO_OK) return st;
        }
        st = write(write_context, text, strlen(text), error);
        if (st != MILO_OK) return st;
    }
    return MILO_OK;
}

static const char* const scorer_types[] = {"test.Scorer", NULL};
static const char* const scorer_extensions[] = {".scorer", NULL};

static const milo_transporter scorer_transporter = {
    (uint32_t)sizeof(milo_transporter),
    MILO_ABI_VERSION,
    "test.scorer",
    "toy scorer for the registry tests",
    "1",
    "milo-test",
    scorer_types,
    scorer_extensions,
    NULL,
    scorer_probe,
    scorer_decode,
    scorer_encode,
    NULL,
    NULL,
};

/* ---------------------------------------------------------------------------------------- */
/* format testfmt                                                                           */
/* ---------------------------------------------------------------------------------------- */

static int32_t testfmt_probe(void* self, const uint8_t* head, size_t size) {
    (void)self;
    if (size >= TESTFMT_MAGIC_LEN && memcmp(head, TESTFMT_MAGIC, TESTFMT_MAGIC_LEN) == 0) {
        return 100;
    }
    return 0;
}

/* The header fields testfmt keeps, one "key=value" line each, in this order. */
static const char* const testfmt_header_keys[] = {
    "format_version",    "producer.name",   "producer.version", "framework.name",
    "framework.version", "transporter.id",  "transporter.revision", "type",
    "source.kind",       "source.version",  "source.sha256",
};
#define TESTFMT_HEADER_COUNT (sizeof testfmt_header_keys / sizeof testfmt_header_keys[0])
#define TESTFMT_ROOT "root="
#define TESTFMT_ROOT_LEN 5u

static milo_status testfmt_encode(void* self, const milo_api* api, const milo_doc* doc,
                                  const milo_encode_context* context, milo_error* error) {
    const char* text = NULL;
    size_t len = 0, i;
    milo_status st;
    (void)self;
    if (api->value_get_kind(api->doc_get_root(doc)) != MILO_KIND_STRING) {
        return api->error_set(error, MILO_ERR_TYPE, "testfmt: the root must be a string");
    }
    st = context->write(context->context, TESTFMT_MAGIC, TESTFMT_MAGIC_LEN, error);
    for (i = 0; st == MILO_OK && i < TESTFMT_HEADER_COUNT; ++i) {
        const char* value = NULL;
        const char* key = testfmt_header_keys[i];
        st = api->doc_get_header(doc, key, &value, error);
        if (st != MILO_OK || value == NULL) continue;
        if (strchr(value, '\n') != NULL) {
            return api->error_set(error, MILO_ERR_UNSUPPORTED, "testfmt: newline in a header");
        }
        st = context->write(context->context, key, strlen(key), error);
        if (st == MILO_OK) st = context->write(context->context, "=", 1, error);
        if (st == MILO_OK) st = context->write(context->context, value, strlen(value), error);
        if (st == MILO_OK) st = context->write(context->context, "\n", 1, error);
    }
    if (st == MILO_OK) st = api->value_get_string(api->doc_get_root(doc), &text, &len, error);
    if (st == MILO_OK) st = context->write(context->context, TESTFMT_ROOT, TESTFMT_ROOT_LEN, error);
    if (st == MILO_OK) st = context->write(context->context, text, len, error);
    return st;
}

/* Strict: the magic line, then known "key=value" lines, then "root=" and the string to the end
 * of the input. */
static milo_status testfmt_decode(void* self, const milo_api* api, milo_doc* doc,
                                  const milo_decode_context* context, milo_error* error) {
    const char* name = context->name ? context->name : "<memory>";
    const char* data = (const char*)context->data;
    size_t size = context->size, pos;
    milo_value* root = NULL;
    milo_status st;
    (void)self;
    if (size < TESTFMT_MAGIC_LEN || memcmp(data, TESTFMT_MAGIC, TESTFMT_MAGIC_LEN) != 0) {
        return fail(api, error, MILO_ERR_CORRUPT, name, "expected \"MILOTEST\\n\"", 0);
    }
    pos = TESTFMT_MAGIC_LEN;
    while (size - pos < TESTFMT_ROOT_LEN ||
           memcmp(data + pos, TESTFMT_ROOT, TESTFMT_ROOT_LEN) != 0) {
        const char* line = data + pos;
        const char* eol = (const char*)memchr(line, '\n', size - pos);
        const char* eq = eol ? (const char*)memchr(line, '=', (size_t)(eol - line)) : NULL;
        char key[64], value[256];
        size_t key_len, value_len, i;
        int known = 0;
        if (eq == NULL) return fail(api, error, MILO_ERR_CORRUPT, name, "expected key=value", pos);
        key_len = (size_t)(eq - line);
        value_len = (size_t)(eol - eq - 1);
        if (key_len >= sizeof key || value_len >= sizeof value) {
            return fail(api, error, MILO_ERR_CORRUPT, name, "header line too long", pos);
        }
        memcpy(key, line, key_len);
        key[key_len] = '\0';
        memcpy(value, eq + 1, value_len);
        value[value_len] = '\0';
        for (i = 0; i < TESTFMT_HEADER_COUNT; ++i) {
            known |= strcmp(key, testfmt_header_keys[i]) == 0;
        }
        if (!known) return fail(api, error, MILO_ERR_CORRUPT, name, "unknown header key", pos);
        st = api->doc_set_header(doc, key, value, error);
        if (st != MILO_OK) return st;
        pos = (size_t)(eol - data) + 1;
    }
    pos += TESTFMT_ROOT_LEN;
    st = api->value_create_string(doc, data + pos, size - pos, &root, error);
    if (st != MILO_OK) return st;
    return api->doc_set_root(doc, root, error);
}

static const char* const testfmt_extensions[] = {".testfmt", NULL};

static const milo_format testfmt_format = {
    (uint32_t)sizeof(milo_format),
    MILO_ABI_VERSION,
    "testfmt",
    "line-based test format: a string root only",
    testfmt_extensions,
    MILO_FORMAT_TEXT,
    0u,
    NULL,
    testfmt_probe,
    testfmt_encode,
    testfmt_decode,
    NULL,
    NULL,
};

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    milo_status st = host->declare_plugin(host->context, &milo_test_info, error);
    if (st != MILO_OK) return st;
    st = host->register_transporter(host->context, &scorer_transporter, error);
    if (st != MILO_OK) return st;
    return host->register_format(host->context, &testfmt_format, error);
}
