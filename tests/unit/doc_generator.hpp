// Random documents covering every value kind and dtype, for property tests and fuzz seeds.
#ifndef MILO_TESTS_DOC_GENERATOR_HPP
#define MILO_TESTS_DOC_GENERATOR_HPP

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "milo/milo.hpp"
#include "milo/milo_codec.hpp"

namespace milo::test {

class DocGenerator {
public:
    explicit DocGenerator(uint64_t seed) : rng_(seed) {}

    // Fills `doc` with a random header and root.
    void fill(DocRef doc) {
        doc_ = doc;
        shared_.clear();
        budget_ = 20 + static_cast<int>(pick(60));
        if (coin(0.7)) doc.set_header("framework.name", random_text(8));
        if (coin(0.5)) doc.set_header("framework.version", "1." + std::to_string(pick(30)));
        if (coin(0.6)) doc.set_header("transporter.id", "gen");
        if (coin(0.4)) doc.set_header("transporter.revision", std::to_string(pick(100)));
        if (coin(0.6)) doc.set_header("type", "pkg.mod.Type" + std::to_string(pick(9)));
        if (coin(0.5)) doc.set_header("source.kind", "pickle");
        if (coin(0.3)) doc.set_header("source.version", std::to_string(pick(6)));
        if (coin(0.3)) doc.set_header("source.sha256", std::string(64, "0123456789abcdef"[pick(16)]));
        for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i)
            doc.set_trust(("m.T" + std::to_string(i)).c_str(), i % 2 ? "call" : "instantiate",
                          static_cast<int32_t>(pick(3)));
        for (int i = 0, n = static_cast<int>(pick(3)); i < n; ++i)
            doc.set_metadata(("k" + std::to_string(i)).c_str(), random_text(6));
        if (coin(0.97)) doc.set_root(value(1));
    }

