// Format benchmark: encode/decode speed, output size and peak memory of Milo documents in every
// format (json, yaml, pb) and tensor mode (readable, compact, external), next to baselines
// measured in the same run (fwrite/fread, nlohmann::json, to_chars/from_chars, base64).
//
// Not a test: no thresholds, never registered with CTest. See tests/bench/README.md.
//
// Every measured operation runs in its own forked child, which builds its own input, so that
// getrusage(RUSAGE_SELF).ru_maxrss of the child is the peak of that one operation (plus the
// small process baseline printed in the header). Results come back through a pipe.

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "milo/milo.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMiB = 1024.0 * 1024.0;

/* ---------------------------------------------------------------- configuration */

struct Config {
    bool quick = false;
    bool keep = false;
    std::string dir = "/tmp/milo-bench";
    size_t tensor_bytes = size_t(100) << 20;      // the float64 tensor of part 1
    size_t yaml_readable_bytes = size_t(100) << 20;  // same as the tensor (was smaller while
                                                     // YAML went through yaml-cpp only)
    size_t small_values = 1000000;                  // scalar leaves of part 3
    int max_reps = 3;           // best of up to this many runs …
    double rep_budget_s = 8.0;  // … while the runs of one operation stay under this budget
    int timeout_s = 300;        // a child that takes longer is killed and reported
    bool cpu_clock = false;     // --cpu-time: speeds from process CPU time instead of wall time
    std::string only;           // --only TEXT: run only the cases whose label contains TEXT
};

Config g_cfg;

bool wanted(const std::string& label) {
    return g_cfg.only.empty() || label.find(g_cfg.only) != std::string::npos;
}

/* ---------------------------------------------------------------- measurement in a child */

// What one child reports. Plain data: it crosses a pipe.
struct Measure {
    int32_t ok = 0;
    int32_t reps = 0;
    int32_t zero_copy = -1;  // -1: not checked, 0: no, 1: yes
    double best_s = 0;
    double median_s = 0;
    double cpu_share = 0;     // CPU time / wall time of the best run (< 1: waited or was preempted)
    double extra_s = 0;       // best time of a follow-up step (nlohmann: writing the dump to a file)
    int64_t rss_bytes = 0;    // encode: peak RSS of the child; decode: peak minus RSS before
    int64_t input_bytes = 0;  // RSS just before the operation (encode: includes the input)
    int64_t out_bytes = 0;    // encode: bytes written (document + sidecar)
    uint64_t checksum = 0;    // of the data produced/consumed, to check round trips
    char note[240] = {0};
};

int64_t peak_rss_bytes() {
    rusage r{};
    getrusage(RUSAGE_SELF, &r);
    return int64_t(r.ru_maxrss) * 1024;
}

int64_t current_rss_bytes() {
    long pages = 0, resident = 0;
    FILE* f = std::fopen("/proc/self/statm", "r");
    if (f == nullptr) return 0;
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
    return int64_t(resident) * sysconf(_SC_PAGESIZE);
}

double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

void set_note(Measure& m, const std::string& s) {
    std::snprintf(m.note, sizeof m.note, "%s", s.c_str());
}

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

// Times the measured region of one run: wall (steady_clock) and process CPU time.
struct Stopwatch {
    Clock::time_point w0;
    double c0 = 0, wall = 0, cpu = 0;
    void start() {
        c0 = cpu_seconds();
        w0 = Clock::now();
    }
    void stop() {
        wall = since(w0);
        cpu = cpu_seconds() - c0;
    }
};

// Runs `op(first, stopwatch)` (which starts and stops the stopwatch around the operation
// only, never around set-up or tear-down) best of up to max_reps times while the total stays
// within the budget. Speeds use the wall time unless --cpu-time.
template <class Op>
void repeat(Measure& m, Op op) {
    std::vector<double> t, c;
    double total = 0;
    do {
        Stopwatch sw;
        op(t.empty(), sw);
        t.push_back(g_cfg.cpu_clock ? sw.cpu : sw.wall);
        c.push_back(sw.wall > 0 ? sw.cpu / sw.wall : 0);
        total += sw.wall;
    } while (int(t.size()) < g_cfg.max_reps && total + total / double(t.size()) < g_cfg.rep_budget_s);
    size_t best = size_t(std::min_element(t.begin(), t.end()) - t.begin());
    m.cpu_share = c[best];
    std::sort(t.begin(), t.end());
    m.reps = int32_t(t.size());
    m.best_s = t.front();
    m.median_s = t[t.size() / 2];
    m.ok = 1;
}

// Forks, runs `job` in the child and returns what it measured. A crash, an exception or the
// timeout gives ok = 0 and a note.
Measure run_child(const std::function<void(Measure&)>& job) {
    std::fflush(stdout);
    int fds[2];
    if (pipe(fds) != 0) {
        std::perror("pipe");
        std::exit(2);
    }
    pid_t pid = fork();
    if (pid < 0) {
        std::perror("fork");
        std::exit(2);
    }
    if (pid == 0) {
        close(fds[0]);
        alarm(unsigned(g_cfg.timeout_s));
        Measure m;
        try {
            job(m);
        } catch (const std::exception& e) {
            m.ok = 0;
            set_note(m, std::string("error: ") + e.what());
        }
        const char* p = reinterpret_cast<const char*>(&m);
        size_t n = sizeof m;
        while (n > 0) {
            ssize_t w = write(fds[1], p, n);
            if (w <= 0) break;
            p += w;
            n -= size_t(w);
        }
        _exit(0);
    }
    close(fds[1]);
    Measure m;
    char* p = reinterpret_cast<char*>(&m);
    size_t got = 0;
    while (got < sizeof m) {
        ssize_t r = read(fds[0], p + got, sizeof m - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += size_t(r);
    }
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got != sizeof m) {
        m = Measure();
        if (WIFSIGNALED(status) && WTERMSIG(status) == SIGALRM)
            set_note(m, "timeout after " + std::to_string(g_cfg.timeout_s) + " s");
        else if (WIFSIGNALED(status))
            set_note(m, std::string("child killed by signal ") + strsignal(WTERMSIG(status)));
        else
            set_note(m, "child exited with status " + std::to_string(WEXITSTATUS(status)));
    }
    return m;
}

