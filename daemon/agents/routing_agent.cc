#include "daemon/agents/routing_agent.h"

#include <spdlog/spdlog.h>

#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "routing/ipip.h"
#include "routing/route_monitor.h"
#include "routing/route_reconciler.h"
#include "routing/vxlan.h"

namespace quasar::daemon {

void RoutingAgent::start() {
  auto wake = [this] {
    std::lock_guard lock(mu_);
    dirty_ = true;
    cv_.notify_all();
  };
  subscription_ = view_.onChange(wake);
  // Someone deleting a route (or a device under them) wakes the agent at once; the periodic
  // pass stays as the safety net.
  auto monitor = routing::RouteMonitor::start(
      {local_.uplink, routing::kIpipDevice, routing::kVxlanDevice}, wake);
  if (monitor.ok()) {
    monitor_ = std::move(*monitor);
  } else {
    spdlog::warn("event=route-monitor-failed error=\"{}\"",
                 std::string(monitor.status().message()));
  }
  thread_ = std::thread([this] { run(); });
}

void RoutingAgent::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  // Both wait for a call of `wake` in flight: nothing calls into the agent after this.
  subscription_.reset();
  monitor_.reset();
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::vector<routing::PlannedRoute> RoutingAgent::planned() const {
  std::lock_guard lock(mu_);
  return planned_;
}

void RoutingAgent::run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, period_, [this] { return stopping_ || dirty_; });
    if (stopping_) return;
    dirty_ = false;
    lock.unlock();
    reconcileOnce();
    lock.lock();
  }
}

void RoutingAgent::prepareVxlan(const routing::LocalNode& local,
                                const std::vector<routing::PeerNode>& peers,
                                const std::vector<routing::PlannedRoute>& plan) {
  const auto vtep = routing::vtepAddress(local.blocks);
  if (!vtep || !local.ip) return;  // no block yet: nothing to route to this node over VXLAN
  const int mtu = local.uplink_mtu - conf::encapsulationOverhead(mode_);
  if (auto s = routing::ensureVxlanDevice(local.uplink, *local.ip, *vtep, mtu); !s.ok()) {
    spdlog::warn("event=vxlan-device-failed error=\"{}\"", std::string(s.message()));
    return;
  }
  std::map<std::string, conf::IpAddress> underlay;
  for (const auto& p : peers) underlay.emplace(p.name, p.ip);
  std::vector<routing::VxlanPeer> vxlan_peers;
  std::set<std::string> done;
  for (const auto& r : plan) {
    if (r.path != routing::Path::kVxlan || !r.via || !done.insert(r.node).second) continue;
    if (auto it = underlay.find(r.node); it != underlay.end()) {
      vxlan_peers.push_back({*r.via, it->second});
    }
  }
  if (auto s = routing::syncVxlanPeers(vxlan_peers); !s.ok()) {
    spdlog::warn("event=vxlan-peers-failed error=\"{}\"", std::string(s.message()));
  }
}

void RoutingAgent::reportDeviceError(const char* event, const absl::Status& s) {
  const std::string text = s.ok() ? "" : absl::StrCat(event, ": ", s.message());
  if (text == last_device_error_) return;
  if (s.ok()) {
    spdlog::info("event=tunnel-device-ok");
  } else {
    spdlog::error("event={} error=\"{}\"", event, std::string(s.message()));
  }
  last_device_error_ = text;
}

void RoutingAgent::prepareIpip(const routing::LocalNode& local,
                               const std::vector<routing::PlannedRoute>& plan) {
  bool needed = false;
  for (const auto& r : plan) needed |= r.path == routing::Path::kIpip;
  const auto address = routing::vtepAddress(local.blocks);
  // Without routes through it the device is not needed (a kernel without ipip is then fine);
  // without a block there is no address for it yet.
  if (!needed || !address) return;
  const int mtu = local.uplink_mtu - conf::encapsulationOverhead(mode_);
  reportDeviceError("ipip-device-failed", routing::ensureIpipDevice(mtu, *address));
}

void RoutingAgent::reconcileOnce() {
  routing::LocalNode local = local_;
  std::vector<routing::PeerNode> peers;
  for (const auto& n : view_.nodes()) {
    if (n.record.name == local.name) {
      local.blocks = n.blocks;
      continue;
    }
    auto ip = conf::IpAddress::parse(n.record.ip);
    if (!ip.ok()) continue;
    peers.push_back({n.record.name, *ip, n.blocks, n.ready});
  }
  auto plan = routing::planRoutes(local, peers, mode_);
  const conf::Encapsulation encapsulation = conf::encapsulationOf(mode_);
  if (encapsulation != conf::Encapsulation::kIpip && !ipip_released_ && !local.blocks.empty()) {
    // Left over from an IPIP mode before a restart: once is enough.
    auto s = routing::releaseIpipDevice(local.blocks);
    reportDeviceError("ipip-release-failed", s);
    ipip_released_ = s.ok();
  }
  if (encapsulation == conf::Encapsulation::kVxlan) {
    prepareVxlan(local, peers, plan);
  } else {
    prepareIpip(local, plan);
    // Left over from a VXLAN mode before a restart.
    if (auto s = routing::removeVxlanDevice(); !s.ok()) {
      spdlog::warn("event=vxlan-remove-failed error=\"{}\"", std::string(s.message()));
    }
  }
  // Peers this mode cannot route to (host-gw across subnets): said once, when it starts.
  std::set<std::string> unreachable;
  for (const auto& p : plan) {
    if (p.path != routing::Path::kUnreachable) continue;
    unreachable.insert(p.node);
    if (!unreachable_.contains(p.node)) {
      spdlog::error("event=peer-unreachable node={} block={} mode={} reason=\"{}\"", p.node,
                    p.dst.toString(), std::string(conf::routingModeName(mode_)), p.reason);
    }
  }
  unreachable_ = std::move(unreachable);
  auto r = routing::reconcileRoutes(plan);
  if (!r.ok()) {
    spdlog::warn("event=route-reconcile-failed error=\"{}\"", std::string(r.status().message()));
  } else if (r->added || r->removed) {
    spdlog::info("event=routes-reconciled added={} removed={} unchanged={} skipped={}", r->added,
                 r->removed, r->unchanged, r->skipped);
  }
  if (r.ok()) reconciled_ = true;
  if (metrics_) {
    metrics_->runs.inc();
    if (!r.ok() || !last_device_error_.empty()) metrics_->errors.inc();
  }
  std::lock_guard lock(mu_);
  planned_ = std::move(plan);
}

}  // namespace quasar::daemon
