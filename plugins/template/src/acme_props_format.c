/* Format "acme.props": Milo documents <-> ACME's line-based property files (.props), the
 * format ACME's configuration system already reads. Every line ends with '\n':
 *
 *     milo-props 1
 *     @type=acme.Scorer             one line per header field that is set ("@key=value")
 *     object=acme.Scorer            the root: "object=TYPE" (an object whose state is the map
 *                                   below) or "map" (the map itself)
 *     name=str:fraud-v3             then one line per map entry: key=TAG:VALUE, with TAG one of
 *     threshold=float:0.75            null, bool (true|false), int (decimal, any size),
 *     weights=f64:0.25,-1.5,2         float (shortest exact decimal, inf, -inf, nan),
 *                                     str (raw UTF-8 to the end of the line),
 *                                     f64 (a float64 tensor [k], comma-separated),
 *                                     ext (COUNT:NAME, a float64 tensor [COUNT] kept as NAME
 *                                     in the sidecar file of external tensor mode)
 *
 * Only documents of that shape fit. Encoding anything else (nested values, other tensors, a
 * trust report, metadata, a string with a newline) fails with MILO_ERR_UNSUPPORTED and the
 * document path: a format must never drop data silently. Decoding is strict: any deviation
 * is MILO_ERR_CORRUPT with the line number.
 *
 * Numbers use strtod/snprintf, which follow LC_NUMERIC: the host must run in the "C" locale
 * (Milo's tools do). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme_plugin.h"

#define MAGIC_LINE "milo-props 1\n"
#define MAGIC_LINE_LEN 13u

/* The header fields a document can carry (milo_doc_get_header's keys), in file order. */
static const char* const header_keys[] = {
    "format_version",  "producer.name",  "producer.version", "framework.name",
    "framework.version", "transporter.id", "transporter.revision", "type",
    "source.kind",     "source.version", "source.sha256",    "external.file",
    "external.sha256",
};
#define HEADER_KEY_COUNT (sizeof header_keys / sizeof header_keys[0])

/* ---------------------------------------------------------------------------------------- */
/* encode                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static milo_status put(const milo_encode_context* out, const char* text, size_t len,
                       milo_error* error) {
    return out->write(out->context, text, len, error);
}

static milo_status puts_(const milo_encode_context* out, const char* text, milo_error* error) {
    return put(out, text, strlen(text), error);
}

static milo_status unsupported(const milo_api* api, milo_error* error, const char* path,
                               const char* what) {
    char message[512];
    snprintf(message, sizeof message, "acme.props: %s: %s", path, what);
    return api->error_set(error, MILO_ERR_UNSUPPORTED, message);
}

/* Shortest decimal text that strtod reads back as exactly `v` (finite `v`). */
static void format_double(double v, char* text, size_t cap) {
    int precision;
    for (precision = 1; precision <= 17; ++precision) {
        snprintf(text, cap, "%.*g", precision, v);
        if (strtod(text, NULL) == v) return;
    }
}

/* Writes one float as the file spells it; NaNs other than the default one cannot be spelled. */
static milo_status put_double(const milo_api* api, const milo_encode_context* out, double v,
                              const char* path, milo_error* error) {
    char text[40];
    if (isnan(v)) {
        double canonical = strtod("nan", NULL);
        if (memcmp(&v, &canonical, sizeof v) != 0) {
            return unsupported(api, error, path, "a NaN with a payload or sign cannot be written");
        }
        return puts_(out, "nan", error);
    }
    if (isinf(v)) return puts_(out, v < 0 ? "-inf" : "inf", error);
    format_double(v, text, sizeof text);
    return puts_(out, text, error);
}

