// Saving, loading and converting: formats and transporters meet files here.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "document.hpp"
#include "milo/milo_codec.hpp"
#include "registry.hpp"
#include "sha256.hpp"
#include "status.hpp"

using milo::core::fail;

namespace {

constexpr size_t kProbeBytes = 64 * 1024;
constexpr uint64_t kDefaultReadableMax = 64 * 1024;
constexpr uint64_t kMaxSafetensorsHeader = 100u << 20;

/* ---------------------------------------------------------------- files */

// A read-only memory mapping shared by the tensors that point into it.
struct Mapping {
    const uint8_t* data = nullptr;
    size_t size = 0;
    std::atomic<long> refs{1};
    bool mapped = false;

    static void release(void* context) {
        auto* m = static_cast<Mapping*>(context);
        if (m->refs.fetch_sub(1) == 1) {
            if (m->mapped) munmap(const_cast<uint8_t*>(m->data), m->size);
            delete m;
        }
    }
};

struct MappingRef {  // the loader's own reference
    Mapping* m = nullptr;
    ~MappingRef() {
        if (m) Mapping::release(m);
    }
};

milo_status map_file(const char* path, Mapping** out, milo_error* error) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return fail(error, errno == ENOENT ? MILO_ERR_NOT_FOUND : MILO_ERR_IO, "%s: cannot open: %s",
                    path, std::strerror(errno));
    struct stat st{};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(error, MILO_ERR_IO, "%s: cannot stat: %s", path, std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return fail(error, MILO_ERR_IO, "%s: not a regular file", path);
    }
    auto* m = new (std::nothrow) Mapping;
    if (m == nullptr) {
        close(fd);
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    m->size = static_cast<size_t>(st.st_size);
    if (m->size > 0) {
        void* p = mmap(nullptr, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            delete m;
            return fail(error, MILO_ERR_IO, "%s: cannot map: %s", path, std::strerror(e));
        }
        m->data = static_cast<const uint8_t*>(p);
        m->mapped = true;
    } else {
        static const uint8_t empty = 0;
        m->data = &empty;
    }
    close(fd);
    *out = m;
    return MILO_OK;
}

// Writes to "<path>.tmp-XXXXXX" in the same folder and renames over `path` on commit, so a
// reader never sees a half-written file and a failed save leaves the old file in place.
class AtomicFile {
public:
    ~AtomicFile() {
        if (fd_ >= 0) {
            close(fd_);
            unlink(tmp_.c_str());
        }
    }

    milo_status open(const char* path, milo_error* error) {
        path_ = path;
        tmp_ = path_ + ".tmp-XXXXXX";
        fd_ = mkstemp(tmp_.data());
        if (fd_ < 0)
            return fail(error, MILO_ERR_IO, "%s: cannot create a temporary file: %s", path,
                        std::strerror(errno));
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd_, 0666 & ~mask);
        buffer_.reserve(kBuffer);
        return MILO_OK;
    }

    static milo_status write_cb(void* context, const void* data, size_t size, milo_error* error) {
        return static_cast<AtomicFile*>(context)->write(data, size, error);
    }

    milo_status write(const void* data, size_t size, milo_error* error) {
        if (size >= kBuffer) {
            if (milo_status s = flush(error)) return s;
            return write_all(static_cast<const uint8_t*>(data), size, error);
        }
        if (buffer_.size() + size > kBuffer)
            if (milo_status s = flush(error)) return s;
        buffer_.insert(buffer_.end(), static_cast<const uint8_t*>(data),
                       static_cast<const uint8_t*>(data) + size);
        return MILO_OK;
    }

    milo_status commit(milo_error* error) {
        if (milo_status s = flush(error)) return s;
        if (close(fd_) != 0) {
            fd_ = -1;
            unlink(tmp_.c_str());
            return fail(error, MILO_ERR_IO, "%s: cannot close: %s", path_.c_str(),
                        std::strerror(errno));
        }
        fd_ = -1;
        if (rename(tmp_.c_str(), path_.c_str()) != 0) {
            int e = errno;
            unlink(tmp_.c_str());
            return fail(error, MILO_ERR_IO, "%s: cannot rename the temporary file: %s",
                        path_.c_str(), std::strerror(e));
        }
        return MILO_OK;
    }

private:
    static constexpr size_t kBuffer = 1 << 20;

    milo_status flush(milo_error* error) {
        milo_status s = write_all(buffer_.data(), buffer_.size(), error);
        buffer_.clear();
        return s;
    }

    milo_status write_all(const uint8_t* p, size_t n, milo_error* error) {
        while (n > 0) {
            ssize_t w = ::write(fd_, p, n);
            if (w < 0) {
                if (errno == EINTR) continue;
                return fail(error, MILO_ERR_IO, "%s: write failed: %s", path_.c_str(),
                            std::strerror(errno));
            }
            p += w;
            n -= static_cast<size_t>(w);
        }
        return MILO_OK;
    }

    std::string path_, tmp_;
    int fd_ = -1;
    std::vector<uint8_t> buffer_;
};

std::string dirname_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

std::string basename_of(const std::string& path) {
    size_t slash = path.rfind('/');
    return slash == std::string::npos ? path : path.substr(slash + 1);
}

/* ---------------------------------------------------------------- saving */

