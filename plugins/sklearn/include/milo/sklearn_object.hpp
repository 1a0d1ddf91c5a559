/// \file milo/sklearn_object.hpp
/// C++ side of milo/sklearn_object.h: derive from milo::sklearn::ObjectTransporter, override
/// id(), types(), import_object() and export_object(), and register it with
/// milo::plugin::entry as any transporter. Exceptions become statuses at the boundary
/// (milo::Error keeps its code). docs/examples/fraud_scorer/ is a complete plugin.
#ifndef MILO_SKLEARN_OBJECT_HPP
#define MILO_SKLEARN_OBJECT_HPP

#include <cstring>
#include <string>

#include "milo/milo_plugin.hpp"
#include "milo/sklearn_object.h"

namespace milo {
namespace sklearn {

class ObjectTransporter : public plugin::Transporter {
public:
    /// The pickle-level `object` (a value of `doc`) → this transporter's form, created in `doc`.
    /// `path` is the object's document path, for messages.
    virtual ValueRef import_object(milo_registry* registry, DocRef doc, ValueRef object,
                                   const std::string& path) = 0;
    /// `value` (this transporter's form, or the pickle-level one) → the pickle-level object,
    /// created in the scratch document `out`.
    virtual ValueRef export_object(milo_registry* registry, ValueRef value, const std::string& path,
                                   DocRef out) = 0;

    // No native format of its own: the objects arrive inside pickles the sklearn transporter
    // reads. Writing a document whose root is one of them goes through that transporter.
    bool can_decode() const override { return false; }
    void encode(milo_registry* registry, DocRef doc, plugin::Writer& out) override {
        const milo_api* api = doc.api();
        const milo_transporter* t = api->registry_find_transporter(registry, "sklearn");
        if (t == nullptr || t->encode == nullptr)
            throw Error(MILO_ERR_UNSUPPORTED, std::string(id()) +
                                                  ": writing a pickle needs the sklearn "
                                                  "transporter (load milo_sklearn.so)");
        std::string bytes;
        auto append = [](void* ctx, const void* p, size_t n, milo_error*) -> milo_status {
            static_cast<std::string*>(ctx)->append(static_cast<const char*>(p), n);
            return MILO_OK;
        };
        detail::ErrorBuffer eb;
        detail::check(t->encode(t->self, api, registry, doc.get(), append, &bytes, eb.get()), eb.e);
        out.write(bytes);
    }

    const void* extension(const char* id) const override {
        static const milo_sklearn_object_ext table = {sizeof(milo_sklearn_object_ext),
                                                      MILO_ABI_VERSION, import_cb, export_cb};
        return std::strcmp(id, MILO_EXT_SKLEARN_OBJECT) == 0 ? &table : nullptr;
    }

private:
    // `self` is the descriptor's self: the holder milo_plugin.hpp registered for this object.
    static ObjectTransporter& of(void* self) {
        auto* t = dynamic_cast<ObjectTransporter*>(
            static_cast<plugin::detail::TransporterHolder*>(self)->impl.get());
        if (t == nullptr) throw Error(MILO_ERR_INTERNAL, "not a milo::sklearn::ObjectTransporter");
        return *t;
    }
    static milo_status import_cb(void* self, const milo_api* api, milo_registry* registry,
                                 milo_doc* doc, milo_value* object, const char* path,
                                 milo_value** out, milo_error* error) {
        return plugin::detail::guard(api, error, [&] {
            *out = of(self)
                       .import_object(registry, DocRef(api, doc), ValueRef(api, object),
                                      path ? path : "")
                       .get();
        });
    }
    static milo_status export_cb(void* self, const milo_api* api, milo_registry* registry,
                                 const milo_doc* /*doc*/, const milo_value* value, const char* path,
                                 milo_doc* out_doc, milo_value** out, milo_error* error) {
        return plugin::detail::guard(api, error, [&] {
            *out = of(self)
                       .export_object(registry, ValueRef(api, const_cast<milo_value*>(value)),
                                      path ? path : "", DocRef(api, out_doc))
                       .get();
        });
    }
};

}  // namespace sklearn
}  // namespace milo

#endif  // MILO_SKLEARN_OBJECT_HPP
