// An in-house C++ transporter built with milo_plugin.hpp: ACME's gradient-boosted scorecards
// (scorecard_model.hpp) ⇄ Milo documents. The scorecard's nested components are models in
// other formats; this transporter does not parse them itself but delegates each one to
// whichever registered transporter reads it (safetensors, and acme.scorer from
// plugins/template), and copies the result into its own document.
//
// Document: object acme.GradientBoostedScorecard, state:
//     name, base_score, learning_rate, gate_bonus     string, floats
//     features                                        list of strings
//     stages        list of object acme.BoostedStage {feature: int32 [k], threshold, left,
//                                                     right: float64 [k]}
//     components    map role → object acme.Component {format: string, transporter: string,
//                   metadata: map (when the component has any), model: the delegate's root}
#include <milo/milo_plugin.hpp>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "scorecard_model.hpp"

namespace {

constexpr const char* kType = "acme.GradientBoostedScorecard";

template <class T>
milo::ValueRef vector_tensor(milo::DocRef doc, int32_t dtype, const std::vector<T>& v) {
    auto t = doc.tensor(dtype, {static_cast<int64_t>(v.size())});
    if (!v.empty()) std::memcpy(t.mutable_data().first, v.data(), v.size() * sizeof(T));
    return t;
}

template <class T>
std::vector<T> tensor_vector(milo::ValueRef t, int32_t dtype, const std::string& where) {
    if (!t.is(MILO_KIND_TENSOR) || t.dtype() != dtype || t.shape().size() != 1)
        throw milo::Error(MILO_ERR_TYPE, "acme.scorecard: " + where + ": wrong tensor type");
    auto [data, n] = t.data();
    std::vector<T> out(n / sizeof(T));
    if (n) std::memcpy(out.data(), data, n);
    return out;
}

milo::ValueRef need(milo::ValueRef map, const char* key, int32_t kind, const std::string& at) {
    milo::ValueRef v = map.find(key);
    if (!v.is(kind))
        throw milo::Error(MILO_ERR_TYPE, "acme.scorecard: " + at + "/" + key +
                                             (v ? ": has the wrong kind" : ": is missing"));
    return v;
}

class ScorecardTransporter : public milo::plugin::Transporter {
public:
    explicit ScorecardTransporter(const milo_api* api) : api_(api) {}

    const char* id() const override { return "acme.scorecard"; }
    const char* description() const override {
        return "ACME gradient-boosted scorecards (.gbscard), components delegated";
    }
    const char* framework() const override { return "acme-scoring"; }
    std::vector<std::string> types() const override { return {kType}; }
    std::vector<std::string> extensions() const override { return {".gbscard"}; }
    int32_t probe(const uint8_t* head, size_t size) const override {
        return size >= 8 && std::memcmp(head, "GBSCARD1", 8) == 0 ? 100 : 0;
    }

    void decode(milo_registry* registry, const uint8_t* data, size_t size, const char* path,
                milo::DocRef doc) override {
        const std::string name = path ? path : "<memory>";
        acme::Scorecard s;
        try {
            s = acme::from_native(data, size);
        } catch (const acme::NativeError& e) {
            throw milo::Error(MILO_ERR_CORRUPT, name + ": " + e.what());
        }
        auto state = doc.map();
        doc.put(state, "name", doc.string(s.name));
        doc.put(state, "base_score", doc.number(s.base_score));
        doc.put(state, "learning_rate", doc.number(s.learning_rate));
        doc.put(state, "gate_bonus", doc.number(s.gate_bonus));
        auto features = doc.list();
        for (const auto& f : s.features) features.append(doc.string(f));
        doc.put(state, "features", features);
        auto stages = doc.list();
        for (const auto& stage : s.stages) {
            std::vector<int32_t> feature;
            std::vector<double> threshold, left, right;
            for (const acme::Stump& st : stage) {
                feature.push_back(st.feature);
                threshold.push_back(st.threshold);
                left.push_back(st.left);
                right.push_back(st.right);
            }
            auto st = doc.map();
            doc.put(st, "feature", vector_tensor(doc, MILO_DTYPE_INT32, feature));
            doc.put(st, "threshold", vector_tensor(doc, MILO_DTYPE_FLOAT64, threshold));
            doc.put(st, "left", vector_tensor(doc, MILO_DTYPE_FLOAT64, left));
            doc.put(st, "right", vector_tensor(doc, MILO_DTYPE_FLOAT64, right));
            auto obj = doc.object("acme.BoostedStage");
            obj.set_state(st);
            stages.append(obj);
        }
        doc.put(state, "stages", stages);
        auto components = doc.map();
        for (const auto& [role, c] : s.components)
            doc.put(components, role, decode_component(registry, doc, name, role, c));
        doc.put(state, "components", components);
        auto root = doc.object(kType);
        root.set_state(state);
        doc.set_root(root);
        doc.set_header("type", kType);
        doc.set_header("framework.name", "acme-scoring");
        doc.set_header("source.kind", "gbscard");
    }

