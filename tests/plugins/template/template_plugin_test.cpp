// plugins/template (C99): the acme.scorer transporter and the acme.props format, loaded as the
// real shared library, checked byte for byte and bit for bit, and fed broken inputs.
#include <catch2/catch.hpp>

#include <milo/milo.h>
#include <milo/milo.hpp>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "../../test_files.hpp"

namespace {

std::string tmp(const std::string& name) { return std::string(MILO_TEST_TMP_DIR) + "/" + name; }

void put_u32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}
void put_f64(std::string& out, double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, 8);
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(bits >> (8 * i)));
}

// The native .acmescore layout, written independently of the plugin.
std::string native(const std::string& name, double threshold, const std::vector<double>& w) {
    std::string out = "ACMESCR1";
    put_u32(out, static_cast<uint32_t>(name.size()));
    out += name;
    put_f64(out, threshold);
    put_u32(out, static_cast<uint32_t>(w.size()));
    for (double d : w) put_f64(out, d);
    return out;
}

uint64_t bits(double d) {
    uint64_t b;
    std::memcpy(&b, &d, 8);
    return b;
}
double from_bits(uint64_t b) {
    double d;
    std::memcpy(&d, &b, 8);
    return d;
}

milo::Registry registry() {
    milo::Registry reg;
    reg.load_plugin(MILO_ACME_PLUGIN);
    return reg;
}

// Weights that catch any text or precision shortcut: signed zero, subnormals, extremes.
const std::vector<double> kWeights = {0.25,
                                      -1.5,
                                      -0.0,
                                      0.1,
                                      1.0 / 3.0,
                                      5e-324,
                                      std::numeric_limits<double>::max(),
                                      -std::numeric_limits<double>::infinity(),
                                      123456789.0};

milo_status status_of(const std::function<void()>& fn, std::string* message = nullptr) {
    try {
        fn();
    } catch (const milo::Error& e) {
        if (message) *message = e.what();
        return e.code();
    }
    return MILO_OK;
}

}  // namespace

TEST_CASE("the template plugin registers acme.scorer and acme.props", "[template]") {
    milo::Registry reg = registry();
    const milo_transporter* t = milo_registry_find_transporter(reg.get(), "acme.scorer");
    REQUIRE(t != nullptr);
    CHECK(std::string(t->framework) == "acme-scoring");
    CHECK(milo_registry_find_transporter_for_type(reg.get(), "acme.Scorer") == t);
    const milo_format* f = milo_registry_find_format(reg.get(), "acme.props");
    REQUIRE(f != nullptr);
    CHECK(milo_registry_find_format_for_path(reg.get(), "x/model.props") == f);
    size_t plugins = milo_registry_plugin_count(reg.get());
    bool found = false;
    for (size_t i = 0; i < plugins; ++i) {
        const char *path, *name, *version;
        REQUIRE(milo_registry_plugin_at(reg.get(), i, &path, &name, &version, nullptr) == MILO_OK);
        if (std::string(name) == "acme") {
            found = true;
            CHECK(std::string(version) == "1.0.0");
        }
    }
    CHECK(found);
}

TEST_CASE("acme.scorer: native file -> document -> native file, bit for bit", "[template]") {
    milo::Registry reg = registry();
    const std::string bytes = native("fraud-v3 \xc3\xa9t\xc3\xa9", 0.75, kWeights);
    const std::string in = tmp("model.acmescore");
    write_file(in, bytes);

    milo::Doc doc = reg.open(in);  // detected by content, through the plugin's probe
    CHECK(doc.header("type") == "acme.Scorer");
    CHECK(doc.header("transporter.id") == "acme.scorer");
    CHECK(doc.header("framework.name") == "acme-scoring");
    CHECK(doc.header("source.kind") == "acmescore");
    CHECK(doc.header("source.sha256").size() == 64);
    milo::ValueRef root = doc.root();
    REQUIRE(root.kind() == MILO_KIND_OBJECT);
    CHECK(root.name() == "acme.Scorer");
    milo::ValueRef state = root.state();
    REQUIRE(state.size() == 3);
    CHECK(state.find("name").as_string() == "fraud-v3 \xc3\xa9t\xc3\xa9");
    CHECK(bits(state.find("threshold").as_float()) == bits(0.75));
    milo::ValueRef w = state.find("weights");
    REQUIRE(w.dtype() == MILO_DTYPE_FLOAT64);
    REQUIRE(w.shape() == std::vector<int64_t>{static_cast<int64_t>(kWeights.size())});
    for (size_t i = 0; i < kWeights.size(); ++i) {
        INFO("weight " << i);
        CHECK(bits(w.data_as<double>()[i]) == bits(kWeights[i]));
    }

    // Through every document format and back to the native bytes.
    for (const char* ext : {".json", ".yaml", ".pb", ".props"}) {
        INFO(ext);
        const std::string doc_path = tmp(std::string("model") + ext);
        const std::string out = tmp(std::string("back") + ext + ".acmescore");
        reg.save(doc, doc_path);
        milo::Doc back = reg.load(doc_path);
        std::string where;
        CHECK(back.equals(doc, &where));
        INFO(where);
        reg.encode_native(back, out);
        CHECK(read_file(out) == bytes);
    }
}

