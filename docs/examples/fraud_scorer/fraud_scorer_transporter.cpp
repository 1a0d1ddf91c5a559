// milo_acme_fraud.so: ACME's in-house acme.models.FraudScorer (python/acme/models.py) for the
// sklearn transporter. The transporter "acme.fraud" claims the type and implements the
// extension milo/sklearn_object.h through milo::sklearn::ObjectTransporter: the sklearn
// transporter hands it every FraudScorer it reads from a pickle (inside a Pipeline or alone)
// and every one it writes. Nothing Python runs; the state is checked like any untrusted input.
//
// Pickle-level form (what BaseEstimator pickles: __dict__ in assignment order):
//     {"$object": "acme.models.FraudScorer", "state": {threshold, l2, learning_rate, max_iter,
//      feature_names, [classes_, n_features_in_, coef_, intercept_]}}
// This plugin's form (the same type, so that the document still names the Python class):
//     {"$object": "acme.models.FraudScorer", "state": {
//        "hyperparameters": {threshold, l2, learning_rate, max_iter, feature_names},
//        "fitted": null | {"classes": int/float/bool [2], "n_features": int,
//                          "weights": float64 [n_features], "bias": float}}}
// Values move between the forms unchanged (same kinds, same bits), so the pickle written back
// is the one Python wrote.
#include <cmath>
#include <milo/sklearn_object.hpp>
#include <string>
#include <vector>

