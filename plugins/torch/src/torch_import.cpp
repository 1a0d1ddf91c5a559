// torch.save files → Milo documents (README.md, "Reading"). The pickle graph of the safe VM is
// converted here rather than by the sklearn transporter's Converter: that one lives inside the
// sklearn plugin with numpy recognition and in-house delegation around it, while checkpoints
// need persistent ids and rebuild calls recognised first and nothing of numpy.
#include "torch_import.hpp"

#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "milo/milo_codec.hpp"
#include "milo/readers/decompress.hpp"
#include "milo/readers/pickle_vm.hpp"
#include "milo/readers/trust_policy.hpp"
#include "milo/readers/zip_reader.hpp"
#include "torch_forms.hpp"

namespace milo {
namespace torch {
namespace {

using pickle::is_global;
using pickle::Kind;
using pickle::Node;

// Keeps the bytes the graph and the borrowed tensors point into.
struct Holder {
    std::string input;               // a copy of the caller's bytes (theirs live only in decode)
    std::deque<std::string> inflated;  // deflated zip entries, read out
};
void release_holder(void* context) { delete static_cast<std::shared_ptr<Holder>*>(context); }

// One storage a persistent id names.
struct Storage {
    const StorageClass* cls = nullptr;
    std::string key;
    std::string location;
    int64_t numel = 0;
    const Node* pid = nullptr;  // first persistent id naming it
    size_t tensors = 0;         // distinct _rebuild_tensor_v2 calls over it
    bool loaded = false;
    bool checked = false;  // bool storages: every byte 0 or 1
    std::string_view data;
    milo_value* node = nullptr;  // its torch.storage object, once made
};

const Node* arg(const Node* call, size_t i) {
    return call->args && i < call->args->items.size() ? call->args->items[i] : nullptr;
}

bool no_extras(const Node* n) {
    return n->states.empty() && n->list_items.empty() && n->dict_items.empty();
}

bool is_str(const Node* n, std::string_view s) {
    return n && n->kind == Kind::Str && n->text == s;
}

// collections.OrderedDict() with nothing in it (the backward hooks torch.save writes).
bool empty_ordered_dict(const Node* n) {
    return n->kind == Kind::Reduce && is_global(n->callable, "collections", "OrderedDict") &&
           n->args->items.empty() && no_extras(n);
}

std::string display(const char* path) {
    return path && *path ? std::string(path) : std::string("<memory>");
}

class Reader {
public:
    using Loader = std::function<std::string_view(Storage&)>;

    Reader(DocRef doc, std::shared_ptr<Holder> holder, std::string file, bool legacy)
        : doc_(doc), holder_(std::move(holder)), file_(std::move(file)), legacy_(legacy) {}

    // Finds every storage persistent id and counts the tensors over each (iteratively).
    void collect(const Node* root) {
        std::vector<const Node*> stack{root};
        std::unordered_set<const Node*> seen;
        while (!stack.empty()) {
            const Node* n = stack.back();
            stack.pop_back();
            if (n == nullptr || !seen.insert(n).second) continue;
            if (n->kind == Kind::PersId) note_storage(n);
            if (n->kind == Kind::Reduce &&
                is_global(n->callable, "torch._utils", "_rebuild_tensor_v2")) {
                const Node* s = arg(n, 0);
                if (s && s->kind == Kind::PersId && storage_pid(s)) {
                    note_storage(s);
                    ++storages_[std::string(s->args->items[2]->text)].tensors;
                }
            }
            for (const std::vector<Node*>* v : {&n->items, &n->states, &n->list_items,
                                                &n->dict_items})
                stack.insert(stack.end(), v->begin(), v->end());
            stack.push_back(n->callable);
            stack.push_back(n->args);
            stack.push_back(n->kwargs);
            stack.push_back(n->payload);
        }
    }

    std::unordered_map<std::string, Storage>& storages() { return storages_; }
    void set_loader(Loader loader) { loader_ = std::move(loader); }

    std::vector<std::string> shared_strings;  // strings the pickle shares, first-shared order

