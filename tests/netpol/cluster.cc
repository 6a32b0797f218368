#include "tests/netpol/cluster.h"

#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "tests/spawn.h"

namespace quasar::tests::netpol {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::duration_cast;
using std::chrono::milliseconds;

constexpr char kFenceNs[] = "fence";
constexpr char kMetadataName[] = "kubernetes.io/metadata.name";
constexpr char kHostname[] = "kubernetes.io/hostname";

// Isolates fence/to for ingress (fence/from may no longer reach it).
constexpr char kFencePolicy[] = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: fence, namespace: fence}
spec:
  podSelector: {matchLabels: {pod: to}}
  policyTypes: [Ingress]
)";

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

const char* protocolName(Protocol p) {
  return p == Protocol::kTcp ? "tcp" : p == Protocol::kUdp ? "udp" : "sctp";
}
const char* protocolK8s(Protocol p) {
  return p == Protocol::kTcp ? "TCP" : p == Protocol::kUdp ? "UDP" : "SCTP";
}

bool kernelHasSctp(std::string* why) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP);
  if (fd < 0) {
    const int err = errno;
    *why = std::string("socket(AF_INET, SOCK_STREAM, IPPROTO_SCTP): ") + strerror(err);
    return false;
  }
  close(fd);
  return true;
}

Cluster::Cluster() : bed_(std::make_unique<Testbed>()) {
  sctp_ = kernelHasSctp(&sctp_why_);
  bed_->startDaemon();
  // The node's ICMP errors unlimited (its namespace is the bed's): a UDP probe that the policy
  // REJECTs then always gets its admin-prohibited answer. With the default (icmp_ratelimit 1000
  // ms, a burst of about 6 per destination) most denied UDP probes of one pod in a round would
  // look like drops ("T" in the grid) and cost a probe timeout each round.
  if (auto r = bed_->inNs(bed_->nodeNs(), "sysctl -qw net.ipv4.icmp_ratelimit=0"); r.exit_code) {
    throw std::runtime_error("icmp_ratelimit in the node namespace: " + r.err);
  }
  if (auto err = apply(nodeObject({}).dump()); !err.empty()) throw std::runtime_error(err);
  for (const char* ns : {"x", "y", "z"}) {
    addNamespace(ns);
    for (const char* pod : {"a", "b", "c"}) addPod(ns, pod);
  }
  addNamespace(kFenceNs);
  addPod(kFenceNs, "from");
  addPod(kFenceNs, "to");
  startServers();
}

Cluster::~Cluster() {
  for (auto& p : pods_) {
    if (p.server <= 0) continue;
    kill(p.server, SIGKILL);
    waitpid(p.server, nullptr, 0);
  }
}

void Cluster::addNamespace(const std::string& ns) {
  namespaces_.push_back(ns);
  if (auto err = apply(namespaceObject(ns, {}).dump()); !err.empty()) {
    throw std::runtime_error(err);
  }
}

void Cluster::addPod(const std::string& ns, const std::string& name) {
  if (auto err = apply(podObject(ns, name, {}).dump()); !err.empty()) {
    throw std::runtime_error(err);
  }
  TestPod p{ns, name, ns + "-" + name, "", -1};
  bed_->addPod(p.netns);
  // As a runtime's loopback plugin does: a pod reaches itself.
  if (auto lo = bed_->inNs(bed_->podNs(p.netns), "ip link set lo up"); lo.exit_code != 0) {
    throw std::runtime_error("lo up in " + p.netns + ": " + lo.err);
  }
  const std::map<std::string, std::string> args{
      {"CNI_ARGS", "K8S_POD_NAMESPACE=" + ns + ";K8S_POD_NAME=" + name}};
  // As a runtime does: ADD again while quasard answers 11 (try again later), as it may right
  // after it starts; for up to 10 s.
  CmdResult add;
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  do {
    add = bed_->cni("ADD", "c-" + p.netns, p.netns, bed_->netConf(), "eth0", args);
    if (cniCode(add) != 11) break;
    std::this_thread::sleep_for(milliseconds(50));
  } while (Clock::now() < deadline);
  p.ip = podIpOf(add);
  if (add.exit_code != 0 || p.ip.empty()) {
    throw std::runtime_error("ADD " + ns + "/" + name + ": " + add.out + add.err);
  }
  if (ns != kFenceNs) grid_.push_back(ns + "/" + name);
  pods_.push_back(std::move(p));
}

