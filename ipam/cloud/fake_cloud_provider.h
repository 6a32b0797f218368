#pragma once
// An in-memory CloudProvider for unit tests (openr's FakeNetlinkProtocolSocket, for a cloud): one
// instance with its type's limits and a primary interface, subnets that hand out their addresses
// lowest first, interfaces that are created, attached, tagged, detached and deleted, and
// secondary addresses, with EC2's rules where quasar depends on them:
//   - createInterface with a ClientToken seen before returns the interface that token created
//     (InvalidArgument when the request differs: EC2's IdempotentParameterMismatch);
//   - an instance holds at most limits.max_interfaces attached interfaces (ResourceExhausted),
//     one per device index (InvalidArgument), and the primary (device 0) cannot be detached;
//   - an interface holds at most limits.ipv4_per_interface addresses, its primary included
//     (ResourceExhausted); a subnet runs out (ResourceExhausted);
//   - deleteInterface of an attached interface is FailedPrecondition; unknown ids are NotFound.
// Tests see every call: calls("assignPrivateIps") counts them per method (failed ones too),
// touched() names the interfaces changing calls named, and tests
// inject failures per method (failNext: the next n calls fail with a status, e.g. throttling as
// Unavailable) and latency (onCall: runs at the start of every call, outside the lock, e.g. to
// sleep or to wait for a latch).
//
// Header-only so only tests depend on it. Thread-safe: one mutex; onCall runs outside it.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "ipam/cloud/cloud_provider.h"

namespace quasar::ipam::cloud {

class FakeCloudProvider final : public CloudProvider {
 public:
  // The instance and its primary interface (device 0, untagged) in `primary_subnet`, which is
  // added as a subnet.
  FakeCloudProvider(Instance instance, const Subnet& primary_subnet)
      : instance_(std::move(instance)) {
    instance_.subnet_id = primary_subnet.id;
    addSubnet(primary_subnet);
    NetworkInterface primary;
    primary.id = "eni-primary";
    primary.subnet_id = primary_subnet.id;
    primary.interface_type = "interface";
    primary.description = "primary";
    primary.primary_ip = *nextFree(primary_subnet.id);
    primary.mac = macFor(0);
    attach(primary, 0);
    interfaces_[primary.id] = primary;
  }

