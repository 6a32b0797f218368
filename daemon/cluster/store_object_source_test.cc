#include "daemon/cluster/store_object_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include "daemon/cluster/object_store.h"
#include "daemon/cluster/object_view.h"
#include "daemon/cluster/pod_addresses.h"
#include "daemon/store/forwarding_store.h"
#include "daemon/store/sqlite_kv_store.h"

namespace quasar::daemon {
namespace {

using objects::Kind;
using std::chrono::steady_clock;

// The SQLite store, with a switch that cuts the view's watch off: while cut, its events are
// dropped (a lost connection), and fail() ends it with an error, as a compaction would.
class CuttableStore : public testing::ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  void cut() { cut_ = true; }
  // Ends every open watch with `error`; the next watches deliver again.
  void fail(absl::Status error) {
    std::vector<std::shared_ptr<WatchCallback>> cbs;
    {
      std::lock_guard lock(mu_);
      cbs.swap(callbacks_);
      cut_ = false;
    }
    for (auto& cb : cbs) (*cb)({}, error);
  }
  int watches() const { return watches_; }
  void setListFails(bool fails) { list_fails_ = fails; }
  int lists() const { return lists_; }

  absl::StatusOr<ListResult> list(const std::string& prefix) override {
    ++lists_;
    if (list_fails_) return absl::UnavailableError("store down");
    return inner_.list(prefix);
  }
  absl::StatusOr<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t start,
                                               WatchCallback callback) override {
    ++watches_;
    auto cb = std::make_shared<WatchCallback>(std::move(callback));
    {
      std::lock_guard lock(mu_);
      callbacks_.push_back(cb);
    }
    return inner_.watch(
        prefix, start, [this, cb](const std::vector<WatchEvent>& events, const absl::Status& e) {
          {
            std::lock_guard lock(mu_);
            // Cut or already failed by the test: nothing more reaches the view.
            if (cut_ || std::find(callbacks_.begin(), callbacks_.end(), cb) == callbacks_.end()) {
              return;
            }
          }
          (*cb)(events, e);
        });
  }
  std::string describe() const override { return "cuttable " + inner_.describe(); }

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<WatchCallback>> callbacks_;
  std::atomic<bool> cut_{false};
  std::atomic<bool> list_fails_{false};
  std::atomic<int> watches_{0};
  std::atomic<int> lists_{0};
};

std::string podJson(const std::string& name, const std::string& app) {
  return R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": ")" + name +
         R"(", "namespace": "shop", "labels": {"app": ")" + app +
         R"("}}, "spec": {"containers": [{"name": "c"}]}})";
}

class StoreObjectSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/quasar-object-source-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = SqliteKvStore::open(dir_ + "/kv.db");
    ASSERT_TRUE(s.ok()) << s.status();
    sqlite_ = std::move(*s);
    store_ = std::make_unique<CuttableStore>(*sqlite_);
    objects_ = std::make_unique<ObjectStore>(*store_);
  }
  void TearDown() override {
    sub_.reset();
    view_.reset();
    source_.reset();
    objects_.reset();
    store_.reset();
    sqlite_.reset();
    std::filesystem::remove_all(dir_);
  }
  void apply(const std::string& json) {
    auto r = objects_->apply({json});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void remove(const std::string& json) {
    auto r = objects_->remove({json});
    ASSERT_TRUE(r.ok()) << r.status();
  }
  void startView() {
    source_ = std::make_unique<StoreObjectSource>(*store_);
    view_ = std::make_unique<ObjectView>(*source_);
    sub_ = view_->subscribe({}, [this](const std::vector<ObjectEvent>& events) {
      std::lock_guard lock(mu_);
      for (const auto& e : events) {
        const auto& m = e.object().metadata();
        seen_.push_back(std::string(toString(e.type)) + " " + m.namespace_ + "/" + m.name);
      }
      cv_.notify_all();
    });
    ASSERT_TRUE(view_->start().ok());
  }
  // Waits until `n` events have been seen (10 s at most), then returns and forgets them.
  std::vector<std::string> waitEvents(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, steady_clock::now() + std::chrono::seconds(10),
                   [&] { return seen_.size() >= n; });
    return std::exchange(seen_, {});
  }

  std::string dir_;
  std::unique_ptr<SqliteKvStore> sqlite_;
  std::unique_ptr<CuttableStore> store_;
  std::unique_ptr<ObjectStore> objects_;
  std::unique_ptr<StoreObjectSource> source_;
  std::unique_ptr<ObjectView> view_;
  ObjectView::Subscription sub_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> seen_;
};

