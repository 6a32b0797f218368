#pragma once
// A multi-node cluster test bed (label netns, needs root): a real etcd in its own namespace and
// three quasard "nodes" in three namespaces, all on a test bridge (10.99.N.0/24) in a "lan"
// namespace. Pods are namespaces attached through the real plugin. Every name carries a prefix
// unique to this process and fixture; TearDown kills every server and deletes every namespace
// and file, also when the test failed. Nothing touches the root namespace.
//
// Derived fixtures set the protected options (two_subnets_, mode_, node_extra_, ...) in their
// constructor, before SetUp. Servers are started from the test's main thread (their parent-death
// signal follows the thread that started them, tests/spawn.h); add()/del() may run in threads.

#include <gtest/gtest.h>
#include <sys/types.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/testbed.h"

namespace quasar::tests {

class ClusterBed : public ::testing::Test {
 protected:
  static constexpr int kNodes = 3;

  void SetUp() override;
  void TearDown() override;

  // This bed's name of namespace `name` ("n1", "etcd", "lan", a pod's name).
  std::string ns(const std::string& name) const { return prefix_ + "-" + name; }
  void addNs(const std::string& name);
  // A namespace with an uplink `dev` on the bridge of `lan`, at <subnet>.<host>; a `dev` other
  // than up0 is a second uplink of an existing namespace.
  void attach(const std::string& name, int host, const std::string& lan = "lan",
              std::string subnet = "", const std::string& dev = "up0");

  // (Re)starts etcd on <subnet>.100 with its data directory under dir_; waits until it is healthy.
  void startEtcd();
  std::string nodeDir(int i) const { return dir_ + "/n" + std::to_string(i); }
  std::string socket(int i) const { return nodeDir(i) + "/quasard.sock"; }
  // (Re)starts quasard n<i>; waits until `quasarctl status` answers.
  void startNode(int i, const std::string& extra = "");
  // SIGKILLs and reaps the server `name` ("etcd", "n1", ...); no-op when it is not running.
  void killServer(const std::string& name);
  std::string nodeLog(int i) const;

  CmdResult inNs(const std::string& name, const std::string& cmd);
  CmdResult ctl(int i, const std::string& args);
  nlohmann::json nodes(int i) { return ctl(i, "-o json nodes").json(); }

  nlohmann::json cniConf(int i) const;
  // DEL / ADD of container `pod` on node i; ADD makes the fresh pod namespace ns(pod) first.
  // `env` adds to the plugin's environment (e.g. CNI_ARGS). Thread-safe.
  CmdResult del(int i, const std::string& pod, const std::map<std::string, std::string>& env = {});
  CmdResult add(int i, const std::string& pod, const std::map<std::string, std::string>& env = {});
  // The two halves of add(): a pod namespace ns(name) (false when it could not be made), and an
  // ADD of `container` into the existing namespace ns(pod_ns) (e.g. a retried ADD).
  bool makePodNs(const std::string& name);
  CmdResult addIn(int i, const std::string& container, const std::string& pod_ns,
                  const std::map<std::string, std::string>& env = {});

  static int counter_;
  // Set by derived fixtures before SetUp.
  bool two_subnets_ = false;
  std::string mode_ = "ipip-crosssubnet";
  std::map<int, std::string> node_mode_;  // per-node override, for restarts in another mode
  std::string node_extra_;                // appended to every node's config
  std::string prefix_, subnet_, subnet2_, dir_;
  std::vector<std::string> namespaces_;
  std::map<std::string, pid_t> pids_;
  std::mutex mu_;
};

// The first address of a plugin ADD result, without its prefix length ("" when none).
std::string ipOf(const CmdResult& r);

}  // namespace quasar::tests
