/// \file milo/version.h
/// The three version numbers of Milo. They are never mixed:
///  * the library version (MILO_VERSION_*) names a release;
///  * the ABI version (MILO_ABI_VERSION) grows by one for every append to the C ABI;
///  * the document format version (MILO_FORMAT_VERSION) is written into every document.
#ifndef MILO_VERSION_H
#define MILO_VERSION_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define MILO_API __declspec(dllexport)
#else
#define MILO_API __attribute__((visibility("default")))
#endif

#define MILO_VERSION_MAJOR 0
#define MILO_VERSION_MINOR 1
#define MILO_VERSION_PATCH 0
#define MILO_VERSION_STRING "0.1.0"

/// ABI version this header describes. Bumped for every append to a function table or
/// growable struct; nothing is ever removed or reordered. \since ABI 1
#define MILO_ABI_VERSION 2
/// Oldest plugin ABI this library still loads. \since ABI 1
#define MILO_ABI_MIN_SUPPORTED 1
/// Document format version written by this library (and the newest it reads). \since ABI 1
#define MILO_FORMAT_VERSION 1

/// Returns the library version as "MAJOR.MINOR.PATCH"; static storage. [thread-safe]
/// \since ABI 1
MILO_API const char* milo_version_get(void);

/// Returns the ABI version the loaded library implements (MILO_ABI_VERSION of its build).
/// [thread-safe] \since ABI 1
MILO_API uint32_t milo_abi_version_get(void);

/// Returns the document format version the library writes. [thread-safe] \since ABI 1
MILO_API uint32_t milo_format_version_get(void);

#ifdef __cplusplus
}
#endif

#endif  // MILO_VERSION_H