    ValueRef convert(const Node* n, const std::string& path, int depth) {
        if (depth > kMaxDepth)
            throw Error(MILO_ERR_LIMIT, file_ + ": " + path + ": values nested deeper than " +
                                            std::to_string(kMaxDepth) + " levels");
        auto found = done_.find(n);
        if (found != done_.end()) {
            // The document has no identity for strings: list the ones the pickle shares (torch
            // shares 'version' across _metadata) so that the writer shares them again.
            if (n->kind == Kind::Str && shared_seen_.insert(n->text).second)
                shared_strings.push_back(std::string(n->text));
            return {doc_.api(), found->second};
        }
        ValueRef v = make(n, path, depth);
        done_.emplace(n, v.get());
        return v;
    }

    std::unordered_set<std::string> pseudo;  // parenthesised object types used (trust)
    std::unordered_set<std::string> made;    // torch.* document types used (trust)

private:
    static constexpr int kMaxDepth = 1000;

    [[noreturn]] void fail(int32_t code, const std::string& path, const std::string& why) const {
        throw Error(code, file_ + ": " + path + ": " + why);
    }

    // ('storage', class, key, location, numel[, view_metadata]) with the right kinds.
    bool storage_pid(const Node* pid) const {
        const Node* t = pid->args;
        const size_t want = legacy_ ? 6 : 5;
        if (t == nullptr || t->kind != Kind::Tuple || t->items.size() != want) return false;
        const auto& it = t->items;
        return is_str(it[0], "storage") && it[1]->kind == Kind::Global &&
               it[2]->kind == Kind::Str && it[3]->kind == Kind::Str && it[4]->kind == Kind::Int;
    }

    void note_storage(const Node* pid) {
        if (!storage_pid(pid)) return;
        const auto& it = pid->args->items;
        const std::string key(it[2]->text);
        const std::string where = file_ + ": byte " + std::to_string(pid->offset) + ": storage \"" +
                                  key + "\": ";
        const StorageClass* cls = storage_class(it[1]->text, it[1]->name);
        if (cls == nullptr) {
            std::string why = unsupported_storage(it[1]->text, it[1]->name);
            throw Error(MILO_ERR_UNSUPPORTED,
                        where + (why.empty() ? "unknown storage class " +
                                                   join_global(it[1]->text, it[1]->name)
                                             : why));
        }
        if (it[4]->i < 0) throw Error(MILO_ERR_CORRUPT, where + "negative element count");
        if (legacy_ && it[5]->kind != Kind::None)
            throw Error(MILO_ERR_UNSUPPORTED, where + "a view of another storage (legacy format)");
        Storage& s = storages_[key];
        if (s.pid == nullptr) {
            s.cls = cls;
            s.key = key;
            s.location = std::string(it[3]->text);
            s.numel = it[4]->i;
            s.pid = pid;
        } else if (s.cls != cls || s.numel != it[4]->i || s.location != it[3]->text) {
            throw Error(MILO_ERR_CORRUPT, where + "named twice with different class, location "
                                                  "or element count");
        }
    }

    Storage& storage_of(const Node* pid, const std::string& path) {
        auto it = storages_.find(std::string(pid->args->items[2]->text));
        if (it == storages_.end() || (!it->second.loaded && !loader_))
            fail(MILO_ERR_CORRUPT, path, "storage without a record");
        Storage& s = it->second;
        if (s.location != "cpu")
            fail(MILO_ERR_UNSUPPORTED, path, "storage on device \"" + s.location + "\" (only cpu)");
        if (!s.loaded) {
            s.data = loader_(s);
            s.loaded = true;
        }
        if (!s.checked) {
            s.checked = true;
            if (s.cls->dtype == MILO_DTYPE_BOOL)  // torch writes 0 or 1; a document bool is too
                for (size_t i = 0; i < s.data.size(); ++i)
                    if (static_cast<unsigned char>(s.data[i]) > 1)
                        fail(MILO_ERR_CORRUPT, path,
                             "bool storage \"" + it->first + "\" has byte " + std::to_string(i) +
                                 " = " + std::to_string(static_cast<unsigned char>(s.data[i])) +
                                 " (expected 0 or 1)");
        }
        return s;
    }

    // A tensor over `data` (C order, little-endian), borrowing the holder's bytes.
    ValueRef tensor_over(int32_t dtype, const std::vector<int64_t>& shape, std::string_view data) {
        if (data.empty()) return doc_.tensor(dtype, shape);
        auto* keep = new std::shared_ptr<Holder>(holder_);
        try {
            return doc_.tensor_borrowed(dtype, shape, data.data(), data.size(), release_holder,
                                        keep);
        } catch (...) {
            delete keep;
            throw;
        }
    }

