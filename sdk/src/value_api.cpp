// The C functions of milo/value.h over the model in document.hpp.
#include <charconv>
#include <cstring>
#include <new>

#include "document.hpp"
#include "milo/milo_codec.hpp"
#include "status.hpp"

using milo::core::checked_bytes;
using milo::core::fail;
using milo::core::shape_count;

namespace {

// Every entry point that allocates runs its body here so no exception crosses the ABI.
template <class F>
milo_status guarded(milo_error* error, F&& body) {
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return fail(error, MILO_ERR_INTERNAL, "internal error: %s", e.what());
    } catch (...) {
        return fail(error, MILO_ERR_INTERNAL, "internal error: unknown exception");
    }
}

const char* kind_name(int32_t kind) {
    static const char* names[] = {"null", "bool",  "int",    "float",  "string", "bytes", "list",
                                  "tuple", "set", "map", "tensor", "object", "global"};
    return (kind >= 0 && kind <= MILO_KIND_GLOBAL) ? names[kind] : "invalid";
}

milo_status want(const milo_value* v, int32_t kind, milo_error* error) {
    if (v == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "value is NULL");
    if (v->kind != kind)
        return fail(error, MILO_ERR_TYPE, "expected a %s value, got %s", kind_name(kind),
                    kind_name(v->kind));
    return MILO_OK;
}

milo_status want_tensor(const milo_value* v, milo_error* error) {
    return want(v, MILO_KIND_TENSOR, error);
}

bool is_sequence(int32_t kind) {
    return kind == MILO_KIND_LIST || kind == MILO_KIND_TUPLE || kind == MILO_KIND_SET;
}

milo_status same_doc(const milo_value* container, const milo_value* item, milo_error* error) {
    if (item == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "item is NULL");
    if (item->doc != container->doc)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "value belongs to another document");
    return MILO_OK;
}

milo_status alloc_data(milo::core::Tensor* t, uint64_t nbytes, milo_error* error) {
    // calloc: zero-filled, and large sizes come from lazily mapped pages
    uint8_t* p = static_cast<uint8_t*>(std::calloc(nbytes == 0 ? 1 : nbytes, 1));
    if (p == nullptr)
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "cannot allocate %llu bytes of tensor data",
                    static_cast<unsigned long long>(nbytes));
    t->owned.reset(p);
    t->data = p;
    t->nbytes = static_cast<size_t>(nbytes);
    return MILO_OK;
}

milo_status valid_name(const char* s, const char* what, milo_error* error) {
    if (s == nullptr || *s == '\0')
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "%s is empty", what);
    if (milo::codec::utf8_invalid_at(s, std::strlen(s)) != SIZE_MAX)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "%s is not valid UTF-8", what);
    return MILO_OK;
}

bool is_hex64(const char* s) {
    if (std::strlen(s) != 64) return false;
    for (const char* p = s; *p; ++p)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return false;
    return true;
}

bool is_decimal_u32(const char* s) {
    uint32_t v;
    size_t n = std::strlen(s);
    if (n == 0 || (n > 1 && s[0] == '0')) return false;
    auto r = std::from_chars(s, s + n, v);
    return r.ec == std::errc() && r.ptr == s + n;
}

}  // namespace

