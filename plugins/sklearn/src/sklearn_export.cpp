// Document → pickle stream (the inverse of sklearn_import.cpp; README.md, "Mapping").
// Opcodes as CPython's pickler writes them for protocol 5, without frames (optional).
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "milo/milo_codec.hpp"
#include "milo/readers/pickle_emit.hpp"
#include "milo/sklearn_object.h"
#include "sklearn_forms.hpp"
#include "sklearn_import.hpp"

namespace milo {
namespace sklearn {
namespace {

constexpr int kMaxDepth = 1000;

class Writer {
public:
    Writer(DocRef doc, milo_registry* registry) : doc_(doc), registry_(registry) {
        std::string core;
        const milo_api* api = doc.api();
        for (size_t i = 0, n = api->doc_metadata_count(doc.get()); i < n; ++i) {
            const char *k = nullptr, *v = nullptr;
            if (api->doc_metadata_at(doc.get(), i, &k, &v, nullptr) != MILO_OK || !k || !v) continue;
            if (std::string_view(k) == "pickle.numpy_core") core = v;
            if (std::string_view(k) == "pickle.shared_strings") {
                nlohmann::json list = nlohmann::json::parse(v, nullptr, /*allow_exceptions=*/false);
                if (list.is_array())
                    for (const auto& item : list)
                        if (item.is_string()) shared_.emplace(item.get<std::string>(), SIZE_MAX);
            }
        }
        core_ = core == "numpy._core" ? "numpy._core" : "numpy.core";
        // Classes the import handed to a transporter (trust usage "…, delegated:<id>") are in
        // that transporter's form: written as they are, they would unpickle into wrong objects.
        for (size_t i = 0, n = api->doc_trust_count(doc.get()); i < n; ++i) {
            const char *name = nullptr, *usage = nullptr;
            int32_t level = 0;
            if (api->doc_trust_at(doc.get(), i, &name, &usage, &level, nullptr) != MILO_OK ||
                !name || !usage)
                continue;
            const char* d = std::strstr(usage, kDelegatedNote);
            if (d != nullptr) needs_delegate_[name] = d + std::strlen(kDelegatedNote);
        }
    }

    std::string run() {
        out_.append("\x80\x05", 2);
        save(doc_.root(), 0);
        out_.push_back('.');
        return std::move(out_);
    }

private:
    [[noreturn]] void fail(milo_status code, const std::string& what) {
        throw Error(code, "pickle writer: " + path_text() + ": " + what);
    }
    std::string path_text() const {
        std::string p = "/root";
        for (const std::string& s : path_) p += "/" + s;
        return p;
    }
    struct Step {
        std::vector<std::string>& path;
        Step(std::vector<std::string>& p, std::string s) : path(p) { path.push_back(std::move(s)); }
        ~Step() { path.pop_back(); }
    };