namespace {

constexpr const char* kType = "acme.models.FraudScorer";
const char* const kHyper[] = {"threshold", "l2", "learning_rate", "max_iter", "feature_names"};
// Fitted attributes: the pickle's name and this plugin's name, in the order fit sets them.
const char* const kFitted[][2] = {{"classes_", "classes"},
                                  {"n_features_in_", "n_features"},
                                  {"coef_", "weights"},
                                  {"intercept_", "bias"}};

[[noreturn]] void bad(milo_status code, const std::string& where, const std::string& what) {
    throw milo::Error(code, where + ": " + what);
}

// One FraudScorer, whichever form it was read from: the values themselves, checked.
struct Scorer {
    milo::ValueRef hyper[5];
    bool fitted = false;
    milo::ValueRef fit[4];  // classes, n_features, weights, bias
};

double number(milo::ValueRef v, const std::string& at) {
    if (v.is(MILO_KIND_FLOAT)) return v.as_float();
    if (v.is(MILO_KIND_INT)) return double(v.as_int());
    bad(MILO_ERR_TYPE, at, "expected a number");
}

// Every check a FraudScorer's state must pass; `hyper` and `fit` name the members as the form
// read spells them, relative to the object (the sklearn transporter prefixes file and path).
void check(const Scorer& s, const std::string (&hyper)[5], const std::string (&fit)[4]) {
    double threshold = number(s.hyper[0], hyper[0]);
    if (!(threshold >= 0.0 && threshold <= 1.0)) bad(MILO_ERR_CORRUPT, hyper[0], "not in [0, 1]");
    double l2 = number(s.hyper[1], hyper[1]);
    if (!(l2 >= 0.0 && std::isfinite(l2)))
        bad(MILO_ERR_CORRUPT, hyper[1], "not a finite number >= 0");
    double rate = number(s.hyper[2], hyper[2]);
    if (!(rate > 0.0 && std::isfinite(rate)))
        bad(MILO_ERR_CORRUPT, hyper[2], "not a finite number > 0");
    const std::string max_iter = s.hyper[3].is(MILO_KIND_INT) ? s.hyper[3].int_text() : "-";
    if (max_iter[0] == '-' || max_iter == "0")
        bad(MILO_ERR_TYPE, hyper[3], "expected an integer >= 1");
    milo::ValueRef names = s.hyper[4];
    if (!names.is(MILO_KIND_NULL)) {
        if (!names.is(MILO_KIND_LIST))
            bad(MILO_ERR_TYPE, hyper[4], "expected null or a list of strings");
        for (size_t i = 0; i < names.size(); ++i)
            if (!names[i].is(MILO_KIND_STRING))
                bad(MILO_ERR_TYPE, hyper[4] + "/" + std::to_string(i), "expected a string");
    }
    if (!s.fitted) return;

    milo::ValueRef classes = s.fit[0], n = s.fit[1], weights = s.fit[2], bias = s.fit[3];
    if (!classes.is(MILO_KIND_TENSOR)) bad(MILO_ERR_TYPE, fit[0], "expected a tensor of 2 labels");
    const int32_t ct = classes.dtype();
    if (ct == MILO_DTYPE_OBJECT || ct == MILO_DTYPE_STRING || ct == MILO_DTYPE_RECORD ||
        classes.shape() != std::vector<int64_t>{2})
        bad(MILO_ERR_CORRUPT, fit[0], "expected a 1-d numeric tensor of 2 labels");
    if (!n.is(MILO_KIND_INT)) bad(MILO_ERR_TYPE, fit[1], "expected an integer");
    const int64_t features = n.as_int();
    if (features < 1) bad(MILO_ERR_CORRUPT, fit[1], "must be at least 1");
    if (!weights.is(MILO_KIND_TENSOR) || weights.dtype() != MILO_DTYPE_FLOAT64 ||
        weights.shape().size() != 1)
        bad(MILO_ERR_TYPE, fit[2], "expected a 1-d float64 tensor");
    if (weights.shape()[0] != features)
        bad(MILO_ERR_CORRUPT, fit[2],
            std::to_string(weights.shape()[0]) + " weights, but " + fit[1] + " is " +
                std::to_string(features));
    const double* w = weights.data_as<double>();
    for (int64_t i = 0; i < features; ++i)
        if (!std::isfinite(w[i]))
            bad(MILO_ERR_CORRUPT, fit[2] + "/" + std::to_string(i), "not finite");
    if (!bias.is(MILO_KIND_FLOAT) || !std::isfinite(bias.as_float()))
        bad(MILO_ERR_TYPE, fit[3], "expected a finite float");
    if (names.is(MILO_KIND_LIST) && int64_t(names.size()) != features)
        bad(MILO_ERR_CORRUPT, hyper[4],
            std::to_string(names.size()) + " names, but " + fit[1] + " is " +
                std::to_string(features));
}

// A map with exactly the string keys `keys` (any order); their values in `out`.
template <size_t N>
void members(milo::ValueRef map, const char* const* keys, milo::ValueRef (&out)[N],
             const std::string& at) {
    if (!map.is(MILO_KIND_MAP)) bad(MILO_ERR_TYPE, at, "expected a map");
    for (size_t i = 0; i < map.size(); ++i) {
        milo::ValueRef k = map.key(i);
        if (!k.is(MILO_KIND_STRING)) bad(MILO_ERR_TYPE, at, "a key that is not a string");
        size_t j = 0;
        while (j < N && k.as_string() != keys[j]) ++j;
        if (j == N)
            bad(MILO_ERR_CORRUPT, at, "unexpected member \"" + std::string(k.as_string()) + "\"");
        if (out[j]) bad(MILO_ERR_CORRUPT, at, "member \"" + std::string(keys[j]) + "\" twice");
        out[j] = map[i];
    }
    for (size_t j = 0; j < N; ++j)
        if (!out[j]) bad(MILO_ERR_CORRUPT, at, "missing member \"" + std::string(keys[j]) + "\"");
}

// The pickle-level form (as the sklearn transporter reads it from Python's pickle).
Scorer from_pickle(milo::ValueRef o) {
    if (o.args()) bad(MILO_ERR_CORRUPT, "args", "a FraudScorer is pickled without arguments");
    milo::ValueRef st = o.state();
    const char* keys[9];
    for (size_t i = 0; i < 5; ++i) keys[i] = kHyper[i];
    for (size_t i = 0; i < 4; ++i) keys[5 + i] = kFitted[i][0];
    Scorer s;
    s.fitted = st.is(MILO_KIND_MAP) && st.find("coef_");
    if (s.fitted) {
        milo::ValueRef all[9];
        members(st, keys, all, "state");
        for (size_t i = 0; i < 5; ++i) s.hyper[i] = all[i];
        for (size_t i = 0; i < 4; ++i) s.fit[i] = all[5 + i];
    } else {
        members(st, keys, s.hyper, "state");
    }
    std::string hyper[5], fit[4];
    for (size_t i = 0; i < 5; ++i) hyper[i] = std::string("state/") + kHyper[i];
    for (size_t i = 0; i < 4; ++i) fit[i] = std::string("state/") + kFitted[i][0];
    check(s, hyper, fit);
    return s;
}

// This plugin's form.
Scorer from_readable(milo::ValueRef o) {
    static const char* const kTop[] = {"hyperparameters", "fitted"};
    milo::ValueRef top[2];
    members(o.state(), kTop, top, "state");
    Scorer s;
    members(top[0], kHyper, s.hyper, "state/hyperparameters");
    s.fitted = !top[1].is(MILO_KIND_NULL);
    const char* fit_keys[4];
    for (size_t i = 0; i < 4; ++i) fit_keys[i] = kFitted[i][1];
    if (s.fitted) members(top[1], fit_keys, s.fit, "state/fitted");
    std::string hyper[5], fit[4];
    for (size_t i = 0; i < 5; ++i) hyper[i] = std::string("state/hyperparameters/") + kHyper[i];
    for (size_t i = 0; i < 4; ++i) fit[i] = std::string("state/fitted/") + kFitted[i][1];
    check(s, hyper, fit);
    return s;
}

class FraudScorerTransporter : public milo::sklearn::ObjectTransporter {
public:
    const char* id() const override { return "acme.fraud"; }
    const char* description() const override {
        return "ACME FraudScorer estimators inside scikit-learn pickles (readable, checked)";
    }
    const char* framework() const override { return "scikit-learn"; }
    std::vector<std::string> types() const override { return {kType}; }

