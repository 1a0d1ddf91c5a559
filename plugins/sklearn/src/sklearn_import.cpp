// Pickle graph → Milo document (see README.md for the mapping).
#include "sklearn_import.hpp"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <deque>
#include <set>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "milo/milo_codec.hpp"
#include "milo/readers/joblib_reader.hpp"
#include "milo/readers/numpy_graph.hpp"
#include "milo/readers/trust_policy.hpp"
#include "milo/readers/zip_reader.hpp"
#include "milo/sklearn_object.h"
#include "sklearn_forms.hpp"

namespace milo {
namespace sklearn {
namespace {

using pickle::is_global;
using pickle::Kind;
using pickle::Node;

// Keeps the bytes the graph and the borrowed tensors point into.
struct Holder {
    std::string input;    // a copy of the caller's bytes (theirs live only during decode)
    readers::PickleSource source;
    std::deque<std::string> entries;  // pickles read out of a zip archive
};
void release_holder(void* context) { delete static_cast<std::shared_ptr<Holder>*>(context); }

[[noreturn]] void fail_at(const Node* n, const std::string& reason) {
    throw pickle::Error(n ? n->offset : 0, reason);
}

int32_t milo_dtype_of(const numpy::DType& d) {
    if (d.base || !d.fields.empty()) return 0;
    switch (d.kind) {
        case 'b': return d.itemsize == 1 ? MILO_DTYPE_BOOL : 0;
        case 'i':
            return d.itemsize == 1 ? MILO_DTYPE_INT8 : d.itemsize == 2 ? MILO_DTYPE_INT16
                 : d.itemsize == 4 ? MILO_DTYPE_INT32 : d.itemsize == 8 ? MILO_DTYPE_INT64 : 0;
        case 'u':
            return d.itemsize == 1 ? MILO_DTYPE_UINT8 : d.itemsize == 2 ? MILO_DTYPE_UINT16
                 : d.itemsize == 4 ? MILO_DTYPE_UINT32 : d.itemsize == 8 ? MILO_DTYPE_UINT64 : 0;
        case 'f':
            return d.itemsize == 2 ? MILO_DTYPE_FLOAT16 : d.itemsize == 4 ? MILO_DTYPE_FLOAT32
                 : d.itemsize == 8 ? MILO_DTYPE_FLOAT64 : 0;
        case 'c':
            return d.itemsize == 8 ? MILO_DTYPE_COMPLEX64 : d.itemsize == 16 ? MILO_DTYPE_COMPLEX128 : 0;
        default: return 0;
    }
}

// The dtype is exactly what numpy.dtype(spec) pickles as, so a bare tensor can stand for it.
bool canonical_dtype(const numpy::DType& d) {
    const Node* args = d.node->args;
    return milo_dtype_of(d) != 0 && d.byteorder != '>' && d.state_version == 3 &&
           d.alignment == -1 && d.flags == 0 && args->items[1]->i == 0 && args->items[2]->i == 1 &&
           d.spec == canonical_spec(milo_dtype_of(d)) &&
           (d.byteorder == '|') == (d.itemsize == 1);
}

// Little-endian two's complement → decimal text.
std::string long_to_decimal(std::string_view le) {
    if (le.empty()) return "0";
    bool negative = (static_cast<unsigned char>(le.back()) & 0x80) != 0;
    std::vector<uint32_t> limbs((le.size() + 3) / 4, 0);  // magnitude, little-endian limbs
    for (size_t i = 0; i < le.size(); ++i)
        limbs[i / 4] |= uint32_t(static_cast<unsigned char>(le[i])) << (8 * (i % 4));
    if (negative) {  // magnitude = two's complement negation (within le.size() bytes)
        if (le.size() % 4) limbs.back() |= ~uint32_t(0) << (8 * (le.size() % 4));
        uint64_t carry = 1;
        for (uint32_t& l : limbs) {
            uint64_t v = uint64_t(uint32_t(~l)) + carry;
            l = uint32_t(v);
            carry = v >> 32;
        }
    }
    std::string digits;
    while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
    while (!limbs.empty()) {
        uint64_t rem = 0;
        for (size_t i = limbs.size(); i-- > 0;) {
            uint64_t cur = (rem << 32) | limbs[i];
            limbs[i] = uint32_t(cur / 1000000000u);
            rem = cur % 1000000000u;
        }
        while (!limbs.empty() && limbs.back() == 0) limbs.pop_back();
        for (int k = 0; k < 9 && (rem != 0 || !limbs.empty()); ++k) {
            digits.push_back(char('0' + rem % 10));
            rem /= 10;
        }
    }
    if (digits.empty()) digits = "0";
    if (negative) digits.push_back('-');
    std::reverse(digits.begin(), digits.end());
    return digits;
}

const numpy::DType& element_dtype(const numpy::Field& f) {
    return f.type->base ? *f.type->base : *f.type;
}

class Converter {
public:
    Converter(DocRef doc, std::shared_ptr<Holder> holder, size_t input_size)
        : doc_(doc), holder_(std::move(holder)) {
        // Scalars shared through the memo are placed, not copied, but every encoder writes each
        // placement in full: cap the text a fan-out may expand to.
        budget_limit_ = std::max<uint64_t>(uint64_t(256) << 20, uint64_t(input_size) * 16);
        budget_ = budget_limit_;
    }

    ValueRef convert(const Node* n, int depth) {
        if (depth > kMaxDepth)
            fail_at(n, "values nested deeper than " + std::to_string(kMaxDepth) + " levels");
        auto found = done_.find(n);
        if (found != done_.end()) {
            charge(n);
            // (A string with lone surrogates is a "(str)" object, shared as a node instead.)
            if (n->kind == Kind::Str &&
                codec::utf8_invalid_at(n->text.data(), n->text.size()) == SIZE_MAX &&
                shared_seen_.insert(n->text).second)
                shared_strings.push_back(std::string(n->text));
            return {doc_.api(), found->second};
        }
        ValueRef v = make(n, depth);
        done_.emplace(n, v.get());
        return v;
    }

