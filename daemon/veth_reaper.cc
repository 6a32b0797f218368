#include "daemon/veth_reaper.h"

#include <spdlog/spdlog.h>

#include <algorithm>
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
    if (std::ranges::find(current_, host_ifname) != current_.end()) return false;
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
    std::vector<Job> batch;
    while (!queue_.empty() && batch.size() < routing::kMaxLinksPerGroupDelete) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      current_.push_back(batch.back().ifname);
    }
    const std::vector<std::string> names = current_;
    lock.unlock();
    const auto results = routing::deletePodLinks(names);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results[i].ok()) {
        // The address stays held: handing it out while the old interface may live is worse
        // than losing it until the next restart, whose reconcile() retries.
        spdlog::error("event=veth-delete-failed host_ifname={} error=\"{}\"", batch[i].ifname,
                      std::string(results[i].message()));
      } else {
        manager_.endHold(batch[i].ips);
      }
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
  std::vector<std::string> orphans;
  for (const auto& name : *veths) {
    if (!owned.contains(name)) orphans.push_back(name);
  }
  for (const auto& s : routing::deletePodLinks(orphans)) {
    if (!s.ok()) return s;
  }
  return static_cast<int>(orphans.size());
}

}  // namespace quasar::daemon
