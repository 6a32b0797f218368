#pragma once
// The real PolicyKernel: ipsets through libipset (netlink, in restore mode so thousands of
// members go in one batch), the filter table through iptables-save -t filter and
// iptables-restore --noflush -w (ip6tables-* for IPv6), run by name from PATH so whichever
// backend the node's `iptables` is (nft or legacy) is used.
//
// Threading: thread-compatible; each call opens its own libipset session. The process must be
// root (CAP_NET_ADMIN) in the network namespace to program. Failure: kernel and tool errors
// come back as Internal with the tool's message; a missing tool as Unavailable.

#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy {

class LinuxPolicyKernel : public PolicyKernel {
 public:
  absl::StatusOr<std::vector<KernelSet>> listSets() override;
  absl::StatusOr<std::vector<SetEntry>> readSet(const std::string& name) override;
  absl::Status changeSets(const std::vector<SetOp>& ops) override;
  absl::StatusOr<FilterState> readFilter(conf::Family family) override;
  absl::StatusOr<std::map<std::string, int>> readHooks(conf::Family family) override;
  absl::Status restoreFilter(conf::Family family, const std::string& input) override;
};

}  // namespace quasar::netpolicy
