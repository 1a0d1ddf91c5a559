// Written independently of the importer's code paths: it follows plugins/onnx/README.md.
#include "onnx_reverse.hpp"

#include <cstring>
#include <stdexcept>
#include <vector>

#include <google/protobuf/unknown_field_set.h>
#include <google/protobuf/util/field_comparator.h>
#include <google/protobuf/util/message_differencer.h>
#include <onnx/onnx_pb.h>

namespace milo {
namespace onnx_test {

namespace {

namespace pb = google::protobuf;
using FD = pb::FieldDescriptor;

struct Rebuilder {
    const onnx_import::Schema& schema;
    std::vector<std::string> path;

    [[noreturn]] void fail(const std::string& what) const {
        std::string where = "/root";
        for (const auto& p : path) where += "/" + p;
        throw std::runtime_error(where + ": " + what);
    }

    void message(ValueRef obj, pb::Message* out) {
        const pb::Descriptor* d = out->GetDescriptor();
        if (!obj.is(MILO_KIND_OBJECT)) fail("expected an object of type " + d->full_name());
        if (obj.name() != d->full_name())
            fail("object type " + std::string(obj.name()) + ", expected " + d->full_name());
        ValueRef state = obj.state();
        if (!state) return;
        if (!state.is(MILO_KIND_MAP)) fail("state is not a map");
        int64_t data_type = 0;
        if (ValueRef dt = state.find("data_type"); dt && d->full_name() == "onnx.TensorProto")
            data_type = dt.is(MILO_KIND_STRING)
                            ? onnx_import::data_type_value(std::string(dt.as_string()))
                            : dt.as_int();
        for (size_t i = 0; i < state.size(); ++i) {
            const std::string key(state.key(i).as_string());
            path.push_back(key);
            ValueRef v = state[i];
            if (key == onnx_import::kExternalKey) {
                // data read from the external file; the message keeps only the reference
            } else if (key == onnx_import::kUnknownKey) {
                unknown(v, out->GetReflection()->MutableUnknownFields(out));
            } else {
                const FD* f = d->FindFieldByName(key);
                if (f == nullptr) fail("no field " + key + " in " + d->full_name());
                if (d->full_name() == "onnx.TensorProto" && is_data_field(key))
                    tensor_field(v, out, f, data_type);
                else
                    field(v, out, f);
            }
            path.pop_back();
        }
    }

    static bool is_data_field(const std::string& k) {
        return k == "raw_data" || k == "float_data" || k == "int32_data" ||
               k == "string_data" || k == "int64_data" || k == "double_data" ||
               k == "uint64_data";
    }

    void field(ValueRef v, pb::Message* out, const FD* f) {
        const pb::Reflection* r = out->GetReflection();
        if (!f->is_repeated()) {
            set(v, out, f, false);
            return;
        }
        if (v.is(MILO_KIND_TENSOR)) {  // a long numeric repeated field
            const size_t n = v.size();
            for (size_t i = 0; i < n; ++i) add_number(out, f, tensor_element(v, i));
            return;
        }
        if (!v.is(MILO_KIND_LIST)) fail("expected a list for repeated field " + f->name());
        for (size_t i = 0; i < v.size(); ++i) {
            path.push_back(std::to_string(i));
            set(v[i], out, f, true);
            path.pop_back();
        }
        (void)r;
    }

    struct Number {
        bool is_float = false;
        double f = 0;
        uint64_t bits = 0;  // integers as two's complement
    };

    Number tensor_element(ValueRef t, size_t i) {
        auto [p, n] = t.data();
        const uint8_t* b = static_cast<const uint8_t*>(p);
        Number out;
        switch (t.dtype()) {
            case MILO_DTYPE_INT32: { int32_t x; std::memcpy(&x, b + 4 * i, 4); out.bits = uint64_t(int64_t(x)); break; }
            case MILO_DTYPE_INT64: { int64_t x; std::memcpy(&x, b + 8 * i, 8); out.bits = uint64_t(x); break; }
            case MILO_DTYPE_UINT32: { uint32_t x; std::memcpy(&x, b + 4 * i, 4); out.bits = x; break; }
            case MILO_DTYPE_UINT64: { uint64_t x; std::memcpy(&x, b + 8 * i, 8); out.bits = x; break; }
            case MILO_DTYPE_BOOL: out.bits = b[i]; break;
            case MILO_DTYPE_FLOAT32: { float x; std::memcpy(&x, b + 4 * i, 4); out.is_float = true; out.f = x; break; }
            case MILO_DTYPE_FLOAT64: { double x; std::memcpy(&x, b + 8 * i, 8); out.is_float = true; out.f = x; break; }
            default: fail("unexpected tensor dtype " + std::to_string(t.dtype()));
        }
        (void)n;
        return out;
    }