    std::string numpy_core;  // "numpy.core" or "numpy._core", as first seen
    // Strings one object stands for in several places (memo hits). The document has no
    // identity for scalars; the writer shares these again so that the loaded object has the
    // same identities (and pickles to the same bytes) as one loaded from the source.
    std::vector<std::string> shared_strings;
    std::unordered_set<std::string> untrusted_calls;  // names called with arguments not allowed
    std::set<std::string> pseudo;  // the parenthesised object types used (README.md, Trust)

private:
    static constexpr int kMaxDepth = 1000;

    void charge(const Node* n) {
        if (n->kind != Kind::Str && n->kind != Kind::Bytes && n->kind != Kind::Long) return;
        if (n->text.size() > budget_)
            fail_at(n, "memo fan-out: shared strings would expand beyond the limit of " +
                           std::to_string(budget_limit_) + " bytes");
        budget_ -= n->text.size();
    }

    void remember(const Node* n, ValueRef v) { done_.emplace(n, v.get()); }

    ValueRef make(const Node* n, int depth) {
        switch (n->kind) {
            case Kind::None: return doc_.null();
            case Kind::Bool: return doc_.boolean(n->i != 0);
            case Kind::Int: return doc_.integer(n->i);
            case Kind::Long: {
                if (n->text.size() > kMaxLongBytes)
                    fail_at(n, "integer of " + std::to_string(n->text.size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxLongBytes));
                long_work_ += n->text.size() * n->text.size();
                if (long_work_ > kMaxLongWork) fail_at(n, "too many huge integers");
                charge(n);
                return doc_.integer_text(long_to_decimal(n->text));
            }
            case Kind::Float: return doc_.number(n->f);
            case Kind::Str: {
                charge(n);
                if (codec::utf8_invalid_at(n->text.data(), n->text.size()) == SIZE_MAX)
                    return doc_.string(n->text);
                // Lone surrogates (surrogatepass): kept as their UTF-8-like bytes.
                ValueRef o = doc_.object(kStrType);
                ValueRef args = doc_.tuple();
                args.append(doc_.bytes(n->text.data(), n->text.size()));
                o.set_args(args);
                return o;
            }
            case Kind::Bytes: charge(n); return doc_.bytes(n->text.data(), n->text.size());
            case Kind::ByteArray: return wrap1("builtins.bytearray", doc_.bytes(n->text.data(), n->text.size()));
            case Kind::List:
            case Kind::Tuple:
            case Kind::Set: {
                ValueRef c = n->kind == Kind::List ? doc_.list()
                           : n->kind == Kind::Tuple ? doc_.tuple() : doc_.set();
                remember(n, c);
                for (const Node* item : n->items) c.append(convert(item, depth + 1));
                return c;
            }
            case Kind::FrozenSet: {
                ValueRef o = doc_.object("builtins.frozenset");
                remember(n, o);
                ValueRef items = doc_.list();
                for (const Node* item : n->items) items.append(convert(item, depth + 1));
                ValueRef args = doc_.tuple();
                args.append(items);
                o.set_args(args);
                return o;
            }
            case Kind::Dict: {
                ValueRef m = doc_.map();
                remember(n, m);
                append_pairs(m, n->items, depth);
                return m;
            }
            case Kind::Global: return doc_.global(global_name(n).c_str());
            case Kind::Reduce:
            case Kind::NewObj: return make_call(n, depth);
            case Kind::PersId: {
                pseudo.insert(kPersIdType);
                ValueRef o = doc_.object(kPersIdType);
                remember(n, o);
                ValueRef args = doc_.tuple();
                args.append(convert(n->args, depth + 1));
                o.set_args(args);
                set_state(o, n, depth);
                return o;
            }
            case Kind::Ext: {
                pseudo.insert(kExtType);
                ValueRef o = wrap1(kExtType, doc_.integer(n->i));
                remember(n, o);
                set_state(o, n, depth);
                return o;
            }
            case Kind::Buffer: {
                if (!n->text.empty() || n->readonly) {
                    ValueRef b = doc_.bytes(n->text.data(), n->text.size());
                    return n->readonly ? b : wrap1("builtins.bytearray", b);
                }
                pseudo.insert(kBufferType);
                return wrap1(kBufferType, doc_.integer(n->i));
            }
        }
        fail_at(n, "unknown node kind");
    }

    ValueRef wrap1(const char* type, ValueRef arg) {
        ValueRef o = doc_.object(type);
        ValueRef args = doc_.tuple();
        args.append(arg);
        o.set_args(args);
        return o;
    }

    void append_pairs(ValueRef m, const std::vector<Node*>& items, int depth) {
        for (size_t i = 0; i + 1 < items.size(); i += 2)
            m.append(convert(items[i], depth + 1), convert(items[i + 1], depth + 1));
    }

    std::string global_name(const Node* g) { return join_global(g->text, g->name); }