struct SaveOptions {
    const char* format = nullptr;
    int32_t tensors = MILO_TENSORS_AUTO;
    int32_t indent = 2;
    uint64_t readable_max = kDefaultReadableMax;
    uint64_t external_min = 1;
};

milo_status read_save_options(const milo_save_options* o, SaveOptions* out, milo_error* error) {
    if (o == nullptr) return MILO_OK;
    // growable struct: read only what the caller's struct_size covers
    auto has = [&](size_t end) { return o->struct_size >= end; };
    if (o->struct_size < offsetof(milo_save_options, format))
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "milo_save_options.struct_size is too small");
    if (has(offsetof(milo_save_options, format) + sizeof o->format)) out->format = o->format;
    if (has(offsetof(milo_save_options, tensors) + sizeof o->tensors)) out->tensors = o->tensors;
    if (has(offsetof(milo_save_options, indent) + sizeof o->indent) && o->indent >= 0)
        out->indent = o->indent;
    if (has(offsetof(milo_save_options, readable_max_bytes) + sizeof o->readable_max_bytes) &&
        o->readable_max_bytes != 0)
        out->readable_max = o->readable_max_bytes;
    if (has(offsetof(milo_save_options, external_min_bytes) + sizeof o->external_min_bytes) &&
        o->external_min_bytes != 0)
        out->external_min = o->external_min_bytes;
    if (out->tensors < MILO_TENSORS_AUTO || out->tensors > MILO_TENSORS_EXTERNAL)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "unknown tensor storage mode %d",
                    out->tensors);
    if (out->indent > 16)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "indent %d is above 16", out->indent);
    return MILO_OK;
}

// Decides per tensor how a format stores it.
struct StoragePolicy {
    SaveOptions opts;
    std::unordered_map<const milo_value*, std::string> external;  // tensor → name

    static int32_t callback(void* context, const milo_value* tensor, const char** name) {
        auto* p = static_cast<StoragePolicy*>(context);
        const auto& t = *tensor->tensor;
        if (t.dtype == MILO_DTYPE_OBJECT || t.dtype == MILO_DTYPE_STRING)
            return MILO_TENSORS_READABLE;
        auto it = p->external.find(tensor);
        if (it != p->external.end()) {
            if (name) *name = it->second.c_str();
            return MILO_TENSORS_EXTERNAL;
        }
        switch (p->opts.tensors) {
            case MILO_TENSORS_READABLE: return MILO_TENSORS_READABLE;
            case MILO_TENSORS_COMPACT: return MILO_TENSORS_COMPACT;
            case MILO_TENSORS_EXTERNAL:
                if (t.dtype == MILO_DTYPE_RECORD) return MILO_TENSORS_COMPACT;
                [[fallthrough]];
            default:
                return t.nbytes <= p->opts.readable_max ? MILO_TENSORS_READABLE
                                                        : MILO_TENSORS_COMPACT;
        }
    }
};

std::string json_quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        unsigned char u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", u);
            out += buf;
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// Numeric tensors that go to the sidecar, named by document path, in document order.
struct ExternalPlan {
    std::vector<const milo_value*> tensors;
    std::vector<std::string> names;
};

void plan_external(const milo_doc& doc, const SaveOptions& opts, ExternalPlan* plan) {
    if (doc.root == nullptr) return;
    struct Frame { const milo_value* v; std::string path; };
    std::vector<Frame> stack{{doc.root, ""}};
    std::unordered_set<const milo_value*> seen;
    std::unordered_set<std::string> used;
    auto join = [](const std::string& a, const std::string& b) {
        return a.empty() ? b : a + "." + b;
    };
    while (!stack.empty()) {
        Frame f = std::move(stack.back());
        stack.pop_back();
        const milo_value* v = f.v;
        if (!milo::codec::kind_has_identity(v->kind)) continue;
        if (!seen.insert(v).second) continue;
        std::vector<Frame> kids;
        switch (v->kind) {
            case MILO_KIND_LIST:
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
                for (size_t i = 0; i < v->items.size(); ++i)
                    kids.push_back({v->items[i], join(f.path, std::to_string(i))});
                break;
            case MILO_KIND_MAP:
                for (size_t i = 0; i < v->items.size(); ++i) {
                    const milo_value* k = v->keys[i];
                    std::string token = k->kind == MILO_KIND_STRING ? k->text
                                        : k->kind == MILO_KIND_INT  ? k->text
                                                                    : "{" + std::to_string(i) + "}";
                    kids.push_back({k, join(f.path, "{key " + std::to_string(i) + "}")});
                    kids.push_back({v->items[i], join(f.path, token)});
                }
                break;
            case MILO_KIND_OBJECT:
                if (v->args) kids.push_back({v->args, join(f.path, "args")});
                if (v->state) kids.push_back({v->state, join(f.path, "state")});
                break;
            case MILO_KIND_TENSOR: {
                const auto& t = *v->tensor;
                if (t.dtype == MILO_DTYPE_OBJECT) {
                    for (size_t i = 0; i < t.items.size(); ++i)
                        kids.push_back({t.items[i], join(f.path, std::to_string(i))});
                } else if (milo::codec::dtype_is_numeric(t.dtype) &&
                           milo::codec::dtype_info(t.dtype)->safetensors != nullptr &&
                           t.nbytes >= opts.external_min) {
                    std::string name = f.path.empty() ? std::string("root") : f.path;
                    if (used.count(name)) {
                        int n = 2;
                        while (used.count(name + "#" + std::to_string(n))) ++n;
                        name += "#" + std::to_string(n);
                    }
                    used.insert(name);
                    plan->tensors.push_back(v);
                    plan->names.push_back(name);
                }
                break;
            }
            default: break;
        }
        for (size_t i = kids.size(); i-- > 0;) stack.push_back(std::move(kids[i]));
    }
}