    uint64_t pick(uint64_t n) { return n == 0 ? 0 : rng_() % n; }
    bool coin(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

private:
    ValueRef value(int depth) {
        --budget_;
        // reuse an earlier node with identity: sharing, and cycles when it is an ancestor
        if (!shared_.empty() && coin(0.08)) return shared_[pick(shared_.size())];
        bool leaf = depth > 6 || budget_ <= 0;
        int kind = leaf ? static_cast<int>(pick(8)) : static_cast<int>(pick(14));
        switch (kind) {
            case 0: return doc_.null();
            case 1: return doc_.boolean(coin(0.5));
            case 2: return integer();
            case 3: return doc_.number(random_double());
            case 4: return doc_.string(random_text(pick(12)));
            case 5: {
                std::string b = random_bytes(pick(20));
                return doc_.bytes(b.data(), b.size());
            }
            case 6: return doc_.global(("numpy.f" + std::to_string(pick(99))).c_str());
            case 7: return leaf ? doc_.number(random_double()) : tensor(depth);
            case 8: case 9: case 10: {
                static const int32_t kinds[] = {MILO_KIND_LIST, MILO_KIND_TUPLE, MILO_KIND_SET};
                ValueRef c = container(kinds[kind - 8]);
                shared_.push_back(c);
                for (int i = 0, n = static_cast<int>(pick(5)); i < n; ++i) c.append(value(depth + 1));
                return c;
            }
            case 11: {
                ValueRef m = doc_.map();
                shared_.push_back(m);
                bool plain = coin(0.6);
                for (int i = 0, n = static_cast<int>(pick(5)); i < n; ++i) {
                    ValueRef k;
                    if (plain || coin(0.5)) {
                        static const char* keys[] = {"a", "b", "$x", "$$y", "", "coef_", "$id",
                                                     "$ref", "$tensor", "é", "1"};
                        k = doc_.string(keys[pick(11)] + std::string(coin(0.5) ? "" : "_" + std::to_string(i)));
                    } else {
                        k = value(depth + 1);
                    }
                    m.append(k, value(depth + 1));
                }
                return m;
            }
            case 12: {
                ValueRef o = doc_.object(("sklearn.mod.C" + std::to_string(pick(20))).c_str());
                shared_.push_back(o);
                if (coin(0.4)) o.set_args(value(depth + 1));
                if (coin(0.8)) o.set_state(value(depth + 1));
                return o;
            }
            default: return tensor(depth);
        }
    }

    ValueRef container(int32_t kind) {
        if (kind == MILO_KIND_LIST) return doc_.list();
        if (kind == MILO_KIND_TUPLE) return doc_.tuple();
        return doc_.set();
    }

    ValueRef integer() {
        switch (pick(6)) {
            case 0: return doc_.integer(INT64_MIN);
            case 1: return doc_.integer(INT64_MAX);
            case 2: return doc_.integer_text(std::string(coin(0.5) ? "-" : "") + "1" +
                                             std::string(19 + pick(40), '7'));
            case 3: return doc_.integer(0);
            default: return doc_.integer(static_cast<int64_t>(rng_()) >> pick(63));
        }
    }

    double random_double() {
        uint64_t bits;
        switch (pick(10)) {
            case 0: bits = 0x8000000000000000ull; break;                    // -0.0
            case 1: bits = 0x7ff8000000000000ull; break;                    // canonical NaN
            case 2: bits = 0xfff8000000000000ull; break;                    // negative NaN
            case 3: bits = 0x7ff0000000000000ull | (1 + pick(1000)); break;  // NaN payload
            case 4: bits = 0x7ff0000000000000ull; break;                    // +inf
            case 5: bits = 0xfff0000000000000ull; break;                    // -inf
            case 6: bits = 1 + pick(1000); break;                           // subnormal
            case 7: return static_cast<double>(static_cast<int64_t>(pick(2000)) - 1000);
            default: bits = rng_(); break;
        }
        return milo::codec::bits_to_double(bits);
    }

    std::string random_text(uint64_t n) {
        static const char* pieces[] = {"a", "Z", "0", " ", "\"", "\\", "\n", "\t", "\x01",
                                       "é", "€", "𝄞", "$", "{", "}", "null", "true", "1.5",
                                       "-", "#", ":", "'", "x"};
        std::string s;
        for (uint64_t i = 0; i < n; ++i) {
            uint64_t p = pick(23);
            if (p == 22) s.push_back('\0');
            else s += pieces[p];
        }
        return s;
    }

    std::string random_bytes(uint64_t n) {
        std::string s(n, '\0');
        for (auto& c : s) c = static_cast<char>(rng_());
        return s;
    }

    std::vector<int64_t> random_shape() {
        std::vector<int64_t> shape(pick(4));
        for (auto& d : shape) d = static_cast<int64_t>(pick(5));
        if (coin(0.1) && !shape.empty()) shape[0] = 0;
        return shape;
    }

    void fill_numeric(ValueRef t, int32_t dtype) {
        auto [p, n] = t.mutable_data();
        auto* b = static_cast<uint8_t*>(p);
        for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(rng_());
        if (dtype == MILO_DTYPE_BOOL)
            for (size_t i = 0; i < n; ++i) b[i] &= 1;
        // plant special values in float dtypes
        uint32_t size = milo::codec::dtype_info(dtype)->size;
        if (dtype == MILO_DTYPE_FLOAT64 || dtype == MILO_DTYPE_COMPLEX128) {
            for (size_t i = 0; i + 8 <= n; i += 8) {
                if (coin(0.3)) {
                    double d = random_double();
                    std::memcpy(b + i, &d, 8);
                }
            }
        } else if (dtype == MILO_DTYPE_FLOAT32 || dtype == MILO_DTYPE_COMPLEX64) {
            static const uint32_t specials[] = {0x80000000u, 0x7fc00000u, 0xffc00000u,
                                                0x7f800001u, 0x7f800000u, 0xff800000u, 1u};
            for (size_t i = 0; i + 4 <= n; i += 4)
                if (coin(0.3)) std::memcpy(b + i, &specials[pick(7)], 4);
        } else if (size == 2 && dtype != MILO_DTYPE_INT16 && dtype != MILO_DTYPE_UINT16) {
            static const uint16_t specials[] = {0x8000, 0x7e00, 0xfe00, 0x7c01, 0x7c00,
                                                0x7fc0, 0x7f81, 0xff80, 1};
            for (size_t i = 0; i + 2 <= n; i += 2)
                if (coin(0.3)) std::memcpy(b + i, &specials[pick(9)], 2);
        }
    }

    ValueRef tensor(int depth) {
        int32_t dtype = static_cast<int32_t>(1 + pick(milo::codec::kDTypeMax));
        std::vector<int64_t> shape = random_shape();
        ValueRef t;
        if (dtype == MILO_DTYPE_RECORD) {
            uint64_t itemsize = 24;
            t = doc_.record_tensor(itemsize, shape);
            t.add_field("left", MILO_DTYPE_INT64, 0);
            t.add_field("thr", MILO_DTYPE_FLOAT64, 8);
            t.add_field("flag", MILO_DTYPE_UINT8, 16);
            if (coin(0.5)) t.add_field("v", MILO_DTYPE_FLOAT16, 18, {2});
            auto [p, n] = t.mutable_data();
            auto* b = static_cast<uint8_t*>(p);
            for (size_t i = 0; i < n; ++i) b[i] = coin(0.2) ? 0 : static_cast<uint8_t>(rng_());
        } else if (dtype == MILO_DTYPE_OBJECT) {
            t = doc_.tensor(dtype, shape);
            shared_.push_back(t);
            for (size_t i = 0; i < t.size(); ++i) t.set_item(i, value(depth + 1));
            return t;
        } else if (dtype == MILO_DTYPE_STRING) {
            t = doc_.tensor(dtype, shape);
            for (size_t i = 0; i < t.size(); ++i) t.set_string(i, random_text(pick(6)));
        } else {
            t = doc_.tensor(dtype, shape);
            fill_numeric(t, dtype);
        }
        shared_.push_back(t);
        return t;
    }

    std::mt19937_64 rng_;
    DocRef doc_;
    std::vector<ValueRef> shared_;
    int budget_ = 0;
};

}  // namespace milo::test

#endif  // MILO_TESTS_DOC_GENERATOR_HPP
