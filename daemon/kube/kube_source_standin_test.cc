// KubeObjectSource and the ObjectView over it against the Kubernetes API server stand-in
// (tests/k8s/): the watch of this node's pods behind the ADD path's pod lookup, and the issue's
// forced 410 Gone in a burst of 500 changes as the view's subscribers see it. Label netns: run
// through tests/in-netns.sh.

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/eventually.h"
#include "daemon/api/view_pod_lookup.h"
#include "daemon/cluster/object_view.h"
#include "daemon/cluster/objects/pod.h"
#include "daemon/kube/api_client.h"
#include "daemon/kube/kube_object_source.h"
#include "tests/k8s_standin.h"

namespace quasar::kube {
namespace {

using json = nlohmann::json;
using objects::Kind;
using std::chrono::milliseconds;
using std::chrono::seconds;
using tests::K8sStandin;

constexpr char kNode[] = "node-a";

// What the test compares per object: its version and labels.
struct Seen {
  std::string rv;
  std::map<std::string, std::string> labels;
  bool operator==(const Seen&) const = default;
};
using Key = std::tuple<Kind, std::string, std::string>;  // kind, namespace, name
using State = std::map<Key, Seen>;

std::string describe(const Key& k) {
  return std::string(objects::kindName(std::get<0>(k))) + " " + std::get<1>(k) + "/" +
         std::get<2>(k);
}

Seen seenOf(const objects::Object& o) {
  return {o.metadata().resource_version, o.metadata().labels};
}

// Polls `pred` every 20 ms until it holds or `timeout` passes.
using ::quasar::tests::eventually;

json pod(const std::string& ns, const std::string& name, const std::string& node,
         json labels = json::object(), json annotations = json::object()) {
  json spec = {{"containers", {{{"name", "c"}, {"image", "registry.invalid/c:1"}}}}};
  if (!node.empty()) spec["nodeName"] = node;
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", std::move(labels)},
            {"annotations", std::move(annotations)}}},
          {"spec", std::move(spec)}};
}

json namespaceObject(const std::string& name) {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", name}}}};
}

// Applies the view's events to a model strictly: an add of an object the model holds, an update
// or delete of one it does not, an update or delete whose old object is not the last one seen,
// or an update that does not move the version forward is a violation (an event lost or applied
// twice).
class EventLog {
 public:
  void apply(const std::vector<daemon::ObjectEvent>& events) {
    std::lock_guard lock(mu_);
    for (const auto& e : events) {
      const auto& m = e.object().metadata();
      const Key key{e.kind, m.namespace_, m.name};
      auto it = model_.find(key);
      const std::string what =
          std::string(daemon::toString(e.type)) + " " + describe(key) + "@" + m.resource_version;
      ++events_;
      if (e.type == daemon::ObjectEventType::kAdded) {
        if (it != model_.end()) violations_.push_back(what + ": already present");
        model_[key] = seenOf(*e.new_object);
        continue;
      }
      if (it == model_.end()) {
        violations_.push_back(what + ": not present");
        continue;
      }
      if (e.old_object == nullptr || seenOf(*e.old_object) != it->second) {
        violations_.push_back(what + ": its old object is not the last one seen (" + it->second.rv +
                              ")");
      }
      if (e.type == daemon::ObjectEventType::kDeleted) {
        model_.erase(it);
      } else {
        if (std::stoll(m.resource_version) <= std::stoll(it->second.rv)) {
          violations_.push_back(what + ": not newer than " + it->second.rv);
        }
        it->second = seenOf(*e.new_object);
      }
    }
  }
  State model() const {
    std::lock_guard lock(mu_);
    return model_;
  }
  std::vector<std::string> violations() const {
    std::lock_guard lock(mu_);
    return violations_;
  }
  size_t events() const {
    std::lock_guard lock(mu_);
    return events_;
  }

 private:
  mutable std::mutex mu_;
  State model_;
  std::vector<std::string> violations_;
  size_t events_ = 0;
};

// Records which watches the source reported as watching (by the observer's kind name).
class WatchingObserver : public ReflectorObserver {
 public:
  void onWatchState(const std::string& kind, WatchState s) override {
    std::lock_guard lock(mu_);
    if (s == WatchState::kWatching) watching_.insert(kind);
  }
  bool watching(const std::string& kind) const {
    std::lock_guard lock(mu_);
    return watching_.contains(kind);
  }