    // ---- opcodes -------------------------------------------------------------------------
    void op(char c) { out_.push_back(c); }
    void u32(uint32_t v) { for (int i = 0; i < 4; ++i) out_.push_back(char(v >> (8 * i))); }
    void u64(uint64_t v) { for (int i = 0; i < 8; ++i) out_.push_back(char(v >> (8 * i))); }
    void memoize(milo_value* v) {
        op('\x94');
        memo_.emplace(v, next_memo_++);
    }
    bool get(milo_value* v) {
        auto it = memo_.find(v);
        if (it == memo_.end()) return false;
        emit_get(it->second);
        return true;
    }
    void save_int(int64_t v) { pickle::emit::int64(out_, v); }
    // Decimal text → little-endian two's complement.
    void save_int_text(std::string_view t) {
        bool neg = !t.empty() && t[0] == '-';
        std::vector<uint32_t> limbs;  // magnitude
        for (size_t i = neg ? 1 : 0; i < t.size(); ++i) {
            uint64_t carry = uint64_t(t[i] - '0');
            for (uint32_t& l : limbs) {
                uint64_t v = uint64_t(l) * 10 + carry;
                l = uint32_t(v);
                carry = v >> 32;
            }
            if (carry) limbs.push_back(uint32_t(carry));
        }
        std::string le;
        for (uint32_t l : limbs)
            for (int k = 0; k < 4; ++k) le.push_back(char(l >> (8 * k)));
        le.push_back('\0');  // room for the sign bit
        if (neg) {
            unsigned carry = 1;
            for (char& c : le) {
                unsigned v = unsigned(static_cast<unsigned char>(~c)) + carry;
                c = char(v);
                carry = v >> 8;
            }
        }
        pickle::emit::long_bytes(out_, pickle::emit::trim_le(le));
    }
    void save_float(double d) { pickle::emit::float64(out_, d); }
    // Strings the source shared (pickle.shared_strings) are memoized and shared again.
    void save_str(std::string_view s) {
        if (!shared_.empty()) {
            auto it = shared_.find(std::string(s));
            if (it != shared_.end()) {
                if (it->second != SIZE_MAX) {
                    emit_get(it->second);
                    return;
                }
                write_str(s);
                op('\x94');
                it->second = next_memo_++;
                return;
            }
        }
        write_str(s);
    }
    // The shortest of an opcode's 1-, 4- and 8-byte length forms, then the bytes.
    void write_sized(std::string_view s, char op1, char op4, char op8) {
        if (s.size() < 256) {
            op(op1);
            out_.push_back(char(s.size()));
        } else if (s.size() <= UINT32_MAX) {
            op(op4);
            u32(uint32_t(s.size()));
        } else {
            op(op8);
            u64(s.size());
        }
        out_.append(s.data(), s.size());
    }
    void write_str(std::string_view s) { write_sized(s, '\x8c', 'X', '\x8d'); }
    void save_bytes(std::string_view b) { write_sized(b, 'C', 'B', '\x8e'); }
    void save_global(std::string_view full) {
        auto it = globals_.find(std::string(full));
        if (it != globals_.end()) {
            emit_get(it->second);
            return;
        }
        std::string module, name;
        if (!split_global(full, module, name)) fail(MILO_ERR_CORRUPT, "global name \"" + std::string(full) + "\" has no module");
        write_str(module);
        write_str(name);
        op('\x93');
        op('\x94');
        globals_.emplace(std::string(full), next_memo_++);
    }
    void emit_get(size_t index) { pickle::emit::get(out_, index); }
    void save_shape(const std::vector<int64_t>& shape) {
        op('(');
        for (int64_t d : shape) save_int(d);
        op('t');
    }

    // ---- values --------------------------------------------------------------------------
    void save(ValueRef v, int depth) {
        if (!v) fail(MILO_ERR_CORRUPT, "missing value");
        if (depth > kMaxDepth) fail(MILO_ERR_LIMIT, "values nested deeper than 1000 levels");
        if ((registry_ || !needs_delegate_.empty()) && v.kind() == MILO_KIND_OBJECT)
            v = delegated(v);
        if (get(v.get())) return;
        switch (v.kind()) {
            case MILO_KIND_NULL: op('N'); return;
            case MILO_KIND_BOOL: op(v.as_bool() ? '\x88' : '\x89'); return;
            case MILO_KIND_INT: {
                std::string t = v.int_text();
                int64_t i = 0;
                auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
                if (ec == std::errc() && p == t.data() + t.size()) save_int(i);
                else save_int_text(t);
                return;
            }
            case MILO_KIND_FLOAT: save_float(v.as_float()); return;
            case MILO_KIND_STRING: save_str(v.as_string()); return;
            case MILO_KIND_BYTES: save_bytes(v.as_bytes()); return;
            case MILO_KIND_GLOBAL: save_global(v.name()); return;
            case MILO_KIND_LIST: {
                op(']');
                memoize(v.get());
                save_items(v, depth, 'e');
                return;
            }
            case MILO_KIND_SET: {
                op('\x8f');
                memoize(v.get());
                save_items(v, depth, '\x90');
                return;
            }
            case MILO_KIND_MAP: {
                op('}');
                memoize(v.get());
                size_t n = v.size();
                for (size_t start = 0; start < n; start += 1000) {
                    op('(');
                    for (size_t i = start; i < n && i < start + 1000; ++i) {
                        ValueRef key = v.key(i);
                        Step s(path_, key.is(MILO_KIND_STRING) ? std::string(key.as_string())
                                                               : std::to_string(i));
                        save(key, depth + 1);
                        save(v[i], depth + 1);
                    }
                    op('u');
                }
                return;
            }
            case MILO_KIND_TUPLE: {
                size_t n = v.size();
                if (n == 0) {
                    op(')');
                    return;  // CPython does not memoize the empty tuple either
                }
                op('(');
                for (size_t i = 0; i < n; ++i) {
                    Step s(path_, std::to_string(i));
                    save(v[i], depth + 1);
                }
                if (memo_.count(v.get())) {  // the tuple was reached again through its items
                    op('1');
                    get(v.get());
                    return;
                }
                op('t');
                memoize(v.get());
                return;
            }
            case MILO_KIND_TENSOR: save_tensor(v, depth); return;
            case MILO_KIND_OBJECT: save_object(v, depth); return;
        }
        fail(MILO_ERR_CORRUPT, "unknown value kind");
    }

