#pragma once
// End-to-end test bed: a "node" network namespace running a real quasard, with an uplink veth to
// a "gw" namespace (10.250.N.0/24), and pods as further namespaces. Every name carries a prefix
// unique to this test process; the destructor kills the daemon and deletes every namespace and
// file it made, also when the test failed. Nothing touches the root namespace.

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "tests/spawn.h"

namespace quasar::tests {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
  nlohmann::json json() const;  // stdout parsed; null when it is not JSON
};

// "qt<pid>x<n>": the prefix of every name a test bed makes (pid modulo 100000). The first call
// in a process deletes the network namespaces of beds whose process is gone: one killed before
// it could clean up (ctest's timeout kills with SIGKILL) leaves them behind, and its servers die
// with it (parent-death signal). A namespace whose process may still live is never touched.
std::string bedPrefix(int n);

// The CNI error code of a plugin answer (-1 when it is no error JSON).
int cniCode(const CmdResult& r);
// The first address of an ADD result, without its prefix length ("" when none).
std::string podIpOf(const CmdResult& add);

// Runs argv with `input` on stdin and extra environment; waits for it.
CmdResult run(const std::vector<std::string>& argv, const std::string& input = "",
              const std::map<std::string, std::string>& env = {});
// Runs a shell command line; fails the test (via the result) on non-zero exit where asked.
CmdResult sh(const std::string& command);

class Testbed {
 public:
  struct Options {
    std::string pod_cidr = "10.244.1.0/24";  // empty: none in the config (ipam: kubernetes)
    double cooldown_seconds = 0;
    // An existing namespace to be the node (not made or removed here), e.g. the test's own from
    // tests/in-netns.sh ($QUASAR_TEST_NETNS), so quasard reaches servers the test runs on its
    // loopback (the API server stand-in). Empty: a namespace of its own.
    std::string node_ns;
    // More lines for quasard.yaml (e.g. "kubernetes: {kubeconfig: ...}").
    std::string extra_config;
    // False: no gateway namespace and no uplink veth (the node namespace has its own uplink,
    // e.g. vpc-sim's primary interface); nodeIp() and gatewayIp() are then meaningless.
    bool uplink = true;
  };
  Testbed();
  explicit Testbed(Options options);
  ~Testbed();
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;

  const std::string& nodeNs() const { return node_ns_; }
  // The uplink's far end: a namespace with no quasar (the gateway at gatewayIp()).
  const std::string& gatewayNs() const { return gw_ns_; }
  // The bed's own directory (removed with the bed): a place for files the test writes.
  const std::string& dir() const { return dir_; }
  const std::string& socket() const { return socket_; }
  // quasard's nodeName (also the prefix of every name the bed makes).
  const std::string& nodeName() const { return prefix_; }
  std::string nodeIp() const { return node_ip_; }
  // The uplink's gateway: outside the cluster, with no route to pods.
  std::string gatewayIp() const { return node_ip_.substr(0, node_ip_.rfind('.')) + ".254"; }

  void startDaemon();
  // SIGTERM (clean) or SIGKILL (crash); waits for the process.
  void stopDaemon(int signal);
  bool daemonRunning() const { return daemon_pid_ > 0; }

  // Creates a pod namespace and returns its path (/run/netns/NAME).
  std::string addPod(const std::string& name);
  void deletePodNs(const std::string& name);
  std::string podNs(const std::string& name) const { return prefix_ + "-" + name; }

  // The network config the plugin gets on stdin; `extra` is merged in.
  nlohmann::json netConf(const std::string& version = "1.1.0",
                         const nlohmann::json& extra = nlohmann::json::object()) const;
  // Runs the plugin inside the node namespace.
  CmdResult cni(const std::string& command, const std::string& container, const std::string& pod,
                const nlohmann::json& conf, const std::string& ifname = "eth0",
                const std::map<std::string, std::string>& extra_env = {});
  CmdResult cniRaw(const std::string& input, const std::map<std::string, std::string>& env);
  // Runs a command inside a namespace.
  CmdResult inNs(const std::string& ns, const std::string& command);
  CmdResult ctl(const std::string& args);
  // quasard's allocations as reported by quasarctl (JSON).
  nlohmann::json allocations();
  // Node-side veths (quasar's prefix) in the node namespace.
  std::vector<std::string> hostVeths();
  // quasard removes veths after answering DEL: waits (up to 5 s) until `n` are left.
  std::vector<std::string> hostVethsSettled(size_t n = 0);
  std::string daemonLog() const;
  // quasard's plugin socket.
  std::string cniSocket() const { return dir_ + "/cni.sock"; }

 private:
  Options options_;
  std::string prefix_;
  std::string dir_;
  std::string node_ns_;
  std::string gw_ns_;
  std::string socket_;
  std::string node_ip_;
  pid_t daemon_pid_ = -1;
  std::vector<std::string> namespaces_;
};

}  // namespace quasar::tests
