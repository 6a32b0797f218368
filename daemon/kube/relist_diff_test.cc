#include "daemon/kube/relist_diff.h"

#include <gtest/gtest.h>

#include "daemon/kube/watch_event.h"

namespace quasar::kube {
namespace {

nlohmann::json pod(const std::string& name, const std::string& uid, const std::string& rv) {
  return {
      {"kind", "Pod"},
      {"metadata", {{"name", name}, {"namespace", "ns"}, {"uid", uid}, {"resourceVersion", rv}}}};
}

KnownObjects knownOf(const std::vector<nlohmann::json>& objs) {
  KnownObjects k;
  for (const auto& o : objs) k[objectKey(o)] = knownFrom(o);
  return k;
}

TEST(RelistDiff, AddsUpdatesAndDeletes) {
  const KnownObjects known = knownOf({pod("same", "u1", "10"), pod("changed", "u2", "11"),
                                      pod("gone", "u3", "12"), pod("gone2", "u4", "13")});
  const std::vector<nlohmann::json> listed = {pod("changed", "u2", "20"), pod("same", "u1", "10"),
                                              pod("new", "u5", "21")};
  const RelistDiff d = diffRelist(known, listed);
  EXPECT_EQ(d.added, std::vector<size_t>{2});
  EXPECT_EQ(d.modified, std::vector<size_t>{0});
  EXPECT_EQ(d.deleted, (std::vector<std::string>{"ns/gone", "ns/gone2"}));
}

TEST(RelistDiff, RecreatedObjectIsDeletedAndAdded) {
  const RelistDiff d = diffRelist(knownOf({pod("p", "old-uid", "5")}), {pod("p", "new-uid", "9")});
  EXPECT_EQ(d.deleted, std::vector<std::string>{"ns/p"});
  EXPECT_EQ(d.added, std::vector<size_t>{0});
  EXPECT_TRUE(d.modified.empty());
}

TEST(RelistDiff, EmptyCases) {
  EXPECT_EQ(diffRelist({}, {pod("a", "u", "1")}).added, std::vector<size_t>{0});
  EXPECT_EQ(diffRelist(knownOf({pod("a", "u", "1")}), {}).deleted,
            std::vector<std::string>{"ns/a"});
  const RelistDiff none = diffRelist(knownOf({pod("a", "u", "1")}), {pod("a", "u", "1")});
  EXPECT_TRUE(none.added.empty() && none.modified.empty() && none.deleted.empty());
  // Objects without a name are not tracked.
  EXPECT_TRUE(
      diffRelist({}, {nlohmann::json{{"metadata", nlohmann::json::object()}}}).added.empty());
}

TEST(RelistDiff, TombstoneNamesTheObject) {
  const nlohmann::json t = tombstone("Pod", "v1", knownFrom(pod("p", "u", "7")));
  EXPECT_EQ(t["kind"], "Pod");
  EXPECT_EQ(t["apiVersion"], "v1");
  EXPECT_EQ(objectKey(t), "ns/p");
  EXPECT_EQ(resourceVersionOf(t), "7");
  EXPECT_EQ(t["metadata"]["uid"], "u");
  const nlohmann::json node = tombstone("Node", "v1", KnownObject{"", "n1", "", "3"});
  EXPECT_FALSE(node["metadata"].contains("namespace"));
}

}  // namespace
}  // namespace quasar::kube