TEST_CASE("acme.scorer: an empty model and a NaN payload survive the native round trip",
          "[template]") {
    milo::Registry reg = registry();
    for (const std::string& bytes :
         {native("", 0.0, {}), native("n", from_bits(0x7ff4000000000123ull),
                                      {from_bits(0xfff8000000000001ull)})}) {
        milo::Doc doc = reg.decode_native(bytes, "acme.scorer");
        const std::string json = tmp("payload.json");
        reg.save(doc, json);
        milo::Doc back = reg.load(json);
        CHECK(back.equals(doc));
        const std::string out = tmp("payload.acmescore");
        reg.encode_native(back, out);
        CHECK(read_file(out) == bytes);
    }
}

TEST_CASE("acme.scorer: every truncation and corruption is a precise error", "[template]") {
    milo::Registry reg = registry();
    const std::string good = native("abc", 1.0, {1.0, 2.0});
    // Every proper prefix of a valid file fails with CORRUPT and a byte offset; none crashes.
    for (size_t n = 0; n < good.size(); ++n) {
        INFO("prefix of " << n << " bytes");
        std::string message;
        CHECK(status_of([&] { reg.decode_native(good.substr(0, n), "acme.scorer", "m.acmescore"); },
                        &message) == MILO_ERR_CORRUPT);
        CHECK(message.find("m.acmescore: byte ") != std::string::npos);
    }
    struct Case {
        std::string bytes;
        const char* expect;
    };
    std::string huge_name = "ACMESCR1";
    put_u32(huge_name, 0xffffffffu);
    std::string huge_count = "ACMESCR1";
    put_u32(huge_count, 0);
    put_f64(huge_count, 1.0);
    put_u32(huge_count, 0x40000000u);
    std::string bad_utf8 = native("\xff\xfe", 1.0, {});
    const Case cases[] = {
        {good + "x", "byte 27: weight count does not match"},
        {"ACMESCR2" + good.substr(8), "byte 0: expected the magic"},
        {huge_name, "byte 12: name length runs past the end"},
        {huge_count, "byte 24: weight count does not match"},
        {bad_utf8, "byte 12: name is not valid UTF-8"},
    };
    for (const Case& c : cases) {
        INFO(c.expect);
        std::string message;
        CHECK(status_of([&] { reg.decode_native(c.bytes, "acme.scorer", "m.acmescore"); },
                        &message) == MILO_ERR_CORRUPT);
        CHECK(message.find(c.expect) != std::string::npos);
    }
}

TEST_CASE("acme.scorer: documents that do not fit the native file are refused", "[template]") {
    milo::Registry reg = registry();
    milo::Doc doc = reg.decode_native(native("abc", 1.0, {1.0}), "acme.scorer");
    const std::string out = tmp("refused.acmescore");
    std::string message;

    doc.put(doc.root().state(), "extra", doc.integer(1));  // would be lost: refused
    CHECK(status_of([&] { reg.encode_native(doc, out, "acme.scorer"); }, &message) ==
          MILO_ERR_UNSUPPORTED);
    CHECK(message.find("/root/state") != std::string::npos);

    milo::Doc wrong;
    auto root = wrong.object("acme.Scorer");
    auto state = wrong.map();
    wrong.put(state, "name", wrong.string("x"));
    wrong.put(state, "threshold", wrong.number(0.5));
    wrong.put(state, "weights", wrong.tensor(MILO_DTYPE_FLOAT32, {2}));
    root.set_state(state);
    wrong.set_root(root);
    CHECK(status_of([&] { reg.encode_native(wrong, out, "acme.scorer"); }, &message) ==
          MILO_ERR_TYPE);
    CHECK(message.find("/root/state/weights") != std::string::npos);
}