/* ---------------------------------------------------------------- data */

// Deterministic "realistic" weights: N(0, 0.05), full 53-bit mantissas.
void fill_normal(double* p, size_t n) {
    std::mt19937_64 rng(20240611);
    std::normal_distribution<double> dist(0.0, 0.05);
    for (size_t i = 0; i < n; ++i) p[i] = dist(rng);
}

uint64_t checksum_bytes(const void* data, size_t n) {
    const auto* b = static_cast<const uint8_t*>(data);
    uint64_t h = 1469598103934665603ull ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        std::memcpy(&w, b + i, 8);
        h = (h ^ w) * 1099511628211ull;
        h ^= h >> 29;
    }
    for (; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

std::vector<int64_t> tensor_shape(size_t elements) {
    if (elements % 1024 == 0 && elements >= 1024) return {int64_t(elements / 1024), 1024};
    return {int64_t(elements)};
}

// Root: object "milo_bench.Model" whose state is {"weight": float64 tensor}.
milo::ValueRef build_tensor_doc(milo::Doc& doc, size_t elements) {
    milo::ValueRef t = doc.tensor(MILO_DTYPE_FLOAT64, tensor_shape(elements));
    fill_normal(t.mutable_data_as<double>(), elements);
    milo::ValueRef state = doc.map();
    doc.put(state, "weight", t);
    milo::ValueRef root = doc.object("milo_bench.Model");
    root.set_state(state);
    doc.set_root(root);
    doc.set_header("type", "milo_bench.Model");
    return t;
}

milo::ValueRef find_weight(const milo::DocRef& doc) {
    milo::ValueRef root = doc.root();
    if (!root) throw std::runtime_error("loaded document has no root");
    milo::ValueRef state = root.state();
    if (!state) throw std::runtime_error("loaded root has no state");
    milo::ValueRef t = state.find("weight");
    if (!t) throw std::runtime_error("loaded state has no \"weight\"");
    return t;
}

// Part 3: a list of n/4 maps {"id": int, "w": float, "name": string, "ok": bool}:
// n scalar values, n/4 + 1 containers, n string keys.
void build_small_doc(milo::Doc& doc, size_t values) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> dist(0.0, 10.0);
    milo::ValueRef list = doc.list();
    size_t records = values / 4;
    char name[32];
    for (size_t i = 0; i < records; ++i) {
        milo::ValueRef m = doc.map();
        doc.put(m, "id", doc.integer(int64_t((i * 2654435761ull) % 1000000007ull)));
        doc.put(m, "w", doc.number(dist(rng)));
        int len = std::snprintf(name, sizeof name, "item-%zu", i);
        doc.put(m, "name", doc.string(std::string_view(name, size_t(len))));
        doc.put(m, "ok", doc.boolean(i % 3 == 0));
        list.append(m);
    }
    doc.set_root(list);
}

nlohmann::json build_small_json(size_t values) {
    std::mt19937_64 rng(7);
    std::normal_distribution<double> dist(0.0, 10.0);
    nlohmann::json list = nlohmann::json::array();
    size_t records = values / 4;
    list.get_ref<nlohmann::json::array_t&>().reserve(records);
    for (size_t i = 0; i < records; ++i) {
        nlohmann::json m = nlohmann::json::object();
        m["id"] = int64_t((i * 2654435761ull) % 1000000007ull);
        m["w"] = dist(rng);
        m["name"] = "item-" + std::to_string(i);
        m["ok"] = (i % 3 == 0);
        list.push_back(std::move(m));
    }
    return list;
}

uint64_t mix(uint64_t h, uint64_t w) {
    h = (h ^ w) * 1099511628211ull;
    return h ^ (h >> 29);
}

uint64_t small_checksum(const milo::DocRef& doc) {
    milo::ValueRef list = doc.root();
    uint64_t h = 0;
    size_t n = list.size();
    for (size_t i = 0; i < n; ++i) {
        milo::ValueRef m = list[i];
        int64_t id = m.find("id").as_int();
        double w = m.find("w").as_float();
        uint64_t wb;
        std::memcpy(&wb, &w, 8);
        std::string_view s = m.find("name").as_string();
        h = mix(h, uint64_t(id));
        h = mix(h, wb);
        h = mix(h, checksum_bytes(s.data(), s.size()));
        h = mix(h, m.find("ok").as_bool() ? 1 : 2);
    }
    return mix(h, n);
}

uint64_t small_checksum_json(const nlohmann::json& list) {
    uint64_t h = 0;
    for (const auto& m : list) {
        double w = m["w"].get<double>();
        uint64_t wb;
        std::memcpy(&wb, &w, 8);
        const auto& s = m["name"].get_ref<const std::string&>();
        h = mix(h, uint64_t(m["id"].get<int64_t>()));
        h = mix(h, wb);
        h = mix(h, checksum_bytes(s.data(), s.size()));
        h = mix(h, m["ok"].get<bool>() ? 1 : 2);
    }
    return mix(h, list.size());
}

/* ---------------------------------------------------------------- files */

int64_t file_size(const std::string& path) {
    struct stat st{};
    return stat(path.c_str(), &st) == 0 ? int64_t(st.st_size) : 0;
}

std::string read_file(const std::string& path) {
    std::string s;
    FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot open " + path);
    s.resize(size_t(file_size(path)));
    size_t got = std::fread(s.data(), 1, s.size(), f);
    std::fclose(f);
    if (got != s.size()) throw std::runtime_error("short read of " + path);
    return s;
}

void write_file(const std::string& path, const void* data, size_t n) {
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot create " + path);
    size_t w = std::fwrite(data, 1, n, f);
    if (std::fclose(f) != 0 || w != n) throw std::runtime_error("cannot write " + path);
}

std::vector<std::string> g_created;  // files this run made, removed at the end

