#include "daemon/veth_reaper.h"

#include <spdlog/spdlog.h>

#include <set>

#include "routing/pod_link.h"

namespace quasar::daemon {

VethReaper::VethReaper(ipam::AddressManager& manager)
    : manager_(manager), worker_([this] { run(); }) {}

VethReaper::~VethReaper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void VethReaper::enqueue(std::string host_ifname, std::vector<conf::IpAddress> held_ips) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(host_ifname), std::move(held_ips)});
  }
  cv_.notify_all();
}

void VethReaper::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && current_.empty(); });
}

void VethReaper::waitFor(const std::string& host_ifname, std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, limit, [&] {
    if (current_ == host_ifname) return false;
    for (const auto& j : queue_) {
      if (j.ifname == host_ifname) return false;
    }
    return true;
  });
}

void VethReaper::run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left to do
    Job job = std::move(queue_.front());
    queue_.pop_front();
    current_ = job.ifname;
    lock.unlock();
    if (auto s = routing::deletePodLink(job.ifname); !s.ok()) {
      // The address stays held: handing it out while the old interface may live is worse than
      // losing it until the next restart, whose reconcile() retries.
      spdlog::error("event=veth-delete-failed host_ifname={} error=\"{}\"", job.ifname,
                    std::string(s.message()));
    } else {
      manager_.endHold(job.ips);
    }
    lock.lock();
    current_.clear();
    cv_.notify_all();
  }
}

absl::StatusOr<int> VethReaper::reconcile() {
  auto veths = routing::listHostVeths();
  if (!veths.ok()) return veths.status();
  std::set<std::string> owned;
  for (const auto& a : manager_.list("")) owned.insert(routing::hostVethName(a.attachment));
  int removed = 0;
  for (const auto& name : *veths) {
    if (owned.contains(name)) continue;
    if (auto s = routing::deletePodLink(name); !s.ok()) return s;
    ++removed;
  }
  return removed;
}

}  // namespace quasar::daemon
