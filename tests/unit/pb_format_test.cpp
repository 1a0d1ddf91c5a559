// The binary protobuf format ("pb"): round trips of every value kind and dtype through the
// public API, sharing and cycles, bit-exact floats, determinism, the generated milo.v1 classes
// as an independent oracle (both directions), and malformed inputs that must fail cleanly.
#include <catch2/catch.hpp>

#include <milo/milo.h>
#include <milo/milo.hpp>
#include <milo/milo_codec.hpp>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "doc_generator.hpp"
#include "milo/v1/document.pb.h"

namespace {

using milo::DocRef;
using milo::ValueRef;

milo::Registry& registry() {
    static milo::Registry r;
    return r;
}

std::string encode_pb(const DocRef& doc) {
    milo::SaveOptions o;
    o.format = "pb";
    return registry().encode(doc, o);
}

struct Decoded {
    milo_status status;
    std::string message;
    milo::Doc doc;
};

Decoded decode_pb(const std::string& bytes, uint32_t max_depth = 0) {
    milo_load_options o = MILO_LOAD_OPTIONS_INIT;
    o.format = "pb";
    o.max_depth = max_depth;
    milo_error e = MILO_ERROR_INIT;
    milo_doc* d = nullptr;
    milo_status s = milo_doc_decode(registry().get(),
                                    reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(),
                                    "test.pb", &o, &d, &e);
    return {s, e.message, milo::Doc(milo::default_api(), d)};
}

// Bytes as generated code writes them with deterministic serialization.
std::string oracle_serialize(const milo::v1::Document& m) {
    std::string out;
    {
        google::protobuf::io::StringOutputStream sos(&out);
        google::protobuf::io::CodedOutputStream cos(&sos);
        cos.SetSerializationDeterministic(true);
        m.SerializeToCodedStream(&cos);
    }
    return out;
}

// The oracle must parse our bytes and write back exactly the same bytes.
void check_oracle(const std::string& bytes) {
    milo::v1::Document m;
    REQUIRE(m.ParseFromString(bytes));
    REQUIRE(m.header().format_version() == MILO_FORMAT_VERSION);
    std::string again = oracle_serialize(m);
    REQUIRE(again.size() == bytes.size());
    REQUIRE(again == bytes);
}

uint64_t bits_of(double d) { return milo::codec::double_to_bits(d); }

void require_equal(const DocRef& a, const DocRef& b) {
    std::string where;
    bool eq = a.equals(b, &where);
    INFO(where);
    REQUIRE(eq);
}

// Hand-written protobuf bytes for inputs no conforming writer produces.
struct Pb {
    std::string s;
    Pb& varint(uint64_t v) {
        while (v >= 0x80) {
            s.push_back(static_cast<char>(v | 0x80));
            v >>= 7;
        }
        s.push_back(static_cast<char>(v));
        return *this;
    }
    Pb& tag(uint32_t field, uint32_t wire) { return varint((field << 3) | wire); }
    Pb& field(uint32_t f, uint64_t v) { return tag(f, 0).varint(v); }
    Pb& bytes(uint32_t f, const std::string& payload) {
        tag(f, 2).varint(payload.size());
        s += payload;
        return *this;
    }
    Pb& raw(const std::string& r) {
        s += r;
        return *this;
    }
};

// A document whose root Value body is `value_body`.
std::string doc_with_root(const std::string& value_body) {
    Pb header;
    header.field(1, 1);
    return Pb().bytes(1, header.s).bytes(2, value_body).s;
}

void require_failure(const Decoded& r, milo_status status, const char* needle) {
    INFO(r.message);
    REQUIRE(r.status == status);
    REQUIRE(r.message.find("byte offset") != std::string::npos);
    REQUIRE(r.message.find("test.pb") != std::string::npos);
    if (needle != nullptr) REQUIRE(r.message.find(needle) != std::string::npos);
}

// Every value kind, every dtype, header fields, trust and metadata.
void fill_everything(const DocRef& doc) {
    doc.set_header("producer.name", "pb-test");
    doc.set_header("producer.version", "");
    doc.set_header("framework.name", "scikit-learn");
    doc.set_header("framework.version", "1.2.1");
    doc.set_header("transporter.id", "sklearn");
    doc.set_header("transporter.revision", "0");
    doc.set_header("type", "sklearn.linear_model._base.LinearRegression");
    doc.set_header("source.kind", "pickle");
    doc.set_header("source.version", "4");
    doc.set_header("source.sha256", std::string(64, 'a'));
    doc.set_trust("sklearn.linear_model._base.LinearRegression", "instantiate",
                  MILO_TRUST_TRUSTED);
    doc.set_trust("os.system", "call", MILO_TRUST_DANGEROUS);
    doc.set_trust("numpy.dtype", "", MILO_TRUST_UNTRUSTED);
    doc.set_metadata("team", "fraud");
    doc.set_metadata("empty", "");

    ValueRef root = doc.list();
    root.append(doc.null());
    root.append(doc.boolean(true));
    root.append(doc.boolean(false));
    for (int64_t i : {int64_t(0), int64_t(1), int64_t(-1), int64_t(63), int64_t(-64),
                      int64_t(1) << 40, INT64_MIN, INT64_MAX})
        root.append(doc.integer(i));
    root.append(doc.integer_text("123456789012345678901234567890"));
    root.append(doc.integer_text("-9223372036854775809"));
    for (uint64_t b : {0x0000000000000000ull, 0x8000000000000000ull, 0x7ff8000000000000ull,
                       0xfff8000000000000ull, 0x7ff0000000000001ull, 0x7ff4000000000abcull,
                       0x7ff0000000000000ull, 0xfff0000000000000ull, 0x0000000000000001ull,
                       0x3ff8000000000000ull})
        root.append(doc.number(milo::codec::bits_to_double(b)));
    root.append(doc.string(""));
    root.append(doc.string(std::string("h\xc3\xa9llo \xf0\x9d\x84\x9e with\0nul", 20)));
    std::string all(256, '\0');
    for (int i = 0; i < 256; ++i) all[size_t(i)] = static_cast<char>(i);
    root.append(doc.bytes(all.data(), all.size()));
    root.append(doc.bytes(nullptr, 0));
    root.append(doc.list());
    ValueRef tuple = doc.tuple();
    tuple.append(doc.integer(1));
    tuple.append(doc.string("two"));
    root.append(tuple);
    ValueRef set = doc.set();
    set.append(doc.integer(3));
    root.append(set);
    ValueRef smap = doc.map();
    doc.put(smap, "alpha", doc.number(0.5));
    doc.put(smap, "$id", doc.null());
    root.append(smap);
    ValueRef amap = doc.map();
    amap.append(doc.integer(7), doc.string("seven"));
    ValueRef tkey = doc.tuple();
    tkey.append(doc.integer(1));
    amap.append(tkey, doc.boolean(true));
    root.append(amap);
    root.append(doc.object("pkg.Empty"));
    ValueRef obj = doc.object("sklearn.linear_model._base.LinearRegression");
    ValueRef args = doc.tuple();
    args.append(doc.integer(1));
    obj.set_args(args);
    ValueRef state = doc.map();
    doc.put(state, "fit_intercept", doc.boolean(true));
    obj.set_state(state);
    root.append(obj);
    root.append(doc.global("numpy.float64"));

    for (int32_t dt = MILO_DTYPE_BOOL; dt <= MILO_DTYPE_COMPLEX128; ++dt) {
        ValueRef t = doc.tensor(dt, {2, 3});
        auto [p, n] = t.mutable_data();
        auto* b = static_cast<uint8_t*>(p);
        for (size_t i = 0; i < n; ++i)
            b[i] = dt == MILO_DTYPE_BOOL ? uint8_t(i & 1) : uint8_t(i * 37 + 11);
        root.append(t);
    }
    ValueRef scalar = doc.tensor(MILO_DTYPE_FLOAT64, {});
    double nan_payload = milo::codec::bits_to_double(0x7ff0000000000123ull);
    std::memcpy(scalar.mutable_data().first, &nan_payload, 8);
    root.append(scalar);
    root.append(doc.tensor(MILO_DTYPE_FLOAT32, {0, 5}));
    ValueRef rec = doc.record_tensor(24, {3});
    rec.add_field("left", MILO_DTYPE_INT64, 0);
    rec.add_field("value", MILO_DTYPE_FLOAT32, 8, {2});
    rec.add_field("flag", MILO_DTYPE_UINT8, 16);
    {
        auto [p, n] = rec.mutable_data();
        for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(p)[i] = uint8_t(i * 7 + 1);
    }
    root.append(rec);
    ValueRef objt = doc.tensor(MILO_DTYPE_OBJECT, {2, 2});
    objt.set_item(0, doc.integer(5));
    objt.set_item(1, doc.string("s"));
    objt.set_item(2, doc.list());
    objt.set_item(3, doc.null());
    root.append(objt);
    ValueRef strt = doc.tensor(MILO_DTYPE_STRING, {3});
    strt.set_string(0, "a");
    strt.set_string(1, "");
    strt.set_string(2, "h\xc3\xa9llo");
    root.append(strt);
    doc.set_root(root);
}

// Nested single-item lists `depth` Values deep, written by hand (the encoder stops at 1000).
std::string nested_lists(size_t depth) {
    std::vector<uint64_t> value_len(depth + 2, 0), seq_len(depth + 2, 0);
    auto vsize = [](uint64_t v) {
        size_t n = 1;
        while (v >= 0x80) v >>= 7, ++n;
        return n;
    };
    value_len[depth] = 2;  // innermost: {list: {}}
    for (size_t d = depth - 1; d >= 1; --d) {
        seq_len[d] = 1 + vsize(value_len[d + 1]) + value_len[d + 1];
        value_len[d] = 1 + vsize(seq_len[d]) + seq_len[d];
    }
    Pb header;
    header.field(1, 1);
    Pb out;
    out.bytes(1, header.s).tag(2, 2).varint(value_len[1]);
    for (size_t d = 1; d < depth; ++d)
        out.tag(8, 2).varint(seq_len[d]).tag(1, 2).varint(value_len[d + 1]);
    out.tag(8, 2).varint(0);
    return out.s;
}

}  // namespace

