#include "netpolicy/compiler/selector.h"

#include "gtest/gtest.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy {
namespace {

using testing::e2eCluster;
using testing::sel;

SelectorRequirement req(std::string key, SelectorOp op, std::vector<std::string> values = {}) {
  return {std::move(key), op, std::move(values)};
}

TEST(Selector, EmptyMatchesEverything) {
  EXPECT_TRUE(matches({}, {}));
  EXPECT_TRUE(matches({}, {{"a", "b"}}));
}

TEST(Selector, MatchLabelsNeedsEveryPair) {
  LabelSelector s = sel({{"app", "web"}, {"tier", "fe"}});
  EXPECT_TRUE(matches(s, {{"app", "web"}, {"tier", "fe"}, {"x", "y"}}));
  EXPECT_FALSE(matches(s, {{"app", "web"}}));
  EXPECT_FALSE(matches(s, {{"app", "web"}, {"tier", "be"}}));
}

TEST(Selector, In) {
  LabelSelector s = sel({}, {req("env", SelectorOp::kIn, {"prod", "stage"})});
  EXPECT_TRUE(matches(s, {{"env", "prod"}}));
  EXPECT_TRUE(matches(s, {{"env", "stage"}}));
  EXPECT_FALSE(matches(s, {{"env", "dev"}}));
  EXPECT_FALSE(matches(s, {}));
}

TEST(Selector, NotInMatchesMissingKey) {
  LabelSelector s = sel({}, {req("env", SelectorOp::kNotIn, {"prod"})});
  EXPECT_FALSE(matches(s, {{"env", "prod"}}));
  EXPECT_TRUE(matches(s, {{"env", "dev"}}));
  EXPECT_TRUE(matches(s, {}));
}

TEST(Selector, ExistsAndDoesNotExist) {
  LabelSelector exists = sel({}, {req("gpu", SelectorOp::kExists)});
  LabelSelector absent = sel({}, {req("gpu", SelectorOp::kDoesNotExist)});
  EXPECT_TRUE(matches(exists, {{"gpu", ""}}));
  EXPECT_FALSE(matches(exists, {}));
  EXPECT_FALSE(matches(absent, {{"gpu", "true"}}));
  EXPECT_TRUE(matches(absent, {{"cpu", "true"}}));
}

TEST(Selector, LabelsAndExpressionsAreAnded) {
  LabelSelector s = sel({{"app", "web"}}, {req("env", SelectorOp::kIn, {"prod"})});
  EXPECT_TRUE(matches(s, {{"app", "web"}, {"env", "prod"}}));
  EXPECT_FALSE(matches(s, {{"app", "web"}, {"env", "dev"}}));
  EXPECT_FALSE(matches(s, {{"app", "db"}, {"env", "prod"}}));
}

TEST(SelectorCanonical, EqualMeaningEqualText) {
  EXPECT_EQ(canonical(sel({{"a", "1"}})), canonical(sel({}, {req("a", SelectorOp::kIn, {"1"})})));
  EXPECT_EQ(
      canonical(sel({}, {req("a", SelectorOp::kIn, {"1", "2"}), req("b", SelectorOp::kExists)})),
      canonical(
          sel({}, {req("b", SelectorOp::kExists), req("a", SelectorOp::kIn, {"2", "1", "2"})})));
  EXPECT_NE(canonical(sel({{"a", "1"}})), canonical(sel({{"a", "2"}})));
  EXPECT_NE(canonical(sel({}, {req("a", SelectorOp::kIn, {"1"})})),
            canonical(sel({}, {req("a", SelectorOp::kNotIn, {"1"})})));
  // Separators inside user strings cannot forge another selector.
  EXPECT_NE(canonical(sel({{"a", "1"}, {"b", "2"}})), canonical(sel({{"a", "1]2:b"}})));
}

TEST(PodGroup, PeerWithoutNamespaceSelectorMeansOwnNamespace) {
  Model m = e2eCluster();
  ModelIndex index(m);
  Policy p = testing::policy("x", "p", {});
  PodGroup g = peerGroup(p, testing::podPeer(sel({{"pod", "a"}})));
  EXPECT_TRUE(inGroup(index, m.pods[0], g));   // x/a
  EXPECT_FALSE(inGroup(index, m.pods[3], g));  // y/a
}

TEST(PodGroup, NamespaceSelectorAloneMeansEveryPodThere) {
  Model m = e2eCluster();
  ModelIndex index(m);
  Policy p = testing::policy("x", "p", {});
  PodGroup g = peerGroup(p, testing::nsPeer(sel({{"ns", "y"}})));
  EXPECT_FALSE(inGroup(index, m.pods[0], g));
  for (int i = 3; i < 6; ++i) EXPECT_TRUE(inGroup(index, m.pods[i], g));
  EXPECT_FALSE(inGroup(index, m.pods[6], g));
}

TEST(PodGroup, BothSelectorsInOnePeerAreAnded) {
  Model m = e2eCluster();
  ModelIndex index(m);
  Policy p = testing::policy("x", "p", {});
  Peer peer{sel({{"pod", "b"}}), sel({{"ns", "y"}}), std::nullopt, std::nullopt};
  PodGroup g = peerGroup(p, peer);
  for (size_t i = 0; i < m.pods.size(); ++i) {
    EXPECT_EQ(inGroup(index, m.pods[i], g), i == 4) << i;  // only y/b
  }
}

TEST(PodGroup, NodeSelectorPicksPodsByTheirNodesLabels) {
  Model m = e2eCluster();
  ModelIndex index(m);
  Policy p = testing::policy("x", "p", {});
  Peer peer{std::nullopt, LabelSelector{}, sel({{"gpu", "true"}}), std::nullopt};
  PodGroup g = peerGroup(p, peer);
  for (size_t i = 0; i < m.pods.size(); ++i) EXPECT_EQ(inGroup(index, m.pods[i], g), i >= 6) << i;
}

TEST(PolicyTypes, DefaultIsIngressPlusEgressWhenEgressRulesExist) {
  Policy p = testing::policy("x", "p", {});
  EXPECT_TRUE(isolatesIngress(p));
  EXPECT_FALSE(isolatesEgress(p));
  p.egress.push_back({});
  EXPECT_TRUE(isolatesIngress(p));
  EXPECT_TRUE(isolatesEgress(p));
  p.policy_types = {Direction::kEgress};
  EXPECT_FALSE(isolatesIngress(p));
  EXPECT_TRUE(isolatesEgress(p));
  p.egress.clear();
  EXPECT_TRUE(isolatesEgress(p));  // explicit Egress without rules: deny all egress
}

TEST(IpBlock, ExceptRemovesAddresses) {
  IpBlock b{testing::prefix("10.0.0.0/8"), {testing::prefix("10.1.0.0/16")}};
  EXPECT_TRUE(inBlock(b, testing::ip("10.2.0.1")));
  EXPECT_FALSE(inBlock(b, testing::ip("10.1.0.1")));
  EXPECT_FALSE(inBlock(b, testing::ip("11.0.0.1")));
}

}  // namespace
}  // namespace quasar::netpolicy