TEST_F(StoreObjectSourceTest, AppliedObjectsBecomeEvents) {
  apply(podJson("web", "web"));
  apply(R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-1",
            "labels": {"nvidia.com/gpu.present": "true"}}})");
  startView();
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(waitEvents(2).size(), 2u);
  auto web = view_->get<objects::Pod>("shop", "web");
  ASSERT_NE(web, nullptr);
  EXPECT_FALSE(web->metadata.resource_version.empty());
  EXPECT_FALSE(web->metadata.uid.empty());
  EXPECT_EQ(view_->select(Kind::kNode, {{{"nvidia.com/gpu.present", "true"}}, {}}).size(), 1u);

  apply(podJson("db", "db"));
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"ADDED shop/db"}));
  apply(podJson("web", "front"));
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"MODIFIED shop/web"}));
  auto web2 = view_->get<objects::Pod>("shop", "web");
  EXPECT_EQ(web2->metadata.labels.at("app"), "front");
  EXPECT_EQ(web2->metadata.uid, web->metadata.uid);  // the same object, changed
  EXPECT_NE(web2->metadata.resource_version, web->metadata.resource_version);
  apply(podJson("web", "front"));  // unchanged: written again, but the view tells nothing
  remove(podJson("db", "db"));
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"DELETED shop/db"}));
  EXPECT_EQ(view_->get(Kind::kPod, "shop", "db"), nullptr);
  remove(podJson("web", "x"));
  apply(podJson("web", "web"));
  EXPECT_EQ(waitEvents(2), (std::vector<std::string>{"DELETED shop/web", "ADDED shop/web"}));
  EXPECT_NE(view_->get<objects::Pod>("shop", "web")->metadata.uid, web->metadata.uid);
  EXPECT_EQ(view_->stats(Kind::kPod).relists, 0u);
}

// Changes made while the watch is cut off are caught up by the relist after it fails: exactly
// the adds, updates and deletes that were missed.
TEST_F(StoreObjectSourceTest, AFailedWatchRelistsAndCatchesUp) {
  apply(podJson("keep", "a"));
  apply(podJson("change", "a"));
  apply(podJson("drop", "a"));
  startView();
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(waitEvents(3).size(), 3u);
  store_->cut();
  apply(podJson("change", "b"));
  remove(podJson("drop", "a"));
  apply(podJson("new", "a"));
  // Not seen: the watch is cut.
  EXPECT_EQ(view_->get(Kind::kPod, "shop", "new"), nullptr);
  store_->fail(absl::OutOfRangeError("compacted"));
  const auto got = waitEvents(3);
  EXPECT_EQ(
      std::multiset<std::string>(got.begin(), got.end()),
      (std::multiset<std::string>{"MODIFIED shop/change", "DELETED shop/drop", "ADDED shop/new"}));
  EXPECT_EQ(view_->stats(Kind::kPod).relists, 1u);
  EXPECT_EQ(view_->stats(Kind::kPod).watch_losses, 1u);
  EXPECT_TRUE(view_->stats(Kind::kPod).watching);
  // The new watch delivers again.
  apply(podJson("after", "a"));
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"ADDED shop/after"}));
  EXPECT_EQ(store_->watches(), 2);
}

TEST_F(StoreObjectSourceTest, AFailingListIsRetriedUntilItWorks) {
  store_->setListFails(true);
  apply(podJson("web", "web"));
  startView();
  EXPECT_FALSE(view_->waitSynced(steady_clock::now() + std::chrono::milliseconds(100)));
  // Wait for a retry (a second list) before letting it succeed.
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (store_->lists() < 2 && steady_clock::now() < deadline) std::this_thread::yield();
  EXPECT_GE(store_->lists(), 2);
  EXPECT_GE(view_->stats(Kind::kPod).watch_losses, 1u);
  store_->setListFails(false);
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  EXPECT_NE(view_->get(Kind::kPod, "shop", "web"), nullptr);
}

TEST_F(StoreObjectSourceTest, ForeignKeysAndBrokenValuesDoNotStopTheView) {
  ASSERT_TRUE(store_->put("k8s/secret/shop/s", "{}", 0).ok());
  ASSERT_TRUE(store_->put("k8s/pod/shop/broken", "{not json", 0).ok());
  apply(podJson("web", "web"));
  startView();
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  EXPECT_EQ(view_->list(Kind::kPod).size(), 1u);
  EXPECT_EQ(view_->stats(Kind::kPod).invalid_objects, 1u);
  waitEvents(1);
  // A value that breaks later removes what the view held.
  ASSERT_TRUE(store_->put("k8s/pod/shop/web", "[]", 0).ok());
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"DELETED shop/web"}));
}

