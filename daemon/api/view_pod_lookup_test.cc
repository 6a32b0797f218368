#include "daemon/api/view_pod_lookup.h"

#include <gtest/gtest.h>

namespace quasar::daemon {
namespace {

using nlohmann::json;
using objects::Kind;

// Feeds the view through the sink it is given; fetch() answers from `direct`.
class FakeSource : public ObjectSource {
 public:
  std::vector<Kind> kinds() const override { return {Kind::kPod}; }
  absl::Status start(ObjectSink& sink) override {
    sink_ = &sink;
    return absl::OkStatus();
  }
  void stop() override {}
  std::string describe() const override { return "fake"; }
  absl::StatusOr<std::optional<json>> fetch(Kind, const std::string&, const std::string& name,
                                            std::chrono::milliseconds) override {
    ++fetches;
    auto it = direct.find(name);
    if (it == direct.end()) return std::optional<json>();
    return std::optional<json>(it->second);
  }
  ObjectSink* sink_ = nullptr;
  std::map<std::string, json> direct;
  int fetches = 0;
};

json pod(const std::string& name, const std::string& uid, const std::string& node,
         const std::string& note) {
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", "ns"},
            {"uid", uid},
            {"resourceVersion", "1"},
            {"annotations", {{"note", note}}}}},
          {"spec", {{"nodeName", node}, {"containers", {{{"name", "c"}}}}}}};
}

TEST(ViewPodLookup, ThisNodesPodsComeFromTheLocalIndexThenTheViewThenDirect) {
  FakeSource source;
  ObjectView view(source);
  ASSERT_TRUE(view.start().ok());
  LocalPods local("n1");
  ViewPodLookup lookup(view, source, &local);

  // Mine: in the index (newer there than in the view, which lags).
  local.replace(Kind::kPod, {pod("mine", "u1", "n1", "from-local")});
  view.replace(Kind::kPod, {pod("other", "u2", "n2", "from-view")});
  source.direct["fresh"] = pod("fresh", "u3", "n1", "from-direct");

  auto mine = lookup.find("ns", "mine", "u1", std::chrono::milliseconds(100));
  ASSERT_TRUE(mine.ok() && mine->has_value());
  EXPECT_EQ((*mine)->source, "local");
  EXPECT_EQ((*mine)->annotations.at("note"), "from-local");
  auto other = lookup.find("ns", "other", "", std::chrono::milliseconds(100));
  ASSERT_TRUE(other.ok() && other->has_value());
  EXPECT_EQ((*other)->source, "view");
  EXPECT_EQ(source.fetches, 0);
  auto fresh = lookup.find("ns", "fresh", "u3", std::chrono::milliseconds(100));
  ASSERT_TRUE(fresh.ok() && fresh->has_value());
  EXPECT_EQ((*fresh)->source, "direct");
  EXPECT_EQ(source.fetches, 1);

  // An older incarnation in the index: not the pod asked for.
  auto reborn = lookup.find("ns", "mine", "u9", std::chrono::milliseconds(100));
  ASSERT_TRUE(reborn.ok());
  EXPECT_FALSE(reborn->has_value());
  EXPECT_EQ(source.fetches, 2);

  // Without an index (the datastore source): the view, as before.
  ViewPodLookup plain(view, source);
  auto again = plain.find("ns", "mine", "", std::chrono::milliseconds(100));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(again->has_value());
  view.stop();
}

}  // namespace
}  // namespace quasar::daemon