static milo_status put_value(const milo_api* api, const milo_encode_context* out,
                             const milo_value* value, const char* path, milo_error* error) {
    const char* text = NULL;
    size_t len = 0, nbytes = 0, ndim = 0, i;
    bool b = false;
    double d = 0;
    int32_t dtype = 0;
    const int64_t* shape = NULL;
    const void* raw = NULL;
    milo_status st = MILO_OK;

    switch (api->value_get_kind(value)) {
        case MILO_KIND_NULL:
            return puts_(out, "null:", error);
        case MILO_KIND_BOOL:
            st = api->value_get_bool(value, &b, error);
            return st != MILO_OK ? st : puts_(out, b ? "bool:true" : "bool:false", error);
        case MILO_KIND_INT: /* decimal text keeps integers beyond 64 bits exact */
            st = api->value_get_int_text(value, &text, error);
            if (st == MILO_OK) st = puts_(out, "int:", error);
            return st != MILO_OK ? st : puts_(out, text, error);
        case MILO_KIND_FLOAT:
            st = api->value_get_float(value, &d, error);
            if (st == MILO_OK) st = puts_(out, "float:", error);
            return st != MILO_OK ? st : put_double(api, out, d, path, error);
        case MILO_KIND_STRING:
            st = api->value_get_string(value, &text, &len, error);
            if (st != MILO_OK) return st;
            if (memchr(text, '\n', len) != NULL) {
                return unsupported(api, error, path, "a string with a newline cannot be written");
            }
            st = puts_(out, "str:", error);
            return st != MILO_OK ? st : put(out, text, len, error);
        case MILO_KIND_TENSOR:
            st = api->value_get_tensor(value, &dtype, &shape, &ndim, error);
            if (st != MILO_OK) return st;
            if (dtype != MILO_DTYPE_FLOAT64 || ndim != 1) {
                return unsupported(api, error, path, "only float64 tensors [k] can be written");
            }
            /* Saved with external tensors, the host keeps the bytes in a sidecar file and
             * tells us the tensor's name there; the line then only refers to it. */
            if (out->tensor_storage(out->context, value, &text) == MILO_TENSORS_EXTERNAL) {
                char ref[64];
                snprintf(ref, sizeof ref, "ext:%lld:", (long long)shape[0]);
                st = puts_(out, ref, error);
                return st != MILO_OK ? st : puts_(out, text, error);
            }
            st = api->value_tensor_data(value, &raw, &nbytes, error);
            if (st == MILO_OK) st = puts_(out, "f64:", error);
            for (i = 0; st == MILO_OK && i < nbytes / sizeof d; ++i) {
                memcpy(&d, (const char*)raw + i * sizeof d, sizeof d);
                if (i > 0) st = puts_(out, ",", error);
                if (st == MILO_OK) st = put_double(api, out, d, path, error);
            }
            return st;
        default:
            return unsupported(api, error, path,
                               "only null, bool, int, float, str and float64 [k] values fit");
    }
}

