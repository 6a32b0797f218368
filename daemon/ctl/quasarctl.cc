// quasarctl: the operator's CLI. Talks to quasard over its unix socket.

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <iostream>
#include <iterator>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "conf/json_parse.h"
#include "conf/net_conf.h"
#include "daemon/api/quasard.grpc.pb.h"
#include "daemon/ctl/eni_status.h"
#include "daemon/ctl/yaml_json.h"
#include "nlohmann/json.hpp"

namespace {

namespace pb = quasar::api::v1;
using quasar::ctl::eniStatusJson;
using quasar::ctl::eniStatusText;
using nlohmann::json;

struct Options {
  std::string socket = quasar::conf::kDefaultSocket;
  std::string output = "table";
  int timeout_ms = 5000;
};

json toJson(const pb::Allocation& a) {
  json out = {
      {"containerID", a.attachment().container_id()},
      {"ifname", a.attachment().ifname()},
      {"network", a.network()},
      {"netns", a.netns()},
      {"pod",
       {{"namespace", a.pod().namespace_()}, {"name", a.pod().name()}, {"uid", a.pod().uid()}}},
      {"ips", a.ips()},
      {"createdUnixMs", a.created_unix_ms()}};
  // What quasard read of the pod at ADD (from its view, or asked directly).
  if (!a.pod_lookup().empty()) {
    out["pod"]["lookup"] = a.pod_lookup();
    json annotations = json::object();
    for (const auto& [k, v] : a.pod_annotations()) annotations[k] = v;
    out["pod"]["annotations"] = annotations;
  }
  return out;
}

std::string join(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ",") + s;
  return out;
}

std::string podName(const pb::Allocation& a) {
  if (a.pod().name().empty()) return "-";
  return a.pod().namespace_() + "/" + a.pod().name();
}

json toJson(const pb::FloatingLease& l) {
  json out = {{"ip", l.ip()},
              {"pool", l.pool()},
              {"state", l.state()},
              {"policy", l.policy()},
              {"holder", l.holder()},
              {"node", l.node()},
              {"sinceUnixMs", l.since_unix_ms()},
              {"releasedUnixMs", l.released_unix_ms()},
              {"operatorReserved", l.operator_reserved()}};
  if (l.has_workload()) {
    out["workload"] = {{"kind", l.workload().kind()},
                       {"namespace", l.workload().namespace_()},
                       {"name", l.workload().name()},
                       {"uid", l.workload().uid()}};
  }
  if (l.has_pod()) {
    out["pod"] = {
        {"namespace", l.pod().namespace_()}, {"name", l.pod().name()}, {"uid", l.pod().uid()}};
  }
  if (l.has_attachment()) {
    out["attachment"] = {{"containerID", l.attachment().container_id()},
                         {"ifname", l.attachment().ifname()}};
  }
  return out;
}

// "2026-12-01T21:30:00Z (5m ago)"; "-" for 0.
std::string since(int64_t unix_ms, bool with_age) {
  if (unix_ms <= 0) return "-";
  const std::time_t t = unix_ms / 1000;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  if (!with_age) return buf;
  const int64_t now_s =
      std::chrono::system_clock::now().time_since_epoch() / std::chrono::seconds(1);
  const int64_t age = std::max<int64_t>(0, now_s - t);
  std::string a = age < 120      ? std::to_string(age) + "s"
                  : age < 7200   ? std::to_string(age / 60) + "m"
                  : age < 172800 ? std::to_string(age / 3600) + "h"
                                 : std::to_string(age / 86400) + "d";
  return std::string(buf) + " (" + a + " ago)";
}

std::string workloadName(const pb::FloatingLease& l) {
  if (!l.has_workload() || l.workload().name().empty()) return "-";
  return l.workload().kind() + "/" + l.workload().namespace_() + "/" + l.workload().name();
}

std::string orDash(const std::string& s) { return s.empty() ? "-" : s; }

class Ctl {
 public:
  explicit Ctl(const Options& o) : o_(o) {
    stub_ = pb::Quasard::NewStub(
        grpc::CreateChannel("unix:" + o.socket, grpc::InsecureChannelCredentials()));
  }

