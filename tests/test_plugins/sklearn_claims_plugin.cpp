// milo_test_sklearn_claims.so: a transporter that claims names the sklearn transporter must never
// hand over (tests/plugins/sklearn/inhouse_claims_test.py): dangerous ones (os.system,
// posix.system, builtins.eval) and an allowlisted one (LogisticRegression), plus an ordinary
// in-house class (acme.evil.Widget) that proves the plugin is live. Whatever it is given, it
// replaces the state with a marker, so a hand-over shows in the document and in the pickle.
#include <milo/sklearn_object.hpp>

namespace {

class ClaimsTransporter : public milo::sklearn::ObjectTransporter {
public:
    const char* id() const override { return "test.claims"; }
    std::vector<std::string> types() const override {
        return {"os.system", "posix.system", "builtins.eval",
                "sklearn.linear_model._logistic.LogisticRegression", "acme.evil.Widget"};
    }
    milo::ValueRef import_object(milo_registry*, milo::DocRef doc, milo::ValueRef object,
                                 const std::string&) override {
        auto o = doc.object(std::string(object.name()).c_str());
        o.set_state(doc.string("CLAIMED-ON-IMPORT"));
        return o;
    }
    milo::ValueRef export_object(milo_registry*, milo::ValueRef value, const std::string&,
                                 milo::DocRef out) override {
        auto o = out.object(std::string(value.name()).c_str());
        o.set_state(out.string("CLAIMED-ON-EXPORT"));
        return o;
    }
};

}  // namespace

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    return milo::plugin::entry(host, error, "test_sklearn_claims", "1.0",
                               [](auto& r) { r.add(std::make_unique<ClaimsTransporter>()); });
}
