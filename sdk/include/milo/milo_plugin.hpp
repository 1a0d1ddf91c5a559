/// \file milo/milo_plugin.hpp
/// Write a Milo plugin in C++: derive from milo::plugin::Transporter, register instances in
/// milo_register through milo::plugin::entry, and this header builds the C descriptor tables
/// and catches every exception at the boundary (milo::Error keeps its status; any other
/// exception becomes MILO_ERR_PLUGIN). Formats are registered through the C milo_format table.
///
///     class MyTransporter : public milo::plugin::Transporter { ... };
///     extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host,
///                                                             milo_error* error) {
///         return milo::plugin::entry(host, error, "my-plugin", "1.0", [](auto& r) {
///             r.add(std::make_unique<MyTransporter>());
///         });
///     }
#ifndef MILO_MILO_PLUGIN_HPP
#define MILO_MILO_PLUGIN_HPP

#include <memory>
#include <new>
#include <string>
#include <vector>

#include "milo/milo.hpp"

namespace milo {
namespace plugin {

/// Output stream handed to encoders.
class Writer {
public:
    Writer(milo_write_fn fn, void* context) : fn_(fn), context_(context) {}
    void write(const void* data, size_t size) {
        detail::ErrorBuffer eb;
        detail::check(fn_(context_, data, size, eb.get()), eb.e);
    }
    void write(std::string_view s) { write(s.data(), s.size()); }

private:
    milo_write_fn fn_;
    void* context_;
};

/// Base class of a C++ transporter. Override what it supports; throw milo::Error (with a
/// precise message) or any std::exception on failure.
class Transporter {
public:
    virtual ~Transporter() = default;
    virtual const char* id() const = 0;
    virtual const char* description() const { return ""; }
    virtual const char* version() const { return "1"; }
    virtual const char* framework() const { return ""; }
    /// Exact root type names this transporter owns.
    virtual std::vector<std::string> types() const { return {}; }
    virtual std::vector<std::string> extensions() const { return {}; }
    /// Confidence 0..100 that `head` is this transporter's native input.
    virtual int32_t probe(const uint8_t* /*head*/, size_t /*size*/) const { return 0; }
    virtual bool can_decode() const { return true; }
    virtual bool can_encode() const { return true; }
    /// Native bytes → document.
    virtual void decode(milo_registry* /*registry*/, const uint8_t* /*data*/, size_t /*size*/,
                        const char* /*path*/, DocRef /*doc*/) {
        throw Error(MILO_ERR_UNSUPPORTED, std::string(id()) + ": decoding is not supported");
    }
    /// Document → native bytes.
    virtual void encode(milo_registry* /*registry*/, DocRef /*doc*/, Writer& /*out*/) {
        throw Error(MILO_ERR_UNSUPPORTED, std::string(id()) + ": encoding is not supported");
    }
    /// Optional capabilities by string id.
    virtual const void* extension(const char* /*id*/) const { return nullptr; }
};

namespace detail {

template <class F>
milo_status guard(const milo_api* api, milo_error* error, F&& body) {
    try {
        body();
        return MILO_OK;
    } catch (const Error& e) {
        return api->error_set(error, e.code(), e.what());
    } catch (const std::bad_alloc&) {
        return api->error_set(error, MILO_ERR_OUT_OF_MEMORY, "out of memory in plugin");
    } catch (const std::exception& e) {
        return api->error_set(error, MILO_ERR_PLUGIN, e.what());
    } catch (...) {
        return api->error_set(error, MILO_ERR_PLUGIN, "unknown exception in plugin");
    }
}

// Keeps a transporter and the C views of its strings alive while registered.
struct TransporterHolder {
    std::unique_ptr<Transporter> impl;
    std::vector<std::string> type_strings, ext_strings;
    std::vector<const char*> types, exts;
    milo_transporter desc{};