    void add_number(pb::Message* out, const FD* f, Number x) {
        const pb::Reflection* r = out->GetReflection();
        switch (f->cpp_type()) {
            case FD::CPPTYPE_INT32: r->AddInt32(out, f, int32_t(x.bits)); break;
            case FD::CPPTYPE_INT64: r->AddInt64(out, f, int64_t(x.bits)); break;
            case FD::CPPTYPE_UINT32: r->AddUInt32(out, f, uint32_t(x.bits)); break;
            case FD::CPPTYPE_UINT64: r->AddUInt64(out, f, x.bits); break;
            case FD::CPPTYPE_BOOL: r->AddBool(out, f, x.bits != 0); break;
            case FD::CPPTYPE_FLOAT: r->AddFloat(out, f, float(x.f)); break;
            case FD::CPPTYPE_DOUBLE: r->AddDouble(out, f, x.f); break;
            default: fail("tensor for non-numeric field " + f->name());
        }
    }

    uint64_t integer(ValueRef v) {
        if (!v.is(MILO_KIND_INT)) fail("expected an int");
        const std::string text = v.int_text();
        if (!text.empty() && text[0] != '-' && text.size() >= 19) return std::stoull(text);
        return uint64_t(v.as_int());
    }

    void set(ValueRef v, pb::Message* out, const FD* f, bool add) {
        const pb::Reflection* r = out->GetReflection();
        const std::string& owner = out->GetDescriptor()->full_name();
        const bool data_type = (owner == "onnx.TensorProto" && f->name() == "data_type") ||
                               ((owner == "onnx.TypeProto.Tensor" ||
                                 owner == "onnx.TypeProto.SparseTensor") &&
                                f->name() == "elem_type");
        switch (f->cpp_type()) {
            case FD::CPPTYPE_INT32: {
                int64_t x = 0;
                if (data_type && v.is(MILO_KIND_STRING)) {
                    x = onnx_import::data_type_value(std::string(v.as_string()));
                    if (x < 0) fail("unknown data type name");
                } else {
                    x = int64_t(integer(v));
                }
                add ? r->AddInt32(out, f, int32_t(x)) : r->SetInt32(out, f, int32_t(x));
                break;
            }
            case FD::CPPTYPE_INT64: {
                const int64_t x = int64_t(integer(v));
                add ? r->AddInt64(out, f, x) : r->SetInt64(out, f, x);
                break;
            }
            case FD::CPPTYPE_UINT32: {
                const uint32_t x = uint32_t(integer(v));
                add ? r->AddUInt32(out, f, x) : r->SetUInt32(out, f, x);
                break;
            }
            case FD::CPPTYPE_UINT64: {
                const uint64_t x = integer(v);
                add ? r->AddUInt64(out, f, x) : r->SetUInt64(out, f, x);
                break;
            }
            case FD::CPPTYPE_FLOAT: {
                float x = 0;
                if (v.is(MILO_KIND_TENSOR)) {
                    if (v.dtype() != MILO_DTYPE_FLOAT32 || v.size() != 1) fail("bad float tensor");
                    std::memcpy(&x, v.data().first, 4);
                } else {
                    x = float(v.as_float());
                }
                add ? r->AddFloat(out, f, x) : r->SetFloat(out, f, x);
                break;
            }
            case FD::CPPTYPE_DOUBLE: {
                const double x = v.as_float();
                add ? r->AddDouble(out, f, x) : r->SetDouble(out, f, x);
                break;
            }
            case FD::CPPTYPE_BOOL:
                add ? r->AddBool(out, f, v.as_bool()) : r->SetBool(out, f, v.as_bool());
                break;
            case FD::CPPTYPE_ENUM: {
                const pb::EnumValueDescriptor* e =
                    f->enum_type()->FindValueByName(std::string(v.as_string()));
                if (e == nullptr) fail("unknown enum value " + std::string(v.as_string()));
                add ? r->AddEnum(out, f, e) : r->SetEnum(out, f, e);
                break;
            }
            case FD::CPPTYPE_STRING: {
                std::string s(v.is(MILO_KIND_STRING) ? v.as_string() : v.as_bytes());
                if (v.is(MILO_KIND_STRING) && f->type() == FD::TYPE_BYTES)
                    fail("a bytes field holds a string");
                add ? r->AddString(out, f, std::move(s)) : r->SetString(out, f, std::move(s));
                break;
            }
            case FD::CPPTYPE_MESSAGE:
                message(v, add ? r->AddMessage(out, f) : r->MutableMessage(out, f));
                break;
        }
    }

