// The registry and plugin loader, through the public C API only, against real shared libraries:
// the good and broken variants of tests/plugins/variants (built into MILO_TEST_PLUGIN_DIR).
#include <catch2/catch.hpp>

#include <milo/milo.h>

#include <dlfcn.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "../test_files.hpp"

namespace fs = std::filesystem;

namespace {

// ---------------------------------------------------------------------------------------------
// Helpers

std::string plugin_path(const std::string& stem) {
    return std::string(MILO_TEST_PLUGIN_DIR) + "/" + stem + ".so";
}

struct RegistryDeleter {
    void operator()(milo_registry* r) const { milo_registry_destroy(r); }
};
using Registry = std::unique_ptr<milo_registry, RegistryDeleter>;

struct DocDeleter {
    void operator()(milo_doc* d) const { milo_doc_destroy(d); }
};
using Doc = std::unique_ptr<milo_doc, DocDeleter>;

Registry make_registry() {
    milo_registry* raw = nullptr;
    milo_error error = MILO_ERROR_INIT;
    const milo_status st = milo_registry_create(&raw, &error);
    INFO(error.message);
    REQUIRE(st == MILO_OK);
    REQUIRE(raw != nullptr);
    return Registry(raw);
}

Doc make_doc() {
    milo_doc* raw = nullptr;
    milo_error error = MILO_ERROR_INIT;
    REQUIRE(milo_doc_create(&raw, &error) == MILO_OK);
    return Doc(raw);
}

// Loads a plugin that must load.
void load_ok(milo_registry* reg, const std::string& path) {
    milo_error error = MILO_ERROR_INIT;
    const milo_status st = milo_registry_load_plugin(reg, path.c_str(), &error);
    INFO(path << ": " << milo_status_name(st) << ": " << error.message);
    REQUIRE(st == MILO_OK);
}

// True while the process has the shared library `path` mapped (asks without loading it).
bool library_is_loaded(const std::string& path) {
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
    if (handle == nullptr) return false;
    dlclose(handle);
    return true;
}

std::set<std::string> list_dir(const fs::path& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir)) {
        names.insert(entry.path().filename().string());
    }
    return names;
}

