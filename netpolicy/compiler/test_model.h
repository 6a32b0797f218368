#pragma once
// Builders for compiler and explain tests, and the upstream e2e cluster: namespaces x, y, z
// with label ns=<name>; pods a, b, c in each with label pod=<name>, serving named ports
// serve-80-tcp, serve-81-tcp, serve-80-udp... Test-only.

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "conf/ip.h"
#include "netpolicy/compiler/model.h"

namespace quasar::netpolicy::testing {

inline conf::IpAddress ip(const std::string& s) { return conf::IpAddress::parse(s).value(); }
inline conf::IpPrefix prefix(const std::string& s) { return conf::IpPrefix::parse(s).value(); }

inline LabelSelector sel(Labels match_labels, std::vector<SelectorRequirement> exprs = {}) {
  return LabelSelector{std::move(match_labels), std::move(exprs)};
}

inline Pod pod(const std::string& ns, const std::string& name, const std::string& address,
               Labels labels, const std::string& node = "n1", std::vector<NamedPort> ports = {}) {
  return Pod{ns, name, {ip(address)}, std::move(labels), node, std::move(ports)};
}

inline PortSpec tcp(int port) { return PortSpec{Protocol::kTcp, port, "", std::nullopt}; }
inline PortSpec named(const std::string& name, Protocol p = Protocol::kTcp) {
  return PortSpec{p, std::nullopt, name, std::nullopt};
}

inline Peer podPeer(LabelSelector s) { return Peer{s, std::nullopt, std::nullopt, std::nullopt}; }
inline Peer nsPeer(LabelSelector s) { return Peer{std::nullopt, s, std::nullopt, std::nullopt}; }
inline Peer blockPeer(const std::string& cidr, std::vector<std::string> except = {}) {
  IpBlock b{prefix(cidr), {}};
  for (const auto& e : except) b.except.push_back(prefix(e));
  return Peer{std::nullopt, std::nullopt, std::nullopt, b};
}

inline Policy policy(const std::string& ns, const std::string& name, LabelSelector targets) {
  Policy p;
  p.namespace_name = ns;
  p.name = name;
  p.pod_selector = std::move(targets);
  return p;
}

// x, y, z; a, b, c. Pod addresses 10.1.<ns index>.<pod index + 1>; x and y on node n1 (labels
// gpu=false), z on n2 (gpu=true). Node addresses 172.16.0.1 and 172.16.0.2.
inline Model e2eCluster() {
  Model m;
  m.nodes = {{"n1", {{"gpu", "false"}}, {ip("172.16.0.1")}},
             {"n2", {{"gpu", "true"}}, {ip("172.16.0.2")}}};
  const std::vector<std::string> ns = {"x", "y", "z"}, pods = {"a", "b", "c"};
  for (size_t i = 0; i < ns.size(); ++i) {
    m.namespaces.push_back({ns[i], {{"ns", ns[i]}}});
    for (size_t j = 0; j < pods.size(); ++j) {
      m.pods.push_back(pod(ns[i], pods[j],
                           "10.1." + std::to_string(i) + "." + std::to_string(j + 1),
                           {{"pod", pods[j]}}, i == 2 ? "n2" : "n1",
                           {{"serve-80-tcp", 80, Protocol::kTcp},
                            {"serve-81-tcp", 81, Protocol::kTcp},
                            {"serve-80-udp", 80, Protocol::kUdp}}));
    }
  }
  return m;
}

// The benchmark's shape (issue 14): 1,000 policies over `pods` pods in 100 namespaces ns<i>
// (label team=t<i % 10>), pod p<i> in ns<i % 100> with address 10.<8 + i / 65536>.x.y, label
// app=app<i % 50> and named port http 8080/TCP, all on node n1.
inline Model benchShape(int pods) {
  Model m;
  m.nodes = {{"n1", {{"gpu", "true"}}, {ip("172.16.0.1")}}};
  for (int n = 0; n < 100; ++n) {
    m.namespaces.push_back({absl::StrCat("ns", n), {{"team", absl::StrCat("t", n % 10)}}});
  }
  for (int i = 0; i < pods; ++i) {
    m.pods.push_back(pod(absl::StrCat("ns", i % 100), absl::StrCat("p", i),
                         absl::StrCat("10.", 8 + i / 65536, ".", i / 256 % 256, ".", i % 256),
                         {{"app", absl::StrCat("app", i % 50)}}, "n1",
                         {{"http", 8080, Protocol::kTcp}}));
  }
  for (int k = 0; k < 1000; ++k) {
    Policy p = policy(absl::StrCat("ns", k % 100), absl::StrCat("pol", k),
                      sel({{"app", absl::StrCat("app", k % 50)}}));
    p.ingress.push_back({{nsPeer(sel({{"team", absl::StrCat("t", k % 10)}})),
                          podPeer(sel({{"app", absl::StrCat("app", (k + 1) % 50)}}))},
                         {tcp(80), tcp(443), named("http")}});
    m.policies.push_back(p);
  }
  return m;
}

}  // namespace quasar::netpolicy::testing
