// Structural equality of documents: graph isomorphism that respects sharing and cycles.
#include <cstring>
#include <unordered_map>

#include "document.hpp"
#include "milo/milo_codec.hpp"

namespace milo::core {
namespace {

struct Frame {
    const milo_value* a;
    const milo_value* b;
    size_t parent;      // index into trail, SIZE_MAX for the root
    std::string token;  // path step from the parent
};

std::string path_of(const std::vector<Frame>& trail, size_t index) {
    std::vector<const std::string*> steps;
    for (size_t i = index; i != SIZE_MAX; i = trail[i].parent) steps.push_back(&trail[i].token);
    std::string p;
    for (size_t i = steps.size(); i-- > 0;) p += *steps[i];
    return p;
}

std::string key_token(const milo_value* key, size_t index) {
    if (key->kind == MILO_KIND_STRING) return "/" + key->text;
    return "/{key " + std::to_string(index) + "}";
}

uint64_t bits(double d) { return milo::codec::double_to_bits(d); }

}  // namespace

bool docs_equal(const milo_doc& a, const milo_doc& b, std::string* where) {
    for (int k = 0; k < kHeaderKeyCount; ++k) {
        if (k == kExternalFile || k == kExternalSha256) continue;  // storage, not content
        if (a.header[k] != b.header[k]) {
            *where = std::string("/milo/") + header_key_name(k) + ": \"" +
                     a.header[k].value_or("(unset)") + "\" vs \"" +
                     b.header[k].value_or("(unset)") + "\"";
            return false;
        }
    }
    if (a.trust.size() != b.trust.size()) {
        *where = "/milo/trust: " + std::to_string(a.trust.size()) + " vs " +
                 std::to_string(b.trust.size()) + " entries";
        return false;
    }
    for (size_t i = 0; i < a.trust.size(); ++i) {
        const auto &x = a.trust[i], &y = b.trust[i];
        if (x.name != y.name || x.usage != y.usage || x.level != y.level) {
            *where = "/milo/trust/" + std::to_string(i) + ": " + x.name + " vs " + y.name;
            return false;
        }
    }
    if (a.metadata != b.metadata) {
        *where = "/milo/metadata differs";
        return false;
    }
    if ((a.root == nullptr) != (b.root == nullptr)) {
        *where = "/root: present in one document only";
        return false;
    }
    if (a.root == nullptr) return true;

    std::unordered_map<const milo_value*, const milo_value*> a_to_b, b_to_a;
    std::vector<Frame> trail;
    std::vector<size_t> stack;
    trail.push_back({a.root, b.root, SIZE_MAX, "/root"});
    stack.push_back(0);
    auto differ = [&](size_t i, const std::string& why) {
        *where = path_of(trail, i) + ": " + why;
        return false;
    };
    while (!stack.empty()) {
        size_t fi = stack.back();
        stack.pop_back();
        const milo_value* x = trail[fi].a;
        const milo_value* y = trail[fi].b;
        if (x->kind != y->kind)
            return differ(fi, "kind " + std::to_string(x->kind) + " vs " + std::to_string(y->kind));
        if (milo::codec::kind_has_identity(x->kind)) {
            auto ia = a_to_b.find(x);
            auto ib = b_to_a.find(y);
            if (ia != a_to_b.end() || ib != b_to_a.end()) {
                if (ia == a_to_b.end() || ib == b_to_a.end() || ia->second != y || ib->second != x)
                    return differ(fi, "sharing differs (a node is referenced differently)");
                continue;  // already compared
            }
            a_to_b.emplace(x, y);
            b_to_a.emplace(y, x);
        }
        auto push = [&](const milo_value* ca, const milo_value* cb, std::string token) {
            trail.push_back({ca, cb, fi, std::move(token)});
            stack.push_back(trail.size() - 1);
        };
        switch (x->kind) {
            case MILO_KIND_NULL: break;
            case MILO_KIND_BOOL:
                if (x->flag != y->flag) return differ(fi, "bool differs");
                break;
            case MILO_KIND_INT:
                if (x->text != y->text) return differ(fi, x->text + " vs " + y->text);
                break;
            case MILO_KIND_FLOAT:
                if (bits(x->f) != bits(y->f)) return differ(fi, "float bit patterns differ");
                break;
            case MILO_KIND_STRING:
            case MILO_KIND_BYTES:
            case MILO_KIND_GLOBAL:
                if (x->text != y->text) return differ(fi, "text differs");
                break;
            case MILO_KIND_LIST:
            case MILO_KIND_TUPLE:
            case MILO_KIND_SET:
                if (x->items.size() != y->items.size())
                    return differ(fi, std::to_string(x->items.size()) + " vs " +
                                          std::to_string(y->items.size()) + " items");
                for (size_t i = x->items.size(); i-- > 0;)
                    push(x->items[i], y->items[i], "/" + std::to_string(i));
                break;
            case MILO_KIND_MAP:
                if (x->items.size() != y->items.size())
                    return differ(fi, std::to_string(x->items.size()) + " vs " +
                                          std::to_string(y->items.size()) + " entries");
                for (size_t i = x->items.size(); i-- > 0;) {
                    push(x->items[i], y->items[i], key_token(x->keys[i], i));
                    push(x->keys[i], y->keys[i], "/{key " + std::to_string(i) + "}");
                }
                break;
            case MILO_KIND_OBJECT:
                if (x->text != y->text) return differ(fi, "type " + x->text + " vs " + y->text);
                if ((x->args == nullptr) != (y->args == nullptr))
                    return differ(fi, "args present in one only");
                if ((x->state == nullptr) != (y->state == nullptr))
                    return differ(fi, "state present in one only");
                if (x->state) push(x->state, y->state, "/state");
                if (x->args) push(x->args, y->args, "/args");
                break;
            case MILO_KIND_TENSOR: {
                const Tensor& s = *x->tensor;
                const Tensor& t = *y->tensor;
                if (s.dtype != t.dtype) return differ(fi, "tensor dtype differs");
                if (s.shape != t.shape) return differ(fi, "tensor shape differs");
                if (s.itemsize != t.itemsize) return differ(fi, "tensor itemsize differs");
                if (s.fields.size() != t.fields.size())
                    return differ(fi, "record field count differs");
                for (size_t i = 0; i < s.fields.size(); ++i) {
                    const Field &f = s.fields[i], &g = t.fields[i];
                    if (f.name != g.name || f.dtype != g.dtype || f.offset != g.offset ||
                        f.shape != g.shape)
                        return differ(fi, "record field " + f.name + " differs");
                }
                if (s.external_name != t.external_name)
                    return differ(fi, "unresolved external tensor");
                if (s.dtype == MILO_DTYPE_STRING) {
                    if (s.strings != t.strings) return differ(fi, "string elements differ");
                } else if (s.dtype == MILO_DTYPE_OBJECT) {
                    for (size_t i = s.items.size(); i-- > 0;)
                        push(s.items[i], t.items[i], "/[" + std::to_string(i) + "]");
                } else {
                    if (s.nbytes != t.nbytes ||
                        (s.nbytes && std::memcmp(s.data, t.data, s.nbytes) != 0)) {
                        size_t at = 0;
                        while (at < s.nbytes && s.data[at] == t.data[at]) ++at;
                        return differ(fi, "tensor bytes differ (first at byte " +
                                              std::to_string(at) + ")");
                    }
                }
                break;
            }
            default:
                return differ(fi, "unknown kind");
        }
    }
    return true;
}

}  // namespace milo::core