// Writes the sidecar in the safetensors layout into `file` (not yet committed, so the caller
// can commit it together with the document); returns its sha256.
milo_status write_sidecar(AtomicFile& file, const std::string& path, const ExternalPlan& plan,
                          std::string* sha, milo_error* error) {
    std::string header = "{\"__metadata__\":{\"format\":\"milo\"}";
    uint64_t offset = 0;
    for (size_t i = 0; i < plan.tensors.size(); ++i) {
        const auto& t = *plan.tensors[i]->tensor;
        header += "," + json_quote(plan.names[i]) + ":{\"dtype\":\"" +
                  milo::codec::dtype_info(t.dtype)->safetensors + "\",\"shape\":[";
        for (size_t d = 0; d < t.shape.size(); ++d)
            header += (d ? "," : "") + std::to_string(t.shape[d]);
        header += "],\"data_offsets\":[" + std::to_string(offset) + "," +
                  std::to_string(offset + t.nbytes) + "]}";
        offset += t.nbytes;
    }
    header += "}";
    while (header.size() % 8 != 0) header += ' ';
    uint8_t len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(uint64_t(header.size()) >> (8 * i));
    if (milo_status s = file.open(path.c_str(), error)) return s;
    // The bytes already sit in memory: hash them on a second thread while this one writes, so
    // the sidecar costs about one pass over the data instead of two.
    std::vector<std::pair<const void*, size_t>> pieces;
    pieces.emplace_back(len, sizeof len);
    pieces.emplace_back(header.data(), header.size());
    for (const milo_value* v : plan.tensors) pieces.emplace_back(v->tensor->data, v->tensor->nbytes);
    milo::core::Sha256 hash;
    std::thread hasher([&] {
        for (const auto& [p, n] : pieces) hash.update(p, n);
    });
    milo_status status = MILO_OK;
    for (const auto& [p, n] : pieces)
        if ((status = file.write(p, n, error)) != MILO_OK) break;
    hasher.join();
    if (status != MILO_OK) return status;
    *sha = hash.hex();
    return MILO_OK;
}

const milo_format* pick_save_format(milo_registry* reg, const char* path, const SaveOptions& o,
                                    milo_error* error) {
    const milo_format* f = nullptr;
    if (o.format != nullptr) {
        f = milo_registry_find_format(reg, o.format);
        if (f == nullptr) fail(error, MILO_ERR_NOT_FOUND, "unknown document format \"%s\"", o.format);
    } else {
        f = path ? milo_registry_find_format_for_path(reg, path) : nullptr;
        if (f == nullptr) f = milo_registry_find_format(reg, "json");
        if (f == nullptr) fail(error, MILO_ERR_NOT_FOUND, "no document format is registered");
    }
    if (f != nullptr && f->encode == nullptr) {
        fail(error, MILO_ERR_UNSUPPORTED, "format \"%s\" cannot encode", f->id);
        return nullptr;
    }
    return f;
}

// The encode context hands one pointer to both callbacks; this joins the two targets.
struct EncodeBridge {
    StoragePolicy* policy;
    milo_write_fn write;
    void* write_context;

    static milo_status write_cb(void* context, const void* data, size_t size, milo_error* error) {
        auto* b = static_cast<EncodeBridge*>(context);
        return b->write(b->write_context, data, size, error);
    }
    static int32_t storage_cb(void* context, const milo_value* tensor, const char** name) {
        return StoragePolicy::callback(static_cast<EncodeBridge*>(context)->policy, tensor, name);
    }
};

milo_status run_encode(const milo_format* f, const milo_doc& view, StoragePolicy* policy,
                       milo_write_fn write, void* write_context, milo_error* error) {
    EncodeBridge bridge{policy, write, write_context};
    milo_encode_context ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.abi_version = MILO_ABI_VERSION;
    ctx.context = &bridge;
    ctx.write = EncodeBridge::write_cb;
    ctx.indent = policy->opts.indent;
    ctx.tensor_storage = EncodeBridge::storage_cb;
    std::string what = std::string("format \"") + f->id + "\" encode";
    return milo::core::call_plugin(what.c_str(), error, [&] {
        return f->encode(f->self, milo::core::api_table(), &view, &ctx, error);
    });
}

// A header-only copy of `doc` sharing its values, so the save can set external.* without
// touching the caller's document.
std::unique_ptr<milo_doc> header_view(const milo_doc& doc) {
    auto view = std::make_unique<milo_doc>();
    milo::core::copy_header(doc, view.get());
    view->header[milo::core::kExternalFile].reset();
    view->header[milo::core::kExternalSha256].reset();
    view->root = doc.root;
    return view;
}

/* ---------------------------------------------------------------- loading */

struct DecodeState {
    Mapping* mapping = nullptr;  // the document's own bytes, when memory-mapped
    bool allow_external = false;

