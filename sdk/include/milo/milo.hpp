/// \file milo/milo.hpp
/// Header-only C++17 wrapper over the Milo C ABI. It maps one-to-one onto the C calls, owns
/// handles with move-only RAII types (Doc, Registry), views them with non-owning *Ref types, and
/// turns every failed status into milo::Error.
///
/// Every call goes through a `const milo_api*` table, so the same wrapper serves applications
/// (milo::default_api(), which needs libmilo) and plugins (the `host->api` they receive).
#ifndef MILO_MILO_HPP
#define MILO_MILO_HPP

#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "milo/milo.h"

namespace milo {

/// The one exception type of the wrapper; carries the C status code.
class Error : public std::runtime_error {
public:
    Error(milo_status code, const std::string& message)
        : std::runtime_error(message), code_(code) {}
    milo_status code() const noexcept { return code_; }

private:
    milo_status code_;
};

/// The library's own API table (applications linking libmilo only).
inline const milo_api* default_api() { return milo_api_get(MILO_ABI_VERSION); }

namespace detail {

struct ErrorBuffer {
    // Only the header and an empty message: zero-filling the 1000-byte message on every call
    // cost ~10% of building a document value by value. A failing callee writes the message.
    ErrorBuffer() {
        e.struct_size = static_cast<uint32_t>(sizeof e);
        e.code = MILO_OK;
        e.message[0] = '\0';
    }
    milo_error e;
    milo_error* get() { return &e; }
};

inline void check(milo_status s, const milo_error& e) {
    if (s != MILO_OK) throw Error(s, e.message[0] ? e.message : "milo call failed");
}

}  // namespace detail

/// Calls `fn(args..., milo_error*)` and throws milo::Error when it fails.
template <class F, class... A>
void call(F fn, A&&... args) {
    detail::ErrorBuffer eb;
    detail::check(fn(std::forward<A>(args)..., eb.get()), eb.e);
}

class DocRef;

/// A non-owning view of a value. Valid while its document lives.
class ValueRef {
public:
    ValueRef() = default;
    ValueRef(const milo_api* api, milo_value* v) : api_(api), v_(v) {}

    milo_value* get() const { return v_; }
    const milo_api* api() const { return api_; }
    explicit operator bool() const { return v_ != nullptr; }
    bool operator==(const ValueRef& o) const { return v_ == o.v_; }
    bool operator!=(const ValueRef& o) const { return v_ != o.v_; }

    int32_t kind() const { return api_->value_get_kind(v_); }
    bool is(int32_t k) const { return v_ != nullptr && kind() == k; }

    bool as_bool() const {
        bool b = false;
        call(api_->value_get_bool, v_, &b);
        return b;
    }
    int64_t as_int() const {
        int64_t i = 0;
        call(api_->value_get_int, v_, &i);
        return i;
    }
    std::string int_text() const {
        const char* t = nullptr;
        call(api_->value_get_int_text, v_, &t);
        return t;
    }
    double as_float() const {
        double d = 0;
        call(api_->value_get_float, v_, &d);
        return d;
    }
    std::string_view as_string() const {
        const char* d = nullptr;
        size_t n = 0;
        call(api_->value_get_string, v_, &d, &n);
        return {d, n};
    }
    std::string_view as_bytes() const {
        const uint8_t* d = nullptr;
        size_t n = 0;
        call(api_->value_get_bytes, v_, &d, &n);
        return {reinterpret_cast<const char*>(d), n};
    }
    /// Type of an object, name of a global.
    std::string_view name() const {
        const char* n = nullptr;
        call(api_->value_get_name, v_, &n);
        return n;
    }

    size_t size() const { return api_->value_count(v_); }
    ValueRef operator[](size_t i) const { return {api_, api_->value_at(v_, i)}; }
    ValueRef key(size_t i) const { return {api_, api_->value_key_at(v_, i)}; }
    /// Map lookup by string key; an empty ValueRef when absent.
    ValueRef find(const char* key) const { return {api_, api_->value_find(v_, key)}; }
    ValueRef args() const { return {api_, api_->value_get_args(v_)}; }
    ValueRef state() const { return {api_, api_->value_get_state(v_)}; }

