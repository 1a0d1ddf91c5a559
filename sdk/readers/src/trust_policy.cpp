// The trust policy: what a name in a pickle may do when Python loads it.
//
// How an attacker uses a name (what every rule below guards against):
//   REDUCE    calls it with arguments of their choice: f(*args).
//   NEWOBJ    cls.__new__(cls, *args) (OBJ/INST also call __init__).
//   BUILD     obj.__setstate__(state), or obj.__dict__.update / setattr for every key.
//   reference the object itself becomes a value: stored, passed to another call, or called
//             later by whoever uses the loaded object (a score function, a defaultdict factory).
//   dotted    with protocol >= 4, "a.b.c" walks attributes: getattr(getattr(module.a, "b"), "c"),
//   names     so a harmless module can lead to `os` it imported, or to `__class__`/`__globals__`.
// Hence: a name is dangerous when any usage of it runs code, imports, touches files, processes,
// the network or interpreter-wide state, or reaches such a thing by attribute walking. Danger
// matches modules (with their submodules) and names within a module or package: prefix
// matching is right for danger, since every submodule of `os` is as bad as `os`. Trust is the
// opposite: exact names with exact usages, from the trust_allowlist_*.inc files.
//
// Decisions worth knowing:
// * posixpath/ntpath/genericpath (what `os.path` pickles as) are dangerous as whole modules:
//   their functions only probe the file system, but they are never model data, and one rule per
//   module is easier to audit than a list of harmless path functions.
// * functools.partial and functools.reduce are untrusted, not dangerous: they call another
//   callable, which the report names (and judges) on its own. operator.itemgetter likewise
//   only reads items of values the pickle already holds; attrgetter/methodcaller are dangerous.
// * numpy.memmap is dangerous when called or instantiated (it creates and maps files) but is a
//   plain ndarray subclass as a reference, which is how memory-mapped arrays pickle.
// * the io modules are judged by name (open, FileIO, …), not as modules, so that harmless
//   BytesIO/StringIO values stay merely untrusted.
// * builtins classmethod/staticmethod/property/memoryview/type/super are dangerous: they only
//   matter for building classes or reaching raw memory, and never occur in data pickles.
// * scipy.stats distributions (rv_generic subclasses) are dangerous: rv_generic.__setstate__
//   exec()s `_parse_arg_template`, a string taken from the pickled state.
// * a reader must still refuse calling the result of a call, and BUILD on a class (that would
//   monkey-patch it): a verdict is about one name, not about the graph around it.
#include "milo/readers/trust_policy.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <string>

