#pragma once
// Shared by the floating-IP unit tests (and the lease store contract test in daemon/cluster/):
// pools, nodes and requests written briefly.

#include <string>

#include "ipam/floating/floating_allocator.h"

namespace quasar::ipam::floating::testing {

inline conf::IpAddress ip(const std::string& s) { return *conf::IpAddress::parse(s); }
inline conf::IpPrefix prefix(const std::string& s) { return *conf::IpPrefix::parse(s); }

// Pool `name` on 10.20.<octet>.0/24, gateway .1, handing out .first..last.
inline Pool pool(const std::string& name, int octet, int first, int last) {
  const std::string net = "10.20." + std::to_string(octet) + ".";
  Pool p;
  p.name = name;
  p.subnet = prefix(net + "0/24");
  p.gateway = ip(net + "1");
  p.ranges = {{ip(net + std::to_string(first)), ip(net + std::to_string(last))}};
  return p;
}

inline NodeFacts node(const std::string& name, const std::string& address = "10.20.0.11") {
  return {name, {ip(address)}, {}};
}

inline WorkloadRef workload(WorkloadKind kind, const std::string& name, const std::string& uid = "",
                            const std::string& ns = "default") {
  return {kind, ns, name, uid.empty() ? "uid-" + name : uid};
}

// A pod of `w` named `pod` (uid `pod_uid`), its attachment container "c-<pod_uid>" eth0.
inline ClaimRequest request(const WorkloadRef& w, const std::string& pod,
                            const std::string& pod_uid, ReleasePolicy policy, const NodeFacts& n,
                            int64_t now = 1000) {
  ClaimRequest r;
  r.attachment = {"c-" + pod_uid, "eth0"};
  r.pod = {w.namespace_, pod, pod_uid};
  r.workload = w;
  r.policy = policy;
  r.node = n;
  r.now_unix_ms = now;
  return r;
}

// A pod without a controller: its own workload.
inline ClaimRequest barePod(const std::string& pod, const std::string& pod_uid,
                            ReleasePolicy policy, const NodeFacts& n, int64_t now = 1000) {
  return request({WorkloadKind::kPod, "default", pod, pod_uid}, pod, pod_uid, policy, n, now);
}

}  // namespace quasar::ipam::floating::testing
