/* Transporter "acme.scorer": ACME's in-house scoring model <-> Milo document.
 *
 * Native file (.acmescore), all numbers little-endian:
 *     "ACMESCR1"          8-byte magic
 *     u32 n, n bytes      name, UTF-8
 *     f64                 threshold
 *     u32 k, k x f64      weights
 * and nothing after the last weight.
 *
 * Document: root object "acme.Scorer" whose state is the map
 *     {"name": string, "threshold": float, "weights": float64 tensor [k]}.
 * Both directions are exact: floats are copied bit for bit. */
#include <stdio.h>
#include <string.h>

#include "acme_plugin.h"

#define MAGIC "ACMESCR1"
#define MAGIC_LEN 8u
#define TYPE "acme.Scorer"

/* A bounded reader over the input: every read checks the remaining size first. */
typedef struct reader {
    const uint8_t* data;
    size_t size;
    size_t pos;
} reader;

static int read_u32(reader* r, uint32_t* out) {
    if (r->size - r->pos < 4) return 0;
    *out = (uint32_t)r->data[r->pos] | (uint32_t)r->data[r->pos + 1] << 8 |
           (uint32_t)r->data[r->pos + 2] << 16 | (uint32_t)r->data[r->pos + 3] << 24;
    r->pos += 4;
    return 1;
}

static uint64_t load_u64(const uint8_t* p) {
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; --i) v = v << 8 | p[i];
    return v;
}

static int read_f64(reader* r, double* out) {
    uint64_t bits;
    if (r->size - r->pos < 8) return 0;
    bits = load_u64(r->data + r->pos);
    memcpy(out, &bits, sizeof *out);
    r->pos += 8;
    return 1;
}

/* "file: byte N: what" — every decoding error names the input and the offset. */
static milo_status corrupt(const milo_api* api, milo_error* error, const char* path,
                           size_t offset, const char* what) {
    char message[512];
    snprintf(message, sizeof message, "%s: byte %lu: %s", path ? path : "<memory>",
             (unsigned long)offset, what);
    return api->error_set(error, MILO_ERR_CORRUPT, message);
}

static int32_t scorer_probe(void* self, const uint8_t* head, size_t size) {
    (void)self;
    return size >= MAGIC_LEN && memcmp(head, MAGIC, MAGIC_LEN) == 0 ? 100 : 0;
}

/* Appends key -> value to `map`. */
static milo_status put(const milo_api* api, milo_doc* doc, milo_value* map, const char* key,
                       milo_value* value, milo_error* error) {
    milo_value* k = NULL;
    milo_status st = api->value_create_string(doc, key, strlen(key), &k, error);
    return st != MILO_OK ? st : api->value_append_pair(map, k, value, error);
}

static milo_status scorer_decode(void* self, const milo_api* api, milo_registry* registry,
                                 const uint8_t* data, size_t size, const char* path,
                                 milo_doc* doc, milo_error* error) {
    reader r = {data, size, 0};
    uint32_t name_len = 0, count = 0, i;
    double threshold = 0;
    milo_value *root = NULL, *state = NULL, *name = NULL, *thr = NULL, *weights = NULL;
    int64_t shape[1];
    void* out = NULL;
    size_t nbytes = 0;
    milo_status st;
    (void)self;
    (void)registry;

    if (size < MAGIC_LEN || memcmp(data, MAGIC, MAGIC_LEN) != 0) {
        return corrupt(api, error, path, 0, "expected the magic \"" MAGIC "\"");
    }
    r.pos = MAGIC_LEN;
    if (!read_u32(&r, &name_len)) return corrupt(api, error, path, r.pos, "expected the name length");
    /* Lengths come from the file: check them against what is left before using them. */
    if (name_len > r.size - r.pos) {
        return corrupt(api, error, path, r.pos, "name length runs past the end of the file");
    }
    st = api->value_create_string(doc, (const char*)data + r.pos, name_len, &name, error);
    if (st == MILO_ERR_OUT_OF_MEMORY) return st;
    if (st != MILO_OK) return corrupt(api, error, path, r.pos, "name is not valid UTF-8");
    r.pos += name_len;
    if (!read_f64(&r, &threshold)) return corrupt(api, error, path, r.pos, "expected the threshold");
    if (!read_u32(&r, &count)) return corrupt(api, error, path, r.pos, "expected the weight count");
    if ((uint64_t)count * 8u != r.size - r.pos) {
        return corrupt(api, error, path, r.pos,
                       "weight count does not match the bytes left (8 per weight, then the end)");
    }

    shape[0] = (int64_t)count;
    st = api->value_create_tensor(doc, MILO_DTYPE_FLOAT64, shape, 1, &weights, error);
    if (st == MILO_OK) st = api->value_tensor_mutable_data(weights, &out, &nbytes, error);
    for (i = 0; st == MILO_OK && i < count; ++i) {
        double w = 0;
        read_f64(&r, &w); /* cannot fail: the size was checked above */
        memcpy((char*)out + (size_t)i * 8u, &w, 8);
    }
    if (st == MILO_OK) st = api->value_create_float(doc, threshold, &thr, error);
    if (st == MILO_OK) st = api->value_create_container(doc, MILO_KIND_MAP, &state, error);
    if (st == MILO_OK) st = put(api, doc, state, "name", name, error);
    if (st == MILO_OK) st = put(api, doc, state, "threshold", thr, error);
    if (st == MILO_OK) st = put(api, doc, state, "weights", weights, error);
    if (st == MILO_OK) st = api->value_create_object(doc, TYPE, &root, error);
    if (st == MILO_OK) st = api->value_set_state(root, state, error);
    if (st == MILO_OK) st = api->doc_set_root(doc, root, error);
    /* The header says what this document is; the host adds transporter.id and source.sha256. */
    if (st == MILO_OK) st = api->doc_set_header(doc, "type", TYPE, error);
    if (st == MILO_OK) st = api->doc_set_header(doc, "framework.name", "acme-scoring", error);
    if (st == MILO_OK) st = api->doc_set_header(doc, "source.kind", "acmescore", error);
    if (st == MILO_OK) st = api->doc_set_header(doc, "source.version", "1", error);
    return st;
}