TEST_CASE("pb: the format is registered with its extensions and probe", "[pb]") {
    const milo_format* f = milo_registry_find_format(registry().get(), "pb");
    REQUIRE(f != nullptr);
    REQUIRE(milo_registry_find_format_for_path(registry().get(), "model.milopb") == f);
    REQUIRE(milo_registry_find_format_for_path(registry().get(), "model.pb") == f);
    milo::Doc doc;
    doc.set_root(doc.integer(1));
    std::string bytes = encode_pb(doc);
    REQUIRE(milo_registry_find_format_for_content(
                registry().get(), reinterpret_cast<const uint8_t*>(bytes.data()),
                bytes.size()) == f);
    REQUIRE(f->probe(f->self, reinterpret_cast<const uint8_t*>("{\"milo\": {}}"), 12) == 0);
    REQUIRE(f->probe(f->self, reinterpret_cast<const uint8_t*>("\x0a\x02\x10\x01"), 4) == 0);
}

TEST_CASE("pb: every value kind, dtype and header field round-trips", "[pb]") {
    milo::Doc doc;
    fill_everything(doc);
    std::string bytes = encode_pb(doc);
    Decoded back = decode_pb(bytes);
    INFO(back.message);
    REQUIRE(back.status == MILO_OK);
    require_equal(doc, back.doc);
    // unset header fields stay unset (the decoder must not keep the library's defaults)
    milo::Doc bare;
    bare.api()->doc_set_header(bare.get(), "producer.name", nullptr, nullptr);
    bare.api()->doc_set_header(bare.get(), "producer.version", nullptr, nullptr);
    Decoded bare_back = decode_pb(encode_pb(bare));
    REQUIRE(bare_back.status == MILO_OK);
    REQUIRE_FALSE(bare_back.doc.has_header("producer.name"));
    REQUIRE(bare_back.doc.header("transporter.revision").empty());
    require_equal(bare, bare_back.doc);
    REQUIRE(back.doc.header("transporter.revision") == "0");
    REQUIRE(back.doc.has_header("producer.version"));
    REQUIRE(back.doc.header("producer.version").empty());
}