    ValueRef storage_node(Storage& s) {
        if (s.node) return {doc_.api(), s.node};
        made.insert(kStorageType);
        ValueRef o = doc_.object(kStorageType);
        ValueRef st = doc_.map();
        doc_.put(st, "dtype", doc_.string(codec::dtype_info(s.cls->dtype)->name));
        doc_.put(st, "device", doc_.string("cpu"));
        doc_.put(st, "data", tensor_over(s.cls->dtype, {s.numel}, s.data));
        o.set_state(st);
        s.node = o.get();
        return o;
    }

    std::vector<int64_t> int_tuple(const Node* n, const std::string& path, const char* what) {
        if (n == nullptr || n->kind != Kind::Tuple)
            fail(MILO_ERR_CORRUPT, path, std::string(what) + " is not a tuple");
        std::vector<int64_t> out;
        for (const Node* x : n->items) {
            if (x->kind != Kind::Int || x->i < 0)
                fail(MILO_ERR_CORRUPT, path, std::string(what) + " holds a value that is not a "
                                                                  "non-negative integer");
            out.push_back(x->i);
        }
        return out;
    }

    void check_hooks(const Node* hooks, const std::string& path) {
        if (hooks == nullptr || !empty_ordered_dict(hooks))
            fail(MILO_ERR_UNSUPPORTED, path, "backward hooks (only an empty OrderedDict)");
    }

    // torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, meta])
    ValueRef make_tensor(const Node* n, const std::string& path) {
        const size_t argc = n->args->items.size();
        if (argc != 6 && argc != 7)
            fail(MILO_ERR_CORRUPT, path, "_rebuild_tensor_v2 with " + std::to_string(argc) +
                                             " arguments (6 or 7)");
        if (!no_extras(n)) fail(MILO_ERR_UNSUPPORTED, path, "BUILD or items on a tensor");
        const Node* pid = arg(n, 0);
        if (pid->kind != Kind::PersId || !storage_pid(pid))
            fail(MILO_ERR_CORRUPT, path, "tensor storage is not a storage persistent id");
        const Node* off = arg(n, 1);
        if (off->kind != Kind::Int || off->i < 0)
            fail(MILO_ERR_CORRUPT, path, "storage offset is not a non-negative integer");
        std::vector<int64_t> size = int_tuple(arg(n, 2), path, "size");
        std::vector<int64_t> stride = int_tuple(arg(n, 3), path, "stride");
        if (size.size() != stride.size())
            fail(MILO_ERR_CORRUPT, path, "size and stride differ in length");
        const Node* grad = arg(n, 4);
        if (grad->kind != Kind::Bool) fail(MILO_ERR_CORRUPT, path, "requires_grad is not a bool");
        check_hooks(arg(n, 5), path);
        if (argc == 7 && !(arg(n, 6)->kind == Kind::Dict && arg(n, 6)->items.empty()))
            fail(MILO_ERR_UNSUPPORTED, path, "tensor metadata");
        Storage& s = storage_of(pid, path);

        // Elements reached: offset + sum((size-1)*stride) < storage numel (none when numel 0).
        uint64_t count = 1, last = uint64_t(off->i);
        bool overflow = false;
        for (size_t d = 0; d < size.size(); ++d) {
            uint64_t step = 0;
            overflow |= __builtin_mul_overflow(count, uint64_t(size[d]), &count);
            if (size[d] > 0) {
                overflow |=
                    __builtin_mul_overflow(uint64_t(size[d] - 1), uint64_t(stride[d]), &step);
                overflow |= __builtin_add_overflow(last, step, &last);
            }
        }
        if (overflow) fail(MILO_ERR_CORRUPT, path, "size, stride and offset overflow");
        if (count == 0 ? uint64_t(off->i) > uint64_t(s.numel) : last >= uint64_t(s.numel))
            fail(MILO_ERR_CORRUPT, path, "view reaches element " + std::to_string(last) +
                                             " of a storage of " + std::to_string(s.numel) +
                                             " (offset " + std::to_string(off->i) + ")");
        bool c_order = true;
        int64_t want = 1;
        for (size_t d = size.size(); d-- > 0;) {
            c_order = c_order && stride[d] == want;
            want *= size[d];
        }
        if (s.tensors == 1 && off->i == 0 && c_order && count == uint64_t(s.numel) &&
            grad->i == 0 && argc == 6)
            return tensor_over(s.cls->dtype, size, s.data);

        made.insert(kTensorType);
        ValueRef o = doc_.object(kTensorType);
        ValueRef st = doc_.map();
        doc_.put(st, "storage", storage_node(s));
        doc_.put(st, "storage_offset", doc_.integer(off->i));
        ValueRef sz = doc_.list(), sd = doc_.list();
        for (size_t d = 0; d < size.size(); ++d) {
            sz.append(doc_.integer(size[d]));
            sd.append(doc_.integer(stride[d]));
        }
        doc_.put(st, "size", sz);
        doc_.put(st, "stride", sd);
        doc_.put(st, "requires_grad", doc_.boolean(grad->i != 0));
        o.set_state(st);
        return o;
    }

