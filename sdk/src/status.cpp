#include "status.hpp"

#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "milo/version.h"

namespace milo::core {

milo_status set_error(milo_error* error, milo_status status, const char* message) {
    if (error == nullptr) return status;
    // Older callers may pass a smaller struct: never write past their struct_size.
    size_t header = offsetof(milo_error, message);
    if (error->struct_size < header) return status;
    error->code = status;
    size_t cap = error->struct_size - header;
    if (cap > MILO_ERROR_MESSAGE_SIZE) cap = MILO_ERROR_MESSAGE_SIZE;
    if (cap == 0) return status;
    if (message == nullptr) message = "";
    size_t n = std::strlen(message);
    if (n >= cap) {
        n = cap - 1;
        // do not cut a UTF-8 sequence in half
        while (n > 0 && (static_cast<unsigned char>(message[n]) & 0xc0) == 0x80) --n;
    }
    std::memmove(error->message, message, n);
    error->message[n] = '\0';
    return status;
}

milo_status fail(milo_error* error, milo_status status, const char* format, ...) {
    if (error == nullptr) return status;
    char buf[MILO_ERROR_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buf, sizeof buf, format, args);
    va_end(args);
    return set_error(error, status, buf);
}

void prefix_error(milo_error* error, const std::string& prefix) {
    if (error == nullptr || error->struct_size < sizeof(milo_error)) return;
    std::string m = prefix + error->message;
    set_error(error, error->code, m.c_str());
}

}  // namespace milo::core

extern "C" {

MILO_API const char* milo_version_get(void) { return MILO_VERSION_STRING; }
MILO_API uint32_t milo_abi_version_get(void) { return MILO_ABI_VERSION; }
MILO_API uint32_t milo_format_version_get(void) { return MILO_FORMAT_VERSION; }

MILO_API const char* milo_status_name(milo_status status) {
    switch (status) {
        case MILO_OK: return "MILO_OK";
        case MILO_ERR_INVALID_ARGUMENT: return "MILO_ERR_INVALID_ARGUMENT";
        case MILO_ERR_OUT_OF_MEMORY: return "MILO_ERR_OUT_OF_MEMORY";
        case MILO_ERR_CORRUPT: return "MILO_ERR_CORRUPT";
        case MILO_ERR_LIMIT: return "MILO_ERR_LIMIT";
        case MILO_ERR_NOT_FOUND: return "MILO_ERR_NOT_FOUND";
        case MILO_ERR_UNSUPPORTED: return "MILO_ERR_UNSUPPORTED";
        case MILO_ERR_IO: return "MILO_ERR_IO";
        case MILO_ERR_ABI: return "MILO_ERR_ABI";
        case MILO_ERR_PLUGIN: return "MILO_ERR_PLUGIN";
        case MILO_ERR_DUPLICATE: return "MILO_ERR_DUPLICATE";
        case MILO_ERR_TYPE: return "MILO_ERR_TYPE";
        case MILO_ERR_INTEGRITY: return "MILO_ERR_INTEGRITY";
        case MILO_ERR_DANGEROUS: return "MILO_ERR_DANGEROUS";
        case MILO_ERR_OUT_OF_RANGE: return "MILO_ERR_OUT_OF_RANGE";
        case MILO_ERR_INTERNAL: return "MILO_ERR_INTERNAL";
        default: return "MILO_ERR_UNKNOWN";
    }
}

MILO_API milo_status milo_error_set(milo_error* error, milo_status status, const char* message) {
    return milo::core::set_error(error, status, message);
}

}  // extern "C"
