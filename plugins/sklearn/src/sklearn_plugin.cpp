// The scikit-learn transporter: pickle and joblib files ⇄ Milo documents, without executing
// anything on the way in (README.md).
#include "milo/milo_plugin.hpp"
#include "milo/readers/decompress.hpp"
#include "pymilo_import.hpp"
#include "sklearn_import.hpp"

namespace {

class SklearnTransporter : public milo::plugin::Transporter {
public:
    const char* id() const override { return milo::sklearn::kTransporterId; }
    const char* description() const override {
        return "scikit-learn-style Python objects: pickle (protocols 0-5) and joblib files "
               "(raw, zlib, gzip, bz2, xz, lzma, lz4) read without executing anything; "
               "written back as pickle";
    }
    const char* version() const override { return milo::sklearn::kRevision; }
    const char* framework() const override { return "scikit-learn"; }
    std::vector<std::string> extensions() const override {
        return {".pkl", ".pickle", ".joblib"};
    }
    int32_t probe(const uint8_t* head, size_t size) const override {
        switch (milo::readers::sniff(head, size)) {
            case milo::readers::Container::Pickle: return 60;
            // Compressed streams: joblib is the usual writer of these among model files.
            case milo::readers::Container::Zlib:
            case milo::readers::Container::Gzip:
            case milo::readers::Container::Bz2:
            case milo::readers::Container::Xz:
            case milo::readers::Container::Lzma:
            case milo::readers::Container::Lz4: return 30;
            // PyTorch/TorchScript archives: read only for their pickles' names (milo scan);
            // a torch transporter claims them with a higher score.
            case milo::readers::Container::Zip: return 10;
            default: return 0;
        }
    }
    // The registry is where in-house estimators find their transporters (README.md).
    void decode(milo_registry* registry, const uint8_t* data, size_t size, const char* path,
                milo::DocRef doc) override {
        milo::sklearn::import_pickle(doc, data, size, path, registry);
    }
    void encode(milo_registry* registry, milo::DocRef doc, milo::plugin::Writer& out) override {
        std::string bytes = milo::sklearn::export_pickle(doc, registry);
        out.write(bytes.data(), bytes.size());
    }
};

// PyMilo JSON files → the same documents (README.md, "PyMilo JSON"); read only.
class PymiloTransporter : public milo::plugin::Transporter {
public:
    const char* id() const override { return milo::sklearn::kPymiloTransporterId; }
    const char* description() const override {
        return "PyMilo JSON files of scikit-learn models, read into the documents the sklearn "
               "transporter makes (written back by it as pickle)";
    }
    const char* version() const override { return milo::sklearn::kRevision; }
    const char* framework() const override { return "scikit-learn"; }
    int32_t probe(const uint8_t* head, size_t size) const override {
        return milo::sklearn::probe_pymilo(head, size);
    }
    bool can_encode() const override { return false; }
    void decode(milo_registry*, const uint8_t* data, size_t size, const char* path,
                milo::DocRef doc) override {
        milo::sklearn::import_pymilo(doc, data, size, path);
    }
};

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    return milo::plugin::entry(host, error, "sklearn", "0.1.0", [](milo::plugin::Registrar& r) {
        r.add(std::make_unique<SklearnTransporter>());
        r.add(std::make_unique<PymiloTransporter>());
    });
}
