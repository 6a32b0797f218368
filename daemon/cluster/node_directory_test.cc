#include "daemon/cluster/node_directory.h"

#include <gtest/gtest.h>

#include <atomic>

namespace quasar::daemon {
namespace {

using json = nlohmann::json;

// The view is fed by hand (it is the sink); this source only names the kind.
class NodesOnly final : public ObjectSource {
 public:
  std::vector<objects::Kind> kinds() const override { return {objects::Kind::kNode}; }
  absl::Status start(ObjectSink&) override { return absl::OkStatus(); }
  void stop() override {}
  std::string describe() const override { return "test"; }
  absl::StatusOr<std::optional<json>> fetch(objects::Kind, const std::string&, const std::string&,
                                            std::chrono::milliseconds) override {
    return std::optional<json>();
  }
};

json node(const std::string& name, const std::string& rv, json annotations, json cidrs,
          const std::string& internal_ip) {
  json n = {{"apiVersion", "v1"},
            {"kind", "Node"},
            {"metadata", {{"name", name}, {"resourceVersion", rv}, {"labels", {{"zone", "a"}}}}},
            {"spec", {{"podCIDRs", cidrs}}},
            {"status", {{"addresses", json::array()}}}};
  if (!annotations.empty()) n["metadata"]["annotations"] = annotations;
  if (!internal_ip.empty()) {
    n["status"]["addresses"].push_back({{"type", "InternalIP"}, {"address", internal_ip}});
  }
  return n;
}

TEST(NodeObjectDirectory, RoutesToEachNodesPodCidrsAtTheAddressQuasardAnnotated) {
  NodesOnly source;
  ObjectView view(source);
  ASSERT_TRUE(view.start().ok());
  NodeObjectDirectory dir(view);
  std::atomic<int> changes{0};
  auto handle = dir.onChange([&] { ++changes; });
  view.replace(
      objects::Kind::kNode,
      {node("gpu-1", "1",
            {{"quasar.io/node-ip", "10.20.0.11"}, {"quasar.io/node-subnet", "10.20.0.0/24"}},
            {"10.244.3.0/24", "fd00::/64"}, "172.16.0.11"),
       node("cpu-1", "2", json::object(), {"10.244.4.0/24"}, "172.16.0.12"),
       node("new-1", "3", json::object(), json::array(), "")});
  EXPECT_GT(changes.load(), 0);
  auto nodes = dir.nodes();
  ASSERT_EQ(nodes.size(), 3u);
  EXPECT_EQ(nodes[0].record.name, "cpu-1");      // sorted by name
  EXPECT_EQ(nodes[0].record.ip, "172.16.0.12");  // no annotation yet: the InternalIP
  EXPECT_TRUE(nodes[0].ready);
  EXPECT_EQ(nodes[1].record.name, "gpu-1");
  EXPECT_EQ(nodes[1].record.ip, "10.20.0.11");
  EXPECT_EQ(nodes[1].record.subnet, "10.20.0.0/24");
  ASSERT_EQ(nodes[1].blocks.size(), 1u);  // IPv4 only: the data path is IPv4
  EXPECT_EQ(nodes[1].blocks[0].toString(), "10.244.3.0/24");
  EXPECT_EQ(nodes[1].record.labels.at("zone"), "a");
  EXPECT_EQ(nodes[2].record.name, "new-1");
  EXPECT_FALSE(nodes[2].ready);  // no address: nothing to route through

  const int before = changes.load();
  view.event(
      objects::Kind::kNode, ObjectEventType::kModified,
      node("cpu-1", "4", {{"quasar.io/node-ip", "10.20.0.12"}}, {"10.244.4.0/24"}, "172.16.0.12"));
  EXPECT_GT(changes.load(), before);
  EXPECT_EQ(dir.nodes()[0].record.ip, "10.20.0.12");
  handle.reset();
  const int after_reset = changes.load();
  view.event(objects::Kind::kNode, ObjectEventType::kDeleted,
             node("new-1", "5", json::object(), json::array(), ""));
  EXPECT_EQ(changes.load(), after_reset);
  EXPECT_EQ(dir.nodes().size(), 2u);
}

}  // namespace
}  // namespace quasar::daemon