void Cluster::startServers() {
  const std::string ports = "80,81";
  for (auto& p : pods_) {
    std::vector<std::string> argv = {"ip",
                                     "netns",
                                     "exec",
                                     bed_->podNs(p.netns),
                                     QUASAR_BIN_DIR "/netpol_probe",
                                     "serve",
                                     "--tcp",
                                     ports,
                                     "--udp",
                                     ports};
    if (sctp_) argv.insert(argv.end(), {"--sctp", ports});
    argv.insert(argv.end(), {"--ready-file", bed_->dir() + "/ready-" + p.netns});
    p.server = spawnBackground(argv, bed_->dir() + "/server-" + p.netns + ".log");
    if (p.server <= 0) throw std::runtime_error("cannot start the server of " + p.netns);
  }
  // Ready when each has bound every port and written its file; a server that exits has failed.
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  for (auto& p : pods_) {
    const std::string ready = bed_->dir() + "/ready-" + p.netns;
    const std::string log = bed_->dir() + "/server-" + p.netns + ".log";
    while (!std::filesystem::exists(ready)) {
      int status = 0;
      if (waitpid(p.server, &status, WNOHANG) == p.server) {
        p.server = -1;
        throw std::runtime_error("the server of " + p.netns + " exited: " + slurp(log));
      }
      if (Clock::now() > deadline) {
        throw std::runtime_error("the server of " + p.netns + " is not ready: " + slurp(log));
      }
      std::this_thread::sleep_for(milliseconds(10));
    }
  }
}

json Cluster::namespaceObject(const std::string& ns, const Labels& labels) const {
  json l = labels.empty() ? json{{"ns", ns}} : json(labels);
  l[kMetadataName] = ns;
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}, {"labels", l}}}};
}

json Cluster::podObject(const std::string& ns, const std::string& name,
                        const Labels& labels) const {
  json containers = json::array();
  std::vector<Protocol> protos = {Protocol::kTcp, Protocol::kUdp};
  if (sctp_) protos.push_back(Protocol::kSctp);
  for (int port : kPorts) {
    for (Protocol proto : protos) {
      const std::string suffix = std::to_string(port) + "-" + protocolName(proto);
      containers.push_back({{"name", "cont-" + suffix},
                            {"image", "quasar/netpol-probe"},
                            {"ports",
                             {{{"name", "serve-" + suffix},
                               {"containerPort", port},
                               {"protocol", protocolK8s(proto)}}}}});
    }
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata",
           {{"name", name},
            {"namespace", ns},
            {"labels", labels.empty() ? json{{"pod", name}} : json(labels)}}},
          {"spec", {{"nodeName", bed_->nodeName()}, {"containers", containers}}}};
}

json Cluster::nodeObject(const Labels& labels) const {
  json l = json(labels);
  l[kHostname] = bed_->nodeName();
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", bed_->nodeName()}, {"labels", l}}},
          {"status", {{"addresses", {{{"type", "InternalIP"}, {"address", bed_->nodeIp()}}}}}}};
}

const Cluster::TestPod* Cluster::find(const std::string& ns, const std::string& name) const {
  for (const auto& p : pods_) {
    if (p.ns == ns && p.name == name) return &p;
  }
  return nullptr;
}

std::string Cluster::podIp(const std::string& pod_string) const {
  const auto slash = pod_string.find('/');
  const TestPod* p = find(pod_string.substr(0, slash), pod_string.substr(slash + 1));
  return p ? p->ip : "";
}

std::string Cluster::ctlWithFile(const std::string& verb, const std::string& text) {
  const std::string file = bed_->dir() + "/objects" + std::to_string(files_++) + ".yaml";
  std::ofstream(file) << text;
  auto r = bed_->ctl(verb + " -f " + file);
  if (r.exit_code == 0) return "";
  return "quasarctl " + verb + " failed (" + std::to_string(r.exit_code) + "): " + r.out + r.err +
         "\n" + text;
}

std::string Cluster::apply(const std::string& text) { return ctlWithFile("apply", text); }
std::string Cluster::remove(const std::string& text) { return ctlWithFile("delete", text); }

