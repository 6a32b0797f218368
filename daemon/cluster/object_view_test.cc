#include "daemon/cluster/object_view.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>

namespace quasar::daemon {
namespace {

using nlohmann::json;
using objects::Kind;
using objects::LabelSelector;
using Op = objects::LabelSelectorRequirement::Operator;
using std::chrono::steady_clock;

// A source the test drives: whatever it calls goes straight to the view.
class FakeSource : public ObjectSource {
 public:
  explicit FakeSource(std::vector<Kind> kinds = {Kind::kNode, Kind::kNamespace, Kind::kPod})
      : kinds_(std::move(kinds)) {}
  std::vector<Kind> kinds() const override { return kinds_; }
  absl::Status start(ObjectSink& sink) override {
    sink_ = &sink;
    return absl::OkStatus();
  }
  void stop() override { sink_ = nullptr; }
  std::string describe() const override { return "fake"; }
  absl::StatusOr<std::optional<json>> fetch(Kind, const std::string&, const std::string&,
                                            std::chrono::milliseconds) override {
    return std::optional<json>();
  }

  void replace(Kind kind, std::vector<json> objects) { sink_->replace(kind, std::move(objects)); }
  void event(Kind kind, ObjectEventType type, json object) {
    sink_->event(kind, type, std::move(object));
  }

 private:
  std::vector<Kind> kinds_;
  ObjectSink* sink_ = nullptr;
};

json pod(const std::string& ns, const std::string& name, const std::string& rv,
         json labels = json::object(), const std::string& node = "n1", const std::string& ip = "") {
  json p = {
      {"apiVersion", "v1"},
      {"kind", "Pod"},
      {"metadata",
       {{"name", name}, {"namespace", ns}, {"resourceVersion", rv}, {"labels", std::move(labels)}}},
      {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}}}}}}};
  if (!ip.empty()) p["status"] = {{"phase", "Running"}, {"podIPs", {{{"ip", ip}}}}};
  return p;
}

json node(const std::string& name, const std::string& rv, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"resourceVersion", rv}, {"labels", std::move(labels)}}}};
}

json ns(const std::string& name, const std::string& rv, json labels = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Namespace"},
          {"metadata", {{"name", name}, {"resourceVersion", rv}, {"labels", std::move(labels)}}}};
}

std::vector<std::string> names(const std::vector<ObjectPtr>& objs) {
  std::vector<std::string> out;
  for (const auto& o : objs) out.push_back(o->metadata().namespace_ + "/" + o->metadata().name);
  return out;
}

// "ADDED a/x", "MODIFIED a/x 1->2", "DELETED a/x": what a listener saw.
std::string describe(const ObjectEvent& e) {
  const auto& m = e.object().metadata();
  std::string s = std::string(toString(e.type)) + " " + m.namespace_ + "/" + m.name;
  if (e.type == ObjectEventType::kModified) {
    s += " " + e.old_object->metadata().resource_version + "->" +
         e.new_object->metadata().resource_version;
  }
  return s;
}

class ObjectViewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(view_.start().ok());
    sub_ = view_.subscribe({}, [this](const std::vector<ObjectEvent>& events) {
      for (const auto& e : events) {
        // The invariants of every event: add has no old, delete no new, both name one object.
        EXPECT_EQ(e.old_object == nullptr, e.type == ObjectEventType::kAdded);
        EXPECT_EQ(e.new_object == nullptr, e.type == ObjectEventType::kDeleted);
        if (e.old_object && e.new_object) {
          EXPECT_EQ(e.old_object->key(), e.new_object->key());
        }
        seen_.push_back(describe(e));
      }
    });
  }
  std::vector<std::string> take() { return std::exchange(seen_, {}); }

  FakeSource source_;
  ObjectView view_{source_};
  ObjectView::Subscription sub_;
  std::vector<std::string> seen_;
};