TEST_CASE("pb: floats keep their bit patterns, NaN payloads and -0.0 included", "[pb]") {
    const uint64_t patterns[] = {0x8000000000000000ull, 0x7ff0000000000001ull,
                                 0xfff0000000000abcull, 0x7ff8000000000000ull,
                                 0xfff8000000000000ull, 0x000fffffffffffffull};
    milo::Doc doc;
    ValueRef list = doc.list();
    for (uint64_t b : patterns) list.append(doc.number(milo::codec::bits_to_double(b)));
    ValueRef t = doc.tensor(MILO_DTYPE_FLOAT64, {6});
    std::memcpy(t.mutable_data().first, patterns, sizeof patterns);
    list.append(t);
    doc.set_root(list);
    Decoded back = decode_pb(encode_pb(doc));
    REQUIRE(back.status == MILO_OK);
    ValueRef r = back.doc.root();
    for (size_t i = 0; i < 6; ++i) REQUIRE(bits_of(r[i].as_float()) == patterns[i]);
    REQUIRE(std::memcmp(r[6].data().first, patterns, sizeof patterns) == 0);
}

TEST_CASE("pb: sharing and cycles keep the graph shape", "[pb]") {
    milo::Doc doc;
    ValueRef root = doc.list();
    ValueRef shared = doc.list();
    shared.append(doc.integer(42));
    root.append(shared);
    root.append(shared);
    root.append(root);  // cycle through the root
    // a node first seen as a map value and again as a later key: keys are written before
    // values in protobuf, so the later key's ref precedes the full node in the bytes
    ValueRef m = doc.map();
    ValueRef k = doc.tuple();
    k.append(doc.string("k"));
    m.append(doc.string("first"), k);
    m.append(k, doc.integer(2));
    root.append(m);
    ValueRef obj = doc.object("pkg.Node");
    ValueRef st = doc.map();
    doc.put(st, "self", obj);
    obj.set_state(st);
    root.append(obj);
    ValueRef t = doc.tensor(MILO_DTYPE_INT32, {2});
    root.append(t);
    root.append(t);
    ValueRef ot = doc.tensor(MILO_DTYPE_OBJECT, {2});
    ot.set_item(0, ot);
    ot.set_item(1, shared);
    root.append(ot);
    doc.set_root(root);

    std::string bytes = encode_pb(doc);
    check_oracle(bytes);
    Decoded back = decode_pb(bytes);
    INFO(back.message);
    REQUIRE(back.status == MILO_OK);
    require_equal(doc, back.doc);
    ValueRef r = back.doc.root();
    REQUIRE(r[0].get() == r[1].get());
    REQUIRE(r[2].get() == r.get());
    ValueRef bm = r[3];
    REQUIRE(bm.key(1).get() == bm[0].get());
    ValueRef bo = r[4];
    REQUIRE(milo_value_find(milo_value_get_state(bo.get()), "self") == bo.get());
    REQUIRE(r[5].get() == r[6].get());
    REQUIRE(milo_value_tensor_item_at(r[7].get(), 0) == r[7].get());
    REQUIRE(milo_value_tensor_item_at(r[7].get(), 1) == r[0].get());

    // ids are numbered in canonical document order, as in JSON: the root is id 1 (its cycle),
    // `shared` id 2, and the tuple first occurs as the map's first value
    milo::v1::Document m2;
    REQUIRE(m2.ParseFromString(bytes));
    REQUIRE(m2.root().id() == 1);
    REQUIRE(m2.root().list().items(0).id() == 2);
    REQUIRE(m2.root().list().items(1).ref() == 2);
    REQUIRE(m2.root().list().items(2).ref() == 1);
    const auto& pm = m2.root().list().items(3).map();
    REQUIRE(pm.values(0).has_tuple());
    REQUIRE(pm.values(0).id() != 0);
    REQUIRE(pm.keys(1).ref() == pm.values(0).id());
}

