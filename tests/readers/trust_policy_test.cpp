// Trust policy: dangerous names of every family (aliases and attribute walks included) are
// dangerous, look-alikes of trusted names are not trusted, the allowlist admits exactly its
// usages, and every global that real pickles of fitted estimators use (written by the
// generator's --check run under each Python stack, see trust_policy.cmake) is trusted.
#include "milo/readers/trust_policy.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "milo/readers/pickle_vm.hpp"
#include "milo/value.h"

using milo::readers::allowlist_at;
using milo::readers::allowlist_size;
using milo::readers::classify;
using milo::readers::TrustLevel;
using milo::readers::TrustVerdict;
using milo::readers::Usage;
using milo::readers::usage_name;

namespace {

constexpr Usage kCall = Usage::Call;
constexpr Usage kInst = Usage::Instantiate;
constexpr Usage kRef = Usage::Reference;
constexpr Usage kUsages[] = {kCall, kInst, kRef};

const char* level_name(TrustLevel level) {
    switch (level) {
        case TrustLevel::Trusted:
            return "trusted";
        case TrustLevel::Untrusted:
            return "untrusted";
        case TrustLevel::Dangerous:
            return "dangerous";
    }
    return "?";
}

struct Case {
    const char* module;
    const char* name;
    Usage usage;
    const char* reason;  ///< a substring the verdict's reason must contain
};

void check_all(const std::vector<Case>& cases, TrustLevel expected) {
    for (const Case& c : cases) {
        const TrustVerdict v = classify(c.module, c.name, c.usage);
        INFO(c.module << " | " << c.name << " as " << usage_name(c.usage) << " -> "
                      << level_name(v.level) << " (" << v.reason << ")");
        CHECK(v.level == expected);
        CHECK(std::string(v.reason).find(c.reason) != std::string::npos);
    }
}

}  // namespace

TEST_CASE("trust levels and usage names are the C ABI's", "[trust]") {
    STATIC_REQUIRE(static_cast<int>(TrustLevel::Trusted) == MILO_TRUST_TRUSTED);
    STATIC_REQUIRE(static_cast<int>(TrustLevel::Untrusted) == MILO_TRUST_UNTRUSTED);
    STATIC_REQUIRE(static_cast<int>(TrustLevel::Dangerous) == MILO_TRUST_DANGEROUS);
    CHECK(std::string(usage_name(kCall)) == "call");
    CHECK(std::string(usage_name(kInst)) == "instantiate");
    CHECK(std::string(usage_name(kRef)) == "reference");
    CHECK(std::string(usage_name(static_cast<Usage>(3))) == "invalid");
    CHECK(std::string(usage_name(static_cast<Usage>(0))) == "invalid");
}