TEST_F(ObjectViewTest, ServesWhatWasListed) {
  EXPECT_FALSE(view_.synced());
  source_.replace(Kind::kPod, {pod("shop", "web", "1", {{"app", "web"}}, "n1", "10.244.1.5"),
                               pod("shop", "db", "1", {{"app", "db"}}, "n2", "10.244.2.7"),
                               pod("ml", "train", "1", {{"app", "train"}}, "n2")});
  source_.replace(Kind::kNamespace, {ns("shop", "1"), ns("ml", "1")});
  EXPECT_FALSE(view_.synced());  // Nodes not listed yet
  source_.replace(Kind::kNode, {node("n1", "1", {{"nvidia.com/gpu.present", "true"}})});
  EXPECT_TRUE(view_.synced());
  EXPECT_TRUE(view_.waitSynced(steady_clock::now()));

  ASSERT_NE(view_.get(Kind::kPod, "shop", "web"), nullptr);
  EXPECT_EQ(view_.get(Kind::kPod, "ml", "web"), nullptr);
  auto web = view_.get<objects::Pod>("shop", "web");
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->node_name, "n1");
  EXPECT_EQ(view_.get<objects::Node>("", "n1")->metadata.labels.size(), 1u);
  EXPECT_EQ(view_.get<objects::Node>("ignored-for-nodes", "n1")->metadata.name, "n1");
  EXPECT_EQ(names(view_.list(Kind::kPod)),
            (std::vector<std::string>{"ml/train", "shop/db", "shop/web"}));
  EXPECT_EQ(names(view_.list(Kind::kPod, "shop")),
            (std::vector<std::string>{"shop/db", "shop/web"}));
  EXPECT_EQ(view_.list<objects::Namespace>().size(), 2u);
  EXPECT_EQ(view_.podsOnNode("n2").size(), 2u);
  EXPECT_TRUE(view_.podsOnNode("n9").empty());
  ASSERT_NE(view_.podByIp(*conf::IpAddress::parse("10.244.2.7")), nullptr);
  EXPECT_EQ(view_.podByIp(*conf::IpAddress::parse("10.244.2.7"))->metadata.name, "db");
  EXPECT_EQ(view_.podByIp(*conf::IpAddress::parse("10.244.2.8")), nullptr);
  EXPECT_EQ(take().size(), 6u);  // every object listed first is an ADDED
  EXPECT_EQ(view_.stats(Kind::kPod).objects, 3u);
  EXPECT_EQ(view_.stats(Kind::kPod).relists, 0u);
  EXPECT_TRUE(view_.stats(Kind::kPod).synced);
}

TEST_F(ObjectViewTest, RelistBecomesTheMinimalEvents) {
  source_.replace(Kind::kPod, {pod("a", "same", "1"), pod("a", "changed", "1"),
                               pod("a", "gone", "1"), pod("b", "gone", "3")});
  take();
  source_.replace(Kind::kPod, {pod("a", "same", "1"), pod("a", "changed", "2"),
                               pod("a", "new", "5"), pod("b", "gone", "3")});
  const std::vector<std::string> got = take();
  EXPECT_EQ(
      std::multiset<std::string>(got.begin(), got.end()),
      (std::multiset<std::string>{"DELETED a/gone", "MODIFIED a/changed 1->2", "ADDED a/new"}));
  EXPECT_EQ(names(view_.list(Kind::kPod)),
            (std::vector<std::string>{"a/changed", "a/new", "a/same", "b/gone"}));
  // The same list again: nothing to tell.
  source_.replace(Kind::kPod, {pod("a", "same", "1"), pod("a", "changed", "2"),
                               pod("a", "new", "5"), pod("b", "gone", "3")});
  EXPECT_TRUE(take().empty());
  EXPECT_EQ(view_.stats(Kind::kPod).relists, 2u);
  EXPECT_EQ(view_.stats(Kind::kPod).events_applied, 4u + 3u);
  // An empty relist deletes everything.
  source_.replace(Kind::kPod, {});
  EXPECT_EQ(take().size(), 4u);
  EXPECT_TRUE(view_.list(Kind::kPod).empty());
}

