// quasard: the node daemon. Serves IPAM over gRPC on a unix socket from the node's pod CIDRs,
// with durable state in SQLite under the state directory.

#include <errno.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_join.h"
#include "conf/daemon_config.h"
#include "daemon/agents/policy_agent.h"
#include "daemon/agents/routing_agent.h"
#include "daemon/api/plugin_server.h"
#include "daemon/api/quasard_service.h"
#include "daemon/cluster/block_manager.h"
#include "daemon/cluster/block_reclaimer.h"
#include "daemon/cluster/cluster_view.h"
#include "daemon/cluster/node_registry.h"
#include "daemon/cluster/object_store.h"
#include "daemon/cluster/pod_addresses.h"
#include "daemon/cluster/stale_block_reclaimer.h"
#include "daemon/cluster_objects.h"
#include "daemon/kube/kube_object_source.h"
#include "daemon/metrics/http_server.h"
#include "daemon/metrics/metered_store.h"
#include "daemon/metrics/quasard_metrics.h"
#include "daemon/metrics/readiness.h"
#include "daemon/node_eni.h"
#include "daemon/node_floating_ips.h"
#include "daemon/store/etcd_store.h"
#include "daemon/store/sqlite_allocation_store.h"
#include "daemon/store/sqlite_kv_store.h"
#include "ipam/address_manager.h"
#include "netpolicy/kernel/applier.h"
#include "netpolicy/kernel/linux_policy_kernel.h"
#include "netpolicy/masquerade.h"
#include "routing/pod_link.h"
#include "routing/proxy_neighbour.h"
#include "routing/uplink.h"

