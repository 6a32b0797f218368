#include "tests/bench_cni_pods.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/bench_cni_run.h"

namespace quasar::bench {
namespace {

struct Pod {
  Plugin plugin;
  std::vector<double> add, del, cycle;
  int failures = 0;
};

struct Ratio {
  std::string label;
  size_t a = 0, b = 0;
};

std::vector<std::string> splitBars(const std::string& s) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, '|')) out.push_back(part);
  if (!s.empty() && s.back() == '|') out.push_back("");
  return out;
}

int usage(const char* why) {
  std::fprintf(stderr,
               "bench_cni pods: %s\nusage: bench_cni pods CYCLES POD_NS_PREFIX "
               "pod:LABEL|BINARY|CONF|NODE_NETNS|CNI_ARGS... [ratio:LABEL|I|J...]\n",
               why);
  return 2;
}

void reportFailure(Pod& pod, const std::string& cmd, const std::string& container) {
  if (++pod.failures > 3) return;
  std::ifstream in(pod.plugin.out_path);
  std::stringstream out;
  out << in.rdbuf();
  std::fprintf(stderr, "bench_cni pods: %s %s %s failed: %s\n", pod.plugin.label.c_str(),
               cmd.c_str(), container.c_str(), out.str().c_str());
}

}  // namespace

int runPods(int argc, char** argv) {
  if (argc < 4) return usage("too few arguments");
  const int cycles = std::atoi(argv[1]);
  const std::string prefix = argv[2];
  if (cycles <= 0) return usage("CYCLES must be a positive number");
  const int home = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (home < 0) return usage("cannot open /proc/self/ns/net");
  std::vector<Pod> pods;
  std::vector<Ratio> ratios;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("pod:", 0) == 0) {
      auto f = splitBars(arg.substr(4));
      if (f.size() != 5) return usage(("a pod needs 5 fields: " + arg).c_str());
      Pod p;
      p.plugin.label = f[0], p.plugin.binary = f[1], p.plugin.conf_path = f[2];
      p.plugin.cni_args = f[4];
      p.plugin.netns_fd = home;
      if (!f[3].empty()) {
        // Owned until exit: the process ends with this function.
        p.plugin.netns_fd = open(f[3].c_str(), O_RDONLY | O_CLOEXEC);
        if (p.plugin.netns_fd < 0) return usage(("cannot open " + f[3]).c_str());
      }
      p.plugin.out_path = f[2] + ".out";
      pods.push_back(std::move(p));
    } else if (arg.rfind("ratio:", 0) == 0) {
      auto f = splitBars(arg.substr(6));
      if (f.size() != 3) return usage(("a ratio needs 3 fields: " + arg).c_str());
      Ratio r{f[0], std::strtoul(f[1].c_str(), nullptr, 10),
              std::strtoul(f[2].c_str(), nullptr, 10)};
      ratios.push_back(r);
    } else {
      return usage(("neither pod: nor ratio: " + arg).c_str());
    }
  }
  if (pods.empty()) return usage("no pods");
  for (const auto& r : ratios) {
    if (r.a >= pods.size() || r.b >= pods.size())
      return usage(("no such pod in " + r.label).c_str());
  }
  const size_t n = pods.size();
  auto ns = [&](size_t k, const std::string& kind, int i) {
    return "/run/netns" + prefix + std::to_string(k) + "-" + kind + std::to_string(i);
  };
  auto id = [](size_t k, const std::string& kind, int i) {
    return "p" + std::to_string(k) + "-" + kind + std::to_string(i);
  };

  // Warm-up: page cache, the daemons' connections to their stores, the object views.
  for (size_t k = 0; k < n; ++k) {
    for (int i = 0; i < 5; ++i) {
      invoke(pods[k].plugin, "ADD", id(k, "warm", i), ns(k, "w", i));
      invoke(pods[k].plugin, "DEL", id(k, "warm", i), ns(k, "w", i));
    }
  }
  // Cycle i runs the pods in the order i, i+1, ... (mod n): every pod's ADD follows each other
  // pod's DEL equally often (a fixed order would time one pod always after the reference's slow
  // DEL, with the CPU idle, and another always after a fast DEL whose teardown is still running).
  for (int i = 0; i < cycles; ++i) {
    for (size_t j = 0; j < n; ++j) {
      Pod& pod = pods[(i + j) % n];
      const size_t k = (i + j) % n;
      const std::string c = id(k, "cyc", i);
      const double a = invoke(pod.plugin, "ADD", c, ns(k, "c", i));
      if (a < 0) reportFailure(pod, "ADD", c);
      const double d = invoke(pod.plugin, "DEL", c, ns(k, "c", i));
      if (d < 0) reportFailure(pod, "DEL", c);
      if (a < 0 || d < 0) continue;
      pod.add.push_back(a);
      pod.del.push_back(d);
      pod.cycle.push_back(a + d);
    }
  }

  auto med = [](const std::vector<double>& v) { return percentile(v, 0.5); };
  auto p99 = [](const std::vector<double>& v) { return percentile(v, 0.99); };
  std::printf(
      "| pod | ADD median (ms) | ADD p99 (ms) | DEL median (ms) | DEL p99 (ms) | ADD+DEL median "
      "(ms) | cycles | failed |\n|---|---|---|---|---|---|---|---|\n");
  for (const auto& p : pods) {
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %zu | %d |\n", p.plugin.label.c_str(),
                med(p.add), p99(p.add), med(p.del), p99(p.del), med(p.cycle), p.cycle.size(),
                p.failures);
  }
  if (!ratios.empty()) {
    std::printf(
        "\n| ratio | ADD median | ADD p99 | DEL median | DEL p99 | ADD median difference (ms) | "
        "DEL median difference (ms) |\n|---|---|---|---|---|---|---|\n");
    for (const auto& r : ratios) {
      const Pod &a = pods[r.a], &b = pods[r.b];
      std::printf("| %s | %.3fx | %.3fx | %.3fx | %.3fx | %+.2f | %+.2f |\n", r.label.c_str(),
                  med(a.add) / med(b.add), p99(a.add) / p99(b.add), med(a.del) / med(b.del),
                  p99(a.del) / p99(b.del), med(a.add) - med(b.add), med(a.del) - med(b.del));
    }
  }
  int failures = 0;
  for (const auto& p : pods) failures += p.failures;
  return failures == 0 ? 0 : 1;
}

}  // namespace quasar::bench
