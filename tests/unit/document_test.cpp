// The document model through the C ABI: every kind, validation, ownership, equality.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>

#include "milo/milo.h"
#include "milo/milo.hpp"
#include "milo/milo_codec.hpp"

namespace {

struct CDoc {
    milo_doc* d = nullptr;
    CDoc() { REQUIRE(milo_doc_create(&d, nullptr) == MILO_OK); }
    ~CDoc() { milo_doc_destroy(d); }
};

}  // namespace

TEST_CASE("versions are reported and distinct") {
    CHECK(std::string(milo_version_get()) == MILO_VERSION_STRING);
    CHECK(milo_abi_version_get() == MILO_ABI_VERSION);
    CHECK(milo_format_version_get() == MILO_FORMAT_VERSION);
    CHECK(std::string(milo_status_name(MILO_ERR_CORRUPT)) == "MILO_ERR_CORRUPT");
    CHECK(std::string(milo_status_name(9999)) == "MILO_ERR_UNKNOWN");
}

TEST_CASE("a new document has format version and producer set, and no root") {
    CDoc doc;
    const char* v = nullptr;
    REQUIRE(milo_doc_get_header(doc.d, "format_version", &v, nullptr) == MILO_OK);
    CHECK(std::string(v) == "1");
    REQUIRE(milo_doc_get_header(doc.d, "producer.name", &v, nullptr) == MILO_OK);
    CHECK(std::string(v) == "milo");
    CHECK(milo_doc_get_root(doc.d) == nullptr);
    milo_error err = MILO_ERROR_INIT;
    CHECK(milo_doc_get_header(doc.d, "bogus", &v, &err) == MILO_ERR_NOT_FOUND);
    CHECK(std::string(err.message).find("bogus") != std::string::npos);
    CHECK(milo_doc_set_header(doc.d, "format_version", nullptr, &err) == MILO_ERR_INVALID_ARGUMENT);
    CHECK(milo_doc_set_header(doc.d, "source.sha256", "ABC", &err) == MILO_ERR_INVALID_ARGUMENT);
    CHECK(milo_doc_set_header(doc.d, "transporter.revision", "x1", &err) ==
          MILO_ERR_INVALID_ARGUMENT);
    CHECK(milo_doc_set_header(doc.d, "type", "\xff", &err) == MILO_ERR_INVALID_ARGUMENT);
}

TEST_CASE("scalars keep their exact values") {
    CDoc doc;
    milo_value* v = nullptr;
    REQUIRE(milo_value_create_float(doc.d, -0.0, &v, nullptr) == MILO_OK);
    double f = 1;
    REQUIRE(milo_value_get_float(v, &f, nullptr) == MILO_OK);
    CHECK(milo::codec::double_to_bits(f) == 0x8000000000000000ull);
    REQUIRE(milo_value_create_float(doc.d, milo::codec::bits_to_double(0x7ff0000000000123ull), &v,
                                    nullptr) == MILO_OK);
    REQUIRE(milo_value_get_float(v, &f, nullptr) == MILO_OK);
    CHECK(milo::codec::double_to_bits(f) == 0x7ff0000000000123ull);

    const char* big = "-123456789012345678901234567890";
    REQUIRE(milo_value_create_int_text(doc.d, big, std::strlen(big), &v, nullptr) == MILO_OK);
    int64_t i = 42;
    milo_error err = MILO_ERROR_INIT;
    CHECK(milo_value_get_int(v, &i, &err) == MILO_ERR_OUT_OF_RANGE);
    CHECK(i == 42);  // outputs untouched on failure
    const char* text = nullptr;
    REQUIRE(milo_value_get_int_text(v, &text, nullptr) == MILO_OK);
    CHECK(std::string(text) == big);
    // text that fits int64 is stored as int64
    REQUIRE(milo_value_create_int_text(doc.d, "-9223372036854775808", 20, &v, nullptr) == MILO_OK);
    REQUIRE(milo_value_get_int(v, &i, nullptr) == MILO_OK);
    CHECK(i == INT64_MIN);
    for (const char* bad : {"", "-", "01", "-0", "1.5", "+1", "1e3", " 1"})
        CHECK(milo_value_create_int_text(doc.d, bad, std::strlen(bad), &v, nullptr) ==
              MILO_ERR_INVALID_ARGUMENT);

    const char s[] = "a\0b\xc3\xa9";
    REQUIRE(milo_value_create_string(doc.d, s, 5, &v, nullptr) == MILO_OK);
    const char* out = nullptr;
    size_t len = 0;
    REQUIRE(milo_value_get_string(v, &out, &len, nullptr) == MILO_OK);
    CHECK(len == 5);
    CHECK(std::memcmp(out, s, 5) == 0);
    CHECK(milo_value_create_string(doc.d, "\xed\xa0\x80", 3, &v, &err) ==
          MILO_ERR_INVALID_ARGUMENT);  // a UTF-8 encoded surrogate
    CHECK(milo_value_create_string(doc.d, "\xc0\xaf", 2, &v, &err) == MILO_ERR_INVALID_ARGUMENT);

    // wrong kind: MILO_ERR_TYPE, output untouched
    bool b = true;
    CHECK(milo_value_get_bool(v, &b, &err) == MILO_ERR_TYPE);
    CHECK(b == true);
    CHECK(std::string(err.message).find("bool") != std::string::npos);
}

