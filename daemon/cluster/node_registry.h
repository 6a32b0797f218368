#pragma once
// This node in the cluster datastore: its permanent record (nodes/<name>: address, underlay
// subnet, uplink, labels such as nvidia.com/gpu.present=true) and its liveness key
// (live/<name>) under a lease that a thread keeps alive. A daemon that stops renewing loses the
// key after the TTL, and every other daemon's ClusterView sees the node as not ready.
//
// It also knows how long ago the datastore last confirmed the registration (a keep-alive or a
// registration that succeeded): other nodes reclaim the blocks of a node gone longer than a
// grace (StaleBlockReclaimer), so quasard stops handing out addresses while the confirmation
// is older than half of it. A node that had to register again (its lease expired) runs the
// re-registration callback (quasard: which blocks does it still own?) before it counts as
// confirmed; a callback that fails is run again on the next renewal.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "daemon/store/store.h"
#include "nlohmann/json.hpp"

namespace quasar::daemon {

struct NodeRecord {
  std::string name;
  std::string ip;      // the node's address on its underlay
  std::string subnet;  // the underlay subnet of that address, e.g. 10.99.0.0/24
  std::string uplink;
  std::map<std::string, std::string> labels;

  nlohmann::json toJson() const;
  static NodeRecord fromJson(const nlohmann::json& j);
};

class NodeRegistry {
 public:
  NodeRegistry(Store& store, NodeRecord self, std::chrono::seconds ttl)
      : store_(store), self_(std::move(self)), ttl_(ttl) {}
  ~NodeRegistry() { stop(/*revoke=*/false); }

  // Writes the record and the liveness key, then keeps the lease alive (every TTL/3; a lease
  // that expired meanwhile, e.g. during a datastore outage, is granted anew).
  absl::Status start();
  // `revoke`: the node goes not-ready at once (a clean shutdown) instead of after the TTL.
  void stop(bool revoke);
  // Runs on the registry's thread after each registration but the first. Thread-safe.
  void setOnReRegistered(std::function<absl::Status()> callback);
  // Time since the datastore last confirmed the registration (monotonic clock).
  std::chrono::milliseconds sinceConfirmed() const;

 private:
  static int64_t steadyMs();
  void confirm() { confirmed_ms_ = steadyMs(); }
  absl::Status registerLive();
  void keepAliveLoop();

  Store& store_;
  const NodeRecord self_;
  const std::chrono::seconds ttl_;
  std::atomic<int64_t> lease_{0};
  std::atomic<int64_t> confirmed_ms_{0};
  bool verify_pending_ = false;                     // keep-alive thread only
  std::function<absl::Status()> on_re_registered_;  // under mu_
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace quasar::daemon