    void append(ValueRef item) const { call(api_->value_append, v_, item.v_); }
    void append(ValueRef key, ValueRef item) const {
        call(api_->value_append_pair, v_, key.v_, item.v_);
    }
    void set_at(size_t i, ValueRef item) const { call(api_->value_set_at, v_, i, item.v_); }
    void set_args(ValueRef a) const { call(api_->value_set_args, v_, a.v_); }
    void set_state(ValueRef s) const { call(api_->value_set_state, v_, s.v_); }

    // tensors
    int32_t dtype() const {
        int32_t d = 0;
        call(api_->value_get_tensor, v_, &d, nullptr, nullptr);
        return d;
    }
    std::vector<int64_t> shape() const {
        const int64_t* s = nullptr;
        size_t n = 0;
        call(api_->value_get_tensor, v_, nullptr, &s, &n);
        return std::vector<int64_t>(s, s + n);
    }
    uint64_t itemsize() const { return api_->value_tensor_itemsize(v_); }
    /// Zero-copy read-only bytes of a numeric or record tensor.
    std::pair<const void*, size_t> data() const {
        const void* d = nullptr;
        size_t n = 0;
        call(api_->value_tensor_data, v_, &d, &n);
        return {d, n};
    }
    template <class T>
    const T* data_as() const {
        return static_cast<const T*>(data().first);
    }
    /// Writable bytes (copies borrowed data first).
    std::pair<void*, size_t> mutable_data() const {
        void* d = nullptr;
        size_t n = 0;
        call(api_->value_tensor_mutable_data, v_, &d, &n);
        return {d, n};
    }
    template <class T>
    T* mutable_data_as() const {
        return static_cast<T*>(mutable_data().first);
    }
    void add_field(const char* name, int32_t dtype, uint64_t offset,
                   const std::vector<int64_t>& shape = {}) const {
        call(api_->value_tensor_add_field, v_, name, dtype, offset,
             shape.empty() ? nullptr : shape.data(), shape.size());
    }
    ValueRef item(size_t i) const { return {api_, api_->value_tensor_item_at(v_, i)}; }
    void set_item(size_t i, ValueRef v) const { call(api_->value_tensor_set_item, v_, i, v.v_); }
    std::string_view string_at(size_t i) const {
        const char* d = nullptr;
        size_t n = 0;
        call(api_->value_tensor_string_at, v_, i, &d, &n);
        return {d, n};
    }
    void set_string(size_t i, std::string_view s) const {
        call(api_->value_tensor_set_string, v_, i, s.data(), s.size());
    }

private:
    const milo_api* api_ = nullptr;
    milo_value* v_ = nullptr;
};

/// A non-owning view of a document: header access and value creation.
class DocRef {
public:
    DocRef() = default;
    DocRef(const milo_api* api, milo_doc* d) : api_(api), d_(d) {}

    milo_doc* get() const { return d_; }
    const milo_api* api() const { return api_; }
    explicit operator bool() const { return d_ != nullptr; }

    ValueRef root() const { return {api_, api_->doc_get_root(d_)}; }
    void set_root(ValueRef v) const { call(api_->doc_set_root, d_, v.get()); }

    /// Header field or "" when unset.
    std::string header(const char* key) const {
        const char* v = nullptr;
        call(api_->doc_get_header, d_, key, &v);
        return v ? v : "";
    }
    bool has_header(const char* key) const {
        const char* v = nullptr;
        call(api_->doc_get_header, d_, key, &v);
        return v != nullptr;
    }
    void set_header(const char* key, const std::string& value) const {
        call(api_->doc_set_header, d_, key, value.c_str());
    }
    void set_trust(const char* name, const char* usage, int32_t level) const {
        call(api_->doc_set_trust, d_, name, usage, level);
    }
    void set_metadata(const char* key, const std::string& value) const {
        call(api_->doc_set_metadata, d_, key, value.c_str());
    }