    ValueRef make_call(const Node* n, int depth) {
        if (n->kind == Kind::Reduce) {
            numpy::Array array;
            if (numpy::parse_array(n, array)) return make_array(n, array, depth);
            numpy::Scalar scalar;
            if (numpy::parse_scalar(n, scalar)) return make_scalar(n, scalar, depth);
            std::string_view bytes;
            std::string owned;
            if (n->states.empty() && n->list_items.empty() && n->dict_items.empty() &&
                numpy::bytes_value(n, bytes, owned))
                return doc_.bytes(bytes.data(), bytes.size());
            // set([...]) of protocols 0–3 → a set, as protocol 4 writes it
            if (is_global(n->callable, "builtins", "set") && n->args->items.size() == 1 &&
                n->args->items[0]->kind == Kind::List && n->states.empty() &&
                n->list_items.empty() && n->dict_items.empty()) {
                ValueRef s = doc_.set();
                remember(n, s);
                for (const Node* item : n->args->items[0]->items) s.append(convert(item, depth + 1));
                return s;
            }
            // copyreg._reconstructor(cls, object, None) of protocols 0–1 ≡ NEWOBJ of cls
            const Node* a = n->args;
            if (is_global(n->callable, "copyreg", "_reconstructor") && a->items.size() == 3 &&
                a->items[0]->kind == Kind::Global && is_global(a->items[1], "builtins", "object") &&
                a->items[2]->kind == Kind::None) {
                ValueRef o = doc_.object(global_name(a->items[0]).c_str());
                remember(n, o);
                set_state(o, n, depth);
                return o;
            }
            if (is_global(n->callable, "sklearn.tree._tree", "Tree")) validate_tree(n);
            note_argument_shape(n);
            if (n->callable->kind == Kind::Global) {
                ValueRef o = doc_.object(global_name(n->callable).c_str());
                remember(n, o);
                o.set_args(convert(n->args, depth + 1));
                set_state(o, n, depth);
                return o;
            }
            pseudo.insert(kCallType);
            ValueRef o = doc_.object(kCallType);  // a callable made by another call
            remember(n, o);
            ValueRef args = doc_.tuple();
            ValueRef callable = convert(n->callable, depth + 1);
            // A call's result recognised as a plain value (bytes from _codecs.encode, say)
            // cannot be called: Python fails there too, and the VM refuses it when written.
            if (!callable.is(MILO_KIND_OBJECT) && !callable.is(MILO_KIND_GLOBAL))
                fail_at(n, "REDUCE: the callable (made by the call at byte " +
                               std::to_string(n->callable->offset) + ") is a plain value, "
                               "which cannot be called");
            args.append(callable);
            for (const Node* item : n->args->items) args.append(convert(item, depth + 1));
            o.set_args(args);
            set_state(o, n, depth);
            return o;
        }
        // NEWOBJ: cls.__new__(cls, *args, **kwargs)
        numpy::Array array;
        if (numpy::parse_array(n, array)) return make_array(n, array, depth);  // joblib wrapper
        if (n->callable->kind == Kind::Global && n->args->items.empty() && n->kwargs == nullptr) {
            ValueRef o = doc_.object(global_name(n->callable).c_str());
            remember(n, o);
            set_state(o, n, depth);
            return o;
        }
        ValueRef o = doc_.object(n->kwargs ? "copyreg.__newobj_ex__" : "copyreg.__newobj__");
        remember(n, o);
        ValueRef args = doc_.tuple();
        args.append(convert(n->callable, depth + 1));
        if (n->kwargs) {
            args.append(convert(n->args, depth + 1));
            args.append(convert(n->kwargs, depth + 1));
        } else {
            for (const Node* item : n->args->items) args.append(convert(item, depth + 1));
        }
        o.set_args(args);
        set_state(o, n, depth);
        return o;
    }

    // BUILD states and APPEND/SETITEM items of an object.
    void set_state(ValueRef o, const Node* n, int depth) {
        if (n->states.size() == 1 && n->list_items.empty() && n->dict_items.empty()) {
            o.set_state(convert(n->states[0], depth + 1));
            return;
        }
        if (n->states.empty() && n->list_items.empty() && n->dict_items.empty()) return;
        ValueRef extras = doc_.object(kExtrasType);
        ValueRef m = doc_.map();
        if (!n->list_items.empty()) {
            ValueRef l = doc_.list();
            for (const Node* item : n->list_items) l.append(convert(item, depth + 1));
            doc_.put(m, "append", l);
        }
        if (!n->dict_items.empty()) {
            ValueRef d = doc_.map();
            append_pairs(d, n->dict_items, depth);
            doc_.put(m, "setitem", d);
        }
        if (!n->states.empty()) {
            ValueRef l = doc_.list();
            for (const Node* s : n->states) l.append(convert(s, depth + 1));
            doc_.put(m, "build", l);
        }
        extras.set_state(m);
        o.set_state(extras);
    }

    // Calls the allowlist trusts only with certain arguments: bytes()/bytearray() with an
    // integer allocate that many bytes; _codecs.encode only ever needs (str, "latin1"). Any
    // other use makes the name untrusted in the report.
    void note_argument_shape(const Node* n) {
        const Node* c = n->callable;
        const std::vector<Node*>& a = n->args->items;
        bool bytes_like = is_global(c, "builtins", "bytes") || is_global(c, "builtins", "bytearray");
        if (bytes_like && !(a.empty() || (a.size() == 1 && a[0]->kind == Kind::Bytes)))
            untrusted_calls.insert(join_global(c->text, c->name));
        if (is_global(c, "_codecs", "encode") &&
            !(a.size() == 2 && a[0]->kind == Kind::Str && a[1]->kind == Kind::Str &&
              a[1]->text == "latin1"))
            untrusted_calls.insert(join_global(c->text, c->name));
    }

    void note_core(std::string_view module) {
        if (numpy_core.empty()) numpy_core = module.substr(0, module.find('.', 6));
    }

