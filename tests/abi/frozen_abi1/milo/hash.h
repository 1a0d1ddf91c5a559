/* FROZEN COPY of sdk/include/milo/hash.h as released with ABI 1 (Milo 0.1.0). Never edit: the
 * ABI tests compile a plugin against exactly these declarations, and every later libmilo must
 * keep loading it. */
/// \file milo/hash.h
/// Content hashing shared by the library and plugins (document `source.sha256`, external tensor
/// files), so plugins need no hashing code of their own.
#ifndef MILO_HASH_H
#define MILO_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "milo/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Writes the SHA-256 of `size` bytes at `data` into `out` as 64 lowercase hex digits and a
/// NUL. Uses the CPU's SHA extensions when present. `data` may be NULL when `size` is 0.
/// [thread-safe] \since ABI 1
MILO_API void milo_hash_sha256(const uint8_t* data, size_t size, char out[65]);

#ifdef __cplusplus
}
#endif

#endif  // MILO_HASH_H
