/* A plugin compiled against the FROZEN ABI-1 headers (tests/abi/frozen_abi1, never edited), not
 * sdk/include. Every later libmilo must load it and run it: abi_compat_test checks that the
 * document it builds through the ABI-1 api table equals one built by the current library.
 *
 * Transporter "frozen.abi1": native input "FROZEN1\n" + UTF-8 text. The document's root is an
 * object "frozen.Everything" whose state holds one value of every kind and every tensor flavour
 * (built through as many api-table entries as possible), with the text under "text".
 * Format "frozen1": a document whose root is a string, as "FROZEN1FMT\n" + the string (the
 * header is not kept). */
#include <milo/plugin.h>
#include <string.h>

#define NATIVE_MAGIC "FROZEN1\n"
#define FORMAT_MAGIC "FROZEN1FMT\n"

#if MILO_ABI_VERSION != 1
#error "this plugin must be compiled against the frozen ABI-1 headers"
#endif

static const milo_plugin_info info = {(uint32_t)sizeof(milo_plugin_info), 1u, 1u, 0u,
                                      "frozen_abi1", "1.0.0"};

#define TRY(call)                           \
    do {                                    \
        milo_status try_st_ = (call);       \
        if (try_st_ != MILO_OK) return try_st_; \
    } while (0)

static milo_status put(const milo_api* api, milo_doc* doc, milo_value* map, const char* key,
                       milo_value* value, milo_error* error) {
    milo_value* k = NULL;
    TRY(api->value_create_string(doc, key, strlen(key), &k, error));
    return api->value_append_pair(map, k, value, error);
}

static int32_t frozen_probe(void* self, const uint8_t* head, size_t size) {
    (void)self;
    return size >= 8 && memcmp(head, NATIVE_MAGIC, 8) == 0 ? 100 : 0;
}