TEST_CASE("pb: output is deterministic and stable through a round trip", "[pb]") {
    milo::Doc doc;
    fill_everything(doc);
    std::string a = encode_pb(doc);
    std::string b = encode_pb(doc);
    REQUIRE(a == b);
    Decoded back = decode_pb(a);
    REQUIRE(back.status == MILO_OK);
    REQUIRE(encode_pb(back.doc) == a);
}

TEST_CASE("pb: the generated milo.v1 classes parse our bytes and write them back identically",
          "[pb][oracle]") {
    milo::Doc doc;
    fill_everything(doc);
    std::string bytes = encode_pb(doc);
    check_oracle(bytes);
    milo::v1::Document m;
    REQUIRE(m.ParseFromString(bytes));
    REQUIRE(m.header().producer().name() == "pb-test");
    REQUIRE(m.header().producer().has_version());
    REQUIRE(m.header().transporter().has_revision());
    REQUIRE(m.header().trust_size() == 3);
    REQUIRE(m.header().trust(1).level() == milo::v1::DANGEROUS);
    REQUIRE(m.header().metadata(0).key() == "team");
    REQUIRE(m.root().has_list());
    const auto& items = m.root().list().items();
    REQUIRE(items[0].has_null());
    REQUIRE(items[1].bool_() == true);
    REQUIRE(items[9].int_() == INT64_MIN);
    REQUIRE(items[11].big_int() == "123456789012345678901234567890");
    REQUIRE(bits_of(items[14].float_()) == 0x8000000000000000ull);

    SECTION("random documents") {
        for (uint64_t seed = 1; seed <= 300; ++seed) {
            INFO("seed " << seed);
            milo::Doc d;
            milo::test::DocGenerator(seed).fill(d);
            std::string out = encode_pb(d);
            check_oracle(out);
            Decoded r = decode_pb(out);
            INFO(r.message);
            REQUIRE(r.status == MILO_OK);
            require_equal(d, r.doc);
            REQUIRE(encode_pb(r.doc) == out);
        }
    }
}