    ValueRef null() const { return make(api_->value_create_null); }
    ValueRef boolean(bool b) const { return make(api_->value_create_bool, b); }
    ValueRef integer(int64_t i) const { return make(api_->value_create_int, i); }
    ValueRef integer_text(std::string_view t) const {
        return make(api_->value_create_int_text, t.data(), t.size());
    }
    ValueRef number(double d) const { return make(api_->value_create_float, d); }
    ValueRef string(std::string_view s) const {
        return make(api_->value_create_string, s.data(), s.size());
    }
    ValueRef bytes(const void* p, size_t n) const {
        return make(api_->value_create_bytes, static_cast<const uint8_t*>(p), n);
    }
    ValueRef list() const { return make(api_->value_create_container, int32_t(MILO_KIND_LIST)); }
    ValueRef tuple() const { return make(api_->value_create_container, int32_t(MILO_KIND_TUPLE)); }
    ValueRef set() const { return make(api_->value_create_container, int32_t(MILO_KIND_SET)); }
    ValueRef map() const { return make(api_->value_create_container, int32_t(MILO_KIND_MAP)); }
    ValueRef object(const char* type) const { return make(api_->value_create_object, type); }
    ValueRef global(const char* name) const { return make(api_->value_create_global, name); }
    ValueRef tensor(int32_t dtype, const std::vector<int64_t>& shape) const {
        return make(api_->value_create_tensor, dtype, shape.empty() ? nullptr : shape.data(),
                    shape.size());
    }
    ValueRef record_tensor(uint64_t itemsize, const std::vector<int64_t>& shape) const {
        return make(api_->value_create_record_tensor, itemsize,
                    shape.empty() ? nullptr : shape.data(), shape.size());
    }
    /// Zero-copy tensor over caller memory released through `release(context)`.
    ValueRef tensor_borrowed(int32_t dtype, const std::vector<int64_t>& shape, const void* data,
                             size_t nbytes, milo_release_fn release, void* context) const {
        return make(api_->value_create_tensor_borrowed, dtype,
                    shape.empty() ? nullptr : shape.data(), shape.size(), data, nbytes, release,
                    context);
    }
    /// Map entry with a string key.
    void put(ValueRef map, std::string_view key, ValueRef v) const { map.append(string(key), v); }

    /// Deep-copies `from` (a value of any document, e.g. one a delegate transporter filled)
    /// into this document and returns the copy. Shared values stay shared and cycles stay
    /// cycles; tensor bytes are copied.
    ValueRef copy(ValueRef from) const {
        std::unordered_map<const milo_value*, milo_value*> done;
        return {api_, copy_value(from.get(), done)};
    }

    bool equals(const DocRef& other, std::string* where = nullptr) const {
        char buf[512];
        bool eq = api_->doc_equal(d_, other.d_, buf, sizeof buf);
        if (!eq && where) *where = buf;
        return eq;
    }

protected:
    template <class F, class... A>
    ValueRef make(F fn, A... args) const {
        milo_value* out = nullptr;
        call(fn, d_, args..., &out);
        return {api_, out};
    }

