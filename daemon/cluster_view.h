#pragma once
// quasard's in-memory view of the cluster: every node's record, whether it is ready (its
// liveness key exists) and the blocks it owns. Loaded with one list and kept current by a watch
// that resumes after the listed revision; a watch that cannot resume (history compacted) is
// replaced by a fresh list and watch. Later routing and policy code subscribe to it.
// Thread-safe; listeners run on the store's watch thread and must be quick.

#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "conf/ip.h"
#include "daemon/node_registry.h"
#include "daemon/store.h"

namespace quasar::daemon {

struct NodeView {
  NodeRecord record;
  bool ready = false;
  std::vector<conf::IpPrefix> blocks;
};

class ClusterView {
 public:
  explicit ClusterView(Store& store) : store_(store) {}
  absl::Status start();
  std::vector<NodeView> nodes() const;  // sorted by name
  // Called after every change the view applies.
  void subscribe(std::function<void()> listener);

 private:
  absl::Status load();
  void apply(const std::vector<WatchEvent>& events);
  void applyKv(const std::string& key, const std::string* value);  // value null: deleted

  Store& store_;
  mutable std::mutex mu_;
  std::map<std::string, NodeRecord> records_;
  std::map<std::string, bool> live_;
  std::map<std::string, std::string> block_owner_;  // block key -> node
  std::vector<std::function<void()>> listeners_;
  std::unique_ptr<Watch> watch_;
};

}  // namespace quasar::daemon