 private:
  mutable std::mutex mu_;
  std::set<std::string> watching_;
};

class KubeSourceStandinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = K8sStandin::start({"--bookmark-interval", "1"});
    ASSERT_TRUE(s.ok()) << s.status();
    standin_ = std::move(*s);
    auto http = HttpClient::create(standin_->certConfig());
    ASSERT_TRUE(http.ok()) << http.status();
    api_ = std::make_unique<ApiClient>(*http);
  }
  void TearDown() override {
    if (HasFailure() && standin_ != nullptr) std::cerr << "stand-in log:\n" << standin_->log();
  }

  // The server's objects of a kind (all of them, or those the field selector picks).
  State serverState(Kind kind, const std::string& field_selector = "") {
    ListOptions o;
    o.field_selector = field_selector;
    auto list = api_->list(KubeObjectSource::resourceOf(kind), o);
    EXPECT_TRUE(list.ok()) << list.status();
    State out;
    if (!list.ok()) return out;
    for (const auto& item : list->items) {
      auto parsed = objects::parseObject(kind, item);
      EXPECT_TRUE(parsed.ok()) << parsed.status();
      if (!parsed.ok()) continue;
      const auto& m = parsed->metadata();
      out[{kind, m.namespace_, m.name}] = seenOf(*parsed);
    }
    return out;
  }
  static State viewState(const daemon::ObjectView& view, const std::vector<Kind>& kinds) {
    State out;
    for (Kind k : kinds) {
      for (const auto& o : view.list(k)) {
        out[{k, o->metadata().namespace_, o->metadata().name}] = seenOf(*o);
      }
    }
    return out;
  }
  static State localState(const daemon::LocalPods& local) {
    State out;
    for (const auto& p : local.list()) {
      out[{Kind::kPod, p->metadata.namespace_, p->metadata.name}] = {p->metadata.resource_version,
                                                                     p->metadata.labels};
    }
    return out;
  }

  std::unique_ptr<K8sStandin> standin_;
  std::unique_ptr<ApiClient> api_;
};