std::string bench_path(const std::string& name) {
    std::string p = g_cfg.dir + "/" + name;
    g_created.push_back(p);
    return p;
}

// The file mapping that contains `p`, from /proc/self/maps ("" for anonymous memory).
std::string mapping_of(const void* p) {
    std::ifstream maps("/proc/self/maps");
    std::string line;
    auto addr = uintptr_t(p);
    while (std::getline(maps, line)) {
        uintptr_t lo = 0, hi = 0;
        if (std::sscanf(line.c_str(), "%" SCNxPTR "-%" SCNxPTR, &lo, &hi) != 2) continue;
        if (addr < lo || addr >= hi) continue;
        size_t slash = line.find('/');
        size_t bracket = line.find('[');
        if (slash != std::string::npos) return line.substr(slash);
        if (bracket != std::string::npos) return line.substr(bracket);
        return "";
    }
    return "";
}

/* ---------------------------------------------------------------- base64 baseline */

// A plain scalar base64 (RFC 4648, padded): what a straightforward implementation does.
const char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encode(const uint8_t* in, size_t n, char* out) {
    char* o = out;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = uint32_t(in[i]) << 16 | uint32_t(in[i + 1]) << 8 | in[i + 2];
        o[0] = kB64[v >> 18];
        o[1] = kB64[(v >> 12) & 63];
        o[2] = kB64[(v >> 6) & 63];
        o[3] = kB64[v & 63];
        o += 4;
    }
    if (i < n) {
        uint32_t v = uint32_t(in[i]) << 16 | (i + 1 < n ? uint32_t(in[i + 1]) << 8 : 0);
        o[0] = kB64[v >> 18];
        o[1] = kB64[(v >> 12) & 63];
        o[2] = i + 1 < n ? kB64[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }
    return size_t(o - out);
}

struct B64Table {
    uint8_t v[256];
    B64Table() {
        std::memset(v, 0x80, sizeof v);
        for (int i = 0; i < 64; ++i) v[uint8_t(kB64[i])] = uint8_t(i);
    }
};

// Returns the decoded size, or SIZE_MAX on invalid input.
size_t b64_decode(const char* in, size_t n, uint8_t* out) {
    static const B64Table t;
    if (n % 4 != 0) return SIZE_MAX;
    size_t pad = n >= 1 && in[n - 1] == '=' ? (n >= 2 && in[n - 2] == '=' ? 2 : 1) : 0;
    size_t full = pad ? n - 4 : n;
    uint8_t* o = out;
    uint8_t bad = 0;
    for (size_t i = 0; i < full; i += 4) {
        uint8_t a = t.v[uint8_t(in[i])], b = t.v[uint8_t(in[i + 1])];
        uint8_t c = t.v[uint8_t(in[i + 2])], d = t.v[uint8_t(in[i + 3])];
        bad |= a | b | c | d;
        uint32_t v = uint32_t(a) << 18 | uint32_t(b) << 12 | uint32_t(c) << 6 | d;
        o[0] = uint8_t(v >> 16);
        o[1] = uint8_t(v >> 8);
        o[2] = uint8_t(v);
        o += 3;
    }
    if (pad) {
        const char* q = in + full;
        uint8_t a = t.v[uint8_t(q[0])], b = t.v[uint8_t(q[1])];
        uint8_t c = pad == 1 ? t.v[uint8_t(q[2])] : 0;
        bad |= a | b | c;
        uint32_t v = uint32_t(a) << 18 | uint32_t(b) << 12 | uint32_t(c) << 6;
        *o++ = uint8_t(v >> 16);
        if (pad == 1) *o++ = uint8_t(v >> 8);
    }
    return (bad & 0x80) ? SIZE_MAX : size_t(o - out);
}

/* ---------------------------------------------------------------- jobs */

const char* mode_name(int32_t mode) {
    switch (mode) {
        case MILO_TENSORS_READABLE: return "readable";
        case MILO_TENSORS_COMPACT: return "compact";
        case MILO_TENSORS_EXTERNAL: return "external";
        default: return "auto";
    }
}

std::string ext_of(const std::string& format) { return format == "pb" ? ".pb" : "." + format; }

std::string sidecar_of(const std::string& path) {
    return path.substr(0, path.rfind('.')) + ".safetensors";
}

void milo_tensor_encode(Measure& m, const std::string& format, int32_t mode, size_t elements,
                        const std::string& path) {
    milo::Registry reg;
    milo::Doc doc;
    milo::ValueRef t = build_tensor_doc(doc, elements);
    m.checksum = checksum_bytes(t.data().first, t.data().second);
    milo::SaveOptions o;
    o.format = format;
    o.tensors = mode;
    m.input_bytes = current_rss_bytes();
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        reg.save(doc, path, o);
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = file_size(path);
    if (mode == MILO_TENSORS_EXTERNAL) m.out_bytes += file_size(sidecar_of(path));
}

void milo_tensor_decode(Measure& m, const std::string& format, const std::string& path,
                        uint32_t flags) {
    milo::Registry reg;
    milo_load_options o = MILO_LOAD_OPTIONS_INIT;
    o.format = format.c_str();
    o.flags = flags;
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        milo_doc* raw = nullptr;
        sw.start();
        milo::call(milo_doc_load, reg.get(), path.c_str(), &o, &raw);
        sw.stop();
        milo::Doc doc(milo::default_api(), raw);
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            auto d = find_weight(doc).data();
            m.checksum = checksum_bytes(d.first, d.second);
            std::string where = mapping_of(d.first);
            bool in_file = !where.empty() && where[0] == '/';
            m.zero_copy = in_file ? 1 : 0;
            if (in_file) set_note(m, "data mapped from " + where.substr(where.rfind('/') + 1));
        }
    });
}

void milo_small_encode(Measure& m, const std::string& format, const std::string& path) {
    milo::Registry reg;
    milo::Doc doc;
    build_small_doc(doc, g_cfg.small_values);
    m.checksum = small_checksum(doc);
    milo::SaveOptions o;
    o.format = format;
    m.input_bytes = current_rss_bytes();
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        reg.save(doc, path, o);
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = file_size(path);
}

