// Document → .pt file as torch 1.13's torch.save writes it (README.md, "Writing"): entries
// <archive>/data.pkl, <archive>/data/<key> (keys in string order) and <archive>/version in the
// zip layout of milo/readers/zip_writer.hpp. data.pkl has the opcodes CPython's protocol-2
// pickler gives torch.save's objects (BINPUT after every string, tuple, list, dict, global and
// reduce), so a document read from a torch.save file is written back byte for byte.
#include "torch_export.hpp"

#include <charconv>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "milo/milo_codec.hpp"
#include "milo/readers/pickle_emit.hpp"
#include "milo/readers/zip_writer.hpp"
#include "torch_forms.hpp"

namespace milo {
namespace torch {
namespace {

constexpr int kMaxDepth = 1000;
constexpr size_t kBatch = 1000;  // items per APPENDS/SETITEMS, as CPython batches them

struct StorageOut {
    std::string key;
    const StorageClass* cls;
    int64_t numel;
    std::string_view bytes;
};

class Writer {
public:
    explicit Writer(DocRef doc) : doc_(doc) {}

    std::string run() {
        std::string archive = "archive";
        const milo_api* api = doc_.api();
        for (size_t i = 0, n = api->doc_metadata_count(doc_.get()); i < n; ++i) {
            const char *k = nullptr, *v = nullptr;
            if (api->doc_metadata_at(doc_.get(), i, &k, &v, nullptr) != MILO_OK || !k || !v)
                continue;
            if (std::string_view(k) == "torch.archive_name") archive = v;
            // Strings one Python object stood for in several places (as the sklearn
            // transporter records them): memoized once and fetched again, as pickle did.
            if (std::string_view(k) == "pickle.shared_strings") {
                nlohmann::json list = nlohmann::json::parse(v, nullptr, false);
                if (list.is_array())
                    for (const auto& item : list)
                        if (item.is_string()) shared_.emplace(item.get<std::string>(), SIZE_MAX);
            }
        }
        if (archive.empty() || archive.find('/') != std::string::npos || archive == "." ||
            archive == "..")
            throw Error(MILO_ERR_CORRUPT, "torch writer: metadata torch.archive_name \"" + archive +
                                              "\" is not a folder name");
        out_.append("\x80\x02", 2);
        save(doc_.root(), 0);
        out_.push_back('.');

        std::map<std::string, const StorageOut*> by_key;  // torch writes sorted(keys)
        for (const auto& [node, s] : storages_) by_key.emplace(s.key, &s);
        std::string zip;
        readers::ZipWriter w([&](const char* p, size_t n) { zip.append(p, n); });
        w.add(archive + "/data.pkl", out_);
        for (const auto& [key, s] : by_key) w.add(archive + "/data/" + key, s->bytes);
        w.add(archive + "/version", "3\n");
        w.finish();
        return zip;
    }

private:
    [[noreturn]] void fail(milo_status code, const std::string& what) const {
        std::string p = "/root";
        for (const std::string& s : path_) p += "/" + s;
        throw Error(code, "torch writer: " + p + ": " + what);
    }
    struct Step {
        std::vector<std::string>& path;
        Step(std::vector<std::string>& p, std::string s) : path(p) { path.push_back(std::move(s)); }
        ~Step() { path.pop_back(); }
    };