static milo_status props_encode(void* self, const milo_api* api, const milo_doc* doc,
                                const milo_encode_context* out, milo_error* error) {
    const milo_value* root = api->doc_get_root(doc);
    const milo_value* map = root;
    const char* type = NULL;
    size_t i;
    milo_status st;
    (void)self;

    if (api->doc_trust_count(doc) > 0 || api->doc_metadata_count(doc) > 0) {
        return unsupported(api, error, "/", "a trust report or metadata cannot be written");
    }
    if (api->value_get_kind(root) == MILO_KIND_OBJECT) {
        map = api->value_get_state(root);
        if (api->value_get_args(root) != NULL) {
            return unsupported(api, error, "/root/args", "object arguments cannot be written");
        }
        api->value_get_name(root, &type, NULL);
        if (strchr(type, '\n') != NULL) {
            return unsupported(api, error, "/root", "a type name with a newline");
        }
    }
    if (api->value_get_kind(map) != MILO_KIND_MAP) {
        return unsupported(api, error, "/root",
                           "the root must be a map, or an object whose state is a map");
    }

    st = put(out, MAGIC_LINE, MAGIC_LINE_LEN, error);
    for (i = 0; st == MILO_OK && i < HEADER_KEY_COUNT; ++i) {
        const char* value = NULL;
        st = api->doc_get_header(doc, header_keys[i], &value, error);
        if (st != MILO_OK || value == NULL) continue;
        if (strchr(value, '\n') != NULL) {
            return unsupported(api, error, header_keys[i], "a header value with a newline");
        }
        st = puts_(out, "@", error);
        if (st == MILO_OK) st = puts_(out, header_keys[i], error);
        if (st == MILO_OK) st = puts_(out, "=", error);
        if (st == MILO_OK) st = puts_(out, value, error); /* header values have no newline */
        if (st == MILO_OK) st = puts_(out, "\n", error);
    }
    if (st == MILO_OK) st = puts_(out, type ? "object=" : "map", error);
    if (st == MILO_OK && type) st = puts_(out, type, error);
    if (st == MILO_OK) st = puts_(out, "\n", error);

    for (i = 0; st == MILO_OK && i < api->value_count(map); ++i) {
        const milo_value* key = api->value_key_at(map, i);
        const char* name = NULL;
        size_t len = 0;
        char path[300];
        if (api->value_get_kind(key) != MILO_KIND_STRING ||
            api->value_get_string(key, &name, &len, NULL) != MILO_OK || len == 0 ||
            name[0] == '@' || memchr(name, '=', len) || memchr(name, '\n', len) ||
            strlen(name) != len) {
            snprintf(path, sizeof path, "%s[%lu]", type ? "/root/state" : "/root",
                     (unsigned long)i);
            return unsupported(api, error, path,
                               "keys must be non-empty strings without '=', newline or NUL, "
                               "not starting with '@'");
        }
        snprintf(path, sizeof path, "%s/%s", type ? "/root/state" : "/root", name);
        st = put(out, name, len, error);
        if (st == MILO_OK) st = puts_(out, "=", error);
        if (st == MILO_OK) st = put_value(api, out, api->value_at(map, i), path, error);
        if (st == MILO_OK) st = puts_(out, "\n", error);
    }
    return st;
}

/* ---------------------------------------------------------------------------------------- */
/* decode                                                                                    */
/* ---------------------------------------------------------------------------------------- */

static milo_status corrupt(const milo_api* api, milo_error* error,
                           const milo_decode_context* in, size_t line, const char* what) {
    char message[512];
    snprintf(message, sizeof message, "%s: line %lu: %s", in->name ? in->name : "<memory>",
             (unsigned long)line, what);
    return api->error_set(error, MILO_ERR_CORRUPT, message);
}

/* Parses the whole of [text, text+len) as a float as format_double/put_double write it. */
static int parse_double(const char* text, size_t len, double* out) {
    char buf[64];
    char* end = NULL;
    if (len == 0 || len >= sizeof buf) return 0;
    memcpy(buf, text, len);
    buf[len] = '\0';
    /* strtod also takes blanks, '+', hex and "infinity"; the format does not. */
    if (strspn(buf, "0123456789.eE+-nainf") != len || buf[0] == '+' ||
        strstr(buf, "infinity") != NULL || strcmp(buf, "-nan") == 0) {
        return 0;
    }
    *out = strtod(buf, &end);
    return end == buf + len;
}

