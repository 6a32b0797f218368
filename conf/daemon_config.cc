#include "conf/daemon_config.h"

#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "yaml-cpp/yaml.h"

namespace quasar::conf {
namespace {

absl::Status fieldError(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("daemon config field \"", field, "\": ", what));
}

const std::set<absl::string_view>& knownKeys() {
  // clang-format off
  static const auto* keys =
      new std::set<absl::string_view>{"nodeName",    "socket",
                                      "cniSocket",   "stateDir",
                                      "podCIDRs",    "clusterCIDR",
                                      "blockSize",   "blockReleaseGraceSeconds",
                                      "datastore",   "nodeIP",
                                      "labels",      "nodeTTLSeconds",
                                      "reserved",    "releaseCooldownSeconds",
                                      "uplink",      "routingMode",
                                      "mtu",         "logLevel",
                                      "natOutgoing", "nodeGoneGraceSeconds",
                                      "kubernetes",  "ipam",
                                      "metricsAddress",
                                      "floatingHousekeepingSeconds", "networkPolicy",
                                      "eni"};
  // clang-format on
  return *keys;
}

// "host:port" with an IPv4 literal, or "[IPv6]:port"; names are not resolved.
absl::Status checkHostPort(const std::string& text) {
  const bool v6 = !text.empty() && text.front() == '[';
  const size_t colon = v6 ? text.find("]:") : text.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(v6 ? "want [IPv6 address]:port" : "want host:port");
  }
  const std::string host = v6 ? text.substr(1, colon - 1) : text.substr(0, colon);
  const std::string port = text.substr(colon + (v6 ? 2 : 1));
  auto ip = IpAddress::parse(host);
  if (!ip.ok() || (ip->family() == Family::kV6) != v6) {
    return absl::InvalidArgumentError(
        "the host must be an IPv4 address or an IPv6 address in brackets");
  }
  // At most 5 digits: std::stoi cannot throw.
  const bool digits = !port.empty() && port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || port.size() > 5 || std::stoi(port) > 65535) {
    return absl::InvalidArgumentError("the port must be a number in [0, 65535]");
  }
  return absl::OkStatus();
}