namespace milo::core {

// Element count of a shape, with overflow and sign checks.
milo_status shape_count(const int64_t* shape, size_t ndim, uint64_t* count, milo_error* error) {
    if (ndim > MILO_MAX_NDIM)
        return fail(error, MILO_ERR_LIMIT, "tensor has %zu dimensions; at most %d allowed", ndim,
                    MILO_MAX_NDIM);
    if (ndim > 0 && shape == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "shape is NULL");
    uint64_t n = 1;
    for (size_t i = 0; i < ndim; ++i) {
        if (shape[i] < 0)
            return fail(error, MILO_ERR_INVALID_ARGUMENT, "dimension %zu is negative (%lld)", i,
                        static_cast<long long>(shape[i]));
        uint64_t d = static_cast<uint64_t>(shape[i]);
        if (d != 0 && n > UINT64_MAX / d)
            return fail(error, MILO_ERR_LIMIT, "tensor element count overflows 64 bits");
        n *= d;
    }
    *count = n;
    return MILO_OK;
}

milo_status checked_bytes(uint64_t count, uint64_t itemsize, uint64_t* nbytes, milo_error* error) {
    if (itemsize != 0 && count > MILO_MAX_TENSOR_BYTES / itemsize)
        return fail(error, MILO_ERR_LIMIT,
                    "tensor of %llu elements of %llu bytes exceeds the 1 TiB limit",
                    static_cast<unsigned long long>(count),
                    static_cast<unsigned long long>(itemsize));
    *nbytes = count * itemsize;
    if (*nbytes > SIZE_MAX) return fail(error, MILO_ERR_LIMIT, "tensor too large for memory");
    return MILO_OK;
}


const char* header_key_name(int key) {
    static const char* names[kHeaderKeyCount] = {
        "format_version", "producer.name",   "producer.version",     "framework.name",
        "framework.version", "transporter.id", "transporter.revision", "type",
        "source.kind",    "source.version",  "source.sha256",        "external.file",
        "external.sha256"};
    return (key >= 0 && key < kHeaderKeyCount) ? names[key] : nullptr;
}

int header_key_find(const char* name) {
    if (name == nullptr) return -1;
    for (int k = 0; k < kHeaderKeyCount; ++k)
        if (std::strcmp(name, header_key_name(k)) == 0) return k;
    return -1;
}

std::unique_ptr<Tensor> new_tensor(int32_t dtype, const int64_t* shape, size_t ndim,
                                   uint64_t count, uint64_t itemsize) {
    auto t = std::make_unique<Tensor>();
    t->dtype = dtype;
    t->shape.assign(shape, shape + ndim);
    t->count = count;
    t->itemsize = itemsize;
    return t;
}

milo_value* attach_tensor(milo_doc* doc, std::unique_ptr<Tensor> t) {
    milo_value* v = doc->make(MILO_KIND_TENSOR);
    v->tensor = std::move(t);
    return v;
}

void copy_header(const milo_doc& from, milo_doc* to) {
    for (int k = 0; k < kHeaderKeyCount; ++k) to->header[k] = from.header[k];
    to->trust = from.trust;
    to->metadata = from.metadata;
}

}  // namespace milo::core

extern "C" {

/* ---------------------------------------------------------------- documents */

MILO_API milo_status milo_doc_create(milo_doc** out, milo_error* error) {
    if (out == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "out is NULL");
    return guarded(error, [&] {
        auto doc = std::make_unique<milo_doc>();
        doc->header[milo::core::kFormatVersion] = std::to_string(MILO_FORMAT_VERSION);
        doc->header[milo::core::kProducerName] = "milo";
        doc->header[milo::core::kProducerVersion] = MILO_VERSION_STRING;
        *out = doc.release();
        return MILO_OK;
    });
}

MILO_API void milo_doc_destroy(milo_doc* doc) { delete doc; }

MILO_API milo_value* milo_doc_get_root(const milo_doc* doc) {
    return doc == nullptr ? nullptr : doc->root;
}

MILO_API milo_status milo_doc_set_root(milo_doc* doc, milo_value* root, milo_error* error) {
    if (doc == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "document is NULL");
    if (root != nullptr && root->doc != doc)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "root belongs to another document");
    doc->root = root;
    return MILO_OK;
}

MILO_API milo_status milo_doc_get_header(const milo_doc* doc, const char* key, const char** out,
                                         milo_error* error) {
    if (doc == nullptr || out == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "document or out is NULL");
    int k = milo::core::header_key_find(key);
    if (k < 0)
        return fail(error, MILO_ERR_NOT_FOUND, "unknown header key \"%s\"", key ? key : "(null)");
    *out = doc->header[k] ? doc->header[k]->c_str() : nullptr;
    return MILO_OK;
}

MILO_API milo_status milo_doc_set_header(milo_doc* doc, const char* key, const char* value,
                                         milo_error* error) {
    if (doc == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "document is NULL");
    int k = milo::core::header_key_find(key);
    if (k < 0)
        return fail(error, MILO_ERR_NOT_FOUND, "unknown header key \"%s\"", key ? key : "(null)");
    if (value == nullptr) {
        if (k == milo::core::kFormatVersion)
            return fail(error, MILO_ERR_INVALID_ARGUMENT, "format_version cannot be unset");
        doc->header[k].reset();
        return MILO_OK;
    }
    if (milo::codec::utf8_invalid_at(value, std::strlen(value)) != SIZE_MAX)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "header %s is not valid UTF-8", key);
    if ((k == milo::core::kFormatVersion || k == milo::core::kTransporterRevision) &&
        !is_decimal_u32(value))
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "header %s must be a decimal 32-bit unsigned integer, got \"%s\"", key, value);
    if (k == milo::core::kFormatVersion && std::strcmp(value, "0") == 0)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "format_version must be at least 1");
    if ((k == milo::core::kSourceSha256 || k == milo::core::kExternalSha256) && !is_hex64(value))
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "header %s must be 64 lowercase hex digits", key);
    return guarded(error, [&] {
        doc->header[k] = value;
        return MILO_OK;
    });
}