    // In-house estimators (README.md): an object whose class has a registered transporter with
    // MILO_EXT_SKLEARN_OBJECT is written as the pickle-level object that transporter makes of
    // it (once per object; its result is not handed over again, the objects inside it are).
    ValueRef delegated(ValueRef o) {
        auto done = delegated_.find(o.get());
        if (done != delegated_.end()) return {doc_.api(), done->second};
        if (produced_.count(o.get())) return o;
        std::string type(o.name());
        auto known = delegates_.find(type);
        if (known == delegates_.end()) {
            std::string module, name;
            const milo_sklearn_object_ext* ext = nullptr;
            const milo_transporter* t = nullptr;
            if (type[0] != '(' && split_global(type, module, name) && untrusted_class(module, name))
                t = object_delegate(doc_.api(), registry_, type, ext);
            known = delegates_.emplace(type, std::make_pair(t, ext)).first;
        }
        auto [t, ext] = known->second;
        if (t == nullptr) {
            auto needed = needs_delegate_.find(type);
            if (needed != needs_delegate_.end())
                fail(MILO_ERR_UNSUPPORTED, type + " is in the form of transporter \"" +
                                               needed->second + "\", which is not loaded (load "
                                               "its plugin to write this document)");
            return o;
        }
        const milo_api* api = doc_.api();
        scratch_.emplace_back(api);  // owns the result until the pickle is written
        milo_value* out = nullptr;
        milo_error err = MILO_ERROR_INIT;
        const std::string path = path_text();
        milo_status s = ext->export_object(t->self, api, registry_, doc_.get(), o.get(),
                                           path.c_str(), scratch_.back().get(), &out, &err);
        if (s != MILO_OK)
            throw Error(s, "pickle writer: " + path + ": transporter \"" + t->id + "\": " +
                               (err.message[0] ? err.message : "export_object failed"));
        ValueRef r(api, out);
        if (!r.is(MILO_KIND_OBJECT))
            fail(MILO_ERR_PLUGIN, std::string("transporter \"") + t->id +
                                      "\": export_object did not return an object");
        produced_.insert(out);
        delegated_.emplace(o.get(), out);
        return r;
    }

    void save_items(ValueRef v, int depth, char batch_op) {
        size_t n = v.size();
        for (size_t start = 0; start < n; start += 1000) {
            op('(');
            for (size_t i = start; i < n && i < start + 1000; ++i) {
                Step s(path_, std::to_string(i));
                save(v[i], depth + 1);
            }
            op(batch_op);
        }
    }

    ValueRef args_tuple(ValueRef o) {
        ValueRef a = o.args();
        if (!a || !a.is(MILO_KIND_TUPLE)) fail(MILO_ERR_CORRUPT, "object args are not a tuple");
        return a;
    }

    void save_tuple_from(ValueRef t, size_t first, int depth) {
        op('(');
        for (size_t i = first; i < t.size(); ++i) {
            Step s(path_, "args/" + std::to_string(i));
            save(t[i], depth + 1);
        }
        op('t');
    }