TEST_CASE("dangerous: every family, any usage", "[trust]") {
    const char* shell = "shell";
    const char* exec = "executes";
    const char* files = "files";
    const char* pickle = "another pickle";
    const char* import = "imports";
    const char* attrs = "attributes";
    std::vector<Case> cases = {
        // os and its aliases: os.system pickles as posix.system (nt.system on Windows).
        {"os", "system", kCall, shell}, {"posix", "system", kCall, shell},
        {"OS", "system", kCall, shell}, {"Subprocess", "Popen", kCall, shell},
        {"NumPy.Testing", "runstring", kCall, exec}, {"BUILTINS", "eval", kCall, exec},
        {"nt", "system", kCall, shell}, {"os", "popen", kRef, shell},
        {"os.path", "join", kCall, shell}, {"posixpath", "exists", kCall, files},
        {"ntpath", "join", kRef, files}, {"subprocess", "Popen", kInst, shell},
        {"subprocess", "Popen", kCall, shell}, {"subprocess", "check_output", kCall, shell},
        {"_posixsubprocess", "fork_exec", kCall, shell}, {"pty", "spawn", kCall, shell},
        {"commands", "getoutput", kCall, shell}, {"platform", "popen", kCall, shell},
        {"webbrowser", "open", kCall, shell},
        {"sys", "modules", kRef, "interpreter-wide"}, {"shutil", "rmtree", kCall, files},
        {"socket", "create_connection", kCall, "network"},
        {"importlib", "import_module", kCall, import},
        {"importlib._bootstrap", "_gcd_import", kCall, import},
        {"importlib.util", "spec_from_file_location", kCall, import},
        {"pkgutil", "resolve_name", kCall, import}, {"pydoc", "locate", kCall, import},
        {"runpy", "run_path", kCall, exec}, {"code", "InteractiveInterpreter", kInst, exec},
        {"codeop", "compile_command", kCall, exec}, {"timeit", "timeit", kCall, exec},
        {"marshal", "loads", kCall, exec}, {"types", "FunctionType", kCall, exec},
        {"types", "CodeType", kCall, exec}, {"types", "MethodType", kRef, exec},
        {"pickle", "loads", kCall, pickle}, {"_pickle", "loads", kCall, pickle},
        {"cPickle", "loads", kCall, pickle}, {"pickle", "Unpickler", kInst, pickle},
        {"pickletools", "dis", kCall, pickle}, {"ctypes", "CDLL", kCall, "native"},
        {"multiprocessing", "Process", kInst, "processes"},
        {"asyncio", "create_subprocess_shell", kCall, "processes"},
        {"signal", "raise_signal", kCall, "interpreter-wide"},
        // builtins, and the Python 2 spelling that protocol 0-2 streams carry.
        {"builtins", "eval", kCall, exec}, {"builtins", "exec", kCall, exec},
        {"builtins", "compile", kCall, exec}, {"builtins", "__import__", kCall, import},
        {"builtins", "open", kCall, files}, {"builtins", "getattr", kCall, attrs},
        {"builtins", "setattr", kCall, attrs}, {"builtins", "delattr", kCall, attrs},
        {"builtins", "globals", kCall, attrs}, {"builtins", "locals", kCall, attrs},
        {"builtins", "vars", kCall, attrs}, {"builtins", "input", kCall, "terminal"},
        {"builtins", "breakpoint", kCall, exec}, {"builtins", "exit", kCall, "exits"},
        {"builtins", "quit", kRef, "exits"}, {"builtins", "help", kCall, "terminal"},
        {"builtins", "type", kCall, "classes"}, {"builtins", "super", kCall, "classes"},
        {"builtins", "classmethod", kCall, "descriptors"},
        {"builtins", "staticmethod", kCall, "descriptors"},
        {"builtins", "property", kCall, "descriptors"},
        {"builtins", "memoryview", kCall, "raw views"},
        {"__builtin__", "eval", kCall, exec}, {"__builtin__", "getattr", kCall, attrs},
        {"__builtin__", "execfile", kCall, exec},
        // Attribute walks: a dunder after the first segment, a dangerous module reached through
        // an import of a harmless one, and dotted names judged as the module path they walk.
        {"builtins", "object.__subclasses__", kCall, "dunder"},
        {"builtins", "str.__class__.__base__", kRef, "dunder"},
        {"sklearn.linear_model._base", "LinearRegression.__init__", kCall, "dunder"},
        {"sklearn.base", "os.system", kCall, "attribute walking"},
        {"collections", "sys.modules", kRef, "attribute walking"},
        {"acme.models", "eval", kCall, "attribute walking"},
        {"numpy", "lib.npyio.load", kCall, files},
        {"numpy", "testing.runstring", kCall, exec},
        {"numpy", "ma.load", kCall, pickle}, {"os", "path.join", kCall, shell},
        // operator, io, codecs, copyreg's registries.
        {"operator", "attrgetter", kCall, attrs}, {"_operator", "attrgetter", kCall, attrs},
        {"operator", "methodcaller", kCall, attrs}, {"io", "open", kCall, files},
        {"_io", "FileIO", kInst, files}, {"_io", "open", kRef, files},
        {"codecs", "open", kCall, files}, {"gzip", "GzipFile", kCall, files},
        {"copyreg", "add_extension", kCall, "interpreter-wide"},
        {"copyreg", "dispatch_table", kRef, "interpreter-wide"},
        // numpy: loaders anywhere in the package, test runners, compilers, ctypes.
        {"numpy", "load", kCall, pickle}, {"numpy", "load", kRef, pickle},
        {"numpy", "loadtxt", kCall, files}, {"numpy", "fromfile", kCall, files},
        {"numpy", "genfromtxt", kCall, files}, {"numpy", "save", kCall, files},
        {"numpy", "savez_compressed", kCall, files},
        {"numpy.core.multiarray", "fromfile", kCall, files},
        {"numpy._core.multiarray", "fromfile", kCall, files},
        {"numpy.lib.npyio", "load", kCall, files}, {"numpy.ma.core", "load", kCall, pickle},
        {"numpy.testing._private.utils", "runstring", kCall, exec},
        {"numpy.f2py", "compile", kCall, shell},
        {"numpy.distutils.exec_command", "exec_command", kCall, shell},
        {"numpy.ctypeslib", "load_library", kCall, "native"},
        {"numpy", "seterrcall", kCall, "interpreter-wide"},
        {"numpy", "memmap", kCall, files}, {"numpy", "memmap", kInst, files},
        // scipy, joblib, scikit-learn, pandas, torch, dill, cloudpickle.
        {"scipy.io", "loadmat", kCall, files}, {"scipy.io.matlab._mio", "loadmat", kCall, files},
        {"scipy", "LowLevelCallable", kCall, "native"}, {"joblib", "load", kCall, pickle},
        {"scipy.stats._continuous_distns", "norm_gen", kInst, "pickled state"},
        {"scipy.stats._distn_infrastructure", "rv_continuous_frozen", kInst, "pickled state"},
        {"joblib.numpy_pickle", "load", kCall, pickle},
        {"joblib.numpy_pickle", "NumpyUnpickler", kInst, pickle},
        {"joblib", "Parallel", kCall, "processes"},
        {"joblib._memmapping_reducer", "_strided_from_memmap", kCall, files},
        {"sklearn.utils._joblib", "load", kCall, pickle},
        {"sklearn.datasets", "fetch_openml", kCall, "network"},
        {"sklearn.datasets._svmlight_format_io", "load_svmlight_file", kCall, "network"},
        {"pandas", "read_pickle", kCall, pickle}, {"pandas.io.pickle", "read_pickle", kCall, files},
        {"torch", "load", kCall, pickle}, {"torch.serialization", "load", kCall, pickle},
        {"torch.jit", "load", kCall, exec}, {"torch.hub", "load", kCall, "network"},
        {"torch.ops", "aten", kRef, "native"}, {"torch._C", "_jit_script_compile", kCall, "native"},
        {"torch", "UntypedStorage.from_file", kCall, files},
        {"dill", "loads", kCall, pickle}, {"dill._dill", "_create_code", kCall, pickle},
        {"cloudpickle", "loads", kCall, pickle},
        {"cloudpickle.cloudpickle", "_make_function", kCall, pickle},
    };
    check_all(cases, TrustLevel::Dangerous);
    // Danger does not depend on the usage.
    for (Usage u : kUsages) {
        CHECK(classify("os", "system", u).level == TrustLevel::Dangerous);
        CHECK(classify("builtins", "getattr", u).level == TrustLevel::Dangerous);
        CHECK(classify("numpy", "load", u).level == TrustLevel::Dangerous);
    }
    // Even with a usage that is not one.
    CHECK(classify("os", "system", static_cast<Usage>(0)).level == TrustLevel::Dangerous);
}

