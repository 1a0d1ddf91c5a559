// ONNX import benchmark: how long Milo takes to turn an .onnx file into a document (the onnx
// plugin through the registry), and to save that document as JSON with compact or external
// tensors, next to plain protobuf parsing of the same file (the baseline) and, when the project
// virtualenv exists, Python's onnx.load. Two models side by side: (a) the light ResNet-50 of the
// fixture corpus (graph-heavy, 80 KB) and (b) a generated ~500 MB model (weight-heavy).
//
// Not a test: no thresholds, never registered with CTest. See tests/bench/README.md.
#include <fcntl.h>
#include <malloc.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <google/protobuf/arena.h>
#include <onnx/onnx_pb.h>

#include "milo/hash.h"
#include "milo/milo.hpp"
#include "onnx_import.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr double kMiB = 1024.0 * 1024.0;

struct Config {
    int reps = 5;
    bool quick = false;
    bool keep = false;
    bool python = true;
    bool warm_heap = false;
    double model_mb = 500;
    std::string dir = "/tmp/milo-bench-onnx";
    std::string resnet = std::string(MILO_ONNX_FIXTURES_DIR) + "/light/light_resnet50.onnx";
    std::string python_exe = MILO_BENCH_PYTHON;
};
Config g_cfg;

// ------------------------------------------------------------------ timing

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) * 1e-9;
}

struct Timing {
    bool ok = false;
    double median_s = 0;  // per operation
    double cpu_share = 0; // CPU time / wall time of the runs (>1: more than one thread)
    std::string note;
};

// One measured operation. A run repeats `op` `inner` times (enough for >= 50 ms: small models
// take well under a millisecond) and counts the time per operation.
struct Measured {
    std::function<void()> op;
    int inner = 1;
    std::vector<double> runs;
    double wall = 0, cpu = 0;
    std::string error;

    void calibrate() {  // also the warm-up
        for (;;) {
            const auto t0 = Clock::now();
            for (int i = 0; i < inner; ++i) op();
            const double s = std::chrono::duration<double>(Clock::now() - t0).count();
            if (s >= 0.05 || inner >= (1 << 20)) break;
            inner = s <= 0 ? inner * 100 : std::max(inner * 2, int(inner * 0.06 / s) + 1);
        }
    }
    void run_once() {
        const double c0 = cpu_seconds();
        const auto t0 = Clock::now();
        for (int i = 0; i < inner; ++i) op();
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        cpu += cpu_seconds() - c0;
        wall += s;
        runs.push_back(s / inner);
    }
    Timing result() const {
        Timing t;
        t.note = error;
        if (runs.empty()) return t;
        std::vector<double> r = runs;
        std::sort(r.begin(), r.end());
        t.median_s = r[r.size() / 2];
        t.cpu_share = wall > 0 ? cpu / wall : 0;
        t.ok = true;
        return t;
    }
};

// Measures every operation of `ops` g_cfg.reps times, interleaved (round r runs each operation
// once), so that a slow spell of the machine hits all of them alike rather than one case.
void measure_interleaved(std::vector<Measured>& ops) {
    for (auto& m : ops) {
        try {
            m.calibrate();
        } catch (const std::exception& e) {
            m.error = e.what();
        }
    }
    for (int r = 0; r < g_cfg.reps; ++r)
        for (auto& m : ops) {
            if (!m.error.empty()) continue;
            try {
                m.run_once();
            } catch (const std::exception& e) {
                m.error = e.what();
                m.runs.clear();
            }
        }
}

// ------------------------------------------------------------------ files

std::string read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw std::runtime_error("cannot open " + path + ": " + std::strerror(errno));
    struct stat st {};
    ::fstat(fd, &st);
    std::string out(size_t(st.st_size), '\0');
    size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::read(fd, &out[done], out.size() - done);
        if (n <= 0) {
            ::close(fd);
            throw std::runtime_error("cannot read " + path);
        }
        done += size_t(n);
    }
    ::close(fd);
    return out;
}

