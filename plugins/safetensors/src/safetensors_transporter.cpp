// The "safetensors" transporter: .safetensors files ⇄ Milo documents.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of JSON header
// {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
//  "__metadata__": {"key": "value", ...}}, then the data area. The document is an object of
// type "safetensors.StateDict" whose state maps each tensor name to its tensor, in the file's
// data order; "__metadata__" becomes the document's metadata.
//
// Reading is strict (see README.md for the list of rules); writing reproduces the official
// writer's header bytes (compact serde_json text, "__metadata__" first, padded with spaces to a
// multiple of 8), so a file made by the official library decodes and re-encodes byte for byte.
//
// Only milo_register is exported; every document call goes through the host's milo_api table.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <new>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "milo/milo_codec.hpp"
#include "milo/plugin.h"

namespace milo {
namespace safetensors {
namespace {

constexpr const char* kId = "safetensors";
constexpr const char* kType = "safetensors.StateDict";
constexpr const char* kRevision = "1";
constexpr const char* kPluginVersion = "0.1.0";
constexpr const char* kMetadataKey = "__metadata__";
// The official implementation's MAX_HEADER_SIZE.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

// Raised inside the plugin with the status and message to report at the boundary.
struct Failure {
    milo_status status;
    std::string message;
};

[[noreturn]] void fail(milo_status status, std::string message) {
    throw Failure{status, std::move(message)};
}

std::string quote_text(std::string_view s) { return codec::quote_for_message(s, '"', 200); }


/* ---------------------------------------------------------------------------------------- */
/* Probe                                                                                     */
/* ---------------------------------------------------------------------------------------- */

uint64_t read_u64_le(const uint8_t* p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
    return v;
}

int32_t probe(void*, const uint8_t* head, size_t size) {
    if (head == nullptr || size < 10) return 0;
    uint64_t n = read_u64_le(head);
    // "{}" is the smallest header; the official reader caps headers at 100 MB.
    if (n < 2 || n > kMaxHeaderBytes || head[8] != '{') return 0;
    size_t i = 9;
    while (i < size && i < 8 + n && (head[i] == ' ' || head[i] == '\n' || head[i] == '\r' ||
                                     head[i] == '\t'))
        ++i;
    if (i < size && head[i] != '"' && head[i] != '}') return 0;
    return 90;
}

/* ---------------------------------------------------------------------------------------- */
/* Decode                                                                                    */
/* ---------------------------------------------------------------------------------------- */

// Safetensors dtype codes Milo has no dtype for: valid files, unsupported content.
bool is_unsupported_code(std::string_view code) {
    static const char* const codes[] = {"F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3",
                                        "F6_E3M2", "C32"};
    for (const char* c : codes) {
        if (code == c) return true;
    }
    return false;
}

using Json = nlohmann::ordered_json;

struct Entry {
    std::string name;
    int32_t dtype = 0;
    std::vector<int64_t> shape;
    uint64_t begin = 0;
    uint64_t end = 0;
    size_t header_index = 0;
};

class Decoder {
public:
    Decoder(const milo_api* api, const uint8_t* data, size_t size, const char* path)
        : api_(api), data_(data), size_(size), name_(path != nullptr ? path : "<memory>") {}

    void run(milo_doc* doc) {
        if (data_ == nullptr && size_ != 0) fail(MILO_ERR_INVALID_ARGUMENT, "data is NULL");
        if (size_ < 8) {
            corrupt(0, "file is " + std::to_string(size_) +
                           " bytes, shorter than the 8-byte header length");
        }
        uint64_t n = read_u64_le(data_);
        if (n > kMaxHeaderBytes) {
            corrupt(0, "header length " + std::to_string(n) + " exceeds the 100 MB limit");
        }
        if (n > size_ - 8) {
            corrupt(0, "header length " + std::to_string(n) + " runs past the end of the " +
                           std::to_string(size_) + "-byte file");
        }
        header_len_ = n;
        data_start_ = 8 + static_cast<size_t>(n);
        data_size_ = size_ - data_start_;
        if (n == 0 || data_[8] != '{') corrupt(8, "header does not start with '{'");

        std::vector<Entry> entries = parse_header(doc);
        check_layout(&entries);
        build(doc, entries);
    }

private:
    [[noreturn]] void corrupt(uint64_t offset, const std::string& what) const {
        fail(MILO_ERR_CORRUPT, name_ + ": byte " + std::to_string(offset) + ": " + what);
    }
    [[noreturn]] void corrupt_tensor(const std::string& tensor, const std::string& what) const {
        fail(MILO_ERR_CORRUPT, name_ + ": safetensors header (bytes 8.." +
                                   std::to_string(data_start_) + "), tensor " + quote_text(tensor) +
                                   ": " + what);
    }