  // Each call gets a deadline; a daemon that is not there fails at once (no wait_for_ready).
  std::unique_ptr<grpc::ClientContext> ctx() {
    auto c = std::make_unique<grpc::ClientContext>();
    c->set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(o_.timeout_ms));
    return c;
  }

  int failed(const grpc::Status& s) {
    std::cerr << "quasarctl: " << s.error_message();
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      std::cerr << " (is quasard running and serving on " << o_.socket << "?)";
    }
    std::cerr << "\n";
    return 1;
  }

  int status() {
    pb::StatusReply r;
    if (auto s = stub_->Status(ctx().get(), {}, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      json pools = json::array();
      for (const auto& p : r.pools()) {
        pools.push_back({{"cidr", p.cidr()},
                         {"capacity", p.capacity()},
                         {"used", p.used()},
                         {"cooling", p.cooling()}});
      }
      json out{{"node", r.node_name()},
                        {"version", r.version()},
                        {"ready", r.ready()},
                        {"mtu", r.mtu()},
                        {"routingMode", r.routing_mode()},
                        {"uplink", r.uplink()},
                        {"store", r.store_path()},
                        {"allocations", r.allocations()},
                        {"commits",
                         {{"transactions", r.commit_transactions()},
                          {"mutations", r.commit_mutations()}}},
                        {"pools", pools}};
      if (r.eni().enabled()) out["eni"] = eniStatusJson(r.eni());
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    const auto up = std::chrono::system_clock::now().time_since_epoch() / std::chrono::seconds(1) -
                    r.started_unix_ms() / 1000;
    std::printf(
        "node:         %s\nversion:      %s\nready:        %s\nuptime:       %llds\n"
        "routing mode: %s\nuplink:       %s\npod MTU:      %u\nstore:        %s\n"
        "allocations:  %llu\ncommits:      %llu transactions for %llu changes\n",
        r.node_name().c_str(), r.version().c_str(), r.ready() ? "yes" : "NO",
        static_cast<long long>(up), r.routing_mode().c_str(),
        r.uplink().empty() ? "(unknown)" : r.uplink().c_str(), r.mtu(), r.store_path().c_str(),
        static_cast<unsigned long long>(r.allocations()),
        static_cast<unsigned long long>(r.commit_transactions()),
        static_cast<unsigned long long>(r.commit_mutations()));
    std::printf("\n%-20s %10s %10s %10s %10s\n", "POD CIDR", "CAPACITY", "USED", "COOLING", "FREE");
    for (const auto& p : r.pools()) {
      std::printf("%-20s %10llu %10llu %10llu %10llu\n", p.cidr().c_str(),
                  static_cast<unsigned long long>(p.capacity()),
                  static_cast<unsigned long long>(p.used()),
                  static_cast<unsigned long long>(p.cooling()),
                  static_cast<unsigned long long>(p.capacity() - p.used() - p.cooling()));
    }
    if (r.eni().enabled()) std::cout << eniStatusText(r.eni());
    return 0;
  }

  int list(const std::string& network) {
    pb::ListRequest req;
    req.set_network(network);
    pb::ListReply r;
    if (auto s = stub_->List(ctx().get(), req, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      json out = json::array();
      for (const auto& a : r.allocations()) out.push_back(toJson(a));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-18s %-16s %-8s %-10s %-30s\n", "IP", "CONTAINER", "IFNAME", "NETWORK", "POD");
    for (const auto& a : r.allocations()) {
      std::printf("%-18s %-16s %-8s %-10s %-30s\n", join(a.ips()).c_str(),
                  a.attachment().container_id().substr(0, 16).c_str(),
                  a.attachment().ifname().c_str(), a.network().c_str(), podName(a).c_str());
    }
    return 0;
  }

  // `key` is a container ID (or a unique prefix of one) or an IP address.
  int show(const std::string& key) {
    pb::ListReply r;
    if (auto s = stub_->List(ctx().get(), {}, &r); !s.ok()) return failed(s);
    std::vector<const pb::Allocation*> hits;
    for (const auto& a : r.allocations()) {
      bool match = a.attachment().container_id().rfind(key, 0) == 0;
      for (const auto& ip : a.ips()) match |= ip == key || ip.substr(0, ip.find('/')) == key;
      if (match) hits.push_back(&a);
    }
    if (hits.empty()) {
      std::cerr << "quasarctl: no allocation matches " << key << "\n";
      return 1;
    }
    json out = json::array();
    for (const auto* a : hits) out.push_back(toJson(*a));
    std::cout << (hits.size() == 1 ? out[0] : out).dump(2) << "\n";
    return 0;
  }

  int nodes() {
    pb::NodesReply r;
    if (auto s = stub_->Nodes(ctx().get(), {}, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      json out = json::array();
      for (const auto& n : r.nodes()) {
        json labels = json::object();
        for (const auto& [k, v] : n.labels()) labels[k] = v;
        out.push_back({{"name", n.name()},
                       {"ip", n.ip()},
                       {"subnet", n.subnet()},
                       {"uplink", n.uplink()},
                       {"ready", n.ready()},
                       {"blocks", n.blocks()},
                       {"labels", labels}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-16s %-15s %-18s %-6s %-34s %s\n", "NAME", "IP", "SUBNET", "READY", "BLOCKS",
                "LABELS");
    for (const auto& n : r.nodes()) {
      std::string labels;
      for (const auto& [k, v] : n.labels()) labels += (labels.empty() ? "" : ",") + k + "=" + v;
      std::printf("%-16s %-15s %-18s %-6s %-34s %s\n", n.name().c_str(), n.ip().c_str(),
                  n.subnet().c_str(), n.ready() ? "yes" : "NO", join(n.blocks()).c_str(),
                  labels.c_str());
    }
    return 0;
  }

  // apply -f / delete -f: every document of the file (YAML or JSON; "-" is stdin).
  int changeObjects(const std::string& file, bool remove) {
    std::string text;
    if (file == "-") {
      text.assign(std::istreambuf_iterator<char>(std::cin), {});
    } else {
      std::ifstream in(file);
      if (!in) {
        std::cerr << "quasarctl: cannot read " << file << "\n";
        return 1;
      }
      text.assign(std::istreambuf_iterator<char>(in), {});
    }
    auto docs = quasar::daemon::yamlDocumentsToJson(text);
    if (!docs.ok()) {
      std::cerr << "quasarctl: " << file << ": " << docs.status().message() << "\n";
      return 1;
    }
    pb::ObjectsRequest req;
    for (const auto& d : *docs) req.add_objects_json(d.dump());
    pb::ObjectsReply r;
    auto s =
        remove ? stub_->DeleteObjects(ctx().get(), req, &r) : stub_->Apply(ctx().get(), req, &r);
    if (!s.ok()) return failed(s);
    for (const auto& line : r.results()) std::cout << line << "\n";
    return 0;
  }

  int get(const std::string& kind, const std::string& name, const std::string& ns) {
    pb::GetObjectsRequest req;
    req.set_kind(kind);
    req.set_name(name);
    req.set_namespace_(ns);
    pb::ObjectsReply r;
    if (auto s = stub_->GetObjects(ctx().get(), req, &r); !s.ok()) return failed(s);
    json items = json::array();
    for (const auto& o : r.objects_json()) {
      auto item = quasar::conf::parseJson(o);
      if (!item.ok()) {
        std::cerr << "quasarctl: quasard returned an object that is " << item.status().message()
                  << "\n";
        return 1;
      }
      items.push_back(std::move(*item));
    }
    if (o_.output == "json" || o_.output == "yaml") {
      json out = name.empty() ? json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}
                              : items.at(0);
      std::cout << (o_.output == "json" ? out.dump(2) : quasar::daemon::jsonToYaml(out)) << "\n";
      return 0;
    }
    std::printf("%-16s %-32s %s\n", "NAMESPACE", "NAME", "LABELS");
    for (const auto& o : items) {
      const json meta = o.value("metadata", json::object());
      const json label_map = meta.value("labels", json::object());
      std::string labels;
      for (const auto& [k, v] : label_map.items()) {
        labels += (labels.empty() ? "" : ",") + k + "=" + v.get<std::string>();
      }
      std::printf("%-16s %-32s %s\n", meta.value("namespace", "").c_str(),
                  meta.value("name", "").c_str(), labels.c_str());
    }
    return 0;
  }

  int routes() {
    pb::RoutesReply r;
    if (auto s = stub_->Routes(ctx().get(), {}, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      json out = json::array();
      for (const auto& x : r.routes()) {
        out.push_back({{"destination", x.destination()},
                       {"node", x.node()},
                       {"path", x.path()},
                       {"via", x.via()},
                       {"device", x.device()},
                       {"reason", x.reason()}});
      }
      std::cout << json{{"node", r.node()}, {"mode", r.mode()}, {"routes", out}}.dump(2) << "\n";
      return 0;
    }
    std::printf("node %s, routing mode %s\n\n%-18s %-12s %-12s %-15s %-14s %s\n", r.node().c_str(),
                r.mode().c_str(), "DESTINATION", "NODE", "PATH", "VIA", "DEVICE", "WHY");
    for (const auto& x : r.routes()) {
      std::printf("%-18s %-12s %-12s %-15s %-14s %s\n", x.destination().c_str(), x.node().c_str(),
                  x.path().c_str(), x.via().c_str(), x.device().c_str(), x.reason().c_str());
    }
    return 0;
  }

  int fipList() {
    pb::FloatingLeasesReply r;
    if (auto s = stub_->FloatingLeases(ctx().get(), {}, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      json out = json::array();
      for (const auto& l : r.leases()) out.push_back(toJson(l));
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-16s %-14s %-9s %-10s %-32s %-28s %-12s %s\n", "IP", "POOL", "STATE", "POLICY",
                "WORKLOAD", "POD", "NODE", "SINCE");
    for (const auto& l : r.leases()) {
      const std::string pod =
          l.has_pod() ? l.pod().namespace_() + "/" + l.pod().name() : std::string("-");
      std::printf("%-16s %-14s %-9s %-10s %-32s %-28s %-12s %s\n", l.ip().c_str(), l.pool().c_str(),
                  l.state().c_str(), l.policy().c_str(), workloadName(l).c_str(), pod.c_str(),
                  orDash(l.node()).c_str(), since(l.since_unix_ms(), true).c_str());
    }
    return 0;
  }

  int fipShow(const std::string& ip) {
    pb::FloatingLeasesRequest req;
    req.set_ip(ip);
    pb::FloatingLeasesReply r;
    if (auto s = stub_->FloatingLeases(ctx().get(), req, &r); !s.ok()) return failed(s);
    for (const auto& l : r.leases()) {
      if (o_.output == "json") {
        std::cout << toJson(l).dump(2) << "\n";
        continue;
      }
      const std::string pod =
          l.has_pod() ? l.pod().namespace_() + "/" + l.pod().name() + " (uid " + l.pod().uid() + ")"
                      : std::string("-");
      const std::string attachment =
          l.has_attachment() ? l.attachment().container_id() + "/" + l.attachment().ifname()
                             : std::string("-");
      std::printf(
          "ip:         %s\npool:       %s\nstate:      %s%s\nheld by:    %s\npolicy:     %s\n"
          "workload:   %s\npod:        %s\nnode:       %s\nattachment: %s\nsince:      %s\n"
          "last freed: %s\n",
          l.ip().c_str(), l.pool().c_str(), l.state().c_str(),
          l.operator_reserved() ? " (reserved by an operator)" : "", l.holder().c_str(),
          l.policy().c_str(), workloadName(l).c_str(), pod.c_str(), orDash(l.node()).c_str(),
          attachment.c_str(), since(l.since_unix_ms(), true).c_str(),
          since(l.released_unix_ms(), true).c_str());
    }
    return 0;
  }

  int fipPools() {
    pb::FloatingLeasesReply r;
    if (auto s = stub_->FloatingLeases(ctx().get(), {}, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      json out = json::array();
      for (const auto& p : r.pools()) {
        out.push_back(
            {{"name", p.name()},
             {"capacity", p.capacity()},
             {"inUse", p.in_use()},
             {"bound", p.bound()},
             {"unbound", p.unbound()},
             {"reserved", p.reserved()},
             {"cooling", p.cooling()},
             {"maxAllocated", p.max_allocated() < 0 ? json(nullptr) : json(p.max_allocated())}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    std::printf("%-20s %10s %8s %8s %8s %9s %8s %8s\n", "POOL", "CAPACITY", "IN USE", "BOUND",
                "UNBOUND", "RESERVED", "COOLING", "MAX");
    for (const auto& p : r.pools()) {
      const std::string max = p.max_allocated() < 0 ? "-" : std::to_string(p.max_allocated());
      std::printf("%-20s %10llu %8lld %8lld %8lld %9lld %8lld %8s\n", p.name().c_str(),
                  static_cast<unsigned long long>(p.capacity()), static_cast<long long>(p.in_use()),
                  static_cast<long long>(p.bound()), static_cast<long long>(p.unbound()),
                  static_cast<long long>(p.reserved()), static_cast<long long>(p.cooling()),
                  max.c_str());
    }
    return 0;
  }

  int fipReserve(const std::string& ip, const std::string& pool, const std::string& workload) {
    pb::ReserveFloatingIpRequest req;
    req.set_ip(ip);
    req.set_pool(pool);
    req.set_workload(workload);
    pb::FloatingLease l;
    if (auto s = stub_->ReserveFloatingIp(ctx().get(), req, &l); !s.ok()) return failed(s);
    if (o_.output == "json") {
      std::cout << toJson(l).dump(2) << "\n";
    } else {
      std::cout << "reserved " << l.ip() << " in pool " << l.pool() << ": " << l.holder() << "\n";
    }
    return 0;
  }

  int fipRelease(const std::string& ip) {
    pb::ReleaseFloatingIpRequest req;
    req.set_ip(ip);
    pb::ReleaseFloatingIpReply r;
    if (auto s = stub_->ReleaseFloatingIp(ctx().get(), req, &r); !s.ok()) return failed(s);
    std::cout << "released " << ip << "\n";
    return 0;
  }

  // --from/--to NS/POD, --port N[/PROTO].
  int policyExplain(const std::string& from, const std::string& to, const std::string& port) {
    pb::ExplainPolicyRequest req;
    auto split = [](const std::string& s, char sep, std::string* a, std::string* b) {
      const auto at = s.find(sep);
      if (at == std::string::npos) return false;
      *a = s.substr(0, at);
      *b = s.substr(at + 1);
      return !a->empty() && !b->empty();
    };
    if (!split(from, '/', req.mutable_from_namespace(), req.mutable_from_pod()) ||
        !split(to, '/', req.mutable_to_namespace(), req.mutable_to_pod())) {
      std::cerr << "quasarctl: --from and --to take NAMESPACE/POD\n";
      return 2;
    }
    std::string number = port, proto = "TCP";
    if (port.find('/') != std::string::npos) split(port, '/', &number, &proto);
    int n = 0;
    if (!absl::SimpleAtoi(number, &n) || n < 1 || n > 65535) {
      std::cerr << "quasarctl: --port takes PORT or PORT/PROTOCOL, e.g. 80/TCP\n";
      return 2;
    }
    req.set_port(static_cast<uint32_t>(n));
    req.set_protocol(proto);
    pb::ExplainPolicyReply r;
    if (auto s = stub_->ExplainPolicy(ctx().get(), req, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      auto refs = [](const auto& list) {
        json out = json::array();
        for (const auto& x : list) {
          out.push_back({{"kind", x.kind().empty() ? "NetworkPolicy" : "NetworkPolicy.quasar.io"},
                         {"namespace", x.namespace_()},
                         {"name", x.name()},
                         {"rule", x.rule()}});
        }
        return out;
      };
      auto dir = [&](const pb::PolicyDirection& d) {
        return json{{"isolated", d.isolated()},
                    {"allowed", d.allowed()},
                    {"isolatedBy", refs(d.isolating())},
                    {"allowedBy", refs(d.allowing())}};
      };
      std::cout << json{{"allowed", r.allowed()},
                        {"egress", dir(r.egress())},
                        {"ingress", dir(r.ingress())}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << from << " -> " << to << " " << n << "/" << absl::AsciiStrToUpper(proto) << ": "
                << r.text();
    }
    return 0;
  }

  int policyStatus() {
    pb::PolicyStatusReply r;
    if (auto s = stub_->PolicyStatus(ctx().get(), {}, &r); !s.ok()) return failed(s);
    if (o_.output == "json") {
      std::cout << json{{"ready", r.ready()},          {"syncs", r.syncs()},
                        {"syncErrors", r.sync_errors()}, {"repairs", r.repairs()},
                        {"lastSyncMs", r.last_sync_ms()}, {"policies", r.policies()},
                        {"pods", r.pods()},              {"rules", r.rules()},
                        {"sets", r.sets()},              {"setMembers", r.set_members()},
                        {"lastError", r.last_error()}}
                       .dump(2)
                << "\n";
      return 0;
    }
    std::printf("ready %s, %llu policies over %llu pods: %llu rules, %llu sets, %llu members\n",
                r.ready() ? "yes" : "no", static_cast<unsigned long long>(r.policies()),
                static_cast<unsigned long long>(r.pods()),
                static_cast<unsigned long long>(r.rules()),
                static_cast<unsigned long long>(r.sets()),
                static_cast<unsigned long long>(r.set_members()));
    std::printf("syncs %llu (errors %llu), last %.1f ms; repairs %llu%s%s\n",
                static_cast<unsigned long long>(r.syncs()),
                static_cast<unsigned long long>(r.sync_errors()), r.last_sync_ms(),
                static_cast<unsigned long long>(r.repairs()),
                r.last_error().empty() ? "" : "; last error: ", r.last_error().c_str());
    return 0;
  }

  int release(const std::string& container, const std::string& ifname) {
    pb::ReleaseRequest req;
    req.mutable_attachment()->set_container_id(container);
    req.mutable_attachment()->set_ifname(ifname);
    pb::ReleaseReply r;
    if (auto s = stub_->Release(ctx().get(), req, &r); !s.ok()) return failed(s);
    if (r.released_ips().empty()) {
      std::cout << "nothing was allocated to " << container << "/" << ifname << "\n";
    } else {
      std::cout << "released " << join(r.released_ips()) << "\n";
    }
    return 0;
  }

 private:
  Options o_;
  std::unique_ptr<pb::Quasard::Stub> stub_;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"quasarctl: inspect and operate quasar on this node"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (-o, --socket) also after the subcommand
  app.add_option("--socket", o.socket, "quasard's socket")->capture_default_str();
  app.add_option("-o,--output", o.output, "table, json (or yaml for get)")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
  app.add_option("--timeout-ms", o.timeout_ms, "deadline of each call")->capture_default_str();

  auto* status = app.add_subcommand("status", "quasard's health, configuration and pool usage");
  auto* nodes =
      app.add_subcommand("nodes", "the cluster's nodes: address, subnet, blocks, readiness");
  std::string file, kind, name, ns;
  auto* apply = app.add_subcommand("apply",
                                   "store Kubernetes objects (Node, Namespace, Pod, NetworkPolicy, "
                                   "StatefulSet, Deployment, ReplicaSet, quasar.io/v1 "
                                   "NetworkPolicy and FloatingIPPool) from a file");
  apply
      ->add_option("-f,--filename", file, "YAML or JSON, several documents, kind: List; - is stdin")
      ->required();
  auto* del = app.add_subcommand("delete", "remove the objects a file names");
  del->add_option("-f,--filename", file, "YAML or JSON")->required();
  auto* get = app.add_subcommand("get",
                                 "list stored objects: nodes, namespaces, pods, networkpolicies, "
                                 "networkpolicies.quasar.io, floatingippools, statefulsets, "
                                 "deployments, replicasets");
  get->add_option("kind", kind)->required();
  get->add_option("name", name);
  get->add_option("-n,--namespace", ns, "only this namespace (default: all)");
  auto* routes = app.add_subcommand("routes", "this node's routes to other nodes' blocks, and why");
  auto* ipam = app.add_subcommand("ipam", "IP allocations");
  ipam->require_subcommand(1);
  std::string network;
  auto* list = ipam->add_subcommand("list", "every allocation on this node");
  list->add_option("--network", network, "only this CNI network");
  std::string key;
  auto* show = ipam->add_subcommand("show", "one allocation, by container ID (prefix) or IP");
  show->add_option("key", key)->required();
  std::string container, ifname = "eth0";
  auto* release = ipam->add_subcommand(
      "release", "release an attachment's IPs by hand (the pod loses its addresses' lease)");
  release->add_option("container-id", container)->required();
  release->add_option("--ifname", ifname)->capture_default_str();
  auto* fip = app.add_subcommand("fip", "floating IPs, cluster-wide: who holds each address");
  fip->require_subcommand(1);
  auto* fip_list = fip->add_subcommand(
      "list", "every held address: pool, state, policy, workload, pod, node, since");
  std::string fip_ip, fip_pool, fip_workload;
  auto* fip_show = fip->add_subcommand("show", "one address in detail");
  fip_show->add_option("ip", fip_ip)->required();
  auto* fip_pools =
      fip->add_subcommand("pools", "each pool's capacity and use (bound, unbound, reserved)");
  auto* fip_reserve = fip->add_subcommand(
      "reserve", "keep an address out of automatic allocation (for a workload, or by request)");
  fip_reserve->add_option("ip", fip_ip)->required();
  fip_reserve->add_option("--pool", fip_pool, "the FloatingIPPool")->required();
  fip_reserve->add_option("--workload", fip_workload,
                          "Kind/namespace/name (StatefulSet, Deployment, ReplicaSet, Pod)");
  auto* fip_release = fip->add_subcommand(
      "release", "free an unbound or reserved address now (a bound one when its pod goes)");
  fip_release->add_option("ip", fip_ip)->required();
  auto* policy = app.add_subcommand("policy", "NetworkPolicy as this node enforces it");
  policy->require_subcommand(1);
  std::string from, to, port;
  auto* explain = policy->add_subcommand(
      "explain", "is a connection allowed, and which policies and rules decide it");
  explain->add_option("--from", from, "source NAMESPACE/POD")->required();
  explain->add_option("--to", to, "destination NAMESPACE/POD")->required();
  explain->add_option("--port", port, "destination PORT[/PROTOCOL], e.g. 80/TCP")->required();
  auto* policy_status =
      policy->add_subcommand("status", "policies, pods, rules and sets programmed; last sync");
  CLI11_PARSE(app, argc, argv);

  Ctl ctl(o);
  if (*status) return ctl.status();
  if (*nodes) return ctl.nodes();
  if (*routes) return ctl.routes();
  if (*apply) return ctl.changeObjects(file, false);
  if (*del) return ctl.changeObjects(file, true);
  if (*get) return ctl.get(kind, name, ns);
  if (*list) return ctl.list(network);
  if (*show) return ctl.show(key);
  if (*release) return ctl.release(container, ifname);
  if (*fip_list) return ctl.fipList();
  if (*fip_show) return ctl.fipShow(fip_ip);
  if (*fip_pools) return ctl.fipPools();
  if (*fip_reserve) return ctl.fipReserve(fip_ip, fip_pool, fip_workload);
  if (*fip_release) return ctl.fipRelease(fip_ip);
  if (*explain) return ctl.policyExplain(from, to, port);
  if (*policy_status) return ctl.policyStatus();
  return 2;
}