double file_mb(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? double(st.st_size) / kMiB : 0;
}

// ------------------------------------------------------------------ the generated model

// A plausible convolutional network whose ~100 weight tensors fill about `mb` MiB of raw_data:
// `layers` Conv(3x3, C→C, pad 1) + Relu with weights [C, C, 3, 3] and biases [C], then
// GlobalAveragePool, Flatten and Gemm to 1000 classes. Values are deterministic noise.
void write_generated(const std::string& path, double mb) {
    const int layers = 99;
    // 99 * C*C*9*4 bytes + the Gemm's 1000*C*4 ≈ mb MiB
    int c = 8;
    while (double(layers) * (c + 8.0) * (c + 8.0) * 36.0 + 4000.0 * (c + 8) <= mb * kMiB) c += 8;
    uint64_t state = 0x9e3779b97f4a7c15ull;
    auto fill = [&](onnx::TensorProto* t, size_t count) {
        std::string* raw = t->mutable_raw_data();
        raw->resize(count * 4);
        float* p = reinterpret_cast<float*>(&(*raw)[0]);
        for (size_t i = 0; i < count; ++i) {
            state ^= state << 13, state ^= state >> 7, state ^= state << 17;  // xorshift64
            p[i] = float(int64_t(state >> 40) - (int64_t(1) << 23)) * (0.05f / float(1 << 23));
        }
    };
    auto tensor = [&](onnx::GraphProto* g, const std::string& name, std::vector<int64_t> dims) {
        onnx::TensorProto* t = g->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        size_t count = 1;
        for (int64_t d : dims) t->add_dims(d), count *= size_t(d);
        fill(t, count);
    };
    auto ints = [](onnx::NodeProto* n, const char* name, std::vector<int64_t> v) {
        onnx::AttributeProto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (int64_t x : v) a->add_ints(x);
    };
    auto value_info = [](onnx::ValueInfoProto* v, const std::string& name,
                         std::vector<int64_t> dims) {
        v->set_name(name);
        auto* tt = v->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        for (int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
    };

    onnx::ModelProto model;
    model.set_ir_version(8);
    model.set_producer_name("milo_bench_onnx");
    model.add_opset_import()->set_version(17);
    onnx::GraphProto* g = model.mutable_graph();
    g->set_name("generated_convnet");
    value_info(g->add_input(), "x", {1, c, 56, 56});
    std::string x = "x";
    for (int i = 0; i < layers; ++i) {
        const std::string w = "conv" + std::to_string(i) + ".weight";
        const std::string b = "conv" + std::to_string(i) + ".bias";
        tensor(g, w, {c, c, 3, 3});
        tensor(g, b, {c});
        onnx::NodeProto* conv = g->add_node();
        conv->set_op_type("Conv");
        conv->set_name("conv" + std::to_string(i));
        conv->add_input(x), conv->add_input(w), conv->add_input(b);
        conv->add_output("conv" + std::to_string(i) + ".out");
        ints(conv, "kernel_shape", {3, 3});
        ints(conv, "pads", {1, 1, 1, 1});
        ints(conv, "strides", {1, 1});
        onnx::NodeProto* relu = g->add_node();
        relu->set_op_type("Relu");
        relu->set_name("relu" + std::to_string(i));
        relu->add_input(conv->output(0));
        x = "relu" + std::to_string(i) + ".out";
        relu->add_output(x);
    }
    onnx::NodeProto* pool = g->add_node();
    pool->set_op_type("GlobalAveragePool");
    pool->add_input(x), pool->add_output("pool");
    onnx::NodeProto* flat = g->add_node();
    flat->set_op_type("Flatten");
    flat->add_input("pool"), flat->add_output("flat");
    tensor(g, "fc.weight", {1000, c});
    tensor(g, "fc.bias", {1000});
    onnx::NodeProto* gemm = g->add_node();
    gemm->set_op_type("Gemm");
    gemm->add_input("flat"), gemm->add_input("fc.weight"), gemm->add_input("fc.bias");
    gemm->add_output("logits");
    onnx::AttributeProto* tb = gemm->add_attribute();
    tb->set_name("transB"), tb->set_type(onnx::AttributeProto::INT), tb->set_i(1);
    value_info(g->add_output(), "logits", {1, 1000});

    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || !model.SerializeToFileDescriptor(fd) || ::close(fd) != 0)
        throw std::runtime_error("cannot write " + path);
}