std::string Cluster::deleteAllPolicies() {
  json doomed = json::array();
  for (const char* kind : {"networkpolicies", "networkpolicies.quasar.io"}) {
    auto r = bed_->ctl(std::string("get ") + kind + " -o json");
    auto list = r.json();
    if (r.exit_code != 0 || !list.is_object())
      return std::string("quasarctl get ") + kind + ": " + r.out + r.err;
    for (const auto& item : list.value("items", json::array())) {
      if (item["metadata"].value("namespace", "") != kFenceNs) doomed.push_back(item);
    }
  }
  if (doomed.empty()) return "";
  return remove(json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", doomed}}.dump());
}

std::string Cluster::setPodLabels(const std::string& pod_string, const Labels& labels) {
  const auto slash = pod_string.find('/');
  labels_changed_ = true;
  return apply(podObject(pod_string.substr(0, slash), pod_string.substr(slash + 1), labels).dump());
}

std::string Cluster::setNamespaceLabels(const std::string& ns, const Labels& labels) {
  labels_changed_ = true;
  return apply(namespaceObject(ns, labels).dump());
}

std::string Cluster::setNodeLabels(const Labels& labels) {
  labels_changed_ = true;
  return apply(nodeObject(labels).dump());
}

std::string Cluster::resetLabels() {
  json items = json::array({nodeObject({})});
  for (const auto& ns : namespaces_) items.push_back(namespaceObject(ns, {}));
  for (const auto& p : pods_) items.push_back(podObject(p.ns, p.name, {}));
  auto err = apply(json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump());
  if (err.empty()) labels_changed_ = false;
  return err;
}

Observation Cluster::probeAll(int port, Protocol proto, milliseconds timeout) {
  Observation obs;
  obs.pods = grid_;
  std::string input;
  std::vector<const TestPod*> grid_pods;
  for (const auto& s : grid_) {
    const auto slash = s.find('/');
    grid_pods.push_back(find(s.substr(0, slash), s.substr(slash + 1)));
  }
  for (const auto* from : grid_pods) {
    for (const auto* to : grid_pods) {
      input += std::string(protocolName(proto)) + " " + to->ip + " " + std::to_string(port) +
               " /run/netns/" + bed_->podNs(from->netns) + "\n";
    }
  }
  auto r = run(
      {QUASAR_BIN_DIR "/netpol_probe", "matrix", "--timeout-ms", std::to_string(timeout.count())},
      input);
  std::istringstream lines(r.out);
  obs.outcome.assign(grid_.size(), std::vector<Outcome>(grid_.size(), Outcome::kError));
  size_t i = 0;
  for (std::string line; std::getline(lines, line) && i < grid_.size() * grid_.size(); ++i) {
    obs.outcome[i / grid_.size()][i % grid_.size()] =
        parseOutcome(line.substr(line.rfind(' ') + 1));
  }
  return obs;
}

std::string Cluster::fence(milliseconds within) {
  // Once the fence failed (no enforcement at all), waiting for it again would only cost time.
  if (!fence_broken_.empty()) return "fence skipped: " + fence_broken_;
  const bool up = !fence_up_;
  if (auto err = up ? apply(kFencePolicy) : remove(kFencePolicy); !err.empty()) {
    return "fence: " + err;
  }
  fence_up_ = up;
  const TestPod* from = find(kFenceNs, "from");
  const TestPod* to = find(kFenceNs, "to");
  const std::string line = "tcp " + to->ip + " 80 /run/netns/" + bed_->podNs(from->netns) + "\n";
  const auto deadline = Clock::now() + within;
  std::string word;
  while (true) {
    auto r = run({QUASAR_BIN_DIR "/netpol_probe", "matrix", "--timeout-ms", "1000"}, line);
    word = r.out.substr(r.out.rfind(' ') + 1);
    while (!word.empty() && word.back() == '\n') word.pop_back();
    if ((word == "ok") != up) return "";
    if (Clock::now() > deadline) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  fence_broken_ = std::string("quasard did not ") + (up ? "enforce" : "lift") +
                  " the fence policy (fence/from -> fence/to: " + word + ") within " +
                  std::to_string(within.count()) + " ms";
  return "fence: " + fence_broken_;
}

Comparison Cluster::waitFor(const Reachability& expected, int port, Protocol proto,
                            milliseconds within) {
  const auto start = Clock::now();
  const auto deadline = start + within;
  const std::string fence_note = fence(within);
  const auto fenced = Clock::now();
  Comparison c;
  int rounds = 0;
  while (true) {
    c = compare(expected, probeAll(port, proto));
    ++rounds;
    if (c.wrong == 0 || Clock::now() > deadline) break;
    std::this_thread::sleep_for(milliseconds(50));
  }
  auto ms = [](auto d) { return std::to_string(duration_cast<milliseconds>(d).count()); };
  c.report = "probes to port " + std::to_string(port) + "/" + protocolK8s(proto) + ": fence " +
             ms(fenced - start) + " ms, then " + std::to_string(rounds) + " probe round(s) in " +
             ms(Clock::now() - fenced) + " ms\n" + (fence_note.empty() ? "" : fence_note + "\n") +
             c.report;
  return c;
}

}  // namespace quasar::tests::netpol