TEST_F(StoreObjectSourceTest, FetchGetsOneObjectAsTheSinkWould) {
  apply(podJson("web", "web"));
  ASSERT_TRUE(store_
                  ->put(podAddressesKey("n1", "shop", "web"),
                        podAddressesValue({"n1", "shop", "web", "", {"10.244.1.5"}}), 0)
                  .ok());
  StoreObjectSource source(*store_);  // not started: fetch works all the same
  auto missing = source.fetch(Kind::kPod, "shop", "db", std::chrono::milliseconds(100));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->has_value());
  auto web = source.fetch(Kind::kPod, "shop", "web", std::chrono::milliseconds(100));
  ASSERT_TRUE(web.ok()) << web.status();
  ASSERT_TRUE(web->has_value());
  auto pod = objects::parsePod(**web);
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_FALSE(pod->metadata.resource_version.empty());
  EXPECT_FALSE(pod->metadata.uid.empty());
  EXPECT_TRUE(pod->pod_ips.empty());  // addresses come with the list and watch
  auto node = source.fetch(Kind::kNode, "ignored", "n1", std::chrono::milliseconds(100));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_FALSE(node->has_value());
}

// With the datastore source, a pod's addresses are those its node published (pod_addresses.h):
// they appear as status.podIPs, and every change of them is a MODIFIED Pod.
TEST_F(StoreObjectSourceTest, PublishedPodAddressesBecomePodIps) {
  const auto publish = [&](const std::string& node, const std::string& name,
                           std::vector<std::string> ips, const std::string& uid = "") {
    ASSERT_TRUE(store_
                    ->put(podAddressesKey(node, "shop", name),
                          podAddressesValue({node, "shop", name, uid, std::move(ips)}), 0)
                    .ok());
  };
  publish("n1", "web", {"10.244.1.5"});
  publish("n1", "nobody", {"10.244.1.99"});  // no Pod object: not in the view
  apply(podJson("web", "web"));
  startView();
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  waitEvents(1);
  const auto ip = [](const char* text) { return *conf::IpAddress::parse(text); };
  auto web = view_->podByIp(ip("10.244.1.5"));
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->metadata.name, "web");
  EXPECT_EQ(web->node_name, "n1");  // the Pod named no node: the publishing one
  EXPECT_EQ(view_->podByIp(ip("10.244.1.99")), nullptr);

  // The pod moves to n2: n2's record wins over n1's stale one once the pod names n2.
  apply(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop",
            "labels": {"app": "web"}}, "spec": {"nodeName": "n2", "containers": [{"name": "c"}]}})");
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"MODIFIED shop/web"}));
  publish("n2", "web", {"10.244.2.7"});
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"MODIFIED shop/web"}));
  EXPECT_EQ(view_->podByIp(ip("10.244.2.7"))->metadata.name, "web");
  EXPECT_EQ(view_->podByIp(ip("10.244.1.5")), nullptr);
  ASSERT_TRUE(store_->del(podAddressesKey("n1", "shop", "web")).ok());  // n1 cleans up
  ASSERT_TRUE(store_->del(podAddressesKey("n2", "shop", "web")).ok());  // DEL on n2
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"MODIFIED shop/web"}));
  EXPECT_TRUE(view_->get<objects::Pod>("shop", "web")->pod_ips.empty());
  EXPECT_EQ(view_->podByIp(ip("10.244.2.7")), nullptr);

  // A record of another pod of the same name (another uid than the object states) is not its.
  apply(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db", "namespace": "shop",
            "uid": "db-2"}, "spec": {"containers": [{"name": "c"}]}})");
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"ADDED shop/db"}));
  publish("n1", "db", {"10.244.1.8"}, "db-1");
  publish("n1", "web", {"10.244.1.6"});  // a later event proves the one before was handled
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"MODIFIED shop/web"}));
  EXPECT_EQ(view_->podByIp(ip("10.244.1.8")), nullptr);
  publish("n1", "db", {"10.244.1.8"}, "db-2");
  EXPECT_EQ(waitEvents(1), (std::vector<std::string>{"MODIFIED shop/db"}));
  EXPECT_EQ(view_->podByIp(ip("10.244.1.8"))->metadata.name, "db");
}

TEST_F(StoreObjectSourceTest, StopEndsEverythingAndIsIdempotent) {
  startView();
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  view_->stop();
  view_->stop();
  apply(podJson("late", "a"));
  // Nothing can arrive after stop(); a put through a fresh view proves the store works.
  EXPECT_EQ(view_->get(Kind::kPod, "shop", "late"), nullptr);
  EXPECT_EQ(source_->start(*view_).ok(), true);  // a stopped source may start again
  ASSERT_TRUE(view_->waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  const auto deadline = steady_clock::now() + std::chrono::seconds(10);
  while (view_->get(Kind::kPod, "shop", "late") == nullptr && steady_clock::now() < deadline) {
    std::this_thread::yield();
  }
  EXPECT_NE(view_->get(Kind::kPod, "shop", "late"), nullptr);
}

}  // namespace
}  // namespace quasar::daemon
