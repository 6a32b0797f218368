#include "daemon/agents/veth_reaper.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace quasar::daemon {
namespace {

class KernelVethLinks final : public VethLinks {
 public:
  absl::StatusOr<int> index(const std::string& host_ifname) override {
    return routing::hostVethIndex(host_ifname);
  }
  absl::StatusOr<std::vector<routing::HostVeth>> list() override {
    return routing::listHostVethLinks();
  }
  std::vector<absl::Status> remove(const std::vector<int>& host_ifindexes) override {
    return routing::deletePodLinksByIndex(host_ifindexes);
  }
};

}  // namespace

VethReaper::VethReaper(ipam::AddressManager& manager)
    : VethReaper(manager, std::make_unique<KernelVethLinks>()) {}

VethReaper::VethReaper(ipam::AddressManager& manager, std::unique_ptr<VethLinks> links)
    : manager_(manager), links_(std::move(links)), worker_([this] { run(); }) {}

VethReaper::~VethReaper() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

absl::StatusOr<int> VethReaper::indexOf(const std::string& host_ifname) {
  auto index = links_->index(host_ifname);
  if (absl::IsNotFound(index.status())) return 0;
  return index;
}

void VethReaper::enqueue(std::string host_ifname, int host_ifindex,
                         std::vector<conf::IpAddress> held_ips) {
  if (host_ifindex == 0) {
    manager_.endHold(held_ips);
    return;
  }
  {
    std::lock_guard lock(mu_);
    queue_.push_back({std::move(host_ifname), host_ifindex, std::move(held_ips)});
  }
  cv_.notify_all();
}

void VethReaper::drain() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return queue_.empty() && current_.empty(); });
}

bool VethReaper::waitFor(const std::string& host_ifname, std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, limit, [&] {
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
    std::vector<int> indexes;
    while (!queue_.empty() && batch.size() < routing::kMaxLinksPerGroupDelete) {
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
      current_.push_back(batch.back().ifname);
      indexes.push_back(batch.back().ifindex);
    }
    lock.unlock();
    const auto results = links_->remove(indexes);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results[i].ok()) {
        // The address stays held: handing it out while the old interface may live is worse
        // than losing it until the next restart, whose reconcile() retries.
        spdlog::error("event=veth-delete-failed host_ifname={} ifindex={} error=\"{}\"",
                      batch[i].ifname, batch[i].ifindex, std::string(results[i].message()));
      } else {
        manager_.endHold(batch[i].ips);
      }
    }
    lock.lock();
    current_.clear();
    cv_.notify_all();
  }
}

absl::StatusOr<int> VethReaper::removeOrphans(const std::set<std::string>& keep) {
  // The veths first, then what quasard holds: an ADD makes its veth only once quasard holds its
  // attachment, so a veth listed here whose attachment is held by no one now is an orphan, and
  // a newer pair made under its name meanwhile has another index.
  auto veths = links_->list();
  if (!veths.ok()) return veths.status();
  std::set<std::string> owned = keep;
  for (const auto& a : manager_.heldAttachments()) owned.insert(routing::hostVethName(a));
  {
    // Those queued are the worker's: it ends their hold once they are gone.
    std::lock_guard lock(mu_);
    for (const auto& j : queue_) owned.insert(j.ifname);
    owned.insert(current_.begin(), current_.end());
  }
  std::vector<int> orphans;
  for (const auto& v : *veths) {
    if (!owned.contains(v.name)) orphans.push_back(v.index);
  }
  if (orphans.empty()) return 0;
  for (const auto& s : links_->remove(orphans)) {
    if (!s.ok()) return s;
  }
  return static_cast<int>(orphans.size());
}

}  // namespace quasar::daemon
