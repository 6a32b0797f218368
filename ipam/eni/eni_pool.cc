// EniPool: the bookkeeping of handed-out, free, held and cooling addresses, the capacity and
// the targets. Start-up is in eni_pool_start.cc, growth and give-back in eni_refill.cc.
#include "ipam/eni/eni_pool.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "absl/strings/str_cat.h"
#include "ipam/failure_reason.h"

namespace quasar::ipam::eni {

EniPool::EniPool(PoolConfig config, cloud::CloudProvider& cloud, cloud::CloudProvider* cold_cloud)
    : config_(std::move(config)), cloud_(cloud), cold_cloud_(cold_cloud ? *cold_cloud : cloud) {}

bool EniPool::started() const {
  std::lock_guard lock(mu_);
  return started_;
}

int EniPool::assignedLocked() const {
  int n = 0;
  for (const auto& [id, s] : slots_) n += s.occupied();
  return n;
}

int EniPool::interfacesHeldLocked() const {
  // Besides the slots: creations in flight, and quasar's interfaces being detached and deleted
  // (they keep their device index until they are gone; then another takes their place).
  const int slots = static_cast<int>(slots_.size());
  const int leaving =
      static_cast<int>(devices_.size()) - slots - static_cast<int>(untouched_.size()) - creating_;
  return slots + creating_ + std::max(0, leaving);
}

int EniPool::interfacesToAddLocked() const {
  const int attached = static_cast<int>(devices_.size());
  return std::max(0, std::min(instance_.limits.max_interfaces - attached,
                              limits_.pod_interfaces - interfacesHeldLocked()));
}

int EniPool::capacityLocked() const {
  // Interfaces quasar may not use (EFA, another tool's) take device indexes, so the node can
  // hold fewer addresses than its type's formula says. One being given back still counts: the
  // shortfall while it goes is a moment's (Unavailable), not the node's limit.
  const int interfaces = interfacesHeldLocked() + interfacesToAddLocked();
  // Lost addresses are pods' still (the cloud took them back): they count against max pods.
  return std::min(limits_.address_capacity, interfaces * limits_.addresses_per_interface) -
         static_cast<int>(lost_.size());
}

int EniPool::desiredLocked() const {
  int in_use = 0;
  for (const auto& [id, s] : slots_) {
    in_use += static_cast<int>(s.used.size() + s.held.size() + s.cooling.size());
  }
  int desired;
  if (ipTargetsSet()) {
    desired = std::max(in_use + config_.warm_ip_target, config_.minimum_ip_target);
  } else {
    // Whole ENIs' worth, as AWS fills an ENI it attaches for WARM_ENI_TARGET.
    const int per = std::max(1, limits_.addresses_per_interface);
    const int want = in_use + config_.warm_eni_target * per;
    desired = (want + per - 1) / per * per;
  }
  return std::min(desired, capacityLocked());
}

int EniPool::lowestFreeDeviceLocked() const {
  int device = 1;  // 0 is the primary's
  while (devices_.contains(device)) ++device;
  return device;
}

EniPool::Slot* EniPool::slotWithRoomLocked() {
  Slot* best = nullptr;
  for (auto& [id, s] : slots_) {
    if (s.occupied() >= limits_.addresses_per_interface) continue;
    if (!best || s.info.device_index < best->info.device_index) best = &s;
  }
  return best;
}

std::optional<conf::IpAddress> EniPool::takeFreeLocked(int64_t now_ms) {
  Slot* best = nullptr;
  for (auto& [id, s] : slots_) {
    for (auto it = s.cooling.begin(); it != s.cooling.end();) {
      if (it->second > now_ms) {
        ++it;
        continue;
      }
      s.free.insert(it->first);
      it = s.cooling.erase(it);
    }
    if (s.free.empty()) continue;
    // Pack: the busiest interface first, so quasar's emptiest one can be given back.
    if (!best || s.used.size() > best->used.size() ||
        (s.used.size() == best->used.size() && s.info.device_index < best->info.device_index)) {
      best = &s;
    }
  }
  if (!best) return std::nullopt;
  const conf::IpAddress ip = *best->free.begin();
  best->free.erase(best->free.begin());
  best->used.insert(ip);
  return ip;
}

absl::Status EniPool::limitErrorLocked() const {
  const int capacity = capacityLocked();
  std::string msg = absl::StrCat("node address limit: instance type ", instance_.type, " allows ",
                                 limits_.max_pods, " pods (", formulaName(limits_.formula), ": ",
                                 limits_.explanation, "); its ENIs hold ", capacity,
                                 " pod addresses, all in use");
  if (capacity < limits_.address_capacity) {
    absl::StrAppend(&msg, " (", untouched_.size(), " attached interfaces are not quasar's)");
  }
  return withReason(absl::ResourceExhaustedError(msg), FailureReason::kNodeAddressLimit);
}

EniPool::Slot* EniPool::slotOfLocked(const conf::IpAddress& ip,
                                     std::set<conf::IpAddress> Slot::*state) {
  for (auto& [id, s] : slots_) {
    if ((s.*state).contains(ip)) return &s;
  }
  return nullptr;
}

absl::StatusOr<conf::IpAddress> EniPool::take(int64_t now_ms) {
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      std::lock_guard lock(mu_);
      if (!started_) {
        return absl::UnavailableError(
            absl::StrCat("the ENI pool has not started yet: ", start_error_));
      }
      if (auto ip = takeFreeLocked(now_ms)) return *ip;
      if (assignedLocked() >= capacityLocked()) {
        for (const auto& [id, s] : slots_) {
          if (!s.cooling.empty() || !s.held.empty() || s.pending > 0 || s.releasing > 0) {
            return absl::UnavailableError(
                "every free ENI address is cooling down, being assigned or given back; retry");
          }
        }
        return limitErrorLocked();
      }
    }
    // Cold: nothing warm, capacity left.
    auto r = assignSome(cold_cloud_, 1, 1);
    if (!r.ok()) return r.status();
    if (!r->taken.empty()) return r->taken.front();
    if (r->count > 0) continue;  // assigned, but to an allocation the store kept (lost_)
    if (auto s = grow(cold_cloud_, /*for_add=*/true); !s.ok()) return s;
  }
  return absl::UnavailableError("the ENI pool found no room for an address; retry");
}

