// Benchmark driver for scripts/bench-cni.sh. Runs inside the node namespace and spawns the
// plugins itself, so only the plugin's own time is measured. quasar and the reference plugin
// (ptp + host-local) run interleaved in the same run, on pod namespaces created beforehand.
//
// usage: bench_cni PLUGIN_A CONF_A PLUGIN_B CONF_B POD_NS_PREFIX CYCLES BURST ROUNDS EMPTY
// EMPTY: a static program that does nothing (bench_empty), spawned the same way: the floor.
// Or:    bench_cni pods ...   more than two kinds of pod in one run (tests/bench_cni_pods.h).

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "tests/bench_cni_pods.h"
#include "tests/bench_cni_run.h"

namespace {

using Clock = std::chrono::steady_clock;
using quasar::bench::invoke;
using quasar::bench::percentile;
using quasar::bench::Plugin;

struct Stats {
  std::vector<double> add, del, cycle, version, status, empty;
  // ADD times by what ran just before: [0] the other plugin's DEL, [1] this plugin's own DEL.
  std::vector<double> add_after[2];
  std::vector<double> burst_pods_per_s;
  int failures = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "pods") return quasar::bench::runPods(argc - 1, argv + 1);
  if (argc != 10) {
    std::fprintf(stderr,
                 "usage: %s BIN_A CONF_A BIN_B CONF_B POD_NS_PREFIX CYCLES BURST ROUNDS EMPTY\n",
                 argv[0]);
    return 2;
  }
  Plugin plugins[2];
  plugins[0].label = "quasar", plugins[0].binary = argv[1], plugins[0].conf_path = argv[2];
  plugins[1].label = "ptp+host-local", plugins[1].binary = argv[3], plugins[1].conf_path = argv[4];
  const std::string prefix = argv[5];
  const int cycles = std::atoi(argv[6]);
  const int burst = std::atoi(argv[7]);
  const int rounds = std::atoi(argv[8]);
  Plugin empty;
  empty.label = "empty", empty.binary = argv[9], empty.conf_path = argv[2];
  Stats stats[2];
  // Every ADD gets a fresh namespace, as a runtime gives every sandbox one:
  // <prefix><plugin>-w<i> warm-up, -c<i> cycles, -b<round>-<i> bursts.
  auto ns = [&](int plugin, const std::string& kind, int i) {
    return "/run/netns" + prefix + std::to_string(plugin) + "-" + kind + std::to_string(i);
  };
  // Container IDs differ between the plugins too, so that quasar can be run against itself
  // (two quasards, one node: host veth names come from the container ID).
  // Which plugin runs j-th (0 or 1) in cycle or burst round `n`: A first in even ones, B in odd.
  auto nth = [](int n, int j) { return n % 2 == 0 ? j : 1 - j; };
  auto id = [](int plugin, const std::string& kind, int i) {
    return std::to_string(plugin) + "-" + kind + std::to_string(i);
  };

  // Warm-up: page cache, daemon connections.
  for (int k = 0; k < 2; ++k) {
    for (int i = 0; i < 5; ++i) {
      invoke(plugins[k], "ADD", id(k, "warm", i), ns(k, "w", i));
      invoke(plugins[k], "DEL", id(k, "warm", i), ns(k, "w", i));
    }
  }
  // Sequential cycles, interleaved, the order alternating (A add, A del, B add, B del; then B
  // add, B del, A add, A del; ...): each plugin's ADD follows the other plugin's DEL in half of
  // the cycles and its own DEL in the other half. A fixed order would time one plugin always
  // after the other's slow DEL (an idle, cold CPU) and the other always after a fast DEL whose
  // veth quasard is still removing.
  for (int i = 0; i < cycles; ++i) {
    for (int j = 0; j < 2; ++j) {
      const int k = nth(i, j);
      const bool after_own_del = j == 0 && i > 0;
      const std::string c = id(k, "cyc", i);
      const double a = invoke(plugins[k], "ADD", c, ns(k, "c", i));
      const double d = invoke(plugins[k], "DEL", c, ns(k, "c", i));
      if (a < 0 || d < 0) {
        ++stats[k].failures;
        continue;
      }
      stats[k].add.push_back(a);
      stats[k].add_after[after_own_del].push_back(a);
      stats[k].del.push_back(d);
      stats[k].cycle.push_back(a + d);
    }
  }
  // Start-up and one daemon round trip, for the breakdown (quasar only: VERSION needs no daemon,
  // STATUS is one gRPC call).
  for (int i = 0; i < std::min(cycles, 200); ++i) {
    stats[0].version.push_back(invoke(plugins[0], "VERSION", "v", ""));
    stats[0].status.push_back(invoke(plugins[0], "STATUS", "s", ""));
    stats[1].version.push_back(invoke(plugins[1], "VERSION", "v", ""));
    stats[0].empty.push_back(invoke(empty, "VERSION", "v", ""));
  }
  // Bursts: `burst` ADDs at once on distinct namespaces; pods per second of wall time.
  // The order of the rounds alternates as in the cycles: a burst of DELs leaves work behind (the
  // kernel's veth teardown; quasard removes its veths after answering) that the next burst meets.
  for (int round = 0; round < rounds; ++round) {
    for (int j = 0; j < 2; ++j) {
      const int k = nth(round, j);
      std::vector<std::thread> threads;
      std::vector<double> res(burst);
      const auto start = Clock::now();
      for (int i = 0; i < burst; ++i) {
        threads.emplace_back([&, i] {
          res[i] = invoke(plugins[k], "ADD", id(k, "b" + std::to_string(round) + "-", i),
                          ns(k, "b" + std::to_string(round) + "-", i));
        });
      }
      for (auto& t : threads) t.join();
      const double secs = std::chrono::duration<double>(Clock::now() - start).count();
      int ok = 0;
      for (double r : res) ok += r >= 0;
      stats[k].failures += burst - ok;
      stats[k].burst_pods_per_s.push_back(ok / secs);
      threads.clear();
      for (int i = 0; i < burst; ++i) {
        threads.emplace_back([&, i] {
          invoke(plugins[k], "DEL", id(k, "b" + std::to_string(round) + "-", i),
                 ns(k, "b" + std::to_string(round) + "-", i));
        });
      }
      for (auto& t : threads) t.join();
    }
  }