MILO_API milo_status milo_doc_set_trust(milo_doc* doc, const char* name, const char* usage,
                                        int32_t level, milo_error* error) {
    if (doc == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "document is NULL");
    if (milo_status s = valid_name(name, "trust name", error)) return s;
    if (usage == nullptr) usage = "";
    if (milo::codec::utf8_invalid_at(usage, std::strlen(usage)) != SIZE_MAX)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "trust usage is not valid UTF-8");
    if (level < MILO_TRUST_TRUSTED || level > MILO_TRUST_DANGEROUS)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "trust level %d is not a MILO_TRUST_*",
                    level);
    return guarded(error, [&] {
        for (auto& e : doc->trust) {
            if (e.name == name && e.usage == usage) {
                e.level = level;
                return MILO_OK;
            }
        }
        doc->trust.push_back({name, usage, level});
        return MILO_OK;
    });
}

MILO_API size_t milo_doc_trust_count(const milo_doc* doc) {
    return doc == nullptr ? 0 : doc->trust.size();
}

MILO_API milo_status milo_doc_trust_at(const milo_doc* doc, size_t index, const char** name,
                                       const char** usage, int32_t* level, milo_error* error) {
    if (doc == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "document is NULL");
    if (index >= doc->trust.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "trust index %zu out of range (%zu entries)",
                    index, doc->trust.size());
    const auto& e = doc->trust[index];
    if (name) *name = e.name.c_str();
    if (usage) *usage = e.usage.c_str();
    if (level) *level = e.level;
    return MILO_OK;
}

MILO_API milo_status milo_doc_set_metadata(milo_doc* doc, const char* key, const char* value,
                                           milo_error* error) {
    if (doc == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "document is NULL");
    if (key == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "metadata key is NULL");
    if (milo::codec::utf8_invalid_at(key, std::strlen(key)) != SIZE_MAX ||
        (value && milo::codec::utf8_invalid_at(value, std::strlen(value)) != SIZE_MAX))
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "metadata is not valid UTF-8");
    return guarded(error, [&] {
        auto& md = doc->metadata;
        for (size_t i = 0; i < md.size(); ++i) {
            if (md[i].first == key) {
                if (value == nullptr) md.erase(md.begin() + static_cast<long>(i));
                else md[i].second = value;
                return MILO_OK;
            }
        }
        if (value != nullptr) md.emplace_back(key, value);
        return MILO_OK;
    });
}

MILO_API size_t milo_doc_metadata_count(const milo_doc* doc) {
    return doc == nullptr ? 0 : doc->metadata.size();
}

MILO_API milo_status milo_doc_metadata_at(const milo_doc* doc, size_t index, const char** key,
                                          const char** value, milo_error* error) {
    if (doc == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "document is NULL");
    if (index >= doc->metadata.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "metadata index %zu out of range", index);
    if (key) *key = doc->metadata[index].first.c_str();
    if (value) *value = doc->metadata[index].second.c_str();
    return MILO_OK;
}

/* ---------------------------------------------------------------- creating values */

#define MILO_NEW_VALUE(KIND, ...)                                                        \
    if (doc == nullptr || out == nullptr)                                                \
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "document or out is NULL");        \
    return guarded(error, [&] {                                                          \
        milo_value* v = doc->make(KIND);                                                 \
        __VA_ARGS__;                                                                     \
        *out = v;                                                                        \
        return MILO_OK;                                                                  \
    })

MILO_API milo_status milo_value_create_null(milo_doc* doc, milo_value** out, milo_error* error) {
    MILO_NEW_VALUE(MILO_KIND_NULL, (void)v);
}

MILO_API milo_status milo_value_create_bool(milo_doc* doc, bool b, milo_value** out,
                                            milo_error* error) {
    MILO_NEW_VALUE(MILO_KIND_BOOL, v->flag = b);
}

MILO_API milo_status milo_value_create_int(milo_doc* doc, int64_t i, milo_value** out,
                                           milo_error* error) {
    MILO_NEW_VALUE(MILO_KIND_INT, v->i = i; char buf[milo::codec::kNumberBuffer];
                   v->text.assign(buf, milo::codec::write_int64(i, buf)));
}