// ------------------------------------------------------------------ the cases

const milo::Registry& registry() {
    static milo::Registry* reg = [] {
        auto* r = new milo::Registry();
        r->load_plugin(MILO_ONNX_PLUGIN);
        return r;
    }();
    return *reg;
}

void protobuf_parse(const std::string& path) {
    const std::string bytes = read_file(path);
    onnx::ModelProto m;
    if (!m.ParseFromArray(bytes.data(), int(bytes.size())))
        throw std::runtime_error("protobuf refuses " + path);
}

milo::Doc milo_import(const std::string& path) {
    const std::string bytes = read_file(path);
    return registry().decode_native(bytes, "onnx", path.c_str());
}

void milo_import_save(const std::string& path, int32_t tensors, const std::string& out) {
    milo::Doc doc = milo_import(path);
    milo::SaveOptions o;
    o.format = "json";
    o.tensors = tensors;
    registry().save(doc, out, o);
}

// Python's onnx.load, timed inside the interpreter (start-up and import excluded): prints the
// median seconds per load, or nothing when the venv or onnx is missing.
Timing python_load(const std::string& path) {
    Timing t;
    if (!g_cfg.python || ::access(g_cfg.python_exe.c_str(), X_OK) != 0) {
        t.note = "no venv";
        return t;
    }
    const std::string script =
        "import sys, time, statistics\n"
        "import onnx\n"
        "path, reps = sys.argv[1], int(sys.argv[2])\n"
        "inner = 1\n"
        "while True:\n"
        "    t0 = time.perf_counter()\n"
        "    for _ in range(inner): onnx.load(path)\n"
        "    s = time.perf_counter() - t0\n"
        "    if s >= 0.05: break\n"
        "    inner *= 2\n"
        "runs = []\n"
        "for _ in range(reps):\n"
        "    t0 = time.perf_counter()\n"
        "    for _ in range(inner): onnx.load(path)\n"
        "    runs.append((time.perf_counter() - t0) / inner)\n"
        "print(statistics.median(runs))\n";
    const std::string script_path = g_cfg.dir + "/onnx_load.py";
    std::ofstream(script_path) << script;
    const std::string cmd = "'" + g_cfg.python_exe + "' '" + script_path + "' '" + path + "' " +
                            std::to_string(g_cfg.reps) + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) return t;
    char buf[128] = {0};
    const bool got = std::fgets(buf, sizeof buf, p) != nullptr;
    const int status = ::pclose(p);
    if (got && status == 0) {
        t.median_s = std::atof(buf);
        t.ok = t.median_s > 0;
    } else {
        t.note = "python failed";
    }
    ::unlink(script_path.c_str());
    return t;
}

struct Row {
    std::string label;
    Timing t[2];
};

std::string cell(const Timing& t, double mb, const Timing& base) {
    char buf[96];
    if (!t.ok) {
        std::snprintf(buf, sizeof buf, "%-33s", ("-  " + t.note).substr(0, 33).c_str());
        return buf;
    }
    const double ms = t.median_s * 1e3;
    const char* fmt = ms < 10 ? "%9.3f %8.1f %6.2fx" : "%9.1f %8.1f %6.2fx";
    std::snprintf(buf, sizeof buf, fmt, ms, mb / t.median_s,
                  base.ok ? t.median_s / base.median_s : 0.0);
    char cpu[16] = "    -";  // not measured (another process)
    if (t.cpu_share > 0) std::snprintf(cpu, sizeof cpu, " %4.0f", t.cpu_share * 100);
    return buf + std::string(cpu);
}

