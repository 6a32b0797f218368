#include "daemon/cluster/objects/object_json.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace quasar::objects {
namespace {

using nlohmann::json;

// The fixtures of the parsers' tests, and a few that use every field.
const std::vector<std::string> kFixtures = {
    // pod_test.cc
    R"({"apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "web-7d4b9c-x2x", "namespace": "shop", "uid": "p-1",
    "resourceVersion": "1001", "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
    "annotations": {"quasar.io/floating-ip": "true"},
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
      "uid": "rs-1", "controller": true, "blockOwnerDeletion": true}]},
  "spec": {"nodeName": "n1", "containers": [
    {"name": "app", "image": "nginx", "ports": [{"name": "http", "containerPort": 8080},
      {"name": "dns", "containerPort": 53, "protocol": "UDP"}]},
    {"name": "sidecar", "ports": [{"containerPort": 9090, "protocol": "SCTP"}]}]},
  "status": {"phase": "Running", "podIP": "10.244.1.5",
    "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]}})",
    R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
    "spec": {"hostNetwork": true, "containers": [{"name": "c"}]},
    "status": {"phase": "Succeeded", "podIP": "172.16.0.3"}})",
    R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
    "spec": {"containers": [{"name": "c"}]}})",
    // A pod with two owners, only one the controller, and an IPv6-only address.
    R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "db-0", "namespace": "data",
      "creationTimestamp": "2024-05-01T10:00:00Z", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db", "uid": "ss-1",
         "controller": true},
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "cfg", "uid": "cm-1",
         "controller": false}]},
    "spec": {"nodeName": "n2", "containers": [{"name": "db", "ports": [
      {"name": "pg", "containerPort": 5432, "protocol": "TCP"}]}]},
    "status": {"phase": "Pending", "podIPs": [{"ip": "fd00::7"}]}})",
    // network_policy_test.cc
    R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "shop"},
    "spec": {"podSelector": {"matchLabels": {"app": "db"}, "matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["test"]}]},
      "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}},
                   "namespaceSelector": {"matchExpressions": [{"key": "team",
                     "operator": "Exists"}]}},
                  {"ipBlock": {"cidr": "172.16.0.0/16", "except": ["172.16.1.0/24"]}}],
         "ports": [{"protocol": "TCP", "port": 5432}, {"port": "metrics"},
                   {"protocol": "UDP", "port": 30000, "endPort": 30100}]},
        {}],
      "egress": [{"to": [{"namespaceSelector": {}}]}]}})",
    R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "p"},
    "spec": {"podSelector": {}, "policyTypes": ["Egress"]}})",
    R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "p"}, "spec": {"podSelector": {},
    "egress": []}})",
    R"({"apiVersion": "quasar.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "gpu-only", "namespace": "ml"},
    "spec": {"podSelector": {}, "nodeSelector": {"matchLabels":
      {"nvidia.com/gpu.present": "true"}},
      "ingress": [{"from": [{"nodeSelector": {"matchExpressions": [
        {"key": "nvidia.com/gpu.present", "operator": "Exists"}]}, "podSelector": {}}]}]}})",
    // Every peer and port shape; policyTypes in the order given; selectors present but empty.
    R"({"apiVersion": "quasar.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "all", "namespace": "ml", "uid": "np-9", "resourceVersion": "77",
      "labels": {"team": "ml"}, "annotations": {"note": "x"}},
    "spec": {"podSelector": {"matchExpressions": [{"key": "gpu", "operator": "DoesNotExist"},
        {"key": "tier", "operator": "In", "values": ["a", "b"]}]},
      "nodeSelector": {}, "policyTypes": ["Egress", "Ingress"],
      "ingress": [{"from": [{"podSelector": {}}, {"namespaceSelector": {}},
          {"nodeSelector": {}}, {"ipBlock": {"cidr": "fd00::/48"}}]},
        {"ports": [{"protocol": "SCTP"}, {"protocol": "UDP", "port": "dns"}]}],
      "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "x"}},
          "namespaceSelector": {"matchLabels": {"team": "y"}},
          "nodeSelector": {"matchLabels": {"zone": "a"}}}],
        "ports": [{"port": 1, "endPort": 65535}]}, {}]}})",
    // meta_test.cc
    R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "gpu-1", "uid": "u-1", "resourceVersion": "42",
      "creationTimestamp": "2024-05-01T10:00:00Z",
      "labels": {"nvidia.com/gpu.present": "true", "empty": ""},
      "annotations": {"quasar.io/tunnel": "10.0.0.1 / anything"},
      "ownerReferences": [{"apiVersion": "v1", "kind": "Thing", "name": "t", "uid": "u-0",
        "controller": true}],
      "managedFields": [{"manager": "kubelet"}]},
    "spec": {"podCIDRs": ["10.244.1.0/24", "fd00::/64"]},
    "status": {"addresses": [{"type": "Hostname", "address": "gpu-1"},
      {"type": "InternalIP", "address": "172.16.0.11"}]}})",
    R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.2.0/24"}})",
    R"({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": null})",
    R"({"apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "ml", "labels": {"kubernetes.io/metadata.name": "ml"}}})",
    R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ml"}})",
    // manifest_test.cc
    R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "trainer-0", "namespace": "ml",
      "labels": {"app": "trainer"}, "annotations": {"note": "free text / allowed"}},
     "spec": {"containers": [{"name": "main", "ports": [{"containerPort": 8080}]}]}})",
    R"({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
     "metadata": {"name": "allow-trainers"},
     "spec": {"podSelector": {"matchLabels": {"app": "trainer"}},
              "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}],
                           "ports": [{"protocol": "TCP", "port": 8080}]}]}})",
    // floating_ip_pool_test.cc
    R"({"apiVersion": "quasar.io/v1", "kind": "FloatingIPPool",
  "metadata": {"name": "gpu-underlay"},
  "spec": {"subnet": "10.20.0.0/24", "gateway": "10.20.0.1",
    "ranges": ["10.20.0.100-10.20.0.199"], "exclude": ["10.20.0.150"], "vlan": 0,
    "nodeSubnets": ["10.20.0.0/24"], "nodeSelector": {"nvidia.com/gpu.present": "true"},
    "maxAllocated": 80, "mode": "veth"}})",
    R"({"apiVersion": "quasar.io/v1",
    "kind": "FloatingIPPool", "metadata": {"name": "u"}, "spec": {"subnet": "10.20.0.0/24",
    "ranges": ["10.20.0.10", "10.20.0.20-10.20.0.29"], "mode": "macvlan", "vlan": 100}})",
    // IPv6, several excludes and node subnets (written with host bits, read as networks).
    R"({"apiVersion": "quasar.io/v1", "kind": "FloatingIPPool",
  "metadata": {"name": "v6", "labels": {"site": "a"}},
  "spec": {"subnet": "fd10::/64", "gateway": "fd10::1", "ranges": ["fd10::100-fd10::1ff"],
    "exclude": ["fd10::150", "fd10::160-fd10::16f"], "vlan": 4094,
    "nodeSubnets": ["fd10::5/64", "10.1.0.0/16"], "maxAllocated": 1}})",
    // apps_test.cc
    R"({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db",
      "namespace": "data", "uid": "ss-1", "labels": {"app": "db"}},
    "spec": {"replicas": 3, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}}}})",
    R"({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}})",
    R"({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-7d4b9c",
      "namespace": "shop", "uid": "rs-1", "ownerReferences": [{"apiVersion": "apps/v1",
        "kind": "Deployment", "name": "web", "uid": "d-1", "controller": true}]},
    "spec": {"replicas": 0}})",
};

