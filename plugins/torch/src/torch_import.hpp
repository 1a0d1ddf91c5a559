// .pt bytes → document (README.md, "Reading").
#ifndef MILO_TORCH_IMPORT_HPP
#define MILO_TORCH_IMPORT_HPP

#include <cstddef>
#include <cstdint>

#include "milo/milo.hpp"

namespace milo {
namespace torch {

/// What the first bytes of a file are, as far as this transporter cares.
enum class PtKind : uint8_t { Other, Checkpoint, Legacy, TorchScript };
/// Classifies `head` (the first bytes of a file, possibly truncated) by content only.
PtKind sniff_pt(const uint8_t* head, size_t size) noexcept;

/// Reads a torch.save file (zip or legacy format) without executing anything and fills `doc`:
/// root value, header, metadata, trust list. Throws milo::Error naming the file and the byte
/// offset or document path. A TorchScript archive is refused (MILO_ERR_UNSUPPORTED) before any
/// of its pickles is read.
void import_pt(DocRef doc, const uint8_t* data, size_t size, const char* path);

}  // namespace torch
}  // namespace milo

#endif
