#include "daemon/agents/eni_agent.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "conf/net_conf.h"
#include "routing/eni_interface.h"
#include "routing/rule_reconciler.h"
#include "spdlog/spdlog.h"

namespace quasar::daemon {

absl::StatusOr<routing::EniSpec> eniSpecOf(const ipam::eni::InterfaceInfo& info, int mtu) {
  auto mac = conf::parseMac(info.mac);
  if (!mac.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("interface ", info.id, ": MAC ", info.mac, ": ", mac.status().message()));
  }
  routing::EniSpec spec;
  spec.mac = *mac;
  spec.device_index = info.device_index;
  spec.primary = conf::IpPrefix(info.primary_ip, info.subnet_cidr.length());
  spec.mtu = mtu;
  return spec;
}

EniAgent::EniAgent(ipam::eni::EniPool& pool, Options options) : pool_(pool), options_(options) {}

EniAgent::~EniAgent() { stop(); }

absl::Status EniAgent::start() {
  auto pass = routing::NetlinkSocket::open();
  if (!pass.ok()) return pass.status();
  auto pod = routing::NetlinkSocket::open();
  if (!pod.ok()) return pod.status();
  {
    std::lock_guard lock(pass_mu_);
    pass_sock_.emplace(std::move(*pass));
  }
  {
    std::lock_guard lock(pod_mu_);
    pod_sock_.emplace(std::move(*pod));
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
  return absl::OkStatus();
}

void EniAgent::stop() {
  if (!thread_.joinable()) return;
  thread_.request_stop();
  wake_.notify_all();
  thread_.join();
}

void EniAgent::kick() {
  {
    std::lock_guard lock(mu_);
    kicked_ = true;
  }
  wake_.notify_all();
}

void EniAgent::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    if (auto s = reconcile(); !s.ok()) {
      spdlog::warn("event=eni-reconcile-failed error=\"{}\"", std::string(s.message()));
    }
    std::unique_lock lock(mu_);
    wake_.wait_for(lock, stop, options_.interval, [this] { return kicked_; });
    kicked_ = false;
  }
}

std::vector<routing::Rule> EniAgent::rulesFor(const std::vector<conf::IpAddress>& ips) const {
  std::vector<routing::EniPodAddress> pods;
  for (const auto& ip : ips) {
    if (auto nic = pool_.interfaceOf(ip)) pods.push_back({ip, nic->device_index});
  }
  // The pods' rules only: the interfaces' own "from primary" rules are the passes'.
  return routing::planEniRules({}, pods);
}

absl::Status EniAgent::podAdded(const std::vector<conf::IpAddress>& ips) {
  for (const auto& ip : ips) {
    auto nic = pool_.interfaceOf(ip);
    if (!nic || nic->device_index <= 0) continue;
    {
      std::lock_guard lock(mu_);
      if (ready_.count(nic->id)) continue;
    }
    auto spec = eniSpecOf(*nic, options_.mtu);
    if (!spec.ok()) return spec.status();
    std::lock_guard pass_lock(pass_mu_);
    if (!pass_sock_) return absl::FailedPreconditionError("the ENI agent is not started");
    auto link = routing::setUpEni(*pass_sock_, *spec);
    if (!link.ok()) {
      return absl::UnavailableError(absl::StrCat("set up interface ", nic->id, " (", nic->mac,
                                                 ") for ", ip.toString(), ": ",
                                                 link.status().message()));
    }
    configured_[nic->id] = *spec;
    std::lock_guard lock(mu_);
    ready_.insert(nic->id);
  }
  const auto rules = rulesFor(ips);
  if (rules.empty()) return absl::OkStatus();
  std::lock_guard lock(pod_mu_);
  if (!pod_sock_) return absl::FailedPreconditionError("the ENI agent is not started");
  return routing::addRules(*pod_sock_, rules);
}

absl::Status EniAgent::reconcile() {
  std::lock_guard pass_lock(pass_mu_);
  if (!pass_sock_) return absl::FailedPreconditionError("the ENI agent is not started");
  absl::Status first;  // the first error; the pass goes on past it
  std::vector<routing::EniSpec> specs;
  std::map<std::string, routing::EniSpec> now;
  int routes_repaired = 0;
  for (const auto& info : pool_.interfaces()) {
    auto spec = eniSpecOf(info, options_.mtu);
    if (!spec.ok()) {
      first.Update(spec.status());
      continue;
    }
    specs.push_back(*spec);
    if (spec->device_index > 0) now[info.id] = *spec;  // the primary is the node's own
  }
  // Interfaces the pool no longer uses first: a new one may have taken the same device index,
  // and so the same table, which tearing the old one down afterwards would empty.
  std::map<std::string, routing::EniSpec> still;
  for (const auto& [id, spec] : configured_) {
    if (now.count(id)) continue;
    if (auto s = routing::tearDownEni(*pass_sock_, spec); !s.ok()) {
      first.Update(s);
      still[id] = spec;  // try again next pass
    } else {
      spdlog::info("event=eni-interface-removed interface={} table={}", id,
                   routing::eniTable(spec.device_index));
    }
  }
  std::set<std::string> ready;
  for (const auto& [id, spec] : now) {
    auto link = routing::setUpEni(*pass_sock_, spec);
    if (!link.ok()) {
      // NotFound: the device has not appeared since the attach; the next pass retries.
      first.Update(absl::Status(link.status().code(),
                                absl::StrCat("interface ", id, ": ", link.status().message())));
      continue;
    }
    ready.insert(id);
    routes_repaired += link->routes.added + link->routes.removed;
  }
  configured_ = std::move(now);
  configured_.insert(still.begin(), still.end());
  {
    std::lock_guard lock(mu_);
    ready_ = std::move(ready);
  }

  // No podAdded between the snapshot and the kernel's rules: its rules, listed but not
  // planned, would be removed after its ADD answered.
  std::unique_lock pods_lock(pod_mu_);
  std::vector<routing::EniPodAddress> pods;
  for (const auto& h : pool_.handedOut()) pods.push_back({h.ip, h.interface.device_index});
  const auto planned = routing::planEniRules(specs, pods);
  int rules_repaired = 0;
  auto result = routing::reconcileRules(*pass_sock_, planned);
  pods_lock.unlock();
  if (result.ok()) {
    rules_repaired = result->added + result->removed;
  } else {
    first.Update(result.status());
  }
  if (rules_repaired + routes_repaired > 0) {
    spdlog::info("event=eni-reconciled rules_changed={} routes_changed={}", rules_repaired,
                 routes_repaired);
  }
  std::lock_guard lock(mu_);
  ++stats_.passes;
  stats_.interfaces = static_cast<int>(configured_.size());
  stats_.rules = static_cast<int>(planned.size());
  stats_.rules_repaired += rules_repaired;
  stats_.routes_repaired += routes_repaired;
  stats_.last_error = std::string(first.message());
  return first;
}

EniAgent::Stats EniAgent::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace quasar::daemon
