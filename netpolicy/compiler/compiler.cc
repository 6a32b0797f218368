#include "netpolicy/compiler/compiler.h"

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "netpolicy/compiler/selector.h"

namespace quasar::netpolicy {
namespace {

using Tokens = std::vector<std::string>;

// multiport takes at most 15 ports, a range counting as two.
constexpr int kMultiportSlots = 15;

uint64_t hash64(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a ...
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;  // ... then splitmix64's finalizer, so near texts spread over all bits.
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

std::string field(const std::string& s) { return absl::StrCat(s.size(), ":", s); }

std::string markArg(uint32_t value, uint32_t mask) {
  return absl::StrFormat("0x%x/0x%x", value, mask);
}

absl::Status validate(const Policy& p) {
  auto bad = [&](const char* what) {
    // Names are user input, but this message goes to logs and status, never to iptables.
    return absl::InvalidArgumentError(
        absl::StrCat("policy ", p.namespace_name, "/", p.name, ": ", what));
  };
  for (const auto* rules : {&p.ingress, &p.egress}) {
    for (const auto& rule : *rules) {
      for (const auto& port : rule.ports) {
        if (port.port && (*port.port < 1 || *port.port > 65535)) return bad("port out of range");
        if (port.port && !port.port_name.empty()) return bad("port has a number and a name");
        if (port.end_port) {
          if (!port.port) return bad("endPort needs a numeric port");
          if (*port.end_port < *port.port || *port.end_port > 65535) return bad("bad endPort");
        }
      }
      for (const auto& peer : rule.peers) {
        if (!peer.ip_block) continue;
        if (peer.pod_selector || peer.namespace_selector || peer.node_selector) {
          return bad("a peer with ipBlock and a selector");
        }
        for (const auto& e : peer.ip_block->except) {
          if (e.family() != peer.ip_block->cidr.family() ||
              e.length() < peer.ip_block->cidr.length() ||
              !peer.ip_block->cidr.contains(e.address())) {
            return bad("an ipBlock except outside its cidr");
          }
        }
      }
    }
  }
  return absl::OkStatus();
}

class Compiler {
 public:
  // record_pod_sets: keep the pod-dependent sets' definitions for takePodSets().
  // fill_members = false: pod-dependent sets stay empty and no pod is looked at (only their
  // definitions are wanted).
  Compiler(const Model& model, const CompileOptions& options, bool record_pod_sets = false,
           bool fill_members = true)
      : index_(model),
        options_(options),
        record_pod_sets_(record_pod_sets),
        fill_members_(fill_members) {
    if (!fill_members_) return;
    for (const auto& pod : model.pods) pods_by_namespace_[pod.namespace_name].push_back(&pod);
  }

  absl::StatusOr<Ruleset> run();
  // The pod-dependent sets created by run(), sorted by name.
  std::vector<PodSetDefinition> takePodSets() {
    std::vector<PodSetDefinition> out;
    for (auto& [name, definition] : pod_sets_) out.push_back(std::move(definition));
    return out;
  }

 private:
  // The set's name; `fill` runs only the first time a canonical text is seen.
  std::string addSet(SetType type, const std::string& canonical,
                     const std::function<std::set<SetEntry>()>& fill);
  // The pods of a group, looking only at its namespace when it names one.
  template <typename F>
  void forEachPod(const PodGroup& group, F&& f) const {
    if (!group.namespace_selector) {
      auto it = pods_by_namespace_.find(group.namespace_name);
      if (it == pods_by_namespace_.end()) return;
      for (const Pod* pod : it->second) {
        if (inGroup(index_, *pod, group)) f(*pod);
      }
      return;
    }
    for (const auto& pod : index_.model().pods) {
      if (inGroup(index_, pod, group)) f(pod);
    }
  }
  // Records the definition the first time its canonical text is seen.
  std::string podDependentSet(PodSetDefinition definition, const std::string& canonical);
  std::string podSet(const PodGroup& group);
  std::string namedPortSet(const PodGroup& group, const std::string& name, Protocol protocol);
  std::string nodeSet(const Node& node);
  std::optional<std::string> netSet(const IpBlock& block);
  // Appends the policy's jump to `dispatch` and its own chain to policy_chains_.
  void compilePolicy(const Policy& policy, Direction direction, Chain* dispatch);
  // The union of target sets: the pods that some policy of `direction` isolates, all of them
  // (`namespace_name` null) or those of one namespace. `targets` are hash:ip sets of sets_.
  std::string isolatedSet(Direction direction, const std::string* namespace_name,
                          const std::set<std::string>& targets);
  std::vector<Tokens> portMatches(const Policy& policy, const Rule& rule, Direction direction,
                                  const Tokens& peer, const std::optional<PodGroup>& peer_group);

  ModelIndex index_;
  CompileOptions options_;
  bool record_pod_sets_;
  bool fill_members_;
  std::map<std::string, std::vector<const Pod*>> pods_by_namespace_;
  std::map<std::string, IpSet> sets_;
  std::map<std::string, PodSetDefinition> pod_sets_;
  std::vector<Chain> policy_chains_;
  // By direction (0 egress, 1 ingress) and namespace: the policies' target sets' names and
  // their dispatch rules. Policies select only pods of their own namespace.
  struct NamespaceDispatch {
    std::set<std::string> targets;
    Chain dispatch;
  };
  std::map<std::string, NamespaceDispatch> dispatch_[2];
  absl::Status status_;
};

std::string Compiler::addSet(SetType type, const std::string& canonical,
                             const std::function<std::set<SetEntry>()>& fill) {
  std::string text = absl::StrCat("v", static_cast<int>(options_.family), "|t",
                                  static_cast<int>(type), "|", canonical);
  std::string name = hashedName("QSR-", text);
  auto [it, inserted] = sets_.try_emplace(name);
  if (!inserted) {
    if (it->second.canonical != text) {
      status_ = absl::InternalError(absl::StrCat("ipset name collision on ", name));
    }
    return name;
  }
  std::set<SetEntry> entries = fill();
  it->second = IpSet{name, text, type, options_.family, std::move(entries)};
  return name;
}

std::string Compiler::podDependentSet(PodSetDefinition definition, const std::string& canonical) {
  bool created = false;
  std::string name = addSet(definition.type, canonical, [&] {
    created = true;
    std::set<SetEntry> entries;
    if (!fill_members_) return entries;
    forEachPod(definition.group, [&](const Pod& pod) {
      for (auto& e : podSetEntries(definition, pod, options_.family)) entries.insert(std::move(e));
    });
    return entries;
  });
  if (created && record_pod_sets_) {
    definition.set = name;
    pod_sets_.emplace(name, std::move(definition));
  }
  return name;
}

std::string Compiler::podSet(const PodGroup& group) {
  return podDependentSet({"", SetType::kHashIp, group, "", Protocol::kTcp, {}}, canonical(group));
}

std::string Compiler::namedPortSet(const PodGroup& group, const std::string& name,
                                   Protocol protocol) {
  return podDependentSet(
      {"", SetType::kHashIpPort, group, name, protocol, {}},
      absl::StrCat("named(", canonical(group), ",", field(name), ",", protocolName(protocol), ")"));
}

std::string Compiler::nodeSet(const Node& node) {
  return addSet(SetType::kHashIp, absl::StrCat("node(", field(node.name), ")"), [&] {
    std::set<SetEntry> entries;
    for (const auto& ip : node.ips) {
      if (ip.family() == options_.family) entries.insert({ip.toString(), false});
    }
    return entries;
  });
}

std::optional<std::string> Compiler::netSet(const IpBlock& block) {
  if (block.cidr.family() != options_.family) return std::nullopt;
  std::set<SetEntry> entries;
  auto add = [&](const conf::IpPrefix& p, bool nomatch) {
    // hash:net cannot hold a /0: two halves cover the same space.
    if (p.length() == 0) {
      // (size() saturates for IPv6, so the upper half is built from its top bit.)
      const int bits = p.address().bits();
      conf::IpPrefix low(conf::IpAddress::fromInt(p.family(), 0), 1);
      conf::IpPrefix high(conf::IpAddress::fromInt(p.family(), absl::uint128(1) << (bits - 1)), 1);
      entries.insert({low.network().toString(), nomatch});
      entries.insert({high.network().toString(), nomatch});
      return;
    }
    entries.insert({p.network().toString(), nomatch});
  };
  add(block.cidr, false);
  for (const auto& e : block.except) add(e, true);
  return addSet(SetType::kHashNet, canonical(block), [&] { return std::move(entries); });
}

absl::StatusOr<Ruleset> Compiler::run() {
  Chain forward{kForwardChain, {}};
  forward.rules.push_back(
      {{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"}});
  forward.rules.push_back({{"-j", kEgressChain}});
  forward.rules.push_back({{"-j", kIngressChain}});

  const std::string clear = markArg(0, kIsolatedMark | kAllowedMark);
  const std::string isolated_only = markArg(kIsolatedMark, kIsolatedMark | kAllowedMark);
  Chain egress{kEgressChain, {}};
  Chain ingress{kIngressChain, {}};
  if (!options_.local_node.empty()) {
    if (const Node* node = index_.node(options_.local_node); node != nullptr) {
      ingress.rules.push_back(
          {{"-m", "set", "--match-set", nodeSet(*node), "src", "-j", "RETURN"}});
    }
  }

  // Sorted by namespace and name, so the output does not depend on the input's order.
  std::vector<const Policy*> policies;
  for (const auto& p : index_.model().policies) policies.push_back(&p);
  std::sort(policies.begin(), policies.end(), [](const Policy* a, const Policy* b) {
    return std::tie(a->namespace_name, a->name, a->kind) <
           std::tie(b->namespace_name, b->name, b->kind);
  });
  for (size_t i = 0; i < policies.size(); ++i) {
    const Policy* p = policies[i];
    if (auto s = validate(*p); !s.ok()) return s;
    if (i > 0 && p->namespace_name == policies[i - 1]->namespace_name &&
        p->name == policies[i - 1]->name && p->kind == policies[i - 1]->kind) {
      return absl::InvalidArgumentError(
          absl::StrCat("two policies named ", p->namespace_name, "/", p->name));
    }
    for (Direction d : {Direction::kEgress, Direction::kIngress}) {
      const bool isolates = d == Direction::kEgress ? isolatesEgress(*p) : isolatesIngress(*p);
      if (isolates) {
        compilePolicy(*p, d, &dispatch_[d == Direction::kIngress][p->namespace_name].dispatch);
      }
    }
  }
  // REJECT, not DROP: a denied connection fails at once instead of hanging until the client's
  // timeout, for users and for tests alike. TCP gets a reset: the kernel rate-limits ICMP
  // errors per destination (about one a second after a burst of six), resets it does not.
  const Tokens reject_tcp = {"-p",          "tcp", "-m",     "mark",          "--mark",
                             isolated_only, "-j",  "REJECT", "--reject-with", "tcp-reset"};
  const Tokens reject = {
      "-m",
      "mark",
      "--mark",
      isolated_only,
      "-j",
      "REJECT",
      "--reject-with",
      options_.family == conf::Family::kV4 ? "icmp-admin-prohibited" : "icmp6-adm-prohibited"};
  // A packet of a pod some policy isolates goes (goto) to its namespace's chain, which tests
  // only that namespace's policies and ends with the verdict: the first packet of a new
  // connection walks one rule per namespace with policies plus its namespace's policies,
  // instead of one rule per policy. A packet of a pod no policy isolates leaves after one set
  // lookup (the fast path), before the marks are cleared.
  std::vector<Chain> namespace_chains;
  for (auto [chain, direction, dir] :
       {std::tuple{&egress, Direction::kEgress, "src"},
        std::tuple{&ingress, Direction::kIngress, "dst"}}) {
    const bool in = direction == Direction::kIngress;
    auto& by_namespace = dispatch_[in];
    if (!by_namespace.empty()) {
      std::set<std::string> all;
      for (const auto& [ns, d] : by_namespace) all.insert(d.targets.begin(), d.targets.end());
      chain->rules.push_back({{"-m", "set", "!", "--match-set",
                               isolatedSet(direction, nullptr, all), dir, "-j", "RETURN"}});
    }
    chain->rules.push_back({{"-j", "MARK", "--set-xmark", clear}});
    for (auto& [ns, d] : by_namespace) {
      Chain own{hashedName(in ? "QUASAR-NI-" : "QUASAR-NE-", absl::StrCat("ns(", field(ns), ")")),
                std::move(d.dispatch.rules)};
      own.rules.push_back({reject_tcp});
      own.rules.push_back({reject});
      chain->rules.push_back({{"-m", "set", "--match-set", isolatedSet(direction, &ns, d.targets),
                               dir, "-g", own.name}});
      namespace_chains.push_back(std::move(own));
    }
    chain->rules.push_back({reject_tcp});
    chain->rules.push_back({reject});
  }
  // Pods' traffic to the node itself: their egress policies apply. Replies to connections the
  // node opened (kubelet probes) pass. The node's own output needs no chain: traffic from the
  // pod's node is always allowed.
  Chain input{kInputChain, {}};
  input.rules.push_back({{"-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "RETURN"}});
  input.rules.push_back({{"-j", kEgressChain}});
  if (!status_.ok()) return status_;

  Ruleset out;
  out.family = options_.family;
  for (auto& [name, set] : sets_) out.sets.push_back(std::move(set));
  out.chains = {std::move(forward), std::move(egress), std::move(ingress), std::move(input)};
  for (auto& c : namespace_chains) policy_chains_.push_back(std::move(c));
  std::sort(policy_chains_.begin(), policy_chains_.end(),
            [](const Chain& a, const Chain& b) { return a.name < b.name; });
  for (auto& c : policy_chains_) out.chains.push_back(std::move(c));
  return out;
}

void Compiler::compilePolicy(const Policy& policy, Direction direction, Chain* dispatch) {
  const bool in = direction == Direction::kIngress;
  const char* target_dir = in ? "dst" : "src";
  const char* peer_dir = in ? "src" : "dst";
  Chain chain{
      hashedName(in ? "QUASAR-I-" : "QUASAR-E-",
                 absl::StrCat("policy(", field(policy.namespace_name), ",", field(policy.name),
                              policy.kind.empty() ? "" : "," + field(policy.kind), ")")),
      {}};
  const std::string targets = podSet(targetGroup(policy));
  dispatch_[in][policy.namespace_name].targets.insert(targets);
  dispatch->rules.push_back({{"-m", "set", "--match-set", targets, target_dir, "-j", chain.name}});
  chain.rules.push_back({{"-j", "MARK", "--set-xmark", markArg(kIsolatedMark, kIsolatedMark)}});
  const Tokens allow = {"-j", "MARK", "--set-xmark", markArg(kAllowedMark, kAllowedMark)};
  for (const Rule& rule : in ? policy.ingress : policy.egress) {
    // Each peer gets its own rules (peers are ORed), so one peer's except never narrows
    // another peer of the same rule.
    std::vector<std::pair<Tokens, std::optional<PodGroup>>> peers;
    if (rule.peers.empty()) peers.push_back({{}, std::nullopt});
    for (const Peer& peer : rule.peers) {
      if (peer.ip_block) {
        if (auto name = netSet(*peer.ip_block)) {
          peers.push_back({{"-m", "set", "--match-set", *name, peer_dir}, std::nullopt});
        }
        continue;
      }
      PodGroup group = peerGroup(policy, peer);
      peers.push_back({{"-m", "set", "--match-set", podSet(group), peer_dir}, group});
    }
    for (const auto& [tokens, group] : peers) {
      for (Tokens r : portMatches(policy, rule, direction, tokens, group)) {
        r.insert(r.end(), allow.begin(), allow.end());
        chain.rules.push_back({std::move(r)});
      }
    }
  }
  policy_chains_.push_back(std::move(chain));
}

std::string Compiler::isolatedSet(Direction direction, const std::string* namespace_name,
                                  const std::set<std::string>& targets) {
  const bool in = direction == Direction::kIngress;
  PodSetDefinition definition{"", SetType::kHashIp, {}, "", Protocol::kTcp,
                              {targets.begin(), targets.end()}};
  std::string canonical = in ? "isolated(ingress" : "isolated(egress";
  if (namespace_name != nullptr) absl::StrAppend(&canonical, ",", field(*namespace_name));
  canonical += ")";
  bool created = false;
  std::string name = addSet(SetType::kHashIp, canonical, [&] {
    created = true;
    std::set<SetEntry> entries;
    for (const auto& t : targets) {
      const auto& members = sets_.at(t).entries;
      entries.insert(members.begin(), members.end());
    }
    return entries;
  });
  if (created && record_pod_sets_) {
    definition.set = name;
    pod_sets_.emplace(name, std::move(definition));
  }
  return name;
}

std::vector<Tokens> Compiler::portMatches(const Policy& policy, const Rule& rule,
                                          Direction direction, const Tokens& peer,
                                          const std::optional<PodGroup>& peer_group) {
  if (rule.ports.empty()) return {peer};
  std::vector<Tokens> out;
  auto with = [&](Tokens extra) {
    Tokens t = peer;
    t.insert(t.end(), extra.begin(), extra.end());
    out.push_back(std::move(t));
  };
  std::map<Protocol, std::vector<std::pair<int, int>>> numeric;
  std::set<Protocol> whole;
  for (const PortSpec& p : rule.ports) {
    const std::string proto = protocolName(p.protocol);
    if (!p.port_name.empty()) {
      // Resolved per destination pod: an ip,port set of the pods that declare the name.
      if (direction == Direction::kIngress) {
        with({"-p", proto, "-m", "set", "--match-set",
              namedPortSet(targetGroup(policy), p.port_name, p.protocol), "dst,dst"});
      } else if (!peer_group && peer.empty()) {
        PodGroup all;
        all.namespace_selector = LabelSelector{};
        out.push_back({"-p", proto, "-m", "set", "--match-set",
                       namedPortSet(all, p.port_name, p.protocol), "dst,dst"});
      } else if (peer_group) {
        // The set holds only the peer's pods, so it stands for the peer match too.
        out.push_back({"-p", proto, "-m", "set", "--match-set",
                       namedPortSet(*peer_group, p.port_name, p.protocol), "dst,dst"});
      }
      // An ipBlock peer has no container ports: a named port matches nothing there.
      continue;
    }
    if (!p.port) {
      whole.insert(p.protocol);
      continue;
    }
    numeric[p.protocol].push_back({*p.port, p.end_port.value_or(*p.port)});
  }
  for (Protocol proto : whole) with({"-p", protocolName(proto)});
  for (auto& [proto, ranges] : numeric) {
    if (whole.count(proto)) continue;
    std::sort(ranges.begin(), ranges.end());
    ranges.erase(std::unique(ranges.begin(), ranges.end()), ranges.end());
    std::vector<std::string> chunk;
    int slots = 0;
    auto flush = [&] {
      if (chunk.empty()) return;
      if (chunk.size() == 1) {
        with({"-p", protocolName(proto), "--dport", chunk[0]});
      } else {
        with({"-p", protocolName(proto), "-m", "multiport", "--dports", absl::StrJoin(chunk, ",")});
      }
      chunk.clear();
      slots = 0;
    };
    for (const auto& [from, to] : ranges) {
      const int need = from == to ? 1 : 2;
      if (slots + need > kMultiportSlots) flush();
      chunk.push_back(from == to ? absl::StrCat(from) : absl::StrCat(from, ":", to));
      slots += need;
    }
    flush();
  }
  return out;
}

}  // namespace

std::string hashedName(std::string_view prefix, std::string_view text) {
  return absl::StrFormat("%s%016x", prefix, hash64(text));
}

const char* setTypeName(SetType type) {
  switch (type) {
    case SetType::kHashIp:
      return "hash:ip";
    case SetType::kHashNet:
      return "hash:net";
    case SetType::kHashIpPort:
      return "hash:ip,port";
  }
  return "hash:ip";
}

std::string protocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kSctp:
      return "sctp";
  }
  return "tcp";
}

absl::StatusOr<Ruleset> compile(const Model& model, const CompileOptions& options) {
  return Compiler(model, options).run();
}

absl::StatusOr<Ruleset> compile(const Model& model, const CompileOptions& options,
                                std::vector<PodSetDefinition>* pod_sets) {
  Compiler compiler(model, options, /*record_pod_sets=*/true);
  auto out = compiler.run();
  if (out.ok()) *pod_sets = compiler.takePodSets();
  return out;
}

std::vector<SetEntry> podSetEntries(const PodSetDefinition& definition, const Pod& pod,
                                    conf::Family family) {
  std::vector<SetEntry> out;
  for (const auto& ip : pod.ips) {
    if (ip.family() != family) continue;
    if (definition.type != SetType::kHashIpPort) {
      out.push_back({ip.toString(), false});
      continue;
    }
    for (const auto& port : pod.ports) {
      if (port.name != definition.port_name || port.protocol != definition.protocol) continue;
      if (port.port < 1 || port.port > 65535) continue;  // pod data: never trusted
      out.push_back(
          {absl::StrCat(ip.toString(), ",", protocolName(port.protocol), ":", port.port), false});
    }
  }
  if (out.size() > 1) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
  return out;
}

absl::StatusOr<std::vector<PodSetDefinition>> podSetDefinitions(const Model& model,
                                                                const CompileOptions& options) {
  Compiler compiler(model, options, /*record_pod_sets=*/true, /*fill_members=*/false);
  if (auto r = compiler.run(); !r.ok()) return r.status();
  return compiler.takePodSets();
}

}  // namespace quasar::netpolicy
