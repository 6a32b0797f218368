// quasarctl: the operator's CLI. Talks to quasard over its unix socket.

#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>

#include "conf/json_parse.h"
#include "conf/net_conf.h"
#include "daemon/api/quasard.grpc.pb.h"
#include "daemon/ctl/yaml_json.h"
#include "nlohmann/json.hpp"

namespace {

namespace pb = quasar::api::v1;
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
      std::cout << json{{"node", r.node_name()},
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
                        {"pools", pools}}
                       .dump(2)
                << "\n";
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
  return 2;
}