TEST_F(ObjectViewTest, WatchEventsThatChangeNothingAreDropped) {
  source_.replace(Kind::kPod, {pod("a", "x", "1")});
  take();
  source_.event(Kind::kPod, ObjectEventType::kAdded, pod("a", "x", "1"));  // replayed
  source_.event(Kind::kPod, ObjectEventType::kModified, pod("a", "x", "1"));
  source_.event(Kind::kPod, ObjectEventType::kDeleted, pod("a", "nobody", "1"));
  EXPECT_TRUE(take().empty());
  source_.event(Kind::kPod, ObjectEventType::kModified, pod("a", "x", "2"));
  source_.event(Kind::kPod, ObjectEventType::kAdded, pod("a", "y", "3"));
  // A deletion needs only the name; the event carries the cached object.
  source_.event(Kind::kPod, ObjectEventType::kDeleted,
                {{"metadata", {{"name", "y"}, {"namespace", "a"}}}});
  EXPECT_EQ(take(), (std::vector<std::string>{"MODIFIED a/x 1->2", "ADDED a/y", "DELETED a/y"}));
}

TEST_F(ObjectViewTest, ObjectsWithoutResourceVersionCompareByContent) {
  json p = pod("a", "x", "");
  p["metadata"].erase("resourceVersion");
  source_.replace(Kind::kPod, {p});
  source_.replace(Kind::kPod, {p});
  EXPECT_EQ(take().size(), 1u);
  p["metadata"]["labels"]["app"] = "web";
  source_.event(Kind::kPod, ObjectEventType::kModified, p);
  EXPECT_EQ(take(), (std::vector<std::string>{"MODIFIED a/x ->"}));
}

TEST_F(ObjectViewTest, IndexesFollowLabelNodeAndIpChanges) {
  source_.replace(Kind::kPod,
                  {pod("a", "x", "1", {{"app", "web"}, {"tier", "front"}}, "n1", "10.244.1.5"),
                   pod("b", "y", "1", {{"app", "web"}}, "n1", "10.244.1.6"),
                   pod("b", "z", "1", {{"app", "db"}}, "n2")});
  const LabelSelector web{{{"app", "web"}}, {}};
  EXPECT_EQ(names(view_.select(Kind::kPod, web)), (std::vector<std::string>{"a/x", "b/y"}));
  EXPECT_EQ(names(view_.select(Kind::kPod, web, "b")), (std::vector<std::string>{"b/y"}));

  // x changes label, node and IP.
  source_.event(Kind::kPod, ObjectEventType::kModified,
                pod("a", "x", "2", {{"app", "db"}}, "n2", "10.244.2.9"));
  EXPECT_EQ(names(view_.select(Kind::kPod, web)), (std::vector<std::string>{"b/y"}));
  EXPECT_EQ(names(view_.select(Kind::kPod, {{{"app", "db"}}, {}})),
            (std::vector<std::string>{"a/x", "b/z"}));
  EXPECT_TRUE(view_.select(Kind::kPod, {{{"tier", "front"}}, {}}).empty());
  EXPECT_EQ(view_.podsOnNode("n1").size(), 1u);
  EXPECT_EQ(view_.podsOnNode("n2").size(), 2u);
  EXPECT_EQ(view_.podByIp(*conf::IpAddress::parse("10.244.1.5")), nullptr);
  EXPECT_EQ(view_.podByIp(*conf::IpAddress::parse("10.244.2.9"))->metadata.name, "x");

  // Every operator, with and without an indexed requirement.
  const auto sel = [&](LabelSelector s) { return names(view_.select(Kind::kPod, s)); };
  EXPECT_EQ(sel({{}, {{"app", Op::kIn, {"web", "none"}}}}), (std::vector<std::string>{"b/y"}));
  EXPECT_EQ(sel({{}, {{"app", Op::kNotIn, {"web"}}}}), (std::vector<std::string>{"a/x", "b/z"}));
  EXPECT_EQ(sel({{}, {{"app", Op::kExists, {}}}}).size(), 3u);
  EXPECT_TRUE(sel({{}, {{"app", Op::kDoesNotExist, {}}}}).empty());
  EXPECT_EQ(sel({{{"app", "db"}}, {{"app", Op::kIn, {"db", "web"}}}}),
            (std::vector<std::string>{"a/x", "b/z"}));
  EXPECT_EQ(sel({}).size(), 3u);
  EXPECT_TRUE(sel({{{"nope", "x"}}, {}}).empty());

  // A finished pod's IP is free for another pod; a deleted pod leaves no index entry.
  json done = pod("b", "y", "2", {{"app", "web"}}, "n1", "10.244.1.6");
  done["status"]["phase"] = "Succeeded";
  source_.event(Kind::kPod, ObjectEventType::kModified, done);
  EXPECT_EQ(view_.podByIp(*conf::IpAddress::parse("10.244.1.6")), nullptr);
  source_.event(Kind::kPod, ObjectEventType::kDeleted, pod("a", "x", "3"));
  EXPECT_EQ(view_.podByIp(*conf::IpAddress::parse("10.244.2.9")), nullptr);
  EXPECT_EQ(names(view_.select(Kind::kPod, {{{"app", "db"}}, {}})),
            (std::vector<std::string>{"b/z"}));
  EXPECT_EQ(view_.podsOnNode("n2").size(), 1u);
}