    void save_object(ValueRef o, int depth) {
        std::string type(o.name());
        if (in_progress_.count(o.get()))
            fail(MILO_ERR_CORRUPT, "object \"" + type + "\" contains itself in its arguments");
        in_progress_.insert(o.get());
        struct Done {
            std::unordered_set<milo_value*>& s;
            milo_value* v;
            ~Done() { s.erase(v); }
        } done{in_progress_, o.get()};

        if (type == "numpy.ndarray" && !o.args() && o.state() && o.state().is(MILO_KIND_MAP)) {
            save_ndarray_form(o, depth);
            return;
        }
        if (type == "numpy.dtype") {
            // A plain dtype object (an estimator's `_fit_dtype`, say) is numpy's one object for
            // that dtype, which the arrays of the same dtype share in the original pickle.
            if (int32_t dt = plain_dtype_object(o)) {
                save_plain_dtype(dt);
                return;
            }
        }
        if (type == kStrType) {
            ValueRef a = args_tuple(o);
            if (a.size() != 1 || !a[0].is(MILO_KIND_BYTES)) fail(MILO_ERR_CORRUPT, "(str) needs (bytes,)");
            std::string_view b = a[0].as_bytes();
            op('X');
            u32(uint32_t(b.size()));
            out_.append(b.data(), b.size());
            memoize(o.get());  // one string object wherever the document shares the node
            return;
        }
        if (type == "builtins.bytearray" && o.args() && o.args().size() == 1 &&
            o.args()[0].is(MILO_KIND_BYTES) && !o.state()) {
            std::string_view b = o.args()[0].as_bytes();
            op('\x96');
            u64(b.size());
            out_.append(b.data(), b.size());
            memoize(o.get());
            return;
        }
        if (type == "builtins.frozenset" && o.args() && o.args().size() == 1 &&
            o.args()[0].is(MILO_KIND_LIST) && !o.state()) {
            ValueRef items = o.args()[0];
            op('(');
            for (size_t i = 0; i < items.size(); ++i) save(items[i], depth + 1);
            op('\x91');
            memoize(o.get());
            return;
        }
        if (type == kBufferType) fail(MILO_ERR_UNSUPPORTED, "an out-of-band buffer that was not supplied");
        if (type == kPersIdType) {
            ValueRef a = args_tuple(o);
            if (a.size() != 1) fail(MILO_ERR_CORRUPT, "(persistent_id) needs (pid,)");
            save(a[0], depth + 1);
            op('Q');
        } else if (type == kExtType) {
            ValueRef a = args_tuple(o);
            if (a.size() != 1 || !a[0].is(MILO_KIND_INT)) fail(MILO_ERR_CORRUPT, "(extension) needs (code,)");
            op('\x84');
            u32(uint32_t(a[0].as_int()));
        } else if (type == kCallType) {
            ValueRef a = args_tuple(o);
            if (a.size() < 1) fail(MILO_ERR_CORRUPT, "(call) needs (callable, *args)");
            save(a[0], depth + 1);
            save_tuple_from(a, 1, depth);
            op('R');
        } else if (type == "copyreg.__newobj__" && o.args() && o.args().size() >= 1) {
            ValueRef a = args_tuple(o);
            save(a[0], depth + 1);
            save_tuple_from(a, 1, depth);
            op('\x81');
        } else if (type == "copyreg.__newobj_ex__" && o.args() && o.args().size() == 3) {
            ValueRef a = args_tuple(o);
            for (size_t i = 0; i < 3; ++i) save(a[i], depth + 1);
            op('\x92');
        } else if (ValueRef a = o.args()) {
            if (!a.is(MILO_KIND_TUPLE)) fail(MILO_ERR_CORRUPT, "object args are not a tuple");
            save_global(type);
            if (is_scalar_form(type, a)) {
                save_scalar_args(a, depth);
            } else {
                Step s(path_, "args");
                save(a, depth + 1);
            }
            op('R');
        } else {
            save_global(type);
            op(')');
            op('\x81');
        }
        memoize(o.get());
        if (ValueRef st = o.state()) {
            Step s(path_, "state");
            if (st.is(MILO_KIND_OBJECT) && st.name() == kExtrasType) save_extras(st, depth);
            else {
                save(st, depth + 1);
                op('b');
            }
        }
    }

    void save_extras(ValueRef extras, int depth) {
        ValueRef m = extras.state();
        if (!m || !m.is(MILO_KIND_MAP)) fail(MILO_ERR_CORRUPT, "(pickle_extras) state is not a map");
        if (ValueRef l = m.find("append")) save_items(l, depth, 'e');
        if (ValueRef d = m.find("setitem")) {
            op('(');
            for (size_t i = 0; i < d.size(); ++i) {
                save(d.key(i), depth + 1);
                save(d[i], depth + 1);
            }
            op('u');
        }
        if (ValueRef b = m.find("build"))
            for (size_t i = 0; i < b.size(); ++i) {
                save(b[i], depth + 1);
                op('b');
            }
    }

