// EniPool::start(): what the cloud shows attached, quasar's orphans, and the node's store,
// reconciled (eni_pool.h).
#include <spdlog/spdlog.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "ipam/eni/eni_pool.h"

namespace quasar::ipam::eni {

absl::Status EniPool::start() {
  std::lock_guard r(refill_mu_);
  return startLocked();
}

EniPool::Use EniPool::classify(const cloud::NetworkInterface& nic) const {
  // EFA (efa, efa-only), trunk and branch interfaces carry RDMA or other pods' traffic.
  if (!nic.interface_type.empty() && nic.interface_type != "interface") return Use::kUntouched;
  for (const auto& key : config_.excluded_tag_keys) {
    if (nic.tags.contains(key)) return Use::kUntouched;
  }
  if (nic.device_index == 0) {
    return config_.formula == MaxPodsFormula::kPrimaryServesPods ? Use::kPool : Use::kUntouched;
  }
  auto ours = nic.tags.find(cloud::kNodeTag);
  if (ours != nic.tags.end() && ours->second == config_.node_name) return Use::kPool;
  if (config_.usable_tag) {
    auto t = nic.tags.find(config_.usable_tag->first);
    if (t != nic.tags.end() && t->second == config_.usable_tag->second) return Use::kPool;
  }
  return Use::kUntouched;
}

absl::StatusOr<conf::IpPrefix> EniPool::subnetCidr(const std::string& subnet_id) {
  {
    std::lock_guard lock(mu_);
    if (auto it = subnet_cidrs_.find(subnet_id); it != subnet_cidrs_.end()) return it->second;
  }
  auto subnet = cloud_.describeSubnet(subnet_id);
  if (!subnet.ok()) {
    return absl::Status(subnet.status().code(), absl::StrCat("describe subnet ", subnet_id, ": ",
                                                             subnet.status().message()));
  }
  std::lock_guard lock(mu_);
  subnet_cidrs_[subnet_id] = subnet->cidr;
  return subnet->cidr;
}

absl::Status EniPool::startLocked() {
  if (started()) return absl::OkStatus();
  auto fail = [this](const absl::Status& s) {
    std::lock_guard lock(mu_);
    start_error_ = std::string(s.message());
    return s;
  };
  auto instance = cloud_.describeInstance();
  if (!instance.ok()) return fail(instance.status());
  auto limits = podLimits(instance->limits, config_.formula, config_.max_pods);
  if (!limits.ok()) return fail(limits.status());
  const std::string subnet_id = config_.subnet_id.empty() ? instance->subnet_id : config_.subnet_id;
  if (auto cidr = subnetCidr(subnet_id); !cidr.ok()) return fail(cidr.status());
  auto attached = cloud_.listInterfaces({.attached_to = instance->id, .tag = std::nullopt});
  if (!attached.ok()) return fail(attached.status());
  auto tagged = cloud_.listInterfaces(
      {.attached_to = "", .tag = std::make_pair(std::string(cloud::kNodeTag), config_.node_name)});
  if (!tagged.ok()) return fail(tagged.status());

  std::map<std::string, Slot> slots;
  std::map<int, std::string> devices;
  std::vector<std::string> untouched;
  std::map<std::string, int> to_delete;
  std::map<std::string, std::string> unmarked;
  auto addSlot = [&](const cloud::NetworkInterface& nic) -> absl::Status {
    auto cidr = subnetCidr(nic.subnet_id);
    if (!cidr.ok()) return cidr.status();
    Slot s;
    auto tag = nic.tags.find(cloud::kNodeTag);
    s.info = {nic.id,
              nic.mac,
              nic.subnet_id,
              nic.attachment_id,
              nic.device_index,
              *cidr,
              nic.primary_ip,
              nic.device_index != 0 && tag != nic.tags.end() && tag->second == config_.node_name};
    s.free.insert(nic.secondary_ips.begin(), nic.secondary_ips.end());
    if (s.info.created_by_quasar && !nic.delete_on_termination) {
      unmarked[nic.id] = nic.attachment_id;
    }
    slots[nic.id] = std::move(s);
    return absl::OkStatus();
  };
  for (const auto& nic : *attached) {
    devices[nic.device_index] = nic.id;
    if (classify(nic) == Use::kUntouched) {
      untouched.push_back(nic.id);
    } else if (nic.status == "detaching") {
      // quasar was giving it back when it stopped: finish that (retried by refill()).
      to_delete[nic.id] = nic.device_index;
    } else if (auto s = addSlot(nic); !s.ok()) {
      return fail(s);
    }
  }
  // Created by quasar but not attached: it died between CreateNetworkInterface and
  // AttachNetworkInterface (or after a detach). Attach it while a device index is free (the
  // refill gives it back as surplus if the targets do not need it); delete it otherwise.
  for (const auto& nic : *tagged) {
    if (!nic.instance_id.empty() || nic.status != "available" || classify(nic) == Use::kUntouched) {
      continue;
    }
    const int usable = static_cast<int>(slots.size());
    int device = 1;
    while (devices.contains(device)) ++device;
    if (static_cast<int>(devices.size()) < instance->limits.max_interfaces &&
        usable < limits->pod_interfaces) {
      auto attachment = cloud_.attachInterface(nic.id, instance->id, device);
      if (attachment.ok()) {
        spdlog::info("event=eni-orphan-attached eni={} device={}", nic.id, device);
        cloud::NetworkInterface now = nic;
        now.attachment_id = *attachment;
        now.instance_id = instance->id;
        now.device_index = device;
        now.status = "in-use";
        devices[device] = nic.id;
        if (auto s = addSlot(now); !s.ok()) return fail(s);
        continue;
      }
      if (absl::IsUnavailable(attachment.status())) return fail(attachment.status());
      spdlog::warn("event=eni-orphan-attach-failed eni={} error=\"{}\"", nic.id,
                   std::string(attachment.status().message()));
    }
    if (auto s = cloud_.deleteInterface(nic.id); s.ok() || absl::IsNotFound(s)) {
      spdlog::info("event=eni-orphan-deleted eni={}", nic.id);
    } else {
      to_delete[nic.id] = -1;
    }
  }

  std::lock_guard lock(mu_);
  instance_ = *instance;
  limits_ = *limits;
  new_subnet_id_ = subnet_id;
  new_security_groups_ =
      config_.security_groups.empty() ? instance->security_groups : config_.security_groups;
  slots_ = std::move(slots);
  devices_ = std::move(devices);
  untouched_ = std::move(untouched);
  to_delete_ = std::move(to_delete);
  unmarked_ = std::move(unmarked);
  // The store's allocations against the cloud's addresses.
  for (const auto& ip : restored_) {
    bool found = false;
    for (auto& [id, s] : slots_) {
      if (s.free.erase(ip) > 0) {
        s.used.insert(ip);
        found = true;
        break;
      }
    }
    if (!found) {
      spdlog::warn(
          "event=eni-address-lost ip={} reason=\"the cloud no longer shows it on an "
          "ENI of quasar's; never handed out again\"",
          ip.toString());
      lost_.insert(ip);
    }
  }
  restored_.clear();
  int adopted = 0;
  for (const auto& [id, s] : slots_) adopted += static_cast<int>(s.free.size());
  started_ = true;
  start_error_.clear();
  spdlog::info(
      "event=eni-pool-started instance={} type={} formula={} max_pods={} capacity={} "
      "interfaces={} untouched={} in_use={} free={} lost={}",
      instance_.id, instance_.type, formulaName(limits_.formula), limits_.max_pods,
      capacityLocked(), slots_.size(), untouched_.size(), assignedLocked() - adopted, adopted,
      lost_.size());
  return absl::OkStatus();
}

}  // namespace quasar::ipam::eni