    static int32_t probe(void* self, const uint8_t* head, size_t size) {
        try {
            return static_cast<TransporterHolder*>(self)->impl->probe(head, size);
        } catch (...) {
            return 0;
        }
    }
    static milo_status decode(void* self, const milo_api* api, milo_registry* reg,
                              const uint8_t* data, size_t size, const char* path, milo_doc* doc,
                              milo_error* error) {
        return guard(api, error, [&] {
            static_cast<TransporterHolder*>(self)->impl->decode(reg, data, size, path,
                                                                DocRef(api, doc));
        });
    }
    static milo_status encode(void* self, const milo_api* api, milo_registry* reg,
                              const milo_doc* doc, milo_write_fn write, void* context,
                              milo_error* error) {
        return guard(api, error, [&] {
            Writer w(write, context);
            static_cast<TransporterHolder*>(self)->impl->encode(
                reg, DocRef(api, const_cast<milo_doc*>(doc)), w);
        });
    }
    static void destroy(void* self) { delete static_cast<TransporterHolder*>(self); }
    static const void* get_extension(void* self, const char* id) {
        try {
            return static_cast<TransporterHolder*>(self)->impl->extension(id);
        } catch (...) {
            return nullptr;
        }
    }
};

}  // namespace detail

/// Collects registrations inside milo_register.
class Registrar {
public:
    explicit Registrar(const milo_host* host) : host_(host) {}
    const milo_api* api() const { return host_->api; }

    /// Registers a transporter; ownership passes to the registry.
    void add(std::unique_ptr<Transporter> t) {
        auto h = std::make_unique<detail::TransporterHolder>();
        h->type_strings = t->types();
        h->ext_strings = t->extensions();
        for (auto& s : h->type_strings) h->types.push_back(s.c_str());
        h->types.push_back(nullptr);
        for (auto& s : h->ext_strings) h->exts.push_back(s.c_str());
        h->exts.push_back(nullptr);
        milo_transporter& d = h->desc;
        d.struct_size = sizeof d;
        d.abi_version = MILO_ABI_VERSION;
        d.id = t->id();
        d.description = t->description();
        d.version = t->version();
        d.framework = t->framework();
        d.types = h->types.data();
        d.extensions = h->exts.data();
        d.self = h.get();
        d.probe = detail::TransporterHolder::probe;
        d.decode = t->can_decode() ? detail::TransporterHolder::decode : nullptr;
        d.encode = t->can_encode() ? detail::TransporterHolder::encode : nullptr;
        d.destroy = detail::TransporterHolder::destroy;
        d.get_extension = detail::TransporterHolder::get_extension;
        h->impl = std::move(t);
        milo::detail::ErrorBuffer eb;
        milo_status s = host_->register_transporter(host_->context, &d, eb.get());
        milo::detail::check(s, eb.e);
        h.release();  // the registry calls destroy from now on
    }

private:
    const milo_host* host_;
};

/// Implements milo_register: declares the plugin, runs `body(registrar)`, and turns exceptions
/// into statuses. Registration is all-or-nothing on the host side.
template <class F>
milo_status entry(const milo_host* host, milo_error* error, const char* name,
                  const char* version, F&& body) {
    if (host == nullptr || host->api == nullptr) {
        if (error != nullptr && error->struct_size >= sizeof(milo_error)) {
            error->code = MILO_ERR_INVALID_ARGUMENT;
            std::strcpy(error->message, "milo_register called without a host table");
        }
        return MILO_ERR_INVALID_ARGUMENT;
    }
    milo_plugin_info info{};
    info.struct_size = sizeof info;
    info.abi_version = MILO_ABI_VERSION;
    info.abi_min = 1;
    info.name = name;
    info.version = version;
    if (milo_status s = host->declare_plugin(host->context, &info, error)) return s;
    return detail::guard(host->api, error, [&] {
        Registrar r(host);
        body(r);
    });
}

}  // namespace plugin
}  // namespace milo

#endif  // MILO_MILO_PLUGIN_HPP
