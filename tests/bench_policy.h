#pragma once
// The NetworkPolicy benchmark (scripts/bench-policy.sh, issue 14): the real applier
// (LinuxPolicyKernel + Applier, what quasard runs) on the real kernel, against the floor of the
// kernel tools loading the same final state from files (`ipset restore` of renderIpsets() and
// `iptables-restore --noflush` of renderIptables() plus the hooks).
//
// Every measurement runs in a network namespace of its own: runPolicyBench() moves the calling
// thread into a fresh one (unshare(CLONE_NEWNET)) before each, and removes quasar's state there
// (untimed) when done; the namespace goes when the thread leaves it or exits. It never returns
// to the namespace it was called in, so call it from a thread (or process) that can be given up.
// Needs root (CAP_NET_ADMIN), ipset, iptables-restore and iptables-save in PATH.
//
// The model is netpolicy/compiler/test_model.h's benchShape (the policy count cut to `policies`).
// Not thread-safe; blocks for as long as the measurements take.

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace quasar::bench {

struct PolicyBenchOptions {
  int policies = 1000;
  std::vector<int> pod_counts = {1000, 10000};  // full syncs and counts at each
  int rounds = 5;           // full syncs per pod count, each interleaved with a floor run
  int events = 200;         // pod events of each kind (add, relabel, delete), at the largest count
  int policy_changes = 10;  // policy changes of each kind (add, modify, delete), ditto
};

// What quasar's chains and sets hold in a kernel.
struct KernelCounts {
  size_t rules = 0;  // rules in QUASAR-* chains
  size_t hooks = 0;  // jumps from FORWARD/INPUT to them
  size_t sets = 0;
  size_t members = 0;
};

struct FullSyncResult {
  int pods = 0;
  std::vector<double> compile_ms, apply_ms, total_ms;           // ours, one per round
  std::vector<double> floor_sets_ms, floor_rules_ms, floor_ms;  // the tools, one per round
  KernelCounts ours, floor;
};

// One kind of change: its time split in compile and apply (compile 0 for pod events, which go
// through Membership::applyPodChange + Applier::changeMembers).
struct ChangeResult {
  std::string what;
  std::vector<double> compile_ms, apply_ms, total_ms;
};

struct PolicyBenchReport {
  int policies = 0;
  std::vector<FullSyncResult> syncs;         // in pod_counts' order
  int event_pods = 0;                        // the pod count events and policy changes ran at
  std::vector<ChangeResult> pod_events;      // added, relabelled, deleted
  std::vector<ChangeResult> policy_changes;  // added, modified, deleted
};

// Runs every measurement. Fails on the first error of the kernel or the tools, and when the
// kernel does not hold what was applied (the floor's rule count differs from ours, a set's
// members differ from the patched ruleset's after the pod events).
absl::StatusOr<PolicyBenchReport> runPolicyBench(const PolicyBenchOptions& options);

// The report as markdown table rows (no header): measure, median, p99, floor, ratio, goal, met.
std::string policyBenchRows(const PolicyBenchReport& report);
// The header of those rows.
std::string policyBenchHeader();

// The nearest-rank q-quantile of v (0 when empty).
double quantile(std::vector<double> v, double q);

// Writes the benchShape model as quasar objects for `quasarctl apply -f`: DIR/namespaces.yaml,
// DIR/policies-<i>.yaml and DIR/pods-<i>.yaml with at most `batch` objects each (pods with
// status.podIPs, spec.nodeName `node`). Returns the files in the order to apply them.
absl::StatusOr<std::vector<std::string>> writePolicyBenchObjects(const std::string& dir, int pods,
                                                                 int policies, int batch,
                                                                 const std::string& node);

}  // namespace quasar::bench