MILO_API milo_status milo_value_create_int_text(milo_doc* doc, const char* text, size_t len,
                                                milo_value** out, milo_error* error) {
    if (text == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "text is NULL");
    size_t start = (len > 0 && text[0] == '-') ? 1 : 0;
    bool ok = len > start && len - start <= 100000;
    for (size_t i = start; ok && i < len; ++i) ok = text[i] >= '0' && text[i] <= '9';
    if (ok && len - start > 1 && text[start] == '0') ok = false;
    if (ok && start == 1 && len == 2 && text[1] == '0') ok = false;  // "-0" is not canonical
    if (!ok)
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "integer text must be '-'? and decimal digits without leading zeros "
                    "(at most 100000 digits)");
    int64_t small = 0;
    auto r = std::from_chars(text, text + len, small);
    bool fits = r.ec == std::errc() && r.ptr == text + len;
    MILO_NEW_VALUE(MILO_KIND_INT, v->i = fits ? small : 0; v->flag = !fits;
                   v->text.assign(text, len));
}

MILO_API milo_status milo_value_create_float(milo_doc* doc, double f, milo_value** out,
                                             milo_error* error) {
    MILO_NEW_VALUE(MILO_KIND_FLOAT, v->f = f);
}

MILO_API milo_status milo_value_create_string(milo_doc* doc, const char* data, size_t len,
                                              milo_value** out, milo_error* error) {
    if (data == nullptr && len != 0)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "string data is NULL");
    size_t bad = len ? milo::codec::utf8_invalid_at(data, len) : SIZE_MAX;
    if (bad != SIZE_MAX)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "string is not valid UTF-8 at byte %zu",
                    bad);
    MILO_NEW_VALUE(MILO_KIND_STRING, if (len) v->text.assign(data, len));
}

MILO_API milo_status milo_value_create_bytes(milo_doc* doc, const uint8_t* data, size_t len,
                                             milo_value** out, milo_error* error) {
    if (data == nullptr && len != 0)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "bytes data is NULL");
    MILO_NEW_VALUE(MILO_KIND_BYTES,
                   if (len) v->text.assign(reinterpret_cast<const char*>(data), len));
}

MILO_API milo_status milo_value_create_container(milo_doc* doc, int32_t kind, milo_value** out,
                                                 milo_error* error) {
    if (!is_sequence(kind) && kind != MILO_KIND_MAP)
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "container kind must be list, tuple, set or map, got %d", kind);
    MILO_NEW_VALUE(kind, (void)v);
}

MILO_API milo_status milo_value_create_object(milo_doc* doc, const char* type, milo_value** out,
                                              milo_error* error) {
    if (milo_status s = valid_name(type, "object type", error)) return s;
    MILO_NEW_VALUE(MILO_KIND_OBJECT, v->text = type);
}

MILO_API milo_status milo_value_create_global(milo_doc* doc, const char* name, milo_value** out,
                                              milo_error* error) {
    if (milo_status s = valid_name(name, "global name", error)) return s;
    MILO_NEW_VALUE(MILO_KIND_GLOBAL, v->text = name);
}

MILO_API milo_status milo_value_create_tensor(milo_doc* doc, int32_t dtype, const int64_t* shape,
                                              size_t ndim, milo_value** out, milo_error* error) {
    const milo::codec::DTypeInfo* info = milo::codec::dtype_info(dtype);
    if (info == nullptr || dtype == MILO_DTYPE_RECORD)
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    dtype == MILO_DTYPE_RECORD
                        ? "record tensors are made with milo_value_create_record_tensor"
                        : "unknown dtype %d",
                    dtype);
    uint64_t count = 0, nbytes = 0;
    if (milo_status s = shape_count(shape, ndim, &count, error)) return s;
    if (milo_status s = checked_bytes(count, info->size ? info->size : sizeof(void*), &nbytes,
                                      error))
        return s;
    if (doc == nullptr || out == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "document or out is NULL");
    return guarded(error, [&]() -> milo_status {
        auto t = milo::core::new_tensor(dtype, shape, ndim, count, info->size);
        if (dtype == MILO_DTYPE_OBJECT) {
            t->items.resize(count);
            for (auto& item : t->items) item = doc->make(MILO_KIND_NULL);
        } else if (dtype == MILO_DTYPE_STRING) {
            t->strings.resize(count);
        } else if (milo_status s = alloc_data(t.get(), nbytes, error)) {
            return s;
        }
        *out = milo::core::attach_tensor(doc, std::move(t));
        return MILO_OK;
    });
}

MILO_API milo_status milo_value_create_record_tensor(milo_doc* doc, uint64_t itemsize,
                                                     const int64_t* shape, size_t ndim,
                                                     milo_value** out, milo_error* error) {
    uint64_t count = 0, nbytes = 0;
    if (itemsize == 0 || itemsize > (uint64_t(1) << 30))
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "record itemsize must be between 1 and 2^30, got %llu",
                    static_cast<unsigned long long>(itemsize));
    if (milo_status s = shape_count(shape, ndim, &count, error)) return s;
    if (milo_status s = checked_bytes(count, itemsize, &nbytes, error)) return s;
    if (doc == nullptr || out == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "document or out is NULL");
    return guarded(error, [&]() -> milo_status {
        auto t = milo::core::new_tensor(MILO_DTYPE_RECORD, shape, ndim, count, itemsize);
        if (milo_status s = alloc_data(t.get(), nbytes, error)) return s;
        *out = milo::core::attach_tensor(doc, std::move(t));
        return MILO_OK;
    });
}

