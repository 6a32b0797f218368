#include "daemon/cluster/objects/pod.h"

#include <gtest/gtest.h>

#include "daemon/cluster/objects/test_util.h"

namespace quasar::objects {
namespace {

using nlohmann::json;

// Shaped like what the API server returns for a running pod (trimmed).
constexpr char kPod[] = R"({"apiVersion": "v1", "kind": "Pod",
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
    "podIPs": [{"ip": "10.244.1.5"}, {"ip": "fd00::5"}]}})";

TEST(Pod, ReadsWhatPolicyAndFloatingIpsNeed) {
  auto p = parsePod(json::parse(kPod));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->metadata.namespace_, "shop");
  EXPECT_EQ(p->metadata.labels.at("app"), "web");
  EXPECT_EQ(p->metadata.annotations.at("quasar.io/floating-ip"), "true");
  ASSERT_NE(p->metadata.controllerRef(), nullptr);
  EXPECT_EQ(p->metadata.controllerRef()->kind, "ReplicaSet");
  EXPECT_EQ(p->node_name, "n1");
  EXPECT_FALSE(p->host_network);
  ASSERT_EQ(p->containers.size(), 2u);
  EXPECT_EQ(p->containers[0].ports[1].protocol, Protocol::kUdp);
  EXPECT_EQ(p->containers[1].ports[0].protocol, Protocol::kSctp);
  EXPECT_EQ(p->namedPort("http", Protocol::kTcp), 8080);
  EXPECT_EQ(p->namedPort("dns", Protocol::kUdp), 53);
  EXPECT_EQ(p->namedPort("dns", Protocol::kTcp), std::nullopt);
  EXPECT_EQ(p->phase, "Running");
  EXPECT_FALSE(p->terminated());
  ASSERT_EQ(p->pod_ips.size(), 2u);
  EXPECT_EQ(p->pod_ips[1].toString(), "fd00::5");
}

TEST(Pod, PodIpAloneAndNoStatus) {
  auto p = parsePod(json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"},
    "spec": {"hostNetwork": true, "containers": [{"name": "c"}]},
    "status": {"phase": "Succeeded", "podIP": "172.16.0.3"}})"));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->metadata.namespace_, "default");
  EXPECT_TRUE(p->host_network);
  EXPECT_TRUE(p->terminated());
  ASSERT_EQ(p->pod_ips.size(), 1u);
  auto bare = parsePod(json::parse(R"({"apiVersion": "v1", "kind": "Pod", "metadata":
    {"name": "a"}, "spec": {"containers": [{"name": "c"}]}})"));
  ASSERT_TRUE(bare.ok()) << bare.status();
  EXPECT_TRUE(bare->pod_ips.empty());
  EXPECT_EQ(bare->phase, "");
}

TEST(Pod, RefusalsNameTheObjectAndTheField) {
  const auto parse = [](const json& j) { return parsePod(j); };
  using testing::expectRefused;
  const auto with_ports = [](const std::string& ports) {
    return R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
      "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 80}, )" +
           ports + "]}]}}";
  };
  expectRefused(
      parse, with_ports(R"({"containerPort": 70000})"),
      "Pod default/web: spec.containers[0].ports[1].containerPort: must be in [1, 65535]");
  expectRefused(parse, with_ports(R"({"containerPort": "80"})"),
                "Pod default/web: spec.containers[0].ports[1].containerPort: must be an integer");
  expectRefused(parse, with_ports(R"({"containerPort": 80.5})"),
                "spec.containers[0].ports[1].containerPort: must be an integer");
  expectRefused(parse, with_ports(R"({"containerPort": 18446744073709551615})"),
                "spec.containers[0].ports[1].containerPort: must be an integer");
  expectRefused(parse, with_ports(R"({"name": "HTTP", "containerPort": 80})"),
                "spec.containers[0].ports[1].name: must be an IANA service name");
  expectRefused(parse, with_ports(R"({"containerPort": 80, "protocol": "ICMP"})"),
                "spec.containers[0].ports[1].protocol: must be TCP, UDP or SCTP");
  expectRefused(parse, with_ports(R"(80)"), "spec.containers[0].ports[1]: must be a mapping");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
    "spec": {"containers": []}})",
                "Pod default/web: spec.containers: must list at least one");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}})",
                "Pod default/web: spec: is required");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c"}], "hostNetwork": "true"}})",
                "spec.hostNetwork: must be true or false");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c"}], "nodeName": 3}})",
                "spec.nodeName: must be a string");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c"}]}, "status": {"podIPs": [{"ip": "10.0.0.300"}]}})",
                "Pod default/web: status.podIPs[0].ip: must be an IP address");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "c"}]}, "status": {"podIPs": ["10.0.0.3"]}})",
                "status.podIPs[0]: must be a mapping");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web",
    "namespace": "Shop"}, "spec": {"containers": [{"name": "c"}]}})",
                "metadata.namespace");
  expectRefused(parse, R"({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web",
    "ownerReferences": {"kind": "x"}}, "spec": {"containers": [{"name": "c"}]}})",
                "Pod default/web: metadata.ownerReferences: must be a list");
}

// Every value of every field replaced by each JSON type: refused or accepted, never a throw.
TEST(Pod, NoTypeMismatchThrows) {
  const json base = json::parse(kPod);
  const json replacements[] = {nullptr,
                               1,
                               -1,
                               1.5,
                               "x",
                               true,
                               json::array(),
                               json::object(),
                               json::array({1}),
                               json::object({{"a", 1}})};
  size_t cases = 0;
  std::function<void(const json::json_pointer&, const json&)> walk;
  walk = [&](const json::json_pointer& at, const json& node) {
    for (const auto& r : replacements) {
      json mutated = base;
      mutated[at] = r;
      ++cases;
      try {
        (void)parsePod(mutated);
      } catch (const std::exception& e) {
        ADD_FAILURE() << "threw " << e.what() << " with " << at.to_string() << " = " << r.dump();
      }
    }
    if (node.is_object()) {
      for (const auto& [k, v] : node.items()) walk(at / k, v);
    } else if (node.is_array()) {
      for (size_t i = 0; i < node.size(); ++i) walk(at / i, node[i]);
    }
  };
  walk(json::json_pointer(), base);
  EXPECT_GT(cases, 300u);
}

}  // namespace
}  // namespace quasar::objects
