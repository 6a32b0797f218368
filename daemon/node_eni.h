#pragma once
// The node's ENI multi-IP IPAM, wired together (docs/eni.md):
//   - the cloud: Ec2Provider (EC2's Query API; credentials and region from the environment or
//     IMDSv2), built from the config's `eni` section;
//   - the pool of the node's interfaces and their secondary addresses (ipam/eni/eni_pool.h),
//     its refiller thread (the warm targets), and the AddressSource the AddressManager drives;
//   - the data path agent (daemon/agents/eni_agent.h): interfaces configured, route tables,
//     policy rules; one pod's rules before its ADD answers.
// Which nodes: those the config's eni.nodeSelector selects (enabledOn()).
//
// Order in quasard: create() before the AddressManager (whose create() restores the store's
// allocations into source()), then start(). Threading: start()/stop() from one thread; the rest
// is thread-safe.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "conf/daemon_config.h"
#include "conf/eni_config.h"
#include "daemon/agents/eni_agent.h"
#include "daemon/cluster/object_view.h"
#include "ipam/cloud/cloud_provider.h"
#include "ipam/eni/eni_pool.h"
#include "ipam/eni/eni_source.h"

namespace quasar::daemon {

class NodeEni {
 public:
  struct Options {
    conf::EniConfig config;
    std::string node_name;
    int64_t reuse_cooldown_ms = 30000;  // quasard's releaseCooldownSeconds
    int mtu = 0;                        // interfaces' MTU; 0: the cloud's
    std::function<int64_t()> clock;     // Unix time in milliseconds (the refiller's)
  };

  // Whether `config` puts a node with `labels` in ENI mode.
  static bool enabledOn(const conf::EniConfig& config,
                        const std::map<std::string, std::string>& labels);
  // The node's labels for that choice: the config's, and the Node object's (which win) once
  // `view` has synced, waited for up to `wait` only when the config's alone do not select the
  // node (a GPU node's labels come from its Node object).
  static std::map<std::string, std::string> nodeLabels(const conf::DaemonConfig& config,
                                                       const ObjectView& view,
                                                       std::chrono::milliseconds wait);

  // With the production cloud (Ec2Provider). InvalidArgument for a bad setting; Unavailable
  // when the region must come from the metadata service and it does not answer.
  static absl::StatusOr<std::unique_ptr<NodeEni>> create(Options options);
  // With a given cloud (tests); `cold_cloud` (may be null) serves the calls an ADD waits on.
  static absl::StatusOr<std::unique_ptr<NodeEni>> create(
      Options options, std::unique_ptr<ipam::cloud::CloudProvider> cloud,
      std::unique_ptr<ipam::cloud::CloudProvider> cold_cloud = nullptr);
  ~NodeEni();
  NodeEni(const NodeEni&) = delete;
  NodeEni& operator=(const NodeEni&) = delete;

  ipam::AddressSource& source() { return source_; }
  ipam::eni::EniPool& pool() { return pool_; }
  EniAgent& agent() { return agent_; }

  // Starts the pool (describe the instance, adopt quasar's interfaces, reconcile with the
  // restored allocations; on failure the refiller's passes retry it), the refiller and the data
  // path agent. Errors: only the agent's (no netlink socket).
  absl::Status start();
  void stop();

 private:
  NodeEni(Options options, std::unique_ptr<ipam::cloud::CloudProvider> cloud,
          std::unique_ptr<ipam::cloud::CloudProvider> cold_cloud);

  const Options options_;
  std::unique_ptr<ipam::cloud::CloudProvider> cloud_;
  std::unique_ptr<ipam::cloud::CloudProvider> cold_cloud_;
  ipam::eni::EniPool pool_;
  EniAgent agent_;
  ipam::eni::EniRefiller refiller_;
  ipam::eni::EniSource source_;
};

}  // namespace quasar::daemon
