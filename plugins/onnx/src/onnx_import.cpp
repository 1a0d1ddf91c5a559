// ONNX ModelProto → Milo document. Every message becomes an object named by its full protobuf
// name ("onnx.NodeProto") whose state maps each present field, in field-number order, to its
// value; TensorProto data fields become typed tensors; newer fields come through the schema
// overlay and anything still unknown is kept as wire data, so the document rebuilds the exact
// message (tests/plugins/onnx checks that on every model of the corpus).
#include "onnx_import.hpp"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include <google/protobuf/arena.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>
#include <google/protobuf/unknown_field_set.h>

#include <onnx/onnx_pb.h>

#include "milo/milo_codec.hpp"
#include "onnx_wire.hpp"

namespace milo {
namespace onnx_import {

namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

// Inputs at least this large are hashed on a second thread.
constexpr size_t kHashThreadMin = size_t(4) << 20;

// Keeps the parsed model (and overlay messages parsed from its unknown fields) alive while
// document tensors borrow their raw_data.
struct Holder {
    pb::Arena arena;
    std::vector<std::unique_ptr<pb::Message>> newer;
};

void release_holder(void* context) { delete static_cast<std::shared_ptr<Holder>*>(context); }

bool valid_utf8(const std::string& s) {
    return codec::utf8_invalid_at(s.data(), s.size()) == SIZE_MAX;
}

// How a TensorProto.DataType maps onto document tensors. Sub-byte types (bits 4 or 2) are
// unpacked to one element per byte; float8 and float4/6 element types keep their bit patterns
// in uint8 (the data_type field next to them says what they mean).
struct Elem {
    int32_t dtype;  // MILO_DTYPE_*, 0 when the type has no fixed-size tensor form
    int bits;       // bits per element in raw_data
    bool is_signed; // sub-byte types: sign-extend when unpacking
};

Elem elem_of(int64_t data_type) {
    switch (data_type) {
        case 1: return {MILO_DTYPE_FLOAT32, 32, false};
        case 2: return {MILO_DTYPE_UINT8, 8, false};
        case 3: return {MILO_DTYPE_INT8, 8, false};
        case 4: return {MILO_DTYPE_UINT16, 16, false};
        case 5: return {MILO_DTYPE_INT16, 16, false};
        case 6: return {MILO_DTYPE_INT32, 32, false};
        case 7: return {MILO_DTYPE_INT64, 64, false};
        case 9: return {MILO_DTYPE_BOOL, 8, false};
        case 10: return {MILO_DTYPE_FLOAT16, 16, false};
        case 11: return {MILO_DTYPE_FLOAT64, 64, false};
        case 12: return {MILO_DTYPE_UINT32, 32, false};
        case 13: return {MILO_DTYPE_UINT64, 64, false};
        case 14: return {MILO_DTYPE_COMPLEX64, 64, false};
        case 15: return {MILO_DTYPE_COMPLEX128, 128, false};
        case 16: return {MILO_DTYPE_BFLOAT16, 16, false};
        case 17: case 18: case 19: case 20: case 24:  // float8 variants
            return {MILO_DTYPE_UINT8, 8, false};
        case 21: return {MILO_DTYPE_UINT8, 4, false};   // UINT4
        case 22: return {MILO_DTYPE_INT8, 4, true};     // INT4
        case 23: return {MILO_DTYPE_UINT8, 4, false};   // FLOAT4E2M1
        case 25: return {MILO_DTYPE_UINT8, 2, false};   // UINT2
        case 26: return {MILO_DTYPE_INT8, 2, true};     // INT2
        default: return {0, 0, false};                  // STRING, UNDEFINED, FLOAT6…, unknown
    }
}

// Shape facts of one TensorProto.
struct TensorInfo {
    int64_t data_type = 0;
    std::vector<int64_t> shape;
    uint64_t count = 1;
    bool valid = true;  // dims non-negative, at most MILO_MAX_NDIM, product fits
};

TensorInfo tensor_info(const pb::Message& m) {
    TensorInfo ti;
    const pb::Descriptor* d = m.GetDescriptor();
    const pb::Reflection* r = m.GetReflection();
    if (const FD* f = d->FindFieldByName("data_type"); f && r->HasField(m, f))
        ti.data_type = r->GetInt32(m, f);
    const FD* dims = d->FindFieldByName("dims");
    const int ndim = dims ? r->FieldSize(m, dims) : 0;
    if (ndim > MILO_MAX_NDIM) ti.valid = false;
    for (int i = 0; i < ndim && ti.valid; ++i) {
        const int64_t v = r->GetRepeatedInt64(m, dims, i);
        if (v < 0 || (v != 0 && ti.count > UINT64_MAX / uint64_t(v))) ti.valid = false;
        else ti.count *= uint64_t(v), ti.shape.push_back(v);
    }
    // a segment holds elements [begin, end) of the whole tensor, as a flat run
    const FD* seg = d->FindFieldByName("segment");
    if (ti.valid && seg && r->HasField(m, seg)) {
        const pb::Message& s = r->GetMessage(m, seg);
        const pb::Reflection* sr = s.GetReflection();
        const FD* b = s.GetDescriptor()->FindFieldByName("begin");
        const FD* e = s.GetDescriptor()->FindFieldByName("end");
        const int64_t begin = b ? sr->GetInt64(s, b) : 0, end = e ? sr->GetInt64(s, e) : 0;
        if (begin < 0 || end < begin || uint64_t(end) > ti.count) ti.valid = false;
        else ti.count = uint64_t(end - begin), ti.shape = {end - begin};
    }
    return ti;
}

bool is_data_field(const std::string& name) {
    return name == "raw_data" || name == "float_data" || name == "int32_data" ||
           name == "string_data" || name == "int64_data" || name == "double_data" ||
           name == "uint64_data";
}

bool parse_decimal(const std::string& s, uint64_t* out) {
    if (s.empty() || s.size() > 20) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        const uint64_t d = uint64_t(c - '0');
        if (v > (UINT64_MAX - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

std::string quoted(const std::string& s) { return codec::quote_for_message(s, '\''); }

class Importer {
public:
    Importer(const Schema& schema, DocRef doc, std::string name)
        : schema_(schema), doc_(doc), name_(std::move(name)),
          holder_(std::make_shared<Holder>()) {}

    void run(const uint8_t* data, size_t size, const char* path, bool hash_source) {
        resolve_folder(path);
        if (size > size_t(INT_MAX))
            fail(MILO_ERR_LIMIT, "the model is " + std::to_string(size) +
                                     " bytes; protobuf messages are limited to 2 GiB");
        // SHA-256 of the source runs at ~1-2 GB/s, slower than parsing; on large models it
        // runs beside the parse and the walk instead of after them.
        char sha[65] = {0};
        const milo_api* api = doc_.api();
        std::thread hasher;
        if (!hash_source) {
        } else if (size >= kHashThreadMin) {
            hasher = std::thread([&] { api->hash_sha256(data, size, sha); });
        } else {
            api->hash_sha256(data, size, sha);
        }
        struct Join {
            std::thread& t;
            ~Join() { if (t.joinable()) t.join(); }
        } join{hasher};
        auto* model = pb::Arena::CreateMessage<::onnx::ModelProto>(&holder_->arena);
        pb::io::CodedInputStream in(data, int(size));
        in.SetRecursionLimit(kMaxDepth);
        if (!model->MergePartialFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
            const pb::Descriptor* overlay_model = schema_.pool().FindMessageTypeByName(kRootType);
            std::string where = locate_wire_error(overlay_model, data, size);
            if (where.empty()) where = "protobuf refuses the message";
            throw Error(MILO_ERR_CORRUPT, name_ + ": not a valid ONNX model: " + where);
        }
        ValueRef root = message(*model, 0);
        doc_.set_root(root);
        if (hasher.joinable()) hasher.join();
        set_header(*model, sha);
    }

private:
    const Schema& schema_;
    DocRef doc_;
    std::string name_;
    std::shared_ptr<Holder> holder_;
    std::string folder_;
    bool has_folder_ = false;
    // Document path of the value being built: state keys and list indexes, turned into text
    // only when an error needs it.
    struct PathItem {
        const char* key;  // NULL: a list index
        size_t index;
    };
    std::vector<PathItem> path_;

    // How each field of a message type maps (computed once per descriptor: compiled and overlay
    // descriptors of one message are different objects).
    enum FieldKind : uint8_t { kPlain, kTensorData, kDataTypeName };
    struct MessageInfo {
        bool tensor = false;
        std::vector<uint8_t> kind;  // by FieldDescriptor::index()
    };
    std::unordered_map<const pb::Descriptor*, MessageInfo> infos_;

    const MessageInfo& info(const pb::Descriptor* d) {
        auto it = infos_.find(d);
        if (it != infos_.end()) return it->second;
        MessageInfo mi;
        const std::string& m = d->full_name();
        mi.tensor = m == "onnx.TensorProto";
        mi.kind.resize(size_t(d->field_count()), kPlain);
        for (int i = 0; i < d->field_count(); ++i) {
            const FD* f = d->field(i);
            if (mi.tensor && is_data_field(f->name())) mi.kind[size_t(i)] = kTensorData;
            if (!f->is_repeated() && f->cpp_type() == FD::CPPTYPE_INT32 &&
                ((mi.tensor && f->name() == "data_type") ||
                 ((m == "onnx.TypeProto.Tensor" || m == "onnx.TypeProto.SparseTensor") &&
                  f->name() == "elem_type")))
                mi.kind[size_t(i)] = kDataTypeName;
        }
        return infos_.emplace(d, std::move(mi)).first->second;
    }

    [[noreturn]] void fail(milo_status code, const std::string& what) {
        std::string where = "/root";
        for (const PathItem& p : path_)
            where += p.key ? std::string("/state/") + p.key : "/" + std::to_string(p.index);
        throw Error(code, name_ + ": " + where + ": " + what);
    }

    struct PathPush {
        std::vector<PathItem>& path;
        PathPush(std::vector<PathItem>& p, const char* key) : path(p) { path.push_back({key, 0}); }
        PathPush(std::vector<PathItem>& p, size_t index) : path(p) {
            path.push_back({nullptr, index});
        }
        ~PathPush() { path.pop_back(); }
    };

    void resolve_folder(const char* path) {
        struct stat st;
        if (path == nullptr || ::stat(path, &st) != 0 || !S_ISREG(st.st_mode)) return;
        std::string p = path;
        const size_t slash = p.rfind('/');
        folder_ = slash == std::string::npos ? "." : (slash == 0 ? "/" : p.substr(0, slash));
        has_folder_ = true;
    }

    void set_header(const ::onnx::ModelProto& model, const char* sha) {
        doc_.set_header("framework.name", "onnx");
        for (const auto& op : model.opset_import())
            if (op.domain().empty() || op.domain() == "ai.onnx")
                doc_.set_header("framework.version", std::to_string(op.version()));
        doc_.set_header("transporter.id", kTransporterId);
        doc_.set_header("transporter.revision", kRevision);
        doc_.set_header("type", kRootType);
        doc_.set_header("source.kind", "onnx");
        if (model.has_ir_version())
            doc_.set_header("source.version", std::to_string(model.ir_version()));
        if (sha[0] != '\0') doc_.set_header("source.sha256", sha);
    }

    // ---------------------------------------------------------------- messages

    ValueRef message(const pb::Message& m, int depth) {
        if (depth > kMaxDepth)
            fail(MILO_ERR_LIMIT, "messages nested deeper than " + std::to_string(kMaxDepth) +
                                     " levels");
        const pb::Descriptor* d = m.GetDescriptor();
        const pb::Reflection* r = m.GetReflection();
        std::vector<const FD*> fields;
        r->ListFields(m, &fields);
        std::vector<const FD*> newer_fields;
        const pb::Message* newer = nullptr;
        const pb::UnknownFieldSet* unknown = &r->GetUnknownFields(m);
        if (!unknown->empty() && d->file()->pool() != &schema_.pool())
            newer = parse_newer(d->full_name(), *unknown, depth);
        if (newer != nullptr) {
            newer->GetReflection()->ListFields(*newer, &newer_fields);
            unknown = &newer->GetReflection()->GetUnknownFields(*newer);
        }
        const MessageInfo& mi = info(d);
        const bool tensor = mi.tensor;
        TensorInfo ti;
        if (tensor) ti = tensor_info(m);

        ValueRef state = doc_.map();
        size_t i = 0, j = 0;
        while (i < fields.size() || j < newer_fields.size()) {
            const bool take_newer =
                i == fields.size() ||
                (j < newer_fields.size() && newer_fields[j]->number() < fields[i]->number());
            const pb::Message& src = take_newer ? *newer : m;
            const FD* f = take_newer ? newer_fields[j++] : fields[i++];
            const pb::Reflection* sr = take_newer ? newer->GetReflection() : r;
            const uint8_t kind = take_newer ? info(newer->GetDescriptor()).kind[size_t(f->index())]
                                            : mi.kind[size_t(f->index())];
            PathPush push(path_, f->name().c_str());
            ValueRef v = kind == kTensorData ? tensor_data(src, sr, f, ti)
                                             : field(src, sr, f, kind, depth);
            doc_.put(state, f->name(), v);
        }
        if (!unknown->empty()) {
            PathPush push(path_, kUnknownKey);
            doc_.put(state, kUnknownKey, unknown_fields(*unknown, 0));
        }
        if (tensor) external_data(m, ti, state);
        ValueRef obj = doc_.object(d->full_name().c_str());
        obj.set_state(state);
        return obj;
    }

    // Parses the unknown fields of a compiled message against the overlay; NULL when the
    // overlay does not know the message or the bytes do not parse as its newer fields (then
    // they stay raw, which is just as lossless).
    const pb::Message* parse_newer(const std::string& full_name, const pb::UnknownFieldSet& u,
                                   int depth) {
        const pb::Message* proto = schema_.prototype(full_name);
        if (proto == nullptr) return nullptr;
        std::string bytes;
        if (!u.SerializeToString(&bytes)) return nullptr;
        std::unique_ptr<pb::Message> msg(proto->New());
        // reflection parsing logs every string field that is not UTF-8 (proto2 allows it; such
        // strings become bytes in the document): keep stderr quiet
        pb::LogSilencer quiet;
        pb::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(bytes.data()),
                                    int(bytes.size()));
        in.SetRecursionLimit(std::max(0, kMaxDepth - depth));
        if (!msg->MergePartialFromCodedStream(&in) || !in.ConsumedEntireMessage()) return nullptr;
        holder_->newer.push_back(std::move(msg));
        return holder_->newer.back().get();
    }

    ValueRef field(const pb::Message& m, const pb::Reflection* r, const FD* f, uint8_t kind,
                   int depth) {
        if (kind == kDataTypeName) {
            const int64_t v = r->GetInt32(m, f);
            const char* name = data_type_name(v);
            return name != nullptr ? doc_.string(name) : doc_.integer(v);
        }
        if (!f->is_repeated()) return element(m, r, f, -1, depth);
        const int n = r->FieldSize(m, f);
        if (n > kListMax) {
            if (ValueRef t = numeric_tensor(m, r, f, n)) return t;
        }
        ValueRef list = doc_.list();
        for (int i = 0; i < n; ++i) {
            PathPush push(path_, size_t(i));
            list.append(element(m, r, f, i, depth));
        }
        return list;
    }

    // A long repeated numeric field as a 1-D tensor of its own type; empty for other fields.
    ValueRef numeric_tensor(const pb::Message& m, const pb::Reflection* r, const FD* f, int n) {
        const std::vector<int64_t> shape{n};
        switch (f->cpp_type()) {
            case FD::CPPTYPE_INT32: return fill<int32_t>(MILO_DTYPE_INT32, shape, n,
                                                         [&](int i) { return r->GetRepeatedInt32(m, f, i); });
            case FD::CPPTYPE_INT64: return fill<int64_t>(MILO_DTYPE_INT64, shape, n,
                                                         [&](int i) { return r->GetRepeatedInt64(m, f, i); });
            case FD::CPPTYPE_UINT32: return fill<uint32_t>(MILO_DTYPE_UINT32, shape, n,
                                                           [&](int i) { return r->GetRepeatedUInt32(m, f, i); });
            case FD::CPPTYPE_UINT64: return fill<uint64_t>(MILO_DTYPE_UINT64, shape, n,
                                                           [&](int i) { return r->GetRepeatedUInt64(m, f, i); });
            case FD::CPPTYPE_FLOAT: return fill<float>(MILO_DTYPE_FLOAT32, shape, n,
                                                       [&](int i) { return r->GetRepeatedFloat(m, f, i); });
            case FD::CPPTYPE_DOUBLE: return fill<double>(MILO_DTYPE_FLOAT64, shape, n,
                                                         [&](int i) { return r->GetRepeatedDouble(m, f, i); });
            case FD::CPPTYPE_BOOL: return fill<uint8_t>(MILO_DTYPE_BOOL, shape, n,
                                                        [&](int i) { return uint8_t(r->GetRepeatedBool(m, f, i)); });
            default: return {};
        }
    }

    template <class T, class Get>
    ValueRef fill(int32_t dtype, const std::vector<int64_t>& shape, int n, Get get) {
        ValueRef t = doc_.tensor(dtype, shape);
        if (n > 0) {
            T* out = t.mutable_data_as<T>();
            for (int i = 0; i < n; ++i) out[i] = static_cast<T>(get(i));
        }
        return t;
    }

    // One value of field f (index -1: the singular field).
    ValueRef element(const pb::Message& m, const pb::Reflection* r, const FD* f, int i,
                     int depth) {
        const bool rep = i >= 0;
        switch (f->cpp_type()) {
            case FD::CPPTYPE_INT32:
                return doc_.integer(rep ? r->GetRepeatedInt32(m, f, i) : r->GetInt32(m, f));
            case FD::CPPTYPE_INT64:
                return doc_.integer(rep ? r->GetRepeatedInt64(m, f, i) : r->GetInt64(m, f));
            case FD::CPPTYPE_UINT32:
                return doc_.integer(rep ? r->GetRepeatedUInt32(m, f, i) : r->GetUInt32(m, f));
            case FD::CPPTYPE_UINT64: {
                const uint64_t v = rep ? r->GetRepeatedUInt64(m, f, i) : r->GetUInt64(m, f);
                return v > uint64_t(INT64_MAX) ? doc_.integer_text(std::to_string(v))
                                               : doc_.integer(int64_t(v));
            }
            case FD::CPPTYPE_DOUBLE:
                return doc_.number(rep ? r->GetRepeatedDouble(m, f, i) : r->GetDouble(m, f));
            case FD::CPPTYPE_FLOAT: {
                const float v = rep ? r->GetRepeatedFloat(m, f, i) : r->GetFloat(m, f);
                return float_value(v);
            }
            case FD::CPPTYPE_BOOL:
                return doc_.boolean(rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f));
            case FD::CPPTYPE_ENUM: {
                const pb::EnumValueDescriptor* e =
                    rep ? r->GetRepeatedEnum(m, f, i) : r->GetEnum(m, f);
                return doc_.string(e->name());
            }
            case FD::CPPTYPE_STRING: {
                std::string scratch;
                const std::string& s = rep ? r->GetRepeatedStringReference(m, f, i, &scratch)
                                           : r->GetStringReference(m, f, &scratch);
                if (f->type() == FD::TYPE_STRING && valid_utf8(s)) return doc_.string(s);
                return doc_.bytes(s.data(), s.size());
            }
            case FD::CPPTYPE_MESSAGE:
                return message(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f),
                               depth + 1);
        }
        fail(MILO_ERR_INTERNAL, "field of unknown C++ type");
    }

    // A float as a document number when float → double → float keeps its bits (all but
    // signalling NaNs); otherwise as a 0-d float32 tensor. The test is on the bits: compilers
    // fold the round trip float → double → float to nothing (they assume no signalling NaN).
    ValueRef float_value(float v) {
        uint32_t bits = 0;
        std::memcpy(&bits, &v, sizeof bits);
        const bool signalling_nan = (bits & 0x7f800000u) == 0x7f800000u &&
                                    (bits & 0x007fffffu) != 0 && (bits & 0x00400000u) == 0;
        if (!signalling_nan) return doc_.number(double(v));
        ValueRef t = doc_.tensor(MILO_DTYPE_FLOAT32, {});
        std::memcpy(t.mutable_data().first, &v, sizeof v);
        return t;
    }

    ValueRef unknown_fields(const pb::UnknownFieldSet& u, int depth) {
        if (depth > kMaxDepth) fail(MILO_ERR_LIMIT, "unknown groups nested too deeply");
        ValueRef list = doc_.list();
        for (int i = 0; i < u.field_count(); ++i) {
            const pb::UnknownField& f = u.field(i);
            ValueRef entry = doc_.map();
            doc_.put(entry, "number", doc_.integer(f.number()));
            ValueRef value;
            const char* wire = "";
            auto unsigned_value = [&](uint64_t v) {
                return v > uint64_t(INT64_MAX) ? doc_.integer_text(std::to_string(v))
                                               : doc_.integer(int64_t(v));
            };
            switch (f.type()) {
                case pb::UnknownField::TYPE_VARINT:
                    wire = "varint", value = unsigned_value(f.varint());
                    break;
                case pb::UnknownField::TYPE_FIXED32:
                    wire = "fixed32", value = doc_.integer(f.fixed32());
                    break;
                case pb::UnknownField::TYPE_FIXED64:
                    wire = "fixed64", value = unsigned_value(f.fixed64());
                    break;
                case pb::UnknownField::TYPE_LENGTH_DELIMITED:
                    wire = "bytes",
                    value = doc_.bytes(f.length_delimited().data(), f.length_delimited().size());
                    break;
                case pb::UnknownField::TYPE_GROUP:
                    wire = "group", value = unknown_fields(f.group(), depth + 1);
                    break;
            }
            doc_.put(entry, "wire", doc_.string(wire));
            doc_.put(entry, "value", value);
            list.append(entry);
        }
        return list;
    }

    // ---------------------------------------------------------------- tensor data

    ValueRef tensor_data(const pb::Message& m, const pb::Reflection* r, const FD* f,
                         const TensorInfo& ti) {
        const std::string& name = f->name();
        if (name == "raw_data") {
            std::string scratch;
            const std::string& raw = r->GetStringReference(m, f, &scratch);
            if (&raw == &scratch) return doc_.bytes(raw.data(), raw.size());  // not borrowable
            return raw_tensor(ti, raw);
        }
        const int n = r->FieldSize(m, f);
        const Elem e = elem_of(ti.data_type);
        const bool exact = ti.valid && uint64_t(n) == ti.count;
        const bool pairs = ti.valid && ti.count <= uint64_t(INT_MAX) / 2 &&
                           uint64_t(n) == 2 * ti.count;
        const std::vector<int64_t> flat{n};
        auto shape_if = [&](bool ok) { return ok ? ti.shape : flat; };
        if (name == "float_data") {
            const bool complex = ti.data_type == 14 && pairs;
            const int32_t dtype = complex ? MILO_DTYPE_COMPLEX64 : MILO_DTYPE_FLOAT32;
            return fill<float>(dtype, shape_if(complex || (ti.data_type == 1 && exact)),
                               complex ? n / 2 * 2 : n,
                               [&](int i) { return r->GetRepeatedFloat(m, f, i); });
        }
        if (name == "double_data") {
            const bool complex = ti.data_type == 15 && pairs;
            const int32_t dtype = complex ? MILO_DTYPE_COMPLEX128 : MILO_DTYPE_FLOAT64;
            return fill<double>(dtype, shape_if(complex || (ti.data_type == 11 && exact)), n,
                                [&](int i) { return r->GetRepeatedDouble(m, f, i); });
        }
        if (name == "int64_data")
            return fill<int64_t>(MILO_DTYPE_INT64, shape_if(ti.data_type == 7 && exact), n,
                                 [&](int i) { return r->GetRepeatedInt64(m, f, i); });
        if (name == "uint64_data") {
            if (ti.data_type == 12 && exact && all_of(n, [&](int i) {
                    return r->GetRepeatedUInt64(m, f, i) <= UINT32_MAX;
                }))
                return fill<uint32_t>(MILO_DTYPE_UINT32, ti.shape, n,
                                      [&](int i) { return r->GetRepeatedUInt64(m, f, i); });
            return fill<uint64_t>(MILO_DTYPE_UINT64, shape_if(ti.data_type == 13 && exact), n,
                                  [&](int i) { return r->GetRepeatedUInt64(m, f, i); });
        }
        if (name == "int32_data") {
            auto get = [&](int i) { return r->GetRepeatedInt32(m, f, i); };
            if (exact && e.dtype != 0 && e.bits >= 8 && e.dtype != MILO_DTYPE_INT32) {
                if (ValueRef t = narrow_int32(e.dtype, ti.shape, n, get)) return t;
            }
            // 4- and 2-bit types: one packed byte per int32 (what onnx.helper.make_tensor writes)
            if (ti.valid && e.dtype != 0 && e.bits < 8 &&
                all_of(n, [&](int i) { return get(i) >= 0 && get(i) <= 255; })) {
                std::string packed(size_t(n), '\0');
                for (int i = 0; i < n; ++i) packed[size_t(i)] = char(get(i));
                const auto* bytes = reinterpret_cast<const uint8_t*>(packed.data());
                if (unpackable(ti, e, bytes, packed.size())) return unpack(ti, e, bytes);
            }
            return fill<int32_t>(MILO_DTYPE_INT32, shape_if(ti.data_type == 6 && exact), n, get);
        }
        // string_data
        std::vector<int64_t> shape = shape_if(exact);
        bool text = true;
        std::string scratch;
        for (int i = 0; i < n && text; ++i)
            text = valid_utf8(r->GetRepeatedStringReference(m, f, i, &scratch));
        ValueRef t = doc_.tensor(text ? MILO_DTYPE_STRING : MILO_DTYPE_OBJECT, shape);
        for (int i = 0; i < n; ++i) {
            const std::string& s = r->GetRepeatedStringReference(m, f, i, &scratch);
            if (text) t.set_string(size_t(i), s);
            else t.set_item(size_t(i), doc_.bytes(s.data(), s.size()));
        }
        return t;
    }

    template <class P>
    static bool all_of(int n, P pred) {
        for (int i = 0; i < n; ++i)
            if (!pred(i)) return false;
        return true;
    }

    // int32_data holding narrower elements (int8/16, uint8/16, bool, float16/bfloat16 and
    // float8 bit patterns); empty when a value does not fit, so nothing is lost.
    template <class Get>
    ValueRef narrow_int32(int32_t dtype, const std::vector<int64_t>& shape, int n, Get get) {
        int64_t lo = 0, hi = 0;
        switch (dtype) {
            case MILO_DTYPE_INT8: lo = INT8_MIN, hi = INT8_MAX; break;
            case MILO_DTYPE_INT16: lo = INT16_MIN, hi = INT16_MAX; break;
            case MILO_DTYPE_UINT8: lo = 0, hi = UINT8_MAX; break;
            case MILO_DTYPE_BOOL: lo = 0, hi = 1; break;
            case MILO_DTYPE_UINT16:
            case MILO_DTYPE_FLOAT16:
            case MILO_DTYPE_BFLOAT16: lo = 0, hi = UINT16_MAX; break;
            default: return {};
        }
        if (!all_of(n, [&](int i) { return get(i) >= lo && get(i) <= hi; })) return {};
        switch (dtype) {
            case MILO_DTYPE_INT8: return fill<int8_t>(dtype, shape, n, get);
            case MILO_DTYPE_INT16: return fill<int16_t>(dtype, shape, n, get);
            case MILO_DTYPE_UINT8:
            case MILO_DTYPE_BOOL: return fill<uint8_t>(dtype, shape, n, get);
            default: return fill<uint16_t>(dtype, shape, n, get);
        }
    }

    // raw_data as a typed tensor when its size matches dims and type exactly; otherwise the
    // bytes as they are (a malformed tensor is preserved, not judged).
    ValueRef raw_tensor(const TensorInfo& ti, const std::string& raw) {
        const Elem e = elem_of(ti.data_type);
        if (!ti.valid || e.dtype == 0) return doc_.bytes(raw.data(), raw.size());
        const auto* bytes = reinterpret_cast<const uint8_t*>(raw.data());
        if (e.bits < 8)
            return unpackable(ti, e, bytes, raw.size()) ? unpack(ti, e, bytes)
                                                        : doc_.bytes(raw.data(), raw.size());
        const uint64_t isz = uint64_t(e.bits) / 8;
        if (ti.count > UINT64_MAX / isz || raw.size() != ti.count * isz)
            return doc_.bytes(raw.data(), raw.size());
        if (e.dtype == MILO_DTYPE_BOOL &&
            std::any_of(raw.begin(), raw.end(), [](char c) { return uint8_t(c) > 1; }))
            return doc_.bytes(raw.data(), raw.size());
        auto* keep = new std::shared_ptr<Holder>(holder_);
        try {
            return doc_.tensor_borrowed(e.dtype, ti.shape, raw.data(), raw.size(),
                                        release_holder, keep);
        } catch (...) {
            delete keep;  // on failure the document did not take the release
            throw;
        }
    }

    // Whether `size` packed bytes hold exactly the tensor's 4- or 2-bit elements with zero
    // padding bits (anything else is kept as it is).
    static bool unpackable(const TensorInfo& ti, const Elem& e, const uint8_t* raw, size_t size) {
        const uint64_t per = uint64_t(8 / e.bits);
        if (size != ti.count / per + (ti.count % per != 0)) return false;
        const uint64_t used_bits = (ti.count % per) * uint64_t(e.bits);
        return used_bits == 0 || (raw[size - 1] >> used_bits) == 0;
    }

    // Packed elements (first element in the low bits) → one element per byte.
    ValueRef unpack(const TensorInfo& ti, const Elem& e, const uint8_t* raw) {
        const uint64_t per = uint64_t(8 / e.bits);
        const unsigned mask = (1u << e.bits) - 1;
        ValueRef t = doc_.tensor(e.dtype, ti.shape);
        if (ti.count == 0) return t;
        auto* out = static_cast<uint8_t*>(t.mutable_data().first);
        for (uint64_t i = 0; i < ti.count; ++i) {
            unsigned v = (raw[i / per] >> ((i % per) * uint64_t(e.bits))) & mask;
            if (e.is_signed && (v & (1u << (e.bits - 1)))) v |= ~mask;  // sign-extend
            out[i] = uint8_t(v);
        }
        return t;
    }

    // ---------------------------------------------------------------- external data

    void external_data(const pb::Message& m, const TensorInfo& ti, ValueRef state) {
        const pb::Descriptor* d = m.GetDescriptor();
        const pb::Reflection* r = m.GetReflection();
        const FD* loc = d->FindFieldByName("data_location");
        if (loc == nullptr || !r->HasField(m, loc) || r->GetEnumValue(m, loc) != 1) return;
        std::string tensor_name;
        if (const FD* nf = d->FindFieldByName("name")) tensor_name = r->GetString(m, nf);
        const std::string who = "tensor " + quoted(tensor_name);
        std::string location, offset_text, length_text;
        bool has_offset = false, has_length = false;
        if (const FD* ext = d->FindFieldByName("external_data")) {
            for (int i = 0; i < r->FieldSize(m, ext); ++i) {
                const pb::Message& kv = r->GetRepeatedMessage(m, ext, i);
                const pb::Reflection* kr = kv.GetReflection();
                const pb::Descriptor* kd = kv.GetDescriptor();
                const std::string key = kr->GetString(kv, kd->FindFieldByName("key"));
                const std::string value = kr->GetString(kv, kd->FindFieldByName("value"));
                if (key == "location") location = value;
                else if (key == "offset") offset_text = value, has_offset = true;
                else if (key == "length") length_text = value, has_length = true;
            }
        }
        PathPush push(path_, kExternalKey);
        if (location.empty()) fail(MILO_ERR_CORRUPT, who + ": external data without a location");
        check_location(who, location);
        if (!has_folder_)
            fail(MILO_ERR_UNSUPPORTED,
                 who + ": external data " + quoted(location) +
                     " cannot be read: the model was not read from a file, so there is no "
                     "folder to resolve it against");
        uint64_t offset = 0, length = 0;
        if (has_offset && !parse_decimal(offset_text, &offset))
            fail(MILO_ERR_CORRUPT, who + ": external data offset " + quoted(offset_text) +
                                       " is not a decimal byte count");
        if (has_length && !parse_decimal(length_text, &length))
            fail(MILO_ERR_CORRUPT, who + ": external data length " + quoted(length_text) +
                                       " is not a decimal byte count");

        const std::string full = folder_ + "/" + location;
        char folder_real[PATH_MAX], file_real[PATH_MAX];
        if (::realpath(folder_.c_str(), folder_real) == nullptr)
            fail(MILO_ERR_IO, who + ": cannot resolve the model's folder: " + std::strerror(errno));
        if (::realpath(full.c_str(), file_real) == nullptr)
            fail(MILO_ERR_IO, who + ": external data file " + quoted(full) + ": " +
                                  std::strerror(errno));
        if (std::strcmp(file_real, folder_real) == 0)
            fail(MILO_ERR_IO, who + ": external data " + quoted(location) +
                                  " names the model's folder, not a file");
        std::string base = folder_real;
        if (base != "/") base += "/";
        if (std::strncmp(file_real, base.c_str(), base.size()) != 0)
            fail(MILO_ERR_CORRUPT, who + ": external data " + quoted(location) +
                                       " resolves to " + quoted(file_real) +
                                       ", outside the model's folder " + quoted(folder_real));
        int fd = ::open(file_real, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            fail(MILO_ERR_IO, who + ": cannot open " + quoted(full) + ": " + std::strerror(errno));
        struct Closer {
            int fd;
            ~Closer() { ::close(fd); }
        } closer{fd};
        struct stat st;
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
            fail(MILO_ERR_IO, who + ": " + quoted(full) + " is not a regular file");
        const uint64_t file_size = uint64_t(st.st_size);
        if (offset > file_size)
            fail(MILO_ERR_CORRUPT, who + ": external data offset " + std::to_string(offset) +
                                       " is past the end of " + quoted(location) + " (" +
                                       std::to_string(file_size) + " bytes)");
        if (!has_length) length = file_size - offset;
        if (length > file_size - offset)
            fail(MILO_ERR_CORRUPT, who + ": external data bytes " + std::to_string(offset) + ".." +
                                       std::to_string(offset + length) + " run past the end of " +
                                       quoted(location) + " (" + std::to_string(file_size) +
                                       " bytes)");
        const Elem e = elem_of(ti.data_type);
        if (ti.valid && e.dtype != 0) {
            const uint64_t per = e.bits < 8 ? uint64_t(8 / e.bits) : 1;
            const uint64_t isz = e.bits < 8 ? 1 : uint64_t(e.bits / 8);
            const uint64_t elems = e.bits < 8 ? ti.count / per + (ti.count % per != 0) : ti.count;
            if (elems > UINT64_MAX / isz || elems * isz != length)
                fail(MILO_ERR_CORRUPT, who + ": external data holds " + std::to_string(length) +
                                           " bytes; dims and data_type need " +
                                           (elems > UINT64_MAX / isz
                                                ? std::string("more than 2^64")
                                                : std::to_string(elems * isz)));
        }
        ValueRef v;
        if (ti.valid && e.dtype != 0 && e.bits >= 8) {
            // straight into the tensor: external weights can be gigabytes
            v = doc_.tensor(e.dtype, ti.shape);
            if (length != 0) read_exact(who, fd, offset, v.mutable_data().first, size_t(length));
        } else {
            std::string bytes(size_t(length), '\0');
            read_exact(who, fd, offset, &bytes[0], bytes.size());
            const auto* raw = reinterpret_cast<const uint8_t*>(bytes.data());
            // packed types: the size was checked above; padding bits set keep the bytes
            v = ti.valid && e.dtype != 0 && unpackable(ti, e, raw, bytes.size())
                    ? unpack(ti, e, raw)
                    : doc_.bytes(bytes.data(), bytes.size());
        }
        doc_.put(state, kExternalKey, v);
    }

    void check_location(const std::string& who, const std::string& location) {
        auto bad = [&](const char* why) {
            fail(MILO_ERR_CORRUPT,
                 who + ": external data location " + quoted(location) + " " + why);
        };
        if (location.find('\0') != std::string::npos) bad("contains a NUL byte");
        if (location[0] == '/') bad("is an absolute path");
        if (location.find('\\') != std::string::npos) bad("contains a backslash");
        if (location.size() >= 2 && location[1] == ':') bad("names a drive");
        size_t start = 0;
        while (start <= location.size()) {
            size_t end = location.find('/', start);
            if (end == std::string::npos) end = location.size();
            if (location.compare(start, end - start, "..") == 0 && end - start == 2)
                bad("leaves the model's folder ('..')");
            start = end + 1;
        }
    }

    void read_exact(const std::string& who, int fd, uint64_t offset, void* out, size_t size) {
        auto* dst = static_cast<char*>(out);
        size_t done = 0;
        while (done < size) {
            ssize_t got = ::pread(fd, dst + done, size - done, off_t(offset + done));
            if (got < 0 && errno == EINTR) continue;
            if (got <= 0)
                fail(MILO_ERR_IO, who + ": reading external data: " +
                                      (got < 0 ? std::strerror(errno) : "unexpected end of file"));
            done += size_t(got);
        }
    }
};

}  // namespace

void import_model(const Schema& schema, DocRef doc, const uint8_t* data, size_t size,
                  const char* path, bool hash_source) {
    if (data == nullptr && size != 0) throw Error(MILO_ERR_INVALID_ARGUMENT, "onnx: data is NULL");
    static const uint8_t kEmpty = 0;
    Importer(schema, doc, path != nullptr ? path : "<onnx>")
        .run(data != nullptr ? data : &kEmpty, size, path, hash_source);
}

}  // namespace onnx_import
}  // namespace milo