static milo_status parse_value(const milo_api* api, milo_doc* doc, const char* text, size_t len,
                               const milo_decode_context* in, size_t line, milo_value** out,
                               milo_error* error) {
    const char* colon = (const char*)memchr(text, ':', len);
    const char* v = colon ? colon + 1 : NULL;
    size_t n = colon ? len - (size_t)(v - text) : 0, tag = colon ? (size_t)(colon - text) : 0;
    double d = 0;
    milo_status st;

    if (colon == NULL) return corrupt(api, error, in, line, "expected TAG:VALUE after '='");
    if (tag == 4 && memcmp(text, "null", 4) == 0 && n == 0) {
        return api->value_create_null(doc, out, error);
    }
    if (tag == 4 && memcmp(text, "bool", 4) == 0) {
        if (n == 4 && memcmp(v, "true", 4) == 0) return api->value_create_bool(doc, true, out, error);
        if (n == 5 && memcmp(v, "false", 5) == 0) return api->value_create_bool(doc, false, out, error);
        return corrupt(api, error, in, line, "expected bool:true or bool:false");
    }
    if (tag == 3 && memcmp(text, "int", 3) == 0) {
        st = api->value_create_int_text(doc, v, n, out, error);
        return st == MILO_OK || st == MILO_ERR_OUT_OF_MEMORY
                   ? st
                   : corrupt(api, error, in, line, "expected a decimal integer after int:");
    }
    if (tag == 5 && memcmp(text, "float", 5) == 0) {
        if (!parse_double(v, n, &d)) return corrupt(api, error, in, line, "expected a number after float:");
        return api->value_create_float(doc, d, out, error);
    }
    if (tag == 3 && memcmp(text, "str", 3) == 0) {
        st = api->value_create_string(doc, v, n, out, error);
        return st == MILO_OK || st == MILO_ERR_OUT_OF_MEMORY
                   ? st
                   : corrupt(api, error, in, line, "str: value is not valid UTF-8");
    }
    if (tag == 3 && memcmp(text, "f64", 3) == 0) {
        int64_t count = n == 0 ? 0 : 1;
        size_t i, start = 0, k = 0, nbytes = 0;
        void* data = NULL;
        for (i = 0; i < n; ++i) count += v[i] == ',';
        st = api->value_create_tensor(doc, MILO_DTYPE_FLOAT64, &count, 1, out, error);
        if (st == MILO_OK) st = api->value_tensor_mutable_data(*out, &data, &nbytes, error);
        for (i = 0; st == MILO_OK && n > 0 && i <= n; ++i) {
            if (i < n && v[i] != ',') continue;
            if (!parse_double(v + start, i - start, &d)) {
                return corrupt(api, error, in, line, "expected comma-separated numbers after f64:");
            }
            memcpy((char*)data + k++ * sizeof d, &d, sizeof d);
            start = i + 1;
        }
        return st;
    }
    if (tag == 3 && memcmp(text, "ext", 3) == 0) {
        /* ext:K:NAME, a float64 tensor [K] stored as NAME in the document's sidecar file. */
        const char* sep = (const char*)memchr(v, ':', n);
        char count[24], name[256];
        char* end = NULL;
        int64_t k;
        if (sep == NULL || sep == v || (size_t)(sep - v) >= sizeof count ||
            n - (size_t)(sep - v) - 1 >= sizeof name || sep + 1 == v + n) {
            return corrupt(api, error, in, line, "expected ext:COUNT:NAME");
        }
        memcpy(count, v, (size_t)(sep - v));
        count[sep - v] = '\0';
        memcpy(name, sep + 1, n - (size_t)(sep - v) - 1);
        name[n - (size_t)(sep - v) - 1] = '\0';
        k = strtoll(count, &end, 10);
        if (*end != '\0' || count[0] < '0' || count[0] > '9' || k < 0) {
            return corrupt(api, error, in, line, "expected ext:COUNT:NAME");
        }
        return in->create_external_tensor(in->context, doc, MILO_DTYPE_FLOAT64, &k, 1, name, out,
                                          error);
    }
    return corrupt(api, error, in, line, "unknown tag (null, bool, int, float, str, f64, ext)");
}