    std::vector<Entry> parse_header(milo_doc* doc) {
        const char* begin = reinterpret_cast<const char*>(data_ + 8);
        const char* end = begin + header_len_;
        // nlohmann's lexer takes a NUL byte as the end of input and would ignore what follows;
        // a raw NUL is never valid JSON, so refuse it first.
        if (const void* nul = std::memchr(begin, 0, header_len_)) {
            corrupt(8 + uint64_t(static_cast<const char*>(nul) - begin),
                    "header is not valid JSON: NUL byte");
        }
        // Duplicate keys are an error (JSON parsers disagree on which one wins); nesting deeper
        // than the header's own structure is refused while parsing.
        std::vector<std::set<std::string>> keys;
        std::string problem;
        auto callback = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
            using Event = Json::parse_event_t;
            if (event == Event::object_start || event == Event::array_start) {
                if (depth >= 3) {
                    problem = "nesting deeper than a safetensors header allows";
                    throw std::runtime_error(problem);
                }
                if (event == Event::object_start) keys.emplace_back();
            } else if (event == Event::object_end) {
                if (!keys.empty()) keys.pop_back();
            } else if (event == Event::key && !keys.empty()) {
                const std::string& key = parsed.get_ref<const std::string&>();
                if (!keys.back().insert(key).second) {
                    problem = "duplicate key " + quote_text(key);
                    throw std::runtime_error(problem);
                }
            }
            return true;
        };
        Json header;
        try {
            header = Json::parse(begin, end, callback, true, false);
        } catch (const Json::parse_error& e) {
            // e.byte counts from 1 within the header text.
            corrupt(8 + (e.byte > 0 ? e.byte - 1 : 0),
                    std::string("header is not valid JSON: ") + e.what());
        } catch (const std::runtime_error&) {
            if (problem.empty()) throw;
            corrupt(8, "header: " + problem);
        }
        if (!header.is_object()) corrupt(8, "header is not a JSON object");

        std::vector<Entry> entries;
        entries.reserve(header.size());
        for (auto it = header.begin(); it != header.end(); ++it) {
            const std::string& key = it.key();
            const Json& value = it.value();
            if (key == kMetadataKey) {
                read_metadata(doc, value);
                continue;
            }
            entries.push_back(read_entry(key, value));
            entries.back().header_index = entries.size() - 1;
        }
        return entries;
    }

    void read_metadata(milo_doc* doc, const Json& value) {
        // The official reader takes null as "no metadata".
        if (value.is_null()) return;
        if (!value.is_object()) {
            corrupt(8, "header: \"__metadata__\" is not an object of strings");
        }
        for (auto it = value.begin(); it != value.end(); ++it) {
            if (!it.value().is_string()) {
                corrupt(8, "header: \"__metadata__\" entry " + quote_text(it.key()) +
                               " is not a string");
            }
            const std::string& v = it.value().get_ref<const std::string&>();
            // Document metadata strings are NUL-terminated.
            if (it.key().find('\0') != std::string::npos || v.find('\0') != std::string::npos) {
                fail(MILO_ERR_UNSUPPORTED, name_ + ": header: \"__metadata__\" entry " +
                                               quote_text(it.key()) + " contains a NUL character");
            }
            check(api_->doc_set_metadata(doc, it.key().c_str(), v.c_str(), &error_));
        }
    }