  auto row = [&](const char* what, const std::vector<double>& a, const std::vector<double>& b) {
    const double ma = percentile(a, 0.5), mb = percentile(b, 0.5);
    const double pa = percentile(a, 0.99), pb = percentile(b, 0.99);
    std::printf("| %s | %.2f | %.2f | %.2f | %.2f | %.3fx | %.3fx |\n", what, ma, pa, mb, pb,
                ma / mb, pa / pb);
  };
  std::printf(
      "| measure | quasar median | quasar p99 | ptp+host-local median | ptp+host-local p99 "
      "| ratio median (quasar/ref) | ratio p99 |\n|---|---|---|---|---|---|---|\n");
  row("ADD (ms)", stats[0].add, stats[1].add);
  row("ADD, right after the other plugin's DEL (ms)", stats[0].add_after[0], stats[1].add_after[0]);
  row("ADD, right after its own DEL (ms)", stats[0].add_after[1], stats[1].add_after[1]);
  row("DEL (ms)", stats[0].del, stats[1].del);
  row("ADD+DEL cycle (ms)", stats[0].cycle, stats[1].cycle);
  row("VERSION: exec + start-up (ms)", stats[0].version, stats[1].version);
  const double bq = percentile(stats[0].burst_pods_per_s, 0.5);
  const double br = percentile(stats[1].burst_pods_per_s, 0.5);
  std::printf("| %d-way burst of ADDs (pods/s, median of %d) | %.0f | | %.0f | | %.3fx | |\n",
              burst, rounds, bq, br, bq / br);
  std::printf(
      "\nquasar STATUS (exec + start-up + one call to quasard): median %.2f ms, "
      "p99 %.2f ms\n",
      percentile(stats[0].status, 0.5), percentile(stats[0].status, 0.99));
  const double e = percentile(stats[0].empty, 0.5);
  const double v = percentile(stats[0].version, 0.5), s = percentile(stats[0].status, 0.5);
  const double a = percentile(stats[0].add, 0.5);
  std::printf(
      "\n### Where a quasar ADD's median time goes\n\n"
      "| part | ms | how it is measured |\n|---|---|---|\n"
      "| exec + glibc start-up + exit of a program that does nothing | %.2f | empty static "
      "program's median (tests/bench_empty.cc) |\n"
      "| quasar's own start-up: static initialisers, reading the config | %.2f | VERSION median - "
      "empty median |\n"
      "| connect + one call to quasard (plugin socket) | %.2f | STATUS median - VERSION median |\n"
      "| config, veth pair, node and pod side, waiting for the commit | %.2f | "
      "ADD median - STATUS median |\n| total ADD | %.2f | |\n\n",
      e, v - e, s - v, a - s, a);
  std::printf("cycles: %zu quasar, %zu reference; failed invocations: quasar %d, reference %d\n",
              stats[0].cycle.size(), stats[1].cycle.size(), stats[0].failures, stats[1].failures);
  return stats[0].failures + stats[1].failures == 0 ? 0 : 1;
}
