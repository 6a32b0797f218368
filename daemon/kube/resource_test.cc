#include "daemon/kube/resource.h"

#include <gtest/gtest.h>

namespace quasar::kube {
namespace {

TEST(Resource, Paths) {
  EXPECT_EQ(collectionPath(podResource(), ""), "/api/v1/pods");
  EXPECT_EQ(collectionPath(podResource(), "kube-system"), "/api/v1/namespaces/kube-system/pods");
  EXPECT_EQ(collectionPath(nodeResource(), "ignored"), "/api/v1/nodes");
  EXPECT_EQ(objectPath(nodeResource(), "", "gpu-1"), "/api/v1/nodes/gpu-1");
  EXPECT_EQ(collectionPath(networkPolicyResource(), "a"),
            "/apis/networking.k8s.io/v1/namespaces/a/networkpolicies");
  EXPECT_EQ(collectionPath(floatingIpPoolResource(), "a"), "/apis/quasar.io/v1/floatingippools");
  EXPECT_EQ(objectPath(quasarNetworkPolicyResource(), "b", "deny"),
            "/apis/quasar.io/v1/namespaces/b/networkpolicies/deny");
  EXPECT_EQ(floatingIpPoolResource().apiVersion(), "quasar.io/v1");
  EXPECT_EQ(namespaceResource().apiVersion(), "v1");
  EXPECT_EQ(collectionPath(statefulSetResource(), "data"),
            "/apis/apps/v1/namespaces/data/statefulsets");
  EXPECT_EQ(collectionPath(deploymentResource(), ""), "/apis/apps/v1/deployments");
  EXPECT_EQ(objectPath(replicaSetResource(), "shop", "web-7d4b9c"),
            "/apis/apps/v1/namespaces/shop/replicasets/web-7d4b9c");
  EXPECT_EQ(replicaSetResource().apiVersion(), "apps/v1");
}

TEST(Resource, EscapesQueryValues) {
  EXPECT_EQ(escapeQueryValue("a-b.c_d~e"), "a-b.c_d~e");
  EXPECT_EQ(escapeQueryValue("app in (web,db),!canary"), "app%20in%20%28web%2Cdb%29%2C%21canary");
  EXPECT_EQ(escapeQueryValue("k=v&x=y/z+w%"), "k%3Dv%26x%3Dy%2Fz%2Bw%25");
  EXPECT_EQ(escapeQueryValue("\xc3\xa9"), "%C3%A9");
}

TEST(Resource, ListPath) {
  ListOptions o;
  o.label_selector = "nvidia.com/gpu.present=true";
  o.field_selector = "spec.nodeName=node 1";
  o.resource_version = "0";
  o.limit = 500;
  EXPECT_EQ(listPath(podResource(), o),
            "/api/v1/pods?labelSelector=nvidia.com%2Fgpu.present%3Dtrue"
            "&fieldSelector=spec.nodeName%3Dnode%201&limit=500&resourceVersion=0");
  o = ListOptions{};
  o.limit = 0;
  EXPECT_EQ(listPath(nodeResource(), o), "/api/v1/nodes");
  o.limit = 2;
  o.continue_token = "eyJydiI6MX0=";
  o.resource_version = "7";  // taken from the token by the server
  EXPECT_EQ(listPath(nodeResource(), o), "/api/v1/nodes?limit=2&continue=eyJydiI6MX0%3D");
}

TEST(Resource, WatchPath) {
  WatchOptions o;
  o.namespace_name = "default";
  o.resource_version = "123";
  o.timeout_seconds = 300;
  o.label_selector = "app!=x";
  EXPECT_EQ(watchPath(podResource(), o),
            "/api/v1/namespaces/default/pods?watch=true&allowWatchBookmarks=true"
            "&labelSelector=app%21%3Dx&resourceVersion=123&timeoutSeconds=300");
  o = WatchOptions{};
  o.allow_bookmarks = false;
  EXPECT_EQ(watchPath(nodeResource(), o), "/api/v1/nodes?watch=true");
}

}  // namespace
}  // namespace quasar::kube