    // ---- opcodes ----------------------------------------------------------------------
    void op(char c) { out_.push_back(c); }
    void le(uint64_t v, int bytes) { pickle::emit::le(out_, v, bytes); }
    size_t put() {  // BINPUT / LONG_BINPUT of the value on the stack
        if (next_memo_ > UINT32_MAX) fail(MILO_ERR_LIMIT, "more than 2^32 memo entries");
        if (next_memo_ < 256) {
            op('q');
            le(next_memo_, 1);
        } else {
            op('r');
            le(next_memo_, 4);
        }
        return next_memo_++;
    }
    void memoize(milo_value* v) { memo_[v] = put(); }
    void get(size_t index) { pickle::emit::get(out_, index); }
    bool get(milo_value* v) {
        auto it = memo_.find(v);
        if (it == memo_.end()) return false;
        get(it->second);
        return true;
    }
    void save_int(int64_t v) { pickle::emit::int64(out_, v); }
    void write_str(std::string_view s) {  // BINUNICODE (protocol 2 has no shorter form)
        if (s.size() > UINT32_MAX) fail(MILO_ERR_LIMIT, "string longer than 4 GiB");
        op('X');
        le(s.size(), 4);
        out_.append(s.data(), s.size());
    }
    // A string written once and fetched from the memo after (torch's 'storage', locations, keys).
    void shared_str(const std::string& s) {
        auto it = strings_.find(s);
        if (it != strings_.end()) return get(it->second);
        write_str(s);
        strings_.emplace(s, put());
    }
    void save_global(const std::string& full) {
        auto it = globals_.find(full);
        if (it != globals_.end()) return get(it->second);
        size_t cut = full.find(':');
        if (cut == std::string::npos) cut = full.rfind('.');
        if (cut == std::string::npos || cut == 0 || cut + 1 == full.size())
            fail(MILO_ERR_CORRUPT, "global name \"" + full + "\" has no module");
        std::string module = full.substr(0, cut);
        // Protocol 2 writes Python 2 module names (pickle's fix_imports).
        if (module == "builtins") module = "__builtin__";
        if (module == "copyreg") module = "copy_reg";
        op('c');
        out_ += module + "\n" + full.substr(cut + 1) + "\n";
        globals_.emplace(full, put());
    }
    void empty_ordered_dict() {  // collections.OrderedDict(): torch's backward hooks
        save_global("collections.OrderedDict");
        op(')');
        op('R');
        put();
    }
    // CPython's save_tuple for protocol 2 over values written by `item(i)`.
    template <class F>
    void tuple_of(size_t n, F item) {
        if (n == 0) return op(')');
        if (n > 3) op('(');
        for (size_t i = 0; i < n; ++i) item(i);
        op(n == 1 ? '\x85' : n == 2 ? '\x86' : n == 3 ? '\x87' : 't');
        put();
    }
    void int_tuple(const std::vector<int64_t>& v) {
        tuple_of(v.size(), [&](size_t i) { save_int(v[i]); });
    }
    // APPEND(S) / SETITEM(S) in batches; `item(i)` writes one item (or key and value).
    template <class F>
    void batches(size_t n, char one, char many, F item) {
        for (size_t start = 0; start < n; start += kBatch) {
            size_t end = std::min(n, start + kBatch);
            if (end - start > 1) op('(');
            for (size_t i = start; i < end; ++i) item(i);
            op(end - start > 1 ? many : one);
        }
    }

    // ---- values -----------------------------------------------------------------------
    void save(ValueRef v, int depth) {
        if (!v) fail(MILO_ERR_CORRUPT, "missing value");
        if (depth > kMaxDepth) fail(MILO_ERR_LIMIT, "values nested deeper than 1000 levels");
        if (get(v.get())) return;
        switch (v.kind()) {
            case MILO_KIND_NULL:
                return op('N');
            case MILO_KIND_BOOL:
                return op(v.as_bool() ? '\x88' : '\x89');
            case MILO_KIND_INT: {
                std::string t = v.int_text();
                int64_t i = 0;
                auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
                if (ec != std::errc() || p != t.data() + t.size())
                    fail(MILO_ERR_UNSUPPORTED, "integer " + t + " is outside int64");
                return save_int(i);
            }
            case MILO_KIND_FLOAT:
                return pickle::emit::float64(out_, v.as_float());
            case MILO_KIND_STRING: {
                auto it =
                    shared_.empty() ? shared_.end() : shared_.find(std::string(v.as_string()));
                if (it != shared_.end() && it->second != SIZE_MAX) return get(it->second);
                write_str(v.as_string());
                memoize(v.get());
                if (it != shared_.end()) it->second = next_memo_ - 1;
                return;
            }
            case MILO_KIND_BYTES:
                return save_bytes(v);
            case MILO_KIND_GLOBAL:
                return save_global(std::string(v.name()));
            case MILO_KIND_LIST:
                op(']');
                memoize(v.get());
                return save_items(v, depth);
            case MILO_KIND_SET:  // set([items]) as protocol 2 writes it
                save_global("builtins.set");
                tuple_of(1, [&](size_t) {
                    op(']');
                    put();
                    save_items(v, depth);
                });
                op('R');
                return memoize(v.get());
            case MILO_KIND_MAP:
                op('}');
                memoize(v.get());
                return save_pairs(v, depth);
            case MILO_KIND_TUPLE: {
                if (in_progress_.count(v.get()))
                    fail(MILO_ERR_UNSUPPORTED, "a tuple contains itself");
                in_progress_.insert(v.get());
                tuple_of(v.size(), [&](size_t i) {
                    Step s(path_, std::to_string(i));
                    save(v[i], depth + 1);
                });
                in_progress_.erase(v.get());
                if (v.size() > 0) memo_[v.get()] = next_memo_ - 1;
                return;
            }
            case MILO_KIND_TENSOR:
                return save_bare_tensor(v);
            case MILO_KIND_OBJECT:
                return save_object(v, depth);
        }
        fail(MILO_ERR_CORRUPT, "unknown value kind");
    }