TEST_CASE("untrusted: unknown, look-alike, walked, or used the wrong way", "[trust]") {
    const char* absent = "not in the allowlist";
    const char* usage = "not for this usage";
    std::vector<Case> cases = {
        {"acme.models", "FraudScorer", kInst, absent},
        {"acme.models", "FraudScorer", kCall, absent},
        {"acme.models", "FraudScorer", kRef, absent},
        {"__main__", "Model", kInst, absent},
        // Calls another callable later: the report names that callable on its own.
        {"functools", "partial", kCall, absent}, {"functools", "partial", kInst, absent},
        {"functools", "reduce", kCall, absent}, {"operator", "itemgetter", kCall, absent},
        {"io", "BytesIO", kCall, absent}, {"builtins", "print", kCall, absent},
        // Danger matches whole module names: these only share a prefix with dangerous ones.
        {"osmnx", "graph", kRef, absent}, {"sysconfig", "get_paths", kCall, absent},
        {"numpy.testingx", "f", kCall, absent}, {"scipy.iox", "f", kCall, absent},
        {"acme", "loader", kCall, absent}, {"acme", "Eval", kCall, absent},
        // Look-alikes of trusted names: never a prefix, never a re-export, never a walk.
        {"sklearn.linear_model", "NOPE", kInst, absent},
        {"sklearn.linear_model._base", "LinearRegressionX", kInst, absent},
        {"sklearn.linear_model._base", "LinearRegressio", kInst, absent},
        {"sklearn.linear_model._base", "LinearRegression.fit", kRef, absent},
        {"sklearn.linear_model._base.LinearRegression", "__init__", kCall, absent},
        {"sklearn.linear_model", "LinearRegression", kInst, absent},
        {"sklearn.linear_model", "_base.LinearRegression", kInst, absent},
        {"sklearn", "linear_model._base.LinearRegression", kInst, absent},
        {"sklearnx", "foo", kCall, absent},
        {"sklearnx.linear_model._base", "LinearRegression", kInst, absent},
        {"sklearn.linear_model._basex", "LinearRegression", kInst, absent},
        {"numpy2", "dtype", kCall, absent}, {"numpy", "dtypes", kCall, absent},
        {"numpy", "dtyp", kCall, absent}, {"Numpy", "dtype", kCall, absent},
        {" numpy", "dtype", kCall, absent}, {"numpy", "dtype ", kCall, absent},
        {"numpy.core.multiarray", "_reconstruct.x", kCall, absent},
        {"numpy.core", "multiarray._reconstruct", kCall, absent},
        {"sklearn.tree._tree", "Tree.x", kRef, absent},
        {"", "dtype", kCall, absent}, {"numpy", "", kCall, absent}, {"", "", kRef, absent},
        {"sklearn.linear_model._base", "", kInst, absent},
        // Trusted names used in a way their entry does not admit.
        {"numpy", "ndarray", kCall, usage}, {"numpy", "ndarray", kInst, usage},
        {"numpy", "dtype", kInst, usage}, {"builtins", "int", kCall, usage},
        {"builtins", "object", kCall, usage}, {"builtins", "object", kInst, usage},
        {"copyreg", "_reconstructor", kRef, usage},
        {"sklearn.feature_selection._univariate_selection", "f_classif", kCall, usage},
        {"sklearn.tree._tree", "__pyx_unpickle_TreeBuilder", kRef, usage},
        {"joblib.numpy_pickle", "NumpyArrayWrapper", kCall, usage},
        {"numpy", "ndarray", static_cast<Usage>(5), usage},
        {"sklearn.linear_model._base", "LinearRegression", static_cast<Usage>(0), "invalid"},
        {"sklearn.linear_model._base", "LinearRegression", static_cast<Usage>(8), "invalid"},
        {"sklearn.linear_model._base", "LinearRegression", static_cast<Usage>(15), "invalid"},
    };
    check_all(cases, TrustLevel::Untrusted);
}