TEST_CASE("acme.props: the file is the documented text, and it reads back exactly",
          "[template][format]") {
    milo::Registry reg = registry();
    milo::Doc doc;
    auto root = doc.map();
    doc.put(root, "nothing", doc.null());
    doc.put(root, "on", doc.boolean(true));
    doc.put(root, "big", doc.integer_text("-123456789012345678901234567890"));
    doc.put(root, "tiny", doc.number(-0.0));
    doc.put(root, "third", doc.number(1.0 / 3.0));
    doc.put(root, "hot", doc.number(std::numeric_limits<double>::infinity()));
    doc.put(root, "nan", doc.number(std::nan("")));
    doc.put(root, "label", doc.string("caf\xc3\xa9 = ok: yes"));
    auto w = doc.tensor(MILO_DTYPE_FLOAT64, {3});
    w.mutable_data_as<double>()[0] = 0.5;
    w.mutable_data_as<double>()[1] = -2;
    w.mutable_data_as<double>()[2] = 5e-324;
    doc.put(root, "w", w);
    doc.put(root, "empty", doc.tensor(MILO_DTYPE_FLOAT64, {0}));
    doc.set_root(root);
    doc.set_header("type", "acme.Settings");

    const std::string path = tmp("settings.props");
    reg.save(doc, path);
    CHECK(read_file(path) ==
          "milo-props 1\n"
          "@format_version=1\n"
          "@producer.name=milo\n"
          "@producer.version=" MILO_VERSION_STRING "\n"
          "@type=acme.Settings\n"
          "map\n"
          "nothing=null:\n"
          "on=bool:true\n"
          "big=int:-123456789012345678901234567890\n"
          "tiny=float:-0\n"
          "third=float:0.3333333333333333\n"
          "hot=float:inf\n"
          "nan=float:nan\n"
          "label=str:caf\xc3\xa9 = ok: yes\n"
          "w=f64:0.5,-2,5e-324\n"
          "empty=f64:\n");
    milo::Doc back = reg.load(path);  // detected by content
    std::string where;
    CHECK(back.equals(doc, &where));
    INFO(where);
}

TEST_CASE("acme.props: external tensor mode puts the weights into the sidecar",
          "[template][format]") {
    milo::Registry reg = registry();
    milo::Doc doc = reg.decode_native(native("ext", 0.5, kWeights), "acme.scorer");
    milo::SaveOptions external;
    external.tensors = MILO_TENSORS_EXTERNAL;
    const std::string path = tmp("external.props");
    std::remove(tmp("external.safetensors").c_str());
    reg.save(doc, path, external);
    const std::string text = read_file(path);
    CHECK(text.find("\nweights=ext:9:") != std::string::npos);
    CHECK(text.find("\n@external.file=external.safetensors\n") != std::string::npos);
    CHECK(read_file(tmp("external.safetensors")).size() > 9 * 8);
    milo::Doc back = reg.load(path);
    std::string where;
    CHECK(back.equals(doc, &where));
    INFO(where);
    // Decoded from memory there is no folder to find the sidecar in: refused, not guessed.
    CHECK(status_of([&] { reg.decode(text, "acme.props"); }) != MILO_OK);
}