    void save_items(ValueRef v, int depth) {
        batches(v.size(), 'a', 'e', [&](size_t i) {
            Step s(path_, std::to_string(i));
            save(v[i], depth + 1);
        });
    }
    void save_pairs(ValueRef m, int depth) {
        batches(m.size(), 's', 'u', [&](size_t i) {
            ValueRef key = m.key(i);
            Step s(path_,
                   key.is(MILO_KIND_STRING) ? std::string(key.as_string()) : std::to_string(i));
            save(key, depth + 1);
            save(m[i], depth + 1);
        });
    }

    // Protocol 2 bytes: _codecs.encode(latin-1 text, 'latin1'), or bytes() when empty.
    void save_bytes(ValueRef v) {
        std::string_view b = v.as_bytes();
        if (b.empty()) {
            save_global("builtins.bytes");
            op(')');
        } else {
            save_global("_codecs.encode");
            tuple_of(2, [&](size_t i) {
                if (i == 1) return shared_str("latin1");
                std::string text;  // each byte as the code point of the same value, in UTF-8
                for (unsigned char c : b) {
                    if (c < 0x80) {
                        text.push_back(char(c));
                    } else {
                        text.push_back(char(0xC0 | (c >> 6)));
                        text.push_back(char(0x80 | (c & 0x3F)));
                    }
                }
                write_str(text);
                put();
            });
        }
        op('R');
        memoize(v.get());
    }

    // ---- tensors ----------------------------------------------------------------------
    // The storage key of `node` (a torch.storage object or a bare tensor), registered on first use.
    const StorageOut& storage(milo_value* node, const StorageClass* cls, int64_t numel,
                              std::string_view bytes) {
        auto it = storages_.find(node);
        if (it == storages_.end())
            it = storages_
                     .emplace(node, StorageOut{std::to_string(storages_.size()), cls, numel, bytes})
                     .first;
        return it->second;
    }
    // ('storage', torch.<Class>, key, 'cpu', numel) BINPERSID
    void save_pid(const StorageOut& s) {
        tuple_of(5, [&](size_t i) {
            switch (i) {
                case 0:
                    return shared_str("storage");
                case 1:
                    return save_global(std::string("torch.") + s.cls->name);
                case 2:
                    return shared_str(s.key);
                case 3:
                    return shared_str("cpu");
                default:
                    return save_int(s.numel);
            }
        });
        op('Q');
    }
    // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, OrderedDict())
    void rebuild_tensor(const StorageOut& s, int64_t offset, const std::vector<int64_t>& size,
                        const std::vector<int64_t>& stride, bool requires_grad) {
        save_global("torch._utils._rebuild_tensor_v2");
        tuple_of(6, [&](size_t i) {
            switch (i) {
                case 0:
                    return save_pid(s);
                case 1:
                    return save_int(offset);
                case 2:
                    return int_tuple(size);
                case 3:
                    return int_tuple(stride);
                case 4:
                    return op(requires_grad ? '\x88' : '\x89');
                default:
                    return empty_ordered_dict();
            }
        });
        op('R');
    }

    const StorageClass* class_of(int32_t dtype) {
        const StorageClass* cls = storage_class_of(dtype);
        if (cls == nullptr) {
            const codec::DTypeInfo* info = codec::dtype_info(dtype);
            fail(MILO_ERR_UNSUPPORTED,
                 std::string("dtype ") + (info ? info->name : "?") + " has no torch storage class");
        }
        return cls;
    }

    // A bare tensor: C-contiguous over a storage of its own.
    void save_bare_tensor(ValueRef t) {
        const StorageClass* cls = class_of(t.dtype());
        std::vector<int64_t> shape = t.shape(), stride(shape.size());
        int64_t numel = 1;
        for (size_t i = shape.size(); i-- > 0;) {
            stride[i] = numel;
            if (__builtin_mul_overflow(numel, shape[i], &numel))
                fail(MILO_ERR_LIMIT, "tensor element count overflows int64");
        }
        auto [p, n] = t.data();
        rebuild_tensor(storage(t.get(), cls, numel, {static_cast<const char*>(p), n}), 0, shape,
                       stride, false);
        memoize(t.get());
    }