MILO_API milo_status milo_value_create_tensor_borrowed(milo_doc* doc, int32_t dtype,
                                                       const int64_t* shape, size_t ndim,
                                                       const void* data, size_t nbytes,
                                                       milo_release_fn release,
                                                       void* release_context, milo_value** out,
                                                       milo_error* error) {
    if (!milo::codec::dtype_is_numeric(dtype))
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "borrowed tensors must have a numeric dtype, got %d", dtype);
    uint64_t count = 0, expect = 0;
    if (milo_status s = shape_count(shape, ndim, &count, error)) return s;
    uint32_t size = milo::codec::dtype_info(dtype)->size;
    if (milo_status s = checked_bytes(count, size, &expect, error)) return s;
    if (expect != nbytes)
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "borrowed data has %zu bytes; shape and dtype need %llu", nbytes,
                    static_cast<unsigned long long>(expect));
    if (data == nullptr && nbytes != 0)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "data is NULL");
    if (doc == nullptr || out == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "document or out is NULL");
    return guarded(error, [&] {
        auto t = milo::core::new_tensor(dtype, shape, ndim, count, size);
        t->data = static_cast<const uint8_t*>(data);
        t->nbytes = nbytes;
        milo_value* v = milo::core::attach_tensor(doc, std::move(t));
        // the document takes over the release only once nothing can fail any more: on an
        // error the caller still owns the memory
        v->tensor->borrowed = true;
        v->tensor->release = release;
        v->tensor->release_context = release_context;
        *out = v;
        return MILO_OK;
    });
}

/* ---------------------------------------------------------------- reading scalars */

MILO_API int32_t milo_value_get_kind(const milo_value* value) {
    return value == nullptr ? -1 : value->kind;
}

MILO_API milo_status milo_value_get_bool(const milo_value* value, bool* out, milo_error* error) {
    if (milo_status s = want(value, MILO_KIND_BOOL, error)) return s;
    if (out) *out = value->flag;
    return MILO_OK;
}

MILO_API milo_status milo_value_get_int(const milo_value* value, int64_t* out,
                                        milo_error* error) {
    if (milo_status s = want(value, MILO_KIND_INT, error)) return s;
    if (value->flag)
        return fail(error, MILO_ERR_OUT_OF_RANGE, "integer %.60s does not fit in int64",
                    value->text.c_str());
    if (out) *out = value->i;
    return MILO_OK;
}

MILO_API milo_status milo_value_get_int_text(const milo_value* value, const char** out,
                                             milo_error* error) {
    if (milo_status s = want(value, MILO_KIND_INT, error)) return s;
    if (out) *out = value->text.c_str();
    return MILO_OK;
}

MILO_API milo_status milo_value_get_float(const milo_value* value, double* out,
                                          milo_error* error) {
    if (milo_status s = want(value, MILO_KIND_FLOAT, error)) return s;
    if (out) *out = value->f;
    return MILO_OK;
}

MILO_API milo_status milo_value_get_string(const milo_value* value, const char** data,
                                           size_t* len, milo_error* error) {
    if (milo_status s = want(value, MILO_KIND_STRING, error)) return s;
    if (data) *data = value->text.c_str();
    if (len) *len = value->text.size();
    return MILO_OK;
}

MILO_API milo_status milo_value_get_bytes(const milo_value* value, const uint8_t** data,
                                          size_t* len, milo_error* error) {
    if (milo_status s = want(value, MILO_KIND_BYTES, error)) return s;
    if (data) *data = reinterpret_cast<const uint8_t*>(value->text.data());
    if (len) *len = value->text.size();
    return MILO_OK;
}

MILO_API milo_status milo_value_get_name(const milo_value* value, const char** out,
                                         milo_error* error) {
    if (value == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "value is NULL");
    if (value->kind != MILO_KIND_OBJECT && value->kind != MILO_KIND_GLOBAL)
        return fail(error, MILO_ERR_TYPE, "expected an object or global value, got %s",
                    kind_name(value->kind));
    if (out) *out = value->text.c_str();
    return MILO_OK;
}

/* ---------------------------------------------------------------- containers */

