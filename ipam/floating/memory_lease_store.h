#pragma once
// An in-memory LeaseStore for unit tests: the contract of lease_store.h without a datastore.
// Several allocators sharing one MemoryLeaseStore behave like nodes sharing a cluster store.
// set_unavailable() makes every call fail with Unavailable, as an unreachable etcd does.
// Thread-safe.

#include <atomic>
#include <map>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "ipam/floating/lease_store.h"

namespace quasar::ipam::floating {

class MemoryLeaseStore final : public LeaseStore {
 public:
  absl::StatusOr<std::vector<StoredLease>> list(const std::string& pool) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return down();
    std::vector<StoredLease> out;
    for (const auto& [ip, s] : leases_) {
      if (pool.empty() || s.lease.pool == pool) out.push_back(s);
    }
    return out;
  }

  absl::StatusOr<std::optional<StoredLease>> get(const conf::IpAddress& ip) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return down();
    auto it = leases_.find(ip);
    if (it == leases_.end()) return std::nullopt;
    return it->second;
  }

  absl::StatusOr<int64_t> create(const Lease& lease) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return down();
    auto [it, fresh] = leases_.try_emplace(lease.ip);
    if (!fresh) {
      return absl::AlreadyExistsError(absl::StrCat("lease ", lease.ip.toString(), " exists"));
    }
    it->second = {lease, ++revision_};
    return revision_;
  }

  absl::StatusOr<int64_t> update(const Lease& lease, int64_t expected_revision) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return down();
    auto it = leases_.find(lease.ip);
    if (it == leases_.end() || it->second.revision != expected_revision) {
      return moved(lease.ip);
    }
    it->second = {lease, ++revision_};
    return revision_;
  }

  absl::Status remove(const conf::IpAddress& ip, int64_t expected_revision) override {
    std::lock_guard lock(mu_);
    if (unavailable_) return down();
    auto it = leases_.find(ip);
    if (it == leases_.end() || it->second.revision != expected_revision) return moved(ip);
    leases_.erase(it);
    ++revision_;
    return absl::OkStatus();
  }

  std::string describe() const override { return "memory"; }

  void set_unavailable(bool down) {
    std::lock_guard lock(mu_);
    unavailable_ = down;
  }

 private:
  static absl::Status down() { return absl::UnavailableError("lease store: unreachable"); }
  static absl::Status moved(const conf::IpAddress& ip) {
    return absl::AbortedError(absl::StrCat("lease ", ip.toString(), " changed"));
  }

  std::mutex mu_;
  std::map<conf::IpAddress, StoredLease> leases_;
  int64_t revision_ = 0;
  bool unavailable_ = false;
};

}  // namespace quasar::ipam::floating
