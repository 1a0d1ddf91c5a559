// The ONNX import transporter: .onnx ModelProto files → Milo documents (import only).
#include <dlfcn.h>

#include <memory>

#include <onnx/onnx_pb.h>

#include "milo/milo_plugin.hpp"
#include "onnx_import.hpp"
#include "onnx_schema.hpp"
#include "onnx_wire.hpp"

namespace {

class OnnxTransporter : public milo::plugin::Transporter {
public:
    const char* id() const override { return milo::onnx_import::kTransporterId; }
    const char* description() const override {
        return "ONNX models (ModelProto, any IR version) → documents, lossless; import only";
    }
    const char* version() const override { return milo::onnx_import::kRevision; }
    const char* framework() const override { return "onnx"; }
    std::vector<std::string> types() const override { return {milo::onnx_import::kRootType}; }
    std::vector<std::string> extensions() const override { return {".onnx"}; }
    int32_t probe(const uint8_t* head, size_t size) const override {
        return milo::onnx_import::probe_model(head, size);
    }
    bool can_encode() const override { return false; }
    void decode(milo_registry*, const uint8_t* data, size_t size, const char* path,
                milo::DocRef doc) override {
        milo::onnx_import::import_model(schema_, doc, data, size, path);
    }

private:
    milo::onnx_import::Schema schema_;
};

// libonnx_proto registers onnx-ml.proto in protobuf's process-wide generated pool when it is
// loaded and never unregisters it. Unloaded with this plugin and loaded again by the next
// registry, it would register the file twice, which protobuf answers with abort(). Pinning it
// (RTLD_NODELETE) keeps the first registration for the life of the process.
bool pin_onnx_proto(std::string* why) {
    Dl_info info{};  // an object defined in libonnx_proto itself (inline functions are ours)
    if (dladdr(static_cast<const void*>(&::onnx::_ModelProto_default_instance_), &info) == 0 ||
        info.dli_fname == nullptr) {
        *why = "cannot locate libonnx_proto";
        return false;
    }
    if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) == nullptr) {
        const char* e = dlerror();
        *why = std::string("cannot pin ") + info.dli_fname + ": " + (e ? e : "dlopen failed");
        return false;
    }
    return true;
}

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    return milo::plugin::entry(host, error, "onnx", "1.0", [](milo::plugin::Registrar& r) {
        std::string why;
        if (!pin_onnx_proto(&why)) throw milo::Error(MILO_ERR_PLUGIN, "onnx plugin: " + why);
        r.add(std::make_unique<OnnxTransporter>());
    });
}
