// Reporting failures into the caller's milo_error.
#ifndef MILO_SRC_STATUS_HPP
#define MILO_SRC_STATUS_HPP

#include <string>

#include "milo/error.h"

namespace milo::core {

// Formats a message (printf-style) into `error` and returns `status`.
milo_status fail(milo_error* error, milo_status status, const char* format, ...)
    __attribute__((format(printf, 3, 4)));

// Copies `message` into `error` (truncating at the caller's buffer size).
milo_status set_error(milo_error* error, milo_status status, const char* message);

// Prefixes the message already in `error` with `prefix` (e.g. the file name).
void prefix_error(milo_error* error, const std::string& prefix);

}  // namespace milo::core

#endif  // MILO_SRC_STATUS_HPP