/* The state entry `key`, which must have kind `kind`; errors name the document path. */
static milo_status field(const milo_api* api, const milo_value* state, const char* key,
                         int32_t kind, const milo_value** out, milo_error* error) {
    char message[256];
    *out = api->value_find(state, key);
    if (api->value_get_kind(*out) == kind) return MILO_OK;
    snprintf(message, sizeof message, "acme.scorer: /root/state/%s: %s", key,
             *out ? "has the wrong kind" : "is missing");
    return api->error_set(error, MILO_ERR_TYPE, message);
}

static void store_u32(uint8_t* p, uint32_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void store_f64(uint8_t* p, double v) {
    uint64_t bits;
    int i;
    memcpy(&bits, &v, sizeof bits);
    for (i = 0; i < 8; ++i) p[i] = (uint8_t)(bits >> (8 * i));
}

static milo_status scorer_encode(void* self, const milo_api* api, milo_registry* registry,
                                 const milo_doc* doc, milo_write_fn write, void* write_context,
                                 milo_error* error) {
    const milo_value* root = api->doc_get_root(doc);
    const milo_value *state, *name, *thr, *weights;
    const char* type = NULL;
    const char* text = NULL;
    size_t text_len = 0, nbytes = 0, i;
    double threshold = 0;
    int32_t dtype = 0;
    const int64_t* shape = NULL;
    size_t ndim = 0;
    const void* raw = NULL;
    uint8_t buf[8];
    milo_status st;
    (void)self;
    (void)registry;

    /* Validate everything before the first write: the host discards a failed output anyway,
     * but a complete check gives the user one precise message. */
    if (api->value_get_kind(root) != MILO_KIND_OBJECT ||
        api->value_get_name(root, &type, NULL) != MILO_OK || strcmp(type, TYPE) != 0) {
        return api->error_set(error, MILO_ERR_TYPE, "acme.scorer: /root: expected an object " TYPE);
    }
    state = api->value_get_state(root);
    if (api->value_get_kind(state) != MILO_KIND_MAP || api->value_count(state) != 3) {
        /* Anything beyond the three fields would be lost in the native file: refuse it. */
        return api->error_set(error, MILO_ERR_UNSUPPORTED,
                              "acme.scorer: /root/state: expected a map of exactly name, "
                              "threshold and weights");
    }
    st = field(api, state, "name", MILO_KIND_STRING, &name, error);
    if (st == MILO_OK) st = field(api, state, "threshold", MILO_KIND_FLOAT, &thr, error);
    if (st == MILO_OK) st = field(api, state, "weights", MILO_KIND_TENSOR, &weights, error);
    if (st == MILO_OK) st = api->value_get_string(name, &text, &text_len, error);
    if (st == MILO_OK) st = api->value_get_float(thr, &threshold, error);
    if (st == MILO_OK) st = api->value_get_tensor(weights, &dtype, &shape, &ndim, error);
    if (st != MILO_OK) return st;
    if (dtype != MILO_DTYPE_FLOAT64 || ndim != 1) {
        return api->error_set(error, MILO_ERR_TYPE,
                              "acme.scorer: /root/state/weights: expected a float64 tensor [k]");
    }
    st = api->value_tensor_data(weights, &raw, &nbytes, error);
    if (st != MILO_OK) return st;
    if (text_len > UINT32_MAX || nbytes / 8u > UINT32_MAX) {
        return api->error_set(error, MILO_ERR_LIMIT, "acme.scorer: name or weights too long");
    }

    st = write(write_context, MAGIC, MAGIC_LEN, error);
    store_u32(buf, (uint32_t)text_len);
    if (st == MILO_OK) st = write(write_context, buf, 4, error);
    if (st == MILO_OK) st = write(write_context, text, text_len, error);
    store_f64(buf, threshold);
    if (st == MILO_OK) st = write(write_context, buf, 8, error);
    store_u32(buf, (uint32_t)(nbytes / 8u));
    if (st == MILO_OK) st = write(write_context, buf, 4, error);
    for (i = 0; st == MILO_OK && i < nbytes / 8u; ++i) {
        double w;
        memcpy(&w, (const char*)raw + i * 8u, 8);
        store_f64(buf, w);
        st = write(write_context, buf, 8, error);
    }
    return st;
}

static const char* const scorer_types[] = {TYPE, NULL};
static const char* const scorer_extensions[] = {".acmescore", NULL};

/* Static storage: the descriptor and its strings must outlive the registration. */
const milo_transporter acme_scorer_transporter = {
    (uint32_t)sizeof(milo_transporter),
    MILO_ABI_VERSION,
    "acme.scorer",                             /* id */
    "ACME scoring models (.acmescore files)", /* description for `milo plugins` */
    "1",                                       /* revision of the document layout */
    "acme-scoring",                            /* framework */
    scorer_types,
    scorer_extensions,
    NULL, /* self: no per-transporter state */
    scorer_probe,
    scorer_decode,
    scorer_encode,
    NULL, /* destroy */
    NULL, /* get_extension */
};