    static int sub_byte_bits(int64_t data_type) {
        return data_type == 21 || data_type == 22 || data_type == 23 ? 4
               : data_type == 25 || data_type == 26                  ? 2
                                                                     : 8;
    }

    // One element per byte → packed, first element in the low bits.
    static std::string pack(const uint8_t* p, size_t n, int bits) {
        const size_t per = size_t(8 / bits);
        std::string packed((n + per - 1) / per, '\0');
        for (size_t i = 0; i < n; ++i)
            packed[i / per] = char(uint8_t(packed[i / per]) |
                                   ((p[i] & ((1u << bits) - 1)) << ((i % per) * bits)));
        return packed;
    }

    static const uint8_t* bytes_of(ValueRef t, size_t* n) {
        auto [p, size] = t.data();
        *n = size;
        return static_cast<const uint8_t*>(p);
    }

    void tensor_field(ValueRef v, pb::Message* out, const FD* f, int64_t data_type) {
        const pb::Reflection* r = out->GetReflection();
        const std::string& name = f->name();
        if (name == "raw_data") {
            if (v.is(MILO_KIND_BYTES)) {
                r->SetString(out, f, std::string(v.as_bytes()));
                return;
            }
            if (!v.is(MILO_KIND_TENSOR)) fail("raw_data is neither bytes nor a tensor");
            size_t n = 0;
            const uint8_t* p = bytes_of(v, &n);
            r->SetString(out, f, sub_byte_bits(data_type) == 8
                                     ? std::string(reinterpret_cast<const char*>(p), n)
                                     : pack(p, n, sub_byte_bits(data_type)));
            return;
        }
        if (!v.is(MILO_KIND_TENSOR)) fail(name + " is not a tensor");
        if (name == "string_data") {
            for (size_t i = 0; i < v.size(); ++i) {
                if (v.dtype() == MILO_DTYPE_STRING)
                    r->AddString(out, f, std::string(v.string_at(i)));
                else
                    r->AddString(out, f, std::string(v.item(i).as_bytes()));
            }
            return;
        }
        size_t n = 0;
        const uint8_t* p = bytes_of(v, &n);
        const int32_t dt = v.dtype();
        if (name == "float_data") {
            if (dt != MILO_DTYPE_FLOAT32 && dt != MILO_DTYPE_COMPLEX64) fail("float_data dtype");
            for (size_t i = 0; i < n / 4; ++i) {
                float x;
                std::memcpy(&x, p + 4 * i, 4);
                r->AddFloat(out, f, x);
            }
        } else if (name == "double_data") {
            if (dt != MILO_DTYPE_FLOAT64 && dt != MILO_DTYPE_COMPLEX128) fail("double_data dtype");
            for (size_t i = 0; i < n / 8; ++i) {
                double x;
                std::memcpy(&x, p + 8 * i, 8);
                r->AddDouble(out, f, x);
            }
        } else if (name == "int64_data") {
            if (dt != MILO_DTYPE_INT64) fail("int64_data dtype");
            for (size_t i = 0; i < n / 8; ++i) {
                int64_t x;
                std::memcpy(&x, p + 8 * i, 8);
                r->AddInt64(out, f, x);
            }
        } else if (name == "uint64_data") {
            for (size_t i = 0; i < v.size(); ++i) {
                uint64_t x = 0;
                if (dt == MILO_DTYPE_UINT64) std::memcpy(&x, p + 8 * i, 8);
                else if (dt == MILO_DTYPE_UINT32) { uint32_t y; std::memcpy(&y, p + 4 * i, 4); x = y; }
                else fail("uint64_data dtype");
                r->AddUInt64(out, f, x);
            }
        } else if (sub_byte_bits(data_type) < 8 &&
                   (dt == MILO_DTYPE_INT8 || dt == MILO_DTYPE_UINT8)) {  // unpacked 4/2-bit
            for (char c : pack(p, n, sub_byte_bits(data_type))) r->AddInt32(out, f, uint8_t(c));
        } else {  // int32_data
            for (size_t i = 0; i < v.size(); ++i) {
                int32_t x = 0;
                switch (dt) {
                    case MILO_DTYPE_INT32: std::memcpy(&x, p + 4 * i, 4); break;
                    case MILO_DTYPE_INT16: { int16_t y; std::memcpy(&y, p + 2 * i, 2); x = y; break; }
                    case MILO_DTYPE_INT8: x = int8_t(p[i]); break;
                    case MILO_DTYPE_UINT8:
                    case MILO_DTYPE_BOOL: x = p[i]; break;
                    case MILO_DTYPE_UINT16:
                    case MILO_DTYPE_FLOAT16:
                    case MILO_DTYPE_BFLOAT16: { uint16_t y; std::memcpy(&y, p + 2 * i, 2); x = y; break; }
                    default: fail("int32_data dtype");
                }
                r->AddInt32(out, f, x);
            }
        }
    }

