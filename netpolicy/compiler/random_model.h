#pragma once
// Seeded random models over the upstream e2e cluster (test_model.h): random labels on pods and
// namespaces, 1 to 4 random policies with every kind of selector, peer and port. Fixed seeds,
// so a failure reproduces. Test-only.

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "netpolicy/compiler/model.h"
#include "netpolicy/compiler/test_model.h"

namespace quasar::netpolicy::testing {

class RandomModel {
 public:
  explicit RandomModel(uint32_t seed) : rng_(seed) {}

  Model make() {
    Model m = e2eCluster();
    for (auto& pod : m.pods) {
      if (pick(2)) pod.labels["env"] = one({"prod", "dev"});
    }
    for (auto& ns : m.namespaces) {
      if (pick(2)) ns.labels["team"] = one({"red", "blue"});
    }
    const int policies = 1 + pick(4);
    for (int i = 0; i < policies; ++i) m.policies.push_back(policy(i));
    return m;
  }

 private:
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  std::string one(std::vector<std::string> v) { return v[pick(static_cast<int>(v.size()))]; }

  LabelSelector selector() {
    LabelSelector s;
    const int n = pick(3);
    for (int i = 0; i < n; ++i) {
      std::string key = one({"pod", "env", "ns", "team", "gpu"});
      std::string value = one({"a", "b", "c", "x", "y", "prod", "dev", "red", "true"});
      switch (pick(5)) {
        case 0:
          s.match_labels[key] = value;
          break;
        case 1:
          s.match_expressions.push_back({key, SelectorOp::kIn, {value, one({"a", "y", "dev"})}});
          break;
        case 2:
          s.match_expressions.push_back({key, SelectorOp::kNotIn, {value}});
          break;
        case 3:
          s.match_expressions.push_back({key, SelectorOp::kExists, {}});
          break;
        default:
          s.match_expressions.push_back({key, SelectorOp::kDoesNotExist, {}});
      }
    }
    return s;
  }

  Peer peer() {
    switch (pick(5)) {
      case 0:
        return podPeer(selector());
      case 1:
        return nsPeer(selector());
      case 2:
        return Peer{selector(), selector(), std::nullopt, std::nullopt};
      case 3:
        return Peer{std::nullopt, pick(2) ? std::optional(selector()) : std::nullopt, selector(),
                    std::nullopt};
      default: {
        const std::string n = absl::StrCat(pick(3));
        switch (pick(3)) {
          case 0:
            return blockPeer("10.1.0.0/16", {"10.1." + n + ".0/24"});
          case 1:
            return blockPeer("10.1." + n + ".0/24", {"10.1." + n + ".2/32"});
          default:
            return blockPeer("10.1." + n + "." + absl::StrCat(1 + pick(3)) + "/32");
        }
      }
    }
  }

  PortSpec port() {
    switch (pick(7)) {
      case 0:
        return tcp(80);
      case 1:
        return tcp(81);
      case 2:
        return PortSpec{Protocol::kUdp, 80, "", std::nullopt};
      case 3:
        return PortSpec{Protocol::kTcp, 80, "", 81};
      case 4:
        return PortSpec{Protocol::kSctp, std::nullopt, "", std::nullopt};
      case 5:
        return named(one({"serve-80-tcp", "serve-81-tcp"}));
      default:
        return named("serve-80-udp", Protocol::kUdp);
    }
  }

  Rule rule() {
    Rule r;
    for (int i = pick(3); i > 0; --i) r.peers.push_back(peer());
    for (int i = pick(3); i > 0; --i) r.ports.push_back(port());
    return r;
  }

  Policy policy(int i) {
    Policy p = testing::policy(one({"x", "y", "z"}), absl::StrCat("p", i), selector());
    if (pick(4) == 0) p.node_selector = selector();
    switch (pick(4)) {
      case 0:
        break;  // default policyTypes
      case 1:
        p.policy_types = {Direction::kIngress};
        break;
      case 2:
        p.policy_types = {Direction::kEgress};
        break;
      default:
        p.policy_types = {Direction::kIngress, Direction::kEgress};
    }
    for (int n = pick(3); n > 0; --n) p.ingress.push_back(rule());
    for (int n = pick(3); n > 0; --n) p.egress.push_back(rule());
    return p;
  }

  std::mt19937 rng_;
};

}  // namespace quasar::netpolicy::testing
