#include "torch_forms.hpp"

#include <iterator>

#include "milo/value.h"

namespace milo {
namespace torch {
namespace {

constexpr StorageClass kClasses[] = {
    {"FloatStorage", MILO_DTYPE_FLOAT32},       {"DoubleStorage", MILO_DTYPE_FLOAT64},
    {"HalfStorage", MILO_DTYPE_FLOAT16},        {"BFloat16Storage", MILO_DTYPE_BFLOAT16},
    {"ComplexFloatStorage", MILO_DTYPE_COMPLEX64}, {"ComplexDoubleStorage", MILO_DTYPE_COMPLEX128},
    {"BoolStorage", MILO_DTYPE_BOOL},           {"ByteStorage", MILO_DTYPE_UINT8},
    {"CharStorage", MILO_DTYPE_INT8},           {"ShortStorage", MILO_DTYPE_INT16},
    {"IntStorage", MILO_DTYPE_INT32},           {"LongStorage", MILO_DTYPE_INT64},
};

}  // namespace

const StorageClass* storage_class(std::string_view module, std::string_view name) {
    if (module != "torch") return nullptr;
    for (const StorageClass& c : kClasses)
        if (name == c.name) return &c;
    return nullptr;
}

const StorageClass* storage_class_of(int32_t dtype) {
    for (const StorageClass& c : kClasses)
        if (c.dtype == dtype) return &c;
    return nullptr;
}

std::string unsupported_storage(std::string_view module, std::string_view name) {
    const std::string full = std::string(module) + "." + std::string(name);
    if (module == "torch" && name.rfind("Q", 0) == 0 && name.size() > 7 &&
        name.substr(name.size() - 7) == "Storage")
        return "quantized storage " + full;
    if (module.rfind("torch.cuda", 0) == 0) return "CUDA storage " + full;
    if (module == "torch.storage" || module == "torch") return "storage class " + full;
    return "";
}

std::string join_global(std::string_view module, std::string_view name) {
    std::string out(module);
    out += name.find('.') == std::string_view::npos ? '.' : ':';
    out += name;
    return out;
}

}  // namespace torch
}  // namespace milo
