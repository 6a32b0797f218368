#include "daemon/cluster/node_registry.h"

#include <spdlog/spdlog.h>

#include "daemon/cluster/cluster_keys.h"

namespace quasar::daemon {

nlohmann::json NodeRecord::toJson() const {
  return {{"name", name}, {"ip", ip}, {"subnet", subnet}, {"uplink", uplink}, {"labels", labels}};
}

NodeRecord NodeRecord::fromJson(const nlohmann::json& j) {
  NodeRecord r;
  if (!j.is_object()) return r;
  r.name = j.value("name", "");
  r.ip = j.value("ip", "");
  r.subnet = j.value("subnet", "");
  r.uplink = j.value("uplink", "");
  if (j.contains("labels") && j["labels"].is_object()) {
    for (const auto& [k, v] : j["labels"].items()) {
      if (v.is_string()) r.labels[k] = v.get<std::string>();
    }
  }
  return r;
}

absl::Status NodeRegistry::registerLive() {
  auto lease = store_.grantLease(ttl_);
  if (!lease.ok()) return lease.status();
  // Record and liveness in one transaction: never a live node without its record.
  auto r = store_.txn({},
                      {Op::put(keys::node(self_.name), self_.toJson().dump()),
                       Op::put(keys::live(self_.name), "ready", *lease)},
                      {});
  if (!r.ok()) return r.status();
  lease_ = *lease;
  return absl::OkStatus();
}

int64_t NodeRegistry::steadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void NodeRegistry::setOnReRegistered(std::function<absl::Status()> callback) {
  std::lock_guard lock(mu_);
  on_re_registered_ = std::move(callback);
}

std::chrono::milliseconds NodeRegistry::sinceConfirmed() const {
  return std::chrono::milliseconds(steadyMs() - confirmed_ms_.load());
}

absl::Status NodeRegistry::start() {
  if (auto s = registerLive(); !s.ok()) return s;
  confirm();
  thread_ = std::thread([this] { keepAliveLoop(); });
  return absl::OkStatus();
}

void NodeRegistry::stop(bool revoke) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (revoke && lease_ != 0) store_.revokeLease(lease_).IgnoreError();
}

void NodeRegistry::keepAliveLoop() {
  std::unique_lock lock(mu_);
  // In milliseconds: a 2 s TTL in whole seconds / 3 would be 0, a busy loop.
  const auto period = std::chrono::duration_cast<std::chrono::milliseconds>(ttl_) / 3;
  while (!cv_.wait_for(lock, period, [this] { return stopping_; })) {
    lock.unlock();
    absl::Status s = store_.keepAlive(lease_);
    if (absl::IsNotFound(s)) {
      spdlog::warn("event=node-lease-expired node={} action=re-register", self_.name);
      s = registerLive();
      if (s.ok()) verify_pending_ = true;
    }
    if (s.ok() && verify_pending_) {
      std::function<absl::Status()> verify;
      {
        std::lock_guard cb_lock(mu_);
        verify = on_re_registered_;
      }
      if (verify) s = verify();
      if (s.ok()) verify_pending_ = false;
    }
    if (s.ok()) confirm();
    if (!s.ok()) {
      spdlog::warn("event=node-keepalive-failed node={} error=\"{}\"", self_.name,
                   std::string(s.message()));
    }
    lock.lock();
  }
}

}  // namespace quasar::daemon
