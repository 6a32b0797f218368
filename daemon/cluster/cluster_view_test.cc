#include "daemon/cluster/cluster_view.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "daemon/cluster/cluster_keys.h"

namespace quasar::daemon {
namespace {

using std::chrono::steady_clock;

// An in-memory store with just what the view uses: list() and watch(). The test fires the
// watch's events and errors itself; list() can be made slow or failing.
class FakeStore : public Store {
 public:
  void setNode(const std::string& name) {
    std::lock_guard lock(mu_);
    NodeRecord r;
    r.name = name;
    kvs_[keys::node(name)] = r.toJson().dump();
  }
  void setSlowList(bool slow) { slow_list_ = slow; }
  void setListFails(bool fails) { list_fails_ = fails; }
  int lists() const { return lists_; }
  int listsInFlight() const { return lists_in_flight_; }
  int watches() const {
    std::lock_guard lock(mu_);
    return static_cast<int>(callbacks_.size());
  }

  // Delivers a put of node `name` to every open watch, as the store's watch thread would.
  void firePut(const std::string& name) {
    setNode(name);
    WatchEvent e;
    e.kv.key = keys::node(name);
    {
      std::lock_guard lock(mu_);
      e.kv.value = kvs_[e.kv.key];
    }
    fire({e}, absl::OkStatus());
  }
  // Ends every open watch with an error (a compaction): the view must reload.
  void fireError() { fire({}, absl::OutOfRangeError("compacted")); }

  absl::StatusOr<ListResult> list(const std::string&) override {
    ++lists_in_flight_;
    ++lists_;
    if (slow_list_) std::this_thread::sleep_for(std::chrono::milliseconds(300));
    ListResult out;
    {
      std::lock_guard lock(mu_);
      for (const auto& [k, v] : kvs_) out.kvs.push_back({k, v, 1, 1, 1, 0});
      out.revision = 1;
    }
    --lists_in_flight_;
    if (list_fails_) return absl::UnavailableError("store down");
    return out;
  }
  absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string&, int64_t,
                                               WatchCallback callback) override {
    std::lock_guard lock(mu_);
    const int id = next_id_++;
    callbacks_[id] = std::move(callback);
    return std::unique_ptr<Watch>(new FakeWatch(*this, id));
  }

  absl::StatusOr<std::optional<KeyValue>> get(const std::string&) override { return none(); }
  absl::StatusOr<int64_t> put(const std::string&, const std::string&, int64_t) override {
    return none();
  }
  absl::StatusOr<int64_t> del(const std::string&) override { return none(); }
  absl::StatusOr<TxnResult> txn(const std::vector<Compare>&, const std::vector<Op>&,
                                const std::vector<Op>&) override {
    return none();
  }
  absl::StatusOr<int64_t> grantLease(std::chrono::seconds) override { return none(); }
  absl::Status keepAlive(int64_t) override { return none(); }
  absl::Status revokeLease(int64_t) override { return none(); }
  std::string describe() const override { return "fake"; }

 private:
  class FakeWatch : public Watch {
   public:
    FakeWatch(FakeStore& store, int id) : store_(store), id_(id) {}
    // Like the real ones: stops, and waits for a callback in flight.
    ~FakeWatch() override {
      std::lock_guard fire(store_.fire_mu_);
      std::lock_guard lock(store_.mu_);
      store_.callbacks_.erase(id_);
    }

   private:
    FakeStore& store_;
    const int id_;
  };
  static absl::Status none() { return absl::UnimplementedError("not in the fake"); }

  void fire(const std::vector<WatchEvent>& events, const absl::Status& error) {
    std::lock_guard fire(fire_mu_);
    std::map<int, WatchCallback> callbacks;
    {
      std::lock_guard lock(mu_);
      callbacks = callbacks_;
      if (!error.ok()) callbacks_.clear();  // no more calls after an error
    }
    for (const auto& [id, cb] : callbacks) cb(events, error);
  }