MILO_API size_t milo_value_count(const milo_value* value) {
    if (value == nullptr) return 0;
    if (is_sequence(value->kind) || value->kind == MILO_KIND_MAP) return value->items.size();
    if (value->kind == MILO_KIND_TENSOR) return static_cast<size_t>(value->tensor->count);
    return 0;
}

MILO_API milo_value* milo_value_at(const milo_value* value, size_t index) {
    if (value == nullptr || !(is_sequence(value->kind) || value->kind == MILO_KIND_MAP))
        return nullptr;
    return index < value->items.size() ? value->items[index] : nullptr;
}

MILO_API milo_value* milo_value_key_at(const milo_value* value, size_t index) {
    if (value == nullptr || value->kind != MILO_KIND_MAP) return nullptr;
    return index < value->keys.size() ? value->keys[index] : nullptr;
}

MILO_API milo_value* milo_value_find(const milo_value* map, const char* key) {
    if (map == nullptr || map->kind != MILO_KIND_MAP || key == nullptr) return nullptr;
    size_t n = std::strlen(key);
    for (size_t i = 0; i < map->keys.size(); ++i) {
        const milo_value* k = map->keys[i];
        if (k->kind == MILO_KIND_STRING && k->text.size() == n &&
            std::memcmp(k->text.data(), key, n) == 0)
            return map->items[i];
    }
    return nullptr;
}

MILO_API milo_status milo_value_append(milo_value* container, milo_value* item,
                                       milo_error* error) {
    if (container == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "container is NULL");
    if (!is_sequence(container->kind))
        return fail(error, MILO_ERR_TYPE, "append needs a list, tuple or set, got %s",
                    kind_name(container->kind));
    if (milo_status s = same_doc(container, item, error)) return s;
    return guarded(error, [&] {
        // most containers of real models are small: one allocation for the first four
        if (container->items.capacity() == 0) container->items.reserve(4);
        container->items.push_back(item);
        return MILO_OK;
    });
}

MILO_API milo_status milo_value_append_pair(milo_value* map, milo_value* key, milo_value* item,
                                            milo_error* error) {
    if (milo_status s = want(map, MILO_KIND_MAP, error)) return s;
    if (milo_status s = same_doc(map, key, error)) return s;
    if (milo_status s = same_doc(map, item, error)) return s;
    return guarded(error, [&] {
        if (map->keys.capacity() == 0) {
            map->keys.reserve(4);
            map->items.reserve(4);
        }
        map->keys.push_back(key);
        try {
            map->items.push_back(item);
        } catch (...) {
            map->keys.pop_back();  // keep keys and items paired
            throw;
        }
        return MILO_OK;
    });
}

MILO_API milo_status milo_value_set_at(milo_value* container, size_t index, milo_value* item,
                                       milo_error* error) {
    if (container == nullptr) return fail(error, MILO_ERR_INVALID_ARGUMENT, "container is NULL");
    if (!is_sequence(container->kind) && container->kind != MILO_KIND_MAP)
        return fail(error, MILO_ERR_TYPE, "set_at needs a list, tuple, set or map, got %s",
                    kind_name(container->kind));
    if (milo_status s = same_doc(container, item, error)) return s;
    if (index >= container->items.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "index %zu out of range (%zu items)", index,
                    container->items.size());
    container->items[index] = item;
    return MILO_OK;
}

/* ---------------------------------------------------------------- objects */

MILO_API milo_value* milo_value_get_args(const milo_value* object) {
    return (object && object->kind == MILO_KIND_OBJECT) ? object->args : nullptr;
}

MILO_API milo_value* milo_value_get_state(const milo_value* object) {
    return (object && object->kind == MILO_KIND_OBJECT) ? object->state : nullptr;
}

MILO_API milo_status milo_value_set_args(milo_value* object, milo_value* args,
                                         milo_error* error) {
    if (milo_status s = want(object, MILO_KIND_OBJECT, error)) return s;
    if (args != nullptr)
        if (milo_status s = same_doc(object, args, error)) return s;
    object->args = args;
    return MILO_OK;
}

MILO_API milo_status milo_value_set_state(milo_value* object, milo_value* state,
                                          milo_error* error) {
    if (milo_status s = want(object, MILO_KIND_OBJECT, error)) return s;
    if (state != nullptr)
        if (milo_status s = same_doc(object, state, error)) return s;
    object->state = state;
    return MILO_OK;
}

/* ---------------------------------------------------------------- tensors */

MILO_API milo_status milo_value_get_tensor(const milo_value* tensor, int32_t* dtype,
                                           const int64_t** shape, size_t* ndim,
                                           milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    const auto& t = *tensor->tensor;
    if (dtype) *dtype = t.dtype;
    if (shape) *shape = t.shape.empty() ? nullptr : t.shape.data();
    if (ndim) *ndim = t.shape.size();
    return MILO_OK;
}

