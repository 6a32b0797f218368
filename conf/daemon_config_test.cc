#include "conf/daemon_config.h"

#include <gtest/gtest.h>

namespace quasar::conf {
namespace {

TEST(DaemonConfig, ParsesFullConfig) {
  auto c = parseDaemonConfig(R"(
nodeName: n1
podCIDRs: [10.244.1.7/24]
reserved: [10.244.1.1]
releaseCooldownSeconds: 0.5
floatingHousekeepingSeconds: 0.5
networkPolicy: false
routingMode: vxlan-always
uplink: eth9
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->node_name, "n1");
  ASSERT_EQ(c->pod_cidrs.size(), 1u);
  EXPECT_EQ(c->pod_cidrs[0].toString(), "10.244.1.0/24");
  EXPECT_EQ(c->release_cooldown, std::chrono::milliseconds(500));
  EXPECT_EQ(c->floating_housekeeping, std::chrono::milliseconds(500));
  EXPECT_FALSE(c->network_policy);
  EXPECT_TRUE(parseDaemonConfig("podCIDRs: [10.0.0.0/24]\n")->network_policy);
  EXPECT_EQ(parseDaemonConfig("podCIDRs: [10.0.0.0/24]\n")->floating_housekeeping,
            std::chrono::seconds(10));
  EXPECT_EQ(c->routing_mode, RoutingMode::kVxlanAlways);
  EXPECT_EQ(encapsulationOverhead(c->routing_mode), 50);
  EXPECT_EQ(c->socket, kDefaultSocket);
}

TEST(DaemonConfig, ParsesClusterMode) {
  auto c = parseDaemonConfig(R"(
clusterCIDR: 10.244.0.0/16
blockSize: 28
nodeGoneGraceSeconds: 900
nodeIP: 10.99.0.1
labels: {nvidia.com/gpu.present: "true"}
datastore:
  type: etcd
  endpoints: [10.99.0.100:2379, 10.99.0.101:2379]
  prefix: /prod/
)");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->pod_cidrs.empty());
  EXPECT_EQ(c->cluster_cidr->toString(), "10.244.0.0/16");
  EXPECT_EQ(c->block_size, 28);
  EXPECT_EQ(c->node_gone_grace, std::chrono::seconds(900));
  EXPECT_EQ(parseDaemonConfig("clusterCIDR: 10.244.0.0/16\n")->node_gone_grace,
            std::chrono::seconds(3600));
  EXPECT_EQ(c->datastore.type, DatastoreConfig::Type::kEtcd);
  EXPECT_EQ(c->datastore.endpoints.size(), 2u);
  EXPECT_EQ(c->datastore.prefix, "/prod/");
  EXPECT_EQ(c->labels.at("nvidia.com/gpu.present"), "true");
}

TEST(DaemonConfig, ParsesKubernetesSourceAndIpamMode) {
  auto c =
      parseDaemonConfig("kubernetes: {kubeconfig: /etc/quasar/kubeconfig}\nipam: kubernetes\n");
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->kubernetes.has_value());
  EXPECT_EQ(c->kubernetes->kubeconfig, "/etc/quasar/kubeconfig");
  EXPECT_EQ(c->ipam, IpamMode::kKubernetes);
  EXPECT_TRUE(c->pod_cidrs.empty());

  auto in_cluster = parseDaemonConfig("kubernetes: {}\npodCIDRs: [10.1.0.0/24]\n");
  ASSERT_TRUE(in_cluster.ok()) << in_cluster.status();
  ASSERT_TRUE(in_cluster->kubernetes.has_value());
  EXPECT_EQ(in_cluster->kubernetes->kubeconfig, "");
  EXPECT_EQ(in_cluster->ipam, IpamMode::kQuasar);

