#pragma once
// Outgoing NAT: pod traffic that leaves the cluster (destination outside the cluster's pod
// CIDRs) is masqueraded to the node's address, so the world needs no route back to pods.
// One chain of quasar's own in the nat table, QUASAR-MASQ, jumped to from POSTROUTING; it is
// written with iptables-restore --noflush as one transaction, and nothing outside it (other
// than the single jump) is touched. Runs in the calling process's network namespace.
// Idempotent.

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "conf/ip.h"

namespace quasar::netpolicy {

inline constexpr char kMasqChain[] = "QUASAR-MASQ";

// The iptables-restore input for the chain (pure; unit-tested).
std::string masqueradeRules(const std::vector<conf::IpPrefix>& cluster_cidrs);
absl::Status ensureMasquerade(const std::vector<conf::IpPrefix>& cluster_cidrs);
absl::Status removeMasquerade();

}  // namespace quasar::netpolicy
