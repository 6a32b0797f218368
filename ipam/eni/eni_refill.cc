// EniPool's growth (assign, create + attach) and give-back (unassign, detach + delete), and
// refill() which drives them (eni_pool.h). No cloud call happens under mu_.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <random>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipam/eni/eni_pool.h"

namespace quasar::ipam::eni {
namespace {

// EC2's ClientToken: one per create attempt (a backend's retries of that attempt reuse it), so
// a lost answer never makes a second interface, and a new attempt never gets an old one back.
std::string clientToken() {
  static std::mutex mu;
  static std::mt19937_64 rng{std::random_device{}()};
  std::lock_guard lock(mu);
  const uint64_t a = rng(), b = rng();
  return absl::StrFormat("quasar-%016x%016x", a, b);
}

}  // namespace

bool definiteRefusal(const absl::Status& s) {
  return absl::IsInvalidArgument(s) || absl::IsPermissionDenied(s) ||
         absl::IsFailedPrecondition(s) || absl::IsNotFound(s);
}

namespace {

absl::Status doing(const absl::Status& s, const std::string& what) {
  return absl::Status(s.code(), absl::StrCat(what, ": ", s.message()));
}

}  // namespace

absl::StatusOr<EniPool::Assigned> EniPool::assignSome(cloud::CloudProvider& cloud, int count,
                                                      int use_now) {
  std::string id;
  int n = 0;
  {
    std::lock_guard lock(mu_);
    const int room = capacityLocked() - assignedLocked();
    Slot* s = room > 0 ? slotWithRoomLocked() : nullptr;
    if (!s) return Assigned{};
    n = std::min({count, limits_.addresses_per_interface - s->occupied(), room});
    if (n <= 0) return Assigned{};
    s->pending += n;
    id = s->info.id;
  }
  auto ips = cloud.assignPrivateIps(id, n);
  std::lock_guard lock(mu_);
  Slot& s = slots_.at(id);  // a slot with assignments in flight is never given back
  s.pending -= n;
  ++s.changes;
  if (!ips.ok()) {
    // The cloud may have assigned them (a lost reply), or counts more than the books do.
    if (!definiteRefusal(ips.status()) || absl::IsResourceExhausted(ips.status())) resync_ = true;
    return doing(ips.status(), absl::StrCat("assign ", n, " addresses to ", id));
  }
  Assigned out;
  out.count = static_cast<int>(ips->size());
  for (const auto& ip : *ips) {
    // The cloud handed back an address a restored allocation still holds: it stays that pod's.
    if (lost_.erase(ip) > 0) {
      s.used.insert(ip);
    } else if (static_cast<int>(out.taken.size()) < use_now) {
      s.used.insert(ip);
      out.taken.push_back(ip);
    } else {
      s.free.insert(ip);
    }
  }
  spdlog::debug("event=eni-addresses-assigned eni={} count={}", id, out.count);
  return out;
}

absl::Status EniPool::grow(cloud::CloudProvider& cloud, bool for_add) {
  int device;
  std::string instance_id, subnet_id;
  std::vector<std::string> groups;
  conf::IpPrefix cidr;
  {
    std::unique_lock lock(mu_);
    auto idle = [&] { return !growing_; };
    if (!for_add) {
      grow_done_.wait(lock, idle);
    } else if (!grow_done_.wait_for(lock, std::chrono::seconds(2), idle)) {
      return absl::UnavailableError("an ENI is being created and attached for the pool; retry");
    }
    if (slotWithRoomLocked() || interfacesToAddLocked() <= 0) return absl::OkStatus();
    growing_ = true;
    device = lowestFreeDeviceLocked();
    devices_[device] = "";  // reserved while it is created
    ++creating_;
    instance_id = instance_.id;
    subnet_id = new_subnet_id_;
    groups = new_security_groups_;
    cidr = subnet_cidrs_.at(subnet_id);
  }
  absl::Cleanup done = [&] {
    {
      std::lock_guard lock(mu_);
      growing_ = false;
    }
    grow_done_.notify_all();
  };
  auto unreserve = [&] {
    std::lock_guard lock(mu_);
    --creating_;
    devices_.erase(device);
  };
  cloud::CreateInterfaceRequest request;
  request.subnet_id = subnet_id;
  request.security_groups = groups;
  request.description = absl::StrCat("quasar pod addresses of node ", config_.node_name);
  // Tagged at creation, so an interface quasar dies before attaching is found by start().
  request.tags = {{cloud::kNodeTag, config_.node_name}};
  request.client_token = clientToken();
  auto nic = cloud.createInterface(request);
  if (!nic.ok()) {
    unreserve();
    return doing(nic.status(), "create an ENI in subnet " + subnet_id);
  }
  auto attachment = cloud.attachInterface(nic->id, instance_id, device);
  if (!attachment.ok()) {
    // Leave no orphan: delete it now, or in a later refill.
    if (auto d = cloud.deleteInterface(nic->id); !d.ok() && !absl::IsNotFound(d)) {
      std::lock_guard lock(mu_);
      to_delete_[nic->id] = -1;
    }
    unreserve();
    return doing(attachment.status(),
                 absl::StrCat("attach ENI ", nic->id, " at device index ", device));
  }
  Slot s;
  s.info = {nic->id, nic->mac, nic->subnet_id, *attachment, device, cidr, nic->primary_ip, true};
  s.free.insert(nic->secondary_ips.begin(), nic->secondary_ips.end());
  std::lock_guard lock(mu_);
  --creating_;
  devices_[device] = nic->id;
  slots_[nic->id] = std::move(s);
  unmarked_[nic->id] = *attachment;
  spdlog::info("event=eni-attached eni={} mac={} device={} subnet={}", nic->id, nic->mac, device,
               subnet_id);
  return absl::OkStatus();
}

absl::Status EniPool::releaseInterface(const std::string& id) {
  Slot slot;
  {
    std::lock_guard lock(mu_);
    auto it = slots_.find(id);
    if (it == slots_.end() || !it->second.idle()) return absl::OkStatus();  // in use again
    slot = std::move(it->second);
    slots_.erase(it);
    unmarked_.erase(id);
  }
  const int device = slot.info.device_index;
  if (auto s = cloud_.detachInterface(slot.info.attachment_id, false);
      !s.ok() && !absl::IsNotFound(s)) {
    std::lock_guard lock(mu_);
    slots_[id] = std::move(slot);  // still attached: its addresses stay warm
    return doing(s, "detach ENI " + id);
  }
  auto d = cloud_.deleteInterface(id);
  std::lock_guard lock(mu_);
  if (d.ok() || absl::IsNotFound(d)) {
    devices_.erase(device);
    spdlog::info("event=eni-released eni={} device={}", id, device);
    return absl::OkStatus();
  }
  // Still detaching (EC2 takes a moment): its device index stays taken until it is deleted.
  to_delete_[id] = device;
  return absl::IsFailedPrecondition(d) ? absl::OkStatus() : doing(d, "delete ENI " + id);
}

void EniPool::retryDeletes() {
  std::map<std::string, int> pending;
  {
    std::lock_guard lock(mu_);
    pending = to_delete_;
  }
  for (const auto& [id, device] : pending) {
    if (auto s = cloud_.deleteInterface(id); !s.ok() && !absl::IsNotFound(s)) continue;
    std::lock_guard lock(mu_);
    to_delete_.erase(id);
    if (device >= 0) devices_.erase(device);
    spdlog::info("event=eni-deleted eni={}", id);
  }
}

absl::Status EniPool::markDeleteOnTermination() {
  std::map<std::string, std::string> pending;
  {
    std::lock_guard lock(mu_);
    pending = unmarked_;
  }
  absl::Status first;
  for (const auto& [id, attachment] : pending) {
    auto s = cloud_.setDeleteOnTermination(id, attachment);
    // NotFound: detached or deleted meanwhile; nothing is left to mark.
    if (!s.ok() && !absl::IsNotFound(s)) {
      first.Update(doing(s, "mark ENI " + id + " to be deleted with the instance"));
      continue;
    }
    std::lock_guard lock(mu_);
    if (auto it = unmarked_.find(id); it != unmarked_.end() && it->second == attachment) {
      unmarked_.erase(it);
    }
  }
  return first;
}

absl::Status EniPool::giveBackSurplus(int64_t now_ms) {
  std::vector<std::string> whole;
  std::map<std::string, std::vector<conf::IpAddress>> addresses;
  {
    std::lock_guard lock(mu_);
    int assigned = assignedLocked();
    const int desired = desiredLocked();
    // Interfaces of quasar's that nothing uses, the last attached first.
    std::vector<Slot*> idle, rest;
    for (auto& [id, s] : slots_) (s.info.created_by_quasar && s.idle() ? idle : rest).push_back(&s);
    std::sort(idle.begin(), idle.end(), [](const Slot* a, const Slot* b) {
      return a->info.device_index > b->info.device_index;
    });
    for (Slot* s : idle) {
      if (assigned - s->assigned() >= desired) {
        whole.push_back(s->info.id);
        assigned -= s->assigned();
      } else {
        rest.push_back(s);
      }
    }
    // Under warm_eni_target AWS gives back whole ENIs only; under the IP targets, addresses too.
    int surplus = ipTargetsSet() ? assigned - desired : 0;
    if (whole.empty() && surplus <= 0) {
      surplus_since_ = -1;
      return absl::OkStatus();
    }
    if (surplus_since_ < 0) surplus_since_ = now_ms;
    if (now_ms - surplus_since_ < config_.surplus_cooldown_ms) return absl::OkStatus();
    surplus_since_ = -1;
    // Single addresses from the least used interfaces first, so those empty.
    std::sort(rest.begin(), rest.end(), [](const Slot* a, const Slot* b) {
      const size_t ua = a->used.size() + a->held.size() + a->cooling.size();
      const size_t ub = b->used.size() + b->held.size() + b->cooling.size();
      return ua != ub ? ua < ub : a->info.device_index > b->info.device_index;
    });
    for (Slot* s : rest) {
      while (surplus > 0 && !s->free.empty()) {
        auto last = std::prev(s->free.end());
        addresses[s->info.id].push_back(*last);
        s->free.erase(last);
        ++s->releasing;
        --surplus;
      }
    }
  }
  absl::Status first;
  for (const auto& [id, ips] : addresses) {
    auto s = cloud_.unassignPrivateIps(id, ips);
    std::lock_guard lock(mu_);
    Slot& slot = slots_.at(id);  // a slot giving addresses back is not idle: never removed
    slot.releasing -= static_cast<int>(ips.size());
    ++slot.changes;
    if (s.ok() || absl::IsNotFound(s)) {
      spdlog::info("event=eni-addresses-given-back eni={} count={}", id, ips.size());
      continue;
    }
    if (definiteRefusal(s)) {
      slot.free.insert(ips.begin(), ips.end());
    } else {
      // Taken back or not: a pod given one the cloud took could collide with whoever the
      // cloud gave it to next. Held out until resync() reads the interface.
      slot.uncertain.insert(ips.begin(), ips.end());
      resync_ = true;
    }
    first.Update(doing(s, "unassign addresses from " + id));
  }
  for (const auto& id : whole) first.Update(releaseInterface(id));
  return first;
}

absl::Status EniPool::refill(int64_t now_ms) {
  std::lock_guard refill_lock(refill_mu_);
  absl::Status result = startLocked();
  const bool pool_started = result.ok();
  // A failed re-read does not hold up the refill (the next pass reads again).
  const absl::Status resynced = result.ok() ? resync(now_ms) : absl::OkStatus();
  if (result.ok()) {
    retryDeletes();
    int short_by = 0, rounds = 0;
    {
      std::lock_guard lock(mu_);
      short_by = desiredLocked() - assignedLocked();
      rounds = 2 * instance_.limits.max_interfaces + 2;
      if (short_by > 0) surplus_since_ = -1;
    }
    if (short_by <= 0) result = giveBackSurplus(now_ms);
    int assigned = 0;
    for (; short_by > 0 && rounds > 0 && result.ok(); --rounds) {
      auto a = assignSome(cloud_, short_by, 0);
      if (!a.ok()) {
        result = a.status();
        break;
      }
      assigned += a->count;
      if (a->count == 0) result = grow(cloud_, /*for_add=*/false);
      std::lock_guard lock(mu_);
      if (a->count == 0 && !slotWithRoomLocked()) break;  // nothing more to grow into
      short_by = desiredLocked() - assignedLocked();
    }
    if (assigned > 0) spdlog::info("event=eni-refilled assigned={}", assigned);
  }
  result.Update(resynced);
  // After any growth above, so an interface attached in this pass is marked in it.
  if (pool_started) result.Update(markDeleteOnTermination());
  std::lock_guard lock(mu_);
  last_refill_ms_ = now_ms;
  last_refill_error_ = result.ok() ? "" : std::string(result.message());
  if (!result.ok()) {
    spdlog::warn("event=eni-refill-failed error=\"{}\"", last_refill_error_);
  }
  return result;
}

}  // namespace quasar::ipam::eni