    bool is_scalar_form(const std::string& type, ValueRef a) {
        return (type == "numpy.core.multiarray.scalar" || type == "numpy._core.multiarray.scalar") &&
               a.size() == 2 && a[1].is(MILO_KIND_TENSOR) && a[1].shape().empty();
    }
    void save_scalar_args(ValueRef a, int depth) {
        op('(');
        save_dtype(a[0], depth);
        auto [p, n] = a[1].data();
        std::string bytes(static_cast<const char*>(p), n);
        if (declared_big_endian(a[0])) byteswap(bytes, swap_unit(a[1].dtype()));
        save_bytes(bytes);
        op('t');
    }

    // A numpy.dtype object value whose BUILD state says '>'.
    static bool declared_big_endian(ValueRef dtype) {
        if (!dtype.is(MILO_KIND_OBJECT)) return false;
        ValueRef st = dtype.state();
        return st && st.is(MILO_KIND_TUPLE) && st.size() >= 2 && st[1].is(MILO_KIND_STRING) &&
               st[1].as_string() == ">";
    }

    // A dtype of an ndarray form or scalar: a plain dtype's name, or a numpy.dtype object.
    void save_dtype(ValueRef dtype, int depth) {
        if (dtype.is(MILO_KIND_STRING)) {
            int32_t dt = codec::dtype_from_name(dtype.as_string());
            if (dt == 0 || !*canonical_spec(dt))
                fail(MILO_ERR_CORRUPT, "unknown dtype name \"" + std::string(dtype.as_string()) + "\"");
            save_plain_dtype(dt);
            return;
        }
        Step s(path_, "dtype");
        save(dtype, depth + 1);
    }

    // The document dtype whose numpy.dtype object `o` is exactly as numpy pickles a plain
    // dtype (what save_plain_dtype writes), or 0.
    static int32_t plain_dtype_object(ValueRef o) {
        ValueRef a = o.args(), st = o.state();
        if (!a || !a.is(MILO_KIND_TUPLE) || a.size() != 3 || !st || !st.is(MILO_KIND_TUPLE) ||
            st.size() != 8 || !a[0].is(MILO_KIND_STRING) || !a[1].is(MILO_KIND_BOOL) ||
            a[1].as_bool() || !a[2].is(MILO_KIND_BOOL) || !a[2].as_bool())
            return 0;
        int32_t dt = 0;
        for (int32_t d = 1; d <= MILO_DTYPE_COMPLEX128 && dt == 0; ++d)
            if (*canonical_spec(d) && a[0].as_string() == canonical_spec(d)) dt = d;
        if (dt == 0) return 0;
        auto is_int = [](ValueRef v, int64_t want) {
            return v.is(MILO_KIND_INT) && v.int_text() == std::to_string(want);
        };
        const char* order = size_t(codec::dtype_info(dt)->size) == 1 ? "|" : "<";
        bool plain = is_int(st[0], 3) && st[1].is(MILO_KIND_STRING) &&
                     st[1].as_string() == order && st[2].is(MILO_KIND_NULL) &&
                     st[3].is(MILO_KIND_NULL) && st[4].is(MILO_KIND_NULL) && is_int(st[5], -1) &&
                     is_int(st[6], -1) && is_int(st[7], 0);
        return plain ? dt : 0;
    }

    // numpy.dtype(spec, False, True): the call every dtype starts with (its state follows).
    void begin_dtype(const std::string& spec) {
        save_global("numpy.dtype");
        save_str(spec);
        op('\x89');
        op('\x88');
        op('\x87');
        op('R');
    }

    // numpy.dtype(spec, False, True) with the state numpy writes for a plain dtype.
    void save_plain_dtype(int32_t dtype) {
        const char* spec = canonical_spec(dtype);
        if (!*spec) fail(MILO_ERR_UNSUPPORTED, "tensor dtype has no numpy equivalent");
        auto it = dtypes_.find(dtype);
        if (it != dtypes_.end()) {
            emit_get(it->second);
            return;
        }
        begin_dtype(spec);
        op('\x94');
        dtypes_.emplace(dtype, next_memo_++);
        op('(');
        save_int(3);
        save_str(size_t(codec::dtype_info(dtype)->size) == 1 ? "|" : "<");
        op('N');
        op('N');
        op('N');
        save_int(-1);
        save_int(-1);
        save_int(0);
        op('t');
        op('b');
    }

