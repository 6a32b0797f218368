// The policy benchmark's output: its markdown rows, and the benchShape model as objects for
// quasarctl apply (the quasard end-to-end part of scripts/bench-policy.sh).

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "netpolicy/compiler/test_model.h"
#include "nlohmann/json.hpp"
#include "tests/bench_policy.h"

namespace quasar::bench {
namespace {

namespace np = quasar::netpolicy;
using nlohmann::json;

std::string num(double v) { return absl::StrFormat(v < 10 ? "%.2f" : "%.0f", v); }

std::string thousands(size_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string yesNo(bool b) { return b ? "yes" : "**no**"; }

json selectorJson(const np::LabelSelector& s) {
  json labels = json::object();
  for (const auto& [k, v] : s.match_labels) labels[k] = v;
  return json{{"matchLabels", labels}};
}

json policyJson(const np::Policy& p) {
  json ingress = json::array();
  for (const auto& rule : p.ingress) {
    json from = json::array(), ports = json::array();
    for (const auto& peer : rule.peers) {
      json j = json::object();
      if (peer.pod_selector) j["podSelector"] = selectorJson(*peer.pod_selector);
      if (peer.namespace_selector) j["namespaceSelector"] = selectorJson(*peer.namespace_selector);
      from.push_back(j);
    }
    for (const auto& port : rule.ports) {
      json j = {{"protocol", "TCP"}};
      if (port.port) j["port"] = *port.port;
      if (!port.port_name.empty()) j["port"] = port.port_name;
      ports.push_back(j);
    }
    ingress.push_back({{"from", from}, {"ports", ports}});
  }
  return json{{"apiVersion", "networking.k8s.io/v1"},
              {"kind", "NetworkPolicy"},
              {"metadata", {{"name", p.name}, {"namespace", p.namespace_name}}},
              {"spec", {{"podSelector", selectorJson(p.pod_selector)}, {"ingress", ingress}}}};
}

json podJson(const np::Pod& p, const std::string& node) {
  json ports = json::array(), ips = json::array();
  for (const auto& port : p.ports) {
    ports.push_back({{"name", port.name}, {"containerPort", port.port}, {"protocol", "TCP"}});
  }
  for (const auto& ip : p.ips) ips.push_back({{"ip", ip.toString()}});
  json labels = json::object();
  for (const auto& [k, v] : p.labels) labels[k] = v;
  return json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", p.name}, {"namespace", p.namespace_name}, {"labels", labels}}},
              {"spec",
               {{"nodeName", node},
                {"containers", json::array({{{"name", "c"}, {"image", "x"}, {"ports", ports}}})}}},
              {"status", {{"phase", "Running"}, {"podIPs", ips}}}};
}

}  // namespace

std::string policyBenchHeader() {
  return "| measure | median | p99 | floor: the kernel tools from files (median) | ratio "
         "(median) | goal | met |\n|---|---|---|---|---|---|---|\n";
}

std::string policyBenchRows(const PolicyBenchReport& r) {
  std::string out;
  auto row = [&](const std::string& measure, const std::string& median, const std::string& p99,
                 const std::string& floor, const std::string& ratio, const std::string& goal,
                 const std::string& met) {
    absl::StrAppend(&out, "| ",
                    absl::StrJoin({measure, median, p99, floor, ratio, goal, met}, " | "), " |\n");
  };
  for (const auto& s : r.syncs) {
    const std::string what = absl::StrCat("full sync, ", thousands(r.policies), " policies over ",
                                          thousands(s.pods), " pods");
    row(what + ": compile (ms)", num(quantile(s.compile_ms, 0.5)),
        num(quantile(s.compile_ms, 0.99)), "", "", "", "");
    row(what + ": first apply (ms)", num(quantile(s.apply_ms, 0.5)),
        num(quantile(s.apply_ms, 0.99)), "", "", "", "");
    const double total = quantile(s.total_ms, 0.5), floor = quantile(s.floor_ms, 0.5);
    const double ratio = total / floor;
    row(what + ": total (ms)", num(total), num(quantile(s.total_ms, 0.99)),
        absl::StrCat(num(floor), " (ipset restore ", num(quantile(s.floor_sets_ms, 0.5)),
                     " + iptables-restore ", num(quantile(s.floor_rules_ms, 0.5)), "; p99 ",
                     num(quantile(s.floor_ms, 0.99)), ")"),
        absl::StrFormat("%.2fx", ratio), "within 2x of the floor, under 1,000 ms",
        absl::StrCat(yesNo(ratio <= 2), " / ", yesNo(total < 1000)));
  }
  for (const auto& s : r.syncs) {
    const bool same = s.ours.rules == r.syncs.front().ours.rules;
    row(absl::StrCat("iptables rules in quasar's chains (+ hooks) at ", thousands(s.pods), " pods"),
        absl::StrCat(thousands(s.ours.rules), " (+", s.ours.hooks, ")"), "",
        thousands(s.floor.rules), "", "independent of the pod count", yesNo(same));
    row(absl::StrCat("ipsets / members at ", thousands(s.pods), " pods"),
        absl::StrCat(s.ours.sets, " / ", thousands(s.ours.members)), "",
        absl::StrCat(s.floor.sets, " / ", thousands(s.floor.members)), "", "", "");
  }
  for (const auto& e : r.pod_events) {
    const double med = quantile(e.total_ms, 0.5), p99 = quantile(e.total_ms, 0.99);
    row(absl::StrCat(e.what, " at ", thousands(r.event_pods),
                     " pods: event to kernel (ms, n=", e.total_ms.size(), ")"),
        num(med), num(p99), "", "", "under 10 ms",
        absl::StrCat("median ", yesNo(med < 10), ", p99 ", yesNo(p99 < 10)));
  }
  for (const auto& c : r.policy_changes) {
    row(absl::StrCat(c.what, " at ", thousands(r.event_pods), " pods: compile + apply (ms, n=",
                     c.total_ms.size(), "; compile median ", num(quantile(c.compile_ms, 0.5)),
                     ", apply ", num(quantile(c.apply_ms, 0.5)), ")"),
        num(quantile(c.total_ms, 0.5)), num(quantile(c.total_ms, 0.99)), "", "", "", "");
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> writePolicyBenchObjects(const std::string& dir, int pods,
                                                                 int policies, int batch,
                                                                 const std::string& node) {
  np::Model m = np::testing::benchShape(pods);
  if (policies < static_cast<int>(m.policies.size())) m.policies.resize(policies);
  std::vector<std::string> files;
  auto write = [&](const std::string& name, const std::vector<json>& docs) -> absl::Status {
    const std::string path = absl::StrCat(dir, "/", name);
    std::ofstream f(path, std::ios::trunc);
    for (const auto& d : docs) f << "---\n" << d.dump() << "\n";
    f.close();
    if (!f) return absl::InternalError("cannot write " + path);
    files.push_back(path);
    return absl::OkStatus();
  };
  std::vector<json> docs;
  for (const auto& n : m.namespaces) {
    json labels = json::object();
    for (const auto& [k, v] : n.labels) labels[k] = v;
    docs.push_back({{"apiVersion", "v1"},
                    {"kind", "Namespace"},
                    {"metadata", {{"name", n.name}, {"labels", labels}}}});
  }
  if (auto s = write("namespaces.yaml", docs); !s.ok()) return s;
  auto batches = [&](const std::string& prefix, size_t count, auto make) -> absl::Status {
    for (size_t first = 0; first < count; first += batch) {
      docs.clear();
      for (size_t i = first; i < std::min(count, first + batch); ++i) docs.push_back(make(i));
      if (auto s = write(absl::StrCat(prefix, first / batch, ".yaml"), docs); !s.ok()) return s;
    }
    return absl::OkStatus();
  };
  if (auto s = batches("policies-", m.policies.size(),
                       [&](size_t i) { return policyJson(m.policies[i]); });
      !s.ok()) {
    return s;
  }
  if (auto s = batches("pods-", m.pods.size(), [&](size_t i) { return podJson(m.pods[i], node); });
      !s.ok()) {
    return s;
  }
  return files;
}

}  // namespace quasar::bench
