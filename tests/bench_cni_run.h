// What the benchmark driver (bench_cni) shares between its modes: one timed plugin invocation,
// and percentiles. Single-threaded per call; invoke() may run on several threads at once
// (bursts) as long as each Plugin's netns_fd is -1 or the threads do not need other namespaces.
#pragma once

#include <string>
#include <vector>

namespace quasar::bench {

struct Plugin {
  std::string label;
  std::string binary;
  std::string conf_path;  // the network configuration, given on stdin
  std::string cni_args;  // CNI_ARGS, e.g. K8S_POD_NAMESPACE=default;K8S_POD_NAME=web (may be empty)
  int netns_fd = -1;     // the node namespace it runs in (setns before the spawn); -1: ours
  std::string out_path = "/dev/null";  // the plugin's stdout and stderr
};

// Runs the plugin once in its namespace; returns the milliseconds from spawn to exit, or -1 when
// it failed (a setns failure too). The setns is not timed. The calling thread stays in the
// plugin's namespace afterwards.
double invoke(const Plugin& p, const std::string& cmd, const std::string& container,
              const std::string& netns);

// The nearest-rank q-quantile of v (0 when v is empty).
double percentile(std::vector<double> v, double q);

}  // namespace quasar::bench