  // ---- test controls ----
  void addSubnet(const Subnet& subnet) {
    std::lock_guard lock(mu_);
    subnets_[subnet.id] = SubnetState{subnet, {}};
  }
  // Puts an interface as is (e.g. an EFA interface, or one another tool attached); its
  // addresses are marked taken in its subnet.
  void addInterface(const NetworkInterface& nic) {
    std::lock_guard lock(mu_);
    auto& taken = subnets_.at(nic.subnet_id).taken;
    taken.insert(nic.primary_ip);
    for (const auto& ip : nic.secondary_ips) taken.insert(ip);
    interfaces_[nic.id] = nic;
  }
  // The next `times` calls of `method` ("" for any method) fail with `status`.
  void failNext(const std::string& method, absl::Status status, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) failures_[method].push_back(status);
  }
  // The next `times` calls of `method` take effect, then fail with `status`: the reply was lost
  // (assignPrivateIps and unassignPrivateIps).
  void loseReplyNext(const std::string& method, absl::Status status, int times = 1) {
    std::lock_guard lock(mu_);
    for (int i = 0; i < times; ++i) lost_replies_[method].push_back(status);
  }
  // Throttling, as a backend reports it after its retries: Unavailable.
  void throttle(const std::string& method, int times) {
    failNext(method, absl::UnavailableError("RequestLimitExceeded: Request limit exceeded."),
             times);
  }
  void onCall(std::function<void(const std::string& method)> hook) {
    std::lock_guard lock(mu_);
    on_call_ = std::move(hook);
  }
  int calls(const std::string& method) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(method);
    return it == calls_.end() ? 0 : it->second;
  }
  // Calls that change something (every method but the describe and list ones).
  int mutatingCalls() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [m, c] : calls_) {
      if (!m.starts_with("describe") && !m.starts_with("list")) n += c;
    }
    return n;
  }
  int totalCalls() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [m, c] : calls_) n += c;
    return n;
  }
  void resetCalls() {
    std::lock_guard lock(mu_);
    calls_.clear();
  }
  // The cloud forgets a secondary address (someone unassigned it behind quasar's back).
  void dropSecondaryIp(const std::string& interface_id, const conf::IpAddress& ip) {
    std::lock_guard lock(mu_);
    auto& nic = interfaces_.at(interface_id);
    std::erase(nic.secondary_ips, ip);
    subnets_.at(nic.subnet_id).taken.erase(ip);
  }
  std::map<std::string, NetworkInterface> interfaces() const {
    std::lock_guard lock(mu_);
    return interfaces_;
  }
  NetworkInterface interface(const std::string& id) const {
    std::lock_guard lock(mu_);
    return interfaces_.at(id);
  }
  // Every secondary address of every interface.
  int secondaryCount() const {
    std::lock_guard lock(mu_);
    int n = 0;
    for (const auto& [id, nic] : interfaces_) n += static_cast<int>(nic.secondary_ips.size());
    return n;
  }
  // Interfaces that any call but the describe and list ones named.
  std::set<std::string> touched() const {
    std::lock_guard lock(mu_);
    return touched_;
  }
  std::string lastClientToken() const {
    std::lock_guard lock(mu_);
    return last_token_;
  }

  // ---- CloudProvider ----
  absl::StatusOr<Instance> describeInstance() override {
    if (auto s = enter("describeInstance"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    return instance_;
  }
  absl::StatusOr<Subnet> describeSubnet(const std::string& subnet_id) override {
    if (auto s = enter("describeSubnet"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    auto it = subnets_.find(subnet_id);
    if (it == subnets_.end()) return absl::NotFoundError("InvalidSubnetID.NotFound: " + subnet_id);
    return it->second.subnet;
  }
  absl::StatusOr<std::vector<NetworkInterface>> listInterfaces(
      const InterfaceFilter& filter) override {
    if (auto s = enter("listInterfaces"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    std::vector<NetworkInterface> out;
    for (const auto& [id, nic] : interfaces_) {
      if (!filter.attached_to.empty() && nic.instance_id != filter.attached_to) continue;
      if (filter.tag) {
        auto t = nic.tags.find(filter.tag->first);
        if (t == nic.tags.end() || t->second != filter.tag->second) continue;
      }
      out.push_back(nic);
    }
    return out;
  }
  absl::StatusOr<NetworkInterface> createInterface(const CreateInterfaceRequest& r) override {
    if (auto s = enter("createInterface"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    last_token_ = r.client_token;
    if (!r.client_token.empty()) {
      if (auto t = tokens_.find(r.client_token); t != tokens_.end()) {
        if (t->second.second.subnet_id != r.subnet_id || t->second.second.tags != r.tags) {
          return absl::InvalidArgumentError("IdempotentParameterMismatch: " + r.client_token);
        }
        auto nic = interfaces_.find(t->second.first);
        if (nic != interfaces_.end()) return nic->second;
      }
    }
    auto subnet = subnets_.find(r.subnet_id);
    if (subnet == subnets_.end()) {
      return absl::InvalidArgumentError("InvalidSubnetID.NotFound: " + r.subnet_id);
    }
    auto ip = nextFree(r.subnet_id);
    if (!ip.ok()) return ip.status();
    NetworkInterface nic;
    nic.id = absl::StrFormat("eni-fake%04d", ++created_);
    nic.mac = macFor(created_);
    nic.subnet_id = r.subnet_id;
    nic.status = "available";
    nic.interface_type = "interface";
    nic.description = r.description;
    nic.primary_ip = *ip;
    nic.tags = r.tags;
    interfaces_[nic.id] = nic;
    if (!r.client_token.empty()) tokens_[r.client_token] = {nic.id, r};
    return nic;
  }
  absl::StatusOr<std::string> attachInterface(const std::string& interface_id,
                                              const std::string& instance_id,
                                              int device_index) override {
    if (auto s = enter("attachInterface"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    touched_.insert(interface_id);
    auto it = interfaces_.find(interface_id);
    if (it == interfaces_.end()) return notFound(interface_id);
    if (instance_id != instance_.id) {
      return absl::InvalidArgumentError("InvalidInstanceID.NotFound: " + instance_id);
    }
    if (!it->second.attachment_id.empty()) {
      return absl::InvalidArgumentError("InvalidParameterValue: " + interface_id +
                                        " is already attached");
    }
    int attached = 0;
    for (const auto& [id, nic] : interfaces_) {
      if (nic.instance_id != instance_.id) continue;
      ++attached;
      if (nic.device_index == device_index) {
        return absl::InvalidArgumentError(
            absl::StrCat("InvalidParameterValue: device index ", device_index, " is in use"));
      }
    }
    if (attached >= instance_.limits.max_interfaces) {
      return absl::ResourceExhaustedError(absl::StrCat("AttachmentLimitExceeded: ", instance_.type,
                                                       " takes ", instance_.limits.max_interfaces,
                                                       " interfaces"));
    }
    attach(it->second, device_index);
    return it->second.attachment_id;
  }
  absl::Status detachInterface(const std::string& attachment_id, bool) override {
    if (auto s = enter("detachInterface"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    for (auto& [id, nic] : interfaces_) {
      if (nic.attachment_id != attachment_id) continue;
      touched_.insert(id);
      if (nic.device_index == 0) {
        return absl::InvalidArgumentError("OperationNotPermitted: the primary interface");
      }
      nic.attachment_id.clear();
      nic.delete_on_termination = false;
      nic.instance_id.clear();
      nic.device_index = -1;
      nic.status = "available";
      return absl::OkStatus();
    }
    return absl::NotFoundError("InvalidAttachmentID.NotFound: " + attachment_id);
  }
  absl::Status setDeleteOnTermination(const std::string& interface_id,
                                      const std::string& attachment_id) override {
    if (auto s = enter("setDeleteOnTermination"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    touched_.insert(interface_id);
    auto it = interfaces_.find(interface_id);
    if (it == interfaces_.end()) return notFound(interface_id);
    if (it->second.attachment_id != attachment_id) {
      return absl::NotFoundError("InvalidAttachmentID.NotFound: " + attachment_id);
    }
    it->second.delete_on_termination = true;
    return absl::OkStatus();
  }
  absl::Status deleteInterface(const std::string& interface_id) override {
    if (auto s = enter("deleteInterface"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    touched_.insert(interface_id);
    auto it = interfaces_.find(interface_id);
    if (it == interfaces_.end()) return notFound(interface_id);
    if (!it->second.attachment_id.empty()) {
      return absl::FailedPreconditionError("InvalidNetworkInterface.InUse: " + interface_id);
    }
    auto& taken = subnets_.at(it->second.subnet_id).taken;
    taken.erase(it->second.primary_ip);
    for (const auto& ip : it->second.secondary_ips) taken.erase(ip);
    interfaces_.erase(it);
    return absl::OkStatus();
  }
  absl::Status tagInterface(const std::string& interface_id,
                            const std::map<std::string, std::string>& tags) override {
    if (auto s = enter("tagInterface"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    touched_.insert(interface_id);
    auto it = interfaces_.find(interface_id);
    if (it == interfaces_.end()) return notFound(interface_id);
    for (const auto& [k, v] : tags) it->second.tags[k] = v;
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<conf::IpAddress>> assignPrivateIps(const std::string& interface_id,
                                                                int count) override {
    if (auto s = enter("assignPrivateIps"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    touched_.insert(interface_id);
    auto it = interfaces_.find(interface_id);
    if (it == interfaces_.end()) return notFound(interface_id);
    if (count < 1) return absl::InvalidArgumentError("InvalidParameterValue: count");
    auto& nic = it->second;
    const int have = 1 + static_cast<int>(nic.secondary_ips.size());
    if (have + count > instance_.limits.ipv4_per_interface) {
      return absl::ResourceExhaustedError(
          absl::StrCat("PrivateIpAddressLimitExceeded: ", interface_id, " holds ", have, " of ",
                       instance_.limits.ipv4_per_interface));
    }
    std::vector<conf::IpAddress> out;
    for (int i = 0; i < count; ++i) {
      auto ip = nextFree(nic.subnet_id);
      if (!ip.ok()) {
        for (const auto& a : out) subnets_.at(nic.subnet_id).taken.erase(a);
        return ip.status();
      }
      out.push_back(*ip);
    }
    nic.secondary_ips.insert(nic.secondary_ips.end(), out.begin(), out.end());
    if (auto lost = lostReplyLocked("assignPrivateIps"); !lost.ok()) return lost;
    return out;
  }
  absl::Status unassignPrivateIps(const std::string& interface_id,
                                  const std::vector<conf::IpAddress>& ips) override {
    if (auto s = enter("unassignPrivateIps"); !s.ok()) return s;
    std::lock_guard lock(mu_);
    touched_.insert(interface_id);
    auto it = interfaces_.find(interface_id);
    if (it == interfaces_.end()) return notFound(interface_id);
    for (const auto& ip : ips) {
      if (std::erase(it->second.secondary_ips, ip) > 0) {
        subnets_.at(it->second.subnet_id).taken.erase(ip);
      }
    }
    return lostReplyLocked("unassignPrivateIps");
  }

 private:
  struct SubnetState {
    Subnet subnet;
    std::set<conf::IpAddress> taken;
  };

  // Counts the call, runs the latency hook (outside the lock), and pops an injected failure.
  absl::Status enter(const std::string& method) {
    std::function<void(const std::string&)> hook;
    {
      std::lock_guard lock(mu_);
      ++calls_[method];
      hook = on_call_;
    }
    if (hook) hook(method);
    std::lock_guard lock(mu_);
    for (const std::string& key : {method, std::string()}) {
      auto it = failures_.find(key);
      if (it == failures_.end() || it->second.empty()) continue;
      // A status of its own per call: copies would share one reference-counted message across
      // threads, and Debian's libabsl_status is not instrumented for TSan (a false race).
      absl::Status s(it->second.front().code(), std::string(it->second.front().message()));
      it->second.erase(it->second.begin());
      return s;
    }
    return absl::OkStatus();
  }
  absl::Status lostReplyLocked(const std::string& method) {
    auto it = lost_replies_.find(method);
    if (it == lost_replies_.end() || it->second.empty()) return absl::OkStatus();
    absl::Status s(it->second.front().code(), std::string(it->second.front().message()));
    it->second.erase(it->second.begin());
    return s;
  }
  static absl::Status notFound(const std::string& id) {
    return absl::NotFoundError("InvalidNetworkInterfaceID.NotFound: " + id);
  }
  static std::string macFor(int n) {
    return absl::StrFormat("02:00:00:00:%02x:%02x", (n >> 8) & 0xff, n & 0xff);
  }
  // Caller holds mu_ (or is the constructor). EC2 reserves a subnet's first four addresses and
  // its last.
  absl::StatusOr<conf::IpAddress> nextFree(const std::string& subnet_id) {
    auto& s = subnets_.at(subnet_id);
    const auto net = s.subnet.cidr.network();
    const absl::uint128 size = net.size();
    for (absl::uint128 i = 4; i + 1 < size; ++i) {
      auto ip = net.at(i);
      if (s.taken.insert(ip).second) return ip;
    }
    return absl::ResourceExhaustedError("InsufficientFreeAddressesInSubnet: " + subnet_id);
  }
  void attach(NetworkInterface& nic, int device_index) {
    nic.attachment_id = absl::StrFormat("eni-attach-%04d", ++attachments_);
    nic.instance_id = instance_.id;
    nic.device_index = device_index;
    nic.delete_on_termination = device_index == 0;  // EC2's default
    nic.status = "in-use";
  }

  mutable std::mutex mu_;
  Instance instance_;
  std::map<std::string, SubnetState> subnets_;
  std::map<std::string, NetworkInterface> interfaces_;
  std::map<std::string, std::pair<std::string, CreateInterfaceRequest>> tokens_;
  std::map<std::string, int> calls_;
  std::map<std::string, std::vector<absl::Status>> failures_;
  std::map<std::string, std::vector<absl::Status>> lost_replies_;
  std::function<void(const std::string&)> on_call_;
  std::set<std::string> touched_;
  std::string last_token_;
  int created_ = 0;
  int attachments_ = 0;
};

}  // namespace quasar::ipam::cloud