    // torch._utils._rebuild_parameter(data, requires_grad, backward_hooks)
    ValueRef make_parameter(const Node* n, const std::string& path, int depth) {
        if (n->args->items.size() != 3)
            fail(MILO_ERR_CORRUPT, path, "_rebuild_parameter expects 3 arguments");
        if (!no_extras(n)) fail(MILO_ERR_UNSUPPORTED, path, "BUILD or items on a Parameter");
        const Node* data = arg(n, 0);
        if (!(data->kind == Kind::Reduce &&
              is_global(data->callable, "torch._utils", "_rebuild_tensor_v2")))
            fail(MILO_ERR_CORRUPT, path, "Parameter data is not a tensor");
        if (arg(n, 1)->kind != Kind::Bool)
            fail(MILO_ERR_CORRUPT, path, "requires_grad is not a bool");
        check_hooks(arg(n, 2), path);
        made.insert(kParameterType);
        ValueRef o = doc_.object(kParameterType);
        ValueRef st = doc_.map();
        doc_.put(st, "data", convert(data, path + "/state/data", depth + 1));
        doc_.put(st, "requires_grad", doc_.boolean(arg(n, 1)->i != 0));
        o.set_state(st);
        return o;
    }

    ValueRef make(const Node* n, const std::string& path, int depth) {
        switch (n->kind) {
            case Kind::None: return doc_.null();
            case Kind::Bool: return doc_.boolean(n->i != 0);
            case Kind::Int: return doc_.integer(n->i);
            case Kind::Float: return doc_.number(n->f);
            case Kind::Str:
                if (codec::utf8_invalid_at(n->text.data(), n->text.size()) != SIZE_MAX)
                    fail(MILO_ERR_UNSUPPORTED, path, "a string with lone surrogates");
                return doc_.string(n->text);
            case Kind::Bytes: return doc_.bytes(n->text.data(), n->text.size());
            case Kind::Long:
                fail(MILO_ERR_UNSUPPORTED, path, "an integer beyond 64 bits");
            case Kind::List:
            case Kind::Tuple:
            case Kind::Set: {
                ValueRef c = n->kind == Kind::List ? doc_.list()
                           : n->kind == Kind::Tuple ? doc_.tuple() : doc_.set();
                done_.emplace(n, c.get());
                for (size_t i = 0; i < n->items.size(); ++i)
                    c.append(convert(n->items[i], path + "/" + std::to_string(i), depth + 1));
                return c;
            }
            case Kind::Dict: {
                ValueRef m = doc_.map();
                done_.emplace(n, m.get());
                append_pairs(m, n->items, path, depth);
                return m;
            }
            case Kind::Global: return doc_.global(join_global(n->text, n->name).c_str());
            case Kind::PersId: {
                if (storage_pid(n)) return storage_node(storage_of(n, path));
                return wrapped(kPersIdType, n, n->args, path, depth);
            }
            case Kind::Reduce:
            case Kind::NewObj: return make_call(n, path, depth);
            case Kind::Ext: {
                pseudo.insert(kExtType);
                ValueRef o = doc_.object(kExtType);
                ValueRef a = doc_.tuple();
                a.append(doc_.integer(n->i));
                o.set_args(a);
                set_state(o, n, path, depth);
                return o;
            }
            case Kind::FrozenSet:
            case Kind::ByteArray:
            case Kind::Buffer:
                fail(MILO_ERR_UNSUPPORTED, path, std::string("a ") + pickle::kind_name(n->kind) +
                                                     " (checkpoints hold none)");
        }
        fail(MILO_ERR_CORRUPT, path, "unknown node kind");
    }