// The issue: "Pods (this node's pods with a field selector, plus all pods' IPs and labels for
// policy)". The node's own watch asks the server for spec.nodeName=<node>; its index has only
// those pods, the view has every pod, and the ADD path's lookup reads the node's pods from the
// index.
TEST_F(KubeSourceStandinTest, LocalPodsWatchHoldsOnlyThisNodesPodsAndServesTheLookup) {
  ASSERT_TRUE(api_->create(namespaceResource(), namespaceObject("ml")).ok());
  WatchingObserver observer;
  KubeObjectSource source(*api_, {Kind::kNamespace, Kind::kPod}, &observer, kNode);
  daemon::LocalPods* local = source.localPods();
  ASSERT_NE(local, nullptr);
  daemon::ObjectView view(source);
  ASSERT_TRUE(view.start().ok());
  ASSERT_TRUE(view.waitSynced(std::chrono::steady_clock::now() + seconds(10)));
  ASSERT_TRUE(eventually([&] { return local->stats().synced; }));
  daemon::ViewPodLookup lookup(view, source, local);

  ASSERT_TRUE(api_->create(podResource(), pod("ml", "mine", kNode, {{"app", "trainer"}},
                                              {{"quasar.io/floating-ip", "true"}}))
                  .ok());
  ASSERT_TRUE(api_->create(podResource(), pod("ml", "theirs", "node-b")).ok());
  ASSERT_TRUE(api_->create(podResource(), pod("ml", "unscheduled", "")).ok());
  ASSERT_TRUE(eventually([&] {
    return local->get("ml", "mine") != nullptr && view.list(Kind::kPod, "ml").size() == 3;
  })) << "local pods: "
      << local->stats().objects;

  // The server narrows the watch: it was asked with the field selector.
  auto stats = standin_->stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_NE(stats->find("fieldSelector=spec.nodeName%3Dnode-a"), std::string::npos) << *stats;
  EXPECT_TRUE(observer.watching(KubeObjectSource::kLocalPodsWatch));
  EXPECT_EQ(localState(*local), serverState(Kind::kPod, "spec.nodeName=node-a"));
  EXPECT_EQ(local->list().size(), 1u);
  EXPECT_EQ(local->get("ml", "theirs"), nullptr);
  EXPECT_EQ(local->get("ml", "unscheduled"), nullptr);
  EXPECT_NE(view.get<objects::Pod>("ml", "theirs"), nullptr);

  auto mine = lookup.find("ml", "mine", local->get("ml", "mine")->metadata.uid, milliseconds(500));
  ASSERT_TRUE(mine.ok()) << mine.status();
  ASSERT_TRUE(mine->has_value());
  EXPECT_EQ((*mine)->source, "local");
  EXPECT_EQ((*mine)->annotations.at("quasar.io/floating-ip"), "true");
  EXPECT_EQ((*mine)->labels.at("app"), "trainer");
  auto theirs = lookup.find("ml", "theirs", "", milliseconds(500));
  ASSERT_TRUE(theirs.ok() && theirs->has_value()) << theirs.status();
  EXPECT_EQ((*theirs)->source, "view");

  // A pod moved off the node (the stand-in lets spec.nodeName change) leaves the node's watch
  // as a DELETED and stays in the view; one scheduled onto it enters as an ADDED.
  auto moved = api_->get(podResource(), "ml", "mine");
  ASSERT_TRUE(moved.ok());
  (*moved)["spec"]["nodeName"] = "node-b";
  ASSERT_TRUE(api_->replace(podResource(), *moved).ok());
  auto scheduled = api_->get(podResource(), "ml", "unscheduled");
  ASSERT_TRUE(scheduled.ok());
  (*scheduled)["spec"]["nodeName"] = kNode;
  ASSERT_TRUE(api_->replace(podResource(), *scheduled).ok());
  EXPECT_TRUE(eventually([&] {
    return local->get("ml", "mine") == nullptr && local->get("ml", "unscheduled") != nullptr;
  }));
  EXPECT_TRUE(eventually([&] {
    auto p = view.get<objects::Pod>("ml", "mine");
    return p != nullptr && p->node_name == "node-b";
  }));
  EXPECT_EQ(localState(*local), serverState(Kind::kPod, "spec.nodeName=node-a"));
  auto now_theirs = lookup.find("ml", "mine", "", milliseconds(500));
  ASSERT_TRUE(now_theirs.ok() && now_theirs->has_value());
  EXPECT_EQ((*now_theirs)->source, "view");
  EXPECT_EQ(local->stats().relists, 0u);
  view.stop();
}

