// ABI compatibility: a plugin compiled against the frozen ABI-1 headers (tests/abi/frozen_abi1)
// loads into the current library and behaves; a plugin claiming a future ABI is refused with a
// message that says which ABI it needs and which the library has.
#include <catch2/catch.hpp>

#include <milo/milo.h>
#include <milo/milo.hpp>

#include <cstring>
#include <string>

namespace {

const std::string kFrozen = MILO_FROZEN_ABI1_PLUGIN;
const std::string kFuture = std::string(MILO_TEST_PLUGIN_DIR) + "/milo_test_abi_future.so";

// The document milo_test_frozen_abi1.c builds, made here with the current headers.
milo::Doc expected(const std::string& text, const milo::DocRef& decoded) {
    milo::Doc d;
    auto root = d.object("frozen.Everything");
    auto st = d.map();
    root.set_state(st);
    d.put(st, "text", d.string(text));
    d.put(st, "null", d.null());
    d.put(st, "bool", d.boolean(true));
    d.put(st, "int", d.integer(-42));
    d.put(st, "bigint", d.integer_text("123456789012345678901234567890"));
    d.put(st, "float", d.number(-0.0));
    d.put(st, "bytes", d.bytes("\0\1\2", 3));
    d.put(st, "global", d.global("numpy.float64"));
    auto list = d.list(), tuple = d.tuple(), set = d.set(), map = d.map();
    auto one = d.integer(1);
    set.append(one);
    tuple.append(one);
    list.append(set);
    list.append(tuple);
    map.append(one, list);
    d.put(st, "list", list);
    d.put(st, "map", map);
    auto obj = d.object("collections.OrderedDict");
    obj.set_args(d.tuple());
    d.put(st, "object", obj);
    auto i32 = d.tensor(MILO_DTYPE_INT32, {2, 3});
    for (int i = 0; i < 6; ++i) i32.mutable_data_as<int32_t>()[i] = i * 7 - 3;
    d.put(st, "int32", i32);
    auto f32 = d.tensor(MILO_DTYPE_FLOAT32, {2});
    f32.mutable_data_as<float>()[0] = 1.5f;
    f32.mutable_data_as<float>()[1] = -2.5f;
    d.put(st, "borrowed", f32);
    auto rec = d.record_tensor(12, {2});
    const int64_t two = 2;
    REQUIRE(milo_value_tensor_add_field(rec.get(), "id", MILO_DTYPE_INT32, 0, nullptr, 0,
                                        nullptr) == MILO_OK);
    REQUIRE(milo_value_tensor_add_field(rec.get(), "xy", MILO_DTYPE_FLOAT32, 4, &two, 1,
                                        nullptr) == MILO_OK);
    auto [raw, n] = rec.mutable_data();
    std::memset(raw, 0x3f, n);
    d.put(st, "record", rec);
    auto strings = d.tensor(MILO_DTYPE_STRING, {2});
    strings.set_string(0, "a");
    strings.set_string(1, "\xc3\xa9");
    d.put(st, "strings", strings);
    auto objects = d.tensor(MILO_DTYPE_OBJECT, {2});
    REQUIRE(milo_value_tensor_set_item(objects.get(), 1, obj.get(), nullptr) == MILO_OK);
    d.put(st, "objects", objects);
    d.set_root(root);
    for (const char* key : {"type", "framework.name", "transporter.id", "transporter.revision",
                            "source.sha256"})
        if (decoded.has_header(key)) d.set_header(key, decoded.header(key));
    d.set_trust("collections.OrderedDict", "instantiate", MILO_TRUST_TRUSTED);
    d.set_metadata("abi", "1");
    return d;
}

}  // namespace

TEST_CASE("a plugin built against the frozen ABI-1 headers loads and works", "[abi][compat]") {
    milo::Registry reg;
    reg.load_plugin(kFrozen);
    const milo_transporter* t = milo_registry_find_transporter(reg.get(), "frozen.abi1");
    REQUIRE(t != nullptr);
    CHECK(t->abi_version == 1u);
    CHECK(milo_registry_find_format(reg.get(), "frozen1") != nullptr);

    const std::string native = "FROZEN1\nhello, ABI 1 \xe2\x9c\x93";
    milo::Doc doc = reg.decode_native(native, "frozen.abi1", "x.frozen1");
    CHECK(doc.header("transporter.id") == "frozen.abi1");
    CHECK(doc.header("type") == "frozen.Everything");
    milo::Doc want = expected("hello, ABI 1 \xe2\x9c\x93", doc);
    std::string where;
    CHECK(doc.equals(want, &where));
    INFO(where);

    // Through every built-in format, then back to native through the ABI-1 encoder.
    for (const char* fmt : {"json", "yaml", "pb"}) {
        INFO(fmt);
        milo::SaveOptions o;
        o.format = fmt;
        milo::Doc back = reg.decode(reg.encode(doc, o));
        CHECK(back.equals(doc, &where));
        const std::string out = std::string(MILO_TEST_TMP_DIR) + "/back.frozen1";
        reg.encode_native(back, out, "frozen.abi1");
        milo::Doc again = reg.open(out);  // detected by the ABI-1 probe
        CHECK(again.root().state().find("text").as_string() == "hello, ABI 1 \xe2\x9c\x93");
    }

    // The ABI-1 format: encode and decode through the current registry.
    milo::Doc s;
    s.set_root(s.string("frozen format"));
    milo::SaveOptions o;
    o.format = "frozen1";
    const std::string bytes = reg.encode(s, o);
    CHECK(bytes == "FROZEN1FMT\nfrozen format");
    milo::Doc s2 = reg.decode(bytes);
    CHECK(s2.root().as_string() == "frozen format");
}

TEST_CASE("a plugin that needs a future ABI is refused, saying which ABI each side has",
          "[abi][compat]") {
    milo_registry* reg = nullptr;
    REQUIRE(milo_registry_create(&reg, nullptr) == MILO_OK);
    milo_error error = MILO_ERROR_INIT;
    CHECK(milo_registry_load_plugin(reg, kFuture.c_str(), &error) == MILO_ERR_ABI);
    const std::string message = error.message;
    INFO(message);
    CHECK(message.find("milo_test_abi_future") != std::string::npos);
    CHECK(message.find("4242") != std::string::npos);
    CHECK(message.find(std::to_string(MILO_ABI_VERSION)) != std::string::npos);
    CHECK(milo_registry_find_transporter(reg, "test.abi_range.milo_test_abi_future") == nullptr);
    milo_registry_destroy(reg);
}
