// Benchmark driver for scripts/bench-policy.sh (tests/bench_policy.h).
//
// usage: bench_policy kernel ROUNDS POLICIES PODS[,PODS...] EVENTS POLICY_CHANGES
//          the applier against the kernel tools' floor; prints markdown table rows (header
//          included) on stdout. Moves itself into fresh network namespaces (needs root).
//        bench_policy objects DIR PODS POLICIES BATCH NODE
//          writes the benchShape model as objects for quasarctl apply; prints the files.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "tests/bench_policy.h"

namespace {

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s kernel ROUNDS POLICIES PODS[,PODS...] EVENTS POLICY_CHANGES\n"
               "       %s objects DIR PODS POLICIES BATCH NODE\n",
               argv0, argv0);
  return 2;
}

bool toInt(const char* s, int* out) { return absl::SimpleAtoi(s, out) && *out >= 0; }

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "kernel" && argc == 7) {
    quasar::bench::PolicyBenchOptions o;
    o.pod_counts.clear();
    for (absl::string_view p : absl::StrSplit(argv[4], ',')) {
      int n = 0;
      if (!absl::SimpleAtoi(p, &n) || n < 1) return usage(argv[0]);
      o.pod_counts.push_back(n);
    }
    if (!toInt(argv[2], &o.rounds) || !toInt(argv[3], &o.policies) || !toInt(argv[5], &o.events) ||
        !toInt(argv[6], &o.policy_changes)) {
      return usage(argv[0]);
    }
    auto report = quasar::bench::runPolicyBench(o);
    if (!report.ok()) {
      std::fprintf(stderr, "bench_policy: %s\n", report.status().ToString().c_str());
      return 1;
    }
    std::printf("%s%s", quasar::bench::policyBenchHeader().c_str(),
                quasar::bench::policyBenchRows(*report).c_str());
    return 0;
  }
  if (mode == "objects" && argc == 7) {
    int pods = 0, policies = 0, batch = 0;
    if (!toInt(argv[3], &pods) || !toInt(argv[4], &policies) || !toInt(argv[5], &batch) ||
        batch < 1) {
      return usage(argv[0]);
    }
    auto files = quasar::bench::writePolicyBenchObjects(argv[2], pods, policies, batch, argv[6]);
    if (!files.ok()) {
      std::fprintf(stderr, "bench_policy: %s\n", files.status().ToString().c_str());
      return 1;
    }
    for (const auto& f : *files) std::printf("%s\n", f.c_str());
    return 0;
  }
  return usage(argv[0]);
}