    ValueRef field(ValueRef state, const char* name, int32_t kind, const char* what) {
        ValueRef f = state.find(name);
        if (!f || !f.is(kind)) fail(MILO_ERR_CORRUPT, std::string("state has no ") + what);
        return f;
    }
    std::vector<int64_t> ints(ValueRef list, const char* name) {
        std::vector<int64_t> out;
        for (size_t i = 0; i < list.size(); ++i) {
            if (!list[i].is(MILO_KIND_INT) || list[i].as_int() < 0)
                fail(MILO_ERR_CORRUPT, std::string(name) + "[" + std::to_string(i) +
                                           "] is not a non-negative integer");
            out.push_back(list[i].as_int());
        }
        return out;
    }

    static std::string list_text(const std::vector<int64_t>& v) {
        std::string t = "[";
        for (size_t i = 0; i < v.size(); ++i) t += (i ? ", " : "") + std::to_string(v[i]);
        return t + "]";
    }

    // {"$object": "torch.storage", "state": {dtype, device, data}}
    const StorageOut& storage_object(ValueRef s) {
        Step step(path_, "state");
        ValueRef st = s.state();
        if (!st || !st.is(MILO_KIND_MAP))
            fail(MILO_ERR_CORRUPT, "torch.storage state is not a map");
        std::string_view name =
            field(st, "dtype", MILO_KIND_STRING, "dtype (a string)").as_string();
        const int32_t dtype = codec::dtype_from_name(name);
        if (dtype == 0) fail(MILO_ERR_CORRUPT, "unknown dtype \"" + std::string(name) + "\"");
        const StorageClass* cls = class_of(dtype);
        std::string_view device =
            field(st, "device", MILO_KIND_STRING, "device (a string)").as_string();
        if (device != "cpu")
            fail(MILO_ERR_UNSUPPORTED,
                 "storage on device \"" + std::string(device) + "\" (only cpu)");
        ValueRef data = field(st, "data", MILO_KIND_TENSOR, "data (a tensor)");
        if (data.dtype() != dtype || data.shape().size() != 1)
            fail(MILO_ERR_CORRUPT, "data is not a 1-d " + std::string(name) + " tensor");
        auto [p, n] = data.data();
        return storage(s.get(), cls, data.shape()[0], {static_cast<const char*>(p), n});
    }

    // {"$object": "torch.Tensor", "state": {storage, storage_offset, size, stride, requires_grad}}
    void save_view(ValueRef t) {
        ValueRef st = t.state();
        if (!st || !st.is(MILO_KIND_MAP)) fail(MILO_ERR_CORRUPT, "torch.Tensor state is not a map");
        ValueRef s = st.find("storage");
        if (!s || !s.is(MILO_KIND_OBJECT) || s.name() != kStorageType)
            fail(MILO_ERR_CORRUPT, "torch.Tensor state has no storage (a torch.storage object)");
        const StorageOut* so;
        {
            Step step(path_, "state");
            Step step2(path_, "storage");
            so = &storage_object(s);
        }
        Step step(path_, "state");
        const int64_t offset =
            field(st, "storage_offset", MILO_KIND_INT, "storage_offset").as_int();
        std::vector<int64_t> size =
            ints(field(st, "size", MILO_KIND_LIST, "size (a list)"), "size");
        std::vector<int64_t> stride =
            ints(field(st, "stride", MILO_KIND_LIST, "stride (a list)"), "stride");
        const bool grad = field(st, "requires_grad", MILO_KIND_BOOL, "requires_grad").as_bool();
        if (offset < 0) fail(MILO_ERR_CORRUPT, "storage_offset is negative");
        if (size.size() != stride.size())
            fail(MILO_ERR_CORRUPT, "size and stride differ in length");
        // The last element the view reaches must lie in the storage (nothing when it is empty).
        __int128 last = offset;  // terms < 2^126 each; stops growing once past the storage
        bool empty = false;
        for (size_t i = 0; i < size.size(); ++i) {
            empty = empty || size[i] == 0;
            if (size[i] > 0 && last < so->numel) last += __int128(size[i] - 1) * stride[i];
        }
        if (!empty && last >= so->numel)
            fail(MILO_ERR_CORRUPT, "view (offset " + std::to_string(offset) + ", size " +
                                       list_text(size) + ", stride " + list_text(stride) +
                                       ") does not fit its storage of " +
                                       std::to_string(so->numel) + " elements");
        rebuild_tensor(*so, offset, size, stride, grad);
        memoize(t.get());
    }