namespace milo {
namespace readers {
namespace {

// ---------------------------------------------------------------------------------------------
// Allowlist: generated (sklearn, numpy, scipy) and hand-written (python) parts, merged once.

struct AllowEntry {
    const char* module;
    const char* qualname;
    unsigned usages;
};

constexpr AllowEntry kPythonAllow[] = {
#include "trust_allowlist_python.inc"
};
constexpr AllowEntry kNumpyAllow[] = {
#include "trust_allowlist_numpy.inc"
};
constexpr AllowEntry kScipyAllow[] = {
#include "trust_allowlist_scipy.inc"
};
constexpr AllowEntry kSklearnAllow[] = {
#include "trust_allowlist_sklearn.inc"
};
constexpr AllowEntry kTorchAllow[] = {
#include "trust_allowlist_torch.inc"
};
// Another plugin's part (e.g. torch) joins by adding its .inc file here and to kParts.

struct Part {
    const AllowEntry* entries;
    size_t size;
    const char* reason;
};
constexpr Part kParts[] = {
    {kPythonAllow, std::size(kPythonAllow), "allowlisted (Python standard library, joblib)"},
    {kNumpyAllow, std::size(kNumpyAllow), "allowlisted (numpy)"},
    {kScipyAllow, std::size(kScipyAllow), "allowlisted (scipy)"},
    {kSklearnAllow, std::size(kSklearnAllow), "allowlisted (scikit-learn)"},
    {kTorchAllow, std::size(kTorchAllow), "allowlisted (torch.load weights_only)"},
};

constexpr size_t entry_count() {
    size_t n = 0;
    for (const Part& part : kParts) n += part.size;
    return n;
}

constexpr size_t joined_chars() {  // "module.qualname" of every entry, back to back
    size_t n = 0;
    for (const Part& part : kParts) {
        for (size_t i = 0; i < part.size; ++i) {
            n += std::char_traits<char>::length(part.entries[i].module) + 1 +
                 std::char_traits<char>::length(part.entries[i].qualname);
        }
    }
    return n;
}

struct Entry {
    std::string_view module;
    std::string_view qualname;
    std::string_view joined;  ///< "module.qualname", in Allowlist::chars
    unsigned usages = 0;
    const char* reason = nullptr;
};

struct Allowlist {
    std::array<Entry, entry_count()> entries;
    std::array<char, joined_chars()> chars;
    size_t size = 0;
};

bool pair_less(const Entry& a, const Entry& b) {
    return a.module != b.module ? a.module < b.module : a.qualname < b.qualname;
}

/// Built once: every part merged, sorted by (module, qualname); a name listed in two parts
/// gets one entry with the union of their usages (and the first part's reason).
void build_allowlist(Allowlist* list) {
    size_t n = 0;
    for (const Part& part : kParts) {
        for (size_t i = 0; i < part.size; ++i) {
            const AllowEntry& e = part.entries[i];
            list->entries[n++] = {e.module, e.qualname, {}, e.usages, part.reason};
        }
    }
    std::stable_sort(list->entries.begin(), list->entries.begin() + n, pair_less);
    size_t used = 0;
    for (size_t i = 0; i < n; ++i) {
        Entry e = list->entries[i];
        if (list->size > 0 && !pair_less(list->entries[list->size - 1], e)) {
            list->entries[list->size - 1].usages |= e.usages;
            continue;
        }
        char* out = list->chars.data() + used;
        std::copy(e.module.begin(), e.module.end(), out);
        out[e.module.size()] = '.';
        std::copy(e.qualname.begin(), e.qualname.end(), out + e.module.size() + 1);
        e.joined = std::string_view(out, e.module.size() + 1 + e.qualname.size());
        used += e.joined.size();
        list->entries[list->size++] = e;
    }
}

/// Static storage (no heap, nothing that can throw); filled once, read-only afterwards.
const Allowlist& allowlist() {
    static Allowlist list;
    static const bool built = (build_allowlist(&list), true);
    static_cast<void>(built);
    return list;
}

// ---------------------------------------------------------------------------------------------
// A dotted path module + "." + first segments of the name, viewed without copying.

struct Path {
    std::string_view head;  ///< the module
    std::string_view tail;  ///< leading segments of the name; empty: the path is the module

