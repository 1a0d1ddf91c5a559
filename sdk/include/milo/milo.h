/// \file milo/milo.h
/// Umbrella header of the Milo C ABI.
#ifndef MILO_MILO_H
#define MILO_MILO_H

#include "milo/version.h"
#include "milo/error.h"
#include "milo/hash.h"
#include "milo/value.h"
#include "milo/registry.h"
#include "milo/plugin.h"

#endif  // MILO_MILO_H
