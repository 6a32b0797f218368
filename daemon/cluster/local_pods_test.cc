#include "daemon/cluster/local_pods.h"

#include <gtest/gtest.h>

namespace quasar::daemon {
namespace {

using nlohmann::json;
using objects::Kind;

json pod(const std::string& ns, const std::string& name, const std::string& rv,
         const std::string& node, json annotations = json::object()) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"uid", "uid-" + name},
            {"resourceVersion", rv},
            {"annotations", std::move(annotations)}}},
          {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}}}}}}};
}

json tombstone(const std::string& ns, const std::string& name) {
  return {{"kind", "Pod"}, {"metadata", {{"name", name}, {"namespace", ns}}}};
}

TEST(LocalPods, KeepsOnlyThisNodesPodsFromListsAndEvents) {
  LocalPods local("n1");
  EXPECT_FALSE(local.stats().synced);
  local.replace(Kind::kPod, {pod("a", "p1", "1", "n1", {{"quasar.io/floating-ip", "true"}}),
                             pod("a", "p2", "2", "n2")});
  ASSERT_NE(local.get("a", "p1"), nullptr);
  EXPECT_EQ(local.get("a", "p1")->metadata.annotations.at("quasar.io/floating-ip"), "true");
  EXPECT_EQ(local.get("a", "p2"), nullptr);  // a server that ignored the field selector

  local.event(Kind::kPod, ObjectEventType::kAdded, pod("b", "p3", "3", "n1"));
  local.event(Kind::kPod, ObjectEventType::kAdded, pod("b", "p4", "4", "n2"));
  EXPECT_NE(local.get("b", "p3"), nullptr);
  EXPECT_EQ(local.get("b", "p4"), nullptr);
  local.event(Kind::kPod, ObjectEventType::kModified, pod("b", "p3", "5", "n1", {{"k", "v"}}));
  EXPECT_EQ(local.get("b", "p3")->metadata.annotations.at("k"), "v");
  // A repeat changes nothing and is not counted.
  local.event(Kind::kPod, ObjectEventType::kModified, pod("b", "p3", "5", "n1", {{"k", "v"}}));
  local.event(Kind::kPod, ObjectEventType::kDeleted, tombstone("a", "p1"));
  EXPECT_EQ(local.get("a", "p1"), nullptr);
  ASSERT_EQ(local.list().size(), 1u);
  EXPECT_EQ(local.list()[0]->metadata.name, "p3");

  const auto st = local.stats();
  EXPECT_TRUE(st.synced);
  EXPECT_TRUE(st.watching);
  EXPECT_EQ(st.objects, 1u);
  EXPECT_EQ(st.events_applied, 3u);  // p3 added, p3 modified, p1 deleted
  EXPECT_EQ(st.relists, 0u);
}

TEST(LocalPods, APodModifiedOntoAnotherNodeOrInvalidIsGone) {
  LocalPods local("n1");
  local.replace(Kind::kPod, {pod("a", "p1", "1", "n1"), pod("a", "p2", "2", "n1")});
  local.event(Kind::kPod, ObjectEventType::kModified, pod("a", "p1", "3", "n2"));
  EXPECT_EQ(local.get("a", "p1"), nullptr);
  json invalid = pod("a", "p2", "4", "n1");
  invalid["spec"]["containers"] = json::array();  // a pod has at least one container
  local.event(Kind::kPod, ObjectEventType::kModified, invalid);
  EXPECT_EQ(local.get("a", "p2"), nullptr);
  EXPECT_EQ(local.stats().invalid_objects, 1u);
}

TEST(LocalPods, RelistReplacesAndLostIsReported) {
  LocalPods local("n1");
  local.replace(Kind::kPod, {pod("a", "p1", "1", "n1")});
  local.lost(Kind::kPod, absl::UnavailableError("watch cut"));
  EXPECT_FALSE(local.stats().watching);
  EXPECT_NE(local.get("a", "p1"), nullptr);  // kept while the watch is down
  local.replace(Kind::kPod, {pod("a", "p9", "9", "n1")});
  EXPECT_EQ(local.get("a", "p1"), nullptr);
  EXPECT_NE(local.get("a", "p9"), nullptr);
  const auto st = local.stats();
  EXPECT_TRUE(st.watching);
  EXPECT_EQ(st.relists, 1u);
  EXPECT_EQ(st.watch_losses, 1u);
  // Other kinds are not this index's business.
  local.replace(Kind::kNode, {});
  EXPECT_EQ(local.stats().relists, 1u);
}

}  // namespace
}  // namespace quasar::daemon