    void encode(milo_registry* registry, milo::DocRef doc, milo::plugin::Writer& out) override {
        milo::ValueRef root = doc.root();
        if (!root.is(MILO_KIND_OBJECT) || root.name() != kType)
            throw milo::Error(MILO_ERR_TYPE, std::string("acme.scorecard: /root: expected ") + kType);
        const std::string at = "/root/state";
        milo::ValueRef state = root.state();
        if (!state.is(MILO_KIND_MAP)) throw milo::Error(MILO_ERR_TYPE, "acme.scorecard: " + at + ": not a map");
        acme::Scorecard s;
        s.name = std::string(need(state, "name", MILO_KIND_STRING, at).as_string());
        s.base_score = need(state, "base_score", MILO_KIND_FLOAT, at).as_float();
        s.learning_rate = need(state, "learning_rate", MILO_KIND_FLOAT, at).as_float();
        s.gate_bonus = need(state, "gate_bonus", MILO_KIND_FLOAT, at).as_float();
        milo::ValueRef features = need(state, "features", MILO_KIND_LIST, at);
        for (size_t i = 0; i < features.size(); ++i)
            s.features.emplace_back(features[i].as_string());
        milo::ValueRef stages = need(state, "stages", MILO_KIND_LIST, at);
        for (size_t i = 0; i < stages.size(); ++i) {
            const std::string sat = at + "/stages/" + std::to_string(i) + "/state";
            milo::ValueRef st = stages[i].state();
            auto feature = tensor_vector<int32_t>(st.find("feature"), MILO_DTYPE_INT32, sat + "/feature");
            auto threshold = tensor_vector<double>(st.find("threshold"), MILO_DTYPE_FLOAT64, sat + "/threshold");
            auto left = tensor_vector<double>(st.find("left"), MILO_DTYPE_FLOAT64, sat + "/left");
            auto right = tensor_vector<double>(st.find("right"), MILO_DTYPE_FLOAT64, sat + "/right");
            if (threshold.size() != feature.size() || left.size() != feature.size() ||
                right.size() != feature.size())
                throw milo::Error(MILO_ERR_CORRUPT, "acme.scorecard: " + sat + ": tensor lengths differ");
            std::vector<acme::Stump> stage(feature.size());
            for (size_t k = 0; k < stage.size(); ++k)
                stage[k] = {feature[k], threshold[k], left[k], right[k]};
            s.stages.push_back(std::move(stage));
        }
        milo::ValueRef components = need(state, "components", MILO_KIND_MAP, at);
        for (size_t i = 0; i < components.size(); ++i) {
            const std::string role(components.key(i).as_string());
            s.components[role] = encode_component(registry, components[i],
                                                  at + "/components/" + role);
        }
        out.write(acme::to_native(s));
    }

private:
    // The registered transporter that is most confident it reads `bytes` (not this one).
    const milo_transporter* delegate_for(milo_registry* registry, const std::string& bytes) const {
        const milo_transporter* best = nullptr;
        int32_t best_score = 0;
        for (size_t i = 0, n = api_->registry_transporter_count(registry); i < n; ++i) {
            const milo_transporter* t = api_->registry_transporter_at(registry, i);
            if (t->probe == nullptr || t->decode == nullptr || std::strcmp(t->id, id()) == 0)
                continue;
            const size_t head = std::min<size_t>(bytes.size(), 64 * 1024);
            int32_t score = t->probe(t->self, reinterpret_cast<const uint8_t*>(bytes.data()), head);
            if (score > best_score) best = t, best_score = score;
        }
        return best;
    }