  auto datastore = parseDaemonConfig("podCIDRs: [10.1.0.0/24]\n");
  ASSERT_TRUE(datastore.ok());
  EXPECT_FALSE(datastore->kubernetes.has_value());
}

TEST(DaemonConfig, RejectsBadKubernetesSettingsNamingTheField) {
  struct Case {
    const char* yaml;
    const char* field;
  };
  for (const Case& k : {
           Case{"ipam: kubernetes\n", "\"ipam\""},
           Case{"kubernetes: {}\nipam: kubernetes\npodCIDRs: [10.1.0.0/24]\n", "\"ipam\""},
           Case{"kubernetes: {}\nipam: calico\npodCIDRs: [10.1.0.0/24]\n", "\"ipam\""},
           Case{"kubernetes: {kubeconfig: rel/path}\nipam: kubernetes\n",
                "\"kubernetes.kubeconfig\""},
           Case{"kubernetes: {server: x}\nipam: kubernetes\n", "\"kubernetes.server\""},
           Case{"kubernetes: [a]\nipam: kubernetes\n", "\"kubernetes\""},
       }) {
    auto c = parseDaemonConfig(k.yaml);
    ASSERT_FALSE(c.ok()) << k.yaml;
    EXPECT_NE(c.status().message().find(k.field), std::string::npos)
        << k.yaml << " -> " << c.status();
  }
}

TEST(DaemonConfig, RejectsWithFieldNames) {
  auto expect_field = [](const char* yaml, const char* field) {
    auto c = parseDaemonConfig(yaml);
    ASSERT_FALSE(c.ok()) << yaml;
    EXPECT_NE(c.status().message().find(field), std::string::npos) << c.status();
  };
  expect_field("nodeName: x\n", "podCIDRs");
  expect_field("clusterCIDR: 10.244.0.0/16\npodCIDRs: [10.0.0.0/24]\n", "podCIDRs");
  expect_field("clusterCIDR: 10.244.0.0/16\nblockSize: 12\n", "blockSize");
  expect_field("clusterCIDR: 10.244.0.0/16\ndatastore: {type: etcd}\n", "datastore.endpoints");
  expect_field("clusterCIDR: 10.244.0.0/16\ndatastore: {type: etcd, endpoint: [a]}\n",
               "datastore.endpoint");
  expect_field("clusterCIDR: 10.244.0.0/16\nnodeTTLSeconds: 10\nnodeGoneGraceSeconds: 29\n",
               "nodeGoneGraceSeconds");
  expect_field("podCIDRs: [10.0.0.0/24, 10.0.0.128/25]\n", "overlaps");
  expect_field("podCIDRs: [fd00::/64]\n", "podCIDRs");
  expect_field("podCIDRs: [10.0.0.0/24]\nroutingMode: bgp\n", "routingMode");
  expect_field("podCIDRs: [10.0.0.0/24]\nfloatingHousekeepingSeconds: 0\n",
               "floatingHousekeepingSeconds");
  expect_field("podCIDRs: [10.0.0.0/24]\npodCidr: 10.0.0.0/24\n", "podCidr");
  expect_field("podCIDRs: [10.0.0.0/24]\nmtu: [1]\n", "daemon config");
  expect_field("podCIDRs: [10.0.0.0/24\n", "daemon config");
}

TEST(DaemonConfig, MetricsAddressDefaultsToLoopbackAndEmptyTurnsItOff) {
  EXPECT_EQ(parseDaemonConfig("podCIDRs: [10.0.0.0/24]\n")->metrics_address, "127.0.0.1:9617");
  EXPECT_EQ(parseDaemonConfig("podCIDRs: [10.0.0.0/24]\nmetricsAddress: \"\"\n")->metrics_address,
            "");
  EXPECT_EQ(parseDaemonConfig("podCIDRs: [10.0.0.0/24]\nmetricsAddress:\n")->metrics_address, "");
  for (const char* ok : {"0.0.0.0:9617", "10.1.2.3:0", "[::1]:9617", "[fd00::1]:65535"}) {
    auto c =
        parseDaemonConfig(std::string("podCIDRs: [10.0.0.0/24]\nmetricsAddress: \"") + ok + "\"\n");
    ASSERT_TRUE(c.ok()) << ok << ": " << c.status();
    EXPECT_EQ(c->metrics_address, ok);
  }
  for (const char* bad : {"localhost:9617", "127.0.0.1", "::1:9617", "[127.0.0.1]:80",
                          "127.0.0.1:65536", "127.0.0.1:http", ":9617", "[::1]9617"}) {
    auto c = parseDaemonConfig(std::string("podCIDRs: [10.0.0.0/24]\nmetricsAddress: \"") + bad +
                               "\"\n");
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_NE(c.status().message().find("metricsAddress"), std::string::npos) << c.status();
  }
}

}  // namespace
}  // namespace quasar::conf