    Entry read_entry(const std::string& name, const Json& info) {
        if (!info.is_object()) corrupt_tensor(name, "entry is not an object");
        Entry e;
        e.name = name;
        bool seen_dtype = false, seen_shape = false, seen_offsets = false;
        for (auto it = info.begin(); it != info.end(); ++it) {
            const std::string& key = it.key();
            const Json& v = it.value();
            if (key == "dtype") {
                seen_dtype = true;
                if (!v.is_string()) corrupt_tensor(name, "\"dtype\" is not a string");
                const std::string& code = v.get_ref<const std::string&>();
                e.dtype = codec::dtype_from_safetensors(code);
                if (e.dtype == 0) {
                    if (is_unsupported_code(code)) {
                        fail(MILO_ERR_UNSUPPORTED,
                             name_ + ": tensor " + quote_text(name) + ": dtype " +
                                 quote_text(code) + " has no Milo equivalent");
                    }
                    corrupt_tensor(name, "unknown dtype " + quote_text(code));
                }
            } else if (key == "shape") {
                seen_shape = true;
                if (!v.is_array()) corrupt_tensor(name, "\"shape\" is not an array");
                if (v.size() > MILO_MAX_NDIM) {
                    corrupt_tensor(name, "shape has " + std::to_string(v.size()) +
                                             " dimensions, more than " +
                                             std::to_string(MILO_MAX_NDIM));
                }
                for (const Json& d : v) {
                    if (!d.is_number_unsigned() ||
                        d.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max())) {
                        corrupt_tensor(name, "shape entry " + d.dump() +
                                                 " is not a non-negative integer");
                    }
                    e.shape.push_back(static_cast<int64_t>(d.get<uint64_t>()));
                }
            } else if (key == "data_offsets") {
                seen_offsets = true;
                if (!v.is_array() || v.size() != 2 || !v[0].is_number_unsigned() ||
                    !v[1].is_number_unsigned()) {
                    corrupt_tensor(name, "\"data_offsets\" is not [begin, end] of non-negative "
                                         "integers");
                }
                e.begin = v[0].get<uint64_t>();
                e.end = v[1].get<uint64_t>();
            } else {
                corrupt_tensor(name, "unknown member " + quote_text(key));
            }
        }
        if (!seen_dtype) corrupt_tensor(name, "missing \"dtype\"");
        if (!seen_shape) corrupt_tensor(name, "missing \"shape\"");
        if (!seen_offsets) corrupt_tensor(name, "missing \"data_offsets\"");
        return e;
    }

    // The official reader's rules: sorted by offsets, the tensors tile the data area exactly
    // (each begins where the previous ended, the first at 0, the last ends at the file's end),
    // and each range holds shape-product × itemsize bytes.
    void check_layout(std::vector<Entry>* entries) {
        for (const Entry& e : *entries) {
            if (e.end < e.begin) {
                corrupt_tensor(e.name, "data_offsets [" + std::to_string(e.begin) + ", " +
                                           std::to_string(e.end) + "] end before begin");
            }
            if (e.end > data_size_) {
                corrupt_tensor(e.name, "data_offsets [" + std::to_string(e.begin) + ", " +
                                           std::to_string(e.end) +
                                           "] run past the data area of " +
                                           std::to_string(data_size_) + " bytes (file offset " +
                                           std::to_string(data_start_) + ")");
            }
            uint64_t count = 1;
            for (int64_t d : e.shape) {
                if (d != 0 && count > std::numeric_limits<uint64_t>::max() / uint64_t(d)) {
                    corrupt_tensor(e.name, "shape product overflows");
                }
                count *= uint64_t(d);
            }
            uint64_t itemsize = codec::dtype_info(e.dtype)->size;
            if (count > std::numeric_limits<uint64_t>::max() / itemsize) {
                corrupt_tensor(e.name, "shape × itemsize overflows");
            }
            if (count * itemsize != e.end - e.begin) {
                corrupt_tensor(e.name, "shape and dtype need " + std::to_string(count * itemsize) +
                                           " bytes but data_offsets give " +
                                           std::to_string(e.end - e.begin));
            }
        }
        std::stable_sort(entries->begin(), entries->end(), [](const Entry& a, const Entry& b) {
            return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
        });
        uint64_t at = 0;
        for (const Entry& e : *entries) {
            if (e.begin < at) {
                corrupt_tensor(e.name, "data at file offset " +
                                           std::to_string(data_start_ + e.begin) +
                                           " overlaps the previous tensor");
            }
            if (e.begin > at) {
                corrupt(data_start_ + at, "bytes " + std::to_string(data_start_ + at) + ".." +
                                              std::to_string(data_start_ + e.begin) +
                                              " of the data area belong to no tensor");
            }
            at = e.end;
        }
        if (at != data_size_) {
            corrupt(data_start_ + at, std::to_string(data_size_ - at) +
                                          " trailing bytes after the last tensor belong to no "
                                          "tensor");
        }
    }