// yaml-cpp reports type errors by throwing; this keeps them inside the adapter.
absl::StatusOr<DaemonConfig> parseNode(const YAML::Node& root) {
  DaemonConfig c;
  if (!root.IsMap()) return absl::InvalidArgumentError("daemon config must be a YAML mapping");
  for (const auto& kv : root) {
    const auto key = kv.first.as<std::string>();
    if (!knownKeys().contains(key)) return fieldError(key, "unknown field");
  }
  auto str = [&](const char* key, std::string& out) {
    if (root[key]) out = root[key].as<std::string>();
  };
  str("nodeName", c.node_name);
  str("socket", c.socket);
  str("cniSocket", c.cni_socket);
  str("stateDir", c.state_dir);
  str("uplink", c.uplink);
  str("logLevel", c.log_level);
  if (c.node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    c.node_name = host;
  }
  if (c.socket.empty() || c.socket[0] != '/')
    return fieldError("socket", "must be an absolute path");
  if (c.cni_socket.empty() || c.cni_socket[0] != '/') {
    return fieldError("cniSocket", "must be an absolute path");
  }
  if (c.cni_socket == c.socket) return fieldError("cniSocket", "must differ from socket");
  if (c.state_dir.empty() || c.state_dir[0] != '/') {
    return fieldError("stateDir", "must be an absolute path");
  }
  if (const auto& k = root["kubernetes"]) {
    if (k.IsNull()) {
      c.kubernetes.emplace();
    } else if (!k.IsMap()) {
      return fieldError("kubernetes", "must be a mapping (kubeconfig: PATH, or {} for in-cluster)");
    } else {
      c.kubernetes.emplace();
      for (const auto& kv : k) {
        if (kv.first.as<std::string>() != "kubeconfig") {
          return fieldError("kubernetes." + kv.first.as<std::string>(), "unknown field");
        }
      }
      if (k["kubeconfig"]) c.kubernetes->kubeconfig = k["kubeconfig"].as<std::string>();
      if (!c.kubernetes->kubeconfig.empty() && c.kubernetes->kubeconfig[0] != '/') {
        return fieldError("kubernetes.kubeconfig", "must be an absolute path");
      }
    }
  }
  if (root["ipam"]) {
    const auto mode = root["ipam"].as<std::string>();
    if (mode == "kubernetes") {
      c.ipam = IpamMode::kKubernetes;
    } else if (mode != "quasar") {
      return fieldError("ipam", "must be quasar (podCIDRs or clusterCIDR) or kubernetes");
    }
  }
  if (c.ipam == IpamMode::kKubernetes) {
    if (!c.kubernetes) {
      return fieldError("ipam", "kubernetes needs the kubernetes section (the Node object)");
    }
    if (root["podCIDRs"] || root["clusterCIDR"]) {
      return fieldError("ipam",
                        "kubernetes takes the pod CIDRs from Node.spec.podCIDRs: "
                        "give neither podCIDRs nor clusterCIDR");
    }
  } else if (root["clusterCIDR"]) {
    auto p = IpPrefix::parse(root["clusterCIDR"].as<std::string>());
    if (!p.ok()) return fieldError("clusterCIDR", p.status().message());
    if (p->family() != Family::kV4) return fieldError("clusterCIDR", "only IPv4 so far");
    c.cluster_cidr = p->network();
    if (root["podCIDRs"]) return fieldError("podCIDRs", "give podCIDRs or clusterCIDR, not both");
  } else if (!root["podCIDRs"] || !root["podCIDRs"].IsSequence() || root["podCIDRs"].size() == 0) {
    return fieldError("podCIDRs", "is required (a list of prefixes), unless clusterCIDR is given");
  }
  if (root["blockSize"]) c.block_size = root["blockSize"].as<int>();
  if (c.cluster_cidr && (c.block_size < c.cluster_cidr->length() || c.block_size > 30)) {
    return fieldError("blockSize", "must be a prefix length between clusterCIDR's and 30");
  }
  if (root["blockReleaseGraceSeconds"]) {
    const int g = root["blockReleaseGraceSeconds"].as<int>();
    if (g < 1) return fieldError("blockReleaseGraceSeconds", "must be at least 1");
    c.block_release_grace = std::chrono::seconds(g);
  }
  if (root["natOutgoing"]) c.nat_outgoing = root["natOutgoing"].as<bool>();
  if (root["networkPolicy"]) c.network_policy = root["networkPolicy"].as<bool>();
  if (root["eni"]) {
    auto eni = parseEniConfig(root["eni"]);
    if (!eni.ok()) return eni.status();
    c.eni = std::move(*eni);
  }
  if (root["nodeIP"]) c.node_ip = root["nodeIP"].as<std::string>();
  if (!c.node_ip.empty() && !IpAddress::parse(c.node_ip).ok()) {
    return fieldError("nodeIP", "is not an IP address");
  }
  if (root["labels"]) {
    if (!root["labels"].IsMap()) return fieldError("labels", "must be a mapping");
    for (const auto& kv : root["labels"]) {
      c.labels[kv.first.as<std::string>()] = kv.second.as<std::string>();
    }
  }
  if (root["nodeTTLSeconds"]) {
    const int ttl = root["nodeTTLSeconds"].as<int>();
    if (ttl < 2 || ttl > 3600) return fieldError("nodeTTLSeconds", "must be in [2, 3600]");
    c.node_ttl = std::chrono::seconds(ttl);
  }
  if (root["nodeGoneGraceSeconds"]) {
    const int g = root["nodeGoneGraceSeconds"].as<int>();
    if (g != 0 && (g < 3 * c.node_ttl.count() || g > 30 * 24 * 3600)) {
      return fieldError("nodeGoneGraceSeconds",
                        "must be 0 (never reclaim) or in [3 x nodeTTLSeconds, 30 days]");
    }
    c.node_gone_grace = std::chrono::seconds(g);
  }
  if (const auto& ds = root["datastore"]) {
    if (!ds.IsMap()) return fieldError("datastore", "must be a mapping");
    for (const auto& kv : ds) {
      const auto k = kv.first.as<std::string>();
      if (k != "type" && k != "endpoints" && k != "prefix" && k != "caFile" && k != "certFile" &&
          k != "keyFile") {
        return fieldError("datastore." + k, "unknown field");
      }
    }
    const std::string type = ds["type"] ? ds["type"].as<std::string>() : "sqlite";
    if (type == "etcd") {
      c.datastore.type = DatastoreConfig::Type::kEtcd;
    } else if (type != "sqlite") {
      return fieldError("datastore.type", "must be sqlite or etcd");
    }
    if (ds["endpoints"]) {
      for (const auto& e : ds["endpoints"]) c.datastore.endpoints.push_back(e.as<std::string>());
    }
    if (c.datastore.type == DatastoreConfig::Type::kEtcd && c.datastore.endpoints.empty()) {
      return fieldError("datastore.endpoints", "etcd needs at least one endpoint");
    }
    if (ds["prefix"]) c.datastore.prefix = ds["prefix"].as<std::string>();
    if (ds["caFile"]) c.datastore.ca_file = ds["caFile"].as<std::string>();
    if (ds["certFile"]) c.datastore.cert_file = ds["certFile"].as<std::string>();
    if (ds["keyFile"]) c.datastore.key_file = ds["keyFile"].as<std::string>();
  }
  for (const auto& n : root["podCIDRs"] ? root["podCIDRs"] : YAML::Node(YAML::NodeType::Sequence)) {
    auto p = IpPrefix::parse(n.as<std::string>());
    if (!p.ok()) return fieldError("podCIDRs", p.status().message());
    if (p->family() != Family::kV4)
      return fieldError("podCIDRs", "only IPv4 prefixes are supported so far");
    if (p->length() > 30) return fieldError("podCIDRs", "a prefix must be /30 or larger");
    for (const auto& q : c.pod_cidrs) {
      if (q.overlaps(*p))
        return fieldError("podCIDRs", absl::StrCat(p->toString(), " overlaps ", q.toString()));
    }
    c.pod_cidrs.push_back(p->network());
  }
  if (root["reserved"]) {
    for (const auto& n : root["reserved"]) {
      auto a = IpAddress::parse(n.as<std::string>());
      if (!a.ok()) return fieldError("reserved", a.status().message());
      c.reserved.push_back(*a);
    }
  }
  if (root["releaseCooldownSeconds"]) {
    const auto v = root["releaseCooldownSeconds"].as<double>();
    if (v < 0 || v > 3600) return fieldError("releaseCooldownSeconds", "must be in [0, 3600]");
    c.release_cooldown = std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
  }
  if (root["floatingHousekeepingSeconds"]) {
    const auto v = root["floatingHousekeepingSeconds"].as<double>();
    if (v < 0.1 || v > 3600) {
      return fieldError("floatingHousekeepingSeconds", "must be in [0.1, 3600]");
    }
    c.floating_housekeeping = std::chrono::milliseconds(static_cast<int64_t>(v * 1000));
  }
  if (root["routingMode"]) {
    auto m = parseRoutingMode(root["routingMode"].as<std::string>());
    if (!m.ok()) return fieldError("routingMode", m.status().message());
    c.routing_mode = *m;
  }
  if (root["mtu"]) {
    c.mtu = root["mtu"].as<int>();
    if (c.mtu != 0 && (c.mtu < 576 || c.mtu > 65535)) {
      return fieldError("mtu", "must be 0 (automatic) or in [576, 65535]");
    }
  }
  if (const auto& m = root["metricsAddress"]) {
    c.metrics_address = m.IsNull() ? "" : m.as<std::string>();
    if (auto s = checkHostPort(c.metrics_address); !c.metrics_address.empty() && !s.ok()) {
      return fieldError("metricsAddress", s.message());
    }
  }
  if (c.log_level != "debug" && c.log_level != "info" && c.log_level != "warn" &&
      c.log_level != "error") {
    return fieldError("logLevel", "must be one of debug, info, warn, error");
  }
  return c;
}

}  // namespace

absl::StatusOr<DaemonConfig> parseDaemonConfig(absl::string_view yaml) {
  try {
    return parseNode(YAML::Load(std::string(yaml)));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("daemon config: ", e.what()));
  }
}

absl::StatusOr<DaemonConfig> loadDaemonConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read daemon config ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return parseDaemonConfig(ss.str());
}

}  // namespace quasar::conf