void milo_small_decode(Measure& m, const std::string& format, const std::string& path) {
    milo::Registry reg;
    milo_load_options o = MILO_LOAD_OPTIONS_INIT;
    o.format = format.c_str();
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        milo_doc* raw = nullptr;
        sw.start();
        milo::call(milo_doc_load, reg.get(), path.c_str(), &o, &raw);
        sw.stop();
        milo::Doc doc(milo::default_api(), raw);
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            m.checksum = small_checksum(doc);
        }
    });
}

std::unique_ptr<double[]> make_doubles(size_t n) {
    std::unique_ptr<double[]> d(new double[n]);
    fill_normal(d.get(), n);
    return d;
}

void fwrite_encode(Measure& m, size_t n, const std::string& path) {
    auto d = make_doubles(n);
    m.checksum = checksum_bytes(d.get(), n * 8);
    m.input_bytes = current_rss_bytes();
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        write_file(path, d.get(), n * 8);
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = file_size(path);
}

void fread_decode(Measure& m, size_t n, const std::string& path) {
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        std::unique_ptr<uint8_t[]> buf(new uint8_t[n * 8]);
        FILE* f = std::fopen(path.c_str(), "rb");
        if (f == nullptr) throw std::runtime_error("cannot open " + path);
        size_t got = std::fread(buf.get(), 1, n * 8, f);
        std::fclose(f);
        sw.stop();
        if (got != n * 8) throw std::runtime_error("short read");
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            m.checksum = checksum_bytes(buf.get(), n * 8);
        }
    });
}

void nlohmann_encode(Measure& m, size_t n, const std::string& path) {
    nlohmann::json arr = nlohmann::json::array();
    {
        auto d = make_doubles(n);
        m.checksum = checksum_bytes(d.get(), n * 8);
        auto& a = arr.get_ref<nlohmann::json::array_t&>();
        a.reserve(n);
        for (size_t i = 0; i < n; ++i) a.emplace_back(d[i]);
    }
    m.input_bytes = current_rss_bytes();
    std::string text;
    repeat(m, [&](bool first, Stopwatch& sw) {
        text.clear();
        text.shrink_to_fit();
        sw.start();
        text = arr.dump();
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = int64_t(text.size());
    // dump() alone is the target's baseline; dump + fwrite is what a save to a file costs.
    for (int i = 0; i < m.reps; ++i) {
        Stopwatch sw;
        sw.start();
        write_file(path, text.data(), text.size());
        sw.stop();
        double t = g_cfg.cpu_clock ? sw.cpu : sw.wall;
        if (i == 0 || t < m.extra_s) m.extra_s = t;
    }
}

void nlohmann_decode(Measure& m, const std::string& path) {
    std::string text = read_file(path);
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        nlohmann::json arr = nlohmann::json::parse(text);
        sw.stop();
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            std::vector<double> d;
            d.reserve(arr.size());
            for (const auto& x : arr) d.push_back(x.get<double>());
            m.checksum = checksum_bytes(d.data(), d.size() * 8);
        }
    });
}

size_t to_chars_all(const double* d, size_t n, char* out, size_t cap) {
    char* o = out;
    char* end = out + cap;
    for (size_t i = 0; i < n; ++i) {
        if (i > 0) *o++ = ',';
        o = std::to_chars(o, end, d[i]).ptr;
    }
    return size_t(o - out);
}

void to_chars_encode(Measure& m, size_t n) {
    auto d = make_doubles(n);
    m.checksum = checksum_bytes(d.get(), n * 8);
    size_t cap = n * 26;
    std::unique_ptr<char[]> out(new char[cap]);
    m.input_bytes = current_rss_bytes();
    size_t len = 0;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        len = to_chars_all(d.get(), n, out.get(), cap);
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = int64_t(len);
}

void from_chars_decode(Measure& m, size_t n) {
    size_t cap = n * 26;
    std::unique_ptr<char[]> text(new char[cap]);
    size_t len = 0;
    {
        auto d = make_doubles(n);
        len = to_chars_all(d.get(), n, text.get(), cap);
    }
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        std::unique_ptr<double[]> d(new double[n]);
        const char* p = text.get();
        const char* end = p + len;
        size_t i = 0;
        while (p < end && i < n) {
            auto r = std::from_chars(p, end, d[i++]);
            if (r.ec != std::errc()) throw std::runtime_error("from_chars failed");
            p = r.ptr + (r.ptr < end && *r.ptr == ',');
        }
        sw.stop();
        if (i != n) throw std::runtime_error("from_chars: wrong count");
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            m.checksum = checksum_bytes(d.get(), n * 8);
        }
    });
}

// Encode: copy the raw bytes (as a writer copies into its buffer) + base64 them.
void base64_encode_job(Measure& m, size_t n) {
    auto d = make_doubles(n);
    m.checksum = checksum_bytes(d.get(), n * 8);
    size_t bytes = n * 8;
    std::unique_ptr<uint8_t[]> staging(new uint8_t[bytes]);
    std::unique_ptr<char[]> out(new char[(bytes + 2) / 3 * 4]);
    m.input_bytes = current_rss_bytes();
    size_t len = 0;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        std::memcpy(staging.get(), d.get(), bytes);
        len = b64_encode(staging.get(), bytes, out.get());
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = int64_t(len);
}

// Decode: base64 the text into a fresh buffer + copy it out (as a reader hands it over).
void base64_decode_job(Measure& m, size_t n) {
    size_t bytes = n * 8;
    std::unique_ptr<char[]> text(new char[(bytes + 2) / 3 * 4]);
    size_t len = 0;
    {
        auto d = make_doubles(n);
        len = b64_encode(reinterpret_cast<const uint8_t*>(d.get()), bytes, text.get());
    }
    std::unique_ptr<uint8_t[]> dst(new uint8_t[bytes]);
    std::memset(dst.get(), 0, bytes);
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        std::unique_ptr<uint8_t[]> raw(new uint8_t[bytes]);
        size_t got = b64_decode(text.get(), len, raw.get());
        std::memcpy(dst.get(), raw.get(), bytes);
        sw.stop();
        if (got != bytes) throw std::runtime_error("base64 decode failed");
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            m.checksum = checksum_bytes(dst.get(), bytes);
        }
    });
}