std::string load_average() {
    std::ifstream f("/proc/loadavg");
    std::string a, b, c;
    f >> a >> b >> c;
    return a + " " + b + " " + c;
}

void usage() {
    std::puts(
        "milo_bench_onnx [--quick] [--reps N] [--model-mb N] [--dir DIR] [--keep]\n"
        "                [--resnet PATH] [--python PATH | --no-python] [--warm-heap]\n"
        "  --quick       generated model of 50 MB instead of 500, 3 runs\n"
        "  --reps N      median of N runs per case (default 5)\n"
        "  --model-mb N  size of the generated model in MiB (default 500)\n"
        "  --dir DIR     scratch folder (default /tmp/milo-bench-onnx; its files are removed)\n"
        "  --keep        keep the generated model and the saved documents\n"
        "  --resnet PATH model (a) (default: the fixture light_resnet50.onnx)\n"
        "  --python PATH interpreter with onnx for the onnx.load row (default: the project venv)\n"
        "  --warm-heap   keep freed memory in the process (no mmap, no trim), so that repeated\n"
        "                runs reuse pages instead of faulting in fresh ones: CPU cost without the\n"
        "                page-fault cost of half-gigabyte buffers (the Python row is unaffected)");
}

}  // namespace

int main(int argc, char** argv) {
    bool reps_given = false, mb_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                usage();
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--quick") g_cfg.quick = true;
        else if (a == "--keep") g_cfg.keep = true;
        else if (a == "--no-python") g_cfg.python = false;
        else if (a == "--warm-heap") g_cfg.warm_heap = true;
        else if (a == "--reps") g_cfg.reps = std::max(1, std::atoi(next().c_str())), reps_given = true;
        else if (a == "--model-mb") g_cfg.model_mb = std::atof(next().c_str()), mb_given = true;
        else if (a == "--dir") g_cfg.dir = next();
        else if (a == "--resnet") g_cfg.resnet = next();
        else if (a == "--python") g_cfg.python_exe = next();
        else {
            usage();
            return a == "--help" || a == "-h" ? 0 : 2;
        }
    }
    if (g_cfg.warm_heap) {
        mallopt(M_MMAP_MAX, 0);              // large buffers come from the heap too …
        mallopt(M_TRIM_THRESHOLD, INT_MAX);  // … and stay there when freed
    }
    if (g_cfg.quick) {
        if (!reps_given) g_cfg.reps = 3;
        if (!mb_given) g_cfg.model_mb = 50;
    }
    if (::mkdir(g_cfg.dir.c_str(), 0755) != 0 && errno != EEXIST) {
        std::fprintf(stderr, "cannot create %s: %s\n", g_cfg.dir.c_str(), std::strerror(errno));
        return 2;
    }
    const std::string generated = g_cfg.dir + "/generated.onnx";
    const auto start = Clock::now();
    const std::string load_at_start = load_average();

    const std::string models[2] = {g_cfg.resnet, generated};
    double mb[2] = {file_mb(models[0]), 0};

    // Each case makes, for model m, the operation to time (its set-up runs here, untimed).
    // All cases of model (a) run first, then those of (b): the half-gigabyte allocations of
    // (b) would otherwise disturb the sub-millisecond timings of (a).
    using Make = std::function<std::function<void()>(int)>;
    std::vector<Row> rows, parts;
    std::vector<std::pair<std::vector<Row>*, Make>> cases;
    auto add = [&](std::vector<Row>& into, const std::string& label, Make make) {
        into.push_back(Row{label, {}});
        cases.push_back({&into, std::move(make)});
    };
    auto out_path = [&](int m, const char* what) {
        return g_cfg.dir + "/" + (m == 0 ? "a" : "b") + "-" + what + ".json";
    };
    std::string bytes;  // the model's file, read once, for the "in memory" steps

    add(rows, "protobuf ParseFromArray (baseline)", [&](int m) -> std::function<void()> {
        return [&, m] { protobuf_parse(models[m]); };
    });
    add(rows, "milo import (decode_native)", [&](int m) -> std::function<void()> {
        return [&, m] { milo_import(models[m]); };
    });
    add(rows, "milo import + save json compact", [&](int m) -> std::function<void()> {
        return [&, m] { milo_import_save(models[m], MILO_TENSORS_COMPACT, out_path(m, "compact")); };
    });
    add(rows, "milo import + save json external", [&](int m) -> std::function<void()> {
        return [&, m] {
            milo_import_save(models[m], MILO_TENSORS_EXTERNAL, out_path(m, "external"));
        };
    });
    // Where the time goes: the steps of an import, each alone.
    add(parts, "read the file", [&](int m) -> std::function<void()> {
        return [&, m] { read_file(models[m]); };
    });
    add(parts, "protobuf parse, in memory", [&](int) -> std::function<void()> {
        return [&] {
            onnx::ModelProto p;
            p.ParseFromArray(bytes.data(), int(bytes.size()));
        };
    });
    add(parts, "protobuf parse on an arena, in memory", [&](int) -> std::function<void()> {
        return [&] {
            google::protobuf::Arena arena;
            auto* p = google::protobuf::Arena::CreateMessage<onnx::ModelProto>(&arena);
            p->ParseFromArray(bytes.data(), int(bytes.size()));
        };
    });
    add(parts, "sha256 of the file, in memory", [&](int) -> std::function<void()> {
        return [&] {
            char sha[65];
            milo_hash_sha256(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), sha);
        };
    });
    add(parts, "milo import, in memory", [&](int m) -> std::function<void()> {
        return [&, m] { registry().decode_native(bytes, "onnx", models[m].c_str()); };
    });
    // the importer itself without source.sha256: what the provenance hash costs
    static const milo::onnx_import::Schema schema;
    add(parts, "milo import without the source hash", [&](int m) -> std::function<void()> {
        return [&, m] {
            milo::Doc doc;
            milo::onnx_import::import_model(schema, doc,
                                            reinterpret_cast<const uint8_t*>(bytes.data()),
                                            bytes.size(), models[m].c_str(), false);
        };
    });
    for (int32_t mode : {MILO_TENSORS_COMPACT, MILO_TENSORS_EXTERNAL}) {
        const bool compact = mode == MILO_TENSORS_COMPACT;
        add(parts, compact ? "save json compact of an imported doc"
                           : "save json external of an imported doc",
            [&, mode, compact](int m) -> std::function<void()> {
                auto doc = std::make_shared<milo::Doc>(
                    registry().decode_native(bytes, "onnx", models[m].c_str()));
                milo::SaveOptions o;
                o.format = "json";
                o.tensors = mode;
                const std::string out = out_path(m, compact ? "compact" : "external");
                return [doc, o, out] { registry().save(*doc, out, o); };
            });
    }

    for (int m = 0; m < 2; ++m) {
        if (m == 1) {
            std::fprintf(stderr, "writing the generated model (%.0f MB) ...\n", g_cfg.model_mb);
            write_generated(generated, g_cfg.model_mb);
            mb[1] = file_mb(generated);
        }
        std::fprintf(stderr, "model %s: %d cases, %d interleaved rounds ...\n",
                     m == 0 ? "(a)" : "(b)", int(cases.size()), g_cfg.reps);
        bytes = read_file(models[m]);
        std::vector<Measured> ops(cases.size());
        for (size_t i = 0; i < cases.size(); ++i) {
            try {
                ops[i].op = cases[i].second(m);
            } catch (const std::exception& e) {
                ops[i].error = e.what();
            }
        }
        measure_interleaved(ops);
        size_t row[2] = {0, 0};  // next row of `rows` and of `parts`
        for (size_t i = 0; i < cases.size(); ++i)
            (*cases[i].first)[row[cases[i].first == &parts]++].t[m] = ops[i].result();
        ops.clear();  // the documents of the save cases
        std::string().swap(bytes);
    }
    // Python times itself in its own process (its own loop, same rules).
    rows.push_back(Row{"python onnx.load (venv)", {}});
    for (int m = 0; m < 2; ++m) {
        std::fprintf(stderr, "python onnx.load %s ...\n", m == 0 ? "(a)" : "(b)");
        rows.back().t[m] = python_load(models[m]);
    }

    // ---- report
    const Timing base[2] = {rows[0].t[0], rows[0].t[1]};
    std::printf("Milo ONNX import benchmark (MB = 2^20 bytes; median of %d runs; a run of a small\n"
                "model repeats the operation for >= 50 ms and counts the time per operation)\n",
                g_cfg.reps);
    std::printf("load average at start: %s (%ld CPUs)%s\n", load_at_start.c_str(),
                sysconf(_SC_NPROCESSORS_ONLN),
                g_cfg.warm_heap ? "; --warm-heap: freed memory is reused, not returned" : "");
    std::printf("(a) %s: %.3f MB\n", models[0].c_str(), mb[0]);
    std::printf("(b) generated: %.1f MB (99 Conv 3x3 + Relu, Gemm; 200 float32 initializers in "
                "raw_data)\n", mb[1]);
    std::printf("ms = median time per operation; MB/s = model file MB / ms; x base = time / "
                "protobuf baseline;\ncpu%% = CPU / wall time (above 100: more than one thread)\n\n");
    std::printf("%-40s|%34s |%34s\n", "", "(a) light_resnet50   ", "(b) generated   ");
    std::printf("%-40s|%9s %8s %7s %4s |%9s %8s %7s %4s\n", "case", "ms", "MB/s", "x base", "cpu%",
                "ms", "MB/s", "x base", "cpu%");
    std::printf("%s\n", std::string(40 + 2 * 36, '-').c_str());
    for (const Row& r : rows)
        std::printf("%-40s|%s |%s\n", r.label.c_str(), cell(r.t[0], mb[0], base[0]).c_str(),
                    cell(r.t[1], mb[1], base[1]).c_str());
    std::printf("\nSteps alone (same columns; \"in memory\": the file already read):\n");
    for (const Row& r : parts)
        std::printf("%-40s|%s |%s\n", r.label.c_str(), cell(r.t[0], mb[0], base[0]).c_str(),
                    cell(r.t[1], mb[1], base[1]).c_str());

    std::printf("\nTarget (issue 5): import time <= 1.5x the protobuf parse, in compact and "
                "external mode\n");
    for (size_t i = 1; i <= 3; ++i)
        for (int m = 0; m < 2; ++m) {
            const Timing& t = rows[i].t[m];
            if (!t.ok || !base[m].ok) continue;
            const double x = t.median_s / base[m].median_s;
            std::printf("  %-36s %s %6.2fx the protobuf parse  %s\n", rows[i].label.c_str(),
                        m == 0 ? "(a)" : "(b)", x, x <= 1.5 ? "met" : "MISSED");
        }
    const double total = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("\nload average at the end: %s; total %.0f s\n", load_average().c_str(), total);

    if (!g_cfg.keep) {
        for (int m = 0; m < 2; ++m)
            for (const char* w : {"compact", "external"}) {
                const std::string p = out_path(m, w);
                ::unlink(p.c_str());
                ::unlink((p.substr(0, p.size() - 5) + ".safetensors").c_str());
            }
        ::unlink(generated.c_str());
        ::rmdir(g_cfg.dir.c_str());
    } else {
        std::printf("kept: %s and the saved documents in %s\n", generated.c_str(),
                    g_cfg.dir.c_str());
    }
    return 0;
}