    milo::ValueRef decode_component(milo_registry* registry, milo::DocRef doc,
                                    const std::string& name, const std::string& role,
                                    const acme::Component& c) const {
        const milo_transporter* t = delegate_for(registry, c.bytes);
        if (t == nullptr)
            throw milo::Error(MILO_ERR_UNSUPPORTED,
                              name + ": component \"" + role + "\" (" + c.format +
                                  "): no registered transporter reads it; load its plugin");
        milo::Doc sub(api_);  // made through the host's table: the plugin never links libmilo
        milo_error e = MILO_ERROR_INIT;
        const std::string sub_name = name + "#" + role;
        if (t->decode(t->self, api_, registry, reinterpret_cast<const uint8_t*>(c.bytes.data()),
                      c.bytes.size(), sub_name.c_str(), sub.get(), &e) != MILO_OK)
            throw milo::Error(e.code, e.message);
        // The delegate's trust report belongs to the whole document.
        for (size_t i = 0, n = api_->doc_trust_count(sub.get()); i < n; ++i) {
            const char *tname, *usage;
            int32_t level;
            milo::call(api_->doc_trust_at, sub.get(), i, &tname, &usage, &level);
            doc.set_trust(tname, usage, level);
        }
        auto st = doc.map();
        doc.put(st, "format", doc.string(c.format));
        doc.put(st, "transporter", doc.string(t->id));
        if (size_t n = api_->doc_metadata_count(sub.get())) {
            auto meta = doc.map();
            for (size_t i = 0; i < n; ++i) {
                const char *k, *v;
                milo::call(api_->doc_metadata_at, sub.get(), i, &k, &v);
                doc.put(meta, k, doc.string(v));
            }
            doc.put(st, "metadata", meta);
        }
        doc.put(st, "model", doc.copy(sub.root()));
        auto obj = doc.object("acme.Component");
        obj.set_state(st);
        return obj;
    }

    acme::Component encode_component(milo_registry* registry, milo::ValueRef component,
                                     const std::string& at) const {
        if (!component.is(MILO_KIND_OBJECT) || component.name() != "acme.Component")
            throw milo::Error(MILO_ERR_TYPE, "acme.scorecard: " + at + ": expected acme.Component");
        milo::ValueRef st = component.state();
        acme::Component c;
        c.format = std::string(need(st, "format", MILO_KIND_STRING, at + "/state").as_string());
        milo::ValueRef model = need(st, "model", MILO_KIND_OBJECT, at + "/state");
        const std::string type(model.name());
        const milo_transporter* t =
            api_->registry_find_transporter_for_type(registry, type.c_str());
        if (t == nullptr || t->encode == nullptr)
            throw milo::Error(MILO_ERR_UNSUPPORTED, "acme.scorecard: " + at + "/state/model: no "
                                                    "registered transporter writes " + type);
        milo::Doc ref(api_);
        ref.set_root(ref.copy(model));
        ref.set_header("type", type);
        milo::ValueRef meta = st.find("metadata");
        for (size_t i = 0; meta.is(MILO_KIND_MAP) && i < meta.size(); ++i)
            ref.set_metadata(std::string(meta.key(i).as_string()).c_str(),
                             std::string(meta[i].as_string()));
        auto append = [](void* ctx, const void* p, size_t n, milo_error*) -> milo_status {
            static_cast<std::string*>(ctx)->append(static_cast<const char*>(p), n);
            return MILO_OK;
        };
        milo_error e = MILO_ERROR_INIT;
        if (t->encode(t->self, api_, registry, ref.get(), append, &c.bytes, &e) != MILO_OK)
            throw milo::Error(e.code, std::string("acme.scorecard: ") + at + ": " + e.message);
        return c;
    }

    const milo_api* api_;
};

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host,
                                                        milo_error* error) {
    return milo::plugin::entry(host, error, "acme_scorecard", "1.0.0",
                               [](milo::plugin::Registrar& r) {
                                   r.add(std::make_unique<ScorecardTransporter>(r.api()));
                               });
}
