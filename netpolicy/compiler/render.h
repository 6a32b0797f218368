#pragma once
// Text forms of a compiled Ruleset for the kernel tools. Only names, addresses and numbers the
// compiler made reach the text. Pure; thread-compatible.

#include <string>

#include "netpolicy/compiler/compiler.h"

namespace quasar::netpolicy {

// iptables-restore input for the filter table (use with --noflush: declares and so flushes
// quasar's chains only).
std::string renderIptables(const Ruleset& ruleset);
// ipset restore input creating (-exist) and filling every set, for tools and the benchmark
// floor.
std::string renderIpsets(const Ruleset& ruleset);

}  // namespace quasar::netpolicy