    void build(milo_doc* doc, const std::vector<Entry>& entries) {
        milo_value* state = nullptr;
        check(api_->value_create_container(doc, MILO_KIND_MAP, &state, &error_));
        for (const Entry& e : entries) {
            milo_value* key = nullptr;
            check(api_->value_create_string(doc, e.name.data(), e.name.size(), &key, &error_));
            milo_value* tensor = nullptr;
            check(api_->value_create_tensor(doc, e.dtype, e.shape.data(), e.shape.size(),
                                            &tensor, &error_));
            void* dst = nullptr;
            size_t nbytes = 0;
            check(api_->value_tensor_mutable_data(tensor, &dst, &nbytes, &error_));
            if (nbytes != e.end - e.begin) {
                fail(MILO_ERR_INTERNAL, name_ + ": tensor " + quote_text(e.name) +
                                            ": the host allocated " + std::to_string(nbytes) +
                                            " bytes, expected " +
                                            std::to_string(e.end - e.begin));
            }
            if (nbytes != 0) std::memcpy(dst, data_ + data_start_ + e.begin, nbytes);
            check(api_->value_append_pair(state, key, tensor, &error_));
        }
        milo_value* root = nullptr;
        check(api_->value_create_object(doc, kType, &root, &error_));
        check(api_->value_set_state(root, state, &error_));
        check(api_->doc_set_root(doc, root, &error_));

        char sha_hex[65];
        api_->hash_sha256(data_, size_, sha_hex);
        std::string sha = sha_hex;
        check(api_->doc_set_header(doc, "framework.name", "safetensors", &error_));
        check(api_->doc_set_header(doc, "transporter.id", kId, &error_));
        check(api_->doc_set_header(doc, "transporter.revision", kRevision, &error_));
        check(api_->doc_set_header(doc, "type", kType, &error_));
        check(api_->doc_set_header(doc, "source.kind", "safetensors", &error_));
        check(api_->doc_set_header(doc, "source.sha256", sha.c_str(), &error_));
    }

    void check(milo_status status) {
        if (status != MILO_OK) fail(status, error_.message);
    }

    const milo_api* api_;
    const uint8_t* data_;
    size_t size_;
    std::string name_;
    uint64_t header_len_ = 0;
    size_t data_start_ = 0;
    uint64_t data_size_ = 0;
    milo_error error_ = MILO_ERROR_INIT;
};

/* ---------------------------------------------------------------------------------------- */
/* Encode                                                                                    */
/* ---------------------------------------------------------------------------------------- */

// JSON string text as serde_json writes it (the official writer): '"' and '\\' escaped,
// \b \f \n \r \t short forms, other control characters \u00xx, everything else verbatim.
void append_json_string(std::string* out, std::string_view s) {
    out->push_back('"');
    for (char ch : s) {
        unsigned char c = static_cast<unsigned char>(ch);
        switch (c) {
            case '"': *out += "\\\""; break;
            case '\\': *out += "\\\\"; break;
            case '\b': *out += "\\b"; break;
            case '\f': *out += "\\f"; break;
            case '\n': *out += "\\n"; break;
            case '\r': *out += "\\r"; break;
            case '\t': *out += "\\t"; break;
            default:
                if (c < 0x20) {
                    static const char hex[] = "0123456789abcdef";
                    *out += "\\u00";
                    out->push_back(hex[c >> 4]);
                    out->push_back(hex[c & 15]);
                } else {
                    out->push_back(ch);
                }
        }
    }
    out->push_back('"');
}

struct OutTensor {
    std::string name;
    const char* code;
    const int64_t* shape;
    size_t ndim;
    const void* data;
    size_t nbytes;
};

class Encoder {
public:
    explicit Encoder(const milo_api* api) : api_(api) {}