static milo_status frozen_decode(void* self, const milo_api* api, milo_registry* registry,
                                 const uint8_t* data, size_t size, const char* path,
                                 milo_doc* doc, milo_error* error) {
    static const int64_t shape23[2] = {2, 3};
    static const int64_t shape2[1] = {2};
    static const float borrowed[2] = {1.5f, -2.5f};
    milo_value *root, *state, *v, *list, *tuple, *set, *map, *obj, *args, *t;
    void* raw = NULL;
    size_t nbytes = 0;
    int i;
    (void)self;
    (void)registry;
    if (size < 8 || memcmp(data, NATIVE_MAGIC, 8) != 0) {
        return api->error_set(error, MILO_ERR_CORRUPT, "frozen.abi1: byte 0: expected FROZEN1");
    }
    (void)path;
    TRY(api->value_create_object(doc, "frozen.Everything", &root, error));
    TRY(api->value_create_container(doc, MILO_KIND_MAP, &state, error));
    TRY(api->value_set_state(root, state, error));
    TRY(api->value_create_string(doc, (const char*)data + 8, size - 8, &v, error));
    TRY(put(api, doc, state, "text", v, error));
    TRY(api->value_create_null(doc, &v, error));
    TRY(put(api, doc, state, "null", v, error));
    TRY(api->value_create_bool(doc, true, &v, error));
    TRY(put(api, doc, state, "bool", v, error));
    TRY(api->value_create_int(doc, -42, &v, error));
    TRY(put(api, doc, state, "int", v, error));
    TRY(api->value_create_int_text(doc, "123456789012345678901234567890", 30, &v, error));
    TRY(put(api, doc, state, "bigint", v, error));
    TRY(api->value_create_float(doc, -0.0, &v, error));
    TRY(put(api, doc, state, "float", v, error));
    TRY(api->value_create_bytes(doc, (const uint8_t*)"\0\1\2", 3, &v, error));
    TRY(put(api, doc, state, "bytes", v, error));
    TRY(api->value_create_global(doc, "numpy.float64", &v, error));
    TRY(put(api, doc, state, "global", v, error));
    TRY(api->value_create_container(doc, MILO_KIND_LIST, &list, error));
    TRY(api->value_create_container(doc, MILO_KIND_TUPLE, &tuple, error));
    TRY(api->value_create_container(doc, MILO_KIND_SET, &set, error));
    TRY(api->value_create_container(doc, MILO_KIND_MAP, &map, error));
    TRY(api->value_create_int(doc, 1, &v, error));
    TRY(api->value_append(list, v, error));
    TRY(api->value_append(tuple, v, error));
    TRY(api->value_append(set, v, error));
    TRY(api->value_append_pair(map, v, list, error)); /* int key; list shared twice */
    TRY(api->value_append(list, tuple, error));
    TRY(api->value_set_at(list, 0, set, error));
    TRY(put(api, doc, state, "list", list, error));
    TRY(put(api, doc, state, "map", map, error));
    TRY(api->value_create_object(doc, "collections.OrderedDict", &obj, error));
    TRY(api->value_create_container(doc, MILO_KIND_TUPLE, &args, error));
    TRY(api->value_set_args(obj, args, error));
    TRY(put(api, doc, state, "object", obj, error));

    TRY(api->value_create_tensor(doc, MILO_DTYPE_INT32, shape23, 2, &t, error));
    TRY(api->value_tensor_mutable_data(t, &raw, &nbytes, error));
    for (i = 0; i < 6; ++i) ((int32_t*)raw)[i] = i * 7 - 3;
    TRY(put(api, doc, state, "int32", t, error));
    TRY(api->value_create_tensor_borrowed(doc, MILO_DTYPE_FLOAT32, shape2, 1, borrowed,
                                          sizeof borrowed, NULL, NULL, &t, error));
    TRY(put(api, doc, state, "borrowed", t, error));
    TRY(api->value_create_record_tensor(doc, 12, shape2, 1, &t, error));
    TRY(api->value_tensor_add_field(t, "id", MILO_DTYPE_INT32, 0, NULL, 0, error));
    TRY(api->value_tensor_add_field(t, "xy", MILO_DTYPE_FLOAT32, 4, shape2, 1, error));
    TRY(api->value_tensor_mutable_data(t, &raw, &nbytes, error));
    memset(raw, 0x3f, nbytes);
    TRY(put(api, doc, state, "record", t, error));
    TRY(api->value_create_tensor(doc, MILO_DTYPE_STRING, shape2, 1, &t, error));
    TRY(api->value_tensor_set_string(t, 0, "a", 1, error));
    TRY(api->value_tensor_set_string(t, 1, "\xc3\xa9", 2, error));
    TRY(put(api, doc, state, "strings", t, error));
    TRY(api->value_create_tensor(doc, MILO_DTYPE_OBJECT, shape2, 1, &t, error));
    TRY(api->value_tensor_set_item(t, 1, obj, error));
    TRY(put(api, doc, state, "objects", t, error));

    TRY(api->doc_set_root(doc, root, error));
    TRY(api->doc_set_header(doc, "type", "frozen.Everything", error));
    TRY(api->doc_set_header(doc, "framework.name", "frozen-abi1", error));
    TRY(api->doc_set_trust(doc, "collections.OrderedDict", "instantiate", MILO_TRUST_TRUSTED,
                           error));
    return api->doc_set_metadata(doc, "abi", "1", error);
}