TEST_CASE("trusted: exact names with their usages", "[trust]") {
    std::vector<Case> cases = {
        {"sklearn.linear_model._base", "LinearRegression", kInst, "scikit-learn"},
        {"sklearn.linear_model._base", "LinearRegression", kCall, "scikit-learn"},
        {"sklearn.linear_model._base", "LinearRegression", kRef, "scikit-learn"},
        {"sklearn.linear_model._base", "LinearRegression", static_cast<Usage>(7),
         "scikit-learn"},
        {"sklearn.tree._tree", "Tree", kCall, "scikit-learn"},
        {"sklearn._loss._loss", "CyHalfBinomialLoss", kCall, "scikit-learn"},
        {"sklearn._loss._loss", "__pyx_unpickle_CyHalfBinomialLoss", kCall, "scikit-learn"},
        {"sklearn.linear_model._sgd_fast", "Hinge", kCall, "scikit-learn"},
        {"sklearn.neighbors._kd_tree", "KDTree", kRef, "scikit-learn"},
        {"sklearn.neighbors._kd_tree", "newObj", kCall, "scikit-learn"},
        {"sklearn.neighbors._ball_tree", "BallTree", kCall, "scikit-learn"},
        {"sklearn.metrics._dist_metrics", "EuclideanDistance64", kCall, "scikit-learn"},
        {"sklearn.utils._bunch", "Bunch", kInst, "scikit-learn"},
        {"sklearn.feature_selection._univariate_selection", "f_classif", kRef, "scikit-learn"},
        {"sklearn.metrics.pairwise", "rbf_kernel", kRef, "scikit-learn"},
        {"numpy", "dtype", kCall, "numpy"},
        {"numpy", "ndarray", kRef, "numpy"},
        {"numpy", "memmap", kRef, "numpy"},
        {"numpy", "float64", kRef, "numpy"},
        {"numpy", "bool_", kRef, "numpy"}, {"numpy", "bool", kRef, "numpy"},
        {"numpy.dtypes", "Float64DType", kRef, "numpy"},
        {"numpy.core", "_DType_reconstruct", kCall, "numpy"},
        {"numpy", "log1p", kRef, "numpy"},
        {"numpy.core._multiarray_umath", "log1p", kRef, "numpy"},
        {"numpy._core._multiarray_umath", "exp", kRef, "numpy"},
        {"numpy.core.multiarray", "_reconstruct", kCall, "numpy"},
        {"numpy._core.multiarray", "_reconstruct", kCall, "numpy"},
        {"numpy.core.multiarray", "scalar", kCall, "numpy"},
        {"numpy._core.multiarray", "scalar", kCall, "numpy"},
        {"numpy.core.numeric", "_frombuffer", kCall, "numpy"},
        {"numpy._core.numeric", "_frombuffer", kCall, "numpy"},
        {"numpy.ma.core", "_mareconstruct", kCall, "numpy"},
        {"numpy.random._pickle", "__randomstate_ctor", kCall, "numpy"},
        {"numpy.random._pickle", "__generator_ctor", kCall, "numpy"},
        {"numpy.random._pickle", "__bit_generator_ctor", kCall, "numpy"},
        {"numpy.random._pickle", "__bit_generator_ctor", kRef, "numpy"},
        {"numpy.random._mt19937", "MT19937", kRef, "numpy"},
        {"numpy.random._pcg64", "PCG64", kRef, "numpy"},
        {"numpy.random._pcg64", "PCG64DXSM", kRef, "numpy"},
        {"numpy.random._philox", "Philox", kRef, "numpy"},
        {"numpy.random._sfc64", "SFC64", kRef, "numpy"},
        {"numpy.random.bit_generator", "__pyx_unpickle_SeedSequence", kCall, "numpy"},
        {"scipy.sparse._csr", "csr_matrix", kInst, "scipy"},
        {"scipy.sparse._csr", "csr_array", kInst, "scipy"},
        {"scipy.sparse._arrays", "csr_array", kInst, "scipy"},
        {"builtins", "set", kCall, "standard library"},
        {"builtins", "object", kRef, "standard library"},
        {"copyreg", "_reconstructor", kCall, "standard library"},
        {"copyreg", "__newobj__", kCall, "standard library"},
        {"_codecs", "encode", kCall, "standard library"},
        {"collections", "OrderedDict", kCall, "standard library"},
        {"joblib.numpy_pickle", "NumpyArrayWrapper", kInst, "joblib"},
    };
    check_all(cases, TrustLevel::Trusted);
}

