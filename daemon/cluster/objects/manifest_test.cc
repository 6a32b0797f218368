#include "daemon/cluster/objects/manifest.h"

#include <gtest/gtest.h>

namespace quasar::objects {
namespace {

using nlohmann::json;

void expectRefused(const char* text, const std::string& fragment) {
  auto r = parseManifest(json::parse(text));
  ASSERT_FALSE(r.ok()) << text;
  EXPECT_NE(r.status().message().find(fragment), std::string::npos)
      << r.status().message() << " should mention " << fragment;
}

TEST(Manifest, AcceptsTheFourKindsAndFillsTheNamespace) {
  auto r = parseManifest(json::parse(R"({"kind": "List", "items": [
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-1",
      "labels": {"nvidia.com/gpu.present": "true"}}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "trainer-0", "namespace": "ml",
      "labels": {"app": "trainer"}, "annotations": {"note": "free text / allowed"}},
     "spec": {"containers": [{"name": "main", "ports": [{"containerPort": 8080}]}]}},
    {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "allow-trainers"},
     "spec": {"podSelector": {"matchLabels": {"app": "trainer"}},
              "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                           "ports": [{"protocol": "TCP", "port": 8080}]}]}}]})"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].storeKey(), "k8s/node/_/gpu-1");
  EXPECT_EQ((*r)[2].ref(), "Pod ml/trainer-0");
  EXPECT_EQ((*r)[3].key.namespace_, "default");
  EXPECT_EQ((*r)[3].body["metadata"]["namespace"], "default");
}

TEST(Manifest, RefusalsNameTheObjectAndTheField) {
  expectRefused(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 70000}]}]}})",
                "Pod default/web: spec.containers[0].ports[0].containerPort");
  expectRefused(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "Web"}})",
                "metadata.name");
  expectRefused(R"({"apiVersion": "v2", "kind": "Node", "metadata": {"name": "n"}})", "apiVersion");
  expectRefused(R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n",
    "labels": {"bad key!": "x"}}})",
                "metadata.labels");
  expectRefused(R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "p"}, "spec": {"podSelector": {"matchExpressions":
    [{"key": "a", "operator": "In"}]}}})",
                "spec.podSelector.matchExpressions[0].values");
  expectRefused(R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "p"}, "spec": {"podSelector": {}, "egress": [{"to":
    [{"ipBlock": {"cidr": "nope"}}]}]}})",
                "spec.egress[0].to[0].ipBlock.cidr");
  expectRefused(R"({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})", "kind");
  expectRefused(R"({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "ok"}}, {"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "not_ok"}}]})",
                "Namespace not_ok: metadata.name");
}

// Wrong JSON types anywhere are refused like any other bad value: InvalidArgument naming the
// field, never an exception (which quasard's gRPC layer would answer with UNKNOWN).
TEST(Manifest, WrongTypesAreRefusedNamingTheFieldWithoutThrowing) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"apiVersion": "v1", "kind": 5, "metadata": {"name": "n"}})", "object n: kind"},
      {R"({"apiVersion": "v1", "kind": ["Pod"], "metadata": {"name": "n"}})", "kind"},
      {R"({"apiVersion": 1, "kind": "Node", "metadata": {"name": "n"}})", "Node n: apiVersion"},
      {R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": 7}})", "metadata.name"},
      {R"({"apiVersion": "v1", "kind": "Node", "metadata": []})", "metadata"},
      {R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": 3},
        "spec": {"containers": [{"name": "c"}]}})",
       "Pod p: metadata.namespace"},
      {R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80,
        "protocol": 6}]}]}})",
       "spec.containers[0].ports[0].protocol"},
      {R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": []})", "spec"},
      {R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"}, "spec": {"podSelector": {},
        "ingress": [{"ports": "80"}]}})",
       "NetworkPolicy default/p: spec.ingress[0].ports"},
      {R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"}, "spec": {"podSelector": {},
        "egress": [{"ports": {"port": 80}}]}})",
       "spec.egress[0].ports"},
      {R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"}, "spec": {"podSelector": {},
        "ingress": [{"ports": [80]}]}})",
       "spec.ingress[0].ports[0]"},
      {R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"}, "spec": {"podSelector": {"matchExpressions":
        [{"key": "a", "operator": 1, "values": ["x"]}]}}})",
       "spec.podSelector.matchExpressions[0].operator"},
      {R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"}, "spec": {"podSelector": {},
        "policyTypes": [1]}})",
       "spec.policyTypes"},
      {R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p"}, "spec": {"podSelector": {"matchExpressions":
        [{"key": "a", "operator": "In", "values": [1]}]}}})",
       "spec.podSelector.matchExpressions[0].values"},
      {R"({"kind": 1, "items": []})", "kind"},
      {R"({"kind": "List", "items": [{"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "ok"}}, 5]})",
       "items[1]"},

  };
  for (const auto& [text, fragment] : cases) {
    absl::StatusOr<std::vector<ManifestObject>> r;
    try {
      r = parseManifest(json::parse(text));
    } catch (const std::exception& e) {
      ADD_FAILURE() << "threw " << e.what() << " on " << text;
      continue;
    }
    if (r.ok()) {
      ADD_FAILURE() << "accepted " << text;
      continue;
    }
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
    EXPECT_NE(r.status().message().find(fragment), std::string::npos)
        << r.status().message() << " should mention " << fragment;
  }
}

TEST(Manifest, ListsNestOnlySoDeep) {
  json nested =
      json::parse(R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})");
  for (int i = 0; i < 3; ++i) nested = json::array({nested});
  auto shallow = parseManifest(nested);
  ASSERT_TRUE(shallow.ok()) << shallow.status();
  EXPECT_EQ(shallow->size(), 1u);
  for (int i = 0; i < 1000; ++i) nested = json::array({nested});
  auto deep = parseManifest(nested);
  EXPECT_TRUE(absl::IsInvalidArgument(deep.status())) << deep.status();
  EXPECT_NE(deep.status().message().find("nest"), std::string::npos) << deep.status();
}

TEST(Manifest, AcceptsQuasarKindsWithTheirOwnKeys) {
  auto r = parseManifest(json::parse(R"([
    {"apiVersion": "quasar.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "gpu",
      "namespace": "ml"}, "spec": {"podSelector": {}, "nodeSelector": {"matchLabels":
      {"nvidia.com/gpu.present": "true"}}}},
    {"apiVersion": "quasar.io/v1", "kind": "FloatingIPPool", "metadata": {"name": "u"},
     "spec": {"subnet": "10.20.0.0/24", "ranges": ["10.20.0.100-10.20.0.199"]}}])"));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].storeKey(), "k8s/networkpolicy.quasar.io/ml/gpu");
  EXPECT_EQ((*r)[0].ref(), "NetworkPolicy.quasar.io ml/gpu");
  EXPECT_EQ((*r)[1].storeKey(), "k8s/floatingippool/_/u");
  EXPECT_EQ((*r)[1].body.contains("metadata") && (*r)[1].body["metadata"].contains("namespace"),
            false);
}

TEST(Manifest, AKindUnderAnotherGroupNamesTheApiVersions) {
  expectRefused(R"({"apiVersion": "v1", "kind": "NetworkPolicy", "metadata": {"name": "p"}})",
                "NetworkPolicy p: apiVersion: must be networking.k8s.io/v1 or quasar.io/v1");
  expectRefused(R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "p"}, "spec": {"podSelector": {}, "nodeSelector": {}}})",
                "spec.nodeSelector: is allowed only in quasar.io/v1 NetworkPolicy");
}

}  // namespace
}  // namespace quasar::objects