TEST_CASE("pb: a Document built with the generated classes decodes through the adapter",
          "[pb][oracle]") {
    milo::v1::Document m;
    m.mutable_header()->set_format_version(1);
    m.mutable_header()->mutable_producer()->set_name("other-writer");
    m.mutable_header()->set_type("pkg.Model");
    auto* trust = m.mutable_header()->add_trust();
    trust->set_name("pkg.Model");
    trust->set_usage("instantiate");
    auto* map = m.mutable_root()->mutable_map();
    map->add_keys()->set_string("w");
    map->add_keys()->set_string("shared");
    map->add_keys()->set_string("again");
    map->add_keys()->set_string("cycle");
    auto* t = map->add_values()->mutable_tensor();
    t->set_dtype(milo::v1::FLOAT32);
    t->add_shape(2);
    float w[2] = {1.5f, -0.0f};
    t->set_data(std::string(reinterpret_cast<const char*>(w), sizeof w));
    auto* shared = map->add_values();
    shared->set_id(1);
    shared->mutable_list()->add_items()->set_int_(-5);
    shared->mutable_list()->add_items()->set_float_(std::nan(""));
    map->add_values()->set_ref(1);
    auto* cyc = map->add_values();
    cyc->set_id(2);
    cyc->mutable_tuple()->add_items()->set_ref(2);

    std::string bytes;
    REQUIRE(m.SerializeToString(&bytes));
    Decoded r = decode_pb(bytes);
    INFO(r.message);
    REQUIRE(r.status == MILO_OK);
    REQUIRE(r.doc.header("producer.name") == "other-writer");
    REQUIRE_FALSE(r.doc.has_header("producer.version"));
    REQUIRE(r.doc.header("type") == "pkg.Model");
    REQUIRE(milo_doc_trust_count(r.doc.get()) == 1);
    ValueRef root = r.doc.root();
    REQUIRE(root.kind() == MILO_KIND_MAP);
    REQUIRE(root.size() == 4);
    ValueRef tw = root[0];
    REQUIRE(tw.dtype() == MILO_DTYPE_FLOAT32);
    REQUIRE(tw.shape() == std::vector<int64_t>{2});
    REQUIRE(std::memcmp(tw.data().first, w, sizeof w) == 0);
    REQUIRE(root[1].get() == root[2].get());
    REQUIRE(root[1][0].as_int() == -5);
    REQUIRE(root[3][0].get() == root[3].get());
    // and our encoding of it is what the oracle writes
    REQUIRE(encode_pb(r.doc).size() > 0);
    check_oracle(encode_pb(r.doc));
}

TEST_CASE("pb: external tensors are written by name and read back", "[pb]") {
    milo::Doc doc;
    ValueRef root = doc.map();
    ValueRef t = doc.tensor(MILO_DTYPE_FLOAT32, {4, 4});
    auto [p, n] = t.mutable_data();
    for (size_t i = 0; i < n; ++i) static_cast<uint8_t*>(p)[i] = uint8_t(i);
    doc.put(root, "coef_", t);
    doc.set_root(root);
    std::string path = std::string(MILO_BINARY_DIR) + "/pb_format_test_external.milopb";
    milo::SaveOptions o;
    o.format = "pb";
    o.tensors = MILO_TENSORS_EXTERNAL;
    registry().save(doc, path, o);
    milo::Doc back = registry().load(path);
    require_equal(doc, back);
    std::remove(path.c_str());
    std::remove((std::string(MILO_BINARY_DIR) + "/pb_format_test_external.safetensors").c_str());
}

TEST_CASE("pb: the host hears about consumed input while big tensors are read", "[pb]") {
    // tensors where models keep them: in maps and an object's state (map keys and object
    // state are where the decoder reads out of byte order, so they must not hold it back)
    milo::Doc doc;
    ValueRef root = doc.map();
    ValueRef obj = doc.object("pkg.Model");
    ValueRef state = doc.map();
    for (int i = 0; i < 3; ++i) {
        ValueRef t = doc.tensor(MILO_DTYPE_UINT8, {int64_t(12) << 20});
        std::memset(t.mutable_data().first, i + 1, size_t(12) << 20);
        doc.put(i == 0 ? root : state, "w" + std::to_string(i), t);
    }
    obj.set_args(doc.tuple());
    obj.set_state(state);
    doc.put(root, "model", obj);
    doc.set_root(root);
    std::string bytes = encode_pb(doc);
    const milo_format* f = milo_registry_find_format(registry().get(), "pb");
    struct Seen {
        std::vector<size_t> offsets;
    } seen;
    milo_decode_context ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.abi_version = MILO_ABI_VERSION;
    ctx.data = reinterpret_cast<const uint8_t*>(bytes.data());
    ctx.size = bytes.size();
    ctx.name = "big.pb";
    ctx.max_depth = 1000;
    ctx.context = &seen;
    ctx.consumed = [](void* c, size_t off) { static_cast<Seen*>(c)->offsets.push_back(off); };
    milo::Doc out;
    milo_error e = MILO_ERROR_INIT;
    REQUIRE(f->decode(f->self, milo::default_api(), out.get(), &ctx, &e) == MILO_OK);
    require_equal(doc, out);
    REQUIRE_FALSE(seen.offsets.empty());
    // within one 16 MiB reporting step of the end: nothing pinned the start of the input
    REQUIRE(seen.offsets.back() + (size_t(16) << 20) >= bytes.size());
    for (size_t i = 0; i < seen.offsets.size(); ++i) {
        REQUIRE(seen.offsets[i] <= bytes.size());
        if (i > 0) REQUIRE(seen.offsets[i] > seen.offsets[i - 1]);
    }
}