    static void consumed(void* context, size_t offset) {
        auto* s = static_cast<DecodeState*>(context);
        if (s->mapping == nullptr || !s->mapping->mapped) return;
        size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
        size_t n = offset / page * page;
        if (n > s->mapping->size) n = s->mapping->size / page * page;
        if (n > 0) madvise(const_cast<uint8_t*>(s->mapping->data), n, MADV_DONTNEED);
    }

    static milo_status create_external(void* context, milo_doc* doc, int32_t dtype,
                                       const int64_t* shape, size_t ndim, const char* name,
                                       milo_value** out, milo_error* error) {
        auto* s = static_cast<DecodeState*>(context);
        if (!s->allow_external)
            return fail(error, MILO_ERR_UNSUPPORTED,
                        "tensor \"%s\" is stored in an external file, which a document decoded "
                        "from memory cannot reach; load it from its file",
                        name ? name : "");
        if (doc == nullptr || out == nullptr || name == nullptr || *name == '\0')
            return fail(error, MILO_ERR_INVALID_ARGUMENT, "external tensor without a name");
        const auto* info = milo::codec::dtype_info(dtype);
        if (info == nullptr || !milo::codec::dtype_is_numeric(dtype))
            return fail(error, MILO_ERR_CORRUPT, "external tensor \"%s\": dtype must be numeric",
                        name);
        uint64_t count = 0, nbytes = 0;
        if (milo_status st = milo::core::shape_count(shape, ndim, &count, error)) return st;
        if (milo_status st = milo::core::checked_bytes(count, info->size, &nbytes, error))
            return st;
        try {
            auto t = milo::core::new_tensor(dtype, shape, ndim, count, info->size);
            t->nbytes = static_cast<size_t>(nbytes);
            t->external_name = name;
            milo_value* v = milo::core::attach_tensor(doc, std::move(t));
            doc->pending_external.push_back(v);
            *out = v;
        } catch (...) {
            return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
        }
        return MILO_OK;
    }
};

uint32_t read_max_depth(const milo_load_options* o) {
    if (o != nullptr && o->struct_size >= offsetof(milo_load_options, max_depth) + 4 &&
        o->max_depth != 0)
        return o->max_depth;
    return milo::codec::kDefaultMaxDepth;
}

uint32_t read_flags(const milo_load_options* o) {
    if (o != nullptr && o->struct_size >= offsetof(milo_load_options, flags) + 4) return o->flags;
    return 0;
}

const char* read_format(const milo_load_options* o) {
    if (o != nullptr && o->struct_size >= offsetof(milo_load_options, format) + sizeof(o->format))
        return o->format;
    return nullptr;
}

const milo_format* pick_load_format(milo_registry* reg, const uint8_t* data, size_t size,
                                    const char* path, const milo_load_options* o) {
    if (const char* id = read_format(o)) return milo_registry_find_format(reg, id);
    const milo_format* f =
        milo_registry_find_format_for_content(reg, data, size < kProbeBytes ? size : kProbeBytes);
    if (f == nullptr && path != nullptr) f = milo_registry_find_format_for_path(reg, path);
    return f;
}

// Gives each pending external tensor its bytes from the sidecar file.
milo_status resolve_external(milo_doc* doc, const std::string& doc_path, uint32_t flags,
                             milo_error* error) {
    if (doc->pending_external.empty()) return MILO_OK;
    const auto& file = doc->header[milo::core::kExternalFile];
    const auto& sha = doc->header[milo::core::kExternalSha256];
    if (!file || !sha)
        return fail(error, MILO_ERR_CORRUPT,
                    "%s: tensors are stored externally but the header has no external file and "
                    "sha256 (/milo/external)",
                    doc_path.c_str());
    const std::string& name = *file;
    if (name.empty() || name.find('/') != std::string::npos ||
        name.find('\\') != std::string::npos || name == "." || name == ".." ||
        name.find('\0') != std::string::npos)
        return fail(error, MILO_ERR_CORRUPT,
                    "%s: /milo/external/file \"%s\" must be a plain file name in the document's "
                    "folder (no '/', no '..')",
                    doc_path.c_str(), name.c_str());
    std::string side = dirname_of(doc_path) + "/" + name;
    Mapping* raw = nullptr;
    if (milo_status s = map_file(side.c_str(), &raw, error)) return s;
    MappingRef ref{raw};
    const uint8_t* p = raw->data;
    size_t size = raw->size;
    if (!(flags & MILO_LOAD_NO_VERIFY)) {
        std::string got = milo::core::sha256_hex(p, size);
        if (got != *sha)
            return fail(error, MILO_ERR_INTEGRITY,
                        "%s: sha256 is %s but the document (/milo/external/sha256) expects %s",
                        side.c_str(), got.c_str(), sha->c_str());
    }
    if (size < 8)
        return fail(error, MILO_ERR_CORRUPT, "%s: byte 0: file too short for a safetensors header",
                    side.c_str());
    uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= uint64_t(p[i]) << (8 * i);
    if (n > kMaxSafetensorsHeader || n > size - 8)
        return fail(error, MILO_ERR_CORRUPT,
                    "%s: byte 0: header length %llu exceeds the file (%zu bytes)", side.c_str(),
                    static_cast<unsigned long long>(n), size);
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(p + 8, p + 8 + n);
    } catch (const std::exception& e) {
        return fail(error, MILO_ERR_CORRUPT, "%s: byte 8: bad safetensors header: %s",
                    side.c_str(), e.what());
    }
    if (!header.is_object())
        return fail(error, MILO_ERR_CORRUPT, "%s: byte 8: safetensors header is not an object",
                    side.c_str());
    const uint64_t data_start = 8 + n;
    const uint64_t data_size = size - data_start;
    for (milo_value* v : doc->pending_external) {
        auto& t = *v->tensor;
        const std::string& tname = t.external_name;
        auto it = header.find(tname);
        if (it == header.end() || !it->is_object())
            return fail(error, MILO_ERR_CORRUPT, "%s: no tensor named \"%s\"", side.c_str(),
                        tname.c_str());
        try {
            const auto& e = *it;
            std::string code = e.at("dtype").get<std::string>();
            if (code != milo::codec::dtype_info(t.dtype)->safetensors)
                return fail(error, MILO_ERR_CORRUPT,
                            "%s: tensor \"%s\" has dtype %s, the document says %s", side.c_str(),
                            tname.c_str(), code.c_str(), milo::codec::dtype_info(t.dtype)->name);
            std::vector<int64_t> shape = e.at("shape").get<std::vector<int64_t>>();
            if (shape != t.shape)
                return fail(error, MILO_ERR_CORRUPT,
                            "%s: tensor \"%s\" has another shape than the document says",
                            side.c_str(), tname.c_str());
            std::vector<uint64_t> off = e.at("data_offsets").get<std::vector<uint64_t>>();
            if (off.size() != 2 || off[0] > off[1] || off[1] > data_size ||
                off[1] - off[0] != t.nbytes)
                return fail(error, MILO_ERR_CORRUPT,
                            "%s: tensor \"%s\": data_offsets do not hold %zu bytes within the "
                            "%llu-byte data area",
                            side.c_str(), tname.c_str(), t.nbytes,
                            static_cast<unsigned long long>(data_size));
            t.data = p + data_start + off[0];
        } catch (const nlohmann::json::exception& e) {
            return fail(error, MILO_ERR_CORRUPT, "%s: tensor \"%s\": %s", side.c_str(),
                        tname.c_str(), e.what());
        }
        raw->refs.fetch_add(1);
        t.borrowed = true;
        t.release = Mapping::release;
        t.release_context = raw;
        t.external_name.clear();
    }
    doc->pending_external.clear();
    return MILO_OK;
}

