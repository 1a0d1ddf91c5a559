// Encoder of the binary protobuf format: milo_doc → milo.v1.Document bytes.
//
// Two passes over the value graph. The first (canonical document order, the order that numbers
// ids as in JSON) decides which occurrence of a shared node is written in full and computes the
// size of every nested message once per node. The second writes in protobuf field-number order
// through a CodedOutputStream over a 64 KiB buffer; large tensor data goes to the sink straight
// from the tensor's memory. The bytes equal what generated code writes with deterministic
// serialization, so the generated classes can serve as an oracle.
#include <charconv>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream.h>

#include "milo/milo_codec.hpp"
#include "milo/plugin.h"
#include "pb_wire.hpp"

namespace milo {
namespace pb {
namespace {

using google::protobuf::io::CodedOutputStream;
using google::protobuf::io::ZeroCopyOutputStream;

constexpr int kBufferSize = 64 * 1024;
// Payloads at least this large skip the buffer (one copy fewer; also keeps CodedOutputStream's
// int-sized WriteRaw far from its limit).
constexpr size_t kDirectMin = 64 * 1024;

inline uint64_t vsize(uint64_t v) { return CodedOutputStream::VarintSize64(v); }
// Size of a length-delimited field with a one-byte tag (every field but Value.id).
inline uint64_t len_field(uint64_t n) { return 1 + vsize(n) + n; }
// Size of Value.id = n (field 16: two-byte tag).
inline uint64_t id_field(uint64_t id) { return id == 0 ? 0 : 2 + vsize(id); }
inline uint64_t zigzag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

// ZeroCopyOutputStream over the context's write callback, with one reusable buffer.
class Sink final : public ZeroCopyOutputStream {
public:
    Sink(const milo_encode_context* ctx, milo_error* error)
        : ctx_(ctx), error_(error), buffer_(new uint8_t[kBufferSize]) {}

    bool Next(void** data, int* size) override {
        if (!flush()) return false;
        *data = buffer_.get();
        *size = kBufferSize;
        used_ = kBufferSize;
        return true;
    }
    void BackUp(int count) override { used_ -= static_cast<size_t>(count); }
    int64_t ByteCount() const override { return static_cast<int64_t>(written_ + used_); }

    bool flush() {
        if (status_ != MILO_OK) return false;
        if (used_ == 0) return true;
        size_t n = used_;
        used_ = 0;
        return write(buffer_.get(), n);
    }
    bool write(const void* data, size_t n) {
        if (status_ != MILO_OK) return false;
        status_ = ctx_->write(ctx_->context, data, n, error_);
        written_ += n;
        return status_ == MILO_OK;
    }
    milo_status status() const { return status_; }

private:
    const milo_encode_context* ctx_;
    milo_error* error_;
    std::unique_ptr<uint8_t[]> buffer_;
    size_t used_ = 0;
    uint64_t written_ = 0;
    milo_status status_ = MILO_OK;
};

// Appends protobuf fields to a std::string (the header is small; sizes come for free).
struct Bytes {
    std::string s;
    void varint(uint64_t v) {
        while (v >= 0x80) {
            s.push_back(static_cast<char>(v | 0x80));
            v >>= 7;
        }
        s.push_back(static_cast<char>(v));
    }
    void field_varint(uint32_t field, uint64_t v) {
        varint(tag(field, kVarint));
        varint(v);
    }
    void field_bytes(uint32_t field, const char* p, size_t n) {
        varint(tag(field, kLen));
        varint(n);
        s.append(p, n);
    }
    void field_bytes(uint32_t field, const std::string& v) {
        field_bytes(field, v.data(), v.size());
    }
};

// What the first pass learns about a node with identity that is written in full.
struct NodeInfo {
    uint64_t inner = 0;  // size of the Sequence/Map/Tensor/Object message
    uint64_t aux = 0;    // tensors: size of the items Sequence or StringList
    uint64_t id = 0;     // 0: not shared
    const milo_value* parent = nullptr;  // where the full copy goes: (parent, slot)
    uint64_t slot = 0;
    const char* external = nullptr;  // tensors stored externally: their name
};

class Encoder {
public:
    Encoder(const milo_api* api, const milo_encode_context* ctx, milo_error* error)
        : api_(api), ctx_(ctx), error_(error) {}