TEST_CASE("pb: truncation at every byte fails cleanly", "[pb][malformed]") {
    milo::Doc doc;
    ValueRef root = doc.map();
    doc.put(root, "n", doc.integer(-3));
    doc.put(root, "x", doc.number(2.5));
    ValueRef t = doc.tensor(MILO_DTYPE_INT16, {3});
    doc.put(root, "t", t);
    ValueRef o = doc.object("pkg.O");
    o.set_state(doc.string("s\xc3\xa9"));
    doc.put(root, "o", o);
    doc.put(root, "again", o);
    doc.set_root(root);
    std::string bytes = encode_pb(doc);
    // the only valid proper prefix is the header alone (a document without a root)
    size_t header_end = 2 + static_cast<uint8_t>(bytes[1]);
    REQUIRE(static_cast<uint8_t>(bytes[1]) < 0x80);
    for (size_t n = 0; n < bytes.size(); ++n) {
        INFO("prefix " << n);
        Decoded r = decode_pb(bytes.substr(0, n));
        if (n == header_end) {
            REQUIRE(r.status == MILO_OK);
            REQUIRE(r.doc.root().get() == nullptr);
            continue;
        }
        require_failure(r, MILO_ERR_CORRUPT, nullptr);
    }
    // every byte replaced by a few values: any outcome but a crash; failures say where
    for (size_t i = 0; i < bytes.size(); ++i) {
        for (uint8_t v : {uint8_t(0x00), uint8_t(0xff), uint8_t(bytes[i] ^ 0x80),
                          uint8_t(bytes[i] + 1)}) {
            std::string m = bytes;
            m[i] = static_cast<char>(v);
            Decoded r = decode_pb(m);
            if (r.status != MILO_OK) REQUIRE(r.message.find("byte offset") != std::string::npos);
        }
    }
}

