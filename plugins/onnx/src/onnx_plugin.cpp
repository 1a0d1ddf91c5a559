// The ONNX import transporter: .onnx ModelProto files → Milo documents (import only).
#include <memory>

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

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    return milo::plugin::entry(host, error, "onnx", "1.0", [](milo::plugin::Registrar& r) {
        r.add(std::make_unique<OnnxTransporter>());
    });
}
