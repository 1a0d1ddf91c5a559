// ACME's in-house model library (no Milo in here): a gradient-boosted scorecard, its native
// binary file, and its prediction. Both the application and the Milo plugin use it.
//
// A scorecard normalises the input with a "normalizer" (feature means and scales, stored as a
// safetensors blob), sums boosted stages of decision stumps, adds a bonus when its "gate" (an
// ACME linear scorer, stored as an .acmescore blob) fires, and squashes the margin into a
// probability. Native file, little-endian:
//     "GBSCARD1"
//     str name; f64 base_score; f64 learning_rate; f64 gate_bonus
//     u32 n_features, n x str
//     u32 n_stages, per stage: u32 n_stumps, per stump: i32 feature, f64 threshold, f64 left,
//                                                         f64 right
//     u32 n_components, per component: str role, str format, u64 size, size bytes
// where str = u32 length + UTF-8 bytes, and nothing follows the last component.
#ifndef ACME_SCORECARD_MODEL_HPP
#define ACME_SCORECARD_MODEL_HPP

#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace acme {

struct Stump {
    int32_t feature = 0;
    double threshold = 0, left = 0, right = 0;
};

struct Component {
    std::string format;  // "safetensors" or "acmescore": how `bytes` is encoded
    std::string bytes;
};

struct Scorecard {
    std::string name;
    double base_score = 0, learning_rate = 0, gate_bonus = 0;
    std::vector<std::string> features;
    std::vector<std::vector<Stump>> stages;
    std::map<std::string, Component> components;  // "normalizer", "gate"
};

// --------------------------------------------------------------------------------------------
// Native bytes

class NativeError : public std::runtime_error {
public:
    NativeError(size_t offset, const std::string& what)
        : std::runtime_error("byte " + std::to_string(offset) + ": " + what), offset(offset) {}
    size_t offset;
};