TEST_CASE("acme.props: what the format cannot hold is refused, never dropped",
          "[template][format]") {
    milo::Registry reg = registry();
    milo::SaveOptions props;
    props.format = "acme.props";
    auto refused = [&](const std::function<void(milo::Doc&, milo::ValueRef)>& fill,
                       const char* where) {
        milo::Doc doc;
        auto root = doc.map();
        doc.set_root(root);
        fill(doc, root);
        std::string message;
        CHECK(status_of([&] { reg.encode(doc, props); }, &message) == MILO_ERR_UNSUPPORTED);
        CHECK(message.find(where) != std::string::npos);
    };
    refused([](milo::Doc& d, milo::ValueRef r) { d.put(r, "l", d.list()); }, "/root/l");
    refused([](milo::Doc& d, milo::ValueRef r) { d.put(r, "t", d.tensor(MILO_DTYPE_INT64, {1})); },
            "/root/t");
    refused([](milo::Doc& d, milo::ValueRef r) { d.put(r, "s", d.string("a\nb")); }, "/root/s");
    refused([](milo::Doc& d, milo::ValueRef r) { d.put(r, "n", d.number(-std::nan(""))); },
            "/root/n");
    refused([](milo::Doc& d, milo::ValueRef r) { d.put(r, "a=b", d.null()); }, "/root[0]");
    refused([](milo::Doc& d, milo::ValueRef r) { r.append(d.integer(1), d.null()); }, "/root[0]");
    refused([](milo::Doc& d, milo::ValueRef) { d.set_metadata("k", "v"); }, "metadata");
    refused([](milo::Doc& d, milo::ValueRef) { d.set_root(d.list()); }, "/root");
    refused([](milo::Doc& d, milo::ValueRef) { d.set_header("framework.name", "a\nb"); },
            "framework.name");
    refused(
        [](milo::Doc& d, milo::ValueRef r) {
            auto o = d.object("acme.Odd\nType");
            o.set_state(r);
            d.set_root(o);
        },
        "/root");
}

TEST_CASE("acme.props: malformed files fail with the line number", "[template][format]") {
    milo::Registry reg = registry();
    struct Case {
        const char* text;
        const char* expect;
    };
    const Case cases[] = {
        {"", "line 1: expected \"milo-props 1\""},
        {"milo-props 2\nmap\n", "line 1"},
        {"milo-props 1\n", "line 2: expected object=TYPE or map"},
        {"milo-props 1\nmap", "line 2: the last line has no newline"},
        {"milo-props 1\n@colour=red\nmap\n", "line 2: unknown header key"},
        {"milo-props 1\n@source.sha256=xyz\nmap\n", "line 2: invalid header value"},
        {"milo-props 1\nlist\n", "line 2: expected @KEY=VALUE"},
        {"milo-props 1\nmap\nk\n", "line 3: expected KEY=TAG:VALUE"},
        {"milo-props 1\nmap\n=int:1\n", "line 3: expected KEY=TAG:VALUE"},
        {"milo-props 1\nmap\nk=int\n", "line 3: expected TAG:VALUE"},
        {"milo-props 1\nmap\nk=int:01\n", "line 3: expected a decimal integer"},
        {"milo-props 1\nmap\nk=float: 1\n", "line 3: expected a number"},
        {"milo-props 1\nmap\nk=float:0x10\n", "line 3: expected a number"},
        {"milo-props 1\nmap\nk=float:1e400x\n", "line 3: expected a number"},
        {"milo-props 1\nmap\nk=bool:yes\n", "line 3: expected bool:true"},
        {"milo-props 1\nmap\nk=null:x\n", "line 3: unknown tag"},
        {"milo-props 1\nmap\nk=f64:1,,2\n", "line 3: expected comma-separated"},
        {"milo-props 1\nmap\nk=f64:1,\n", "line 3: expected comma-separated"},
        {"milo-props 1\nmap\nk=str:\xc3\n", "line 3: str: value is not valid UTF-8"},
        {"milo-props 1\nmap\nk=tensor:1\n", "line 3: unknown tag"},
        {"milo-props 1\nmap\nk=ext:x:w\n", "line 3: expected ext:COUNT:NAME"},
        {"milo-props 1\nmap\nk=ext:-1:w\n", "line 3: expected ext:COUNT:NAME"},
        {"milo-props 1\nmap\nk=ext:2:\n", "line 3: expected ext:COUNT:NAME"},
    };
    for (const Case& c : cases) {
        INFO(c.text);
        std::string message;
        CHECK(status_of([&] { reg.decode(c.text, "acme.props"); }, &message) == MILO_ERR_CORRUPT);
        CHECK(message.find(c.expect) != std::string::npos);
        INFO(message);
    }
}
