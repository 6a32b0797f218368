#include "daemon/cluster/objects/meta.h"

#include <gtest/gtest.h>

#include "daemon/cluster/objects/node.h"
#include "daemon/cluster/objects/object.h"
#include "daemon/cluster/objects/test_util.h"

namespace quasar::objects {
namespace {

using nlohmann::json;
using Op = LabelSelectorRequirement::Operator;

TEST(LabelSelector, MatchesLabelsAndEveryOperator) {
  const Labels gpu = {{"app", "trainer"}, {"nvidia.com/gpu.present", "true"}};
  const Labels cpu = {{"app", "trainer"}};
  EXPECT_TRUE(LabelSelector{}.matches(gpu));
  EXPECT_TRUE((LabelSelector{{{"app", "trainer"}}, {}}.matches(cpu)));
  EXPECT_FALSE((LabelSelector{{{"app", "web"}}, {}}.matches(cpu)));
  const LabelSelector in{{}, {{"app", Op::kIn, {"web", "trainer"}}}};
  EXPECT_TRUE(in.matches(cpu));
  EXPECT_FALSE(in.matches({}));
  const LabelSelector not_in{{}, {{"app", Op::kNotIn, {"trainer"}}}};
  EXPECT_FALSE(not_in.matches(cpu));
  EXPECT_TRUE(not_in.matches({}));  // no key: not in the set
  const LabelSelector exists{{}, {{"nvidia.com/gpu.present", Op::kExists, {}}}};
  EXPECT_TRUE(exists.matches(gpu));
  EXPECT_FALSE(exists.matches(cpu));
  const LabelSelector absent{{}, {{"nvidia.com/gpu.present", Op::kDoesNotExist, {}}}};
  EXPECT_FALSE(absent.matches(gpu));
  EXPECT_TRUE(absent.matches(cpu));
  // matchLabels AND expressions.
  const LabelSelector both{{{"app", "trainer"}}, {{"nvidia.com/gpu.present", Op::kExists, {}}}};
  EXPECT_TRUE(both.matches(gpu));
  EXPECT_FALSE(both.matches(cpu));
  EXPECT_EQ(toString(both), "app=trainer,nvidia.com/gpu.present");
}

TEST(ObjectMeta, ReadsEveryField) {
  auto n = parseNode(json::parse(R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "gpu-1", "uid": "u-1", "resourceVersion": "42",
      "creationTimestamp": "2024-05-01T10:00:00Z",
      "labels": {"nvidia.com/gpu.present": "true", "empty": ""},
      "annotations": {"quasar.io/tunnel": "10.0.0.1 / anything"},
      "ownerReferences": [{"apiVersion": "v1", "kind": "Thing", "name": "t", "uid": "u-0",
        "controller": true}],
      "managedFields": [{"manager": "kubelet"}]},
    "spec": {"podCIDRs": ["10.244.1.0/24", "fd00::/64"]},
    "status": {"addresses": [{"type": "Hostname", "address": "gpu-1"},
      {"type": "InternalIP", "address": "172.16.0.11"}]}})"));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(n->metadata.name, "gpu-1");
  EXPECT_EQ(n->metadata.namespace_, "");
  EXPECT_EQ(n->metadata.uid, "u-1");
  EXPECT_EQ(n->metadata.resource_version, "42");
  EXPECT_EQ(n->metadata.creation_timestamp, "2024-05-01T10:00:00Z");
  EXPECT_EQ(n->metadata.labels.at("nvidia.com/gpu.present"), "true");
  EXPECT_EQ(n->metadata.labels.at("empty"), "");
  EXPECT_EQ(n->metadata.annotations.at("quasar.io/tunnel"), "10.0.0.1 / anything");
  ASSERT_NE(n->metadata.controllerRef(), nullptr);
  EXPECT_EQ(n->metadata.controllerRef()->uid, "u-0");
  ASSERT_EQ(n->pod_cidrs.size(), 2u);
  EXPECT_EQ(n->pod_cidrs[1].toString(), "fd00::/64");
  ASSERT_EQ(n->internalIps().size(), 1u);
  EXPECT_EQ(n->internalIps()[0].toString(), "172.16.0.11");
}

TEST(Node, OldSinglePodCidrAndNoSpec) {
  auto n = parseNode(json::parse(R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.2.0/24"}})"));
  ASSERT_TRUE(n.ok()) << n.status();
  ASSERT_EQ(n->pod_cidrs.size(), 1u);
  auto bare = parseNode(json::parse(R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "n1"}, "spec": null})"));
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->pod_cidrs.empty());
}

TEST(Node, RefusalsNameTheField) {
  const auto parse = [](const json& j) { return parseNode(j); };
  using testing::expectRefused;
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n",
    "namespace": "x"}})",
                "Node n: metadata.namespace: Node is not namespaced");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
    "spec": {"podCIDRs": ["10.0.0.0/8", "x"]}})",
                "Node n: spec.podCIDRs[1]: must be a CIDR");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
    "spec": {"podCIDRs": "10.0.0.0/8"}})",
                "Node n: spec.podCIDRs: must be a list");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
    "status": {"addresses": [{"type": "InternalIP", "address": "n.example"}]}})",
                "Node n: status.addresses[0].address: must be an IP address");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n",
    "labels": {"a": "b c"}}})",
                "Node n: metadata.labels.a: \"b c\" is not a valid label value");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n",
    "annotations": {"a": 1}}})",
                "Node n: metadata.annotations.a: must be a string");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n",
    "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x"}]}})",
                "Node n: metadata.ownerReferences[0].uid: is required");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n",
    "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "x", "uid": "u",
    "controller": "yes"}]}})",
                "metadata.ownerReferences[0].controller: must be true or false");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "n"}})",
                "Pod n: kind: must be Node");
  expectRefused(parse, R"([1])", "an object must be a mapping");
}

TEST(Namespace, NameIsALabel) {
  auto ns = parseNamespace(json::parse(R"({"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "ml", "labels": {"kubernetes.io/metadata.name": "ml"}}})"));
  ASSERT_TRUE(ns.ok()) << ns.status();
  EXPECT_EQ(ns->metadata.labels.size(), 1u);
  testing::expectRefused([](const json& j) { return parseNamespace(j); },
                         R"({"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "a.b"}})",
                         "Namespace a.b: metadata.name");
}

TEST(Object, KindKeyAndTypedAccess) {
  auto o = parseObject(json::parse(R"({"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "ml"}})"));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->kind(), Kind::kNamespace);
  EXPECT_EQ(o->key(), (ObjectKey{Kind::kNamespace, "", "ml"}));
  EXPECT_NE(o->as<Namespace>(), nullptr);
  EXPECT_EQ(o->as<Pod>(), nullptr);
  EXPECT_EQ(o->metadata().name, "ml");
  auto wrong = parseObject(Kind::kPod, json::parse(R"({"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "ml"}})"));
  EXPECT_TRUE(absl::IsInvalidArgument(wrong.status())) << wrong.status();
}

}  // namespace
}  // namespace quasar::objects
