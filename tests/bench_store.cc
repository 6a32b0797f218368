// Benchmark driver for scripts/bench-store.sh (runs inside the benchmark's namespace).
//   bench_store ipam SOCKET CLIENTS TOTAL          allocations/s through quasard's gRPC API
//   bench_store etcd-writes ENDPOINT COUNT         etcd's own single-client write rate (Txn)
//   bench_store simulate ENDPOINT NODES CIDR LEN   NODES simulated nodes register and claim a
//                                                  block each; then how long one more node
//                                                  takes to reach a watching view
// Prints one markdown table row per measurement.

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "daemon/cluster/block_manager.h"
#include "daemon/cluster/cluster_view.h"
#include "daemon/store/etcd_store.h"
#include "daemon/cluster/node_registry.h"
#include "daemon/agents/routing_agent.h"
#include "daemon/api/quasard.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace pb = quasar::api::v1;
using namespace quasar::daemon;

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

int ipam(const std::string& socket, int clients, int total, const std::string& label) {
  auto channel = grpc::CreateChannel("unix:" + socket, grpc::InsecureChannelCredentials());
  std::atomic<int> next{0}, failures{0};
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      auto stub = pb::Quasard::NewStub(channel);
      for (int i = next++; i < total; i = next++) {
        pb::AllocateRequest req;
        req.mutable_attachment()->set_container_id("bench" + std::to_string(clients) + "-" +
                                                   std::to_string(i));
        req.mutable_attachment()->set_ifname("eth0");
        req.set_network("bench");
        pb::AllocateReply reply;
        grpc::ClientContext ctx;
        if (!stub->Allocate(&ctx, req, &reply).ok()) ++failures;
      }
      (void)c;
    });
  }
  for (auto& t : threads) t.join();
  const double secs = secondsSince(start);
  std::printf("| %s, %d client%s | %d allocations | %.0f allocations/s | %d failed |\n",
              label.c_str(), clients, clients == 1 ? "" : "s", total, total / secs,
              failures.load());
  return failures == 0 ? 0 : 1;
}

EtcdOptions etcdAt(const std::string& endpoint, const std::string& prefix) {
  EtcdOptions o;
  o.endpoints = {endpoint};
  o.key_prefix = prefix;
  return o;
}

int etcdWrites(const std::string& endpoint, int count) {
  auto store = EtcdStore::open(etcdAt(endpoint, "/bench-writes/"));
  if (!store.ok()) return 1;
  const auto start = Clock::now();
  for (int i = 0; i < count; ++i) {
    auto k = "k" + std::to_string(i);
    if (!(*store)->txn({Compare::absent(k)}, {Op::put(k, "v")}, {}).ok()) return 1;
  }
  std::printf(
      "| etcd itself: sequential compare-and-swap Txn, 1 client | %d writes | %.0f writes/s | 0 "
      "failed |\n",
      count, count / secondsSince(start));
  return 0;
}