TEST_CASE("containers, maps with any keys, objects and globals") {
    milo::Doc doc;
    auto m = doc.map();
    doc.put(m, "a", doc.integer(1));
    m.append(doc.integer(7), doc.string("seven"));
    m.append(doc.tuple(), doc.null());
    CHECK(m.size() == 3);
    CHECK(m.find("a").as_int() == 1);
    CHECK(!m.find("zz"));
    CHECK(m.key(1).as_int() == 7);
    auto obj = doc.object("sklearn.linear_model._base.LinearRegression");
    obj.set_state(m);
    CHECK(obj.state() == m);
    CHECK(!obj.args());
    CHECK(obj.name() == "sklearn.linear_model._base.LinearRegression");
    auto g = doc.global("numpy.float64");
    CHECK(g.name() == "numpy.float64");
    CHECK_THROWS_AS(doc.object(""), milo::Error);
    auto l = doc.list();
    l.append(l);  // a cycle
    CHECK(l[0] == l);
    CHECK_THROWS_AS(l.set_at(5, doc.null()), milo::Error);
    milo::Doc other;
    try {
        l.append(other.integer(1));
        FAIL("a value of another document was accepted");
    } catch (const milo::Error& e) {
        CHECK(e.code() == MILO_ERR_INVALID_ARGUMENT);
    }
}

TEST_CASE("tensor sizes are checked before anything is allocated") {
    CDoc doc;
    milo_value* v = nullptr;
    milo_error err = MILO_ERROR_INIT;
    int64_t huge[] = {int64_t(1) << 40, int64_t(1) << 40};
    CHECK(milo_value_create_tensor(doc.d, MILO_DTYPE_FLOAT64, huge, 2, &v, &err) == MILO_ERR_LIMIT);
    int64_t big[] = {int64_t(1) << 38, 8};
    CHECK(milo_value_create_tensor(doc.d, MILO_DTYPE_FLOAT64, big, 2, &v, &err) == MILO_ERR_LIMIT);
    int64_t neg[] = {3, -1};
    CHECK(milo_value_create_tensor(doc.d, MILO_DTYPE_INT8, neg, 2, &v, &err) ==
          MILO_ERR_INVALID_ARGUMENT);
    int64_t many[MILO_MAX_NDIM + 1] = {};
    CHECK(milo_value_create_tensor(doc.d, MILO_DTYPE_INT8, many, MILO_MAX_NDIM + 1, &v, &err) ==
          MILO_ERR_LIMIT);
    CHECK(milo_value_create_tensor(doc.d, 99, nullptr, 0, &v, &err) == MILO_ERR_INVALID_ARGUMENT);
    CHECK(v == nullptr);
    // a scalar tensor has one element, an empty dimension none
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_INT32, nullptr, 0, &v, nullptr) == MILO_OK);
    CHECK(milo_value_count(v) == 1);
    int64_t empty[] = {0, 5};
    REQUIRE(milo_value_create_tensor(doc.d, MILO_DTYPE_INT32, empty, 2, &v, nullptr) == MILO_OK);
    CHECK(milo_value_count(v) == 0);
}

TEST_CASE("record tensors validate their fields") {
    milo::Doc doc;
    auto t = doc.record_tensor(16, {3});
    t.add_field("left", MILO_DTYPE_INT64, 0);
    t.add_field("w", MILO_DTYPE_FLOAT32, 8);
    CHECK_THROWS_AS(t.add_field("w", MILO_DTYPE_INT8, 14), milo::Error);      // duplicate
    CHECK_THROWS_AS(t.add_field("x", MILO_DTYPE_INT32, 10), milo::Error);     // overlaps w
    CHECK_THROWS_AS(t.add_field("y", MILO_DTYPE_INT64, 12), milo::Error);     // past itemsize
    CHECK_THROWS_AS(t.add_field("z", MILO_DTYPE_OBJECT, 12), milo::Error);    // not numeric
    t.add_field("pair", MILO_DTYPE_UINT8, 12, {2});
    CHECK(milo_value_tensor_field_count(t.get()) == 3);
    CHECK(t.data().second == 48);
    CHECK(t.itemsize() == 16);
}

namespace {
int g_released = 0;
void count_release(void* ctx) { g_released += *static_cast<int*>(ctx); }
}  // namespace