// A fresh folder under the build tree, removed with everything in it at scope exit.
class TempDir {
public:
    TempDir() {
        static int counter = 0;
        path_ = fs::path(MILO_BINARY_DIR) / "test_tmp" /
                ("registry_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
        fs::remove_all(path_);
        fs::create_directories(path_);
    }
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(path_, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    const fs::path& path() const { return path_; }
    std::string str() const { return path_.string(); }

private:
    fs::path path_;
};

std::string transporter_id(const milo_transporter* t) { return t && t->id ? t->id : "(none)"; }
std::string format_id(const milo_format* f) { return f && f->id ? f->id : "(none)"; }

std::set<std::string> transporter_ids(const milo_registry* reg) {
    std::set<std::string> ids;
    for (size_t i = 0; i < milo_registry_transporter_count(reg); ++i) {
        const milo_transporter* t = milo_registry_transporter_at(reg, i);
        REQUIRE(t != nullptr);
        ids.insert(transporter_id(t));
    }
    return ids;
}

std::set<std::string> format_ids(const milo_registry* reg) {
    std::set<std::string> ids;
    for (size_t i = 0; i < milo_registry_format_count(reg); ++i) {
        const milo_format* f = milo_registry_format_at(reg, i);
        REQUIRE(f != nullptr);
        ids.insert(format_id(f));
    }
    return ids;
}

std::set<std::string> plugin_names(const milo_registry* reg) {
    std::set<std::string> names;
    for (size_t i = 0; i < milo_registry_plugin_count(reg); ++i) {
        const char *path = nullptr, *name = nullptr, *version = nullptr;
        milo_error error = MILO_ERROR_INIT;
        REQUIRE(milo_registry_plugin_at(reg, i, &path, &name, &version, &error) == MILO_OK);
        REQUIRE(name != nullptr);
        names.insert(name);
    }
    return names;
}

// The file path and version of the loaded plugin that declared `name`; false when none did.
bool find_plugin(const milo_registry* reg, const std::string& name, std::string* path,
                 std::string* version) {
    for (size_t i = 0; i < milo_registry_plugin_count(reg); ++i) {
        const char *p = nullptr, *n = nullptr, *v = nullptr;
        milo_error error = MILO_ERROR_INIT;
        REQUIRE(milo_registry_plugin_at(reg, i, &p, &n, &v, &error) == MILO_OK);
        if (n != nullptr && name == n) {
            if (path) *path = p ? p : "";
            if (version) *version = v ? v : "";
            return true;
        }
    }
    return false;
}

struct Counts {
    size_t plugins, transporters, formats;
    bool operator==(const Counts& o) const {
        return plugins == o.plugins && transporters == o.transporters && formats == o.formats;
    }
};

Counts counts(const milo_registry* reg) {
    return {milo_registry_plugin_count(reg), milo_registry_transporter_count(reg),
            milo_registry_format_count(reg)};
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

std::vector<uint64_t> bits_of(const std::vector<double>& values) {
    std::vector<uint64_t> out;
    for (double v : values) {
        uint64_t b;
        std::memcpy(&b, &v, sizeof b);
        out.push_back(b);
    }
    return out;
}

// Checks that `doc` holds test.Scorer{weights: float64[n]} with exactly `expected` (bitwise).
void check_scorer_doc(const milo_doc* doc, const std::vector<double>& expected) {
    const milo_value* root = milo_doc_get_root(doc);
    REQUIRE(milo_value_get_kind(root) == MILO_KIND_OBJECT);
    const char* type = nullptr;
    REQUIRE(milo_value_get_name(root, &type, nullptr) == MILO_OK);
    CHECK(std::string(type) == "test.Scorer");
    const milo_value* weights = milo_value_find(milo_value_get_state(root), "weights");
    REQUIRE(milo_value_get_kind(weights) == MILO_KIND_TENSOR);
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    REQUIRE(milo_value_get_tensor(weights, &dtype, &shape, &ndim, nullptr) == MILO_OK);
    CHECK(dtype == MILO_DTYPE_FLOAT64);
    REQUIRE(ndim == 1);
    CHECK(shape[0] == static_cast<int64_t>(expected.size()));
    const void* data = nullptr;
    size_t nbytes = 0;
    REQUIRE(milo_value_tensor_data(weights, &data, &nbytes, nullptr) == MILO_OK);
    REQUIRE(nbytes == expected.size() * sizeof(double));
    std::vector<double> actual(expected.size());
    if (nbytes > 0) std::memcpy(actual.data(), data, nbytes);
    CHECK(bits_of(actual) == bits_of(expected));

    const char* id = nullptr;
    REQUIRE(milo_doc_get_header(doc, "transporter.id", &id, nullptr) == MILO_OK);
    REQUIRE(id != nullptr);
    CHECK(std::string(id) == "test.scorer");
}

Doc decode_native(milo_registry* reg, const char* id, const std::string& input,
                  const char* path) {
    milo_doc* raw = nullptr;
    milo_error error = MILO_ERROR_INIT;
    const milo_status st =
        milo_registry_decode_native(reg, id, bytes(input), input.size(), path, &raw, &error);
    INFO(milo_status_name(st) << ": " << error.message);
    REQUIRE(st == MILO_OK);
    REQUIRE(raw != nullptr);
    return Doc(raw);
}

// Builds test.Scorer{weights: <dtype>[n]} by hand, without any header.
Doc make_scorer_doc(int32_t dtype, const std::vector<double>& weights) {
    Doc doc = make_doc();
    milo_doc* d = doc.get();
    milo_value *tensor = nullptr, *object = nullptr, *state = nullptr, *key = nullptr;
    const int64_t shape[1] = {static_cast<int64_t>(weights.size())};
    REQUIRE(milo_value_create_tensor(d, dtype, shape, 1, &tensor, nullptr) == MILO_OK);
    void* data = nullptr;
    size_t nbytes = 0;
    REQUIRE(milo_value_tensor_mutable_data(tensor, &data, &nbytes, nullptr) == MILO_OK);
    if (dtype == MILO_DTYPE_FLOAT64) {
        REQUIRE(nbytes == weights.size() * sizeof(double));
        if (nbytes > 0) std::memcpy(data, weights.data(), nbytes);
    }
    REQUIRE(milo_value_create_object(d, "test.Scorer", &object, nullptr) == MILO_OK);
    REQUIRE(milo_value_create_container(d, MILO_KIND_MAP, &state, nullptr) == MILO_OK);
    REQUIRE(milo_value_create_string(d, "weights", 7, &key, nullptr) == MILO_OK);
    REQUIRE(milo_value_append_pair(state, key, tensor, nullptr) == MILO_OK);
    REQUIRE(milo_value_set_state(object, state, nullptr) == MILO_OK);
    REQUIRE(milo_doc_set_root(d, object, nullptr) == MILO_OK);
    return doc;
}

Doc make_string_doc(const std::string& text) {
    Doc doc = make_doc();
    milo_value* root = nullptr;
    REQUIRE(milo_value_create_string(doc.get(), text.data(), text.size(), &root, nullptr) ==
            MILO_OK);
    REQUIRE(milo_doc_set_root(doc.get(), root, nullptr) == MILO_OK);
    return doc;
}

std::string root_string(const milo_doc* doc) {
    const milo_value* root = milo_doc_get_root(doc);
    REQUIRE(milo_value_get_kind(root) == MILO_KIND_STRING);
    const char* data = nullptr;
    size_t len = 0;
    REQUIRE(milo_value_get_string(root, &data, &len, nullptr) == MILO_OK);
    return std::string(data, len);
}

milo_doc* const kUntouched = reinterpret_cast<milo_doc*>(static_cast<uintptr_t>(0x1234));

using Catch::Matchers::Contains;

}  // namespace

// ---------------------------------------------------------------------------------------------
// A registry on its own

TEST_CASE("a new registry has the built-in formats, listed as built-in plugins", "[registry]") {
    Registry reg = make_registry();
    REQUIRE(milo_registry_plugin_count(reg.get()) == 3);
    for (size_t i = 0; i < 3; ++i) {
        const char *p = nullptr, *n = nullptr, *v = nullptr;
        REQUIRE(milo_registry_plugin_at(reg.get(), i, &p, &n, &v, nullptr) == MILO_OK);
        CHECK(std::string(p) == std::string("(built-in ") + n + ")");
        CHECK(std::string(v) == MILO_VERSION_STRING);
    }

    for (const char* id : {"json", "yaml", "pb"}) {
        INFO(id);
        const milo_format* f = milo_registry_find_format(reg.get(), id);
        REQUIRE(f != nullptr);
        CHECK(std::string(f->id) == id);
        CHECK(f->struct_size >= sizeof(milo_format));
    }
    const std::set<std::string> formats = format_ids(reg.get());
    CHECK(formats.count("json") == 1);
    CHECK(formats.count("yaml") == 1);
    CHECK(formats.count("pb") == 1);
    CHECK(formats.size() == milo_registry_format_count(reg.get()));  // ids are unique

    CHECK(milo_registry_format_at(reg.get(), milo_registry_format_count(reg.get())) == nullptr);
    CHECK(milo_registry_transporter_at(reg.get(), milo_registry_transporter_count(reg.get())) ==
          nullptr);
    CHECK(milo_registry_find_format(reg.get(), "testfmt") == nullptr);
    CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") == nullptr);
    CHECK(format_id(milo_registry_find_format_for_path(reg.get(), "dir/model.json")) == "json");
    CHECK(format_id(milo_registry_find_format_for_path(reg.get(), "dir/MODEL.JSON")) == "json");

    const char *path = nullptr, *name = nullptr, *version = nullptr;
    CHECK(milo_registry_plugin_at(reg.get(), 3, &path, &name, &version, nullptr) ==
          MILO_ERR_OUT_OF_RANGE);

    milo_registry_destroy(nullptr);  // accepted
}

// ---------------------------------------------------------------------------------------------
// (1) The good plugin

TEST_CASE("the good C plugin registers its transporter and its format", "[registry][plugin]") {
    Registry reg = make_registry();
    const Counts before = counts(reg.get());
    const std::string path = plugin_path("milo_test_good");
    load_ok(reg.get(), path);
    const Counts after = counts(reg.get());
    CHECK(after.plugins == before.plugins + 1);
    CHECK(after.transporters == before.transporters + 1);
    CHECK(after.formats == before.formats + 1);
    CHECK(library_is_loaded(path));

    SECTION("plugin enumeration") {
        std::string p, version;
        REQUIRE(find_plugin(reg.get(), "milo_test_good", &p, &version));
        CHECK_THAT(p, Contains("milo_test_good.so"));
        CHECK(version == "1.0.0");
        // The last one loaded is the last enumerated.
        const char* name = nullptr;
        REQUIRE(milo_registry_plugin_at(reg.get(), after.plugins - 1, nullptr, &name, nullptr,
                                        nullptr) == MILO_OK);
        CHECK(std::string(name) == "milo_test_good");
        CHECK(milo_registry_plugin_at(reg.get(), after.plugins, nullptr, &name, nullptr,
                                      nullptr) == MILO_ERR_OUT_OF_RANGE);
    }

    SECTION("find transporter by id, by type, by content") {
        const milo_transporter* t = milo_registry_find_transporter(reg.get(), "test.scorer");
        REQUIRE(t != nullptr);
        CHECK(std::string(t->id) == "test.scorer");
        CHECK(std::string(t->framework) == "milo-test");
        CHECK(std::string(t->version) == "1");
        CHECK(transporter_ids(reg.get()).count("test.scorer") == 1);

        CHECK(milo_registry_find_transporter_for_type(reg.get(), "test.Scorer") == t);
        // Exact type names only: no case folding, prefix or suffix matching.
        CHECK(milo_registry_find_transporter_for_type(reg.get(), "test.scorer") == nullptr);
        CHECK(milo_registry_find_transporter_for_type(reg.get(), "test.Scorer.Sub") == nullptr);
        CHECK(milo_registry_find_transporter_for_type(reg.get(), "test") == nullptr);
        CHECK(milo_registry_find_transporter(reg.get(), "TEST.SCORER") == nullptr);

        const std::string head = "weights=1,2";
        CHECK(milo_registry_find_transporter_for_content(reg.get(), bytes(head), head.size()) ==
              t);
        const std::string other = "something else entirely";
        CHECK(milo_registry_find_transporter_for_content(reg.get(), bytes(other),
                                                         other.size()) == nullptr);
        CHECK(milo_registry_find_transporter_for_content(reg.get(), bytes(head), 0) == nullptr);
    }

    SECTION("find format by id, by path extension (case-insensitive), by content") {
        const milo_format* f = milo_registry_find_format(reg.get(), "testfmt");
        REQUIRE(f != nullptr);
        CHECK(std::string(f->id) == "testfmt");
        CHECK((f->flags & MILO_FORMAT_TEXT) != 0);
        const std::set<std::string> ids = format_ids(reg.get());
        CHECK(ids.count("testfmt") == 1);
        CHECK(ids.count("json") == 1);
        CHECK(ids.count("yaml") == 1);
        CHECK(ids.count("pb") == 1);

        CHECK(milo_registry_find_format_for_path(reg.get(), "model.testfmt") == f);
        CHECK(milo_registry_find_format_for_path(reg.get(), "/a/b.c/MODEL.TESTFMT") == f);
        CHECK(milo_registry_find_format_for_path(reg.get(), "Model.TestFmt") == f);
        CHECK(milo_registry_find_format_for_path(reg.get(), "model.testfmt.bak") != f);
        CHECK(milo_registry_find_format_for_path(reg.get(), "testfmt") != f);
        CHECK(milo_registry_find_format_for_path(reg.get(), "model.testfm") != f);

        const std::string head = "MILOTEST\nhello";
        CHECK(milo_registry_find_format_for_content(reg.get(), bytes(head), head.size()) == f);
        const std::string other = "MILOTES";
        CHECK(milo_registry_find_format_for_content(reg.get(), bytes(other), other.size()) != f);
    }
}

TEST_CASE("borrowed transporter and format pointers stay valid while the registry lives",
          "[registry][plugin]") {
    // registry.h: "pointers to transporters and formats are borrowed for that long" (until the
    // registry is destroyed), so loading more plugins must not move earlier registrations.
    Registry reg = make_registry();
    const milo_format* json = milo_registry_find_format(reg.get(), "json");
    REQUIRE(json != nullptr);
    load_ok(reg.get(), plugin_path("milo_test_good"));
    const milo_transporter* scorer = milo_registry_find_transporter(reg.get(), "test.scorer");
    const milo_format* testfmt = milo_registry_find_format(reg.get(), "testfmt");
    REQUIRE(scorer != nullptr);
    REQUIRE(testfmt != nullptr);
    load_ok(reg.get(), plugin_path("milo_test_throwing"));
    CHECK(milo_registry_find_format(reg.get(), "json") == json);
    CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") == scorer);
    CHECK(milo_registry_find_format(reg.get(), "testfmt") == testfmt);
    // Only compared, never read: if they moved, reading them would be a use-after-free.
}

TEST_CASE("loading the same plugin file twice is a no-op", "[registry][plugin]") {
    Registry reg = make_registry();
    const std::string path = plugin_path("milo_test_good");
    load_ok(reg.get(), path);
    const Counts once = counts(reg.get());
    const milo_transporter* t = milo_registry_find_transporter(reg.get(), "test.scorer");
    REQUIRE(t != nullptr);

    load_ok(reg.get(), path);
    CHECK(counts(reg.get()) == once);
    // The same file under another spelling of its path.
    load_ok(reg.get(), std::string(MILO_TEST_PLUGIN_DIR) + "/./milo_test_good.so");
    CHECK(counts(reg.get()) == once);
    CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") == t);
}

// ---------------------------------------------------------------------------------------------
// (2)–(10) Plugins that must be refused, each leaving nothing behind

namespace {

struct Refusal {
    const char* stem;                       // file name without ".so"
    milo_status status;                     // expected status
    std::vector<std::string> message_has;   // besides the file name
    std::vector<const char*> transporters;  // ids that must not be registered afterwards
    std::vector<const char*> formats;
};

const std::vector<Refusal>& refusals() {
    static const std::vector<Refusal> all = {
        {"milo_test_no_entry", MILO_ERR_PLUGIN, {"milo_register"}, {}, {}},
        {"milo_test_abi_future",
         MILO_ERR_ABI,
         {"4242", std::to_string(MILO_ABI_VERSION)},
         {"test.abi_range.milo_test_abi_future"},
         {}},
        {"milo_test_abi_zero",
         MILO_ERR_ABI,
         {std::to_string(MILO_ABI_MIN_SUPPORTED)},
         {"test.abi_range.milo_test_abi_zero"},
         {}},
        {"milo_test_undeclared", MILO_ERR_PLUGIN, {}, {"test.undeclared"}, {}},
        {"milo_test_halfway",
         MILO_ERR_PLUGIN,
         {"second transporter failed halfway"},
         {"test.halfway_first", "test.halfway_second"},
         {"halfwayfmt"}},
        {"milo_test_dup_self", MILO_ERR_DUPLICATE, {"test.dupself"}, {"test.dupself"}, {}},
        {"milo_test_dup_builtin", MILO_ERR_DUPLICATE, {"json"}, {"test.dupbuiltin"}, {}},
        {"milo_test_no_declare", MILO_ERR_PLUGIN, {}, {}, {}},
        {"milo_test_small_struct", MILO_ERR_ABI, {"struct_size"}, {"test.small"}, {}},
        {"milo_test_declare_twice", MILO_ERR_PLUGIN, {}, {"test.declare_twice"}, {}},
    };
    return all;
}

// Loads `r` into `reg` and checks the refusal: status, message, nothing registered, library
// closed, registry unchanged.
void check_refused(milo_registry* reg, const Refusal& r) {
    const std::string path = plugin_path(r.stem);
    INFO("plugin " << path);
    REQUIRE(fs::exists(path));
    const Counts before = counts(reg);
    const std::set<std::string> transporters_before = transporter_ids(reg);
    const std::set<std::string> formats_before = format_ids(reg);

    milo_error error = MILO_ERROR_INIT;
    const milo_status st = milo_registry_load_plugin(reg, path.c_str(), &error);
    INFO("got " << milo_status_name(st) << ": " << error.message);
    CHECK(st == r.status);
    CHECK(error.code == st);
    const std::string message = error.message;
    CHECK_THAT(message, Contains(std::string(r.stem) + ".so"));
    for (const std::string& part : r.message_has) CHECK_THAT(message, Contains(part));

    CHECK(counts(reg) == before);
    CHECK(transporter_ids(reg) == transporters_before);
    CHECK(format_ids(reg) == formats_before);
    for (const char* id : r.transporters) {
        INFO("transporter " << id);
        if (transporters_before.count(id) == 0) {
            CHECK(milo_registry_find_transporter(reg, id) == nullptr);
        }
    }
    for (const char* id : r.formats) {
        INFO("format " << id);
        CHECK(milo_registry_find_format(reg, id) == nullptr);
    }
    CHECK_FALSE(library_is_loaded(path));
}

}  // namespace

TEST_CASE("broken plugins are refused with a clear error and leave nothing behind",
          "[registry][plugin]") {
    for (const Refusal& r : refusals()) {
        DYNAMIC_SECTION(r.stem << " into an empty registry") {
            Registry reg = make_registry();
            check_refused(reg.get(), r);
            // The registry is still usable after the refusal.
            load_ok(reg.get(), plugin_path("milo_test_good"));
            CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") != nullptr);
        }
        DYNAMIC_SECTION(r.stem << " next to the good plugin") {
            Registry reg = make_registry();
            load_ok(reg.get(), plugin_path("milo_test_good"));
            const milo_transporter* t = milo_registry_find_transporter(reg.get(), "test.scorer");
            check_refused(reg.get(), r);
            CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") == t);
            // A refused plugin can be retried: still refused, the same way.
            check_refused(reg.get(), r);
        }
    }
}

TEST_CASE("a plugin file that is missing or not a library is refused", "[registry][plugin]") {
    Registry reg = make_registry();
    const Counts before = counts(reg.get());

    SECTION("missing") {
        const std::string path = plugin_path("milo_test_does_not_exist");
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_load_plugin(reg.get(), path.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_NOT_FOUND);
        CHECK_THAT(std::string(error.message), Contains("milo_test_does_not_exist.so"));
    }
    SECTION("not a shared library") {
        TempDir dir;
        const fs::path path = dir.path() / "milo_not_a_library.so";
        write_file(path, "this is not an ELF file\n");
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_load_plugin(reg.get(), path.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_PLUGIN);
        CHECK_THAT(std::string(error.message), Contains("milo_not_a_library.so"));
    }
    SECTION("NULL arguments") {
        CHECK(milo_registry_load_plugin(reg.get(), nullptr, nullptr) ==
              MILO_ERR_INVALID_ARGUMENT);
        CHECK(milo_registry_load_plugin(nullptr, plugin_path("milo_test_good").c_str(),
                                        nullptr) == MILO_ERR_INVALID_ARGUMENT);
    }
    CHECK(counts(reg.get()) == before);
}

TEST_CASE("load errors respect the caller's error buffer", "[registry][plugin]") {
    Registry reg = make_registry();
    const std::string path = plugin_path("milo_test_no_entry");

    SECTION("no buffer at all") {
        CHECK(milo_registry_load_plugin(reg.get(), path.c_str(), nullptr) == MILO_ERR_PLUGIN);
    }
    SECTION("a buffer declared smaller than milo_error is not written past its struct_size") {
        // A caller built with a shorter message buffer: 16 bytes of message.
        const size_t declared = offsetof(milo_error, message) + 16;
        std::vector<unsigned char> raw(sizeof(milo_error), 'Z');
        milo_error* error = reinterpret_cast<milo_error*>(raw.data());
        error->struct_size = static_cast<uint32_t>(declared);
        error->code = MILO_OK;
        CHECK(milo_registry_load_plugin(reg.get(), path.c_str(), error) == MILO_ERR_PLUGIN);
        CHECK(error->code == MILO_ERR_PLUGIN);
        CHECK(std::memchr(error->message, '\0', 16) != nullptr);  // terminated, truncated
        size_t untouched = 0;
        for (size_t i = declared; i < raw.size(); ++i) untouched += raw[i] == 'Z';
        CHECK(untouched == raw.size() - declared);
    }
}

TEST_CASE("duplicate ids across plugins: the later plugin is refused whole",
          "[registry][plugin]") {
    SECTION("good first, then a plugin reusing test.scorer") {
        Registry reg = make_registry();
        load_ok(reg.get(), plugin_path("milo_test_good"));
        const milo_transporter* t = milo_registry_find_transporter(reg.get(), "test.scorer");
        REQUIRE(t != nullptr);
        check_refused(reg.get(), {"milo_test_dup_other",
                                  MILO_ERR_DUPLICATE,
                                  {"test.scorer"},
                                  {},
                                  {"dupfmt"}});
        // The original owner of the id is untouched and still works.
        CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") == t);
        CHECK(milo_registry_find_format(reg.get(), "testfmt") != nullptr);
        Doc doc = decode_native(reg.get(), "test.scorer", "weights=4,5", nullptr);
        check_scorer_doc(doc.get(), {4.0, 5.0});
    }
    SECTION("the other plugin first: then the good plugin is the duplicate") {
        Registry reg = make_registry();
        load_ok(reg.get(), plugin_path("milo_test_dup_other"));
        REQUIRE(milo_registry_find_transporter(reg.get(), "test.scorer") != nullptr);
        REQUIRE(milo_registry_find_format(reg.get(), "dupfmt") != nullptr);
        check_refused(reg.get(), {"milo_test_good",
                                  MILO_ERR_DUPLICATE,
                                  {"test.scorer"},
                                  {},
                                  {"testfmt"}});
        CHECK(find_plugin(reg.get(), "milo_test_dup_other", nullptr, nullptr));
        CHECK_FALSE(find_plugin(reg.get(), "milo_test_good", nullptr, nullptr));
    }
}

// ---------------------------------------------------------------------------------------------
// (7) Exceptions thrown out of plugin callbacks

TEST_CASE("C++ exceptions thrown by plugin callbacks are caught at the boundary",
          "[registry][plugin]") {
    Registry reg = make_registry();
    load_ok(reg.get(), plugin_path("milo_test_throwing"));
    load_ok(reg.get(), plugin_path("milo_test_good"));
    REQUIRE(milo_registry_find_transporter(reg.get(), "test.thrower") != nullptr);
    REQUIRE(milo_registry_find_format(reg.get(), "throwfmt") != nullptr);
    TempDir dir;

    SECTION("transporter decode throws std::runtime_error") {
        const std::string input = "anything";
        milo_doc* out = kUntouched;
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_decode_native(
            reg.get(), "test.thrower", bytes(input), input.size(), "in.thrower", &out, &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_PLUGIN);
        CHECK(error.code == MILO_ERR_PLUGIN);
        CHECK_THAT(std::string(error.message), Contains("decode exploded"));
        CHECK(out == kUntouched);
    }
    SECTION("transporter encode throws a non-std exception") {
        Doc doc = make_string_doc("x");
        const fs::path path = dir.path() / "out.thrower";
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_encode_native(reg.get(), "test.thrower", doc.get(),
                                                           path.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_PLUGIN);
        CHECK(error.message[0] != '\0');
        CHECK_FALSE(fs::exists(path));
        CHECK(list_dir(dir.path()).empty());  // no temporary file left behind
    }
    SECTION("probe throws while finding by content") {
        const std::string head = "THROW me";
        const milo_transporter* t =
            milo_registry_find_transporter_for_content(reg.get(), bytes(head), head.size());
        CHECK(transporter_id(t) != "test.thrower");
        const milo_format* f =
            milo_registry_find_format_for_content(reg.get(), bytes(head), head.size());
        CHECK(format_id(f) != "throwfmt");
        // Other probes still run: the good transporter is found past the throwing one.
        const std::string scorer = "weights=1";
        CHECK(transporter_id(milo_registry_find_transporter_for_content(
                  reg.get(), bytes(scorer), scorer.size())) == "test.scorer");
    }
    SECTION("format encode throws std::logic_error") {
        Doc doc = make_string_doc("x");
        milo_save_options options = MILO_SAVE_OPTIONS_INIT;
        options.format = "throwfmt";
        const fs::path path = dir.path() / "out.throwfmt";
        milo_error error = MILO_ERROR_INIT;
        const milo_status st =
            milo_doc_save(reg.get(), doc.get(), path.c_str(), &options, &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_PLUGIN);
        CHECK_THAT(std::string(error.message), Contains("encode exploded"));
        CHECK_FALSE(fs::exists(path));
        CHECK(list_dir(dir.path()).empty());
    }
    SECTION("format decode throws std::runtime_error") {
        const std::string input = "THROW\n";
        milo_load_options options = MILO_LOAD_OPTIONS_INIT;
        options.format = "throwfmt";
        milo_doc* out = kUntouched;
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_doc_decode(reg.get(), bytes(input), input.size(), "in",
                                               &options, &out, &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_PLUGIN);
        CHECK_THAT(std::string(error.message), Contains("decode exploded"));
        CHECK(out == kUntouched);
    }

    // The process and the registry survive: the good plugin still works.
    Doc doc = decode_native(reg.get(), "test.scorer", "weights=1,2,3", nullptr);
    check_scorer_doc(doc.get(), {1.0, 2.0, 3.0});
}

// ---------------------------------------------------------------------------------------------
// Converting through the good plugin

TEST_CASE("the good transporter converts a native file to a document and back",
          "[registry][native]") {
    Registry reg = make_registry();
    load_ok(reg.get(), plugin_path("milo_test_good"));
    TempDir dir;

    SECTION("by transporter id, and back through the header's transporter.id") {
        const std::string input = "weights=1,2,3";
        Doc doc = decode_native(reg.get(), "test.scorer", input, "model.scorer");
        check_scorer_doc(doc.get(), {1.0, 2.0, 3.0});

        const fs::path out = dir.path() / "back.scorer";
        milo_error error = MILO_ERROR_INIT;
        const milo_status st =
            milo_registry_encode_native(reg.get(), nullptr, doc.get(), out.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        REQUIRE(st == MILO_OK);
        CHECK(read_file(out) == input);
        CHECK(list_dir(dir.path()) == std::set<std::string>{"back.scorer"});
    }
    SECTION("by content, bit-exact for awkward doubles") {
        const std::string input = "weights=0.1,-2.5,1e+300,-0,5e-324,inf,-inf";
        Doc doc = decode_native(reg.get(), nullptr, input, nullptr);
        check_scorer_doc(doc.get(), {0.1, -2.5, 1e300, -0.0, 5e-324, HUGE_VAL, -HUGE_VAL});

        const fs::path out = dir.path() / "back.scorer";
        milo_error error = MILO_ERROR_INIT;
        REQUIRE(milo_registry_encode_native(reg.get(), "test.scorer", doc.get(), out.c_str(),
                                            &error) == MILO_OK);
        CHECK(read_file(out) == input);

        // And once more through the file: native → document → native → document.
        const std::string again = read_file(out);
        Doc doc2 = decode_native(reg.get(), nullptr, again, out.c_str());
        char where[256] = {0};
        const bool equal = milo_doc_equal(doc.get(), doc2.get(), where, sizeof where);
        INFO(where);
        CHECK(equal);
    }
    SECTION("milo_doc_open reads a native file through the transporter that recognises it") {
        const fs::path in = dir.path() / "model.scorer";
        write_file(in, "weights=7,8\n");
        milo_doc* raw = nullptr;
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_doc_open(reg.get(), in.c_str(), nullptr, &raw, &error);
        INFO(milo_status_name(st) << ": " << error.message);
        REQUIRE(st == MILO_OK);
        Doc doc(raw);
        check_scorer_doc(doc.get(), {7.0, 8.0});
    }
    SECTION("a document without a transporter header goes by its root type") {
        Doc doc = make_scorer_doc(MILO_DTYPE_FLOAT64, {1.5, 2.5});
        const fs::path out = dir.path() / "typed.scorer";
        milo_error error = MILO_ERROR_INIT;
        const milo_status st =
            milo_registry_encode_native(reg.get(), nullptr, doc.get(), out.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        REQUIRE(st == MILO_OK);
        CHECK(read_file(out) == "weights=1.5,2.5");
    }
    SECTION("encode_native replaces an existing file, and a failed encode leaves it intact") {
        const fs::path out = dir.path() / "model.scorer";
        write_file(out, "old contents");
        Doc good = make_scorer_doc(MILO_DTYPE_FLOAT64, {3.0});
        milo_error error = MILO_ERROR_INIT;
        REQUIRE(milo_registry_encode_native(reg.get(), "test.scorer", good.get(), out.c_str(),
                                            &error) == MILO_OK);
        CHECK(read_file(out) == "weights=3");

        // The transporter writes "weights=" and then fails on the int64 tensor.
        Doc bad = make_scorer_doc(MILO_DTYPE_INT64, {1.0, 2.0});
        error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_encode_native(reg.get(), "test.scorer", bad.get(),
                                                           out.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_TYPE);
        CHECK_THAT(std::string(error.message), Contains("float64"));
        CHECK(read_file(out) == "weights=3");
        CHECK(list_dir(dir.path()) == std::set<std::string>{"model.scorer"});
    }
    SECTION("encode_native_to streams the same bytes, and reports a failing writer or sink") {
        Doc doc = make_scorer_doc(MILO_DTYPE_FLOAT64, {0.1, -2.5});
        std::string bytes_out;
        auto append = [](void* ctx, const void* p, size_t n, milo_error*) -> milo_status {
            static_cast<std::string*>(ctx)->append(static_cast<const char*>(p), n);
            return MILO_OK;
        };
        milo_error error = MILO_ERROR_INIT;
        REQUIRE(milo_registry_encode_native_to(reg.get(), nullptr, doc.get(), +append,
                                               &bytes_out, &error) == MILO_OK);
        CHECK(bytes_out == "weights=0.1,-2.5");

        // The transporter's own failure (it writes "weights=" first, then refuses int64).
        Doc bad = make_scorer_doc(MILO_DTYPE_INT64, {1.0});
        bytes_out.clear();
        error = MILO_ERROR_INIT;
        CHECK(milo_registry_encode_native_to(reg.get(), "test.scorer", bad.get(), +append,
                                             &bytes_out, &error) == MILO_ERR_TYPE);
        CHECK_THAT(std::string(error.message), Contains("float64"));

        // A sink that fails: its status and message come back.
        auto refuse = [](void*, const void*, size_t, milo_error* e) -> milo_status {
            return milo_error_set(e, MILO_ERR_IO, "disk full");
        };
        error = MILO_ERROR_INIT;
        CHECK(milo_registry_encode_native_to(reg.get(), "test.scorer", doc.get(), +refuse,
                                             nullptr, &error) == MILO_ERR_IO);
        CHECK_THAT(std::string(error.message), Contains("disk full"));

        error = MILO_ERROR_INIT;
        CHECK(milo_registry_encode_native_to(reg.get(), "no.such.transporter", doc.get(),
                                             +append, &bytes_out, &error) == MILO_ERR_NOT_FOUND);
        CHECK(milo_registry_encode_native_to(reg.get(), nullptr, doc.get(), nullptr, nullptr,
                                             &error) == MILO_ERR_INVALID_ARGUMENT);
    }
    SECTION("bad native input, unknown transporters") {
        const std::string corrupt = "weights=1,,2";
        milo_doc* out = kUntouched;
        milo_error error = MILO_ERROR_INIT;
        milo_status st = milo_registry_decode_native(reg.get(), "test.scorer", bytes(corrupt),
                                                     corrupt.size(), "bad.scorer", &out, &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_CORRUPT);
        CHECK_THAT(std::string(error.message), Contains("bad.scorer"));
        CHECK(out == kUntouched);

        error = MILO_ERROR_INIT;
        st = milo_registry_decode_native(reg.get(), "no.such.transporter", bytes(corrupt),
                                         corrupt.size(), nullptr, &out, &error);
        CHECK(st == MILO_ERR_NOT_FOUND);
        CHECK_THAT(std::string(error.message), Contains("no.such.transporter"));
        CHECK(out == kUntouched);

        const std::string unknown = "nobody recognises this";
        error = MILO_ERROR_INIT;
        st = milo_registry_decode_native(reg.get(), nullptr, bytes(unknown), unknown.size(),
                                         nullptr, &out, &error);
        CHECK(st != MILO_OK);
        CHECK(out == kUntouched);

        Doc doc = make_scorer_doc(MILO_DTYPE_FLOAT64, {1.0});
        const fs::path path = dir.path() / "x.scorer";
        error = MILO_ERROR_INIT;
        CHECK(milo_registry_encode_native(reg.get(), "no.such.transporter", doc.get(),
                                          path.c_str(), &error) == MILO_ERR_NOT_FOUND);
        CHECK_FALSE(fs::exists(path));
    }
}

TEST_CASE("the good plugin's format saves and loads documents", "[registry][format]") {
    Registry reg = make_registry();
    load_ok(reg.get(), plugin_path("milo_test_good"));
    TempDir dir;
    const std::string text = "hello\nworld \xc3\xa9";
    Doc doc = make_string_doc(text);

    // Chosen by extension, whatever its case.
    const fs::path path = dir.path() / "doc.TESTFMT";
    milo_error error = MILO_ERROR_INIT;
    milo_status st = milo_doc_save(reg.get(), doc.get(), path.c_str(), nullptr, &error);
    INFO(milo_status_name(st) << ": " << error.message);
    REQUIRE(st == MILO_OK);
    const std::string written = read_file(path);
    CHECK(written.rfind("MILOTEST\nformat_version=" + std::to_string(MILO_FORMAT_VERSION) + "\n",
                        0) == 0);
    CHECK(written.size() >= text.size() + 5);
    CHECK(written.substr(written.size() - text.size() - 5) == "root=" + text);
    CHECK(list_dir(dir.path()) == std::set<std::string>{"doc.TESTFMT"});

    // Detected by content.
    milo_doc* raw = nullptr;
    st = milo_doc_load(reg.get(), path.c_str(), nullptr, &raw, &error);
    INFO(milo_status_name(st) << ": " << error.message);
    REQUIRE(st == MILO_OK);
    Doc loaded(raw);
    CHECK(root_string(loaded.get()) == text);
    char where[256] = {0};
    const bool equal = milo_doc_equal(doc.get(), loaded.get(), where, sizeof where);
    INFO(where);
    CHECK(equal);

    // Named explicitly, to and from memory.
    std::string encoded;
    milo_save_options save = MILO_SAVE_OPTIONS_INIT;
    save.format = "testfmt";
    st = milo_doc_encode(
        reg.get(), doc.get(), &save,
        [](void* context, const void* data, size_t size, milo_error*) -> milo_status {
            static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
            return MILO_OK;
        },
        &encoded, &error);
    REQUIRE(st == MILO_OK);
    CHECK(encoded == written);
    milo_load_options load = MILO_LOAD_OPTIONS_INIT;
    load.format = "testfmt";
    raw = nullptr;
    REQUIRE(milo_doc_decode(reg.get(), bytes(encoded), encoded.size(), nullptr, &load, &raw,
                            &error) == MILO_OK);
    Doc decoded(raw);
    CHECK(root_string(decoded.get()) == text);

    // Strict: a broken header line is an error, not "best effort".
    const std::string broken = "MILOTEST\nformat_version\nroot=x";
    raw = kUntouched;
    error = MILO_ERROR_INIT;
    st = milo_doc_decode(reg.get(), bytes(broken), broken.size(), "broken", &load, &raw, &error);
    CHECK(st == MILO_ERR_CORRUPT);
    CHECK(raw == kUntouched);
}

// ---------------------------------------------------------------------------------------------
// Folders: an explicit list and MILO_PLUGIN_PATH

TEST_CASE("plugin folders load every milo_*.so in name order", "[registry][plugin][dirs]") {
    TempDir a, b, c;
    fs::copy_file(plugin_path("milo_test_good"), a.path() / "milo_test_good.so");
    fs::copy_file(plugin_path("milo_test_throwing"), b.path() / "milo_test_throwing.so");
    // Not plugins by name: never opened (they would fail if they were).
    write_file(a.path() / "libmilo_other.so", "not a library");
    write_file(a.path() / "milo_notes.txt", "not a library");
    write_file(b.path() / "other.so", "not a library");
    const std::string dirs = a.str() + ":" + b.str();

    SECTION("explicit folder list") {
        Registry reg = make_registry();
        const size_t base = milo_registry_plugin_count(reg.get());
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_load_plugins(reg.get(), dirs.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        REQUIRE(st == MILO_OK);
        CHECK(milo_registry_plugin_count(reg.get()) == base + 2);
        // In name order: milo_test_good (first folder) before milo_test_throwing.
        const char* name = nullptr;
        REQUIRE(milo_registry_plugin_at(reg.get(), base, nullptr, &name, nullptr, nullptr) ==
                MILO_OK);
        CHECK(std::string(name) == "milo_test_good");
        REQUIRE(milo_registry_plugin_at(reg.get(), base + 1, nullptr, &name, nullptr,
                                        nullptr) == MILO_OK);
        CHECK(std::string(name) == "milo_test_throwing");
        CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") != nullptr);
        CHECK(milo_registry_find_transporter(reg.get(), "test.thrower") != nullptr);
        CHECK(milo_registry_find_format(reg.get(), "testfmt") != nullptr);

        // Loading the same folders again changes nothing.
        const Counts loaded = counts(reg.get());
        REQUIRE(milo_registry_load_plugins(reg.get(), dirs.c_str(), &error) == MILO_OK);
        CHECK(counts(reg.get()) == loaded);
    }
    SECTION("MILO_PLUGIN_PATH when dirs is NULL") {
        const char* saved = getenv("MILO_PLUGIN_PATH");
        const std::string saved_value = saved ? saved : "";
        REQUIRE(setenv("MILO_PLUGIN_PATH", dirs.c_str(), 1) == 0);
        Registry reg = make_registry();
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_load_plugins(reg.get(), nullptr, &error);
        if (saved) {
            setenv("MILO_PLUGIN_PATH", saved_value.c_str(), 1);
        } else {
            unsetenv("MILO_PLUGIN_PATH");
        }
        INFO(milo_status_name(st) << ": " << error.message);
        REQUIRE(st == MILO_OK);
        // The default plugin folder may add real plugins; ours must be there.
        const std::set<std::string> names = plugin_names(reg.get());
        CHECK(names.count("milo_test_good") == 1);
        CHECK(names.count("milo_test_throwing") == 1);
        CHECK(milo_registry_find_transporter(reg.get(), "test.scorer") != nullptr);
        CHECK(milo_registry_find_transporter(reg.get(), "test.thrower") != nullptr);
    }
    SECTION("a plugin in an earlier folder shadows the same plugin in a later one") {
        fs::copy_file(plugin_path("milo_test_good"), c.path() / "milo_test_good.so");
        Registry reg = make_registry();
        const size_t base = milo_registry_plugin_count(reg.get());
        const std::string shadowed = a.str() + ":" + c.str();
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_load_plugins(reg.get(), shadowed.c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        REQUIRE(st == MILO_OK);
        CHECK(milo_registry_plugin_count(reg.get()) == base + 1);
        std::string path;
        REQUIRE(find_plugin(reg.get(), "milo_test_good", &path, nullptr));
        CHECK_THAT(path, Contains(a.str() + "/"));
        CHECK_FALSE(library_is_loaded((c.path() / "milo_test_good.so").string()));
    }
    SECTION("a broken plugin in a folder fails the call and names the file") {
        fs::copy_file(plugin_path("milo_test_no_declare"), c.path() / "milo_test_no_declare.so");
        Registry reg = make_registry();
        const Counts before = counts(reg.get());
        milo_error error = MILO_ERROR_INIT;
        const milo_status st = milo_registry_load_plugins(reg.get(), c.str().c_str(), &error);
        INFO(milo_status_name(st) << ": " << error.message);
        CHECK(st == MILO_ERR_PLUGIN);
        CHECK_THAT(std::string(error.message), Contains("milo_test_no_declare.so"));
        CHECK(counts(reg.get()) == before);
    }
}

// ---------------------------------------------------------------------------------------------
// Unloading

TEST_CASE("destroying a registry unloads its plugins", "[registry][plugin]") {
    const std::string path = plugin_path("milo_test_good");
    REQUIRE_FALSE(library_is_loaded(path));
    {
        Registry one = make_registry();
        Registry two = make_registry();
        load_ok(one.get(), path);
        load_ok(two.get(), path);
        CHECK(library_is_loaded(path));
        one.reset();
        // Still used by the second registry.
        CHECK(library_is_loaded(path));
        Doc doc = decode_native(two.get(), "test.scorer", "weights=1", nullptr);
        check_scorer_doc(doc.get(), {1.0});
    }
    CHECK_FALSE(library_is_loaded(path));
}

TEST_CASE("1000 registries load and unload every good test plugin", "[registry][plugin][soak]") {
    const std::vector<std::string> good = {plugin_path("milo_test_good"),
                                           plugin_path("milo_test_throwing")};
    const std::string input = "weights=1,2,3";
    for (int i = 0; i < 1000; ++i) {
        milo_registry* reg = nullptr;
        REQUIRE(milo_registry_create(&reg, nullptr) == MILO_OK);
        for (const std::string& path : good) {
            milo_error error = MILO_ERROR_INIT;
            const milo_status st = milo_registry_load_plugin(reg, path.c_str(), &error);
            if (st != MILO_OK) {
                FAIL("iteration " << i << ": " << path << ": " << error.message);
            }
        }
        if (milo_registry_find_transporter(reg, "test.thrower") == nullptr ||
            milo_registry_find_format(reg, "testfmt") == nullptr) {
            FAIL("iteration " << i << ": registrations missing");
        }
        milo_doc* doc = nullptr;
        if (milo_registry_decode_native(reg, nullptr, bytes(input), input.size(), nullptr, &doc,
                                        nullptr) != MILO_OK) {
            FAIL("iteration " << i << ": decode failed");
        }
        milo_doc_destroy(doc);
        milo_registry_destroy(reg);
    }
    CHECK_FALSE(library_is_loaded(good[0]));
}
