#pragma once
// The conformance suite's fixture: one Cluster (tests/netpol/cluster.h) for the whole test
// binary, built by a GoogleTest environment on the main thread before the first case and torn
// down after the last. Each case applies its policies and checks truth tables; TearDown deletes
// every policy, resets labels it changed and waits until every pod reaches every pod again, so
// the next case starts from no policy (and a case that leaves stale rules fails there).

#include <gtest/gtest.h>

#include <string>

#include "tests/netpol/cluster.h"
#include "tests/netpol/truth_table.h"

namespace quasar::tests::netpol {

// The binary's cluster; null when it could not be built (clusterError() says why).
Cluster* cluster();
const std::string& clusterError();

class NetpolTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  Cluster& c() { return *cluster(); }
  // Upstream's NewReachability(all pods, default).
  Reachability reach(bool default_expectation = true) {
    return Reachability(c().podStrings(), default_expectation);
  }
  std::string apply(const std::string& text) { return c().apply(text); }
  std::string ip(const std::string& pod_string) { return c().podIp(pod_string); }
  // Upstream's ValidateOrFail: probes until `expected` is observed on port/proto or 10 s passed;
  // on failure the expected, observed and comparison grids (always, with QUASAR_NETPOL_VERBOSE
  // set in the environment, as upstream's isVerbose).
  void validate(const Reachability& expected, int port, Protocol proto = Protocol::kTcp);
};

// A networking.k8s.io/v1 NetworkPolicy; `spec` is the YAML of its spec, each line indented by
// two spaces (a raw string starting with a newline).
std::string policy(const std::string& ns, const std::string& name, const std::string& spec);
// The same for quasar.io/v1 NetworkPolicy (nodeSelector in peers and spec).
std::string quasarPolicy(const std::string& ns, const std::string& name, const std::string& spec);

// In a case that needs SCTP: the case is skipped, with the reason, on a kernel without SCTP, so
// the SCTP column reads "not run", never "passed".
#define NETPOL_SKIP_WITHOUT_SCTP()                                                              \
  if (!c().sctp()) {                                                                            \
    GTEST_SKIP() << "SCTP column not run: this kernel has no SCTP (" << c().sctpMissingReason() \
                 << ")";                                                                        \
  }

}  // namespace quasar::tests::netpol
