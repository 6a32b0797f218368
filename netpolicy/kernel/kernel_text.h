#pragma once
// The kernel tools' text forms, read and written: ipset list/save output, iptables-save output,
// set type names and set entries in the form `ipset save` prints them. Pure; thread-compatible.
// Used by the Linux kernel adapter and (for the canonical entry form) by the Applier and the fake.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "netpolicy/compiler/compiler.h"
#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy {

std::optional<SetType> parseSetType(std::string_view name);
const char* ipsetFamilyName(conf::Family family);  // "inet", "inet6"

// An entry as `ipset save` prints it: a hash:net entry covering one address loses its "/32" or
// "/128"; everything else is unchanged.
SetEntry kernelEntry(SetType type, const SetEntry& entry);

// `ipset list -t` (plain, headers only): quasar's sets (kSetPrefix) with type, family and count.
absl::StatusOr<std::vector<KernelSet>> parseIpsetHeaders(std::string_view text);
// `ipset save NAME`: the entries of NAME ("add NAME ENTRY [nomatch]" lines).
absl::StatusOr<std::vector<SetEntry>> parseIpsetSave(std::string_view name, std::string_view text);
// ipset restore lines for `ops` (-exist on each line).
std::string renderSetOps(const std::vector<SetOp>& ops);

// `iptables-save -t filter`: quasar's chains and the hooks from the built-in chains.
absl::StatusOr<FilterState> parseIptablesSave(std::string_view text);

}  // namespace quasar::netpolicy