    void run(const milo_doc* doc, milo_write_fn write, void* write_context,
             milo_error* out_error) {
        if (doc == nullptr || write == nullptr) {
            fail(MILO_ERR_INVALID_ARGUMENT, "safetensors encode: doc or write is NULL");
        }
        const milo_value* state = state_of(api_->doc_get_root(doc));
        std::vector<OutTensor> tensors = collect(state);

        std::string header = "{";
        size_t meta = api_->doc_metadata_count(doc);
        if (meta != 0) {
            header += "\"__metadata__\":{";
            for (size_t i = 0; i < meta; ++i) {
                const char* key = nullptr;
                const char* value = nullptr;
                check(api_->doc_metadata_at(doc, i, &key, &value, &error_));
                if (i != 0) header += ',';
                append_json_string(&header, key);
                header += ':';
                append_json_string(&header, value);
            }
            header += '}';
        }
        uint64_t offset = 0;
        for (const OutTensor& t : tensors) {
            if (header.size() > 1) header += ',';
            append_json_string(&header, t.name);
            header += ":{\"dtype\":\"";
            header += t.code;
            header += "\",\"shape\":[";
            for (size_t d = 0; d < t.ndim; ++d) {
                if (d != 0) header += ',';
                header += std::to_string(t.shape[d]);
            }
            header += "],\"data_offsets\":[";
            header += std::to_string(offset);
            header += ',';
            offset += t.nbytes;
            header += std::to_string(offset);
            header += "]}";
        }
        header += '}';
        header.append((8 - header.size() % 8) % 8, ' ');
        if (header.size() > kMaxHeaderBytes) {
            fail(MILO_ERR_LIMIT, "safetensors encode: header of " +
                                     std::to_string(header.size()) +
                                     " bytes exceeds the 100 MB limit readers enforce");
        }
        uint8_t length[8];
        uint64_t n = header.size();
        for (int i = 0; i < 8; ++i) length[i] = static_cast<uint8_t>(n >> (8 * i));
        emit(write, write_context, length, 8, out_error);
        emit(write, write_context, header.data(), header.size(), out_error);
        for (const OutTensor& t : tensors) emit(write, write_context, t.data, t.nbytes, out_error);
    }

private:
    // The state map of a "safetensors.StateDict" object; a bare map root is accepted too.
    const milo_value* state_of(const milo_value* root) {
        if (root == nullptr) fail(MILO_ERR_INVALID_ARGUMENT, "safetensors encode: no root");
        int32_t kind = api_->value_get_kind(root);
        if (kind == MILO_KIND_MAP) return root;
        if (kind != MILO_KIND_OBJECT) {
            fail(MILO_ERR_TYPE, "safetensors encode: /root is neither a " + std::string(kType) +
                                    " object nor a map of tensors");
        }
        const char* type = nullptr;
        check(api_->value_get_name(root, &type, &error_));
        if (std::strcmp(type, kType) != 0) {
            fail(MILO_ERR_TYPE, "safetensors encode: /root is a " + quote_text(type) +
                                    " object, expected " + kType);
        }
        const milo_value* state = api_->value_get_state(root);
        if (state == nullptr) return nullptr;
        if (api_->value_get_kind(state) != MILO_KIND_MAP) {
            fail(MILO_ERR_TYPE, "safetensors encode: /root/state is not a map");
        }
        return state;
    }

    std::vector<OutTensor> collect(const milo_value* state) {
        std::vector<OutTensor> out;
        if (state == nullptr) return out;
        size_t count = api_->value_count(state);
        out.reserve(count);
        std::unordered_set<std::string> names;
        for (size_t i = 0; i < count; ++i) {
            const milo_value* key = api_->value_key_at(state, i);
            const milo_value* value = api_->value_at(state, i);
            if (api_->value_get_kind(key) != MILO_KIND_STRING) {
                fail(MILO_ERR_TYPE, "safetensors encode: /root/state key " + std::to_string(i) +
                                        " is not a string");
            }
            const char* data = nullptr;
            size_t len = 0;
            check(api_->value_get_string(key, &data, &len, &error_));
            std::string name(data, len);
            std::string where = "safetensors encode: /root/state/" + name;
            if (name == kMetadataKey) fail(MILO_ERR_UNSUPPORTED, where + ": reserved name");
            if (!names.insert(name).second) fail(MILO_ERR_INVALID_ARGUMENT, where + ": duplicate");
            if (api_->value_get_kind(value) != MILO_KIND_TENSOR) {
                fail(MILO_ERR_TYPE, where + " is not a tensor");
            }
            OutTensor t;
            int32_t dtype = 0;
            check(api_->value_get_tensor(value, &dtype, &t.shape, &t.ndim, &error_));
            const codec::DTypeInfo* info = codec::dtype_info(dtype);
            if (info == nullptr || info->safetensors == nullptr) {
                fail(MILO_ERR_UNSUPPORTED,
                     where + ": dtype " + (info != nullptr ? info->name : "?") +
                         " has no safetensors code");
            }
            t.code = info->safetensors;
            check(api_->value_tensor_data(value, &t.data, &t.nbytes, &error_));
            t.name = std::move(name);
            out.push_back(std::move(t));
        }
        return out;
    }