TEST_CASE("allowlist: sorted, unique, and exactly its usages", "[trust]") {
    const size_t n = allowlist_size();
    REQUIRE(n > 1000);
    std::set<std::pair<std::string, std::string>> pairs;
    std::pair<std::string, std::string> previous;
    size_t conflicts = 0;
    for (size_t i = 0; i < n; ++i) {
        std::string_view module, qualname, joined;
        unsigned usages = 0, usages2 = 0;
        allowlist_at(i, module, qualname, usages);
        allowlist_at(i, joined, usages2);
        INFO(module << " | " << qualname);
        REQUIRE(!module.empty());
        REQUIRE(!qualname.empty());
        CHECK(usages == usages2);
        CHECK(joined == std::string(module) + "." + std::string(qualname));
        CHECK(usages >= 1);
        CHECK(usages <= 7);
        std::pair<std::string, std::string> key{module, qualname};
        if (i > 0) CHECK(previous < key);  // strictly increasing: sorted, no duplicates
        previous = key;
        pairs.insert(key);
        for (Usage u : kUsages) {
            const TrustVerdict v = classify(module, qualname, u);
            const bool admitted = (usages & static_cast<unsigned>(u)) != 0;
            INFO(usage_name(u) << " -> " << level_name(v.level) << " (" << v.reason << ")");
            // A danger rule that hit an allowlisted name would show up here. A usage the entry
            // does not admit is untrusted, or dangerous (numpy.memmap called creates files).
            if (admitted) {
                if (v.level != TrustLevel::Trusted) ++conflicts;
                CHECK(v.level == TrustLevel::Trusted);
            } else {
                CHECK(v.level != TrustLevel::Trusted);
            }
        }
        CHECK(classify(module, qualname, static_cast<Usage>(usages)).level ==
              TrustLevel::Trusted);
        // Derived look-alikes are never trusted (unless they happen to be entries themselves).
        const std::string m(module), q(qualname);
        const std::vector<std::pair<std::string, std::string>> fakes = {
            {m + "x", q}, {m, q + "x"}, {m, q.substr(0, q.size() - 1)}, {m, q + ".x"},
            {m.substr(0, m.rfind('.') == std::string::npos ? 0 : m.rfind('.')),
             m.substr(m.rfind('.') + 1) + "." + q}};
        for (const auto& fake : fakes) {
            if (pairs.count(fake) != 0) continue;
            INFO("look-alike " << fake.first << " | " << fake.second);
            CHECK(classify(fake.first, fake.second, kRef).level != TrustLevel::Trusted);
        }
    }
    CHECK(conflicts == 0);
    std::string_view name = "x";
    unsigned usages = 9;
    allowlist_at(n, name, usages);
    CHECK(name.empty());
    CHECK(usages == 0);
}