void nlohmann_small_encode(Measure& m, const std::string& path) {
    nlohmann::json list = build_small_json(g_cfg.small_values);
    m.checksum = small_checksum_json(list);
    m.input_bytes = current_rss_bytes();
    std::string text;
    repeat(m, [&](bool first, Stopwatch& sw) {
        text.clear();
        text.shrink_to_fit();
        sw.start();
        text = list.dump();
        sw.stop();
        if (first) m.rss_bytes = peak_rss_bytes();
    });
    m.out_bytes = int64_t(text.size());
    write_file(path, text.data(), text.size());
}

void nlohmann_small_decode(Measure& m, const std::string& path) {
    std::string text = read_file(path);
    int64_t before = current_rss_bytes();
    m.input_bytes = before;
    repeat(m, [&](bool first, Stopwatch& sw) {
        sw.start();
        nlohmann::json list = nlohmann::json::parse(text);
        sw.stop();
        if (first) {
            m.rss_bytes = peak_rss_bytes() - before;
            m.checksum = small_checksum_json(list);
        }
    });
}

/* ---------------------------------------------------------------- reporting */

struct Row {
    std::string label;
    size_t bytes = 0;  // payload the speeds and RSS ratios are relative to
    Measure enc, dec;
    bool has_enc = true, has_dec = true;
};

double mbps(size_t bytes, const Measure& m) {
    return m.ok && m.best_s > 0 ? double(bytes) / kMiB / m.best_s : 0.0;
}

std::string fmt(const char* f, double v) {
    char b[64];
    std::snprintf(b, sizeof b, f, v);
    return b;
}

// Adaptive precision so that slow cases do not print as 0.
std::string speed_text(double v) { return fmt(v < 10 ? "%.2f" : v < 100 ? "%.1f" : "%.0f", v); }

// Above this (20 GB/s) the operation did not read its data (a NO_VERIFY external load only maps the
// file): a throughput would be meaningless, so the time is shown instead.
constexpr double kNotReadMBps = 2e4;

std::string speed_cell(size_t bytes, const Measure& m, bool has) {
    if (!has) return "-";
    if (!m.ok) return "FAILED";
    double v = mbps(bytes, m);
    return v > kNotReadMBps ? fmt("%.2fms", m.best_s * 1e3) : speed_text(v);
}

std::string cpu_cell(const Row& r) {
    auto one = [](const Measure& m, bool has) {
        return has && m.ok ? fmt("%.0f", 100 * std::min(m.cpu_share, 9.99)) : std::string("-");
    };
    return one(r.enc, r.has_enc) + "/" + one(r.dec, r.has_dec);
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    double a = 0, b = 0, c = 0;
    f >> a >> b >> c;
    return fmt("%.2f ", a) + fmt("%.2f ", b) + fmt("%.2f", c);
}

void progress(const char* what, const std::string& label) {
    static const auto start = Clock::now();
    std::fflush(stdout);
    std::fprintf(stderr, "[%6.1fs] %s%s\n", since(start), what, label.c_str());
}

std::string rss_cell(size_t bytes, const Measure& m, bool has) {
    if (!has || !m.ok) return "-";
    return fmt("%.2fx", double(m.rss_bytes) / double(bytes));
}

std::string check_cell(const Row& r) {
    if (!r.has_enc || !r.has_dec) return "-";
    if (!r.enc.ok || !r.dec.ok) return "FAILED";
    return r.enc.checksum == r.dec.checksum ? "ok" : "MISMATCH";
}

void print_rule(int width) {
    std::printf("%s\n", std::string(size_t(width), '-').c_str());
}

void print_tensor_table(const std::vector<Row>& rows) {
    const char* h = "%-34s %8s %8s %9s %7s %9s %7s %5s %7s %-6s\n";
    std::printf(h, "case", "data MB", "file MB", "enc MB/s", "enc RSS", "dec MB/s", "dec RSS",
                "runs", "cpu%", "check");
    print_rule(108);
    for (const Row& r : rows) {
        std::string runs = std::to_string(r.has_enc ? r.enc.reps : 0) + "/" +
                           std::to_string(r.has_dec ? r.dec.reps : 0);
        std::string file = r.has_enc && r.enc.ok && r.enc.out_bytes
                               ? fmt("%.1f", double(r.enc.out_bytes) / kMiB)
                               : "-";
        std::printf(h, r.label.c_str(), fmt("%.1f", double(r.bytes) / kMiB).c_str(), file.c_str(),
                    speed_cell(r.bytes, r.enc, r.has_enc).c_str(),
                    rss_cell(r.bytes, r.enc, r.has_enc).c_str(),
                    speed_cell(r.bytes, r.dec, r.has_dec).c_str(),
                    rss_cell(r.bytes, r.dec, r.has_dec).c_str(), runs.c_str(),
                    cpu_cell(r).c_str(), check_cell(r).c_str());
    }
    for (const Row& r : rows) {
        if (r.has_enc && r.enc.note[0]) std::printf("  %s, encode: %s\n", r.label.c_str(), r.enc.note);
        if (r.has_dec && r.dec.note[0]) std::printf("  %s, decode: %s\n", r.label.c_str(), r.dec.note);
    }
}