    milo_status run(const milo_doc* doc);

private:
    using Seg = PathSeg;

    milo_status fail(milo_status status, const std::string& what);
    milo_status fail_api(const milo_error& e, const char* doing);
    std::string path() const;

    milo_status header(const milo_doc* doc, Bytes* out);
    bool size_value(const milo_value* v, const milo_value* parent, uint64_t slot, uint32_t depth,
                    uint64_t* out);
    bool size_inner(const milo_value* v, int32_t kind, uint32_t depth, NodeInfo* info);
    bool size_tensor(const milo_value* v, uint32_t depth, NodeInfo* info);
    uint64_t field_message_size(const milo_value* v, size_t index);

    void write_value_field(uint32_t field_tag, const milo_value* v, const milo_value* parent,
                           uint64_t slot);
    void write_inner(const milo_value* v, int32_t kind, const NodeInfo& info);
    void write_tensor(const milo_value* v, const NodeInfo& info);
    void write_bytes_field(uint32_t field, const void* data, size_t n);
    uint64_t scalar_size(const milo_value* v, int32_t kind);

    const milo_api* api_;
    const milo_encode_context* ctx_;
    milo_error* error_;
    codec::SharedNodes shared_;
    std::unordered_map<const milo_value*, NodeInfo> infos_;
    std::vector<Seg> path_;
    Sink* sink_ = nullptr;
    CodedOutputStream* out_ = nullptr;
    milo_status status_ = MILO_OK;  // of the first failure, for passes that return bool
    milo_error e_ = MILO_ERROR_INIT;  // a member: 1 KB would weigh on every recursion frame
};

milo_status Encoder::fail(milo_status status, const std::string& what) {
    std::string msg = "protobuf encoder";
    if (!path_.empty()) msg += " at " + path();
    msg += ": " + what;
    status_ = status;
    return api_->error_set(error_, status, msg.c_str());
}

milo_status Encoder::fail_api(const milo_error& e, const char* doing) {
    return fail(e.code != MILO_OK ? e.code : MILO_ERR_INTERNAL,
                std::string(doing) + ": " + e.message);
}

std::string Encoder::path() const { return format_path(path_); }

bool parse_u32(const char* text, uint32_t* out) {
    if (text == nullptr) return false;
    size_t n = std::strlen(text);
    auto r = std::from_chars(text, text + n, *out);
    return r.ec == std::errc() && r.ptr == text + n;
}

milo_status Encoder::header(const milo_doc* doc, Bytes* out) {
    milo_error e = MILO_ERROR_INIT;
    auto get = [&](const char* key, const char** value) {
        *value = nullptr;
        return api_->doc_get_header(doc, key, value, &e);
    };
    const char* a = nullptr;
    const char* b = nullptr;
    const char* c = nullptr;
    milo_status s;
    if ((s = get("format_version", &a)) != MILO_OK) return fail_api(e, "reading the header");
    uint32_t version = 0;
    if (!parse_u32(a, &version))
        return fail(MILO_ERR_INVALID_ARGUMENT, "header format_version is not a 32-bit integer");
    if (version != 0) out->field_varint(1, version);

    // NameVersion messages: written when either member is set (presence of both is explicit).
    auto name_version = [&](uint32_t field, const char* kname, const char* kversion) {
        milo_status st = get(kname, &a);
        if (st == MILO_OK) st = get(kversion, &b);
        if (st != MILO_OK) return fail_api(e, "reading the header");
        if (a == nullptr && b == nullptr) return MILO_OK;
        Bytes m;
        if (a != nullptr) m.field_bytes(1, a, std::strlen(a));
        if (b != nullptr) m.field_bytes(2, b, std::strlen(b));
        out->field_bytes(field, m.s);
        return MILO_OK;
    };
    if ((s = name_version(2, "producer.name", "producer.version")) != MILO_OK) return s;
    if ((s = name_version(3, "framework.name", "framework.version")) != MILO_OK) return s;

    if (get("transporter.id", &a) != MILO_OK || get("transporter.revision", &b) != MILO_OK)
        return fail_api(e, "reading the header");
    if (a != nullptr || b != nullptr) {
        Bytes m;
        if (a != nullptr) m.field_bytes(1, a, std::strlen(a));
        if (b != nullptr) {
            uint32_t revision = 0;
            if (!parse_u32(b, &revision))
                return fail(MILO_ERR_INVALID_ARGUMENT,
                            "header transporter.revision is not a 32-bit integer");
            m.field_varint(2, revision);  // `optional`: written even when 0
        }
        out->field_bytes(4, m.s);
    }
    if (get("type", &a) != MILO_OK) return fail_api(e, "reading the header");
    if (a != nullptr) out->field_bytes(5, a, std::strlen(a));

    if (get("source.kind", &a) != MILO_OK || get("source.version", &b) != MILO_OK ||
        get("source.sha256", &c) != MILO_OK)
        return fail_api(e, "reading the header");
    if (a != nullptr || b != nullptr || c != nullptr) {
        Bytes m;
        if (a != nullptr) m.field_bytes(1, a, std::strlen(a));
        if (b != nullptr) m.field_bytes(2, b, std::strlen(b));
        if (c != nullptr) m.field_bytes(3, c, std::strlen(c));
        out->field_bytes(6, m.s);
    }

    // TrustEntry/MetadataEntry/External members are proto3 implicit: written only when non-empty.
    size_t n = api_->doc_trust_count(doc);
    for (size_t i = 0; i < n; ++i) {
        int32_t level = 0;
        if (api_->doc_trust_at(doc, i, &a, &b, &level, &e) != MILO_OK)
            return fail_api(e, "reading the trust list");
        Bytes m;
        if (a != nullptr && *a != 0) m.field_bytes(1, a, std::strlen(a));
        if (b != nullptr && *b != 0) m.field_bytes(2, b, std::strlen(b));
        if (level != 0) m.field_varint(3, static_cast<uint64_t>(level));
        out->field_bytes(7, m.s);
    }
    n = api_->doc_metadata_count(doc);
    for (size_t i = 0; i < n; ++i) {
        if (api_->doc_metadata_at(doc, i, &a, &b, &e) != MILO_OK)
            return fail_api(e, "reading the metadata");
        Bytes m;
        if (a != nullptr && *a != 0) m.field_bytes(1, a, std::strlen(a));
        if (b != nullptr && *b != 0) m.field_bytes(2, b, std::strlen(b));
        out->field_bytes(8, m.s);
    }
    if (get("external.file", &a) != MILO_OK || get("external.sha256", &b) != MILO_OK)
        return fail_api(e, "reading the header");
    if (a != nullptr || b != nullptr) {
        Bytes m;
        if (a != nullptr && *a != 0) m.field_bytes(1, a, std::strlen(a));
        if (b != nullptr && *b != 0) m.field_bytes(2, b, std::strlen(b));
        out->field_bytes(9, m.s);
    }
    return MILO_OK;
}

// Body size of a scalar Value (no identity); 0 on a read failure (reported by the caller's pass).
uint64_t Encoder::scalar_size(const milo_value* v, int32_t kind) {
    const char* text = nullptr;
    const uint8_t* bytes = nullptr;
    size_t len = 0;
    switch (kind) {
    case MILO_KIND_NULL:
    case MILO_KIND_BOOL:
        return 2;
    case MILO_KIND_INT: {
        int64_t i = 0;
        if (api_->value_get_int(v, &i, nullptr) == MILO_OK) return 1 + vsize(zigzag(i));
        if (api_->value_get_int_text(v, &text, nullptr) != MILO_OK) return 0;
        return len_field(std::strlen(text));
    }
    case MILO_KIND_FLOAT:
        return 9;
    case MILO_KIND_STRING:
        if (api_->value_get_string(v, &text, &len, nullptr) != MILO_OK) return 0;
        return len_field(len);
    case MILO_KIND_BYTES:
        if (api_->value_get_bytes(v, &bytes, &len, nullptr) != MILO_OK) return 0;
        return len_field(len);
    case MILO_KIND_GLOBAL:
        if (api_->value_get_name(v, &text, nullptr) != MILO_OK) return 0;
        return len_field(std::strlen(text));
    default:
        return 0;
    }
}

bool Encoder::size_value(const milo_value* v, const milo_value* parent, uint64_t slot,
                         uint32_t depth, uint64_t* out) {
    if (depth > codec::kDefaultMaxDepth) {
        fail(MILO_ERR_LIMIT, "nesting deeper than " + std::to_string(codec::kDefaultMaxDepth));
        return false;
    }
    int32_t kind = api_->value_get_kind(v);
    if (!codec::kind_has_identity(kind)) {
        *out = scalar_size(v, kind);
        if (*out == 0) {
            fail(MILO_ERR_INTERNAL, "cannot read a value of kind " + std::to_string(kind));
            return false;
        }
        return true;
    }
    codec::SharedNodes::Visit visit = shared_.visit(v);
    if (!visit.first) {
        *out = 1 + vsize(visit.id);  // Value.ref
        return true;
    }
    NodeInfo& info = infos_[v];  // node-based map: the reference survives rehashing
    info.id = visit.id;
    info.parent = parent;
    info.slot = slot;
    if (!size_inner(v, kind, depth, &info)) return false;
    *out = len_field(info.inner) + id_field(info.id);
    return true;
}

bool Encoder::size_inner(const milo_value* v, int32_t kind, uint32_t depth, NodeInfo* info) {
    uint64_t total = 0;
    uint64_t item = 0;
    size_t n = api_->value_count(v);
    switch (kind) {
    case MILO_KIND_LIST:
    case MILO_KIND_TUPLE:
    case MILO_KIND_SET:
        for (size_t i = 0; i < n; ++i) {
            path_.push_back({nullptr, 0, i, false});
            if (!size_value(api_->value_at(v, i), v, i, depth + 1, &item)) return false;
            path_.pop_back();
            total += len_field(item);
        }
        break;
    case MILO_KIND_MAP:
        // Canonical order (key before its value) decides ids; sizes do not depend on order.
        for (size_t i = 0; i < n; ++i) {
            const milo_value* key = api_->value_key_at(v, i);
            path_.push_back({nullptr, 0, i, true});
            if (!size_value(key, v, 2 * i, depth + 1, &item)) return false;
            total += len_field(item);
            path_.back().key = false;
            const char* s = nullptr;
            size_t len = 0;
            if (api_->value_get_kind(key) == MILO_KIND_STRING &&
                api_->value_get_string(key, &s, &len, nullptr) == MILO_OK) {
                path_.back().name = s;
                path_.back().len = len;
            }
            if (!size_value(api_->value_at(v, i), v, 2 * i + 1, depth + 1, &item)) return false;
            path_.pop_back();
            total += len_field(item);
        }
        break;
    case MILO_KIND_OBJECT: {
        const char* type = nullptr;
        if (api_->value_get_name(v, &type, &e_) != MILO_OK) {
            fail_api(e_, "reading an object type");
            return false;
        }
        if (*type != 0) total += len_field(std::strlen(type));
        if (const milo_value* args = api_->value_get_args(v)) {
            path_.push_back({"args", 4, 0, false});
            if (!size_value(args, v, 0, depth + 1, &item)) return false;
            path_.pop_back();
            total += len_field(item);
        }
        if (const milo_value* state = api_->value_get_state(v)) {
            path_.push_back({"state", 5, 0, false});
            if (!size_value(state, v, 1, depth + 1, &item)) return false;
            path_.pop_back();
            total += len_field(item);
        }
        break;
    }
    case MILO_KIND_TENSOR:
        return size_tensor(v, depth, info);
    default:
        break;
    }
    info->inner = total;
    return true;
}

uint64_t packed_size(const int64_t* dims, size_t ndim) {
    uint64_t n = 0;
    for (size_t i = 0; i < ndim; ++i) n += vsize(static_cast<uint64_t>(dims[i]));
    return n;
}

// Size of the Field message `index` of a record tensor (0 with an unreadable field, which the
// first pass has already reported).
uint64_t Encoder::field_message_size(const milo_value* v, size_t index) {
    const char* name = nullptr;
    int32_t dtype = 0;
    uint64_t offset = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    if (api_->value_tensor_field_at(v, index, &name, &dtype, &offset, &shape, &ndim, nullptr) !=
        MILO_OK)
        return 0;
    uint64_t n = 0;
    if (name != nullptr && *name != 0) n += len_field(std::strlen(name));
    if (dtype != 0) n += 1 + vsize(static_cast<uint64_t>(dtype));
    if (offset != 0) n += 1 + vsize(offset);
    if (ndim != 0) n += len_field(packed_size(shape, ndim));
    return n;
}

bool Encoder::size_tensor(const milo_value* v, uint32_t depth, NodeInfo* info) {
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    if (api_->value_get_tensor(v, &dtype, &shape, &ndim, &e_) != MILO_OK) {
        fail_api(e_, "reading a tensor");
        return false;
    }
    uint64_t total = 1 + vsize(static_cast<uint64_t>(dtype));
    if (ndim != 0) total += len_field(packed_size(shape, ndim));
    if (dtype == MILO_DTYPE_OBJECT) {
        uint64_t seq = 0;
        uint64_t item = 0;
        size_t n = api_->value_count(v);
        for (size_t i = 0; i < n; ++i) {
            path_.push_back({nullptr, 0, i, false});
            if (!size_value(api_->value_tensor_item_at(v, i), v, i, depth + 1, &item))
                return false;
            path_.pop_back();
            seq += len_field(item);
        }
        info->aux = seq;
        info->inner = total + len_field(seq);
        return true;
    }
    if (dtype == MILO_DTYPE_STRING) {
        uint64_t list = 0;
        size_t n = api_->value_count(v);
        for (size_t i = 0; i < n; ++i) {
            const char* s = nullptr;
            size_t len = 0;
            if (api_->value_tensor_string_at(v, i, &s, &len, &e_) != MILO_OK) {
                fail_api(e_, "reading a string tensor element");
                return false;
            }
            list += len_field(len);
        }
        info->aux = list;
        info->inner = total + len_field(list);
        return true;
    }
    if (dtype == MILO_DTYPE_RECORD) {
        uint64_t itemsize = api_->value_tensor_itemsize(v);
        if (itemsize != 0) total += 1 + vsize(itemsize);
        size_t nfields = api_->value_tensor_field_count(v);
        for (size_t i = 0; i < nfields; ++i) {
            const char* name = nullptr;
            int32_t fd = 0;
            uint64_t off = 0;
            const int64_t* fs = nullptr;
            size_t fn = 0;
            if (api_->value_tensor_field_at(v, i, &name, &fd, &off, &fs, &fn, &e_) != MILO_OK) {
                fail_api(e_, "reading a record field");
                return false;
            }
            total += len_field(field_message_size(v, i));
        }
    }
    const char* name = nullptr;
    int32_t storage = MILO_TENSORS_COMPACT;
    if (!codec::tensor_storage(ctx_, v, dtype, MILO_TENSORS_COMPACT, &storage, &name)) {
        fail(MILO_ERR_INTERNAL, "external tensor storage without a name");
        return false;
    }
    if (storage == MILO_TENSORS_EXTERNAL) {
        info->external = name;
        info->inner = total + len_field(std::strlen(name));
        return true;
    }
    const void* data = nullptr;
    size_t nbytes = 0;
    if (api_->value_tensor_data(v, &data, &nbytes, &e_) != MILO_OK) {
        fail_api(e_, "reading tensor data");
        return false;
    }
    info->inner = total + len_field(nbytes);
    return true;
}

void Encoder::write_bytes_field(uint32_t field, const void* data, size_t n) {
    out_->WriteTag(tag(field, kLen));
    out_->WriteVarint64(n);
    if (n < kDirectMin) {
        out_->WriteRaw(data, static_cast<int>(n));
        return;
    }
    out_->Trim();  // hand buffered bytes back to the sink, then write the payload in place
    if (sink_->flush()) sink_->write(data, n);
}

void Encoder::write_value_field(uint32_t field_tag, const milo_value* v, const milo_value* parent,
                                uint64_t slot) {
    int32_t kind = api_->value_get_kind(v);
    out_->WriteTag(field_tag);
    if (!codec::kind_has_identity(kind)) {
        out_->WriteVarint64(scalar_size(v, kind));
        const char* text = nullptr;
        const uint8_t* bytes = nullptr;
        size_t len = 0;
        switch (kind) {
        case MILO_KIND_NULL:
            out_->WriteTag(tag(kValueNull, kVarint));
            out_->WriteVarint32(0);
            break;
        case MILO_KIND_BOOL: {
            bool b = false;
            api_->value_get_bool(v, &b, nullptr);
            out_->WriteTag(tag(kValueBool, kVarint));
            out_->WriteVarint32(b ? 1 : 0);
            break;
        }
        case MILO_KIND_INT: {
            int64_t i = 0;
            if (api_->value_get_int(v, &i, nullptr) == MILO_OK) {
                out_->WriteTag(tag(kValueInt, kVarint));
                out_->WriteVarint64(zigzag(i));
            } else {
                api_->value_get_int_text(v, &text, nullptr);
                write_bytes_field(kValueBigInt, text, std::strlen(text));
            }
            break;
        }
        case MILO_KIND_FLOAT: {
            double d = 0;
            api_->value_get_float(v, &d, nullptr);
            out_->WriteTag(tag(kValueFloat, kFixed64));
            out_->WriteLittleEndian64(codec::double_to_bits(d));
            break;
        }
        case MILO_KIND_STRING:
            api_->value_get_string(v, &text, &len, nullptr);
            write_bytes_field(kValueString, text, len);
            break;
        case MILO_KIND_BYTES:
            api_->value_get_bytes(v, &bytes, &len, nullptr);
            write_bytes_field(kValueBytes, bytes, len);
            break;
        case MILO_KIND_GLOBAL:
            api_->value_get_name(v, &text, nullptr);
            write_bytes_field(kValueGlobal, text, std::strlen(text));
            break;
        default:
            break;
        }
        return;
    }
    const NodeInfo& info = infos_.find(v)->second;
    if (info.id != 0 && (info.parent != parent || info.slot != slot)) {
        out_->WriteVarint64(1 + vsize(info.id));
        out_->WriteTag(tag(kValueRef, kVarint));
        out_->WriteVarint64(info.id);
        return;
    }
    out_->WriteVarint64(len_field(info.inner) + id_field(info.id));
    uint32_t field = kind == MILO_KIND_LIST    ? kValueList
                     : kind == MILO_KIND_TUPLE ? kValueTuple
                     : kind == MILO_KIND_SET   ? kValueSet
                     : kind == MILO_KIND_MAP   ? kValueMap
                     : kind == MILO_KIND_TENSOR ? kValueTensor
                                                : kValueObject;
    out_->WriteTag(tag(field, kLen));
    out_->WriteVarint64(info.inner);
    write_inner(v, kind, info);
    if (info.id != 0) {
        out_->WriteTag(tag(kValueId, kVarint));
        out_->WriteVarint64(info.id);
    }
}

void Encoder::write_inner(const milo_value* v, int32_t kind, const NodeInfo& info) {
    size_t n = api_->value_count(v);
    switch (kind) {
    case MILO_KIND_LIST:
    case MILO_KIND_TUPLE:
    case MILO_KIND_SET:
        for (size_t i = 0; i < n; ++i) write_value_field(tag(1, kLen), api_->value_at(v, i), v, i);
        break;
    case MILO_KIND_MAP:
        // Field-number order: every key (field 1), then every value (field 2).
        for (size_t i = 0; i < n; ++i)
            write_value_field(tag(1, kLen), api_->value_key_at(v, i), v, 2 * i);
        for (size_t i = 0; i < n; ++i)
            write_value_field(tag(2, kLen), api_->value_at(v, i), v, 2 * i + 1);
        break;
    case MILO_KIND_OBJECT: {
        const char* type = nullptr;
        api_->value_get_name(v, &type, nullptr);
        if (type != nullptr && *type != 0) write_bytes_field(1, type, std::strlen(type));
        if (const milo_value* args = api_->value_get_args(v))
            write_value_field(tag(2, kLen), args, v, 0);
        if (const milo_value* state = api_->value_get_state(v))
            write_value_field(tag(3, kLen), state, v, 1);
        break;
    }
    case MILO_KIND_TENSOR:
        write_tensor(v, info);
        break;
    default:
        break;
    }
}

void write_packed(CodedOutputStream* out, uint32_t field, const int64_t* dims, size_t ndim) {
    if (ndim == 0) return;
    out->WriteTag(tag(field, kLen));
    out->WriteVarint64(packed_size(dims, ndim));
    for (size_t i = 0; i < ndim; ++i) out->WriteVarint64(static_cast<uint64_t>(dims[i]));
}

void Encoder::write_tensor(const milo_value* v, const NodeInfo& info) {
    int32_t dtype = 0;
    const int64_t* shape = nullptr;
    size_t ndim = 0;
    api_->value_get_tensor(v, &dtype, &shape, &ndim, nullptr);
    out_->WriteTag(tag(kTensorDtype, kVarint));
    out_->WriteVarint64(static_cast<uint64_t>(dtype));
    write_packed(out_, kTensorShape, shape, ndim);
    if (dtype == MILO_DTYPE_OBJECT) {
        out_->WriteTag(tag(kTensorItems, kLen));
        out_->WriteVarint64(info.aux);
        size_t n = api_->value_count(v);
        for (size_t i = 0; i < n; ++i)
            write_value_field(tag(1, kLen), api_->value_tensor_item_at(v, i), v, i);
        return;
    }
    if (dtype == MILO_DTYPE_STRING) {
        out_->WriteTag(tag(kTensorStrings, kLen));
        out_->WriteVarint64(info.aux);
        size_t n = api_->value_count(v);
        for (size_t i = 0; i < n; ++i) {
            const char* s = nullptr;
            size_t len = 0;
            api_->value_tensor_string_at(v, i, &s, &len, nullptr);
            write_bytes_field(1, s, len);
        }
        return;
    }
    if (dtype == MILO_DTYPE_RECORD) {
        uint64_t itemsize = api_->value_tensor_itemsize(v);
        if (itemsize != 0) {
            out_->WriteTag(tag(kTensorItemsize, kVarint));
            out_->WriteVarint64(itemsize);
        }
        size_t nfields = api_->value_tensor_field_count(v);
        for (size_t i = 0; i < nfields; ++i) {
            const char* name = nullptr;
            int32_t fd = 0;
            uint64_t off = 0;
            const int64_t* fs = nullptr;
            size_t fn = 0;
            api_->value_tensor_field_at(v, i, &name, &fd, &off, &fs, &fn, nullptr);
            out_->WriteTag(tag(kTensorFields, kLen));
            out_->WriteVarint64(field_message_size(v, i));
            if (name != nullptr && *name != 0) write_bytes_field(1, name, std::strlen(name));
            if (fd != 0) {
                out_->WriteTag(tag(2, kVarint));
                out_->WriteVarint64(static_cast<uint64_t>(fd));
            }
            if (off != 0) {
                out_->WriteTag(tag(3, kVarint));
                out_->WriteVarint64(off);
            }
            write_packed(out_, 4, fs, fn);
        }
    }
    if (info.external != nullptr) {
        write_bytes_field(kTensorExternal, info.external, std::strlen(info.external));
        return;
    }
    const void* data = nullptr;
    size_t nbytes = 0;
    api_->value_tensor_data(v, &data, &nbytes, nullptr);
    write_bytes_field(kTensorData, data, nbytes);
}

milo_status Encoder::run(const milo_doc* doc) {
    Bytes head;
    milo_status s = header(doc, &head);
    if (s != MILO_OK) return s;

    const milo_value* root = api_->doc_get_root(doc);
    uint64_t root_size = 0;  // sizes are memoised in infos_; the root's own is not needed
    if (root != nullptr) {
        uint32_t depth = 0;
        if (!shared_.build(api_, root, codec::kDefaultMaxDepth, &depth))
            return fail(MILO_ERR_LIMIT, "nesting depth " + std::to_string(depth) +
                                            " exceeds the limit of " +
                                            std::to_string(codec::kDefaultMaxDepth));
        infos_.reserve(api_->doc_value_count(doc));
        if (!size_value(root, nullptr, 0, 1, &root_size)) return status_;
    }

    Sink sink(ctx_, error_);
    {
        CodedOutputStream out(&sink);
        sink_ = &sink;
        out_ = &out;
        write_bytes_field(1, head.s.data(), head.s.size());
        if (root != nullptr) write_value_field(tag(2, kLen), root, nullptr, 0);
        out.Trim();
        out_ = nullptr;
    }
    sink.flush();
    if (sink.status() != MILO_OK) return sink.status();
    return MILO_OK;
}

}  // namespace

milo_status encode_document(const milo_api* api, const milo_doc* doc,
                            const milo_encode_context* context, milo_error* error) {
    if (api == nullptr || doc == nullptr || context == nullptr || context->write == nullptr)
        return api != nullptr ? api->error_set(error, MILO_ERR_INVALID_ARGUMENT,
                                               "protobuf encoder: missing document or context")
                              : MILO_ERR_INVALID_ARGUMENT;
    return guard_boundary(api, error, "protobuf encoder", [&] {
        Encoder encoder(api, context, error);
        return encoder.run(doc);
    });
}

}  // namespace pb
}  // namespace milo