static milo_status props_decode(void* self, const milo_api* api, milo_doc* doc,
                                const milo_decode_context* in, milo_error* error) {
    const char* data = (const char*)in->data;
    size_t pos = MAGIC_LINE_LEN, line = 2, i;
    milo_value *root = NULL, *map = NULL;
    milo_status st;
    (void)self;

    if (in->size < MAGIC_LINE_LEN || memcmp(data, MAGIC_LINE, MAGIC_LINE_LEN) != 0) {
        return corrupt(api, error, in, 1, "expected \"milo-props 1\"");
    }
    st = api->value_create_container(doc, MILO_KIND_MAP, &map, error);
    for (; st == MILO_OK && pos < in->size; ++line) {
        const char* text = data + pos;
        const char* eol = (const char*)memchr(text, '\n', in->size - pos);
        const char* eq;
        size_t len;
        if (eol == NULL) return corrupt(api, error, in, line, "the last line has no newline");
        len = (size_t)(eol - text);
        pos += len + 1;
        eq = (const char*)memchr(text, '=', len);

        if (root == NULL) {
            /* Header lines, then the root line. */
            char key[32], value[1024];
            size_t key_len = eq ? (size_t)(eq - text) - 1 : 0, value_len = eq ? (size_t)(eol - eq) - 1 : 0;
            int known = 0;
            if (len == 3 && memcmp(text, "map", 3) == 0) {
                root = map;
                continue;
            }
            if (eq != NULL && (size_t)(eq - text) == 6 && memcmp(text, "object", 6) == 0) {
                if (value_len == 0 || value_len >= sizeof value) {
                    return corrupt(api, error, in, line, "expected object=TYPE");
                }
                memcpy(value, eq + 1, value_len);
                value[value_len] = '\0';
                st = api->value_create_object(doc, value, &root, error);
                if (st == MILO_OK) st = api->value_set_state(root, map, error);
                continue;
            }
            if (text[0] != '@' || eq == NULL) {
                return corrupt(api, error, in, line, "expected @KEY=VALUE, object=TYPE or map");
            }
            if (key_len == 0 || key_len >= sizeof key || value_len >= sizeof value) {
                return corrupt(api, error, in, line, "header line too long");
            }
            memcpy(key, text + 1, key_len);
            key[key_len] = '\0';
            memcpy(value, eq + 1, value_len);
            value[value_len] = '\0';
            for (i = 0; i < HEADER_KEY_COUNT; ++i) known |= strcmp(key, header_keys[i]) == 0;
            if (!known) return corrupt(api, error, in, line, "unknown header key");
            if (api->doc_set_header(doc, key, value, error) != MILO_OK) {
                return corrupt(api, error, in, line, "invalid header value");
            }
        } else {
            milo_value *key = NULL, *value = NULL;
            if (eq == NULL || eq == text || text[0] == '@') {
                return corrupt(api, error, in, line, "expected KEY=TAG:VALUE");
            }
            st = api->value_create_string(doc, text, (size_t)(eq - text), &key, error);
            if (st != MILO_OK) return st == MILO_ERR_OUT_OF_MEMORY ? st : corrupt(api, error, in, line, "key is not valid UTF-8");
            st = parse_value(api, doc, eq + 1, len - (size_t)(eq - text) - 1, in, line, &value, error);
            if (st == MILO_OK) st = api->value_append_pair(map, key, value, error);
        }
    }
    if (st != MILO_OK) return st;
    if (root == NULL) return corrupt(api, error, in, line, "expected object=TYPE or map");
    return api->doc_set_root(doc, root, error);
}

static int32_t props_probe(void* self, const uint8_t* head, size_t size) {
    (void)self;
    return size >= MAGIC_LINE_LEN && memcmp(head, MAGIC_LINE, MAGIC_LINE_LEN) == 0 ? 100 : 0;
}

static const char* const props_extensions[] = {".props", NULL};

const milo_format acme_props_format = {
    (uint32_t)sizeof(milo_format),
    MILO_ABI_VERSION,
    "acme.props", /* id: --to acme.props, and the "format" save option */
    "ACME property files: flat documents as key=type:value lines",
    props_extensions,
    MILO_FORMAT_TEXT, /* flags: a text format */
    0u,
    NULL, /* self */
    props_probe,
    props_encode,
    props_decode,
    NULL, /* destroy */
    NULL, /* get_extension */
};