namespace quasar::daemon {
namespace {

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// True when something accepts connections on `path`: another quasard is serving there.
bool socketInUse(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  const bool in_use = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return in_use;
}

absl::StatusOr<std::unique_ptr<Store>> openDatastore(const conf::DaemonConfig& cfg) {
  if (cfg.datastore.type == conf::DatastoreConfig::Type::kSqlite) {
    auto s = SqliteKvStore::open(cfg.state_dir + "/cluster.db");
    if (!s.ok()) return s.status();
    return std::unique_ptr<Store>(std::move(*s));
  }
  EtcdOptions o;
  o.endpoints = cfg.datastore.endpoints;
  o.key_prefix = cfg.datastore.prefix;
  o.ca_file = cfg.datastore.ca_file;
  o.cert_file = cfg.datastore.cert_file;
  o.key_file = cfg.datastore.key_file;
  auto s = EtcdStore::open(o);
  if (!s.ok()) return s.status();
  return std::unique_ptr<Store>(std::move(*s));
}

NodeRecord nodeRecord(const conf::DaemonConfig& cfg, const absl::StatusOr<routing::Uplink>& up) {
  NodeRecord r;
  r.name = cfg.node_name;
  r.labels = cfg.labels;
  r.ip = cfg.node_ip;
  if (up.ok()) {
    r.uplink = up->name;
    for (const auto& a : up->addresses) {
      if (r.ip.empty() || a.address().toString() == r.ip) {
        r.ip = a.address().toString();
        r.subnet = a.network().toString();
        break;
      }
    }
  }
  return r;
}

// SIGTERM or SIGINT is pending (they are blocked in every thread; see main): for waits before
// the signal thread runs.
bool terminationRequested() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  const timespec zero{0, 0};
  return sigtimedwait(&set, nullptr, &zero) > 0;
}

int fail(const std::string& what) {
  spdlog::critical("event=exit error=\"{}\"", what);
  return 1;
}

struct Flags {
  std::string config = "/etc/quasar/quasard.yaml";
  std::string node_name;   // overrides the config's nodeName (the DaemonSet passes spec.nodeName)
  std::string kubeconfig;  // overrides kubernetes.kubeconfig, and turns the API source on
};

int run(const Flags& flags) {
  auto cfg = conf::loadDaemonConfig(flags.config);
  if (!cfg.ok()) return fail(std::string(cfg.status().message()));
  if (!flags.node_name.empty()) cfg->node_name = flags.node_name;
  if (!flags.kubeconfig.empty()) {
    if (!cfg->kubernetes) cfg->kubernetes.emplace();
    cfg->kubernetes->kubeconfig = flags.kubeconfig;
  }
  spdlog::set_level(spdlog::level::from_str(cfg->log_level));

  std::error_code ec;
  std::filesystem::create_directories(cfg->state_dir, ec);
  if (ec) return fail("create state dir " + cfg->state_dir + ": " + ec.message());
  std::filesystem::create_directories(std::filesystem::path(cfg->socket).parent_path(), ec);
  if (ec) return fail("create socket dir for " + cfg->socket + ": " + ec.message());

  // One daemon per state directory: two writers would each believe they own every address.
  const std::string lock_path = cfg->state_dir + "/quasard.lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return fail("open " + lock_path + ": " + strerror(errno));
  if (::flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    return fail("another quasard holds " + lock_path);
  }

  // Health and metrics (daemon/metrics/, docs/metrics.md): served from here on, so /healthz
  // answers while quasard starts; /readyz passes once every check registered below does.
  metrics::QuasardMetrics metrics;
  metrics::Readiness readiness;
  std::atomic<bool> serving{false};
  auto startup_check = readiness.add("startup", [&serving]() -> absl::Status {
    return serving ? absl::OkStatus() : absl::UnavailableError("starting or stopping");
  });
  std::unique_ptr<metrics::HttpServer> http;
  if (!cfg->metrics_address.empty()) {
    auto h = metrics::HttpServer::start({cfg->metrics_address, &metrics.registry(), &readiness});
    if (!h.ok()) return fail(std::string(h.status().message()));
    http = std::move(*h);
  }

  NodeInfo node;
  node.node_name = cfg->node_name;
  node.routing_mode = std::string(conf::routingModeName(cfg->routing_mode));
  node.started_unix_ms = nowUnixMs();
  const int overhead = conf::encapsulationOverhead(cfg->routing_mode);
  auto uplink = routing::findUplink(cfg->uplink);
  if (uplink.ok()) {
    node.uplink = uplink->name;
    node.mtu = cfg->mtu ? cfg->mtu : uplink->mtu - overhead;
  } else {
    node.mtu = cfg->mtu ? cfg->mtu : 1500 - overhead;
    spdlog::warn("event=uplink-unknown error=\"{}\" mtu={}", std::string(uplink.status().message()),
                 node.mtu);
  }

  // The cluster datastore: this node's record and liveness, the blocks it owns.
  auto datastore = openDatastore(*cfg);
  if (!datastore.ok()) return fail(std::string(datastore.status().message()));
  *datastore = std::make_unique<metrics::MeteredStore>(std::move(*datastore), metrics.datastore());
  NodeRegistry registry(**datastore, nodeRecord(*cfg, uplink), cfg->node_ttl);
  if (auto s = registry.start(); !s.ok()) return fail("register node: " + std::string(s.message()));
  ClusterView view(**datastore);
  view.setMetrics(metrics.watch("cluster"));
  if (auto s = view.start(); !s.ok()) return fail("cluster view: " + std::string(s.message()));
  // Nodes, namespaces, pods and policies: from the API server or from the datastore.
  auto objects = ClusterObjects::create(*cfg, **datastore, nullptr);
  if (!objects.ok()) return fail(std::string(objects.status().message()));
  if (auto s = (*objects)->start(); !s.ok())
    return fail("object view: " + std::string(s.message()));
  std::unique_ptr<BlockManager> blocks;
  std::vector<conf::IpPrefix> ranges = cfg->pod_cidrs;
  if (cfg->ipam == conf::IpamMode::kKubernetes) {
    auto cidrs = (*objects)->waitForPodCidrs(cfg->node_name, terminationRequested);
    if (!cidrs.ok()) return fail(std::string(cidrs.status().message()));
    ranges = *cidrs;
    std::vector<std::string> text;
    for (const auto& c : ranges) text.push_back(c.toString());
    spdlog::info("event=pod-cidrs-from-node node={} podCIDRs={}", cfg->node_name,
                 absl::StrJoin(text, ","));
  }
  if (cfg->cluster_cidr) {
    blocks = std::make_unique<BlockManager>(**datastore, cfg->node_name, *cfg->cluster_cidr,
                                            cfg->block_size);
    auto owned = blocks->owned();
    if (!owned.ok()) return fail("read owned blocks: " + std::string(owned.status().message()));
    ranges = *owned;
    node.claims_blocks = true;
    if (ranges.empty()) {
      // A first block at start, not at the first pod: the tunnel device takes its address from
      // it, and the other nodes route to it before a pod lands here.
      auto b = blocks->claim();
      if (b.ok()) {
        spdlog::info("event=block-claimed node={} block={}", cfg->node_name, b->toString());
        ranges.push_back(*b);
      } else {
        spdlog::warn("event=block-claim-failed node={} error=\"{}\"", cfg->node_name,
                     std::string(b.status().message()));
      }
    }
  }

  auto store = SqliteAllocationStore::open(cfg->state_dir + "/ipam.db");
  if (!store.ok()) return fail(std::string(store.status().message()));
  ipam::AddressManager::Options opts{ranges, cfg->reserved, cfg->release_cooldown.count(), nullptr};
  if (blocks) {
    opts.claim_range = [&blocks, &cfg]() -> absl::StatusOr<conf::IpPrefix> {
      auto b = blocks->claim();
      if (b.ok()) {
        spdlog::info("event=block-claimed node={} block={}", cfg->node_name, b->toString());
      } else {
        spdlog::warn("event=block-claim-failed node={} error=\"{}\"", cfg->node_name,
                     std::string(b.status().message()));
      }
      return b;
    };
  }
  // Other nodes reclaim this node's blocks once it has been gone for the grace: past half of it
  // without the datastore confirming the registration, nothing is handed out (node_registry.h).
  const bool reclaims = blocks && cfg->node_gone_grace.count() > 0;
  if (reclaims) {
    opts.allocation_gate = [&registry, fence = cfg->node_gone_grace / 2]() -> absl::Status {
      const auto since = registry.sinceConfirmed();
      if (since <= fence) return absl::OkStatus();
      return absl::UnavailableError(absl::StrCat(
          "the datastore has not confirmed this node's registration for ", since.count() / 1000,
          "s: no address is handed out until it has (its blocks may be reclaimed)"));
    };
  }
  // Floating IPs (issue 13): leases in the cluster datastore, pools from the object view.
  std::vector<conf::IpAddress> uplink_ips;
  if (uplink.ok()) {
    for (const auto& a : uplink->addresses) uplink_ips.push_back(a.address());
  }
  NodeFloatingIps::Options floating_options;
  floating_options.node_name = cfg->node_name;
  floating_options.uplink = node.uplink;
  floating_options.uplink_addresses = uplink_ips;
  floating_options.cooldown_ms = cfg->release_cooldown.count();
  floating_options.period = cfg->floating_housekeeping;
  if (cfg->node_gone_grace.count() > 0) {
    // The same grace as the blocks of a gone node (docs/datastore.md): its pods' leases are
    // released by their policies once it has been gone that long.
    floating_options.node_gone_grace = cfg->node_gone_grace;
    floating_options.ready_nodes = [&view]() -> std::optional<std::set<std::string>> {
      if (!view.synced()) return std::nullopt;
      std::set<std::string> ready;
      for (const auto& n : view.nodes()) {
        if (n.ready) ready.insert(n.record.name);
      }
      return ready;
    };
  }
  NodeFloatingIps floating(**datastore, (*objects)->view(), (*objects)->localPods(),
                           std::move(floating_options));
  opts.sources[ipam::floating::FloatingSource::kName] = &floating.source();
  // ENI multi-IP (docs/eni.md) on the nodes the config's eni.nodeSelector selects.
  std::unique_ptr<NodeEni> eni;
  if (cfg->eni && NodeEni::enabledOn(*cfg->eni, NodeEni::nodeLabels(*cfg, (*objects)->view(),
                                                                    std::chrono::seconds(30)))) {
    auto created =
        NodeEni::create({*cfg->eni, cfg->node_name, cfg->release_cooldown.count(), 0, nowUnixMs});
    if (!created.ok()) return fail("eni: " + std::string(created.status().message()));
    eni = std::move(*created);
    opts.sources[ipam::eni::EniSource::kName] = &eni->source();
  }
  auto manager = ipam::AddressManager::create(opts, **store, nowUnixMs);
  if (!manager.ok()) return fail(std::string(manager.status().message()));
  // Its housekeeping reads the manager: stopped before the manager goes, on every path.
  floating.start(**manager);
  absl::Cleanup stop_floating = [&floating] { floating.stop(); };
  if (eni) {
    // After the manager restored the store's allocations into the pool: its first pass
    // reconciles them with what the cloud shows.
    if (auto s = eni->start(); !s.ok()) return fail("eni: " + std::string(s.message()));
  }
  absl::Cleanup stop_eni = [&eni] {
    if (eni) eni->stop();
  };
  if (uplink.ok()) {
    // Hosts on the physical subnet get the proxy ARP answer for a floating pod at once, not
    // after the kernel's random delay of up to 0.8 s.
    if (auto s = routing::answerProxyArpAtOnce(uplink->name); !s.ok()) {
      spdlog::warn("event=proxy-arp-delay-failed uplink={} error=\"{}\"", uplink->name,
                   std::string(s.message()));
    }
  }
  if (reclaims) {
    registry.setOnReRegistered([&] { return dropLostBlocks(*blocks, **manager).status(); });
  }
  node.store = (*store)->describe() + " cluster=" + (*datastore)->describe();

  if (socketInUse(cfg->socket)) return fail("another quasard is serving on " + cfg->socket);
  ::unlink(cfg->socket.c_str());

  VethReaper reaper(**manager);
  auto orphans = reaper.reconcile();
  if (!orphans.ok()) {
    spdlog::warn("event=reconcile-failed error=\"{}\"", std::string(orphans.status().message()));
  } else if (*orphans > 0) {
    spdlog::info("event=reconcile removed_orphan_veths={}", *orphans);
  }
  QuasardService service(**manager, reaper, node);
  service.setClusterView(&view);
  service.setObjectStore((*objects)->store());
  service.setObjectView(&(*objects)->view());
  service.setPodLookup(&(*objects)->pods(), std::chrono::milliseconds(500));
  service.setFloatingIps(&floating.api());
  service.setFloatingAllocator(&floating.allocator());
  if (eni) service.setEni(&eni->agent(), &eni->pool());
  // With objects from the datastore, nothing else tells the cluster which pod has which address
  // (the API source has Pod.status.podIPs): this node publishes its own.
  std::unique_ptr<PodAddressPublisher> pod_addresses;
  if (!cfg->kubernetes) {
    pod_addresses = std::make_unique<PodAddressPublisher>(**datastore, cfg->node_name);
    std::vector<AttachmentAddresses> current;
    for (const auto& a : (*manager)->list("")) {
      AttachmentAddresses aa{a.attachment.container_id + "/" + a.attachment.ifname,
                             a.pod.namespace_,
                             a.pod.name,
                             a.pod.uid,
                             {}};
      for (const auto& ip : a.ips) aa.ips.push_back(ip.toString());
      current.push_back(std::move(aa));
    }
    pod_addresses->start(std::move(current));
    service.setPodAddressPublisher(pod_addresses.get());
  }
  routing::LocalNode local{cfg->node_name, node.uplink, conf::IpPrefix(), {}, std::nullopt, 1500};
  if (uplink.ok()) {
    local.uplink_mtu = uplink->mtu;
    for (const auto& a : uplink->addresses) {
      if (cfg->node_ip.empty() || a.address().toString() == cfg->node_ip) {
        local.uplink_subnet = a.network();
        local.ip = a.address();
        break;
      }
    }
  }
  // With the API source, other nodes learn where this node's pods are routed from its Node.
  if (local.ip) {
    kube::NodeAnnotator::Annotations own = {
        {"quasar.io/node-ip", local.ip->toString()},
        {"quasar.io/node-subnet", local.uplink_subnet.toString()}};
    // ENI mode: what the instance type allows (docs/eni.md), for schedulers and operators.
    if (eni && eni->pool().started()) {
      own["quasar.io/max-pods"] = std::to_string(eni->pool().limits().max_pods);
    }
    (*objects)->annotateNode(cfg->node_name, std::move(own));
  }
  // The node forwards between its pods, and to and from other nodes.
  if (auto s = routing::enableForwarding(); !s.ok()) {
    spdlog::error("event=forwarding-failed error=\"{}\"", std::string(s.message()));
  }
  if (cfg->nat_outgoing) {
    const std::vector<conf::IpPrefix> cidrs =
        cfg->cluster_cidr ? std::vector<conf::IpPrefix>{*cfg->cluster_cidr} : cfg->pod_cidrs;
    if (auto s = netpolicy::ensureMasquerade(cidrs); !s.ok()) {
      spdlog::error("event=nat-outgoing-failed error=\"{}\"", std::string(s.message()));
    }
  }
  // Where the other nodes' pods are: the nodes registered in the datastore with the blocks they
  // claimed, or with ipam: kubernetes the Node objects' podCIDRs and addresses.
  ClusterViewDirectory registered_nodes(view);
  NodeObjectDirectory node_objects((*objects)->view());
  NodeDirectory& directory = cfg->ipam == conf::IpamMode::kKubernetes
                                 ? static_cast<NodeDirectory&>(node_objects)
                                 : registered_nodes;
  // NetworkPolicy (docs/network-policy.md): the agent programs iptables and ipset from the
  // object view; ADDs wait for it (no gap at pod start). What it installed stays when quasard
  // stops, so pods stay isolated across a restart.
  netpolicy::LinuxPolicyKernel policy_kernel;
  netpolicy::Applier policy_applier(policy_kernel);
  std::optional<PolicyAgent> policy;
  if (cfg->network_policy) {
    PolicyAgent::Options policy_options;
    policy_options.node = {cfg->node_name, uplink_ips};
    policy.emplace((*objects)->view(), policy_applier, policy_options);
    for (const auto& a : (*manager)->list("")) {
      policy->podKnown(a.attachment.key(),
                       {a.pod.namespace_, a.pod.name, a.ips, nullptr});
    }
    policy->setMetrics(metrics.reconcile("policy"));
    policy->start();
    service.setPolicyAgent(&*policy, std::chrono::seconds(5));
  } else if (auto s = policy_applier.removeAll(); !s.ok()) {
    // Off: nothing of quasar's may keep isolating pods, also not what an earlier run installed.
    spdlog::warn("event=policy-remove-failed error=\"{}\"", std::string(s.message()));
  }
  RoutingAgent agent(directory, local, cfg->routing_mode, std::chrono::milliseconds(500));
  agent.setMetrics(metrics.reconcile("routing"));
  agent.start();
  service.setRoutingAgent(&agent);
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("unix:" + cfg->socket, grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  // The socket is created by BuildAndStart; a umask keeps it private from its first moment.
  const mode_t old_umask = ::umask(0077);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ::umask(old_umask);
  if (!server) return fail("cannot listen on unix:" + cfg->socket);
  ::chmod(cfg->socket.c_str(), 0600);
  if (socketInUse(cfg->cni_socket)) return fail("another quasard is serving on " + cfg->cni_socket);
  if (auto s = conf::writePodMtuHint(cfg->cni_socket, node.mtu); !s.ok()) {
    spdlog::warn("event=mtu-hint-failed error=\"{}\"", std::string(s.message()));
  }
  PluginServer plugin_server(service);
  plugin_server.setMetrics(&metrics.cni());
  if (auto s = plugin_server.start(cfg->cni_socket); !s.ok()) {
    return fail(std::string(s.message()));
  }

  // Readiness and the pools' addresses for /readyz and /metrics; each ends before what it reads.
  auto view_check = readiness.add("cluster-view", [&view]() -> absl::Status {
    if (view.synced()) return absl::OkStatus();
    return absl::UnavailableError("the cluster view is not synced with the datastore");
  });
  auto objects_check = readiness.add("object-view", [&objects]() -> absl::Status {
    if ((*objects)->synced()) return absl::OkStatus();
    return absl::UnavailableError("the object view has not listed every kind from " +
                                  (*objects)->describe());
  });
  auto watches = metrics.collectWatches([&objects] {
    std::vector<metrics::WatchUsage> out;
    for (auto k : objects::kAllKinds) {
      const auto st = (*objects)->view().stats(k);
      out.push_back({std::string(objects::kindName(k)), st.synced, static_cast<double>(st.relists),
                     static_cast<double>(st.events_applied)});
    }
    if (const LocalPods* local = (*objects)->localPods()) {
      const auto st = local->stats();
      out.push_back({kube::KubeObjectSource::kLocalPodsWatch, st.synced,
                     static_cast<double>(st.relists), static_cast<double>(st.events_applied)});
    }
    return out;
  });
  auto routes_check = readiness.add("routes", [&agent]() -> absl::Status {
    if (agent.ready()) return absl::OkStatus();
    return absl::UnavailableError("the routes have not been programmed yet");
  });
  auto policy_check = readiness.add("network-policy", [&policy]() -> absl::Status {
    if (!policy || policy->stats().ready) return absl::OkStatus();
    return absl::UnavailableError("network policy has not been programmed yet");
  });
  auto pools = metrics.collectPools([&manager] {
    std::vector<metrics::PoolUsage> out;
    for (const auto& p : (*manager)->stats()) {
      out.push_back({p.cidr.toString(), static_cast<double>(p.stats.used),
                     static_cast<double>(p.stats.cooling), static_cast<double>(p.stats.capacity)});
    }
    return out;
  });
  serving = true;

  std::vector<std::string> cidrs;
  for (const auto& p : cfg->pod_cidrs) cidrs.push_back(p.toString());
  spdlog::info(
      "event=ready node={} socket={} cni_socket={} store={} podCIDRs={} allocations={} mtu={} "
      "mode={} uplink={}",
      node.node_name, cfg->socket, cfg->cni_socket, node.store, absl::StrJoin(cidrs, ","),
      (*manager)->list("").size(), node.mtu, node.routing_mode, node.uplink);

  // Housekeeping: give back blocks idle for longer than the grace period, and reclaim those of
  // nodes gone for longer than theirs.
  std::mutex housekeeping_mu;
  std::condition_variable housekeeping_cv;
  bool stopping = false;
  std::thread housekeeping;
  std::unique_ptr<BlockReclaimer> reclaimer;
  std::unique_ptr<StaleBlockReclaimer> stale;
  if (reclaims) {
    stale = std::make_unique<StaleBlockReclaimer>(
        **datastore, cfg->node_name,
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg->node_gone_grace));
  }
  if (blocks) {
    reclaimer = std::make_unique<BlockReclaimer>(
        **manager, *blocks,
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg->block_release_grace));
    const auto period = std::clamp<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(cfg->block_release_grace) / 4,
        std::chrono::milliseconds(250), std::chrono::milliseconds(30000));
    housekeeping = std::thread([&, period] {
      std::unique_lock lock(housekeeping_mu);
      while (!housekeeping_cv.wait_for(lock, period, [&] { return stopping; })) {
        lock.unlock();
        reclaimer->tick(nowUnixMs());
        if (stale) {
          auto r = stale->tick(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
          if (!r.ok()) {
            spdlog::warn("event=stale-block-scan-failed error=\"{}\"",
                         std::string(r.status().message()));
          }
        }
        lock.lock();
      }
    });
  }