// Bool elements (and bool record fields) must be 0 or 1: compact, protobuf and external data
// could carry any byte, which no readable encoding could write back. Checked here once for
// every format. Returns the offending tensor, the element and the byte, or nullptr.
const milo_value* find_bad_bool(const milo_doc& doc, uint64_t* element, unsigned* byte) {
    if (doc.root == nullptr) return nullptr;
    const milo_api* api = milo::core::api_table();
    std::vector<const milo_value*> stack{doc.root};
    std::unordered_set<const milo_value*> seen;
    std::vector<const milo_value*> kids;
    while (!stack.empty()) {
        const milo_value* v = stack.back();
        stack.pop_back();
        if (!milo::codec::kind_has_identity(v->kind) || !seen.insert(v).second) continue;
        if (v->kind == MILO_KIND_TENSOR) {
            const auto& t = *v->tensor;
            auto check = [&](uint64_t offset, uint64_t stride, uint64_t per_item) {
                for (uint64_t i = 0; i < t.count; ++i)
                    for (uint64_t k = 0; k < per_item; ++k) {
                        uint8_t b = t.data[i * stride + offset + k];
                        if (b > 1) {
                            *element = i;
                            *byte = b;
                            return true;
                        }
                    }
                return false;
            };
            if (t.data != nullptr && t.dtype == MILO_DTYPE_BOOL && check(0, 1, 1)) return v;
            if (t.data != nullptr && t.dtype == MILO_DTYPE_RECORD)
                for (const auto& f : t.fields)
                    if (f.dtype == MILO_DTYPE_BOOL && check(f.offset, t.itemsize, f.size)) return v;
        }
        kids.clear();
        milo::codec::SharedNodes::children(api, v, v->kind, &kids);
        stack.insert(stack.end(), kids.begin(), kids.end());
    }
    return nullptr;
}

// Document path of `target` (first occurrence), for messages.
std::string path_to(const milo_doc& doc, const milo_value* target) {
    struct Frame { const milo_value* v; std::string path; };
    std::vector<Frame> stack{{doc.root, "/root"}};
    std::unordered_set<const milo_value*> seen;
    while (!stack.empty()) {
        Frame f = std::move(stack.back());
        stack.pop_back();
        if (f.v == target) return f.path;
        if (!milo::codec::kind_has_identity(f.v->kind) || !seen.insert(f.v).second) continue;
        const milo_value* v = f.v;
        if (v->kind == MILO_KIND_MAP) {
            for (size_t i = 0; i < v->items.size(); ++i) {
                const milo_value* k = v->keys[i];
                stack.push_back({v->items[i], f.path + "/" + (k->kind == MILO_KIND_STRING
                                                                  ? k->text
                                                                  : std::to_string(i))});
                stack.push_back({k, f.path + "/{key " + std::to_string(i) + "}"});
            }
        } else if (v->kind == MILO_KIND_OBJECT) {
            if (v->state) stack.push_back({v->state, f.path + "/state"});
            if (v->args) stack.push_back({v->args, f.path + "/args"});
        } else if (v->kind == MILO_KIND_TENSOR) {
            for (size_t i = 0; i < v->tensor->items.size(); ++i)
                stack.push_back({v->tensor->items[i], f.path + "/" + std::to_string(i)});
        } else {
            for (size_t i = 0; i < v->items.size(); ++i)
                stack.push_back({v->items[i], f.path + "/" + std::to_string(i)});
        }
    }
    return "/root";
}

