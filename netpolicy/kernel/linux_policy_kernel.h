#pragma once
// The real PolicyKernel: ipsets through libipset (netlink, in restore mode so thousands of
// members go in one batch), the filter table through iptables-save -t filter and
// iptables-restore --noflush -w (ip6tables-* for IPv6), run by name from PATH so whichever
// backend the node's `iptables` is (nft or legacy) is used.
//
// When `iptables -V` and `ip6tables -V` (if installed) say "(nf_tables)", the filter table is
// read over nftables' netlink instead (nft_filter_dump.h: rules as digests, milliseconds where
// iptables-save takes most of a second at 1,000 policies) and filterGeneration() is the
// nftables ruleset generation (nft_generation.h). The backend is asked once per instance, so a
// node whose iptables alternative is switched needs a restart of quasard.
//
// Threading: thread-compatible. The libipset session (and netlink socket) that adds and deletes
// members is kept between calls, opened anew when the calling thread's network namespace is
// not the one it was opened in or after it reported an error, so calls act in the calling
// thread's network namespace; keeping it saves a socket and ipset's protocol handshake on every
// pod event. Other commands (list, save, destroy) each have a session of their own. The
// process must be
// root (CAP_NET_ADMIN) in the network namespace to program. Failure: kernel and tool errors
// come back as Internal with the tool's message; a missing tool as Unavailable.

#include <memory>
#include <optional>
#include <string>

#include "netpolicy/kernel/policy_kernel.h"

namespace quasar::netpolicy {

class LinuxPolicyKernel : public PolicyKernel {
 public:
  LinuxPolicyKernel();
  ~LinuxPolicyKernel() override;
  absl::StatusOr<std::vector<KernelSet>> listSets() override;
  absl::StatusOr<std::vector<SetEntry>> readSet(const std::string& name) override;
  absl::Status changeSets(const std::vector<SetOp>& ops) override;
  absl::StatusOr<FilterState> readFilter(conf::Family family) override;
  absl::StatusOr<std::map<std::string, int>> readHooks(conf::Family family) override;
  absl::Status restoreFilter(conf::Family family, const std::string& input) override;
  absl::StatusOr<uint64_t> filterGeneration() override;
  struct IpsetSession;  // a libipset session (in the .cc)

 private:
  bool nftBackendOk();
  // `text` in restore mode: consecutive adds and dels go to the kernel as batched netlink
  // messages instead of one round trip per member.
  absl::Status ipsetRestore(const std::string& text);
  std::unique_ptr<IpsetSession> ipset_;
  // OK when the tools are the nf_tables backend; Unimplemented for legacy (filterGeneration()
  // then reads the tables' digest). Set on first use.
  std::optional<absl::Status> nft_backend_;
};

}  // namespace quasar::netpolicy