TEST_CASE("pb: malformed inputs are rejected with a precise error", "[pb][malformed]") {
    milo::Doc doc;
    doc.set_root(doc.integer(1));
    std::string valid = encode_pb(doc);

    SECTION("empty input and no header") {
        require_failure(decode_pb(""), MILO_ERR_CORRUPT, "empty input");
        require_failure(decode_pb(Pb().bytes(2, Pb().field(3, 2).s).s), MILO_ERR_CORRUPT,
                        "no header");
        require_failure(decode_pb(Pb().bytes(1, "").s), MILO_ERR_CORRUPT, "format_version");
    }
    SECTION("unknown field at the top level") {
        require_failure(decode_pb(valid + Pb().field(3, 1).s), MILO_ERR_CORRUPT,
                        "unknown field 3");
    }
    SECTION("unknown field inside a value, found through the oracle's unknown-field set") {
        milo::v1::Document m;
        REQUIRE(m.ParseFromString(valid));
        auto* root = m.mutable_root();
        root->GetReflection()->MutableUnknownFields(root)->AddVarint(99, 1);
        std::string bytes;
        REQUIRE(m.SerializeToString(&bytes));
        Decoded r = decode_pb(bytes);
        require_failure(r, MILO_ERR_CORRUPT, "unknown field 99");
        REQUIRE(r.message.find("milo.v1.Value") != std::string::npos);
    }
    SECTION("wrong wire type") {
        require_failure(decode_pb(doc_with_root(Pb().bytes(2, "").s)), MILO_ERR_CORRUPT,
                        "wire type 2");
        require_failure(decode_pb(Pb().bytes(1, Pb().bytes(1, "x").s).s), MILO_ERR_CORRUPT,
                        "format_version");
    }
    SECTION("length beyond the end") {
        std::string bytes = Pb().bytes(1, Pb().field(1, 1).s).tag(2, 2).varint(5).s + "\x08";
        Decoded r = decode_pb(bytes);
        require_failure(r, MILO_ERR_CORRUPT, "declares 5 bytes");
        REQUIRE(r.message.find("byte offset 4") != std::string::npos);
        require_failure(decode_pb(Pb().tag(1, 2).varint(uint64_t(1) << 62).s), MILO_ERR_CORRUPT,
                        "declares");
    }
    SECTION("varint overflow") {
        std::string body = Pb().tag(3, 0).s + std::string(9, '\xff') + "\x7f";
        require_failure(decode_pb(doc_with_root(body)), MILO_ERR_CORRUPT, "overflows 64 bits");
        std::string endless = Pb().tag(3, 0).s + std::string(12, '\xff');
        require_failure(decode_pb(doc_with_root(endless)), MILO_ERR_CORRUPT, nullptr);
    }
    SECTION("oneof given twice, empty value, bad scalars") {
        require_failure(decode_pb(doc_with_root(Pb().field(1, 0).field(2, 1).s)),
                        MILO_ERR_CORRUPT, "given twice");
        require_failure(decode_pb(doc_with_root("")), MILO_ERR_CORRUPT, "no kind");
        require_failure(decode_pb(doc_with_root(Pb().field(2, 2).s)), MILO_ERR_CORRUPT,
                        "0 or 1");
        require_failure(decode_pb(doc_with_root(Pb().field(1, 3).s)), MILO_ERR_CORRUPT,
                        "NULL_VALUE");
        require_failure(decode_pb(doc_with_root(Pb().bytes(4, "12").s)), MILO_ERR_CORRUPT,
                        "fits in 64 bits");
        require_failure(decode_pb(doc_with_root(Pb().bytes(4, "12x").s)), MILO_ERR_CORRUPT,
                        "big_int");
        require_failure(decode_pb(doc_with_root(Pb().field(3, 1).field(16, 1).s)),
                        MILO_ERR_CORRUPT, "cannot carry an id");
    }
    SECTION("refs and ids") {
        require_failure(decode_pb(doc_with_root(Pb().field(15, 7).s)), MILO_ERR_CORRUPT,
                        "ref 7");
        Pb inner;
        inner.bytes(8, "").field(16, 1);
        Pb seq;
        seq.bytes(1, inner.s).bytes(1, inner.s);
        require_failure(decode_pb(doc_with_root(Pb().bytes(8, seq.s).s)), MILO_ERR_CORRUPT,
                        "defined twice");
        require_failure(decode_pb(doc_with_root(Pb().bytes(8, "").field(16, 0).s)),
                        MILO_ERR_CORRUPT, "id 0");
        // a ref to a node defined later in document order is not resolvable
        Pb later;
        later.bytes(1, Pb().field(15, 1).s).bytes(1, inner.s);
        require_failure(decode_pb(doc_with_root(Pb().bytes(8, later.s).s)), MILO_ERR_CORRUPT,
                        "ref 1");
    }
    SECTION("invalid UTF-8 names its byte and document path") {
        milo::Doc d;
        ValueRef o = d.object("pkg.Model");
        ValueRef st = d.map();
        d.put(st, "coef_", d.string("aQc"));
        o.set_state(st);
        d.set_root(o);
        std::string bytes = encode_pb(d);
        size_t at = bytes.find("aQc") + 1;
        bytes[at] = '\xff';
        Decoded r = decode_pb(bytes);
        require_failure(r, MILO_ERR_CORRUPT, "UTF-8");
        REQUIRE(r.message.find("/root/state/coef_") != std::string::npos);
        REQUIRE(r.message.find("byte offset " + std::to_string(at) + " ") != std::string::npos);
        // header strings too
        std::string h = Pb().bytes(1, Pb().field(1, 1).bytes(5, "ty\xc0\x80").s).s;
        Decoded rh = decode_pb(h);
        require_failure(rh, MILO_ERR_CORRUPT, "UTF-8");
        REQUIRE(rh.message.find("/milo/type") != std::string::npos);
    }
    SECTION("huge declared tensors fail before allocating") {
        auto tensor_doc = [](int dtype, std::vector<uint64_t> shape, const std::string& data,
                             uint32_t storage = 5) {
            Pb t;
            t.field(1, uint64_t(dtype));
            Pb packed;
            for (uint64_t d : shape) packed.varint(d);
            t.bytes(2, packed.s).bytes(storage, data);
            return doc_with_root(Pb().bytes(12, t.s).s);
        };
        require_failure(decode_pb(tensor_doc(13, {uint64_t(1) << 20, uint64_t(1) << 20}, "")),
                        MILO_ERR_LIMIT, "1 TiB");
        require_failure(decode_pb(tensor_doc(13, {uint64_t(1) << 62, uint64_t(1) << 62}, "")),
                        MILO_ERR_LIMIT, "overflows");
        require_failure(decode_pb(tensor_doc(12, {1000}, std::string(8, '\0'))),
                        MILO_ERR_CORRUPT, "expected 4000");
        require_failure(decode_pb(tensor_doc(17, {uint64_t(1) << 40}, "", 7)), MILO_ERR_CORRUPT,
                        "cannot hold");
        require_failure(decode_pb(tensor_doc(18, {uint64_t(1) << 30}, "\x0a\x00", 8)),
                        MILO_ERR_CORRUPT, "cannot hold");
        require_failure(decode_pb(tensor_doc(12, {1}, "abcd", 7)), MILO_ERR_CORRUPT,
                        "cannot use storage items");
        require_failure(decode_pb(tensor_doc(19, {1}, "abcd")), MILO_ERR_CORRUPT,
                        "unknown tensor dtype 19");
        require_failure(decode_pb(tensor_doc(12, {uint64_t(-1)}, "")), MILO_ERR_CORRUPT,
                        "negative dimension");
        Pb two_storages;
        two_storages.field(1, 6).bytes(5, "").bytes(6, "n");
        require_failure(decode_pb(doc_with_root(Pb().bytes(12, two_storages.s).s)),
                        MILO_ERR_CORRUPT, "storage given twice");
    }
    SECTION("record fields are checked") {
        Pb field;
        field.bytes(1, "a").field(2, 17).field(3, 0);
        Pb t;
        t.field(1, 16).field(3, 8).bytes(4, field.s).bytes(5, std::string(8, '\0'));
        require_failure(decode_pb(doc_with_root(Pb().bytes(12, t.s).s)), MILO_ERR_CORRUPT,
                        "numeric dtype");
        Pb wide;
        wide.bytes(1, "a").field(2, 13).field(3, 4);  // float64 at offset 4 of an 8-byte item
        Pb t2;
        t2.field(1, 16).field(3, 8).bytes(4, wide.s).bytes(5, std::string(8, '\0'));
        require_failure(decode_pb(doc_with_root(Pb().bytes(12, t2.s).s)), MILO_ERR_CORRUPT,
                        "record field");
    }
    SECTION("a newer format version is unsupported, not corrupt") {
        std::string v2 = Pb().bytes(1, Pb().field(1, 2).field(99, 1).s).s;
        require_failure(decode_pb(v2), MILO_ERR_UNSUPPORTED, "format_version 2");
    }
    SECTION("map keys and values must pair up") {
        Pb m;
        m.bytes(1, Pb().field(3, 2).s).bytes(1, Pb().field(3, 4).s).bytes(2, Pb().field(3, 6).s);
        require_failure(decode_pb(doc_with_root(Pb().bytes(11, m.s).s)), MILO_ERR_CORRUPT,
                        "more keys than values");
    }
}

