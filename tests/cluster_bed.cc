#include "tests/cluster_bed.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

namespace quasar::tests {

using nlohmann::json;
using namespace std::chrono_literals;

int ClusterBed::counter_ = 0;

void ClusterBed::SetUp() {
  prefix_ = bedPrefix(counter_++);
  subnet_ = "10.99." + std::to_string(counter_ % 250);
  char tmpl[] = "/tmp/quasar-cluster-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  dir_ = tmpl;
  subnet2_ = "10.98." + std::to_string(counter_ % 250);
  for (const char* lan : {"lan", "lan2"}) {
    if (std::string(lan) == "lan2" && !two_subnets_) continue;
    addNs(lan);
    ASSERT_EQ(sh("ip -n " + ns(lan) + " link add br0 type bridge && ip -n " + ns(lan) +
                 " link set br0 up")
                  .exit_code,
              0);
  }
  attach("etcd", 100);
  for (int i = 1; i <= kNodes; ++i) {
    if (two_subnets_ && i == 3) {
      attach("n3", 3, "lan2", subnet2_);
    } else {
      attach("n" + std::to_string(i), i);
    }
  }
  if (two_subnets_) {
    // A router between the two subnets; every host routes the other subnet through it.
    attach("rt", 254);
    attach("rt", 254, "lan2", subnet2_, "up1");
    ASSERT_EQ(inNs("rt", "sysctl -qw net.ipv4.ip_forward=1").exit_code, 0);
    for (const char* host : {"etcd", "n1", "n2"}) {
      ASSERT_EQ(inNs(host, "ip route add " + subnet2_ + ".0/24 via " + subnet_ + ".254").exit_code,
                0);
    }
    ASSERT_EQ(inNs("n3", "ip route add " + subnet_ + ".0/24 via " + subnet2_ + ".254").exit_code,
              0);
  }
  startEtcd();
  for (int i = 1; i <= kNodes; ++i) startNode(i);
}

void ClusterBed::TearDown() {
  for (auto& [name, pid] : pids_) {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
  for (auto it = namespaces_.rbegin(); it != namespaces_.rend(); ++it) {
    sh("ip netns del " + *it + " 2>/dev/null");
  }
  std::filesystem::remove_all(dir_);
}

void ClusterBed::addNs(const std::string& name) {
  ASSERT_EQ(sh("ip netns add " + ns(name) + " && ip -n " + ns(name) + " link set lo up").exit_code,
            0);
  namespaces_.push_back(ns(name));
}

void ClusterBed::attach(const std::string& name, int host, const std::string& lan,
                        std::string subnet, const std::string& dev) {
  if (subnet.empty()) subnet = subnet_;
  if (dev == "up0") addNs(name);
  const std::string port = "p" + std::to_string(host) + dev;
  auto r =
      sh("ip -n " + ns(name) + " link add " + dev + " type veth peer name " + port + " netns " +
         ns(lan) + " && ip -n " + ns(lan) + " link set " + port + " master br0 up && ip -n " +
         ns(name) + " addr add " + subnet + "." + std::to_string(host) + "/24 dev " + dev +
         " && ip -n " + ns(name) + " link set " + dev + " up");
  ASSERT_EQ(r.exit_code, 0) << r.err;
}

void ClusterBed::startEtcd() {
  const std::string ip = subnet_ + ".100";
  pids_["etcd"] = spawnBackground(
      {"ip", "netns", "exec", ns("etcd"), "etcd", "--name=e", "--data-dir=" + dir_ + "/etcd",
       "--listen-client-urls=http://" + ip + ":2379",
       "--advertise-client-urls=http://" + ip + ":2379", "--listen-peer-urls=http://127.0.0.1:2380",
       "--initial-advertise-peer-urls=http://127.0.0.1:2380",
       "--initial-cluster=e=http://127.0.0.1:2380", "--log-level=error"},
      dir_ + "/etcd.log");
  for (int i = 0; i < 100; ++i) {
    if (inNs("n1", "ETCDCTL_API=3 etcdctl --endpoints=" + ip +
                       ":2379 --command-timeout=1s endpoint health")
            .exit_code == 0) {
      return;
    }
    std::this_thread::sleep_for(100ms);
  }
  FAIL() << "etcd did not come up";
}

void ClusterBed::startNode(int i, const std::string& extra) {
  std::filesystem::create_directories(nodeDir(i));
  std::ofstream(nodeDir(i) + "/quasard.yaml")
      << "nodeName: n" << i << "\nsocket: " << socket(i) << "\ncniSocket: " << nodeDir(i)
      << "/cni.sock\nstateDir: " << nodeDir(i) << "/state\nuplink: up0\n"
      << "clusterCIDR: 10.244.0.0/26\nblockSize: 29\nnodeTTLSeconds: 3\n"
      << "releaseCooldownSeconds: 0\nblockReleaseGraceSeconds: 2\nroutingMode: "
      << (node_mode_.contains(i) ? node_mode_[i] : mode_) << "\n"
      << (i == 1 ? "labels: {nvidia.com/gpu.present: \"true\"}\n" : "")
      << "datastore:\n  type: etcd\n  endpoints: [" << subnet_ << ".100:2379]\n  prefix: /"
      << prefix_ << "/\n"
      << node_extra_ << extra;
  const std::string name = "n" + std::to_string(i);
  pids_[name] = spawnBackground({"ip", "netns", "exec", ns(name), QUASAR_BIN_DIR "/quasard", "-c",
                                 nodeDir(i) + "/quasard.yaml"},
                                nodeDir(i) + "/quasard.log");
  for (int t = 0; t < 100; ++t) {
    if (ctl(i, "status").exit_code == 0) return;
    std::this_thread::sleep_for(50ms);
  }
  FAIL() << "quasard n" << i << " did not come up";
}

void ClusterBed::killServer(const std::string& name) {
  auto it = pids_.find(name);
  if (it == pids_.end() || it->second <= 0) return;
  kill(it->second, SIGKILL);
  waitpid(it->second, nullptr, 0);
  it->second = -1;
}

std::string ClusterBed::nodeLog(int i) const {
  std::ifstream in(nodeDir(i) + "/quasard.log");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

CmdResult ClusterBed::inNs(const std::string& name, const std::string& cmd) {
  return run({"ip", "netns", "exec", ns(name), "/bin/sh", "-c", cmd});
}

CmdResult ClusterBed::ctl(int i, const std::string& args) {
  return inNs("n" + std::to_string(i),
              std::string(QUASAR_BIN_DIR) + "/quasarctl --socket " + socket(i) + " " + args);
}

json ClusterBed::cniConf(int i) const {
  return {{"cniVersion", "1.0.0"},
          {"name", "quasar"},
          {"type", "quasar"},
          {"socket", nodeDir(i) + "/cni.sock"}};
}

CmdResult ClusterBed::del(int i, const std::string& pod,
                          const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> all = env;
  all.insert({{"CNI_COMMAND", "DEL"}, {"CNI_CONTAINERID", pod}, {"CNI_IFNAME", "eth0"}});
  return run({"ip", "netns", "exec", ns("n" + std::to_string(i)), QUASAR_BIN_DIR "/quasar"},
             cniConf(i).dump(), all);
}

bool ClusterBed::makePodNs(const std::string& name) {
  std::lock_guard lock(mu_);
  if (sh("ip netns add " + ns(name)).exit_code != 0) return false;
  namespaces_.push_back(ns(name));
  return true;
}

CmdResult ClusterBed::addIn(int i, const std::string& container, const std::string& pod_ns,
                            const std::map<std::string, std::string>& env) {
  std::map<std::string, std::string> all = env;
  all.insert({{"CNI_COMMAND", "ADD"},
              {"CNI_CONTAINERID", container},
              {"CNI_NETNS", "/run/netns/" + ns(pod_ns)},
              {"CNI_IFNAME", "eth0"}});
  return run({"ip", "netns", "exec", ns("n" + std::to_string(i)), QUASAR_BIN_DIR "/quasar"},
             cniConf(i).dump(), all);
}

CmdResult ClusterBed::add(int i, const std::string& pod,
                          const std::map<std::string, std::string>& env) {
  if (!makePodNs(pod)) return {};
  return addIn(i, pod, pod, env);
}

std::string ipOf(const CmdResult& r) {
  auto j = r.json();
  if (!j.is_object() || !j.contains("ips") || j["ips"].empty()) return "";
  std::string a = j["ips"][0].value("address", "");
  return a.substr(0, a.find('/'));
}

}  // namespace quasar::tests