    ValueRef wrapped(const char* type, const Node* n, const Node* inner, const std::string& path,
                     int depth) {
        pseudo.insert(type);
        ValueRef o = doc_.object(type);
        done_.emplace(n, o.get());
        ValueRef a = doc_.tuple();
        a.append(convert(inner, path + "/args/0", depth + 1));
        o.set_args(a);
        set_state(o, n, path, depth);
        return o;
    }

    void append_pairs(ValueRef m, const std::vector<Node*>& items, const std::string& path,
                      int depth) {
        for (size_t i = 0; i + 1 < items.size(); i += 2) {
            const Node* k = items[i];
            std::string sub = path + "/" + (k->kind == Kind::Str ? std::string(k->text)
                                                                 : std::to_string(i / 2));
            m.append(convert(k, path + "/{key " + std::to_string(i / 2) + "}", depth + 1),
                     convert(items[i + 1], sub, depth + 1));
        }
    }

    ValueRef make_call(const Node* n, const std::string& path, int depth) {
        const Node* c = n->callable;
        if (n->kind == Kind::Reduce && c->kind == Kind::Global) {
            if (is_global(c, "torch._utils", "_rebuild_tensor_v2")) return make_tensor(n, path);
            if (is_global(c, "torch._utils", "_rebuild_parameter"))
                return make_parameter(n, path, depth);
            if (c->text == "torch._utils" && c->name.rfind("_rebuild", 0) == 0)
                fail(MILO_ERR_UNSUPPORTED, path,
                     "a tensor rebuilt by torch._utils." + std::string(c->name) +
                         " (quantized, sparse, meta or device tensors are not read)");
        }
        // Anything else keeps its pickle-level form (the sklearn transporter's, README.md).
        if (n->kind == Kind::Reduce && c->kind != Kind::Global) {
            pseudo.insert(kCallType);
            ValueRef o = doc_.object(kCallType);
            done_.emplace(n, o.get());
            ValueRef a = doc_.tuple();
            a.append(convert(c, path + "/args/0", depth + 1));
            for (size_t i = 0; i < n->args->items.size(); ++i)
                a.append(convert(n->args->items[i], path + "/args/" + std::to_string(i + 1),
                                 depth + 1));
            o.set_args(a);
            set_state(o, n, path, depth);
            return o;
        }
        if (n->kind == Kind::Reduce) {
            ValueRef o = doc_.object(join_global(c->text, c->name).c_str());
            done_.emplace(n, o.get());
            o.set_args(convert(n->args, path + "/args", depth + 1));
            set_state(o, n, path, depth);
            return o;
        }
        if (c->kind == Kind::Global && n->args->items.empty() && n->kwargs == nullptr) {
            ValueRef o = doc_.object(join_global(c->text, c->name).c_str());
            done_.emplace(n, o.get());
            set_state(o, n, path, depth);
            return o;
        }
        ValueRef o = doc_.object(n->kwargs ? "copyreg.__newobj_ex__" : "copyreg.__newobj__");
        done_.emplace(n, o.get());
        ValueRef a = doc_.tuple();
        a.append(convert(c, path + "/args/0", depth + 1));
        if (n->kwargs) {
            a.append(convert(n->args, path + "/args/1", depth + 1));
            a.append(convert(n->kwargs, path + "/args/2", depth + 1));
        } else {
            for (size_t i = 0; i < n->args->items.size(); ++i)
                a.append(convert(n->args->items[i], path + "/args/" + std::to_string(i + 1),
                                 depth + 1));
        }
        o.set_args(a);
        set_state(o, n, path, depth);
        return o;
    }

    // BUILD states and APPEND/SETITEM items of an object, as the sklearn transporter writes them.
    void set_state(ValueRef o, const Node* n, const std::string& path, int depth) {
        const std::string sp = path + "/state";
        if (n->states.size() == 1 && n->list_items.empty() && n->dict_items.empty()) {
            o.set_state(convert(n->states[0], sp, depth + 1));
            return;
        }
        if (no_extras(n)) return;
        made.insert(kExtrasType);  // structure only: what it holds is classified on its own
        ValueRef extras = doc_.object(kExtrasType);
        ValueRef m = doc_.map();
        if (!n->list_items.empty()) {
            ValueRef l = doc_.list();
            for (size_t i = 0; i < n->list_items.size(); ++i)
                l.append(convert(n->list_items[i], sp + "/append/" + std::to_string(i), depth + 2));
            doc_.put(m, "append", l);
        }
        if (!n->dict_items.empty()) {
            ValueRef d = doc_.map();
            append_pairs(d, n->dict_items, sp + "/setitem", depth + 1);
            doc_.put(m, "setitem", d);
        }
        if (!n->states.empty()) {
            ValueRef l = doc_.list();
            for (size_t i = 0; i < n->states.size(); ++i)
                l.append(convert(n->states[i], sp + "/build/" + std::to_string(i), depth + 2));
            doc_.put(m, "build", l);
        }
        extras.set_state(m);
        o.set_state(extras);
    }

