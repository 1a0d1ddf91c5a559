// Document → .pt bytes (torch.save's zip format, README.md "Writing").
#ifndef MILO_TORCH_EXPORT_HPP
#define MILO_TORCH_EXPORT_HPP

#include <string>

#include "milo/milo.hpp"

namespace milo {
namespace torch {

/// The bytes of a .pt file that torch.load(weights_only=True) reads into the document's
/// tensors. Throws milo::Error naming the document path.
std::string export_pt(DocRef doc);

}  // namespace torch
}  // namespace milo

#endif