    // A tensor over `data` (C order, little-endian), borrowed when it lies in the holder.
    ValueRef tensor_over(int32_t dtype, const std::vector<int64_t>& shape, std::string_view data) {
        auto within = [&](const std::string& s) {
            return data.data() >= s.data() && data.data() + data.size() <= s.data() + s.size();
        };
        bool inside = within(holder_->input) || within(holder_->source.storage);
        for (const std::string& e : holder_->entries) inside = inside || within(e);
        if (inside && !data.empty()) {
            auto* keep = new std::shared_ptr<Holder>(holder_);
            try {
                return doc_.tensor_borrowed(dtype, shape, data.data(), data.size(), release_holder, keep);
            } catch (...) {
                delete keep;
                throw;
            }
        }
        ValueRef t = doc_.tensor(dtype, shape);
        if (!data.empty()) std::memcpy(t.mutable_data().first, data.data(), data.size());
        return t;
    }

    ValueRef make_array(const Node* n, const numpy::Array& a, int depth) {
        if (a.form != "joblib") note_core(a.module);
        const numpy::DType& d = *a.dtype;
        if (!a.fortran && canonical_dtype(d) && plain_bools(milo_dtype_of(d), a.data))
            return tensor_over(milo_dtype_of(d), a.shape, a.data);
        ValueRef o = doc_.object("numpy.ndarray");
        remember(n, o);
        ValueRef st = doc_.map();
        doc_.put(st, "dtype", dtype_value(d, depth));
        doc_.put(st, "order", doc_.string(a.fortran ? "F" : "C"));
        if (a.form == "frombuffer") {
            // numpy restores the byte order of non-native arrays only through _frombuffer.
            bool writable = n->args->items[0]->kind == Kind::ByteArray ||
                            (n->args->items[0]->kind == Kind::Buffer && !n->args->items[0]->readonly);
            doc_.put(st, "pickle", doc_.string(writable ? "frombuffer" : "frombuffer_readonly"));
        }
        std::vector<int64_t> c_shape = a.shape;
        if (d.has_object()) {  // items are values (records with an object field: tuples)
            ValueRef t = doc_.tensor(MILO_DTYPE_OBJECT, c_shape);
            std::vector<size_t> order = storage_to_c_order(a.shape, a.fortran);
            for (size_t i = 0; i < a.objects.size(); ++i)
                t.set_item(order[i], convert(a.objects[i], depth + 1));
            doc_.put(st, "data", t);
        } else if (int32_t md = milo_dtype_of(d); md != 0 && plain_bools(md, a.data)) {
            std::string bytes(a.data);
            if (d.byteorder == '>') byteswap(bytes, swap_unit(md));
            if (a.fortran) bytes = reorder(bytes, a.shape, d.itemsize, /*to_c=*/true);
            ValueRef t = doc_.tensor(md, c_shape);
            if (!bytes.empty()) std::memcpy(t.mutable_data().first, bytes.data(), bytes.size());
            doc_.put(st, "data", t);
        } else if (ValueRef rec = record_tensor(d, a)) {
            doc_.put(st, "data", rec);
        } else {
            ValueRef shape = doc_.list();
            for (int64_t x : a.shape) shape.append(doc_.integer(x));
            doc_.put(st, "shape", shape);
            doc_.put(st, "data", doc_.bytes(a.data.data(), a.data.size()));
        }
        o.set_state(st);
        return o;
    }

    // A plain dtype is named ("float64"): numpy has one object per plain dtype, which the writer
    // shares between every array and scalar again. Any other dtype is kept as its object.
    ValueRef dtype_value(const numpy::DType& d, int depth) {
        if (canonical_dtype(d)) return doc_.string(codec::dtype_info(milo_dtype_of(d))->name);
        return convert(d.node, depth + 1);
    }

    // Structured dtype whose fields are all plain little-endian numbers → a record tensor.
    // numpy keeps a bool's byte as it was written; a document bool is 0 or 1. Arrays and
    // scalars with other bytes keep their raw bytes (the ndarray form, the scalar's bytes).
    static bool plain_bools(int32_t md, std::string_view bytes) {
        if (md != MILO_DTYPE_BOOL) return true;
        for (char c : bytes)
            if (static_cast<unsigned char>(c) > 1) return false;
        return true;
    }

    // A field name a record tensor column can have: non-empty UTF-8 without NUL, and not one
    // of the "(padding N)" columns this importer adds. Other records keep the ndarray form.
    static bool column_name(const std::string& name) {
        return !name.empty() && name.find('\0') == std::string::npos &&
               codec::utf8_invalid_at(name.data(), name.size()) == SIZE_MAX &&
               name.rfind("(padding", 0) != 0;
    }

