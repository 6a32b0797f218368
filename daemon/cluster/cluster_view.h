#pragma once
// quasard's in-memory view of the cluster: every node's record, whether it is ready (its
// liveness key exists) and the blocks it owns. Loaded with one list and kept current by a watch
// that resumes after the listed revision; a watch that cannot resume (history compacted) is
// replaced by a fresh list and watch. Later routing and policy code subscribe to it.
//
// Threading: thread-safe. Listeners run on the store's watch thread or on the view's reload
// thread, one at a time, and must be quick. The reload thread and the watch are owned: stop()
// (or the destructor) ends both, and no listener runs after it returns.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "conf/ip.h"
#include "daemon/cluster/node_registry.h"
#include "daemon/metrics/quasard_metrics.h"
#include "daemon/store/store.h"

namespace quasar::daemon {

struct NodeView {
  NodeRecord record;
  bool ready = false;
  std::vector<conf::IpPrefix> blocks;
};

class ClusterView {
 public:
  // A listener's registration. Destroying it (or reset()) unsubscribes and waits for a call of
  // the listener in flight, so what the listener uses may go right after; it must therefore not
  // be destroyed from inside a listener. Must not outlive the view.
  class Subscription {
   public:
    Subscription() = default;
    Subscription(Subscription&& o) noexcept;
    Subscription& operator=(Subscription&& o) noexcept;
    ~Subscription() { reset(); }
    void reset();

   private:
    friend class ClusterView;
    Subscription(ClusterView* view, uint64_t id) : view_(view), id_(id) {}
    ClusterView* view_ = nullptr;
    uint64_t id_ = 0;
  };

  explicit ClusterView(Store& store) : store_(store) {}
  ~ClusterView() { stop(); }
  // Lists and watches; a failed list is returned (nothing runs then).
  absl::Status start();
  // Ends the reload thread and the watch. Idempotent.
  void stop();
  std::vector<NodeView> nodes() const;  // sorted by name
  // True while the last list succeeded and its watch runs: false before start() and from a
  // failed watch until the list that replaces it.
  bool synced() const;
  // Lists, applied events and synced() go to these series (quasar_watch_*, kind "cluster").
  // Call before start(); the metrics must outlive the view.
  void setMetrics(metrics::WatchMetrics m) { metrics_.emplace(m); }
  // `listener` is called after every change the view applies, until the subscription goes.
  [[nodiscard]] Subscription subscribe(std::function<void()> listener);

 private:
  absl::Status load();
  void reloadLoop();
  void notify();
  void unsubscribe(uint64_t id);
  void apply(const std::vector<WatchEvent>& events);
  void applyKv(const std::string& key, const std::string* value);  // value null: deleted

  Store& store_;
  // Taken before mu_ and held while listeners run, so unsubscribing waits for a call in flight.
  std::mutex notify_mu_;
  mutable std::mutex mu_;
  std::map<std::string, NodeRecord> records_;
  std::map<std::string, bool> live_;
  std::map<std::string, std::string> block_owner_;  // block key -> node
  std::map<uint64_t, std::function<void()>> listeners_;
  uint64_t next_listener_ = 1;
  std::unique_ptr<Watch> watch_;
  bool reload_ = false;  // the watch failed: list and watch afresh
  bool synced_ = false;
  std::optional<metrics::WatchMetrics> metrics_;
  bool stopping_ = false;
  std::condition_variable cv_;  // reload_ or stopping_ changed
  std::thread reloader_;
};

}  // namespace quasar::daemon