TEST_F(ObjectViewTest, NamespaceAndNodeLabelIndexes) {
  source_.replace(Kind::kNamespace, {ns("x", "1", {{"team", "a"}}), ns("y", "1", {{"team", "b"}})});
  source_.replace(Kind::kNode,
                  {node("gpu-1", "1", {{"nvidia.com/gpu.present", "true"}}), node("cpu-1", "1")});
  const LabelSelector gpu{{}, {{"nvidia.com/gpu.present", Op::kExists, {}}}};
  EXPECT_EQ(names(view_.select(Kind::kNode, gpu)), (std::vector<std::string>{"/gpu-1"}));
  EXPECT_EQ(view_.select<objects::Namespace>({{{"team", "b"}}, {}}).at(0)->metadata.name, "y");
  // kubectl label node cpu-1 nvidia.com/gpu.present=true
  source_.event(Kind::kNode, ObjectEventType::kModified,
                node("cpu-1", "2", {{"nvidia.com/gpu.present", "true"}}));
  EXPECT_EQ(view_.select(Kind::kNode, gpu).size(), 2u);
  source_.event(Kind::kNamespace, ObjectEventType::kModified, ns("x", "2"));
  EXPECT_TRUE(view_.select(Kind::kNamespace, {{{"team", "a"}}, {}}).empty());
}

TEST_F(ObjectViewTest, InvalidObjectsAreSkippedAndCountAsAbsent) {
  json bad = pod("a", "bad", "1");
  bad["spec"]["containers"] = json::array();
  source_.replace(Kind::kPod, {pod("a", "x", "1"), bad, json("not an object"), json::array()});
  EXPECT_EQ(names(view_.list(Kind::kPod)), (std::vector<std::string>{"a/x"}));
  EXPECT_EQ(view_.stats(Kind::kPod).invalid_objects, 3u);
  take();
  // A new version that no longer parses: the object is gone for the view.
  json broken = pod("a", "x", "2");
  broken["spec"]["containers"][0]["ports"] = {{{"containerPort", 0}}};
  source_.event(Kind::kPod, ObjectEventType::kModified, broken);
  EXPECT_EQ(take(), (std::vector<std::string>{"DELETED a/x"}));
  source_.event(Kind::kPod, ObjectEventType::kAdded, json::object());  // no name: dropped
  EXPECT_TRUE(view_.list(Kind::kPod).empty());
}

TEST_F(ObjectViewTest, SubscriptionsFilterKindsAndReplay) {
  source_.replace(Kind::kPod, {pod("a", "x", "1")});
  source_.replace(Kind::kNode, {node("n1", "1")});
  std::vector<std::string> pods_seen;
  auto pods_sub = view_.subscribe(
      {Kind::kPod},
      [&](const std::vector<ObjectEvent>& events) {
        for (const auto& e : events) pods_seen.push_back(describe(e));
      },
      /*replay=*/true);
  EXPECT_EQ(pods_seen, (std::vector<std::string>{"ADDED a/x"}));
  source_.event(Kind::kNode, ObjectEventType::kModified, node("n1", "2"));
  source_.event(Kind::kPod, ObjectEventType::kAdded, pod("a", "y", "2"));
  EXPECT_EQ(pods_seen, (std::vector<std::string>{"ADDED a/x", "ADDED a/y"}));
  pods_sub.reset();
  source_.event(Kind::kPod, ObjectEventType::kAdded, pod("a", "z", "3"));
  EXPECT_EQ(pods_seen.size(), 2u);
}