/* Reads everything back through the getters and writes the native bytes. */
static milo_status frozen_encode(void* self, const milo_api* api, milo_registry* registry,
                                 const milo_doc* doc, milo_write_fn write, void* write_context,
                                 milo_error* error) {
    const milo_value* root = api->doc_get_root(doc);
    const milo_value* state = api->value_get_state(root);
    const milo_value *text, *list, *t;
    const char* s = NULL;
    const char* name = NULL;
    size_t len = 0, ndim = 0, nbytes = 0;
    int32_t dtype = 0;
    const int64_t* shape = NULL;
    const void* raw = NULL;
    int64_t i64 = 0;
    (void)self;
    if (registry == NULL || api->registry_find_transporter(registry, "frozen.abi1") == NULL) {
        return api->error_set(error, MILO_ERR_INTERNAL, "frozen.abi1: registry lookup failed");
    }
    TRY(api->value_get_name(root, &name, error));
    if (strcmp(name, "frozen.Everything") != 0 || api->value_count(state) != 16) {
        return api->error_set(error, MILO_ERR_TYPE, "frozen.abi1: /root: not frozen.Everything");
    }
    text = api->value_find(state, "text");
    TRY(api->value_get_string(text, &s, &len, error));
    list = api->value_find(state, "list");
    TRY(api->value_get_int(api->value_at(api->value_at(list, 1), 0), &i64, error));
    if (api->value_get_kind(api->value_at(list, 0)) != MILO_KIND_SET || i64 != 1 ||
        api->value_get_kind(api->value_key_at(api->value_find(state, "map"), 0)) != MILO_KIND_INT) {
        return api->error_set(error, MILO_ERR_TYPE, "frozen.abi1: /root/state/list: changed");
    }
    t = api->value_find(state, "int32");
    TRY(api->value_get_tensor(t, &dtype, &shape, &ndim, error));
    TRY(api->value_tensor_data(t, &raw, &nbytes, error));
    if (dtype != MILO_DTYPE_INT32 || ndim != 2 || shape[1] != 3 || nbytes != 24 ||
        ((const int32_t*)raw)[5] != 32 || api->value_tensor_itemsize(t) != 4 ||
        api->value_tensor_field_count(api->value_find(state, "record")) != 2) {
        return api->error_set(error, MILO_ERR_TYPE, "frozen.abi1: /root/state/int32: changed");
    }
    TRY(write(write_context, NATIVE_MAGIC, 8, error));
    return write(write_context, s, len, error);
}

static const char* const frozen_types[] = {"frozen.Everything", NULL};
static const char* const frozen_extensions[] = {".frozen1", NULL};

static const milo_transporter frozen_transporter = {
    (uint32_t)sizeof(milo_transporter), 1u, "frozen.abi1",
    "a plugin built against the frozen ABI-1 headers", "1", "frozen-abi1", frozen_types,
    frozen_extensions, NULL, frozen_probe, frozen_decode, frozen_encode, NULL, NULL};

static int32_t format_probe(void* self, const uint8_t* head, size_t size) {
    (void)self;
    return size >= 11 && memcmp(head, FORMAT_MAGIC, 11) == 0 ? 100 : 0;
}

static milo_status format_encode(void* self, const milo_api* api, const milo_doc* doc,
                                 const milo_encode_context* context, milo_error* error) {
    const char* s = NULL;
    size_t len = 0;
    (void)self;
    TRY(api->value_get_string(api->doc_get_root(doc), &s, &len, error));
    TRY(context->write(context->context, FORMAT_MAGIC, 11, error));
    return context->write(context->context, s, len, error);
}

static milo_status format_decode(void* self, const milo_api* api, milo_doc* doc,
                                 const milo_decode_context* context, milo_error* error) {
    milo_value* root = NULL;
    (void)self;
    if (context->size < 11 || memcmp(context->data, FORMAT_MAGIC, 11) != 0) {
        return api->error_set(error, MILO_ERR_CORRUPT, "frozen1: byte 0: expected FROZEN1FMT");
    }
    TRY(api->doc_set_header(doc, "format_version", "1", error)); /* the only version it writes */
    TRY(api->value_create_string(doc, (const char*)context->data + 11, context->size - 11, &root,
                                 error));
    return api->doc_set_root(doc, root, error);
}

static const char* const format_extensions[] = {".frozen1fmt", NULL};

static const milo_format frozen_format = {
    (uint32_t)sizeof(milo_format), 1u, "frozen1", "a format built against the frozen ABI-1 headers",
    format_extensions, MILO_FORMAT_TEXT, 0u, NULL, format_probe, format_encode, format_decode,
    NULL, NULL};

MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    TRY(host->declare_plugin(host->context, &info, error));
    TRY(host->register_transporter(host->context, &frozen_transporter, error));
    return host->register_format(host->context, &frozen_format, error);
}