    ValueRef record_tensor(const numpy::DType& d, const numpy::Array& a) {
        if (d.fields.empty() || d.base) return {};
        for (const numpy::Field& f : d.fields) {
            const numpy::DType& ft = element_dtype(f);
            if (milo_dtype_of(ft) == 0 || ft.byteorder == '>' || !canonical_dtype(ft) ||
                f.title != nullptr || !column_name(f.name) ||
                (f.type->base && f.type->subarray_shape.size() > 16))
                return {};
        }
        {  // numpy allows fields that overlap (explicit offsets); columns cannot, nor can
           // two columns share a name (a pickled dtype state may repeat one)
            std::set<std::string_view> names;
            for (const numpy::Field& f : d.fields)
                if (!names.insert(f.name).second) return {};
            std::vector<std::pair<uint64_t, uint64_t>> spans;  // [offset, end) of sized fields
            for (const numpy::Field& f : d.fields)
                if (f.type->itemsize > 0) spans.emplace_back(f.offset, f.offset + f.type->itemsize);
            std::sort(spans.begin(), spans.end());
            for (size_t i = 1; i < spans.size(); ++i)
                if (spans[i].first < spans[i - 1].second) return {};
        }
        for (const numpy::Field& f : d.fields)  // bool columns: every byte 0 or 1
            if (milo_dtype_of(element_dtype(f)) == MILO_DTYPE_BOOL)
                for (size_t r = 0; r < a.data.size(); r += d.itemsize)
                    if (!plain_bools(MILO_DTYPE_BOOL,
                                     a.data.substr(r + f.offset, f.type->itemsize)))
                        return {};
        std::string bytes(a.data);
        if (a.fortran) bytes = reorder(bytes, a.shape, d.itemsize, true);
        ValueRef t = doc_.record_tensor(d.itemsize, a.shape);
        for (const numpy::Field& f : d.fields)
            t.add_field(f.name.c_str(), milo_dtype_of(element_dtype(f)), f.offset,
                        f.type->base ? f.type->subarray_shape : std::vector<int64_t>{});
        // Bytes no field covers (alignment padding) are not part of any column, yet numpy
        // pickles them and some writers leave them uninitialised (sklearn's tree nodes). When
        // any is non-zero, they become uint8 columns "(padding N)" so that nothing is lost.
        std::vector<bool> covered(d.itemsize, false);
        for (const numpy::Field& f : d.fields)
            for (uint64_t b = f.offset; b < f.offset + f.type->itemsize && b < d.itemsize; ++b)
                covered[b] = true;
        for (uint64_t b = 0; b < d.itemsize;) {
            if (covered[b]) {
                ++b;
                continue;
            }
            uint64_t e = b;
            while (e < d.itemsize && !covered[e]) ++e;
            bool nonzero = false;
            for (size_t r = 0; r * d.itemsize < bytes.size() && !nonzero; ++r)
                for (uint64_t k = b; k < e; ++k)
                    if (bytes[r * d.itemsize + k] != 0) nonzero = true;
            if (nonzero)
                t.add_field(("(padding " + std::to_string(b) + ")").c_str(), MILO_DTYPE_UINT8, b,
                            e - b == 1 ? std::vector<int64_t>{} : std::vector<int64_t>{int64_t(e - b)});
            b = e;
        }
        if (!bytes.empty()) std::memcpy(t.mutable_data().first, bytes.data(), bytes.size());
        return t;
    }

    ValueRef make_scalar(const Node* n, const numpy::Scalar& s, int depth) {
        note_core(s.module);
        int32_t md = milo_dtype_of(*s.dtype);
        ValueRef o = doc_.object((s.module + ".scalar").c_str());
        remember(n, o);
        ValueRef args = doc_.tuple();
        args.append(dtype_value(*s.dtype, depth));
        if (md != 0 && plain_bools(md, s.data)) {
            std::string bytes(s.data);
            if (s.dtype->byteorder == '>') byteswap(bytes, swap_unit(md));
            ValueRef t = doc_.tensor(md, {});
            std::memcpy(t.mutable_data().first, bytes.data(), bytes.size());
            args.append(t);
        } else {
            args.append(doc_.bytes(s.data.data(), s.data.size()));
        }
        o.set_args(args);
        return o;
    }

    // A Tree's node records must describe a tree the predict code can walk: children inside
    // [0, node_count) or both -1 (a leaf), features inside [0, n_features) or -2 on leaves.
    static void validate_tree(const Node* n) {
        const Node* st = n->states.size() == 1 ? n->states[0] : nullptr;
        if (st == nullptr || st->kind != Kind::Dict) fail_at(n, "Tree: state is not a dict");
        const Node* nodes = nullptr;
        const Node* count = nullptr;
        for (size_t i = 0; i + 1 < st->items.size(); i += 2) {
            if (st->items[i]->kind != Kind::Str) continue;
            if (st->items[i]->text == "nodes") nodes = st->items[i + 1];
            if (st->items[i]->text == "node_count") count = st->items[i + 1];
        }
        numpy::Array a;
        if (!nodes || !count || count->kind != Kind::Int || !numpy::parse_array(nodes, a) ||
            a.shape.size() != 1)
            fail_at(st, "Tree: state lacks node_count or a 1-d nodes record array");
        if (a.shape[0] != count->i)
            fail_at(nodes, "Tree: " + std::to_string(a.shape[0]) + " node records, node_count says " +
                               std::to_string(count->i));
        int64_t n_features = -1;
        if (n->args && !n->args->items.empty() && n->args->items[0]->kind == Kind::Int)
            n_features = n->args->items[0]->i;
        uint64_t left = UINT64_MAX, right = UINT64_MAX, feature = UINT64_MAX;
        for (const numpy::Field& f : a.dtype->fields) {
            bool i8 = f.type->kind == 'i' && f.type->itemsize == 8 && f.type->byteorder != '>';
            if (f.name == "left_child" && i8) left = f.offset;
            if (f.name == "right_child" && i8) right = f.offset;
            if (f.name == "feature" && i8) feature = f.offset;
        }
        if (left == UINT64_MAX || right == UINT64_MAX || feature == UINT64_MAX)
            fail_at(nodes, "Tree: node records lack int64 left_child/right_child/feature");
        const int64_t nc = count->i;
        for (int64_t i = 0; i < nc; ++i) {
            const char* rec = a.data.data() + uint64_t(i) * a.dtype->itemsize;
            int64_t l, r, f;
            std::memcpy(&l, rec + left, 8);
            std::memcpy(&r, rec + right, 8);
            std::memcpy(&f, rec + feature, 8);
            bool leaf = l == -1 && r == -1;
            bool inner = l > i && l < nc && r > i && r < nc;  // children come after parents
            bool feat_ok = leaf ? true : (f >= 0 && (n_features < 0 || f < n_features));
            if (!(leaf || inner) || !feat_ok)
                fail_at(nodes, "Tree: node " + std::to_string(i) + " has left_child " +
                                   std::to_string(l) + ", right_child " + std::to_string(r) +
                                   ", feature " + std::to_string(f) + " (node_count " +
                                   std::to_string(nc) + ")");
        }
    }