    milo::ValueRef import_object(milo_registry*, milo::DocRef doc, milo::ValueRef object,
                                 const std::string&) override {
        Scorer s = from_pickle(object);  // values of `doc`: placed again, not copied
        auto hyper = doc.map();
        for (size_t i = 0; i < 5; ++i) doc.put(hyper, kHyper[i], s.hyper[i]);
        auto state = doc.map();
        doc.put(state, "hyperparameters", hyper);
        if (s.fitted) {
            auto fitted = doc.map();
            for (size_t i = 0; i < 4; ++i) doc.put(fitted, kFitted[i][1], s.fit[i]);
            doc.put(state, "fitted", fitted);
        } else {
            doc.put(state, "fitted", doc.null());
        }
        auto out = doc.object(kType);
        out.set_state(state);
        return out;
    }

    milo::ValueRef export_object(milo_registry*, milo::ValueRef value, const std::string&,
                                 milo::DocRef out) override {
        // A document converted without this plugin holds the pickle-level form: check it too.
        milo::ValueRef st = value.state();
        Scorer s = st.is(MILO_KIND_MAP) && st.find("hyperparameters") ? from_readable(value)
                                                                      : from_pickle(value);
        auto state = out.map();
        for (size_t i = 0; i < 5; ++i) out.put(state, kHyper[i], out.copy(s.hyper[i]));
        if (s.fitted)
            for (size_t i = 0; i < 4; ++i) out.put(state, kFitted[i][0], out.copy(s.fit[i]));
        auto o = out.object(kType);
        o.set_state(state);
        return o;
    }
};

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    return milo::plugin::entry(host, error, "acme_fraud", "1.0.0", [](milo::plugin::Registrar& r) {
        r.add(std::make_unique<FraudScorerTransporter>());
    });
}
