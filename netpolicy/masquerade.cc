#include "netpolicy/masquerade.h"

#include "absl/strings/str_cat.h"
#include "netpolicy/iptables_restore.h"

namespace quasar::netpolicy {

std::string masqueradeRules(const std::vector<conf::IpPrefix>& cidrs) {
  std::string r = absl::StrCat("*nat\n:", kMasqChain, " - [0:0]\n-F ", kMasqChain, "\n");
  // Pod to pod (anywhere in the cluster) keeps its source; everything else from a pod is
  // masqueraded.
  for (const auto& c : cidrs) {
    absl::StrAppend(&r, "-A ", kMasqChain, " -d ", c.network().toString(), " -j RETURN\n");
  }
  for (const auto& c : cidrs) {
    absl::StrAppend(
        &r, "-A ", kMasqChain, " -s ", c.network().toString(),
        " -m comment --comment \"quasar: pod traffic leaving the cluster\" -j MASQUERADE\n");
  }
  r += "COMMIT\n";
  return r;
}

absl::Status ensureMasquerade(const std::vector<conf::IpPrefix>& cidrs) {
  if (auto s = runCommand({"iptables-restore", "--noflush", "--wait"}, masqueradeRules(cidrs));
      !s.ok()) {
    return s;
  }
  // The jump, once.
  if (runCommand({"iptables", "--wait", "-t", "nat", "-C", "POSTROUTING", "-j", kMasqChain}, "")
          .ok()) {
    return absl::OkStatus();
  }
  return runCommand({"iptables", "--wait", "-t", "nat", "-A", "POSTROUTING", "-j", kMasqChain}, "");
}

absl::Status removeMasquerade() {
  while (runCommand({"iptables", "--wait", "-t", "nat", "-D", "POSTROUTING", "-j", kMasqChain}, "")
             .ok()) {
  }
  runCommand({"iptables", "--wait", "-t", "nat", "-F", kMasqChain}, "").IgnoreError();
  runCommand({"iptables", "--wait", "-t", "nat", "-X", kMasqChain}, "").IgnoreError();
  return absl::OkStatus();
}

}  // namespace quasar::netpolicy