    void save_record_dtype(ValueRef t) {
        begin_dtype("V" + std::to_string(t.itemsize()));
        op('(');
        save_int(3);
        save_str("|");
        op('N');
        const milo_api* api = t.api();
        size_t nf = api->value_tensor_field_count(t.get());
        op('(');
        std::vector<std::tuple<std::string, int32_t, uint64_t, std::vector<int64_t>>> fields;
        for (size_t f = 0; f < nf; ++f) {
            const char* name = nullptr;
            int32_t dt = 0;
            uint64_t off = 0;
            const int64_t* shp = nullptr;
            size_t nd = 0;
            call(api->value_tensor_field_at, t.get(), f, &name, &dt, &off, &shp, &nd);
            if (name[0] == '(') continue;  // "(padding N)": bytes between fields
            fields.emplace_back(name, dt, off, std::vector<int64_t>(shp, shp + nd));
            save_str(name);
        }
        op('t');
        op('}');
        op('(');
        for (auto& [name, dt, off, shp] : fields) {
            save_str(name);
            op('(');
            if (shp.empty()) {
                save_plain_dtype(dt);
            } else {  // subarray field: numpy.dtype(("V<n>", …)) with (base, shape)
                uint64_t n = size_t(codec::dtype_info(dt)->size);
                for (int64_t d : shp) n *= uint64_t(d);
                begin_dtype("V" + std::to_string(n));
                op('(');
                save_int(3);
                save_str("|");
                op('(');
                save_plain_dtype(dt);
                save_shape(shp);
                op('t');
                op('N');
                op('N');
                save_int(int64_t(n));
                save_int(int64_t(size_t(codec::dtype_info(dt)->size)));
                save_int(0);
                op('t');
                op('b');
            }
            save_int(int64_t(off));
            op('t');
        }
        op('u');
        save_int(int64_t(t.itemsize()));
        save_int(1);
        save_int(16);
        op('t');
        op('b');
    }

    // ndarray: _reconstruct(ndarray, (0,), b'b') then BUILD (1, shape, dtype, fortran, data).
    void begin_ndarray() {
        save_global(core_ + ".multiarray._reconstruct");
        save_global("numpy.ndarray");
        save_int(0);
        op('\x85');
        save_bytes("b");
        op('\x87');
        op('R');
    }

    // A bare tensor: a C-order array of the plain dtype its elements have.
    void save_tensor(ValueRef t, int depth) {
        const int32_t dt = t.dtype();
        begin_ndarray();
        memoize(t.get());
        op('(');
        save_int(1);
        save_shape(t.shape());
        if (dt == MILO_DTYPE_RECORD) save_record_dtype(t);
        else if (dt == MILO_DTYPE_OBJECT) save_object_dtype();
        else save_plain_dtype(dt);
        op('\x89');  // not Fortran order
        write_tensor_data(t, ValueRef(), false, depth);
        op('t');
        op('b');
    }

    void save_object_dtype() {
        begin_dtype("O8");
        op('(');
        save_int(3);
        save_str("|");
        op('N');
        op('N');
        op('N');
        save_int(-1);
        save_int(-1);
        save_int(63);
        op('t');
        op('b');
    }