// Decodes `data` through a format into a new document.
milo_status decode_document(const milo_format* f, const uint8_t* data,
                            size_t size, const char* name, Mapping* mapping,
                            const std::string* file_path, const milo_load_options* options,
                            milo_doc** out, milo_error* error) {
    if (f->decode == nullptr)
        return fail(error, MILO_ERR_UNSUPPORTED, "format \"%s\" cannot decode", f->id);
    milo_doc* doc = nullptr;
    if (milo_status s = milo_doc_create(&doc, error)) return s;
    std::unique_ptr<milo_doc> owner(doc);
    // the decoder sets the header it reads; start from a blank one
    for (auto& h : doc->header) h.reset();
    DecodeState state;
    state.mapping = mapping;
    state.allow_external = file_path != nullptr;
    milo_decode_context ctx{};
    ctx.struct_size = sizeof ctx;
    ctx.abi_version = MILO_ABI_VERSION;
    ctx.data = data;
    ctx.size = size;
    ctx.name = name;
    ctx.max_depth = read_max_depth(options);
    ctx.context = &state;
    ctx.consumed = DecodeState::consumed;
    ctx.create_external_tensor = DecodeState::create_external;
    std::string what = std::string("format \"") + f->id + "\" decode";
    milo_status s = milo::core::call_plugin(what.c_str(), error, [&] {
        return f->decode(f->self, milo::core::api_table(), doc, &ctx, error);
    });
    if (s != MILO_OK) return s;
    const auto& fv = doc->header[milo::core::kFormatVersion];
    if (!fv) return fail(error, MILO_ERR_CORRUPT, "%s: the header has no format_version", name);
    if (std::strtoul(fv->c_str(), nullptr, 10) > MILO_FORMAT_VERSION)
        return fail(error, MILO_ERR_UNSUPPORTED,
                    "%s: /milo/format_version is %s; this library reads up to %d", name,
                    fv->c_str(), MILO_FORMAT_VERSION);
    if (file_path != nullptr)
        if (milo_status r = resolve_external(doc, *file_path, read_flags(options), error)) return r;
    uint64_t element = 0;
    unsigned byte = 0;
    if (const milo_value* bad = find_bad_bool(*doc, &element, &byte))
        return fail(error, MILO_ERR_CORRUPT,
                    "%s: at %s: bool element %llu is 0x%02x; bool elements must be 0 or 1", name,
                    path_to(*doc, bad).c_str(), static_cast<unsigned long long>(element), byte);
    *out = owner.release();
    return MILO_OK;
}

const milo_transporter* pick_transporter(milo_registry* reg, const char* id, const uint8_t* data,
                                         size_t size, const char* path, milo_error* error) {
    const milo_transporter* t = nullptr;
    if (id != nullptr) {
        t = milo_registry_find_transporter(reg, id);
        if (t == nullptr) fail(error, MILO_ERR_NOT_FOUND, "no transporter with id \"%s\"", id);
        return t;
    }
    t = milo_registry_find_transporter_for_content(reg, data, size < kProbeBytes ? size : kProbeBytes);
    if (t == nullptr)
        fail(error, MILO_ERR_UNSUPPORTED,
             "%s: not a Milo document, and none of the %zu loaded transporters recognises it",
             path ? path : "<memory>", milo_registry_transporter_count(reg));
    return t;
}

/// The transporter that writes `doc` natively: `transporter_id`, else the header's
/// transporter.id, else the one registered for the root type. NULL (error set) when none.
const milo_transporter* pick_native_writer(milo_registry* registry, const char* transporter_id,
                                           const milo_doc* doc, milo_error* error) {
    const milo_transporter* t = nullptr;
    if (transporter_id != nullptr) {
        t = milo_registry_find_transporter(registry, transporter_id);
        if (t == nullptr)
            fail(error, MILO_ERR_NOT_FOUND, "no transporter with id \"%s\"", transporter_id);
        return t;
    }
    const auto& id = doc->header[milo::core::kTransporterId];
    if (id) t = milo_registry_find_transporter(registry, id->c_str());
    if (t == nullptr && doc->root && doc->root->kind == MILO_KIND_OBJECT)
        t = milo_registry_find_transporter_for_type(registry, doc->root->text.c_str());
    if (t == nullptr)
        fail(error, MILO_ERR_UNSUPPORTED,
             "no loaded transporter writes this document (transporter \"%s\", type \"%s\")",
             id ? id->c_str() : "(unset)",
             doc->header[milo::core::kType] ? doc->header[milo::core::kType]->c_str() : "(unset)");
    return t;
}

/// Checks that `t` (from pick_native_writer) can write `doc`: MILO_OK or the error.
milo_status check_native_writer(const milo_transporter* t, const milo_doc* doc,
                                milo_error* error) {
    if (t == nullptr) return error ? error->code : MILO_ERR_UNSUPPORTED;
    if (t->encode == nullptr)
        return fail(error, MILO_ERR_UNSUPPORTED, "transporter \"%s\" cannot write native files",
                    t->id);
    if (!doc->pending_external.empty())
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "document has unresolved external tensors");
    return MILO_OK;
}