    static constexpr size_t kMaxLongBytes = 4096;
    static constexpr uint64_t kMaxLongWork = uint64_t(1) << 31;

    DocRef doc_;
    std::shared_ptr<Holder> holder_;
    std::unordered_map<const Node*, milo_value*> done_;
    std::unordered_set<std::string_view> shared_seen_;
    uint64_t budget_ = 0;
    uint64_t budget_limit_ = 0;
    uint64_t long_work_ = 0;
};

// Classes whose objects a registered transporter took over (Delegator): for each, the
// transporter id and the usages (Call, Instantiate bits) every object of the class went through.
using Delegated = std::unordered_map<std::string, std::pair<std::string, unsigned>>;

// Trust: every name the stream uses, with each way it is used.
void set_trust(DocRef doc, const pickle::Graph& graph, const Converter& conv,
               const Delegated& delegated = {}) {
    const std::unordered_set<std::string>& untrusted_calls = conv.untrusted_calls;
    for (const pickle::GlobalRef& g : graph.globals) {
        const std::string full = join_global(g.module, g.name);
        const readers::Usage usages[] = {readers::Usage::Call, readers::Usage::Instantiate,
                                         readers::Usage::Reference};
        const bool used[] = {g.called, g.instantiated, g.referenced};
        auto d = delegated.find(full);
        for (int k = 0; k < 3; ++k) {
            if (!used[k]) continue;
            if (d != delegated.end() && (d->second.second & unsigned(usages[k]))) {
                // Vouched for by the plugin that validated every object of the class.
                std::string usage =
                    std::string(readers::usage_name(usages[k])) + kDelegatedNote + d->second.first;
                doc.set_trust(full.c_str(), usage.c_str(), MILO_TRUST_TRUSTED);
                continue;
            }
            readers::TrustVerdict v = readers::classify(g.module, g.name, usages[k]);
            int32_t level = int32_t(v.level);
            if (usages[k] == readers::Usage::Call && untrusted_calls.count(full) &&
                level == MILO_TRUST_TRUSTED)
                level = MILO_TRUST_UNTRUSTED;
            doc.set_trust(full.c_str(), readers::usage_name(usages[k]), level);
        }
    }
    // Constructs without a name of their own: a persistent id or extension code means the
    // loader would have to resolve something outside the stream; calling a call's result is
    // how getattr-style indirection reaches any function.
    for (const std::string& p : conv.pseudo)
        doc.set_trust(p.c_str(), "call",
                      p == kCallType ? MILO_TRUST_DANGEROUS : MILO_TRUST_UNTRUSTED);
}

// A zip archive (a PyTorch checkpoint or TorchScript file): every pickle inside is read with
// the same VM so that its names reach the trust report. The root maps each entry name to its
// value; tensor storages stay (persistent_id) objects. Reading them is the torch plugin's work.
void import_zip(DocRef doc, const std::shared_ptr<Holder>& holder, pickle::Graph& graph,
                const std::string& name) {
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(holder->input.data());
    ValueRef root = doc.map();
    Converter conv(doc, holder, holder->input.size());
    try {
        readers::ZipReader zip(bytes, holder->input.size());
        for (const readers::ZipEntry& e : zip.entries()) {
            if (e.name.size() < 4 || e.name.compare(e.name.size() - 4, 4, ".pkl") != 0) continue;
            holder->entries.push_back(zip.read(e));
            const std::string& pk = holder->entries.back();
            pickle::Options options;
            options.allow_unresolved_buffers = true;
            try {
                pickle::run(graph, reinterpret_cast<const uint8_t*>(pk.data()), pk.size(), options);
            } catch (const pickle::Error& err) {
                throw Error(MILO_ERR_CORRUPT, name + ": zip entry " + e.name + ": " + err.what());
            }
            root.append(doc.string(e.name), conv.convert(graph.root, 0));
        }
    } catch (const readers::ZipError& e) {
        throw Error(MILO_ERR_CORRUPT, name + ": " + e.what());
    } catch (const pickle::Error& e) {
        throw Error(MILO_ERR_CORRUPT, name + ": " + e.what());
    }
    if (root.size() == 0) throw Error(MILO_ERR_UNSUPPORTED, name + ": a zip archive without pickles");
    doc.set_root(root);
    doc.set_header("framework.name", "pytorch");
    doc.set_header("transporter.id", kTransporterId);
    doc.set_header("transporter.revision", kRevision);
    doc.set_header("source.kind", "zip");
    set_trust(doc, graph, conv);
}

// In-house estimators (README.md): objects of a class the trust policy neither trusts nor calls
// dangerous, which a registered transporter claims (its `types`) and offers
// MILO_EXT_SKLEARN_OBJECT for, are handed to that transporter after conversion, bottom-up; its
// result replaces the pickle-level object wherever the document refers to it.
class Delegator {
public:
    Delegator(DocRef doc, milo_registry* registry, std::string file)
        : doc_(doc), api_(doc.api()), registry_(registry), file_(std::move(file)) {}

    // Finds the delegates for the classes the stream instantiates or calls; false when none.
    bool find(const pickle::Graph& graph) {
        if (registry_ == nullptr) return false;
        for (const pickle::GlobalRef& g : graph.globals) {
            if (!g.called && !g.instantiated) continue;
            const std::string full = join_global(g.module, g.name);
            // The allowlist's classes stay ours; dangerous ones are never handed to anyone.
            if (!untrusted_class(g.module, g.name)) continue;
            const milo_sklearn_object_ext* ext = nullptr;
            const milo_transporter* t = object_delegate(api_, registry_, full, ext);
            if (t == nullptr) continue;
            classes_[full] = {t, ext};
        }
        return !classes_.empty();
    }