MILO_API uint64_t milo_value_tensor_itemsize(const milo_value* tensor) {
    return (tensor && tensor->kind == MILO_KIND_TENSOR) ? tensor->tensor->itemsize : 0;
}

MILO_API milo_status milo_value_tensor_data(const milo_value* tensor, const void** data,
                                            size_t* nbytes, milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    const auto& t = *tensor->tensor;
    if (t.dtype == MILO_DTYPE_OBJECT || t.dtype == MILO_DTYPE_STRING)
        return fail(error, MILO_ERR_TYPE, "%s tensors have no raw data",
                    milo::codec::dtype_info(t.dtype)->name);
    if (!t.external_name.empty())
        return fail(error, MILO_ERR_NOT_FOUND, "external tensor \"%s\" is not resolved",
                    t.external_name.c_str());
    if (data) *data = t.data;
    if (nbytes) *nbytes = t.nbytes;
    return MILO_OK;
}

MILO_API milo_status milo_value_tensor_mutable_data(milo_value* tensor, void** data,
                                                    size_t* nbytes, milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    auto& t = *tensor->tensor;
    if (t.dtype == MILO_DTYPE_OBJECT || t.dtype == MILO_DTYPE_STRING)
        return fail(error, MILO_ERR_TYPE, "%s tensors have no raw data",
                    milo::codec::dtype_info(t.dtype)->name);
    if (!t.external_name.empty())
        return fail(error, MILO_ERR_NOT_FOUND, "external tensor \"%s\" is not resolved",
                    t.external_name.c_str());
    if (t.borrowed) {  // copy on first write
        uint8_t* p = static_cast<uint8_t*>(std::malloc(t.nbytes == 0 ? 1 : t.nbytes));
        if (p == nullptr)
            return fail(error, MILO_ERR_OUT_OF_MEMORY, "cannot copy %zu bytes of tensor data",
                        t.nbytes);
        if (t.nbytes) std::memcpy(p, t.data, t.nbytes);
        t.drop_borrowed();
        t.owned.reset(p);
        t.data = p;
    }
    if (data) *data = t.owned.get();
    if (nbytes) *nbytes = t.nbytes;
    return MILO_OK;
}

MILO_API milo_status milo_value_tensor_add_field(milo_value* tensor, const char* name,
                                                 int32_t dtype, uint64_t offset,
                                                 const int64_t* shape, size_t ndim,
                                                 milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    auto& t = *tensor->tensor;
    if (t.dtype != MILO_DTYPE_RECORD)
        return fail(error, MILO_ERR_TYPE, "fields can only be added to record tensors");
    if (milo_status s = valid_name(name, "field name", error)) return s;
    if (!milo::codec::dtype_is_numeric(dtype))
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "field \"%s\": dtype must be numeric, got %d", name, dtype);
    uint64_t count = 0;
    if (ndim > 16)
        return fail(error, MILO_ERR_LIMIT, "field \"%s\": at most 16 sub-array dimensions", name);
    if (milo_status s = shape_count(shape, ndim, &count, error)) return s;
    uint64_t isz = milo::codec::dtype_info(dtype)->size;
    if (count > t.itemsize / isz + 1 || count * isz > t.itemsize || offset > t.itemsize ||
        offset + count * isz > t.itemsize)
        return fail(error, MILO_ERR_INVALID_ARGUMENT,
                    "field \"%s\" (offset %llu, %llu bytes) does not fit in itemsize %llu", name,
                    static_cast<unsigned long long>(offset),
                    static_cast<unsigned long long>(count * isz),
                    static_cast<unsigned long long>(t.itemsize));
    uint64_t size = count * isz;
    for (const auto& f : t.fields) {
        if (f.name == name)
            return fail(error, MILO_ERR_DUPLICATE, "field \"%s\" already exists", name);
        if (size > 0 && f.size > 0 && offset < f.offset + f.size && f.offset < offset + size)
            return fail(error, MILO_ERR_INVALID_ARGUMENT, "field \"%s\" overlaps field \"%s\"",
                        name, f.name.c_str());
    }
    return guarded(error, [&] {
        milo::core::Field f;
        f.name = name;
        f.dtype = dtype;
        f.offset = offset;
        f.shape.assign(shape, shape + ndim);
        f.size = size;
        t.fields.push_back(std::move(f));
        return MILO_OK;
    });
}

MILO_API size_t milo_value_tensor_field_count(const milo_value* tensor) {
    return (tensor && tensor->kind == MILO_KIND_TENSOR) ? tensor->tensor->fields.size() : 0;
}