    // ---- objects ----------------------------------------------------------------------
    void save_object(ValueRef o, int depth) {
        const std::string type(o.name());
        if (in_progress_.count(o.get()))
            fail(MILO_ERR_UNSUPPORTED, "object \"" + type + "\" contains itself in its arguments");
        in_progress_.insert(o.get());
        struct Done {
            std::unordered_set<milo_value*>& s;
            milo_value* v;
            ~Done() { s.erase(v); }
        } done{in_progress_, o.get()};

        if (type == kTensorType) return save_view(o);
        if (type == kStorageType) return save_pid(storage_object(o));
        if (type == kParameterType) return save_parameter(o, depth);
        ValueRef a = o.args();
        if (a && !a.is(MILO_KIND_TUPLE)) fail(MILO_ERR_CORRUPT, "object args are not a tuple");
        auto args_from = [&](size_t first) {
            tuple_of(a.size() - first, [&](size_t i) {
                Step s(path_, "args/" + std::to_string(first + i));
                save(a[first + i], depth + 1);
            });
        };
        if (type == kCallType || type == "copyreg.__newobj__") {
            if (!a || a.size() < 1) fail(MILO_ERR_CORRUPT, type + " needs (callable, *args)");
            {
                Step s(path_, "args/0");
                save(a[0], depth + 1);
            }
            args_from(1);
            op(type == kCallType ? 'R' : '\x81');
        } else if (!type.empty() && type[0] == '(') {
            fail(MILO_ERR_UNSUPPORTED, "\"" + type + "\" has no form in a torch.save pickle");
        } else if (a) {
            save_global(type);
            args_from(0);
            op('R');
        } else {
            save_global(type);
            op(')');
            op('\x81');
        }
        memoize(o.get());
        if (ValueRef st = o.state()) {
            Step s(path_, "state");
            save_state(st, depth);
        }
    }

    // BUILD, or the items and states of a (pickle_extras) in the order CPython's save_reduce
    // writes them (appends, setitems, then BUILD).
    void save_state(ValueRef st, int depth) {
        if (!st.is(MILO_KIND_OBJECT) || st.name() != kExtrasType) {
            save(st, depth + 1);
            return op('b');
        }
        ValueRef m = st.state();
        if (!m || !m.is(MILO_KIND_MAP))
            fail(MILO_ERR_CORRUPT, "(pickle_extras) state is not a map");
        if (ValueRef l = m.find("append")) {
            Step s(path_, "append");
            if (!l.is(MILO_KIND_LIST)) fail(MILO_ERR_CORRUPT, "append is not a list");
            save_items(l, depth);
        }
        if (ValueRef d = m.find("setitem")) {
            Step s(path_, "setitem");
            if (!d.is(MILO_KIND_MAP)) fail(MILO_ERR_CORRUPT, "setitem is not a map");
            save_pairs(d, depth);
        }
        if (ValueRef b = m.find("build")) {
            if (!b.is(MILO_KIND_LIST)) fail(MILO_ERR_CORRUPT, "build is not a list");
            for (size_t i = 0; i < b.size(); ++i) {
                Step s(path_, "build/" + std::to_string(i));
                save(b[i], depth + 1);
                op('b');
            }
        }
    }

    // _rebuild_parameter(data, requires_grad, OrderedDict())
    void save_parameter(ValueRef p, int depth) {
        ValueRef st = p.state();
        if (!st || !st.is(MILO_KIND_MAP))
            fail(MILO_ERR_CORRUPT, "torch.nn.Parameter state is not a map");
        ValueRef data = st.find("data");
        const bool grad = [&] {
            Step s(path_, "state");
            if (!data || !(data.is(MILO_KIND_TENSOR) ||
                           (data.is(MILO_KIND_OBJECT) && data.name() == kTensorType)))
                fail(MILO_ERR_CORRUPT, "data is neither a tensor nor a torch.Tensor object");
            return field(st, "requires_grad", MILO_KIND_BOOL, "requires_grad").as_bool();
        }();
        save_global("torch._utils._rebuild_parameter");
        tuple_of(3, [&](size_t i) {
            if (i == 1) return op(grad ? '\x88' : '\x89');
            if (i == 2) return empty_ordered_dict();
            Step s(path_, "state");
            Step s2(path_, "data");
            save(data, depth + 1);
        });
        op('R');
        memoize(p.get());
    }

    DocRef doc_;
    std::string out_;
    size_t next_memo_ = 0;
    std::unordered_map<milo_value*, size_t> memo_;
    std::unordered_map<std::string, size_t> globals_, strings_;
    std::unordered_map<std::string, size_t> shared_;  // shared string → memo index or SIZE_MAX
    std::unordered_map<milo_value*, StorageOut> storages_;
    std::unordered_set<milo_value*> in_progress_;
    std::vector<std::string> path_;
};

}  // namespace

std::string export_pt(DocRef doc) {
    if (!doc.root()) throw Error(MILO_ERR_CORRUPT, "torch writer: the document has no root");
    return Writer(doc).run();
}

}  // namespace torch
}  // namespace milo