using GlobalMasks = std::map<std::pair<std::string, std::string>, unsigned>;

std::vector<std::string> python_stacks() {
    std::vector<std::string> stacks;
    std::stringstream list(MILO_TRUST_STACKS);
    for (std::string stack; std::getline(list, stack, ',');) stacks.push_back(stack);
    return stacks;
}

// The globals the generator's --check run found (Python side: pickletools + stack simulation).
GlobalMasks read_globals(const std::string& stack) {
    const std::string path = std::string(MILO_TRUST_GLOBALS_DIR) + "/" + stack + ".tsv";
    std::ifstream in(path);
    INFO(path << " (run the test through ctest: trust_policy_check_" << stack << " writes it)");
    REQUIRE(in.good());
    GlobalMasks globals;
    for (std::string line; std::getline(in, line);) {
        std::stringstream fields(line);
        std::string module, name, mask_text;
        REQUIRE(std::getline(fields, module, '\t'));
        REQUIRE(std::getline(fields, name, '\t'));
        REQUIRE(std::getline(fields, mask_text, '\t'));
        const unsigned mask = static_cast<unsigned>(std::stoul(mask_text));
        REQUIRE(mask >= 1);
        REQUIRE(mask <= 7);
        globals[{module, name}] = mask;
    }
    return globals;
}

void check_trusted(const std::string& where, const std::string& module, const std::string& name,
                   unsigned mask) {
    for (Usage u : kUsages) {
        if ((mask & static_cast<unsigned>(u)) == 0) continue;
        const TrustVerdict v = classify(module, name, u);
        INFO(where << ": " << module << " | " << name << " as " << usage_name(u) << " -> "
                   << level_name(v.level) << " (" << v.reason << ")");
        CHECK(v.level == TrustLevel::Trusted);
    }
}

TEST_CASE("every global of real pickles of fitted estimators is trusted", "[trust][python]") {
    for (const std::string& stack : python_stacks()) {
        const GlobalMasks globals = read_globals(stack);
        std::set<std::string> roots;
        for (const auto& [key, mask] : globals) {
            check_trusted(stack, key.first, key.second, mask);
            roots.insert(key.first.substr(0, key.first.find('.')));
        }
        // The pickles reach all four parts of the allowlist.
        for (const char* root : {"sklearn", "numpy", "scipy", "builtins", "copyreg"}) {
            INFO(stack << ": no global from " << root);
            CHECK(roots.count(root) == 1);
        }
        CHECK(globals.size() >= 100);
    }
}

TEST_CASE("the pickle VM's globals of the same pickles are trusted, with the same usages",
          "[trust][python]") {
    for (const std::string& stack : python_stacks()) {
        const GlobalMasks expected = read_globals(stack);
        const std::filesystem::path dir = std::string(MILO_TRUST_GLOBALS_DIR) + "/" + stack;
        GlobalMasks found;
        size_t files = 0;
        for (const auto& file : std::filesystem::directory_iterator(dir)) {
            if (file.path().extension() != ".pkl") continue;
            std::ifstream in(file.path(), std::ios::binary);
            const std::string data((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
            milo::pickle::Graph graph;
            INFO(file.path().string());
            REQUIRE_NOTHROW(milo::pickle::run(graph, reinterpret_cast<const uint8_t*>(data.data()),
                                              data.size()));
            for (const milo::pickle::GlobalRef& g : graph.globals) {
                const unsigned mask = (g.called ? 1u : 0u) | (g.instantiated ? 2u : 0u) |
                                      (g.referenced ? 4u : 0u);
                check_trusted(file.path().filename().string(), g.module, g.name, mask);
                found[{g.module, g.name}] |= mask;
            }
            ++files;
        }
        CHECK(files >= 500);
        // Out-of-band buffers (not in these files) only add numpy's _frombuffer, which in-band
        // protocol-5 pickles use too; so both sides must agree exactly.
        CHECK(found == expected);
    }
}