    // {"$object": "numpy.ndarray", "state": {dtype, order, data[, shape]}}
    void save_ndarray_form(ValueRef o, int depth) {
        ValueRef st = o.state();
        ValueRef dtype = st.find("dtype"), order = st.find("order"), data = st.find("data");
        if (!dtype || !order || !data || !order.is(MILO_KIND_STRING))
            fail(MILO_ERR_CORRUPT, "numpy.ndarray state needs dtype, order and data");
        bool fortran = order.as_string() == "F";
        ValueRef form = st.find("pickle");
        if (form && form.is(MILO_KIND_STRING) && data.is(MILO_KIND_TENSOR) &&
            data.dtype() != MILO_DTYPE_OBJECT &&
            (form.as_string() == "frombuffer" || form.as_string() == "frombuffer_readonly")) {
            // _frombuffer(buffer, dtype, shape, order): keeps non-native byte orders.
            save_global(core_ + ".numeric._frombuffer");
            op('(');
            std::string bytes = tensor_bytes(data, dtype, fortran);
            if (form.as_string() == "frombuffer") {
                op('\x96');
                u64(bytes.size());
                out_ += bytes;
            } else {
                save_bytes(bytes);
            }
            save_dtype(dtype, depth);
            save_shape(data.shape());
            write_str(fortran ? "F" : "C");
            op('t');
            op('R');
            memoize(o.get());
            return;
        }
        if (data.is(MILO_KIND_TENSOR)) {
            // The object itself stands for the array (it is what other places refer to).
            std::vector<int64_t> shape = data.shape();
            begin_ndarray();
            memoize(o.get());
            op('(');
            save_int(1);
            save_shape(shape);
            save_dtype(dtype, depth);
            op(fortran ? '\x88' : '\x89');
            write_tensor_data(data, dtype, fortran, depth);
            op('t');
            op('b');
            return;
        }
        ValueRef shape = st.find("shape");
        if (!data.is(MILO_KIND_BYTES) || !shape || !shape.is(MILO_KIND_LIST))
            fail(MILO_ERR_CORRUPT, "numpy.ndarray data is neither a tensor nor bytes with a shape");
        begin_ndarray();
        memoize(o.get());
        op('(');
        save_int(1);
        op('(');
        for (size_t i = 0; i < shape.size(); ++i) save(shape[i], depth + 1);
        op('t');
        save_dtype(dtype, depth);
        op(fortran ? '\x88' : '\x89');
        save_bytes(data.as_bytes());
        op('t');
        op('b');
    }

    void write_tensor_data(ValueRef t, ValueRef dtype_value, bool fortran, int depth) {
        const int32_t dt = t.dtype();
        std::vector<int64_t> shape = t.shape();
        if (dt == MILO_DTYPE_OBJECT) {
            std::vector<size_t> order = storage_to_c_order(shape, fortran);
            op(']');
            op('(');
            for (size_t i = 0; i < order.size(); ++i) {
                Step s(path_, "item/" + std::to_string(order[i]));
                save(t.item(order[i]), depth + 1);
            }
            op('e');
            return;
        }
        if (dt == MILO_DTYPE_STRING) fail(MILO_ERR_UNSUPPORTED, "string tensors have no pickle form here");
        if (!fortran && (dt == MILO_DTYPE_RECORD || !declared_big_endian(dtype_value))) {
            auto [p, n] = t.data();  // already in the array's order: no copy
            save_bytes({static_cast<const char*>(p), n});
            return;
        }
        save_bytes(tensor_bytes(t, dtype_value, fortran));
    }

    // A numeric or record tensor's bytes in the array's byte order and storage order.
    std::string tensor_bytes(ValueRef t, ValueRef dtype_value, bool fortran) {
        const int32_t dt = t.dtype();
        auto [p, n] = t.data();
        std::string bytes(static_cast<const char*>(p), n);
        if (dt != MILO_DTYPE_RECORD && declared_big_endian(dtype_value)) byteswap(bytes, swap_unit(dt));
        if (fortran) bytes = reorder(bytes, t.shape(), t.itemsize(), false);
        return bytes;
    }

    DocRef doc_;
    milo_registry* registry_;
    std::deque<Doc> scratch_;                                   // delegates' results
    std::unordered_map<milo_value*, milo_value*> delegated_;  // object → its delegate's result
    std::unordered_set<milo_value*> produced_;                // results: not handed over again
    std::unordered_map<std::string, std::string> needs_delegate_;  // class → transporter id
    std::unordered_map<std::string, std::pair<const milo_transporter*,
                                              const milo_sklearn_object_ext*>> delegates_;
    std::string core_;
    std::string out_;
    std::unordered_map<milo_value*, size_t> memo_;
    std::unordered_map<std::string, size_t> globals_;
    std::unordered_map<int32_t, size_t> dtypes_;
    std::unordered_set<milo_value*> in_progress_;
    std::unordered_map<std::string, size_t> shared_;  // shared string → memo index (or SIZE_MAX)
    size_t next_memo_ = 0;
    std::vector<std::string> path_;
};

}  // namespace

std::string export_pickle(DocRef doc, milo_registry* registry) {
    if (!doc.root()) throw Error(MILO_ERR_CORRUPT, "pickle writer: the document has no root");
    return Writer(doc, registry).run();
}

}  // namespace sklearn
}  // namespace milo