int simulate(const std::string& endpoint, int nodes, const std::string& cidr, int block_len) {
  auto store = EtcdStore::open(etcdAt(endpoint, "/bench-sim/"));
  if (!store.ok()) return 1;
  const auto cluster = *quasar::conf::IpPrefix::parse(cidr);
  // A daemon's view, watching from the start.
  ClusterView view(**store);
  if (!view.start().ok()) return 1;
  std::atomic<int> next{0}, failures{0};
  std::vector<std::unique_ptr<NodeRegistry>> registries(nodes + 1);
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < 32; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < nodes; i = next++) {
        const std::string name = "sim" + std::to_string(i);
        NodeRecord rec{name,
                       "10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250),
                       "10.200.0.0/16",
                       "eth0",
                       {}};
        registries[i] = std::make_unique<NodeRegistry>(**store, rec, std::chrono::seconds(60));
        BlockManager blocks(**store, name, cluster, block_len);
        if (!registries[i]->start().ok() || !blocks.claim().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  const double all = secondsSince(start);
  std::printf(
      "| %d simulated nodes register and claim a /%d each (32 at a time) | %.2f s | %.0f nodes/s | "
      "%d failed |\n",
      nodes, block_len, all, nodes / all, failures.load());
  // One more node appears: how long until the watching view has it?
  std::atomic<bool> seen{false};
  auto subscription = view.subscribe([&] {
    for (const auto& n : view.nodes()) {
      if (n.record.name == "newcomer" && n.ready) seen = true;
    }
  });
  const auto appear = Clock::now();
  registries[nodes] = std::make_unique<NodeRegistry>(
      **store, NodeRecord{"newcomer", "10.201.0.1", "10.201.0.0/16", "eth0", {}},
      std::chrono::seconds(60));
  if (!registries[nodes]->start().ok()) return 1;
  while (!seen && secondsSince(appear) < 10)
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  std::printf(
      "| a new node's registration reaches a watching daemon's view (%zu nodes known) | %.1f ms | "
      "| %s |\n",
      view.nodes().size(), secondsSince(appear) * 1000, seen ? "0 failed" : "NOT SEEN");
  for (auto& r : registries) {
    if (r) r->stop(/*revoke=*/true);
  }
  return failures == 0 && seen ? 0 : 1;
}

// Routes at scale: NODES simulated nodes (each with one /26) registered in etcd; one routing
// agent in this namespace (uplink up0 on their subnet) programs a route per remote block.
int countNodeRoutes() {
  FILE* f = popen("ip route show proto 114 | grep -vc blackhole", "r");
  int n = 0;
  if (f) {
    if (fscanf(f, "%d", &n) != 1) n = 0;
    pclose(f);
  }
  return n;
}

int routes(const std::string& endpoint, int nodes) {
  auto store = EtcdStore::open(etcdAt(endpoint, "/bench-routes/"));
  if (!store.ok()) return 1;
  const auto cluster = *quasar::conf::IpPrefix::parse("10.64.0.0/10");
  std::atomic<int> next{0}, failures{0};
  std::vector<std::unique_ptr<NodeRegistry>> registries(nodes + 1);
  std::vector<std::thread> threads;
  for (int w = 0; w < 32; ++w) {
    threads.emplace_back([&] {
      for (int i = next++; i < nodes; i = next++) {
        const std::string name = "r" + std::to_string(i);
        NodeRecord rec{name,
                       "10.200." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1),
                       "10.200.0.0/16",
                       "up0",
                       {}};
        registries[i] = std::make_unique<NodeRegistry>(**store, rec, std::chrono::seconds(60));
        BlockManager blocks(**store, name, cluster, 26);
        if (!registries[i]->start().ok() || !blocks.claim().ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  ClusterView view(**store);
  quasar::routing::LocalNode local{"bench-local",
                                   "up0",
                                   *quasar::conf::IpPrefix::parse("10.200.0.0/16"),
                                   {},
                                   *quasar::conf::IpAddress::parse("10.200.255.254"),
                                   1500};
  const auto start = Clock::now();
  if (!view.start().ok()) return 1;
  ClusterViewDirectory directory(view);
  RoutingAgent agent(directory, local, quasar::conf::RoutingMode::kIpipCrossSubnet,
                     std::chrono::milliseconds(500));
  agent.start();
  // Polling forks `ip`: every 10 ms, so the poller does not starve the agent on two cores.
  while (countNodeRoutes() < nodes && secondsSince(start) < 60) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const double all = secondsSince(start);
  const int count = countNodeRoutes();
  std::printf(
      "| one daemon programs the routes to %d simulated nodes (a /26 each) | %.2f s | %d routes "
      "(one per remote block) | %d failed |\n",
      nodes, all, count, failures.load() + (count == nodes ? 0 : 1));
  // One change: a new node with a block; time until its route is in the kernel.
  const auto change = Clock::now();
  registries[nodes] = std::make_unique<NodeRegistry>(
      **store, NodeRecord{"newcomer", "10.200.254.1", "10.200.0.0/16", "up0", {}},
      std::chrono::seconds(60));
  BlockManager blocks(**store, "newcomer", cluster, 26);
  if (!registries[nodes]->start().ok() || !blocks.claim().ok()) return 1;
  while (countNodeRoutes() < nodes + 1 && secondsSince(change) < 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::printf(
      "| a new node registers and claims a block: its route is in the kernel of a daemon that "
      "knows %d nodes | %.1f ms | %d routes | %s |\n",
      nodes, secondsSince(change) * 1000, countNodeRoutes(),
      countNodeRoutes() == nodes + 1 ? "0 failed" : "NOT PROGRAMMED");
  agent.stop();
  for (auto& r : registries) {
    if (r) r->stop(/*revoke=*/true);
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  spdlog::set_level(spdlog::level::warn);  // stdout carries only the table rows
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "ipam" && argc == 6)
    return ipam(argv[2], std::atoi(argv[3]), std::atoi(argv[4]), argv[5]);
  if (mode == "etcd-writes" && argc == 4) return etcdWrites(argv[2], std::atoi(argv[3]));
  if (mode == "routes" && argc == 4) return routes(argv[2], std::atoi(argv[3]));
  if (mode == "simulate" && argc == 6) {
    return simulate(argv[2], std::atoi(argv[3]), argv[4], std::atoi(argv[5]));
  }
  std::fprintf(stderr, "usage: see the header of tests/bench_store.cc\n");
  return 2;
}