    size_t size() const { return tail.empty() ? head.size() : head.size() + 1 + tail.size(); }
    char at(size_t i) const {
        if (i < head.size()) return head[i];
        return i == head.size() ? '.' : tail[i - head.size() - 1];
    }
};

char fold(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

/// The module part compares without ASCII case: on Windows with PYTHONCASEOK set, `import OS`
/// loads os. Attribute names (the tail) are always case-sensitive.
bool starts_with(Path path, std::string_view prefix) {
    if (path.size() < prefix.size()) return false;
    const size_t in_head = std::min(prefix.size(), path.head.size());
    for (size_t i = 0; i < in_head; ++i) {
        if (fold(path.head[i]) != fold(prefix[i])) return false;
    }
    for (size_t i = in_head; i < prefix.size(); ++i) {
        if (path.at(i) != prefix[i]) return false;
    }
    return true;
}

bool equals(Path path, std::string_view s) {
    return path.size() == s.size() && starts_with(path, s);
}

/// `path` is `package` or one of its submodules.
bool within(Path path, std::string_view package) {
    return starts_with(path, package) &&
           (path.size() == package.size() || path.at(package.size()) == '.');
}

// ---------------------------------------------------------------------------------------------
// Danger.

constexpr const char* kShell = "runs shell commands or other programs";
constexpr const char* kExec = "executes or compiles code";
constexpr const char* kImport = "imports modules";
constexpr const char* kFiles = "reads or writes files";
constexpr const char* kNet = "opens network connections";
constexpr const char* kNative = "loads native code or touches raw memory";
constexpr const char* kPickle = "deserialises another pickle";
constexpr const char* kAttr = "walks arbitrary attributes";
constexpr const char* kState = "changes interpreter-wide state";
constexpr const char* kProc = "starts processes or threads";
constexpr const char* kBuiltin = "builds classes, descriptors or raw views of other objects";
constexpr const char* kExit = "exits the interpreter or waits for the terminal";
constexpr const char* kDunder = "walks a dunder attribute (reaches interpreter internals)";
constexpr const char* kWalk = "reaches a dangerous module or builtin by attribute walking";
constexpr const char* kSetstateExec = "executes code from the pickled state when loaded";

struct DangerModule {
    std::string_view module;  ///< dangerous with all its submodules
    const char* reason;
};

constexpr DangerModule kDangerModules[] = {
    // Processes, shells, the operating system.
    {"os", kShell}, {"posix", kShell}, {"nt", kShell}, {"posixpath", kFiles},
    {"ntpath", kFiles}, {"genericpath", kFiles}, {"subprocess", kShell},
    {"_posixsubprocess", kShell}, {"pty", kShell}, {"pipes", kShell}, {"commands", kShell},
    {"popen2", kShell}, {"platform", kShell}, {"webbrowser", kShell}, {"_winapi", kShell},
    {"msvcrt", kNative}, {"winreg", kState}, {"_winreg", kState},
    {"multiprocessing", kProc}, {"_multiprocessing", kProc}, {"concurrent", kProc},
    {"threading", kProc}, {"_thread", kProc}, {"thread", kProc}, {"asyncio", kProc},
    {"sched", kProc}, {"signal", kState}, {"_signal", kState}, {"resource", kState},
    {"atexit", kState}, {"gc", kAttr}, {"sys", kState},
    // The interpreter: imports, code objects, debuggers, runners.
    {"importlib", kImport}, {"_imp", kImport}, {"imp", kImport}, {"zipimport", kImport},
    {"pkgutil", kImport}, {"pydoc", kImport}, {"runpy", kExec}, {"site", kExec},
    {"code", kExec}, {"codeop", kExec}, {"timeit", kExec}, {"doctest", kExec},
    {"pdb", kExec}, {"bdb", kExec}, {"trace", kExec}, {"profile", kExec},
    {"cProfile", kExec}, {"types", kExec}, {"marshal", kExec}, {"inspect", kAttr},
    {"ctypes", kNative}, {"_ctypes", kNative}, {"cffi", kNative}, {"mmap", kNative},
    {"py_compile", kFiles}, {"compileall", kFiles}, {"distutils", kShell},
    {"setuptools", kShell}, {"pip", kShell}, {"ensurepip", kShell}, {"venv", kShell},
    {"IPython", kExec}, {"logging.config", kExec},
    // Serialisers that run code while loading.
    {"pickle", kPickle}, {"_pickle", kPickle}, {"cPickle", kPickle}, {"pickletools", kPickle},
    {"shelve", kPickle}, {"dill", kPickle}, {"cloudpickle", kPickle}, {"jsonpickle", kPickle},
    // Files and archives.
    {"shutil", kFiles}, {"tempfile", kFiles}, {"glob", kFiles}, {"fileinput", kFiles},
    {"linecache", kFiles}, {"dbm", kFiles}, {"sqlite3", kFiles}, {"zipfile", kFiles},
    {"tarfile", kFiles}, {"logging.handlers", kFiles},
    // Network.
    {"socket", kNet}, {"_socket", kNet}, {"ssl", kNet}, {"socketserver", kNet},
    {"SocketServer", kNet}, {"urllib", kNet}, {"urllib2", kNet}, {"urllib3", kNet},
    {"http", kNet}, {"httplib", kNet}, {"ftplib", kNet}, {"smtplib", kNet}, {"poplib", kNet},
    {"imaplib", kNet}, {"telnetlib", kNet}, {"xmlrpc", kNet}, {"xmlrpclib", kNet},
    {"requests", kNet},
    // numpy, scipy, joblib, scikit-learn, pandas, torch: loaders, test runners, compilers.
    {"numpy.testing", kExec}, {"numpy._pytesttester", kExec}, {"numpy.f2py", kShell},
    {"numpy.distutils", kShell}, {"numpy.ctypeslib", kNative}, {"numpy.lib.npyio", kFiles},
    {"numpy.lib._npyio_impl", kFiles}, {"numpy.lib.format", kPickle},
    {"numpy.lib._format_impl", kPickle}, {"numpy.lib._datasource", kNet},
    {"scipy.io", kFiles}, {"scipy.datasets", kNet}, {"scipy.weave", kExec},
    {"scipy.stats._distn_infrastructure", kSetstateExec},
    {"scipy.stats._continuous_distns", kSetstateExec},
    {"scipy.stats._discrete_distns", kSetstateExec}, {"scipy.stats._levy_stable", kSetstateExec},
    {"joblib.externals", kPickle}, {"joblib.pool", kProc}, {"joblib.executor", kProc},
    {"joblib._parallel_backends", kProc}, {"joblib._memmapping_reducer", kFiles},
    {"joblib.memory", kFiles}, {"sklearn.datasets", kNet}, {"sklearn.utils._joblib", kPickle},
    {"sklearn.utils._testing", kExec}, {"pandas.io", kFiles},
    {"torch.hub", kNet}, {"torch.ops", kNative}, {"torch._ops", kNative}, {"torch._C", kNative},
    {"torch.classes", kNative}, {"torch.library", kNative}, {"torch.jit", kExec},
    {"torch.package", kImport},
    {"torch.utils.cpp_extension", kShell}, {"torch.multiprocessing", kProc},
    {"torch.distributed", kNet}, {"torch._dynamo", kExec}, {"torch._inductor", kExec},
    {"torch.compiler", kExec},
};

constexpr unsigned kAnyUse = 7;
constexpr unsigned kMakes = static_cast<unsigned>(Usage::Call) |
                            static_cast<unsigned>(Usage::Instantiate);

struct DangerName {
    std::string_view module;
    std::string_view name;  ///< first segment of the qualified name
    bool package;           ///< true: also in every submodule of `module`
    unsigned usages;        ///< usages that are dangerous
    const char* reason;
};

#define MILO_BUILTIN(n, r) {"builtins", n, false, kAnyUse, r}, {"__builtin__", n, false, kAnyUse, r}
#define MILO_IN(m, n, r) {m, n, false, kAnyUse, r}
#define MILO_PKG(m, n, r) {m, n, true, kAnyUse, r}

constexpr DangerName kDangerNames[] = {
    // builtins (and the Python 2 spelling, as written in protocol 0-2 streams).
    MILO_BUILTIN("eval", kExec), MILO_BUILTIN("exec", kExec), MILO_BUILTIN("execfile", kExec),
    MILO_BUILTIN("compile", kExec), MILO_BUILTIN("__import__", kImport),
    MILO_BUILTIN("__build_class__", kExec), MILO_BUILTIN("__loader__", kImport),
    MILO_BUILTIN("__spec__", kImport), MILO_BUILTIN("__dict__", kAttr),
    MILO_BUILTIN("__builtins__", kAttr), MILO_BUILTIN("reload", kImport),
    MILO_BUILTIN("open", kFiles), MILO_BUILTIN("file", kFiles),
    MILO_BUILTIN("getattr", kAttr), MILO_BUILTIN("setattr", kAttr),
    MILO_BUILTIN("delattr", kAttr), MILO_BUILTIN("globals", kAttr),
    MILO_BUILTIN("locals", kAttr), MILO_BUILTIN("vars", kAttr), MILO_BUILTIN("apply", kExec),
    MILO_BUILTIN("input", kExit), MILO_BUILTIN("raw_input", kExit),
    MILO_BUILTIN("breakpoint", kExec), MILO_BUILTIN("exit", kExit), MILO_BUILTIN("quit", kExit),
    MILO_BUILTIN("help", kExit), MILO_BUILTIN("copyright", kExit),
    MILO_BUILTIN("credits", kExit), MILO_BUILTIN("license", kExit),
    MILO_BUILTIN("type", kBuiltin), MILO_BUILTIN("super", kBuiltin),
    MILO_BUILTIN("classmethod", kBuiltin), MILO_BUILTIN("staticmethod", kBuiltin),
    MILO_BUILTIN("property", kBuiltin), MILO_BUILTIN("memoryview", kBuiltin),
    // operator: attrgetter("__class__.__base__.__subclasses__") walks anything; call() calls.
    MILO_IN("operator", "attrgetter", kAttr), MILO_IN("_operator", "attrgetter", kAttr),
    MILO_IN("operator", "methodcaller", kAttr), MILO_IN("_operator", "methodcaller", kAttr),
    MILO_IN("operator", "call", kExec), MILO_IN("_operator", "call", kExec),
    // Files through io and the compression modules (BytesIO/StringIO stay untrusted).
    MILO_IN("io", "open", kFiles), MILO_IN("io", "open_code", kFiles),
    MILO_IN("io", "FileIO", kFiles), MILO_IN("_io", "open", kFiles),
    MILO_IN("_io", "open_code", kFiles), MILO_IN("_io", "FileIO", kFiles),
    MILO_IN("_pyio", "open", kFiles), MILO_IN("_pyio", "open_code", kFiles),
    MILO_IN("_pyio", "FileIO", kFiles), MILO_IN("codecs", "open", kFiles),
    MILO_IN("codecs", "EncodedFile", kFiles), MILO_IN("codecs", "register", kState),
    MILO_IN("_codecs", "register", kState), MILO_IN("gzip", "open", kFiles),
    MILO_IN("gzip", "GzipFile", kFiles), MILO_IN("bz2", "open", kFiles),
    MILO_IN("bz2", "BZ2File", kFiles), MILO_IN("lzma", "open", kFiles),
    MILO_IN("lzma", "LZMAFile", kFiles),
    // copyreg's registries: changing them changes how every later pickle loads.
    MILO_IN("copyreg", "add_extension", kState), MILO_IN("copyreg", "remove_extension", kState),
    MILO_IN("copyreg", "clear_extension_cache", kState), MILO_IN("copyreg", "pickle", kState),
    MILO_IN("copyreg", "constructor", kState), MILO_IN("copyreg", "dispatch_table", kState),
    MILO_IN("copyreg", "_extension_registry", kState),
    MILO_IN("copyreg", "_inverted_registry", kState),
    MILO_IN("copyreg", "_extension_cache", kState),
    // numpy, anywhere in the package (numpy.ma.load is pickle.load; fromfile opens a path).
    MILO_PKG("numpy", "load", kPickle), MILO_PKG("numpy", "loads", kPickle),
    MILO_PKG("numpy", "dump", kFiles), MILO_PKG("numpy", "dumps", kPickle),
    MILO_PKG("numpy", "loadtxt", kFiles), MILO_PKG("numpy", "genfromtxt", kFiles),
    MILO_PKG("numpy", "recfromcsv", kFiles), MILO_PKG("numpy", "recfromtxt", kFiles),
    MILO_PKG("numpy", "fromfile", kFiles), MILO_PKG("numpy", "fromregex", kFiles),
    MILO_PKG("numpy", "tofile", kFiles), MILO_PKG("numpy", "save", kFiles),
    MILO_PKG("numpy", "savez", kFiles), MILO_PKG("numpy", "savez_compressed", kFiles),
    MILO_PKG("numpy", "savetxt", kFiles), MILO_PKG("numpy", "open_memmap", kFiles),
    MILO_PKG("numpy", "DataSource", kNet), MILO_PKG("numpy", "load_library", kNative),
    MILO_PKG("numpy", "seterr", kState), MILO_PKG("numpy", "seterrcall", kState),
    MILO_PKG("numpy", "setbufsize", kState), MILO_PKG("numpy", "set_printoptions", kState),
    MILO_PKG("numpy", "set_string_function", kState),
    {"numpy", "memmap", true, kMakes, kFiles},
    // scipy, joblib, scikit-learn, pandas, torch.
    MILO_PKG("scipy", "LowLevelCallable", kNative),
    MILO_PKG("joblib", "load", kPickle), MILO_PKG("joblib", "dump", kFiles),
    MILO_PKG("joblib", "load_compatibility", kPickle),
    MILO_PKG("joblib", "NumpyUnpickler", kPickle), MILO_PKG("joblib", "NumpyPickler", kFiles),
    MILO_PKG("joblib", "Parallel", kProc), MILO_PKG("joblib", "parallel_backend", kState),
    MILO_PKG("joblib", "parallel_config", kState),
    MILO_PKG("joblib", "register_parallel_backend", kState),
    MILO_PKG("joblib", "register_store_backend", kState),
    MILO_PKG("joblib", "register_compressor", kState), MILO_PKG("joblib", "Memory", kFiles),
    MILO_PKG("pandas", "read_pickle", kPickle), MILO_PKG("pandas", "to_pickle", kFiles),
    MILO_PKG("pandas", "read_csv", kFiles), MILO_PKG("pandas", "read_table", kFiles),
    MILO_PKG("pandas", "read_excel", kFiles), MILO_PKG("pandas", "read_json", kFiles),
    MILO_PKG("pandas", "read_html", kNet), MILO_PKG("pandas", "read_sql", kNet),
    MILO_PKG("pandas", "read_hdf", kFiles), MILO_PKG("pandas", "read_parquet", kFiles),
    MILO_PKG("pandas", "read_clipboard", kShell), MILO_PKG("pandas", "eval", kExec),
    MILO_PKG("pandas", "HDFStore", kFiles),
    MILO_PKG("torch", "load", kPickle), MILO_PKG("torch", "save", kFiles),
    MILO_PKG("torch", "from_file", kFiles), MILO_PKG("torch", "_load", kPickle),
    MILO_PKG("torch", "_legacy_load", kPickle), MILO_PKG("torch", "_save", kFiles),
    MILO_PKG("torch", "_legacy_save", kFiles), MILO_PKG("torch", "_open_file_like", kFiles),
    MILO_PKG("torch", "_open_zipfile_reader", kFiles),
    MILO_PKG("torch", "_open_zipfile_writer", kFiles),
};

#undef MILO_BUILTIN
#undef MILO_IN
#undef MILO_PKG

// Names that, met as any segment of a qualified name, mean the walk reaches a dangerous module
// another module imported (sklearn.x.os.system) or a dangerous builtin.
constexpr std::string_view kWalkTargets[] = {
    "os",     "posix",   "nt",        "sys",     "subprocess", "builtins", "importlib",
    "pickle", "_pickle", "cPickle",   "marshal", "shutil",     "socket",   "ctypes",
    "runpy",  "pty",     "eval",      "exec",    "system",     "popen",    "getattr",
    "setattr"};

/// A danger table bucketed by (folded) first character, so a lookup scans a handful of rows.
template <typename Row, size_t N>
struct Buckets {
    std::array<const Row*, N> rows{};
    std::array<size_t, 257> start{};  ///< rows with first character c: [start[c], start[c + 1])
};

template <typename Row, size_t N, typename First>
Buckets<Row, N> bucket(const Row (&table)[N], First first) {
    Buckets<Row, N> b;
    for (const Row& row : table) ++b.start[static_cast<unsigned char>(first(row)) + 1];
    for (size_t c = 0; c < 256; ++c) b.start[c + 1] += b.start[c];
    std::array<size_t, 257> next = b.start;
    for (const Row& row : table) b.rows[next[static_cast<unsigned char>(first(row))]++] = &row;
    return b;
}

const char* module_danger(Path path) {
    static const auto buckets =
        bucket(kDangerModules, [](const DangerModule& d) { return fold(d.module[0]); });
    if (path.size() == 0) return nullptr;
    const auto c = static_cast<unsigned char>(fold(path.at(0)));
    for (size_t i = buckets.start[c]; i < buckets.start[c + 1]; ++i) {
        if (within(path, buckets.rows[i]->module)) return buckets.rows[i]->reason;
    }
    return nullptr;
}

const char* name_danger(Path owner, std::string_view segment, unsigned usage) {
    static const auto buckets = bucket(kDangerNames, [](const DangerName& d) { return d.name[0]; });
    if (segment.empty()) return nullptr;
    const auto c = static_cast<unsigned char>(segment[0]);
    for (size_t i = buckets.start[c]; i < buckets.start[c + 1]; ++i) {
        const DangerName& d = *buckets.rows[i];
        if (segment == d.name && (d.usages & usage) != 0 &&
            (d.package ? within(owner, d.module) : equals(owner, d.module))) {
            return d.reason;
        }
    }
    return nullptr;
}

/// The reason `module`.`name` is dangerous, or nullptr. Each segment of `name` is judged as the
/// attribute it is of the path before it, so "numpy"."lib.npyio.load" is judged as module
/// "numpy.lib.npyio" (dangerous) and "os"."path" as module "os".
const char* danger(std::string_view module, std::string_view name, unsigned usage) {
    if (const char* reason = module_danger(Path{module, {}})) return reason;
    size_t start = 0;
    for (bool first = true;; first = false) {
        const size_t dot = name.find('.', start);
        const bool last = dot == std::string_view::npos;
        const std::string_view segment = name.substr(start, last ? name.npos : dot - start);
        const Path owner{module, start == 0 ? std::string_view{} : name.substr(0, start - 1)};
        if (!first) {
            if (segment.substr(0, 2) == "__") return kDunder;
            if (const char* reason = module_danger(owner)) return reason;
        }
        // A segment walked through is used as a value, whatever the final usage is.
        if (const char* reason = name_danger(owner, segment, last ? usage : kAnyUse)) {
            return reason;
        }
        if (std::find(std::begin(kWalkTargets), std::end(kWalkTargets), segment) !=
            std::end(kWalkTargets)) {
            return kWalk;
        }
        if (last) return nullptr;
        start = dot + 1;
    }
}

}  // namespace

const char* usage_name(Usage usage) noexcept {
    switch (usage) {
        case Usage::Call:
            return "call";
        case Usage::Instantiate:
            return "instantiate";
        case Usage::Reference:
            return "reference";
    }
    return "invalid";
}

TrustVerdict classify(std::string_view module, std::string_view name, Usage usage) noexcept {
    const unsigned bits = static_cast<unsigned>(usage);
    if (const char* reason = danger(module, name, bits == 0 ? kAnyUse : bits)) {
        return {TrustLevel::Dangerous, reason};
    }
    if (bits == 0 || (bits & ~kAnyUse) != 0) return {TrustLevel::Untrusted, "invalid usage"};
    const Allowlist& list = allowlist();
    const Entry* end = list.entries.data() + list.size;
    const Entry key{module, name, {}};
    const Entry* it = std::lower_bound(list.entries.data(), end, key, pair_less);
    if (it == end || it->module != module || it->qualname != name) {
        return {TrustLevel::Untrusted, "not in the allowlist"};
    }
    if ((it->usages & bits) != bits) {
        return {TrustLevel::Untrusted, "allowlisted, but not for this usage"};
    }
    return {TrustLevel::Trusted, it->reason};
}

size_t allowlist_size() noexcept { return allowlist().size; }

void allowlist_at(size_t i, std::string_view& name, unsigned& usages) noexcept {
    const Allowlist& list = allowlist();
    if (i >= list.size) {
        name = {};
        usages = 0;
        return;
    }
    name = list.entries[i].joined;
    usages = list.entries[i].usages;
}

void allowlist_at(size_t i, std::string_view& module, std::string_view& qualname,
                  unsigned& usages) noexcept {
    const Allowlist& list = allowlist();
    if (i >= list.size) {
        module = qualname = {};
        usages = 0;
        return;
    }
    module = list.entries[i].module;
    qualname = list.entries[i].qualname;
    usages = list.entries[i].usages;
}

}  // namespace readers
}  // namespace milo