  mutable std::mutex mu_;
  std::mutex fire_mu_;  // held while callbacks run
  std::map<std::string, std::string> kvs_;
  std::map<int, WatchCallback> callbacks_;
  int next_id_ = 1;
  std::atomic<bool> slow_list_{false};
  std::atomic<bool> list_fails_{false};
  std::atomic<int> lists_{0};
  std::atomic<int> lists_in_flight_{0};
};

template <typename F>
bool eventually(F done, std::chrono::seconds limit = std::chrono::seconds(10)) {
  const auto deadline = steady_clock::now() + limit;
  while (!done()) {
    if (steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

TEST(ClusterView, ReloadsAfterTheWatchFails) {
  FakeStore store;
  store.setNode("a");
  ClusterView view(store);
  ASSERT_TRUE(view.start().ok());
  ASSERT_EQ(view.nodes().size(), 1u);
  store.setNode("b");  // missed by the watch: only a fresh list shows it
  store.fireError();
  EXPECT_TRUE(eventually([&] { return view.nodes().size() == 2; }));
  EXPECT_TRUE(eventually([&] { return store.watches() == 1; }));
  store.firePut("c");
  EXPECT_EQ(view.nodes().size(), 3u);
}

TEST(ClusterView, DestroyedWhileReloadingLeavesNoThreadBehind) {
  FakeStore store;
  auto view = std::make_unique<ClusterView>(store);
  ASSERT_TRUE(view->start().ok());
  store.setSlowList(true);
  store.setListFails(true);  // the reload keeps retrying
  store.fireError();
  ASSERT_TRUE(eventually([&] { return store.listsInFlight() == 1; }));
  view.reset();
  // The view's reload must be over once the view is gone: nothing may still call the store
  // (or, after its list, the freed view).
  EXPECT_EQ(store.listsInFlight(), 0);
  ASSERT_TRUE(eventually([&] { return store.listsInFlight() == 0; }));
}

TEST(ClusterView, AListenerIsNotCalledAfterItsSubscriptionIsGone) {
  FakeStore store;
  ClusterView view(store);
  ASSERT_TRUE(view.start().ok());
  std::atomic<int> first{0}, second{0};
  auto a = view.subscribe([&] { ++first; });
  auto b = view.subscribe([&] { ++second; });
  store.firePut("a");
  EXPECT_EQ(first.load(), 1);
  EXPECT_EQ(second.load(), 1);
  a.reset();
  store.firePut("b");
  EXPECT_EQ(second.load(), 2);  // the notification happened ...
  EXPECT_EQ(first.load(), 1);   // ... without the listener that left
}

TEST(ClusterView, SubscribeAndUnsubscribeWhileReloading) {
  FakeStore store;
  ClusterView view(store);
  ASSERT_TRUE(view.start().ok());
  std::atomic<bool> done{false};
  std::atomic<int> calls{0}, late_calls{0};
  std::vector<std::thread> subscribers;
  for (int t = 0; t < 4; ++t) {
    subscribers.emplace_back([&] {
      while (!done) {
        // The listener's state dies with the subscription: a call after reset() would be a
        // use after free in the daemon.
        auto alive = std::make_shared<std::atomic<bool>>(true);
        auto sub = view.subscribe([&calls, &late_calls, alive] {
          ++calls;
          if (!*alive) ++late_calls;
        });
        std::this_thread::yield();
        sub.reset();
        *alive = false;
      }
    });
  }
  // Reloads (from the view's thread) and events (from the "watch thread", this one) meanwhile.
  for (int i = 0; i < 50; ++i) {
    store.fireError();
    ASSERT_TRUE(eventually([&] { return store.watches() == 1; }));
    store.firePut("n" + std::to_string(i % 5));
  }
  ASSERT_TRUE(eventually([&] { return calls > 0; }));
  done = true;
  for (auto& t : subscribers) t.join();
  EXPECT_EQ(late_calls.load(), 0);
  EXPECT_EQ(view.nodes().size(), 5u);
}

TEST(ClusterView, StopEndsTheReloadRetries) {
  FakeStore store;
  ClusterView view(store);
  ASSERT_TRUE(view.start().ok());
  store.setListFails(true);
  store.fireError();
  // Retrying once a second; stop() must not wait for the store to come back.
  ASSERT_TRUE(eventually([&] { return store.lists() >= 3; }));
  const auto start = steady_clock::now();
  view.stop();
  EXPECT_LT(steady_clock::now() - start, std::chrono::milliseconds(900));
}

// synced() and the quasar_watch_* series: synced after the list, not from a failed watch until
// the list that replaces it (which counts as a relist); applied events are counted.
TEST(ClusterView, ReportsSyncStateRelistsAndEvents) {
  FakeStore store;
  metrics::QuasardMetrics m;
  const auto w = m.watch("cluster");
  ClusterView view(store);
  view.setMetrics(w);
  EXPECT_FALSE(view.synced());
  ASSERT_TRUE(view.start().ok());
  EXPECT_TRUE(view.synced());
  EXPECT_EQ(w.synced.value(), 1);
  EXPECT_EQ(w.relists.value(), 1u);
  store.firePut("a");
  store.firePut("b");
  EXPECT_EQ(w.events.value(), 2u);

  store.setListFails(true);
  store.fireError();
  EXPECT_FALSE(view.synced());  // set by the failing watch's own callback
  EXPECT_EQ(w.synced.value(), 0);
  ASSERT_TRUE(eventually([&] { return store.lists() >= 2; }));  // the relist failed
  EXPECT_FALSE(view.synced());
  store.setListFails(false);
  EXPECT_TRUE(eventually([&] { return view.synced(); }));
  EXPECT_EQ(w.synced.value(), 1);
  EXPECT_EQ(w.relists.value(), 2u);
}

}  // namespace
}  // namespace quasar::daemon
