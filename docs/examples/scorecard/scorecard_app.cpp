// The application side of the example: one process builds a scorecard and exports it as a
// Milo document; another imports that document and gets the identical model back.
//
//     scorecard_app [--plugin PATH]... export DOC   build a model, write DOC, print predictions
//     scorecard_app [--plugin PATH]... import DOC   read DOC back into a model, print predictions
//
// DOC's format comes from its extension (.json, .yaml, .pb). Plugins: every --plugin, then the
// folders of MILO_PLUGIN_PATH and the default plugin folder. Predictions are printed with their
// bit patterns, so two runs can be compared with cmp.
#include <milo/milo.hpp>

#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "scorecard_model.hpp"

namespace {

// A small deterministic generator: the example must not depend on <random>'s distributions,
// which differ between standard libraries.
struct Lcg {
    uint64_t s;
    double next() {  // uniform in [-1, 1)
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<double>(s >> 11) / 4503599627370496.0 - 1.0;
    }
};

acme::Scorecard build_model() {
    Lcg g{20261122};
    acme::Scorecard s;
    s.name = "fraud-gbscard-v7";
    s.base_score = -1.25;
    s.learning_rate = 0.1;
    s.gate_bonus = 0.75;
    s.features = {"amount", "age_days", "velocity", "distance_km"};
    for (int stage = 0; stage < 40; ++stage) {
        std::vector<acme::Stump> stumps(3);
        for (auto& st : stumps) {
            st.feature = static_cast<int32_t>((g.next() + 1.0) * 2.0) % 4;
            st.threshold = g.next();
            st.left = g.next();
            st.right = g.next();
        }
        s.stages.push_back(stumps);
    }
    s.components["normalizer"] = {"safetensors", acme::normalizer_bytes({120.5, 400.0, 3.25, 12.0},
                                                                        {80.0, 250.0, 1.5, 30.0})};
    acme::Gate gate{0.2, {0.9, -0.3, 0.6, 0.05}};
    s.components["gate"] = {"acmescore", acme::gate_bytes("velocity-gate", gate)};
    return s;
}

void print_predictions(const acme::Scorecard& s) {
    Lcg g{7};
    for (int i = 0; i < 16; ++i) {
        std::vector<double> x = {200 + 150 * g.next(), 400 + 300 * g.next(), 3 + 2 * g.next(),
                                 15 + 20 * g.next()};
        const double p = acme::predict(s, x);
        uint64_t bits;
        std::memcpy(&bits, &p, 8);
        std::printf("prediction %2d: %.17g 0x%016" PRIx64 "\n", i, p, bits);
    }
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

int usage() {
    std::fprintf(stderr, "usage: scorecard_app [--plugin PATH]... export|import DOC\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> plugins;
    int i = 1;
    for (; i + 1 < argc && std::string(argv[i]) == "--plugin"; i += 2) plugins.push_back(argv[i + 1]);
    if (argc - i != 2) return usage();
    const std::string command = argv[i], doc_path = argv[i + 1];
    try {
        milo::Registry reg;
        for (const auto& p : plugins) reg.load_plugin(p);
        reg.load_plugins();
        if (command == "export") {
            const acme::Scorecard model = build_model();
            const std::string native = acme::to_native(model);
            milo::Doc doc = reg.decode_native(native, "acme.scorecard", "fraud.gbscard");
            reg.save(doc, doc_path);
            std::fprintf(stderr, "exported %s: %zu bytes native, %zu document values\n",
                         doc_path.c_str(), native.size(), milo_doc_value_count(doc.get()));
            print_predictions(model);
        } else if (command == "import") {
            milo::Doc doc = reg.load(doc_path);
            const std::string native_path = doc_path + ".import.gbscard";
            reg.encode_native(doc, native_path, "acme.scorecard");
            const std::string native = read_file(native_path);
            std::remove(native_path.c_str());
            const acme::Scorecard model = acme::from_native(
                reinterpret_cast<const uint8_t*>(native.data()), native.size());
            std::fprintf(stderr, "imported %s: %zu bytes native\n", doc_path.c_str(),
                         native.size());
            print_predictions(model);
        } else {
            return usage();
        }
    } catch (const milo::Error& e) {
        std::fprintf(stderr, "scorecard_app: %s: %s\n", milo_status_name(e.code()), e.what());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scorecard_app: %s\n", e.what());
        return 1;
    }
    return 0;
}