    milo_value* copy_value(const milo_value* v,
                           std::unordered_map<const milo_value*, milo_value*>& done) const {
        if (v == nullptr) return nullptr;
        auto seen = done.find(v);
        if (seen != done.end()) return seen->second;
        const milo_api* a = api_;
        ValueRef src{a, const_cast<milo_value*>(v)};
        milo_value* out = nullptr;
        const int32_t kind = a->value_get_kind(v);
        switch (kind) {
            case MILO_KIND_NULL: return null().get();
            case MILO_KIND_BOOL: return boolean(src.as_bool()).get();
            case MILO_KIND_INT: return integer_text(src.int_text()).get();
            case MILO_KIND_FLOAT: return number(src.as_float()).get();
            case MILO_KIND_STRING: return string(src.as_string()).get();
            case MILO_KIND_BYTES: {
                std::string_view b = src.as_bytes();
                return bytes(b.data(), b.size()).get();
            }
            case MILO_KIND_GLOBAL: return global(std::string(src.name()).c_str()).get();
            case MILO_KIND_LIST:
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
            case MILO_KIND_MAP: {
                out = make(a->value_create_container, kind).get();
                done[v] = out;  // before the items: a container may contain itself
                for (size_t i = 0, n = a->value_count(v); i < n; ++i) {
                    milo_value* item = copy_value(a->value_at(v, i), done);
                    if (kind == MILO_KIND_MAP)
                        call(a->value_append_pair, out, copy_value(a->value_key_at(v, i), done),
                             item);
                    else
                        call(a->value_append, out, item);
                }
                return out;
            }
            case MILO_KIND_OBJECT: {
                out = object(std::string(src.name()).c_str()).get();
                done[v] = out;
                if (milo_value* args = a->value_get_args(v))
                    call(a->value_set_args, out, copy_value(args, done));
                if (milo_value* state = a->value_get_state(v))
                    call(a->value_set_state, out, copy_value(state, done));
                return out;
            }
            case MILO_KIND_TENSOR: {
                const int32_t dtype = src.dtype();
                const std::vector<int64_t> shape = src.shape();
                const int64_t* dims = shape.empty() ? nullptr : shape.data();
                if (dtype == MILO_DTYPE_RECORD) {
                    out = make(a->value_create_record_tensor, a->value_tensor_itemsize(v), dims,
                               shape.size())
                              .get();
                    for (size_t f = 0, n = a->value_tensor_field_count(v); f < n; ++f) {
                        const char* name = nullptr;
                        int32_t fdtype = 0;
                        uint64_t offset = 0;
                        const int64_t* fshape = nullptr;
                        size_t fndim = 0;
                        call(a->value_tensor_field_at, v, f, &name, &fdtype, &offset, &fshape,
                             &fndim);
                        call(a->value_tensor_add_field, out, name, fdtype, offset, fshape, fndim);
                    }
                } else {
                    out = make(a->value_create_tensor, dtype, dims, shape.size()).get();
                }
                done[v] = out;
                ValueRef dst{a, out};
                const size_t n = a->value_count(v);
                if (dtype == MILO_DTYPE_STRING) {
                    for (size_t i = 0; i < n; ++i) dst.set_string(i, src.string_at(i));
                } else if (dtype == MILO_DTYPE_OBJECT) {
                    for (size_t i = 0; i < n; ++i)
                        call(a->value_tensor_set_item, out, i,
                             copy_value(a->value_tensor_item_at(v, i), done));
                } else {
                    auto [from, nbytes] = src.data();
                    if (nbytes > 0) std::memcpy(dst.mutable_data().first, from, nbytes);
                }
                return out;
            }
            default:
                throw Error(MILO_ERR_INTERNAL, "copy: unknown value kind");
        }
    }

    const milo_api* api_ = nullptr;
    milo_doc* d_ = nullptr;
};

/// An owned document (move-only).
class Doc : public DocRef {
public:
    explicit Doc(const milo_api* api = default_api()) {
        api_ = api;
        call(api_->doc_create, &d_);
    }
    /// Takes ownership of a handle.
    Doc(const milo_api* api, milo_doc* adopt) { api_ = api, d_ = adopt; }
    Doc(Doc&& o) noexcept { swap(o); }
    Doc& operator=(Doc&& o) noexcept {
        if (this != &o) {
            reset();
            swap(o);
        }
        return *this;
    }
    Doc(const Doc&) = delete;
    Doc& operator=(const Doc&) = delete;
    ~Doc() { reset(); }