TEST_CASE("borrowed tensors are zero-copy and released exactly once") {
    static const float data[4] = {1.f, 2.f, 3.f, 4.f};
    int one = 1;
    g_released = 0;
    {
        milo::Doc doc;
        auto t = doc.tensor_borrowed(MILO_DTYPE_FLOAT32, {2, 2}, data, sizeof data, count_release,
                                     &one);
        CHECK(t.data().first == data);  // no copy
        CHECK(g_released == 0);
    }
    CHECK(g_released == 1);
    g_released = 0;
    {
        milo::Doc doc;
        auto t = doc.tensor_borrowed(MILO_DTYPE_FLOAT32, {4}, data, sizeof data, count_release,
                                     &one);
        float* w = t.mutable_data_as<float>();  // copy on first write releases the borrow
        CHECK(w != data);
        CHECK(g_released == 1);
        w[0] = 9.f;
        CHECK(data[0] == 1.f);
    }
    CHECK(g_released == 1);
    milo::Doc doc;
    CHECK_THROWS_AS(doc.tensor_borrowed(MILO_DTYPE_FLOAT32, {3}, data, sizeof data, nullptr,
                                        nullptr),
                    milo::Error);  // size mismatch
}

TEST_CASE("object and string tensors hold values and text") {
    milo::Doc doc;
    auto t = doc.tensor(MILO_DTYPE_OBJECT, {2});
    CHECK(t.item(0).kind() == MILO_KIND_NULL);
    t.set_item(1, doc.string("x"));
    CHECK(t.item(1).as_string() == "x");
    auto s = doc.tensor(MILO_DTYPE_STRING, {3});
    s.set_string(2, "héllo");
    CHECK(s.string_at(2) == "héllo");
    CHECK(s.string_at(0).empty());
    CHECK_THROWS_AS(s.set_string(3, "x"), milo::Error);
    CHECK_THROWS_AS(s.data(), milo::Error);
}

TEST_CASE("trust and metadata keep order and replace in place") {
    milo::Doc doc;
    doc.set_trust("os.system", "call", MILO_TRUST_DANGEROUS);
    doc.set_trust("numpy.float64", "reference", MILO_TRUST_TRUSTED);
    doc.set_trust("os.system", "call", MILO_TRUST_UNTRUSTED);
    REQUIRE(milo_doc_trust_count(doc.get()) == 2);
    const char *name = nullptr, *usage = nullptr;
    int32_t level = -1;
    REQUIRE(milo_doc_trust_at(doc.get(), 0, &name, &usage, &level, nullptr) == MILO_OK);
    CHECK(std::string(name) == "os.system");
    CHECK(level == MILO_TRUST_UNTRUSTED);
    CHECK(milo_doc_set_trust(doc.get(), "x", "call", 7, nullptr) == MILO_ERR_INVALID_ARGUMENT);
    doc.set_metadata("b", "1");
    doc.set_metadata("a", "2");
    doc.set_metadata("b", "3");
    REQUIRE(milo_doc_metadata_count(doc.get()) == 2);
    const char *k = nullptr, *v = nullptr;
    REQUIRE(milo_doc_metadata_at(doc.get(), 0, &k, &v, nullptr) == MILO_OK);
    CHECK(std::string(k) == "b");
    CHECK(std::string(v) == "3");
    REQUIRE(milo_doc_set_metadata(doc.get(), "b", nullptr, nullptr) == MILO_OK);
    CHECK(milo_doc_metadata_count(doc.get()) == 1);
}

TEST_CASE("equality compares bits and the shape of sharing") {
    auto build = [](milo::Doc& d, bool share, double x) {
        auto root = d.list();
        auto inner = d.list();
        inner.append(d.number(x));
        root.append(inner);
        root.append(share ? inner : [&] {
            auto copy = d.list();
            copy.append(d.number(x));
            return copy;
        }());
        d.set_root(root);
    };
    milo::Doc a, b, c, e;
    build(a, true, 1.0);
    build(b, true, 1.0);
    build(c, false, 1.0);
    build(e, true, -0.0);
    std::string where;
    CHECK(a.equals(b, &where));
    CHECK_FALSE(a.equals(c, &where));
    CHECK(where.find("/root/1") != std::string::npos);
    milo::Doc z;
    build(z, true, 0.0);
    CHECK_FALSE(z.equals(e, &where));  // 0.0 vs -0.0 differ by bit pattern
    CHECK(where.find("/root/0/0") != std::string::npos);
    // cycles compare without looping
    milo::Doc p, q;
    for (milo::Doc* d : {&p, &q}) {
        auto l = d->list();
        l.append(l);
        d->set_root(l);
    }
    CHECK(p.equals(q));
    CHECK(milo_doc_value_count(p.get()) == 1);
}

TEST_CASE("error messages respect a smaller caller buffer") {
    struct Small {
        uint32_t struct_size;
        milo_status code;
        char message[8];
        char guard[8];
    } small;
    std::memset(&small, 'G', sizeof small);
    small.struct_size = offsetof(milo_error, message) + 8;
    milo_status s = milo_error_set(reinterpret_cast<milo_error*>(&small), MILO_ERR_CORRUPT,
                                   "a long message that does not fit");
    CHECK(s == MILO_ERR_CORRUPT);
    CHECK(small.code == MILO_ERR_CORRUPT);
    CHECK(std::string(small.message) == "a long ");
    CHECK(std::string(small.guard, 8) == "GGGGGGGG");
}
