/// \file milo/readers/trust_policy.hpp
/// The trust policy shared by the pickle-based plugins (sklearn, torch): classifies a name a
/// pickle refers to (a GLOBAL/STACK_GLOBAL/INST, see pickle::GlobalRef) by how the stream uses
/// it, as the document's `trust` list records it (MILO_TRUST_* in milo/value.h).
///
/// * Dangerous: the name can run code, import modules, touch files, processes or the network,
///   deserialise another pickle, or reach any of those by walking attributes. Matched by
///   module (a module and all its submodules), by name within a module or package, and by
///   the shape of a dotted name; any usage (except where an entry says otherwise).
/// * Trusted: an allowlist of exact "module.qualname" entries, each with the usages it admits
///   (scikit-learn classes and reducers, numpy's and scipy's reconstructors, a few stdlib
///   types). Never a prefix match, never a subclass match: "sklearn.linear_model.Nope",
///   "sklearnx.foo" and "Tree.fit" are not trusted because "Tree" is.
/// * Untrusted: everything else, and trusted names used in a way their entry does not admit.
///
/// A verdict judges one name. It does not make a graph safe: calling the *result* of a call
/// (REDUCE on a non-global) or BUILD on a class is for the reader to refuse.
/// Part of the static library `milo_readers`; not part of libmilo's ABI.
/// [thread-safe]: every function; the tables are immutable after their first use.
#ifndef MILO_READERS_TRUST_POLICY_HPP
#define MILO_READERS_TRUST_POLICY_HPP

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace milo {
namespace readers {

/// How a pickle uses a name; a bit mask in allowlist entries.
enum class Usage : uint8_t {
    Call = 1,         ///< the callable of REDUCE
    Instantiate = 2,  ///< the class of NEWOBJ, NEWOBJ_EX, OBJ or INST
    Reference = 4,    ///< a value: an argument, item, state or the root
};

/// Values equal MILO_TRUST_TRUSTED, MILO_TRUST_UNTRUSTED and MILO_TRUST_DANGEROUS.
enum class TrustLevel : uint8_t { Trusted = 0, Untrusted = 1, Dangerous = 2 };

/// "call", "instantiate" or "reference" (the usage strings of milo_doc_set_trust), "invalid"
/// for anything else.
const char* usage_name(Usage usage) noexcept;

/// A classification and why, as a short static string ("runs shell commands",
/// "not in the allowlist", …) that lives as long as the program.
struct TrustVerdict {
    TrustLevel level;
    const char* reason;
};

/// Classifies the name `module`.`name` (`name` may be dotted, e.g. "Outer.Inner") used as
/// `usage`. `usage` may combine bits: Trusted then needs every one of them to be admitted.
/// Danger is checked first, so a dangerous name is dangerous whatever the allowlist says.
/// Never throws; no allocation.
TrustVerdict classify(std::string_view module, std::string_view name, Usage usage) noexcept;

/// Number of allowlist entries (all parts merged, one per (module, qualname), sorted by module
/// then qualname).
size_t allowlist_size() noexcept;
/// Entry i < allowlist_size(): its exact "module.qualname" (static storage) and its usage mask
/// (bits of Usage). Out of range: name empty, usages 0.
void allowlist_at(size_t i, std::string_view& name, unsigned& usages) noexcept;
/// The same entry with module and qualified name apart, as classify() takes them.
void allowlist_at(size_t i, std::string_view& module, std::string_view& qualname,
                  unsigned& usages) noexcept;

}  // namespace readers
}  // namespace milo

#endif  // MILO_READERS_TRUST_POLICY_HPP
