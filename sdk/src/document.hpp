// The in-memory document model behind the opaque milo_doc / milo_value handles.
#ifndef MILO_SRC_DOCUMENT_HPP
#define MILO_SRC_DOCUMENT_HPP

#include <cstdint>
#include <cstdlib>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "milo/value.h"

namespace milo::core {

struct FreeDeleter {
    void operator()(uint8_t* p) const noexcept { std::free(p); }
};

struct Field {
    std::string name;
    int32_t dtype = 0;
    uint64_t offset = 0;
    std::vector<int64_t> shape;
    uint64_t size = 0;  // bytes of the field within one item
};

struct Tensor {
    int32_t dtype = 0;
    std::vector<int64_t> shape;
    uint64_t count = 0;     // elements
    uint64_t itemsize = 0;  // bytes per element; 0 for object/string
    std::vector<Field> fields;

    // numeric and record data: owned (malloc) or borrowed with a release callback
    std::unique_ptr<uint8_t, FreeDeleter> owned;
    const uint8_t* data = nullptr;
    size_t nbytes = 0;
    milo_release_fn release = nullptr;
    void* release_context = nullptr;
    bool borrowed = false;

    std::vector<milo_value*> items;     // object tensors
    std::vector<std::string> strings;   // string tensors
    std::string external_name;          // set while an external tensor awaits its data

    Tensor() = default;
    Tensor(const Tensor&) = delete;
    Tensor& operator=(const Tensor&) = delete;
    ~Tensor() { drop_borrowed(); }

    void drop_borrowed() noexcept {
        if (borrowed && release != nullptr) release(release_context);
        borrowed = false;
        release = nullptr;
    }
};

// Header keys, in the order docs/format.md writes them.
enum HeaderKey : int {
    kFormatVersion,
    kProducerName,
    kProducerVersion,
    kFrameworkName,
    kFrameworkVersion,
    kTransporterId,
    kTransporterRevision,
    kType,
    kSourceKind,
    kSourceVersion,
    kSourceSha256,
    kExternalFile,
    kExternalSha256,
    kHeaderKeyCount
};

const char* header_key_name(int key);
int header_key_find(const char* name);  // -1 when unknown

struct TrustEntry {
    std::string name;
    std::string usage;
    int32_t level = 0;
};

}  // namespace milo::core

struct milo_value {
    int32_t kind = MILO_KIND_NULL;
    bool flag = false;  // BOOL value; INT: true when outside int64
    int64_t i = 0;
    double f = 0;
    std::string text;  // STRING/BYTES data, INT decimal text, OBJECT type, GLOBAL name
    std::vector<milo_value*> items;  // LIST/TUPLE/SET items; MAP values
    std::vector<milo_value*> keys;   // MAP keys
    milo_value* args = nullptr;
    milo_value* state = nullptr;
    std::unique_ptr<milo::core::Tensor> tensor;
    milo_doc* doc = nullptr;
};

struct milo_doc {
    std::deque<milo_value> values;
    milo_value* root = nullptr;
    std::optional<std::string> header[milo::core::kHeaderKeyCount];
    std::vector<milo::core::TrustEntry> trust;
    std::vector<std::pair<std::string, std::string>> metadata;
    // external tensors created by a decoder that still wait for their data
    std::vector<milo_value*> pending_external;

    milo_value* make(int32_t kind) {
        values.emplace_back();
        milo_value* v = &values.back();
        v->kind = kind;
        v->doc = this;
        return v;
    }
};

namespace milo::core {

// Structural equality (milo_doc_equal). External-storage header fields are ignored.
bool docs_equal(const milo_doc& a, const milo_doc& b, std::string* where);

// Element count of a shape (dims ≥ 0, ndim ≤ MILO_MAX_NDIM, no overflow).
milo_status shape_count(const int64_t* shape, size_t ndim, uint64_t* count, milo_error* error);
// count × itemsize, at most MILO_MAX_TENSOR_BYTES.
milo_status checked_bytes(uint64_t count, uint64_t itemsize, uint64_t* nbytes, milo_error* error);

// A tensor with dtype, shape, element count and itemsize set, and no data yet. May throw.
std::unique_ptr<Tensor> new_tensor(int32_t dtype, const int64_t* shape, size_t ndim,
                                   uint64_t count, uint64_t itemsize);
// A tensor value of `doc` holding `t`. May throw (then `t` is destroyed with its data).
milo_value* attach_tensor(milo_doc* doc, std::unique_ptr<Tensor> t);

// Copies the header (not the values) of `from` into `to`.
void copy_header(const milo_doc& from, milo_doc* to);

}  // namespace milo::core

#endif  // MILO_SRC_DOCUMENT_HPP