TEST_F(ObjectViewTest, ListenersMayUnsubscribeThemselvesAndOthers) {
  int a_calls = 0, b_calls = 0;
  ObjectView::Subscription a, b;
  a = view_.subscribe({}, [&](const std::vector<ObjectEvent>&) {
    ++a_calls;
    a.reset();  // itself
    b.reset();  // and one that would run after it in this delivery
  });
  b = view_.subscribe({}, [&](const std::vector<ObjectEvent>&) { ++b_calls; });
  source_.event(Kind::kPod, ObjectEventType::kAdded, pod("a", "x", "1"));
  source_.event(Kind::kPod, ObjectEventType::kAdded, pod("a", "y", "1"));
  EXPECT_EQ(a_calls, 1);
  EXPECT_EQ(b_calls, 0);
}

TEST(ObjectView, WaitSyncedWaitsForTheLastKind) {
  FakeSource source({Kind::kPod, Kind::kNode});
  ObjectView view(source);
  ASSERT_TRUE(view.start().ok());
  EXPECT_FALSE(view.waitSynced(steady_clock::now() + std::chrono::milliseconds(20)));
  source.replace(Kind::kPod, {});
  std::thread lister([&] { source.replace(Kind::kNode, {}); });
  EXPECT_TRUE(view.waitSynced(steady_clock::now() + std::chrono::seconds(10)));
  lister.join();
  view.lost(Kind::kNode, absl::UnavailableError("down"));
  EXPECT_TRUE(view.synced());  // still serving
  EXPECT_FALSE(view.stats(Kind::kNode).watching);
  EXPECT_EQ(view.stats(Kind::kNode).watch_losses, 1u);
  source.event(Kind::kNode, ObjectEventType::kAdded, node("n1", "1"));
  EXPECT_TRUE(view.stats(Kind::kNode).watching);
}

// Subscriptions come and go on one thread while another applies events: once reset() returns
// the listener never runs again, so what it uses may be freed (ASan/TSan catch a late call).
TEST(ObjectView, UnsubscribingWhileEventsFlowFromAnotherThread) {
  FakeSource source({Kind::kPod});
  ObjectView view(source);
  ASSERT_TRUE(view.start().ok());
  source.replace(Kind::kPod, {});
  std::atomic<bool> done{false};
  std::atomic<int> produced{0};
  std::thread producer([&] {
    for (int i = 0; !done; ++i) {
      source.event(Kind::kPod, ObjectEventType::kModified,
                   pod("a", "p" + std::to_string(i % 8), std::to_string(i + 1)));
      // A reader on the event thread too.
      (void)view.list(Kind::kPod);
      ++produced;
    }
  });
  for (int round = 0; round < 200; ++round) {
    struct State {
      std::atomic<int> calls{0};
      std::atomic<bool> unsubscribed{false};
    };
    auto state = std::make_unique<State>();
    State* s = state.get();
    auto sub = view.subscribe({Kind::kPod}, [s](const std::vector<ObjectEvent>& events) {
      EXPECT_FALSE(s->unsubscribed.load()) << "listener ran after its subscription was reset";
      EXPECT_FALSE(events.empty());
      ++s->calls;
    });
    // Wait for a call (an event after the subscription), never for a fixed time.
    const auto deadline = steady_clock::now() + std::chrono::seconds(10);
    while (s->calls == 0 && steady_clock::now() < deadline) std::this_thread::yield();
    ASSERT_GT(s->calls.load(), 0) << "round " << round;
    sub.reset();
    s->unsubscribed = true;
    state.reset();  // freed right after: a late call would touch freed memory
    // Readers on this thread see a consistent view meanwhile.
    for (const auto& p : view.list<objects::Pod>()) EXPECT_EQ(p->metadata.namespace_, "a");
  }
  done = true;
  producer.join();
  EXPECT_GT(produced.load(), 200);
  EXPECT_EQ(view.list(Kind::kPod).size(), 8u);
}

}  // namespace
}  // namespace quasar::daemon