    void run() {
        std::string path = "/root";
        ValueRef root = doc_.root();
        ValueRef r = visit(root, path, 0);
        if (r != root) doc_.set_root(r);
    }

    // Classes all of whose objects were handed over, with the usages seen.
    Delegated delegated() const {
        Delegated out;
        for (const auto& [name, c] : classes_)
            if (c.objects > 0 && c.objects == c.handed && !c.incomplete)
                out[name] = {c.t->id, c.usages};
        return out;
    }

private:
    struct Class {
        const milo_transporter* t = nullptr;
        const milo_sklearn_object_ext* ext = nullptr;
        size_t objects = 0, handed = 0;
        unsigned usages = 0;
        bool incomplete = false;  // an object of the class the walk could not hand over
    };

    static constexpr int kMaxDepth = 1100;  // the converter stops at 1000 levels of values

    // Returns what replaces `v` (v itself when nothing does).
    ValueRef visit(ValueRef v, std::string& path, int depth) {
        auto seen = done_.find(v.get());
        if (seen != done_.end()) return {api_, seen->second};
        if (depth > kMaxDepth)
            throw Error(MILO_ERR_LIMIT, file_ + ": " + path + ": nested too deep");
        done_.emplace(v.get(), v.get());  // a cycle back to v finds v
        const size_t mark = path.size();
        switch (v.kind()) {
            case MILO_KIND_LIST:
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
                for (size_t i = 0, n = v.size(); i < n; ++i) {
                    path += "/" + std::to_string(i);
                    ValueRef item = v[i];
                    ValueRef r = visit(item, path, depth + 1);
                    if (r != item) v.set_at(i, r);
                    path.resize(mark);
                }
                break;
            case MILO_KIND_MAP:
                for (size_t i = 0, n = v.size(); i < n; ++i) {
                    ValueRef key = v.key(i);
                    mark_keys(key, depth + 1);
                    path += "/" + (key.is(MILO_KIND_STRING) ? std::string(key.as_string())
                                                            : std::to_string(i));
                    ValueRef item = v[i];
                    ValueRef r = visit(item, path, depth + 1);
                    if (r != item) v.set_at(i, r);
                    path.resize(mark);
                }
                break;
            case MILO_KIND_TENSOR:
                if (v.dtype() == MILO_DTYPE_OBJECT)
                    for (size_t i = 0, n = v.size(); i < n; ++i) {
                        path += "/" + std::to_string(i);
                        ValueRef item = v.item(i);
                        ValueRef r = visit(item, path, depth + 1);
                        if (r != item) v.set_item(i, r);
                        path.resize(mark);
                    }
                break;
            case MILO_KIND_OBJECT: {
                if (ValueRef a = v.args()) {
                    path += "/args";
                    visit(a, path, depth + 1);  // a tuple: replaced in place, never itself
                    path.resize(mark);
                    note_newobj(v, a);
                }
                if (ValueRef st = v.state()) {
                    path += "/state";
                    ValueRef r = visit(st, path, depth + 1);
                    if (r != st) v.set_state(r);
                    path.resize(mark);
                }
                ValueRef r = hand_over(v, path);
                done_[v.get()] = r.get();
                return r;
            }
            default: break;
        }
        return v;
    }

    ValueRef hand_over(ValueRef o, const std::string& path) {
        auto c = classes_.find(std::string(o.name()));
        if (c == classes_.end()) return o;
        Class& cls = c->second;
        ++cls.objects;
        milo_error err = MILO_ERROR_INIT;
        milo_value* out = nullptr;
        milo_status s = cls.ext->import_object(cls.t->self, api_, registry_, doc_.get(), o.get(),
                                               path.c_str(), &out, &err);
        const std::string where = file_ + ": " + path + ": transporter \"" + cls.t->id + "\": ";
        if (s != MILO_OK)
            throw Error(s, where + (err.message[0] ? err.message : "import_object failed"));
        if (out == nullptr) throw Error(MILO_ERR_PLUGIN, where + "import_object returned no value");
        ValueRef r(api_, out);
        try {
            doc_.list().append(r);  // must be a value of this document
        } catch (const Error&) {
            throw Error(MILO_ERR_PLUGIN,
                        where + "import_object returned a value of another document");
        }
        ++cls.handed;
        cls.usages |= unsigned(o.args() ? readers::Usage::Call : readers::Usage::Instantiate);
        return r;
    }

    // copyreg.__newobj__(cls, *args) / __newobj_ex__(cls, args, kwargs): an instance of cls
    // made without the form the plugin receives; cls keeps its own classification.
    void note_newobj(ValueRef o, ValueRef args) {
        std::string_view type = o.name();
        if ((type != "copyreg.__newobj__" && type != "copyreg.__newobj_ex__") || args.size() == 0 ||
            !args[0].is(MILO_KIND_GLOBAL))
            return;
        auto c = classes_.find(std::string(args[0].name()));
        if (c != classes_.end()) c->second.incomplete = true;
    }

    // Map keys cannot be replaced: objects of a delegated class there keep their pickle-level
    // form, and their class its own classification.
    void mark_keys(ValueRef v, int depth) {
        const int32_t k = v.kind();
        if (k != MILO_KIND_OBJECT && k != MILO_KIND_TENSOR && k != MILO_KIND_LIST &&
            k != MILO_KIND_TUPLE && k != MILO_KIND_SET && k != MILO_KIND_MAP)
            return;  // scalars hold no objects
        if (depth > kMaxDepth || !key_seen_.insert(v.get()).second) return;
        if (k == MILO_KIND_OBJECT) {
            auto c = classes_.find(std::string(v.name()));
            if (c != classes_.end()) c->second.incomplete = true;
            if (ValueRef a = v.args()) mark_keys(a, depth + 1);
            if (ValueRef st = v.state()) mark_keys(st, depth + 1);
        } else if (k == MILO_KIND_TENSOR) {
            if (v.dtype() == MILO_DTYPE_OBJECT)
                for (size_t i = 0, n = v.size(); i < n; ++i) mark_keys(v.item(i), depth + 1);
        } else {
            for (size_t i = 0, n = v.size(); i < n; ++i) {
                if (k == MILO_KIND_MAP) mark_keys(v.key(i), depth + 1);
                mark_keys(v[i], depth + 1);
            }
        }
    }