  // SIGTERM/SIGINT end the daemon cleanly: a dedicated thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&set, &sig);
    spdlog::info("event=shutdown signal={}", sig);
    serving = false;  // /readyz fails from now on
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  });
  server->Wait();
  waiter.join();
  plugin_server.stop();
  {
    std::lock_guard lock(housekeeping_mu);
    stopping = true;
  }
  housekeeping_cv.notify_all();
  if (housekeeping.joinable()) housekeeping.join();
  agent.stop();
  (*objects)->stop();
  if (pod_addresses) pod_addresses->flush(std::chrono::seconds(2));
  pod_addresses.reset();
  view.stop();
  registry.stop(/*revoke=*/true);
  ::unlink(cfg->socket.c_str());
  return 0;
}

}  // namespace
}  // namespace quasar::daemon

int main(int argc, char** argv) {
  // Blocked before any thread starts, so every thread inherits the mask and sigwait gets them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  CLI::App app{"quasard: quasar's node daemon (IPAM over gRPC on a unix socket)"};
  quasar::daemon::Flags flags;
  app.add_option("-c,--config", flags.config, "daemon config file (YAML)");
  app.add_option("--node-name", flags.node_name,
                 "this node's name (default: the config's nodeName, else the host name)");
  app.add_option("--kubeconfig", flags.kubeconfig,
                 "follow the Kubernetes API server named in this kubeconfig file");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_default_logger(spdlog::stderr_logger_mt("quasard"));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");
  return quasar::daemon::run(flags);
}