TEST_CASE("pb: nesting depth is limited", "[pb][malformed]") {
    REQUIRE(decode_pb(nested_lists(50), 50).status == MILO_OK);
    require_failure(decode_pb(nested_lists(51), 50), MILO_ERR_LIMIT, "nested deeper");
    // a depth bomb far beyond the default limit, and beyond any limit a caller may ask for
    std::string bomb = nested_lists(200000);
    require_failure(decode_pb(bomb), MILO_ERR_LIMIT, "nested deeper");
    require_failure(decode_pb(bomb, 1000000), MILO_ERR_LIMIT, "nested deeper");

    // the encoder writes what the decoder reads at the default limit, and refuses deeper
    milo::Doc doc;
    ValueRef top = doc.list();
    ValueRef cur = top;
    for (int i = 1; i < 1000; ++i) {
        ValueRef next = doc.list();
        cur.append(next);
        cur = next;
    }
    doc.set_root(top);
    std::string bytes = encode_pb(doc);
    Decoded r = decode_pb(bytes);
    REQUIRE(r.status == MILO_OK);
    require_equal(doc, r.doc);
    cur.append(doc.list());
    milo::SaveOptions o;
    o.format = "pb";
    milo_save_options so = o.c();
    milo_error e = MILO_ERROR_INIT;
    auto sink = [](void*, const void*, size_t, milo_error*) -> milo_status { return MILO_OK; };
    REQUIRE(milo_doc_encode(registry().get(), doc.get(), &so, +sink, nullptr, &e) ==
            MILO_ERR_LIMIT);
}

TEST_CASE("pb: a failing sink stops the encoder with the sink's error", "[pb]") {
    milo::Doc doc;
    ValueRef t = doc.tensor(MILO_DTYPE_UINT8, {1 << 20});
    doc.set_root(t);
    milo::SaveOptions o;
    o.format = "pb";
    milo_save_options so = o.c();
    milo_error e = MILO_ERROR_INIT;
    auto sink = [](void*, const void*, size_t, milo_error* err) -> milo_status {
        return milo_error_set(err, MILO_ERR_IO, "disk full");
    };
    REQUIRE(milo_doc_encode(registry().get(), doc.get(), &so, +sink, nullptr, &e) ==
            MILO_ERR_IO);
    REQUIRE(std::string(e.message).find("disk full") != std::string::npos);
}
