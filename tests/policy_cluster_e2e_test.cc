// quasar.io/v1 NetworkPolicy with node selectors across nodes (label netns): three quasard nodes
// on etcd, one of them a "GPU node" by its Node labels. A peer nodeSelector admits pods by the
// labels of the node they run on; spec.nodeSelector picks the target pods the same way. A node
// relabelled changes who passes by set members only: the rules stay byte for byte.

#include <gtest/gtest.h>

#include <fstream>

#include "tests/cluster_bed.h"
#include "tests/eventually.h"
#include "tests/netns_probe.h"

namespace quasar::tests {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

constexpr char kGpu[] = "nvidia.com/gpu.present";

class PolicyCluster : public ClusterBed {
 protected:
  void apply(const std::string& text, int node = 1) {
    const std::string file = dir_ + "/objects-" + std::to_string(files_++) + ".json";
    std::ofstream(file) << text;
    auto r = ctl(node, "apply -f " + file);
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  // The Node objects of n1..n3; `gpu` lists the nodes labelled as GPU nodes.
  void labelNodes(const std::set<int>& gpu) {
    json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", json::array()}};
    for (int i = 1; i <= kNodes; ++i) {
      json labels = {{"kubernetes.io/hostname", "n" + std::to_string(i)}};
      if (gpu.count(i)) labels[kGpu] = "true";
      list["items"].push_back(
          {{"apiVersion", "v1"},
           {"kind", "Node"},
           {"metadata", {{"name", "n" + std::to_string(i)}, {"labels", labels}}}});
    }
    apply(list.dump());
  }
  // Pod object ml/<name> on node n<i> with app=<name>, then its ADD there.
  std::string startPod(int i, const std::string& name) {
    apply(json{{"apiVersion", "v1"},
               {"kind", "Pod"},
               {"metadata", {{"name", name}, {"namespace", "ml"}, {"labels", {{"app", name}}}}},
               {"spec", {{"nodeName", "n" + std::to_string(i)}, {"containers", {{{"name", "c"}}}}}}}
              .dump());
    auto r = add(i, name, {{"CNI_ARGS", "K8S_POD_NAMESPACE=ml;K8S_POD_NAME=" + name}});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << nodeLog(i);
    return ipOf(r);
  }
  std::string netns(const std::string& pod) { return "/run/netns/" + ns(pod); }
  std::string probe(const std::string& from, const std::string& ip) {
    return name(inNetns(netns(from), [&] { return connectOnce(ip, 8080); }));
  }
  // Waits until the probe gives `want` (a denial is answered at once, not waited out).
  bool probeUntil(const std::string& from, const std::string& ip, const std::string& want) {
    return eventually([&] { return probe(from, ip) == want; }, 10s);
  }
  // Node i's policy agent has every pod's address (the others' come through the datastore).
  bool knowsPods(int i, int pods) {
    auto j = ctl(i, "-o json policy status").json();
    return j.is_object() && j.value("pods", 0) >= pods && j.value("ready", false);
  }
  std::string quasarRules(int i) {
    std::string out;
    std::istringstream in(inNs("n" + std::to_string(i), "iptables-save -t filter").out);
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("-A QUASAR-", 0) == 0) out += line + "\n";
    }
    return out;
  }

  int files_ = 0;
};

TEST_F(PolicyCluster, PeerNodeSelectorAdmitsPodsOnGpuNodes) {
  labelNodes({1});
  const std::string web = startPod(2, "web");
  const std::string trainer = startPod(1, "trainer");
  const std::string batch = startPod(3, "batch");
  const int listener = listenIn(netns("web"), 8080);
  ASSERT_GE(listener, 0);
  ASSERT_TRUE(eventually([&] { return knowsPods(2, 3); })) << ctl(2, "policy status").out;
  ASSERT_EQ(probe("batch", web), "ok");

  apply(R"({"apiVersion": "quasar.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "web-from-gpu-nodes", "namespace": "ml"},
            "spec": {"podSelector": {"matchLabels": {"app": "web"}},
                     "ingress": [{"from": [{"namespaceSelector": {},
                                            "nodeSelector": {"matchLabels":
                                              {"nvidia.com/gpu.present": "true"}}}]}]}})");
  EXPECT_TRUE(probeUntil("batch", web, "rejected"));
  EXPECT_EQ(probe("trainer", web), "ok");
  auto why = ctl(2, "policy explain --from ml/batch --to ml/web --port 8080/TCP");
  EXPECT_NE(why.out.find("quasar.io:ml/web-from-gpu-nodes"), std::string::npos) << why.out;

  // n3 becomes a GPU node and n1 stops being one: set members move, rules stay.
  const std::string rules = quasarRules(2);
  labelNodes({3});
  EXPECT_TRUE(probeUntil("batch", web, "ok"));
  EXPECT_TRUE(probeUntil("trainer", web, "rejected"));
  EXPECT_EQ(quasarRules(2), rules);
  ::close(listener);
}

TEST_F(PolicyCluster, SpecNodeSelectorIsolatesPodsOnGpuNodesOnly) {
  labelNodes({1});
  const std::string on_gpu = startPod(1, "trainer");
  const std::string off_gpu = startPod(3, "batch");
  startPod(2, "client");
  const int l1 = listenIn(netns("trainer"), 8080);
  const int l3 = listenIn(netns("batch"), 8080);
  ASSERT_TRUE(eventually([&] { return knowsPods(1, 3) && knowsPods(3, 3); }));
  // Deny all ingress to the namespace's pods that run on GPU nodes.
  apply(R"({"apiVersion": "quasar.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "gpu-deny-all", "namespace": "ml"},
            "spec": {"podSelector": {},
                     "nodeSelector": {"matchLabels": {"nvidia.com/gpu.present": "true"}}}})");
  EXPECT_TRUE(probeUntil("client", on_gpu, "rejected"));
  EXPECT_EQ(probe("client", off_gpu), "ok");
  ::close(l1);
  ::close(l3);
}

}  // namespace
}  // namespace quasar::tests
