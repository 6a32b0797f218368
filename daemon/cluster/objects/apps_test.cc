#include "daemon/cluster/objects/apps.h"

#include <gtest/gtest.h>

#include "daemon/cluster/objects/object.h"
#include "daemon/cluster/objects/test_util.h"

namespace quasar::objects {
namespace {

using nlohmann::json;

// As the API server returns them (trimmed): the fields quasar reads and some it ignores.
constexpr char kStatefulSet[] = R"({"apiVersion": "apps/v1", "kind": "StatefulSet",
  "metadata": {"name": "db", "namespace": "data", "uid": "ss-1", "resourceVersion": "12",
    "labels": {"app": "db"}, "annotations": {"quasar.io/release-policy": "immutable"}},
  "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
    "template": {"metadata": {"labels": {"app": "db"}}, "spec": {"containers": [
      {"name": "db", "image": "postgres"}]}}},
  "status": {"replicas": 2, "readyReplicas": 2}})";

constexpr char kReplicaSet[] = R"({"apiVersion": "apps/v1", "kind": "ReplicaSet",
  "metadata": {"name": "web-7d4b9c", "namespace": "shop", "uid": "rs-1",
    "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
      "uid": "d-1", "controller": true, "blockOwnerDeletion": true}]},
  "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}}})";

TEST(Apps, ReadsAStatefulSet) {
  auto s = parseStatefulSet(json::parse(kStatefulSet));
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->metadata.namespace_, "data");
  EXPECT_EQ(s->metadata.uid, "ss-1");
  EXPECT_EQ(s->metadata.annotations.at("quasar.io/release-policy"), "immutable");
  EXPECT_EQ(s->replicas, 3);
}

TEST(Apps, ReadsAReplicaSetAndItsDeployment) {
  auto rs = parseReplicaSet(json::parse(kReplicaSet));
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->replicas, 2);
  const OwnerReference* owner = rs->metadata.controllerRef();
  ASSERT_NE(owner, nullptr);
  EXPECT_EQ(owner->kind, "Deployment");
  EXPECT_EQ(owner->name, "web");
  EXPECT_EQ(owner->uid, "d-1");
}

TEST(Apps, ReplicasDefaultToOneAndMayBeZero) {
  auto d = parseDeployment(json::parse(
      R"({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}})"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->replicas, 1);
  EXPECT_EQ(d->metadata.namespace_, "default");
  d = parseDeployment(json::parse(R"({"apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web"}, "spec": {"selector": {}}})"));
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->replicas, 1);
  auto rs = parseReplicaSet(json::parse(R"({"apiVersion": "apps/v1", "kind": "ReplicaSet",
    "metadata": {"name": "old"}, "spec": {"replicas": 0}})"));
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->replicas, 0);
}

TEST(Apps, ParsedThroughObjectByApiVersionAndKind) {
  auto o = parseObject(json::parse(kReplicaSet));
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->kind(), Kind::kReplicaSet);
  EXPECT_EQ(o->ref(), "ReplicaSet shop/web-7d4b9c");
  ASSERT_NE(o->as<ReplicaSet>(), nullptr);
  auto wrong = parseObject(json::parse(
      R"({"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "a"}})"));
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("apiVersion: must be apps/v1"), std::string::npos)
      << wrong.status();
}

TEST(Apps, RefusalsNameTheField) {
  const auto sts = [](const json& j) { return parseStatefulSet(j); };
  const std::pair<const char*, json> cases[] = {
      {"StatefulSet data/db: spec.replicas: must be in [0, 2147483647]", {{"replicas", -1}}},
      {"spec.replicas: must be in [0, 2147483647]", {{"replicas", 2147483648LL}}},
      {"spec.replicas: must be an integer", {{"replicas", "3"}}},
      {"spec.replicas: must be an integer", {{"replicas", 1.5}}},
  };
  for (const auto& [fragment, change] : cases) {
    json j = json::parse(kStatefulSet);
    j["spec"].update(change);
    testing::expectRefused(sts, j.dump(), fragment);
  }
  json bad_spec = json::parse(kStatefulSet);
  bad_spec["spec"] = "three";
  testing::expectRefused(sts, bad_spec.dump(), "StatefulSet data/db: spec: must be a mapping");
  const auto rs = [](const json& j) { return parseReplicaSet(j); };
  json bad_owner = json::parse(kReplicaSet);
  bad_owner["metadata"]["ownerReferences"][0].erase("uid");
  testing::expectRefused(
      rs, bad_owner.dump(),
      "ReplicaSet shop/web-7d4b9c: metadata.ownerReferences[0].uid: is required");
  json cluster_scoped = json::parse(kReplicaSet);
  cluster_scoped["kind"] = "Deployment";
  testing::expectRefused(rs, cluster_scoped.dump(), "kind: must be ReplicaSet");
}

}  // namespace
}  // namespace quasar::objects