void print_small_table(const std::vector<Row>& rows, size_t values) {
    const char* h = "%-22s %8s %9s %9s %8s %9s %9s %9s %8s %9s %-6s\n";
    std::printf(h, "case", "file MB", "enc s", "enc Mv/s", "enc MB/s", "enc RSS", "dec s",
                "dec Mv/s", "dec MB/s", "dec RSS", "check");
    print_rule(114);
    for (const Row& r : rows) {
        auto secs = [](const Measure& m) { return m.ok ? fmt("%.3f", m.best_s) : "FAILED"; };
        auto mvs = [&](const Measure& m) {
            return m.ok ? fmt("%.2f", double(values) / 1e6 / m.best_s) : "-";
        };
        size_t file = r.enc.ok ? size_t(r.enc.out_bytes) : 0;
        auto mbs = [&](const Measure& m) {
            return m.ok && file ? fmt("%.0f", double(file) / kMiB / m.best_s) : "-";
        };
        auto rss = [](const Measure& m) {
            return m.ok ? fmt("%.0f MB", double(m.rss_bytes) / kMiB) : "-";
        };
        std::printf(h, r.label.c_str(), file ? fmt("%.1f", double(file) / kMiB).c_str() : "-",
                    secs(r.enc).c_str(), mvs(r.enc).c_str(), mbs(r.enc).c_str(),
                    rss(r.enc).c_str(), secs(r.dec).c_str(), mvs(r.dec).c_str(),
                    mbs(r.dec).c_str(), rss(r.dec).c_str(), check_cell(r).c_str());
    }
    for (const Row& r : rows) {
        if (r.enc.ok)
            std::printf("  %-20s encode input (doc built, RSS before the save): %.0f MB\n",
                        r.label.c_str(), double(r.enc.input_bytes) / kMiB);
        if (r.enc.note[0]) std::printf("  %s, encode: %s\n", r.label.c_str(), r.enc.note);
        if (r.dec.note[0]) std::printf("  %s, decode: %s\n", r.label.c_str(), r.dec.note);
    }
}

const Row* find_row(const std::vector<Row>& rows, const std::string& label) {
    for (const Row& r : rows)
        if (r.label == label) return &r;
    return nullptr;
}

// "json readable encode: 312 MB/s = 2.9x nlohmann dump (target >=1.5x)  met"
void target_speedup(const char* what, const Row* milo, bool enc, const Row* base,
                    const char* base_name, double target) {
    if (milo == nullptr || base == nullptr) return;
    const Measure& a = enc ? milo->enc : milo->dec;
    const Measure& b = enc ? base->enc : base->dec;
    if (!a.ok || !b.ok) {
        std::printf("  %-34s n/a (a run failed)\n", what);
        return;
    }
    double ratio = mbps(milo->bytes, a) / mbps(base->bytes, b);
    std::printf("  %-34s %7s MB/s = %5.2fx %-22s (target >= %.1fx)  %s\n", what,
                speed_text(mbps(milo->bytes, a)).c_str(), ratio, base_name, target,
                ratio >= target ? "met" : "MISSED");
}

void target_absolute(const char* what, const Row* milo, bool enc, double target_mbps) {
    if (milo == nullptr) return;
    const Measure& a = enc ? milo->enc : milo->dec;
    if (!a.ok) {
        std::printf("  %-34s n/a (run failed)\n", what);
        return;
    }
    double v = mbps(milo->bytes, a);
    std::printf("  %-34s %7s MB/s %-30s (target >= %.0f MB/s)  %s\n", what,
                speed_text(v).c_str(), "", target_mbps, v >= target_mbps ? "met" : "MISSED");
}

// Time ratio (slower is larger): within `limit`x of the baseline.
void target_within(const char* what, const Row* milo, bool enc, const Row* base,
                   const char* base_name, double limit) {
    if (milo == nullptr || base == nullptr) return;
    const Measure& a = enc ? milo->enc : milo->dec;
    const Measure& b = enc ? base->enc : base->dec;
    if (!a.ok || !b.ok) {
        std::printf("  %-34s n/a (a run failed)\n", what);
        return;
    }
    double ratio = a.best_s / b.best_s;
    if (mbps(milo->bytes, a) > kNotReadMBps) {
        std::printf("  %-34s %7s ms (data mapped, not read) = %5.3fx the time of %-6s  %s\n",
                    what, fmt("%.3f", a.best_s * 1e3).c_str(), ratio, base_name,
                    ratio <= limit ? "met" : "MISSED");
        return;
    }
    std::printf("  %-34s %7s MB/s = %5.3fx the time of %-6s   (target <= %.1fx)  %s\n", what,
                speed_text(mbps(milo->bytes, a)).c_str(), ratio, base_name, limit,
                ratio <= limit ? "met" : "MISSED");
}

void info_ratio(const char* what, const Row* milo, bool enc, const Row* base,
                const char* base_name) {
    if (milo == nullptr || base == nullptr) return;
    const Measure& a = enc ? milo->enc : milo->dec;
    const Measure& b = enc ? base->enc : base->dec;
    if (!a.ok || !b.ok) return;
    std::printf("  %-34s %7s MB/s = %5.2fx %s\n", what, speed_text(mbps(milo->bytes, a)).c_str(),
                mbps(milo->bytes, a) / mbps(base->bytes, b), base_name);
}

/* ---------------------------------------------------------------- main */

void usage() {
    std::printf(
        "usage: milo_bench_formats [--quick] [--cpu-time] [--dir DIR] [--keep] [--reps N]\n"
        "                          [--tensor-mb N] [--only TEXT]\n"
        "  --quick       ~1 minute: 10 MB tensor, 1 MB yaml readable, 10^5 small values\n"
        "  --dir DIR     scratch folder (default /tmp/milo-bench; created and removed)\n"
        "  --keep        keep the files written\n"
        "  --reps N      best of up to N runs per operation (default 3, quick 2)\n"
        "  --tensor-mb N size of the float64 tensor in MiB (default 100)\n"
        "  --cpu-time    speeds from process CPU time instead of wall time (busy machines)\n"
        "  --only TEXT   only the cases whose label contains TEXT (small-value cases: \"small \"\n"
        "                + label, e.g. --only \"small milo json\"); for profiling\n");
}

}  // namespace

