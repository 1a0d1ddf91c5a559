/* FROZEN COPY of sdk/include/milo/error.h as released with ABI 1 (Milo 0.1.0). Never edit: the
 * ABI tests compile a plugin against exactly these declarations, and every later libmilo must
 * keep loading it. */
/// \file milo/error.h
/// Status codes (fixed forever) and the caller-owned error buffer.
///
/// Every fallible function returns a milo_status and takes an optional `milo_error*` as its
/// last argument. On failure the function leaves its outputs untouched and, when `error` is not
/// NULL, writes the code and a message naming the input, the place in it (byte offset or
/// document path) and what was expected. There is no thread-local error state.
#ifndef MILO_ERROR_H
#define MILO_ERROR_H

#include <stddef.h>
#include <stdint.h>

#include "milo/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/// A status code. Values are part of the ABI and are never renumbered or reused.
typedef int32_t milo_status;

#define MILO_OK 0                  ///< success
#define MILO_ERR_INVALID_ARGUMENT 1  ///< a caller passed a bad argument (NULL, wrong kind, ...)
#define MILO_ERR_OUT_OF_MEMORY 2     ///< an allocation failed
#define MILO_ERR_CORRUPT 3           ///< input is malformed, truncated or inconsistent
#define MILO_ERR_LIMIT 4             ///< input exceeds a safety limit (depth, size, ratio)
#define MILO_ERR_NOT_FOUND 5         ///< a named thing (file, plugin, format, key) is absent
#define MILO_ERR_UNSUPPORTED 6       ///< input is valid but not supported (version, feature)
#define MILO_ERR_IO 7                ///< reading or writing a file failed
#define MILO_ERR_ABI 8               ///< ABI version negotiation failed
#define MILO_ERR_PLUGIN 9            ///< a plugin failed, misbehaved or threw
#define MILO_ERR_DUPLICATE 10        ///< an id is already registered
#define MILO_ERR_TYPE 11             ///< a value is not of the kind the call needs
#define MILO_ERR_INTEGRITY 12        ///< a checksum (sha256, CRC) does not match
#define MILO_ERR_DANGEROUS 13        ///< content refused as dangerous
#define MILO_ERR_OUT_OF_RANGE 14     ///< an index or number is out of range
#define MILO_ERR_INTERNAL 15         ///< a bug in Milo; please report it

/// Size of the message buffer in milo_error, including the terminating NUL.
#define MILO_ERROR_MESSAGE_SIZE 1000

/// Caller-owned error buffer. Initialise with MILO_ERROR_INIT (or set struct_size to
/// sizeof(milo_error)); a callee writes at most struct_size bytes of it.
/// \since ABI 1
typedef struct milo_error {
    uint32_t struct_size;  ///< sizeof(milo_error) as the caller compiled it
    milo_status code;      ///< MILO_OK, or the status of the last failure reported into it
    char message[MILO_ERROR_MESSAGE_SIZE];  ///< UTF-8, NUL-terminated, possibly truncated
} milo_error;

#define MILO_ERROR_INIT {(uint32_t)sizeof(milo_error), 0, {0}}

/// Returns the symbolic name of a status ("MILO_ERR_CORRUPT"), or "MILO_ERR_UNKNOWN" for a code
/// this library does not know. Static storage. [thread-safe] \since ABI 1
MILO_API const char* milo_status_name(milo_status status);

/// Writes `status` and the NUL-terminated `message` into `error` (truncating) and returns
/// `status`. Does nothing but return when `error` is NULL. Plugins reach it through the host
/// API table. [thread-safe] \since ABI 1
MILO_API milo_status milo_error_set(milo_error* error, milo_status status, const char* message);

#ifdef __cplusplus
}
#endif

#endif  // MILO_ERROR_H