MILO_API milo_status milo_value_tensor_field_at(const milo_value* tensor, size_t index,
                                                const char** name, int32_t* dtype,
                                                uint64_t* offset, const int64_t** shape,
                                                size_t* ndim, milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    const auto& fields = tensor->tensor->fields;
    if (index >= fields.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "field index %zu out of range (%zu fields)",
                    index, fields.size());
    const auto& f = fields[index];
    if (name) *name = f.name.c_str();
    if (dtype) *dtype = f.dtype;
    if (offset) *offset = f.offset;
    if (shape) *shape = f.shape.empty() ? nullptr : f.shape.data();
    if (ndim) *ndim = f.shape.size();
    return MILO_OK;
}

MILO_API milo_value* milo_value_tensor_item_at(const milo_value* tensor, size_t index) {
    if (tensor == nullptr || tensor->kind != MILO_KIND_TENSOR) return nullptr;
    const auto& items = tensor->tensor->items;
    return index < items.size() ? items[index] : nullptr;
}

MILO_API milo_status milo_value_tensor_set_item(milo_value* tensor, size_t index,
                                                milo_value* item, milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    auto& t = *tensor->tensor;
    if (t.dtype != MILO_DTYPE_OBJECT)
        return fail(error, MILO_ERR_TYPE, "set_item needs an object tensor");
    if (milo_status s = same_doc(tensor, item, error)) return s;
    if (index >= t.items.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "element %zu out of range (%zu elements)",
                    index, t.items.size());
    t.items[index] = item;
    return MILO_OK;
}

MILO_API milo_status milo_value_tensor_string_at(const milo_value* tensor, size_t index,
                                                 const char** data, size_t* len,
                                                 milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    const auto& t = *tensor->tensor;
    if (t.dtype != MILO_DTYPE_STRING)
        return fail(error, MILO_ERR_TYPE, "string_at needs a string tensor");
    if (index >= t.strings.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "element %zu out of range (%zu elements)",
                    index, t.strings.size());
    if (data) *data = t.strings[index].c_str();
    if (len) *len = t.strings[index].size();
    return MILO_OK;
}

MILO_API milo_status milo_value_tensor_set_string(milo_value* tensor, size_t index,
                                                  const char* data, size_t len,
                                                  milo_error* error) {
    if (milo_status s = want_tensor(tensor, error)) return s;
    auto& t = *tensor->tensor;
    if (t.dtype != MILO_DTYPE_STRING)
        return fail(error, MILO_ERR_TYPE, "set_string needs a string tensor");
    if (index >= t.strings.size())
        return fail(error, MILO_ERR_OUT_OF_RANGE, "element %zu out of range (%zu elements)",
                    index, t.strings.size());
    if (data == nullptr && len != 0)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "string data is NULL");
    if (len && milo::codec::utf8_invalid_at(data, len) != SIZE_MAX)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "string is not valid UTF-8");
    return guarded(error, [&] {
        t.strings[index].assign(data ? data : "", len);
        return MILO_OK;
    });
}

/* ---------------------------------------------------------------- whole documents */

MILO_API bool milo_doc_equal(const milo_doc* a, const milo_doc* b, char* where,
                             size_t where_size) {
    std::string w;
    bool eq;
    try {
        if (a == nullptr || b == nullptr) {
            eq = a == b;
            w = "a document is NULL";
        } else {
            eq = milo::core::docs_equal(*a, *b, &w);
        }
    } catch (...) {
        eq = false;
        w = "out of memory while comparing";
    }
    if (where != nullptr && where_size > 0) {
        size_t n = eq ? 0 : std::min(w.size(), where_size - 1);
        std::memcpy(where, w.data(), n);
        where[n] = '\0';
    }
    return eq;
}

MILO_API size_t milo_doc_value_count(const milo_doc* doc) {
    if (doc == nullptr || doc->root == nullptr) return 0;
    const milo_api* api = milo_api_get(MILO_ABI_VERSION);
    // count every occurrence of scalars, each node with identity once
    size_t count = 0;
    std::vector<const milo_value*> stack{doc->root};
    std::unordered_map<const milo_value*, bool> seen;
    std::vector<const milo_value*> kids;
    while (!stack.empty()) {
        const milo_value* v = stack.back();
        stack.pop_back();
        if (milo::codec::kind_has_identity(v->kind) && !seen.emplace(v, true).second) continue;
        ++count;
        kids.clear();
        milo::codec::SharedNodes::children(api, v, v->kind, &kids);
        stack.insert(stack.end(), kids.begin(), kids.end());
    }
    return count;
}

}  // extern "C"
