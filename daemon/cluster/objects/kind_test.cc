#include "daemon/cluster/objects/kind.h"

#include <gtest/gtest.h>

namespace quasar::objects {
namespace {

TEST(Kind, StoreKeysRoundTripForEveryKind) {
  for (Kind k : kAllKinds) {
    const ObjectKey key{k, isNamespaced(k) ? "ml" : "", "a.b-1"};
    auto back = parseStoreKey(key.storeKey());
    ASSERT_TRUE(back.has_value()) << key.storeKey();
    EXPECT_EQ(*back, key);
  }
  EXPECT_EQ((ObjectKey{Kind::kPod, "default", "web"}.storeKey()), "k8s/pod/default/web");
  EXPECT_EQ((ObjectKey{Kind::kNode, "", "n1"}.storeKey()), "k8s/node/_/n1");
  EXPECT_EQ((ObjectKey{Kind::kQuasarNetworkPolicy, "ml", "p"}.storeKey()),
            "k8s/networkpolicy.quasar.io/ml/p");
  EXPECT_EQ((ObjectKey{Kind::kReplicaSet, "shop", "web-1"}.storeKey()),
            "k8s/replicaset/shop/web-1");
  EXPECT_EQ((ObjectKey{Kind::kStatefulSet, "data", "db"}.ref()), "StatefulSet data/db");
}

TEST(Kind, StorePrefixes) {
  EXPECT_EQ(storePrefix(Kind::kPod), "k8s/pod/");
  EXPECT_EQ(storePrefix(Kind::kPod, "shop"), "k8s/pod/shop/");
  EXPECT_EQ(storePrefix(Kind::kNode, "shop"), "k8s/node/_/");
  EXPECT_EQ(storePrefix(Kind::kFloatingIPPool), "k8s/floatingippool/_/");
}

TEST(Kind, ForeignKeysAreNotObjects) {
  for (const char* key : {"k8s/secret/default/s", "nodes/n1", "k8s/pod/default", "k8s/pod/a/b/c",
                          "k8s/node/default/n1", "k8s/pod/ns/", "x8s/pod/a/b"}) {
    EXPECT_FALSE(parseStoreKey(key).has_value()) << key;
  }
}

TEST(Kind, KindsByGroupAndAsTyped) {
  EXPECT_EQ(kindOf("v1", "Pod"), Kind::kPod);
  EXPECT_EQ(kindOf("networking.k8s.io/v1", "NetworkPolicy"), Kind::kNetworkPolicy);
  EXPECT_EQ(kindOf("quasar.io/v1", "NetworkPolicy"), Kind::kQuasarNetworkPolicy);
  EXPECT_EQ(kindOf("quasar.io/v1", "FloatingIPPool"), Kind::kFloatingIPPool);
  EXPECT_EQ(kindOf("v1", "NetworkPolicy"), std::nullopt);
  EXPECT_EQ(parseKindArg("pods"), Kind::kPod);
  EXPECT_EQ(parseKindArg("netpol"), Kind::kNetworkPolicy);
  EXPECT_EQ(parseKindArg("NS"), Kind::kNamespace);
  EXPECT_EQ(parseKindArg("networkpolicies.quasar.io"), Kind::kQuasarNetworkPolicy);
  EXPECT_EQ(parseKindArg("floatingippools"), Kind::kFloatingIPPool);
  EXPECT_EQ(kindOf("apps/v1", "StatefulSet"), Kind::kStatefulSet);
  EXPECT_EQ(kindOf("apps/v1", "Deployment"), Kind::kDeployment);
  EXPECT_EQ(kindOf("apps/v1", "ReplicaSet"), Kind::kReplicaSet);
  EXPECT_EQ(kindOf("extensions/v1beta1", "Deployment"), std::nullopt);
  EXPECT_EQ(parseKindArg("sts"), Kind::kStatefulSet);
  EXPECT_EQ(parseKindArg("statefulsets.apps"), Kind::kStatefulSet);
  EXPECT_EQ(parseKindArg("deploy"), Kind::kDeployment);
  EXPECT_EQ(parseKindArg("Deployments"), Kind::kDeployment);
  EXPECT_EQ(parseKindArg("rs"), Kind::kReplicaSet);
  EXPECT_EQ(parseKindArg("replicaset.apps"), Kind::kReplicaSet);
  EXPECT_EQ(parseKindArg("daemonsets"), std::nullopt);
  EXPECT_EQ(parseKindArg("secrets"), std::nullopt);
  EXPECT_EQ((ObjectKey{Kind::kNode, "", "gpu-1"}.ref()), "Node gpu-1");
  EXPECT_EQ((ObjectKey{Kind::kPod, "default", "web"}.ref()), "Pod default/web");
}

}  // namespace
}  // namespace quasar::objects