int main(int argc, char** argv) {
    int reps = 0;
    long tensor_mb = 0;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--quick") {
            g_cfg.quick = true;
        } else if (a == "--cpu-time") {
            g_cfg.cpu_clock = true;
        } else if (a == "--only" && i + 1 < argc) {
            g_cfg.only = argv[++i];
        } else if (a == "--keep") {
            g_cfg.keep = true;
        } else if (a == "--dir" && i + 1 < argc) {
            g_cfg.dir = argv[++i];
        } else if (a == "--reps" && i + 1 < argc) {
            reps = std::atoi(argv[++i]);
        } else if (a == "--tensor-mb" && i + 1 < argc) {
            tensor_mb = std::atol(argv[++i]);
        } else {
            usage();
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    if (g_cfg.quick) {
        g_cfg.tensor_bytes = size_t(10) << 20;
        g_cfg.yaml_readable_bytes = size_t(10) << 20;
        g_cfg.small_values = 100000;
        g_cfg.max_reps = 2;
        g_cfg.rep_budget_s = 2.0;
        g_cfg.timeout_s = 60;
    }
    if (reps > 0) g_cfg.max_reps = reps;
    if (tensor_mb > 0) {
        g_cfg.tensor_bytes = size_t(tensor_mb) << 20;
        g_cfg.yaml_readable_bytes = g_cfg.tensor_bytes;
    }
    const size_t n = g_cfg.tensor_bytes / 8;
    const size_t n_yaml = g_cfg.yaml_readable_bytes / 8;

    bool made_dir = mkdir(g_cfg.dir.c_str(), 0755) == 0;
    if (!made_dir && errno != EEXIST) {
        std::fprintf(stderr, "cannot create %s: %s\n", g_cfg.dir.c_str(), std::strerror(errno));
        return 2;
    }

    auto run_start = Clock::now();
    std::printf("Milo format benchmark%s  (MB = 2^20 bytes; best of up to %d runs per operation)\n",
                g_cfg.quick ? " --quick" : "", g_cfg.max_reps);
    std::printf("clock: %s   load average at start: %s (%ld CPUs)\n",
                g_cfg.cpu_clock ? "process CPU time (--cpu-time)" : "wall (steady_clock)",
                load_average().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
    std::printf("scratch: %s   process baseline RSS: %.1f MB (included in encode RSS)\n",
                g_cfg.dir.c_str(), double(current_rss_bytes()) / kMiB);
    std::printf(
        "enc RSS = peak RSS of the encoding child (input document included) / data bytes;\n"
        "dec RSS = (peak RSS - RSS before the load) / data bytes; the loaded file's mapped pages\n"
        "count. Speeds are data bytes / best time; file writes go to the page cache.\n"
        "cpu%% = CPU time / wall time of the best encode/decode run (well below 100: the machine\n"
        "was busy or the operation waited; above 100: more than one thread).\n\n");

    /* ---- part 1: one float64 tensor */
    std::printf("== 1. Root object with one float64 tensor: %zu elements (%.1f MB), N(0, 0.05) ==\n",
                n, double(n * 8) / kMiB);
    std::vector<Row> rows;
    struct Case {
        std::string format;
        int32_t mode;
    };
    const Case cases[] = {{"json", MILO_TENSORS_READABLE}, {"json", MILO_TENSORS_COMPACT},
                          {"json", MILO_TENSORS_EXTERNAL}, {"yaml", MILO_TENSORS_READABLE},
                          {"yaml", MILO_TENSORS_COMPACT},  {"yaml", MILO_TENSORS_EXTERNAL},
                          {"pb", MILO_TENSORS_COMPACT},    {"pb", MILO_TENSORS_EXTERNAL}};
    for (const Case& c : cases) {
        size_t elems = (c.format == "yaml" && c.mode == MILO_TENSORS_READABLE) ? n_yaml : n;
        Row r;
        r.label = c.format + " " + mode_name(c.mode);
        if (c.format == "pb" && c.mode == MILO_TENSORS_COMPACT) r.label = "pb compact (raw bytes)";
        if (elems != n) r.label += " [" + fmt("%.0f", double(elems * 8) / kMiB) + " MB tensor]";
        r.bytes = elems * 8;
        if (!wanted(r.label)) continue;
        std::string path = bench_path(std::string("tensor-") + c.format + "-" + mode_name(c.mode) +
                                      ext_of(c.format));
        if (c.mode == MILO_TENSORS_EXTERNAL) g_created.push_back(sidecar_of(path));
        progress("", r.label);
        r.enc = run_child([&](Measure& m) { milo_tensor_encode(m, c.format, c.mode, elems, path); });
        if (r.enc.ok) {
            r.dec = run_child([&](Measure& m) { milo_tensor_decode(m, c.format, path, 0); });
        } else {
            set_note(r.dec, "skipped: encode failed");
        }
        rows.push_back(r);
        if (c.mode == MILO_TENSORS_EXTERNAL && r.enc.ok && wanted(c.format + " external, load")) {
            Row nv;
            nv.label = c.format + " external, load NO_VERIFY";
            nv.bytes = r.bytes;
            nv.has_enc = false;
            nv.dec = run_child(
                [&](Measure& m) { milo_tensor_decode(m, c.format, path, MILO_LOAD_NO_VERIFY); });
            rows.push_back(nv);
        }
    }

    progress("baselines", "");
    std::vector<Row> base;
    if (wanted("fwrite / fread (raw bytes)")) {
        Row r;
        r.label = "fwrite / fread (raw bytes)";
        r.bytes = n * 8;
        std::string path = bench_path("raw.bin");
        r.enc = run_child([&](Measure& m) { fwrite_encode(m, n, path); });
        r.dec = run_child([&](Measure& m) { fread_decode(m, n, path); });
        r.dec.checksum = r.dec.ok ? r.dec.checksum : 0;
        base.push_back(r);
    }
    if (wanted("nlohmann dump / parse (array)")) {
        Row r;
        r.label = "nlohmann dump / parse (array)";
        r.bytes = n * 8;
        std::string path = bench_path("nlohmann.json");
        r.enc = run_child([&](Measure& m) { nlohmann_encode(m, n, path); });
        if (r.enc.ok) r.dec = run_child([&](Measure& m) { nlohmann_decode(m, path); });
        base.push_back(r);
    }
    if (wanted("to_chars / from_chars (ideal)")) {
        Row r;
        r.label = "to_chars / from_chars (ideal)";
        r.bytes = n * 8;
        r.enc = run_child([&](Measure& m) { to_chars_encode(m, n); });
        r.dec = run_child([&](Measure& m) { from_chars_decode(m, n); });
        base.push_back(r);
    }
    if (wanted("memcpy + base64 (scalar)")) {
        Row r;
        r.label = "memcpy + base64 (scalar)";
        r.bytes = n * 8;
        r.enc = run_child([&](Measure& m) { base64_encode_job(m, n); });
        r.dec = run_child([&](Measure& m) { base64_decode_job(m, n); });
        base.push_back(r);
    }
    std::vector<Row> all = rows;
    all.insert(all.end(), base.begin(), base.end());
    print_tensor_table(all);

    std::printf("\nTargets (part 1):\n");
    const Row* nl = find_row(base, "nlohmann dump / parse (array)");
    const Row* io = find_row(base, "fwrite / fread (raw bytes)");
    const Row* ideal = find_row(base, "to_chars / from_chars (ideal)");
    const Row* b64 = find_row(base, "memcpy + base64 (scalar)");
    target_speedup("json readable encode:", find_row(rows, "json readable"), true, nl,
                   "nlohmann dump", 1.5);
    target_speedup("json readable decode:", find_row(rows, "json readable"), false, nl,
                   "nlohmann parse", 1.5);
    for (const char* f : {"json", "yaml"}) {
        std::string label = std::string(f) + " compact";
        target_absolute((label + " encode:").c_str(), find_row(rows, label), true, 500);
        target_absolute((label + " decode:").c_str(), find_row(rows, label), false, 500);
    }
    target_absolute("pb compact (raw bytes) encode:", find_row(rows, "pb compact (raw bytes)"),
                    true, 500);
    target_absolute("pb compact (raw bytes) decode:", find_row(rows, "pb compact (raw bytes)"),
                    false, 500);
    for (const char* f : {"json", "yaml", "pb"}) {
        std::string label = std::string(f) + " external";
        target_within((label + " encode:").c_str(), find_row(rows, label), true, io, "fwrite", 2.0);
        target_within((label + " decode:").c_str(), find_row(rows, label), false, io, "fread", 2.0);
        std::string nv = label + ", load NO_VERIFY";
        target_within((nv + ":").c_str(), find_row(rows, nv), false, io, "fread", 2.0);
    }
    for (const char* f : {"json", "yaml", "pb"}) {
        const Row* r = find_row(rows, std::string(f) + " external");
        if (r == nullptr) continue;
        std::printf("  %-34s %s\n", (std::string(f) + " external zero-copy load:").c_str(),
                    !r->dec.ok ? "n/a (run failed)" : r->dec.zero_copy == 1 ? "yes" : "no");
    }
    std::printf("Context:\n");
    info_ratio("json readable encode:", find_row(rows, "json readable"), true, ideal,
               "of to_chars loop");
    info_ratio("json readable decode:", find_row(rows, "json readable"), false, ideal,
               "of from_chars loop");
    if (const Row* jr = find_row(rows, "json readable"); jr && nl && jr->enc.ok && nl->enc.ok &&
                                                          nl->enc.extra_s > 0) {
        double nl_s = nl->enc.best_s + nl->enc.extra_s;
        std::printf("  %-34s %7s MB/s = %5.2fx nlohmann dump + fwrite of the text (%.2f s + %.2f s)\n",
                    "json readable encode:", speed_text(mbps(jr->bytes, jr->enc)).c_str(),
                    nl_s / jr->enc.best_s, nl->enc.best_s, nl->enc.extra_s);
    }
    info_ratio("json compact encode:", find_row(rows, "json compact"), true, b64,
               "of memcpy+base64");
    info_ratio("json compact decode:", find_row(rows, "json compact"), false, b64,
               "of memcpy+base64");

    /* ---- part 3: many small values */
    size_t sv = g_cfg.small_values;
    std::printf("\n== 3. %zu small values: a list of %zu maps {id: int, w: float, name: string, "
                "ok: bool} ==\n",
                sv, sv / 4);
    std::vector<Row> small;
    for (const char* f : {"json", "yaml", "pb"}) {
        Row r;
        r.label = std::string("milo ") + f;
        if (!wanted("small " + r.label)) continue;
        std::string path = bench_path(std::string("small-") + f + ext_of(f));
        progress("small ", f);
        std::string format = f;
        r.enc = run_child([&](Measure& m) { milo_small_encode(m, format, path); });
        if (r.enc.ok) r.dec = run_child([&](Measure& m) { milo_small_decode(m, format, path); });
        small.push_back(r);
    }
    if (wanted("small nlohmann dump / parse")) {
        Row r;
        r.label = "nlohmann dump / parse";
        std::string path = bench_path("small-nlohmann.json");
        r.enc = run_child([&](Measure& m) { nlohmann_small_encode(m, path); });
        if (r.enc.ok) r.dec = run_child([&](Measure& m) { nlohmann_small_decode(m, path); });
        small.push_back(r);
    }
    print_small_table(small, sv);
    const Row* mj = find_row(small, "milo json");
    const Row* nj = find_row(small, "nlohmann dump / parse");
    if (mj && nj && mj->enc.ok && mj->dec.ok && nj->enc.ok && nj->dec.ok) {
        std::printf("  milo json vs nlohmann: encode %.2fx, decode %.2fx (values/s ratio)\n",
                    nj->enc.best_s / mj->enc.best_s, nj->dec.best_s / mj->dec.best_s);
    }

    progress("done", "");
    std::printf("\nload average at the end: %s (%ld CPUs); total %.0f s\n", load_average().c_str(),
                sysconf(_SC_NPROCESSORS_ONLN), since(run_start));
    if (!g_cfg.keep) {
        for (const std::string& p : g_created) unlink(p.c_str());
        if (made_dir) rmdir(g_cfg.dir.c_str());
    }
    return 0;
}