void EniPool::untake(const conf::IpAddress& ip) {
  std::lock_guard lock(mu_);
  if (Slot* s = slotOfLocked(ip, &Slot::used)) {
    s->used.erase(ip);
    s->free.insert(ip);
  }
}

void EniPool::released(const conf::IpAddress& ip, bool hold, int64_t now_ms) {
  std::lock_guard lock(mu_);
  restored_.erase(ip);
  if (lost_.erase(ip) > 0) return;  // the cloud had already taken it back
  Slot* s = slotOfLocked(ip, &Slot::used);
  if (!s) {
    spdlog::warn("event=eni-release-unknown ip={}", ip.toString());
    return;
  }
  s->used.erase(ip);
  if (hold) {
    s->held.insert(ip);
  } else if (config_.reuse_cooldown_ms > 0) {
    s->cooling[ip] = now_ms + config_.reuse_cooldown_ms;
  } else {
    s->free.insert(ip);
  }
}

void EniPool::endHold(const conf::IpAddress& ip, int64_t now_ms) {
  std::lock_guard lock(mu_);
  Slot* s = slotOfLocked(ip, &Slot::held);
  if (!s) return;
  s->held.erase(ip);
  if (config_.reuse_cooldown_ms > 0) {
    s->cooling[ip] = now_ms + config_.reuse_cooldown_ms;
  } else {
    s->free.insert(ip);
  }
}

void EniPool::restore(const conf::IpAddress& ip) {
  std::lock_guard lock(mu_);
  if (!started_) {
    restored_.insert(ip);
    return;
  }
  if (slotOfLocked(ip, &Slot::used)) return;
  if (Slot* s = slotOfLocked(ip, &Slot::free)) {
    s->free.erase(ip);
    s->used.insert(ip);
    return;
  }
  spdlog::warn("event=eni-address-lost ip={} reason=\"restored, but no ENI of quasar's holds it\"",
               ip.toString());
  lost_.insert(ip);
}

std::vector<HandedOut> EniPool::handedOut() const {
  std::lock_guard lock(mu_);
  std::vector<HandedOut> out;
  for (const auto& [id, s] : slots_) {
    for (const auto& ip : s.used) out.push_back({ip, s.info});
    for (const auto& ip : s.held) out.push_back({ip, s.info});
  }
  return out;
}

std::optional<InterfaceInfo> EniPool::interfaceOf(const conf::IpAddress& ip) const {
  std::lock_guard lock(mu_);
  for (const auto& [id, s] : slots_) {
    if (s.used.contains(ip) || s.held.contains(ip)) return s.info;
  }
  return std::nullopt;
}

std::vector<InterfaceInfo> EniPool::interfaces() const {
  std::lock_guard lock(mu_);
  std::vector<InterfaceInfo> out;
  for (const auto& [id, s] : slots_) out.push_back(s.info);
  std::sort(out.begin(), out.end(), [](const InterfaceInfo& a, const InterfaceInfo& b) {
    return a.device_index < b.device_index;
  });
  return out;
}

PodLimits EniPool::limits() const {
  std::lock_guard lock(mu_);
  return limits_;
}

PoolStatus EniPool::status() const {
  std::lock_guard lock(mu_);
  PoolStatus st;
  st.started = started_;
  st.start_error = start_error_;
  st.instance_id = instance_.id;
  st.instance_type = instance_.type;
  st.instance_limits = instance_.limits;
  st.limits = limits_;
  st.warm_ip_target = config_.warm_ip_target;
  st.minimum_ip_target = config_.minimum_ip_target;
  st.warm_eni_target = config_.warm_eni_target;
  st.last_refill_error = last_refill_error_;
  st.last_refill_ms = last_refill_ms_;
  st.lost.assign(lost_.begin(), lost_.end());
  st.untouched = untouched_;
  if (!started_) return st;
  st.capacity = capacityLocked();
  st.desired = desiredLocked();
  for (const auto& [id, s] : slots_) {
    InterfaceStatus is{s.info,
                       static_cast<int>(s.used.size()),
                       static_cast<int>(s.free.size()),
                       static_cast<int>(s.held.size()),
                       static_cast<int>(s.cooling.size()),
                       s.pending};
    st.assigned += s.assigned();
    st.used += is.used;
    st.free += is.free;
    st.held += is.held;
    st.cooling += is.cooling;
    st.interfaces.push_back(std::move(is));
  }
  std::sort(st.interfaces.begin(), st.interfaces.end(),
            [](const InterfaceStatus& a, const InterfaceStatus& b) {
              return a.interface.device_index < b.interface.device_index;
            });
  return st;
}

}  // namespace quasar::ipam::eni