namespace detail {

inline void put_u32(std::string& o, uint32_t v) {
    for (int i = 0; i < 4; ++i) o.push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_u64(std::string& o, uint64_t v) {
    for (int i = 0; i < 8; ++i) o.push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_f64(std::string& o, double d) {
    uint64_t b;
    std::memcpy(&b, &d, 8);
    put_u64(o, b);
}
inline void put_str(std::string& o, const std::string& s) {
    put_u32(o, static_cast<uint32_t>(s.size()));
    o += s;
}

class Reader {
public:
    Reader(const uint8_t* data, size_t size) : p_(data), n_(size) {}
    size_t pos() const { return pos_; }
    bool done() const { return pos_ == n_; }
    uint64_t uint(int bytes, const char* what) {
        need(static_cast<size_t>(bytes), what);
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; --i) v = v << 8 | p_[pos_ + static_cast<size_t>(i)];
        pos_ += static_cast<size_t>(bytes);
        return v;
    }
    double f64(const char* what) {
        uint64_t b = uint(8, what);
        double d;
        std::memcpy(&d, &b, 8);
        return d;
    }
    std::string bytes(uint64_t n, const char* what) {
        need(n, what);
        std::string s(reinterpret_cast<const char*>(p_ + pos_), static_cast<size_t>(n));
        pos_ += static_cast<size_t>(n);
        return s;
    }
    std::string str(const char* what) { return bytes(uint(4, what), what); }
    // A count of items each at least `min_size` bytes: bounded by what is left.
    uint32_t count(size_t min_size, const char* what) {
        uint32_t n = static_cast<uint32_t>(uint(4, what));
        if (n > (n_ - pos_) / min_size) throw NativeError(pos_ - 4, std::string(what) + " too large");
        return n;
    }

private:
    void need(uint64_t n, const char* what) {
        if (n > n_ - pos_) throw NativeError(pos_, std::string("truncated ") + what);
    }
    const uint8_t* p_;
    size_t n_;
    size_t pos_ = 0;
};

}  // namespace detail

inline std::string to_native(const Scorecard& s) {
    using namespace detail;
    std::string o = "GBSCARD1";
    put_str(o, s.name);
    put_f64(o, s.base_score);
    put_f64(o, s.learning_rate);
    put_f64(o, s.gate_bonus);
    put_u32(o, static_cast<uint32_t>(s.features.size()));
    for (const auto& f : s.features) put_str(o, f);
    put_u32(o, static_cast<uint32_t>(s.stages.size()));
    for (const auto& stage : s.stages) {
        put_u32(o, static_cast<uint32_t>(stage.size()));
        for (const Stump& st : stage) {
            put_u32(o, static_cast<uint32_t>(st.feature));
            put_f64(o, st.threshold);
            put_f64(o, st.left);
            put_f64(o, st.right);
        }
    }
    put_u32(o, static_cast<uint32_t>(s.components.size()));
    for (const auto& [role, c] : s.components) {
        put_str(o, role);
        put_str(o, c.format);
        put_u64(o, c.bytes.size());
        o += c.bytes;
    }
    return o;
}

/// Throws NativeError (with the byte offset) on anything malformed.
inline Scorecard from_native(const uint8_t* data, size_t size) {
    detail::Reader r(data, size);
    if (r.bytes(8, "magic") != "GBSCARD1") throw NativeError(0, "expected the magic GBSCARD1");
    Scorecard s;
    s.name = r.str("name");
    s.base_score = r.f64("base_score");
    s.learning_rate = r.f64("learning_rate");
    s.gate_bonus = r.f64("gate_bonus");
    for (uint32_t i = 0, n = r.count(4, "feature count"); i < n; ++i)
        s.features.push_back(r.str("feature name"));
    for (uint32_t i = 0, n = r.count(4, "stage count"); i < n; ++i) {
        std::vector<Stump> stage(r.count(28, "stump count"));
        for (Stump& st : stage) {
            size_t at = r.pos();
            st.feature = static_cast<int32_t>(r.uint(4, "stump feature"));
            if (st.feature < 0 || static_cast<size_t>(st.feature) >= s.features.size())
                throw NativeError(at, "stump feature index out of range");
            st.threshold = r.f64("stump threshold");
            st.left = r.f64("stump left");
            st.right = r.f64("stump right");
        }
        s.stages.push_back(std::move(stage));
    }
    for (uint32_t i = 0, n = r.count(16, "component count"); i < n; ++i) {
        size_t at = r.pos();
        std::string role = r.str("component role");
        Component c;
        c.format = r.str("component format");
        c.bytes = r.bytes(r.uint(8, "component size"), "component bytes");
        if (!s.components.emplace(role, std::move(c)).second)
            throw NativeError(at, "duplicate component " + role);
    }
    if (!r.done()) throw NativeError(r.pos(), "trailing bytes after the last component");
    return s;
}

// --------------------------------------------------------------------------------------------
// The nested components' own encodings (ACME writes them with its own code).

/// safetensors with float64 tensors "mean" and "scale" of n elements each.
inline std::string normalizer_bytes(const std::vector<double>& mean,
                                    const std::vector<double>& scale) {
    const size_t n = mean.size() * 8;
    std::string header = "{\"mean\":{\"dtype\":\"F64\",\"shape\":[" + std::to_string(mean.size()) +
                         "],\"data_offsets\":[0," + std::to_string(n) +
                         "]},\"scale\":{\"dtype\":\"F64\",\"shape\":[" +
                         std::to_string(scale.size()) + "],\"data_offsets\":[" +
                         std::to_string(n) + "," + std::to_string(2 * n) + "]}}";
    while (header.size() % 8) header += ' ';
    std::string o;
    detail::put_u64(o, header.size());
    o += header;
    for (double d : mean) detail::put_f64(o, d);
    for (double d : scale) detail::put_f64(o, d);
    return o;
}

inline std::vector<double> normalizer_tensor(const std::string& bytes, const char* name) {
    detail::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    const uint64_t header_size = r.uint(8, "safetensors header size");
    const auto header = nlohmann::json::parse(r.bytes(header_size, "safetensors header"));
    const auto& t = header.at(name);
    if (t.at("dtype") != "F64") throw std::runtime_error("normalizer: expected F64");
    const uint64_t begin = t.at("data_offsets")[0], end = t.at("data_offsets")[1];
    if (begin > end || end > bytes.size() - 8 - header_size)
        throw std::runtime_error("normalizer: data offsets out of range");
    std::vector<double> out((end - begin) / 8);
    std::memcpy(out.data(), bytes.data() + 8 + header_size + begin, out.size() * 8);
    return out;
}

/// ACME linear scorer (.acmescore, see plugins/template): name, threshold, weights.
struct Gate {
    double threshold = 0;
    std::vector<double> weights;
};

inline std::string gate_bytes(const std::string& name, const Gate& g) {
    std::string o = "ACMESCR1";
    detail::put_str(o, name);
    detail::put_f64(o, g.threshold);
    detail::put_u32(o, static_cast<uint32_t>(g.weights.size()));
    for (double w : g.weights) detail::put_f64(o, w);
    return o;
}

inline Gate gate_from(const std::string& bytes) {
    detail::Reader r(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
    if (r.bytes(8, "gate magic") != "ACMESCR1") throw std::runtime_error("gate: bad magic");
    r.str("gate name");
    Gate g;
    g.threshold = r.f64("gate threshold");
    g.weights.resize(r.count(8, "gate weights"));
    for (double& w : g.weights) w = r.f64("gate weight");
    return g;
}

// --------------------------------------------------------------------------------------------
// Prediction: probability that `x` (one value per feature) is positive.

inline double predict(const Scorecard& s, const std::vector<double>& x) {
    const std::string& nb = s.components.at("normalizer").bytes;
    const std::vector<double> mean = normalizer_tensor(nb, "mean");
    const std::vector<double> scale = normalizer_tensor(nb, "scale");
    const Gate gate = gate_from(s.components.at("gate").bytes);
    std::vector<double> z(x.size());
    for (size_t i = 0; i < x.size(); ++i) z[i] = (x[i] - mean.at(i)) / scale.at(i);
    double margin = s.base_score;
    for (const auto& stage : s.stages) {
        double sum = 0;
        for (const Stump& st : stage) sum += z.at(st.feature) <= st.threshold ? st.left : st.right;
        margin += s.learning_rate * sum;
    }
    double dot = 0;
    for (size_t i = 0; i < gate.weights.size(); ++i) dot += gate.weights[i] * z.at(i);
    if (dot > gate.threshold) margin += s.gate_bonus;
    return 1.0 / (1.0 + std::exp(-margin));
}

}  // namespace acme

#endif  // ACME_SCORECARD_MODEL_HPP