    DocRef doc_;
    std::shared_ptr<Holder> holder_;
    std::string file_;
    bool legacy_;
    Loader loader_;
    std::unordered_map<std::string, Storage> storages_;
    std::unordered_map<const Node*, milo_value*> done_;
    std::unordered_set<std::string_view> shared_seen_;
};

// Every name the streams use, with each way it is used; the document types the reader made
// stand for the rebuild calls the policy classified.
void set_trust(DocRef doc, const pickle::Graph& graph, const Reader& reader) {
    for (const pickle::GlobalRef& g : graph.globals) {
        const std::string full = join_global(g.module, g.name);
        const readers::Usage usages[] = {readers::Usage::Call, readers::Usage::Instantiate,
                                         readers::Usage::Reference};
        const bool used[] = {g.called, g.instantiated, g.referenced};
        for (int k = 0; k < 3; ++k)
            if (used[k])
                doc.set_trust(full.c_str(), readers::usage_name(usages[k]),
                              int32_t(readers::classify(g.module, g.name, usages[k]).level));
    }
    for (const std::string& p : reader.pseudo)
        doc.set_trust(p.c_str(), "call",
                      p == kCallType ? MILO_TRUST_DANGEROUS : MILO_TRUST_UNTRUSTED);
    for (const std::string& t : reader.made)
        doc.set_trust(t.c_str(), "instantiate", MILO_TRUST_TRUSTED);
}

uint64_t element_bytes(const Storage& s, const std::string& where) {
    uint64_t n = 0;
    if (__builtin_mul_overflow(uint64_t(s.numel), codec::dtype_info(s.cls->dtype)->size, &n))
        throw Error(MILO_ERR_CORRUPT, where + ": element count overflows");
    return n;
}

pickle::Options options_at(uint64_t base) {
    pickle::Options o;
    o.base_offset = base;
    return o;
}

// The zip format: <archive>/data.pkl, <archive>/data/<key>, <archive>/version.
void read_zip(DocRef doc, Holder& holder, pickle::Graph& graph, Reader& reader,
              const std::string& name, std::string& archive) {
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(holder.input.data());
    readers::ZipReader zip(bytes, holder.input.size());
    if (zip.entries().empty()) throw Error(MILO_ERR_CORRUPT, name + ": an empty zip archive");
    // pickle.load (and torch.load, which tests only the first bytes for a zip) would run it.
    if (zip.archive_offset() > 0 && readers::sniff(bytes, size_t(zip.archive_offset())) ==
                                        readers::Container::Pickle)
        throw Error(MILO_ERR_CORRUPT, name + ": byte 0: a pickle stream before the zip archive "
                                             "(which starts at byte " +
                                             std::to_string(zip.archive_offset()) + ")");
    const std::string& first = zip.entries().front().name;
    archive = first.substr(0, first.find('/'));
    if (archive.size() == first.size())
        throw Error(MILO_ERR_UNSUPPORTED,
                    name + ": zip entry \"" + first + "\" is outside an archive folder");
    const std::string prefix = archive + "/";
    for (const readers::ZipEntry& e : zip.entries())
        if (e.name == prefix + "constants.pkl" || e.name.rfind(prefix + "code/", 0) == 0)
            throw Error(MILO_ERR_UNSUPPORTED,
                        name + ": a TorchScript archive, not a checkpoint (entry \"" + e.name +
                            "\"; torch.jit.load reads it)");
    const readers::ZipEntry* pkl = zip.find(prefix + "data.pkl");
    if (pkl == nullptr)
        throw Error(MILO_ERR_UNSUPPORTED,
                    name + ": no \"" + prefix + "data.pkl\" in the zip archive");
    auto read = [&](const readers::ZipEntry& e) -> std::string_view {
        if (e.method == 0) return zip.view(e);
        holder.inflated.push_back(zip.read(e));
        return holder.inflated.back();
    };
    if (const readers::ZipEntry* bo = zip.find(prefix + "byteorder")) {
        std::string_view order = read(*bo);
        if (order != "little")
            throw Error(MILO_ERR_UNSUPPORTED, name + ": byte order \"" + std::string(order) +
                                                  "\" (only little)");
        doc.set_metadata("torch.byteorder", std::string(order));
    }
    std::string_view pk = read(*pkl);
    try {
        pickle::run(graph, reinterpret_cast<const uint8_t*>(pk.data()), pk.size(),
                    options_at(pkl->method == 0 ? pkl->data_offset : 0));
    } catch (const pickle::Error& e) {
        throw Error(MILO_ERR_CORRUPT, name + ": zip entry " + pkl->name + ": " + e.what());
    }
    reader.collect(graph.root);
    reader.set_loader([&zip, read, prefix, name](Storage& s) {
        const std::string entry = prefix + "data/" + s.key;
        const std::string where = name + ": storage record \"" + entry + "\"";
        const readers::ZipEntry* e = zip.find(entry);
        if (e == nullptr) throw Error(MILO_ERR_CORRUPT, where + ": missing");
        const uint64_t want = element_bytes(s, where);
        if (e->size != want)
            throw Error(MILO_ERR_CORRUPT, where + " (byte " + std::to_string(e->header_offset) +
                                              "): " + std::to_string(e->size) + " bytes, " +
                                              std::to_string(s.numel) + " elements need " +
                                              std::to_string(want));
        return read(*e);
    });
    // Convert while the ZipReader lives (the loader uses it).
    doc.set_root(reader.convert(graph.root, "/root", 0));
}

// The legacy format: pickles of the magic number, protocol version and sys_info, the main
// pickle, the list of storage keys, then each storage as an int64 count and its bytes.
void read_legacy(DocRef doc, Holder& holder, pickle::Graph& graph, Reader& reader,
                 const std::string& name) {
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(holder.input.data());
    const size_t size = holder.input.size();
    pickle::Options opt;
    opt.allow_trailing = true;
    size_t pos = 0;
    auto next = [&](const char* what) -> const Node* {
        try {
            pos = pickle::run(graph, bytes, size, opt, pos);
        } catch (const pickle::Error& e) {
            throw Error(MILO_ERR_CORRUPT, name + ": " + what + ": " + e.what());
        }
        return graph.root;
    };
    const Node* magic = next("magic number");
    if (magic->kind != Kind::Long ||
        magic->text != std::string_view(reinterpret_cast<const char*>(kLegacyMagic),
                                        sizeof kLegacyMagic))
        throw Error(MILO_ERR_UNSUPPORTED, name + ": not a torch.save file (no magic number)");
    const Node* proto = next("protocol version");
    if (proto->kind != Kind::Int || proto->i != kLegacyProtocol)
        throw Error(MILO_ERR_UNSUPPORTED, name + ": legacy protocol version is not 1001");
    const Node* info = next("sys_info");
    if (info->kind != Kind::Dict) throw Error(MILO_ERR_CORRUPT, name + ": sys_info is not a dict");
    for (size_t i = 0; i + 1 < info->items.size(); i += 2)
        if (is_str(info->items[i], "little_endian") &&
            !(info->items[i + 1]->kind == Kind::Bool && info->items[i + 1]->i == 1))
            throw Error(MILO_ERR_UNSUPPORTED, name + ": a big-endian legacy file");
    const Node* root = next("main pickle");
    reader.collect(root);
    const Node* keys = next("storage keys");
    if (keys->kind != Kind::List)
        throw Error(MILO_ERR_CORRUPT, name + ": storage key list is not a list");
    auto& storages = reader.storages();
    if (keys->items.size() != storages.size())
        throw Error(MILO_ERR_CORRUPT, name + ": " + std::to_string(keys->items.size()) +
                                          " storage records for " +
                                          std::to_string(storages.size()) + " storages");
    for (const Node* k : keys->items) {
        auto it = k->kind == Kind::Str ? storages.find(std::string(k->text)) : storages.end();
        const std::string where = name + ": byte " + std::to_string(pos) + ": storage record";
        if (it == storages.end() || it->second.loaded)
            throw Error(MILO_ERR_CORRUPT, where + " of a key no tensor names, or named twice");
        Storage& s = it->second;
        if (size - pos < 8) throw Error(MILO_ERR_CORRUPT, where + ": truncated element count");
        int64_t count = 0;
        std::memcpy(&count, bytes + pos, 8);
        if (count != s.numel)
            throw Error(MILO_ERR_CORRUPT, where + " \"" + s.key + "\": " + std::to_string(count) +
                                              " elements, the pickle says " +
                                              std::to_string(s.numel));
        const uint64_t n = element_bytes(s, where);
        if (n > size - pos - 8)
            throw Error(MILO_ERR_CORRUPT, where + " \"" + s.key + "\": " + std::to_string(n) +
                                              " bytes, " + std::to_string(size - pos - 8) +
                                              " left");
        s.data = std::string_view(holder.input.data() + pos + 8, n);
        s.loaded = true;
        pos += 8 + n;
    }
    if (pos != size)
        throw Error(MILO_ERR_CORRUPT, name + ": byte " + std::to_string(pos) + ": " +
                                          std::to_string(size - pos) + " trailing bytes");
    doc.set_root(reader.convert(root, "/root", 0));
}

bool legacy_head(const uint8_t* p, size_t n) {
    return n >= 4 + sizeof kLegacyMagic && p[0] == 0x80 && p[1] == 0x02 && p[2] == 0x8a &&
           p[3] == sizeof kLegacyMagic &&
           std::memcmp(p + 4, kLegacyMagic, sizeof kLegacyMagic) == 0;
}

}  // namespace

PtKind sniff_pt(const uint8_t* head, size_t size) noexcept {
    if (legacy_head(head, size)) return PtKind::Legacy;
    // A pickle with a zip after it is the sklearn transporter's to refuse (torch.load would
    // unpickle it).
    if (readers::sniff(head, size) == readers::Container::Pickle) return PtKind::Other;
    // Local headers in the head: their names tell checkpoints from TorchScript archives.
    bool data_pkl = false;
    for (size_t i = 0; i + 30 <= size; ++i) {
        if (std::memcmp(head + i, "PK\x03\x04", 4) != 0) continue;
        const size_t len = head[i + 26] | size_t(head[i + 27]) << 8;
        if (i + 30 + len > size) break;
        std::string_view entry(reinterpret_cast<const char*>(head + i + 30), len);
        const size_t slash = entry.find('/');
        if (slash == std::string_view::npos) continue;
        std::string_view rest = entry.substr(slash + 1);
        if (rest == "constants.pkl" || rest.rfind("code/", 0) == 0) return PtKind::TorchScript;
        data_pkl = data_pkl || rest == "data.pkl";
    }
    return data_pkl ? PtKind::Checkpoint : PtKind::Other;
}

void import_pt(DocRef doc, const uint8_t* data, size_t size, const char* path) {
    const std::string name = display(path);
    auto holder = std::make_shared<Holder>();
    holder->input.assign(reinterpret_cast<const char*>(data), size);
    const bool legacy = legacy_head(data, size);
    pickle::Graph graph;
    Reader reader(doc, holder, name, legacy);
    std::string archive;
    try {
        if (legacy) read_legacy(doc, *holder, graph, reader, name);
        else read_zip(doc, *holder, graph, reader, name, archive);
    } catch (const readers::ZipError& e) {
        throw Error(MILO_ERR_CORRUPT, name + ": " + e.what());
    }

    ValueRef root = doc.root();
    doc.set_header("type", root.is(MILO_KIND_OBJECT) ? std::string(root.name())
                           : root.is(MILO_KIND_MAP)  ? std::string("dict")
                           : root.is(MILO_KIND_LIST)  ? std::string("list")
                                                     : std::string("value"));
    doc.set_header("framework.name", "pytorch");
    doc.set_header("transporter.id", kTransporterId);
    doc.set_header("transporter.revision", kRevision);
    doc.set_header("source.kind", legacy ? "pt-legacy" : "pt");
    doc.set_header("source.version", std::to_string(graph.protocol));
    char sha[65] = {0};
    doc.api()->hash_sha256(data, size, sha);
    doc.set_header("source.sha256", sha);
    if (!legacy) doc.set_metadata("torch.archive_name", archive);
    if (!reader.shared_strings.empty())
        doc.set_metadata("pickle.shared_strings", nlohmann::json(reader.shared_strings).dump());
    set_trust(doc, graph, reader);
}

}  // namespace torch
}  // namespace milo