TEST(ObjectJson, ParsingTheRenderingGivesTheSameObject) {
  for (const std::string& text : kFixtures) {
    SCOPED_TRACE(text);
    auto parsed = parseObject(json::parse(text));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    const json rendered = toJson(*parsed);
    SCOPED_TRACE(rendered.dump());
    auto again = parseObject(rendered);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *parsed);
    EXPECT_EQ(toJson(*again), rendered);  // stable
    EXPECT_EQ(rendered["metadata"].contains("namespace"), isNamespaced(parsed->kind()));
  }
}

// Nothing empty is written: no null, no empty list, no empty map except the selectors where {}
// means "everything" and the spec/status the API server always writes.
void expectNoEmpty(const json& j, const std::string& path) {
  EXPECT_FALSE(j.is_null()) << path;
  if (j.is_array()) {
    EXPECT_FALSE(j.empty()) << path;
  }
  if (j.is_object() && j.empty()) {
    const bool allowed = path.ends_with("Selector") || path.ends_with("/spec") ||
                         path.ends_with("/status") || path.find("/ingress/") != std::string::npos ||
                         path.find("/egress/") != std::string::npos;
    EXPECT_TRUE(allowed) << path;
  }
  if (j.is_structured()) {
    for (const auto& [k, v] : j.items()) expectNoEmpty(v, path + "/" + k);
  }
}

