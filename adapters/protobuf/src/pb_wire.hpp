// Internal to the protobuf adapter: field numbers and wire tags of schema/milo/v1/document.proto
// shared by the encoder and decoder. Keep in step with the .proto (never renumber).
#ifndef MILO_ADAPTERS_PB_WIRE_HPP
#define MILO_ADAPTERS_PB_WIRE_HPP

#include <cstddef>
#include <cstdint>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "milo/plugin.h"

namespace milo {
namespace pb {

// One step of a document path, for messages: a name (map key, "state", ...) or an index.
struct PathSeg {
    const char* name;  // nullptr: an index
    size_t len;
    uint64_t index;
    bool key;  // the key (not the value) of map pair `index`
};

// "/root/..." for messages. Deep paths keep their ends: a depth bomb must not crowd the
// reason out of the message.
inline std::string format_path(const std::vector<PathSeg>& segs) {
    std::string p = "/root";
    size_t n = segs.size();
    for (size_t i = 0; i < n; ++i) {
        if (n > 16 && i == 6) {
            p += "/...(" + std::to_string(n - 12) + " more)...";
            i = n - 6;
        }
        const PathSeg& s = segs[i];
        p += '/';
        if (s.name != nullptr) {
            p.append(s.name, s.len < 64 ? s.len : 64);
            if (s.len > 64) p += "...";
        } else {
            if (s.key) p += "$key";
            p += std::to_string(s.index);
        }
    }
    return p;
}

// Runs an entry point's body so that no exception crosses the C ABI; `who` prefixes messages
// ("protobuf encoder").
template <class F>
milo_status guard_boundary(const milo_api* api, milo_error* error, const char* who, F&& body) {
    auto report = [&](milo_status status, const char* what) {
        return api->error_set(error, status, (std::string(who) + ": " + what).c_str());
    };
    try {
        return body();
    } catch (const std::bad_alloc&) {
        return report(MILO_ERR_OUT_OF_MEMORY, "out of memory");
    } catch (const std::exception& e) {
        return report(MILO_ERR_INTERNAL, e.what());
    } catch (...) {
        return report(MILO_ERR_INTERNAL, "unknown exception");
    }
}

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

constexpr uint32_t tag(uint32_t field, uint32_t wire) { return (field << 3) | wire; }

// milo.v1.Value: the `kind` oneof is fields 1..15, `id` is 16.
enum ValueField : uint32_t {
    kValueNull = 1,
    kValueBool = 2,
    kValueInt = 3,
    kValueBigInt = 4,
    kValueFloat = 5,
    kValueString = 6,
    kValueBytes = 7,
    kValueList = 8,
    kValueTuple = 9,
    kValueSet = 10,
    kValueMap = 11,
    kValueTensor = 12,
    kValueObject = 13,
    kValueGlobal = 14,
    kValueRef = 15,
    kValueId = 16,
};

// milo.v1.Tensor
enum TensorField : uint32_t {
    kTensorDtype = 1,
    kTensorShape = 2,
    kTensorItemsize = 3,
    kTensorFields = 4,
    kTensorData = 5,
    kTensorExternal = 6,
    kTensorItems = 7,
    kTensorStrings = 8,
};

/// Encoder and decoder entry points (pb_encode.cpp, pb_decode.cpp). Both catch every exception.
milo_status encode_document(const milo_api* api, const milo_doc* doc,
                            const milo_encode_context* context, milo_error* error);
milo_status decode_document(const milo_api* api, milo_doc* doc,
                            const milo_decode_context* context, milo_error* error);

}  // namespace pb
}  // namespace milo

#endif  // MILO_ADAPTERS_PB_WIRE_HPP
