#include "sklearn_forms.hpp"

#include <algorithm>
#include <cstring>

#include "milo/milo_codec.hpp"
#include "milo/value.h"

namespace milo {
namespace sklearn {

std::string join_global(std::string_view module, std::string_view name) {
    std::string out(module);
    out += name.find('.') == std::string_view::npos ? '.' : ':';
    out += name;
    return out;
}

bool split_global(std::string_view full, std::string& module, std::string& name) {
    size_t colon = full.find(':');
    size_t cut = colon != std::string_view::npos ? colon : full.rfind('.');
    if (cut == std::string_view::npos || cut == 0 || cut + 1 >= full.size()) return false;
    module = std::string(full.substr(0, cut));
    name = std::string(full.substr(cut + 1));
    return true;
}

const char* canonical_spec(int32_t d) {
    switch (d) {
        case MILO_DTYPE_BOOL: return "b1";
        case MILO_DTYPE_INT8: return "i1";
        case MILO_DTYPE_INT16: return "i2";
        case MILO_DTYPE_INT32: return "i4";
        case MILO_DTYPE_INT64: return "i8";
        case MILO_DTYPE_UINT8: return "u1";
        case MILO_DTYPE_UINT16: return "u2";
        case MILO_DTYPE_UINT32: return "u4";
        case MILO_DTYPE_UINT64: return "u8";
        case MILO_DTYPE_FLOAT16: return "f2";
        case MILO_DTYPE_FLOAT32: return "f4";
        case MILO_DTYPE_FLOAT64: return "f8";
        case MILO_DTYPE_COMPLEX64: return "c8";
        case MILO_DTYPE_COMPLEX128: return "c16";
        default: return "";
    }
}

size_t swap_unit(int32_t d) {
    size_t size = size_t(codec::dtype_info(d)->size);
    return d == MILO_DTYPE_COMPLEX64 || d == MILO_DTYPE_COMPLEX128 ? size / 2 : size;
}

void byteswap(std::string& bytes, size_t unit) {
    if (unit <= 1) return;
    for (size_t i = 0; i + unit <= bytes.size(); i += unit)
        std::reverse(bytes.begin() + long(i), bytes.begin() + long(i + unit));
}

std::vector<size_t> storage_to_c_order(const std::vector<int64_t>& shape, bool fortran) {
    size_t count = 1;
    for (int64_t d : shape) count *= size_t(d);
    std::vector<size_t> map(count);
    if (!fortran || shape.size() < 2) {
        for (size_t i = 0; i < count; ++i) map[i] = i;
        return map;
    }
    // Walk the Fortran index (first dimension fastest) and compute the C offset of each item.
    const size_t nd = shape.size();
    std::vector<size_t> c_stride(nd, 1);
    for (size_t k = nd - 1; k-- > 0;) c_stride[k] = c_stride[k + 1] * size_t(shape[k + 1]);
    std::vector<int64_t> idx(nd, 0);
    for (size_t i = 0; i < count; ++i) {
        size_t c = 0;
        for (size_t k = 0; k < nd; ++k) c += size_t(idx[k]) * c_stride[k];
        map[i] = c;
        for (size_t k = 0; k < nd; ++k) {
            if (++idx[k] < shape[k]) break;
            idx[k] = 0;
        }
    }
    return map;
}

std::string reorder(const std::string& bytes, const std::vector<int64_t>& shape, uint64_t itemsize,
                    bool to_c) {
    std::vector<size_t> map = storage_to_c_order(shape, true);
    std::string out(bytes.size(), '\0');
    for (size_t i = 0; i < map.size(); ++i) {
        size_t f = i * itemsize, c = map[i] * itemsize;
        if (to_c) std::memcpy(&out[c], &bytes[f], itemsize);
        else std::memcpy(&out[f], &bytes[c], itemsize);
    }
    return out;
}

}  // namespace sklearn
}  // namespace milo