// The issue's test: "A forced 410 Gone during a burst of 500 object changes: the view ends equal
// to the stand-in's state, no event lost or applied twice", through the ObjectView. Midway the
// watches are held back (they lag), 50 more changes are made, the history is compacted past
// every watch's version and the watches are cut: each resumes from a compacted version, gets
// 410 Gone and relists.
TEST_F(KubeSourceStandinTest, Forced410DuringBurstTheViewEndsEqualToTheServer) {
  const std::vector<Kind> kinds = {Kind::kNamespace, Kind::kPod};
  KubeObjectSource source(*api_, kinds, nullptr, kNode);
  daemon::ObjectView view(source);
  EventLog log;
  auto subscription = view.subscribe(kinds, [&](const auto& events) { log.apply(events); });
  ASSERT_TRUE(view.start().ok());
  ASSERT_TRUE(view.waitSynced(std::chrono::steady_clock::now() + seconds(10)));
  ASSERT_TRUE(eventually([&] { return source.localPods()->stats().synced; }));

  // The burst: namespaces created, labelled and deleted (with their pods), pods created on this
  // node and another, relabelled and deleted. Which objects exist is tracked to pick the next.
  std::vector<std::string> namespaces;
  std::vector<std::pair<std::string, std::string>> pods;  // namespace, name
  int next_ns = 0, next_pod = 0;
  auto change = [&](int i) -> absl::Status {
    if (namespaces.size() < 3 || i % 50 == 0) {
      const std::string ns = "burst-" + std::to_string(next_ns++);
      namespaces.push_back(ns);
      return api_->create(namespaceResource(), namespaceObject(ns)).status();
    }
    if (i % 97 == 0) {  // a namespace goes, and its pods with it
      const std::string ns = namespaces.front();
      namespaces.erase(namespaces.begin());
      std::erase_if(pods, [&](const auto& p) { return p.first == ns; });
      return api_->remove(namespaceResource(), "", ns);
    }
    if (i % 31 == 0) {
      return api_
          ->mergePatch(namespaceResource(), "", namespaces[i % namespaces.size()],
                       {{"metadata", {{"labels", {{"gen", std::to_string(i)}}}}}})
          .status();
    }
    switch (pods.empty() ? 0 : i % 5) {
      case 0:
      case 1: {
        const std::string ns = namespaces[i % namespaces.size()];
        const std::string name = "p" + std::to_string(next_pod++);
        pods.emplace_back(ns, name);
        return api_
            ->create(podResource(),
                     pod(ns, name, i % 3 == 0 ? "node-b" : kNode, {{"app", "burst"}}))
            .status();
      }
      case 2:
      case 3: {
        const auto& [ns, name] = pods[(i * 7) % pods.size()];
        return api_
            ->mergePatch(podResource(), ns, name,
                         {{"metadata", {{"labels", {{"gen", std::to_string(i)}}}}}})
            .status();
      }
      default: {
        const size_t at = (i * 13) % pods.size();
        const auto [ns, name] = pods[at];
        pods.erase(pods.begin() + static_cast<std::ptrdiff_t>(at));
        return api_->remove(podResource(), ns, name);
      }
    }
  };
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) {
    if (i == 250) {
      ASSERT_TRUE(standin_->control("hold-watches?on=1").ok());
    }
    ASSERT_TRUE(change(i).ok()) << "change " << i;
    if (i == 299) {
      ASSERT_TRUE(standin_->control("compact").ok());
      ASSERT_TRUE(standin_->control("drop-watches").ok());
      ASSERT_TRUE(standin_->control("hold-watches?on=0").ok());
    }
  }
  const auto t1 = std::chrono::steady_clock::now();

  State want = serverState(Kind::kNamespace);
  want.merge(serverState(Kind::kPod));
  EXPECT_GT(want.size(), 20u);
  EXPECT_TRUE(eventually([&] { return viewState(view, kinds) == want; }, seconds(30)));
  const auto t2 = std::chrono::steady_clock::now();
  std::cout << "burst: 500 changes in " << std::chrono::duration_cast<milliseconds>(t1 - t0).count()
            << " ms, the view equal to the server "
            << std::chrono::duration_cast<milliseconds>(t2 - t1).count() << " ms after, "
            << log.events() << " events\n";
  EXPECT_EQ(viewState(view, kinds), want);
  // Every object's events, applied in order, give the server's state: none lost, none twice.
  EXPECT_EQ(log.model(), want);
  EXPECT_EQ(log.violations(), std::vector<std::string>{});
  // The 410 path really ran. (A relist hands the view the difference as events first, then
  // the list: the view can be equal to the server a moment before the relist is counted.)
  EXPECT_TRUE(eventually([&] {
    return view.stats(Kind::kPod).relists >= 1 && view.stats(Kind::kNamespace).relists >= 1;
  })) << "relists: Pod "
      << view.stats(Kind::kPod).relists << ", Namespace " << view.stats(Kind::kNamespace).relists;
  EXPECT_GE(view.stats(Kind::kPod).watch_losses, 1u);
  EXPECT_EQ(log.model(), want);  // the relist's list changed nothing more
  EXPECT_EQ(log.violations(), std::vector<std::string>{});
  // The node's own pods came through their relist as well.
  const daemon::LocalPods& local = *source.localPods();
  const State want_local = serverState(Kind::kPod, "spec.nodeName=node-a");
  EXPECT_TRUE(eventually([&] {
    return localState(local) == want_local && local.stats().relists >= 1;
  })) << "local relists: "
      << local.stats().relists;
  EXPECT_EQ(localState(local), want_local);
  EXPECT_GT(local.stats().objects, 0u);
  EXPECT_LT(local.stats().objects, view.stats(Kind::kPod).objects);
  view.stop();
}

}  // namespace
}  // namespace quasar::kube
