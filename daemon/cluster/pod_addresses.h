#pragma once
// Pod addresses, published cluster-wide through the datastore. With the Kubernetes API source a
// pod's addresses are in Pod.status.podIPs (the kubelet writes them from the CNI result); with
// the datastore source nothing does that, so each node publishes the addresses of its own pods
// here and every node's object view reads them: a policy engine on any node maps any pod to
// its IPs either way.
//
// Keys (docs/datastore.md): podips/<node>/<namespace>/<name> -> {"uid": U, "ips": ["a", ...]}.
// Each node writes only under its own node name, so a restart can sync its subtree as a whole.

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "daemon/store/store.h"

namespace quasar::daemon {

inline constexpr char kPodIpsPrefix[] = "podips/";

struct PodAddresses {
  std::string node;
  std::string namespace_;
  std::string name;
  std::string uid;
  std::vector<std::string> ips;  // every attachment's addresses, sorted
  bool operator==(const PodAddresses&) const = default;
};

// One attachment of a pod, as the node's IPAM holds it.
struct AttachmentAddresses {
  std::string attachment;  // "<container id>/<ifname>"
  std::string namespace_;
  std::string name;
  std::string uid;
  std::vector<std::string> ips;
};

std::string podAddressesKey(const std::string& node, const std::string& namespace_,
                            const std::string& name);
std::string podAddressesValue(const PodAddresses& p);
// nullopt when the key or value is not a pod address record.
std::optional<PodAddresses> parsePodAddresses(const std::string& key, const std::string& value);
// True when `s` can be a namespace or pod name (a DNS-1123 subdomain, at most 253): anything
// else (a '/', a space) is refused before it becomes part of a key.
bool isKubernetesName(const std::string& s);

// Writes this node's pod addresses in the background: set()/remove() return at once, changes
// made within 50 ms of each other coalesce (per pod, and into one transaction), retried with
// backoff while the datastore is unreachable. An ADD never waits for it.
// Threading: thread-safe. Owns one thread, ended by stop() or the destructor.
class PodAddressPublisher {
 public:
  PodAddressPublisher(Store& store, std::string node);
  ~PodAddressPublisher() { stop(); }
  // Starts the writer. `current` is every attachment this node holds addresses for: keys of
  // other pods under this node (left by a previous run) are deleted in the first batch.
  void start(std::vector<AttachmentAddresses> current);
  // The attachment (any unique text, e.g. "<container id>/<ifname>") of the pod has `ips`
  // (empty: the attachment is gone). Pods whose names cannot be Kubernetes names are ignored.
  void setAttachment(const std::string& namespace_, const std::string& name,
                     const std::string& uid, const std::string& attachment,
                     std::vector<std::string> ips);
  // The attachment is gone (DEL, GC); unknown attachments are ignored.
  void removeAttachment(const std::string& attachment);
  // Waits until everything set so far is written, or the deadline passes. For tests and stop.
  bool flush(std::chrono::milliseconds deadline);
  void stop();

 private:
  void run();
  void setLocked(const std::string& namespace_, const std::string& name, const std::string& uid,
                 const std::string& attachment, std::vector<std::string> ips);
  absl::Status writeBatch(const std::map<std::string, std::optional<std::string>>& batch);

  Store& store_;
  const std::string node_;
  std::mutex mu_;
  std::condition_variable cv_;
  // namespace/name -> uid and ifname -> ips, as this node holds them.
  struct Pod {
    std::string uid;
    std::map<std::string, std::vector<std::string>> by_attachment;
  };
  std::map<std::pair<std::string, std::string>, Pod> pods_;
  std::map<std::string, std::pair<std::string, std::string>> pod_of_;  // attachment -> pod
  std::map<std::string, std::optional<std::string>> pending_;  // key -> value (nullopt: delete)
  bool writing_ = false;
  bool stopping_ = false;
  int flushing_ = 0;  // callers waiting in flush(): write without waiting for more changes
  std::vector<std::string> sync_deletes_;  // keys of pods no longer here, for the first batch
  bool synced_ = false;
  std::thread writer_;
};

}  // namespace quasar::daemon