/// Runs the native writer `t` of `doc` into `write`.
milo_status run_native_encode(milo_registry* registry, const milo_transporter* t,
                              const milo_doc* doc, milo_write_fn write, void* write_context,
                              milo_error* error) {
    std::string what = std::string("transporter \"") + t->id + "\" encode";
    return milo::core::call_plugin(what.c_str(), error, [&] {
        return t->encode(t->self, milo::core::api_table(), registry, doc, write, write_context,
                         error);
    });
}

}  // namespace

extern "C" {

MILO_API milo_status milo_doc_encode(milo_registry* registry, const milo_doc* doc,
                                     const milo_save_options* options, milo_write_fn write,
                                     void* write_context, milo_error* error) {
    if (registry == nullptr || doc == nullptr || write == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, document or write is NULL");
    try {
        StoragePolicy policy;
        if (milo_status s = read_save_options(options, &policy.opts, error)) return s;
        if (policy.opts.tensors == MILO_TENSORS_EXTERNAL)
            return fail(error, MILO_ERR_UNSUPPORTED,
                        "external tensor storage needs a file: use milo_doc_save");
        const milo_format* f = pick_save_format(registry, nullptr, policy.opts, error);
        if (f == nullptr) return error ? error->code : MILO_ERR_NOT_FOUND;
        auto view = header_view(*doc);
        return run_encode(f, *view, &policy, write, write_context, error);
    } catch (const std::bad_alloc&) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
}

MILO_API milo_status milo_doc_save(milo_registry* registry, const milo_doc* doc,
                                   const char* path, const milo_save_options* options,
                                   milo_error* error) {
    if (registry == nullptr || doc == nullptr || path == nullptr || *path == '\0')
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, document or path is NULL/empty");
    try {
        StoragePolicy policy;
        if (milo_status s = read_save_options(options, &policy.opts, error)) return s;
        const milo_format* f = pick_save_format(registry, path, policy.opts, error);
        if (f == nullptr) return error ? error->code : MILO_ERR_NOT_FOUND;
        auto view = header_view(*doc);
        AtomicFile sidecar;
        bool has_sidecar = false;
        if (policy.opts.tensors == MILO_TENSORS_EXTERNAL) {
            ExternalPlan plan;
            plan_external(*doc, policy.opts, &plan);
            if (!plan.tensors.empty()) {
                std::string base = path;
                size_t dot = base.rfind('.');
                size_t slash = base.rfind('/');
                if (dot != std::string::npos && (slash == std::string::npos || dot > slash))
                    base.resize(dot);
                std::string side = base + ".safetensors";
                if (side == path) side = base + ".tensors.safetensors";
                std::string sha;
                if (milo_status s = write_sidecar(sidecar, side, plan, &sha, error)) return s;
                has_sidecar = true;
                view->header[milo::core::kExternalFile] = basename_of(side);
                view->header[milo::core::kExternalSha256] = sha;
                for (size_t i = 0; i < plan.tensors.size(); ++i)
                    policy.external.emplace(plan.tensors[i], plan.names[i]);
            }
        }
        AtomicFile file;
        if (milo_status s = file.open(path, error)) return s;
        if (milo_status s = run_encode(f, *view, &policy, AtomicFile::write_cb, &file, error))
            return s;  // neither file is renamed: the previous pair stays as it was
        if (has_sidecar)
            if (milo_status s = sidecar.commit(error)) return s;
        return file.commit(error);
    } catch (const std::bad_alloc&) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
}

MILO_API milo_status milo_doc_decode(milo_registry* registry, const uint8_t* data, size_t size,
                                     const char* name, const milo_load_options* options,
                                     milo_doc** out, milo_error* error) {
    if (registry == nullptr || out == nullptr || (data == nullptr && size != 0))
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, data or out is NULL");
    if (name == nullptr) name = "<memory>";
    static const uint8_t empty = 0;
    if (data == nullptr) data = &empty;
    const milo_format* f = pick_load_format(registry, data, size, nullptr, options);
    if (f == nullptr)
        return read_format(options)
                   ? fail(error, MILO_ERR_NOT_FOUND, "unknown document format \"%s\"",
                          read_format(options))
                   : fail(error, MILO_ERR_UNSUPPORTED, "%s: not a Milo document in any "
                                                       "registered format", name);
    try {
        return decode_document(f, data, size, name, nullptr, nullptr, options, out,
                               error);
    } catch (const std::bad_alloc&) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
}

MILO_API milo_status milo_doc_load(milo_registry* registry, const char* path,
                                   const milo_load_options* options, milo_doc** out,
                                   milo_error* error) {
    if (registry == nullptr || path == nullptr || out == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, path or out is NULL");
    Mapping* raw = nullptr;
    if (milo_status s = map_file(path, &raw, error)) return s;
    MappingRef ref{raw};
    const milo_format* f = pick_load_format(registry, raw->data, raw->size, path, options);
    if (f == nullptr)
        return read_format(options)
                   ? fail(error, MILO_ERR_NOT_FOUND, "unknown document format \"%s\"",
                          read_format(options))
                   : fail(error, MILO_ERR_UNSUPPORTED,
                          "%s: not a Milo document in any registered format", path);
    try {
        std::string p = path;
        return decode_document(f, raw->data, raw->size, path, raw, &p, options, out,
                               error);
    } catch (const std::bad_alloc&) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
}

MILO_API milo_status milo_registry_decode_native(milo_registry* registry,
                                                 const char* transporter_id,
                                                 const uint8_t* data, size_t size,
                                                 const char* path, milo_doc** out,
                                                 milo_error* error) {
    if (registry == nullptr || out == nullptr || (data == nullptr && size != 0))
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, data or out is NULL");
    static const uint8_t empty = 0;
    if (data == nullptr) data = &empty;
    const milo_transporter* t = pick_transporter(registry, transporter_id, data, size, path, error);
    if (t == nullptr) return error ? error->code : MILO_ERR_UNSUPPORTED;
    if (t->decode == nullptr)
        return fail(error, MILO_ERR_UNSUPPORTED, "transporter \"%s\" cannot read native files",
                    t->id);
    milo_doc* doc = nullptr;
    if (milo_status s = milo_doc_create(&doc, error)) return s;
    std::unique_ptr<milo_doc> owner(doc);
    std::string what = std::string("transporter \"") + t->id + "\" decode";
    milo_status s = milo::core::call_plugin(what.c_str(), error, [&] {
        return t->decode(t->self, milo::core::api_table(), registry, data, size, path, doc, error);
    });
    if (s != MILO_OK) {
        if (path != nullptr && error != nullptr && error->struct_size >= sizeof(milo_error) &&
            std::strstr(error->message, path) == nullptr)
            milo::core::prefix_error(error, std::string(path) + ": ");
        return s;
    }
    try {
        if (!doc->header[milo::core::kTransporterId]) doc->header[milo::core::kTransporterId] = t->id;
        if (!doc->header[milo::core::kSourceSha256])
            doc->header[milo::core::kSourceSha256] = milo::core::sha256_hex(data, size);
    } catch (...) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
    *out = owner.release();
    return MILO_OK;
}

MILO_API milo_status milo_registry_encode_native(milo_registry* registry,
                                                 const char* transporter_id,
                                                 const milo_doc* doc, const char* path,
                                                 milo_error* error) {
    if (registry == nullptr || doc == nullptr || path == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, document or path is NULL");
    // Find and check the writer before creating the file: a document nobody writes leaves none.
    const milo_transporter* t = pick_native_writer(registry, transporter_id, doc, error);
    if (milo_status s = check_native_writer(t, doc, error)) return s;
    AtomicFile file;
    if (milo_status s = file.open(path, error)) return s;
    if (milo_status s = run_native_encode(registry, t, doc, AtomicFile::write_cb, &file, error))
        return s;
    return file.commit(error);
}

MILO_API milo_status milo_registry_encode_native_to(milo_registry* registry,
                                                    const char* transporter_id,
                                                    const milo_doc* doc, milo_write_fn write,
                                                    void* write_context, milo_error* error) {
    if (registry == nullptr || doc == nullptr || write == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, document or write is NULL");
    const milo_transporter* t = pick_native_writer(registry, transporter_id, doc, error);
    if (milo_status s = check_native_writer(t, doc, error)) return s;
    return run_native_encode(registry, t, doc, write, write_context, error);
}

MILO_API milo_status milo_doc_open(milo_registry* registry, const char* path,
                                   const milo_load_options* options, milo_doc** out,
                                   milo_error* error) {
    if (registry == nullptr || path == nullptr || out == nullptr)
        return fail(error, MILO_ERR_INVALID_ARGUMENT, "registry, path or out is NULL");
    Mapping* raw = nullptr;
    if (milo_status s = map_file(path, &raw, error)) return s;
    MappingRef ref{raw};
    size_t head = raw->size < kProbeBytes ? raw->size : kProbeBytes;
    const milo_format* f = nullptr;
    if (const char* id = read_format(options)) {
        f = milo_registry_find_format(registry, id);
        if (f == nullptr) return fail(error, MILO_ERR_NOT_FOUND, "unknown document format \"%s\"", id);
    } else {
        f = milo_registry_find_format_for_content(registry, raw->data, head);
        // A transporter that claims the content more strongly than the format wins (a PyMilo
        // .json file is only "some JSON object" to the JSON format).
        const milo_transporter* t =
            f != nullptr ? milo_registry_find_transporter_for_content(registry, raw->data, head)
                         : nullptr;
        if (t != nullptr && f->probe != nullptr &&
            t->probe(t->self, raw->data, head) > f->probe(f->self, raw->data, head))
            f = nullptr;
    }
    try {
        if (f == nullptr &&
            milo_registry_find_transporter_for_content(registry, raw->data, head) == nullptr)
            // nothing recognises the content: a damaged file named like a document gets that
            // format's precise error rather than "unsupported"
            f = milo_registry_find_format_for_path(registry, path);
        if (f != nullptr) {
            std::string p = path;
            return decode_document(f, raw->data, raw->size, path, raw, &p, options, out,
                                   error);
        }
        return milo_registry_decode_native(registry, nullptr, raw->data, raw->size, path, out,
                                           error);
    } catch (const std::bad_alloc&) {
        return fail(error, MILO_ERR_OUT_OF_MEMORY, "out of memory");
    }
}

}  // extern "C"