    milo_doc* release() {
        milo_doc* d = d_;
        d_ = nullptr;
        return d;
    }

private:
    void reset() {
        if (d_ != nullptr) api_->doc_destroy(d_);
        d_ = nullptr;
    }
    void swap(Doc& o) {
        std::swap(api_, o.api_);
        std::swap(d_, o.d_);
    }
};

/// Save options with defaults (MILO_SAVE_OPTIONS_INIT).
struct SaveOptions {
    std::string format;  ///< "" to pick from the path
    int32_t tensors = MILO_TENSORS_AUTO;
    int32_t indent = -1;
    uint64_t readable_max_bytes = 0;
    uint64_t external_min_bytes = 0;

    milo_save_options c() const {
        milo_save_options o = MILO_SAVE_OPTIONS_INIT;
        o.format = format.empty() ? nullptr : format.c_str();
        o.tensors = tensors;
        o.indent = indent;
        o.readable_max_bytes = readable_max_bytes;
        o.external_min_bytes = external_min_bytes;
        return o;
    }
};

/// An owned registry (applications; needs libmilo).
class Registry {
public:
    Registry() { call(milo_registry_create, &r_); }
    Registry(Registry&& o) noexcept : r_(o.r_) { o.r_ = nullptr; }
    Registry& operator=(Registry&& o) noexcept {
        std::swap(r_, o.r_);
        return *this;
    }
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;
    ~Registry() { milo_registry_destroy(r_); }

    milo_registry* get() const { return r_; }

    void load_plugin(const std::string& path) { call(milo_registry_load_plugin, r_, path.c_str()); }
    /// ':'-separated folders; nullptr: MILO_PLUGIN_PATH and the default plugin folder.
    void load_plugins(const char* dirs = nullptr) { call(milo_registry_load_plugins, r_, dirs); }

    Doc load(const std::string& path) const {
        milo_doc* d = nullptr;
        call(milo_doc_load, r_, path.c_str(), static_cast<const milo_load_options*>(nullptr), &d);
        return Doc(default_api(), d);
    }
    /// Any input: a document, or a native file through the transporter that recognises it.
    Doc open(const std::string& path) const {
        milo_doc* d = nullptr;
        call(milo_doc_open, r_, path.c_str(), static_cast<const milo_load_options*>(nullptr), &d);
        return Doc(default_api(), d);
    }
    Doc decode(std::string_view bytes, const char* format = nullptr) const {
        milo_load_options o = MILO_LOAD_OPTIONS_INIT;
        o.format = format;
        milo_doc* d = nullptr;
        call(milo_doc_decode, r_, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
             static_cast<const char*>(nullptr), &o, &d);
        return Doc(default_api(), d);
    }
    void save(const DocRef& doc, const std::string& path, const SaveOptions& opts = {}) const {
        milo_save_options o = opts.c();
        call(milo_doc_save, r_, doc.get(), path.c_str(), &o);
    }
    std::string encode(const DocRef& doc, const SaveOptions& opts = {}) const {
        milo_save_options o = opts.c();
        std::string out;
        call(milo_doc_encode, r_, doc.get(), &o, &append_to_string, static_cast<void*>(&out));
        return out;
    }
    Doc decode_native(std::string_view bytes, const char* transporter = nullptr,
                      const char* path = nullptr) const {
        milo_doc* d = nullptr;
        call(milo_registry_decode_native, r_, transporter,
             reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), path, &d);
        return Doc(default_api(), d);
    }
    void encode_native(const DocRef& doc, const std::string& path,
                       const char* transporter = nullptr) const {
        call(milo_registry_encode_native, r_, transporter, doc.get(), path.c_str());
    }
    /// The native bytes of `doc`, in memory (encode_native without a file).
    std::string encode_native_bytes(const DocRef& doc, const char* transporter = nullptr) const {
        std::string out;
        call(milo_registry_encode_native_to, r_, transporter, doc.get(), &append_to_string,
             static_cast<void*>(&out));
        return out;
    }

private:
    static milo_status append_to_string(void* ctx, const void* p, size_t n, milo_error*) {
        static_cast<std::string*>(ctx)->append(static_cast<const char*>(p), n);
        return MILO_OK;
    }

    milo_registry* r_ = nullptr;
};

}  // namespace milo

#endif  // MILO_MILO_HPP
