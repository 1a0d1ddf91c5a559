// The PyTorch checkpoint transporter: torch.save files ⇄ Milo documents, without executing
// anything on the way in (README.md).
#include "milo/milo_plugin.hpp"
#include "torch_export.hpp"
#include "torch_forms.hpp"
#include "torch_import.hpp"

namespace {

class TorchTransporter : public milo::plugin::Transporter {
public:
    const char* id() const override { return milo::torch::kTransporterId; }
    const char* description() const override {
        return "PyTorch checkpoints written by torch.save (zip and legacy formats): state dicts "
               "and checkpoint dicts read without executing anything; written back as torch.save "
               "writes them";
    }
    const char* version() const override { return milo::torch::kRevision; }
    const char* framework() const override { return "pytorch"; }
    std::vector<std::string> extensions() const override { return {".pt", ".pth", ".ckpt"}; }
    int32_t probe(const uint8_t* head, size_t size) const override {
        switch (milo::torch::sniff_pt(head, size)) {
            case milo::torch::PtKind::Checkpoint:
            case milo::torch::PtKind::Legacy: return 70;
            // Not a checkpoint: left to the sklearn transporter, which reads any zip's pickles
            // for their names (`milo scan`). Asked for explicitly (--transporter torch), decode
            // refuses it without interpreting a pickle.
            case milo::torch::PtKind::TorchScript: return 0;
            default: return 0;
        }
    }
    void decode(milo_registry*, const uint8_t* data, size_t size, const char* path,
                milo::DocRef doc) override {
        milo::torch::import_pt(doc, data, size, path);
    }
    void encode(milo_registry*, milo::DocRef doc, milo::plugin::Writer& out) override {
        std::string bytes = milo::torch::export_pt(doc);
        out.write(bytes.data(), bytes.size());
    }
};

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    return milo::plugin::entry(host, error, "torch", "0.1.0", [](milo::plugin::Registrar& r) {
        r.add(std::make_unique<TorchTransporter>());
    });
}
