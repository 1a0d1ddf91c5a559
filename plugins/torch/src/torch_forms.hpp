// Shared by the reader (torch_import.cpp) and the writer (torch_export.cpp): the storage
// classes torch.save names and the document forms that stand for tensors (README.md).
#ifndef MILO_TORCH_FORMS_HPP
#define MILO_TORCH_FORMS_HPP

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace milo {
namespace torch {

constexpr const char* kTransporterId = "torch";
constexpr const char* kRevision = "1";

// Document object types (README.md, "Mapping").
constexpr const char* kTensorType = "torch.Tensor";        // state: storage, offset, size, …
constexpr const char* kStorageType = "torch.storage";      // state: dtype, device, data
constexpr const char* kParameterType = "torch.nn.Parameter";  // state: data, requires_grad
// The same pickle-level forms as the sklearn transporter's (plugins/sklearn/README.md).
constexpr const char* kCallType = "(call)";
constexpr const char* kExtrasType = "(pickle_extras)";
constexpr const char* kPersIdType = "(persistent_id)";
constexpr const char* kExtType = "(extension)";
constexpr const char* kBufferType = "(out_of_band_buffer)";

/// torch's legacy-format magic number, pickled first in a pre-1.6 file: LONG1 of these bytes.
constexpr unsigned char kLegacyMagic[] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                          0x20, 0x6a, 0xa8, 0x50, 0x19};
constexpr int64_t kLegacyProtocol = 1001;

/// One storage class: "torch.FloatStorage" ↔ MILO_DTYPE_FLOAT32.
struct StorageClass {
    const char* name;  ///< qualified name within module "torch"
    int32_t dtype;     ///< MILO_DTYPE_*
};
/// The storage class named `module`.`name`, or nullptr (quantized and cuda classes included:
/// they are recognised by is_unsupported_storage instead).
const StorageClass* storage_class(std::string_view module, std::string_view name);
/// The storage class of a document dtype, or nullptr.
const StorageClass* storage_class_of(int32_t dtype);
/// Why a storage class the reader does not convert is refused ("quantized storage
/// torch.QInt8Storage"), or "" when it is not one torch writes.
std::string unsupported_storage(std::string_view module, std::string_view name);

/// "module.name", or "module:qual.name" when the name is dotted (sklearn's spelling).
std::string join_global(std::string_view module, std::string_view name);

}  // namespace torch
}  // namespace milo

#endif