TEST(ObjectJson, LeavesOutEmptyOptionalFields) {
  for (const std::string& text : kFixtures) {
    SCOPED_TRACE(text);
    auto parsed = parseObject(json::parse(text));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    expectNoEmpty(toJson(*parsed), "");
  }
}

TEST(ObjectJson, PodGolden) {
  auto pod = parseObject(json::parse(kFixtures[0]));
  ASSERT_TRUE(pod.ok()) << pod.status();
  EXPECT_EQ(toJson(*pod), json::parse(R"({"apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-7d4b9c-x2x", "namespace": "shop", "uid": "p-1",
      "resourceVersion": "1001", "labels": {"app": "web", "pod-template-hash": "7d4b9c"},
      "annotations": {"quasar.io/floating-ip": "true"},
      "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4b9c",
        "uid": "rs-1", "controller": true}]},
    "spec": {"nodeName": "n1", "containers": [
      {"name": "app", "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
        {"name": "dns", "containerPort": 53, "protocol": "UDP"}]},
      {"name": "sidecar", "ports": [{"containerPort": 9090, "protocol": "SCTP"}]}]},
    "status": {"phase": "Running", "podIP": "10.244.1.5",
      "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]}})"))
      << toJson(*pod).dump(2);
}

TEST(ObjectJson, NetworkPolicyGolden) {
  auto policy = parseObject(json::parse(kFixtures[4]));
  ASSERT_TRUE(policy.ok()) << policy.status();
  EXPECT_EQ(toJson(*policy), json::parse(R"({"apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "shop"},
    "spec": {"podSelector": {"matchLabels": {"app": "db"}, "matchExpressions": [
        {"key": "tier", "operator": "NotIn", "values": ["test"]}]},
      "policyTypes": ["Ingress", "Egress"],
      "ingress": [
        {"from": [{"podSelector": {"matchLabels": {"app": "web"}},
                   "namespaceSelector": {"matchExpressions": [{"key": "team",
                     "operator": "Exists"}]}},
                  {"ipBlock": {"cidr": "172.16.0.0/16", "except": ["172.16.1.0/24"]}}],
         "ports": [{"protocol": "TCP", "port": 5432}, {"protocol": "TCP", "port": "metrics"},
                   {"protocol": "UDP", "port": 30000, "endPort": 30100}]},
        {}],
      "egress": [{"to": [{"namespaceSelector": {}}]}]}})"))
      << toJson(*policy).dump(2);
}

TEST(ObjectJson, NodeAndPoolShapes) {
  auto node = parseObject(json::parse(kFixtures[10]));
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(toJson(*node), json::parse(R"({"apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.2.0/24",
    "podCIDRs": ["10.244.2.0/24"]}, "status": {}})"));
  auto pool = parseObject(json::parse(kFixtures[17]));
  ASSERT_TRUE(pool.ok()) << pool.status();
  EXPECT_EQ(toJson(*pool), json::parse(R"({"apiVersion": "quasar.io/v1",
    "kind": "FloatingIPPool", "metadata": {"name": "u"}, "spec": {"subnet": "10.20.0.0/24",
    "ranges": ["10.20.0.10", "10.20.0.20-10.20.0.29"], "vlan": 100, "mode": "macvlan"}})"));
}

// Hand-built objects hold what no parser returns (invalid UTF-8, empty names, an empty policy
// type list): rendering them neither throws nor writes null.
TEST(ObjectJson, NeverThrows) {
  Pod pod;
  pod.metadata.name = "bad\xff";
  pod.metadata.labels["k"] = "\xc3";
  pod.containers.push_back(Container{"", {ContainerPort{}}});
  NetworkPolicy policy;
  policy.spec.ingress.push_back(NetworkPolicyRule{{NetworkPolicyPeer{}}, {NetworkPolicyPort{}}});
  const std::vector<Object> objects = {Node{}, Namespace{},           pod,
                                       policy, QuasarNetworkPolicy{}, FloatingIPPool{}};
  for (const Object& o : objects) {
    try {
      const std::string text = toJsonText(o, 2);
      EXPECT_FALSE(text.empty());
      EXPECT_EQ(text.find("null"), std::string::npos) << text;
    } catch (const std::exception& e) {
      ADD_FAILURE() << kindName(o.kind()) << " threw " << e.what();
    }
  }
  EXPECT_NE(toJsonText(pod).find("bad\xef\xbf\xbd"), std::string::npos);
}

}  // namespace
}  // namespace quasar::objects