    DocRef doc_;
    const milo_api* api_;
    milo_registry* registry_;
    std::string file_;
    std::unordered_map<std::string, Class> classes_;
    std::unordered_map<milo_value*, milo_value*> done_;
    std::unordered_set<milo_value*> key_seen_;
};

std::string display(const char* path) {
    return path && *path ? std::string(path) : std::string("<memory>");
}

}  // namespace

// ---- in-house estimators: shared with sklearn_export.cpp ------------------------------------

bool untrusted_class(std::string_view module, std::string_view name) {
    for (readers::Usage u :
         {readers::Usage::Call, readers::Usage::Instantiate, readers::Usage::Reference})
        if (readers::classify(module, name, u).level != readers::TrustLevel::Untrusted)
            return false;
    return true;
}

const milo_transporter* object_delegate(const milo_api* api, milo_registry* registry,
                                        const std::string& type,
                                        const milo_sklearn_object_ext*& ext) {
    if (registry == nullptr) return nullptr;
    const milo_transporter* t = api->registry_find_transporter_for_type(registry, type.c_str());
    if (t == nullptr || t->get_extension == nullptr || std::strcmp(t->id, kTransporterId) == 0)
        return nullptr;
    ext = static_cast<const milo_sklearn_object_ext*>(
        t->get_extension(t->self, MILO_EXT_SKLEARN_OBJECT));
    constexpr size_t kV1 = offsetof(milo_sklearn_object_ext, export_object) + sizeof(void*);
    if (ext == nullptr || ext->struct_size < kV1 || ext->import_object == nullptr ||
        ext->export_object == nullptr)
        return nullptr;
    return t;
}

void import_pickle(DocRef doc, const uint8_t* data, size_t size, const char* path,
                  milo_registry* registry) {
    const std::string name = display(path);
    auto holder = std::make_shared<Holder>();
    holder->input.assign(reinterpret_cast<const char*>(data), size);
    const uint8_t* bytes = reinterpret_cast<const uint8_t*>(holder->input.data());
    char sha[65] = {0};
    const milo_api* api = doc.api();
    std::thread hasher;
    if (size >= (size_t(4) << 20)) hasher = std::thread([&] { api->hash_sha256(bytes, size, sha); });
    else api->hash_sha256(bytes, size, sha);
    struct Join {
        std::thread& t;
        ~Join() { if (t.joinable()) t.join(); }
    } join{hasher};

    pickle::Graph graph;
    if (readers::sniff(bytes, size) == readers::Container::Zip) {
        import_zip(doc, holder, graph, name);
        if (hasher.joinable()) hasher.join();
        if (sha[0]) doc.set_header("source.sha256", sha);
        return;
    }
    try {
        readers::read_pickle_or_joblib(graph, bytes, size, holder->source);
    } catch (const pickle::Error& e) {
        bool compressed = !holder->source.storage.empty();
        throw Error(MILO_ERR_CORRUPT, name + ": " + (compressed ? "decompressed stream " : "") +
                                          e.what());
    } catch (const readers::DecompressError& e) {
        throw Error(MILO_ERR_CORRUPT, name + ": " + e.what());
    }
    Converter conv(doc, holder, std::max(size, holder->source.storage.size()));
    try {
        doc.set_root(conv.convert(graph.root, 0));
    } catch (const pickle::Error& e) {
        throw Error(MILO_ERR_CORRUPT, name + ": " + e.what());
    }
    if (hasher.joinable()) hasher.join();
    Delegator delegator(doc, registry, name);
    if (delegator.find(graph)) delegator.run();

    // Header: what the model is and where it came from.
    ValueRef root = doc.root();
    bool sklearn = false;
    for (const pickle::GlobalRef& g : graph.globals)
        if (g.module.rfind("sklearn.", 0) == 0) sklearn = true;
    doc.set_header("framework.name", sklearn ? "scikit-learn" : "python");
    if (root.is(MILO_KIND_OBJECT)) {
        doc.set_header("type", std::string(root.name()));
        ValueRef st = root.state();
        if (st && st.is(MILO_KIND_MAP)) {
            ValueRef v = st.find("_sklearn_version");
            if (v && v.is(MILO_KIND_STRING)) doc.set_header("framework.version", std::string(v.as_string()));
        }
    }
    doc.set_header("transporter.id", kTransporterId);
    doc.set_header("transporter.revision", kRevision);
    const readers::Container c = holder->source.container;
    doc.set_header("source.kind", holder->source.joblib || (c != readers::Container::Pickle)
                                      ? "joblib" : "pickle");
    doc.set_header("source.version", std::to_string(graph.protocol));
    if (sha[0]) doc.set_header("source.sha256", sha);
    if (c != readers::Container::Pickle)
        doc.set_metadata("pickle.compression", readers::container_name(c));
    if (!conv.numpy_core.empty()) doc.set_metadata("pickle.numpy_core", conv.numpy_core);
    if (!conv.shared_strings.empty())
        doc.set_metadata("pickle.shared_strings", nlohmann::json(conv.shared_strings).dump());

    set_trust(doc, graph, conv, delegator.delegated());
}

}  // namespace sklearn
}  // namespace milo
