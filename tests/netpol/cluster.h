#pragma once
// The cluster of the NetworkPolicy conformance suite (label netns, needs root), after upstream
// Kubernetes' e2e netpol suite: on a Testbed (a node namespace with a real quasard on SQLite),
// Namespace objects x, y, z (labels ns=<name> and kubernetes.io/metadata.name=<name>, as the
// API server sets), Pod objects a, b, c in each (label pod=<name>, spec.nodeName = the bed's
// node, one container per port and protocol with upstream's named ports serve-80-tcp,
// serve-81-udp...), each a network namespace attached through the real plugin (CNI ADD with
// K8S_POD_NAMESPACE/K8S_POD_NAME) and running `netpol_probe serve` on TCP and UDP 80 and 81 (and
// SCTP where the kernel has it). The bed's Node object is applied too (labels settable), so
// quasar.io/v1 policies can select by node labels.
//
// A fence: namespace "fence" with pods fence/from and fence/to, outside the 9x9 grid. Every
// waitFor() first flips a policy isolating fence/to (applies it, or deletes it) and waits until
// fence/from -> fence/to shows the flip: quasard has then acted on every object written before
// it, so a table that must not change (an allow-all policy) is checked after enforcement, not
// before. Then it probes until the expected table is seen or the time is up. A fence that was
// not seen once (quasard enforces nothing) is skipped from then on, and the reports say so.
//
// Objects go through `quasarctl apply -f` / `delete -f` (YAML or JSON text). The constructor
// throws std::runtime_error when the cluster cannot be built (as Testbed does); the destructor
// kills the servers, and the Testbed kills quasard and removes every namespace and file, also
// after a failure. Every process started here dies with the test (tests/spawn.h); build it on
// the thread that outlives it (GoogleTest's main thread, e.g. in SetUpTestSuite).
// Thread-compatible.

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/netpol/truth_table.h"
#include "tests/testbed.h"

namespace quasar::tests::netpol {

enum class Protocol { kTcp, kUdp, kSctp };
const char* protocolName(Protocol p);  // "tcp", "udp", "sctp" (netpol_probe's words)
const char* protocolK8s(Protocol p);   // "TCP", "UDP", "SCTP"

// Whether this kernel opens SCTP sockets; when not, `why` says what socket() answered.
bool kernelHasSctp(std::string* why);

using Labels = std::map<std::string, std::string>;

class Cluster {
 public:
  static constexpr int kPorts[] = {80, 81};

  Cluster();
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  Testbed& bed() { return *bed_; }
  bool sctp() const { return sctp_; }
  const std::string& sctpMissingReason() const { return sctp_why_; }
  // "x/a", "x/b", ... "z/c": the grid's order.
  const std::vector<std::string>& podStrings() const { return grid_; }
  // The pod's address (IPv4, from its CNI result); "" for an unknown pod.
  std::string podIp(const std::string& pod_string) const;

  // quasarctl apply -f / delete -f of `text` (YAML or JSON, several documents). "" on success,
  // else quasarctl's output.
  std::string apply(const std::string& text);
  std::string remove(const std::string& text);
  // Deletes every networking.k8s.io/v1 and quasar.io/v1 NetworkPolicy there is (not the
  // fence's). "" on success.
  std::string deleteAllPolicies();

  // Replace the labels of a pod ("x/a"), a namespace, or the bed's Node. "" on success.
  std::string setPodLabels(const std::string& pod_string, const Labels& labels);
  std::string setNamespaceLabels(const std::string& ns, const Labels& labels);
  std::string setNodeLabels(const Labels& labels);
  // Every label back to the defaults, in one transaction. "" on success.
  std::string resetLabels();
  bool labelsChanged() const { return labels_changed_; }

  // One probe of every ordered pair of the grid at once (one `netpol_probe matrix` process).
  Observation probeAll(int port, Protocol proto,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));
  // The fence, then probes until `expected` is observed or `within` passed; the last
  // comparison (its report also says when the fence was not seen).
  Comparison waitFor(const Reachability& expected, int port, Protocol proto,
                     std::chrono::milliseconds within = std::chrono::seconds(10));

 private:
  struct TestPod {
    std::string ns;
    std::string name;
    std::string netns;  // the bed's namespace name
    std::string ip;
    pid_t server = -1;
  };
  void addNamespace(const std::string& ns);
  void addPod(const std::string& ns, const std::string& name);
  void startServers();
  nlohmann::json namespaceObject(const std::string& ns, const Labels& labels) const;
  nlohmann::json podObject(const std::string& ns, const std::string& name,
                           const Labels& labels) const;
  nlohmann::json nodeObject(const Labels& labels) const;
  const TestPod* find(const std::string& ns, const std::string& name) const;
  // Flips the fence and waits until fence/from -> fence/to shows it; "" or what went wrong.
  std::string fence(std::chrono::milliseconds within);
  std::string ctlWithFile(const std::string& verb, const std::string& text);

  std::unique_ptr<Testbed> bed_;
  bool sctp_ = false;
  std::string sctp_why_;
  std::vector<std::string> namespaces_;
  std::vector<TestPod> pods_;  // the grid's pods, then the fence's
  std::vector<std::string> grid_;
  bool fence_up_ = false;
  std::string fence_broken_;  // why the fence failed once; then it is skipped
  bool labels_changed_ = false;
  int files_ = 0;
};

}  // namespace quasar::tests::netpol