    void unknown(ValueRef list, pb::UnknownFieldSet* out) {
        if (!list.is(MILO_KIND_LIST)) fail("unknown fields are not a list");
        for (size_t i = 0; i < list.size(); ++i) {
            ValueRef e = list[i];
            const int number = int(e.find("number").as_int());
            const std::string wire(e.find("wire").as_string());
            ValueRef v = e.find("value");
            if (wire == "varint") out->AddVarint(number, integer(v));
            else if (wire == "fixed32") out->AddFixed32(number, uint32_t(integer(v)));
            else if (wire == "fixed64") out->AddFixed64(number, integer(v));
            else if (wire == "bytes") out->AddLengthDelimited(number, std::string(v.as_bytes()));
            else if (wire == "group") unknown(v, out->AddGroup(number));
            else fail("unknown wire type " + wire);
        }
    }
};

}  // namespace

std::unique_ptr<pb::Message> rebuild_model(const onnx_import::Schema& schema, ValueRef root) {
    const pb::Message* proto = schema.prototype("onnx.ModelProto");
    std::unique_ptr<pb::Message> out(proto->New());
    Rebuilder{schema, {}}.message(root, out.get());
    return out;
}

std::string compare_models(const onnx_import::Schema& schema, const std::string& original,
                           const pb::Message& rebuilt) {
    const std::string rebuilt_bytes = rebuilt.SerializeAsString();
    ::onnx::ModelProto a, b;
    if (!a.ParseFromString(original)) return "the original does not parse";
    if (!b.ParseFromString(rebuilt_bytes)) return "the rebuilt model does not parse";
    // NaN == NaN for the structural comparison; the byte comparison below checks bit patterns
    pb::util::DefaultFieldComparator nan_equal;
    nan_equal.set_treat_nan_as_equal(true);
    std::string report;
    pb::util::MessageDifferencer diff;
    diff.set_field_comparator(&nan_equal);
    diff.ReportDifferencesToString(&report);
    if (!diff.Compare(a, b)) return "compiled ModelProto differs:\n" + report.substr(0, 2000);
    // the overlay view: newer fields compared by value rather than as unknown wire bytes
    std::unique_ptr<pb::Message> oa(schema.prototype("onnx.ModelProto")->New());
    if (!oa->ParseFromString(original)) return "the original does not parse with the overlay";
    report.clear();
    pb::util::MessageDifferencer diff2;
    diff2.set_field_comparator(&nan_equal);
    diff2.ReportDifferencesToString(&report);
    if (!diff2.Compare(*oa, rebuilt)) return "overlay ModelProto differs:\n" + report.substr(0, 2000);
    if (a.SerializeAsString() != b.SerializeAsString()) return "serializations differ";
    return "";
}

}  // namespace onnx_test
}  // namespace milo