    void emit(milo_write_fn write, void* context, const void* data, size_t size,
              milo_error* out_error) {
        if (size == 0) return;
        milo_status status = write(context, data, size, out_error);
        if (status != MILO_OK) {
            // The sink already described the failure in the caller's error.
            throw Failure{status, std::string()};
        }
    }

    void check(milo_status status) {
        if (status != MILO_OK) fail(status, error_.message);
    }

    const milo_api* api_;
    milo_error error_ = MILO_ERROR_INIT;
};

/* ---------------------------------------------------------------------------------------- */
/* The C boundary                                                                            */
/* ---------------------------------------------------------------------------------------- */

template <typename F>
milo_status guarded(const milo_api* api, milo_error* error, F&& body) {
    auto report = [&](milo_status status, const char* message) {
        if (api == nullptr || api->error_set == nullptr) return status;
        return api->error_set(error, status, message);
    };
    try {
        body();
        return MILO_OK;
    } catch (const Failure& f) {
        if (f.message.empty()) return f.status;  // already reported by the write sink
        return report(f.status, f.message.c_str());
    } catch (const std::bad_alloc&) {
        return report(MILO_ERR_OUT_OF_MEMORY, "safetensors: out of memory");
    } catch (const std::exception& e) {
        std::string message = std::string("safetensors: internal error: ") + e.what();
        return report(MILO_ERR_INTERNAL, message.c_str());
    } catch (...) {
        return report(MILO_ERR_INTERNAL, "safetensors: internal error");
    }
}

milo_status decode(void*, const milo_api* api, milo_registry*, const uint8_t* data, size_t size,
                   const char* path, milo_doc* doc, milo_error* error) {
    if (api == nullptr || doc == nullptr) return MILO_ERR_INVALID_ARGUMENT;
    if (api->struct_size < sizeof(milo_api)) return MILO_ERR_ABI;
    return guarded(api, error, [&] { Decoder(api, data, size, path).run(doc); });
}

milo_status encode(void*, const milo_api* api, milo_registry*, const milo_doc* doc,
                   milo_write_fn write, void* write_context, milo_error* error) {
    if (api == nullptr) return MILO_ERR_INVALID_ARGUMENT;
    if (api->struct_size < sizeof(milo_api)) return MILO_ERR_ABI;
    return guarded(api, error, [&] { Encoder(api).run(doc, write, write_context, error); });
}

const char* const kTypes[] = {kType, nullptr};
const char* const kExtensions[] = {".safetensors", nullptr};

const milo_transporter kTransporter = {
    sizeof(milo_transporter),
    MILO_ABI_VERSION,
    kId,
    "safetensors tensor files (.safetensors) as a name → tensor map",
    kRevision,
    "safetensors",
    kTypes,
    kExtensions,
    nullptr,
    probe,
    decode,
    encode,
    nullptr,
    nullptr,
};

}  // namespace
}  // namespace safetensors
}  // namespace milo

extern "C" MILO_PLUGIN_EXPORT milo_status milo_register(const milo_host* host, milo_error* error) {
    if (host == nullptr || host->api == nullptr || host->declare_plugin == nullptr ||
        host->register_transporter == nullptr) {
        return MILO_ERR_INVALID_ARGUMENT;
    }
    static const milo_plugin_info info = {
        sizeof(milo_plugin_info), MILO_ABI_VERSION, 1, 0, "safetensors",
        milo::safetensors::kPluginVersion};
    milo_status status = host->declare_plugin(host->context, &info, error);
    if (status != MILO_OK) return status;
    return host->register_transporter(host->context, &milo::safetensors::kTransporter, error);
}
